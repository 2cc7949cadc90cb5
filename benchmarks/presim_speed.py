"""Benchmark: ngspice seconds per 1 s utterance on the schematic of a weights file.

    python benchmarks/presim_speed.py [WEIGHTS] [--inputs INPUTS] [-n 2] [--jobs 1]

Prints one JSON line: seconds per utterance (ngspice wall time, one process per utterance),
device instances, transient settings.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bmru.inputs import load_inputs
from bmru.weights import load_weights
from generators.mapping import map_network
from generators.schematic import device_count, schematic_text
from pdk_sky130_180.devices import SPICE_OPTIONS
from sim.runner import MAX_STEP_FRACTION, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="?", default="examples/kws_yes_d4.npz")
    parser.add_argument("--inputs", default="examples/kws_yes_test.npz")
    parser.add_argument("-n", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    net = load_weights(args.weights)
    spec = map_network(net)
    x = load_inputs(args.inputs, n_in=net.n_in, limit=args.n).x
    text = schematic_text(spec)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schematic.spice"
        path.write_text(text)
        runs = simulate(path, spec, x, jobs=args.jobs)
    seconds = [m.sim_seconds for m in runs]
    print(json.dumps({"seconds_per_utterance": sum(seconds) / len(seconds), "runs": seconds,
                      "device_instances": device_count(text), "jobs": args.jobs,
                      "max_step_fraction": MAX_STEP_FRACTION, "options": SPICE_OPTIONS}))


if __name__ == "__main__":
    main()
