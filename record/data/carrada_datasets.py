"""CARRADA as torch datasets: buffer windows, online clips and frame streams over RD / RA / AD views.

Items are dicts keyed by view: ``rd`` float32 ``[1, T, 256, 64]``, ``ra`` ``[1, T, 256, 256]``, ``ad``
``[1, T, 256, 64]`` (T frames ending at the item's frame, oldest first), and the masks of the views that have
them under consistent keys ``rd_mask`` / ``ra_mask`` (``[4, H, W]`` for the last frame, or ``[4, T, H, W]`` for
every frame). The published single-view RA loader returned its mask as ``rd_mask`` (quirk Q3); here the key is
always ``<view>_mask``. Single-view RD is ``views=("rd",)``, single-view RA ``("ra",)``, multi-view
``("rd", "ra", "ad")``.

Maps are the ``*_processed`` dB views, 'tvt' min-max normalised by default (:data:`record.data.carrada.TVT_STATS`).
A window's earlier frames are found by id arithmetic. The first ``T - 1`` frames of a sequence have no full
history: ``start="skip"`` drops them as the published loaders do (they drop the first ``T - 1`` entries of the
frame list), ``start="pad"`` keeps them and repeats frame ``000000`` in place of the missing history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from record.data.augment import CarradaAugmentConfig, CarradaFlips
from record.data.base import SequenceDataset, item_rng
from record.data.carrada import MASK_VIEWS, SIGNALS, VIEWS, CarradaLayout, history_ids, normalise_tvt
from record.data.sampling import SampleIndex
from record.errors import ConfigError, DataFormatError, describe

__all__ = ["CarradaFrames", "CarradaWindows", "buffer_windows", "online_clips"]

_TARGET_MODES = ("last", "all")
_START_MODES = ("skip", "pad")
_NORMALISATIONS = ("tvt", "none")


class CarradaWindows(SequenceDataset):
    """Windows of ``length`` consecutive frames ending at frames of the light list, with their masks.

    Args:
        layout: the dataset tree.
        split: ``train``, ``validation`` or ``test``.
        views: view keys among ``rd``, ``ra``, ``ad``; at least one of ``rd`` / ``ra`` (they carry the masks).
        length: frames per window (published: 5 for buffer models, 10 for online training clips).
        stride: take every ``stride``-th possible window end of the light list.
        targets: ``"last"`` (mask of the last frame) or ``"all"`` (a mask for every frame).
        start: ``"skip"`` (published) or ``"pad"``, see the module docstring.
        signal: ``processed`` (dB), ``raw`` (linear power) or ``numpy``.
        normalisation: ``"tvt"`` (only for processed maps) or ``"none"``.
        annotation: mask folder, ``dense`` (all published configs) or ``sparse``.
        augment: flip settings (one draw per item, shared by all views, frames and masks), or None.
        sequences: restrict to these sequences (default: all of ``split``).
    """

    def __init__(
        self,
        layout: CarradaLayout,
        split: str,
        *,
        views: Sequence[str] = ("rd", "ra", "ad"),
        length: int = 5,
        stride: int = 1,
        targets: str = "last",
        start: str = "skip",
        signal: str = "processed",
        normalisation: str = "tvt",
        annotation: str = "dense",
        augment: CarradaAugmentConfig | None = None,
        sequences: Sequence[str] | None = None,
    ) -> None:
        self.views = tuple(v.lower() for v in views)
        _check_options(self.views, length, stride, targets, start, signal, normalisation)
        names = list(sequences) if sequences is not None else layout.sequences(split)
        self._frames = {name: layout.frames(name) for name in names}
        first = length - 1 if start == "skip" else 0
        super().__init__(SampleIndex(names, [np.arange(first, len(self._frames[n]), stride) for n in names]))
        self.layout, self.length, self.targets, self.start = layout, length, targets, start
        self.signal, self.normalisation, self.annotation, self.augment = (
            signal,
            normalisation,
            annotation,
            augment,
        )
        self.mask_views = tuple(v for v in self.views if v in MASK_VIEWS)

    def _view(self, sequence: str, frame: str, view: str, window_end: str) -> np.ndarray:
        path = self.layout.view_path(sequence, frame, view, self.signal)
        if frame != window_end and not path.is_file():
            raise DataFormatError(
                describe(path, f"missing history frame {frame} of the window ending at {window_end}")
            )
        array = self.layout.view(sequence, frame, view, self.signal)
        return normalise_tvt(array, view) if self.normalisation == "tvt" else array

    def _mask(self, sequence: str, frame: str, view: str, window_end: str) -> np.ndarray:
        path = self.layout.mask_path(sequence, frame, view, self.annotation)
        if frame != window_end and not path.is_file():
            raise DataFormatError(
                describe(path, f"missing mask of history frame {frame} (window ending at {window_end})")
            )
        return self.layout.mask(sequence, frame, view, self.annotation)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sequence, position = self.index[index]
        end = self._frames[sequence][position]
        frames = history_ids(end, self.length, pad=self.start == "pad")
        flips = self.augment.draw(item_rng()) if self.augment is not None else CarradaFlips()
        item: dict[str, Any] = {"sequence": sequence, "frame": end}
        for view in self.views:
            maps = np.stack([self._view(sequence, f, view, end) for f in frames])[None]  # [1, T, H, W]
            item[view] = torch.from_numpy(flips.apply(maps))
        mask_frames = frames if self.targets == "all" else frames[-1:]
        for view in self.mask_views:
            masks = np.stack(
                [self._mask(sequence, f, view, end) for f in mask_frames], axis=1
            )  # [4, T, H, W]
            item[f"{view}_mask"] = torch.from_numpy(
                flips.apply(masks if self.targets == "all" else masks[:, 0])
            )
        return item


def _check_options(
    views: tuple[str, ...],
    length: int,
    stride: int,
    targets: str,
    start: str,
    signal: str,
    normalisation: str,
) -> None:
    choices = {
        "targets": (targets, _TARGET_MODES),
        "start": (start, _START_MODES),
        "signal": (signal, SIGNALS),
        "normalisation": (normalisation, _NORMALISATIONS),
    }
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"CarradaWindows: {name} must be one of {', '.join(allowed)} (found {value!r})")
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ConfigError(f"CarradaWindows: views must be among {', '.join(VIEWS)} (found {views})")
    if not any(v in MASK_VIEWS for v in views):
        raise ConfigError(f"CarradaWindows: views {views} carry no masks (include rd or ra)")
    if length < 1 or stride < 1:
        raise ConfigError(f"CarradaWindows: length and stride must be at least 1 (found {length}, {stride})")
    if normalisation == "tvt" and signal != "processed":
        raise ConfigError(
            f"CarradaWindows: 'tvt' statistics exist for processed maps only (signal {signal!r})"
        )


def buffer_windows(layout: CarradaLayout, split: str, *, length: int = 5, **options: Any) -> CarradaWindows:
    """Buffer-mode windows (published T=5), mask of the last frame."""
    return CarradaWindows(layout, split, length=length, targets="last", **options)


def online_clips(layout: CarradaLayout, split: str, *, length: int = 10, **options: Any) -> CarradaWindows:
    """Online-mode training clips (published T=10), a mask for every frame."""
    return CarradaWindows(layout, split, length=length, targets="all", **options)


class CarradaFrames(CarradaWindows):
    """Every frame of the light lists, in order, one frame per item: the stream an online model sees.

    Items: each view ``[1, H, W]``, each mask ``[4, H, W]``, ``sequence``, ``frame`` (6-digit id) and ``first``
    (True on a sequence's first frame: reset recurrent states there; the published online evaluation did not,
    quirk Q9). Options as :class:`CarradaWindows` (no window, augmentation or start options).
    """

    def __init__(self, layout: CarradaLayout, split: str, **options: Any) -> None:
        super().__init__(layout, split, length=1, stride=1, targets="last", start="skip", **options)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = super().__getitem__(index)
        for view in self.views:
            item[view] = item[view][:, 0]
        item["first"] = self.index.is_first(index)
        return item
