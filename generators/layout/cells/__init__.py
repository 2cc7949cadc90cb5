"""The project's own parametric sky130 cells (gdsfactory), DRC- and LVS-clean by construction.

- :func:`transistor.nfet`, :func:`transistor.pfet`: multi-finger MOSFETs with body tap;
- :func:`taps.tap_strip`, :func:`taps.guard_ring`: substrate / well ties;
- :func:`mirror.mirror`: an interdigitated current-mirror group (one diode-connected
  reference, K outputs with their own drain ports, dummies at the ends).
- :func:`group.matched_row`: devices sharing gate, source and body with any finger counts
  (odd ones at diffusion breaks), interdigitated in one row; what the array draws for each
  matched group (:mod:`generators.layout.groups`).
- :func:`bmru_cell.bmru_cell`: a whole BMRU cell, placed and routed on met1/met2 inside one
  cell (:mod:`.macro` places sub-cells in rows and routes them).

Each cell module also has a ``*_spice`` function returning the reference subcircuit the
layout must match in LVS. ``write_gds`` (from :mod:`._draw`) writes byte-deterministic GDS.
"""

from ._draw import to_layout, write_gds
__all__ = ["to_layout", "write_gds"]
