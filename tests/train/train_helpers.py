"""Helpers shared by the training tests (a module of its own: ``conftest`` names clash across test folders)."""

from __future__ import annotations

import torch

#: Sizes of the tiny simulated trees: 1 train sequence of 6 frames, 1 valid and 1 test sequence of 5 frames.
SYNTH_SIZES = ("dataset.synthetic.train_sequences=1", "dataset.synthetic.train_frames=6",
               "dataset.synthetic.valid_sequences=1", "dataset.synthetic.test_sequences=1",
               "dataset.synthetic.eval_frames=5")


def state_dicts_equal(left: dict[str, torch.Tensor], right: dict[str, torch.Tensor]) -> bool:
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)
