"""Simulated ADC frames for the signal-chain tests (beat-signal model of record.sim.signal)."""

from __future__ import annotations

import numpy as np

from record.sensors import CaptureConfig
from record.sim.signal import Scatterers, beat_signal


def point_target(
    capture: CaptureConfig,
    range_m: float,
    range_rate_mps: float,
    azimuth_rad: float,
    *,
    loops: list[int] | None = None,
) -> np.ndarray:
    """One noise-free frame ``[1, loops, tx, rx, samples]`` holding a single scatterer of amplitude 100."""
    target = Scatterers(*(np.array([value]) for value in (range_m, range_rate_mps, azimuth_rad, 100.0)))
    return beat_signal(capture.waveform, target, loops=loops)[None]


def noisy_scene(
    capture: CaptureConfig, rng: np.random.Generator, n_frames: int, *, noise_std: float = 4.0
) -> np.ndarray:
    """``n_frames`` frames of 6 random scatterers (ranges inside the map, |range rate| < v_max) plus noise.

    With the default noise the CARRADA RD peak sits about 76 dB above the median cell (real CARRADA maps span
    about 60 dB). float32 rounding limits the agreement of log maps near the floor: 85 dB below the peak the
    chain (and a complex64 NumPy chain alike) differs from complex128 by up to 8e-4 dB.
    """
    waveform = capture.waveform
    lo, hi = capture.range.span_m
    frames = []
    for _ in range(n_frames):
        n = 6
        scatterers = Scatterers(
            range_m=rng.uniform(lo + 1.0, hi - 1.0, n),
            range_rate_mps=rng.uniform(-0.9, 0.9, n) * waveform.max_range_rate_mps,
            azimuth_rad=rng.uniform(-1.2, 1.2, n),
            amplitude=rng.uniform(20.0, 500.0, n) * np.exp(2j * np.pi * rng.uniform(size=n)),
        )
        clean = beat_signal(waveform, scatterers)
        frames.append(clean + complex_noise(rng, clean.shape, noise_std))
    return np.stack(frames)


def complex_noise(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1000.0) -> np.ndarray:
    """Circular complex Gaussian samples, complex64; ``scale`` is the std of each of I and Q."""
    return (scale * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))).astype(np.complex64)
