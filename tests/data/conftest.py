"""Fixtures building small hand-made ROD2021 and CARRADA trees (see ``handmade.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from handmade import (
    CARRADA_TEST,
    CARRADA_TRAIN,
    CARRADA_VALID,
    ROD_TEST,
    ROD_TRAIN,
    ROD_VALID,
    write_carrada,
    write_rod_sequence,
)


@pytest.fixture
def carrada_tree(tmp_path: Path) -> Callable[..., Path]:
    """Builder ``carrada_tree(sequences=..., **options) -> root`` writing under ``tmp_path/Carrada``."""

    def build(sequences: Mapping[str, tuple[str, int]] | None = None, **options) -> Path:
        sequences = sequences or {
            CARRADA_TRAIN: ("Train", 6),
            CARRADA_VALID: ("Validation", 4),
            CARRADA_TEST: ("Test", 3),
        }
        return write_carrada(tmp_path / "Carrada", sequences, **options)

    return build


@pytest.fixture
def rod_tree(tmp_path: Path) -> Callable[..., Path]:
    """Builder ``rod_tree(kind, frames=..., lines=...) -> root``: one sequence per split under ``tmp_path/ROD2021``.

    ``kind="reorganised"``: train ``2019_04_09_BMS1000``, valid ``2019_04_09_PMS1000``, test ``2019_05_28_CM1S013``;
    ``kind="plain"``: the train and valid sequences both under ``sequences/train``.
    """

    def build(kind: str = "reorganised", frames: int = 10, lines: list[str] | None = None) -> Path:
        root = tmp_path / "ROD2021"
        lines = ["0 5.0 0.1 car", "3 2.0 -0.3 pedestrian"] if lines is None else lines
        valid_folder = "valid" if kind == "reorganised" else "train"
        write_rod_sequence(root, "train", ROD_TRAIN, frames, lines)
        write_rod_sequence(root, valid_folder, ROD_VALID, frames // 2, ["1 10.0 0.0 cyclist"])
        write_rod_sequence(root, "test", ROD_TEST, 3, None)
        return root

    return build
