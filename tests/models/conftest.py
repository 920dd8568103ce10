"""Shared helpers of the model tests: the published fixture files, small input sizes per model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

#: Small frame sizes (H, W) valid for each registered model's strides (MV-RECORD: the RD size).
SMALL_SIZES = {
    "record_rod2021": (32, 32),
    "record_carrada_rd": (32, 8),
    "record_carrada_ra": (32, 32),
    "mv_record": (16, 4),
    "record_nolstm_single": (32, 32),
    "record_nolstm_multi": (32, 32),
}


@pytest.fixture(scope="session")
def small_sizes() -> dict[str, tuple[int, int]]:
    return SMALL_SIZES


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """One intra-op thread: the model tests run many tiny convolutions, and on a shared 2-core machine
    OpenMP threads waiting for each other make them 10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def load_official(official_record_dir: Path) -> Callable[[str], dict[str, Any]]:
    """Load (once) one file of the published fixtures by name."""
    cache: dict[str, dict[str, Any]] = {}

    def load(file_name: str) -> dict[str, Any]:
        if file_name not in cache:
            path = official_record_dir / file_name
            cache[file_name] = torch.load(path, map_location="cpu", weights_only=True)
        return cache[file_name]

    return load
