"""Hand-made inputs for the evaluation tests: ROD2021 object tables / text files and a tiny CARRADA tree."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from record.classes import ROD2021_CLASSES
from record.detections import ObjectTable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROD_FIXTURE = FIXTURES / "rod2021_eval"
CARRADA_FIXTURE = FIXTURES / "carrada_metrics"


def objects(rows: Iterable[tuple]) -> ObjectTable:
    """ObjectTable from ``(frame, class_name, range_m, azimuth_rad[, score])`` rows (score 1 when omitted)."""
    rows = list(rows)
    return ObjectTable(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([ROD2021_CLASSES.index(r[1]) for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.float64),
        np.array([r[4] if len(r) > 4 else 1.0 for r in rows], dtype=np.float64),
        ROD2021_CLASSES,
    )


def write_annotations(path: Path, table: ObjectTable) -> None:
    """Ground truth in the ROD2021 annotation format ``frame range azimuth class`` (4 decimals)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(
        f"{f} {r:.4f} {a:.4f} {table.classes[c]}\n"
        for f, c, r, a in zip(table.frame.tolist(), table.class_id.tolist(), table.range_m.tolist(),
                              table.azimuth_rad.tolist())
    ), encoding="utf-8")


def random_scene(
    rng: np.random.Generator, n_frames: int, tie_levels: int = 7
) -> tuple[ObjectTable, ObjectTable]:
    """A random sequence: ground truth, and detections with noise, misses, duplicates, false positives, class
    swaps, gate-boundary positions, frames without objects and scores from only ``tie_levels`` values."""
    gt_rows, det_rows = [], []
    boundary_ranges = [1.0, 25.0, 0.9999, 25.0001]
    boundary_azimuths = [np.radians(60), -np.radians(60), 1.0472, -1.0473]
    for frame in range(n_frames):
        if rng.random() < 0.15:
            continue  # an empty frame
        for _ in range(rng.integers(0, 5)):
            cls = ROD2021_CLASSES[rng.integers(3)]
            r = rng.choice(boundary_ranges) if rng.random() < 0.1 else rng.uniform(0.5, 27)
            a = rng.choice(boundary_azimuths) if rng.random() < 0.1 else rng.uniform(-1.3, 1.3)
            gt_rows.append((frame, cls, r, a))
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                det_cls = ROD2021_CLASSES[rng.integers(3)] if rng.random() < 0.1 else cls
                sigma = rng.choice([0.02, 0.1, 0.4])
                position = (abs(r + rng.normal(0, sigma * 3)), a + rng.normal(0, sigma / 4))
                score = float(rng.integers(1, tie_levels + 1)) / tie_levels
                det_rows.append((frame, det_cls, *position, score))
        for _ in range(rng.poisson(1.0)):
            position = (rng.uniform(0.5, 27), rng.uniform(-1.3, 1.3))
            det_rows.append((frame, ROD2021_CLASSES[rng.integers(3)], *position,
                             float(rng.integers(1, tie_levels + 1)) / tie_levels))
    order = rng.permutation(len(det_rows))
    det_rows = sorted((det_rows[i] for i in order), key=lambda row: row[0])  # shuffled within frames
    return objects(gt_rows), objects(det_rows)


def write_carrada_tree(
    root: Path, frames: Mapping[str, tuple[str, list[np.ndarray], list[np.ndarray]]]
) -> Path:
    """A minimal CARRADA tree from ``{sequence: (split, rd_labels, ra_labels)}`` (one label map per frame),
    written as dense one-hot masks ``<seq>/annotations/dense/<frame>/{range_doppler,range_angle}.npy``."""
    seq_ref, light = {}, {}
    for sequence, (split, rd_labels, ra_labels) in frames.items():
        seq_ref[sequence] = {"instances": [], "labels": [], "ref_frame": "000000", "min_frame_boundaries": [],
                             "max_frame_boundaries": [], "split": split}
        light[sequence] = [f"{i:06d}" for i in range(len(rd_labels))]
        for frame, rd, ra in zip(light[sequence], rd_labels, ra_labels):
            folder = root / sequence / "annotations" / "dense" / frame
            folder.mkdir(parents=True, exist_ok=True)
            for name, labels in (("range_doppler", rd), ("range_angle", ra)):
                np.save(folder / f"{name}.npy", np.eye(4, dtype=np.float32)[labels].transpose(2, 0, 1))
    (root / "data_seq_ref.json").write_text(json.dumps(seq_ref), encoding="utf-8")
    (root / "light_dataset_frame_oriented.json").write_text(json.dumps(light), encoding="utf-8")
    return root
