"""Random static surroundings: ground returns, walls, poles and parked cars (all at zero Doppler).

* ground: weak point returns on the ground (z = 0) spread uniformly over the field of view, ``density`` per m^2;
* walls: lines of scatterers every 0.5 m with a narrow specular lobe along the wall's normal, 2.5 m high boxes
  that shadow what stands behind them, placed in the far part of the field of view;
* poles: single omnidirectional returns (lamp posts, signs);
* parked cars: :class:`~record.sim.objects.CarModel` boxes at rest, aspect applied once, shadowing too.

Static returns do not fluctuate from frame to frame (Swerling 0) and keep their scattering phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from record.errors import ConfigError, describe
from record.sim.kinematics import MotionState
from record.sim.objects import footprint, place, random_model, rcs_towards_radar
from record.sim.occlusion import Footprints
from record.sim.scene import StaticScatterers

__all__ = ["ClutterConfig", "random_static"]

_WALL_SPACING_M = 0.5
_WALL_HEIGHT_M = 2.5
_WALL_THICKNESS_M = 0.3
_WALL_LOBE = 8.0
_PLACEMENT_TRIES = 50
_PARKED_MIN_RANGE_M = 6.0


@dataclass(frozen=True)
class ClutterConfig:
    """How much static clutter a random scene holds. Ranges ``(low, high)`` are drawn uniformly.

    Attributes:
        ground_density_per_m2: ground scatterers per square metre of the field of view.
        ground_rcs_dbsm: RCS of one ground scatterer, dBsm.
        poles: number of poles (integers, inclusive).
        pole_rcs_dbsm: RCS of a pole, dBsm.
        walls: number of walls (integers, inclusive).
        wall_length_m: wall length, metres.
        wall_rcs_dbsm: RCS of one wall scatterer at normal incidence, dBsm.
        parked_cars: number of parked cars (integers, inclusive).
        parked_car_rcs_dbsm: aspect-averaged RCS of a parked car, dBsm.
        clearance_m: minimum distance of poles and parked cars from the road users' paths and each other, metres.
    """

    ground_density_per_m2: float = 0.5
    ground_rcs_dbsm: tuple[float, float] = (-25.0, -10.0)
    poles: tuple[int, int] = (0, 3)
    pole_rcs_dbsm: tuple[float, float] = (0.0, 10.0)
    walls: tuple[int, int] = (0, 1)
    wall_length_m: tuple[float, float] = (6.0, 20.0)
    wall_rcs_dbsm: tuple[float, float] = (-5.0, 5.0)
    parked_cars: tuple[int, int] = (0, 3)
    parked_car_rcs_dbsm: tuple[float, float] = (10.0, 20.0)
    clearance_m: float = 2.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ground_density_per_m2) and self.ground_density_per_m2 >= 0):
            raise ConfigError(
                describe(
                    "ClutterConfig.ground_density_per_m2", "must be >= 0", found=self.ground_density_per_m2
                )
            )
        for name in ("poles", "walls", "parked_cars"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ConfigError(
                    describe(f"ClutterConfig.{name}", "must be 0 <= low <= high", found=(low, high))
                )


@dataclass
class _Builder:
    """Accumulates static scatterers and shadowing boxes."""

    positions: list[np.ndarray]
    rcs: list[np.ndarray]
    kinds: list[np.ndarray]
    owners: list[np.ndarray]
    boxes: list[Footprints]

    def add(self, position: np.ndarray, rcs: np.ndarray, kind: str, box: Footprints | None = None) -> None:
        owner = -1
        if box is not None:
            owner = sum(len(b) for b in self.boxes)
            self.boxes.append(box)
        self.positions.append(position)
        self.rcs.append(rcs)
        self.kinds.append(np.full(len(rcs), kind, dtype="<U10"))
        self.owners.append(np.full(len(rcs), owner, dtype=np.int64))

    def build(self, rng: np.random.Generator) -> StaticScatterers:
        if not self.positions:
            return StaticScatterers.empty()
        rcs = np.concatenate(self.rcs)
        return StaticScatterers(
            np.concatenate(self.positions),
            rcs,
            rng.uniform(0.0, 2.0 * np.pi, len(rcs)),
            np.concatenate(self.kinds),
            Footprints.concatenate(self.boxes),
            np.concatenate(self.owners),
        )


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], size: int | None = None) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size)


def _polar_points(
    rng: np.random.Generator, n: int, range_m: tuple[float, float], half_fov_rad: float
) -> np.ndarray:
    """``n`` points uniform in area over the sector, ``[n, 2]`` (x, y)."""
    r = np.sqrt(rng.uniform(range_m[0] ** 2, range_m[1] ** 2, n))
    azimuth = rng.uniform(-half_fov_rad, half_fov_rad, n)
    return np.column_stack([r * np.cos(azimuth), -r * np.sin(azimuth)])


def _free_spot(
    rng: np.random.Generator,
    taken: list[np.ndarray],
    clearance: float,
    range_m: tuple[float, float],
    half_fov: float,
) -> np.ndarray | None:
    """A point of the sector at least ``clearance`` from every point in ``taken`` (or None after many tries)."""
    occupied = np.concatenate(taken) if taken else np.zeros((0, 2))
    for _ in range(_PLACEMENT_TRIES):
        spot = _polar_points(rng, 1, range_m, half_fov)
        if len(occupied) == 0 or np.min(np.linalg.norm(occupied - spot, axis=1)) >= clearance:
            return spot
    return None


def _wall(
    rng: np.random.Generator,
    config: ClutterConfig,
    range_m: tuple[float, float],
    half_fov: float,
    builder: _Builder,
) -> None:
    length = float(_uniform(rng, config.wall_length_m))
    centre = _polar_points(rng, 1, (0.75 * range_m[1], 0.95 * range_m[1]), half_fov)[0]
    facing = math.atan2(-centre[1], -centre[0]) + rng.uniform(-0.5, 0.5)  # normal roughly towards the radar
    along = facing + 0.5 * np.pi
    offsets = np.arange(-0.5 * length, 0.5 * length + 1e-9, _WALL_SPACING_M)
    xy = centre + offsets[:, None] * np.array([math.cos(along), math.sin(along)])
    position = np.column_stack([xy, np.full(len(xy), 1.0)])
    to_radar = -xy / np.linalg.norm(xy, axis=1, keepdims=True)
    cosine = np.maximum(to_radar @ np.array([math.cos(facing), math.sin(facing)]), 0.0)
    rcs = 10.0 ** (_uniform(rng, config.wall_rcs_dbsm, len(xy)) / 10.0) * cosine**_WALL_LOBE
    box = Footprints(
        centre[None],
        np.array([along]),
        np.array([length]),
        np.array([_WALL_THICKNESS_M]),
        np.array([_WALL_HEIGHT_M]),
    )
    builder.add(position, rcs, "wall", box)


def random_static(
    config: ClutterConfig,
    range_m: tuple[float, float],
    half_fov_rad: float,
    keep_clear_m: np.ndarray,
    rng: np.random.Generator,
) -> StaticScatterers:
    """Random static surroundings in the sector ``range_m`` x ``[-half_fov_rad, half_fov_rad]``.

    Args:
        config: amounts and strengths.
        range_m: (near, far) placement limits, metres.
        half_fov_rad: half-angle of the placement sector, radians.
        keep_clear_m: ground points ``[K, 2]`` (e.g. sampled road-user paths) poles and parked cars stay away from.
        rng: random source.
    """
    builder = _Builder([], [], [], [], [])
    area = half_fov_rad * (range_m[1] ** 2 - range_m[0] ** 2)
    n_ground = int(rng.poisson(config.ground_density_per_m2 * area))
    if n_ground:
        ground = np.column_stack([_polar_points(rng, n_ground, range_m, half_fov_rad), np.zeros(n_ground)])
        builder.add(ground, 10.0 ** (_uniform(rng, config.ground_rcs_dbsm, n_ground) / 10.0), "ground")
    for _ in range(int(rng.integers(config.walls[0], config.walls[1] + 1))):
        _wall(rng, config, range_m, half_fov_rad, builder)
    taken = [np.asarray(keep_clear_m, dtype=np.float64).reshape(-1, 2)]
    for _ in range(int(rng.integers(config.poles[0], config.poles[1] + 1))):
        spot = _free_spot(rng, taken, config.clearance_m, range_m, half_fov_rad)
        if spot is not None:
            taken.append(spot)
            builder.add(
                np.array([[spot[0, 0], spot[0, 1], 1.5]]),
                10.0 ** (_uniform(rng, config.pole_rcs_dbsm, 1) / 10.0),
                "pole",
            )
    for _ in range(int(rng.integers(config.parked_cars[0], config.parked_cars[1] + 1))):
        spot = _free_spot(
            rng,
            taken,
            config.clearance_m + 2.5,
            (max(range_m[0], _PARKED_MIN_RANGE_M), range_m[1]),
            half_fov_rad,
        )
        if spot is None:
            continue
        taken.append(spot)
        model = random_model("car", rng)
        heading = float(rng.choice([0.0, 0.5 * np.pi]) + rng.normal(0.0, 0.1))
        one = np.ones(1)
        state = MotionState(
            spot[:, 0], spot[:, 1], heading * one, 0 * one, 0 * one, 0 * one, one.astype(bool)
        )
        position = place(model, state)[0]
        rcs = rcs_towards_radar(model, float(_uniform(rng, config.parked_car_rcs_dbsm)), position, heading)
        builder.add(position, rcs, "parked_car", footprint(model, state))
    return builder.build(rng)
