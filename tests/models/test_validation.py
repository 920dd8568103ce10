"""Bad inputs raise InputError naming what was found and expected, before any convolution runs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from record.errors import InputError
from record.models import create_model


@pytest.fixture
def conv_calls():
    """Builds a model whose convolutions log their calls; returns (model, calls)."""

    def build(name, **overrides):
        model = create_model(name, **overrides).eval()
        calls = []
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                module.register_forward_pre_hook(lambda *_: calls.append(1))
        return model, calls

    return build


def _raises(calls, match, function, *args):
    with pytest.raises(InputError, match=match):
        function(*args)
    assert not calls, "a convolution ran before the input was rejected"


SINGLE_VIEW_BAD_WINDOWS = [
    ((1, 3, 2, 32, 32), r"wrong channel count \(found 3, expected 8\)"),
    ((1, 8, 2, 30, 32), r"not divisible by the network stride \(found H x W = 30 x 32"),
    ((1, 8, 2, 32, 36), r"H divisible by 8 and W by 8"),
    ((1, 8, 32, 32), r"wrong rank 4 \(found \[1, 8, 32, 32\], expected \[B, 8, T, H, W\]"),
    ((1, 8, 0, 32, 32), r"empty tensor \(found \[1, 8, 0, 32, 32\]"),
]


@pytest.mark.parametrize(("shape", "match"), SINGLE_VIEW_BAD_WINDOWS)
def test_bad_windows_are_rejected(conv_calls, shape, match):
    model, calls = conv_calls("record_rod2021")
    _raises(calls, match, model, torch.zeros(shape))


def test_range_doppler_models_need_only_even_doppler_sizes(conv_calls):
    model, calls = conv_calls("record_carrada_rd")
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 1, 16, 2)).shape == (1, 4, 16, 2)
    calls.clear()
    _raises(calls, r"H divisible by 8 and W by 2", model, torch.zeros(1, 1, 1, 16, 3))


def test_bad_frames_and_states_are_rejected_by_step(conv_calls):
    model, calls = conv_calls("record_rod2021")
    frame, state = torch.zeros(2, 8, 32, 32), model.zero_state(2, 32, 32)
    _raises(calls, r"step: frame: wrong rank 5", model.step, torch.zeros(2, 8, 1, 32, 32), state)
    _raises(calls, "not a tensor", model.step, frame.numpy(), state)
    _raises(calls, r"wrong state \(found tuple of length 3, expected a tuple of 4 tensors \(h1, c1, h2, c2\)",
            model.step, frame, state[:3])
    _raises(calls, r"'h1': wrong shape .* \(found \[2, 32, 16, 16\], expected \[2, 32, 16, 8\]\)", model.step,
            torch.zeros(2, 8, 32, 16), state)
    _raises(calls, r"'h2': wrong shape .* \(found \[2, 64, 4, 4\], expected \[2, 64, 8, 8\]\)", model.step,
            frame, (*state[:2], torch.zeros(2, 64, 4, 4), state[3]))
    _raises(calls, r"'h1': wrong shape", model.step, torch.zeros(1, 8, 32, 32), state)
    _raises(calls, "'c2': dtype/device differs", model.step, frame, (*state[:3], state[3].double()))
    _raises(calls, "frame: dtype/device differs", model.step, frame.half(), state)
    _raises(calls, "'c1': not a tensor", model.step, frame, (state[0], None, *state[2:]))
    _raises(calls, "wrong state", model.step, frame, None)


def test_zero_state_rejects_sizes_the_network_cannot_take():
    with pytest.raises(InputError, match=r"found 30 x 32"):
        create_model("record_rod2021").zero_state(1, 30, 32)


def test_mv_record_views_must_agree(conv_calls):
    model, calls = conv_calls("mv_record")
    good = model.example_input(1, window=2, size=(16, 4))
    bad_ra = {**good, "ra": torch.zeros(1, 1, 2, 16, 8)}
    _raises(calls, r"inputs\['ra'\]: views disagree \(RA must be 4x as wide as RD/AD.*found \[1, 2, 16, 8\], "
            r"expected \[1, 2, 16, 16\]", model, bad_ra)
    _raises(calls, r"inputs\['ad'\]: views disagree", model, {**good, "ad": torch.zeros(1, 1, 2, 24, 4)})
    _raises(calls, r"inputs\['ra'\]: views disagree", model, {**good, "ra": torch.zeros(2, 1, 2, 16, 16)})
    _raises(calls, r"inputs\['ad'\]: views disagree", model, {**good, "ad": torch.zeros(1, 1, 3, 16, 4)})
    _raises(calls, r"expected a dict of views \(found \['ra', 'rd'\], expected \['rd', 'ra', 'ad'\]\)", model,
            {"rd": good["rd"], "ra": good["ra"]})
    _raises(calls, r"inputs\['rd'\]: wrong channel count", model, {**good, "rd": torch.zeros(1, 2, 2, 16, 4)})
    _raises(calls, "expected a dict of views", model, good["rd"])
    frames = model.example_input(1, size=(16, 4))
    state = model.zero_state(1, 16, 4)
    _raises(calls, r"'ra_h1': wrong shape", model.step, frames, (*state[:4], state[0], *state[5:]))
    _raises(calls, "wrong state", model.step, frames, state[:4])


def test_nolstm_models_check_the_number_of_stacked_frames(conv_calls):
    model, calls = conv_calls("record_nolstm_multi")
    _raises(calls, r"wrong number of frames T \(found 11, expected 12\)", model,
            torch.zeros(1, 8, 11, 16, 16))
    _raises(calls, r"'previous_frames': wrong shape", model.step, torch.zeros(1, 8, 16, 16),
            (torch.zeros(1, 8, 12, 16, 16),))
    single, calls = conv_calls("record_nolstm_single")
    _raises(calls, r"wrong state \(found tuple of length 1, expected a tuple of 0 tensors \(empty\)\)",
            single.step, torch.zeros(1, 8, 16, 16), (torch.zeros(1),))
