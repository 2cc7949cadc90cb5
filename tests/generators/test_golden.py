"""Golden regression: every cell kind and the reference array are redrawn and compared with
their stored reference (tests/golden/) by XOR on every layer, and their ports and area with the
pinned JSON. After an intended geometry change: ``.venv/bin/python -m tests.golden`` (see
tests/golden.py), then commit the refreshed references."""

from __future__ import annotations

import json

import pytest

from tests.golden import CASE_NAMES, _cases, draw, golden_paths, read_layout, xor_differences

REFRESH = "refresh with: .venv/bin/python -m tests.golden {name}"


def test_the_case_list_is_complete():
    assert set(_cases()) == set(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_layout_matches_its_golden_reference(name, tmp_path):
    gds_path, json_path = golden_paths(name)
    assert gds_path.is_file() and json_path.is_file(), f"no reference for {name}; " + REFRESH.format(name=name)
    drawn = draw(name, tmp_path)
    differences = xor_differences(read_layout(gds_path), read_layout(drawn.gds))
    assert not differences, (f"{name}: geometry differs from its reference (XOR µm² per layer: {differences}); "
                             "if intended, " + REFRESH.format(name=name))
    pinned = json.loads(json_path.read_text())
    assert drawn.summary == pinned, f"{name}: ports or area differ from {json_path.name}; if intended, " + \
        REFRESH.format(name=name)


def test_xor_sees_a_moved_shape():
    """The comparison itself: one box moved by one database unit is a difference on its layer."""
    import klayout.db as kdb

    def layout_with(x: int) -> kdb.Layout:
        layout = kdb.Layout()
        layout.dbu = 0.001
        top = layout.create_cell("top")
        top.shapes(layout.layer(68, 20)).insert(kdb.Box(x, 0, x + 1000, 500))
        return layout

    assert xor_differences(layout_with(0), layout_with(0)) == {}
    assert xor_differences(layout_with(0), layout_with(1)) == {"68/20": pytest.approx(0.001)}
