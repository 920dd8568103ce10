"""The streaming interface on the CPU backends: checks before inference, independent streams, state
handling."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from record.errors import CheckpointError, ConfigError, DataFormatError, InputError
from record.models import create_model, save_checkpoint
from record.runtime import BackendUnavailable, StreamingRuntime, backend_class, open_runtime
from record.runtime.registry import BACKENDS
from record.runtime.spec import SPEC_KEY, build_spec


def _installed(backend: str):
    """``backend`` as a test parameter, skipped where its dependency is not installed."""
    try:
        backend_class(backend)
    except BackendUnavailable as error:
        return pytest.param(backend, marks=pytest.mark.skip(reason=str(error)))
    return backend


CPU_BACKENDS = ("torch", "onnxruntime", _installed("openvino"))
#: Backends that run the exported graph on host buffers bound once.
BOUND_BACKENDS = ("onnxruntime", _installed("openvino"))


def _frames(spec, streams, rng):
    arrays = {t.name: rng.standard_normal((streams, *t.shape)).astype(np.float32) for t in spec.frames}
    return arrays if spec.multi_view else arrays["frame"]


def _rows(frames, rows):
    if isinstance(frames, dict):
        return {k: np.ascontiguousarray(v[rows]) for k, v in frames.items()}
    return np.ascontiguousarray(frames[rows])


def _close(a, b, atol):
    if isinstance(a, dict):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0)
    else:
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("name", ["record_rod2021", "mv_record"])
def test_streams_are_independent_and_reset_alone(backend, name, small_export):
    """3 streams stepped together equal 3 single-stream runtimes; resetting stream 1 leaves 0 and 2 alone."""
    path = small_export(name).path
    batch = open_runtime(path, backend, streams=3, threads=1)
    singles = [open_runtime(path, backend, streams=1, threads=1) for _ in range(3)]
    rng = np.random.default_rng(0)
    for step in range(6):
        frames = _frames(batch.spec, 3, rng)
        if step == 3:
            before = batch.read_state()
            batch.reset([1])
            singles[1].reset()
            after = batch.read_state()
            for key in before:
                assert np.array_equal(after[key][[0, 2]], before[key][[0, 2]]) and not after[key][1].any()
        scores = batch.step(frames)
        for row, single in enumerate(singles):
            _close(_rows(scores, [row]), single.step(_rows(frames, [row])), atol=2e-5)
    assert batch.info.streams == 3 and batch.info.shapes[batch.spec.frames[0].name][0] == 3


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_bad_frames_are_refused_before_inference_and_leave_the_state(backend, small_export):
    runtime = open_runtime(small_export("record_rod2021").path, backend, streams=2, threads=1)
    good = np.ones((2, 8, 32, 32), np.float32)
    runtime.step(good)
    state = runtime.read_state()
    nan, inf = good.copy(), good.copy()
    nan[1, 3, 4, 5], inf[0, 0, 0, 0] = np.nan, np.inf
    cases = [(good[:1], "wrong shape"), (good[:, :, :16], "wrong shape"),
             (good.astype(np.float64), "wrong dtype"),
             (torch.from_numpy(good), "not a NumPy array"), (nan, "1 NaN or infinite values"),
             (inf, "1 NaN or infinite values"), ({"frame": good}, "not a NumPy array")]
    for frame, message in cases:
        with pytest.raises(InputError, match=rf"{backend} runtime \(.*\): input 'frame': {message}"):
            runtime.step(frame)
    after = runtime.read_state()
    assert all(np.array_equal(state[k], after[k]) for k in state)


def test_multi_view_frames_must_name_every_view(small_export):
    runtime = open_runtime(small_export("mv_record").path, "onnxruntime", threads=1)
    frames = _frames(runtime.spec, 1, np.random.default_rng(0))
    with pytest.raises(InputError,
                       match=r"wrong views \(found \['ad', 'rd'\], expected \['rd', 'ra', 'ad'\]\)"):
        runtime.step({k: v for k, v in frames.items() if k != "ra"})
    with pytest.raises(InputError, match="expected a dict of views"):
        runtime.step(frames["rd"])
    with pytest.raises(InputError, match="stream id out of range"):
        runtime.reset([1])


@pytest.mark.parametrize("backend", BOUND_BACKENDS)
def test_state_stays_in_two_bound_buffer_sets(backend, small_export):
    """The state ping-pongs between two preallocated sets: no buffer is replaced between frames."""
    runtime = open_runtime(small_export("record_rod2021").path, backend, threads=1)
    addresses = {a.ctypes.data for pair in runtime._buffers.states for a in pair}
    rng = np.random.default_rng(1)
    for _ in range(3):
        runtime.step(_frames(runtime.spec, 1, rng))
        assert {a.ctypes.data for pair in runtime._buffers.states for a in pair} == addresses
    rng = np.random.default_rng(1)
    reference = open_runtime(small_export("record_rod2021").path, "torch", threads=1)
    for _ in range(3):
        reference.step(_frames(reference.spec, 1, rng))
    expected, found = reference.read_state(), runtime.read_state()
    for key in expected:
        np.testing.assert_allclose(found[key], expected[key], atol=1e-5, rtol=0)
    runtime.warmup()
    assert not any(v.any() for v in runtime.read_state().values())


@pytest.mark.parametrize("backend", BOUND_BACKENDS)
@pytest.mark.parametrize("damage", ["truncated", "garbage", "no_spec", "other_model", "other_size"])
def test_damaged_or_mismatched_models_are_refused_naming_the_file(damage, backend, small_export, tmp_path):
    source = small_export("record_rod2021").path
    path = tmp_path / "model.onnx"
    if damage == "truncated":
        path.write_bytes(source.read_bytes()[:100_000])
    elif damage == "garbage":
        path.write_bytes(os.urandom(5000))
    else:
        proto = onnx.load(str(source))
        del proto.metadata_props[:]
        if damage != "no_spec":
            other = build_spec(create_model("record_nolstm_single" if damage == "other_model"
                                            else "record_rod2021"),
                               size=(64, 64) if damage == "other_size" else (32, 32))
            onnx.helper.set_model_props(proto, {SPEC_KEY: other.to_json()})
        onnx.save(proto, str(path))
    message = {"truncated": "not a readable ONNX model", "garbage": "not a readable ONNX model",
               "no_spec": "holds no RECORD deployment spec", "other_model": "graph inputs do not match",
               "other_size": "graph inputs do not match"}[damage]
    with pytest.raises(DataFormatError, match=rf"{path}: {message}"):
        open_runtime(path, backend)


def test_torch_backend_opens_the_checkpoint_an_export_names_and_refuses_a_changed_one(small_export, tmp_path):
    result = small_export("record_nolstm_single")
    runtime = open_runtime(result.path, "torch")
    assert runtime.spec.input_size == (32, 32) and runtime.info.backend == "torch"
    moved = tmp_path / "copy.onnx"
    shutil.copy(result.path, moved)
    checkpoint = tmp_path / "changed.pt"
    torch.manual_seed(5)
    save_checkpoint(create_model("record_nolstm_single"), checkpoint)
    proto = onnx.load(str(moved))
    spec = result.spec.with_precision("fp32", checkpoint=str(checkpoint))
    onnx.helper.set_model_props(proto, {SPEC_KEY: spec.to_json()})
    onnx.save(proto, str(moved))
    with pytest.raises(CheckpointError, match="has changed since"):
        open_runtime(moved, "torch")
    checkpoint.unlink()
    with pytest.raises(CheckpointError, match="is not here; pass the checkpoint itself"):
        open_runtime(moved, "torch")


def test_onnxruntime_from_a_checkpoint_exports_once_into_the_cache(random_checkpoint, tmp_path):
    checkpoint = random_checkpoint("record_nolstm_single")
    first = open_runtime(checkpoint, "onnxruntime", size=(32, 32), cache_dir=str(tmp_path))
    cached = list(tmp_path.glob("*.onnx"))
    assert len(cached) == 1 and first.source == str(cached[0])
    stamp = cached[0].stat().st_mtime_ns
    open_runtime(checkpoint, "onnxruntime", size=(32, 32), cache_dir=str(tmp_path))
    assert cached[0].stat().st_mtime_ns == stamp


def test_backend_choice_errors():
    with pytest.raises(ConfigError, match=r"unknown runtime backend \(found 'tflite', expected"):
        backend_class("tflite")
    with pytest.raises(ConfigError, match="CUDA graphs need a CUDA device"):
        backend_class("torch")(create_model("record_nolstm_single"),
                               build_spec(create_model("record_nolstm_single")), cuda_graph=True)


@pytest.mark.parametrize("backend", BOUND_BACKENDS)
def test_cpu_only_backends_refuse_a_cuda_device(backend):
    with pytest.raises(ConfigError, match="this backend runs on the CPU"):
        backend_class(backend).from_source("x.onnx", device="cuda")


def test_a_backend_with_a_missing_dependency_says_what_to_install(monkeypatch):
    monkeypatch.setitem(BACKENDS, "fancy",
                        ("record.runtime.not_installed_backend:Fancy", "fancy-rt (pip install x)"))
    with pytest.raises(BackendUnavailable,
                       match=r"backend 'fancy' is not available here .* it needs fancy-rt"):
        backend_class("fancy")


def test_importing_the_runtime_interface_imports_no_backend():
    code = ("import sys, record.runtime, record.runtime.spec; "
            "print(sorted(m for m in ('onnxruntime', 'openvino', 'tensorrt', 'torch', 'onnx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_open_is_also_a_class_method(small_export):
    runtime = StreamingRuntime.open(str(small_export("record_nolstm_single").path), backend="onnxruntime")
    assert runtime.backend == "onnxruntime" and runtime.spec.states == ()
    assert runtime.read_state() == {}
    runtime.reset()  # a stateless model resets as a no-op


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU and a CUDA build of torch")
@pytest.mark.parametrize("name", ["record_rod2021", "mv_record"])
def test_cuda_graph_replay_equals_eager_cuda_and_resets_per_stream(name, small_export):
    path = small_export(name).path
    eager = open_runtime(path, "torch", device="cuda", streams=2)
    graph = open_runtime(path, "torch", device="cuda", streams=2, cuda_graph=True)
    rng = np.random.default_rng(0)
    for step in range(12):
        if step == 6:
            eager.reset([0])
            graph.reset([0])
        frames = _frames(eager.spec, 2, rng)
        _close(graph.step(frames), eager.step(frames), atol=1e-4)
    expected, found = eager.read_state(), graph.read_state()
    for key in expected:
        np.testing.assert_allclose(found[key], expected[key], atol=1e-4, rtol=0)
