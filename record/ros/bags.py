"""rosbag2 recordings (sqlite3 and MCAP) of the topics RECORD reads and writes, without DDS.

Bags are written and read with ``rosbags`` (rosbag2 format version 9, storage ``sqlite3`` or ``mcap``);
message payloads are (de)serialised with ``rclpy.serialization`` and the real message classes (no DDS, no
rclpy context needed), so what a bag holds is byte for byte what a node sends. Every connection carries its
message definition (ROS 2 ``.msg`` text with its dependencies) and RIHS01 type hash from a ``rosbags``
typestore: the ROS 2 Kilted store plus ``vision_msgs`` registered from its installed ``.msg`` files
(``share/vision_msgs/msg`` of the venv, or ``tools/ros/vision_msgs/msg`` of a checkout); the hashes equal
those rosidl generated for the installed packages. So ``ros2 bag``, Foxglove and ``rosbags``' ``AnyReader``
read these bags without any extra type registration.

Topics the project uses: ``sensor_msgs/msg/Image`` (raw ADC frames, masks),
``vision_msgs/msg/Detection3DArray`` (detections, ground truth), ``visualization_msgs/msg/MarkerArray``,
``diagnostic_msgs/msg/DiagnosticArray`` and ``std_msgs/msg/Float64`` (debug timings); any other type of the
typestore whose Python class imports works too.

Writing is atomic: a :class:`BagWriter` builds the bag in a hidden folder beside the destination
(``.<name>.partial-*``) and renames it onto the destination only when the ``with`` block ends without an
error; an existing destination is refused unless ``overwrite=True``. Problems raise :class:`BagError` naming
the bag and the topic (missing topic, unknown or unimportable type, unreadable bag).

Example::

    with BagWriter("run.bag", storage="mcap") as bag:
        bag.write("/radar/adc", image_msg)                      # timestamp: the header stamp
        bag.write("/debug/time_ms", Float64(data=3.2), timestamp_ns=t)
    with BagReader("run.bag") as bag:
        for item in bag.messages(["/radar/adc"]):
            msg = item.decode()
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from record.errors import DataFormatError, describe

if TYPE_CHECKING:
    from rosbags.interfaces import Qos
    from rosbags.typesys.store import Typestore
    from typing_extensions import Self

__all__ = [
    "BAG_VERSION",
    "STORAGES",
    "SUPPORTED_TYPES",
    "BagError",
    "BagMessage",
    "BagReader",
    "BagWriter",
    "TopicInfo",
    "bag_typestore",
    "message_class",
    "msgtype_of",
    "stamp_ns",
    "topic_qos",
]

#: rosbag2 metadata format version written (rosbags writes 8 or 9).
BAG_VERSION = 9
#: Storage plugins: rosbag2's default sqlite3 database, or MCAP.
STORAGES = ("sqlite3", "mcap")
#: The message types RECORD's topics use.
SUPPORTED_TYPES = (
    "sensor_msgs/msg/Image",
    "vision_msgs/msg/Detection3DArray",
    "visualization_msgs/msg/MarkerArray",
    "diagnostic_msgs/msg/DiagnosticArray",
    "std_msgs/msg/Float64",
)
#: Message types published with sensor-data QoS (best effort, keep last); every other topic is reliable.
SENSOR_TYPES = ("sensor_msgs/msg/Image",)
_SENSOR_DEPTH, _RELIABLE_DEPTH = 5, 10


class BagError(DataFormatError):
    """A bag cannot be read or written as asked (missing topic, unknown type, unreadable or existing bag)."""


# ---------------------------------------------------------------------------------------------- types


def _vision_msgs_folders() -> list[Path]:
    """Where ``vision_msgs``' ``.msg`` files may be: the installed package, then this checkout's copy."""
    folders = [Path(prefix) / "share" / "vision_msgs" / "msg" for prefix in _ament_prefixes()]
    folders.append(Path(__file__).resolve().parents[2] / "tools" / "ros" / "vision_msgs" / "msg")
    return folders


def _ament_prefixes() -> list[str]:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [*prefixes, sys.prefix]


@functools.lru_cache(maxsize=1)
def bag_typestore() -> Typestore:
    """The ``rosbags`` typestore of ROS 2 Kilted plus ``vision_msgs`` (message definitions and type
    hashes)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    folder = next((f for f in _vision_msgs_folders() if (f / "Detection3DArray.msg").is_file()), None)
    if folder is not None:
        types: dict[str, Any] = {}
        for path in sorted(folder.glob("*.msg")):
            types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"vision_msgs/msg/{path.stem}"))
        store.register(types)
    return store


def message_class(msgtype: str, where: str = "bag") -> type:
    """The rclpy message class of ``pkg/msg/Name``.

    Raises:
        BagError: a malformed name or a message package that does not import here.
    """
    parts = msgtype.split("/")
    if len(parts) != 3 or parts[1] != "msg" or not all(parts):
        raise BagError(describe(where, "not a ROS 2 message type name", found=repr(msgtype),
                                expected="'package/msg/Name'"))
    try:
        return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
    except (ImportError, AttributeError) as error:
        raise BagError(describe(where, f"message type {msgtype} is not importable here ({error})",
                                expected="an installed ROS 2 message package (pip install -e '.[ros]', "
                                         "tools/build_vision_msgs.sh .venv for vision_msgs)")) from None


def msgtype_of(message: object) -> str:
    """``pkg/msg/Name`` of an rclpy message (instance or class)."""
    cls = message if isinstance(message, type) else type(message)
    return f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"


def stamp_ns(message: object) -> int | None:
    """The message's ``header.stamp`` in nanoseconds, None when it has no header."""
    header = getattr(message, "header", None)
    if header is None:
        return None
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def topic_qos(msgtype: str) -> str:
    """``"sensor"`` (best effort, keep last) for :data:`SENSOR_TYPES`, else ``"reliable"``."""
    return "sensor" if msgtype in SENSOR_TYPES else "reliable"


def _offered_qos(msgtype: str) -> list[Qos]:
    """The QoS profile a RECORD publisher of ``msgtype`` offers, as rosbag2 records it."""
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    sensor = topic_qos(msgtype) == "sensor"
    unspecified = QosTime(0, 0)
    return [Qos(
        history=QosHistory.KEEP_LAST,
        depth=_SENSOR_DEPTH if sensor else _RELIABLE_DEPTH,
        reliability=QosReliability.BEST_EFFORT if sensor else QosReliability.RELIABLE,
        durability=QosDurability.VOLATILE,
        deadline=unspecified,
        lifespan=unspecified,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=unspecified,
        avoid_ros_namespace_conventions=False,
    )]


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag: its name, message type and message count."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagMessage:
    """One recorded message: topic, type, bag timestamp (ns, the recording time) and CDR payload."""

    topic: str
    msgtype: str
    timestamp_ns: int
    data: bytes
    bag: str = "bag"

    def decode(self) -> Any:
        """The message as its rclpy class."""
        from rclpy.serialization import deserialize_message

        cls = message_class(self.msgtype, f"{self.bag}: topic {self.topic}")
        try:
            return deserialize_message(self.data, cls)
        except Exception as error:  # noqa: BLE001 - rclpy raises plain exceptions on a bad payload
            raise BagError(describe(f"{self.bag}: topic {self.topic}",
                                    f"message at {self.timestamp_ns} ns does not deserialise as "
                                    f"{self.msgtype} ({error})")) from None


class BagReader:
    """Read a rosbag2 bag (a folder with ``metadata.yaml``, or a bare ``.db3`` / ``.mcap`` file).

    Use as a context manager (or call :meth:`close`).

    Raises:
        BagError: the path does not exist or is not a readable rosbag2 bag.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        self.name = str(path)
        if not self.path.exists():
            raise BagError(describe(self.name, "bag not found"))
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as error:  # noqa: BLE001 - rosbags raises ReaderError, KeyError, sqlite / mcap errors
            raise BagError(describe(self.name,
                                    f"not a readable rosbag2 bag ({type(error).__name__}: {error})",
                                    expected="a rosbag2 folder (metadata.yaml + .db3 / .mcap) or a "
                                             ".db3 / .mcap file")) from None
        self.topics: dict[str, TopicInfo] = {
            name: TopicInfo(name, info.msgtype or "?", info.msgcount)
            for name, info in self._reader.topics.items()
        }

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.is_open:
            self._reader.close()

    @property
    def storage(self) -> str:
        """``sqlite3`` or ``mcap``."""
        files = [self.path] if self.path.is_file() else list(self.path.iterdir())
        return "mcap" if any(f.suffix == ".mcap" for f in files) else "sqlite3"

    @property
    def start_ns(self) -> int:
        return int(self._reader.start_time)

    @property
    def duration_ns(self) -> int:
        return int(self._reader.duration)

    @property
    def message_count(self) -> int:
        return int(self._reader.message_count)

    def topic(self, name: str, msgtypes: Sequence[str] | str | None = None) -> TopicInfo:
        """The topic ``name``, checked to exist (and to have one of ``msgtypes``).

        Raises:
            BagError: no such topic, or another message type.
        """
        if name not in self.topics:
            listed = ", ".join(f"{t.name} ({t.msgtype})" for t in self.topics.values()) or "none"
            raise BagError(describe(self.name, f"no topic {name}",
                                    expected=f"one of the bag's topics: {listed}"))
        info = self.topics[name]
        wanted = (msgtypes,) if isinstance(msgtypes, str) else tuple(msgtypes or ())
        if wanted and info.msgtype not in wanted:
            raise BagError(describe(f"{self.name}: topic {name}", "wrong message type", found=info.msgtype,
                                    expected=" or ".join(wanted)))
        return info

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Messages of ``topics`` (default: all), in bag-timestamp order, payloads not yet deserialised.

        Raises:
            BagError: a listed topic is missing, or the bag's storage is damaged.
        """
        wanted = None if topics is None else {self.topic(name).name for name in topics}
        connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        if not connections:
            return
        try:
            for connection, timestamp, data in self._reader.messages(connections=connections):
                yield BagMessage(connection.topic, connection.msgtype, int(timestamp), bytes(data), self.name)
        except BagError:
            raise
        except Exception as error:  # noqa: BLE001 - a damaged database or chunk, several types
            raise BagError(describe(self.name, f"reading messages failed ({type(error).__name__}: {error})")
                           ) from None

    def read(self, topic: str, msgtypes: Sequence[str] | str | None = None) -> list[tuple[int, Any]]:
        """Every message of ``topic`` as ``(bag timestamp ns, rclpy message)``, in order."""
        self.topic(topic, msgtypes)
        return [(item.timestamp_ns, item.decode()) for item in self.messages([topic])]


# ---------------------------------------------------------------------------------------------- writing


class BagWriter:
    """Write a rosbag2 bag atomically (see the module doc).

    Args:
        path: the bag folder to create.
        storage: ``sqlite3`` or ``mcap``.
        overwrite: replace an existing bag (or folder) at ``path``.

    Raises:
        BagError: ``path`` exists and ``overwrite`` is False, or a bad storage name.
    """

    def __init__(self, path: str | os.PathLike[str], *, storage: str = "sqlite3",
                 overwrite: bool = False) -> None:
        if storage not in STORAGES:
            raise BagError(describe(f"{path}: storage", "unknown storage plugin", found=repr(storage),
                                    expected=STORAGES))
        self.path = Path(path).absolute()
        self.name = str(path)
        self.storage = storage
        self.overwrite = overwrite
        self._partial: contextlib.AbstractContextManager[Path] | None = None
        self._writer: Any = None
        self._inner: Path | None = None
        self._connections: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(exc_info=(exc_type, exc, tb) if exc_type is not None else None)

    def open(self) -> None:
        """Start the bag in a hidden folder beside :attr:`path`."""
        from rosbags.rosbag2 import StoragePlugin, Writer

        from record.data.synth_common import atomic_directory

        if self._partial is not None:
            raise BagError(describe(self.name, "bag is already open"))
        if self.path.exists() and not self.overwrite:
            raise BagError(describe(self.name, "a bag (or other file) exists there already",
                                    expected="a new path, or overwrite=True (--overwrite) to replace it"))
        if self.path.exists() and not self.path.is_dir():
            raise BagError(describe(self.name, "exists and is not a folder; not replacing it"))
        self._partial = atomic_directory(self.path, overwrite=True)
        # the storage file is named after its folder: build <partial>/<name>/<name>.db3, moved up by close()
        self._inner = self._partial.__enter__() / self.path.name
        plugin = StoragePlugin.MCAP if self.storage == "mcap" else StoragePlugin.SQLITE3
        try:
            self._writer = Writer(self._inner, version=BAG_VERSION, storage_plugin=plugin)
            self._writer.open()
        except BaseException:
            self.close(exc_info=sys.exc_info())
            raise

    def close(self, exc_info: tuple[Any, Any, Any] | None = None) -> None:
        """Finish the bag and rename it onto :attr:`path`; with ``exc_info`` (a failure) drop it instead and
        leave :attr:`path` as it was."""
        partial, writer, self._partial, self._writer = self._partial, self._writer, None, None
        if partial is None:
            return
        try:
            if writer is not None and writer.storage is not None:
                if exc_info is None:
                    writer.close()
                else:
                    with contextlib.suppress(Exception):  # the folder is removed anyway
                        writer.close()
            if exc_info is None:
                # the hidden folder is private (mkdtemp); give the bag the mode its writer gave the inner one
                self._inner.parent.chmod(self._inner.stat().st_mode & 0o7777)
                for item in self._inner.iterdir():
                    os.replace(item, self._inner.parent / item.name)
                self._inner.rmdir()
        except BaseException:
            exc_info = sys.exc_info()
            raise
        finally:
            if exc_info is None:
                partial.__exit__(None, None, None)  # renames the folder onto the destination
            else:
                # removes the folder; returns False, the caller's error propagates
                partial.__exit__(*exc_info)

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` with ``msgtype`` (done by the first :meth:`write` otherwise).

        Raises:
            BagError: the type is unknown to the typestore or its class does not import, or ``topic`` was
                declared with another type.
        """
        if self._writer is None:
            raise BagError(describe(self.name, "bag is not open for writing"))
        where = f"{self.name}: topic {topic}"
        if topic in self._connections:
            known = self._connections[topic].msgtype
            if known != msgtype:
                raise BagError(describe(where, "one topic holds one message type", found=msgtype,
                                        expected=known))
            return
        if not topic.startswith("/"):
            raise BagError(describe(where, "topic names in a bag are absolute", expected=f"/{topic}"))
        store = bag_typestore()
        if msgtype not in store.types:
            raise BagError(describe(where, f"unknown message type {msgtype}",
                                    expected=f"a ROS 2 Kilted or vision_msgs type, e.g. "
                                             f"{', '.join(SUPPORTED_TYPES)}"))
        message_class(msgtype, where)
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=store, offered_qos_profiles=_offered_qos(msgtype)
        )
        self.counts[topic] = 0

    def write(self, topic: str, message: object, timestamp_ns: int | None = None) -> None:
        """Serialise ``message`` (an rclpy message) onto ``topic`` at ``timestamp_ns`` (default: its header
        stamp).

        Raises:
            BagError: no timestamp given for a message without header, or a topic / type problem.
        """
        from rclpy.serialization import serialize_message

        self.add_topic(topic, msgtype_of(message))
        if timestamp_ns is None:
            timestamp_ns = stamp_ns(message)
            if timestamp_ns is None:
                raise BagError(describe(f"{self.name}: topic {topic}",
                                        f"{msgtype_of(message)} has no header: pass timestamp_ns"))
        self.write_serialized(topic, serialize_message(message), timestamp_ns)

    def write_serialized(self, topic: str, data: bytes, timestamp_ns: int,
                         msgtype: str | None = None) -> None:
        """Write an already serialised CDR payload (``msgtype`` declares the topic if it is new)."""
        if topic not in self._connections:
            if msgtype is None:
                raise BagError(describe(f"{self.name}: topic {topic}", "undeclared topic: pass msgtype"))
            self.add_topic(topic, msgtype)
        if not (isinstance(timestamp_ns, int) and timestamp_ns >= 0):
            raise BagError(describe(f"{self.name}: topic {topic}",
                                    "timestamp must be a non-negative int (ns)", found=timestamp_ns))
        self._writer.write(self._connections[topic], timestamp_ns, data)
        self.counts[topic] += 1
