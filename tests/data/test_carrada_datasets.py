"""CARRADA torch datasets on hand-built trees: keys, shapes, history, skip/pad, masks per frame, shared flips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from handmade import CARRADA_TRAIN, CARRADA_VALID, carrada_view_map

from record.data.augment import CarradaAugmentConfig
from record.data.carrada import TVT_STATS, CarradaLayout
from record.data.carrada_datasets import CarradaFrames, CarradaWindows, buffer_windows, online_clips
from record.errors import ConfigError, DataFormatError

OBJECTS = {(CARRADA_TRAIN, f): [(2, 40 + f, 33, 215 - f, 140)] for f in range(6)}


def tvt(array: np.ndarray, view: str) -> np.ndarray:
    stats = TVT_STATS[view]
    return (array - stats.min_db) / (stats.max_db - stats.min_db)


def test_multiview_buffer_window(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree(objects=OBJECTS))
    dataset = buffer_windows(layout, "train")
    assert len(dataset) == 2  # 6 frames, the first 4 skipped
    item = dataset[1]
    assert item["frame"] == "000005" and item["sequence"] == CARRADA_TRAIN
    assert item["rd"].shape == (1, 5, 256, 64) and item["ra"].shape == (1, 5, 256, 256)
    assert item["ad"].shape == (1, 5, 256, 64) and item["rd"].dtype == torch.float32
    for t, frame in enumerate(range(1, 6)):  # oldest first
        np.testing.assert_allclose(
            item["ra"][0, t].numpy(), tvt(carrada_view_map(frame, "range_angle"), "ra"), atol=1e-6
        )
    assert item["rd_mask"].shape == (4, 256, 64) and item["ra_mask"].shape == (4, 256, 256)
    assert item["rd_mask"].argmax(0)[45, 33] == 2 and item["ra_mask"].argmax(0)[210, 140] == 2
    assert "ad_mask" not in item


@pytest.mark.parametrize("view", ["rd", "ra"])
def test_single_view_keys_are_consistent(carrada_tree, view: str) -> None:
    item = buffer_windows(CarradaLayout(carrada_tree()), "train", views=(view,))[0]
    assert set(item) == {view, f"{view}_mask", "sequence", "frame"}  # RA mask under ra_mask (Q3)


def test_pad_start_and_raw_signal(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree(signals=("processed", "raw")))
    dataset = buffer_windows(layout, "train", views=("rd",), start="pad", signal="raw", normalisation="none")
    assert len(dataset) == 6
    item = dataset[1]
    for t, frame in enumerate([0, 0, 0, 0, 1]):
        np.testing.assert_allclose(
            item["rd"][0, t].numpy(), carrada_view_map(frame, "range_doppler"), rtol=1e-6
        )
    with pytest.raises(ConfigError, match="'tvt' statistics exist for processed maps only"):
        buffer_windows(layout, "train", signal="raw")


def test_online_clip_masks_every_frame(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree(objects=OBJECTS))
    dataset = online_clips(layout, "train", length=3, stride=2, views=("rd", "ra"))
    assert [dataset[i]["frame"] for i in range(len(dataset))] == ["000002", "000004"]
    masks = dataset[1]["rd_mask"]
    assert masks.shape == (4, 3, 256, 64)
    for t, frame in enumerate([2, 3, 4]):
        assert masks[2, t, 40 + frame, 33] == 1 and masks[:, t].sum() == 256 * 64


def test_shared_flips_across_views_frames_and_masks(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree(objects=OBJECTS))
    plain = online_clips(layout, "train", length=2)[0]
    flipped = online_clips(layout, "train", length=2, augment=CarradaAugmentConfig(p=1.0))[0]
    for key in ("rd", "ra", "ad", "rd_mask", "ra_mask"):
        np.testing.assert_array_equal(flipped[key].numpy(), plain[key].numpy()[..., ::-1, ::-1])
    assert flipped["rd_mask"][2, 1, 255 - 41, 63 - 33] == 1  # frame 1's cyclist on its flipped bin


def test_missing_history_frame_names_the_file(carrada_tree) -> None:
    root = carrada_tree()
    (root / CARRADA_TRAIN / "angle_doppler_processed" / "000002.npy").unlink()
    dataset = buffer_windows(CarradaLayout(root), "train")
    with pytest.raises(
        DataFormatError,
        match=r"angle_doppler_processed/000002\.npy: missing history frame 000002 of the window ending at 000005",
    ):
        dataset[1]


def test_light_list_subset_loads_history_by_id(carrada_tree) -> None:
    light = {CARRADA_TRAIN: ["000003", "000004", "000005"], CARRADA_VALID: [], "2020-02-28-12-13-54": []}
    dataset = buffer_windows(CarradaLayout(carrada_tree(light=light)), "train", length=3, views=("rd",))
    assert len(dataset) == 1 and dataset[0]["frame"] == "000005"  # first T-1 list entries skipped
    pad = buffer_windows(
        CarradaLayout(carrada_tree(light=light)), "train", length=5, views=("rd",), start="pad"
    )
    np.testing.assert_allclose(
        pad[0]["rd"][0, 0].numpy(), tvt(carrada_view_map(0, "range_doppler"), "rd"), atol=1e-6
    )


def test_frames_stream(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree(objects=OBJECTS))
    dataset = CarradaFrames(layout, "train", views=("rd", "ra", "ad"))
    assert len(dataset) == 6
    item = dataset[2]
    assert (
        item["rd"].shape == (1, 256, 64)
        and item["ra"].shape == (1, 256, 256)
        and item["ad"].shape == (1, 256, 64)
    )
    assert item["rd_mask"].shape == (4, 256, 64) and item["frame"] == "000002" and not item["first"]
    assert dataset[0]["first"]
    batches = list(torch.utils.data.DataLoader(dataset, batch_size=1))
    assert [b["frame"][0] for b in batches] == [f"{i:06d}" for i in range(6)]


def test_bad_options(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree())
    with pytest.raises(ConfigError, match="carry no masks"):
        CarradaWindows(layout, "train", views=("ad",))
    with pytest.raises(ConfigError, match="start must be one of skip, pad"):
        CarradaWindows(layout, "train", start="grow")
