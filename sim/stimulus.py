"""Input stimulus: rectified features as piecewise-constant currents, one frame per period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RISE_FRACTION = 1e-4  # input steps take 1e-4 of a frame (1 µs at 10 ms frames)
RESET_FRACTION = 0.2  # rst is held high for the first 20 % of frame 0, while the network settles
SAMPLE_FRACTION = 0.97  # frames are sampled at 97 % of their period


@dataclass(frozen=True)
class Timing:
    frame_period_s: float
    frames: int

    @property
    def stop_s(self) -> float:
        return self.frame_period_s * self.frames

    @property
    def rise_s(self) -> float:
        return self.frame_period_s * RISE_FRACTION

    @property
    def reset_s(self) -> float:
        return self.frame_period_s * RESET_FRACTION

    def sample_times(self) -> np.ndarray:
        return (np.arange(self.frames) + SAMPLE_FRACTION) * self.frame_period_s


def input_currents(x: np.ndarray, unit_current_A: float) -> np.ndarray:
    """(T, n_in) features -> (T, n_in) input currents in A: ReLU(x) * unit."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0) * unit_current_A


def pwl_points(values: np.ndarray, timing: Timing) -> list[tuple[float, float]]:
    """Piecewise-constant waveform: value f from f*T (after a short ramp) to (f+1)*T."""
    points = [(0.0, float(values[0]))]
    for frame in range(1, len(values)):
        if values[frame] == values[frame - 1]:
            continue
        start = frame * timing.frame_period_s
        points.append((start, float(values[frame - 1])))
        points.append((start + timing.rise_s, float(values[frame])))
    points.append((timing.stop_s, float(values[-1])))
    return points


def pwl_text(points: list[tuple[float, float]]) -> str:
    return "PWL(" + " ".join(f"{t:.9g} {v:.6g}" for t, v in points) + ")"


def reset_points(timing: Timing, high_V: float) -> list[tuple[float, float]]:
    return [(0.0, high_V), (timing.reset_s, high_V), (timing.reset_s + timing.rise_s, 0.0),
            (timing.stop_s, 0.0)]
