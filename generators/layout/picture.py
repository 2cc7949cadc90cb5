"""``layout.png``: the floorplan for a person to look at.

Every placed cell is filled in the colour of the block it belongs to (W_in, W_c0, the cells of
layer 0, ...), each block is named once on the picture and in the legend, and the three routing
metals are drawn over it in distinct colours, from the GDS itself (met1 blue, met2 red, met3
green). KLayout's own view of ``layout.gds`` shows every mask layer; this picture shows where
things are.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import klayout.db as kdb

from generators.layout.floorplan import PlacedDevice
from pdk_sky130_180 import layers as L

METAL_COLOURS = (("met1", "#1f4fd1"), ("met2", "#d1261f"), ("met3", "#139a3a"))


def block_of(device_name: str) -> str:
    """The block a flat device belongs to, named as a person reads the circuit (the schematic's
    instance path: ``fc_in`` is W_in, ``layer0/fc_c0`` W_c0, ``layer1/cell2`` a cell of layer 1,
    ``rx_u0`` the receivers of signal u0)."""
    parts = device_name.split("/")
    if parts[0] == "fc_in":
        return "W_in"
    if parts[0] == "fc_out":
        return "W_out"
    if parts[0] == "bias":
        return "bias"
    if parts[0].startswith("rx_"):
        return f"receivers {parts[0][3:]}"
    match = re.fullmatch(r"layer(\d+)", parts[0])
    if match and len(parts) > 1:
        layer, block = match.group(1), parts[1]
        if block.startswith("cell"):
            return f"cells of layer {layer}"
        if block.startswith("fc_c"):
            return f"W_c{layer}"
        if block.startswith("fc_o"):
            return f"W_o{layer}"
        if block.startswith("rx_"):
            return f"receivers {block[3:]}"
        if block.startswith("res"):
            return f"residual {layer}"
    return parts[0]


def placed_block(placed: PlacedDevice) -> str:
    """A placed cell's block: a group's is its members' most common one (a matched group draws a
    signal's diode with the weights that read it: it belongs to their projection). A crossbar
    (a macro named by its projection's instance path) is its projection, receivers included."""
    own = block_of(placed.name)
    if not placed.devices or own.startswith("W_"):
        return own
    counts = Counter()
    for name, fingers in placed.devices:
        counts[block_of(name)] += fingers
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _metal_polygons(gds_path: Path) -> tuple[dict[str, list[list[tuple[float, float]]]], kdb.DBox]:
    """Each routing metal's merged polygons (µm), and the top cell's extent."""
    layout = kdb.Layout()
    layout.read(str(gds_path))
    top = layout.top_cell()
    polygons = {}
    for name, _ in METAL_COLOURS:
        index = layout.find_layer(*L.ROUTING[name].gds)
        region = kdb.Region() if index is None else kdb.Region(top.begin_shapes_rec(index)).merged()
        polygons[name] = [[(p.x * layout.dbu, p.y * layout.dbu) for p in polygon.each_point_hull()]
                          for polygon in region.each()]
    return polygons, top.dbbox()


def render_png(gds_path: str | os.PathLike, png_path: str | os.PathLike, placed: Sequence[PlacedDevice],
               title: str = "") -> None:
    """Draw the floorplan of ``placed`` (dbu = 1 nm) with the routing metals of ``gds_path``."""
    import matplotlib  # noqa: PLC0415 - only when drawing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.collections import PatchCollection, PolyCollection  # noqa: PLC0415
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    from bmru.cli import atomic_write  # noqa: PLC0415

    blocks = sorted({placed_block(p) for p in placed})
    palette = plt.get_cmap("tab20")
    colour = {block: palette(index % 20) for index, block in enumerate(blocks)}
    metals, extent = _metal_polygons(Path(gds_path))
    width_um, height_um = extent.right, extent.top
    scale = 11.0 / max(width_um, height_um)
    figure, axes = plt.subplots(figsize=(max(4.0, width_um * scale) + 3.2, max(4.0, height_um * scale) + 0.8))
    by_block: dict[str, list[Rectangle]] = {block: [] for block in blocks}
    for cell in placed:
        by_block[placed_block(cell)].append(Rectangle((cell.x / 1000, cell.y / 1000), cell.width / 1000,
                                                      cell.height / 1000))
    for block, rects in by_block.items():
        axes.add_collection(PatchCollection(rects, facecolor=colour[block], edgecolor=colour[block], alpha=0.45,
                                            linewidth=0.6, label=block))
    for name, metal_colour in METAL_COLOURS:
        axes.add_collection(PolyCollection(metals[name], facecolor=metal_colour, edgecolor="none", alpha=0.55,
                                           label=name))
    for block, rects in by_block.items():  # the name once, on the block's largest cell
        biggest = max(rects, key=lambda r: r.get_width() * r.get_height())
        axes.text(biggest.get_x() + biggest.get_width() / 2, biggest.get_y() + biggest.get_height() / 2, block,
                  ha="center", va="center", fontsize=7, weight="bold",
                  bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": colour[block], "pad": 1.0})
    axes.set_xlim(extent.left, extent.right)
    axes.set_ylim(extent.bottom, extent.top)
    axes.set_aspect("equal")
    axes.set_xlabel("µm")
    axes.set_title(title or f"{width_um:.0f} x {height_um:.0f} µm", fontsize=9)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    figure.tight_layout()
    atomic_write(Path(png_path), lambda tmp: figure.savefig(tmp, dpi=110, format="png",
                                                             metadata={"Software": None}))
    plt.close(figure)
