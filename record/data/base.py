"""What the ROD2021 and CARRADA torch datasets share: a flat sample index over sequences and per-item randomness."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from record.data.sampling import SampleIndex
from record.errors import ConfigError

__all__ = ["SequenceDataset", "item_rng"]


def item_rng() -> np.random.Generator:
    """A NumPy generator seeded from torch's RNG.

    DataLoader workers seed torch differently per worker and per epoch, and ``torch.manual_seed`` makes the whole
    stream reproducible, so augmentations drawn from it are both varied and repeatable.
    """
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


class SequenceDataset(Dataset):
    """A dataset whose items belong to sequences; the items of one sequence are contiguous and in order."""

    def __init__(self, index: SampleIndex) -> None:
        if len(index.names) == 0:
            raise ConfigError(f"{type(self).__name__}: no sequences to read")
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    @property
    def sequence_names(self) -> tuple[str, ...]:
        return self.index.names

    def samples_of(self, sequence: str) -> range:
        """Item indices of ``sequence``."""
        return self.index.samples_of(sequence)

    def subset(self, sequence: str) -> Subset:
        """The items of one sequence, in order (e.g. one DataLoader per sequence for online evaluation)."""
        return Subset(self, list(self.samples_of(sequence)))
