"""Training checkpoints: what they hold, budgets that stop a run, and clear errors for bad checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from record.cli import main as record_main
from record.errors import CheckpointError
from record.models import create_model, read_checkpoint, save_checkpoint
from record.train.compose import compose_config
from record.train.trainer import TrainResult, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, handmade_rod2021: Path) -> TrainResult:
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    overrides = [
        "dataset=rod2021", f"dataset.root={handmade_rod2021}", "mode=online", "train.window=2",
        "train.stride=4", "train.batch_size=3", "train.crop=[32,32]", "train.workers=0",
        "train.progress=false", "train.max_epochs=1", f"run.dir={run_dir}",
    ]
    return train(compose_config("train", overrides))


def test_checkpoints_hold_everything_a_resume_needs(finished_run: TrainResult) -> None:
    assert finished_run.best_checkpoint is not None and finished_run.best_checkpoint.is_file()
    payload = read_checkpoint(finished_run.last_checkpoint)  # loads with weights_only=True
    assert payload["model"] == "record_rod2021"
    metadata = payload["metadata"]
    assert metadata["kind"] == "last" and (metadata["epoch"], metadata["global_step"]) == (1, 1)
    best = read_checkpoint(finished_run.best_checkpoint)["metadata"]
    assert best["kind"] == "best" and best["metrics"] == metadata["metrics"]
    config = metadata["config"]
    assert config["model"]["name"] == "record_rod2021" and config["train"]["crop"] == [32, 32]
    assert metadata["code_version"]["package"] == "0.1.0"
    assert set(metadata["metrics"]) == {"val_loss"}
    training = payload["extra"]["training"]
    assert {"optimizer", "scheduler", "grad_scaler", "progress", "early_stopping", "rng",
            "world_size"} <= set(training)
    assert set(training["rng"][0]) == {"python", "numpy", "torch", "cuda"}
    assert training["progress"]["history"][0]["val_loss"] == pytest.approx(metadata["metrics"]["val_loss"])
    saved = yaml.safe_load((finished_run.run_dir / "config.yaml").read_text())
    assert saved == metadata["config"] and saved["run"]["dir"] == str(finished_run.run_dir)
    assert any((finished_run.run_dir / "tensorboard").iterdir())


Overrides = Callable[..., list[str]]


def test_a_budget_stops_the_run_after_one_step_and_saves(tiny_run_overrides: Overrides) -> None:
    overrides = tiny_run_overrides("train.max_time_s=0", "train.val_every_epochs=0")
    result = train(compose_config("train", overrides))
    assert result.stopped_by == "max_time" and result.progress.global_step == 1
    assert read_checkpoint(result.last_checkpoint)["metadata"]["global_step"] == 1


def _resume(overrides: Callable[..., list[str]], checkpoint: Path) -> None:
    train(compose_config("train", overrides(f"train.resume={checkpoint}")))


def test_a_truncated_checkpoint_is_refused_clearly(tiny_run_overrides: Callable[..., list[str]],
                                                   finished_run: TrainResult, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = finished_run.last_checkpoint.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt: not a readable PyTorch checkpoint"):
        _resume(tiny_run_overrides, truncated)
    assert record_main(["evaluate", f"checkpoint={truncated}", f"run.dir={tmp_path / 'eval'}"]) == 1
    assert "truncated.pt: not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_a_checkpoint_of_another_model_is_refused_clearly(tiny_run_overrides: Callable[..., list[str]],
                                                          tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    save_checkpoint(create_model("record_nolstm_single"), other)
    with pytest.raises(CheckpointError, match="checkpoint of another model.*found record_nolstm_single.*"
                                              "expected record_rod2021"):
        _resume(tiny_run_overrides, other)


def test_weights_without_training_state_cannot_resume_but_can_initialise(
        tiny_run_overrides: Callable[..., list[str]], tmp_path: Path) -> None:
    weights = tmp_path / "weights.pt"
    save_checkpoint(create_model("record_rod2021"), weights)
    with pytest.raises(CheckpointError, match="holds no training state"):
        _resume(tiny_run_overrides, weights)
    overrides = tiny_run_overrides(f"model.checkpoint={weights}", "train.max_steps=1",
                                   "train.val_every_epochs=0")
    result = train(compose_config("train", overrides))
    assert result.progress.global_step == 1


def test_a_missing_resume_file_is_an_error(tiny_run_overrides: Overrides, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="train.resume: checkpoint file not found"):
        _resume(tiny_run_overrides, tmp_path / "nowhere.pt")
