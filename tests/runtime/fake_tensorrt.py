"""A stand-in for the ``tensorrt`` module: just the TensorRT 10 API that record.runtime.tensorrt_backend
calls.

Install it as ``sys.modules["tensorrt"]`` (fixture ``fake_trt`` in test_tensorrt_backend.py). It has no weak-
typing API at all (no ``BuilderFlag``), so any use of one fails.

* Builder / network / OnnxParser / config / profile: the parser reads the ONNX file's graph inputs and outputs
  (``-1`` for the dynamic batch axis); ``build_serialized_network`` checks that every input has a profile
  shape and returns a "plan": :data:`MAGIC` + JSON of the I/O, profile, network flags, workspace and
  :data:`__version__`. Every build is appended to :data:`BUILDS`.
* ``Runtime.deserialize_cuda_engine``: the engine of a plan, or None (as TensorRT does) for a corrupt plan or
  one made by another ``__version__``.
* Engine: ``num_io_tensors``, ``get_tensor_name/mode/shape/dtype``, ``create_execution_context``.
* Execution context: ``set_input_shape`` (False outside the profile), ``set_tensor_address``, and
  ``execute_async_v3``, which reads and writes **host memory at the bound addresses** (so the runtime's
  buffers must be torch CPU tensors) and computes, per stream ``b``, with ``m_b`` the mean of the stream's
  frame values (averaged over frame inputs)::

      <state>_out[b] = 0.5 * <state>_in[b] + m_b
      logits[b, c]   = m_b + sum over states of mean(<state>_in[b]) + 0.01 * c      (broadcast over H, W)

  Each call is recorded in ``context.calls`` (stream handle and the address of every tensor); binding one
  address as an input and an output of the same call raises AssertionError.
"""

from __future__ import annotations

import ctypes
import enum
import json
from typing import Any

import numpy as np
import onnx

__version__ = "10.3.0"
MAGIC = b"FAKETRT1"
#: (network flags, workspace bytes, profile) of every build_serialized_network call, in order.
BUILDS: list[dict[str, Any]] = []


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3


float32, float16 = DataType.FLOAT, DataType.HALF
_ONNX_TYPES = {onnx.TensorProto.FLOAT: DataType.FLOAT, onnx.TensorProto.FLOAT16: DataType.HALF}


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0
    STRONGLY_TYPED = 1


class MemoryPoolType(enum.Enum):
    WORKSPACE = 0


class ILogger:
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)


class Logger(ILogger):
    def __init__(self, min_severity: int = ILogger.WARNING) -> None:
        self.min_severity = min_severity
        self.messages: list[str] = []

    def log(self, severity: int, message: str) -> None:
        if severity <= self.min_severity:
            self.messages.append(message)


# ------------------------------------------------------------ building
class _Tensor:
    def __init__(self, name: str, shape: tuple[int, ...], dtype: DataType) -> None:
        self.name, self.shape, self.dtype = name, shape, dtype


class _Network:
    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.inputs: list[_Tensor] = []
        self.outputs: list[_Tensor] = []

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def get_input(self, index: int) -> _Tensor:
        return self.inputs[index]


class _ParserError:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class OnnxParser:
    def __init__(self, network: _Network, logger: ILogger) -> None:
        self.network, self.logger = network, logger
        self.num_errors = 0
        self._errors: list[_ParserError] = []

    def fail(self, text: str) -> bool:
        """Record a parser error; returns False, as a failed parse does."""
        self._errors.append(_ParserError(text))
        self.num_errors = len(self._errors)
        return False

    def get_error(self, index: int) -> _ParserError:
        return self._errors[index]

    def parse_from_file(self, path: str) -> bool:
        try:
            graph = onnx.load_model(path).graph
        except Exception as error:  # noqa: BLE001 - protobuf raises several types on corrupt input
            return self.fail(f"ModelImporter: failed to parse the ONNX model ({error!r})")
        constants = {init.name for init in graph.initializer}

        def tensors(values: Any) -> list[_Tensor]:
            found = []
            for value in values:
                if value.name in constants:
                    continue
                dims = tuple(d.dim_value if d.HasField("dim_value") else -1
                             for d in value.type.tensor_type.shape.dim)
                found.append(_Tensor(value.name, dims, _ONNX_TYPES[value.type.tensor_type.elem_type]))
            return found

        self.network.inputs, self.network.outputs = tensors(graph.input), tensors(graph.output)
        return True


class _Profile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}

    def set_shape(self, name: str, minimum: Any, optimum: Any, maximum: Any) -> None:
        self.shapes[name] = (tuple(minimum), tuple(optimum), tuple(maximum))


class _Config:
    def __init__(self) -> None:
        self.pools: dict[MemoryPoolType, int] = {}
        self.profiles: list[_Profile] = []

    def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
        self.pools[pool] = size

    def add_optimization_profile(self, profile: _Profile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1


class Builder:
    def __init__(self, logger: ILogger) -> None:
        self.logger = logger

    def create_network(self, flags: int = 0) -> _Network:
        return _Network(flags)

    def create_builder_config(self) -> _Config:
        return _Config()

    def create_optimization_profile(self) -> _Profile:
        return _Profile()

    def build_serialized_network(self, network: _Network, config: _Config) -> bytes | None:
        profile = config.profiles[0].shapes if config.profiles else {}
        for tensor in network.inputs:
            shapes = profile.get(tensor.name)
            fits = shapes is not None and all(
                len(s) == len(tensor.shape) and all(d == -1 or d == x for d, x in zip(tensor.shape, s))
                for s in shapes) and shapes[0][0] <= shapes[1][0] <= shapes[2][0]
            if not fits:
                self.logger.log(ILogger.ERROR, f"{tensor.name}: no valid optimisation profile shape")
                return None
        BUILDS.append({"flags": network.flags, "workspace": config.pools.get(MemoryPoolType.WORKSPACE),
                       "profile": profile})
        io = [(t.name, TensorIOMode.INPUT.name, t.shape, t.dtype.name) for t in network.inputs]
        io += [(t.name, TensorIOMode.OUTPUT.name, t.shape, t.dtype.name) for t in network.outputs]
        return MAGIC + json.dumps({"version": __version__, "io": io, "profile": profile}).encode()


# ------------------------------------------------------------ running
class Runtime:
    def __init__(self, logger: ILogger) -> None:
        self.logger = logger

    def deserialize_cuda_engine(self, plan: bytes) -> _Engine | None:
        try:
            if not bytes(plan).startswith(MAGIC):
                raise ValueError("bad magic")
            payload = json.loads(bytes(plan)[len(MAGIC):])
        except ValueError:
            self.logger.log(ILogger.ERROR, "IRuntime::deserializeCudaEngine: corrupt plan")
            return None
        if payload["version"] != __version__:
            self.logger.log(ILogger.ERROR, "plan was built by another TensorRT version")
            return None
        return _Engine(payload)


def memory(address: int, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 NumPy view of host memory at ``address`` (a torch CPU tensor's ``data_ptr()``)."""
    assert address and address % 4 == 0, f"bad address {address:#x}"
    count = int(np.prod(shape))
    return np.ctypeslib.as_array((ctypes.c_float * count).from_address(address)).reshape(shape)


class _Engine:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.io = [(name, TensorIOMode[mode], tuple(shape), DataType[dtype]) for name, mode, shape, dtype
                   in payload["io"]]
        self.profile = {name: tuple(map(tuple, shapes)) for name, shapes in payload["profile"].items()}

    @property
    def num_io_tensors(self) -> int:
        return len(self.io)

    def _find(self, name: str) -> tuple[str, TensorIOMode, tuple[int, ...], DataType]:
        return next(t for t in self.io if t[0] == name)

    def get_tensor_name(self, index: int) -> str:
        return self.io[index][0]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return self._find(name)[1]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self._find(name)[2]

    def get_tensor_dtype(self, name: str) -> DataType:
        return self._find(name)[3]

    def create_execution_context(self) -> _Context:
        return _Context(self)


class _Context:
    def __init__(self, engine: _Engine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}
        self.calls: list[dict[str, Any]] = []

    def set_input_shape(self, name: str, shape: Any) -> bool:
        shape = tuple(shape)
        _, mode, declared, _ = self.engine._find(name)
        low, _, high = self.engine.profile[name]
        within = len(shape) == len(low) and all(lo <= n <= hi for lo, n, hi in zip(low, shape, high))
        if mode != TensorIOMode.INPUT or not within or shape[1:] != declared[1:]:
            return False
        self.shapes[name] = shape
        return True

    def set_tensor_address(self, name: str, address: int) -> bool:
        self.engine._find(name)
        self.addresses[name] = int(address)
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        inputs = [t for t in self.engine.io if t[1] == TensorIOMode.INPUT]
        outputs = [t for t in self.engine.io if t[1] == TensorIOMode.OUTPUT]
        assert set(self.shapes) == {t[0] for t in inputs}, "an input has no shape"
        assert set(self.addresses) == {t[0] for t in self.engine.io}, "a tensor has no address"
        shared = {self.addresses[t[0]] for t in inputs} & {self.addresses[t[0]] for t in outputs}
        assert not shared, "one buffer bound as input and output of one call"
        self.calls.append({"stream": stream_handle, "addresses": dict(self.addresses)})
        batch = self.shapes[inputs[0][0]][0]
        read = {name: memory(self.addresses[name], self.shapes[name]).astype(np.float64)
                for name, *_ in inputs}
        frames = [a for name, a in read.items() if not name.endswith("_in")]
        states = {name.removesuffix("_in"): a for name, a in read.items() if name.endswith("_in")}
        mean = np.mean([f.reshape(batch, -1).mean(axis=1) for f in frames], axis=0)  # m_b
        state_means = sum((s.reshape(batch, -1).mean(axis=1) for s in states.values()), np.zeros(batch))
        for name, _, shape, _ in outputs:
            out = memory(self.addresses[name], (batch, *shape[1:]))
            if name.endswith("_out"):
                state = states[name.removesuffix("_out")]
                out[...] = 0.5 * state + mean.reshape(-1, *[1] * (state.ndim - 1))
            else:
                classes = 0.01 * np.arange(shape[1]).reshape(1, -1, 1, 1)
                out[...] = (mean + state_means).reshape(-1, 1, 1, 1) + classes
        return True
