"""Rod2021Layout and the ROD2021 torch datasets on hand-built trees."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from handmade import ROD_TEST, ROD_TRAIN, ROD_VALID, rod_chirp_map

from record.data.augment import Rod2021AugmentConfig
from record.data.confmaps import confidence_maps
from record.data.rod2021 import Rod2021Layout
from record.data.rod2021_datasets import Rod2021Frames, buffer_windows, online_clips
from record.data.sampling import window_starts
from record.errors import ConfigError, DataFormatError


@pytest.mark.parametrize("kind", ["reorganised", "plain"])
def test_splits(rod_tree, kind: str) -> None:
    layout = Rod2021Layout(rod_tree(kind))
    assert layout.kind == kind
    assert layout.sequences("train") == [ROD_TRAIN]
    assert layout.sequences("valid") == [ROD_VALID]
    assert layout.sequences("test") == [ROD_TEST]
    assert layout.n_frames(ROD_TRAIN) == 10 and layout.n_frames(ROD_TEST) == 3
    assert layout.has_annotations(ROD_VALID) and not layout.has_annotations(ROD_TEST)
    assert layout.annotations(ROD_VALID).range_m.tolist() == [10.0]
    with pytest.raises(ConfigError, match="unknown ROD2021 split 'validation'"):
        layout.sequences("validation")


def test_frame_channel_order(rod_tree) -> None:
    layout = Rod2021Layout(rod_tree())
    frame = layout.frame(ROD_TRAIN, 7)
    assert frame.shape == (8, 128, 128) and frame.dtype == np.float32
    for k, chirp in enumerate((0, 64, 128, 192)):
        expected = rod_chirp_map(7, chirp)
        np.testing.assert_array_equal(frame[2 * k], expected[..., 0])  # real
        np.testing.assert_array_equal(frame[2 * k + 1], expected[..., 1])  # imaginary
    assert layout.frame(ROD_TRAIN, 7, chirps=(128,)).shape == (2, 128, 128)


def test_frame_count_not_multiple_of_four(rod_tree) -> None:
    root = rod_tree()
    (root / "sequences" / "train" / ROD_TRAIN / "RADAR_RA_H" / "000009_0192.npy").unlink()
    with pytest.raises(
        DataFormatError, match=r"RADAR_RA_H: chirp file count is not a multiple of 4 \(found 39\)"
    ):
        Rod2021Layout(root).n_frames(ROD_TRAIN)


def test_chirp_file_errors(rod_tree) -> None:
    root = rod_tree()
    layout = Rod2021Layout(root)
    folder = root / "sequences" / "train" / ROD_TRAIN / "RADAR_RA_H"
    (folder / "000004_0064.npy").unlink()
    with pytest.raises(DataFormatError, match=r"000004_0064\.npy: file not found"):
        layout.frame(ROD_TRAIN, 4)
    np.save(folder / "000005_0000.npy", np.zeros((128, 2, 128), np.float32))
    with pytest.raises(
        DataFormatError,
        match=r"000005_0000\.npy: wrong shape .*found \(128, 2, 128\), expected \(128, 128, 2\)",
    ):
        layout.frame(ROD_TRAIN, 5)
    np.save(folder / "000006_0000.npy", np.zeros((128, 128, 2), np.float64))
    with pytest.raises(
        DataFormatError, match=r"000006_0000\.npy: wrong dtype .*found float64, expected float32"
    ):
        layout.frame(ROD_TRAIN, 6)
    path = folder / "000007_0128.npy"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataFormatError, match=r"000007_0128\.npy: truncated \.npy file"):
        layout.frame(ROD_TRAIN, 7)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 5.0 car", r"BMS1000\.txt:2: malformed line"),
        ("0 5.0 0.1 truck", r"BMS1000\.txt:2: unknown class 'truck'"),
    ],
)
def test_bad_annotation_names_file_and_line(rod_tree, line: str, message: str) -> None:
    layout = Rod2021Layout(rod_tree(lines=["1 3.0 0.0 car", line]))
    with pytest.raises(DataFormatError, match=message):
        buffer_windows(layout, "train", length=4)


def test_window_starts() -> None:
    # RODNet: (n - (T * step - 1)) // stride, +1 when there is a remainder
    assert window_starts(100, 12, 4).tolist() == list(range(0, 89, 4))
    assert len(window_starts(100, 12, 4)) == (100 - 11) // 4 + 1
    assert window_starts(10, 3, 1, step=2).tolist() == [0, 1, 2, 3, 4, 5]
    assert window_starts(5, 6, 1).size == 0
    with pytest.raises(ConfigError, match="window stride must be at least 1"):
        window_starts(10, 3, 0)


def test_buffer_windows(rod_tree) -> None:
    layout = Rod2021Layout(rod_tree())
    dataset = buffer_windows(layout, "train", length=4, stride=3)
    assert len(dataset) == 3  # starts 0, 3, 6
    item = dataset[1]
    assert item["input"].shape == (8, 4, 128, 128) and item["input"].dtype == torch.float32
    assert item["frames"].tolist() == [3, 4, 5, 6]
    np.testing.assert_array_equal(item["input"][1, 2].numpy(), rod_chirp_map(5, 0)[..., 1])
    assert item["target"].shape == (3, 128, 128)
    assert item["target"].max() == 0  # frame 6 holds no object
    first = dataset[0]  # ends at frame 3: the pedestrian at 2 m
    expected = confidence_maps(layout.annotations(ROD_TRAIN).select(np.array([1])))
    np.testing.assert_array_equal(first["target"].numpy(), expected)
    assert first["target"][0].max() == 1


def test_online_clips_have_every_target(rod_tree) -> None:
    layout = Rod2021Layout(rod_tree())
    dataset = online_clips(layout, "train", length=4, stride=2)
    assert [dataset.index[i][1] for i in range(len(dataset))] == [0, 2, 4, 6]
    item = dataset[0]
    assert item["target"].shape == (3, 4, 128, 128)
    assert item["target"][2, 0].max() == 1 and item["target"][0, 3].max() == 1  # car at 0, pedestrian at 3
    assert item["target"][:, 1:3].max() == 0


def test_time_reversal_moves_the_target(rod_tree) -> None:
    layout = Rod2021Layout(rod_tree())
    augment = Rod2021AugmentConfig(mirror_p=0.0, reverse_p=1.0)
    dataset = buffer_windows(layout, "train", length=4, stride=3, augment=augment)
    item = dataset[0]
    assert item["frames"].tolist() == [3, 2, 1, 0]
    np.testing.assert_array_equal(item["input"][0, 0].numpy(), rod_chirp_map(3, 0)[..., 0])
    assert (
        item["target"][2].max() == 1 and item["target"][0].max() == 0
    )  # frame 0's car, not frame 3's pedestrian


def test_frames_stream(rod_tree) -> None:
    layout = Rod2021Layout(rod_tree())
    dataset = Rod2021Frames(layout, "train")
    assert len(dataset) == 10 and dataset.with_targets
    item = dataset[3]
    assert item["input"].shape == (8, 128, 128) and item["frame"] == 3 and not item["first"]
    assert item["target"][0].max() == 1
    assert dataset[0]["first"]
    assert len(dataset.ground_truth(ROD_TRAIN)) == 2
    test = Rod2021Frames(layout, "test", history=4)
    assert not test.with_targets and "target" not in test[0]
    assert [test[i]["input"].shape[1] for i in range(3)] == [1, 2, 3]  # growing window at the start
    both = Rod2021Frames(layout, "train", sequences=[ROD_TRAIN, ROD_VALID])
    assert both.samples_of(ROD_VALID) == range(10, 15)
    assert [both[i]["first"] for i in (0, 9, 10, 11)] == [True, False, True, False]
    loader = torch.utils.data.DataLoader(both.subset(ROD_VALID), batch_size=1)
    assert [int(batch["frame"]) for batch in loader] == [0, 1, 2, 3, 4]
