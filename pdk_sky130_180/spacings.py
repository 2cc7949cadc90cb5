"""Which spacing rule holds between two drawn layers, for cells that sit side by side.

A cell generator that places neighbours as close as the rules allow (the crossbar's tiles and
bands) reads the rule for each pair of layers that can face each other here, so the pairing of
layers and rules has one home beside the rule values themselves.
"""

from __future__ import annotations

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R

# Spacing rules between what two neighbouring cells draw: (layer, layer, rule). Where a rule
# names a derived layer (n+ or p+ diffusion, poly licon, gate) it is applied to the whole drawn
# layer, which only asks for more space; layer pairs not listed have no spacing rule.
LAYER_SPACINGS = (
    (L.NWELL, L.NWELL, R.NWELL_SPACE), (L.DIFF, L.NWELL, R.NDIFF_NWELL_SPACE), (L.TAP, L.NWELL, R.PTAP_NWELL_SPACE),
    (L.DIFF, L.DIFF, R.DIFF_SPACE), (L.TAP, L.TAP, R.DIFF_SPACE), (L.DIFF, L.TAP, R.DIFF_SPACE),
    (L.POLY, L.POLY, R.POLY_SPACE), (L.POLY, L.DIFF, R.POLY_DIFF_SPACE), (L.POLY, L.TAP, R.POLY_TAP_SPACE),
    (L.LICON1, L.LICON1, R.LICON_SPACE), (L.LICON1, L.PSDM, R.POLY_LICON_PSDM_SPACE),
    (L.LICON1, L.POLY, R.LICON_GATE_SPACE), (L.LICON1, L.DIFF, R.POLY_LICON_DIFF_SPACE),
    (L.LICON1, L.TAP, R.POLY_LICON_DIFF_SPACE), (L.NPC, L.LICON1, R.NPC_LICON_SPACE), (L.NPC, L.NPC, R.NPC_SPACE),
    (L.NPC, L.POLY, R.NPC_GATE_SPACE), (L.NPC, L.DIFF, R.NPC_GATE_SPACE),
    (L.NSDM, L.NSDM, R.NSDM_SPACE), (L.PSDM, L.PSDM, R.PSDM_SPACE), (L.NSDM, L.DIFF, R.NSDM_PDIFF_SPACE),
    (L.NSDM, L.TAP, R.NSDM_PDIFF_SPACE), (L.PSDM, L.DIFF, R.PSDM_NDIFF_SPACE), (L.PSDM, L.TAP, R.PSDM_NDIFF_SPACE),
    (L.LI1, L.LI1, R.LI_SPACE), (L.MCON, L.MCON, R.MCON_SPACE), (L.MET1, L.MET1, R.M1_SPACE),
    (L.VIA, L.VIA, R.VIA_SPACE), (L.MET2, L.MET2, R.M2_SPACE),
)
