"""Peak memory of a training run, estimated before its first optimiser step (``train.memory_check``).

A probe runs ONE training sample forward and backward over the first frames of its clip (``t1`` frames as a
warm-up, then ``t1`` and ``t2`` frames, :func:`probe_frames`, then up to 16 frames with activation
checkpointing, where memory grows slowly with frames) and measures the peak each time: on the CPU the
resident set size (``VmHWM`` of ``/proc/self/status``, reset through ``/proc/self/clear_refs`` after glibc
handed its free heap back to the system), on CUDA ``torch.cuda.max_memory_allocated``. Activations grow
linearly with the frames of a clip and the samples of a micro-batch, so the run's peak is estimated as::

    held + fixed + batch x (per_sample + per_frame x frames)

``held``: what the process holds before the probe; ``fixed``: gradients and the two Adam moments;
``per_frame`` also counts the batches the DataLoader holds (CPU: 1 + 2 per worker). The probe leaves no trace
(:func:`no_side_effects`): RNG states, gradients, buffers and the train / eval mode are restored, and no
optimiser step is taken. Not covered, left to ``train.memory_margin``: allocator fragmentation, the
DataLoader workers' own memory, validation (no gradients, one frame or window at a time).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from record.errors import ConfigError, describe
from record.train import distributed as dist
from record.train.config import TrainConfig
from record.train.environment import capture_rng, restore_rng

__all__ = ["GIB", "MemoryBudget", "MemoryEstimate", "check_memory", "estimate_memory", "measure_peak",
           "memory_budget", "no_side_effects", "probe_frames"]

GIB = 2**30
#: Batches a DataLoader worker prepares ahead (PyTorch's default ``prefetch_factor``).
PREFETCH_FACTOR = 2
#: Most frames the two first probes run: enough for a slope, little time and memory.
PROBE_FRAMES = 4
#: Frames of a third probe, run with activation checkpointing: memory then grows slowly with frames, and two
#: close lengths give a noisy slope.
LONG_PROBE_FRAMES = 16
_PROC = Path("/proc")
_CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class MemoryBudget:
    """The memory (bytes) this process may use, and where the figure comes from."""

    total: int
    source: str


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory (bytes) of a run: ``held + fixed + batch x (per_sample + per_frame x frames)``.

    Attributes:
        held: what the process holds before training (RSS on the CPU, allocated memory on CUDA).
        fixed: what the first optimiser step adds whatever the batch (gradients, Adam moments).
        per_sample, per_frame: activation and data bytes of one sample: a constant part and one per frame.
        batch: samples per micro-batch of this process; frames: frames per clip (online) or window (buffer).
    """

    held: int
    fixed: int
    per_sample: int
    per_frame: int
    batch: int
    frames: int

    def sample_bytes(self, frames: int) -> int:
        return max(self.per_sample + self.per_frame * frames, 1)

    @property
    def peak(self) -> int:
        return self.held + self.fixed + self.batch * self.sample_bytes(self.frames)

    def batch_that_fits(self, total: int) -> int:
        """Most samples per micro-batch that fit in ``total`` bytes at this clip length (0: none)."""
        return max((total - self.held - self.fixed) // self.sample_bytes(self.frames), 0)

    def frames_that_fit(self, total: int) -> int:
        """Most frames per clip that fit in ``total`` bytes with this batch (0: none)."""
        per_sample = (total - self.held - self.fixed) // self.batch - self.per_sample
        return max(per_sample // max(self.per_frame, 1), 0)

    def describe(self) -> str:
        per_sample = f"{_gib(self.per_sample)} + {_count(self.frames, 'frame')} x {_gib(self.per_frame)}"
        return (f"{_gib(self.held)} held + {_gib(self.fixed)} gradients and optimiser + "
                f"{_count(self.batch, 'sample')} x ({per_sample})")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _gib(size: float) -> str:
    return f"{size / GIB:.2f} GiB"


def _read_int(path: Path) -> int | None:
    """The integer in a one-value file (cgroup), None when missing or not a number (``max``)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _proc_bytes(name: str, key: str) -> int | None:
    """A ``key: N kB`` line of ``/proc/<name>`` in bytes (None when missing)."""
    try:
        lines = (_PROC / name).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_folders() -> list[Path]:
    """The memory cgroup folders limiting this process: its cgroup v2 folder and ancestors, the v1 root."""
    folders = [_CGROUP / "memory"]
    try:
        lines = (_PROC / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return folders
    for line in lines:
        if line.startswith("0::"):
            folder = _CGROUP / line[3:].strip().strip("/")
            folders += [folder, *(p for p in folder.parents if p.is_relative_to(_CGROUP))]
    return folders


def _cgroup_headroom() -> int | None:
    """Bytes the tightest memory cgroup of this process still allows (limit - usage); None: no limit."""
    headrooms = []
    for folder in _cgroup_folders():
        limit = _read_int(folder / "memory.max") or _read_int(folder / "memory.limit_in_bytes")
        usage = _read_int(folder / "memory.current") or _read_int(folder / "memory.usage_in_bytes")
        if limit is not None and usage is not None:
            headrooms.append(limit - usage)
    return min(headrooms, default=None)


def memory_budget(device: torch.device, processes: int = 1) -> MemoryBudget | None:
    """The memory this process may use: CUDA: the device's free memory plus what this process has reserved;
    CPU: ``MemAvailable`` (or the cgroup's headroom when lower) shared by the ``processes`` of the job on this
    machine, plus the process's RSS. None where unknown (no ``/proc``)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        reserved = torch.cuda.memory_reserved(device)
        return MemoryBudget(free + reserved, f"{device}: {_gib(free)} free + {_gib(reserved)} reserved")
    available, rss = _proc_bytes("meminfo", "MemAvailable"), _proc_bytes("self/status", "VmRSS")
    if available is None or rss is None:
        return None
    source = f"MemAvailable {_gib(available)}"
    headroom = _cgroup_headroom()
    if headroom is not None and headroom < available:
        available, source = headroom, f"cgroup limit headroom {_gib(headroom)}"
    if processes > 1:
        available //= processes
        source += f" / {processes} processes"
    return MemoryBudget(available + rss, f"{source} + {_gib(rss)} held by this process")


def _trim_heap() -> None:
    """Hand glibc's free heap back to the system, so that the RSS counts live memory (no-op elsewhere)."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)


def measure_peak(function: Callable[[], object], device: torch.device) -> int | None:
    """Peak memory (bytes) ``function()`` adds to what the process holds when it starts: CUDA allocated
    memory, or CPU RSS; None where the CPU peak cannot be reset (no writable ``/proc/self/clear_refs``)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        function()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    _trim_heap()
    try:
        (_PROC / "self" / "clear_refs").write_text("5")  # peak RSS := current RSS
    except OSError:
        return None
    start = _proc_bytes("self/status", "VmRSS")
    function()
    peak = _proc_bytes("self/status", "VmHWM")
    return None if start is None or peak is None else peak - start


def _held_memory(device: torch.device) -> int | None:
    """What the process holds now: CUDA allocated memory, or CPU RSS (after trimming glibc's free heap)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    _trim_heap()
    return _proc_bytes("self/status", "VmRSS")


@contextlib.contextmanager
def no_side_effects(model: nn.Module) -> Iterator[None]:
    """Run probes on ``model`` without a trace: RNG states, gradients, buffers (BatchNorm statistics) and the
    train / eval mode are restored on exit."""
    rng = capture_rng()
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    buffers = [buffer.clone() for buffer in model.buffers()]
    training = model.training
    try:
        yield
    finally:
        restore_rng(rng, "memory probe")
        for parameter, grad in zip(model.parameters(), grads):
            parameter.grad = grad
        with torch.no_grad():
            for buffer, saved in zip(model.buffers(), buffers):
                buffer.copy_(saved)
        model.train(training)


def probe_frames(frames: int, whole: bool = False) -> tuple[int, int]:
    """The two clip lengths ``(t1, t2)`` a probe measures for clips of ``frames`` frames: (2, 4) from 4
    frames on (1: the first frame runs paths that others do not, e.g. a zero state); ``whole``: the model
    takes whole clips only, ``(frames, frames)``."""
    if whole:
        return frames, frames
    longest = min(frames, PROBE_FRAMES)
    return max(longest // 2, 1), longest


def estimate_memory(step: Callable[[int], object], model: nn.Module, device: torch.device, *, batch: int,
                    frames: int, sample_bytes: int, workers: int,
                    whole: bool = False) -> MemoryEstimate | None:
    """Probe ``step(t)`` (forward and backward of one sample over its first ``t`` frames) and extrapolate to
    ``batch`` samples of ``frames`` frames; None where the peak cannot be measured.

    Args:
        step: the probe step; runs under :func:`no_side_effects` on ``model``.
        model: the trained model (its parameters size the gradients and Adam moments).
        device: where training runs.
        batch: samples per micro-batch of this process; frames: frames per clip / window.
        sample_bytes: bytes of one training sample as the DataLoader delivers it (inputs and targets of all
            its frames).
        workers: DataLoader workers (CPU: each holds ``PREFETCH_FACTOR`` batches ahead).
        whole: the model takes whole clips only (no-LSTM buffer windows): one length probed, no slope.
    """
    held = _held_memory(device)
    if held is None:
        return None
    t1, t2 = probe_frames(frames, whole)
    longer = min(frames, LONG_PROBE_FRAMES)
    with no_side_effects(model):
        model.train()
        step(t1)  # warm-up: gradients, kernel caches
        first, second = (measure_peak(lambda t=t: step(t), device) for t in (t1, t2))
        if first is None or second is None:
            return None
        peaks = {t1: first, t2: second}
        if longer > t2 and getattr(model, "grad_checkpointing", False):  # a small slope: steadier
            third = measure_peak(lambda: step(longer), device)
            if third is not None:
                peaks[longer] = third
    per_frame = _slope(peaks)
    loader_batches = 1 if device.type == "cuda" else 1 + PREFETCH_FACTOR * workers
    data_per_frame = math.ceil(sample_bytes * loader_batches / frames)
    parameters = sum(p.numel() * p.element_size() for p in model.parameters())
    return MemoryEstimate(held=held, fixed=3 * parameters, per_sample=peaks[t1] - per_frame * t1,
                          per_frame=per_frame + data_per_frame, batch=batch, frames=frames)


def _slope(peaks: dict[int, int]) -> int:
    """Bytes per frame between the shortest and the longest probe (0 for a single length, never negative)."""
    shortest, longest = min(peaks), max(peaks)
    if longest == shortest:
        return 0
    return max((peaks[longest] - peaks[shortest]) // (longest - shortest), 0)


def _remedies(estimate: MemoryEstimate, usable: int, train: TrainConfig, world_size: int) -> list[str]:
    """The settings that would bring ``estimate`` under ``usable`` bytes, most effective first."""
    remedies = []
    if not train.activation_checkpointing:
        remedies.append("train.activation_checkpointing=true (recompute each frame's activations in the "
                        "backward pass instead of keeping them)")
    batch = estimate.batch_that_fits(usable)
    if batch >= 1:
        fit = f"at most {_count(batch, 'sample')} per process fit"
        remedies.append(f"train.batch_size={batch * world_size} ({fit}) with a larger train.accumulate to "
                        f"keep batch_size x accumulate = {train.batch_size * train.accumulate}")
    else:
        remedies.append("train.batch_size (not even one sample per process fits at this clip length)")
    frames = estimate.frames_that_fit(usable)
    if 1 <= frames < estimate.frames:
        remedies.append(f"train.window={frames} (at most {_count(frames, 'frame')} fit with "
                        f"{_count(estimate.batch, 'sample')})")
    remedies.append("train.crop=[H,W] (train on smaller maps; single-view models)")
    return remedies


def check_memory(step: Callable[[int], object], model: nn.Module, device: torch.device, train: TrainConfig, *,
                 frames: int, sample_bytes: int, world_size: int = 1, whole: bool = False) -> str:
    """Estimate the run's peak memory (:func:`estimate_memory`) and compare it with what the process may use
    (:func:`memory_budget`, less ``train.memory_margin``); returns the line to log.

    Raises:
        ConfigError: (on every rank when one of them does not fit) the estimate exceeds the budget; the
            message names the settings to lower.
    """
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if device.type == "cpu" else 1
    budget = memory_budget(device, processes)
    estimate, started = None, time.monotonic()
    if budget is not None:
        estimate = estimate_memory(step, model, device, batch=train.batch_size // world_size, frames=frames,
                                   sample_bytes=sample_bytes, workers=train.workers, whole=whole)
    if budget is None or estimate is None:
        dist.any_rank(False, device)  # the collective the other ranks run below
        return "memory check skipped: this system does not report the process's memory (/proc)"
    usable = int(budget.total * (1.0 - train.memory_margin))
    summary = (f"estimated peak memory {_gib(estimate.peak)} per process ({estimate.describe()}; probe "
               f"{time.monotonic() - started:.1f} s), {_gib(usable)} usable ({1.0 - train.memory_margin:.0%} "
               f"of {_gib(budget.total)}: {budget.source})")
    if not dist.any_rank(estimate.peak > usable, device):
        return f"memory check: {summary}"
    lower = "; ".join(_remedies(estimate, usable, train, world_size))
    raise ConfigError(describe("train", f"the run would not fit in memory: {summary}. Lower one of: {lower}; "
                                        "or set train.memory_check=false to train anyway"))
