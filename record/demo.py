"""``record demo``: the whole pipeline on an embedded synthetic default, in about ten minutes on two CPU
cores.

1. Simulate a ROD2021-layout dataset (simulator + signal chain; reused when already there) and draw a few
   simulator pictures with ground truth: ROD2021 range-azimuth maps and CARRADA-style RD / RA / AD views.
2. Train RECORD online for a few minutes (:data:`DEMO_TRAINING`): whole maps, loss on every frame, the
   recurrent state carried across 4 consecutive 8-frame clips (truncated BPTT, so the state learns to run on
   long streams), output layer initialised to a 1 % prior, object pixels weighted 4x in the BCE
   (``loss.bce_object_weight=3``), learning rate 6e-3 decayed to 0 along a cosine.
3. Evaluate it online on the validation sequences (state reset per sequence): ROD2021 post-processing,
   AP / AR, precision-recall curves, per-sequence strips and GIFs.

Everything lands under ``--out``: ``dataset/`` (unless ``--data``), ``pictures/simulator/``, ``train/``
(config, checkpoints, TensorBoard logs) and ``evaluate/`` (metrics.json, predictions, pictures).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from record.data.rod2021 import Rod2021Layout
from record.data.synth_common import dataset_scene
from record.dsp.chain import CarradaChain
from record.models.inference import configure_cpu_inference
from record.sensors import CARRADA
from record.sim import Simulator, random_scene
from record.train.compose import compose_config
from record.train.evaluate import evaluate
from record.train.trainer import train
from record.viz.maps import plot_carrada_views, plot_rod2021_map, save_figure

__all__ = ["DEMO_TRAINING", "main", "simulator_pictures"]

#: Training settings of the demo (``record train`` overrides; ``train.max_steps`` comes from ``--steps``).
DEMO_TRAINING = (
    "model=record_rod2021", "mode=online", "train.window=8", "train.stride=4", "train.tbptt_clips=4",
    "train.batch_size=1", "train.lr=6e-3", "train.lr_schedule=cosine", "train.output_prior=0.01",
    "loss.bce_object_weight=3.0", "train.val_every_epochs=0", "train.workers=1",
)
_ROD2021_PICTURES = 3
_CARRADA_FRAMES = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="record demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    parser.add_argument("--data",
                        help="synthetic dataset folder, simulated when missing (default OUT/dataset)")
    parser.add_argument("--steps", type=int, default=400,
                        help="training budget in optimiser steps (default 400 clips of 8 frames: ~5 minutes "
                             "on 2 CPU cores)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--train-frames", type=int, default=480, help="frames per training sequence")
    parser.add_argument("--valid-sequences", type=int, default=4,
                        help="validation sequences (default 4, the most the layout names)")
    parser.add_argument("--eval-frames", type=int, default=240, help="frames per validation sequence")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def simulator_pictures(data_root: Path, out: Path, seed: int) -> list[Path]:
    """A few validation frames of the ROD2021 tree (range-azimuth maps with their annotations) and
    CARRADA-style RD / RA / AD views of a short simulated scene with its ground truth."""
    layout = Rod2021Layout(data_root)
    sequence = layout.sequences("valid")[0]
    truth = layout.annotations(sequence)
    written = []
    for frame in np.linspace(0, layout.n_frames(sequence) - 1, _ROD2021_PICTURES).astype(int):
        maps = np.stack([layout.chirp_map(sequence, int(frame), chirp) for chirp in (0, 64, 128, 192)])
        title = f"simulated ROD2021 {sequence} frame {frame}: RA magnitude, ground truth"
        figure = plot_rod2021_map(maps, truth=truth.select(truth.frame == frame), title=title)
        written.append(save_figure(figure, out / f"rod2021_{sequence}_{frame:04d}.png"))
    rng = np.random.default_rng(seed)
    scene = random_scene(dataset_scene(CARRADA), _CARRADA_FRAMES * CARRADA.waveform.frame_period_s + 1.0, rng)
    frames = list(Simulator(CARRADA, scene, rng=rng).frames(_CARRADA_FRAMES))
    views = CarradaChain()(np.stack([frame.adc for frame in frames]))
    for index, frame in enumerate(frames):
        figure = plot_carrada_views(views.rd_processed[index], views.ra_processed[index],
                                    views.ad_processed[index],
                                    truth=frame.truth, title=f"simulated CARRADA-style views, frame {index}")
        written.append(save_figure(figure, out / f"carrada_views_{index}.png"))
    return written


def _confusion_line(confusions: dict[str, dict[str, int]] | None) -> str:
    """The class confusions of ``metrics.json`` as one line, most frequent first ('' when there are none)."""
    pairs = sorted(((count, detected, true) for detected, row in (confusions or {}).items()
                    for true, count in row.items() if count), reverse=True)
    listed = ", ".join(f"{count} {detected} on {true}" for count, detected, true in pairs)
    return f"detections on an object of another class: {listed}" if listed else ""


def main(argv: list[str]) -> int:
    """``record demo [--out DIR] [--data DIR] [--steps N]``."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    out = Path(args.out)
    data = Path(args.data) if args.data else out / "dataset"
    configure_cpu_inference(args.threads, tune_allocator=False)
    progress = "false" if args.no_progress else "true"
    training = compose_config("train", [
        "dataset=synth_rod2021", f"dataset.root={data}", "dataset.synthetic.scenario=clear",
        f"dataset.synthetic.seed={args.seed}",
        f"dataset.synthetic.train_frames={args.train_frames}",
        f"dataset.synthetic.valid_sequences={args.valid_sequences}",
        f"dataset.synthetic.eval_frames={args.eval_frames}",
        *DEMO_TRAINING,
        f"train.max_steps={args.steps}", f"train.progress={progress}", f"run.dir={out / 'train'}",
    ])
    print(f"[1/3] dataset {data.absolute()} (simulated if missing); training RECORD online, "
          f"{args.steps} steps")
    result = train(training)
    pictures = simulator_pictures(data, out / "pictures" / "simulator", args.seed)
    print(f"[2/3] trained {result.progress.global_step} steps ({result.stopped_by}); evaluating online")
    torch.set_num_threads(args.threads)
    evaluation = evaluate(compose_config("evaluate", [
        f"checkpoint={result.last_checkpoint}", f"run.dir={out / 'evaluate'}", "eval.workers=1",
        f"eval.progress={progress}",
    ]))
    minutes = (time.monotonic() - started) / 60.0
    print(f"[3/3] {evaluation.summary}")
    confusions = _confusion_line(evaluation.metrics.get("class_confusions"))
    if confusions:
        print(confusions)
    print(f"pictures: {(out / 'evaluate' / 'pictures').absolute()} (precision-recall, strips, GIFs) and "
          f"{pictures[0].parent.absolute()} (simulator maps with ground truth)")
    print(f"metrics: {(out / 'evaluate' / 'metrics.json').absolute()}; demo took {minutes:.1f} min")
    return 0
