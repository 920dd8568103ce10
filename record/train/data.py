"""Datasets of a run, built from the configuration: training samples, validation, ordered frame streams.

* training: buffer windows (target of the last frame) or online clips (a target per frame), with the published
  augmentations;
* validation: buffer windows without augmentation (buffer mode) or the frame streams of the validation
  sequences (online mode, evaluated as the published online trainers did: batch 1, one frame at a time);
* evaluation: frame streams (:class:`~record.data.rod2021_datasets.Rod2021Frames`,
  :class:`~record.data.carrada_datasets.CarradaFrames`) of any split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from record.data import carrada_datasets, rod2021_datasets
from record.data.augment import CarradaAugmentConfig, Rod2021AugmentConfig
from record.data.base import SequenceDataset
from record.data.carrada import CarradaLayout
from record.data.rod2021 import Rod2021Layout
from record.errors import ConfigError, describe
from record.train.config import DatasetConfig, TrainConfig
from record.train.tasks import CarradaTask, Task

__all__ = [
    "Layout",
    "SampleGeometry",
    "frame_stream",
    "open_layout",
    "sample_geometry",
    "split_sequences",
    "training_set",
    "validation_set",
]

Layout = Rod2021Layout | CarradaLayout


@dataclass(frozen=True)
class SampleGeometry:
    """Frames per training sample (window / clip length) and the step between samples' starts."""

    length: int
    stride: int


def sample_geometry(dataset: DatasetConfig, train: TrainConfig, mode: str) -> SampleGeometry:
    """The mode's dataset defaults, overridden by ``train.window`` / ``train.stride``."""
    defaults = dataset.buffer if mode == "buffer" else dataset.online
    geometry = SampleGeometry(train.window or defaults.length, train.stride or defaults.stride)
    for name, value in (("window", geometry.length), ("stride", geometry.stride)):
        if value < 1:
            raise ConfigError(describe(f"train.{name}", "must be positive", found=value))
    return geometry


def open_layout(config: DatasetConfig, root: Path | None = None) -> Layout:
    """The reader of the dataset at ``root`` (default ``config.root``)."""
    root = Path(config.root) if root is None else root
    return Rod2021Layout(root) if config.layout == "rod2021" else CarradaLayout(root)


def split_sequences(layout: Layout, split: str) -> list[str]:
    """Sequences of ``split`` (empty when the split has none)."""
    return list(layout.sequences(split))


def _carrada_views(task: Task) -> tuple[str, ...]:
    assert isinstance(task, CarradaTask)
    return task.input_views


def training_set(config: DatasetConfig, layout: Layout, task: Task, mode: str,
                 geometry: SampleGeometry) -> Dataset:
    """Augmented training samples of ``config.train_split``."""
    split = config.train_split
    if not split_sequences(layout, split):
        raise ConfigError(describe(f"{config.root}", f"no sequence in the training split {split!r}"))
    if isinstance(layout, Rod2021Layout):
        augment = Rod2021AugmentConfig(mirror_axes=config.mirror_axes) if config.augment else None
        build = rod2021_datasets.buffer_windows if mode == "buffer" else rod2021_datasets.online_clips
        return build(layout, split, length=geometry.length, stride=geometry.stride, augment=augment)
    flips = CarradaAugmentConfig(tuple(config.transforms)) if config.augment else None
    build = carrada_datasets.buffer_windows if mode == "buffer" else carrada_datasets.online_clips
    return build(layout, split, length=geometry.length, stride=geometry.stride, views=_carrada_views(task),
                 augment=flips)


def frame_stream(layout: Layout, task: Task, split: str) -> SequenceDataset:
    """Every frame of ``split`` in order, ``first`` at sequence starts, with targets when annotated."""
    if isinstance(layout, Rod2021Layout):
        return rod2021_datasets.Rod2021Frames(layout, split)
    return carrada_datasets.CarradaFrames(layout, split, views=_carrada_views(task))


def validation_set(config: DatasetConfig, layout: Layout, task: Task, mode: str,
                   geometry: SampleGeometry) -> Dataset | None:
    """Buffer: windows of ``config.val_split`` (training geometry, no augmentation); online: its frame stream.
    None when the split holds no sequence."""
    split = config.val_split
    if not split_sequences(layout, split):
        return None
    if mode == "online":
        return frame_stream(layout, task, split)
    if isinstance(layout, Rod2021Layout):
        return rod2021_datasets.buffer_windows(layout, split, length=geometry.length, stride=geometry.stride)
    return carrada_datasets.buffer_windows(layout, split, length=geometry.length, stride=geometry.stride,
                                           views=_carrada_views(task))
