"""Golden layouts: a reference GDS of each cell kind and of the reference array, with their ports
and area pinned in small JSON files (``tests/golden/``).

``tests/test_golden.py`` redraws each case and compares it with its reference by XOR on every
layer (klayout.db), so any change of geometry shows up as a failing test naming the layers and
the area that moved. After an intended change, refresh the references with

    .venv/bin/python -m tests.golden            # all cases
    .venv/bin/python -m tests.golden bmru_cell  # the cases whose name contains "bmru_cell"

and commit them: the geometry change is then a visible diff of the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import klayout.db as kdb

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
REFERENCE_WEIGHTS = ROOT / "examples" / "kws_yes_d4.npz"


@dataclass(frozen=True)
class Drawn:
    """One drawn case: its GDS file, and the ports and area pinned beside it."""

    gds: Path
    summary: dict  # {"top", "bbox_um", "area_um2", "ports": {name: [x, y, layer]}}


def _component_case(make: Callable[[], object]) -> Callable[[Path], Drawn]:
    """A gdsfactory cell function's output, written with the project's deterministic writer."""

    def draw(folder: Path) -> Drawn:
        from generators.layout.cells import write_gds

        component = make()
        gds = write_gds(component, folder / "case.gds")
        ports = {port.name: [round(port.dcenter[0], 3), round(port.dcenter[1], 3),
                             f"{port.layer_info.layer}/{port.layer_info.datatype}"]
                 for port in component.ports}
        return Drawn(gds, _summary(gds, ports))

    return draw


def _array_case(folder: Path) -> Drawn:
    """The reference array as ``generators.array`` draws it; its ports are the met3 pin labels."""
    from generators.array import generate

    outputs = generate(REFERENCE_WEIGHTS, folder, picture=False)
    layout = kdb.Layout()
    layout.read(str(outputs.layout))
    top = layout.top_cell()
    ports = {}
    for index in layout.layer_indexes():
        info = layout.get_info(index)
        for shape in top.shapes(index).each():
            if shape.is_text():
                ports[shape.text_string] = [round(shape.text_pos.x * layout.dbu, 3),
                                            round(shape.text_pos.y * layout.dbu, 3), f"{info.layer}/{info.datatype}"]
    return Drawn(outputs.layout, _summary(outputs.layout, ports))


def _summary(gds: Path, ports: dict) -> dict:
    layout = kdb.Layout()
    layout.read(str(gds))
    top = layout.top_cell()
    box = top.dbbox()
    return {"top": top.name, "bbox_um": [round(v, 3) for v in (box.left, box.bottom, box.right, box.top)],
            "area_um2": round(box.width() * box.height(), 3), "ports": dict(sorted(ports.items()))}


def _reference_bmru_cell():
    from bmru.weights import load_weights
    from generators.layout.cells.bmru_cell import bmru_cell_for
    from generators.circuit.mapping import map_network

    return bmru_cell_for(map_network(load_weights(REFERENCE_WEIGHTS)).cells[0])


def _reference_crossbar():
    """The shipped model's W_c0 as the array draws it with --crossbars (receivers u0 included)."""
    from bmru.weights import load_weights
    from generators.array import crossbar_macros
    from generators.circuit.mapping import TOP_NAME, map_network
    from generators.circuit.netlist import flatten, parse_spice
    from generators.circuit.schematic import schematic_text

    spec = map_network(load_weights(REFERENCE_WEIGHTS))
    devices = flatten(parse_spice(schematic_text(spec)), TOP_NAME)
    return next(m.component for m in crossbar_macros(spec, devices) if m.name == "layer0/fc_c0")


def _cases() -> dict[str, Callable[[Path], Drawn]]:
    from generators.layout.cells.crossbar import folded_source_tile, weight_tile
    from generators.layout.cells.group import matched_row
    from generators.layout.cells.mirror import mirror
    from generators.layout.cells.taps import guard_ring, tap_strip
    from generators.layout.cells.transistor import mosfet

    return {
        "nfet_w1_l1_f4": _component_case(lambda: mosfet(polarity="n", w=1.0, l=1.0, fingers=4, tap=True)),
        "pfet_w2_l0p5_f3": _component_case(lambda: mosfet(polarity="p", w=2.0, l=0.5, fingers=3, tap=True)),
        "mirror_n_2_1_3": _component_case(lambda: mirror(polarity="n", w=1.0, l=1.0, ref_units=2, out_units=(1, 3))),
        "matched_row_n_8_1_2_1_3": _component_case(
            lambda: matched_row(polarity="n", w=1.0, l=1.0, fingers=(8, 1, 2, 1, 3), diode=0, dummies=True, tap=True)),
        "matched_row_p_5_2": _component_case(
            lambda: matched_row(polarity="p", w=1.0, l=1.0, fingers=(5, 2), dummies=True, tap=True)),
        "tap_strip_p": _component_case(lambda: tap_strip(polarity="p", length=2.0)),
        "guard_ring_n": _component_case(lambda: guard_ring(polarity="n", inner_width=4.0, inner_height=3.0)),
        "bmru_cell_reference_0": _component_case(_reference_bmru_cell),
        "array_reference": _array_case,
        "weight_tile_n_3": _component_case(lambda: weight_tile(polarity="n", fingers=3, w=1.0, l=1.0)),
        "weight_tile_p_12": _component_case(lambda: weight_tile(polarity="p", fingers=12, w=1.0, l=1.0)),
        "crossbar_reference_c0": _component_case(_reference_crossbar),
        "folded_source_tile_9": _component_case(lambda: folded_source_tile(fingers=9, w=1.0, l=1.0)),
    }


# The cases, without importing the generators (the test module parametrises over them).
CASE_NAMES = ("nfet_w1_l1_f4", "pfet_w2_l0p5_f3", "mirror_n_2_1_3", "matched_row_n_8_1_2_1_3", "matched_row_p_5_2",
              "tap_strip_p", "guard_ring_n", "bmru_cell_reference_0", "array_reference", "weight_tile_n_3",
              "weight_tile_p_12", "crossbar_reference_c0", "folded_source_tile_9")


def draw(name: str, folder: Path) -> Drawn:
    return _cases()[name](folder)


def golden_paths(name: str) -> tuple[Path, Path]:
    return GOLDEN / f"{name}.gds.gz", GOLDEN / f"{name}.json"


def read_layout(path: Path) -> kdb.Layout:
    layout = kdb.Layout()
    layout.read(str(path))  # KLayout reads .gds.gz directly
    return layout


def xor_differences(reference: kdb.Layout, drawn: kdb.Layout) -> dict[str, float]:
    """µm² of XOR per layer ("layer/datatype") between the two top cells, flattened; empty when
    the geometry is the same."""
    def regions(layout: kdb.Layout) -> dict[str, kdb.Region]:
        top = layout.top_cell()
        found = {}
        for index in layout.layer_indexes():
            info = layout.get_info(index)
            region = kdb.Region(top.begin_shapes_rec(index))
            if not region.is_empty():
                found[f"{info.layer}/{info.datatype}"] = region
        return found

    if abs(reference.dbu - drawn.dbu) > 1e-12:
        return {"dbu": abs(reference.dbu - drawn.dbu)}
    a, b = regions(reference), regions(drawn)
    differences = {}
    for layer in sorted(set(a) | set(b)):
        xor = a.get(layer, kdb.Region()) ^ b.get(layer, kdb.Region())
        if not xor.is_empty():
            differences[layer] = round(xor.area() * reference.dbu ** 2, 6)
    return differences


def refresh(name: str) -> None:
    """Redraw ``name`` and store it as the new reference (gzip without a time stamp, so the same
    geometry gives the same bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="bmru_golden_"))
    try:
        drawn = draw(name, folder)
        gds_path, json_path = golden_paths(name)
        GOLDEN.mkdir(parents=True, exist_ok=True)
        with open(drawn.gds, "rb") as source, gzip.GzipFile(gds_path, "wb", mtime=0) as target:
            shutil.copyfileobj(source, target)
        json_path.write_text(json.dumps(drawn.summary, indent=2, sort_keys=True) + "\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description="Refresh the golden layouts "
                                     "(tests/golden/) after an intended geometry change.")
    parser.add_argument("names", nargs="*", help="only the cases whose name contains one of these")
    args = parser.parse_args(argv)
    chosen = [n for n in CASE_NAMES if not args.names or any(part in n for part in args.names)]
    if not chosen:
        parser.error(f"no case matches {' '.join(args.names)}; cases: {', '.join(CASE_NAMES)}")
    for name in chosen:
        refresh(name)
        print(f"refreshed {golden_paths(name)[0].relative_to(ROOT)}")


if __name__ == "__main__":
    main()
