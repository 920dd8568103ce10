"""CARRADA label masks from object points: projection to view bins, the dense rule, one-hot masks and boxes.

The published annotation code turns each object's DoA-Doppler points into sparse view pixels, then labels as
"dense" every pixel within Euclidean distance < 3 of a sparse pixel (``distance_transform_edt(...) < 3``); a box
is the min/max of the sparse pixels, widened by one bin on a degenerate side. Points are projected with the
CARRADA view axes (nearest bin): RD row 0 = near, RA row 0 = far, Doppler column 32 = zero range rate with
approaching targets above it (range rates beyond the unambiguous span wrap around, as the Doppler FFT aliases
them), angle columns uniform in sin(azimuth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import distance_transform_edt

from record.classes import CARRADA_CLASSES
from record.errors import ConfigError
from record.sensors import CARRADA

__all__ = ["DENSE_RADIUS", "ViewLabel", "box_of", "dense_from_sparse", "label_masks", "project_points"]

#: Dense pixels lie within this Euclidean distance (bins, exclusive) of a sparse pixel.
DENSE_RADIUS = 3.0


def project_points(
    view: str, range_m: np.ndarray, azimuth_rad: np.ndarray, range_rate_mps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unique (rows, cols) int64 of points on the ``"rd"`` or ``"ra"`` view; points off the map are dropped."""
    axes = CARRADA.view(view).axes
    if view == "rd":
        rows = axes[0].to_index(range_m)
        cols = np.mod(axes[1].to_index(range_rate_mps), axes[1].n_bins)
    elif view == "ra":
        rows = axes[0].to_index(range_m)
        cols = axes[1].to_index(azimuth_rad)
    else:
        raise ConfigError(f"CARRADA masks exist for views rd and ra (found {view!r})")
    keep = (rows >= 0) & (rows < axes[0].n_bins) & (cols >= 0) & (cols < axes[1].n_bins)
    pixels = np.unique(np.stack([rows[keep], cols[keep]], axis=1), axis=0)
    return pixels[:, 0].astype(np.int64), pixels[:, 1].astype(np.int64)


def dense_from_sparse(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Boolean ``[H, W]``: pixels within distance < :data:`DENSE_RADIUS` of a sparse pixel (the published rule)."""
    sparse = np.zeros(shape, dtype=bool)
    sparse[rows, cols] = True
    if not sparse.any():
        return sparse
    return distance_transform_edt(~sparse) < DENSE_RADIUS


def box_of(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> list[list[int]]:
    """``[[r_min, c_min], [r_max, c_max]]`` of the sparse pixels, widened by 1 where a side is degenerate."""
    corners = []
    for values, size in ((rows, shape[0]), (cols, shape[1])):
        low, high = int(values.min()), int(values.max())
        if low == high:
            low, high = max(low - 1, 0), min(high + 1, size - 1)
        corners.append((low, high))
    (r0, r1), (c0, c1) = corners
    return [[r0, c0], [r1, c1]]


@dataclass(frozen=True)
class ViewLabel:
    """One object on one view: its class id (1..3) and its sparse pixels."""

    class_id: int
    rows: np.ndarray
    cols: np.ndarray


def label_masks(shape: tuple[int, int], labels: list[ViewLabel]) -> tuple[np.ndarray, np.ndarray]:
    """One-hot (sparse, dense) uint8 ``(4, H, W)`` masks; later labels win where objects overlap."""
    sparse = np.zeros(shape, dtype=np.int64)
    dense = np.zeros(shape, dtype=np.int64)
    for label in labels:
        dense[dense_from_sparse(shape, label.rows, label.cols)] = label.class_id
        sparse[label.rows, label.cols] = label.class_id
    n_classes = len(CARRADA_CLASSES)
    one_hot = np.eye(n_classes, dtype=np.uint8)
    return np.moveaxis(one_hot[sparse], -1, 0).copy(), np.moveaxis(one_hot[dense], -1, 0).copy()
