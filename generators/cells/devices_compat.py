"""Device names for the cells, from the one place process facts live."""

from __future__ import annotations

from pdk_sky130_180.devices import MIN_L_UM, NFET, PFET

__all__ = ["NFET", "PFET", "MIN_L_UM"]
