"""benchmarks/layout_flow.py: a width measured alone gets the same random network as in the
full run (the networks are drawn in one fixed order from one seed)."""
import numpy as np

from benchmarks import layout_flow


def test_a_width_alone_gets_the_full_runs_network():
    full = layout_flow.random_networks([8, 16, 32, 64])
    alone = layout_flow.random_networks([64])
    extra = layout_flow.random_networks([64, 5])
    for key in full[64]:
        if full[64][key].dtype.kind == "f":
            assert np.array_equal(full[64][key], alone[64][key]) and np.array_equal(full[64][key], extra[64][key])
    assert full[64]["W_c0"].shape == (64, 64) and extra[5]["W_c0"].shape == (5, 5)
