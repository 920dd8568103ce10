"""Deployment: ONNX export of the online step and streaming runtimes behind one interface.

* :func:`record.runtime.export.export_onnx` / ``record export``: the online step as ONNX with explicit state
  and its :class:`DeploymentSpec` embedded;
* :func:`open_runtime` (also ``StreamingRuntime.open``): a :class:`StreamingRuntime` over the backend
  ``torch`` (CPU / CUDA, optional CUDA graph), ``onnxruntime`` (CPU, I/O binding), ``openvino`` (CPU,
  the fastest here) or ``tensorrt`` (NVIDIA GPUs), each imported only when chosen;
* :func:`record.runtime.parity.run_parity` / ``record parity``: closed-loop comparison of backends.

This module imports no backend dependency itself.
"""

from record.runtime.base import Frames, RuntimeInfo, Scores, StreamingRuntime, activate_host
from record.runtime.registry import (
    BackendUnavailable,
    backend_class,
    list_backends,
    open_runtime,
    register_backend,
)
from record.runtime.spec import DeploymentSpec, TensorSpec

__all__ = [
    "BackendUnavailable",
    "DeploymentSpec",
    "Frames",
    "RuntimeInfo",
    "Scores",
    "StreamingRuntime",
    "TensorSpec",
    "activate_host",
    "backend_class",
    "list_backends",
    "open_runtime",
    "register_backend",
]
