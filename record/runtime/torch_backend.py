"""PyTorch backend: the model's own online step, eager on the CPU or CUDA, or replayed from a CUDA graph.

CPU: channels-last weights (oneDNN runs the inverted residuals without layout reorders), denormals flushed,
``torch.inference_mode``. CUDA: frames are copied to the device, the scores back; with ``cuda_graph=True`` one
step (model, state copy-back and activation) is captured once into a CUDA graph over static device buffers and
replayed for every frame, so the state never moves and Python launches one graph instead of ~150 kernels.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from record.errors import ConfigError, describe
from record.models import StreamingModel
from record.models.inference import prepare_for_inference
from record.runtime.base import StreamingRuntime
from record.runtime.cache import checkpoint_for_source
from record.runtime.spec import DeploymentSpec, read_spec

__all__ = ["TorchRuntime"]


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(describe("torch runtime: device", "unknown device", found=repr(name),
                                   expected="cpu, cuda or cuda:N")) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(describe("torch runtime: device", "CUDA is not available here", found=name,
                                   expected="cpu, or a machine with an NVIDIA GPU and a CUDA build of torch"))
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(describe("torch runtime: device", "unsupported device", found=name,
                                   expected="cpu or cuda"))
    return torch.device("cuda", torch.cuda.current_device()) if device == torch.device("cuda") else device


class _CudaGraphStep:
    """One captured step: static frames, state and scores on the device; ``replay`` advances the state."""

    def __init__(self, model: StreamingModel, spec: DeploymentSpec, state: tuple[torch.Tensor, ...],
                 streams: int) -> None:
        device = state[0].device if state else next(model.parameters()).device
        self.frames = [torch.zeros((streams, *t.shape), device=device) for t in spec.frames]
        self.state = state
        self.host_scores = [torch.zeros((streams, *t.shape), pin_memory=True) for t in spec.logits]
        self.stream = torch.cuda.Stream(device)
        self.stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(self.stream), torch.no_grad():
            for _ in range(3):  # warm-up on a side stream, as capture requires
                self._run(model, spec)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, stream=self.stream):
                self.scores = self._run(model, spec)
        torch.cuda.current_stream(device).wait_stream(self.stream)
        for tensor in self.state:
            tensor.zero_()

    def _run(self, model: StreamingModel, spec: DeploymentSpec) -> list[torch.Tensor]:
        logits, new_state = model.step(_as_model_input(spec, self.frames), self.state)
        for tensor, new in zip(self.state, new_state):
            tensor.copy_(new)
        return _as_list(spec, model.activate(logits))

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        with torch.cuda.stream(self.stream):
            for static, frame in zip(self.frames, frames):
                static.copy_(torch.from_numpy(frame), non_blocking=False)
            self.graph.replay()
            for host, scores in zip(self.host_scores, self.scores):
                host.copy_(scores, non_blocking=True)
        self.stream.synchronize()
        return [host.numpy().copy() for host in self.host_scores]


def _as_model_input(spec: DeploymentSpec,
                    frames: list[torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
    return {t.name: f for t, f in zip(spec.frames, frames)} if len(spec.frames) > 1 else frames[0]


def _as_list(spec: DeploymentSpec, outputs: torch.Tensor | dict[str, torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(outputs, dict):
        return [outputs[spec.output_view(t)] for t in spec.logits]
    return [outputs]


class TorchRuntime(StreamingRuntime):
    """The model's ``step`` in PyTorch.

    Args:
        model: the model (eval mode), on any device; it is moved to ``device``.
        spec: its deployment spec (:func:`record.runtime.export.spec_for_checkpoint`).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        streams: independent streams.
        cuda_graph: on CUDA, replay the step from a captured CUDA graph.
        threads: intra-op CPU threads (None: torch's current setting).
        source: where the model came from (for messages).
    """

    backend = "torch"

    def __init__(self, model: StreamingModel, spec: DeploymentSpec, *, device: str = "cpu", streams: int = 1,
                 cuda_graph: bool = False, threads: int | None = None, source: str = "model") -> None:
        target = _device(device)
        super().__init__(spec, streams, source, str(target))
        if cuda_graph and target.type != "cuda":
            raise ConfigError(describe("torch runtime: cuda_graph", "CUDA graphs need a CUDA device",
                                       found=device))
        if target.type == "cpu":
            torch.set_flush_denormal(True)
            if threads is not None:
                torch.set_num_threads(threads)
            prepare_for_inference(model)
        self.model = model.to(target).eval()
        self._torch_device = target
        self.state = model.zero_state(streams, *spec.input_size)
        self._graph = _CudaGraphStep(self.model, spec, self.state, streams) if cuda_graph else None
        self._cuda_graph, self._threads = cuda_graph, threads

    @classmethod
    def from_source(cls, source: str, *, device: str = "cpu", streams: int = 1, cuda_graph: bool = False,
                    threads: int | None = None, size: tuple[int, int] | None = None) -> TorchRuntime:
        """Open a checkpoint, or the checkpoint an ONNX export was made from."""
        from record.runtime.export import spec_for_checkpoint

        checkpoint = checkpoint_for_source(source)
        if size is None and source != os.fspath(checkpoint):
            size = read_spec(source).input_size
        model, spec = spec_for_checkpoint(checkpoint, size)
        return cls(model, spec, device=device, streams=streams, cuda_graph=cuda_graph, threads=threads,
                   source=source)

    def _step(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        if self._graph is not None:
            return self._graph(frames)
        device = self._torch_device
        with torch.inference_mode():
            tensors = [torch.from_numpy(f).to(device, non_blocking=True) for f in frames]
            logits, self.state = self.model.step(_as_model_input(self.spec, tensors), self.state)
            scores = _as_list(self.spec, self.model.activate(logits))
            return [s.contiguous().cpu().numpy() for s in scores]

    def _reset(self, stream_ids: np.ndarray | None) -> None:
        with torch.inference_mode(self._graph is None):
            for tensor in self.state:
                if stream_ids is None:
                    tensor.zero_()
                else:
                    tensor[torch.from_numpy(stream_ids).to(tensor.device)] = 0.0

    def read_state(self) -> dict[str, np.ndarray]:
        return {t.name: s.detach().float().cpu().numpy().copy() for t, s in zip(self.spec.states, self.state)}

    def _options(self) -> dict[str, Any]:
        return {"torch": torch.__version__, "cuda_graph": self._cuda_graph, "threads": self._threads,
                "channels_last": self._torch_device.type == "cpu"}
