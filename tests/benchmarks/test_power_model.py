"""benchmarks/power_model.py: a run in parts (a stopped run's progress log and the JSON of its
--skip completion) joins into one reference, in utterance order, each utterance once."""
import json

import numpy as np
import pytest

from benchmarks import power_model

LOG = """presim: 2 utterances of 101 frames on the schematic of w.npz, 1 local worker(s), corner tt, 27 °C, 1.8 V
[1/3] utterance 1: 80.0 s, decision 1, 60.5 nW
[2/3] utterance 0: 90.0 s, decision 0, 50.5 nW
"""


def write_parts(tmp_path, rest_index=2):
    log = tmp_path / "stopped.log"
    log.write_text(LOG)
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps({"netlist": "schematic", "labels_covered": {"0": 1}, "sim_seconds_per_utterance": 70.0,
                                "per_utterance": [{"index": rest_index, "label": 0, "frame_state_agreement": 1.0,
                                                   "power_nW": {"total": 55.0, "cells": 20.0}}]}))
    return log, rest


def test_parts_join_in_utterance_order(tmp_path):
    log, rest = write_parts(tmp_path)
    labels = np.array([0, 1, 0])
    joined = power_model.load_joined(f"{log}+{rest}", labels, "schematic")
    assert [row["index"] for row in joined["rows"]] == [0, 1, 2]
    assert [row["power_nW"]["total"] for row in joined["rows"]] == [50.5, 60.5, 55.0]
    assert joined["rows"][2]["power_nW"]["cells"] == 20.0  # the JSON part keeps its supply groups
    assert joined["sim_seconds_per_utterance"] == pytest.approx((85.0 * 2 + 70.0) / 3)


def test_an_utterance_in_two_parts_is_refused(tmp_path):
    log, rest = write_parts(tmp_path, rest_index=1)
    with pytest.raises(SystemExit, match=r"utterances \[1\] are in more than one part"):
        power_model.load_joined(f"{log}+{rest}", np.array([0, 0, 0]), "schematic")
