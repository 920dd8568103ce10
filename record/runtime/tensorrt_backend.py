"""TensorRT backend: engine building and caching, load-time validation, and a streaming runtime whose
recurrent state ping-pongs between two sets of CUDA buffers.

Written against the TensorRT 10 name-based API (``num_io_tensors``, ``get_tensor_*``, ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``), which TensorRT 11 keeps unchanged. Networks are built strongly
typed and no weak-typing API (``BuilderFlag.FP16/INT8``) is used: an FP16 engine comes from the FP16 ONNX that
``record export --fp16`` writes. Device memory and the CUDA stream come from torch (CUDA tensors'
``data_ptr()``, ``torch.cuda.Stream().cuda_stream``).

Files. An engine (plan) ``X.engine`` always travels with its sidecar ``X.engine.json``: the deployment spec,
the cache key and what the key was made of (SHA-256 of the ONNX bytes, TensorRT version, GPU name, compute
capability, precision, largest stream count) plus the plan's SHA-256. An engine is specific to its GPU and
TensorRT version, so every load checks the sidecar against this machine, the plan against the sidecar, and the
engine's I/O against the spec, and refuses a mismatch with a message saying how to rebuild.

Cache. :func:`engine_for` keeps ``<onnx stem>-<key[:16]>.engine`` beside the ONNX file (or in ``cache_dir``)
and rebuilds it when it is missing, damaged or made for another target.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorrt as trt
import torch

from record.errors import ConfigError, DataFormatError, describe
from record.fileio import atomic_path, atomic_write_json
from record.provenance import file_sha256
from record.runtime.base import StreamingRuntime
from record.runtime.cache import onnx_for_source
from record.runtime.spec import DeploymentSpec, TensorSpec

__all__ = [
    "DEFAULT_WORKSPACE_MIB",
    "ENGINE_SUFFIXES",
    "EngineInfo",
    "Target",
    "TensorRTRuntime",
    "activate_device",
    "build_engine",
    "check_engine_io",
    "cuda_device",
    "default_engine_path",
    "engine_for",
    "engine_key",
    "load_engine",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]

#: Builder workspace limit (MiB): ample for RECORD's small convolutions, affordable on an 8 GB Orin Nano.
DEFAULT_WORKSPACE_MIB = 1024
#: File suffixes taken for serialized engines.
ENGINE_SUFFIXES = (".engine", ".plan")
_SIDECAR_FORMAT = "record-tensorrt-engine"
_SIDECAR_VERSION = 1
_REBUILD = ("rebuild it on this machine with `record export CHECKPOINT --format tensorrt`, or open the ONNX "
            "file or checkpoint instead so that the engine cache rebuilds it")
_log = logging.getLogger(__name__)


@functools.cache
def _default_logger() -> trt.ILogger:
    """One process-wide TensorRT logger (warnings and errors go to stderr)."""
    return trt.Logger(trt.Logger.WARNING)


# ------------------------------------------------------------ what an engine is specific to
@dataclass(frozen=True)
class Target:
    """The machine an engine is built for: TensorRT version, GPU name and compute capability (``8.7``)."""

    tensorrt: str
    gpu: str
    compute_capability: str

    @classmethod
    def current(cls, device: str | torch.device = "cuda") -> Target:
        """This process's TensorRT and the GPU ``device``."""
        major, minor = torch.cuda.get_device_capability(device)
        return cls(trt.__version__, torch.cuda.get_device_name(device), f"{major}.{minor}")


def engine_key(onnx_sha256: str, precision: str, max_streams: int, target: Target) -> str:
    """Hex SHA-256 over everything an engine depends on: the ONNX bytes (their SHA-256), TensorRT version, GPU
    name, compute capability, precision (``spec.precision``) and the profile's largest stream count."""
    fields = {"onnx_sha256": onnx_sha256, "precision": precision, "max_streams": max_streams,
              **asdict(target)}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EngineInfo:
    """An engine's sidecar: its spec, cache key and the inputs of that key, and the plan's SHA-256.

    Attributes:
        spec: deployment spec of the ONNX the engine was built from.
        key: :func:`engine_key` at build time.
        onnx: path of that ONNX file (informational); ``onnx_sha256``: its SHA-256.
        target: TensorRT version and GPU it was built for.
        max_streams: largest batch (stream count) of its optimisation profile.
        workspace_mib: builder workspace limit, MiB.
        plan_sha256: SHA-256 of the engine file.
    """

    spec: DeploymentSpec
    key: str
    onnx: str
    onnx_sha256: str
    target: Target
    max_streams: int
    workspace_mib: int
    plan_sha256: str

    def to_json(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in
                  ("key", "onnx", "onnx_sha256", "max_streams", "workspace_mib", "plan_sha256")}
        return {"format": _SIDECAR_FORMAT, "format_version": _SIDECAR_VERSION, **fields,
                **asdict(self.target), "spec": json.loads(self.spec.to_json())}


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    """``X.engine`` -> ``X.engine.json``."""
    return Path(f"{os.fspath(engine_path)}.json")


def default_engine_path(onnx_path: str | os.PathLike[str]) -> Path:
    """Where an engine built from ``onnx_path`` goes by default: beside it, ``<stem>.engine``."""
    return Path(onnx_path).with_suffix(".engine")


def read_sidecar(engine_path: str | os.PathLike[str]) -> EngineInfo:
    """The sidecar of ``engine_path``.

    Raises:
        DataFormatError: missing, unreadable or incomplete sidecar, or one whose spec does not parse.
    """
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise DataFormatError(describe(engine_path, f"engine has no sidecar (not built by RECORD, or copied "
                                       f"without it); {_REBUILD}", expected=path.name))
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFormatError(describe(path, f"unreadable engine sidecar ({error}); {_REBUILD}")) from None
    if not isinstance(payload, dict) or payload.get("format") != _SIDECAR_FORMAT:
        raise DataFormatError(describe(path, f"not a RECORD engine sidecar; {_REBUILD}",
                                       expected=_SIDECAR_FORMAT))
    if payload.get("format_version") != _SIDECAR_VERSION:
        raise DataFormatError(describe(path, f"unsupported engine sidecar version; {_REBUILD}",
                                       found=payload.get("format_version"), expected=_SIDECAR_VERSION))
    try:
        spec = DeploymentSpec.from_json(json.dumps(payload["spec"]), str(path))
        target = Target(str(payload["tensorrt"]), str(payload["gpu"]), str(payload["compute_capability"]))
        return EngineInfo(spec=spec, key=str(payload["key"]), onnx=str(payload["onnx"]),
                          onnx_sha256=str(payload["onnx_sha256"]), target=target,
                          max_streams=int(payload["max_streams"]),
                          workspace_mib=int(payload["workspace_mib"]),
                          plan_sha256=str(payload["plan_sha256"]))
    except (KeyError, TypeError, ValueError) as error:
        raise DataFormatError(describe(path, f"incomplete engine sidecar ({error!r}); {_REBUILD}")) from None


def write_sidecar(engine_path: str | os.PathLike[str], onnx_path: str | os.PathLike[str], *,
                  max_streams: int = 1, workspace_mib: int = DEFAULT_WORKSPACE_MIB,
                  device: str | torch.device = "cuda") -> Path:
    """Write the sidecar of an engine built on this machine from ``onnx_path`` (also for a ``trtexec`` build:
    pass the ``--maxShapes`` batch as ``max_streams``); return its path."""
    from record.runtime.spec import read_spec

    spec = read_spec(onnx_path)
    onnx_sha256 = file_sha256(onnx_path)
    target = Target.current(device)
    info = EngineInfo(spec=spec, key=engine_key(onnx_sha256, spec.precision, max_streams, target),
                      onnx=str(Path(onnx_path).resolve()), onnx_sha256=onnx_sha256, target=target,
                      max_streams=max_streams, workspace_mib=workspace_mib,
                      plan_sha256=file_sha256(engine_path))
    path = sidecar_path(engine_path)
    atomic_write_json(path, info.to_json())
    return path


# ------------------------------------------------------------ building and caching
def build_engine(onnx_path: str | os.PathLike[str], engine_path: str | os.PathLike[str], *,
                 workspace_mib: int = DEFAULT_WORKSPACE_MIB, max_streams: int = 1,
                 logger: trt.ILogger | None = None, device: str | torch.device = "cuda") -> Path:
    """Build a strongly typed engine from an ONNX file written by ``record export``; write it and its sidecar.

    One optimisation profile covers the dynamic batch (stream) axis of every input: min 1, opt = max =
    ``max_streams``. A runtime always binds its full stream count, so kernels are tuned for that batch; fewer
    streams still run. Precision is the ONNX file's own (FP16 ONNX -> FP16 engine). Building takes seconds on
    a desktop GPU and minutes on a Jetson.

    Args:
        onnx_path: the ONNX file (its deployment spec names the inputs and their per-stream shapes).
        engine_path: where the plan goes (written atomically); the sidecar goes to ``<engine_path>.json``.
        workspace_mib: builder workspace limit, MiB.
        max_streams: largest number of streams the engine will serve (>= 1).
        logger: TensorRT logger (default: warnings and errors to stderr).
        device: the CUDA device the engine is for (TensorRT builds on the current device).

    Raises:
        DataFormatError: the ONNX parser failed, the graph's inputs are not its spec's, or the build failed.
    """
    from record.runtime.spec import read_spec

    if not isinstance(max_streams, int) or max_streams < 1:
        raise ConfigError(describe("tensorrt build: max_streams", "must be a positive integer",
                                   found=max_streams))
    spec = read_spec(onnx_path)
    logger = logger or _default_logger()
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(os.fspath(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise DataFormatError(describe(onnx_path, f"TensorRT's ONNX parser failed: {errors or 'no details'}"))
    inputs = sorted(network.get_input(i).name for i in range(network.num_inputs))
    if inputs != sorted(spec.input_names):
        raise DataFormatError(describe(onnx_path, "graph inputs are not its deployment spec's", found=inputs,
                                       expected=sorted(spec.input_names)))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    profile = builder.create_optimization_profile()
    for name, shape in _input_shapes(spec):
        profile.set_shape(name, (1, *shape), (max_streams, *shape), (max_streams, *shape))
    config.add_optimization_profile(profile)
    _log.info("building TensorRT %s engine %s from %s", trt.__version__, engine_path, onnx_path)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise DataFormatError(describe(onnx_path, "TensorRT could not build an engine (see its log above)"))
    engine_path = Path(engine_path)
    sidecar_path(engine_path).unlink(missing_ok=True)  # an interrupted build leaves a plan without sidecar
    with atomic_path(engine_path) as tmp:
        tmp.write_bytes(plan)
    write_sidecar(engine_path, onnx_path, max_streams=max_streams, workspace_mib=workspace_mib, device=device)
    return engine_path


def engine_for(onnx_path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None, *,
               rebuild: bool = False, max_streams: int = 1, workspace_mib: int = DEFAULT_WORKSPACE_MIB,
               logger: trt.ILogger | None = None, device: str | torch.device = "cuda") -> Path:
    """The cached engine of ``onnx_path`` for this machine, built when missing, damaged or stale.

    The cache entry is ``<cache_dir>/<onnx stem>-<key[:16]>.engine`` (:func:`engine_key`); ``cache_dir``
    defaults to the ONNX file's folder (pass one when that folder is read-only). An entry is reused when its
    sidecar parses, holds the same key and its plan hash matches; otherwise (or with ``rebuild``) it is built
    again. A changed ONNX file, TensorRT upgrade or another GPU gives another key, hence another file.
    """
    from record.runtime.spec import read_spec

    spec = read_spec(onnx_path)
    key = engine_key(file_sha256(onnx_path), spec.precision, max_streams, Target.current(device))
    path = Path(cache_dir or Path(onnx_path).parent) / f"{Path(onnx_path).stem}-{key[:16]}.engine"
    if not rebuild and path.is_file():
        try:
            info = read_sidecar(path)
            if info.key == key and file_sha256(path) == info.plan_sha256:
                return path
            _log.warning("%s: stale or damaged cached engine; rebuilding", path)
        except DataFormatError as error:
            _log.warning("%s; rebuilding", error)
    return build_engine(onnx_path, path, workspace_mib=workspace_mib, max_streams=max_streams, logger=logger,
                        device=device)


# ------------------------------------------------------------ loading and validation
def _input_shapes(spec: DeploymentSpec) -> list[tuple[str, tuple[int, ...]]]:
    return [(t.name, t.shape) for t in spec.frames] + [(f"{t.name}_in", t.shape) for t in spec.states]


def _output_shapes(spec: DeploymentSpec) -> list[tuple[str, tuple[int, ...]]]:
    return [(t.name, t.shape) for t in spec.logits] + [(f"{t.name}_out", t.shape) for t in spec.states]


def check_engine_io(engine: trt.ICudaEngine, spec: DeploymentSpec, where: str | os.PathLike[str]) -> None:
    """The engine's I/O tensors must be exactly the spec's (any order): names, modes, per-stream shapes, and
    float32 (an FP16 export keeps float32 I/O). Raises DataFormatError naming ``where`` otherwise."""
    expected = {name: (trt.TensorIOMode.INPUT, shape) for name, shape in _input_shapes(spec)}
    expected |= {name: (trt.TensorIOMode.OUTPUT, shape) for name, shape in _output_shapes(spec)}
    found = {}
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        found[name] = (engine.get_tensor_mode(name), tuple(engine.get_tensor_shape(name))[1:],
                       engine.get_tensor_dtype(name))
    if set(found) != set(expected):
        raise DataFormatError(describe(where, f"engine I/O names are not its spec's ({spec.model}): another "
                                       f"model?; {_REBUILD}", found=sorted(found), expected=sorted(expected)))
    wrong = [name for name, (mode, shape, dtype) in sorted(found.items())
             if (mode, shape) != expected[name] or dtype != trt.float32]
    if wrong:
        raise DataFormatError(describe(
            where, f"engine I/O does not match its spec ({spec.model}, input size {list(spec.input_size)}); "
            f"{_REBUILD}",
            found=[f"{n} {found[n][0].name} {list(found[n][1])} {found[n][2].name}" for n in wrong],
            expected=[f"{n} {expected[n][0].name} {list(expected[n][1])} FLOAT" for n in wrong]))


def load_engine(engine_path: str | os.PathLike[str], runtime: trt.Runtime, *,
                device: str | torch.device = "cuda") -> tuple[trt.ICudaEngine, EngineInfo]:
    """Deserialise a validated engine with ``runtime`` (which must outlive it).

    Checks, in order: the file exists; its sidecar is complete and made for this TensorRT / GPU (key
    recomputed); the plan's SHA-256 is the sidecar's (truncated or replaced files); TensorRT deserialises it;
    its I/O matches the spec (:func:`check_engine_io`).

    Raises:
        DataFormatError: any check failed (the message names the file, what was found and expected).
    """
    path = Path(engine_path)
    if not path.is_file():
        raise DataFormatError(describe(path, "TensorRT engine file not found"))
    info = read_sidecar(path)
    here = Target.current(device)
    if info.key != engine_key(info.onnx_sha256, info.spec.precision, info.max_streams, here):
        built, now = asdict(info.target), asdict(here)
        differ = [name for name in now if built[name] != now[name]]
        if not differ:
            raise DataFormatError(describe(path, f"sidecar's cache key does not match its contents "
                                           f"(edited?); {_REBUILD}", found=info.key[:16]))
        raise DataFormatError(describe(
            path, f"engine was built for another TensorRT version or GPU (from {info.onnx}); {_REBUILD}",
            found=", ".join(f"{n} {built[n]}" for n in differ),
            expected=", ".join(f"{n} {now[n]}" for n in differ)))
    plan = path.read_bytes()
    digest = hashlib.sha256(plan).hexdigest()
    if digest != info.plan_sha256:
        raise DataFormatError(describe(path, f"engine file does not match its sidecar (truncated, or "
                                       f"replaced without its .json); {_REBUILD}",
                                       found=f"{len(plan)} bytes, sha256 {digest[:16]}",
                                       expected=f"sha256 {info.plan_sha256[:16]}"))
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise DataFormatError(describe(path, f"TensorRT cannot deserialise the engine (corrupt, or from "
                                       f"another TensorRT build; see its log above); {_REBUILD}"))
    check_engine_io(engine, info.spec, path)
    return engine, info


# ------------------------------------------------------------ the runtime
def cuda_device(name: str | torch.device) -> torch.device:
    """``name`` as the CUDA device TensorRT will use (``cuda`` -> the current device).

    Raises:
        ConfigError: not a CUDA device, no CUDA here, or a device other than the current one (TensorRT builds
            and runs on the current device; select another with ``torch.cuda.set_device`` or
            ``CUDA_VISIBLE_DEVICES``).
    """
    where = "tensorrt runtime: device"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(describe(where, "unknown device", found=repr(name),
                                   expected="cuda or cuda:N")) from None
    if device.type != "cuda":
        raise ConfigError(describe(where, "TensorRT runs on CUDA devices only", found=name,
                                   expected="cuda or cuda:N (onnxruntime or torch run on the CPU)"))
    if not torch.cuda.is_available():
        raise ConfigError(describe(where, "CUDA is not available here", found=name,
                                   expected="an NVIDIA GPU and a CUDA build of torch "
                                            "(on Jetson: NVIDIA's wheel)"))
    current = torch.cuda.current_device()
    if device.index not in (None, current):
        raise ConfigError(describe(where, "TensorRT uses the current CUDA device", found=name,
                                   expected=f"cuda or cuda:{current} (or torch.cuda.set_device first)"))
    return torch.device("cuda", current)


def activate_device(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """``sigmoid`` element-wise or ``softmax`` over the class axis (1) of logits ``[streams, classes, H, W]``,
    on their device, into a new tensor."""
    return torch.sigmoid(logits) if activation == "sigmoid" else torch.softmax(logits, dim=1)


class TensorRTRuntime(StreamingRuntime):
    """A validated TensorRT engine stepping ``streams`` streams, its state kept on the device.

    Buffers (``[streams, *shape]`` float32 on ``device``): frames, logits, and two sets A and B of state
    tensors. Even steps read A and write B, odd steps read B and write A (the ``<state>_in`` / ``<state>_out``
    addresses are swapped after each enqueue), so no buffer is ever bound as input and output of one enqueue
    and the state is never copied. A step: frames -> pinned staging -> device (async), ``execute_async_v3`` on
    the runtime's own CUDA stream, activation on the device, scores -> pinned host buffers, one
    synchronisation.

    Args:
        engine_path: engine with its sidecar (:func:`load_engine` validates both).
        streams: independent streams, at most the engine's ``max_streams``.
        device: where the buffers and the stream live: a CUDA device (:meth:`from_source` checks it is one). A
            ``cpu`` device keeps them in host memory, which only an engine reading host memory can use (the
            tests' fake TensorRT).
        logger: TensorRT logger (default: warnings and errors to stderr).
    """

    backend = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike[str], *, streams: int = 1,
                 device: str | torch.device = "cuda", logger: trt.ILogger | None = None) -> None:
        device = torch.device(device)
        self._trt_runtime = trt.Runtime(logger or _default_logger())
        self._engine, self.engine_info = load_engine(engine_path, self._trt_runtime, device=device)
        super().__init__(self.engine_info.spec, streams, os.fspath(engine_path), str(device))
        if streams > self.engine_info.max_streams:
            raise ConfigError(describe(self._where, "more streams than the engine was built for",
                                       found=streams,
                                       expected=f"at most {self.engine_info.max_streams} (build it with "
                                       f"max_streams >= {streams})"))
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise RuntimeError(f"{self._where}: TensorRT could not create an execution context "
                               "(device memory?)")
        pinned = device.type == "cuda"

        def on_device(tensors: Sequence[TensorSpec]) -> list[torch.Tensor]:
            return [torch.zeros((streams, *t.shape), dtype=torch.float32, device=device) for t in tensors]

        def on_host(tensors: Sequence[TensorSpec]) -> list[torch.Tensor]:
            return [torch.zeros((streams, *t.shape), dtype=torch.float32, pin_memory=pinned) for t in tensors]

        spec = self.spec
        self._frames, self._staging = on_device(spec.frames), on_host(spec.frames)
        self._logits, self._host_scores = on_device(spec.logits), on_host(spec.logits)
        self._states = (on_device(spec.states), on_device(spec.states))  # sets A and B
        self._parity = 0  # the next step reads self._states[self._parity]
        for name, shape in _input_shapes(spec):
            if not self._context.set_input_shape(name, (streams, *shape)):
                raise ConfigError(describe(self._where, f"TensorRT refused the shape of {name!r}",
                                           found=[streams, *shape]))
        for tensor, buffer in zip((*spec.frames, *spec.logits), (*self._frames, *self._logits)):
            self._bind(tensor.name, buffer)
        self._bind_states()
        # None: host buffers, nothing asynchronous
        self._stream = torch.cuda.Stream(device) if pinned else None
        self._handle = self._stream.cuda_stream if self._stream is not None else 0
        if self._stream is not None:
            # buffers were zeroed on the default stream
            self._stream.wait_stream(torch.cuda.current_stream(device))

    @classmethod
    def from_source(cls, source: str, *, device: str = "cuda", streams: int = 1,
                    cache_dir: str | os.PathLike[str] | None = None, rebuild: bool = False,
                    fp16: bool = False, size: tuple[int, int] | None = None,
                    workspace_mib: int = DEFAULT_WORKSPACE_MIB,
                    logger: trt.ILogger | None = None) -> TensorRTRuntime:
        """Open an engine (``.engine`` / ``.plan`` with its sidecar), an ONNX file or a checkpoint.

        An ONNX file or checkpoint goes through the export cache
        (:func:`record.runtime.cache.onnx_for_source`, ``fp16`` and ``size`` apply to checkpoints) and the
        engine cache (:func:`engine_for`, built for ``max_streams = streams``; ``rebuild`` forces a build).
        For an engine file, ``fp16`` and ``size`` are checked against it instead.
        """
        target = cuda_device(device)
        if Path(source).suffix.lower() in ENGINE_SUFFIXES:
            info = read_sidecar(source)
            if ((fp16 and info.spec.precision != "fp16")
                    or (size is not None and tuple(size) != info.spec.input_size)):
                raise ConfigError(describe(
                    source, "engine does not have the requested precision / input size",
                    found=f"{info.spec.precision} {list(info.spec.input_size)}",
                    expected=f"{'fp16' if fp16 else 'any precision'} {list(size) if size else 'any size'}"))
            engine = Path(source)
        else:
            onnx = onnx_for_source(source, size=size, fp16=fp16, cache_dir=cache_dir)
            engine = engine_for(onnx, cache_dir, rebuild=rebuild, max_streams=streams,
                                workspace_mib=workspace_mib, logger=logger, device=target)
        return cls(engine, streams=streams, device=target, logger=logger)

    def _bind(self, name: str, buffer: torch.Tensor) -> None:
        if not self._context.set_tensor_address(name, buffer.data_ptr()):
            raise RuntimeError(f"{self._where}: TensorRT refused the address of {name!r}")

    def _bind_states(self) -> None:
        """Bind set ``parity`` as ``<state>_in`` and the other set as ``<state>_out``."""
        read, write = self._states[self._parity], self._states[self._parity ^ 1]
        for tensor, source, target in zip(self.spec.states, read, write):
            self._bind(f"{tensor.name}_in", source)
            self._bind(f"{tensor.name}_out", target)

    def _synchronize(self) -> None:
        if self._stream is not None:
            self._stream.synchronize()

    def _step(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        with torch.cuda.stream(self._stream):
            for staging, buffer, frame in zip(self._staging, self._frames, frames):
                np.copyto(staging.numpy(), frame)
                buffer.copy_(staging, non_blocking=True)
            if not self._context.execute_async_v3(self._handle):
                raise RuntimeError(f"{self._where}: execute_async_v3 failed (see the TensorRT log)")
            self._parity ^= 1
            self._bind_states()  # enqueue has captured the addresses: the next step reads what this one wrote
            for logits, host in zip(self._logits, self._host_scores):
                host.copy_(activate_device(logits, self.spec.activation), non_blocking=True)
        self._synchronize()
        return [host.numpy().copy() for host in self._host_scores]

    def _reset(self, stream_ids: np.ndarray | None) -> None:
        with torch.cuda.stream(self._stream):
            for buffer in self._states[self._parity]:
                if stream_ids is None:
                    buffer.zero_()
                else:
                    for row in stream_ids.tolist():
                        buffer[row].zero_()

    def read_state(self) -> dict[str, np.ndarray]:
        with torch.cuda.stream(self._stream):
            copies = [buffer.to("cpu", copy=True) for buffer in self._states[self._parity]]
        self._synchronize()
        return {t.name: copy.numpy() for t, copy in zip(self.spec.states, copies)}

    def close(self) -> None:
        if getattr(self, "_context", None) is None:
            return
        self._synchronize()
        self._context = self._engine = None
        self._frames = self._logits = self._states = None  # type: ignore[assignment]

    def _options(self) -> dict[str, Any]:
        info = self.engine_info
        return {"tensorrt": trt.__version__, "engine": Path(self.source).name, "gpu": info.target.gpu,
                "compute_capability": info.target.compute_capability, "max_streams": info.max_streams,
                "cache_key": info.key[:16], "state": "ping-pong between two device buffer sets"}
