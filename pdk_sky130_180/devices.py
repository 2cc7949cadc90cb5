"""Device facts of the sky130 process at the project's 180 nm design point.

Only process facts live here (device names, terminal order, length limits, supply, the
SPICE options that make pA-level simulation trustworthy). Design choices such as the unit
finger size of a mirror live with the generators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NFET = "sky130_fd_pr__nfet_01v8"
PFET = "sky130_fd_pr__pfet_01v8"
DEVICE_NAMES = (NFET, PFET)
# SPICE terminal order of both devices (they are sub-circuits in the SkyWater models).
TERMINALS = ("d", "g", "s", "b")

MIN_L_UM = 0.18  # the 180 nm design point (sky130 itself allows 0.15 µm)
MIN_W_UM = 0.42  # narrowest regular 1.8 V device width
SUPPLY_V = 1.8
UNIT_CURRENT_A = 1e-9  # one software unit in the reference design
TEMPERATURE_C = 27.0
# Operating points a simulation may ask for (the models' validated range, with margin), and the
# published study's PVT grid: nominal supply +-10 %, industrial temperatures.
SUPPLY_RANGE_V = (0.5, 2.5)
TEMPERATURE_RANGE_C = (-60.0, 150.0)
PVT_SUPPLIES_V = (1.62, 1.80, 1.98)
PVT_TEMPERATURES_C = (-40.0, 27.0, 85.0)

# ngspice defaults are wrong at pA (DESIGN.md section 3): gmin adds ~1 pA/V at every junction,
# chgtol exceeds a node's charge. These values fix it at <10 % runtime cost.
# method=gear: with trapezoidal integration the cells' latches (a stiff, high-gain node) now and
# then flip spuriously right after an input step (numerical ringing; seen on the reference
# network at reltol 3e-3 and 3e-4 alike); Gear order 2 does not, and is no slower here.
# bypass=1: a device whose terminal voltages moved less than the tolerances since the last
# iteration reuses its last evaluation (device evaluation is ~77 % of the run). 27 % faster on
# the reference schematic with the balanced N = 50 figures unchanged (benchmarks/results/
# sim_profile.json). Combined with trtol=20 it preset one cell wrong at reset, so trtol stays 7.
# chgtol=1e-15 C (was 1e-16): the floor of the integrator's charge tolerance (reltol x a
# capacitor's charge, at least chgtol). Fewer time points after every edge, most on the extracted
# netlist, whose coupling capacitors all charge at each edge; checked on the balanced N = 50
# references (docs/circuit.md). abstol 1e-13 as well preset one cell wrong at reset on the
# schematic, so abstol stays 1e-14.
SPICE_OPTIONS = {"gmin": 1e-15, "abstol": 1e-14, "chgtol": 1e-15, "reltol": 1e-3, "method": "gear", "bypass": 1}


Polarity = Literal["n", "p"]


@dataclass(frozen=True)
class Fet:
    """One MOSFET flavour: model name, polarity and the terminal its bulk ties to."""

    model: str
    polarity: Polarity  # the letter the cell generators' names and parameters use
    bulk_net: str  # the supply net the body connects to in our circuits

    def instance(self, name: str, d: str, g: str, s: str, b: str, w_um: float, l_um: float,
                 m: int = 1) -> str:
        """One SPICE instance line. ``w``/``l`` in µm (the models set ``.option scale=1u``)."""
        if l_um < MIN_L_UM - 1e-9:
            raise ValueError(f"{name}: L={l_um} µm is below the {MIN_L_UM} µm design point")
        if w_um < MIN_W_UM - 1e-9:
            raise ValueError(f"{name}: W={w_um} µm is below the {MIN_W_UM} µm minimum width")
        if m < 1:
            raise ValueError(f"{name}: multiplier m={m} must be >= 1")
        mult = f" m={m}" if m != 1 else ""
        return f"X{name} {d} {g} {s} {b} {self.model} w={w_um:g} l={l_um:g}{mult}"


NMOS = Fet(NFET, "n", "vss")
PMOS = Fet(PFET, "p", "vdd")
FETS = (NMOS, PMOS)
POLARITIES = tuple(f.polarity for f in FETS)


def fet(key: str) -> Fet:
    """The flavour named by its model name or its polarity letter; one place maps one to the
    other."""
    for flavour in FETS:
        if key in (flavour.model, flavour.polarity):
            return flavour
    raise ValueError(f"unknown device flavour {key!r}: expected one of {', '.join(DEVICE_NAMES + POLARITIES)}")
