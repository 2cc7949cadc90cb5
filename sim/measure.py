"""Per-utterance measurements from a transient: cell states, class currents, decisions, power."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmru.model import majority
from pdk_sky130_180.devices import SUPPLY_V
from sim.ngspice import SpiceResult, SpiceStalled
from sim.stimulus import Timing, input_currents
from sim.testbench import TopCircuit, control_sources

# A class current below this many (internal) units counts as zero, like the software's ReLU
# output of exactly 0: without it, fA-pA leakage would break the software's ties at zero.
ZERO_FLOOR_UNITS = 0.02
POWER_GROUPS = {"vdd_ff": "feedforward", "vdd_cells": "cells", "vdd_bias": "bias"}


@dataclass(frozen=True, eq=False)
class Measurement:
    states: np.ndarray  # (L, T, N) uint8, from the st<l>_<n> pins at the sample times
    class_currents: np.ndarray  # (T, C) in software units (divided by unit current and sigma)
    frame_decisions: np.ndarray  # (T,)
    decision: int
    power_nW: dict  # averaged over the utterance: "total" (the chip's supplies), one entry per supply
    # group, "control" (rst/en/enb drivers) and "inputs" (input currents as if drawn from the supply)
    sim_seconds: float
    bypass_off: bool = False  # ran without device bypass: a circuit that needs it off, or a stalled run repeated
    smaller_step: bool = False  # stalled without bypass too, and repeated at a smaller largest step


def _at(result: SpiceResult, vector: str, times: np.ndarray) -> np.ndarray:
    return np.interp(times, result["scale"], result[vector])


def state_array(result: SpiceResult, top: TopCircuit, times: np.ndarray, vdd_V: float = SUPPLY_V) -> np.ndarray:
    """(L, T, N) states: a state pin above half the supply reads 1."""
    by_layer: dict[int, list[np.ndarray]] = {}
    for pin in top.states:
        layer = int(pin[2:].split("_")[0])
        by_layer.setdefault(layer, []).append(_at(result, f"v({pin})", times) > vdd_V / 2)
    if not by_layer:
        return np.zeros((0, len(times), 0), dtype=np.uint8)
    return np.stack([np.stack(by_layer[layer], axis=1) for layer in sorted(by_layer)]).astype(np.uint8)


def class_currents(result: SpiceResult, top: TopCircuit, times: np.ndarray, unit_A: float) -> np.ndarray:
    """(T, C) class currents in software units; the testbench's hold source sees them as positive."""
    currents = np.stack([_at(result, f"i(v{pin})", times) for pin in top.outputs], axis=1) / unit_A
    return np.where(currents > ZERO_FLOOR_UNITS, currents, 0.0)


def _window(result: SpiceResult, start_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    time = result["scale"]
    keep = time >= start_s
    if keep.sum() < 2:
        keep[:] = True
    return keep, time[keep], float(time[keep][-1] - time[keep][0])


def mean_power_nW(result: SpiceResult, top: TopCircuit, start_s: float = 0.0, vdd_V: float = SUPPLY_V) -> dict:
    """Average power per supply from ``start_s`` (frame 0) to the end of the transient (supply
    sources deliver negative current); ``total`` is the chip's supplies only."""
    keep, time, duration = _window(result, start_s)
    power = {}
    total = 0.0
    for supply in top.supplies:
        current = -result[f"i(v{supply})"][keep]
        watts = np.trapezoid(current, time) / duration * vdd_V
        power[POWER_GROUPS.get(supply, supply)] = watts * 1e9
        total += watts * 1e9
    power["total"] = total
    return power


def control_power_nW(result: SpiceResult, top: TopCircuit, start_s: float, vdd_V: float = SUPPLY_V) -> float:
    """What the rst and en/enb drivers draw, as CMOS drivers on the ``vdd_V`` supply would: the
    charge each source pushes into its pin (wiring capacitance included) comes from the supply;
    what flows back on a falling edge goes to ground and is not counted. The whole transient
    (the reset before frame 0 included) is charged to the utterance, averaged from ``start_s``."""
    time = result["scale"]
    duration = float(time[-1] - start_s) if time[-1] > start_s else float(time[-1] - time[0])
    charge = 0.0
    for source in control_sources(top):
        delivered = np.maximum(-result[f"i({source})"], 0.0)  # out of the + terminal into the pin
        charge += float(np.trapezoid(delivered, time))
    return charge / duration * vdd_V * 1e9


def inputs_power_nW(x: np.ndarray, unit_current_A: float, vdd_V: float = SUPPLY_V) -> float:
    """The input pins' currents as if each were drawn from the ``vdd_V`` supply (the bench's
    sources are ideal): frame-averaged total input current times the supply."""
    return float(input_currents(x, unit_current_A).sum(axis=1).mean()) * vdd_V * 1e9


def check_complete(result: SpiceResult, timing: Timing) -> None:
    """A transient that stopped early would be read as its last value held (interpolation clamps)."""
    stop = result.stop_time
    if stop < timing.stop_s * (1 - 1e-6):
        raise SpiceStalled(f"transient stopped at {stop:.6g} s of {timing.stop_s:.6g} s")


def measure(result: SpiceResult, top: TopCircuit, timing: Timing, unit_current_A: float,
            internal_scale: float, x: np.ndarray | None = None, vdd_V: float = SUPPLY_V) -> Measurement:
    check_complete(result, timing)
    times = timing.sample_times()
    states = state_array(result, top, times, vdd_V)
    z = class_currents(result, top, times, unit_current_A * internal_scale)
    frame_decisions = np.argmax(z, axis=1)
    decision = int(majority(frame_decisions[None], z.shape[1])[0])
    power = mean_power_nW(result, top, timing.start_s, vdd_V)
    power["control"] = control_power_nW(result, top, timing.start_s, vdd_V)
    if x is not None:
        power["inputs"] = inputs_power_nW(x, unit_current_A, vdd_V)
    return Measurement(states, z, frame_decisions, decision, power, result.seconds)
