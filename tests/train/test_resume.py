"""Exact resume: a run stopped mid-epoch (and, with truncated BPTT, between two clips of a sample) and resumed
ends bit-identical to the same run left uninterrupted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from train_helpers import state_dicts_equal

from record.models import read_checkpoint
from record.train.compose import compose_config
from record.train.trainer import train

pytestmark = pytest.mark.slow

# 6 clips of 2 frames per epoch, micro-batches of 2, 2 micro-batches per optimiser step: steps of 2 and 1
# micro-batches per epoch; validation streams the valid sequence at the end of every epoch.
SETTINGS = ("train.accumulate=2", "train.max_epochs=2")


def _final(path: Path) -> dict:
    return dict(read_checkpoint(path))


# Truncated BPTT: 6 samples of 2 one-frame clips, micro-batches of 2 samples' clips, one step per clip: 6 steps
# per epoch; step 9 ends the first clip of the second batch of epoch 1, with the state carried to the next clip.
TBPTT_SETTINGS = ("train.window=1", "train.tbptt_clips=2", "train.max_epochs=2")


@pytest.mark.parametrize(("settings", "stop_at", "position"), [
    (SETTINGS, 3, (1, 3, 2)),
    (TBPTT_SETTINGS, 9, (1, 9, 3)),
], ids=["accumulate", "tbptt"])
def test_interrupted_and_resumed_equals_uninterrupted(tiny_run_overrides: Callable[..., list[str]],
                                                      tmp_path: Path, settings: tuple[str, ...], stop_at: int,
                                                      position: tuple[int, int, int]) -> None:
    straight = train(compose_config("train", tiny_run_overrides(*settings, run_dir=tmp_path / "straight")))

    interrupted_dir = tmp_path / "interrupted"
    first = train(compose_config("train", tiny_run_overrides(*settings, f"train.max_steps={stop_at}",
                                                             run_dir=interrupted_dir)))
    assert first.stopped_by == "max_steps"
    assert (first.progress.epoch, first.progress.global_step, first.progress.batches_done) == position
    carried = _final(first.last_checkpoint)["extra"]["training"]["carried_state"]
    assert bool(carried[0]) == ("train.tbptt_clips=2" in settings)  # mid-sample: the state is kept
    resumed = train(compose_config("train", tiny_run_overrides(*settings, "train.resume=auto",
                                                               run_dir=interrupted_dir)))

    assert straight.stopped_by == resumed.stopped_by == "max_epochs"
    expected, found = _final(straight.last_checkpoint), _final(resumed.last_checkpoint)
    assert state_dicts_equal(expected["state_dict"], found["state_dict"])
    expected_state, found_state = expected["extra"]["training"], found["extra"]["training"]
    assert expected_state["progress"] == found_state["progress"]
    assert expected_state["scheduler"] == found_state["scheduler"]
    assert expected_state["early_stopping"] == found_state["early_stopping"]
    for key, value in expected_state["optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(value[name], found_state["optimizer"]["state"][key][name])


def test_resume_of_a_finished_run_changes_nothing(tiny_run_overrides: Callable[..., list[str]],
                                                  tmp_path: Path) -> None:
    run_dir = tmp_path / "done"
    done = train(compose_config("train", tiny_run_overrides("train.max_steps=1", run_dir=run_dir)))
    before = _final(done.last_checkpoint)["state_dict"]
    resume = f"train.resume={done.last_checkpoint}"
    overrides = tiny_run_overrides("train.max_steps=1", resume, run_dir=run_dir)
    again = train(compose_config("train", overrides))
    assert again.stopped_by == "max_steps" and again.progress.global_step == 1
    assert state_dicts_equal(before, _final(again.last_checkpoint)["state_dict"])
