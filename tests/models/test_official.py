"""The published RECORD weights give the published outputs, in buffer and online mode (fixtures in
../shared/fixtures/official_record, produced by the official code at commit 52b6f37)."""

from __future__ import annotations

import pytest
import torch

from record.models import create_model
from record.models.inference import prepare_for_inference

ATOL = 1e-5

# (registry name, weights file, buffer output keys, online file or None when stored with the buffer outputs)
SINGLE_VIEW = [
    ("record_rod2021", "record_rod2021.pt", "record_oi_rod2021.pt"),
    ("record_carrada_rd", "record_rd_carrada.pt", None),
    ("record_carrada_ra", "record_ra_carrada.pt", None),
]
LAYOUTS = {"default": False, "channels_last": True}


def _build(name, official_record_dir, file_name, channels_last):
    model = create_model(name, checkpoint=official_record_dir / file_name).eval()
    return prepare_for_inference(model, channels_last=channels_last)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("name", "file_name", "online_file"), SINGLE_VIEW)
def test_single_view_buffer_and_online_match_the_published_outputs(
    name, file_name, online_file, layout, official_record_dir, load_official
):
    expected = load_official(file_name)
    online = load_official(online_file) if online_file else None
    online_logits = online["logits"] if online else expected["oi_logits"]
    online_scores = online["outputs"] if online else expected["oi_outputs"]
    model = _build(name, official_record_dir, file_name, LAYOUTS[layout])
    x = expected["input"]
    with torch.inference_mode():
        logits = model(x)
        state = model.zero_state(x.shape[0], *x.shape[-2:])
        steps = []
        for t in range(x.shape[2]):
            step_logits, state = model.step(x[:, :, t].clone(), state)
            steps.append(step_logits)
    torch.testing.assert_close(logits, expected["logits"], rtol=0, atol=ATOL)
    torch.testing.assert_close(torch.sigmoid(logits), expected["output"], rtol=0, atol=ATOL)
    torch.testing.assert_close(torch.stack(steps), online_logits, rtol=0, atol=ATOL)
    torch.testing.assert_close(torch.sigmoid(torch.stack(steps)), online_scores, rtol=0, atol=ATOL)
    torch.testing.assert_close(steps[-1], logits, rtol=0, atol=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_mv_record_buffer_and_online_match_the_published_outputs(layout, official_record_dir, load_official):
    expected = load_official("mv_record_carrada.pt")
    online = load_official("mv_record_oi_carrada.pt")
    model = _build("mv_record", official_record_dir, "mv_record_carrada.pt", LAYOUTS[layout])
    x = {view: expected[f"input_{view}"] for view in ("rd", "ra", "ad")}
    with torch.inference_mode():
        logits = model(x)
        state = model.zero_state(1, *x["rd"].shape[-2:])
        steps = []
        for t in range(x["rd"].shape[2]):
            step_logits, state = model.step({view: frames[:, :, t] for view, frames in x.items()}, state)
            steps.append(step_logits)
    for view in ("rd", "ra"):
        torch.testing.assert_close(logits[view], expected[f"output_{view}"], rtol=0, atol=ATOL)
        torch.testing.assert_close(torch.stack([s[view] for s in steps]), online[f"outputs_{view}"], rtol=0,
                                   atol=ATOL)
        torch.testing.assert_close(steps[-1][view], logits[view], rtol=0, atol=1e-6)


def test_the_recurrence_matters_for_the_fixture(official_record_dir, load_official):
    """A model ignoring its state would fail: the last frame alone gives a clearly different output."""
    expected = load_official("record_rod2021.pt")
    model = create_model("record_rod2021", checkpoint=official_record_dir / "record_rod2021.pt").eval()
    with torch.inference_mode():
        last_only = model(expected["input"][:, :, -1:])
    assert (last_only - expected["logits"]).abs().max() > 1e-2
