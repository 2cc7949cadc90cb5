"""The PVT grid command on a tiny network: every point simulated on Dask, compared with the
nominal software model, the worst point named."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.sim.test_presim import write_tiny_job

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")


def test_corner_grid_writes_every_point_and_the_worst(tmp_path):
    from sim.corners import main

    weights, inputs, out = write_tiny_job(tmp_path, labels=(1,))
    main([str(weights), "--inputs", str(inputs), "-o", str(out), "--corners", "tt", "ss", "--temps", "27",
          "--vdds", "1.62", "1.8", "--jobs", "2"])
    data = json.loads((out / "corners.json").read_text())
    points = {(row["corner"], row["temp_C"], row["vdd_V"]) for row in data["corners"]}
    assert points == {("tt", 27.0, 1.62), ("tt", 27.0, 1.8), ("ss", 27.0, 1.62), ("ss", 27.0, 1.8)}
    for row in data["corners"]:
        assert 0.0 <= row["decision_agreement"] <= 1.0 and row["power_nW"]["total_mean"] > 0
    nominal = next(r for r in data["corners"] if (r["corner"], r["vdd_V"]) == ("tt", 1.8))
    assert nominal["decision_agreement"] == 1.0 and nominal["frame_state_agreement"] == 1.0
    low = next(r for r in data["corners"] if (r["corner"], r["vdd_V"]) == ("tt", 1.62))
    assert low["power_nW"]["total_mean"] < nominal["power_nW"]["total_mean"]  # same currents, lower supply
    assert data["worst"]["decision_agreement"] == min(r["decision_agreement"] for r in data["corners"])
    assert (out / "corners.png").is_file() and data["netlist"] == "schematic"


def test_corner_names_are_checked(tmp_path, capsys):
    from sim.corners import main

    with pytest.raises(SystemExit):
        main(["--corners", "typical", "-o", str(tmp_path / "out")])
    assert "typical" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_worst_point_is_the_lowest_decision_agreement_then_frame_states():
    from sim.corners import worst_point

    rows = [{"corner": "tt", "decision_agreement": 1.0, "frame_state_agreement": 0.99},
            {"corner": "ss", "decision_agreement": 0.8, "frame_state_agreement": 0.97},
            {"corner": "ff", "decision_agreement": 0.8, "frame_state_agreement": 0.95}]
    assert worst_point(rows)["corner"] == "ff"


def test_extending_a_grid_equals_running_it_whole(tmp_path):
    """``--extend`` simulates only the missing utterances and merges to the same figures as one
    run over all of them; a previous result of another grid is refused before anything runs."""
    from sim.corners import main

    weights, inputs, out = write_tiny_job(tmp_path, labels=(1, 0, 1))
    grid = ["--corners", "tt", "--temps", "27", "--vdds", "1.62", "1.8", "--jobs", "2"]
    main([str(weights), "--inputs", str(inputs), "-o", str(tmp_path / "whole"), "-n", "3", *grid])
    main([str(weights), "--inputs", str(inputs), "-o", str(tmp_path / "part"), "-n", "1", *grid])
    main([str(weights), "--inputs", str(inputs), "-o", str(out), "-n", "3", "--extend",
          str(tmp_path / "part" / "corners.json"), *grid])
    whole = json.loads((tmp_path / "whole" / "corners.json").read_text())
    extended = json.loads((out / "corners.json").read_text())
    assert extended["extended_from"]["utterances"] == 1 and extended["utterances"] == 3
    for key in ("sw_decisions", "labels_covered", "decision_agreement", "netlist_sha256", "circuit_sha256"):
        assert extended[key] == whole[key]
    for merged, direct in zip(extended["corners"], whole["corners"]):
        assert merged["hw_decisions"] == direct["hw_decisions"]
        for key in ("decision_agreement", "frame_state_agreement", "hw_accuracy"):
            assert merged[key] == pytest.approx(direct[key], abs=1e-12)
        for key, value in direct["power_nW"].items():
            assert merged["power_nW"][key] == pytest.approx(value, rel=1e-9)
    with pytest.raises(SystemExit):
        main([str(weights), "--inputs", str(inputs), "-o", str(tmp_path / "other"), "-n", "3", "--extend",
              str(tmp_path / "part" / "corners.json"), "--corners", "ss", "--temps", "27", "--vdds", "1.8"])
    assert not (tmp_path / "other").exists()


def test_circuit_digest_ignores_comments_only():
    from sim.runner import circuit_sha256

    text = "* header written by one module\n.subckt a x y\nM1 x y 0 0 n\n.ends a\n"
    assert circuit_sha256(text) == circuit_sha256(text.replace("one module", "another module") + "\n* end\n")
    assert circuit_sha256(text) != circuit_sha256(text.replace("M1 x y", "M1 y x"))
