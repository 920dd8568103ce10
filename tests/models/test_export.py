"""StepModule: the online step with a flat signature and the names of docs/design.md (ONNX export and its
runtimes are tested in tests/runtime)."""

from __future__ import annotations

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
