"""Benchmark: ngspice seconds per 1 s utterance on one core, schematic and extracted netlist,
against the software model.

    python benchmarks/presim_speed.py [WEIGHTS] [--inputs F] [-n 2] [--pex OUT/pex.spice]
                                      [-o benchmarks/results/presim_speed.json]

Simulates the first N utterances one after the other (one ngspice process, one thread) on the
weights' schematic and, with ``--pex``, on an extracted netlist of the same weights; times the
software model on the same utterances. Writes JSON: seconds per utterance for each netlist,
the ratio to the software model, the transient settings, and whether the decisions agreed.
Run it on an otherwise idle machine: a busy second core slows ngspice by up to 2x.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.model import run  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from generators.circuit.mapping import map_network, quantised_network  # noqa: E402
from generators.circuit.schematic import device_count, schematic_text  # noqa: E402
from pdk_sky130_180.devices import SPICE_OPTIONS  # noqa: E402
from sim.runner import MAX_STEP_FRACTION, evaluate  # noqa: E402


def timed(netlist: Path, spec, x, y) -> dict:
    result = evaluate(netlist, spec, x, y, jobs=1)
    return {"seconds_per_utterance": round(result["sim_seconds_per_utterance"], 2),
            "runs": [row["sim_seconds"] for row in result["per_utterance"]],
            "decision_agreement": result["decision_agreement"],
            "frame_state_agreement": result["frame_state_agreement"],
            "power_total_mean_nW": round(result["power_nW"]["total_mean"], 3),
            "device_instances": device_count(netlist.read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="?", default="examples/kws_yes_d4.npz")
    parser.add_argument("--inputs", default="examples/kws_yes_test.npz")
    parser.add_argument("-n", type=int, default=2)
    parser.add_argument("--pex", default=None, help="extracted netlist of the same weights (make pex)")
    parser.add_argument("-o", "--out", default="benchmarks/results/presim_speed.json")
    args = parser.parse_args()
    net = load_weights(args.weights)
    spec = map_network(net)
    inputs = load_inputs(args.inputs, n_in=net.n_in, limit=args.n)
    start = time.perf_counter()
    for _ in range(100):
        run(quantised_network(spec), inputs.x)
    software = (time.perf_counter() - start) / 100 / len(inputs.x)
    results = {"weights": args.weights, "utterances": len(inputs.x), "labels_covered": inputs.y[:args.n].tolist()
               if inputs.y is not None else None, "cpu_count": os.cpu_count(),
               "load_average_at_start": os.getloadavg()[0], "software_seconds_per_utterance": software,
               "max_step_fraction": MAX_STEP_FRACTION, "options": SPICE_OPTIONS}
    with tempfile.TemporaryDirectory() as tmp:
        schematic = Path(tmp) / "schematic.spice"
        schematic.write_text(schematic_text(spec))
        results["schematic"] = timed(schematic, spec, inputs.x, inputs.y)
    if args.pex:
        results["pex"] = timed(Path(args.pex), spec, inputs.x, inputs.y)
    for kind in ("schematic", "pex"):
        if kind in results:
            results[kind]["ratio_to_software"] = round(results[kind]["seconds_per_utterance"] / software)
    write_json(args.out, results)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
