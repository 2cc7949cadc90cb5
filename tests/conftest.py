"""Shared test helpers: random valid networks and inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bmru.weights import FORMAT, validate

REPO_ROOT = Path(__file__).resolve().parents[1]  # tests live in subfolders; paths start here


def random_arrays(rng: np.random.Generator, n_in: int = 3, width: int = 2, cells: int | None = None,
                  layers: int = 1, classes: int = 2, grid: float | None = None) -> dict[str, np.ndarray]:
    """A valid ``bmru-fq/1`` key -> array dict with weights of order one (optionally on a grid)."""
    cells = width if cells is None else cells

    def signed(*shape):
        value = rng.normal(0.0, 1.0, shape)
        return np.clip(np.round(value / grid) * grid, -3, 3) if grid else value

    def positive(size, low, high):
        value = rng.uniform(low, high, size)
        return np.round(value / 0.05) * 0.05 if grid else value

    arrays = {
        "format": np.array(FORMAT),
        "W_in": signed(width, n_in), "b_in": signed(width) * 0.3,
        "W_out": signed(classes, width), "b_out": signed(classes) * 0.3,
        "meta": np.array(json.dumps({"unit_current_A": 1e-9, "frame_period_s": 0.01,
                                     "classes": [f"c{k}" for k in range(classes)]})),
    }
    for index in range(layers):
        arrays.update({
            f"W_c{index}": signed(cells, width), f"b_c{index}": signed(cells) * 0.3,
            f"beta1{index}": positive(cells, 0.1, 1.0), f"delta{index}": positive(cells, 0.05, 0.8),
            f"alpha{index}": positive(cells, 0.2, 2.0),
            f"s0{index}": rng.integers(0, 2, cells).astype(np.float64),
            f"W_o{index}": signed(width, cells), f"b_o{index}": signed(width) * 0.3,
        })
    return arrays


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def small_net(rng):
    return validate(random_arrays(rng, n_in=3, width=2, layers=2))
