"""Extended objects: micro-Doppler of limbs and wheels, aspect-dependent visibility, RCS normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.errors import ConfigError, InputError
from record.sim.kinematics import Segment, Trajectory
from record.sim.objects import CarModel, CyclistModel, PedestrianModel, random_model
from record.sim.scene import SceneObject


def _moving(model, speed: float, heading: float = 0.0, x: float = 10.0, y: float = 0.0) -> SceneObject:
    trajectory = Trajectory(0.0, x, y, heading, (Segment(100.0, speed),))
    return SceneObject(0, model, trajectory, 0.0, np.zeros(model.n_scatterers))


def _forward_speeds(obj: SceneObject, times: np.ndarray) -> np.ndarray:
    """Ground speed of every scatterer along the heading (0 rad), ``[T, P]``."""
    return np.stack([obj.snapshot(float(t)).velocity_mps[:, 0] for t in times])


def test_pedestrian_feet_move_between_zero_and_twice_the_body_speed() -> None:
    speed, model = 1.4, PedestrianModel(stride_m=1.4)
    speeds = _forward_speeds(_moving(model, speed), np.linspace(0.0, 2.0, 81))  # two gait cycles
    torso, feet, hands = speeds[:, 0], speeds[:, 7:9], speeds[:, 3:5]
    np.testing.assert_allclose(torso, speed, atol=1e-6)
    assert feet.min() == pytest.approx(0.0, abs=0.02) and feet.max() == pytest.approx(2.0 * speed, abs=0.02)
    assert 0.1 * speed < hands.max() - speed < 0.9 * speed  # arms swing less than legs
    # left and right legs in counter-phase
    assert np.corrcoef(feet[:, 0], feet[:, 1])[0, 1] < -0.9


def test_standing_pedestrian_has_no_micro_doppler() -> None:
    speeds = _forward_speeds(_moving(PedestrianModel(), 0.0), np.linspace(0.0, 1.0, 11))
    np.testing.assert_allclose(speeds, 0.0, atol=1e-9)


def test_cyclist_rim_points_span_zero_to_twice_the_speed() -> None:
    speed = 5.0
    model = CyclistModel()
    speeds = _forward_speeds(_moving(model, speed), np.linspace(0.0, 1.0, 201))
    rims = speeds[:, 7:13]
    assert rims.min() == pytest.approx(0.0, abs=0.05) and rims.max() == pytest.approx(2.0 * speed, abs=0.05)
    np.testing.assert_allclose(speeds[:, 0], speed, atol=1e-6)  # rider torso


def test_car_shows_only_the_faces_towards_the_radar() -> None:
    model = CarModel()
    positions = model.local_positions(0.0)
    # car 20 m ahead driving towards the radar: its front looks at the radar
    approaching = _moving(model, 5.0, heading=math.pi, x=20.0).snapshot(0.0)
    front = positions[:, 0] > 0.5 * model.length_m - 1e-9
    rear = positions[:, 0] < -0.5 * model.length_m + 1e-9
    assert np.all(approaching.rcs_m2[rear] == 0.0) and np.all(approaching.rcs_m2[front] > 0.0)
    # broadside, driving to the radar's right (-y) at x = 15 m: its left side (object +y) points away (+x)
    crossing = _moving(model, 5.0, heading=-0.5 * math.pi, x=15.0, y=5.0).snapshot(0.0)
    left_side = positions[:, 1] > 0.5 * model.width_m - 1e-9
    right_side = positions[:, 1] < -0.5 * model.width_m + 1e-9
    assert np.all(crossing.rcs_m2[left_side] == 0.0) and np.all(crossing.rcs_m2[right_side] > 0.0)
    assert crossing.rcs_m2.sum() > approaching.rcs_m2.sum()  # broadside returns more than head-on


@pytest.mark.parametrize("model", [PedestrianModel(), CyclistModel(), CarModel()])
def test_aspect_average_equals_the_object_rcs(model) -> None:
    angles = np.linspace(0.0, 2.0 * np.pi, 360, endpoint=False)
    totals = [
        model.aspect_gain(np.tile([math.cos(a), math.sin(a)], (model.n_scatterers, 1))).sum() for a in angles
    ]
    assert np.mean(totals) == pytest.approx(1.0, rel=0.02)


def test_scatterer_counts_and_random_dimensions() -> None:
    rng = np.random.default_rng(0)
    assert 3 <= PedestrianModel().n_scatterers <= 10
    assert 10 <= CarModel().n_scatterers <= 50
    cars = [random_model("car", rng) for _ in range(20)]
    assert len({c.length_m for c in cars}) == 20 and all(3.5 < c.length_m < 5.5 for c in cars)


def test_bad_models_raise() -> None:
    with pytest.raises(InputError, match="truck"):
        random_model("truck", np.random.default_rng(0))
    with pytest.raises(ConfigError, match="length_m"):
        CarModel(length_m=-1.0)
