"""``python -m sim.presim WEIGHTS`` — ngspice on the schematic, compared with the software model.

Maps the weights (quantising them to the hardware grid), writes the schematic, simulates each
utterance as a transient (one frame per ``frame_period_s``) and compares cell states per frame
and utterance decisions with the quantised software model. Writes ``OUT/presim.json``
(CONTRACT.md section 4 keys plus a per-utterance table) and, alongside, the ``spec.json`` and
``schematic.spice`` it simulated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from bmru.cli import fail, progress, write_json
from bmru.inputs import InputsError, load_inputs
from bmru.weights import WeightsError, atomic_write, load_weights
from generators.mapping import MappingConfig, MappingError, map_network, spec_json
from generators.schematic import schematic_text
from pdk_sky130_180.models import CORNERS
from sim.runner import MAX_STEP_FRACTION, evaluate

DEFAULT_WEIGHTS = "examples/kws_yes_d4.npz"
DEFAULT_INPUTS = "examples/kws_yes_test.npz"


def _same_spec(path: Path, spec) -> bool:
    """True when ``path`` already holds this spec, whatever the layout generator added to it
    (its area, its options)."""
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    expected = json.loads(spec_json(spec))
    return isinstance(data, dict) and {key: data.get(key) for key in expected} == expected


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sim.presim", description=__doc__.split("\n\n")[1])
    p.add_argument("weights", nargs="?", default=DEFAULT_WEIGHTS, help="bmru-fq/1 weights (default %(default)s)")
    p.add_argument("--inputs", default=DEFAULT_INPUTS, help="inputs .npz with x (n, T, n_in) and optional y "
                                                            "(default %(default)s)")
    p.add_argument("-n", type=int, default=None, help="simulate only the first N utterances")
    p.add_argument("-o", "--out", default=None, help="output folder (default build/<weights stem>/)")
    p.add_argument("--jobs", type=int, default=2, help="ngspice processes at once (default %(default)s)")
    p.add_argument("--corner", choices=CORNERS, default="tt", help="process corner (default %(default)s)")
    p.add_argument("--temp", type=float, default=27.0, help="temperature in °C (default %(default)s)")
    p.add_argument("--internal-scale", type=float, default=MappingConfig.internal_scale,
                   help="internal current per software unit (default %(default)s)")
    p.add_argument("--max-step", type=float, default=MAX_STEP_FRACTION,
                   help="largest transient step as a fraction of a frame (default %(default)s)")
    return p


def load_job(args: argparse.Namespace):
    """Weights, inputs and hardware spec named by the parsed arguments; exits with the reason
    (naming the bad input) when one is unusable."""
    try:
        net = load_weights(args.weights)
        inputs = load_inputs(args.inputs, n_in=net.n_in, limit=args.n, classes=net.classes)
        spec = map_network(net, MappingConfig(internal_scale=args.internal_scale))
    except (WeightsError, InputsError, MappingError) as error:
        fail(str(error))
    return net, inputs, spec


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.jobs < 1:
        fail(f"--jobs: must be >= 1, got {args.jobs}")
    net, inputs, spec = load_job(args)
    out = Path(args.out) if args.out else Path("build") / Path(args.weights).stem
    count = len(inputs.x)
    progress(f"presim: {count} utterances of {inputs.x.shape[1]} frames, {args.jobs} ngspice jobs, "
             f"corner {args.corner}, {args.temp:g} °C")
    done = []

    def on_done(index, measurement):
        done.append(index)
        progress(f"[{len(done)}/{count}] utterance {index}: {measurement.sim_seconds:.1f} s, "
                 f"decision {measurement.decision}, {measurement.power_nW['total']:.1f} nW")

    workdir = Path(tempfile.mkdtemp(prefix="bmru_presim_"))
    try:
        netlist = workdir / "schematic.spice"
        netlist.write_text(schematic_text(spec))
        result = evaluate("schematic", netlist, spec, inputs.x, inputs.y, jobs=args.jobs, corner=args.corner,
                          temperature_C=args.temp, on_done=on_done, max_step_fraction=args.max_step)
        result.update(weights=str(args.weights), inputs=str(args.inputs))
        out.mkdir(parents=True, exist_ok=True)
        if not _same_spec(out / "spec.json", spec):  # keep the generator's spec.json (it adds the area)
            atomic_write(out / "spec.json", lambda tmp: Path(tmp).write_text(spec_json(spec)))
        atomic_write(out / "schematic.spice", lambda tmp: shutil.copyfile(netlist, tmp))
        write_json(out / "presim.json", result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    power = result["power_nW"]
    progress(f"decision agreement {result['decision_agreement']:.3f}, frame-state agreement "
             f"{result['frame_state_agreement']:.4f}, power {power['total_mean']:.1f} nW "
             f"(cells {power['cells_mean']:.1f}, feedforward {power['feedforward_mean']:.1f}, "
             f"bias {power['bias_mean']:.1f}), {result['sim_seconds_per_utterance']:.1f} s/utterance; "
             f"wrote {out / 'presim.json'}")


if __name__ == "__main__":
    main()
