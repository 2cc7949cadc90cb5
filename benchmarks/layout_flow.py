"""Layout flow at growing width: GDS, DRC and LVS time, peak memory, area and utilisation.

Each network runs in its own process, so its peak memory is its own (``os.wait4``). Networks:
the reference D = 4 model and random 2-layer networks with 13 inputs and 2 classes (weights on
the hardware grid, as ``tests.conftest.random_arrays`` draws them). Per network it records the
seconds for generation, DRC and LVS, the peak resident memory, the area, the area per non-zero
weight, and the drawn devices' share of the area (utilisation). Writes
benchmarks/results/layout_flow.json (or ``--out``). Issue targets (#13): D = 64 GDS + DRC + LVS
<= 5 min on one core and <= 8 GB; <= 300 µm² per non-zero weight at D = 64; devices >= 25 % of
the area at D >= 16. ``--pex`` also times KPEX (minutes per network).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmru.cli import write_json  # noqa: E402

# the random networks are drawn in turn from one seed in this order (others after), so a width
# measured alone gets the same weights as in the full run
DRAW_ORDER = (8, 16, 32, 64)


def measure(name: str, weights: Path, out: Path, pex: bool, crossbars: bool = False) -> dict:
    """One network, in this process: generate, DRC, LVS (and KPEX)."""
    from extract.drc import run_drc  # noqa: PLC0415
    from extract.lvs import run_lvs, write_reports  # noqa: PLC0415
    from generators.array import generate  # noqa: PLC0415

    start = time.perf_counter()
    outputs = generate(weights, out, picture=False, crossbars=crossbars)
    row = {"generate_s": round(time.perf_counter() - start, 2), "area_um2": outputs.area}
    spec = json.loads(outputs.spec.read_text())
    nonzero = sum(int(np.count_nonzero(np.array(p["weight_fingers"]))) for p in spec["projections"])
    row["nonzero_weights"] = nonzero
    row["area_per_nonzero_weight_um2"] = round(outputs.area["total"] / nonzero, 1) if nonzero else None
    row["device_share"] = round(outputs.area["devices"] / outputs.area["total"], 4)
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
    row["gds_drc_lvs_s"] = round(row["generate_s"] + row["drc_s"] + row["lvs_s"], 2)
    row["load_average_1min"] = round(os.getloadavg()[0], 2)  # > 1: other work shared the cores, times inflated
    return row


def in_child(name: str, weights: Path, out: Path, pex: bool, crossbars: bool = False) -> dict:
    """:func:`measure` in a child process; adds its peak resident memory."""
    command = ([sys.executable, __file__, "--one", name, str(weights), str(out)] + (["--pex"] if pex else [])
               + (["--crossbars"] if crossbars else []))
    child = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT, text=True)
    text = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{name}: the layout flow failed (exit status {status})")
    row = json.loads(text.strip().splitlines()[-1])
    row["peak_rss_MB"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    print(name, row, file=sys.stderr, flush=True)
    return row


def random_networks(widths: list[int]) -> dict[int, dict[str, np.ndarray]]:
    """The random network of each width: all drawn in turn from seed 0 in :data:`DRAW_ORDER`
    (other widths after it), so a width gets the same weights whichever others are asked for."""
    from tests.conftest import random_arrays  # noqa: PLC0415

    rng = np.random.default_rng(0)
    return {width: random_arrays(rng, n_in=13, width=width, layers=2, classes=2, grid=0.25)
            for width in list(DRAW_ORDER) + [w for w in widths if w not in DRAW_ORDER]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="*", default=list(DRAW_ORDER),
                        help="random network widths besides the reference (default %(default)s)")
    parser.add_argument("--pex", action="store_true", help="also time KPEX (minutes per network)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "layout_flow.json"))
    parser.add_argument("--crossbars", action="store_true", help="draw the projections as crossbars")
    parser.add_argument("--one", nargs=3, metavar=("NAME", "WEIGHTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, weights, out = args.one
        print(json.dumps(measure(name, Path(weights), Path(out), args.pex, args.crossbars)))
        return
    from bmru.weights import save_weights, validate  # noqa: PLC0415

    results = {"covers": "reference D = 4 model and random 2-layer networks (13 inputs, 2 classes, weights on "
                         "the 0.25 grid, seed 0), unit devices 1 x 1 um, one core per network",
               "floorplan": "crossbars" if args.crossbars else "matched rows"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["reference_d4"] = in_child("reference_d4", ROOT / "examples" / "kws_yes_d4.npz", work / "d4", args.pex,
                                           args.crossbars)
        drawn = random_networks(args.widths)
        for width in args.widths:
            weights = work / f"random_d{width}.npz"
            save_weights(weights, validate(drawn[width]))
            results[f"random_d{width}"] = in_child(f"random_d{width}", weights, work / f"d{width}", args.pex,
                                                   args.crossbars)
    write_json(args.out, results)


if __name__ == "__main__":
    main()
