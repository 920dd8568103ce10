"""ROD2021 scoring: the cruw-devkit fixture, hand-made cases with known answers, and random cross-checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from coco_oracle import score_coco
from devkit_loop import score_loop
from eval_cases import ROD_FIXTURE, objects, random_scene

from record.classes import ROD2021_CLASSES
from record.data.rod2021_files import read_annotations, read_detections
from record.detections import ObjectTable
from record.errors import InputError, RecordError
from record.eval.rod2021 import (
    GATE_AZIMUTH_RAD,
    OLS_THRESHOLDS,
    RECALL_THRESHOLDS,
    class_confusions,
    in_gate,
    named_confusions,
    score_rod2021,
    score_rod2021_dirs,
)

N_REC = len(RECALL_THRESHOLDS)


@pytest.fixture(scope="module")
def fixture_result():
    return score_rod2021_dirs(ROD_FIXTURE / "gt", ROD_FIXTURE / "dets")


@pytest.fixture(scope="module")
def expected():
    return json.loads((ROD_FIXTURE / "expected.json").read_text())


def _assert_summary(actual: dict, wanted: dict) -> None:
    """Every key of the devkit-derived summary ``wanted`` (AP, AP_0.5, ..., AR_0.9) within 1e-6."""
    for key, value in wanted.items():
        assert actual[key] == pytest.approx(value, abs=1e-6), key


# ---------------------------------------------------------------- the devkit fixture
def test_fixture_overall_ap_ar(fixture_result, expected):
    assert fixture_result.ap == pytest.approx(expected["AP"], abs=1e-6)
    assert fixture_result.ar == pytest.approx(expected["AR"], abs=1e-6)
    assert round(100 * fixture_result.ap, 4) == expected["AP_total_percent_printed"]
    assert round(100 * fixture_result.ar, 4) == expected["AR_total_percent_printed"]


def test_fixture_per_threshold_per_class_per_sequence(fixture_result, expected):
    result = fixture_result.to_dict()
    _assert_summary(result["overall"], expected["overall"])
    for name, wanted in expected["per_class"].items():
        _assert_summary(result["per_class"][name], wanted)
    assert set(result["per_sequence"]) == set(expected["per_sequence"])
    for sequence, wanted in expected["per_sequence"].items():
        mine = result["per_sequence"][sequence]
        _assert_summary(mine["overall"], wanted["overall"])
        for name, wanted_class in wanted["per_class"].items():
            if wanted_class is None:
                assert mine["per_class"][name] is None
            else:
                _assert_summary(mine["per_class"][name], wanted_class)
        assert mine["counts"] == wanted["counts"]
    assert result["counts"] == expected["counts"]


def test_fixture_accumulate_arrays(fixture_result):
    arrays = np.load(ROD_FIXTURE / "expected_arrays.npz")
    acc = fixture_result.accumulation
    for name in ("precision", "recall", "scores", "object_counts"):
        np.testing.assert_allclose(getattr(acc, name), arrays[name], rtol=0, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(acc.ols_thresholds, arrays["olsThrs"])
    np.testing.assert_array_equal(acc.recall_thresholds, arrays["recThrs"])
    np.testing.assert_array_equal(OLS_THRESHOLDS, arrays["olsThrs"])


def test_fixture_class_weighting_is_by_object_count(fixture_result, expected):
    per_class = [fixture_result.per_class[name].ap for name in ROD2021_CLASSES]
    weights = np.array(expected["object_counts_used_as_weights"])
    assert fixture_result.ap == pytest.approx(np.dot(per_class, weights) / weights.sum(), abs=1e-12)
    assert abs(fixture_result.ap - np.mean(per_class)) > 1e-3  # a plain class mean would be wrong here


# ---------------------------------------------------------------- hand-made cases
def _score(gt_rows, det_rows):
    return score_rod2021({"S": objects(gt_rows)}, {"S": objects(det_rows)})


TWO_PER_CLASS = [(0, "pedestrian", 5.0, 0.1), (1, "pedestrian", 8.0, -0.2), (0, "cyclist", 12.0, 0.4),
                 (2, "cyclist", 3.0, -0.5), (1, "car", 20.0, 0.0), (2, "car", 15.0, 0.9)]


def test_perfect_detections_score_one():
    result = _score(TWO_PER_CLASS, [row + (0.9,) for row in TWO_PER_CLASS])
    assert result.ap == 1.0 and result.ar == 1.0
    for summary in result.per_class.values():
        assert summary.ap == 1.0 and summary.ar == 1.0
        np.testing.assert_array_equal(summary.ap_per_threshold, 1.0)


def test_one_miss():
    gt = [(f, "car", 10.0 + f, 0.1) for f in range(4)]
    result = _score(gt, [row + (0.8,) for row in gt[:3]])
    assert result.ar == pytest.approx(0.75, abs=1e-12)
    assert result.ap == pytest.approx(76 / 101, abs=1e-12)  # precision 1 at recall points 0.00 .. 0.75


@pytest.mark.parametrize(("fp_score", "expected_ap"), [(0.95, 0.8), (0.05, 1.0)])
def test_one_false_positive(fp_score, expected_ap):
    gt = [(f, "cyclist", 10.0, 0.1 * f) for f in range(4)]
    dets = [row + (0.9,) for row in gt] + [(0, "cyclist", 3.0, -0.8, fp_score)]
    result = _score(gt, dets)
    assert result.ar == 1.0
    assert result.ap == pytest.approx(expected_ap, abs=1e-12)  # an early FP caps precision at 4/5


def test_gate_boundaries_kept_and_beyond_dropped():
    inside = [(0, "car", 25.0, 0.0), (0, "car", 1.0, 0.2), (1, "car", 10.0, GATE_AZIMUTH_RAD),
              (1, "car", 10.0, -GATE_AZIMUTH_RAD)]
    outside = [(2, "car", 25.0001, 0.0), (2, "car", 0.9999, 0.0), (3, "car", 10.0, 1.0472),
               (3, "car", 10.0, -1.0472)]
    table = objects(inside + outside)
    np.testing.assert_array_equal(in_gate(table.range_m, table.azimuth_rad), [True] * 4 + [False] * 4)
    result = _score(inside + outside, [row + (0.9,) for row in inside + outside])
    assert result.accumulation.object_counts[2] == 4 and result.accumulation.detection_counts[2] == 4
    assert result.ap == 1.0


def test_gate_applies_to_each_side_independently():
    gt = [(0, "pedestrian", 10.0, 0.0), (1, "pedestrian", 10.0, 0.0), (2, "pedestrian", 24.99, 0.0)]
    # the GT at 24.99 m is detected at 25.02 m: the detection is gated away -> a miss;
    # a detection at 24.98 m whose GT lies at 25.01 m (gated away) -> a false positive.
    dets = [(0, "pedestrian", 10.0, 0.0, 0.9), (1, "pedestrian", 10.0, 0.0, 0.9),
            (2, "pedestrian", 25.02, 0.0, 0.9),
            (3, "pedestrian", 24.98, 0.0, 0.95)]
    result = _score(gt + [(3, "pedestrian", 25.01, 0.0)], dets)
    assert result.accumulation.object_counts[0] == 3 and result.accumulation.detection_counts[0] == 3
    assert result.ar == pytest.approx(2 / 3, abs=1e-12)
    # order: FP (0.95), TP, TP -> precision 0, 1/2, 2/3 at recall 0, 1/3, 2/3; envelope 2/3 up to recall 2/3
    assert result.ap == pytest.approx((2 / 3) * 67 / 101, abs=1e-12)


@pytest.mark.parametrize(("fp_first", "expected_ap"), [(True, 2 / 3), (False, (51 + 50 * 2 / 3) / 101)])
def test_score_ties_keep_file_order(fp_first, expected_ap):
    gt = [(0, "pedestrian", 5.0, 0.0), (0, "pedestrian", 9.0, 0.3)]
    tp_a, tp_b = (0, "pedestrian", 5.0, 0.0, 0.5), (0, "pedestrian", 9.0, 0.3, 0.4)
    fp = (0, "pedestrian", 20.0, -0.9, 0.5)
    result = _score(gt, [fp, tp_a, tp_b] if fp_first else [tp_a, fp, tp_b])
    assert result.ap == pytest.approx(expected_ap, abs=1e-12)
    assert result.ar == 1.0


def test_score_ties_across_sequences_follow_sorted_names():
    # Same tie as above, split over two sequences: the devkit concatenates sequences in sorted name order.
    gt = {"B": objects([(0, "car", 5.0, 0.0)]), "A": objects([(0, "car", 9.0, 0.3)])}
    fp = (1, "car", 20.0, -0.9, 0.5)
    dets_fp_in_a = {"B": objects([(0, "car", 5.0, 0.0, 0.5)]), "A": objects([fp, (0, "car", 9.0, 0.3, 0.4)])}
    dets_fp_in_b = {"B": objects([(0, "car", 5.0, 0.0, 0.5), fp]), "A": objects([(0, "car", 9.0, 0.3, 0.4)])}
    assert score_rod2021(gt, dets_fp_in_a).ap == pytest.approx(2 / 3, abs=1e-12)
    assert score_rod2021(gt, dets_fp_in_b).ap == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)


def test_highest_scoring_detection_takes_the_ground_truth():
    gt = [(0, "car", 10.0, 0.0), (0, "car", 10.0, 0.5)]
    dets = [(0, "car", 10.05, 0.0, 0.6), (0, "car", 10.0, 0.0, 0.9), (0, "car", 10.0, 0.5, 0.7)]
    result = _score(gt, dets)
    # 0.9 and 0.7 match; the duplicate at 0.6 finds its GT taken -> FP after full recall
    assert result.ar == 1.0 and result.ap == 1.0
    dets[1] = (0, "car", 10.0, 0.0, 0.5)  # now the duplicate outranks it and takes the GT first
    assert _score(gt, dets).ap == 1.0  # the duplicate is close enough: still a TP at every threshold


def test_empty_frames_and_empty_detections():
    gt = [(0, "car", 10.0, 0.0), (5, "car", 12.0, 0.1)]
    sparse = _score(gt, [(0, "car", 10.0, 0.0, 0.9), (5, "car", 12.0, 0.1, 0.8)])
    assert sparse.ap == 1.0  # frames 1-4 have nothing and do not count
    nothing = _score(gt, [])
    assert nothing.ap == 0.0 and nothing.ar == 0.0
    np.testing.assert_array_equal(nothing.accumulation.precision[:, :, 2], 0.0)
    np.testing.assert_array_equal(nothing.accumulation.precision[:, :, :2], -1.0)  # absent classes


def test_class_without_ground_truth():
    gt = [(0, "pedestrian", 5.0, 0.0), (1, "pedestrian", 6.0, 0.0)]
    dets = [(0, "pedestrian", 5.0, 0.0, 0.6), (1, "pedestrian", 6.0, 0.0, 0.6), (0, "car", 9.0, 0.0, 0.99)]
    result = _score(gt, dets)
    assert result.per_class["car"] is None and result.per_class["cyclist"] is None
    assert result.ap == 1.0 and result.ar == 1.0  # car detections carry zero weight
    acc = result.accumulation
    np.testing.assert_array_equal(acc.precision[:, :, 2], 0.0)  # detections but no GT: 0, as in the devkit
    np.testing.assert_array_equal(acc.precision[:, :, 1], -1.0)  # neither: -1
    assert result.to_dict()["per_class"]["car"] is None


def test_no_ground_truth_at_all_gives_nan_and_json_null():
    result = _score([], [(0, "car", 9.0, 0.0, 0.5)])
    assert math.isnan(result.ap) and math.isnan(result.ar)
    assert result.to_dict()["AP"] is None and result.to_dict()["overall"]["AR_0.5"] is None


def test_single_object_class_keeps_the_devkit_recall_quirk():
    # recall = TP / (n_gt + eps) stays just below 1 when n_gt == 1, so the 1.00 recall point is never reached.
    result = _score([(0, "car", 10.0, 0.0)], [(0, "car", 10.0, 0.0, 0.9)])
    assert result.ap == pytest.approx(100 / 101, abs=1e-12)
    assert result.ar == pytest.approx(1.0, abs=1e-12) and result.ar < 1.0


def test_per_sequence_scores_each_sequence_alone():
    rng = np.random.default_rng(3)
    scenes = {name: random_scene(rng, 12) for name in ("S1", "S0")}
    result = score_rod2021({n: s[0] for n, s in scenes.items()}, {n: s[1] for n, s in scenes.items()})
    assert list(result.per_sequence) == ["S0", "S1"]
    for name, (gt, dets) in scenes.items():
        alone = score_rod2021({name: gt}, {name: dets})
        mine = result.per_sequence[name]
        np.testing.assert_array_equal(mine.accumulation.precision, alone.accumulation.precision)
        assert mine.ap == alone.ap


# ---------------------------------------------------------------- cross-checks against independent oracles
@pytest.mark.parametrize("seed", range(6))
def test_matches_devkit_loop_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    names = [f"SEQ_{i}" for i in range(rng.integers(1, 4))]
    scenes = {name: random_scene(rng, int(rng.integers(5, 40))) for name in names}
    gt = {n: s[0] for n, s in scenes.items()}
    dets = {n: s[1] for n, s in scenes.items()}
    result = score_rod2021(gt, dets)
    oracle = score_loop(gt, dets)
    acc = result.accumulation
    for name in ("precision", "recall", "scores", "object_counts"):
        np.testing.assert_array_equal(getattr(acc, name), oracle[name], err_msg=name)
    assert result.ap == pytest.approx(oracle["AP"], abs=1e-12)
    assert result.ar == pytest.approx(oracle["AR"], abs=1e-12)


def test_matches_pycocotools_keypoint_evaluation():
    rng = np.random.default_rng(11)
    scenes = {f"SEQ_{i}": random_scene(rng, 30) for i in range(2)}
    gt, dets = {n: s[0] for n, s in scenes.items()}, {n: s[1] for n, s in scenes.items()}
    precision, recall = score_coco(gt, dets)
    acc = score_rod2021(gt, dets).accumulation
    with_gt = acc.object_counts > 0
    np.testing.assert_allclose(acc.precision[:, :, with_gt], precision[:, :, with_gt], rtol=0, atol=1e-12)
    np.testing.assert_allclose(acc.recall[:, with_gt], recall[:, with_gt], rtol=0, atol=1e-12)


def test_fixture_matches_pycocotools():
    names = [p.stem for p in sorted((ROD_FIXTURE / "gt").glob("*.txt"))]
    gt = {n: read_annotations(ROD_FIXTURE / "gt" / f"{n}.txt") for n in names}
    dets = {n: read_detections(ROD_FIXTURE / "dets" / f"{n}.txt") for n in names}
    precision, recall = score_coco(gt, dets)
    arrays = np.load(ROD_FIXTURE / "expected_arrays.npz")
    np.testing.assert_allclose(precision, arrays["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(recall, arrays["recall"], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- input errors
def test_sequence_sets_must_match():
    table = objects([(0, "car", 5.0, 0.0)])
    with pytest.raises(InputError, match="lacks sequence.*S2.*has sequence.*S3"):
        score_rod2021({"S1": table, "S2": table}, {"S1": table, "S3": table})
    with pytest.raises(InputError, match="holds no sequence"):
        score_rod2021({}, {})


def test_classes_must_match():
    table = objects([(0, "car", 5.0, 0.0)])
    renamed = ("a", "b", "car")
    other = ObjectTable(table.frame, table.class_id, table.range_m, table.azimuth_rad, table.score, renamed)
    with pytest.raises(InputError, match="classes"):
        score_rod2021({"S": table}, {"S": other})


def test_unknown_class_size_is_rejected():
    odd = ("pedestrian", "cyclist", "truck")
    table = objects([(0, "car", 5.0, 0.0)])
    table = ObjectTable(table.frame, table.class_id, table.range_m, table.azimuth_rad, table.score, odd)
    with pytest.raises(RecordError, match="truck"):
        score_rod2021({"S": table}, {"S": table})


def test_missing_folders(tmp_path):
    (tmp_path / "gt").mkdir()
    with pytest.raises(RecordError, match="detections folder not found"):
        score_rod2021_dirs(tmp_path / "gt", tmp_path / "nope")


def test_in_memory_inputs_are_checked_like_files():
    good = objects([(0, "car", 5.0, 0.0)])
    above_one = objects([(0, "car", 5.0, 0.0, 1.0)])
    above_one.score[0] = 1.2
    with pytest.raises(InputError, match=r"detections of S: score 1.2 outside \(0, 1\]"):
        score_rod2021({"S": good}, {"S": above_one})
    negative = objects([(0, "car", 5.0, 0.0)])
    negative.frame[0] = -3
    with pytest.raises(InputError, match="ground truth of S: negative frame index -3"):
        score_rod2021({"S": negative}, {"S": good})


def test_class_confusions_count_detections_on_objects_of_another_class():
    truth = objects([(0, "car", 10.0, 0.0), (0, "pedestrian", 10.0, 0.3), (1, "cyclist", 5.0, -0.2),
                     (3, "car", 10.0, 0.0), (3, "pedestrian", 10.5, 0.0)])
    detections = objects([
        (0, "pedestrian", 11.0, 0.0, 0.9),  # 1 m off the car's centre (OLS 0.85): pedestrian -> car
        (0, "car", 10.0, 0.3, 0.8),  # on the pedestrian (the pedestrian's kappa is used)
        (0, "pedestrian", 10.0, 0.31, 0.7),  # right: its own pedestrian is there
        (1, "car", 5.0, -0.2, 0.6),  # on the cyclist
        (1, "car", 20.0, 0.5, 0.5),  # on nothing: a plain false positive
        (2, "car", 10.0, 0.0, 0.5),  # another frame
        (0, "car", 30.0, 0.0, 0.5),  # outside the gate
        (3, "pedestrian", 10.5, 0.0, 0.5),  # on its own pedestrian, beside a car (OLS 0.96 with it): right
    ])
    counts = class_confusions({"s": truth}, {"s": detections})
    pedestrian, cyclist, car = (ROD2021_CLASSES.index(name) for name in ("pedestrian", "cyclist", "car"))
    expected = np.zeros((3, 3), dtype=np.int64)
    expected[pedestrian, car] = expected[car, pedestrian] = expected[car, cyclist] = 1
    np.testing.assert_array_equal(counts, expected)
    stricter = class_confusions({"s": truth}, {"s": detections}, ols_threshold=0.9)
    assert stricter[pedestrian, car] == 0 and stricter.sum() == 2
    assert named_confusions(counts, ROD2021_CLASSES) == {
        "pedestrian": {"cyclist": 0, "car": 1}, "cyclist": {"pedestrian": 0, "car": 0},
        "car": {"pedestrian": 1, "cyclist": 1}}
