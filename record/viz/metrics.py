"""Metric pictures: ROD2021 precision-recall curves, CARRADA confusion matrices (matplotlib Agg, no pyplot).

Both functions draw on a fresh :class:`matplotlib.figure.Figure` and write the file atomically; the format
follows the file suffix (``.png``, ``.pdf``, ``.svg``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from record.errors import InputError
from record.eval.rod2021 import Accumulation
from record.fileio import atomic_path

__all__ = ["plot_confusion_matrix", "plot_precision_recall"]


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    return path


def plot_precision_recall(
    accumulation: Accumulation,
    path: str | os.PathLike[str],
    *,
    ols_thresholds: Sequence[float] = (0.5, 0.7, 0.9),
    title: str = "ROD2021 precision-recall",
) -> Path:
    """One panel per class: the envelope precision against the 101 recall points at each chosen OLS threshold.

    Args:
        accumulation: the arrays of :func:`record.eval.rod2021.accumulate` (``precision [T, R, K]``).
        path: output image file.
        ols_thresholds: curves to draw; each must be one of ``accumulation.ols_thresholds``.
        title: figure title.
    """
    available = accumulation.ols_thresholds.tolist()
    missing = [t for t in ols_thresholds if not np.isclose(available, t).any()]
    if missing:
        raise InputError(
            f"plot_precision_recall: OLS thresholds {missing} not in the accumulation "
            f"(expected any of {available})"
        )
    rows = [int(np.argmin(np.abs(np.asarray(available) - t))) for t in ols_thresholds]
    n_classes = len(accumulation.classes)
    figure = Figure(figsize=(4.0 * n_classes, 3.8), layout="constrained")
    axes = figure.subplots(1, n_classes, squeeze=False)[0]
    for k, (ax, name) in enumerate(zip(axes, accumulation.classes)):
        n_gt = int(accumulation.object_counts[k])
        ax.set_title(f"{name} ({n_gt} GT, {int(accumulation.detection_counts[k])} det)")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.set_ylabel("precision")
        if n_gt == 0:
            ax.text(0.5, 0.5, "no ground truth", ha="center", va="center", transform=ax.transAxes)
            continue
        for row, threshold in zip(rows, ols_thresholds):
            curve = accumulation.precision[row, :, k]
            label = f"OLS {threshold:g}: AP {100 * curve.mean():.1f}"
            ax.plot(accumulation.recall_thresholds, curve, label=label)
        ax.legend(loc="lower left", fontsize="small")
    figure.suptitle(title)
    return _save(figure, path)


def plot_confusion_matrix(
    confusion: np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str = "confusion matrix",
) -> Path:
    """Confusion matrix (rows = ground truth, columns = prediction) coloured by row share, with the counts."""
    matrix = np.asarray(confusion)
    if matrix.shape != (len(classes), len(classes)):
        raise InputError(f"plot_confusion_matrix: shape {matrix.shape} does not fit {len(classes)} classes")
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows != 0)
    figure = Figure(figsize=(1.2 * len(classes) + 2.5, 1.2 * len(classes) + 1.5), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, label="share of the ground-truth row")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, labels=list(classes), rotation=30, ha="right")
    ax.set_yticks(ticks, labels=list(classes))
    ax.set(xlabel="prediction", ylabel="ground truth", title=title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            text = f"{matrix[i, j]:d}\n{100 * share[i, j]:.1f}%"
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize="small", color=colour)
    return _save(figure, path)
