"""The Numba chain equals the plain-NumPy reference (complex128) on random cubes and simulated scenes.

Tolerances (brief): linear power maps within 1e-4 of each map's peak; dB maps within 1e-3 dB.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from record.dsp.chain import CarradaChain, Rod2021Chain
from record.dsp.config import ChainConfig
from record.dsp.reference import carrada_views_reference, rod2021_maps_reference
from record.errors import ConfigError
from record.sensors import CARRADA, ROD2021

from .scenes import complex_noise, noisy_scene

LINEAR = ("rd_raw", "ra_raw", "ad_raw", "ra_numpy", "rad")
LOG = ("rd_processed", "ra_processed", "ad_processed")

CARRADA_CONFIGS = [
    ChainConfig(),
    ChainConfig(
        static_clutter_removal=True, tdm_compensation=False, doppler_window="hamming", angle_window="taylor"
    ),
    ChainConfig(range_window="blackman", doppler_window="none"),
]
ROD_KEPT_LOOP_CONFIGS = [
    ChainConfig(tdm_compensation=False),
    ChainConfig(tdm_compensation=False, range_window="hamming", angle_window="taylor"),
]
ROD_ALL_LOOP_CONFIGS = [
    ChainConfig(tdm_compensation=True),
    ChainConfig(static_clutter_removal=True, tdm_compensation=True),
]


def _assert_views_match(chain_views, reference_views) -> None:
    for name in LINEAR:
        ours, reference = getattr(chain_views, name), getattr(reference_views, name)
        assert ours.dtype == np.float32 and ours.shape == reference.shape, name
        for frame in range(ours.shape[0]):
            error = np.abs(ours[frame] - reference[frame]).max()
            assert error <= 1e-4 * reference[frame].max(), f"{name} frame {frame}: {error}"
    for name in LOG:
        ours, reference = getattr(chain_views, name), getattr(reference_views, name)
        assert np.abs(ours - reference).max() <= 1e-3, name


@pytest.mark.parametrize("config", CARRADA_CONFIGS)
def test_carrada_chain_matches_reference_on_random_cubes(config) -> None:
    frames = complex_noise(np.random.default_rng(10), (2, 64, 2, 4, 256))
    _assert_views_match(
        CarradaChain(config)(frames, with_rad=True), carrada_views_reference(frames, config, with_rad=True)
    )


@pytest.mark.parametrize("config", CARRADA_CONFIGS[:2])
def test_carrada_chain_matches_reference_on_simulated_scenes(config) -> None:
    frames = noisy_scene(CARRADA, np.random.default_rng(11), 2)
    _assert_views_match(
        CarradaChain(config)(frames, with_rad=True), carrada_views_reference(frames, config, with_rad=True)
    )


def test_zero_padded_doppler_matches_reference() -> None:
    """A capture with fewer loops (32) than Doppler bins (64): both chains zero-pad the Doppler transform."""
    capture = dataclasses.replace(CARRADA, waveform=dataclasses.replace(CARRADA.waveform, n_loops=32))
    frames = complex_noise(np.random.default_rng(15), (1, 32, 2, 4, 256))
    _assert_views_match(
        CarradaChain(capture=capture)(frames, with_rad=True),
        carrada_views_reference(frames, with_rad=True, capture=capture),
    )


def test_single_precision_reference_is_close_to_double() -> None:
    frames = noisy_scene(CARRADA, np.random.default_rng(12), 1)
    _assert_views_match(
        carrada_views_reference(frames, precision="single", with_rad=True),
        carrada_views_reference(frames, with_rad=True),
    )


def _assert_maps_match(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    for frame in range(ours.shape[0]):
        error = np.abs(ours[frame] - reference[frame]).max()
        assert error <= 1e-4 * np.abs(reference[frame]).max()


@pytest.mark.parametrize("config", ROD_KEPT_LOOP_CONFIGS)
def test_rod2021_chain_matches_reference_on_kept_loops(config) -> None:
    frames = complex_noise(np.random.default_rng(13), (3, 4, 2, 4, 128))
    _assert_maps_match(Rod2021Chain(config)(frames), rod2021_maps_reference(frames, config))


@pytest.mark.parametrize("config", ROD_ALL_LOOP_CONFIGS)
def test_rod2021_chain_matches_reference_on_simulated_scenes(config) -> None:
    frames = noisy_scene(ROD2021, np.random.default_rng(14), 2)
    _assert_maps_match(Rod2021Chain(config)(frames), rod2021_maps_reference(frames, config))


def test_reference_rejects_unknown_precision() -> None:
    with pytest.raises(ConfigError, match="precision"):
        carrada_views_reference(np.zeros((64, 2, 4, 256), np.complex64), precision="half")
