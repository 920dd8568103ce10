"""ONNX Runtime backend (CPU): the exported step with I/O binding, the state ping-ponging between two buffers.

Every input and output is bound once to a preallocated host buffer: the frames (copied in each step), the
logits, and two sets A and B of state buffers. Even steps read A and write B, odd steps read B and write A, so
the state never leaves ONNX Runtime's bound memory and is never copied between frames; resetting a stream
zeroes its rows in the set the next step reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from record.errors import ConfigError, DataFormatError, describe
from record.runtime.base import StreamingRuntime, activate_host
from record.runtime.cache import onnx_for_source
from record.runtime.spec import DeploymentSpec, TensorSpec, read_spec

__all__ = ["OnnxRuntimeRuntime", "session_options"]


def session_options(threads: int | None = None, spinning: bool = True) -> ort.SessionOptions:
    """CPU session settings for one small recurrent step at a time.

    All graph optimisations (on x86 this includes the NCHWc blocked-layout convolutions), sequential
    execution, ``threads`` intra-op threads (None: ONNX Runtime's default), denormals flushed to zero (the
    decaying state produces them; x86 computes them very slowly). ``spinning``: worker threads busy-wait
    between parallel sections (ONNX Runtime's default). Measured interleaved on this 2-core machine
    (record_rod2021, 2 threads): on an idle machine 20.0 ms per step spinning against 26.2 ms sleeping; under
    a load of 4 from other processes 36.8 ms spinning against 26.2 ms sleeping. Turn it off where other
    processes share the cores.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise ConfigError(describe("onnxruntime runtime: threads", "must be positive", found=threads))
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3
    return options


def _check_io(session: ort.InferenceSession, spec: DeploymentSpec, path: str) -> None:
    """The session's inputs / outputs must be the spec's, in order, with its per-stream shapes."""
    expected_in = [(t.name, t.shape) for t in spec.frames] + [(f"{t.name}_in", t.shape) for t in spec.states]
    expected_out = ([(t.name, t.shape) for t in spec.logits]
                    + [(f"{t.name}_out", t.shape) for t in spec.states])
    for kind, found_args, expected in (("inputs", session.get_inputs(), expected_in),
                                       ("outputs", session.get_outputs(), expected_out)):
        found = [(arg.name, tuple(arg.shape[1:])) for arg in found_args]
        if found != expected:
            raise DataFormatError(describe(path, f"graph {kind} do not match its deployment spec",
                                           found=found, expected=expected))


class OnnxRuntimeRuntime(StreamingRuntime):
    """An exported ONNX step on ONNX Runtime's CPU provider.

    Args:
        path: ONNX file written by ``record export`` (its spec is read from the file).
        streams: independent streams.
        threads: intra-op threads (None: ONNX Runtime's default).
        spinning: let worker threads busy-wait (see :func:`session_options`).
    """

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], *, streams: int = 1, threads: int | None = None,
                 spinning: bool = True) -> None:
        path = str(path)
        spec = read_spec(path)
        super().__init__(spec, streams, path, "cpu")
        self._threads, self._spinning = threads, spinning
        try:
            self.session = ort.InferenceSession(path, session_options(threads, spinning),
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - ORT raises its own exception types for invalid graphs
            raise DataFormatError(describe(path, f"ONNX Runtime cannot load the graph ({error})")) from None
        _check_io(self.session, spec, path)

        def buffers(tensors: tuple[TensorSpec, ...]) -> list[np.ndarray]:
            return [np.zeros((streams, *t.shape), np.float32) for t in tensors]

        self._frames = buffers(spec.frames)
        self._logits = buffers(spec.logits)
        self._states = (buffers(spec.states), buffers(spec.states))  # sets A and B
        self._bindings = (self._bind(self._states[0], self._states[1]),
                          self._bind(self._states[1], self._states[0]))
        self._parity = 0  # the next step reads self._states[self._parity]

    @classmethod
    def from_source(cls, source: str, *, device: str = "cpu", streams: int = 1, threads: int | None = None,
                    spinning: bool = True, size: tuple[int, int] | None = None, cache_dir: str | None = None
                    ) -> OnnxRuntimeRuntime:
        """Open an ONNX file, or a checkpoint (exported once into ``cache_dir`` first)."""
        if device != "cpu":
            raise ConfigError(describe("onnxruntime runtime: device", "this backend runs on the CPU",
                                       found=device, expected="cpu (use tensorrt or torch for CUDA)"))
        return cls(onnx_for_source(source, size=size, cache_dir=cache_dir), streams=streams, threads=threads,
                   spinning=spinning)

    def _bind(self, state_in: list[np.ndarray], state_out: list[np.ndarray]) -> ort.IOBinding:
        binding = self.session.io_binding()
        for tensor, buffer in zip(self.spec.frames, self._frames):
            binding.bind_ortvalue_input(tensor.name, ort.OrtValue.ortvalue_from_numpy(buffer))
        for tensor, buffer in zip(self.spec.logits, self._logits):
            binding.bind_ortvalue_output(tensor.name, ort.OrtValue.ortvalue_from_numpy(buffer))
        for tensor, read, write in zip(self.spec.states, state_in, state_out):
            binding.bind_ortvalue_input(f"{tensor.name}_in", ort.OrtValue.ortvalue_from_numpy(read))
            binding.bind_ortvalue_output(f"{tensor.name}_out", ort.OrtValue.ortvalue_from_numpy(write))
        return binding

    def _step(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        for buffer, frame in zip(self._frames, frames):
            np.copyto(buffer, frame)
        self.session.run_with_iobinding(self._bindings[self._parity])
        self._parity ^= 1
        return [activate_host(logits, self.spec.activation) for logits in self._logits]

    def _reset(self, stream_ids: np.ndarray | None) -> None:
        rows = slice(None) if stream_ids is None else stream_ids
        for buffer in self._states[self._parity]:
            buffer[rows] = 0.0

    def read_state(self) -> dict[str, np.ndarray]:
        return {t.name: buffer.copy() for t, buffer in zip(self.spec.states, self._states[self._parity])}

    def _options(self) -> dict[str, Any]:
        return {"providers": self.session.get_providers(), "threads": self._threads,
                "graph_optimization": "ORT_ENABLE_ALL", "io_binding": True, "spinning": self._spinning,
                "onnxruntime": ort.__version__, "file": Path(self.source).name}
