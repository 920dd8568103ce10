"""Whole-object fading: a slow, temporally correlated fluctuation of each road user's return.

The point-scatterer templates of :mod:`record.sim.objects` give an object's geometry, its aspect lobes and its
micro-Doppler, but a real road user's return also varies *as a whole* from scan to scan: the interference of
its many unresolved parts changes with aspect and posture, and the ground bounce adds or cancels (two-ray
lobing). Radar practice describes this statistically (Swerling I: a Rayleigh amplitude, i.e. an exponentially
distributed power, constant during a scan and changing between scans); measured road users decorrelate over a
few hundred milliseconds, so consecutive frames at 30 Hz share the same fade and deep fades (power 10 dB under
the mean about 10 % of the time) last several frames.

Model: every object's scatterers are multiplied by one complex gain ``g(t)``, a Rician process with a
line-of-sight share ``K / (K + 1)`` and a diffuse part made of ``M`` sinusoids (a Jakes-type sum)::

    g(t) = sqrt(K / (K + 1)) + sqrt(1 / (K + 1)) * M**-0.5 * sum_m exp(j (2 pi f_m t + phi_m))
    f_m ~ Normal(0, (2 pi tau)**-2),  phi_m ~ Uniform(0, 2 pi)

so ``E|g|^2 = 1`` (the mean RCS is unchanged), the diffuse part is close to circular Gaussian (Rayleigh
amplitude for ``K = 0``) and its autocorrelation is ``exp(-dt^2 / (2 tau^2))``: ``tau`` is the correlation
time. The process depends only on the object's own draw and on time, so any frame can be simulated alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from record.errors import ConfigError, describe

__all__ = ["FadingProcess", "ObjectFading"]


@dataclass(frozen=True)
class FadingProcess:
    """One object's fading gain over time (build with :meth:`ObjectFading.draw`).

    Attributes:
        frequencies_hz: frequencies of the diffuse sinusoids ``[M]``, Hz.
        phases_rad: their phases at time 0 ``[M]``, radians.
        line_of_sight: amplitude of the steady part, ``sqrt(K / (K + 1))``.
        diffuse: amplitude of the diffuse part, ``sqrt(1 / (K + 1))``.
    """

    frequencies_hz: np.ndarray
    phases_rad: np.ndarray
    line_of_sight: float
    diffuse: float

    def gain(self, time_s: float | np.ndarray) -> np.ndarray:
        """Complex amplitude gain at ``time_s`` (seconds, scalar or ``[T]``), mean power 1."""
        t = np.asarray(time_s, dtype=np.float64)[..., None]
        phasors = np.exp(1j * (2.0 * np.pi * self.frequencies_hz * t + self.phases_rad))
        return self.line_of_sight + self.diffuse * phasors.sum(axis=-1) / math.sqrt(len(self.phases_rad))


@dataclass(frozen=True)
class ObjectFading:
    """Settings of whole-object fading.

    Attributes:
        correlation_s: correlation time ``tau`` of the diffuse part, seconds.
        rician_k: power ratio ``K`` of the steady to the diffuse part (0: Rayleigh fading, the deepest;
            large: little fading).
        components: sinusoids ``M`` of the diffuse part (16 approximate a Gaussian process well).
    """

    correlation_s: float = 0.25
    rician_k: float = 0.0
    components: int = 16

    def __post_init__(self) -> None:
        checks = {
            "correlation_s": math.isfinite(self.correlation_s) and self.correlation_s > 0,
            "rician_k": math.isfinite(self.rician_k) and self.rician_k >= 0,
            "components": self.components >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(describe(f"ObjectFading.{name}", "out of range", found=getattr(self, name),
                                           expected="correlation_s > 0, rician_k >= 0, components >= 1"))

    def draw(self, rng: np.random.Generator) -> FadingProcess:
        """A random realisation of the process (one per object)."""
        spread_hz = 1.0 / (2.0 * np.pi * self.correlation_s)
        return FadingProcess(
            rng.normal(0.0, spread_hz, self.components),
            rng.uniform(0.0, 2.0 * np.pi, self.components),
            math.sqrt(self.rician_k / (self.rician_k + 1.0)),
            math.sqrt(1.0 / (self.rician_k + 1.0)),
        )
