"""``record data check``: valid trees pass with a summary; every kind of problem is listed and counted."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from handmade import CARRADA_TEST, CARRADA_TRAIN, CARRADA_VALID, ROD_TEST, ROD_TRAIN, ROD_VALID

from record.cli import main as record_main
from record.data.check import check_carrada, check_rod2021
from record.data.commands import data_main


def kinds(report) -> dict[str, int]:
    return {kind: len(problems) for kind, problems in report.by_kind().items()}


@pytest.mark.parametrize("kind", ["reorganised", "plain"])
def test_valid_rod2021_tree(rod_tree, capsys, kind: str) -> None:
    root = rod_tree(kind)
    assert data_main(["check", str(root), "--layout", "rod2021"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: rod2021 tree {root} ({kind} layout): 3 sequences") and "18 frames" in out
    assert check_rod2021(root, deep=True).ok


def test_rod2021_problems(rod_tree, capsys) -> None:
    lines = ["0 5.0 0.1 car", "1 26.5 0.0 car", "2 3 2.0 pedestrian", "20 3 0 car", "3 3 0 truck", "x y"]
    root = rod_tree(lines=lines)
    folder = root / "sequences" / "train" / ROD_TRAIN / "RADAR_RA_H"
    (folder / "000002_0064.npy").unlink()
    (folder / "000002_0128.npy").unlink()
    truncated = folder / "000003_0064.npy"
    truncated.write_bytes(truncated.read_bytes()[:500])
    np.save(folder / "000004_0000.npy", np.zeros((128, 128, 2), np.float64))
    np.save(folder / "000005_0000.npy", np.zeros((2, 128, 128), np.float32))
    (folder / "notes.txt").write_text("x")
    nan = np.zeros((128, 128, 2), np.float32)
    nan[0, 0, 0] = np.nan
    np.save(folder / "000006_0000.npy", nan)
    (root / "annotations" / "valid" / f"{ROD_VALID}.txt").rename(
        root / "annotations" / "train" / f"{ROD_VALID}.txt"
    )
    (root / "annotations" / "test").mkdir()
    (root / "annotations" / "test" / "2019_05_28_XX000.txt").write_text("")
    shutil.move(root / "sequences" / "test" / ROD_TEST, root / "sequences" / "valid" / ROD_TEST)
    assert record_main(["data", "check", str(root), "--layout", "rod2021"]) == 1
    out = capsys.readouterr().out
    assert "lacks 000002_0064.npy, 000002_0128.npy" in out and ":5: unknown class 'truck'" in out
    assert kinds(check_rod2021(root)) == {
        "truncated file": 1,
        "wrong dtype": 1,
        "wrong shape": 1,
        "unexpected file": 1,
        "missing frame": 1,
        "unknown class": 1,
        "malformed line": 1,
        "annotation outside evaluation gate": 1,
        "annotation outside grid": 1,
        "annotation beyond last frame": 1,
        "split mismatch": 2,  # valid annotation under annotations/train; a test sequence in sequences/valid
        "missing annotations": 1,  # the moved test sequence has none
        "annotation without sequence": 1,
    }
    assert kinds(check_rod2021(root, deep=True))["non-finite values"] == 1


def test_rod2021_empty_and_missing(tmp_path) -> None:
    assert kinds(check_rod2021(tmp_path)) == {"missing folder": 1}
    (tmp_path / "sequences" / "train" / "2019_04_09_bms1000" / "RADAR_RA_H").mkdir(parents=True)
    assert kinds(check_rod2021(tmp_path)) == {
        "bad sequence name": 1,
        "empty sequence": 1,
        "missing annotations": 1,
    }


def test_valid_carrada_tree(carrada_tree, tmp_path, capsys) -> None:
    rad_root = tmp_path / "Carrada_RAD"
    root = carrada_tree(
        signals=("processed", "raw"), objects={(CARRADA_TRAIN, 5): [(1, 3, 4, 5, 6)]}, rad_root=rad_root
    )
    assert data_main(["check", str(root), "--layout", "carrada", "--rad-root", str(rad_root), "--deep"]) == 0
    assert capsys.readouterr().out.startswith(
        f"OK: carrada tree {root} (history of 5 frames): 3 sequences, 13 frames"
    )


def test_carrada_problems(carrada_tree) -> None:
    light = {
        CARRADA_TRAIN: ["000003", "000005"],
        CARRADA_VALID: [],
        CARRADA_TEST: ["000000", "00001"],
        "extra": ["0"],
    }
    root = carrada_tree(light=light)
    ref = json.loads((root / "data_seq_ref.json").read_text())
    del ref[CARRADA_TRAIN]["labels"]
    ref[CARRADA_TEST]["split"] = "Validation"
    ref["2020-02-28-13-14-35"] = dict(ref[CARRADA_TEST], split="Testing")
    (root / "data_seq_ref.json").write_text(json.dumps(ref))
    (root / CARRADA_TRAIN / "range_doppler_processed" / "000004.npy").unlink()  # history of 000005
    (root / CARRADA_TRAIN / "range_angle_processed" / "000005.npy").unlink()
    np.save(root / CARRADA_TRAIN / "angle_doppler_processed" / "000003.npy", np.zeros((64, 256)))
    mask = root / CARRADA_TRAIN / "annotations" / "dense" / "000003" / "range_angle.npy"
    np.save(mask, np.zeros((4, 256, 256)))
    (root / CARRADA_TRAIN / "annotations" / "dense" / "000005" / "range_doppler.npy").unlink()
    report = check_carrada(root, window=2)
    assert kinds(report) == {
        "missing JSON key": 2,  # labels of the train entry; the 'extra' sequence
        "unknown split": 1,
        "malformed frame id": 2,
        "empty sequence": 1,
        "split mismatch": 1,
        "sequence list mismatch": 1,
        "missing history": 1,
        "missing frame": 1,
        "wrong shape": 1,
        "missing mask": 1,
    }
    assert "range_doppler_processed/000004.npy: file not found (history frame)" in report.render()
    assert kinds(check_carrada(root, window=2, deep=True))["mask not one-hot"] == 1
    assert "missing history" not in kinds(check_carrada(root, window=1))


def test_carrada_root_files_missing(tmp_path) -> None:
    report = check_carrada(tmp_path)
    assert kinds(report) == {"missing file": 3}
    assert report.render(limit=1).count("file not found") == 1 and "... and 2 more" in report.render(limit=1)
