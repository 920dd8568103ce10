"""Training losses, all on logits.

* ROD2021 (:func:`confmap_bce`): binary cross-entropy between ``sigmoid(logits)`` and the Gaussian
  confidence maps, computed with ``binary_cross_entropy_with_logits``: the published ``nn.BCELoss`` on sigmoid
  outputs, without its log(0) clamping. :func:`confmap_focal` (``loss.heatmap=focal``): CenterNet's
  penalty-reduced focal loss on the same maps (Zhou et al. 2019, eq. 1).
* CARRADA (:class:`SegmentationLoss`, MVRSS ``wce_w10sdice``): per output view
  ``(wCE + w_dice x SoftDice) / 2`` with the published class weights, summed over the views.
  ``sigmoid_first`` feeds ``sigmoid(logits)`` to both terms instead, as the published single-view models did
  (quirk Q2; parity runs only).
* Online clips (:func:`frame_weights`): the loss of every frame, averaged (``cumulative=True``: the published
  MV-RECORD online weighting, quirk Q4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["HEATMAP_LOSSES", "PEAK_LEVEL", "SegmentationLoss", "confmap_bce", "confmap_focal", "frame_weights",
           "soft_dice_loss"]

#: ROD2021 confidence-map losses ``loss.heatmap`` can name.
HEATMAP_LOSSES = ("bce", "focal")

#: Confidence-map pixels at or above this level are object centres (peaks). :mod:`record.data.confmaps`
#: min-max normalises every frame's maps, so each object's own bin is exactly 1.0, while its nearest neighbour is
#: at most exp(-1 / (2 x 30^2)) < 1 - 5e-4 (widest Gaussian, sigma 30 bins).
PEAK_LEVEL = 1.0 - 1e-6

#: Added to the one-hot target of the soft Dice (MVRSS) and the smoothing constant of its denominator.
_DICE_TARGET_EPS = 1e-6
_DICE_SMOOTH = 1.0


def confmap_bce(logits: Tensor, target: Tensor, object_weight: float = 0.0) -> Tensor:
    """Mean BCE of ``sigmoid(logits)`` against confidence maps; both ``[B, K, H, W]``, target in [0, 1].

    ``object_weight`` > 0 weights each pixel's term by ``1 + object_weight * target``, so the few pixels on
    objects count more against the background (0: the published, unweighted mean).
    """
    logits, target = logits.float(), target.float()
    weight = 1.0 + object_weight * target if object_weight else None
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight)


def confmap_focal(logits: Tensor, target: Tensor, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """CenterNet's penalty-reduced focal loss (Zhou et al. 2019, eq. 1) of ``p = sigmoid(logits)`` against
    confidence maps ``t``; both ``[B, K, H, W]``, target in [0, 1].

    ``-(1 - p)^alpha log(p)`` on peaks (``t >= PEAK_LEVEL``), ``-(1 - t)^beta p^alpha log(1 - p)`` elsewhere,
    summed over the batch, classes and pixels and divided by the number of peaks (at least 1: maps without
    objects give the negative term alone). Computed in float32 from log-sigmoids, so finite for any logit.
    """
    logits, target = logits.float(), target.float()
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    peaks = target >= PEAK_LEVEL
    positive = torch.exp(alpha * log_not_p) * log_p
    negative = (1.0 - target).pow(beta) * torch.exp(alpha * log_p) * log_not_p
    return -torch.where(peaks, positive, negative).sum() / peaks.sum().clamp(min=1)


def soft_dice_loss(scores: Tensor, labels: Tensor) -> Tensor:
    """Soft Dice loss of class scores ``[B, K, H, W]`` (softmax taken here) and integer labels ``[B, H, W]``.

    Per sample: ``1 - 2 sum(p y) / (sum(p^2 + y^2) + 1)`` over classes and pixels, ``y`` the one-hot
    labels plus 1e-6; mean over the batch.
    """
    probabilities = torch.softmax(scores, dim=1)
    one_hot = F.one_hot(labels, scores.shape[1]).permute(0, 3, 1, 2).to(probabilities.dtype)
    one_hot = one_hot + _DICE_TARGET_EPS
    dims = (1, 2, 3)
    numerator = 2.0 * (probabilities * one_hot).sum(dims)
    denominator = (probabilities.square() + one_hot.square()).sum(dims) + _DICE_SMOOTH
    return (1.0 - numerator / denominator).mean()


class SegmentationLoss:
    """CARRADA loss of one frame: sum over views of ``(wCE + dice_weight x SoftDice) / 2``.

    Args:
        class_weights: per view, the cross-entropy weights ``[n_classes]``.
        dice_weight: weight of the soft Dice term (published 10).
        sigmoid_first: apply a sigmoid to the logits before both terms (published single-view quirk Q2).
    """

    def __init__(self, class_weights: Mapping[str, Sequence[float]], dice_weight: float = 10.0,
                 sigmoid_first: bool = False) -> None:
        self.class_weights = {
            view: torch.tensor(list(weights), dtype=torch.float32) for view, weights in class_weights.items()
        }
        self.dice_weight = dice_weight
        self.sigmoid_first = sigmoid_first

    def __call__(self, logits: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> Tensor:
        """``logits[view]`` ``[B, K, H, W]``; ``masks[view]`` one-hot ``[B, K, H, W]``; returns a scalar."""
        total = torch.zeros((), device=next(iter(logits.values())).device)
        for view, view_logits in logits.items():
            scores = view_logits.float()
            if self.sigmoid_first:
                scores = torch.sigmoid(scores)
            labels = masks[view].argmax(dim=1)
            weights = self.class_weights[view].to(scores.device)
            cross_entropy = F.cross_entropy(scores, labels, weight=weights)
            total = total + 0.5 * (cross_entropy + self.dice_weight * soft_dice_loss(scores, labels))
        return total


def frame_weights(frames: int, cumulative: bool = False) -> list[float]:
    """Weights of the per-frame losses of a ``frames``-long online clip.

    Default: ``1 / T`` each (the mean over frames). ``cumulative``: ``(T - s) / T`` for frame ``s``, which is
    what the published MV-RECORD online trainer's running sums amount to once divided by T (quirk Q4).
    """
    if cumulative:
        return [(frames - s) / frames for s in range(frames)]
    return [1.0 / frames] * frames
