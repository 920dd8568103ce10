"""Bags of RECORD's topics without DDS: simulated recordings, offline replay through the node's core, scoring.

* :func:`simulate_bag` (``record simulate --bag``): simulated raw ADC frames on ``/radar/adc``
  (``sensor_msgs/Image``, ``32FC2`` or ``16SC2``, the layout of :mod:`record.ros.core`; stamps every frame
  period of the capture from :data:`START_STAMP_NS`, frame id ``radar``) and their ground truth on
  ``/radar/ground_truth`` (``vision_msgs/Detection3DArray``, same header: one detection per visible object
  with its class name, score 1 and centre in metres, REP-103). Scenes and physics come from the simulator
  (:func:`record.data.synth_common.simulated_chunks`) and the training scenarios
  (:func:`record.train.synthetic.scenario_settings`); ROD2021 frames hold all 255 chirp loops as the sensor
  sends them (``all_loops=False``: only the 4 kept loops, a 64 times smaller bag).
* :func:`replay_bag` (``record replay``): the node's :class:`~record.ros.core.DetectorCore` over a bag's input
  topic, writing what the node publishes under the node's topic names (:func:`node_topics`), plus a copy of
  the ground truth. The output messages carry the input message's bag timestamp (deterministic, no wall
  clock). Unlike the node, markers and masks are written for every frame (the node builds them only while
  someone subscribes), and the debug processing time is the core's (the node's also covers its message
  handling).
* :func:`score_bags` (``record score rod2021 --bag``): a bag's detections against its ground truth with the
  ROD2021 OLS AP / AR (:func:`record.eval.rod2021.score_rod2021`), frames matched by header stamp: the ground
  truth's stamps, in order, are the frames; a frame without a detections message (dropped) has no detections.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from record.classes import CARRADA_CLASSES, ROD2021_CLASSES, class_id
from record.detections import ObjectTable
from record.errors import ConfigError, InputError, describe
from record.ros.bags import BagReader, BagWriter
from record.sensors import CARRADA, ROD2021, CaptureConfig

if TYPE_CHECKING:
    from record.eval.rod2021 import Rod2021Score
    from record.ros.core import CoreConfig, DetectorCore

__all__ = [
    "ADC_ENCODINGS",
    "ADC_TOPIC",
    "DETECTIONS_TYPE",
    "IMAGE_TYPE",
    "LAYOUTS",
    "NODE_NAME",
    "RADAR_FRAME",
    "START_STAMP_NS",
    "TRUTH_TOPIC",
    "BagTables",
    "ReplaySummary",
    "bag_tables",
    "node_topics",
    "replay_bag",
    "score_bags",
    "simulate_bag",
    "table_from_messages",
]

#: Topic of the raw ADC frames and of their ground truth in simulated bags.
ADC_TOPIC = "/radar/adc"
TRUTH_TOPIC = "/radar/ground_truth"
#: Header frame id of simulated frames.
RADAR_FRAME = "radar"
#: Header stamp of a simulated bag's first frame (2023-11-14 22:13:20 UTC), nanoseconds.
START_STAMP_NS = 1_700_000_000 * 10**9
#: Encodings of simulated raw ADC frames: complex float32, complex int16 (ADC counts, rounded, saturated).
ADC_ENCODINGS = ("32FC2", "16SC2")
LAYOUTS: dict[str, CaptureConfig] = {"rod2021": ROD2021, "carrada": CARRADA}
IMAGE_TYPE = "sensor_msgs/msg/Image"
DETECTIONS_TYPE = "vision_msgs/msg/Detection3DArray"
#: The node's name (its private topics resolve to ``/<name>/<topic>``).
NODE_NAME = "record_detector"
_CLASSES = {"rod2021": ROD2021_CLASSES, "carrada": CARRADA_CLASSES}


# ---------------------------------------------------------------------------------------------- simulation


def _truth_result(truth: Any, classes: tuple[str, ...], stamp_ns: int) -> Any:
    """A frame's visible objects as a :class:`~record.ros.core.FrameResult` (score 1), for the messages."""
    from record.ros.core import FrameResult

    table = truth.to_object_table(classes)
    table = dataclasses.replace(table, frame=np.zeros(len(table), np.int64))
    return FrameResult(stamp_ns, RADAR_FRAME, table, {}, None, {})


def simulate_bag(
    out: str | os.PathLike[str],
    layout: str,
    *,
    frames: int = 90,
    seed: int = 0,
    storage: str = "sqlite3",
    scenario: str = "default",
    adc_encoding: str = "32FC2",
    all_loops: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Simulate one sequence of ``layout`` and write it as a bag at ``out`` (see the module doc).

    Raises:
        ConfigError: unknown layout / scenario / encoding, fewer than 1 frame, or ``16SC2`` for CARRADA (whose
            simulated samples are below one ADC count: int16 would quantise them away).
        BagError: ``out`` exists and ``overwrite`` is False.
    """
    from tqdm import tqdm

    from record.data.synth_common import SplitSize, plan_sequences, simulated_chunks
    from record.ros.messages import detections_message, image_message
    from record.train.synthetic import scenario_settings

    if layout not in LAYOUTS:
        raise ConfigError(describe("layout", "unknown", found=repr(layout), expected=sorted(LAYOUTS)))
    if frames < 1:
        raise ConfigError(describe("frames", "must be >= 1", found=frames))
    if adc_encoding not in ADC_ENCODINGS:
        raise ConfigError(describe("ADC encoding", "unknown", found=repr(adc_encoding),
                                   expected=ADC_ENCODINGS))
    capture = LAYOUTS[layout]
    if layout == "carrada" and adc_encoding == "16SC2":
        raise ConfigError(describe("--adc-encoding 16SC2", "simulated CARRADA samples are about one ADC "
                                   "count (noise std 0.44): int16 rounding would destroy them",
                                   expected="32FC2"))
    scene, simulation = scenario_settings(scenario, capture)
    if layout == "rod2021":
        simulation = dataclasses.replace(simulation, all_loops=all_loops)
    plan = plan_sequences({"test": SplitSize(1, frames)}, {"test": [Path(out).name or "sequence"]}, seed)[0]
    period_ns = capture.waveform.frame_period_s * 1e9
    classes = _CLASSES[layout]
    with (
        BagWriter(out, storage=storage, overwrite=overwrite) as bag,
        tqdm(total=frames, desc=f"simulate {layout} bag", unit="frame", disable=not progress) as bar,
    ):
        for chunk in simulated_chunks(capture, plan, scene, simulation, chunk_frames=16):
            for frame in chunk:
                stamp = START_STAMP_NS + round(frame.index * period_ns)
                image = image_message(frame.adc, stamp, RADAR_FRAME, adc_encoding)
                bag.write(ADC_TOPIC, image, stamp)
                truth = detections_message(_truth_result(frame.truth, classes, stamp), image.header)
                bag.write(TRUTH_TOPIC, truth, stamp)
            bar.update(len(chunk))
    return Path(out)


# ---------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class BagTables:
    """A bag's ground truth and detections as tables over its frames (frame = index of the truth stamp)."""

    truth: ObjectTable
    detections: ObjectTable
    stamps_ns: np.ndarray
    frames_with_detections: int


def table_from_messages(
    messages: Iterable[Any], frame_of: Mapping[int, int], classes: tuple[str, ...], where: str
) -> ObjectTable:
    """``vision_msgs/Detection3DArray`` messages as one :class:`ObjectTable`.

    Each detection's first hypothesis gives the class (``class_id`` = class name) and score; its pose position
    (metres, REP-103: x forward, y left) gives range and azimuth (positive towards the sensor's right).
    ``frame_of`` maps header stamps (ns) to frame indices.
    """
    rows: list[tuple[int, int, float, float, float]] = []
    for msg in messages:
        stamp = int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)
        frame = frame_of[stamp]
        for det in msg.detections:
            if not det.results:
                raise InputError(describe(where, f"a detection at stamp {stamp} has no hypothesis"))
            hyp = det.results[0]
            position = hyp.pose.pose.position
            name = hyp.hypothesis.class_id
            try:
                label = class_id(name, classes)
            except InputError:
                raise InputError(describe(where, f"unknown class at stamp {stamp}", found=repr(name),
                                          expected=classes)) from None
            rows.append((frame, label, math.hypot(position.x, position.y),
                         math.atan2(-position.y, position.x), float(hyp.hypothesis.score)))
    if not rows:
        return ObjectTable.empty(classes)
    frame, label, range_m, azimuth, score = (np.array(c) for c in zip(*rows))
    return ObjectTable(frame.astype(np.int64), label.astype(np.int64), range_m.astype(np.float64),
                       azimuth.astype(np.float64), score.astype(np.float64), classes)


def bag_tables(
    path: str | os.PathLike[str],
    detections_topic: str,
    truth_topic: str = TRUTH_TOPIC,
    classes: tuple[str, ...] = ROD2021_CLASSES,
) -> BagTables:
    """Read a bag's ground truth and detections (see :func:`table_from_messages`).

    Raises:
        BagError: a topic is missing or of another type.
        InputError: two truth messages share a stamp, a detections message has a stamp that is not a truth
            frame, or an unknown class name.
    """
    with BagReader(path) as bag:
        truth = [msg for _, msg in bag.read(truth_topic, DETECTIONS_TYPE)]
        detections = [msg for _, msg in bag.read(detections_topic, DETECTIONS_TYPE)]
    stamps = [int(m.header.stamp.sec) * 10**9 + int(m.header.stamp.nanosec) for m in truth]
    ordered = sorted(set(stamps))
    if len(ordered) != len(stamps):
        raise InputError(describe(f"{path}: {truth_topic}", "several ground-truth messages share a stamp",
                                  found=f"{len(stamps)} messages, {len(ordered)} stamps"))
    frame_of = {stamp: i for i, stamp in enumerate(ordered)}
    det_stamps = [int(m.header.stamp.sec) * 10**9 + int(m.header.stamp.nanosec) for m in detections]
    unknown = [s for s in det_stamps if s not in frame_of]
    if unknown:
        raise InputError(describe(f"{path}: {detections_topic}", f"{len(unknown)} message(s) with a stamp "
                                  f"that is no frame of {truth_topic}", found=f"first {unknown[0]} ns",
                                  expected="the header stamps of the input frames"))
    return BagTables(
        table_from_messages(truth, frame_of, classes, f"{path}: {truth_topic}"),
        table_from_messages(detections, frame_of, classes, f"{path}: {detections_topic}"),
        np.asarray(ordered, dtype=np.int64),
        len(set(det_stamps)),
    )


def score_bags(
    paths: Sequence[str | os.PathLike[str]], detections_topic: str, truth_topic: str = TRUTH_TOPIC
) -> tuple[Rod2021Score, dict[str, BagTables]]:
    """ROD2021 AP / AR of the bags' detections against their ground truth, one sequence per bag (its name)."""
    from record.eval.rod2021 import score_rod2021

    tables: dict[str, BagTables] = {}
    for path in paths:
        name = Path(path).name or str(path)
        if name in tables:
            raise InputError(describe(str(path), "two bags with the same name",
                                      expected="distinct bag names"))
        tables[name] = bag_tables(path, detections_topic, truth_topic)
    score = score_rod2021({n: t.truth for n, t in tables.items()},
                          {n: t.detections for n, t in tables.items()})
    return score, tables


# ---------------------------------------------------------------------------------------------- replay


def node_topics(node_name: str = NODE_NAME) -> dict[str, str]:
    """The topics the node publishes, by role (private topics resolve under ``/<node_name>/``)."""
    base = f"/{node_name}"
    return {
        "detections": f"{base}/detections",
        "markers": f"{base}/markers",
        "masks": f"{base}/segmentation",
        "processing_time": f"{base}/debug/processing_time_ms",
        "pipeline_latency": f"{base}/debug/pipeline_latency_ms",
        "diagnostics": "/diagnostics",
    }


@dataclass
class ReplaySummary:
    """What a replay did: frames read, processed, dropped (by reason), state resets, detections, timings."""

    input_topic: str
    frames: int = 0
    processed: int = 0
    detections: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    resets: dict[str, int] = field(default_factory=dict)
    topics: dict[str, int] = field(default_factory=dict)
    total_ms: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        total = np.asarray(self.total_ms) if self.total_ms else np.full(1, np.nan)
        return {"input_topic": self.input_topic, "frames": self.frames, "processed": self.processed,
                "dropped": sum(self.drops.values()), "drops": self.drops, "resets": self.resets,
                "detections": self.detections, "topics": self.topics,
                "frame_ms_p50": float(np.median(total)), "frame_ms_p99": float(np.percentile(total, 99))}


def _frames(bag: BagReader, topic: str) -> Iterator[tuple[int, Any]]:
    from record.ros.messages import input_image

    bag.topic(topic, IMAGE_TYPE)
    for item in bag.messages([topic]):
        yield item.timestamp_ns, input_image(item.decode())


def replay_core(
    core: DetectorCore,
    in_bag: BagReader,
    out_bag: BagWriter,
    input_topic: str,
    node_name: str = NODE_NAME,
    *,
    marker_lifetime_s: float = 0.0,
    diagnostics_period_s: float = 1.0,
) -> ReplaySummary:
    """Run ``core`` over ``input_topic`` of ``in_bag``, writing the node's topics into ``out_bag``.

    Each frame is processed "at" its bag timestamp (its receive time when the bag was recorded live); every
    output message gets that timestamp. Per processed frame: detections, markers, masks (CARRADA), processing
    time and pipeline latency (bag timestamp - header stamp + processing time, ms); diagnostics every
    ``diagnostics_period_s`` of bag time and after the last frame.
    """
    from std_msgs.msg import Float64

    from record.ros.core import DroppedFrame
    from record.ros.messages import detections_message, make_header, markers_message, mask_messages

    topics = node_topics(node_name)
    summary = ReplaySummary(input_topic)
    last_diagnostics: int | None = None
    timestamp_ns = 0
    for timestamp_ns, image in _frames(in_bag, input_topic):
        summary.frames += 1
        result = core.process(image, now_ns=timestamp_ns)
        if isinstance(result, DroppedFrame):
            summary.drops[result.kind] = summary.drops.get(result.kind, 0) + 1
        else:
            summary.processed += 1
            summary.detections += len(result.detections)
            total_ms = float(result.timings_ms["total"])
            summary.total_ms.append(total_ms)
            if result.reset_reason is not None:
                summary.resets[result.reset_reason] = summary.resets.get(result.reset_reason, 0) + 1
            header = make_header(result.stamp_ns, result.frame_id)
            out_bag.write(topics["detections"], detections_message(result, header), timestamp_ns)
            out_bag.write(topics["markers"], markers_message(result, header, marker_lifetime_s), timestamp_ns)
            for view, mask in mask_messages(result, header).items():
                out_bag.write(f"{topics['masks']}/{view}", mask, timestamp_ns)
            latency_ms = (timestamp_ns - result.stamp_ns) / 1e6 + total_ms
            out_bag.write(topics["processing_time"], Float64(data=total_ms), timestamp_ns)
            out_bag.write(topics["pipeline_latency"], Float64(data=latency_ms), timestamp_ns)
        if last_diagnostics is None:
            last_diagnostics = timestamp_ns  # like the node's timer: the first status one period in
        elif timestamp_ns - last_diagnostics >= diagnostics_period_s * 1e9:
            last_diagnostics = timestamp_ns
            _write_diagnostics(core, out_bag, topics["diagnostics"], node_name, timestamp_ns)
    if summary.frames and last_diagnostics != timestamp_ns:
        _write_diagnostics(core, out_bag, topics["diagnostics"], node_name, timestamp_ns)
    summary.topics = dict(out_bag.counts)
    return summary


def _write_diagnostics(core: DetectorCore, out_bag: BagWriter, topic: str, name: str,
                       timestamp_ns: int) -> None:
    from record.ros.messages import diagnostics_message, make_header

    message = diagnostics_message(core.statistics(), make_header(timestamp_ns, ""), name)
    out_bag.write(topic, message, timestamp_ns)


def replay_bag(
    in_bag: str | os.PathLike[str],
    out_bag: str | os.PathLike[str],
    model: str | os.PathLike[str],
    *,
    config: CoreConfig,
    backend: str = "onnxruntime",
    input_topic: str = ADC_TOPIC,
    truth_topic: str | None = TRUTH_TOPIC,
    node_name: str = NODE_NAME,
    storage: str | None = None,
    overwrite: bool = False,
    runtime_options: Mapping[str, Any] | None = None,
    marker_lifetime_s: float = 0.0,
    diagnostics_period_s: float = 1.0,
    warmup_frames: int = 3,
) -> ReplaySummary:
    """Replay ``input_topic`` of ``in_bag`` through a fresh :class:`DetectorCore` of ``model`` into
    ``out_bag``.

    ``truth_topic`` (when the input bag has it) is copied unchanged; ``storage`` defaults to the input's. Like
    the node, the core runs ``warmup_frames`` synthetic frames first (then its state is reset).
    """
    from record.ros.core import DetectorCore
    from record.runtime import open_runtime

    with BagReader(in_bag) as reader:
        reader.topic(input_topic, IMAGE_TYPE)
        copy_truth = truth_topic is not None and truth_topic in reader.topics
        runtime = open_runtime(model, backend, **dict(runtime_options or {}))
        try:
            core = DetectorCore(runtime, config)
            core.warmup(warmup_frames)
            with BagWriter(out_bag, storage=storage or reader.storage, overwrite=overwrite) as writer:
                summary = replay_core(core, reader, writer, input_topic, node_name,
                                      marker_lifetime_s=marker_lifetime_s,
                                      diagnostics_period_s=diagnostics_period_s)
                if copy_truth:
                    for item in reader.messages([truth_topic]):
                        writer.write_serialized(truth_topic, item.data, item.timestamp_ns, item.msgtype)
                summary.topics = dict(writer.counts)
        finally:
            runtime.close()
    return summary
