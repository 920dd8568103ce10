"""Name registry of model builders (timm style) and the shared builder helper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from record.errors import ConfigError, describe
from record.models._base import StreamingModel
from record.models.configs import config_from_dict

__all__ = [
    "build_model_with_config",
    "list_models",
    "model_description",
    "model_entrypoint",
    "register_model",
]

ModelT = TypeVar("ModelT", bound=StreamingModel)
Builder = Callable[..., StreamingModel]

_BUILDERS: dict[str, Builder] = {}


def register_model(builder: Callable[..., ModelT]) -> Callable[..., ModelT]:
    """Decorator filing ``builder`` under its function name; a second registration of a name is an error."""
    name = builder.__name__
    if name in _BUILDERS:
        raise ConfigError(describe("record.models registry", "model registered twice", found=name))
    _BUILDERS[name] = builder
    return builder


def list_models() -> list[str]:
    """Registered model names, in registration order."""
    return list(_BUILDERS)


def model_entrypoint(name: str) -> Builder:
    """The builder registered as ``name``; raises ConfigError naming the registered models otherwise."""
    try:
        return _BUILDERS[name]
    except KeyError:
        known = list_models()
        raise ConfigError(describe("model name", "unknown model", found=repr(name), expected=known)) from None


def model_description(name: str) -> str:
    """First line of the builder's docstring."""
    doc = (model_entrypoint(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def build_model_with_config(
    model_class: type[ModelT], name: str, default_config: Any, overrides: Mapping[str, Any]
) -> ModelT:
    """Build ``model_class(replace(default_config, **overrides))`` and record its registry name."""
    values = {**dataclasses.asdict(default_config), **overrides}
    config = config_from_dict(type(default_config), values, where=f"{name} config")
    model = model_class(config)
    model.model_name = name
    return model
