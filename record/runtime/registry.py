"""Backends by name, imported only when chosen, and :func:`open_runtime`.

A backend is a :class:`~record.runtime.base.StreamingRuntime` subclass with a classmethod
``from_source(source, *, device, streams, **options)``. The built-in ones live in modules that import their
heavy dependency (onnxruntime, openvino, CUDA, tensorrt) at module level, so naming a backend whose
dependency is missing fails with one line saying what to install, and choosing another never imports it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from record.errors import ConfigError, RecordError, describe
from record.runtime.base import StreamingRuntime

__all__ = ["BACKENDS", "BackendUnavailable", "backend_class", "list_backends", "open_runtime",
           "register_backend"]

#: name -> ("module:Class", what to install when the module's imports fail)
BACKENDS: dict[str, tuple[str, str]] = {
    "torch": ("record.runtime.torch_backend:TorchRuntime", "torch (a CUDA build for device=cuda)"),
    "onnxruntime": ("record.runtime.onnxruntime_backend:OnnxRuntimeRuntime",
                    "onnxruntime (pip install onnxruntime)"),
    "openvino": ("record.runtime.openvino_backend:OpenVINORuntime",
                 "openvino (pip install 'record-radar[openvino]' or pip install openvino)"),
    "tensorrt": ("record.runtime.tensorrt_backend:TensorRTRuntime",
                 ("TensorRT >= 10 and a CUDA build of torch (on Jetson: JetPack's python3-libnvinfer and "
                  "NVIDIA's torch wheel; on x86: pip install tensorrt)")),
}


class BackendUnavailable(RecordError):
    """The chosen backend's dependency is not installed (or its device is absent)."""


def register_backend(name: str, target: str, requirement: str) -> None:
    """Make ``"module:Class"`` available as backend ``name``; ``requirement`` says what it needs."""
    if name in BACKENDS:
        raise ConfigError(describe("runtime backends", "backend registered twice", found=name))
    BACKENDS[name] = (target, requirement)


def list_backends() -> list[str]:
    return list(BACKENDS)


def backend_class(name: str) -> type[StreamingRuntime]:
    """The class of backend ``name``, importing its module now.

    Raises:
        ConfigError: unknown name.
        BackendUnavailable: its dependency is missing (the message says what to install).
    """
    if name not in BACKENDS:
        raise ConfigError(describe("backend", "unknown runtime backend", found=repr(name),
                                   expected=list(BACKENDS)))
    target, requirement = BACKENDS[name]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BackendUnavailable(f"backend {name!r} is not available here ({error}); it needs {requirement}"
                                 ) from None
    return getattr(module, class_name)


def open_runtime(source: str | os.PathLike[str], backend: str = "onnxruntime", *, device: str = "cpu",
                 streams: int = 1, **options: Any) -> StreamingRuntime:
    """Open an exported model (``.onnx``), a project checkpoint or a TensorRT engine with ``backend``.

    Args:
        source: ONNX file from ``record export``, project checkpoint (``.pt``), or engine (``tensorrt``).
        backend: ``torch``, ``onnxruntime``, ``openvino`` or ``tensorrt`` (:data:`BACKENDS`).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (what the backend supports).
        streams: independent streams stepped together (batch size), each with its own state.
        **options: backend settings (e.g. ``threads``, ``cuda_graph``, ``size``, ``cache_dir``).
    """
    return backend_class(backend).from_source(os.fspath(source), device=device, streams=streams, **options)
