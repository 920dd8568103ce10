"""Checkpoints: the project format (weights + metadata) and conversion of the published RECORD weights.

Project checkpoint (``torch.save`` of a dict, loadable with ``weights_only=True``)::

    {"format": "record-checkpoint", "format_version": 1, "model": <registry name>, "config": <config fields>,
     "state_dict": <this project's keys>, "metadata": {...}, "extra": {...}}

Published checkpoints are accepted as a bare ``state_dict``, a dict holding ``state_dict`` (the fixtures), or
a PyTorch-Lightning checkpoint whose keys carry the executor's attribute prefix (``model.``). Keys outside
that prefix belong to the executor (losses, metrics) and are ignored. The one key remap from the published
names removes the ``BottleneckLSTM`` wrapper level: ``bottleneck_lstmN.cell.X`` -> ``bottleneck_lstmN.X``.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from record.errors import CheckpointError, describe
from record.fileio import atomic_path
from record.models._base import StreamingModel

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "find_state_dict",
    "is_project_checkpoint",
    "load_state_dict_checked",
    "official_to_project_key",
    "read_checkpoint",
    "save_checkpoint",
    "training_config",
]

CHECKPOINT_FORMAT = "record-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
CheckpointSource = str | os.PathLike[str] | Mapping[str, Any]

_OFFICIAL_LSTM_WRAPPER = re.compile(r"(bottleneck_lstm\d+)\.cell\.")
_LISTED = 8


def official_to_project_key(key: str) -> str:
    """Map a published parameter name to this project's: drop the LSTM wrapper's ``.cell`` level."""
    return _OFFICIAL_LSTM_WRAPPER.sub(r"\1.", key)


def describe_source(source: CheckpointSource) -> str:
    return "checkpoint mapping" if isinstance(source, Mapping) else str(source)


def read_checkpoint(source: CheckpointSource, *, trusted: bool = False) -> Mapping[str, Any]:
    """Load a checkpoint file on the CPU (``weights_only`` unless ``trusted``); a mapping is returned as is.

    Raises:
        CheckpointError: missing or corrupt file, or one needing full unpickling without ``trusted=True``.
    """
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        if found is None:
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (unpickling failed)") from None
        raise CheckpointError(
            f"{path}: holds a pickled {found.group(1)} besides tensors and plain containers; load it with "
            "trusted=True (CLI: --trust-pickle) only if you trust its origin"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({error})") from None
    if not isinstance(payload, Mapping):
        raise CheckpointError(describe(path, "not a checkpoint dict", found=type(payload).__name__,
                                       expected="a dict (state_dict or checkpoint)"))
    return payload


def is_project_checkpoint(payload: Mapping[str, Any]) -> bool:
    """True for a checkpoint written by :func:`save_checkpoint` (any format version)."""
    return payload.get("format") == CHECKPOINT_FORMAT


def training_config(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The resolved run config a training checkpoint stores (``metadata["config"]``); None for converted or
    fresh weights."""
    metadata = payload.get("metadata")
    config = metadata.get("config") if isinstance(metadata, Mapping) else None
    return config if isinstance(config, Mapping) else None


def check_project_checkpoint(payload: Mapping[str, Any], model_name: str, where: str) -> None:
    """Refuse a project checkpoint of another model or of a newer format version."""
    version = payload.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(describe(where, "unsupported checkpoint format version", found=version,
                                       expected=f"<= {CHECKPOINT_FORMAT_VERSION}"))
    if payload.get("model") != model_name:
        raise CheckpointError(describe(where, "checkpoint of another model", found=payload.get("model"),
                                       expected=model_name))
    for field in ("config", "state_dict"):
        if not isinstance(payload.get(field), Mapping):
            found = type(payload.get(field)).__name__
            problem = f"'{field}' missing or not a dict"
            raise CheckpointError(describe(where, problem, found=found, expected="dict"))


def find_state_dict(payload: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    nested = payload.get("state_dict")
    if isinstance(nested, Mapping):
        return nested
    if payload and all(isinstance(value, Tensor) for value in payload.values()):
        return payload
    hint = " (a fixture file naming its weights in 'state_dict_file': convert that file)" \
        if "state_dict_file" in payload else ""
    found = sorted(map(str, payload))[:_LISTED]
    raise CheckpointError(describe(where, f"no state_dict found{hint}", found=found,
                                   expected="a state_dict or a dict with a 'state_dict' entry"))


def _longest_suffix_match(key: str, expected: Mapping[str, Any]) -> str | None:
    """The prefix ``p`` with ``key == p + e`` for the longest expected key ``e`` (None if there is none)."""
    if key in expected:
        return ""
    matches = [name for name in expected if key.endswith("." + name)]
    return key[: len(key) - len(max(matches, key=len))] if matches else None


def _remap(state_dict: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, Any]:
    """Remap published names, strip the executor prefix found on most keys, drop keys outside that prefix."""
    remapped = {official_to_project_key(str(key)): value for key, value in state_dict.items()}
    prefixes = Counter(p for key in remapped if (p := _longest_suffix_match(key, expected)) is not None)
    prefix = prefixes.most_common(1)[0][0] if prefixes else ""
    return {key[len(prefix):]: value for key, value in remapped.items() if key.startswith(prefix)}


def _listing(title: str, items: list[str]) -> str:
    more = f", ... ({len(items) - _LISTED} more)" if len(items) > _LISTED else ""
    shown = ", ".join(items[:_LISTED]) + more
    return f"{len(items)} {title}: {shown}"


def load_state_dict_checked(model: StreamingModel, state_dict: Mapping[str, Any], where: str) -> None:
    """Load published or project weights into ``model`` after the key remap; all keys and shapes must match.

    Raises:
        CheckpointError: listing missing keys, unexpected keys and shape mismatches (found vs expected).
    """
    expected = model.state_dict()
    weights = _remap(state_dict, expected)
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    mismatched = [
        f"{key} (found {list(getattr(weights[key], 'shape', [type(weights[key]).__name__]))}, "
        f"expected {list(expected[key].shape)})"
        for key in sorted(set(expected) & set(weights))
        if not isinstance(weights[key], Tensor) or weights[key].shape != expected[key].shape
    ]
    problems = [_listing(title, items) for title, items in
                (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
                if items]
    if problems:
        raise CheckpointError(f"{where}: weights do not fit {model.model_name}: " + "; ".join(problems))
    model.load_state_dict(weights, strict=True)


def checkpoint_payload(model: StreamingModel, *, metadata: Mapping[str, Any] | None = None,
                       extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The project checkpoint dict of ``model`` (weights copied to the CPU)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "model": model.model_name,
        "config": dataclasses.asdict(model.config),
        "state_dict": {key: value.detach().cpu().clone() for key, value in model.state_dict().items()},
        "metadata": dict(metadata or {}),
        "extra": dict(extra or {}),
    }


def save_checkpoint(model: StreamingModel, destination: str | os.PathLike[str], *,
                    metadata: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None
                    ) -> dict[str, Any]:
    """Write ``model`` as a project checkpoint, atomically; return the saved dict.

    Args:
        model: a model built by :func:`record.models.create_model` (its ``model_name`` and ``config`` are
            stored).
        destination: file to write (parents are created).
        metadata: plain, JSON-like facts (source file, epoch, metrics).
        extra: further state saved as is (e.g. an optimizer ``state_dict``).
    """
    payload = checkpoint_payload(model, metadata=metadata, extra=extra)
    with atomic_path(destination) as tmp:
        torch.save(payload, tmp)
    return payload
