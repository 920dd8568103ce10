"""CTRV trajectories: closed-form motion, segment chaining, activity window, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.errors import ConfigError, RecordError
from record.sim.kinematics import Segment, Trajectory


def test_straight_segment_moves_along_heading() -> None:
    trajectory = Trajectory(1.0, 2.0, -1.0, math.radians(30.0), (Segment(10.0, 2.0),))
    state = trajectory.state([1.0, 3.5])
    np.testing.assert_allclose(state.x_m, [2.0, 2.0 + 5.0 * math.cos(math.radians(30.0))])
    np.testing.assert_allclose(state.y_m, [-1.0, -1.0 + 5.0 * math.sin(math.radians(30.0))])
    np.testing.assert_allclose(state.odometer_m, [0.0, 5.0])
    np.testing.assert_allclose(state.vx_mps, 2.0 * math.cos(math.radians(30.0)))


def test_full_turn_returns_to_start_on_a_circle() -> None:
    speed, rate = 3.0, 0.5  # radius 6 m, left turn
    trajectory = Trajectory(0.0, 0.0, 0.0, 0.0, (Segment(2.0 * math.pi / rate, speed, rate),))
    quarter = trajectory.state(0.5 * math.pi / rate)
    assert quarter.x_m[0] == pytest.approx(6.0) and quarter.y_m[0] == pytest.approx(6.0)  # turning left: +y
    assert quarter.heading_rad[0] == pytest.approx(0.5 * math.pi)
    end = trajectory.state(trajectory.end_time_s)
    assert end.x_m[0] == pytest.approx(0.0, abs=1e-9) and end.y_m[0] == pytest.approx(0.0, abs=1e-9)


def test_segments_chain_continuously() -> None:
    trajectory = Trajectory(
        0.0, 0.0, 0.0, 0.0, (Segment(2.0, 1.0), Segment(3.0, 1.0, 0.4), Segment(2.0, 0.0))
    )
    before, after = trajectory.state([2.0 - 1e-7, 2.0 + 1e-7]), trajectory.state([5.0 - 1e-7, 5.0 + 1e-7])
    for state in (before, after):
        assert abs(state.x_m[1] - state.x_m[0]) < 1e-6 and abs(state.y_m[1] - state.y_m[0]) < 1e-6
    paused = trajectory.state([5.5, 6.5])
    assert paused.x_m[0] == paused.x_m[1] and paused.speed_mps[0] == 0.0
    assert trajectory.state(6.0).odometer_m[0] == pytest.approx(5.0)


def test_activity_window() -> None:
    trajectory = Trajectory(2.0, 0.0, 0.0, 0.0, (Segment(3.0, 1.0),))
    assert trajectory.state([1.9, 2.0, 4.9, 5.1]).active.tolist() == [False, True, True, False]
    assert trajectory.end_time_s == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Segment(0.0, 1.0), "duration_s"),
        (lambda: Segment(1.0, -1.0), "speed_mps"),
        (lambda: Segment(1.0, float("nan")), "speed_mps"),
        (lambda: Trajectory(0.0, float("nan"), 0.0, 0.0, (Segment(1.0, 1.0),)), "x_m"),
        (lambda: Trajectory(0.0, 0.0, 0.0, 0.0, ()), "segment"),
        (lambda: Trajectory(0.0, 0.0, 0.0, 0.0, (Segment(1.0, 1.0),)).state([float("inf")]), "time_s"),
    ],
)
def test_bad_input_raises_clear_errors(make, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        make()
    assert isinstance(info.value, RecordError)
