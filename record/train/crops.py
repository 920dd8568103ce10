"""Random crops of training samples: a fully convolutional model learns from crops at a fraction of the cost.

:class:`RandomCrop` cuts the same window out of every map of a sample (all frames, inputs and targets); with
``on_objects`` it places the window on an object for a share of the samples, since objects are sparse and
uniform crops of a large map show mostly background. Offsets come from torch's RNG, which
:class:`record.train.sampling.SeededItems` seeds per sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from record.errors import ConfigError, describe
from record.train.tasks import CarradaTask, Task

__all__ = ["RandomCrop", "cropped", "object_map"]


def object_map(item: dict[str, Any]) -> Tensor | None:
    """``[H, W]`` evidence of objects in a training item: the maximum over classes and frames of the ROD2021
    confidence maps (``target``) or of the non-background channels of CARRADA masks (``*_mask``)."""
    maps = [value[1:] if key.endswith("_mask") else value for key, value in item.items()
            if key == "target" or key.endswith("_mask")]
    if not maps:
        return None
    flat = [m.float().reshape(-1, *m.shape[-2:]).amax(dim=0) for m in maps if m.numel()]
    return torch.stack(flat).amax(dim=0)


def _offset(size: int, crop: int, around: int | None) -> int:
    """A random crop start along one axis, such that the crop holds index ``around`` when given."""
    low, high = 0, size - crop
    if around is not None:
        low, high = max(low, around - crop + 1), min(high, around)
    return int(torch.randint(low, high + 1, ()).item())


class RandomCrop(Dataset):
    """Items of ``dataset`` with the last two axes of every map (``[..., H, W]`` tensors of rank >= 3: inputs,
    targets, masks) cropped to ``size`` at one offset per item, drawn from torch's RNG (seeded per item by
    :class:`record.train.sampling.SeededItems`).

    With probability ``on_objects`` the crop is placed to hold a pixel drawn among those where the item's
    :func:`object_map` exceeds 0.5 (when there is one): objects are sparse, so uniform crops of a large map
    show mostly background.
    """

    def __init__(self, dataset: Dataset, size: tuple[int, int], on_objects: float = 0.0) -> None:
        self.dataset = dataset
        self.size = size
        self.on_objects = on_objects

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _anchor(self, item: dict[str, Any]) -> tuple[int, int] | tuple[None, None]:
        if self.on_objects <= 0 or float(torch.rand(())) >= self.on_objects:
            return None, None
        evidence = object_map(item)
        if evidence is None:
            return None, None
        candidates = torch.nonzero(evidence > 0.5)
        if len(candidates) == 0:
            return None, None
        row, col = candidates[int(torch.randint(0, len(candidates), ()))].tolist()
        return row, col

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[index])
        maps = [key for key, value in item.items() if isinstance(value, Tensor) and value.dim() >= 3]
        height, width = item[maps[0]].shape[-2:]
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            raise ConfigError(describe("train.crop", "crop larger than the maps", found=list(self.size),
                                       expected=f"at most [{height}, {width}]"))
        row, col = self._anchor(item)
        top, left = _offset(height, crop_h, row), _offset(width, crop_w, col)
        for key in maps:
            item[key] = item[key][..., top:top + crop_h, left:left + crop_w]
        return item


def cropped(samples: Dataset, crop: Sequence[int] | None, task: Task, on_objects: float = 0.0) -> Dataset:
    """``samples`` cropped to ``crop = [height, width]`` by :class:`RandomCrop` (None: unchanged)."""
    if crop is None:
        return samples
    if len(crop) != 2 or min(crop) < 1:
        raise ConfigError(describe("train.crop", "expected [height, width]", found=list(crop)))
    if isinstance(task, CarradaTask) and len(task.input_views) > 1:
        raise ConfigError(describe("train.crop",
                                   "multi-view models cannot be trained on crops (the views do not "
                                   "share their axes)", found=list(crop), expected="null"))
    if not 0.0 <= on_objects <= 1.0:
        raise ConfigError(describe("train.crop_on_objects", "must be a probability", found=on_objects))
    return RandomCrop(samples, (int(crop[0]), int(crop[1])), on_objects)
