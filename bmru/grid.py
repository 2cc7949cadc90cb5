"""The hardware grid: the values a weight, bias and cell parameter can take on the chip.

One home, read by the training (which quantises to it, :mod:`bmru.train`), the mapping (which
realises each value as a count of unit fingers, :mod:`generators.circuit.mapping`) and the power model.
A trained model records the grid it was quantised to (``meta["quantisation"]``); the mapping
refuses a model recorded on another grid instead of silently re-rounding it
(:func:`check_recorded`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


class GridError(ValueError):
    """A grid that cannot exist, a value off its range, or a model quantised to another grid;
    the message names the field."""


@dataclass(frozen=True)
class ParameterRange:
    """The grid step and realisable range of one kind of parameter, in software units."""

    step: float
    low: float
    high: float

    def fingers(self, name: str, values: np.ndarray) -> np.ndarray:
        """Signed finger counts ``round(value / step)``; raises :class:`GridError` naming the first
        element whose rounded value lies outside the range (e.g. ``W_c1[2,3]``)."""
        values = np.asarray(values, dtype=np.float64)
        counts = np.rint(values / self.step).astype(np.int64)
        quantised = counts * self.step
        bad = (quantised < self.low - 1e-9) | (quantised > self.high + 1e-9)
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            where = ",".join(str(i) for i in index)
            raise GridError(f"{name}[{where}]: {values[index]:g} outside [{self.low:g}, {self.high:g}] "
                            f"(realisable on a {self.step:g} grid)")
        return counts

    @property
    def max_fingers(self) -> int:
        return int(round(max(abs(self.low), abs(self.high)) / self.step))


@dataclass(frozen=True)
class HardwareGrid:
    """Quantisation steps and ranges, in software units (1 unit = the unit current)."""

    weight_step: float = 0.25  # W_in, W_c, W_o, W_out and every bias b_*: one unit finger
    weight_max: float = 3.0  # |w| <= weight_max (12 fingers)
    threshold_step: float = 0.05  # alpha, beta1, delta: one finger of a cell bias line
    threshold_min: float = 0.05
    threshold_max: float = 3.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GridError(f"grid.{name}: must be a positive number, got {value!r}")
        if self.threshold_min >= self.threshold_max:
            raise GridError(f"grid.threshold_min: must be below threshold_max ({self.threshold_max}), "
                            f"got {self.threshold_min}")
        if self.weight_step > self.weight_max:
            raise GridError(f"grid.weight_step: larger than weight_max ({self.weight_max})")
        # the range ends must lie on the grid, so that rounding then clamping stays on the grid
        for end, step in (("threshold_min", "threshold_step"), ("threshold_max", "threshold_step"),
                          ("weight_max", "weight_step")):
            ratio = getattr(self, end) / getattr(self, step)
            if abs(ratio - round(ratio)) > 1e-9:
                raise GridError(f"grid.{end}: {getattr(self, end)} is not a multiple of "
                                f"grid.{step} ({getattr(self, step)})")

    @property
    def weight(self) -> ParameterRange:
        return ParameterRange(self.weight_step, -self.weight_max, self.weight_max)

    @property
    def bias(self) -> ParameterRange:
        return self.weight  # biases are mirror outputs of the same unit fingers

    @property
    def cell(self) -> ParameterRange:
        return ParameterRange(self.threshold_step, self.threshold_min, self.threshold_max)

    def to_dict(self) -> dict:
        return asdict(self)


HARDWARE_GRID = HardwareGrid()  # the grid the circuit realises


def check_recorded(recorded: object, grid: HardwareGrid = HARDWARE_GRID) -> None:
    """Refuse a model whose metadata records quantisation to another grid (``recorded`` is
    ``meta["quantisation"]``; None: not recorded, nothing to check)."""
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise GridError(f"meta.quantisation: expected an object of grid steps, got {recorded!r}")
    for name, value in grid.to_dict().items():
        if name in recorded and not (isinstance(recorded[name], (int, float))
                                     and math.isclose(recorded[name], value, rel_tol=1e-9)):
            raise GridError(f"meta.quantisation.{name}: the model was quantised to {recorded[name]!r}, "
                            f"the hardware grid has {value:g}")
