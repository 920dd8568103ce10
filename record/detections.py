"""The detection record shared by decoding, scoring, result files and ROS messages.

Positions are polar in the radar frame (range in metres, azimuth in radians, positive towards the sensor's right,
the CRUW convention); :attr:`Detection.x_m` / :attr:`Detection.y_m` give REP-103 Cartesian coordinates
(x forward, y left).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from record.errors import InputError

__all__ = ["Detection", "ObjectTable"]


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


@dataclass(frozen=True)
class ObjectTable:
    """Many objects (ground truth or detections) as parallel arrays, for files and vectorised scoring.

    Attributes:
        frame: frame index ``int64[N]``.
        class_id: class index ``int64[N]`` into ``classes``.
        range_m: range in metres ``float64[N]``.
        azimuth_rad: azimuth in radians ``float64[N]``.
        score: confidence ``float64[N]`` in (0, 1] (1 for ground truth).
        classes: the class names the ids index.
    """

    frame: np.ndarray
    class_id: np.ndarray
    range_m: np.ndarray
    azimuth_rad: np.ndarray
    score: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.frame)
        for name in ("class_id", "range_m", "azimuth_rad", "score"):
            if len(getattr(self, name)) != n:
                raise InputError(f"ObjectTable.{name} has {len(getattr(self, name))} entries (expected {n})")

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def empty(cls, classes: tuple[str, ...]) -> ObjectTable:
        return cls(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), classes
        )

    @classmethod
    def from_detections(cls, detections: Sequence[Detection], classes: tuple[str, ...]) -> ObjectTable:
        return cls(
            np.array([d.frame for d in detections], dtype=np.int64),
            np.array([d.class_id for d in detections], dtype=np.int64),
            np.array([d.range_m for d in detections], dtype=np.float64),
            np.array([d.azimuth_rad for d in detections], dtype=np.float64),
            np.array([d.score for d in detections], dtype=np.float64),
            classes,
        )

    def to_detections(self) -> list[Detection]:
        return [
            Detection(int(f), self.classes[int(c)], int(c), float(r), float(a), float(s))
            for f, c, r, a, s in zip(self.frame, self.class_id, self.range_m, self.azimuth_rad, self.score)
        ]

    def select(self, mask: np.ndarray) -> ObjectTable:
        """The rows where ``mask`` is True (or the given indices), in order."""
        return ObjectTable(
            self.frame[mask], self.class_id[mask], self.range_m[mask], self.azimuth_rad[mask], self.score[mask],
            self.classes,
        )
