"""DistributedDataParallel: two gloo processes under torchrun end with the weights of one process that sees
the same global batch.

Why they differ at all: each rank averages the loss over its half of the batch and DDP's all-reduce averages
the two gradients: the same sums as in one process, in another order, so float32 round-off (~1e-7 relative)
remains. Tolerance: for every weight tensor, ``|w_2 - w_1| / |w_1| < 2e-5`` (L2 norms; typically ~5e-7 after 8
Adam steps, up to 4.2e-6 seen on a small bias in CI). The bound keeps its power: measured against the same
1-process run, a run on half the batch (a rank without the all-reduce) differs by at least 7e-4 on every
tensor (median 1e-2), one with another sample order by at least 3e-3. Element-wise relative differences are
not a fair measure: Adam's first steps move every weight by about ``lr * g / (|g| + eps)``, so a weight whose
gradient sums to nearly zero amplifies the round-off of that sum.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from train_helpers import state_dicts_equal

from record.models import create_model, read_checkpoint
from record.train.compose import compose_config
from record.train.trainer import train

pytestmark = pytest.mark.slow

TOLERANCE = 2e-5
# 6 clips per epoch, global batch 4: steps of 4 and 2 samples (2 + 2 and 1 + 1 on two ranks)
SETTINGS = ("train.batch_size=4", "train.max_epochs=2", "train.val_every_epochs=0")


# truncated BPTT: the same 6 samples, now 2 one-frame clips each with the state carried from the first to the second
TBPTT = ("train.window=1", "train.tbptt_clips=2")


@pytest.mark.parametrize("extra", [(), TBPTT], ids=["clips", "tbptt"])
def test_two_processes_match_one_process_with_the_same_global_batch(
        tiny_run_overrides: Callable[..., list[str]], tmp_path: Path, extra: tuple[str, ...]) -> None:
    single = train(compose_config("train", tiny_run_overrides(*SETTINGS, *extra, run_dir=tmp_path / "single")))

    overrides = tiny_run_overrides(*SETTINGS, *extra, run_dir=tmp_path / "ddp")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "record", "train", *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "2 process(es)" in completed.stderr + completed.stdout

    one = read_checkpoint(single.last_checkpoint)
    two = read_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt")
    assert two["extra"]["training"]["world_size"] == 2 and len(two["extra"]["training"]["rng"]) == 2
    assert one["extra"]["training"]["progress"] == two["extra"]["training"]["progress"]
    torch.manual_seed(7)  # the runs' seed: the weights they started from
    assert not state_dicts_equal(one["state_dict"], create_model("record_rod2021").state_dict())
    for key, expected in one["state_dict"].items():
        if expected.is_floating_point():
            difference = float((two["state_dict"][key].double() - expected.double()).norm())
            assert difference <= TOLERANCE * float(expected.double().norm()), key
