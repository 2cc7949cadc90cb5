"""Each block in ngspice against its specification (typical corner, 27 °C)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from generators import spice_cells as sc
from sim import characterise as ch

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
SIGMA = 0.5


@pytest.mark.parametrize("beta1,delta,alpha", [(6, 10, 20), (2, 11, 29), (20, 20, 40)])
def test_cell_thresholds_and_output(beta1, delta, alpha):
    """Set at beta2, reset at beta1, each at most 0.45 of a 0.05-unit step below nominal and never
    above (so exact ties go the software's way), output alpha within 2 %."""
    cell = ch.cell_dc(SIGMA, beta1, delta, alpha)
    assert -0.45 < cell["up_error_steps"] < 0
    assert -0.45 < cell["down_error_steps"] < 0
    assert cell["output_high_steps"] == pytest.approx(alpha, rel=0.02)
    assert abs(cell["output_low_A"]) < 1e-12  # leakage floor: < 1 pA when off
    assert abs(cell["output_slope_on"]) < 0.01  # output barely moves with the input when set


def test_mirror_weights_are_linear_in_fingers():
    result = ch.weight_linearity(SIGMA)
    assert np.allclose(result["pmos_out_per_ideal"], 1.0, atol=0.01)
    assert np.allclose(result["nmos_out_per_ideal"], 1.0, atol=0.01)


def test_mirror_error_over_range():
    sweep = ch.mirror_sweep(SIGMA, out_voltages=(0.5,))["sweeps"][0]
    current = np.array(sweep["input_A"])
    used = (current >= 1e-10) & (current <= 4e-9)
    assert np.max(np.abs(np.array(sweep["pmos_rel_error"])[used])) < 0.01
    assert np.max(np.abs(np.array(sweep["nmos_rel_error"])[used])) < 0.01


def test_cell_switches_within_a_frame():
    assert ch.cell_switch_time(SIGMA, 6, 10, 20, 0.5, setting=True) < 3.0
    assert ch.cell_switch_time(SIGMA, 6, 10, 20, 0.5, setting=False) < 5.0


def test_cell_has_one_device_per_parameter():
    cell = sc.CellSpec(0, 3, 7, 5, 11, 1)
    text = sc.cell_block(cell)
    assert "Xbeta2 x pc vdd vdd sky130_fd_pr__pfet_01v8 w=1 l=1 m=12" in text
    assert "Xdelta xd nc vss vss sky130_fd_pr__nfet_01v8 w=1 l=1 m=5" in text
    assert "Xalpha ha pc vdd vdd sky130_fd_pr__pfet_01v8 w=1 l=1 m=11" in text
    assert "Xreset x rst vss vss" in text  # s0 = 1 presets by pulling x low
    assert "Xreset st rst vss vss" in sc.cell_block(sc.CellSpec(0, 3, 7, 5, 11, 0))
