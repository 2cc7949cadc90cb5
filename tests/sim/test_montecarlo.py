"""Mismatch Monte Carlo: the wheel's statistics, per-device cards, m=k, the software prediction, Dask."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bmru.weights import load_weights, validate
from generators.circuit.mapping import map_network, quantised_network
from generators.circuit.schematic import schematic_text
from pdk_sky130_180.devices import NFET, PFET
from pdk_sky130_180.mismatch import Instance, agauss_reference, draw, load_library, model_cards, mosfet_line
from pdk_sky130_180.models import include_line
from sim.montecarlo import flat_circuit, main as mc_main, predict, sample_seed, software_model
from sim.ngspice import control_block, options_line, run_deck
from tests.sim.test_presim import stall_with_bypass, tiny_arrays, tiny_inputs, write_tiny_job

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
DRAWS = 200


@pytest.fixture(scope="module")
def library():
    return load_library("tt")


def _lnI_sigma(deck_body: list[str], vectors: list[str], extra: list[str]) -> float:
    deck = "\n".join(["* mismatch check", include_line("tt"), *extra, options_line(), *deck_body,
                      control_block("op", vectors), ".end", ""])
    result = run_deck(deck)
    currents = np.array([abs(result[v][0]) for v in vectors])
    return float(np.std(np.log(currents), ddof=1))


def _single_device_sigma(tmp_path, library, draw_cards: bool, seed: int) -> float:
    """sigma(ln I) over DRAWS 1x1 µm nfets whose gate sits at a nominal diode's voltage for 1 nA
    (drains held at that voltage): flat NumPy-drawn cards, or the wheel's AGAUSS card live."""
    body = ["Iin 0 g 1n", f"Xd g g 0 0 {NFET} w=1 l=1", "Ehold dd 0 g 0 1"]
    vectors, extra = [], []
    instances = [Instance(f"p{i}", NFET, 1.0, 1.0, 1) for i in range(DRAWS)]
    if draw_cards:
        cards = tmp_path / "cards.spice"
        cards.write_text(model_cards(draw(instances, library, seed), library))
        extra.append(f'.include "{cards}"')
    else:  # ngspice draws: the bin card with its AGAUSS terms and mc_mm_switch=1, one copy per instance
        extra += [".param mc_mm_switch=1", f".option seed={seed}", agauss_reference(NFET, 1.0, 1.0, library)]
    for i, inst in enumerate(instances):
        body.append(f"Vm{i} dd a{i} 0")
        body.append(mosfet_line(i, f"p{i}", (f"a{i}", "g", "0", "0"), inst) if draw_cards
                    else f"Xq{i} a{i} g 0 0 mc_ref")
        vectors.append(f"i(vm{i})")
    return _lnI_sigma(body, vectors, extra)


def test_library_reads_the_wheels_statistics(library):
    nfet = library.device(NFET).sigmas(1.0, 1.0)
    pfet = library.device(PFET).sigmas(1.0, 1.0)
    assert library.device(NFET).bin_for(1.0, 1.0).name.endswith("model.58")
    assert library.device(PFET).bin_for(1.0, 1.0).name.endswith("model.67")
    assert nfet["vth0"] == pytest.approx(3.356e-3) and nfet["voff"] == pytest.approx(7.0e-3)
    assert nfet["toxe"] / 4.148e-9 == pytest.approx(3.443e-3)
    assert pfet["vth0"] == pytest.approx(5.856e-3) and pfet["nfactor"] == pytest.approx(0.1)
    assert pfet["toxe"] / 4.23e-9 == pytest.approx(4.443e-3)
    # m=4 fingers: the area law, sigma / 2
    assert library.device(NFET).sigmas(1.0, 1.0, 4)["vth0"] == pytest.approx(3.356e-3 / 2)
    subvt = load_library("tt", "subvt_mismatch").device(PFET).sigmas(1.0, 1.0)
    assert subvt["vth0"] == pytest.approx(8.856e-3)


def test_same_seed_same_numbers_different_seeds_differ(library):
    instances = [Instance("a", NFET, 1.0, 1.0, 1), Instance("b", PFET, 1.0, 1.0, 3)]
    one, again, other = draw(instances, library, 5), draw(instances, library, 5), draw(instances, library, 6)
    assert np.array_equal(one.delta, again.delta)
    assert model_cards(one, library) == model_cards(again, library)
    assert not np.allclose(one.delta, other.delta)
    assert model_cards(one, library) != model_cards(other, library)
    assert sample_seed(1, 0) == sample_seed(1, 0)
    assert len({sample_seed(1, s) for s in range(50)} | {sample_seed(2, 0)}) == 51
    # the software prediction follows the seed alone
    spec = map_network(validate(tiny_arrays()))
    model = software_model(spec, flat_circuit(schematic_text(spec)))
    x = tiny_inputs(quantised_network(spec), 2)
    first, second = predict(model, 11, x), predict(model, 11, x)
    assert np.array_equal(first.logits, second.logits)
    assert not np.allclose(first.logits, predict(model, 12, x).logits)


def test_zero_draws_give_the_nominal_network():
    """Without mismatch the realised software network is the quantised one, exactly."""
    spec = map_network(load_weights("examples/kws_yes_d4.npz"))
    model = software_model(spec, flat_circuit(schematic_text(spec)))
    from sim.mismatch_model import realised_network

    net = realised_network(spec, model.plan, np.zeros(len(model.plan.nominal)))
    nominal = quantised_network(spec).to_arrays()
    for key, value in net.to_arrays().items():
        if value.dtype.kind == "f":
            assert np.allclose(value, nominal[key]), key
    # every parameter of the circuit is covered by the plan (weights, biases, cells, residual gains)
    nonzero = sum(int(np.count_nonzero(value)) for key, value in nominal.items()
                  if key[:2] in ("W_", "b_") and value.dtype.kind == "f")
    cells = 3 * spec.layers * spec.cells_per_layer
    residual = 2 * spec.layers * spec.width
    assert len(model.plan.nominal) == nonzero + cells + residual


@needs_ngspice
def test_sigma_of_a_1x1_nfet_at_1nA_matches_agauss(tmp_path, library):
    """200 NumPy draws on flat cards against 200 ngspice AGAUSS draws of the wheel's own card."""
    ours = _single_device_sigma(tmp_path, library, draw_cards=True, seed=1)
    reference = _single_device_sigma(tmp_path, library, draw_cards=False, seed=1)
    assert ours == pytest.approx(reference, rel=0.15)
    # and the figure DESIGN.md measured for a 1:1 mirror (0.31 = sqrt(2) x one device), loosely
    assert 0.31 / np.sqrt(2) * 0.8 < ours < 0.31 / np.sqrt(2) * 1.2


def _mirror_sigma(tmp_path, library, fingers: int, split: bool, seed: int) -> float:
    """sigma(ln Iout/Iin) over DRAWS mirrors of ``fingers`` fingers on both sides, written as one
    m=k instance per side or as k separately drawn one-finger instances."""
    instances, body, vectors = [], [], []
    for i in range(DRAWS):
        body += [f"Iin{i} 0 g{i} 1n", f"E{i} dd{i} 0 g{i} 0 1", f"Vm{i} dd{i} o{i} 0"]
        vectors.append(f"i(vm{i})")
        for role, (drain, gate) in (("d", (f"g{i}", f"g{i}")), ("o", (f"o{i}", f"g{i}"))):
            for finger in range(fingers if split else 1):
                inst = Instance(f"{role}{i}_{finger}", NFET, 1.0, 1.0, 1 if split else fingers)
                body.append(mosfet_line(len(instances), inst.name, (drain, gate, "0", "0"), inst))
                instances.append(inst)
    cards = tmp_path / f"cards_{split}.spice"
    cards.write_text(model_cards(draw(instances, library, seed), library))
    return _lnI_sigma(body, vectors, [f'.include "{cards}"'])


@needs_ngspice
def test_m_equals_k_has_the_statistics_of_k_fingers(tmp_path, library):
    """A 4:4 mirror: one m=4 card (sigma/2) per side against four separately drawn fingers per side."""
    multiplied = _mirror_sigma(tmp_path, library, 4, split=False, seed=1)
    fingers = _mirror_sigma(tmp_path, library, 4, split=True, seed=2)
    assert multiplied == pytest.approx(fingers, rel=0.15)
    assert multiplied == pytest.approx(0.31 / 2, rel=0.2)  # a quarter of the area variance of 1:1


def test_software_only_on_the_shipped_example(tmp_path):
    out = tmp_path / "mc"
    mc_main(["--samples", "20", "--seed", "4", "-n", "60", "--software-only", "-o", str(out)])
    data = json.loads((out / "mc.json").read_text())
    assert data["netlist"] == "software" and data["samples"] == 20 and data["utterances"] == 60
    assert data["seed"] == 4
    assert set(data["accuracy"]) == {"nominal", "mean", "p5", "min"}
    assert data["accuracy"]["min"] <= data["accuracy"]["p5"] <= data["accuracy"]["mean"] <= 1
    assert 0 <= data["decision_agreement"] <= 1 and 0 < data["frame_state_agreement"] <= 1
    assert len(data["per_utterance"]) == 60 and len(data["per_sample"]) == 20
    assert {"index", "nominal_decision", "kept_fraction"} <= set(data["per_utterance"][0])
    assert [row["seed"] for row in data["per_sample"]] == [sample_seed(4, s) for s in range(20)]
    kept = np.mean([row["kept_fraction"] for row in data["per_utterance"]])
    assert kept == pytest.approx(data["decision_agreement"])
    for plot in ("mc_class_currents.png", "mc_votes.png", "mc_histograms.png"):
        assert (out / plot).stat().st_size > 0
    again = tmp_path / "again"
    mc_main(["--samples", "20", "--seed", "4", "-n", "60", "--software-only", "-o", str(again)])
    assert json.loads((again / "mc.json").read_text())["per_sample"] == data["per_sample"]


def test_bad_arguments_write_nothing(tmp_path, capsys):
    out = tmp_path / "mc"
    with pytest.raises(SystemExit) as info:
        mc_main(["--samples", "0", "--seed", "1", "--software-only", "-o", str(out)])
    assert info.value.code != 0 and "--samples" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mc_main(["--samples", "2", "--seed", "1", "--software-only", "--inputs", str(tmp_path / "none.npz"),
                 "-o", str(out)])
    assert "none.npz" in capsys.readouterr().err
    assert not out.exists()


@needs_ngspice
def test_two_sample_dask_run_on_a_tiny_network(tmp_path):
    weights, inputs, out = write_tiny_job(tmp_path)
    mc_main([str(weights), "--inputs", str(inputs), "--samples", "2", "--seed", "3", "-o", str(out)])
    data = json.loads((out / "mc.json").read_text())
    assert data["netlist"] == "schematic" and data["samples"] == 2 and data["utterances"] == 1
    for row in data["per_sample"]:
        assert set(row) >= {"sample", "seed", "decisions", "software_decisions", "power_nW", "frame_state_agreement"}
        assert 0 < row["power_nW"] < 40
        assert len(row["frame_state_agreement"]) == 1 and 0 <= row["frame_state_agreement"][0] <= 1
    pairs = [v for row in data["per_sample"] for v in row["frame_state_agreement"]]
    assert np.mean(pairs) == pytest.approx(data["frame_state_agreement"])  # every pair has the same cell-frames
    assert data["per_sample"][0]["seed"] != data["per_sample"][1]["seed"]
    # the software prediction from the same draws matches the circuit on this well-margined network
    assert data["software_match"]["decision"] == 1.0
    assert data["software_match"]["frame_state"] >= 0.95


@needs_ngspice
def test_extending_a_circuit_run_equals_running_it_whole(tmp_path):
    """``--extend`` simulates only the utterances the previous run lacks, on the same chips, and
    combines to the figures of one run over all of them; other chips are refused before running."""
    weights, inputs, out = write_tiny_job(tmp_path, labels=(1, 0, 1))
    job = [str(weights), "--inputs", str(inputs), "--samples", "2", "--seed", "3"]
    mc_main([*job, "-n", "3", "-o", str(tmp_path / "whole")])
    mc_main([*job, "-n", "1", "-o", str(tmp_path / "part")])
    mc_main([*job, "-n", "3", "--plot-utterance", "1", "--extend", str(tmp_path / "part" / "mc.json"), "-o", str(out)])
    whole = json.loads((tmp_path / "whole" / "mc.json").read_text())
    extended = json.loads((out / "mc.json").read_text())
    assert extended["extended_from"]["utterances"] == 1
    for key in ("utterances", "decision_agreement", "accuracy", "per_utterance", "netlist_sha256", "circuit_sha256"):
        assert extended[key] == whole[key]
    for merged, direct in zip(extended["per_sample"], whole["per_sample"]):
        assert merged["decisions"] == direct["decisions"] and merged["seed"] == direct["seed"]
        assert merged["power_nW"] == pytest.approx(direct["power_nW"], rel=1e-9)
        assert merged["frame_state_agreement"] == pytest.approx(direct["frame_state_agreement"], abs=1e-12)
    for key in ("mean", "min", "max", "sample_mean_std"):
        assert extended["power_nW"][key] == pytest.approx(whole["power_nW"][key], rel=1e-9, abs=1e-12)
    assert extended["frame_state_agreement"] == pytest.approx(whole["frame_state_agreement"], abs=1e-12)
    assert extended["software_match"]["frame_state"] == pytest.approx(whole["software_match"]["frame_state"], abs=1e-12)
    with pytest.raises(SystemExit):
        mc_main([str(weights), "--inputs", str(inputs), "--samples", "2", "--seed", "4", "-n", "2",
                 "--plot-utterance", "1", "--extend", str(tmp_path / "part" / "mc.json"), "-o", str(tmp_path / "other")])
    assert not (tmp_path / "other").exists()


@needs_ngspice
def test_software_prediction_of_a_mirror_follows_spice(tmp_path, library):
    """The calibrated sensitivities predict each drawn 1:1 mirror's ratio (same draws), sample by sample."""
    from sim.mismatch_model import calibrate, log_factors

    count = 40
    instances, body, vectors = [], [], []
    for i in range(count):
        for model in (NFET, PFET):
            tag = f"{'n' if model == NFET else 'p'}{i}"
            if model == NFET:
                body += [f"Iin{tag} 0 g{tag} 0.125n", f"E{tag} dd{tag} 0 g{tag} 0 1", f"Vm{tag} dd{tag} o{tag} 0"]
                terminals = ("0", "0")
            else:
                body += [f"Iin{tag} g{tag} 0 0.125n", f"E{tag} dd{tag} 0 g{tag} 0 1", f"Vm{tag} dd{tag} o{tag} 0"]
                terminals = ("vdd", "vdd")
            vectors.append(f"i(vm{tag})")
            for role, drain in (("d", f"g{tag}"), ("o", f"o{tag}")):
                inst = Instance(f"{role}{tag}", model, 1.0, 1.0, 1)
                body.append(mosfet_line(len(instances), inst.name, (drain, f"g{tag}") + terminals, inst))
                instances.append(inst)
    draws = draw(instances, library, 9)
    cards = tmp_path / "cards.spice"
    cards.write_text(model_cards(draws, library))
    deck = "\n".join(["* mirrors", include_line("tt"), f'.include "{cards}"', options_line(), "Vvdd vdd 0 1.8",
                      *body, control_block("op", vectors), ".end", ""])
    result = run_deck(deck)
    measured = np.log(np.array([abs(result[v][0]) for v in vectors]) / 0.125e-9)
    sens = calibrate(((NFET, 1.0, 1.0), (PFET, 1.0, 1.0))).matrix(tuple(instances))
    log_f = log_factors(draws.z, draws.sigma, sens)
    predicted = log_f[1::2] - log_f[0::2]  # output over diode
    assert np.std(measured - predicted) < 0.1 * np.std(measured)


@pytest.mark.slow
@needs_ngspice
def test_shipped_example_two_samples_two_utterances_in_spice(tmp_path):
    """2 samples x 2 utterances of the shipped D=4 schematic: SPICE against the software prediction."""
    out = tmp_path / "mc"
    mc_main(["--samples", "2", "--seed", "1", "-n", "2", "-o", str(out)])
    data = json.loads((out / "mc.json").read_text())
    assert data["software_match"]["decision"] >= 0.75
    assert data["software_match"]["frame_state"] >= 0.9


def test_a_stalled_monte_carlo_run_is_repeated_without_device_bypass(monkeypatch):
    """A Monte Carlo sample's transient goes through the same runner as presim: a run that stalls
    with device bypass is repeated with bypass=0 on the sample's own cards, and says so."""
    from sim.montecarlo import CircuitTask, run_circuit_task

    spec = map_network(validate(tiny_arrays()))
    x = tiny_inputs(quantised_network(spec), 1)[0]
    decks = stall_with_bypass(monkeypatch)
    measured = run_circuit_task(CircuitTask(0, sample_seed(1, 0), 0, x, flat_circuit(schematic_text(spec)), spec))
    assert measured.bypass_off and len(decks) == 2 and "bypass=0" in decks[1]
    assert all("cards.spice" in deck for deck in decks)  # the sample's own draws both times
