"""record.ros.messages: input images and output messages, through CDR round trips (no DDS)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: pip install -e '.[ros]'")
pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built: tools/build_vision_msgs.sh .venv")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.serialization import deserialize_message, serialize_message
from vision_msgs.msg import Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray

from record.detections import ObjectTable
from record.errors import InputError
from record.ros.core import FrameResult, carrada_maps, rod2021_maps
from record.ros.messages import (
    NOMINAL_SIZE_M,
    detections_message,
    diagnostics_message,
    image_message,
    input_image,
    make_header,
    markers_message,
    mask_messages,
    stamp_ns,
)

STAMP = 1_700_000_123_456_789_012
CLASSES = ("pedestrian", "cyclist", "car")


def _roundtrip(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def _pixels(image) -> np.ndarray:
    return np.frombuffer(image.data, np.uint8)


def _result(masks: dict | None = None) -> FrameResult:
    table = ObjectTable(
        np.zeros(2, np.int64),
        np.array([2, 0]),
        np.array([10.0, 4.0]),
        np.array([0.3, -0.5]),
        np.array([0.9, 0.45]),
        CLASSES,
    )
    return FrameResult(STAMP, "radar_front", table, masks or {}, None, {"total": 1.0})


# ------------------------------------------------------------ input images
@pytest.mark.parametrize("loops", [255, 4])
def test_adc_cube_32fc2_rows_are_loop_tx_rx(loops: int) -> None:
    rng = np.random.default_rng(0)
    cube = (rng.standard_normal((loops, 2, 4, 128)) + 1j * rng.standard_normal((loops, 2, 4, 128))).astype(
        np.complex64
    )
    image = input_image(_roundtrip(image_message(cube, STAMP, "radar", "32FC2")))
    assert (image.height, image.width, image.step, image.encoding) == (loops * 8, 128, 128 * 8, "32FC2")
    assert (image.stamp_ns, image.frame_id, image.is_bigendian) == (STAMP, "radar", False)
    rows = np.frombuffer(image.data, "<f4").reshape(loops * 8, 128, 2)
    loop, tx, rx = loops - 1, 1, 2
    row = (loop * 2 + tx) * 4 + rx
    np.testing.assert_array_equal(rows[row, :, 0], cube[loop, tx, rx].real)
    np.testing.assert_array_equal(rows[row, :, 1], cube[loop, tx, rx].imag)


def test_adc_cube_16sc2_rounds_and_refuses_overflow() -> None:
    cube = np.array([[1.4 - 2.6j, 32767 + 0j], [-32768j, 0.5 + 0.5j]], np.complex64).reshape(1, 1, 2, 2)
    image = _roundtrip(image_message(cube, STAMP, "radar", "16SC2"))
    assert (image.height, image.width, image.step, image.encoding) == (2, 2, 8, "16SC2")
    words = np.frombuffer(bytes(image.data), "<i2").reshape(2, 2, 2)
    np.testing.assert_array_equal(words[..., 0], [[1, 32767], [0, 0]])
    np.testing.assert_array_equal(words[..., 1], [[-3, 0], [-32768, 0]])
    with pytest.raises(InputError, match="outside int16"):
        image_message(cube * 2, STAMP, "radar", "16SC2")


def test_maps_images() -> None:
    maps = np.random.default_rng(1).standard_normal((4, 128, 128, 2)).astype(np.float32)
    image = _roundtrip(image_message(maps, STAMP, "radar", "32FC2"))
    assert (image.height, image.width, image.encoding) == (512, 128, "32FC2")
    np.testing.assert_array_equal(np.frombuffer(bytes(image.data), "<f4").reshape(4, 128, 128, 2), maps)
    np.testing.assert_array_equal(rod2021_maps(maps), maps.reshape(512, 128, 2))

    views = {"rd": np.full((256, 64), 1.0), "ra": np.full((256, 256), 2.0), "ad": np.full((256, 64), 3.0)}
    side = carrada_maps(views)
    image = _roundtrip(image_message(side, STAMP, "radar", "32FC1"))
    assert (image.height, image.width, image.step, image.encoding) == (256, 384, 384 * 4, "32FC1")
    row = np.frombuffer(bytes(image.data), "<f4").reshape(256, 384)[7]
    assert (
        row[:64].tolist() == [1.0] * 64
        and row[64:320].tolist() == [2.0] * 256
        and row[320:].tolist() == [3.0] * 64
    )
    with pytest.raises(InputError, match="unsupported encoding"):
        image_message(side, STAMP, "radar", "rgb8")
    with pytest.raises(InputError, match="last axis of 2"):
        image_message(side, STAMP, "radar", "32FC2")


def test_input_image_reads_rosbags_messages_too() -> None:
    from rosbags.typesys import Stores, get_typestore

    typestore = get_typestore(Stores.ROS2_KILTED)
    msg = image_message(np.ones((8, 16), np.complex64), STAMP, "radar", "32FC2")
    bag_msg = typestore.deserialize_cdr(serialize_message(msg), "sensor_msgs/msg/Image")
    a, b = input_image(msg), input_image(bag_msg)
    assert (a.stamp_ns, a.frame_id, a.height, a.width, a.encoding, a.step) == (
        b.stamp_ns,
        b.frame_id,
        b.height,
        b.width,
        b.encoding,
        b.step,
    )
    assert bytes(a.data) == bytes(b.data)


def test_header_and_stamp_roundtrip() -> None:
    head = make_header(STAMP, "radar")
    assert (head.stamp.sec, head.stamp.nanosec) == divmod(STAMP, 10**9)
    assert stamp_ns(_roundtrip(head).stamp) == STAMP


# ------------------------------------------------------------ outputs
def test_detections_message_is_rep103_in_the_input_frame() -> None:
    head = make_header(STAMP, "radar_front")
    msg = _roundtrip(detections_message(_result(), head))
    assert isinstance(msg, Detection3DArray)
    assert msg.header == head and len(msg.detections) == 2
    car, pedestrian = msg.detections
    for det, name, score, r, az in (
        (car, "car", 0.9, 10.0, 0.3),
        (pedestrian, "pedestrian", 0.45, 4.0, -0.5),
    ):
        assert det.header == head and len(det.results) == 1
        hyp = det.results[0]
        assert hyp.hypothesis.class_id == name and hyp.hypothesis.score == pytest.approx(score)
        position = hyp.pose.pose.position
        assert (position.x, position.y, position.z) == pytest.approx(
            (r * math.cos(az), -r * math.sin(az), 0.0)
        )
        assert det.bbox.center.position == position and det.bbox.center.orientation.w == 1.0
        assert (det.bbox.size.x, det.bbox.size.y, det.bbox.size.z) == pytest.approx(NOMINAL_SIZE_M[name])
    assert pedestrian.results[0].hypothesis.score < car.results[0].hypothesis.score
    assert car.results[0].pose.pose.position.y < 0  # positive azimuth = the sensor's right = -y
    empty = FrameResult(STAMP, "radar", ObjectTable.empty(CLASSES), {}, None, {})
    assert detections_message(empty).detections == [] and detections_message(empty).header.frame_id == "radar"


def test_markers_message() -> None:
    msg = _roundtrip(markers_message(_result(), make_header(STAMP, "radar_front"), lifetime_s=0.25))
    assert isinstance(msg, MarkerArray) and len(msg.markers) == 1 + 2 * 2
    assert msg.markers[0].action == Marker.DELETEALL
    bodies = [m for m in msg.markers if m.type == Marker.CYLINDER]
    labels = [m for m in msg.markers if m.type == Marker.TEXT_VIEW_FACING]
    assert [m.id for m in bodies] == [0, 1] and [m.text for m in labels] == ["car 0.90", "pedestrian 0.45"]
    assert all(m.header.frame_id == "radar_front" and m.action == Marker.ADD for m in bodies + labels)
    assert (bodies[0].lifetime.sec, bodies[0].lifetime.nanosec) == (0, 250_000_000)
    assert bodies[0].pose.position.x == pytest.approx(10 * math.cos(0.3))
    assert bodies[0].scale.z == pytest.approx(NOMINAL_SIZE_M["car"][2])


def test_mask_messages_are_mono8_label_maps() -> None:
    masks = {
        "rd": np.random.default_rng(0).integers(0, 4, (256, 64), dtype=np.uint8),
        "ra": np.zeros((256, 256), np.uint8),
    }
    out = {
        view: _roundtrip(image)
        for view, image in mask_messages(_result(masks), make_header(STAMP, "r")).items()
    }
    assert set(out) == {"rd", "ra"}
    rd = out["rd"]
    assert (rd.height, rd.width, rd.step, rd.encoding, rd.header.frame_id) == (256, 64, 64, "mono8", "r")
    np.testing.assert_array_equal(_pixels(rd).reshape(256, 64), masks["rd"])
    assert mask_messages(_result()) == {}


def test_diagnostics_message_flattens_statistics() -> None:
    stats = {
        "received": 10,
        "processed": 9,
        "dropped": 1,
        "drops": {"stale": 0, "malformed": 1, "non_finite": 0},
        "resets": {"first": 1, "gap": 2},
        "last_drop": "malformed: height 3",
        "processing_ms": {"p99": 12.345},
        "backend": {"backend": "onnxruntime", "device": "cpu"},
    }
    head = make_header(STAMP, "")
    msg = _roundtrip(
        diagnostics_message(
            {**stats, "period": {"period_s": 1.0, "received": 5, "dropped": 0, "output_hz": 5.0}},
            head,
            "record_detector: radar",
        )
    )
    assert isinstance(msg, DiagnosticArray) and len(msg.status) == 1
    status = msg.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.OK and status.name == "record_detector: radar"
    assert status.hardware_id == "onnxruntime:cpu"
    assert (
        values["drops.malformed"] == "1"
        and values["resets.gap"] == "2"
        and values["processing_ms.p99"] == "12.345"
    )
    assert values["last_drop"] == "malformed: height 3" and values["period.output_hz"] == "5.000"
    warn = diagnostics_message({**stats, "period": {"period_s": 1.0, "received": 5, "dropped": 1}}, head, "x")
    assert warn.status[0].level == DiagnosticStatus.WARN and "dropped 1 of 5" in warn.status[0].message
    idle = diagnostics_message({**stats, "period": {"period_s": 2.0, "received": 0, "dropped": 0}}, head, "x")
    assert idle.status[0].level == DiagnosticStatus.WARN and "no input" in idle.status[0].message
