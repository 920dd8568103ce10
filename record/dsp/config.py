"""The signal chain's configuration: windows, static clutter removal, TDM slot-phase compensation."""

from __future__ import annotations

from dataclasses import dataclass

from record.dsp.windows import check_window_name
from record.errors import ConfigError, describe

__all__ = ["CARRADA_DEFAULT", "ROD2021_DEFAULT", "ChainConfig"]


@dataclass(frozen=True)
class ChainConfig:
    """Processing choices of the signal chain (both captures).

    Attributes:
        range_window: taper over the ADC samples of a chirp (see :mod:`record.dsp.windows`).
        doppler_window: taper over the chirp loops of a frame (CARRADA; ROD2021 keeps no Doppler axis).
        angle_window: taper over the virtual antennas, folded into the steering matrix.
        static_clutter_removal: subtract the mean over the frame's loops from every (antenna, range bin),
            which removes everything that does not move (ROD2021: needs every loop of the frame).
        tdm_compensation: remove the phase that Tx slot ``k`` gains by firing ``k`` chirp periods after
            slot 0. CARRADA: per Doppler bin ``d`` (signed), ``exp(+j 2 pi k d / (n_tx N_doppler))`` before
            the angle transform. ROD2021 (needs every loop of the frame): each kept loop's Tx slots are
            re-timed to the last slot's firing time by linear interpolation between the loop and the next one,
            see :func:`record.dsp.operators.align_tdm_slots`.
    """

    range_window: str = "hann"
    doppler_window: str = "hann"
    angle_window: str = "none"
    static_clutter_removal: bool = False
    tdm_compensation: bool = True

    def __post_init__(self) -> None:
        for field in ("range_window", "doppler_window", "angle_window"):
            check_window_name(getattr(self, field), f"ChainConfig.{field}")
        for field in ("static_clutter_removal", "tdm_compensation"):
            value = getattr(self, field)
            if not isinstance(value, bool):
                raise ConfigError(describe(f"ChainConfig.{field}", "must be a bool", found=repr(value)))


#: CARRADA: Hann range and Doppler windows, no angle taper, clutter kept, TDM phase compensated.
CARRADA_DEFAULT = ChainConfig()
#: ROD2021: Hann range window, no angle taper; the 4 kept loops alone allow no TDM compensation.
ROD2021_DEFAULT = ChainConfig(tdm_compensation=False)
