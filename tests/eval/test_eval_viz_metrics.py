"""Metric pictures: PR curves per class from the accumulated arrays, confusion-matrix images."""

from __future__ import annotations

import numpy as np
import pytest
from eval_cases import ROD_FIXTURE

from record.classes import CARRADA_CLASSES
from record.errors import InputError
from record.eval.rod2021 import score_rod2021_dirs
from record.viz.metrics import plot_confusion_matrix, plot_precision_recall

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fixture_score():
    return score_rod2021_dirs(ROD_FIXTURE / "gt", ROD_FIXTURE / "dets")


def test_precision_recall_picture(tmp_path, fixture_score):
    path = plot_precision_recall(fixture_score.accumulation, tmp_path / "pr" / "curves.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    # a sequence without car ground truth still draws (that panel says so)
    svg = plot_precision_recall(fixture_score.per_sequence["SEQ_001"].accumulation, tmp_path / "seq1.svg",
                                ols_thresholds=(0.5, 0.75))
    assert b"no ground truth" in svg.read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))


def test_precision_recall_rejects_unknown_thresholds(tmp_path, fixture_score):
    with pytest.raises(InputError, match="0.42"):
        plot_precision_recall(fixture_score.accumulation, tmp_path / "x.png", ols_thresholds=(0.42,))
    assert not (tmp_path / "x.png").exists()


def test_confusion_matrix_picture(tmp_path):
    matrix = np.array([[90, 5, 3, 2], [4, 6, 0, 0], [0, 0, 0, 0], [1, 0, 2, 7]])
    path = plot_confusion_matrix(matrix, CARRADA_CLASSES, tmp_path / "cm.png", title="RA")
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000
    with pytest.raises(InputError, match="does not fit 3 classes"):
        plot_confusion_matrix(matrix, CARRADA_CLASSES[:3], tmp_path / "bad.png")
