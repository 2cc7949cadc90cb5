"""benchmarks/keeper_step.py: every setting is simulated as listed (its options reach ngspice,
the keeper-less run has no keepers), and the record compares each run with the reference."""
import json
import shutil
from pathlib import Path

import pytest

from benchmarks import keeper_step
from sim.ngspice import options_line
from tests.sim.test_presim import PERIOD, write_tiny_job

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")


def test_each_setting_runs_with_its_own_options(tmp_path, monkeypatch):
    import sim.runner as runner

    weights, inputs, _ = write_tiny_job(tmp_path)
    decks = []
    real = runner.run_deck

    def recorded(deck):
        netlist = deck.splitlines()[2].split('"')[1]  # the bench includes the netlist after the models
        decks.append((deck, "kinvp" in Path(netlist).read_text()))
        return real(deck)

    monkeypatch.setattr(runner, "run_deck", recorded)
    monkeypatch.setattr(keeper_step, "map_on_cluster", lambda f, items, **_: [f(item) for item in items])
    out = tmp_path / "keeper_step.json"
    keeper_step.main([str(weights), "--inputs", str(inputs), "--utterances", "0", "-o", str(out)])
    result = json.loads(out.read_text())
    assert [row["setting"] for row in result["settings"]] == [name for name, *_ in keeper_step.SETTINGS]
    assert len(decks) == len(keeper_step.SETTINGS)
    for (deck, drawn_keepers), (name, keepers, options, step) in zip(decks, keeper_step.SETTINGS):
        assert drawn_keepers == keepers, name
        line = next(line for line in deck.splitlines() if line.startswith(".options")).split()[1:]
        assert line == options_line(**options).split()[1:], name
        tran = next(line for line in deck.splitlines() if line.startswith("tran")).split()
        assert float(tran[-1]) == pytest.approx(step * PERIOD), name
    reference = next(row for row in result["settings"] if row["setting"] == keeper_step.REFERENCE)
    assert reference["cell_frames_differing_from_reference"] == 0
    assert all(row["cell_frames_differing_from_software"] == 0 for row in result["settings"])
