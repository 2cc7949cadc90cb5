"""Netlist in, measurements out: simulate utterances on any netlist with the array's top pins.

Used by ``sim.presim`` (schematic) and, unchanged, by post-layout simulation (extracted
netlist): only the netlist path and its label differ.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from bmru.model import run
from generators.mapping import HardwareSpec, quantised_network
from sim.compare import compare
from sim.measure import Measurement, measure
from sim.ngspice import run_deck
from sim.stimulus import Timing
from sim.testbench import TopCircuit, deck_text, find_top


MAX_STEP_FRACTION = 0.01  # largest transient step, as a fraction of a frame


def simulate_one(netlist_path: Path, top: TopCircuit, spec: HardwareSpec, x: np.ndarray, corner: str = "tt",
                 temperature_C: float = 27.0, max_step_fraction: float = MAX_STEP_FRACTION) -> Measurement:
    """One utterance. A long maximum step lets charge-integration error drift the cells'
    high-impedance comparator nodes by ~pA (a cell then flips late in a frame), hence 1 % of a frame."""
    deck = deck_text(netlist_path, top, x, spec.unit_current_A, spec.frame_period_s, corner, temperature_C,
                     max_step_fraction)
    result = run_deck(deck)
    timing = Timing(spec.frame_period_s, x.shape[0])
    return measure(result, top, timing, spec.unit_current_A, spec.internal_scale)


def simulate(netlist_path: str | Path, spec: HardwareSpec, x: np.ndarray, jobs: int = 2, corner: str = "tt",
             temperature_C: float = 27.0, top_name: str | None = None,
             on_done: Callable[[int, Measurement], None] | None = None,
             max_step_fraction: float = MAX_STEP_FRACTION) -> list[Measurement]:
    """Simulate each utterance of ``x`` (n, T, n_in), ``jobs`` ngspice processes at a time."""
    netlist_path = Path(netlist_path).resolve()
    top = find_top(netlist_path.read_text(), top_name)
    results: list[Measurement | None] = [None] * len(x)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(simulate_one, netlist_path, top, spec, x[i], corner, temperature_C,
                               max_step_fraction): i
                   for i in range(len(x))}
        for future in futures:
            index = futures[future]
            results[index] = future.result()
            if on_done is not None:
                on_done(index, results[index])
    return results  # type: ignore[return-value]


def evaluate(netlist_label: str, netlist_path: str | Path, spec: HardwareSpec, x: np.ndarray,
             labels: np.ndarray | None, jobs: int = 2, corner: str = "tt", temperature_C: float = 27.0,
             top_name: str | None = None,
             on_done: Callable[[int, Measurement], None] | None = None,
             max_step_fraction: float = MAX_STEP_FRACTION) -> dict:
    """The presim/postlayout JSON: agreement with the quantised software model, accuracy, power."""
    net = quantised_network(spec)
    start = time.perf_counter()
    sw = run(net, x)
    software_seconds = (time.perf_counter() - start) / len(x)
    start = time.perf_counter()
    hw = simulate(netlist_path, spec, x, jobs, corner, temperature_C, top_name, on_done, max_step_fraction)
    wall = time.perf_counter() - start
    summary = compare(sw, hw, labels)
    result = {
        "netlist": netlist_label,
        "corner": corner,
        "temperature_C": temperature_C,
        "sim_seconds_per_utterance": float(np.mean([m.sim_seconds for m in hw])),
        "sim_wall_seconds": wall,
        "jobs": jobs,
        "max_step_fraction": max_step_fraction,
        "software_seconds_per_utterance": software_seconds,
        "internal_scale": spec.internal_scale,
        "unit_current_A": spec.unit_current_A,
    }
    result.update(summary)
    return result
