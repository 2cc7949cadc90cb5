"""Circuit measurements against the quantised software model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bmru.cli import fail

from bmru.model import RunOutput
from sim.measure import Measurement


def utterance_row(index: int, sw: RunOutput, hw: Measurement, label: int | None) -> dict:
    sw_states = np.stack([s[index] for s in sw.states])  # (L, T, N)
    agree = float(np.mean(sw_states == hw.states)) if hw.states.shape == sw_states.shape else 0.0
    return {
        "index": index,
        "label": label,
        "sw_decision": int(sw.decision[index]),
        "hw_decision": int(hw.decision),
        "frame_state_agreement": agree,
        "frame_decision_agreement": float(np.mean(sw.frame_decisions[index] == hw.frame_decisions)),
        "power_nW": {k: round(v, 4) for k, v in sorted(hw.power_nW.items())},
        "sim_seconds": round(hw.sim_seconds, 3),
        "bypass_off": hw.bypass_off,
        "smaller_step": hw.smaller_step,
    }


def _mean_or_none(values: np.ndarray) -> float | None:
    return None if np.all(np.isnan(values)) else float(np.nanmean(values))


def labels_covered(labels: np.ndarray | None, count: int) -> dict[str, int]:
    """Utterances per class among the first ``count`` (JSON keys are strings); empty without labels."""
    if labels is None:
        return {}
    found, counts = np.unique(np.asarray(labels)[:count], return_counts=True)
    return {str(int(label)): int(number) for label, number in zip(found, counts)}


def compare(sw: RunOutput, hw: list[Measurement], labels: np.ndarray | None) -> dict:
    """Summary keys of CONTRACT.md section 4 (without netlist/timing) plus a per-utterance table."""
    n = len(hw)
    rows = [utterance_row(i, sw, hw[i], None if labels is None else int(labels[i])) for i in range(n)]
    sw_dec = np.array([r["sw_decision"] for r in rows])
    hw_dec = np.array([r["hw_decision"] for r in rows])
    state_matches = sum(r["frame_state_agreement"] * hw[i].states.size for i, r in enumerate(rows))
    state_total = sum(m.states.size for m in hw)
    power = {key: np.array([m.power_nW.get(key, np.nan) for m in hw]) for key in
             ("total", "cells", "feedforward", "bias", "inputs", "control")}
    summary = {
        "utterances": n,
        "decision_agreement": float(np.mean(sw_dec == hw_dec)),
        "frame_state_agreement": float(state_matches / state_total) if state_total else 0.0,
        "frame_decision_agreement": float(np.mean([r["frame_decision_agreement"] for r in rows])),
        "sw_accuracy": None if labels is None else float(np.mean(sw_dec == labels[:n])),
        "hw_accuracy": None if labels is None else float(np.mean(hw_dec == labels[:n])),
        "power_nW": {
            "total_mean": float(np.mean(power["total"])),
            "total_min": float(np.min(power["total"])),
            "total_max": float(np.max(power["total"])),
            "cells_mean": float(np.nanmean(power["cells"])),
            "feedforward_mean": float(np.nanmean(power["feedforward"])),
            "bias_mean": float(np.nanmean(power["bias"])),
            "inputs_mean": _mean_or_none(power["inputs"]),
            "control_mean": _mean_or_none(power["control"]),
        },
        "labels_covered": labels_covered(labels, n),
        "per_utterance": rows,
    }
    return summary


def read_previous(path: str, what: str, needs: str, expected: dict) -> dict:
    """The result file that a command's ``--extend`` grows (``what``: its name, e.g. corners.json),
    after checking that it has the key ``needs`` and the same ``expected`` job settings; exits with
    a one-line reason naming the file otherwise."""
    try:
        previous = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        fail(f"--extend {path}: cannot read a {what} ({error})")
    if not isinstance(previous, dict) or needs not in previous:
        fail(f"--extend {path}: not a {what} (no '{needs}')")
    for key, value in expected.items():
        if previous.get(key) != value:
            fail(f"--extend {path}: {key} is {previous.get(key)!r}, this run has {value!r}")
    return previous
