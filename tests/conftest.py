"""Shared test fixtures: paths to the reference material beside the checkout, denormal flushing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: ``../shared`` beside the checkout (override with RECORD_SHARED); holds the official weights.
SHARED = Path(os.environ.get("RECORD_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def official_record_dir() -> Path:
    """Folder of the official RECORD weights and expected outputs; skips when absent."""
    path = SHARED / "fixtures" / "official_record"
    if not (path / "manifest.json").is_file():
        pytest.skip(f"official RECORD fixtures not found at {path} (set RECORD_SHARED to the shared folder)")
    return path


#: A record_rod2021 trained on the simulated ROD2021 data (see tests/fixtures/trained/PROVENANCE.md).
TRAINED_ROD2021 = FIXTURES / "trained" / "record_rod2021_demo.pt"


@pytest.fixture(scope="session")
def trained_rod2021_checkpoint() -> Path:
    """A small record_rod2021 checkpoint that detects the simulated road users (runtime and ROS tests)."""
    if not TRAINED_ROD2021.is_file():
        pytest.skip(f"trained fixture checkpoint missing: {TRAINED_ROD2021}")
    return TRAINED_ROD2021


@pytest.fixture(autouse=True, scope="session")
def _flush_denormals() -> None:
    """Recurrent states decay towards zero; denormal arithmetic slows x86 CPUs sharply."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.set_flush_denormal(True)
