"""Train the D = 4 model with several seeds and pick the one with the best
validation accuracy (never the test accuracy, so the test figure stays honest).

    .venv-train/bin/python benchmarks/train_seed_sweep.py --seeds 0 1 2 3 4 5 -- \
        --margin-weight 10 --time-shift 8 --feature-noise 0.1

Writes build/seed_sweep/d4_seed<S>.npz and .json per seed and
benchmarks/results/train_seed_sweep.json with every run's figures and the pick. With
mismatch-aware training (``-- --mismatch STATS``), ``--pick floor`` picks the seed whose kept
checkpoint has the best min(nominal validation accuracy, mean validation accuracy over the
training's fixed chips): the model that does best on both the nominal chip and drawn ones.
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
    parser.add_argument("--pick", choices=("val", "floor"), default="val",
                        help="val: best nominal validation accuracy; floor: best min(nominal, chips' mean) on "
                             "the validation set (mismatch-aware runs)")
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
        data = json.loads(report.read_text())
        run = {"seed": seed, "weights": str(weights.relative_to(ROOT)), **data["accuracy"]}
        kept = [r["val"] for r in data["history"] if r["step"] == data["best_quant_step"]]
        if kept and "chips" in kept[0]:
            run["val_chips_mean"], run["val_chips_p5"] = kept[0]["chips"]["mean"], kept[0]["chips"]["p5"]
            run["val_floor"] = min(run["val_quantised"], run["val_chips_mean"])
        elif args.pick == "floor":
            raise SystemExit(f"--pick floor: {report} has no chips' validation figures (train with --mismatch)")
        runs.append(run)
        print(f"[seed {seed}] val {run['val_quantised']:.4f} "
              + (f"chips {run['val_chips_mean']:.4f} " if "val_chips_mean" in run else "")
              + f"test {run['test_quantised']:.4f}", flush=True)

    key = "val_quantised" if args.pick == "val" else "val_floor"
    best = max(runs, key=lambda run: (run[key], -run["seed"]))
    result = {"width": args.width, "options": args.extra, "selected_on": key, "runs": runs, "best": best}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"best seed {best['seed']}: val {best['val_quantised']:.4f} "
          f"test {best['test_quantised']:.4f} -> {best['weights']}")


if __name__ == "__main__":
    main()
