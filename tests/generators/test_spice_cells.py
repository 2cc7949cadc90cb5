"""Each block in ngspice against its specification (typical corner, 27 °C)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from generators.circuit import spice_cells as sc
from generators.circuit.mapping import Sizing
from generators.circuit.unit_devices import DEVICE_SETS
from sim import characterise as ch

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
SIGMA = 0.5
# every characterised unit size meets the same specification
UNIT_SIZES = pytest.mark.parametrize("sizing", [Sizing(size) for size in DEVICE_SETS], ids=lambda s: f"{s.unit_um:g}um")


def enable_sources(points) -> list[str]:
    """The cell's enable ``en`` as a PWL of (s, V) ``points`` and its complement ``enb``."""
    return ["Ven en 0 PWL(" + " ".join(f"{t:g} {v:g}" for t, v in points) + ")",
            "Venb enb 0 PWL(" + " ".join(f"{t:g} {1.8 - v:g}" for t, v in points) + ")"]


@UNIT_SIZES
@pytest.mark.parametrize("beta1,delta,alpha", [(6, 10, 20), (2, 11, 29), (20, 20, 40), (40, 20, 40)])
def test_cell_thresholds_and_output(beta1, delta, alpha, sizing):
    """Set at beta2, reset at beta1, each at most 0.45 of a 0.05-unit step below nominal and never
    above (so exact ties go the software's way), output alpha within 2 %."""
    cell = ch.cell_dc(ch.Bench(SIGMA, sizing), beta1, delta, alpha)
    assert -0.45 < cell["up_error_steps"] < 0
    assert -0.45 < cell["down_error_steps"] < 0
    assert cell["output_high_steps"] == pytest.approx(alpha, rel=0.02)
    assert abs(cell["output_low_A"]) < 1e-12  # leakage floor: < 1 pA when off
    assert abs(cell["output_slope_on"]) < 0.01  # output barely moves with the input when set


@UNIT_SIZES
def test_mirror_weights_are_linear_in_fingers(sizing):
    result = ch.weight_linearity(ch.Bench(SIGMA, sizing))
    assert np.allclose(result["pmos_out_per_ideal"], 1.0, atol=0.01)
    assert np.allclose(result["nmos_out_per_ideal"], 1.0, atol=0.01)


@UNIT_SIZES
def test_mirror_error_over_range(sizing):
    sweep = ch.mirror_sweep(ch.Bench(SIGMA, sizing), out_voltages=(0.5,))["sweeps"][0]
    current = np.array(sweep["input_A"])
    used = (current >= 1e-10) & (current <= 4e-9)
    assert np.max(np.abs(np.array(sweep["pmos_rel_error"])[used])) < 0.01
    assert np.max(np.abs(np.array(sweep["nmos_rel_error"])[used])) < 0.01


@UNIT_SIZES
def test_cell_switches_within_a_frame(sizing):
    assert ch.cell_switch_time(ch.Bench(SIGMA, sizing), 6, 10, 20, 0.5, setting=True) < 3.0
    assert ch.cell_switch_time(ch.Bench(SIGMA, sizing), 6, 10, 20, 0.5, setting=False) < 5.0


def test_cell_holds_its_state_while_disabled():
    """With the layer's enable low the state ignores the candidate (set and reset alike), and
    follows it within a few ms of the enable rising."""
    cell = sc.CellSpec(0, 0, 6, 10, 20, 0)
    step_A = 0.05 * SIGMA * 1e-9
    high, low = 24 * step_A, 2 * step_A  # above beta2 = 16 steps, below beta1 = 6 steps
    bench = ch.Bench(SIGMA)
    body = ch.cell_bench(bench, cell, enable="en")
    body[-1] = (f"Iin 0 c PWL(0 {low:.6g} 0.01 {low:.6g} 0.01001 {high:.6g} 0.03 {high:.6g} "
                f"0.03001 {low:.6g} 0.05 {low:.6g})")
    enable = [(0, 1.8), (0.005, 1.8), (0.0051, 0), (0.02, 0), (0.0201, 1.8), (0.025, 1.8), (0.0251, 0), (0.04, 0),
              (0.0401, 1.8)]
    body += enable_sources(enable)
    result = ch.run_deck(bench.deck(body, "tran 1e-5 0.05 0 5e-5", ["v(st)"]))
    t, st = result["scale"], result["v(st)"]

    def state_at(ms):
        return st[np.argmin(abs(t - ms * 1e-3))] > 0.9

    assert not state_at(9) and not state_at(19)  # input above beta2 from 10 ms, but disabled
    assert state_at(24)  # enabled at 20 ms: set
    assert state_at(39)  # input below beta1 from 30 ms, disabled since 25 ms: still set
    assert not state_at(48)  # enabled at 40 ms: reset


def test_cell_has_one_device_per_parameter():
    cell = sc.CellSpec(0, 3, 7, 5, 11, 1)
    text = sc.cell_block(cell)
    assert "Xbeta2 x pc vdd vdd sky130_fd_pr__pfet_01v8 w=1 l=1 m=12" in text
    assert "Xdelta xd nc vss vss sky130_fd_pr__nfet_01v8 w=1 l=1 m=5" in text
    assert "Xalpha ha pc vdd vdd sky130_fd_pr__pfet_01v8 w=1 l=1 m=11" in text
    assert "Xreset x rst vss vss" in text  # s0 = 1 presets by pulling x low
    assert "Xreset st rst vss vss" in sc.cell_block(sc.CellSpec(0, 3, 7, 5, 11, 0))


@pytest.mark.parametrize("s0", [0, 1])
def test_state_keeper_holds_a_set_cell_while_disabled_when_hot(s0):
    """At 85 °C a set cell whose candidate sits between its thresholds keeps its 1 through a
    5 ms disabled phase with the keeper (and is written normally when enabled); without it the
    state node's charge leaks away within the phase and the cell comes back reset."""
    cell = sc.CellSpec(0, 0, 6, 10, 20, s0)
    step_A = 0.05 * SIGMA * 1e-9
    high, band = 24 * step_A, 10 * step_A  # above beta2 = 16 steps, then between beta1 and beta2
    enable = [(0, 1.8), (0.005, 1.8), (0.0052, 0), (0.01, 0), (0.0102, 1.8)]

    def state_trace(sizing):
        bench = ch.Bench(SIGMA, sizing, temperature_C=85.0)
        body = ch.cell_bench(bench, cell, enable="en")
        body[-1] = (f"Iin 0 c PWL(0 0 0.001 0 0.00101 {high:.6g} 0.004 {high:.6g} 0.00401 {band:.6g} "
                    f"0.012 {band:.6g} 0.01201 0 0.016 0)")
        body += enable_sources(enable)
        result = ch.run_deck(bench.deck(body, "tran 1e-5 0.016 0 5e-5", ["v(st)"]))
        return lambda ms: result["v(st)"][np.argmin(abs(result["scale"] - ms * 1e-3))]

    kept = state_trace(Sizing(state_keeper=True))
    assert kept(4.9) > 1.7 and kept(9.9) > 1.7 and kept(11.9) > 1.7  # set, held disabled, held enabled
    assert kept(15.9) < 0.1  # candidate gone while enabled: reset
    leaky = state_trace(Sizing())
    assert leaky(4.9) > 1.7 and leaky(9.9) < 0.9 and leaky(11.9) < 0.1
