"""Soak: 10,000 frames through the detector core and 2,000 through the live node, without memory growth or
latency drift.

Criteria (issue 13): resident memory grows by less than 5 % after the warm-up, and the 99th percentile of the
per-frame time over the last 1,000 frames stays within 20 % of the first 1,000 (after the warm-up). The model
is a seeded random ``record_carrada_ra`` exported at 32 x 32, fed precomputed dB maps (``input.kind maps``),
so the soak exercises every stage of the core (decode, normalisation, inference with the state carried, label
maps, RA blobs, statistics windows, message encoding) in a few ms per frame.

The machine is shared: the core's per-frame time is measured as the CPU time of the calling thread (ONNX
Runtime with 1 intra-op thread computes in it), which other processes' load does not inflate the way it
inflates wall-clock time (it still moves with caches and clock speed: a miss is confirmed against a fresh core
timed alongside); the wall-clock percentiles are reported. The node's latency is wall clock (header stamp ->
detections received), the only clock that spans two processes; a miss there is confirmed by more frames.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: pip install -e '.[ros]'")
pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built: tools/build_vision_msgs.sh .venv")

pytestmark = [pytest.mark.slow, pytest.mark.serial]

CORE_FRAMES, CORE_WARMUP = 10_000, 1_000
NODE_FRAMES, NODE_WARMUP, NODE_RATE_HZ = 2_000, 200, 30.0
WINDOW = 1_000
MAX_RSS_GROWTH = 0.05
MAX_P99_DRIFT = 0.20


def _maps(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``n`` RA dB maps in the published dB range (uniform noise with a few bright blobs)."""
    rng = np.random.default_rng(seed)
    maps = rng.uniform(45.0, 70.0, (n, *size)).astype(np.float32)
    for k in range(n):
        for _ in range(3):
            r, c = rng.integers(2, size[0] - 2), rng.integers(2, size[1] - 2)
            maps[k, r - 1:r + 2, c - 1:c + 2] += 30.0
    return maps


def _rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _drift(values: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values[:WINDOW], 99)), float(np.percentile(values[-WINDOW:], 99))


class _CoreTimer:
    """One detector core over a seeded random ``record_carrada_ra`` (32 x 32 maps, 1 intra-op thread), timing
    each frame in CPU time of this thread and in wall-clock time (ms)."""

    def __init__(self, onnx_path: Path, maps: np.ndarray) -> None:
        from record.ros.core import CoreConfig, DetectorCore
        from record.runtime import open_runtime

        self.maps, self.frames = maps, 0
        self.runtime = open_runtime(onnx_path, "onnxruntime", threads=1)
        self.core = DetectorCore(self.runtime, CoreConfig(input_kind="maps", peak_threshold=0.3, max_gap_s=1.0,
                                                          max_age_s=0.5, min_blob_cells=1, latency_window=1000))
        self.core.warmup(3)

    def step(self) -> tuple[float, float, int]:
        """Process the next frame (stamps 100 ms apart); (cpu ms, wall ms, detections)."""
        from record.ros.core import FrameResult, InputImage
        from record.ros.messages import detections_message, make_header

        self.frames += 1
        stamp = self.frames * 100_000_000
        frame = self.maps[self.frames % len(self.maps)]
        wall, cpu = time.perf_counter(), time.thread_time()
        image = InputImage(stamp, "radar", 32, 32, "32FC1", False, 128, frame.tobytes())
        result = self.core.process(image, now_ns=stamp + 1_000_000)
        detections_message(result, make_header(stamp, "radar"))
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        assert isinstance(result, FrameResult)
        return cpu * 1e3, wall * 1e3, len(result.detections)

    def run(self, frames: int) -> np.ndarray:
        """CPU ms of ``frames`` frames."""
        return np.asarray([self.step()[0] for _ in range(frames)])


def test_core_soak_10000_frames(small_ra_onnx: Path) -> None:
    """The literal criterion first: p99 CPU time of frames 9,001-10,000 within 20 % of frames 1-1,000. The
    machine is shared, and CPU time still moves with the load of other processes (caches, clock), so a miss
    is confirmed against a control measured at the same time: a fresh core, created before the soak (its
    memory counted), is warmed up after it and then runs 1,000 frames alternating frame by frame with the
    soaked core. A drift (state, queues, leaks) persists in the soaked core and not in the fresh one; a burst
    of load hits both. Up to three confirmations; each must fail for the test to fail."""
    maps = _maps(16, (32, 32))
    soaked, control = _CoreTimer(small_ra_onnx, maps), _CoreTimer(small_ra_onnx, maps)
    soaked.run(CORE_WARMUP)
    rss_after_warmup = _rss_bytes()
    cpu_ms, wall_ms, detections = np.empty(CORE_FRAMES), np.empty(CORE_FRAMES), 0
    for index in range(CORE_FRAMES):
        cpu_ms[index], wall_ms[index], found = soaked.step()
        detections += found
    rss_end = _rss_bytes()
    stats = soaked.core.statistics()
    growth = rss_end / rss_after_warmup - 1.0
    first, last = _drift(cpu_ms)
    wall_first, wall_last = _drift(wall_ms)
    report = {"rss_mb": [rss_after_warmup / 2**20, rss_end / 2**20], "rss_growth": growth,
              "cpu_p99_ms": [first, last], "wall_p99_ms": [wall_first, wall_last],
              "median_wall_ms": float(np.median(wall_ms)), "detections": detections,
              "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    confirmations: list[list[float]] = []
    if last > (1 + MAX_P99_DRIFT) * first:
        control.run(CORE_WARMUP)
        while len(confirmations) < 3 and last > (1 + MAX_P99_DRIFT) * first:
            pairs = np.asarray([(soaked.step()[0], control.step()[0]) for _ in range(WINDOW)])
            last, first = (float(np.percentile(pairs[:, k], 99)) for k in (0, 1))
            confirmations.append([first, last])
        report["cpu_p99_ms_control_vs_soaked"] = confirmations
    print("core soak:", json.dumps(report))
    for timer in (soaked, control):
        timer.runtime.close()
    assert stats["processed"] == CORE_WARMUP + CORE_FRAMES and stats["dropped"] == 0
    assert sum(stats["resets"].values()) == 1  # the first frame only
    assert detections > 0
    assert growth < MAX_RSS_GROWTH, report
    assert last <= (1 + MAX_P99_DRIFT) * first, report


def _probe(ros_ns, frames_file: Path, frames: int, warmup: int, node_pid: int, name: str = "record_detector"
           ) -> tuple[dict, dict[int, int]]:
    """Publish ``warmup + frames`` maps to node ``name`` at NODE_RATE_HZ; (the probe's report, node RSS by
    frames sent)."""
    probe = ros_ns.popen([sys.executable, "-m", "record.ros.probe", "latency", str(frames_file), "--topic",
                          f"/radar/{name}/maps", "--detections", f"/{name}/detections", "--encoding", "32FC1",
                          "--frames", str(frames), "--warmup", str(warmup), "--rate", str(NODE_RATE_HZ),
                          "--progress", "100"])
    samples: dict[int, int] = {}
    lines: list[str] = []

    def follow() -> None:  # the node's RSS at every progress line of the probe
        for line in probe.stdout:
            lines.append(line)
            if '"progress"' in line:
                samples[json.loads(line)["progress"]] = _rss_bytes(node_pid)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    probe.wait(timeout=120 + (frames + warmup) / NODE_RATE_HZ * 3)
    reader.join(timeout=10)
    assert probe.returncode == 0, probe.stderr.read()[-3000:]
    return json.loads(lines[-1]), samples


def _start_node(ros_ns, model: Path, name: str):
    from record.ros.commands import DEFAULT_PARAMS_FILE

    return ros_ns.popen([str(Path(sys.executable).with_name("record_detector")), "--ros-args",
                         "--params-file", str(DEFAULT_PARAMS_FILE), "-p", f"model.path:={model}",
                         "-p", "input.kind:=maps", "-p", "model.threads:=1", "-p", "input.max_age_s:=0.0",
                         "-p", f"input.topic:=/radar/{name}/maps", "-r", f"__node:={name}"])


def _against_fresh_node(ros_ns, frames_file: Path, model: Path, soaked_pid: int) -> tuple[float, float]:
    """(p99 of a fresh, warmed-up node, p99 of the soaked node) over WINDOW frames each, sent in alternating
    chunks of 200 so that the machine's load hits both alike."""
    control = _start_node(ros_ns, model, "record_detector_control")
    try:
        _probe(ros_ns, frames_file, 10, NODE_WARMUP, control.pid, "record_detector_control")
        latencies: dict[str, list[float]] = {"record_detector_control": [], "record_detector": []}
        for _ in range(WINDOW // 200):
            for name, pid in (("record_detector", soaked_pid), ("record_detector_control", control.pid)):
                report, _ = _probe(ros_ns, frames_file, 200, 0, pid, name)
                latencies[name] += [v for v in report["latencies_ms"] if v is not None]
    finally:
        ros_ns.stop(control, timeout=10.0)
    return tuple(float(np.percentile(v, 99)) for v in latencies.values())  # type: ignore[return-value]


def test_node_soak_2000_frames(ros_ns, tmp_path: Path, small_ra_onnx: Path) -> None:
    """2,000 frames at 30 Hz (the ROD2021 sensor rate) through ``record_detector``. The node's latency is wall
    clock on a shared machine whose speed moves with the host's load for minutes at a time, so a p99 over the
    drift limit is confirmed against a fresh node: a fresh, warmed-up node and the soaked one take 1,000 more
    frames each in alternating chunks, and the soaked node's p99 must exceed the fresh one's by the limit too
    (a drift is the soaked node's own; the machine's load hits both)."""
    frames_file = tmp_path / "maps.npy"
    np.save(frames_file, _maps(16, (32, 32)))
    node = _start_node(ros_ns, small_ra_onnx, "record_detector")
    result, samples = _probe(ros_ns, frames_file, NODE_FRAMES, NODE_WARMUP, node.pid)
    latencies = np.asarray([v for v in result["latencies_ms"] if v is not None])
    rss_after_warmup, rss_end = samples[NODE_WARMUP], samples[NODE_WARMUP + NODE_FRAMES]
    growth = rss_end / rss_after_warmup - 1.0
    first, last = _drift(latencies)
    report = {"sent": result["sent"], "received": result["received"], "rss_mb": [rss_after_warmup / 2**20,
              rss_end / 2**20], "rss_growth": growth, "latency_p99_ms": [first, last],
              "median_ms": result["median_ms"], "isolated": ros_ns.isolated}
    if last > (1 + MAX_P99_DRIFT) * first:
        first, last = _against_fresh_node(ros_ns, frames_file, small_ra_onnx, node.pid)
        report["latency_p99_ms_fresh_vs_soaked"] = [first, last]
    print("node soak:", json.dumps(report))
    assert ros_ns.stop(node, timeout=10.0) == 0, node.stderr.read()[-3000:]
    assert result["received"] >= 0.9 * NODE_FRAMES, report  # keep-last-1: a few may be overtaken under load
    assert growth < MAX_RSS_GROWTH, report
    assert last <= (1 + MAX_P99_DRIFT) * first, report
