"""ONNX Runtime backend (CPU): the exported step with I/O binding, the state ping-ponging between two buffers.

Every input and output is bound once to a preallocated host buffer (:class:`~record.runtime.buffers.
PingPongBuffers`): the frames (copied in each step), the logits, and two sets A and B of state buffers, so the
state never leaves ONNX Runtime's bound memory and is never copied between frames.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from record.errors import ConfigError, DataFormatError, describe
from record.runtime.buffers import HostBoundRuntime, PingPongBuffers
from record.runtime.spec import read_spec

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


class OnnxRuntimeRuntime(HostBoundRuntime):
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
        spec.check_graph_io(path, [(a.name, a.shape) for a in self.session.get_inputs()],
                            [(a.name, a.shape) for a in self.session.get_outputs()])
        self._buffers = PingPongBuffers(spec, streams)
        self._bindings = tuple(self._bind(read, write) for read, write in self._buffers.bindings())

    def _bind(self, state_in: list[np.ndarray], state_out: list[np.ndarray]) -> ort.IOBinding:
        binding = self.session.io_binding()
        for tensor, buffer in zip(self.spec.frames, self._buffers.frames):
            binding.bind_ortvalue_input(tensor.name, ort.OrtValue.ortvalue_from_numpy(buffer))
        for tensor, buffer in zip(self.spec.logits, self._buffers.logits):
            binding.bind_ortvalue_output(tensor.name, ort.OrtValue.ortvalue_from_numpy(buffer))
        for tensor, read, write in zip(self.spec.states, state_in, state_out):
            binding.bind_ortvalue_input(f"{tensor.name}_in", ort.OrtValue.ortvalue_from_numpy(read))
            binding.bind_ortvalue_output(f"{tensor.name}_out", ort.OrtValue.ortvalue_from_numpy(write))
        return binding

    def _run(self, parity: int) -> None:
        self.session.run_with_iobinding(self._bindings[parity])

    def _options(self) -> dict[str, Any]:
        return {"providers": self.session.get_providers(), "threads": self._threads,
                "graph_optimization": "ORT_ENABLE_ALL", "io_binding": True, "spinning": self._spinning,
                "onnxruntime": ort.__version__, "file": Path(self.source).name}
