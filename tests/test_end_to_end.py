"""The whole flow on a tiny network, with the real tools: weights -> netlist -> GDS -> DRC -> LVS
-> PEX -> ngspice on the extracted netlist -> comparison with the quantised software model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bmru.weights import FORMAT, save_weights, validate
from extract.drc import run_drc
from extract.lvs import run_lvs, write_reports
from extract.pex import extract_parasitics, write_outputs
from generators.array import generate
from generators.circuit.mapping import load_spec
from sim.runner import evaluate

# Two inputs, two cells that set at 1.0 and reset below 0.5 units, class k follows cell k's
# side; class 1 has a 0.25-unit head start, so no frame is a tie.
TINY = {
    "format": np.array(FORMAT),
    "W_in": np.eye(2), "b_in": np.zeros(2),
    "W_c0": np.eye(2), "b_c0": np.zeros(2),
    "beta10": np.full(2, 0.5), "delta0": np.full(2, 0.5), "alpha0": np.ones(2), "s00": np.zeros(2),
    "W_o0": np.eye(2), "b_o0": np.zeros(2),
    "W_out": np.eye(2), "b_out": np.array([0.0, 0.25]),
    "meta": np.array(json.dumps({"classes": ["left", "right"], "unit_current_A": 1e-9, "frame_period_s": 0.01})),
}
#       set 0     hold      hold      set 1     hold/rst  reset     set both  hold both
FRAMES = [(2, 0), (0.75, 0), (0.75, 0), (0, 2), (0, 0.75), (0, 0), (2, 2), (0.75, 0.75)]


@pytest.mark.slow
def test_tiny_network_post_layout_matches_software(tmp_path):
    weights = tmp_path / "tiny.npz"
    save_weights(weights, validate(TINY))
    outputs = generate(weights, tmp_path, picture=False)

    drc = run_drc(outputs.layout)
    assert drc.violations == 0, drc.by_rule
    lvs = run_lvs(outputs.layout, outputs.schematic)
    write_reports(lvs, tmp_path)
    assert lvs.match, (tmp_path / "lvs.txt").read_text()[:2000]
    pex = extract_parasitics(tmp_path / "lvs.lvsdb", outputs.schematic)
    netlist, _ = write_outputs(pex, tmp_path)
    assert pex.capacitors > 0

    x = np.array([FRAMES, FRAMES[::-1]], dtype=float)
    labels = np.array([0, 1])
    result = evaluate(netlist, load_spec(outputs.spec), x, labels, jobs=2)
    assert result["netlist"] == "pex"
    assert result["decision_agreement"] == 1.0
    assert result["frame_state_agreement"] == 1.0, result["per_utterance"]
    assert 0 < result["power_nW"]["total_mean"] < 50
