"""Layout generation, DRC and LVS times (and area) for the reference model and wider networks.

Writes benchmarks/results/layout_flow.json. Targets: reference GDS <= 30 s, D = 16 <= 2 min;
DRC + LVS of the reference <= 30 s, of D = 16 <= 3 min. PEX is timed with --pex (slow).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmru.cli import write_json  # noqa: E402
from bmru.weights import save_weights, validate  # noqa: E402
from extract.drc import run_drc  # noqa: E402
from extract.lvs import run_lvs, write_reports  # noqa: E402
from generators.array import generate  # noqa: E402
from tests.conftest import random_arrays  # noqa: E402


def measure(name: str, weights: Path, work: Path, pex: bool) -> dict:
    out = work / name
    start = time.perf_counter()
    outputs = generate(weights, out, picture=False)
    row = {"generate_s": round(time.perf_counter() - start, 2), "area_um2": outputs.area}
    start = time.perf_counter()
    drc = run_drc(outputs.layout)
    row["drc_s"] = round(time.perf_counter() - start, 2)
    row["drc_violations"] = drc.violations
    start = time.perf_counter()
    lvs = run_lvs(outputs.layout, outputs.schematic)
    row["lvs_s"] = round(time.perf_counter() - start, 2)
    row["lvs_match"] = lvs.match
    if pex:
        from extract.pex import extract_parasitics  # noqa: PLC0415

        write_reports(lvs, out)
        start = time.perf_counter()
        result = extract_parasitics(out / "lvs.lvsdb", outputs.schematic)
        row["pex_s"] = round(time.perf_counter() - start, 2)
        row["pex_capacitors"] = result.capacitors
    print(name, row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--widths", type=int, nargs="*", default=[8, 16], help="extra random network widths")
    parser.add_argument("--pex", action="store_true", help="also time KPEX (minutes per network)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["reference_d4"] = measure("reference_d4", ROOT / "examples" / "kws_yes_d4.npz", work, args.pex)
        rng = np.random.default_rng(0)
        for width in args.widths:
            weights = work / f"random_d{width}.npz"
            save_weights(weights, validate(random_arrays(rng, n_in=13, width=width, layers=2, classes=2, grid=0.25)))
            results[f"random_d{width}"] = measure(f"random_d{width}", weights, work, args.pex)
    write_json(ROOT / "benchmarks" / "results" / "layout_flow.json", results)


if __name__ == "__main__":
    main()
