"""Builders of hand-made scenes for the simulator tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from record.sim.kinematics import Segment, Trajectory
from record.sim.objects import random_model
from record.sim.scene import Scene, SceneObject, StaticScatterers

ObjectFactory = Callable[..., SceneObject]


@pytest.fixture
def road_user() -> ObjectFactory:
    """``road_user(track_id, class_name, x, y, heading, speed, duration=60, start=-1, rcs_dbsm=None)``."""

    def make(
        track_id: int,
        class_name: str,
        x: float,
        y: float,
        heading: float,
        speed: float,
        duration: float = 60.0,
        start: float = -1.0,
        rcs_dbsm: float | None = None,
    ) -> SceneObject:
        rng = np.random.default_rng(track_id)
        model = random_model(class_name, rng)
        rcs = {"pedestrian": -5.0, "cyclist": 2.0, "car": 15.0}[class_name] if rcs_dbsm is None else rcs_dbsm
        trajectory = Trajectory(start, x, y, heading, (Segment(duration, speed),))
        return SceneObject(
            track_id, model, trajectory, rcs, rng.uniform(0.0, 2.0 * np.pi, model.n_scatterers)
        )

    return make


@pytest.fixture
def bare_scene() -> Callable[..., Scene]:
    """``bare_scene(*objects)``: the objects alone, no static clutter."""

    def make(*objects: SceneObject) -> Scene:
        return Scene(tuple(objects), StaticScatterers.empty())

    return make
