"""The parameters of ``record_detector``: one table, read by the node, the tests and the documentation.

Every parameter is declared with its type, description and range and without a default (Autoware style):
the parameter file (``launch/record.params.yaml``) is the only source, and a missing, mistyped or out-of-range
value stops the node with one line naming the parameter. This module imports no ROS package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BACKENDS", "INPUT_KINDS", "PARAMETERS", "ParameterError", "ParameterSpec", "check_values",
           "parameter_names", "read_params_file"]

#: ``model.backend`` choices (record.runtime backends).
BACKENDS = ("tensorrt", "onnxruntime", "openvino", "torch")
#: ``input.kind`` choices (record.ros.core.INPUT_KINDS).
INPUT_KINDS = ("adc", "maps")


class ParameterError(Exception):
    """A parameter is missing, of the wrong type, out of range or inconsistent (the message is one line)."""


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter.

    Attributes:
        name: dotted name (nested keys in the YAML).
        type: ``string``, ``integer``, ``double`` or ``bool``.
        description: what it does (shown by ``ros2 param describe``).
        choices: allowed values of a string parameter (empty: any).
        bounds: inclusive (low, high) of a number (None: any).
    """

    name: str
    type: str
    description: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None

    def describe(self) -> str:
        """The description with its constraint, as declared."""
        if self.choices:
            return f"{self.description} One of: {', '.join(self.choices)}."
        if self.bounds is not None:
            return f"{self.description} Range [{self.bounds[0]:g}, {self.bounds[1]:g}]."
        return self.description


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "model.path", "string",
        "Exported model: ONNX file from `record export`, project checkpoint (.pt, exported on first use) or "
        "TensorRT engine (.engine with its .json sidecar). Relative paths are relative to the working "
        "directory."),
    ParameterSpec("model.backend", "string", "Runtime backend.", choices=BACKENDS),
    ParameterSpec("model.device", "string",
                  "Device: cpu (onnxruntime, openvino, torch) or cuda / cuda:N (tensorrt, torch)."),
    ParameterSpec("model.threads", "integer",
                  "CPU threads of the onnxruntime / openvino / torch backend; 0 = the library's default.",
                  bounds=(0, 256)),
    ParameterSpec(
        "model.cache_dir", "string",
        "Folder for checkpoint exports and TensorRT engines; empty = the backend's default (engines beside "
        "the ONNX file, exports in ~/.cache/record/exports)."),
    ParameterSpec(
        "model.build_only", "bool",
        "Build (or validate the cached) TensorRT engine for this machine from model.path, then exit (needs "
        "model.backend tensorrt)."),
    ParameterSpec(
        "input.kind", "string",
        "What the input images hold: raw ADC cubes (run the signal chain) or precomputed model-input maps "
        "(layouts: record/ros/core.py).", choices=INPUT_KINDS),
    ParameterSpec("input.topic", "string",
                  "Input sensor_msgs/Image topic (sensor-data QoS: best effort, keep last 1)."),
    ParameterSpec(
        "input.max_age_s", "double",
        "Drop frames older than this when taken (now - header stamp), counted as stale; 0 = never.",
        bounds=(0.0, 3600.0)),
    ParameterSpec(
        "state.max_gap_s", "double",
        "Reset the recurrent state when consecutive header stamps are further apart than this (ROD2021 "
        "frames come every 33 ms, CARRADA every 100 ms).", bounds=(0.001, 3600.0)),
    ParameterSpec(
        "postprocess.peak_threshold", "double",
        "ROD2021: a confidence peak must exceed this to be a detection (published 0.3).",
        bounds=(0.0, 0.999)),
    ParameterSpec(
        "postprocess.min_blob_cells", "integer",
        "CARRADA: ignore connected components of a class in the RA label map smaller than this many cells.",
        bounds=(1, 65536)),
    ParameterSpec(
        "diagnostics.period_s", "double",
        "Period of the /diagnostics status (rates, drops, resets, latency percentiles, backend).",
        bounds=(0.05, 60.0)),
    ParameterSpec("diagnostics.latency_window", "integer",
                  "Frames over which latency percentiles are computed.", bounds=(1, 100000)),
    ParameterSpec(
        "markers.lifetime_s", "double",
        "Lifetime of the RViz markers; 0 = until replaced (every frame starts with DELETEALL).",
        bounds=(0.0, 60.0)),
    ParameterSpec(
        "warmup.frames", "integer",
        "Synthetic frames run through the whole pipeline before subscribing (JIT compilation, allocations); "
        "the state is reset afterwards.", bounds=(0, 100)),
)

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "double": (float,),
                                              "bool": (bool,)}


def parameter_names() -> list[str]:
    """Names of every declared parameter, in declaration order."""
    return [p.name for p in PARAMETERS]


def check_values(values: Mapping[str, Any]) -> None:
    """Check types, choices, bounds and the rules between parameters (what rclpy's descriptors do not).

    Raises:
        ParameterError: the first problem found, as one line naming the parameter.
    """
    for spec in PARAMETERS:
        if spec.name not in values or values[spec.name] is None:
            raise ParameterError(f"parameter '{spec.name}' is not set: give it in the params file "
                                 f"(--ros-args --params-file FILE); {spec.describe()}")
        value = values[spec.name]
        wrong_bool = isinstance(value, bool) != (spec.type == "bool")
        if wrong_bool or not isinstance(value, _PYTHON_TYPES[spec.type]):
            raise ParameterError(f"parameter '{spec.name}' must be a {spec.type} (found {value!r})")
        if spec.choices and value not in spec.choices:
            raise ParameterError(f"parameter '{spec.name}': unknown value {value!r} (expected one of "
                                 f"{', '.join(spec.choices)})")
        if spec.bounds is not None and not spec.bounds[0] <= value <= spec.bounds[1]:
            raise ParameterError(f"parameter '{spec.name}': {value!r} is out of range "
                                 f"[{spec.bounds[0]:g}, {spec.bounds[1]:g}]")
    if not str(values["model.path"]).strip():
        raise ParameterError("parameter 'model.path' is empty (expected an ONNX file, checkpoint or engine)")
    if values["model.build_only"] and values["model.backend"] != "tensorrt":
        raise ParameterError(f"parameter 'model.build_only' builds a TensorRT engine: set model.backend to "
                             f"tensorrt (found {values['model.backend']!r})")
    if not values["input.topic"].strip():
        raise ParameterError("parameter 'input.topic' is empty")


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def read_params_file(path: str | Path, node: str = "/**") -> dict[str, Any]:
    """The parameters a ROS 2 params file gives ``node`` (``/**`` wildcard or the node's name), flattened to
    dotted names (how rcl reads nested keys). Needs PyYAML."""
    import yaml

    document = yaml.safe_load(Path(path).read_text()) or {}
    section = document.get(node, {}) or {}
    return _flatten(section.get("ros__parameters", {}) or {})
