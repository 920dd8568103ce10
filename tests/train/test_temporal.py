"""Clip and stream runners against explicit calls of the model's step / forward."""

from __future__ import annotations

import pytest
import torch

from record.errors import ConfigError
from record.models import create_model
from record.train.temporal import ClipRunner, StreamRunner, frame_at, stack_time

SIZE = (32, 32)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("record_rod2021").eval()


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return torch.randn(2, 8, 3, *SIZE, generator=torch.Generator().manual_seed(1))


def test_online_clip_runs_step_from_the_zero_state_over_every_frame(model, clip) -> None:
    with torch.no_grad():
        logits = ClipRunner(model, "online")(clip)
        state = model.zero_state(2, *SIZE)
        for t in range(3):
            expected, state = model.step(clip[:, :, t], state)
            torch.testing.assert_close(logits[:, :, t], expected)
    assert logits.shape == (2, 3, 3, *SIZE)


def test_buffer_clip_is_the_model_forward(model, clip) -> None:
    with torch.no_grad():
        torch.testing.assert_close(ClipRunner(model, "buffer")(clip), model(clip))


def test_online_clip_backpropagates_through_time(clip) -> None:
    model = create_model("record_rod2021")
    logits = ClipRunner(model, "online")(clip)
    logits[:, :, -1].sum().backward()
    lstm_grad = model.encoder.bottleneck_lstm1.Wy.weight.grad
    assert lstm_grad is not None and lstm_grad.abs().sum() > 0


def test_multi_view_frames_and_stacking() -> None:
    views = {"rd": torch.randn(1, 1, 4, 8, 4), "ra": torch.randn(1, 1, 4, 8, 16)}
    frames = [frame_at(views, t) for t in range(4)]
    restacked = stack_time(frames)
    for view in views:
        torch.testing.assert_close(restacked[view], views[view])


def test_online_stream_resets_at_sequence_starts_only_when_asked(model, clip) -> None:
    frames = [clip[:1, :, t] for t in range(3)]
    with torch.no_grad():
        fresh = model.step(frames[2], model.zero_state(1, *SIZE))[0]
        reset = StreamRunner(model, "online")
        carried = StreamRunner(model, "online", reset_states=False)
        for runner in (reset, carried):
            runner(frames[0], first=True)
            runner(frames[1], first=False)
        torch.testing.assert_close(reset(frames[2], first=True), fresh)
        assert not torch.allclose(carried(frames[2], first=True), fresh)


def test_buffer_stream_grows_its_window_then_slides(model, clip) -> None:
    sequence = torch.randn(1, 8, 5, *SIZE, generator=torch.Generator().manual_seed(2))
    runner = StreamRunner(model, "buffer", window=3)
    with torch.no_grad():
        for t in range(5):
            logits = runner(sequence[:, :, t], first=t == 0)
            expected = model(sequence[:, :, max(0, t - 2):t + 1])
            torch.testing.assert_close(logits, expected)
        # a new sequence starts with a one-frame window
        torch.testing.assert_close(runner(sequence[:, :, 4], first=True), model(sequence[:, :, 4:5]))


def test_carried_state_continues_the_clip_and_cuts_the_gradient(model, clip) -> None:
    runner = ClipRunner(model, "online", carry_state=True)
    with torch.no_grad():
        whole, _ = runner(clip)
        first, state = runner(clip[:, :, :2])
        second, _ = runner(clip[:, :, 2:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=2), whole)
    frames = clip.clone().requires_grad_(True)
    _, state = runner(frames[:, :, :2])
    assert all(not s.requires_grad for s in state)  # truncated BPTT: no path back into the first clip


def test_carrying_the_state_needs_online_mode(model) -> None:
    with pytest.raises(ConfigError, match="tbptt_clips"):
        ClipRunner(model, "buffer", carry_state=True)
