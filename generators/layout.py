"""Flat device list → placed and routed GDS (klayout.db), plus a PNG rendering.

The schematic netlist is the single description of the circuit: :mod:`generators.netlist`
flattens it to MOSFETs, this module draws one transistor cell per MOSFET (its multiplier as
fingers) in rows and wires them with :mod:`generators.route`. Pins and labels on met3 carry
the schematic's top-level port names, so LVS compares like with like.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import klayout.db as kdb

from generators import route
from generators.netlist import Device
from pdk_sky130_180 import layers as L
from pdk_sky130_180.devices import PFET, TERMINALS

ROUTING_LAYERS = {"met1": L.MET1, "via": L.VIA, "met2": L.MET2, "via2": L.VIA2, "met3": L.MET3}
CELL_GAP = 2700  # dbu between cells in a row: room for both cells' pin pads (two columns each
# side); also clears n-well spacing (nwell.2a) and n-well to n+ diff (difftap.9) between cells
PAD_OFFSET = 500  # dbu from a cell's edge to its nearest pin-pad column


@dataclass(frozen=True)
class CellTemplate:
    """A transistor cell already in the target layout, and where its terminals' met1 pads are."""

    cell_index: int
    width: int  # dbu, the cell's bounding box starts at (0, 0)
    height: int
    pins: dict[str, tuple[int, int]]  # terminal (d, g, s, b) -> pad centre, dbu, cell coordinates
    pin_layers: dict[str, str]  # terminal -> "met1" or "met2"


CellFactory = Callable[[kdb.Layout, Device], CellTemplate]


@dataclass(frozen=True)
class PlacedDevice:
    name: str
    x: int  # dbu, lower-left corner of the device's cell (pads included)
    y: int
    width: int
    height: int
    pins: dict[str, tuple[int, int]]  # terminal -> absolute pad centre, dbu


@dataclass(frozen=True)
class LayoutResult:
    top_cell: str
    width_um: float
    height_um: float
    devices: int
    rows: int
    spine_nets: int
    placed: tuple[PlacedDevice, ...]


def device_key(device: Device) -> tuple:
    return (device.model, device.w_um, device.l_um, device.multiplier)


def _rows(devices: list[Device], templates: dict[tuple, CellTemplate], max_width: int) -> list[list[Device]]:
    """Fill rows left to right in the given (hierarchical) order, so a block's devices stay
    together and most of its nets stay inside one row's channel. nfets and pfets may share a
    row: every pfet cell carries its own n-well, and CELL_GAP clears the well rules."""
    rows: list[list[Device]] = []
    current: list[Device] = []
    used = 0
    for device in devices:
        width = templates[device_key(device)].width + CELL_GAP
        if current and used + width > max_width:
            rows.append(current)
            current, used = [], 0
        current.append(device)
        used += width
    if current:
        rows.append(current)
    return rows


def build(devices: list[Device], top_pins: tuple[str, ...], top_name: str, make_cell: CellFactory,
          row_width_um: float | None = None,
          net_order: route.NetOrder = route.by_name) -> tuple[kdb.Layout, LayoutResult]:
    """Place and route ``devices`` into a new layout whose top cell is ``top_name``
    (``net_order``: which nets' tracks run side by side, see :func:`generators.route.route`)."""
    if not devices:
        raise ValueError("the netlist has no devices to lay out")
    layout = kdb.Layout()
    layout.dbu = 1.0 / route.NM
    templates: dict[tuple, CellTemplate] = {}
    for device in devices:
        key = device_key(device)
        if key not in templates:
            templates[key] = make_cell(layout, device)
    if row_width_um is None:  # aim for a roughly square block
        area = sum((templates[device_key(d)].width + CELL_GAP) * templates[device_key(d)].height * 3 for d in devices)
        row_width_um = max(40.0, math.sqrt(area) / route.NM)
    rows = _rows(sorted(devices, key=lambda d: d.name), templates, int(row_width_um * route.NM))

    top = layout.create_cell(top_name)
    pins_by_row: list[list[route.Pin]] = []
    placed: list[PlacedDevice] = []
    row_tops: list[int] = []
    y = 0
    right = 0
    for index, row in enumerate(rows):
        x = 0
        height = max(templates[device_key(d)].height for d in row)
        pins: list[route.Pin] = []
        for device in row:
            template = templates[device_key(device)]
            top.insert(kdb.CellInstArray(template.cell_index, kdb.Trans(x, y)))
            for terminal in TERMINALS:
                px, py = template.pins[terminal]
                pins.append(route.Pin(device.nets[terminal], x + px, y + py, template.pin_layers[terminal]))
            placed.append(PlacedDevice(device.name, x, y, template.width, template.height,
                                       {t: (x + px, y + py) for t, (px, py) in template.pins.items()}))
            x += template.width + CELL_GAP
        right = max(right, x)
        pins_by_row.append(pins)
        row_tops.append(y + height)
        y = y + height + route.channel_height(len(route.channel_nets(pins, net_order)))

    plan = route.route(pins_by_row, row_tops, right, top_pins, net_order)
    for rect in plan.rects:
        layer = layout.layer(*ROUTING_LAYERS[rect.layer].gds)
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
                                len(rows), len(plan.spine), tuple(placed))


# terminal names of generators.cells.transistor ports
PORT_OF_TERMINAL = {"d": "drain", "g": "gate", "s": "source", "b": "body"}
METAL_OF_LAYER = {L.MET1.gds: "met1", L.MET2.gds: "met2"}


def transistor_cell(layout: kdb.Layout, device: Device) -> CellTemplate:
    """The project's multi-finger transistor (one finger per unit of the multiplier), wrapped
    with a pin pad per terminal outside its bounding box, on distinct x columns.

    Each port is extended straight out of its side (east or west) to a pad column: met2
    ports get the column nearest the cell (so no met2 jog crosses another pin's stub), met1
    ports the columns beyond. Met1 jogs may pass a nearer met1 pad only if they clear it.
    """
    from generators.cells import transistor  # gdsfactory; imported only when drawing

    polarity = "p" if device.model == PFET else "n"
    component = transistor.mosfet(polarity=polarity, w=device.w_um, l=device.l_um,
                                  fingers=device.multiplier, tap=True)
    wrapper = layout.create_cell(f"{polarity}fet_w{device.w_um:g}_l{device.l_um:g}_f{device.multiplier}".replace(".", "p"))
    inner = layout.create_cell(component.name)
    inner.copy_tree(component.kdb_cell)
    box = inner.bbox()
    ports = {}
    for terminal, port_name in PORT_OF_TERMINAL.items():
        port = component.ports[port_name]
        metal = METAL_OF_LAYER[(port.layer_info.layer, port.layer_info.datatype)]
        side = "e" if port.orientation == 0 else "w"
        ports[terminal] = (int(round(port.dcenter[0] * route.NM)), int(round(port.dcenter[1] * route.NM)),
                           int(port.width), metal, side)
    pins: dict[str, tuple[int, int]] = {}
    layers: dict[str, str] = {}
    for side, edge, step in (("e", box.right + PAD_OFFSET, route.STUB_PITCH),
                             ("w", box.left - PAD_OFFSET, -route.STUB_PITCH)):
        on_side = sorted((t for t, p in ports.items() if p[4] == side), key=lambda t: (ports[t][3] != "met2", t))
        for column, terminal in enumerate(on_side):
            px, py, width, metal, _ = ports[terminal]
            x = edge + column * step
            half_pad = route.VIA1_PAD // 2
            x0, x1 = sorted((px, x + (half_pad if step > 0 else -half_pad)))
            inner_layer = layout.layer(*(L.MET1 if metal == "met1" else L.MET2).gds)
            wrapper.shapes(inner_layer).insert(kdb.Box(x0, py - width // 2, x1, py - width // 2 + width))
            pins[terminal] = (x, py)
            layers[terminal] = metal
        _check_jogs(device, [(ports[t][1], ports[t][2], pins[t][0], layers[t]) for t in on_side])
    wrapper.insert(kdb.CellInstArray(inner.cell_index(), kdb.Trans()))
    full = wrapper.bbox()
    # re-origin the wrapper so its bounding box starts at (0, 0)
    shifted = layout.create_cell(wrapper.name + "_p")
    shifted.insert(kdb.CellInstArray(wrapper.cell_index(), kdb.Trans(-full.left, -full.bottom)))
    return CellTemplate(shifted.cell_index(), full.width(), full.height(),
                        {t: (x - full.left, y - full.bottom) for t, (x, y) in pins.items()}, layers)


def _check_jogs(device: Device, jogs: list[tuple[int, int, int, str]]) -> None:
    """A met1 jog that runs past a nearer met1 pad must clear it by the met1 spacing."""
    from pdk_sky130_180.rules import M1_SPACE

    space = int(round(M1_SPACE.value * route.NM))
    for index, (y, width, _, metal) in enumerate(jogs):
        for y_near, _, _, metal_near in jogs[:index]:
            if metal == metal_near == "met1" and abs(y - y_near) < width // 2 + route.VIA1_PAD // 2 + space:
                raise ValueError(f"{device.name}: transistor pins too close in y to bring out side by side")


def write_gds(layout: kdb.Layout, path: str | os.PathLike) -> None:
    """Write GDS deterministically (no timestamps, no context info) and atomically."""
    from generators.cells import write_gds as write_cells_gds  # one set of GDS writer options

    write_cells_gds(layout, path)


def render_png(gds_path: str | os.PathLike, png_path: str | os.PathLike, width: int = 1600, height: int = 1200) -> None:
    """Render the GDS headless with klayout.lay (all hierarchy levels, fitted)."""
    import klayout.lay as lay

    png_path = Path(png_path)
    tmp = png_path.with_name(f".{png_path.stem}.tmp.png")
    view = lay.LayoutView()
    view.load_layout(str(gds_path), True)
    view.max_hier()
    view.zoom_fit()
    view.save_image(str(tmp), width, height)
    os.replace(tmp, png_path)
