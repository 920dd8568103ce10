"""Atomic writes: complete file or nothing, the default file mode, the temporary file removed on failure."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from record.fileio import atomic_path, atomic_save_npy, atomic_write_json, atomic_write_text


def test_round_trips(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    atomic_write_json(tmp_path / "y.json", {"k": 1})
    atomic_save_npy(tmp_path / "z.npy", np.arange(3))
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert (tmp_path / "y.json").read_text().strip() == '{\n  "k": 1\n}'
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), np.arange(3))


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_mode_follows_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
