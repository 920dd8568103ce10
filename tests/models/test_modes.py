"""Buffer vs online equivalence, independent streams in a batch, gradients through time."""

from __future__ import annotations

import pytest
import torch

from record.models import MVRecord, create_model, list_models

RECURRENT = ["record_rod2021", "record_carrada_rd", "mv_record"]


def _apply(inputs, function):
    """``function`` on a tensor, or on every view of a dict of them."""
    if isinstance(inputs, dict):
        return {view: function(tensor) for view, tensor in inputs.items()}
    return function(inputs)


def _flat(outputs):
    if isinstance(outputs, dict):
        return torch.cat([o.flatten(1) for o in outputs.values()], 1)
    return outputs.flatten(1)


def _setup(name, sizes, seed, batch, window=None):
    """A seeded model in eval mode, its small frame size and a random window (default: config.window)."""
    torch.manual_seed(seed)
    model = create_model(name).eval()
    size = sizes[name]
    return model, size, model.example_input(batch, window=window or model.config.window, size=size)


def _run_online(model, window, size):
    frames = next(iter(window.values())) if isinstance(window, dict) else window
    batch, _, length = frames.shape[:3]
    state = model.zero_state(batch, *size)
    outputs = []
    for t in range(length):
        logits, state = model.step(_apply(window, lambda frames, t=t: frames[:, :, t]), state)
        outputs.append(_flat(logits))
    return outputs, state


@pytest.mark.parametrize("name", list_models())
def test_buffer_output_equals_online_output_after_the_same_frames(name, small_sizes):
    model, size, window = _setup(name, small_sizes, seed=1, batch=2)
    with torch.no_grad():
        buffer_logits = _flat(model(window))
        online, _ = _run_online(model, window, size)
    torch.testing.assert_close(online[-1], buffer_logits, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", RECURRENT)
def test_buffer_mode_accepts_shorter_windows_like_the_online_prefix(name, small_sizes):
    model, size, window = _setup(name, small_sizes, seed=2, batch=1, window=4)
    with torch.no_grad():
        online, _ = _run_online(model, window, size)
        for length in (1, 2):
            prefix = _apply(window, lambda frames, n=length: frames[:, :, :n])
            torch.testing.assert_close(_flat(model(prefix)), online[length - 1], rtol=0, atol=1e-6)


def _replace_stream1(frames):
    changed = frames.clone()
    changed[1] = torch.randn_like(changed[1]) * 3
    return changed


@pytest.mark.parametrize("name", list_models())
def test_batch_entries_are_independent_streams(name, small_sizes):
    model, size, window = _setup(name, small_sizes, seed=3, batch=2)
    changed = _apply(window, _replace_stream1)
    with torch.no_grad():
        online, state = _run_online(model, window, size)
        online_changed, state_changed = _run_online(model, changed, size)
        buffer, buffer_changed = _flat(model(window)), _flat(model(changed))
    for a, b in zip(online, online_changed):
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=1e-6)
        assert not torch.allclose(a[1], b[1], atol=1e-4)
    for s, s_changed in zip(state, state_changed):
        torch.testing.assert_close(s[0], s_changed[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(buffer[0], buffer_changed[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", RECURRENT)
def test_gradients_flow_through_time_to_the_first_frame_and_the_lstms(name, small_sizes):
    model, _, window = _setup(name, small_sizes, seed=4, batch=1, window=3)
    model.train()
    window = _apply(window, lambda frames: frames.requires_grad_())
    _flat(model(window)).square().mean().backward()
    first_frames = _flat(_apply(window, lambda frames: frames.grad[:, :, 0].abs().sum((1, 2, 3))[:, None]))
    assert (first_frames > 0).all()
    encoders = [model.rd_encoder, model.ra_encoder, model.ad_encoder] if isinstance(model, MVRecord) else \
        [model.encoder]
    for encoder in encoders:
        for cell in (encoder.bottleneck_lstm1, encoder.bottleneck_lstm2):
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cell.parameters())


def test_online_gradients_flow_through_the_explicit_state():
    torch.manual_seed(5)
    model = create_model("record_rod2021").train()
    first = model.example_input(1, size=(16, 16)).requires_grad_()
    state = model.zero_state(1, 16, 16)
    _, state = model.step(first, state)
    logits, _ = model.step(model.example_input(1, size=(16, 16)), state)
    logits.sum().backward()
    assert first.grad.abs().sum() > 0


def test_nolstm_multi_stacks_frames_channel_major_like_the_published_loader():
    torch.manual_seed(6)
    model = create_model("record_nolstm_multi", in_channels=2, window=3).eval()
    window = model.example_input(1, window=3, size=(16, 16))
    channel_major = torch.stack([window[:, c, t] for c in range(2) for t in range(3)], dim=1)  # c * T + t
    time_major = torch.stack([window[:, c, t] for t in range(3) for c in range(2)], dim=1)
    with torch.no_grad():
        logits = model(window)
        features, _ = model.encoder(channel_major, ())
        torch.testing.assert_close(logits, model.decoder(*features), rtol=0, atol=0)
        features, _ = model.encoder(time_major, ())
        assert not torch.allclose(logits, model.decoder(*features), atol=1e-4)
