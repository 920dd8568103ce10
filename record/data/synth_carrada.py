"""Synthetic CARRADA datasets: simulated scenes through the signal chain, written in the CARRADA layout.

Layout written under ``out`` (the two published archives side by side)::

    Carrada/data_seq_ref.json, light_dataset_frame_oriented.json, validated_seqs.txt,
            annotations_frame_oriented.json, annotations_instance_oriented.json
    Carrada/<seq>/{range_doppler,range_angle,angle_doppler}_{processed,raw}/<frame>.npy       float32
    Carrada/<seq>/{range_doppler,range_angle}_numpy/<frame>.npy     RD = processed, RA = max of RAD over Doppler
    Carrada/<seq>/annotations/{dense,sparse}/<frame>/{range_doppler,range_angle}.npy   (4, H, W) uint8 one-hot
    Carrada/<seq>/annotations/box/{range_doppler,range_angle}_light.json
    Carrada/<seq>/adc_ts_<seq>.txt                                  one timestamp (ns) per frame
    Carrada_RAD/<seq>/RAD_numpy/<frame>.npy                         (256, 256, 64) float32, only with ``rad``

Every frame of a sequence is in the light list (ids ``000000`` ...). Sequence names are the published ones of each
split, then generated ``YYYY-MM-DD-HH-MM-SS`` timestamps. No camera images are written. Views come from
:class:`record.dsp.chain.CarradaChain`; masks from each visible object's reflection centres whose integrated
SNR (over samples, loops and virtual antennas) reaches ``min_point_snr_db``, projected to bins and made dense by
the published rule (:mod:`record.data.carrada_masks`); nearer objects win where masks overlap.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from record.classes import CARRADA_CLASSES
from record.data import carrada as cr
from record.data.carrada_masks import ViewLabel, box_of, label_masks, project_points
from record.data.synth_common import SequencePlan, SplitSize, plan_sequences, simulated_chunks, write_dataset
from record.dsp.chain import CarradaChain
from record.dsp.views import CarradaViews
from record.errors import ConfigError
from record.sensors import CARRADA
from record.sim import FrameTruth, SceneConfig, SimulationConfig

__all__ = ["CarradaSynthConfig", "carrada_names", "frame_labels", "write_carrada"]

_MASK_FILES = {"rd": "range_doppler", "ra": "range_angle"}


@dataclass(frozen=True)
class CarradaSynthConfig:
    """Size and options of a synthetic CARRADA dataset (10 frames per second; about 1.7 MB per frame, plus
    16.8 MB per frame with ``rad``).

    Attributes:
        train, validation, test: sequences per split and frames per sequence.
        rad: also write the separate ``Carrada_RAD`` tree.
        min_point_snr_db: reflection centres weaker than this (integrated SNR) are not labelled.
        chunk_frames: frames simulated and transformed per batch.
        scene: what the random scenes hold; None = :func:`dataset_scene` of the capture.
        simulation: simulator physics switches.
    """

    train: SplitSize = field(default_factory=lambda: SplitSize(3, 64))
    validation: SplitSize = field(default_factory=lambda: SplitSize(1, 64))
    test: SplitSize = field(default_factory=lambda: SplitSize(1, 64))
    rad: bool = False
    min_point_snr_db: float = 10.0
    chunk_frames: int = 8
    scene: SceneConfig | None = None
    simulation: SimulationConfig = field(default_factory=SimulationConfig)

    def __post_init__(self) -> None:
        if self.chunk_frames < 1:
            raise ConfigError(f"CarradaSynthConfig.chunk_frames must be >= 1 (found {self.chunk_frames})")

    @property
    def sizes(self) -> dict[str, SplitSize]:
        return {"Train": self.train, "Validation": self.validation, "Test": self.test}


def carrada_names(split: str, count: int) -> list[str]:
    """``count`` names for ``split``: the published ones first, then timestamps one hour apart from 2021-01-01."""
    published = [name for name, s in cr.PUBLISHED_SPLITS.items() if s == split]
    offset = {"Train": 0, "Validation": 1000, "Test": 2000}[split]
    start = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
    generated = [
        (start + dt.timedelta(hours=offset + i)).strftime("%Y-%m-%d-%H-%M-%S")
        for i in range(max(count - len(published), 0))
    ]
    return published[:count] + generated


def frame_labels(truth: FrameTruth, min_point_snr_db: float) -> list[tuple[int, int, dict[str, ViewLabel]]]:
    """(track id, class id, view -> sparse pixels) of the labelled objects of a frame, farthest first."""
    waveform = CARRADA.waveform
    gain = waveform.n_samples * waveform.n_loops * waveform.n_virtual
    threshold = 10.0 ** (min_point_snr_db / 10.0)
    labelled = []
    for obj in sorted(truth.visible_objects(), key=lambda o: -o.range_m):
        points = obj.points
        strong = points.power * gain >= threshold
        class_id = CARRADA_CLASSES.index(obj.class_name)
        views = {}
        for view in _MASK_FILES:
            rows, cols = project_points(
                view, points.range_m[strong], points.azimuth_rad[strong], points.range_rate_mps[strong]
            )
            if rows.size:
                views[view] = ViewLabel(class_id, rows, cols)
        if len(views) == len(_MASK_FILES):
            labelled.append((obj.track_id, class_id, views))
    return labelled


class _Annotations:
    """The JSON annotation documents of one dataset, filled frame by frame."""

    def __init__(self) -> None:
        self.frame_oriented: dict[str, dict[str, Any]] = {}
        self.instance_oriented: dict[str, dict[str, Any]] = {}
        self.seq_ref: dict[str, dict[str, Any]] = {}
        self.boxes: dict[str, dict[str, dict[str, Any]]] = {}

    def start(self, sequence: str, split: str) -> None:
        self.frame_oriented[sequence] = {}
        self.instance_oriented[sequence] = {}
        self.boxes[sequence] = {view: {} for view in _MASK_FILES}
        self.seq_ref[sequence] = {key: [] for key in cr.DATA_SEQ_REF_KEYS if key != "split"}
        self.seq_ref[sequence]["split"] = split

    def add(self, sequence: str, frame: str, labels: list[tuple[int, int, dict[str, ViewLabel]]]) -> None:
        entries: dict[str, Any] = {}
        for track_id, class_id, views in labels:
            instance = f"{track_id:06d}"
            entry = {}
            for view, label in views.items():
                shape = CARRADA.view(view).shape
                box = box_of(shape, label.rows, label.cols)
                dense = np.argwhere(label_masks(shape, [label])[1][class_id]).tolist()
                sparse = np.stack([label.rows, label.cols], axis=1).tolist()
                entry[_MASK_FILES[view]] = {"sparse": sparse, "box": box, "dense": dense, "label": class_id}
                view_boxes = self.boxes[sequence][view].setdefault(frame, {"boxes": [], "labels": []})
                view_boxes["boxes"].append([box[0][0], box[0][1], box[1][0], box[1][1]])
                view_boxes["labels"].append(class_id)
            entries[instance] = entry
            self.instance_oriented[sequence].setdefault(instance, {})[frame] = entry
            ref = self.seq_ref[sequence]
            if instance not in ref["instances"]:
                ref["instances"].append(instance)
                ref["labels"].append(class_id)
                ref["ref_frame"].append(frame)
                ref["min_frame_boundaries"].append("")
                ref["max_frame_boundaries"].append("")
        self.frame_oriented[sequence][frame] = entries

    def write(self, root: Path) -> None:
        documents = {
            "data_seq_ref.json": self.seq_ref,
            "annotations_frame_oriented.json": self.frame_oriented,
            "annotations_instance_oriented.json": self.instance_oriented,
        }
        for name, document in documents.items():
            (root / name).write_text(json.dumps(document), encoding="utf-8")
        for sequence, views in self.boxes.items():
            folder = root / sequence / "annotations" / "box"
            folder.mkdir(parents=True, exist_ok=True)
            for view, document in views.items():
                (folder / f"{_MASK_FILES[view]}_light.json").write_text(
                    json.dumps(document), encoding="utf-8"
                )


def _save_views(folder: Path, frame: str, views: CarradaViews, k: int) -> None:
    arrays = {
        "range_doppler_processed": views.rd_processed,
        "range_doppler_raw": views.rd_raw,
        "range_doppler_numpy": views.rd_numpy,
        "range_angle_processed": views.ra_processed,
        "range_angle_raw": views.ra_raw,
        "range_angle_numpy": views.ra_numpy,
        "angle_doppler_processed": views.ad_processed,
        "angle_doppler_raw": views.ad_raw,
    }
    for name, array in arrays.items():
        (folder / name).mkdir(exist_ok=True)
        np.save(folder / name / f"{frame}.npy", array[k])


def _save_masks(folder: Path, frame: str, labels: list[tuple[int, int, dict[str, ViewLabel]]]) -> None:
    for view, stem in _MASK_FILES.items():
        sparse, dense = label_masks(CARRADA.view(view).shape, [views[view] for _, _, views in labels])
        for kind, mask in (("sparse", sparse), ("dense", dense)):
            target = folder / "annotations" / kind / frame
            target.mkdir(parents=True, exist_ok=True)
            np.save(target / f"{stem}.npy", mask)


def _write_sequence(
    out: Path,
    plan: SequencePlan,
    config: CarradaSynthConfig,
    chain: CarradaChain,
    notes: _Annotations,
    bar: tqdm,
) -> None:
    folder = out / "Carrada" / plan.name
    folder.mkdir(parents=True)
    notes.start(plan.name, plan.split)
    for frames in simulated_chunks(CARRADA, plan, config.scene, config.simulation, config.chunk_frames):
        views = chain(np.stack([frame.adc for frame in frames]), with_rad=config.rad)
        for k, sim_frame in enumerate(frames):
            frame = cr.frame_id(sim_frame.index)
            labels = frame_labels(sim_frame.truth, config.min_point_snr_db)
            _save_views(folder, frame, views, k)
            _save_masks(folder, frame, labels)
            notes.add(plan.name, frame, labels)
            if views.rad is not None:
                rad_dir = out / "Carrada_RAD" / plan.name / "RAD_numpy"
                rad_dir.mkdir(parents=True, exist_ok=True)
                np.save(rad_dir / f"{frame}.npy", views.rad[k])
        bar.update(len(frames))
    period_ns = CARRADA.waveform.frame_period_s * 1e9
    start = dt.datetime.strptime(plan.name, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=dt.timezone.utc)
    stamps = (f"{math.floor(start.timestamp() * 1e9 + i * period_ns)}\n" for i in range(plan.n_frames))
    (folder / f"adc_ts_{plan.name}.txt").write_text("".join(stamps), encoding="utf-8")


def _write_root_files(root: Path, plans: list[SequencePlan], notes: _Annotations) -> None:
    notes.write(root / "Carrada")
    light = {plan.name: [cr.frame_id(i) for i in range(plan.n_frames)] for plan in plans}
    (root / "Carrada" / "light_dataset_frame_oriented.json").write_text(json.dumps(light), encoding="utf-8")
    (root / "Carrada" / "validated_seqs.txt").write_text(
        "".join(f"{p.name}\n" for p in plans), encoding="utf-8"
    )


def write_carrada(
    out: str | os.PathLike[str],
    config: CarradaSynthConfig | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Simulate and write a CARRADA dataset (default :class:`CarradaSynthConfig`); returns ``out/Carrada``."""
    config = config or CarradaSynthConfig()
    names = {split: carrada_names(split, size.sequences) for split, size in config.sizes.items()}
    plans = plan_sequences(config.sizes, names, seed)
    chain = CarradaChain()
    notes = _Annotations()
    write_dataset(
        out,
        plans,
        lambda root, plan, bar: _write_sequence(root, plan, config, chain, notes, bar),
        description="simulate carrada",
        overwrite=overwrite,
        progress=progress,
        finish=lambda root: _write_root_files(root, plans, notes),
    )
    return Path(out) / "Carrada"
