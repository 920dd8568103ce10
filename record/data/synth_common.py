"""What the synthetic dataset writers share: sizes, sequence plans, seeds and dataset-level atomic writing.

A dataset is built in a temporary sibling folder (``.<name>.partial-*``) and renamed onto the destination only once
complete, so an interrupted run never leaves a half-written dataset under the destination's name; a non-empty
destination is refused unless ``overwrite`` is set.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from record.errors import ConfigError
from record.sensors import CaptureConfig
from record.sim import SceneConfig, SimFrame, SimulationConfig, Simulator, random_scene, scene_config_for

__all__ = [
    "SequencePlan",
    "SplitSize",
    "atomic_directory",
    "dataset_scene",
    "plan_sequences",
    "simulated_chunks",
    "write_dataset",
]


def dataset_scene(capture: CaptureConfig) -> SceneConfig:
    """The simulator's scene defaults for ``capture`` with busier starts (2-4 objects in view, a new road user
    every ~3 s on average), so that short sequences rarely go without labels."""
    return scene_config_for(capture, initial_objects=(2, 4), arrival_rate_hz=0.3)


@dataclass(frozen=True)
class SplitSize:
    """How many sequences a split gets and how many frames each holds."""

    sequences: int
    frames: int

    def __post_init__(self) -> None:
        if self.sequences < 0 or self.frames < 1:
            raise ConfigError(
                f"SplitSize: sequences must be >= 0 and frames >= 1 (found {self.sequences}, {self.frames})"
            )


@dataclass(frozen=True)
class SequencePlan:
    """One sequence to simulate: its split, name, length and its own random seed."""

    split: str
    name: str
    n_frames: int
    seed: np.random.SeedSequence


def plan_sequences(
    sizes: dict[str, SplitSize], names: dict[str, Sequence[str]], seed: int
) -> list[SequencePlan]:
    """Sequences of every split, each with an independent seed derived from ``seed``, split and position.

    Args:
        sizes: split -> size.
        names: split -> candidate names, used in order (at least ``sizes[split].sequences`` of them).
        seed: the dataset seed.
    """
    if not any(size.sequences for size in sizes.values()):
        raise ConfigError("a dataset needs at least one sequence (every split has 0)")
    plans = []
    for split_index, (split, size) in enumerate(sizes.items()):
        if len(names[split]) < size.sequences:
            raise ConfigError(
                f"split {split!r}: {size.sequences} sequences asked for, only {len(names[split])} names available"
            )
        for position in range(size.sequences):
            child = np.random.SeedSequence(seed, spawn_key=(split_index, position))
            plans.append(SequencePlan(split, names[split][position], size.frames, child))
    return plans


@contextlib.contextmanager
def atomic_directory(destination: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``destination``; when the block succeeds it becomes ``destination``.

    Raises:
        ConfigError: ``destination`` is a non-empty folder (or a file) and ``overwrite`` is False.
    """
    destination = Path(destination).absolute()
    if destination.exists() and not destination.is_dir():
        raise ConfigError(f"{destination}: exists and is not a folder")
    if destination.is_dir() and any(destination.iterdir()) and not overwrite:
        raise ConfigError(f"{destination}: folder is not empty (pass --overwrite to replace it)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        yield partial
        if destination.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
            os.replace(destination, old / "dataset")
            os.replace(partial, destination)
            shutil.rmtree(old)
        else:
            os.replace(partial, destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def simulated_chunks(
    capture: CaptureConfig,
    plan: SequencePlan,
    scene: SceneConfig | None,
    simulation: SimulationConfig,
    chunk_frames: int,
) -> Iterator[list[SimFrame]]:
    """The frames of ``plan``'s random scene (``scene`` or :func:`dataset_scene`), ``chunk_frames`` at a time."""
    rng = np.random.default_rng(plan.seed)
    duration_s = plan.n_frames * capture.waveform.frame_period_s
    simulator = Simulator(
        capture, random_scene(scene or dataset_scene(capture), duration_s, rng), simulation, rng=rng
    )
    for start in range(0, plan.n_frames, chunk_frames):
        yield list(simulator.frames(min(chunk_frames, plan.n_frames - start), start))


def write_dataset(
    out: str | os.PathLike[str],
    plans: list[SequencePlan],
    write_sequence: Callable[[Path, SequencePlan, tqdm], None],
    *,
    description: str,
    overwrite: bool,
    progress: bool,
    finish: Callable[[Path], None] | None = None,
) -> None:
    """Build a dataset in a temporary folder, one ``write_sequence(root, plan, bar)`` per plan, then ``finish``.

    The folder becomes ``out`` only when everything succeeded (:func:`atomic_directory`).
    """
    total = sum(plan.n_frames for plan in plans)
    with (
        atomic_directory(out, overwrite=overwrite) as root,
        tqdm(total=total, desc=description, unit="frame", disable=not progress) as bar,
    ):
        for plan in plans:
            bar.set_postfix_str(plan.name)
            write_sequence(root, plan, bar)
        if finish is not None:
            finish(root)
