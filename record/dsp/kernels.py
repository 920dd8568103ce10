"""Numba kernels of the signal chain (float32 / complex64, compiled once with ``cache=True``).

The angle transform is a steering-matrix product computed as a real SGEMM on split real / imaginary parts.
The steering matrix arrives as its *conjugate-symmetric basis*: output column ``a`` equals basis column
``source[a]`` (``sign[a] = +1``) or its complex conjugate (``sign[a] = -1``). On a grid symmetric in
sin(theta) this halves the product; with ``A = Ar + j Ai`` (basis rows) and ``y = yr + j yi`` (snapshots)::

    U = Ar @ y,  W = Ai @ y      ->   z = (Ur - s Wi) + j (Ui + s Wr)

``steer`` stacks ``[Ar; Ai]`` as ``[2B, V]`` and the snapshots are stacked ``[yr | yi]`` as ``[V, 2N]``, so
one SGEMM gives ``[[Ur | Ui]; [Wr | Wi]]`` (real SGEMM runs at twice the rate of OpenBLAS's CGEMM for K = 8).

Loops are written so that LLVM vectorises them: contiguous inner loops, one reduction per loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["carrada_kernel", "rod2021_kernel"]


@njit(cache=True, fastmath=True)
def _range_spectrum(frame, range_window, n_fft, first_bin, n_range):
    """Windowed, cropped range FFT of a frame ``[loops, tx, rx, samples]``: complex64 ``[loops*V, range]``."""
    loops, n_tx, n_rx, n_samples = frame.shape
    rows = frame.reshape(loops * n_tx * n_rx, n_samples)
    windowed = np.empty((rows.shape[0], n_samples), np.complex64)
    for i in range(rows.shape[0]):
        for n in range(n_samples):
            windowed[i, n] = rows[i, n] * range_window[n]
    spectrum = np.fft.fft(windowed, n=n_fft, axis=-1)
    return np.ascontiguousarray(spectrum[:, first_bin : first_bin + n_range])


@njit(cache=True, fastmath=True)
def _doppler_spectrum(frame, range_window, n_fft, first_bin, n_range, doppler_window, clutter, n_doppler):
    """Range then Doppler transform of one frame: complex64 ``[n_doppler, V * n_range]``, zero velocity first.

    ``doppler_window`` already holds the factor ``n_doppler`` that turns the inverse FFT into the
    positive-exponent DFT. ``clutter`` subtracts the mean over loops first.
    """
    loops = frame.shape[0]
    spectrum = _range_spectrum(frame, range_window, n_fft, first_bin, n_range).reshape(loops, -1)
    width = spectrum.shape[1]
    if clutter:
        mean = np.zeros(width, np.complex64)
        for m in range(loops):
            for j in range(width):
                mean[j] += spectrum[m, j]
        for j in range(width):
            mean[j] /= loops
        for m in range(loops):
            for j in range(width):
                spectrum[m, j] -= mean[j]
    for m in range(loops):
        weight = doppler_window[m]
        for j in range(width):
            spectrum[m, j] *= weight
    return np.fft.ifft(spectrum, n=n_doppler, axis=0)


@njit(cache=True, fastmath=True)
def _angle_block(
    doppler, r_start, r_stop, n_range, tdm, steer, source, sign, rd, ra, ra_max, ad, rad, with_rad
):
    """Angle transform, |.|^2 and projections of range bins ``[r_start, r_stop)`` of one frame.

    Args:
        doppler: complex64 ``[D, V * n_range]`` from :func:`_doppler_spectrum` (unshifted).
        tdm: complex64 ``[V, D]`` slot-phase factors in fftshifted Doppler order (ones when disabled).
        steer, source, sign: the steering matrix's conjugate-symmetric basis (module docstring).
        rd: ``[n_range, D]`` written; ra, ra_max: ``[n_range, A]`` written at row ``n_range - 1 - r``;
        ad: ``[A, D]`` accumulated; rad: ``[n_range, A, D]`` written when ``with_rad``.
    """
    n_doppler = doppler.shape[0]
    n_virtual = steer.shape[1]
    n_basis = steer.shape[0] // 2
    n_angle = source.shape[0]
    half = n_doppler // 2
    snapshots = np.empty((n_virtual, 2 * n_doppler), np.float32)
    product = np.empty((2 * n_basis, 2 * n_doppler), np.float32)
    power = np.empty(n_doppler, np.float32)
    # power >= 0, and non-negative floats order like their int32 bit patterns: the integer max vectorises
    power_bits = power.view(np.int32)
    ra_max_bits = ra_max.view(np.int32)
    for r in range(r_start, r_stop):
        for v in range(n_virtual):
            column = v * n_range + r
            for d in range(n_doppler):
                z = doppler[(d + half) % n_doppler, column] * tdm[v, d]
                snapshots[v, d] = z.real
                snapshots[v, n_doppler + d] = z.imag
        np.dot(steer, snapshots, product)
        flipped = n_range - 1 - r
        rd_row = rd[r]
        for d in range(n_doppler):
            rd_row[d] = 0.0
        for a in range(n_angle):
            s = sign[a]
            u = product[source[a]]
            w = product[n_basis + source[a]]
            for d in range(n_doppler):
                re = u[d] - s * w[n_doppler + d]
                im = u[n_doppler + d] + s * w[d]
                power[d] = re * re + im * im
            total = np.float32(0.0)
            for d in range(n_doppler):
                total += power[d]
            peak = 0
            for d in range(n_doppler):
                peak = max(peak, power_bits[d])
            for d in range(n_doppler):
                rd_row[d] += power[d]
            ad_row = ad[a]
            for d in range(n_doppler):
                ad_row[d] += power[d]
            if with_rad:
                rad_row = rad[flipped, a]
                for d in range(n_doppler):
                    rad_row[d] = power[d]
            ra[flipped, a] = total
            ra_max_bits[flipped, a] = peak


@njit(parallel=True, cache=True, fastmath=True)
def carrada_kernel(
    adc, range_window, n_fft, first_bin, n_range, doppler_window, clutter, tdm, steer, source, sign,
    n_chunks, rd, ra, ra_max, ad, rad, with_rad,
):
    """CARRADA views of ``F`` frames, fused per range bin (no complex cube is materialised).

    Work items are (frame, range block) pairs run in parallel; each computes its frame's Doppler spectrum (1 MiB,
    recomputed by every block of a frame, which costs no wall time when the blocks run side by side) and its
    range bins. AD sums over range, so each block accumulates a partial AD, reduced at the end.

    Args:
        adc: complex64 ``[F, loops, tx, rx, samples]``.
        range_window: float32 ``[samples]``; doppler_window: float32 ``[loops]`` times ``n_doppler``.
        n_chunks: range blocks per frame.
        rd ``[F, R, D]``, ra / ra_max ``[F, R, A]``, ad ``[F, A, D]``: outputs; rad ``[F, R, A, D]`` when
        ``with_rad`` (any shape otherwise).
    """
    n_frames = adc.shape[0]
    n_doppler = rd.shape[2]
    n_angle = source.shape[0]
    partial = np.zeros((n_frames, n_chunks, n_angle, n_doppler), np.float32)
    for item in prange(n_frames * n_chunks):
        f = item // n_chunks
        chunk = item % n_chunks
        doppler = _doppler_spectrum(
            adc[f], range_window, n_fft, first_bin, n_range, doppler_window, clutter, n_doppler
        )
        r_start = chunk * n_range // n_chunks
        r_stop = (chunk + 1) * n_range // n_chunks
        _angle_block(
            doppler, r_start, r_stop, n_range, tdm, steer, source, sign,
            rd[f], ra[f], ra_max[f], partial[f, chunk], rad[f], with_rad,
        )
    for f in prange(n_frames):
        for a in range(n_angle):
            for d in range(n_doppler):
                total = np.float32(0.0)
                for chunk in range(n_chunks):
                    total += partial[f, chunk, a, d]
                ad[f, a, d] = total


@njit(parallel=True, cache=True, fastmath=True)
def rod2021_kernel(adc, range_window, n_fft, first_bin, n_range, steer, source, sign, out):
    """Complex range-azimuth maps of every loop of ``adc`` ``[F, C, tx, rx, samples]``.

    ``steer`` (basis, module docstring) already holds the map scale. ``out`` is float32
    ``[F, C, n_range, A, 2]`` (real, imaginary).
    """
    n_frames, n_chirps = adc.shape[0], adc.shape[1]
    n_virtual = steer.shape[1]
    n_basis = steer.shape[0] // 2
    n_angle = source.shape[0]
    for item in prange(n_frames * n_chirps):
        f = item // n_chirps
        c = item % n_chirps
        spectrum = _range_spectrum(adc[f, c : c + 1], range_window, n_fft, first_bin, n_range)  # [V, range]
        snapshots = np.empty((n_virtual, 2 * n_range), np.float32)
        for v in range(n_virtual):
            for j in range(n_range):
                snapshots[v, j] = spectrum[v, j].real
                snapshots[v, n_range + j] = spectrum[v, j].imag
        product = np.dot(steer, snapshots)
        for a in range(n_angle):
            b = source[a]
            s = sign[a]
            for j in range(n_range):
                out[f, c, j, a, 0] = product[b, j] - s * product[n_basis + b, n_range + j]
                out[f, c, j, a, 1] = product[b, n_range + j] + s * product[n_basis + b, j]
