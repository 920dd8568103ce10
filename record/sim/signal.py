"""FMCW TDM-MIMO beat-signal model of point scatterers: the physics every simulated ADC frame comes from.

For scatterer p with range R_p(t) = R_p + v_p t (v = range rate, positive receding), azimuth theta_p and complex
amplitude a_p, the de-chirped complex baseband sample ``n`` of loop ``m``, Tx slot ``k`` and Rx ``l`` is (mixer
convention TX x conj(RX), so beat frequencies are positive)::

    x[m, k, l, n] = sum_p a_p * exp(j * (2 pi f_p n / f_s + 4 pi R_p(t_mk) / lambda - pi d_kl sin(theta_p)))
    f_p  = 2 S R_p(t_block) / c + 2 v_p / lambda        (range tone + Doppler shift within the chirp)
    t_mk = (m * n_tx + k) * T_c                          (each Tx slot fires T_c after the previous one)
    d_kl = tx_position[k] + rx_position[l]               (virtual element position in half-wavelengths)

Consequences the signal chain relies on: the range tone is a positive frequency (forward FFT, bin = f_p N / f_s);
an approaching target's carrier phase decreases from loop to loop; an element farther along +x sees a target at
positive theta earlier, so its phase decreases with ``d sin(theta)``. The per-Tx slot time ``t_mk`` gives the TDM
phase that the chain must compensate before the angle transform.

The beat tone moves with the target during the frame (range migration); it is evaluated once per block of loops
(``n_blocks``), exact to a fraction of a bin for road-user speeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from record.errors import InputError, describe
from record.sensors import SPEED_OF_LIGHT_MPS, Waveform

__all__ = ["Scatterers", "beat_signal"]


@dataclass(frozen=True)
class Scatterers:
    """Point scatterers at the frame start, all arrays ``[P]``.

    Attributes:
        range_m: range from the array centre, metres.
        range_rate_mps: dR/dt in m/s (negative = approaching).
        azimuth_rad: azimuth from boresight, positive towards +x, radians.
        amplitude: complex amplitude in ADC units (magnitude from RCS and range, phase from the surface).
    """

    range_m: np.ndarray
    range_rate_mps: np.ndarray
    azimuth_rad: np.ndarray
    amplitude: np.ndarray

    def __post_init__(self) -> None:
        arrays = {
            "range_m": self.range_m,
            "range_rate_mps": self.range_rate_mps,
            "azimuth_rad": self.azimuth_rad,
            "amplitude": self.amplitude,
        }
        shapes = {name: np.shape(value) for name, value in arrays.items()}
        if len(set(shapes.values())) != 1 or len(shapes["range_m"]) != 1:
            raise InputError(
                describe(
                    "Scatterers", "fields must be 1-D arrays of one length", found=shapes, expected="[P] each"
                )
            )
        for name, value in arrays.items():
            bad = np.flatnonzero(~np.isfinite(value))
            if bad.size:
                raise InputError(
                    describe(
                        f"Scatterers.{name}[{bad[0]}]",
                        "must be finite",
                        found=value[bad[0]],
                        expected="a number",
                    )
                )
        bad = np.flatnonzero(np.asarray(self.range_m) <= 0)
        if bad.size:
            raise InputError(
                describe(
                    f"Scatterers.range_m[{bad[0]}]",
                    "must be positive",
                    found=self.range_m[bad[0]],
                    expected="> 0",
                )
            )

    def __len__(self) -> int:
        return len(self.range_m)

    @staticmethod
    def concatenate(parts: Sequence[Scatterers]) -> Scatterers:
        """One set holding every scatterer of ``parts``."""
        if not parts:
            empty = np.zeros(0)
            return Scatterers(empty, empty, empty, empty.astype(np.complex128))
        return Scatterers(
            np.concatenate([p.range_m for p in parts]),
            np.concatenate([p.range_rate_mps for p in parts]),
            np.concatenate([p.azimuth_rad for p in parts]),
            np.concatenate([np.asarray(p.amplitude, dtype=np.complex128) for p in parts]),
        )


def beat_signal(
    waveform: Waveform,
    scatterers: Scatterers,
    *,
    loops: Sequence[int] | None = None,
    n_blocks: int = 8,
) -> np.ndarray:
    """Noise-free ADC frame of ``scatterers``.

    Args:
        waveform: chirp timing, sampling and array geometry.
        scatterers: scatterer states at the frame start.
        loops: loop indices to synthesise (default: all ``waveform.n_loops``), e.g. ROD2021's kept chirps.
        n_blocks: number of loop blocks over which the beat tone is re-evaluated (range migration).

    Returns:
        complex64 ``[len(loops), n_tx, n_rx, n_samples]``.
    """
    loop_ids = np.arange(waveform.n_loops) if loops is None else np.asarray(loops, dtype=np.int64)
    if loop_ids.ndim != 1 or loop_ids.size == 0 or loop_ids.min() < 0 or loop_ids.max() >= waveform.n_loops:
        raise InputError(
            describe(
                "beat_signal",
                "loops must be loop indices",
                found=loops,
                expected=f"in [0, {waveform.n_loops})",
            )
        )
    n_tx = waveform.n_tx
    out = np.zeros((loop_ids.size, n_tx, waveform.n_rx, waveform.n_samples), dtype=np.complex64)
    if len(scatterers) == 0:
        return out
    r0 = np.asarray(scatterers.range_m, dtype=np.float64)
    v = np.asarray(scatterers.range_rate_mps, dtype=np.float64)
    sin_theta = np.sin(np.asarray(scatterers.azimuth_rad, dtype=np.float64))
    amplitude = np.asarray(scatterers.amplitude, dtype=np.complex128)

    # zero range rate: every chirp is the same, synthesise one and repeat it
    still = v == 0.0
    if still.any():
        out += _chirps(waveform, r0[still], v[still], sin_theta[still], amplitude[still], np.zeros((1, n_tx)))
    moving = ~still
    if moving.any():
        r0, v, sin_theta, amplitude = r0[moving], v[moving], sin_theta[moving], amplitude[moving]
        slot = np.arange(n_tx, dtype=np.float64)
        for block in np.array_split(np.arange(loop_ids.size), min(n_blocks, loop_ids.size)):
            # chirp start times of this block: [L, n_tx]
            t = (loop_ids[block].astype(np.float64)[:, None] * n_tx + slot[None, :]) * waveform.chirp_period_s
            out[block] += _chirps(waveform, r0, v, sin_theta, amplitude, t)
    return out


def _chirps(
    waveform: Waveform,
    r0: np.ndarray,
    v: np.ndarray,
    sin_theta: np.ndarray,
    amplitude: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """Chirps starting at times ``t`` ``[L, n_tx]`` (beat tone evaluated at their mid-time): ``[L, n_tx, n_rx, N]``.

    One complex64 matrix product ``[L * n_tx * n_rx, P] @ [P, N]`` of the separable slow-time/spatial and
    fast-time factors (:func:`_product`); phases are formed in float64.
    """
    n_tx, n_rx, n_samples = waveform.n_tx, waveform.n_rx, waveform.n_samples
    wavelength = waveform.wavelength_m
    t_mid = 0.5 * (t.min() + t.max())
    beat_hz = 2.0 * waveform.slope_hz_per_s * (r0 + v * t_mid) / SPEED_OF_LIGHT_MPS + 2.0 * v / wavelength
    sample_time = np.arange(n_samples, dtype=np.float64) / waveform.sample_rate_hz
    fast_time = _phasor(2.0 * np.pi * beat_hz[:, None] * sample_time[None, :])  # [P, N]
    positions = waveform.virtual_positions().reshape(n_tx, n_rx)
    spatial = np.exp(-1j * np.pi * sin_theta[:, None, None] * positions[None])  # [P, n_tx, n_rx]
    carrier = np.exp(
        4j * np.pi * (r0[:, None, None] + v[:, None, None] * t[None]) / wavelength
    )  # [P, L, n_tx]
    slow = (amplitude[:, None, None] * carrier)[..., None] * spatial[:, None, :, :]  # [P, L, n_tx, n_rx]
    product = _product(np.ascontiguousarray(slow.reshape(len(r0), -1).T, dtype=np.complex64), fast_time)
    return product.reshape(t.shape[0], n_tx, n_rx, n_samples)


@numba.njit(cache=True, fastmath=True)
def _product(left: np.ndarray, right: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``left [R, P] @ right [P, N]`` in complex64, single-threaded.

    The products here are small (tens of scatterers); BLAS would hand them to its thread pool, which costs far more
    than it saves when the cores are busy (measured 5x slower per CARRADA frame on a loaded 2-core machine).
    """
    rows, inner = left.shape
    columns = right.shape[1]
    out = np.zeros((rows, columns), dtype=np.complex64)
    for r in range(rows):
        for p in range(inner):
            weight = left[r, p]
            for n in range(columns):
                out[r, n] += weight * right[p, n]
    return out


def _phasor(phase_rad: np.ndarray) -> np.ndarray:
    """complex64 ``exp(j * phase)``: the phase is wrapped in float64, then cos / sin run in float32 (2x faster)."""
    wrapped = np.mod(phase_rad, 2.0 * np.pi).astype(np.float32)
    out = np.empty(wrapped.shape, dtype=np.complex64)
    out.real = np.cos(wrapped)
    out.imag = np.sin(wrapped)
    return out
