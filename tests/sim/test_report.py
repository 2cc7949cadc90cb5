"""The report shows what the flow left in OUT, including the robustness results."""

from __future__ import annotations

import json


def test_report_has_a_robustness_section_from_corners_and_mc(tmp_path):
    from sim.report import write_report

    row = {"corner": "ss", "temp_C": -40.0, "vdd_V": 1.62, "decision_agreement": 0.5,
           "frame_state_agreement": 0.9, "power_nW": {"total_mean": 40.0}}
    (tmp_path / "corners.json").write_text(json.dumps({"covers": "schematic", "decision_agreement": 0.9,
                                                       "worst": row, "corners": [row]}))
    (tmp_path / "mc.json").write_text(json.dumps({
        "netlist": "software", "samples": 10, "utterances": 2, "seed": 1, "decision_agreement": 0.6,
        "frame_state_agreement": 0.7, "accuracy": {"nominal": 0.9, "mean": 0.6, "p5": 0.5, "min": 0.4},
        "per_utterance": [{"kept_fraction": 0.95}, {"kept_fraction": 0.5}]}))
    text = write_report(tmp_path).read_text()
    assert "## Robustness" in text
    assert "| ss | -40 | 1.62 | 0.50 | 0.9000 | 40.0 |" in text
    assert "worst point ss -40 °C 1.62 V at 50%" in text
    assert "accuracy nominal 0.900, mean 0.600, p5 0.500, min 0.400" in text
    assert "at least 90 % of samples: 1 of 2" in text


def test_report_without_robustness_runs_has_no_section(tmp_path):
    from sim.report import write_report

    assert "Robustness" not in write_report(tmp_path).read_text()
