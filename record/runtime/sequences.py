"""Model-input frame sequences for checking runtimes: a dataset sequence, or a freshly simulated one.

Frames are what a deployment spec's inputs expect, one stream: ``[1, C, H, W]`` float32 arrays (a dict keyed
by view for MV-RECORD), read through the dataset readers the evaluation uses, so normalisation and layout are
the evaluated ones.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from record.data.carrada import CarradaLayout
from record.data.carrada_datasets import CarradaFrames
from record.data.rod2021 import Rod2021Layout
from record.data.rod2021_datasets import Rod2021Frames
from record.data.synth_common import SplitSize
from record.errors import ConfigError, describe
from record.runtime.base import Frames
from record.runtime.spec import DeploymentSpec
from record.sensors import CARRADA, ROD2021

__all__ = ["dataset_frames", "synthetic_frames"]

_SPLITS = {"rod2021": ("train", "valid", "test"), "carrada": ("train", "validation", "test")}


def _check_size(spec: DeploymentSpec) -> None:
    native = {"rod2021": (ROD2021.range.n_bins, ROD2021.azimuth.n_bins),
              "carrada": (CARRADA.range.n_bins,
                          CARRADA.velocity.n_bins if CARRADA.velocity else 0)}[spec.dataset]
    if tuple(spec.input_size) != native:
        raise ConfigError(describe(f"{spec.model} export", "dataset frames have the sensor's size, not the "
                                   "export's", found=list(spec.input_size), expected=list(native)))


def dataset_frames(spec: DeploymentSpec, root: str | os.PathLike[str], sequence: str | None = None
                   ) -> Iterator[Frames]:
    """Every frame of ``sequence`` (default: the first test sequence, else the first of any split) of the
    ROD2021 data root or CARRADA folder ``root``, in order."""
    _check_size(spec)
    layout = Rod2021Layout(Path(root)) if spec.dataset == "rod2021" else CarradaLayout(Path(root))
    available = {split: layout.sequences(split) for split in _SPLITS[spec.dataset]}
    order = ("test", *(s for s in available if s != "test"))
    if sequence is None:
        split = next((s for s in order if available[s]), None)
        if split is None:
            raise ConfigError(describe(root, "no sequence in any split"))
        sequence = available[split][0]
    split = next((s for s, names in available.items() if sequence in names), None)
    if split is None:
        raise ConfigError(describe(root, "sequence not found", found=sequence,
                                   expected=sorted(n for names in available.values() for n in names)[:8]))
    if spec.dataset == "rod2021":
        stream = Rod2021Frames(layout, split, sequences=[sequence], with_targets=False)
        for item in stream:
            yield item["input"].numpy()[None].astype(np.float32, copy=False)
        return
    views = [t.view for t in spec.frames]
    stream = CarradaFrames(layout, split, views=views, sequences=[sequence])
    for item in stream:
        arrays = {t.name: item[t.view].numpy()[None].astype(np.float32, copy=False) for t in spec.frames}
        yield arrays if spec.multi_view else arrays[spec.frames[0].name]


@contextmanager
def synthetic_root(spec: DeploymentSpec, n_frames: int, seed: int = 0) -> Iterator[Path]:
    """A temporary synthetic dataset of the spec's layout with one test sequence of ``n_frames`` frames."""
    with tempfile.TemporaryDirectory(prefix="record-frames-") as folder:
        if spec.dataset == "rod2021":
            from record.data.synth_rod2021 import Rod2021SynthConfig, write_rod2021

            config = Rod2021SynthConfig(train=SplitSize(0, 1), valid=SplitSize(0, 1),
                                        test=SplitSize(1, n_frames))
            yield write_rod2021(Path(folder) / "rod2021", config, seed=seed, progress=False)
        else:
            from record.data.synth_carrada import CarradaSynthConfig, write_carrada

            config = CarradaSynthConfig(train=SplitSize(0, 1), validation=SplitSize(0, 1),
                                        test=SplitSize(1, n_frames))
            yield write_carrada(Path(folder), config, seed=seed, progress=False)


def synthetic_frames(spec: DeploymentSpec, n_frames: int, seed: int = 0) -> Iterator[Frames]:
    """``n_frames`` frames of one simulated sequence (road users in the sensor's field of view)."""
    with synthetic_root(spec, n_frames, seed) as root:
        yield from dataset_frames(spec, root)
