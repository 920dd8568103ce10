"""Simulated bags (``record simulate --bag``), offline replay through the node's core (``record replay``) and
scoring of bags (``record score rod2021 --bag``), all without DDS."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: pip install -e '.[ros]'")
pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built: tools/build_vision_msgs.sh .venv")

from record.cli import main as record_main
from record.data.synth_common import SplitSize, plan_sequences, simulated_chunks
from record.errors import InputError
from record.ros.bags import BagError, BagReader, BagWriter
from record.ros.commands import DEFAULT_PARAMS_FILE, core_config_from_params, node_parameters
from record.ros.recordings import (
    ADC_TOPIC,
    START_STAMP_NS,
    TRUTH_TOPIC,
    node_topics,
    replay_bag,
    score_bags,
    simulate_bag,
)
from record.sensors import CARRADA, ROD2021
from record.train.synthetic import scenario_settings

TOPICS = node_topics()


def _stamp(msg) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def _simulated(capture, name: str, n: int, seed: int, scenario: str, all_loops: bool) -> list:
    """The simulator's frames for a bag named ``name`` (the same plan as simulate_bag)."""
    scene, simulation = scenario_settings(scenario, capture)
    if capture is ROD2021:
        simulation = dataclasses.replace(simulation, all_loops=all_loops)
    plan = plan_sequences({"test": SplitSize(1, n)}, {"test": [name]}, seed)[0]
    return [f for chunk in simulated_chunks(capture, plan, scene, simulation, 4) for f in chunk]


def _node_config():
    return core_config_from_params(node_parameters(DEFAULT_PARAMS_FILE, "record_detector"))


@pytest.fixture(scope="module")
def kept_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 ROD2021 frames (4 kept loops, clear scenario) in an MCAP bag."""
    return simulate_bag(tmp_path_factory.mktemp("bags") / "rod_kept", "rod2021", frames=6, seed=5,
                        scenario="clear", all_loops=False, storage="mcap")


@pytest.fixture(scope="module")
def random_rod2021_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from record.models import create_model, save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "record_rod2021_random.pt"
    save_checkpoint(create_model("record_rod2021"), path)
    return path


# ------------------------------------------------------------------------------------------ simulate --bag


def test_simulated_bag_holds_the_simulators_frames_and_truth(kept_bag: Path) -> None:
    frames = _simulated(ROD2021, "rod_kept", 6, 5, "clear", all_loops=False)
    with BagReader(kept_bag) as bag:
        assert bag.storage == "mcap"
        assert {t: (i.msgtype, i.count) for t, i in bag.topics.items()} == {
            ADC_TOPIC: ("sensor_msgs/msg/Image", 6), TRUTH_TOPIC: ("vision_msgs/msg/Detection3DArray", 6)}
        images = bag.read(ADC_TOPIC)
        truths = bag.read(TRUTH_TOPIC)
    period = ROD2021.waveform.frame_period_s
    objects = 0
    for i, ((t_img, image), (t_truth, truth), frame) in enumerate(zip(images, truths, frames)):
        stamp = START_STAMP_NS + round(i * period * 1e9)
        assert t_img == t_truth == _stamp(image) == _stamp(truth) == stamp
        assert image.header.frame_id == truth.header.frame_id == "radar"
        assert (image.encoding, image.height, image.width, image.step, image.is_bigendian) == (
            "32FC2", 4 * 2 * 4, 128, 128 * 8, 0)
        cube = np.frombuffer(image.data, np.complex64).reshape(4, 2, 4, 128)  # row = (loop * 2 + tx) * 4 + rx
        np.testing.assert_array_equal(cube, frame.adc)
        visible = frame.truth.visible_objects()
        assert [d.results[0].hypothesis.class_id for d in truth.detections] == [o.class_name for o in visible]
        for det, obj in zip(truth.detections, visible):
            hyp = det.results[0]
            assert hyp.hypothesis.score == 1.0
            assert hyp.pose.pose.position.x == pytest.approx(obj.x_m, abs=1e-9)
            assert hyp.pose.pose.position.y == pytest.approx(obj.y_m, abs=1e-9)
        objects += len(visible)
    assert objects > 0


def test_all_loops_int16_and_carrada_bags(tmp_path: Path) -> None:
    simulate_bag(tmp_path / "rod", "rod2021", frames=2, seed=1, adc_encoding="16SC2")
    frames = _simulated(ROD2021, "rod", 2, 1, "default", all_loops=True)
    with BagReader(tmp_path / "rod") as bag:
        assert bag.storage == "sqlite3"
        images = [m for _, m in bag.read(ADC_TOPIC)]
    for image, frame in zip(images, frames):
        assert (image.encoding, image.height, image.width, image.step) == ("16SC2", 255 * 8, 128, 128 * 4)
        iq = np.frombuffer(image.data, "<i2").reshape(255, 2, 4, 128, 2)
        np.testing.assert_array_equal(iq[..., 0], np.rint(frame.adc.real))
        np.testing.assert_array_equal(iq[..., 1], np.rint(frame.adc.imag))
    simulate_bag(tmp_path / "car", "carrada", frames=2, seed=1)
    with BagReader(tmp_path / "car") as bag:
        images = bag.read(ADC_TOPIC)
        assert bag.topics[TRUTH_TOPIC].count == 2
    assert (images[1][1].height, images[1][1].width) == (64 * 8, 256)
    assert images[1][0] - images[0][0] == round(CARRADA.waveform.frame_period_s * 1e9)


def test_simulate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli_bag"
    args = ["simulate", "--layout", "rod2021", "--bag", str(out), "--frames", "2", "--kept-loops",
            "--storage", "mcap", "--seed", "4", "--scenario", "clear"]
    assert record_main(args) == 0
    assert f"wrote rod2021 bag: {out}" in capsys.readouterr().out
    assert record_main(args) == 1  # exists
    assert "exists there already" in capsys.readouterr().err
    assert record_main(["simulate", "--layout", "carrada", "--bag", str(tmp_path / "c"), "--adc-encoding",
                        "16SC2"]) == 1
    assert "int16 rounding would destroy them" in capsys.readouterr().err
    for bad in (["--bag", str(tmp_path / "x"), "--train-sequences", "2"], [], ["--out", "d", "--bag", "b"],
                ["--out", str(tmp_path / "d"), "--storage", "mcap"]):
        with pytest.raises(SystemExit) as exit_info:
            record_main(["simulate", "--layout", "rod2021", *bad])
        assert exit_info.value.code == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "d").exists()


# ------------------------------------------------------------------------------------------ replay


def test_replay_writes_what_the_node_publishes(tmp_path: Path, kept_bag: Path,
                                               random_rod2021_checkpoint: Path) -> None:
    out = tmp_path / "replayed"
    summary = replay_bag(kept_bag, out, random_rod2021_checkpoint, config=_node_config(), backend="torch",
                         warmup_frames=1)
    assert (summary.frames, summary.processed, summary.drops, summary.resets) == (6, 6, {}, {"first": 1})
    with BagReader(kept_bag) as bag:
        stamps = [_stamp(m) for _, m in bag.read(ADC_TOPIC)]
        truth = [m for _, m in bag.read(TRUTH_TOPIC)]
    with BagReader(out) as bag:
        assert bag.storage == "mcap"  # the input's
        counts = {t: i.count for t, i in bag.topics.items()}
        assert counts == {TOPICS["detections"]: 6, TOPICS["markers"]: 6, TOPICS["processing_time"]: 6,
                          TOPICS["pipeline_latency"]: 6, TOPICS["diagnostics"]: 1, TRUTH_TOPIC: 6}
        detections = bag.read(TOPICS["detections"])
        assert [_stamp(m) for _, m in detections] == stamps == [t for t, _ in detections]
        assert sum(len(m.detections) for _, m in detections) == summary.detections > 0
        assert all(d.results[0].hypothesis.class_id in ("pedestrian", "cyclist", "car")
                   for _, m in detections for d in m.detections)
        assert [m for _, m in bag.read(TRUTH_TOPIC)] == truth
        markers = bag.read(TOPICS["markers"])[0][1]
        assert len(markers.markers) == 1 + 2 * len(detections[0][1].detections)
        times = [m.data for _, m in bag.read(TOPICS["processing_time"])]
        latency = [m.data for _, m in bag.read(TOPICS["pipeline_latency"])]
        assert times == pytest.approx(latency)  # bag time = stamp: latency is the processing time
        diagnostics = bag.read(TOPICS["diagnostics"])[0][1].status[0]
        values = {kv.key: kv.value for kv in diagnostics.values}
        assert (values["processed"] == "6" and values["dropped"] == "0"
                and values["backend.backend"] == "torch")


def test_replay_carrada_writes_masks(tmp_path: Path) -> None:
    import torch

    from record.models import create_model, save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(create_model("mv_record"), tmp_path / "mv.pt")
    simulate_bag(tmp_path / "car", "carrada", frames=2, seed=2)
    replay_bag(tmp_path / "car", tmp_path / "out", tmp_path / "mv.pt", config=_node_config(), backend="torch",
               warmup_frames=0, storage="mcap")
    with BagReader(tmp_path / "out") as bag:
        assert bag.storage == "mcap"
        for view, shape in (("rd", (256, 64)), ("ra", (256, 256))):
            masks = bag.read(f"{TOPICS['masks']}/{view}", "sensor_msgs/msg/Image")
            assert len(masks) == 2
            image = masks[1][1]
            assert (image.encoding, image.height, image.width) == ("mono8", *shape)
            assert np.frombuffer(image.data, np.uint8).max() <= 3


def test_replay_command_and_errors(tmp_path: Path, kept_bag: Path, random_rod2021_checkpoint: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["replay", str(kept_bag), "--out", str(out), "--model", str(random_rod2021_checkpoint),
            "--backend", "torch", "--json"]
    assert record_main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == summary["processed"] == 6 and summary["dropped"] == 0
    assert summary["topics"][TOPICS["detections"]] == 6
    assert record_main(args) == 1
    assert "exists there already" in capsys.readouterr().err
    assert record_main([*args[:3], str(tmp_path / "o2"), *args[4:], "--input-topic", "/radar/raw"]) == 1
    assert "no topic /radar/raw" in capsys.readouterr().err
    assert record_main([*args[:3], str(tmp_path / "o3"), *args[4:], "--input-topic", TRUTH_TOPIC]) == 1
    assert "wrong message type" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
    with pytest.raises(BagError, match="bag not found"):
        replay_bag(tmp_path / "missing", tmp_path / "o4", random_rod2021_checkpoint, config=_node_config())


# ------------------------------------------------------------------------------------------ score --bag


def test_score_bag_matches_frames_by_stamp(tmp_path: Path, kept_bag: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    score, tables = score_bags([kept_bag], TRUTH_TOPIC)  # the truth against itself
    assert score.ap == pytest.approx(1.0) and score.ar == pytest.approx(1.0)
    assert tables["rod_kept"].frames_with_detections == 6 and len(tables["rod_kept"].truth) > 0
    # a bag whose detections skip frames (dropped) and arrive out of order
    with BagReader(kept_bag) as bag:
        truth = bag.read(TRUTH_TOPIC)
    partial = tmp_path / "partial"
    with BagWriter(partial) as bag:
        for t, msg in truth:
            bag.write(TRUTH_TOPIC, msg, t)
        for t, msg in reversed(truth[::2]):
            bag.write("/dets", msg, t)
    score, tables = score_bags([partial], "/dets")
    assert tables["partial"].frames_with_detections == 3
    assert score.ap < 1.0 and score.accumulation.detection_counts.sum() == sum(
        len(m.detections) for _, m in truth[::2])
    assert record_main(["score", "rod2021", "--bag", str(partial), "--detections-topic", "/dets",
                        "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bags"] == {"partial": {"frames": 6, "frames_with_detections": 3}}
    # a detections stamp that is no frame
    stray = tmp_path / "stray"
    with BagWriter(stray) as bag:
        bag.write(TRUTH_TOPIC, truth[0][1], truth[0][0])
        bag.write("/dets", truth[1][1], truth[1][0])
    with pytest.raises(InputError, match="stray: /dets: 1 message\\(s\\) with a stamp that is no frame"):
        score_bags([stray], "/dets")
    assert record_main(["score", "rod2021", "--bag", str(partial)]) == 1
    assert "no topic /record_detector/detections" in capsys.readouterr().err


def test_trained_model_detects_the_simulated_road_users(tmp_path: Path, trained_rod2021_onnx: Path) -> None:
    """``record simulate --bag`` -> ``record replay`` (ONNX Runtime) -> ``record score --bag``.

    The fixture model (200 training steps) peaks below the published 0.3 threshold: both this test and the
    end-to-end test lower it to 0.1, the node's way (``-p postprocess.peak_threshold:=0.1``).
    """
    bag, out = tmp_path / "sim", tmp_path / "replayed"
    assert record_main(["simulate", "--layout", "rod2021", "--bag", str(bag), "--frames", "60",
                        "--seed", "11", "--scenario", "clear", "--kept-loops"]) == 0
    assert record_main(["replay", str(bag), "--out", str(out), "--model", str(trained_rod2021_onnx),
                        "-p", "postprocess.peak_threshold:=0.1"]) == 0
    score, tables = score_bags([out], TOPICS["detections"])
    assert tables["replayed"].frames_with_detections == 60
    assert len(tables["replayed"].truth) > 30 and len(tables["replayed"].detections) > 30
    assert score.ap > 0.02 and score.ar > 0.02, score.to_dict()


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino is not installed")
def test_replay_on_openvino_gives_the_detections_of_onnxruntime(tmp_path: Path, kept_bag: Path,
                                                                trained_rod2021_onnx: Path) -> None:
    """The node's core on the OpenVINO backend: the same detections as on ONNX Runtime, frame by frame."""
    tables = {}
    for backend in ("onnxruntime", "openvino"):
        out = tmp_path / backend
        assert record_main(["replay", str(kept_bag), "--out", str(out), "--model", str(trained_rod2021_onnx),
                            "--backend", backend, "-p", "postprocess.peak_threshold:=0.1"]) == 0
        _, per_bag = score_bags([out], TOPICS["detections"])
        tables[backend] = per_bag[backend].detections
    reference, found = tables["onnxruntime"], tables["openvino"]
    assert len(reference) > 0 and len(found) == len(reference)
    for column in ("frame", "class_id"):
        assert np.array_equal(getattr(found, column), getattr(reference, column))
    np.testing.assert_allclose(found.score, reference.score, atol=1e-4)
