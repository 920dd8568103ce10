"""CA- and OS-CFAR: thresholds against a brute-force ring, detections, and the false-alarm rate on noise.

False-alarm tolerance: for independent exponential noise each cell raises a false alarm with probability
``pfa`` (alpha is computed for each cell's own training count, edges included), so the count over ``n`` cells
is close to binomial with mean ``n pfa``. Neighbouring decisions share training cells and are mildly
correlated, which widens the spread; the tests allow 6 binomial standard deviations (about 19 % of the mean
for CA, 30 % for OS): far beyond chance, yet tight enough to catch a wrong threshold factor (a CA factor 10 %
too small doubles the rate).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.dsp.cfar import ca_cfar, ca_threshold_factor, os_cfar, os_threshold_factor, training_cell_count
from record.errors import ConfigError, InputError


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
