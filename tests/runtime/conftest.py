"""Checkpoints and exports shared by the runtime tests (made once per session: an export takes seconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from runtime_helpers import SMALL

from record.models import create_model, save_checkpoint
from record.runtime.export import ExportResult, export_onnx


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``random_checkpoint(name)``: a project checkpoint of ``name`` with seeded random weights."""
    folder = tmp_path_factory.mktemp("checkpoints")
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            torch.manual_seed(0)
            made[name] = folder / f"{name}.pt"
            save_checkpoint(create_model(name), made[name])
        return made[name]

    return make


@pytest.fixture(scope="session")
def small_export(tmp_path_factory: pytest.TempPathFactory,
                 random_checkpoint: Callable[[str], Path]) -> Callable[..., ExportResult]:
    """``small_export(name, fp16=False)``: the FP32/FP16 ONNX export of ``name`` at its small size."""
    folder = tmp_path_factory.mktemp("exports")
    made: dict[tuple[str, bool], ExportResult] = {}

    def make(name: str, fp16: bool = False) -> ExportResult:
        key = (name, fp16)
        if key not in made:
            made[key] = export_onnx(random_checkpoint(name), folder / f"{name}_{fp16}.onnx", fp16=fp16,
                                    size=SMALL[name])
        return made[key]

    return make
