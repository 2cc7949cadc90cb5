"""Train the D = 4 model with several seeds and pick the one with the best
validation accuracy (never the test accuracy, so the test figure stays honest).

    .venv-train/bin/python benchmarks/train_seed_sweep.py --seeds 0 1 2 3 4 5 -- \
        --margin-weight 10 --time-shift 8 --feature-noise 0.1

Writes build/seed_sweep/d4_seed<S>.npz and .json per seed and
benchmarks/results/train_seed_sweep.json with every run's figures and the pick.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "build" / "seed_sweep")
    parser.add_argument("--result", type=Path,
                        default=ROOT / "benchmarks" / "results" / "train_seed_sweep.json")
    parser.add_argument("extra", nargs="*", help="further bmru.train options (after --)")
    args = parser.parse_args()
    args.out_dir = args.out_dir.resolve()  # reports name weights relative to the repository
    args.out_dir.mkdir(parents=True, exist_ok=True)

    runs = []
    for seed in args.seeds:
        stem = f"d{args.width}_seed{seed}"
        weights = args.out_dir / f"{stem}.npz"
        report = args.out_dir / f"{stem}.json"
        if not report.exists():
            command = [sys.executable, "-m", "bmru.train", "--width", str(args.width),
                       "--seed", str(seed), "--out", str(weights), "--report", str(report),
                       "--checkpoint", str(args.out_dir / f"{stem}.pt"), *args.extra]
            print(f"[seed {seed}] {' '.join(command[1:])}", flush=True)
            started = time.monotonic()
            subprocess.run(command, cwd=ROOT, check=True)
            print(f"[seed {seed}] {time.monotonic() - started:.0f} s", flush=True)
        accuracy = json.loads(report.read_text())["accuracy"]
        runs.append({"seed": seed, "weights": str(weights.relative_to(ROOT)), **accuracy})
        print(f"[seed {seed}] val {accuracy['val_quantised']:.4f} "
              f"test {accuracy['test_quantised']:.4f}", flush=True)

    best = max(runs, key=lambda run: (run["val_quantised"], -run["seed"]))
    result = {"width": args.width, "options": args.extra, "selected_on": "val_quantised", "runs": runs,
              "best": best}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"best seed {best['seed']}: val {best['val_quantised']:.4f} "
          f"test {best['test_quantised']:.4f} -> {best['weights']}")


if __name__ == "__main__":
    main()
