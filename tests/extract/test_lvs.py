"""LVS negative tests on a small mirror: each injected fault is detected and named in lvs.txt.

LVS compares fingers (count and width), not only the summed W, so the reference netlists
here write every device as its unit fingers (see :func:`finger_spice`)."""

from __future__ import annotations

import json
import subprocess
import sys

import klayout.db as db
import pytest

from extract.lvs import main as lvs_main
from extract.lvs import run_lvs, write_reports
from generators.layout.cells import to_layout, write_gds
from generators.layout.cells.mirror import mirror, mirror_spice
from generators.layout.cells.transistor import mosfet, mosfet_spice
from pdk_sky130_180 import layers as L
from tests.layout_helpers import write
from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
PARAMS = dict(polarity="n", w=1.0, l=1.0, ref_units=1, out_units=(1, 2))


def _replace_line(text: str, prefix: str, *lines: str) -> str:
    """``text`` with the netlist line starting with ``prefix`` replaced by ``lines``."""
    out = []
    for line in text.splitlines():
        out.extend(lines if line.startswith(prefix) else (line,))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def cell():
    return mirror(**PARAMS)


@pytest.fixture()
def good(cell, tmp_path):
    gds = write_gds(cell, tmp_path / "mirror.gds")
    net = tmp_path / "mirror.spice"
    net.write_text(mirror_spice(cell.name, **PARAMS))
    return gds, net


def _layout(cell) -> tuple[db.Layout, db.Cell]:
    layout = to_layout(cell)
    return layout, layout.top_cell()


def _port_y(cell, name) -> int:
    return int(round(cell.ports[name].center[1] * 1000))


def _run(gds, net, out):
    result = run_lvs(gds, net)
    paths = write_reports(result, out)
    return result, paths["txt"].read_text()


def test_clean_mirror_matches(good, tmp_path):
    result, text = _run(*good, tmp_path / "out")
    assert result.match, text
    assert result.dummies_dropped == 2
    summary = json.loads((tmp_path / "out" / "lvs.json").read_text())
    assert summary["match"] is True
    assert summary["devices_layout"] == summary["devices_schematic"] == 3
    for key in ("nets_layout", "nets_schematic", "seconds"):
        assert key in summary


def test_injected_open(cell, good, tmp_path):
    layout, top = _layout(cell)
    via = layout.layer(*L.VIA.gds)
    y = _port_y(cell, "d2")
    vias = [s for s in top.shapes(via).each() if abs(s.bbox().center().y - y) < 5]
    assert len(vias) == 2
    top.shapes(via).erase(min(vias, key=lambda s: s.bbox().left))
    gds = write(layout, tmp_path / "open.gds")
    result, text = _run(gds, good[1], tmp_path / "out")
    assert not result.match
    assert "MISMATCH" in text or "NO MATCH" in text
    assert "d2" in text


def test_short_between_signal_nets(cell, good, tmp_path):
    layout, top = _layout(cell)
    bb = top.bbox()
    y1, y2 = _port_y(cell, "d1"), _port_y(cell, "d2")
    x = int(round(cell.ports["d1"].center[0] * 1000))
    top.shapes(layout.layer(*L.MET2.gds)).insert(db.Box(x - 300, min(y1, y2), x, max(y1, y2)))
    assert bb.right >= x
    gds = write(layout, tmp_path / "short.gds")
    result, text = _run(gds, good[1], tmp_path / "out")
    assert not result.match
    assert "d1" in text and "d2" in text


def test_wrong_device_size(cell, good, tmp_path):
    net = tmp_path / "wrong.spice"
    net.write_text(mirror_spice(cell.name, **(PARAMS | {"out_units": (1, 3)})))
    result, text = _run(good[0], net, tmp_path / "out")
    assert not result.match
    assert "device  PARAMS" in text and "MOUT2" in text.upper()


def test_missing_device(cell, good, tmp_path):
    lines = [ln for ln in mirror_spice(cell.name, **PARAMS).splitlines() if not ln.startswith("XMOUT1")]
    net = tmp_path / "missing.spice"
    net.write_text("\n".join(lines) + "\n")
    result, text = _run(good[0], net, tmp_path / "out")
    assert not result.match
    assert result.devices_schematic == result.devices_layout - 1
    assert "device" in text and "(none)" in text


def test_swapped_pin_label(cell, good, tmp_path):
    layout, top = _layout(cell)
    label = layout.layer(*L.MET2_LABEL.gds)
    for shape in top.shapes(label).each():
        t = shape.text
        if t.string in ("d1", "d2"):
            t.string = "d2" if t.string == "d1" else "d1"
            shape.text = t
    gds = write(layout, tmp_path / "swap.gds")
    result, text = _run(gds, good[1], tmp_path / "out")
    assert not result.match
    assert "swapped" in text and "d1" in text and "d2" in text


def test_m_equals_k_folds(cell, good, tmp_path):
    """The d2 output has 2 units (4 fingers of 1 µm) in the layout, one m=4 w=1 instance in the
    netlist."""
    result, text = _run(*good, tmp_path / "out")
    assert result.match, text
    assert "XMOUT2 d2 gate source body sky130_fd_pr__nfet_01v8 w=1 l=1 m=4" in good[1].read_text()
    summary = json.loads((tmp_path / "out" / "lvs.json").read_text())
    assert summary["finger_mismatches"] == 0
    assert summary["fingers_layout"] == summary["fingers_schematic"] == 8


def test_parallel_instances_add_up(cell, good, tmp_path):
    """Several instances on the same nets are one device whose fingers add up: m=1 + m=3 of
    1 µm is the d2 output's 4 fingers; ``nf`` splits ``w`` into fingers (BSIM4)."""
    base = good[1].read_text()
    for name, lines in (("split", ("XMOUT2a d2 gate source body sky130_fd_pr__nfet_01v8 w=1 l=1 m=1",
                                   "XMOUT2b d2 gate source body sky130_fd_pr__nfet_01v8 w=1 l=1 m=3")),
                        ("nf", ("XMOUT2 d2 gate source body sky130_fd_pr__nfet_01v8 w=2 l=1 m=2 nf=2",))):
        net = tmp_path / f"{name}.spice"
        net.write_text(_replace_line(base, "XMOUT2 ", *lines))
        result, text = _run(good[0], net, tmp_path / name)
        assert result.match, text


def test_same_w_other_finger_count(cell, good, tmp_path):
    """d2 written as 2 fingers of 2 µm (W = 4 µm, as the 4 fingers of 1 µm in the layout) fails
    LVS, and the report names the device and both finger counts and widths."""
    net = tmp_path / "fingers.spice"
    net.write_text(_replace_line(good[1].read_text(), "XMOUT2 ",
                                 "XMOUT2 d2 gate source body sky130_fd_pr__nfet_01v8 w=2 l=1 m=2"))
    result, text = _run(good[0], net, tmp_path / "out")
    assert not result.match
    assert "fingers MISMATCH  MOUT2" in text, text
    assert "layout 4 fingers x 1 µm  |  schematic 2 fingers x 2 µm" in text, text
    summary = json.loads((tmp_path / "out" / "lvs.json").read_text())
    assert summary["match"] is False and summary["finger_mismatches"] == 1


def test_same_w_same_count_other_widths(cell, good, tmp_path):
    """4 fingers of 0.5 and 1.5 µm (W = 4 µm, NF = 4) are not 4 fingers of 1 µm."""
    net = tmp_path / "widths.spice"
    net.write_text(_replace_line(good[1].read_text(), "XMOUT2 ",
                                 "XMOUT2a d2 gate source body sky130_fd_pr__nfet_01v8 w=0.5 l=1 m=2",
                                 "XMOUT2b d2 gate source body sky130_fd_pr__nfet_01v8 w=1.5 l=1 m=2"))
    result, text = _run(good[0], net, tmp_path / "out")
    assert not result.match
    assert "layout 4 fingers x 1 µm  |  schematic 4 fingers of unequal width" in text, text


def test_layout_finger_split(tmp_path):
    """The bug as reported: 25 fingers of 0.96 µm drawn, 24 fingers of 1 µm in the netlist
    (both W = 24 µm)."""
    c = mosfet(polarity="n", w=0.96, l=0.5, fingers=25)
    gds = write_gds(c, tmp_path / "fet.gds")
    net = tmp_path / "fet.spice"
    net.write_text(mosfet_spice(c.name, polarity="n", w=1.0, l=0.5, fingers=24))
    result, text = _run(gds, net, tmp_path / "out")
    assert not result.match
    assert "fingers MISMATCH  M1" in text, text
    assert "layout 25 fingers x 0.96 µm  |  schematic 24 fingers x 1 µm" in text, text
    net.write_text(mosfet_spice(c.name, polarity="n", w=0.96, l=0.5, fingers=25))
    result, text = _run(gds, net, tmp_path / "ok")
    assert result.match, text


def test_cli_exit_codes(good, tmp_path):
    gds, net = good
    assert lvs_main([str(gds), str(net), "-o", str(tmp_path / "ok")]) == 0
    assert lvs_main([str(tmp_path / "missing.gds"), str(net), "-o", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
    wrong = tmp_path / "wrong.spice"
    wrong.write_text(net.read_text().replace("m=4", "m=5"))
    assert lvs_main([str(gds), str(wrong), "-o", str(tmp_path / "mm")]) == 1
    assert (tmp_path / "mm" / "lvs.txt").is_file() and (tmp_path / "mm" / "lvs.lvsdb").is_file()


def test_drc_cli(good, tmp_path):
    gds, _ = good
    proc = subprocess.run([sys.executable, "-m", "extract.drc", str(gds), "-o", str(tmp_path / "d")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "d" / "drc.json").read_text())
    assert summary["violations"] == 0 and summary["rules_checked"] > 50
    assert (tmp_path / "d" / "drc.lyrdb").is_file()
    proc = subprocess.run([sys.executable, "-m", "extract.drc", str(tmp_path / "nope.gds")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


def test_dummies_are_dropped_per_cell_and_counted_per_placed_copy(tmp_path):
    """Dummies go from each cell before flattening (fast at D = 64) yet count once per placed
    copy, as a flat scan counts them; the same crossbar tile placed several times shows it."""
    import klayout.db as kdb

    from extract.lvs import _drop_dummies, extract
    from generators.layout.cells import write_gds
    from generators.layout.cells.crossbar import Band, CrossbarSpec, crossbar

    spec = CrossbarSpec(("t0", "t1", "t2"), (Band("sa0", "st0", "sp0", (-3, -3, 2)), Band("sa1", "st1", "sp1", (-3, 0, 2))))
    gds = write_gds(crossbar(spec), tmp_path / "x.gds")
    counts = []
    for flatten_first in (False, True):
        layout = kdb.Layout()
        layout.read(str(gds))
        lvs = extract(layout, layout.top_cell())  # owns the netlist
        netlist = lvs.netlist()
        if flatten_first:
            netlist.flatten()
        counts.append(_drop_dummies(netlist))
    assert counts[0] == counts[1] > 0
