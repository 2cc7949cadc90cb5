"""Netlist in, measurements out: simulate utterances on any netlist with the array's top pins.

Used by ``sim.presim`` (schematic) and, unchanged, by post-layout simulation (extracted
netlist): only the netlist path differs. What was simulated is recorded with the result: the
netlist's kind (an extracted netlist carries :mod:`extract.pex`'s provenance line), its file
and SHA-256, the corner, temperature and supply.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Callable

import numpy as np

from bmru.model import run
from extract.pex import provenance
from generators.circuit.mapping import HardwareSpec, quantised_network
from pdk_sky130_180.devices import SUPPLY_V
from sim.cluster import ClusterError, map_on_cluster
from sim.compare import compare
from sim.measure import Measurement, measure
from sim.ngspice import SpiceError, SpiceStalled, run_deck
from sim.stimulus import Timing
from sim.testbench import NO_BYPASS, TopCircuit, circuit_options, deck_text, find_top, options_record


# largest transient step, as a fraction of a frame: 0.05 halves the time points of the quiet
# part of a frame against 0.01 with the balanced N = 50 figures unchanged (the edges, where
# the circuit moves, set their own steps; benchmarks/results/sim_profile.json)
MAX_STEP_FRACTION = 0.05
STALL_STEP_DIVISOR = 5  # a run that stalls without bypass is repeated at a 5x smaller largest step


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def circuit_sha256(text: str) -> str:
    """SHA-256 of a netlist's circuit: its lines without comments and blank lines, so that two
    files that differ only in a comment (a generator's name in the header) describe the same
    circuit. ``netlist_sha256`` stays the digest of the exact file simulated."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.lstrip().startswith("*")]
    return hashlib.sha256("\n".join(kept).encode()).hexdigest()


def netlist_kind(text: str) -> str:
    """``"pex"`` for a netlist written by extract.pex (it carries a provenance line), else ``"schematic"``."""
    return "pex" if provenance(text) is not None else "schematic"


def simulate_one(netlist_path: Path, top: TopCircuit, spec: HardwareSpec, x: np.ndarray, corner: str = "tt",
                 temperature_C: float = 27.0, max_step_fraction: float = MAX_STEP_FRACTION,
                 vdd_V: float = SUPPLY_V, models: str | None = None,
                 options: dict | None = None) -> Measurement:
    """One utterance. ``models`` replaces the corner's model include (a Monte Carlo sample's
    cards, see sim.montecarlo); ``options`` the simulator options (default
    ``sim.testbench.circuit_options``; other ones for experiments). A run that stalls with device
    bypass is repeated without it; one that stalls without it, at a ``STALL_STEP_DIVISOR`` times
    smaller largest step."""
    timing = Timing(spec.frame_period_s, x.shape[0])

    def attempt(options: dict, step_fraction: float = max_step_fraction) -> Measurement:
        deck = deck_text(netlist_path, top, x, spec.unit_current_A, spec.frame_period_s, corner, temperature_C,
                         step_fraction, vdd_V, models=models, options=options)
        return measure(run_deck(deck), top, timing, spec.unit_current_A, spec.internal_scale, x, vdd_V)

    options = circuit_options(spec.sizing) if options is None else options
    if options.get("bypass") != 0:
        try:
            return attempt(options)
        except SpiceStalled:
            # device bypass (a speed-up) can stall the integrator at a cell's switching node at
            # some PVT points (2 µm fingers, ss, 85 °C); the same circuit without it runs, slower
            options = {**options, **NO_BYPASS}
    try:
        return dataclasses.replace(attempt(options), bypass_off=True)
    except SpiceStalled:
        # a held state node can stall it even without bypass (the 2 µm keeper design at ss, 85 °C,
        # 1.98 V: "timestep too small" at a disabled layer's st while the layer below switches);
        # shorter steps get past it
        return dataclasses.replace(attempt(options, max_step_fraction / STALL_STEP_DIVISOR), bypass_off=True,
                                   smaller_step=True)


def _simulate_item(item: tuple) -> Measurement:
    """One utterance from a picklable tuple (runs on a Dask worker)."""
    return simulate_one(*item)


def simulate(netlist_path: str | Path, spec: HardwareSpec, x: np.ndarray, jobs: int = 2, corner: str = "tt",
             temperature_C: float = 27.0, top_name: str | None = None,
             on_done: Callable[[int, Measurement], None] | None = None,
             max_step_fraction: float = MAX_STEP_FRACTION, vdd_V: float = SUPPLY_V,
             scheduler: str | None = None) -> list[Measurement]:
    """Simulate each utterance of ``x`` (n, T, n_in): in this process one after the other when
    ``jobs`` is 1 and no scheduler is named, otherwise on Dask (a local cluster of ``jobs``
    single-threaded worker processes, or the cluster at ``scheduler``). A failed run (ngspice
    error, missing vector, transient short of its stop time) raises :class:`SpiceError` naming
    the utterance."""
    netlist_path = Path(netlist_path).resolve()
    top = find_top(netlist_path.read_text(), top_name)
    items = [(netlist_path, top, spec, x[i], corner, temperature_C, max_step_fraction, vdd_V) for i in range(len(x))]
    if len(x):  # a netlist the bench cannot drive is refused here, before any worker starts
        deck_text(netlist_path, top, x[0], spec.unit_current_A, spec.frame_period_s, corner, temperature_C,
                  max_step_fraction, vdd_V)
    if scheduler is None and jobs <= 1:
        results = []
        for index, item in enumerate(items):
            try:
                results.append(_simulate_item(item))
            except SpiceError as error:
                raise SpiceError(f"utterance {index}: {error}") from None
            if on_done is not None:
                on_done(index, results[-1])
        return results
    try:
        return map_on_cluster(_simulate_item, items, scheduler=scheduler, on_done=on_done, workers=jobs,
                              name="utterance")
    except ClusterError as error:
        raise SpiceError(str(error)) from None


def evaluate(netlist_path: str | Path, spec: HardwareSpec, x: np.ndarray,
             labels: np.ndarray | None, jobs: int = 2, corner: str = "tt", temperature_C: float = 27.0,
             top_name: str | None = None,
             on_done: Callable[[int, Measurement], None] | None = None,
             max_step_fraction: float = MAX_STEP_FRACTION, vdd_V: float = SUPPLY_V,
             scheduler: str | None = None) -> dict:
    """The presim/postlayout JSON: agreement with the quantised software model, accuracy, power,
    and what was simulated."""
    netlist_path = Path(netlist_path)
    kind = netlist_kind(netlist_path.read_text())
    digest = sha256_of(netlist_path)
    net = quantised_network(spec)
    start = time.perf_counter()
    sw = run(net, x)
    software_seconds = (time.perf_counter() - start) / len(x)
    start = time.perf_counter()
    hw = simulate(netlist_path, spec, x, jobs, corner, temperature_C, top_name, on_done, max_step_fraction, vdd_V,
                  scheduler)
    wall = time.perf_counter() - start
    summary = compare(sw, hw, labels)
    result = {
        "netlist": kind,
        "netlist_file": str(netlist_path),
        "netlist_sha256": digest,
        "corner": corner,
        "temp_C": temperature_C,
        "vdd_V": vdd_V,
        "sim_seconds_per_utterance": float(np.mean([m.sim_seconds for m in hw])),
        "sim_wall_seconds": wall,
        "jobs": jobs,
        "scheduler": scheduler,
        "max_step_fraction": max_step_fraction,
        **spec.sizing.record(),
        **options_record(spec.sizing),
        "software_seconds_per_utterance": software_seconds,
        "internal_scale": spec.internal_scale,
        "unit_current_A": spec.unit_current_A,
    }
    result.update(summary)
    return result
