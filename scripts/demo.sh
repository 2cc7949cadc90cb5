#!/usr/bin/env bash
# The whole flow on one network, stage by stage, each timed: weights -> software model ->
# spec/schematic/layout -> DRC -> LVS -> PEX -> pre- and post-layout ngspice -> report.
# Usage: scripts/demo.sh WEIGHTS INPUTS N OUT   (make demo passes the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
WEIGHTS=${1:?weights}; INPUTS=${2:?inputs}; N=${3:?N}; OUT=${4:?out}
PY=.venv/bin/python
mkdir -p "$OUT"
timings="$OUT/.timings.tsv"; : > "$timings"
demo_start=$(date +%s.%N)

stage() {  # stage NAME COMMAND...: run, time, and stop the demo if it fails
    local name=$1; shift
    printf '\n== %s ==\n' "$name" >&2
    local start; start=$(date +%s.%N)
    "$@"
    printf '%s\t%s\n' "$name" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >> "$timings"
}

stage "software model" $PY -m bmru.infer "$WEIGHTS" "$INPUTS" -n "$N" -q --json "$OUT/software.json"
stage "mapping, schematic, layout" $PY -m generators.array "$WEIGHTS" -o "$OUT"
stage "DRC" $PY -m extract.drc "$OUT/layout.gds" -o "$OUT"
stage "LVS" $PY -m extract.lvs "$OUT/layout.gds" "$OUT/schematic.spice" -o "$OUT"
# KPEX runs on one core, so the pre-layout simulation (which needs no extraction) takes the other.
side_start=$(date +%s.%N)
stage "PEX" $PY -m extract.pex "$OUT/lvs.lvsdb" -o "$OUT" &
pex_pid=$!
stage "pre-layout simulation" $PY -m sim.presim "$WEIGHTS" --inputs "$INPUTS" -n "$N" -o "$OUT" --jobs 1
wait "$pex_pid"
printf '%s\t%s\n' "PEX and pre-layout simulation, side by side" \
    "$(awk -v a="$side_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >> "$timings"
stage "post-layout simulation" $PY -m sim.postlayout "$WEIGHTS" --inputs "$INPUTS" -n "$N" -o "$OUT"
printf '%s\t%s\n' "whole demo" "$(awk -v a="$demo_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >> "$timings"
$PY - "$timings" "$OUT/timings.json" <<'PYEOF'
import sys
from bmru.cli import write_json  # atomic: a reader never sees half a file
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
write_json(sys.argv[2], {name: round(float(seconds), 1) for name, seconds in rows})
PYEOF
rm -f "$timings"
$PY -m sim.report "$OUT" --summary
