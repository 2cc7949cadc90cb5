"""SkyWater sky130 GDS layer map: the layers the project's cells draw and its decks read.

Numbers are the public sky130 GDS layer/datatype pairs (drawing 20 or 44, pin 16, label 5).
Each layer is a frozen :class:`Layer`; ``LAYERS`` maps a short name to it, and the tuple form
``layer.gds`` ``(layer, datatype)`` is what gdsfactory and ``klayout.db.LayerInfo`` take.

``CONNECTIVITY`` is the routing stack, bottom up, as (lower conductor, cut, upper conductor):
the router and the cells draw from it (``ROUTING`` names its layers) and the LVS connects
by it. :mod:`extract.lvs` registers the extracted layers under the names KPEX's sky130A deck
gives them, so that ``kpex --pdk sky130A --lvsdb`` recognises them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Layer",
    "LAYERS",
    "NWELL", "NWELL_PIN", "NWELL_LABEL",
    "DIFF", "TAP", "DIFF_LABEL", "TAP_LABEL",
    "POLY", "POLY_PIN", "POLY_LABEL",
    "LICON1", "NPC",
    "LI1", "LI1_PIN", "LI1_LABEL",
    "MCON",
    "MET1", "MET1_PIN", "MET1_LABEL",
    "VIA",
    "MET2", "MET2_PIN", "MET2_LABEL",
    "VIA2",
    "MET3", "MET3_PIN", "MET3_LABEL",
    "NSDM", "PSDM", "HVTP", "LVTN",
    "PR_BOUNDARY", "TEXT", "SUB_LABEL", "PWELL_LABEL",
    "DRAWN_LAYERS", "PIN_OF", "LABEL_OF", "Cut", "CONNECTIVITY", "ROUTING",
]


@dataclass(frozen=True, order=True)
class Layer:
    """One GDS layer: its number, datatype and a short name."""

    layer: int
    datatype: int
    name: str
    description: str = ""

    @property
    def gds(self) -> tuple[int, int]:
        """``(layer, datatype)`` as gdsfactory and klayout take it."""
        return (self.layer, self.datatype)

    def __str__(self) -> str:  # e.g. "met1 (68/20)"
        return f"{self.name} ({self.layer}/{self.datatype})"


# --- front end -------------------------------------------------------------------------
NWELL = Layer(64, 20, "nwell", "n-well")
NWELL_PIN = Layer(64, 16, "nwell.pin", "n-well pin")
NWELL_LABEL = Layer(64, 5, "nwell.label", "n-well label")
PWELL_LABEL = Layer(64, 59, "pwell.label", "p-well (substrate) label / pin")
SUB_LABEL = Layer(122, 5, "sub.label", "substrate label")
DIFF = Layer(65, 20, "diff", "active diffusion (source/drain and gate area)")
TAP = Layer(65, 44, "tap", "tap diffusion (well and substrate ties)")
DIFF_LABEL = Layer(65, 6, "diff.label", "diffusion label")
TAP_LABEL = Layer(65, 5, "tap.label", "tap label")
POLY = Layer(66, 20, "poly", "polysilicon")
POLY_PIN = Layer(66, 16, "poly.pin", "poly pin")
POLY_LABEL = Layer(66, 5, "poly.label", "poly label")
LICON1 = Layer(66, 44, "licon1", "local-interconnect contact (diff/tap/poly to li1)")
NPC = Layer(95, 20, "npc", "nitride poly cut (required around poly contacts)")
NSDM = Layer(93, 44, "nsdm", "n+ source/drain implant")
PSDM = Layer(94, 20, "psdm", "p+ source/drain implant")
HVTP = Layer(78, 44, "hvtp", "high-Vt pmos implant (not drawn by our cells)")
LVTN = Layer(125, 44, "lvtn", "low-Vt implant (not drawn by our cells)")

# --- back end --------------------------------------------------------------------------
LI1 = Layer(67, 20, "li1", "local interconnect")
LI1_PIN = Layer(67, 16, "li1.pin", "li1 pin")
LI1_LABEL = Layer(67, 5, "li1.label", "li1 label")
MCON = Layer(67, 44, "mcon", "li1 to met1 contact")
MET1 = Layer(68, 20, "met1", "metal 1")
MET1_PIN = Layer(68, 16, "met1.pin", "metal 1 pin")
MET1_LABEL = Layer(68, 5, "met1.label", "metal 1 label")
VIA = Layer(68, 44, "via", "met1 to met2 via")
MET2 = Layer(69, 20, "met2", "metal 2")
MET2_PIN = Layer(69, 16, "met2.pin", "metal 2 pin")
MET2_LABEL = Layer(69, 5, "met2.label", "metal 2 label")
VIA2 = Layer(69, 44, "via2", "met2 to met3 via")
MET3 = Layer(70, 20, "met3", "metal 3")
MET3_PIN = Layer(70, 16, "met3.pin", "metal 3 pin")
MET3_LABEL = Layer(70, 5, "met3.label", "metal 3 label")

# --- markers ---------------------------------------------------------------------------
PR_BOUNDARY = Layer(235, 4, "prBoundary", "place-and-route boundary (cell outline)")
TEXT = Layer(83, 44, "text", "free text")

LAYERS: dict[str, Layer] = {
    lay.name: lay
    for lay in (
        NWELL, NWELL_PIN, NWELL_LABEL, PWELL_LABEL, SUB_LABEL, DIFF, TAP, DIFF_LABEL, TAP_LABEL,
        POLY, POLY_PIN, POLY_LABEL, LICON1, NPC, NSDM, PSDM, HVTP, LVTN,
        LI1, LI1_PIN, LI1_LABEL, MCON, MET1, MET1_PIN, MET1_LABEL, VIA,
        MET2, MET2_PIN, MET2_LABEL, VIA2, MET3, MET3_PIN, MET3_LABEL, PR_BOUNDARY, TEXT,
    )
}

#: drawing layers the DRC deck checks (one entry per mask layer we draw)
DRAWN_LAYERS: tuple[Layer, ...] = (
    NWELL, DIFF, TAP, POLY, LICON1, NPC, NSDM, PSDM, LI1, MCON, MET1, VIA, MET2, VIA2, MET3,
)

#: pin purpose for each routing layer (for labels the LVS reads)
PIN_OF: dict[str, Layer] = {
    "poly": POLY_PIN, "li1": LI1_PIN, "met1": MET1_PIN, "met2": MET2_PIN, "met3": MET3_PIN,
    "nwell": NWELL_PIN,
}
#: label purpose for each routing layer
LABEL_OF: dict[str, Layer] = {
    "poly": POLY_LABEL, "li1": LI1_LABEL, "met1": MET1_LABEL, "met2": MET2_LABEL,
    "met3": MET3_LABEL, "nwell": NWELL_LABEL, "tap": TAP_LABEL, "diff": DIFF_LABEL,
}


@dataclass(frozen=True)
class Cut:
    """A contact or via: the conductor below it, the cut layer, the conductor above it."""

    lower: Layer
    cut: Layer
    upper: Layer


#: the routing stack above the devices, bottom up: what the router, the cells and the LVS connect
CONNECTIVITY: tuple[Cut, ...] = (Cut(LI1, MCON, MET1), Cut(MET1, VIA, MET2), Cut(MET2, VIA2, MET3))
#: every layer of that stack by name (li1, mcon, met1, via, met2, via2, met3)
ROUTING: dict[str, Layer] = {layer.name: layer for cut in CONNECTIVITY for layer in (cut.lower, cut.cut, cut.upper)}
