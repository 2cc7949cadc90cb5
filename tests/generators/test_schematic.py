"""Spec -> hierarchical netlist: deterministic, named after parameters, parses in ngspice."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from bmru.weights import validate
from generators.circuit.mapping import TOP_NAME, map_network
from generators.circuit.schematic import device_count, schematic_text
from pdk_sky130_180.models import include_line
from sim.ngspice import control_block, options_line, run_deck
from sim.testbench import find_top
from tests.conftest import random_arrays


@pytest.fixture
def spec(rng):
    return map_network(validate(random_arrays(rng, n_in=3, width=2, layers=2, grid=0.25)))


def test_deterministic(spec):
    assert schematic_text(spec) == schematic_text(spec)


def test_top_pins(spec):
    top = find_top(schematic_text(spec))
    assert top.name == TOP_NAME
    assert top.inputs == ["in0", "in1", "in2"] and top.outputs == ["out0", "out1"]
    assert top.states == ["st0_0", "st0_1", "st1_0", "st1_1"]
    assert {"rst", "iref", "vdd_ff", "vdd_cells", "vdd_bias", "vss"} <= set(top.pins)
    assert top.enables == ["en0", "en1"] and top.enable_complements == ["enb0", "enb1"]  # one pair per layer


def test_every_weight_is_one_named_element(spec):
    text = schematic_text(spec)
    for projection in spec.projections:
        for i, row in enumerate(projection.weight_fingers):
            for j, k in enumerate(row):
                name = f"XW_{projection.weight_key[2:]}_r{i}_c{j} "
                lines = [line for line in text.splitlines() if line.startswith(name)]
                if k == 0:
                    assert not lines
                    continue
                assert len(lines) == 1
                assert re.search(rf" m={abs(k)}$", lines[0]) or (abs(k) == 1 and " m=" not in lines[0])
                assert ("pfet" in lines[0]) == (k > 0)


def test_no_sources_inside_subcircuits(spec):
    inside = False
    for line in schematic_text(spec).splitlines():
        if line.startswith(".subckt"):
            inside = True
        elif line.startswith(".ends"):
            inside = False
        elif inside and line and not line.startswith("*"):
            assert line.startswith("X"), line


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
def test_netlist_parses_and_solves(spec, tmp_path):
    path = tmp_path / "schematic.spice"
    text = schematic_text(spec)
    path.write_text(text)
    top = find_top(text)
    bench = [f"Xdut {' '.join(top.pins)} {top.name}", "Vvdd_ff vdd_ff 0 1.8", "Vvdd_cells vdd_cells 0 1.8",
             "Vvdd_bias vdd_bias 0 1.8", "Vvss vss 0 0", "Iref vdd_bias iref 1n", "Vrst rst 0 0",
             "Ven0 en0 0 1.8", "Ven1 en1 0 1.8", "Venb0 enb0 0 0", "Venb1 enb1 0 0",
             "Iin0 0 in0 1n", "Iin1 0 in1 0.5n", "Iin2 0 in2 0", "Vout0 out0 0 0.5", "Vout1 out1 0 0.5"]
    deck = "\n".join(["* parse", include_line("tt"), f'.include "{path}"', options_line(), *bench,
                      control_block("op", ["i(vvdd_ff)", "i(vout0)"]), ".end", ""])
    result = run_deck(deck)
    assert np.isfinite(result["i(vvdd_ff)"][0])
    assert device_count(text) > 20


def test_track_order_shields_bias_lines_from_switching_nets(spec):
    from generators.circuit.netlist import flatten, parse_spice
    from generators.circuit.schematic import net_role, track_order

    devices = flatten(parse_spice(schematic_text(spec)), TOP_NAME)
    nets = sorted({net for device in devices for net in device.nets.values()}, key=track_order)
    roles = [net_role(net) for net in nets]
    assert roles == sorted(roles)  # bias lines, vdd, signals, vss, switching
    assert {"nb", "nc", "pb", "iref"} <= {n for n in nets if net_role(n) == 0}
    assert any(n.endswith("/pc") for n in nets if net_role(n) == 0)
    switching = {n for n in nets if net_role(n) == 4}
    assert "rst" in switching and any(re.fullmatch(r"st\d+_\d+", n) for n in switching)
    assert net_role("vss") == 3 and net_role("vdd_cells") == 1
