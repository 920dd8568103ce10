"""The Numba chain on simulated point targets: expected bins, published orientations, TDM, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from record.dsp.chain import CarradaChain, Rod2021Chain, conjugate_basis
from record.dsp.config import ChainConfig
from record.dsp.operators import steering_matrix
from record.errors import ConfigError, InputError
from record.sensors import CARRADA, ROD2021

from .scenes import complex_noise, point_target

DOPPLER_BIN = CARRADA.velocity.resolution_mps
CARRADA_RANGE_BIN = CARRADA.range.resolution_m
ROD_RANGE_BIN = ROD2021.range.resolution_m


def _argmax2d(image: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(image), image.shape))


@pytest.fixture(scope="module")
def carrada_chain() -> CarradaChain:
    return CarradaChain()


# (range bin, Doppler bins from zero: + approaching / - receding / 0, sin(azimuth) on the 256-bin grid)
CARRADA_TARGETS = [
    (60, 5, 0.25),  # approaching, right of boresight
    (60, -4, -0.25),  # receding, left
    (150, 0, 0.5),  # static, far right
    (200, 10, -0.5),  # fast approaching, far left
]


@pytest.mark.parametrize(("range_bin", "doppler_bins", "sin_azimuth"), CARRADA_TARGETS)
def test_carrada_point_target_lands_in_expected_bins(
    carrada_chain, range_bin, doppler_bins, sin_azimuth
) -> None:
    range_m = range_bin * CARRADA_RANGE_BIN
    range_rate = -doppler_bins * DOPPLER_BIN  # approaching = negative range rate
    azimuth = float(np.arcsin(sin_azimuth))
    views = carrada_chain(point_target(CARRADA, range_m, range_rate, azimuth), with_rad=True)

    rd_range, rd_velocity = CARRADA.view("rd").axes
    ra_range, ra_azimuth = CARRADA.view("ra").axes
    ad_azimuth, ad_velocity = CARRADA.view("ad").axes
    expected_rd = (int(rd_range.to_index(range_m)), int(rd_velocity.to_index(range_rate)))
    expected_ra = (int(ra_range.to_index(range_m)), int(ra_azimuth.to_index(azimuth)))
    expected_ad = (int(ad_azimuth.to_index(azimuth)), int(ad_velocity.to_index(range_rate)))

    # published orientation: RD row 0 near, RA row 0 far, Doppler 32 = zero with approaching above
    assert expected_rd == (range_bin, 32 + doppler_bins)
    assert expected_ra == (255 - range_bin, 128 + round(sin_azimuth * 128))
    for name, expected in (("rd", expected_rd), ("ra", expected_ra), ("ad", expected_ad)):
        assert _argmax2d(getattr(views, f"{name}_raw")[0]) == expected, name
        assert _argmax2d(getattr(views, f"{name}_processed")[0]) == expected, name
    assert _argmax2d(views.ra_numpy[0]) == expected_ra
    rad_peak = np.unravel_index(np.argmax(views.rad[0]), views.rad.shape[1:])
    assert tuple(int(i) for i in rad_peak) == (expected_ra[0], expected_ra[1], expected_rd[1])


def test_carrada_angle_columns_grow_with_azimuth(carrada_chain) -> None:
    columns = []
    for degrees in (-40, -10, 0, 15, 50):
        views = carrada_chain(point_target(CARRADA, 20.0, 0.0, np.deg2rad(degrees)))
        columns.append(_argmax2d(views.ra_raw[0])[1])
    assert columns == sorted(columns) and len(set(columns)) == len(columns)
    assert columns[2] == 128


def _carrada_azimuth_column(config: ChainConfig, range_rate: float, sin_azimuth: float) -> int:
    frame = point_target(CARRADA, 30 * CARRADA_RANGE_BIN, range_rate, float(np.arcsin(sin_azimuth)))
    return _argmax2d(CarradaChain(config)(frame).ra_raw[0])[1]


@pytest.mark.parametrize("doppler_bins", [12, -12])
def test_carrada_tdm_compensation_restores_moving_target_azimuth(doppler_bins) -> None:
    expected = 128 + 32  # sin(azimuth) = 0.25
    range_rate = -doppler_bins * DOPPLER_BIN
    compensated = _carrada_azimuth_column(ChainConfig(tdm_compensation=True), range_rate, 0.25)
    uncompensated = _carrada_azimuth_column(ChainConfig(tdm_compensation=False), range_rate, 0.25)
    assert compensated == expected
    assert abs(uncompensated - expected) >= 3  # the slot phase steers the beam by several bins
    # a static target needs no compensation
    assert _carrada_azimuth_column(ChainConfig(tdm_compensation=False), 0.0, 0.25) == expected


def test_carrada_static_clutter_removal_deletes_static_target_only() -> None:
    removing, keeping = CarradaChain(ChainConfig(static_clutter_removal=True)), CarradaChain()
    static = point_target(CARRADA, 20.0, 0.0, 0.3)
    moving = point_target(CARRADA, 20.0, -8 * DOPPLER_BIN, 0.3)
    assert removing(static).rd_raw.max() < 1e-6 * keeping(static).rd_raw.max()
    assert removing(moving).rd_raw.max() == pytest.approx(keeping(moving).rd_raw.max(), rel=1e-3)


# (kept range bin 0..127, azimuth column on arcsin(linspace(-1, 1, 128)))
ROD_TARGETS = [(20, 96), (20, 31), (100, 64), (5, 110)]


@pytest.mark.parametrize(("row", "column"), ROD_TARGETS)
@pytest.mark.parametrize("range_rate", [0.0, -1.5, 1.5])
def test_rod2021_point_target_lands_in_expected_bins(row, column, range_rate) -> None:
    range_m = (ROD2021.range.first_bin + row) * ROD_RANGE_BIN
    azimuth = float(ROD2021.azimuth.values()[column])
    maps = Rod2021Chain()(point_target(ROD2021, range_m, range_rate, azimuth, loops=list(ROD2021.chirp_ids)))
    assert maps.shape == (1, 4, 128, 128, 2) and maps.dtype == np.float32
    assert (int(ROD2021.range.to_index(range_m)), int(ROD2021.azimuth.to_index(azimuth))) == (row, column)
    magnitude = np.hypot(maps[..., 0], maps[..., 1])[0]
    for chirp in range(4):
        if range_rate == 0.0:
            assert _argmax2d(magnitude[chirp]) == (row, column)
        else:  # the TDM slot phase of a slow target shifts its peak by at most one column
            peak_row, peak_column = _argmax2d(magnitude[chirp])
            assert peak_row == row and abs(peak_column - column) <= 1


def test_rod2021_orientation() -> None:
    """Row 0 is the nearest kept range (0.64 m), column 0 is -90 deg, columns grow with azimuth."""
    near, left = ROD2021.range.values()[0], ROD2021.azimuth.values()[0]
    assert near == pytest.approx(0.639, abs=1e-3) and np.rad2deg(left) == pytest.approx(-90.0)
    columns = []
    for degrees in (-50, -5, 30):
        frame = point_target(ROD2021, 10.0, 0.0, np.deg2rad(degrees), loops=list(ROD2021.chirp_ids))
        magnitude = np.abs(Rod2021Chain()(frame)[0, 0].view(np.complex64)[..., 0])
        columns.append(_argmax2d(magnitude)[1])
    assert columns == sorted(columns) and columns[0] < 64 < columns[2]


def _rod_azimuth_column(config: ChainConfig, range_rate: float, column: int) -> int:
    range_m = (ROD2021.range.first_bin + 40) * ROD_RANGE_BIN
    azimuth = float(ROD2021.azimuth.values()[column])
    frame = point_target(ROD2021, range_m, range_rate, azimuth)  # all 255 loops
    maps = Rod2021Chain(config)(frame)
    return _argmax2d(np.hypot(maps[0, 1, ..., 0], maps[0, 1, ..., 1]))[1]


@pytest.mark.parametrize("range_rate", [-4.0, 4.0])
def test_rod2021_tdm_retiming_restores_moving_target_azimuth(range_rate) -> None:
    column = 96
    compensated = _rod_azimuth_column(ChainConfig(tdm_compensation=True), range_rate, column)
    uncompensated = _rod_azimuth_column(ChainConfig(tdm_compensation=False), range_rate, column)
    assert compensated == column
    assert abs(uncompensated - column) >= 2


def test_rod2021_accepts_all_loops_or_kept_loops() -> None:
    rng = np.random.default_rng(3)
    every_loop = complex_noise(rng, (2, 255, 2, 4, 128))
    kept = every_loop[:, list(ROD2021.chirp_ids)]
    chain = Rod2021Chain()
    np.testing.assert_array_equal(chain(every_loop), chain(kept))
    single = chain(kept[0])
    assert single.shape == (1, 4, 128, 128, 2)
    np.testing.assert_array_equal(single[0], chain(kept)[0])


def test_carrada_single_frame_equals_batch(carrada_chain) -> None:
    n_frames = CarradaChain.frames_per_call + 2  # the batch is split across kernel calls
    frames = complex_noise(np.random.default_rng(4), (n_frames, 64, 2, 4, 256))
    batch = carrada_chain(frames)
    single = carrada_chain(frames[-1])
    assert single.rd_raw.shape == (1, 256, 64) and single.rad is None and batch.n_frames == n_frames
    for name in ("rd_raw", "ra_raw", "ad_raw", "ra_numpy"):
        np.testing.assert_allclose(getattr(single, name)[0], getattr(batch, name)[-1], rtol=1e-5)


def test_steering_matrix_equals_zero_padded_fft() -> None:
    rng = np.random.default_rng(5)
    snapshots = rng.standard_normal((10, 8)) + 1j * rng.standard_normal((10, 8))
    steering = steering_matrix(np.arange(8), CARRADA.azimuth.sin_values(), np.ones(8))
    via_fft = np.fft.fftshift(np.fft.ifft(snapshots, n=256, axis=-1) * 256, axes=-1)
    np.testing.assert_allclose(snapshots @ steering, via_fft, atol=1e-9)


@pytest.mark.parametrize(
    ("sin_values", "n_basis"),
    [
        (CARRADA.azimuth.sin_values(), 129),  # symmetric grid, two real columns (sin = -1 and 0)
        (ROD2021.azimuth.sin_values(), 64),  # symmetric grid, no real column
        (np.linspace(-0.3, 0.9, 50), 50),  # no symmetry: every column computed
    ],
)
def test_conjugate_basis_rebuilds_steering_matrix(sin_values, n_basis) -> None:
    steering = steering_matrix(np.arange(8), sin_values, np.hanning(8) + 0.1)
    steer, source, sign = conjugate_basis(steering)
    assert steer.shape == (2 * n_basis, 8)
    basis = steer[:n_basis] + 1j * steer[n_basis:]  # [B, V]
    rebuilt = basis[source].T  # [V, A]
    rebuilt = np.where(sign[None, :] > 0, rebuilt, np.conj(rebuilt))
    np.testing.assert_allclose(rebuilt, steering, atol=1e-6)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((1, 64, 2, 4, 256), np.int16), "complex64"),
        (np.zeros((1, 64, 2, 4, 256), np.float32), "complex64"),
        (np.zeros((1, 64, 2, 4, 255), np.complex64), r"\[frames, 64, 2, 4, 256\]"),
        (np.zeros((64, 8, 256), np.complex64), r"found \[64, 8, 256\]"),
        ([[1j]], "numpy array"),
    ],
)
def test_carrada_bad_input_names_expectation(carrada_chain, bad, message) -> None:
    with pytest.raises(InputError, match=message):
        carrada_chain(bad)


def test_chains_reject_non_finite_samples(carrada_chain) -> None:
    frame = np.zeros((64, 2, 4, 256), np.complex64)
    frame[3, 1, 2, 7] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        carrada_chain(frame)
    kept = np.zeros((4, 2, 4, 128), np.complex128)
    kept[0, 0, 0, 0] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        Rod2021Chain()(kept)


def test_rod2021_rejects_wrong_loop_count_and_impossible_tdm() -> None:
    with pytest.raises(InputError, match="255 or 4"):
        Rod2021Chain()(np.zeros((1, 10, 2, 4, 128), np.complex64))
    with pytest.raises(ConfigError, match="needs every loop"):
        Rod2021Chain(ChainConfig(tdm_compensation=True))(np.zeros((1, 4, 2, 4, 128), np.complex64))


def test_config_rejects_unknown_window() -> None:
    with pytest.raises(ConfigError, match="ChainConfig.angle_window"):
        ChainConfig(angle_window="kaiser")
    with pytest.raises(ConfigError, match="tdm_compensation"):
        ChainConfig(tdm_compensation="yes")
