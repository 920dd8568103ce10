"""``record replay`` and ``record play``: bags through the node's core without DDS, and bags onto DDS.

* ``record replay IN_BAG --out OUT_BAG --model MODEL [--backend onnxruntime|openvino|torch] [--input-topic T]
  [--params-file YAML] [-p NAME:=VALUE ...] [--node-name N] [--storage sqlite3|mcap] [--overwrite] [--json]``:
  the node's :class:`~record.ros.core.DetectorCore`, configured from the node's parameter file (the same
  values the node runs with; default ``launch/record.params.yaml`` of this checkout; ``-p`` overrides as the
  node's ``--ros-args -p``), over the input topic; writes the topics the node publishes
  (:func:`record.ros.recordings.node_topics`) and a copy of the ground truth.
* ``record play BAG [--rate R | --fast] [--topics T ...] [--loop] [--clock [HZ]] [--wait-for-subscribers S]
  [--delay S] [--lockstep TOPIC]``: :func:`record.ros.play.play_bag`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from record.errors import ConfigError, describe

__all__ = ["DEFAULT_PARAMS_FILE", "core_config_from_params", "node_parameters", "play_main", "replay_main"]

#: The node's parameter file in this checkout.
DEFAULT_PARAMS_FILE = Path(__file__).resolve().parents[2] / "launch" / "record.params.yaml"


def node_parameters(path: str | os.PathLike[str], node_name: str) -> dict[str, Any]:
    """The ``ros__parameters`` a ROS 2 params file gives ``node_name`` (its own section over ``/**``), with
    nested keys joined by dots as rcl reads them."""
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(describe(str(path), f"cannot read the parameter file ({error})")) from None
    values: dict[str, Any] = {}
    for section in ("/**", node_name, f"/{node_name}"):
        tree = (document.get(section) or {}).get("ros__parameters") or {}
        stack: list[tuple[str, Mapping[str, Any]]] = [("", tree)]
        while stack:
            prefix, mapping = stack.pop()
            for key, value in mapping.items():
                if isinstance(value, Mapping):
                    stack.append((f"{prefix}{key}.", value))
                else:
                    values[f"{prefix}{key}"] = value
    return values


def _yaml_value(text: str) -> Any:
    """A ``-p`` value as rcl reads it (YAML: ``0.1`` double, ``3`` integer, ``true`` bool, else string)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _param(values: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in values:
        raise ConfigError(describe(where, f"parameter '{name}' is not set"))
    return values[name]


def core_config_from_params(values: Mapping[str, Any], where: str = "parameters") -> Any:
    """The :class:`~record.ros.core.CoreConfig` the node builds from its parameters (``ros_node``'s
    ``record_ros.detector_node``; the same mapping)."""
    from record.ros.core import CoreConfig

    return CoreConfig(
        input_kind=_param(values, "input.kind", where),
        peak_threshold=float(_param(values, "postprocess.peak_threshold", where)),
        max_gap_s=float(_param(values, "state.max_gap_s", where)),
        max_age_s=float(_param(values, "input.max_age_s", where)),
        min_blob_cells=int(_param(values, "postprocess.min_blob_cells", where)),
        latency_window=int(_param(values, "diagnostics.latency_window", where)),
    )


def _replay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="record replay",
        description="Run the ROS node's detector core over a rosbag2 recording without DDS and write the "
        "topics the node publishes (detections, markers, masks, debug times, diagnostics) plus a copy of the "
        "ground truth. Settings come from the node's parameter file.",
    )
    parser.add_argument("in_bag", metavar="IN_BAG", help="input bag (sqlite3 or MCAP)")
    parser.add_argument("--out", required=True, metavar="OUT_BAG", help="output bag (must not exist)")
    parser.add_argument("--model", required=True, help="exported ONNX model or project checkpoint (.pt)")
    parser.add_argument("--backend", choices=("onnxruntime", "openvino", "torch"), default="onnxruntime",
                        help="runtime backend (default onnxruntime)")
    parser.add_argument("--params-file", default=str(DEFAULT_PARAMS_FILE),
                        help="the node's ROS 2 parameter file (default: launch/record.params.yaml)")
    parser.add_argument("--node-name", default="record_detector",
                        help="node whose parameters and topic names to use (default record_detector)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="override one node parameter, as the node's `--ros-args -p NAME:=VALUE` "
                             "(repeatable; e.g. postprocess.peak_threshold:=0.1)")
    parser.add_argument("--input-topic", default="/radar/adc",
                        help="input sensor_msgs/Image topic (default /radar/adc, where "
                             "`record simulate --bag` writes the frames; the node's input is remapped there "
                             "to play such bags)")
    parser.add_argument("--truth-topic", default="/radar/ground_truth",
                        help="ground-truth topic copied when present (default /radar/ground_truth)")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"),
                        help="output storage (default: the input's)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: model.threads parameter)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output bag")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return parser


def replay_main(argv: list[str]) -> int:
    """Entry point of ``record replay``."""
    from record.ros.recordings import replay_bag

    parser = _replay_parser()
    args = parser.parse_args(argv)
    values = node_parameters(args.params_file, args.node_name)
    where = f"{args.params_file} ({args.node_name})"
    for item in args.param:
        name, sep, text = item.partition(":=")
        if not sep or not name:
            parser.error(f"--param {item!r}: expected NAME:=VALUE")
        values[name] = _yaml_value(text)
        where = f"{where} with -p {item}"
    threads = args.threads if args.threads is not None else int(_param(values, "model.threads", where))
    summary = replay_bag(
        args.in_bag, args.out, args.model, config=core_config_from_params(values, where),
        backend=args.backend, input_topic=args.input_topic, truth_topic=args.truth_topic,
        node_name=args.node_name, storage=args.storage, overwrite=args.overwrite,
        runtime_options={"threads": threads} if threads > 0 else {},
        marker_lifetime_s=float(values.get("markers.lifetime_s", 0.0)),
        diagnostics_period_s=float(values.get("diagnostics.period_s", 1.0)),
        warmup_frames=int(_param(values, "warmup.frames", where)),
    )
    if args.json:
        print(json.dumps(summary.to_dict()))
        return 0
    report = summary.to_dict()
    print(f"replayed {report['frames']} frames of {report['input_topic']}: {report['processed']} processed, "
          f"{report['dropped']} dropped {report['drops']}, resets {report['resets']}, {report['detections']} "
          f"detections; {report['frame_ms_p50']:.1f} ms per frame (p50), p99 {report['frame_ms_p99']:.1f} ms")
    print(f"wrote {Path(args.out).absolute()}: "
          + ", ".join(f"{t} ({n})" for t, n in report["topics"].items()))
    return 0


def _play_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="record play",
        description="Publish a bag's topics over rclpy with their recorded types (a stand-in for ros2 bag "
        "play): Image topics with sensor-data QoS, the rest reliable. Runs DDS: keep it on the loopback "
        "(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, a private ROS_DOMAIN_ID).",
    )
    parser.add_argument("bag", metavar="BAG", help="bag to play (sqlite3 or MCAP)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=1.0, help="speed factor of the recorded pace (default 1)")
    pace.add_argument("--fast", action="store_true", help="as fast as possible, --min-gap apart")
    parser.add_argument("--min-gap", type=float, default=0.001, metavar="S",
                        help="--fast: pause between messages, seconds (default 0.001)")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="topics to play (default: all)")
    parser.add_argument("--loop", action="store_true", help="start over at the end until interrupted")
    parser.add_argument("--clock", nargs="?", type=float, const=40.0, metavar="HZ",
                        help="also publish /clock with the bag time (default 40 Hz) for use_sim_time nodes")
    parser.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="S",
                        help="wait up to S seconds for a subscriber on every played topic (error if not)")
    parser.add_argument("--delay", type=float, default=0.0, metavar="S",
                        help="pause before the first message")
    parser.add_argument("--lockstep", metavar="TOPIC",
                        help="closed loop: after each Image frame wait for the message with its header stamp "
                             "on TOPIC (e.g. /record_detector/detections) before going on")
    parser.add_argument("--lockstep-type", default="vision_msgs/msg/Detection3DArray",
                        help="message type of --lockstep (default vision_msgs/msg/Detection3DArray)")
    parser.add_argument("--lockstep-timeout", type=float, default=5.0, metavar="S",
                        help="--lockstep: seconds to wait for each answer (default 5)")
    parser.add_argument("--node-name", default="record_play", help="the player's node name")
    return parser


def play_main(argv: list[str]) -> int:
    """Entry point of ``record play``."""
    from record.ros.play import PlayOptions, play_bag

    args = _play_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="record play: %(message)s", stream=sys.stderr)
    options = PlayOptions(
        rate=args.rate, fast=args.fast, min_gap_s=args.min_gap, topics=tuple(args.topics or ()) or None,
        loop=args.loop, clock=args.clock is not None, clock_hz=args.clock or 40.0,
        wait_for_subscribers_s=args.wait_for_subscribers, delay_s=args.delay, node_name=args.node_name,
        lockstep=args.lockstep, lockstep_type=args.lockstep_type, lockstep_timeout_s=args.lockstep_timeout,
    )
    result = play_bag(args.bag, options)
    counts = ", ".join(f"{topic} {n}" for topic, n in result.published.items()) or "nothing"
    state = "interrupted" if result.interrupted else f"{result.loops} pass(es)"
    missed = f", {result.missed} frame(s) without an answer on {args.lockstep}" if args.lockstep else ""
    print(f"published {counts} in {result.wall_s:.1f} s ({state}{missed})", flush=True)
    return 0
