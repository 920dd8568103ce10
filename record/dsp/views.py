"""The CARRADA views of a batch of frames, in the published orientations (``CARRADA.view(...)``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CarradaViews", "to_db"]


def to_db(power: np.ndarray) -> np.ndarray:
    """CARRADA's log scale ``10 log10(1 + power)``, float32."""
    return (10.0 * np.log10(1.0 + power)).astype(np.float32)


@dataclass(frozen=True)
class CarradaViews:
    """Range-Doppler, range-angle and angle-Doppler maps of ``F`` frames (float32, linear power |.|^2 or dB).

    Attributes:
        rd_raw: ``[F, 256 range, 64 Doppler]``, power summed over angle; row 0 = near.
        ra_raw: ``[F, 256 range, 256 angle]``, power summed over Doppler; row 0 = far.
        ad_raw: ``[F, 256 angle, 64 Doppler]``, power summed over range.
        ra_numpy: ``[F, 256 range, 256 angle]``, power maximum over Doppler (CARRADA's ``range_angle_numpy``).
        rd_processed, ra_processed, ad_processed: ``10 log10(1 + raw)``.
        rad: ``[F, 256 range, 256 angle, 64 Doppler]`` power cube (row 0 = far), or None when not requested.

    Doppler column 32 is zero range rate, approaching targets above it; angle columns are uniform in
    sin(azimuth), column 128 = boresight, growing with azimuth.
    """

    rd_raw: np.ndarray
    ra_raw: np.ndarray
    ad_raw: np.ndarray
    ra_numpy: np.ndarray
    rd_processed: np.ndarray
    ra_processed: np.ndarray
    ad_processed: np.ndarray
    rad: np.ndarray | None = None

    @classmethod
    def from_power(
        cls,
        rd_raw: np.ndarray,
        ra_raw: np.ndarray,
        ad_raw: np.ndarray,
        ra_numpy: np.ndarray,
        rad: np.ndarray | None = None,
    ) -> CarradaViews:
        """Build the views from the linear-power projections (already in the published orientations)."""
        return cls(
            rd_raw=rd_raw,
            ra_raw=ra_raw,
            ad_raw=ad_raw,
            ra_numpy=ra_numpy,
            rd_processed=to_db(rd_raw),
            ra_processed=to_db(ra_raw),
            ad_processed=to_db(ad_raw),
            rad=rad,
        )

    @property
    def rd_numpy(self) -> np.ndarray:
        """CARRADA's ``range_doppler_numpy``: a duplicate of ``rd_processed``."""
        return self.rd_processed

    @property
    def n_frames(self) -> int:
        return int(self.rd_raw.shape[0])
