"""record.ros.core without ROS: image layouts and their failures, reset and drop rules, statistics,
detections.

Most tests drive the core with a scripted runtime (the real deployment specs of the models, logits chosen
by the test), so they check exactly what the core feeds the model and how it decodes the scores; one test
runs the ONNX export of the ROD2021 checkpoint on simulated raw frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, softmax

from record.data.carrada import normalise_tvt
from record.errors import ConfigError
from record.ros.core import (
    CoreConfig,
    DetectorCore,
    DroppedFrame,
    FrameResult,
    InputImage,
    carrada_maps,
    expected_layout,
    rod2021_maps,
)
from record.runtime.base import StreamingRuntime
from record.runtime.spec import DeploymentSpec, build_spec
from record.sensors import CARRADA, ROD2021

MS = 1_000_000  # nanoseconds
T0 = 1_700_000_000 * 10**9


# ------------------------------------------------------------ a scripted runtime with a real spec
class ScriptedRuntime(StreamingRuntime):
    """Records the frames it is given and returns the logits of ``logits(step)`` (default: all -8)."""

    backend = "scripted"

    def __init__(self, spec: DeploymentSpec, logits: Callable[[int], list[np.ndarray]] | None = None) -> None:
        super().__init__(spec, streams=1, source="scripted", device="cpu")
        self.frames: list[list[np.ndarray]] = []
        self.resets = 0
        self._logits = logits or (
            lambda step: [np.full((1, *t.shape), -8.0, np.float32) for t in spec.logits]
        )

    def _step(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        self.frames.append([f.copy() for f in frames])
        from record.runtime.base import activate_host

        return [activate_host(x, self.spec.activation) for x in self._logits(len(self.frames) - 1)]

    def _reset(self, stream_ids: np.ndarray | None) -> None:
        self.resets += 1

    def read_state(self) -> dict[str, np.ndarray]:
        return {}


@pytest.fixture(scope="module")
def specs() -> dict[str, DeploymentSpec]:
    from record.models import create_model

    return {
        name: build_spec(create_model(name)) for name in ("record_rod2021", "mv_record", "record_carrada_ra")
    }


def _config(input_kind: str = "maps", **overrides) -> CoreConfig:
    values = {
        "input_kind": input_kind,
        "peak_threshold": 0.3,
        "max_gap_s": 0.5,
        "max_age_s": 0.0,
        "min_blob_cells": 1,
        "latency_window": 8,
    }
    return CoreConfig(**{**values, **overrides})


def _image(
    pixels: np.ndarray,
    encoding: str,
    stamp: int = T0,
    frame_id: str = "radar",
    *,
    bigendian: bool = False,
    pad: int = 0,
) -> InputImage:
    """An image of ``pixels`` [H, W, C] (rows padded by ``pad`` bytes)."""
    pixels = np.ascontiguousarray(pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<")))
    height, width = pixels.shape[:2]
    row = pixels.reshape(height, -1).view(np.uint8)
    if pad:
        row = np.concatenate([row, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    return InputImage(stamp, frame_id, height, width, encoding, bigendian, row.shape[1], row.tobytes())


def _rod_maps(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((4, 128, 128, 2)).astype(np.float32)


def _rod_image(stamp: int = T0, frame_id: str = "radar", seed: int = 0) -> InputImage:
    return _image(rod2021_maps(_rod_maps(seed)), "32FC2", stamp, frame_id)


def _model_input(maps: np.ndarray) -> np.ndarray:
    """The documented ROD2021 model input: channels [c0_re, c0_im, c1_re, ...]."""
    return np.stack([maps[c, :, :, k] for c in range(4) for k in range(2)])[None]


def _cube(shape: tuple[int, ...], seed: int = 0, scale: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale).astype(np.complex64)


# ------------------------------------------------------------ decoding each layout
@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 24])
def test_rod2021_maps_reach_the_model_as_documented(specs, bigendian: bool, pad: int) -> None:
    runtime = ScriptedRuntime(specs["record_rod2021"])
    core = DetectorCore(runtime, _config("maps"))
    maps = _rod_maps()
    result = core.process(_image(rod2021_maps(maps), "32FC2", bigendian=bigendian, pad=pad), T0)
    assert isinstance(result, FrameResult), result
    np.testing.assert_array_equal(runtime.frames[0][0], _model_input(maps))
    assert result.masks == {} and len(result.detections) == 0
    assert set(result.timings_ms) == {"decode", "signal_chain", "inference", "postprocess", "total"}
    assert result.timings_ms["signal_chain"] == 0.0


@pytest.mark.parametrize("loops", [255, 4])
@pytest.mark.parametrize("encoding", ["32FC2", "16SC2"])
def test_rod2021_adc_goes_through_the_chain(specs, loops: int, encoding: str) -> None:
    from record.dsp.chain import Rod2021Chain

    cube = _cube((loops, 2, 4, 128))
    if encoding == "16SC2":
        cube = (np.rint(cube.real) + 1j * np.rint(cube.imag)).astype(np.complex64)
        pixels = np.stack([cube.real, cube.imag], -1).astype(np.int16).reshape(-1, 128, 2)
    else:
        pixels = np.stack([cube.real, cube.imag], -1).reshape(-1, 128, 2)
    runtime = ScriptedRuntime(specs["record_rod2021"])
    result = DetectorCore(runtime, _config("adc")).process(_image(pixels, encoding), T0)
    assert isinstance(result, FrameResult), result
    expected = _model_input(Rod2021Chain()(cube)[0])
    np.testing.assert_allclose(runtime.frames[0][0], expected, rtol=1e-6, atol=1e-6)
    assert result.timings_ms["signal_chain"] > 0.0


def test_carrada_maps_side_by_side_are_normalised_per_view(specs) -> None:
    rng = np.random.default_rng(1)
    views = {v: rng.uniform(40, 100, CARRADA.view(v).shape).astype(np.float32) for v in ("rd", "ra", "ad")}
    image = carrada_maps(views)
    assert image.shape == (256, 64 + 256 + 64)
    np.testing.assert_array_equal(image[:, 64:320], views["ra"])
    runtime = ScriptedRuntime(specs["mv_record"])
    core = DetectorCore(runtime, _config("maps"))
    assert core.layout.encodings == ("32FC1",) and core.layout.width == 384
    result = core.process(_image(image[..., None], "32FC1"), T0)
    assert isinstance(result, FrameResult), result
    fed = dict(zip([t.name for t in specs["mv_record"].frames], runtime.frames[0]))
    for view in ("rd", "ra", "ad"):
        np.testing.assert_allclose(fed[view][0, 0], normalise_tvt(views[view], view), rtol=1e-6)
    assert {v: m.shape for v, m in result.masks.items()} == {"rd": (256, 64), "ra": (256, 256)}
    assert all(m.dtype == np.uint8 for m in result.masks.values())

    single = ScriptedRuntime(specs["record_carrada_ra"])  # a single-view model reads its one view
    core = DetectorCore(single, _config("maps"))
    assert core.layout.width == 256
    assert isinstance(core.process(_image(views["ra"][..., None], "32FC1"), T0), FrameResult)
    np.testing.assert_allclose(single.frames[0][0][0, 0], normalise_tvt(views["ra"], "ra"), rtol=1e-6)


def test_carrada_adc_goes_through_the_chain(specs) -> None:
    from record.dsp.chain import CarradaChain

    cube = _cube((64, 2, 4, 256))
    runtime = ScriptedRuntime(specs["mv_record"])
    image = _image(np.stack([cube.real, cube.imag], -1).reshape(-1, 256, 2), "32FC2")
    result = DetectorCore(runtime, _config("adc")).process(image, T0)
    assert isinstance(result, FrameResult), result
    views = CarradaChain()(cube)
    fed = dict(zip([t.name for t in specs["mv_record"].frames], runtime.frames[0]))
    for view in ("rd", "ra", "ad"):
        np.testing.assert_allclose(
            fed[view][0, 0], normalise_tvt(getattr(views, f"{view}_processed")[0], view), rtol=1e-5, atol=1e-5
        )


def test_layouts_refuse_models_the_input_cannot_feed(specs) -> None:
    from record.models import create_model

    small = build_spec(create_model("record_carrada_ra"), (64, 64))
    with pytest.raises(ConfigError, match="sensor's view size"):
        expected_layout(small, "adc")
    assert expected_layout(small, "maps").width == 64  # maps of the export's size are fine
    with pytest.raises(ConfigError, match="unknown"):
        expected_layout(specs["record_rod2021"], "pointcloud")
    with pytest.raises(ConfigError, match="input_kind"):
        _config("pointcloud")
    with pytest.raises(ConfigError, match="max_gap_s"):
        _config(max_gap_s=0.0)
    with pytest.raises(ConfigError, match="peak_threshold"):
        _config(peak_threshold=1.5)


# ------------------------------------------------------------ malformed frames
def _good_pixels() -> np.ndarray:
    return rod2021_maps(_rod_maps())


_MALFORMED = {
    "encoding": (lambda img: replace(img, encoding="8UC1"), "encoding '8UC1'"),
    "height": (lambda img: replace(img, height=100), "height 100"),
    "width": (lambda img: replace(img, width=64), "width 64"),
    "step": (lambda img: replace(img, step=16), "step 16"),
    "size": (lambda img: replace(img, data=img.data[:-8]), "data holds"),
    "bigendian": (lambda img: replace(img, is_bigendian=7), "is_bigendian"),
    "not_bytes": (lambda img: replace(img, data=[1, 2, 3]), "not a byte buffer"),
    "float_array": (lambda img: replace(img, data=np.zeros(8, np.float32)), "dtype float32"),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED))
def test_malformed_frames_are_dropped_never_raised(specs, case: str) -> None:
    runtime = ScriptedRuntime(specs["record_rod2021"])
    core = DetectorCore(runtime, _config("maps"))
    mutate, text = _MALFORMED[case]
    dropped = core.process(mutate(_image(_good_pixels(), "32FC2")), T0)
    assert isinstance(dropped, DroppedFrame)
    assert dropped.reason.startswith("malformed: ") and text in dropped.reason, dropped.reason
    assert dropped.kind == "malformed" and runtime.frames == []
    assert core.statistics()["drops"]["malformed"] == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_frames_are_dropped(specs, bad: float) -> None:
    runtime = ScriptedRuntime(specs["record_rod2021"])
    core = DetectorCore(runtime, _config("adc"))
    cube = _cube((4, 2, 4, 128))
    cube[2, 1, 3, 77] = complex(bad, 0.0)
    pixels = np.stack([cube.real, cube.imag], -1).reshape(-1, 128, 2)
    dropped = core.process(_image(pixels, "32FC2"), T0)
    assert isinstance(dropped, DroppedFrame) and dropped.reason == "non_finite"
    assert runtime.frames == []


def test_byte_buffers_of_every_kind_decode_alike(specs) -> None:
    import array

    image = _image(_good_pixels(), "32FC2")
    raw = image.data
    outputs = []
    for data in (raw, memoryview(raw), array.array("B", raw), np.frombuffer(raw, np.uint8)):
        runtime = ScriptedRuntime(specs["record_rod2021"])
        result = DetectorCore(runtime, _config("maps")).process(replace(image, data=data), T0)
        assert isinstance(result, FrameResult), result
        outputs.append(runtime.frames[0][0])
    for other in outputs[1:]:
        np.testing.assert_array_equal(other, outputs[0])


# ------------------------------------------------------------ reset and drop rules
def test_reset_rules_in_order(specs) -> None:
    runtime = ScriptedRuntime(specs["record_rod2021"])
    core = DetectorCore(runtime, _config("maps", max_gap_s=0.5, max_age_s=2.0))
    now = T0 + 100 * 10**9

    def send(stamp_ms: int, frame_id: str = "radar", image: InputImage | None = None):
        img = (
            replace(image, stamp_ns=now + stamp_ms * MS)
            if image
            else _rod_image(now + stamp_ms * MS, frame_id)
        )
        return core.process(img, now + max(stamp_ms, 0) * MS)

    bad = _image(_good_pixels(), "32FC1")  # wrong encoding
    steps = [
        (send(0), "first"),
        (send(100), None),
        (send(100), None),  # the same stamp again is no gap
        (send(700), "gap"),
        (send(650), "backwards"),
        (send(700, "radar_2"), "frame_id"),
        (send(800, "radar_2"), None),
        (send(-5000, "radar_2"), "stale"),  # stale: dropped, no reset, the stamp history is kept
        (send(850, "radar_2"), None),
        (send(900, image=bad), "malformed"),
        (send(950, image=bad), "malformed"),
        (send(1000, "radar_2"), "after_bad_frame"),  # one reset for two bad frames
        (send(1100, "radar_2"), None),
    ]
    for index, (result, expected) in enumerate(steps):
        if isinstance(result, DroppedFrame):
            assert result.kind == expected, (index, result)
        else:
            assert result.reset_reason == expected, (index, result.reset_reason)
    stats = core.statistics()
    assert stats["resets"] == {"first": 1, "after_bad_frame": 1, "frame_id": 1, "backwards": 1, "gap": 1}
    assert stats["drops"] == {"stale": 1, "malformed": 2, "non_finite": 0}
    assert runtime.resets == 5
    assert (stats["received"], stats["processed"], stats["dropped"]) == (13, 10, 3)

    core.reset("bag_loop")  # an explicit reset is reported by the next good frame
    assert runtime.resets == 6
    result = send(2000, "radar_2")
    assert result.reset_reason == "bag_loop" and core.statistics()["resets"]["bag_loop"] == 1


def test_a_bad_first_frame_leaves_first_as_the_reason(specs) -> None:
    core = DetectorCore(ScriptedRuntime(specs["record_rod2021"]), _config("maps"))
    assert isinstance(core.process(_image(_good_pixels(), "32FC1"), T0), DroppedFrame)
    assert core.process(_rod_image(), T0).reset_reason == "first"


def test_statistics_window_and_backend(specs) -> None:
    runtime = ScriptedRuntime(specs["record_rod2021"])
    core = DetectorCore(runtime, _config("maps", latency_window=4))
    core.warmup(2)  # warm-up touches neither counters nor the "first" reset
    assert core.statistics()["received"] == 0 and len(runtime.frames) == 2
    for i in range(6):
        core.process(_rod_image(T0 + i * 33 * MS), T0 + i * 33 * MS + 5 * MS)
    stats = core.statistics()
    assert stats["processed"] == 6 and stats["resets"]["first"] == 1
    assert stats["processing_ms"]["n"] == 4  # bounded window
    assert 0 < stats["processing_ms"]["p50"] <= stats["processing_ms"]["p90"] <= stats["processing_ms"]["p99"]
    assert stats["input_age_ms"]["p50"] == pytest.approx(5.0)
    assert set(stats["stage_ms_p50"]) == {"decode", "signal_chain", "inference", "postprocess"}
    assert stats["backend"]["backend"] == "scripted" and stats["backend"]["model"] == "record_rod2021"


# ------------------------------------------------------------ decoding scores
def test_rod2021_detections_from_scripted_confidence_maps(specs) -> None:
    spec = specs["record_rod2021"]

    def logits(step: int) -> list[np.ndarray]:
        out = np.full((1, *spec.logits[0].shape), -8.0, np.float32)
        out[0, 2, 40, 90] = 2.0  # a car
        out[0, 0, 100, 20] = 0.5  # a pedestrian
        out[0, 1, 60, 60] = -1.0  # below the threshold
        return [out]

    result = DetectorCore(ScriptedRuntime(spec, logits), _config("maps", peak_threshold=0.3)).process(
        _rod_image(), T0
    )
    table = result.detections
    assert [table.classes[c] for c in table.class_id] == ["car", "pedestrian"]
    np.testing.assert_allclose(table.score, expit([2.0, 0.5]))
    np.testing.assert_allclose(table.range_m, ROD2021.range.to_physical([40, 100]))
    np.testing.assert_allclose(table.azimuth_rad, ROD2021.azimuth.to_physical([90, 20]))
    assert (table.frame == 0).all()


def test_carrada_detections_are_ra_components(specs) -> None:
    spec = specs["mv_record"]
    shapes = {t.base_name: t.shape for t in spec.logits}

    def logits(step: int) -> list[np.ndarray]:
        rd = np.zeros((1, *shapes["rd"]), np.float32)
        rd[0, 0] = 5.0
        ra = np.zeros((1, *shapes["ra"]), np.float32)
        ra[0, 0] = 5.0  # background
        ra[0, 3, 100:104, 150:156] = 9.0  # a car: 4 x 6 cells
        ra[0, 1, 200:202, 40:41] = 6.0  # a pedestrian: 2 cells
        ra[0, 2, 10, 10] = 7.0  # a one-cell cyclist
        return [rd, ra]

    core = DetectorCore(ScriptedRuntime(spec, logits), _config("maps", min_blob_cells=2))
    image = carrada_maps({v: np.full(CARRADA.view(v).shape, 60.0, np.float32) for v in ("rd", "ra", "ad")})
    result = core.process(_image(image[..., None], "32FC1"), T0)
    table = result.detections
    assert [table.classes[c] for c in table.class_id] == [
        "car",
        "pedestrian",
    ]  # by score; the cyclist is too small
    range_axis, azimuth_axis = CARRADA.view("ra").axes
    np.testing.assert_allclose(table.range_m, range_axis.to_physical([101.5, 200.5]))
    np.testing.assert_allclose(table.azimuth_rad, azimuth_axis.to_physical([152.5, 40.0]))
    probs = softmax(np.array([5.0, 0.0, 0.0, 9.0])), softmax(np.array([5.0, 6.0, 0.0, 0.0]))
    np.testing.assert_allclose(table.score, [probs[0][3], probs[1][1]], rtol=1e-6)
    assert result.masks["ra"][101, 152] == 3 and result.masks["ra"][0, 0] == 0
    assert result.masks["rd"].shape == (256, 64) and not result.masks["rd"].any()


# ------------------------------------------------------------ the ROD2021 checkpoint on simulated frames
def simulated_rod2021_adc(n_frames: int, seed: int = 1) -> list[np.ndarray]:
    """Raw ROD2021 frames (4 kept loops, complex64 ``[4, 2, 4, 128]``) of a random simulated scene."""
    from record.sim import Simulator, random_scene, scene_config_for

    rng = np.random.default_rng(seed)
    scene = random_scene(scene_config_for(ROD2021), duration_s=n_frames / 30 + 1.0, rng=rng)
    return [frame.adc for frame in Simulator(ROD2021, scene, rng=rng).frames(n_frames)]


@pytest.mark.slow
def test_rod2021_checkpoint_detects_on_simulated_frames_same_for_adc_and_maps(
    trained_rod2021_onnx: Path,
) -> None:
    from record.dsp.chain import Rod2021Chain
    from record.runtime import open_runtime

    frames = simulated_rod2021_adc(8)  # the trained model fires from the third frame of this scene on
    results = {}
    for kind in ("adc", "maps"):
        with open_runtime(trained_rod2021_onnx, "onnxruntime", threads=2) as runtime:
            runtime.warmup()
            core = DetectorCore(runtime, _config(kind))
            results[kind] = []
            for i, adc in enumerate(frames):
                pixels = (
                    np.stack([adc.real, adc.imag], -1).reshape(-1, 128, 2)
                    if kind == "adc"
                    else rod2021_maps(Rod2021Chain()(adc)[0])
                )
                result = core.process(_image(pixels, "32FC2", T0 + i * 33 * MS), T0 + i * 33 * MS)
                assert isinstance(result, FrameResult), result
                results[kind].append(result)
    assert sum(len(r.detections) for r in results["adc"]) > 0
    for a, m in zip(results["adc"], results["maps"]):
        assert a.detections.class_id.tolist() == m.detections.class_id.tolist()
        np.testing.assert_allclose(a.detections.score, m.detections.score, rtol=1e-5)
        np.testing.assert_allclose(a.detections.range_m, m.detections.range_m)


def test_core_imports_no_ros() -> None:
    import subprocess
    import sys

    code = (
        "import sys, record.ros.core; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'rclpy', 'sensor_msgs', 'vision_msgs'}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=99)
    assert res.stdout.strip() == "[]", res.stdout
