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

from bmru.cli import CommandParser, atomic_write, default_out, fail, progress, write_json
from bmru.inputs import Inputs
from generators.circuit.mapping import add_mapping_arguments, config_from, load_mapped, spec_json
from generators.circuit.schematic import schematic_text
from pdk_sky130_180.devices import SUPPLY_RANGE_V, SUPPLY_V, TEMPERATURE_C, TEMPERATURE_RANGE_C
from pdk_sky130_180.models import CORNERS, ModelsError
from sim.compare import labels_covered
from sim.ngspice import SpiceError
from sim.runner import MAX_STEP_FRACTION, evaluate
from sim.testbench import BenchError

DEFAULT_WEIGHTS = "examples/kws_yes_d4.npz"
DEFAULT_INPUTS = "examples/kws_yes_test.npz"


def same_spec(path: Path, spec) -> bool:
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


def add_job_arguments(p: argparse.ArgumentParser, n_default: int | None = None) -> None:
    """The arguments every simulating command shares: WEIGHTS, --inputs, -n."""
    p.add_argument("weights", nargs="?", default=DEFAULT_WEIGHTS, help="bmru-fq/1 weights (default %(default)s)")
    p.add_argument("--inputs", default=DEFAULT_INPUTS, help="inputs .npz with x (n, T, n_in) and optional y "
                                                            "(default %(default)s)")
    p.add_argument("-n", type=int, default=n_default, help="only the first N utterances (default: %(default)s)")


def parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="python -m sim.presim", description=__doc__.split("\n\n")[1])
    add_job_arguments(p)
    p.add_argument("-o", "--out", default=None, help="output folder (default build/<weights stem>/)")
    p.add_argument("--jobs", type=int, default=2,
                   help="local Dask worker processes, one ngspice run each (default %(default)s; 1: no cluster)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster (e.g. tcp://host:8786) instead of a local one")
    p.add_argument("--corner", choices=CORNERS, default="tt", help="process corner (default %(default)s)")
    p.add_argument("--temp", type=float, default=TEMPERATURE_C, help="temperature in °C (default %(default)s)")
    p.add_argument("--vdd", type=float, default=SUPPLY_V,
                   help="supply and control level in V (default %(default)s)")
    add_mapping_arguments(p)
    p.add_argument("--max-step", type=float, default=MAX_STEP_FRACTION,
                   help="largest transient step as a fraction of a frame (default %(default)s)")
    p.add_argument("--skip", type=int, default=0, metavar="K",
                   help="leave out the first K of the selected utterances, e.g. those a stopped run's "
                        "progress lines already report; indices in the output stay those of the inputs "
                        "file (default %(default)s)")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Refuse out-of-range numbers with a one-line reason, before anything runs."""
    if args.jobs < 1:
        fail(f"--jobs: must be >= 1, got {args.jobs}")
    if args.n is not None and args.n < 1:
        fail(f"-n: must be >= 1, got {args.n}")
    if not 0 < args.max_step <= 1:
        fail(f"--max-step: expected a fraction of a frame in (0, 1], got {args.max_step:g}")
    check_operating_point("--vdd", [args.vdd], "--temp", [args.temp])


def check_operating_point(vdd_option: str, supplies, temp_option: str, temperatures) -> None:
    """Refuse supplies and temperatures outside what the models can be asked for (one line,
    naming the option)."""
    low, high = SUPPLY_RANGE_V
    for vdd in supplies:
        if not low <= vdd <= high:
            fail(f"{vdd_option}: expected a supply in volts within [{low:g}, {high:g}], got {vdd:g}")
    low, high = TEMPERATURE_RANGE_C
    for temp in temperatures:
        if not low <= temp <= high:
            fail(f"{temp_option}: expected a temperature in °C within [{low:g}, {high:g}], got {temp:g}")


def load_job(args: argparse.Namespace):
    """Weights, inputs and hardware spec named by the parsed arguments; exits with the reason
    (naming the bad input) when one is unusable."""
    check_args(args)
    net, inputs, spec = load_mapped(args.weights, args.inputs, args.n, config_from(args))
    return net, inputs, spec


def skip_utterances(args: argparse.Namespace, inputs: Inputs) -> Inputs:
    """The selected utterances after ``--skip``; exits naming the option when it is out of range."""
    if not 0 <= args.skip < len(inputs.x):
        fail(f"--skip: expected 0..{len(inputs.x) - 1} (of the {len(inputs.x)} selected utterances of "
             f"{args.inputs}), got {args.skip}")
    return Inputs(inputs.x[args.skip:], None if inputs.y is None else inputs.y[args.skip:])


def simulate_job(args: argparse.Namespace, netlist: Path, inputs, spec, command: str,
                 on_measured=None, shown_as: str | None = None) -> dict:
    """Simulate every utterance of ``inputs`` on ``netlist`` with progress lines; a netlist the
    bench cannot drive, missing models or a failed ngspice run end the command with one line."""
    count, first = len(inputs.x), args.skip
    span = f" ({first} to {first + count - 1})" if first else ""
    progress(f"{command}: {count} utterances{span} of {inputs.x.shape[1]} frames on {shown_as or netlist}, "
             f"{args.scheduler or f'{args.jobs} local worker(s)'}, corner {args.corner}, {args.temp:g} °C, {args.vdd:g} V")
    covered = labels_covered(inputs.y, count)
    if count >= 10 and len(covered) == 1:
        progress(f"warning: all {count} utterances are of class {next(iter(covered))}: the agreement "
                 "figures cover one class only")
    done: list[int] = []

    def on_done(index, measurement):
        done.append(index)
        if on_measured is not None:
            on_measured(index, measurement)
        progress(f"[{len(done)}/{count}] utterance {first + index}: {measurement.sim_seconds:.1f} s, "
                 f"decision {measurement.decision}, {measurement.power_nW['total']:.1f} nW")

    try:
        result = evaluate(netlist, spec, inputs.x, inputs.y, jobs=args.jobs, corner=args.corner,
                          temperature_C=args.temp, on_done=on_done, max_step_fraction=args.max_step,
                          vdd_V=args.vdd, scheduler=args.scheduler)
    except (BenchError, SpiceError, ModelsError) as error:
        fail(f"{shown_as or netlist}: {error}")
    for row in result["per_utterance"]:
        row["index"] += first  # the inputs file's numbering, so runs of its parts can be joined
    result.update(weights=str(args.weights), inputs=str(args.inputs), first_utterance=first)
    return result


def summary_line(result: dict, path: Path) -> str:
    power = result["power_nW"]
    inputs = power.get("inputs_mean")
    return (f"decision agreement {result['decision_agreement']:.3f}, frame-state agreement "
            f"{result['frame_state_agreement']:.4f}, chip power {power['total_mean']:.1f} nW "
            f"(cells {power['cells_mean']:.1f}, feedforward {power['feedforward_mean']:.1f}, "
            f"bias {power['bias_mean']:.1f}; besides: control {power['control_mean']:.2f}, inputs "
            f"{'–' if inputs is None else f'{inputs:.1f}'}), {result['sim_seconds_per_utterance']:.1f} "
            f"s/utterance; wrote {path}")


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    net, inputs, spec = load_job(args)
    inputs = skip_utterances(args, inputs)
    out = Path(args.out) if args.out else default_out(args.weights)
    workdir = Path(tempfile.mkdtemp(prefix="bmru_presim_"))
    try:
        netlist = workdir / "schematic.spice"
        netlist.write_text(schematic_text(spec))
        result = simulate_job(args, netlist, inputs, spec, "presim",
                              shown_as=f"the schematic of {args.weights}")
        out.mkdir(parents=True, exist_ok=True)
        if not same_spec(out / "spec.json", spec):  # keep the generator's spec.json (it adds the area)
            atomic_write(out / "spec.json", lambda tmp: Path(tmp).write_text(spec_json(spec)))
        target = out / "schematic.spice"
        if not target.is_file() or target.read_bytes() != netlist.read_bytes():  # keep make's timestamps
            atomic_write(target, lambda tmp: shutil.copyfile(netlist, tmp))
        result["netlist_file"] = str(out / "schematic.spice")  # the same bytes, where they stay
        write_json(out / "presim.json", result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    progress(summary_line(result, out / "presim.json"))


if __name__ == "__main__":
    main()
