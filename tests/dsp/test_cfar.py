"""CA- and OS-CFAR: thresholds against a brute-force ring, detections, and the false-alarm rate on noise.

False-alarm tolerance: for independent exponential (or ``Gamma(looks)``) noise each cell raises a false alarm
with probability
``pfa`` (alpha is computed for each cell's own training count, edges included), so the count over ``n`` cells
is close to binomial with mean ``n pfa``. Neighbouring decisions share training cells and are mildly
correlated, which widens the spread; the tests allow 6 binomial standard deviations (about 19 % of the mean
for CA, 30 % for OS): far beyond chance, yet tight enough to catch a wrong threshold factor (a CA factor 10 %
too small doubles the rate). On ``CarradaChain`` noise the range and Doppler windows correlate neighbouring
cells, so those tests only ask for the rate within a factor 2 of ``pfa``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.dsp.cfar import (
    _os_gamma_factor,
    ca_cfar,
    ca_threshold_factor,
    os_cfar,
    os_threshold_factor,
    rd_noise_looks,
    training_cell_count,
)
from record.dsp.chain import CarradaChain
from record.dsp.config import ChainConfig
from record.dsp.windows import window
from record.errors import ConfigError, InputError

from .scenes import complex_noise


def _ring(power: np.ndarray, r: int, d: int, guard: tuple[int, int], train: tuple[int, int]) -> np.ndarray:
    """Training cells of (r, d) written out directly: range clamped, Doppler wrapped."""
    n_range, n_doppler = power.shape
    cells = []
    for i in range(r - guard[0] - train[0], r + guard[0] + train[0] + 1):
        if not 0 <= i < n_range:
            continue
        for j in range(d - guard[1] - train[1], d + guard[1] + train[1] + 1):
            if abs(i - r) <= guard[0] and abs(j - d) <= guard[1]:
                continue
            cells.append(power[i, j % n_doppler])
    return np.array(cells)


CELLS = [(0, 0), (1, 63), (2, 31), (40, 5), (62, 60), (63, 1)]


def test_ca_threshold_matches_brute_force() -> None:
    power = np.random.default_rng(0).exponential(size=(64, 64)).astype(np.float32)
    guard, train, pfa = (2, 1), (6, 3), 1e-3
    mask, threshold = ca_cfar(power, guard=guard, train=train, pfa=pfa, return_threshold=True)
    for r, d in CELLS:
        cells = _ring(power, r, d, guard, train)
        expected = ca_threshold_factor(cells.size, pfa) * cells.mean()
        assert threshold[r, d] == pytest.approx(expected, rel=1e-5), (r, d)
    np.testing.assert_array_equal(mask, power > threshold)


def test_os_threshold_matches_brute_force() -> None:
    power = np.random.default_rng(1).exponential(size=(64, 64)).astype(np.float32)
    guard, train, pfa, rank = (1, 1), (3, 4), 1e-3, 0.75
    mask, threshold = os_cfar(power, guard=guard, train=train, pfa=pfa, rank=rank, return_threshold=True)
    for r, d in CELLS:
        cells = np.sort(_ring(power, r, d, guard, train))
        k = math.ceil(rank * cells.size)
        expected = os_threshold_factor(cells.size, k, pfa) * cells[k - 1]
        assert threshold[r, d] == pytest.approx(expected, rel=1e-5), (r, d)
    np.testing.assert_array_equal(mask, power > threshold)


def test_threshold_factors() -> None:
    assert training_cell_count((2, 2), (8, 4)) == 21 * 13 - 25 == 248
    assert ca_threshold_factor(248, 1e-4) == pytest.approx(9.38, abs=0.01)
    # one training cell: Pfa = 1 / (1 + alpha)
    assert os_threshold_factor(1, 1, 0.01) == pytest.approx(99.0)
    n, k, pfa = 100, 75, 1e-4
    alpha = os_threshold_factor(n, k, pfa)
    assert np.prod([(n - i) / (n - i + alpha) for i in range(k)]) == pytest.approx(pfa, rel=1e-9)


def _assert_false_alarm_rate(mask: np.ndarray, pfa: float) -> None:
    n = mask.size
    expected = n * pfa
    sigma = math.sqrt(n * pfa * (1 - pfa))
    assert abs(int(mask.sum()) - expected) <= 6 * sigma, (int(mask.sum()), expected)


def test_ca_false_alarm_rate_on_exponential_noise() -> None:
    noise = np.random.default_rng(2).exponential(scale=3.0, size=(60, 256, 64)).astype(np.float32)
    _assert_false_alarm_rate(ca_cfar(noise, pfa=1e-3), 1e-3)


def test_os_false_alarm_rate_on_exponential_noise() -> None:
    noise = np.random.default_rng(3).exponential(scale=0.5, size=(10, 64, 64)).astype(np.float32)
    _assert_false_alarm_rate(os_cfar(noise, guard=(1, 1), train=(4, 4), pfa=1e-2), 1e-2)


def test_single_look_reduces_to_closed_forms() -> None:
    for n in (1, 16, 248):
        for pfa in (1e-2, 1e-4, 1e-8):
            expected = n * (pfa ** (-1 / n) - 1)
            assert ca_threshold_factor(n, pfa, looks=1.0) == pytest.approx(expected, rel=1e-9)
    # the Gamma quadrature at one look against the product formula
    for n, k, pfa in [(1, 1, 1e-2), (100, 75, 1e-4), (248, 186, 1e-6)]:
        assert _os_gamma_factor(n, k, 1.0, pfa) == pytest.approx(os_threshold_factor(n, k, pfa), rel=1e-8)
    # one training cell: OS and CA are the same detector, whatever the looks
    for looks in (2.5, 8.0):
        expected = ca_threshold_factor(1, 1e-3, looks)
        assert os_threshold_factor(1, 1, 1e-3, looks) == pytest.approx(expected, rel=1e-8)


GAMMA_DETECTORS = [(ca_cfar, {}), (os_cfar, {"guard": (1, 1), "train": (4, 4)})]


@pytest.mark.parametrize("looks", [8.0, 2.5])
@pytest.mark.parametrize(("detector", "window_kwargs"), GAMMA_DETECTORS)
def test_false_alarm_rate_on_gamma_noise(detector, window_kwargs, looks) -> None:
    """``Gamma(looks)`` noise on about 1e6 cells: the design rate with ``looks``, far below it without."""
    noise = np.random.default_rng(6).gamma(looks, 2.0, size=(64, 256, 64)).astype(np.float32)
    _assert_false_alarm_rate(detector(noise, pfa=1e-3, looks=looks, **window_kwargs), 1e-3)
    single_look = detector(noise[:8], pfa=1e-3, **window_kwargs)
    assert single_look.mean() < 1e-3 / 10


@pytest.fixture(scope="module")
def carrada_noise_rd() -> np.ndarray:
    """``rd_raw`` of 16 noise-only CARRADA frames ``[16, 256, 64]``."""
    return CarradaChain()(complex_noise(np.random.default_rng(7), (16, 64, 2, 4, 256))).rd_raw


def test_rd_noise_looks(carrada_noise_rd) -> None:
    assert rd_noise_looks() == pytest.approx(8.0, rel=1e-12)
    hann = window("hann", 8)
    expected = np.sum(hann**2) ** 2 / np.sum(hann**4)
    assert rd_noise_looks(ChainConfig(angle_window="hann")) == pytest.approx(expected, rel=1e-12)
    # Gamma(L) has variance / mean^2 = 1 / L
    variance_ratio = carrada_noise_rd.var() / carrada_noise_rd.mean() ** 2
    assert variance_ratio == pytest.approx(1 / rd_noise_looks(), rel=0.03)


@pytest.mark.parametrize("pfa", [1e-2, 1e-3])
@pytest.mark.parametrize("detector", [ca_cfar, os_cfar])
def test_false_alarm_rate_on_carrada_chain_noise(carrada_noise_rd, detector, pfa) -> None:
    rate = detector(carrada_noise_rd, pfa=pfa, looks=rd_noise_looks()).mean()
    assert pfa / 2 <= rate <= 2 * pfa, rate
    assert detector(carrada_noise_rd[:4], pfa=pfa).mean() < pfa / 10


TARGETS = [(1, 0), (30, 63), (128, 32), (200, 10), (254, 50)]  # range edges, Doppler wrap, interior


@pytest.mark.parametrize("detector", [ca_cfar, os_cfar])
def test_injected_targets_are_detected(detector) -> None:
    power = np.random.default_rng(4).exponential(size=(256, 64)).astype(np.float32)
    for r, d in TARGETS:
        power[r, d] = 300.0  # 25 dB above the mean noise power
    mask = detector(power, pfa=1e-4)
    assert all(mask[r, d] for r, d in TARGETS)
    assert mask.sum() <= len(TARGETS) + 5
    batched = detector(np.stack([power, power]), pfa=1e-4)
    assert batched.shape == (2, 256, 64)
    np.testing.assert_array_equal(batched[1], mask)


def test_os_cfar_keeps_a_target_masked_by_a_neighbour() -> None:
    """A weak target in a strong one's training ring: CA's mean is inflated, OS's order statistic is not."""
    power = np.random.default_rng(5).exponential(size=(128, 64)).astype(np.float32)
    power[60, 20], power[66, 20] = 5000.0, 60.0
    assert os_cfar(power, pfa=1e-4)[66, 20]
    assert not ca_cfar(power, pfa=1e-4)[66, 20]


@pytest.mark.parametrize(
    ("power", "kwargs", "error", "message"),
    [
        (-np.ones((32, 32)), {}, InputError, "non-negative linear power"),
        (np.full((32, 32), np.nan), {}, InputError, "finite"),
        (np.ones(32), {}, InputError, "2-D or 3-D numpy array"),
        (np.ones((32, 32), complex), {}, InputError, "must be real"),
        (np.ones((32, 8)), {"train": (8, 4)}, ConfigError, "larger than the map"),
        (np.ones((32, 32)), {"train": (0, 0)}, ConfigError, "bad CFAR window"),
        (np.ones((32, 32)), {"pfa": 1.5}, ConfigError, r"false-alarm probability.*expected \(0, 1\)"),
    ],
)
def test_bad_arguments(power, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        ca_cfar(power, **kwargs)


@pytest.mark.parametrize("looks", [0, -1.0, math.nan, math.inf, "8"])
@pytest.mark.parametrize("detector", [ca_cfar, os_cfar])
def test_bad_looks(detector, looks) -> None:
    with pytest.raises(ConfigError, match=rf"{detector.__name__}: looks .* must be a finite positive number"):
        detector(np.ones((32, 32)), looks=looks)
