"""The matched unit devices of the array, one characterised set per unit finger size.

A set holds the unit NMOS/PMOS finger and the trimmed diodes the circuits in
:mod:`generators.circuit.spice_cells` are made of; the mapping accepts only the sizes that
have a set here (each found with ``python -m sim.characterise --unit-size U``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pdk_sky130_180.devices import MIN_W_UM, NMOS, PMOS, Fet
from pdk_sky130_180.rules import snap  # widths on the 5 nm manufacturing grid (x.1b)


@dataclass(frozen=True)
class UnitDevice:
    fet: Fet
    w_um: float
    l_um: float

    def line(self, name: str, d: str, g: str, s: str, b: str, m: int = 1) -> str:
        return self.fet.instance(name, d, g, s, b, self.w_um, self.l_um, m)


# Switches, the state inverter, the clamp and the reset device: small, so the comparator node
# carries little capacitance (it must swing within a fraction of a frame at tens of pA), and
# L = 0.5 µm so an off NMOS leaks far less than the inverter's load current.
SWITCH_NFET = UnitDevice(NMOS, MIN_W_UM, 0.5)
SWITCH_PFET = UnitDevice(PMOS, MIN_W_UM, 0.5)
# The state keeper's inverter and feedback devices: they hold a node against pA of leakage, so
# they can be long; a long inverter draws less crossing current while the state node slews at
# ~0.1 nA of write current (L = 10 µm: 0.08 nW less per cell than 4 µm, two writes in 40 ms).
KEEPER_NFET = UnitDevice(NMOS, MIN_W_UM, 10.0)
KEEPER_PFET = UnitDevice(PMOS, MIN_W_UM, 10.0)


@dataclass(frozen=True)
class DeviceSet:
    """The matched devices of the array at one unit finger size (W = L = ``unit_um``), with
    the trims characterised for that size (``python -m sim.characterise --unit-size U``).

    Every matched device (mirror outputs, signal diodes, converters, bias and cell lines, the
    cells' sources) is made of identical unit fingers, so a ratio is a finger count whatever the
    size: in sky130 two devices of the same W/L but different size do NOT carry the same
    current (at the same gate voltage, a 12 x 12 µm nfet carries 4.3 times a 1 x 1 µm one, a
    2 x 2 µm pfet 0.16 times; docs/robustness.md). Larger fingers match better (Pelgrom) but
    load the signal lines with more gate capacitance.

    Trims: a PMOS output sits at ~1.0-1.5 V source-drain voltage against its diode's ~0.5 V and
    so delivers a little more than its finger ratio; the PMOS diodes are trimmed in width
    (``pmos_diode_trim``; near W = 1 µm a narrower sky130 pfet carries *more* current). The
    cell's threshold line gets its own trim (its sources see ~1.2 V at the comparator's trip
    point), and so does the hysteresis-width line (NMOS), so that delta matches beta2 at the
    trip point. The threshold source's fingers are widened by ``threshold_extra_width_um``
    (fingers -> extra µm, interpolated) so both thresholds sit 0.05-0.35 of a step below
    nominal from 2 to 120 fingers (see :func:`DeviceSet.threshold_finger_width`)."""

    unit_um: float
    pmos_diode_trim: float
    cell_line_trim: float
    delta_line_trim: float
    threshold_extra_width_um: tuple[tuple[int, float], ...]

    @property
    def unit_nfet(self) -> UnitDevice:
        return UnitDevice(NMOS, self.unit_um, self.unit_um)

    @property
    def unit_pfet(self) -> UnitDevice:
        return UnitDevice(PMOS, self.unit_um, self.unit_um)

    def _trimmed(self, fet: Fet, trim: float) -> UnitDevice:
        return UnitDevice(fet, snap(self.unit_um * trim), self.unit_um)

    @property
    def pmos_diode(self) -> UnitDevice:
        return self._trimmed(PMOS, self.pmos_diode_trim)

    @property
    def cell_line_diode(self) -> UnitDevice:
        return self._trimmed(PMOS, self.cell_line_trim)

    @property
    def delta_line_diode(self) -> UnitDevice:
        return self._trimmed(NMOS, self.delta_line_trim)

    def threshold_finger_width(self, fingers: int) -> float:
        """Finger width (µm) of a cell's threshold source of ``fingers`` fingers, on the 5 nm grid."""
        points_f = [f for f, _ in self.threshold_extra_width_um]
        points_w = [w for _, w in self.threshold_extra_width_um]
        return snap(self.unit_um + float(np.interp(fingers, points_f, points_w)))


# Unit fingers of 1 µm x 1 µm (the shipped design). Every NMOS output is cascoded, so its
# drain-voltage sensitivity does not matter; the gate area is small because the signal lines
# must settle within a fraction of a 10 ms frame at tens of pA per finger. With unit fingers
# the set threshold sat ~0.15 of a step below nominal up to ~20 fingers but drifted up beyond
# (+0.06 of a step at 37 fingers, +0.26 at 50, +0.48 at 62), so exact ties at large beta2
# failed to set; widening each finger by dw lowers it by ~0.56 * dw[µm] * fingers steps
# (DC sweeps of the cell, ``sim.characterise.cell_dc``; characterisation/cell_thresholds.json).
DEVICES_1UM = DeviceSet(1.0, pmos_diode_trim=0.962, cell_line_trim=0.955, delta_line_trim=1.025,
                        threshold_extra_width_um=((22, 0.0), (37, 0.01), (50, 0.015), (62, 0.018), (90, 0.025),
                                                  (120, 0.03)))
# 2 µm x 2 µm fingers: a quarter of the 1 µm fingers' mismatch (Pelgrom) for four times the
# area and gate capacitance. Near W = 2 µm a wider sky130 pfet carries more current (weakly:
# ~0.25 % per 1 % of width), so the PMOS diodes are trimmed wider, and the threshold fingers
# narrower the more of them there are (the set threshold otherwise drifts up to +1.5 steps
# at 120 fingers). Found with DC sweeps at tt, 27 °C (characterisation/unit_2um/): weight-1.0
# PMOS outputs within 0.6 % of their ratio from 0.1 to 4 nA, both thresholds 0.05-0.4 of a
# step below nominal from 2 to 120 fingers, alpha within 0.02 of a step.
DEVICES_2UM = DeviceSet(2.0, pmos_diode_trim=1.045, cell_line_trim=1.06, delta_line_trim=1.025,
                        threshold_extra_width_um=((2, 0.0), (8, -0.02), (16, -0.05), (40, -0.07), (60, -0.12),
                                                  (120, -0.145)))
DEVICE_SETS = {d.unit_um: d for d in (DEVICES_1UM, DEVICES_2UM)}


def device_set(unit_um: float) -> DeviceSet:
    """The characterised device set of unit fingers ``unit_um`` x ``unit_um`` µm."""
    for size, devices in DEVICE_SETS.items():
        if abs(size - unit_um) < 1e-9:
            return devices
    raise ValueError(f"unit size {unit_um!r} µm is not characterised (available: "
                     f"{', '.join(f'{u:g}' for u in sorted(DEVICE_SETS))})")


