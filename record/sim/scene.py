"""What a sequence contains: moving road users on trajectories and the static surroundings.

The ego radar is static at the origin of the REP-103 ground frame (x forward along boresight, y left), mounted
``radar_height_m`` above the ground, like the ROD2021 parking-lot / campus captures and CARRADA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from record.classes import ROD2021_CLASSES, class_id
from record.errors import ConfigError, InputError, describe
from record.sim.kinematics import MotionState, Trajectory
from record.sim.objects import ObjectModel, place, rcs_towards_radar
from record.sim.occlusion import Footprints

__all__ = ["ObjectSnapshot", "Scene", "SceneObject", "StaticScatterers"]

#: half-width of the central difference that gives scatterer velocities, seconds
_VELOCITY_STEP_S = 1e-3


@dataclass(frozen=True)
class ObjectSnapshot:
    """One object's scatterers at one instant (ground frame, metres and m/s).

    Attributes:
        position_m: ``[P, 3]`` (x forward, y left, z up).
        velocity_mps: ``[P, 3]``.
        rcs_m2: aspect-dependent RCS of each scatterer, ``[P]``.
        centre: the object's kinematic state (length-1 arrays).
    """

    position_m: np.ndarray
    velocity_mps: np.ndarray
    rcs_m2: np.ndarray
    centre: MotionState


@dataclass(frozen=True)
class SceneObject:
    """A road user: model, path, mean RCS and the persistent phase of each of its scatterers.

    Attributes:
        track_id: identifier, unique in the scene.
        model: its scatterer template (the class comes from the model).
        trajectory: where it goes and when it exists.
        rcs_dbsm: aspect-averaged RCS, dBsm.
        phase_rad: scattering phase of each scatterer ``[P]`` (constant over the sequence).
    """

    track_id: int
    model: ObjectModel
    trajectory: Trajectory
    rcs_dbsm: float
    phase_rad: np.ndarray

    def __post_init__(self) -> None:
        if not math.isfinite(self.rcs_dbsm):
            raise ConfigError(
                describe(f"SceneObject {self.track_id}", "rcs_dbsm must be finite", found=self.rcs_dbsm)
            )
        if np.shape(self.phase_rad) != (self.model.n_scatterers,):
            raise ConfigError(
                describe(
                    f"SceneObject {self.track_id}",
                    "phase_rad must hold one phase per scatterer",
                    found=np.shape(self.phase_rad),
                    expected=(self.model.n_scatterers,),
                )
            )

    @property
    def class_name(self) -> str:
        return self.model.class_name

    def snapshot(self, time_s: float) -> ObjectSnapshot:
        """Scatterer positions, velocities (central difference over +-1 ms) and RCS at ``time_s``."""
        times = time_s + np.array([-_VELOCITY_STEP_S, 0.0, _VELOCITY_STEP_S])
        states = self.trajectory.state(times)
        before, now, after = place(self.model, states)
        velocity = (after - before) / (2.0 * _VELOCITY_STEP_S)
        rcs = rcs_towards_radar(self.model, self.rcs_dbsm, now, float(states.heading_rad[1]))
        centre = MotionState(
            *(np.asarray(getattr(states, name)[1:2]) for name in MotionState.__dataclass_fields__)
        )
        return ObjectSnapshot(now, velocity, rcs, centre)


@dataclass(frozen=True)
class StaticScatterers:
    """Static surroundings: fixed point scatterers (ground, walls, poles, parked cars) and the boxes that shadow.

    Attributes:
        position_m: ``[Q, 3]`` ground-frame positions, metres.
        rcs_m2: RCS towards the radar, ``[Q]`` (aspect already applied: the radar does not move).
        phase_rad: scattering phase ``[Q]``.
        kind: what each scatterer belongs to (``"ground"``, ``"wall"``, ``"pole"``, ``"parked_car"``), ``[Q]``.
        occluders: boxes of parked cars and walls.
        owner: index into ``occluders`` of the box each scatterer belongs to, or -1, ``[Q]``.
    """

    position_m: np.ndarray
    rcs_m2: np.ndarray
    phase_rad: np.ndarray
    kind: np.ndarray
    occluders: Footprints
    owner: np.ndarray

    def __post_init__(self) -> None:
        q = len(self.rcs_m2)
        shapes = {
            "position_m": (np.shape(self.position_m), (q, 3)),
            "phase_rad": (np.shape(self.phase_rad), (q,)),
            "kind": (np.shape(self.kind), (q,)),
            "owner": (np.shape(self.owner), (q,)),
        }
        for name, (found, expected) in shapes.items():
            if found != expected:
                raise InputError(
                    describe(f"StaticScatterers.{name}", "wrong shape", found=found, expected=expected)
                )
        if np.any(~np.isfinite(self.position_m)) or np.any(~(np.asarray(self.rcs_m2) >= 0)):
            raise InputError("StaticScatterers: positions must be finite and rcs_m2 non-negative")

    def __len__(self) -> int:
        return len(self.rcs_m2)

    @staticmethod
    def empty() -> StaticScatterers:
        return StaticScatterers(
            np.zeros((0, 3)),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, dtype="<U10"),
            Footprints.concatenate([]),
            np.zeros(0, np.int64),
        )


@dataclass(frozen=True)
class Scene:
    """A sequence's content.

    Attributes:
        objects: the road users (track ids unique).
        static: the surroundings.
        radar_height_m: mounting height of the (static) radar, metres.
    """

    objects: tuple[SceneObject, ...]
    static: StaticScatterers
    radar_height_m: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(self.objects))
        ids = [o.track_id for o in self.objects]
        if len(set(ids)) != len(ids):
            raise ConfigError(describe("Scene", "track ids must be unique", found=sorted(ids)))
        for obj in self.objects:
            class_id(obj.class_name, ROD2021_CLASSES)
        if not (math.isfinite(self.radar_height_m) and self.radar_height_m > 0):
            raise ConfigError(describe("Scene", "radar_height_m must be positive", found=self.radar_height_m))
