"""A projection (one weight matrix and its bias) as a current-mode crossbar.

```
 top edge: one met2 port per line (lanes)                 one met2 port per summing node
 ┌──────────┬───────────────────────────────────────────────────────────────┐
 │ west     │ band 2:  [ tile  ]|[tile]|  ·  |[  tile  ]|                   │
 │ lanes    │ gap:     lanes jog ─┘  ┌─┘     └──┐       │                   │
 │ (met2,   │ band 1:  [tile]|[  tile  ]|[tile]|   [tile]|                  │
 │  one per │ gap:     lanes jog                                            │
 │  line)   │ band 0:  [tile]|   ·  |[tile]|[   tile  ]|                   │
 │          │ (| = summing lane, met2, down; band tracks: met3 over tiles)  │
 └──────────┴───────────────────────────────────────────────────────────────┘
```

- A *band* is one signal (or the bias lines): its gate lines run across the array as met3
  tracks over its tiles. A *column* is one summing node: its met2 lane runs down beside each
  band's tile of that column, on its east side. The weight of signal j on node i sits at
  their crossing as a *tile*.
- Dense floorplan (issue #20): each band packs its own tiles west to east, so a column is only
  as wide as each band's own tile needs, not as its widest tile; a lane that moves between two
  bands jogs in the gap between them, every lane at one height, each jog a stub pitch clear of
  its neighbours' (:func:`plan_columns`, :func:`summing_lane`). Tiles sit as close to each
  other, and bands to bands, as the spacing rules between the layers behind their facing
  edges allow (:func:`clearance`, :func:`band_gap`): a tile's wells and implants stay well
  inside its east and west edges (pads and spines there are metal), so neighbours need the
  metal spacing and the lane between them, and two bands the implant spacing, not the n-well
  spacing.
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

Correct by construction as far as the geometry goes: tracks of a band at distinct y, lanes
beside a band at distinct x, lane jogs of one gap disjoint in x, tiles between their lanes, so
two nets cross only on different metals. DRC and LVS of the whole array check it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import gdsfactory as gf
import klayout.db as kdb

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.devices import fet
from pdk_sky130_180.spacings import LAYER_SPACINGS
from pdk_sky130_180.wires import ARRAY_TRACK, STUB, STUB_PITCH, VIA1_PAD, VIA2_LANDING_M2, VIA2_PAD_M2, dbu, square

from ._draw import Draw, up
from .group import drain_port, matched_row
from .macro import Block, macro_component, plan_macro
from .transistor import mosfet

__all__ = ["Band", "BandGap", "ColumnPlan", "CrossbarSpec", "Outline", "Receiver", "band_face", "band_gap", "clearance",
           "crossbar", "crossbar_spice", "folded_source_tile", "landing_depths", "landings_clear", "outline", "plan_columns", "projection_crossbar", "receiver_tile",
           "summing_lane", "weight_tile"]

# between the receivers' column and its neighbours, whose bounding boxes may hold wells and
# implants at their edges: two n-wells (nwell.2a) or an n-well and n+ diffusion (difftap.9)
TILE_GAP = up(max(dbu(R.NWELL_SPACE), dbu(R.NDIFF_NWELL_SPACE)))
# the first track's via2 landing clears the port pads on the top edge (m2.2; on one spine the
# gap would be a notch)
FIRST_TRACK_DEPTH = up(VIA1_PAD + dbu(R.M2_SPACE) + VIA2_PAD_M2 // 2 + 1)
# a tile east of a summing lane clears its port pad on the top edge (m2.2), wider than the lane
LANE_CLEARANCE = max(STUB.width, VIA1_PAD) // 2 + dbu(R.M2_SPACE)
NMOS_TILE_PORTS = ("vss", "ga", "gt", "d")  # west to east: the drain last (east-most)
PMOS_TILE_PORTS = ("vdd", "gp", "d")


@dataclass(frozen=True)
class Receiver:
    """A signal's receiver (``generators.circuit.spice_cells.receiver_block``): the ReLU diode
    stack (top ``T`` on the cascode line, bottom ``D`` on the NMOS gate line, ``diode_fingers``
    each) and, with ``converter_fingers`` > 0, the cascoded copy into the PMOS diode ``P``
    (as many fingers as the converter, each ``pmos_diode_w`` wide) that sets the PMOS gate line."""

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
def folded_source_tile(fingers: int = 2, w: float = 1.0, l: float = 1.0) -> gf.Component:
    """A PMOS mirror output (a source, as ``weight_tile("p", fingers)``) folded into two matched
    rows of half the fingers each (the odd one in the lower row) around one channel, the upper
    row mirrored as the macro router draws it: about as wide as a tile of half the fingers and
    still lower than an NMOS tile, so it fits the height a band of sinks has anyway. Ports
    (met2, north) ``vdd gp d`` on the top edge, the drain east-most."""
    if not isinstance(fingers, int) or fingers < 2:
        raise ValueError(f"a folded source needs two fingers or more, got {fingers!r}")
    rows = [[Block(name, matched_row(polarity="p", w=w, l=l, fingers=(k,), diode=None, dummies=True, tap=True),
                   {"gate": "gp", "source": "vdd", "body": "vdd", drain_port(0): "d"}, "p")]
            for name, k in (("lower", (fingers + 1) // 2), ("upper", fingers // 2))]
    return macro_component(plan_macro(rows, PMOS_TILE_PORTS))


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
        # the PMOS diode has a finger per converter copy (generators.circuit.mapping.Sizing)
        pmos = matched_row(polarity="p", w=pmos_diode_w, l=l, fingers=(converter_fingers,), diode=0, dummies=True,
                           tap=True)
        rows.append([Block("pmos_diode", pmos, {"gate": "p", "source": "vdd", "body": "vdd"}, "p")])
        external = ["vss", "vdd", "a", "t", "p"]
    return macro_component(plan_macro(rows, external))


def _via2(d: Draw, x: int, y: int) -> None:
    """A via2 where a vertical met2 stub or lane meets a met3 track (which encloses it), on a
    landing no wider than a via1 pad: a spine's landing then clears the pad column next to it."""
    d.rect(L.VIA2, *square(x, y, dbu(R.VIA2_SIZE)))
    width, height = VIA2_LANDING_M2
    d.rect(L.MET2, x - width // 2, y - height // 2, x - width // 2 + width, y - height // 2 + height)


TILE_PORT_LINE = {"ga": "gate_n", "a": "gate_n", "gt": "gate_cascode", "t": "gate_cascode", "gp": "gate_p",
                  "p": "gate_p"}  # a tile port -> the band's line it takes (vss, vdd: the supplies)


def _port_net(band: Band, port: str) -> str:
    return getattr(band, TILE_PORT_LINE[port]) if port in TILE_PORT_LINE else port


def track_depth(band: Band, net: str) -> int:
    """How far below the band's top edge its track of ``net`` runs (its via2 landings' centre)."""
    return FIRST_TRACK_DEPTH + band.nets().index(net) * ARRAY_TRACK.pitch


def landing_depths(tile: gf.Component, band: Band) -> tuple[tuple[str, int], ...]:
    """(port, depth of its net's track below the band's top) for every port of ``tile`` that
    reaches a track of ``band`` (all but the drain)."""
    return tuple((port.name, track_depth(band, _port_net(band, port.name))) for port in tile.ports if port.name != "d")


def landings_clear(tile: gf.Component, depths: tuple[tuple[str, int], ...], drop: int) -> bool:
    """Whether the band's via2 landings on the tile's port spines (``depths``:
    :func:`landing_depths`), with the tile's top ``drop`` below the band's, each overlap the met2
    already on that spine or clear it by m2.2: a landing just short of a spine's via1 pad would
    leave a notch."""
    cell = tile.kdb_cell
    top = cell.bbox().top + drop  # the band's top edge, in tile coordinates
    met2 = kdb.Region(cell.begin_shapes_rec(cell.layout().layer(*L.MET2.gds)))
    width, height = VIA2_LANDING_M2
    space = dbu(R.M2_SPACE)
    for name, depth in depths:
        x, y = dbu(tile.ports[name].dcenter[0]), top - depth
        landing = kdb.Box(x - width // 2, y - height // 2, x - width // 2 + width, y - height // 2 + height)
        # the spine's column only: a neighbour spine's pad lies a stub pitch away
        window = kdb.Region(kdb.Box(x - width // 2 - space, y - height - 2 * space, x + width // 2 + space,
                                    y + height + 2 * space))
        if not ((met2 & window) + kdb.Region(landing)).merged().space_check(space).is_empty():
            return False
    return True


@functools.cache
def _folded_drop(fingers: int, w: float, l: float, room: int, depths: tuple[tuple[str, int], ...]) -> int | None:
    """How far below its band's top a folded source of ``fingers`` must sit for the band's
    landings (``depths``) to leave no notch, within ``room`` and above the first track's landing;
    None: nowhere, or it is no narrower than the flat tile."""
    folded = folded_source_tile(fingers, w, l)
    box = folded.kdb_cell.bbox()
    if box.width() >= weight_tile("p", fingers, w, l).kdb_cell.bbox().width():
        return None
    deepest = min(room - box.height(), FIRST_TRACK_DEPTH - VIA2_PAD_M2 // 2)
    return next((d for d in range(0, deepest + 1, dbu(R.GRID)) if landings_clear(folded, depths, d)), None)


def _tile_of(k: int, band: Band, spec: CrossbarSpec, room: int) -> tuple[gf.Component, int]:
    """The tile of a weight of ``k`` fingers, and how far below the band's top edge its top
    sits. A PMOS source folds into two rows where that is narrower and fits ``room`` (the
    height its band has anyway, from its sinks and receiver), so the band's width shrinks and
    its height does not grow; it drops as little as the band's via2 landings on its spines
    need (:func:`landings_clear`), and not below the first track's landing."""
    flat = weight_tile("p" if k > 0 else "n", abs(k), spec.w_um, spec.l_um)
    if k < 2:
        return flat, 0
    folded = folded_source_tile(k, spec.w_um, spec.l_um)
    drop = _folded_drop(k, spec.w_um, spec.l_um, room, landing_depths(folded, band))
    return (flat, 0) if drop is None else (folded, drop)


@dataclass(frozen=True)
class _Placed:
    tile: gf.Component
    dx: int  # the tile's origin in the crossbar
    dy: int
    top: int  # the tile's top edge in the crossbar


WEST, SOUTH, EAST, NORTH = range(4)


@dataclass(frozen=True)
class Outline:
    """A tile's size and, for each layer it draws, how far that layer stays inside each edge of
    its bounding box (dbu; indexed WEST, SOUTH, EAST, NORTH)."""

    width: int
    height: int
    insets: Mapping[L.Layer, tuple[int, int, int, int]] = field(compare=False)

    def facing(self, side: int) -> dict[L.Layer, int]:
        return {layer: inset[side] for layer, inset in self.insets.items()}


def outline(tile: gf.Component) -> Outline:
    """The tile's :class:`Outline`, read off its drawn shapes."""
    cell = tile.kdb_cell
    box = cell.bbox()
    insets = {}
    for layer in sorted({layer for pair in LAYER_SPACINGS for layer in pair[:2]}):
        index = cell.layout().find_layer(*layer.gds)
        if index is None:
            continue
        drawn = cell.bbox(index)
        if not drawn.empty():
            insets[layer] = (drawn.left - box.left, drawn.bottom - box.bottom, box.right - drawn.right,
                             box.top - drawn.top)
    return Outline(box.width(), box.height(), insets)


def clearance(near: Mapping[L.Layer, int], far: Mapping[L.Layer, int]) -> int:
    """The least gap between two facing edges for which every :data:`LAYER_SPACINGS` rule holds
    between the layers behind them (each layer's distance behind its own edge)."""
    need = 0
    for a, b, rule in LAYER_SPACINGS:
        for x, y in ((a, b), (b, a)):
            if x in near and y in far:
                need = max(need, dbu(rule) - near[x] - far[y])
    return up(need)


def band_face(outlines: list[tuple[Outline, int]], side: int, height: int) -> dict[L.Layer, int]:
    """Each layer's least distance behind a band's top (NORTH) or bottom (SOUTH) edge, over the
    band's tiles, each (outline, drop) with its top ``drop`` below the band's top edge (most
    align on it); ``height``: the band's."""
    face: dict[L.Layer, int] = {}
    for item, drop in outlines:
        # a shorter tile's bottom lies above the band's bottom edge
        behind = drop if side == NORTH else height - item.height - drop
        for layer, inset in item.facing(side).items():
            face[layer] = min(face.get(layer, inset + behind), inset + behind)
    return face


@dataclass(frozen=True)
class BandGap:
    """Between two bands (dbu): how far above the lower one's top the upper one starts, and where
    summing lanes jog in between (the jog's centre above the lower band's top)."""

    gap: int
    jog: int


def band_gap(lower: dict[L.Layer, int], upper: dict[L.Layer, int]) -> BandGap:
    """The gap between two bands (their :func:`band_face`, NORTH of the lower and SOUTH of the
    upper): their tiles' spacing rules, and room for a met2 jog of the summing lanes with m2.2
    to both bands' met2."""
    half = STUB.width // 2
    below = up(max(dbu(R.M2_SPACE) - lower.get(L.MET2, 0), 0))
    above = up(max(dbu(R.M2_SPACE) - upper.get(L.MET2, 0), 0))
    return BandGap(max(clearance(lower, upper), below + STUB.width + above), below + half)


@dataclass(frozen=True)
class ColumnPlan:
    """Where each band's tiles and each column's summing lane go (x, dbu), band by band (bottom
    to top) and column by column (west to east)."""

    tile_left: tuple[tuple[int, ...], ...]  # west edge of the tile at each crossing (where there is one)
    lane_x: tuple[tuple[int, ...], ...]  # centre of the column's summing lane beside each band

    @property
    def right(self) -> int:
        """East edge of the easternmost lane."""
        return max(row[-1] for row in self.lane_x) + STUB.width // 2


def plan_columns(tiles: list[list[Outline | None]], start: int) -> ColumnPlan:
    """Tiles ``tiles[b][i]`` (None: no tile) packed west to east in each band from ``start``,
    column i's summing lane just east of its tile, so a column is only as wide as each band's
    own tile needs, not as its widest one.

    Where lane i moves between band b and band b + 1 it jogs in the gap between them (one met2
    jog, :func:`summing_lane`); all lanes jog at that one height, so a lane's jog must clear
    its neighbours' by a stub pitch: lane i beside band b lies a pitch east of lane i - 1
    beside bands b - 1, b and b + 1. Between a tile and the lanes beside it m2.2 holds (the
    lane's port pad on the top edge included); between two tiles of a band, the spacing rules
    between what they draw (:func:`clearance`). Each position is the least these allow (a
    longest path over lower bounds, so the plan is as narrow as they allow)."""
    half = STUB.width // 2
    bands = len(tiles)
    lane = [start - LANE_CLEARANCE] * bands  # as if a lane ended just west of start
    west_tile: list[tuple[int, Outline] | None] = [None] * bands  # (right edge, outline) of the last tile
    tile_left: list[list[int]] = [[] for _ in range(bands)]
    lane_x: list[list[int]] = [[] for _ in range(bands)]
    for i in range(len(tiles[0]) if tiles else 0):
        jogs = [max(lane[max(b - 1, 0):b + 2]) + STUB_PITCH for b in range(bands)]
        for b in range(bands):
            tile = tiles[b][i]
            x = jogs[b]
            left = 0
            if tile is not None:
                left = max(start, lane[b] + LANE_CLEARANCE)
                if west_tile[b] is not None:
                    right, neighbour = west_tile[b]
                    left = max(left, right + clearance(neighbour.facing(EAST), tile.facing(WEST)))
                x = max(x, up(left + tile.width + dbu(R.M2_SPACE) + half))
                left = x - half - dbu(R.M2_SPACE) - tile.width  # against its lane: a short drain jog
                west_tile[b] = (left + tile.width, tile)
            tile_left[b].append(left)
            lane_x[b].append(x)
        lane = [row[i] for row in lane_x]
    return ColumnPlan(tuple(map(tuple, tile_left)), tuple(map(tuple, lane_x)))


def summing_lane(xs: list[int], band_tops: list[int], jogs: list[int], first: int,
                 top_edge: int) -> list[tuple[int, int, int, int]]:
    """A column's summing lane as met2 rectangles: from its tile in band ``first`` up to the top
    edge, at ``xs[b]`` beside band b, jogging ``jogs[b]`` above band b's top where ``xs``
    changes."""
    half = STUB.width // 2
    rects = []
    bottom = band_tops[first] - VIA1_PAD
    for b in range(first, len(xs)):
        if b + 1 == len(xs):
            rects.append((xs[b] - half, bottom, xs[b] - half + STUB.width, top_edge))
            break
        jog = band_tops[b] + jogs[b]
        rects.append((xs[b] - half, bottom, xs[b] - half + STUB.width, jog + half))
        if xs[b + 1] != xs[b]:
            rects.append((min(xs[b], xs[b + 1]) - half, jog - half, max(xs[b], xs[b + 1]) + half, jog + half))
        bottom = jog - half
    return rects


@functools.cache  # one cell per spec in gdsfactory's layout, as gf.cell does for plain parameters
def crossbar(spec: CrossbarSpec) -> gf.Component:
    """The crossbar of ``spec`` (see the module doc). Ports (met2, north, on the top edge): every
    line a band uses, vss/vdd, and every column's summing net that has a tile."""
    c = gf.Component(name="crossbar_" + hashlib.sha256(repr(spec).encode()).hexdigest()[:12])
    d = Draw(c)
    tiles = {(b, i): _tile_of(k, band, spec, 0)[0] for b, band in enumerate(spec.bands)
             for i, k in enumerate(band.fingers) if k < 0}
    drops: dict[tuple[int, int], int] = {}  # a tile's top below its band's top (0 where not listed)
    for b, band in enumerate(spec.bands):
        if band.receiver is not None:  # column -1: the receivers, west of the weights
            r = band.receiver
            tiles[(b, -1)] = receiver_tile(r.diode_fingers, r.converter_fingers, spec.w_um, spec.l_um, r.pmos_diode_w)
    for b, band in enumerate(spec.bands):  # sources last: they may fold into the height the band has
        room = max((tile.kdb_cell.bbox().height() for (tb, _), tile in tiles.items() if tb == b), default=0)
        for i, k in enumerate(band.fingers):
            if k > 0:
                tiles[(b, i)], drops[(b, i)] = _tile_of(k, band, spec, room)
    if not any(key[1] >= 0 for key in tiles):
        raise ValueError("the crossbar has no weight")
    boxes = {key: tile.kdb_cell.bbox() for key, tile in tiles.items()}
    stub_half = STUB.width // 2

    # west lanes: the exported lines, then the supplies, a stub pitch apart
    lanes = [n for n in spec.lines() if spec.exported is None or n in spec.exported or n in ("vss", "vdd")]
    lane_x = {net: position * STUB_PITCH for position, net in enumerate(lanes)}
    x = (len(lane_x) - 1) * STUB_PITCH + VIA2_PAD_M2 // 2 + TILE_GAP
    receiver_x = x  # column -1: the receivers, west of the weights
    receivers = [boxes[(b, -1)].width() for b in range(len(spec.bands)) if (b, -1) in boxes]
    if receivers:
        x = up(x + max(receivers) + TILE_GAP)

    # columns: in each band its tiles packed west to east, each column's summing lane just east
    # of its tile; a lane jogs between bands (:func:`plan_columns`)
    outlines = {tile.name: outline(tile) for tile in tiles.values()}
    columns = plan_columns([[outlines[tiles[(b, i)].name] if (b, i) in tiles else None
                             for i in range(len(spec.columns))] for b in range(len(spec.bands))], x)

    # bands: each as tall as its tallest tile, the next one as close above as the rules between
    # their tiles allow, with room for the summing lanes' jogs
    heights = [max(boxes[(b, i)].height() + drops.get((b, i), 0) for i in range(-1, len(spec.columns))
                   if (b, i) in boxes) for b in range(len(spec.bands))]
    faces = [[(outlines[tiles[(b, i)].name], drops.get((b, i), 0)) for i in range(-1, len(spec.columns))
              if (b, i) in tiles]
             for b in range(len(spec.bands))]
    gaps = [band_gap(band_face(faces[b], NORTH, heights[b]), band_face(faces[b + 1], SOUTH, heights[b + 1]))
            for b in range(len(spec.bands) - 1)]

    # bands bottom to top, tiles aligned on the band's top edge; the band's met3 tracks run
    # across the tiles, under their ports, and each port's spine reaches down to its track
    placed: dict[tuple[int, int], _Placed] = {}
    track_y: dict[tuple[int, str], int] = {}
    band_tops: list[int] = []
    y = 0
    for b, band in enumerate(spec.bands):
        height = heights[b]
        nets = band.nets()
        if FIRST_TRACK_DEPTH + len(nets) * ARRAY_TRACK.pitch > height:
            raise ValueError(f"band {b}: {len(nets)} tracks do not fit over tiles {height} nm tall")
        top = y + height
        for i in range(-1, len(spec.columns)):
            if (b, i) in tiles:
                box = boxes[(b, i)]
                left = receiver_x if i < 0 else columns.tile_left[b][i]
                tile_top = top - drops.get((b, i), 0)
                placed[(b, i)] = _Placed(tiles[(b, i)], left - box.left, tile_top - box.top, tile_top)
                c.icreate_inst(tiles[(b, i)], kdb.Trans(left - box.left, tile_top - box.top))
        for net in nets:
            track_y[(b, net)] = top - track_depth(band, net)
        band_tops.append(top)
        y = top + (gaps[b].gap if b < len(gaps) else 0)
    top_edge = band_tops[-1]

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
                    d.rect(L.MET2, px - VIA1_PAD // 2, item.top - VIA1_PAD, columns.lane_x[b][i] + stub_half,
                           item.top)
                    continue
                net = _port_net(band, port.name)
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
        users = [b for b in range(len(spec.bands)) if (b, i) in placed]
        if not users:
            continue
        for rect in summing_lane([row[i] for row in columns.lane_x], band_tops, [g.jog for g in gaps], users[0],
                                 top_edge):
            d.rect(L.MET2, *rect)
        port_boxes[net] = d.rect(L.MET2, *square(columns.lane_x[-1][i], top_edge - VIA1_PAD // 2, VIA1_PAD))
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
