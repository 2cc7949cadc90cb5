"""Reduced sky130 model includes against the full SkyWater library."""

from __future__ import annotations

import shutil

import pytest

from pdk_sky130_180 import models
from sim.ngspice import control_block, options_line, run_deck

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")

BENCH = """Vd d 0 0.9
Vg g 0 0.35
Xn d g 0 0 sky130_fd_pr__nfet_01v8 w=1 l=1 m=3
Vdd vdd 0 1.8
Vpd pd 0 0.9
Vpg pg 0 1.05
Xp pd pg vdd vdd sky130_fd_pr__pfet_01v8 w=1 l=1"""


def _currents(corner: str, full: bool) -> tuple[float, float, float]:
    deck = "\n".join(["* model check", models.include_line(corner, full=full), options_line(), BENCH,
                      control_block("op", ["i(vd)", "i(vpd)"]), ".end", ""])
    result = run_deck(deck)
    return float(result["i(vd)"][0]), float(result["i(vpd)"][0]), result.seconds


def test_reduced_include_is_cached_and_small():
    path = models.reduced_include("tt")
    assert path == models.reduced_include("tt")
    text = path.read_text()
    assert "sky130_fd_pr__nfet_01v8" in text and "sky130_fd_pr__pfet_01v8" in text
    assert "MC_MM_SWITCH*" not in text.upper().replace(" ", "")


def test_reduced_include_loads_fast():
    _, _, seconds = _currents("tt", full=False)
    assert seconds < 1.5


def test_bad_corner_is_named():
    with pytest.raises(models.ModelsError, match="corner"):
        models.reduced_include("xx")


def _compare(corner: str) -> None:
    reduced = _currents(corner, full=False)
    full = _currents(corner, full=True)
    for a, b in zip(reduced[:2], full[:2]):
        assert a == pytest.approx(b, rel=1e-6)


def test_reduced_matches_full_library_tt():
    _compare("tt")


@pytest.mark.slow
@pytest.mark.parametrize("corner", ["ff", "ss", "sf", "fs"])
def test_reduced_matches_full_library_other_corners(corner):
    _compare(corner)
