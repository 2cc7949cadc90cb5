"""Benchmark: which devices' mismatch costs the keyword spotter its accuracy.

    .venv-train/bin/python benchmarks/mismatch_roles.py [--weights examples/kws_yes_d4.npz] \\
        --stats build/stats.json [--stats build/stats_u3_a64.json ...] [--chips 48] [-o OUT]

For each statistics file (``python -m sim.montecarlo WEIGHTS --training-stats FILE`` with the
sizing what-if of interest), the model runs the held-out utterances on ``--chips`` chips drawn
with the circuit's sharing (``bmru.mismatch``, the draws mismatch-aware training uses, checked
against the device-path model), first with every device's error, then with one group of device
roles drawn alone, then with every role but that group. The groups follow the circuit: each
parameter's own output devices; the signal receivers' diodes; their one-finger converters; the
global bias lines; each cell's threshold and state lines. With ``--by-parameter`` the groups are
the network's parts instead (the features' projection, each layer's candidate projection, cells,
output projection and residual, the readout): every device's error is drawn, and only the
realised gains of the group's parameters are kept (or all but those). Writes
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
import torch  # noqa: E402

from bmru.train import BMRUNet, evaluate, evaluate_chips, validation_chips  # noqa: E402
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


def parameter_groups(layers: int) -> dict[str, tuple[str, ...]]:
    """The network's parts, as keys of ``bmru.mismatch.sample_log_gains``."""
    groups = {"features (W_in, b_in)": ("W_in", "b_in")}
    for layer in range(layers):
        groups[f"layer {layer} candidates (W_c, b_c)"] = (f"W_c{layer}", f"b_c{layer}")
        groups[f"layer {layer} cells (beta2, delta, alpha)"] = (f"beta2{layer}", f"delta{layer}", f"alpha{layer}")
        groups[f"layer {layer} outputs (W_o, b_o)"] = (f"W_o{layer}", f"b_o{layer}")
        groups[f"layer {layer} residual (g_y, g_u)"] = (f"g_y{layer}", f"g_u{layer}")
    groups["readout (W_out, b_out)"] = ("W_out", "b_out")
    return groups


def parameter_accuracy(model, x, y, stats, keep, chips: int, seed: int) -> dict:
    """As :func:`bmru.train.evaluate_chips` (the same chips), with the gains of parameters that
    ``keep`` refuses set to 1."""
    accuracies = []
    for gains in validation_chips(model, stats, True, chips, seed):
        kept = {key: (gain if keep(key) else torch.ones_like(gain)) for key, gain in gains.items()}
        accuracies.append(evaluate(model, x, y, True, gains=kept)["accuracy"])
    return {"mean": round(float(np.mean(accuracies)), 4), "p5": round(float(np.percentile(accuracies, 5)), 4)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default="examples/kws_yes_d4.npz")
    p.add_argument("--inputs", default="examples/kws_yes_test.npz")
    p.add_argument("--stats", action="append", required=True, help="training statistics file (repeat)")
    p.add_argument("--chips", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--by-parameter", action="store_true",
                   help="group by the network's parts (parameters) instead of by device roles")
    p.add_argument("-o", "--out", default="benchmarks/results/mismatch_roles.json")
    args = p.parse_args(argv)
    net = load_weights(args.weights)
    model = BMRUNet(net.n_in, net.width, len(net.layers), net.classes)
    model.load_network(net)
    with np.load(args.inputs) as data:
        x, y = data["x"], data["y"]
    if args.by_parameter:
        groups, measure = parameter_groups(len(net.layers)), parameter_accuracy
    else:
        groups, measure = GROUPS, accuracy
    known = {role for roles in GROUPS.values() for role in roles}
    runs = []
    for path in args.stats:
        stats = load_stats(path)
        missing = sorted(set(stats.roles) - known)
        if missing:
            raise SystemExit(f"--stats {path}: roles in no group: {', '.join(missing)}")
        start = time.perf_counter()
        row = {"stats": path, "covers": stats.covers, "grouped_by": "parameters" if args.by_parameter else "device roles",
               "all": measure(model, x, y, stats, lambda r: True, args.chips, args.seed), "alone": {}, "without": {}}
        for name, members in groups.items():
            row["alone"][name] = measure(model, x, y, stats, lambda r: r in members, args.chips, args.seed)
            row["without"][name] = measure(model, x, y, stats, lambda r: r not in members, args.chips, args.seed)
        row["seconds"] = round(time.perf_counter() - start, 1)
        runs.append(row)
        print(f"{path}: all {row['all']}", file=sys.stderr, flush=True)
        for name in groups:
            print(f"  {name:40s} alone {row['alone'][name]}  without {row['without'][name]}", file=sys.stderr)
    write_json(args.out, {"what": "held-out accuracy over drawn chips (mean, p5) with the mismatch of some device "
                                  "roles or parameters only; software model, tt, 27 °C, 1.8 V statistics",
                          "weights": args.weights, "inputs": args.inputs, "utterances": int(len(y)),
                          "nominal": evaluate(model, x, y, True)["accuracy"], "chips": args.chips,
                          "seed": args.seed, "runs": runs})


if __name__ == "__main__":
    main()
