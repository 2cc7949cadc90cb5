"""The transistor row all our MOS cells are built from.

A row is a diffusion strip crossed by vertical poly gates that share one gate net:

```
   met1 source bar  ─────────────────────────────────────────────  (top)
   met2 drain tracks, one per drain net (vias on that net's drain strips)
   ┌────┐   ┌────┐   ┌────┐        S/D regions: licon column, li1 strip, mcons,
   │ S  │ g │ D  │ g │ S  │ ...     a met1 strip (source strips run up to the bar,
   └────┘   └────┘   └────┘        drain strips up to their met2 track)
   poly bar + poly licons + npc, li1 and the met1 gate bar
   tap strip (p+ tap for nfet, n+ tap in the n-well for pfet) with li1 and met1   (bottom)
```

The strip may be cut by diffusion breaks (``RowSpec.breaks``): the two regions either side of
a break become outer regions of their own diffusion islands, ``difftap.3`` apart, with no gate
between them. Everything else (poly bar, gate bar, source bar, tap, drain tracks) still runs
the whole row, so a broken row is electrically one row.

Every dimension is derived from :mod:`pdk_sky130_180.rules` (comments name the rule), in nm.
The geometry is the same for nfet and pfet except the implants and the n-well.
"""

from __future__ import annotations

from dataclasses import dataclass

import klayout.db as kdb

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.devices import POLARITIES

from ._draw import Draw, cut_row, down, nm, up

# --- derived dimensions (nm) ------------------------------------------------------------
LIC = nm(R.LICON_SIZE)                       # licon.1
LIC_SP = nm(R.LICON_SPACE)                   # licon.2
MC = nm(R.MCON_SIZE)                         # ct.1
MC_SP = nm(R.MCON_SPACE)                     # ct.2
VIA = nm(R.VIA_SIZE)                         # via.1a
LIC_GATE = nm(R.LICON_GATE_SPACE)            # licon.11
LIC_DIFF_DIR = nm(R.LICON_DIFF_ENC_DIR)      # licon.5c (>= licon.5a)
LI_LIC_DIR = nm(R.LI_LICON_ENC_DIR)          # li.5
M1_MC = nm(R.M1_MCON_ENC)                    # m1.4
M1_MC_DIR = nm(R.M1_MCON_ENC_DIR)            # m1.5
M1_VIA = nm(R.M1_VIA_ENC)                    # via.4a
M1_VIA_DIR = nm(R.M1_VIA_ENC_DIR)            # via.5a
M2_VIA = nm(R.M2_VIA_ENC)                    # m2.4
M2_VIA_DIR = nm(R.M2_VIA_ENC_DIR)            # m2.5
M1_SP = nm(R.M1_SPACE)                       # m1.2
M2_SP = nm(R.M2_SPACE)                       # m2.2
LI_SP = nm(R.LI_SPACE)                       # li.3
POLY_LIC = nm(R.LICON_POLY_ENC_DIR)          # licon.8a (>= licon.8)
NPC_LIC = nm(R.NPC_POLY_LICON_ENC)           # licon.15
TAP_LIC = nm(R.LICON_TAP_ENC_DIR)            # licon.7
IMPL = max(nm(R.NSDM_DIFF_ENC), nm(R.PSDM_DIFF_ENC), nm(R.NSDM_TAP_ENC), nm(R.PSDM_TAP_ENC))
NWELL_ENC = max(nm(R.PDIFF_NWELL_ENC), nm(R.NTAP_NWELL_ENC))  # difftap.8 / difftap.10
ENDCAP = nm(R.POLY_ENDCAP)                   # poly.8

M1_STRIP = VIA + 2 * M1_VIA                  # met1 strip over S/D: holds a via (via.4a)
M2_TRACK = VIA + 2 * M2_VIA                  # met2 drain track height (m2.4)
TRACK_PITCH = M2_TRACK + M2_SP
BREAK_GAP = nm(R.DIFF_SPACE)                 # difftap.3: diffusion break between two islands
END_SD = LIC_DIFF_DIR + LIC + LIC_GATE       # outer S/D length (>= poly.7)
MID_SD = LIC_GATE + LIC + LIC_GATE           # S/D length between two gates
assert END_SD >= nm(R.DIFF_POLY_EXT) and MID_SD >= nm(R.POLY_SPACE)
BAR = M1_STRIP                               # met1 bar height (source, gate)
M1_MIN_H = up(-(-int(round(float(R.M1_AREA) * 1e6)) // M1_STRIP))  # m1.6 on a strip

# gate contact stack below the diffusion (y < 0): poly licon top edge
GLIC_TOP = -max(nm(R.POLY_LICON_DIFF_SPACE),                       # licon.14
                nm(R.PSDM_DIFF_ENC) + nm(R.POLY_LICON_PSDM_SPACE),  # licon.9 (pfet)
                NPC_LIC + nm(R.NPC_GATE_SPACE),                     # licon.15 + npc.4
                ) - 5                                               # (keeps met1 apart, see below)
GLIC_BOT = GLIC_TOP - LIC
PBAR = (GLIC_BOT - POLY_LIC, GLIC_TOP + POLY_LIC)                  # poly bar, licon.8a
NPC_Y = (GLIC_BOT - NPC_LIC, GLIC_TOP + NPC_LIC)                    # licon.15
_gc = GLIC_BOT + LIC // 2                                           # gate contact centre line
GBAR = (_gc - BAR // 2, _gc + BAR // 2)                              # met1 gate bar (holds a via)
assert GBAR[1] + M1_SP <= 0, "gate bar must clear the S/D met1 strips (which start at y >= 0)"
# tap strip below the gate stack
TLIC_TOP = min(PBAR[0] - nm(R.POLY_TAP_SPACE) - TAP_LIC,            # poly.5
               NPC_Y[0] - nm(R.NPC_LICON_SPACE),                     # licon.13
               GLIC_BOT - LI_SP,                                     # li.3 (both li at licon height)
               GBAR[0] - M1_SP - M1_MC,                              # m1.2
               GLIC_BOT - nm(R.POLY_LICON_DIFF_SPACE) - TAP_LIC,     # licon.14 (tap)
               GLIC_BOT - nm(R.POLY_LICON_PSDM_SPACE) - IMPL - TAP_LIC)  # licon.9 (p+ tap implant)
TLIC_TOP = down(TLIC_TOP)
TLIC_BOT = TLIC_TOP - LIC
TAP_Y = (TLIC_BOT - TAP_LIC, TLIC_TOP + TAP_LIC)
TBAR = (TLIC_BOT - M1_MC, TLIC_TOP + M1_MC)                          # met1 tap strip
# the diode-connection met2 riser west of the diffusion
RISER_W = M2_TRACK
RISER_X1 = -(M2_SP + 2 * 30)       # east edge of the riser (clear of region 0's met1 strip)
RISER_X0 = RISER_X1 - RISER_W
WEST = RISER_X0 + M2_VIA - M1_VIA_DIR  # west end of the met1 bars (gate bar encloses the riser via)


@dataclass(frozen=True)
class RowSpec:
    """What to draw.

    ``regions`` are the nets of the S/D regions left to right; between two neighbours there is
    a gate, or a diffusion break where ``breaks`` lists the gap (gap k lies between region k
    and k+1). ``source`` is the net that goes to the top met1 bar; every other net is a drain
    with its own met2 track (``drains`` orders the tracks bottom to top, ``drain_pitch`` apart;
    None: the closest the rules allow). ``diode`` names a drain net tied to the gate (the
    mirror reference). Widths in nm.
    """

    polarity: str
    w: int
    l: int
    regions: tuple[str, ...]
    source: str
    drains: tuple[str, ...]
    tap: bool = True
    diode: str | None = None
    breaks: tuple[int, ...] = ()
    drain_pitch: int | None = None


@dataclass
class RowPins:
    """met1/met2 boxes (nm) the caller turns into ports."""

    gate: kdb.Box
    source: kdb.Box
    drains: dict[str, kdb.Box]
    body: kdb.Box | None
    east: int
    west: int


def validate(spec: RowSpec) -> None:
    if spec.polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {spec.polarity!r}")
    if spec.w < nm(R.GATE_WIDTH):
        raise ValueError(f"finger width {spec.w / 1000} µm < {R.GATE_WIDTH.value} µm (difftap.2)")
    if spec.l < nm(R.POLY_WIDTH):
        raise ValueError(f"gate length {spec.l / 1000} µm < {R.POLY_WIDTH.value} µm (poly.1a)")
    if spec.w % 5 or spec.l % 5:
        raise ValueError("finger width and length must be multiples of 0.005 µm")
    if len(spec.regions) < 2:
        raise ValueError("a row needs at least one gate")
    nets = set(spec.regions)
    if spec.source not in nets:
        raise ValueError("no source region")
    if set(spec.drains) != nets - {spec.source}:
        raise ValueError(f"drain tracks {spec.drains} do not match the drain nets {sorted(nets - {spec.source})}")
    if spec.diode is not None and spec.diode not in spec.drains:
        raise ValueError(f"diode net {spec.diode!r} is not a drain")
    gaps = len(spec.regions) - 1
    for k in spec.breaks:
        # every island needs a gate: no break at either end of the row, no two breaks side by side
        if not 0 < k < gaps - 1 or k - 1 in spec.breaks or k + 1 in spec.breaks:
            raise ValueError(f"diffusion break at gap {k} leaves a region without a gate")
    if spec.drain_pitch is not None and (spec.drain_pitch < TRACK_PITCH or spec.drain_pitch % 5):
        raise ValueError(f"drain track pitch {spec.drain_pitch} nm below {TRACK_PITCH} nm or off grid")


def draw_row(d: Draw, spec: RowSpec) -> RowPins:
    """Draw the row with its diffusion's lower left corner at (0, 0)."""
    validate(spec)
    W, Lg = spec.w, spec.l
    gaps = len(spec.regions) - 1
    breaks = set(spec.breaks)

    # --- x plan: regions, gates and diffusion islands ------------------------------------------
    # an outer region (row end or next to a break) is END_SD long with its licon
    # LIC_DIFF_DIR from the diffusion edge; an inner one MID_SD with licons LIC_GATE from gates
    lic_x: list[int] = []
    gates: list[tuple[int, int]] = []
    islands: list[tuple[int, int]] = []
    x = island_x0 = 0
    for i in range(len(spec.regions)):
        left_end = i == 0 or i - 1 in breaks
        right_end = i == gaps or i in breaks
        lic_x.append(x + (LIC_DIFF_DIR if left_end else LIC_GATE))
        x += END_SD if left_end or right_end else MID_SD
        if i == gaps:
            break
        if i in breaks:
            islands.append((island_x0, x))
            x += BREAK_GAP
            island_x0 = x
        else:
            gates.append((x, x + Lg))
            x += Lg
    islands.append((island_x0, x))
    diff_x1 = x
    east = up(diff_x1 + M1_SP + 2 * 30)
    west = WEST

    # --- y plan of a S/D region -------------------------------------------------------------
    lic_ys = cut_row(LIC_DIFF_DIR, W - LIC_DIFF_DIR, LIC, LIC_SP)
    lic_y0, lic_y1 = lic_ys[0], lic_ys[-1] + LIC
    mc_ys = cut_row(lic_y0, lic_y1, MC, MC_SP)
    mc_y0, mc_y1 = mc_ys[0], mc_ys[-1] + MC
    strip_y0 = mc_y0 - M1_MC_DIR
    via_c0 = strip_y0 + M1_VIA_DIR + VIA // 2               # lowest via centre on a strip
    pitch = spec.drain_pitch or TRACK_PITCH
    track_c = {net: via_c0 + j * pitch for j, net in enumerate(spec.drains)}
    drain_top = {net: max(mc_y1 + M1_MC_DIR, c + VIA // 2 + M1_VIA_DIR, strip_y0 + M1_MIN_H)
                 for net, c in track_c.items()}
    sbar_y0 = max(drain_top.values()) + M1_SP
    sbar = (sbar_y0, sbar_y0 + BAR)

    # --- diffusion, implants, well --------------------------------------------------------------
    for ix0, ix1 in islands:
        d.rect(L.DIFF, ix0, 0, ix1, W)
    sd_impl, tap_impl = (L.NSDM, L.PSDM) if spec.polarity == "n" else (L.PSDM, L.NSDM)
    d.rect(sd_impl, -IMPL, -IMPL, diff_x1 + IMPL, W + IMPL)

    # --- gates ----------------------------------------------------------------------------------
    glic_x0 = gates[0][0]
    glic_x1 = gates[-1][1]
    if glic_x1 - glic_x0 < LIC + 2 * POLY_LIC:              # widen the bar to hold a licon
        extra = up((LIC + 2 * POLY_LIC - (glic_x1 - glic_x0) + 1) // 2)
        glic_x0 -= extra
        glic_x1 += extra
    for gx0, gx1 in gates:
        d.rect(L.POLY, gx0, PBAR[0], gx1, W + ENDCAP)
    d.rect(L.POLY, glic_x0, PBAR[0], glic_x1, PBAR[1])
    plics = cut_row(glic_x0 + POLY_LIC, glic_x1 - POLY_LIC, LIC, LIC_SP)
    for px in plics:
        d.rect(L.LICON1, px, GLIC_BOT, px + LIC, GLIC_TOP)
    d.rect(L.NPC, plics[0] - NPC_LIC, NPC_Y[0], plics[-1] + LIC + NPC_LIC, NPC_Y[1])
    gli = (plics[0] - LI_LIC_DIR, plics[-1] + LIC + LI_LIC_DIR)
    d.rect(L.LI1, gli[0], GLIC_BOT, gli[1], GLIC_TOP)
    for mx in cut_row(gli[0], gli[1], MC, MC_SP):
        d.rect(L.MCON, mx, GLIC_BOT, mx + MC, GLIC_TOP)
    gate_bar = d.rect(L.MET1, west, GBAR[0], east, GBAR[1])

    # --- S/D contacts and met1 strips -------------------------------------------------------------
    drain_xs: dict[str, list[int]] = {net: [] for net in spec.drains}
    for i, net in enumerate(spec.regions):
        lx = lic_x[i]
        for ly in lic_ys:
            d.rect(L.LICON1, lx, ly, lx + LIC, ly + LIC)
        d.rect(L.LI1, lx, lic_y0 - LI_LIC_DIR, lx + LIC, lic_y1 + LI_LIC_DIR)
        for my in mc_ys:
            d.rect(L.MCON, lx, my, lx + MC, my + MC)
        cx = lx + LIC // 2
        sx0, sx1 = cx - M1_STRIP // 2, cx + M1_STRIP // 2
        if net == spec.source:
            d.rect(L.MET1, sx0, strip_y0, sx1, sbar[1])
        else:
            d.rect(L.MET1, sx0, strip_y0, sx1, drain_top[net])
            vy = track_c[net] - VIA // 2
            d.rect(L.VIA, cx - VIA // 2, vy, cx + VIA // 2, vy + VIA)
            drain_xs[net].append(cx)
    source_bar = d.rect(L.MET1, west, sbar[0], east, sbar[1])

    # --- met2 drain tracks ------------------------------------------------------------------------
    drains: dict[str, kdb.Box] = {}
    for net, c in track_c.items():
        x0 = min(drain_xs[net]) - VIA // 2 - M2_VIA_DIR
        if net == spec.diode:
            x0 = RISER_X0
        drains[net] = d.rect(L.MET2, x0, c - M2_TRACK // 2, east, c + M2_TRACK // 2)
    if spec.diode is not None:
        c = track_c[spec.diode]
        gvia_y = _gc - VIA // 2
        d.rect(L.MET2, RISER_X0, gvia_y - M2_VIA_DIR, RISER_X1, c + M2_TRACK // 2)
        vx = RISER_X0 + M2_VIA
        d.rect(L.VIA, vx, gvia_y, vx + VIA, gvia_y + VIA)

    # --- body tap --------------------------------------------------------------------------------
    body = None
    if spec.tap:
        tx0, tx1 = west, east
        d.rect(L.TAP, tx0, TAP_Y[0], tx1, TAP_Y[1])
        d.rect(tap_impl, tx0 - IMPL, TAP_Y[0] - IMPL, tx1 + IMPL, TAP_Y[1] + IMPL)
        tlics = cut_row(tx0 + TAP_LIC, tx1 - TAP_LIC, LIC, LIC_SP)
        for tx in tlics:
            d.rect(L.LICON1, tx, TLIC_BOT, tx + LIC, TLIC_TOP)
        tli = (tlics[0] - LI_LIC_DIR, tlics[-1] + LIC + LI_LIC_DIR)
        d.rect(L.LI1, tli[0], TLIC_BOT, tli[1], TLIC_TOP)
        for mx in cut_row(max(tli[0], tx0 + M1_MC_DIR), min(tli[1], tx1 - M1_MC_DIR), MC, MC_SP):
            d.rect(L.MCON, mx, TLIC_BOT, mx + MC, TLIC_TOP)
        body = d.rect(L.MET1, west, TBAR[0], east, TBAR[1])

    if spec.polarity == "p":
        nw_x0 = min(0, west if spec.tap else 0) - NWELL_ENC
        nw_x1 = max(diff_x1, east if spec.tap else 0) + NWELL_ENC
        nw_y0 = (TAP_Y[0] if spec.tap else 0) - NWELL_ENC
        d.rect(L.NWELL, nw_x0, nw_y0, nw_x1, W + NWELL_ENC)
    return RowPins(gate=gate_bar, source=source_bar, drains=drains, body=body, east=east, west=west)


def pin_box(bar: kdb.Box, side: str, length: int = M1_STRIP) -> kdb.Box:
    """A square-ish pin area at the ``side`` end ("w" or "e") of a horizontal bar."""
    if side == "w":
        return kdb.Box(bar.left, bar.bottom, bar.left + length, bar.top)
    return kdb.Box(bar.right - length, bar.bottom, bar.right, bar.top)
