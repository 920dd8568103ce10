"""CARRADA segmentation metrics (MVRSS ``Evaluator``): one confusion matrix per view over the whole test set.

With ``C`` the confusion matrix (rows = ground truth, columns = prediction) and ``TP = diag(C)``:

* IoU_k = TP_k / (row_k + col_k - TP_k), precision_k = TP_k / col_k, recall_k = TP_k / row_k; a 0/0 ratio
  counts as 0 and still enters the means;
* Dice_k = 2 P_k R_k / (P_k + R_k + 1e-8) (MVRSS's form, within 5e-9 of 2TP / (2TP + FP + FN));
* mIoU, mDice, precision and recall are plain means over all classes, background included.

:func:`score_carrada_predictions` scores saved label maps against a dataset's dense masks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from record.classes import CARRADA_CLASSES
from record.data.carrada import CarradaLayout
from record.data.files import ArraySpec, load_npy
from record.errors import DataFormatError, InputError, describe
from record.sensors import CARRADA

__all__ = [
    "LABEL_MAP_DTYPES",
    "PREDICTION_FILES",
    "ConfusionAccumulator",
    "SegmentationMetrics",
    "confusion_matrix",
    "score_carrada_predictions",
]

#: Integer dtypes accepted for saved label maps.
LABEL_MAP_DTYPES: tuple[str, ...] = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64")
#: View -> file name of a saved prediction (``<seq>/<frame>/<name>``), as the dataset names its dense masks.
PREDICTION_FILES: dict[str, str] = {"rd": "range_doppler.npy", "ra": "range_angle.npy"}


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, n_classes: int = len(CARRADA_CLASSES)
) -> np.ndarray:
    """Confusion matrix ``int64[n_classes, n_classes]`` (rows = ground truth) of two integer label maps.

    Both arrays must have the same shape and hold class ids in ``[0, n_classes)``.
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise InputError(
            f"confusion_matrix: labels {labels.shape} and predictions {predictions.shape} differ in shape"
        )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.dtype.kind not in "iub":
            raise InputError(f"confusion_matrix: {name} must hold integer class ids (found {values.dtype})")
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise InputError(
                f"confusion_matrix: {name} hold class ids outside [0, {n_classes}) "
                f"(found range [{values.min()}, {values.max()}])"
            )
    pairs = labels.astype(np.int64).ravel() * n_classes + predictions.astype(np.int64).ravel()
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio with 0/0 -> 0 (MVRSS's ``nan_to_num``)."""
    out = np.zeros(np.shape(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


@dataclass(frozen=True)
class SegmentationMetrics:
    """Per-class metrics ``float64[C]`` of one view and the confusion matrix they come from.

    Attributes:
        confusion_matrix: ``int64[C, C]``, rows = ground truth, columns = prediction.
        iou, dice, precision, recall: per class.
        accuracy: MVRSS's per-class "accuracy", sum(TP) / (row_k + col_k + sum(TP) - 2 TP_k) (parity only).
    """

    confusion_matrix: np.ndarray
    iou: np.ndarray
    dice: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    accuracy: np.ndarray

    @classmethod
    def from_confusion(cls, confusion: np.ndarray) -> SegmentationMetrics:
        matrix = np.asarray(confusion, dtype=np.int64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise InputError(f"confusion matrix must be square (found shape {matrix.shape})")
        tp = np.diag(matrix).astype(np.float64)
        rows, cols = matrix.sum(axis=1).astype(np.float64), matrix.sum(axis=0).astype(np.float64)
        precision, recall = _ratio(tp, cols), _ratio(tp, rows)
        return cls(
            confusion_matrix=matrix,
            iou=_ratio(tp, rows + cols - tp),
            dice=2 * precision * recall / (precision + recall + 1e-8),
            precision=precision,
            recall=recall,
            accuracy=_ratio(np.full_like(tp, tp.sum()), rows + cols + tp.sum() - 2 * tp),
        )

    @property
    def miou(self) -> float:
        return float(np.mean(self.iou))

    @property
    def mdice(self) -> float:
        return float(np.mean(self.dice))

    @property
    def mean_precision(self) -> float:
        return float(np.mean(self.precision))

    @property
    def mean_recall(self) -> float:
        return float(np.mean(self.recall))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with MVRSS's names: ``mIoU``, ``IoU_by_class``, ``mDice``, ``Dice_by_class``, ..."""
        return {
            "confusion_matrix": self.confusion_matrix.tolist(),
            "mIoU": self.miou,
            "IoU_by_class": self.iou.tolist(),
            "mDice": self.mdice,
            "Dice_by_class": self.dice.tolist(),
            "precision": self.mean_precision,
            "precision_by_class": self.precision.tolist(),
            "recall": self.mean_recall,
            "recall_by_class": self.recall.tolist(),
            "acc": float(np.mean(self.accuracy)),
            "acc_by_class": self.accuracy.tolist(),
        }


class ConfusionAccumulator:
    """Sums confusion matrices over batches of label maps (one accumulator per view)."""

    def __init__(self, n_classes: int = len(CARRADA_CLASSES)) -> None:
        self.n_classes = n_classes
        self.matrix = np.zeros((n_classes, n_classes), dtype=np.int64)

    def add(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        """Add label maps of any (equal) shape, e.g. ``[B, H, W]`` integer class ids."""
        self.matrix += confusion_matrix(labels, predictions, self.n_classes)

    def metrics(self) -> SegmentationMetrics:
        return SegmentationMetrics.from_confusion(self.matrix)


def _load_prediction(path: Path, view: str) -> np.ndarray:
    shape = CARRADA.view(view).shape
    labels = load_npy(path, ArraySpec(shape, LABEL_MAP_DTYPES, f"CARRADA {view.upper()} label map"))
    if labels.size and (labels.min() < 0 or labels.max() >= len(CARRADA_CLASSES)):
        bad = np.unique(labels[(labels < 0) | (labels >= len(CARRADA_CLASSES))])[:5].tolist()
        raise DataFormatError(describe(path, "label values outside the CARRADA class ids", found=bad,
                                       expected=f"integers 0..{len(CARRADA_CLASSES) - 1}"))
    return labels


def score_carrada_predictions(
    pred_dir: str | os.PathLike[str],
    layout: CarradaLayout,
    split: str = "test",
    views: tuple[str, ...] = ("rd", "ra"),
) -> dict[str, SegmentationMetrics]:
    """Score saved label maps against a CARRADA split's dense masks, one confusion matrix per view.

    Args:
        pred_dir: folder mirroring the dataset, ``<seq>/<frame:06d>/range_doppler.npy`` and
            ``range_angle.npy``: integer class-id maps of the view's shape (RD 256 x 64, RA 256 x 256) in the
            dataset's orientation.
        layout: the dataset (its ``sequences``, ``frames`` and ``mask``).
        split: ``train``, ``validation`` or ``test``.
        views: views to score.

    Every frame the layout lists for the split must have a prediction for each view.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise DataFormatError(describe(pred_dir, "prediction folder not found"))
    sequences = layout.sequences(split)
    if not sequences:
        raise DataFormatError(describe(layout.root, f"no sequence in split {split!r}"))
    accumulators = {view: ConfusionAccumulator() for view in views}
    for sequence in sequences:
        for frame in layout.frames(sequence):
            for view, accumulator in accumulators.items():
                ground_truth = np.argmax(layout.mask(sequence, frame, view), axis=0)
                prediction = _load_prediction(pred_dir / sequence / frame / PREDICTION_FILES[view], view)
                accumulator.add(ground_truth, prediction)
    return {view: accumulator.metrics() for view, accumulator in accumulators.items()}
