"""Input and state checks run before any convolution, raising :class:`record.errors.InputError`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from record.errors import InputError, describe

__all__ = ["FrameSpec", "check_frame", "check_state", "check_window"]


@dataclass(frozen=True)
class FrameSpec:
    """What one input view must look like: channels, the stride its size must divide by, dtype, device."""

    channels: int
    stride: tuple[int, int]
    dtype: torch.dtype
    device: torch.device

    def layout(self, with_time: bool) -> str:
        time = "T, " if with_time else ""
        divisible = f"H divisible by {self.stride[0]} and W by {self.stride[1]}"
        return f"[B, {self.channels}, {time}H, W] with {divisible}"


def _check(value: object, where: str, spec: FrameSpec, with_time: bool) -> tuple[int, ...]:
    layout = spec.layout(with_time)
    if not isinstance(value, Tensor):
        found = type(value).__name__
        raise InputError(describe(where, "not a tensor", found=found, expected=f"a tensor {layout}"))
    rank = 5 if with_time else 4
    shape = tuple(value.shape)
    if value.dim() != rank:
        raise InputError(describe(where, f"wrong rank {value.dim()}", found=list(shape), expected=layout))
    if 0 in shape:
        raise InputError(describe(where, "empty tensor", found=list(shape), expected=layout))
    if shape[1] != spec.channels:
        raise InputError(describe(where, "wrong channel count", found=shape[1], expected=spec.channels))
    height, width = shape[-2:]
    if height % spec.stride[0] or width % spec.stride[1]:
        raise InputError(describe(where, "spatial size not divisible by the network stride",
                                  found=f"H x W = {height} x {width}", expected=layout))
    if value.dtype != spec.dtype or value.device != spec.device:
        raise InputError(describe(where, "dtype/device differs from the model's", found=f"{value.dtype} on "
                                  f"{value.device}", expected=f"{spec.dtype} on {spec.device}"))
    return shape


def check_frame(value: object, where: str, spec: FrameSpec) -> tuple[int, int, int]:
    """Check one frame ``[B, C, H, W]``; return ``(B, H, W)``."""
    batch, _, height, width = _check(value, where, spec, with_time=False)
    return batch, height, width


def check_window(value: object, where: str, spec: FrameSpec) -> tuple[int, int, int, int]:
    """Check one window ``[B, C, T, H, W]``; return ``(B, T, H, W)``."""
    batch, _, window, height, width = _check(value, where, spec, with_time=True)
    return batch, window, height, width


def check_state(
    state: object,
    where: str,
    names: Sequence[str],
    shapes: Sequence[tuple[int, ...]],
    dtype: torch.dtype,
    device: torch.device,
) -> None:
    """Check a recurrent state: a tuple/list of ``len(names)`` tensors of the given shapes, dtype, device."""
    if not isinstance(state, (tuple, list)) or len(state) != len(names):
        found = f"{type(state).__name__} of length {len(state)}" if isinstance(state, (tuple, list)) else \
            type(state).__name__
        expected = f"a tuple of {len(names)} tensors ({', '.join(names) or 'empty'})"
        raise InputError(describe(where, "wrong state", found=found, expected=expected))
    for name, tensor, shape in zip(names, state, shapes):
        if not isinstance(tensor, Tensor):
            raise InputError(describe(f"{where} '{name}'", "not a tensor", found=type(tensor).__name__,
                                      expected=f"a tensor {list(shape)}"))
        if tuple(tensor.shape) != tuple(shape):
            raise InputError(describe(f"{where} '{name}'", "wrong shape for this frame size and batch",
                                      found=list(tensor.shape), expected=list(shape)))
        if tensor.dtype != dtype or tensor.device != device:
            found = f"{tensor.dtype} on {tensor.device}"
            problem = "dtype/device differs from the model's"
            expected = f"{dtype} on {device}"
            raise InputError(describe(f"{where} '{name}'", problem, found=found, expected=expected))
