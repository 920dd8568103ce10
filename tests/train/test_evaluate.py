"""``record evaluate`` on tiny simulated trees: metrics, predictions and pictures, online and buffer, both
datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from train_helpers import SYNTH_SIZES

from record.cli import main as record_main
from record.data.carrada import CarradaLayout
from record.data.rod2021_files import read_detections
from record.errors import ConfigError
from record.eval.carrada import score_carrada_predictions
from record.models import create_model, save_checkpoint
from record.train.compose import compose_config
from record.train.evaluate import evaluate
from record.train.trainer import TrainResult, train

pytestmark = pytest.mark.slow

TINY_TRAINING = ("train.window=2", "train.stride=4", "train.batch_size=2", "train.workers=0",
                 "train.progress=false",
                 "train.max_steps=1", "train.val_every_epochs=0")


@pytest.fixture(scope="module")
def rod2021_run(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """One training step on a simulated ROD2021 tree that the run simulates itself."""
    folder = tmp_path_factory.mktemp("synth_rod2021")
    return train(compose_config("train", ["dataset=synth_rod2021", f"dataset.root={folder / 'data'}",
                                          *SYNTH_SIZES,
                                          *TINY_TRAINING, "train.crop=[32,32]", f"run.dir={folder / 'run'}"]))


@pytest.fixture(scope="module")
def carrada_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated CARRADA tree (written by the first run that needs it)."""
    return tmp_path_factory.mktemp("synth_carrada") / "Carrada"


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_rod2021_online_evaluation_writes_scores_predictions_and_pictures(
        rod2021_run: TrainResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    assert record_main(["evaluate", f"checkpoint={rod2021_run.last_checkpoint}", f"run.dir={out}",
                        "eval.gif_frames=3", "eval.strip_frames=2", "eval.peak_threshold=0.05"]) == 0
    printed = capsys.readouterr().out
    assert "AP " in printed and str(out.absolute()) in printed
    metrics = _metrics(out)
    sequence = metrics["sequences"][0]
    assert (metrics["mode"], metrics["split"], metrics["frames"], metrics["window"]) == ("online", "valid", 5,
                                                                                         1)
    score = metrics["rod2021"]
    assert {"AP", "AR", "per_class", "per_sequence", "overall"} <= set(score)
    assert set(score["per_class"]) == {"pedestrian", "cyclist",
                                       "car"} and set(score["per_sequence"]) == {sequence}
    detections = read_detections(out / "predictions" / f"{sequence}.txt")
    assert len(detections) == metrics["detections"][sequence] > 0
    confusions = metrics["class_confusions"]  # {detected: {true: count}}, never a class against itself
    assert set(confusions) == {"pedestrian", "cyclist", "car"}
    assert all(set(row) == set(confusions) - {detected} for detected, row in confusions.items())
    assert sum(sum(row.values()) for row in confusions.values()) <= len(detections)
    assert set(detections.frame.tolist()) <= set(range(5)) and np.all(detections.score <= 1)
    pictures = out / "pictures"
    for name in ("precision_recall.png", f"{sequence}_strip.png", f"{sequence}.gif"):
        assert (pictures / name).stat().st_size > 1000, name


def test_rod2021_buffer_evaluation_on_the_test_split_uses_kept_aside_labels(rod2021_run: TrainResult,
                                                                           tmp_path: Path) -> None:
    result = evaluate(compose_config("evaluate", [
        f"checkpoint={rod2021_run.last_checkpoint}", f"run.dir={tmp_path}", "eval.mode=buffer",
        "eval.window=3",
        "eval.split=test", "eval.gif_frames=0", "eval.strip_frames=0",
    ]))
    metrics = result.metrics
    assert (metrics["mode"], metrics["window"], metrics["split"]) == ("buffer", 3, "test")
    assert metrics["rod2021"] is not None  # ground_truth/test of the synthetic tree
    assert not (tmp_path / "pictures" / f"{metrics['sequences'][0]}.gif").exists()


def test_carrada_single_view_training_and_evaluation(synth_carrada_root: Path, tmp_path: Path) -> None:
    carrada_root = synth_carrada_root
    run = train(compose_config("train", [
        "dataset=synth_carrada", f"dataset.root={carrada_root}", *SYNTH_SIZES, "model=record_carrada_rd",
        *TINY_TRAINING, "train.crop=[32,32]", f"run.dir={tmp_path / 'run'}",
    ]))
    out = tmp_path / "eval"
    result = evaluate(compose_config("evaluate", [f"checkpoint={run.last_checkpoint}", f"run.dir={out}",
                                                  "eval.gif_frames=2", "eval.strip_frames=1"]))
    metrics = result.metrics
    assert (metrics["split"], metrics["frames"], metrics["scored_frames"]) == ("test", 5, 5)
    assert set(metrics["carrada"]) == {"rd"} and "RD mIoU" in result.summary
    sequence = metrics["sequences"][0]
    labels = np.load(out / "predictions" / sequence / "000000" / "range_doppler.npy")
    assert labels.shape == (256, 64) and labels.dtype == np.uint8
    rescored = score_carrada_predictions(out / "predictions", CarradaLayout(carrada_root), "test",
                                         views=("rd",))
    assert rescored["rd"].miou == pytest.approx(metrics["carrada"]["rd"]["mIoU"])
    for picture in ("confusion_rd.png", f"{sequence}.gif"):
        assert (out / "pictures" / picture).is_file(), picture


def test_mv_record_weights_with_published_parity_options(synth_carrada_root: Path, tmp_path: Path) -> None:
    carrada_root = synth_carrada_root
    weights = tmp_path / "mv_record.pt"
    save_checkpoint(create_model("mv_record"), weights)
    with pytest.raises(ConfigError, match="records no training dataset"):
        evaluate(compose_config("evaluate", [f"checkpoint={weights}", f"run.dir={tmp_path / 'none'}"]))
    result = evaluate(compose_config("evaluate", [
        f"checkpoint={weights}", "dataset=synth_carrada", f"dataset.root={carrada_root}",
        f"run.dir={tmp_path}",
        "eval.reset_states=false", "eval.skip_first=true", "eval.mode=buffer", "eval.window=2",
        "eval.gif_frames=0", "eval.strip_frames=0",
    ]))
    metrics = result.metrics
    assert set(metrics["carrada"]) == {"rd", "ra"} and metrics["scored_frames"] == 5 - 1
    assert (tmp_path / "predictions" / metrics["sequences"][0] / "000004" / "range_angle.npy").is_file()
