"""The detection record shared by decoding, scoring, result files and ROS messages.

Positions are polar in the radar frame (range in metres, azimuth in radians, positive towards the sensor's right,
the CRUW convention); :attr:`Detection.x_m` / :attr:`Detection.y_m` give REP-103 Cartesian coordinates
(x forward, y left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from record.errors import InputError

__all__ = ["Detection"]


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object.

    Attributes:
        frame: frame index within its sequence.
        class_name: class label (e.g. ``"pedestrian"``).
        class_id: index of the class in the dataset's class tuple (:mod:`record.classes`).
        range_m: range in metres.
        azimuth_rad: azimuth in radians, positive towards +x (sensor right).
        score: confidence in (0, 1].
        range_rate_mps: optional range rate in m/s (positive = receding).
    """

    frame: int
    class_name: str
    class_id: int
    range_m: float
    azimuth_rad: float
    score: float
    range_rate_mps: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.score <= 1.0:
            raise InputError(f"Detection.score must be in (0, 1] (found {self.score})")
        if not (math.isfinite(self.range_m) and math.isfinite(self.azimuth_rad)):
            raise InputError(f"Detection position must be finite (found r={self.range_m}, a={self.azimuth_rad})")

    @property
    def x_m(self) -> float:
        """Forward distance (REP-103 x), metres."""
        return self.range_m * math.cos(self.azimuth_rad)

    @property
    def y_m(self) -> float:
        """Leftward distance (REP-103 y), metres."""
        return -self.range_m * math.sin(self.azimuth_rad)
