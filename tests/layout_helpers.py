"""Helpers for the layout tests: tiny GDS fixtures built with klayout.db (µm coordinates)."""

from __future__ import annotations

from typing import Iterable, Sequence, Union

import klayout.db as db

from pdk_sky130_180 import layers as L

Rect = tuple  # (Layer, x0, y0, x1, y1) or (Layer, [(x, y), ...]) in µm
Shape = Union[Rect]


def make_layout(shapes: Iterable[Shape], texts: Sequence[tuple] = (), name: str = "TOP") -> db.Layout:
    """A Layout (dbu 0.001) with one cell ``name`` holding ``shapes``.

    ``shapes``: ``(layer, x0, y0, x1, y1)`` boxes or ``(layer, [(x, y), ...])`` polygons in µm.
    ``texts``: ``(layer, text, x, y)``.
    """
    layout = db.Layout()
    layout.dbu = 0.001
    top = layout.create_cell(name)
    for shape in shapes:
        layer = shape[0]
        idx = layout.layer(layer.layer, layer.datatype)
        if len(shape) == 5:
            x0, y0, x1, y1 = shape[1:]
            top.shapes(idx).insert(db.DBox(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        else:
            top.shapes(idx).insert(db.DPolygon([db.DPoint(x, y) for x, y in shape[1]]))
    for layer, text, x, y in texts:
        top.shapes(layout.layer(layer.layer, layer.datatype)).insert(db.DText(text, x, y))
    return layout


def write(layout: db.Layout, path) -> str:
    opt = db.SaveLayoutOptions()
    opt.write_context_info = False
    opt.gds2_write_timestamps = False
    layout.write(str(path), opt)
    return str(path)


def ring(layer: L.Layer, x0: float, y0: float, x1: float, y1: float, hx0: float, hy0: float,
         hx1: float, hy1: float) -> list[Shape]:
    """Four boxes forming a rectangle with a rectangular hole."""
    return [(layer, x0, y0, x1, hy0), (layer, x0, hy1, x1, y1),
            (layer, x0, hy0, hx0, hy1), (layer, hx1, hy0, x1, hy1)]
