"""The software power model (bmru.power): hand-computed branch currents, CLI keys, bad input.

Expected figures are derived here by hand from the circuit's structure (generators/circuit/spice_cells.py):
a p-line carries a quarter of its signal, a positive weight of k fingers sources k/4 of the
signal, a cell draws its bias line (0.25), beta2 and alpha, plus its inverter load (0.2) while its
state is 0 and its layer is enabled; every internal current is sigma = 0.5 units of 1 nA; power is
1.8 V times the frame-mean current. All with ``Calibration()`` (exact mirror copies).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bmru.power import Calibration, FrameSchedule, main, power
from bmru.weights import save_weights, validate
from generators.circuit.mapping import map_network
from tests.sim.test_presim import tiny_arrays

EXACT = Calibration()
NA_TO_NW = 1.8  # 1 nA from a 1.8 V supply
SIGMA_NA = 0.5  # one software unit inside the array


def one_weight_arrays(w_in: float = 0.75, w_c: float = 0.0, b_c: float = 0.0) -> dict[str, np.ndarray]:
    """n_in = D = N = 1, L = 1: one input weight, one candidate weight, one cell, nothing else."""
    return {
        "format": np.array("bmru-fq/1"),
        "W_in": np.array([[w_in]]), "b_in": np.array([0.0]),
        "W_c0": np.array([[w_c]]), "b_c0": np.array([b_c]),
        "beta10": np.array([0.4]), "delta0": np.array([0.6]), "alpha0": np.array([1.0]), "s00": np.array([0.0]),
        "W_o0": np.array([[0.0]]), "b_o0": np.array([0.0]),
        "W_out": np.array([[0.0], [0.0]]), "b_out": np.array([0.0, 0.0]),
        "meta": np.array(json.dumps({"unit_current_A": 1e-9, "frame_period_s": 0.01, "classes": ["a", "b"]})),
    }


def test_zero_inputs_leave_bias_idle_cells_and_bias_sources():
    spec = map_network(validate(tiny_arrays()))
    result = power(spec, np.zeros((1, 6, 2)), EXACT)
    # u0 = ReLU(b_in) = (0, 0.25); c = ReLU(W_c u0 + b_c) = (0, 0.0625): both cells reset, h = y = 0;
    # u1 = u0; z = (0.0625, 0.25).
    feedforward_units = (0.25  # b_in[1] from the pb line
                         + 0.25 * 0.25  # u0[1]'s p-line
                         + 1.25 * 0.25  # W_c0[1, 1] sources 1.25 * u0[1]
                         + 0.25  # residual copy of y + u0
                         + 0.25 * 0.25  # u1[1]'s p-line (both W_out columns have a positive weight)
                         + 1.0 * 0.25  # W_out[1, 1] * u1[1]
                         + 0.25)  # b_out[0]
    assert result.feedforward[0] == pytest.approx(feedforward_units * SIGMA_NA * NA_TO_NW, rel=1e-9)
    # One layer: its enable rises at 0.2 + 0.01 (mid-ramp) and falls at 0.98 -> 0.77 of a frame.
    hold_share = 0.98 - 0.21
    cells_units = (0.25 + 1.0 + 1.0) + (0.25 + 1.0 + 1.5) + 2 * 0.2 * hold_share
    assert result.cells[0] == pytest.approx(cells_units * SIGMA_NA * NA_TO_NW, rel=1e-9)
    # iref (1 nA, not scaled) plus the pb and nc lines (0.25 sigma each)
    assert result.bias[0] == pytest.approx((1.0 + 2 * 0.25 * SIGMA_NA) * NA_TO_NW, rel=1e-9)
    assert result.inputs[0] == 0.0
    assert result.total[0] == pytest.approx(result.cells[0] + result.feedforward[0] + result.bias[0])


def test_one_positive_weight_adds_its_fingers_times_a_quarter_copy():
    spec = map_network(validate(one_weight_arrays(w_in=0.75)))  # 3 fingers
    idle = power(spec, np.zeros((1, 4, 1)), EXACT)
    driven = power(spec, np.full((1, 4, 1), 2.0), EXACT)
    assert idle.feedforward[0] == 0.0
    # x = 2: the input p-line carries 2/4, W_in's 3 fingers source 3 * 2/4 = 1.5 = u0; u0's p-line
    # 1.5/4; the residual copies y + u0 = 1.5. Nothing reads h or u1 positively.
    units = 2 / 4 + 3 * 2 / 4 + 1.5 / 4 + 1.5
    assert driven.feedforward[0] == pytest.approx(units * SIGMA_NA * NA_TO_NW, rel=1e-9)
    assert driven.inputs[0] == pytest.approx(2.0 * NA_TO_NW)  # pin current x * 1 nA, not sigma-scaled
    assert driven.cells[0] == idle.cells[0]  # the cell never sees a candidate


def test_cell_in_state_one_draws_no_inverter_load():
    reset = power(map_network(validate(one_weight_arrays(b_c=0.0))), np.zeros((1, 4, 1)), EXACT)
    set_ = power(map_network(validate(one_weight_arrays(b_c=1.25))), np.zeros((1, 4, 1)), EXACT)
    assert set_.cells[0] == pytest.approx(2.25 * SIGMA_NA * NA_TO_NW, rel=1e-9)  # bias line, beta2, alpha
    assert reset.cells[0] == pytest.approx((2.25 + 0.2 * (0.98 - 0.21)) * SIGMA_NA * NA_TO_NW, rel=1e-9)


def test_a_cell_setting_mid_utterance_waits_for_its_enable():
    spec = map_network(validate(one_weight_arrays(w_in=0.75, w_c=1.0)))
    x = np.zeros((1, 10, 1))
    x[0, 5:] = 2.0  # u0 = 1.5 = c >= beta2 = 1.0 from frame 5
    result = power(spec, x, EXACT)
    hold_share = 0.98 - 0.21
    frames = (5 * (2.25 + 0.2 * hold_share)  # reset, inverter load while enabled
              + (0.25 + 1.0 + 1.0 * (1 - 0.21))  # frame 5: until the enable rises, the stored 0 and
              # the set candidate turn both output switches off, so alpha has no path
              + 4 * 2.25)  # set
    assert result.cells[0] == pytest.approx(frames / 10 * SIGMA_NA * NA_TO_NW, rel=1e-9)


def test_switch_charge_and_control_scale_as_documented():
    spec = map_network(validate(one_weight_arrays(w_in=0.75, w_c=1.0)))
    x = np.zeros((1, 10, 1))
    x[0, 5:] = 2.0  # one switching event in a 0.1 s utterance
    base = power(spec, x, EXACT)
    charged = power(spec, x, Calibration(switch_pC=10.0, control_fC=5.0))
    # 10 pC over 0.1 s is 100 pA
    assert charged.cells[0] - base.cells[0] == pytest.approx(0.1 * NA_TO_NW, rel=1e-9)
    # 5 fC per cell and 10 ms frame is 0.5 pA
    assert charged.control[0] == pytest.approx(5e-4 * NA_TO_NW, rel=1e-9)


def test_frame_schedule_matches_the_bench():
    from sim import stimulus

    schedule = FrameSchedule()
    assert (schedule.first, schedule.span, schedule.ramp, schedule.fall) == (
        stimulus.ENABLE_FIRST, stimulus.ENABLE_SPAN, stimulus.ENABLE_RAMP, stimulus.ENABLE_FALL)
    assert stimulus.SETTLE_FRAMES >= 1  # frame 0 is settled before it is measured (see _previous)


def test_model_agrees_with_the_software_model_states_and_is_vectorised():
    """Utterances are independent: a batch gives the same figures as one at a time."""
    spec = map_network(validate(tiny_arrays()))
    rng = np.random.default_rng(3)
    x = np.maximum(rng.normal(0.5, 0.8, (5, 12, 2)), 0)
    batch = power(spec, x)
    for index in range(len(x)):
        single = power(spec, x[index:index + 1])
        assert single.total[0] == pytest.approx(batch.total[index], rel=1e-12)


def _files(tmp_path, x: np.ndarray, y: np.ndarray | None = None):
    weights = tmp_path / "tiny.npz"
    save_weights(weights, validate(tiny_arrays()))
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=x, **({} if y is None else {"y": y}))
    return weights, inputs


def test_cli_writes_the_contract_keys(tmp_path):
    weights, inputs = _files(tmp_path, np.abs(np.random.default_rng(0).normal(size=(3, 8, 2))), np.array([0, 1, 0]))
    out = tmp_path / "power.json"
    main([str(weights), str(inputs), "-n", "2", "--json", str(out)])
    data = json.loads(out.read_text())
    assert set(data["power_nW"]) >= {"total_mean", "total_min", "total_max", "cells_mean", "feedforward_mean",
                                     "bias_mean", "inputs_mean", "control_mean"}
    assert [row["index"] for row in data["per_utterance"]] == [0, 1]
    for row in data["per_utterance"]:
        assert set(row["power_nW"]) >= {"total", "cells", "feedforward", "bias"}
    totals = [row["power_nW"]["total"] for row in data["per_utterance"]]
    assert data["power_nW"]["total_max"] == pytest.approx(max(totals), abs=1e-3)
    assert data["utterances"] == 2


@pytest.mark.parametrize("case, named", [
    ("missing_weights", "nope.npz"),
    ("wrong_features", "x"),
    ("bad_n", "-n"),
])
def test_cli_bad_input_is_one_line_naming_it(tmp_path, capsys, case, named):
    weights, inputs = _files(tmp_path, np.zeros((2, 4, 3 if case == "wrong_features" else 2)))
    out = tmp_path / "power.json"
    args = {"missing_weights": [str(tmp_path / "nope.npz"), str(inputs)],
            "wrong_features": [str(weights), str(inputs)],
            "bad_n": [str(weights), str(inputs), "-n", "0"]}[case]
    with pytest.raises(SystemExit) as exit_info:
        main(args + ["--json", str(out)])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err
    assert not out.exists()


def test_sizing_copies_add_their_branch_currents():
    """Line copies draw K branches (0.25 sigma each) where one was; converter copies put K
    quarters of each signal on its p-line (generators.circuit.mapping.Sizing)."""
    from generators.circuit.mapping import MappingConfig, Sizing

    arrays = validate(one_weight_arrays(w_in=0.75))
    x = np.full((1, 4, 1), 2.0)
    shipped = power(map_network(arrays), x, EXACT)
    sized = power(map_network(arrays, MappingConfig(sizing=Sizing(2.0, bias_line_copies=4, cell_line_copies=3,
                                                                   cell_input_fingers=8, converter_copies=2))),
                  x, EXACT)
    branch_nW = 0.25 * SIGMA_NA * NA_TO_NW
    assert sized.bias[0] - shipped.bias[0] == pytest.approx(2 * 3 * branch_nW, rel=1e-9)  # pb and nc, 3 more each
    assert sized.cells[0] - shipped.cells[0] == pytest.approx(2 * branch_nW, rel=1e-9)  # one cell, 2 more
    # the input's and u0's p-lines (2/4 and 1.5/4 of a unit) carry twice as much
    assert sized.feedforward[0] - shipped.feedforward[0] == pytest.approx((2 / 4 + 1.5 / 4) * SIGMA_NA * NA_TO_NW,
                                                                         rel=1e-9)


def test_keeper_charges_count_only_on_a_circuit_with_keepers():
    from generators.circuit.mapping import MappingConfig, Sizing

    arrays = validate(one_weight_arrays(w_in=0.75, w_c=1.0))
    x = np.zeros((1, 10, 1))
    x[0, 5:] = 2.0  # one switching event in a 0.1 s utterance
    keeper_charges = Calibration(keeper_switch_pC=10.0, keeper_control_fC=5.0)
    plain = map_network(arrays)
    kept = map_network(arrays, MappingConfig(sizing=Sizing(state_keeper=True)))
    assert power(plain, x, keeper_charges).cells[0] == power(plain, x, EXACT).cells[0]
    assert power(plain, x, keeper_charges).control[0] == 0.0
    assert power(kept, x, keeper_charges).cells[0] - power(kept, x, EXACT).cells[0] == pytest.approx(
        0.1 * NA_TO_NW, rel=1e-9)  # 10 pC over 0.1 s
    assert power(kept, x, keeper_charges).control[0] == pytest.approx(5e-4 * NA_TO_NW, rel=1e-9)
