"""CPU backends whose inputs and outputs are bound once to host buffers, the state ping-ponging between two sets.

ONNX Runtime (I/O binding) and OpenVINO (shared-memory tensors) run the exported step on memory they are
given: the frames are copied into one buffer per input, the logits land in one buffer per output, and the
state lives in two sets A and B. Even steps read A and write B, odd steps read B and write A, so the state is
never copied between frames; resetting a stream zeroes its rows in the set the next step reads.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from record.errors import ConfigError, describe
from record.runtime.base import StreamingRuntime, activate_host
from record.runtime.cache import onnx_for_source
from record.runtime.spec import DeploymentSpec, TensorSpec

__all__ = ["HostBoundRuntime", "PingPongBuffers"]


def _zeros(tensors: Sequence[TensorSpec], streams: int) -> list[np.ndarray]:
    return [np.zeros((streams, *t.shape), np.float32) for t in tensors]


class PingPongBuffers:
    """Frame, logit and double-buffered state arrays ``[streams, ...]`` (float32) of one exported step.

    Attributes:
        frames: one array per ``spec.frames`` input.
        logits: one array per ``spec.logits`` output.
        states: the two state sets ``(A, B)``, each one array per ``spec.states`` tensor.
        parity: 0 when the next step reads A (and writes B), 1 when it reads B.
    """

    def __init__(self, spec: DeploymentSpec, streams: int) -> None:
        self.spec = spec
        self.frames = _zeros(spec.frames, streams)
        self.logits = _zeros(spec.logits, streams)
        self.states = (_zeros(spec.states, streams), _zeros(spec.states, streams))
        self.parity = 0

    def bindings(self) -> tuple[tuple[list[np.ndarray], list[np.ndarray]], ...]:
        """``((read, write) for parity 0, (read, write) for parity 1)``: what each kind of step binds."""
        a, b = self.states
        return (a, b), (b, a)

    def load(self, frames: Sequence[np.ndarray]) -> None:
        """Copy checked frames (``spec.frames`` order) into the bound frame buffers."""
        for buffer, frame in zip(self.frames, frames):
            np.copyto(buffer, frame)

    def advance(self) -> None:
        """After a step: the set just written is the one the next step reads."""
        self.parity ^= 1

    def reset(self, stream_ids: np.ndarray | None) -> None:
        """Zero rows ``stream_ids`` (every row when None) of the state the next step reads."""
        rows = slice(None) if stream_ids is None else stream_ids
        for buffer in self.states[self.parity]:
            buffer[rows] = 0.0

    def read_state(self) -> dict[str, np.ndarray]:
        """A copy of the current state, keyed by state name."""
        return {t.name: buffer.copy() for t, buffer in zip(self.spec.states, self.states[self.parity])}


class HostBoundRuntime(StreamingRuntime):
    """A CPU backend stepping an exported ONNX file on :class:`PingPongBuffers` bound once.

    Subclasses take ``(path, *, streams, **options)``, create ``self._buffers`` and bind them in ``__init__``,
    and implement :meth:`_run`.
    """

    _buffers: PingPongBuffers

    @classmethod
    def from_source(cls, source: str, *, device: str = "cpu", streams: int = 1,
                    size: tuple[int, int] | None = None, cache_dir: str | None = None, **options: Any
                    ) -> HostBoundRuntime:
        """Open an ONNX file, or a checkpoint (exported once into ``cache_dir`` first); ``options`` go to the
        backend's constructor."""
        if device != "cpu":
            raise ConfigError(describe(f"{cls.backend} runtime: device", "this backend runs on the CPU",
                                       found=device, expected="cpu (use tensorrt or torch for CUDA)"))
        return cls(onnx_for_source(source, size=size, cache_dir=cache_dir), streams=streams, **options)

    @abc.abstractmethod
    def _run(self, parity: int) -> None:
        """Run the step bound to state set ``parity`` (read) and the other set (write)."""

    def _step(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        self._buffers.load(frames)
        self._run(self._buffers.parity)
        self._buffers.advance()
        return [activate_host(logits, self.spec.activation) for logits in self._buffers.logits]

    def _reset(self, stream_ids: np.ndarray | None) -> None:
        self._buffers.reset(stream_ids)

    def read_state(self) -> dict[str, np.ndarray]:
        return self._buffers.read_state()
