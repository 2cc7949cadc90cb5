"""Row placement and channel routing: correct by construction, so LVS holds for any netlist.

Floorplan (all lengths in database units of 1 nm, on the 5 nm grid):

    spine (met2 columns, one per net used in more than one channel) ──────────────┐
    channel 1: one met3 track per net touched by row 1                      ─ ─ ─ │
    row 1:     device cells (pfet rows share one n-well)                          │
    channel 0: one met3 track per net touched by row 0                      ─ ─ ─ │
    row 0:     device cells                                                       │

Every device terminal is a met1 pad; a via1 on it starts a vertical met2 stub that runs up,
straight, to its net's met3 track in the channel above its row, where a via2 joins them.
Stubs of one row sit at distinct x (the cells guarantee a pin pitch), tracks at distinct y,
and spine columns at distinct x right of every row, so two nets can only meet on different
metal layers, never touch. Cells draw nothing above met2, and met2 only inside their own
bounding box (pin pads sit outside it, see :func:`generators.layout.floorplan.transistor_cell`).

Packed (``pack=True``, the crossbar floorplan): a second spine on the west side takes the nets
whose pins lie nearer it, nets whose tracks do not overlap in x share a track, and nets on
disjoint ranges of rows share a spine column. The same invariants hold: tracks of one y never
overlap, spine segments of one x never overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pdk_sky130_180 import rules as R
from pdk_sky130_180.wires import ARRAY_TRACK, DBU_PER_UM, GRID, STUB, STUB_PITCH, VIA1_PAD, VIA2_PAD_M2, dbu, square

NM = DBU_PER_UM  # database units per µm


# via1 landing pads (met1 and met2) and via2 landing pads (met2 and met3), from the rules
VIA1 = dbu(R.VIA_SIZE.value)
VIA2 = dbu(R.VIA2_SIZE.value)
# the wire types (pdk_sky130_180.wires): met3 tracks, met2 stubs and spines
TRACK_WIDTH, TRACK_PITCH, TRACK_MIN_LENGTH = ARRAY_TRACK.width, ARRAY_TRACK.pitch, ARRAY_TRACK.min_length
STUB_WIDTH = STUB.width
CHANNEL_MARGIN = 2 * NM  # clear space between a row's cells and the channel's first/last track
# packed channels: the least margin the rules allow. Cells keep met2 and below inside their box
# and a crossbar has met3 inside it, so a track's via2 landing and the track itself need their
# spacing to the rows; and a channel of one track still spaces two rows' n-wells (nwell.2a).
PACKED_CHANNEL_MARGIN = max(dbu(R.M3_SPACE.value), dbu(R.M2_SPACE.value) + (VIA2_PAD_M2 - TRACK_PITCH) // 2,
                            (dbu(R.NWELL_SPACE) - TRACK_PITCH) // 2) + 2 * GRID


@dataclass(frozen=True)
class Pin:
    """A terminal's pad centre (absolute, dbu), its metal and the net it belongs to."""

    net: str
    x: int
    y: int
    layer: str = "met1"  # "met1" (the router adds a via1) or "met2" (the stub starts on it)


@dataclass(frozen=True)
class Rect:
    layer: str  # a routing layer name: met1, via, met2, via2, met3
    left: int
    bottom: int
    right: int
    top: int


@dataclass
class RoutePlan:
    """Everything the router draws, as plain rectangles, plus where each net's track runs."""

    rects: list[Rect] = field(default_factory=list)
    tracks: dict[tuple[int, str], tuple[int, int, int]] = field(default_factory=dict)  # (row, net) -> (y, x0, x1)
    spine: dict[str, int] = field(default_factory=dict)  # net -> column x
    width: int = 0  # east edge
    height: int = 0
    left: int = 0  # west edge (below 0 when nets use the west spine)


def _square(layer: str, x: int, y: int, size: int) -> Rect:
    return Rect(layer, *square(x, y, size))


def channel_margin(pack: bool = False) -> int:
    return PACKED_CHANNEL_MARGIN if pack else CHANNEL_MARGIN


def channel_height(tracks: int, pack: bool = False) -> int:
    return 2 * channel_margin(pack) + max(tracks, 1) * TRACK_PITCH


def check_pin_pitch(row: int, pins: list[Pin]) -> None:
    """Stubs of one row must not touch: their x must differ by at least STUB_PITCH."""
    xs = sorted(p.x for p in pins)
    for a, b in zip(xs, xs[1:]):
        if b - a < STUB_PITCH:
            raise ValueError(f"row {row}: two pins {(b - a) / NM:.3f} µm apart in x, the router needs "
                             f"{STUB_PITCH / NM:.3f} µm (cell pin pitch too small)")


NetOrder = Callable[[str], tuple]  # sort key of a net: tracks and spine columns follow it


def by_name(net: str) -> tuple:
    return (net,)


def spine_columns(rows_of_net: dict[str, list[int]], net_order: NetOrder, pack: bool) -> dict[str, int]:
    """The spine column (0, 1, ...) of every net used in more than one channel. ``pack``: nets
    whose channel ranges do not overlap share a column (left-edge packing: as many columns as
    nets crossing the busiest row gap); otherwise one column each, in ``net_order``."""
    nets = sorted((n for n, r in rows_of_net.items() if len(r) > 1), key=net_order)
    if not pack:
        return {net: column for column, net in enumerate(nets)}
    column_of: dict[str, int] = {}
    last_channel: list[int] = []  # per column, the highest channel it serves so far
    for net in sorted(nets, key=lambda n: (min(rows_of_net[n]), net_order(n))):
        first = min(rows_of_net[net])
        free = next((c for c, last in enumerate(last_channel) if last < first), None)
        if free is None:
            free = len(last_channel)
            last_channel.append(0)
        last_channel[free] = max(rows_of_net[net])
        column_of[net] = free
    return column_of


def _track_span(xs: list[int], side: str | None) -> tuple[int | None, int | None]:
    """The x extent of a track through pins at ``xs``; None where it runs on to the west (side
    "w") or east ("e") spine."""
    x0 = min(xs) - TRACK_WIDTH // 2
    x1 = max(max(xs) + TRACK_WIDTH // 2, x0 + TRACK_MIN_LENGTH)
    return (None if side == "w" else x0), (None if side == "e" else x1)


def spine_sides(rows: list[list[Pin]], row_right: int, two_sided: bool = False) -> dict[str, str]:
    """The spine side ("w" or "e") of each net used in more than one row: east, or with
    ``two_sided`` the side nearer its pins (a west net's track and an east net's can then share
    one track of a channel)."""
    xs: dict[str, list[int]] = {}
    rows_of: dict[str, set[int]] = {}
    for index, pins in enumerate(rows):
        for pin in pins:
            xs.setdefault(pin.net, []).append(pin.x)
            rows_of.setdefault(pin.net, set()).add(index)
    return {net: "w" if two_sided and min(xs[net]) < row_right - max(xs[net]) else "e"
            for net in xs if len(rows_of[net]) > 1}


def channel_tracks(pins: list[Pin], sides: dict[str, str], net_order: NetOrder = by_name,
                   pack: bool = False) -> dict[str, int]:
    """Each net's track in a row's channel (0 = lowest), in ``net_order``. ``sides``: the spine
    side of every spine net (:func:`spine_sides`). ``pack``: nets whose tracks do not overlap in
    x share a track (left-edge packing; a spine net's track runs on to its spine). Tracks are met3
    and stubs met2, so a stub may pass under any other net's track."""
    nets = channel_nets(pins, net_order)
    if not pack:
        return {net: position for position, net in enumerate(nets)}
    spans = {net: _track_span([p.x for p in pins if p.net == net], sides.get(net)) for net in nets}
    position_of: dict[str, int] = {}
    ends: list[int | None] = []  # per track, where its last net ends (None: at the east spine)
    west = -(1 << 62)
    for net in sorted(nets, key=lambda n: (west if spans[n][0] is None else spans[n][0], net_order(n))):
        x0, x1 = spans[net]
        free = next((k for k, end in enumerate(ends) if x0 is not None and end is not None and end + TRACK_PITCH <= x0),
                    None)
        if free is None:
            free = len(ends)
            ends.append(None)
        ends[free] = x1
        position_of[net] = free
    return position_of


def route(rows: list[list[Pin]], row_tops: list[int], row_right: int,
          top_pins: tuple[str, ...], net_order: NetOrder = by_name, pack: bool = False) -> RoutePlan:
    """Route every net. ``row_tops[k]`` is the top edge of row k; channel k lies above it.

    The caller places row k+1 at ``row_tops[k] + channel_height(tracks of row k)``, the
    tracks that :func:`channel_tracks` assigns (with the :func:`spine_sides` of all rows). Top-level
    pins get their label on their track in the lowest channel that carries them. Tracks in a
    channel and spine columns are ordered by ``net_order``, which decides which nets run side by
    side (and so couple). ``pack``: a spine on each side, the one nearer a net's pins, and nets
    on disjoint spans share tracks (:func:`channel_tracks`) and spine columns
    (:func:`spine_columns`); the west spine lies left of x = 0 (:func:`shifted` moves it).
    """
    plan = RoutePlan()
    channels = [channel_nets(pins, net_order) for pins in rows]
    rows_of_net: dict[str, list[int]] = {}
    for index, nets in enumerate(channels):
        for net in nets:
            rows_of_net.setdefault(net, []).append(index)
    missing = [p for p in top_pins if p not in rows_of_net]
    if missing:
        raise ValueError(f"top-level pins connect to no device: {', '.join(missing)}")
    sides = spine_sides(rows, row_right, two_sided=pack)
    east_x, west_x = row_right + 2 * NM, -2 * NM
    for side, first, step in (("e", east_x, STUB_PITCH), ("w", west_x, -STUB_PITCH)):
        columns = spine_columns({n: rows_of_net[n] for n in sides if sides[n] == side}, net_order, pack)
        for net, column in columns.items():
            plan.spine[net] = first + column * step
    east = [x for net, x in plan.spine.items() if sides[net] == "e"]
    west = [x for net, x in plan.spine.items() if sides[net] == "w"]
    plan.width = (max(east) + STUB_PITCH + NM) if east else row_right + NM
    plan.left = (min(west) - STUB_PITCH - NM) if west else 0

    for index, (pins, nets) in enumerate(zip(rows, channels)):
        check_pin_pitch(index, pins)
        base = row_tops[index] + channel_margin(pack) + TRACK_PITCH // 2
        positions = channel_tracks(pins, sides, net_order, pack)
        track_y = {net: base + position * TRACK_PITCH for net, position in positions.items()}
        for net in nets:
            x0, x1 = _track_span([p.x for p in pins if p.net == net], sides.get(net))
            if x1 is None:
                x1 = max(plan.spine[net] + TRACK_WIDTH // 2, x0 + TRACK_MIN_LENGTH)
            if x0 is None:
                x0 = min(plan.spine[net] - TRACK_WIDTH // 2, x1 - TRACK_MIN_LENGTH)
            y = track_y[net]
            plan.tracks[(index, net)] = (y, x0, x1)
            plan.rects.append(Rect("met3", x0, y - TRACK_WIDTH // 2, x1, y - TRACK_WIDTH // 2 + TRACK_WIDTH))
            if net in plan.spine:
                plan.rects += _via2_stack(plan.spine[net], y)
        for pin in pins:
            y = track_y[pin.net]
            if pin.layer == "met1":
                plan.rects.append(_square("via", pin.x, pin.y, VIA1))
                plan.rects.append(_square("met1", pin.x, pin.y, VIA1_PAD))
            plan.rects.append(_square("met2", pin.x, pin.y, VIA1_PAD))
            plan.rects.append(Rect("met2", pin.x - STUB_WIDTH // 2, pin.y, pin.x - STUB_WIDTH // 2 + STUB_WIDTH, y))
            plan.rects += _via2_stack(pin.x, y)
        plan.height = max(plan.height, row_tops[index] + channel_height(max(positions.values(), default=0) + 1, pack))

    for net, x in plan.spine.items():
        ys = [plan.tracks[(r, net)][0] for r in rows_of_net[net]]
        plan.rects.append(Rect("met2", x - STUB_WIDTH // 2, min(ys), x - STUB_WIDTH // 2 + STUB_WIDTH, max(ys)))
    return plan


def shifted(plan: RoutePlan, dx: int) -> RoutePlan:
    """The same plan ``dx`` to the east (its west edge then at ``plan.left + dx``)."""
    return RoutePlan([Rect(r.layer, r.left + dx, r.bottom, r.right + dx, r.top) for r in plan.rects],
                     {key: (y, x0 + dx, x1 + dx) for key, (y, x0, x1) in plan.tracks.items()},
                     {net: x + dx for net, x in plan.spine.items()}, plan.width + dx, plan.height, plan.left + dx)


def _via2_stack(x: int, y: int) -> list[Rect]:
    return [_square("via2", x, y, VIA2), _square("met2", x, y, VIA2_PAD_M2)]


def channel_nets(pins: list[Pin], net_order: NetOrder = by_name) -> list[str]:
    """The nets a row's channel carries, in track order (bottom to top)."""
    return sorted({p.net for p in pins}, key=net_order)


def pin_label_position(plan: RoutePlan, net: str) -> tuple[int, int, int, int]:
    """(x, y, x0, x1) of the track that carries top-level pin ``net`` (lowest channel)."""
    row = min(r for (r, n) in plan.tracks if n == net)
    y, x0, x1 = plan.tracks[(row, net)]
    return x0 + TRACK_WIDTH // 2, y, x0, x1
