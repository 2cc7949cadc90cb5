"""Benchmark: which devices' mismatch costs the keyword spotter its accuracy.

    .venv-train/bin/python benchmarks/mismatch_roles.py [--weights examples/kws_yes_d4.npz] \\
        --stats build/stats.json [--stats build/stats_u3_a64.json ...] [--chips 48] [-o OUT]

For each statistics file (``python -m sim.montecarlo WEIGHTS --training-stats FILE`` with the
sizing what-if of interest), the model runs the held-out utterances on ``--chips`` chips drawn
with the circuit's sharing (``bmru.mismatch``, the draws mismatch-aware training uses, checked
against the device-path model), first with every device's error, then with one group of device
roles drawn alone, then with every role but that group. The groups follow the circuit: each
parameter's own output devices; the signal receivers' diodes; their one-finger converters; the
global bias lines; each cell's threshold and state lines. Writes
benchmarks/results/mismatch_roles.json (tt, 27 °C, 1.8 V statistics; software model).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.mismatch import load_stats  # noqa: E402
from bmru.train import BMRUNet, evaluate, evaluate_chips  # noqa: E402
from bmru.weights import load_weights  # noqa: E402

GROUPS = {
    "outputs (weights, biases, cell sources)": ("nmos_finger", "pmos_finger", "cell.alpha_finger",
                                                "cell.beta2_finger", "cell.delta_finger"),
    "receiver diodes and residual copies": ("rx.d", "rx_in.d", "res.r"),
    "receiver converters (one finger)": ("rx.k", "rx.p", "rx_in.k", "rx_in.p"),
    "global bias lines": ("nref", "npb", "ppb", "pnc", "nnc"),
    "cell lines": ("cell.kpc", "cell.ppc", "cell.m1", "cell.m2"),
}


def accuracy(model, x, y, stats, keep, chips: int, seed: int) -> dict:
    drawn = replace(stats, roles={role: (sigma if keep(role) else 0.0) for role, sigma in stats.roles.items()})
    result = evaluate_chips(model, x, y, True, drawn, chips, seed)
    return {k: round(v, 4) for k, v in result.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default="examples/kws_yes_d4.npz")
    p.add_argument("--inputs", default="examples/kws_yes_test.npz")
    p.add_argument("--stats", action="append", required=True, help="training statistics file (repeat)")
    p.add_argument("--chips", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", default="benchmarks/results/mismatch_roles.json")
    args = p.parse_args(argv)
    net = load_weights(args.weights)
    model = BMRUNet(net.n_in, net.width, len(net.layers), net.classes)
    model.load_network(net)
    with np.load(args.inputs) as data:
        x, y = data["x"], data["y"]
    known = {role for roles in GROUPS.values() for role in roles}
    runs = []
    for path in args.stats:
        stats = load_stats(path)
        missing = sorted(set(stats.roles) - known)
        if missing:
            raise SystemExit(f"--stats {path}: roles in no group: {', '.join(missing)}")
        start = time.perf_counter()
        row = {"stats": path, "covers": stats.covers, "all": accuracy(model, x, y, stats, lambda r: True, args.chips,
                                                                       args.seed), "alone": {}, "without": {}}
        for name, roles in GROUPS.items():
            row["alone"][name] = accuracy(model, x, y, stats, lambda r: r in roles, args.chips, args.seed)
            row["without"][name] = accuracy(model, x, y, stats, lambda r: r not in roles, args.chips, args.seed)
        row["seconds"] = round(time.perf_counter() - start, 1)
        runs.append(row)
        print(f"{path}: all {row['all']}", file=sys.stderr, flush=True)
        for name in GROUPS:
            print(f"  {name:40s} alone {row['alone'][name]}  without {row['without'][name]}", file=sys.stderr)
    write_json(args.out, {"what": "held-out accuracy over drawn chips (mean, p5) with the mismatch of some device "
                                  "roles only; software model, tt, 27 °C, 1.8 V statistics",
                          "weights": args.weights, "inputs": args.inputs, "utterances": int(len(y)),
                          "nominal": evaluate(model, x, y, True)["accuracy"], "chips": args.chips,
                          "seed": args.seed, "runs": runs})


if __name__ == "__main__":
    main()
