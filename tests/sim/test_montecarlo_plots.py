"""sim.montecarlo's plot titles carry the sizing options: they must wrap to the figure, not run off it."""
from sim.montecarlo import plot_title


def test_a_long_title_wraps_to_the_figure_width():
    title = ("votes per utterance: schematic (unit_um 2, bias_line_copies 16, cell_line_copies 8, "
             "cell_input_fingers 8, converter_copies 2), corner tt + mismatch (mismatch), 20 samples, 20 utterances")
    lines = plot_title(title, 4.5).splitlines()
    assert len(lines) > 1
    assert all(len(line) <= 4.5 * 11 for line in lines)
    assert " ".join(lines) == title  # nothing lost
