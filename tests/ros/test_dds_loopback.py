"""Real rclpy over real Fast DDS between two processes, confined to the loopback by the ``ros_ns`` harness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

#: Seconds a test process waits for its peer before giving up (each test stays well under ~20 s).
PEER_TIMEOUT = 12.0

# Preamble of every snippet. argv: publisher ``SENT TIMEOUT``, subscriber ``SENT RECEIVED TIMEOUT``.
_COMMON = """
import json, sys, time
import rclpy
from rclpy.serialization import deserialize_message, serialize_message

sent_path, timeout = sys.argv[1], float(sys.argv[-1])

def spin_until(node, cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.02)
    return cond()

def wait_for_subscriber(node, pub):
    if not spin_until(node, lambda: pub.get_subscription_count() > 0, timeout):
        sys.exit(node.get_name() + ": no subscriber matched")

def receive_one(node, msg_type, topic, qos):
    got = []
    node.create_subscription(msg_type, topic, got.append, qos)
    if not spin_until(node, lambda: bool(got), timeout):
        sys.exit(node.get_name() + ": nothing received")
    return got[0]

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)

rclpy.init()
"""
_END = """
node.destroy_node()
rclpy.shutdown()
"""

_DETECTION_PUBLISHER = (
    _COMMON
    + """
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose

node = rclpy.create_node("loopback_detection_publisher")
pub = node.create_publisher(Detection3DArray, "detections", 10)  # reliable, volatile
msg = Detection3DArray()
msg.header.frame_id = "radar"
msg.header.stamp.sec, msg.header.stamp.nanosec = 1234, 567000000
det = Detection3D(header=msg.header, id="track-7")
hyp = ObjectHypothesisWithPose()
hyp.hypothesis.class_id, hyp.hypothesis.score = "pedestrian", 0.875
hyp.pose.pose.position.x, hyp.pose.pose.position.y, hyp.pose.pose.position.z = 12.5, -3.25, 0.5
hyp.pose.pose.orientation.z, hyp.pose.pose.orientation.w = 0.6, 0.8
hyp.pose.covariance = [float(i) / 8 for i in range(36)]
det.results.append(hyp)
det.bbox.center = hyp.pose.pose
det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = 0.6, 0.6, 1.8
msg.detections.append(det)
write(sent_path, serialize_message(msg))

wait_for_subscriber(node, pub)
pub.publish(msg)  # once: reliable QoS must deliver it
# Stay until the subscriber has its message and leaves (a reliable writer may need to resend).
spin_until(node, lambda: pub.get_subscription_count() == 0, timeout)
"""
    + _END
)

_DETECTION_SUBSCRIBER = (
    _COMMON
    + """
from vision_msgs.msg import Detection3DArray

node = rclpy.create_node("loopback_detection_subscriber")
msg = receive_one(node, Detection3DArray, "detections", 10)
write(sys.argv[2], serialize_message(msg))
# The publisher wrote its message before publishing. Compare messages, not CDR bytes: the serialiser
# leaves alignment padding uninitialised, so two serialisations of equal messages may differ there.
with open(sent_path, "rb") as f:
    sent = deserialize_message(f.read(), Detection3DArray)
det = msg.detections[0]
hyp = det.results[0]
p, q = hyp.pose.pose.position, hyp.pose.pose.orientation
print(json.dumps({
    "equal": msg == sent, "frame_id": msg.header.frame_id,
    "stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec], "n": len(msg.detections), "id": det.id,
    "class_id": hyp.hypothesis.class_id, "score": hyp.hypothesis.score, "position": [p.x, p.y, p.z],
    "orientation": [q.x, q.y, q.z, q.w], "covariance": list(hyp.pose.covariance),
    "size": [det.bbox.size.x, det.bbox.size.y, det.bbox.size.z],
}))
"""
    + _END
)

# One raw ROD2021-sized cube: 255 loops x 2 Tx x 4 Rx rows of 128 complex64 samples, as 32FC2 (2 MB).
_IMAGE_ROWS, _IMAGE_COLS = 255 * 2 * 4, 128

_IMAGE_PUBLISHER = (
    _COMMON
    + f"""
import numpy as np
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

node = rclpy.create_node("loopback_image_publisher")
pub = node.create_publisher(Image, "radar_cube", qos_profile_sensor_data)  # best effort, depth 5
cube = np.random.default_rng(0).standard_normal(({_IMAGE_ROWS}, {_IMAGE_COLS}, 2)).astype(np.float32)
msg = Image(height={_IMAGE_ROWS}, width={_IMAGE_COLS}, encoding="32FC2", is_bigendian=0, \
step={_IMAGE_COLS} * 8)
msg.header.frame_id = "radar"
msg.data = cube.tobytes()
write(sent_path, cube.tobytes())

wait_for_subscriber(node, pub)
# Best effort: no resends, so publish every 100 ms until the subscriber has one and leaves.
deadline = time.monotonic() + timeout
while pub.get_subscription_count() > 0 and time.monotonic() < deadline:
    pub.publish(msg)
    spin_until(node, lambda: False, 0.1)
"""
    + _END
)

_IMAGE_SUBSCRIBER = (
    _COMMON
    + """
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

node = rclpy.create_node("loopback_image_subscriber")
msg = receive_one(node, Image, "radar_cube", qos_profile_sensor_data)
write(sys.argv[2], msg.data.tobytes())
print(json.dumps({"height": msg.height, "width": msg.width, "encoding": msg.encoding, "step": msg.step,
                  "is_bigendian": msg.is_bigendian, "frame_id": msg.header.frame_id}))
"""
    + _END
)


def _exchange(ros_ns, publisher: str, subscriber: str, tmp_path: Path) -> tuple[bytes, bytes, dict]:
    """Start subscriber then publisher in one namespace; (sent bytes, received bytes, subscriber's JSON).

    The publisher writes what it sends to SENT before publishing; the subscriber writes what it received
    to RECEIVED and prints one JSON line.
    """
    sent, received = tmp_path / "sent.bin", tmp_path / "received.bin"
    sub = ros_ns.python(subscriber, sent, received, str(PEER_TIMEOUT))
    pub = ros_ns.python(publisher, sent, str(PEER_TIMEOUT))
    sub_out, sub_err = sub.communicate(timeout=PEER_TIMEOUT + 8)
    pub_out, pub_err = pub.communicate(timeout=PEER_TIMEOUT + 8)
    where = f"isolated={ros_ns.isolated} ROS_DOMAIN_ID={ros_ns.domain_id}"
    assert sub.returncode == 0, f"subscriber failed ({where}):\n{sub_out}\n{sub_err}"
    assert pub.returncode == 0, f"publisher failed ({where}):\n{pub_out}\n{pub_err}"
    return sent.read_bytes(), received.read_bytes(), json.loads(sub_out.strip().splitlines()[-1])


def test_detection3darray_crosses_between_processes(ros_ns, tmp_path: Path) -> None:
    sent, received, fields = _exchange(ros_ns, _DETECTION_PUBLISHER, _DETECTION_SUBSCRIBER, tmp_path)
    assert fields["equal"], fields  # the received message == the sent one, field by field
    assert len(received) == len(sent)  # CDR serialisations (their padding bytes may differ)
    assert fields["n"] == 1
    assert fields["frame_id"] == "radar" and fields["stamp"] == [1234, 567000000]
    assert fields["id"] == "track-7"
    assert fields["class_id"] == "pedestrian" and fields["score"] == 0.875
    assert fields["position"] == [12.5, -3.25, 0.5]
    assert fields["orientation"] == [0.0, 0.0, 0.6, 0.8]
    assert fields["covariance"] == [i / 8 for i in range(36)]
    assert fields["size"] == pytest.approx([0.6, 0.6, 1.8])


def test_2mb_32fc2_image_crosses_byte_identical_with_sensor_qos(ros_ns, tmp_path: Path) -> None:
    sent, received, fields = _exchange(ros_ns, _IMAGE_PUBLISHER, _IMAGE_SUBSCRIBER, tmp_path)
    assert len(sent) == _IMAGE_ROWS * _IMAGE_COLS * 8 > 2_000_000
    assert received == sent
    assert fields == {
        "height": _IMAGE_ROWS,
        "width": _IMAGE_COLS,
        "encoding": "32FC2",
        "step": _IMAGE_COLS * 8,
        "is_bigendian": 0,
        "frame_id": "radar",
    }


def test_namespace_holds_only_the_loopback_and_is_shared(ros_netns) -> None:
    assert 0 <= ros_netns.domain_id <= 101
    assert ros_netns.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert ros_netns.env["ROS_DOMAIN_ID"] == str(ros_netns.domain_id)
    assert ros_netns.env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"
    if not ros_netns.isolated:
        pytest.skip("no private network namespace here (needs root and unshare --net); env vars only")
    links = ros_netns.run(["ip", "-o", "link"], check=True).stdout.splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"], links
    assert ",UP" in links[0] or "<UP" in links[0], links
    # Processes started one after the other share one namespace, which is not the test runner's.
    first = ros_netns.run(["readlink", "/proc/self/ns/net"], check=True).stdout.strip()
    second = ros_netns.popen(["readlink", "/proc/self/ns/net"]).communicate(timeout=10)[0].strip()
    assert first == second != os.readlink("/proc/self/ns/net")
