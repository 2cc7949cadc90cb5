"""Hardware spec -> hierarchical SPICE netlist (``schematic.spice``), deterministic text.

Hierarchy: leaf blocks (bias generator, receivers, mirror groups, BMRU cells, residual skips),
one ``bmru_layer<l>`` per BMRU layer, and the top ``bmru_top`` with pins (in this order)::

    in0..in<n_in-1>   input currents (x * unit_current, into the pin)
    out0..out<C-1>    class currents (sigma * z * unit_current, out of the pin into a load
                      held near 0.5 V, e.g. a voltage source measuring the current)
    st<l>_<n>         state of cell n of layer l (voltage: high = 1), for observation
    rst               preset: high at power-up puts every cell in its s0 state
    en<l>, enb<l>     state-update enable of layer l and its complement: cells hold their state
                      while en<l> is low
    iref              reference current pin (one unit current, into the pin)
    vdd_ff            supply of the feedforward mirrors (projections, receivers, residuals)
    vdd_cells         supply of the BMRU cells (thresholds, hysteresis, outputs)
    vdd_bias          supply of the bias generator (the iref source should draw from it too)
    vss               ground

The three supplies are all 1.8 V; splitting them lets a testbench measure the power of cells,
feedforward and bias separately.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bmru.cli import atomic_write
from generators.circuit import spice_cells as sc
from generators.circuit.mapping import REF_FINGERS, TOP_NAME, HardwareSpec, spec_json
from pdk_sky130_180.devices import DEVICE_NAMES


# Net roles for the router's track order (flattened names, "/" between hierarchy levels). Tracks
# run: quiet bias lines, the positive supplies (shielding them), analog signals, ground, then
# the nets that swing rail to rail. A digital edge (rst, a cell changing state) coupled into a
# bias line that every cell shares shifts every threshold at once: on the reference array, rst
# beside nc (56 fF) set four cells at the end of the preset.
BIAS_NETS = ("iref", "nb", "pb", "nc")
CELL_BIAS_NETS = ("pc", "kpc")  # a cell's own threshold line
CELL_SWITCHING_NETS = ("ha",)  # a cell's output source drain, steered between h and the dump
STATE_PIN = re.compile(r"st\d+_\d+")
ENABLE_PIN = re.compile(r"enb?\d+")


def net_role(net: str) -> int:
    leaf = net.rsplit("/", 1)[-1]
    if net in BIAS_NETS or net.startswith("bias/") or ("/cell" in net and leaf in CELL_BIAS_NETS):
        return 0
    if net.startswith("vdd"):
        return 1
    if net == "vss":
        return 3
    if net == "rst" or STATE_PIN.fullmatch(net) or ENABLE_PIN.fullmatch(net) or ("/cell" in net and leaf in CELL_SWITCHING_NETS):
        return 4
    return 2


def track_order(net: str) -> tuple:
    """Sort key of a net for the router (see ``generators.layout.route.route``)."""
    return (net_role(net), net)


def layer_name(layer: int) -> str:
    return f"bmru_layer{layer}"


def _connect(instance: str, pins: list[str], mapping: dict[str, str], cell: str) -> str:
    nets = [mapping[pin] for pin in pins]
    return f"X{instance} {' '.join(nets)} {cell}"


def _projection_instance(spec: HardwareSpec, name: str, source: str, target: str, vdd: str,
                         summing: str | None = None) -> str:
    """Column lines <source>t<j> (or <summing><j>), <source>a<j>, <source>p<j>; rows drive <target><i>."""
    projection = spec.projection(name)
    mapping = {"iref": "iref", "nb": "nb", "pb": "pb", "vdd": vdd, "vss": "vss"}
    for j in range(projection.cols):
        mapping[f"st{j}"] = f"{summing}{j}" if summing else f"{source}t{j}"
        mapping[f"sa{j}"] = f"{source}a{j}"
        mapping[f"sp{j}"] = f"{source}p{j}"
    for i in range(projection.rows):
        mapping[f"t{i}"] = f"{target}{i}"
    return _connect(f"fc_{name}", sc.projection_pins(projection), mapping, sc.projection_name(projection))


def _receiver_instance(bundle: str, converters: tuple[bool, ...], prefix: str, vdd: str,
                       summing: str | None = None) -> str:
    """Lines <prefix>t<i> (summing node, unless ``summing`` names it), <prefix>a<i>, <prefix>p<i>."""
    mapping = {"vdd": vdd, "vss": "vss"}
    for i in range(len(converters)):
        mapping[f"t{i}"] = f"{summing}{i}" if summing else f"{prefix}t{i}"
        mapping[f"a{i}"] = f"{prefix}a{i}"
        mapping[f"p{i}"] = f"{prefix}p{i}"
    return _connect(f"rx_{bundle}", sc.receiver_pins(len(converters), converters), mapping,
                    sc.receiver_name(bundle))


def layer_pins(spec: HardwareSpec) -> list[str]:
    d, n = spec.width, spec.cells_per_layer
    return ([f"ut{i}" for i in range(d)] + [f"ua{i}" for i in range(d)] + [f"up{i}" for i in range(d)]
            + [f"t{i}" for i in range(d)] + [f"st{k}" for k in range(n)]
            + ["rst", "en", "enb", "iref", "nb", "pb", "nc", "vdd_ff", "vdd_cells", "vss"])


def _h_converters(spec: HardwareSpec, layer: int) -> tuple[bool, ...]:
    return sc.positive_columns(spec.projection(f"o{layer}"))


def layer_block(spec: HardwareSpec, layer: int) -> str:
    d = spec.width
    body = [_projection_instance(spec, f"c{layer}", "u", "c", "vdd_ff")]
    for cell in spec.layer_cells(layer):
        mapping = {"c": f"c{cell.index}", "h": f"ht{cell.index}", "st": f"st{cell.index}", "rst": "rst",
                   "en": "en", "enb": "enb", "nb": "nb", "ncas": "iref", "nc": "nc", "vdd": "vdd_cells", "vss": "vss"}
        body.append(_connect(f"cell{cell.index}", sc.CELL_PINS, mapping, sc.cell_name(cell)))
    body.append(_receiver_instance(f"h{layer}", _h_converters(spec, layer), "h", "vdd_ff"))
    body.append(_projection_instance(spec, f"o{layer}", "h", "yt", "vdd_ff"))
    body.append(_receiver_instance(f"y{layer}", (True,) * d, "y", "vdd_ff"))
    mapping = {"vdd": "vdd_ff", "vss": "vss"}
    for i in range(d):
        mapping.update({f"yp{i}": f"yp{i}", f"up{i}": f"up{i}", f"t{i}": f"t{i}"})
    body.append(_connect(f"res{layer}", sc.residual_pins(d), mapping, sc.residual_name(layer)))
    return "\n".join([f"* BMRU layer {layer}: candidate mirrors, {spec.cells_per_layer} cells, "
                      f"post-projection, residual skip.",
                      f".subckt {layer_name(layer)} {' '.join(layer_pins(spec))}", *body,
                      f".ends {layer_name(layer)}", ""])


def _u_converters(spec: HardwareSpec, index: int) -> tuple[bool, ...]:
    if index < spec.layers:  # the residual copies every u_l (l < L) on its p-line
        return (True,) * spec.width
    return sc.positive_columns(spec.projection("out"))


def top_block(spec: HardwareSpec) -> str:
    d = spec.width
    body = [_connect("bias", sc.BIAS_PINS, {"iref": "iref", "nb": "nb", "pb": "pb", "nc": "nc",
                                             "vdd": "vdd_bias", "vss": "vss"}, sc.BIAS_NAME)]
    body.append(_receiver_instance("in", sc.positive_columns(spec.projection("in")), "in", "vdd_ff", summing="in"))
    body.append(_projection_instance(spec, "in", "in", "u0t", "vdd_ff", summing="in"))
    for layer in range(spec.layers + 1):
        body.append(_receiver_instance(f"u{layer}", _u_converters(spec, layer), f"u{layer}", "vdd_ff"))
        if layer == spec.layers:
            break
        mapping = {"rst": "rst", "en": f"en{layer}", "enb": f"enb{layer}", "iref": "iref", "nb": "nb", "pb": "pb", "nc": "nc",
                   "vdd_ff": "vdd_ff", "vdd_cells": "vdd_cells", "vss": "vss"}
        for i in range(d):
            mapping.update({f"ut{i}": f"u{layer}t{i}", f"ua{i}": f"u{layer}a{i}", f"up{i}": f"u{layer}p{i}",
                            f"t{i}": f"u{layer + 1}t{i}"})
        for k in range(spec.cells_per_layer):
            mapping[f"st{k}"] = f"st{layer}_{k}"
        body.append(_connect(f"layer{layer}", layer_pins(spec), mapping, layer_name(layer)))
    body.append(_projection_instance(spec, "out", f"u{spec.layers}", "out", "vdd_ff"))
    return "\n".join([f"* Top level: {spec.n_in} inputs, {spec.layers} BMRU layers of {spec.cells_per_layer} cells, "
                      f"{spec.classes} class outputs.",
                      f".subckt {TOP_NAME} {' '.join(spec.top_pins)}", *body, f".ends {TOP_NAME}", ""])


def leaf_blocks(spec: HardwareSpec) -> list[str]:
    devices = sc.device_set(spec.sizing.unit_um)
    copies = spec.sizing.converter_copies
    blocks = [sc.bias_block(spec)]
    blocks.append(sc.receiver_block("in", sc.diode_fingers_for_inputs(spec),
                                    sc.positive_columns(spec.projection("in")), devices, copies))
    for layer in range(spec.layers + 1):
        blocks.append(sc.receiver_block(f"u{layer}", REF_FINGERS, _u_converters(spec, layer), devices, copies))
    for projection in spec.projections:
        blocks.append(sc.projection_block(projection, devices))
    for cell in spec.cells:
        blocks.append(sc.cell_block(cell, spec.sizing))
    for layer in range(spec.layers):
        blocks.append(sc.receiver_block(f"h{layer}", REF_FINGERS, _h_converters(spec, layer), devices, copies))
        blocks.append(sc.receiver_block(f"y{layer}", REF_FINGERS, (True,) * spec.width, devices, copies))
        blocks.append(sc.residual_block(layer, spec.width, devices))
    return blocks


def schematic_text(spec: HardwareSpec) -> str:
    """The complete netlist: header comment, leaf blocks, layers, top. No models, no sources."""
    digest = hashlib.sha256(spec_json(spec).encode()).hexdigest()[:16]
    header = [
        f"* BMRU array schematic, generated by generators.circuit.schematic from a {spec.format} spec (sha256 {digest}).",
        f"* Unit current {spec.unit_current_A:g} A, internal scale {spec.internal_scale:g}, "
        f"frame period {spec.frame_period_s:g} s.",
        "* Top-level pins: " + " ".join(spec.top_pins),
        "* Include the sky130 nfet_01v8/pfet_01v8 models before this file.",
        "",
    ]
    blocks = leaf_blocks(spec) + [layer_block(spec, layer) for layer in range(spec.layers)] + [top_block(spec)]
    return "\n".join(header) + "\n".join(blocks)


def device_count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("X") and any(name in line for name in DEVICE_NAMES))


def write_schematic(path: str | Path, spec: HardwareSpec) -> None:
    text = schematic_text(spec)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def main(argv: list[str] | None = None) -> None:
    from bmru.cli import progress  # noqa: PLC0415
    from generators.circuit.mapping import spec_from_command_line, write_spec  # noqa: PLC0415

    spec, out = spec_from_command_line(
        "python -m generators.circuit.schematic",
        "Map weights to a hardware spec and write spec.json and the hierarchical schematic netlist "
        "schematic.spice.", argv)
    write_spec(out / "spec.json", spec)
    write_schematic(out / "schematic.spice", spec)
    progress(f"wrote {out / 'spec.json'} and {out / 'schematic.spice'} "
             f"({device_count(schematic_text(spec))} device instances)")


if __name__ == "__main__":
    main()
