"""A macro cell: sub-cells in rows, wired inside the cell on met1 and met2 only.

The building block of compact multi-device cells (:mod:`generators.layout.cells.bmru_cell`). met3 is
left free for the array's tracks (:mod:`generators.layout.route`). Floorplan (nm, on the 5 nm grid):

```
    ──────────────────────────────────────── top edge: external nets end here (met2 ports)
    row 3 (mirrored): taps up, pads down                   │ spines: one met2 column per
    channel 1: one met1 track per net of rows 2 and 3      │ net that is external or
    row 2:     blocks left to right, pads beside each      │ reaches several channels
    row 1 (mirrored), taps facing row 2's taps             │
    channel 0                                              │
    row 0                                                  │
```

- A *block* is one sub-cell (transistor, matched row) whose ports sit on its east and west
  edges (met1 bars, met2 drain tracks). Each port is brought out sideways on its own metal to
  a *pad column* beside the block: one column per net and side, so a gate and a drain of the
  same net share one.
- Rows pair up around one channel: the upper row is mirrored, so both rows turn their pads
  to the channel and the nets they share take one track. A met2 stub runs from a column's
  pad farthest from the channel, through its other pads, to its net's met1 track (via1).
- Tracks reach right to their net's spine (via1); spines of external nets run up to the top
  edge, where a met2 port and a pin label sit. The array's router can continue such a spine
  straight up to its met3 tracks, so spines keep the array's stub pitch.

Correct by construction as far as it can be checked here: the columns of a row at distinct x,
tracks of a channel at distinct y, stubs that meet in a channel from both sides ordered
(the lower one's track below), spines at distinct x right of every row, so two nets only
cross on different metals. The one condition that depends on a sub-cell's port positions (a
jog to a far column must not cross the stub of a nearer one) is checked, with an error naming
the block. PMOS rows come last and share one n-well (separate wells would need nwell.2a's
1.27 µm between them). LVS of the cells built on it checks the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import gdsfactory as gf
import klayout.db as kdb

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.wires import CELL_TRACK, STUB, VIA1_PAD, square

from ..pads import Jog, check_jogs, metal_of
from ._draw import Draw, nm
from .row import M1_SP, M2_SP, VIA

__all__ = ["Block", "MacroPlan", "plan_macro", "draw_macro", "macro_component", "PAD", "SPINE_PITCH"]

PAD = VIA1_PAD  # via1 landing pad, met1 and met2 (pdk_sky130_180.wires)
METAL_SP = max(M1_SP, M2_SP)
COLUMN_PITCH = PAD + METAL_SP         # pad columns beside a block (m1.2, m2.2; via.2 holds)
# the wire types (pdk_sky130_180.wires): met1 channel tracks, met2 stubs and spines; the array's
# router continues an external spine with a via2 pad on met2 and checks that pins in an array
# row sit one stub pitch apart: one pitch for both routers
TRACK_W, TRACK_PITCH, TRACK_MIN_LEN = CELL_TRACK.width, CELL_TRACK.pitch, CELL_TRACK.min_length
STUB_W, SPINE_PITCH = STUB.width, STUB.pitch
IMPLANT_SP = max(nm(R.NSDM_SPACE), nm(R.PSDM_SPACE))  # between neighbouring blocks' implants

assert TRACK_MIN_LEN <= PAD, "a one-pad track must meet the met1 area rule"


@dataclass(frozen=True)
class Block:
    """One sub-cell of the macro and the net on each of its ports."""

    name: str
    component: gf.Component = field(compare=False)
    nets: Mapping[str, str] = field(compare=False)  # port name -> net
    polarity: str  # "n" or "p": which rows (and which well) it goes to


@dataclass(frozen=True)
class Port:
    """A sub-cell port in the block's own coordinates (nm)."""

    name: str
    net: str
    x: int
    y: int
    width: int
    metal: str  # "met1" or "met2"
    side: str  # "e" or "w"


@dataclass(frozen=True)
class Column:
    """A pad column beside a block: one net, the ports brought out to it, its x (block coords)."""

    net: str
    side: str
    x: int
    ports: tuple[Port, ...]

    @property
    def y_low(self) -> int:
        return min(p.y for p in self.ports)


@dataclass(frozen=True)
class PaddedBlock:
    """A block with its pad columns; extent (nm, block coordinates) includes the pads."""

    block: Block
    bbox: kdb.Box = field(compare=False)
    columns: tuple[Column, ...]
    left: int
    bottom: int
    right: int
    top: int


@dataclass(frozen=True)
class PlacedBlock:
    """A block in the macro: its origin goes to (x, y), mirrored about the x axis when
    ``flipped`` (the upper row of a pair, whose channel lies below it)."""

    padded: PaddedBlock
    row: int
    channel: int  # the channel its stubs reach
    x: int
    y: int
    flipped: bool = False

    def at(self, bx: int, by: int) -> tuple[int, int]:
        """A point of the block (block coordinates) in the macro."""
        return self.x + bx, (self.y - by) if self.flipped else (self.y + by)


@dataclass(frozen=True)
class Track:
    """A net's met1 track in a channel (nm)."""

    net: str
    channel: int
    y: int
    x0: int
    x1: int


@dataclass(frozen=True)
class MacroPlan:
    """Where everything goes: blocks, tracks, spines, the ports; the cell's extent (nm)."""

    placed: tuple[PlacedBlock, ...]
    tracks: tuple[Track, ...]
    spines: tuple[tuple[str, int, int, int], ...]  # (net, x, y0, y1)
    ports: tuple[tuple[str, int], ...]  # external net, spine x (port at the top edge)
    width: int
    height: int
    nwell: tuple[int, int, int, int] | None  # shared n-well of the PMOS rows

    @property
    def area_um2(self) -> float:
        return self.width * self.height * 1e-6


def block_ports(block: Block) -> list[Port]:
    """The block's ports that carry a net, in nm."""
    ports = []
    for name, net in sorted(block.nets.items()):
        port = block.component.ports[name]
        if port.orientation not in (0, 180):
            raise ValueError(f"{block.name}: port {name} must face east or west")
        ports.append(Port(name, net, nm(port.dcenter[0]), nm(port.dcenter[1]), int(port.width), metal_of(port),
                          "e" if port.orientation == 0 else "w"))
    return ports


def _side_columns(block: str, ports: list[Port], side: str) -> list[Column]:
    """Columns of one side, nearest the block first: the net whose lowest pad is highest
    nearest, so a jog to a farther column passes below the nearer columns' stubs."""
    on_side = [p for p in ports if p.side == side]
    if not on_side:
        return []
    by_net: dict[str, list[Port]] = {}
    for port in on_side:
        by_net.setdefault(port.net, []).append(port)
    nets = sorted(by_net, key=lambda n: (-min(p.y for p in by_net[n]), n))
    if side == "e":
        first, step = max(p.x for p in on_side) + METAL_SP + PAD // 2, COLUMN_PITCH
    else:
        first, step = min(p.x for p in on_side) - METAL_SP - PAD // 2, -COLUMN_PITCH
    columns = [Column(net, side, first + i * step, tuple(sorted(by_net[net], key=lambda p: p.y)))
               for i, net in enumerate(nets)]
    check_jogs(block, [(c.net, [Jog(f'{p.name} ({p.net})', p.y, p.width, p.metal) for p in c.ports]) for c in columns])
    return columns


def pad_block(block: Block) -> PaddedBlock:
    ports = block_ports(block)
    columns = _side_columns(block.name, ports, "w") + _side_columns(block.name, ports, "e")
    box = block.component.kdb_cell.bbox()
    xs = [c.x for c in columns]
    ys = [p.y for c in columns for p in c.ports]
    return PaddedBlock(block, box, tuple(columns),
                       min([box.left] + [x - PAD // 2 for x in xs]), min([box.bottom] + [y - PAD // 2 for y in ys]),
                       max([box.right] + [x + PAD // 2 for x in xs]), max([box.top] + [y + PAD // 2 for y in ys]))


def block_width(block: Block) -> int:
    """Width of a block with its pads, plus the gap to its neighbour (for packing rows)."""
    padded = pad_block(block)
    return padded.right - padded.left + IMPLANT_SP


def plan_macro(rows: Sequence[Sequence[Block]], external: Sequence[str]) -> MacroPlan:
    """Place ``rows`` (bottom first; every PMOS row after every NMOS row) and route every net;
    ``external`` nets end at the top edge as ports.

    Rows go in pairs around one channel where they can: the lower row as drawn, the upper one
    mirrored, so both turn their drains and pads towards the channel and the nets they share
    (supplies, gate lines) take one track instead of two. Stubs then come into the channel
    from both sides; where a stub from below and one from above share an x, the lower one's
    track must lie below the upper one's (:func:`_track_order`). Rows whose constraints form a
    cycle are not paired: each gets a channel of its own above it."""
    kinds = []
    for row in rows:
        polarity = {b.polarity for b in row}
        if len(polarity) != 1:
            raise ValueError("each row must hold blocks of one polarity")
        kinds.append(polarity.pop())
    if "p" in kinds and "n" in kinds[kinds.index("p"):]:
        raise ValueError("PMOS rows must come after every NMOS row (they share one n-well)")
    row_blocks = [_place_row([pad_block(b) for b in row]) for row in rows]
    row_columns = [[(c.net, x + c.x) for p, x in blocks for c in p.columns] for blocks in row_blocks]

    placed: list[PlacedBlock] = []
    channels: list[tuple[int, list[str], dict[str, list[int]]]] = []  # bottom, track order, net -> xs
    y = 0
    index = 0
    while index < len(rows):
        order = _track_order(row_columns[index], row_columns[index + 1]) if index + 1 < len(rows) else None
        members = [index, index + 1] if order is not None else [index]
        if order is None:
            order = sorted({net for net, _ in row_columns[index]})
        channel = len(channels)
        lower = row_blocks[index]
        base = y - min(p.bottom for p, _ in lower)
        placed += [PlacedBlock(p, index, channel, x, base) for p, x in lower]
        bottom = base + max(p.top for p, _ in lower)
        y = bottom + _channel_height(len(order))
        if len(members) == 2:
            upper = row_blocks[index + 1]
            base = y + max(p.top for p, _ in upper)  # mirrored: its padded bottom on the channel's top
            placed += [PlacedBlock(p, index + 1, channel, x, base, True) for p, x in upper]
            y = base - min(p.bottom for p, _ in upper) + IMPLANT_SP  # the next rows' taps face these
        xs: dict[str, list[int]] = {}
        for member in members:
            for net, x in row_columns[member]:
                xs.setdefault(net, []).append(x)
        channels.append((bottom, order, xs))
        index += len(members)
    height = y - IMPLANT_SP if placed[-1].flipped else y
    right = max(item.x + item.padded.right for item in placed)

    in_channels: dict[str, int] = {}
    for _, order, _ in channels:
        for net in order:
            in_channels[net] = in_channels.get(net, 0) + 1
    missing = [n for n in external if n not in in_channels]
    if missing:
        raise ValueError(f"external nets reach no block: {', '.join(missing)}")
    internal_spines = sorted(n for n, count in in_channels.items() if count > 1 and n not in external)
    spine_x = {net: right + METAL_SP + PAD // 2 + i * SPINE_PITCH
               for i, net in enumerate(internal_spines + list(external))}

    tracks: list[Track] = []
    for channel, (bottom, order, xs) in enumerate(channels):
        first = bottom + METAL_SP + PAD // 2
        for position, net in enumerate(order):
            span = xs[net] + ([spine_x[net]] if net in spine_x else [])
            tracks.append(Track(net, channel, first + position * TRACK_PITCH, min(span) - PAD // 2,
                                max(span) + PAD // 2))
    spines = []
    for net, x in spine_x.items():
        ys = [t.y for t in tracks if t.net == net]
        spines.append((net, x, min(ys), height if net in external else max(ys)))
    width = (max(spine_x.values()) + PAD // 2) if spine_x else right
    return MacroPlan(tuple(placed), tuple(tracks), tuple(spines), tuple((n, spine_x[n]) for n in external),
                     width, height, _shared_nwell(placed))


def _track_order(lower: list[tuple[str, int]], upper: list[tuple[str, int]]) -> list[str] | None:
    """Bottom-to-top track order for a channel between ``lower`` and ``upper`` stubs ((net, x)
    each), or None if there is none: a stub rising from below and one coming down from above
    closer than a column pitch in x must not overlap, so the lower one's track goes below."""
    nets = sorted({net for net, _ in lower} | {net for net, _ in upper})
    below: dict[str, set[str]] = {net: set() for net in nets}  # net -> nets whose tracks must lie under it
    for net_low, x_low in lower:
        for net_up, x_up in upper:
            if net_low != net_up and abs(x_low - x_up) < COLUMN_PITCH:
                below[net_up].add(net_low)
    order: list[str] = []
    while len(order) < len(nets):  # Kahn's algorithm, ties by name (deterministic)
        ready = [n for n in nets if n not in order and below[n] <= set(order)]
        if not ready:
            return None
        order.append(ready[0])
    return order


def _channel_height(nets: int) -> int:
    """Margin, ``nets`` tracks, margin: a pad's half and the metal spacing on each side."""
    return 2 * (METAL_SP + PAD // 2) + (max(nets, 1) - 1) * TRACK_PITCH


def _place_row(padded: list[PaddedBlock]) -> list[tuple[PaddedBlock, int]]:
    """Blocks left to right with their origin x: pads and metal ``METAL_SP`` apart, sub-cells
    (implants) ``IMPLANT_SP`` apart (nsd.2, psd.2)."""
    items = []
    x = 0
    previous_box_right: int | None = None
    for p in padded:
        origin = x - p.left
        if previous_box_right is not None:
            origin = max(origin, previous_box_right + IMPLANT_SP - p.bbox.left)
        items.append((p, origin))
        x = origin + p.right + METAL_SP
        previous_box_right = origin + p.bbox.right
    return items


def _shared_nwell(placed: list[PlacedBlock]) -> tuple[int, int, int, int] | None:
    """One n-well over every PMOS block's well (their bounding box)."""
    boxes = []
    for item in placed:
        if item.padded.block.polarity != "p":
            continue
        cell = item.padded.block.component.kdb_cell
        well = cell.bbox(cell.layout().layer(*L.NWELL.gds))
        (x0, y0), (x1, y1) = item.at(well.left, well.bottom), item.at(well.right, well.top)
        boxes.append(kdb.Box(x0, y0, x1, y1))
    if not boxes:
        return None
    return (min(b.left for b in boxes), min(b.bottom for b in boxes),
            max(b.right for b in boxes), max(b.top for b in boxes))


def _square(d: Draw, layer: L.Layer, x: int, y: int, size: int) -> None:
    d.rect(layer, *square(x, y, size))


def _via1(d: Draw, x: int, y: int, met1_pad: bool = True) -> None:
    """A via1 with its met2 pad, and its met1 pad unless a track (which encloses it) runs there."""
    _square(d, L.VIA, x, y, VIA)
    if met1_pad:
        _square(d, L.MET1, x, y, PAD)
    _square(d, L.MET2, x, y, PAD)


def draw_macro(c: gf.Component, plan: MacroPlan) -> dict[str, kdb.Box]:
    """Draw ``plan`` into ``c``; returns each external net's port box (met2, at the top edge)."""
    d = Draw(c)
    track_y = {(t.channel, t.net): t.y for t in plan.tracks}
    stub_ends: dict[tuple[int, str], list[int]] = {}
    for item in plan.placed:
        c.icreate_inst(item.padded.block.component, kdb.Trans(0, item.flipped, item.x, item.y))  # m0: y -> -y
        for column in item.padded.columns:
            for port in column.ports:
                _draw_jog(d, item, column, port)
            x, y_far = item.at(column.x, column.y_low)  # the pad farthest from the channel
            d.rect(L.MET2, x - STUB_W // 2, y_far, x - STUB_W // 2 + STUB_W, track_y[(item.channel, column.net)])
            stub_ends.setdefault((item.channel, column.net), []).append(x)
    for key, xs in sorted(stub_ends.items()):
        _stub_vias(d, sorted(xs), track_y[key])
    for track in plan.tracks:
        d.rect(L.MET1, track.x0, track.y - TRACK_W // 2, track.x1, track.y - TRACK_W // 2 + TRACK_W)
    ports: dict[str, kdb.Box] = {}
    external = dict(plan.ports)
    for net, x, y0, y1 in plan.spines:
        d.rect(L.MET2, x - STUB_W // 2, y0, x - STUB_W // 2 + STUB_W, y1)
        for track in plan.tracks:
            if track.net == net:
                _via1(d, x, track.y, met1_pad=False)
        if net in external:
            ports[net] = d.rect(L.MET2, x - PAD // 2, y1 - PAD, x + PAD // 2, y1)
    if plan.nwell is not None:
        d.rect(L.NWELL, *plan.nwell)
    return ports


def macro_component(plan: MacroPlan) -> gf.Component:
    """``plan`` drawn into a new component: each external net a met2 port facing north on the
    top edge (pin shape and label), and the boundary."""
    c = gf.Component()
    ports = draw_macro(c, plan)
    d = Draw(c)
    for net, _ in plan.ports:
        d.pin(net, "met2", ports[net], "n")
    d.boundary()
    return c


def _stub_vias(d: Draw, xs: list[int], y: int) -> None:
    """Via1s where one net's stubs meet its track. Stubs from the two rows of a channel may
    land closer than a column pitch: one via serves both, and a met2 bridge joins their pads
    (no other stub can lie between them: within a row, columns are a pitch apart)."""
    last: int | None = None
    for x in xs:
        if last is not None and x - last < COLUMN_PITCH:
            if x > last:
                d.rect(L.MET2, last, y - PAD // 2, x, y - PAD // 2 + PAD)
            if x - last < VIA + nm(R.VIA_SPACE):
                continue
        _via1(d, x, y, met1_pad=False)
        last = x


def _draw_jog(d: Draw, item: PlacedBlock, column: Column, port: Port) -> None:
    """The port's metal from the block edge to the column, and its pad there."""
    x, y = item.at(column.x, port.y)
    px, _ = item.at(port.x, port.y)
    x0, x1 = sorted((px, x + (PAD // 2 if column.side == "e" else -PAD // 2)))
    layer = L.MET1 if port.metal == "met1" else L.MET2
    d.rect(layer, x0, y - port.width // 2, x1, y - port.width // 2 + port.width)  # widths are even
    if port.metal == "met1":
        _via1(d, x, y)
    else:
        _square(d, L.MET2, x, y, PAD)
