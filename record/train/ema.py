"""Exponential moving average of a model's weights (``train.ema_decay``).

After every optimiser step the averaged copy moves toward the trained weights::

    decay_t = min(decay, (1 + t) / (10 + t))       # t: optimiser steps done; short memory at the start
    average = decay_t * average + (1 - decay_t) * weights

over every floating-point parameter and buffer (normalisation statistics included); integer buffers are
copied. With a small batch and a high learning rate the trained weights jump from step to step, and so do
the confidences a detector outputs: the average keeps the trend and evens out the last steps' noise (timm's
``ModelEmaV2``, the YOLO trainers' ``ModelEMA``). The averaged weights are what a run validates and saves as
its model; the trained weights travel in the checkpoint's training state, for resuming.
"""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch
from torch import nn

__all__ = ["WeightAverage"]

#: ``decay_t`` follows ``(1 + t) / (WARMUP_STEPS + t)`` until it reaches ``decay``.
WARMUP_STEPS = 10

ModuleT = TypeVar("ModuleT", bound=nn.Module)


class WeightAverage(Generic[ModuleT]):
    """Exponential moving average of ``model``'s state (a frozen copy in eval mode, on the model's device).

    Args:
        model: the trained model (its current weights start the average).
        decay: the average's decay per optimiser step in (0, 1) (``train.ema_decay``, range-checked by
            :func:`record.train.compose.validate_train_config`); it remembers about ``1 / (1 - decay)`` steps.
    """

    def __init__(self, model: ModuleT, decay: float) -> None:
        self.decay = decay
        self.module: ModuleT = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """The decay applied by the update after ``step`` optimiser steps (1-based)."""
        return min(self.decay, (1.0 + step) / (WARMUP_STEPS + step))

    @torch.no_grad()
    def update(self, model: ModuleT, step: int) -> None:
        """Move the average toward ``model``'s state after optimiser step ``step``."""
        decay = self.decay_at(step)
        trained = model.state_dict()
        for name, average in self.module.state_dict().items():
            value = trained[name].detach()
            if average.is_floating_point():
                average.lerp_(value.to(average.dtype), 1.0 - decay)
            else:
                average.copy_(value)
