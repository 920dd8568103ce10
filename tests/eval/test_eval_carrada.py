"""CARRADA metrics: the MVRSS fixture, hand-made confusion matrices, and scoring saved label maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eval_cases import CARRADA_FIXTURE, write_carrada_tree

from record.data.carrada import CarradaLayout
from record.errors import DataFormatError, InputError
from record.eval.carrada import (
    ConfusionAccumulator,
    SegmentationMetrics,
    confusion_matrix,
    score_carrada_predictions,
)

CASES = {"rd": ("gt_rd", "pred_rd", 4), "ra": ("gt_ra", "pred_ra", 4), "edge": ("edge_gt", "edge_pred", 2)}


@pytest.fixture(scope="module")
def label_maps():
    return np.load(CARRADA_FIXTURE / "label_maps.npz")


@pytest.fixture(scope="module")
def expected():
    return json.loads((CARRADA_FIXTURE / "expected.json").read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_fixture_metrics(case, label_maps, expected):
    gt_key, pred_key, batch = CASES[case]
    accumulator = ConfusionAccumulator()
    for start in range(0, len(label_maps[gt_key]), batch):  # batches as MVRSS's tester feeds them
        frames = slice(start, start + batch)
        accumulator.add(label_maps[gt_key][frames], label_maps[pred_key][frames])
    result = accumulator.metrics().to_dict()
    wanted = expected[case]
    assert result["confusion_matrix"] == wanted["confusion_matrix"]
    for key in ("mIoU", "IoU_by_class", "mDice", "Dice_by_class", "precision", "precision_by_class", "recall",
                "recall_by_class", "acc", "acc_by_class"):
        np.testing.assert_allclose(result[key], wanted[key], rtol=0, atol=1e-8, err_msg=f"{case} {key}")


def test_fixture_global_figures(label_maps, expected):
    rd = SegmentationMetrics.from_confusion(confusion_matrix(label_maps["gt_rd"], label_maps["pred_rd"]))
    ra = SegmentationMetrics.from_confusion(confusion_matrix(label_maps["gt_ra"], label_maps["pred_ra"]))
    wanted = expected["global"]
    assert (rd.mean_precision + ra.mean_precision) / 2 == pytest.approx(wanted["global_prec"], abs=1e-12)
    assert (rd.mdice + ra.mdice) / 2 == pytest.approx(wanted["global_dice"], abs=1e-12)
    assert (rd.miou + ra.miou) / 2 == pytest.approx(wanted["mean_mIoU_rd_ra"], abs=1e-12)


def test_handmade_confusion_matrix():
    labels = np.array([[0, 0, 0, 1], [1, 1, 3, 3]])
    preds = np.array([[0, 1, 0, 1], [0, 1, 3, 2]])
    matrix = confusion_matrix(labels, preds)
    np.testing.assert_array_equal(matrix, [[2, 1, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]])
    m = SegmentationMetrics.from_confusion(matrix)
    # background: TP 2, FP 1 (pred 0 for a pedestrian), FN 1 -> IoU 2/4; pedestrian: TP 2, FP 1, FN 1 -> 2/4
    # cyclist: absent from the GT, predicted once -> IoU 0, precision 0/1, recall 0/0 -> 0;
    # car: TP 1, FN 1 -> 1/2
    np.testing.assert_allclose(m.iou, [0.5, 0.5, 0.0, 0.5])
    np.testing.assert_allclose(m.precision, [2 / 3, 2 / 3, 0.0, 1.0])
    np.testing.assert_allclose(m.recall, [2 / 3, 2 / 3, 0.0, 0.5])
    assert m.miou == pytest.approx(0.375)  # the zero of the cyclist counts in the mean over 4 classes
    tp, fp, fn = np.diag(matrix), matrix.sum(0) - np.diag(matrix), matrix.sum(1) - np.diag(matrix)
    denominator = 2 * tp + fp + fn
    dice = np.divide(2 * tp, denominator, out=np.zeros(4), where=denominator > 0)
    np.testing.assert_allclose(m.dice, dice, atol=1e-8)
    assert m.mdice == pytest.approx(np.mean([2 / 3, 2 / 3, 0.0, 2 / 3]), abs=1e-8)


def test_perfect_prediction_and_absent_classes():
    labels = np.zeros((3, 16, 8), dtype=np.uint8)
    labels[:, 4:6, 2:4] = 1
    m = SegmentationMetrics.from_confusion(confusion_matrix(labels, labels))
    np.testing.assert_allclose(m.iou, [1, 1, 0, 0])
    assert m.miou == 0.5 and m.mdice == pytest.approx(0.5, abs=1e-8)


def test_accumulator_sums_batches():
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, 4, (6, 10, 7)), rng.integers(0, 4, (6, 10, 7))
    accumulator = ConfusionAccumulator()
    for i in range(0, 6, 4):
        accumulator.add(labels[i : i + 4], preds[i : i + 4])
    np.testing.assert_array_equal(accumulator.matrix, confusion_matrix(labels, preds))
    assert accumulator.matrix.sum() == labels.size


@pytest.mark.parametrize(
    ("labels", "preds", "message"),
    [
        (np.zeros((2, 3), int), np.zeros((3, 2), int), "differ in shape"),
        (np.zeros((2, 3), int), np.zeros((2, 3), float), "integer class ids"),
        (np.zeros((2, 3), int), np.full((2, 3), 4), r"outside \[0, 4\)"),
        (np.full((2, 3), -1), np.zeros((2, 3), int), r"outside \[0, 4\)"),
    ],
)
def test_confusion_matrix_rejects_bad_input(labels, preds, message):
    with pytest.raises(InputError, match=message):
        confusion_matrix(labels, preds)


# ---------------------------------------------------------------- saved label maps against a dataset
@pytest.fixture
def carrada_case(tmp_path):
    """A 2-sequence tree (one test, one train) and predictions for the test frames."""
    rng = np.random.default_rng(5)

    def labels(shape, n):
        out = np.zeros((n, *shape), dtype=np.int64)
        for maps in out:
            r, c = rng.integers(10, shape[0] - 10), rng.integers(5, shape[1] - 5)
            maps[r - 3 : r + 3, c - 2 : c + 2] = rng.integers(1, 4)
        return out

    test_rd, test_ra = labels((256, 64), 3), labels((256, 256), 3)
    root = write_carrada_tree(tmp_path / "Carrada", {
        "2020-02-28-13-09-58": ("Test", list(test_rd), list(test_ra)),
        "2019-09-16-12-52-12": ("Train", list(labels((256, 64), 2)), list(labels((256, 256), 2))),
    })
    pred_rd = np.roll(test_rd, 1, axis=1).astype(np.uint8)  # off by one range bin
    pred_ra = test_ra.astype(np.int32)
    pred_dir = tmp_path / "pred"
    for i in range(3):
        folder = pred_dir / "2020-02-28-13-09-58" / f"{i:06d}"
        folder.mkdir(parents=True)
        np.save(folder / "range_doppler.npy", pred_rd[i])
        np.save(folder / "range_angle.npy", pred_ra[i])
    return root, pred_dir, (test_rd, pred_rd, test_ra, pred_ra)


def test_score_saved_predictions(carrada_case):
    root, pred_dir, (test_rd, pred_rd, test_ra, pred_ra) = carrada_case
    metrics = score_carrada_predictions(pred_dir, CarradaLayout(root), "test")
    np.testing.assert_array_equal(metrics["rd"].confusion_matrix, confusion_matrix(test_rd, pred_rd))
    np.testing.assert_array_equal(metrics["ra"].confusion_matrix, confusion_matrix(test_ra, pred_ra))
    assert metrics["rd"].miou < 1
    assert metrics["ra"].confusion_matrix.sum() == test_ra.size


def test_missing_prediction_names_the_file(carrada_case):
    root, pred_dir, _ = carrada_case
    missing = pred_dir / "2020-02-28-13-09-58" / "000002" / "range_angle.npy"
    missing.unlink()
    with pytest.raises(DataFormatError, match=f"{missing}.*file not found"):
        score_carrada_predictions(pred_dir, CarradaLayout(root), "test")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((256, 63), np.uint8), r"wrong shape.*\(256, 63\)"),
        (np.zeros((256, 64), np.float32), "wrong dtype.*float32"),
        (np.full((256, 64), 7, np.int64), r"label values outside.*\[7\]"),
    ],
)
def test_bad_prediction_files_name_the_file(carrada_case, array, message):
    root, pred_dir, _ = carrada_case
    path = pred_dir / "2020-02-28-13-09-58" / "000001" / "range_doppler.npy"
    np.save(path, array)
    with pytest.raises(DataFormatError, match=f"{path}.*{message}"):
        score_carrada_predictions(pred_dir, CarradaLayout(root), "test")


def test_missing_prediction_folder_and_empty_split(tmp_path, carrada_case):
    root, pred_dir, _ = carrada_case
    with pytest.raises(DataFormatError, match="prediction folder not found"):
        score_carrada_predictions(tmp_path / "nowhere", CarradaLayout(root), "test")
    with pytest.raises(DataFormatError, match="no sequence in split"):
        score_carrada_predictions(pred_dir, CarradaLayout(root), "validation")
