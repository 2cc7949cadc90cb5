"""The grouping pass (generators.layout.groups) and how the array accounts for group cells."""

from __future__ import annotations

from generators.layout import floorplan as array_layout
from generators.array import device_areas
from generators.layout.groups import DeviceGroup, fingers_per_row, matched_groups
from generators.circuit.netlist import Device
from pdk_sky130_180.devices import NFET, PFET


def nfet(name: str, d: str, g: str, s: str = "vss", m: int = 1, w: float = 1.0) -> Device:
    return Device(name, NFET, {"d": d, "g": g, "s": s, "b": "vss"}, w, 1.0, m)


def test_diode_and_outputs_of_one_gate_form_a_group_with_the_diode_first():
    devices = [nfet("fc/w0", "k0", "a"), nfet("rx/d", "a", "a", m=8), nfet("fc/w1", "k1", "a", m=3),
               nfet("fc/w0_cas", "t0", "st", s="k0")]
    (group,) = matched_groups(devices)
    assert [d.name for d in group.devices] == ["rx/d", "fc/w0", "fc/w1"]
    assert group.diode == 0 and group.fingers == (8, 1, 3)
    assert group.nets == {"gate": "a", "source": "vss", "body": "vss", "d1": "k0", "d2": "k1"}
    assert group.name == "group:fc/w0"  # placed where its first device by name would be


def test_different_width_source_or_model_splits_and_singletons_stay_alone():
    devices = [nfet("a", "x1", "g"), nfet("b", "x2", "g", w=0.96), nfet("c", "x3", "g", s="other"),
               Device("d", PFET, {"d": "x4", "g": "g", "s": "vdd", "b": "vdd"}, 1.0, 1.0, 1)]
    assert matched_groups(devices) == []


def test_repeated_drains_and_drain_on_source_stay_out():
    devices = [nfet("a", "x", "g"), nfet("b", "x", "g"), nfet("c", "vss", "g"), nfet("d", "y", "g")]
    (group,) = matched_groups(devices)
    assert [d.name for d in group.devices] == ["a", "d"]


def test_long_sets_are_cut_into_rows_of_whole_devices():
    devices = [nfet("ref", "g", "g", m=4)] + [nfet(f"o{k}", f"x{k}", "g", m=3) for k in range(6)]
    row_um = 13.5 * (1.0 + 0.28)  # ten fingers of L = 1 µm and three dummies
    assert fingers_per_row(1.0, row_um) == 10 and fingers_per_row(20.0, row_um) == 2
    groups = matched_groups(devices, max_row_um=row_um)
    assert [g.fingers for g in groups] == [(4, 3, 3), (3, 3, 3)]
    assert groups[0].diode == 0 and groups[1].diode is None
    assert sum(len(g.devices) for g in groups) == 6  # the last output is left alone


def test_group_area_is_shared_by_fingers():
    members = (("a", 1), ("b", 3))
    placed = (array_layout.PlacedDevice("group:a", 0, 0, 10_000, 1_000, {}, members),
              array_layout.PlacedDevice("c", 0, 0, 2_000, 1_000, {}))
    result = array_layout.LayoutResult("T", 1.0, 1.0, 3, 1, 0, placed, 1)
    areas = device_areas(result)
    whole = (10_000 + array_layout.CELL_GAP) * 1_000 * 1e-6
    assert abs(areas["a"] - whole / 4) < 1e-9 and abs(areas["b"] - 3 * whole / 4) < 1e-9
    assert set(areas) == {"a", "b", "c"}


def test_group_key_depends_on_shape_not_nets():
    one = DeviceGroup((nfet("r", "a", "a", m=2), nfet("o", "k", "a")))
    two = DeviceGroup((nfet("r2", "b", "b", m=2), nfet("o2", "j", "b")))
    assert one.key() == two.key()


def test_cascodes_follow_their_group_in_placement_order():
    devices = [nfet("a/ref", "g", "g", m=4), nfet("z/out", "k", "g"), nfet("z/out_cas", "t", "c", s="k"),
               nfet("b/other", "q", "r"), nfet("c/input", "i", "i", s="g")]
    (group,) = matched_groups(devices)
    singles = [d for d in devices if d not in group.devices]
    order = [item.name for item in array_layout.placement_order(singles + [group])]
    # the group sits where a/ref would; the device on the diode's drain, then the cascode on
    # the output's drain, come right after it; the rest keeps its order by name
    assert order == ["group:a/ref", "c/input", "z/out_cas", "b/other"]
