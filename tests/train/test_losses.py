"""Losses against their definitions, computed independently."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from record.train.losses import SegmentationLoss, confmap_bce, frame_weights, soft_dice_loss


def test_confmap_bce_is_the_published_bce_on_sigmoid_outputs() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=generator) * 3
    target = torch.rand(2, 3, 8, 8, generator=generator)
    expected = torch.nn.BCELoss()(torch.sigmoid(logits.double()), target.double())
    assert float(confmap_bce(logits, target)) == pytest.approx(float(expected), rel=1e-6)


def _dice_by_hand(scores: torch.Tensor, labels: torch.Tensor) -> float:
    total = 0.0
    for b in range(scores.shape[0]):
        p = torch.softmax(scores[b], dim=0).double()
        y = F.one_hot(labels[b], scores.shape[1]).permute(2, 0, 1).double() + 1e-6
        total += 1.0 - float(2 * (p * y).sum() / ((p * p).sum() + (y * y).sum() + 1.0))
    return total / scores.shape[0]


def test_soft_dice_matches_the_formula() -> None:
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(3, 4, 6, 5, generator=generator)
    labels = torch.randint(0, 4, (3, 6, 5), generator=generator)
    assert float(soft_dice_loss(scores, labels)) == pytest.approx(_dice_by_hand(scores, labels), rel=1e-5)


def test_soft_dice_of_a_confident_correct_prediction_is_small() -> None:
    labels = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(2))
    perfect = 50.0 * F.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    wrong = 50.0 * F.one_hot((labels + 1) % 4, 4).permute(0, 3, 1, 2).float()
    assert float(soft_dice_loss(perfect, labels)) < 0.02 < 0.9 < float(soft_dice_loss(wrong, labels))


@pytest.mark.parametrize("sigmoid_first", [False, True])
def test_segmentation_loss_is_half_wce_plus_weighted_dice_summed_over_views(sigmoid_first: bool) -> None:
    generator = torch.Generator().manual_seed(3)
    weights = {"rd": [0.1, 0.4, 0.3, 0.2], "ra": [0.05, 0.5, 0.25, 0.2]}
    logits = {view: torch.randn(2, 4, 8, 4, generator=generator) for view in weights}
    labels = {view: torch.randint(0, 4, (2, 8, 4), generator=generator) for view in weights}
    masks = {view: F.one_hot(labels[view], 4).permute(0, 3, 1, 2).float() for view in weights}
    loss = SegmentationLoss(weights, dice_weight=10.0, sigmoid_first=sigmoid_first)
    expected = 0.0
    for view in weights:
        scores = torch.sigmoid(logits[view]) if sigmoid_first else logits[view]
        log_p = torch.log_softmax(scores, dim=1)
        w = torch.tensor(weights[view])[labels[view]]
        nll = -log_p.gather(1, labels[view][:, None])[:, 0]
        cross_entropy = float((w * nll).sum() / w.sum())
        expected += 0.5 * (cross_entropy + 10.0 * _dice_by_hand(scores, labels[view]))
    assert float(loss(logits, masks)) == pytest.approx(expected, rel=1e-5)


def test_frame_weights() -> None:
    assert frame_weights(4) == [0.25] * 4
    published = frame_weights(4, cumulative=True)
    assert published == [1.0, 0.75, 0.5, 0.25]
    # the published running sums: sum over steps s of sum_{i <= s} loss_i, divided by T
    losses = [0.3, 1.1, 0.7, 0.2]
    running = sum(sum(losses[: s + 1]) for s in range(4)) / 4
    assert sum(w * x for w, x in zip(published, losses)) == pytest.approx(running)
    assert math.fsum(frame_weights(7)) == pytest.approx(1.0)
