"""The online step exports to ONNX with explicit, named state inputs and outputs (docs/design.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from record.models import create_model
from record.models.export import StepModule


def test_step_module_names_and_flat_signature():
    model = create_model("mv_record").eval()
    step = StepModule(model)
    assert step.input_names[:4] == ["rd", "ra", "ad", "rd_h1_in"] and step.input_names[-1] == "ad_c2_in"
    assert step.output_names[:3] == ["rd_logits", "ra_logits", "rd_h1_out"] and len(step.output_names) == 14
    inputs = step.example_inputs(2, size=(16, 4))
    with torch.no_grad():
        outputs = step(*inputs)
        logits, state = model.step(dict(zip(("rd", "ra", "ad"), inputs[:3])), inputs[3:])
    torch.testing.assert_close(outputs[1], logits["ra"], rtol=0, atol=0)
    assert all(torch.equal(a, b) for a, b in zip(outputs[2:], state))
    assert StepModule(create_model("record_nolstm_single")).input_names == ["frame"]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "size"), [("record_rod2021", (32, 32)), ("mv_record", (16, 4))])
def test_onnx_export_runs_closed_loop_in_onnxruntime(name, size, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    step = StepModule(create_model(name).eval())
    inputs = step.example_inputs(1, size=size)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(step, inputs, path, input_names=step.input_names, output_names=step.output_names,
                          dynamo=True, external_data=False, opset_version=18)
    session = onnxruntime.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == step.input_names
    n_frames = len(step.input_names) - len(step.model.state_names)
    n_logits = len(step.output_names) - len(step.model.state_names)
    frames, torch_state = inputs[:n_frames], inputs[n_frames:]
    onnx_state = [t.numpy() for t in torch_state]
    for _ in range(3):  # each runtime feeds back its own state
        onnx_out = session.run(None, {**{n: f.numpy() for n, f in zip(step.input_names, frames)},
                                      **dict(zip(step.input_names[n_frames:], onnx_state))})
        with torch.no_grad():
            torch_out = step(*frames, *torch_state)
        onnx_state, torch_state = onnx_out[n_logits:], torch_out[n_logits:]
    for ours, theirs in zip(torch_out, onnx_out):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-4)
