"""``python -m bmru.infer``: results, --help, and one-line errors that write nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bmru.model import run
from bmru.weights import save_weights
from tests.conftest import REPO_ROOT


def infer(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "bmru.infer", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture
def files(tmp_path, small_net, rng):
    weights = tmp_path / "w.npz"
    save_weights(weights, small_net)
    x = rng.normal(size=(6, 20, 3))
    y = rng.integers(0, 2, 6)
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=x, y=y)
    return weights, inputs, x, y


def test_decisions_and_accuracy(files, tmp_path, small_net):
    weights, inputs, x, y = files
    result = infer(weights, inputs, "--json", tmp_path / "out" / "r.json")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "r.json").read_text())
    expected = run(small_net, x).decision
    assert data["decisions"] == expected.tolist()
    assert data["accuracy"] == pytest.approx(np.mean(expected == y))
    assert "accuracy" in result.stdout.splitlines()[-1]


def test_help():
    result = infer("--help")
    assert result.returncode == 0 and "weights" in result.stdout


def test_bad_weights_one_line_and_nothing_written(files, tmp_path, small_net):
    _, inputs, _, _ = files
    arrays = small_net.to_arrays()
    arrays["delta1"] = np.array([0.2, -0.1])
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    out = tmp_path / "never" / "r.json"
    result = infer(bad, inputs, "--json", out)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "delta1" in result.stderr
    assert not out.parent.exists()


def test_inputs_width_mismatch(files, tmp_path):
    weights, _, _, _ = files
    inputs = tmp_path / "wide.npz"
    np.savez(inputs, x=np.zeros((2, 5, 4)))
    result = infer(weights, inputs)
    assert result.returncode != 0 and "x:" in result.stderr and "3 inputs" in result.stderr


def test_software_json_carries_the_power_model(tmp_path):
    """software.json has the power model's power_nW block (CONTRACT: the same keys as bmru.power)."""

    from bmru.inputs import load_inputs
    from bmru.power import power, summary
    from bmru.weights import load_weights
    from generators.circuit.mapping import map_network

    root = REPO_ROOT
    weights, inputs = root / "examples" / "kws_yes_d4.npz", root / "examples" / "kws_yes_test.npz"
    result = infer(weights, inputs, "-n", 6, "-q", "--json", tmp_path / "sw.json")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "sw.json").read_text())
    expected = summary(power(map_network(load_weights(weights)), load_inputs(inputs, limit=6).x))["power_nW"]
    assert data["power_nW"] == pytest.approx(expected)
    assert set(data["power_nW"]) >= {"total_mean", "cells_mean", "feedforward_mean", "bias_mean", "inputs_mean",
                                     "control_mean"}
