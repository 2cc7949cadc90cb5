"""Benchmark check: two runs of the same utterances compared utterance by utterance.

    python benchmarks/compare_runs.py BEFORE.json AFTER.json [-o OUT.json]

BEFORE and AFTER are ``presim.json`` or ``postlayout.json`` files (or Monte Carlo-free corner
runs with a ``per_utterance`` table) of the same weights and utterances, e.g. a reference and a
run with a faster simulator setting. Reports, for the utterances both cover: decisions and frame
states against the software model in each run, the utterances whose decision or frame-state
agreement changed, the largest change of total power per utterance (relative), and the time per
utterance. This is how each speed change of #16 is judged before it is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import fail, write_json  # noqa: E402


def load_run(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        fail(f"{path}: not a readable run ({error})")
    if not isinstance(data, dict) or "per_utterance" not in data:
        fail(f"{path}: no per_utterance table (expected a presim.json or postlayout.json)")
    return data


def compare(before: dict, after: dict) -> dict:
    rows_before = {row["index"]: row for row in before["per_utterance"]}
    rows_after = {row["index"]: row for row in after["per_utterance"]}
    common = sorted(set(rows_before) & set(rows_after))
    if not common:
        fail("the two runs share no utterance index")
    changed, power_changes = [], []
    for index in common:
        old, new = rows_before[index], rows_after[index]
        power_changes.append(new["power_nW"]["total"] / old["power_nW"]["total"] - 1.0)
        if (old["hw_decision"] != new["hw_decision"]
                or old["frame_state_agreement"] != new["frame_state_agreement"]):
            changed.append({"index": index, "hw_decision": [old["hw_decision"], new["hw_decision"]],
                            "frame_state_agreement": [old["frame_state_agreement"], new["frame_state_agreement"]]})

    def summary(rows: dict) -> dict:
        picked = [rows[i] for i in common]
        return {"decision_agreement": sum(r["hw_decision"] == r["sw_decision"] for r in picked) / len(picked),
                "frame_state_agreement": sum(r["frame_state_agreement"] for r in picked) / len(picked),
                "power_total_mean_nW": sum(r["power_nW"]["total"] for r in picked) / len(picked),
                "sim_seconds_per_utterance": sum(r["sim_seconds"] for r in picked) / len(picked)}

    worst = max(power_changes, key=abs)
    return {"utterances": len(common), "before": summary(rows_before), "after": summary(rows_after),
            "utterances_changed": changed, "power_total_max_rel_change": worst,
            "power_total_mean_abs_rel_change": sum(abs(c) for c in power_changes) / len(power_changes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="reference run (presim.json or postlayout.json)")
    parser.add_argument("after", help="run to judge, of the same weights and utterances")
    parser.add_argument("-o", "--out", default=None, help="write the comparison here as JSON (default: print it)")
    args = parser.parse_args()
    before, after = load_run(args.before), load_run(args.after)
    for key in ("weights", "inputs"):
        if before.get(key) != after.get(key):
            fail(f"{args.after}: {key} {after.get(key)!r} differs from {args.before}'s {before.get(key)!r}")
    result = {"before": args.before, "after": args.after, **compare(before, after)}
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
