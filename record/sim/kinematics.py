"""Ground-plane trajectories: piecewise constant speed and constant turn rate (CTRV segments).

Coordinates are the radar's REP-103 frame on the ground: x forward (boresight), y left, metres; heading is measured
from +x towards +y (counter-clockwise), radians; a positive yaw rate turns left. Time is seconds from the sequence
start. A trajectory exists (is *active*) from ``start_time_s`` for the summed segment durations; outside that span
its state is extrapolated (the first segment backwards, the last one forwards) so derivatives stay defined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from record.errors import ConfigError, describe

__all__ = ["MotionState", "Segment", "Trajectory"]

_STRAIGHT_YAW_RATE = 1e-9


@dataclass(frozen=True)
class Segment:
    """One piece of a trajectory: constant speed and constant yaw rate for ``duration_s``.

    Attributes:
        duration_s: length of the piece, seconds (> 0).
        speed_mps: ground speed along the heading, m/s (>= 0).
        yaw_rate_rps: heading change rate, rad/s, positive = turning left.
    """

    duration_s: float
    speed_mps: float
    yaw_rate_rps: float = 0.0

    def __post_init__(self) -> None:
        values = {
            "duration_s": self.duration_s,
            "speed_mps": self.speed_mps,
            "yaw_rate_rps": self.yaw_rate_rps,
        }
        for name, value in values.items():
            if not math.isfinite(value):
                raise ConfigError(describe("Segment", f"{name} must be finite", found=value))
        if self.duration_s <= 0:
            raise ConfigError(
                describe("Segment", "duration_s must be positive", found=self.duration_s, expected="> 0")
            )
        if self.speed_mps < 0:
            raise ConfigError(
                describe("Segment", "speed_mps must not be negative", found=self.speed_mps, expected=">= 0")
            )


@dataclass(frozen=True)
class MotionState:
    """Kinematic state of a trajectory at ``T`` instants, every array ``[T]``.

    Attributes:
        x_m, y_m: position, metres.
        heading_rad: direction of travel, radians from +x towards +y.
        speed_mps: ground speed, m/s.
        yaw_rate_rps: heading rate, rad/s.
        odometer_m: distance travelled since ``start_time_s`` (drives gait and wheel phases), metres.
        active: True where the object exists.
    """

    x_m: np.ndarray
    y_m: np.ndarray
    heading_rad: np.ndarray
    speed_mps: np.ndarray
    yaw_rate_rps: np.ndarray
    odometer_m: np.ndarray
    active: np.ndarray

    @property
    def vx_mps(self) -> np.ndarray:
        return self.speed_mps * np.cos(self.heading_rad)

    @property
    def vy_mps(self) -> np.ndarray:
        return self.speed_mps * np.sin(self.heading_rad)


@dataclass(frozen=True)
class Trajectory:
    """A start pose followed by CTRV segments.

    Attributes:
        start_time_s: when the object appears, seconds (may be negative: it was already moving).
        x_m, y_m: start position, metres (REP-103: x forward, y left).
        heading_rad: start heading, radians from +x towards +y.
        segments: the pieces, in order.
    """

    start_time_s: float
    x_m: float
    y_m: float
    heading_rad: float
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        for name in ("start_time_s", "x_m", "y_m", "heading_rad"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(describe("Trajectory", f"{name} must be finite", found=getattr(self, name)))
        if not self.segments:
            raise ConfigError(describe("Trajectory", "needs at least one segment", found=0, expected=">= 1"))
        object.__setattr__(self, "segments", tuple(self.segments))
        # start pose, start time and start odometer of every segment
        poses = [(self.x_m, self.y_m, self.heading_rad, 0.0)]
        for segment in self.segments[:-1]:
            x, y, heading, odometer = poses[-1]
            dx, dy, dh = _advance(segment.speed_mps, segment.yaw_rate_rps, heading, segment.duration_s)
            poses.append(
                (
                    x + float(dx),
                    y + float(dy),
                    heading + float(dh),
                    odometer + segment.speed_mps * segment.duration_s,
                )
            )
        object.__setattr__(self, "_starts", np.array(poses, dtype=np.float64))
        durations = np.array([s.duration_s for s in self.segments])
        object.__setattr__(self, "_offsets", np.concatenate([[0.0], np.cumsum(durations)[:-1]]))

    @property
    def duration_s(self) -> float:
        return float(sum(segment.duration_s for segment in self.segments))

    @property
    def end_time_s(self) -> float:
        return self.start_time_s + self.duration_s

    def state(self, time_s: ArrayLike) -> MotionState:
        """Kinematic state at ``time_s`` (scalar or ``[T]`` seconds); every field of the result is ``[T]``."""
        t = np.atleast_1d(np.asarray(time_s, dtype=np.float64)) - self.start_time_s
        if not np.all(np.isfinite(t)):
            raise ConfigError(describe("Trajectory.state", "time_s must be finite", found=time_s))
        index = np.clip(np.searchsorted(self._offsets, t, side="right") - 1, 0, len(self.segments) - 1)
        speed = np.array([s.speed_mps for s in self.segments])[index]
        yaw_rate = np.array([s.yaw_rate_rps for s in self.segments])[index]
        x0, y0, heading0, odometer0 = self._starts[index].T
        dt = t - self._offsets[index]
        dx, dy, dh = _advance(speed, yaw_rate, heading0, dt)
        active = (t >= 0.0) & (t <= self.duration_s)
        return MotionState(x0 + dx, y0 + dy, heading0 + dh, speed, yaw_rate, odometer0 + speed * dt, active)


def _advance(
    speed: ArrayLike, yaw_rate: ArrayLike, heading: ArrayLike, dt: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Displacement (dx, dy) and heading change of a CTRV motion over ``dt`` (closed form, exact)."""
    speed, yaw_rate, heading, dt = (np.asarray(a, dtype=np.float64) for a in (speed, yaw_rate, heading, dt))
    dh = yaw_rate * dt
    turning = np.abs(yaw_rate) > _STRAIGHT_YAW_RATE
    safe_rate = np.where(turning, yaw_rate, 1.0)
    dx = np.where(
        turning, speed / safe_rate * (np.sin(heading + dh) - np.sin(heading)), speed * dt * np.cos(heading)
    )
    dy = np.where(
        turning, speed / safe_rate * (np.cos(heading) - np.cos(heading + dh)), speed * dt * np.sin(heading)
    )
    return dx, dy, dh
