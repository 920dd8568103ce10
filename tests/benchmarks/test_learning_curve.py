"""``benchmarks/learning_curve.py``: the variant table, budget arithmetic, and the tool end to end on a budget
of a few CPU-seconds (points, scores in range, the constant-prediction loss, the PNG)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from record.data.confmaps import confidence_maps, frames_index
from record.data.rod2021 import Rod2021Layout
from record.demo import DEMO_TRAINING
from record.errors import ConfigError
from record.train.compose import typed
from record.train.config import TrainRunConfig

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "learning_curve.py"
CLASSES = ("pedestrian", "cyclist", "car")


@pytest.fixture(scope="module")
def tool() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("learning_curve", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_overrides_split_on_commas_outside_brackets(tool: ModuleType) -> None:
    text = "train.crop=[64,64], train.lr=1e-3,model.options={a: 1, b: 2},run.dir='x,y'"
    assert tool.split_overrides(text) == ["train.crop=[64,64]", "train.lr=1e-3", "model.options={a: 1, b: 2}",
                                          "run.dir='x,y'"]


def test_variants_come_from_the_table_or_the_command_line(tool: ModuleType) -> None:
    assert tool.chosen_variants(None, []) == {"demo": DEMO_TRAINING}
    assert tool.VARIANTS["demo"] is DEMO_TRAINING
    chosen = tool.chosen_variants("crops,demo", ["mine=train.lr=1e-3,train.crop=[32,32]"])
    assert list(chosen) == ["crops", "demo", "mine"]
    assert chosen["mine"] == (*DEMO_TRAINING, "train.lr=1e-3", "train.crop=[32,32]")
    with pytest.raises(ConfigError, match="unknown variant 'nope'"):
        tool.chosen_variants("demo,nope", [])
    with pytest.raises(ConfigError, match="NAME=OVERRIDE"):
        tool.chosen_variants(None, ["train.lr"])


def test_variant_configs_compose_with_the_budgeted_steps(tool: ModuleType, tmp_path: Path) -> None:
    dataset = tool.dataset_overrides(tool.parse_arguments(["--seed", "3"]), tmp_path / "data")
    demo = typed(tool.variant_config(dataset, tool.VARIANTS["demo"], 50, tmp_path / "run"), TrainRunConfig)
    assert (demo.train.lr_schedule, demo.train.max_steps, demo.train.crop) == ("cosine", 50, None)
    assert (demo.dataset.synthetic.scenario, demo.dataset.synthetic.seed) == ("clear", 3)
    assert demo.dataset.synthetic.train_frames == 480 and demo.train.tbptt_clips == 4
    crops = typed(tool.variant_config(dataset, tool.VARIANTS["crops"], 50, tmp_path / "run"), TrainRunConfig)
    assert (crops.train.crop, crops.train.whole_map_steps, crops.train.max_steps) == ([64, 64], 5, 50)
    focal = typed(tool.variant_config(dataset, tool.VARIANTS["focal"], 50, tmp_path / "run"), TrainRunConfig)
    assert focal.loss.heatmap == "focal"
    assert tool.given_max_steps(["train.lr=1", "train.max_steps=7"]) == 7
    assert tool.given_max_steps(DEMO_TRAINING) is None


def test_budget_fits_whole_steps_after_the_setup(tool: ModuleType) -> None:
    assert tool.fitted_steps(60.0, 10.0, 5.0) == 10
    assert tool.fitted_steps(59.0, 10.0, 5.0) == 9
    assert tool.fitted_steps(5.0, 10.0, 5.0) == 1


def test_a_variant_that_does_not_compose_stops_the_tool_before_any_work(tool: ModuleType,
                                                                         tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="variant 'bad'"):
        tool.main(["--out", str(tmp_path), "--variant", "bad=train.no_such_option=1"])
    assert not any(tmp_path.iterdir())


def _entropy_loss(root: Path, weight: float) -> float:
    """Mean BCE, each pixel weighted 1 + ``weight`` x target, of the best constant prediction: per class
    ``p = E[w t] / E[w]``, loss ``-E[w t] log p - E[w (1 - t)] log(1 - p)`` (0 for a class without objects),
    averaged over classes."""
    layout = Rod2021Layout(root)
    pixels = []
    for sequence in layout.sequences("train"):
        table, rows = layout.annotations(sequence), frames_index(layout.annotations(sequence))
        for frame in range(layout.n_frames(sequence)):
            maps = confidence_maps(table.select(rows.get(frame, np.zeros(0, np.int64))))
            pixels.append(maps.astype(np.float64).reshape(len(maps), -1))
    target = np.concatenate(pixels, axis=1)  # [K, pixels]
    w = 1.0 + weight * target
    positive, negative = (w * target).mean(axis=1), (w * (1 - target)).mean(axis=1)
    p = positive / (positive + negative)
    return float(np.mean(-(positive * np.log(np.maximum(p, 1e-300)) + negative * np.log1p(-p))))


@pytest.mark.slow
def test_learning_curve_prints_one_json_object_with_a_point_per_mark(tmp_path: Path) -> None:
    tiny = "train.window=4,train.tbptt_clips=2"
    command = [
        sys.executable, str(SCRIPT), "--json", "--out", str(tmp_path / "out"), "--train-sequences", "1",
        "--train-frames", "16", "--valid-sequences", "1", "--test-sequences", "0", "--eval-frames", "8",
        "--threads", "1", "--budget-cpu-min", "0.03", "--every-cpu-min", "0.001", "--warmup-steps", "2",
        "--variant", f"fixed={tiny},train.max_steps=2", "--variant", f"budgeted={tiny}",
    ]
    completed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300,
                               cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)  # stdout holds the JSON object only
    assert (report["budget_cpu_min"], report["every_cpu_min"], report["peak_threshold"]) == (0.03, 0.001, 0.3)
    assert report["dataset"]["scenario"] == "clear" and report["dataset"]["train"] == [1, 16]
    assert list(report["variants"]) == ["fixed", "budgeted"]
    fixed, budgeted = report["variants"]["fixed"], report["variants"]["budgeted"]
    assert (fixed["max_steps"], fixed["max_steps_from"], fixed["warmup"]) == (2, "variant", None)
    assert budgeted["max_steps_from"] == "warm-up" and budgeted["warmup"]["cpu_s_per_step"] > 0
    assert budgeted["max_steps"] == max(1, math.floor(
        (60 * 0.03 - budgeted["warmup"]["setup_cpu_s"]) / budgeted["warmup"]["cpu_s_per_step"]))
    weight = next(float(o.split("=")[1]) for o in DEMO_TRAINING if o.startswith("loss.bce_object_weight="))
    reference = _entropy_loss(Path(report["dataset"]["root"]), weight)
    for name, result in report["variants"].items():
        points = result["points"]
        # every step takes longer than a mark apart: a point after each step
        assert [point["step"] for point in points] == list(range(1, result["steps"] + 1)), name
        if result["stopped_by"] == "max_steps":
            assert result["steps"] == result["max_steps"]
        else:
            assert result["stopped_by"] == "budget" and points[-1]["cpu_min"] >= 0.03
        assert result["constant_loss"] == pytest.approx(reference, rel=1e-4)
        minutes = [point["cpu_min"] for point in points]
        assert minutes == sorted(minutes) and minutes[0] > 0
        for point in points:
            assert point["frames"] == 4 * point["step"] and 0 < point["wall_min"]
            assert point["train_loss_rel"] == pytest.approx(point["train_loss"] / result["constant_loss"])
            assert 0.0 <= point["AP"] <= 100.0 and 0.0 <= point["AR"] <= 100.0
            for scores in point["per_class"].values():
                assert scores is None or 0.0 <= scores["AP"] <= 100.0
            assert set(point["confusions"]) == set(CLASSES)
            for detected, counts in point["confusions"].items():
                assert set(counts) == set(CLASSES) - {detected} and min(counts.values()) >= 0
        assert result["final"]["step"] == points[-1]["step"] == result["steps"]
        assert result["steps_per_cpu_min"] == pytest.approx(result["steps"] / points[-1]["cpu_min"])
        folder = tmp_path / "out" / name
        assert sorted(path.name for path in (folder / "evaluate").iterdir()) == [
            f"step_{point['step']:06d}" for point in points]
    assert Path(report["plot"]) == tmp_path / "out" / "learning_curve.png"
    assert Path(report["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
