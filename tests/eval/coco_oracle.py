"""ROD2021 scoring through pycocotools (test oracle and benchmark baseline).

OLS is COCO's object keypoint similarity with a single keypoint: COCO computes
``exp(-d^2 / ((2 sigma)^2 * area * 2))``, so the object's bird's-eye-view position as the keypoint,
``area = r_gt^2`` and ``sigma = sqrt(kappa) / 2`` give ``exp(-d^2 / (2 r_gt^2 kappa))``. ``COCOeval`` then
does the same greedy matching and accumulation as cruw-devkit (one class at a time: the keypoint sigma is
global).
Differences: a class with detections but no ground truth stays at -1 here (0 in the devkit), and COCOeval's
per-detection Python loops make it far too slow for the scorer itself.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from record.eval.ols import class_kappas
from record.eval.rod2021 import OLS_THRESHOLDS, RECALL_THRESHOLDS, in_gate


def _keypoints(table):
    kept = in_gate(table.range_m, table.azimuth_rad)
    x = table.range_m[kept] * np.sin(table.azimuth_rad[kept])
    y = table.range_m[kept] * np.cos(table.azimuth_rad[kept])
    return kept, x, y


def score_coco(ground_truth, detections):
    """``(precision [T, R, K], recall [T, K])`` of ``{sequence: ObjectTable}`` pairs, computed by COCOeval."""
    names = sorted(ground_truth)
    classes = ground_truth[names[0]].classes
    images, annotations, results = [], [], []
    for name in names:
        gt, det = ground_truth[name], detections[name]
        image_of = {}
        for frame in sorted(set(gt.frame.tolist()) | set(det.frame.tolist())):
            images.append({"id": len(images) + 1})
            image_of[frame] = len(images)
        kept, xs, ys = _keypoints(gt)
        for frame, cls, x, y in zip(gt.frame[kept].tolist(), gt.class_id[kept].tolist(), xs, ys):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_of[frame], "category_id": cls + 1, "iscrowd": 0,
                "keypoints": [x, y, 2], "num_keypoints": 1, "area": x * x + y * y, "bbox": [x, y, 0, 0],
            })
        kept, xs, ys = _keypoints(det)
        columns = (det.frame[kept].tolist(), det.class_id[kept].tolist(), xs, ys, det.score[kept].tolist())
        for frame, cls, x, y, s in zip(*columns):
            results.append({"image_id": image_of[frame], "category_id": cls + 1, "keypoints": [x, y, 1],
                            "score": s})
    precision = -np.ones((len(OLS_THRESHOLDS), len(RECALL_THRESHOLDS), len(classes)))
    recall = -np.ones((len(OLS_THRESHOLDS), len(classes)))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": images, "annotations": annotations,
                           "categories": [{"id": k + 1, "name": name} for k, name in enumerate(classes)]}
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results) if results else COCO()
        for k, kappa in enumerate(class_kappas(classes)):
            evaluator = COCOeval(coco_gt, coco_dt, "keypoints")
            params = evaluator.params
            params.catIds, params.kpt_oks_sigmas = [k + 1], np.array([math.sqrt(kappa) / 2])
            params.iouThrs, params.recThrs = OLS_THRESHOLDS.copy(), RECALL_THRESHOLDS.copy()
            params.maxDets, params.areaRng, params.areaRngLbl = [10**9], [[0, 1e12]], ["all"]
            evaluator.evaluate()
            evaluator.accumulate()
            precision[:, :, k] = evaluator.eval["precision"][:, :, 0, 0, 0]
            recall[:, k] = evaluator.eval["recall"][:, 0, 0, 0]
    return precision, recall
