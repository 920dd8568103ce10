"""A plain, object-by-object re-statement of cruw-devkit's ROD2021 evaluation (``evaluation.md`` §1.3-1.6).

Kept only as a test oracle and as the benchmark baseline: Python dictionaries per (frame, class), scalar
``math`` OLS, nested loops for matching and a Python loop for the precision envelope, the way the devkit
computes them.
It shares no code with :mod:`record.eval.rod2021`.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

OLS_THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(9)]
RECALL_THRESHOLDS = [round(0.01 * i, 2) for i in range(101)]
KAPPA = {"pedestrian": 0.005, "cyclist": 0.01, "car": 0.03}


def _gated(table):
    """{(frame, class): [object dict, ...]} in file order, objects outside 1-25 m / +-60 deg dropped."""
    groups = {}
    for i in range(len(table)):
        r, a = float(table.range_m[i]), float(table.azimuth_rad[i])
        if r > 25 or r < 1 or a > math.radians(60) or a < math.radians(-60):
            continue
        key = (int(table.frame[i]), int(table.class_id[i]))
        groups.setdefault(key, []).append({"range": r, "angle": a, "score": float(table.score[i])})
    return groups


def _ols(gt, det, kappa):
    x1, y1 = gt["range"] * math.sin(gt["angle"]), gt["range"] * math.cos(gt["angle"])
    x2, y2 = det["range"] * math.sin(det["angle"]), det["range"] * math.cos(det["angle"])
    dist = ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5
    scale = (x1**2 + y1**2) ** 0.5
    return math.exp(-(dist**2 / 2 / (scale**2 * kappa)))


def _evaluate_frame(gts, dts, kappa):
    """[(score, [matched at each threshold])] for the detections of one frame and class."""
    dts = [dts[i] for i in np.argsort([-d["score"] for d in dts], kind="mergesort")]
    results = [(d["score"], []) for d in dts]
    for t in OLS_THRESHOLDS:
        taken = [False] * len(gts)
        for d_index, det in enumerate(dts):
            best, match = min(t, 1 - 1e-10), -1
            for g_index, gt in enumerate(gts):
                if taken[g_index]:
                    continue
                ols = _ols(gt, det, kappa)
                if ols < best:
                    continue
                best, match = ols, g_index
            if match >= 0:
                taken[match] = True
            results[d_index][1].append(match >= 0)
    return results


def _accumulate_class(detections, n_gt):
    """Precision [T][R], recall [T], scores [T][R] of one class from its (score, matches) list."""
    order = np.argsort([-s for s, _ in detections], kind="mergesort")
    detections = [detections[i] for i in order]
    precision, recall, scores = [], [], []
    for t in range(len(OLS_THRESHOLDS)):
        tp = fp = 0
        rc, pr = [], []
        for _, matches in detections:
            tp, fp = (tp + 1, fp) if matches[t] else (tp, fp + 1)
            rc.append(tp / (n_gt + np.spacing(1)))
            pr.append(tp / (fp + tp + np.spacing(1)))
        for i in range(len(pr) - 1, 0, -1):
            pr[i - 1] = max(pr[i - 1], pr[i])
        recall.append(rc[-1] if rc else 0.0)
        q, ss = [0.0] * len(RECALL_THRESHOLDS), [0.0] * len(RECALL_THRESHOLDS)
        for r_index, point in enumerate(RECALL_THRESHOLDS):
            position = bisect.bisect_left(rc, point)
            if position == len(rc):
                break
            q[r_index], ss[r_index] = pr[position], detections[position][0]
        precision.append(q)
        scores.append(ss)
    return precision, recall, scores


def score_loop(ground_truth, detections):
    """Devkit-style score of ``{sequence: ObjectTable}`` pairs: accumulate() arrays and weighted AP / AR."""
    classes = next(iter(ground_truth.values())).classes
    n_classes = len(classes)
    per_class = [[] for _ in classes]
    n_gt = [0] * n_classes
    for name in sorted(ground_truth):
        gts, dts = _gated(ground_truth[name]), _gated(detections[name])
        frames = sorted({key[0] for key in gts} | {key[0] for key in dts})
        for frame in frames:
            for c in range(n_classes):
                frame_gts, frame_dts = gts.get((frame, c), []), dts.get((frame, c), [])
                n_gt[c] += len(frame_gts)
                per_class[c] += _evaluate_frame(frame_gts, frame_dts, KAPPA[classes[c]])
    precision = -np.ones((len(OLS_THRESHOLDS), len(RECALL_THRESHOLDS), n_classes))
    recall = -np.ones((len(OLS_THRESHOLDS), n_classes))
    scores = -np.ones_like(precision)
    for c in range(n_classes):
        if per_class[c] or n_gt[c]:
            p, r, s = _accumulate_class(per_class[c], n_gt[c])
            precision[:, :, c], recall[:, c], scores[:, :, c] = p, r, s
    total = sum(n_gt)
    ap = sum(n_gt[c] / total * precision[:, :, c].mean() for c in range(n_classes) if precision[0, 0, c] > -1)
    ar = sum(n_gt[c] / total * recall[:, c].mean() for c in range(n_classes) if recall[0, c] > -1)
    return {"precision": precision, "recall": recall, "scores": scores,
            "object_counts": np.array(n_gt, float), "AP": ap, "AR": ar}
