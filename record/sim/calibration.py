"""Calibrated front ends of the two captures (see :class:`record.sim.receiver.RadarModel`).

Values are provisional until calibrated through ``record.dsp.chain``.
"""

from __future__ import annotations

from record.errors import ConfigError, describe
from record.sensors import CaptureConfig
from record.sim.receiver import RadarModel

__all__ = ["RADAR_MODELS", "default_radar"]

RADAR_MODELS: dict[str, RadarModel] = {
    "carrada": RadarModel(noise_std=0.44, snr_1m2_at_10m_db=3.0),
    "rod2021": RadarModel(noise_std=15.0, snr_1m2_at_10m_db=-5.0),
}


def default_radar(capture: CaptureConfig) -> RadarModel:
    """The calibrated scale of ``capture`` (by name)."""
    try:
        return RADAR_MODELS[capture.name]
    except KeyError:
        raise ConfigError(
            describe(
                "default_radar", f"no calibration for capture {capture.name!r}", expected=sorted(RADAR_MODELS)
            )
        ) from None
