"""``python -m sim.report OUT`` — the flow's report: ``OUT/report.md`` with PNG figures.

Reads what the stages wrote in OUT (spec.json, drc.json, lvs.json, pex.json, presim.json,
postlayout.json, postlayout_traces.npz, layout.png, timings.json); a stage that has not run
is reported as missing rather than failing the report. Figures: power per utterance
(box plot, split into cells, feedforward and bias, beside the published 83 nW reference) and
per-frame traces (circuit states and class currents beside the software model's).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bmru.cli import CommandParser, atomic_write, fail, progress

PUBLISHED_POWER_NW = 83.0  # mean total power of the published 180 nm D = 4 keyword spotter
# (key of power_nW, row label, published figure)
POWER_ROWS = (("total_mean", "chip total (three supplies)", "83"), ("total_min", "chip total, lowest", "61"),
              ("total_max", "chip total, highest", "118"), ("cells_mean", "BMRU cells", "44"),
              ("feedforward_mean", "feedforward mirrors", "40"), ("bias_mean", "bias references", "–"),
              ("inputs_mean", "input currents, as if drawn from the supply", "not included"),
              ("control_mean", "rst and en/enb drivers", "none (no enables)"))
PUBLISHED_POWER_NOTE = (
    "The published 83 nW (50 utterances, schematic level) is the chip's own consumption: BMRU cells "
    "(~44 nW) plus feedforward mirrors (~40 nW). It does not count the input currents, which come from "
    "outside the chip, and the published cells run without state-update enables, so there is no control "
    "driver to count. Compare it with the chip total here; the input and control rows show what a like-for-"
    "like system figure would add.")
POWER_PARTS = ("total", "cells", "feedforward", "bias", "control")


def _load(out: Path, name: str) -> dict | None:
    path = out / name
    return json.loads(path.read_text()) if path.is_file() else None


def _savefig(figure, path: Path) -> None:
    def write(tmp: str) -> None:
        figure.savefig(tmp, dpi=110, format="png", metadata={"Software": None})

    atomic_write(path, write)


def power_figure(runs: dict[str, dict], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {k: v for k, v in runs.items() if v and v.get("per_utterance")}
    if not runs:
        return False
    figure, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4), squeeze=False)
    for axis, (label, data) in zip(axes[0], runs.items()):
        values = [[row["power_nW"].get(part, np.nan) for row in data["per_utterance"]] for part in POWER_PARTS]
        axis.boxplot(values, tick_labels=POWER_PARTS)
        axis.axhline(PUBLISHED_POWER_NW, color="tab:red", linestyle="--", label="published total, 83 nW")
        axis.set_ylabel("power per utterance (nW)")
        axis.set_title(f"{label}: {len(data['per_utterance'])} utterances")
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    _savefig(figure, path)
    plt.close(figure)
    return True


def traces_figure(traces: Path, path: Path) -> bool:
    if not traces.is_file():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with np.load(traces) as data:
        hw_states, sw_states = data["hw_states"], data["sw_states"]
        hw_z, sw_z = data["hw_class_currents"], data["sw_class_currents"]
        indices, period = data["indices"], float(data["frame_period_s"])
    count = len(indices)
    if count == 0:
        return False
    figure, axes = plt.subplots(2, count, figsize=(4.5 * count, 6), squeeze=False, sharex=True)
    for column in range(count):
        frames = np.arange(hw_states.shape[2]) * period
        top = axes[0][column]
        layers, cells = hw_states.shape[1], hw_states.shape[3]
        for layer in range(layers):
            for cell in range(cells):
                offset = 1.5 * (layer * cells + cell)
                top.step(frames, sw_states[column, layer, :, cell] + offset, where="post", color="0.6", lw=2.5)
                top.step(frames, hw_states[column, layer, :, cell] + offset, where="post", color="tab:blue", lw=1)
        top.set_title(f"utterance {indices[column]}: cell states")
        top.set_yticks([1.5 * k for k in range(layers * cells)],
                       [f"L{k // cells} c{k % cells}" for k in range(layers * cells)], fontsize=7)
        bottom = axes[1][column]
        for klass in range(hw_z.shape[2]):
            bottom.plot(frames, sw_z[column, :, klass], color=f"C{klass}", lw=2.5, alpha=0.35)
            bottom.plot(frames, hw_z[column, :, klass], color=f"C{klass}", lw=1, label=f"class {klass}")
        bottom.set_xlabel("time (s)")
        bottom.set_ylabel("class current (units)")
        bottom.legend(fontsize=7)
    figure.suptitle("circuit (thin) beside software model (thick, grey for states)")
    figure.tight_layout()
    _savefig(figure, path)
    plt.close(figure)
    return True


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {count}" for key, count in value.items()) or "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def report_text(out: Path, figures: dict[str, bool]) -> str:
    spec, drc, lvs, pex = (_load(out, n) for n in ("spec.json", "drc.json", "lvs.json", "pex.json"))
    pre, post, timings = (_load(out, n) for n in ("presim.json", "postlayout.json", "timings.json"))
    lines = [f"# BMRU array report: `{out.name}`", ""]
    if spec:
        lines += [f"{spec.get('n_in')} inputs, {spec.get('layers')} BMRU layers of {spec.get('cells_per_layer')} "
                  f"cells, width {spec.get('width')}, {spec.get('classes')} classes.", ""]
    lines += ["## Layout", ""]
    if (out / "layout.png").is_file():
        lines += ["![layout](layout.png)", ""]
    area = (spec or {}).get("area_um2")
    if area:
        lines += ["| area | µm² |", "|---|---|",
                  f"| total ({area['width_um']:.1f} × {area['height_um']:.1f} µm) | {area['total']:.0f} |",
                  f"| transistor cells | {area['devices']:.0f} |",
                  f"| per BMRU cell | {area['per_bmru_cell']:.1f} |",
                  f"| per weight (mean) | {area['per_weight']:.1f} |", ""]
    lines += ["## Verification", "", "| check | result | details |", "|---|---|---|"]
    lines.append(f"| DRC | {'clean' if drc and drc['violations'] == 0 else ('–' if not drc else 'VIOLATIONS')} | "
                 + (f"{drc['violations']} violations, {drc['rules_checked']} rules, {drc['seconds']:.1f} s |"
                    if drc else "not run |"))
    lines.append(f"| LVS | {'match' if lvs and lvs['match'] else ('–' if not lvs else 'MISMATCH')} | "
                 + (f"devices {lvs['devices_layout']}/{lvs['devices_schematic']}, nets {lvs['nets_layout']}/"
                    f"{lvs['nets_schematic']}, {lvs['seconds']:.1f} s |" if lvs else "not run |"))
    lines.append("| PEX | " + (f"{pex['capacitors']} capacitors, {pex['resistors']} resistors | "
                                f"{pex['total_cap_fF']:.0f} fF in all, {pex['seconds']:.0f} s |"
                                if pex else "– | not run |"))
    lines += ["", "## Circuit versus software model", "",
              "| | schematic (pre-layout) | extracted (post-layout) |", "|---|---|---|"]
    for key, label in (("netlist", "netlist"), ("corner", "corner"), ("temp_C", "temperature (°C)"),
                       ("vdd_V", "supply (V)"), ("utterances", "utterances"),
                       ("labels_covered", "utterances per class"), ("decision_agreement", "decision agreement"),
                       ("frame_state_agreement", "frame-level state agreement"),
                       ("sw_accuracy", "software accuracy"), ("hw_accuracy", "circuit accuracy"),
                       ("sim_seconds_per_utterance", "ngspice s / utterance"),
                       ("software_seconds_per_utterance", "software s / utterance")):
        digits = 4 if "agreement" in key else (2 if "seconds" in key and "software" not in key else 3)
        values = [_fmt((run or {}).get(key), digits) if key != "software_seconds_per_utterance"
                  else ("–" if not run else f"{run[key]:.2e}") for run in (pre, post)]
        lines.append(f"| {label} | {values[0]} | {values[1]} |")
    lines += ["", "## Power", "", "| nW | schematic | extracted | published (180 nm) |", "|---|---|---|---|"]
    for key, label, published in POWER_ROWS:
        values = [_fmt((run or {}).get("power_nW", {}).get(key), 2 if key == "control_mean" else 1)
                  for run in (pre, post)]
        lines.append(f"| {label} | {values[0]} | {values[1]} | {published} |")
    lines += ["", PUBLISHED_POWER_NOTE]
    if pre and post:
        change = 100 * (post["power_nW"]["total_mean"] / pre["power_nW"]["total_mean"] - 1)
        lines += ["", f"Post-layout mean power differs from schematic level by {change:+.1f} %."]
    if figures.get("power"):
        lines += ["", "![power per utterance](power.png)"]
    if figures.get("traces"):
        lines += ["", "## Traces", "", "Per-frame cell states and class currents of the first utterances "
                  "(post-layout circuit beside the software model):", "", "![traces](traces.png)"]
    rows = {r["index"]: r for r in (pre or {}).get("per_utterance", [])}
    post_rows = {r["index"]: r for r in (post or {}).get("per_utterance", [])}
    if rows or post_rows:
        lines += ["", "## Decisions", "", "| utterance | label | software | schematic | extracted | total nW (extracted) |",
                  "|---|---|---|---|---|---|"]
        for index in sorted(set(rows) | set(post_rows)):
            a, b = rows.get(index, {}), post_rows.get(index, {})
            first = a or b
            lines.append(f"| {index} | {_fmt(first.get('label'))} | {first.get('sw_decision')} | "
                         f"{_fmt(a.get('hw_decision'))} | {_fmt(b.get('hw_decision'))} | "
                         f"{_fmt(b.get('power_nW', {}).get('total'), 1)} |")
    lines += robustness_lines(out)
    if timings:
        lines += ["", "## Runtimes", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timings.items()]
    return "\n".join(lines) + "\n"


def robustness_lines(out: Path) -> list[str]:
    """The PVT grid (corners.json) and the mismatch Monte Carlo (mc.json), when they were run."""
    corners, mc = _load(out, "corners.json"), _load(out, "mc.json")
    if not corners and not mc:
        return []
    lines = ["", "## Robustness"]
    if corners:
        worst = corners["worst"]
        lines += ["", f"PVT grid ({corners.get('covers', '')}): decisions agree with the nominal software model "
                      f"on {corners['decision_agreement']:.1%} of (point, utterance) pairs; worst point "
                      f"{worst['corner']} {worst['temp_C']:g} °C {worst['vdd_V']:g} V at "
                      f"{worst['decision_agreement']:.0%}.", "",
                  "| corner | °C | V | decisions | frame states | chip power (nW) |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['corner']} | {r['temp_C']:g} | {r['vdd_V']:g} | {r['decision_agreement']:.2f} | "
                  f"{r['frame_state_agreement']:.4f} | {r['power_nW']['total_mean']:.1f} |" for r in corners["corners"]]
        if (out / "corners.png").is_file():
            lines += ["", "![PVT grid](corners.png)"]
    if mc:
        accuracy = mc.get("accuracy") or {}
        kept = [row["kept_fraction"] for row in mc.get("per_utterance", [])]
        lines += ["", f"Mismatch Monte Carlo ({mc['netlist']}, {mc['samples']} samples x {mc['utterances']} "
                      f"utterances, seed {mc['seed']}): decisions agree with the nominal software model on "
                      f"{mc['decision_agreement']:.1%} of pairs, frame states on {mc['frame_state_agreement']:.1%}; "
                      f"accuracy nominal {_fmt(accuracy.get('nominal'))}, mean {_fmt(accuracy.get('mean'))}, "
                      f"p5 {_fmt(accuracy.get('p5'))}, min {_fmt(accuracy.get('min'))}."]
        if kept:
            lines.append(f"Utterances whose nominal decision survives in at least 90 % of samples: "
                         f"{sum(k >= 0.9 for k in kept)} of {len(kept)}.")
        if mc.get("software_match"):
            lines.append(f"Software prediction from the same draws equals the circuit on "
                         f"{mc['software_match']['decision']:.1%} of decisions and "
                         f"{mc['software_match']['frame_state']:.1%} of cell-frames.")
        for name, title in (("mc_histograms.png", "accuracy and power over chips"),
                            ("mc_class_currents.png", "class currents of all samples"),
                            ("mc_votes.png", "votes per utterance")):
            if (out / name).is_file():
                lines += ["", f"![{title}]({name})"]
    return lines


def summary_text(out: Path) -> str:
    """A few lines with the figures a user looks at first."""
    drc, lvs, pex = (_load(out, n) for n in ("drc.json", "lvs.json", "pex.json"))
    pre, post, timings = (_load(out, n) for n in ("presim.json", "postlayout.json", "timings.json"))
    lines = ["", "==== summary ====",
             f"DRC: {drc['violations']} violations" if drc else "DRC: not run",
             f"LVS: {'match' if lvs['match'] else 'MISMATCH'}" if lvs else "LVS: not run",
             f"PEX: {pex['capacitors']} capacitors, {pex['total_cap_fF']:.0f} fF" if pex else "PEX: not run"]
    for label, run_ in (("pre-layout ", pre), ("post-layout", post)):
        if run_:
            power = run_["power_nW"]
            lines.append(f"{label}: {run_['utterances']} utterances, decisions agree {run_['decision_agreement']:.1%}, "
                         f"frame states agree {run_['frame_state_agreement']:.2%}, accuracy sw {_fmt(run_['sw_accuracy'])} "
                         f"hw {_fmt(run_['hw_accuracy'])}, power {power['total_mean']:.1f} nW "
                         f"(cells {power['cells_mean']:.1f}, feedforward {power['feedforward_mean']:.1f}, "
                         f"bias {power['bias_mean']:.1f}; besides the chip: inputs "
                         f"{_fmt(power.get('inputs_mean'), 1)}, control {_fmt(power.get('control_mean'), 2)}); "
                         f"published chip total: 83 nW")
    if timings and "whole demo" in timings:
        lines.append(f"demo time: {timings['whole demo']:.0f} s")
    lines.append(f"report: {out / 'report.md'}")
    return "\n".join(lines)


def write_report(out: str | Path) -> Path:
    out = Path(out)
    runs = {"schematic": _load(out, "presim.json"), "extracted": _load(out, "postlayout.json")}
    figures = {"power": power_figure(runs, out / "power.png"),
               "traces": traces_figure(out / "postlayout_traces.npz", out / "traces.png")}
    path = out / "report.md"
    text = report_text(out, figures)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = CommandParser(prog="python -m sim.report",
                                     description="Write OUT/report.md (with power.png and traces.png) "
                                                 "from the results the flow left in OUT.")
    parser.add_argument("out", help="the flow's output folder (e.g. build/kws_yes_d4)")
    parser.add_argument("--summary", action="store_true", help="also print the key figures")
    args = parser.parse_args(argv)
    if not Path(args.out).is_dir():
        fail(f"{args.out}: no such output folder")
    path = write_report(args.out)
    progress(f"[report] wrote {path}")
    if args.summary:
        print(summary_text(Path(args.out)))


if __name__ == "__main__":
    main()
