"""The TensorRT backend's host-side logic, driven through a fake ``tensorrt`` module (fake_tensorrt.py).

No TensorRT or GPU here: the runtime keeps its buffers in torch CPU tensors (``device="cpu"``, its
constructor's buffer-device parameter) and the fake execution context computes a known recurrence from the
memory at the bound addresses. Covered: engine building (strongly typed, profile, workspace, sidecar), cache
keys and cache reuse / rebuild, every load-time refusal, ping-pong state binding against a NumPy reference,
per-stream reset, host copies, device checks, and the registry's message when tensorrt is missing. Real small
ONNX exports of ``record_nolstm_single`` (no state) and ``record_rod2021`` (state h1, c1, h2, c2) at 32 x 32
(conftest.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path

import fake_tensorrt
import numpy as np
import onnx
import pytest
import torch
from scipy.special import expit

import record.runtime
import record.runtime.registry
from record.errors import ConfigError, DataFormatError
from record.models import create_model
from record.runtime.base import activate_host
from record.runtime.spec import SPEC_KEY, TensorSpec, build_spec, read_spec

BACKEND = "record.runtime.tensorrt_backend"
SIZE = (32, 32)


@pytest.fixture(scope="module")
def exports(small_export, tmp_path_factory) -> dict[str, Path]:
    """Copies, named ``<model>.onnx``, of the shared 32 x 32 exports (conftest.py) of a stateless and a
    stateful model."""
    folder = tmp_path_factory.mktemp("trt_exports")
    paths = {name: folder / f"{name}.onnx" for name in ("record_nolstm_single", "record_rod2021")}
    for name, path in paths.items():
        path.write_bytes(small_export(name).path.read_bytes())
    return paths


def _forget_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop the backend module (it binds ``tensorrt`` at import) for this test; restored afterwards."""
    monkeypatch.setitem(sys.modules, BACKEND, None)
    monkeypatch.delitem(sys.modules, BACKEND)
    monkeypatch.setattr(record.runtime, "tensorrt_backend", None, raising=False)
    monkeypatch.delattr(record.runtime, "tensorrt_backend")


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The GPU torch reports (name, compute capability); tests change it to simulate another machine."""
    current: dict[str, object] = {"name": "Fake Orin", "capability": (8, 7)}
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: current["name"])
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: current["capability"])
    return current


@pytest.fixture
def trt(monkeypatch: pytest.MonkeyPatch, gpu):
    """record.runtime.tensorrt_backend imported against the fake tensorrt module."""
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt)
    monkeypatch.setattr(fake_tensorrt, "BUILDS", [])
    _forget_backend(monkeypatch)
    return importlib.import_module(BACKEND)


def _build(trt, onnx_path: Path, folder: Path, max_streams: int = 1) -> Path:
    return trt.build_engine(onnx_path, folder / f"{onnx_path.stem}.engine", max_streams=max_streams)


def _reference(frame_seq: list[np.ndarray], spec, resets: dict[int, list[int]] | None = None):
    """The fake engine's recurrence in NumPy: scores per step and the final state."""
    streams = frame_seq[0].shape[0]
    state = {t.name: np.zeros((streams, *t.shape)) for t in spec.states}
    classes = 0.01 * np.arange(spec.logits[0].shape[0]).reshape(1, -1, 1, 1)
    scores = []
    for step, frames in enumerate(frame_seq):
        for row in (resets or {}).get(step, []):
            for value in state.values():
                value[row] = 0.0
        mean = frames.reshape(streams, -1).astype(np.float64).mean(axis=1)
        logits = mean + sum((s.reshape(streams, -1).mean(axis=1) for s in state.values()), np.zeros(streams))
        logits = np.broadcast_to(logits.reshape(-1, 1, 1, 1) + classes, (streams, *spec.logits[0].shape))
        scores.append(expit(logits))
        state = {name: 0.5 * value + mean.reshape(-1, 1, 1, 1) for name, value in state.items()}
    return scores, state


def _frames(rng: np.random.Generator, steps: int, streams: int, shape) -> list[np.ndarray]:
    return [rng.normal(0.3, 1.0, (streams, *shape)).astype(np.float32) for _ in range(steps)]


# ------------------------------------------------------------ building
def test_build_is_strongly_typed_with_one_batch_profile_and_a_sidecar(trt, exports, tmp_path):
    onnx_path = exports["record_rod2021"]
    spec = read_spec(onnx_path)
    engine = _build(trt, onnx_path, tmp_path, max_streams=3)
    build = fake_tensorrt.BUILDS[-1]
    assert build["flags"] == 1 << int(fake_tensorrt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    assert build["workspace"] == 1024 << 20
    assert set(build["profile"]) == set(spec.input_names) == {"frame", "h1_in", "c1_in", "h2_in", "c2_in"}
    assert build["profile"]["h2_in"] == ((1, 64, 8, 8), (3, 64, 8, 8), (3, 64, 8, 8))
    assert not hasattr(fake_tensorrt, "BuilderFlag")  # any weak-typing call would have failed

    payload = json.loads(trt.sidecar_path(engine).read_text())
    assert trt.sidecar_path(engine).name == "record_rod2021.engine.json"
    info = trt.read_sidecar(engine)
    assert info.spec == spec and info.max_streams == 3 and info.target.gpu == "Fake Orin"
    assert payload["key"] == trt.engine_key(payload["onnx_sha256"], "fp32", 3,
                                            trt.Target("10.3.0", "Fake Orin", "8.7"))
    assert trt.default_engine_path(onnx_path) == onnx_path.with_suffix(".engine")


def test_parser_and_builder_failures_name_the_onnx_file(trt, exports, tmp_path, monkeypatch):
    onnx_path = exports["record_nolstm_single"]

    def fail(parser, path):
        return parser.fail("In node 3 (Conv): UNSUPPORTED_NODE")

    with monkeypatch.context() as patch, pytest.raises(
            DataFormatError, match=r"record_nolstm_single\.onnx: TensorRT's ONNX parser failed"
                                   r".*UNSUPPORTED_NODE"):
        patch.setattr(fake_tensorrt.OnnxParser, "parse_from_file", fail)
        _build(trt, onnx_path, tmp_path)
    with monkeypatch.context() as patch, pytest.raises(
            DataFormatError, match=r"record_nolstm_single\.onnx: .*could not build"):
        patch.setattr(fake_tensorrt.Builder, "build_serialized_network", lambda *args: None)
        _build(trt, onnx_path, tmp_path)
    assert not (tmp_path / "record_nolstm_single.engine").exists()


# ------------------------------------------------------------ stepping
def test_state_ping_pongs_and_matches_the_numpy_recurrence(trt, exports, tmp_path):
    onnx_path = exports["record_rod2021"]
    spec = read_spec(onnx_path)
    streams, steps = 3, 40
    runtime = trt.TensorRTRuntime(_build(trt, onnx_path, tmp_path, max_streams=streams), streams=streams,
                                  device="cpu")
    frame_seq = _frames(np.random.default_rng(0), steps, streams, spec.frames[0].shape)
    expected, state = _reference(frame_seq, spec)
    for frames, want in zip(frame_seq, expected):
        np.testing.assert_allclose(runtime.step(frames), want, rtol=1e-5, atol=1e-6)
    for name, value in runtime.read_state().items():
        np.testing.assert_allclose(value, state[name], rtol=1e-5, atol=1e-6)

    calls = runtime._context.calls
    assert len(calls) == steps and {c["stream"] for c in calls} == {0}
    names = [t.name for t in spec.states]
    reads = [tuple(c["addresses"][f"{n}_in"] for n in names) for c in calls]
    writes = [tuple(c["addresses"][f"{n}_out"] for n in names) for c in calls]
    assert len(set(reads)) == 2 and set(reads) == set(writes)  # two fixed buffer sets, never reallocated
    for k in range(1, steps):
        assert reads[k] == writes[k - 1] and reads[k] != reads[k - 1]  # each step reads what the last wrote
        assert not set(reads[k]) & set(writes[k])
    for fixed in ("frame", "logits"):
        assert len({c["addresses"][fixed] for c in calls}) == 1


def test_resetting_a_stream_leaves_the_others_untouched(trt, exports, tmp_path):
    onnx_path = exports["record_rod2021"]
    spec = read_spec(onnx_path)
    runtime = trt.TensorRTRuntime(_build(trt, onnx_path, tmp_path, max_streams=3), streams=3, device="cpu")
    frame_seq = _frames(np.random.default_rng(1), 7, 3, spec.frames[0].shape)
    expected, _ = _reference(frame_seq, spec, resets={3: [1], 5: [0, 2]})
    for step, frames in enumerate(frame_seq):
        if step == 3:
            before = runtime.read_state()
            runtime.reset([1])
            after = runtime.read_state()
            for name in before:
                assert not after[name][1].any()
                np.testing.assert_array_equal(after[name][[0, 2]], before[name][[0, 2]])
        if step == 5:
            runtime.reset([2, 0])
        np.testing.assert_allclose(runtime.step(frames), expected[step], rtol=1e-5, atol=1e-6)
    runtime.reset()
    assert not any(value.any() for value in runtime.read_state().values())


def test_only_the_scores_are_copied_to_the_host(trt, exports, tmp_path, monkeypatch):
    onnx_path = exports["record_rod2021"]
    runtime = trt.TensorRTRuntime(_build(trt, onnx_path, tmp_path, max_streams=2), streams=2, device="cpu")
    frames = np.ones((2, *read_spec(onnx_path).frames[0].shape), np.float32)
    runtime.step(frames)
    state_buffers = {b.data_ptr() for group in runtime._states for b in group}
    copies: list[tuple[int, int]] = []
    copy = torch.Tensor.copy_

    def recording_copy(target, source, non_blocking=False):
        copies.append((target.data_ptr(), source.data_ptr()))
        return copy(target, source, non_blocking=non_blocking)

    with monkeypatch.context() as patch:
        patch.setattr(torch.Tensor, "copy_", recording_copy)
        patch.setattr(torch.Tensor, "to", lambda *a, **k: pytest.fail("unexpected Tensor.to in a step"))
        patch.setattr(torch.Tensor, "cpu", lambda *a, **k: pytest.fail("unexpected Tensor.cpu in a step"))
        for _ in range(3):
            runtime.step(frames)
    frame_copies = [(b.data_ptr(), s.data_ptr()) for b, s in zip(runtime._frames, runtime._staging)]
    host = {h.data_ptr() for h in runtime._host_scores}
    assert copies[::2] == frame_copies * 3  # staging -> device frame buffer
    assert {target for target, _ in copies[1::2]} == host and len(copies) == 6  # scores -> host
    assert not state_buffers & {address for pair in copies for address in pair}


def test_a_stateless_model_runs_with_no_state_buffers(trt, exports, tmp_path):
    onnx_path = exports["record_nolstm_single"]
    spec = read_spec(onnx_path)
    runtime = trt.TensorRTRuntime(_build(trt, onnx_path, tmp_path, max_streams=2), streams=2, device="cpu")
    frame_seq = _frames(np.random.default_rng(2), 3, 2, spec.frames[0].shape)
    expected, _ = _reference(frame_seq, spec)
    for frames, want in zip(frame_seq, expected):
        np.testing.assert_allclose(runtime.step(frames), want, rtol=1e-5, atol=1e-6)
    runtime.reset([1])
    runtime.warmup()
    assert runtime.read_state() == {} and set(runtime._context.calls[0]["addresses"]) == {"frame", "logits"}
    info = runtime.info
    assert (info.backend, info.device, info.streams, info.precision) == ("tensorrt", "cpu", 2, "fp32")
    assert info.options["max_streams"] == 2 and info.options["gpu"] == "Fake Orin"
    runtime.close()


def test_device_activation_matches_the_host_one(trt):
    logits = np.random.default_rng(3).normal(size=(2, 4, 5, 3)).astype(np.float32)
    for activation in ("sigmoid", "softmax"):
        ours = trt.activate_device(torch.from_numpy(logits), activation).numpy()
        np.testing.assert_allclose(ours, activate_host(logits, activation), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------ cache
def test_cache_key_depends_on_every_input(trt):
    target = trt.Target("10.3.0", "Orin", "8.7")
    keys = {
        trt.engine_key("a" * 64, "fp32", 1, target),
        trt.engine_key("b" * 64, "fp32", 1, target),
        trt.engine_key("a" * 64, "fp16", 1, target),
        trt.engine_key("a" * 64, "fp32", 2, target),
        trt.engine_key("a" * 64, "fp32", 1, dataclasses.replace(target, tensorrt="10.16.2")),
        trt.engine_key("a" * 64, "fp32", 1, dataclasses.replace(target, gpu="Thor")),
        trt.engine_key("a" * 64, "fp32", 1, dataclasses.replace(target, compute_capability="11.0")),
    }
    assert len(keys) == 7 and all(len(key) == 64 for key in keys)
    assert trt.engine_key("a" * 64, "fp32", 1, target) == trt.engine_key("a" * 64, "fp32", 1, target)


def test_engine_cache_reuses_valid_entries_and_rebuilds_the_rest(trt, exports, tmp_path, gpu, monkeypatch):
    onnx_path = exports["record_rod2021"]
    path = trt.engine_for(onnx_path, tmp_path)
    assert path.parent == tmp_path and path.name.startswith("record_rod2021-") and path.suffix == ".engine"
    assert trt.engine_for(onnx_path, tmp_path) == path and len(fake_tensorrt.BUILDS) == 1  # reused
    assert trt.engine_for(onnx_path, tmp_path, rebuild=True) == path and len(fake_tensorrt.BUILDS) == 2

    path.write_bytes(path.read_bytes()[:20])  # truncated plan
    assert trt.engine_for(onnx_path, tmp_path) == path and len(fake_tensorrt.BUILDS) == 3
    trt.sidecar_path(path).write_text("{not json")
    assert trt.engine_for(onnx_path, tmp_path) == path and len(fake_tensorrt.BUILDS) == 4
    trt.TensorRTRuntime(path, device="cpu").step(np.zeros((1, 8, *SIZE), np.float32))  # the rebuilt one loads

    gpu["name"] = "Fake Thor"  # another GPU, another TensorRT, another stream count: other entries
    other_gpu = trt.engine_for(onnx_path, tmp_path)
    monkeypatch.setattr(fake_tensorrt, "__version__", "10.16.2")
    other_trt = trt.engine_for(onnx_path, tmp_path)
    other_streams = trt.engine_for(onnx_path, tmp_path, max_streams=4)
    assert len({path, other_gpu, other_trt, other_streams}) == 4 and len(fake_tensorrt.BUILDS) == 7

    copy = tmp_path / "beside" / onnx_path.name
    copy.parent.mkdir()
    copy.write_bytes(onnx_path.read_bytes())
    default = trt.engine_for(copy)  # no cache_dir: beside the ONNX file
    assert default.parent == copy.parent and trt.sidecar_path(default).is_file()


def test_from_source_goes_through_both_caches(trt, exports, tmp_path, monkeypatch):
    monkeypatch.setattr(trt, "cuda_device", lambda device: torch.device("cpu"))  # no GPU here
    onnx_path = exports["record_rod2021"]
    runtime = trt.TensorRTRuntime.from_source(str(onnx_path), streams=2, cache_dir=str(tmp_path))
    assert Path(runtime.source).parent == tmp_path and runtime.engine_info.max_streams == 2
    again = trt.TensorRTRuntime.from_source(str(onnx_path), streams=2, cache_dir=str(tmp_path))
    assert again.source == runtime.source and len(fake_tensorrt.BUILDS) == 1
    engine = runtime.source
    assert trt.TensorRTRuntime.from_source(engine, streams=2).spec == runtime.spec
    with pytest.raises(ConfigError, match="precision / input size"):
        trt.TensorRTRuntime.from_source(engine, fp16=True)
    with pytest.raises(ConfigError, match="precision / input size"):
        trt.TensorRTRuntime.from_source(engine, size=(64, 64))
    with pytest.raises(ConfigError, match="more streams than the engine was built for"):
        trt.TensorRTRuntime.from_source(engine, streams=3)


# ------------------------------------------------------------ refusals
def test_engine_for_another_tensorrt_or_gpu_is_refused(trt, exports, tmp_path, gpu, monkeypatch):
    engine = _build(trt, exports["record_nolstm_single"], tmp_path)
    with monkeypatch.context() as patch, pytest.raises(
            DataFormatError, match=r"record_nolstm_single\.engine: engine was built for another TensorRT.*"
                                   r"found tensorrt 10\.3\.0, expected tensorrt 10\.16\.2"):
        patch.setattr(fake_tensorrt, "__version__", "10.16.2")
        trt.TensorRTRuntime(engine, device="cpu")
    gpu["name"], gpu["capability"] = "NVIDIA H100", (9, 0)
    with pytest.raises(DataFormatError, match=r"record export.*found gpu Fake Orin, compute_capability 8\.7, "
                                              r"expected gpu NVIDIA H100, compute_capability 9\.0"):
        trt.TensorRTRuntime(engine, device="cpu")


def test_missing_corrupt_or_edited_sidecar_is_refused(trt, exports, tmp_path):
    engine = _build(trt, exports["record_nolstm_single"], tmp_path)
    sidecar = trt.sidecar_path(engine)
    payload = json.loads(sidecar.read_text())
    sidecar.unlink()
    with pytest.raises(DataFormatError, match=r"record_nolstm_single\.engine: engine has no sidecar.*"
                                              r"record export.*expected record_nolstm_single\.engine\.json"):
        trt.TensorRTRuntime(engine, device="cpu")
    sidecar.write_text('{"format": "record-tensorrt-engine"')
    with pytest.raises(DataFormatError, match=r"engine\.json: unreadable engine sidecar"):
        trt.TensorRTRuntime(engine, device="cpu")
    sidecar.write_text(json.dumps({**payload, "max_streams": None}))
    with pytest.raises(DataFormatError, match="incomplete engine sidecar"):
        trt.TensorRTRuntime(engine, device="cpu")
    payload["spec"]["precision"] = "fp16"
    sidecar.write_text(json.dumps(payload))
    with pytest.raises(DataFormatError, match="cache key does not match its contents"):
        trt.TensorRTRuntime(engine, device="cpu")
    with pytest.raises(DataFormatError, match=r"missing\.engine: TensorRT engine file not found"):
        trt.TensorRTRuntime(tmp_path / "missing.engine", device="cpu")


def test_truncated_or_corrupt_plan_is_refused(trt, exports, tmp_path):
    onnx_path = exports["record_nolstm_single"]
    engine = _build(trt, onnx_path, tmp_path)
    plan = engine.read_bytes()
    engine.write_bytes(plan[: len(plan) // 2])
    with pytest.raises(DataFormatError,
                       match=rf"record_nolstm_single\.engine: .*truncated.*found {len(plan) // 2} "):
        trt.TensorRTRuntime(engine, device="cpu")
    engine.write_bytes(b"garbage" * 10)
    trt.write_sidecar(engine, onnx_path)  # consistent sidecar, undeserialisable plan
    with pytest.raises(DataFormatError, match=r"record_nolstm_single\.engine: TensorRT cannot deserialise"):
        trt.TensorRTRuntime(engine, device="cpu")


def test_engine_whose_io_does_not_match_the_spec_is_refused(trt, exports, tmp_path):
    onnx_path = exports["record_rod2021"]
    engine = _build(trt, onnx_path, tmp_path)
    # another model's sidecar beside this plan (e.g. a trtexec build paired with the wrong ONNX)
    proto = onnx.load_model(str(onnx_path))
    other = build_spec(create_model("record_nolstm_single"), SIZE)
    onnx.helper.set_model_props(proto, {SPEC_KEY: other.to_json()})
    onnx.save_model(proto, str(tmp_path / "other.onnx"))
    trt.write_sidecar(engine, tmp_path / "other.onnx")
    with pytest.raises(DataFormatError, match=r"rod2021\.engine: engine I/O names are not its spec's "
                                              r"\(record_nolstm_single\).*c1_in"):
        trt.TensorRTRuntime(engine, device="cpu")

    trt_engine = fake_tensorrt.Runtime(fake_tensorrt.Logger()).deserialize_cuda_engine(engine.read_bytes())
    spec = read_spec(onnx_path)
    trt.check_engine_io(trt_engine, spec, "x.engine")  # the engine itself is fine
    wrong_size = dataclasses.replace(spec, frames=(TensorSpec("frame", (8, 64, 64)),), input_size=(64, 64))
    with pytest.raises(DataFormatError, match=r"x\.engine: engine I/O does not match.*input size \[64, 64\].*"
                                              r"found \['frame INPUT \[8, 32, 32\] FLOAT'\].*\[8, 64, 64\]"):
        trt.check_engine_io(trt_engine, wrong_size, "x.engine")
    trt_engine.io = [(n, m, s, fake_tensorrt.DataType.HALF if n == "logits" else d)
                     for n, m, s, d in trt_engine.io]
    with pytest.raises(DataFormatError, match=r"found \['logits OUTPUT \[3, 32, 32\] HALF'\]"):
        trt.check_engine_io(trt_engine, spec, "x.engine")


def test_more_streams_than_the_profile_is_refused(trt, exports, tmp_path):
    engine = _build(trt, exports["record_nolstm_single"], tmp_path, max_streams=2)
    with pytest.raises(ConfigError, match=r"more streams than the engine was built for \(found 3, "
                                          r"expected at most 2"):
        trt.TensorRTRuntime(engine, streams=3, device="cpu")


def test_tensorrt_needs_a_cuda_device(trt, exports, tmp_path):
    onnx_path = str(exports["record_nolstm_single"])
    with pytest.raises(ConfigError, match=r"TensorRT runs on CUDA devices only \(found cpu"):
        trt.TensorRTRuntime.from_source(onnx_path, device="cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        trt.TensorRTRuntime.from_source(onnx_path, device="gpu0")
    assert not torch.cuda.is_available()
    with pytest.raises(ConfigError, match=r"CUDA is not available here \(found cuda:0"):
        trt.TensorRTRuntime.from_source(onnx_path, device="cuda:0")
    with pytest.raises(ConfigError, match="CUDA is not available here"):
        record.runtime.registry.open_runtime(onnx_path, "tensorrt", device="cuda")
    assert not list(tmp_path.iterdir()) and fake_tensorrt.BUILDS == []  # refused before any build


def test_backend_is_unavailable_without_tensorrt(monkeypatch):
    from record.runtime.registry import BackendUnavailable, backend_class, open_runtime

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # "import tensorrt" raises ImportError
    _forget_backend(monkeypatch)
    with pytest.raises(BackendUnavailable,
                       match=r"backend 'tensorrt' is not available here.*pip install tensorrt"):
        backend_class("tensorrt")
    with pytest.raises(BackendUnavailable, match="TensorRT >= 10"):
        open_runtime("model.onnx", "tensorrt", device="cuda")
