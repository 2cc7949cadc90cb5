"""Substrate and well ties: a straight tap strip and a closed guard ring.

``polarity="p"``: p+ tap (substrate tie, for nfets); ``"n"``: n+ tap in an n-well (well tie,
for pfets). Each has li1 and met1 over a row of licons/mcons and one port ``tie`` (met1, west).
"""

from __future__ import annotations

import gdsfactory as gf
import klayout.db as kdb

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.devices import POLARITIES

from ._draw import Draw, cut_row, nm, up
from .row import IMPL, LIC, LIC_SP, LI_LIC_DIR, M1_MC, M1_MC_DIR, MC, MC_SP, NWELL_ENC, TAP_LIC

__all__ = ["tap_strip", "guard_ring"]

TAP_W = LIC + 2 * TAP_LIC          # licon.7 on both sides
M1_W = MC + 2 * M1_MC              # m1.4


def _check(polarity: str, *lengths: float) -> None:
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    for v in lengths:
        if v <= 0 or abs(nm(v) - v * 1000) > 1e-6 or nm(v) % 5:
            raise ValueError(f"length {v} must be positive and on the 0.005 µm grid")


def _side(d: Draw, horizontal: bool, a0: int, a1: int, b0: int, skip: int = 0,
          avoid: tuple[int, ...] = ()) -> None:
    """Licons, li1 and mcons of one tap side. ``a`` runs along the side, ``b0`` is the licon's
    lower edge across it; ``skip`` keeps the cuts away from both ends."""
    def box(layer, p0, p1, q0, q1):
        if horizontal:
            d.rect(layer, p0, q0, p1, q1)
        else:
            d.rect(layer, q0, p0, q1, p1)

    lics = cut_row(a0 + max(TAP_LIC, skip), a1 - max(TAP_LIC, skip), LIC, LIC_SP)
    if not lics:  # a short side of a ring: its neighbours contact it
        return
    for a in lics:
        box(L.LICON1, a, a + LIC, b0, b0 + LIC)
    li0, li1 = lics[0] - LI_LIC_DIR, lics[-1] + LIC + LI_LIC_DIR
    box(L.LI1, li0, li1, b0, b0 + LIC)
    for a in cut_row(max(li0, a0 + M1_MC_DIR), min(li1, a1 - M1_MC_DIR), MC, MC_SP):
        # keep mcons clear of the inner corners of a ring's met1 (m1.5, measured euclidian)
        if any(a < e + M1_MC_DIR and a + MC > e - M1_MC_DIR for e in avoid):
            continue
        box(L.MCON, a, a + MC, b0, b0 + MC)


@gf.cell
def tap_strip(polarity: str = "p", length: float = 2.0) -> gf.Component:
    """A horizontal tap strip ``length`` µm long (TAP_W high) with its contacts."""
    _check(polarity, length)
    n = nm(length)
    if n < TAP_W:
        raise ValueError(f"tap strip length {length} µm < {TAP_W / 1000} µm")
    c = gf.Component()
    d = Draw(c)
    d.rect(L.TAP, 0, 0, n, TAP_W)
    impl = L.PSDM if polarity == "p" else L.NSDM
    d.rect(impl, -IMPL, -IMPL, n + IMPL, TAP_W + IMPL)
    _side(d, True, 0, n, TAP_LIC)
    m1 = d.rect(L.MET1, 0, TAP_LIC - M1_MC, n, TAP_LIC + LIC + M1_MC)
    if polarity == "n":
        ex = max(NWELL_ENC, up((nm(R.NWELL_WIDTH) - n + 1) // 2))      # nwell.1
        ey = max(NWELL_ENC, up((nm(R.NWELL_WIDTH) - TAP_W + 1) // 2))
        d.rect(L.NWELL, -ex, -ey, n + ex, TAP_W + ey)
    d.pin("tie", "met1", kdb.Box(m1.left, m1.bottom, m1.left + min(m1.width(), M1_W + 30), m1.top), "w")
    d.boundary()
    return c


@gf.cell
def guard_ring(polarity: str = "p", inner_width: float = 4.0, inner_height: float = 4.0) -> gf.Component:
    """A closed tap ring around an ``inner_width`` x ``inner_height`` µm clear area (origin at
    the inner lower-left corner)."""
    _check(polarity, inner_width, inner_height)
    iw, ih = nm(inner_width), nm(inner_height)
    min_inner = max(nm(R.PSDM_SPACE), nm(R.NSDM_SPACE)) + 2 * IMPL
    if iw < min_inner or ih < min_inner:
        raise ValueError(f"guard ring inner size must be at least {min_inner / 1000} µm")
    c = gf.Component()
    d = Draw(c)
    x0, y0, x1, y1 = -TAP_W, -TAP_W, iw + TAP_W, ih + TAP_W
    impl = L.PSDM if polarity == "p" else L.NSDM
    # tap, implant and met1 as four overlapping bars (merged into one ring)
    for lay, grow in ((L.TAP, 0), (impl, IMPL)):
        d.rect(lay, x0 - grow, y0 - grow, x1 + grow, -grow if grow == 0 else IMPL)
        d.rect(lay, x0 - grow, ih - (IMPL if grow else 0), x1 + grow, y1 + grow)
        d.rect(lay, x0 - grow, y0 - grow, (IMPL if grow else 0), y1 + grow)
        d.rect(lay, iw - (IMPL if grow else 0), y0 - grow, x1 + grow, y1 + grow)
    # contacts: bottom and top rows run the full length, left and right rows stop short of them
    corner = TAP_W + LI_LIC_DIR + LI_SP_MIN
    m = (TAP_LIC - M1_MC)
    hole_x = (x0 + m + M1_W, iw + m)
    hole_y = (y0 + m + M1_W, ih + m)
    _side(d, True, x0, x1, y0 + TAP_LIC, avoid=hole_x)
    _side(d, True, x0, x1, ih + TAP_LIC, avoid=hole_x)
    _side(d, False, y0, y1, x0 + TAP_LIC, skip=corner, avoid=hole_y)
    _side(d, False, y0, y1, iw + TAP_LIC, skip=corner, avoid=hole_y)
    d.rect(L.MET1, x0, y0 + m, x1, y0 + m + M1_W)
    d.rect(L.MET1, x0, ih + m, x1, ih + m + M1_W)
    d.rect(L.MET1, x0 + m, y0, x0 + m + M1_W, y1)
    d.rect(L.MET1, iw + m, y0, iw + m + M1_W, y1)
    if polarity == "n":
        d.rect(L.NWELL, x0 - NWELL_ENC, y0 - NWELL_ENC, x1 + NWELL_ENC, y1 + NWELL_ENC)
    pin_y = up(ih // 2)
    d.pin("tie", "met1", kdb.Box(x0 + m, pin_y - M1_W // 2 - 5, x0 + m + M1_W, pin_y + M1_W // 2 + 5), "w")
    d.boundary()
    return c


LI_SP_MIN = nm(R.LI_SPACE)
