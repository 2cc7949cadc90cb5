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

# Sidewall halo of the 2.5D engine (µm): how far sideways a shape looks for neighbours.
# KPEX's sky130A deck uses 8 µm; our routing puts one track every ~0.7 µm, so beyond 3 µm the
# nearer tracks shield the rest. With fringe ratios scaled to the halo (KPEX's default), 3 µm
# gives 4 % more total capacitance than 8 µm on the reference array and extracts in 60 % of
# the time (289 s against 480 s); states and class currents simulate the same.
SIDE_HALO_UM = 3.0
