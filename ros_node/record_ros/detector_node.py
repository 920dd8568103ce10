"""``record_detector``: RECORD as a ROS 2 node, a thin rclpy layer over :class:`record.ros.core.DetectorCore`

Start it with its parameter file (rcl parses it; no launch system needed)::

    record_detector --ros-args --params-file launch/record.params.yaml [-p model.path:=model.onnx]
        [-r ~/input/radar:=/radar/adc]

Topics (private names; remap them like any ROS topic):

* in: ``input.topic`` (``sensor_msgs/Image``, raw ADC cubes or maps; layouts in :mod:`record.ros.core`),
  sensor-data QoS: best effort, keep last 1, so a slow node takes the newest frame, never a queue;
* out (reliable, keep last 10, header copied from the input): ``~/detections``
  (``vision_msgs/Detection3DArray``), ``~/markers`` (``visualization_msgs/MarkerArray``),
  ``~/segmentation/<view>`` (CARRADA ``mono8`` label maps), ``~/debug/processing_time_ms`` and
  ``~/debug/pipeline_latency_ms`` (``std_msgs/Float64``: callback time, and now minus the header stamp at
  publication), ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray`` every ``diagnostics.period_s``: rates,
  drops, resets, latency percentiles, backend). Markers and masks are only built when someone subscribes.

Start-up: parameters are read and checked (a missing or bad one stops the node with one line and exit
status 2), the runtime opened, the whole pipeline warmed up, then the input subscribed. ``model.build_only``
builds the TensorRT engine and exits. SIGINT / SIGTERM stop the node cleanly (exit 0).
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import rclpy
import rclpy.logging
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterUninitializedException,
)
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from .parameters import PARAMETERS, ParameterError, ParameterSpec, check_values

__all__ = ["INPUT_QOS", "NODE_NAME", "OUTPUT_QOS", "DetectorNode", "StartupError", "main", "run"]

NODE_NAME = "record_detector"
#: Sensor data, newest only: best effort, keep last 1, volatile.
INPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)
#: Outputs: reliable, keep last 10, volatile.
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
_TYPES = {"string": Parameter.Type.STRING, "integer": Parameter.Type.INTEGER, "double": Parameter.Type.DOUBLE,
          "bool": Parameter.Type.BOOL}


class StartupError(Exception):
    """The node cannot start (bad parameter, model, backend); the message is one line."""


def _descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(name=spec.name, type=int(_TYPES[spec.type].value),
                                     description=spec.describe(), read_only=True)
    if spec.bounds is not None and spec.type == "integer":
        descriptor.integer_range = [IntegerRange(from_value=int(spec.bounds[0]), to_value=int(spec.bounds[1]),
                                                 step=0)]
    elif spec.bounds is not None and spec.type == "double":
        descriptor.floating_point_range = [FloatingPointRange(from_value=float(spec.bounds[0]),
                                                              to_value=float(spec.bounds[1]), step=0.0)]
    if spec.choices:
        descriptor.additional_constraints = f"one of: {', '.join(spec.choices)}"
    return descriptor


class DetectorNode(Node):
    """Declares and checks the parameters, opens the runtime, warms up, subscribes; one frame per callback.

    Raises:
        StartupError: a missing / bad parameter, or a model or backend that cannot be opened.
    """

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self.params = self._read_parameters()
        self.build_only = bool(self.params["model.build_only"])
        if self.build_only:
            self._build_engine()
            return
        self._open_core()
        self._create_outputs()
        started = time.perf_counter()
        self.core.warmup(self.params["warmup.frames"])
        self.get_logger().info(f"warm-up: {self.params['warmup.frames']} frames in "
                               f"{(time.perf_counter() - started) * 1e3:.0f} ms")
        self._period_start = (time.monotonic(), self.core.statistics())
        self._diagnostics_timer = self.create_timer(self.params["diagnostics.period_s"],
                                                    self._publish_diagnostics)
        self._subscription = self.create_subscription(
            self._image_type, self.params["input.topic"], self._on_image, INPUT_QOS)
        info = self.core.runtime.info
        self.get_logger().info(
            f"ready: {info.model} ({self.core.spec.dataset}, {self.params['input.kind']} input) on "
            f"{info.backend} {info.device}, listening on {self._subscription.topic_name}")

    # ------------------------------------------------------------ start-up
    def _read_parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for spec in PARAMETERS:
            try:
                self.declare_parameter(spec.name, _TYPES[spec.type], _descriptor(spec))
                values[spec.name] = self.get_parameter(spec.name).value
            except ParameterUninitializedException:
                values[spec.name] = None
            except InvalidParameterTypeException as error:
                match = re.search(r"to '(.*)' of type '(\w+)'", str(error.args[0]))
                shown = f"{match[1]} ({match[2].lower()})" if match else "another type"
                hint = "; write 1.0, not 1" if spec.type == "double" else ""
                raise StartupError(f"parameter '{spec.name}' must be a {spec.type} (found {shown}{hint})"
                                   ) from None
            except InvalidParameterValueException as error:
                match = re.search(r"value \((.*)\) for parameter", str(error.args[0]))
                shown = match[1] if match else "?"
                low, high = spec.bounds or (float("nan"), float("nan"))
                raise StartupError(f"parameter '{spec.name}': {shown} is out of range [{low:g}, {high:g}]"
                                   ) from None
        try:
            check_values(values)
        except ParameterError as error:
            raise StartupError(str(error)) from None
        return values

    def _runtime_options(self) -> dict[str, Any]:
        backend, threads, cache_dir = (self.params["model.backend"], self.params["model.threads"],
                                       self.params["model.cache_dir"] or None)
        options: dict[str, Any] = {"device": self.params["model.device"], "streams": 1}
        if backend in ("onnxruntime", "openvino", "torch") and threads > 0:
            options["threads"] = threads
        if backend in ("onnxruntime", "openvino", "tensorrt") and cache_dir:
            options["cache_dir"] = cache_dir
        return options

    def _open_core(self) -> None:
        from sensor_msgs.msg import Image

        from record.errors import RecordError
        from record.ros.core import CoreConfig, DetectorCore
        from record.runtime import open_runtime

        self._image_type = Image
        path, backend = self.params["model.path"], self.params["model.backend"]
        try:
            runtime = open_runtime(path, backend, **self._runtime_options())
            self.core = DetectorCore(runtime, CoreConfig(
                input_kind=self.params["input.kind"],
                peak_threshold=self.params["postprocess.peak_threshold"],
                max_gap_s=self.params["state.max_gap_s"],
                max_age_s=self.params["input.max_age_s"],
                min_blob_cells=self.params["postprocess.min_blob_cells"],
                latency_window=self.params["diagnostics.latency_window"],
            ))
        except RecordError as error:
            raise StartupError(f"cannot open model.path {path!r} with model.backend {backend!r}: {error}"
                               ) from None

    def _build_engine(self) -> None:
        from pathlib import Path

        from record.errors import RecordError
        from record.runtime.registry import backend_class

        path, cache_dir = self.params["model.path"], self.params["model.cache_dir"] or None
        if Path(path).suffix.lower() in (".engine", ".plan"):
            raise StartupError(f"model.build_only: model.path must be the ONNX file or checkpoint to build "
                               f"from, not an engine (found {path!r})")
        try:
            backend_class("tensorrt")  # one line saying what to install when TensorRT is missing
            from record.runtime.cache import onnx_for_source
            from record.runtime.tensorrt_backend import engine_for

            onnx = onnx_for_source(path, cache_dir=cache_dir)
            engine = engine_for(onnx, cache_dir, max_streams=1, device=self.params["model.device"])
        except RecordError as error:
            raise StartupError(f"model.build_only: {error}") from None
        self.get_logger().info(f"TensorRT engine is built: {engine}; shutting down (model.build_only)")

    def _create_outputs(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import Float64
        from vision_msgs.msg import Detection3DArray
        from visualization_msgs.msg import MarkerArray

        from record.ros import messages

        self._messages = messages
        self._drop_log: dict[str, tuple[float, int]] = {}
        self._float64 = Float64
        self._detections_pub = self.create_publisher(Detection3DArray, "~/detections", OUTPUT_QOS)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", OUTPUT_QOS)
        self._mask_pubs = {}
        if self.core.spec.dataset == "carrada":
            views = [self.core.spec.output_view(t) if self.core.spec.multi_view else (t.view or "frame")
                     for t in self.core.spec.logits]
            self._mask_pubs = {
                view: self.create_publisher(self._image_type, f"~/segmentation/{view}", OUTPUT_QOS)
                for view in views}
        self._processing_pub = self.create_publisher(Float64, "~/debug/processing_time_ms", OUTPUT_QOS)
        self._latency_pub = self.create_publisher(Float64, "~/debug/pipeline_latency_ms", OUTPUT_QOS)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)

    # ------------------------------------------------------------ per frame
    def _on_image(self, msg: Any) -> None:
        started = time.perf_counter()
        messages = self._messages
        result = self.core.process(messages.input_image(msg), self.get_clock().now().nanoseconds)
        if not hasattr(result, "detections"):  # DroppedFrame
            self._log_drop(result)
            return
        if result.reset_reason not in (None, "first"):
            self.get_logger().info(f"state reset before frame {result.stamp_ns} ns: {result.reset_reason}")
        header = msg.header
        self._detections_pub.publish(messages.detections_message(result, header))
        if self._markers_pub.get_subscription_count() > 0:
            lifetime = self.params["markers.lifetime_s"]
            self._markers_pub.publish(messages.markers_message(result, header, lifetime))
        if self._mask_pubs and any(p.get_subscription_count() > 0 for p in self._mask_pubs.values()):
            for view, image in messages.mask_messages(result, header).items():
                if view in self._mask_pubs:
                    self._mask_pubs[view].publish(image)
        self._processing_pub.publish(self._float64(data=(time.perf_counter() - started) * 1e3))
        latency_ms = (self.get_clock().now().nanoseconds - result.stamp_ns) / 1e6
        self._latency_pub.publish(self._float64(data=latency_ms))

    def _log_drop(self, dropped: Any) -> None:
        """A warning per drop, at most one a second per kind of drop (stale, malformed, non_finite)."""
        now = time.monotonic()
        last, suppressed = self._drop_log.get(dropped.kind, (-1e9, 0))
        if now - last < 1.0:
            self._drop_log[dropped.kind] = (last, suppressed + 1)
            return
        more = f" (+{suppressed} more since the last message)" if suppressed else ""
        self.get_logger().warning(f"dropped frame (stamp {dropped.stamp_ns} ns, frame '{dropped.frame_id}'): "
                                  f"{dropped.reason}{more}")
        self._drop_log[dropped.kind] = (now, 0)

    def _publish_diagnostics(self) -> None:
        now, stats = time.monotonic(), self.core.statistics()
        then, before = self._period_start
        elapsed = max(now - then, 1e-9)
        resets_before = sum(before["resets"].values())
        stats["period"] = {
            "period_s": elapsed,
            "received": stats["received"] - before["received"],
            "processed": stats["processed"] - before["processed"],
            "dropped": stats["dropped"] - before["dropped"],
            "resets": sum(stats["resets"].values()) - resets_before,
            "input_hz": (stats["received"] - before["received"]) / elapsed,
            "output_hz": (stats["processed"] - before["processed"]) / elapsed,
        }
        stats["input_topic"] = self._subscription.topic_name
        self._period_start = (now, {k: v for k, v in stats.items() if k != "period"})
        stamp = self.get_clock().now().nanoseconds
        self._diagnostics_pub.publish(self._messages.diagnostics_message(
            stats, self._messages.make_header(stamp, ""), f"{self.get_name()}: radar object detection"))

    def close(self) -> None:
        """Release the runtime (the node itself is destroyed by :func:`run`)."""
        core = getattr(self, "core", None)
        if core is not None:
            core.runtime.close()


def run(args: Sequence[str] | None = None) -> int:
    """Run the node until SIGINT / SIGTERM; 0 on a clean stop or a finished build, 2 when it cannot start."""
    stop = threading.Event()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    node: DetectorNode | None = None
    try:
        node = DetectorNode()
        if node.build_only:
            return 0
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
        node.get_logger().info("stopping (signal)")
        return 0
    except StartupError as error:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {error}")
        return 2
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()


def main(args: Sequence[str] | None = None) -> None:
    """Console entry point ``record_detector``."""
    sys.exit(run(sys.argv if args is None else args))
