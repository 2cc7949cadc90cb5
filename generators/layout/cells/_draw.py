"""Drawing helpers shared by the cells: integer-nm geometry on a gdsfactory Component.

All coordinates here are integers in database units (1 nm = 0.001 µm, the GDS database unit),
so that every shape lands exactly on the 5 nm grid; rule values come from
:mod:`pdk_sky130_180.rules` through :func:`nm`.
"""

from __future__ import annotations

import os
from pathlib import Path

import gdsfactory as gf
import klayout.db as kdb

from bmru.cli import atomic_write
from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R

GRID_NM = 5


def nm(value: float | R.Rule) -> int:
    """µm (or a rule's value) to integer nm."""
    return int(round(float(value) * 1000))


def up(v: int) -> int:
    """Round up to the 5 nm grid."""
    return -((-v) // GRID_NM) * GRID_NM


def down(v: int) -> int:
    """Round down to the 5 nm grid."""
    return (v // GRID_NM) * GRID_NM


class Draw:
    """Puts boxes, labels and ports on a component (nm units)."""

    def __init__(self, c: gf.Component):
        self.c = c

    def layer_index(self, layer: L.Layer) -> int:
        return self.c.kcl.layer(layer.layer, layer.datatype)

    def rect(self, layer: L.Layer, x0: int, y0: int, x1: int, y1: int) -> kdb.Box:
        box = kdb.Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        for v in (box.left, box.bottom, box.right, box.top):
            if v % GRID_NM:
                raise ValueError(f"off-grid coordinate {v} nm on {layer}")
        if box.empty() or box.width() == 0 or box.height() == 0:
            raise ValueError(f"empty box on {layer}: {box}")
        self.c.shapes(self.layer_index(layer)).insert(box)
        return box

    def label(self, layer: L.Layer, text: str, x: int, y: int) -> None:
        self.c.shapes(self.layer_index(layer)).insert(kdb.Text(text, kdb.Trans(x, y)))

    def pin(self, name: str, metal: str, box: kdb.Box, side: str) -> None:
        """A named port on ``metal`` at the ``side`` ("w", "e", "s", "n") edge of ``box``,
        with a pin shape (purpose 16) over the box and a label (purpose 5) at its centre."""
        draw = L.ROUTING[metal]
        self.rect(L.PIN_OF[metal], box.left, box.bottom, box.right, box.top)
        cx, cy = box.center().x, box.center().y
        self.label(L.LABEL_OF[metal], name, cx, cy)
        rot, x, y, width = {
            "w": (2, box.left, cy, box.height()),
            "e": (0, box.right, cy, box.height()),
            "s": (3, cx, box.bottom, box.width()),
            "n": (1, cx, box.top, box.width()),
        }[side]
        width -= width % 2  # kfactory wants an even port width
        self.c.create_port(name=name, trans=kdb.Trans(rot, False, x, y), width=width,
                           layer=self.layer_index(draw), port_type="electrical")

    def boundary(self, margin: int = 0) -> None:
        bb = self.c.bbox()
        self.rect(L.PR_BOUNDARY, down(bb.left - margin), down(bb.bottom - margin),
                  up(bb.right + margin), up(bb.top + margin))


def cut_row(start: int, stop: int, size: int, space: int) -> list[int]:
    """Lower coordinates of as many cuts of ``size`` (pitch ``size+space``) as fit in
    [start, stop], centred on the grid. Empty if none fits."""
    avail = stop - start
    if avail < size:
        return []
    n = (avail - size) // (size + space) + 1
    span = n * size + (n - 1) * space
    first = start + down((avail - span) // 2)
    return [first + i * (size + space) for i in range(n)]


def to_layout(component: gf.Component) -> kdb.Layout:
    """A fresh klayout Layout holding ``component`` and its hierarchy (dbu 0.001)."""
    layout = kdb.Layout()
    layout.dbu = R.DBU
    # layers in a canonical order: gdsfactory's shared layout numbers them in the order the
    # process first met them, which would make the GDS bytes depend on earlier cells
    src = component.kcl.layout
    infos = sorted({(src.get_info(i).layer, src.get_info(i).datatype) for i in src.layer_indexes()})
    for layer, datatype in infos:
        layout.layer(layer, datatype)
    top = layout.create_cell(component.name)
    top.copy_tree(component.kdb_cell)
    # drop layers the cell does not use (also part of the canonical form)
    for idx in list(layout.layer_indexes()):
        if layout.top_cell().bbox_per_layer(idx).empty() and not any(
                not c.shapes(idx).is_empty() for c in layout.each_cell()):
            layout.delete_layer(idx)
    return layout


def save_options() -> kdb.SaveLayoutOptions:
    """GDS options for deterministic bytes, readable by KLayout 0.28."""
    opt = kdb.SaveLayoutOptions()
    opt.format = "GDS2"
    opt.write_context_info = False
    opt.gds2_write_timestamps = False
    opt.gds2_write_cell_properties = False
    opt.gds2_write_file_properties = False
    opt.gds2_libname = "LIB"
    return opt


def write_gds(component: gf.Component | kdb.Layout, path: str | os.PathLike) -> Path:
    """Write ``component`` (or a Layout) to ``path`` deterministically and atomically."""
    layout = component if isinstance(component, kdb.Layout) else to_layout(component)
    atomic_write(path, lambda tmp: layout.write(tmp, save_options()))
    return Path(path)
