"""Calibrated front ends of the two captures (see :class:`record.sim.receiver.RadarModel`).

The constants were chosen by simulating default random scenes (:func:`record.sim.scenario.random_scene` with
:func:`record.sim.scenario.scene_config_for`) and running them through the default chains of
:mod:`record.dsp.chain` (Hann range / Doppler windows, no angle taper, clutter kept). Pooled over 40 scenes x 2
frames (seeds 1000-1039), measured / published:

===========  ======================  ======================  =====================  =====================
view         mean (dB)               std (dB)                min (dB)               max (dB)
===========  ======================  ======================  =====================  =====================
CARRADA RD   58.5 / 58.47            4.5 / 3.75              36.6 / 37.60           117.8 / 119.08
CARRADA RA   55.2 / 56.00            6.0 / 5.76              36.0 / 40.41           105.3 / 103.81
CARRADA AD   60.0 / 59.62            5.0 / 4.21              56.9 / 54.43           104.6 / 105.80
===========  ======================  ======================  =====================  =====================

ROD2021 complex maps (48 scenes x 2 frames): std of the real / imaginary parts 0.063 / 0.062 (published 0.066),
magnitude mean 0.042 (0.0437) and std 0.078 (0.0824). The published CARRADA statistics are MVRSS's 'tvt' values
(``*_stats_all.json``), the ROD2021 ones RECORD's CRUW configuration. The CARRADA noise floor sets the means, the
IF low-pass the low end along range, clutter and road users the spread; a 1 m^2 target at 10 m has a per-sample
SNR of 0 dB in CARRADA and -5 dB in ROD2021 (whose per-chirp maps integrate 64 times fewer samples).
"""

from __future__ import annotations

from record.errors import ConfigError, describe
from record.sensors import CaptureConfig
from record.sim.receiver import RadarModel

__all__ = ["RADAR_MODELS", "default_radar"]

RADAR_MODELS: dict[str, RadarModel] = {
    "carrada": RadarModel(noise_std=0.44, snr_1m2_at_10m_db=0.0),
    "rod2021": RadarModel(noise_std=15.0, snr_1m2_at_10m_db=-5.0),
}


def default_radar(capture: CaptureConfig) -> RadarModel:
    """The calibrated front end of ``capture`` (by name)."""
    try:
        return RADAR_MODELS[capture.name]
    except KeyError:
        raise ConfigError(
            describe(
                "default_radar", f"no calibration for capture {capture.name!r}", expected=sorted(RADAR_MODELS)
            )
        ) from None
