"""Time the one-command demo, stage by stage, and keep the figures.

    python benchmarks/demo_timing.py [--n 10] [--out build/demo_benchmark]

Runs ``scripts/demo.sh`` on the shipped example (setup must have run) and writes
benchmarks/results/demo_timings.json: the seconds of each stage (timings.json of the run),
the machine's core count and the agreement figures the run produced.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10, help="utterances (default: the demo's 10)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo_benchmark")
    parser.add_argument("--result", type=Path, default=ROOT / "benchmarks" / "results" / "demo_timings.json")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)  # a fresh run: no stage may be skipped
    subprocess.run(["bash", "scripts/demo.sh", "examples/kws_yes_d4.npz", "examples/kws_yes_test.npz",
                    str(args.n), str(args.out)], cwd=ROOT, check=True)
    result = {"utterances": args.n, "cores": os.cpu_count(),
              "seconds": json.loads((args.out / "timings.json").read_text())}
    for name in ("presim", "postlayout"):
        figures = json.loads((args.out / f"{name}.json").read_text())
        result[name] = {key: figures[key] for key in ("decision_agreement", "frame_state_agreement",
                                                       "sim_seconds_per_utterance")}
        result[name]["power_nW_mean"] = figures["power_nW"]["total_mean"]
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["seconds"], indent=2))


if __name__ == "__main__":
    main()
