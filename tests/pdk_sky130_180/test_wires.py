"""The wire types both routers draw are derived from the rules: on the grid, wide enough, spaced
by the metal's spacing, and a shortest wire that meets the area rule."""

from __future__ import annotations

import pytest

from pdk_sky130_180 import rules as R
from pdk_sky130_180.wires import ARRAY_TRACK, CELL_TRACK, GRID, STUB, VIA1_PAD, VIA2_PAD_M2, dbu

RULES = {"met1": (R.M1_WIDTH, R.M1_SPACE, R.M1_AREA), "met2": (R.M2_WIDTH, R.M2_SPACE, R.M2_AREA),
         "met3": (R.M3_WIDTH, R.M3_SPACE, R.M3_AREA)}


@pytest.mark.parametrize("wire", [STUB, ARRAY_TRACK, CELL_TRACK], ids=lambda w: w.metal)
def test_wire_types_meet_their_metal_rules(wire):
    width, space, area = RULES[wire.metal]
    assert wire.width % GRID == 0 and wire.pitch % GRID == 0 and wire.min_length % GRID == 0
    assert wire.width >= dbu(width)
    assert wire.pitch - wire.width >= dbu(space)
    assert wire.width * wire.min_length >= float(area) * 1e6
    assert wire.width * (wire.min_length - GRID) < float(area) * 1e6  # and no longer than needed


def test_stub_pitch_clears_the_landings_either_end():
    assert STUB.pitch >= max(VIA1_PAD, VIA2_PAD_M2) + dbu(R.M2_SPACE)
