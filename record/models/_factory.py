"""``create_model`` (timm style), ``convert_checkpoint`` and ``load_checkpoint_model``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from record.errors import CheckpointError, ConfigError, describe
from record.models._base import StreamingModel
from record.models._checkpoint import (
    CheckpointSource,
    check_project_checkpoint,
    checkpoint_payload,
    describe_source,
    find_state_dict,
    is_project_checkpoint,
    load_state_dict_checked,
    read_checkpoint,
    save_checkpoint,
)
from record.models._registry import model_entrypoint

__all__ = ["convert_checkpoint", "create_model", "load_checkpoint_model"]


def create_model(name: str, checkpoint: CheckpointSource | None = None, *, trusted: bool = False,
                 **overrides: Any) -> StreamingModel:
    """Build the registered model ``name``, optionally with weights.

    Args:
        name: a name from :func:`record.models.list_models`.
        checkpoint: a project checkpoint (its stored config is used, then ``overrides``) or a published one
            (converted on the fly; the default config plus ``overrides``), as a path or a loaded dict.
        trusted: allow full unpickling of checkpoint files that hold more than tensors (Lightning checkpoints
            with arbitrary hyper-parameters). Only for files from a trusted origin.
        **overrides: config fields to change (e.g. ``output_activation="sigmoid"``).

    Raises:
        ConfigError: unknown name or config field.
        CheckpointError: unreadable checkpoint, a checkpoint of another model, missing / unexpected keys or
            shape mismatches.
    """
    builder = model_entrypoint(name)
    if checkpoint is None:
        return builder(**overrides)
    where = describe_source(checkpoint)
    payload = read_checkpoint(checkpoint, trusted=trusted)
    if is_project_checkpoint(payload):
        check_project_checkpoint(payload, name, where)
        try:
            model = builder(**{**payload["config"], **overrides})
        except ConfigError as error:
            raise CheckpointError(f"{where}: stored config does not build {name}: {error}") from None
        load_state_dict_checked(model, payload["state_dict"], where)
    else:
        model = builder(**overrides)
        load_state_dict_checked(model, find_state_dict(payload, where), where)
    return model


def convert_checkpoint(
    source: CheckpointSource,
    model_name: str,
    destination: str | os.PathLike[str] | None = None,
    *,
    trusted: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Convert a published RECORD checkpoint (or re-check a project one) into the project format.

    Args:
        source: bare state_dict, fixture dict with ``state_dict``, Lightning checkpoint, or project checkpoint
            (path or loaded dict).
        model_name: registry name the weights belong to.
        destination: where to write the project checkpoint (atomically); nothing is written when None.
        trusted: see :func:`create_model`.
        **overrides: config fields of the published model that differ from the registered defaults.

    Returns:
        The project checkpoint dict (``format``, ``format_version``, ``model``, ``config``, ``state_dict``,
        ``metadata``, ``extra``).

    Raises:
        CheckpointError: as :func:`create_model`, listing missing / unexpected keys and shape mismatches.
    """
    model = create_model(model_name, source, trusted=trusted, **overrides)
    metadata = {"converted_from": describe_source(source)}
    if destination is None:
        return checkpoint_payload(model, metadata=metadata)
    return save_checkpoint(model, destination, metadata=metadata)


def load_checkpoint_model(checkpoint: str | os.PathLike[str]) -> tuple[StreamingModel, Mapping[str, Any]]:
    """The model of a project checkpoint (its stored name and config, on the CPU, in eval mode) and the
    checkpoint dict.

    Raises:
        CheckpointError: unreadable file or a checkpoint without a model name (not written by this project).
    """
    payload = read_checkpoint(checkpoint)
    name = payload.get("model")
    if not isinstance(name, str):
        expected = "a checkpoint of record train or record convert-checkpoint"
        problem = "not a project checkpoint (no model name)"
        raise CheckpointError(describe(checkpoint, problem, expected=expected))
    return create_model(name, checkpoint=payload).eval(), payload
