"""``record score`` through the real CLI: JSON and table output, clear file:line errors on bad input."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from eval_cases import ROD_FIXTURE, write_carrada_tree

from record.cli import main
from record.eval.commands import score_main


@pytest.fixture
def rod_dirs(tmp_path):
    gt, dets = tmp_path / "gt", tmp_path / "dets"
    shutil.copytree(ROD_FIXTURE / "gt", gt)
    shutil.copytree(ROD_FIXTURE / "dets", dets)
    return gt, dets


def _run(capsys, *argv):
    status = main(["score", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_rod2021_json_reproduces_the_devkit(capsys, rod_dirs):
    gt, dets = rod_dirs
    status, out, err = _run(capsys, "rod2021", "--gt", gt, "--dets", dets, "--json")
    assert status == 0 and err == ""
    result = json.loads(out)
    expected = json.loads((ROD_FIXTURE / "expected.json").read_text())
    assert result["AP"] == pytest.approx(expected["AP"], abs=1e-6)
    assert result["AR"] == pytest.approx(expected["AR"], abs=1e-6)
    assert result["per_class"]["car"]["AP"] == pytest.approx(expected["per_class"]["car"]["AP"], abs=1e-6)
    assert result["per_sequence"]["SEQ_001"]["per_class"]["car"] is None
    wanted_seq2 = expected["per_sequence"]["SEQ_002"]["overall"]["AR"]
    assert result["per_sequence"]["SEQ_002"]["AR"] == pytest.approx(wanted_seq2, abs=1e-6)


def test_rod2021_table(capsys, rod_dirs):
    gt, dets = rod_dirs
    status, out, _ = _run(capsys, "rod2021", "--gt", gt, "--dets", dets)
    assert status == 0
    lines = out.splitlines()
    overall = next(line for line in lines if line.startswith("overall"))
    assert overall.split()[1:3] == ["58.49", "71.18"]
    assert any(line.split()[:1] == ["car"] for line in lines)
    assert sum(line.strip().startswith("SEQ_") for line in lines) == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 12.0 0.1 car", r"SEQ_001\.txt:5: malformed line '0 12\.0 0\.1 car' \(found 4 fields, expected 5"),
        ("0 12.0 abc car 0.5", r"SEQ_001\.txt:5: malformed line"),
        ("0 12.0 0.1 car 1.5", r"SEQ_001\.txt:5: score 1\.5 outside \(0, 1\]"),
        ("0 12.0 0.1 car 0.0", r"SEQ_001\.txt:5: score 0\.0 outside \(0, 1\]"),
        ("0 12.0 0.1 truck 0.5", r"SEQ_001\.txt:5: unknown class 'truck'"),
    ],
)
def test_rod2021_bad_detection_lines_name_file_and_line(capsys, rod_dirs, line, message):
    gt, dets = rod_dirs
    path = dets / "SEQ_001.txt"
    lines = path.read_text().splitlines()
    lines[4] = line
    path.write_text("\n".join(lines) + "\n")
    status, out, err = _run(capsys, "rod2021", "--gt", gt, "--dets", dets)
    assert status == 1 and out == ""
    assert err.startswith("record score: error: ") and "Traceback" not in err
    assert re.search(message, err), err


def test_rod2021_bad_annotation_line(capsys, rod_dirs):
    gt, dets = rod_dirs
    with (gt / "SEQ_002.txt").open("a") as handle:
        handle.write("7 3.0 0.2 bus\n")
    status, _, err = _run(capsys, "rod2021", "--gt", gt, "--dets", dets)
    assert status == 1 and "SEQ_002.txt:258: unknown class 'bus'" in err


def test_rod2021_missing_and_extra_sequences(capsys, rod_dirs):
    gt, dets = rod_dirs
    (dets / "SEQ_002.txt").rename(dets / "SEQ_999.txt")
    status, _, err = _run(capsys, "rod2021", "--gt", gt, "--dets", dets)
    assert status == 1
    assert f"detections folder {dets} lacks sequence(s) SEQ_002 present in ground-truth folder {gt}" in err
    assert "has sequence(s) SEQ_999 absent from" in err


def test_usage_errors_exit_with_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        score_main([])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        score_main(["rod2021", "--gt", "x"])  # --dets missing
    assert "--dets" in capsys.readouterr().err


def test_carrada_json_and_table(capsys, tmp_path):
    labels_rd = np.zeros((2, 256, 64), dtype=np.int64)
    labels_rd[:, 100:104, 30:33] = 3
    labels_ra = np.zeros((2, 256, 256), dtype=np.int64)
    labels_ra[:, 150:154, 120:126] = 1
    sequences = {"2020-02-28-13-09-58": ("Test", list(labels_rd), list(labels_ra))}
    root = write_carrada_tree(tmp_path / "Carrada", sequences)
    pred = tmp_path / "pred"
    for i in range(2):
        folder = pred / "2020-02-28-13-09-58" / f"{i:06d}"
        folder.mkdir(parents=True)
        np.save(folder / "range_doppler.npy", labels_rd[i].astype(np.uint8))
        np.save(folder / "range_angle.npy", np.zeros((256, 256), np.int32))  # misses the pedestrian
    status, out, err = _run(capsys, "carrada", "--pred", pred, "--root", root, "--split", "Test", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["rd"]["IoU_by_class"] == [1.0, 0.0, 0.0, 1.0] and result["rd"]["mIoU"] == 0.5
    assert result["ra"]["IoU_by_class"][1] == 0.0 and result["ra"]["confusion_matrix"][1][0] == 2 * 4 * 6
    status, out, _ = _run(capsys, "carrada", "--pred", pred, "--root", root)
    assert status == 0 and "RD: mIoU  50.00" in out and "pedestrian" in out
