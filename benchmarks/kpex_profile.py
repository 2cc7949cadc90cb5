"""Benchmark: where KPEX's 2.5D engine spends its time on a layout (Python's cProfile).

    python benchmarks/kpex_profile.py LVSDB [--cell bmru_top] [--halo 3] [--from-profile FILE]
                                      [-o benchmarks/results/kpex_profile.json]

Runs ``kpex extract --2.5D --mode CC`` (one thread, as ``extract.pex`` does) under cProfile
and records the cumulative time of the engine's stages: the sidewall/fringe extractor (per
edge: the fringe and sidewall emitters), the overlap extractor, KLayout's region operations
(C++), and the console logging of every capacitor. ``--from-profile`` summarises an existing
``.prof`` instead of running KPEX. cProfile slows Python-heavy code, so shares matter more than
seconds; the machine's load is recorded too.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from extract.pex import kpex_command  # noqa: E402
from pdk_sky130_180.pex import KPEX_PDK, SIDE_HALO_UM  # noqa: E402

STAGES = {  # label -> (file suffix, function name) in KPEX's package
    "2.5D engine (all)": ("rcx25/extractor.py", "extract_cell"),
    "sidewall and fringe extractor": ("sidewall_and_fringe_extractor.py", "extract"),
    "  per-edge callback (on_edge)": ("sidewall_and_fringe_extractor.py", "on_edge"),
    "  fringe emission": ("sidewall_and_fringe_extractor.py", "emit_fringe"),
    "  sidewall emission": ("sidewall_and_fringe_extractor.py", "emit_sidewall"),
    "overlap extractor": ("overlap_extractor.py", "extract"),
    "logging of each capacitor": ("logging/__init__.py", "_log"),
}


def summarise(profile: Path) -> dict:
    stats = pstats.Stats(str(profile))
    total = max(entry[3] for entry in stats.stats.values())
    out = {"total_seconds": round(total, 1), "stages": {}}
    for label, (suffix, name) in STAGES.items():
        found = [(key, entry) for key, entry in stats.stats.items() if key[0].endswith(suffix) and key[2] == name]
        if found:
            _, calls, _, cumulative, _ = found[0][1]
            out["stages"][label] = {"calls": calls, "cumulative_seconds": round(cumulative, 1),
                                    "share": round(cumulative / total, 3)}
    region = [entry for key, entry in stats.stats.items() if key[2] == "<method 'complex_op' of 'Region' objects>"]
    if region:
        out["stages"]["KLayout Region.complex_op (C++ itself)"] = {
            "calls": region[0][1], "own_seconds": round(region[0][2], 1), "share": round(region[0][2] / total, 3)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("lvsdb", nargs="?", default=None)
    p.add_argument("--cell", default="bmru_top")
    p.add_argument("--halo", type=float, default=SIDE_HALO_UM)
    p.add_argument("--from-profile", default=None, help="summarise this cProfile output instead of running KPEX")
    p.add_argument("-o", "--out", default="benchmarks/results/kpex_profile.json")
    args = p.parse_args()
    load = os.getloadavg()[0]
    if args.from_profile:
        profile, wall = Path(args.from_profile), None
    else:
        if not args.lvsdb:
            raise SystemExit("LVSDB: required unless --from-profile")
        tmp = Path(tempfile.mkdtemp(prefix="bmru_kpex_profile_"))
        profile = tmp / "kpex.prof"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), kpex_command(), "extract", "--pdk",
                        KPEX_PDK, "--lvsdb", args.lvsdb, "--cell", args.cell, "--2.5D", "--mode", "CC",
                        "--out-dir", str(tmp / "out"), "--threads", "1", "--halo", f"{args.halo:g}"],
                       check=True, capture_output=True)
        wall = round(time.perf_counter() - start, 1)
    result = {"lvsdb": args.lvsdb, "halo_um": args.halo, "wall_seconds_under_cprofile": wall,
              "load_average_at_start": round(load, 2), **summarise(profile)}
    write_json(args.out, result)
    print(result)


if __name__ == "__main__":
    main()
