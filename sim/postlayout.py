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

from bmru.cli import default_out, fail, progress, write_json
from bmru.model import run
from bmru.weights import write_npz
from extract.pex import provenance
from generators.circuit.mapping import quantised_network
from sim import presim
from sim.runner import sha256_of

TRACE_UTTERANCES = 4  # utterances whose per-frame traces the report plots


def save_traces(path: Path, spec, x: np.ndarray, measurements: dict, first: int = 0) -> None:
    """Per-frame states and class currents, circuit beside software, for a few utterances
    (``measurements`` keyed by position in ``x``, which starts at utterance ``first``)."""
    indices = sorted(measurements)
    sw = run(quantised_network(spec), x[indices])
    arrays = {
        "indices": np.array(indices) + first,
        "hw_states": np.stack([measurements[i].states for i in indices]),  # (K, L, T, N)
        "sw_states": np.stack([np.stack([s[k] for s in sw.states]) for k in range(len(indices))]),
        "hw_class_currents": np.stack([measurements[i].class_currents for i in indices]),  # (K, T, C)
        "sw_class_currents": sw.logits,
        "frame_period_s": np.array(spec.frame_period_s),
    }
    write_npz(path, arrays)


def check_fresh(netlist: Path, out: Path) -> None:
    """Refuse (one line, naming both files) an extracted netlist whose provenance line names
    another ``lvs.lvsdb`` or layout than the ones in ``out``: it would simulate a stale layout."""
    record = provenance(netlist.read_text())
    if record is None:
        return  # not an extraction (a schematic given with --netlist): nothing to tie it to
    for name, key in (("lvs.lvsdb", "lvsdb_sha256"), ("layout.gds", "layout_sha256")):
        current = out / name
        if current.is_file() and record.get(key) and sha256_of(current) != record[key]:
            fail(f"{netlist} was extracted from another {name} than {current} (run make pex to re-extract)")


def main(argv: list[str] | None = None) -> None:
    parser = presim.parser()
    parser.prog = "python -m sim.postlayout"
    parser.description = ("Simulate the extracted (post-layout) netlist in ngspice and compare it with the "
                          "quantised software model; writes postlayout.json and postlayout_traces.npz.")
    parser.add_argument("--netlist", default=None,
                        help="extracted netlist (default OUT/pex.spice, written by make pex)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else default_out(args.weights)
    netlist = Path(args.netlist) if args.netlist else out / "pex.spice"
    _, inputs, spec = presim.load_job(args)
    inputs = presim.skip_utterances(args, inputs)
    if not netlist.is_file():
        fail(f"{netlist}: no extracted netlist (run make pex first)")
    check_fresh(netlist, out)
    drawn = out / "spec.json"
    if drawn.is_file() and not presim.same_spec(drawn, spec):
        fail(f"{drawn} was drawn from another mapping than these weights and options "
             f"(sizing here: {spec.sizing.record().get('sizing', 'shipped')}); give the options it was drawn with")
    traced: dict = {}

    def keep_trace(index, measurement):
        if index < TRACE_UTTERANCES:
            traced[index] = measurement

    result = presim.simulate_job(args, netlist, inputs, spec, "postlayout", keep_trace)
    save_traces(out / "postlayout_traces.npz", spec, inputs.x, traced, args.skip)
    write_json(out / "postlayout.json", result)
    progress(presim.summary_line(result, out / "postlayout.json"))


if __name__ == "__main__":
    main()
