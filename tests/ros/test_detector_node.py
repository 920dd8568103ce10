"""The ``record_detector`` node over real DDS (the ``ros_ns`` harness: loopback only, private domain).

The node is started as a vehicle would start it without launch: ``record_detector --ros-args --params-file
launch/record.params.yaml --params-file <test overlay>``. A driver process publishes simulated
ROD2021 frames and broken ones, paced by what comes back (detections for good frames, the diagnostics'
``received`` counter for dropped ones), and collects detections, markers, debug topics, diagnostics and the
node's declared parameters. Detections must equal those of :class:`record.ros.core.DetectorCore` run in this
process on the same messages.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from record.ros.core import CoreConfig, DetectorCore, DroppedFrame, rod2021_maps
from record.sensors import ROD2021

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
PARAMS_FILE = REPO / "launch" / "record.params.yaml"
EXECUTABLE = str(Path(sys.executable).parent / "record_detector")
#: Parameters every rclpy node declares itself.
ROS_OWN_PARAMETERS = {"use_sim_time", "start_type_description_service"}
TIMEOUT_S = 60.0
#: The package's Fast DDS profile for large frames (a 512 KiB maps frame exceeds the default shared-memory
#: segment; best-effort fragments over UDP are mostly lost), for the node and the driver alike.
FASTDDS_PROFILE = REPO / "ros_node" / "config" / "fastdds_large_frames.xml"
LARGE_FRAMES = {"FASTDDS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE)}

# argv: SCRIPT.json OUT.json TIMEOUT. Script steps: {"kind", "stamp_ns", "file"} (a serialised Image).
_DRIVER = r"""
import json, sys, time
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import ListParameters
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Float64
from vision_msgs.msg import Detection3DArray
from visualization_msgs.msg import MarkerArray
from record.ros.messages import stamp_ns

script = json.load(open(sys.argv[1]))
out_path, timeout = sys.argv[2], float(sys.argv[3])
rclpy.init()
node = rclpy.create_node("scenario_driver")
name = "/record_detector"
got = {"detections": {}, "markers": [], "processing_ms": [], "latency_ms": [], "diagnostics": [],
       "retries": 0}

def on_detections(msg):
    got["detections"][str(stamp_ns(msg.header.stamp))] = {"frame_id": msg.header.frame_id, "detections": [
        [d.results[0].hypothesis.class_id, d.results[0].hypothesis.score, d.results[0].pose.pose.position.x,
         d.results[0].pose.pose.position.y] for d in msg.detections]}

def on_diagnostics(msg):
    for status in msg.status:
        if status.name.startswith("record_detector"):
            level = status.level[0] if isinstance(status.level, bytes) else int(status.level)
            got["diagnostics"].append({"level": level, "message": status.message,
                                       "values": {kv.key: kv.value for kv in status.values}})

subscriptions = [
    node.create_subscription(Detection3DArray, name + "/detections", on_detections, 10),
    node.create_subscription(MarkerArray, name + "/markers",
                             lambda m: got["markers"].append([[x.action, x.type, x.text] for x in m.markers]),
                             10),
    node.create_subscription(Float64, name + "/debug/processing_time_ms",
                             lambda m: got["processing_ms"].append(m.data), 10),
    node.create_subscription(Float64, name + "/debug/pipeline_latency_ms",
                             lambda m: got["latency_ms"].append(m.data), 10),
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10),
]
publisher = node.create_publisher(Image, "/radar/adc", qos_profile_sensor_data)

def spin_until(cond, seconds):
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.02)
    return cond()

def received():
    return int(got["diagnostics"][-1]["values"]["received"]) if got["diagnostics"] else 0

if not spin_until(lambda: publisher.get_subscription_count() > 0
                  and all(s.get_publisher_count() > 0 for s in subscriptions) and got["diagnostics"],
                  timeout):
    sys.exit("driver: the node did not come up")

for sent, step in enumerate(script, start=1):
    with open(step["file"], "rb") as f:
        msg = deserialize_message(f.read(), Image)
    if step["kind"] == "good":
        done = lambda: str(step["stamp_ns"]) in got["detections"]
    else:
        done = lambda: received() >= sent
    for attempt in range(2):  # best effort: publish again if this one was lost
        publisher.publish(msg)
        if spin_until(done, timeout / 2):
            break
        got["retries"] += 1
    else:
        sys.exit(f"driver: no answer to step {sent}: {step}")

n_good = sum(step["kind"] == "good" for step in script)
spin_until(lambda: received() >= len(script)
           and int(got["diagnostics"][-1]["values"]["processed"]) >= n_good, timeout)
client = node.create_client(ListParameters, name + "/list_parameters")
if not client.wait_for_service(timeout_sec=timeout):
    sys.exit("driver: no list_parameters service")
future = client.call_async(ListParameters.Request())
spin_until(future.done, timeout)
got["parameters"] = sorted(future.result().result.names)
with open(out_path, "w") as f:
    json.dump(got, f)
node.destroy_node()
rclpy.shutdown()
"""


# ------------------------------------------------------------ model and frames
def _simulated_adc(n_frames: int, seed: int = 1) -> np.ndarray:
    from record.sim import Simulator, random_scene, scene_config_for

    rng = np.random.default_rng(seed)
    scene = random_scene(scene_config_for(ROD2021), duration_s=n_frames / 30 + 1.0, rng=rng)
    return np.stack([frame.adc for frame in Simulator(ROD2021, scene, rng=rng).frames(n_frames)])


def _overlay(tmp_path: Path, model: Path, **sections: dict) -> Path:
    """A params file overriding the shipped one for this test (JSON is YAML)."""
    values = {
        "model": {"path": str(model), "threads": 2},
        "input": {"topic": "/radar/adc", "max_age_s": 120.0},
        "state": {"max_gap_s": 0.5},
        "diagnostics": {"period_s": 0.2},
        "warmup": {"frames": 1},
    }
    for key, section in sections.items():
        values[key] = {**values.get(key, {}), **section}
    path = tmp_path / "overlay.params.yaml"
    path.write_text(json.dumps({"/**": {"ros__parameters": values}}))
    return path


def _start_node(ros_ns, *params_files: Path, extra: tuple[str, ...] = (), env: dict | None = None):
    args = [EXECUTABLE, "--ros-args"]
    for path in params_files:
        args += ["--params-file", str(path)]
    return ros_ns.popen([*args, *extra], env=env)


def _message(frame: np.ndarray, step: dict):
    """The ``sensor_msgs/Image`` of one script step: a good frame, or one broken as ``step["kind"]`` says."""
    from record.ros.messages import image_message

    kind = step["kind"]
    if kind == "nan":
        frame = frame.copy()
        frame.flat[5] = np.nan
    if kind == "layout":  # well-formed, but 64 sample / azimuth columns instead of 128
        frame = frame.reshape(-1, 64) if np.iscomplexobj(frame) else frame.reshape(-1, 64, 2)
    msg = image_message(frame, step["stamp_ns"], step["frame_id"], "32FC2")
    if kind == "encoding":
        msg.encoding = "8UC1"
    if kind == "size":
        msg.data = bytes(msg.data)[:-16]
    return msg


def _expected(model: Path, messages: list, kind: str) -> dict[str, list]:
    """What the node must publish: the same messages through an in-process core."""
    from record.ros.messages import detections_message, input_image
    from record.runtime import open_runtime

    with open_runtime(model, "onnxruntime", threads=2) as runtime:
        runtime.warmup(1)
        core = DetectorCore(
            runtime,
            CoreConfig(
                input_kind=kind,
                peak_threshold=0.3,
                max_gap_s=0.5,
                max_age_s=120.0,
                min_blob_cells=4,
                latency_window=100,
            ),
        )
        out = {}
        for msg in messages:
            result = core.process(input_image(msg), time.time_ns())
            if isinstance(result, DroppedFrame):
                continue
            detections = detections_message(result).detections
            out[str(result.stamp_ns)] = [
                [
                    d.results[0].hypothesis.class_id,
                    d.results[0].hypothesis.score,
                    d.results[0].pose.pose.position.x,
                    d.results[0].pose.pose.position.y,
                ]
                for d in detections
            ]
    return out


def _run_scenario(ros_ns, tmp_path: Path, model: Path, frames: np.ndarray, script: list[dict], kind: str):
    """Start the node and the driver, compute the expected detections meanwhile.

    Returns (node process, driver JSON, expected detections by stamp)."""
    from rclpy.serialization import serialize_message

    messages = [_message(frames[step["frame"]], step) for step in script]
    for index, (step, msg) in enumerate(zip(script, messages)):
        step["file"] = str(tmp_path / f"message_{index}.cdr")
        Path(step["file"]).write_bytes(serialize_message(msg))
    (tmp_path / "script.json").write_text(json.dumps(script))
    node = _start_node(ros_ns, PARAMS_FILE, _overlay(tmp_path, model, input={"kind": kind}), env=LARGE_FRAMES)
    driver = ros_ns.python(
        _DRIVER, tmp_path / "script.json", tmp_path / "out.json", str(TIMEOUT_S), env=LARGE_FRAMES
    )
    expected = _expected(model, messages, kind)
    out, err = driver.communicate(timeout=4 * TIMEOUT_S)
    if driver.returncode != 0:
        ros_ns.stop(node)
        node_out, node_err = node.communicate()
        raise AssertionError(
            f"driver failed ({driver.returncode}):\n{out}\n{err}\n--- node\n{node_out}\n{node_err}"
        )
    return node, json.loads((tmp_path / "out.json").read_text()), expected


def _assert_same_detections(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for stamp, detections in expected.items():
        found = got[stamp]["detections"]
        assert [d[0] for d in found] == [d[0] for d in detections], stamp
        np.testing.assert_allclose([d[1:] for d in found], [d[1:] for d in detections], rtol=1e-4, atol=1e-4)


def _assert_clean_exit(node, expected_signal: int) -> str:
    node.send_signal(expected_signal)
    out, err = node.communicate(timeout=30)
    assert node.returncode == 0, f"exit {node.returncode}\n{out}\n{err}"
    assert "Traceback" not in err + out and "Exception" not in err + out, err
    assert "stopping (signal)" in err + out
    return out + err


# ------------------------------------------------------------ the scenario


@pytest.mark.slow
def test_node_over_dds_resets_drops_and_keeps_running(
    ros_ns, tmp_path: Path, trained_rod2021_onnx: Path
) -> None:
    frames = _simulated_adc(10)
    base = time.time_ns()

    def step(kind: str, frame: int, stamp_ms: float, frame_id: str = "radar") -> dict:
        return {"kind": kind, "frame": frame, "stamp_ns": base + int(stamp_ms * 1e6), "frame_id": frame_id}

    script = [
        step("good", 0, 0),
        step("good", 1, 100),
        step("good", 2, 200),
        step("stale", 3, -3_600_000),  # an hour old: dropped as stale, no reset
        step("good", 3, 300),
        step("good", 4, 2000),  # gap > state.max_gap_s
        step("good", 5, 1500),  # backwards
        step("good", 6, 1600, "radar_b"),  # frame-id change
        step("nan", 7, 1700, "radar_b"),
        step("good", 7, 1800, "radar_b"),  # after a bad frame
        step("encoding", 8, 1900, "radar_b"),
        step("size", 8, 2000, "radar_b"),
        step("layout", 8, 2100, "radar_b"),
        step("good", 8, 2200, "radar_b"),  # one reset for three bad frames
        step("good", 9, 2300, "radar_b"),
    ]
    node, got, expected = _run_scenario(ros_ns, tmp_path, trained_rod2021_onnx, frames, script, "adc")

    _assert_same_detections(got["detections"], expected)
    assert sum(len(d) for d in expected.values()) > 0, "the model detected nothing"
    assert got["detections"][str(script[-1]["stamp_ns"])]["frame_id"] == "radar_b"
    values = got["diagnostics"][-1]["values"]
    counts = {
        key: int(values[key])
        for key in (
            "received",
            "processed",
            "dropped",
            "drops.stale",
            "drops.malformed",
            "drops.non_finite",
            "resets.first",
            "resets.gap",
            "resets.backwards",
            "resets.frame_id",
            "resets.after_bad_frame",
        )
    }
    assert counts == {
        "received": 15,
        "processed": 10,
        "dropped": 5,
        "drops.stale": 1,
        "drops.malformed": 3,
        "drops.non_finite": 1,
        "resets.first": 1,
        "resets.gap": 1,
        "resets.backwards": 1,
        "resets.frame_id": 1,
        "resets.after_bad_frame": 2,
    }
    assert values["backend.backend"] == "onnxruntime" and float(values["processing_ms.p99"]) > 0
    assert any("malformed" in d["message"] for d in got["diagnostics"])  # WARN naming the drop
    assert got["markers"] and all(m[0][0] == 3 for m in got["markers"])  # DELETEALL first
    assert len(got["processing_ms"]) >= 10 and min(got["processing_ms"]) > 0
    assert len(got["latency_ms"]) >= 10
    # the node declares exactly the parameters of the shipped file (rcl parsed it), plus rclpy's own
    from record_ros.parameters import parameter_names, read_params_file

    assert (
        set(got["parameters"]) - ROS_OWN_PARAMETERS
        == set(read_params_file(PARAMS_FILE))
        == set(parameter_names())
    )

    log = _assert_clean_exit(node, signal.SIGINT)
    assert "non_finite" in log and "state reset before frame" in log


@pytest.mark.slow
def test_node_on_maps_stops_cleanly_on_sigterm(ros_ns, tmp_path: Path, trained_rod2021_onnx: Path) -> None:
    from record.dsp.chain import Rod2021Chain

    maps = np.stack([rod2021_maps(m) for m in Rod2021Chain()(_simulated_adc(4))])
    base = time.time_ns()
    script = [
        {"kind": "good", "frame": i, "stamp_ns": base + i * 33_000_000, "frame_id": "radar"} for i in range(4)
    ]
    node, got, expected = _run_scenario(ros_ns, tmp_path, trained_rod2021_onnx, maps, script, "maps")
    _assert_same_detections(got["detections"], expected)
    assert sum(len(d) for d in expected.values()) > 0, "the model detected nothing"
    assert int(got["diagnostics"][-1]["values"]["processed"]) == 4
    _assert_clean_exit(node, signal.SIGTERM)


# ------------------------------------------------------------ start-up failures
def test_bad_parameters_stop_the_node_with_one_line(ros_ns, tmp_path: Path) -> None:
    from record_ros.parameters import read_params_file

    shipped = read_params_file(PARAMS_FILE)
    missing = {k: v for k, v in shipped.items() if k != "state.max_gap_s"}
    nested: dict = {}
    for key, value in missing.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    incomplete = tmp_path / "incomplete.yaml"
    incomplete.write_text(json.dumps({"/**": {"ros__parameters": nested}}))
    cases = {
        "missing": ([incomplete], (), "'state.max_gap_s' is not set"),
        "type": ([PARAMS_FILE], ("-p", "state.max_gap_s:=1"), "'state.max_gap_s' must be a double"),
        "range": (
            [PARAMS_FILE],
            ("-p", "postprocess.peak_threshold:=1.5"),
            "threshold': 1.5 is out of range",
        ),
        "choice": ([PARAMS_FILE], ("-p", "model.backend:=caffe"), "'model.backend': unknown value 'caffe'"),
        "model": ([PARAMS_FILE], ("-p", f"model.path:={tmp_path / 'absent.onnx'}"), "ONNX file not found"),
        "build_only_backend": (
            [PARAMS_FILE],
            ("-p", "model.build_only:=true"),
            "set model.backend to tensorrt",
        ),
        "build_only_here": (
            [PARAMS_FILE],
            (
                "-p",
                "model.build_only:=true",
                "-p",
                "model.backend:=tensorrt",
                "-p",
                "model.device:=cuda",
                "-p",
                f"model.path:={tmp_path / 'm.onnx'}",
            ),
            "backend 'tensorrt' is not available here",
        ),
    }
    procs = {name: _start_node(ros_ns, *files, extra=extra) for name, (files, extra, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        lines = [line for line in (out + err).splitlines() if line.strip()]
        assert proc.returncode == 2, (name, proc.returncode, out, err)
        assert len(lines) == 1 and "[FATAL]" in lines[0] and "cannot start" in lines[0], (name, lines)
        assert cases[name][2] in lines[0], (name, lines[0])


# ------------------------------------------------------------ the package itself (no DDS)
def test_ros_package_checks_pass() -> None:
    """ros_node/test (params file == declared table, launch file, manifest, entry point, lint), run here."""
    import subprocess

    pytest.importorskip("record_ros", reason="record_ros not installed: pip install -e ros_node")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "ros_node" / "test")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert Path(EXECUTABLE).is_file(), "record_detector is not on the venv's PATH"
