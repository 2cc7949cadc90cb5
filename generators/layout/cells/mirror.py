"""A matched current-mirror group in one interdigitated row.

One diode-connected reference of ``ref_units`` units and K outputs of ``out_units[i]`` units;
a *unit* is two fingers of ``w`` µm sharing their drain (so a unit device has W = 2 w), all at
gate length ``l``. Units are interleaved evenly along the row (or, with
``common_centroid=True``, mirrored about the row centre); a dummy finger (gate on the mirror
gate, source and drain on the source) ends the row on both sides.

Ports and pin labels: ``gate`` (met1, east; also the reference drain), ``source`` (met1, west),
``d1`` .. ``dK`` (met2, east, the output drains), ``body`` (met1, west, with ``tap=True``).
:func:`mirror_spice` writes the matching subcircuit, each device as ONE instance of its
fingers, ``w`` with ``m`` = 2 x its unit count (LVS compares finger count and width).
"""

from __future__ import annotations

from fractions import Fraction

import gdsfactory as gf

from ._draw import Draw, nm
from pdk_sky130_180.devices import fet

from .row import RowSpec, draw_row, pin_box

__all__ = ["mirror", "mirror_spice", "unit_sequence"]

FINGERS_PER_UNIT = 2


def unit_sequence(counts: tuple[int, ...], common_centroid: bool = False) -> tuple[int, ...]:
    """Device index of each unit along the row, spreading every device evenly.

    Deterministic: at each step the device furthest behind its ideal share is placed
    (ties to the lowest index). ``common_centroid`` builds half the row that way and mirrors
    it (an odd unit count puts one unit of each odd device in the middle).
    """
    if any(c < 1 for c in counts):
        raise ValueError(f"every device needs at least one unit, got {counts}")
    if common_centroid:
        halves = tuple(c // 2 for c in counts)
        middle = tuple(i for i, c in enumerate(counts) if c % 2)
        left = _spread(halves)
        return left + middle + tuple(reversed(left))
    return _spread(counts)


def _spread(counts: tuple[int, ...]) -> tuple[int, ...]:
    total = sum(counts)
    placed = [0] * len(counts)
    seq = []
    for t in range(total):
        best, best_v = -1, None
        for i, c in enumerate(counts):
            if placed[i] >= c:
                continue
            v = Fraction(c * (t + 1), total) - placed[i]
            if best_v is None or v > best_v:
                best, best_v = i, v
        seq.append(best)
        placed[best] += 1
    return tuple(seq)


def _validate(w: float, l: float, ref_units: int, out_units: tuple[int, ...]) -> None:
    for name, value in (("ref_units", ref_units), *((f"out_units[{i}]", k) for i, k in enumerate(out_units))):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not out_units:
        raise ValueError("out_units needs at least one output")
    if abs(nm(w) - w * 1000) > 1e-6 or abs(nm(l) - l * 1000) > 1e-6:
        raise ValueError(f"w={w} and l={l} must be multiples of 0.001 µm")


@gf.cell
def mirror(polarity: str = "n", w: float = 1.0, l: float = 1.0, ref_units: int = 1,
           out_units: tuple[int, ...] = (1,), dummies: bool = True, tap: bool = True,
           common_centroid: bool = False) -> gf.Component:
    """Current-mirror group (see the module doc)."""
    out_units = tuple(out_units)
    _validate(w, l, ref_units, out_units)
    counts = (ref_units, *out_units)
    names = ("gate",) + tuple(f"d{i + 1}" for i in range(len(out_units)))
    regions: list[str] = ["source"]
    if dummies:
        regions.append("source")  # dummy finger: gate on the gate net, both sides on the source
    for dev in unit_sequence(counts, common_centroid):
        regions += [names[dev], "source"]
    if dummies:
        regions.append("source")
    spec = RowSpec(polarity=polarity, w=nm(w), l=nm(l), regions=tuple(regions), source="source",
                   drains=names, tap=tap, diode="gate")
    c = gf.Component()
    d = Draw(c)
    pins = draw_row(d, spec)
    d.pin("gate", "met1", pin_box(pins.gate, "e"), "e")
    d.pin("source", "met1", pin_box(pins.source, "w"), "w")
    for name in names[1:]:
        d.pin(name, "met2", pin_box(pins.drains[name], "e"), "e")
    if pins.body is not None:
        d.pin("body", "met1", pin_box(pins.body, "w"), "w")
    d.boundary()
    c.info["polarity"] = polarity
    c.info["unit_w"] = round(FINGERS_PER_UNIT * w, 6)
    c.info["units"] = list(counts)
    return c


def mirror_spice(name: str, polarity: str = "n", w: float = 1.0, l: float = 1.0, ref_units: int = 1,
                 out_units: tuple[int, ...] = (1,), body: str = "body") -> str:
    """Reference subcircuit: pins ``gate source d1..dK body``; one instance per device, its
    fingers as ``m`` (a unit is FINGERS_PER_UNIT fingers of ``w``)."""
    model = fet(polarity).model
    outs = [f"d{i + 1}" for i in range(len(out_units))]
    f = FINGERS_PER_UNIT
    lines = [f".subckt {name} gate source {' '.join(outs)} {body}",
             f"XMREF gate gate source {body} {model} w={w:g} l={l:g} m={f * ref_units}"]
    for i, k in enumerate(out_units):
        lines.append(f"XMOUT{i + 1} {outs[i]} gate source {body} {model} w={w:g} l={l:g} m={f * k}")
    lines.append(f".ends {name}")
    return "\n".join(lines) + "\n"
