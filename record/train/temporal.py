"""Running a model over time: training clips (buffer or online) and frame streams (evaluation).

Inputs are a tensor ``[B, C, T, H, W]`` or, for multi-view models, a dict of them keyed by view; one frame
drops the ``T`` axis. Outputs are logits in the model's form (tensor or dict).

* :class:`ClipRunner` (an ``nn.Module``, so DistributedDataParallel can wrap it): buffer mode returns the
  logits of the window's last frame (state reset at the window start); online mode runs ``model.step`` over
  the clip from the zero state and returns the logits of every frame stacked on a time axis, ``[B, K, T, H,
  W]``; the backward pass goes through the whole clip (BPTT). With ``carry_state`` (truncated BPTT over
  consecutive clips) it starts from a given state and also returns the clip's final state, detached, for the
  next clip.
* :class:`StreamRunner`: one frame at a time, as deployed: online mode carries the state (reset where a
  sequence starts); buffer mode keeps the last ``window`` frames and runs the window (a growing window over
  the first frames of a sequence, as the published ROD2021 test step, quirk Q12).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from record.errors import ConfigError, describe
from record.models import StreamingModel
from record.train.config import MODES

__all__ = ["ClipRunner", "StreamRunner", "check_mode", "frame_at", "frame_count", "stack_time",
           "stream_outputs", "time_slice"]

Inputs = Tensor | Mapping[str, Tensor]
State = tuple[Tensor, ...]


def check_mode(mode: str, where: str = "mode.name") -> str:
    if mode not in MODES:
        raise ConfigError(describe(where, "unknown temporal mode", found=repr(mode), expected=MODES))
    return mode


def _reference(inputs: Inputs) -> Tensor:
    """The tensor whose size sets the state shapes: the single input, or the first view (RD for MV-RECORD)."""
    return inputs if isinstance(inputs, Tensor) else next(iter(inputs.values()))


def frame_at(value: Inputs, t: int) -> Inputs:
    """Frame ``t`` of ``[B, C, T, H, W]`` tensor(s)."""
    if isinstance(value, Tensor):
        return value[:, :, t]
    return {key: tensor[:, :, t] for key, tensor in value.items()}


def frame_count(value: Inputs) -> int:
    return _reference(value).shape[2]


def time_slice(value: Inputs, start: int, stop: int) -> Inputs:
    """Frames ``start:stop`` of ``[B, C, T, H, W]`` tensor(s) (or a dict of them), time axis kept."""
    if isinstance(value, Tensor):
        return value[:, :, start:stop]
    return {key: tensor[:, :, start:stop] for key, tensor in value.items()}


def stack_time(frames: Sequence[Inputs]) -> Inputs:
    """Frames ``[B, C, H, W]`` (or dicts of them) stacked into ``[B, C, T, H, W]`` (or a dict)."""
    first = frames[0]
    if isinstance(first, Tensor):
        return torch.stack(list(frames), dim=2)  # type: ignore[arg-type]
    return {key: torch.stack([frame[key] for frame in frames], dim=2) for key in first}  # type: ignore[index]


class ClipRunner(nn.Module):
    """A model in one temporal mode over a batch of clips.

    Args:
        model: a :class:`record.models.StreamingModel`.
        mode: ``buffer`` (logits of the last frame) or ``online`` (logits of every frame, time axis 2).
        carry_state: online only: ``forward(clip, state)`` starts from ``state`` (None: the zero state) and
            returns ``(logits, final state)``, the final state detached (truncated BPTT: gradients stop at the
            clip boundary).
    """

    def __init__(self, model: StreamingModel, mode: str, carry_state: bool = False) -> None:
        super().__init__()
        self.model = model
        self.mode = check_mode(mode)
        if carry_state and self.mode != "online":
            raise ConfigError(describe("train.tbptt_clips", "carrying the state needs mode=online",
                                       found=f"mode={self.mode}", expected="mode=online or tbptt_clips=1"))
        self.carry_state = carry_state

    def forward(self, clip: Inputs, state: State | None = None) -> Any:
        """Logits (``carry_state``: ``(logits, detached final state)``) of ``clip``."""
        if self.mode == "buffer":
            return self.model(clip)
        if state is None:
            reference = _reference(clip)
            state = self.model.zero_state(reference.shape[0], *reference.shape[-2:])
        outputs = []
        for t in range(frame_count(clip)):
            logits, state = self.model.step(frame_at(clip, t), state)
            state = _as_parameter_dtype(state, self.model)
            outputs.append(logits)
        if self.carry_state:
            return stack_time(outputs), tuple(s.detach() for s in state)
        return stack_time(outputs)


def _as_parameter_dtype(state: State, model: nn.Module) -> State:
    """Under autocast the gates may return reduced-precision states; ``step`` expects the weights' dtype."""
    dtype = next(model.parameters()).dtype
    return tuple(s if s.dtype == dtype else s.to(dtype) for s in state)


class StreamRunner:
    """Frame-by-frame inference over ordered sequences (call under ``torch.no_grad``).

    Args:
        model: the model (in eval mode).
        mode: ``online`` or ``buffer``.
        window: buffer length (frames kept); ignored online.
        reset_states: online: reset the state at every sequence start (False: only before the first frame,
            the published CARRADA evaluation, quirk Q9). Buffer windows never span two sequences.
    """

    def __init__(self, model: StreamingModel, mode: str, window: int = 1, reset_states: bool = True) -> None:
        self.model = model
        self.mode = check_mode(mode)
        if window < 1:
            raise ConfigError(describe("eval.window", "must be positive", found=window))
        self.reset_states = reset_states
        self.history: deque[Inputs] = deque(maxlen=window)
        self.state: State | None = None

    def __call__(self, frame: Inputs, first: bool) -> Tensor | dict[str, Tensor]:
        """Logits for ``frame`` (``[B, C, H, W]`` or a dict); ``first``: the frame starts a sequence."""
        if self.mode == "online":
            if self.state is None or (first and self.reset_states):
                reference = _reference(frame)
                self.state = self.model.zero_state(reference.shape[0], *reference.shape[-2:])
            logits, self.state = self.model.step(frame, self.state)
            return logits
        if first:
            self.history.clear()
        self.history.append(frame)
        return self.model(stack_time(list(self.history)))


def stream_outputs(
    runner: StreamRunner,
    batches: Iterable[Mapping[str, Any]],
    task: Any,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Iterator[tuple[Mapping[str, Any], dict[str, Tensor]]]:
    """``(batch, logits per output view)`` for batches of ONE frame each, in stream order.

    Args:
        runner: the stream's runner (holds the state / window between frames).
        batches: a DataLoader (batch size 1) over a frame dataset with a ``first`` flag.
        task: a :class:`record.train.tasks.Task` (inputs from a batch, logits keyed by view).
        device: where the model runs.
        autocast: factory of the mixed-precision context entered around each frame.
    """
    for batch in batches:
        inputs = task.inputs(batch, device)
        with autocast():
            logits = runner(inputs, first=bool(batch["first"][0]))
        yield batch, task.outputs(logits)
