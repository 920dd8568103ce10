"""Training augmentations from the published recipes, applied identically to inputs and targets.

A draw (:class:`Rod2021Flips`, :class:`CarradaFlips`) is made once per sample and then applied to every array of
that sample (all frames, all views, inputs and targets), so an object stays on its flipped bin everywhere.

**ROD2021** (RECORD ``datasets/cruw/transforms.py``), each with probability 0.5:

* ``mirror``: flip the range axis, the azimuth axis or both (uniform choice). Flipping range is physically
  questionable (quirk Q8): :attr:`Rod2021AugmentConfig.mirror_axes` ``"angle"`` flips azimuth only.
* ``reverse``: time reversal. The datasets implement it by reading the window's frames in reverse order, so a
  buffer window's target is the map of the frame that ends the *reversed* window.
* ``gaussian``: probability 0 in the published configs; adds one scalar offset ~ N(0, sigma), sigma ~ U(0, 0.03),
  to the radar input only.

**CARRADA** (MVRSS / RECORD loaders), each with probability 0.5 and one draw shared by all views:

* ``hflip`` flips array axis -2 (range for RD and RA, angle for AD) of maps and masks;
* ``vflip`` flips array axis -1 (Doppler for RD, angle for RA, Doppler for AD).

Transform lists are parsed with whitespace stripped: ``"hflip, vflip"`` enables BOTH flips. The published RECORD
code splits on ``","`` without stripping, so its ``"hflip, vflip"`` silently applied hflip only (quirk Q1); use
:data:`CARRADA_RECORD_PARITY` to reproduce that, and the default (both flips, as MVRSS) otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from record.errors import ConfigError

__all__ = [
    "CARRADA_RECORD_PARITY",
    "CARRADA_TRANSFORMS",
    "CarradaAugmentConfig",
    "CarradaFlips",
    "Rod2021AugmentConfig",
    "Rod2021Flips",
    "flip_last_axes",
    "parse_transforms",
]

#: Transform names understood in CARRADA transform lists.
CARRADA_TRANSFORMS: tuple[str, ...] = ("hflip", "vflip")
_MIRROR_AXES = ("range_angle", "angle")


def _check_probability(owner: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{owner}.{name} must be a probability in [0, 1] (found {value})")


def flip_last_axes(array: np.ndarray, flip_rows: bool, flip_cols: bool) -> np.ndarray:
    """``array`` ``[..., H, W]`` with axis -2 and/or -1 reversed (a contiguous copy when anything flips)."""
    axes = tuple(axis for axis, flip in ((-2, flip_rows), (-1, flip_cols)) if flip)
    return np.ascontiguousarray(np.flip(array, axis=axes)) if axes else array


# ---------------------------------------------------------------------------------------------------- ROD2021
@dataclass(frozen=True)
class Rod2021AugmentConfig:
    """ROD2021 augmentation settings (defaults = the published RECORD configuration).

    Attributes:
        mirror_p: probability of a mirror.
        mirror_axes: ``"range_angle"`` (published: range, azimuth or both, uniformly) or ``"angle"`` (azimuth only).
        reverse_p: probability of time reversal.
        gaussian_p: probability of the scalar Gaussian offset (0 in the published configs).
        gaussian_sigma_max: sigma of that offset is drawn from U(0, gaussian_sigma_max).
    """

    mirror_p: float = 0.5
    mirror_axes: str = "range_angle"
    reverse_p: float = 0.5
    gaussian_p: float = 0.0
    gaussian_sigma_max: float = 0.03

    def __post_init__(self) -> None:
        for name in ("mirror_p", "reverse_p", "gaussian_p"):
            _check_probability("Rod2021AugmentConfig", name, getattr(self, name))
        if self.mirror_axes not in _MIRROR_AXES:
            raise ConfigError(
                f"Rod2021AugmentConfig.mirror_axes must be one of {', '.join(_MIRROR_AXES)} "
                f"(found {self.mirror_axes!r})"
            )
        if self.gaussian_sigma_max < 0:
            raise ConfigError(
                f"Rod2021AugmentConfig.gaussian_sigma_max must be >= 0 (found {self.gaussian_sigma_max})"
            )

    def draw(self, rng: np.random.Generator) -> Rod2021Flips:
        """One sample's augmentation."""
        flip_range = flip_angle = False
        if rng.random() < self.mirror_p:
            if self.mirror_axes == "angle":
                flip_angle = True
            else:
                choice = int(rng.integers(3))  # 0 range, 1 angle, 2 both
                flip_range, flip_angle = choice in (0, 2), choice in (1, 2)
        reverse = bool(rng.random() < self.reverse_p)
        offset = 0.0
        if rng.random() < self.gaussian_p:
            offset = float(rng.normal(0.0, rng.uniform(0.0, self.gaussian_sigma_max)))
        return Rod2021Flips(flip_range, flip_angle, reverse, offset)


@dataclass(frozen=True)
class Rod2021Flips:
    """One ROD2021 draw. ``reverse`` is applied by the caller (frame order); :meth:`apply` does the rest."""

    flip_range: bool = False
    flip_angle: bool = False
    reverse: bool = False
    offset: float = 0.0

    def apply(self, radar: np.ndarray, confmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flip radar ``[..., range, azimuth]`` and confidence maps ``[..., range, azimuth]`` alike; offset radar."""
        radar = flip_last_axes(radar, self.flip_range, self.flip_angle)
        if self.offset:
            radar = radar + np.float32(self.offset)
        return radar, flip_last_axes(confmaps, self.flip_range, self.flip_angle)


# ---------------------------------------------------------------------------------------------------- CARRADA
def parse_transforms(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Transform names from ``"hflip, vflip"`` (or a list), whitespace stripped, empties dropped, names checked."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = tuple(item.strip().lower() for item in items if item.strip())
    unknown = [name for name in names if name not in CARRADA_TRANSFORMS]
    if unknown:
        raise ConfigError(
            f"unknown CARRADA transform(s) {', '.join(map(repr, unknown))} in {spec!r} "
            f"(expected a comma-separated list of {', '.join(CARRADA_TRANSFORMS)})"
        )
    return names


@dataclass(frozen=True)
class CarradaAugmentConfig:
    """CARRADA augmentation settings.

    Attributes:
        transforms: enabled flips, a subset of ``("hflip", "vflip")`` (default both, as MVRSS and as the RECORD
            configs' ``"hflip, vflip"`` intend; see :data:`CARRADA_RECORD_PARITY`).
        p: probability of each enabled flip, drawn once per sample.
    """

    transforms: tuple[str, ...] = CARRADA_TRANSFORMS
    p: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", parse_transforms(self.transforms))
        _check_probability("CarradaAugmentConfig", "p", self.p)

    @classmethod
    def from_string(cls, spec: str, p: float = 0.5) -> CarradaAugmentConfig:
        """From a config string such as ``"hflip, vflip"``."""
        return cls(parse_transforms(spec), p)

    def draw(self, rng: np.random.Generator) -> CarradaFlips:
        """One sample's flips (the same draw serves every view, frame and mask of the sample)."""
        hflip = bool(rng.random() < self.p) if "hflip" in self.transforms else False
        vflip = bool(rng.random() < self.p) if "vflip" in self.transforms else False
        return CarradaFlips(hflip, vflip)


#: What the published RECORD CARRADA training actually applied (hflip only, quirk Q1); for parity runs.
CARRADA_RECORD_PARITY = CarradaAugmentConfig(("hflip",))


@dataclass(frozen=True)
class CarradaFlips:
    """One CARRADA draw: ``hflip`` reverses axis -2, ``vflip`` axis -1, of every map and mask."""

    hflip: bool = False
    vflip: bool = False

    def apply(self, array: np.ndarray) -> np.ndarray:
        return flip_last_axes(array, self.hflip, self.vflip)
