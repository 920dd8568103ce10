"""ROD2021 annotation and submission text files: round trip and clear errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from record.data.rod2021_files import read_annotations, read_detections, scan_annotations, write_detections
from record.detections import ObjectTable
from record.errors import DataFormatError


def test_annotations_parse(tmp_path: Path) -> None:
    path = tmp_path / "SEQ.txt"
    path.write_text("0 8.6522 0.2640 car\n\n0 3.1 -0.5 pedestrian\n2 10.0 0.0 cyclist\n")
    table = read_annotations(path)
    np.testing.assert_array_equal(table.frame, [0, 0, 2])
    np.testing.assert_array_equal(table.class_id, [2, 0, 1])
    np.testing.assert_allclose(table.range_m, [8.6522, 3.1, 10.0])
    np.testing.assert_allclose(table.score, 1.0)


def test_detections_round_trip(tmp_path: Path) -> None:
    table = ObjectTable(
        np.array([0, 1]),
        np.array([2, 0]),
        np.array([5.12345, 20.0]),
        np.array([-0.25, 0.5]),
        np.array([0.9, 1.0]),
        ("pedestrian", "cyclist", "car"),
    )
    path = tmp_path / "out" / "SEQ.txt"
    write_detections(path, table)
    assert path.read_text().splitlines()[0] == "0 5.1235 -0.2500 car 0.9000"
    back = read_detections(path)
    np.testing.assert_allclose(back.range_m, [5.1235, 20.0])
    np.testing.assert_array_equal(back.class_id, table.class_id)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 1.0 0.1 car 0.5\n1 2.0 0.2 car\n", r"SEQ\.txt:2: malformed line .*expected 5"),
        # a short line and a long one that add up to two lines' worth of tokens
        ("0 5.0 0.1 car\n0.5 1 5.0 0.1 car 0.5\n", r"SEQ\.txt:1: malformed line .*found 4 fields"),
        ("0 1.0 0.1 truck 0.5\n", r"SEQ\.txt:1: unknown class 'truck'"),
        ("0 1.0 0.1 car 1.5\n", r"SEQ\.txt:1: score 1.5 outside \(0, 1\]"),
        ("0 1.0 0.1 car 0\n", r"SEQ\.txt:1: score 0 outside"),
        ("x 1.0 0.1 car 0.5\n", r"SEQ\.txt:1: malformed line"),
        ("0 nan 0.1 car 0.5\n", r"SEQ\.txt:1: non-finite"),
    ],
)
def test_detection_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "SEQ.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message):
        read_detections(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="file not found"):
        read_annotations(tmp_path / "NOPE.txt")


def test_vectorised_and_line_parsers_agree(tmp_path: Path) -> None:
    """read_annotations takes the vectorised path; scan_annotations the line-by-line one."""
    rng = np.random.default_rng(3)
    names = ("pedestrian", "cyclist", "car")
    lines = [
        f"{frame} {r:.4f} {a:.4f} {names[c]}"
        for frame, r, a, c in zip(
            np.sort(rng.integers(0, 500, 2000)), rng.uniform(1, 25, 2000), rng.uniform(-1, 1, 2000),
            rng.integers(0, 3, 2000),
        )
    ]
    path = tmp_path / "SEQ.txt"
    path.write_text("\n".join(lines) + "\n\n")
    fast = read_annotations(path)
    slow, problems = scan_annotations(path)
    assert not problems and len(fast) == 2000
    for field in ("frame", "class_id", "range_m", "azimuth_rad", "score"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field))
