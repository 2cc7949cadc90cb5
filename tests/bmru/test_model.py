"""The NumPy BMRU model: hand-checked set/hold/reset, scan == sequential, decisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmru.model import majority, run, set_hold, states_scan, states_sequential
from bmru.weights import FORMAT, validate
from tests.conftest import random_arrays


def identity_cell_net(beta1=0.5, delta=0.25, alpha=2.0, s0=0.0):
    """One input passed straight to one cell; readout class 1 = cell output, class 0 = 1 unit."""
    arrays = {
        "format": np.array(FORMAT),
        "W_in": np.array([[1.0]]), "b_in": np.array([0.0]),
        "W_c0": np.array([[1.0]]), "b_c0": np.array([0.0]),
        "beta10": np.array([beta1]), "delta0": np.array([delta]), "alpha0": np.array([alpha]),
        "s00": np.array([s0]),
        "W_o0": np.array([[1.0]]), "b_o0": np.array([0.0]),
        "W_out": np.array([[0.0], [1.0]]), "b_out": np.array([1.0, 0.0]),
        "meta": np.array(json.dumps({"classes": ["low", "high"]})),
    }
    return validate(arrays)


@pytest.mark.parametrize("method", ["scan", "sequential"])
def test_set_hold_reset_by_hand(method):
    net = identity_cell_net(beta1=0.5, delta=0.25)  # reset below 0.5, set at >= 0.75
    #           hold  set   hold  hold  =beta1 reset =beta2 <beta2 below-b1
    inputs = [0.6, 0.75, 0.74, 0.5, 0.5, 0.49, 0.75, 0.7499, 0.0, 3.0, -2.0]
    expected = [0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0]
    out = run(net, np.array(inputs)[None, :, None], method=method)
    assert out.states[0][0, :, 0].tolist() == expected
    np.testing.assert_allclose(out.candidates[0][0, :, 0], np.maximum(inputs, 0))


def test_thresholds_exactly_at_beta1_and_beta2():
    beta1, delta = np.array([0.3]), np.array([0.2])
    candidates = np.array([0.3, 0.5, 0.2999999, 0.4999999])[None, :, None]
    set_, hold = set_hold(candidates, beta1, delta)
    assert set_[0, :, 0].tolist() == [False, True, False, False]
    assert hold[0, :, 0].tolist() == [True, False, False, True]


def test_initial_state_is_held():
    for s0 in (0.0, 1.0):
        net = identity_cell_net(s0=s0)
        out = run(net, np.full((1, 4, 1), 0.6))
        assert out.states[0][0, :, 0].tolist() == [int(s0)] * 4


def test_residual_and_readout_by_hand():
    net = identity_cell_net(beta1=0.5, delta=0.25, alpha=2.0)
    out = run(net, np.array([[[0.8], [0.6], [0.1]]]))
    # u1 = y + u = ReLU(1 * 2.0 * s) + x ; z = [1, u1]
    np.testing.assert_allclose(out.logits[0], [[1.0, 2.8], [1.0, 2.6], [1.0, 0.1]])
    assert out.frame_decisions[0].tolist() == [1, 1, 0]
    assert out.decision.tolist() == [1]


def test_negative_features_are_rectified():
    net = identity_cell_net()
    a = run(net, np.array([[[-1.0], [0.9]]]))
    b = run(net, np.array([[[0.0], [0.9]]]))
    np.testing.assert_array_equal(a.logits, b.logits)


def test_majority_ties_go_to_lowest_index():
    frames = np.array([[0, 1, 1, 0], [2, 2, 1, 1], [1, 1, 1, 0], [2, 0, 1, 2]])
    assert majority(frames, 3).tolist() == [0, 1, 1, 2]


def test_frame_argmax_ties_go_to_lowest_index():
    net = identity_cell_net()
    tied = validate({**net.to_arrays(), "b_out": np.array([0.0, 0.0]), "W_out": np.array([[1.0], [1.0]])})
    assert run(tied, np.array([[[0.3]]])).frame_decisions.tolist() == [[0]]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_in=st.integers(1, 6), width=st.integers(1, 5),
       cells=st.integers(1, 6), layers=st.integers(1, 3), classes=st.integers(2, 4),
       batch=st.integers(1, 4), frames=st.integers(1, 70), grid=st.sampled_from([None, 0.25]))
def test_scan_equals_sequential(seed, n_in, width, cells, layers, classes, batch, frames, grid):
    rng = np.random.default_rng(seed)
    net = validate(random_arrays(rng, n_in, width, cells, layers, classes, grid))
    x = rng.normal(0.0, 1.5, (batch, frames, n_in))
    if grid:
        x = np.round(x * 4) / 4  # lands candidates exactly on thresholds now and then
    scan, seq = run(net, x, "scan"), run(net, x, "sequential")
    for a, b in zip(scan.states, seq.states):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(scan.logits, seq.logits)
    np.testing.assert_array_equal(scan.decision, seq.decision)
    assert scan.states[0].shape == (batch, frames, cells)
    assert scan.logits.shape == (batch, frames, classes)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), frames=st.integers(1, 130))
def test_scan_kernel_equals_loop(seed, frames):
    rng = np.random.default_rng(seed)
    set_ = rng.random((3, frames, 5)) < 0.2
    hold = ~set_ & (rng.random((3, frames, 5)) < 0.7)
    s0 = rng.integers(0, 2, 5)
    np.testing.assert_array_equal(states_scan(set_, hold, s0), states_sequential(set_, hold, s0))


def test_bad_input_shape_and_method(small_net):
    with pytest.raises(ValueError, match="x: expected shape"):
        run(small_net, np.zeros((2, 5, 7)))
    with pytest.raises(ValueError, match="method"):
        run(small_net, np.zeros((2, 5, 3)), method="magic")
    with pytest.raises(ValueError, match="NaN"):
        run(small_net, np.full((1, 2, 3), np.nan))
