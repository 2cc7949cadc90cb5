"""``python -m sim.noise [-o OUT]`` — noise immunity of the BMRU cell, measured in ngspice.

1. **Injected noise.** One cell of the array (``sim.characterise.cell_bench``: the bias
   generator, the cell, its output held at 0.5 V) gets on its candidate input a DC level plus
   white Gaussian noise, drawn in NumPy from an explicit seed and written as a piecewise-linear
   current with a new value every ``NOISE_STEP_S`` (ngspice's ``trnoise`` did not repeat with any
   seed here). Conditions: both stable states far from the thresholds, the hysteresis band
   holding either state, and a few steps from each threshold. For each condition and noise
   level the output current's noise (rms of its deviation from the mean, after the first
   ``SETTLE_S``) is compared with the input's, and state flips are counted.
2. **Device noise.** ngspice's ``.noise`` on a 1 nA NMOS mirror (4 fingers against 4) gives the
   output current noise the devices themselves make, integrated over 1–100 Hz (the band of 10 ms
   frames), to put the injected levels in scale. This small analysis runs through PySpice on
   the ngspice shared library; the transients use the batch runner like every other simulation.

Writes ``OUT/noise.json`` and ``OUT/noise.png`` (default ``characterisation/``).
Tt corner, 27 °C, 1.8 V, nominal devices (no mismatch).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmru.cli import CommandParser, fail, progress, write_json
from bmru.grid import HARDWARE_GRID
from generators.circuit import spice_cells as sc
from generators.circuit.mapping import CellSpec, MappingConfig
from pdk_sky130_180.devices import SUPPLY_V
from pdk_sky130_180.models import include_line
from sim.characterise import UNIT_A, Bench, cell_bench
from sim.ngspice import options_line, run_deck

# a new noise value every 0.5 ms: white up to ~1 kHz, so most of its power lies where a cell
# can follow it (a cell takes 0.1-2 ms to switch; faster noise it averages out)
NOISE_STEP_S = 0.5e-3
RUN_S = 0.2
SETTLE_S = 0.01  # the state is set up in the first 5 ms, then the level settles
PRESET_S = 0.005
# the cell under test, in cell steps (0.05 software units = 25 pA at internal scale 0.5)
BETA1, DELTA, ALPHA = 10, 10, 20


@dataclass(frozen=True)
class Condition:
    name: str
    level_steps: float  # the DC candidate, in cell steps
    preset_steps: float  # where the input sits for the first PRESET_S (sets up the state)
    state: int  # the state the cell should hold


def conditions() -> list[Condition]:
    b1, b2 = BETA1, BETA1 + DELTA
    return [
        Condition("state 0, far below beta1", 0.5 * b1, 0.0, 0),
        Condition("state 1, far above beta2", 1.5 * b2, 2.0 * b2, 1),
        Condition("state 0, mid-band", 0.5 * (b1 + b2), 0.0, 0),
        Condition("state 1, mid-band", 0.5 * (b1 + b2), 2.0 * b2, 1),
        Condition("state 0, 2 steps below beta2", b2 - 2, 0.0, 0),
        Condition("state 1, 2 steps above beta1", b1 + 2, 2.0 * b2, 1),
    ]


def step_A(sigma: float) -> float:
    """One cell step (the mapping's threshold grid) in amperes at internal scale ``sigma``."""
    return HARDWARE_GRID.threshold_step * sigma * UNIT_A


def noise_waveform(condition: Condition, noise_A: float, sigma: float, seed: int) -> list[tuple[float, float]]:
    """PWL points: the preset level, then the condition's level plus white noise."""
    unit = step_A(sigma)
    rng = np.random.default_rng(seed)
    times = np.arange(PRESET_S + NOISE_STEP_S, RUN_S, NOISE_STEP_S)
    values = condition.level_steps * unit + noise_A * rng.standard_normal(len(times))
    points = [(0.0, condition.preset_steps * unit), (PRESET_S, condition.preset_steps * unit),
              (PRESET_S + NOISE_STEP_S / 2, condition.level_steps * unit)]
    # the cell's input is a diode: a net negative current cannot flow, so neither can the noise
    points += [(float(t), float(max(v, 0.0))) for t, v in zip(times, values)]
    return points


def cell_noise_run(condition: Condition, noise_A: float, seed: int, sigma: float) -> dict:
    cell = CellSpec(0, 0, BETA1, DELTA, ALPHA, 0)
    bench = Bench(sigma)
    body = cell_bench(bench, cell)
    points = noise_waveform(condition, noise_A, sigma, seed)
    pwl = " ".join(f"{t:.9g} {v:.6g}" for t, v in points)
    body[-1] = f"Iin 0 c PWL({pwl})"
    deck = bench.deck(body, f"tran {NOISE_STEP_S / 4:g} {RUN_S:g} 0 {NOISE_STEP_S / 2:g}", ["v(st)", "i(vh)"])
    result = run_deck(deck)
    t = result["scale"]
    window = t >= SETTLE_S
    # resample uniformly: ngspice's time points cluster at the PWL corners
    grid = np.arange(SETTLE_S, RUN_S, NOISE_STEP_S / 4)
    out_A = np.interp(grid, t, -result["i(vh)"])
    in_A = np.array([v for t_point, v in points if t_point >= SETTLE_S])
    state = np.interp(grid, t, result["v(st)"]) > SUPPLY_V / 2
    flips = int(np.count_nonzero(np.diff(state.astype(int))))
    unit = step_A(sigma)
    return {
        "condition": condition.name, "noise_in_A": noise_A, "noise_in_steps": noise_A / unit, "seed": seed,
        "input_rms_A": float(np.std(in_A)), "output_rms_A": float(np.std(out_A)),
        "output_mean_A": float(np.mean(out_A)), "state_fraction_high": float(np.mean(state)),
        "expected_state": condition.state, "flips": flips, "time_points": int(np.count_nonzero(window)),
    }


# --------------------------------------------------------------------------------------
# device noise (.noise through PySpice)


def mirror_noise(current_A: float = UNIT_A, fingers: int = 4, band_hz: tuple[float, float] = (1.0, 100.0)) -> float:
    """rms output current noise (A) of a ``fingers``:``fingers`` unit NMOS mirror carrying
    ``current_A``, over ``band_hz``: ngspice ``.noise`` through PySpice. The output current is
    read as a voltage by a 1-ohm current-controlled source, so volts are amperes."""
    os.environ.setdefault("NGSPICE_LIBRARY_PATH", "libngspice.so.0")
    import logging  # noqa: PLC0415

    logging.getLogger("PySpice").setLevel(logging.ERROR)  # "Unsupported Ngspice version 39" is harmless
    from PySpice.Spice.Netlist import Circuit  # noqa: PLC0415

    circuit = Circuit("mirror noise")
    circuit.raw_spice = "\n".join([
        include_line("tt"), options_line(),
        sc.UNIT_NFET.line("Nd", "g", "g", "0", "0", fingers),
        sc.UNIT_NFET.line("No", "o", "g", "0", "0", fingers),
        f"Iin vdd g dc {current_A:g} ac 1",
        "Vo vdd o 0.5",  # the output held 1.3 V below the supply, as a cascode would
        f"Vdd vdd 0 {SUPPLY_V:g}",
        "Hsense sense 0 Vo 1",
    ])
    simulator = circuit.simulator(simulator="ngspice-shared", temperature=27, nominal_temperature=27)
    analysis = simulator.noise(output_node="sense", ref_node="0", src="Iin", variation="dec", points=20,
                               start_frequency=band_hz[0], stop_frequency=band_hz[1])
    return float(np.asarray(analysis.nodes["onoise_total"])[0])


def parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="python -m sim.noise", description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", default="characterisation", help="output folder (default %(default)s)")
    p.add_argument("--levels", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0],
                   help="injected noise rms, in cell steps (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed of the noise waveforms (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if any(level <= 0 for level in args.levels):
        fail(f"--levels: expected positive noise levels, got {args.levels}")
    sigma = MappingConfig.internal_scale
    unit = step_A(sigma)
    start = time.perf_counter()
    runs = []
    for c_index, condition in enumerate(conditions()):
        for l_index, level in enumerate(args.levels):
            runs.append(cell_noise_run(condition, level * unit, args.seed * 1000 + c_index * 10 + l_index, sigma))
            r = runs[-1]
            progress(f"{condition.name}, noise {level:g} steps: out/in rms {r['output_rms_A'] / r['input_rms_A']:.2e}, "
                     f"flips {r['flips']}")
    device = {f"mirror_{int(round(i / 1e-12))}pA_rms_A": mirror_noise(i) for i in (UNIT_A, 0.05 * UNIT_A)}
    progress(f"device noise of a 4:4 mirror, 1-100 Hz: {device}")
    result = {"what": "one BMRU cell, tt, 27 °C, 1.8 V, nominal devices; white noise on its candidate input as a "
                      f"seeded PWL current (new value every {NOISE_STEP_S * 1e6:g} µs)",
              "cell": {"beta1_steps": BETA1, "delta_steps": DELTA, "alpha_steps": ALPHA, "step_A": unit},
              "device_noise_1_100Hz": device, "runs": runs, "summary": summarise(runs),
              "seconds": round(time.perf_counter() - start, 1)}
    out = Path(args.out)
    write_json(out / "noise.json", result)
    plot(out / "noise.png", runs, device)
    progress(f"wrote {out / 'noise.json'} and {out / 'noise.png'}")


def summarise(runs: list[dict]) -> list[dict]:
    """Per condition: the worst (smallest) attenuation of input noise over the levels without a flip."""
    out = []
    for name in dict.fromkeys(r["condition"] for r in runs):
        rows = [r for r in runs if r["condition"] == name]
        quiet = [r for r in rows if r["flips"] == 0]
        out.append({"condition": name,
                    "min_attenuation": min((r["input_rms_A"] / max(r["output_rms_A"], 1e-18) for r in quiet),
                                           default=None),
                    "first_level_with_flips_steps": min((r["noise_in_steps"] for r in rows if r["flips"]),
                                                        default=None)})
    return out


def plot(path: Path, runs: list[dict], device: dict) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for name in dict.fromkeys(r["condition"] for r in runs):
        rows = [r for r in runs if r["condition"] == name]
        ax.loglog([r["input_rms_A"] * 1e12 for r in rows], [max(r["output_rms_A"], 1e-18) * 1e12 for r in rows],
                  "o-", label=name)
        for r in rows:
            if r["flips"]:
                ax.annotate(f"{r['flips']} flips", (r["input_rms_A"] * 1e12, r["output_rms_A"] * 1e12), fontsize=7)
    for label, value in device.items():
        ax.axvline(value * 1e12, color="grey", ls=":", lw=1)
        ax.text(value * 1e12, ax.get_ylim()[1], label.replace("_rms_A", "").replace("_", " "), rotation=90,
                va="top", fontsize=7, color="grey")
    lims = ax.get_xlim()
    ax.plot(lims, lims, color="k", lw=0.5, ls="--")
    ax.set_xlabel("input noise rms (pA)")
    ax.set_ylabel("output noise rms (pA)")
    ax.set_title("BMRU cell: output against injected input noise (tt, 27 °C, nominal)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


if __name__ == "__main__":
    main()
