"""``python -m sim.characterise`` — characterise the array's cells in ngspice, keep the data.

Writes ``characterisation/*.json`` (and a PNG per sweep), by default for the typical corner at
27 °C and the shipped sizing (``--corner``, ``--temp``, ``--unit-size`` for others):

- ``mirrors.json``: a mirror output of 4 fingers (weight 1.0) against the signal, NMOS sink and
  PMOS source paths, over the input-current range and output-node voltage; relative error.
- ``cell_thresholds.json``: DC switching thresholds (up = beta2, down = beta1) of the BMRU cell
  against its beta1/delta finger counts, and its output current high (alpha) and low (leakage).
- ``leakage.json``: outputs with zero input.
- ``settling.json``: a mirror's output after input steps; the cell's switching time against
  the margin of its input over its threshold.
- ``summary.json``: the worst deviations, and the trims the generators use.

Everything is relative to the hardware spec of a default mapping (``internal_scale`` sigma).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmru.cli import fail, progress, write_json
from generators.circuit import spice_cells as sc
from generators.circuit.mapping import SHIPPED_SIZING, CellSpec, MappingConfig, MappingError, Sizing
from pdk_sky130_180.devices import TEMPERATURE_C, TEMPERATURE_RANGE_C
from pdk_sky130_180.models import CORNERS, include_line
from sim.ngspice import control_block, options_line, run_deck

OUT_DEFAULT = "characterisation"
UNIT_A = 1e-9
CellBlock = Callable[[CellSpec, Sizing], str]  # a cell's subcircuit text, like spice_cells.cell_block


@dataclass(frozen=True)
class Bench:
    """What a characterisation runs: the mapping's internal scale and sizing, at a process
    corner and temperature (1.8 V)."""

    sigma: float = MappingConfig.internal_scale
    sizing: Sizing = SHIPPED_SIZING
    corner: str = "tt"
    temperature_C: float = TEMPERATURE_C

    @property
    def internal_scale(self) -> float:  # what spice_cells.bias_block reads from a spec
        return self.sigma

    @property
    def devices(self) -> sc.DeviceSet:
        return sc.device_set(self.sizing.unit_um)

    def deck(self, body: list[str], analysis: str, vectors: list[str]) -> str:
        return "\n".join(["* characterisation", *self.head(), *body, control_block(analysis, vectors), ".end", ""])

    def head(self) -> list[str]:
        return [include_line(self.corner), options_line(), f".temp {self.temperature_C:g}"]


def _sink(bench: Bench, name: str, drain: str, fingers: int) -> list[str]:
    return sc.sink(name, drain, "a0", "t0", fingers, bench.devices)


def _bias(bench: Bench) -> list[str]:
    return [sc.bias_block(bench), "Xbias iref nb pb nc vdd vss bmru_bias", f"Iref vdd iref {UNIT_A:g}",
            "Vdd vdd 0 1.8", "Vss vss 0 0"]


def _received(bench: Bench, diode: int, source: str) -> list[str]:
    """Bias lines and one signal's receiver (diodes ``t0``/``a0``, p-line ``p0``) fed by ``source``."""
    return _bias(bench) + [sc.receiver_block("s", diode, (True,), bench.devices), "Xr t0 a0 p0 vdd vss rx_s",
                           f"Iin 0 t0 {source}"]


def _pmos_out(bench: Bench, name: str, drain: str, fingers: int) -> str:
    return bench.devices.unit_pfet.line(name, drain, "p0", "vdd", "vdd", fingers)


# --------------------------------------------------------------------------------------
# mirrors


def mirror_sweep(bench: Bench, out_voltages=(0.3, 0.5, 0.7), input_diode: int | None = None) -> dict:
    """Weight-1.0 outputs (4 fingers) of a received signal: NMOS sink and PMOS source paths."""
    diode = input_diode or sc.diode_fingers_for_inputs(bench)
    ideal_gain = sc.REF_FINGERS / diode
    currents = np.geomspace(1e-11, 8e-9, 25)
    rows = []
    for volts in out_voltages:
        body = _received(bench, diode, "1e-9") + [_pmos_out(bench, "Pout", "op", 4), *_sink(bench, "Nout", "on", 4),
                                                  f"Vop op 0 {volts}", f"Von on 0 {volts}"]
        result = run_deck(bench.deck(body, "dc Iin 1e-11 8e-9 5e-12", ["i(vop)", "i(von)", "v(t0)"]))
        inp = result["scale"]
        p_out = np.interp(currents, inp, result["i(vop)"])
        n_out = -np.interp(currents, inp, result["i(von)"])
        rows.append({"out_V": volts, "input_A": currents.tolist(),
                     "pmos_rel_error": (p_out / (currents * ideal_gain) - 1).tolist(),
                     "nmos_rel_error": (n_out / (currents * ideal_gain) - 1).tolist(),
                     "input_node_V": np.interp(currents, inp, result["v(t0)"]).tolist()})
    return {"internal_scale": bench.sigma, "input_diode_fingers": diode, "output_fingers": 4, "sweeps": rows}


def weight_linearity(bench: Bench, fingers=(1, 2, 4, 8, 12), input_A: float = 1e-9) -> dict:
    """Output current against finger count (the weight setting) at one input current."""
    body = _received(bench, sc.diode_fingers_for_inputs(bench), f"{input_A:g}")
    vectors = []
    for k in fingers:
        body += [_pmos_out(bench, f"P{k}", f"op{k}", k), f"Vop{k} op{k} 0 0.5", *_sink(bench, f"N{k}", f"on{k}", k),
                 f"Von{k} on{k} 0 0.5"]
        vectors += [f"i(vop{k})", f"i(von{k})"]
    result = run_deck(bench.deck(body, "op", vectors))
    unit = input_A * bench.sigma / 4
    return {"input_A": input_A, "fingers": list(fingers),
            "pmos_out_per_ideal": [float(result[f"i(vop{k})"][0] / (k * unit)) for k in fingers],
            "nmos_out_per_ideal": [float(-result[f"i(von{k})"][0] / (k * unit)) for k in fingers]}


# --------------------------------------------------------------------------------------
# the cell


def cell_bench(bench: Bench, cell: CellSpec, h_volts: float = 0.5, enable: str = "vdd",
               block: CellBlock = sc.cell_block) -> list[str]:
    """Bias, one cell and its input source (last line); the cell is always enabled unless
    ``enable`` names another node (its complement is then that name + "b"). ``block`` makes the
    cell's subcircuit (another one than the generator's: a circuit experiment)."""
    complement = "vss" if enable == "vdd" else f"{enable}b"
    return _bias(bench) + [block(cell, bench.sizing),
                           f"Xc c h st rst {enable} {complement} nb iref nc vdd vss {sc.cell_name(cell)}",
                           "Vrst rst 0 0", f"Vh h 0 {h_volts}", "Iin 0 c 0"]


def cell_dc(bench: Bench, beta1: int, delta: int, alpha: int,
            block: CellBlock = sc.cell_block) -> dict:
    """Up/down thresholds (in cell steps) by DC sweeps up then down (the sweep follows the branch)."""
    cell = CellSpec(0, 0, beta1, delta, alpha, 0)
    step_A = 0.05 * bench.sigma * UNIT_A
    top = (beta1 + delta) * 2 * step_A
    fine = step_A / 100
    body = cell_bench(bench, cell, block=block)
    deck = "\n".join(["* cell dc", *bench.head(), *body, ".control", "set num_threads=1",
                      "set wr_singlescale", "set wr_vecnames", "option numdgt=9",
                      f"dc Iin 0 {top:.6g} {fine:.6g}", "wrdata up.txt v(st) i(vh)",
                      f"dc Iin {top:.6g} 0 {-fine:.6g}", "wrdata down.txt v(st) i(vh)", "quit 0", ".endc", ".end", ""])
    # run_deck reads one data file; read the second ourselves from a kept directory
    keep = Path(tempfile.mkdtemp(prefix="bmru_cell_"))
    up = run_deck(deck, keep_dir=keep, data_file="up.txt")
    down = np.loadtxt(keep / "down.txt", skiprows=1, ndmin=2)
    for item in keep.iterdir():
        item.unlink()
    keep.rmdir()
    up_in, up_st, up_h = up["scale"] / step_A, up["v(st)"], up["i(vh)"] / step_A
    dn_in, dn_st = down[:, 0] / step_A, down[:, 1]
    up_at = float(up_in[np.argmax(up_st > 0.9)])
    down_at = float(dn_in[np.argmax(dn_st < 0.9)])
    high = float(np.interp(top / step_A, up_in, up_h))
    low = float(np.interp(0.5 * beta1, up_in, up_h))
    # output sensitivity to the input in each stable state (steps of output per step of input)
    on = up_in > up_at + 1
    slope_on = float(np.polyfit(up_in[on], up_h[on], 1)[0]) if on.sum() > 3 else float("nan")
    return {"beta1": beta1, "delta": delta, "alpha": alpha, "up_steps": up_at, "down_steps": down_at,
            "up_error_steps": up_at - (beta1 + delta), "down_error_steps": down_at - beta1,
            "output_high_steps": high, "output_high_error_steps": high - alpha, "output_low_A": low * step_A,
            "output_slope_on": slope_on}


def cell_switch_time(bench: Bench, beta1: int, delta: int, alpha: int, margin_steps: float, setting: bool) -> float:
    """ms from an input step to the state change; the input lands ``margin_steps`` past the threshold."""
    cell = CellSpec(0, 0, beta1, delta, alpha, 0)
    step_A = 0.05 * bench.sigma * UNIT_A
    if setting:
        start, target = 0.0, (beta1 + delta + margin_steps) * step_A
    else:
        start, target = 2 * (beta1 + delta) * step_A, (beta1 - margin_steps) * step_A
    body = cell_bench(bench, cell)
    body[-1] = f"Iin 0 c PWL(0 {start:.6g} 0.01 {start:.6g} 0.01001 {target:.6g} 0.03 {target:.6g})"
    result = run_deck(bench.deck(body, "tran 1e-5 0.03 0 5e-5", ["v(st)"]))
    t, st = result["scale"], result["v(st)"]
    before = st[np.argmin(abs(t - 0.0099))] > 0.9
    flips = np.where((t > 0.01) & ((st > 0.9) != before))[0]
    return float((t[flips[0]] - 0.01) * 1e3) if len(flips) else float("nan")


def mirror_step(bench: Bench, low_A: float, high_A: float) -> dict:
    """Output (4 fingers, both paths) after a step of the input between two currents; ms to 1 %."""
    source = f"PWL(0 {low_A:g} 0.005 {low_A:g} 0.00501 {high_A:g} 0.02 {high_A:g})"
    body = _received(bench, sc.diode_fingers_for_inputs(bench), source) + [
        _pmos_out(bench, "Pout", "op", 4), "Vop op 0 0.5", *_sink(bench, "Nout", "on", 4), "Von on 0 0.5"]
    result = run_deck(bench.deck(body, "tran 1e-6 0.02 0 1e-5", ["i(vop)", "i(von)"]))
    t = result["scale"]
    out = {}
    for name, vector, sign in (("pmos", "i(vop)", 1), ("nmos", "i(von)", -1)):
        y = sign * result[vector]
        final = y[-1]
        settled = np.abs(y - final) <= 0.01 * max(abs(final), abs(sign * result[vector][0]), 1e-13)
        after = np.where(t > 0.005)[0]
        not_settled = after[~settled[after]]
        out[f"{name}_ms_to_1pct"] = float((t[not_settled[-1]] - 0.005) * 1e3) if len(not_settled) else 0.0
        out[f"{name}_final_A"] = float(final)
    return {"from_A": low_A, "to_A": high_A, **out}


def leakage(bench: Bench) -> dict:
    body = _received(bench, sc.diode_fingers_for_inputs(bench), "0") + [
        _pmos_out(bench, "Pout", "op", 12), "Vop op 0 0.5", *_sink(bench, "Nout", "on", 12), "Von on 0 0.5"]
    result = run_deck(bench.deck(body, "op", ["i(vop)", "i(von)"]))
    cell = cell_dc(bench, 10, 10, 60)
    return {"weight_3_pmos_zero_input_A": float(result["i(vop)"][0]),
            "weight_3_nmos_zero_input_A": float(-result["i(von)"][0]),
            "cell_alpha3_output_low_A": cell["output_low_A"]}


# --------------------------------------------------------------------------------------
# plots and command


def _plot(path: Path, draw) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    draw(ax)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CELL_CONFIGS = ((1, 1, 20), (5, 4, 6), (6, 10, 20), (2, 11, 29), (11, 27, 29), (20, 20, 20), (21, 10, 21),
                (40, 20, 40), (60, 60, 60))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.characterise", description=__doc__.split("\n\n")[1])
    parser.add_argument("-o", "--out", default=OUT_DEFAULT, help="output folder (default %(default)s)")
    parser.add_argument("--internal-scale", type=float, default=MappingConfig.internal_scale,
                        help="internal current per software unit (default %(default)s)")
    parser.add_argument("--unit-size", type=float, default=SHIPPED_SIZING.unit_um, metavar="UM",
                        help="W = L (µm) of the matched unit fingers (default %(default)s)")
    parser.add_argument("--corner", choices=CORNERS, default="tt", help="process corner (default %(default)s)")
    parser.add_argument("--temp", type=float, default=TEMPERATURE_C, help="temperature in °C (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="fewer points (for tests)")
    args = parser.parse_args(argv)
    sigma = args.internal_scale
    try:
        sizing = Sizing(args.unit_size)
    except MappingError as error:
        fail(f"--unit-size: {error}")
    if not TEMPERATURE_RANGE_C[0] <= args.temp <= TEMPERATURE_RANGE_C[1]:
        fail(f"--temp: {args.temp:g} °C outside {TEMPERATURE_RANGE_C[0]:g}..{TEMPERATURE_RANGE_C[1]:g}")
    bench = Bench(sigma, sizing, args.corner, args.temp)
    devices = bench.devices
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    progress("mirrors: error against input current and output voltage")
    mirrors = mirror_sweep(bench)
    mirrors["linearity"] = weight_linearity(bench)
    write_json(out / "mirrors.json", mirrors)

    def draw_mirrors(ax):
        for row in mirrors["sweeps"]:
            ax.semilogx(row["input_A"], np.array(row["pmos_rel_error"]) * 100, label=f"PMOS source, out {row['out_V']} V")
            ax.semilogx(row["input_A"], np.array(row["nmos_rel_error"]) * 100, "--", label=f"NMOS sink, out {row['out_V']} V")
        ax.set_xlabel("input pin current (A)")
        ax.set_ylabel("output error vs ideal (%)")
        ax.set_title(f"weight 1.0 mirror outputs, sigma={sigma}")
        ax.legend(fontsize=7)

    _plot(out / "mirrors.png", draw_mirrors)

    progress("cell: DC thresholds and outputs")
    configs = CELL_CONFIGS[:4] if args.quick else CELL_CONFIGS
    cells = [cell_dc(bench, *config) for config in configs]
    write_json(out / "cell_thresholds.json", {"internal_scale": sigma, "step_units": 0.05, "cells": cells})

    def draw_cells(ax):
        b2 = [c["beta1"] + c["delta"] for c in cells]
        ax.plot(b2, [c["up_error_steps"] for c in cells], "o", label="up threshold - beta2")
        ax.plot([c["beta1"] for c in cells], [c["down_error_steps"] for c in cells], "s", label="down threshold - beta1")
        ax.plot([c["alpha"] for c in cells], [c["output_high_error_steps"] for c in cells], "^", label="output high - alpha")
        ax.set_xlabel("setting (fingers of 0.05 units)")
        ax.set_ylabel("error (fingers of 0.05 units)")
        ax.set_title("BMRU cell against its bias settings")
        ax.legend(fontsize=8)

    _plot(out / "cell_thresholds.png", draw_cells)

    progress("leakage floor")
    leaks = leakage(bench)
    write_json(out / "leakage.json", leaks)

    progress("settling")
    steps = [mirror_step(bench, a, b) for a, b in ((1e-9, 3e-9), (0.0, 5e-11), (3e-9, 1e-9), (1e-9, 0.0))]
    margins = (0.1, 0.5, 2.0) if args.quick else (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0)
    switching = [{"margin_steps": m, "set_ms": cell_switch_time(bench, 6, 10, 20, m, True),
                  "reset_ms": cell_switch_time(bench, 6, 10, 20, m, False)} for m in margins]
    write_json(out / "settling.json", {"mirror_steps": steps, "cell_switching_beta1_6_delta_10": switching})

    def draw_switching(ax):
        ax.loglog([s["margin_steps"] for s in switching], [s["set_ms"] for s in switching], "o-", label="set")
        ax.loglog([s["margin_steps"] for s in switching], [s["reset_ms"] for s in switching], "s-", label="reset")
        ax.set_xlabel("input margin past threshold (fingers of 0.05 units)")
        ax.set_ylabel("time to switch (ms)")
        ax.set_title("BMRU cell switching time (beta1=0.3, delta=0.5)")
        ax.legend()

    _plot(out / "settling.png", draw_switching)

    all_p = np.concatenate([r["pmos_rel_error"] for r in mirrors["sweeps"]])
    all_n = np.concatenate([r["nmos_rel_error"] for r in mirrors["sweeps"]])
    mid = [(np.array(r["input_A"]) > 1e-10) & (np.array(r["input_A"]) < 4e-9) for r in mirrors["sweeps"]]
    mid_p = np.concatenate([np.array(r["pmos_rel_error"])[m] for r, m in zip(mirrors["sweeps"], mid)])
    mid_n = np.concatenate([np.array(r["nmos_rel_error"])[m] for r, m in zip(mirrors["sweeps"], mid)])
    summary = {
        "internal_scale": sigma,
        "unit_um": devices.unit_um,
        "corner": bench.corner, "temperature_C": bench.temperature_C,
        "mirror_pmos_rel_error_max": float(np.max(np.abs(all_p))),
        "mirror_nmos_rel_error_max": float(np.max(np.abs(all_n))),
        "mirror_pmos_rel_error_max_0p1_to_4nA": float(np.max(np.abs(mid_p))),
        "mirror_nmos_rel_error_max_0p1_to_4nA": float(np.max(np.abs(mid_n))),
        "cell_up_error_steps_max": float(max(abs(c["up_error_steps"]) for c in cells)),
        "cell_down_error_steps_max": float(max(abs(c["down_error_steps"]) for c in cells)),
        "cell_output_high_error_steps_max": float(max(abs(c["output_high_error_steps"]) for c in cells)),
        "leakage": leaks,
        # thresholds sit 0.2-0.4 of a step below nominal (ties go the model's way), so a reset
        # needs the input more than that below beta1: quote the switching time at half a step
        "cell_switch_ms_at_0p5_step_margin": next((s for s in switching if s["margin_steps"] == 0.5), None),
        "trims": {"pmos_diode": devices.pmos_diode_trim, "cell_line": devices.cell_line_trim,
                  "threshold_source_width_um": {str(f): devices.threshold_finger_width(f)
                                                for f in (2, 22, 37, 50, 62, 90, 120)},
                  "delta_line": devices.delta_line_trim},
        "seconds": time.perf_counter() - start,
    }
    write_json(out / "summary.json", summary)
    progress(json.dumps({k: v for k, v in summary.items() if k != "leakage"}, indent=1))


if __name__ == "__main__":
    main()
