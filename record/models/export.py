"""The online step as a module with a flat tensor signature, for ONNX / TensorRT export with explicit state.

Names follow docs/design.md: inputs ``frame`` (MV-RECORD: ``rd``, ``ra``, ``ad``) then ``<state>_in``; outputs
``logits`` (MV-RECORD: ``rd_logits``, ``ra_logits``) then ``<state>_out``.
"""

from __future__ import annotations

from torch import Tensor, nn

from record.models._base import StreamingModel

__all__ = ["StepModule"]


class StepModule(nn.Module):
    """``forward(*frames, *state) -> (*logits, *new_state)`` around ``model.step``; holds no state itself.

    Args:
        model: any model of :mod:`record.models`.
    """

    def __init__(self, model: StreamingModel) -> None:
        super().__init__()
        self.model = model
        frames = model.input_views or ("frame",)
        logits = tuple(f"{view}_logits" for view in model.output_views) or ("logits",)
        self.input_names = [*frames, *(f"{name}_in" for name in model.state_names)]
        self.output_names = [*logits, *(f"{name}_out" for name in model.state_names)]

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        n_frames = len(self.model.input_views) or 1
        frames, state = tensors[:n_frames], tuple(tensors[n_frames:])
        frame = dict(zip(self.model.input_views, frames)) if self.model.input_views else frames[0]
        logits, new_state = self.model.step(frame, state)
        views = self.model.output_views
        outputs = tuple(logits[view] for view in views) if views else (logits,)
        return (*outputs, *new_state)

    def example_inputs(self, batch_size: int = 1, size: tuple[int, int] | None = None) -> tuple[Tensor, ...]:
        """Random frames and the zero state at ``size`` (default ``config.input_size``; MV: the RD size)."""
        size = size or self.model.config.input_size
        frame = self.model.example_input(batch_size, size=size)
        frames = tuple(frame[view] for view in self.model.input_views) if self.model.input_views else (frame,)
        return (*frames, *self.model.zero_state(batch_size, *size))
