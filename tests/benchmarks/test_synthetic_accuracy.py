"""``benchmarks/synthetic_accuracy.py`` end to end on a tiny budget: both models train the same steps on the same
simulated data and the JSON holds the figures the README quotes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "synthetic_accuracy.py"


def test_synthetic_accuracy_prints_one_json_object_with_both_models(tmp_path: Path) -> None:
    command = [
        sys.executable, str(SCRIPT), "--json",
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs"), "--train-sequences", "1",
        "--train-frames", "16", "--valid-sequences", "1", "--eval-frames", "8", "--steps", "2", "--clip", "4",
        "--tbptt-clips", "2", "--threads", "1",
    ]
    completed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600,
                               cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)  # stdout holds the JSON object only
    for key in ("record_AP", "record_AR", "nolstm_AP", "nolstm_AR"):
        assert math.isnan(report[key]) or 0.0 <= report[key] <= 100.0, key
    assert report["budget"]["optimizer_steps"] == 2 and report["budget"]["frames_seen"] == 2 * 4
    assert report["data"]["scenario"] == "temporal" and report["data"]["objects"] > 0
    for model in ("record", "nolstm"):
        assert (tmp_path / "runs" / model / "checkpoints" / "last.pt").is_file()
        assert (tmp_path / "runs" / model / "evaluate" / "metrics.json").is_file()
