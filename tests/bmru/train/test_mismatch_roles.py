"""benchmarks/mismatch_roles.py --by-parameter: its groups cover every drawn gain once, and keeping
them all measures the same chips as the training's own evaluation."""
import importlib.util

import numpy as np
import pytest

pytest.importorskip("torch")

from bmru.mismatch import load_stats, sample_log_gains  # noqa: E402
from bmru.train import BMRUNet, evaluate_chips  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from tests.conftest import REPO_ROOT  # noqa: E402

spec = importlib.util.spec_from_file_location("mismatch_roles", REPO_ROOT / "benchmarks" / "mismatch_roles.py")
roles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(roles)

STATS = REPO_ROOT / "benchmarks/results/mismatch_stats/u2_b16_c8_i8_k2_drawn.json"


def shipped_model():
    net = load_weights(REPO_ROOT / "examples/kws_yes_d4.npz")
    model = BMRUNet(net.n_in, net.width, len(net.layers), net.classes)
    model.load_network(net)
    return net, model


def test_the_parameter_groups_hold_every_drawn_gain_once():
    net, model = shipped_model()
    gains = sample_log_gains(model.numpy_arrays(True), len(net.layers), load_stats(STATS), np.random.default_rng(0))
    members = [key for group in roles.parameter_groups(len(net.layers)).values() for key in group]
    assert sorted(members) == sorted(gains)


def test_keeping_every_parameter_measures_the_training_evaluations_chips():
    _, model = shipped_model()
    with np.load(REPO_ROOT / "examples/kws_yes_test.npz") as data:
        x, y = data["x"][:40], data["y"][:40]
    stats = load_stats(STATS)
    expected = {k: round(v, 4) for k, v in evaluate_chips(model, x, y, True, stats, 3, 5).items()}
    assert roles.parameter_accuracy(model, x, y, stats, lambda key: True, 3, 5) == expected
    nominal = roles.parameter_accuracy(model, x, y, stats, lambda key: False, 3, 5)
    assert nominal["mean"] != expected["mean"]  # the mask does take the chips' errors out
