"""The streaming simulator: determinism, ground truth of designed scenes, loops, noise, fluctuation, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from record.errors import ConfigError, InputError
from record.sensors import CARRADA, ROD2021
from record.sim.kinematics import Segment, Trajectory
from record.sim.objects import CarModel
from record.sim.scenario import random_scene, scene_config_for
from record.sim.scene import Scene, SceneObject, StaticScatterers
from record.sim.simulator import SimulationConfig, Simulator, simulate_sequence

QUIET = SimulationConfig(noise=False, fluctuation="none")


def _frame_at(time_s: float, capture=ROD2021) -> int:
    return round(time_s / capture.waveform.frame_period_s)


def _truth_by_id(frame) -> dict:
    return {o.track_id: o for o in frame.truth.objects}


def test_same_seed_same_frames_and_random_access() -> None:
    def run(seed: int):
        rng = np.random.default_rng(seed)
        scene = random_scene(scene_config_for(ROD2021), 5.0, rng)
        return Simulator(ROD2021, scene, rng=rng)

    first, second, other = run(7), run(7), run(8)
    streamed = list(first.frames(4))
    direct = second.frame(3)
    np.testing.assert_array_equal(streamed[3].adc, direct.adc)
    assert streamed[3].truth == direct.truth
    assert not np.array_equal(streamed[3].adc, other.frame(3).adc)
    assert streamed[0].adc.dtype == np.complex64 and streamed[0].adc.shape == (4, 2, 4, 128)


def test_random_scene_is_deterministic_and_objects_cross_the_view() -> None:
    config = scene_config_for(ROD2021)
    scenes = [random_scene(config, 60.0, np.random.default_rng(3)) for _ in range(2)]
    assert [(o.track_id, o.trajectory, o.rcs_dbsm) for o in scenes[0].objects] == [
        (o.track_id, o.trajectory, o.rcs_dbsm) for o in scenes[1].objects
    ]
    np.testing.assert_array_equal(scenes[0].static.position_m, scenes[1].static.position_m)
    arrivals = [o for o in scenes[0].objects if o.trajectory.start_time_s >= 0]
    assert arrivals, "60 s at 0.15 arrivals/s should bring new objects"
    for obj in arrivals:  # arrivals start outside the view, pass through it and leave it
        times = np.linspace(obj.trajectory.start_time_s, obj.trajectory.end_time_s, 400)
        state = obj.trajectory.state(times)
        r, azimuth = np.hypot(state.x_m, state.y_m), np.abs(np.arctan2(-state.y_m, state.x_m))
        in_view = (r <= config.range_m[1]) & (azimuth <= config.half_fov_rad)
        assert not in_view[0] and in_view.any() and not in_view[-1]
        assert r.min() >= config.priors[obj.class_name].min_range_m - 0.5


def test_object_enters_and_leaves_the_field_of_view(road_user, bare_scene) -> None:
    # walks from the radar's left (az -63 deg) to its right (+63 deg) at 10 m, appearing at t = 1 s
    walker = road_user(0, "pedestrian", 10.0, 20.0, -0.5 * math.pi, 1.5, duration=26.0, start=1.0)
    simulator = Simulator(ROD2021, bare_scene(walker), QUIET, rng=np.random.default_rng(0))
    assert simulator.frame(_frame_at(0.5)).truth.objects == ()
    outside, inside, gone = (simulator.frame(_frame_at(t)).truth for t in (2.0, 14.0, 27.5))
    assert outside.objects[0].in_fov is False and outside.objects[0].visible is False
    assert outside.objects[0].azimuth_rad < -math.radians(60.0)
    assert inside.objects[0].in_fov and inside.objects[0].visible
    assert inside.objects[0].x_m == pytest.approx(10.0) and inside.objects[0].range_rate_mps == pytest.approx(
        (inside.objects[0].y_m * -1.5) / inside.objects[0].range_m
    )
    assert gone.objects == ()


def test_walker_behind_a_parked_car_is_occluded_then_reappears(road_user, bare_scene) -> None:
    model = CarModel(length_m=4.5, width_m=1.8, height_m=1.6)
    car = SceneObject(
        1,
        model,
        Trajectory(-1.0, 10.0, 0.0, 0.5 * math.pi, (Segment(60.0, 0.0),)),
        15.0,
        np.zeros(model.n_scatterers),
    )
    walker = road_user(
        0, "pedestrian", 16.0, 6.0, -0.5 * math.pi, 1.2, duration=12.0
    )  # y: +6 -> -6 at t = 9 s
    simulator = Simulator(ROD2021, bare_scene(walker, car), QUIET, rng=np.random.default_rng(0))
    before, behind, after = (_truth_by_id(simulator.frame(_frame_at(t)))[0] for t in (0.0, 4.0, 9.0))
    assert before.visible and before.visible_fraction == pytest.approx(1.0) and len(before.points) == 9
    assert behind.visible_fraction < 0.1 and not behind.visible and behind.in_fov and len(behind.points) <= 1
    assert after.visible and after.visible_fraction == pytest.approx(1.0)
    shadow_free = Simulator(
        ROD2021,
        bare_scene(walker, car),
        dataclasses.replace(QUIET, occlusion=False),
        rng=np.random.default_rng(0),
    )
    assert _truth_by_id(shadow_free.frame(_frame_at(4.0)))[0].visible_fraction == 1.0
    # the shadowed walker loses occlusion_loss_db of its mean power
    hidden_snr = behind.snr_db
    open_snr = _truth_by_id(shadow_free.frame(_frame_at(4.0)))[0].snr_db
    assert open_snr - hidden_snr > 20.0


def test_two_walkers_cross_and_keep_their_ids(road_user, bare_scene) -> None:
    near = road_user(0, "pedestrian", 10.0, 5.0, -0.5 * math.pi, 1.0, duration=20.0)  # left to right
    far = road_user(1, "pedestrian", 14.0, -5.0, 0.5 * math.pi, 1.0, duration=20.0)  # right to left
    simulator = Simulator(ROD2021, bare_scene(near, far), QUIET, rng=np.random.default_rng(0))
    start, end = (_truth_by_id(simulator.frame(_frame_at(t))) for t in (0.0, 9.0))
    assert start[0].azimuth_rad < start[1].azimuth_rad and end[0].azimuth_rad > end[1].azimuth_rad
    assert start[0].class_name == end[0].class_name == "pedestrian"


def test_rod2021_kept_loops_or_all_loops(road_user, bare_scene) -> None:
    car = road_user(0, "car", 12.0, 3.0, math.pi, 4.0)  # driving towards the radar, straight
    scene = bare_scene(car)
    kept = Simulator(ROD2021, scene, QUIET, rng=np.random.default_rng(0)).frame(2)
    full = Simulator(
        ROD2021, scene, dataclasses.replace(QUIET, all_loops=True), rng=np.random.default_rng(0)
    ).frame(2)
    assert kept.loops == ROD2021.chirp_ids and kept.adc.shape == (4, 2, 4, 128)
    assert full.loops == tuple(range(255)) and full.adc.shape == (255, 2, 4, 128)
    rows = full.adc[list(ROD2021.chirp_ids)]
    assert np.linalg.norm(rows - kept.adc) < 0.05 * np.linalg.norm(kept.adc)


def test_noise_is_white_per_sample_and_independent_across_tdm_slots() -> None:
    empty = Scene((), StaticScatterers.empty())
    simulator = Simulator(CARRADA, empty, rng=np.random.default_rng(0))
    adc = np.stack([f.adc for f in simulator.frames(2)])
    response = simulator.radar.if_response(CARRADA.waveform)
    expected_power = simulator.radar.noise_std**2 * np.mean(response**2)
    assert np.mean(np.abs(adc) ** 2) == pytest.approx(expected_power, rel=0.03)
    spectrum = np.fft.fft(adc, axis=-1)  # noise floor shaped by the IF filter along range
    profile = np.mean(np.abs(spectrum) ** 2, axis=(0, 1, 2, 3))
    assert profile[128] / profile[-1] > 5.0 and profile[128] / profile[1] > 3.0
    slot0, slot1 = adc[:, :, 0].ravel(), adc[:, :, 1].ravel()
    assert abs(np.vdot(slot0, slot1)) / np.linalg.norm(slot0) / np.linalg.norm(slot1) < 0.02
    silent = Simulator(CARRADA, empty, SimulationConfig(noise=False), rng=np.random.default_rng(0)).frame(0)
    assert not np.any(silent.adc)


def test_fluctuation_changes_the_return_from_frame_to_frame(road_user, bare_scene) -> None:
    standing = road_user(0, "car", 10.0, 0.0, 0.3, 0.0)
    energies = {}
    for model in ("none", "swerling1"):
        config = SimulationConfig(noise=False, fluctuation=model)
        frames = Simulator(ROD2021, bare_scene(standing), config, rng=np.random.default_rng(0)).frames(20)
        energies[model] = np.array([np.sum(np.abs(f.adc) ** 2) for f in frames])
    assert np.ptp(energies["none"]) < 1e-4 * energies["none"].mean()
    assert np.std(energies["swerling1"]) > 0.2 * np.mean(energies["swerling1"])


@pytest.mark.parametrize("impairment", [{"leakage_db": 40.0}, {"dc_offset_db": 10.0}])
def test_leakage_and_dc_offset_sit_at_zero_doppler_and_near_range(impairment: dict) -> None:
    empty = Scene((), StaticScatterers.empty())
    simulator = Simulator(
        CARRADA, empty, SimulationConfig(noise=False, **impairment), rng=np.random.default_rng(0)
    )
    adc = simulator.frame(0).adc
    np.testing.assert_allclose(adc, adc[:1].repeat(len(adc), axis=0), rtol=1e-5, atol=1e-6)  # same every loop
    profile = np.mean(np.abs(np.fft.fft(adc * np.hanning(adc.shape[-1]), axis=-1)) ** 2, axis=(0, 1, 2))
    assert np.roll(profile, 3)[:7].sum() > 0.99 * profile.sum()  # within 3 bins of zero range
    assert np.mean(np.abs(adc) ** 2) > 3.0 * simulator.radar.noise_std**2


def test_ground_truth_is_self_consistent(road_user, bare_scene) -> None:
    cyclist = road_user(0, "cyclist", 8.0, -4.0, 2.5, 5.0)
    truth = Simulator(CARRADA, bare_scene(cyclist), QUIET, rng=np.random.default_rng(0)).frame(5).truth
    obj = truth.objects[0]
    assert obj.range_m == pytest.approx(math.hypot(obj.x_m, obj.y_m))
    assert obj.azimuth_rad == pytest.approx(math.atan2(-obj.y_m, obj.x_m))
    assert obj.range_rate_mps == pytest.approx((obj.x_m * obj.vx_mps + obj.y_m * obj.vy_mps) / obj.range_m)
    assert math.hypot(obj.vx_mps, obj.vy_mps) == pytest.approx(5.0)
    assert truth.time_s == pytest.approx(5 * 0.1 + 0.5 * 64 * 2 * CARRADA.waveform.chirp_period_s)
    r, azimuth, rate = obj.points.centroid()
    assert (
        abs(r - obj.range_m) < 1.0
        and abs(azimuth - obj.azimuth_rad) < 0.1
        and abs(rate - obj.range_rate_mps) < 2.0
    )
    spread = np.ptp(obj.points.range_rate_mps)
    assert spread > 3.0  # rolling wheels: 0..2v over ground
    table = truth.to_object_table()
    assert table.class_id.tolist() == [1] and table.range_m[0] == pytest.approx(obj.range_m)


def test_bad_configuration_and_input_raise() -> None:
    empty = Scene((), StaticScatterers.empty())
    with pytest.raises(ConfigError, match="fluctuation"):
        SimulationConfig(fluctuation="swerling9")
    with pytest.raises(ConfigError, match="occlusion_loss_db"):
        SimulationConfig(occlusion_loss_db=-3.0)
    with pytest.raises(InputError, match="index"):
        Simulator(ROD2021, empty, rng=np.random.default_rng(0)).frame(-1)
    with pytest.raises(InputError, match="n_frames"):
        simulate_sequence(ROD2021, empty, 0, rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="truck"):
        scene_config_for(ROD2021, class_weights={"truck": 1.0})
    with pytest.raises(ConfigError, match="range_m"):
        scene_config_for(ROD2021, range_m=(5.0, -1.0))
