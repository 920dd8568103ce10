"""The CARRADA dataset on disk: root JSON files, per-frame views, dense masks and the optional RAD tree.

Layout (``root`` is the ``Carrada/`` folder)::

    data_seq_ref.json                      {seq: {instances, labels, ref_frame, min/max_frame_boundaries, split}}
    light_dataset_frame_oriented.json      {seq: ["000000", "000001", ...]}   the frames models iterate over
    validated_seqs.txt                     one sequence name per line
    annotations_frame_oriented.json        optional: seq -> frame -> instance -> view -> {sparse, box, dense, label}
    <seq>/range_doppler_processed/<frame>.npy     (256, 64)  [range, Doppler], row 0 = near
    <seq>/range_angle_processed/<frame>.npy       (256, 256) [range, angle],   row 0 = far
    <seq>/angle_doppler_processed/<frame>.npy     (256, 64)  [angle, Doppler]
    <seq>/{range_doppler,range_angle,angle_doppler}_raw/...   linear power (``*_processed`` = 10 log10(1 + raw))
    <seq>/{range_doppler,range_angle}_numpy/...               RD = processed, RA = max of RAD over Doppler
    <seq>/annotations/dense/<frame>/{range_doppler,range_angle}.npy   (4, H, W) one-hot masks
    <seq>/annotations/box/{range_doppler,range_angle}_light.json      optional: {frame: {boxes, labels}}
    <rad_root>/<seq>/RAD_numpy/<frame>.npy        optional separate tree, (256, 256, 64) [range, angle, Doppler]

Frame ids are 6-digit strings; the frames before a frame (its history) are found by id arithmetic, so a sequence
folder holds contiguous ids even when the light list does not. Doppler column 32 is zero velocity with approaching
targets above it; angle columns grow with azimuth (see :data:`record.sensors.CARRADA`).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from record.classes import CARRADA_CLASSES
from record.data.files import (
    FLOAT_DTYPES,
    MAGNITUDE_DTYPES,
    MASK_DTYPES,
    ArraySpec,
    DataFileError,
    load_npy,
    read_json,
    require_keys,
)
from record.errors import ConfigError, describe
from record.sensors import CARRADA

__all__ = [
    "DATA_SEQ_REF_KEYS",
    "FRAME_ANNOTATION_KEYS",
    "INSTANCE_LABELS",
    "MASK_VIEWS",
    "PUBLISHED_SPLITS",
    "RAD_SPEC",
    "SIGNALS",
    "SPLITS",
    "TVT_STATS",
    "VIEWS",
    "CarradaLayout",
    "ViewStats",
    "box_problems",
    "data_seq_ref_problems",
    "frame_annotation_problems",
    "frame_id",
    "history_ids",
    "is_frame_id",
    "light_problems",
    "mask_spec",
    "normalise_tvt",
    "one_hot_problem",
    "validate_one_hot",
    "view_spec",
]

#: Split names as written in ``data_seq_ref.json``.
SPLITS: tuple[str, ...] = ("Train", "Validation", "Test")
#: The published split of the 30 CARRADA sequences (datasets.md §1.8; also in every ``data_seq_ref.json``).
PUBLISHED_SPLITS: dict[str, str] = {
    **{
        f"{day}-{time}": "Train"
        for day, times in (
            (
                "2019-09-16",
                (
                    "12-52-12",
                    "12-55-51",
                    "12-58-42",
                    "13-03-38",
                    "13-11-12",
                    "13-14-29",
                    "13-20-20",
                    "13-25-35",
                ),
            ),
            (
                "2020-02-28",
                (
                    "12-12-16",
                    "12-16-05",
                    "12-22-05",
                    "13-05-44",
                    "13-06-53",
                    "13-09-58",
                    "13-10-51",
                    "13-12-42",
                    "13-13-43",
                    "13-15-36",
                ),
            ),
        )
        for time in times
    },
    **dict.fromkeys(
        (
            "2019-09-16-13-06-41",
            "2019-09-16-13-23-22",
            "2020-02-28-12-17-57",
            "2020-02-28-12-20-22",
            "2020-02-28-13-07-38",
            "2020-02-28-13-11-45",
        ),
        "Validation",
    ),
    **dict.fromkeys(
        (
            "2019-09-16-13-13-01",
            "2019-09-16-13-18-33",
            "2020-02-28-12-13-54",
            "2020-02-28-12-23-30",
            "2020-02-28-13-08-51",
            "2020-02-28-13-14-35",
        ),
        "Test",
    ),
}
#: Keys every ``data_seq_ref.json`` entry holds.
DATA_SEQ_REF_KEYS: tuple[str, ...] = (
    "instances",
    "labels",
    "ref_frame",
    "min_frame_boundaries",
    "max_frame_boundaries",
    "split",
)
#: View key -> folder stem (``<stem>_<signal>``) and mask file stem.
VIEWS: dict[str, str] = {"rd": "range_doppler", "ra": "range_angle", "ad": "angle_doppler"}
#: Views that carry label masks.
MASK_VIEWS: tuple[str, ...] = ("rd", "ra")
_MASK_STEMS: dict[str, str] = {VIEWS[key]: key for key in MASK_VIEWS}  # mask file stem -> view key
#: Label ids of annotated instances in the JSON files (mask channel 0 is background).
INSTANCE_LABELS: tuple[int, ...] = tuple(range(1, len(CARRADA_CLASSES)))
#: Signal kinds of the view folders: dB maps, linear power, and the ``*_numpy`` duplicates.
SIGNALS: tuple[str, ...] = ("processed", "raw", "numpy")

_FRAME_ID = re.compile(r"^\d{6}$")
#: A RAD cube ``[range, angle, Doppler]``, real magnitudes or complex values.
RAD_SPEC = ArraySpec(CARRADA.view("rad").shape, MAGNITUDE_DTYPES, "CARRADA RAD cube")


@dataclass(frozen=True)
class ViewStats:
    """Global statistics of one ``*_processed`` view over the dataset (dB), as published with MVRSS."""

    min_db: float
    max_db: float
    mean_db: float
    std_db: float


#: The published 'tvt' statistics (MVRSS ``{rd,ra,ad}_stats_all.json``, also used by RECORD).
TVT_STATS: dict[str, ViewStats] = {
    "rd": ViewStats(min_db=37.595, max_db=119.083, mean_db=58.47, std_db=3.75),
    "ra": ViewStats(min_db=40.409, max_db=103.805, mean_db=56.00, std_db=5.76),
    "ad": ViewStats(min_db=54.426, max_db=105.797, mean_db=59.62, std_db=4.21),
}


def normalise_tvt(array: np.ndarray, view: str) -> np.ndarray:
    """'tvt' min-max normalisation of a ``*_processed`` map: ``(x - min) / (max - min)``, float32."""
    stats = TVT_STATS[_view_key(view)]
    scale = np.float32(1.0 / (stats.max_db - stats.min_db))
    return (np.asarray(array, dtype=np.float32) - np.float32(stats.min_db)) * scale


def is_frame_id(value: object) -> bool:
    """True for a 6-digit frame id string such as ``"000123"``."""
    return isinstance(value, str) and _FRAME_ID.match(value) is not None


def frame_id(index: int) -> str:
    """The 6-digit id of frame ``index``."""
    if index < 0:
        raise ConfigError(f"frame index must be non-negative (found {index})")
    return f"{index:06d}"


def history_ids(frame: str, length: int, *, pad: bool = False) -> list[str]:
    """Ids of the ``length`` frames ending at ``frame`` (oldest first), by id arithmetic.

    Ids before ``000000`` raise :class:`DataFileError`, or repeat ``000000`` when ``pad`` is True.
    """
    end = int(frame)
    ids = [end - k for k in range(length - 1, -1, -1)]
    if ids[0] < 0 and not pad:
        message = f"frame {frame} has no {length - 1} earlier frames (history starts at 000000)"
        raise DataFileError("missing history", message)
    return [frame_id(max(i, 0)) for i in ids]


def one_hot_problem(path: str | os.PathLike[str], mask: np.ndarray) -> DataFileError | None:
    """Why a ``(4, H, W)`` mask is not one-hot (0/1 values, exactly one active class per pixel), or None."""
    values = np.asarray(mask)
    if not np.all((values == 0) | (values == 1)):
        bad = np.unique(values[(values != 0) & (values != 1)])[:5]
        return DataFileError(
            "mask not one-hot", describe(path, "mask values must be 0 or 1", found=bad.tolist())
        )
    active = values.sum(axis=0)
    if np.all(active == 1):
        return None
    rows, cols = np.nonzero(active != 1)
    problem = f"mask is not one-hot at {rows.size} pixel(s), first at (row {rows[0]}, col {cols[0]})"
    found = f"{int(active[rows[0], cols[0]])} active classes"
    return DataFileError("mask not one-hot", describe(path, problem, found=found, expected=1))


def validate_one_hot(path: str | os.PathLike[str], mask: np.ndarray) -> np.ndarray:
    """``mask`` as float32 after checking it is one-hot (:func:`one_hot_problem`)."""
    problem = one_hot_problem(path, mask)
    if problem is not None:
        raise problem
    return np.asarray(mask).astype(np.float32, copy=False)


def data_seq_ref_problems(path: str | os.PathLike[str], document: Any) -> Iterator[DataFileError]:
    """Every schema problem of a parsed ``data_seq_ref.json``: missing keys, unknown splits."""
    try:
        require_keys(path, "top level", document, ())
    except DataFileError as error:
        yield error
        return
    for sequence, entry in document.items():
        try:
            require_keys(path, f"sequence {sequence!r}", entry, DATA_SEQ_REF_KEYS)
        except DataFileError as error:
            yield error
            continue
        split = entry["split"]
        if not isinstance(split, str) or split.lower() not in {s.lower() for s in SPLITS}:
            problem = f"sequence {sequence!r} has an unknown split"
            yield DataFileError(
                "unknown split", describe(path, problem, found=repr(split), expected=" | ".join(SPLITS))
            )
        yield from _label_problems(path, f"sequence {sequence!r}", entry["labels"])


def light_problems(path: str | os.PathLike[str], document: Any) -> Iterator[DataFileError]:
    """Every schema problem of a parsed ``light_dataset_frame_oriented.json``."""
    try:
        require_keys(path, "top level", document, ())
    except DataFileError as error:
        yield error
        return
    for sequence, frames in document.items():
        if not isinstance(frames, list):
            problem = f"sequence {sequence!r} must map to a list of frame ids"
            yield DataFileError("wrong JSON type", describe(path, problem, found=type(frames).__name__))
            continue
        bad = [f for f in frames if not is_frame_id(f)]
        if bad:
            problem = f"sequence {sequence!r} holds {len(bad)} malformed frame id(s)"
            expected = "6-digit strings such as '000123'"
            yield DataFileError(
                "malformed frame id", describe(path, problem, found=bad[:3], expected=expected)
            )


def _raise_first(problems: Iterator[DataFileError]) -> None:
    for problem in problems:
        raise problem


def _view_key(view: str) -> str:
    key = view.lower()
    if key in VIEWS:
        return key
    stems = {stem: key for key, stem in VIEWS.items()}
    if key in stems:
        return stems[key]
    raise ConfigError(f"unknown CARRADA view {view!r} (expected one of {', '.join(VIEWS)})")


def _split_name(split: str) -> str:
    for name in SPLITS:
        if split.lower() == name.lower():
            return name
    raise ConfigError(
        f"unknown CARRADA split {split!r} (expected one of {', '.join(s.lower() for s in SPLITS)})"
    )


def view_spec(view: str) -> ArraySpec:
    """The array spec of a CARRADA view map (``rd``, ``ra`` or ``ad``)."""
    key = _view_key(view)
    return ArraySpec(CARRADA.view(key).shape, FLOAT_DTYPES, f"CARRADA {key.upper()} map")


def mask_spec(view: str) -> ArraySpec:
    """The array spec of a CARRADA label mask (``rd`` or ``ra``): ``(4, H, W)``."""
    key = _view_key(view)
    return ArraySpec(
        (len(CARRADA_CLASSES), *CARRADA.view(key).shape), MASK_DTYPES, f"CARRADA {key.upper()} mask"
    )


class CarradaLayout:
    """Paths and validated reads of a CARRADA tree.

    Args:
        root: the ``Carrada/`` folder (holding ``data_seq_ref.json``).
        rad_root: the separate ``Carrada_RAD/`` folder, or None when RAD cubes are not used.
    """

    def __init__(self, root: str | os.PathLike[str], rad_root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root)
        self.rad_root = None if rad_root is None else Path(rad_root)

    def __repr__(self) -> str:
        rad_root = None if self.rad_root is None else str(self.rad_root)
        return f"CarradaLayout({str(self.root)!r}, rad_root={rad_root!r})"

    # ---------------------------------------------------------------- root files
    @property
    def data_seq_ref_path(self) -> Path:
        return self.root / "data_seq_ref.json"

    @property
    def light_path(self) -> Path:
        return self.root / "light_dataset_frame_oriented.json"

    @functools.cached_property
    def data_seq_ref(self) -> dict[str, dict[str, Any]]:
        """``data_seq_ref.json``: every entry checked for the published keys and split."""
        document = read_json(self.data_seq_ref_path)
        _raise_first(data_seq_ref_problems(self.data_seq_ref_path, document))
        return document

    @functools.cached_property
    def light(self) -> dict[str, list[str]]:
        """``light_dataset_frame_oriented.json``: sequence -> list of 6-digit frame ids."""
        document = read_json(self.light_path)
        _raise_first(light_problems(self.light_path, document))
        return document

    def validated_sequences(self) -> list[str]:
        """Names in ``validated_seqs.txt``, in file order."""
        path = self.root / "validated_seqs.txt"
        try:
            return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except FileNotFoundError:
            raise DataFileError("missing file", describe(path, "file not found")) from None

    # ---------------------------------------------------------------- sequences and frames
    def split_of(self, sequence: str) -> str:
        """Split of ``sequence`` as written in ``data_seq_ref.json`` (``Train``, ``Validation`` or ``Test``)."""
        try:
            entry = self.data_seq_ref[sequence]
        except KeyError:
            message = describe(self.data_seq_ref_path, f"sequence {sequence!r} is missing")
            raise DataFileError("missing JSON key", message) from None
        return _split_name(entry["split"])

    def all_sequences(self) -> list[str]:
        """Every sequence of the light list, in its order."""
        return list(self.light)

    def sequences(self, split: str) -> list[str]:
        """Sequences of ``split`` (``train``, ``validation`` or ``test``, any case) in light-list order."""
        wanted = _split_name(split)
        return [sequence for sequence in self.light if self.split_of(sequence) == wanted]

    def frames(self, sequence: str) -> list[str]:
        """6-digit frame ids of ``sequence`` from the light list, in order."""
        try:
            return list(self.light[sequence])
        except KeyError:
            message = describe(self.light_path, f"sequence {sequence!r} is missing")
            raise DataFileError("missing JSON key", message) from None

    # ---------------------------------------------------------------- views
    def sequence_dir(self, sequence: str) -> Path:
        return self.root / sequence

    def view_path(self, sequence: str, frame: str, view: str, signal: str = "processed") -> Path:
        if signal not in SIGNALS:
            raise ConfigError(f"unknown CARRADA signal {signal!r} (expected one of {', '.join(SIGNALS)})")
        return self.root / sequence / f"{VIEWS[_view_key(view)]}_{signal}" / f"{frame}.npy"

    def view(self, sequence: str, frame: str, view: str, signal: str = "processed") -> np.ndarray:
        """One frame of a view, float32 ``[H, W]`` in the published orientation (not normalised)."""
        array = load_npy(self.view_path(sequence, frame, view, signal), view_spec(view))
        return array.astype(np.float32, copy=False)

    # ---------------------------------------------------------------- masks
    def mask_path(self, sequence: str, frame: str, view: str, annotation: str = "dense") -> Path:
        key = _view_key(view)
        if key not in MASK_VIEWS:
            raise ConfigError(
                f"CARRADA has no masks for view {view!r} (expected one of {', '.join(MASK_VIEWS)})"
            )
        return self.root / sequence / "annotations" / annotation / frame / f"{VIEWS[key]}.npy"

    def mask(self, sequence: str, frame: str, view: str, annotation: str = "dense") -> np.ndarray:
        """Validated one-hot mask, float32 ``(4, H, W)`` over (background, pedestrian, cyclist, car)."""
        path = self.mask_path(sequence, frame, view, annotation)
        return validate_one_hot(path, load_npy(path, mask_spec(view)))

    # ---------------------------------------------------------------- RAD cubes
    def rad_path(self, sequence: str, frame: str) -> Path:
        if self.rad_root is None:
            raise ConfigError(
                "CarradaLayout: no rad_root given (the RAD cubes live in a separate Carrada_RAD tree)"
            )
        return self.rad_root / sequence / "RAD_numpy" / f"{frame}.npy"

    def rad(self, sequence: str, frame: str) -> np.ndarray:
        """RAD cube ``np.abs`` as float32 ``[range, angle, Doppler]`` = (256, 256, 64), row 0 = far."""
        return np.abs(load_npy(self.rad_path(sequence, frame), RAD_SPEC)).astype(np.float32, copy=False)

    # ---------------------------------------------------------------- annotation JSONs (optional files)
    @property
    def frame_oriented_path(self) -> Path:
        return self.root / "annotations_frame_oriented.json"

    @functools.cached_property
    def frame_oriented(self) -> dict[str, Any]:
        """``annotations_frame_oriented.json`` (optional file): seq -> frame -> instance -> view -> annotation."""
        document = read_json(self.frame_oriented_path)
        require_keys(self.frame_oriented_path, "top level", document, ())
        return document

    def frame_annotations(self, sequence: str) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        """Annotations of ``sequence`` from ``annotations_frame_oriented.json``: frame -> instance -> view -> entry.

        Each entry holds ``sparse`` and ``dense`` lists of index pairs, ``box`` ``[[r0, c0], [r1, c1]]`` and
        ``label`` (1 pedestrian, 2 cyclist, 3 car); views are ``range_doppler`` and ``range_angle``.
        """
        path = self.frame_oriented_path
        try:
            frames = self.frame_oriented[sequence]
        except KeyError:
            message = describe(path, f"sequence {sequence!r} is missing")
            raise DataFileError("missing JSON key", message) from None
        _raise_first(frame_annotation_problems(path, sequence, frames))
        return frames

    def box_path(self, sequence: str, view: str) -> Path:
        return self.root / sequence / "annotations" / "box" / f"{VIEWS[_view_key(view)]}_light.json"

    def boxes(self, sequence: str, view: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``annotations/box/<view>_light.json``: frame -> (boxes int64 ``[N, 4]``, labels int64 ``[N]``)."""
        path = self.box_path(sequence, view)
        document = read_json(path)
        _raise_first(box_problems(path, document, view))
        return {
            frame: (
                np.asarray(entry["boxes"], dtype=np.int64).reshape(-1, 4),
                np.asarray(entry["labels"], dtype=np.int64).reshape(-1),
            )
            for frame, entry in document.items()
        }


#: Keys of one view's entry in ``annotations_frame_oriented.json``.
FRAME_ANNOTATION_KEYS: tuple[str, ...] = ("sparse", "box", "dense", "label")


def frame_annotation_problems(
    path: str | os.PathLike[str], sequence: str, frames: Any
) -> Iterator[DataFileError]:
    """Every problem of one sequence's part of ``annotations_frame_oriented.json``: schema (the first of each
    frame), unknown views or class ids, index pairs off the view's grid."""
    try:
        require_keys(path, sequence, frames, ())
    except DataFileError as error:
        yield error
        return
    for frame, instances in frames.items():
        try:
            entries = list(_view_entries(path, f"{sequence}/{frame}", instances))
        except DataFileError as error:
            yield error
            continue
        for where, stem, entry in entries:
            yield from _view_entry_problems(path, where, stem, entry)


def _view_entries(
    path: str | os.PathLike[str], where: str, instances: Any
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(place, view file stem, entry) of every view entry of one frame; raises on the first schema problem."""
    require_keys(path, where, instances, ())
    for instance, views in instances.items():
        require_keys(path, f"{where}/{instance}", views, ())
        for stem, entry in views.items():
            require_keys(path, f"{where}/{instance}/{stem}", entry, FRAME_ANNOTATION_KEYS)
            yield f"{where}/{instance}/{stem}", stem, entry


def _view_entry_problems(
    path: str | os.PathLike[str], where: str, stem: str, entry: dict[str, Any]
) -> Iterator[DataFileError]:
    """Class id, view name and grid problems of one view entry (``range_doppler`` or ``range_angle``)."""
    yield from _label_problems(path, where, entry["label"])
    if stem not in _MASK_STEMS:
        problem = f"{where}: unknown view"
        expected = " | ".join(_MASK_STEMS)
        yield DataFileError("unknown view", describe(path, problem, found=repr(stem), expected=expected))
        return
    try:
        pairs = [np.asarray(entry[key], dtype=np.int64).reshape(-1, 2) for key in ("sparse", "box", "dense")]
    except (TypeError, ValueError):
        problem = f"{where}: sparse, box and dense must hold [row, col] index pairs"
        yield DataFileError("malformed annotation", describe(path, problem))
        return
    yield from _grid_problems(path, where, _MASK_STEMS[stem], np.concatenate(pairs))


def _label_problems(path: str | os.PathLike[str], where: str, labels: Any) -> Iterator[DataFileError]:
    """An ``unknown class`` problem when ``labels`` (one id or a list) holds anything but 1, 2 or 3."""
    values = labels if isinstance(labels, list) else [labels]
    unknown = [label for label in values if isinstance(label, bool) or label not in INSTANCE_LABELS]
    if unknown:
        expected = ", ".join(f"{i} {CARRADA_CLASSES[i]}" for i in INSTANCE_LABELS)
        problem = f"{where}: {len(unknown)} unknown class id(s)"
        yield DataFileError("unknown class", describe(path, problem, found=unknown[:3], expected=expected))


def _grid_problems(
    path: str | os.PathLike[str], where: str, view: str, pairs: np.ndarray
) -> Iterator[DataFileError]:
    """An ``annotation outside grid`` problem when (row, col) ``pairs`` ``[N, 2]`` leave the view's grid."""
    shape = CARRADA.view(view).shape
    off = np.any((pairs < 0) | (pairs >= np.asarray(shape)), axis=1)
    if off.any():
        problem = f"{where}: {int(off.sum())} index pair(s) outside the {view.upper()} grid {shape}"
        expected = f"rows 0-{shape[0] - 1}, columns 0-{shape[1] - 1}"
        message = describe(path, problem, found=pairs[off][:3].tolist(), expected=expected)
        yield DataFileError("annotation outside grid", message)


def box_problems(path: str | os.PathLike[str], document: Any, view: str) -> Iterator[DataFileError]:
    """Every problem of a parsed ``annotations/box/<view>_light.json`` (``view``: ``rd`` or ``ra``): schema,
    class ids, boxes off the view's grid."""
    try:
        require_keys(path, "top level", document, ())
    except DataFileError as error:
        yield error
        return
    for frame, entry in document.items():
        try:
            require_keys(path, f"frame {frame!r}", entry, ("boxes", "labels"))
        except DataFileError as error:
            yield error
            continue
        try:
            boxes = np.asarray(entry["boxes"], dtype=np.int64).reshape(-1, 4)
            n_labels = len(np.asarray(entry["labels"], dtype=np.int64).reshape(-1))
        except (TypeError, ValueError):
            expected = "boxes [[x0, y0, x1, y1], ...] and labels [int, ...]"
            yield DataFileError(
                "malformed box",
                describe(path, f"frame {frame!r}: malformed boxes or labels", expected=expected),
            )
            continue
        if len(boxes) != n_labels:
            problem = f"frame {frame!r}: boxes and labels differ in length"
            yield DataFileError("malformed box", describe(path, problem, found=(len(boxes), n_labels)))
        yield from _label_problems(path, f"frame {frame!r}", entry["labels"])
        yield from _grid_problems(path, f"frame {frame!r}", _view_key(view), boxes.reshape(-1, 2))
