"""``train.whole_map_steps``: a cropped, budgeted run trains its last steps on whole maps, also when resumed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from train_helpers import state_dicts_equal

from record.models import read_checkpoint
from record.train.compose import compose_config
from record.train.trainer import Trainer, train

# The hand-made tree: 128 x 128 maps, 6 clips of 2 frames, batches of 2: 3 micro-batches per epoch.
CROP, WHOLE = 32, 128
#: The memory check's probe computes losses too (on whole maps, before step 0): left out of these runs.
NO_PROBE = "train.memory_check=false"


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(optimiser steps done, map height) of every micro-batch the trainer computes a loss on."""
    calls: list[tuple[int, int]] = []
    clip_loss = Trainer.clip_loss

    def recording(self: Trainer, inputs, targets, state=None):
        calls.append((self.progress.global_step, int(inputs.shape[-2])))
        return clip_loss(self, inputs, targets, state)

    monkeypatch.setattr(Trainer, "clip_loss", recording)
    return calls


@pytest.mark.parametrize(("settings", "expected"), [
    # the switch inside epoch 0 (step 2 of 3), then the next epoch's loader starts on whole maps
    (("train.max_steps=4", "train.whole_map_steps=2"), [(0, CROP), (1, CROP), (2, WHOLE), (3, WHOLE)]),
    # 2 micro-batches per step (2, then 1 per epoch): every micro-batch of step 2 is whole
    (("train.max_steps=3", "train.whole_map_steps=1", "train.accumulate=2"),
     [(0, CROP), (0, CROP), (1, CROP), (2, WHOLE), (2, WHOLE)]),
    # truncated BPTT, a step per one-frame clip, 2 clips per sample: the switch at step 1 waits for the next
    # sample (step 2), since a sample's clips share one crop and the state carried between them
    (("train.window=1", "train.tbptt_clips=2", "train.max_steps=4", "train.whole_map_steps=3"),
     [(0, CROP), (1, CROP), (2, WHOLE), (3, WHOLE)]),
], ids=["mid-epoch", "accumulate", "tbptt"])
def test_the_last_steps_train_on_whole_maps(tiny_run_overrides: Callable[..., list[str]],
                                            seen: list[tuple[int, int]], settings: tuple[str, ...],
                                            expected: list[tuple[int, int]]) -> None:
    train(compose_config("train", tiny_run_overrides(NO_PROBE, *settings, "train.val_every_epochs=0")))
    assert seen == expected


def test_every_step_of_the_budget_may_be_whole(tiny_run_overrides: Callable[..., list[str]],
                                               seen: list[tuple[int, int]]) -> None:
    train(compose_config("train", tiny_run_overrides(NO_PROBE, "train.max_steps=2", "train.whole_map_steps=2",
                                                     "train.val_every_epochs=0")))
    assert seen == [(0, WHOLE), (1, WHOLE)]


@pytest.mark.slow
def test_a_run_resumed_in_the_whole_map_phase_trains_on_whole_maps_as_if_uninterrupted(
        tiny_run_overrides: Callable[..., list[str]], seen: list[tuple[int, int]], tmp_path: Path) -> None:
    # whole maps from step 2 in both runs: the straight one trains 5 steps, the other stops after 4 (epoch 1,
    # after its first batch) and resumes with the straight run's budget
    common = ("train.val_every_epochs=0", "train.max_epochs=2")
    straight = train(compose_config("train", tiny_run_overrides(
        NO_PROBE, *common, "train.max_steps=5", "train.whole_map_steps=3", run_dir=tmp_path / "straight")))
    assert seen == [(0, CROP), (1, CROP), (2, WHOLE), (3, WHOLE), (4, WHOLE)]
    seen.clear()
    stopped = tmp_path / "stopped"
    first = train(compose_config("train", tiny_run_overrides(
        NO_PROBE, *common, "train.max_steps=4", "train.whole_map_steps=2", run_dir=stopped)))
    assert (first.progress.epoch, first.progress.batches_done) == (1, 1)
    seen.clear()
    resumed = train(compose_config("train", tiny_run_overrides(
        NO_PROBE, *common, "train.max_steps=5", "train.whole_map_steps=3", "train.resume=auto", run_dir=stopped)))
    assert seen == [(4, WHOLE)] and resumed.progress.global_step == 5
    assert state_dicts_equal(read_checkpoint(straight.last_checkpoint)["state_dict"],
                             read_checkpoint(resumed.last_checkpoint)["state_dict"])
