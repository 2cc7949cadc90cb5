"""generators.array: weights -> spec, schematic, layout; DRC-clean, deterministic, safe on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from bmru.weights import load_weights, save_weights, validate
from extract.drc import run_drc
from generators.array import generate
from tests.conftest import random_arrays
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("w") / "tiny.npz"
    save_weights(path, validate(random_arrays(rng, n_in=2, width=2, layers=1, classes=2, grid=0.25)))
    return path


@pytest.fixture(scope="module")
def tiny_outputs(tiny_weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("array")
    return generate(tiny_weights, out), out


def test_writes_all_outputs_with_area(tiny_outputs):
    outputs, out = tiny_outputs
    for name in ("spec.json", "schematic.spice", "layout.gds", "layout.png"):
        assert (out / name).stat().st_size > 0, name
    area = json.loads((out / "spec.json").read_text())["area_um2"]
    assert area["total"] >= area["devices"] > 0
    assert area["per_bmru_cell"] > 0 and area["per_weight"] > 0


def test_layout_is_drc_clean(tiny_outputs):
    outputs, _ = tiny_outputs
    result = run_drc(outputs.layout)
    assert result.violations == 0, result.by_rule


def test_same_weights_same_bytes(tiny_weights, tiny_outputs, tmp_path):
    outputs, _ = tiny_outputs
    again = generate(tiny_weights, tmp_path, picture=False)
    for name in ("layout", "schematic", "spec"):
        assert getattr(again, name).read_bytes() == getattr(outputs, name).read_bytes(), name


def test_bad_weights_exit_nonzero_and_write_nothing(tmp_path, tiny_weights):
    with np.load(tiny_weights) as archive:
        arrays = dict(archive)
    arrays["alpha0"] = np.array([0.5, np.nan])
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "generators.array", str(bad), "-o", str(out)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "alpha0" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("n_in, width, cells, layers, classes", [(3, 3, 2, 3, 3), (5, 2, 4, 1, 2)])
def test_other_shapes_are_drc_and_lvs_clean(tmp_path, n_in, width, cells, layers, classes):
    from extract.lvs import run_lvs

    rng = np.random.default_rng(n_in * 100 + layers)
    weights = tmp_path / "w.npz"
    save_weights(weights, validate(random_arrays(rng, n_in, width, cells, layers, classes, grid=0.25)))
    outputs = generate(weights, tmp_path / "out", picture=False)
    assert run_drc(outputs.layout).violations == 0
    lvs = run_lvs(outputs.layout, outputs.schematic)
    assert lvs.match and lvs.devices_layout == lvs.devices_schematic


def test_reference_array_draws_mirrors_as_matched_groups_and_stays_clean(tmp_path):
    """The shipped example: each input's diode shares one interdigitated row with the weight
    mirrors it drives; the array stays DRC- and LVS-clean; a group's area goes to its devices."""

    from extract.lvs import run_lvs
    from generators.layout.groups import matched_groups
    from generators.circuit.netlist import flatten, parse_spice

    weights = REPO_ROOT / "examples" / "kws_yes_d4.npz"
    outputs = generate(weights, tmp_path, picture=False)
    devices = flatten(parse_spice(outputs.schematic.read_text()), "bmru_top")
    by_diode = {g.devices[0].name: g for g in matched_groups(devices) if g.diode == 0}
    input0 = {d.name for d in by_diode["rx_in/d0"].devices}
    assert {"fc_in/w_in_r0_c0", "fc_in/w_in_r2_c0", "fc_in/w_in_r3_c0"} <= input0
    grouped = {d.name for g in matched_groups(devices) for d in g.devices}
    assert "rx_in/p0" not in grouped  # the pfet diode (w=0.96) keeps its own cell
    assert "fc_in/w_in_r0_c0_cas" not in grouped  # cascodes have their own sources
    area = outputs.area
    assert area["matched_groups"] > 0 and area["cells"] < area["device_instances"]
    assert run_drc(outputs.layout).violations == 0
    lvs = run_lvs(outputs.layout, outputs.schematic)
    assert lvs.match and lvs.devices_layout == lvs.devices_schematic == len(devices)


def test_reference_array_with_compact_cells_is_clean_deterministic_and_smaller(tmp_path):
    """Compact cells (the default): each BMRU cell is one macro (its devices in no matched group,
    its internal nets inside it); the array stays DRC- and LVS-clean, byte-deterministic, and
    smaller than with the cells' devices spread over the rows (--no-compact-cells)."""

    from extract.lvs import run_lvs

    weights = REPO_ROOT / "examples" / "kws_yes_d4.npz"
    compact = generate(weights, tmp_path / "compact", picture=False)  # the default
    assert run_drc(compact.layout).violations == 0
    lvs = run_lvs(compact.layout, compact.schematic)
    assert lvs.match and lvs.devices_layout == lvs.devices_schematic
    spec = json.loads(compact.spec.read_text())
    assert spec["compact_cells"] is True
    again = generate(weights, tmp_path / "again", picture=False)
    assert again.layout.read_bytes() == compact.layout.read_bytes()
    spread = generate(weights, tmp_path / "spread", picture=False, compact_cells=False)
    assert json.loads(spread.spec.read_text())["compact_cells"] is False
    assert compact.area["total"] < spread.area["total"]
    assert compact.area["cells"] < spread.area["cells"]


def test_bmru_macros_take_every_cell_device_with_the_pins_nets():

    from bmru.weights import load_weights
    from generators.array import bmru_macros
    from generators.circuit.mapping import TOP_NAME, map_network
    from generators.circuit.netlist import flatten, parse_spice
    from generators.circuit.schematic import schematic_text
    from generators.circuit.spice_cells import CELL_PINS

    spec = map_network(load_weights(REPO_ROOT / "examples" / "kws_yes_d4.npz"))
    devices = flatten(parse_spice(schematic_text(spec)), TOP_NAME)
    macros = bmru_macros(spec, devices)
    assert [m.name for m in macros] == [f"layer{c.layer}/cell{c.index}" for c in spec.cells]
    in_cells = {d.name for d in devices if d.blocks[-1].startswith("bmru_cell")}
    assert {d.name for m in macros for d in m.devices} == in_cells
    first = macros[0]
    assert list(first.nets) == CELL_PINS
    assert first.nets["st"] == "st0_0" and first.nets["rst"] == "rst" and first.nets["vdd"] == "vdd_cells"


def test_picture_names_blocks_as_a_person_reads_the_circuit():
    from generators.layout.floorplan import PlacedDevice
    from generators.layout.picture import block_of, placed_block

    assert [block_of(n) for n in ("fc_in/Xw0_1", "layer1/fc_c1/M3", "layer0/cell2/M1", "rx_u0/Mdiode",
                                  "layer1/fc_o1/Xw", "fc_out/M1", "bias/nref", "layer0/res0/M1")] == \
        ["W_in", "W_c1", "cells of layer 0", "receivers u0", "W_o1", "W_out", "bias", "residual 0"]
    group = PlacedDevice("group:rx_in/M1", 0, 0, 10, 10, {}, (("rx_in/M1", 4), ("fc_in/Xw0", 3), ("fc_in/Xw1", 2)))
    assert placed_block(group) == "W_in"  # a signal's diode drawn with the weights that read it
    crossbar = PlacedDevice("fc_out", 0, 0, 10, 10, {}, (("rx_u2/t0", 4), ("rx_u2/d0", 4), ("fc_out/w_out_r0_c0", 1)))
    assert placed_block(crossbar) == "W_out"  # a crossbar holds its signals' receivers


def test_crossbar_floorplan_is_clean_deterministic_and_counts_only_tiles_as_devices(tmp_path):
    """--crossbars: each projection is one crossbar macro; a two-layer network stays DRC- and
    LVS-clean, the same weights give the same bytes, and the devices' share counts the tiles,
    not the crossbars' lanes and tracks."""
    from extract.lvs import run_lvs

    rng = np.random.default_rng(11)
    weights = tmp_path / "w.npz"
    save_weights(weights, validate(random_arrays(rng, n_in=3, width=3, layers=2, classes=2, grid=0.25)))
    outputs = generate(weights, tmp_path / "a", picture=False, crossbars=True)
    assert json.loads(outputs.spec.read_text())["crossbars"] is True
    from generators.array import crossbar_macros
    from generators.circuit.mapping import map_network
    from generators.circuit.netlist import flatten, parse_spice

    spec = map_network(load_weights(weights))
    devices = flatten(parse_spice(outputs.schematic.read_text()), "bmru_top")
    inside = {d.name.split("/")[-2] for m in crossbar_macros(spec, devices) for d in m.devices}
    assert {"rx_in", "rx_u0", "rx_h0", "rx_u1", "rx_h1", "rx_u2"} <= inside  # receivers at their bands' ends
    assert not {"rx_y0", "rx_y1"} & inside  # the residual's receivers read no projection
    assert run_drc(outputs.layout).violations == 0
    lvs = run_lvs(outputs.layout, outputs.schematic)
    assert lvs.match and lvs.devices_layout == lvs.devices_schematic
    again = generate(weights, tmp_path / "b", picture=False, crossbars=True)
    assert again.layout.read_bytes() == outputs.layout.read_bytes()
    macros = crossbar_macros(spec, devices)
    tiles = sum(m.component.info["tile_area_um2"] for m in macros)
    whole = sum(m.component.dbbox().width() * m.component.dbbox().height() for m in macros)
    assert 0 < tiles < 0.8 * whole  # lanes and tracks are not devices
    assert outputs.area["devices"] < outputs.area["total"] - (whole - tiles)
