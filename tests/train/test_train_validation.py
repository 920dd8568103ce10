"""Validation during training: buffer windows and online streams, ROD2021 loss and CARRADA precision metrics."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from train_helpers import SYNTH_SIZES

from record.models import read_checkpoint
from record.train.compose import compose_config
from record.train.trainer import train

pytestmark = pytest.mark.slow


def test_buffer_mode_validates_on_windows_and_keeps_the_best(tiny_run_overrides: Callable[..., list[str]]) -> None:
    result = train(compose_config("train", tiny_run_overrides("mode=buffer", "train.max_epochs=2")))
    history = result.progress.history
    assert [entry["epoch"] for entry in history] == [0, 1] and all(math.isfinite(e["val_loss"]) for e in history)
    best = min(history, key=lambda entry: entry["val_loss"])
    saved = read_checkpoint(result.best_checkpoint)["metadata"]
    assert saved["metrics"]["val_loss"] == pytest.approx(best["val_loss"]) and saved["epoch"] == best["epoch"] + 1


@pytest.mark.parametrize("mode", ["buffer", "online"])
def test_carrada_validation_reports_precision_and_stops_early_on_it(synth_carrada_root: Path, tmp_path: Path,
                                                                    mode: str) -> None:
    result = train(compose_config("train", [
        "dataset=synth_carrada", f"dataset.root={synth_carrada_root}", *SYNTH_SIZES, "model=record_carrada_ra",
        f"mode={mode}", "train.window=2", "train.stride=4", "train.batch_size=1", "train.crop=[32,32]",
        "train.workers=0", "train.progress=false", "train.max_epochs=3", "train.lr=1e-6",
        "train.early_stopping.monitor=val_global_precision", "train.early_stopping.mode=max",
        "train.early_stopping.patience=1", f"run.dir={tmp_path}",
    ]))
    metrics = result.metrics
    assert set(metrics) == {"val_loss", "val_ra_precision", "val_ra_miou", "val_global_precision"}
    assert metrics["val_global_precision"] == metrics["val_ra_precision"] and 0 <= metrics["val_ra_miou"] <= 1
    # patience 1: the run stops at the first validation that does not beat the best so far
    values = [entry["val_global_precision"] for entry in result.progress.history]
    stalled = [later <= max(values[:i + 1]) for i, later in enumerate(values[1:])]
    expected = ("early_stopping", stalled.index(True) + 2) if any(stalled) else ("max_epochs", 3)
    assert (result.stopped_by, len(values)) == expected
