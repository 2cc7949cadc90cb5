"""``python -m sim.corners WEIGHTS`` — the PVT grid: process corner x temperature x supply.

Every (corner, temperature, supply, utterance) run is one task on the Dask cluster
(:mod:`sim.cluster`); each grid point is compared with the nominal quantised software model
exactly as presim/postlayout compare one point. The default grid is the published study's 45
points: tt/ff/ss/sf/fs x -40/27/85 °C x 1.62/1.80/1.98 V. Writes ``OUT/corners.json``
(CONTRACT.md section 4: per point ``corner``, ``temp_C``, ``vdd_V``, ``decision_agreement``,
``frame_state_agreement``, ``power_nW`` {``total_mean``}; ``worst``, the point with the lowest
decision agreement) and ``OUT/corners.png`` (agreement and power per point).

``--extend PREVIOUS`` grows a finished grid to more utterances: it checks that PREVIOUS covers the
same weights, inputs, circuit (``circuit_sha256``: the netlist without its comments), grid and
settings, simulates only the utterances it lacks and writes the combined result (a 45 x 10
sign-off need not repeat a 45 x 2 run).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bmru.cli import CommandParser, atomic_write, default_out, fail, progress, write_json
from bmru.model import run
from generators.circuit.mapping import add_mapping_arguments, quantised_network
from generators.circuit.schematic import schematic_text
from pdk_sky130_180.devices import PVT_SUPPLIES_V, PVT_TEMPERATURES_C
from pdk_sky130_180.models import CORNERS, ModelsError
from sim import presim
from sim.cluster import ClusterError, map_on_cluster
from sim.compare import compare, labels_covered, read_previous
from sim.ngspice import SpiceError
from sim.postlayout import check_fresh
from sim.runner import MAX_STEP_FRACTION, _simulate_item, circuit_sha256, netlist_kind, sha256_of
from sim.testbench import BenchError, find_top, options_record



def parser() -> CommandParser:
    p = CommandParser(prog="python -m sim.corners", description=__doc__.split("\n\n")[0].split(" — ")[1])
    presim.add_job_arguments(p, n_default=10)
    p.add_argument("--netlist", choices=("schematic", "pex"), default="schematic",
                   help="the weights' schematic, or OUT/pex.spice (default %(default)s)")
    p.add_argument("-o", "--out", default=None, help="output folder (default build/<weights stem>/)")
    p.add_argument("--corners", nargs="+", choices=CORNERS, default=list(CORNERS), metavar="CORNER",
                   help=f"process corners (default: all of {', '.join(CORNERS)})")
    p.add_argument("--temps", nargs="+", type=float, default=list(PVT_TEMPERATURES_C), metavar="C",
                   help="temperatures in °C (default %(default)s)")
    p.add_argument("--vdds", nargs="+", type=float, default=list(PVT_SUPPLIES_V), metavar="V",
                   help="supplies in V (default %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="local Dask worker processes (default %(default)s)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="an existing Dask cluster")
    p.add_argument("--max-step", type=float, default=MAX_STEP_FRACTION,
                   help="largest transient step as a fraction of a frame (default %(default)s)")
    add_mapping_arguments(p)
    p.add_argument("--extend", metavar="CORNERS_JSON", default=None,
                   help="a corners.json of the same job with fewer utterances: simulate only the utterances "
                        "it lacks and write the combined grid")
    return p


def load_previous(path: str, expected: dict, points: list[tuple[str, float, float]], count: int) -> dict:
    """The corners.json that ``--extend`` grows, after checking it is the same job on the same grid
    with fewer than ``count`` utterances; exits with a one-line reason naming the file otherwise."""
    previous = read_previous(path, "corners.json", "corners", expected)
    grid = [(row["corner"], row["temp_C"], row["vdd_V"]) for row in previous["corners"]]
    if grid != points:
        fail(f"--extend {path}: its grid of {len(grid)} points differs from this run's {len(points)}")
    if not 0 < previous["utterances"] < count:
        fail(f"--extend {path}: it has {previous['utterances']} utterances; -n must be larger (got {count})")
    return previous


def merge_rows(first: dict, first_count: int, second: dict, second_count: int) -> dict:
    """One grid point's figures over both utterance sets: rates and means weighted by utterances
    (every utterance has the same frames and cells), extremes combined, decisions concatenated."""
    total = first_count + second_count

    def weighted(a, b):
        return None if a is None or b is None else (a * first_count + b * second_count) / total

    power = {}
    for key, value in first["power_nW"].items():
        other = second["power_nW"][key]
        power[key] = (min(value, other) if key.endswith("_min") else max(value, other) if key.endswith("_max")
                      else weighted(value, other))
    merged = {key: first[key] for key in ("corner", "temp_C", "vdd_V")}
    merged.update({key: weighted(first[key], second[key])
                   for key in ("decision_agreement", "frame_state_agreement", "hw_accuracy")})
    merged.update(power_nW=power, hw_decisions=first["hw_decisions"] + second["hw_decisions"],
                  **{key: first.get(key, 0) + second.get(key, 0)
                     for key in ("runs_without_bypass", "runs_with_smaller_step")})
    return merged


def grid_points(corners, temps, vdds) -> list[tuple[str, float, float]]:
    return list(itertools.product(corners, temps, vdds))


def worst_point(rows: list[dict]) -> dict:
    """The grid point with the lowest decision agreement (frame states break ties)."""
    return min(rows, key=lambda r: (r["decision_agreement"], r["frame_state_agreement"]))


def point_row(point, sw, measurements, labels) -> dict:
    corner, temp, vdd = point
    summary = compare(sw, measurements, labels)
    return {"corner": corner, "temp_C": temp, "vdd_V": vdd,
            "decision_agreement": summary["decision_agreement"],
            "frame_state_agreement": summary["frame_state_agreement"],
            "hw_accuracy": summary["hw_accuracy"], "power_nW": summary["power_nW"],
            "hw_decisions": [row["hw_decision"] for row in summary["per_utterance"]],
            "runs_without_bypass": sum(row["bypass_off"] for row in summary["per_utterance"]),
            "runs_with_smaller_step": sum(row["smaller_step"] for row in summary["per_utterance"])}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['corner']} {r['temp_C']:g}°C {r['vdd_V']:g}V" for r in rows]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, 0.22 * len(rows)), 6), sharex=True)
    positions = np.arange(len(rows))
    top.bar(positions, [r["decision_agreement"] for r in rows], color="tab:blue", label="decisions")
    top.plot(positions, [r["frame_state_agreement"] for r in rows], "k.", label="frame states")
    top.set_ylim(0, 1.02)
    top.set_ylabel("agreement with software")
    top.legend(fontsize=8, loc="lower left")
    bottom.bar(positions, [r["power_nW"]["total_mean"] for r in rows], color="tab:orange")
    bottom.set_ylabel("chip power (nW)")
    bottom.set_xticks(positions, labels, rotation=90, fontsize=7)
    figure.tight_layout()

    def write(tmp: str) -> None:
        figure.savefig(tmp, dpi=100, format="png", metadata={"Software": None})

    atomic_write(path, write)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    presim.check_operating_point("--vdds", args.vdds, "--temps", args.temps)
    args.vdd, args.temp = args.vdds[0], args.temps[0]  # presim's checks look at one point
    net, inputs, spec = presim.load_job(args)
    out = Path(args.out) if args.out else default_out(args.weights)
    points = grid_points(args.corners, args.temps, args.vdds)
    workdir = Path(tempfile.mkdtemp(prefix="bmru_corners_"))
    try:
        if args.netlist == "pex":
            netlist = out / "pex.spice"
            if not netlist.is_file():
                fail(f"{netlist}: no extracted netlist (run make pex first)")
            check_fresh(netlist, out)
        else:
            netlist = workdir / "schematic.spice"
            netlist.write_text(schematic_text(spec))
        netlist = netlist.resolve()
        try:
            top = find_top(netlist.read_text())
        except BenchError as error:
            fail(f"{netlist}: {error}")
        x, count = inputs.x, len(inputs.x)
        text = netlist.read_text()
        kind, digest = netlist_kind(text), sha256_of(netlist)
        job = {"weights": str(args.weights), "inputs": str(args.inputs), "netlist": kind,
               "circuit_sha256": circuit_sha256(text),
               "max_step_fraction": args.max_step,
               "internal_scale": args.internal_scale,
               **spec.sizing.record(), **options_record(spec.sizing)}
        previous = load_previous(args.extend, job, points, count) if args.extend else None
        first = previous["utterances"] if previous else 0
        new = count - first  # utterances first..count-1 are simulated here
        tasks = [(netlist, top, spec, x[i], corner, temp, args.max_step, vdd)
                 for corner, temp, vdd in points for i in range(first, count)]
        progress(f"corners: {len(points)} points x {new} utterances{f' (after the {first} of {args.extend})' if first else ''}"
                 f" = {len(tasks)} ngspice runs on the {args.netlist}, "
                 f"{args.scheduler or f'{args.jobs} local worker(s)'}")
        done: list[int] = []

        def on_done(index, measurement):
            done.append(index)
            corner, temp, vdd = points[index // new]
            progress(f"[{len(done)}/{len(tasks)}] {corner} {temp:g} °C {vdd:g} V utterance {first + index % new}: "
                     f"decision {measurement.decision}, {measurement.power_nW['total']:.1f} nW")

        start = time.perf_counter()
        try:
            measurements = map_on_cluster(_simulate_item, tasks, scheduler=args.scheduler, on_done=on_done,
                                          workers=args.jobs, name="corner run")
        except (ClusterError, SpiceError, ModelsError) as error:
            fail(f"{netlist}: {error}")
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    network = quantised_network(spec)
    sw = run(network, x[first:])
    labels = None if inputs.y is None else inputs.y[first:]
    rows = [point_row(point, sw, measurements[k * new:(k + 1) * new], labels) for k, point in enumerate(points)]
    seconds_per_run = float(np.mean([m.sim_seconds for m in measurements]))
    if previous:
        rows = [merge_rows(old, first, row, new) for old, row in zip(previous["corners"], rows)]
        wall += previous["wall_seconds"]
        seconds_per_run = (previous["sim_seconds_per_run"] * first + seconds_per_run * new) / count
    worst = worst_point(rows)
    total = sum(round(r["decision_agreement"] * count) for r in rows)
    result = {
        **job, "netlist_sha256": digest,
        "utterances": count, "labels_covered": labels_covered(inputs.y, count),
        "sw_decisions": [int(d) for d in run(network, x).decision], "corners": rows, "worst": worst,
        "decision_agreement": total / (count * len(rows)), "points": len(rows),
        "wall_seconds": round(wall, 1), "sim_seconds_per_run": seconds_per_run,
        "covers": f"{kind} netlist, no mismatch, {count} utterances per point, {len(rows)} PVT points",
    }
    if previous:
        result["extended_from"] = {"file": str(args.extend), "utterances": first}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "corners.json", result)
    plot(rows, out / "corners.png")
    progress(f"corners: decision agreement {result['decision_agreement']:.3f} over {len(rows)} points; worst "
             f"{worst['corner']} {worst['temp_C']:g} °C {worst['vdd_V']:g} V at {worst['decision_agreement']:.2f}; "
             f"wrote {out / 'corners.json'}")


if __name__ == "__main__":
    main()
