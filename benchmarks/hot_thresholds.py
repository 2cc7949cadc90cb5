"""Benchmark: does a cascoded threshold source keep the cell's thresholds when hot?

    python benchmarks/hot_thresholds.py [--unit-sizes 1 2] [-o benchmarks/results/hot_thresholds.json]

The PVT corners fail hot (docs/robustness.md). At 1 µm the cell's set threshold rose ~3 % at
85 °C, and the suspected cause was the threshold source's drain voltage: the PMOS sources sit at
~1.4 V source-drain against their line diode's ~0.5 V, and width trims cancel that at 27 °C only.
This experiment cascodes the cell's threshold line, its threshold source and its output source
(gate ``pq``, made per cell by one more ``nb`` finger into a long PMOS diode), so each source's
drain sits where its line diode's does, with untrimmed line diodes. It compares the drawn cell and
that variant by DC sweeps (``sim.characterise.cell_dc``: thresholds and output in cell steps)
at tt 27 / 85 / -40 °C and fs / sf 27 °C, 1.8 V, and records the zero-input leakage of a weight-3
output at 27 and 85 °C. The variant is a circuit experiment, not a generator option.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import progress, write_json  # noqa: E402
from generators.circuit import spice_cells as sc  # noqa: E402
from generators.circuit.mapping import BIAS_LINE_FINGERS, CellSpec, Sizing  # noqa: E402
from generators.circuit.unit_devices import UnitDevice  # noqa: E402
from pdk_sky130_180.devices import MIN_W_UM, PMOS  # noqa: E402
from sim import characterise  # noqa: E402

POINTS = (("tt", 27.0), ("tt", 85.0), ("tt", -40.0), ("fs", 27.0), ("sf", 27.0))
CASCODE_BIAS_DIODE = UnitDevice(PMOS, MIN_W_UM, 20.0)  # Vsg well above a unit finger's: the line diode keeps ~0.1 V


def cascoded_cell_block(cell: CellSpec, sizing: Sizing) -> str:
    """The generator's cell with its threshold line, ``Xbeta2`` and ``Xalpha`` cascoded (gate ``pq``)."""
    devices = sc.device_set(sizing.unit_um)
    p, n = devices.unit_pfet, devices.unit_nfet
    line = BIAS_LINE_FINGERS * sizing.cell_line_copies
    lines = []
    for text in sc.cell_block(cell, sizing).splitlines():
        tokens = text.split()
        name = tokens[0] if tokens and tokens[0].startswith("X") else ""
        if name == "XPpc":  # the line diode: untrimmed, under its cascode (the diode is at the top)
            lines += [p.line("Ppc", "pcd", "pc", "vdd", "vdd", line), p.line("Qpc", "pc", "pq", "pcd", "vdd", line),
                      n.line("Kq", "kq", "nb", "vss", "vss", 1), n.line("Cq", "pq", "ncas", "kq", "vss", 1),
                      CASCODE_BIAS_DIODE.line("Qb", "pq", "pq", "vdd", "vdd", 1)]
        elif name in ("Xbeta2", "Xalpha"):  # drain onto an inner node, then the cascode to the old one
            inner = f"{name[1:]}_d"
            fingers = next((int(t[2:]) for t in tokens if t.startswith("m=")), 1)
            lines += [" ".join([tokens[0], inner, *tokens[2:]]), p.line(f"{name[1:]}c", tokens[1], "pq", inner, "vdd", fingers)]
        else:
            lines.append(text)
    return "\n".join(lines)


def thresholds(bench: characterise.Bench, block) -> list[dict]:
    keep = ("beta1", "delta", "alpha", "up_error_steps", "down_error_steps", "output_high_error_steps")
    return [{k: round(v, 3) for k, v in characterise.cell_dc(bench, *config, block=block).items() if k in keep}
            for config in characterise.CELL_CONFIGS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit-sizes", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("-o", "--out", default="benchmarks/results/hot_thresholds.json")
    args = parser.parse_args()
    start = time.perf_counter()
    results = {"covers": "DC sweeps of one cell (sim.characterise.cell_dc), 1.8 V, nominal devices; errors in cell "
                         "steps (0.05 units); up: set threshold - beta2, down: reset threshold - beta1, output: "
                         "high output - alpha", "unit_sizes": []}
    for unit in args.unit_sizes:
        sizing = Sizing(unit)
        row = {"unit_um": unit, "points": [], "leakage": {}}
        for corner, temp in POINTS:
            bench = characterise.Bench(sizing=sizing, corner=corner, temperature_C=temp)
            progress(f"{unit:g} µm, {corner}, {temp:g} °C")
            row["points"].append({"corner": corner, "temperature_C": temp,
                                  "drawn": thresholds(bench, sc.cell_block),
                                  "cascoded": thresholds(bench, cascoded_cell_block)})
        for temp in (27.0, 85.0):
            leak = characterise.leakage(characterise.Bench(sizing=sizing, temperature_C=temp))
            row["leakage"][f"{temp:g}C"] = {k: float(f"{v:.4g}") for k, v in leak.items()}
        results["unit_sizes"].append(row)
    results["seconds"] = round(time.perf_counter() - start, 1)
    write_json(args.out, results)


if __name__ == "__main__":
    main()
