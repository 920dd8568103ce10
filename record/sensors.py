"""Typed, immutable radar capture configurations and the bin <-> physical-unit conversions of their maps.

Two captures are defined, both TI AWR1843 with 2 Tx x 4 Rx (8 virtual azimuth antennas, lambda/2 spacing):

* :data:`CARRADA`: 256 samples x 64 loops per frame, RAD cube 256 range x 256 angle x 64 Doppler;
  0.1953125 m range bins (0-50 m), 0.41968 m/s Doppler bins, 256 angle bins uniform in sin(theta).
* :data:`ROD2021`: the CRUW capture, 128 samples x 255 loops, one complex 128 x 128 range-azimuth map per kept
  loop (chirp ids 0/64/128/192); range FFT of 134 points with 3 bins cropped at each end (0.639-27.70 m), azimuth
  grid ``arcsin(linspace(-1, 1, 128))`` as in cruw-devkit.

Conventions (see ``docs/design.md``):

* Units in every API: metres, radians, seconds, and **range rate** in m/s (dR/dt, positive = moving away).
* Azimuth theta is measured from boresight, positive towards +x (the right of the sensor, CRUW's
  ``x = r sin(theta)``); map columns grow with theta in both datasets.
* Each processed view has its own axis orientation, as published: CARRADA RD row 0 = near, RA/RAD row 0 = far,
  Doppler column 32 = zero velocity with approaching targets (negative range rate) at higher columns; ROD2021
  row 0 = near, column 0 = -90 deg.

Two conventions place a CARRADA target on the maps:

* the physical FFT grid (the axes' ``to_index``): nearest bin, RA rows ``255 - round(r / res)``, angle columns
  uniform in sin(theta). This is where a target's energy lands, so the synthetic writers
  (:mod:`record.data.carrada_masks`) label masks with it;
* the published annotation indices (:func:`carrada_annotation_cells`, ``AnnotationTransformer`` of the CARRADA
  code): truncation (``int(r / 0.1953125)``), RA rows ``256 - int(r / res)``, angle columns linear in angle
  (pi/256 per column). The released CARRADA masks follow it. Its cells differ from the nearest bins by up to
  one in RD range and Doppler, two in RA range and tens of columns in angle off boresight (30 deg: 170, 192).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from record.errors import ConfigError

__all__ = [
    "CAPTURES",
    "CARRADA",
    "ROD2021",
    "SPEED_OF_LIGHT_MPS",
    "Axis",
    "AzimuthAxis",
    "CaptureConfig",
    "CarradaAnnotationCells",
    "RangeAxis",
    "VelocityAxis",
    "Waveform",
    "carrada_annotation_cells",
    "get_capture",
]

SPEED_OF_LIGHT_MPS = 299_792_458.0


def _round_half_up(x: np.ndarray) -> np.ndarray:
    """Nearest integer with ties going up (what cruw-devkit's ``find_nearest`` does on an ascending grid)."""
    return np.floor(x + 0.5).astype(np.int64)


@dataclass(frozen=True)
class Waveform:
    """FMCW TDM-MIMO chirp parameters of one capture.

    Chirps fire loop by loop; within a loop, Tx slot ``k`` fires ``k * chirp_period_s`` after slot 0, so chirp
    ``(loop m, slot k)`` starts at ``(m * n_tx + k) * chirp_period_s`` after the frame start.

    Attributes:
        carrier_frequency_hz: start frequency of the sweep.
        slope_hz_per_s: sweep slope S.
        sample_rate_hz: complex (I/Q) ADC sample rate f_s.
        n_samples: ADC samples per chirp.
        n_loops: chirp loops per frame (each loop fires every Tx once).
        chirp_period_s: start-to-start time of consecutive chirps (idle + ramp), T_c.
        frame_period_s: time between frame starts.
        tx_positions: azimuth position of each Tx, in slot (firing) order, in half-wavelengths.
        rx_positions: azimuth position of each Rx, in half-wavelengths.
    """

    carrier_frequency_hz: float
    slope_hz_per_s: float
    sample_rate_hz: float
    n_samples: int
    n_loops: int
    chirp_period_s: float
    frame_period_s: float
    tx_positions: tuple[float, ...]
    rx_positions: tuple[float, ...]

    def __post_init__(self) -> None:
        positive = {
            "carrier_frequency_hz": self.carrier_frequency_hz,
            "slope_hz_per_s": self.slope_hz_per_s,
            "sample_rate_hz": self.sample_rate_hz,
            "n_samples": self.n_samples,
            "n_loops": self.n_loops,
            "chirp_period_s": self.chirp_period_s,
            "frame_period_s": self.frame_period_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"Waveform.{name} must be positive (found {value})")
        if self.n_samples / self.sample_rate_hz > self.chirp_period_s:
            raise ConfigError(
                "Waveform: sampling window n_samples / sample_rate_hz "
                f"({self.n_samples / self.sample_rate_hz:.3g} s) exceeds chirp_period_s ({self.chirp_period_s:.3g} s)"
            )
        if self.n_loops * self.n_tx * self.chirp_period_s > self.frame_period_s:
            raise ConfigError("Waveform: the chirps of one frame last longer than frame_period_s")
        if not self.tx_positions or not self.rx_positions:
            raise ConfigError("Waveform: tx_positions and rx_positions must not be empty")

    @property
    def n_tx(self) -> int:
        return len(self.tx_positions)

    @property
    def n_rx(self) -> int:
        return len(self.rx_positions)

    @property
    def n_virtual(self) -> int:
        """Number of virtual antennas, n_tx * n_rx."""
        return self.n_tx * self.n_rx

    @property
    def wavelength_m(self) -> float:
        return SPEED_OF_LIGHT_MPS / self.carrier_frequency_hz

    @property
    def loop_period_s(self) -> float:
        """Time between two chirps of the same Tx (the Doppler sampling period)."""
        return self.n_tx * self.chirp_period_s

    @property
    def max_range_m(self) -> float:
        """Largest range a complex-sampled beat tone can represent, f_s * c / (2 S)."""
        return self.sample_rate_hz * SPEED_OF_LIGHT_MPS / (2.0 * self.slope_hz_per_s)

    @property
    def max_range_rate_mps(self) -> float:
        """Unambiguous range-rate limit, lambda / (4 * loop period); the Doppler axis spans +- this."""
        return self.wavelength_m / (4.0 * self.loop_period_s)

    def virtual_positions(self) -> np.ndarray:
        """Azimuth positions of the virtual antennas ``[n_tx * n_rx]`` in half-wavelengths, Tx-major order."""
        return (np.asarray(self.tx_positions)[:, None] + np.asarray(self.rx_positions)[None, :]).reshape(-1)

    def range_bin_m(self, fft_size: int) -> float:
        """Range spanned by one bin of a ``fft_size``-point range FFT."""
        return self.max_range_m / fft_size

    def range_rate_bin_mps(self, fft_size: int) -> float:
        """Range rate spanned by one bin of a ``fft_size``-point Doppler FFT over loops."""
        return self.wavelength_m / (2.0 * fft_size * self.loop_period_s)


@dataclass(frozen=True)
class RangeAxis:
    """Range axis of a map: index ``i`` holds range ``(first_bin + j) * resolution_m``, ``j = i`` or reversed.

    Attributes:
        n_bins: number of bins on the axis.
        resolution_m: range per bin.
        first_bin: range-FFT bin shown at the near end (ROD2021 crops 3 bins).
        far_first: True when index 0 is the farthest range (CARRADA RA and RAD).
    """

    n_bins: int
    resolution_m: float
    first_bin: int = 0
    far_first: bool = False
    quantity: str = field(default="range_m", init=False)

    def to_physical(self, index: ArrayLike) -> np.ndarray:
        """Range in metres at (possibly fractional) ``index``."""
        index = np.asarray(index, dtype=np.float64)
        j = (self.n_bins - 1 - index) if self.far_first else index
        return (self.first_bin + j) * self.resolution_m

    def to_index(self, range_m: ArrayLike, *, fractional: bool = False) -> np.ndarray:
        """Index of ``range_m`` on this axis: nearest bin (int64), or the exact fractional position."""
        j = np.asarray(range_m, dtype=np.float64) / self.resolution_m - self.first_bin
        if not fractional:
            j = _round_half_up(j)
        return (self.n_bins - 1 - j) if self.far_first else j

    def values(self) -> np.ndarray:
        """Range in metres of every index, ``[n_bins]``."""
        return self.to_physical(np.arange(self.n_bins))

    @property
    def span_m(self) -> tuple[float, float]:
        """(nearest, farthest) bin centre in metres."""
        lo, hi = self.first_bin * self.resolution_m, (self.first_bin + self.n_bins - 1) * self.resolution_m
        return lo, hi


@dataclass(frozen=True)
class VelocityAxis:
    """Doppler axis of a map (fftshifted): index ``n_bins // 2`` is zero velocity.

    With ``approaching_positive`` (the CARRADA convention) approaching targets, whose range rate is negative,
    sit at indices above the centre: ``index = centre - range_rate / resolution``.
    """

    n_bins: int
    resolution_mps: float
    approaching_positive: bool = True
    quantity: str = field(default="range_rate_mps", init=False)

    @property
    def centre(self) -> int:
        return self.n_bins // 2

    def _sign(self) -> float:
        return -1.0 if self.approaching_positive else 1.0

    def to_physical(self, index: ArrayLike) -> np.ndarray:
        """Range rate in m/s (positive = receding) at ``index``."""
        return self._sign() * (np.asarray(index, dtype=np.float64) - self.centre) * self.resolution_mps

    def to_index(self, range_rate_mps: ArrayLike, *, fractional: bool = False) -> np.ndarray:
        """Index of a range rate (m/s): nearest bin (int64) or fractional. Aliased rates are not wrapped."""
        j = self._sign() * np.asarray(range_rate_mps, dtype=np.float64) / self.resolution_mps + self.centre
        return j if fractional else _round_half_up(j)

    def values(self) -> np.ndarray:
        return self.to_physical(np.arange(self.n_bins))


@dataclass(frozen=True)
class AzimuthAxis:
    """Azimuth axis uniform in sin(theta): index ``i`` holds ``theta = arcsin(sin_first + i * sin_step)``.

    ``to_index`` picks the nearest grid angle in radians (cruw-devkit's ``ra2idx``); the fractional position is
    interpolated in sin-space (``ra2idx_interpolate``).
    """

    n_bins: int
    sin_first: float
    sin_step: float
    quantity: str = field(default="azimuth_rad", init=False)

    def sin_values(self) -> np.ndarray:
        return self.sin_first + np.arange(self.n_bins) * self.sin_step

    def values(self) -> np.ndarray:
        """Azimuth in radians of every index, ``[n_bins]``."""
        return np.arcsin(np.clip(self.sin_values(), -1.0, 1.0))

    def to_physical(self, index: ArrayLike) -> np.ndarray:
        """Azimuth in radians at (possibly fractional) ``index``."""
        s = self.sin_first + np.asarray(index, dtype=np.float64) * self.sin_step
        return np.arcsin(np.clip(s, -1.0, 1.0))

    def to_index(self, azimuth_rad: ArrayLike, *, fractional: bool = False) -> np.ndarray:
        """Index of ``azimuth_rad``: nearest grid angle (int64), or the fractional position in sin-space."""
        azimuth = np.asarray(azimuth_rad, dtype=np.float64)
        if fractional:
            return (np.sin(azimuth) - self.sin_first) / self.sin_step
        grid = self.values()
        upper = np.clip(np.searchsorted(grid, azimuth, side="left"), 1, self.n_bins - 1)
        lower = upper - 1
        take_lower = np.abs(azimuth - grid[lower]) < np.abs(azimuth - grid[upper])
        return np.where(take_lower, lower, upper).astype(np.int64)


Axis = RangeAxis | VelocityAxis | AzimuthAxis


@dataclass(frozen=True)
class View:
    """A processed map and its axes, in array order (e.g. ``rd`` = (range, velocity))."""

    name: str
    axes: tuple[Axis, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(axis.n_bins for axis in self.axes)


@dataclass(frozen=True)
class CaptureConfig:
    """A radar capture: its waveform, FFT sizes, physical grids and the published views.

    Attributes:
        name: ``"carrada"`` or ``"rod2021"``.
        waveform: chirp and array parameters.
        range_fft_size: points of the range FFT (ROD2021: 134, then cropped).
        range: range axis in ascending order (index 0 = near), shared by all views up to orientation.
        azimuth: azimuth axis (uniform in sin(theta)).
        velocity: Doppler axis, or None when the capture keeps no Doppler (ROD2021).
        chirp_ids: loops kept per frame (ROD2021), or None for all.
        views: the published views and their axis orientations.
        map_scale: factor applied to complex RA maps (ROD2021 divides by 1e4 like the UW MATLAB chain).
    """

    name: str
    waveform: Waveform
    range_fft_size: int
    range: RangeAxis
    azimuth: AzimuthAxis
    velocity: VelocityAxis | None
    chirp_ids: tuple[int, ...] | None
    views: tuple[View, ...]
    map_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.range.first_bin + self.range.n_bins > self.range_fft_size:
            raise ConfigError(f"{self.name}: range axis exceeds the {self.range_fft_size}-point range FFT")
        if self.chirp_ids is not None and max(self.chirp_ids) >= self.waveform.n_loops:
            raise ConfigError(f"{self.name}: chirp_ids {self.chirp_ids} exceed n_loops {self.waveform.n_loops}")

    def view(self, name: str) -> View:
        """The view called ``name`` (e.g. ``"rd"``, ``"ra"``, ``"ad"``, ``"rad"``)."""
        for view in self.views:
            if view.name == name:
                return view
        known = ", ".join(v.name for v in self.views)
        raise ConfigError(f"{self.name}: unknown view {name!r} (expected one of {known})")


def _carrada() -> CaptureConfig:
    range_res = 0.1953125
    doppler_res = 0.41968030701528203
    n_samples, n_loops, sample_rate = 256, 64, 10e6
    carrier = 77e9
    wavelength = SPEED_OF_LIGHT_MPS / carrier
    waveform = Waveform(
        carrier_frequency_hz=carrier,
        # chosen so that one bin of the 256-point range FFT is exactly 0.1953125 m (50 m span)
        slope_hz_per_s=SPEED_OF_LIGHT_MPS * sample_rate / (2.0 * n_samples * range_res),
        sample_rate_hz=sample_rate,
        n_samples=n_samples,
        n_loops=n_loops,
        # chosen so that one bin of the 64-point Doppler FFT is exactly 0.41968 m/s (2 Tx per loop)
        chirp_period_s=wavelength / (2.0 * n_loops * 2 * doppler_res),
        frame_period_s=0.1,
        tx_positions=(0.0, 4.0),
        rx_positions=(0.0, 1.0, 2.0, 3.0),
    )
    rng = RangeAxis(256, range_res)
    azimuth = AzimuthAxis(256, -1.0, 2.0 / 256)
    velocity = VelocityAxis(64, doppler_res, approaching_positive=True)
    rng_far = RangeAxis(256, range_res, far_first=True)
    views = (
        View("rd", (rng, velocity)),
        View("ra", (rng_far, azimuth)),
        View("ad", (azimuth, velocity)),
        View("rad", (rng_far, azimuth, velocity)),
    )
    return CaptureConfig("carrada", waveform, 256, rng, azimuth, velocity, None, views)


def _rod2021() -> CaptureConfig:
    sample_rate, slope, fft_size, crop = 4e6, 21.0017e12, 134, 3
    waveform = Waveform(
        carrier_frequency_hz=77e9,
        slope_hz_per_s=slope,
        sample_rate_hz=sample_rate,
        n_samples=128,
        n_loops=255,
        # not published; 60 us keeps 255 loops x 2 Tx inside the 33.3 ms frame (assumption)
        chirp_period_s=60e-6,
        frame_period_s=1.0 / 30.0,
        tx_positions=(0.0, 4.0),
        rx_positions=(0.0, 1.0, 2.0, 3.0),
    )
    rng = RangeAxis(128, waveform.range_bin_m(fft_size), first_bin=crop)
    azimuth = AzimuthAxis(128, -1.0, 2.0 / 127)
    views = (View("ra", (rng, azimuth)),)
    return CaptureConfig("rod2021", waveform, fft_size, rng, azimuth, None, (0, 64, 128, 192), views, 1e-4)


CARRADA: CaptureConfig = _carrada()
ROD2021: CaptureConfig = _rod2021()
CAPTURES: dict[str, CaptureConfig] = {"carrada": CARRADA, "rod2021": ROD2021}


def get_capture(name: str) -> CaptureConfig:
    """Capture configuration by name (``"carrada"`` or ``"rod2021"``)."""
    try:
        return CAPTURES[name]
    except KeyError:
        raise ConfigError(f"unknown capture {name!r} (expected one of {', '.join(CAPTURES)})") from None


class CarradaAnnotationCells(NamedTuple):
    """Map cells of targets in the published CARRADA annotation convention, int64 arrays of the inputs' shape.

    Attributes:
        rd_row: RD row ``int(r / 0.1953125)`` (row 0 = near).
        ra_row: RA / RAD row ``256 - int(r / 0.1953125)`` (row 0 = far).
        doppler_col: RD / AD column ``32 + int(v / 0.41968...)``, v in m/s positive for an approaching target.
        angle_col: RA / AD column ``128 + int(theta / (pi / 256))``, linear in the azimuth theta.
    """

    rd_row: np.ndarray
    ra_row: np.ndarray
    doppler_col: np.ndarray
    angle_col: np.ndarray


def _truncate(x: np.ndarray) -> np.ndarray:
    """Python's ``int()`` elementwise: towards zero, int64."""
    return np.trunc(x).astype(np.int64)


def carrada_annotation_cells(
    range_m: ArrayLike, azimuth_rad: ArrayLike, range_rate_mps: ArrayLike
) -> CarradaAnnotationCells:
    """Cells where the published CARRADA annotation code puts targets (``AnnotationTransformer``).

    Args:
        range_m: range in metres.
        azimuth_rad: azimuth theta = atan(x / y) in radians, positive towards +x.
        range_rate_mps: range rate in m/s, positive receding (the annotation velocity is its negative).

    Indices truncate towards zero and are not clipped: ranges below one bin give RA row 256, ranges of 50 m
    or more RD row 256. The axes' ``to_index`` give the nearest bin of the physical FFT grid instead (module
    notes).
    """
    velocity = CARRADA.velocity
    assert velocity is not None  # CARRADA keeps Doppler
    range_bins = _truncate(np.asarray(range_m, dtype=np.float64) / CARRADA.range.resolution_m)
    doppler_bins = _truncate(-np.asarray(range_rate_mps, dtype=np.float64) / velocity.resolution_mps)
    angle_bins = _truncate(np.asarray(azimuth_rad, dtype=np.float64) / (np.pi / CARRADA.azimuth.n_bins))
    return CarradaAnnotationCells(
        rd_row=range_bins,
        ra_row=CARRADA.range.n_bins - range_bins,
        doppler_col=velocity.centre + doppler_bins,
        angle_col=CARRADA.azimuth.n_bins // 2 + angle_bins,
    )
