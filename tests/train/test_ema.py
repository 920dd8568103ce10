"""Weight averaging (``train.ema_decay``): the update rule, what checkpoints hold, exact resume."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from train_helpers import state_dicts_equal

from record.models import read_checkpoint
from record.train import distributed as dist
from record.train.checkpoints import read_training_state
from record.train.compose import compose_config, resolved_dict, typed
from record.train.config import TrainRunConfig
from record.train.ema import WeightAverage
from record.train.environment import seed_everything
from record.train.trainer import Trainer, train

BUDGET = ("train.val_every_epochs=0", "train.max_epochs=2")


def _small_model() -> torch.nn.Module:
    """Convolution + batch norm: float parameters, float statistics and an integer batch counter."""
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))


def test_update_follows_the_warmed_up_decay_and_copies_integer_buffers() -> None:
    model = _small_model()
    average = WeightAverage(model, decay=0.5)
    start = copy.deepcopy(average.module.state_dict())
    model(torch.randn(2, 2, 8, 8))  # training-mode pass: new running statistics, batch counter 1
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    assert average.decay_at(1) == pytest.approx(2 / 11)
    assert average.decay_at(1000) == 0.5
    average.update(model, step=1)
    trained = model.state_dict()
    for name, value in average.module.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 2 / 11 * start[name] + 9 / 11 * trained[name])
        else:
            assert torch.equal(value, trained[name])
    assert not any(p.requires_grad for p in average.module.parameters())
    assert not average.module.training


def test_one_step_average_and_checkpoint_contents(tiny_run_overrides: Callable[..., list[str]]) -> None:
    config = compose_config("train", tiny_run_overrides("train.ema_decay=0.9", "train.max_steps=1", *BUDGET))
    seed_everything(7)
    trainer = Trainer(typed(config, TrainRunConfig), resolved_dict(config), dist.process_info(),
                      torch.device("cpu"))
    start = copy.deepcopy(trainer.model.state_dict())
    result = trainer.fit()
    trained = trainer.model.state_dict()
    decay = 2 / 11  # min(0.9, (1 + 1) / (10 + 1))
    saved = read_checkpoint(result.last_checkpoint)
    for name, value in saved["state_dict"].items():
        if value.is_floating_point():
            torch.testing.assert_close(value, decay * start[name] + (1 - decay) * trained[name])
    assert state_dicts_equal(saved["extra"]["training"]["trained_weights"], trained)
    assert not state_dicts_equal(saved["state_dict"], trained)


def test_averaging_leaves_the_training_itself_unchanged(tiny_run_overrides: Callable[..., list[str]],
                                                        tmp_path: Path) -> None:
    steps = ("train.max_steps=2", *BUDGET)
    plain = train(compose_config("train", tiny_run_overrides(*steps, run_dir=tmp_path / "plain")))
    averaged = train(compose_config("train", tiny_run_overrides(*steps, "train.ema_decay=0.9",
                                                                run_dir=tmp_path / "averaged")))
    plain_weights = read_checkpoint(plain.last_checkpoint)["state_dict"]
    assert read_checkpoint(plain.last_checkpoint)["extra"]["training"]["trained_weights"] == {}
    averaged_payload = read_checkpoint(averaged.last_checkpoint)
    assert state_dicts_equal(averaged_payload["extra"]["training"]["trained_weights"], plain_weights)


def test_interrupted_and_resumed_equals_uninterrupted(tiny_run_overrides: Callable[..., list[str]],
                                                      tmp_path: Path) -> None:
    # the hand-made tree gives 3 optimiser steps per epoch
    options = ("train.ema_decay=0.8", *BUDGET)
    straight = train(compose_config("train", tiny_run_overrides(*options, run_dir=tmp_path / "straight")))
    stopped_dir = tmp_path / "stopped"
    first = train(compose_config("train", tiny_run_overrides(*options[:-1], "train.max_epochs=1",
                                                             run_dir=stopped_dir)))
    assert first.progress.global_step == 3
    resumed = train(compose_config("train", tiny_run_overrides(*options, "train.resume=auto",
                                                               run_dir=stopped_dir)))
    assert resumed.progress.global_step == 6
    expected, found = read_checkpoint(straight.last_checkpoint), read_checkpoint(resumed.last_checkpoint)
    assert state_dicts_equal(expected["state_dict"], found["state_dict"])
    assert state_dicts_equal(expected["extra"]["training"]["trained_weights"],
                             found["extra"]["training"]["trained_weights"])


def test_checkpoints_written_before_averaging_existed_still_resume(
        tiny_run_overrides: Callable[..., list[str]], tmp_path: Path) -> None:
    run = train(compose_config("train", tiny_run_overrides("train.max_steps=1", *BUDGET)))
    payload = dict(read_checkpoint(run.last_checkpoint))
    payload["extra"] = {"training": {k: v for k, v in payload["extra"]["training"].items()
                                     if k != "trained_weights"}}
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    assert read_training_state(payload, str(old)).trained_weights == {}
    overrides = tiny_run_overrides("train.max_steps=2", *BUDGET, f"train.resume={old}",
                                   run_dir=tmp_path / "resumed")
    resumed = train(compose_config("train", overrides))
    assert resumed.progress.global_step == 2
