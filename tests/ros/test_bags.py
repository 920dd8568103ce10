"""record.ros.bags: rosbag2 round trips (sqlite3 and MCAP), atomic writing, errors that name the bag and
topic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: pip install -e '.[ros]'")
pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built: tools/build_vision_msgs.sh .venv")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import Image
from std_msgs.msg import Float64, String
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker, MarkerArray

from record.ros.bags import (
    SUPPORTED_TYPES,
    BagError,
    BagReader,
    BagWriter,
    bag_typestore,
    msgtype_of,
)

T0 = 1_700_000_000 * 10**9


def _stamp(msg, ns: int) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 10**9)
    msg.header.frame_id = "radar"


def _messages(i: int) -> dict[str, object]:
    """One message of every supported type for frame ``i``."""
    ns = T0 + i * 33_333_333
    cube = np.random.default_rng(i).standard_normal((16, 8, 2)).astype(np.float32)
    image = Image(height=16, width=8, encoding="32FC2", is_bigendian=0, step=8 * 8)
    image.data = cube.tobytes()
    _stamp(image, ns)
    dets = Detection3DArray()
    _stamp(dets, ns)
    hyp = ObjectHypothesisWithPose()
    hyp.hypothesis.class_id, hyp.hypothesis.score = "pedestrian", 0.25 + 0.5 * (i % 2)
    hyp.pose.pose.position.x, hyp.pose.pose.position.y = 10.0 + i, -2.5
    dets.detections.append(Detection3D(header=dets.header, results=[hyp], id=str(i)))
    marker = Marker(ns="record", id=i, type=Marker.SPHERE, action=Marker.ADD)
    marker.pose.position.x = 10.0 + i
    markers = MarkerArray(markers=[marker])
    diag = DiagnosticArray(status=[DiagnosticStatus(name="record_detector", level=DiagnosticStatus.OK,
                                                    values=[KeyValue(key="processed", value=str(i))])])
    _stamp(diag, ns)
    return {"/radar/adc": image, "/record_detector/detections": dets, "/record_detector/markers": markers,
            "/diagnostics": diag, "/record_detector/debug/processing_time_ms": Float64(data=1.5 * i)}


def _write(path: Path, storage: str, n: int = 3, **kwargs) -> dict[str, list]:
    sent: dict[str, list] = {}
    with BagWriter(path, storage=storage, **kwargs) as bag:
        for i in range(n):
            for topic, msg in _messages(i).items():
                ns = T0 + i * 33_333_333 + 1_000
                bag.write(topic, msg, timestamp_ns=ns)
                sent.setdefault(topic, []).append((ns, msg))
    return sent


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_round_trip_every_supported_type(tmp_path: Path, storage: str) -> None:
    path = tmp_path / f"run_{storage}"
    sent = _write(path, storage)
    assert {msgtype_of(msgs[0][1]) for msgs in sent.values()} == set(SUPPORTED_TYPES)
    suffix = ".mcap" if storage == "mcap" else ".db3"
    assert sorted(p.name for p in path.iterdir()) == sorted([f"{path.name}{suffix}", "metadata.yaml"])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial folder left behind
    with BagReader(path) as bag:
        assert bag.storage == storage
        assert bag.message_count == 15
        assert {name: (t.msgtype, t.count) for name, t in bag.topics.items()} == {
            topic: (msgtype_of(msgs[0][1]), 3) for topic, msgs in sent.items()
        }
        for topic, msgs in sent.items():
            got = bag.read(topic)
            assert [ns for ns, _ in got] == [ns for ns, _ in msgs]
            assert [m for _, m in got] == [m for _, m in msgs], topic  # field-by-field equality
        order = [m.timestamp_ns for m in bag.messages()]
        assert order == sorted(order)
    image = sent["/radar/adc"][1][1]
    with BagReader(path) as bag:
        back = bag.read("/radar/adc", "sensor_msgs/msg/Image")[1][1]
    np.testing.assert_array_equal(np.frombuffer(back.data, np.float32), np.frombuffer(image.data, np.float32))


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_other_tools_read_the_bags(tmp_path: Path, storage: str) -> None:
    """``rosbags``' AnyReader decodes them from the embedded definitions; hashes equal rosidl's."""
    from rosbags.highlevel import AnyReader

    path = tmp_path / "bag"
    sent = _write(path, storage, n=2)
    with AnyReader([path]) as reader:  # no typestore given: the definitions come from the bag
        decoded = {}
        for connection, _, raw in reader.messages():
            decoded.setdefault(connection.topic, []).append(reader.deserialize(raw, connection.msgtype))
        hashes = {c.msgtype: c.digest for c in reader.connections}
    det = decoded["/record_detector/detections"][1].detections[0].results[0]
    assert det.hypothesis.class_id == "pedestrian" and det.hypothesis.score == 0.75
    assert det.pose.pose.position.x == 11.0
    assert bytes(decoded["/radar/adc"][0].data) == bytes(sent["/radar/adc"][0][1].data)
    assert decoded["/record_detector/debug/processing_time_ms"][1].data == 1.5
    # the RIHS01 hashes in the bag are the ones rosidl generated for the installed packages
    share = Path(sys.prefix) / "share"
    for msgtype, digest in hashes.items():
        package, _, name = msgtype.split("/")
        described = share / package / "msg" / f"{name}.json"
        if described.is_file():
            expected = json.loads(described.read_text())["type_hashes"][0]["hash_string"]
            assert digest == expected, msgtype
    assert hashes["vision_msgs/msg/Detection3DArray"] == bag_typestore().hash_rihs01(
        "vision_msgs/msg/Detection3DArray")


def test_header_stamp_is_the_default_timestamp(tmp_path: Path) -> None:
    msgs = _messages(4)
    with BagWriter(tmp_path / "bag") as bag:
        bag.write("/radar/adc", msgs["/radar/adc"])
        with pytest.raises(BagError, match="Float64 has no header: pass timestamp_ns"):
            bag.write("/t", Float64(data=1.0))
    with BagReader(tmp_path / "bag") as bag:
        assert [ns for ns, _ in bag.read("/radar/adc")] == [T0 + 4 * 33_333_333]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bag"
    with pytest.raises(RuntimeError, match="boom"), BagWriter(path, storage="mcap") as bag:
        bag.write("/radar/adc", _messages(0)["/radar/adc"])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_bag_is_refused_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "bag"
    _write(path, "sqlite3", n=1)
    before = sorted((p.name, p.stat().st_size) for p in path.iterdir())
    with pytest.raises(BagError, match=r"bag: a bag \(or other file\) exists there already"):
        BagWriter(path, storage="mcap").open()
    assert sorted((p.name, p.stat().st_size) for p in path.iterdir()) == before
    # a failed overwrite keeps the old bag
    with pytest.raises(RuntimeError), BagWriter(path, storage="mcap", overwrite=True):
        raise RuntimeError("interrupted")
    assert sorted((p.name, p.stat().st_size) for p in path.iterdir()) == before
    _write(path, "mcap", n=2, overwrite=True)
    with BagReader(path) as bag:
        assert bag.storage == "mcap" and bag.message_count == 10
    assert [p.name for p in tmp_path.iterdir()] == ["bag"]


def test_reader_errors_name_the_bag_and_topic(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="nothing_here: bag not found"):
        BagReader(tmp_path / "nothing_here")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: [not, a, mapping\n")
    with pytest.raises(BagError, match="broken: not a readable rosbag2 bag"):
        BagReader(broken)
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(BagError, match="junk.mcap: not a readable rosbag2 bag"):
        BagReader(junk)
    path = tmp_path / "bag"
    _write(path, "sqlite3", n=1)
    with BagReader(path) as bag:
        with pytest.raises(BagError, match=r"bag: no topic /radar/raw .*one of the bag's topics: "
                                           r".*/radar/adc \(sensor_msgs/msg/Image\)"):
            bag.read("/radar/raw")
        with pytest.raises(BagError,
                           match="topic /radar/adc: wrong message type .*found sensor_msgs/msg/Image, "
                                 "expected vision_msgs/msg/Detection3DArray"):
            bag.read("/radar/adc", "vision_msgs/msg/Detection3DArray")
        with pytest.raises(BagError, match="no topic /missing"):
            list(bag.messages(["/radar/adc", "/missing"]))


def test_writer_errors_name_the_topic(tmp_path: Path) -> None:
    with BagWriter(tmp_path / "bag") as bag:
        with pytest.raises(BagError, match="topic /x: unknown message type foo_msgs/msg/Bar"):
            bag.add_topic("/x", "foo_msgs/msg/Bar")
        with pytest.raises(BagError, match="topic names in a bag are absolute"):
            bag.write("relative", String(data="a"), timestamp_ns=1)
        bag.write("/s", String(data="a"), timestamp_ns=1)  # any type of the typestore works
        with pytest.raises(BagError, match="topic /s: one topic holds one message type"):
            bag.write("/s", Float64(data=1.0), timestamp_ns=2)
        with pytest.raises(BagError, match="timestamp must be a non-negative int"):
            bag.write("/s", String(data="b"), timestamp_ns=-5)
    with pytest.raises(BagError, match="unknown storage plugin"):
        BagWriter(tmp_path / "other", storage="rosbag1")
    with BagReader(tmp_path / "bag") as bag:
        assert bag.topics["/s"].count == 1


def test_undecodable_payload_names_topic(tmp_path: Path) -> None:
    with BagWriter(tmp_path / "bag") as bag:
        bag.write_serialized("/radar/adc", b"\x00\x01\x00\x00\xff", T0, msgtype="sensor_msgs/msg/Image")
    with BagReader(tmp_path / "bag") as bag, pytest.raises(BagError, match="topic /radar/adc: message at"):
        bag.read("/radar/adc")
