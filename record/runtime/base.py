"""The streaming interface every backend implements: frames in, scores out, recurrent state kept inside.

A runtime serves ``streams`` independent streams at once (the batch axis): stream ``i`` is row ``i`` of every
frame, score and state array, and each stream's state can be reset on its own. Frames are checked before any
inference: float32, the exported per-stream shape, finite. Scores come back as host NumPy arrays with the
output activation applied: ``[streams, classes, H, W]``, or a dict keyed by output view (MV-RECORD). Between
frames the state stays where the backend computes it (ONNX Runtime's bound buffers, CUDA memory): only
:meth:`StreamingRuntime.read_state`, a diagnostic, copies it out.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from record.errors import ConfigError, InputError, describe
from record.runtime.spec import DeploymentSpec, TensorSpec

__all__ = ["Frames", "RuntimeInfo", "Scores", "StreamingRuntime", "activate_host"]

#: One frame per stream: an array ``[streams, C, H, W]``, or a dict of them keyed by input view (MV-RECORD).
Frames = np.ndarray | Mapping[str, np.ndarray]
#: Scores ``[streams, classes, H, W]``, or a dict keyed by output view (MV-RECORD).
Scores = np.ndarray | dict[str, np.ndarray]


@dataclass(frozen=True)
class RuntimeInfo:
    """What a runtime runs and how (``shapes`` include the stream axis)."""

    backend: str
    device: str
    precision: str
    streams: int
    model: str
    source: str
    shapes: dict[str, tuple[int, ...]]
    provenance: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


def activate_host(logits: np.ndarray, activation: str) -> np.ndarray:
    """``sigmoid`` element-wise or ``softmax`` over the class axis (1) of host logits, into a new array."""
    if activation == "sigmoid":
        return expit(logits)
    scores = logits - logits.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


class StreamingRuntime(abc.ABC):
    """One exported online step with its recurrent state, for ``streams`` independent streams.

    Subclasses implement :meth:`_step` (checked frames in spec order -> scores in spec order), :meth:`_reset`,
    :meth:`read_state` and :meth:`_options`, and set :attr:`backend`.

    Args:
        spec: the export's deployment spec.
        streams: independent streams served together (the batch size), >= 1.
        source: the file the runtime was opened from (for messages and :attr:`info`).
        device: where it computes (``cpu``, ``cuda:0``).
    """

    backend: ClassVar[str] = ""

    def __init__(self, spec: DeploymentSpec, streams: int, source: str, device: str) -> None:
        if not isinstance(streams, int) or streams < 1:
            raise ConfigError(describe(f"{self.backend} runtime: streams", "must be a positive integer",
                                       found=streams))
        self.spec, self.streams, self.source, self.device = spec, streams, source, device
        self._where = f"{self.backend} runtime ({source})"

    @classmethod
    def open(cls, source: str, backend: str = "onnxruntime", **options: Any) -> StreamingRuntime:
        """Open ``source`` (ONNX file, project checkpoint or TensorRT engine) with ``backend``; see
        :func:`record.runtime.open_runtime`."""
        from record.runtime.registry import open_runtime

        return open_runtime(source, backend, **options)

    # ------------------------------------------------------------ public API
    def step(self, frames: Frames) -> Scores:
        """Advance every stream by one frame; return their scores (activation applied, host arrays).

        Raises:
            InputError: a missing / extra view, or a frame of the wrong type, dtype or shape, or with NaN/Inf.
                Nothing runs then and the state is unchanged.
        """
        scores = self._step(self._checked(frames))
        if not self.spec.multi_view:
            return scores[0]
        return {self.spec.output_view(t): s for t, s in zip(self.spec.logits, scores)}

    def reset(self, stream_ids: Sequence[int] | None = None) -> None:
        """Zero the state of ``stream_ids`` (default: every stream); other streams keep theirs."""
        if stream_ids is None:
            self._reset(None)
            return
        ids = np.unique(np.asarray(list(stream_ids), dtype=np.int64))
        if ids.size and (ids.min() < 0 or ids.max() >= self.streams):
            raise InputError(describe(f"{self._where}: reset", "stream id out of range",
                                      found=ids.tolist(), expected=f"0 .. {self.streams - 1}"))
        if ids.size:
            self._reset(ids)

    def warmup(self, steps: int = 2) -> None:
        """Run ``steps`` all-zero frames (allocations, kernel choice, graph capture), then reset every
        stream."""
        zeros = {t.name: np.zeros((self.streams, *t.shape), np.float32) for t in self.spec.frames}
        for _ in range(steps):
            self._step(list(zeros.values()))
        self._reset(None)

    @property
    def info(self) -> RuntimeInfo:
        spec = self.spec
        shapes = {t.name: (self.streams, *t.shape) for t in (*spec.frames, *spec.logits)}
        shapes |= {f"{t.name}_in": (self.streams, *t.shape) for t in spec.states}
        return RuntimeInfo(backend=self.backend, device=self.device, precision=spec.precision,
                           streams=self.streams, model=spec.model, source=self.source, shapes=shapes,
                           provenance=dict(spec.provenance), options=self._options())

    @abc.abstractmethod
    def read_state(self) -> dict[str, np.ndarray]:
        """A host copy of the state tensors, keyed by state name (diagnostics and parity checks only)."""

    def close(self) -> None:
        """Release the backend's resources (sessions, engines, device buffers)."""

    def __enter__(self) -> StreamingRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ for backends
    @abc.abstractmethod
    def _step(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Checked frames in ``spec.frames`` order -> scores in ``spec.logits`` order (new host arrays)."""

    @abc.abstractmethod
    def _reset(self, stream_ids: np.ndarray | None) -> None:
        """Zero the state rows ``stream_ids`` (sorted, unique, in range), or every row when None."""

    def _options(self) -> dict[str, Any]:
        """Backend settings reported by :attr:`info`."""
        return {}

    def _checked(self, frames: Frames) -> list[np.ndarray]:
        specs = self.spec.frames
        if self.spec.multi_view:
            if not isinstance(frames, Mapping):
                raise InputError(describe(f"{self._where}: frames", "expected a dict of views",
                                          found=type(frames).__name__, expected=[t.name for t in specs]))
            if set(frames) != {t.name for t in specs}:
                raise InputError(describe(f"{self._where}: frames", "wrong views", found=sorted(frames),
                                          expected=[t.name for t in specs]))
            return [self._checked_array(frames[t.name], t) for t in specs]
        return [self._checked_array(frames, specs[0])]

    def _checked_array(self, array: object, spec: TensorSpec) -> np.ndarray:
        where = f"{self._where}: input {spec.name!r}"
        expected = [self.streams, *spec.shape]
        if not isinstance(array, np.ndarray):
            raise InputError(describe(where, "not a NumPy array", found=type(array).__name__,
                                      expected=f"float32 {expected}"))
        if array.dtype != np.float32:
            raise InputError(describe(where, "wrong dtype", found=array.dtype, expected="float32"))
        if list(array.shape) != expected:
            raise InputError(describe(where, "wrong shape", found=list(array.shape),
                                      expected=f"{expected} ([streams, C, H, W])"))
        if not np.isfinite(array).all():
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            raise InputError(describe(where, f"{bad} NaN or infinite values", expected="finite values"))
        return array
