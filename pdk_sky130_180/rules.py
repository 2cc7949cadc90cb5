"""sky130 design-rule values (µm, µm²), the one source the cells and the DRC deck both read.

Values are SkyWater's published periphery rules (the public sky130 PDK documentation) for the
layers our cells draw; the latch-up distance is the 15 µm that the open sky130 decks use
for LU.2 / LU.3. Each :class:`Rule` keeps its official name (``"poly.1a"``) and a one-line
description; the DRC deck (:mod:`extract.drc`) uses the name as its report category.

Conventions:
- ``*_WIDTH`` minimum width, ``*_SPACE`` minimum spacing, ``*_ENC`` minimum enclosure on every
  side, ``*_ENC_DIR`` the larger enclosure needed on two opposite sides (the sky130 wording
  "on one of two adjacent sides": the violating sides may not include a corner), ``*_AREA``
  minimum area, ``*_SIZE`` the exact size of a square cut.
"""

from __future__ import annotations

from dataclasses import dataclass

GRID = 0.005  # µm, x.1b manufacturing grid
DBU = 0.001  # µm per database unit in the GDS files we write


@dataclass(frozen=True)
class Rule:
    """One design rule: official name, value (µm or µm², None for a pure check) and meaning."""

    name: str
    value: float | None
    description: str

    def __float__(self) -> float:
        if self.value is None:
            raise TypeError(f"rule {self.name} has no value")
        return float(self.value)


RULES: dict[str, Rule] = {}


def _r(name: str, value: float | None, description: str) -> Rule:
    if name in RULES:
        raise ValueError(f"duplicate rule {name}")
    rule = Rule(name, value, description)
    RULES[name] = rule
    return rule


# --- general ----------------------------------------------------------------------------
OFF_GRID = _r("x.1b", GRID, "All shapes on the 0.005 µm manufacturing grid")
NON_MANHATTAN = _r("x.2", None, "Only 90-degree angles (Manhattan) on all drawn layers")

# --- nwell ------------------------------------------------------------------------------
NWELL_WIDTH = _r("nwell.1", 0.84, "Min width of nwell")
NWELL_SPACE = _r("nwell.2a", 1.27, "Min spacing between two n-wells")
NWELL_TAP = _r("nwell.4", None, "Every n-well contains a licon-contacted n+ tap")

# --- diff / tap -------------------------------------------------------------------------
DIFF_WIDTH = _r("difftap.1", 0.15, "Min width of diff or tap")
GATE_WIDTH = _r("difftap.2", 0.42, "Min channel width (diff and poly) of a transistor")
DIFF_SPACE = _r("difftap.3", 0.27, "Min spacing diff to diff, tap to tap, non-abutting diff to tap")
PDIFF_NWELL_ENC = _r("difftap.8", 0.18, "Min enclosure of p+ diffusion by n-well")
NDIFF_NWELL_SPACE = _r("difftap.9", 0.34, "Min spacing of n+ diffusion to n-well")
NTAP_NWELL_ENC = _r("difftap.10", 0.18, "Min enclosure of n+ tap by n-well")
PTAP_NWELL_SPACE = _r("difftap.11", 0.13, "Min spacing of p+ tap to n-well")

# --- poly -------------------------------------------------------------------------------
POLY_WIDTH = _r("poly.1a", 0.15, "Min width of poly")
POLY_SPACE = _r("poly.2", 0.21, "Min spacing of poly to poly")
POLY_DIFF_SPACE = _r("poly.4", 0.075, "Min spacing of poly on field to diff (parallel edges)")
POLY_TAP_SPACE = _r("poly.5", 0.055, "Min spacing of poly on field to tap")
DIFF_POLY_EXT = _r("poly.7", 0.25, "Min extension of diff beyond poly (source/drain length)")
POLY_ENDCAP = _r("poly.8", 0.13, "Min extension of poly beyond diff (gate endcap)")

# --- licon ------------------------------------------------------------------------------
LICON_SIZE = _r("licon.1", 0.17, "licon is a square of exactly 0.17 x 0.17")
LICON_SPACE = _r("licon.2", 0.17, "Min spacing of licon to licon")
LICON_OVERLAP = _r("licon.4", None, "licon must lie inside li1 and inside poly, diff or tap")
LICON_DIFF_ENC = _r("licon.5a", 0.04, "Min enclosure of licon by diff")
LICON_DIFF_ENC_DIR = _r("licon.5c", 0.06, "Min enclosure of licon by diff on two opposite sides")
LICON_TAP_ENC_DIR = _r("licon.7", 0.12, "Min enclosure of licon by tap on two opposite sides")
LICON_POLY_ENC = _r("licon.8", 0.05, "Min enclosure of poly licon by poly")
LICON_POLY_ENC_DIR = _r("licon.8a", 0.08, "Min enclosure of poly licon by poly on two opposite sides")
POLY_LICON_PSDM_SPACE = _r("licon.9", 0.11, "Min spacing of poly licon to psdm")
LICON_GATE_SPACE = _r("licon.11", 0.055, "Min spacing of licon on diff or tap to poly on diff")
NPC_LICON_SPACE = _r("licon.13", 0.09, "Min spacing of npc to licon on diff or tap")
POLY_LICON_DIFF_SPACE = _r("licon.14", 0.19, "Min spacing of poly licon to diff or tap")
NPC_POLY_LICON_ENC = _r("licon.15", 0.10, "Min enclosure of poly licon by npc")
SD_LICON = _r("licon.16", None, "Every source/drain diff and every tap contains a licon")
LICON_STRADDLE = _r("licon.17", None, "licon may not overlap both poly and diff or tap")

# --- npc --------------------------------------------------------------------------------
NPC_WIDTH = _r("npc.1", 0.27, "Min width of npc")
NPC_SPACE = _r("npc.2", 0.27, "Min spacing of npc to npc")
NPC_GATE_SPACE = _r("npc.4", 0.09, "Min spacing (no overlap) of npc to gate")

# --- implants ---------------------------------------------------------------------------
NSDM_WIDTH = _r("nsd.1", 0.38, "Min width of nsdm")
NSDM_SPACE = _r("nsd.2", 0.38, "Min spacing of nsdm to nsdm")
NSDM_DIFF_ENC = _r("nsd.5a", 0.125, "Min enclosure of n+ diff by nsdm")
NSDM_TAP_ENC = _r("nsd.5b", 0.125, "Min enclosure of n+ tap by nsdm")
NSDM_PDIFF_SPACE = _r("nsd.7", 0.13, "Min spacing of nsdm to p+ diff or tap")
IMPLANT_OVERLAP = _r("nsd.8", None, "nsdm and psdm may not both cover a diff or tap")
IMPLANT_MISSING = _r("nsd.9", None, "Every diff and tap is covered by nsdm or psdm")
NSDM_AREA = _r("nsd.10a", 0.265, "Min area of nsdm")
PSDM_WIDTH = _r("psd.1", 0.38, "Min width of psdm")
PSDM_SPACE = _r("psd.2", 0.38, "Min spacing of psdm to psdm")
PSDM_DIFF_ENC = _r("psd.5a", 0.125, "Min enclosure of p+ diff by psdm")
PSDM_TAP_ENC = _r("psd.5b", 0.125, "Min enclosure of p+ tap by psdm")
PSDM_NDIFF_SPACE = _r("psd.7", 0.13, "Min spacing of psdm to n+ diff or tap")
PSDM_AREA = _r("psd.10b", 0.255, "Min area of psdm")

# --- li1 --------------------------------------------------------------------------------
LI_WIDTH = _r("li.1", 0.17, "Min width of li1")
LI_SPACE = _r("li.3", 0.17, "Min spacing of li1 to li1")
LI_LICON_ENC_DIR = _r("li.5", 0.08, "Min enclosure of licon by li1 on two opposite sides")
LI_AREA = _r("li.6", 0.0561, "Min area of li1")

# --- mcon (ct) --------------------------------------------------------------------------
MCON_SIZE = _r("ct.1", 0.17, "mcon is a square of exactly 0.17 x 0.17")
MCON_SPACE = _r("ct.2", 0.19, "Min spacing of mcon to mcon")
MCON_LI_ENC = _r("ct.4", 0.0, "mcon must lie inside li1")

# --- met1 -------------------------------------------------------------------------------
M1_WIDTH = _r("m1.1", 0.14, "Min width of met1")
M1_SPACE = _r("m1.2", 0.14, "Min spacing of met1 to met1")
M1_MCON_ENC = _r("m1.4", 0.03, "Min enclosure of mcon by met1")
M1_MCON_ENC_DIR = _r("m1.5", 0.06, "Min enclosure of mcon by met1 on two opposite sides")
M1_AREA = _r("m1.6", 0.083, "Min area of met1")
M1_HOLE = _r("m1.7", 0.14, "Min area of a hole in met1")

# --- via --------------------------------------------------------------------------------
VIA_SIZE = _r("via.1a", 0.15, "via is a square of exactly 0.15 x 0.15")
VIA_SPACE = _r("via.2", 0.17, "Min spacing of via to via")
M1_VIA_ENC = _r("via.4a", 0.055, "Min enclosure of via by met1")
M1_VIA_ENC_DIR = _r("via.5a", 0.085, "Min enclosure of via by met1 on two opposite sides")

# --- met2 -------------------------------------------------------------------------------
M2_WIDTH = _r("m2.1", 0.14, "Min width of met2")
M2_SPACE = _r("m2.2", 0.14, "Min spacing of met2 to met2")
M2_VIA_ENC = _r("m2.4", 0.055, "Min enclosure of via by met2")
M2_VIA_ENC_DIR = _r("m2.5", 0.085, "Min enclosure of via by met2 on two opposite sides")
M2_AREA = _r("m2.6", 0.0676, "Min area of met2")
M2_HOLE = _r("m2.7", 0.14, "Min area of a hole in met2")

# --- via2 -------------------------------------------------------------------------------
VIA2_SIZE = _r("via2.1a", 0.20, "via2 is a square of exactly 0.20 x 0.20")
VIA2_SPACE = _r("via2.2", 0.20, "Min spacing of via2 to via2")
M2_VIA2_ENC = _r("via2.4", 0.04, "Min enclosure of via2 by met2")
M2_VIA2_ENC_DIR = _r("via2.5", 0.085, "Min enclosure of via2 by met2 on two opposite sides")

# --- met3 -------------------------------------------------------------------------------
M3_WIDTH = _r("m3.1", 0.30, "Min width of met3")
M3_SPACE = _r("m3.2", 0.30, "Min spacing of met3 to met3")
M3_VIA2_ENC = _r("m3.4", 0.065, "Min enclosure of via2 by met3")
M3_AREA = _r("m3.6", 0.24, "Min area of met3")

# --- latch-up ---------------------------------------------------------------------------
LU_NDIFF_PTAP = _r("lu.2", 15.0, "Every n+ diff lies within 15 µm of a licon-contacted p+ tap")
LU_PDIFF_NTAP = _r("lu.3", 15.0, "Every p+ diff lies within 15 µm of a licon-contacted n+ tap")


def snap(x: float, grid: float = GRID) -> float:
    """Round ``x`` to the manufacturing grid (half away from zero, exact in decimal)."""
    n = round(x / grid + (1e-9 if x >= 0 else -1e-9))
    return round(n * grid, 6)


def snap_up(x: float, grid: float = GRID) -> float:
    """Smallest grid value >= ``x`` (tolerating float noise)."""
    import math

    return round(math.ceil(x / grid - 1e-9) * grid, 6)


def rule(name: str) -> Rule:
    """The rule called ``name``; KeyError names the unknown rule."""
    try:
        return RULES[name]
    except KeyError:
        raise KeyError(f"unknown design rule {name!r}") from None
