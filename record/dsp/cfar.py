"""2-D CFAR detectors on range-Doppler maps of linear power (square-law detector).

Both detectors compare each cell under test (CUT) with a noise level estimated from the training cells of a
rectangular ring around it: a box of half-widths ``guard + train`` minus the guard box of half-widths
``guard`` (which holds the CUT). The Doppler axis (last) wraps around; the range axis (second to last) is
clamped: near the first and last range rows the ring is cut off and only the ``N`` cells inside the map count.

Noise model: every cell's noise power is ``Gamma(L)`` (``L = looks`` independent exponential looks summed
non-coherently; ``L = 1`` is single-look square-law power). ``CarradaViews.rd_raw`` sums the power over the
angle bins, i.e. (Parseval) over the 8 virtual antennas: pass ``looks=rd_noise_looks()`` (8 with the default
chain configuration); with the single-look factors ``Gamma(8)`` noise gives far fewer false alarms than
``pfa`` (CA-CFAR, 248 training cells: 2e-9 at a design 1e-2, 3e-16 at 1e-3), i.e. wasted sensitivity.

* CA-CFAR: threshold ``alpha * mean(training)``. With ``X ~ Gamma(L)`` and the training sum
  ``Z ~ Gamma(N L)``, ``X / Z`` is beta-prime, so ``Pfa = I_v(N L, L)`` with ``v = N / (N + alpha)``
  (regularised incomplete beta), solved by ``betaincinv``; ``L = 1`` gives ``N (Pfa^(-1/N) - 1)``. Box sums
  come from a summed-area table (float64, so differences of running sums stay accurate for maps spanning well
  over 100 dB), and the cost does not depend on the window size.
* OS-CFAR (Rohling 1983): threshold ``alpha * x_(k)``, the k-th smallest training value with
  ``k = ceil(rank * N)``. ``L = 1``: ``alpha`` solves ``prod_{i<k} (N - i) / (N - i + alpha) = Pfa``;
  otherwise ``Pfa = int Q(L, alpha y) f_k(y) dy`` (``Q`` the regularised upper incomplete gamma, ``f_k`` the
  density of the k-th order statistic of ``N`` iid ``Gamma(L)``), integrated numerically.

For independent ``Gamma(L)`` noise both keep the false-alarm probability of every cell at ``pfa``, the edges
included, since ``alpha`` is computed for that cell's own ``N``. Range and Doppler windows correlate
neighbouring cells, which widens the spread of the training estimate and raises the rate somewhat: on 128
noise-only ``CarradaChain`` frames both detectors measured 1.06x ``pfa`` at 1e-2, 1.13x at 1e-3 and 1.17x at
1e-4 (default window; with a Hann angle window, where ``Gamma(3.6)`` only approximates the noise, 1.25x at
1e-2 and 1.6x at 1e-3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from numbers import Real

import numpy as np
from numba import njit, prange
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import betaincinv, gammainc, gammaincc, gammaincinv, gammaln

from record.dsp.config import CARRADA_DEFAULT, ChainConfig
from record.dsp.operators import steering_matrix
from record.dsp.windows import window
from record.errors import ConfigError, InputError, describe
from record.sensors import CARRADA, CaptureConfig

__all__ = [
    "ca_cfar",
    "ca_threshold_factor",
    "os_cfar",
    "os_threshold_factor",
    "rd_noise_looks",
    "training_cell_count",
]


def ca_threshold_factor(n_train: int, pfa: float, looks: float = 1.0) -> float:
    """CA-CFAR factor ``alpha`` for ``N`` training cells and ``Gamma(looks)`` noise.

    Solves ``I_v(N L, L) = Pfa`` with ``v = N / (N + alpha)``; ``L = 1`` gives ``N (Pfa^(-1/N) - 1)``.
    """
    v = float(betaincinv(n_train * looks, looks, pfa))
    return n_train * (1.0 - v) / v


def os_threshold_factor(n_train: int, k: int, pfa: float, looks: float = 1.0) -> float:
    """OS-CFAR factor ``alpha`` (k-th smallest of ``N`` training cells) for ``Gamma(looks)`` noise.

    ``looks = 1``: ``prod_{i<k} (N - i) / (N - i + alpha) = Pfa``; otherwise the order-statistic integral of
    the module docstring, solved numerically (cached).
    """
    if looks == 1.0:
        remaining = n_train - np.arange(k, dtype=np.float64)
        return _solve_factor(lambda alpha: float(np.sum(np.log(remaining / (remaining + alpha)))), pfa)
    return _os_gamma_factor(n_train, k, float(looks), pfa)


@lru_cache(maxsize=256)
def _os_gamma_factor(n_train: int, k: int, looks: float, pfa: float) -> float:
    """OS-CFAR factor for ``Gamma(looks)`` noise by quadrature over the k-th order statistic ``y``."""
    log_binomial = gammaln(n_train + 1) - gammaln(k) - gammaln(n_train - k + 1) - gammaln(looks)
    split = float(gammaincinv(looks, (k - 0.5) / n_train))  # near the order statistic's mode

    def log_pfa(alpha: float) -> float:
        def integrand(y: float) -> float:
            below, above = gammainc(looks, y), gammaincc(looks, y)
            if below <= 0.0 or above <= 0.0:
                return 0.0
            log_density = (k - 1) * math.log(below) + (n_train - k) * math.log(above)
            log_density += log_binomial + (looks - 1.0) * math.log(y) - y
            return float(gammaincc(looks, alpha * y)) * math.exp(log_density)

        lower = quad(integrand, 0.0, split, epsabs=0.0, epsrel=1e-11, limit=200)[0]
        upper = quad(integrand, split, np.inf, epsabs=0.0, epsrel=1e-11, limit=200)[0]
        return math.log(lower + upper)

    return _solve_factor(log_pfa, pfa)


def _solve_factor(log_pfa: Callable[[float], float], pfa: float) -> float:
    """The ``alpha > 0`` with ``log_pfa(alpha) = log(pfa)``; ``log_pfa`` decreases from 0 at ``alpha = 0``."""

    def excess(alpha: float) -> float:
        return log_pfa(alpha) - math.log(pfa)

    upper = 1.0
    while excess(upper) > 0.0:
        upper *= 2.0
    return brentq(excess, 0.0, upper, xtol=1e-12, rtol=1e-12)


def rd_noise_looks(config: ChainConfig = CARRADA_DEFAULT, capture: CaptureConfig = CARRADA) -> float:
    """Effective looks of the noise in ``CarradaChain(config, capture)``'s ``rd_raw`` (for ``looks=``).

    An RD cell is the Hermitian form ``y^H M y`` of the ``V`` virtual antennas' spectra ``y`` (iid circular
    Gaussian noise), ``M = S S^H`` with ``S`` the tapered steering matrix ``[V, A]``; its moment-matched Gamma
    shape is ``tr(M)^2 / tr(M^2)``. On CARRADA's full sin grid ``S S^H = A diag(w^2)``, so this is
    ``(sum w^2)^2 / sum w^4`` of the angle window ``w``: 8 for ``"none"`` (exact ``Gamma(8)``), 3.6 for
    ``"hann"`` (approximate). Static clutter removal leaves it unchanged but lowers the noise near zero
    Doppler.
    """
    waveform = capture.waveform
    taper = window(config.angle_window, waveform.n_virtual)
    steering = steering_matrix(waveform.virtual_positions(), capture.azimuth.sin_values(), taper)
    gram = steering @ steering.conj().T
    return float(np.trace(gram).real ** 2 / np.sum(np.abs(gram) ** 2))


def training_cell_count(guard: tuple[int, int], train: tuple[int, int]) -> int:
    """Training cells of a full (unclamped) ring: ``(2(Gr+Tr)+1)(2(Gd+Td)+1) - (2Gr+1)(2Gd+1)``."""
    (guard_r, guard_d), (train_r, train_d) = guard, train
    outer = (2 * (guard_r + train_r) + 1) * (2 * (guard_d + train_d) + 1)
    return outer - (2 * guard_r + 1) * (2 * guard_d + 1)


def _check_map(power: object, where: str) -> np.ndarray:
    """Validate a linear power map; return it as float32 ``[F, range, Doppler]``."""
    if not isinstance(power, np.ndarray) or power.ndim not in (2, 3):
        found = getattr(power, "shape", type(power).__name__)
        expected = "[range, Doppler] or [F, range, Doppler]"
        problem = "power map must be a 2-D or 3-D numpy array"
        raise InputError(describe(where, problem, found=found, expected=expected))
    if not (np.issubdtype(power.dtype, np.floating) or np.issubdtype(power.dtype, np.integer)):
        raise InputError(describe(where, "power map must be real", found=power.dtype, expected="float32"))
    maps = np.ascontiguousarray(power.reshape((-1,) + power.shape[-2:]), dtype=np.float32)
    if not np.isfinite(maps).all() or (maps < 0).any():
        raise InputError(describe(where, "power map must hold finite, non-negative linear power (not dB)"))
    return maps


def _check_window(
    shape: tuple[int, ...], guard: tuple[int, int], train: tuple[int, int], pfa: float, where: str
) -> None:
    """Validate the CFAR window against the map ``[F, range, Doppler]`` and the false-alarm probability."""
    found = f"guard {guard}, train {train}"
    if len(guard) != 2 or len(train) != 2 or min(*guard, *train) < 0 or train[0] + train[1] == 0:
        expected = "non-negative (range, Doppler) half-widths with some training cells"
        raise ConfigError(describe(where, "bad CFAR window", found=found, expected=expected))
    n_range, n_doppler = shape[1:]
    if 2 * (guard[1] + train[1]) + 1 > n_doppler or guard[0] + train[0] >= n_range:
        expected = f"a window inside {n_range} x {n_doppler} (Doppler wraps once)"
        raise ConfigError(describe(where, "CFAR window larger than the map", found=found, expected=expected))
    if not 0.0 < pfa < 1.0:
        problem = "false-alarm probability out of range"
        raise ConfigError(describe(where, problem, found=pfa, expected="(0, 1)"))


def _check_looks(looks: float, where: str) -> float:
    """Validate the number of noise looks; return it as a float."""
    if isinstance(looks, bool) or not isinstance(looks, Real) or not (math.isfinite(looks) and looks > 0):
        problem = "looks (independent exponential looks per cell) must be a finite positive number"
        expected = "> 0, e.g. 1 or rd_noise_looks()"
        raise ConfigError(describe(where, problem, found=repr(looks), expected=expected))
    return float(looks)


@njit(cache=True)
def _ring_rows(r, n_range, guard_r, train_r):
    """Clamped row spans [outer_start, outer_stop) and [guard_start, guard_stop) of range row ``r``."""
    outer_start = max(0, r - guard_r - train_r)
    outer_stop = min(n_range, r + guard_r + train_r + 1)
    guard_start = max(0, r - guard_r)
    guard_stop = min(n_range, r + guard_r + 1)
    return outer_start, outer_stop, guard_start, guard_stop


@njit(parallel=True, cache=True)
def _ca_kernel(power, guard_r, guard_d, train_r, train_d, alpha, threshold):
    n_frames, n_range, n_doppler = power.shape
    reach = guard_d + train_d
    outer_width = 2 * reach + 1
    guard_width = 2 * guard_d + 1
    for f in prange(n_frames):
        # summed-area table of the map extended by `reach` wrapped columns on each side
        table = np.zeros((n_range + 1, n_doppler + 2 * reach + 1))
        for i in range(n_range):
            row_sum = 0.0
            for j in range(n_doppler + 2 * reach):
                row_sum += power[f, i, (j - reach) % n_doppler]
                table[i + 1, j + 1] = table[i, j + 1] + row_sum
        for r in range(n_range):
            outer_start, outer_stop, guard_start, guard_stop = _ring_rows(r, n_range, guard_r, train_r)
            n_train = (outer_stop - outer_start) * outer_width - (guard_stop - guard_start) * guard_width
            for d in range(n_doppler):
                # d sits at extended column d + reach: outer box [d, d + outer_width), guard from d + train_d
                outer = (table[outer_stop, d + outer_width] - table[outer_start, d + outer_width]
                         - table[outer_stop, d] + table[outer_start, d])
                g0, g1 = d + train_d, d + train_d + guard_width
                inner = (table[guard_stop, g1] - table[guard_start, g1]
                         - table[guard_stop, g0] + table[guard_start, g0])
                threshold[f, r, d] = alpha[n_train] * (outer - inner) / n_train


@njit(cache=True)
def _kth_smallest(values, k):
    """The k-th smallest (0-based) of ``values``, which are reordered in place (Hoare's quickselect)."""
    lo, hi = 0, values.shape[0] - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return values[k]


@njit(parallel=True, cache=True)
def _os_kernel(power, guard_r, guard_d, train_r, train_d, rank_k, alpha, threshold):
    n_frames, n_range, n_doppler = power.shape
    for row in prange(n_frames * n_range):
        f = row // n_range
        r = row % n_range
        outer_start, outer_stop, guard_start, guard_stop = _ring_rows(r, n_range, guard_r, train_r)
        cells = np.empty(alpha.shape[0], np.float32)
        for d in range(n_doppler):
            n_train = 0
            for i in range(outer_start, outer_stop):
                in_guard_rows = guard_start <= i < guard_stop
                for offset in range(-guard_d - train_d, guard_d + train_d + 1):
                    if in_guard_rows and -guard_d <= offset <= guard_d:
                        continue
                    cells[n_train] = power[f, i, (d + offset) % n_doppler]
                    n_train += 1
            k = rank_k[n_train]
            threshold[f, r, d] = alpha[n_train] * _kth_smallest(cells[:n_train], k - 1)


def _factor_table(
    n_range: int, guard: tuple[int, int], train: tuple[int, int], factor: Callable[[int], float]
) -> np.ndarray:
    """``factor(N)`` at index ``N`` for every training-cell count a clamped ring can have (inf elsewhere)."""
    (guard_r, guard_d), (train_r, train_d) = guard, train
    outer_width, guard_width = 2 * (guard_d + train_d) + 1, 2 * guard_d + 1
    table = np.full(training_cell_count(guard, train) + 1, np.inf)
    for r in range(n_range):
        outer_rows = min(n_range, r + guard_r + train_r + 1) - max(0, r - guard_r - train_r)
        guard_rows = min(n_range, r + guard_r + 1) - max(0, r - guard_r)
        n_train = outer_rows * outer_width - guard_rows * guard_width
        if not np.isfinite(table[n_train]):
            table[n_train] = factor(n_train)
    return table


def _detect(power: np.ndarray, threshold: np.ndarray, shape: tuple[int, ...], return_threshold: bool):
    mask = (power > threshold).reshape(shape)
    return (mask, threshold.reshape(shape)) if return_threshold else mask


def ca_cfar(
    power: np.ndarray,
    *,
    guard: tuple[int, int] = (2, 2),
    train: tuple[int, int] = (8, 4),
    pfa: float = 1e-4,
    looks: float = 1.0,
    return_threshold: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cell-averaging CFAR on linear power maps.

    Args:
        power: linear power ``[range, Doppler]`` or ``[F, range, Doppler]`` (e.g. ``CarradaViews.rd_raw``).
        guard: guard half-widths (range, Doppler) around the cell under test.
        train: training half-widths (range, Doppler) outside the guard box.
        pfa: design false-alarm probability per cell.
        looks: independent exponential looks summed non-coherently in each cell (noise power
            ``Gamma(looks)``): 1 for single-look power, :func:`rd_noise_looks` for ``CarradaViews.rd_raw``.
        return_threshold: also return the float32 threshold map.

    Returns:
        boolean detection mask shaped like ``power`` (and the threshold map).
    """
    shape = power.shape if isinstance(power, np.ndarray) else ()
    maps = _check_map(power, "ca_cfar")
    _check_window(maps.shape, guard, train, pfa, "ca_cfar")
    looks = _check_looks(looks, "ca_cfar")
    alpha = _factor_table(maps.shape[1], guard, train, lambda n: ca_threshold_factor(n, pfa, looks))
    threshold = np.empty_like(maps)
    _ca_kernel(maps, guard[0], guard[1], train[0], train[1], alpha, threshold)
    return _detect(maps, threshold, shape, return_threshold)


def os_cfar(
    power: np.ndarray,
    *,
    guard: tuple[int, int] = (2, 2),
    train: tuple[int, int] = (8, 4),
    pfa: float = 1e-4,
    rank: float = 0.75,
    looks: float = 1.0,
    return_threshold: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Ordered-statistic CFAR on linear power maps (robust to other targets in the training ring).

    Args:
        power, guard, train, pfa, looks, return_threshold: as :func:`ca_cfar`.
        rank: the order statistic as a fraction of the training cells, ``k = ceil(rank * N)``.

    Returns:
        boolean detection mask shaped like ``power`` (and the threshold map).
    """
    shape = power.shape if isinstance(power, np.ndarray) else ()
    maps = _check_map(power, "os_cfar")
    _check_window(maps.shape, guard, train, pfa, "os_cfar")
    looks = _check_looks(looks, "os_cfar")
    if not 0.0 < rank <= 1.0:
        raise ConfigError(describe("os_cfar", "rank out of range", found=rank, expected="0 < rank <= 1"))
    counts = range(training_cell_count(guard, train) + 1)
    rank_k = np.array([min(n, max(1, math.ceil(rank * n))) for n in counts])
    alpha = _factor_table(
        maps.shape[1], guard, train, lambda n: os_threshold_factor(n, int(rank_k[n]), pfa, looks)
    )
    threshold = np.empty_like(maps)
    _os_kernel(maps, guard[0], guard[1], train[0], train[1], rank_k, alpha, threshold)
    return _detect(maps, threshold, shape, return_threshold)
