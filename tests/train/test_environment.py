"""Run-time settings: device and precision choices, RNG snapshots, code version, signals, validation metrics."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from record.errors import CheckpointError, ConfigError
from record.models import read_checkpoint
from record.provenance import code_version
from record.train.compose import compose_config
from record.train.environment import AmpPolicy, capture_rng, restore_rng, select_device
from record.train.trainer import RunData, train


def test_cpu_runs_in_full_precision_and_refuse_mixed_precision() -> None:
    cpu = torch.device("cpu")
    policy = AmpPolicy.choose("auto", cpu)
    assert policy.dtype is None and not policy.scales_loss and not policy.grad_scaler().is_enabled()
    for choice in ("bf16", "fp16"):
        with pytest.raises(ConfigError, match="train.amp: mixed precision needs a CUDA device"):
            AmpPolicy.choose(choice, cpu)
    with pytest.raises(ConfigError, match="unknown choice"):
        AmpPolicy.choose("fp8", cpu)
    assert select_device("cpu") == cpu
    with pytest.raises(ConfigError, match="train.device"):
        select_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_asking_for_cuda_without_it_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        select_device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_cuda_mixed_precision_policies() -> None:
    device = select_device("cuda")
    policy = AmpPolicy.choose("auto", device)
    assert policy.dtype in (torch.bfloat16, torch.float16)
    assert AmpPolicy.choose("fp16", device).grad_scaler().is_enabled()
    assert AmpPolicy.choose("off", device).dtype is None


def test_rng_snapshots_restore_python_numpy_and_torch() -> None:
    snapshot = capture_rng()
    expected = (random.random(), float(np.random.rand()), float(torch.rand(())))
    restore_rng(snapshot, "test")
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == expected
    with pytest.raises(CheckpointError, match="checkpoint.pt: unreadable RNG state"):
        restore_rng({"python": None}, "checkpoint.pt")


def test_code_version_names_the_package_and_commit() -> None:
    version = code_version()
    assert version["package"] == "0.1.0"
    assert version["git_commit"] is None or len(version["git_commit"].removesuffix("+dirty")) == 40


class _SignalOnThirdSample(Dataset):
    """Clips of noise; reading the third sample sends SIGTERM to this process, as a job scheduler would."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return {"input": torch.randn(8, 2, 16, 16), "target": torch.rand(3, 2, 16, 16)}


def test_sigterm_stops_after_the_current_step_with_a_checkpoint(tmp_path: Path) -> None:
    config = compose_config("train", [
        "dataset=rod2021", "mode=online", "train.batch_size=1", "train.workers=0", "train.progress=false",
        "train.val_every_epochs=0", f"run.dir={tmp_path}",
    ])
    previous = signal.getsignal(signal.SIGTERM)
    result = train(config, RunData(_SignalOnThirdSample()))
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is removed again
    order = torch.randperm(8, generator=torch.Generator().manual_seed(252)).tolist()  # the sampler's epoch 0
    assert result.stopped_by == "signal" and result.progress.global_step == order.index(2) + 1
    saved = read_checkpoint(result.last_checkpoint)
    assert saved["metadata"]["global_step"] == result.progress.global_step
