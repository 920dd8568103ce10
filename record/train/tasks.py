"""Dataset-specific glue between batches, models, losses and metrics.

A :class:`Task` turns a batch of :mod:`record.data` items into model inputs and per-view targets, normalises
the model's logits to a dict keyed by output view, and computes the loss of one frame. Output views:
``confmap`` for ROD2021 (``[B, 3, 128, 128]`` logits against Gaussian confidence maps); ``rd`` and/or ``ra``
for CARRADA (``[B, 4, H, W]`` logits against one-hot masks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor

from record.errors import ConfigError, describe
from record.eval.carrada import ConfusionAccumulator
from record.models import StreamingModel
from record.train.config import LAYOUTS, LossConfig, ModelSection
from record.train.losses import HEATMAP_LOSSES, SegmentationLoss, confmap_bce, confmap_focal

__all__ = ["CONFMAP", "CarradaTask", "Rod2021Task", "SegmentationTally", "Task", "confmap_loss", "make_task"]

#: The output view name of ROD2021 models.
CONFMAP = "confmap"
_CARRADA_OUTPUT_VIEWS = ("rd", "ra")


def _to(value: Tensor, device: torch.device) -> Tensor:
    return value.to(device, non_blocking=True)


class Task:
    """Interface: ``inputs``, ``targets``, ``outputs`` and ``frame_loss`` of one dataset family."""

    layout: str = ""
    output_views: tuple[str, ...] = ()

    def inputs(self, batch: Mapping[str, Any], device: torch.device) -> Tensor | dict[str, Tensor]:
        """Model input: ``[B, C, (T,) H, W]`` or a dict of them keyed by view."""
        raise NotImplementedError

    def targets(self, batch: Mapping[str, Any], device: torch.device) -> dict[str, Tensor]:
        """Targets keyed by output view, ``[B, K, (T,) H, W]``."""
        raise NotImplementedError

    def outputs(self, logits: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Model logits keyed by output view."""
        if isinstance(logits, Tensor):
            return {self.output_views[0]: logits}
        return dict(logits)

    def frame_loss(self, logits: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
        """Scalar loss of one frame (``[B, K, H, W]`` per view)."""
        raise NotImplementedError


class Rod2021Task(Task):
    """ROD2021: 8-channel frames in; ``loss`` (default BCE) against the pedestrian / cyclist / car confidence
    maps (:func:`confmap_loss`)."""

    layout = "rod2021"
    output_views = (CONFMAP,)

    def __init__(self, loss: Callable[[Tensor, Tensor], Tensor] = confmap_bce) -> None:
        self.loss = loss

    def inputs(self, batch: Mapping[str, Any], device: torch.device) -> Tensor:
        return _to(batch["input"], device)

    def targets(self, batch: Mapping[str, Any], device: torch.device) -> dict[str, Tensor]:
        return {CONFMAP: _to(batch["target"], device)}

    def frame_loss(self, logits: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
        return self.loss(logits[CONFMAP], targets[CONFMAP])


class CarradaTask(Task):
    """CARRADA segmentation: 'tvt'-normalised views in, weighted CE + soft Dice against the dense masks.

    Args:
        input_views: views the model reads (one for single-view models, ``rd, ra, ad`` for MV-RECORD).
        output_views: views the model segments.
        loss: the per-frame loss.
    """

    layout = "carrada"

    def __init__(self, input_views: tuple[str, ...], output_views: tuple[str, ...],
                 loss: SegmentationLoss) -> None:
        self.input_views = input_views
        self.output_views = output_views
        self.loss = loss

    def inputs(self, batch: Mapping[str, Any], device: torch.device) -> Tensor | dict[str, Tensor]:
        if len(self.input_views) == 1:
            return _to(batch[self.input_views[0]], device)
        return {view: _to(batch[view], device) for view in self.input_views}

    def targets(self, batch: Mapping[str, Any], device: torch.device) -> dict[str, Tensor]:
        return {view: _to(batch[f"{view}_mask"], device) for view in self.output_views}

    def frame_loss(self, logits: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
        return self.loss(logits, targets)


def _views(model_section: ModelSection, model: StreamingModel) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(input views, output views) of a CARRADA model, checked against its configuration."""
    declared = tuple(v.lower() for v in model_section.views)
    if model.input_views:
        if set(declared) != set(model.input_views):
            raise ConfigError(describe("model.views", f"{model.model_name} reads other views",
                                       found=list(declared),
                                       expected=list(model.input_views)))
        return tuple(model.input_views), tuple(model.output_views)
    if len(declared) != 1 or declared[0] not in _CARRADA_OUTPUT_VIEWS:
        raise ConfigError(describe("model.views", f"single-view {model.model_name} on CARRADA needs one view",
                                   found=list(declared), expected="[rd] or [ra]"))
    return declared, declared


def confmap_loss(loss: LossConfig) -> Callable[[Tensor, Tensor], Tensor]:
    """The ROD2021 confidence-map loss ``loss.heatmap`` names, ``(logits, target) -> scalar``; raises
    ConfigError for an unknown name, focal exponents out of range (``alpha > 0``, ``beta >= 0``) or a negative
    ``loss.bce_object_weight``."""
    if loss.heatmap not in HEATMAP_LOSSES:
        raise ConfigError(describe("loss.heatmap", "unknown confidence-map loss", found=repr(loss.heatmap),
                                   expected=HEATMAP_LOSSES))
    if loss.focal_alpha <= 0 or loss.focal_beta < 0:
        raise ConfigError(describe("loss.focal_alpha / loss.focal_beta", "need alpha > 0 and beta >= 0",
                                   found=f"{loss.focal_alpha}, {loss.focal_beta}"))
    if loss.bce_object_weight < 0:
        raise ConfigError(describe("loss.bce_object_weight", "must be >= 0", found=loss.bce_object_weight))
    if loss.heatmap == "bce":
        if loss.bce_object_weight:
            return partial(confmap_bce, object_weight=loss.bce_object_weight)
        return confmap_bce
    return partial(confmap_focal, alpha=loss.focal_alpha, beta=loss.focal_beta)


def make_task(layout: str, model_section: ModelSection, model: StreamingModel, loss: LossConfig) -> Task:
    """The task of ``layout`` for ``model``; raises ConfigError when the model does not fit the dataset."""
    if layout not in LAYOUTS:
        raise ConfigError(describe("dataset.layout", "unknown layout", found=repr(layout), expected=LAYOUTS))
    in_channels, n_classes = model.config.in_channels, model.config.n_classes
    if layout == "rod2021":
        if model.input_views or (in_channels, n_classes) != (8, 3):
            raise ConfigError(describe("model.name", f"{model.model_name} does not fit ROD2021", found=(
                f"{in_channels} input channels, {n_classes} classes"),
                expected="8 channels per frame, 3 classes"))
        return Rod2021Task(confmap_loss(loss))
    if (in_channels, n_classes) != (1, 4):
        raise ConfigError(describe("model.name", f"{model.model_name} does not fit CARRADA", found=(
            f"{in_channels} input channels, {n_classes} classes"), expected="1 channel per view, 4 classes"))
    input_views, output_views = _views(model_section, model)
    weights = {"rd": loss.rd_class_weights, "ra": loss.ra_class_weights}
    segmentation = SegmentationLoss({v: weights[v] for v in output_views}, loss.dice_weight,
                                    loss.sigmoid_before_loss)
    return CarradaTask(input_views, output_views, segmentation)


class SegmentationTally:
    """Confusion matrices per output view of argmax predictions (softmax and sigmoid agree on the argmax)."""

    def __init__(self, views: tuple[str, ...]) -> None:
        self.accumulators = {view: ConfusionAccumulator() for view in views}

    def add(self, logits: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> None:
        """``logits[view]`` and one-hot ``targets[view]``, ``[B, K, H, W]``."""
        for view, accumulator in self.accumulators.items():
            predicted = logits[view].argmax(dim=1).cpu().numpy().astype(np.int64)
            labels = targets[view].argmax(dim=1).cpu().numpy().astype(np.int64)
            accumulator.add(labels, predicted)

    def matrices(self) -> np.ndarray:
        """``int64[views, K, K]``."""
        return np.stack([a.matrix for a in self.accumulators.values()])

    def set_matrices(self, matrices: np.ndarray) -> None:
        for accumulator, matrix in zip(self.accumulators.values(), matrices):
            accumulator.matrix = np.asarray(matrix, dtype=np.int64)
