"""``record play``: publish a bag's topics over rclpy, a stand-in for ``ros2 bag play`` (not installable
here).

Messages go out unchanged (the recorded CDR payloads, published raw: no deserialisation), in bag-timestamp
order, with their recorded types, at the recorded pace (``rate`` x faster or slower), or as fast as possible
with a small pause between messages (``fast``: ``min_gap_s``, so that a keep-last-1 subscriber sees each frame
when it keeps up). Image topics use sensor-data QoS (best effort, keep last 5, the profile of rclpy's
``qos_profile_sensor_data``), every other topic reliable, keep last 10. ``clock`` also publishes
``/clock`` (``rosgraph_msgs/Clock``, the bag time, before every message and at ``clock_hz``) for nodes run
with ``use_sim_time:=true``. ``lockstep`` (a topic of messages with a header, e.g. the node's detections)
makes playback closed-loop: after each frame of an Image topic the player waits (up to ``lockstep_timeout_s``)
until a message with that frame's header stamp arrives there, so a stateful node sees every frame however slow
it is (deterministic replay over DDS; the pace is then at most the recorded one). SIGINT / SIGTERM stop the
player cleanly (exit status 0, like ``ros2 bag play``).

Run it, like every DDS process here, with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a private
``ROS_DOMAIN_ID`` (:mod:`record.ros.sandbox`).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from record.errors import ConfigError, describe
from record.ros.bags import BagMessage, BagReader, message_class, stamp_ns, topic_qos

__all__ = ["PlayOptions", "PlayResult", "play_bag"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlayOptions:
    """How to play a bag (see the module doc).

    Attributes:
        rate: playback speed factor (> 0) when not ``fast``.
        fast: publish as fast as possible, ``min_gap_s`` apart.
        min_gap_s: pause between two messages in ``fast`` mode (>= 0).
        topics: the topics to play (default: all).
        loop: start over at the end until stopped.
        clock: publish ``/clock`` with the bag time; ``clock_hz`` its rate between messages.
        wait_for_subscribers_s: before the first message, wait up to this long until every played topic has a
            subscriber (0: do not wait; not all matched in time raises).
        delay_s: pause after start-up (and after the wait) before the first message.
        node_name: the player's node name.
        lockstep: topic (``vision_msgs/Detection3DArray`` or any type with a header) whose message for each
            played frame (same header stamp) is awaited before the next message; None = open loop.
        lockstep_type: message type of ``lockstep``.
        lockstep_timeout_s: how long to wait for it before going on (counted in :attr:`PlayResult.missed`).
    """

    rate: float = 1.0
    fast: bool = False
    min_gap_s: float = 0.001
    topics: tuple[str, ...] | None = None
    loop: bool = False
    clock: bool = False
    clock_hz: float = 40.0
    wait_for_subscribers_s: float = 0.0
    delay_s: float = 0.0
    node_name: str = "record_play"
    lockstep: str | None = None
    lockstep_type: str = "vision_msgs/msg/Detection3DArray"
    lockstep_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ConfigError(describe("record play: --rate", "must be positive", found=self.rate))
        if not self.min_gap_s >= 0:
            raise ConfigError(describe("record play: --min-gap", "must be >= 0", found=self.min_gap_s))
        if not self.clock_hz > 0:
            raise ConfigError(describe("record play: --clock", "rate must be positive", found=self.clock_hz))
        if self.wait_for_subscribers_s < 0 or self.delay_s < 0:
            raise ConfigError("record play: --wait-for-subscribers and --delay must be >= 0")


@dataclass
class PlayResult:
    """What was published: messages per topic, loops completed, wall time, whether it was interrupted, and
    (lockstep) how many frames got no answer in time."""

    published: dict[str, int] = field(default_factory=dict)
    missed: int = 0
    loops: int = 0
    wall_s: float = 0.0
    interrupted: bool = False


class _Stop:
    """A flag set by SIGINT / SIGTERM (or by the caller), with an interruptible sleep."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def sleep_until(self, deadline: float, tick: Callable[[], None] | None = None,
                    tick_s: float = 0.025) -> None:
        while not self.event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.event.wait(min(left, tick_s))
            if tick is not None:
                tick()


def _qos(msgtype: str) -> Any:
    from rclpy.qos import QoSProfile, qos_profile_sensor_data

    return qos_profile_sensor_data if topic_qos(msgtype) == "sensor" else QoSProfile(depth=10)


def play_bag(path: str | os.PathLike[str], options: PlayOptions | None = None, *,
             stop: threading.Event | None = None, install_signal_handlers: bool = True) -> PlayResult:
    """Publish the bag at ``path`` (see the module doc); returns what was published.

    Raises:
        BagError: unreadable bag, a requested topic missing, a type whose message class does not import.
        ConfigError: ``wait_for_subscribers_s`` passed without every topic matched.
    """
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    options = options or PlayOptions()
    flag = _Stop()
    if stop is not None:
        flag.event = stop
    previous: dict[int, Any] = {}
    if install_signal_handlers and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: flag.event.set())
    result = PlayResult()
    start = time.monotonic()
    try:
        with BagReader(path) as bag:
            names = list(options.topics) if options.topics else list(bag.topics)
            infos = [bag.topic(name) for name in names]
            classes = {info.name: message_class(info.msgtype, f"{bag.name}: topic {info.name}")
                       for info in infos}
            rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
            node = rclpy.create_node(options.node_name)
            _log.info("node %s up (ROS_DOMAIN_ID=%s)", options.node_name, os.environ.get("ROS_DOMAIN_ID", "0"))
            try:
                publishers = {info.name: node.create_publisher(classes[info.name], info.name,
                                                               _qos(info.msgtype))
                              for info in infos}
                clock = _Clock(node, options.clock_hz) if options.clock else None
                lockstep = _Lockstep(node, options) if options.lockstep else None
                _wait_for_subscribers(publishers, options.wait_for_subscribers_s, flag, bag.name)
                flag.sleep_until(time.monotonic() + options.delay_s)
                _log.info("playing %s", ", ".join(names))
                while not flag.event.is_set():
                    _play_once(bag, names, publishers, clock, lockstep, options, flag, result)
                    if flag.event.is_set() or not options.loop:
                        break
                    result.loops += 1
                if not flag.event.is_set():
                    result.loops += 1
                _log.info("played; waiting for the reliable topics' subscribers to acknowledge")
                _wait_for_acks(publishers)
            finally:
                _log.info("shutting down")
                node.destroy_node()
                rclpy.try_shutdown()
                _log.info("shut down")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    result.interrupted = flag.event.is_set()
    result.wall_s = time.monotonic() - start
    return result


class _Clock:
    """``/clock`` publisher: the bag time, at most ``hz`` times per second between messages."""

    def __init__(self, node: Any, hz: float) -> None:
        from rclpy.qos import QoSProfile
        from rosgraph_msgs.msg import Clock

        self._msg_type = Clock
        self._publisher = node.create_publisher(Clock, "/clock", QoSProfile(depth=1))
        self._period_s = 1.0 / hz
        self._next = 0.0

    def publish(self, bag_ns: int) -> None:
        msg = self._msg_type()
        msg.clock.sec, msg.clock.nanosec = divmod(int(bag_ns), 10**9)
        self._publisher.publish(msg)
        self._next = time.monotonic() + self._period_s

    def tick(self, bag_ns: int) -> None:
        if time.monotonic() >= self._next:
            self.publish(bag_ns)


class _Lockstep:
    """Waits for the answer (same header stamp) to each played frame on ``options.lockstep``."""

    def __init__(self, node: Any, options: PlayOptions) -> None:
        from rclpy.qos import QoSProfile

        self.node, self.timeout_s = node, options.lockstep_timeout_s
        self.seen: set[int] = set()
        cls = message_class(options.lockstep_type, f"record play: --lockstep {options.lockstep}")
        node.create_subscription(cls, options.lockstep, lambda msg: self.seen.add(stamp_ns(msg)),
                                 QoSProfile(depth=100))

    def wait(self, item: BagMessage, flag: _Stop) -> bool:
        import rclpy

        stamp = _header_stamp(item)
        deadline = time.monotonic() + self.timeout_s
        while stamp not in self.seen and not flag.event.is_set() and time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.01)
        found = stamp in self.seen
        self.seen.discard(stamp)
        return found


def _header_stamp(item: BagMessage) -> int:
    """The header stamp of a serialised message that starts with a ``std_msgs/Header`` (read from the CDR)."""
    if len(item.data) >= 12 and item.data[1] in (0, 1):  # encapsulation: 0 = CDR big endian, 1 = little
        sec, nanosec = struct.unpack_from(">iI" if item.data[1] == 0 else "<iI", item.data, 4)
        return sec * 10**9 + nanosec
    return stamp_ns(item.decode()) or 0


def _wait_for_acks(publishers: dict[str, Any], timeout_s: float = 2.0) -> None:
    """Before the node goes: wait (up to ``timeout_s`` per topic) until the subscribers of the reliable topics
    have acknowledged every message; a writer that leaves at once loses the last ones still in flight."""
    from rclpy.duration import Duration
    from rclpy.qos import ReliabilityPolicy

    for publisher in publishers.values():
        if publisher.qos_profile.reliability == ReliabilityPolicy.RELIABLE:
            publisher.wait_for_all_acked(Duration(seconds=timeout_s))


def _wait_for_subscribers(publishers: dict[str, Any], timeout_s: float, flag: _Stop, bag: str) -> None:
    if timeout_s <= 0:
        return
    _log.info("waiting up to %g s for a subscriber on each topic", timeout_s)
    deadline = time.monotonic() + timeout_s
    while not flag.event.is_set():
        waiting = [topic for topic, pub in publishers.items() if pub.get_subscription_count() == 0]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise ConfigError(describe(f"record play {bag}", f"no subscriber within {timeout_s:g} s",
                                       found=", ".join(waiting)))
        flag.sleep_until(time.monotonic() + 0.05)


def _play_once(bag: BagReader, topics: Sequence[str], publishers: dict[str, Any], clock: _Clock | None,
               lockstep: _Lockstep | None, options: PlayOptions, flag: _Stop, result: PlayResult) -> None:
    """One pass over the bag."""
    first_ns, wall0 = None, time.monotonic()

    def bag_time(cap_ns: int) -> int:
        return min(cap_ns, first_ns + int((time.monotonic() - wall0) * options.rate * 1e9))

    for item in bag.messages(topics):
        if flag.event.is_set():
            return
        if first_ns is None:
            first_ns, wall0 = item.timestamp_ns, time.monotonic()
        if options.fast:
            if result.published:
                flag.sleep_until(time.monotonic() + options.min_gap_s)
        else:
            due = wall0 + (item.timestamp_ns - first_ns) / 1e9 / options.rate
            tick = None if clock is None else functools.partial(_tick, clock, bag_time, item.timestamp_ns)
            flag.sleep_until(due, tick)
        if flag.event.is_set():
            return
        if clock is not None:
            clock.publish(item.timestamp_ns)
        publishers[item.topic].publish(item.data)
        result.published[item.topic] = result.published.get(item.topic, 0) + 1
        if lockstep is not None and topic_qos(item.msgtype) == "sensor" and not lockstep.wait(item, flag):
            result.missed += 1


def _tick(clock: _Clock, bag_time: Callable[[int], int], cap_ns: int) -> None:
    clock.tick(bag_time(cap_ns))
