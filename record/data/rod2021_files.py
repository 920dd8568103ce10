"""ROD2021 text files: annotations (ground truth) and detections in the submission format.

* Annotation ``annotations/<split>/<SEQ>.txt``: one object per line, ``<frame> <range_m> <azimuth_rad> <class>``.
* Submission / prediction ``<SEQ>.txt``: ``<frame> <range_m> <azimuth_rad> <class> <score>``, written with
  ``"%d %.4f %.4f %s %.4f"`` and scores in (0, 1] (cruw-devkit raises on scores above the ground truth's 1.0).

Frames without objects have no lines; blank lines are ignored. Every parse error names the file and line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from record.classes import ROD2021_CLASSES
from record.data.files import DataFileError
from record.detections import ObjectTable
from record.errors import DataFormatError
from record.fileio import atomic_write_text

__all__ = ["read_annotations", "read_detections", "scan_annotations", "write_detections"]


def _parse_line(
    path: Path, line_no: int, fields: list[str], n_fields: int, class_index: dict[str, int]
) -> tuple[int, int, float, float, float]:
    """(frame, class id, range, azimuth, score) of one non-blank line; raises :class:`DataFileError`."""
    layout = "frame range_m azimuth_rad class_name" + (" score" if n_fields == 5 else "")
    text = " ".join(fields)
    if len(fields) != n_fields:
        raise DataFileError(
            "malformed line",
            f"{path}:{line_no}: malformed line {text!r} (found {len(fields)} fields, expected {n_fields}: {layout})",
        )
    try:
        frame = int(fields[0])
        range_m, azimuth = float(fields[1]), float(fields[2])
        score = float(fields[4]) if n_fields == 5 else 1.0
    except ValueError:
        raise DataFileError(
            "malformed line",
            f"{path}:{line_no}: malformed line {text!r} (expected {layout} with numeric fields)",
        ) from None
    if frame < 0:
        raise DataFileError("malformed line", f"{path}:{line_no}: negative frame index {frame}")
    if not (np.isfinite(range_m) and np.isfinite(azimuth)):
        raise DataFileError(
            "malformed line", f"{path}:{line_no}: non-finite range or azimuth ({range_m}, {azimuth})"
        )
    if fields[3] not in class_index:
        known = ", ".join(class_index)
        raise DataFileError(
            "unknown class", f"{path}:{line_no}: unknown class {fields[3]!r} (expected one of {known})"
        )
    if not 0.0 < score <= 1.0:
        raise DataFileError("malformed line", f"{path}:{line_no}: score {fields[4]} outside (0, 1]")
    return frame, class_index[fields[3]], range_m, azimuth, score


def _well_formed(n_fields: int) -> re.Pattern[str]:
    """Whole texts whose every line is blank or holds exactly ``n_fields`` fields separated by spaces or tabs
    (anything else, e.g. other whitespace, goes to the line parser)."""
    line = rf"[ \t\r]*(?:\S+[ \t\r]+){{{n_fields - 1}}}\S+[ \t\r]*"
    return re.compile(rf"(?:(?:{line}|[ \t\r]*)\n)*(?:{line}|[ \t\r]*)")


_WELL_FORMED = {n_fields: _well_formed(n_fields) for n_fields in (4, 5)}


def _parse_columns(text: str, n_fields: int, classes: tuple[str, ...]) -> ObjectTable | None:
    """Vectorised parse of a well-formed file; None when anything is off (the line parser then names the line)."""
    if _WELL_FORMED[n_fields].fullmatch(text) is None:
        return None
    tokens = text.split()
    n_lines = len(tokens) // n_fields
    columns = [tokens[i::n_fields] for i in range(n_fields)]
    try:
        frame = np.array(columns[0], dtype=np.int64)
        range_m, azimuth = np.array(columns[1], dtype=np.float64), np.array(columns[2], dtype=np.float64)
        score = np.array(columns[4], dtype=np.float64) if n_fields == 5 else np.ones(n_lines)
    except ValueError:
        return None
    names, class_id = np.unique(np.array(columns[3]), return_inverse=True)
    if not set(names.tolist()) <= set(classes):
        return None
    if np.any(frame < 0) or not np.all(np.isfinite(range_m) & np.isfinite(azimuth)):
        return None
    if not np.all((score > 0.0) & (score <= 1.0)):
        return None
    ids = np.array([classes.index(name) for name in names.tolist()], dtype=np.int64)[class_id.reshape(-1)]
    return ObjectTable(frame, ids, range_m, azimuth, score, classes)


def _parse(
    path: Path, n_fields: int, classes: tuple[str, ...], problems: list[DataFileError] | None = None
) -> ObjectTable:
    """Parse a text file; the first bad line raises, or every bad line is appended to ``problems`` and skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError("missing file", f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise DataFileError("malformed line", f"{path}: not a UTF-8 text file ({error.reason})") from None
    if problems is None:
        table = _parse_columns(text, n_fields, classes)
        if table is not None:
            return table
    class_index = {name: i for i, name in enumerate(classes)}
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            rows.append(_parse_line(path, line_no, fields, n_fields, class_index))
        except DataFileError as error:
            if problems is None:
                raise
            problems.append(error)
    frames, class_ids, ranges, azimuths, scores = zip(*rows) if rows else ((), (), (), (), ())
    return ObjectTable(
        np.asarray(frames, dtype=np.int64),
        np.asarray(class_ids, dtype=np.int64),
        np.asarray(ranges, dtype=np.float64),
        np.asarray(azimuths, dtype=np.float64),
        np.asarray(scores, dtype=np.float64),
        classes,
    )


def read_annotations(path: str | os.PathLike[str], classes: tuple[str, ...] = ROD2021_CLASSES) -> ObjectTable:
    """Ground-truth objects of one sequence (score 1), in file order."""
    return _parse(Path(path), 4, classes)


def scan_annotations(
    path: str | os.PathLike[str], classes: tuple[str, ...] = ROD2021_CLASSES
) -> tuple[ObjectTable, list[DataFileError]]:
    """The valid objects of an annotation file and one problem per bad line (for ``record data check``)."""
    problems: list[DataFileError] = []
    return _parse(Path(path), 4, classes, problems), problems


def read_detections(path: str | os.PathLike[str], classes: tuple[str, ...] = ROD2021_CLASSES) -> ObjectTable:
    """Detections of one sequence in the submission format, in file order."""
    return _parse(Path(path), 5, classes)


def write_detections(path: str | os.PathLike[str], detections: ObjectTable) -> None:
    """Write detections in the submission format (atomically); scores must already lie in (0, 1]."""
    if len(detections) and not np.all((detections.score > 0) & (detections.score <= 1)):
        raise DataFormatError(f"{path}: refusing to write scores outside (0, 1]")
    names = detections.classes
    lines = [
        f"{f:d} {r:.4f} {a:.4f} {names[c]} {s:.4f}\n"
        for f, c, r, a, s in zip(
            detections.frame.tolist(),
            detections.class_id.tolist(),
            detections.range_m.tolist(),
            detections.azimuth_rad.tolist(),
            detections.score.tolist(),
        )
    ]
    atomic_write_text(path, "".join(lines))
