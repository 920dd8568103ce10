"""ROD2021 training targets: Gaussian confidence maps, as RODNet / RECORD generate them.

For an object of class ``c`` on bin ``(i, j)`` (nearest grid point of its range and azimuth, like cruw-devkit's
``ra2idx``) with grid range ``r`` (metres, the range of bin ``i``)::

    sigma = clamp(2 * atan(L_c / (2 r)) * s_c, lo_c, hi_c)
    D(y, x) = ((2 (y - i))^2 + (x - j)^2) / sigma^2          range offsets count double
    value(y, x) = exp(-D / 2) / (2 pi)   where D < 36, else 0

Channel ``c`` holds the maximum over that class's objects; the whole ``(n_class, H, W)`` stack is then min-max
normalised, so every peak is 1 (a frame without objects stays all zeros). The noise channel of the published
pickles is not produced (RECORD drops it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from record.detections import ObjectTable
from record.errors import ConfigError
from record.sensors import ROD2021, CaptureConfig

__all__ = [
    "CONFMAP_CLASSES",
    "GAUSSIAN_CUTOFF",
    "ConfmapClass",
    "confidence_maps",
    "confmap_sigma",
    "frames_index",
    "object_bins",
]

#: Gaussians are cut where D >= 36 (six sigma along azimuth, three along range bins).
GAUSSIAN_CUTOFF = 36.0


@dataclass(frozen=True)
class ConfmapClass:
    """Confidence-map parameters of one class (RODNet ``confmap_cfg``).

    Attributes:
        length_m: object length L (``confmap_length``).
        sigma_scale: s (``confmap_sigmas``).
        sigma_min: lower clamp of sigma, in bins (``confmap_sigmas_interval[0]``).
        sigma_max: upper clamp of sigma, in bins (``confmap_sigmas_interval[1]``).
    """

    length_m: float
    sigma_scale: float
    sigma_min: float
    sigma_max: float

    def sigma(self, range_m: float) -> float:
        """Gaussian width in bins for an object at ``range_m``."""
        raw = 2.0 * math.atan(self.length_m / (2.0 * range_m)) * self.sigma_scale
        return min(max(raw, self.sigma_min), self.sigma_max)


#: The published parameters for pedestrian, cyclist and car.
CONFMAP_CLASSES: dict[str, ConfmapClass] = {
    "pedestrian": ConfmapClass(length_m=1.0, sigma_scale=15.0, sigma_min=5.0, sigma_max=15.0),
    "cyclist": ConfmapClass(length_m=2.0, sigma_scale=20.0, sigma_min=8.0, sigma_max=20.0),
    "car": ConfmapClass(length_m=3.0, sigma_scale=30.0, sigma_min=10.0, sigma_max=30.0),
}


def confmap_sigma(class_name: str, range_m: float) -> float:
    """Sigma (bins) of class ``class_name`` at ``range_m`` with the published parameters."""
    try:
        return CONFMAP_CLASSES[class_name].sigma(range_m)
    except KeyError:
        raise ConfigError(f"no confidence-map parameters for class {class_name!r}") from None


def object_bins(objects: ObjectTable, capture: CaptureConfig = ROD2021) -> tuple[np.ndarray, np.ndarray]:
    """Nearest (row, column) of each object on the capture's range-azimuth grid, clipped to the map, int64 ``[N]``."""
    rows = np.clip(capture.range.to_index(objects.range_m), 0, capture.range.n_bins - 1)
    cols = np.clip(capture.azimuth.to_index(objects.azimuth_rad), 0, capture.azimuth.n_bins - 1)
    return rows.astype(np.int64), cols.astype(np.int64)


def confidence_maps(
    objects: ObjectTable,
    capture: CaptureConfig = ROD2021,
    params: Mapping[str, ConfmapClass] = CONFMAP_CLASSES,
    cutoff: float = GAUSSIAN_CUTOFF,
) -> np.ndarray:
    """Confidence maps of one frame's objects, float32 ``[n_class, range, azimuth]`` (classes of ``objects``).

    Args:
        objects: the objects of ONE frame (the frame column is ignored).
        capture: gives the grids (ROD2021: 128 x 128).
        params: per-class parameters, by class name.
        cutoff: Gaussians are zero where D >= ``cutoff``.
    """
    n_rows, n_cols = capture.range.n_bins, capture.azimuth.n_bins
    maps = np.zeros((len(objects.classes), n_rows, n_cols), dtype=np.float64)
    if len(objects) == 0:
        return maps.astype(np.float32)
    rows, cols = object_bins(objects, capture)
    grid_range = capture.range.values()
    dy = np.arange(n_rows, dtype=np.float64)[:, None]
    dx = np.arange(n_cols, dtype=np.float64)[None, :]
    for row, col, class_id in zip(rows, cols, objects.class_id):
        class_name = objects.classes[int(class_id)]
        if class_name not in params:
            raise ConfigError(f"no confidence-map parameters for class {class_name!r}")
        sigma = params[class_name].sigma(float(grid_range[row]))
        distance = ((2.0 * (dy - row)) ** 2 + (dx - col) ** 2) / sigma**2
        value = np.where(distance < cutoff, np.exp(-distance / 2.0) / (2.0 * math.pi), 0.0)
        np.maximum(maps[class_id], value, out=maps[class_id])
    low, high = maps.min(), maps.max()
    if high > low:
        maps = (maps - low) / (high - low)
    return maps.astype(np.float32)


def frames_index(objects: ObjectTable) -> dict[int, np.ndarray]:
    """Row indices of ``objects`` grouped by frame: ``{frame: int64 [k]}``."""
    order = np.argsort(objects.frame, kind="stable")
    frames, starts = np.unique(objects.frame[order], return_index=True)
    return {int(f): rows for f, rows in zip(frames, np.split(order, starts[1:]))}
