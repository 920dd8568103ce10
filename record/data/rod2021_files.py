"""ROD2021 text files: annotations (ground truth) and detections in the submission format.

* Annotation ``annotations/<split>/<SEQ>.txt``: one object per line, ``<frame> <range_m> <azimuth_rad> <class>``.
* Submission / prediction ``<SEQ>.txt``: ``<frame> <range_m> <azimuth_rad> <class> <score>``, written with
  ``"%d %.4f %.4f %s %.4f"`` and scores in (0, 1] (cruw-devkit raises on scores above the ground truth's 1.0).

Frames without objects have no lines; blank lines are ignored. Every parse error names the file and line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from record.classes import ROD2021_CLASSES
from record.detections import ObjectTable
from record.errors import DataFormatError
from record.fileio import atomic_write_text

__all__ = ["read_annotations", "read_detections", "write_detections"]


def _parse(path: Path, n_fields: int, classes: tuple[str, ...]) -> ObjectTable:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFormatError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise DataFormatError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    class_index = {name: i for i, name in enumerate(classes)}
    frames, class_ids, ranges, azimuths, scores = [], [], [], [], []
    layout = "frame range_m azimuth_rad class_name" + (" score" if n_fields == 5 else "")
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != n_fields:
            raise DataFormatError(
                f"{path}:{line_no}: malformed line {line.strip()!r} "
                f"(found {len(fields)} fields, expected {n_fields}: {layout})"
            )
        try:
            frame = int(fields[0])
            range_m, azimuth = float(fields[1]), float(fields[2])
            score = float(fields[4]) if n_fields == 5 else 1.0
        except ValueError:
            raise DataFormatError(
                f"{path}:{line_no}: malformed line {line.strip()!r} (expected {layout} with numeric fields)"
            ) from None
        if frame < 0:
            raise DataFormatError(f"{path}:{line_no}: negative frame index {frame}")
        if not (np.isfinite(range_m) and np.isfinite(azimuth)):
            raise DataFormatError(f"{path}:{line_no}: non-finite range or azimuth ({range_m}, {azimuth})")
        if fields[3] not in class_index:
            raise DataFormatError(
                f"{path}:{line_no}: unknown class {fields[3]!r} (expected one of {', '.join(classes)})"
            )
        if not 0.0 < score <= 1.0:
            raise DataFormatError(f"{path}:{line_no}: score {fields[4]} outside (0, 1]")
        frames.append(frame)
        class_ids.append(class_index[fields[3]])
        ranges.append(range_m)
        azimuths.append(azimuth)
        scores.append(score)
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
