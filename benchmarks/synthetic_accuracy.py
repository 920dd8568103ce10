"""Does RECORD's temporal memory pay off? RECORD (online) vs the single-frame no-LSTM ablation on synthetic
data.

Both models train with the same budget on the same synthetic ROD2021-layout dataset: the same clips in the
same order (online mode: clips from a zero state, loss on every frame), the same number of optimiser steps,
the same batch, crop and learning rate, so they see the same frames. Both are then evaluated online on the
validation sequences with the published ROD2021 post-processing and OLS AP / AR. The no-LSTM model's ``step``
has no state: it sees one frame at a time.

The JSON also describes how hard single frames are: per annotated object, the peak magnitude near its bin over
the frame's median magnitude (dB), and the share of objects whose peak does not exceed the strongest 0.1 % of
the frame's pixels away from objects (a single-frame detector cannot tell those from noise or clutter).

Usage: ``python benchmarks/synthetic_accuracy.py [--json] [--scenario temporal] [--steps 600] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from record.data.rod2021 import Rod2021Layout
from record.sensors import ROD2021
from record.train.compose import compose_config
from record.train.evaluate import evaluate
from record.train.trainer import train

MODELS = {"record": "record_rod2021", "nolstm": "record_nolstm_single"}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--scenario", default="temporal", help="synthetic scenario (record.train.synthetic)")
    parser.add_argument("--data",
                        help="dataset folder (default outputs/benchmarks/synthetic_<scenario>_<seed>)")
    parser.add_argument("--out", default="outputs/benchmarks/synthetic_accuracy", help="runs and evaluations")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--train-sequences", type=int, default=6)
    parser.add_argument("--train-frames", type=int, default=480)
    parser.add_argument("--eval-frames", type=int, default=240)
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps per model")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--clip", type=int, default=16, help="frames per training clip")
    parser.add_argument("--crop", type=int, default=64, help="training crop size (bins)")
    parser.add_argument("--crop-on-objects", type=float, default=0.7, help="share of crops placed on objects")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def _dataset_overrides(args: argparse.Namespace, root: Path) -> list[str]:
    return [
        "dataset=synth_rod2021", f"dataset.root={root}", f"dataset.synthetic.scenario={args.scenario}",
        f"dataset.synthetic.seed={args.seed}", f"dataset.synthetic.train_sequences={args.train_sequences}",
        f"dataset.synthetic.train_frames={args.train_frames}", "dataset.synthetic.valid_sequences=2",
        "dataset.synthetic.test_sequences=0", f"dataset.synthetic.eval_frames={args.eval_frames}",
    ]


def single_frame_difficulty(root: Path, split: str = "valid") -> dict[str, float]:
    """Peak-to-median ratio (dB) of annotated objects in single frames, and the share hidden among the
    strongest 0.1 % of pixels away from objects."""
    layout = Rod2021Layout(root)
    ranges, azimuths = ROD2021.range.values(), ROD2021.azimuth.values()
    ratios, hidden = [], []
    for sequence in layout.sequences(split):
        table = layout.annotations(sequence)
        for frame in np.unique(table.frame):
            x = layout.frame(sequence, int(frame))
            magnitude = np.hypot(x[0::2], x[1::2]).mean(axis=0)
            objects = table.select(table.frame == frame)
            away = np.ones(magnitude.shape, dtype=bool)
            peaks = []
            for range_m, azimuth in zip(objects.range_m, objects.azimuth_rad):
                row, col = int(np.abs(ranges - range_m).argmin()), int(np.abs(azimuths - azimuth).argmin())
                window = (slice(max(row - 2, 0), row + 3), slice(max(col - 3, 0), col + 4))
                peaks.append(magnitude[window].max())
                away[max(row - 4, 0):row + 5, max(col - 8, 0):col + 9] = False
            floor = np.median(magnitude)
            threshold = np.quantile(magnitude[away], 0.999)
            ratios += [20 * np.log10(p / floor) for p in peaks]
            hidden += [p <= threshold for p in peaks]
    ratios_array = np.asarray(ratios)
    return {
        "objects": len(ratios),
        "peak_over_median_db_p10": float(np.percentile(ratios_array, 10)),
        "peak_over_median_db_p50": float(np.percentile(ratios_array, 50)),
        "peak_over_median_db_p90": float(np.percentile(ratios_array, 90)),
        "share_hidden_in_single_frames": float(np.mean(hidden)),
    }


def _train_and_evaluate(args: argparse.Namespace, root: Path, key: str) -> dict[str, Any]:
    run_dir = Path(args.out) / key
    started = time.perf_counter()
    result = train(compose_config("train", [
        *_dataset_overrides(args, root), f"model={MODELS[key]}", "mode=online", f"train.window={args.clip}",
        f"train.stride={args.clip // 2}", f"train.batch_size={args.batch}",
        f"train.crop=[{args.crop},{args.crop}]",
        f"train.crop_on_objects={args.crop_on_objects}",
        f"train.lr={args.lr}", f"train.max_steps={args.steps}", "train.max_epochs=100000",
        "train.val_every_epochs=0",
        "train.workers=1", "train.seed=1", f"train.progress={str(not args.json).lower()}",
        f"run.dir={run_dir}",
    ]))
    trained = time.perf_counter() - started
    torch.set_num_threads(args.threads)
    evaluation = evaluate(compose_config("evaluate", [
        f"checkpoint={result.last_checkpoint}", f"run.dir={run_dir / 'evaluate'}", "eval.gif_frames=0",
    ]))
    score = evaluation.metrics["rod2021"]
    return {"AP": _percent(score["AP"]), "AR": _percent(score["AR"]), "steps": result.progress.global_step,
            "train_s": trained, "evaluate_s": time.perf_counter() - started - trained}


def _percent(fraction: float | None) -> float:
    """AP / AR in percent (NaN when the scorer had nothing to score)."""
    return float("nan") if fraction is None else 100.0 * fraction


def main() -> None:
    args = _arguments()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    root = Path(args.data or f"outputs/benchmarks/synthetic_{args.scenario}_{args.seed}")
    from record.train.compose import typed
    from record.train.config import TrainRunConfig
    from record.train.synthetic import ensure_dataset

    started = time.perf_counter()
    ensure_dataset(typed(compose_config("train", _dataset_overrides(args, root)), TrainRunConfig).dataset,
                   progress=not args.json)
    simulated = time.perf_counter() - started
    results = {key: _train_and_evaluate(args, root, key) for key in MODELS}
    report = {
        "record_AP": results["record"]["AP"], "record_AR": results["record"]["AR"],
        "nolstm_AP": results["nolstm"]["AP"], "nolstm_AR": results["nolstm"]["AR"],
        "record_minus_nolstm_AP": results["record"]["AP"] - results["nolstm"]["AP"],
        "budget": {"optimizer_steps": args.steps, "batch": args.batch, "clip_frames": args.clip,
                   "frames_seen": args.steps * args.batch * args.clip, "crop": [args.crop, args.crop],
                   "crop_on_objects": args.crop_on_objects,
                   "lr": args.lr, "mode": "online"},
        "data": {"root": str(root), "scenario": args.scenario, "seed": args.seed,
                 "train": [args.train_sequences, args.train_frames], "valid": [2, args.eval_frames],
                 **single_frame_difficulty(root)},
        "timing_s": {"simulate": simulated, **{f"{k}_{phase}": v[f"{phase}_s"] for k, v in results.items()
                                               for phase in ("train", "evaluate")}},
        "threads": args.threads,
    }
    if not args.json:
        print(f"RECORD AP {report['record_AP']:.2f} AR {report['record_AR']:.2f} | "
              f"no-LSTM AP {report['nolstm_AP']:.2f} AR {report['nolstm_AR']:.2f}")
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
