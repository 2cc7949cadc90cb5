"""A projection (one weight matrix and its bias) as a current-mode crossbar.

```
 top edge: one met2 port per line (lanes)                 one met2 port per summing node
 ┌──────────┬───────────────────────────────────────────────────────────────┐
 │ west     │ channel: met3 tracks of band 1 (its gate lines, vss, vdd)     │
 │ lanes    │ band 1:  [tile] |  [tile] |   ·     |  [tile] |               │
 │ (met2,   │ channel: met3 tracks of band 0                                │
 │  one per │ band 0:  [tile] |   ·     |  [tile] |  [tile] |               │
 │  line)   │          col 0    col 1     col 2     col 3    (| = summing    │
 └──────────┴──────────────────────────────────────────── lane, met2, down) ┘
```

- A *band* is one signal (or the bias lines): its gate lines run across the array as met3
  tracks in the channel above it. A *column* is one summing node: its met2 lane runs down the
  column's east side. The weight of signal j on node i sits at their crossing as a *tile*.
- A tile is one mirror output, drawn by the compact-cell router
  (:mod:`generators.layout.cells.macro`): a negative weight of k fingers is a cascoded NMOS
  sink (bottom k fingers, gate ``ga``; cascode k fingers, gate ``gt``), a positive one a PMOS
  source of k fingers (gate ``gp``). Every tile of a kind and size is the same cell, so every
  mirror output has the same orientation and surroundings: its matched fingers sit between a
  dummy finger at each end (:func:`generators.layout.cells.group.matched_row`). The tile's
  ports end on its top edge; the drain is the east-most, so a straight met2 jog joins it to
  its column's lane without crossing another port's stub.
- Each band's track reaches west to its line's lane; lanes and summing lanes end as met2
  ports on the top edge, where the array's router continues them (same stub pitch).

Correct by construction as far as the geometry goes: tracks of a channel at distinct y, lanes
at distinct x, tiles inside their slots, so two nets cross only on different metals. LVS of
the whole array checks it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import gdsfactory as gf
import klayout.db as kdb

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.devices import fet
from pdk_sky130_180.wires import ARRAY_TRACK, STUB, STUB_PITCH, VIA1_PAD, VIA2_LANDING_M2, VIA2_PAD_M2, dbu, square

from ._draw import Draw, up
from .group import drain_port, matched_row
from .macro import Block, macro_component, plan_macro
from .transistor import mosfet

__all__ = ["Band", "CrossbarSpec", "Receiver", "projection_crossbar", "weight_tile", "receiver_tile", "crossbar",
           "crossbar_spice"]

# between neighbouring tiles (their bounding boxes hold their wells and implants): two n-wells
# (nwell.2a) or an n-well and n+ diffusion (difftap.9)
TILE_GAP = up(max(dbu(R.NWELL_SPACE), dbu(R.NDIFF_NWELL_SPACE)))
# the first track's via2 landing clears the port pads on the top edge (m2.2; on one spine the
# gap would be a notch)
FIRST_TRACK_DEPTH = up(VIA1_PAD + dbu(R.M2_SPACE) + VIA2_PAD_M2 // 2 + 1)
NMOS_TILE_PORTS = ("vss", "ga", "gt", "d")  # west to east: the drain last (east-most)
PMOS_TILE_PORTS = ("vdd", "gp", "d")


@dataclass(frozen=True)
class Receiver:
    """A signal's receiver (``generators.circuit.spice_cells.receiver_block``): the ReLU diode
    stack (top ``T`` on the cascode line, bottom ``D`` on the NMOS gate line, ``diode_fingers``
    each) and, with ``converter_fingers`` > 0, the cascoded copy into the PMOS diode ``P``
    (one finger ``pmos_diode_w`` wide) that sets the PMOS gate line."""

    diode_fingers: int
    converter_fingers: int
    pmos_diode_w: float


@dataclass(frozen=True)
class Band:
    """One signal's lines (or the bias lines) and its weight on each column, in fingers:
    > 0 a PMOS source on ``gate_p``, < 0 a cascoded NMOS sink on ``gate_n``/``gate_cascode``;
    ``receiver``: the signal's diodes, at the band's west end, or None (lines from outside)."""

    gate_n: str
    gate_cascode: str
    gate_p: str
    fingers: tuple[int, ...]
    receiver: Receiver | None = None

    def nets(self) -> tuple[str, ...]:
        """The lines this band's tiles use (track order, bottom to top)."""
        nets = []
        if any(k < 0 for k in self.fingers) or self.receiver is not None:
            nets += [self.gate_n, self.gate_cascode, "vss"]
        if any(k > 0 for k in self.fingers) or (self.receiver is not None and self.receiver.converter_fingers):
            nets += [self.gate_p, "vdd"]
        return tuple(nets)


@dataclass(frozen=True)
class CrossbarSpec:
    columns: tuple[str, ...]  # summing nets, west to east
    bands: tuple[Band, ...]  # bottom to top
    w_um: float = 1.0
    l_um: float = 1.0
    exported: tuple[str, ...] | None = None  # lines that leave the crossbar (a lane and a port); None: all

    def lines(self) -> list[str]:
        """Every line a band uses, in band order, then the supplies."""
        lines: list[str] = []
        for band in self.bands:
            lines += [n for n in band.nets() if n not in ("vss", "vdd") and n not in lines]
        return lines + [n for n in ("vss", "vdd") if any(n in band.nets() for band in self.bands)]

    def __post_init__(self) -> None:
        for index, band in enumerate(self.bands):
            if len(band.fingers) != len(self.columns):
                raise ValueError(f"band {index}: {len(band.fingers)} weights for {len(self.columns)} columns")


def projection_crossbar(projection, w_um: float, l_um: float, receivers: tuple[Receiver, ...] | None = None,
                        exported: tuple[str, ...] | None = None) -> CrossbarSpec:
    """The crossbar of a mapped projection (:class:`generators.circuit.mapping.Projection`), with
    the pin names of its sub-circuit (``generators.circuit.spice_cells.projection_block``):
    signal j's lines ``sa<j>``, ``st<j>``, ``sp<j>``, the bias lines ``nb``, ``iref``, ``pb``, and
    summing node i's ``t<i>``; every mirror output of unit fingers ``w_um`` x ``l_um``.
    ``receivers``: signal j's receiver at the west end of its band (None: none in the crossbar)."""
    bands = [Band(f"sa{j}", f"st{j}", f"sp{j}", tuple(row[j] for row in projection.weight_fingers),
                  None if receivers is None else receivers[j])
             for j in range(projection.cols)]
    bands.append(Band("nb", "iref", "pb", tuple(projection.bias_fingers)))
    return CrossbarSpec(tuple(f"t{i}" for i in range(projection.rows)),
                        tuple(b for b in bands if any(b.fingers) or b.receiver is not None), w_um, l_um, exported)


@gf.cell
def weight_tile(polarity: str = "n", fingers: int = 1, w: float = 1.0, l: float = 1.0) -> gf.Component:
    """One mirror output of ``fingers`` unit fingers; ports (met2, north) on the top edge:
    NMOS ``vss ga gt d`` (cascoded sink), PMOS ``vdd gp d`` (source), the drain east-most."""
    if not isinstance(fingers, int) or fingers < 1:
        raise ValueError(f"fingers must be a positive integer, got {fingers!r}")
    output = matched_row(polarity=polarity, w=w, l=l, fingers=(fingers,), diode=None, dummies=True, tap=True)
    if polarity == "n":
        cascode = mosfet(polarity="n", w=w, l=l, fingers=fingers, tap=True)
        rows = [[Block("output", output, {"gate": "ga", "source": "vss", "body": "vss", drain_port(0): "m"}, "n")],
                [Block("cascode", cascode, {"gate": "gt", "source": "m", "body": "vss", "drain": "d"}, "n")]]
        external = NMOS_TILE_PORTS
    elif polarity == "p":
        rows = [[Block("output", output, {"gate": "gp", "source": "vdd", "body": "vdd", drain_port(0): "d"}, "p")]]
        external = PMOS_TILE_PORTS
    else:
        raise ValueError(f"polarity must be 'n' or 'p', got {polarity!r}")
    return macro_component(plan_macro(rows, external))


@gf.cell
def receiver_tile(diode_fingers: int = 4, converter_fingers: int = 1, w: float = 1.0, l: float = 1.0,
                  pmos_diode_w: float = 0.96) -> gf.Component:
    """A signal's receiver as one tile; ports (met2, north) ``vss a t`` and, with a converter,
    ``vdd p``. The bottom diode is drawn like the weight tiles' outputs it sets (a matched row
    with dummies, same orientation), so the band's mirrors see their reference as a neighbour."""
    diode = matched_row(polarity="n", w=w, l=l, fingers=(diode_fingers,), diode=0, dummies=True, tap=True)
    nmos = [Block("diode", diode, {"gate": "a", "source": "vss", "body": "vss"}, "n"),
            Block("top_diode", diode, {"gate": "t", "source": "a", "body": "vss"}, "n")]
    external = ["vss", "a", "t"]
    rows = [nmos]
    if converter_fingers:
        copy = mosfet(polarity="n", w=w, l=l, fingers=converter_fingers, tap=True)
        nmos += [Block("converter", copy, {"gate": "a", "source": "vss", "body": "vss", "drain": "k"}, "n"),
                 Block("converter_cascode", copy, {"gate": "t", "source": "k", "body": "vss", "drain": "p"}, "n")]
        pmos = matched_row(polarity="p", w=pmos_diode_w, l=l, fingers=(1,), diode=0, dummies=True, tap=True)
        rows.append([Block("pmos_diode", pmos, {"gate": "p", "source": "vdd", "body": "vdd"}, "p")])
        external = ["vss", "vdd", "a", "t", "p"]
    return macro_component(plan_macro(rows, external))


def _via2(d: Draw, x: int, y: int) -> None:
    """A via2 where a vertical met2 stub or lane meets a met3 track (which encloses it), on a
    landing no wider than a via1 pad: a spine's landing then clears the pad column next to it."""
    d.rect(L.VIA2, *square(x, y, dbu(R.VIA2_SIZE)))
    width, height = VIA2_LANDING_M2
    d.rect(L.MET2, x - width // 2, y - height // 2, x - width // 2 + width, y - height // 2 + height)


def _tile_of(k: int, spec: CrossbarSpec) -> gf.Component:
    return weight_tile("p" if k > 0 else "n", abs(k), spec.w_um, spec.l_um)


@dataclass(frozen=True)
class _Placed:
    tile: gf.Component
    dx: int  # the tile's origin in the crossbar
    dy: int
    top: int  # the tile's top edge in the crossbar


@functools.cache  # one cell per spec in gdsfactory's layout, as gf.cell does for plain parameters
def crossbar(spec: CrossbarSpec) -> gf.Component:
    """The crossbar of ``spec`` (see the module doc). Ports (met2, north, on the top edge): every
    line a band uses, vss/vdd, and every column's summing net that has a tile."""
    c = gf.Component(name="crossbar_" + hashlib.sha256(repr(spec).encode()).hexdigest()[:12])
    d = Draw(c)
    tiles = {(b, i): _tile_of(k, spec) for b, band in enumerate(spec.bands) for i, k in enumerate(band.fingers) if k}
    if not tiles:
        raise ValueError("the crossbar has no weight")
    for b, band in enumerate(spec.bands):
        if band.receiver is not None:  # column -1: the receivers, west of the weights
            r = band.receiver
            tiles[(b, -1)] = receiver_tile(r.diode_fingers, r.converter_fingers, spec.w_um, spec.l_um, r.pmos_diode_w)
    boxes = {key: tile.kdb_cell.bbox() for key, tile in tiles.items()}
    stub_half = STUB.width // 2

    # west lanes: the exported lines, then the supplies, a stub pitch apart
    lanes = [n for n in spec.lines() if spec.exported is None or n in spec.exported or n in ("vss", "vdd")]
    lane_x = {net: position * STUB_PITCH for position, net in enumerate(lanes)}
    x = (len(lane_x) - 1) * STUB_PITCH + VIA2_PAD_M2 // 2 + TILE_GAP

    # columns: each as wide as its widest tile, its summing lane on its east side (none for the
    # receivers' column -1)
    column_x: dict[int, int] = {}
    summing_x: dict[int, int] = {}
    for i in range(-1, len(spec.columns)):
        width = max((boxes[(b, i)].width() for b in range(len(spec.bands)) if (b, i) in boxes), default=0)
        if i < 0:
            if width:
                column_x[i] = x
                x = up(x + width + TILE_GAP)
            continue
        column_x[i] = x
        summing_x[i] = up(x + width + dbu(R.M2_SPACE) + stub_half)
        x = summing_x[i] + stub_half + TILE_GAP

    # bands bottom to top, tiles aligned on the band's top edge; the band's met3 tracks run
    # across the tiles, under their ports, and each port's spine reaches down to its track
    placed: dict[tuple[int, int], _Placed] = {}
    track_y: dict[tuple[int, str], int] = {}
    y = 0
    for b, band in enumerate(spec.bands):
        height = max(boxes[(b, i)].height() for i in range(-1, len(spec.columns)) if (b, i) in boxes)
        nets = band.nets()
        if FIRST_TRACK_DEPTH + len(nets) * ARRAY_TRACK.pitch > height:
            raise ValueError(f"band {b}: {len(nets)} tracks do not fit over tiles {height} nm tall")
        top = y + height
        for i in range(-1, len(spec.columns)):
            if (b, i) in tiles:
                box = boxes[(b, i)]
                placed[(b, i)] = _Placed(tiles[(b, i)], column_x[i] - box.left, top - box.top, top)
                c.icreate_inst(tiles[(b, i)], kdb.Trans(column_x[i] - box.left, top - box.top))
        for position, net in enumerate(nets):
            track_y[(b, net)] = top - FIRST_TRACK_DEPTH - position * ARRAY_TRACK.pitch
        y = up(top + TILE_GAP)
    top_edge = y - TILE_GAP

    span: dict[tuple[int, str], list[int]] = {}  # a track's via x: its lane and its tiles' stubs
    for b, band in enumerate(spec.bands):
        for net in band.nets():
            if net in lane_x:
                span.setdefault((b, net), []).append(lane_x[net])
                _via2(d, lane_x[net], track_y[(b, net)])
        for i in range(-1, len(spec.columns)):
            if (b, i) not in placed:
                continue
            item = placed[(b, i)]
            for port in item.tile.ports:
                px = dbu(port.dcenter[0]) + item.dx
                if port.name == "d":  # east-most: a straight jog to the column's summing lane
                    d.rect(L.MET2, px - VIA1_PAD // 2, item.top - VIA1_PAD, summing_x[i] + stub_half, item.top)
                    continue
                net = {"ga": band.gate_n, "a": band.gate_n, "gt": band.gate_cascode, "t": band.gate_cascode,
                       "gp": band.gate_p, "p": band.gate_p}.get(port.name, port.name)
                ty = track_y[(b, net)]
                d.rect(L.MET2, px - stub_half, ty, px - stub_half + STUB.width, item.top - VIA1_PAD // 2)
                _via2(d, px, ty)
                span.setdefault((b, net), []).append(px)
    for (b, net), xs in span.items():
        ty, half = track_y[(b, net)], ARRAY_TRACK.width // 2
        x0, x1 = min(xs) - half, max(max(xs) + half, min(xs) - half + ARRAY_TRACK.min_length)
        d.rect(L.MET3, x0, ty - half, x1, ty - half + ARRAY_TRACK.width)

    # lanes up to the top edge, with their ports
    port_boxes = {}
    for net, lx in lane_x.items():
        bottom = min(ty for (_, n), ty in track_y.items() if n == net)
        d.rect(L.MET2, lx - stub_half, bottom, lx - stub_half + STUB.width, top_edge)
        port_boxes[net] = d.rect(L.MET2, *square(lx, top_edge - VIA1_PAD // 2, VIA1_PAD))
    for i, net in enumerate(spec.columns):
        users = [placed[(b, i)].top for b in range(len(spec.bands)) if (b, i) in placed]
        if not users:
            continue
        sx = summing_x[i]
        d.rect(L.MET2, sx - stub_half, min(users) - VIA1_PAD, sx - stub_half + STUB.width, top_edge)
        port_boxes[net] = d.rect(L.MET2, *square(sx, top_edge - VIA1_PAD // 2, VIA1_PAD))
    for net, box in port_boxes.items():
        d.pin(net, "met2", box, "n")
    d.boundary()
    c.info["tiles"] = len(tiles)
    c.info["tile_area_um2"] = round(sum(box.width() * box.height() for box in boxes.values()) * 1e-6, 1)
    return c


def crossbar_spice(spec: CrossbarSpec, name: str, pins: list[str]) -> str:
    """Reference subcircuit for LVS: each weight and receiver as the schematic draws it (one
    instance of ``m`` = its fingers; a sink as bottom and cascode)."""
    lines = [f".subckt {name} {' '.join(pins)}"]
    w = f"w={spec.w_um:g} l={spec.l_um:g}"
    n, p = fet("n").model, fet("p").model
    for b, band in enumerate(spec.bands):
        r = band.receiver
        if r is not None:
            a, t, line = band.gate_n, band.gate_cascode, band.gate_p
            lines.append(f"XT{b} {t} {t} {a} vss {n} {w} m={r.diode_fingers}")
            lines.append(f"XD{b} {a} {a} vss vss {n} {w} m={r.diode_fingers}")
            if r.converter_fingers:
                lines.append(f"XK{b} k{b} {a} vss vss {n} {w} m={r.converter_fingers}")
                lines.append(f"XKC{b} {line} {t} k{b} vss {n} {w} m={r.converter_fingers}")
                lines.append(f"XPD{b} {line} {line} vdd vdd {p} w={r.pmos_diode_w:g} l={spec.l_um:g} m=1")
        for i, k in enumerate(band.fingers):
            column = spec.columns[i]
            if k > 0:
                lines.append(f"XP{b}_{i} {column} {band.gate_p} vdd vdd {p} {w} m={k}")
            elif k < 0:
                lines.append(f"XN{b}_{i} mid{b}_{i} {band.gate_n} vss vss {n} {w} m={-k}")
                lines.append(f"XC{b}_{i} {column} {band.gate_cascode} mid{b}_{i} vss {n} {w} m={-k}")
    lines.append(f".ends {name}")
    return "\n".join(lines) + "\n"
