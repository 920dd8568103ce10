"""``record simulate``: small synthetic trees in the exact published layouts, read back by the plain readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from record.classes import ROD2021_CLASSES
from record.cli import main as record_main
from record.data import rod2021 as rod
from record.data import synth_rod2021
from record.data.carrada import PUBLISHED_SPLITS, CarradaLayout
from record.data.carrada_datasets import CarradaFrames
from record.data.carrada_datasets import buffer_windows as carrada_windows
from record.data.check import check_carrada, check_rod2021
from record.data.commands import simulate_main
from record.data.confmaps import object_bins
from record.data.rod2021 import Rod2021Layout
from record.data.rod2021_datasets import Rod2021Frames, online_clips
from record.data.rod2021_files import read_annotations


def simulate(out: Path, *args: str) -> int:
    return simulate_main(["--out", str(out), "--no-progress", *args])


@pytest.fixture(scope="module")
def rod_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "rod2021"
    sizes = ["--train-sequences", "2", "--valid-sequences", "1", "--test-sequences", "1"]
    assert (
        simulate(out, "--layout", "rod2021", *sizes, "--frames", "40", "--eval-frames", "12", "--seed", "3")
        == 0
    )
    return out


@pytest.fixture(scope="module")
def carrada_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "carrada"
    assert simulate(out, "--layout", "carrada", "--frames", "7", "--eval-frames", "3", "--seed", "5") == 0
    return out / "Carrada"


def test_rod2021_layout_names_and_files(rod_root: Path) -> None:
    layout = Rod2021Layout(rod_root)
    assert layout.kind == "reorganised"
    assert layout.sequences("train") == sorted(rod.TRAIN_SEQUENCES[:2])
    assert layout.sequences("valid") == [rod.VALIDATION_SEQUENCES[0]]
    assert layout.sequences("test") == [rod.TEST_SEQUENCES[0]]
    folder = layout.sequence_dir(rod.TRAIN_SEQUENCES[0]) / "RADAR_RA_H"
    expected = {f"{f:06d}_{c:04d}.npy" for f in range(40) for c in (0, 64, 128, 192)}
    assert {p.name for p in folder.iterdir()} == expected
    chirp_map = np.load(folder / "000007_0128.npy")
    assert chirp_map.shape == (128, 128, 2) and chirp_map.dtype == np.float32
    assert 0.01 < chirp_map.std() < 0.5  # the published maps have a std near 0.066
    assert not (rod_root / "annotations" / "test").exists()
    assert (rod_root / "ground_truth" / "test" / f"{rod.TEST_SEQUENCES[0]}.txt").is_file()
    assert check_rod2021(rod_root, deep=True).ok


def test_rod2021_annotations_and_readers(rod_root: Path) -> None:
    layout = Rod2021Layout(rod_root)
    n_objects = 0
    for sequence in layout.sequences("train") + layout.sequences("valid"):
        text = layout.annotation_path(sequence).read_text()
        for line in text.splitlines():
            frame, range_m, azimuth, name = line.split()
            assert len(range_m.split(".")[1]) == 4 and len(azimuth.split(".")[1]) == 4
            assert name in ROD2021_CLASSES and int(frame) >= 0
        table = read_annotations(layout.annotation_path(sequence))
        n_objects += len(table)
        assert np.all(rod.EVALUATION_GATE.contains(table.range_m, table.azimuth_rad))
        assert np.all(table.frame < layout.n_frames(sequence))
    assert n_objects > 0
    clips = online_clips(layout, "train", length=8, stride=8)
    assert len(clips) == 10 and clips[0]["input"].shape == (8, 8, 128, 128)
    frames = Rod2021Frames(layout, "valid")
    table = frames.ground_truth(rod.VALIDATION_SEQUENCES[0])
    rows, cols = object_bins(table)
    for k in range(0, len(table), 5):
        item = frames[int(table.frame[k])]
        assert item["target"][table.class_id[k], rows[k], cols[k]] == 1
    assert not Rod2021Frames(layout, "test").with_targets


def test_rod2021_objects_sit_on_radar_energy(rod_root: Path) -> None:
    layout = Rod2021Layout(rod_root)
    ratios = []
    for sequence in layout.sequences("train"):
        table = layout.annotations(sequence)
        rows, cols = object_bins(table)
        for k in range(0, len(table), 4):
            x = layout.frame(sequence, int(table.frame[k]))
            magnitude = np.hypot(x[0::2], x[1::2]).mean(axis=0)
            window = magnitude[max(rows[k] - 2, 0) : rows[k] + 3, max(cols[k] - 4, 0) : cols[k] + 5]
            ratios.append(window.max() / np.median(magnitude))
    assert np.median(ratios) > 3


def test_carrada_layout_and_json(carrada_root: Path) -> None:
    layout = CarradaLayout(carrada_root)
    assert layout.sequences("train") == [n for n, s in PUBLISHED_SPLITS.items() if s == "Train"][:3]
    assert layout.sequences("validation") == [n for n, s in PUBLISHED_SPLITS.items() if s == "Validation"][:1]
    sequence = layout.sequences("train")[0]
    assert layout.frames(sequence) == [f"{i:06d}" for i in range(7)]
    assert layout.validated_sequences() == layout.all_sequences()
    ref = layout.data_seq_ref[sequence]
    assert len(ref["instances"]) == len(ref["labels"]) == len(ref["ref_frame"]) and set(ref["labels"]) <= {
        1,
        2,
        3,
    }
    stamps = np.array(
        [int(v) for v in (carrada_root / sequence / f"adc_ts_{sequence}.txt").read_text().split()]
    )
    np.testing.assert_allclose(np.diff(stamps), 1e8, atol=1)
    assert check_carrada(carrada_root, deep=True).ok


def test_carrada_views_masks_and_annotations(carrada_root: Path) -> None:
    layout = CarradaLayout(carrada_root)
    labelled = 0
    for sequence in layout.all_sequences():
        annotations = layout.frame_annotations(sequence)
        assert sorted(annotations) == layout.frames(sequence)
        boxes = layout.boxes(sequence, "rd")
        for frame in layout.frames(sequence):
            rd = layout.view(sequence, frame, "rd")
            rd_raw = layout.view(sequence, frame, "rd", "raw")
            np.testing.assert_allclose(rd, 10 * np.log10(1 + rd_raw), rtol=1e-5, atol=1e-4)
            np.testing.assert_array_equal(layout.view(sequence, frame, "rd", "numpy"), rd)
            assert 20 < rd.min() and rd.max() < 140
            for view, stem in (("rd", "range_doppler"), ("ra", "range_angle")):
                dense = layout.mask(sequence, frame, view)
                sparse = layout.mask(sequence, frame, view, annotation="sparse")
                assert np.all(dense[1:] >= sparse[1:])  # every sparse pixel is inside its dense region
                for entry in annotations[frame].values():
                    pixels = np.array(entry[stem]["sparse"])
                    assert dense[entry[stem]["label"], pixels[:, 0], pixels[:, 1]].any()
                    labelled += 1
            assert (frame in boxes) == bool(annotations[frame])
    assert labelled > 0


def test_carrada_masks_sit_on_energy(carrada_root: Path) -> None:
    layout = CarradaLayout(carrada_root)
    gaps = []
    for sequence in layout.all_sequences():
        for frame in layout.frames(sequence):
            for view in ("rd", "ra"):
                objects = layout.mask(sequence, frame, view)[1:].any(axis=0)
                if objects.any():
                    image = layout.view(sequence, frame, view)
                    gaps.append(image[objects].mean() - image[~objects].mean())
    assert gaps and np.median(gaps) > 3.0  # dB


def test_carrada_readers(carrada_root: Path) -> None:
    layout = CarradaLayout(carrada_root)
    windows = carrada_windows(layout, "train")
    assert len(windows) == 3 * 3  # 7 frames, first 4 skipped, 3 sequences
    item = windows[0]
    assert item["rd"].shape == (1, 5, 256, 64) and item["ra_mask"].shape == (4, 256, 256)
    assert 0 < float(item["ra"].mean()) < 1  # 'tvt' normalised
    assert len(CarradaFrames(layout, "test", views=("rd",))) == 3


def test_carrada_rad_tree(tmp_path: Path) -> None:
    out = tmp_path / "rad"
    sizes = ["--train-sequences", "1", "--valid-sequences", "0", "--test-sequences", "0", "--frames", "2"]
    assert simulate(out, "--layout", "carrada", "--rad", *sizes) == 0
    layout = CarradaLayout(out / "Carrada", rad_root=out / "Carrada_RAD")
    sequence = layout.all_sequences()[0]
    cube = layout.rad(sequence, "000001")
    assert cube.shape == (256, 256, 64) and cube.min() >= 0
    np.testing.assert_allclose(layout.view(sequence, "000001", "ra", "numpy"), cube.max(axis=2), rtol=1e-6)


def test_plain_layout_and_determinism(tmp_path: Path) -> None:
    sizes = ["--train-sequences", "1", "--valid-sequences", "1", "--test-sequences", "0", "--frames", "3"]
    args = ["--layout", "rod2021", "--plain", *sizes, "--eval-frames", "2"]
    assert simulate(tmp_path / "a", *args, "--seed", "7") == 0
    assert simulate(tmp_path / "b", *args, "--seed", "7") == 0
    assert simulate(tmp_path / "c", *args, "--seed", "8") == 0
    layout = Rod2021Layout(tmp_path / "a")
    assert layout.kind == "plain" and layout.sequences("valid") == [rod.VALIDATION_SEQUENCES[0]]
    assert layout.annotation_path(rod.VALIDATION_SEQUENCES[0]).parent.name == "train"
    relative = Path("sequences/train") / rod.TRAIN_SEQUENCES[0] / "RADAR_RA_H" / "000002_0064.npy"
    same = (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    assert same and (tmp_path / "a" / relative).read_bytes() != (tmp_path / "c" / relative).read_bytes()


def test_refuses_non_empty_destination_and_overwrites(tmp_path: Path, capsys) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["--layout", "rod2021", "--train-sequences", "1", "--valid-sequences", "0", "--test-sequences", "0",
            "--frames", "2", "--no-progress", "--no-check"]  # fmt: skip
    assert record_main(["simulate", "--out", str(out), *args]) == 1
    assert "folder is not empty (pass --overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert record_main(["simulate", "--out", str(out), *args, "--overwrite"]) == 0
    assert not (out / "keep.txt").exists() and (out / "sequences" / "train").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no partial or old folders left


def test_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synth_rod2021, "annotation_lines", broken)
    with pytest.raises(KeyboardInterrupt):
        simulate(tmp_path / "data", "--layout", "rod2021", "--frames", "2", "--eval-frames", "2")
    assert list(tmp_path.iterdir()) == []
