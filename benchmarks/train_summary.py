"""Collect the training reports into one accuracy table: float and quantised, D = 4, 8, 16.

    .venv/bin/python benchmarks/train_summary.py [--experiments build/exp4/*.json]

Reads the reports ``python -m bmru.train`` writes (``benchmarks/train_kws_yes_d<D>.json`` for the
quantisation-aware run, ``..._float.json`` for the same recipe with ``--quant-start 1``), the seed
sweep (``benchmarks/results/train_seed_sweep.json``) and, if given, further reports of one-off
experiments, and writes ``benchmarks/train_summary.json``. Accuracies are the exact NumPy model's
on the held-out test set (voices disjoint from training and validation).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (4, 8, 16)


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _brief(report: dict, path: Path) -> dict:
    """The figures of one training report a reader compares runs by."""
    accuracy = report["accuracy"]
    return {"report": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            "command": report["command"], "width": report["config"]["width"],
            "steps": report["config"]["steps"],
            "quantisation_aware": report["config"]["quant_start"] < 1.0,
            "test_accuracy": accuracy["test_quantised"], "val_accuracy": accuracy["val_quantised"],
            "training_seconds": report["seconds"]["training"],
            "sum_abs_weights": report.get("sum_abs_weights")}


def summarise(benchmarks: Path, experiments: list[Path]) -> dict:
    table, runs = {}, {}
    for width in WIDTHS:
        row = {}
        for kind, suffix in (("quantised", ""), ("float", "_float")):
            path = benchmarks / f"train_kws_yes_d{width}{suffix}.json"
            report = _load(path)
            if report is None:
                row[kind] = None
                continue
            runs[f"d{width}{suffix}"] = _brief(report, path)
            row[kind] = report["accuracy"]["test_quantised"]  # the float run exports its float model
        if row["quantised"] is not None and row["float"] is not None:
            row["quantised_minus_float"] = row["quantised"] - row["float"]
        table[f"D{width}"] = row
    shipped = _load(benchmarks / "train_kws_yes_d4.json")
    summary = {
        "accuracy_table": table,
        "float_note": "float = the same command with --quant-start 1 (never quantised), its best "
                      "validation checkpoint, run with the exact NumPy model",
        "runs": runs,
        "data": shipped["data"]["composition"] if shipped else None,
        "data_generation_seconds": shipped["seconds"]["data_generation"] if shipped else None,
        "seed_sweep": _load(benchmarks / "results" / "train_seed_sweep.json"),
        "experiments_d4": [_brief(json.loads(path.read_text()), path) for path in experiments],
    }
    if shipped:
        summary["shipped"] = {"weights": shipped["weights"], "test_set": shipped["test_out"],
                              "command": shipped["command"],
                              "test_accuracy_quantised": shipped["accuracy"]["test_quantised"],
                              "training_seconds": shipped["seconds"]["training"]}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", type=Path, default=ROOT / "benchmarks",
                        help="folder of the train_kws_yes_d<D>[_float].json reports")
    parser.add_argument("--experiments", type=Path, nargs="*", default=[],
                        help="reports of further D = 4 runs to list beside the table")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "train_summary.json")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.experiments if not path.exists()]
    if missing:
        print(f"train_summary: error: no such report: {', '.join(missing)}", file=sys.stderr)
        return 2
    summary = summarise(args.benchmarks, args.experiments)
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(args.out)
    print(json.dumps(summary["accuracy_table"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
