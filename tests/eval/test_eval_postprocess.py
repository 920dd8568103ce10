"""ROD2021 post-processing: OLS, peak rule, location-based NMS (correct / published), caps, decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.classes import ROD2021_CLASSES
from record.data.rod2021_files import read_detections, write_detections
from record.errors import InputError
from record.eval.ols import class_kappas, object_location_similarity
from record.eval.postprocess import PostProcessConfig, decode_confmaps, detect_peaks, location_nms
from record.sensors import ROD2021

KAPPA = dict(zip(ROD2021_CLASSES, class_kappas(ROD2021_CLASSES)))


# ---------------------------------------------------------------- OLS
def test_ols_formula_and_kappas():
    assert KAPPA == {"pedestrian": 0.005, "cyclist": 0.01, "car": 0.03}
    # a pedestrian 0.83 m away at 10 m sits at OLS ~0.5; a car 0.80 m away at ~0.9 (evaluation.md §1.5)
    assert object_location_similarity(10.0, 0.0, 10.83, 0.0, 0.005) == pytest.approx(0.5, abs=0.01)
    assert object_location_similarity(10.0, 0.0, 10.80, 0.0, 0.03) == pytest.approx(0.9, abs=0.01)
    r1, a1, r2, a2 = 7.0, 0.3, 7.5, 0.25
    d2 = (r1 * math.sin(a1) - r2 * math.sin(a2)) ** 2 + (r1 * math.cos(a1) - r2 * math.cos(a2)) ** 2
    wanted = math.exp(-d2 / (2 * r1**2 * 0.01))
    assert object_location_similarity(r1, a1, r2, a2, 0.01) == pytest.approx(wanted, rel=1e-12)
    # the reference's range sets the scale, so OLS is not symmetric
    assert object_location_similarity(r2, a2, r1, a1, 0.01) > object_location_similarity(r1, a1, r2, a2, 0.01)


def test_ols_broadcasts_and_rejects_unknown_classes():
    values = object_location_similarity(np.array([[5.0], [10.0]]), 0.0, np.array([5.0, 5.5, 6.0]), 0.0, 0.03)
    assert values.shape == (2, 3) and values[0, 0] == 1.0 and np.all(np.diff(values[0]) < 0)
    with pytest.raises(InputError, match="truck"):
        class_kappas(("car", "truck"))


# ---------------------------------------------------------------- peaks
def _peaks_by_loop(image: np.ndarray, threshold: float) -> np.ndarray:
    """The published rule read literally: exactly one element of the 3 x 5 window is >= the centre."""
    out = np.zeros(image.shape, dtype=bool)
    for h in range(1, image.shape[0] - 1):
        for w in range(2, image.shape[1] - 2):
            window = image[h - 1 : h + 2, w - 2 : w + 3]
            out[h, w] = np.count_nonzero(window >= image[h, w]) == 1 and image[h, w] > threshold
    return out


def test_peaks_match_the_literal_rule_on_maps_with_plateaus():
    rng = np.random.default_rng(0)
    maps = np.round(rng.random((2, 3, 17, 23)) * 8) / 8  # few levels: many equal neighbours
    peaks = detect_peaks(maps, 0.3)
    assert peaks.shape == maps.shape and peaks.any()
    for f in range(2):
        for c in range(3):
            np.testing.assert_array_equal(peaks[f, c], _peaks_by_loop(maps[f, c], 0.3))


def test_peak_needs_a_unique_maximum_and_to_exceed_the_threshold():
    image = np.zeros((9, 12))
    image[4, 4] = image[4, 6] = 0.9  # 2 columns apart: inside each other's 5-wide window -> neither
    image[2, 9] = 0.3  # equal to the threshold -> not a peak
    image[6, 9] = 0.3001
    image[7, 2] = 0.8  # a unique maximum near the edge, inside the scanned interior
    peaks = detect_peaks(image, 0.3)
    assert {tuple(p) for p in np.argwhere(peaks)} == {(6, 9), (7, 2)}
    image[4, 6] = 0.89
    assert detect_peaks(image, 0.3)[4, 4]


def test_peaks_on_the_border_are_not_scanned():
    image = np.zeros((8, 10))
    image[0, 5] = image[7, 5] = image[3, 1] = image[3, 8] = 1.0
    assert not detect_peaks(image, 0.3).any()
    with pytest.raises(InputError, match="H >= 3, W >= 5"):
        detect_peaks(np.zeros((2, 10)))


# ---------------------------------------------------------------- location-based NMS
def _lnms_published(cands, kappa, threshold, max_keep):
    """RODNet's lnms as published: delete from the list while enumerating it."""
    dts = sorted(cands, key=lambda c: -c[2])
    kept = []
    while dts and len(kept) < max_keep:
        best = dts.pop(0)
        kept.append(best)
        for pid, other in enumerate(dts):
            if object_location_similarity(best[0], best[1], other[0], other[1], kappa) > threshold:
                del dts[pid]
    return kept


def _lnms_correct(cands, kappa, threshold, max_keep):
    kept = []
    for cand in sorted(cands, key=lambda c: -c[2]):
        if len(kept) < max_keep and all(
            object_location_similarity(k[0], k[1], cand[0], cand[1], kappa) <= threshold for k in kept
        ):
            kept.append(cand)
    return kept


def _run_nms(cands, kappa, published, max_keep=20, threshold=0.3):
    r, a, s = (np.array([c[i] for c in cands]) for i in range(3))
    keep = location_nms(np.zeros(len(cands), int), r, a, s, np.full(len(cands), kappa),
                        ols_threshold=threshold, max_keep=max_keep, published=published)
    return sorted((cands[i] for i in np.flatnonzero(keep)), key=lambda c: -c[2])


def test_published_lnms_lets_the_candidate_after_a_deletion_escape():
    # p* at 10 m; A and B both within OLS > 0.3 of p*; A is deleted, B slides into A's slot and is skipped.
    cands = [(10.0, 0.0, 0.9), (10.3, 0.0, 0.8), (10.0, 0.03, 0.7), (14.0, 0.3, 0.6)]
    kappa = KAPPA["car"]
    correct, published = _run_nms(cands, kappa, False), _run_nms(cands, kappa, True)
    assert correct == [cands[0], cands[3]]
    assert published == [cands[0], cands[2], cands[3]]
    assert published == _lnms_published(cands, kappa, 0.3, 20)
    assert correct == _lnms_correct(cands, kappa, 0.3, 20)


@pytest.mark.parametrize("seed", range(4))
def test_lnms_modes_match_reference_loops_on_random_candidates(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n = int(rng.integers(0, 40))
        cands = [(float(rng.uniform(2, 20)), float(rng.uniform(-0.4, 0.4)), float(s))
                 for s in rng.permutation(np.linspace(0.31, 0.99, n))]
        kappa = float(rng.choice(list(KAPPA.values())))
        max_keep = int(rng.integers(1, 25))
        assert _run_nms(cands, kappa, True, max_keep) == _lnms_published(cands, kappa, 0.3, max_keep)
        assert _run_nms(cands, kappa, False, max_keep) == _lnms_correct(cands, kappa, 0.3, max_keep)


def test_lnms_groups_are_independent_and_ties_keep_input_order():
    r = np.array([10.0, 10.0, 10.0, 10.0])
    keep = location_nms(np.array([0, 1, 0, 1]), r, np.zeros(4), np.full(4, 0.5), np.full(4, 0.03))
    np.testing.assert_array_equal(keep, [True, True, False, False])  # the first of each group wins the tie
    with pytest.raises(InputError, match="1-D arrays of one length"):
        location_nms(np.zeros(3, int), r, np.zeros(4), np.ones(4), np.ones(4))


# ---------------------------------------------------------------- decoding confidence maps
def _blob_maps(n_frames: int = 1) -> np.ndarray:
    return np.zeros((n_frames, 3, ROD2021.range.n_bins, ROD2021.azimuth.n_bins), dtype=np.float32)


def test_decode_converts_bins_with_the_capture_axes():
    maps = _blob_maps(2)
    maps[0, 2, 40, 70] = 0.8
    maps[1, 0, 10, 30] = 0.6
    maps[1, 1, 100, 64] = 0.95
    dets = decode_confmaps(maps, first_frame=5)
    np.testing.assert_array_equal(dets.frame, [5, 6, 6])
    np.testing.assert_array_equal(dets.class_id, [2, 1, 0])
    np.testing.assert_allclose(dets.range_m, ROD2021.range.values()[[40, 100, 10]])
    np.testing.assert_allclose(dets.azimuth_rad, ROD2021.azimuth.values()[[70, 64, 30]])
    np.testing.assert_allclose(dets.score, [0.8, 0.95, 0.6], rtol=1e-6)


def test_decode_caps_each_class_then_each_frame():
    maps = _blob_maps()
    # 30 peaks per class, far enough apart (>= 31 % in range, >= 18 deg in azimuth) that L-NMS keeps them all
    rows, cols = np.meshgrid([10, 20, 35, 55, 85, 125], [24, 44, 64, 84, 104], indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    for k in range(3):
        maps[0, k, rows, cols] = 0.4 + 0.01 * np.arange(30) + 0.001 * k
    per_class = decode_confmaps(maps, PostProcessConfig(max_dets=20))
    assert len(per_class) == 20
    assert np.all(np.diff(per_class.score) <= 0)
    top_per_class = [0.4 + 0.01 * np.arange(10, 30) + 0.001 * k for k in range(3)]
    expected = np.sort(np.concatenate(top_per_class))[::-1][:20]
    np.testing.assert_allclose(per_class.score, expected, rtol=1e-6)
    only_car = maps.copy()
    only_car[0, :2] = 0
    assert len(decode_confmaps(only_car)) == 20  # 30 car peaks, capped at 20 per class


def test_decode_uses_the_selected_lnms_mode():
    maps = _blob_maps()
    # three car peaks along one azimuth column, 2 range bins (0.43 m) apart: close enough to suppress
    column = 64
    for row, value in ((60, 0.9), (62, 0.8), (58, 0.7)):
        maps[0, 2, row, column] = value
    correct = decode_confmaps(maps)
    published = decode_confmaps(maps, PostProcessConfig(published_lnms=True))
    assert len(correct) == 1
    assert len(published) == 2  # the peak after the deleted one escapes


def test_decoded_detections_round_trip_through_the_submission_format(tmp_path):
    rng = np.random.default_rng(1)
    maps = (rng.random((3, 3, 128, 128)) ** 8).astype(np.float32)
    dets = decode_confmaps(maps)
    assert len(dets) > 0 and np.all(np.bincount(dets.frame) <= 20)
    write_detections(tmp_path / "SEQ.txt", dets)
    back = read_detections(tmp_path / "SEQ.txt")
    np.testing.assert_array_equal(back.frame, dets.frame)
    np.testing.assert_array_equal(back.class_id, dets.class_id)
    np.testing.assert_allclose(back.range_m, dets.range_m, atol=5e-5)
    np.testing.assert_allclose(back.score, dets.score, atol=5e-5)


def test_decode_batches_equal_frame_by_frame():
    rng = np.random.default_rng(2)
    maps = (rng.random((4, 3, 128, 128)) ** 6).astype(np.float32)
    batch = decode_confmaps(maps, first_frame=10)
    for f in range(4):
        single = decode_confmaps(maps[f : f + 1], first_frame=10 + f)
        mine = batch.frame == 10 + f
        np.testing.assert_array_equal(batch.score[mine], single.score)
        np.testing.assert_array_equal(batch.range_m[mine], single.range_m)


def test_decode_rejects_bad_maps():
    with pytest.raises(InputError, match="expected confidence maps"):
        decode_confmaps(np.zeros((3, 128, 128)))
    logits = _blob_maps()
    logits[0, 0, 50, 50] = 4.0
    with pytest.raises(InputError, match="probabilities"):
        decode_confmaps(logits)


def test_training_targets_decode_to_a_perfect_score(tmp_path):
    """Ground truth -> Gaussian confidence maps (record.data.confmaps) -> decode -> submission -> AP = 1."""
    from eval_cases import write_annotations

    from record.data.confmaps import confidence_maps
    from record.detections import ObjectTable
    from record.eval.rod2021 import score_rod2021_dirs

    rows = np.array([[20, 90, 50], [60, 30, 110], [100, 45, 75]])  # per frame: a bin row for each class
    cols = np.array([[40, 80, 60], [64, 20, 100], [30, 70, 90]])
    frames = np.repeat(np.arange(3), 3)
    gt = ObjectTable(frames, np.tile(np.arange(3), 3), ROD2021.range.values()[rows.ravel()],
                     ROD2021.azimuth.values()[cols.ravel()], np.ones(9), ROD2021_CLASSES)
    maps = np.stack([confidence_maps(gt.select(gt.frame == f)) for f in range(3)])
    dets = decode_confmaps(maps)
    np.testing.assert_array_equal(np.sort(ROD2021.range.to_index(dets.range_m)), np.sort(rows.ravel()))
    write_annotations(tmp_path / "gt" / "SEQ.txt", gt)
    write_detections(tmp_path / "dets" / "SEQ.txt", dets)
    result = score_rod2021_dirs(tmp_path / "gt", tmp_path / "dets")
    assert result.ap == 1.0 and result.ar == 1.0
