"""Checkpoint conversion (published layouts -> project format), project checkpoints, and their errors."""

from __future__ import annotations

import argparse
import re

import pytest
import torch

from record.errors import CheckpointError
from record.models import (
    CHECKPOINT_FORMAT,
    convert_checkpoint,
    create_model,
    official_to_project_key,
    read_checkpoint,
    save_checkpoint,
)


def _official_names(state_dict):
    """This project's keys under the published names (the BottleneckLSTM wrapper's ``.cell`` level)."""
    return {re.sub(r"(bottleneck_lstm\d)\.", r"\1.cell.", key): value for key, value in state_dict.items()}


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return create_model("record_rod2021").eval()


def _same_weights(model, reference):
    pairs = zip(model.state_dict().values(), reference.state_dict().values())
    return all(torch.equal(a, b) for a, b in pairs)


def test_key_remap_drops_only_the_lstm_wrapper_level():
    assert official_to_project_key("model.encoder.bottleneck_lstm2.cell.Wy.bias") == \
        "model.encoder.bottleneck_lstm2.Wy.bias"
    assert official_to_project_key("decoder.conv_skip_connection1.conv.0.weight") == \
        "decoder.conv_skip_connection1.conv.0.weight"


@pytest.mark.parametrize("layout", ["bare", "fixture", "lightning"])
def test_published_layouts_convert_to_a_project_checkpoint(layout, reference, tmp_path):
    official = _official_names(reference.state_dict())
    payload = {
        "bare": official,
        "fixture": {"state_dict": official, "notes": "official weights", "input": torch.zeros(1)},
        "lightning": {"epoch": 7, "state_dict": {**{f"model.{k}": v for k, v in official.items()},
                                                 "loss_fct.weight": torch.ones(3)}},
    }[layout]
    source = tmp_path / "published.ckpt"
    torch.save(payload, source)
    destination = tmp_path / "out" / "record.pt"
    converted = convert_checkpoint(source, "record_rod2021", destination)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["record.pt"]  # no temporary left over
    stored = torch.load(destination, weights_only=True)
    assert stored["format"] == CHECKPOINT_FORMAT and stored["format_version"] == 1
    assert stored["model"] == "record_rod2021" and stored["config"]["in_channels"] == 8
    assert stored["metadata"]["converted_from"] == str(source)
    assert stored.keys() == converted.keys()
    assert _same_weights(create_model("record_rod2021", checkpoint=destination), reference)
    assert _same_weights(create_model("record_rod2021", checkpoint=payload), reference)


def test_project_checkpoints_keep_their_config_and_refuse_other_models(tmp_path):
    torch.manual_seed(1)
    model = create_model("record_carrada_ra", n_classes=5, output_activation="sigmoid")
    path = tmp_path / "ra5.pt"
    save_checkpoint(model, path, metadata={"epoch": 3}, extra={"optimizer": {"lr": torch.tensor(1e-3)}})
    loaded = create_model("record_carrada_ra", checkpoint=path)
    assert loaded.config == model.config and _same_weights(loaded, model)
    assert read_checkpoint(path)["metadata"] == {"epoch": 3}
    with pytest.raises(CheckpointError, match=r"checkpoint of another model \(found record_carrada_ra, "
                                              r"expected record_carrada_rd\)"):
        create_model("record_carrada_rd", checkpoint=path)
    with pytest.raises(CheckpointError, match="shape mismatches: decoder.conv_head2.bias"):
        create_model("record_carrada_ra", checkpoint=path, n_classes=4)


def test_missing_unexpected_and_mismatched_keys_are_listed(reference):
    official = _official_names(reference.state_dict())
    missing = {k: v for k, v in official.items() if "bottleneck_lstm2.cell.Wbo" not in k}
    with pytest.raises(CheckpointError, match=r"1 missing keys: encoder.bottleneck_lstm2.Wbo.weight"):
        create_model("record_rod2021", checkpoint=missing)
    with pytest.raises(CheckpointError, match=r"1 unexpected keys: encoder.extra.weight"):
        create_model("record_rod2021", checkpoint={**official, "encoder.extra.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"weights do not fit record_carrada_rd: 3 shape mismatches: "
                                              r"decoder.conv_head2.bias \(found \[3\], expected \[4\]\)"):
        create_model("record_carrada_rd", checkpoint=official)
    with pytest.raises(CheckpointError, match=r"weights do not fit mv_record: 538 missing keys: "
                                              r".*\(530 more\); 190 unexpected keys"):
        create_model("mv_record", checkpoint=official)


def test_unreadable_and_foreign_files_are_refused(tmp_path, reference):
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        convert_checkpoint(tmp_path / "absent.pt", "record_rod2021")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        convert_checkpoint(garbage, "record_rod2021")
    pickled = tmp_path / "lightning.ckpt"
    official = {f"model.{k}": v for k, v in _official_names(reference.state_dict()).items()}
    torch.save({"state_dict": official, "hyper_parameters": argparse.Namespace(lr=1e-3)}, pickled)
    with pytest.raises(CheckpointError, match="trusted=True"):
        convert_checkpoint(pickled, "record_rod2021")
    assert _same_weights(create_model("record_rod2021", checkpoint=pickled, trusted=True), reference)
    with pytest.raises(CheckpointError, match="no state_dict found"):
        convert_checkpoint({"epoch": 1}, "record_rod2021")
    newer = {"format": CHECKPOINT_FORMAT, "format_version": 99, "model": "record_rod2021"}
    with pytest.raises(CheckpointError, match=r"unsupported checkpoint format version \(found 99"):
        create_model("record_rod2021", checkpoint=newer)


def test_the_online_fixture_files_point_to_their_weights(official_record_dir):
    with pytest.raises(CheckpointError, match="state_dict_file"):
        convert_checkpoint(official_record_dir / "record_oi_rod2021.pt", "record_rod2021")


def test_converted_published_weights_reproduce_the_published_output(
    official_record_dir, load_official, tmp_path
):
    destination = tmp_path / "mv.pt"
    convert_checkpoint(official_record_dir / "mv_record_carrada.pt", "mv_record", destination)
    expected = load_official("mv_record_carrada.pt")
    model = create_model("mv_record", checkpoint=destination).eval()
    with torch.no_grad():
        logits = model({view: expected[f"input_{view}"] for view in ("rd", "ra", "ad")})
    torch.testing.assert_close(logits["ra"], expected["output_ra"], rtol=0, atol=1e-5)
