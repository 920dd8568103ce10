"""Where an artefact came from: the code version that made it and content hashes of the files it was made from."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
from pathlib import Path

__all__ = ["code_version", "file_sha256"]

_CHUNK = 1 << 20


def code_version() -> dict[str, str | None]:
    """Package version and, in a git checkout, the commit (``+dirty`` when tracked files are modified)."""
    try:
        version: str | None = importlib.metadata.version("record-radar")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"package": version, "git_commit": _git_commit(Path(__file__).resolve().parent)}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _git_commit(folder: Path) -> str | None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")
