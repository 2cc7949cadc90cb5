"""Multi-finger nfet / pfet cells (sky130 1.8 V devices), with an optional body tap.

Ports (and pin labels, which LVS names the nets by): ``gate`` (met1, east), ``source`` (met1,
west), ``drain`` (met2, east), ``body`` (met1, west; only with ``tap=True``). Fingers alternate
source/drain starting and ending with a source when ``fingers`` is even.
"""

from __future__ import annotations

import gdsfactory as gf

from ._draw import Draw, nm
from pdk_sky130_180.devices import fet

from .row import RowSpec, draw_row, pin_box

__all__ = ["nfet", "pfet", "mosfet", "mosfet_spice"]


def _check_params(w: float, l: float, fingers: int) -> tuple[int, int]:
    if not isinstance(fingers, int) or isinstance(fingers, bool) or fingers < 1:
        raise ValueError(f"fingers must be a positive integer, got {fingers!r}")
    wn, ln = nm(w), nm(l)
    if abs(wn - w * 1000) > 1e-6 or abs(ln - l * 1000) > 1e-6:
        raise ValueError(f"w={w} and l={l} must be multiples of 0.001 µm")
    return wn, ln


@gf.cell
def mosfet(polarity: str = "n", w: float = 1.0, l: float = 0.18, fingers: int = 1,
           tap: bool = True) -> gf.Component:
    """A ``fingers``-finger transistor, each finger ``w`` µm wide and ``l`` µm long."""
    wn, ln = _check_params(w, l, fingers)
    regions = tuple("source" if i % 2 == 0 else "drain" for i in range(fingers + 1))
    spec = RowSpec(polarity=polarity, w=wn, l=ln, regions=regions, source="source",
                   drains=("drain",), tap=tap)
    c = gf.Component()
    d = Draw(c)
    pins = draw_row(d, spec)
    d.pin("gate", "met1", pin_box(pins.gate, "e"), "e")
    d.pin("source", "met1", pin_box(pins.source, "w"), "w")
    d.pin("drain", "met2", pin_box(pins.drains["drain"], "e"), "e")
    if pins.body is not None:
        d.pin("body", "met1", pin_box(pins.body, "w"), "w")
    d.boundary()
    c.info["polarity"] = polarity
    c.info["model"] = fet(polarity).model
    c.info["w_total"] = round(w * fingers, 6)
    return c


def nfet(w: float = 1.0, l: float = 0.18, fingers: int = 1, tap: bool = True) -> gf.Component:
    """nfet (``sky130_fd_pr__nfet_01v8``) with a p+ substrate tap."""
    return mosfet(polarity="n", w=w, l=l, fingers=fingers, tap=tap)


def pfet(w: float = 1.0, l: float = 0.18, fingers: int = 1, tap: bool = True) -> gf.Component:
    """pfet (``sky130_fd_pr__pfet_01v8``) in an n-well with an n+ well tap."""
    return mosfet(polarity="p", w=w, l=l, fingers=fingers, tap=tap)


def mosfet_spice(name: str, polarity: str = "n", w: float = 1.0, l: float = 0.18, fingers: int = 1,
                 body: str = "body") -> str:
    """Reference subcircuit for LVS: one device of ``m=fingers`` (pins drain gate source body)."""
    model = fet(polarity).model
    return (f".subckt {name} drain gate source {body}\n"
            f"XM1 drain gate source {body} {model} w={w:g} l={l:g} m={fingers}\n"
            f".ends {name}\n")
