"""DDS-side helpers for tests and benchmarks of the live node (run them inside a :mod:`record.ros.sandbox`).

``python -m record.ros.probe latency FRAMES.npy --topic /radar/adc --detections /record_detector/detections
[--rate HZ] [--frames N] [--warmup N] [--encoding 32FC2|16SC2|32FC1]``
    Publishes raw ADC cubes (``FRAMES.npy``: complex ``[K, loops, tx, rx, samples]``, cycled; or real maps
    ``[K, H, W]`` with ``32FC1``) as
    ``sensor_msgs/Image`` with sensor-data QoS, each stamped with the wall clock right before it is published,
    at ``rate`` Hz, and times every ``Detection3DArray`` that comes back: latency = receive time - header
    stamp (both the system clock, the node's ROS time). Waits for the node's subscription first. Prints one
    JSON object: ``latencies_ms`` (per sent frame after the warm-up, null when no detections came back for
    it), ``sent``, ``received``, ``median_ms``, ``p99_ms``.

``python -m record.ros.probe record --out BAG --topic /t=pkg/msg/Type ... [--until TOPIC=N] [--idle S]
[--timeout S] [--storage sqlite3|mcap]``
    A ``ros2 bag record`` stand-in: subscribes to the topics (Image topics with sensor-data QoS, the rest
    reliable, keep last 100), waits until every ``--matched`` topic has a publisher, prints ``ready``, writes
    every message received into a bag (bag timestamp = receive time) and stops
    once every ``--until`` topic has N messages and none of them got more for ``--idle`` seconds, after
    ``--timeout`` seconds, or on SIGINT / SIGTERM. Prints a JSON line of counts at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any

__all__ = ["main"]


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def _spin_until(node: Any, condition: Any, timeout_s: float) -> bool:
    import rclpy

    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.01)
    return bool(condition())


def _latency(args: argparse.Namespace) -> int:
    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection3DArray

    from record.ros.messages import image_message

    cubes = np.load(args.frames_file)
    rclpy.init()
    node = rclpy.create_node("record_latency_probe")
    publisher = node.create_publisher(Image, args.topic, qos_profile_sensor_data)
    received: dict[int, int] = {}
    node.create_subscription(Detection3DArray, args.detections,
                             lambda m: received.setdefault(_stamp_ns(m), time.time_ns()),
                             QoSProfile(depth=100))
    matched = _spin_until(node, lambda: publisher.get_subscription_count() > 0
                          and node.count_publishers(args.detections) > 0, args.wait)
    if not matched:
        print(json.dumps({"error": f"no subscriber on {args.topic} / no publisher of {args.detections} "
                                   f"within {args.wait} s"}), flush=True)
        return 1
    messages = [image_message(cube, 0, "radar", args.encoding) for cube in cubes]
    sent: list[int] = []
    period = 1.0 / args.rate
    tick = time.monotonic()
    for index in range(args.warmup + args.frames):
        msg = messages[index % len(messages)]
        stamp = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
        publisher.publish(msg)
        sent.append(stamp)
        if args.progress and len(sent) % args.progress == 0:
            print(json.dumps({"progress": len(sent)}), flush=True)
        tick += period
        while time.monotonic() < tick:
            rclpy.spin_once(node, timeout_sec=max(0.0, tick - time.monotonic()))
    _spin_until(node, lambda: sent[-1] in received, args.drain)
    latencies = [(received[s] - s) / 1e6 if s in received else None for s in sent[args.warmup:]]
    values = np.asarray([v for v in latencies if v is not None], dtype=np.float64)
    print(json.dumps({
        "sent": len(latencies), "received": int(values.size), "rate_hz": args.rate,
        "median_ms": float(np.median(values)) if values.size else None,
        "p99_ms": float(np.percentile(values, 99)) if values.size else None,
        "latencies_ms": latencies,
    }), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def _record(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from rclpy.serialization import serialize_message
    from rclpy.signals import SignalHandlerOptions

    from record.ros.bags import BagWriter, message_class, topic_qos

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    topics = dict(item.split("=", 1) for item in args.topic)
    until = {topic: int(n) for topic, n in (item.split("=", 1) for item in args.until or ())}
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(args.node_name)
    counts = {topic: 0 for topic in topics}
    last = [time.monotonic()]
    with BagWriter(args.out, storage=args.storage) as bag:
        def callback(topic: str, msg: Any) -> None:
            bag.write_serialized(topic, serialize_message(msg), time.time_ns())
            counts[topic] += 1
            if not until or topic in until:  # periodic topics (diagnostics) must not keep it waiting
                last[0] = time.monotonic()

        subscriptions = {}
        for topic, msgtype in topics.items():
            qos = qos_profile_sensor_data if topic_qos(msgtype) == "sensor" else QoSProfile(depth=100)
            bag.add_topic(topic, msgtype)
            subscriptions[topic] = node.create_subscription(
                message_class(msgtype), topic, lambda msg, topic=topic: callback(topic, msg), qos)
        matched = _spin_until(node,
                              lambda: all(subscriptions[t].get_publisher_count() > 0 for t in args.matched),
                              args.timeout)
        if not matched:
            print(json.dumps({"error": f"no publisher matched on {args.matched} within {args.timeout} s"}),
                  flush=True)
            return 1
        _spin_until(node, lambda: False, args.settle)  # the publishers' side of the matching
        print("ready", flush=True)
        deadline = time.monotonic() + args.timeout
        while not stop.is_set() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
            done = all(counts.get(t, 0) >= n for t, n in until.items())
            if until and done and time.monotonic() - last[0] >= args.idle:
                break
    node.destroy_node()
    rclpy.try_shutdown()
    print(json.dumps({"counts": counts, "timed_out": time.monotonic() >= deadline}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m record.ros.probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    latency = modes.add_parser("latency", help="publish stamped ADC frames, time the detections")
    latency.add_argument("frames_file", metavar="FRAMES.npy")
    latency.add_argument("--topic", default="/radar/adc")
    latency.add_argument("--detections", default="/record_detector/detections")
    latency.add_argument("--encoding", default="32FC2", choices=("32FC2", "16SC2", "32FC1"),
                         help="32FC2 / 16SC2: complex ADC cubes; 32FC1: real maps [K, H, W] "
                              "(input.kind maps)")
    latency.add_argument("--rate", type=float, default=10.0)
    latency.add_argument("--frames", type=int, default=100)
    latency.add_argument("--warmup", type=int, default=10)
    latency.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the node")
    latency.add_argument("--drain", type=float, default=3.0, help="seconds to wait for the last detections")
    latency.add_argument("--progress", type=int, default=0, metavar="N",
                         help='print {"progress": sent} every N frames (warm-up included)')
    latency.set_defaults(run=_latency)
    record = modes.add_parser("record", help="record topics into a bag")
    record.add_argument("--out", required=True)
    record.add_argument("--topic", action="append", required=True, metavar="TOPIC=TYPE")
    record.add_argument("--until", action="append", metavar="TOPIC=N")
    record.add_argument("--idle", type=float, default=1.0)
    record.add_argument("--timeout", type=float, default=120.0)
    record.add_argument("--storage", default="sqlite3", choices=("sqlite3", "mcap"))
    record.add_argument("--node-name", default="record_probe_recorder")
    record.add_argument("--matched", action="append", default=[], metavar="TOPIC",
                        help="print ready only once TOPIC (one of --topic) has a publisher matched "
                             "(repeatable)")
    record.add_argument("--settle", type=float, default=0.5, help="seconds to wait after matching")
    record.set_defaults(run=_record)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
