"""The API every RECORD model shares: buffer ``forward``, online ``step`` with explicit state, activation."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from record.errors import ConfigError, InputError, describe
from record.models._validation import FrameSpec, check_state

__all__ = ["Inputs", "Outputs", "RecurrentModel", "State", "StreamingModel", "apply_activation"]

#: The recurrent state: a flat tuple of tensors named by ``model.state_names``.
State = tuple[Tensor, ...]
#: A frame / window (single-view models) or a dict of them keyed by view name (MV-RECORD).
Inputs = Tensor | Mapping[str, Tensor]
#: Logits: one tensor (single-view models) or a dict keyed by output view (MV-RECORD).
Outputs = Tensor | dict[str, Tensor]

FeaturesT = TypeVar("FeaturesT")
ResultT = TypeVar("ResultT")


def apply_activation(logits: Outputs, activation: str) -> Outputs:
    """Apply ``"sigmoid"`` element-wise or ``"softmax"`` over classes (dim 1) to a tensor or dict of them."""
    if isinstance(logits, Mapping):
        return {key: apply_activation(value, activation) for key, value in logits.items()}
    if activation == "sigmoid":
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=1)


class StreamingModel(nn.Module):
    """Base class: ``forward(window) -> logits`` (buffer mode) and ``step(frame, state) -> (logits, state)``.

    Subclasses define ``state_names``, :meth:`state_shapes`, ``forward`` and ``step`` (multi-view models also
    ``input_views``, ``output_views`` and :meth:`view_sizes`). ``model_name`` is the registry name (set by
    :func:`record.models.create_model`).
    """

    state_names: tuple[str, ...] = ()
    #: Names of the input / output views when inputs / logits are dicts (MV-RECORD); empty for single tensors.
    input_views: tuple[str, ...] = ()
    output_views: tuple[str, ...] = ()
    #: Activation checkpointing over frames (:meth:`set_grad_checkpointing`).
    grad_checkpointing: bool = False

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.model_name = type(self).__name__

    @property
    def output_activation(self) -> str:
        """``"sigmoid"`` or ``"softmax"``: the function :meth:`activate` applies."""
        return str(self.config.output_activation)

    def activate(self, logits: Outputs) -> Outputs:
        """The published output function: sigmoid scores, or softmax over classes (dim 1) for segmentation."""
        return apply_activation(logits, self.output_activation)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Activation checkpointing over frames (timm's name for it): while gradients are recorded, each
        ``step`` (and each frame's encoder in a buffer ``forward``) keeps only its inputs and outputs, and its
        activations are recomputed in the backward pass (``torch.utils.checkpoint``, non-reentrant). A clip
        then holds one frame's activations instead of all of them, for about one more forward pass of
        compute; gradients are unchanged, and BatchNorm running statistics are not updated a second time by
        the recomputation."""
        self.grad_checkpointing = enable

    def _checkpointed(self, function: Callable[..., ResultT], *args: Any) -> ResultT:
        """``function(*args)``, checkpointed when :meth:`set_grad_checkpointing` is on and grad is enabled."""
        if not (self.grad_checkpointing and torch.is_grad_enabled()):
            return function(*args)
        return checkpoint(function, *args, use_reentrant=False,  # type: ignore[no-any-return]
                          context_fn=functools.partial(_checkpoint_contexts, self))

    def state_shapes(self, batch_size: int, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        """Shapes of the state tensors, in ``state_names`` order, for frames of ``height x width`` bins."""
        raise NotImplementedError

    def zero_state(self, batch_size: int, height: int, width: int) -> State:
        """The initial (all-zero) state on the model's device and dtype; height/width = the frame's size."""
        param = next(self.parameters())
        shapes = self.state_shapes(batch_size, height, width)
        return tuple(torch.zeros(shape, dtype=param.dtype, device=param.device) for shape in shapes)

    def example_input(
        self,
        batch_size: int = 1,
        window: int | None = None,
        size: tuple[int, int] | None = None,
        generator: torch.Generator | None = None,
    ) -> Inputs:
        """Random input: one frame (``window=None``) or a ``window``-frame buffer, at ``size`` (default
        ``config.input_size``), on the model's device and dtype; a dict keyed by view for multi-view
        models."""
        time = () if window is None else (window,)
        sizes = self.view_sizes(*(size or self.config.input_size))
        inputs = {view: self._random((batch_size, self.config.in_channels, *time, *view_size), generator)
                  for view, view_size in sizes.items()}
        return inputs if self.input_views else inputs["frame"]

    def decoders(self) -> tuple[nn.Module, ...]:
        """The decoders producing the logits, one per output view (each has ``init_output_prior``)."""
        raise NotImplementedError

    def init_output_prior(self, probability: float) -> None:
        """Bias every output layer so that the untrained model scores each object class at ``probability``
        (objects are sparse: training starts from a near-empty prediction instead of 0.5 everywhere).

        Raises:
            ConfigError: ``probability`` outside (0, 1).
        """
        if not 0.0 < probability < 1.0:
            raise ConfigError(describe(self._where("init_output_prior", "probability"), "must lie in (0, 1)",
                                       found=probability))
        for decoder in self.decoders():
            decoder.init_output_prior(probability, self.output_activation)

    def view_sizes(self, height: int, width: int) -> dict[str, tuple[int, int]]:
        """Frame size (H, W) of every input view for a reference frame size (single-view: ``frame``)."""
        return {"frame": (height, width)}

    def _where(self, method: str, argument: str) -> str:
        return f"{self.model_name}.{method}: {argument}"

    def _frame_spec(self, channels: int, stride: tuple[int, int]) -> FrameSpec:
        param = next(self.parameters())
        return FrameSpec(channels, stride, param.dtype, param.device)

    def _random(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        param = next(self.parameters())
        if generator is None:
            return torch.randn(shape, dtype=param.dtype, device=param.device)
        values = torch.randn(shape, generator=generator, dtype=param.dtype, device=generator.device)
        return values.to(param.device)

    def _check_state(self, state: object, method: str, batch: int, height: int, width: int) -> None:
        param = next(self.parameters())
        shapes = self.state_shapes(batch, height, width)
        check_state(state, self._where(method, "state"), self.state_names, shapes, param.dtype, param.device)

    @staticmethod
    def _check_size(where: str, height: int, width: int, stride: tuple[int, int]) -> None:
        if height < 1 or width < 1 or height % stride[0] or width % stride[1]:
            raise InputError(describe(where, "frame size not divisible by the network stride",
                                      found=f"{height} x {width}",
                                      expected=f"H divisible by {stride[0]}, W by {stride[1]}"))


def _checkpoint_contexts(module: nn.Module) -> tuple[contextlib.AbstractContextManager[Any],
                                                     contextlib.AbstractContextManager[Any]]:
    """The contexts of a checkpoint's forward pass (none) and of its recomputation in the backward pass."""
    return contextlib.nullcontext(), _running_stats_kept(module)


@contextlib.contextmanager
def _running_stats_kept(module: nn.Module) -> Iterator[None]:
    """Restore the running statistics of the BatchNorm layers of ``module`` on exit (around a checkpoint's
    recomputation, which must not count the frame's batch a second time)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    saved = [{name: buffer.clone() for name, buffer in norm.named_buffers(recurse=False)} for norm in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for norm, buffers in zip(norms, saved):
                for name, value in buffers.items():
                    getattr(norm, name).copy_(value)


class RecurrentModel(StreamingModel, Generic[FeaturesT]):
    """A model whose buffer mode is its online step run over the window from the zero state.

    ``forward`` and ``step`` share ``_encode`` (per frame, updates the state) and ``_decode`` (once, on the
    last frame's features), so the buffer output for the last frame equals the online output after the same
    frames. With :meth:`set_grad_checkpointing`, each ``_encode`` and ``_decode`` call is a checkpoint.
    """

    def forward(self, x: Inputs) -> Outputs:  # type: ignore[override]
        """Buffer mode: reset the state at the window start, encode every frame, decode the last one."""
        batch, window, height, width = self._check_window(x)
        state = self.zero_state(batch, height, width)
        for t in range(window):
            features, state = self._checkpointed(self._encode, self._frame_at(x, t), state)
        return self._decode(features)

    def step(self, frame: Inputs, state: State) -> tuple[Outputs, State]:
        """Online mode: one frame and the previous state -> (logits for this frame, new state)."""
        batch, height, width = self._check_frame(frame)
        self._check_state(state, "step", batch, height, width)
        features, new_state = self._checkpointed(self._encode, frame, tuple(state))
        return self._checkpointed(self._decode, features), new_state

    def _check_window(self, x: Inputs) -> tuple[int, int, int, int]:
        raise NotImplementedError

    def _check_frame(self, frame: Inputs) -> tuple[int, int, int]:
        raise NotImplementedError

    def _frame_at(self, x: Inputs, t: int) -> Inputs:
        raise NotImplementedError

    def _encode(self, frame: Inputs, state: State) -> tuple[FeaturesT, State]:
        raise NotImplementedError

    def _decode(self, features: FeaturesT) -> Outputs:
        raise NotImplementedError
