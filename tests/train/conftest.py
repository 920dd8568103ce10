"""Fixtures of the training tests: a hand-made ROD2021 tree, tiny simulated trees, config composition helpers.

The hand-made tree (written with ``np.save``, not through ``record.data`` writers) holds pedestrians standing
on fixed bins: the radar maps carry a small blob of amplitude 1 at each of them over a weak noise floor, so a
few optimiser steps on 32 x 32 crops are enough to see learning, and runs stay in the seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import SYNTH_SIZES

from record.sensors import ROD2021
from record.train.compose import compose_config, typed
from record.train.config import TrainRunConfig
from record.train.synthetic import ensure_dataset

CHIRPS = (0, 64, 128, 192)
TRAIN_SEQUENCE, VALID_SEQUENCE = "2019_04_09_BMS1000", "2019_04_09_PMS1000"
#: (row, column) bins of the hand-made pedestrians.
OBJECT_BINS = ((20, 40), (52, 70), (84, 56), (100, 90))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: tiny convolutions on a shared 2-core machine run faster without OpenMP waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _write_sequence(root: Path, split: str, name: str, n_frames: int, rng: np.random.Generator) -> None:
    folder = root / "sequences" / split / name / "RADAR_RA_H"
    folder.mkdir(parents=True)
    rows, cols = np.mgrid[0:128, 0:128]
    blobs = sum(np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 2.0) for r, c in OBJECT_BINS)
    lines = []
    for frame in range(n_frames):
        for chirp in CHIRPS:
            chirp_map = rng.normal(0.0, 0.01, (128, 128, 2)).astype(np.float32)
            chirp_map[..., 0] += blobs.astype(np.float32)
            np.save(folder / f"{frame:06d}_{chirp:04d}.npy", chirp_map)
        for row, col in OBJECT_BINS:
            range_m, azimuth = ROD2021.range.to_physical(row), ROD2021.azimuth.to_physical(col)
            lines.append(f"{frame} {float(range_m):.4f} {float(azimuth):.4f} pedestrian\n")
    annotation = root / "annotations" / split / f"{name}.txt"
    annotation.parent.mkdir(parents=True, exist_ok=True)
    annotation.write_text("".join(lines))


def write_handmade_rod2021(root: Path, train_frames: int = 12, valid_frames: int = 4, seed: int = 0) -> Path:
    """A reorganised ROD2021 tree: one train and one valid sequence of static pedestrians."""
    rng = np.random.default_rng(seed)
    _write_sequence(root, "train", TRAIN_SEQUENCE, train_frames, rng)
    _write_sequence(root, "valid", VALID_SEQUENCE, valid_frames, rng)
    return root


@pytest.fixture(scope="session")
def handmade_rod2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_handmade_rod2021(tmp_path_factory.mktemp("handmade") / "rod2021")


def _simulated(name: str, root: Path) -> Path:
    config = typed(compose_config("train", [f"dataset={name}", f"dataset.root={root}", *SYNTH_SIZES]),
                   TrainRunConfig)
    return ensure_dataset(config.dataset, progress=False)


@pytest.fixture(scope="session")
def synth_rod2021_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny simulated ROD2021 tree (with kept-aside test labels)."""
    return _simulated("synth_rod2021", tmp_path_factory.mktemp("synth_rod2021") / "data")


@pytest.fixture(scope="session")
def synth_carrada_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny simulated CARRADA tree (the ``Carrada`` folder)."""
    return _simulated("synth_carrada", tmp_path_factory.mktemp("synth_carrada") / "Carrada")


@pytest.fixture
def tiny_run_overrides(handmade_rod2021: Path, tmp_path: Path) -> Callable[..., list[str]]:
    """Overrides of a seconds-long online run on the hand-made tree: 2-frame clips, 32 x 32 crops."""

    def overrides(*extra: str, run_dir: Path | None = None) -> list[str]:
        return [
            "dataset=rod2021", f"dataset.root={handmade_rod2021}", "model=record_rod2021", "mode=online",
            "train.window=2", "train.stride=2", "train.batch_size=2", "train.crop=[32,32]", "train.workers=0",
            "train.progress=false", "train.lr=1e-3", "train.seed=7", f"run.dir={run_dir or tmp_path / 'run'}",
            *extra,
        ]

    return overrides


@pytest.fixture
def compose() -> Callable[..., object]:
    """``compose(name, *overrides)``: a composed DictConfig."""

    def build(name: str, *overrides: str) -> object:
        return compose_config(name, list(overrides))

    return build
