"""Model inspection: parameter counts and multiply-accumulates per online frame and per buffer window.

MACs are FLOPs / 2 from ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, transposed convolutions,
matrix products; norms, activations and resampling are not counted), measured on the ``meta`` device, so no
arithmetic runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from record.models._base import StreamingModel
from record.models._factory import create_model
from record.models._registry import model_description

__all__ = ["ModelSummary", "count_parameters", "summarize_model"]


@dataclass(frozen=True)
class ModelSummary:
    """Size and cost of one registered model at its default input size.

    Attributes:
        name: registry name.
        description: first line of the builder's docstring.
        parameters: trainable and frozen parameters.
        online_gmacs: GMACs of one ``step`` (one frame, batch 1).
        buffer_gmacs: GMACs of one ``forward`` over ``window`` frames (= per output frame with a sliding
            window).
        window: frames per buffer window.
        input_size: frame size (H, W) in bins (MV-RECORD: the RD frame; RA is 4x wider).
    """

    name: str
    description: str
    parameters: int
    online_gmacs: float
    buffer_gmacs: float
    window: int
    input_size: tuple[int, int]


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameter elements."""
    return sum(parameter.numel() for parameter in model.parameters())


def _gmacs(model: StreamingModel, window: int | None, size: tuple[int, int]) -> float:
    inputs = model.example_input(1, window=window, size=size)
    with FlopCounterMode(display=False) as counter:
        if window is None:
            model.step(inputs, model.zero_state(1, *size))
        else:
            model(inputs)
    return counter.get_total_flops() / 2e9


def summarize_model(
    name: str, size: tuple[int, int] | None = None, window: int | None = None
) -> ModelSummary:
    """Parameters and GMACs of ``name`` at ``size`` (default ``config.input_size``) and ``window`` frames."""
    model = create_model(name).to("meta")
    size = size or model.config.input_size
    window = window or model.config.window
    return ModelSummary(
        name=name,
        description=model_description(name),
        parameters=count_parameters(model),
        online_gmacs=_gmacs(model, None, size),
        buffer_gmacs=_gmacs(model, window, size),
        window=window,
        input_size=tuple(size),
    )

