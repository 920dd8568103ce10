"""Capture configurations: published constants and bin <-> unit conversions both ways."""

from __future__ import annotations

import numpy as np
import pytest

from record.errors import ConfigError
from record.sensors import (
    CARRADA,
    ROD2021,
    AzimuthAxis,
    RangeAxis,
    VelocityAxis,
    Waveform,
    carrada_annotation_cells,
    get_capture,
)


def test_carrada_published_bin_sizes() -> None:
    w = CARRADA.waveform
    assert w.range_bin_m(256) == pytest.approx(0.1953125, rel=1e-12)
    assert w.range_rate_bin_mps(64) == pytest.approx(0.41968030701528203, rel=1e-12)
    assert w.n_samples == 256 and w.n_loops == 64 and w.n_tx == 2 and w.n_rx == 4 and w.n_virtual == 8
    assert w.max_range_m == pytest.approx(50.0)
    assert CARRADA.view("rd").shape == (256, 64)
    assert CARRADA.view("ra").shape == (256, 256)
    assert CARRADA.view("ad").shape == (256, 64)
    assert CARRADA.view("rad").shape == (256, 256, 64)


def test_rod2021_published_grids() -> None:
    ranges = ROD2021.range.values()
    assert ranges[0] == pytest.approx(0.6392, abs=1e-4)
    assert ranges[-1] == pytest.approx(27.6971, abs=1e-4)
    assert ROD2021.range.resolution_m == pytest.approx(0.213055, rel=1e-5)
    azimuths = np.rad2deg(ROD2021.azimuth.values())
    assert azimuths[0] == pytest.approx(-90.0, abs=1e-3) and azimuths[-1] == pytest.approx(90.0, abs=1e-3)
    assert azimuths[1] == pytest.approx(-79.82, abs=1e-2)
    assert azimuths[64] == pytest.approx(0.451, abs=1e-3)
    np.testing.assert_allclose(np.sin(np.deg2rad(azimuths)), np.linspace(-1, 1, 128), atol=1e-12)
    assert ROD2021.chirp_ids == (0, 64, 128, 192)
    assert ROD2021.velocity is None


def test_carrada_view_orientations() -> None:
    rd_range, rd_velocity = CARRADA.view("rd").axes
    ra_range, ra_azimuth = CARRADA.view("ra").axes
    # RD row 0 = near, RA row 0 = far
    assert rd_range.to_index(0.0) == 0 and rd_range.to_index(49.8) == 255
    assert ra_range.to_index(0.0) == 255 and ra_range.to_index(49.8) == 0
    # Doppler column 32 = zero; approaching (negative range rate) above the centre
    assert rd_velocity.to_index(0.0) == 32
    assert rd_velocity.to_index(-2 * 0.41968030701528203) == 34
    assert rd_velocity.to_index(+0.41968030701528203) == 31
    # azimuth column grows with theta, 128 = boresight
    assert ra_azimuth.to_index(0.0) == 128
    assert ra_azimuth.to_index(np.deg2rad(30)) > 128 > ra_azimuth.to_index(np.deg2rad(-30))


def test_carrada_published_annotation_cells() -> None:
    cells = carrada_annotation_cells(10.0, np.deg2rad(30.0), -1.2)  # 1.2 m/s approaching
    assert (cells.rd_row, cells.ra_row, cells.doppler_col, cells.angle_col) == (51, 205, 34, 170)
    assert cells.angle_col == 128 + int((np.pi / 6) / (np.pi / 256))
    # int() truncates towards zero: receding and left-of-boresight targets move by whole bins only
    cells = carrada_annotation_cells([0.1, 49.9, 50.0], np.deg2rad([-30.0, 0.0, 89.0]), [1.2, 0.0, -13.4])
    np.testing.assert_array_equal(cells.rd_row, [0, 255, 256])  # not clipped: 50 m is off the RD grid
    np.testing.assert_array_equal(cells.ra_row, [256, 1, 0])  # 256 - int(r / res): row 256 below one bin
    np.testing.assert_array_equal(cells.doppler_col, [30, 32, 63])
    np.testing.assert_array_equal(cells.angle_col, [86, 128, 254])
    assert all(c.dtype == np.int64 for c in cells)


def test_annotation_cells_against_the_physical_grid() -> None:
    """Published indices (truncation, linear angle) versus the nearest FFT bin (uniform in sin theta)."""
    rd_range, rd_velocity = CARRADA.view("rd").axes
    ra_range, ra_azimuth = CARRADA.view("ra").axes
    cells = carrada_annotation_cells(10.0, np.deg2rad(30.0), -1.2)
    assert (rd_range.to_index(10.0), ra_range.to_index(10.0)) == (51, 204)  # 255 - round(51.2)
    assert rd_velocity.to_index(-1.2) == 35 != cells.doppler_col  # round(2.86) against int(2.86)
    assert ra_azimuth.to_index(np.deg2rad(30.0)) == 192  # sin 30 deg = 0.5 -> 128 + 0.5 * 128
    ranges = np.arange(256) * CARRADA.range.resolution_m  # on bin centres only RA differs, by one row
    on_grid = carrada_annotation_cells(ranges, 0.0, 0.0)
    np.testing.assert_array_equal(on_grid.rd_row, rd_range.to_index(ranges))
    np.testing.assert_array_equal(on_grid.ra_row, ra_range.to_index(ranges) + 1)


@pytest.mark.parametrize(
    "axis",
    [
        CARRADA.range,
        CARRADA.view("ra").axes[0],
        ROD2021.range,
        CARRADA.velocity,
        CARRADA.azimuth,
        ROD2021.azimuth,
    ],
)
def test_round_trip_every_bin(axis: RangeAxis | VelocityAxis | AzimuthAxis) -> None:
    index = np.arange(axis.n_bins)
    physical = axis.to_physical(index)
    np.testing.assert_array_equal(axis.to_index(physical), index)
    np.testing.assert_allclose(axis.to_index(physical, fractional=True), index, atol=1e-9)


def test_fractional_positions_between_bins() -> None:
    r = CARRADA.range.to_physical(10.5)
    assert r == pytest.approx(10.5 * 0.1953125)
    assert CARRADA.range.to_index(r, fractional=True) == pytest.approx(10.5)
    assert CARRADA.range.to_index(r) == 11  # ties go up, as cruw-devkit's find_nearest
    sin_mid = np.sin(ROD2021.azimuth.to_physical(63.5))
    assert sin_mid == pytest.approx(0.0, abs=1e-12)


def test_nearest_azimuth_is_nearest_in_radians() -> None:
    grid = ROD2021.azimuth.values()
    rng = np.random.default_rng(0)
    angles = rng.uniform(-np.pi / 2, np.pi / 2, 1000)
    expected = np.abs(angles[:, None] - grid[None]).argmin(axis=1)
    np.testing.assert_array_equal(ROD2021.azimuth.to_index(angles), expected)


def test_get_capture_and_bad_values() -> None:
    assert get_capture("rod2021") is ROD2021
    with pytest.raises(ConfigError, match="unknown capture 'x'"):
        get_capture("x")
    with pytest.raises(ConfigError, match="unknown view"):
        CARRADA.view("xy")
    with pytest.raises(ConfigError, match="sample_rate_hz must be positive"):
        Waveform(77e9, 3e13, 0.0, 256, 64, 36e-6, 0.1, (0.0, 4.0), (0.0, 1.0, 2.0, 3.0))
