import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bmru import train as T  # noqa: E402
from bmru.grid import HARDWARE_GRID, GridError, HardwareGrid  # noqa: E402
from bmru.model import run  # noqa: E402
from bmru.weights import load_weights  # noqa: E402

# A grid whose every value is exactly representable in binary (0.25 and 1/16 steps), so that
# float64 sums are exact and the torch and numpy forward passes agree bit for bit.
EXACT_GRID = HardwareGrid(weight_step=0.25, weight_max=3.0, threshold_step=0.0625, threshold_min=0.0625,
                    threshold_max=3.0)


def separable(n=256, frames=101, seed=0):
    """Class 1: feature 0 is high in the middle of the clip; class 0: feature 1 is."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, size=(n, frames, 13)).astype(np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    x[y == 1, 20:80, 0] += 2.0
    x[y == 0, 20:80, 1] += 2.0
    return x, y


def small_config(**overrides):
    config = dict(width=4, steps=300, batch=32, lr=5e-3, eps_hold=30, eps_decay=70, quant_start=0.6,
                  eval_every=50, log_every=1000, seed=0, threads=1, grid=EXACT_GRID)
    config.update(overrides)
    return T.TrainConfig(**config)


def test_scan_matches_sequential():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 101, 5, generator=gen, dtype=torch.float64)
    b = torch.rand(3, 101, 5, generator=gen, dtype=torch.float64)
    s0 = torch.rand(5, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(T.linear_scan(a, b, s0), T.linear_sequential(a, b, s0))
    # boolean (eps = 0) case: exact
    hold = (torch.rand(2, 101, 4, generator=gen) < 0.6).double()
    set_ = (1 - hold) * (torch.rand(2, 101, 4, generator=gen) < 0.3).double()
    assert torch.equal(T.linear_scan(hold, set_, torch.zeros(4, dtype=torch.float64)),
                       T.linear_sequential(hold, set_, torch.zeros(4, dtype=torch.float64)))


def test_surrogate_gradient():
    c = torch.tensor([0.0, 0.3, 0.5, 0.9, 2.0], dtype=torch.float64, requires_grad=True)
    threshold = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    out = T.step(c, threshold)
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    out.sum().backward()
    x = c.detach() - 0.5
    expected = 1.0 / (1.0 + (math.pi * x) ** 2)
    torch.testing.assert_close(c.grad, expected)
    torch.testing.assert_close(threshold.grad, -expected.sum())


def test_quantisation_grid_and_ranges():
    grid = HARDWARE_GRID
    w = torch.tensor([-7.0, -0.12, 0.12, 0.13, 2.9, 3.2])
    assert T.quantise_weight(w, grid).tolist() == [-3.0, -0.0, 0.0, 0.25, 3.0, 3.0]
    t = torch.tensor([-1.0, 0.0, 0.07, 1.234, 9.0], dtype=torch.float64)
    q = T.quantise_threshold(t, grid)
    assert q.min() >= 0.05 - 1e-12 and q.max() <= 3.0 + 1e-12
    np.testing.assert_allclose(q.numpy() / 0.05, np.round(q.numpy() / 0.05), atol=1e-9)
    with pytest.raises(GridError, match="threshold_min"):
        HardwareGrid(threshold_min=0.07)
    with pytest.raises(GridError, match="weight_step"):
        HardwareGrid(weight_step=-1)


def test_eps_schedule():
    config = T.TrainConfig(steps=100, eps_hold=10, eps_decay=40, quant_start=0.5)
    assert config.eps(0) == 1.0 and config.eps(9) == 1.0
    assert config.eps(30) == pytest.approx(0.5)
    assert config.eps(50) == 0.0 and config.eps(99) == 0.0
    assert not config.quantised(49) and config.quantised(50)


@pytest.fixture(scope="module")
def trained():
    x, y = separable(256, seed=0)
    xv, yv = separable(64, seed=1)
    result = T.train(x, y, xv, yv, small_config(), log=lambda line: None)
    return result, (xv, yv)


def test_short_training_learns_a_separable_task(trained):
    result, (xv, yv) = trained
    metrics = T.evaluate(result["model"], xv, yv, quantised=True)
    assert metrics["accuracy"] >= 0.95
    net = result["model"].export({"classes": ["other", "yes"]}, quantised=True)
    assert T.numpy_accuracy(net, xv, yv)["accuracy"] >= 0.95


def test_export_reproduces_torch_exactly(trained, tmp_path):
    result, (xv, yv) = trained
    model = result["model"]
    path = tmp_path / "w.npz"
    from bmru.weights import save_weights
    save_weights(path, model.export(T.model_meta(small_config()), quantised=True))
    net = load_weights(path)
    # every value on the grid and inside the hardware ranges
    arrays = net.to_arrays()
    for key, value in arrays.items():
        if key in ("format", "meta") or key.startswith("s0"):
            continue
        step = EXACT_GRID.threshold_step if key[:-1] in ("alpha", "beta1", "delta") else EXACT_GRID.weight_step
        assert np.array_equal(value / step, np.round(value / step)), key
        if key[:-1] in ("alpha", "beta1", "delta"):
            assert value.min() >= 0.0625 and value.max() <= 3.0, key
        else:
            assert np.abs(value).max() <= 3.0, key
    x = np.concatenate([xv, separable(32, seed=5)[0]])
    double = __import__("copy").deepcopy(model).double()
    with torch.no_grad():
        out = double(torch.from_numpy(x.astype(np.float64)), eps=0.0, quantised=True)
    frame, utterance = T.decisions(out.logits)
    for method in ("scan", "sequential"):
        ref = run(net, x, method=method)
        for layer in range(len(ref.states)):
            assert np.array_equal(ref.states[layer], out.states[layer].numpy().astype(np.uint8)), layer
            np.testing.assert_array_equal(ref.candidates[layer], out.candidates[layer].numpy())
        np.testing.assert_array_equal(ref.logits, out.logits.numpy())
        assert np.array_equal(ref.frame_decisions, frame.numpy())
        assert np.array_equal(ref.decision, utterance.numpy())
    # the states are not trivially constant
    assert 0 < np.mean([s.mean() for s in ref.states]) < 1
    meta = json.loads(str(arrays["meta"]))
    assert meta["classes"] == ["other", "yes"] and meta["task"] == "kws-yes"
    assert meta["features"] == "mfcc13-per-utterance-norm"
    assert meta["unit_current_A"] == 1e-9 and meta["frame_period_s"] == 0.01
    assert meta["quantisation"]["threshold_step"] == 0.0625


def test_default_grid_export_agrees():
    x, y = separable(128, seed=2)
    config = small_config(grid=HARDWARE_GRID, steps=120, eps_hold=10, eps_decay=20, quant_start=0.5)
    result = T.train(x, y, x[:32], y[:32], config, log=lambda line: None)
    net = result["model"].export({"classes": ["other", "yes"]}, quantised=True)
    double = __import__("copy").deepcopy(result["model"]).double()
    with torch.no_grad():
        out = double(torch.from_numpy(x.astype(np.float64)), eps=0.0, quantised=True)
    ref = run(net, x)
    for layer in range(len(ref.states)):
        assert np.array_equal(ref.states[layer], out.states[layer].numpy().astype(np.uint8))
    assert np.array_equal(ref.decision, T.decisions(out.logits)[1].numpy())
    np.testing.assert_allclose(ref.logits, out.logits.numpy(), atol=1e-12)


def test_deterministic_training():
    x, y = separable(64, seed=3)
    config = small_config(steps=40, eval_every=20)
    a = T.train(x, y, x, y, config, log=lambda line: None)["model"].export(quantised=True).to_arrays()
    b = T.train(x, y, x, y, config, log=lambda line: None)["model"].export(quantised=True).to_arrays()
    for key in a:
        if key not in ("format", "meta"):
            assert np.array_equal(a[key], b[key]), key


def test_margin_penalty_uses_the_deciding_threshold():
    """While reset the set threshold beta1 + delta decides, while set beta1 does."""
    model = T.BMRUNet(13, width=1, layers=1, seed=0).double()
    beta1, beta2 = torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64)
    c = torch.tensor([[[1.48], [1.0], [1.03], [0.2]]], dtype=torch.float64)
    s = torch.tensor([[[1.0], [1.0], [0.0], [0.0]]], dtype=torch.float64)
    out = T.Forward(torch.zeros(1, 4, 2), [s], [c], [(beta1, beta2)])
    # frame 0: reset before (s0 = 0), |1.48 - 1.5| = 0.02 -> 0.03; frame 1: set before, an exact tie
    # with beta1, which the circuit resolves by design -> 0; frame 2: set before, 0.03 from beta1 -> 0.02;
    # frame 3: reset before, far from 1.5 -> 0
    expected = (0.03 + 0.0 + 0.02 + 0.0) / 4
    assert float(model.margin_penalty(out, 0.05)) == pytest.approx(expected)


@pytest.mark.parametrize("overrides, match", [
    ({"margin_weight": -1.0}, "margin_weight"),
    ({"width": 0}, "width"),
    ({"steps": -5}, "steps"),
    ({"lr": 0.0}, "lr"),
    ({"quant_start": 1.5}, "quant_start"),
    ({"leak": "nope"}, "leak"),
])
def test_bad_config(overrides, match):
    x, y = separable(8)
    with pytest.raises(T.TrainError, match=match):
        T.train(x, y, x, y, small_config(**overrides))


def test_bad_data():
    x, y = separable(8)
    with pytest.raises(T.TrainError, match="train"):
        T.train(x[:, :, :5], y[:4], x, y, small_config())
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(T.TrainError, match="NaN"):
        T.train(bad, y, x, y, small_config())


def test_cli_help_and_errors(capsys):
    with pytest.raises(SystemExit) as info:
        T.main(["--help"])
    assert info.value.code == 0
    assert "--width" in capsys.readouterr().out
    assert T.main(["--out", "weights.txt"]) == 2
    assert "--out" in capsys.readouterr().err
    assert T.main(["--out", "w.npz", "--width", "0"]) == 2
    assert "width" in capsys.readouterr().err


def test_cli_end_to_end(tmp_path):
    pytest.importorskip("librosa")
    import shutil
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    out, test_out, report = tmp_path / "w.npz", tmp_path / "t.npz", tmp_path / "r.json"
    code = T.main(["--out", str(out), "--test-out", str(test_out), "--report", str(report),
                   "--train-clips", "24", "--val-clips", "8", "--test-clips", "8", "--processes", "1",
                   "--cache-dir", str(tmp_path / "cache"), "--checkpoint", str(tmp_path / "ckpt.pt"),
                   "--steps", "20", "--eval-every", "10", "--eps-hold", "5", "--eps-decay", "5", "--threads", "1"])
    assert code == 0
    net = load_weights(out)
    assert (net.n_in, net.width, len(net.layers), net.classes) == (13, 4, 2, 2)
    with np.load(test_out, allow_pickle=False) as data:
        assert data["x"].shape == (8, 101, 13) and data["x"].dtype == np.float32
        assert data["y"].dtype == np.int64
    result = json.loads(report.read_text())
    assert 0.0 <= result["accuracy"]["test_quantised"] <= 1.0
    assert result["accuracy"]["test_quantised"] == result["accuracy"]["test_quantised_torch"]


def _stats(sigma: float):
    from bmru.mismatch import STATS_FORMAT, required_roles, stats_from_dict
    return stats_from_dict({"format": STATS_FORMAT, "roles": {role: sigma for role in required_roles()},
                            "weight_step": 0.25, "bias_step": 0.25, "cell_step": 0.0625})


def test_forward_with_chip_gains_is_the_realised_network(trained):
    """The torch forward on one drawn chip equals the NumPy model of that chip's realised
    parameters (residual gains at 1, which the bmru-fq/1 format cannot express)."""
    from bmru.mismatch import sample_log_gains
    from bmru.weights import validate
    result, (xv, _) = trained
    model = __import__("copy").deepcopy(result["model"]).double()
    arrays = model.numpy_arrays(quantised=True)
    logs = sample_log_gains(arrays, model.n_layers, _stats(0.05), np.random.default_rng(4))
    for key in list(logs):
        if key.startswith("g_"):
            logs[key] = np.zeros_like(logs[key])
    gains = {key: torch.from_numpy(np.exp(value)) for key, value in logs.items()}
    with torch.no_grad():
        out = model(torch.from_numpy(xv.astype(np.float64)), eps=0.0, quantised=True, gains=gains)
    realised = dict(model.export({"classes": ["other", "yes"]}).to_arrays())
    for key, value in logs.items():
        if key in realised:
            realised[key] = realised[key] * np.exp(value)
    for layer in range(model.n_layers):
        beta2 = (arrays[f"beta1{layer}"] + arrays[f"delta{layer}"]) * np.exp(logs[f"beta2{layer}"])
        realised[f"beta1{layer}"] = beta2 - realised[f"delta{layer}"]
    ref = run(validate(realised), xv)
    for layer in range(model.n_layers):
        assert np.array_equal(ref.states[layer], out.states[layer].numpy().astype(np.uint8))
    np.testing.assert_allclose(ref.logits, out.logits.numpy(), rtol=1e-9, atol=1e-12)
    nominal = run(validate(model.export({"classes": ["other", "yes"]}).to_arrays()), xv)
    assert not np.allclose(nominal.logits, ref.logits)  # the chip really differs from nominal


def test_mismatch_aware_training_is_deterministic_and_recorded():
    x, y = separable(128, seed=0)
    xv, yv = separable(32, seed=1)
    config = small_config(steps=120, mismatch=_stats(0.1).to_dict(), mismatch_val_chips=3)
    first = T.train(x, y, xv, yv, config, log=lambda line: None)
    second = T.train(x, y, xv, yv, config, log=lambda line: None)
    for a, b in zip(first["model"].parameters(), second["model"].parameters()):
        assert torch.equal(a, b)
    assert "chips" in first["history"][-1]["val"]
    meta = T.model_meta(config)
    assert meta["training"]["mismatch"]["roles"]["nmos_finger"] == 0.1
    assert "mismatch" not in T.model_meta(small_config())["training"]  # the default recipe's meta is unchanged
    with pytest.raises(T.TrainError, match="roles.rx.d"):
        bad = _stats(0.1).to_dict()
        bad["roles"]["rx.d"] = -1.0
        small_config(mismatch=bad).check()


def test_load_network_round_trips_an_export(trained, tmp_path):
    """Fine-tuning starts from exactly the exported model: loading it and exporting again gives
    the same arrays, and the forward pass the same logits."""
    result, (xv, _) = trained
    net = result["model"].export({"classes": ["other", "yes"]}, quantised=True)
    fresh = T.BMRUNet(13, width=4, layers=len(net.layers), seed=5, grid=EXACT_GRID)
    fresh.load_network(net)
    again = fresh.export({"classes": ["other", "yes"]}, quantised=True)
    for key, value in net.to_arrays().items():
        if key not in ("format", "meta"):
            np.testing.assert_array_equal(again.to_arrays()[key], value, err_msg=key)
    x = torch.from_numpy(xv[:4])
    assert torch.equal(fresh(x, quantised=True).logits, result["model"](x, quantised=True).logits)
    with pytest.raises(T.TrainError, match="W_in has shape"):
        T.BMRUNet(13, width=3, layers=len(net.layers)).load_network(net)


def test_cli_refuses_bad_init_weights(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    assert T.main(["--out", str(tmp_path / "w.npz"), "--init-weights", str(bad)]) == 2
    assert "--init-weights" in capsys.readouterr().err
    assert T.main(["--out", str(tmp_path / "w.npz"), "--init-weights", "examples/kws_yes_d4.npz",
                   "--width", "8"]) == 2
    assert "W_in has shape" in capsys.readouterr().err
    assert not (tmp_path / "w.npz").exists()


def test_margin_penalty_relative_part_grows_with_the_currents():
    """Mismatch scales currents: with ``relative`` the wanted margin adds that fraction of the
    deciding threshold plus the summed |currents| of the candidate."""
    model = T.BMRUNet(13, width=1, layers=1, seed=0).double()
    beta1, beta2 = torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64)
    c = torch.tensor([[[1.4]]], dtype=torch.float64)
    s = torch.tensor([[[0.0]]], dtype=torch.float64)
    # input 1.0 through a weight of -2.0, bias 0.5: |currents| sum to 2.5
    u = torch.tensor([[[1.0]]], dtype=torch.float64)
    params = (torch.tensor([[-2.0]], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64))
    out = T.Forward(torch.zeros(1, 1, 2), [s], [c], [(beta1, beta2)], [u], [params])
    assert float(model.margin_penalty(out, 0.05)) == pytest.approx(0.0)  # 0.1 from beta2: clear
    # wanted 0.05 + 0.1 * (1.5 + 2.5) = 0.45, distance 0.1
    assert float(model.margin_penalty(out, 0.05, relative=0.1)) == pytest.approx(0.35)


def test_floor_selection_keeps_the_nominal_model_in_view():
    x, y = separable(128, seed=0)
    xv, yv = separable(32, seed=1)
    config = small_config(steps=120, mismatch=_stats(0.3).to_dict(), mismatch_val_chips=3, mismatch_select="floor")
    result = T.train(x, y, xv, yv, config, log=lambda line: None)
    records = [r for r in result["history"] if r["quantised"]]
    score = {r["step"]: min(r["val"]["accuracy"], r["val"]["chips"]["mean"]) for r in records}
    assert score[result["best_quant_step"]] == max(score.values())
    # a model better on drawn chips than on its own nominal circuit is judged by the nominal
    metrics = {"accuracy": 0.84, "chips": {"mean": 0.87, "p5": 0.8}}
    assert T.checkpoint_score(metrics, "floor") == 0.84
    assert T.checkpoint_score(metrics, "mean") == 0.87
    with pytest.raises(T.TrainError, match="mismatch_select"):
        small_config(mismatch_select="best").check()


def test_validation_chips_come_from_their_own_statistics():
    """With mismatch_val, training draws its chips from one set of statistics and validates on
    chips from another: the same training run (same steps, same gradients) then keeps its
    checkpoint by the second set's chips."""
    x, y = separable(128, seed=0)
    xv, yv = separable(32, seed=1)
    base = dict(steps=60, mismatch=_stats(0.05).to_dict(), mismatch_val_chips=3)
    own = T.train(x, y, xv, yv, small_config(**base), log=lambda line: None)
    wide = T.train(x, y, xv, yv, small_config(**base, mismatch_val=_stats(0.6).to_dict()), log=lambda line: None)
    for a, b in zip(own["model"].parameters(), wide["model"].parameters()):
        assert torch.equal(a, b)  # validation never touches training
    own_chips = [r["val"]["chips"]["mean"] for r in own["history"]]
    wide_chips = [r["val"]["chips"]["mean"] for r in wide["history"]]
    assert [r["val"]["accuracy"] for r in own["history"]] == [r["val"]["accuracy"] for r in wide["history"]]
    assert own_chips != wide_chips  # the same models, judged on other chips
    with pytest.raises(T.TrainError, match="mismatch_val"):
        small_config(mismatch_val=_stats(0.1).to_dict()).check()


def test_a_chip_per_utterance_is_each_utterance_on_its_own_chip(trained):
    """chip_gains(chips=K) gives consecutive groups of a batch their own chip, and the batched
    forward equals running each utterance alone on its chip; one chip per batch stays as it was."""
    result, (xv, _) = trained
    model = __import__("copy").deepcopy(result["model"]).double()
    x = torch.from_numpy(xv[:4].astype(np.float64))
    stats = _stats(0.1)
    batched = T.chip_gains(model, stats, True, np.random.default_rng(3), chips=2, batch=4)
    single = T.chip_gains(model, stats, True, np.random.default_rng(3))
    for key, value in batched.items():
        assert value.shape[0] == 4 and value.dim() == 3
        assert torch.equal(value[0], value[1]) and not torch.equal(value[0], value[2])
        assert torch.equal(value[0].reshape(single[key].shape), single[key])  # the first chip is the same draw
    with torch.no_grad():
        together = model(x, quantised=True, gains={k: v.double() for k, v in batched.items()})
        for i in range(4):
            alone = model(x[i:i + 1], quantised=True,
                          gains={k: v[i].reshape(single[k].shape).double() for k, v in batched.items()})
            np.testing.assert_allclose(together.logits[i].numpy(), alone.logits[0].numpy(), rtol=1e-12)
            for layer in range(model.n_layers):
                assert torch.equal(together.states[layer][i], alone.states[layer][0])
    assert "chips_per_batch" not in T.model_meta(small_config(mismatch=stats.to_dict()))["training"]
    assert T.model_meta(small_config(mismatch=stats.to_dict(), chips_per_batch=4))["training"]["chips_per_batch"] == 4
    with pytest.raises(T.TrainError, match="chips_per_batch"):
        small_config(chips_per_batch=5).check()  # batch 32
