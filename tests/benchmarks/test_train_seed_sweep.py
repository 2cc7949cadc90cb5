"""benchmarks/train_seed_sweep.py: the pick reads the validation figures, never the test set."""
import importlib.util
import json
import sys

import pytest

from tests.conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("train_seed_sweep", REPO_ROOT / "benchmarks" / "train_seed_sweep.py")
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)


def report(val, test, chips=None):
    history = [{"step": 100, "val": {"accuracy": val, **({"chips": {"mean": chips, "p5": chips - 0.05}}
                                                         if chips is not None else {})}}]
    return {"accuracy": {"val_quantised": val, "test_quantised": test}, "best_quant_step": 100, "history": history}


def run(tmp_path, monkeypatch, reports, *options):
    out = tmp_path / "runs"
    out.mkdir(exist_ok=True)
    for seed, data in reports.items():  # existing reports: the sweep reads them and trains nothing
        (out / f"d4_seed{seed}.json").write_text(json.dumps(data))
    result = tmp_path / "sweep.json"
    monkeypatch.setattr(sys, "argv", ["train_seed_sweep.py", "--seeds", *map(str, reports), "--out-dir", str(out),
                                      "--result", str(result), *options])
    monkeypatch.setattr(sweep, "ROOT", tmp_path)
    sweep.main()
    return json.loads(result.read_text())


def test_floor_pick_weighs_the_drawn_chips(tmp_path, monkeypatch):
    # seed 0: best nominal validation, poor on drawn chips; seed 1: a little lower nominal, robust;
    # seed 2 has the best test accuracy, which must not matter
    reports = {0: report(0.95, 0.90, chips=0.80), 1: report(0.93, 0.88, chips=0.92), 2: report(0.90, 0.99, chips=0.85)}
    assert run(tmp_path, monkeypatch, reports)["best"]["seed"] == 0
    floor = run(tmp_path, monkeypatch, reports, "--pick", "floor")
    assert floor["best"]["seed"] == 1 and floor["selected_on"] == "val_floor"
    assert floor["best"]["val_floor"] == 0.92


def test_floor_pick_needs_mismatch_aware_reports(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="--pick floor"):
        run(tmp_path, monkeypatch, {0: report(0.9, 0.9)}, "--pick", "floor")
