"""Parasitic-extraction facts: which KPEX technology describes this process, and its substrate.

KPEX ships the sky130A stack-up (layer thicknesses, dielectrics, fringe coefficients); our
extracted layer names follow that deck (see :mod:`extract.lvs`). Its 2.5D engine puts every
capacitance to the p-substrate on a node it calls ``sky130_gnd``; in our circuits the substrate
is tied to ``vss`` through the p-taps.
"""

KPEX_PDK = "sky130A"
SUBSTRATE_NET = "sky130_gnd"
SUBSTRATE_TIE = "vss"

# Published sky130 wire capacitance to substrate (field region), per layer: area in aF/µm²,
# fringe (perimeter) in aF/µm. Used to check the extraction against a hand estimate.
SUBSTRATE_CAP_AF = {
    "met1": (25.78, 40.57),
    "met2": (17.5, 37.76),
    "met3": (12.37, 40.99),
}
