"""The layout half of the generators: the parametric cells, the matched-group pass, the floorplan
and the router. Reads the circuit half (the schematic is the one description of the circuit)."""
