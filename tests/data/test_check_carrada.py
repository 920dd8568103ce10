"""``record data check --layout carrada``: class ids, grid bounds and history masks, on hand-made trees.

Each problem is detected and counted by kind, as the ROD2021 checker tallies its problems; the readers raise
on the same problems, and a tree the checker passes reads with the window datasets.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from handmade import CARRADA_TEST, CARRADA_TRAIN, CARRADA_VALID

from record.data.carrada import CarradaLayout
from record.data.carrada_datasets import buffer_windows, online_clips
from record.data.check import check_carrada
from record.data.commands import data_main
from record.errors import DataFormatError

#: Train frames listed with gaps: windows of 3 ending at 000003 and 000005 read unlisted 000002 and 000004.
GAPPED = {CARRADA_TRAIN: ["000000", "000001", "000003", "000005"]}


def kinds(report) -> dict[str, int]:
    return {kind: len(problems) for kind, problems in report.by_kind().items()}


def view_entry(label: int, sparse: list[list[int]], box: list[list[int]]) -> dict:
    return {"sparse": sparse, "box": box, "dense": sparse, "label": label}


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def write_annotations(root: Path, boxes: dict[str, dict], frames: dict) -> None:
    """Box files of the train sequence (view stem -> document) and its ``annotations_frame_oriented.json``."""
    for stem, document in boxes.items():
        write_json(root / CARRADA_TRAIN / "annotations" / "box" / f"{stem}_light.json", document)
    others = {name: {} for name in (CARRADA_VALID, CARRADA_TEST)}
    write_json(root / "annotations_frame_oriented.json", {CARRADA_TRAIN: frames, **others})


#: Valid annotations with indices on the last row / column of each grid.
EDGE_BOXES = {
    "range_doppler": {"000001": {"boxes": [[0, 0, 255, 63]], "labels": [1]}},
    "range_angle": {"000001": {"boxes": [[250, 0, 255, 255]], "labels": [3]}},
}
EDGE_FRAMES = {
    "000001": {
        "000007": {
            "range_doppler": view_entry(2, [[255, 63]], [[254, 62], [255, 63]]),
            "range_angle": view_entry(2, [[0, 255]], [[0, 254], [1, 255]]),
        }
    }
}


def test_clean_tree_with_annotations_passes(carrada_tree, capsys) -> None:
    root = carrada_tree(light=GAPPED | {CARRADA_VALID: ["000000"], CARRADA_TEST: ["000000"]})
    write_annotations(root, EDGE_BOXES, EDGE_FRAMES)
    assert data_main(["check", str(root), "--layout", "carrada", "--window", "3", "--deep"]) == 0
    assert capsys.readouterr().out.startswith(f"OK: carrada tree {root} (history of 3 frames)")
    layout = CarradaLayout(root)
    assert layout.boxes(CARRADA_TRAIN, "ra")["000001"][1].tolist() == [3]
    assert layout.frame_annotations(CARRADA_TRAIN)["000001"]["000007"]["range_angle"]["label"] == 2
    for dataset in (buffer_windows(layout, "train", length=3), online_clips(layout, "train", length=3)):
        assert [item["frame"] for item in dataset] == ["000003", "000005"]


def test_unknown_class_ids(carrada_tree) -> None:
    root = carrada_tree()
    ref = json.loads((root / "data_seq_ref.json").read_text())
    ref[CARRADA_TRAIN].update(instances=["000001", "000002", "000003"], labels=[1, 4, 0])
    ref[CARRADA_VALID]["labels"] = ["car"]
    (root / "data_seq_ref.json").write_text(json.dumps(ref))
    boxes = {
        "range_doppler": {"000001": {"boxes": [[1, 2, 3, 4], [5, 6, 7, 8]], "labels": [3, 5]}},
        "range_angle": {
            "000001": {"boxes": [[1, 2, 3, 4]], "labels": [2.5]},
            "000002": EDGE_BOXES["range_angle"]["000001"],
        },
    }
    frames = {"000001": {"000007": {"range_doppler": view_entry(0, [[1, 2]], [[0, 1], [2, 3]])}}}
    write_annotations(root, boxes, frames)
    report = check_carrada(root)
    assert kinds(report) == {"unknown class": 5}  # 2 sequences, 2 box files, 1 frame-oriented entry
    text = report.render()
    assert f"sequence '{CARRADA_TRAIN}': 2 unknown class id(s) (found [4, 0], expected 1 pedestrian" in text
    assert "000001/000007/range_doppler: 1 unknown class id(s) (found [0]" in text
    layout = CarradaLayout(root)
    with pytest.raises(DataFormatError, match=r"range_doppler_light\.json: frame '000001': 1 unknown class"):
        layout.boxes(CARRADA_TRAIN, "rd")
    with pytest.raises(DataFormatError, match="unknown class id"):
        _ = layout.data_seq_ref
    with pytest.raises(DataFormatError, match="unknown class id"):
        layout.frame_annotations(CARRADA_TRAIN)


def test_annotations_outside_grid(carrada_tree) -> None:
    root = carrada_tree()
    boxes = {
        "range_doppler": {"000001": {"boxes": [[250, 10, 256, 20], [0, 0, 255, 64]], "labels": [1, 1]}},
        "range_angle": {"000001": {"boxes": [[0, 0, 255, 64]], "labels": [1]}},  # 64 is on the RA grid
    }
    frames = {
        "000001": {
            "000007": {
                "range_doppler": view_entry(1, [[10, 64]], [[9, 63], [11, 65]]),
                "range_angle": view_entry(1, [[-1, 3]], [[0, 2], [1, 4]]),
            },
            "000008": {"range_angle": view_entry(3, [[3, 3]], [[2, 2], [4, 4]])},
        }
    }
    write_annotations(root, boxes, frames)
    report = check_carrada(root)
    assert kinds(report) == {"annotation outside grid": 3}
    text = report.render()
    found = "(found [[256, 20], [255, 64]], expected rows 0-255, columns 0-63)"
    assert f"frame '000001': 2 index pair(s) outside the RD grid (256, 64) {found}" in text
    assert "000001/000007/range_doppler: 3 index pair(s) outside the RD grid" in text  # sparse, box, dense
    assert "000001/000007/range_angle: 2 index pair(s) outside the RA grid (256, 256)" in text
    with pytest.raises(DataFormatError, match="outside the RD grid"):
        CarradaLayout(root).boxes(CARRADA_TRAIN, "rd")
    with pytest.raises(DataFormatError, match="000007/range_doppler: 3 index pair"):
        CarradaLayout(root).frame_annotations(CARRADA_TRAIN)


def test_unknown_view_and_malformed_pairs(carrada_tree) -> None:
    root = carrada_tree()
    frames = {
        "000001": {"000007": {"angle_doppler": view_entry(1, [[1, 2]], [[0, 1], [2, 3]])}},
        "000002": {"000007": {"range_angle": view_entry(1, [[1, 2, 3]], [[0, 1], [2, 3]])}},
    }
    write_annotations(root, {}, frames)
    assert kinds(check_carrada(root)) == {"unknown view": 1, "malformed annotation": 1}


def test_missing_history_masks(carrada_tree) -> None:
    root = carrada_tree(light=GAPPED)
    dense = root / CARRADA_TRAIN / "annotations" / "dense"
    (dense / "000002" / "range_doppler.npy").unlink()
    (dense / "000004" / "range_angle.npy").unlink()
    np.save(dense / "000004" / "range_doppler.npy", np.zeros((4, 256, 64)))  # not one-hot
    (dense / "000005" / "range_angle.npy").unlink()  # a listed frame
    report = check_carrada(root, window=3)
    assert kinds(report) == {"missing history mask": 2, "missing mask": 1}
    assert "000002/range_doppler.npy: file not found (history frame)" in report.render()
    assert kinds(check_carrada(root, window=3, deep=True))["mask not one-hot"] == 1
    assert kinds(check_carrada(root, window=1)) == {"missing mask": 1}  # no history read
    clips = online_clips(CarradaLayout(root), "train", length=3, views=("rd",))
    with pytest.raises(DataFormatError, match="missing mask of history frame 000002"):
        clips[0]


def test_only_masks_windows_read_are_required(carrada_tree) -> None:
    root = carrada_tree(light={CARRADA_TRAIN: ["000000", "000001", "000005"]})
    dense = root / CARRADA_TRAIN / "annotations" / "dense"
    (dense / "000002" / "range_angle.npy").unlink()  # no window of 3 reads 000002
    assert check_carrada(root, window=3).ok
    np.save(dense / "000004" / "range_angle.npy", np.zeros((4, 64, 256)))  # history of 000005
    assert kinds(check_carrada(root, window=3)) == {"wrong shape": 1}
