"""Radar front end: antenna patterns, radar-equation amplitude, thermal noise, IF filter and impairments.

Amplitude of a point scatterer of RCS sigma at slant range R, horizontal angle phi off boresight and elevation
angle eps (from the radar's horizontal plane)::

    |a| = K * sqrt(sigma) / R**2 * max(cos phi, 0) ** e_az * 10 ** (-0.3 * (eps / eps_3dB) ** 2)
    K   = noise_std * 10 ** (snr_1m2_at_10m_db / 20) * (10 m)**2 / sqrt(1 m**2)

so ``snr_1m2_at_10m_db`` is the per-ADC-sample SNR of a 1 m^2 scatterer at 10 m on boresight (before the IF
filter), the azimuth pattern is a two-way power ``cos(phi) ** (2 e_az)`` and the elevation pattern a Gaussian beam
with one-way half-power half-width ``eps_3dB`` (the ground close to the radar falls below the beam).

Receiver noise is circular complex Gaussian with ``E|n|^2 = noise_std**2``, independent for every physical Rx and
sampling instant; in TDM every (loop, Tx slot) is its own instant, so every entry of a ``[loops, tx, rx, samples]``
cube is independent. Signal and noise then pass the IF filter, a first-order high-pass (corner ``if_highpass_hz``)
and a Butterworth-magnitude anti-alias low-pass (corner ``if_lowpass_fraction * f_s``, order ``if_lowpass_order``)
over the beat band [0, f_s) of the complex samples, applied with zero phase in the frequency domain. It shapes
the noise floor along range: lower at the first bins and towards the far end of the range axis.

Tx -> Rx leakage is a zero-Doppler tone at a few centimetres with a random complex gain per virtual channel; the DC
offset is a constant complex value per Rx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from record.errors import ConfigError, InputError, describe
from record.sensors import SPEED_OF_LIGHT_MPS, Waveform

__all__ = ["RadarModel", "add_noise", "dc_offset", "leakage"]

_REFERENCE_RANGE_M = 10.0
#: apparent range of the Tx -> Rx coupling tone, metres
_LEAKAGE_RANGE_M = 0.06


@dataclass(frozen=True)
class RadarModel:
    """Front-end constants of a simulated capture.

    Attributes:
        noise_std: RMS of the complex receiver noise per ADC sample (ADC units).
        snr_1m2_at_10m_db: per-sample SNR of a 1 m^2 point scatterer at 10 m on boresight, dB.
        azimuth_exponent: exponent ``e_az`` of the two-way azimuth amplitude pattern ``cos(phi) ** e_az``.
        elevation_halfwidth_rad: one-way half-power half-width of the elevation beam, radians.
        if_highpass_hz: corner of the IF high-pass, Hz (0 = none).
        if_lowpass_fraction: corner of the anti-alias low-pass as a fraction of the sample rate (> 0).
        if_lowpass_order: order of the anti-alias low-pass (0 = none).
    """

    noise_std: float
    snr_1m2_at_10m_db: float
    azimuth_exponent: float = 1.0
    elevation_halfwidth_rad: float = math.radians(15.0)
    if_highpass_hz: float = 175e3
    if_lowpass_fraction: float = 0.85
    if_lowpass_order: int = 6

    def __post_init__(self) -> None:
        checks = {
            "noise_std": self.noise_std > 0,
            "snr_1m2_at_10m_db": True,
            "azimuth_exponent": self.azimuth_exponent >= 0,
            "elevation_halfwidth_rad": self.elevation_halfwidth_rad > 0,
            "if_highpass_hz": self.if_highpass_hz >= 0,
            "if_lowpass_fraction": self.if_lowpass_fraction > 0,
            "if_lowpass_order": self.if_lowpass_order >= 0,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and ok):
                raise ConfigError(describe(f"RadarModel.{name}", "out of range", found=value))

    @property
    def radar_constant(self) -> float:
        """K: amplitude of a 1 m^2 scatterer at 1 m on boresight, ADC units."""
        return self.noise_std * 10.0 ** (self.snr_1m2_at_10m_db / 20.0) * _REFERENCE_RANGE_M**2

    def amplitude(
        self,
        rcs_m2: np.ndarray,
        range_m: np.ndarray,
        cos_off_boresight: np.ndarray,
        elevation_rad: np.ndarray,
    ) -> np.ndarray:
        """Magnitude of each scatterer's beat signal, ``[P]``.

        Args:
            rcs_m2: RCS, m^2 (>= 0).
            range_m: slant range, metres (> 0).
            cos_off_boresight: cosine of the horizontal angle off boresight (<= 0 behind the radar).
            elevation_rad: elevation above the radar's horizontal plane, radians.
        """
        rcs_m2, range_m = np.asarray(rcs_m2, dtype=np.float64), np.asarray(range_m, dtype=np.float64)
        if np.any(~(rcs_m2 >= 0)) or np.any(~(range_m > 0)):
            raise InputError(
                describe("RadarModel.amplitude", "needs rcs_m2 >= 0 and range_m > 0", found=(rcs_m2, range_m))
            )
        facing = np.asarray(cos_off_boresight, dtype=np.float64)
        azimuth_gain = np.where(facing > 0, np.maximum(facing, 0.0) ** self.azimuth_exponent, 0.0)
        elevation_gain = 10.0 ** (-0.3 * (np.asarray(elevation_rad) / self.elevation_halfwidth_rad) ** 2)
        return self.radar_constant * np.sqrt(rcs_m2) / range_m**2 * azimuth_gain * elevation_gain

    def if_response(self, waveform: Waveform) -> np.ndarray:
        """Magnitude of the IF filter at the ``n_samples`` FFT bins of the beat band [0, f_s), float32 ``[N]``."""
        f = np.arange(waveform.n_samples) * waveform.sample_rate_hz / waveform.n_samples
        highpass = f / np.sqrt(f**2 + self.if_highpass_hz**2) if self.if_highpass_hz > 0 else np.ones_like(f)
        corner = self.if_lowpass_fraction * waveform.sample_rate_hz
        lowpass = (
            1.0 / np.sqrt(1.0 + (f / corner) ** (2 * self.if_lowpass_order)) if self.if_lowpass_order else 1.0
        )
        return (highpass * lowpass).astype(np.float32)

    def apply_if_filter(self, cube: np.ndarray, waveform: Waveform) -> np.ndarray:
        """``cube`` ``[..., n_samples]`` through the IF filter (zero phase, along the samples), complex64."""
        spectrum = np.fft.fft(cube, axis=-1) * self.if_response(waveform)
        return np.fft.ifft(spectrum, axis=-1).astype(np.complex64)


def add_noise(cube: np.ndarray, noise_std: float, rng: np.random.Generator) -> None:
    """Add circular complex Gaussian noise of RMS ``noise_std`` to every entry of complex64 ``cube`` in place."""
    if cube.dtype != np.complex64:
        raise InputError(
            describe("add_noise", "cube must be complex64", found=cube.dtype, expected="complex64")
        )
    noise = rng.standard_normal(2 * cube.size, dtype=np.float32).view(np.complex64).reshape(cube.shape)
    cube += noise * np.float32(noise_std / math.sqrt(2.0))


def leakage(waveform: Waveform, loops: np.ndarray, power: float, rng: np.random.Generator) -> np.ndarray:
    """Tx -> Rx coupling: complex64 ``[len(loops), n_tx, n_rx, n_samples]``, mean power ``power`` per sample.

    The same zero-Doppler near-range tone in every loop, with a random complex gain per virtual channel.
    """
    beat_hz = 2.0 * waveform.slope_hz_per_s * _LEAKAGE_RANGE_M / SPEED_OF_LIGHT_MPS
    tone = np.exp(2j * np.pi * beat_hz * np.arange(waveform.n_samples) / waveform.sample_rate_hz)
    gain = rng.standard_normal((waveform.n_tx, waveform.n_rx)) + 1j * rng.standard_normal(
        (waveform.n_tx, waveform.n_rx)
    )
    gain *= math.sqrt(power / 2.0)
    cube = gain[None, :, :, None] * tone[None, None, None, :]
    return np.broadcast_to(cube, (len(loops), *cube.shape[1:])).astype(np.complex64)


def dc_offset(waveform: Waveform, loops: np.ndarray, power: float, rng: np.random.Generator) -> np.ndarray:
    """ADC DC offset: a constant complex value per physical Rx, power ``power``, ``[len(loops), n_tx, n_rx, n_samples]``."""
    value = np.exp(2j * np.pi * rng.uniform(size=waveform.n_rx)) * math.sqrt(power)
    shape = (len(loops), waveform.n_tx, waveform.n_rx, waveform.n_samples)
    return np.broadcast_to(value[None, None, :, None], shape).astype(np.complex64)
