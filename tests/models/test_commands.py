"""``record models`` and ``record convert-checkpoint``."""

from __future__ import annotations

import json
import re

import pytest
import torch

from record.cli import main as record_main
from record.models import commands, create_model, list_models
from record.models.commands import convert_main, models_main
from record.models.summary import summarize_model


@pytest.fixture(scope="module")
def summaries():
    """Every model's summary, computed once (FlopCounterMode on the meta device takes a second per model)."""
    return {name: summarize_model(name) for name in list_models()}


def test_models_lists_every_model_with_parameters_and_gmacs(capsys, monkeypatch, summaries):
    monkeypatch.setattr(commands, "summarize_model", summaries.__getitem__)
    assert models_main([]) == 0
    table = capsys.readouterr().out
    for name in list_models():
        assert re.search(rf"^{name}\s+[\d,]+\s+\d+\.\d{{3}}\s+\d+\.\d{{3}}", table, re.MULTILINE)
    assert "697,155" in table and "1,972,408" in table
    assert models_main(["--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows.keys() == set(list_models())
    assert rows["record_carrada_ra"]["input_size"] == [256, 256] and rows["mv_record"]["window"] == 5


def test_gmacs_match_the_published_model_measurements(summaries):
    """Reference: record-architecture.md section 7 (FlopCounterMode on the published definitions)."""
    rod = summaries["record_rod2021"]
    assert rod.online_gmacs == pytest.approx(0.598, abs=1e-3)
    assert rod.buffer_gmacs == pytest.approx(5.02, abs=1e-2)
    mv = summaries["mv_record"]
    assert mv.online_gmacs == pytest.approx(4.91, abs=1e-2)
    assert mv.buffer_gmacs == pytest.approx(19.69, abs=1e-2)
    assert summaries["record_nolstm_multi"].online_gmacs == pytest.approx(0.959, abs=1e-3)
    assert summarize_model("record_carrada_rd", window=1).buffer_gmacs == pytest.approx(1.63, abs=1e-2)


def test_convert_checkpoint_command_writes_a_loadable_checkpoint(tmp_path, capsys):
    torch.manual_seed(0)
    model = create_model("record_nolstm_single")
    source, destination = tmp_path / "published.pt", tmp_path / "converted.pt"
    torch.save({"state_dict": model.state_dict()}, source)
    assert convert_main([str(source), "--model", "record_nolstm_single", "--out", str(destination)]) == 0
    assert "663,747 parameters" in capsys.readouterr().out
    loaded = create_model("record_nolstm_single", checkpoint=destination)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    arguments = [str(source), "--model", "record_rod2021", "--out", str(tmp_path / "x")]
    assert record_main(["convert-checkpoint", *arguments]) == 1
    error = capsys.readouterr().err
    assert "weights do not fit record_rod2021: 34 missing keys: encoder.bottleneck_lstm1" in error
    assert not (tmp_path / "x").exists()
