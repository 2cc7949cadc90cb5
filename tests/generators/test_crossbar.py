"""The dense crossbar floorplan (issue #20): each band packs its own tiles and the summing lanes
jog between bands; tiles and bands sit as close as the spacing rules between what they draw
allow; PMOS sources fold into two rows in the height a band of sinks has. The pure planning functions are checked for their invariants, the drawn crossbar by DRC
and LVS on weights chosen to make every lane jog."""

from __future__ import annotations

import numpy as np
import pytest

from extract.drc import run_drc
from extract.lvs import report_text, run_lvs
from generators.layout.cells import write_gds
from generators.layout.cells.crossbar import (EAST, LANE_CLEARANCE, NORTH, SOUTH, WEST, Band, BandGap, CrossbarSpec,
                                              Outline, Receiver, _tile_of, band_face, band_gap, clearance, crossbar,
                                              crossbar_spice, folded_source_tile, landing_depths, landings_clear,
                                              outline, plan_columns, receiver_tile, summing_lane, weight_tile)
from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.devices import fet
from pdk_sky130_180.wires import STUB, STUB_PITCH, dbu

HALF = STUB.width // 2


def _box(width: int, inset: int = 0) -> Outline:
    """A tile ``width`` wide whose met1 and met2 reach its edges and whose n-well stays ``inset`` inside."""
    return Outline(width, 4000, {L.MET1: (0, 0, 0, 0), L.MET2: (0, 0, 0, 0), L.NWELL: (inset,) * 4})


def _random_tiles(seed: int, bands: int, columns: int) -> list[list[Outline | None]]:
    rng = np.random.default_rng(seed)
    return [[None if rng.random() < 0.15 else _box(int(rng.integers(1, 40)) * 500, int(rng.integers(0, 4)) * 300)
             for _ in range(columns)] for _ in range(bands)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plan_columns_keeps_tiles_beside_their_lanes_and_jogs_apart(seed):
    """Every tile lies between its column's lane and the one west of it, with m2.2 to both (the
    port pad's clearance to the west one), two tiles of a band keep the rules' clearance, lanes
    of a band keep a stub pitch, and where two bands meet each lane's jog clears its neighbours'."""
    tiles = _random_tiles(seed, bands=9, columns=12)
    start = 3000
    plan = plan_columns(tiles, start)
    for b, row in enumerate(tiles):
        west_lane, west_tile = start - LANE_CLEARANCE, None
        for i, tile in enumerate(row):
            x = plan.lane_x[b][i]
            assert x >= west_lane + STUB_PITCH
            if tile is not None:
                left = plan.tile_left[b][i]
                assert left >= start and left >= west_lane + LANE_CLEARANCE
                assert left + tile.width + dbu(R.M2_SPACE) + HALF <= x
                if west_tile is not None:
                    assert left - west_tile[0] >= clearance(west_tile[1].facing(EAST), tile.facing(WEST))
                west_tile = (left + tile.width, tile)
            west_lane = x
    for b in range(len(tiles) - 1):
        for i in range(len(tiles[0]) - 1):
            here = (plan.lane_x[b][i], plan.lane_x[b + 1][i])
            east = (plan.lane_x[b][i + 1], plan.lane_x[b + 1][i + 1])
            assert max(here) + STUB_PITCH <= min(east)


def test_plan_columns_is_narrower_than_one_width_per_column():
    """A column need not be as wide as its widest tile: wide tiles on a diagonal cost about one
    wide tile per band, not one per column."""
    wide, narrow = _box(20000), _box(5000)
    tiles = [[wide if i == b else narrow for i in range(6)] for b in range(6)]
    plan = plan_columns(tiles, 0)
    widest_per_column = 6 * (20000 + 2 * LANE_CLEARANCE)
    assert plan.right < 0.6 * widest_per_column
    assert len({row[0] for row in plan.lane_x}) > 1  # the lanes jog


def test_summing_lane_jogs_only_where_it_moves():
    """One met2 rectangle per band, plus a jog at the given height where the lane moves; the
    lane starts a pad below its first tile's band top and ends on the top edge."""
    rects = summing_lane([1000, 1000, 4000, 2000], [5000, 10000, 15000, 20000], [240, 240, 240], 1, 20000)
    verticals = [r for r in rects if r[2] - r[0] == STUB.width]
    jogs = [r for r in rects if r[2] - r[0] != STUB.width]
    assert len(verticals) == 3 and verticals[0][1] == 10000 - 320 and verticals[-1][3] == 20000
    assert [(r[0], r[2], r[1] + HALF) for r in jogs] == [(1000 - HALF, 4000 + HALF, 10240),
                                                        (2000 - HALF, 4000 + HALF, 15240)]
    for lower, upper in zip(verticals, verticals[1:]):
        assert lower[3] >= upper[1]  # each piece reaches the next one's jog


def test_clearance_and_band_gap_follow_the_rules():
    """The gap between two tiles is the largest rule between the layers behind their facing
    edges, either way round; a band gap also leaves room for a met2 jog between both bands'
    met2."""
    well, diff = {L.NWELL: 0}, {L.DIFF: 0}
    assert clearance(well, well) == dbu(R.NWELL_SPACE)
    assert clearance(well, diff) == clearance(diff, well) == dbu(R.NDIFF_NWELL_SPACE)
    assert clearance({L.NWELL: 900}, {L.NWELL: 200}) == dbu(R.NWELL_SPACE) - 1100
    assert clearance({L.MET3: 0}, {L.MET3: 0}) == 0  # tiles draw no met3: no rule listed
    metal = {L.MET2: 0}
    assert band_gap(metal, metal) == BandGap(2 * dbu(R.M2_SPACE) + STUB.width, dbu(R.M2_SPACE) + HALF)
    assert band_gap(well, well).gap == dbu(R.NWELL_SPACE)


def test_tiles_and_bands_sit_closer_than_the_n_well_spacing():
    """Tiles keep their wells and implants away from their east and west edges (pads and
    spines are metal only), so two tiles need only the metal spacing; an NMOS band over
    another needs the implant spacing, not the n-well spacing."""
    n, p = outline(weight_tile("n", 3, 1.0, 1.0)), outline(weight_tile("p", 3, 1.0, 1.0))
    for west in (n, p):
        for east in (n, p):
            assert clearance(west.facing(EAST), east.facing(WEST)) < dbu(R.NWELL_SPACE)
    # tiles align on the band's top: a shorter tile's bottom edge lies that much above the band's
    band = [(n, 0), (p, 0)]
    assert band_face(band, SOUTH, n.height)[L.NWELL] == n.height - p.height + p.insets[L.NWELL][SOUTH]
    assert band_face(band, NORTH, n.height)[L.NWELL] == p.insets[L.NWELL][NORTH]
    dropped = band_face([(n, 0), (p, 75)], NORTH, n.height)[L.NWELL]  # a tile's top below the band's
    assert dropped == p.insets[L.NWELL][NORTH] + 75
    gap = band_gap(band_face(band, NORTH, n.height), band_face(band, SOUTH, n.height)).gap
    assert max(dbu(R.PSDM_SPACE), 2 * dbu(R.M2_SPACE) + STUB.width - 170) <= gap < dbu(R.NWELL_SPACE)


def test_folded_source_is_narrower_fits_a_sink_band_and_matches_one_device(tmp_path):
    """A PMOS source folded into two rows is narrower than the flat tile, no taller than an
    NMOS sink tile, and LVS sees its two rows as the one device of k fingers the schematic has."""
    flat, folded = weight_tile("p", 9, 1.0, 1.0), folded_source_tile(9, 1.0, 1.0)  # rows of 5 and 4 fingers
    sink = weight_tile("n", 1, 1.0, 1.0)
    assert folded.kdb_cell.bbox().width() < 0.8 * flat.kdb_cell.bbox().width()
    assert folded.kdb_cell.bbox().height() <= sink.kdb_cell.bbox().height()
    assert [port.name for port in sorted(folded.ports, key=lambda port: port.dcenter[0])] == ["vdd", "gp", "d"]
    gds = write_gds(folded, tmp_path / "f.gds")
    drc = run_drc(gds)
    assert drc.clean, f"DRC {drc.failing()}"
    (tmp_path / "f.spice").write_text(f".subckt {folded.name} vdd gp d\n"
                                      f"XP d gp vdd vdd {fet('p').model} w=1 l=1 m=9\n.ends\n")
    lvs = run_lvs(gds, tmp_path / "f.spice")
    assert lvs.match, report_text(lvs, lvs.lvs)


def test_a_folded_source_drops_until_the_band_landings_leave_no_notch():
    """Top-aligned in a band of sinks, the folded source's vdd via1 pad sits just short of the
    band's vdd landing (a met2 notch); it drops until the two overlap, and no further."""
    band = Band("sa", "st", "sp", (-3, 8))
    folded = folded_source_tile(8, 1.0, 1.0)
    depths = landing_depths(folded, band)
    assert not landings_clear(folded, depths, 0)
    tile, drop = _tile_of(8, band, CrossbarSpec(("t0", "t1"), (band,)), weight_tile("n", 3).kdb_cell.bbox().height())
    assert tile.name == folded.name and drop > 0 and landings_clear(folded, depths, drop)
    assert not landings_clear(folded, depths, drop - 5)
    flat = weight_tile("p", 8, 1.0, 1.0)
    assert landings_clear(flat, landing_depths(flat, band), 0)


def test_dense_crossbar_with_jogging_lanes_is_drc_and_lvs_clean(tmp_path):
    """Wide tiles on alternating columns, a PMOS-only band, receivers, and empty crossings in
    the top band just west of a tile (where the tile meets the lane's port pad): every lane
    jogs, the crossbar is narrower than its widest tiles side by side, and it breaks no rule
    and matches its reference netlist."""
    bands = (Band("sa0", "st0", "sp0", (-12, 1, -12, 1, -12, 1), Receiver(4, 1, 0.96)),
             Band("sa1", "st1", "sp1", (1, -12, 1, -12, 1, -12), Receiver(8, 1, 0.96)),
             Band("sa2", "st2", "sp2", (5, -5, 0, 0, 12, -1)),
             Band("sa3", "st3", "sp3", (2, 3, 0, 4, 0, 6)),
             Band("nb", "iref", "pb", (0, -2, 0, 3, 0, -1)))
    spec = CrossbarSpec(tuple(f"t{i}" for i in range(6)), bands,
                        exported=("st0", "st1", "sp0", "sa2", "st2", "sp2", "sp3", "nb", "iref", "pb"))
    component = crossbar(spec)
    widest = sum(max(weight_tile("p" if b.fingers[i] > 0 else "n", abs(b.fingers[i]), 1.0, 1.0).kdb_cell.bbox().width()
                     for b in bands if b.fingers[i]) for i in range(6))
    met2 = component.kdb_cell.shapes(component.kdb_cell.layout().layer(*L.MET2.gds))
    jogs = [s.bbox() for s in met2.each() if s.bbox().height() == STUB.width and s.bbox().width() > STUB.width]
    assert len(jogs) >= 6  # the lanes move between bands
    assert any(inst.cell.name.startswith("folded_source_tile") for inst in component.kdb_cell.each_inst())
    receivers = max(receiver_tile(b.receiver.diode_fingers, 1, 1.0, 1.0, 0.96).kdb_cell.bbox().width()
                    for b in bands if b.receiver)
    assert component.kdb_cell.bbox().width() < widest + receivers  # west lanes and receivers besides
    ports = [port.name for port in component.ports]
    assert {f"t{i}" for i in range(6)} <= set(ports)
    gds = write_gds(component, tmp_path / "x.gds")
    drc = run_drc(gds)
    assert drc.clean, f"DRC {drc.failing()}"
    (tmp_path / "x.spice").write_text(crossbar_spice(spec, component.name, ports))
    lvs = run_lvs(gds, tmp_path / "x.spice")
    assert lvs.match, report_text(lvs, lvs.lvs)


def test_a_receiver_with_converter_copies_draws_its_pmos_diode_with_as_many_fingers(tmp_path):
    """With converter copies (generators.circuit.mapping.Sizing) the converter and the PMOS diode it
    feeds both have k fingers; the receiver tile is DRC-clean and LVS sees the devices the
    schematic's receiver has (spice_cells.receiver_block), at 2 µm fingers."""
    from generators.circuit.spice_cells import receiver_block
    from generators.circuit.unit_devices import device_set

    devices = device_set(2.0)
    tile = receiver_tile(4, 3, 2.0, 2.0, devices.pmos_diode.w_um)
    gds = write_gds(tile, tmp_path / "r.gds")
    drc = run_drc(gds)
    assert drc.clean, f"DRC {drc.failing()}"
    block = receiver_block("s", 4, (True,), devices, converter_copies=3)
    body = [line for line in block.splitlines() if line.startswith("X")]
    # the tile's ports: vss vdd a t p; the block's nets: t0 a0 p0 (vdd, vss)
    spice = "\n".join([f".subckt {tile.name} vss vdd a t p"]
                      + [line.replace("t0", "t").replace("a0", "a").replace("p0", "p") for line in body] + [".ends"])
    (tmp_path / "r.spice").write_text(spice + "\n")
    lvs = run_lvs(gds, tmp_path / "r.spice")
    assert lvs.match, report_text(lvs, lvs.lvs)
