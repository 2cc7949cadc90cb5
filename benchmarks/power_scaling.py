"""Benchmark: chip power against network width D, from the software power model.

    python benchmarks/power_scaling.py [--trained W1.npz W2.npz ...] [--widths 4 8 ... 512] [--seeds 3]
                                       [--spice PRESIM.json ...] [-n 20] [-o benchmarks/results/power_scaling.json]

Each width with a ``--trained`` model (13 inputs, 2 layers, 2 classes) uses that model. Every
other width gets ``--seeds`` random networks with the statistics of the widest trained model
below it: every array's values are resampled from that model's own array (``--draw normal``:
drawn from a normal distribution with its mean and standard deviation), the recurrent and
readout matrices (fan-in D) scaled by sqrt(D_ref / D) so that a candidate sums to the same
spread at every width; then the hardware grid
(``generators.circuit.mapping``) quantises them, as training does. ``bmru.power`` (calibrated
against ngspice at D = 4, schematic and extracted) gives the cells' and the feedforward power on
the first N held-out utterances (both classes), and a least-squares line in log-log space gives
cells ~ D^a and feedforward ~ D^b with 95 % confidence intervals. ``--spice`` adds, per presim
or postlayout result of a trained model, the model's power on the same utterances against
ngspice's (the validation of the curve at the widths SPICE can reach).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.power import power  # noqa: E402
from bmru.weights import load_weights, validate  # noqa: E402
from generators.circuit.mapping import map_network  # noqa: E402
from sim.compare import labels_covered  # noqa: E402

FAN_IN_D = ("W_c", "W_o", "W_out")  # matrices whose fan-in is the width (key prefixes)
POSITIVE = ("beta1", "delta", "alpha")
DEFAULT_TRAINED = ("examples/kws_yes_d4.npz", "examples/kws_yes_d8.npz", "benchmarks/results/trained_models/kws_yes_d16.npz",
                   "benchmarks/results/trained_models/kws_yes_d32.npz", "benchmarks/results/trained_models/kws_yes_d64.npz")


def width_of(arrays: dict) -> int:
    return int(np.asarray(arrays["W_in"]).shape[0])


def random_network(reference: dict, width: int, rng: np.random.Generator, fan_in_scaling: bool = True,
                   draw: str = "resample") -> dict:
    """A network of ``width`` cells whose arrays follow ``reference``'s (fan-in-D matrices scaled
    by sqrt(D_ref / D)). ``draw``: "resample" takes every value from the reference array's own
    values (its zeros, tails and sign balance carry over); "normal" draws from a normal
    distribution with the reference array's mean and standard deviation."""
    arrays = {"format": reference["format"], "meta": reference["meta"]}
    n_in, layers = reference["W_in"].shape[1], sum(1 for k in reference if k.startswith("W_c"))
    shapes = {"W_in": (width, n_in), "b_in": (width,), "W_out": (reference["W_out"].shape[0], width),
              "b_out": (reference["W_out"].shape[0],)}
    for layer in range(layers):
        shapes.update({f"W_c{layer}": (width, width), f"b_c{layer}": (width,), f"W_o{layer}": (width, width),
                       f"b_o{layer}": (width,), f"beta1{layer}": (width,), f"delta{layer}": (width,),
                       f"alpha{layer}": (width,)})
    for key, shape in shapes.items():
        ref = np.asarray(reference[key], dtype=np.float64)
        scale = np.sqrt(width_of(reference) / width) if fan_in_scaling and key.startswith(FAN_IN_D) else 1.0
        if draw == "resample":
            value = rng.choice(ref.ravel(), size=shape) * scale
        else:
            value = rng.normal(ref.mean(), ref.std() + 1e-9, shape) * scale
        if key.startswith(POSITIVE):
            value = np.clip(np.abs(value), 0.05, 3.0)
        else:
            value = np.clip(value, -3.0, 3.0)
        arrays[key] = value
    for layer in range(layers):
        arrays[f"s0{layer}"] = np.zeros(width)
    return arrays


def fit(widths: np.ndarray, values: np.ndarray) -> dict:
    slope_intercept, cov = np.polyfit(np.log(widths), np.log(values), 1, cov=True)
    slope, stderr = float(slope_intercept[0]), float(np.sqrt(cov[0, 0]))
    return {"exponent": round(slope, 3), "ci95": [round(slope - 1.96 * stderr, 3), round(slope + 1.96 * stderr, 3)],
            "prefactor_nW": round(float(np.exp(slope_intercept[1])), 4)}


def power_row(arrays: dict, x: np.ndarray, source: str, seed: int | None) -> dict:
    start = time.perf_counter()
    result = power(map_network(validate(arrays)), x)
    row = {"width": width_of(arrays), "source": source, "seed": seed, "cells_nW": float(result.cells.mean()),
           "feedforward_nW": float(result.feedforward.mean()), "bias_nW": float(result.bias.mean()),
           "total_nW": float(result.total.mean()), "seconds": round(time.perf_counter() - start, 2)}
    print(f"D = {row['width']} {source}{'' if seed is None else f' seed {seed}'}: cells {row['cells_nW']:.1f} nW, "
          f"feedforward {row['feedforward_nW']:.1f} nW", file=sys.stderr, flush=True)
    return row


def spice_check(item: str, inputs: str) -> dict:
    """The power model against one presim/postlayout result on the same utterances: its JSON,
    or ``WEIGHTS=PART[+PART...]``, a run's parts (JSON results or the progress log of a run
    stopped before its JSON was written, joined as ``benchmarks/power_model.py`` joins them)."""
    if "=" in item:
        from benchmarks.power_model import load_joined  # noqa: PLC0415

        weights, _, parts = item.partition("=")
        net = load_weights(weights)
        reference = load_joined(parts, load_inputs(inputs, n_in=net.n_in).y)
        result_path = parts
        rows = reference["rows"]
        labels = [r["label"] for r in rows]
        covered = labels_covered(np.array(labels), len(rows)) if None not in labels else None
        data = {"weights": weights, "netlist": reference["netlist"], "per_utterance": rows, "labels_covered": covered}
    else:
        result_path = Path(item)
        data = json.loads(result_path.read_text())
    net = load_weights(data["weights"])
    x = load_inputs(inputs, n_in=net.n_in).x
    rows = data["per_utterance"]
    model = power(map_network(net), x[[int(r["index"]) for r in rows]])
    spice_total = np.array([r["power_nW"]["total"] for r in rows])
    relative = model.total / spice_total - 1
    return {"path": str(result_path), "width": net.width, "netlist": data.get("netlist"), "utterances": len(rows),
            "labels_covered": data.get("labels_covered"), "spice_total_mean_nW": float(spice_total.mean()),
            "model_total_mean_nW": float(model.total.mean()), "mean_rel_error": float(relative.mean()),
            "max_abs_rel_error": float(np.abs(relative).max()), "within_5pct": float(np.mean(np.abs(relative) <= 0.05))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trained", nargs="*", default=None,
                   help="trained weights, one per width (default: those of %s that exist)" % (DEFAULT_TRAINED,))
    p.add_argument("--inputs", default="examples/kws_yes_test.npz")
    p.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128, 256, 512])
    p.add_argument("--seeds", type=int, default=3, help="random networks per width without a trained model")
    p.add_argument("--spice", nargs="*", default=[],
                   help="presim/postlayout JSON results of trained models, or WEIGHTS=PART[+PART...]: a run in parts "
                        "(JSON results or progress logs of stopped runs)")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--draw", choices=("resample", "normal"), default="resample",
                   help="random networks: values resampled from the trained model's arrays, or normal with their "
                        "mean and spread (default %(default)s)")
    p.add_argument("--no-fan-in-scaling", action="store_true",
                   help="draw every matrix with the reference's spread whatever its fan-in (weights do not shrink with D)")
    p.add_argument("-o", "--out", default="benchmarks/results/power_scaling.json")
    args = p.parse_args()
    paths = args.trained if args.trained is not None else [t for t in DEFAULT_TRAINED if Path(t).is_file()]
    trained = {}
    for path in paths:
        arrays = load_weights(path).to_arrays()
        trained[width_of(arrays)] = (path, arrays)
    if not trained:
        raise SystemExit("no trained model: give --trained")
    x = load_inputs(args.inputs, n_in=next(iter(trained.values()))[1]["W_in"].shape[1]).x[:args.n]
    rows = []
    for width in args.widths:
        if width in trained:
            rows.append(power_row(trained[width][1], x, f"trained {trained[width][0]}", None))
            continue
        below = [w for w in trained if w < width] or [min(trained)]
        reference_width = max(below)
        for seed in range(args.seeds):
            arrays = random_network(trained[reference_width][1], width, np.random.default_rng([width, seed]),
                                    not args.no_fan_in_scaling, args.draw)
            rows.append(power_row(arrays, x, f"random, statistics of the trained D = {reference_width}", seed))
    widths = np.array([r["width"] for r in rows], dtype=float)
    result = {"what": "software power model (bmru.power, calibrated at D = 4) on trained networks where one exists "
                      "and on random networks with the statistics of the widest trained one below beyond that "
                      f"({'values resampled from its arrays' if args.draw == 'resample' else 'normal, its mean and spread'}"
                      "; fan-in-D matrices scaled by sqrt(D_ref/D)), quantised to the hardware grid; first N held-out "
                      "utterances (both classes), tt, 27 °C, 1.8 V, no mismatch",
              "trained": {str(w): path for w, (path, _) in sorted(trained.items())},
              "fan_in_scaling": not args.no_fan_in_scaling, "draw": args.draw, "utterances": len(x), "rows": rows,
              "fit": {"cells": fit(widths, np.array([r["cells_nW"] for r in rows])),
                      "feedforward": fit(widths, np.array([r["feedforward_nW"] for r in rows]))},
              "spice_checks": [spice_check(item, args.inputs) for item in args.spice]}
    known = [r for r in rows if r["source"].startswith("trained")]
    if len({r["width"] for r in known}) >= 3:  # the trained widths alone: no random network in the fit
        result["fit_trained"] = {key: fit(np.array([r["width"] for r in known], dtype=float),
                                          np.array([r[f"{key}_nW"] for r in known])) for key in ("cells", "feedforward")}
    result["predicted_nW"] = {str(w): {key: round(float(np.mean([r[f"{key}_nW"] for r in rows if r["width"] == w])), 2)
                                       for key in ("cells", "feedforward", "bias", "total")}
                              for w in sorted({r["width"] for r in rows})}
    write_json(args.out, result)
    plot(Path(args.out).with_suffix(".png"), rows, result["fit"], result["spice_checks"], result.get("fit_trained"))
    print(result["fit"], result.get("fit_trained"))


def plot(path: Path, rows: list[dict], fits: dict, checks: list[dict], trained_fits: dict | None = None) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    widths = np.array(sorted({r["width"] for r in rows}), dtype=float)
    for key, marker, colour in (("cells", "o", "tab:blue"), ("feedforward", "s", "tab:green")):
        for trained, fill in ((True, "full"), (False, "none")):
            chosen = [r for r in rows if r["source"].startswith("trained") == trained]
            ax.loglog([r["width"] for r in chosen], [r[f"{key}_nW"] for r in chosen], marker, ls="none", alpha=0.8,
                      color=colour, fillstyle=fill)
        ax.loglog(widths, fits[key]["prefactor_nW"] * widths ** fits[key]["exponent"], "-", color=colour, lw=1,
                  label=f"{key}: D^{fits[key]['exponent']} (95 % CI {fits[key]['ci95'][0]}–{fits[key]['ci95'][1]})")
        if trained_fits:
            known = np.array(sorted({r["width"] for r in rows if r["source"].startswith("trained")}), dtype=float)
            line = trained_fits[key]
            ax.loglog(known, line["prefactor_nW"] * known ** line["exponent"], "--", color=colour, lw=1,
                      label=f"{key}, trained only: D^{line['exponent']} ({line['ci95'][0]}–{line['ci95'][1]})")
    if checks:
        ax.loglog([c["width"] for c in checks], [c["spice_total_mean_nW"] for c in checks], "k*", ms=10,
                  label="ngspice total (trained models)")
        ax.loglog([r["width"] for r in rows if r["source"].startswith("trained")],
                  [r["total_nW"] for r in rows if r["source"].startswith("trained")], "k+", ms=9, label="model total")
    ax.set_xlabel("width D (cells per layer)")
    ax.set_ylabel("power (nW)")
    ax.set_title("Power model against width (filled: trained, open: random), 2 layers", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
