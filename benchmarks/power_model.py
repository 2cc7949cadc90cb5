"""The software power model (``bmru.power``) against SPICE: per utterance and per supply.

    .venv/bin/python benchmarks/power_model.py [--weights W] [--reference FILE ...] [--log NETLIST=FILE ...] [-o OUT]

Reads presim/postlayout JSON results (``power_nW`` per utterance: total, cells, feedforward,
bias), runs the power model on the same utterances and writes, per reference, the relative error
of each supply group per utterance and its summary (mean, max, share within 5 %), once with the
uncalibrated model (exact mirror copies) and once with ``bmru.power.DEFAULT_CALIBRATION``. It
also refits the calibration's gains on the fit set (the first 25 utterances of the first
reference) so a reader can check that the shipped constants come from there, and times the model
against the reference's seconds per simulated utterance.

Index order: results written before the balanced test-set order (#15) carry no
``labels_covered``; their utterance i is the i-th "yes" clip, which the balanced file holds at
2 i + 1 (``bmru.data.interleave_classes``). The script checks the label of every mapped
utterance. ``--log schematic=FILE`` (or ``extracted=FILE``) reads the per-utterance totals (0.1 nW
resolution) that a running or stopped ``sim.presim`` / ``sim.postlayout`` prints, for a run
whose JSON is not written. Parts of one run (a stopped run and its ``--skip`` completion) join
with ``+``: ``--log extracted=STOPPED.log+REST.json`` (a JSON part keeps its supply groups; the
joined reference compares totals where a part has only those; an index in two parts is refused).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmru.cli import write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.power import DEFAULT_CALIBRATION, Calibration, Power, power, supply_currents  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from generators.circuit.mapping import add_mapping_arguments, config_from, map_network  # noqa: E402
from generators.circuit.schematic import schematic_text  # noqa: E402
from pdk_sky130_180.devices import SUPPLY_V  # noqa: E402

GROUPS = ("total", "cells", "feedforward", "bias")
FIT_COUNT = 25  # the first 25 utterances of the first reference fit the gains; the rest are held out
STATE_AGREEMENT_FLOOR = 0.99  # below this the circuit did not compute the model's states: not a power error
# The fit set first: the old reference runs on the first 50 "yes" utterances (before the test set
# was interleaved), then the balanced references (25 "other" + 25 "yes", never fitted on).
DEFAULT_REFERENCES = ("characterisation/presim_reference_tt_yes_only.json",
                      "characterisation/postlayout_reference_tt_yes_only.json",
                      "characterisation/presim_reference_tt.json", "characterisation/postlayout_reference_tt.json",
                      # the same 50 balanced utterances with #16's slower input and enable edges
                      "characterisation/presim_reference_tt_ramps.json",
                      "characterisation/postlayout_reference_tt_ramps.json")


def balanced_index(reference: dict, index: int) -> int:
    """Index into the balanced test set of a reference's utterance ``index``."""
    return index if "labels_covered" in reference else 2 * index + 1


def check_circuit(data: dict, path: Path, spec) -> None:
    """Refuse a reference simulated on another circuit than ``spec``'s: by its recorded sizing
    (results since the record began) and internal scale; a schematic run of an older result by its
    schematic's digest, unless this run's sizing is the shipped one (older shipped references come
    from earlier versions of the generator)."""
    sizing = spec.sizing.record().get("sizing", {})
    if "sizing" in data or data.get("netlist") != "schematic":
        if data.get("sizing", {}) != sizing:
            raise SystemExit(f"{path}: not a run of this circuit (sizing {data.get('sizing') or 'shipped'}, this "
                             f"run's {sizing or 'shipped'}); give the sizing options it was simulated with")
    elif sizing and data.get("netlist_sha256") != hashlib.sha256(schematic_text(spec).encode()).hexdigest():
        raise SystemExit(f"{path}: not a run of this circuit (schematic digest: another model, sizing or "
                         f"internal scale than this run's)")
    scale = data.get("internal_scale", spec.internal_scale)
    if scale != spec.internal_scale:
        raise SystemExit(f"{path}: not a run of this circuit (internal scale {scale}, this run's "
                         f"{spec.internal_scale}); give the --internal-scale it was simulated with")


def load_reference(path: Path, labels: np.ndarray | None, spec=None) -> dict:
    """A presim/postlayout JSON result; with ``spec``, refuses a run of another circuit (:func:`check_circuit`)."""
    data = json.loads(path.read_text())
    if spec is not None:
        check_circuit(data, path, spec)
    rows = []
    for row in data["per_utterance"]:
        index = balanced_index(data, int(row["index"]))
        if labels is not None and "label" in row and int(labels[index]) != int(row["label"]):
            raise SystemExit(f"{path}: utterance {row['index']} maps to {index}, whose label differs")
        rows.append({"index": index, "label": row.get("label"), "power_nW": row["power_nW"],
                     "frame_state_agreement": row.get("frame_state_agreement", 1.0)})
    return {"path": str(path), "netlist": data.get("netlist"), "rows": rows,
            "sim_seconds_per_utterance": data.get("sim_seconds_per_utterance"),
            "control_mean": data.get("power_nW", {}).get("control_mean")}


def load_log(path: Path, labels: np.ndarray | None, netlist: str | None = None) -> dict:
    """Totals from a presim/postlayout run's progress lines ("[k/N] utterance i: ..., 53.8 nW");
    ``netlist`` None: read off the log's first word (presim: schematic, postlayout: extracted)."""
    text = path.read_text()
    if netlist is None:
        netlist = "schematic" if text.startswith("presim") else "extracted"
    rows, seconds = [], []
    for match in re.finditer(r"utterance (\d+): ([\d.]+) s, decision \d+, ([\d.]+) nW", text):
        index = int(match.group(1))
        rows.append({"index": index, "label": None if labels is None else int(labels[index]),
                     "power_nW": {"total": float(match.group(3))}, "frame_state_agreement": None})
        seconds.append(float(match.group(2)))
    rows.sort(key=lambda row: row["index"])  # parallel workers finish out of order
    return {"path": str(path), "netlist": f"{netlist} (progress log, 0.1 nW resolution)", "rows": rows,
            "sim_seconds_per_utterance": float(np.mean(seconds)) if seconds else None, "control_mean": None}


def load_part(path: Path, labels: np.ndarray | None, netlist: str | None = None, spec=None) -> dict:
    """A presim/postlayout JSON result or a progress log (anything but ``.json``)."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such reference file")
    return load_reference(path, labels, spec) if path.suffix == ".json" else load_log(path, labels, netlist)


def load_joined(item: str, labels: np.ndarray | None, netlist: str | None = None, spec=None) -> dict:
    """The parts of ``item`` (paths joined by ``+``) as one reference, rows in utterance order."""
    parts = [load_part(Path(path), labels, netlist, spec) for path in item.split("+")]
    if len(parts) == 1:
        return parts[0]
    rows = sorted((row for part in parts for row in part["rows"]), key=lambda row: row["index"])
    twice = sorted({a["index"] for a, b in zip(rows, rows[1:]) if a["index"] == b["index"]})
    if twice:
        raise SystemExit(f"{item}: utterances {twice} are in more than one part")
    seconds = [(part["sim_seconds_per_utterance"], len(part["rows"])) for part in parts
               if part["sim_seconds_per_utterance"]]
    return {"path": item, "netlist": " + ".join(part["netlist"] or str(netlist) for part in parts), "rows": rows,
            "sim_seconds_per_utterance": (sum(s * n for s, n in seconds) / sum(n for _, n in seconds)
                                          if seconds else None),
            "control_mean": None}


def model_power(result: Power) -> dict[str, np.ndarray]:
    return {"total": result.total, "cells": result.cells, "feedforward": result.feedforward, "bias": result.bias}


def errors(reference: dict, model: dict[str, np.ndarray], subset: list[int]) -> dict:
    """Relative error (model / SPICE - 1) per group over the reference rows ``subset``."""
    out = {}
    for group in GROUPS:
        pairs = [(model[group][reference["rows"][k]["index"]], reference["rows"][k]["power_nW"][group])
                 for k in subset if group in reference["rows"][k]["power_nW"]]
        if not pairs:
            continue
        predicted, measured = np.array(pairs).T
        relative = predicted / measured - 1
        out[group] = {"utterances": len(pairs), "spice_mean_nW": float(measured.mean()),
                      "model_mean_nW": float(predicted.mean()), "mean_rel_error": float(relative.mean()),
                      "mean_abs_rel_error": float(np.abs(relative).mean()),
                      "max_abs_rel_error": float(np.abs(relative).max()),
                      "within_5pct": float(np.mean(np.abs(relative) <= 0.05))}
    return out


def fit_gains(reference: dict, uncalibrated: dict[str, np.ndarray], subset: list[int]) -> dict:
    """Least-squares gain through the origin per supply group (ff, cells) on ``subset``."""
    gains = {}
    for group, key in (("feedforward", "ff_gain"), ("cells", "cells_gain")):
        if not subset or any(group not in reference["rows"][k]["power_nW"] for k in subset):
            continue  # a progress log has totals only
        measured = np.array([reference["rows"][k]["power_nW"][group] for k in subset])
        predicted = np.array([uncalibrated[group][reference["rows"][k]["index"]] for k in subset])
        gains[key] = float(measured @ predicted / (predicted @ predicted))
    return gains


def fit_keeper(keeper: dict, twin: dict, events: np.ndarray, duration_s: float, cells: int,
               frame_period_s: float, subset: list[int]) -> dict:
    """The keeper's charges from the same design simulated with (``keeper``) and without (``twin``)
    keepers: the extra cell-supply current per utterance against its state changes (pC per change,
    least squares through the origin on ``subset``), and the extra enable-driver charge (fC per
    cell and frame, from the runs' mean control power)."""
    twin_rows = {row["index"]: row["power_nW"] for row in twin["rows"]}
    rows = [keeper["rows"][k] for k in subset if keeper["rows"][k]["index"] in twin_rows]
    if not rows:
        raise SystemExit(f"{twin['path']}: no utterance in common with {keeper['path']}")
    extra_nA = np.array([row["power_nW"]["cells"] - twin_rows[row["index"]]["cells"] for row in rows]) / SUPPLY_V
    per_pC = np.array([events[row["index"]] for row in rows]) / duration_s * 1e-3  # nA per pC of each change
    fit = {"keeper_switch_pC": float(extra_nA @ per_pC / (per_pC @ per_pC)),
           "keeper_fit_utterances": len(rows),
           "keeper_fit_correlation": float(np.corrcoef(extra_nA, per_pC)[0, 1])}
    if keeper["control_mean"] is not None and twin["control_mean"] is not None:
        extra_control_nA = (keeper["control_mean"] - twin["control_mean"]) / SUPPLY_V
        fit["keeper_control_fC"] = float(extra_control_nA * frame_period_s / cells * 1e6)
    return fit


def per_utterance(reference: dict, calibrated: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for row in reference["rows"]:
        entry = {"index": row["index"], "label": row["label"], "frame_state_agreement": row["frame_state_agreement"]}
        for group, measured in row["power_nW"].items():
            if group in GROUPS:
                predicted = float(calibrated[group][row["index"]])
                entry[group] = {"spice_nW": measured, "model_nW": round(predicted, 4),
                                "rel_error": round(predicted / measured - 1, 5)}
        rows.append(entry)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="examples/kws_yes_d4.npz")
    parser.add_argument("--inputs", default="examples/kws_yes_test.npz")
    parser.add_argument("--reference", nargs="*", default=None,
                        help="presim/postlayout JSON files (default: those of %s that exist)" % (DEFAULT_REFERENCES,))
    parser.add_argument("--log", nargs="*", default=[], metavar="NETLIST=FILE",
                        help="progress logs of presim (schematic=FILE) or postlayout (extracted=FILE) runs "
                             "whose JSON is not written")
    parser.add_argument("--keeper-twin", default=None, metavar="FILE",
                        help="with --state-keeper: the same design's presim JSON without keepers; fits the "
                             "keeper's charges on the first reference's fit rows and checks them on the rest")
    parser.add_argument("-o", "--out", default="benchmarks/results/power_model.json")
    add_mapping_arguments(parser)
    args = parser.parse_args(argv)
    if args.keeper_twin and not args.state_keeper:
        raise SystemExit("--keeper-twin: needs --state-keeper (the references must be runs with keepers)")

    net = load_weights(args.weights)
    inputs = load_inputs(args.inputs, n_in=net.n_in, classes=net.classes)
    spec = map_network(net, config_from(args))
    paths = [Path(p) for p in (args.reference if args.reference is not None else DEFAULT_REFERENCES)]
    references = [load_joined(str(p), inputs.y, spec=spec) for p in paths
                  if args.reference is not None or p.is_file()]
    for item in args.log:
        netlist, _, path = item.rpartition("=")
        references.append(load_joined(path, inputs.y, netlist or None, spec))
    if not references:
        raise SystemExit("no reference results found")

    start = time.perf_counter()
    currents = supply_currents(spec, inputs.x)
    calibrated_power = power(spec, inputs.x, currents=currents)
    model_seconds = (time.perf_counter() - start) / len(inputs.x)
    uncalibrated = model_power(power(spec, inputs.x, Calibration(), currents=currents))
    calibrated = model_power(calibrated_power)

    first = references[0]
    behaves = [k for k, row in enumerate(first["rows"]) if (row["frame_state_agreement"] or 1.0) >= STATE_AGREEMENT_FLOOR]
    fit_rows = [k for k in behaves if k < FIT_COUNT]
    if args.keeper_twin:  # the gains stay those of the designs without keepers; only the keeper's terms are refitted
        twin_spec = map_network(net, replace(config_from(args), sizing=replace(spec.sizing, state_keeper=False)))
        twin = load_joined(args.keeper_twin, inputs.y, spec=twin_spec)
        duration_s = inputs.x.shape[1] * spec.frame_period_s
        fit = {"refitted_keeper": fit_keeper(first, twin, currents.switch_events.sum(axis=1), duration_s,
                                             len(spec.cells), spec.frame_period_s, fit_rows),
               "keeper_twin": twin["path"]}
        refit = {k: v for k, v in fit["refitted_keeper"].items() if k in asdict(DEFAULT_CALIBRATION)}
    else:
        refit = fit_gains(first, uncalibrated, fit_rows)
        fit = {"refitted_gains": refit}
    refitted = model_power(power(spec, inputs.x, replace(DEFAULT_CALIBRATION, **refit), currents=currents))

    result = {"weights": args.weights, "inputs": args.inputs, **spec.sizing.record(), "calibration": asdict(DEFAULT_CALIBRATION),
              "fit": {"reference": first["path"], "rows": fit_rows, **fit,
                      "state_agreement_floor": STATE_AGREEMENT_FLOOR},
              "model_seconds_per_utterance": model_seconds, "references": []}
    for reference in references:
        count = len(reference["rows"])
        subsets = {"all": list(range(count))}
        if reference is first:
            subsets["fit"] = fit_rows
            subsets["held_out"] = [k for k in range(count) if k >= FIT_COUNT]
        else:
            subsets["held_out"] = list(range(count))
        subsets["state_agreement_below_floor"] = [
            k for k, row in enumerate(reference["rows"])
            if row["frame_state_agreement"] is not None and row["frame_state_agreement"] < STATE_AGREEMENT_FLOOR]
        for label in sorted({row["label"] for row in reference["rows"] if row["label"] is not None}):
            subsets[f"label_{label}"] = [k for k, row in enumerate(reference["rows"]) if row["label"] == label]
        sim_seconds = reference["sim_seconds_per_utterance"]
        entry = {"path": reference["path"], "netlist": reference["netlist"], "utterances": count,
                 "sim_seconds_per_utterance": sim_seconds,
                 "speed_ratio": None if not sim_seconds else sim_seconds / model_seconds,
                 "spice_control_mean_nW": reference["control_mean"],
                 "model_control_mean_nW": float(calibrated_power.control.mean()),
                 "calibrated": {name: errors(reference, calibrated, rows) for name, rows in subsets.items() if rows},
                 "uncalibrated": {name: errors(reference, uncalibrated, rows) for name, rows in subsets.items() if rows},
                 "refitted": {name: errors(reference, refitted, rows) for name, rows in subsets.items() if rows},
                 "per_utterance": per_utterance(reference, calibrated)}
        result["references"].append(entry)
        total = entry["calibrated"]["all"]["total"]
        print(f"{reference['path']}: {count} utterances, total within 5 %: {total['within_5pct']:.2f}, "
              f"mean |error| {total['mean_abs_rel_error'] * 100:.2f} %, max {total['max_abs_rel_error'] * 100:.2f} %"
              + ("" if entry["speed_ratio"] is None else f", {entry['speed_ratio']:.3g}x faster than SPICE"))
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
