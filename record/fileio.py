"""Atomic file writing: a file is either absent, the old version, or the complete new version.

Writers create a temporary file beside the destination, flush it to disk and rename it over the destination
(``os.replace`` is atomic on POSIX and Windows), so an interrupted run never leaves a truncated checkpoint, model
or dataset file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "atomic_save_npy", "atomic_write_json", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; on success rename it over ``destination``.

    The caller writes the whole file to the yielded path. If the block raises, the temporary file is removed
    and ``destination`` is untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o666 & ~_umask())  # mkstemp creates 0600; give the file the mode a plain open() would
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(destination: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``destination`` atomically."""
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(destination: str | os.PathLike[str], payload: Any, indent: int | None = 2) -> None:
    """Write ``payload`` as JSON to ``destination`` atomically."""
    atomic_write_text(destination, json.dumps(payload, indent=indent) + "\n")


def atomic_save_npy(destination: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save ``array`` in ``.npy`` format to exactly ``destination`` (no suffix added), atomically."""
    with atomic_path(destination) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
