"""`record export`: a self-contained ONNX step with explicit state, dynamic batch and its deployment spec."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
import torch
from runtime_helpers import SMALL

from record.cli import main
from record.models import create_model, list_models, save_checkpoint
from record.provenance import file_sha256
from record.runtime.export import OPSET, export_onnx
from record.runtime.registry import open_runtime
from record.runtime.spec import read_spec


def test_export_is_one_checked_file_with_named_dynamic_io_and_its_spec(small_export, random_checkpoint):
    result = small_export("record_rod2021")
    proto = onnx.load(str(result.path))
    onnx.checker.check_model(proto, full_check=True)
    assert [p.version for p in proto.opset_import if p.domain in ("", "ai.onnx")] == [OPSET] and OPSET >= 17
    assert [i.name for i in proto.graph.input] == ["frame", "h1_in", "c1_in", "h2_in", "c2_in"]
    assert [o.name for o in proto.graph.output] == ["logits", "h1_out", "c1_out", "h2_out", "c2_out"]
    for value in (*proto.graph.input, *proto.graph.output):
        batch = value.type.tensor_type.shape.dim[0]
        assert batch.dim_param and not batch.dim_value, f"{value.name}: batch axis is not dynamic"
    assert not any(t.external_data for t in proto.graph.initializer)
    assert list(result.path.parent.glob("*.data")) == []
    spec = read_spec(result.path)
    assert spec == result.spec and spec.input_size == SMALL["record_rod2021"]
    checkpoint = random_checkpoint("record_rod2021")
    assert spec.provenance["checkpoint_sha256"] == file_sha256(checkpoint)
    assert spec.provenance["code_version"]["package"] == "0.1.0" and spec.provenance["opset"] == OPSET


def test_fp16_export_keeps_float32_io_and_halves_the_weights(small_export):
    fp32, fp16 = small_export("record_rod2021"), small_export("record_rod2021", fp16=True)
    proto = onnx.load(str(fp16.path))
    onnx.checker.check_model(proto, full_check=True)
    assert fp16.spec.precision == "fp16" and read_spec(fp16.path).precision == "fp16"
    float32 = onnx.TensorProto.FLOAT
    assert all(v.type.tensor_type.elem_type == float32 for v in (*proto.graph.input, *proto.graph.output))
    assert {t.data_type for t in proto.graph.initializer if len(t.dims) == 4} == {onnx.TensorProto.FLOAT16}
    assert fp16.path.stat().st_size < 0.7 * fp32.path.stat().st_size  # norms and the graph stay as they are


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_exports_and_its_step_matches_torch(name, small_export):
    """One ONNX Runtime step from the zero state equals the model's step, for 2 streams at once."""
    result = small_export(name)
    model = create_model(name)
    model.load_state_dict(torch.load(result.spec.provenance["checkpoint"], weights_only=True)["state_dict"])
    generator = torch.Generator().manual_seed(3)
    frame = model.eval().example_input(2, size=SMALL[name], generator=generator)
    with torch.no_grad():
        expected, _ = model.step(frame, model.zero_state(2, *SMALL[name]))
        expected = model.activate(expected)
    runtime = open_runtime(result.path, "onnxruntime", streams=2, threads=1)
    if isinstance(frame, dict):
        scores = runtime.step({k: v.numpy() for k, v in frame.items()})
        for view, value in expected.items():
            np.testing.assert_allclose(scores[view], value.numpy(), atol=1e-5, rtol=0)
    else:
        np.testing.assert_allclose(runtime.step(frame.numpy()), expected.numpy(), atol=1e-5, rtol=0)


def test_exported_file_runs_in_a_fresh_process_from_the_file_alone(small_export, tmp_path):
    alone = tmp_path / "alone" / "model.onnx"
    alone.parent.mkdir()
    shutil.copy(small_export("mv_record").path, alone)
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from record.runtime import open_runtime
        runtime = open_runtime({str(alone)!r}, "onnxruntime", streams=1, threads=1)
        runtime.warmup()
        frames = {{t.name: np.full((1, *t.shape), 0.5, np.float32) for t in runtime.spec.frames}}
        scores = runtime.step(frames)
        print(sorted(scores), scores["ra"].shape, bool(np.allclose(scores["ra"].sum(axis=1), 1, atol=1e-5)))
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, check=True).stdout.splitlines()
    assert out == ["['ra', 'rd'] (1, 4, 16, 16) True", "False"]


def test_a_failed_export_leaves_the_previous_file_untouched(small_export, random_checkpoint, tmp_path,
                                                            monkeypatch):
    target = tmp_path / "model.onnx"
    shutil.copy(small_export("record_nolstm_single").path, target)
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(onnx, "save_model", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_onnx(random_checkpoint("record_nolstm_single"), target, size=(32, 32))
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_cli_exports_with_size_and_reports_bad_input(random_checkpoint, tmp_path, capsys):
    out = tmp_path / "rod.onnx"
    assert main(["export", str(random_checkpoint("record_nolstm_single")), "--size", "64", "32",
                 "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out and read_spec(out).input_size == (64, 32)
    assert main(["export", str(random_checkpoint("record_rod2021")), "--size", "30", "32"]) == 1
    error = capsys.readouterr().err
    assert "export size" in error and "not divisible by the network stride" in error
    missing = tmp_path / "missing.pt"
    assert main(["export", str(missing)]) == 1
    assert f"{missing}: checkpoint file not found" in capsys.readouterr().err


def test_cli_help_names_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = capsys.readouterr().out
    for option in ("--format", "--fp16", "--size", "--out", "--max-streams", "--workspace-mib"):
        assert option in text


def test_export_of_a_converted_checkpoint_without_training_config(tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / "rd.pt"
    save_checkpoint(create_model("record_carrada_rd"), checkpoint)
    spec = export_onnx(checkpoint, tmp_path / "rd.onnx", size=(32, 8)).spec
    assert spec.dataset == "carrada" and spec.frames[0].view == "rd" and spec.provenance["trained"] is False
