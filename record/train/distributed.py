"""Process-group plumbing for ``torchrun``: rank discovery, barriers and the few collectives training needs.

``record train`` runs unchanged in one process or under ``torchrun`` (which sets ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``). With more than one process the group uses NCCL on CUDA
and gloo on the CPU; every helper here is a no-op in a single process, so callers never branch on the world
size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from record.errors import ConfigError, describe

__all__ = [
    "DistInfo",
    "all_gather_objects",
    "all_reduce_sum",
    "any_rank",
    "barrier",
    "broadcast_object",
    "init_distributed",
    "process_info",
    "shutdown_distributed",
]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job: global rank, rank on its node, number of processes."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(describe(f"environment variable {name}", "not an integer",
                                   found=repr(value))) from None


def process_info() -> DistInfo:
    """Rank, local rank and world size from the ``torchrun`` environment (default: a single process)."""
    return DistInfo(_env_int("RANK", 0), _env_int("LOCAL_RANK", 0), _env_int("WORLD_SIZE", 1))


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the ``torchrun`` process group when there are several processes (NCCL on CUDA, else gloo)."""
    if info.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait until every rank arrives (no-op in one process)."""
    if _active():
        dist.barrier()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum over ranks, in place and returned (float64 / int64 tensors on the group's device)."""
    if _active():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, device: torch.device) -> bool:
    """True when ``flag`` is True on at least one rank (all ranks get the same answer)."""
    if not _active():
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (picklable objects)."""
    if not _active():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def all_gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value``, indexed by rank (picklable objects)."""
    if not _active():
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered
