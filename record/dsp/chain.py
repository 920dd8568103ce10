"""The Numba signal chain: raw ADC cubes to CARRADA views or ROD2021 complex range-azimuth maps.

Both chains are batched over frames (``[F, loops, tx, rx, samples]``; one frame may omit ``F``), precompute
their windows and steering matrices once, and run in float32 / complex64. The kernels use Numba's thread pool
(``numba.set_num_threads``) and BLAS for the angle product; set ``OPENBLAS_NUM_THREADS`` to bound the latter.

Example::

    chain = CarradaChain()
    views = chain(adc)              # views.rd_processed [F, 256, 64], views.ra_processed [F, 256, 256], ...
    maps = Rod2021Chain()(adc_rod)  # [F, 4, 128, 128, 2]
"""

from __future__ import annotations

import math

import numba
import numpy as np

from record.dsp.config import CARRADA_DEFAULT, ROD2021_DEFAULT, ChainConfig
from record.dsp.inputs import adc_frames
from record.dsp.kernels import carrada_kernel, rod2021_kernel
from record.dsp.operators import kept_loops, steering_matrix, tdm_phase
from record.dsp.views import CarradaViews
from record.dsp.windows import window
from record.errors import ConfigError, describe
from record.sensors import CARRADA, ROD2021, CaptureConfig

__all__ = ["CarradaChain", "Rod2021Chain", "conjugate_basis"]


def conjugate_basis(steering: np.ndarray, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a steering matrix into the columns to compute and the columns that are their conjugates.

    Args:
        steering: complex ``[V, A]``.
        rtol: tolerance, relative to the largest entry, for two columns to count as conjugates.

    Returns:
        ``steer`` float32 ``[2B, V]`` (real parts of the B basis columns, then imaginary parts),
        ``source`` int64 ``[A]`` (basis index of each output column) and ``sign`` float32 ``[A]`` (+1 copy,
        -1 conjugate).
    """
    n_angle = steering.shape[1]
    tolerance = rtol * np.abs(steering).max()
    # conjugates[a, b]: column b is the complex conjugate of column a
    conjugates = np.abs(steering[:, None, :] - np.conj(steering)[:, :, None]).max(axis=0) <= tolerance
    basis: list[int] = []  # the columns computed, in order
    basis_index = np.full(n_angle, -1)
    source = np.empty(n_angle, dtype=np.int64)
    sign = np.ones(n_angle, dtype=np.float32)
    for a in range(n_angle):
        partners = [b for b in np.flatnonzero(conjugates[a, :a]) if basis_index[b] >= 0]
        if partners:
            source[a], sign[a] = basis_index[partners[0]], -1.0
        else:
            basis_index[a] = source[a] = len(basis)
            basis.append(a)
    columns = steering[:, basis].T  # [B, V]
    steer = np.concatenate([columns.real, columns.imag]).astype(np.float32)
    return np.ascontiguousarray(steer), source, sign


def _steering_basis(capture: CaptureConfig, config: ChainConfig, scale: float) -> tuple[np.ndarray, ...]:
    waveform = capture.waveform
    taper = window(config.angle_window, waveform.n_virtual)
    steering = steering_matrix(waveform.virtual_positions(), capture.azimuth.sin_values(), taper) * scale
    return conjugate_basis(steering)


def _range_window(capture: CaptureConfig, config: ChainConfig) -> np.ndarray:
    return window(config.range_window, capture.waveform.n_samples).astype(np.float32)


def _range_crop(capture: CaptureConfig) -> tuple[int, int, int]:
    """(FFT size, first kept bin, number of kept bins) of the range transform."""
    return capture.range_fft_size, capture.range.first_bin, capture.range.n_bins


class CarradaChain:
    """ADC frames to the CARRADA views (RD / RA / AD, raw and dB, optionally the RAD power cube).

    Per frame: range window + FFT (256), optional static clutter removal, Doppler window + positive-exponent
    DFT (64, fftshifted), TDM slot-phase compensation, angle transform of the 8 virtual antennas onto the
    256-bin sin grid (the zero-padded FFT written as a steering-matrix product), |.|^2 and the projections.

    Args:
        config: windows, clutter removal, TDM compensation.
        capture: a capture with a Doppler axis (default :data:`record.sensors.CARRADA`).
    """

    #: frames handed to the kernel at once (at least the number of Numba threads)
    frames_per_call = 8

    def __init__(self, config: ChainConfig = CARRADA_DEFAULT, capture: CaptureConfig = CARRADA) -> None:
        if capture.velocity is None:
            raise ConfigError(describe(capture.name, "CarradaChain needs a capture with a Doppler axis"))
        waveform = capture.waveform
        n_doppler = capture.velocity.n_bins
        if n_doppler < waveform.n_loops:
            raise ConfigError(describe(capture.name, "Doppler bins fewer than loops", found=n_doppler))
        self.config = config
        self.capture = capture
        self._range_window = _range_window(capture, config)
        # n_doppler turns the (1/n)-scaled inverse FFT into the positive-exponent DFT
        doppler_window = window(config.doppler_window, waveform.n_loops) * n_doppler
        self._doppler_window = doppler_window.astype(np.float32)
        phase = tdm_phase(waveform.n_tx, waveform.n_rx, n_doppler)
        self._tdm = (phase if config.tdm_compensation else np.ones_like(phase)).astype(np.complex64)
        self._steer, self._source, self._sign = _steering_basis(capture, config, 1.0)

    def __call__(self, adc: np.ndarray, *, with_rad: bool = False) -> CarradaViews:
        """Views of ``adc`` complex ``[F, 64, 2, 4, 256]`` (one frame ``[64, 2, 4, 256]`` gives ``F = 1``).

        Args:
            adc: raw complex ADC cube (complex64; complex128 is converted).
            with_rad: also return the float32 ``[F, 256 range, 256 angle, 64 Doppler]`` power cube (16 MiB per
                frame, row 0 = far).
        """
        capture = self.capture
        frames = adc_frames(adc, capture.waveform, (capture.waveform.n_loops,), "CarradaChain input")
        n_frames = frames.shape[0]
        n_fft, first_bin, n_range = _range_crop(capture)
        n_doppler, n_angle = capture.velocity.n_bins, capture.azimuth.n_bins
        rd = np.empty((n_frames, n_range, n_doppler), np.float32)
        ra = np.empty((n_frames, n_range, n_angle), np.float32)
        ra_max = np.empty_like(ra)
        ad = np.empty((n_frames, n_angle, n_doppler), np.float32)
        rad_shape = (n_frames, n_range, n_angle, n_doppler) if with_rad else (n_frames, 0, 0, 0)
        rad = np.empty(rad_shape, np.float32)
        clutter = self.config.static_clutter_removal
        operators = (self._doppler_window, clutter, self._tdm, self._steer, self._source, self._sign)
        # bounded batches keep the kernel's Doppler spectra (1 MiB per frame) in cache-sized working memory
        batch = max(self.frames_per_call, numba.get_num_threads())
        for start in range(0, n_frames, batch):
            part = slice(start, start + batch)
            n_chunks = math.ceil(numba.get_num_threads() / len(frames[part]))
            outputs = (rd[part], ra[part], ra_max[part], ad[part], rad[part], with_rad)
            carrada_kernel(
                frames[part], self._range_window, n_fft, first_bin, n_range, *operators, n_chunks, *outputs
            )
        return CarradaViews.from_power(rd, ra, ad, ra_max, rad if with_rad else None)


class Rod2021Chain:
    """ADC frames to ROD2021 complex range-azimuth maps, one per kept chirp loop.

    Per kept loop: range window + 134-point FFT cropped to bins 3..130 (row 0 = 0.64 m), angle transform of
    the 8 virtual antennas onto the published azimuth grid ``arcsin(linspace(-1, 1, 128))`` (steering matrix,
    optional taper), times ``map_scale``.

    TDM: the 4 kept loops carry no Doppler estimate, so the slot phase stays in the maps unless every loop is
    given and ``tdm_compensation`` re-times the slots (:func:`record.dsp.operators.align_tdm_slots`, exact in
    phase for every scatterer at once). Uncompensated, a moving target is shifted in azimuth, towards
    +azimuth when approaching: a target at +31 deg moves by 1, 3, 4 and 6 columns at range rates -1.5, -4, -6
    and -7.5 m/s (v_max = 8.1 m/s; measured with the beat-signal model). Re-timed, it stays in its column,
    with slot 0 attenuated by ``cos(pi v / (2 v_max))``.

    Args:
        config: range / angle windows; clutter removal and TDM re-timing need every loop of the frame.
        capture: a per-chirp capture (default :data:`record.sensors.ROD2021`).
    """

    def __init__(self, config: ChainConfig = ROD2021_DEFAULT, capture: CaptureConfig = ROD2021) -> None:
        if not capture.chirp_ids:
            raise ConfigError(describe(capture.name, "Rod2021Chain needs a capture with chirp_ids"))
        self.config = config
        self.capture = capture
        self._range_window = _range_window(capture, config)
        self._steer, self._source, self._sign = _steering_basis(capture, config, capture.map_scale)

    def __call__(self, adc: np.ndarray) -> np.ndarray:
        """Maps of ``adc`` complex ``[F, loops, 2, 4, 128]`` with all 255 loops or only the 4 kept ones.

        Returns:
            float32 ``[F, n_chirps, 128 range, 128 azimuth, 2]`` (real, imaginary); one frame gives ``F = 1``.
        """
        capture = self.capture
        where = "Rod2021Chain input"
        loop_counts = (capture.waveform.n_loops, len(capture.chirp_ids))
        frames = adc_frames(adc, capture.waveform, loop_counts, where)
        frames = np.ascontiguousarray(kept_loops(frames, capture, self.config, where))
        n_fft, first_bin, n_range = _range_crop(capture)
        out = np.empty((frames.shape[0], frames.shape[1], n_range, capture.azimuth.n_bins, 2), np.float32)
        rod2021_kernel(
            frames, self._range_window, n_fft, first_bin, n_range, self._steer, self._source, self._sign, out
        )
        return out
