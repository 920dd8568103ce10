"""Validation of the ADC cubes handed to the signal chains."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from record.errors import InputError, describe
from record.sensors import Waveform

__all__ = ["adc_frames"]


def adc_frames(adc: object, waveform: Waveform, loop_counts: Sequence[int], where: str) -> np.ndarray:
    """Check an ADC cube and return it as C-contiguous complex64 ``[F, loops, n_tx, n_rx, n_samples]``.

    Args:
        adc: complex array ``[F, loops, n_tx, n_rx, n_samples]``, or one frame without the leading ``F``.
        waveform: the capture's chirp and array parameters.
        loop_counts: accepted sizes of the loop axis (e.g. all loops, or only the kept ones).
        where: name used in error messages (e.g. ``"CarradaChain input"``).

    Raises:
        InputError: not a complex array, wrong shape, or NaN / infinite values.
    """
    trailing = (waveform.n_tx, waveform.n_rx, waveform.n_samples)
    loops_text = " or ".join(str(n) for n in loop_counts)
    expected = f"[frames, {loops_text}, {', '.join(map(str, trailing))}] (or one frame without 'frames')"
    if not isinstance(adc, np.ndarray):
        raise InputError(describe(where, "ADC cube must be a numpy array", found=type(adc).__name__))
    if not np.issubdtype(adc.dtype, np.complexfloating):
        raise InputError(describe(where, "ADC cube must be complex", found=adc.dtype, expected="complex64"))
    if adc.ndim == 4:
        adc = adc[None]
    if adc.ndim != 5 or adc.shape[2:] != trailing or adc.shape[1] not in loop_counts:
        found = list(adc.shape)
        raise InputError(describe(where, "ADC cube has the wrong shape", found=found, expected=expected))
    adc = np.ascontiguousarray(adc, dtype=np.complex64)
    if not np.isfinite(adc.view(np.float32)).all():
        raise InputError(describe(where, "ADC cube holds NaN or infinite values", expected="finite samples"))
    return adc
