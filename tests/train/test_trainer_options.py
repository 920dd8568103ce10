"""Trainer options for budgeted runs: the per-step cosine learning-rate schedule and the output prior."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from train_helpers import state_dicts_equal

from record.models import StreamingModel, read_checkpoint
from record.train import distributed as dist
from record.train.checkpoints import Progress
from record.train.compose import compose_config, resolved_dict, typed
from record.train.config import TrainRunConfig
from record.train.trainer import Trainer, train

LR = 1e-3


def _last_lr(checkpoint: Path) -> float:
    return read_checkpoint(checkpoint)["extra"]["training"]["optimizer"]["param_groups"][0]["lr"]


def test_cosine_schedule_decays_per_step_to_zero_at_max_steps(tiny_run_overrides: Callable[..., list[str]],
                                                              tmp_path: Path) -> None:
    # the hand-made tree gives 6 clips of 2 frames, batches of 2: 3 optimiser steps per epoch
    cosine = ("train.lr_schedule=cosine", "train.max_steps=6", "train.val_every_epochs=0")
    halfway = train(compose_config("train", tiny_run_overrides(*cosine, "train.max_epochs=1",
                                                               run_dir=tmp_path / "half")))
    assert (halfway.stopped_by, halfway.progress.global_step) == ("max_epochs", 3)
    assert _last_lr(halfway.last_checkpoint) == pytest.approx(LR * 0.5 * (1 + math.cos(math.pi * 3 / 6)))
    full = train(compose_config("train", tiny_run_overrides(*cosine, run_dir=tmp_path / "full")))
    assert (full.stopped_by, full.progress.global_step) == ("max_steps", 6)
    assert _last_lr(full.last_checkpoint) == pytest.approx(0.0, abs=1e-15)


def test_step_schedule_keeps_the_rate_within_an_epoch(tiny_run_overrides: Callable[..., list[str]],
                                                      tmp_path: Path) -> None:
    run = train(compose_config("train", tiny_run_overrides("train.max_steps=2", "train.val_every_epochs=0")))
    assert _last_lr(run.last_checkpoint) == LR


def _trainer(overrides: list[str]) -> Trainer:
    config = compose_config("train", overrides)
    return Trainer(typed(config, TrainRunConfig), resolved_dict(config), dist.process_info(),
                   torch.device("cpu"))


def test_output_prior_biases_a_fresh_model_but_not_loaded_weights(
        tiny_run_overrides: Callable[..., list[str]], tmp_path: Path) -> None:
    fresh = _trainer(tiny_run_overrides("train.output_prior=0.01"))
    torch.testing.assert_close(fresh.model.decoder.conv_head2.bias, torch.full((3,), math.log(0.01 / 0.99)))

    default = _trainer(tiny_run_overrides())
    assert not torch.allclose(default.model.decoder.conv_head2.bias, fresh.model.decoder.conv_head2.bias)

    run = train(compose_config("train", tiny_run_overrides("train.max_steps=1", "train.val_every_epochs=0",
                                                           run_dir=tmp_path / "source")))
    stored = read_checkpoint(run.last_checkpoint)["state_dict"]["decoder.conv_head2.bias"]
    loaded = _trainer(tiny_run_overrides("train.output_prior=0.01", f"model.checkpoint={run.last_checkpoint}"))
    torch.testing.assert_close(loaded.model.decoder.conv_head2.bias, stored)


def test_cosine_schedule_resumes_exactly(tiny_run_overrides: Callable[..., list[str]], tmp_path: Path) -> None:
    cosine = ("train.lr_schedule=cosine", "train.max_steps=6", "train.val_every_epochs=0", "train.max_epochs=2")
    straight = train(compose_config("train", tiny_run_overrides(*cosine, run_dir=tmp_path / "straight")))
    stopped_dir = tmp_path / "stopped"
    first = train(compose_config("train", tiny_run_overrides(*cosine, "train.max_epochs=1", run_dir=stopped_dir)))
    assert first.progress.global_step == 3
    resumed = train(compose_config("train", tiny_run_overrides(*cosine, "train.resume=auto",
                                                               run_dir=stopped_dir)))
    expected, found = read_checkpoint(straight.last_checkpoint), read_checkpoint(resumed.last_checkpoint)
    assert resumed.progress.global_step == 6
    assert state_dicts_equal(expected["state_dict"], found["state_dict"])
    assert expected["extra"]["training"]["scheduler"] == found["extra"]["training"]["scheduler"]


@pytest.mark.parametrize(("max_steps", "accumulate"), [(1, 1), (1, 2), (None, 1)])
def test_progress_bar_counts_the_batches_the_run_will_train(tiny_run_overrides: Callable[..., list[str]],
                                                            monkeypatch: pytest.MonkeyPatch, max_steps,
                                                            accumulate) -> None:
    """With ``train.max_steps`` ending the run inside an epoch, the bar's total is the budget, not the epoch."""
    import record.train.trainer as trainer_module

    totals: list[int] = []

    class RecordingTqdm(trainer_module.tqdm):  # type: ignore[misc, name-defined]
        def __init__(self, *args, **kwargs) -> None:
            totals.append(kwargs["total"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "tqdm", RecordingTqdm)
    budget = [] if max_steps is None else [f"train.max_steps={max_steps}"]
    config = compose_config("train", tiny_run_overrides(*budget, f"train.accumulate={accumulate}",
                                                        "train.max_epochs=1", "train.val_every_epochs=0"))
    trainer = Trainer(typed(config, TrainRunConfig), resolved_dict(config), dist.process_info(),
                      torch.device("cpu"))
    epoch_length = trainer._batches_per_epoch()
    trainer.fit()
    expected = epoch_length if max_steps is None else max_steps * accumulate
    assert epoch_length > 2 and totals == [expected]


def test_on_step_sees_every_optimiser_step_and_can_stop_the_run(tiny_run_overrides: Callable[..., list[str]],
                                                                tmp_path: Path) -> None:
    seen: list[tuple[int, StreamingModel, float]] = []

    def on_step(progress: Progress, model: StreamingModel, loss: float) -> bool:
        seen.append((progress.global_step, model, loss))
        return progress.global_step == 4

    config = compose_config("train", tiny_run_overrides("train.max_steps=5", "train.val_every_epochs=0",
                                                        "train.ema_decay=0.5"))
    run = train(config, on_step=on_step)
    assert (run.stopped_by, run.progress.global_step) == ("on_step", 4)
    assert [step for step, _, _ in seen] == [1, 2, 3, 4]  # across the epoch boundary (3 steps per epoch)
    assert all(math.isfinite(loss) and loss > 0 for _, _, loss in seen)
    # the model handed over is the one the run saves: with train.ema_decay, the weight average
    saved = read_checkpoint(run.last_checkpoint)["state_dict"]
    assert state_dicts_equal(saved, {key: value.detach() for key, value in seen[-1][1].state_dict().items()})
