"""Parasitic extraction (KPEX 2.5D) against a hand estimate, and the drop-in netlist wrapper."""

from __future__ import annotations

import klayout.db as kdb
import pytest

from extract.lvs import run_lvs, write_reports
from extract.pex import extract_parasitics, net_capacitances, wrap_netlist
from generators.circuit.netlist import parse_spice
from pdk_sky130_180 import layers as L
from pdk_sky130_180.pex import SUBSTRATE_CAP_AF, SUBSTRATE_TIE

PLATE_W, PLATE_L = 10.0, 100.0  # µm


def plate_gds(path):
    """A met1 plate over bare field, wired to the gate of a small nfet (a net needs a device to
    survive extraction), labelled ``a``."""
    from generators.layout.cells import transistor

    fet = transistor.nfet(w=1.0, l=1.0)
    layout = kdb.Layout()
    layout.dbu = 0.001
    top = layout.create_cell("plate")
    inner = layout.create_cell(fet.name)
    inner.copy_tree(fet.kdb_cell)
    top.insert(kdb.CellInstArray(inner.cell_index(), kdb.Trans()))
    gate = fet.ports["gate"]
    x, y = gate.dcenter
    met1 = layout.layer(*L.MET1.gds)
    top.shapes(met1).insert(kdb.DBox(x - 0.1, y - 0.13, x + 2.0, y + 0.13))  # jog from the gate pin
    plate = kdb.DBox(x + 2.0, y - PLATE_W / 2, x + 2.0 + PLATE_L, y + PLATE_W / 2)
    top.shapes(met1).insert(plate)
    top.shapes(layout.layer(*L.MET1_PIN.gds)).insert(plate)
    top.shapes(layout.layer(*L.MET1_LABEL.gds)).insert(kdb.DText("a", kdb.DTrans(plate.center().x, plate.center().y)))
    options = kdb.SaveLayoutOptions()
    options.write_context_info = False
    layout.write(str(path), options)


def net_cap_fF(netlist: str, net: str) -> float:
    """Sum of the capacitors touching ``net`` (to substrate and to other nets)."""
    return net_capacitances(netlist).get(net, 0.0)


def test_met1_plate_matches_hand_estimate(tmp_path):
    plate_gds(tmp_path / "plate.gds")
    (tmp_path / "schematic.spice").write_text(
        ".subckt plate a\nXm drain a source vss sky130_fd_pr__nfet_01v8 w=1 l=1\n.ends plate\n")
    result = run_lvs(tmp_path / "plate.gds", tmp_path / "schematic.spice")
    assert result.match, (tmp_path / "lvs.txt")
    write_reports(result, tmp_path)
    pex = extract_parasitics(tmp_path / "lvs.lvsdb", tmp_path / "schematic.spice")
    area, fringe = SUBSTRATE_CAP_AF["met1"]
    # parallel plate plus fringe along the perimeter, published sky130 coefficients
    estimate_fF = (PLATE_W * PLATE_L * area + 2 * (PLATE_W + PLATE_L) * fringe) * 1e-3
    assert pex.capacitors >= 1
    assert net_cap_fF(pex.netlist, "a") == pytest.approx(estimate_fF, rel=0.15)
    # the drop-in keeps the schematic's name and pins
    circuits = parse_spice(pex.netlist)
    assert circuits["plate"].pins == ("a",)


def test_wrapper_renames_internal_nets_and_ties_substrate():
    kpex_text = "\n".join([
        "***     Extraction Engine: KPEX/2.5D",
        "***     Date: 2026-11-30 13:12:12",
        ".SUBCKT top b a \\$7 sky130_gnd",
        "X$1 a b \\$7 sky130_gnd sky130_fd_pr__nfet_01v8 l=1 w=2",
        "Cext_1 \\$7 a 1.5f",
        "Cext_2 a sky130_gnd 2.5f",
        ".ENDS top",
    ])
    text, caps, resistors, total = wrap_netlist(kpex_text, "top", ("a", "b"))
    assert (caps, resistors) == (2, 0) and total == pytest.approx(4.0)
    assert "\\$" not in text and "pex_7" in text
    assert "Date:" not in text and "Extraction Engine" in text  # same extraction, same bytes
    circuits = parse_spice(text)
    assert circuits["top"].pins == ("a", "b")
    core = circuits["top"].instances[0]
    assert core.cell == "top_pex_core" and core.nets == ("b", "a", "pex_7", SUBSTRATE_TIE)


def test_folded_fingers_are_restored_to_unit_devices():
    from extract.pex import restore_fingers

    folded = "X$1 d g s b sky130_fd_pr__nfet_01v8 l=1 w=8 as=1.6 ad=1.6 ps=16 pd=16\nX$2 d g s b sky130_fd_pr__nfet_01v8 l=1 w=0.42\n"
    text = restore_fingers(folded, {1.0: {1.0, 0.42}})
    first, second = text.splitlines()
    assert first.endswith(" m=8") and " w=1 " in first and "as=0.2 " in first and "pd=2" in first
    assert second == "X$2 d g s b sky130_fd_pr__nfet_01v8 l=1 w=0.42"


def test_small_couplings_move_to_the_substrate_keeping_each_nodes_capacitance():
    from extract.pex import ground_couplings

    netlist = "\n".join([
        ".SUBCKT core a b c sky130_gnd",
        "C1 a b 0.2f",  # below the floor: becomes 0.2 fF from a and from b to the substrate
        "C2 a c 0.3f",
        "C3 b c 2f",  # above: kept
        "C4 a sky130_gnd 1f",  # already to the substrate: kept
        ".ENDS core",
    ])
    text, moved, signal, moved_fF = ground_couplings(netlist, 0.5)
    assert (moved, signal, moved_fF) == (2, 0, pytest.approx(0.5))
    for node in "abc":
        assert net_cap_fF(text, node) == pytest.approx(net_cap_fF(netlist, node))
    kept = [line.split()[1:3] for line in text.splitlines() if line.startswith("C")]
    assert ["a", "b"] not in kept and ["a", "c"] not in kept and ["b", "c"] in kept
    assert all("sky130_gnd" in pair for pair in kept if pair != ["b", "c"])
    assert text.splitlines()[-1] == ".ENDS core"
    assert ground_couplings(netlist, 0.0) == (netlist, 0, 0, 0.0)


# A current-mode cell in miniature: a mirror (diode d, output o), a comparator node x that a
# current source fights the mirror on, a switch driving the state s, gated by en.
CELL_CORE = "\n".join([
    ".SUBCKT core d o x s en vdd vss sky130_gnd",
    "X$1 d d vss vss sky130_fd_pr__nfet_01v8 l=1 w=1",
    "X$2 o d vss vss sky130_fd_pr__nfet_01v8 l=1 w=1",
    "X$3 o o vdd vdd sky130_fd_pr__pfet_01v8 l=1 w=1",
    "X$4 x o vdd vdd sky130_fd_pr__pfet_01v8 l=1 w=1",
    "X$5 x d vss vss sky130_fd_pr__nfet_01v8 l=1 w=1",
    "X$6 s x n1 vss sky130_fd_pr__nfet_01v8 l=0.5 w=0.42",
    "X$7 n1 en vss vss sky130_fd_pr__nfet_01v8 l=0.5 w=0.42",
    "X$8 x vss x vdd sky130_fd_pr__pfet_01v8 l=0.5 w=0.42",
    "Cext_1 d o 3f",  # two mirror nets, below the signal floor: moved
    "Cext_2 o n1 2f",  # n1 is no gate: a signal net too, moved
    "Cext_9 d o 8f",  # a large signal coupling: kept
    "Cext_3 d x 4f",  # the decision node: kept
    "Cext_4 en o 0.7f",  # the enable: kept
    "Cext_5 s d 0.2f",  # below the floor: moved whatever its nets
    "Cext_6 d sky130_gnd 1f",
    "Cext_7 d sky130_gnd 0.5f",  # a second substrate capacitor of d: folded into one
    "Cext_8 o vdd 9f",  # to a supply: moved whatever its size
    ".ENDS core",
])


def test_net_roles_switching_nets_are_gates_no_diode_holds():
    from extract.pex import net_roles

    # d and o are diode-held mirror gates; vss and vdd are supplies (bulks), though vss is a gate
    assert net_roles(CELL_CORE.splitlines()) == ({"x", "en"}, {"vss", "vdd"})


def test_signal_and_supply_couplings_move_to_the_substrate_and_switching_ones_stay():
    from extract.pex import ground_couplings

    text, small, signal, moved_fF = ground_couplings(CELL_CORE, 0.5, signal_floor_fF=5.0)
    assert (small, signal, moved_fF) == (1, 3, pytest.approx(14.2))
    couplings = sorted(tuple(line.split()[1:4]) for line in text.splitlines()
                       if line.startswith("C") and "sky130_gnd" not in line)
    assert couplings == [("d", "o", "8f"), ("d", "x", "4f"), ("en", "o", "0.7f")]
    for node in ("d", "o", "x", "s", "en", "n1", "vdd"):
        assert net_cap_fF(text, node) == pytest.approx(net_cap_fF(CELL_CORE, node))
    substrate = [line.split()[1] for line in text.splitlines() if "sky130_gnd" in line and line.startswith("C")]
    assert len(substrate) == len(set(substrate))  # one capacitor to the substrate per node
    assert ground_couplings(CELL_CORE, 0.5)[1:3] == (1, 0)  # no signal floor: only the small one


def test_ambiguous_widths_take_the_unit_of_their_schematic_twin():
    from extract.pex import restore_fingers

    # 24 µm is 24 fingers of 1 µm or 25 of 0.96 µm; 52.02 µm is 51 of 1.02 µm, not 52 of 1 µm
    folded = ("X$108 d g s b sky130_fd_pr__pfet_01v8 l=1 w=24 as=4.8 ad=4.8 ps=48 pd=48\n"
              "X$479 d g s b sky130_fd_pr__pfet_01v8 l=1 w=52.02 as=5.1 ad=5.1 ps=51 pd=51\n")
    units = {1.0: {0.96, 1.0, 1.02}}
    alpha, beta = restore_fingers(folded, units, {"$108": 1.0, "$479": 1.02}).splitlines()
    assert " w=1 " in alpha and alpha.endswith(" m=24") and "as=0.2 " in alpha
    assert " w=1.02 " in beta and beta.endswith(" m=51") and "ps=1 " in beta
    # without the cross-reference, only exact multiples count (52.02 is not 52 fingers of 1 µm)
    _, beta_guess = restore_fingers(folded, units).splitlines()
    assert " w=1.02 " in beta_guess and beta_guess.endswith(" m=51")


KPEX_TWO_NETS = "\n".join([
    ".SUBCKT top a b rst sky130_gnd",
    "X$1 a b sky130_gnd sky130_gnd sky130_fd_pr__nfet_01v8 l=1 w=1",
    "X$2 rst a sky130_gnd sky130_gnd sky130_fd_pr__nfet_01v8 l=1 w=1",
    "Cext_1 a b 0.2f",  # below the floor: moved to the substrate
    "Cext_2 rst b 0.1f",
    "Cext_3 a sky130_gnd 2f",
    ".ENDS top",
])


def test_moved_couplings_land_on_the_cores_substrate_in_a_wrapped_netlist():
    """The drop-in netlist has two sub-circuits (the extracted core and the wrapper with the
    schematic's pins); the moved capacitors must end on the core's substrate pin, which the
    wrapper ties to vss, not on a new node of the wrapper that nothing drives."""
    from extract.pex import floating_nodes, ground_couplings

    wrapped, *_ = wrap_netlist(KPEX_TWO_NETS, "top", ("a", "b", "rst"))
    text, moved, _, _ = ground_couplings(wrapped, 0.5)
    assert moved == 2
    lines = text.splitlines()
    core_start = next(i for i, line in enumerate(lines) if line.lower().startswith(".subckt top_pex_core"))
    core_end = next(i for i, line in enumerate(lines) if line.lower().startswith(".ends top_pex_core"))
    grounded = [i for i, line in enumerate(lines) if line.startswith("Cgnd_")]
    assert grounded and all(core_start < i < core_end for i in grounded)
    assert floating_nodes(text) == []


def test_floating_node_check_names_the_node():
    from extract.pex import PexError, check_floating_nodes, floating_nodes

    buggy = "\n".join([
        ".subckt core a b sky130_gnd", "X1 a b sky130_gnd sky130_gnd sky130_fd_pr__nfet_01v8 l=1 w=1",
        ".ends core",
        ".subckt top a b", "Xcore a b vss core", "Cgnd_0 a sky130_gnd 0.2f", "Cgnd_1 b sky130_gnd 0.2f",
        ".ends top",
    ])
    assert floating_nodes(buggy) == [("top", "sky130_gnd")]
    with pytest.raises(PexError, match="node sky130_gnd in sub-circuit top connects only to capacitors"):
        check_floating_nodes(buggy)
    # a pin that only meets capacitors inside its sub-circuit is driven from outside: fine
    check_floating_nodes(".subckt top a b\nC1 a b 1f\n.ends top\n")


def test_provenance_line_round_trips():
    from extract.pex import provenance, provenance_line

    record = {"lvsdb_sha256": "ab" * 32, "layout_sha256": "cd" * 32}
    assert provenance(provenance_line(record) + "\n.subckt top a\n.ends top\n") == record
    assert provenance(".subckt top a\n.ends top\n") is None
