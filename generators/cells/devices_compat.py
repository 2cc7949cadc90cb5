"""Device names for the cells and LVS, from :mod:`pdk_sky130_180.devices` (owned by the
device/model helper); the same sky130 names are the fallback if that module is absent."""

from __future__ import annotations

try:
    from pdk_sky130_180.devices import NFET, PFET
except ImportError:  # pragma: no cover
    NFET = "sky130_fd_pr__nfet_01v8"
    PFET = "sky130_fd_pr__pfet_01v8"

try:
    from pdk_sky130_180.devices import MIN_L_UM as MIN_L
except ImportError:  # pragma: no cover
    MIN_L = 0.18

__all__ = ["NFET", "PFET", "MIN_L"]
