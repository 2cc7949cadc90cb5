"""benchmarks/train_summary.py: the accuracy table is read from the training reports."""
import importlib.util
import json
from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
spec = importlib.util.spec_from_file_location("train_summary", ROOT / "benchmarks" / "train_summary.py")
train_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_summary)


def fake_report(width, quant_start, test, val=0.9):
    return {"command": f"python -m bmru.train --width {width}", "weights": "w.npz", "test_out": None,
            "config": {"width": width, "steps": 100, "quant_start": quant_start},
            "accuracy": {"test_quantised": test, "val_quantised": val},
            "seconds": {"training": 1.0, "data_generation": 2.0},
            "data": {"composition": {"test": {"clips": 600}}}, "sum_abs_weights": 3.0}


def test_table_pairs_quantised_and_float_runs(tmp_path):
    (tmp_path / "train_kws_yes_d4.json").write_text(json.dumps(fake_report(4, 0.3, 0.93)))
    (tmp_path / "train_kws_yes_d4_float.json").write_text(json.dumps(fake_report(4, 1.0, 0.88)))
    (tmp_path / "train_kws_yes_d8.json").write_text(json.dumps(fake_report(8, 0.3, 0.95)))
    experiment = tmp_path / "exp.json"
    experiment.write_text(json.dumps(fake_report(4, 0.3, 0.91, val=0.92)))
    summary = train_summary.summarise(tmp_path, [experiment])
    table = summary["accuracy_table"]
    assert table["D4"]["quantised"] == 0.93 and table["D4"]["float"] == 0.88
    assert abs(table["D4"]["quantised_minus_float"] - 0.05) < 1e-12
    assert table["D8"]["float"] is None and "quantised_minus_float" not in table["D8"]
    assert table["D16"] == {"quantised": None, "float": None}
    assert summary["runs"]["d4_float"]["quantisation_aware"] is False
    assert summary["experiments_d4"][0]["val_accuracy"] == 0.92
    assert summary["shipped"]["test_accuracy_quantised"] == 0.93


def test_missing_experiment_report_is_named(tmp_path, capsys):
    out = tmp_path / "summary.json"
    code = train_summary.main(["--benchmarks", str(tmp_path), "--experiments", str(tmp_path / "nope.json"),
                               "--out", str(out)])
    assert code == 2 and "nope.json" in capsys.readouterr().err and not out.exists()
