"""Losses against their definitions, computed independently."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from record.errors import ConfigError
from record.models import create_model
from record.train.config import LossConfig, ModelSection
from record.train.losses import SegmentationLoss, confmap_bce, confmap_focal, frame_weights, soft_dice_loss
from record.train.tasks import CONFMAP, make_task

LN3 = math.log(3.0)


def test_confmap_bce_is_the_published_bce_on_sigmoid_outputs() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=generator) * 3
    target = torch.rand(2, 3, 8, 8, generator=generator)
    expected = torch.nn.BCELoss()(torch.sigmoid(logits.double()), target.double())
    assert float(confmap_bce(logits, target)) == pytest.approx(float(expected), rel=1e-6)


def test_confmap_bce_object_weight_by_hand() -> None:
    # logits 0, ln 3 give p = 1/2, 3/4; targets 1 (object) and 0 (background): weights 1 + w and 1
    logits, target = _maps(0.0, LN3), _maps(1.0, 0.0)
    for weight in (0.0, 3.0):
        expected = ((1 + weight) * -math.log(0.5) + -math.log(0.25)) / 2
        assert float(confmap_bce(logits, target, object_weight=weight)) == pytest.approx(expected, rel=1e-6)
    generator = torch.Generator().manual_seed(1)
    logits, target = torch.randn(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    assert float(confmap_bce(logits, target, object_weight=0.0)) == float(confmap_bce(logits, target))


def test_confmap_loss_option_and_its_range() -> None:
    from record.train.tasks import confmap_loss

    logits, target = _maps(0.0, LN3), _maps(1.0, 0.0)
    weighted = confmap_loss(LossConfig(bce_object_weight=3.0))(logits, target)
    assert float(weighted) == pytest.approx(float(confmap_bce(logits, target, object_weight=3.0)))
    assert confmap_loss(LossConfig()) is confmap_bce  # the published loss by default
    with pytest.raises(ConfigError, match=r"loss.bce_object_weight: must be >= 0 \(found -1.0\)"):
        confmap_loss(LossConfig(bce_object_weight=-1.0))


def _maps(*values: float) -> torch.Tensor:
    """``[1, 1, 1, N]`` maps holding ``values``."""
    return torch.tensor(values).reshape(1, 1, 1, -1)


@pytest.mark.parametrize(("alpha", "beta"), [(2.0, 4.0), (1.0, 2.0)])
def test_confmap_focal_by_hand(alpha: float, beta: float) -> None:
    # logits 0, ln 3, -ln 3, ln 3 give p = 1/2, 3/4, 1/4, 3/4; targets: a peak, t = 1/2, background, and
    # 0.999 (the shoulder of a peak, not a peak: it costs almost nothing however confident)
    logits, target = _maps(0.0, LN3, -LN3, LN3), _maps(1.0, 0.5, 0.0, 0.999)
    peak = -(0.5 ** alpha) * math.log(0.5)
    half = -(0.5 ** beta) * 0.75 ** alpha * math.log(0.25)
    background = -(0.25 ** alpha) * math.log(0.75)
    shoulder = -(0.001 ** beta) * 0.75 ** alpha * math.log(0.25)
    expected = peak + half + background + shoulder  # one peak
    assert float(confmap_focal(logits, target, alpha, beta)) == pytest.approx(expected, rel=1e-6)
    # two peaks: the same sum over both samples divided by 2
    twice = confmap_focal(torch.cat([logits, logits]), torch.cat([target, target]), alpha, beta)
    assert float(twice) == pytest.approx(expected, rel=1e-6)


def test_confmap_focal_of_empty_maps_is_the_background_term() -> None:
    loss = confmap_focal(_maps(0.0, LN3, -LN3), torch.zeros(1, 1, 1, 3))
    expected = -(0.5**2) * math.log(0.5) - 0.75**2 * math.log(0.25) - 0.25**2 * math.log(0.75)
    assert loss.dtype == torch.float32 and float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(confmap_focal(torch.full((2, 3, 4, 4), -20.0), torch.zeros(2, 3, 4, 4))) < 1e-15


def test_confmap_focal_is_finite_for_extreme_logits() -> None:
    # missed peaks and confident false alarms cost |logit| each (two peaks); right answers cost ~0
    logits = _maps(50.0, -50.0, 50.0, -50.0, -1000.0, 1000.0).requires_grad_()
    target = _maps(1.0, 1.0, 0.0, 0.5, 1.0, 0.0)
    loss = confmap_focal(logits.to(torch.bfloat16), target)
    loss.backward()
    assert float(loss.detach()) == pytest.approx((50.0 + 50.0 + 1000.0 + 1000.0) / 3, rel=1e-6)
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_loss_heatmap_selects_the_rod2021_loss() -> None:
    generator = torch.Generator().manual_seed(4)
    logits = {CONFMAP: torch.randn(2, 3, 8, 8, generator=generator)}
    target = torch.rand(2, 3, 8, 8, generator=generator)
    target[0, 1, 2, 3] = 1.0
    targets = {CONFMAP: target}

    def loss_of(config: LossConfig) -> float:
        task = make_task("rod2021", ModelSection(name="record_rod2021"), create_model("record_rod2021"), config)
        return float(task.frame_loss(logits, targets))

    assert loss_of(LossConfig()) == pytest.approx(float(confmap_bce(logits[CONFMAP], target)))
    focal = loss_of(LossConfig(heatmap="focal", focal_alpha=1.5, focal_beta=3.0))
    assert focal == pytest.approx(float(confmap_focal(logits[CONFMAP], target, 1.5, 3.0)))
    assert focal != pytest.approx(float(confmap_focal(logits[CONFMAP], target)))
    with pytest.raises(ConfigError, match="loss.heatmap.*dice"):
        loss_of(LossConfig(heatmap="dice"))


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
    assert float(soft_dice_loss(perfect, labels)) < 0.02
    assert float(soft_dice_loss(wrong, labels)) > 0.9


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
