"""``record score``: score saved predictions.

* ``record score rod2021 --gt GT_DIR --dets DET_DIR [--json]``: ``<SEQ>.txt`` annotation files against
  ``<SEQ>.txt`` submission files (cruw-devkit AP / AR, per class and per sequence).
* ``record score rod2021 --bag BAG [--bag BAG2 ...] [--detections-topic T] [--truth-topic T] [--json]``: the
  ``vision_msgs/Detection3DArray`` detections of replayed (``record replay``) or recorded bags against their
  ground-truth topic, frames matched by header stamp, one sequence per bag
  (:func:`record.ros.recordings.score_bags`).
* ``record score carrada --pred PRED_DIR --root CARRADA_ROOT [--split test] [--json]``: saved label maps
  against the dataset's dense masks (per-view mIoU, mDice and per-class figures).

Tables show percentages; ``--json`` prints one JSON object with fractions in [0, 1] (null where undefined).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from record.classes import CARRADA_CLASSES

if TYPE_CHECKING:
    from record.eval.carrada import SegmentationMetrics
    from record.eval.rod2021 import Accumulation, Rod2021Score, Summary

__all__ = ["score_main"]

_TABLE_THRESHOLDS = (0.5, 0.7, 0.9)


def _percent(value: float | None) -> str:
    return "   -  " if value is None or not math.isfinite(value) else f"{100 * value:6.2f}"


def _rod2021_row(label: str, summary: Summary | None, counts: Accumulation, k: int | None = None) -> str:
    """One table line: AP, AR, AP at OLS 0.5 / 0.7 / 0.9, GT and detection counts (class ``k`` or all)."""
    pick = slice(None) if k is None else k
    n_gt, n_det = int(counts.object_counts[pick].sum()), int(counts.detection_counts[pick].sum())
    if summary is None:
        return f"{label:<28}{'(no ground truth)':>38}{n_gt:>7d}{n_det:>7d}"
    at = dict(zip(summary.ols_thresholds.tolist(), summary.ap_per_threshold.tolist()))
    cells = "".join(f"  {_percent(at.get(t))}" for t in _TABLE_THRESHOLDS)
    return f"{label:<28} {_percent(summary.ap)} {_percent(summary.ar)}{cells}{n_gt:>7d}{n_det:>7d}"


def _rod2021_table(result: Rod2021Score) -> str:
    """Rows: overall, each class, each sequence."""
    header = f"{'':<28}{'AP':>7}{'AR':>7}" + "".join(f"{f'AP@{t:g}':>8}" for t in _TABLE_THRESHOLDS)
    lines = [
        "ROD2021 score (percent; gate 1-25 m, +-60 deg; OLS thresholds 0.50:0.05:0.90)",
        header + f"{'n_gt':>7}{'n_det':>7}",
        _rod2021_row("overall", result.overall, result.accumulation),
    ]
    for k, name in enumerate(result.accumulation.classes):
        lines.append(_rod2021_row(f"  {name}", result.per_class[name], result.accumulation, k))
    if result.per_sequence:
        lines.append("per sequence:")
    for name, sequence in result.per_sequence.items():
        lines.append(_rod2021_row(f"  {name}", sequence.overall, sequence.accumulation))
    return "\n".join(lines)


def _carrada_table(metrics: dict[str, SegmentationMetrics]) -> str:
    lines = ["CARRADA segmentation score (percent; confusion matrices over the whole split)"]
    for view, m in metrics.items():
        lines.append(f"\n{view.upper()}: mIoU {_percent(m.miou)}  mDice {_percent(m.mdice)}  "
                     f"precision {_percent(m.mean_precision)}  recall {_percent(m.mean_recall)}")
        lines.append(f"  {'class':<12}{'IoU':>8}{'Dice':>8}{'prec':>8}{'recall':>8}")
        for k, name in enumerate(CARRADA_CLASSES):
            cells = (m.iou[k], m.dice[k], m.precision[k], m.recall[k])
            lines.append(f"  {name:<12}" + "".join(f"  {_percent(value)}" for value in cells))
    return "\n".join(lines)


def _score_rod2021(args: argparse.Namespace) -> int:
    if args.bag:
        return _score_rod2021_bags(args)
    if args.gt is None or args.dets is None:
        args.parser.error("give --gt GT_DIR and --dets DET_DIR, or --bag BAG")
    from record.eval.rod2021 import score_rod2021_dirs

    result = score_rod2021_dirs(args.gt, args.dets)
    print(json.dumps(result.to_dict()) if args.json else _rod2021_table(result))
    return 0


def _score_rod2021_bags(args: argparse.Namespace) -> int:
    if args.gt is not None or args.dets is not None:
        args.parser.error("--bag scores bags: leave out --gt / --dets")
    from record.ros.recordings import score_bags

    result, tables = score_bags(args.bag, args.detections_topic, args.truth_topic)
    frames = {name: {"frames": len(t.stamps_ns), "frames_with_detections": t.frames_with_detections}
              for name, t in tables.items()}
    if args.json:
        print(json.dumps({**result.to_dict(), "bags": frames}))
        return 0
    print(_rod2021_table(result))
    for name, counts in frames.items():
        print(f"{name}: {counts['frames']} ground-truth frames, {counts['frames_with_detections']} with a "
              f"detections message on {args.detections_topic}")
    return 0


def _score_carrada(args: argparse.Namespace) -> int:
    from record.data.carrada import CarradaLayout
    from record.eval.carrada import score_carrada_predictions

    metrics = score_carrada_predictions(args.pred, CarradaLayout(args.root), args.split)
    if args.json:
        print(json.dumps({"split": args.split, **{view: m.to_dict() for view, m in metrics.items()}}))
    else:
        print(_carrada_table(metrics))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="record score", description="Score saved predictions.")
    datasets = parser.add_subparsers(dest="dataset", required=True, metavar="{rod2021,carrada}")

    rod = datasets.add_parser("rod2021", help="ROD2021 detections (cruw-devkit AP / AR)")
    rod.add_argument("--gt", metavar="GT_DIR", help="folder of <SEQ>.txt annotation files")
    rod.add_argument("--dets", metavar="DET_DIR", help="folder of <SEQ>.txt submission files")
    rod.add_argument("--bag", action="append", metavar="BAG",
                     help="score a rosbag2 bag's detections against its ground truth instead (repeatable: one "
                          "sequence per bag)")
    rod.add_argument("--detections-topic", default="/record_detector/detections",
                     help="--bag: vision_msgs/Detection3DArray detections (default /record_detector/detections)")
    rod.add_argument("--truth-topic", default="/radar/ground_truth",
                     help="--bag: vision_msgs/Detection3DArray ground truth (default /radar/ground_truth)")
    rod.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    rod.set_defaults(run=_score_rod2021, parser=rod)

    carrada = datasets.add_parser("carrada", help="CARRADA segmentation label maps (mIoU / mDice)")
    carrada.add_argument("--pred", required=True, metavar="PRED_DIR", help="<seq>/<frame>/<view>.npy maps")
    carrada.add_argument("--root", required=True, metavar="CARRADA_ROOT", help="the Carrada/ dataset folder")
    carrada.add_argument("--split", default="test", choices=["train", "validation", "test"], type=str.lower,
                         help="split to score (default: test)")
    carrada.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    carrada.set_defaults(run=_score_carrada)
    return parser


def score_main(argv: Sequence[str]) -> int:
    """Entry point of ``record score``; returns the exit status (bad input raises :class:`RecordError`)."""
    args = _parser().parse_args(list(argv))
    return args.run(args)
