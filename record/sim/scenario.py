"""Random scenes: road users on plausible paths through the field of view, plus static clutter.

Each road user walks, rides or drives at a constant speed drawn from its class prior, straight or with one turn
(constant yaw rate), pedestrians sometimes pausing. Objects present at the start are placed inside the field of
view (range and azimuth uniform); later arrivals (a Poisson process) head through such a point from outside the
view, so objects enter and leave the view, cross each other's paths and pass behind each other. Paths are redrawn when they come within
``min_range_m`` of the radar or collide with an earlier object (footprints closer than their half lengths).
A trajectory ends when its object leaves the roaming area (the field of view plus a margin).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from record.classes import ROD2021_CLASSES, class_id
from record.errors import ConfigError, describe
from record.sensors import CaptureConfig
from record.sim.clutter import ClutterConfig, random_static
from record.sim.kinematics import MotionState, Segment, Trajectory
from record.sim.objects import random_model
from record.sim.scene import Scene, SceneObject

__all__ = ["DEFAULT_PRIORS", "ClassPrior", "SceneConfig", "random_scene", "scene_config_for"]

_SAMPLE_STEP_S = 0.2
_MARGIN_M = 3.0
_MARGIN_RAD = math.radians(20.0)
_PATH_TRIES = 30
_LONG_S = 600.0


@dataclass(frozen=True)
class ClassPrior:
    """Distributions of one class's objects; ``(low, high)`` pairs are drawn uniformly.

    Attributes:
        rcs_dbsm: aspect-averaged RCS, dBsm.
        speed_mps: ground speed, m/s.
        turn_probability: chance that the path holds one turn.
        turn_rate_rps: magnitude of the yaw rate during a turn, rad/s.
        turn_angle_rad: magnitude of the heading change of a turn, radians.
        pause_probability: chance of one stop on the way.
        pause_s: length of a stop, seconds.
        min_range_m: closest approach to the radar, metres (paths that come nearer are redrawn).
    """

    rcs_dbsm: tuple[float, float]
    speed_mps: tuple[float, float]
    turn_probability: float = 0.4
    turn_rate_rps: tuple[float, float] = (0.2, 0.6)
    turn_angle_rad: tuple[float, float] = (math.pi / 6, math.pi / 2)
    pause_probability: float = 0.0
    pause_s: tuple[float, float] = (1.0, 4.0)
    min_range_m: float = 1.5

    def __post_init__(self) -> None:
        for name in ("rcs_dbsm", "speed_mps", "turn_rate_rps", "turn_angle_rad", "pause_s"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ConfigError(
                    describe(f"ClassPrior.{name}", "must be a finite (low, high) pair", found=(low, high))
                )
        if self.speed_mps[0] < 0 or self.turn_rate_rps[0] <= 0 or self.pause_s[0] <= 0:
            raise ConfigError(
                describe(
                    "ClassPrior",
                    "speeds must be >= 0, turn rates and pauses > 0",
                    found=(self.speed_mps, self.turn_rate_rps, self.pause_s),
                )
            )
        if not (math.isfinite(self.min_range_m) and self.min_range_m >= 0):
            raise ConfigError(describe("ClassPrior.min_range_m", "must be >= 0", found=self.min_range_m))
        for name in ("turn_probability", "pause_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(
                    describe(
                        f"ClassPrior.{name}",
                        "must be a probability",
                        found=getattr(self, name),
                        expected="[0, 1]",
                    )
                )


#: RCS priors from the literature (car ~10-20 dBsm, pedestrian ~-10..0, cyclist ~0-5) and everyday speeds.
DEFAULT_PRIORS: Mapping[str, ClassPrior] = {
    "pedestrian": ClassPrior((-10.0, 0.0), (0.6, 1.8), turn_rate_rps=(0.3, 1.0), pause_probability=0.3),
    "cyclist": ClassPrior((0.0, 5.0), (2.5, 6.5), turn_rate_rps=(0.2, 0.6), min_range_m=3.0),
    "car": ClassPrior((10.0, 20.0), (2.0, 9.0), turn_rate_rps=(0.15, 0.4), min_range_m=6.0),
}


@dataclass(frozen=True)
class SceneConfig:
    """What a random scene holds.

    Attributes:
        range_m: (near, far) range of the roaming area, metres.
        half_fov_rad: half-angle of the field of view objects cross, radians.
        class_weights: relative frequency of each class.
        priors: per-class distributions (RCS, speed, turns, pauses).
        initial_objects: number of objects in view at the start (inclusive range).
        arrival_rate_hz: mean number of new objects per second.
        radar_height_m: radar mounting height, metres.
        clutter: static clutter amounts.
    """

    range_m: tuple[float, float] = (1.5, 25.0)
    half_fov_rad: float = math.radians(60.0)
    class_weights: Mapping[str, float] = field(
        default_factory=lambda: {"pedestrian": 0.45, "cyclist": 0.2, "car": 0.35}
    )
    priors: Mapping[str, ClassPrior] = field(default_factory=lambda: dict(DEFAULT_PRIORS))
    initial_objects: tuple[int, int] = (1, 3)
    arrival_rate_hz: float = 0.15
    radar_height_m: float = 1.0
    clutter: ClutterConfig = field(default_factory=ClutterConfig)

    def __post_init__(self) -> None:
        near, far = self.range_m
        if not (0 < near < far and math.isfinite(far)):
            raise ConfigError(describe("SceneConfig.range_m", "must be 0 < near < far", found=self.range_m))
        if not 0 < self.half_fov_rad <= 0.5 * math.pi:
            raise ConfigError(
                describe(
                    "SceneConfig.half_fov_rad", "out of range", found=self.half_fov_rad, expected="(0, pi/2]"
                )
            )
        for name, weight in self.class_weights.items():
            class_id(name, ROD2021_CLASSES)
            if not (math.isfinite(weight) and weight >= 0):
                raise ConfigError(
                    describe(f"SceneConfig.class_weights[{name!r}]", "must be >= 0", found=weight)
                )
            if name not in self.priors:
                raise ConfigError(
                    describe("SceneConfig.priors", f"no prior for class {name!r}", found=sorted(self.priors))
                )
        if sum(self.class_weights.values()) <= 0:
            raise ConfigError(
                describe("SceneConfig.class_weights", "must not all be zero", found=dict(self.class_weights))
            )
        if not 0 <= self.initial_objects[0] <= self.initial_objects[1]:
            raise ConfigError(
                describe(
                    "SceneConfig.initial_objects", "must be 0 <= low <= high", found=self.initial_objects
                )
            )
        if not (math.isfinite(self.arrival_rate_hz) and self.arrival_rate_hz >= 0):
            raise ConfigError(
                describe("SceneConfig.arrival_rate_hz", "must be >= 0", found=self.arrival_rate_hz)
            )


def scene_config_for(capture: CaptureConfig, **overrides: object) -> SceneConfig:
    """Defaults matched to a capture: roaming out to 25 m (ROD2021) or 45 m (CARRADA, 50 m span)."""
    far = min(45.0, 0.9 * capture.range.span_m[1])
    return SceneConfig(**{"range_m": (1.5, far), **overrides})  # type: ignore[arg-type]


def _inside(x: np.ndarray, y: np.ndarray, config: SceneConfig) -> np.ndarray:
    """Within the roaming area: the field of view out to the far range, plus a margin."""
    r = np.hypot(x, y)
    return (r <= config.range_m[1] + _MARGIN_M) & (
        np.abs(np.arctan2(-y, x)) <= config.half_fov_rad + _MARGIN_RAD
    )


def _segments(prior: ClassPrior, speed: float, rng: np.random.Generator) -> list[Segment]:
    """Straight, optional pause, optional turn, then straight for a long time (cut where the object leaves)."""
    segments = [Segment(float(rng.uniform(1.0, 6.0)), speed)]
    if rng.uniform() < prior.pause_probability:
        segments += [
            Segment(float(rng.uniform(*prior.pause_s)), 0.0),
            Segment(float(rng.uniform(0.5, 3.0)), speed),
        ]
    if rng.uniform() < prior.turn_probability:
        rate = float(rng.uniform(*prior.turn_rate_rps)) * float(rng.choice([-1.0, 1.0]))
        segments.append(Segment(float(rng.uniform(*prior.turn_angle_rad)) / abs(rate), speed, rate))
    segments.append(Segment(_LONG_S, speed))
    return segments


def _until_exit(trajectory: Trajectory, config: SceneConfig, horizon_s: float) -> Trajectory | None:
    """The trajectory cut where it leaves the roaming area after having been in view (None if never in view)."""
    times = np.arange(trajectory.start_time_s, min(trajectory.end_time_s, horizon_s), _SAMPLE_STEP_S)
    state = trajectory.state(times)
    inside = _inside(state.x_m, state.y_m, config)
    in_view = (np.hypot(state.x_m, state.y_m) <= config.range_m[1]) & (
        np.abs(np.arctan2(-state.y_m, state.x_m)) <= config.half_fov_rad
    )
    if not in_view.any():
        return None
    first_in = int(np.argmax(in_view))
    outside_after = np.flatnonzero(~inside[first_in:])
    end_s = times[first_in + outside_after[0]] if outside_after.size else times[-1] + _SAMPLE_STEP_S
    keep, elapsed = [], trajectory.start_time_s
    for segment in trajectory.segments:
        remaining = end_s - elapsed
        if remaining <= 0:
            break
        keep.append(Segment(min(segment.duration_s, remaining), segment.speed_mps, segment.yaw_rate_rps))
        elapsed += segment.duration_s
    return Trajectory(
        trajectory.start_time_s, trajectory.x_m, trajectory.y_m, trajectory.heading_rad, tuple(keep)
    )


def _start_pose(config: SceneConfig, arriving: bool, rng: np.random.Generator) -> tuple[float, float, float]:
    """(x, y, heading): inside the view for initial objects; outside it, heading through it, for arrivals."""
    near, far = config.range_m
    r = rng.uniform(near, far)
    azimuth = rng.uniform(-config.half_fov_rad, config.half_fov_rad)
    x, y = r * math.cos(azimuth), -r * math.sin(azimuth)
    heading = rng.uniform(-math.pi, math.pi)
    if not arriving:
        return x, y, heading
    # walk back from the in-view point until outside the roaming area
    back = np.arange(0.0, 2.0 * far + 4.0 * _MARGIN_M, 0.5)
    bx, by = x - back * math.cos(heading), y - back * math.sin(heading)
    outside = np.flatnonzero(~_inside(bx, by, config))
    step = back[outside[0]] if outside.size else back[-1]
    return x - step * math.cos(heading), y - step * math.sin(heading), heading


def _sampled(trajectory: Trajectory) -> tuple[np.ndarray, MotionState]:
    """Sample instants over the trajectory's life and its states there."""
    times = np.arange(trajectory.start_time_s, trajectory.end_time_s, _SAMPLE_STEP_S)
    return times, trajectory.state(times)


def _collides(candidate: SceneObject, others: list[SceneObject], min_range_m: float) -> bool:
    """Too close to the radar, or overlapping an earlier object at a common instant."""
    times, state = _sampled(candidate.trajectory)
    if np.min(np.hypot(state.x_m, state.y_m)) < min_range_m:
        return True
    for other in others:
        other_state = other.trajectory.state(times)
        gap = np.hypot(state.x_m - other_state.x_m, state.y_m - other_state.y_m)
        clearance = 0.5 * (candidate.model.length_m + other.model.length_m)
        if np.any(other_state.active & (gap < clearance)):
            return True
    return False


def _random_object(
    track_id: int,
    start_s: float,
    arriving: bool,
    others: list[SceneObject],
    config: SceneConfig,
    horizon_s: float,
    rng: np.random.Generator,
) -> SceneObject | None:
    names = list(config.class_weights)
    weights = np.array([config.class_weights[n] for n in names], dtype=np.float64)
    class_name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    prior = config.priors[class_name]
    for _ in range(_PATH_TRIES):
        model = random_model(class_name, rng)
        x, y, heading = _start_pose(config, arriving, rng)
        speed = float(rng.uniform(*prior.speed_mps))
        trajectory = _until_exit(
            Trajectory(start_s, x, y, heading, tuple(_segments(prior, speed, rng))), config, horizon_s
        )
        if trajectory is None:
            continue
        candidate = SceneObject(
            track_id,
            model,
            trajectory,
            float(rng.uniform(*prior.rcs_dbsm)),
            rng.uniform(0.0, 2.0 * np.pi, model.n_scatterers),
        )
        if not _collides(candidate, others, max(prior.min_range_m, config.range_m[0])):
            return candidate
    return None


def random_scene(config: SceneConfig, duration_s: float, rng: np.random.Generator) -> Scene:
    """A random scene lasting ``duration_s`` seconds (objects may outlive it).

    Track ids count from 0 in order of appearance.
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError(describe("random_scene", "duration_s must be positive", found=duration_s))
    starts = [(-1.0, False)] * int(rng.integers(config.initial_objects[0], config.initial_objects[1] + 1))
    t = float(rng.exponential(1.0 / config.arrival_rate_hz)) if config.arrival_rate_hz > 0 else math.inf
    while t < duration_s:
        starts.append((t, True))
        t += float(rng.exponential(1.0 / config.arrival_rate_hz))
    objects: list[SceneObject] = []
    horizon_s = duration_s + _LONG_S
    for start_s, arriving in starts:
        obj = _random_object(len(objects), start_s, arriving, objects, config, horizon_s, rng)
        if obj is not None:
            objects.append(obj)
    paths = [
        np.column_stack([state.x_m, state.y_m]) for _, state in (_sampled(o.trajectory) for o in objects)
    ]
    static = random_static(
        config.clutter,
        (max(config.range_m[0], 1.0), config.range_m[1] + _MARGIN_M),
        config.half_fov_rad,
        np.concatenate(paths) if paths else np.zeros((0, 2)),
        rng,
    )
    return Scene(tuple(objects), static, config.radar_height_m)
