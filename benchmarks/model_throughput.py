"""Software-model throughput: 1000 utterances x 101 frames at the reference size (D = N = 4, L = 2).

Writes benchmarks/results/model_throughput.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.model import run  # noqa: E402
from bmru.weights import validate  # noqa: E402
from tests.conftest import random_arrays  # noqa: E402


def best_of(repeats, function):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    results = {}
    for width in (4, 8, 16):
        net = validate(random_arrays(rng, n_in=13, width=width, layers=2, classes=2, grid=0.25))
        x = rng.normal(size=(1000, 101, 13))
        for method in ("scan", "sequential"):
            seconds = best_of(3, lambda: run(net, x, method))
            results[f"D{width}_{method}_seconds_per_1000"] = round(seconds, 4)
            print(f"D={width:2d} {method:10s} {seconds * 1e3:7.1f} ms / 1000 utterances")
    out = Path(__file__).parent / "results" / "model_throughput.json"
    write_json(out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
