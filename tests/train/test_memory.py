"""Memory check before training (probe, estimate, budget) and activation checkpointing over frames."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from train_helpers import state_dicts_equal

from record.errors import ConfigError
from record.models import create_model, read_checkpoint
from record.models._base import RecurrentModel, State
from record.train import memory
from record.train.compose import compose_config, group_options, typed, validate_train_config
from record.train.config import TrainConfig, TrainRunConfig
from record.train.memory import GIB, MemoryBudget, MemoryEstimate, measure_peak, no_side_effects, probe_frames
from record.train.temporal import ClipRunner
from record.train.trainer import train

MIB = 2**20


class NormModel(RecurrentModel[Tensor]):
    """A tiny recurrent model with BatchNorm (running statistics) and GroupNorm: state ``h`` [B, 4, H, W]."""

    state_names = ("h",)

    def __init__(self) -> None:
        super().__init__(SimpleNamespace(output_activation="sigmoid"))
        self.encoder = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.mix = nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.Tanh())
        self.head = nn.Sequential(nn.Conv2d(4, 3, 1), nn.BatchNorm2d(3))

    def state_shapes(self, batch_size: int, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        return ((batch_size, 4, height, width),)

    def _check_window(self, x: Tensor) -> tuple[int, int, int, int]:
        batch, _, window, height, width = x.shape
        return batch, window, height, width

    def _check_frame(self, frame: Tensor) -> tuple[int, int, int]:
        batch, _, height, width = frame.shape
        return batch, height, width

    def _frame_at(self, x: Tensor, t: int) -> Tensor:
        return x[:, :, t]

    def _encode(self, frame: Tensor, state: State) -> tuple[Tensor, State]:
        hidden = self.mix(torch.cat((self.encoder(frame), state[0]), dim=1))
        return hidden, (hidden,)

    def _decode(self, features: Tensor) -> Tensor:
        return self.head(features)


# ---------------------------------------------------------------- activation checkpointing
def _gradients(model: nn.Module, run: Callable[[nn.Module], Tensor], checkpointing: bool
               ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(gradients, buffers) of ``run(model).backward()`` on a copy of ``model``."""
    twin = copy.deepcopy(model)
    twin.set_grad_checkpointing(checkpointing)
    run(twin).backward()
    grads = {name: p.grad.clone() for name, p in twin.named_parameters() if p.grad is not None}
    return grads, {name: b.clone() for name, b in twin.named_buffers()}


def _assert_same_gradients(model: nn.Module, run: Callable[[nn.Module], Tensor]) -> None:
    (plain, plain_buffers), (checkpointed, buffers) = (_gradients(model, run, flag) for flag in (False, True))
    assert plain.keys() == checkpointed.keys() and len(plain) == len(list(model.parameters()))
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=1e-5, atol=1e-7, msg=name)
    assert state_dicts_equal(plain_buffers, buffers)  # BatchNorm statistics updated once per frame


def _clip(*shape: int, seed: int = 1) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _online_loss(clip: Tensor | dict[str, Tensor]) -> Callable[[nn.Module], Tensor]:
    def run(model: nn.Module) -> Tensor:
        logits = ClipRunner(model, "online")(clip)
        values = logits.values() if isinstance(logits, dict) else [logits]
        ramp = torch.linspace(0, 1, next(iter(values)).shape[2]).view(1, 1, -1, 1, 1)  # frames weigh unevenly
        return sum((v.square() * ramp).mean() for v in values)
    return run


@pytest.mark.parametrize("mode", ["online", "buffer"])
def test_checkpointed_gradients_equal_the_plain_ones(mode: str) -> None:
    torch.manual_seed(0)
    model = create_model("record_rod2021")
    clip = _clip(2, 8, 3, 32, 32)
    if mode == "online":
        _assert_same_gradients(model, _online_loss(clip))
    else:
        _assert_same_gradients(model, lambda m: ClipRunner(m, "buffer")(clip).square().mean())


def test_checkpointed_gradients_of_the_multi_view_model() -> None:
    torch.manual_seed(0)
    model = create_model("mv_record")
    clip = {"rd": _clip(1, 1, 2, 16, 8, seed=1), "ra": _clip(1, 1, 2, 16, 32, seed=2),
            "ad": _clip(1, 1, 2, 16, 8, seed=3)}
    _assert_same_gradients(model, _online_loss(clip))


def test_checkpointed_gradients_with_the_state_carried_between_clips() -> None:
    torch.manual_seed(0)
    model = create_model("record_rod2021")
    clips = _clip(2, 8, 4, 32, 32)

    def two_clips(twin: nn.Module) -> Tensor:
        runner = ClipRunner(twin, "online", carry_state=True)
        first, state = runner(clips[:, :, :2])
        second, _ = runner(clips[:, :, 2:], state)  # truncated BPTT: the state enters detached
        return first.square().mean() + second.square().mean()

    _assert_same_gradients(model, two_clips)


def test_checkpointing_keeps_batch_norm_statistics_and_gradients() -> None:
    torch.manual_seed(0)
    model = NormModel()
    clip = _clip(3, 2, 4, 8, 8)
    _assert_same_gradients(model, _online_loss(clip))
    _assert_same_gradients(model, lambda m: m(clip).square().mean())
    # the recomputation would have counted every frame twice
    twin = copy.deepcopy(model)
    twin.set_grad_checkpointing(True)
    _online_loss(clip)(twin).backward()
    assert int(twin.encoder[1].num_batches_tracked) == 4


def test_checkpointing_is_off_without_gradients() -> None:
    model = create_model("record_rod2021")
    model.set_grad_checkpointing(True)
    with torch.no_grad(), pytest.MonkeyPatch.context() as patch:
        patch.setattr("record.models._base.checkpoint", lambda *a, **k: pytest.fail("checkpointed"))
        ClipRunner(model, "online")(_clip(1, 8, 2, 32, 32))


# ---------------------------------------------------------------- probe and estimate
def test_peak_of_a_function_is_what_it_allocates() -> None:
    def allocate() -> None:
        buffer = torch.ones(64 * MIB // 4)
        del buffer

    peak = measure_peak(allocate, torch.device("cpu"))
    assert peak is not None and 60 * MIB < peak < 80 * MIB
    assert measure_peak(lambda: None, torch.device("cpu")) < 8 * MIB  # the peak is reset at every call


def test_probe_frames() -> None:
    assert [probe_frames(n) for n in (1, 2, 3, 4, 32)] == [(1, 1), (1, 2), (1, 3), (2, 4), (2, 4)]


def test_estimate_extrapolates_linearly_in_frames_and_samples() -> None:
    estimate = MemoryEstimate(held=GIB, fixed=0, per_sample=GIB // 8, per_frame=GIB // 16, batch=8, frames=32)
    assert estimate.peak == GIB + 8 * (GIB // 8 + 2 * GIB)
    assert estimate.batch_that_fits(9 * GIB) == 3  # 8 GiB over 2.125 GiB per sample
    assert estimate.frames_that_fit(9 * GIB) == 14  # 1 GiB per sample: (1 - 1/8) x 16 frames


@pytest.mark.parametrize("checkpointing", [False, True])
def test_estimate_from_a_probe_of_the_model(checkpointing: bool) -> None:
    torch.manual_seed(0)
    model = create_model("record_rod2021")
    model.set_grad_checkpointing(checkpointing)
    size = 128 if checkpointing else 64
    clip = _clip(1, 8, 16, size, size)
    probed: list[int] = []

    def step(frames: int) -> None:
        probed.append(frames)
        _online_loss(clip[:, :, :frames])(model).backward()

    estimate = memory.estimate_memory(step, model, torch.device("cpu"), batch=4, frames=16,
                                      sample_bytes=clip.nbytes, workers=0)
    assert estimate is not None
    if checkpointing:  # a few MiB per frame: a third, long probe steadies the slope
        assert probed == [2, 2, 4, 16] and estimate.per_frame < 12 * MIB
    else:  # 64 x 64 RECORD frames keep about a quarter of the 100 MiB of a 128 x 128 frame
        assert probed == [2, 2, 4] and 12 * MIB < estimate.per_frame < 50 * MIB
        assert estimate.peak > estimate.held + 4 * 16 * 12 * MIB


def test_probe_leaves_no_trace() -> None:
    torch.manual_seed(0)
    model = NormModel()
    clip = _clip(2, 2, 3, 8, 8)
    model.eval()
    _online_loss(clip)(model).backward()  # gradients already there: the probe must not add to them
    before = ({k: v.clone() for k, v in model.state_dict().items()},
              [p.grad.clone() for p in model.parameters()])
    rng = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    with no_side_effects(model):
        model.train()
        torch.randn(3), np.random.rand(), random.random()
        _online_loss(clip)(model).backward()
    assert not model.training
    assert state_dicts_equal(before[0], model.state_dict())  # BatchNorm statistics
    assert all(torch.equal(g, p.grad) for g, p in zip(before[1], model.parameters()))
    assert torch.equal(rng[0], torch.get_rng_state()) and np.array_equal(rng[1], np.random.get_state()[1])
    assert rng[2] == random.getstate()


def _fake_proc(root: Path, available_kib: int, rss_kib: int, cgroup: tuple[int, int] | None = None) -> None:
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {available_kib} kB\n")
    (root / "proc" / "self" / "status").write_text(f"VmHWM: {rss_kib} kB\nVmRSS: {rss_kib} kB\n")
    (root / "proc" / "self" / "cgroup").write_text("0::/job\n")
    if cgroup is not None:
        (root / "cgroup" / "job").mkdir(parents=True)
        (root / "cgroup" / "job" / "memory.max").write_text(f"{cgroup[0]}\n")
        (root / "cgroup" / "job" / "memory.current").write_text(f"{cgroup[1]}\n")


@pytest.mark.parametrize(("cgroup", "expected"), [(None, 5 * GIB), ((3 * GIB, GIB), 3 * GIB),
                                                  ((9 * GIB, GIB), 5 * GIB)])
def test_budget_is_the_available_memory_or_the_cgroup_headroom_plus_the_rss(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cgroup: tuple[int, int] | None,
        expected: int) -> None:
    _fake_proc(tmp_path, 4 * GIB // 1024, GIB // 1024, cgroup)
    monkeypatch.setattr(memory, "_PROC", tmp_path / "proc")
    monkeypatch.setattr(memory, "_CGROUP", tmp_path / "cgroup")
    budget = memory.memory_budget(torch.device("cpu"))
    assert budget is not None and budget.total == expected
    assert ("cgroup" in budget.source) == (expected == 3 * GIB)
    halves = memory.memory_budget(torch.device("cpu"), processes=2)
    assert halves is not None and halves.total == (expected - GIB) // 2 + GIB


# ---------------------------------------------------------------- the check in a training run
def _budget(monkeypatch: pytest.MonkeyPatch, total: int) -> None:
    monkeypatch.setattr(memory, "memory_budget", lambda device, processes=1: MemoryBudget(total, "mocked"))


def test_a_run_that_does_not_fit_stops_before_training_naming_the_settings(
        tiny_run_overrides: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    _budget(monkeypatch, 64 * MIB)  # less than the process already holds
    with pytest.raises(ConfigError) as error:
        train(compose_config("train", tiny_run_overrides("train.max_steps=1", "train.val_every_epochs=0")))
    message = str(error.value)
    for setting in ("would not fit", "train.activation_checkpointing=true", "train.batch_size", "train.crop",
                    "train.memory_check=false"):
        assert setting in message
    assert not (tmp_path / "run" / "checkpoints").exists()
    # already checkpointed: the remedy is not offered again
    with pytest.raises(ConfigError) as error:
        train(compose_config("train", tiny_run_overrides("train.max_steps=1",
                                                         "train.activation_checkpointing=true")))
    assert "activation_checkpointing" not in str(error.value) and "train.batch_size" in str(error.value)
    # no check, no stop
    run = train(compose_config("train", tiny_run_overrides("train.max_steps=1", "train.val_every_epochs=0",
                                                           "train.memory_check=false")))
    assert run.progress.global_step == 1


def _same_rng(left: dict, right: dict) -> bool:
    return (left["python"] == right["python"] and torch.equal(left["torch"], right["torch"])
            and torch.equal(left["numpy"]["key"], right["numpy"]["key"]))


def test_the_message_gives_the_batch_and_clip_length_that_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    estimate = MemoryEstimate(held=GIB, fixed=0, per_sample=0, per_frame=GIB // 32, batch=8, frames=32)
    monkeypatch.setattr(memory, "estimate_memory", lambda *args, **kwargs: estimate)
    _budget(monkeypatch, 19 * GIB // 2)  # 8.55 GiB usable with a 10 % margin: 7.55 GiB for samples
    config = TrainConfig(batch_size=16, accumulate=2, memory_margin=0.1)
    with pytest.raises(ConfigError) as error:
        memory.check_memory(lambda frames: None, nn.Linear(1, 1), torch.device("cpu"), config, frames=32,
                            sample_bytes=0, world_size=2)
    message = str(error.value)
    assert "estimated peak memory 9.00 GiB" in message and "8.55 GiB usable" in message
    assert "train.batch_size=14 (at most 7 samples per process fit)" in message  # 2 processes
    assert "batch_size x accumulate = 32" in message and "train.window=30" in message
    _budget(monkeypatch, 11 * GIB)
    assert memory.check_memory(lambda frames: None, nn.Linear(1, 1), torch.device("cpu"), config, frames=32,
                               sample_bytes=0, world_size=2).startswith("memory check: estimated peak memory")


def test_the_probe_does_not_change_training(tiny_run_overrides: Callable[..., list[str]],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _budget(monkeypatch, 1024 * GIB)
    steps = ("train.max_steps=2", "train.val_every_epochs=0")
    checked = train(compose_config("train", tiny_run_overrides(*steps, run_dir=tmp_path / "checked")))
    assert "memory check: estimated peak memory" in capsys.readouterr().out
    plain = train(compose_config("train", tiny_run_overrides(*steps, "train.memory_check=false",
                                                             run_dir=tmp_path / "plain")))
    expected, found = read_checkpoint(plain.last_checkpoint), read_checkpoint(checked.last_checkpoint)
    assert state_dicts_equal(expected["state_dict"], found["state_dict"])
    assert _same_rng(expected["extra"]["training"]["rng"][0], found["extra"]["training"]["rng"][0])
    # activation checkpointing trains the same weights, up to float rounding
    overrides = tiny_run_overrides(*steps, "train.activation_checkpointing=true", run_dir=tmp_path / "ckpt")
    recomputed = train(compose_config("train", overrides))
    weights = read_checkpoint(recomputed.last_checkpoint)["state_dict"]
    for name, value in expected["state_dict"].items():
        torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=1e-6, msg=name)


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("margin", ["-0.1", "1.0"])
def test_memory_margin_must_be_a_fraction(margin: str) -> None:
    config = typed(compose_config("train", [f"train.memory_margin={margin}"]), TrainRunConfig)
    with pytest.raises(ConfigError, match="train.memory_margin"):
        validate_train_config(config)


def test_recipes_check_memory_and_keep_every_activation() -> None:
    assert TrainConfig().memory_check and not TrainConfig().activation_checkpointing
    for experiment in group_options("experiment"):
        config = typed(compose_config("train", [f"experiment={experiment}"]), TrainRunConfig)
        assert config.train.memory_check and not config.train.activation_checkpointing


def test_models_taking_whole_windows_are_probed_on_whole_windows(
        tiny_run_overrides: Callable[..., list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    # the no-LSTM ablation stacks exactly config.window frames: a probe on 2 or 4 of them would fail
    overrides = [o for o in tiny_run_overrides("train.max_steps=1", "train.val_every_epochs=0")
                 if not o.startswith(("train.window", "train.stride"))]
    run = train(compose_config("train", [*overrides, "model=record_nolstm_multi", "mode=buffer",
                                         "train.window=12", "train.stride=1"]))
    assert run.progress.global_step == 1
    assert "memory check: estimated peak memory" in capsys.readouterr().out
