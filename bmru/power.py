"""The software power model: every branch current the circuit draws, from the model's signals.

``python -m bmru.power WEIGHTS INPUTS [-n N] [--json FILE]`` writes the ``power_nW`` keys of
``presim.json`` (CONTRACT.md section 4) without simulating a circuit.

What draws from which supply (``generators/circuit/spice_cells.py``, ``generators/circuit/schematic.py``)
----------------------------------------------------------------------------------------
Currents below are in software units; every internal current is ``sigma`` (the mapping's
``internal_scale``) internal units per software unit, one internal unit = ``unit_current_A``.
Only PMOS devices and the bench's iref source take current from a positive supply: an NMOS sink
merely steers current that some PMOS source already delivered, so the supply current of a block
is the sum of its PMOS sources (each delivers its full copy even when a summing node's sinks
win and the ReLU clamps the node: the node then drops and the PMOS stays saturated).

- ``vdd_ff`` (feedforward):
  - every n->p converter's PMOS diode (the "p-line") carries a quarter of its signal per
    ``converter_copies`` (:class:`generators.circuit.mapping.Sizing`): one NMOS
    finger against the 4-finger diode stack (8 fingers, i.e. 4/sigma, for the input pins);
    signals with a p-line: the inputs x_j of positive ``W_in`` columns, every u_l (l < L, the
    residual copies them), u_L's positive ``W_out`` columns, h_l's positive ``W_o`` columns,
    every y_l;
  - a positive weight of k fingers sources k/4 of its column signal (= w * signal); a positive
    bias of k fingers sources k * 0.25 units from the ``pb`` line;
  - the residual skip sources y_l + u_l (4 fingers on each quarter-current p-line).
- ``vdd_cells`` (per BMRU cell):
  - its own PMOS bias line ``pc``: one 0.25-unit branch from ``nb`` per ``cell_line_copies``
    (:class:`generators.circuit.mapping.Sizing`), always;
  - the threshold source ``Xbeta2``: beta2 whatever the state (the clamp or the hysteresis sink
    takes what the candidate copy does not);
  - the output source ``Xalpha``: alpha, steered to ``h`` or dumped, except while a cell whose
    stored state is 0 already sees a set candidate before its enable rises (both switches off);
  - the inverter load ``Xhold`` (4 bias fingers, 0.2 units) while the stored state is 0 and the
    layer's enable is high (the enable switches cut it otherwise).
  - with state keepers (``Sizing.state_keeper``), a charge per state change (their inverter
    conducts while the state node slews through mid-rail) and no static current: the starved
    feedback only holds a node that is already at its rail.
- ``vdd_bias``: the iref pin (one unit, not scaled by sigma: the bench's source draws it from
  ``vdd_bias``) plus the ``pb`` diode and the ``nc`` line's PMOS, 0.25 units each per
  ``bias_line_copies``.

Frame phases: the inputs step at a frame's start but layer l's cells update only when its enable
rises (``sim.stimulus``: at 0.2 + 0.6 l / L of the frame); until then the cells hold the previous
frame's state and every signal downstream sees the old cell outputs. Each frame is therefore
split into L + 1 phases and every current is the phase-weighted mean.

Calibrated constants (:class:`Calibration`) cover what SPICE shows beyond exact mirror copies:
a gain per supply (real over nominal copy ratio), a leakage floor per supply, a charge per cell
switching event, and the enable drivers' charge per cell and frame (``control``, outside the
chip's supplies, like the input currents).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import numpy as np

from bmru.cli import CommandParser, fail, progress, write_json
from bmru.model import relu, run
from bmru.weights import Network
from generators.circuit.mapping import (CONVERTER_FINGERS, REF_FINGERS, HardwareSpec, add_mapping_arguments, config_from,
                                        load_mapped, quantised_network)
from generators.circuit.spice_cells import HOLD_FINGERS, positive_columns
from pdk_sky130_180.devices import SUPPLY_V

PLINE_SHARE = CONVERTER_FINGERS / REF_FINGERS  # a converter copy puts 1/4 of its signal on the PMOS p-line


@dataclass(frozen=True)
class FrameSchedule:
    """When each layer's state-update enable is high within a frame (fractions of a frame).

    A copy of ``sim.stimulus``'s constants (``bmru`` does not import ``sim``; a test checks that
    they agree): enables rise at ``first + span * l / L`` over ``ramp`` and fall at ``fall``."""

    first: float = 0.2
    span: float = 0.6
    ramp: float = 0.02
    fall: float = 0.98

    def rise(self, layer: int, layers: int) -> float:
        """Mid-point of layer ``layer``'s enable ramp: its cells take the new state from here."""
        return self.first + self.span * layer / layers + self.ramp / 2

    def phase_weights(self, layers: int) -> np.ndarray:
        """(L + 1,) durations of the phases: phase p has layers < p updated."""
        edges = [0.0] + [self.rise(layer, layers) for layer in range(layers)] + [1.0]
        return np.diff(edges)

    def enabled_share(self, layer: int, layers: int) -> float:
        """Share of a frame during which layer ``layer``'s enable is high."""
        return self.fall - self.rise(layer, layers)


@dataclass(frozen=True)
class Calibration:
    """Constants SPICE shows beyond exact mirror copies (fitted by ``benchmarks/power_model.py``)."""

    ff_gain: float = 1.0  # vdd_ff: real over nominal current of the PMOS copies and p-lines
    cells_gain: float = 1.0  # vdd_cells: real over nominal current of the cell sources
    ff_floor_nA: float = 0.0  # vdd_ff current beyond the copies (leakage of idle mirrors)
    cells_floor_nA: float = 0.0  # vdd_cells current beyond the sources, all cells together
    switch_pC: float = 0.0  # vdd_cells charge per cell state change (comparator crossing)
    control_fC: float = 0.0  # charge the en/enb drivers push into one cell's switches per frame
    keeper_switch_pC: float = 0.0  # with state keepers: their inverter's crossing charge per state change
    keeper_control_fC: float = 0.0  # with state keepers: their clock switches' gate charge per cell and frame
    source: str = "uncalibrated: exact mirror copies"


# Fitted by ``benchmarks/power_model.py --fit`` on the first 25 "yes" utterances of the reference
# schematic run (characterisation/presim_reference_tt_yes_only.json: kws_yes_d4, tt, 27 °C), the held-out
# 25 and the balanced run checked by the same script. The gains say the circuit draws 0.7-0.8 %
# less than its nominal finger ratios: single-cell DC runs show the threshold source of a
# 60-finger cell delivering 1.7 % less than nominal with its comparator node clamped (state 0)
# and 0.8 % less in state 1. The floors stay 0: an idle weight-3 mirror leaks ~0.3 pA
# (characterisation/leakage.json), below the gains' resolution. ``switch_pC``: transient runs of
# single cells set and reset across their thresholds moved -0.06..+0.05 pC per event (the inverter
# is starved by its 0.2-unit load; no crowbar), 0.005 pC on average, i.e. ~0.1 pW per utterance.
# ``control_fC``: a single cell under the bench's enable schedule took 2.6 fC per frame from en
# and 0.7-2.1 fC from enb (gate charge of its two enable switches; no wiring: schematic only).
# ``keeper_*``: the state keeper's L = 10 µm inverter conducts while ``st`` slews through mid-rail
# on the 0.2-unit hold current, so each state change costs charge, not a static current. Fitted
# by ``benchmarks/power_model.py --keeper-twin`` on the per-utterance difference between the 2 µm
# design's schematic runs with and without keepers (first 25 of the balanced 50, tt, 27 °C).
DEFAULT_CALIBRATION = Calibration(ff_gain=0.9928, cells_gain=0.9924, switch_pC=0.005, control_fC=4.0,
                                  keeper_switch_pC=5.77, keeper_control_fC=3.1,
                                  source="fitted on characterisation/presim_reference_tt_yes_only.json "
                                         "(first 25 utterances, schematic, tt, 27 °C) and single-cell SPICE runs; "
                                         "keeper terms on the 2 µm design's runs with and without keepers")


@dataclass(frozen=True, eq=False)
class SupplyCurrents:
    """Per-frame mean supply currents in nA, (n, T) each, before calibration."""

    feedforward: np.ndarray
    cells: np.ndarray
    bias: np.ndarray
    inputs: np.ndarray  # the input pins' currents (from the bench's ideal sources)
    switch_events: np.ndarray  # (n, T) number of cells changing state at the frame's start


@dataclass(frozen=True, eq=False)
class Power:
    """Per-utterance mean power in nW, (n,) each."""

    cells: np.ndarray
    feedforward: np.ndarray
    bias: np.ndarray
    inputs: np.ndarray
    control: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """The chip's supplies only, as presim.json's ``total``."""
        return self.cells + self.feedforward + self.bias


# --------------------------------------------------------------------------------------
# the circuit's signals, phase by phase


def _positive_part(matrix: np.ndarray) -> np.ndarray:
    return np.maximum(matrix, 0.0)


def _pline_mask(spec: HardwareSpec, name: str) -> np.ndarray:
    """Columns of projection ``name`` that have a p-line (a positive weight reads them)."""
    return np.array(positive_columns(spec.projection(name)), dtype=np.float64)


def _sources(signal: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Sum of a projection's PMOS outputs: positive weights times their signal, positive biases."""
    return signal @ _positive_part(weights).sum(axis=0) + _positive_part(bias).sum()


def _previous(states: np.ndarray) -> np.ndarray:
    """State before each frame. Frame 0's is its own: the bench's settling period, with the inputs
    at frame 0 and the enables high, already moved every cell from its preset s0 to frame 0's state."""
    return np.concatenate([states[:, :1], states[:, :-1]], axis=1)


def supply_currents(spec: HardwareSpec, x: np.ndarray, schedule: FrameSchedule = FrameSchedule(),
                    net: Network | None = None) -> SupplyCurrents:
    """Every branch current of the circuit of ``spec`` on inputs ``x`` (n, T, n_in), per frame."""
    net = quantised_network(spec) if net is None else net
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    out = run(net, x)
    layers = len(net.layers)
    sigma = spec.internal_scale
    unit_nA = spec.unit_current_A * 1e9
    weights = schedule.phase_weights(layers)
    xr = relu(x)
    bias_line = spec.bias_step  # a derived bias line (pb, nc, each cell's pc) is one bias-finger branch per copy
    cell_line = bias_line * spec.sizing.cell_line_copies
    global_lines = 2 * bias_line * spec.sizing.bias_line_copies  # pb and nc
    hold_units = HOLD_FINGERS * spec.cell_step  # a cell's inverter load, in cell-bias fingers
    pline = PLINE_SHARE * spec.sizing.converter_copies  # each p-line's share of its signal

    # Input-side currents do not depend on the cell states.
    u0 = relu(xr @ net.W_in.T + net.b_in)
    ff_fixed = (pline * xr @ _pline_mask(spec, "in")  # input p-lines
                + _sources(xr, net.W_in, net.b_in))  # W_in and b_in PMOS outputs
    ff = np.zeros(x.shape[:2])
    cells = np.zeros(x.shape[:2])
    events = np.zeros(x.shape[:2])
    for layer, states in enumerate(out.states):
        events[:, 1:] += np.abs(np.diff(states.astype(np.int64), axis=1)).sum(axis=2)

    for phase, share in enumerate(weights):
        u = u0
        ff_phase = ff_fixed.copy()
        cells_phase = np.zeros(x.shape[:2])
        for index, layer in enumerate(net.layers):
            new = out.states[index].astype(np.float64)
            stored = new if index < phase else _previous(new)
            c = relu(u @ layer.W_c.T + layer.b_c)
            # The comparator node is low (candidate above the threshold the stored state selects).
            low = np.where(stored > 0, c >= layer.beta1, c >= layer.beta2).astype(np.float64)
            h = layer.alpha * stored * low  # output switch needs st high and the dump off
            alpha_drawn = layer.alpha * (1.0 - (1.0 - stored) * low)  # both switches off: no path
            enabled = 1.0 if index < phase else 0.0
            hold = hold_units * (1.0 - stored) * enabled
            cells_phase += (alpha_drawn + hold).sum(axis=2)
            cells_phase += (cell_line + layer.beta2).sum()  # own bias line, threshold source
            y = relu(h @ layer.W_o.T + layer.b_o)
            ff_phase += (pline * u.sum(axis=2)  # u_l p-lines (the residual reads every one)
                         + _sources(u, layer.W_c, layer.b_c)
                         + pline * h @ _pline_mask(spec, f"o{index}")
                         + _sources(h, layer.W_o, layer.b_o)
                         + pline * y.sum(axis=2)  # y_l p-lines
                         + (y + u).sum(axis=2))  # residual copies
            u = y + u
        ff_phase += pline * u @ _pline_mask(spec, "out") + _sources(u, net.W_out, net.b_out)
        ff += share * ff_phase
        cells += share * cells_phase
    # The hold current stops again when the enables fall before the frame's end.
    for index, layer in enumerate(net.layers):
        after_fall = 1.0 - schedule.fall
        cells -= after_fall * hold_units * (1.0 - out.states[index]).sum(axis=2)
    bias = np.full(x.shape[:2], 1.0 / sigma + global_lines)  # iref (1 unit) + pb + nc
    scale = sigma * unit_nA
    return SupplyCurrents(ff * scale, cells * scale, bias * scale, xr.sum(axis=2) * unit_nA, events)


def power(spec: HardwareSpec, x: np.ndarray, calibration: Calibration = DEFAULT_CALIBRATION,
          schedule: FrameSchedule = FrameSchedule(), vdd_V: float = SUPPLY_V,
          currents: SupplyCurrents | None = None) -> Power:
    """Mean power per utterance and supply group (nW): 1.8 V times the frame-mean supply current."""
    currents = supply_currents(spec, x, schedule) if currents is None else currents
    frames = currents.cells.shape[1]
    duration_s = frames * spec.frame_period_s
    # A charge per event (pC) spread over the utterance is a current: pC / s * 1e-3 = nA.
    keeper = spec.sizing.state_keeper
    switch_pC = calibration.switch_pC + (calibration.keeper_switch_pC if keeper else 0.0)
    switch_nA = switch_pC * currents.switch_events.sum(axis=1) / duration_s * 1e-3
    ff = calibration.ff_gain * currents.feedforward.mean(axis=1) + calibration.ff_floor_nA
    cells = calibration.cells_gain * currents.cells.mean(axis=1) + calibration.cells_floor_nA + switch_nA
    bias = currents.bias.mean(axis=1)
    inputs = currents.inputs.mean(axis=1)
    # Every frame the enables of every layer rise and fall once: the charge is per cell and frame.
    control_fC = calibration.control_fC + (calibration.keeper_control_fC if keeper else 0.0)
    control_nA = control_fC * 1e-6 * len(spec.cells) / spec.frame_period_s
    control = np.full(len(ff), control_nA)
    return Power(cells * vdd_V, ff * vdd_V, bias * vdd_V, inputs * vdd_V, control * vdd_V)


def summary(result: Power, labels: np.ndarray | None = None) -> dict:
    """The ``power_nW`` block of presim.json and the ``per_utterance`` list, for ``result``."""
    total = result.total
    block = {"total_mean": float(total.mean()), "total_min": float(total.min()), "total_max": float(total.max()),
             "cells_mean": float(result.cells.mean()), "feedforward_mean": float(result.feedforward.mean()),
             "bias_mean": float(result.bias.mean()), "inputs_mean": float(result.inputs.mean()),
             "control_mean": float(result.control.mean())}
    rows = []
    for index in range(len(total)):
        row = {"index": index, "power_nW": {
            "total": round(float(total[index]), 4), "cells": round(float(result.cells[index]), 4),
            "feedforward": round(float(result.feedforward[index]), 4), "bias": round(float(result.bias[index]), 4),
            "inputs": round(float(result.inputs[index]), 4), "control": round(float(result.control[index]), 4)}}
        if labels is not None:
            row["label"] = int(labels[index])
        rows.append(row)
    return {"power_nW": block, "per_utterance": rows}


# --------------------------------------------------------------------------------------
# command line

DEFAULT_WEIGHTS = "examples/kws_yes_d4.npz"
DEFAULT_INPUTS = "examples/kws_yes_test.npz"


def parser() -> CommandParser:
    p = CommandParser(
        prog="python -m bmru.power",
        description="Software power model of the BMRU array: every branch current the circuit draws, from the "
                    "quantised model's per-frame signals, summed per supply (cells, feedforward, bias) and "
                    "averaged over each utterance. Same power_nW keys as presim.json.")
    p.add_argument("weights", nargs="?", default=DEFAULT_WEIGHTS, help="bmru-fq/1 weights (default %(default)s)")
    p.add_argument("inputs", nargs="?", default=DEFAULT_INPUTS,
                   help="inputs .npz with x (n, T, n_in) and optionally y (default %(default)s)")
    p.add_argument("-n", type=int, default=None, help="use only the first N utterances")
    p.add_argument("--json", dest="json_path", default=None,
                   help="write the results to this JSON file (default: print them)")
    add_mapping_arguments(p)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.n is not None and args.n < 1:
        fail(f"-n: must be >= 1, got {args.n}")
    net, inputs, spec = load_mapped(args.weights, args.inputs, args.n, config_from(args))
    start = time.perf_counter()
    result = power(spec, inputs.x)
    seconds = time.perf_counter() - start
    data = summary(result, inputs.y)
    data.update(utterances=int(len(inputs.x)), weights=str(args.weights), inputs=str(args.inputs),
                netlist="software", internal_scale=spec.internal_scale, unit_current_A=spec.unit_current_A,
                vdd_V=SUPPLY_V, model_seconds_per_utterance=seconds / len(inputs.x),
                calibration=asdict(DEFAULT_CALIBRATION))
    block = data["power_nW"]
    line = (f"power model: {len(inputs.x)} utterances, chip {block['total_mean']:.2f} nW "
            f"(min {block['total_min']:.2f}, max {block['total_max']:.2f}; cells {block['cells_mean']:.2f}, "
            f"feedforward {block['feedforward_mean']:.2f}, bias {block['bias_mean']:.2f}; besides: inputs "
            f"{block['inputs_mean']:.2f}, control {block['control_mean']:.3f}) in {seconds * 1e3:.1f} ms")
    if args.json_path:
        write_json(args.json_path, data)
        progress(f"{line}; wrote {args.json_path}")
    else:
        print(json.dumps(data, indent=2, sort_keys=True))
        progress(line)


if __name__ == "__main__":
    main()
