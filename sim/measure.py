"""Per-utterance measurements from a transient: cell states, class currents, decisions, power."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmru.model import majority
from pdk_sky130_180.devices import SUPPLY_V
from sim.ngspice import SpiceResult
from sim.stimulus import Timing
from sim.testbench import TopCircuit

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
    power_nW: dict  # "total" and one entry per supply group, averaged over the utterance
    sim_seconds: float


def _at(result: SpiceResult, vector: str, times: np.ndarray) -> np.ndarray:
    return np.interp(times, result["scale"], result[vector])


def state_array(result: SpiceResult, top: TopCircuit, times: np.ndarray) -> np.ndarray:
    """(L, T, N) states: a state pin above half the supply reads 1."""
    by_layer: dict[int, list[np.ndarray]] = {}
    for pin in top.states:
        layer = int(pin[2:].split("_")[0])
        by_layer.setdefault(layer, []).append(_at(result, f"v({pin})", times) > SUPPLY_V / 2)
    if not by_layer:
        return np.zeros((0, len(times), 0), dtype=np.uint8)
    return np.stack([np.stack(by_layer[layer], axis=1) for layer in sorted(by_layer)]).astype(np.uint8)


def class_currents(result: SpiceResult, top: TopCircuit, times: np.ndarray, unit_A: float) -> np.ndarray:
    """(T, C) class currents in software units; the testbench's hold source sees them as positive."""
    currents = np.stack([_at(result, f"i(v{pin})", times) for pin in top.outputs], axis=1) / unit_A
    return np.where(currents > ZERO_FLOOR_UNITS, currents, 0.0)


def mean_power_nW(result: SpiceResult, top: TopCircuit, start_s: float = 0.0) -> dict:
    """Average power per supply from ``start_s`` (frame 0) to the end of the transient (supply
    sources deliver negative current)."""
    time = result["scale"]
    keep = time >= start_s
    if keep.sum() < 2:
        keep[:] = True
    time = time[keep]
    duration = time[-1] - time[0]
    power = {}
    total = 0.0
    for supply in top.supplies:
        current = -result[f"i(v{supply})"][keep]
        watts = np.trapezoid(current, time) / duration * SUPPLY_V
        power[POWER_GROUPS.get(supply, supply)] = watts * 1e9
        total += watts * 1e9
    power["total"] = total
    return power


def measure(result: SpiceResult, top: TopCircuit, timing: Timing, unit_current_A: float,
            internal_scale: float) -> Measurement:
    times = timing.sample_times()
    states = state_array(result, top, times)
    z = class_currents(result, top, times, unit_current_A * internal_scale)
    frame_decisions = np.argmax(z, axis=1)
    decision = int(majority(frame_decisions[None], z.shape[1])[0])
    return Measurement(states, z, frame_decisions, decision, mean_power_nW(result, top, timing.start_s), result.seconds)
