"""ROD2021 as torch datasets: buffer windows, online training clips and whole sequences in order.

Inputs are float32 ``[C, T, H, W]`` (windows) or ``[C, H, W]`` (frames) with ``C = 2 * n_chirps`` channels
``[c0_re, c0_im, c1_re, ...]`` and ``H, W = 128`` (range, azimuth); targets are the Gaussian confidence maps of
:mod:`record.data.confmaps`, float32 ``[3, H, W]`` or ``[3, T, H, W]`` (pedestrian, cyclist, car).

* :func:`buffer_windows`: windows of T frames (published T=12, stride 4) with the LAST frame's maps.
* :func:`online_clips`: clips of T frames (published T=32, stride 8) with maps for EVERY frame.
* :class:`Rod2021Frames`: every frame of every sequence in order, with a ``first`` flag where recurrent states reset,
  and the sequence's ground-truth :class:`~record.detections.ObjectTable` for scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from record.data.augment import Rod2021AugmentConfig, Rod2021Flips
from record.data.base import SequenceDataset, item_rng
from record.data.confmaps import confidence_maps, frames_index
from record.data.rod2021 import Rod2021Layout
from record.data.sampling import SampleIndex, window_starts
from record.detections import ObjectTable
from record.errors import ConfigError
from record.sensors import ROD2021

__all__ = ["Rod2021Frames", "Rod2021Windows", "buffer_windows", "online_clips"]

_TARGET_MODES = ("last", "all")


class _Targets:
    """Ground truth of the sequences of a dataset, and confidence maps per frame."""

    def __init__(self, layout: Rod2021Layout, names: Sequence[str]) -> None:
        self.tables = {name: layout.annotations(name) for name in names}
        self.rows = {name: frames_index(table) for name, table in self.tables.items()}

    def maps(self, sequence: str, frame: int) -> np.ndarray:
        """float32 ``[n_class, H, W]`` maps of one frame."""
        table = self.tables[sequence]
        rows = self.rows[sequence].get(int(frame), np.zeros(0, dtype=np.int64))
        return confidence_maps(table.select(rows))


def _names(layout: Rod2021Layout, split: str, sequences: Sequence[str] | None) -> list[str]:
    return list(sequences) if sequences is not None else layout.sequences(split)


class Rod2021Windows(SequenceDataset):
    """Windows of ``length`` frames (``step`` apart, one every ``stride`` frames) with their confidence maps.

    Items: ``input`` float32 ``[C, T, 128, 128]``; ``target`` float32 ``[3, 128, 128]`` (``targets="last"``) or
    ``[3, T, 128, 128]`` (``"all"``); ``sequence`` (str); ``frames`` int64 ``[T]`` (frame indices in the order they
    appear, reversed when time reversal was drawn).

    Args:
        layout: the dataset tree.
        split: ``train``, ``valid`` or ``test`` (must be annotated).
        length, stride, step: window geometry (:func:`record.data.sampling.window_starts`).
        targets: ``"last"`` (buffer training) or ``"all"`` (online training).
        chirps: chirp loops stacked on channels.
        augment: augmentation settings, or None for none (evaluation).
        sequences: restrict to these sequences (default: all of ``split``).
    """

    def __init__(
        self,
        layout: Rod2021Layout,
        split: str,
        *,
        length: int,
        stride: int,
        step: int = 1,
        targets: str = "last",
        chirps: Sequence[int] = ROD2021.chirp_ids,
        augment: Rod2021AugmentConfig | None = None,
        sequences: Sequence[str] | None = None,
    ) -> None:
        if targets not in _TARGET_MODES:
            raise ConfigError(
                f"Rod2021Windows: targets must be one of {', '.join(_TARGET_MODES)} (found {targets!r})"
            )
        names = _names(layout, split, sequences)
        super().__init__(
            SampleIndex(names, [window_starts(layout.n_frames(n), length, stride, step) for n in names])
        )
        self.layout, self.length, self.step = layout, length, step
        self.targets, self.chirps, self.augment = targets, tuple(chirps), augment
        self._truth = _Targets(layout, names)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sequence, start = self.index[index]
        flips = self.augment.draw(item_rng()) if self.augment is not None else Rod2021Flips()
        frames = start + self.step * np.arange(self.length, dtype=np.int64)
        if flips.reverse:
            frames = frames[::-1].copy()
        radar = np.stack([self.layout.frame(sequence, int(f), self.chirps) for f in frames], axis=1)
        target_frames = frames if self.targets == "all" else frames[-1:]
        maps = np.stack([self._truth.maps(sequence, int(f)) for f in target_frames], axis=1)
        if self.targets == "last":
            maps = maps[:, 0]
        radar, maps = flips.apply(radar, maps)
        return {
            "input": torch.from_numpy(radar),
            "target": torch.from_numpy(maps),
            "sequence": sequence,
            "frames": torch.from_numpy(frames),
        }


def buffer_windows(
    layout: Rod2021Layout, split: str, *, length: int = 12, stride: int = 4, step: int = 1, **options: Any
) -> Rod2021Windows:
    """Buffer-mode training windows (published: T=12, stride 4, step 1), target = last frame's maps."""
    return Rod2021Windows(layout, split, length=length, stride=stride, step=step, targets="last", **options)


def online_clips(
    layout: Rod2021Layout, split: str, *, length: int = 32, stride: int = 8, step: int = 1, **options: Any
) -> Rod2021Windows:
    """Online-mode training clips (published: T=32, stride 8), a target for every frame."""
    return Rod2021Windows(layout, split, length=length, stride=stride, step=step, targets="all", **options)


class Rod2021Frames(SequenceDataset):
    """Every frame of every sequence, in order: the stream an online model sees at evaluation.

    Items: ``input`` float32 ``[C, 128, 128]`` (``history=1``) or ``[C, T', 128, 128]`` with the ``T' =
    min(history, frame + 1)`` frames ending at this one (a growing window at the sequence start, as the published
    buffer test step does, quirk Q12; use batch size 1 then); ``sequence``; ``frame`` (int); ``first`` (True on a
    sequence's first frame: reset recurrent states); ``target`` ``[3, 128, 128]`` when ``with_targets``.

    Args:
        layout, split, chirps, sequences: as :class:`Rod2021Windows`.
        history: frames per input (1 for online models, the window length for buffer models).
        with_targets: add confidence maps; default: when every sequence is annotated (not for ``test``).
    """

    def __init__(
        self,
        layout: Rod2021Layout,
        split: str,
        *,
        history: int = 1,
        chirps: Sequence[int] = ROD2021.chirp_ids,
        with_targets: bool | None = None,
        sequences: Sequence[str] | None = None,
    ) -> None:
        if history < 1:
            raise ConfigError(f"Rod2021Frames: history must be at least 1 (found {history})")
        names = _names(layout, split, sequences)
        super().__init__(SampleIndex(names, [np.arange(layout.n_frames(n)) for n in names]))
        self.annotated = all(layout.has_annotations(name) for name in names)
        self.with_targets = self.annotated if with_targets is None else with_targets
        self.layout, self.history, self.chirps = layout, history, tuple(chirps)
        self._truth = _Targets(layout, names) if self.with_targets else None

    def ground_truth(self, sequence: str) -> ObjectTable:
        """Annotated objects of ``sequence`` (frame, class, range in m, azimuth in rad) for scoring."""
        if self._truth is not None and sequence in self._truth.tables:
            return self._truth.tables[sequence]
        return self.layout.annotations(sequence)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sequence, frame = self.index[index]
        if self.history == 1:
            radar = self.layout.frame(sequence, frame, self.chirps)
        else:
            first = max(frame - self.history + 1, 0)
            radar = np.stack(
                [self.layout.frame(sequence, f, self.chirps) for f in range(first, frame + 1)], axis=1
            )
        item: dict[str, Any] = {
            "input": torch.from_numpy(radar),
            "sequence": sequence,
            "frame": frame,
            "first": frame == 0,
        }
        if self._truth is not None:
            item["target"] = torch.from_numpy(self._truth.maps(sequence, frame))
        return item
