"""Wires and via landings of the routing, derived from the rules in one place, in integer
database units (1 dbu = 1 nm).

The array's router (:mod:`generators.layout.route`) and the compact cells' router
(:mod:`generators.layout.cells.macro`) meet at the cells' top edge: an array stub continues a cell's
met2 spine, so both must space met2 columns by the same :data:`STUB_PITCH`. It lives here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pdk_sky130_180 import rules as R

DBU_PER_UM = 1000


def dbu(value_um: float | R.Rule) -> int:
    """µm (or a rule's value) to integer dbu, snapped to the manufacturing grid."""
    return int(round(R.snap(float(value_um)) * DBU_PER_UM))


GRID = dbu(R.GRID)
# via1 landing pad on met1 and met2 (via.5a; m2.5 has the same value), via2 landing on met2 (via2.4a)
VIA1_PAD = dbu(R.VIA_SIZE.value + 2 * R.M1_VIA_ENC_DIR.value)
VIA2_PAD_M2 = dbu(R.VIA2_SIZE.value + 2 * R.M2_VIA2_ENC_DIR.value)
# a via2 landing on a vertical met2 wire (width, height): via2.5 along the wire, and across it
# no wider than a via1 pad, so it fits where one would (between a spine and a pad column) and
# its sides line up with a via1 pad on the same wire (no steps beside the cut)
VIA2_LANDING_M2 = (max(dbu(R.VIA2_SIZE.value + 2 * R.M2_VIA2_ENC.value), VIA1_PAD), VIA2_PAD_M2)
# a met2 stub or spine column ends in either landing; neighbours clear m2.2 with a grid step each side
STUB_PITCH = max(VIA1_PAD, VIA2_PAD_M2) + dbu(R.M2_SPACE.value) + 2 * GRID


def _snap_up(value: int) -> int:
    return -(-value // GRID) * GRID


@dataclass(frozen=True)
class Wire:
    """A named kind of routing wire: its metal, width, pitch to its neighbour, and the shortest
    length that still meets the metal's area rule (dbu)."""

    metal: str
    width: int
    pitch: int
    min_length: int


def _wire(metal: str, width: int, pitch: int, area_rule: R.Rule) -> Wire:
    area = int(round(float(area_rule) * DBU_PER_UM ** 2))  # µm² to dbu²
    return Wire(metal, width, pitch, _snap_up(-(-area // width)))


# met2 stubs (a pin up to its track) and spines (a net across channels), both routers (m2.1,
# wider than the minimum for low resistance)
STUB = _wire("met2", _snap_up(max(dbu(R.M2_WIDTH), 200)), STUB_PITCH, R.M2_AREA)
# the array's met3 tracks: via2 enclosed (via2.4), m3.2 between tracks with a grid step each side
_ARRAY_TRACK_WIDTH = _snap_up(dbu(R.VIA2_SIZE) + 2 * dbu(R.M3_VIA2_ENC))
ARRAY_TRACK = _wire("met3", _ARRAY_TRACK_WIDTH, _ARRAY_TRACK_WIDTH + dbu(R.M3_SPACE) + 2 * GRID, R.M3_AREA)
# the compact cells' met1 tracks: via1 enclosed on the long sides (via.4a); m1.2 between tracks,
# and m2.2 between the pads of a stub rising to one track and one coming down to the next
_CELL_TRACK_WIDTH = dbu(R.VIA_SIZE) + 2 * dbu(R.M1_VIA_ENC)
CELL_TRACK = _wire("met1", _CELL_TRACK_WIDTH, max(_CELL_TRACK_WIDTH + dbu(R.M1_SPACE), VIA1_PAD + dbu(R.M2_SPACE)),
                   R.M1_AREA)


def square(x: int, y: int, size: int) -> tuple[int, int, int, int]:
    """(left, bottom, right, top) of a ``size`` square centred on (x, y), a via or its pad; the
    odd dbu goes to the top right, so a pad and its via share one centre on the grid."""
    half = size // 2
    return x - half, y - half, x - half + size, y - half + size
