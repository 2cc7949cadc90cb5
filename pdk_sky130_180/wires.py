"""Wires and via landings of the routing, derived from the rules in one place, in integer
database units (1 dbu = 1 nm).

The array's router (:mod:`generators.layout.route`) and the compact cells' router
(:mod:`generators.layout.cells.macro`) meet at the cells' top edge: an array stub continues a cell's
met2 spine, so both must space met2 columns by the same :data:`STUB_PITCH`. It lives here, once.
"""

from __future__ import annotations

from pdk_sky130_180 import rules as R

DBU_PER_UM = 1000


def dbu(value_um: float | R.Rule) -> int:
    """µm (or a rule's value) to integer dbu, snapped to the manufacturing grid."""
    return int(round(R.snap(float(value_um)) * DBU_PER_UM))


GRID = dbu(R.GRID)
# via1 landing pad on met1 and met2 (via.5a; m2.5 has the same value), via2 landing on met2 (via2.4a)
VIA1_PAD = dbu(R.VIA_SIZE.value + 2 * R.M1_VIA_ENC_DIR.value)
VIA2_PAD_M2 = dbu(R.VIA2_SIZE.value + 2 * R.M2_VIA2_ENC_DIR.value)
# a met2 stub or spine column ends in either landing; neighbours clear m2.2 with a grid step each side
STUB_PITCH = max(VIA1_PAD, VIA2_PAD_M2) + dbu(R.M2_SPACE.value) + 2 * GRID


def square(x: int, y: int, size: int) -> tuple[int, int, int, int]:
    """(left, bottom, right, top) of a ``size`` square centred on (x, y), a via or its pad; the
    odd dbu goes to the top right, so a pad and its via share one centre on the grid."""
    half = size // 2
    return x - half, y - half, x - half + size, y - half + size
