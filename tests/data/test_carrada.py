"""CarradaLayout on hand-built trees: splits, frame lists, views, masks, RAD cubes and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from handmade import CARRADA_TEST, CARRADA_TRAIN, CARRADA_VALID, carrada_view_map

from record.data.carrada import TVT_STATS, CarradaLayout, history_ids, normalise_tvt
from record.errors import ConfigError, DataFormatError


def test_splits_and_frames(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree())
    assert layout.sequences("train") == [CARRADA_TRAIN]
    assert layout.sequences("Validation") == [CARRADA_VALID]
    assert layout.sequences("TEST") == [CARRADA_TEST]
    assert layout.frames(CARRADA_VALID) == ["000000", "000001", "000002", "000003"]
    assert layout.validated_sequences() == [CARRADA_TRAIN, CARRADA_VALID, CARRADA_TEST]
    with pytest.raises(ConfigError, match="unknown CARRADA split 'val'"):
        layout.sequences("val")


def test_light_order_is_kept(carrada_tree) -> None:
    light = {CARRADA_TEST: ["000000"], CARRADA_TRAIN: ["000002", "000001"], CARRADA_VALID: []}
    layout = CarradaLayout(carrada_tree(light=light))
    assert layout.all_sequences() == [CARRADA_TEST, CARRADA_TRAIN, CARRADA_VALID]
    assert layout.frames(CARRADA_TRAIN) == ["000002", "000001"]


def test_unknown_split_names_the_sequence(carrada_tree) -> None:
    root = carrada_tree()
    ref = json.loads((root / "data_seq_ref.json").read_text())
    ref[CARRADA_VALID]["split"] = "Val"
    (root / "data_seq_ref.json").write_text(json.dumps(ref))
    with pytest.raises(
        DataFormatError, match=rf"data_seq_ref\.json: sequence '{CARRADA_VALID}' has an unknown split"
    ):
        CarradaLayout(root).sequences("train")


def test_json_missing_key(carrada_tree) -> None:
    root = carrada_tree()
    ref = json.loads((root / "data_seq_ref.json").read_text())
    del ref[CARRADA_TEST]["split"]
    (root / "data_seq_ref.json").write_text(json.dumps(ref))
    with pytest.raises(
        DataFormatError, match=rf"data_seq_ref\.json: sequence '{CARRADA_TEST}' misses key\(s\) 'split'"
    ):
        CarradaLayout(root).sequences("test")


def test_invalid_json_names_line(carrada_tree) -> None:
    root = carrada_tree()
    (root / "light_dataset_frame_oriented.json").write_text('{\n  "a": [\n  "000000",\n}')
    with pytest.raises(DataFormatError, match=r"light_dataset_frame_oriented\.json:4: invalid JSON"):
        CarradaLayout(root).frames("a")


def test_malformed_frame_ids(carrada_tree) -> None:
    root = carrada_tree(light={CARRADA_TRAIN: ["0001"], CARRADA_VALID: [], CARRADA_TEST: []})
    with pytest.raises(DataFormatError, match=r"holds 1 malformed frame id\(s\)"):
        CarradaLayout(root).frames(CARRADA_TRAIN)


def test_views_and_tvt(carrada_tree) -> None:
    layout = CarradaLayout(carrada_tree(signals=("processed", "raw")))
    rd = layout.view(CARRADA_TRAIN, "000003", "rd")
    assert rd.dtype == np.float32 and rd.shape == (256, 64)
    np.testing.assert_allclose(rd, carrada_view_map(3, "range_doppler"), rtol=1e-6)
    assert layout.view(CARRADA_TRAIN, "000003", "range_angle", "raw").shape == (256, 256)
    assert layout.view(CARRADA_TRAIN, "000000", "ad").shape == (256, 64)
    stats = TVT_STATS["ra"]
    np.testing.assert_allclose(
        normalise_tvt(np.array([stats.min_db, stats.max_db]), "ra"), [0.0, 1.0], atol=1e-6
    )
    assert (TVT_STATS["rd"].min_db, TVT_STATS["rd"].max_db) == (37.595, 119.083)
    assert (TVT_STATS["ad"].min_db, TVT_STATS["ad"].max_db) == (54.426, 105.797)
    with pytest.raises(ConfigError, match="unknown CARRADA view 'xy'"):
        layout.view(CARRADA_TRAIN, "000000", "xy")


def test_masks(carrada_tree) -> None:
    objects = {(CARRADA_TRAIN, 2): [(3, 51, 37, 204, 150), (1, 10, 30, 245, 100)]}
    layout = CarradaLayout(carrada_tree(objects=objects))
    rd = layout.mask(CARRADA_TRAIN, "000002", "rd")
    ra = layout.mask(CARRADA_TRAIN, "000002", "RA")
    assert rd.shape == (4, 256, 64) and ra.shape == (4, 256, 256) and rd.dtype == np.float32
    labels = rd.argmax(axis=0)
    assert labels[51, 37] == 3 and labels[10, 30] == 1 and np.count_nonzero(labels) == 2
    assert ra.argmax(axis=0)[204, 150] == 3
    with pytest.raises(ConfigError, match="no masks for view 'ad'"):
        layout.mask(CARRADA_TRAIN, "000002", "ad")


def test_mask_errors_name_the_file(carrada_tree) -> None:
    root = carrada_tree()
    layout = CarradaLayout(root)
    path = root / CARRADA_TRAIN / "annotations" / "dense" / "000001" / "range_doppler.npy"
    mask = np.load(path)
    mask[1, 5, 5] = 1  # two classes at one pixel
    np.save(path, mask)
    with pytest.raises(
        DataFormatError,
        match=r"000001/range_doppler\.npy: mask is not one-hot at 1 pixel\(s\), first at \(row 5, col 5\)",
    ):
        layout.mask(CARRADA_TRAIN, "000001", "rd")
    np.save(path, np.zeros((4, 64, 256)))
    with pytest.raises(
        DataFormatError,
        match=r"range_doppler\.npy: wrong shape .*found \(4, 64, 256\), expected \(4, 256, 64\)",
    ):
        layout.mask(CARRADA_TRAIN, "000001", "rd")


def test_truncated_and_missing_files(carrada_tree) -> None:
    root = carrada_tree()
    layout = CarradaLayout(root)
    path = root / CARRADA_TRAIN / "range_angle_processed" / "000004.npy"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataFormatError, match=r"000004\.npy: truncated \.npy file"):
        layout.view(CARRADA_TRAIN, "000004", "ra")
    with pytest.raises(DataFormatError, match=r"000009\.npy: file not found"):
        layout.view(CARRADA_TRAIN, "000009", "ra")
    path.write_bytes(b"not numpy at all")
    with pytest.raises(DataFormatError, match=r"000004\.npy: not a valid \.npy file"):
        layout.view(CARRADA_TRAIN, "000004", "ra")


def test_wrong_dtype(carrada_tree) -> None:
    root = carrada_tree()
    np.save(root / CARRADA_TRAIN / "range_doppler_processed" / "000000.npy", np.zeros((256, 64), np.int16))
    with pytest.raises(DataFormatError, match=r"wrong dtype .*found int16, expected float32 or float64"):
        CarradaLayout(root).view(CARRADA_TRAIN, "000000", "rd")


def test_history_ids() -> None:
    assert history_ids("000012", 3) == ["000010", "000011", "000012"]
    assert history_ids("000001", 3, pad=True) == ["000000", "000000", "000001"]
    with pytest.raises(DataFormatError, match="frame 000001 has no 2 earlier frames"):
        history_ids("000001", 3)


def test_rad_tree(carrada_tree, tmp_path: Path) -> None:
    rad_root = tmp_path / "Carrada_RAD"
    root = carrada_tree(sequences={CARRADA_TRAIN: ("Train", 2)}, rad_root=rad_root)
    cube = CarradaLayout(root, rad_root=rad_root).rad(CARRADA_TRAIN, "000001")
    assert cube.shape == (256, 256, 64) and cube.dtype == np.float32
    assert float(cube.min()) == 2.0  # stored negative: read through np.abs
    with pytest.raises(ConfigError, match="no rad_root"):
        CarradaLayout(root).rad(CARRADA_TRAIN, "000001")


def test_box_and_frame_oriented_json(carrada_tree) -> None:
    root = carrada_tree(sequences={CARRADA_TRAIN: ("Train", 2)})
    box_dir = root / CARRADA_TRAIN / "annotations" / "box"
    box_dir.mkdir(parents=True)
    (box_dir / "range_doppler_light.json").write_text(
        json.dumps({"000001": {"boxes": [[1, 2, 3, 4]], "labels": [3]}})
    )
    (box_dir / "range_angle_light.json").write_text(json.dumps({"000001": {"boxes": [[1, 2, 3, 4]]}}))
    layout = CarradaLayout(root)
    boxes, labels = layout.boxes(CARRADA_TRAIN, "rd")["000001"]
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(labels, [3])
    with pytest.raises(
        DataFormatError, match=r"range_angle_light\.json: frame '000001' misses key\(s\) 'labels'"
    ):
        layout.boxes(CARRADA_TRAIN, "ra")
    entry = {"sparse": [[1, 2]], "box": [[1, 2], [1, 2]], "dense": [[1, 2]], "label": 2}
    document = {CARRADA_TRAIN: {"000001": {"000007": {"range_doppler": entry, "range_angle": {"label": 2}}}}}
    (root / "annotations_frame_oriented.json").write_text(json.dumps(document))
    with pytest.raises(
        DataFormatError, match=r"000001/000007/range_angle misses key\(s\) 'sparse', 'box', 'dense'"
    ):
        layout.frame_annotations(CARRADA_TRAIN)
