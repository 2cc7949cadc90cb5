"""Benchmark: KPEX time against the sidewall halo, and what the halo does to each net's capacitance.

    python benchmarks/kpex_halo.py REFERENCE_PEX_DIR OTHER_PEX_DIR [...] [-o benchmarks/results/kpex_halo.json]

Each directory holds a ``pex.spice`` and ``pex.json`` written by ``extract.pex`` from the same
``lvs.lvsdb`` with different ``--halo``. Against the first, each other extraction gets: KPEX
seconds, total capacitance, and the per-net change of total capacitance (worst net, how many
nets move by more than 2 %), over nets of at least ``--min-fF`` (smaller nets' relative
changes are noise of a few aF).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from extract.pex import net_capacitances  # noqa: E402


def describe(folder: Path) -> dict:
    record = json.loads((folder / "pex.json").read_text())
    return {"folder": str(folder), "halo_um": record["halo_um"], "kpex_seconds": record["seconds"],
            "total_cap_fF": record["total_cap_fF"], "capacitors": record["capacitors"],
            "lvsdb_sha256": record.get("lvsdb_sha256")}


def compare(reference: dict[str, float], other: dict[str, float], min_fF: float) -> dict:
    nets = [n for n, c in reference.items() if c >= min_fF]
    changes = {n: other.get(n, 0.0) / reference[n] - 1.0 for n in nets}
    worst = max(changes, key=lambda n: abs(changes[n]))
    return {"nets_compared": len(nets), "worst_net": worst, "worst_change": round(changes[worst], 4),
            "nets_over_2pct": sum(abs(c) > 0.02 for c in changes.values()),
            "mean_abs_change": round(sum(abs(c) for c in changes.values()) / len(nets), 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--min-fF", type=float, default=1.0)
    p.add_argument("-o", "--out", default="benchmarks/results/kpex_halo.json")
    args = p.parse_args()
    if len(args.folders) < 2:
        raise SystemExit("folders: give a reference and at least one other extraction")
    runs = [describe(f) for f in args.folders]
    if len({r["lvsdb_sha256"] for r in runs}) != 1:
        raise SystemExit("folders: the extractions come from different lvs.lvsdb files")
    reference = net_capacitances((args.folders[0] / "pex.spice").read_text())
    for folder, run in zip(args.folders[1:], runs[1:]):
        run["against_reference"] = compare(reference, net_capacitances((folder / "pex.spice").read_text()), args.min_fF)
    write_json(args.out, {"reference": runs[0], "others": runs[1:], "min_fF": args.min_fF,
                          "note": "kpex_seconds as recorded by extract.pex; check the machine's load before comparing"})
    print(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
