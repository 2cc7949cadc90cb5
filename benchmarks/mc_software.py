"""Benchmark: the software Monte Carlo (mismatch draws -> realised parameters -> NumPy model).

    python benchmarks/mc_software.py [WEIGHTS] [--inputs F] [--samples 1000] [--seed 1]
                                     [-o benchmarks/results/mc_software.json]

Runs ``sim.montecarlo --software-only`` on every utterance of the inputs and records the
figures of its mc.json (accuracy nominal/mean/p5/min, decision and frame-state agreement)
with the wall time, the process CPU time and the machine's load, since the 2 cores here are
often shared with ngspice runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from sim.montecarlo import main as mc_main  # noqa: E402
from sim.presim import DEFAULT_INPUTS, DEFAULT_WEIGHTS  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="?", default=DEFAULT_WEIGHTS)
    p.add_argument("--inputs", default=DEFAULT_INPUTS)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-o", "--out", default="benchmarks/results/mc_software.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bmru_mc_bench_") as tmp:
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        mc_main([args.weights, "--inputs", args.inputs, "--samples", str(args.samples), "--seed", str(args.seed),
                 "--software-only", "-o", tmp])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        data = json.loads((Path(tmp) / "mc.json").read_text())
    kept = [row["kept_fraction"] for row in data["per_utterance"]]
    result = {
        "what": "software-only mismatch Monte Carlo (sim.montecarlo --software-only), schematic-level model",
        "weights": args.weights, "inputs": args.inputs, "samples": data["samples"], "utterances": data["utterances"],
        "seed": args.seed, "statistics": data["statistics"], "corner": data["corner"],
        "accuracy": data["accuracy"], "decision_agreement": data["decision_agreement"],
        "frame_state_agreement": data["frame_state_agreement"],
        "utterances_kept_by_90pct_of_samples": sum(k >= 0.9 for k in kept),
        "utterances_kept_by_50pct_of_samples": sum(k >= 0.5 for k in kept),
        "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "load_average_at_start": round(load, 2),
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
