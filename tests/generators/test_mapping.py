"""Weights -> hardware spec: quantisation, round trip, realisable ranges."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bmru.model import run
from bmru.weights import validate
from generators.circuit.mapping import (MappingConfig, MappingError, Sizing, load_spec, map_network,
                                        quantised_network, spec_from_dict, spec_json, spec_to_dict, write_spec)
from tests.conftest import random_arrays


def on_grid(arrays: dict) -> dict:
    """random_arrays scales biases after gridding; snap them back onto the 0.25 grid."""
    for key, value in arrays.items():
        if key.startswith("b_"):
            arrays[key] = np.round(value / 0.25) * 0.25
    return arrays


@pytest.fixture
def grid_net(rng):
    return validate(on_grid(random_arrays(rng, n_in=5, width=3, layers=2, grid=0.25)))


def test_grid_network_maps_exactly(grid_net):
    spec = map_network(grid_net)
    q = quantised_network(spec)
    np.testing.assert_array_equal(q.W_in, grid_net.W_in)
    for a, b in zip(q.layers, grid_net.layers):
        for name in ("W_c", "b_c", "W_o", "b_o", "s0"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        for name in ("beta1", "delta", "alpha"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-12)
    assert all(v < 1e-9 for v in spec.quantisation_max_error.values())


def test_fingers_are_one_per_parameter(grid_net):
    spec = map_network(grid_net)
    projection = spec.projection("in")
    assert np.array(projection.weight_fingers).shape == grid_net.W_in.shape
    np.testing.assert_array_equal(np.array(projection.weight_fingers) * 0.25, grid_net.W_in)
    cell = spec.layer_cells(1)[0]
    assert cell.beta2_fingers == cell.beta1_fingers + cell.delta_fingers
    assert cell.beta1_fingers * 0.05 == pytest.approx(grid_net.layers[1].beta1[0])


def test_off_grid_values_are_rounded_and_model_runs(rng):
    net = validate(random_arrays(rng, n_in=4, width=2, layers=1))
    spec = map_network(net)
    q = quantised_network(spec)
    assert np.max(np.abs(q.W_in - net.W_in)) <= 0.125 + 1e-12
    assert spec.quantisation_max_error["W_in"] <= 0.125 + 1e-12
    out = run(q, rng.normal(size=(2, 5, 4)))
    assert out.logits.shape == (2, 5, 2)


def test_json_round_trip_is_exact(grid_net, tmp_path):
    spec = map_network(grid_net)
    path = tmp_path / "spec.json"
    write_spec(path, spec)
    again = load_spec(path)
    assert spec_json(again) == spec_json(spec)
    assert json.loads(path.read_text())["top"]["pins"][0] == "in0"
    assert spec_from_dict(spec_to_dict(spec)) == spec


@pytest.mark.parametrize("key,index,value,message", [
    ("W_c0", (1, 0), 3.4, r"W_c0\[1,0\]: 3.4 outside \[-3, 3\]"),
    ("W_in", (0, 2), -3.2, r"W_in\[0,2\]: -3.2 outside \[-3, 3\]"),
    ("b_o0", (1,), 3.5, r"b_o0\[1\]: 3.5 outside"),
    ("alpha0", (0,), 0.02, r"alpha0\[0\]: 0.02 outside \[0.05, 3\]"),
    ("beta10", (1,), 3.2, r"beta10\[1\]: 3.2 outside \[0.05, 3\]"),
    ("delta0", (0,), 0.01, r"delta0\[0\]: 0.01 outside"),
])
def test_out_of_range_is_named(rng, key, index, value, message):
    arrays = random_arrays(rng, n_in=3, width=2, layers=1, grid=0.25)
    arrays[key] = np.array(arrays[key], dtype=np.float64)
    arrays[key][index] = value
    with pytest.raises(MappingError, match=message):
        map_network(validate(arrays))


def test_edges_of_the_range_are_realisable(rng):
    arrays = random_arrays(rng, n_in=3, width=2, layers=1, grid=0.25)
    arrays["W_in"][0, 0] = 3.0
    arrays["W_in"][0, 1] = -3.0
    arrays["b_in"][0] = -3.0
    arrays["alpha0"][0] = 3.0
    arrays["beta10"][0] = 0.05
    arrays["delta0"][0] = 3.0
    spec = map_network(validate(arrays))
    assert spec.projection("in").weight_fingers[0][:2] == (12, -12)
    assert spec.layer_cells(0)[0].beta2_fingers == 61


def test_bad_internal_scale():
    with pytest.raises(MappingError, match="internal_scale"):
        MappingConfig(internal_scale=0.3)


def test_a_model_quantised_to_another_grid_is_refused_naming_the_field(rng, tmp_path, capsys):
    """The grid lives in bmru.grid, shared by training and mapping: a model whose meta records
    another quantisation is refused (not silently re-rounded), by the API and by the command."""
    from bmru.grid import HARDWARE_GRID
    from bmru.weights import save_weights
    from generators.circuit.mapping import main

    arrays = random_arrays(rng)
    recorded = dict(HARDWARE_GRID.to_dict(), threshold_step=0.0625, threshold_min=0.0625)
    arrays["meta"] = np.array(json.dumps({"classes": ["other", "yes"], "quantisation": recorded}))
    with pytest.raises(MappingError, match=r"meta\.quantisation\.threshold_step: .*0\.0625.* 0\.05"):
        map_network(validate(arrays))
    weights = tmp_path / "other_grid.npz"
    save_weights(weights, validate(arrays))
    with pytest.raises(SystemExit):
        main([str(weights), "-o", str(tmp_path / "out")])
    assert "meta.quantisation.threshold_step" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    arrays["meta"] = np.array(json.dumps({"classes": ["other", "yes"], "quantisation": HARDWARE_GRID.to_dict()}))
    map_network(validate(arrays))  # the same grid maps


def test_device_flavour_has_one_home():
    """Model name and polarity letter map to each other in pdk_sky130_180 only."""
    from pdk_sky130_180.devices import NFET, NMOS, PFET, PMOS, fet

    assert fet(NFET) is NMOS and fet("n") is NMOS and fet(PFET) is PMOS and fet("p") is PMOS
    with pytest.raises(ValueError, match="'q'"):
        fet("q")


def test_unit_size_is_a_mapping_parameter(grid_net, tmp_path, capsys):
    """--unit-size draws every matched device (and only those) at the chosen W = L; the spec
    records it, and a size without a characterised device set is refused by name, before
    anything is written."""
    from generators.circuit.netlist import flatten, parse_spice
    from generators.circuit.schematic import schematic_text
    from generators.circuit.mapping import TOP_NAME, main
    from bmru.weights import save_weights

    def sizes(spec):
        devices = flatten(parse_spice(schematic_text(spec)), TOP_NAME)
        return {(d.w_um, d.l_um) for d in devices}

    shipped = map_network(grid_net)
    large = map_network(grid_net, MappingConfig(sizing=Sizing(2.0)))
    assert large.sizing.unit_um == 2.0 and spec_from_dict(spec_to_dict(large)) == large
    assert (1.0, 1.0) in sizes(shipped) and (2.0, 2.0) in sizes(large)
    assert not any(l_um == 1.0 for _, l_um in sizes(large))  # no 1 µm matched finger is left behind
    # the switches, the tie sink and the clamp keep their size
    assert {s for s in sizes(shipped) if s[1] != 1.0} == {s for s in sizes(large) if s[1] != 2.0}
    with pytest.raises(MappingError, match=r"unit_um: unit size 1\.5 µm is not characterised \(available: 1, 2\)"):
        Sizing(1.5)
    with pytest.raises(MappingError, match=r"cell_line_copies: must be a positive integer, got 0"):
        Sizing(cell_line_copies=0)
    weights = tmp_path / "net.npz"
    save_weights(weights, grid_net)
    with pytest.raises(SystemExit):
        main([str(weights), "-o", str(tmp_path / "out"), "--unit-size", "3"])
    assert "unit size 3.0 µm is not characterised" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_shared_paths_grow_by_fingers_without_changing_ratios(grid_net):
    """More fingers on the one-device shared paths: the global bias lines and each cell's line
    and candidate mirror grow, their diodes with them, so every line keeps its current per
    finger; nothing else changes."""
    from generators.circuit.netlist import flatten, parse_spice
    from generators.circuit.schematic import schematic_text
    from generators.circuit.mapping import TOP_NAME

    def fingers(spec):
        return {d.name: d.multiplier for d in flatten(parse_spice(schematic_text(spec)), TOP_NAME)}

    shipped = fingers(map_network(grid_net))
    sized = fingers(map_network(grid_net, MappingConfig(sizing=Sizing(bias_line_copies=8, cell_line_copies=3,
                                                                      cell_input_fingers=6, converter_copies=2))))
    assert sized.keys() == shipped.keys()
    grown = {name: sized[name] / shipped[name] for name in sized if sized[name] != shipped[name]}
    short = {re.sub(r"\d+", "", name.rsplit("/", 1)[-1]) for name in grown}
    assert short == {"npb", "cpb", "ppb", "pnc", "nnc", "kpc", "cpc", "ppc", "t", "m", "mc", "k", "k_cas", "p"}
    for name, ratio in grown.items():
        leaf = re.sub(r"\d+", "", name.rsplit("/", 1)[-1])
        expected = {"npb": 8, "cpb": 8, "ppb": 8, "pnc": 8, "nnc": 8, "kpc": 3, "cpc": 3, "ppc": 3,
                    "k": 2, "k_cas": 2, "p": 2}.get(leaf, 6 / 4)
        assert ratio == expected, name


def test_state_keeper_is_a_mapping_option(grid_net, tmp_path):
    """--state-keeper adds the keeper's eight devices to every cell and nothing else; the spec
    records it, and a spec without it keeps its bytes (no new key)."""
    from generators.circuit.netlist import flatten, parse_spice
    from generators.circuit.schematic import schematic_text
    from generators.circuit.mapping import TOP_NAME, main, spec_json
    from bmru.weights import save_weights

    def names(spec):
        return {d.name for d in flatten(parse_spice(schematic_text(spec)), TOP_NAME)}

    shipped = map_network(grid_net)
    kept = map_network(grid_net, MappingConfig(sizing=Sizing(state_keeper=True)))
    added = {name.rsplit("/", 1)[-1].lower() for name in names(kept) - names(shipped)}
    assert added == {"kinvp", "kinvn", "kstp", "kup", "kupsw", "kstn", "kdn", "kdnsw"}
    assert len(names(kept) - names(shipped)) == 8 * len(shipped.cells) and names(shipped) <= names(kept)
    assert spec_from_dict(spec_to_dict(kept)) == kept and kept.sizing.record() == {"sizing": {"state_keeper": True}}
    assert "state_keeper" not in spec_json(shipped) and '"state_keeper": true' in spec_json(kept)
    with pytest.raises(MappingError, match=r"state_keeper: must be true or false, got 1"):
        Sizing(state_keeper=1)
    weights = tmp_path / "net.npz"
    save_weights(weights, grid_net)
    main([str(weights), "-o", str(tmp_path / "out"), "--state-keeper"])
    assert '"state_keeper": true' in next((tmp_path / "out").glob("*.json")).read_text()
