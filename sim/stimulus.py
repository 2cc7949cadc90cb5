"""Input stimulus: rectified features as piecewise-constant currents, one frame per period.

The utterance is preceded by a settling period (``SETTLE_FRAMES`` frame periods) during which the
inputs already carry frame 0: ``rst`` is high for the first part of it (presetting every cell to
s0), falls slowly, and the network then settles before frame 0 proper begins. A fast ``rst`` edge
couples through the layout's wiring capacitance into the bias lines (tens of fF on the extracted
reference array) and kicks cells whose candidate lies inside the hysteresis band into the wrong
state, which they then hold. Repeating frame 0 changes nothing in the model: a BMRU update with
a fixed candidate is idempotent (set, reset and hold all give the same state when applied twice).
Each layer's state-update enable (``en<l>``) is low for the first part of every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Input steps take 0.005 of a frame (50 µs at 10 ms frames) and enables 0.02 to rise (200 µs):
# both edges fall in quiet parts of the frame (the enables are low while the inputs step), and
# the circuit follows them at its own pace (a mirror settles in ~1 ms), so ngspice is not made
# to resolve a corner sharper than the response. Measured (#16): 24 % fewer Newton iterations
# on the schematic than 1 µs / 20 µs edges; on the balanced N = 50 references the same decisions,
# frame states within 0.04 points and power within 0.6 % per utterance (docs/circuit.md).
RISE_FRACTION = 0.005
SETTLE_FRAMES = 1  # frame periods of reset and settling before frame 0
RESET_HIGH_FRACTION = 0.4  # rst is high for this fraction of a frame at the start of the settling period
RESET_FALL_FRACTION = 0.1  # then falls linearly over this fraction of a frame (1 ms at 10 ms frames)
SAMPLE_FRACTION = 0.97  # frames are sampled at 97 % of their period
# State-update enables (one per layer, see generators.circuit.spice_cells.cell_block): every enable
# falls just before the inputs step and rises again later in the frame, layer after layer, so
# a layer's cells decide only once the transients of the input step and of the layer below
# have passed. With L layers, layer l's enable rises at ENABLE_FIRST + ENABLE_SPAN * l / L of
# the frame (0.2 and 0.5 for two layers), leaving the last layer at least 0.17 of a frame.
ENABLE_FIRST = 0.2
ENABLE_SPAN = 0.6
ENABLE_FALL = 0.98  # the enables fall from here to the end of the frame (after the sample)
ENABLE_RAMP = 0.02  # fraction of a frame an enable takes to rise (200 µs at 10 ms frames)


@dataclass(frozen=True)
class Timing:
    frame_period_s: float
    frames: int

    @property
    def start_s(self) -> float:
        """Start of frame 0, after the reset and settling period."""
        return self.frame_period_s * SETTLE_FRAMES

    @property
    def stop_s(self) -> float:
        return self.start_s + self.frame_period_s * self.frames

    @property
    def rise_s(self) -> float:
        return self.frame_period_s * RISE_FRACTION

    @property
    def reset_s(self) -> float:
        return self.frame_period_s * RESET_HIGH_FRACTION

    @property
    def reset_fall_s(self) -> float:
        return self.frame_period_s * RESET_FALL_FRACTION

    def frame_start_s(self, frame: int) -> float:
        return self.start_s + frame * self.frame_period_s

    def sample_times(self) -> np.ndarray:
        return self.start_s + (np.arange(self.frames) + SAMPLE_FRACTION) * self.frame_period_s


def input_currents(x: np.ndarray, unit_current_A: float) -> np.ndarray:
    """(T, n_in) features -> (T, n_in) input currents in A: ReLU(x) * unit."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0) * unit_current_A


def pwl_points(values: np.ndarray, timing: Timing) -> list[tuple[float, float]]:
    """Piecewise-constant waveform: frame 0's value through the settling period and frame 0,
    then value f from the start of frame f (after a short ramp) to its end."""
    points = [(0.0, float(values[0]))]
    for frame in range(1, len(values)):
        if values[frame] == values[frame - 1]:
            continue
        start = timing.frame_start_s(frame)
        points.append((start, float(values[frame - 1])))
        points.append((start + timing.rise_s, float(values[frame])))
    points.append((timing.stop_s, float(values[-1])))
    return points


def pwl_text(points: list[tuple[float, float]]) -> str:
    return "PWL(" + " ".join(f"{t:.9g} {v:.6g}" for t, v in points) + ")"


def enable_points(timing: Timing, layer: int, layers: int, high_V: float) -> list[tuple[float, float]]:
    """Layer ``layer``'s enable: high through the reset and settling period (the preset of an
    s0 = 1 cell needs it), then low from the end of each frame to its rise in the next one."""
    if not 0 <= layer < layers:
        raise ValueError(f"layer {layer} out of range for {layers} layers")
    period = timing.frame_period_s
    rise = (ENABLE_FIRST + ENABLE_SPAN * layer / layers) * period
    points = [(0.0, high_V)]
    for frame in range(timing.frames):
        start = timing.frame_start_s(frame)
        points += [(start - (1.0 - ENABLE_FALL) * period, high_V), (start, 0.0), (start + rise, 0.0),
                   (start + rise + ENABLE_RAMP * period, high_V)]
    points.append((timing.stop_s, high_V))
    return points


def reset_points(timing: Timing, high_V: float) -> list[tuple[float, float]]:
    return [(0.0, high_V), (timing.reset_s, high_V), (timing.reset_s + timing.reset_fall_s, 0.0),
            (timing.stop_s, 0.0)]
