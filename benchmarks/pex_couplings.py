"""Benchmark: what moving coupling capacitors to the substrate does to the extracted netlist's
simulation time and results.

    python benchmarks/pex_couplings.py PEX [WEIGHTS] [--inputs F] [--floors 0 2 5 10 inf]
                                       [--utterances 0 22] [-o benchmarks/results/pex_couplings.json]

PEX is an extraction written with ``--signal-coupling-floor 0`` (every coupling of the
0.5 fF floor or more kept). For each signal-coupling floor, ``extract.pex.ground_couplings``
moves the couplings that floor moves (between two signal nets below it, and to a supply), and
the chosen utterances are simulated one after the other on one core. Writes JSON: per floor the
couplings moved and kept, and per utterance the seconds, the frame-state agreement with the
software model and the power. Run it on an otherwise idle machine for absolute times.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from extract.pex import ground_couplings, provenance  # noqa: E402
from generators.circuit.mapping import map_network  # noqa: E402
from pdk_sky130_180.pex import SUBSTRATE_NET  # noqa: E402
from sim.runner import evaluate  # noqa: E402


def coupling_count(text: str) -> int:
    """Capacitors between two nets other than the substrate."""
    return sum(1 for line in text.splitlines()
               if line[:1] in "Cc" and len(line.split()) >= 4 and SUBSTRATE_NET not in line.split()[1:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pex", help="extraction written with --signal-coupling-floor 0")
    parser.add_argument("weights", nargs="?", default="examples/kws_yes_d4.npz")
    parser.add_argument("--inputs", default="examples/kws_yes_test.npz")
    parser.add_argument("--floors", type=float, nargs="+", default=[0.0, 2.0, 5.0, 10.0, math.inf],
                        help="signal-coupling floors in fF (inf: every signal coupling)")
    parser.add_argument("--utterances", type=int, nargs="+", default=[0, 22])
    parser.add_argument("-o", "--out", default="benchmarks/results/pex_couplings.json")
    args = parser.parse_args()
    kept_text = Path(args.pex).read_text()
    record = provenance(kept_text)
    if record is None:
        raise SystemExit(f"{args.pex}: not an extract.pex netlist (no provenance line)")
    net = load_weights(args.weights)
    spec = map_network(net)
    inputs = load_inputs(args.inputs, n_in=net.n_in)
    chosen = sorted(set(args.utterances))
    x = inputs.x[chosen]
    y = None if inputs.y is None else inputs.y[chosen]
    results = {"pex": args.pex, "sources": record, "weights": args.weights, "inputs": args.inputs,
               "utterances": chosen, "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
               "covers": "extracted netlist, tt, 27 °C, 1.8 V, one ngspice process on one core", "floors": []}
    with tempfile.TemporaryDirectory() as tmp:
        for floor in args.floors:
            text, _, moved, moved_fF = ground_couplings(kept_text, 0.0, None, floor)
            netlist = Path(tmp) / "pex.spice"
            netlist.write_text(text)
            print(f"[floor {floor:g} fF] {moved} couplings moved ({moved_fF:.0f} fF)", file=sys.stderr, flush=True)
            run = evaluate(netlist, spec, x, y, jobs=1)
            results["floors"].append({
                "signal_coupling_floor_fF": None if math.isinf(floor) else floor,
                "every_signal_coupling": math.isinf(floor), "moved": moved, "moved_fF": round(moved_fF, 1),
                "couplings_kept": coupling_count(text),
                "per_utterance": [{"index": chosen[row["index"]], "sim_seconds": row["sim_seconds"],
                                   "frame_state_agreement": row["frame_state_agreement"],
                                   "hw_decision": row["hw_decision"], "power_total_nW": row["power_nW"]["total"]}
                                  for row in run["per_utterance"]],
            })
    write_json(args.out, results)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
