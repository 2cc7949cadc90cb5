"""benchmarks/compare_runs.py: the check a simulator setting passes before it is kept must see a
changed decision, a changed frame-state agreement and a power change, on the utterances both runs hold."""
import pytest

from benchmarks import compare_runs


def row(index, hw_decision, frames, total, sw_decision=0, seconds=10.0):
    return {"index": index, "sw_decision": sw_decision, "hw_decision": hw_decision,
            "frame_state_agreement": frames, "power_nW": {"total": total}, "sim_seconds": seconds}


def test_changes_are_reported_per_utterance():
    before = {"per_utterance": [row(0, 0, 1.0, 50.0), row(1, 0, 1.0, 60.0), row(2, 0, 0.99, 40.0)]}
    after = {"per_utterance": [row(0, 0, 1.0, 50.0, seconds=5.0), row(1, 1, 0.98, 60.0, seconds=5.0),
                               row(2, 0, 0.99, 44.0, seconds=5.0), row(3, 0, 1.0, 10.0)]}
    result = compare_runs.compare(before, after)
    assert result["utterances"] == 3  # utterance 3 is only in one run
    assert [c["index"] for c in result["utterances_changed"]] == [1]
    assert result["utterances_changed"][0]["hw_decision"] == [0, 1]
    assert result["power_total_max_rel_change"] == pytest.approx(0.1)
    assert result["after"]["decision_agreement"] == pytest.approx(2 / 3)
    assert result["before"]["sim_seconds_per_utterance"] == 10.0
    assert result["after"]["sim_seconds_per_utterance"] == 5.0


def test_runs_without_common_utterances_are_refused():
    with pytest.raises(SystemExit):
        compare_runs.compare({"per_utterance": [row(0, 0, 1.0, 1.0)]}, {"per_utterance": [row(1, 0, 1.0, 1.0)]})


def test_a_file_without_a_per_utterance_table_is_refused(tmp_path, capsys):
    path = tmp_path / "drc.json"
    path.write_text('{"violations": 0}')
    with pytest.raises(SystemExit):
        compare_runs.load_run(str(path))
    assert "per_utterance" in capsys.readouterr().err
