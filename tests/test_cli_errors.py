"""Every command answers bad input with one line naming it: non-zero exit, no traceback, and
no output written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
WEIGHTS = str(ROOT / "examples" / "kws_yes_d4.npz")


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "weights.npz").write_text("not a zip archive\n")
    (folder / "inputs.npz").write_text("not a zip archive\n")
    (folder / "layout.gds").write_text("not a GDS stream\n")
    (folder / "netlist.spice").write_text(".subckt broken a\nM1 a b\n")  # a 2-node MOSFET, no .ends
    (folder / "lvs.lvsdb").write_text("not an LVS database\n")
    (folder / "ok.spice").write_text(".subckt top a\nR1 a 0 1k\n.ends top\n")
    (folder / "undefined.spice").write_text(".subckt top a\nXq a missing_block\n.ends top\n")
    import klayout.db as kdb

    layout = kdb.Layout()
    layout.create_cell("top")
    layout.write(str(folder / "empty.gds"))
    return folder


# (command and arguments with {bad} for the folder of bad files, text the message must name)
CASES = {
    "infer weights": (["bmru.infer", "{bad}/weights.npz", "{bad}/inputs.npz"], "weights.npz"),
    "infer inputs": (["bmru.infer", WEIGHTS, "{bad}/inputs.npz"], "inputs.npz"),
    "array weights": (["generators.array", "{bad}/weights.npz", "-o", "{out}"], "weights.npz"),
    "drc gds": (["extract.drc", "{bad}/layout.gds", "-o", "{out}"], "layout.gds"),
    "lvs gds": (["extract.lvs", "{bad}/layout.gds", "{bad}/ok.spice", "-o", "{out}"], "layout.gds"),
    "lvs netlist": (["extract.lvs", "{bad}/empty.gds", "{bad}/netlist.spice", "-o", "{out}"], "netlist.spice"),
    # KLayout reads the call of an undefined block as an empty circuit that flattens to nothing
    "lvs undefined block": (["extract.lvs", "{bad}/empty.gds", "{bad}/undefined.spice", "-o", "{out}"],
                            "MISSING_BLOCK"),
    "pex lvsdb": (["extract.pex", "{bad}/lvs.lvsdb", "-s", "{bad}/ok.spice", "-o", "{out}"], "lvs.lvsdb"),
    "pex schematic": (["extract.pex", "{bad}/lvs.lvsdb", "-s", "{bad}/netlist.spice", "-o", "{out}"],
                      "netlist.spice"),
    "presim weights": (["sim.presim", "{bad}/weights.npz", "-o", "{out}"], "weights.npz"),
    "presim inputs": (["sim.presim", WEIGHTS, "--inputs", "{bad}/inputs.npz", "-o", "{out}"], "inputs.npz"),
    "presim corner": (["sim.presim", WEIGHTS, "--corner", "typical", "-o", "{out}"], "typical"),
    "presim vdd": (["sim.presim", WEIGHTS, "--vdd", "18", "-o", "{out}"], "--vdd"),
    "presim skip": (["sim.presim", WEIGHTS, "-n", "2", "--skip", "2", "-o", "{out}"], "--skip"),
    "postlayout netlist": (["sim.postlayout", WEIGHTS, "--netlist", "{bad}/netlist.spice", "-n", "1", "-o",
                            "{out}"], "netlist.spice"),
    "postlayout gds as netlist": (["sim.postlayout", WEIGHTS, "--netlist", "{bad}/layout.gds", "-n", "1", "-o",
                                   "{out}"], "layout.gds"),
    "report folder": (["sim.report", "{bad}/missing_folder"], "missing_folder"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_naming_it(case, bad, tmp_path):
    arguments, named = CASES[case]
    out = tmp_path / "out"
    command = [sys.executable, "-m"] + [a.format(bad=bad, out=out) for a in arguments]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and named in errors[0], proc.stderr
    assert not out.exists() or not any(out.iterdir())
