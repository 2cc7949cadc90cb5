"""``python -m sim.postlayout WEIGHTS`` — ngspice on the extracted netlist (``pex.spice``),
compared with the quantised software model exactly as ``sim.presim`` does for the schematic.

``pex.spice`` is a drop-in for ``schematic.spice`` (same top sub-circuit and pins, see
:mod:`extract.pex`), so the same bench, measurements and comparison apply. Writes
``OUT/postlayout.json`` (CONTRACT.md section 4 keys plus a per-utterance table) and
``OUT/postlayout_traces.npz`` (per-frame circuit states and class currents of the first
utterances, beside the software model's, for the report).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bmru.cli import fail, progress, write_json
from bmru.model import run
from bmru.weights import atomic_write
from generators.mapping import quantised_network
from sim import presim
from sim.runner import evaluate

TRACE_UTTERANCES = 4  # utterances whose per-frame traces the report plots


def save_traces(path: Path, spec, x: np.ndarray, measurements: dict) -> None:
    """Per-frame states and class currents, circuit beside software, for a few utterances."""
    indices = sorted(measurements)
    sw = run(quantised_network(spec), x[indices])
    arrays = {
        "indices": np.array(indices),
        "hw_states": np.stack([measurements[i].states for i in indices]),  # (K, L, T, N)
        "sw_states": np.stack([np.stack([s[k] for s in sw.states]) for k in range(len(indices))]),
        "hw_class_currents": np.stack([measurements[i].class_currents for i in indices]),  # (K, T, C)
        "sw_class_currents": sw.logits,
        "frame_period_s": np.array(spec.frame_period_s),
    }

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def main(argv: list[str] | None = None) -> None:
    parser = presim.parser()
    parser.prog = "python -m sim.postlayout"
    parser.description = ("Simulate the extracted (post-layout) netlist in ngspice and compare it with the "
                          "quantised software model; writes postlayout.json and postlayout_traces.npz.")
    parser.add_argument("--netlist", default=None,
                        help="extracted netlist (default OUT/pex.spice, written by make pex)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        fail(f"--jobs: must be >= 1, got {args.jobs}")
    out = Path(args.out) if args.out else Path("build") / Path(args.weights).stem
    netlist = Path(args.netlist) if args.netlist else out / "pex.spice"
    _, inputs, spec = presim.load_job(args)
    if not netlist.is_file():
        fail(f"{netlist}: no extracted netlist (run make pex first)")
    count = len(inputs.x)
    progress(f"postlayout: {count} utterances on {netlist}, {args.jobs} ngspice jobs, corner {args.corner}")
    traced: dict = {}
    done: list[int] = []

    def on_done(index, measurement):
        done.append(index)
        if index < TRACE_UTTERANCES:
            traced[index] = measurement
        progress(f"[{len(done)}/{count}] utterance {index}: "
                 f"{measurement.sim_seconds:.1f} s, decision {measurement.decision}, "
                 f"{measurement.power_nW['total']:.1f} nW")

    result = evaluate("pex", netlist, spec, inputs.x, inputs.y, jobs=args.jobs, corner=args.corner,
                      temperature_C=args.temp, on_done=on_done)
    result.update(weights=str(args.weights), inputs=str(args.inputs), netlist_path=str(netlist))
    save_traces(out / "postlayout_traces.npz", spec, inputs.x, traced)
    write_json(out / "postlayout.json", result)
    power = result["power_nW"]
    progress(f"decision agreement {result['decision_agreement']:.3f}, frame-state agreement "
             f"{result['frame_state_agreement']:.4f}, power {power['total_mean']:.1f} nW; "
             f"wrote {out / 'postlayout.json'}")


if __name__ == "__main__":
    main()
