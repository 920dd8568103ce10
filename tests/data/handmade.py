"""Small ROD2021 and CARRADA trees written BY HAND (np.save / json.dump) following the published formats.

They do not go through ``record.data`` writers or the simulator, so the readers are tested against the format
itself. Map values encode where they come from so tests can tell which frame / chirp / pixel was read:

* ROD2021 chirp map ``(128, 128, 2)`` float32: ``value[r, a, k] = frame + chirp / 1000 + k / 10 + r * 1e-5``.
* CARRADA processed view ``[H, W]`` float64 (dB): ``50 + frame / 10 + row * 1e-3 + col * 1e-5``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

ROD_CHIRPS = (0, 64, 128, 192)
ROD_TRAIN, ROD_VALID, ROD_TEST = "2019_04_09_BMS1000", "2019_04_09_PMS1000", "2019_05_28_CM1S013"
CARRADA_SHAPES = {"range_doppler": (256, 64), "range_angle": (256, 256), "angle_doppler": (256, 64)}
CARRADA_TRAIN, CARRADA_VALID, CARRADA_TEST = (
    "2019-09-16-12-52-12",
    "2019-09-16-13-06-41",
    "2020-02-28-12-13-54",
)


def rod_chirp_map(frame: int, chirp: int) -> np.ndarray:
    rows = np.arange(128, dtype=np.float32)[:, None, None]
    parts = np.array([0.0, 0.1], dtype=np.float32)[None, None, :]
    return (frame + chirp / 1000 + parts + rows * 1e-5 + np.zeros((1, 128, 1), np.float32)).astype(np.float32)


def write_rod_sequence(root: Path, split: str, name: str, n_frames: int, lines: Iterable[str] | None) -> None:
    """One ROD2021 sequence: ``n_frames`` x 4 chirp files and (when ``lines`` is given) its annotation file."""
    folder = root / "sequences" / split / name / "RADAR_RA_H"
    folder.mkdir(parents=True, exist_ok=True)
    for frame in range(n_frames):
        for chirp in ROD_CHIRPS:
            np.save(folder / f"{frame:06d}_{chirp:04d}.npy", rod_chirp_map(frame, chirp))
    if lines is not None:
        annotation = root / "annotations" / split / f"{name}.txt"
        annotation.parent.mkdir(parents=True, exist_ok=True)
        annotation.write_text("".join(f"{line}\n" for line in lines))


def carrada_view_map(frame: int, stem: str) -> np.ndarray:
    h, w = CARRADA_SHAPES[stem]
    return 50 + frame / 10 + np.arange(h)[:, None] * 1e-3 + np.arange(w)[None, :] * 1e-5


def carrada_mask(stem: str, pixels: Iterable[tuple[int, int, int]]) -> np.ndarray:
    """One-hot ``(4, H, W)`` float64 mask with ``(class_id, row, col)`` pixels set, background elsewhere."""
    mask = np.zeros((4, *CARRADA_SHAPES[stem]))
    mask[0] = 1
    for class_id, row, col in pixels:
        mask[:, row, col] = 0
        mask[class_id, row, col] = 1
    return mask


def write_carrada(
    root: Path,
    sequences: Mapping[str, tuple[str, int]],
    *,
    light: Mapping[str, list[str]] | None = None,
    objects: Mapping[tuple[str, int], list[tuple[int, int, int, int, int]]] | None = None,
    signals: tuple[str, ...] = ("processed",),
    rad_root: Path | None = None,
) -> Path:
    """A CARRADA tree: ``sequences`` maps name -> (split, n_frames); every frame gets views and dense masks.

    ``objects[(seq, frame)]`` lists ``(class_id, rd_row, rd_col, ra_row, ra_col)`` mask pixels.
    """
    objects = objects or {}
    root.mkdir(parents=True, exist_ok=True)
    seq_ref = {
        name: {
            "instances": ["000001"],
            "labels": [1],
            "ref_frame": ["000000"],
            "min_frame_boundaries": [""],
            "max_frame_boundaries": [""],
            "split": split,
        }
        for name, (split, _) in sequences.items()
    }
    (root / "data_seq_ref.json").write_text(json.dumps(seq_ref))
    if light is None:
        light = {name: [f"{i:06d}" for i in range(n)] for name, (_, n) in sequences.items()}
    (root / "light_dataset_frame_oriented.json").write_text(json.dumps(light))
    (root / "validated_seqs.txt").write_text("".join(f"{name}\n" for name in sequences))
    for name, (_, n_frames) in sequences.items():
        for frame in range(n_frames):
            fid = f"{frame:06d}"
            for stem in CARRADA_SHAPES:
                for signal in signals:
                    folder = root / name / f"{stem}_{signal}"
                    folder.mkdir(parents=True, exist_ok=True)
                    np.save(folder / f"{fid}.npy", carrada_view_map(frame, stem))
            pixels = objects.get((name, frame), [])
            dense = root / name / "annotations" / "dense" / fid
            dense.mkdir(parents=True, exist_ok=True)
            np.save(
                dense / "range_doppler.npy",
                carrada_mask("range_doppler", [(c, r, d) for c, r, d, _, _ in pixels]),
            )
            np.save(
                dense / "range_angle.npy",
                carrada_mask("range_angle", [(c, r, a) for c, _, _, r, a in pixels]),
            )
            if rad_root is not None:
                folder = rad_root / name / "RAD_numpy"
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"{fid}.npy", -np.full((256, 256, 64), frame + 1.0, dtype=np.float32))
    return root
