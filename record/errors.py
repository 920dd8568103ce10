"""The project's exception family.

Every error raised on bad input derives from :class:`RecordError`, so callers can catch one type. Messages name
the place (file, line, field, topic), the value found and the value expected; build them with :func:`describe`
so they read the same everywhere.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataFormatError",
    "InputError",
    "RecordError",
    "describe",
]


def describe(
    where: str | PathLike[str] | None,
    problem: str,
    *,
    found: object = None,
    expected: object = None,
    line: int | None = None,
) -> str:
    """Format one error message: ``<where>[:line]: <problem> (found X, expected Y)``."""
    place = "" if where is None else f"{where}{'' if line is None else f':{line}'}: "
    details = []
    if found is not None:
        details.append(f"found {found}")
    if expected is not None:
        details.append(f"expected {expected}")
    tail = f" ({', '.join(details)})" if details else ""
    return f"{place}{problem}{tail}"


class RecordError(Exception):
    """Base class of every error this package raises on bad input or state."""


class InputError(RecordError, ValueError):
    """An array or tensor passed to an API has the wrong shape, dtype or values."""


class DataFormatError(RecordError, ValueError):
    """A file on disk does not follow its documented layout (shape, dtype, schema, line format)."""


class ConfigError(RecordError, ValueError):
    """A configuration value is missing, out of range or inconsistent with another one."""


class CheckpointError(RecordError, ValueError):
    """A checkpoint is corrupt, from another model, or misses/has unexpected keys."""
