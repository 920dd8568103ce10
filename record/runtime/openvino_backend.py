"""OpenVINO backend (CPU): the exported step compiled by OpenVINO, the state ping-ponging between two buffers.

The ONNX file of ``record export`` is read in memory with its GroupNorms fused back into single
``GroupNormalization`` ops (:func:`record.runtime.onnx_graph.fuse_group_norms`), reshaped to a static batch of
``streams`` and compiled for latency. Two infer requests share the frame and logit buffers: one reads state
set A and writes set B, the other the reverse (:class:`~record.runtime.buffers.PingPongBuffers`, bound once
as shared-memory tensors), so the state is never copied between frames.

Precision: ``fp32`` runs float32 arithmetic (OpenVINO's CPU default on CPUs with bfloat16 units is bfloat16,
so it is set explicitly); ``bf16`` lets those units run convolutions in bfloat16 (float32 accumulation), about
1.3-1.4x faster here, with scores about 1e-2 from float32: check it with ``record parity`` before deployment.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import openvino as ov
import openvino.properties as ov_props
import openvino.properties.hint as ov_hints
import openvino.properties.intel_cpu as ov_cpu

from record.errors import ConfigError, DataFormatError, describe
from record.runtime.buffers import HostBoundRuntime, PingPongBuffers
from record.runtime.onnx_graph import fuse_group_norms
from record.runtime.spec import DeploymentSpec, read_spec

__all__ = ["PRECISIONS", "OpenVINORuntime", "compile_options", "cpu_capabilities"]

#: Inference precisions this backend offers, with OpenVINO's element type for each.
PRECISIONS = {"fp32": ov.Type.f32, "bf16": ov.Type.bf16}


def compile_options(threads: int | None, precision: str) -> dict[str, Any]:
    """CPU plugin settings for one small recurrent step at a time: latency mode (one stream), ``threads``
    inference threads (None: OpenVINO's default), the given inference precision, denormals flushed to zero
    (the decaying state produces them), no pinning of threads to cores (the cores are shared with the signal
    chain and other processes), and no "snippets" (OpenVINO's generated kernels for element-wise subgraphs:
    OpenVINO 2026.4 crashes compiling some float32 GroupNorm-residual subgraphs with more than one stream;
    without them the step is as fast, 14.8 against 14.9 ms for record_rod2021)."""
    if precision not in PRECISIONS:
        raise ConfigError(describe("openvino runtime: precision", "unknown precision", found=precision,
                                   expected=list(PRECISIONS)))
    options: dict[str, Any] = {
        ov_hints.performance_mode: ov_hints.PerformanceMode.LATENCY,
        ov_hints.inference_precision: PRECISIONS[precision],
        ov_cpu.denormals_optimization: True,
        ov_hints.enable_cpu_pinning: False,
        "SNIPPETS_MODE": "DISABLE",
    }
    if threads is not None:
        if threads < 1:
            raise ConfigError(describe("openvino runtime: threads", "must be positive", found=threads))
        options[ov_props.inference_num_threads] = threads
    return options


class _SignalStack(ctypes.Structure):
    """``stack_t`` of Linux's ``<signal.h>``: a thread's alternate signal stack."""

    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


_SS_DISABLE = 2


@contextlib.contextmanager
def _signal_stack_kept() -> Iterator[None]:
    """Give the calling thread back the alternate signal stack it had on entry.

    OpenVINO's CPU plugin (2026.4) gives the thread that creates it an alternate signal stack and, when its
    Core is destroyed, restores the one it found. Two Cores destroyed in creation order (not the reverse) leave
    the thread on the first Core's unmapped stack, and the next Python signal handler (Python installs them
    to run on the alternate stack: a DataLoader's SIGCHLD, a node's SIGINT) kills the process with SIGSEGV.
    Putting the thread's stack back at once leaves every Core only the original stack to restore.
    """
    if not sys.platform.startswith("linux"):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    saved = _SignalStack()
    known = libc.sigaltstack(None, ctypes.byref(saved)) == 0
    try:
        yield
    finally:
        if known:
            saved.ss_flags &= _SS_DISABLE
            libc.sigaltstack(ctypes.byref(saved), None)


@functools.cache
def _core() -> ov.Core:
    """The process's one OpenVINO Core, its CPU plugin created here (the only call that swaps the signal stack)."""
    with _signal_stack_kept():
        core = ov.Core()
        core.get_property("CPU", ov_props.device.capabilities)
    return core


def cpu_capabilities() -> list[str]:
    """What OpenVINO's CPU plugin finds this CPU can do (``FP32``, ``BF16``, ``INT8``, ...)."""
    return list(_core().get_property("CPU", ov_props.device.capabilities))


def _read_model(core: ov.Core, path: str) -> tuple[ov.Model, int]:
    """The ONNX file as an OpenVINO model, GroupNorms fused; also how many were fused."""
    try:
        proto = onnx.load(path)
        fused = fuse_group_norms(proto)
        return core.read_model(proto.SerializeToString()), fused
    except Exception as error:  # noqa: BLE001 - onnx and OpenVINO raise their own types for bad graphs
        raise DataFormatError(describe(path, f"OpenVINO cannot read the graph ({error})")) from None


def _port_name(port: Any, expected: set[str]) -> str:
    """The port's name among the spec's names (a tensor can carry several names), else any of its names."""
    return next(iter(port.get_names() & expected), port.get_any_name())


def _port_shape(port: Any) -> list[int]:
    return [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]


def _check_ports(model: ov.Model, spec: DeploymentSpec, path: str) -> None:
    names = set(spec.input_names) | set(spec.output_names)
    spec.check_graph_io(path, [(_port_name(p, names), _port_shape(p)) for p in model.inputs],
                        [(_port_name(p, names), _port_shape(p)) for p in model.outputs])


class OpenVINORuntime(HostBoundRuntime):
    """An exported ONNX step on OpenVINO's CPU plugin.

    Args:
        path: ONNX file written by ``record export`` (its spec is read from the file).
        streams: independent streams (the static batch it is compiled for).
        threads: inference threads (None: OpenVINO's default, every core).
        precision: ``fp32`` or ``bf16`` inference precision (see the module docstring).
    """

    backend = "openvino"

    def __init__(self, path: str | os.PathLike[str], *, streams: int = 1, threads: int | None = None,
                 precision: str = "fp32") -> None:
        path = str(path)
        spec = read_spec(path)
        super().__init__(spec, streams, path, "cpu")
        options = compile_options(threads, precision)
        core = _core()
        model, self._fused_norms = _read_model(core, path)
        _check_ports(model, spec, path)
        model.reshape({port: [streams, *_port_shape(port)[1:]] for port in model.inputs})
        self._compiled = core.compile_model(model, "CPU", options)
        self._threads, self._precision = threads, precision
        self._buffers = PingPongBuffers(spec, streams)
        self._requests = tuple(self._request(read, write) for read, write in self._buffers.bindings())

    def _request(self, state_in: list[np.ndarray], state_out: list[np.ndarray]) -> ov.InferRequest:
        """An infer request bound once to the frame and logit buffers and one (read, write) state pair."""
        request = self._compiled.create_infer_request()
        spec, buffers = self.spec, self._buffers
        names = [t.name for t in spec.frames] + [f"{t.name}_in" for t in spec.states]
        for name, array in zip(names, [*buffers.frames, *state_in]):
            request.set_tensor(name, ov.Tensor(array, shared_memory=True))
        names = [t.name for t in spec.logits] + [f"{t.name}_out" for t in spec.states]
        for name, array in zip(names, [*buffers.logits, *state_out]):
            request.set_tensor(name, ov.Tensor(array, shared_memory=True))
        return request

    def _run(self, parity: int) -> None:
        self._requests[parity].infer()

    def _options(self) -> dict[str, Any]:
        precision = self._compiled.get_property(ov_hints.inference_precision)
        return {"threads": self._threads, "precision": self._precision, "inference_precision": str(precision),
                "group_norms_fused": self._fused_norms, "openvino": ov.get_version(),
                "file": Path(self.source).name}
