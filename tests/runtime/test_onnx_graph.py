"""GroupNorm fusion of the exported step (record/runtime/onnx_graph.py)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from record.runtime.onnx_graph import GROUP_NORM_OPSET, fuse_group_norms
from record.runtime.spec import read_spec


def _run(proto: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


@pytest.mark.parametrize("name", ["record_rod2021", "mv_record"])
def test_every_exported_group_norm_becomes_one_node_with_the_same_outputs(name, small_export):
    path = small_export(name).path
    original = onnx.load(str(path))
    fused = onnx.load(str(path))
    count = fuse_group_norms(fused)
    ops = [node.op_type for node in fused.graph.node]
    norms = [node.op_type for node in original.graph.node].count("Sqrt")  # one per exported GroupNorm
    assert count == norms == ops.count("GroupNormalization") > 0
    assert "Sqrt" not in ops and "ReduceMean" not in ops
    assert next(o.version for o in fused.opset_import if o.domain in ("", "ai.onnx")) == GROUP_NORM_OPSET
    onnx.checker.check_model(fused, full_check=True)
    read = {name for node in fused.graph.node for name in node.input}
    assert all(t.name in read for t in fused.graph.initializer)  # the old shapes and eps constants went
    spec = read_spec(path)
    rng = np.random.default_rng(0)
    feeds = {t.name: rng.random((2, *t.shape), dtype=np.float32) * 4 + 1 for t in spec.frames}
    feeds |= {f"{t.name}_in": rng.standard_normal((2, *t.shape)).astype(np.float32) for t in spec.states}
    for expected, found in zip(_run(original, feeds), _run(fused, feeds)):
        np.testing.assert_allclose(found, expected, atol=2e-5, rtol=0)


def test_a_graph_without_the_pattern_is_left_alone(small_export):
    proto = onnx.load(str(small_export("record_nolstm_single").path))
    for node in proto.graph.node:  # break every norm's chain: its variance is no longer a mean of squares
        if node.op_type == "Mul" and node.input[0] == node.input[1]:
            node.op_type = "Add"
    before = proto.SerializeToString()
    assert fuse_group_norms(proto) == 0
    assert proto.SerializeToString() == before
