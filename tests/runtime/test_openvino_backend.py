"""The OpenVINO backend's own settings: precision, threads, the fused graph it compiles."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from record.errors import ConfigError
from record.runtime import open_runtime

ov = pytest.importorskip("openvino", reason="openvino is not installed (pip install openvino)")


def _has_bf16() -> bool:
    from record.runtime.openvino_backend import cpu_capabilities

    return "BF16" in cpu_capabilities()


def _signal_stack() -> tuple[int | None, int, int]:
    """The calling thread's alternate signal stack: (address, flags, size)."""
    from record.runtime.openvino_backend import _SignalStack

    stack = _SignalStack()
    assert ctypes.CDLL(None).sigaltstack(None, ctypes.byref(stack)) == 0
    return stack.ss_sp, stack.ss_flags, stack.ss_size


def test_fp32_is_float32_arithmetic_with_every_group_norm_fused(small_export):
    """OpenVINO's CPU default on bfloat16-capable CPUs is bfloat16: the backend must ask for float32."""
    export = small_export("record_rod2021")
    runtime = open_runtime(export.path, "openvino", threads=1)
    options = runtime.info.options
    assert options["precision"] == "fp32" and "float32" in options["inference_precision"]
    assert options["group_norms_fused"] > 0 and options["threads"] == 1
    frame = np.random.default_rng(0).random((1, 8, 32, 32), dtype=np.float32)
    reference = open_runtime(export.path, "onnxruntime", threads=1)
    np.testing.assert_allclose(runtime.step(frame), reference.step(frame), atol=1e-5, rtol=0)


@pytest.mark.skipif(not _has_bf16(), reason="this CPU has no bfloat16 units")
def test_bf16_runs_reduced_precision_close_to_fp32(small_export):
    path = small_export("record_rod2021").path
    fp32 = open_runtime(path, "openvino", threads=1)
    bf16 = open_runtime(path, "openvino", threads=1, precision="bf16")
    assert "bfloat16" in bf16.info.options["inference_precision"]
    frame = np.random.default_rng(0).random((1, 8, 32, 32), dtype=np.float32) * 5
    exact, reduced = fp32.step(frame), bf16.step(frame)
    difference = np.abs(exact - reduced).max()
    assert 0 < difference < 0.05  # bfloat16 keeps 8 bits of mantissa: visibly different, still close


@pytest.mark.parametrize("option, value, message", [("precision", "int4", "unknown precision"),
                                                     ("threads", 0, "must be positive")])
def test_bad_settings_are_refused_by_name(small_export, option, value, message):
    with pytest.raises(ConfigError, match=rf"openvino runtime: {option}: {message}"):
        open_runtime(small_export("record_rod2021").path, "openvino", **{option: value})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="alternate signal stacks are checked on Linux")
def test_opening_a_runtime_leaves_the_threads_signal_stack_alone(small_export):
    """OpenVINO's CPU plugin swaps the thread's alternate signal stack for its own; the backend puts it back."""
    before = _signal_stack()
    runtime = open_runtime(small_export("record_rod2021").path, "openvino", threads=1)
    assert _signal_stack() == before
    del runtime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="alternate signal stacks are checked on Linux")
def test_python_signal_handlers_still_run_after_runtimes_are_freed_in_creation_order(small_export):
    """The crash seen in CI: runtimes freed first-in first-out, then a DataLoader's SIGCHLD handler: SIGSEGV."""
    program = textwrap.dedent(f"""
        import gc, os, signal
        from record.runtime import open_runtime
        first = open_runtime({str(small_export("record_rod2021").path)!r}, "openvino", threads=1)
        second = open_runtime({str(small_export("record_rod2021").path)!r}, "openvino", threads=1)
        del first; gc.collect()
        del second; gc.collect()
        handled = []
        signal.signal(signal.SIGUSR1, lambda *_: handled.append(True))
        os.kill(os.getpid(), signal.SIGUSR1)
        print("handled" if handled else "not handled")
    """)
    result = subprocess.run([sys.executable, "-c", program], check=False, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "handled", result
