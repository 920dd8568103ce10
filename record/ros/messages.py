"""Messages to and from :mod:`record.ros.core` records: shared by the ``record_detector`` node and bag tools.

Needs the ROS 2 message packages (``sensor_msgs``, ``std_msgs``, ``geometry_msgs``, ``vision_msgs``,
``visualization_msgs``, ``diagnostic_msgs``, ``builtin_interfaces``), not rclpy's node machinery, so it also
serves offline tools (serialise with ``rclpy.serialization.serialize_message``). :func:`input_image` reads
message fields by attribute only, so it takes rclpy messages and ``rosbags`` dataclasses alike.

Outputs:

* :func:`detections_message`: ``vision_msgs/Detection3DArray``, header copied from the input; per detection
  one ``ObjectHypothesisWithPose`` (``class_id`` = class name, ``score``, position in metres in the input's
  ``frame_id``, REP-103: ``x = r cos(az)`` forward, ``y = -r sin(az)`` left, ``z = 0``, identity orientation,
  covariance all zero = not estimated) and a ``bbox`` centred there with the class's nominal size
  (:data:`NOMINAL_SIZE_M`); ``id`` is empty (no tracking).
* :func:`markers_message`: ``visualization_msgs/MarkerArray`` for RViz: a ``DELETEALL`` first, then per
  detection a cylinder (namespace ``record/detections``) and a text label ``"<class> <score>"``
  (``record/labels``).
* :func:`mask_messages`: CARRADA label maps as ``mono8`` images, one per output view (class ids, background
  0).
* :func:`diagnostics_message`: one ``DiagnosticStatus`` with the core's statistics flattened into key/values.
* :func:`image_message`: the encoder of radar input images (raw ADC cubes, maps) for tests and publishers.
"""

from __future__ import annotations

import array
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from sensor_msgs.msg import Image
from std_msgs.msg import ColorRGBA, Header
from vision_msgs.msg import BoundingBox3D, Detection3D, Detection3DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker, MarkerArray

from record.errors import InputError, describe
from record.ros.core import FrameResult, InputImage

__all__ = [
    "CLASS_COLOURS",
    "NOMINAL_SIZE_M",
    "detections_message",
    "diagnostic_level",
    "diagnostics_message",
    "image_message",
    "input_image",
    "make_header",
    "markers_message",
    "mask_messages",
    "stamp_ns",
]

#: Nominal object size (x length, y width, z height) in metres per class name, for boxes and markers.
NOMINAL_SIZE_M: dict[str, tuple[float, float, float]] = {
    "pedestrian": (0.6, 0.6, 1.8),
    "cyclist": (1.8, 0.6, 1.7),
    "car": (4.5, 1.8, 1.5),
}
_DEFAULT_SIZE_M = (1.0, 1.0, 1.0)
#: Marker colour (r, g, b) per class name.
CLASS_COLOURS: dict[str, tuple[float, float, float]] = {
    "pedestrian": (1.0, 0.2, 0.2),
    "cyclist": (0.2, 1.0, 0.2),
    "car": (0.2, 0.4, 1.0),
}
_DEFAULT_COLOUR = (1.0, 1.0, 0.2)
_TEXT_HEIGHT_M = 0.5


# ------------------------------------------------------------ headers and stamps
def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` (``sec``, ``nanosec``) in nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def make_header(stamp: int, frame_id: str) -> Header:
    """A ``std_msgs/Header`` with ``stamp`` nanoseconds and ``frame_id``."""
    sec, nanosec = divmod(int(stamp), 1_000_000_000)
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def _header_of(result: FrameResult, given: Header | None) -> Header:
    return given if given is not None else make_header(result.stamp_ns, result.frame_id)


# ------------------------------------------------------------ input
def input_image(msg: Any) -> InputImage:
    """The fields of a ``sensor_msgs/Image`` (rclpy message or rosbags dataclass) without copying the data."""
    data = msg.data
    if not isinstance(data, (bytes, np.ndarray)):
        data = memoryview(data)  # rclpy's array.array('B'): a zero-copy view
    return InputImage(
        stamp_ns=stamp_ns(msg.header.stamp), frame_id=str(msg.header.frame_id), height=int(msg.height),
        width=int(msg.width), encoding=str(msg.encoding), is_bigendian=bool(msg.is_bigendian),
        step=int(msg.step), data=data,
    )


def _bytes_field(pixels: np.ndarray) -> array.array:
    """A ``uint8[]`` message field holding ``pixels``' bytes (an array.array, which rclpy takes as it is)."""
    field = array.array("B")
    field.frombytes(memoryview(np.ascontiguousarray(pixels)).cast("B"))
    return field


def image_message(data: np.ndarray, stamp: int, frame_id: str, encoding: str) -> Image:
    """Encode an array as a little-endian ``sensor_msgs/Image`` (the layouts of :mod:`record.ros.core`).

    Rows are all leading axes flattened, columns the last one (before the channel axis):

    * ``32FC2``: complex ``[..., W]`` (e.g. an ADC cube ``[loops, tx, rx, samples]``: row
      ``(loop * n_tx + tx) * n_rx + rx``), or float ``[..., W, 2]`` (real, imaginary; e.g. ROD2021 maps
      ``[4, 128, 128, 2]`` give 512 rows);
    * ``16SC2``: complex ``[..., W]`` rounded to int16 I/Q (values outside int16 raise), or integer
      ``[..., W, 2]``;
    * ``32FC1``: real ``[..., W]`` (e.g. :func:`record.ros.core.carrada_maps`);
    * ``mono8``: uint8 ``[H, W]``.

    Args:
        data: the array.
        stamp: header stamp in nanoseconds.
        frame_id: header frame id.
        encoding: one of the above.

    Raises:
        InputError: an array that does not fit the encoding.
    """
    array_in = np.asarray(data)
    where = f"image_message({encoding})"
    if encoding in ("32FC2", "16SC2"):
        if np.iscomplexobj(array_in):
            if array_in.ndim < 1:
                raise InputError(describe(where, "needs at least one axis", found=list(array_in.shape)))
            pairs = np.stack([array_in.real, array_in.imag], axis=-1)
        else:
            if array_in.ndim < 2 or array_in.shape[-1] != 2:
                raise InputError(describe(where, "real data needs a last axis of 2 (real, imaginary)",
                                          found=list(array_in.shape)))
            pairs = array_in
        if encoding == "32FC2":
            pixels = pairs.astype("<f4", copy=False)
        else:
            rounded = np.rint(pairs) if pairs.dtype.kind in "fc" else pairs
            if rounded.size and (rounded.min() < -32768 or rounded.max() > 32767):
                raise InputError(describe(where, "values outside int16",
                                          found=f"[{rounded.min()}, {rounded.max()}]"))
            pixels = rounded.astype("<i2")
        width = pixels.shape[-2] if pixels.ndim >= 2 else 1
        pixels = pixels.reshape(-1, width, 2)
    elif encoding == "32FC1":
        if np.iscomplexobj(array_in) or array_in.ndim < 1:
            raise InputError(describe(where, "needs a real array",
                                      found=f"{array_in.dtype} {list(array_in.shape)}"))
        pixels = array_in.astype("<f4", copy=False).reshape(-1, array_in.shape[-1], 1)
    elif encoding == "mono8":
        if array_in.ndim != 2:
            raise InputError(describe(where, "needs a 2-D array", found=list(array_in.shape)))
        pixels = array_in.astype(np.uint8, copy=False)[..., None]
    else:
        raise InputError(describe(where, "unsupported encoding", expected="32FC2, 16SC2, 32FC1 or mono8"))
    height, width = pixels.shape[:2]
    step = width * pixels.shape[2] * pixels.dtype.itemsize
    return Image(header=make_header(stamp, frame_id), height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=step, data=_bytes_field(pixels))


# ------------------------------------------------------------ outputs
def _positions(result: FrameResult) -> tuple[np.ndarray, np.ndarray]:
    table = result.detections
    return table.range_m * np.cos(table.azimuth_rad), -table.range_m * np.sin(table.azimuth_rad)


def detections_message(result: FrameResult, header: Header | None = None) -> Detection3DArray:
    """The detections of ``result`` as a ``vision_msgs/Detection3DArray`` (``header``: the input's)."""
    head = _header_of(result, header)
    table = result.detections
    xs, ys = _positions(result)
    detections = []
    for x, y, class_id, score in zip(xs.tolist(), ys.tolist(), table.class_id.tolist(), table.score.tolist()):
        name = table.classes[class_id]
        pose = Pose(position=Point(x=x, y=y, z=0.0), orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = name
        hypothesis.hypothesis.score = float(score)
        hypothesis.pose.pose = pose
        size = NOMINAL_SIZE_M.get(name, _DEFAULT_SIZE_M)
        bbox = BoundingBox3D(center=pose, size=Vector3(x=size[0], y=size[1], z=size[2]))
        detections.append(Detection3D(header=head, results=[hypothesis], bbox=bbox, id=""))
    return Detection3DArray(header=head, detections=detections)


def _duration(seconds: float) -> Duration:
    sec, nanosec = divmod(round(seconds * 1e9), 1_000_000_000)
    return Duration(sec=sec, nanosec=nanosec)


def markers_message(result: FrameResult, header: Header | None = None,
                    lifetime_s: float = 0.0) -> MarkerArray:
    """RViz markers: ``DELETEALL``, then a cylinder and a text label per detection (lifetime 0: forever)."""
    head = _header_of(result, header)
    table = result.detections
    lifetime = _duration(lifetime_s)
    markers = [Marker(header=head, action=Marker.DELETEALL)]
    xs, ys = _positions(result)
    for index, (x, y, class_id, score) in enumerate(
            zip(xs.tolist(), ys.tolist(), table.class_id.tolist(), table.score.tolist())):
        name = table.classes[class_id]
        length, width, height = NOMINAL_SIZE_M.get(name, _DEFAULT_SIZE_M)
        r, g, b = CLASS_COLOURS.get(name, _DEFAULT_COLOUR)
        diameter = max(length, width)
        body = Marker(header=head, ns="record/detections", id=index, type=Marker.CYLINDER, action=Marker.ADD,
                      pose=Pose(position=Point(x=x, y=y, z=0.0), orientation=Quaternion(w=1.0)),
                      scale=Vector3(x=diameter, y=diameter, z=height),
                      color=ColorRGBA(r=r, g=g, b=b, a=float(0.3 + 0.6 * score)), lifetime=lifetime)
        label = Marker(header=head, ns="record/labels", id=index, type=Marker.TEXT_VIEW_FACING,
                       action=Marker.ADD,
                       pose=Pose(position=Point(x=x, y=y, z=height / 2 + _TEXT_HEIGHT_M),
                                 orientation=Quaternion(w=1.0)),
                       scale=Vector3(z=_TEXT_HEIGHT_M), color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
                       lifetime=lifetime, text=f"{name} {score:.2f}")
        markers += [body, label]
    return MarkerArray(markers=markers)


def mask_messages(result: FrameResult, header: Header | None = None) -> dict[str, Image]:
    """CARRADA label maps as ``mono8`` images keyed by view (``{}`` for ROD2021)."""
    head = _header_of(result, header)
    out = {}
    for view, mask in result.masks.items():
        image = image_message(mask, 0, head.frame_id, "mono8")
        image.header = head
        out[view] = image
    return out


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items += _flatten(value, f"{name}.")
        elif isinstance(value, float):
            items.append((name, f"{value:.3f}" if math.isfinite(value) else str(value)))
        else:
            items.append((name, "" if value is None else str(value)))
    return items


def diagnostic_level(stats: Mapping[str, Any]) -> tuple[bytes, str]:
    """(level, message) of a status: WARN when the last period (``stats["period"]``, if given) dropped frames
    or received none, else OK."""
    period = stats.get("period") or {}
    latency = stats.get("processing_ms", {}).get("p99", float("nan"))
    if period and period.get("received", 0) == 0:
        return DiagnosticStatus.WARN, f"no input frames in the last {period.get('period_s', 0):.1f} s"
    if period.get("dropped", 0) > 0:
        return DiagnosticStatus.WARN, (f"dropped {period['dropped']} of {period['received']} frames in the "
                                       f"last {period.get('period_s', 0):.1f} s "
                                       f"(last: {stats.get('last_drop')})")
    rate = f", {period['output_hz']:.1f} Hz out" if "output_hz" in period else ""
    return DiagnosticStatus.OK, f"ok{rate}, p99 {latency:.1f} ms"


def diagnostics_message(stats: Mapping[str, Any], header: Header, name: str, *,
                        hardware_id: str | None = None) -> DiagnosticArray:
    """One ``DiagnosticStatus`` named ``name`` holding ``stats`` (nested keys joined with ``.``).

    The level and message come from :func:`diagnostic_level`; ``hardware_id`` defaults to the backend and its
    device.
    """
    level, message = diagnostic_level(stats)
    backend = stats.get("backend", {})
    default = f"{backend.get('backend', '?')}:{backend.get('device', '?')}"
    hardware = hardware_id if hardware_id is not None else default
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware,
                              values=[KeyValue(key=k, value=v) for k, v in _flatten(stats)])
    return DiagnosticArray(header=header, status=[status])
