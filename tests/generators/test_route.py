"""The channel router joins exactly the pins of each net: checked by extracting connectivity."""

from __future__ import annotations

import klayout.db as kdb
import numpy as np
import pytest

from generators.layout import floorplan as array_layout
from generators.layout import route
from generators.circuit.netlist import Device
from pdk_sky130_180 import layers as L
from pdk_sky130_180.devices import NFET, PFET, TERMINALS

PAD = route.VIA1_PAD


def pad_cell(layout: kdb.Layout, device: Device) -> array_layout.CellTemplate:
    """Stand-in for a transistor: four met1 pads in a row, one per terminal."""
    name = f"pads_{device.model[-8:]}_{device.multiplier}"
    cell = layout.create_cell(name)
    met1 = layout.layer(*L.MET1.gds)
    pitch = route.STUB_PITCH + 10 * device.multiplier
    pins = {}
    for index, terminal in enumerate(TERMINALS):
        x, y = 300 + index * pitch, 400
        cell.shapes(met1).insert(kdb.Box(x - PAD // 2, y - PAD // 2, x + PAD // 2, y + PAD // 2))
        pins[terminal] = (x, y)
    return array_layout.CellTemplate(cell.cell_index(), 600 + 3 * pitch, 800, pins, dict.fromkeys(pins, "met1"))


def random_devices(seed: int, count: int, nets: int) -> list[Device]:
    rng = np.random.default_rng(seed)
    names = [f"n{k}" for k in range(nets)]
    return [Device(f"m{k:03d}", PFET if rng.random() < 0.4 else NFET,
                   {t: names[rng.integers(nets)] for t in TERMINALS}, 1.0, 1.0, int(rng.integers(1, 4)))
            for k in range(count)]


def extracted_pin_nets(layout: kdb.Layout, top: kdb.Cell) -> kdb.LayoutToNetlist:
    """Connectivity of met1..met3 through via and via2."""
    l2n = kdb.LayoutToNetlist(kdb.RecursiveShapeIterator(layout, top, []))
    regions = {name: l2n.make_layer(layout.layer(*layer.gds), name) for name, layer in L.ROUTING.items()}
    for name in regions.values():
        l2n.connect(name)
    for cut in L.CONNECTIVITY:
        l2n.connect(regions[cut.lower.name], regions[cut.cut.name])
        l2n.connect(regions[cut.cut.name], regions[cut.upper.name])
    l2n.extract_netlist()
    return l2n


@pytest.mark.parametrize("seed, count, nets, row_width, pack", [
    (1, 12, 5, 30.0, False), (2, 40, 17, 40.0, False), (3, 7, 3, None, False),
    (2, 40, 17, 40.0, True), (6, 60, 90, 30.0, True)])
def test_router_connects_exactly_the_nets(seed, count, nets, row_width, pack):
    devices = random_devices(seed, count, nets)
    used = sorted({n for d in devices for n in d.nets.values()})
    layout, result = array_layout.build(devices, tuple(used[:2]), "TOP", pad_cell, row_width, pack=pack)
    top = layout.cell("TOP")
    l2n = extracted_pin_nets(layout, top)
    assert result.rows >= (2 if row_width else 1)
    # every pad of the same intended net lands on the same extracted net, different nets differ
    met1 = l2n.layer_by_name("met1")
    probes: dict[str, set] = {}
    by_name = {d.name: d for d in devices}
    for placed in result.placed:
        for terminal, (x, y) in placed.pins.items():
            net = l2n.probe_net(met1, kdb.DPoint(x / 1000, y / 1000))
            assert net is not None, f"{placed.name}.{terminal} not connected"
            probes.setdefault(by_name[placed.name].nets[terminal], set()).add(net.cluster_id)
    assert len(result.placed) == len(devices)
    for name, clusters in probes.items():
        assert len(clusters) == 1, f"net {name} split into {len(clusters)} pieces"
    all_clusters = [next(iter(c)) for c in probes.values()]
    assert len(set(all_clusters)) == len(all_clusters), "two nets shorted"


def test_packing_shares_tracks_and_spine_columns_only_where_spans_are_disjoint():
    pitch = route.STUB_PITCH
    pins = [route.Pin("a", 0, 0), route.Pin("a", 2 * pitch, 0),  # a: west, local
            route.Pin("s", 6 * pitch, 0),  # s: runs on to the spine, starts east of a
            route.Pin("b", 7 * pitch, 0), route.Pin("b", 9 * pitch, 0),  # b: under s's track, east of c
            route.Pin("c", pitch, 0)]  # c: inside a's span
    tracks = route.channel_tracks(pins, {"s": "e"}, pack=True)
    assert tracks["a"] == tracks["s"] != tracks["c"] == tracks["b"]
    assert sorted(route.channel_tracks(pins, {"s": "e"}).values()) == [0, 1, 2, 3]  # unpacked: a track each
    # a net on the west spine and one on the east spine share a track when their pins do not overlap
    two = [route.Pin("w", pitch, 0), route.Pin("e", 5 * pitch, 0), route.Pin("x", 3 * pitch, 0)]
    tracks = route.channel_tracks(two, {"w": "w", "e": "e", "x": "e"}, pack=True)
    assert tracks["w"] == tracks["e"] != tracks["x"]
    assert route.spine_sides([two, two], 6 * pitch, two_sided=True) == {"w": "w", "e": "e", "x": "e"}
    assert set(route.spine_sides([two, two], 6 * pitch).values()) == {"e"}
    columns = route.spine_columns({"p": [0, 1], "q": [2, 3], "r": [1, 2], "x": [4]}, route.by_name, pack=True)
    assert columns["p"] == columns["q"] != columns["r"] and "x" not in columns
    assert len(set(route.spine_columns({"p": [0, 1], "q": [2, 3]}, route.by_name, pack=False).values())) == 2


def test_packing_makes_the_block_smaller():
    """A chain of devices: most nets join neighbours in one row, so their tracks can share."""
    devices = [Device(f"m{k:03d}", NFET, {"d": f"n{k}", "g": f"g{k % 3}", "s": f"n{k + 1}", "b": "vss"}, 1.0, 1.0, 1)
               for k in range(60)]
    _, plain = array_layout.build(devices, (), "TOP", pad_cell, 30.0)
    _, packed = array_layout.build(devices, (), "TOP", pad_cell, 30.0, pack=True)
    assert packed.width_um * packed.height_um < plain.width_um * plain.height_um


def test_same_input_same_bytes(tmp_path):
    devices = random_devices(5, 15, 6)
    outputs = []
    for attempt in range(2):
        layout, _ = array_layout.build(devices, ("n0",), "TOP", pad_cell, 30.0)
        path = tmp_path / f"a{attempt}.gds"
        array_layout.write_gds(layout, path)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


def test_pin_pitch_too_small_is_refused():
    pins = [route.Pin("a", 0, 0), route.Pin("b", route.STUB_PITCH - 5, 0)]
    with pytest.raises(ValueError, match="pin pitch too small"):
        route.route([pins], [1000], 2000, ())


def pad_group_cell(layout: kdb.Layout, group) -> array_layout.CellTemplate:
    """Stand-in for a matched row: one met1 pad per pin of the group."""
    cell = layout.create_cell(f"group_pads_{len(group.nets)}")
    met1 = layout.layer(*L.MET1.gds)
    pins = {}
    for index, pin in enumerate(group.nets):
        x, y = 300 + index * route.STUB_PITCH, 400
        cell.shapes(met1).insert(kdb.Box(x - PAD // 2, y - PAD // 2, x + PAD // 2, y + PAD // 2))
        pins[pin] = (x, y)
    return array_layout.CellTemplate(cell.cell_index(), 600 + len(pins) * route.STUB_PITCH, 800, pins,
                                     dict.fromkeys(pins, "met1"))


def test_groups_are_one_cell_each_and_their_pins_are_routed_by_net():
    from generators.layout.groups import matched_groups

    devices = random_devices(4, 20, 8) + [
        Device("x_ref", NFET, {"d": "g0", "g": "g0", "s": "n1", "b": "n1"}, 1.0, 1.0, 4),
        Device("x_out1", NFET, {"d": "n2", "g": "g0", "s": "n1", "b": "n1"}, 1.0, 1.0, 1),
        Device("x_out2", NFET, {"d": "n5", "g": "g0", "s": "n1", "b": "n1"}, 1.0, 1.0, 3)]
    groups = [g for g in matched_groups(devices) if g.nets["gate"] == "g0"]
    assert len(groups) == 1
    layout, result = array_layout.build(devices, ("n1",), "TOP", pad_cell, 30.0, groups=groups,
                                        make_group_cell=pad_group_cell)
    assert result.groups == 1 and len(result.placed) == len(devices) - 2
    l2n = extracted_pin_nets(layout, layout.cell("TOP"))
    met1 = l2n.layer_by_name("met1")
    nets_of = {d.name: d.nets for d in devices} | {g.name: g.nets for g in groups}
    probes: dict[str, set] = {}
    for placed in result.placed:
        for pin, (x, y) in placed.pins.items():
            net = l2n.probe_net(met1, kdb.DPoint(x / 1000, y / 1000))
            probes.setdefault(nets_of[placed.name][pin], set()).add(net.cluster_id)
    assert all(len(c) == 1 for c in probes.values())
    clusters = [next(iter(c)) for c in probes.values()]
    assert len(set(clusters)) == len(clusters)


def test_pad_column_jogs_are_checked_once_for_both_routers():
    """A met2 extension must pass below a nearer column's lowest pad (its stub rises from there);
    a met1 extension must clear a nearer met1 pad. Both routers use this one check."""
    from generators.layout.pads import Jog, check_jogs
    from pdk_sky130_180.wires import VIA1_PAD

    near = ("a", [Jog("p0", 5000, 140, "met1"), Jog("p1", 9000, 140, "met2")])
    check_jogs("cell", [near, ("b", [Jog("q", 5000 - VIA1_PAD - 500, 140, "met2")])])  # well below: fine
    with pytest.raises(ValueError, match="q would cross the stub of a"):
        check_jogs("cell", [near, ("b", [Jog("q", 5000 + 100, 140, "met2")])])
    with pytest.raises(ValueError, match="q would touch the pad of a"):
        check_jogs("cell", [near, ("b", [Jog("q", 5000 + 200, 140, "met1")])])
    check_jogs("cell", [near, ("b", [Jog("q", 5000 + 2 * VIA1_PAD, 140, "met1")])])
