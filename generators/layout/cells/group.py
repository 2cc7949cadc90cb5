"""A matched group: MOSFETs sharing gate, source and body, interdigitated in one row.

Device ``i`` has ``fingers[i]`` fingers of ``w`` µm at gate length ``l`` (its total W is
``fingers[i] * w``, exactly as the schematic's ``m``) and its own drain; ``diode`` names the
device whose drain is the gate (a mirror's reference), or None. The row is built from *slots*
two fingers wide, spread evenly along it (:func:`generators.layout.cells.mirror.unit_sequence`; with
``common_centroid=True`` mirrored about the centre), between a dummy finger at each end
(gate on the group's gate, both sides on the source; LVS drops it):

- a *unit*: two fingers of one device around a shared drain (``S D S``);
- a *pair*: the odd finger of one device and the odd finger of another, back to back across
  a diffusion break (``S Di | Dj S``);
- a *lone* finger: the last odd finger when the number of odd devices is odd, facing a dummy
  finger across a diffusion break (``S Di | S S``).

Why diffusion breaks for odd fingers: on one continuous strip every inner drain region has a
gate on both sides, so a device can only have an odd finger count where its drain ends the
diffusion. The alternative, a finger with its gate tied off, is a real transistor: at the pA
currents of this circuit its leakage would add to the output it sits next to, and it would
appear in the extracted netlist. A break adds no device and changes no W, L or finger width;
the price is that an odd finger sits at a diffusion edge (a slightly different stress
environment from the inner fingers), which is why odd fingers come in pairs: each sees the
same edge, across the same gap, as its partner.

Ports and pin labels: ``gate`` (met1, east; also the diode's drain), ``source`` (met1, west),
``body`` (met1, west, with ``tap=True``), and ``d<i>`` (met2, east) for each device ``i`` that
is not the diode. The drain tracks sit :data:`DRAIN_PITCH` apart, so that each can be brought
out sideways to a via landing pad beside the row without crowding the next track.
:func:`matched_row_spice` writes the subcircuit the layout must match in LVS.
"""

from __future__ import annotations

from dataclasses import dataclass

import gdsfactory as gf

from ._draw import Draw, nm, up
from pdk_sky130_180.devices import fet

from .mirror import unit_sequence
from .row import M1_VIA_DIR, M2_SP, M2_TRACK, M2_VIA_DIR, TRACK_PITCH, VIA, RowSpec, draw_row, pin_box

__all__ = ["Slot", "finger_slots", "matched_row", "matched_row_spice", "drain_port", "DRAIN_PITCH"]

# a via1 landing pad centred on a drain track's extension clears the neighbouring track (m2.2)
PIN_PAD = VIA + 2 * max(M1_VIA_DIR, M2_VIA_DIR)
DRAIN_PITCH = max(TRACK_PITCH, up(M2_TRACK // 2 + PIN_PAD // 2 + M2_SP))


@dataclass(frozen=True)
class Slot:
    """Two fingers of the row: ``kind`` "unit" (devices[0] twice), "pair" (one finger of each
    of devices[0] and devices[1]) or "lone" (one finger of devices[0] and a dummy)."""

    kind: str
    devices: tuple[int, ...]


def drain_port(index: int) -> str:
    return f"d{index}"


def finger_slots(fingers: tuple[int, ...], common_centroid: bool = False) -> tuple[Slot, ...]:
    """The slots of a row, in order along it (see the module doc)."""
    if not fingers or any(not isinstance(f, int) or isinstance(f, bool) or f < 1 for f in fingers):
        raise ValueError(f"every device needs a positive integer finger count, got {fingers!r}")
    slots = [Slot("unit", (i,)) for i, f in enumerate(fingers) for _ in range(f // 2)]
    odd = [i for i, f in enumerate(fingers) if f % 2]
    slots += [Slot("pair", (a, b)) for a, b in zip(odd[0::2], odd[1::2])]
    if len(odd) % 2:
        slots.append(Slot("lone", (odd[-1],)))
    # spread: one "item" per device's units, one per odd slot (each of those appears once)
    kinds = sorted(set(slots), key=slots.index)
    counts = tuple(slots.count(k) for k in kinds)
    return tuple(kinds[k] for k in unit_sequence(counts, common_centroid))


def _regions(slots: tuple[Slot, ...], drain_nets: tuple[str, ...], dummies: bool
             ) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """S/D region nets left to right and the gaps that are diffusion breaks."""
    regions = ["source"] + (["source"] if dummies else [])
    breaks: list[int] = []
    for slot in slots:
        first = drain_nets[slot.devices[0]]
        if slot.kind == "unit":
            regions += [first, "source"]
            continue
        regions.append(first)
        breaks.append(len(regions) - 1)  # the gap right after this drain region
        regions += ([drain_nets[slot.devices[1]]] if slot.kind == "pair" else ["source"]) + ["source"]
    if dummies:
        regions.append("source")
    return tuple(regions), tuple(breaks)


def _check(w: float, l: float, fingers: tuple[int, ...], diode: int | None) -> None:
    if abs(nm(w) - w * 1000) > 1e-6 or abs(nm(l) - l * 1000) > 1e-6:
        raise ValueError(f"w={w} and l={l} must be multiples of 0.001 µm")
    if diode is not None and not (isinstance(diode, int) and 0 <= diode < len(fingers)):
        raise ValueError(f"diode {diode!r} is not a device index (0..{len(fingers) - 1})")


@gf.cell
def matched_row(polarity: str = "n", w: float = 1.0, l: float = 1.0, fingers: tuple[int, ...] = (2, 1),
                diode: int | None = None, dummies: bool = True, tap: bool = True,
                common_centroid: bool = False) -> gf.Component:
    """A matched group of ``len(fingers)`` devices in one row (see the module doc)."""
    fingers = tuple(fingers)
    slots = finger_slots(fingers, common_centroid)
    _check(w, l, fingers, diode)
    drain_nets = tuple("gate" if i == diode else drain_port(i) for i in range(len(fingers)))
    regions, breaks = _regions(slots, drain_nets, dummies)
    spec = RowSpec(polarity=polarity, w=nm(w), l=nm(l), regions=regions, source="source",
                   drains=drain_nets if diode is None else ("gate",) + tuple(n for n in drain_nets if n != "gate"),
                   tap=tap, diode=None if diode is None else "gate", breaks=breaks, drain_pitch=DRAIN_PITCH)
    c = gf.Component()
    d = Draw(c)
    pins = draw_row(d, spec)
    d.pin("gate", "met1", pin_box(pins.gate, "e"), "e")
    d.pin("source", "met1", pin_box(pins.source, "w"), "w")
    for i, net in enumerate(drain_nets):
        if i != diode:
            d.pin(net, "met2", pin_box(pins.drains[net], "e"), "e")
    if pins.body is not None:
        d.pin("body", "met1", pin_box(pins.body, "w"), "w")
    d.boundary()
    c.info["polarity"] = polarity
    c.info["fingers"] = list(fingers)
    c.info["slots"] = len(slots)
    c.info["breaks"] = len(breaks)
    return c


def matched_row_spice(name: str, polarity: str = "n", w: float = 1.0, l: float = 1.0,
                      fingers: tuple[int, ...] = (2, 1), diode: int | None = None, body: str = "body") -> str:
    """Reference subcircuit: pins ``gate source d<i>... body``; device i is ONE instance of
    finger width ``w`` with ``m`` = its finger count (LVS folds the parallel fingers)."""
    model = fet(polarity).model
    drains = [drain_port(i) for i in range(len(fingers)) if i != diode]
    lines = [f".subckt {name} gate source {' '.join(drains)} {body}"]
    for i, count in enumerate(fingers):
        drain = "gate" if i == diode else drain_port(i)
        lines.append(f"XM{i} {drain} gate source {body} {model} w={w:g} l={l:g} m={count}")
    lines.append(f".ends {name}")
    return "\n".join(lines) + "\n"
