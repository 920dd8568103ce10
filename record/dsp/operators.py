"""The linear operators of the chain, in the sign conventions of :mod:`record.sim.signal`.

The beat signal carries ``-pi d sin(theta)`` on the virtual element at ``d`` half-wavelengths and the carrier
phase ``+4 pi R(t) / lambda``; both transforms across antennas and across loops therefore use a positive
exponent, which puts approaching targets above the Doppler centre and makes angle columns grow with azimuth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from record.dsp.config import ChainConfig
from record.errors import ConfigError, describe
from record.sensors import CaptureConfig

__all__ = ["align_tdm_slots", "kept_loops", "steering_matrix", "tdm_phase"]


def steering_matrix(positions: np.ndarray, sin_values: np.ndarray, taper: np.ndarray) -> np.ndarray:
    """Angle transform onto an azimuth grid: ``taper[v] * exp(+j pi positions[v] sin_values[a])``.

    Args:
        positions: virtual element positions ``[V]`` in half-wavelengths.
        sin_values: sin(azimuth) of every output column ``[A]``.
        taper: antenna-domain window ``[V]``.

    Returns:
        complex128 ``[V, A]``; ``y @ steering_matrix(...)`` maps snapshots ``[..., V]`` to ``[..., A]``. On
        the grid ``sin = -1 + 2 a / A`` with positions ``0 .. V-1`` this equals the ``A``-point zero-padded,
        positive-exponent FFT followed by ``fftshift``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    phase = np.pi * positions[:, None] * np.asarray(sin_values, dtype=np.float64)[None, :]
    return np.asarray(taper, dtype=np.float64)[:, None] * np.exp(1j * phase)


def tdm_phase(n_tx: int, n_rx: int, n_doppler: int) -> np.ndarray:
    """TDM slot-phase compensation per virtual antenna and (fftshifted) Doppler bin.

    Tx slot ``k`` fires ``k`` chirp periods after slot 0, i.e. ``k / n_tx`` of a loop later, so a target in
    signed Doppler bin ``d`` (``d = index - n_doppler // 2``) carries the extra phase ``-2 pi k d / (n_tx N)``
    on that slot's channels; the returned factors ``exp(+j 2 pi k d / (n_tx N))`` remove it. Exact at bin
    centres for unaliased range rates.

    Returns:
        complex128 ``[n_tx * n_rx, n_doppler]`` (Tx-major antenna order, Doppler in fftshifted order).
    """
    slot = np.repeat(np.arange(n_tx), n_rx).astype(np.float64)
    signed_bin = np.arange(n_doppler, dtype=np.float64) - n_doppler // 2
    return np.exp(2j * np.pi * slot[:, None] * signed_bin[None, :] / (n_tx * n_doppler))


def align_tdm_slots(adc: np.ndarray, loops: Sequence[int]) -> np.ndarray:
    """Re-time the Tx slots of the given loops to the firing time of their last slot.

    Slot ``k`` of loop ``m`` fires at ``(m + k / n_tx)`` loop periods; the value at ``m + (n_tx - 1) / n_tx``
    is interpolated linearly between loops ``m`` and ``m + 1`` of the same slot. For ``n_tx = 2`` (both
    captures) slot 0 becomes the mean of loops ``m`` and ``m + 1``: every scatterer gets exactly the phase it
    has at the slot-1 chirp, with amplitude ``cos(pi v / (2 v_max))`` on slot 0, so a moving target's angle
    peak returns to its true azimuth without any Doppler estimate, for any number of targets per range bin.

    Args:
        adc: complex ``[F, n_loops, n_tx, n_rx, n_samples]`` holding every loop of the frame.
        loops: loop indices to keep, each ``< n_loops - 1``.

    Returns:
        complex64 ``[F, len(loops), n_tx, n_rx, n_samples]``.
    """
    n_tx = adc.shape[2]
    loops = np.asarray(loops, dtype=np.int64)
    later_weight = (n_tx - 1 - np.arange(n_tx)) / n_tx  # [n_tx]
    weight = later_weight.astype(np.float32)[None, None, :, None, None]
    retimed = (1.0 - weight) * adc[:, loops] + weight * adc[:, loops + 1]
    return np.ascontiguousarray(retimed, dtype=np.complex64)


def kept_loops(adc: np.ndarray, capture: CaptureConfig, config: ChainConfig, where: str) -> np.ndarray:
    """The loops a per-chirp capture keeps (ROD2021's ``chirp_ids``), after clutter removal and TDM re-timing.

    Args:
        adc: complex64 ``[F, loops, n_tx, n_rx, n_samples]`` holding every loop or only the kept ones.
        capture: the capture (its ``chirp_ids`` and waveform).
        config: the chain configuration; static clutter removal and TDM compensation need every loop.
        where: name used in error messages.

    Returns:
        complex64 ``[F, len(chirp_ids), n_tx, n_rx, n_samples]``.
    """
    chirp_ids = list(capture.chirp_ids or range(capture.waveform.n_loops))
    all_loops = capture.waveform.n_loops
    needs_all = [name for name in ("static_clutter_removal", "tdm_compensation") if getattr(config, name)]
    if adc.shape[1] != all_loops:
        if needs_all:
            raise ConfigError(
                describe(
                    where,
                    f"ChainConfig.{' and '.join(needs_all)} needs every loop of the frame",
                    found=f"{adc.shape[1]} loops",
                    expected=f"{all_loops} loops, or set {'/'.join(needs_all)} to False",
                )
            )
        return adc
    if config.static_clutter_removal:
        adc = adc - adc.mean(axis=1, keepdims=True)
    if config.tdm_compensation:
        if max(chirp_ids) + 1 >= all_loops:
            problem = "TDM re-timing needs the loop after each kept loop"
            raise ConfigError(describe(where, problem, found=f"chirp_ids {chirp_ids}"))
        return align_tdm_slots(adc, chirp_ids)
    return np.ascontiguousarray(adc[:, chirp_ids])
