"""ONNX export of the online step: explicit state inputs/outputs, dynamic batch, weights inside, spec
attached.

The graph is :class:`record.models.StepModule` traced by ``torch.export`` (the dynamo exporter): inputs are
the frames then ``<state>_in``, outputs the logits then ``<state>_out``, every one with a dynamic leading
batch (stream) axis and fixed spatial sizes. The file is self-contained (no external ``.onnx.data``), passes
``onnx.checker`` with full shape inference, carries its :class:`~record.runtime.spec.DeploymentSpec` under
:data:`~record.runtime.spec.SPEC_KEY`, and is written atomically.

FP16 (``fp16=True``): weights and arithmetic in half precision with float32 frames, logits and states at the
graph boundary (casts inside), the form TensorRT's strongly typed builds and TensorRT 11 expect; the recurrent
state is handed from frame to frame in float32. Normalisations stay in float32 (their reductions over a whole
feature map overflow or lose precision in FP16).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch
import torch.nn.functional as F

from record.errors import CheckpointError, ConfigError, InputError, describe
from record.fileio import atomic_path
from record.models import StepModule, StreamingModel, load_checkpoint_model, training_config
from record.provenance import code_version, file_sha256
from record.runtime.spec import SPEC_KEY, DeploymentSpec, build_spec

__all__ = [
    "DEFAULT_EXPORT_DIR",
    "OPSET",
    "ExportResult",
    "default_export_path",
    "export_model",
    "export_onnx",
    "spec_for_checkpoint",
]

#: ONNX opset of every export (>= 17 for LayerNormalization; inside TensorRT 10's supported 9..20).
OPSET = 18
#: Where ``record export`` writes when no ``--out`` is given (relative to the working directory).
DEFAULT_EXPORT_DIR = Path("export")
#: Ops kept in float32 in FP16 exports: normalisations (they reduce over whole feature maps) and Resize (its
#: scales input must stay float32).
_FP32_OPS = ["InstanceNormalization", "GroupNormalization", "LayerNormalization", "ReduceMean", "Resize"]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    spec: DeploymentSpec


def _provenance(checkpoint: Path, trained: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"checkpoint": str(checkpoint.resolve()), "checkpoint_sha256": file_sha256(checkpoint),
            "code_version": code_version(), "torch": torch.__version__, "opset": OPSET,
            "trained": trained is not None}


def spec_for_checkpoint(checkpoint: str | os.PathLike[str], size: tuple[int, int] | None = None
                        ) -> tuple[StreamingModel, DeploymentSpec]:
    """The checkpoint's model (CPU, eval mode) and its fp32 deployment spec at ``size``."""
    path = Path(checkpoint)
    model, payload = load_checkpoint_model(path)
    trained = training_config(payload)
    spec = build_spec(model, _checked_size(model, size), trained=trained,
                      provenance=_provenance(path, trained))
    return model, spec


def _checked_size(model: StreamingModel, size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        model.state_shapes(1, *size)  # validates divisibility by the network stride
    except InputError as error:
        raise ConfigError(describe("export size", f"does not fit {model.model_name}: {error}",
                                   found=list(size))) from None
    return (int(size[0]), int(size[1]))


def default_export_path(spec: DeploymentSpec, folder: str | os.PathLike[str] = DEFAULT_EXPORT_DIR) -> Path:
    """``<folder>/<model>_<H>x<W>_<precision>.onnx``."""
    height, width = spec.input_size
    return Path(folder) / f"{spec.model}_{height}x{width}_{spec.precision}.onnx"


def _trace(model: StreamingModel, spec: DeploymentSpec) -> onnx.ModelProto:
    """The dynamo export of the online step with a dynamic batch axis, in memory."""
    step = StepModule(model).eval()
    inputs = step.example_inputs(2, size=spec.input_size)  # batch 2 so the traced batch is not specialised
    batch = torch.export.Dim("batch", min=1, max=1024)
    dynamic = ({0: batch} for _ in inputs)
    with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_exporter_logs(),
          _accurate_group_norm()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(step, inputs, input_names=step.input_names,
                                    output_names=step.output_names, dynamic_shapes=(tuple(dynamic),),
                                    dynamo=True, external_data=False, opset_version=OPSET, verbose=False)
    return program.model_proto


def _separate_outputs(proto: onnx.ModelProto) -> None:
    """Let graph outputs that nodes also read (the new state feeds the next layer) be Identity copies of an
    internal tensor, so that casting an output back to float32 leaves its internal readers in FP16."""
    outputs = {o.name for o in proto.graph.output}
    read = {name for node in proto.graph.node for name in node.input} & outputs
    for node in list(proto.graph.node):
        for index, name in enumerate(node.output):
            if name in read:
                node.output[index] = f"{name}__value"
    for node in proto.graph.node:
        for index, name in enumerate(node.input):
            if name in read:
                node.input[index] = f"{name}__value"
    proto.graph.node.extend(onnx.helper.make_node("Identity", [f"{name}__value"], [name], name=f"{name}_copy")
                            for name in sorted(read))


@contextlib.contextmanager
def _accurate_group_norm() -> Iterator[None]:
    """Trace GroupNorm as explicit two-pass statistics, each mean reduced in two stages (rows, then the rest).

    The exporter writes GroupNorm as InstanceNormalization over ``[N, G, -1]``, and ONNX Runtime's CPU kernels
    (InstanceNormalization, and ReduceMean over one long axis) sum up to 0.5 M float32 values in one running
    sum. On MV-RECORD's range-angle branch, whose first feature maps have a large mean against their spread,
    that gave 3.5e-4 absolute error in the state after one frame (PyTorch: 1e-6). Centring on the mean and
    reducing each row first brings it to 3.5e-6, for about 10 % more step time on the CPU. The function is
    unchanged: ``(x - mean) / sqrt(var + eps) * weight + bias`` per group.
    """
    original = F.group_norm

    def two_pass(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
                 bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
        groups = x.reshape(x.shape[0], num_groups, -1, x.shape[-1])
        centred_x = groups - groups.mean(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
        variance = (centred_x * centred_x).mean(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
        y = (centred_x * torch.rsqrt(variance + eps)).reshape(x.shape)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if weight is not None:
            y = y * weight.reshape(shape)
        return y if bias is None else y + bias.reshape(shape)

    F.group_norm = two_pass
    try:
        yield
    finally:
        F.group_norm = original


@contextlib.contextmanager
def _quiet_exporter_logs() -> Iterator[None]:
    """Silence the exporter's warnings about optional libraries (torchvision ops) it does not need."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


#: Element-wise ops of the LSTM state update (c' = f c + i g, h' = o phi(c')), walked back from the state
#: outputs.
_STATE_UPDATE_OPS = {"Identity", "Mul", "Add", "Sub", "LeakyRelu", "Relu"}


def _state_update_nodes(proto: onnx.ModelProto, state_outputs: list[str]) -> list[str]:
    """Names of the element-wise nodes that compute the state outputs from the gates and the previous state
    (not the Identity copies that :func:`_separate_outputs` puts at the graph outputs)."""
    producer = {output: node for node in proto.graph.node for output in node.output}
    visited: set[str] = set()
    found: list[str] = []
    frontier = list(state_outputs)
    while frontier:
        node = producer.get(frontier.pop())
        if node is None or node.op_type not in _STATE_UPDATE_OPS or node.name in visited:
            continue
        visited.add(node.name)
        found += [] if node.op_type == "Identity" else [node.name]
        frontier.extend(node.input)
    return found


def _to_fp16(proto: onnx.ModelProto, spec: DeploymentSpec) -> onnx.ModelProto:
    """FP16 weights and arithmetic, float32 I/O; normalisations and the recurrent state update stay float32
    (the cell state reaches hundreds and accumulates over frames: in FP16 it drifts by 10 % of its magnitude
    within 40 frames)."""
    from onnxconverter_common import float16

    _separate_outputs(proto)
    state_outputs = [f"{t.name}_out" for t in spec.states]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blocked = [*float16.DEFAULT_OP_BLOCK_LIST, *_FP32_OPS]
        return float16.convert_float_to_float16(proto, keep_io_types=True, op_block_list=blocked,
                                                node_block_list=_state_update_nodes(proto, state_outputs))


def export_model(model: StreamingModel, spec: DeploymentSpec, out: str | os.PathLike[str], *,
                 fp16: bool = False) -> ExportResult:
    """Export ``model``'s online step as described by its fp32 ``spec`` to ``out`` (atomically)."""
    proto = _trace(model.float().eval(), spec)
    if fp16:
        spec = spec.with_precision("fp16", converted="onnxconverter_common.float16, float32 I/O")
        proto = _to_fp16(proto, spec)
    _check_names(proto, spec)
    proto.doc_string = f"RECORD online step: {spec.model} ({spec.dataset}, {spec.precision})"
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {SPEC_KEY: spec.to_json(), "model": spec.model,
                                        "classes": ",".join(spec.classes), "precision": spec.precision})
    onnx.checker.check_model(proto, full_check=True)
    path = Path(out)
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return ExportResult(path, spec)


def export_onnx(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                fp16: bool = False, size: tuple[int, int] | None = None) -> ExportResult:
    """Export a project checkpoint's online step to ONNX (default path: :func:`default_export_path`)."""
    model, spec = spec_for_checkpoint(checkpoint, size)
    if out is None:
        out = default_export_path(spec.with_precision("fp16") if fp16 else spec)
    return export_model(model, spec, out, fp16=fp16)


def _check_names(proto: onnx.ModelProto, spec: DeploymentSpec) -> None:
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    if inputs != spec.input_names or outputs != spec.output_names:
        raise CheckpointError(describe(spec.model, "exported graph does not have the spec's I/O names",
                                       found=(inputs, outputs),
                                       expected=(spec.input_names, spec.output_names)))
