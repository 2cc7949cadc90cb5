"""Honest simulation results: what was simulated is recorded, short or incomplete runs are
errors naming the utterance, power beyond the chip's supplies (inputs, control drivers) is
measured, and a stale extraction is refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from pdk_sky130_180.devices import NFET, SUPPLY_V
from sim.measure import check_complete, measure
from sim.ngspice import SpiceError, SpiceResult, run_deck
from sim.stimulus import Timing, enable_points
from sim.testbench import deck_text, find_top

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")

FRAMES, PERIOD = 4, 0.002
LOAD_OHM = 1.8e9  # 1 nA at 1.8 V

# Resistive loads on the control pins: en0 draws current from its driver whenever it is high;
# enb0 is pulled up to vdd, so its driver only ever sinks current, which costs no supply power.
DUMMY = f"""\
.subckt dummy in0 out0 en0 enb0 vdd vss
Rin in0 vss 1e6
Rout out0 vss 1e9
Ren en0 vss {LOAD_OHM:g}
Renb enb0 vdd {LOAD_OHM:g}
.ends dummy
"""


@needs_ngspice
def test_control_power_is_the_charge_drivers_draw_from_the_supply(tmp_path):
    netlist = tmp_path / "dummy.spice"
    netlist.write_text(DUMMY)
    top = find_top(DUMMY)
    x = np.array([[1.0], [2.0], [0.0], [1.0]])
    timing = Timing(PERIOD, FRAMES)
    result = run_deck(deck_text(netlist, top, x, 1e-9, PERIOD, max_step_fraction=0.01))
    power = measure(result, top, timing, 1e-9, 1.0, x).power_nW
    # expected: supply x mean en0 current over the utterance window, from the stimulus alone
    grid = np.linspace(0.0, timing.stop_s, 200001)
    points = np.array(enable_points(timing, 0, 1, SUPPLY_V))
    volts = np.interp(grid, points[:, 0], points[:, 1])
    expected_nW = SUPPLY_V * np.trapezoid(volts / LOAD_OHM, grid) / (timing.stop_s - timing.start_s) * 1e9
    assert power["control"] == pytest.approx(expected_nW, rel=0.02)
    assert power["inputs"] == pytest.approx(SUPPLY_V * 1.0, rel=1e-9)  # mean of 1, 2, 0, 1 nA
    assert power["total"] == pytest.approx(power["vdd"])  # the chip's own supply only


def _result(stop_s: float, names=("v(st0_0)",)) -> SpiceResult:
    time = np.linspace(0.0, stop_s, 50)
    vectors = {"scale": time, **{name: np.zeros_like(time) for name in names}}
    return SpiceResult(vectors, 1.0, "")


def test_a_transient_short_of_its_stop_time_is_an_error():
    timing = Timing(PERIOD, FRAMES)
    check_complete(_result(timing.stop_s), timing)
    with pytest.raises(SpiceError, match="transient stopped at"):
        check_complete(_result(timing.stop_s * 0.6), timing)


def test_a_missing_vector_is_an_error_naming_it():
    with pytest.raises(SpiceError, match=r"no vector i\(vout0\)"):
        _result(1.0)["i(vout0)"]


def test_a_failed_utterance_is_named(monkeypatch, tmp_path):
    from generators.circuit.mapping import map_network
    from generators.circuit.schematic import schematic_text
    from sim import runner
    from tests.sim.test_presim import tiny_arrays
    from bmru.weights import validate

    spec = map_network(validate(tiny_arrays()))
    netlist = tmp_path / "schematic.spice"
    netlist.write_text(schematic_text(spec))
    calls = []

    def short_run(deck):  # every vector the deck writes; the second run stops half-way
        calls.append(deck)
        names = next(line for line in deck.splitlines() if line.startswith("wrdata")).split()[2:]
        stop = Timing(spec.frame_period_s, 3).stop_s * (1.0 if len(calls) == 1 else 0.5)
        return _result(stop, names)

    monkeypatch.setattr(runner, "run_deck", short_run)
    with pytest.raises(SpiceError, match="utterance 1: transient stopped"):
        runner.simulate(netlist, spec, np.zeros((2, 3, 2)), jobs=1)


def _tiny_job(tmp_path):
    from generators.circuit.mapping import load_mapped
    from generators.circuit.schematic import schematic_text
    from tests.sim.test_presim import write_tiny_job

    weights, inputs, out = write_tiny_job(tmp_path, labels=(0, 1))
    out.mkdir()
    schematic = out / "schematic.spice"
    schematic.write_text(schematic_text(load_mapped(weights, inputs)[2]))
    return weights, inputs, out, schematic


def test_postlayout_honours_max_step_and_names_what_it_simulated(monkeypatch, tmp_path):
    import json

    from sim import postlayout, runner
    from sim.runner import sha256_of

    weights, inputs, out, schematic = _tiny_job(tmp_path)
    decks = []

    def fake_run(deck):  # a complete, flat transient with every vector the deck asks for
        decks.append(deck)
        names = next(line for line in deck.splitlines() if line.startswith("wrdata")).split()[2:]
        stop = float(next(line for line in deck.splitlines() if line.startswith("tran")).split()[2])
        return _result(stop, names)

    monkeypatch.setattr(runner, "run_deck", fake_run)
    postlayout.main([str(weights), "--inputs", str(inputs), "-o", str(out), "--netlist", str(schematic),
                     "--max-step", "0.003", "--jobs", "1"])
    tran = next(line for line in decks[0].splitlines() if line.startswith("tran")).split()
    from tests.sim.test_presim import PERIOD as TINY_PERIOD

    assert float(tran[4]) == pytest.approx(0.003 * TINY_PERIOD)
    data = json.loads((out / "postlayout.json").read_text())
    assert data["netlist"] == "schematic"  # a schematic given with --netlist is labelled as one
    assert data["netlist_sha256"] == sha256_of(schematic) and data["netlist_file"] == str(schematic)
    assert data["labels_covered"] == {"0": 1, "1": 1}
    assert data["max_step_fraction"] == 0.003


def test_postlayout_refuses_an_extraction_of_another_layout(tmp_path, capsys):
    from extract.pex import provenance_line
    from sim import postlayout

    weights, inputs, out, schematic = _tiny_job(tmp_path)
    (out / "lvs.lvsdb").write_text("the current layout's LVS database\n")
    pex = out / "pex.spice"
    pex.write_text(provenance_line({"lvsdb_sha256": "0" * 64}) + "\n" + schematic.read_text())
    with pytest.raises(SystemExit) as exit_info:
        postlayout.main([str(weights), "--inputs", str(inputs), "-o", str(out)])
    assert exit_info.value.code != 0
    message = capsys.readouterr().err.strip()
    assert "pex.spice" in message and "lvs.lvsdb" in message and "\n" not in message
    assert not (out / "postlayout.json").exists()


@needs_ngspice
def test_a_failed_utterance_is_named_on_the_dask_cluster(tmp_path):
    """With two local workers the utterances run on Dask; a failing ngspice run still names
    its utterance (here every run fails: the netlist calls a model that does not exist)."""
    from bmru.weights import validate
    from generators.circuit.mapping import map_network
    from generators.circuit.schematic import schematic_text
    from sim import runner
    from tests.sim.test_presim import tiny_arrays

    spec = map_network(validate(tiny_arrays()))
    netlist = tmp_path / "schematic.spice"
    netlist.write_text(schematic_text(spec).replace(NFET, "no_such_model"))
    with pytest.raises(SpiceError, match=r"utterance \d+: "):
        runner.simulate(netlist, spec, np.ones((2, 3, 2)), jobs=2)


def test_postlayout_refuses_an_out_drawn_with_another_sizing(tmp_path, capsys):
    """OUT's spec.json records the sizing its layout was drawn with; simulating its extraction
    with other mapping options would compare the wrong circuit."""
    from generators.circuit.mapping import MappingConfig, Sizing, map_network, write_spec
    from bmru.weights import load_weights
    from sim import postlayout

    weights, inputs, out, schematic = _tiny_job(tmp_path)
    (out / "pex.spice").write_text(schematic.read_text())
    write_spec(out / "spec.json", map_network(load_weights(weights), MappingConfig(sizing=Sizing(2.0))))
    with pytest.raises(SystemExit) as exit_info:
        postlayout.main([str(weights), "--inputs", str(inputs), "-o", str(out)])
    assert exit_info.value.code != 0
    message = capsys.readouterr().err.strip()
    assert "spec.json" in message and "\n" not in message
    assert not (out / "postlayout.json").exists()
