"""Samplers and per-item seeding: resumable order, rank shares, draws independent of the reading order."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from record.errors import ConfigError
from record.train.config import EarlyStoppingConfig
from record.train.early_stopping import EarlyStopping
from record.train.sampling import IndexSampler, ResumableSampler, SeededItems


class _Draws(Dataset):
    """Item i = (i, a draw from torch's global RNG), like the augmenting datasets."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> tuple[int, float]:
        return index, float(torch.rand(()))


def test_resumable_sampler_skips_what_was_consumed_and_resets_next_epoch() -> None:
    data = _Draws()
    sampler = ResumableSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_skip(4)
    assert list(sampler) == full[4:] and len(sampler) == 6
    sampler.set_epoch(3)
    assert len(list(sampler)) == 10 and list(sampler) != full


def test_rank_shares_interleave_the_single_process_order() -> None:
    data = _Draws()
    single = ResumableSampler(data, num_replicas=1, rank=0, shuffle=True, seed=5)
    shares = [ResumableSampler(data, num_replicas=2, rank=r, shuffle=True, seed=5) for r in range(2)]
    for sampler in (single, *shares):
        sampler.set_epoch(1)
    order = list(single)
    assert list(shares[0]) == order[0::2] and list(shares[1]) == order[1::2]


def test_seeded_items_depend_on_seed_epoch_and_index_only() -> None:
    items = SeededItems(_Draws(), seed=11)
    forward = [items[i][1] for i in range(10)]
    torch.rand(5)  # disturb the global RNG: no effect on the items
    backward = [items[i][1] for i in reversed(range(10))][::-1]
    assert forward == backward and len(set(forward)) == 10
    state = torch.get_rng_state()
    items[3]
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left as it was
    items.set_epoch(1)
    assert items[3][1] != forward[3]
    assert SeededItems(_Draws(), seed=12)[3][1] != forward[3]


def test_index_sampler_keeps_the_given_order() -> None:
    assert list(IndexSampler([4, 1, 7])) == [4, 1, 7] and len(IndexSampler([])) == 0


def test_early_stopping_counts_validations_without_improvement() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(monitor="val_loss", mode="min", patience=2))
    assert stopping.update({"val_loss": 1.0}) and not stopping.should_stop
    assert not stopping.update({"val_loss": 1.0})  # equal is no improvement
    assert stopping.update({"val_loss": 0.5})
    assert not stopping.update({"val_loss": float("nan")}) and not stopping.should_stop
    assert not stopping.update({"val_loss": 0.7}) and stopping.should_stop
    restored = EarlyStopping(EarlyStoppingConfig(monitor="val_loss", mode="min", patience=2))
    restored.load_state_dict(stopping.state_dict())
    assert restored.best == 0.5 and restored.should_stop
    maximum = EarlyStopping(EarlyStoppingConfig(monitor="val_global_precision", mode="max", patience=1))
    assert maximum.update({"val_global_precision": 0.2}) and maximum.update({"val_global_precision": 0.3})
    with pytest.raises(ConfigError, match="val_ra_precision"):
        EarlyStopping(EarlyStoppingConfig(monitor="val_ra_precision", mode="max")).update({"val_loss": 1.0})
    with pytest.raises(ConfigError, match="mode"):
        EarlyStopping(EarlyStoppingConfig(mode="down"))
