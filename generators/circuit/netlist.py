"""Read the SPICE subset our schematic generator writes, and flatten it to devices.

The layout generator draws whatever the schematic says: it takes the flat list of MOSFETs
(with their nets, W, L and multiplier) from here, so layout and schematic cannot drift
apart. A networkx graph of the flat netlist checks that every device is reachable from the
top-level pins.

Subset: ``.subckt NAME PINS [params]`` / ``.ends``, ``X`` instances (sub-circuits or the PDK's
MOSFET sub-circuits), ``+`` continuation lines, ``*`` comments; other element lines (sources,
``.include``, ``.param``) are ignored because the generator never writes them inside circuits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from pdk_sky130_180.devices import DEVICE_NAMES, TERMINALS


class NetlistError(ValueError):
    """A netlist this reader cannot use; the message names the line or circuit."""


@dataclass(frozen=True)
class Instance:
    name: str  # without the leading X
    nets: tuple[str, ...]
    cell: str  # sub-circuit or device model name
    params: tuple[tuple[str, str], ...] = ()

    def param(self, key: str, default: str | None = None) -> str | None:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class Subckt:
    name: str
    pins: tuple[str, ...]
    instances: tuple[Instance, ...]


@dataclass(frozen=True)
class Device:
    """One flat MOSFET: hierarchical name, model, terminal nets and size (µm)."""

    name: str
    model: str
    nets: dict[str, str] = field(hash=False)  # terminal (d, g, s, b) -> flat net name
    w_um: float = 0.0
    l_um: float = 0.0
    multiplier: int = 1
    blocks: tuple[str, ...] = ()  # sub-circuit names from the top down to the device's parent


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";")[0].rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("*"):
            continue
        if stripped.startswith("+"):
            if not lines:
                raise NetlistError(f"line {number}: continuation line with nothing to continue")
            lines[-1] = (lines[-1][0], lines[-1][1] + " " + stripped[1:].strip())
        else:
            lines.append((number, stripped))
    return lines


def _split_params(tokens: list[str]) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    positional = [t for t in tokens if "=" not in t]
    params = tuple((k.lower(), v) for k, v in (t.split("=", 1) for t in tokens if "=" in t))
    return positional, params


def parse_spice(text: str) -> dict[str, Subckt]:
    """All sub-circuits of a netlist, by lower-case name."""
    circuits: dict[str, Subckt] = {}
    current: tuple[str, tuple[str, ...], list[Instance]] | None = None
    for number, line in _logical_lines(text):
        tokens = line.split()
        keyword = tokens[0].lower()
        if keyword == ".subckt":
            if current is not None:
                raise NetlistError(f"line {number}: .subckt {tokens[1]} inside .subckt {current[0]}")
            pins, _ = _split_params(tokens[2:])
            current = (tokens[1].lower(), tuple(p.lower() for p in pins), [])
        elif keyword == ".ends":
            if current is None:
                raise NetlistError(f"line {number}: .ends without .subckt")
            circuits[current[0]] = Subckt(current[0], current[1], tuple(current[2]))
            current = None
        elif keyword.startswith("x") and current is not None:
            positional, params = _split_params(tokens[1:])
            if not positional:
                raise NetlistError(f"line {number}: instance {tokens[0]} names no sub-circuit")
            current[2].append(Instance(tokens[0][1:].lower(), tuple(n.lower() for n in positional[:-1]),
                                       positional[-1].lower(), params))
    if current is not None:
        raise NetlistError(f".subckt {current[0]}: missing .ends")
    return circuits


def _number(text: str, where: str) -> float:
    scale = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3}
    body = text.lower().rstrip("µ")
    try:
        if body and body[-1] in scale:
            return float(body[:-1]) * scale[body[-1]]
        return float(body)
    except ValueError:
        raise NetlistError(f"{where}: cannot read number {text!r}") from None


def flatten(circuits: dict[str, Subckt], top: str) -> list[Device]:
    """The flat MOSFET list of ``top``; internal nets are named ``instance/.../net``."""
    top = top.lower()
    if top not in circuits:
        raise NetlistError(f"top circuit {top!r} not found (have: {', '.join(sorted(circuits))})")
    models = {name.lower() for name in DEVICE_NAMES}
    devices: list[Device] = []

    def visit(circuit: Subckt, prefix: str, net_map: dict[str, str], blocks: tuple[str, ...]) -> None:
        def net(name: str) -> str:
            if name in net_map:
                return net_map[name]
            if name in ("0", "gnd"):
                return name
            return prefix + name

        for inst in circuit.instances:
            path = prefix + inst.name
            if inst.cell in models:
                if len(inst.nets) != len(TERMINALS):
                    raise NetlistError(f"{path}: a MOSFET needs {len(TERMINALS)} nets, got {len(inst.nets)}")
                multiplier = _number(inst.param("m", "1"), f"{path} m")
                if multiplier != int(multiplier) or multiplier < 1:
                    raise NetlistError(f"{path}: multiplier m must be a positive integer")
                devices.append(Device(path, inst.cell, dict(zip(TERMINALS, map(net, inst.nets))),
                                      _number(inst.param("w", "0"), f"{path} w"),
                                      _number(inst.param("l", "0"), f"{path} l"), int(multiplier), blocks))
            elif inst.cell in circuits:
                child = circuits[inst.cell]
                if len(child.pins) != len(inst.nets):
                    raise NetlistError(f"{path}: {inst.cell} has {len(child.pins)} pins, instance gives {len(inst.nets)}")
                visit(child, path + "/", dict(zip(child.pins, map(net, inst.nets))), blocks + (child.name,))
            else:
                raise NetlistError(f"{path}: unknown sub-circuit {inst.cell!r}")

    visit(circuits[top], "", {pin: pin for pin in circuits[top].pins}, (top,))
    return devices


def connectivity(devices: list[Device]) -> nx.Graph:
    """Bipartite graph: device nodes ("dev", name) joined to net nodes ("net", name)."""
    graph = nx.Graph()
    for device in devices:
        for terminal, net in device.nets.items():
            graph.add_edge(("dev", device.name), ("net", net), terminal=terminal)
    return graph


def unreachable_devices(devices: list[Device], pins: tuple[str, ...]) -> list[str]:
    """Devices with no path to any top-level pin (a floating block is a generator bug)."""
    graph = connectivity(devices)
    reachable: set = set()
    for pin in pins:
        if ("net", pin) in graph:
            reachable |= nx.node_connected_component(graph, ("net", pin))
    return sorted(name for kind, name in graph.nodes if kind == "dev" and ("dev", name) not in reachable)
