"""A tiny online run memorises two clips: the loss falls 10x and the confidence peaks land on the targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from record.models import create_model
from record.train.compose import compose_config
from record.train.tasks import Rod2021Task
from record.train.temporal import ClipRunner, frame_at
from record.train.trainer import RunData, train

pytestmark = pytest.mark.slow

SIZE, FRAMES, REPEATS = 32, 3, 40


def _blob(row: float, col: float, sigma: float) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    return torch.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2))


def _clip(start: tuple[int, int], velocity: tuple[int, int],
          generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A pedestrian moving one bin per frame: a weak blob in every chirp; its Gaussian confidence map."""
    inputs = 0.05 * torch.randn(8, FRAMES, SIZE, SIZE, generator=generator)
    targets = torch.zeros(3, FRAMES, SIZE, SIZE)
    for t in range(FRAMES):
        row, col = start[0] + velocity[0] * t, start[1] + velocity[1] * t
        inputs[0::2, t] += _blob(row, col, 1.0)
        targets[0, t] = _blob(row, col, 1.5)
    return {"input": inputs, "target": targets}


class _TwoClips(Dataset):
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.clips = [_clip((8, 10), (1, 2), generator), (_clip((22, 20), (-2, 1), generator))]

    def __len__(self) -> int:
        return 2 * REPEATS

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.clips[index % 2]


def _clip_loss(model: torch.nn.Module, clips: list[dict[str, torch.Tensor]]) -> tuple[float, torch.Tensor]:
    task = Rod2021Task()
    batch = {key: torch.stack([clip[key] for clip in clips]) for key in ("input", "target")}
    with torch.no_grad():
        logits = ClipRunner(model, "online")(batch["input"])
    losses = [task.frame_loss({"confmap": frame_at(logits, t)}, {"confmap": batch["target"][:, :, t]})
              for t in range(FRAMES)]
    return float(torch.stack(losses).mean()), torch.sigmoid(logits)


def test_online_training_overfits_two_clips(tmp_path: Path) -> None:
    data = _TwoClips()
    config = compose_config("train", [
        "dataset=rod2021", "model=record_rod2021", "mode=online", "train.batch_size=2", "train.lr=3e-3",
        "train.max_epochs=3", "train.val_every_epochs=0", "train.workers=0", "train.progress=false",
        "train.seed=3", f"run.dir={tmp_path / 'run'}",
    ])
    torch.manual_seed(3)  # the trainer seeds the same way before building its model
    initial, _ = _clip_loss(create_model("record_rod2021").eval(), data.clips)

    result = train(config, RunData(data))
    trained = create_model("record_rod2021", checkpoint=result.last_checkpoint).eval()
    final, confidence = _clip_loss(trained, data.clips)

    targets = torch.stack([clip["target"] for clip in data.clips])
    mean = targets.mean()
    constant = float(-(targets * mean.log() + (1 - targets) * (1 - mean).log()).mean())  # best constant guess
    inside = targets.clamp(1e-7, 1 - 1e-7)
    # the BCE of a perfect model (soft targets have entropy)
    floor = float(-(inside * inside.log() + (1 - inside) * (1 - inside).log()).mean())
    assert result.progress.global_step == 3 * REPEATS
    assert final < initial / 10, (initial, final)
    assert final - floor < (constant - floor) / 2, (floor, constant, final)
    for b in range(2):
        for t in range(FRAMES):
            peak = divmod(int(confidence[b, 0, t].argmax()), SIZE)
            expected = divmod(int(targets[b, 0, t].argmax()), SIZE)
            assert abs(peak[0] - expected[0]) <= 1 and abs(peak[1] - expected[1]) <= 1, (b, t, peak, expected)
