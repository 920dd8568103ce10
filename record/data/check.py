"""Validation of whole dataset trees (``record data check``): every problem is listed, tallied by kind.

Array files are checked from their headers (shape, dtype, truncation) without reading their data; ``deep=True``
also reads every array (finite values, one-hot masks). Problems are never raised: they are collected in a
:class:`CheckReport`, whose :meth:`CheckReport.render` lists them grouped by kind with counts.
"""

from __future__ import annotations

import functools
import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from record.data import carrada as cr
from record.data import rod2021 as rod
from record.data.files import ArraySpec, DataFileError, check_npy, load_npy, read_json, require_keys
from record.data.rod2021_files import scan_annotations
from record.errors import ConfigError
from record.sensors import ROD2021

__all__ = ["CheckReport", "Problem", "check_carrada", "check_rod2021"]


@dataclass(frozen=True)
class Problem:
    """One problem: its kind (e.g. ``"missing frame"``) and a message naming the file."""

    kind: str
    message: str


@dataclass
class CheckReport:
    """Problems found in a tree and what was looked at.

    Attributes:
        dataset: ``"rod2021"`` or ``"carrada"``.
        root: the tree's root folder.
        problems: every problem, in the order found.
        counts: what was checked (``sequences``, ``frames``, ``files``, ``objects``, ...).
        description: e.g. the ROD2021 layout kind.
    """

    dataset: str
    root: Path
    problems: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    description: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, message: str) -> None:
        self.problems.append(Problem(kind, message))

    def add_error(self, error: DataFileError) -> None:
        self.add(error.kind, str(error))

    def by_kind(self) -> dict[str, list[Problem]]:
        """Problems grouped by kind, kinds in the order first found."""
        groups: dict[str, list[Problem]] = defaultdict(list)
        for problem in self.problems:
            groups[problem.kind].append(problem)
        return dict(groups)

    def summary(self) -> str:
        checked = ", ".join(f"{value} {name}" for name, value in self.counts.items())
        what = f"{self.dataset} tree {self.root}" + (f" ({self.description})" if self.description else "")
        if self.ok:
            return f"OK: {what}: {checked}; no problems"
        return f"{what}: {len(self.problems)} problem(s) of {len(self.by_kind())} kind(s) ({checked})"

    def render(self, limit: int | None = 20) -> str:
        """Summary line, then each kind with its count and its problems (at most ``limit`` per kind; None: all)."""
        lines = [self.summary()]
        for kind, problems in self.by_kind().items():
            lines.append(f"  {kind}: {len(problems)}")
            shown = problems if limit is None else problems[:limit]
            lines += [f"    {problem.message}" for problem in shown]
            if len(shown) < len(problems):
                lines.append(f"    ... and {len(problems) - len(shown)} more")
        return "\n".join(lines)


def _check_array(report: CheckReport, path: Path, spec: ArraySpec, deep: bool) -> np.ndarray | None:
    """Check one array file; returns its data when ``deep`` and readable."""
    report.counts["files"] += 1
    try:
        if not deep:
            check_npy(path, spec)
            return None
        data = load_npy(path, spec)
    except DataFileError as error:
        report.add_error(error)
        return None
    bad = int(np.count_nonzero(~np.isfinite(data))) if data.dtype.kind in "fc" else 0
    if bad:
        report.add("non-finite values", f"{path}: {bad} NaN or infinite value(s)")
    return data


def _progress(items: Iterable[Any], progress: bool, what: str) -> Iterator[Any]:
    yield from tqdm(items, desc=what, unit="seq", disable=not progress, leave=False)


# ---------------------------------------------------------------------------------------------------- ROD2021
def check_rod2021(root: str | os.PathLike[str], *, deep: bool = False, progress: bool = False) -> CheckReport:
    """Check a ROD2021 tree (reorganised or plain layout)."""
    root = Path(root)
    report = CheckReport("rod2021", root)
    layout = rod.Rod2021Layout(root)
    if not (root / "sequences").is_dir():
        report.add(
            "missing folder", f"{root / 'sequences'}: folder not found (expected sequences/<split>/<SEQ>)"
        )
        return report
    try:
        folders = layout.sequence_folders()
    except DataFileError as error:
        report.add_error(error)
        return report
    report.description = f"{layout.kind} layout"
    if not folders:
        report.add(
            "empty sequence", f"{root / 'sequences'}: no sequence folders under train/, valid/ or test/"
        )
    for sequence, folder in _progress(folders.items(), progress, "rod2021"):
        report.counts["sequences"] += 1
        _check_rod_name(report, layout, sequence, folder)
        n_frames = _check_rod_radar(report, layout.sequence_dir(sequence) / rod.CHIRP_FOLDER, deep)
        _check_rod_annotations(report, layout, sequence, folder, n_frames)
    for split in rod.SPLITS:
        for path in sorted((root / "annotations" / split).glob("*.txt")):
            if path.stem not in folders:
                report.add(
                    "annotation without sequence", f"{path}: no sequence folder {path.stem} in sequences/"
                )
    return report


def _check_rod_name(report: CheckReport, layout: rod.Rod2021Layout, sequence: str, folder: str) -> None:
    where = layout.sequence_dir(sequence)
    if not rod.SEQUENCE_NAME.match(sequence):
        report.add(
            "bad sequence name", f"{where}: name does not follow YYYY_MM_DD_<SCENE><NNN> in upper case"
        )
    published = rod.PUBLISHED_SPLITS.get(sequence)
    expected = (
        published if layout.kind == "reorganised" or published == "test" else ("train" if published else None)
    )
    if expected is not None and folder != expected:
        report.add("split mismatch", f"{where}: published split is {published}, found in sequences/{folder}")


def _check_rod_radar(report: CheckReport, folder: Path, deep: bool) -> int:
    """Check a ``RADAR_RA_H`` folder; returns the number of frames (last frame index + 1)."""
    if not folder.is_dir():
        report.add("missing folder", f"{folder}: folder not found")
        return 0
    chirps_of: dict[int, set[int]] = defaultdict(set)
    for name in sorted(os.listdir(folder)):
        parsed = rod.parse_chirp_file_name(name)
        if parsed is None or parsed[1] not in ROD2021.chirp_ids:
            report.add(
                "unexpected file", f"{folder / name}: not <frame:06d>_<chirp:04d>.npy with a published chirp"
            )
            continue
        chirps_of[parsed[0]].add(parsed[1])
        _check_array(report, folder / name, rod.CHIRP_SPEC, deep)
    if not chirps_of:
        report.add("empty sequence", f"{folder}: no chirp files")
        return 0
    n_frames = max(chirps_of) + 1
    for frame in range(n_frames):
        missing = sorted(set(ROD2021.chirp_ids) - chirps_of.get(frame, set()))
        if missing:
            names = ", ".join(rod.chirp_file_name(frame, chirp) for chirp in missing)
            report.add("missing frame", f"{folder}: frame {frame:06d} lacks {names}")
    report.counts["frames"] += n_frames
    return n_frames


def _check_rod_annotations(
    report: CheckReport, layout: rod.Rod2021Layout, sequence: str, folder: str, n_frames: int
) -> None:
    path = layout.annotation_path(sequence)
    if not path.is_file():
        if folder != "test":
            elsewhere = [
                s for s in rod.SPLITS if (layout.root / "annotations" / s / f"{sequence}.txt").is_file()
            ]
            if elsewhere:
                report.add(
                    "split mismatch", f"{path}: missing, but annotations/{elsewhere[0]}/{sequence}.txt exists"
                )
            else:
                report.add("missing annotations", f"{path}: file not found")
        return
    table, problems = scan_annotations(path)
    for problem in problems:
        report.add_error(problem)
    report.counts["objects"] += len(table)
    grid_range, resolution = ROD2021.range.span_m, ROD2021.range.resolution_m
    on_grid = (
        (table.range_m >= grid_range[0] - resolution / 2)
        & (table.range_m <= grid_range[1] + resolution / 2)
        & (np.abs(table.azimuth_rad) <= math.pi / 2)
    )
    in_gate = rod.EVALUATION_GATE.contains(table.range_m, table.azimuth_rad)
    gate = rod.EVALUATION_GATE
    for f, c, r, a, grid_ok, gate_ok in zip(
        table.frame, table.class_id, table.range_m, table.azimuth_rad, on_grid, in_gate
    ):
        what = f"{path}: frame {f} {table.classes[c]} at {r:.2f} m, {a:.3f} rad"
        if f >= n_frames:
            report.add("annotation beyond last frame", f"{what}: the sequence has {n_frames} frames")
        if not grid_ok:
            report.add(
                "annotation outside grid",
                f"{what}: outside the map ({grid_range[0]:.2f}-{grid_range[1]:.2f} m, |azimuth| <= 90 deg)",
            )
        elif not gate_ok:
            limits = f"{gate.min_range_m:g}-{gate.max_range_m:g} m, |azimuth| <= 60 deg"
            report.add(
                "annotation outside evaluation gate", f"{what}: outside the evaluation gate ({limits})"
            )


# ---------------------------------------------------------------------------------------------------- CARRADA
def check_carrada(
    root: str | os.PathLike[str],
    *,
    rad_root: str | os.PathLike[str] | None = None,
    window: int = 5,
    deep: bool = False,
    progress: bool = False,
) -> CheckReport:
    """Check a CARRADA tree: root JSON files, views and masks of the listed frames and of their history,
    annotation JSONs (class ids, indices on the grid), optional RAD cubes.

    The history is what windows of ``window`` frames read with ``start="skip"`` (the published default): the
    frames before each light-list frame at position ``window - 1`` or later, by id arithmetic. Views and dense
    masks are required for all of it (online clips read a mask per frame), so a tree that passes reads with
    :mod:`record.data.carrada_datasets` windows of ``length=window`` (published: 5 buffer, 10 online).
    """
    if window < 1:
        raise ConfigError(f"check_carrada: window must be at least 1 (found {window})")
    layout = cr.CarradaLayout(root, rad_root)
    report = CheckReport("carrada", layout.root, description=f"history of {window} frames")
    seq_ref = _read_document(report, layout.data_seq_ref_path, cr.data_seq_ref_problems)
    light = _read_document(report, layout.light_path, cr.light_problems)
    try:
        validated = set(layout.validated_sequences())
    except DataFileError as error:
        report.add_error(error)
        validated = None
    if not isinstance(light, dict):
        return report
    for sequence, frames in _progress(light.items(), progress, "carrada"):
        report.counts["sequences"] += 1
        _check_carrada_entry(report, layout, sequence, seq_ref, validated)
        if not isinstance(frames, list) or not all(map(cr.is_frame_id, frames)):
            continue  # reported with the light file
        if not frames:
            report.add("empty sequence", f"{layout.light_path}: sequence {sequence!r} lists no frames")
            continue
        if not layout.sequence_dir(sequence).is_dir():
            report.add("missing folder", f"{layout.sequence_dir(sequence)}: sequence folder not found")
            continue
        report.counts["frames"] += len(frames)
        needed = _history_frames(report, layout, sequence, frames, window)
        _check_carrada_views(report, layout, sequence, needed, deep)
        _check_carrada_masks(report, layout, sequence, needed, deep)
        if rad_root is not None:
            for frame in frames:
                _check_array(report, layout.rad_path(sequence, frame), cr.RAD_SPEC, deep)
    if layout.frame_oriented_path.is_file():
        _check_frame_oriented(report, layout, list(light))
    return report


def _read_document(
    report: CheckReport, path: Path, problems: Callable[[Path, Any], Iterator[DataFileError]] | None = None
) -> Any:
    """Parse a JSON file and record its schema problems; None when it cannot be read or is not an object."""
    try:
        document = read_json(path)
        require_keys(path, "top level", document, ())
    except DataFileError as error:
        report.add_error(error)
        return None
    for problem in problems(path, document) if problems is not None else ():
        report.add_error(problem)
    return document


def _check_carrada_entry(
    report: CheckReport, layout: cr.CarradaLayout, sequence: str, seq_ref: Any, validated: set[str] | None
) -> None:
    if isinstance(seq_ref, dict):
        entry = seq_ref.get(sequence)
        if entry is None:
            report.add("missing JSON key", f"{layout.data_seq_ref_path}: sequence {sequence!r} is missing")
        elif isinstance(entry, dict) and sequence in cr.PUBLISHED_SPLITS:
            split, published = entry.get("split"), cr.PUBLISHED_SPLITS[sequence]
            if isinstance(split, str) and split.lower() != published.lower():
                report.add(
                    "split mismatch",
                    f"{layout.data_seq_ref_path}: {sequence} is {split!r}, published {published!r}",
                )
    if validated is not None and sequence not in validated:
        report.add(
            "sequence list mismatch", f"{layout.root / 'validated_seqs.txt'}: {sequence} is not listed"
        )


def _check_frame_oriented(report: CheckReport, layout: cr.CarradaLayout, sequences: list[str]) -> None:
    path = layout.frame_oriented_path
    document = _read_document(report, path)
    if not isinstance(document, dict):
        return
    for sequence in sequences:
        if sequence not in document:
            report.add("missing JSON key", f"{path}: sequence {sequence!r} is missing")
            continue
        for problem in cr.frame_annotation_problems(path, sequence, document[sequence]):
            report.add_error(problem)


def _history_frames(
    report: CheckReport, layout: cr.CarradaLayout, sequence: str, frames: list[str], window: int
) -> dict[str, bool]:
    """Ids that windows of ``window`` frames read (sorted) -> whether the light list holds them.

    Windows whose history would start before ``000000`` are reported.
    """
    needed = dict.fromkeys(frames)
    for position, frame in enumerate(frames):
        if position >= window - 1:
            try:
                needed.update(dict.fromkeys(cr.history_ids(frame, window)))
            except DataFileError as error:
                report.add(error.kind, f"{layout.light_path}: {sequence}: {error}")
    listed = set(frames)
    return {frame: frame in listed for frame in sorted(needed)}


def _check_needed(
    report: CheckReport, path: Path, spec: ArraySpec, deep: bool, listed: bool, kinds: tuple[str, str]
) -> np.ndarray | None:
    """Check a file a listed frame (``kinds[0]`` when missing) or a history frame (``kinds[1]``) needs."""
    if not path.is_file():
        kind, note = (kinds[0], "") if listed else (kinds[1], " (history frame)")
        report.add(kind, f"{path}: file not found{note}")
        return None
    return _check_array(report, path, spec, deep)


def _check_carrada_views(
    report: CheckReport, layout: cr.CarradaLayout, sequence: str, needed: dict[str, bool], deep: bool
) -> None:
    for view, stem in cr.VIEWS.items():
        for signal in cr.SIGNALS:
            folder = layout.sequence_dir(sequence) / f"{stem}_{signal}"
            if not folder.is_dir():
                if signal == "processed":
                    report.add("missing folder", f"{folder}: folder not found")
                continue
            for frame, listed in needed.items():
                kinds = ("missing frame", "missing history")
                _check_needed(report, folder / f"{frame}.npy", cr.view_spec(view), deep, listed, kinds)


def _check_carrada_masks(
    report: CheckReport, layout: cr.CarradaLayout, sequence: str, needed: dict[str, bool], deep: bool
) -> None:
    for frame, listed in needed.items():
        for view in cr.MASK_VIEWS:
            path = layout.mask_path(sequence, frame, view)
            kinds = ("missing mask", "missing history mask")
            data = _check_needed(report, path, cr.mask_spec(view), deep, listed, kinds)
            problem = None if data is None else cr.one_hot_problem(path, data)
            if problem is not None:
                report.add_error(problem)
    for view in cr.MASK_VIEWS:
        path = layout.box_path(sequence, view)
        if path.is_file():
            _read_document(report, path, functools.partial(cr.box_problems, view=view))
