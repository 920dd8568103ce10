"""``record evaluate``: run a checkpoint over every evaluation sequence and score it.

The model runs ONLINE by default, one frame at a time with the recurrent state reset at each sequence start
(``eval.reset_states=false``: one state through all sequences, the published CARRADA behaviour, quirk Q9);
with ``eval.mode=buffer`` it runs a sliding window (stride 1) that grows over a sequence's first frames (quirk
Q12).

* ROD2021: ``sigmoid`` -> :func:`record.eval.postprocess.decode_confmaps` -> one submission file per sequence
  (``predictions/<SEQ>.txt``) -> :func:`record.eval.rod2021.score_rod2021` (AP / AR overall, per class, per
  sequence) when ground truth exists (annotations, or ``ground_truth/<split>/`` of a synthetic tree), and
  ``class_confusions``: detections that land on an object of another class
  (:func:`record.eval.rod2021.class_confusions`), ``{detected class: {true class: count}}``.
* CARRADA: ``argmax`` label maps saved as ``predictions/<seq>/<frame>/range_doppler.npy`` /
  ``range_angle.npy`` (uint8) -> one confusion matrix per view (mIoU, mDice, ...).

Writes under ``run.dir``: ``metrics.json``, ``predictions/``, ``pictures/`` (precision-recall curves or
confusion matrices, a PNG strip and a GIF per sequence).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader
from tqdm import tqdm

from record.classes import CARRADA_CLASSES, ROD2021_CLASSES
from record.data.base import SequenceDataset
from record.data.carrada import CarradaLayout
from record.data.rod2021 import Rod2021Layout
from record.data.rod2021_files import read_annotations, write_detections
from record.data.synth_common import atomic_directory
from record.detections import ObjectTable
from record.errors import ConfigError, describe
from record.eval.carrada import PREDICTION_FILES, ConfusionAccumulator
from record.eval.postprocess import PostProcessConfig, decode_confmaps
from record.eval.rod2021 import class_confusions, named_confusions, score_rod2021
from record.fileio import atomic_write_json
from record.models import StreamingModel, load_checkpoint_model, training_config
from record.models.inference import prepare_for_inference
from record.sensors import CARRADA, ROD2021
from record.train.compose import compose_config, typed
from record.train.config import (
    DatasetConfig,
    EvalConfig,
    EvaluateRunConfig,
    LossConfig,
    ModelSection,
    TrainRunConfig,
)
from record.train.data import frame_stream, open_layout, split_sequences
from record.train.environment import configure_threads, select_device
from record.train.pictures import FramePanels, Panel, save_gif, save_strip
from record.train.synthetic import ensure_dataset
from record.train.tasks import CONFMAP, Task, make_task
from record.train.temporal import StreamRunner, check_mode, stream_outputs
from record.viz.metrics import plot_confusion_matrix, plot_precision_recall

__all__ = ["EvaluationResult", "evaluate", "load_model", "run_evaluation"]

_DECODE_CHUNK = 64


@dataclass(frozen=True)
class EvaluationResult:
    """What an evaluation wrote and its headline numbers."""

    out_dir: Path
    metrics: dict[str, Any]
    summary: str

    def headline(self) -> str:
        return f"{self.summary}\noutputs: {self.out_dir.absolute()}"


# ------------------------------------------------------------ set-up
def _training_run(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The checkpoint's training config when it names a dataset (a ``record train`` run)."""
    config = training_config(payload)
    return config if config is not None and "dataset" in config else None


def _dataset_config(chosen: DatasetConfig | None, trained: Mapping[str, Any] | None,
                    where: str) -> DatasetConfig:
    if chosen is not None:
        return chosen
    if trained is None:
        raise ConfigError(describe(where, "the checkpoint records no training dataset; name one",
                                   expected="dataset=rod2021|carrada|synth_rod2021|synth_carrada"))
    merged = OmegaConf.merge(OmegaConf.structured(DatasetConfig), trained["dataset"])
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def _model_section(name: str, trained: Mapping[str, Any] | None) -> ModelSection:
    """The checkpoint's model section (its views), from its training config or the model's default config."""
    if trained is not None and trained.get("model", {}).get("name") == name:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelSection), trained["model"]))
    return typed(compose_config("train", [f"model={name}"]), TrainRunConfig).model


def load_model(checkpoint: str, device: torch.device) -> tuple[StreamingModel, Mapping[str, Any]]:
    """The checkpoint's model in eval mode on ``device`` (channels-last on the CPU) and the checkpoint
    dict."""
    model, payload = load_checkpoint_model(checkpoint)
    model = model.to(device)
    if device.type == "cpu":
        prepare_for_inference(model)
    return model, payload


# ------------------------------------------------------------ streams
def _lengths(stream: SequenceDataset) -> dict[str, int]:
    return {name: len(stream.samples_of(name)) for name in stream.sequence_names}


@dataclass
class _Frame:
    """What one evaluated frame leaves behind for scoring and pictures."""

    sequence: str
    position: int
    frame: Any
    batch: Mapping[str, Any]
    logits: dict[str, torch.Tensor]


def _frames(model: StreamingModel, task: Task, stream: SequenceDataset, options: EvalConfig,
            device: torch.device) -> Iterator[_Frame]:
    window = options.window or int(model.config.window)
    runner = StreamRunner(model, check_mode(options.mode, "eval.mode"), window, options.reset_states)
    loader = DataLoader(stream, batch_size=1, shuffle=False, num_workers=options.workers)
    position = 0
    with torch.no_grad():
        bar = tqdm(total=len(stream), desc=f"evaluate ({options.mode})", unit="frame", dynamic_ncols=True,
                   disable=not options.progress)
        with bar:
            for batch, logits in stream_outputs(runner, loader, task, device):
                position = 0 if bool(batch["first"][0]) else position + 1
                frame = batch["frame"][0]
                yield _Frame(batch["sequence"][0], position,
                             frame.item() if torch.is_tensor(frame) else frame,
                             batch, {view: value.float().cpu() for view, value in logits.items()})
                bar.update(1)


class _Pictures:
    """Frames kept for the PNG strip (evenly spread) and the GIF (consecutive, mid-sequence) of each sequence.

    Args:
        lengths: frames per sequence.
        strip_frames, gif_frames: frames per strip / GIF (0: none).
    """

    def __init__(self, lengths: Mapping[str, int], strip_frames: int, gif_frames: int) -> None:
        self.positions: dict[str, tuple[set[int], set[int]]] = {}
        for sequence, length in lengths.items():
            spread = np.linspace(0, length - 1, min(strip_frames, length)).round() if strip_frames > 0 else []
            start = max(0, (length - gif_frames) // 2)
            consecutive = set(range(start, min(length, start + gif_frames)))
            self.positions[sequence] = ({int(p) for p in spread}, consecutive)
        self.strip: dict[str, list[FramePanels]] = {}
        self.gif: dict[str, list[FramePanels]] = {}

    def wanted(self, sequence: str, position: int) -> bool:
        strip, gif = self.positions[sequence]
        return position in strip or position in gif

    def add(self, sequence: str, position: int, panels: FramePanels) -> None:
        strip, gif = self.positions[sequence]
        if position in strip:
            self.strip.setdefault(sequence, []).append(panels)
        if position in gif:
            self.gif.setdefault(sequence, []).append(panels)

    def write(self, folder: Path, title: str) -> list[Path]:
        written = []
        for sequence, frames in self.strip.items():
            written.append(save_strip(frames, folder / f"{sequence}_strip.png", f"{title}: {sequence}"))
        for sequence, frames in self.gif.items():
            if len(frames) > 1:
                written.append(save_gif(frames, folder / f"{sequence}.gif", f"{title}: {sequence}"))
        return written


# ------------------------------------------------------------ ROD2021
def _rod2021_truth(layout: Rod2021Layout, sequence: str) -> ObjectTable | None:
    """Annotations of ``sequence``, or the kept-aside labels of a synthetic test split, or None."""
    if layout.has_annotations(sequence):
        return layout.annotations(sequence)
    kept = layout.root / "ground_truth" / layout.folder_of(sequence) / f"{sequence}.txt"
    return read_annotations(kept) if kept.is_file() else None


def _magnitude_db(frame_input: torch.Tensor) -> np.ndarray:
    """Mean magnitude over chirps (dB) of an 8-channel ``[c0_re, c0_im, ...]`` frame ``[8, H, W]``."""
    values = frame_input.float().numpy()
    magnitude = np.hypot(values[0::2], values[1::2]).mean(axis=0)
    return 20.0 * np.log10(np.maximum(magnitude, 1e-12))


def _rod2021_panels(item: _Frame, probabilities: np.ndarray, truth: ObjectTable | None,
                    detections: ObjectTable) -> FramePanels:
    frame_no = int(item.frame)
    frame_input = item.batch["input"][0]
    objects = truth.select(truth.frame == frame_no) if truth is not None else None
    found = detections.select(detections.frame == frame_no)
    view = ROD2021.view("ra")
    return FramePanels(f"frame {frame_no}", (
        Panel(_magnitude_db(frame_input), view, "input", "magnitude (dB)", objects, found),
        Panel(probabilities.max(axis=0), view, "confidence", "max over classes", objects, found),
    ))


def _evaluate_rod2021(frames: Iterator[_Frame], stream: SequenceDataset, layout: Rod2021Layout,
                      options: EvalConfig, out_dir: Path) -> tuple[dict[str, Any], str]:
    post = PostProcessConfig(options.peak_threshold, options.ols_threshold, options.max_dets,
                             options.published_lnms)
    detections: dict[str, list[ObjectTable]] = {name: [] for name in stream.sequence_names}
    truths = {name: _rod2021_truth(layout, name) for name in stream.sequence_names}
    pending: list[tuple[_Frame, np.ndarray]] = []
    pictures = _Pictures(_lengths(stream), options.strip_frames, options.gif_frames)

    def decode() -> None:
        if not pending:
            return
        sequence, first = pending[0][0].sequence, int(pending[0][0].frame)
        maps = np.stack([probabilities for _, probabilities in pending])
        table = decode_confmaps(maps, post, first_frame=first)
        detections[sequence].append(table)
        for item, probabilities in pending:
            if pictures.wanted(sequence, item.position):
                panels = _rod2021_panels(item, probabilities, truths[sequence], table)
                pictures.add(sequence, item.position, panels)
        pending.clear()

    for item in frames:
        if pending and (item.sequence != pending[-1][0].sequence or len(pending) == _DECODE_CHUNK
                        or int(item.frame) != int(pending[-1][0].frame) + 1):
            decode()
        pending.append((item, torch.sigmoid(item.logits[CONFMAP][0]).numpy()))
    decode()

    tables = {name: _concatenate(parts) for name, parts in detections.items()}
    with atomic_directory(out_dir / "predictions", overwrite=True) as folder:
        for name, table in tables.items():
            write_detections(folder / f"{name}.txt", table)
    pictures_dir = out_dir / "pictures"
    scored = {name: truth for name, truth in truths.items() if truth is not None}
    metrics: dict[str, Any] = {"rod2021": None, "detections": {n: len(t) for n, t in tables.items()}}
    unscored = sorted(set(truths) - set(scored))
    summary = f"no ground truth for {unscored}: submission files written, nothing scored"
    if scored:
        found = {name: tables[name] for name in scored}
        score = score_rod2021(scored, found)
        metrics["rod2021"] = score.to_dict()
        metrics["class_confusions"] = named_confusions(class_confusions(scored, found), ROD2021_CLASSES)
        plot_precision_recall(score.accumulation, pictures_dir / "precision_recall.png")
        summary = f"AP {100 * score.ap:.2f}  AR {100 * score.ar:.2f} (%, {len(scored)} scored sequences)"
    pictures.write(pictures_dir, "ROD2021")
    return metrics, summary


def _concatenate(parts: list[ObjectTable]) -> ObjectTable:
    if not parts:
        return ObjectTable.empty(ROD2021_CLASSES)
    fields = ("frame", "class_id", "range_m", "azimuth_rad", "score")
    return ObjectTable(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields), parts[0].classes)


# ------------------------------------------------------------ CARRADA
def _carrada_panels(item: _Frame, task: Task, labels: dict[str, np.ndarray],
                    truth: dict[str, np.ndarray]) -> FramePanels:
    panels = []
    for view in task.output_views:
        axes = CARRADA.view(view)
        if view in item.batch:
            panels.append(Panel(item.batch[view][0, 0].float().numpy(), axes, f"{view.upper()} input",
                                "normalised"))
        panels.append(Panel(truth[view].astype(np.float64), axes, f"{view.upper()} ground truth", "class id"))
        panels.append(Panel(labels[view].astype(np.float64), axes, f"{view.upper()} prediction", "class id"))
    return FramePanels(f"frame {item.frame}", tuple(panels))


def _evaluate_carrada(frames: Iterator[_Frame], stream: SequenceDataset, task: Task, options: EvalConfig,
                      skip: int, out_dir: Path) -> tuple[dict[str, Any], str]:
    accumulators = {view: ConfusionAccumulator() for view in task.output_views}
    pictures = _Pictures(_lengths(stream), options.strip_frames, options.gif_frames)
    scored_frames = 0
    with atomic_directory(out_dir / "predictions", overwrite=True) as folder:
        for item in frames:
            labels = {view: logits[0].argmax(dim=0).numpy().astype(np.uint8)
                      for view, logits in item.logits.items()}
            truth = {view: item.batch[f"{view}_mask"][0].argmax(dim=0).numpy() for view in task.output_views}
            target = folder / item.sequence / str(item.frame)
            target.mkdir(parents=True, exist_ok=True)
            for view, label_map in labels.items():
                np.save(target / PREDICTION_FILES[view], label_map)
            if item.position >= skip:
                scored_frames += 1
                for view, accumulator in accumulators.items():
                    accumulator.add(truth[view], labels[view])
            if pictures.wanted(item.sequence, item.position):
                pictures.add(item.sequence, item.position, _carrada_panels(item, task, labels, truth))
    pictures_dir = out_dir / "pictures"
    metrics: dict[str, Any] = {"carrada": {}, "scored_frames": scored_frames}
    parts = []
    for view, accumulator in accumulators.items():
        scores = accumulator.metrics()
        metrics["carrada"][view] = scores.to_dict()
        plot_confusion_matrix(accumulator.matrix, CARRADA_CLASSES, pictures_dir / f"confusion_{view}.png",
                              title=f"CARRADA {view.upper()}")
        parts.append(f"{view.upper()} mIoU {100 * scores.miou:.2f} mDice {100 * scores.mdice:.2f}")
    pictures.write(pictures_dir, "CARRADA")
    return metrics, "  ".join(parts) + f"  ({scored_frames} scored frames)"


# ------------------------------------------------------------ entry
def run_evaluation(config: EvaluateRunConfig) -> EvaluationResult:
    """Evaluate ``config.checkpoint`` as configured (see the module docstring)."""
    options = config.eval
    device = select_device(options.device)
    configure_threads(device, None)
    model, payload = load_model(config.checkpoint, device)
    trained = _training_run(payload)
    dataset = _dataset_config(config.dataset, trained, config.checkpoint)
    task = make_task(dataset.layout, _model_section(model.model_name, trained), model, LossConfig())
    ensure_dataset(dataset)
    layout = open_layout(dataset)
    split = options.split or dataset.eval_split
    if not split_sequences(layout, split):
        raise ConfigError(describe(f"{dataset.root}", f"no sequence in split {split!r}",
                                   expected="eval.split=..."))
    stream = frame_stream(layout, task, split)
    out_dir = Path(config.run.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = _frames(model, task, stream, options, device)
    window = options.window or int(model.config.window)
    if isinstance(layout, Rod2021Layout):
        metrics, summary = _evaluate_rod2021(frames, stream, layout, options, out_dir)
    else:
        assert isinstance(layout, CarradaLayout)
        skip = window - 1 if options.skip_first else 0
        metrics, summary = _evaluate_carrada(frames, stream, task, options, skip, out_dir)
    metrics.update({
        "checkpoint": str(config.checkpoint), "model": model.model_name, "dataset": dataset.name,
        "root": str(dataset.root), "split": split, "mode": options.mode,
        "window": window if options.mode == "buffer" else 1, "reset_states": options.reset_states,
        "frames": len(stream), "sequences": list(stream.sequence_names),
        "eval": OmegaConf.to_container(OmegaConf.structured(options)),
    })
    atomic_write_json(out_dir / "metrics.json", _json_ready(metrics))
    label = f"{dataset.name} {split}, {options.mode}, {model.model_name}"
    return EvaluationResult(out_dir, metrics, f"{label}: {summary}")


def _json_ready(value: Any) -> Any:
    """NaN / inf floats become None so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def evaluate(config: DictConfig) -> EvaluationResult:
    """``record evaluate`` for a composed ``evaluate`` config."""
    return run_evaluation(typed(config, EvaluateRunConfig))
