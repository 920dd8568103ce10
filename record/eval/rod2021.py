"""ROD2021 scoring, numerically identical to cruw-devkit's ``evaluate_rod2021`` (COCO-style AP / AR with OLS).

Protocol (cruw-devkit ``cruw/eval/rod/{load_txt,rod_eval_utils,eval_rod2021}.py``):

* **Gate**: ground truth and detections are kept, independently, when 1 <= range <= 25 m and
  |azimuth| <= 60 deg (boundaries kept).
* **Matching**, per (sequence, frame, class) and OLS threshold t in 0.50:0.05:0.90: detections in
  descending score order (ties keep file order) each take the unmatched ground truth with the highest
  OLS >= min(t, 1 - 1e-10) (the last one among equals, as the devkit's loop does).
* **Accumulation**, per class over all frames and sequences (concatenated in sequence, frame and
  within-frame order): stable sort by descending score, cumulative TP / FP, recall = TP / (n_gt + eps),
  precision = TP / (TP + FP + eps), monotone precision envelope sampled at 101 recall points with
  ``searchsorted(side='left')`` (0 beyond the final recall).
* **Summary**: per class, AP = mean of the 9 x 101 precision samples and AR = mean over thresholds of the
  final recall; overall values weight the classes by their gated ground-truth counts. Sequences are scored in
  sorted name order, as the devkit lists its folders.

Matching runs in a Numba kernel over all frames at once; accumulation is vectorised NumPy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from record.data.rod2021_files import read_annotations, read_detections
from record.detections import ObjectTable
from record.errors import DataFormatError, InputError
from record.eval.ols import class_kappas, object_location_similarity

__all__ = [
    "CONFUSION_OLS",
    "GATE_AZIMUTH_RAD",
    "GATE_RANGE_M",
    "OLS_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "Accumulation",
    "Rod2021Score",
    "Summary",
    "accumulate",
    "class_confusions",
    "in_gate",
    "match_detections",
    "named_confusions",
    "score_rod2021",
    "score_rod2021_dirs",
    "summarize",
]

#: OLS thresholds 0.50:0.05:0.90 (rounded to 2 decimals like the devkit).
OLS_THRESHOLDS: np.ndarray = np.around(np.linspace(0.5, 0.9, 9), 2)
#: Recall sampling points 0:0.01:1.
RECALL_THRESHOLDS: np.ndarray = np.around(np.linspace(0.0, 1.0, 101), 2)
#: Kept range interval, metres (inclusive).
GATE_RANGE_M: tuple[float, float] = (1.0, 25.0)
#: Kept azimuth half-width, radians (inclusive).
GATE_AZIMUTH_RAD: float = math.radians(60)

_EPS = np.spacing(1)  # the devkit's guard in recall and precision denominators


def in_gate(range_m: np.ndarray, azimuth_rad: np.ndarray) -> np.ndarray:
    """Bool mask of the objects inside the evaluation gate (1 <= r <= 25 m, |azimuth| <= 60 deg)."""
    range_m, azimuth_rad = np.asarray(range_m), np.asarray(azimuth_rad)
    low, high = GATE_RANGE_M
    in_range = (range_m >= low) & (range_m <= high)
    return in_range & (azimuth_rad >= -GATE_AZIMUTH_RAD) & (azimuth_rad <= GATE_AZIMUTH_RAD)


@numba.njit(cache=True)
def _match_kernel(  # pragma: no cover
    gt_lo, gt_hi, gt_range, gt_azimuth, det_lo, det_hi, det_range, det_azimuth, kappa, thresholds
):
    matched = np.zeros((thresholds.shape[0], det_range.shape[0]), dtype=np.bool_)
    for group in range(kappa.shape[0]):
        n_gt = gt_hi[group] - gt_lo[group]
        n_det = det_hi[group] - det_lo[group]
        if n_gt == 0 or n_det == 0:
            continue
        ols = np.empty((n_det, n_gt))
        for i in range(n_det):
            for j in range(n_gt):
                g, d = gt_lo[group] + j, det_lo[group] + i
                ols[i, j] = object_location_similarity(
                    gt_range[g], gt_azimuth[g], det_range[d], det_azimuth[d], kappa[group]
                )
        taken = np.empty(n_gt, dtype=np.bool_)
        for t in range(thresholds.shape[0]):
            taken[:] = False
            for i in range(n_det):
                best = min(thresholds[t], 1 - 1e-10)
                match = -1
                for j in range(n_gt):
                    if taken[j] or ols[i, j] < best:
                        continue
                    best = ols[i, j]
                    match = j
                if match >= 0:
                    taken[match] = True
                    matched[t, det_lo[group] + i] = True
    return matched


def match_detections(
    gt_group: np.ndarray,
    gt_range_m: np.ndarray,
    gt_azimuth_rad: np.ndarray,
    det_group: np.ndarray,
    det_range_m: np.ndarray,
    det_azimuth_rad: np.ndarray,
    det_kappa: np.ndarray,
    ols_thresholds: np.ndarray = OLS_THRESHOLDS,
) -> np.ndarray:
    """Greedy OLS matching of detections to ground truth within groups (one frame and class each).

    Both sides must be sorted by their integer group label; within a group, ground truth in file order and
    detections by descending score (ties in file order). ``det_kappa`` is each detection's class OLS kappa.

    Returns:
        ``bool[T, N_det]``: whether each detection is a true positive at each OLS threshold.
    """
    groups = np.unique(det_group)
    det_lo = np.searchsorted(det_group, groups, side="left")
    det_hi = np.searchsorted(det_group, groups, side="right")
    gt_lo = np.searchsorted(gt_group, groups, side="left")
    gt_hi = np.searchsorted(gt_group, groups, side="right")
    return _match_kernel(
        gt_lo, gt_hi, np.asarray(gt_range_m, np.float64), np.asarray(gt_azimuth_rad, np.float64),
        det_lo, det_hi, np.asarray(det_range_m, np.float64), np.asarray(det_azimuth_rad, np.float64),
        np.asarray(det_kappa, np.float64)[det_lo], np.asarray(ols_thresholds, np.float64),
    )


@dataclass(frozen=True)
class Accumulation:
    """Precision / recall over a set of frames (the devkit's ``accumulate()`` output).

    Attributes:
        precision: ``[T, R, K]`` envelope precision at each OLS threshold and recall point; -1 for a class
            with neither ground truth nor detections.
        recall: ``[T, K]`` recall after the last detection (-1 for an absent class).
        scores: ``[T, R, K]`` detection score at each sampled recall point (0 beyond the final recall).
        object_counts: ``[K]`` gated ground-truth objects.
        detection_counts: ``[K]`` gated detections.
        classes: class names.
        ols_thresholds: ``[T]``.
        recall_thresholds: ``[R]``.
    """

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    object_counts: np.ndarray
    detection_counts: np.ndarray
    classes: tuple[str, ...]
    ols_thresholds: np.ndarray = field(default_factory=lambda: OLS_THRESHOLDS)
    recall_thresholds: np.ndarray = field(default_factory=lambda: RECALL_THRESHOLDS)


def accumulate(
    matched: np.ndarray,
    score: np.ndarray,
    class_id: np.ndarray,
    object_counts: np.ndarray,
    classes: tuple[str, ...],
    ols_thresholds: np.ndarray = OLS_THRESHOLDS,
    recall_thresholds: np.ndarray = RECALL_THRESHOLDS,
) -> Accumulation:
    """Precision / recall arrays from matched detections.

    Args:
        matched: ``bool[T, N]`` true-positive flags per OLS threshold.
        score: ``float[N]`` detection scores, and ``class_id``: ``int[N]``, both in concatenation order
            (sequence, frame, descending score within a frame); the stable sort by score keeps that order
            among ties.
        object_counts: ``int[K]`` ground-truth objects per class.
        classes: class names (K).
    """
    n_thr, n_rec, n_cls = len(ols_thresholds), len(recall_thresholds), len(classes)
    precision = -np.ones((n_thr, n_rec, n_cls))
    recall = -np.ones((n_thr, n_cls))
    scores = -np.ones((n_thr, n_rec, n_cls))
    order = np.lexsort((-score, class_id))
    bounds = np.searchsorted(class_id[order], np.arange(n_cls + 1), side="left")
    for k in range(n_cls):
        idx = order[bounds[k] : bounds[k + 1]]
        n_det, n_gt = len(idx), int(object_counts[k])
        if n_det == 0 and n_gt == 0:
            continue
        if n_det == 0:
            precision[:, :, k] = recall[:, k] = scores[:, :, k] = 0.0
            continue
        hits = matched[:, idx]
        tp = np.cumsum(hits, axis=1).astype(np.float64)
        fp = np.cumsum(~hits, axis=1).astype(np.float64)
        rc = tp / (n_gt + _EPS)
        pr = tp / (fp + tp + _EPS)
        envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        recall[:, k] = rc[:, -1]
        for t in range(n_thr):
            at = np.searchsorted(rc[t], recall_thresholds, side="left")
            reached, at = at < n_det, np.minimum(at, n_det - 1)
            precision[t, :, k] = np.where(reached, envelope[t, at], 0.0)
            scores[t, :, k] = np.where(reached, score[idx[at]], 0.0)
    return Accumulation(
        precision, recall, scores, np.asarray(object_counts, np.float64),
        np.bincount(class_id, minlength=n_cls).astype(np.int64), tuple(classes),
        np.asarray(ols_thresholds), np.asarray(recall_thresholds),
    )


@dataclass(frozen=True)
class Summary:
    """AP and AR (fractions in [0, 1]; NaN without ground truth) overall and at each OLS threshold."""

    ap: float
    ar: float
    ap_per_threshold: np.ndarray
    ar_per_threshold: np.ndarray
    ols_thresholds: np.ndarray

    def to_dict(self) -> dict[str, float | None]:
        """``{"AP", "AP_0.5", ..., "AP_0.9", "AR", "AR_0.5", ...}`` with None for NaN."""
        result: dict[str, float | None] = {}
        for name, total, per_threshold in (
            ("AP", self.ap, self.ap_per_threshold), ("AR", self.ar, self.ar_per_threshold)
        ):
            result[name] = _json_float(total)
            for threshold, value in zip(self.ols_thresholds.tolist(), per_threshold.tolist()):
                result[f"{name}_{threshold:g}"] = _json_float(value)
        return result


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _weighted_mean(per_class: np.ndarray, weights: np.ndarray) -> float:
    """The devkit's class weighting: sum over present classes of ``w_c / sum(w) * mean(values_c)``."""
    total = float(np.sum(weights))
    if total == 0:
        return math.nan
    value = 0.0
    for k in range(per_class.shape[-1]):
        samples = np.ascontiguousarray(per_class[..., k]).ravel()
        if samples.size and samples[0] > -1:
            value += weights[k] / total * np.mean(samples)
    return float(value)


def summarize(accumulation: Accumulation, weights: np.ndarray | None = None) -> Summary:
    """AP / AR with classes weighted by ``weights`` (default: the ground-truth counts, as the devkit does)."""
    w = accumulation.object_counts if weights is None else np.asarray(weights, np.float64)
    precision, recall = accumulation.precision, accumulation.recall
    thresholds = accumulation.ols_thresholds
    return Summary(
        ap=_weighted_mean(precision, w),
        ar=_weighted_mean(recall, w),
        ap_per_threshold=np.array([_weighted_mean(precision[t], w) for t in range(len(thresholds))]),
        ar_per_threshold=np.array([_weighted_mean(recall[t], w) for t in range(len(thresholds))]),
        ols_thresholds=thresholds,
    )


@dataclass(frozen=True)
class Rod2021Score:
    """Scores of a set of sequences.

    Attributes:
        overall: AP / AR weighted by class ground-truth counts.
        per_class: each class alone; None for a class without gated ground truth.
        accumulation: the precision / recall arrays behind them.
        per_sequence: the same for each sequence scored alone (empty for a single sequence's own score).
    """

    overall: Summary
    per_class: dict[str, Summary | None]
    accumulation: Accumulation
    per_sequence: dict[str, Rod2021Score] = field(default_factory=dict)

    @property
    def ap(self) -> float:
        return self.overall.ap

    @property
    def ar(self) -> float:
        return self.overall.ar

    @classmethod
    def from_accumulation(
        cls, accumulation: Accumulation, per_sequence: dict[str, Rod2021Score] | None = None
    ) -> Rod2021Score:
        """Overall and per-class summaries of ``accumulation`` (a class alone = weight on that class only)."""
        counts = accumulation.object_counts
        one_class = np.eye(len(counts)) * counts
        per_class = {
            name: summarize(accumulation, one_class[k]) if counts[k] > 0 else None
            for k, name in enumerate(accumulation.classes)
        }
        return cls(summarize(accumulation), per_class, accumulation, dict(per_sequence or {}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``AP``, ``AR``, ``overall``, ``per_class``, ``counts`` and any ``per_sequence``."""
        result: dict[str, Any] = {
            "AP": _json_float(self.ap),
            "AR": _json_float(self.ar),
            "overall": self.overall.to_dict(),
            "per_class": {name: None if s is None else s.to_dict() for name, s in self.per_class.items()},
            "counts": {
                "gt_after_gate": self.accumulation.object_counts.astype(int).tolist(),
                "dets_after_gate": self.accumulation.detection_counts.tolist(),
            },
        }
        if self.per_sequence:
            result["per_sequence"] = {name: s.to_dict() for name, s in self.per_sequence.items()}
        return result


def _check_sequence_names(
    gt_names: Sequence[str], det_names: Sequence[str], gt_where: str, det_where: str
) -> None:
    missing = sorted(set(gt_names) - set(det_names))
    extra = sorted(set(det_names) - set(gt_names))
    problems = []
    if missing:
        problems.append(f"{det_where} lacks sequence(s) {', '.join(missing)} present in {gt_where}")
    if extra:
        problems.append(f"{det_where} has sequence(s) {', '.join(extra)} absent from {gt_where}")
    if problems:
        raise InputError("; ".join(problems) + " (expected the same sequences on both sides)")
    if not gt_names:
        raise InputError(f"{gt_where} holds no sequence")


def _stack_gated(tables: Sequence[ObjectTable]) -> tuple[np.ndarray, ObjectTable]:
    """Concatenate sequences (sequence index ``int64[N]``, objects) and drop the objects outside the gate."""
    sequence = np.concatenate([np.full(len(t), i, dtype=np.int64) for i, t in enumerate(tables)])
    fields = ("frame", "class_id", "range_m", "azimuth_rad", "score")
    table = ObjectTable(*(np.concatenate([getattr(t, f) for t in tables]) for f in fields), tables[0].classes)
    kept = in_gate(table.range_m, table.azimuth_rad)
    return sequence[kept], table.select(kept)


def score_rod2021(
    ground_truth: Mapping[str, ObjectTable], detections: Mapping[str, ObjectTable]
) -> Rod2021Score:
    """Score detections against ground truth, per sequence name (e.g. ``{"2019_04_09_BMS1000": table}``).

    Both mappings must hold the same sequences and use the same class tuple; detection scores must lie in
    (0, 1]. Returns the overall score with ``per_sequence`` filled in.
    """
    _check_sequence_names(list(ground_truth), list(detections), "the ground truth", "the detections")
    names = sorted(ground_truth)
    classes = ground_truth[names[0]].classes
    for name in names:
        for side, table in (("ground truth", ground_truth[name]), ("detections", detections[name])):
            if table.classes != classes:
                raise InputError(f"{side} of {name}: classes {table.classes} differ from {classes}")
            if np.any(table.frame < 0):
                raise InputError(f"{side} of {name}: negative frame index {table.frame.min()}")
        outside = detections[name].score[~((detections[name].score > 0) & (detections[name].score <= 1))]
        if outside.size:
            raise InputError(f"detections of {name}: score {outside[0]} outside (0, 1]")
    kappa = class_kappas(classes)
    n_cls = len(classes)

    gt_seq, gt = _stack_gated([ground_truth[n] for n in names])
    det_seq, det = _stack_gated([detections[n] for n in names])
    n_frames = int(max(gt.frame.max(initial=-1), det.frame.max(initial=-1))) + 1
    gt_key = (gt_seq * n_frames + gt.frame) * n_cls + gt.class_id
    det_key = (det_seq * n_frames + det.frame) * n_cls + det.class_id
    gt_order = np.argsort(gt_key, kind="stable")
    det_order = np.lexsort((-det.score, det_key))
    gt, gt_key = gt.select(gt_order), gt_key[gt_order]
    det, det_key, det_seq = det.select(det_order), det_key[det_order], det_seq[det_order]

    matched = match_detections(
        gt_key, gt.range_m, gt.azimuth_rad, det_key, det.range_m, det.azimuth_rad, kappa[det.class_id]
    )
    gt_counts = np.bincount(gt_seq * n_cls + gt.class_id, minlength=len(names) * n_cls).reshape(-1, n_cls)
    per_sequence = {}
    for s, name in enumerate(names):
        mine = det_seq == s
        per_sequence[name] = Rod2021Score.from_accumulation(
            accumulate(matched[:, mine], det.score[mine], det.class_id[mine], gt_counts[s], classes)
        )
    overall = accumulate(matched, det.score, det.class_id, gt_counts.sum(axis=0), classes)
    return Rod2021Score.from_accumulation(overall, per_sequence)


#: OLS from which a detection counts as landing on a ground-truth object in :func:`class_confusions`.
CONFUSION_OLS = 0.5


def class_confusions(
    ground_truth: Mapping[str, ObjectTable], detections: Mapping[str, ObjectTable],
    ols_threshold: float = CONFUSION_OLS,
) -> np.ndarray:
    """Detections that land on an object of another class: ``int64[K, K]`` counts, ``[detected, true]``.

    A gated detection counts once when no gated ground-truth object of its own class in its frame reaches
    OLS >= ``ols_threshold`` with it but one of another class does (the other-class object with the highest
    OLS; OLS as in scoring, with the ground-truth object as reference and its class's kappa). The diagonal is
    0. Same inputs as :func:`score_rod2021`.
    """
    _check_sequence_names(list(ground_truth), list(detections), "the ground truth", "the detections")
    names = sorted(ground_truth)
    classes = ground_truth[names[0]].classes
    kappa = class_kappas(classes)
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for name in names:
        _, gt = _stack_gated([ground_truth[name]])
        _, det = _stack_gated([detections[name]])
        for frame in np.intersect1d(gt.frame, det.frame):
            truth, found = gt.select(gt.frame == frame), det.select(det.frame == frame)
            ols = object_location_similarity(truth.range_m[None], truth.azimuth_rad[None],
                                             found.range_m[:, None], found.azimuth_rad[:, None],
                                             kappa[truth.class_id][None])
            same = found.class_id[:, None] == truth.class_id[None]
            own = ((ols >= ols_threshold) & same).any(axis=1)
            other = np.where(same, -1.0, ols)
            wrong = ~own & (other.max(axis=1) >= ols_threshold)
            np.add.at(counts, (found.class_id[wrong], truth.class_id[other.argmax(axis=1)[wrong]]), 1)
    return counts


def named_confusions(counts: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """:func:`class_confusions` counts ``[detected, true]`` as ``{detected class: {true class: count}}``,
    the diagonal left out."""
    return {detected: {true: int(counts[i, j]) for j, true in enumerate(classes) if j != i}
            for i, detected in enumerate(classes)}


def _sequence_files(directory: Path, role: str) -> dict[str, Path]:
    if not directory.is_dir():
        raise DataFormatError(f"{directory}: {role} folder not found (expected a folder of <SEQ>.txt files)")
    return {path.stem: path for path in sorted(directory.glob("*.txt"))}


def score_rod2021_dirs(gt_dir: str | os.PathLike[str], det_dir: str | os.PathLike[str]) -> Rod2021Score:
    """Score a folder of ``<SEQ>.txt`` submission files against a folder of ``<SEQ>.txt`` annotation files."""
    gt_files = _sequence_files(Path(gt_dir), "ground-truth")
    det_files = _sequence_files(Path(det_dir), "detections")
    _check_sequence_names(
        list(gt_files), list(det_files), f"ground-truth folder {gt_dir}", f"detections folder {det_dir}"
    )
    ground_truth = {name: read_annotations(path) for name, path in gt_files.items()}
    detections = {name: read_detections(det_files[name]) for name in gt_files}
    return score_rod2021(ground_truth, detections)
