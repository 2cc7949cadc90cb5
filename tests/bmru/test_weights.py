"""The bmru-fq/1 format: round trip and every validation error."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from bmru.weights import WeightsError, load_weights, save_weights, validate
from tests.conftest import random_arrays


def save_raw(path, arrays):
    np.savez(path, **arrays)
    return path


def test_round_trip(tmp_path, rng):
    arrays = random_arrays(rng, n_in=5, width=3, cells=4, layers=3, classes=3)
    net = validate(arrays)
    path = tmp_path / "w.npz"
    save_weights(path, net)
    back = load_weights(path)
    assert back.to_arrays().keys() == net.to_arrays().keys()
    for key, value in net.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[key], value, err_msg=key)
    assert back.meta == net.meta
    assert (back.n_in, back.width, len(back.layers), back.layers[0].cells, back.classes) == (5, 3, 3, 4, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary left behind


def test_float32_and_int_arrays_accepted(tmp_path, rng):
    arrays = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in random_arrays(rng).items()}
    arrays["s00"] = np.array([1, 0], dtype=np.int64)
    net = load_weights(save_raw(tmp_path / "w.npz", arrays))
    assert net.layers[0].s0.tolist() == [1.0, 0.0]


def test_meta_defaults_and_extra_keys(rng):
    arrays = random_arrays(rng)
    arrays["meta"] = np.array(json.dumps({"classes": ["a", "b"], "quant": {"step": 0.25}}))
    net = validate(arrays)
    assert net.meta.unit_current_A == 1e-9 and net.meta.frame_period_s == 0.01
    assert net.meta.extra == {"quant": {"step": 0.25}}
    assert json.loads(net.meta.to_json())["quant"] == {"step": 0.25}


def mutate(rng, key, value):
    arrays = random_arrays(rng, n_in=3, width=2, layers=2)
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    return arrays


BAD_CASES = [
    ("format", None, "format: missing key"),
    ("format", np.array("bmru-fq/2"), "format: expected"),
    ("W_in", None, "W_in: missing key"),
    ("meta", None, "meta: missing key"),
    ("W_c1", None, "W_c1: missing key"),
    ("alpha0", None, "alpha0: missing key"),
    ("W_in", np.ones(3), "W_in: expected a non-empty 2-D matrix"),
    ("b_in", np.ones(3), "b_in: expected shape (2,)"),
    ("W_c0", np.ones((2, 3)), "W_c0: expected 2 columns"),
    ("b_c0", np.ones(3), "b_c0: expected shape (2,)"),
    ("beta10", np.array([0.5, 0.0]), "beta10: must be > 0"),
    ("delta1", np.array([-0.1, 0.5]), "delta1: must be > 0"),
    ("alpha0", np.array([1.0, -1.0]), "alpha0: must be > 0"),
    ("s00", np.array([0.0, 0.5]), "s00: initial states must be 0 or 1"),
    ("W_o0", np.ones((2, 3)), "W_o0: expected shape (2, 2)"),
    ("b_o1", np.ones(1), "b_o1: expected shape (2,)"),
    ("W_out", np.ones((2, 5)), "W_out: expected 2 columns"),
    ("b_out", np.ones(3), "b_out: expected shape (2,)"),
    ("W_c0", np.array([[1.0, np.nan], [0.0, 1.0]]), "W_c0: contains a non-finite value"),
    ("b_in", np.array([np.inf, 0.0]), "b_in: contains a non-finite value"),
    ("W_in", np.array([["a", "b"]]), "W_in: expected a real numeric array"),
    ("meta", np.array("{not json"), "meta: not valid JSON"),
    ("meta", np.array("[1, 2]"), "meta: the JSON must be an object"),
    ("meta", np.array(json.dumps({"classes": ["a"]})), "meta.classes: 1 names for 2 classes"),
    ("meta", np.array(json.dumps({"classes": "ab"})), "meta.classes: must be a list"),
    ("meta", np.array(json.dumps({"classes": ["a", "b"], "unit_current_A": -1})), "meta.unit_current_A"),
    ("meta", np.array(json.dumps({"classes": ["a", "b"], "frame_period_s": "x"})), "meta.frame_period_s"),
    ("meta", np.array(3.0), "meta: expected a 0-d string"),
    ("W_c3", np.ones((2, 2)), "W_c2: missing key (layers must run 0..3 with no gaps)"),
    ("W_x0", np.ones((2, 2)), "W_x0: unknown key"),
]


@pytest.mark.parametrize("key, value, message", BAD_CASES, ids=[f"{c[0]}-{c[2][:24]}" for c in BAD_CASES])
def test_validation_errors_name_the_key(tmp_path, rng, key, value, message):
    arrays = mutate(rng, key, value)
    with pytest.raises(WeightsError) as caught:
        validate(arrays)
    assert message in str(caught.value)
    # and the same through a file
    with pytest.raises(WeightsError) as from_file:
        load_weights(save_raw(tmp_path / "bad.npz", arrays))
    assert str(from_file.value) == str(caught.value)


def test_weights_error_is_value_error():
    assert issubclass(WeightsError, ValueError)


def test_pickled_object_refused(tmp_path, rng):
    arrays = random_arrays(rng)
    arrays["W_in"] = np.array([{"evil": 1}], dtype=object)
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    with pytest.raises(WeightsError, match="W_in: cannot be read without pickle"):
        load_weights(path)


def test_not_an_archive_and_missing_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not a readable .npz"):
        load_weights(junk)
    with pytest.raises(WeightsError, match="no such weights file"):
        load_weights(tmp_path / "missing.npz")


def test_save_refuses_invalid_and_writes_nothing(tmp_path, rng):
    arrays = mutate(rng, "alpha0", np.array([0.0, 1.0]))
    with pytest.raises(WeightsError, match="alpha0"):
        save_weights(tmp_path / "w.npz", arrays)
    assert os.listdir(tmp_path) == []


def test_npz_bytes_depend_only_on_the_arrays(tmp_path):
    """The same arrays give the same file (no time stamps), and numpy reads it back."""
    import time

    from bmru.weights import write_npz

    arrays = {"x": np.arange(6.0).reshape(2, 3), "word": np.array(["yes", "no"])}
    write_npz(tmp_path / "a.npz", arrays, compressed=True)
    time.sleep(2.1)  # zip time stamps have a 2 s resolution
    write_npz(tmp_path / "b.npz", arrays, compressed=True)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as loaded:
        assert np.array_equal(loaded["x"], arrays["x"]) and list(loaded["word"]) == ["yes", "no"]
