"""The mismatch draws that training uses (bmru.mismatch) against the validated software Monte
Carlo's device paths (sim.mismatch_model.build_plan), and the statistics file around them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bmru.mismatch import MismatchStatsError, load_stats, sample_log_gains, stats_from_dict
from bmru.weights import load_weights
from generators.circuit.mapping import map_network, quantised_network
from generators.circuit.schematic import schematic_text
from sim.mismatch_model import device_log_sigmas
from sim.montecarlo import flat_circuit, main as mc_main, software_model, training_statistics

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
CHIPS = 4000


@pytest.fixture(scope="module")
def shipped():
    spec = map_network(load_weights("examples/kws_yes_d4.npz"))
    model = software_model(spec, flat_circuit(schematic_text(spec)))
    return spec, model


def _plan_covariance(model) -> np.ndarray:
    """Exact covariance of every realised quantity's log gain: devices draw independently."""
    s2 = device_log_sigmas(model.sigma, model.sensitivity) ** 2
    return (model.plan.A * s2[None, :]) @ model.plan.A.T


def _training_draws(spec, model, stats, chips: int, seed: int) -> np.ndarray:
    arrays = quantised_network(spec).to_arrays()
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(chips):
        gains = sample_log_gains(arrays, spec.layers, stats, rng)
        rows.append([gains[key][where] for key, where in model.plan.slots])
    return np.array(rows)


@needs_ngspice
def test_training_draws_have_the_circuits_covariance(shipped):
    """Every variance and every covariance (shared diodes, converters, lines) of the training
    sampler equals the device-path model's within sampling error: 8 % of sigma_i sigma_j."""
    spec, model = shipped
    stats = training_statistics(model, "test")
    expected = _plan_covariance(model)
    sampled = np.cov(_training_draws(spec, model, stats, CHIPS, seed=3), rowvar=False)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    worst = np.max(np.abs(sampled - expected) / scale)
    assert worst < 0.08, f"worst covariance error {worst:.3f} of sigma_i sigma_j"
    # the check has teeth: drop the receivers' shared diode and it fails
    broken = dict(stats.roles, **{"rx.d": 0.0, "rx_in.d": 0.0})
    stats_broken = stats_from_dict(dict(stats.to_dict(), roles=broken))
    sampled_broken = np.cov(_training_draws(spec, model, stats_broken, 1000, seed=3), rowvar=False)
    assert np.max(np.abs(sampled_broken - expected) / scale) > 0.2


@needs_ngspice
def test_training_stats_command_writes_a_loadable_file(tmp_path):
    out = tmp_path / "stats.json"
    mc_main(["examples/kws_yes_d4.npz", "--training-stats", str(out)])
    stats = load_stats(out)
    # a 1:1 mirror of 1x1 µm nfets: sqrt(2) x one finger, the ~0.31 the wheel gives (DESIGN.md section 3)
    assert 0.27 < np.sqrt(2) * stats.sigma("nmos_finger") < 0.36
    doubled = tmp_path / "stats2.json"
    mc_main(["examples/kws_yes_d4.npz", "--training-stats", str(doubled), "--unit-scale", "2"])
    ratio = load_stats(doubled).sigma("nmos_finger") / stats.sigma("nmos_finger")
    assert 0.4 < ratio < 0.6  # Pelgrom: four times the area, half the sigma
    floored = tmp_path / "stats_floor.json"
    mc_main(["examples/kws_yes_d4.npz", "--training-stats", str(floored), "--shared-min-area", "16"])
    ratios = {role: load_stats(floored).sigma(role) / stats.sigma(role) for role in ("npb", "rx.k", "rx_in.d")}
    # one-finger converters and bias devices grow 16-fold in area (a quarter of the sigma), the
    # 8-finger feature diodes only twofold; the parameters' own outputs stay as drawn
    assert 0.2 < ratios["npb"] < 0.3 and 0.2 < ratios["rx.k"] < 0.3
    assert 0.6 < ratios["rx_in.d"] < 0.8
    assert load_stats(floored).sigma("nmos_finger") == stats.sigma("nmos_finger")


def test_shared_min_area_resizes_only_shared_role_devices():
    from generators.circuit.spice_cells import UNIT_NFET
    from sim.mismatch_model import OUTPUT_DEVICE, SHARED_ROLE_DEVICE, gate_area_um2, scale_matched_devices

    instances = flat_circuit(schematic_text(map_network(load_weights("examples/kws_yes_d4.npz")))).instances
    resized = scale_matched_devices(instances, 1.0, UNIT_NFET.l_um, 1.0, 9.0)
    changed = 0
    for before, after in zip(instances, resized):
        area = after.w_um * after.l_um * after.m
        if SHARED_ROLE_DEVICE.search(before.name) and before.l_um == UNIT_NFET.l_um:
            assert area >= 9.0 * (1 - 1e-3), before.name
            assert after.w_um / after.l_um == pytest.approx(before.w_um / before.l_um, rel=1e-3)  # same W/L
            changed += area > before.w_um * before.l_um * before.m
        else:  # outputs, cascodes and switches keep their size
            assert after == before, before.name
    assert changed > 50 and not any(OUTPUT_DEVICE.search(i.name) for i in instances if SHARED_ROLE_DEVICE.search(i.name))
    drawn = gate_area_um2(instances, UNIT_NFET.l_um)
    areas = gate_area_um2(resized, UNIT_NFET.l_um, instances)
    assert areas["outputs"] == drawn["outputs"] and areas["shared"] > drawn["shared"] + 50 * 8
    tripled = gate_area_um2(scale_matched_devices(instances, 3.0, UNIT_NFET.l_um, 1.0), UNIT_NFET.l_um, instances)
    assert tripled["outputs"] == pytest.approx(9 * drawn["outputs"], rel=1e-3)
    with pytest.raises(Exception, match="shared minimum area"):
        scale_matched_devices(instances, 1.0, UNIT_NFET.l_um, 1.0, -1.0)


def test_bad_statistics_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "bmru-mismatch/1", "roles": {"nmos_finger": -1},
                               "weight_step": 0.25, "bias_step": 0.25, "cell_step": 0.05}))
    with pytest.raises(MismatchStatsError, match="roles.nmos_finger"):
        load_stats(bad)
