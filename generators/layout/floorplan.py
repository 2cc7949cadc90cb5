"""Flat device list → placed and routed GDS (klayout.db), plus a PNG rendering.

The schematic netlist is the single description of the circuit: :mod:`generators.circuit.netlist`
flattens it to MOSFETs, :mod:`generators.layout.groups` finds the matched groups among them; this
module draws each group as one interdigitated row (:func:`group_cell`) and every other MOSFET
as its own transistor cell (:func:`transistor_cell`, its multiplier as fingers), places the
cells in rows and wires them with :mod:`generators.layout.route`. Pins and labels on met3 carry the
schematic's top-level port names, so LVS compares like with like.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import klayout.db as kdb

from generators.layout import route
from generators.layout.groups import DeviceGroup
from generators.layout.pads import Jog, check_jogs, least_area, metal_of
from generators.circuit.netlist import Device
from pdk_sky130_180 import layers as L
from pdk_sky130_180.devices import fet

CELL_GAP = 2700  # dbu between cells in a row: room for both cells' pin pads (two columns each
# side); also clears n-well spacing (nwell.2a) and n-well to n+ diff (difftap.9) between cells
PAD_OFFSET = 500  # dbu from a cell's edge to its nearest pin-pad column


@dataclass(frozen=True)
class CellTemplate:
    """A cell already in the target layout, and where its pins' pads are.

    Pins are named as the placed item names its nets: a device's terminals (d, g, s, b), a
    group's pins (gate, source, body, d<i>)."""

    cell_index: int
    width: int  # dbu, the cell's bounding box starts at (0, 0)
    height: int
    pins: dict[str, tuple[int, int]]  # pin -> pad centre, dbu, cell coordinates
    pin_layers: dict[str, str]  # pin -> "met1" or "met2"


CellFactory = Callable[[kdb.Layout, Device], CellTemplate]
GroupCellFactory = Callable[[kdb.Layout, DeviceGroup], CellTemplate]


@dataclass(frozen=True)
class Macro:
    """Devices drawn as one placed-and-routed cell of their own (a BMRU cell,
    :mod:`generators.layout.cells.bmru_cell`): ``component`` draws them, and its ports, met2 on its top
    edge, are the pins; ``nets`` gives each pin's net in the flat netlist."""

    name: str  # the instance path, e.g. "layer0/cell1": where it goes in the placement order
    devices: tuple[Device, ...]
    nets: dict[str, str] = field(hash=False)
    component: object = field(hash=False, compare=False, repr=False)  # gf.Component
    order: str | None = None  # where it goes in the placement order, if not at ``name``

    def key(self) -> tuple:
        """Macros with equal keys draw the same cell (the component's name holds its parameters)."""
        return ("macro", self.component.name)


Placeable = Device | DeviceGroup | Macro  # all name their pins' nets in ``.nets``


@dataclass(frozen=True)
class PlacedDevice:
    """A placed cell: one device, or a matched group (``devices`` lists its members)."""

    name: str
    x: int  # dbu, lower-left corner of the cell (pads included)
    y: int
    width: int
    height: int
    pins: dict[str, tuple[int, int]]  # pin -> absolute pad centre, dbu
    devices: tuple[tuple[str, int], ...] = ()  # a group's (device name, fingers); () for one device


@dataclass(frozen=True)
class LayoutResult:
    top_cell: str
    width_um: float
    height_um: float
    devices: int
    rows: int
    spine_nets: int
    placed: tuple[PlacedDevice, ...]
    groups: int = 0  # matched-group cells among ``placed``


def device_key(device: Device) -> tuple:
    return (device.model, device.w_um, device.l_um, device.multiplier)


def template_key(item: Placeable) -> tuple:
    return device_key(item) if isinstance(item, Device) else item.key()


def placement_name(item: Placeable) -> str:
    """Where an item goes in the hierarchical order: a group where its first member would."""
    if isinstance(item, DeviceGroup):
        return min(d.name for d in item.devices)
    return (item.order or item.name) if isinstance(item, Macro) else item.name


def placement_order(items: list[Placeable]) -> list[Placeable]:
    """The schematic's hierarchical order (by name), a group where its first member would be,
    and right after each group the device stacked on each member's drain (the one device whose
    source is that net: a weight mirror's cascode, a receiver's input device), member by
    member. The node between a member and its cascode then stays inside one row instead of
    running from the group's row to the cascode's block (on the reference array this takes a
    fifth off the area)."""
    singles = [item for item in items if isinstance(item, Device)]
    sourced: dict[str, list[Device]] = {}
    for device in singles:
        sourced.setdefault(device.nets["s"], []).append(device)
    stacked_after: dict[str, tuple[str, int]] = {}  # device name -> (group position, member index)
    for group in (item for item in items if isinstance(item, DeviceGroup)):
        for index, member in enumerate(group.devices):
            on_drain = sourced.get(member.nets["d"], [])
            if len(on_drain) == 1:
                stacked_after.setdefault(on_drain[0].name, (placement_name(group), index + 1))

    def key(item: Placeable) -> tuple:
        if item.name in stacked_after:
            return (*stacked_after[item.name], item.name)
        return (placement_name(item), 0, "")

    return sorted(items, key=key)


def _rows(items: list[Placeable], templates: dict[tuple, CellTemplate], max_width: int) -> list[list[Placeable]]:
    """Fill rows left to right in the given (hierarchical) order, so a block's devices stay
    together and most of its nets stay inside one row's channel. nfets and pfets may share a
    row: every pfet cell carries its own n-well, and CELL_GAP clears the well rules."""
    rows: list[list[Placeable]] = []
    current: list[Placeable] = []
    used = 0
    for item in items:
        width = templates[template_key(item)].width + CELL_GAP
        if current and used + width > max_width:
            rows.append(current)
            current, used = [], 0
        current.append(item)
        used += width
    if current:
        rows.append(current)
    return rows


@dataclass(frozen=True)
class Floorplan:
    """Where every cell goes for one row width, and the routing that goes with it."""

    row_width: int  # dbu, the widest a row may fill
    placed: tuple[PlacedDevice, ...]
    rows: int
    plan: route.RoutePlan

    @property
    def area(self) -> int:
        return self.plan.width * self.plan.height


def floorplan(items: list[Placeable], templates: dict[tuple, CellTemplate], row_width: int,
              top_pins: tuple[str, ...], net_order: route.NetOrder, pack: bool = False) -> Floorplan:
    """Rows of ``items`` (in their order) at most ``row_width`` wide, each with its channel above."""
    rows = _rows(items, templates, row_width)
    row_x: list[list[int]] = []  # each item's x in its row
    for row in rows:
        xs = [0]
        for item in row[:-1]:
            xs.append(xs[-1] + templates[template_key(item)].width + CELL_GAP)
        row_x.append(xs)
    right = max(xs[-1] + templates[template_key(row[-1])].width + CELL_GAP for row, xs in zip(rows, row_x))
    sides = route.spine_sides([[route.Pin(net, x + templates[template_key(item)].pins[pin][0], 0)
                                for item, x in zip(row, xs) for pin, net in item.nets.items()]
                               for row, xs in zip(rows, row_x)], right, two_sided=pack)
    pins_by_row: list[list[route.Pin]] = []
    placed: list[PlacedDevice] = []
    row_tops: list[int] = []
    y = 0
    for row, xs in zip(rows, row_x):
        height = max(templates[template_key(i)].height for i in row)
        pins: list[route.Pin] = []
        for item, x in zip(row, xs):
            template = templates[template_key(item)]
            for pin, net in item.nets.items():
                px, py = template.pins[pin]
                pins.append(route.Pin(net, x + px, y + py, template.pin_layers[pin]))
            members = () if isinstance(item, Device) else tuple((d.name, d.multiplier) for d in item.devices)
            placed.append(PlacedDevice(item.name, x, y, template.width, template.height,
                                       {p: (x + px, y + py) for p, (px, py) in template.pins.items()}, members))
        pins_by_row.append(pins)
        row_tops.append(y + height)
        tracks = route.channel_tracks(pins, sides, net_order, pack)
        y = y + height + route.channel_height(max(tracks.values(), default=0) + 1, pack)
    plan = route.route(pins_by_row, row_tops, right, top_pins, net_order, pack)
    if plan.left < 0:  # the west spine: everything moves east so the block starts at x = 0
        shift = -plan.left
        plan = route.shifted(plan, shift)
        placed = [replace(p, x=p.x + shift, pins={name: (x + shift, y) for name, (x, y) in p.pins.items()})
                  for p in placed]
    return Floorplan(row_width, tuple(placed), len(rows), plan)


MAX_ASPECT = 3.0  # the automatic row width keeps the block within 1:3 .. 3:1


def smallest_floorplan(items: list[Placeable], templates: dict[tuple, CellTemplate],
                       top_pins: tuple[str, ...], net_order: route.NetOrder, pack: bool = False) -> Floorplan:
    """The floorplan of least area over a range of row widths around a square block's.

    Routing channels, not cells, take most of the area, and how many nets a channel carries
    depends on where the rows break, so the area is measured rather than guessed; routing is
    cheap next to drawing. Ties go to the narrower row (first tried)."""
    widest = max(templates[template_key(i)].width + CELL_GAP for i in items)
    cells = sum((templates[template_key(i)].width + CELL_GAP) * templates[template_key(i)].height for i in items)
    square = math.sqrt(3 * cells)  # a square block if channels took twice the cells' area
    widths = sorted({max(40 * route.NM, widest, int(square * (0.4 + 0.05 * k))) for k in range(33)})
    plans = [floorplan(items, templates, width, top_pins, net_order, pack) for width in widths]
    return least_area(plans, lambda f: (f.plan.width, f.plan.height), MAX_ASPECT)


def build(devices: list[Device], top_pins: tuple[str, ...], top_name: str, make_cell: CellFactory,
          row_width_um: float | None = None, net_order: route.NetOrder = route.by_name,
          groups: Sequence[DeviceGroup] = (), make_group_cell: GroupCellFactory | None = None,
          macros: Sequence[Macro] = (), pack: bool = False) -> tuple[kdb.Layout, LayoutResult]:
    """Place and route ``devices`` into a new layout whose top cell is ``top_name``
    (``net_order``: which nets' tracks run side by side, see :func:`generators.layout.route.route`).
    Devices in ``groups`` are drawn together, one ``make_group_cell`` cell per group; devices
    in ``macros`` by each macro's own cell (:func:`macro_cell`). Rows are at most
    ``row_width_um`` wide; None: the width of least area (:func:`smallest_floorplan`).
    ``pack``: nets on disjoint spans share channel tracks and spine columns
    (:func:`generators.layout.route.channel_tracks`, :func:`generators.layout.route.spine_columns`)."""
    if not devices:
        raise ValueError("the netlist has no devices to lay out")
    if groups and make_group_cell is None:
        raise ValueError("groups given without a cell factory for them")
    in_macros = {d.name for macro in macros for d in macro.devices}
    if any(d.name in in_macros for group in groups for d in group.devices):
        raise ValueError("a device is both in a matched group and in a macro")
    grouped = in_macros | {d.name for group in groups for d in group.devices}
    items = placement_order([d for d in devices if d.name not in grouped] + list(groups) + list(macros))
    layout = kdb.Layout()
    layout.dbu = 1.0 / route.NM
    templates: dict[tuple, CellTemplate] = {}
    for item in items:
        key = template_key(item)
        if key not in templates:
            if isinstance(item, Macro):
                templates[key] = macro_cell(layout, item)
            elif isinstance(item, DeviceGroup):
                templates[key] = make_group_cell(layout, item)
            else:
                templates[key] = make_cell(layout, item)
    if row_width_um is None:
        chosen = smallest_floorplan(items, templates, top_pins, net_order, pack)
    else:
        chosen = floorplan(items, templates, int(row_width_um * route.NM), top_pins, net_order, pack)

    top = layout.create_cell(top_name)
    for item, placed in zip(items, chosen.placed):
        top.insert(kdb.CellInstArray(templates[template_key(item)].cell_index, kdb.Trans(placed.x, placed.y)))
    plan = chosen.plan
    for rect in plan.rects:
        layer = layout.layer(*L.ROUTING[rect.layer].gds)
        top.shapes(layer).insert(kdb.Box(rect.left, rect.bottom, rect.right, rect.top))
    pin_layer = layout.layer(*L.MET3_PIN.gds)
    label_layer = layout.layer(*L.MET3_LABEL.gds)
    half = route.TRACK_WIDTH // 2
    for net in top_pins:
        x, y_track, _, _ = route.pin_label_position(plan, net)
        top.shapes(pin_layer).insert(kdb.Box(x - half, y_track - half, x + half, y_track + half))
        top.shapes(label_layer).insert(kdb.Text(net, kdb.Trans(x, y_track)))
    boundary = layout.layer(*L.PR_BOUNDARY.gds)
    top.shapes(boundary).insert(top.bbox())
    box = top.dbbox()
    return layout, LayoutResult(top_name, round(box.width(), 3), round(box.height(), 3), len(devices),
                                chosen.rows, len(plan.spine), chosen.placed, len(groups))


# terminal names of generators.layout.cells.transistor ports
PORT_OF_TERMINAL = {"d": "drain", "g": "gate", "s": "source", "b": "body"}


def transistor_cell(layout: kdb.Layout, device: Device) -> CellTemplate:
    """The project's multi-finger transistor (one finger per unit of the multiplier), wrapped
    with a pin pad per terminal outside its bounding box (see :func:`_wrap_with_pads`)."""
    from generators.layout.cells import transistor  # gdsfactory; imported only when drawing

    polarity = fet(device.model).polarity
    component = transistor.mosfet(polarity=polarity, w=device.w_um, l=device.l_um,
                                  fingers=device.multiplier, tap=True)
    name = f"{polarity}fet_w{device.w_um:g}_l{device.l_um:g}_f{device.multiplier}".replace(".", "p")
    return _wrap_with_pads(layout, component, PORT_OF_TERMINAL, name, device.name)


def group_cell(layout: kdb.Layout, group: DeviceGroup) -> CellTemplate:
    """A matched group as one interdigitated row (:func:`generators.layout.cells.group.matched_row`,
    dummies at both ends), wrapped with a pin pad per pin: gate, source, body, one per drain."""
    from generators.layout.cells import group as group_cells  # gdsfactory; imported only when drawing

    polarity = fet(group.model).polarity
    component = group_cells.matched_row(polarity=polarity, w=group.w_um, l=group.l_um, fingers=group.fingers,
                                        diode=group.diode, dummies=True, tap=True)
    shape = hashlib.sha256(repr((group.fingers, group.diode)).encode()).hexdigest()[:10]
    name = f"{polarity}group_w{group.w_um:g}_l{group.l_um:g}_{shape}".replace(".", "p")
    return _wrap_with_pads(layout, component, {pin: pin for pin in group.nets}, name, group.name)


def macro_cell(layout: kdb.Layout, macro: Macro) -> CellTemplate:
    """A macro's component copied into ``layout`` and re-origined at (0, 0). Its ports are met2
    pads on its top edge, one per pin at distinct x: the router's stub rises straight from
    each, so no pad wrapper is needed (the macro keeps its met2 inside its bounding box)."""
    component = macro.component
    inner = layout.create_cell(component.name)
    inner.copy_tree(component.kdb_cell)
    box = inner.bbox()
    cell = layout.create_cell(component.name + "_p")
    cell.insert(kdb.CellInstArray(inner.cell_index(), kdb.Trans(-box.left, -box.bottom)))
    pins: dict[str, tuple[int, int]] = {}
    for pin in macro.nets:
        port = component.ports[pin]
        if port.orientation != 90 or (port.layer_info.layer, port.layer_info.datatype) != L.MET2.gds:
            raise ValueError(f"{macro.name}: pin {pin} must be a met2 port facing north")
        x, y = int(round(port.dcenter[0] * route.NM)), int(round(port.dcenter[1] * route.NM))
        pins[pin] = (x - box.left, y - route.VIA1_PAD // 2 - box.bottom)  # the pad under the top edge
    return CellTemplate(cell.cell_index(), box.width(), box.height(), pins, {pin: "met2" for pin in pins})


def _wrap_with_pads(layout: kdb.Layout, component, port_of_pin: dict[str, str], name: str,
                    what: str) -> CellTemplate:
    """Copy ``component`` into ``layout`` with a pin pad per pin outside its bounding box, on
    distinct x columns, and re-origin it at (0, 0).

    Each port is extended straight out of its side (east or west) to a pad column. The
    router's met2 stub rises from every pad, so a met2 jog may pass a nearer column only
    below its pad: met2 ports take the columns nearest the cell, the highest nearest. met1
    ports take the columns beyond; a met1 jog may pass a nearer met1 pad only if it clears it.
    """
    wrapper = layout.create_cell(name)
    inner = layout.create_cell(component.name)
    inner.copy_tree(component.kdb_cell)
    box = inner.bbox()
    ports = {}
    for pin, port_name in port_of_pin.items():
        port = component.ports[port_name]
        metal = metal_of(port)
        side = "e" if port.orientation == 0 else "w"
        ports[pin] = (int(round(port.dcenter[0] * route.NM)), int(round(port.dcenter[1] * route.NM)),
                      int(port.width), metal, side)
    pins: dict[str, tuple[int, int]] = {}
    layers: dict[str, str] = {}
    for side, edge, step in (("e", box.right + PAD_OFFSET, route.STUB_PITCH),
                             ("w", box.left - PAD_OFFSET, -route.STUB_PITCH)):
        on_side = sorted((p for p in ports if ports[p][4] == side),
                         key=lambda p: (ports[p][3] != "met2", -ports[p][1] if ports[p][3] == "met2" else 0, p))
        for column, pin in enumerate(on_side):
            px, py, width, metal, _ = ports[pin]
            x = edge + column * step
            half_pad = route.VIA1_PAD // 2
            x0, x1 = sorted((px, x + (half_pad if step > 0 else -half_pad)))
            inner_layer = layout.layer(*(L.MET1 if metal == "met1" else L.MET2).gds)
            wrapper.shapes(inner_layer).insert(kdb.Box(x0, py - width // 2, x1, py - width // 2 + width))
            pins[pin] = (x, py)
            layers[pin] = metal
        check_jogs(what, [(pin, [Jog(pin, ports[pin][1], ports[pin][2], layers[pin])]) for pin in on_side])
    wrapper.insert(kdb.CellInstArray(inner.cell_index(), kdb.Trans()))
    full = wrapper.bbox()
    # re-origin the wrapper so its bounding box starts at (0, 0)
    shifted = layout.create_cell(wrapper.name + "_p")
    shifted.insert(kdb.CellInstArray(wrapper.cell_index(), kdb.Trans(-full.left, -full.bottom)))
    return CellTemplate(shifted.cell_index(), full.width(), full.height(),
                        {p: (x - full.left, y - full.bottom) for p, (x, y) in pins.items()}, layers)


def write_gds(layout: kdb.Layout, path: str | os.PathLike) -> None:
    """Write GDS deterministically (no timestamps, no context info) and atomically."""
    from generators.layout.cells import write_gds as write_cells_gds  # one set of GDS writer options

    write_cells_gds(layout, path)
