"""The deployment spec: everything a runtime needs to run an exported online step, and nothing it must guess.

An exported model carries its spec as JSON: in the ONNX file's ``metadata_props`` under :data:`SPEC_KEY`, and
in the JSON sidecar of a TensorRT engine. The spec names the model, its classes and output activation, the
dataset / sensor its frames come from, how frames are laid out and normalised, and the names and per-stream
shapes of its frames, logits and recurrent state (docs/design.md: inputs ``frame`` or ``rd``/``ra``/``ad``,
then ``<state>_in``; outputs ``logits`` or ``rd_logits``/``ra_logits``, then ``<state>_out``), plus its
provenance (code version, the checkpoint's SHA-256). Shapes never include the batch (stream) axis, which is
dynamic in every export.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from record.classes import CARRADA_CLASSES, ROD2021_CLASSES
from record.data.carrada import TVT_STATS
from record.errors import CheckpointError, DataFormatError, describe

if TYPE_CHECKING:
    from record.models import StreamingModel

__all__ = [
    "PRECISIONS",
    "SPEC_FORMAT",
    "SPEC_KEY",
    "SPEC_VERSION",
    "DeploymentSpec",
    "TensorSpec",
    "build_spec",
    "read_spec",
]

SPEC_KEY = "record.deployment_spec"
SPEC_FORMAT = "record-deployment-spec"
SPEC_VERSION = 1
#: Numerical precision of an export's weights and arithmetic (its frames and states stay float32).
PRECISIONS = ("fp32", "fp16", "int8")

_MODEL_CONF = Path(__file__).resolve().parent.parent / "conf" / "model"

#: Frame layout per dataset and view, in words (units and orientation: record.sensors, docs/design.md).
_LAYOUTS = {
    ("rod2021", "frame"): "[B, 8, 128, 128] float32: 4 chirp loops (0, 64, 128, 192) x (real, imaginary) as "
                          "channels [c0_re, c0_im, c1_re, ...]; rows = range from 0.64 m (near first), "
                          "columns = azimuth from -90 deg, uniform in sin(azimuth); complex RA maps x 1e-4, "
                          "no normalisation",
    ("carrada", "rd"): "[B, 1, 256, 64] float32: range-Doppler dB map, row 0 = near, column 32 = zero "
                       "velocity (approaching above), min-max normalised",
    ("carrada", "ra"): "[B, 1, 256, 256] float32: range-angle dB map, row 0 = far, column 128 = boresight "
                       "(uniform in sin(angle)), min-max normalised",
    ("carrada", "ad"): "[B, 1, 256, 64] float32: angle-Doppler dB map, row 0 = -90 deg, column 32 = zero "
                       "velocity, min-max normalised",
}


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: its per-stream shape (no batch axis) and, for frames, layout and view."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    view: str | None = None
    layout: str | None = None

    @property
    def base_name(self) -> str:
        """The name without its ``_in`` / ``_out`` / ``_logits`` suffix (a state's or view's name)."""
        for suffix in ("_in", "_out", "_logits"):
            if self.name.endswith(suffix):
                return self.name.removesuffix(suffix)
        return self.name


@dataclass(frozen=True)
class DeploymentSpec:
    """What an exported online step is and how to feed it.

    Attributes:
        model: registry name (:func:`record.models.list_models`).
        dataset: ``rod2021`` or ``carrada``: where its frames come from (:mod:`record.sensors` capture).
        classes: output channels' class names, in channel order (CARRADA: background first).
        activation: ``sigmoid`` (independent class scores) or ``softmax`` (over the class axis).
        normalisation: per frame input, how raw maps become model inputs: ``{"kind": "none"}`` or
            ``{"kind": "min_max_db", "min_db": .., "max_db": ..}`` (``(x - min) / (max - min)``).
        frames, logits, states: frame inputs, logit outputs and recurrent state tensors (state names without
            the ``_in`` / ``_out`` suffix; the step reads ``<name>_in`` and writes ``<name>_out``).
        input_size: reference frame size (H, W) in bins the export was made for (MV-RECORD: the RD size).
        precision: ``fp32``, ``fp16`` or ``int8`` (weights and arithmetic; frames and states stay float32).
        provenance: code version, checkpoint file and SHA-256, exporter settings.
    """

    model: str
    dataset: str
    classes: tuple[str, ...]
    activation: str
    normalisation: dict[str, dict[str, Any]]
    frames: tuple[TensorSpec, ...]
    logits: tuple[TensorSpec, ...]
    states: tuple[TensorSpec, ...]
    input_size: tuple[int, int]
    precision: str = "fp32"
    provenance: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ names
    @property
    def input_names(self) -> list[str]:
        """Graph inputs in order: frames, then ``<state>_in``."""
        return [t.name for t in self.frames] + [f"{t.name}_in" for t in self.states]

    @property
    def output_names(self) -> list[str]:
        """Graph outputs in order: logits, then ``<state>_out``."""
        return [t.name for t in self.logits] + [f"{t.name}_out" for t in self.states]

    def check_graph_io(self, where: str, inputs: Sequence[tuple[str, Sequence[Any]]],
                       outputs: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Check a loaded graph's ``(name, shape with the batch axis)`` inputs and outputs against this spec.

        Raises:
            DataFormatError: names, order or per-stream shapes differ (``where`` names the file).
        """
        expected_in = ([(t.name, t.shape) for t in self.frames]
                       + [(f"{t.name}_in", t.shape) for t in self.states])
        expected_out = ([(t.name, t.shape) for t in self.logits]
                        + [(f"{t.name}_out", t.shape) for t in self.states])
        for kind, graph, expected in (("inputs", inputs, expected_in), ("outputs", outputs, expected_out)):
            found = [(name, tuple(shape[1:])) for name, shape in graph]
            if found != expected:
                raise DataFormatError(describe(where, f"graph {kind} do not match its deployment spec",
                                               found=found, expected=expected))

    @property
    def multi_view(self) -> bool:
        """True when frames and scores are dicts keyed by view (MV-RECORD)."""
        return len(self.frames) > 1 or len(self.logits) > 1

    def output_view(self, logits: TensorSpec) -> str:
        """The key of ``logits`` in a multi-view result (``rd`` for ``rd_logits``)."""
        return logits.base_name

    # ------------------------------------------------------------ JSON
    def to_json(self) -> str:
        return json.dumps({"format": SPEC_FORMAT, "format_version": SPEC_VERSION, **asdict(self)},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None, where: str) -> DeploymentSpec:
        """Parse a spec; raises DataFormatError naming ``where`` when it is missing, malformed or newer."""
        if text is None:
            raise DataFormatError(describe(where, "holds no RECORD deployment spec (not written by `record "
                                           "export`?)", expected=f"metadata key {SPEC_KEY!r}"))
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataFormatError(describe(where, f"deployment spec is not valid JSON ({error})")) from None
        if not isinstance(payload, Mapping) or payload.get("format") != SPEC_FORMAT:
            raise DataFormatError(describe(where, "not a RECORD deployment spec", expected=SPEC_FORMAT))
        version = payload.get("format_version")
        if version != SPEC_VERSION:
            raise DataFormatError(describe(where, "unsupported deployment spec version", found=version,
                                           expected=SPEC_VERSION))
        try:
            return cls(
                model=str(payload["model"]),
                dataset=str(payload["dataset"]),
                classes=tuple(payload["classes"]),
                activation=str(payload["activation"]),
                normalisation={str(k): dict(v) for k, v in payload["normalisation"].items()},
                frames=_tensors(payload["frames"]),
                logits=_tensors(payload["logits"]),
                states=_tensors(payload["states"]),
                input_size=tuple(payload["input_size"]),  # type: ignore[arg-type]
                precision=str(payload["precision"]),
                provenance=dict(payload["provenance"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataFormatError(describe(where, f"incomplete deployment spec ({error!r})")) from None

    def with_precision(self, precision: str, **provenance: Any) -> DeploymentSpec:
        """A copy at another precision, with ``provenance`` entries added."""
        return DeploymentSpec(**{**asdict(self), "frames": self.frames, "logits": self.logits,
                                 "states": self.states, "precision": precision,
                                 "provenance": {**self.provenance, **provenance}})


def _tensors(items: Sequence[Mapping[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(**{**item, "shape": tuple(item["shape"])}) for item in items)


def read_spec(path: str | os.PathLike[str]) -> DeploymentSpec:
    """The deployment spec of an exported ONNX file.

    Raises:
        DataFormatError: missing, truncated or corrupt file, or one without a RECORD spec.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(describe(path, "ONNX file not found"))
    try:
        proto = onnx.load_model(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf raises several unrelated types on corrupt input
        raise DataFormatError(describe(path, f"not a readable ONNX model ({type(error).__name__})")) from None
    props = {p.key: p.value for p in proto.metadata_props}
    return DeploymentSpec.from_json(props.get(SPEC_KEY), str(path))


# ------------------------------------------------------------ building a spec from a model
def _dataset_of(model: StreamingModel, trained: Mapping[str, Any] | None) -> str:
    """The training config's dataset layout, else the one the model's channels and classes fit."""
    layout = (trained or {}).get("dataset", {}).get("layout")
    if layout in ("rod2021", "carrada"):
        return str(layout)
    fits = {(8, 3): "rod2021", (1, 4): "carrada"}
    key = (model.config.in_channels, model.config.n_classes)
    if key not in fits:
        raise CheckpointError(describe(model.model_name, "cannot tell which dataset the model is for",
                                       found=f"{key[0]} input channels, {key[1]} classes",
                                       expected="8 channels / 3 classes (ROD2021) or 1 / 4 (CARRADA)"))
    return fits[key]


def _carrada_views(model: StreamingModel, trained: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Input views of a CARRADA model: its own (MV-RECORD), the training config's, or its model config's."""
    if model.input_views:
        return tuple(model.input_views)
    section = (trained or {}).get("model", {})
    if section.get("name") != model.model_name:
        conf = _MODEL_CONF / f"{model.model_name}.yaml"
        section = OmegaConf.to_container(OmegaConf.load(conf)) if conf.is_file() else {}
    views = tuple(str(v).lower() for v in section.get("views", []))
    if len(views) != 1:
        raise CheckpointError(describe(model.model_name, "single-view CARRADA model without one view",
                                       found=list(views), expected="[rd] or [ra]"))
    return views


def build_spec(model: StreamingModel, size: tuple[int, int] | None = None, *,
               trained: Mapping[str, Any] | None = None, provenance: Mapping[str, Any] | None = None
               ) -> DeploymentSpec:
    """The fp32 spec of ``model``'s online step at frame ``size`` (default ``config.input_size``).

    Args:
        model: the model to deploy.
        size: reference frame size (H, W) (MV-RECORD: the RD size; RA is 4x as wide).
        trained: the checkpoint's training run config (``metadata["config"]``), which names the dataset and
            views; None for converted or fresh weights.
        provenance: code version, checkpoint file and hash, ...
    """
    from record.models import StepModule  # torch: only for building a spec, not for reading one

    size = tuple(size or model.config.input_size)  # type: ignore[assignment]
    dataset = _dataset_of(model, trained)
    step = StepModule(model)
    example = step.example_inputs(1, size=size)
    n_frames = len(example) - len(model.state_names)
    views = _carrada_views(model, trained) if dataset == "carrada" else ("frame",)
    frames = tuple(
        TensorSpec(name, tuple(tensor.shape[1:]), view=view if dataset == "carrada" else None,
                   layout=_LAYOUTS[(dataset, view)])
        for name, view, tensor in zip(step.input_names[:n_frames], views, example[:n_frames]))
    if dataset == "carrada":
        normalisation = {t.name: {"kind": "min_max_db", "min_db": TVT_STATS[t.view].min_db,
                                  "max_db": TVT_STATS[t.view].max_db} for t in frames}
        output_views = model.output_views or views
    else:
        normalisation = {t.name: {"kind": "none"} for t in frames}
        output_views = ()
    height, width = size
    logit_shapes = _logit_shapes(model, height, width)
    logits = tuple(TensorSpec(name, shape, view=view or None)
                   for name, shape, view in zip(step.output_names, logit_shapes, output_views or (None,)))
    states = tuple(TensorSpec(name, tuple(shape[1:])) for name, shape in
                   zip(model.state_names, model.state_shapes(1, height, width)))
    classes = ROD2021_CLASSES if dataset == "rod2021" else CARRADA_CLASSES
    return DeploymentSpec(model=model.model_name, dataset=dataset, classes=tuple(classes),
                          activation=model.output_activation, normalisation=normalisation, frames=frames,
                          logits=logits, states=states, input_size=(height, width), precision="fp32",
                          provenance=dict(provenance or {}))


def _logit_shapes(model: StreamingModel, height: int, width: int) -> list[tuple[int, ...]]:
    """Per-stream logit shapes: a fully convolutional decoder restores each output view's frame size."""
    sizes = model.view_sizes(height, width)
    names = model.output_views or ("frame",)
    return [(model.config.n_classes, *sizes[name]) for name in names]
