"""Random crops: one window for every map of a sample, placed on objects when asked, reproducible per seed."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from record.errors import ConfigError
from record.models import create_model
from record.train.config import LossConfig, ModelSection
from record.train.crops import RandomCrop, cropped, object_map
from record.train.sampling import SeededItems
from record.train.tasks import make_task


class _Positions(Dataset):
    """Maps whose values encode their pixel position, one object at (40, 50) in the target of frame 1."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> dict[str, object]:
        rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        code = 1000 * rows + cols
        target = torch.zeros(3, 2, 64, 64)
        target[1, 1, 40, 50] = 1.0
        return {"input": code.expand(8, 2, 64, 64).clone(), "target": target, "frames": torch.arange(2),
                "sequence": "seq"}


def test_every_map_gets_the_same_window() -> None:
    item = SeededItems(RandomCrop(_Positions(), (16, 24)), seed=0)[3]
    top, left = divmod(int(item["input"][0, 0, 0, 0]), 1000)
    assert item["input"].shape == (8, 2, 16, 24) and item["target"].shape == (3, 2, 16, 24)
    expected = 1000 * (top + torch.arange(16.0))[:, None] + (left + torch.arange(24.0))[None, :]
    assert torch.equal(item["input"][3, 1], expected)
    assert torch.equal(item["frames"], torch.arange(2)) and item["sequence"] == "seq"


def test_crops_on_objects_hold_the_object_and_uniform_ones_often_do_not() -> None:
    on_objects = SeededItems(RandomCrop(_Positions(), (16, 16), on_objects=1.0), seed=0)
    assert all(on_objects[i]["target"].sum() == 1 for i in range(16))
    uniform = SeededItems(RandomCrop(_Positions(), (16, 16)), seed=0)
    assert sum(int(uniform[i]["target"].sum()) for i in range(16)) < 8


def test_crops_are_reproducible_per_seed_and_epoch() -> None:
    first, second = (SeededItems(RandomCrop(_Positions(), (16, 16)), seed=5) for _ in range(2))
    assert torch.equal(first[2]["input"], second[2]["input"])
    second.set_epoch(1)
    assert not all(torch.equal(first[i]["input"], second[i]["input"]) for i in range(16))


def test_object_map_of_carrada_masks_ignores_the_background() -> None:
    mask = torch.zeros(4, 8, 8)
    mask[0] = 1
    mask[:, 2, 3] = torch.tensor([0.0, 0.0, 1.0, 0.0])
    evidence = object_map({"rd_mask": mask, "rd": torch.rand(1, 8, 8)})
    assert evidence is not None and evidence.sum() == 1 and evidence[2, 3] == 1
    assert object_map({"input": torch.rand(8, 4, 4)}) is None


def test_bad_crops_are_refused() -> None:
    rod2021 = make_task("rod2021", ModelSection(name="record_rod2021"), create_model("record_rod2021"), LossConfig())
    with pytest.raises(ConfigError, match="train.crop"):
        cropped(_Positions(), [16], rod2021)
    with pytest.raises(ConfigError, match="crop larger"):
        cropped(_Positions(), [96, 16], rod2021)[0]
    with pytest.raises(ConfigError, match="crop_on_objects"):
        cropped(_Positions(), [16, 16], rod2021, on_objects=2.0)
    multi_view = make_task("carrada", ModelSection(name="mv_record", views=["rd", "ra", "ad"]),
                           create_model("mv_record"), LossConfig())
    with pytest.raises(ConfigError, match="multi-view"):
        cropped(_Positions(), [16, 16], multi_view)
