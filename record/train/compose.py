"""Composing run configurations from the YAML tree in ``record/conf`` and command-line overrides.

Uses Hydra's compose API (the ``record`` command owns its argument list, so there is no ``@hydra.main``);
Hydra and OmegaConf errors become :class:`record.errors.ConfigError` naming the key and the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from record.errors import ConfigError, describe
from record.models import list_models
from record.train.config import (
    LAYOUTS,
    LR_SCHEDULES,
    EvaluateRunConfig,
    TrainConfig,
    TrainRunConfig,
    register_schemas,
)
from record.train.tasks import confmap_loss
from record.train.temporal import check_mode

__all__ = ["CONF_DIR", "compose_config", "group_options", "resolved_dict", "typed", "validate_train_config"]

#: The config tree shipped with the package.
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

SchemaT = TypeVar("SchemaT", TrainRunConfig, EvaluateRunConfig)


def _message(error: BaseException) -> str:
    parts = [str(error).strip()]
    cause = error.__cause__ or error.__context__
    if cause is not None and str(cause).strip() not in parts[0]:
        parts.append(str(cause).strip())
    return ": ".join(part.splitlines()[0] if index else part for index, part in enumerate(parts))


def compose_config(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The ``train`` or ``evaluate`` config with Hydra ``overrides`` (``dataset=rod2021``, ``train.lr=1e-4``).

    Raises:
        ConfigError: unknown group option or key, or a value of the wrong type.
    """
    register_schemas()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None,
                                   job_name=f"record_{config_name}"):
            return compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(f"{config_name} config: {_message(error)}") from None


def typed(config: DictConfig, schema: type[SchemaT]) -> SchemaT:
    """The composed config as its schema dataclass, interpolations resolved; a missing value names its key."""
    try:
        value = OmegaConf.to_object(config)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{schema.__name__}: {_message(error)}") from None
    if not isinstance(value, schema):
        raise ConfigError(f"composed config is a {type(value).__name__}, expected {schema.__name__}")
    return value


def resolved_dict(config: DictConfig) -> dict[str, Any]:
    """Plain, fully resolved copy of ``config`` (saved with runs and checkpoints)."""
    container = OmegaConf.to_container(config, resolve=True)
    assert isinstance(container, dict)
    return container


def group_options(group: str) -> list[str]:
    """Option names of a config group (``dataset``, ``model``, ``mode``, ``experiment``), sorted."""
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))


def _check_whole_map_steps(train: TrainConfig) -> None:
    """``train.whole_map_steps``: >= 0; when > 0, the last steps of a ``max_steps`` budget of a cropped run."""
    steps = train.whole_map_steps
    if steps < 0:
        raise ConfigError(describe("train.whole_map_steps", "must be >= 0", found=steps))
    if steps == 0:
        return
    if train.crop is None or train.max_steps is None:
        raise ConfigError(describe("train.whole_map_steps", "whole-map steps end a cropped, budgeted run",
                                   found=f"train.crop={train.crop}, train.max_steps={train.max_steps}",
                                   expected="train.crop=[H,W] and train.max_steps=N"))
    if steps > train.max_steps:
        raise ConfigError(describe("train.whole_map_steps", "more whole-map steps than the budget",
                                   found=steps, expected=f"at most train.max_steps={train.max_steps}"))


def validate_train_config(config: TrainRunConfig) -> None:
    """Checks that need no data or model: names, positive sizes and counts."""
    if config.dataset.layout not in LAYOUTS:
        raise ConfigError(describe("dataset.layout", "unknown layout", found=repr(config.dataset.layout),
                                   expected=LAYOUTS))
    if config.model.name not in list_models():
        raise ConfigError(describe("model.name", "unknown model", found=repr(config.model.name),
                                   expected=list_models()))
    check_mode(config.mode.name)
    train = config.train
    positive = {"batch_size": train.batch_size, "accumulate": train.accumulate,
                "max_epochs": train.max_epochs, "lr_every_epochs": train.lr_every_epochs,
                "log_every_steps": train.log_every_steps, "tbptt_clips": train.tbptt_clips}
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"train.{name}: must be positive (found {value})")
    if train.lr <= 0 or not 0 < train.lr_gamma <= 1:
        raise ConfigError(f"train.lr / train.lr_gamma: need lr > 0 and 0 < lr_gamma <= 1 "
                          f"(found {train.lr}, {train.lr_gamma})")
    if train.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(describe("train.lr_schedule", "unknown schedule", found=repr(train.lr_schedule),
                                   expected=LR_SCHEDULES))
    if train.lr_schedule == "cosine" and train.max_steps is None:
        raise ConfigError(describe("train.lr_schedule", "the cosine schedule decays over train.max_steps",
                                   found="train.max_steps=null", expected="train.max_steps=N"))
    if train.output_prior is not None and not 0.0 < train.output_prior < 1.0:
        raise ConfigError(describe("train.output_prior", "must be a probability in (0, 1) or null",
                                   found=train.output_prior))
    if train.ema_decay is not None and not 0.0 < train.ema_decay < 1.0:
        raise ConfigError(describe("train.ema_decay", "must be in (0, 1) or null", found=train.ema_decay))
    if not 0.0 <= train.memory_margin < 1.0:
        raise ConfigError(describe("train.memory_margin", "must be a fraction in [0, 1)",
                                   found=train.memory_margin))
    if train.seed < 0 or train.val_every_epochs < 0 or train.workers < 0:
        raise ConfigError(f"train.seed, train.val_every_epochs and train.workers must be >= 0 "
                          f"(found {train.seed}, {train.val_every_epochs}, {train.workers})")
    if train.tbptt_clips > 1 and config.mode.name != "online":
        raise ConfigError(describe("train.tbptt_clips", "truncated BPTT over clips needs mode=online",
                                   found=f"{train.tbptt_clips} with mode={config.mode.name}", expected=1))
    _check_whole_map_steps(train)
    confmap_loss(config.loss)  # loss.heatmap, loss.focal_alpha / beta
