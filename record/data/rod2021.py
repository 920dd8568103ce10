"""The ROD2021 dataset on disk: sequences, splits, chirp maps and annotations.

Two layouts are read:

* **reorganised** (RECORD's ``reorganize_rod2021_record.sh``): ``sequences/{train,valid,test}/<SEQ>/RADAR_RA_H``
  and ``annotations/{train,valid}/<SEQ>.txt``;
* **plain** (RODNet's ``reorganize_rod2021.sh``): all 40 annotated sequences under ``sequences/train`` with
  ``annotations/train/<SEQ>.txt``; the ``valid`` split is the 4 published validation sequences
  (:data:`VALIDATION_SEQUENCES`), ``train`` the 36 others; ``sequences/test`` as above.

A layout is reorganised when ``sequences/valid`` exists. Each frame is 4 files
``RADAR_RA_H/<frame:06d>_<chirp:04d>.npy`` (chirps 0000/0064/0128/0192), each ``(128, 128, 2)`` float32 holding
the real and imaginary parts of one chirp loop's range-azimuth map: row 0 = 0.64 m (near), column 0 = -90 deg,
azimuth uniform in sin(theta) (:data:`record.sensors.ROD2021`). A sequence has (number of radar files) / 4 frames.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from record.data.files import ArraySpec, load_npy
from record.data.rod2021_files import read_annotations
from record.detections import ObjectTable
from record.errors import ConfigError, DataFormatError, describe
from record.sensors import ROD2021

__all__ = [
    "CHIRP_FOLDER",
    "CHIRP_SPEC",
    "EVALUATION_GATE",
    "PUBLISHED_SPLITS",
    "SEQUENCE_NAME",
    "SPLITS",
    "TEST_SEQUENCES",
    "TRAIN_SEQUENCES",
    "VALIDATION_SEQUENCES",
    "EvaluationGate",
    "Rod2021Layout",
    "chirp_file_name",
    "parse_chirp_file_name",
]

#: Splits of the reorganised layout (folder names under ``sequences/`` and ``annotations/``).
SPLITS: tuple[str, ...] = ("train", "valid", "test")
CHIRP_FOLDER = "RADAR_RA_H"
#: One chirp loop's complex range-azimuth map: ``[range, azimuth, (real, imag)]`` float32.
CHIRP_SPEC = ArraySpec((ROD2021.range.n_bins, ROD2021.azimuth.n_bins, 2), ("float32",), "ROD2021 chirp map")

#: RECORD's 4 validation sequences, taken from the 40 annotated training sequences.
VALIDATION_SEQUENCES: tuple[str, ...] = (
    "2019_04_09_PMS1000",
    "2019_04_30_MLMS001",
    "2019_05_29_MLMS006",
    "2019_09_29_ONRD005",
)
#: RECORD's 36 training sequences.
TRAIN_SEQUENCES: tuple[str, ...] = tuple(
    f"{date}_{scene}"
    for date, scenes in (
        ("2019_04_09", ("BMS1000", "BMS1001", "BMS1002", "CMS1002", "PMS1001", "PMS2000", "PMS3000")),
        ("2019_04_30", ("MLMS000", "MLMS002", "PBMS002", "PBMS003", "PCMS001", "PM2S003", "PM2S004")),
        ("2019_05_09", ("BM1S008", "CM1S004", "MLMS003", "PBMS004", "PCMS002")),
        ("2019_05_23", ("PM1S012", "PM1S013", "PM1S014", "PM1S015", "PM2S011")),
        ("2019_05_29", ("BCMS000", "BM1S016", "BM1S017", "PBMS007", "PCMS005", "PM2S015", "PM3S000")),
        ("2019_09_29", ("ONRD001", "ONRD002", "ONRD006", "ONRD011", "ONRD013")),
    )
    for scene in scenes
)
#: The 10 test sequences (labels withheld on the ROD2021 server).
TEST_SEQUENCES: tuple[str, ...] = (
    "2019_05_28_CM1S013",
    "2019_05_28_MLMS005",
    "2019_05_28_PBMS006",
    "2019_05_28_PCMS004",
    "2019_05_28_PM2S012",
    "2019_05_28_PM2S014",
    "2019_09_18_ONRD004",
    "2019_09_18_ONRD009",
    "2019_09_29_ONRD012",
    "2019_10_13_ONRD048",
)


@dataclass(frozen=True)
class EvaluationGate:
    """Range and azimuth limits of ROD2021 scoring (metres, radians)."""

    min_range_m: float = 1.0
    max_range_m: float = 25.0
    max_abs_azimuth_rad: float = math.radians(60.0)

    def contains(self, range_m: np.ndarray, azimuth_rad: np.ndarray) -> np.ndarray:
        """Boolean ``[N]``: inside the gate (limits included)."""
        r, a = np.asarray(range_m), np.asarray(azimuth_rad)
        return (r >= self.min_range_m) & (r <= self.max_range_m) & (np.abs(a) <= self.max_abs_azimuth_rad)


#: Where ROD2021 scoring looks (cruw-devkit ``load_txt.py``): objects and detections elsewhere are discarded.
EVALUATION_GATE = EvaluationGate()
#: Published sequence name -> its split in RECORD's reorganised layout.
PUBLISHED_SPLITS: dict[str, str] = {
    **dict.fromkeys(TRAIN_SEQUENCES, "train"),
    **dict.fromkeys(VALIDATION_SEQUENCES, "valid"),
    **dict.fromkeys(TEST_SEQUENCES, "test"),
}
#: ``YYYY_MM_DD_<SCENE><NNN>`` in upper case, e.g. ``2019_04_09_BMS1000``.
SEQUENCE_NAME = re.compile(r"^\d{4}_\d{2}_\d{2}_[A-Z0-9]*[A-Z][A-Z0-9]*\d{3}$")
_CHIRP_FILE = re.compile(r"^(\d{6})_(\d{4})\.npy$")


def chirp_file_name(frame: int, chirp: int) -> str:
    """``<frame:06d>_<chirp:04d>.npy``."""
    return f"{frame:06d}_{chirp:04d}.npy"


def parse_chirp_file_name(name: str) -> tuple[int, int] | None:
    """(frame, chirp) of a chirp file name, or None when ``name`` does not follow the pattern."""
    match = _CHIRP_FILE.match(name)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown ROD2021 split {split!r} (expected one of {', '.join(SPLITS)})")
    return split


class Rod2021Layout:
    """Paths and validated reads of a ROD2021 tree (reorganised or plain layout).

    Args:
        root: the data root holding ``sequences/`` and ``annotations/``.
        validation: the sequences forming the ``valid`` split of the plain layout.
    """

    def __init__(
        self, root: str | os.PathLike[str], validation: Sequence[str] = VALIDATION_SEQUENCES
    ) -> None:
        self.root = Path(root)
        self.validation = tuple(validation)
        self._frame_counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Rod2021Layout({str(self.root)!r}, kind={self.kind!r})"

    @property
    def kind(self) -> str:
        """``"reorganised"`` (a ``sequences/valid`` folder exists) or ``"plain"``."""
        return "reorganised" if (self.root / "sequences" / "valid").is_dir() else "plain"

    @functools.cached_property
    def _folders(self) -> dict[str, str]:
        """Sequence name -> the ``sequences/<folder>`` holding it."""
        base = self.root / "sequences"
        if not base.is_dir():
            raise DataFormatError(
                describe(base, "folder not found", expected="sequences/{train,valid,test}/<SEQ>")
            )
        folders: dict[str, str] = {}
        for folder in SPLITS:
            if not (base / folder).is_dir():
                continue
            for entry in sorted((base / folder).iterdir()):
                if not entry.is_dir():
                    continue
                if entry.name in folders:
                    raise DataFormatError(
                        describe(entry, f"sequence also found in sequences/{folders[entry.name]}")
                    )
                folders[entry.name] = folder
        return folders

    def all_sequences(self) -> list[str]:
        """Every sequence folder of the tree, sorted by split folder then name."""
        return list(self._folders)

    def sequence_folders(self) -> dict[str, str]:
        """Sequence name -> the split folder under ``sequences/`` holding it (``train``, ``valid``, ``test``)."""
        return dict(self._folders)

    def sequences(self, split: str) -> list[str]:
        """Sequences of ``split`` (``train``, ``valid`` or ``test``), sorted by name."""
        _check_split(split)
        if self.kind == "reorganised" or split == "test":
            return [name for name, folder in self._folders.items() if folder == split]
        in_train = [name for name, folder in self._folders.items() if folder == "train"]
        is_valid = split == "valid"
        return [name for name in in_train if (name in self.validation) == is_valid]

    def folder_of(self, sequence: str) -> str:
        """The split folder (``train``, ``valid``, ``test``) holding ``sequence``."""
        try:
            return self._folders[sequence]
        except KeyError:
            raise DataFormatError(
                describe(self.root / "sequences", f"sequence {sequence!r} not found in any split folder")
            ) from None

    def sequence_dir(self, sequence: str) -> Path:
        return self.root / "sequences" / self.folder_of(sequence) / sequence

    def annotation_path(self, sequence: str) -> Path:
        return self.root / "annotations" / self.folder_of(sequence) / f"{sequence}.txt"

    def has_annotations(self, sequence: str) -> bool:
        return self.annotation_path(sequence).is_file()

    def annotations(self, sequence: str) -> ObjectTable:
        """Ground-truth objects of ``sequence`` (frame, class, range in m, azimuth in rad), in file order."""
        return read_annotations(self.annotation_path(sequence))

    def n_frames(self, sequence: str) -> int:
        """Number of frames: (number of chirp files in ``RADAR_RA_H``) / (chirps per frame)."""
        if sequence not in self._frame_counts:
            folder = self.sequence_dir(sequence) / CHIRP_FOLDER
            if not folder.is_dir():
                raise DataFormatError(describe(folder, "folder not found"))
            count = sum(1 for name in os.listdir(folder) if _CHIRP_FILE.match(name))
            per_frame = len(ROD2021.chirp_ids)
            if count % per_frame:
                raise DataFormatError(
                    describe(folder, f"chirp file count is not a multiple of {per_frame}", found=count)
                )
            self._frame_counts[sequence] = count // per_frame
        return self._frame_counts[sequence]

    def chirp_path(self, sequence: str, frame: int, chirp: int) -> Path:
        return self.sequence_dir(sequence) / CHIRP_FOLDER / chirp_file_name(frame, chirp)

    def chirp_map(self, sequence: str, frame: int, chirp: int) -> np.ndarray:
        """One chirp loop's map, float32 ``[range, azimuth, (real, imag)]`` = (128, 128, 2)."""
        return load_npy(self.chirp_path(sequence, frame, chirp), CHIRP_SPEC)

    def frame(self, sequence: str, frame: int, chirps: Sequence[int] = ROD2021.chirp_ids) -> np.ndarray:
        """Model input of one frame, float32 ``[2 * len(chirps), 128, 128]`` = ``[c0_re, c0_im, c1_re, ...]``.

        No normalisation (the published configuration leaves ``normalize`` off).
        """
        maps = np.stack([self.chirp_map(sequence, frame, chirp) for chirp in chirps])  # [K, H, W, 2]
        return np.ascontiguousarray(maps.transpose(0, 3, 1, 2)).reshape(2 * len(chirps), *maps.shape[1:3])
