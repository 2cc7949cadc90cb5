"""Benchmark: chip power against network width D, from the software power model.

    python benchmarks/power_scaling.py [--widths 4 8 16 32 64 128 256 512] [--seeds 3] [-n 20]
                                       [-o benchmarks/results/power_scaling.json]

For each width, ``--seeds`` random networks with the shipped D = 4 model's statistics (13
inputs, 2 layers, 2 classes): every array is drawn from a normal distribution with the shipped
array's mean and standard deviation, the recurrent and readout matrices (fan-in D) scaled by
sqrt(4 / D) so that a candidate sums to the same spread at every width; then the hardware grid
(``generators.circuit.mapping``) quantises them, as training would. ``bmru.power`` (calibrated against
ngspice at D = 4, schematic and extracted) gives the cells' and the feedforward power on the
first N held-out utterances (both classes), and a least-squares line in log-log space gives
cells ~ D^a and feedforward ~ D^b with 95 % confidence intervals. Random weights are not trained
ones: this shows how the circuit's power scales with its size, not what a trained wide model draws.
"""

from __future__ import annotations

import argparse
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

FAN_IN_D = ("W_c", "W_o", "W_out")  # matrices whose fan-in is the width (key prefixes)
POSITIVE = ("beta1", "delta", "alpha")


def random_network(reference: dict, width: int, rng: np.random.Generator, fan_in_scaling: bool = True) -> dict:
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
        scale = np.sqrt(4.0 / width) if fan_in_scaling and key.startswith(FAN_IN_D) else 1.0
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
    return {"exponent": round(slope, 3), "ci95": [round(slope - 1.96 * stderr, 3), round(slope + 1.96 * stderr, 3)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default="examples/kws_yes_d4.npz")
    p.add_argument("--inputs", default="examples/kws_yes_test.npz")
    p.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128, 256, 512])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--no-fan-in-scaling", action="store_true",
                   help="draw every matrix with the D = 4 spread whatever its fan-in (weights do not shrink with D)")
    p.add_argument("-o", "--out", default="benchmarks/results/power_scaling.json")
    args = p.parse_args()
    reference = load_weights(args.weights).to_arrays()
    x = load_inputs(args.inputs, n_in=reference["W_in"].shape[1]).x[:args.n]
    rows = []
    for width in args.widths:
        for seed in range(args.seeds):
            start = time.perf_counter()
            arrays = random_network(reference, width, np.random.default_rng([width, seed]), not args.no_fan_in_scaling)
            spec = map_network(validate(arrays))
            result = power(spec, x)
            rows.append({"width": width, "seed": seed, "cells_nW": float(result.cells.mean()),
                         "feedforward_nW": float(result.feedforward.mean()), "bias_nW": float(result.bias.mean()),
                         "total_nW": float(result.total.mean()), "seconds": round(time.perf_counter() - start, 2)})
            print(f"D = {width} seed {seed}: cells {rows[-1]['cells_nW']:.1f} nW, "
                  f"feedforward {rows[-1]['feedforward_nW']:.1f} nW", file=sys.stderr, flush=True)
    widths = np.array([r["width"] for r in rows], dtype=float)
    result = {"what": "software power model on random networks with the shipped model's statistics (fan-in-D "
                      "matrices scaled by sqrt(4/D)), quantised to the hardware grid; first N held-out utterances "
                      "(both classes), tt, 27 °C, 1.8 V; not validated in SPICE beyond D = 4",
              "fan_in_scaling": not args.no_fan_in_scaling, "utterances": len(x), "rows": rows,
              "fit": {"cells": fit(widths, np.array([r["cells_nW"] for r in rows])),
                      "feedforward": fit(widths, np.array([r["feedforward_nW"] for r in rows]))}}
    write_json(args.out, result)
    plot(Path(args.out).with_suffix(".png"), rows, result["fit"])
    print(result["fit"])


def plot(path: Path, rows: list[dict], fits: dict) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, marker in (("cells", "o"), ("feedforward", "s")):
        ax.loglog([r["width"] for r in rows], [r[f"{key}_nW"] for r in rows], marker, ls="none", alpha=0.7,
                  label=f"{key}: D^{fits[key]['exponent']} (95 % CI {fits[key]['ci95'][0]}–{fits[key]['ci95'][1]})")
    ax.set_xlabel("width D (cells per layer)")
    ax.set_ylabel("power (nW)")
    ax.set_title("Power model against width (random networks, 2 layers)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
