"""Extended road users as sets of point scatterers (reflection centres) in their own frame.

Object frame: x forward along the direction of travel, y left, z up from the ground, metres. Every model has a fixed
list of scatterers with an RCS share (``weight``, sums to 1) and an aspect lobe: a horizontal outward ``normal`` and
an exponent; a one-sided scatterer returns ``max(0, n . u) ** lobe`` of its share towards the unit direction ``u``
to the radar (0 when its face looks away: self-occlusion), a two-sided one ``|n . u| ** lobe`` (thin parts such as
wheels), an omnidirectional one (zero normal) its full share. Limb and wheel positions depend on the distance
travelled (odometer), so micro-Doppler follows the real speed:

* pedestrian: torso, pelvis, head, hands swinging in counter-phase to the legs, knees and feet; one gait cycle per
  stride; the feet move at ``v (1 + cos(phase))`` over ground, i.e. 0..2v;
* cyclist: rider, frame, handlebar, hubs, three rim/spoke points per rolling wheel (0 at the contact point, 2v at
  the top) and pedalling feet and knees;
* car: oriented box with bumper corners, bumper lines, licence plates (narrow specular lobes), side panels, wheel
  houses, rotating tyre points and mirrors (34 scatterers).

:func:`ObjectModel.aspect_gain` normalises the visible share by its average over all aspects, so an object's mean
RCS over aspects equals the RCS drawn from its class prior while broadside and corner views return more.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from record.classes import ROD2021_CLASSES, class_id
from record.errors import ConfigError, describe
from record.sim.kinematics import MotionState
from record.sim.occlusion import Footprints

__all__ = [
    "CarModel",
    "CyclistModel",
    "ObjectModel",
    "PedestrianModel",
    "footprint",
    "place",
    "random_model",
    "rcs_towards_radar",
]

_ASPECT_SAMPLES = 72


@dataclass(frozen=True)
class _Part:
    """One scatterer of a template: RCS share, horizontal outward normal (object frame), lobe exponent."""

    weight: float
    normal: tuple[float, float] = (0.0, 0.0)
    lobe: float = 0.0
    two_sided: bool = False


@dataclass(frozen=True)
class ObjectModel(ABC):
    """Geometry and scattering template of one road user; subclasses place the scatterers.

    Attributes:
        length_m, width_m, height_m: the footprint box (occlusion and ground truth extent), metres.
    """

    class_name: ClassVar[str]
    length_m: float
    width_m: float
    height_m: float

    def __post_init__(self) -> None:
        for name in ("length_m", "width_m", "height_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(describe(type(self).__name__, f"{name} must be positive", found=value))

    @abstractmethod
    def _parts(self) -> tuple[_Part, ...]:
        """The scatterers' scattering properties, in the order of :meth:`local_positions`."""

    @abstractmethod
    def local_positions(self, odometer_m: float) -> np.ndarray:
        """Scatterer positions ``[P, 3]`` in the object frame after travelling ``odometer_m`` metres."""

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        parts = self._parts()
        weight = np.array([p.weight for p in parts], dtype=np.float64)
        normal = np.array([p.normal for p in parts], dtype=np.float64)
        norm = np.linalg.norm(normal, axis=1, keepdims=True)
        normal = np.divide(normal, norm, out=np.zeros_like(normal), where=norm > 0)
        lobe = np.array([p.lobe for p in parts], dtype=np.float64)
        two_sided = np.array([p.two_sided for p in parts], dtype=bool)
        return weight / weight.sum(), normal, lobe, two_sided

    @property
    def n_scatterers(self) -> int:
        return len(self._table[0])

    def _visible_share(self, direction_to_radar: np.ndarray) -> np.ndarray:
        """RCS share returned by each scatterer towards unit directions ``[..., P, 2]`` (object frame)."""
        weight, normal, lobe, two_sided = self._table
        cosine = np.sum(normal * direction_to_radar, axis=-1)
        cosine = np.where(two_sided, np.abs(cosine), np.maximum(cosine, 0.0))
        omni = ~np.any(normal != 0.0, axis=1)
        return weight * np.where(omni, 1.0, cosine**lobe)

    @cached_property
    def _mean_visible(self) -> float:
        """Visible share summed over scatterers, averaged over aspects seen from afar (normalisation)."""
        angles = np.linspace(0.0, 2.0 * np.pi, _ASPECT_SAMPLES, endpoint=False)
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=-1)[:, None, :]
        return float(
            self._visible_share(np.broadcast_to(directions, (_ASPECT_SAMPLES, self.n_scatterers, 2)))
            .sum(1)
            .mean()
        )

    def aspect_gain(self, direction_to_radar: np.ndarray) -> np.ndarray:
        """RCS of each scatterer as a fraction of the object's aspect-averaged RCS, ``[P]``.

        Args:
            direction_to_radar: unit horizontal directions from each scatterer to the radar in the object frame,
                ``[P, 2]``.
        """
        return self._visible_share(direction_to_radar) / self._mean_visible


def _rim_points(hubs: np.ndarray, radius: float, angles: np.ndarray) -> np.ndarray:
    """Points on rolling wheels: ``angles`` ``[H, K]`` from the top of each hub ``[H, 3]`` -> ``[H * K, 3]``.

    A wheel rolling forwards at v turns by ``odometer / radius``; its point at angle a from the top moves at
    ``v (1 + cos a)`` over ground, from 0 at the contact point to 2v at the top.
    """
    offsets = radius * np.stack([np.sin(angles), np.zeros_like(angles), np.cos(angles)], axis=-1)
    return (hubs[:, None, :] + offsets).reshape(-1, 3)


def _walk_offsets(phase: np.ndarray, amplitude: float) -> np.ndarray:
    """Fore-aft offsets ``amplitude * sin(phase)`` of swinging limbs."""
    return amplitude * np.sin(phase)


@dataclass(frozen=True)
class PedestrianModel(ObjectModel):
    """Walking person: 9 scatterers, one gait cycle (two steps) per ``stride_m`` travelled.

    Attributes:
        stride_m: distance per gait cycle, metres.
        gait_phase_rad: gait phase at odometer 0.
    """

    class_name: ClassVar[str] = "pedestrian"
    length_m: float = 0.4
    width_m: float = 0.55
    height_m: float = 1.75
    stride_m: float = 1.4
    gait_phase_rad: float = 0.0

    def _parts(self) -> tuple[_Part, ...]:
        # torso, pelvis, head, left/right hand, left/right knee, left/right foot
        weights = (0.34, 0.14, 0.08, 0.06, 0.06, 0.07, 0.07, 0.09, 0.09)
        return tuple(_Part(w) for w in weights)

    def local_positions(self, odometer_m: float) -> np.ndarray:
        h = self.height_m
        phase = 2.0 * np.pi * odometer_m / self.stride_m + self.gait_phase_rad
        leg_phase = np.array([phase, phase + np.pi])  # left, right
        foot_swing = self.stride_m / (2.0 * np.pi)  # foot speed over ground v (1 + cos phase): 0..2v
        feet = _walk_offsets(leg_phase, foot_swing)
        hands = _walk_offsets(leg_phase + np.pi, 0.4 * foot_swing)  # arms swing against the same-side leg
        lift = 0.05 * h * np.maximum(np.cos(leg_phase), 0.0)  # the swinging foot is raised
        side = np.array([0.1, -0.1])
        return np.array(
            [
                [0.0, 0.0, 0.72 * h],
                [0.0, 0.0, 0.55 * h],
                [0.0, 0.0, 0.93 * h],
                [hands[0], 0.25, 0.45 * h],
                [hands[1], -0.25, 0.45 * h],
                [0.5 * feet[0], side[0], 0.28 * h],
                [0.5 * feet[1], side[1], 0.28 * h],
                [feet[0], side[0], 0.03 * h + lift[0]],
                [feet[1], side[1], 0.03 * h + lift[1]],
            ]
        )


@dataclass(frozen=True)
class CyclistModel(ObjectModel):
    """Rider on a bicycle: 17 scatterers with rolling wheels (three rim points each) and pedalling legs.

    Attributes:
        wheel_radius_m: wheel radius, metres.
        wheelbase_m: hub-to-hub distance, metres.
        development_m: distance travelled per crank revolution, metres.
        wheel_phase_rad, crank_phase_rad: rim and crank angles at odometer 0.
    """

    class_name: ClassVar[str] = "cyclist"
    length_m: float = 1.75
    width_m: float = 0.6
    height_m: float = 1.8
    wheel_radius_m: float = 0.34
    wheelbase_m: float = 1.05
    development_m: float = 4.5
    wheel_phase_rad: float = 0.0
    crank_phase_rad: float = 0.0

    _RIM_POINTS: ClassVar[int] = 3

    def _parts(self) -> tuple[_Part, ...]:
        rim = _Part(0.03, (0.0, 1.0), 1.0, two_sided=True)
        # torso, head, handlebar, seat tube, bottom bracket, front hub, rear hub
        fixed = (0.36, 0.06, 0.05, 0.04, 0.05, 0.04, 0.04)
        limbs = (0.05, 0.05, 0.04, 0.04)  # feet, knees
        return (
            tuple(_Part(w) for w in fixed) + (rim,) * (2 * self._RIM_POINTS) + tuple(_Part(w) for w in limbs)
        )

    def local_positions(self, odometer_m: float) -> np.ndarray:
        r, half_base = self.wheel_radius_m, 0.5 * self.wheelbase_m
        bracket = np.array([0.05, 0.0, 0.3])
        fixed = np.array(
            [
                [-0.1, 0.0, 1.25],
                [0.0, 0.0, 0.93 * self.height_m],
                [half_base - 0.1, 0.0, 1.0],
                [-0.15, 0.0, 0.85],
                bracket,
                [half_base, 0.0, r],
                [-half_base, 0.0, r],
            ]
        )
        spokes = 2.0 * np.pi * np.arange(self._RIM_POINTS) / self._RIM_POINTS
        angles = np.tile(odometer_m / r + self.wheel_phase_rad + spokes, (2, 1))
        rims = _rim_points(fixed[5:7], r, angles)
        crank = 2.0 * np.pi * odometer_m / self.development_m + self.crank_phase_rad + np.array([0.0, np.pi])
        side = np.array([0.12, -0.12])
        feet = bracket + np.stack([0.17 * np.sin(crank), side, 0.17 * np.cos(crank)], -1)
        knees = np.stack([0.12 + 0.08 * np.sin(crank), side, 0.7 + 0.08 * np.cos(crank)], -1)
        return np.concatenate([fixed, rims, feet, knees])


@dataclass(frozen=True)
class CarModel(ObjectModel):
    """Passenger car as an oriented box with 34 reflection centres.

    Attributes:
        wheel_radius_m: tyre radius (rotating tyre points), metres.
        wheel_phase_rad: tyre angle at odometer 0.
    """

    class_name: ClassVar[str] = "car"
    length_m: float = 4.5
    width_m: float = 1.8
    height_m: float = 1.5
    wheel_radius_m: float = 0.32
    wheel_phase_rad: float = 0.0

    _SIDE_POINTS: ClassVar[int] = 6
    _BUMPER_POINTS: ClassVar[int] = 3

    def _corners(self) -> np.ndarray:
        """(sign x, sign y) of front-left, front-right, rear-left, rear-right."""
        return np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])

    def _parts(self) -> tuple[_Part, ...]:
        corners = tuple(_Part(3.0, (sx, sy), 1.0) for sx, sy in self._corners())
        ends = []
        for sx in (1.0, -1.0):
            ends += [_Part(1.5, (sx, 0.0), 2.0)] * self._BUMPER_POINTS + [
                _Part(2.0, (sx, 0.0), 6.0)
            ]  # bumper, plate
        sides = [_Part(1.0, (0.0, sy), 4.0) for sy in (1.0, -1.0) for _ in range(self._SIDE_POINTS)]
        wheel_signs = self._corners()
        houses = [_Part(1.5, (0.0, sy), 1.0) for _, sy in wheel_signs]
        tyres = [_Part(0.5, (0.0, sy), 1.0) for _, sy in wheel_signs]
        mirrors = [_Part(1.0, (0.5, 0.87 * sy), 1.0) for sy in (1.0, -1.0)]
        return corners + tuple(ends + sides + houses + tyres + mirrors)

    def local_positions(self, odometer_m: float) -> np.ndarray:
        half_l, half_w = 0.5 * self.length_m, 0.5 * self.width_m
        corners = np.column_stack([self._corners() * [half_l, half_w], np.full(4, 0.5)])
        ends = []
        for sx in (1.0, -1.0):
            lateral = np.linspace(-half_w + 0.25, half_w - 0.25, self._BUMPER_POINTS)
            ends.append(
                np.column_stack(
                    [np.full(self._BUMPER_POINTS, sx * half_l), lateral, np.full(self._BUMPER_POINTS, 0.5)]
                )
            )
            ends.append(np.array([[sx * half_l, 0.0, 0.4]]))
        along = np.linspace(-half_l + 0.4, half_l - 0.4, self._SIDE_POINTS)
        sides = [
            np.column_stack([along, np.full(self._SIDE_POINTS, sy * half_w), np.full(self._SIDE_POINTS, 0.7)])
            for sy in (1.0, -1.0)
        ]
        hubs = np.column_stack([self._corners() * [half_l - 0.85, half_w], np.full(4, self.wheel_radius_m)])
        angle = (
            odometer_m / self.wheel_radius_m + self.wheel_phase_rad + np.array([[0.0], [1.0], [2.0], [3.0]])
        )
        tyres = _rim_points(hubs, self.wheel_radius_m, angle)
        mirrors = np.array([[half_l - 1.6, sy * (half_w + 0.12), 1.0] for sy in (1.0, -1.0)])
        return np.concatenate([corners, *ends, *sides, hubs, tyres, mirrors])


def place(model: ObjectModel, state: MotionState) -> np.ndarray:
    """Ground-frame scatterer positions ``[T, P, 3]`` of ``model`` at each of the ``T`` states (pose + odometer)."""
    local = np.stack([model.local_positions(float(d)) for d in state.odometer_m])
    cos_h, sin_h = np.cos(state.heading_rad)[:, None], np.sin(state.heading_rad)[:, None]
    x = state.x_m[:, None] + cos_h * local[..., 0] - sin_h * local[..., 1]
    y = state.y_m[:, None] + sin_h * local[..., 0] + cos_h * local[..., 1]
    return np.stack([x, y, local[..., 2]], axis=-1)


def footprint(model: ObjectModel, state: MotionState) -> Footprints:
    """The model's box at each of the ``T`` states' poses (``T`` boxes)."""
    n = len(state.x_m)
    return Footprints(
        np.column_stack([state.x_m, state.y_m]),
        np.asarray(state.heading_rad, dtype=np.float64),
        np.full(n, model.length_m),
        np.full(n, model.width_m),
        np.full(n, model.height_m),
    )


def rcs_towards_radar(
    model: ObjectModel, rcs_dbsm: float, position_m: np.ndarray, heading_rad: float
) -> np.ndarray:
    """RCS ``[P]`` (m^2) each scatterer at ``position_m`` ``[P, 3]`` returns to a radar at the ground origin.

    ``rcs_dbsm`` is the object's aspect-averaged RCS; the heading turns the radar direction into the object frame.
    """
    to_radar = -position_m[:, :2] / np.maximum(np.linalg.norm(position_m[:, :2], axis=1, keepdims=True), 1e-9)
    cos_h, sin_h = math.cos(heading_rad), math.sin(heading_rad)
    local = np.column_stack(
        [cos_h * to_radar[:, 0] + sin_h * to_radar[:, 1], -sin_h * to_radar[:, 0] + cos_h * to_radar[:, 1]]
    )
    return 10.0 ** (rcs_dbsm / 10.0) * model.aspect_gain(local)


def _phase(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.0, 2.0 * np.pi))


def random_model(class_name: str, rng: np.random.Generator) -> ObjectModel:
    """A model of ``class_name`` (``"pedestrian"``, ``"cyclist"``, ``"car"``) with plausible random dimensions."""
    class_id(class_name, ROD2021_CLASSES)  # raises InputError naming the known classes
    if class_name == "pedestrian":
        return PedestrianModel(
            height_m=float(rng.uniform(1.5, 1.95)),
            stride_m=float(rng.uniform(1.2, 1.6)),
            gait_phase_rad=_phase(rng),
        )
    if class_name == "cyclist":
        return CyclistModel(
            wheel_radius_m=float(rng.uniform(0.33, 0.36)),
            development_m=float(rng.uniform(3.5, 6.0)),
            wheel_phase_rad=_phase(rng),
            crank_phase_rad=_phase(rng),
        )
    return CarModel(
        length_m=float(rng.uniform(3.9, 5.0)),
        width_m=float(rng.uniform(1.7, 1.95)),
        height_m=float(rng.uniform(1.4, 1.7)),
        wheel_phase_rad=_phase(rng),
    )
