"""Early stopping on a validation metric (Lightning's ``EarlyStopping`` semantics), with a resumable state."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from record.errors import ConfigError, describe
from record.train.config import EarlyStoppingConfig

__all__ = ["EarlyStopping"]

_MODES = ("min", "max")


class EarlyStopping:
    """Tracks the best value of ``config.monitor`` and how many validations passed without improvement.

    A value improves on the best when it is strictly lower (``min``) or higher (``max``); NaN never improves.
    ``should_stop`` becomes True after ``patience`` validations in a row without improvement.
    """

    def __init__(self, config: EarlyStoppingConfig) -> None:
        if config.mode not in _MODES:
            raise ConfigError(describe("train.early_stopping.mode", "unknown mode", found=repr(config.mode),
                                       expected=_MODES))
        if config.patience < 1:
            raise ConfigError(describe("train.early_stopping.patience", "must be positive",
                                       found=config.patience))
        self.config = config
        self.best: float | None = None
        self.bad_validations = 0

    def improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.config.mode == "min" else value > self.best

    def update(self, metrics: Mapping[str, float]) -> bool:
        """Record one validation; True when the monitored value is a new best."""
        if self.config.monitor not in metrics:
            raise ConfigError(describe("train.early_stopping.monitor", "metric not computed by this run",
                                       found=repr(self.config.monitor), expected=sorted(metrics)))
        value = float(metrics[self.config.monitor])
        if self.improves(value):
            self.best, self.bad_validations = value, 0
            return True
        self.bad_validations += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.config.enabled and self.bad_validations >= self.config.patience

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.config.monitor, "best": self.best, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = state["best"]
        self.bad_validations = int(state["bad_validations"])
