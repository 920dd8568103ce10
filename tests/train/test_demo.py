"""``record demo`` end to end on a tiny budget: simulation, training, online evaluation, pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from record.cli import main as record_main

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    arguments = ["demo", "--out", str(out), "--steps", "2", "--train-frames", "64", "--eval-frames", "12",
                 "--threads", "1", "--no-progress"]
    assert record_main(arguments) == 0
    printed = capsys.readouterr().out
    assert "AP " in printed and "AR " in printed and str((out / "evaluate" / "pictures").absolute()) in printed
    metrics = json.loads((out / "evaluate" / "metrics.json").read_text())
    # the default four validation sequences of 12 frames
    assert metrics["mode"] == "online" and metrics["split"] == "valid" and metrics["frames"] == 4 * 12
    confused = sorted((count, f"{count} {detected} on {true}")
                      for detected, row in metrics["class_confusions"].items() for true, count in row.items() if count)
    if confused:  # the demo names them, most frequent first
        assert "detections on an object of another class: " + confused[-1][1] in printed
    else:
        assert "another class" not in printed
    simulator = sorted(path.name for path in (out / "pictures" / "simulator").iterdir())
    assert len([name for name in simulator if name.startswith("rod2021_")]) == 3
    assert len([name for name in simulator if name.startswith("carrada_views_")]) == 2
    assert (out / "train" / "checkpoints" / "last.pt").is_file()
    assert any(path.suffix == ".gif" for path in (out / "evaluate" / "pictures").iterdir())
    # a second run reuses the simulated dataset
    assert record_main([*arguments, "--steps", "1"]) == 0
    assert "simulate" not in capsys.readouterr().err
