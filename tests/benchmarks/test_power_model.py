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


SEED6 = "benchmarks/results/pareto_models/d4_mm_u3a64_seed6.npz"
DRAWN = ["--unit-size", "2", "--bias-line-copies", "16", "--cell-line-copies", "8", "--cell-input-fingers", "8",
         "--converter-copies", "2"]
KEEPER_RUN = "benchmarks/results/drawn_sizing/presim_seed6_u2_b16_c8_i8_k2_starved_keeper.json"
TWIN_RUN = "benchmarks/results/drawn_sizing/presim_seed6_u2_b16_c8_i8_k2.json"


@pytest.mark.parametrize("options, named", [(DRAWN, "schematic digest"),  # the keeper run, without --state-keeper
                                             ([*DRAWN, "--state-keeper", "--internal-scale", "0.25"], "schematic digest")])
def test_a_run_of_another_circuit_is_refused(tmp_path, options, named):
    with pytest.raises(SystemExit, match=f"not a run of this circuit \\({named}"):
        power_model.main(["--weights", SEED6, "--reference", KEEPER_RUN, *options, "-o", str(tmp_path / "p.json")])


def test_the_keeper_fit_recovers_a_planted_charge():
    events = np.array([10.0, 20.0, 40.0])
    duration_s = 1.0
    twin = {"path": "twin", "control_mean": 0.01,
            "rows": [{"index": i, "power_nW": {"cells": 40.0}} for i in range(3)]}
    # 5 pC per change over 1 s is 5 pA per change; at 1.8 V
    keeper = {"path": "keeper", "control_mean": 0.01 + 1.8 * 2e-6 * 8 / 0.01,
              "rows": [{"index": i, "power_nW": {"cells": 40.0 + 1.8 * 5e-3 * events[i]}} for i in range(3)]}
    fit = power_model.fit_keeper(keeper, twin, events, duration_s, 8, 0.01, [0, 1, 2])
    assert fit["keeper_switch_pC"] == pytest.approx(5.0, rel=1e-9)
    assert fit["keeper_control_fC"] == pytest.approx(2.0, rel=1e-9)


def test_the_power_model_counts_the_keepers_charge(tmp_path):
    """On ngspice's 50 balanced utterances of the 2 µm design with keepers (schematic, tt, 27 °C),
    the cell supply is within 1 % on average; without the keeper's charge it is 1.36 % low."""
    out = tmp_path / "p.json"
    power_model.main(["--weights", SEED6, "--reference", KEEPER_RUN, "--keeper-twin", TWIN_RUN, *DRAWN,
                      "--state-keeper", "-o", str(out)])
    cells = json.loads(out.read_text())["references"][0]["calibrated"]["all"]["cells"]
    assert cells["utterances"] == 50
    assert abs(cells["mean_rel_error"]) < 0.01


@pytest.mark.parametrize("recorded, named", [({"sizing": {"unit_um": 2.0}}, "sizing"),
                                             ({"internal_scale": 0.25}, "internal scale")])
def test_a_run_recording_another_sizing_or_scale_is_refused(tmp_path, recorded, named):
    data = json.loads(open(KEEPER_RUN).read())
    data.update(recorded)
    if "sizing" not in recorded:  # as results record it since 2026-12-08
        data["sizing"] = {"unit_um": 2.0, "bias_line_copies": 16, "cell_line_copies": 8, "cell_input_fingers": 8,
                          "converter_copies": 2, "state_keeper": True}
    reference = tmp_path / "presim.json"
    reference.write_text(json.dumps(data))
    with pytest.raises(SystemExit, match=f"not a run of this circuit \\({named}"):
        power_model.main(["--weights", SEED6, "--reference", str(reference), *DRAWN, "--state-keeper",
                          "-o", str(tmp_path / "p.json")])
