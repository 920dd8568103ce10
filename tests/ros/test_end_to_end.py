"""Over real DDS: ``record play`` -> the running ``record_detector`` node (ONNX Runtime) -> a subscriber,
whose detections score against the bag's ground truth exactly as ``record replay`` of the same bag does.

Every process runs through the ``ros_ns`` harness (one private network namespace, LOCALHOST discovery, a
private domain id). The recorder is ``python -m record.ros.probe record`` (a ``ros2 bag record`` stand-in).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ros

RECORD = [sys.executable, "-m", "record"]
RECORDER = [sys.executable, "-m", "record.ros.probe", "record"]
DETECTIONS = "/record_detector/detections"
N_FRAMES = 30
#: The fixture model peaks below the published 0.3 (see test_replay.py); node and replay both use 0.1.
OVERRIDES = ["postprocess.peak_threshold:=0.1"]


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def _start_recorder(ros_ns, out: Path, topics: dict[str, str], until: dict[str, int], timeout: float = 240.0,
                    matched: tuple[str, ...] = ()):
    """The recorder, once subscribed (and matched to the publishers of ``matched``, e.g. the node's
    outputs)."""
    args = [*RECORDER, "--out", str(out), "--idle", "1.0", "--timeout", str(timeout)]
    args += [a for topic in matched for a in ("--matched", topic)]
    args += [a for topic, msgtype in topics.items() for a in ("--topic", f"{topic}={msgtype}")]
    args += [a for topic, n in until.items() for a in ("--until", f"{topic}={n}")]
    recorder = ros_ns.popen(args)
    assert recorder.stdout.readline().strip() == "ready", recorder.stderr.read()
    return recorder


def _finish(proc, timeout: float) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{proc.args}\n{out}\n{err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.serial
def test_play_publishes_at_the_recorded_pace_and_stops_on_sigint(ros_ns, tmp_path: Path) -> None:
    from sensor_msgs.msg import Image
    from std_msgs.msg import Float64

    from record.ros.bags import BagReader, BagWriter

    bag = tmp_path / "small"
    with BagWriter(bag, storage="mcap") as writer:
        for i in range(10):
            image = Image(height=2, width=2, encoding="32FC2", step=16)
            image.data = np.full(8, i, np.float32).tobytes()
            image.header.stamp.sec, image.header.frame_id = 100 + i, "radar"
            t = 10**9 + i * 50_000_000  # 20 Hz
            writer.write("/radar/adc", image, t)
            writer.write("/value", Float64(data=float(i)), t + 1000)
    recorder = _start_recorder(ros_ns, tmp_path / "got", {"/radar/adc": "sensor_msgs/msg/Image",
                                                         "/value": "std_msgs/msg/Float64",
                                                         "/clock": "rosgraph_msgs/msg/Clock"},
                               {"/radar/adc": 10, "/value": 10}, timeout=60)
    play = ros_ns.run([*RECORD, "play", str(bag), "--rate", "2", "--clock", "100",
                       "--wait-for-subscribers", "30"], timeout=60)
    assert play.returncode == 0, play.stderr
    assert "published /radar/adc 10, /value 10" in play.stdout
    counts = _finish(recorder, 30)["counts"]
    assert counts["/radar/adc"] == counts["/value"] == 10 and counts["/clock"] >= 20
    with BagReader(tmp_path / "got") as got, BagReader(bag) as sent:
        received = got.read("/radar/adc")
        assert [m for _, m in received] == [m for _, m in sent.read("/radar/adc")]
        assert [m.data for _, m in got.read("/value")] == [float(i) for i in range(10)]
        clock = [m.clock.sec * 10**9 + m.clock.nanosec for _, m in got.read("/clock")]
    # bag time
    assert clock == sorted(clock) and clock[0] >= 10**9 and clock[-1] == 10**9 + 9 * 50_000_000 + 1000
    gaps = np.diff([t for t, _ in received]) / 1e6
    assert 15.0 < float(np.mean(gaps)) < 60.0, gaps  # 25 ms at rate 2 (receive times, loaded machine)

    looping = ros_ns.popen([*RECORD, "play", str(bag), "--loop", "--fast", "--min-gap", "0.01"])
    with pytest.raises(subprocess.TimeoutExpired):  # still running after 2 s: it loops
        looping.communicate(timeout=2.0)
    assert ros_ns.stop(looping, timeout=10.0) == 0
    out = looping.stdout.read()
    assert "(interrupted)" in out, out


@pytest.mark.slow
def test_node_detections_over_dds_equal_replay(ros_ns, tmp_path: Path, trained_rod2021_onnx: Path) -> None:
    from record.ros.bags import BagReader
    from record.ros.commands import DEFAULT_PARAMS_FILE as PARAMS_FILE
    from record.ros.recordings import bag_tables, score_bags, simulate_bag

    bag = simulate_bag(tmp_path / "sim", "rod2021", frames=N_FRAMES, seed=21, scenario="clear",
                       all_loops=False)
    overrides = [a for item in OVERRIDES for a in ("-p", item)]
    # wall-clock node: bag stamps are old, so frames must not be dropped as stale (input.max_age_s 0 = never)
    node = ros_ns.popen([str(Path(sys.executable).with_name("record_detector")), "--ros-args",
                         "--params-file", str(PARAMS_FILE), "-p", f"model.path:={trained_rod2021_onnx}",
                         "-p", "input.max_age_s:=0.0", *overrides, "-r", "~/input/radar:=/radar/adc"])
    recorder = _start_recorder(
        ros_ns, tmp_path / "collected",
        {DETECTIONS: "vision_msgs/msg/Detection3DArray",
         "/radar/ground_truth": "vision_msgs/msg/Detection3DArray",
         "/record_detector/markers": "visualization_msgs/msg/MarkerArray",
         "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray"},
        {DETECTIONS: N_FRAMES, "/radar/ground_truth": N_FRAMES, "/record_detector/markers": N_FRAMES},
        matched=(DETECTIONS, "/record_detector/markers", "/diagnostics"))
    # closed loop: each frame waits for its detections, so the node keeps up whatever the machine's load
    play = ros_ns.run([*RECORD, "play", str(bag), "--wait-for-subscribers", "120", "--lockstep", DETECTIONS,
                       "--lockstep-timeout", "30"], timeout=400)
    assert play.returncode == 0, f"{play.stdout}\n{play.stderr[-3000:]}\nnode:\n{node.stderr.read()[-3000:]}"
    assert f"published /radar/adc {N_FRAMES}, /radar/ground_truth {N_FRAMES}" in play.stdout, play.stdout
    assert "0 frame(s) without an answer" in play.stdout, play.stdout
    counts = _finish(recorder, 120)["counts"]
    assert ros_ns.stop(node, timeout=10.0) == 0, node.stderr.read()[-3000:]
    assert counts[DETECTIONS] == counts["/record_detector/markers"] == N_FRAMES  # no frame dropped
    with BagReader(tmp_path / "collected") as collected:
        diagnostics = [m.status[0] for _, m in collected.read("/diagnostics")]
        detection_stamps = [_stamp(m) for _, m in collected.read(DETECTIONS)]
    with BagReader(bag) as played:
        # headers copied, in order
        assert detection_stamps == [_stamp(m) for _, m in played.read("/radar/adc")]
    assert diagnostics, "no /diagnostics received"
    for status in diagnostics:
        values = {kv.key: kv.value for kv in status.values}
        assert values["dropped"] == "0" and values["backend.backend"] == "onnxruntime", values

    replayed = tmp_path / "replayed"
    replay = ros_ns.run([*RECORD, "replay", str(bag), "--out", str(replayed), "--model",
                         str(trained_rod2021_onnx), "--params-file", str(PARAMS_FILE), *overrides],
                        timeout=300)
    assert replay.returncode == 0, replay.stderr
    live, offline = bag_tables(tmp_path / "collected", DETECTIONS), bag_tables(replayed, DETECTIONS)
    assert len(live.detections) == len(offline.detections) > 0
    for name in ("frame", "class_id", "range_m", "azimuth_rad", "score"):
        np.testing.assert_allclose(getattr(live.detections, name), getattr(offline.detections, name),
                                   rtol=0, atol=1e-6, err_msg=name)
    live_score = score_bags([tmp_path / "collected"], DETECTIONS)[0]
    offline_score = score_bags([replayed], DETECTIONS)[0]
    assert live_score.ap == pytest.approx(offline_score.ap, abs=1e-9)
    assert live_score.ar == pytest.approx(offline_score.ar, abs=1e-9)
    assert live_score.accumulation.object_counts.sum() == offline_score.accumulation.object_counts.sum() > 0
