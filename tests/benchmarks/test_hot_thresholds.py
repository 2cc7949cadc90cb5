"""benchmarks/hot_thresholds.py: the cascoded cell variant is the one simulated, and it is a
working cell (thresholds and output where the drawn cell has them, at tt, 27 °C)."""
import shutil

import pytest

from benchmarks.hot_thresholds import cascoded_cell_block
from generators.circuit import spice_cells as sc
from generators.circuit.mapping import CellSpec, Sizing
from sim import characterise as ch

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")


def test_each_pc_source_gets_a_cascode_of_its_fingers():
    text = cascoded_cell_block(CellSpec(0, 0, 20, 20, 40, 0), Sizing())
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("X")}
    assert lines["Xbeta2"][1] == "beta2_d" and lines["Xbeta2c"][1:4] == ["x", "pq", "beta2_d"]
    assert lines["Xalpha"][1] == "alpha_d" and lines["Xalphac"][1:4] == ["ha", "pq", "alpha_d"]
    assert "m=40" in lines["Xbeta2c"] and "m=40" in lines["Xalphac"]
    assert set(lines) == {line.split()[0] for line in sc.cell_block(CellSpec(0, 0, 20, 20, 40, 0)).splitlines()
                          if line.startswith("X")} | {"Xbeta2c", "Xalphac", "XQpc", "XKq", "XCq", "XQb"}


def test_the_sweep_simulates_the_variant():
    bench = ch.Bench(0.5, Sizing())
    drawn = ch.cell_dc(bench, 20, 20, 40)
    cascoded = ch.cell_dc(bench, 20, 20, 40, block=cascoded_cell_block)
    assert abs(cascoded["up_error_steps"]) < 0.5 and abs(cascoded["down_error_steps"]) < 0.5
    assert cascoded["output_high_steps"] == pytest.approx(40, rel=0.01)
    # untrimmed line diode: the set threshold moves by more than a tenth of a step
    assert abs(cascoded["up_error_steps"] - drawn["up_error_steps"]) > 0.1
