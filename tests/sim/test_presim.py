"""End to end: a tiny network in ngspice agrees with the quantised software model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bmru.model import run
from bmru.weights import save_weights, validate
from generators.circuit.mapping import map_network, quantised_network
from generators.circuit.schematic import schematic_text
from sim.presim import main as presim_main
from sim.runner import evaluate

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")

FRAMES = 10
PERIOD = 0.005


def tiny_arrays() -> dict[str, np.ndarray]:
    """n_in=2, D=N=2, L=1, C=2; input 0 drives cell 0, input 1 drives cell 1 (hand-made, on the grid)."""
    return {
        "format": np.array("bmru-fq/1"),
        "W_in": np.array([[1.0, -0.25], [-0.25, 1.0]]), "b_in": np.array([0.0, 0.25]),
        "W_c0": np.array([[1.5, -0.5], [-0.5, 1.25]]), "b_c0": np.array([0.0, -0.25]),
        "beta10": np.array([0.4, 0.5]), "delta0": np.array([0.6, 0.5]), "alpha0": np.array([1.0, 1.5]),
        "s00": np.array([0.0, 1.0]),
        "W_o0": np.array([[1.0, -0.5], [-0.5, 1.0]]), "b_o0": np.array([0.0, 0.0]),
        "W_out": np.array([[1.0, -0.75], [-0.75, 1.0]]), "b_out": np.array([0.25, 0.0]),
        "meta": np.array(json.dumps({"unit_current_A": 1e-9, "frame_period_s": PERIOD, "classes": ["a", "b"]})),
    }


def tiny_inputs(net, count: int, seed: int = 7) -> np.ndarray:
    """Random rectified inputs whose candidates stay >= 0.1 units away from every threshold."""
    rng = np.random.default_rng(seed)
    kept = []
    while len(kept) < count:
        x = np.maximum(rng.normal(0.6, 0.8, (FRAMES, net.n_in)), 0)
        c = run(net, x[None]).candidates[0][0]
        layer = net.layers[0]
        margin = np.minimum(np.abs(c - layer.beta1), np.abs(c - layer.beta2)).min()
        if margin >= 0.1:
            kept.append(x)
    return np.stack(kept)


def write_tiny_job(folder, labels=(0,)):
    """The tiny network's weights and as many clean utterances as ``labels`` written to
    ``folder``: (weights path, inputs path, output folder path)."""
    net = validate(tiny_arrays())
    weights = folder / "tiny.npz"
    save_weights(weights, net)
    x = tiny_inputs(quantised_network(map_network(net)), len(labels))
    inputs = folder / "inputs.npz"
    np.savez(inputs, x=x, y=np.array(labels))
    return weights, inputs, folder / "out"


def test_tiny_network_agrees_with_software(tmp_path):
    net = validate(tiny_arrays())
    spec = map_network(net)
    x = tiny_inputs(quantised_network(spec), 2)
    netlist = tmp_path / "schematic.spice"
    netlist.write_text(schematic_text(spec))
    result = evaluate(netlist, spec, x, None, jobs=2)
    assert result["frame_state_agreement"] == 1.0
    assert result["decision_agreement"] == 1.0
    sw = run(quantised_network(spec), x)
    assert any(s.any() for s in sw.states[0].reshape(-1, 2).T)  # the cells do switch
    power = result["power_nW"]
    assert 0 < power["total_mean"] < 40
    # the bias supply feeds at least the 1 nA reference current (the bench draws iref from it)
    assert power["bias_mean"] >= 0.99 * spec.unit_current_A * 1.8e9
    assert power["inputs_mean"] == pytest.approx(1.8 * np.maximum(x, 0).sum(axis=2).mean(), rel=1e-6)
    assert 0 < power["control_mean"] < 1.0


@pytest.mark.parametrize("sizing_options, recorded", [([], None), (["--cell-line-copies", "2"], {"cell_line_copies": 2})])
def test_cli_writes_presim_json(tmp_path, sizing_options, recorded):
    weights, inputs, out = write_tiny_job(tmp_path)
    presim_main([str(weights), "--inputs", str(inputs), "-o", str(out), "--jobs", "1", *sizing_options])
    data = json.loads((out / "presim.json").read_text())
    for key in ("netlist", "utterances", "decision_agreement", "frame_state_agreement", "sw_accuracy", "hw_accuracy",
                "power_nW", "sim_seconds_per_utterance", "software_seconds_per_utterance"):
        assert key in data
    assert data["netlist"] == "schematic" and data["utterances"] == 1
    assert set(data["power_nW"]) >= {"total_mean", "total_min", "total_max", "cells_mean", "feedforward_mean",
                                     "bias_mean", "inputs_mean", "control_mean"}
    assert (out / "schematic.spice").is_file() and (out / "spec.json").is_file()
    from sim.runner import sha256_of

    assert data["netlist_sha256"] == sha256_of(out / "schematic.spice")
    assert data["labels_covered"] == {"0": 1}
    assert (data["corner"], data["temp_C"], data["vdd_V"]) == ("tt", 27.0, 1.8)
    assert data.get("sizing") == recorded  # what the figures cover: the shipped sizing records nothing


def test_skip_keeps_the_inputs_files_numbering(tmp_path):
    """--skip K simulates the rest of a stopped run: the rows keep the inputs file's indices, so
    the parts' progress lines and tables join (guards against rows renumbered from 0)."""
    weights, inputs, out = write_tiny_job(tmp_path, labels=(0, 1))
    presim_main([str(weights), "--inputs", str(inputs), "-o", str(out), "--jobs", "1", "--skip", "1"])
    data = json.loads((out / "presim.json").read_text())
    assert data["utterances"] == 1 and data["first_utterance"] == 1
    assert data["labels_covered"] == {"1": 1}
    (row,) = data["per_utterance"]
    assert row["index"] == 1 and row["label"] == 1
    x = np.load(inputs)["x"]
    assert row["sw_decision"] == int(run(quantised_network(map_network(validate(tiny_arrays()))), x[1:]).decision[0])


def test_presim_keeps_the_layout_generators_spec(tmp_path):
    """The array generator's spec.json (with its area and options) is the same spec: presim must
    not overwrite it with the bare mapping."""
    from generators.circuit.mapping import spec_json
    from sim.presim import same_spec

    spec = map_network(validate(tiny_arrays()))
    path = tmp_path / "spec.json"
    data = json.loads(spec_json(spec))
    path.write_text(json.dumps(dict(data, area_um2={"total": 1.0}, compact_cells=True)))
    assert same_spec(path, spec)
    path.write_text(json.dumps(dict(data, width=data["width"] + 1)))
    assert not same_spec(path, spec)


def test_cli_bad_inputs_write_nothing(tmp_path, capsys):
    net = validate(tiny_arrays())
    weights = tmp_path / "tiny.npz"
    save_weights(weights, net)
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=np.zeros((1, 4, 3)))  # 3 features for a 2-input network
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        presim_main([str(weights), "--inputs", str(inputs), "-o", str(out)])
    assert exit_info.value.code != 0
    assert "x" in capsys.readouterr().err
    assert not out.exists()
    arrays = tiny_arrays()
    arrays["W_in"] = np.array([[3.5, 0.0], [0.0, 1.0]])
    save_weights(weights, validate(arrays))
    np.savez(inputs, x=np.zeros((1, 4, 2)))
    with pytest.raises(SystemExit):
        presim_main([str(weights), "--inputs", str(inputs), "-o", str(out)])
    assert "W_in[0,0]" in capsys.readouterr().err
    assert not out.exists()


def stall_with_bypass(monkeypatch) -> list[str]:
    """Make sim.runner's ngspice stall on every deck with device bypass on (as ngspice did on the
    2 µm design at ss, 85 °C) and run the others; returns the decks it is given, in order."""
    import sim.runner as runner
    from sim.ngspice import SpiceStalled, run_deck

    decks = []

    def stalls_with_bypass(deck):
        decks.append(deck)
        if "bypass=1" in deck:
            raise SpiceStalled("transient stopped at 0.01 s of 0.06 s")
        return run_deck(deck)

    monkeypatch.setattr(runner, "run_deck", stalls_with_bypass)
    return decks


def tiny_utterance_job(tmp_path):
    """The tiny network's spec, one utterance, its schematic file and top circuit."""
    from sim.testbench import find_top

    spec = map_network(validate(tiny_arrays()))
    netlist = tmp_path / "schematic.spice"
    netlist.write_text(schematic_text(spec))
    return spec, tiny_inputs(quantised_network(spec), 1)[0], netlist, find_top(netlist.read_text())


def test_a_stalled_run_is_repeated_without_device_bypass(tmp_path, monkeypatch):
    """ngspice can stall with device bypass on (2 µm fingers, ss, 85 °C): the run is repeated
    with bypass=0, the same circuit, and says so; other errors are not retried."""
    import sim.runner as runner
    from sim.ngspice import SpiceError

    spec, x, netlist, top = tiny_utterance_job(tmp_path)
    decks = stall_with_bypass(monkeypatch)
    retried = runner.simulate_one(netlist, top, spec, x)
    assert retried.bypass_off and len(decks) == 2 and "bypass=0" in decks[1]
    assert np.array_equal(retried.states[0], run(quantised_network(spec), x[None]).states[0][0])

    def fails(deck):
        raise SpiceError("ngspice exited 1: no such model")

    monkeypatch.setattr(runner, "run_deck", fails)
    with pytest.raises(SpiceError, match="no such model"):
        runner.simulate_one(netlist, top, spec, x)


def test_a_run_that_stalls_without_bypass_too_is_repeated_at_a_smaller_step(tmp_path, monkeypatch):
    """The 2 µm keeper design stalled at ss, 85 °C, 1.98 V without bypass ("timestep too small" at a
    held state node); a 5x smaller largest step got past it. The run says so; a run that stalls
    at the smaller step too is an error."""
    import sim.runner as runner
    from sim.ngspice import SpiceStalled, run_deck

    spec, x, netlist, top = tiny_utterance_job(tmp_path)
    small = spec.frame_period_s * runner.MAX_STEP_FRACTION / runner.STALL_STEP_DIVISOR
    decks = []

    def stalls_unless_small_steps(deck):
        decks.append(deck)
        largest = float(next(line for line in deck.splitlines() if line.startswith("tran")).split()[-1])
        if largest > small * 1.0001:
            raise SpiceStalled("transient stopped at 0.01 s of 0.06 s")
        return run_deck(deck)

    monkeypatch.setattr(runner, "run_deck", stalls_unless_small_steps)
    result = runner.simulate_one(netlist, top, spec, x)
    assert len(decks) == 3 and "bypass=1" in decks[0] and "bypass=0" in decks[1] and "bypass=0" in decks[2]
    assert result.bypass_off and result.smaller_step
    assert np.array_equal(result.states[0], run(quantised_network(spec), x[None]).states[0][0])

    def always_stalls(deck):
        raise SpiceStalled("transient stopped at 0.01 s of 0.06 s")

    monkeypatch.setattr(runner, "run_deck", always_stalls)
    with pytest.raises(SpiceStalled):
        runner.simulate_one(netlist, top, spec, x)


def test_a_circuit_with_state_keepers_runs_without_device_bypass(tmp_path, monkeypatch):
    """Device bypass let ngspice flip a keeper latch, so a keeper circuit's deck asks for bypass=0
    from the first run (and says so); the shipped circuit keeps bypass on. Both take 0.05-frame
    steps (the starved keeper needs no shorter ones) and draw each enable ramp as one segment."""
    import sim.runner as runner
    from generators.circuit.mapping import MappingConfig, Sizing
    from sim.ngspice import run_deck
    from sim.testbench import find_top

    net = validate(tiny_arrays())
    x = None
    for sizing in (Sizing(state_keeper=True), Sizing()):
        spec = map_network(net, MappingConfig(sizing=sizing))
        x = tiny_inputs(quantised_network(spec), 1)[0] if x is None else x
        netlist = tmp_path / "schematic.spice"
        netlist.write_text(schematic_text(spec))
        decks = []

        def recorded(deck):
            decks.append(deck)
            return run_deck(deck)

        monkeypatch.setattr(runner, "run_deck", recorded)
        result = runner.simulate_one(netlist, find_top(netlist.read_text()), spec, x)
        assert len(decks) == 1 and ("bypass=0" in decks[0]) == sizing.state_keeper
        enable = next(line for line in decks[0].splitlines() if line.startswith("Ven0 "))
        pwl = [float(v) for v in enable.split("(")[1].rstrip(")").split()]
        times, levels = pwl[::2], pwl[1::2]
        longest_sloped = max(t1 - t0 for t0, t1, v0, v1 in zip(times, times[1:], levels, levels[1:]) if v0 != v1)
        assert longest_sloped == pytest.approx(spec.frame_period_s * 0.02)
        largest_step = float(next(line for line in decks[0].splitlines() if line.startswith("tran")).split()[-1])
        assert largest_step == pytest.approx(spec.frame_period_s * 0.05)
        assert result.bypass_off == sizing.state_keeper
        assert np.array_equal(result.states[0], run(quantised_network(spec), x[None]).states[0][0])
