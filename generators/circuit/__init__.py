"""The circuit half of the generators: weights to hardware spec (mapping), the cell netlists and
the hierarchical schematic, and the SPICE reader that flattens it. Reads nothing from the layout half."""
