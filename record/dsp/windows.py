"""Tapers applied before the range, Doppler and angle transforms.

All windows are symmetric (``sym=True``): sample ``0`` and sample ``length - 1`` carry the same weight, as
in the TI SDK and the UW MATLAB chain. ``"none"`` is the rectangular window (all ones). The Taylor window uses
the MATLAB ``taylorwin`` defaults (4 nearly constant sidelobes, -30 dB peak sidelobe), normalised to a peak
of 1.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import windows as scipy_windows

from record.errors import ConfigError, describe

__all__ = ["WINDOW_NAMES", "check_window_name", "window"]

WINDOW_NAMES: tuple[str, ...] = ("none", "hann", "hamming", "blackman", "taylor")


def check_window_name(name: str, field: str) -> None:
    """Raise :class:`ConfigError` naming ``field`` unless ``name`` is one of :data:`WINDOW_NAMES`."""
    if name not in WINDOW_NAMES:
        expected = " | ".join(WINDOW_NAMES)
        raise ConfigError(describe(field, "unknown window", found=repr(name), expected=expected))


def window(name: str, length: int) -> np.ndarray:
    """Window ``name`` of ``length`` samples, float64 ``[length]``."""
    check_window_name(name, "window")
    if length < 1:
        raise ConfigError(describe("window", "length must be positive", found=length))
    if name == "none":
        return np.ones(length)
    if name == "taylor":
        return scipy_windows.taylor(length, nbar=4, sll=30, norm=True, sym=True)
    return scipy_windows.get_window(name, length, fftbins=False)
