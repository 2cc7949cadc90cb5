"""Benchmark: where ngspice's time goes on one utterance of the reference network.

    python benchmarks/sim_profile.py [WEIGHTS] [--inputs F] [--utterance 0] [--netlist FILE]
                                     [--max-step 0.05 ...] [-o benchmarks/results/sim_profile.json]

For each maximum step (a fraction of a frame), runs utterance ``--utterance`` on the schematic
(or ``--netlist``, e.g. an extracted ``pex.spice``) with ngspice's ``rusage all`` and records:
accepted and rejected time points, Newton iterations (per point), device evaluation (matrix
load) against factor and solve time, netlist parsing time, where in the frame the time points
cluster (input steps, each layer's enable rise, the enable fall, the reset and settling frame),
and the run's agreement with the software model. One process at a time, one thread.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.model import run  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from generators.circuit.mapping import map_network, quantised_network  # noqa: E402
from generators.circuit.schematic import device_count, schematic_text  # noqa: E402
from pdk_sky130_180.devices import SPICE_OPTIONS  # noqa: E402
from sim.measure import measure  # noqa: E402
from sim.ngspice import run_deck  # noqa: E402
from sim.runner import MAX_STEP_FRACTION  # noqa: E402
from sim.stimulus import ENABLE_FALL, ENABLE_FIRST, ENABLE_SPAN, Timing  # noqa: E402
from sim.testbench import deck_text, find_top  # noqa: E402

COUNTERS = {  # rusage line -> key
    "Accepted timepoints": "accepted_points", "Rejected timepoints": "rejected_points",
    "Transient iterations": "newton_iterations", "Transient load time": "load_seconds",
    "Transient factor time": "factor_seconds", "Transient solve time": "solve_seconds",
    "Transient trunc time": "truncation_seconds", "Transient analysis time": "transient_seconds",
    "Netlist parsing time": "parse_seconds", "Subckt and Param expansion time": "expansion_seconds",
    "Total elapsed time (seconds)": "elapsed_seconds", "Circuit total non-zeroes": "matrix_nonzeros",
}


def counters(log: str) -> dict:
    found = {}
    for line in log.splitlines():
        match = re.match(r"\s*([A-Za-z() ]+?)\s*=\s*([-0-9.eE+]+)\s*$", line)
        if match and match.group(1) in COUNTERS:
            found[COUNTERS[match.group(1)]] = float(match.group(2))
    return found


def phase_regions(layers: int) -> dict[str, tuple[float, float]]:
    """Parts of a frame (fractions) where the stimulus has an edge, and the quiet rest."""
    regions = {"input step (0-0.1)": (0.0, 0.1)}
    for layer in range(layers):
        rise = ENABLE_FIRST + ENABLE_SPAN * layer / layers
        regions[f"enable {layer} rise ({rise:g}-{rise + 0.1:g})"] = (rise, rise + 0.1)
    regions[f"enable fall ({ENABLE_FALL - 0.01:g}-1)"] = (ENABLE_FALL - 0.01, 1.0)
    return regions


def clustering(times: np.ndarray, timing: Timing, layers: int) -> dict:
    period = timing.frame_period_s
    settle = times < timing.start_s
    phase = ((times[~settle] - timing.start_s) % period) / period
    out = {"reset and settling frame": int(settle.sum())}
    taken = np.zeros(len(phase), dtype=bool)
    for name, (low, high) in phase_regions(layers).items():
        inside = (phase >= low) & (phase < high)
        out[name] = round(float(inside.sum()) / timing.frames, 2)
        taken |= inside
    out["rest of the frame"] = round(float((~taken).sum()) / timing.frames, 2)
    return {"points_per_frame": out, "note": "per frame (mean over frames), except the settling frame: total"}


def profile(netlist: Path, spec, x: np.ndarray, sw, index: int, max_step: float) -> dict:
    top = find_top(netlist.read_text())
    deck = deck_text(netlist, top, x, spec.unit_current_A, spec.frame_period_s, max_step_fraction=max_step)
    deck = deck.replace("\nquit 0", "\nrusage all\nquit 0")
    start = time.perf_counter()
    result = run_deck(deck)
    wall = time.perf_counter() - start
    timing = Timing(spec.frame_period_s, x.shape[0])
    measured = measure(result, top, timing, spec.unit_current_A, spec.internal_scale, x)
    sw_states = np.stack([s[index] for s in sw.states])
    stats = counters(result.log)
    points = stats.get("accepted_points", float("nan"))
    return {
        "max_step_fraction": max_step, "wall_seconds": round(wall, 2), **stats,
        "points_per_frame": round(points / timing.frames, 1),
        "iterations_per_point": round(stats.get("newton_iterations", float("nan")) / points, 2),
        "load_share": round(stats.get("load_seconds", 0) / max(stats.get("transient_seconds", 1), 1e-9), 3),
        "clustering": clustering(result["scale"], timing, spec.layers),
        "frame_state_agreement": float(np.mean(sw_states == measured.states)),
        "decision": measured.decision, "software_decision": int(sw.decision[index]),
        "power_nW": {k: round(v, 3) for k, v in sorted(measured.power_nW.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="?", default="examples/kws_yes_d4.npz")
    parser.add_argument("--inputs", default="examples/kws_yes_test.npz")
    parser.add_argument("--utterance", type=int, default=0)
    parser.add_argument("--netlist", default=None, help="netlist to profile (default: the weights' schematic)")
    parser.add_argument("--max-step", type=float, nargs="+", default=[MAX_STEP_FRACTION],
                        help="largest time steps to profile, as fractions of a frame (default: the simulator's)")
    parser.add_argument("-o", "--out", default="benchmarks/results/sim_profile.json")
    args = parser.parse_args()
    net = load_weights(args.weights)
    spec = map_network(net)
    x = load_inputs(args.inputs, n_in=net.n_in).x
    sw = run(quantised_network(spec), x[args.utterance:args.utterance + 1])
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        netlist = Path(args.netlist) if args.netlist else Path(tmp) / "schematic.spice"
        if not args.netlist:
            netlist.write_text(schematic_text(spec))
        for max_step in args.max_step:
            runs.append(profile(netlist.resolve(), spec, x[args.utterance], sw, 0, max_step))
            print(f"max step {max_step:g}: {runs[-1]['wall_seconds']} s, {runs[-1]['points_per_frame']} points/frame",
                  file=sys.stderr, flush=True)
        devices = device_count(netlist.read_text())
    write_json(args.out, {"weights": args.weights, "utterance": args.utterance,
                          "netlist": args.netlist or "schematic", "device_instances": devices,
                          "options": SPICE_OPTIONS, "runs": runs})
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
