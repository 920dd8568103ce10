"""Per-frame ground truth of a simulated sequence.

Object positions are those of the object's centre (footprint centre on the ground) at the frame's reference time,
the middle of its chirp burst. Polar values follow the project conventions: range in metres on the ground plane,
azimuth from boresight positive towards the sensor's right (``atan2(-y, x)``), range rate dR/dt positive receding.
``points`` holds the object's unshadowed reflection centres as the radar sees them (slant range, the azimuth whose
sine is the direction cosine along the array, range rate, mean power): the energy of the object in the maps sits
on these points, and the dataset writers project them to bins for CARRADA-style masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from record.classes import ROD2021_CLASSES, class_id
from record.detections import ObjectTable

__all__ = ["FrameTruth", "ObjectTruth", "ScattererPoints"]


@dataclass(frozen=True, eq=False)
class ScattererPoints:
    """Reflection centres of one object, arrays ``[K]``.

    Attributes:
        range_m: slant range from the radar, metres.
        azimuth_rad: azimuth, radians (positive towards the sensor's right).
        range_rate_mps: dR/dt, m/s.
        power: mean received power per ADC sample (no fluctuation), in units of the receiver noise power.
    """

    range_m: np.ndarray
    azimuth_rad: np.ndarray
    range_rate_mps: np.ndarray
    power: np.ndarray

    def __len__(self) -> int:
        return len(self.range_m)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScattererPoints):
            return NotImplemented
        names = ("range_m", "azimuth_rad", "range_rate_mps", "power")
        return all(np.array_equal(getattr(self, n), getattr(other, n)) for n in names)

    __hash__ = None  # type: ignore[assignment]  # mutable arrays

    def centroid(self) -> tuple[float, float, float]:
        """Power-weighted mean (range m, azimuth rad, range rate m/s); NaNs when there is no point."""
        if len(self) == 0 or not np.any(self.power > 0):
            return (float("nan"),) * 3
        w = self.power / self.power.sum()
        return float(w @ self.range_m), float(w @ self.azimuth_rad), float(w @ self.range_rate_mps)


@dataclass(frozen=True)
class ObjectTruth:
    """One object in one frame.

    Attributes:
        track_id: the object's identifier, constant over the sequence.
        class_name: ``"pedestrian"``, ``"cyclist"`` or ``"car"``.
        range_m, azimuth_rad, range_rate_mps: the centre in polar form (m, rad, m/s).
        x_m, y_m: the centre, REP-103 (x forward, y left), metres.
        vx_mps, vy_mps: ground velocity, m/s.
        heading_rad: direction of travel, radians from +x towards +y.
        length_m, width_m: footprint size, metres.
        in_fov: the centre is inside the capture's range span and the configured azimuth field of view.
        visible_fraction: share of the object's aspect-visible RCS that no nearer object shadows, in [0, 1].
        visible: ``in_fov`` and ``visible_fraction`` at least the configured minimum (what a label should hold).
        snr_db: ideal SNR of the object in one chirp loop (matched filter over samples and virtual antennas,
            no window loss), from its mean power.
        points: its unshadowed reflection centres.
        fading_db: power gain of the whole-object fading in this frame, dB (0 without fading,
            :mod:`record.sim.fading`); the frame's SNR is ``snr_db + fading_db``.
    """

    track_id: int
    class_name: str
    range_m: float
    azimuth_rad: float
    range_rate_mps: float
    x_m: float
    y_m: float
    vx_mps: float
    vy_mps: float
    heading_rad: float
    length_m: float
    width_m: float
    in_fov: bool
    visible_fraction: float
    visible: bool
    snr_db: float
    points: ScattererPoints
    fading_db: float = 0.0


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame: every object that exists at the frame's reference time.

    Attributes:
        frame: frame index in the sequence.
        time_s: reference time (middle of the chirp burst), seconds from the sequence start.
        objects: the existing objects, visible or not, in track-id order.
    """

    frame: int
    time_s: float
    objects: tuple[ObjectTruth, ...]

    def visible_objects(self) -> tuple[ObjectTruth, ...]:
        return tuple(o for o in self.objects if o.visible)

    def to_object_table(
        self, classes: tuple[str, ...] = ROD2021_CLASSES, *, visible_only: bool = True
    ) -> ObjectTable:
        """The objects as an :class:`~record.detections.ObjectTable` (score 1), e.g. for annotation files."""
        chosen = self.visible_objects() if visible_only else self.objects
        return ObjectTable(
            np.full(len(chosen), self.frame, dtype=np.int64),
            np.array([class_id(o.class_name, classes) for o in chosen], dtype=np.int64),
            np.array([o.range_m for o in chosen], dtype=np.float64),
            np.array([o.azimuth_rad for o in chosen], dtype=np.float64),
            np.ones(len(chosen)),
            classes,
        )
