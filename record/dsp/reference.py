"""Plain-NumPy reference of the signal chain: zero-padded ``np.fft`` transforms and ``fftshift``, per frame.

Kept as the ground truth for the Numba chain's tests and as the benchmark's baseline. ``precision="double"``
computes in complex128 (the test oracle); ``"single"`` in complex64 (what a NumPy user would write for speed).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from record.dsp.config import CARRADA_DEFAULT, ROD2021_DEFAULT, ChainConfig
from record.dsp.inputs import adc_frames
from record.dsp.operators import kept_loops, steering_matrix, tdm_phase
from record.dsp.views import CarradaViews
from record.dsp.windows import window
from record.errors import ConfigError, describe
from record.sensors import CARRADA, ROD2021, CaptureConfig

__all__ = ["carrada_views_reference", "rod2021_maps_reference"]

Precision = Literal["single", "double"]
_COMPLEX = {"single": np.complex64, "double": np.complex128}


def _complex_dtype(precision: Precision) -> type:
    if precision not in _COMPLEX:
        expected = " | ".join(_COMPLEX)
        raise ConfigError(describe("precision", "unknown value", found=repr(precision), expected=expected))
    return _COMPLEX[precision]


def _range_spectrum(adc: np.ndarray, capture: CaptureConfig, config: ChainConfig, dtype: type) -> np.ndarray:
    """Windowed, zero-padded range FFT cropped to the capture's range axis: ``[F, loops, V, n_range]``."""
    frames, loops, n_tx, n_rx, n_samples = adc.shape
    x = adc.astype(dtype).reshape(frames, loops, n_tx * n_rx, n_samples)
    x = x * window(config.range_window, n_samples).astype(x.real.dtype)
    spectrum = np.fft.fft(x, n=capture.range_fft_size, axis=-1)
    first = capture.range.first_bin
    return spectrum[..., first : first + capture.range.n_bins]


def _carrada_frame(
    spectrum: np.ndarray, capture: CaptureConfig, config: ChainConfig, with_rad: bool
) -> tuple[np.ndarray, ...]:
    """Doppler and angle FFTs of one frame's range spectrum ``[loops, V, range]``; projections of |.|^2."""
    waveform = capture.waveform
    n_loops, n_virtual = spectrum.shape[:2]
    n_doppler, n_angle = capture.velocity.n_bins, capture.azimuth.n_bins
    real = spectrum.real.dtype
    if config.static_clutter_removal:
        spectrum = spectrum - spectrum.mean(axis=0, keepdims=True)
    spectrum = spectrum * window(config.doppler_window, n_loops).astype(real)[:, None, None]
    # positive-exponent DFT over loops = n * inverse FFT; zero velocity moved to the centre
    doppler = np.fft.fftshift(np.fft.ifft(spectrum, n=n_doppler, axis=0) * n_doppler, axes=0)  # [D, V, range]
    if config.tdm_compensation:
        phase = tdm_phase(waveform.n_tx, waveform.n_rx, n_doppler).astype(doppler.dtype)  # [V, D]
        doppler = doppler * phase.T[:, :, None]
    doppler = doppler * window(config.angle_window, n_virtual).astype(real)[None, :, None]
    cube = np.fft.fftshift(np.fft.ifft(doppler, n=n_angle, axis=1) * n_angle, axes=1)  # [D, A, range]
    power = cube.real**2 + cube.imag**2
    rd = power.sum(axis=1).T  # [range, D], row 0 near
    ra = power.sum(axis=0).T[::-1]  # [range, A], row 0 far
    ad = power.sum(axis=2).T  # [A, D]
    ra_max = power.max(axis=0).T[::-1]
    rad = power.transpose(2, 1, 0)[::-1] if with_rad else None  # [range, A, D], row 0 far
    return rd, ra, ad, ra_max, rad


def _check_fft_geometry(capture: CaptureConfig) -> None:
    """The FFT reference needs antennas at 0..V-1 half-wavelengths and the zero-padded FFT's sin grid."""
    waveform, azimuth = capture.waveform, capture.azimuth
    positions = waveform.virtual_positions()
    if not np.array_equal(positions, np.arange(waveform.n_virtual)):
        raise ConfigError(
            describe(
                capture.name,
                "the FFT reference needs a filled lambda/2 virtual array",
                found=positions.tolist(),
                expected=list(range(waveform.n_virtual)),
            )
        )
    if azimuth.sin_first != -1.0 or not np.isclose(azimuth.sin_step, 2.0 / azimuth.n_bins):
        problem = "azimuth grid is not the fftshifted FFT grid sin = -1 + 2a/A"
        raise ConfigError(describe(capture.name, problem, found=f"sin_first {azimuth.sin_first}"))


def carrada_views_reference(
    adc: np.ndarray,
    config: ChainConfig = CARRADA_DEFAULT,
    *,
    with_rad: bool = False,
    precision: Precision = "double",
    capture: CaptureConfig = CARRADA,
) -> CarradaViews:
    """CARRADA views of ADC frames, the straightforward NumPy way.

    Args:
        adc: complex ``[F, 64 loops, 2 tx, 4 rx, 256 samples]`` or one frame ``[64, 2, 4, 256]``.
        config: windows, clutter removal, TDM compensation.
        with_rad: also return the ``[F, 256, 256, 64]`` power cube.
        precision: ``"double"`` (complex128) or ``"single"`` (complex64).
        capture: a CARRADA-like capture (Doppler axis, FFT azimuth grid).

    Returns:
        :class:`CarradaViews` with float32 arrays.
    """
    dtype = _complex_dtype(precision)
    _check_fft_geometry(capture)
    frames = adc_frames(adc, capture.waveform, (capture.waveform.n_loops,), "carrada_views_reference input")
    spectra = _range_spectrum(frames, capture, config, dtype)
    per_frame = [_carrada_frame(spectrum, capture, config, with_rad) for spectrum in spectra]
    rd, ra, ad, ra_max, rad = (
        None if parts[0] is None else np.stack(parts).astype(np.float32) for parts in zip(*per_frame)
    )
    return CarradaViews.from_power(rd, ra, ad, ra_max, rad)


def rod2021_maps_reference(
    adc: np.ndarray,
    config: ChainConfig = ROD2021_DEFAULT,
    *,
    precision: Precision = "double",
    capture: CaptureConfig = ROD2021,
) -> np.ndarray:
    """ROD2021 complex range-azimuth maps of the kept chirp loops, the straightforward NumPy way.

    Args:
        adc: complex ``[F, loops, 2 tx, 4 rx, 128 samples]`` with every loop (255) or only the kept ones (4);
            one frame may omit ``F``.
        config: range / angle windows; clutter removal and TDM re-timing need every loop.
        precision: ``"double"`` (complex128) or ``"single"`` (complex64).
        capture: a ROD2021-like capture (``chirp_ids``, azimuth grid, ``map_scale``).

    Returns:
        float32 ``[F, n_chirps, 128 range, 128 azimuth, 2]`` (real, imaginary); row 0 = nearest kept bin.
    """
    dtype = _complex_dtype(precision)
    waveform = capture.waveform
    where = "rod2021_maps_reference input"
    loop_counts = (waveform.n_loops, len(capture.chirp_ids or ()))
    frames = kept_loops(adc_frames(adc, waveform, loop_counts, where), capture, config, where)
    spectrum = _range_spectrum(frames, capture, config, dtype)  # [F, C, V, range]
    taper = window(config.angle_window, waveform.n_virtual)
    steering = steering_matrix(waveform.virtual_positions(), capture.azimuth.sin_values(), taper)
    maps = np.einsum("fcvr,va->fcra", spectrum, steering.astype(dtype)) * capture.map_scale
    return np.stack([maps.real, maps.imag], axis=-1).astype(np.float32)
