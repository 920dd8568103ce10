"""Per-process settings of a training run: device, mixed precision, seeds, RNG snapshots, CPU threads."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from record.errors import CheckpointError, ConfigError, describe

__all__ = [
    "AMP_CHOICES",
    "AmpPolicy",
    "capture_rng",
    "configure_threads",
    "restore_rng",
    "seed_everything",
    "seeded_torch",
    "select_device",
]

AMP_CHOICES = ("auto", "off", "bf16", "fp16")


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: ``cuda:<local_rank>`` if CUDA is available, else ``cpu``; ``cuda``: ``cuda:<local_rank>``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(describe("train.device", "unknown device", found=repr(name),
                                   expected="auto, cpu, cuda or cuda:N")) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(describe("train.device", "CUDA is not available", found=name, expected="cpu"))
        device = torch.device("cuda", local_rank if device.index is None else device.index)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise ConfigError(describe("train.device", "unsupported device type", found=name,
                                   expected="cpu or cuda"))
    return device


@dataclass(frozen=True)
class AmpPolicy:
    """Autocast dtype (None = full precision) and whether gradients need loss scaling (fp16)."""

    dtype: torch.dtype | None
    device_type: str

    @classmethod
    def choose(cls, choice: str, device: torch.device) -> AmpPolicy:
        """``auto``: bf16 on GPUs that support it, else fp16; full precision on the CPU."""
        if choice not in AMP_CHOICES:
            raise ConfigError(describe("train.amp", "unknown choice", found=repr(choice),
                                       expected=AMP_CHOICES))
        if device.type != "cuda":
            if choice in ("bf16", "fp16"):
                raise ConfigError(describe("train.amp", "mixed precision needs a CUDA device", found=choice,
                                           expected="auto or off on the CPU"))
            return cls(None, device.type)
        if choice == "auto":
            choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        dtypes = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
        return cls(dtypes[choice], device.type)

    @property
    def scales_loss(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The autocast context of this policy (a null context at full precision)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.scales_loss)

    def describe(self) -> str:
        return "off" if self.dtype is None else str(self.dtype).removeprefix("torch.")


def configure_threads(device: torch.device, threads: int | None) -> None:
    """Flush denormals on the CPU (recurrent states decay into them, quirk Q17); set the intra-op threads."""
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    if threads is not None:
        if threads < 1:
            raise ConfigError(describe("train.threads", "must be positive", found=threads))
        torch.set_num_threads(threads)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (all devices); optionally require deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def capture_rng() -> dict[str, Any]:
    """This process's RNG states (python, numpy, torch CPU and CUDA) as tensors and plain containers, so a
    checkpoint holding them still loads with ``torch.load(weights_only=True)``."""
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: Mapping[str, Any], where: str) -> None:
    """Restore what :func:`capture_rng` returned (CUDA states only when this machine has as many devices)."""
    try:
        python = state["python"]
        random.setstate((python[0], tuple(python[1]), python[2]))
        numpy_state = state["numpy"]
        np.random.set_state({
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        })
        torch.set_rng_state(state["torch"])
        cuda = list(state.get("cuda", []))
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
        raise CheckpointError(describe(where, f"unreadable RNG state ({error})")) from None


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run a block with torch's CPU RNG seeded to ``seed``, restoring the previous state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
