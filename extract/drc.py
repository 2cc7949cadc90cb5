"""DRC deck for the project's sky130 layouts, in klayout.db Python.

Checks the top cell of a GDS against the rule values in :mod:`pdk_sky130_180.rules` (one
source of truth with the cell generators) and writes

- ``drc.lyrdb``: a KLayout report database, one category per rule (named as the rule, e.g.
  ``poly.1a``, with the rule's description); opens in KLayout's marker browser;
- ``drc.json``: ``violations`` (int), ``by_rule`` ({rule: count}, every checked rule),
  ``rules_checked`` (int), ``seconds``, plus ``gds``, ``top_cell``, ``clean``.

Usage::

    python -m extract.drc GDS [-o DIR]

Exit status: 0 clean, 1 violations (after writing the reports), 2 bad input.

Large layouts (over DEEP_THRESHOLD shapes) are read into a deep (hierarchical) shape store,
so repeated cells are checked once per distinct context; small ones run flat, which is faster. :data:`RULE_NAMES` lists every rule the deck checks; each must have a
must-fail fixture in ``tests/test_drc_rules.py``.

Not checked (yet): rules for layers our cells do not draw (dnwell, hvi, lvtn/hvtp, capm,
met4/5, resistors, diodes, ESD), butting diff/tap (difftap.4-7: our cells never butt), the
huge-metal spacing rules (m1.3 etc.), density rules, antenna rules and poly.10/11 (poly corner
shapes over diff).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

import klayout.db as db
import klayout.rdb as rdb

from bmru.cli import atomic_write
from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R

Marker = Union[db.EdgePairs, db.Region, db.Edges]

__all__ = ["RULE_NAMES", "DrcResult", "run_drc", "check_layout", "main"]


class DrcInputError(Exception):
    """The GDS cannot be read or has no single top cell."""


# ---------------------------------------------------------------------------------------
# the layer set the checks see
# ---------------------------------------------------------------------------------------
class _Layers:
    """Input and derived regions, created lazily (flat or deep mode)."""

    def __init__(self, layout: db.Layout, cell: db.Cell, dss: db.DeepShapeStore | None):
        self.layout = layout
        self.cell = cell
        self.dss = dss
        self.dbu = layout.dbu
        self._cache: dict[str, db.Region] = {}

    def um(self, value: float) -> int:
        """µm to database units (exact for our grid)."""
        return int(round(value / self.dbu))

    def input(self, layer: L.Layer) -> db.Region:
        key = f"in:{layer.layer}/{layer.datatype}"
        if key not in self._cache:
            idx = self.layout.find_layer(layer.layer, layer.datatype)
            if idx is None:
                region = db.Region()
            elif self.dss is not None:
                region = db.Region(self.cell.begin_shapes_rec(idx), self.dss)
            else:
                region = db.Region(self.cell.begin_shapes_rec(idx))
            self._cache[key] = region
        return self._cache[key]

    def __getattr__(self, name: str) -> db.Region:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = getattr(self, f"_derive_{name}")()
        return self._cache[name]

    # drawn layers
    def _derive_nwell(self): return self.input(L.NWELL)
    def _derive_diff(self): return self.input(L.DIFF)
    def _derive_tap(self): return self.input(L.TAP)
    def _derive_poly(self): return self.input(L.POLY)
    def _derive_licon(self): return self.input(L.LICON1)
    def _derive_npc(self): return self.input(L.NPC)
    def _derive_nsdm(self): return self.input(L.NSDM)
    def _derive_psdm(self): return self.input(L.PSDM)
    def _derive_li(self): return self.input(L.LI1)
    def _derive_mcon(self): return self.input(L.MCON)
    def _derive_m1(self): return self.input(L.MET1)
    def _derive_via(self): return self.input(L.VIA)
    def _derive_m2(self): return self.input(L.MET2)
    def _derive_via2(self): return self.input(L.VIA2)
    def _derive_m3(self): return self.input(L.MET3)

    # derived layers
    def _derive_difftap(self): return self.diff | self.tap
    def _derive_gate(self): return self.diff & self.poly
    def _derive_sd(self): return self.diff - self.poly
    # n+ / p+ diffusion: covered by one implant only (both implants is nsd.8, none nsd.9)
    def _derive_ndiff(self): return self.diff.overlapping(self.nsdm).not_overlapping(self.psdm)
    def _derive_pdiff(self): return self.diff.overlapping(self.psdm).not_overlapping(self.nsdm)
    def _derive_ntap(self): return self.tap.overlapping(self.nsdm).not_overlapping(self.psdm)
    def _derive_ptap(self): return self.tap.overlapping(self.psdm).not_overlapping(self.nsdm)
    def _derive_ndifftap(self): return self.ndiff | self.ntap
    def _derive_pdifftap(self): return self.pdiff | self.ptap
    def _derive_poly_licon(self): return self.licon.overlapping(self.poly).not_overlapping(self.difftap)
    def _derive_diff_licon(self): return self.licon.overlapping(self.diff).not_overlapping(self.poly)
    def _derive_tap_licon(self): return self.licon.overlapping(self.tap).not_overlapping(self.poly)
    def _derive_difftap_licon(self): return self.licon.overlapping(self.difftap)


# ---------------------------------------------------------------------------------------
# check helpers (all distances in µm)
# ---------------------------------------------------------------------------------------
_NEVER0 = db.Region.NeverIncludeZeroDistance


def _width(x: _Layers, r: db.Region, d: float) -> db.EdgePairs:
    return r.width_check(x.um(d))


def _space(x: _Layers, r: db.Region, d: float) -> db.EdgePairs:
    return r.space_check(x.um(d))


def _sep(x: _Layers, a: db.Region, b: db.Region, d: float, projection: bool = False) -> db.EdgePairs:
    metrics = db.Region.Projection if projection else db.Region.Euclidian
    return a.separation_check(b, x.um(d), metrics=metrics, zero_distance_mode=_NEVER0)


def _sep_no_overlap(x: _Layers, a: db.Region, b: db.Region, d: float) -> list[Marker]:
    """Spacing ``a`` to ``b`` of at least ``d`` and no overlap."""
    return [_sep(x, a, b, d), a & b]


def _enc(x: _Layers, outer: db.Region, inner: db.Region, d: float) -> list[Marker]:
    """``inner`` lies inside ``outer`` with at least ``d`` on every side."""
    return [outer.enclosing_check(inner, x.um(d)), inner - outer]


def _enc_dir(x: _Layers, outer: db.Region, inner: db.Region, d: float) -> list[Marker]:
    """Enclosure of ``d`` on two opposite sides of each rectangular cut.

    A cut fails when its sides with less than ``d`` include two adjacent sides (a corner).
    Non-rectangular cuts are reported by the cut-size rules.
    """
    dd = x.um(d)
    one = inner.enclosed_check(outer, dd, rect_filter=db.Region.OneSideAllowed)
    opp = inner.enclosed_check(outer, dd, rect_filter=db.Region.TwoOppositeSidesAllowed)
    if one.is_empty() or opp.is_empty():
        return [db.EdgePairs()]
    bad = inner.interacting(one.first_edges()) & inner.interacting(opp.first_edges())
    if bad.is_empty():
        return [db.EdgePairs()]
    return [bad.enclosed_check(outer, dd)]


def _cut_size(x: _Layers, cut: db.Region, size: float) -> list[Marker]:
    """Cuts must be squares of exactly ``size``."""
    s = x.um(size)
    return [cut.non_squares(), cut.squares().with_bbox_width(s, True)]


def _area(x: _Layers, r: db.Region, a: float) -> db.Region:
    return r.with_area(0, int(round(a / (x.dbu * x.dbu))), False)


def _holes(x: _Layers, r: db.Region, a: float) -> db.Region:
    return r.holes().with_area(0, int(round(a / (x.dbu * x.dbu))), False)


def _off_grid(x: _Layers) -> list[Marker]:
    g = x.um(R.GRID)
    return [x.input(lay).grid_check(g, g) for lay in L.DRAWN_LAYERS]


def _non_manhattan(x: _Layers) -> list[Marker]:
    return [x.input(lay).edges().with_angle(db.Edges.OrthoEdges, True) for lay in L.DRAWN_LAYERS]


def _gate_width(x: _Layers) -> list[Marker]:
    """Channel width: the gate edges on the diffusion boundary face each other W apart."""
    ends = x.gate.edges() & x.diff.edges()
    return [ends.width_check(x.um(R.GATE_WIDTH.value))]


def _latchup(x: _Layers, diff: db.Region, taps: db.Region, d: float) -> db.Region:
    contacted = taps.interacting(x.licon)
    if contacted.is_empty():
        return diff.dup()
    return diff - contacted.sized(x.um(d))


# ---------------------------------------------------------------------------------------
# the deck
# ---------------------------------------------------------------------------------------
Check = Callable[[_Layers], list[Marker]]


def _as_list(value) -> list[Marker]:
    return value if isinstance(value, list) else [value]


_CHECKS: dict[str, Check] = {}


def _check(rule: R.Rule, fn: Callable[[_Layers], object]) -> None:
    if rule.name in _CHECKS:
        raise ValueError(f"rule {rule.name} checked twice")
    _CHECKS[rule.name] = lambda x: _as_list(fn(x))


v = lambda rule: float(rule)  # noqa: E731  (µm value of a rule)

_check(R.OFF_GRID, _off_grid)
_check(R.NON_MANHATTAN, _non_manhattan)
# nwell
_check(R.NWELL_WIDTH, lambda x: _width(x, x.nwell, v(R.NWELL_WIDTH)))
_check(R.NWELL_SPACE, lambda x: _space(x, x.nwell, v(R.NWELL_SPACE)))
_check(R.NWELL_TAP, lambda x: x.nwell.not_interacting(x.ntap.interacting(x.licon)))
# diff / tap
_check(R.DIFF_WIDTH, lambda x: [_width(x, x.diff, v(R.DIFF_WIDTH)), _width(x, x.tap, v(R.DIFF_WIDTH))])
_check(R.GATE_WIDTH, _gate_width)
_check(R.DIFF_SPACE, lambda x: [_space(x, x.diff, v(R.DIFF_SPACE)), _space(x, x.tap, v(R.DIFF_SPACE)),
                                _sep(x, x.diff, x.tap, v(R.DIFF_SPACE)), x.diff & x.tap])
_check(R.PDIFF_NWELL_ENC, lambda x: _enc(x, x.nwell, x.pdiff, v(R.PDIFF_NWELL_ENC)))
_check(R.NDIFF_NWELL_SPACE, lambda x: _sep_no_overlap(x, x.ndiff, x.nwell, v(R.NDIFF_NWELL_SPACE)))
_check(R.NTAP_NWELL_ENC, lambda x: _enc(x, x.nwell, x.ntap, v(R.NTAP_NWELL_ENC)))
_check(R.PTAP_NWELL_SPACE, lambda x: _sep_no_overlap(x, x.ptap, x.nwell, v(R.PTAP_NWELL_SPACE)))
# poly
_check(R.POLY_WIDTH, lambda x: _width(x, x.poly, v(R.POLY_WIDTH)))
_check(R.POLY_SPACE, lambda x: _space(x, x.poly, v(R.POLY_SPACE)))
_check(R.POLY_DIFF_SPACE, lambda x: _sep(x, x.poly - x.diff, x.diff, v(R.POLY_DIFF_SPACE), projection=True))
_check(R.POLY_TAP_SPACE, lambda x: _sep_no_overlap(x, x.poly, x.tap, v(R.POLY_TAP_SPACE)))
_check(R.DIFF_POLY_EXT, lambda x: x.diff.enclosing_check(
    x.gate, x.um(v(R.DIFF_POLY_EXT)), metrics=db.Region.Projection, zero_distance_mode=_NEVER0))
_check(R.POLY_ENDCAP, lambda x: x.poly.enclosing_check(
    x.gate, x.um(v(R.POLY_ENDCAP)), metrics=db.Region.Projection, zero_distance_mode=_NEVER0))
# licon
_check(R.LICON_SIZE, lambda x: _cut_size(x, x.licon, v(R.LICON_SIZE)))
_check(R.LICON_SPACE, lambda x: _space(x, x.licon, v(R.LICON_SPACE)))
_check(R.LICON_OVERLAP, lambda x: [x.licon - x.li, x.licon - (x.poly | x.difftap)])
_check(R.LICON_DIFF_ENC, lambda x: _enc(x, x.diff, x.diff_licon, v(R.LICON_DIFF_ENC)))
_check(R.LICON_DIFF_ENC_DIR, lambda x: _enc_dir(x, x.diff, x.diff_licon, v(R.LICON_DIFF_ENC_DIR)))
_check(R.LICON_TAP_ENC_DIR, lambda x: [*_enc_dir(x, x.tap, x.tap_licon, v(R.LICON_TAP_ENC_DIR)),
                                       x.tap_licon - x.tap])
_check(R.LICON_POLY_ENC, lambda x: _enc(x, x.poly, x.poly_licon, v(R.LICON_POLY_ENC)))
_check(R.LICON_POLY_ENC_DIR, lambda x: _enc_dir(x, x.poly, x.poly_licon, v(R.LICON_POLY_ENC_DIR)))
_check(R.POLY_LICON_PSDM_SPACE, lambda x: _sep_no_overlap(x, x.poly_licon, x.psdm, v(R.POLY_LICON_PSDM_SPACE)))
_check(R.LICON_GATE_SPACE, lambda x: _sep(x, x.difftap_licon, x.gate, v(R.LICON_GATE_SPACE)))
_check(R.NPC_LICON_SPACE, lambda x: _sep_no_overlap(x, x.npc, x.difftap_licon, v(R.NPC_LICON_SPACE)))
_check(R.POLY_LICON_DIFF_SPACE, lambda x: _sep(x, x.poly_licon, x.difftap, v(R.POLY_LICON_DIFF_SPACE)))
_check(R.NPC_POLY_LICON_ENC, lambda x: _enc(x, x.npc, x.poly_licon, v(R.NPC_POLY_LICON_ENC)))
_check(R.SD_LICON, lambda x: [x.sd.not_interacting(x.licon), x.tap.not_interacting(x.licon)])
_check(R.LICON_STRADDLE, lambda x: x.licon.interacting(x.poly).interacting(x.difftap))
# npc
_check(R.NPC_WIDTH, lambda x: _width(x, x.npc, v(R.NPC_WIDTH)))
_check(R.NPC_SPACE, lambda x: _space(x, x.npc, v(R.NPC_SPACE)))
_check(R.NPC_GATE_SPACE, lambda x: _sep_no_overlap(x, x.npc, x.gate, v(R.NPC_GATE_SPACE)))
# implants
_check(R.NSDM_WIDTH, lambda x: _width(x, x.nsdm, v(R.NSDM_WIDTH)))
_check(R.NSDM_SPACE, lambda x: _space(x, x.nsdm, v(R.NSDM_SPACE)))
_check(R.NSDM_DIFF_ENC, lambda x: _enc(x, x.nsdm, x.ndiff, v(R.NSDM_DIFF_ENC)))
_check(R.NSDM_TAP_ENC, lambda x: _enc(x, x.nsdm, x.ntap, v(R.NSDM_TAP_ENC)))
_check(R.NSDM_PDIFF_SPACE, lambda x: _sep(x, x.nsdm, x.pdifftap, v(R.NSDM_PDIFF_SPACE)))
_check(R.IMPLANT_OVERLAP, lambda x: x.difftap & x.nsdm & x.psdm)
_check(R.IMPLANT_MISSING, lambda x: x.difftap - (x.nsdm | x.psdm))
_check(R.NSDM_AREA, lambda x: _area(x, x.nsdm, v(R.NSDM_AREA)))
_check(R.PSDM_WIDTH, lambda x: _width(x, x.psdm, v(R.PSDM_WIDTH)))
_check(R.PSDM_SPACE, lambda x: _space(x, x.psdm, v(R.PSDM_SPACE)))
_check(R.PSDM_DIFF_ENC, lambda x: _enc(x, x.psdm, x.pdiff, v(R.PSDM_DIFF_ENC)))
_check(R.PSDM_TAP_ENC, lambda x: _enc(x, x.psdm, x.ptap, v(R.PSDM_TAP_ENC)))
_check(R.PSDM_NDIFF_SPACE, lambda x: _sep(x, x.psdm, x.ndifftap, v(R.PSDM_NDIFF_SPACE)))
_check(R.PSDM_AREA, lambda x: _area(x, x.psdm, v(R.PSDM_AREA)))
# li1
_check(R.LI_WIDTH, lambda x: _width(x, x.li, v(R.LI_WIDTH)))
_check(R.LI_SPACE, lambda x: _space(x, x.li, v(R.LI_SPACE)))
_check(R.LI_LICON_ENC_DIR, lambda x: _enc_dir(x, x.li, x.licon, v(R.LI_LICON_ENC_DIR)))
_check(R.LI_AREA, lambda x: _area(x, x.li, v(R.LI_AREA)))
# mcon
_check(R.MCON_SIZE, lambda x: _cut_size(x, x.mcon, v(R.MCON_SIZE)))
_check(R.MCON_SPACE, lambda x: _space(x, x.mcon, v(R.MCON_SPACE)))
_check(R.MCON_LI_ENC, lambda x: x.mcon - x.li)
# met1
_check(R.M1_WIDTH, lambda x: _width(x, x.m1, v(R.M1_WIDTH)))
_check(R.M1_SPACE, lambda x: _space(x, x.m1, v(R.M1_SPACE)))
_check(R.M1_MCON_ENC, lambda x: _enc(x, x.m1, x.mcon, v(R.M1_MCON_ENC)))
_check(R.M1_MCON_ENC_DIR, lambda x: _enc_dir(x, x.m1, x.mcon, v(R.M1_MCON_ENC_DIR)))
_check(R.M1_AREA, lambda x: _area(x, x.m1, v(R.M1_AREA)))
_check(R.M1_HOLE, lambda x: _holes(x, x.m1, v(R.M1_HOLE)))
# via
_check(R.VIA_SIZE, lambda x: _cut_size(x, x.via, v(R.VIA_SIZE)))
_check(R.VIA_SPACE, lambda x: _space(x, x.via, v(R.VIA_SPACE)))
_check(R.M1_VIA_ENC, lambda x: _enc(x, x.m1, x.via, v(R.M1_VIA_ENC)))
_check(R.M1_VIA_ENC_DIR, lambda x: _enc_dir(x, x.m1, x.via, v(R.M1_VIA_ENC_DIR)))
# met2
_check(R.M2_WIDTH, lambda x: _width(x, x.m2, v(R.M2_WIDTH)))
_check(R.M2_SPACE, lambda x: _space(x, x.m2, v(R.M2_SPACE)))
_check(R.M2_VIA_ENC, lambda x: _enc(x, x.m2, x.via, v(R.M2_VIA_ENC)))
_check(R.M2_VIA_ENC_DIR, lambda x: _enc_dir(x, x.m2, x.via, v(R.M2_VIA_ENC_DIR)))
_check(R.M2_AREA, lambda x: _area(x, x.m2, v(R.M2_AREA)))
_check(R.M2_HOLE, lambda x: _holes(x, x.m2, v(R.M2_HOLE)))
# via2
_check(R.VIA2_SIZE, lambda x: _cut_size(x, x.via2, v(R.VIA2_SIZE)))
_check(R.VIA2_SPACE, lambda x: _space(x, x.via2, v(R.VIA2_SPACE)))
_check(R.M2_VIA2_ENC, lambda x: _enc(x, x.m2, x.via2, v(R.M2_VIA2_ENC)))
_check(R.M2_VIA2_ENC_DIR, lambda x: _enc_dir(x, x.m2, x.via2, v(R.M2_VIA2_ENC_DIR)))
# met3
_check(R.M3_WIDTH, lambda x: _width(x, x.m3, v(R.M3_WIDTH)))
_check(R.M3_SPACE, lambda x: _space(x, x.m3, v(R.M3_SPACE)))
_check(R.M3_VIA2_ENC, lambda x: _enc(x, x.m3, x.via2, v(R.M3_VIA2_ENC)))
_check(R.M3_AREA, lambda x: _area(x, x.m3, v(R.M3_AREA)))
# latch-up
_check(R.LU_NDIFF_PTAP, lambda x: _latchup(x, x.ndiff - x.nwell, x.ptap - x.nwell, v(R.LU_NDIFF_PTAP)))
_check(R.LU_PDIFF_NTAP, lambda x: _latchup(x, x.pdiff & x.nwell, x.ntap & x.nwell, v(R.LU_PDIFF_NTAP)))

#: every rule the deck checks, in deck order
RULE_NAMES: tuple[str, ...] = tuple(_CHECKS)


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------
@dataclass
class DrcResult:
    top_cell: str
    by_rule: dict[str, int]
    markers: dict[str, list[Marker]] = field(repr=False, default_factory=dict)
    seconds: float = 0.0

    @property
    def violations(self) -> int:
        return sum(self.by_rule.values())

    @property
    def clean(self) -> bool:
        return self.violations == 0

    def failing(self) -> dict[str, int]:
        """Only the rules with violations."""
        return {k: n for k, n in self.by_rule.items() if n}


def _count(marker: Marker) -> int:
    return int(marker.count())


#: above this many (flattened) shapes the deck runs in deep (hierarchical) mode
DEEP_THRESHOLD = 200_000


def _flat_shape_count(layout: db.Layout, cell: db.Cell) -> int:
    total = 0
    for lay in L.DRAWN_LAYERS:
        idx = layout.find_layer(lay.layer, lay.datatype)
        if idx is not None:
            it = cell.begin_shapes_rec(idx)
            while not it.at_end() and total <= DEEP_THRESHOLD:
                total += 1
                it.next()
    return total


def check_layout(layout: db.Layout, cell: db.Cell | None = None, *, deep: bool | None = None,
                 rules: tuple[str, ...] | None = None) -> DrcResult:
    """Run the deck on ``cell`` (default: the single top cell) of ``layout``.

    ``deep``: True hierarchical, False flat, None (default) flat for small layouts (fast)
    and deep above :data:`DEEP_THRESHOLD` shapes."""
    t0 = time.perf_counter()
    if cell is None:
        tops = layout.top_cells()
        if len(tops) != 1:
            raise DrcInputError(f"expected one top cell, found {len(tops)}")
        cell = tops[0]
    if abs(layout.dbu - R.DBU) > 1e-9:
        raise DrcInputError(f"database unit {layout.dbu} µm, expected {R.DBU}")
    if deep is None:
        deep = _flat_shape_count(layout, cell) > DEEP_THRESHOLD
    dss = db.DeepShapeStore() if deep else None
    if dss is not None:
        dss.threads = 1
    x = _Layers(layout, cell, dss)
    by_rule: dict[str, int] = {}
    markers: dict[str, list[Marker]] = {}
    for name in rules or RULE_NAMES:
        found = [m for m in _CHECKS[name](x) if not m.is_empty()]
        markers[name] = found
        by_rule[name] = sum(_count(m) for m in found)
    return DrcResult(cell.name, by_rule, markers, time.perf_counter() - t0)


def run_drc(gds: str | os.PathLike, *, deep: bool | None = None) -> DrcResult:
    """Read ``gds`` and check its top cell. Raises :class:`DrcInputError` on bad input."""
    path = Path(gds)
    if not path.is_file():
        raise DrcInputError(f"GDS file not found: {path}")
    layout = db.Layout()
    try:
        layout.read(str(path))
    except Exception as exc:  # klayout raises RuntimeError with a long message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DrcInputError(f"cannot read GDS {path}: {first}") from None
    t0 = time.perf_counter()
    result = check_layout(layout, deep=deep)
    result.seconds = time.perf_counter() - t0
    return result


def write_reports(result: DrcResult, out_dir: str | os.PathLike, gds: str = "", dbu: float = R.DBU) -> tuple[Path, Path]:
    """Write ``drc.lyrdb`` and ``drc.json`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    db_ = rdb.ReportDatabase("sky130 DRC (pdk_sky130_180)")
    db_.top_cell_name = result.top_cell
    if gds:
        db_.original_file = str(gds)
    cell_id = db_.create_cell(result.top_cell).rdb_id()
    trans = db.CplxTrans(dbu)
    for name in RULE_NAMES if set(result.by_rule) == set(RULE_NAMES) else result.by_rule:
        cat = db_.create_category(name)
        cat.description = f"{name}: {R.rule(name).description}"
        for m in result.markers.get(name, []):  # EdgePairs, Region or Edges
            db_.create_items(cell_id, cat.rdb_id(), trans, m)
    lyrdb = out / "drc.lyrdb"
    atomic_write(lyrdb, lambda tmp: db_.save(tmp))
    summary = {
        "violations": result.violations,
        "by_rule": dict(result.by_rule),
        "rules_checked": len(result.by_rule),
        "seconds": round(result.seconds, 3),
        "clean": result.clean,
        "top_cell": result.top_cell,
        "gds": str(gds),
    }
    js = out / "drc.json"

    def _dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2, sort_keys=False)
            fh.write("\n")

    atomic_write(js, _dump)
    return lyrdb, js


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m extract.drc",
        description="DRC of a sky130 GDS (its top cell) with the project's deck; "
                    "writes DIR/drc.lyrdb and DIR/drc.json. Exit 0 clean, 1 violations, 2 bad input.")
    parser.add_argument("gds", help="GDS file to check (its single top cell)")
    parser.add_argument("-o", "--out", default=None,
                        help="output folder (default: the GDS file's folder)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--flat", action="store_true", help="force flat mode")
    mode.add_argument("--deep", action="store_true", help="force deep (hierarchical) mode "
                      f"(default: deep above {DEEP_THRESHOLD} shapes)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    args = parser.parse_args(argv)
    out_dir = Path(args.out) if args.out else Path(args.gds).resolve().parent
    try:
        result = run_drc(args.gds, deep=True if args.deep else (False if args.flat else None))
    except DrcInputError as exc:
        print(f"extract.drc: error: {exc}", file=sys.stderr)
        return 2
    lyrdb, js = write_reports(result, out_dir, gds=args.gds)
    if not args.quiet:
        for name, n in result.failing().items():
            print(f"  {name:12s} {n:6d}  {R.rule(name).description}")
    status = "clean" if result.clean else f"{result.violations} violation(s) in {len(result.failing())} rule(s)"
    print(f"DRC {result.top_cell}: {status}; {len(result.by_rule)} rules in {result.seconds:.2f} s -> {lyrdb}, {js}")
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
