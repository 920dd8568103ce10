"""Fixtures building small hand-made ROD2021 and CARRADA trees (see ``handmade.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from handmade import CARRADA_TEST, CARRADA_TRAIN, CARRADA_VALID, write_carrada


@pytest.fixture
def carrada_tree(tmp_path: Path) -> Callable[..., Path]:
    """Builder ``carrada_tree(sequences=..., **options) -> root`` writing under ``tmp_path/Carrada``."""

    def build(sequences: Mapping[str, tuple[str, int]] | None = None, **options) -> Path:
        sequences = sequences or {CARRADA_TRAIN: ("Train", 6), CARRADA_VALID: ("Validation", 4),
                                  CARRADA_TEST: ("Test", 3)}
        return write_carrada(tmp_path / "Carrada", sequences, **options)

    return build
