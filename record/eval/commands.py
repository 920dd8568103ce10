"""``record score``: score saved predictions.

* ``record score rod2021 --gt GT_DIR --dets DET_DIR [--json]``: ``<SEQ>.txt`` annotation files against
  ``<SEQ>.txt`` submission files (cruw-devkit AP / AR, per class and per sequence).
* ``record score carrada --pred PRED_DIR --root CARRADA_ROOT [--split test] [--json]``: saved label maps against
  the dataset's dense masks (per-view mIoU, mDice and per-class figures).

Tables show percentages; ``--json`` prints one JSON object with fractions in [0, 1] (null where undefined).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

from record.classes import CARRADA_CLASSES

__all__ = ["score_main"]


def _percent(value: float | None) -> str:
    return "   -  " if value is None or not math.isfinite(value) else f"{100 * value:6.2f}"


def _rod2021_table(result) -> str:
    """Rows: overall, each class, each sequence; columns AP, AR, AP/AR at OLS 0.5 / 0.7 / 0.9 and counts."""
    thresholds = [0.5, 0.7, 0.9]
    header = f"{'':<28}{'AP':>7}{'AR':>7}" + "".join(f"{f'AP@{t:g}':>8}" for t in thresholds) + f"{'n_gt':>7}{'n_det':>7}"
    lines = ["ROD2021 score (percent; gate 1-25 m, +-60 deg; OLS thresholds 0.50:0.05:0.90)", header]

    def row(label, summary, n_gt, n_det):
        if summary is None:
            return f"{label:<28}{'(no ground truth)':>38}{n_gt:>7d}{n_det:>7d}"
        at = dict(zip(summary.ols_thresholds.tolist(), summary.ap_per_threshold.tolist()))
        cells = "".join(f"  {_percent(at.get(t))}" for t in thresholds)
        return f"{label:<28} {_percent(summary.ap)} {_percent(summary.ar)}{cells}{n_gt:>7d}{n_det:>7d}"

    counts = result.accumulation
    lines.append(row("overall", result.overall, int(counts.object_counts.sum()), int(counts.detection_counts.sum())))
    for k, name in enumerate(counts.classes):
        lines.append(row(f"  {name}", result.per_class[name], int(counts.object_counts[k]), int(counts.detection_counts[k])))
    if result.per_sequence:
        lines.append("per sequence:")
    for name, sequence in result.per_sequence.items():
        acc = sequence.accumulation
        lines.append(row(f"  {name}", sequence.overall, int(acc.object_counts.sum()), int(acc.detection_counts.sum())))
    return "\n".join(lines)


def _carrada_table(metrics) -> str:
    lines = ["CARRADA segmentation score (percent; confusion matrices over the whole split)"]
    for view, m in metrics.items():
        lines.append(f"\n{view.upper()}: mIoU {_percent(m.miou)}  mDice {_percent(m.mdice)}  "
                     f"precision {_percent(m.mean_precision)}  recall {_percent(m.mean_recall)}")
        lines.append(f"  {'class':<12}{'IoU':>8}{'Dice':>8}{'prec':>8}{'recall':>8}")
        for k, name in enumerate(CARRADA_CLASSES):
            lines.append(f"  {name:<12}  {_percent(m.iou[k])}  {_percent(m.dice[k])}  {_percent(m.precision[k])}"
                         f"  {_percent(m.recall[k])}")
    return "\n".join(lines)


def _score_rod2021(args: argparse.Namespace) -> int:
    from record.eval.rod2021 import score_rod2021_dirs

    result = score_rod2021_dirs(args.gt, args.dets)
    print(json.dumps(result.to_dict()) if args.json else _rod2021_table(result))
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
    rod.add_argument("--gt", required=True, help="folder of <SEQ>.txt annotation files (frame range_m azimuth_rad class)")
    rod.add_argument("--dets", required=True, help="folder of <SEQ>.txt submission files (... class score)")
    rod.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    rod.set_defaults(run=_score_rod2021)

    carrada = datasets.add_parser("carrada", help="CARRADA segmentation label maps (mIoU / mDice)")
    carrada.add_argument("--pred", required=True, help="folder of <seq>/<frame>/{range_doppler,range_angle}.npy label maps")
    carrada.add_argument("--root", required=True, help="the Carrada/ dataset folder (holding data_seq_ref.json)")
    carrada.add_argument("--split", default="test", choices=["train", "validation", "test"], type=str.lower)
    carrada.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    carrada.set_defaults(run=_score_carrada)
    return parser


def score_main(argv: Sequence[str]) -> int:
    """Entry point of ``record score``; returns the exit status (errors raise :class:`RecordError`)."""
    args = _parser().parse_args(list(argv))
    return args.run(args)
