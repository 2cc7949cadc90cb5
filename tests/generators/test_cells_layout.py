"""Every cell in generators/layout/cells over a few parameter sets is DRC-clean and LVS-clean against
the netlist written for it, and GDS output is byte-deterministic."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from extract.drc import run_drc
from extract.lvs import report_text, run_lvs
from generators.layout.cells import write_gds
from generators.layout.cells.group import finger_slots, matched_row, matched_row_spice
from generators.layout.cells.mirror import mirror, mirror_spice, unit_sequence
from generators.layout.cells.row import RowSpec, validate
from generators.layout.cells.taps import guard_ring, tap_strip
from generators.layout.cells.transistor import mosfet, mosfet_spice
from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT  # the repository

MOSFETS = [
    dict(polarity="n", w=1.0, l=0.18, fingers=1),
    dict(polarity="n", w=0.42, l=1.0, fingers=4),
    dict(polarity="n", w=5.0, l=4.0, fingers=3),
    dict(polarity="p", w=2.0, l=0.5, fingers=3),
    dict(polarity="p", w=0.42, l=0.15, fingers=1),
    dict(polarity="p", w=1.5, l=8.0, fingers=2),
]
MIRRORS = [
    dict(polarity="n", w=1.0, l=1.0, ref_units=2, out_units=(1, 3)),
    dict(polarity="p", w=0.5, l=0.5, ref_units=1, out_units=(2, 1, 1), common_centroid=True),
    dict(polarity="n", w=0.42, l=2.0, ref_units=3, out_units=(1,), dummies=False),
    dict(polarity="p", w=2.75, l=4.0, ref_units=4, out_units=(1, 2, 8, 3), common_centroid=True),
]
GROUPS = [  # odd and even finger counts, with and without a diode, both polarities
    dict(polarity="n", w=1.0, l=1.0, fingers=(8, 1, 2, 1, 3), diode=0),
    dict(polarity="p", w=1.0, l=1.0, fingers=(5, 2)),
    dict(polarity="n", w=0.42, l=0.5, fingers=(1, 1, 1), dummies=False),
    dict(polarity="p", w=0.5, l=0.18, fingers=(4, 3, 1, 1), diode=1, common_centroid=True),
    dict(polarity="n", w=1.025, l=20.0, fingers=(1, 1)),
]
TAPS = [
    ("strip", dict(polarity="p", length=2.0)),
    ("strip", dict(polarity="n", length=0.41)),
    ("ring", dict(polarity="p", inner_width=4.0, inner_height=3.0)),
    ("ring", dict(polarity="n", inner_width=0.63, inner_height=6.0)),
]


def _check(component, spice: str, tmp_path: Path) -> None:
    gds = write_gds(component, tmp_path / "cell.gds")
    drc = run_drc(gds)
    assert drc.clean, f"{component.name}: DRC {drc.failing()}"
    net = tmp_path / "cell.spice"
    net.write_text(spice)
    lvs = run_lvs(gds, net)
    assert lvs.match, report_text(lvs, lvs.lvs)


@pytest.mark.parametrize("params", MOSFETS, ids=lambda p: f"{p['polarity']}fet-w{p['w']}-l{p['l']}-f{p['fingers']}")
def test_mosfet_clean(params, tmp_path):
    c = mosfet(**params)
    _check(c, mosfet_spice(c.name, **params), tmp_path)


@pytest.mark.parametrize("params", MIRRORS, ids=lambda p: f"{p['polarity']}-r{p['ref_units']}-o{'_'.join(map(str, p['out_units']))}")
def test_mirror_clean(params, tmp_path):
    c = mirror(**params)
    spice_params = {k: v for k, v in params.items() if k not in ("dummies", "common_centroid")}
    _check(c, mirror_spice(c.name, **spice_params), tmp_path)


@pytest.mark.parametrize("params", GROUPS, ids=lambda p: f"{p['polarity']}-f{'_'.join(map(str, p['fingers']))}-d{p.get('diode')}")
def test_matched_row_clean(params, tmp_path):
    c = matched_row(**params)
    spice_params = {k: v for k, v in params.items() if k not in ("dummies", "common_centroid")}
    _check(c, matched_row_spice(c.name, **spice_params), tmp_path)


def test_matched_row_ports():
    c = matched_row(polarity="n", w=1.0, l=1.0, fingers=(4, 1, 3), diode=0)
    assert {p.name for p in c.ports} == {"gate", "source", "body", "d1", "d2"}
    c = matched_row(polarity="p", w=1.0, l=1.0, fingers=(1, 2))
    assert {p.name for p in c.ports} == {"gate", "source", "body", "d0", "d1"}


@pytest.mark.parametrize("fingers", [(1,), (2, 1), (8, 1, 2, 1, 3), (1, 1, 1, 1, 1), (7, 5, 3)])
@pytest.mark.parametrize("common_centroid", [False, True])
def test_finger_slots_keep_every_devices_finger_count(fingers, common_centroid):
    slots = finger_slots(fingers, common_centroid)
    counted = [0] * len(fingers)
    for slot in slots:
        for device in slot.devices:
            counted[device] += 2 if slot.kind == "unit" else 1
    assert tuple(counted) == fingers
    odd = sum(f % 2 for f in fingers)
    assert sum(s.kind == "pair" for s in slots) == odd // 2
    assert sum(s.kind == "lone" for s in slots) == odd % 2


def test_finger_slots_spread_units():
    slots = finger_slots((8, 8))
    assert [s.devices[0] for s in slots] == [0, 1, 0, 1, 0, 1, 0, 1]


def test_matched_row_breaks_only_where_odd_fingers_sit():
    assert matched_row(fingers=(4, 2), diode=0).info["breaks"] == 0
    assert matched_row(fingers=(3, 1, 5), diode=0).info["breaks"] == 2  # one pair, one lone


@pytest.mark.parametrize("breaks", [(0,), (3,), (1, 2)])
def test_row_refuses_breaks_that_leave_a_region_without_a_gate(breaks):
    spec = RowSpec(polarity="n", w=1000, l=1000, regions=("s", "d", "s", "d", "s"), source="s",
                   drains=("d",), breaks=breaks)
    with pytest.raises(ValueError, match="break"):
        validate(spec)


def test_matched_row_rejects_bad_params():
    with pytest.raises(ValueError):
        matched_row(fingers=())
    with pytest.raises(ValueError):
        matched_row(fingers=(2, 0))
    with pytest.raises(ValueError):
        matched_row(fingers=(2, 1), diode=2)


@pytest.mark.parametrize("kind,params", TAPS, ids=lambda x: str(x))
def test_taps_clean(kind, params, tmp_path):
    c = tap_strip(**params) if kind == "strip" else guard_ring(**params)
    _check(c, f".subckt {c.name} tie\n.ends\n", tmp_path)


def test_mirror_ports():
    c = mirror(polarity="n", w=1.0, l=1.0, ref_units=2, out_units=(1, 3))
    assert {p.name for p in c.ports} == {"gate", "source", "d1", "d2", "body"}


def test_unit_sequence_spreads_and_counts():
    seq = unit_sequence((2, 1, 3))
    assert sorted(seq) == [0, 0, 1, 2, 2, 2]
    cc = unit_sequence((2, 2, 4), common_centroid=True)
    assert cc == tuple(reversed(cc))


@pytest.mark.parametrize("bad", [dict(w=0.3), dict(l=0.1), dict(fingers=0), dict(polarity="x"), dict(w=1.0003)])
def test_mosfet_rejects_bad_params(bad):
    params = dict(polarity="n", w=1.0, l=0.18, fingers=1) | bad
    with pytest.raises(ValueError):
        mosfet(**params)


def test_mirror_rejects_bad_params():
    with pytest.raises(ValueError):
        mirror(out_units=())
    with pytest.raises(ValueError):
        mirror(out_units=(0,))


_GEN = """
import sys
from generators.layout.cells import write_gds
from generators.layout.cells.mirror import mirror
write_gds(mirror(polarity="p", w=0.5, l=0.5, ref_units=1, out_units=(2, 1, 1), common_centroid=True), sys.argv[1])
"""


def test_gds_is_byte_deterministic(tmp_path):
    c = mirror(polarity="p", w=0.5, l=0.5, ref_units=1, out_units=(2, 1, 1), common_centroid=True)
    a = write_gds(c, tmp_path / "a.gds")
    b = write_gds(c, tmp_path / "b.gds")
    subprocess.run([sys.executable, "-c", _GEN, str(tmp_path / "c.gds")], cwd=ROOT, check=True)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, tmp_path / "c.gds")}
    assert len(digests) == 1


# --------------------------------------------------------------------------------------
# the BMRU cell as one compact layout cell


def _reference_cells():
    from bmru.weights import load_weights
    from generators.circuit.mapping import map_network

    return map_network(load_weights(ROOT / "examples" / "kws_yes_d4.npz")).cells


def _cell_extremes():
    """Smallest and largest finger counts the mapping allows for beta1, delta and alpha."""
    from generators.circuit.mapping import MappingConfig

    grid = MappingConfig().cell
    low, high = int(round(grid.low / grid.step)), grid.max_fingers
    return [(low, low, low, 0), (high, high, high, 1), (low, high, low, 1), (high, low, high, 0)]


def _check_bmru_cell(params, tmp_path, row_um=None):
    from generators.layout.cells.bmru_cell import BmruCellParams, bmru_cell, bmru_cell_spice

    c = bmru_cell(*params, row_um=row_um)
    _check(c, bmru_cell_spice(BmruCellParams(*params), c.name), tmp_path)
    return c


@pytest.mark.parametrize("cell", _reference_cells(), ids=lambda c: c.name)
def test_bmru_cell_of_the_reference_is_clean(cell, tmp_path):
    from generators.layout.cells.bmru_cell import bmru_cell_for, params_of

    p = params_of(cell)
    c = _check_bmru_cell((p.beta1_fingers, p.delta_fingers, p.alpha_fingers, p.s0), tmp_path)
    assert c is bmru_cell_for(cell)


@pytest.mark.parametrize("params", _cell_extremes(), ids=lambda p: "b{}_d{}_a{}_s{}".format(*p))
def test_bmru_cell_extremes_are_clean(params, tmp_path):
    _check_bmru_cell(params, tmp_path)


@pytest.mark.parametrize("params", [(1, 1, 1, 0), (60, 60, 60, 1)], ids=lambda p: "b{}_d{}_a{}_s{}".format(*p))
def test_bmru_cell_of_another_sizing_is_clean(params, tmp_path):
    """Larger unit fingers and more fingers on the cell's line and candidate mirror: still DRC-
    and LVS-clean on its own, a cell of its own name (the shipped cells keep theirs), and the
    layout the array draws for that sizing."""
    from generators.circuit.mapping import CellSpec, Sizing
    from generators.layout.cells.bmru_cell import BmruCellParams, bmru_cell, bmru_cell_for, bmru_cell_sized, \
        bmru_cell_spice

    sizing = Sizing(2.0, bias_line_copies=16, cell_line_copies=8, cell_input_fingers=8)
    c = bmru_cell_sized(*params, unit_um=2.0, cell_line_copies=8, cell_input_fingers=8)
    _check(c, bmru_cell_spice(BmruCellParams(*params, sizing), c.name), tmp_path)
    assert c is bmru_cell_for(CellSpec(0, 0, *params), sizing=sizing)
    assert c.name != bmru_cell(*params).name and c.dbbox().width() > bmru_cell(*params).dbbox().width()


@pytest.mark.parametrize("unit_um", [1.0, 2.0])
def test_bmru_cell_with_a_state_keeper_is_clean(unit_um, tmp_path):
    """The keeper's eight devices are drawn and wired (DRC- and LVS-clean against the subcircuit
    that has them), in a cell of its own name."""
    from generators.circuit.mapping import CellSpec, Sizing
    from generators.layout.cells.bmru_cell import BmruCellParams, bmru_cell_for, bmru_cell_sized, bmru_cell_spice

    params = (13, 47, 18, 0)
    sizing = Sizing(unit_um, state_keeper=True)
    c = bmru_cell_sized(*params, unit_um=unit_um, state_keeper=True)
    spice = bmru_cell_spice(BmruCellParams(*params, sizing), c.name)
    assert {"Xkinvp", "Xkinvn", "Xkstp", "Xkup", "Xkupsw", "Xkstn", "Xkdn", "Xkdnsw"} <= {
        line.split()[0] for line in spice.splitlines()}
    _check(c, spice, tmp_path)
    assert c is bmru_cell_for(CellSpec(0, 0, *params), sizing=sizing)
    assert c.name != bmru_cell_sized(*params, unit_um=unit_um).name


@pytest.mark.parametrize("row_um", [24.0, 64.0])
def test_bmru_cell_with_a_given_row_length_is_clean(row_um, tmp_path):
    c = _check_bmru_cell((13, 47, 18, 0), tmp_path, row_um)
    assert c.info["width_um"] < row_um + 12  # rows plus the spine columns


def test_bmru_cell_ports_are_the_subcircuit_pins_on_met2_at_the_top_edge():
    from generators.layout.cells.bmru_cell import bmru_cell
    from generators.circuit.spice_cells import CELL_PINS

    c = bmru_cell(13, 47, 18, 0)
    assert [p.name for p in c.ports] == CELL_PINS
    top = c.dbbox().top
    for port in c.ports:
        assert (port.layer_info.layer, port.layer_info.datatype) == (69, 20)
        assert port.orientation == 90 and abs(port.dcenter[1] - top) < 1e-6


def test_bmru_cell_keeps_met3_free():
    from generators.layout.cells import to_layout
    from generators.layout.cells.bmru_cell import bmru_cell
    from pdk_sky130_180 import layers as L

    layout = to_layout(bmru_cell(60, 60, 60, 1))
    for layer in (L.VIA2, L.MET3):
        index = layout.find_layer(*layer.gds)
        assert index is None or layout.top_cell().bbox_per_layer(index).empty()


def test_bmru_cell_matched_sources_share_rows_when_widths_allow():
    from generators.layout.cells.bmru_cell import BmruCellParams, cell_plan
    from generators.circuit.spice_cells import UNIT_PFET, threshold_finger_width

    def blocks(beta2_fingers):
        params = BmruCellParams(beta2_fingers - 10, 10, 5, 0)
        return {item.padded.block.name.rsplit("_", 1)[0] for item in cell_plan(params).placed}

    widest_unit = max(f for f in range(2, 121) if threshold_finger_width(f) == UNIT_PFET.w_um)
    assert "pc_sources" in blocks(widest_unit)  # beta2, hold and alpha in one matched group
    assert {"beta2", "hold_alpha"} <= blocks(widest_unit + 1)  # widened threshold fingers: apart


@pytest.mark.parametrize("bad", [dict(beta1_fingers=0), dict(delta_fingers=1.5), dict(s0=2), dict(row_um=-1.0),
                                 dict(unit_um=1.5), dict(cell_line_copies=0)])
def test_bmru_cell_rejects_bad_params(bad):
    from generators.layout.cells.bmru_cell import bmru_cell_sized

    with pytest.raises(ValueError):
        bmru_cell_sized(**(dict(beta1_fingers=1, delta_fingers=1, alpha_fingers=1, s0=0) | bad))


_GEN_BMRU = """
import sys
from generators.layout.cells import write_gds
from generators.layout.cells.bmru_cell import bmru_cell
write_gds(bmru_cell(13, 47, 18, 0), sys.argv[1])
"""


def test_bmru_cell_gds_is_byte_deterministic(tmp_path):
    for name in ("a.gds", "b.gds"):
        subprocess.run([sys.executable, "-c", _GEN_BMRU, str(tmp_path / name)], cwd=ROOT, check=True)
    assert (tmp_path / "a.gds").read_bytes() == (tmp_path / "b.gds").read_bytes()


def test_macro_track_order_puts_a_rising_stub_below_a_falling_one_and_refuses_cycles():
    from generators.layout.cells.macro import COLUMN_PITCH, _track_order

    assert _track_order([("z", 0)], [("a", COLUMN_PITCH - 5)]) == ["z", "a"]
    assert _track_order([("z", 0)], [("a", COLUMN_PITCH)]) == ["a", "z"]  # far enough apart: by name
    assert _track_order([("a", 0), ("b", 5000)], [("b", 0), ("a", 5000)]) is None


def _plan_of(component):
    """The plan a bmru_cell component was drawn from (its settings are its parameters)."""
    from generators.layout.cells.bmru_cell import BmruCellParams, cell_plan

    keys = ("beta1_fingers", "delta_fingers", "alpha_fingers", "s0")
    return cell_plan(BmruCellParams(*(component.settings[k] for k in keys)), component.settings["row_um"])


def test_bmru_cell_with_unpaired_rows_is_clean(tmp_path, monkeypatch):
    """Rows that cannot share a channel get one each: that layout is clean too."""
    from generators.layout.cells import macro

    monkeypatch.setattr(macro, "_track_order", lambda lower, upper: None)
    c = _check_bmru_cell((13, 47, 18, 1), tmp_path, row_um=41.0)  # a size no other test caches
    assert not any(item.flipped for item in _plan_of(c).placed)


@pytest.mark.parametrize("seed, columns, bands", [(0, 3, 2), (1, 5, 4), (2, 4, 6)])
def test_crossbar_is_drc_and_lvs_clean(seed, columns, bands, tmp_path):
    """A crossbar of random weights up to the grid's 12 fingers of either sign, with a bias
    band, empty crossings, and receivers (diode stacks of 4 or 8 fingers, with and without a
    converter) at the bands' ends, matches its reference netlist and breaks no rule; only the
    exported lines get a port."""
    import numpy as np

    from generators.layout.cells.crossbar import Band, CrossbarSpec, Receiver, crossbar, crossbar_spice

    rng = np.random.default_rng(seed)
    rows = []
    for j in range(bands):
        fingers = tuple(int(k) for k in rng.integers(-12, 13, columns))
        converter = 1 if any(k > 0 for k in fingers) or j % 2 else 0
        rows.append(Band(f"sa{j}", f"st{j}", f"sp{j}", fingers, Receiver(8 if j % 3 == 0 else 4, converter, 0.96)
                         if seed else None))
    rows.append(Band("nb", "iref", "pb", tuple(int(k) for k in rng.integers(-3, 4, columns))))
    exported = None if seed == 0 else tuple(f"st{j}" for j in range(bands)) + ("nb", "iref", "pb", "sp0")
    spec = CrossbarSpec(tuple(f"t{i}" for i in range(columns)), tuple(rows), exported=exported)
    component = crossbar(spec)
    ports = [port.name for port in component.ports]
    assert {f"t{i}" for i in range(columns)} <= set(ports) and "vss" in ports
    if exported is not None:
        assert not {f"sa{j}" for j in range(bands)} & set(ports)
    assert all(port.orientation == 90 for port in component.ports)
    _check(component, crossbar_spice(spec, component.name, ports), tmp_path)
