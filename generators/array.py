"""``python -m generators.array WEIGHTS [-o OUT]``: weights → spec, schematic, layout, picture.

Writes ``spec.json`` (hardware spec plus layout area), ``schematic.spice`` (hierarchical, the
LVS reference), ``layout.gds`` (top cell ``bmru_top``, pins named as the schematic's ports) and
``layout.png``. Everything is checked before the first file is written, and every file is
written to a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bmru.cli import atomic_write, default_out, fail, progress, write_json
from bmru.weights import WeightsError, load_weights
from generators.layout import floorplan as array_layout
from generators.layout.picture import render_png
from generators.layout.groups import matched_groups
from generators.circuit.mapping import (TOP_NAME, CellSpec, HardwareSpec, MappingConfig, MappingError, add_mapping_arguments,
                                       config_from, map_network,
                                spec_to_dict)
from generators.circuit.netlist import Device, flatten, parse_spice, unreachable_devices
from generators.circuit.schematic import schematic_text, track_order

CELL_BLOCK_PREFIX = "bmru_cell"  # sub-circuits of the BMRU cells (generators.circuit.spice_cells)
WEIGHT_BLOCK_PREFIX = "fc_"  # sub-circuits of the weight mirror arrays
RECEIVER_DEVICE = re.compile(r"(?P<role>[a-z]+)(?P<index>\d+)(?P<cascode>_cas)?")  # t0, d0, k0, k0_cas, p0


@dataclass(frozen=True)
class ArrayOutputs:
    spec: Path
    schematic: Path
    layout: Path
    picture: Path
    area: dict
    seconds: dict


def device_areas(result: array_layout.LayoutResult, drawn_share: dict[str, float] | None = None) -> dict[str, float]:
    """µm² of each device's cell (with its share of the gap to the next cell); a matched
    group's cell is shared among its devices in proportion to their fingers. ``drawn_share``:
    the share of a placed cell's area that its devices' own cells take (a crossbar's tiles,
    not its lanes and tracks); 1 where not given."""
    um2 = 1e-6  # dbu² → µm²
    areas: dict[str, float] = {}
    for placed in result.placed:
        area = (placed.width + array_layout.CELL_GAP) * placed.height * um2 * (drawn_share or {}).get(placed.name, 1.0)
        if not placed.devices:
            areas[placed.name] = area
            continue
        fingers = sum(count for _, count in placed.devices)
        for name, count in placed.devices:
            areas[name] = area * count / fingers
    return areas


def area_report(spec: HardwareSpec, devices: list[Device], result: array_layout.LayoutResult,
                drawn_share: dict[str, float] | None = None) -> dict:
    """Areas in µm²: the whole block, device cells, one BMRU cell, and one weight on average."""
    device_area = device_areas(result, drawn_share)

    def area_in(prefix: str) -> float:
        return sum(device_area[d.name] for d in devices if any(b.startswith(prefix) for b in d.blocks))

    weights = sum(len(p.weight_fingers) * len(p.weight_fingers[0]) for p in spec.projections)
    cells = len(spec.cells)
    return {
        "total": round(result.width_um * result.height_um, 1),
        "width_um": result.width_um,
        "height_um": result.height_um,
        "devices": round(sum(device_area.values()), 1),
        "per_bmru_cell": round(area_in(CELL_BLOCK_PREFIX) / cells, 1) if cells else 0.0,
        "per_weight": round(area_in(WEIGHT_BLOCK_PREFIX) / weights, 1) if weights else 0.0,
        "rows": result.rows,
        "device_instances": result.devices,
        "matched_groups": result.groups,
        "cells": len(result.placed),
    }


def _instances(devices: list[Device], block_names: set[str]) -> dict[str, list[Device]]:
    """The flat devices of each instance of the sub-circuits ``block_names``, by instance path."""
    instances: dict[str, list[Device]] = {}
    for device in devices:
        if device.blocks and device.blocks[-1] in block_names:
            instances.setdefault(device.name.rsplit("/", 1)[0], []).append(device)
    return instances


def _flat_nets(members: list[Device], local: dict[str, Device]) -> dict[str, str]:
    """Each local net's flat net, read off the instance's devices: ``local`` names each
    device's terminal nets in the sub-circuit's own netlist."""
    flat_net: dict[str, str] = {}
    for device in members:
        for terminal, net in local[device.name.rsplit("/", 1)[1]].nets.items():
            flat_net[net] = device.nets[terminal]
    return flat_net


def bmru_macros(spec: HardwareSpec, devices: list[Device]) -> list[array_layout.Macro]:
    """Each BMRU cell instance of the flat netlist as one compact cell
    (:func:`generators.layout.cells.bmru_cell.bmru_cell_for`)."""
    from generators.layout.cells.bmru_cell import bmru_cell_for, cell_devices, params_of
    from generators.circuit.spice_cells import CELL_PINS, cell_name

    by_block: dict[str, CellSpec] = {cell_name(cell): cell for cell in spec.cells}
    macros = []
    for path, members in sorted(_instances(devices, set(by_block)).items()):
        cell = by_block[members[0].blocks[-1]]
        local = cell_devices(params_of(cell, spec.sizing))
        flat_net = _flat_nets(members, local)
        macros.append(array_layout.Macro(path, tuple(members), {pin: flat_net[pin] for pin in CELL_PINS},
                                         bmru_cell_for(cell, sizing=spec.sizing)))
    return macros


def _receiver_lines(members: list[Device]) -> dict[int, dict[str, Device]]:
    """A receiver instance's devices by signal index and role (t, d, k, k_cas, p: the local
    names of ``generators.circuit.spice_cells.receiver_block``)."""
    signals: dict[int, dict[str, Device]] = {}
    for device in members:
        match = RECEIVER_DEVICE.fullmatch(device.name.rsplit("/", 1)[1])
        if match is None:
            raise MappingError(f"{device.name}: not a receiver device")
        signals.setdefault(int(match["index"]), {})[match["role"] + (match["cascode"] or "")] = device
    return signals


def crossbar_macros(spec: HardwareSpec, devices: list[Device]) -> list[array_layout.Macro]:
    """Each projection instance of the flat netlist as one crossbar
    (:func:`generators.layout.cells.crossbar.crossbar`): a band per signal, with the receiver
    of the signal (its diodes and converter) at the band's west end, one band for the bias
    lines, and a column per summing node. Only lines that other blocks use leave the crossbar."""
    from generators.layout.cells.crossbar import Receiver, crossbar, projection_crossbar
    from generators.circuit.spice_cells import projection_block, projection_name, receiver_name

    users: dict[str, set[str]] = {}
    for device in devices:
        for net in device.nets.values():
            users.setdefault(net, set()).add(device.name)
    receivers = _instances(devices, {d.blocks[-1] for d in devices
                                     if d.blocks and d.blocks[-1].startswith(receiver_name(""))})
    owner_of_line = {d.nets["d"]: path for path, members in receivers.items() for d in members}
    by_block = {projection_name(p): p for p in spec.projections}
    macros = []
    path_of: dict[str, str] = {}  # projection name -> instance path
    for path, members in sorted(_instances(devices, set(by_block)).items()):
        projection = by_block[members[0].blocks[-1]]
        sizes = {(d.w_um, d.l_um) for d in members}
        if len(sizes) != 1:
            raise MappingError(f"{path}: the crossbar needs one unit finger size, the netlist has {sorted(sizes)}")
        local = {d.name: d for d in flatten(parse_spice(projection_block(projection)), projection_name(projection))}
        flat_net = _flat_nets(members, local)
        source = {owner_of_line[d.nets["g"]] for d in members if d.nets["g"] in owner_of_line}
        inside = list(members)
        receiver_specs = None
        if len(source) == 1:  # the signals' receiver joins the crossbar
            rx_path = source.pop()
            signals = _receiver_lines(receivers[rx_path])
            if sorted(signals) == list(range(projection.cols)):
                inside += receivers[rx_path]
                receiver_specs = []
                for j in range(projection.cols):
                    role = signals[j]
                    flat_net[f"sa{j}"], flat_net[f"st{j}"] = role["d"].nets["d"], role["t"].nets["d"]
                    if "p" in role:
                        flat_net[f"sp{j}"] = role["p"].nets["d"]
                    receiver_specs.append(Receiver(role["t"].multiplier, role["k"].multiplier if "k" in role else 0,
                                                   role["p"].w_um if "p" in role else 0.0))
                receiver_specs = tuple(receiver_specs)
        names = {d.name for d in inside}
        exported = tuple(sorted(pin for pin, net in flat_net.items()
                                if net in spec.top_pins or users.get(net, set()) - names))
        component = crossbar(projection_crossbar(projection, *sizes.pop(), receiver_specs, exported))
        pins = [port.name for port in component.ports]
        macros.append(array_layout.Macro(path, tuple(inside), {pin: flat_net[pin] for pin in pins}, component))
        path_of[projection.name] = path
    # the output projection reads the last layer: place it right after that layer's last crossbar
    last = path_of.get(f"o{spec.layers - 1}")
    return [replace(m, order=f"{last}/{m.name}") if last and m.name == path_of.get("out") else m for m in macros]


def generate(weights_path: str | Path, out: str | Path, config: MappingConfig = MappingConfig(),
             picture: bool = True, matched: bool = True, compact_cells: bool = True,
             crossbars: bool = False) -> ArrayOutputs:
    """The whole generator. Raises WeightsError / MappingError before writing anything.
    ``matched``: draw matched groups (:mod:`generators.layout.groups`) as interdigitated rows; False
    draws every device as its own cell. ``compact_cells``: draw each BMRU cell as one compact
    placed-and-routed cell (its devices then join no matched group); False spreads a cell's
    devices over the array's rows like any others. ``crossbars``: draw each projection as a
    crossbar (:mod:`generators.layout.cells.crossbar`) instead of matched rows; that floorplan
    also lets nets on disjoint spans share channel tracks and spine columns (the default keeps the layout its
    post-layout figures were measured on)."""
    out = Path(out)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    net = load_weights(weights_path)
    spec = map_network(net, config)
    text = schematic_text(spec)
    devices = flatten(parse_spice(text), TOP_NAME)
    floating = unreachable_devices(devices, spec.top_pins)
    if floating:
        raise MappingError(f"schematic: devices not connected to any pin: {', '.join(floating[:5])}")
    seconds["mapping_schematic"] = time.perf_counter() - start
    crossbar_cells = crossbar_macros(spec, devices) if crossbars else []
    macros = (bmru_macros(spec, devices) if compact_cells else []) + crossbar_cells
    in_macros = {d.name for macro in macros for d in macro.devices}
    groups = matched_groups([d for d in devices if d.name not in in_macros]) if matched else []
    progress(f"[array] {len(devices)} devices ({sum(d.multiplier for d in devices)} fingers), "
             f"{sum(len(g.devices) for g in groups)} of them in {len(groups)} matched groups"
             + (f", {len(in_macros)} in {len(macros) - len(crossbar_cells)} compact BMRU cells" if macros else "")
             + (f" and {len(crossbar_cells)} crossbars" if crossbar_cells else "") + "; placing and routing")

    start = time.perf_counter()
    layout, result = array_layout.build(devices, spec.top_pins, TOP_NAME, array_layout.transistor_cell,
                                        net_order=track_order, groups=groups,
                                        make_group_cell=array_layout.group_cell, macros=macros,
                                        pack=crossbars)
    seconds["layout"] = time.perf_counter() - start
    drawn_share = {m.name: m.component.info["tile_area_um2"] / (m.component.dbbox().width() * m.component.dbbox().height())
                   for m in crossbar_cells}
    area = area_report(spec, devices, result, drawn_share)

    paths = ArrayOutputs(out / "spec.json", out / "schematic.spice", out / "layout.gds", out / "layout.png", area,
                         seconds)
    data = spec_to_dict(spec)
    data["area_um2"] = area
    data["compact_cells"] = compact_cells
    data["crossbars"] = crossbars
    write_json(paths.spec, data)
    atomic_write(paths.schematic, lambda tmp: Path(tmp).write_text(text))
    array_layout.write_gds(layout, paths.layout)
    if picture:
        start = time.perf_counter()
        render_png(paths.layout, paths.picture, result.placed,
                   f"{Path(weights_path).name}: {result.width_um:.0f} x {result.height_um:.0f} µm, {result.rows} rows")
        seconds["picture"] = time.perf_counter() - start
    progress(f"[array] {result.width_um:.1f} x {result.height_um:.1f} µm = {area['total']:.0f} µm², "
             f"{result.rows} rows -> {out}")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m generators.array",
        description="Map a bmru-fq/1 network to hardware and write spec.json, schematic.spice, "
                    "layout.gds (sky130) and layout.png.")
    parser.add_argument("weights", help="bmru-fq/1 weights file (.npz)")
    parser.add_argument("-o", "--out", default=None, help="output folder (default build/<weights stem>/)")
    add_mapping_arguments(parser)
    parser.add_argument("--no-picture", action="store_true", help="skip layout.png")
    parser.add_argument("--no-matched-groups", action="store_true",
                        help="draw every MOSFET as its own cell instead of grouping mirror outputs "
                             "with their reference in interdigitated rows")
    parser.add_argument("--compact-cells", action=argparse.BooleanOptionalAction, default=True,
                        help="draw each BMRU cell as one compact placed-and-routed cell (its internal "
                             "nodes stay inside it); --no-compact-cells spreads its devices over the "
                             "array's rows")
    parser.add_argument("--crossbars", action=argparse.BooleanOptionalAction, default=False,
                        help="draw each projection (weight matrix and bias) as a crossbar: signal lines "
                             "across, summing lines down, each weight's mirror output at their crossing")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else default_out(args.weights)
    config = config_from(args)
    try:
        generate(args.weights, out, config, picture=not args.no_picture, matched=not args.no_matched_groups,
                 compact_cells=args.compact_cells, crossbars=args.crossbars)
    except (WeightsError, MappingError) as error:
        fail(str(error))


if __name__ == "__main__":
    main()
