"""Training checkpoints: a project model checkpoint plus everything an exact resume needs.

Written with :func:`record.models.save_checkpoint` (atomic; loadable with ``weights_only=True``)::

    metadata: {"epoch", "global_step", "metrics", "config" (the resolved run config), "code_version", "kind"}
    extra["training"]: {"format_version", "optimizer", "scheduler", "grad_scaler", "progress",
                        "early_stopping", "rng" (one snapshot per rank), "world_size",
                        "carried_state" (truncated BPTT: each rank's recurrent state between two clips),
                        "trained_weights" (with ``train.ema_decay``: the trained weights, the checkpoint's
                        model being their average; empty otherwise)}

``progress`` says where the run stands: ``epoch`` (0-based epoch in progress), ``global_step`` (optimiser
steps done) and ``batches_done`` (micro-batches of that epoch already consumed by each rank), so a resumed run
skips exactly the samples it has seen. With ``train.tbptt_clips`` > 1 a micro-batch is one clip of a sample
and a run stopped between two clips of a sample keeps the recurrent state it carries (``carried_state``: per
rank, the state tensors on the CPU; empty lists at a sample boundary; absent in older checkpoints). With
``train.ema_decay`` the checkpoint's weights (what evaluation and export use) are the weight average and
``trained_weights`` the weights the optimiser works on (absent in older checkpoints).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from record.errors import CheckpointError, describe
from record.models import StreamingModel, save_checkpoint

__all__ = [
    "TRAINING_FORMAT_VERSION",
    "Progress",
    "TrainingState",
    "read_training_state",
    "resolve_resume",
    "save_training_checkpoint",
]

TRAINING_FORMAT_VERSION = 1
_TRAINING_KEY = "training"


@dataclass
class Progress:
    """Position of a run: epoch in progress, optimiser steps done, micro-batches of the epoch consumed; and
    the metrics of every validation so far."""

    epoch: int = 0
    global_step: int = 0
    batches_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TrainingState:
    """What :func:`save_training_checkpoint` stores besides the weights."""

    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    grad_scaler: dict[str, Any]
    progress: Progress
    early_stopping: dict[str, Any]
    rng: list[dict[str, Any]]
    world_size: int
    carried_state: list[list[Any]] = field(default_factory=list)
    trained_weights: dict[str, Any] = field(default_factory=dict)


def save_training_checkpoint(path: str | os.PathLike[str], model: StreamingModel, state: TrainingState, *,
                             config: Mapping[str, Any], metrics: Mapping[str, float],
                             code_version: Mapping[str, Any], kind: str) -> None:
    """Write ``model`` and ``state`` atomically to ``path``; ``kind`` is ``last`` or ``best``."""
    metadata = {
        "kind": kind,
        "epoch": state.progress.epoch,
        "global_step": state.progress.global_step,
        "metrics": dict(metrics),
        "config": dict(config),
        "code_version": dict(code_version),
    }
    training = {"format_version": TRAINING_FORMAT_VERSION, **asdict(state)}
    save_checkpoint(model, path, metadata=metadata, extra={_TRAINING_KEY: training})


def read_training_state(payload: Mapping[str, Any], where: str) -> TrainingState:
    """The training state of a checkpoint written by :func:`save_training_checkpoint`.

    Raises:
        CheckpointError: the checkpoint holds weights only (e.g. converted published weights), or a newer or
            unreadable training state.
    """
    extra = payload.get("extra")
    training = extra.get(_TRAINING_KEY) if isinstance(extra, Mapping) else None
    if not isinstance(training, Mapping):
        raise CheckpointError(describe(where, "holds no training state (weights only?); start a new run with "
                                       "model.checkpoint=PATH to initialise from its weights"))
    version = training.get("format_version")
    if version != TRAINING_FORMAT_VERSION:
        raise CheckpointError(describe(where, "unsupported training-state version", found=version,
                                       expected=TRAINING_FORMAT_VERSION))
    try:
        optional = ("carried_state", "trained_weights")
        fields = {name: training[name] for name in TrainingState.__dataclass_fields__ if name not in optional}
        fields["carried_state"] = list(training.get("carried_state", []))
        fields["trained_weights"] = dict(training.get("trained_weights", {}))
        fields["progress"] = Progress(**training["progress"])
        return TrainingState(**fields)
    except (KeyError, TypeError) as error:
        raise CheckpointError(describe(where, f"incomplete training state ({error})")) from None


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """The checkpoint to resume from: None, a path, or ``auto`` (``<run_dir>/checkpoints/last.pt`` if any).

    Raises:
        CheckpointError: an explicit path that does not exist.
    """
    if resume is None:
        return None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.pt"
        return last if last.is_file() else None
    path = Path(resume)
    if not path.is_file():
        raise CheckpointError(describe("train.resume", "checkpoint file not found", found=str(path)))
    return path

