"""Simulated frames through the signal chain: energy sits on the ground truth, micro-Doppler spreads the Doppler
of limbs and wheels, and the map values land in the published ranges (calibration)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.sensors import CARRADA, ROD2021
from record.sim.kinematics import Segment, Trajectory
from record.sim.objects import CyclistModel, PedestrianModel
from record.sim.scenario import random_scene, scene_config_for
from record.sim.scene import Scene, SceneObject, StaticScatterers
from record.sim.simulator import SimulationConfig, Simulator, simulate_sequence

chain = pytest.importorskip("record.dsp.chain", reason="record.dsp.chain not available")

STEADY = SimulationConfig(fluctuation="none")

#: published 'tvt' statistics of the CARRADA processed views (MVRSS *_stats_all.json): mean, std, min, max
CARRADA_STATS = {
    "rd": (58.47, 3.75, 37.60, 119.08),
    "ra": (56.00, 5.76, 40.41, 103.81),
    "ad": (59.62, 4.21, 54.43, 105.80),
}
#: std of the real / imaginary parts of ROD2021 complex maps (RECORD's CRUW config)
ROD2021_STD = 0.066


def _walker(x: float, y: float, heading: float, speed: float, model=None, rcs: float = -5.0) -> SceneObject:
    model = model or PedestrianModel(gait_phase_rad=0.3)
    trajectory = Trajectory(-1.0, x, y, heading, (Segment(60.0, speed),))
    return SceneObject(
        0, model, trajectory, rcs, np.random.default_rng(1).uniform(0, 2 * np.pi, model.n_scatterers)
    )


def _polar(r: float, azimuth_deg: float) -> tuple[float, float]:
    a = math.radians(azimuth_deg)
    return r * math.cos(a), -r * math.sin(a)


def _bins(view, *values: np.ndarray) -> list[np.ndarray]:
    return [axis.to_index(v) for axis, v in zip(view.axes, values)]


def _assert_peak_on_points(power: np.ndarray, bins: list[np.ndarray], margin: int) -> None:
    """The map's strongest cell lies inside the box spanned by the object's points' bins, widened by ``margin``."""
    peak = np.unravel_index(np.argmax(power), power.shape)
    for axis, (index, values) in enumerate(zip(peak, bins)):
        assert values.min() - margin <= index <= values.max() + margin, (
            axis,
            index,
            values.min(),
            values.max(),
        )


CARRADA_CASES = [
    # (class, range m, azimuth deg, heading rad, speed m/s): receding right, approaching left, crossing
    ("pedestrian", 8.0, 25.0, None, 1.5),
    ("cyclist", 15.0, -20.0, "approach", 4.0),
    ("car", 20.0, 10.0, 0.5 * math.pi, 5.0),
]


@pytest.mark.parametrize(("class_name", "r", "azimuth", "heading", "speed"), CARRADA_CASES)
def test_carrada_energy_peaks_on_the_ground_truth(road_user, class_name, r, azimuth, heading, speed) -> None:
    x, y = _polar(r, azimuth)
    outward = math.atan2(y, x)
    heading = {None: outward, "approach": outward + math.pi}.get(heading, heading)
    obj = road_user(0, class_name, x, y, heading, speed)
    frame = Simulator(
        CARRADA, Scene((obj,), StaticScatterers.empty()), STEADY, rng=np.random.default_rng(0)
    ).frame(3)
    truth = frame.truth.objects[0]
    assert truth.visible
    views = chain.CarradaChain()(frame.adc)
    pts = truth.points
    _assert_peak_on_points(views.rd_raw[0], _bins(CARRADA.view("rd"), pts.range_m, pts.range_rate_mps), 2)
    _assert_peak_on_points(views.ra_raw[0], _bins(CARRADA.view("ra"), pts.range_m, pts.azimuth_rad), 2)
    _assert_peak_on_points(views.ad_raw[0], _bins(CARRADA.view("ad"), pts.azimuth_rad, pts.range_rate_mps), 2)
    # and the object's centre is near its reflection centres
    rd_range, rd_velocity = CARRADA.view("rd").axes
    peak_range, peak_doppler = np.unravel_index(np.argmax(views.rd_raw[0]), views.rd_raw[0].shape)
    half_length_bins = 0.5 * truth.length_m / CARRADA.range.resolution_m + 3
    assert abs(peak_range - rd_range.to_index(truth.range_m)) <= half_length_bins
    assert abs(peak_doppler - rd_velocity.to_index(truth.range_rate_mps)) <= 2


@pytest.mark.parametrize(("r", "azimuth"), [(6.0, -30.0), (14.0, 20.0)])
def test_rod2021_energy_peaks_on_the_ground_truth(r, azimuth) -> None:
    x, y = _polar(r, azimuth)
    scene = Scene((_walker(x, y, 0.7, 0.8),), StaticScatterers.empty())
    frame = Simulator(ROD2021, scene, STEADY, rng=np.random.default_rng(0)).frame(10)
    maps = chain.Rod2021Chain()(frame.adc)[0]  # [4, 128, 128, 2]
    power = np.sum(maps[..., 0] ** 2 + maps[..., 1] ** 2, axis=0)
    pts = frame.truth.objects[0].points
    _assert_peak_on_points(power, _bins(ROD2021.view("ra"), pts.range_m, pts.azimuth_rad), 2)


def _doppler_bandwidth(model, speed: float) -> float:
    """Doppler bins within 25 dB of the peak of the object's RD Doppler profile (summed over range), mean of frames."""
    x, y = _polar(10.0, 0.0)
    scene = Scene((_walker(x, y, 0.8, speed, model=model, rcs=0.0),), StaticScatterers.empty())  # wheels show
    config = SimulationConfig(fluctuation="none", noise=False)
    frames = Simulator(CARRADA, scene, config, rng=np.random.default_rng(0)).frames(6)
    widths = []
    for frame in frames:
        profile = chain.CarradaChain()(frame.adc).rd_raw[0].sum(axis=0)
        widths.append(np.count_nonzero(profile > profile.max() * 10 ** (-25 / 10)))
    return float(np.mean(widths))


class _RigidPedestrian(PedestrianModel):
    def local_positions(self, odometer_m: float) -> np.ndarray:
        return super().local_positions(0.0)


class _RigidCyclist(CyclistModel):
    def local_positions(self, odometer_m: float) -> np.ndarray:
        return super().local_positions(0.0)


@pytest.mark.parametrize(
    ("moving", "rigid", "speed"),
    [(PedestrianModel(), _RigidPedestrian(), 1.5), (CyclistModel(), _RigidCyclist(), 5.0)],
)
def test_micro_doppler_spreads_the_doppler_of_limbs_and_wheels(moving, rigid, speed) -> None:
    assert _doppler_bandwidth(moving, speed) > 1.5 * _doppler_bandwidth(rigid, speed)


def _carrada_statistics(seeds: range) -> dict[str, np.ndarray]:
    stats = {name: [] for name in CARRADA_STATS}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scene = random_scene(scene_config_for(CARRADA), 10.0, rng)
        views = chain.CarradaChain()(simulate_sequence(CARRADA, scene, 1, rng=rng).adc)
        for name in CARRADA_STATS:
            values = getattr(views, f"{name}_processed")
            stats[name].append([values.mean(), values.std(), values.min(), values.max()])
    return {name: np.median(np.array(rows), axis=0) for name, rows in stats.items()}


def _rod2021_std(seeds: range) -> float:
    stds = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        scene = random_scene(scene_config_for(ROD2021), 10.0, rng)
        maps = chain.Rod2021Chain()(simulate_sequence(ROD2021, scene, 1, rng=rng).adc)
        stds.append(maps.std(axis=(0, 1, 2, 3)))
    return float(np.median(stds))


def test_carrada_views_land_in_the_published_value_ranges() -> None:
    measured = _carrada_statistics(range(2))
    for name, (mean, std, low, high) in CARRADA_STATS.items():
        m_mean, m_std, m_min, m_max = measured[name]
        assert abs(m_mean - mean) < 2.0, (name, m_mean)
        assert 0.5 * std < m_std < 2.0 * std, (name, m_std)
        assert low - 6.0 < m_min and m_max < high + 3.0, (name, m_min, m_max)


def test_rod2021_map_values_have_the_published_scale() -> None:
    assert 0.5 * ROD2021_STD < _rod2021_std(range(3)) < 2.0 * ROD2021_STD


@pytest.mark.slow
def test_calibration_over_many_scenes() -> None:
    measured = _carrada_statistics(range(100, 140))
    for name, (mean, std, _, _) in CARRADA_STATS.items():
        assert abs(measured[name][0] - mean) < 1.0, (name, measured[name])
        assert abs(measured[name][1] - std) < 1.5, (name, measured[name])
    assert abs(_rod2021_std(range(100, 148)) - ROD2021_STD) < 0.025
