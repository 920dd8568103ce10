"""Gaussian confidence maps: peak, per-class sigma and its clamps, double range weight, cut-off, max over objects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.classes import ROD2021_CLASSES
from record.data.confmaps import CONFMAP_CLASSES, confidence_maps, confmap_sigma, object_bins
from record.detections import ObjectTable
from record.sensors import ROD2021

RANGES = ROD2021.range.values()
AZIMUTHS = ROD2021.azimuth.values()


def objects(*rows: tuple[str, float, float]) -> ObjectTable:
    """One frame's objects from (class, range_m, azimuth_rad)."""
    return ObjectTable(
        np.zeros(len(rows), np.int64),
        np.array([ROD2021_CLASSES.index(c) for c, _, _ in rows], dtype=np.int64),
        np.array([r for _, r, _ in rows]),
        np.array([a for _, _, a in rows]),
        np.ones(len(rows)),
        ROD2021_CLASSES,
    )


def measured_sigma(profile: np.ndarray, centre: int, offset: int) -> float:
    """sigma from exp(-offset^2 / (2 sigma^2)) read ``offset`` bins from the peak."""
    return offset / math.sqrt(-2.0 * math.log(profile[centre + offset]))


def test_orientation_row0_near_col0_minus_90() -> None:
    rows, cols = object_bins(
        objects(("car", 0.64, -math.pi / 2), ("car", 27.7, math.pi / 2), ("car", 10.0, 0.2))
    )
    assert rows.tolist()[:2] == [0, 127] and cols.tolist()[:2] == [0, 127]
    assert abs(RANGES[rows[2]] - 10.0) <= ROD2021.range.resolution_m / 2
    assert np.argmin(np.abs(AZIMUTHS - 0.2)) == cols[2]


@pytest.mark.parametrize(
    ("class_name", "row", "expected"),
    [
        # raw sigma above the upper clamp near the radar, inside the interval, below the lower clamp far away
        ("pedestrian", 0, 15.0),
        ("pedestrian", 2, 2 * math.atan(1.0 / (2 * RANGES[2])) * 15),
        ("pedestrian", 60, 5.0),
        ("cyclist", 0, 20.0),
        ("cyclist", 6, 2 * math.atan(2.0 / (2 * RANGES[6])) * 20),
        ("cyclist", 60, 8.0),
        ("car", 0, 30.0),
        ("car", 10, 2 * math.atan(3.0 / (2 * RANGES[10])) * 30),
        ("car", 100, 10.0),
    ],
)
def test_sigma_formula_and_clamps(class_name: str, row: int, expected: float) -> None:
    params = CONFMAP_CLASSES[class_name]
    assert params.sigma_min < expected < params.sigma_max or expected in (params.sigma_min, params.sigma_max)
    assert confmap_sigma(class_name, RANGES[row]) == pytest.approx(expected)
    col = 64
    maps = confidence_maps(objects((class_name, RANGES[row], AZIMUTHS[col])))
    channel = ROD2021_CLASSES.index(class_name)
    assert maps[channel, row, col] == 1.0 and maps.max() == 1.0
    assert np.unravel_index(np.argmax(maps[channel]), maps[channel].shape) == (row, col)
    assert measured_sigma(maps[channel, row], col, 3) == pytest.approx(expected, rel=1e-3)
    others = [c for c in range(3) if c != channel]
    assert maps[others].max() == 0


def test_range_counts_double() -> None:
    row, col = 60, 64
    maps = confidence_maps(objects(("car", RANGES[row], AZIMUTHS[col])))[2]
    for k in (1, 2, 3):
        assert maps[row + k, col] == pytest.approx(maps[row, col + 2 * k], rel=1e-5)
        assert maps[row + k, col] < maps[row, col + k]


def test_cutoff_at_d_36() -> None:
    row, col = 60, 40  # pedestrian far away: sigma = 5 bins, cut 6 sigma = 30 bins along azimuth
    assert confmap_sigma("pedestrian", RANGES[row]) == 5.0
    maps = confidence_maps(objects(("pedestrian", RANGES[row], AZIMUTHS[col])))[0]
    assert maps[row, col + 29] > 0 and maps[row, col + 30] == 0
    assert maps[row + 14, col] > 0 and maps[row + 15, col] == 0  # (2 * 15 / 5)^2 = 36


def test_max_over_objects_of_a_class() -> None:
    near = ("car", RANGES[50], AZIMUTHS[40])
    far = ("car", RANGES[54], AZIMUTHS[48])
    both = confidence_maps(objects(near, far))[2]
    one = confidence_maps(objects(near))[2]
    two = confidence_maps(objects(far))[2]
    np.testing.assert_allclose(both, np.maximum(one, two), atol=1e-7)
    assert both[50, 40] == 1 and both[54, 48] == 1


def test_classes_are_separate_and_empty_frame_is_zero() -> None:
    maps = confidence_maps(objects(("pedestrian", 5.0, 0.3), ("cyclist", 8.0, -0.3)))
    assert maps.shape == (3, 128, 128) and maps.dtype == np.float32
    assert maps[0].max() == 1 and maps[1].max() == 1 and maps[2].max() == 0
    empty = confidence_maps(objects())
    assert empty.shape == (3, 128, 128) and not empty.any()
