"""Whole-object fading: the gain process's statistics, and the simulator applying it to whole objects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from record.errors import ConfigError
from record.sensors import ROD2021
from record.sim.fading import ObjectFading
from record.sim.simulator import SimulationConfig, Simulator

FRAME_S = ROD2021.waveform.frame_period_s


def _gains(fading: ObjectFading, objects: int = 200, duration_s: float = 20.0) -> np.ndarray:
    """``[objects, frames]`` complex gains of independent realisations sampled every frame."""
    rng = np.random.default_rng(0)
    times = np.arange(0.0, duration_s, FRAME_S)
    return np.stack([fading.draw(rng).gain(times) for _ in range(objects)])


def test_rayleigh_fading_keeps_the_mean_power_and_fades_deeply() -> None:
    power = np.abs(_gains(ObjectFading(correlation_s=0.25))) ** 2
    assert power.mean() == pytest.approx(1.0, rel=0.05)
    # exponential power: P(power < 0.1) = 1 - exp(-0.1) = 9.5 %
    assert np.mean(power < 0.1) == pytest.approx(1.0 - np.exp(-0.1), abs=0.02)


def test_correlation_time_sets_how_long_fades_last() -> None:
    tau = 0.25
    gains = _gains(ObjectFading(correlation_s=tau))
    lag = round(tau / FRAME_S)
    correlation = np.mean(gains[:, lag:] * np.conj(gains[:, :-lag])) / np.mean(np.abs(gains) ** 2)
    expected = np.exp(-((lag * FRAME_S) ** 2) / (2 * tau**2))
    assert abs(correlation) == pytest.approx(expected, abs=0.05)
    next_frame = np.mean(gains[:, 1:] * np.conj(gains[:, :-1])) / np.mean(np.abs(gains) ** 2)
    assert abs(next_frame) > 0.98  # consecutive frames share their fade


def test_rician_steady_part_makes_fading_shallow() -> None:
    deep = np.abs(_gains(ObjectFading(rician_k=0.0), objects=50)) ** 2
    shallow = np.abs(_gains(ObjectFading(rician_k=10.0), objects=50)) ** 2
    assert shallow.mean() == pytest.approx(1.0, rel=0.05)
    assert np.mean(shallow < 0.1) < 0.01 < np.mean(deep < 0.1)


def test_bad_fading_settings_raise() -> None:
    for field, value in (("correlation_s", 0.0), ("rician_k", -1.0), ("components", 0)):
        with pytest.raises(ConfigError, match=field):
            dataclasses.replace(ObjectFading(), **{field: value})


def test_simulator_fades_each_object_as_a_whole(road_user, bare_scene) -> None:
    standing = road_user(0, "car", 10.0, 0.0, 0.3, 0.0)
    quiet = SimulationConfig(noise=False, fluctuation="none")
    fading = dataclasses.replace(quiet, object_fading=ObjectFading(correlation_s=0.25))
    steady = Simulator(ROD2021, bare_scene(standing), quiet, rng=np.random.default_rng(0))
    faded = Simulator(ROD2021, bare_scene(standing), fading, rng=np.random.default_rng(0))
    frames = list(faded.frames(60))
    reference = np.sum(np.abs(steady.frame(0).adc) ** 2)
    energy_db = np.array([10 * np.log10(np.sum(np.abs(f.adc) ** 2) / reference) for f in frames])
    fading_db = np.array([f.truth.objects[0].fading_db for f in frames])
    np.testing.assert_allclose(energy_db, fading_db, atol=1e-3)  # one gain for every scatterer
    assert np.ptp(fading_db) > 6.0  # 2 s of a 0.25 s process: several dB of swing
    assert np.max(np.abs(np.diff(fading_db))) < 0.5 * np.ptp(fading_db)  # smooth from frame to frame
    np.testing.assert_array_equal(frames[37].adc, Simulator(
        ROD2021, bare_scene(standing), fading, rng=np.random.default_rng(0)).frame(37).adc)
    assert steady.frame(0).truth.objects[0].fading_db == 0.0
