"""Object Location Similarity (OLS), the ROD2021 counterpart of IoU.

``OLS = exp(-d^2 / (2 s^2 kappa))`` with ``d`` the bird's-eye-view distance between two objects of one class
(``x = r sin(theta)``, ``y = r cos(theta)``), ``s`` the range of the reference object (the ground truth when
scoring, the kept peak in location-based NMS) and ``kappa = size / 100`` from the class size of cruw-devkit's
``object_config.json``. The arithmetic follows cruw-devkit's ``get_ols_btw_objects`` step by step, so values
compared with a threshold land on the same side as the devkit's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from record.errors import InputError

__all__ = ["OBJECT_SIZES_M", "class_kappas", "object_location_similarity"]

#: Class sizes in metres (cruw-devkit ``object_config.json``); the OLS kappa is size / 100.
OBJECT_SIZES_M: dict[str, float] = {"pedestrian": 0.5, "cyclist": 1.0, "car": 3.0}


def class_kappas(classes: Sequence[str]) -> np.ndarray:
    """OLS kappa ``float64[K]`` of each class name, ``size / 100``."""
    unknown = [name for name in classes if name not in OBJECT_SIZES_M]
    if unknown:
        raise InputError(
            f"no OLS object size for class(es) {', '.join(map(repr, unknown))} "
            f"(expected one of {', '.join(OBJECT_SIZES_M)})"
        )
    return np.array([OBJECT_SIZES_M[name] / 100 for name in classes], dtype=np.float64)


@numba.vectorize(["float64(float64, float64, float64, float64, float64)"], cache=True)
def object_location_similarity(
    reference_range_m: float, reference_azimuth_rad: float, range_m: float, azimuth_rad: float, kappa: float
) -> float:
    """OLS in [0, 1] between a reference object and another object of the same class (a NumPy ufunc).

    Args:
        reference_range_m, reference_azimuth_rad: the reference object (its range sets the scale ``s``).
        range_m, azimuth_rad: the other object.
        kappa: the class's ``size / 100``.

    Broadcasts like any ufunc and can be called from Numba kernels.
    """
    x_ref = reference_range_m * np.sin(reference_azimuth_rad)
    y_ref = reference_range_m * np.cos(reference_azimuth_rad)
    dx = x_ref - range_m * np.sin(azimuth_rad)
    dy = y_ref - range_m * np.cos(azimuth_rad)
    distance = np.sqrt(dx**2 + dy**2)
    scale = np.sqrt(x_ref**2 + y_ref**2)
    return np.exp(-(distance**2 / 2 / (scale**2 * kappa)))
