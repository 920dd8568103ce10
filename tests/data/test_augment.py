"""Augmentations: transform-list parsing (Q1), draw statistics, and flips that keep objects on their flipped bins."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from handmade import ROD_TRAIN

from record.classes import ROD2021_CLASSES
from record.data.augment import (
    CARRADA_RECORD_PARITY,
    CarradaAugmentConfig,
    CarradaFlips,
    Rod2021AugmentConfig,
    Rod2021Flips,
    parse_transforms,
)
from record.data.confmaps import confidence_maps
from record.data.rod2021 import Rod2021Layout
from record.data.rod2021_datasets import online_clips
from record.detections import ObjectTable
from record.errors import ConfigError
from record.sensors import ROD2021


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("hflip, vflip", ("hflip", "vflip")),  # the published RECORD string: both flips here (Q1)
        ("hflip,vflip", ("hflip", "vflip")),
        (" hflip ", ("hflip",)),
        ("", ()),
        (["VFLIP"], ("vflip",)),
    ],
)
def test_parse_transforms(spec, expected) -> None:
    assert parse_transforms(spec) == expected


def test_parse_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"unknown CARRADA transform\(s\) 'rotate'"):
        parse_transforms("hflip, rotate")


def test_carrada_configs() -> None:
    assert CarradaAugmentConfig.from_string("hflip, vflip").transforms == ("hflip", "vflip")
    assert CarradaAugmentConfig().transforms == ("hflip", "vflip")
    assert CARRADA_RECORD_PARITY.transforms == ("hflip",)
    rng = np.random.default_rng(0)
    draws = [CARRADA_RECORD_PARITY.draw(rng) for _ in range(200)]
    assert not any(d.vflip for d in draws) and 60 < sum(d.hflip for d in draws) < 140
    both = [CarradaAugmentConfig().draw(rng) for _ in range(400)]
    counts = Counter((d.hflip, d.vflip) for d in both)
    assert len(counts) == 4 and min(counts.values()) > 60
    with pytest.raises(ConfigError, match="must be a probability"):
        CarradaAugmentConfig(p=1.5)


def test_rod2021_draws() -> None:
    rng = np.random.default_rng(1)
    draws = [Rod2021AugmentConfig(mirror_p=1.0).draw(rng) for _ in range(600)]
    counts = Counter((d.flip_range, d.flip_angle) for d in draws)
    assert set(counts) == {(True, False), (False, True), (True, True)} and min(counts.values()) > 150
    assert 200 < sum(d.reverse for d in draws) < 400 and not any(d.offset for d in draws)
    angle_only = [Rod2021AugmentConfig(mirror_p=1.0, mirror_axes="angle").draw(rng) for _ in range(50)]
    assert all(d.flip_angle and not d.flip_range for d in angle_only)
    noisy = [Rod2021AugmentConfig(gaussian_p=1.0).draw(rng) for _ in range(200)]
    offsets = np.array([d.offset for d in noisy])
    assert np.all(offsets != 0) and np.abs(offsets).max() < 0.03 * 5
    with pytest.raises(ConfigError, match="mirror_axes"):
        Rod2021AugmentConfig(mirror_axes="range")


@pytest.mark.parametrize(("flip_range", "flip_angle"), [(True, False), (False, True), (True, True)])
def test_rod2021_flip_keeps_object_on_flipped_bin(flip_range: bool, flip_angle: bool) -> None:
    row, col = 30, 20
    table = ObjectTable(
        np.zeros(1, np.int64),
        np.array([2]),
        ROD2021.range.values()[[row]],
        ROD2021.azimuth.values()[[col]],
        np.ones(1),
        ROD2021_CLASSES,
    )
    maps = confidence_maps(table)[:, None]  # [3, T=1, H, W]
    radar = np.zeros((8, 1, 128, 128), np.float32)
    radar[:, :, row, col] = 7.0
    flipped_radar, flipped_maps = Rod2021Flips(flip_range, flip_angle).apply(radar, maps)
    expected = (127 - row if flip_range else row, 127 - col if flip_angle else col)
    assert np.unravel_index(np.argmax(flipped_maps[2, 0]), (128, 128)) == expected
    assert flipped_maps[2, 0][expected] == 1.0
    assert np.unravel_index(np.argmax(flipped_radar[3, 0]), (128, 128)) == expected
    np.testing.assert_array_equal(
        flipped_maps[2, 0], maps[2, 0][:: -1 if flip_range else 1, :: -1 if flip_angle else 1]
    )


@pytest.mark.parametrize(("hflip", "vflip"), [(True, False), (False, True), (True, True)])
def test_carrada_flip_keeps_mask_on_flipped_bin(hflip: bool, vflip: bool) -> None:
    mask = np.zeros((4, 2, 256, 64), np.float32)  # [class, T, range, Doppler]
    mask[0] = 1
    mask[:, :, 51, 37] = 0
    mask[3, :, 51, 37] = 1
    view = np.zeros((1, 2, 256, 64), np.float32)
    view[..., 51, 37] = 1
    flips = CarradaFlips(hflip, vflip)
    labels = flips.apply(mask).argmax(axis=0)
    expected = (255 - 51 if hflip else 51, 63 - 37 if vflip else 37)
    assert [tuple(np.argwhere(labels[t] == 3)[0]) for t in range(2)] == [expected, expected]
    assert tuple(np.argwhere(flips.apply(view)[0, 1])[0]) == expected


def test_dataset_applies_one_draw_to_input_and_target(rod_tree) -> None:
    layout = Rod2021Layout(rod_tree(lines=[f"{f} 5.0 0.4 car" for f in range(4)]))
    plain = online_clips(layout, "train", length=4, stride=4)
    mirrored = online_clips(
        layout,
        "train",
        length=4,
        stride=4,
        augment=Rod2021AugmentConfig(mirror_p=1.0, mirror_axes="angle", reverse_p=0.0),
    )
    torch.manual_seed(0)
    a, b = plain[0], mirrored[0]
    np.testing.assert_array_equal(b["input"].numpy(), a["input"].numpy()[..., ::-1])
    np.testing.assert_array_equal(b["target"].numpy(), a["target"].numpy()[..., ::-1])
    col = ROD2021.azimuth.to_index(0.4)
    assert b["target"][2, 0, :, 127 - col].max() == 1 and b["sequence"] == ROD_TRAIN
