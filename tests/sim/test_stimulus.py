"""The testbench's time base: reset and settling before frame 0, frame edges, sample times."""

from __future__ import annotations

import numpy as np
import pytest

from sim.stimulus import Timing, enable_points, pwl_points, reset_points


def test_reset_ends_and_settles_before_frame_zero():
    timing = Timing(0.01, 5)
    points = reset_points(timing, 1.8)
    fall_end = points[2][0]
    assert points[0] == (0.0, 1.8) and points[2][1] == 0.0
    # the fall is slow (not an edge that kicks the bias lines) and done well before frame 0
    assert fall_end - points[1][0] >= 0.05 * timing.frame_period_s
    assert fall_end <= timing.start_s - 0.3 * timing.frame_period_s
    assert points[-1] == (timing.stop_s, 0.0)


def test_frames_are_sampled_after_the_settling_period():
    timing = Timing(0.01, 3)
    samples = timing.sample_times()
    assert samples[0] > timing.start_s and np.all(np.diff(samples) == pytest.approx(0.01))
    assert timing.stop_s == pytest.approx(timing.start_s + 0.03) and samples[-1] < timing.stop_s


def test_inputs_hold_frame_zero_through_the_settling_period():
    timing = Timing(0.01, 3)
    points = pwl_points(np.array([2.0, 2.0, 5.0]), timing)
    times = np.array([t for t, _ in points])
    values = np.array([v for _, v in points])
    assert np.all(np.diff(times) >= 0)
    at = lambda t: np.interp(t, times, values)  # noqa: E731
    assert at(0.0) == 2.0 and at(timing.start_s + 0.015) == 2.0
    assert at(timing.frame_start_s(2) + 0.005) == 5.0


def test_enables_are_low_at_each_frame_start_and_rise_layer_after_layer():
    timing = Timing(0.01, 4)
    rises = []
    for layer in range(2):
        points = enable_points(timing, layer, 2, 1.8)
        times, volts = np.array(points).T

        def level(t):
            return float(np.interp(t, times, volts))

        assert level(0.5 * timing.start_s) == 1.8  # high through reset and settling
        for frame in range(timing.frames):
            start = timing.frame_start_s(frame)
            assert level(start + 1e-6) == 0.0  # disabled while the inputs step
            sample = start + 0.97 * timing.frame_period_s
            assert level(sample) == 1.8  # enabled when the frame is sampled
        first = timing.frame_start_s(1)
        rises.append(min(t for t, v in points if t > first and v == 1.8) - first)
    assert rises[0] < rises[1] < 0.9 * timing.frame_period_s  # layer 1 decides after layer 0
    with pytest.raises(ValueError, match="layer"):
        enable_points(timing, 2, 2, 1.8)


def test_input_steps_end_while_every_enable_is_low():
    """The input ramp (slow, for the integrator's sake) must not reach into a layer's decision."""
    timing = Timing(0.01, 3)
    inputs = pwl_points(np.array([0.0, 4.0, 1.0]), timing)
    ramp_ends = [t for t, v in inputs if t > timing.start_s and v in (4.0, 1.0) and t < timing.stop_s]
    assert ramp_ends, "the test inputs step"
    for layer in range(2):
        times, volts = np.array(enable_points(timing, layer, 2, 1.8)).T
        for end in ramp_ends:
            assert float(np.interp(end, times, volts)) == 0.0
            # the layer still gets a tenth of a frame or more between the ramp and its enable
            first_high = min(t for t, v in zip(times, volts) if t > end and v > 0.0)
            assert first_high - end >= 0.1 * timing.frame_period_s
