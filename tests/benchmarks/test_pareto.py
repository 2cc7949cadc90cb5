"""benchmarks/pareto.py: its design arguments and its table."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("pareto", REPO_ROOT / "benchmarks" / "pareto.py")
pareto = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pareto)


def test_a_drawn_design_names_its_sizing_and_a_bad_one_is_refused():
    recipe, weights, sizing = pareto.parse_drawn("mismatch-aware:w.npz:2:16:8:8")
    assert (recipe, weights) == ("mismatch-aware", "w.npz")
    assert (sizing.unit_um, sizing.bias_line_copies, sizing.cell_line_copies, sizing.cell_input_fingers) == (2.0, 16, 8, 8)
    for bad in ("standard:w.npz:2:16:8", "standard:w.npz:1.5:1:1:4", "standard:w.npz:2:0:1:4"):
        with pytest.raises(SystemExit, match="--drawn"):
            pareto.parse_drawn(bad)


def test_the_table_says_which_rows_are_drawn():
    accuracy = {"nominal": 0.93, "mean": 0.8, "p5": 0.5, "min": 0.4}
    drawn = {"recipe": "standard", "sizing": {"unit_um": 2.0, "bias_line_copies": 16, "cell_line_copies": 8,
                                              "cell_input_fingers": 8}, "area_mm2_drawn": 0.2032, "accuracy": accuracy}
    what_if = {"recipe": "standard", "unit_scale": 3.0, "shared_scale": 1.0, "shared_min_area_um2": 64.0,
               "area_mm2_estimate": 0.192, "accuracy": accuracy}
    rows = pareto.markdown([what_if, drawn]).splitlines()[2:]
    assert "(drawn)" not in rows[0] and "| 64 | 0.192 |" in rows[0]
    assert "| 2 x 2 (drawn) |" in rows[1] and "copies 16/8, cell mirror 8" in rows[1] and "0.203 (drawn)" in rows[1]
