"""Testbench deck around any netlist whose top sub-circuit has the array's pins.

Pins are connected by name, so the same bench drives the schematic and an extracted netlist:
``in<j>`` get input currents, ``out<k>`` are held at ``OUT_HOLD_V`` by a voltage source that
measures the class current, ``st<l>_<n>`` are observed, ``rst`` gets the preset pulse, ``iref``
the reference current drawn from the bias supply, and each ``vdd*`` pin its own 1.8 V source
so that power splits by supply. Unknown pins are an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pdk_sky130_180.devices import SUPPLY_V
from pdk_sky130_180.models import include_line
from sim.ngspice import control_block, options_line
from sim.stimulus import Timing, enable_points, input_currents, pwl_points, pwl_text, reset_points

OUT_HOLD_V = 0.5  # class outputs are held near the voltage of a summing node (a diode stack)
SUPPLY_PIN = re.compile(r"^vdd(_\w+)?$")


class BenchError(ValueError):
    """A netlist or stimulus the bench cannot drive; the message names it."""


@dataclass(frozen=True)
class TopCircuit:
    name: str
    pins: tuple[str, ...]

    def numbered(self, prefix: str) -> list[str]:
        """Pins named ``prefix`` + a number, in numeric order (in0, in1, ..., in12)."""
        found = [p for p in self.pins if re.fullmatch(rf"{prefix}\d+", p)]
        return sorted(found, key=lambda p: int(p[len(prefix):]))

    @property
    def inputs(self) -> list[str]:
        return self.numbered("in")

    @property
    def outputs(self) -> list[str]:
        return self.numbered("out")

    @property
    def states(self) -> list[str]:
        found = [p for p in self.pins if re.fullmatch(r"st\d+_\d+", p)]
        return sorted(found, key=lambda p: tuple(int(v) for v in p[2:].split("_")))

    @property
    def enables(self) -> list[str]:
        return self.numbered("en")

    @property
    def enable_complements(self) -> list[str]:
        return self.numbered("enb")

    @property
    def supplies(self) -> list[str]:
        return [p for p in self.pins if SUPPLY_PIN.match(p)]


def find_top(netlist_text: str, name: str | None = None) -> TopCircuit:
    """The named sub-circuit (or the last one defined) with its pins, lower-cased."""
    subckts: list[TopCircuit] = []
    lines = netlist_text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lower().startswith(".subckt"):
            words = line.split()
            while index + 1 < len(lines) and lines[index + 1].startswith("+"):
                index += 1
                words += lines[index][1:].split()
            pins = tuple(w.lower() for w in words[2:] if "=" not in w and w.lower() != "params:")
            subckts.append(TopCircuit(words[1].lower(), pins))
        index += 1
    if not subckts:
        raise BenchError("netlist: no .subckt found")
    if name is None:
        return subckts[-1]
    for subckt in subckts:
        if subckt.name == name.lower():
            return subckt
    raise BenchError(f"netlist: no sub-circuit named {name!r}")


def control_sources(top: TopCircuit) -> list[str]:
    """Names of the voltage sources that drive the control pins (rst, en<l>, enb<l>)."""
    pins = (["rst"] if "rst" in top.pins else []) + top.enables + top.enable_complements
    return [f"v{pin}" for pin in pins]


NO_BYPASS = {"bypass": 0}


def circuit_options(sizing) -> dict:
    """Simulator options a mapped circuit of ``sizing`` (``generators.circuit.mapping.Sizing``)
    needs beyond the defaults.
    A circuit with state keepers runs without device bypass: with it, ngspice lost held states of
    an unstarved keeper (utterance 1, layer-1 cell 0, frame 52, 2 µm design, tt, 27 °C: a held 1
    fell to 0 within 20 µs of an enable edge), and a cell with the starved keeper failed to set at
    85 °C (2 µm, a single-cell bench). The unstarved keeper also flipped without bypass at 0.05- and
    0.01-frame steps, with ``chgtol`` 1e-16, and with only the enable ramps in 0.002-frame pieces;
    only 0.002-frame steps everywhere held it (~4x the time). Its feedback is now starved
    (``generators.circuit.spice_cells.cell_block``), so that its other state is no solution of a
    long step, and it runs at the usual steps (``benchmarks/keeper_step.py``)."""
    return dict(NO_BYPASS) if sizing.state_keeper else {}


def options_record(sizing) -> dict:
    """What a result file records about :func:`circuit_options` (nothing for the defaults, so
    older results stay comparable; ``sim.corners --extend`` refuses to merge runs made with
    other options)."""
    options = circuit_options(sizing)
    return {"simulator_options": options} if options else {}


def deck_text(netlist_path: str | Path, top: TopCircuit, x: np.ndarray, unit_current_A: float,
              frame_period_s: float, corner: str = "tt", temperature_C: float = 27.0,
              max_step_fraction: float = 0.05, vdd_V: float = SUPPLY_V, models: str | None = None,
              options: dict | None = None) -> str:
    """Full deck simulating one utterance ``x`` (T, n_in) on the netlist's top circuit, every
    supply and control level at ``vdd_V``. ``models`` replaces the corner's model include line
    (e.g. a Monte-Carlo sample's per-device cards, see sim.montecarlo); ``options`` overrides
    simulator options (e.g. ``{"bypass": 0}``)."""
    frames, n_in = x.shape
    if len(top.inputs) != n_in:
        raise BenchError(f"netlist: top circuit {top.name} has {len(top.inputs)} input pins, x has {n_in} features")
    timing = Timing(frame_period_s, frames)
    currents = input_currents(x, unit_current_A)
    lines = [f"* bench for {top.name}", include_line(corner) if models is None else models, f'.include "{Path(netlist_path).resolve()}"',
             options_line(**(options or {})), f".temp {temperature_C:g}"]
    known = (set(top.inputs) | set(top.outputs) | set(top.states) | set(top.supplies) | set(top.enables)
             | set(top.enable_complements) | {"rst", "iref", "vss"})
    unknown = [p for p in top.pins if p not in known]
    if unknown:
        raise BenchError(f"netlist: top circuit {top.name} has pins the bench does not know: {unknown}")
    lines.append(f"Xdut {' '.join(top.pins)} {top.name}")
    for supply in top.supplies:
        lines.append(f"V{supply} {supply} 0 {vdd_V:g}")
    if "vss" in top.pins:
        lines.append("Vvss vss 0 0")
    if "iref" in top.pins:
        source = "vdd_bias" if "vdd_bias" in top.supplies else (top.supplies[0] if top.supplies else None)
        if source is None:
            raise BenchError("netlist: iref needs a vdd pin to draw from")
        lines.append(f"Iref {source} iref {unit_current_A:g}")
    if "rst" in top.pins:
        lines.append(f"Vrst rst 0 {pwl_text(reset_points(timing, vdd_V))}")
    for layer, pin in enumerate(top.enables):
        points = enable_points(timing, layer, len(top.enables), vdd_V)
        lines.append(f"V{pin} {pin} 0 {pwl_text(points)}")
        if f"enb{layer}" in top.pins:
            lines.append(f"Venb{layer} enb{layer} 0 {pwl_text([(t, vdd_V - v) for t, v in points])}")
    for j, pin in enumerate(top.inputs):
        lines.append(f"I{pin} 0 {pin} {pwl_text(pwl_points(currents[:, j], timing))}")
    for pin in top.outputs:
        lines.append(f"V{pin} {pin} 0 {OUT_HOLD_V:g}")
    vectors = [f"v({p})" for p in top.states] + [f"i(v{p})" for p in top.outputs] + [
        f"i(v{s})" for s in top.supplies] + [f"i({source})" for source in control_sources(top)]
    step = frame_period_s / 100
    analysis = f"tran {step:.6g} {timing.stop_s:.9g} 0 {frame_period_s * max_step_fraction:.6g}"
    save = "save " + " ".join(vectors)
    control = control_block(analysis, vectors).replace(f"\n{analysis}", f"\n{save}\n{analysis}")
    lines += [control, ".end", ""]
    return "\n".join(lines)
