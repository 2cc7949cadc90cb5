"""Benchmark: which simulator settings keep a state-keeper circuit's latches faithful?

    python benchmarks/keeper_step.py WEIGHTS [mapping options, e.g. --unit-size 2 ...] [--inputs F]
                                     [--utterances 3 22 24 33 34] [-o benchmarks/results/keeper_step.json]

A keeper (``--state-keeper``) is a latch. ngspice flipped the unstarved keeper's latches with
nothing driving them: with device bypass, and without it at 0.05- and 0.01-frame steps, with the
charge tolerance at 1e-16, and with only the enable ramps taken in short steps; steps of at most
0.002 frame everywhere held every flip found. The keeper's feedback is now starved
(``generators.circuit.spice_cells.cell_block``) and runs without bypass at the usual steps
(``sim.testbench.circuit_options``); this checks that against the 0.002-frame reference. This runs the keeper circuit of WEIGHTS (schematic,
tt, 27 °C, 1.8 V) on the chosen utterances with each setting below, and the same circuit without
keepers at its defaults, and records per run the cell-frames that differ from the software model
and from the 0.002-frame run (taken as the reference), and the seconds. Two ngspice processes at
a time (Dask, one per core): times are comparable within one run of this script only.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import progress, write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.model import run  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from generators.circuit.mapping import add_mapping_arguments, config_from, map_network, quantised_network  # noqa: E402
from generators.circuit.schematic import schematic_text  # noqa: E402
from pdk_sky130_180.devices import SPICE_OPTIONS, SUPPLY_V  # noqa: E402
from sim.cluster import map_on_cluster  # noqa: E402
from sim.runner import MAX_STEP_FRACTION, _simulate_item  # noqa: E402
from generators.circuit.mapping import Sizing  # noqa: E402
from sim.testbench import NO_BYPASS, circuit_options, find_top  # noqa: E402

REFERENCE = "no bypass, 0.002-frame steps"
CURRENT = "no bypass (sim.testbench.circuit_options)"
# (name, keepers drawn, simulator options, largest step, a fraction of a frame)
SETTINGS = (
    ("defaults (bypass, chgtol 1e-15)", True, {}, MAX_STEP_FRACTION),
    (CURRENT, True, circuit_options(Sizing(state_keeper=True)), MAX_STEP_FRACTION),
    (REFERENCE, True, dict(NO_BYPASS), 0.002),
    ("without keepers, defaults", False, {}, MAX_STEP_FRACTION),
)


def differing(a: np.ndarray, b: np.ndarray) -> list[list[int]]:
    """[layer, frame, cell] of every cell-frame where (L, T, N) state arrays differ."""
    return [[int(v) for v in index] for index in zip(*np.nonzero(a != b))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights")
    parser.add_argument("--inputs", default="examples/kws_yes_test.npz")
    parser.add_argument("--utterances", type=int, nargs="+", default=[3, 22, 24, 33, 34])
    parser.add_argument("-o", "--out", default="benchmarks/results/keeper_step.json")
    add_mapping_arguments(parser)
    args = parser.parse_args(argv)
    net = load_weights(args.weights)
    config = config_from(args)
    keeper_spec = map_network(net, dataclasses.replace(config, sizing=dataclasses.replace(config.sizing, state_keeper=True)))
    plain_spec = map_network(net, dataclasses.replace(config, sizing=dataclasses.replace(config.sizing, state_keeper=False)))
    inputs = load_inputs(args.inputs, n_in=net.n_in)
    chosen = list(args.utterances)
    sw = run(quantised_network(keeper_spec), inputs.x[chosen])
    software = np.stack([np.stack([layer[k] for layer in sw.states]) for k in range(len(chosen))])  # (n, L, T, N)
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for name, keepers, options, step in SETTINGS:
            spec = keeper_spec if keepers else plain_spec
            netlist = Path(tmp) / f"{'keeper' if keepers else 'plain'}.spice"
            netlist.write_text(schematic_text(spec))
            top = find_top(netlist.read_text())
            items += [(netlist, top, spec, inputs.x[i], "tt", 27.0, step, SUPPLY_V, None, options) for i in chosen]
        progress(f"keeper_step: {len(SETTINGS)} settings x {len(chosen)} utterances = {len(items)} ngspice runs")
        measured = map_on_cluster(_simulate_item, items, workers=2, name="run",
                                  on_done=lambda i, m: progress(f"[{i + 1}/{len(items)}] {m.sim_seconds:.0f} s"))
    runs = {name: measured[k * len(chosen):(k + 1) * len(chosen)] for k, (name, *_) in enumerate(SETTINGS)}
    table = []
    for name, keepers, options, step in SETTINGS:
        rows = []
        for k, (index, m, ref) in enumerate(zip(chosen, runs[name], runs[REFERENCE])):
            rows.append({"index": index, "seconds": round(m.sim_seconds, 1), "decision": m.decision,
                         "differs_from_software": differing(m.states, software[k]),
                         "differs_from_reference": differing(m.states, ref.states)})
        table.append({"setting": name, "state_keeper": keepers, "options": {**SPICE_OPTIONS, **options},
                         "max_step_fraction": step, "per_utterance": rows,
                         "cell_frames_differing_from_reference": sum(len(r["differs_from_reference"]) for r in rows),
                         "cell_frames_differing_from_software": sum(len(r["differs_from_software"]) for r in rows),
                         "seconds_per_utterance": round(float(np.mean([r["seconds"] for r in rows])), 1)})
    write_json(args.out, {
        "weights": args.weights, "inputs": args.inputs, "utterances": chosen, "sizing": keeper_spec.sizing.record(),
        "reference": REFERENCE, "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
        "covers": "schematic, tt, 27 °C, 1.8 V, no mismatch; two ngspice runs at a time on 2 cores",
        "cell_frames": int(software[0].size), "settings": table})
    for row in table:
        progress(f"{row['setting']}: {row['cell_frames_differing_from_reference']} cell-frames differ from the "
                 f"reference, {row['cell_frames_differing_from_software']} from software, "
                 f"{row['seconds_per_utterance']} s per utterance")
    progress(f"wrote {args.out}")


if __name__ == "__main__":
    main()
