"""ROD2021 scoring speed on a validation-sized case, end to end (reading the text files + scoring).

Builds 4 sequences with 4,395 frames in total (about 3 objects and 20 detections per frame: noisy true
detections, misses, class confusions, lower-scored duplicates and low-scored false positives filling each
frame to 20), writes them as real ``<SEQ>.txt`` files in a temporary folder and times
:func:`record.eval.rod2021.score_rod2021_dirs` (median of several runs after one warm-up). Baselines measured
in the same run on the same files: the plain devkit-style loop implementation and the pycocotools adapter kept
as test oracles in ``tests/eval/``; the results of all three must agree.

Usage: ``python benchmarks/scoring.py [--json] [--runs N] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from record.classes import ROD2021_CLASSES
from record.data.rod2021_files import read_annotations, read_detections, write_detections
from record.detections import ObjectTable
from record.eval.rod2021 import score_rod2021, score_rod2021_dirs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "eval"))
from coco_oracle import score_coco
from devkit_loop import score_loop

FRAMES_PER_SEQUENCE = (1099, 1099, 1099, 1098)  # 4,395 frames, the size of RECORD's ROD2021 validation split
OBJECTS_PER_FRAME = 3
DETECTIONS_PER_FRAME = 20


def _tracks(rng: np.random.Generator, n_frames: int) -> ObjectTable:
    """Ground truth: tracks of random length moving at class-typical speeds, about 3 alive per frame."""
    speed = {0: (0.5, 1.8), 1: (2.0, 6.0), 2: (3.0, 12.0)}  # m/s per class id
    rows = []
    n_objects = 0
    while n_objects < OBJECTS_PER_FRAME * n_frames:
        cls = int(rng.integers(3))
        start = int(rng.integers(0, n_frames))
        frames = np.arange(start, min(start + int(rng.integers(60, 400)), n_frames))
        x0, y0 = rng.uniform(-20, 20), rng.uniform(1.5, 26)
        heading = rng.uniform(0, 2 * np.pi)
        step = rng.uniform(*speed[cls]) / 30.0 * np.arange(len(frames))
        x, y = x0 + step * np.cos(heading), y0 + step * np.sin(heading)
        rng_m, azimuth = np.hypot(x, y), np.arctan2(x, y)
        visible = (rng_m > 0.7) & (rng_m < 27.5) & (np.abs(azimuth) < np.radians(85))
        rows.append((frames[visible], np.full(int(visible.sum()), cls), rng_m[visible], azimuth[visible]))
        n_objects += int(visible.sum())
    frame, cls, rng_m, azimuth = (np.concatenate(parts) for parts in zip(*rows))
    order = np.argsort(frame, kind="stable")
    return ObjectTable(frame[order], cls[order].astype(np.int64), rng_m[order], azimuth[order],
                       np.ones(len(order)), ROD2021_CLASSES)


def _detections(rng: np.random.Generator, gt: ObjectTable, n_frames: int) -> ObjectTable:
    """Noisy detections of ``gt``, duplicates and false positives: 20 per frame, shuffled within frames."""
    n = len(gt)
    seen = rng.random(n) < 0.98 - 0.008 * gt.range_m
    noise = np.array([1.0, 1.3, 2.0])[gt.class_id]
    r = gt.range_m + rng.normal(0, 1, n) * noise * (0.05 + 0.02 * gt.range_m)
    a = gt.azimuth_rad + rng.normal(0, 1, n) * noise * (0.01 + 0.0012 * gt.range_m)
    cls = np.where(rng.random(n) < 0.04, rng.integers(0, 3, n), gt.class_id)
    score = np.clip(rng.beta(6, 2, n), 1e-4, 1)
    dup = seen & (rng.random(n) < 0.06)
    parts = [
        (gt.frame[seen], cls[seen], r[seen], a[seen], score[seen]),
        (gt.frame[dup], cls[dup], r[dup] + rng.normal(0, 0.3, dup.sum()), a[dup],
         score[dup] * rng.uniform(0.3, 0.9, dup.sum())),
    ]
    real_per_frame = np.bincount(np.concatenate([p[0] for p in parts]), minlength=n_frames)
    n_fp = np.maximum(DETECTIONS_PER_FRAME - real_per_frame, 0)
    fp_frame = np.repeat(np.arange(n_frames), n_fp)
    m = len(fp_frame)
    parts.append((fp_frame, rng.integers(0, 3, m), rng.uniform(0.64, 27.7, m), rng.uniform(-1.5, 1.5, m),
                  np.clip(rng.beta(1.5, 8, m), 1e-4, 1)))
    frame, cls, r, a, score = (np.concatenate(p) for p in zip(*parts))
    order = np.lexsort((rng.random(len(frame)), frame))
    return ObjectTable(frame[order], cls[order].astype(np.int64), np.abs(r[order]), a[order],
                       np.clip(np.round(score[order], 4), 1e-4, 1.0), ROD2021_CLASSES)


def build_case(root: Path, seed: int) -> tuple[Path, Path]:
    """Write ``root/gt/<SEQ>.txt`` and ``root/dets/<SEQ>.txt``; return the two folders."""
    rng = np.random.default_rng(seed)
    gt_dir, det_dir = root / "gt", root / "dets"
    gt_dir.mkdir()
    for i, n_frames in enumerate(FRAMES_PER_SEQUENCE):
        name = f"2019_05_{i + 9:02d}_BENCH{i:03d}"
        gt = _tracks(rng, n_frames)
        columns = (gt.frame.tolist(), gt.class_id.tolist(), gt.range_m.tolist(), gt.azimuth_rad.tolist())
        lines = [f"{f} {r:.4f} {a:.4f} {ROD2021_CLASSES[c]}\n" for f, c, r, a in zip(*columns)]
        (gt_dir / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
        write_detections(det_dir / f"{name}.txt", _detections(rng, gt, n_frames))
    return gt_dir, det_dir


def _timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the scorer (median reported)")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="record-bench-scoring-") as tmp:
        gt_dir, det_dir = build_case(Path(tmp), args.seed)
        first_s, result = _timed(score_rod2021_dirs, gt_dir, det_dir)  # includes loading the Numba cache
        runs = [_timed(score_rod2021_dirs, gt_dir, det_dir)[0] for _ in range(args.runs)]

        def read_all():
            return ({p.stem: read_annotations(p) for p in sorted(gt_dir.glob("*.txt"))},
                    {p.stem: read_detections(p) for p in sorted(det_dir.glob("*.txt"))})

        read_s, (gt, dets) = _timed(read_all)
        score_only_s = statistics.median(_timed(score_rod2021, gt, dets)[0] for _ in range(args.runs))
        loop_s, loop = _timed(score_loop, gt, dets)
        coco_s, (coco_precision, _) = _timed(score_coco, gt, dets)

    counts = result.accumulation
    median = statistics.median(runs)
    report = {
        "rod2021_score_s": round(median, 4),
        "rod2021_score_runs_s": [round(t, 4) for t in runs],
        "rod2021_first_call_s": round(first_s, 4),
        "read_files_s": round(read_s, 4),
        "score_only_s": round(score_only_s, 4),
        "devkit_loop_score_s": round(read_s + loop_s, 4),
        "pycocotools_score_s": round(read_s + coco_s, 4),
        "speedup_vs_devkit_loop": round((read_s + loop_s) / median, 1),
        "speedup_vs_pycocotools": round((read_s + coco_s) / median, 1),
        "frames": sum(FRAMES_PER_SEQUENCE),
        "sequences": len(FRAMES_PER_SEQUENCE),
        "gt_objects": int(sum(len(t) for t in gt.values())),
        "detections": int(sum(len(t) for t in dets.values())),
        "gt_after_gate": int(counts.object_counts.sum()),
        "dets_after_gate": int(counts.detection_counts.sum()),
        "AP": result.ap,
        "AR": result.ar,
        "agrees_with_devkit_loop": bool(
            abs(result.ap - loop["AP"]) < 1e-9 and abs(result.ar - loop["AR"]) < 1e-9
            and np.array_equal(counts.precision, loop["precision"])
        ),
        "agrees_with_pycocotools": bool(np.allclose(counts.precision, coco_precision, rtol=0, atol=1e-12)),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>26}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
