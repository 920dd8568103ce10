"""How fast does a training recipe learn? Validation AP against training CPU time on synthetic ROD2021 data.

Each variant (a list of ``record train`` overrides, :data:`VARIANTS`) trains RECORD online on the same
synthetic ROD2021-layout dataset (default: the demo's, scenario ``clear``) for a budget of training CPU time,
``--budget-cpu-min``, and every ``--every-cpu-min`` its model is scored on the validation sequences: the
published ROD2021 post-processing (peak threshold 0.3) and OLS AP / AR, overall and per class, and the
detections that land on an object of another class (:func:`record.eval.rod2021.class_confusions`, OLS >= 0.5),
per (detected, true) class pair.

Clock: the CPU time of this process (``time.process_time()``, every thread), counted from the call of
``train()`` (run set-up included) with the evaluations left out: each one is timed and subtracted. The
DataLoader worker (``train.workers=1``: reading and augmenting samples, well under 1 % of the training's CPU
time) is another process and is not counted. Wall time is recorded beside it. One torch thread by default:
CPU time then measures the work whatever the machine's load, whereas several intra-op threads on a loaded
machine spin waiting for one another (on 2 shared cores at a load of ~6, a demo step took 1.7 CPU-s with one
thread and 24 CPU-s with two).

Points (one every ``--every-cpu-min`` of training CPU time, after the optimiser step that crosses the mark,
and one when the run ends): optimiser step, frames seen (steps x batch x accumulate x clip frames), training
loss (mean over the steps since the previous point) and that loss over the loss of the best constant
prediction (each class scored at its mean training target: for BCE, the mean over classes of the target's
binary entropy), computed once per loss with the run's own loss function over every training frame's
confidence maps (with crops the training loss is measured on crops, which hold more objects than whole maps:
the ratio then overstates the loss), AP / AR, per-class AP / AR and the class confusions.

The cosine schedule of the demo decays over ``train.max_steps``, but the budget is CPU time: unless a
variant gives ``train.max_steps``, a short warm-up run of the variant (``--warmup-steps`` optimiser steps, not
counted) measures the CPU time of the set-up and of a step, and ``max_steps`` is what fits in the budget. A
measured rate keeps the schedule ending at the budget whatever the machine and the variant's step cost (a
cropped step costs a fraction of a whole-map one); a variant's own ``train.max_steps`` skips the warm-up,
and the run then stops at whichever of the budget and ``max_steps`` comes first (``stopped_by``). A variant
holding the ``{whole_map_steps}`` placeholder trains its last tenth of steps on whole maps; its warm-up
measures both phases (cropped, and whole maps with ``train.crop=null``) and ``max_steps`` fits their mix into
the budget. The estimate is as good as the warm-up's steps are typical: a run that turns out slower stops at
the budget before its schedule ends, one that turns out faster at ``max_steps`` under the budget.

Variants: ``demo`` is :data:`record.demo.DEMO_TRAINING` (cosine over the budget); ``focal`` adds
``loss.heatmap=focal``, ``crops`` 64 x 64 crops (80 % on objects) with the last tenth of steps on whole maps.
``--variant NAME=OVERRIDE,OVERRIDE`` adds one: its overrides follow DEMO_TRAINING (later ones win). A variant
that does not compose (an unknown option) stops the tool before any training, naming the variant.

Writes under ``--out``: one folder per variant (``warmup*/``, ``train/`` with ``snapshots/step_N.pt``,
``evaluate/step_N/``) and ``learning_curve.png`` (AP, relative training loss and per-class AP against CPU
minutes, a line per variant).

Usage: ``python benchmarks/learning_curve.py [--json] [--variants demo,crops] [--budget-cpu-min 8]
[--every-cpu-min 2] [--data DIR]`` (the demo variant, 8 CPU-minutes on a shared 2-core machine: 263 steps,
12 minutes of training wall time, 25 s per evaluation, 15 minutes in all with the warm-up).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig

from record.classes import ROD2021_CLASSES
from record.data.confmaps import confidence_maps, frames_index
from record.data.rod2021 import Rod2021Layout
from record.demo import DEMO_TRAINING
from record.errors import ConfigError
from record.eval.rod2021 import CONFUSION_OLS
from record.models import StreamingModel, create_model, save_checkpoint
from record.train.checkpoints import Progress
from record.train.compose import compose_config, resolved_dict, typed, validate_train_config
from record.train.config import TrainRunConfig
from record.train.data import sample_geometry
from record.train.environment import capture_rng, restore_rng
from record.train.evaluate import evaluate
from record.train.synthetic import ensure_dataset
from record.train.tasks import CONFMAP, make_task
from record.train.trainer import train
from record.viz.maps import save_figure

#: Placeholder of a variant's override: the number of last steps trained on whole maps (a tenth of them).
WHOLE_MAP_STEPS = "{whole_map_steps}"
WHOLE_MAP_SHARE = 0.1
#: Named variants: ``record train`` overrides after the dataset's.
VARIANTS: dict[str, tuple[str, ...]] = {
    "demo": DEMO_TRAINING,
    "focal": (*DEMO_TRAINING, "loss.heatmap=focal"),
    "crops": (*DEMO_TRAINING, "train.crop=[64,64]", "train.crop_on_objects=0.8",
              f"train.whole_map_steps={WHOLE_MAP_STEPS}"),
}
#: The published ROD2021 peak threshold.
PEAK_THRESHOLD = 0.3
_MAX_STEPS = "train.max_steps="


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (default ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--variants", help=f"comma-separated names of {sorted(VARIANTS)} (default demo)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=OVERRIDES",
                        help="a variant: comma-separated overrides after DEMO_TRAINING (repeatable)")
    parser.add_argument("--budget-cpu-min", type=float, default=8.0, help="training CPU-minutes per variant")
    parser.add_argument("--every-cpu-min", type=float, default=2.0, help="CPU-minutes between two points")
    parser.add_argument("--warmup-steps", type=int, default=8,
                        help="optimiser steps of the warm-up that measures a step's CPU time (at least 2)")
    parser.add_argument("--scenario", default="clear", help="synthetic scenario (record.train.synthetic)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--data",
                        help="dataset folder, simulated when missing (default OUT/data_<scenario>_<seed>)")
    parser.add_argument("--out", default="outputs/benchmarks/learning_curve", help="runs, evaluations, PNG")
    parser.add_argument("--train-sequences", type=int, default=4)
    parser.add_argument("--train-frames", type=int, default=480)
    parser.add_argument("--valid-sequences", type=int, default=4, help="validation sequences (the demo's 4)")
    parser.add_argument("--test-sequences", type=int, default=2)
    parser.add_argument("--eval-frames", type=int, default=240)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: CPU time then measures work, not waiting)")
    args = parser.parse_args(argv)
    if args.warmup_steps < 2 or args.budget_cpu_min <= 0 or args.every_cpu_min <= 0:
        parser.error("need --warmup-steps >= 2 and positive --budget-cpu-min and --every-cpu-min")
    return args


def split_overrides(text: str) -> list[str]:
    """Comma-separated overrides; commas in brackets or quotes stay (``train.crop=[64,64],train.lr=1``)."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def chosen_variants(names: str | None, raw: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Variant name -> overrides: the named table entries, then the ``NAME=OVERRIDES`` ones."""
    variants: dict[str, tuple[str, ...]] = {}
    for name in split_overrides(names or ("" if raw else "demo")):
        if name not in VARIANTS:
            raise ConfigError(f"--variants: unknown variant {name!r} (expected one of {sorted(VARIANTS)})")
        variants[name] = VARIANTS[name]
    for text in raw:
        name, separator, overrides = text.partition("=")
        if not separator or not name:
            raise ConfigError(f"--variant {text!r}: expected NAME=OVERRIDE,OVERRIDE")
        variants[name] = (*DEMO_TRAINING, *split_overrides(overrides))
    return variants


def dataset_overrides(args: argparse.Namespace, root: Path) -> list[str]:
    """``record train`` overrides of the command line's synthetic ROD2021 dataset at ``root``."""
    synthetic = {"scenario": args.scenario, "seed": args.seed, "train_sequences": args.train_sequences,
                 "train_frames": args.train_frames, "valid_sequences": args.valid_sequences,
                 "test_sequences": args.test_sequences, "eval_frames": args.eval_frames}
    return ["dataset=synth_rod2021", f"dataset.root={root}",
            *(f"dataset.synthetic.{key}={value}" for key, value in synthetic.items())]


def given_max_steps(overrides: Sequence[str]) -> int | None:
    """The variant's own ``train.max_steps`` (the last one), else None."""
    values = [override.removeprefix(_MAX_STEPS) for override in overrides if override.startswith(_MAX_STEPS)]
    return int(values[-1]) if values else None


def variant_config(dataset: Sequence[str], overrides: Sequence[str], max_steps: int, run_dir: Path,
                   *extra: str) -> DictConfig:
    """The composed, validated ``train`` config of a variant run of ``max_steps`` steps (placeholders filled).

    Raises:
        ConfigError: an override does not compose or the config is invalid.
    """
    whole_map_steps = str(round(WHOLE_MAP_SHARE * max_steps))
    filled = [override.replace(WHOLE_MAP_STEPS, whole_map_steps) for override in overrides]
    config = compose_config("train", [*dataset, *filled, *extra, f"{_MAX_STEPS}{max_steps}",
                                      "train.progress=false", f"run.dir={run_dir}"])
    validate_train_config(typed(config, TrainRunConfig))
    return config


# ------------------------------------------------------------ steps that fit the budget
@dataclass(frozen=True)
class StepCost:
    """CPU seconds of a run's set-up (to the start of its first step) and of one optimiser step."""

    setup_s: float
    step_s: float


def measure_step_cost(config: DictConfig) -> StepCost:
    """Train ``config`` (its ``max_steps``, at least 2) and time every step in CPU seconds; the first step's
    one-time costs go to the set-up."""
    started = time.process_time()
    ends: list[float] = []
    train(config, on_step=lambda progress, model, loss: ends.append(time.process_time() - started))
    step_s = (ends[-1] - ends[0]) / (len(ends) - 1)
    return StepCost(ends[0] - step_s, step_s)


def fitted_steps(budget_s: float, setup_s: float, step_s: float) -> int:
    """Optimiser steps that fit in ``budget_s`` CPU seconds after ``setup_s`` (at least 1)."""
    return max(1, math.floor((budget_s - setup_s) / step_s))


# ------------------------------------------------------------ reference loss
def constant_loss(config: DictConfig) -> float:
    """Mean per-frame training loss (the run's loss) of the best constant prediction over every training
    frame: each class scored at its mean training target, weighted as the loss weights pixels
    (``loss.bce_object_weight`` a: ``E[(1 + a t) t] / E[1 + a t]``, the minimiser of the weighted BCE), clipped
    to [1e-9, 1 - 1e-9]."""
    run = typed(config, TrainRunConfig)
    model = create_model(run.model.name, **run.model.options)
    task = make_task(run.dataset.layout, run.model, model, run.loss)
    layout = Rod2021Layout(Path(run.dataset.root))

    def training_maps() -> Any:
        for sequence in layout.sequences(run.dataset.train_split):
            table = layout.annotations(sequence)
            rows = frames_index(table)
            for frame in range(layout.n_frames(sequence)):
                yield torch.from_numpy(confidence_maps(table.select(rows.get(frame, np.zeros(0, np.int64)))))

    weight = run.loss.bce_object_weight if run.loss.heatmap == "bce" else 0.0
    moments = torch.stack([torch.stack([maps.double().mean(dim=(1, 2)), maps.double().pow(2).mean(dim=(1, 2))])
                           for maps in training_maps()]).mean(dim=0)  # [2, K]: E[t], E[t^2]
    mean = ((moments[0] + weight * moments[1]) / (1 + weight * moments[0])).clamp(1e-9, 1 - 1e-9)
    with torch.no_grad():
        losses = [float(task.frame_loss({CONFMAP: torch.logit(mean).float()[None, :, None, None].expand(
            1, -1, *maps.shape[1:])}, {CONFMAP: maps[None]})) for maps in training_maps()]
    return float(np.mean(losses))


# ------------------------------------------------------------ scoring a snapshot
def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100.0 * fraction


def score_checkpoint(checkpoint: Path, out: Path) -> dict[str, Any]:
    """Validation AP / AR (percent), per class, and class confusions of a checkpoint (``record evaluate``,
    online, published post-processing)."""
    evaluation = evaluate(compose_config("evaluate", [
        f"checkpoint={checkpoint}", f"run.dir={out}", "eval.split=valid",
        f"eval.peak_threshold={PEAK_THRESHOLD}", "eval.strip_frames=0", "eval.gif_frames=0",
        "eval.progress=false",
    ]))
    score = evaluation.metrics["rod2021"]
    return {
        "AP": _percent(score["AP"]), "AR": _percent(score["AR"]),
        "per_class": {name: None if value is None else {key: _percent(value[key]) for key in ("AP", "AR")}
                      for name, value in score["per_class"].items()},
        "confusions": evaluation.metrics["class_confusions"],
    }


@dataclass
class CurveRecorder:
    """``on_step`` callback of a budgeted run: a training CPU clock that leaves evaluations out, and a point
    every ``every_s`` CPU seconds and at the run's end (budget spent or ``max_steps`` reached).

    Args:
        budget_s, every_s: training CPU seconds of the run and between two points.
        max_steps: the run's ``train.max_steps``.
        frames_per_step: frames one optimiser step trains on.
        reference_loss: loss of the best constant prediction.
        score: scores of a model (given a snapshot step).
    """

    budget_s: float
    every_s: float
    max_steps: int
    frames_per_step: int
    reference_loss: float
    score: Callable[[StreamingModel, int], dict[str, Any]]
    points: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    paused_s: float = 0.0
    paused_wall_s: float = 0.0

    def __post_init__(self) -> None:
        self.started, self.wall_started = time.process_time(), time.perf_counter()
        self.next_mark = self.every_s

    def cpu_s(self) -> float:
        """Training CPU seconds so far (evaluations left out)."""
        return time.process_time() - self.started - self.paused_s

    def wall_s(self) -> float:
        """Training wall seconds so far (evaluations left out)."""
        return time.perf_counter() - self.wall_started - self.paused_wall_s

    def __call__(self, progress: Progress, model: StreamingModel, loss: float) -> bool:
        self.losses.append(loss)
        cpu = self.cpu_s()
        spent = cpu >= self.budget_s
        if spent or cpu >= self.next_mark or progress.global_step >= self.max_steps:
            self._point(progress.global_step, model, cpu)
            self.next_mark = (math.floor(cpu / self.every_s) + 1) * self.every_s
        return spent

    def _point(self, step: int, model: StreamingModel, cpu: float) -> None:
        wall = self.wall_s()
        paused, paused_wall = time.process_time(), time.perf_counter()
        rng = capture_rng()  # evaluating leaves the training's random draws as they would be without it
        scores = self.score(model, step)
        restore_rng(rng, "learning curve")
        loss = float(np.mean(self.losses))
        self.losses.clear()
        evaluate_s = time.perf_counter() - paused_wall
        self.points.append({"cpu_min": cpu / 60.0, "wall_min": wall / 60.0, "step": step,
                            "frames": step * self.frames_per_step, "train_loss": loss,
                            "train_loss_rel": loss / self.reference_loss, **scores, "evaluate_s": evaluate_s})
        self.paused_s += time.process_time() - paused
        self.paused_wall_s += evaluate_s


# ------------------------------------------------------------ one variant
def _estimate(args: argparse.Namespace, dataset: list[str], overrides: Sequence[str],
              run_dir: Path) -> tuple[int, dict[str, Any] | None]:
    """(max_steps, warm-up facts or None when the variant gives ``train.max_steps``)."""
    given = given_max_steps(overrides)
    if given is not None:
        return given, None
    steps = args.warmup_steps
    cropped = any(WHOLE_MAP_STEPS in override for override in overrides)
    first_phase = [override.replace(WHOLE_MAP_STEPS, "0") for override in overrides]
    costs = {"cropped" if cropped else "whole": measure_step_cost(
        variant_config(dataset, first_phase, steps, run_dir / "warmup"))}
    if cropped:
        costs["whole"] = measure_step_cost(
            variant_config(dataset, first_phase, steps, run_dir / "warmup_whole", "train.crop=null"))
    step_s = costs["whole"].step_s
    if cropped:
        step_s = (1 - WHOLE_MAP_SHARE) * costs["cropped"].step_s + WHOLE_MAP_SHARE * step_s
    setup_s = costs["cropped" if cropped else "whole"].setup_s
    facts = {"steps": steps, "setup_cpu_s": setup_s, "cpu_s_per_step": step_s,
             **{f"{phase}_cpu_s_per_step": cost.step_s for phase, cost in costs.items()}}
    return fitted_steps(60.0 * args.budget_cpu_min, setup_s, step_s), facts


def run_variant(args: argparse.Namespace, root: Path, name: str, overrides: Sequence[str]) -> dict[str, Any]:
    """Warm up (unless the variant gives ``train.max_steps``), train for the budget and score the points."""
    dataset, run_dir = dataset_overrides(args, root), Path(args.out) / name
    max_steps, warmup = _estimate(args, dataset, overrides, run_dir)
    config = variant_config(dataset, overrides, max_steps, run_dir / "train")
    run = typed(config, TrainRunConfig)
    reference = constant_loss(config)
    resolved = resolved_dict(config)

    def score(model: StreamingModel, step: int) -> dict[str, Any]:
        snapshot = run_dir / "train" / "snapshots" / f"step_{step:06d}.pt"
        save_checkpoint(model, snapshot, metadata={"config": resolved, "global_step": step})
        return score_checkpoint(snapshot, run_dir / "evaluate" / f"step_{step:06d}")

    clip = sample_geometry(run.dataset, run.train, run.mode.name).length
    recorder = CurveRecorder(60.0 * args.budget_cpu_min, 60.0 * args.every_cpu_min, max_steps,
                             run.train.batch_size * run.train.accumulate * clip, reference, score)
    result = train(config, on_step=recorder)
    final = recorder.points[-1]
    return {
        "overrides": list(overrides), "max_steps": max_steps,
        "max_steps_from": "variant" if warmup is None else "warm-up", "warmup": warmup,
        "stopped_by": "budget" if result.stopped_by == "on_step" else result.stopped_by,
        "steps": result.progress.global_step, "steps_per_cpu_min": final["step"] / final["cpu_min"],
        "train_cpu_min": final["cpu_min"], "train_wall_min": final["wall_min"],
        "constant_loss": reference, "points": recorder.points,
        "final": {key: final[key] for key in ("step", "cpu_min", "AP", "AR", "per_class", "confusions")},
    }


# ------------------------------------------------------------ picture
def plot_curves(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """AP, relative training loss and per-class AP against training CPU-minutes, a line per variant."""
    figure = Figure(figsize=(16, 4.5), layout="constrained")
    ap, loss, per_class = figure.subplots(1, 3)
    styles = ("-", "--", ":")
    for index, (name, result) in enumerate(results.items()):
        colour, points = f"C{index}", result["points"]
        minutes = [point["cpu_min"] for point in points]
        ap.plot(minutes, [point["AP"] for point in points], "o-", color=colour, label=name)
        loss.plot(minutes, [point["train_loss_rel"] for point in points], "o-", color=colour, label=name)
        for style, klass in zip(styles, ROD2021_CLASSES):
            values = [(point["per_class"][klass] or {}).get("AP") for point in points]
            per_class.plot(minutes, [np.nan if v is None else v for v in values], style, marker="o",
                           color=colour, label=f"{name} {klass}")
    loss.axhline(1.0, color="grey", linewidth=0.8)
    for axes, title, label in ((ap, "validation AP (peak threshold 0.3)", "AP (%)"),
                               (loss, "training loss / constant prediction's", "relative loss"),
                               (per_class, "per-class AP", "AP (%)")):
        axes.set(title=title, xlabel="training CPU-minutes", ylabel=label, xlim=(0, None), ylim=(0, None))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return save_figure(figure, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    out = Path(args.out)
    root = Path(args.data or out / f"data_{args.scenario}_{args.seed}")
    dataset = dataset_overrides(args, root)
    variants = chosen_variants(args.variants, args.variant)
    for name, overrides in variants.items():  # every variant composes before anything trains
        try:
            variant_config(dataset, overrides, given_max_steps(overrides) or 10, out / name)
        except ConfigError as error:
            raise ConfigError(f"variant {name!r}: {error}") from None
    ensure_dataset(typed(compose_config("train", dataset), TrainRunConfig).dataset, progress=not args.json)
    started = time.perf_counter()
    # with --json, stdout carries the JSON object only: the runs' own messages go to stderr
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        results = {name: run_variant(args, root, name, overrides) for name, overrides in variants.items()}
    report = {
        "budget_cpu_min": args.budget_cpu_min, "every_cpu_min": args.every_cpu_min,
        "peak_threshold": PEAK_THRESHOLD, "confusion_ols": CONFUSION_OLS, "threads": args.threads,
        "dataset": {"root": str(root), "scenario": args.scenario, "seed": args.seed,
                    "train": [args.train_sequences, args.train_frames],
                    "valid": [args.valid_sequences, args.eval_frames]},
        "variants": results, "wall_min": (time.perf_counter() - started) / 60.0,
        "plot": str(plot_curves(results, out / "learning_curve.png")),
    }
    if not args.json:
        for name, result in results.items():
            final = result["final"]
            print(f"{name}: AP {final['AP']} AR {final['AR']} after {final['step']} steps, "
                  f"{final['cpu_min']:.2f} CPU-min ({result['stopped_by']})")
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as error:
        sys.exit(f"learning_curve: {error}")
