"""``benchmarks/gpu_check.sh`` on this CPU machine: the dry run writes env.json, summary.json, a JSON per seed
that ran and the log and picture archives, and reports the CUDA parts and a seed left out by the time guard as
skipped, with why; a failing part is reported and the script goes on; without --dry-run and without a GPU it
exits with 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import torch

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"
CUDA = torch.cuda.is_available()
NO_GPU_ONLY = pytest.mark.skipif(CUDA, reason="checks what a machine without a GPU reports")


def _run(tmp_path: Path, *options: str, **settings: str
         ) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """Run the script into ``tmp_path/out`` (work folder ``tmp_path/work``); its result and summary.json."""
    environment = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_WORK": str(tmp_path / "work"),
                   **settings}
    completed = subprocess.run(["bash", str(SCRIPT), *options, str(tmp_path / "out")], env=environment,
                               capture_output=True, text=True, timeout=600, check=False)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    return completed, summary


def _parts(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {part["name"]: part for part in summary["parts"]}


def test_dry_run_reports_every_part_and_writes_the_benchmark_json(tmp_path: Path) -> None:
    completed, summary = _run(tmp_path, "--dry-run", GPU_CHECK_SEED_MARGIN="1000")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert summary["finished"] and summary["exit_status"] == 0 and summary["dry_run"]
    assert summary["device"] == ("cuda" if CUDA else "cpu") and summary["failed"] == []
    parts = _parts(summary)
    assert list(parts) == ["install", "env", "runtimes_cuda", "online_step", "synthetic_seed0",
                           "synthetic_seed1"]
    assert (parts["install"]["status"], parts["install"]["reason"]) == ("skipped", "record is importable")
    assert parts["env"]["status"] == "ok" and parts["env"]["output"] == "env.json"
    if not CUDA:
        assert parts["runtimes_cuda"]["status"] == "skipped"
        assert "no CUDA device" in parts["runtimes_cuda"]["reason"]
    assert parts["online_step"]["status"] == "skipped"
    assert parts["synthetic_seed0"]["status"] == "ok" and parts["synthetic_seed0"]["exit_code"] == 0
    # the margin of 1000 x the first seed's duration leaves the second seed out
    assert parts["synthetic_seed1"]["status"] == "skipped"
    assert parts["synthetic_seed1"]["reason"].startswith("time guard:")
    assert summary["synthetic"]["seeds_run"] == [0] and list(summary["synthetic"]["seeds_skipped"]) == ["1"]

    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(["env.json", "logs.tar.gz", "pictures.tar.gz",
                                                            "summary.json", "synthetic_seed0.json",
                                                            *(["runtimes_cuda.json"] if CUDA else [])])
    env = json.loads((out / "env.json").read_text())
    assert env["cpus"] == os.cpu_count() and env["torch"]["version"] == torch.__version__
    assert env["torch"]["cuda_available"] is CUDA and env["packages"]["record-radar"]
    if not CUDA:
        assert env["torch"]["devices"] == []
    report = json.loads((out / "synthetic_seed0.json").read_text())
    assert report["steps_trained"] == {"record": 2, "nolstm": 2} and report["budget"]["optimizer_steps"] == 2
    assert report["device"].startswith(summary["device"]) and report["data"]["seed"] == 0
    assert {"record_AP", "nolstm_AP", "record_minus_nolstm_AP", "timing_s"} <= set(report)
    with tarfile.open(out / "logs.tar.gz") as logs, tarfile.open(out / "pictures.tar.gz") as pictures:
        names = logs.getnames() + pictures.getnames()
    assert "logs/synthetic_seed0.log" in names and "pictures/seed0_record_precision_recall.png" in names
    assert any(name.startswith("pictures/seed0_nolstm_") and name.endswith("_strip.png") for name in names)


def test_a_failing_part_is_reported_and_the_script_goes_on(tmp_path: Path) -> None:
    completed, summary = _run(tmp_path, "--dry-run", GPU_CHECK_SEEDS="0",
                              GPU_CHECK_SYNTHETIC_ARGS="--scenario no_such_scenario")
    assert completed.returncode == 1 and summary["exit_status"] == 1 and summary["finished"]
    assert summary["failed"] == ["synthetic_seed0"]
    failed = _parts(summary)["synthetic_seed0"]
    assert failed["reason"] == "exit status 1" and failed["output"] is None
    assert any("no_such_scenario" in line for line in failed["log_tail"])
    assert not (tmp_path / "out" / "synthetic_seed0.json").exists()
    assert (tmp_path / "out" / "env.json").is_file() and (tmp_path / "out" / "logs.tar.gz").is_file()


@NO_GPU_ONLY
def test_without_a_gpu_the_gpu_parts_are_skipped_and_the_exit_status_says_so(tmp_path: Path) -> None:
    completed, summary = _run(tmp_path)
    assert completed.returncode == 2 and summary["exit_status"] == 2 and summary["device"] == "none"
    parts = _parts(summary)
    assert parts["env"]["status"] == "ok" and summary["failed"] == []
    for name in ("runtimes_cuda", "synthetic_seed0", "synthetic_seed1", "synthetic_seed2"):
        assert parts[name]["status"] == "skipped" and "no CUDA device" in parts[name]["reason"], name
    assert summary["synthetic"]["steps"] == 600 and summary["synthetic"]["seeds_run"] == []
