"""Which samples each rank reads, in which order, with which random draws: resumable and rank-independent.

* :class:`ResumableSampler`: PyTorch's :class:`~torch.utils.data.DistributedSampler` (one shuffled order per
  epoch from ``seed + epoch``, split across ranks) that can start an epoch part-way, after the samples a
  resumed run already consumed.
* :class:`IndexSampler`: fixed indices in order, e.g. a rank's share of the validation samples (taken without
  the padding DistributedSampler adds, so summed metrics count every sample exactly once).
* :class:`SeededItems`: draws every item with torch's RNG seeded from (seed, epoch, index), so augmentations
  do not depend on the number of DataLoader workers, the rank that reads the item, or where a run was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Dataset, DistributedSampler, Sampler

from record.train.environment import seeded_torch

__all__ = ["IndexSampler", "ResumableSampler", "SeededItems"]


class ResumableSampler(DistributedSampler):
    """A :class:`DistributedSampler` whose epoch can resume after ``skip`` of this rank's samples.

    ``set_epoch(e)`` picks the order (the same on every rank, ``seed + e``); ``set_skip(n)`` drops the first
    ``n`` samples of this rank's share for the current epoch (reset to 0 by the next ``set_epoch``).
    """

    def __init__(self, dataset: Dataset, *, num_replicas: int, rank: int, shuffle: bool, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.skip = 0

    def set_skip(self, samples: int) -> None:
        self.skip = max(0, min(samples, self.num_samples))

    def __iter__(self) -> Iterator[int]:
        order = list(super().__iter__())
        return iter(order[self.skip:])

    def __len__(self) -> int:
        return self.num_samples - self.skip


class IndexSampler(Sampler[int]):
    """The given dataset indices, in order."""

    def __init__(self, indices: list[int]) -> None:
        self.indices = list(indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class SeededItems(Dataset):
    """``dataset[index]`` computed with torch's RNG seeded from ``(seed, epoch, index)``, then restored.

    The ROD2021 / CARRADA datasets draw their augmentations from torch's RNG
    (:func:`record.data.base.item_rng`), so with this wrapper an item's flips depend only on the run seed, the
    epoch and the item. Call :meth:`set_epoch` before creating the epoch's DataLoader iterator (workers
    receive a copy of the wrapper).
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def item_seed(self, index: int) -> int:
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1, np.uint64)
        return int(state[0] >> 1)

    def __getitem__(self, index: int) -> Any:
        with seeded_torch(self.item_seed(index)):
            return self.dataset[index]
