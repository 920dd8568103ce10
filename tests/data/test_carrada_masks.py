"""CARRADA mask construction: published orientations of projected points, the dense rule, boxes, overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from record.data.carrada_masks import (
    DENSE_RADIUS,
    ViewLabel,
    box_of,
    dense_from_sparse,
    label_masks,
    project_points,
)
from record.errors import ConfigError

RANGE_BIN, DOPPLER_BIN = 0.1953125, 0.41968030701528203


def project(view: str, r: float, azimuth: float, rate: float) -> tuple[int, int]:
    rows, cols = project_points(view, np.array([r]), np.array([azimuth]), np.array([rate]))
    return int(rows[0]), int(cols[0])


def test_rd_row0_near_doppler_centre_and_approaching_above() -> None:
    assert project("rd", 10.0, 0.3, 0.0) == (51, 32)  # 10 m / 0.1953 = 51.2 -> row 51; zero velocity -> 32
    assert project("rd", 10.0, 0.3, -2.0) == (51, 32 + round(2.0 / DOPPLER_BIN))  # approaching: above 32
    assert project("rd", 10.0, 0.3, +2.0) == (51, 32 - round(2.0 / DOPPLER_BIN))  # receding: below
    assert project("rd", 0.05, 0.0, 0.0)[0] == 0 and project("rd", 49.8, 0.0, 0.0)[0] == 255


def test_doppler_wraps_like_the_fft() -> None:
    # -15 m/s is beyond the +-13.4 m/s span: 32 + 35.7 -> 68 -> 68 - 64 = 4
    assert project("rd", 10.0, 0.0, -15.0)[1] == 4


def test_ra_row0_far_columns_grow_with_azimuth() -> None:
    row, col = project("ra", 10.0, 0.0, 0.0)
    assert row == 255 - 51 and col == 128
    assert project("ra", 49.8, 0.0, 0.0)[0] == 0
    left, right = project("ra", 10.0, -0.5, 0.0)[1], project("ra", 10.0, 0.5, 0.0)[1]
    assert left < 128 < right
    assert right == int(np.argmin(np.abs(np.arcsin(-1 + np.arange(256) * 2 / 256) - 0.5)))


def test_points_off_the_map_are_dropped_and_duplicates_merged() -> None:
    rows, cols = project_points("rd", np.array([10.0, 10.01, 60.0]), np.zeros(3), np.zeros(3))
    assert rows.tolist() == [51] and cols.tolist() == [32]
    with pytest.raises(ConfigError, match="views rd and ra"):
        project_points("ad", np.ones(1), np.zeros(1), np.zeros(1))


def test_dense_rule_distance_below_three() -> None:
    dense = dense_from_sparse((64, 64), np.array([30]), np.array([20]))
    y, x = np.mgrid[:64, :64]
    expected = (y - 30) ** 2 + (x - 20) ** 2 < DENSE_RADIUS**2
    np.testing.assert_array_equal(dense, expected)
    assert dense.sum() == 25 and not dense[30, 23] and dense[32, 22]
    assert not dense_from_sparse((8, 8), np.zeros(0, int), np.zeros(0, int)).any()


def test_box_widened_when_degenerate() -> None:
    assert box_of((256, 64), np.array([10, 14]), np.array([5, 5])) == [[10, 4], [14, 6]]
    assert box_of((256, 64), np.array([0]), np.array([63])) == [[0, 62], [1, 63]]


def test_label_masks_one_hot_and_later_labels_win() -> None:
    far = ViewLabel(3, np.array([20]), np.array([20]))
    near = ViewLabel(1, np.array([21]), np.array([21]))
    sparse, dense = label_masks((40, 40), [far, near])
    assert sparse.shape == dense.shape == (4, 40, 40) and dense.dtype == np.uint8
    np.testing.assert_array_equal(sparse.sum(axis=0), 1)
    np.testing.assert_array_equal(dense.sum(axis=0), 1)
    labels = dense.argmax(axis=0)
    assert (
        labels[21, 21] == 1 and labels[20, 20] == 1 and labels[18, 18] == 3
    )  # overlap goes to the later label
    assert sparse.argmax(axis=0)[20, 20] == 3 and np.count_nonzero(sparse[1:]) == 2
