"""The deployment spec: what every registered model's export declares, and its JSON form."""

from __future__ import annotations

import json

import pytest

from record.classes import CARRADA_CLASSES, ROD2021_CLASSES
from record.data.carrada import TVT_STATS
from record.errors import DataFormatError
from record.models import create_model, list_models
from record.runtime.spec import SPEC_FORMAT, DeploymentSpec, build_spec


def test_rod2021_spec_names_shapes_and_meaning():
    spec = build_spec(create_model("record_rod2021"))
    assert spec.dataset == "rod2021" and spec.classes == ROD2021_CLASSES and spec.activation == "sigmoid"
    assert spec.input_names == ["frame", "h1_in", "c1_in", "h2_in", "c2_in"]
    assert spec.output_names == ["logits", "h1_out", "c1_out", "h2_out", "c2_out"]
    assert [t.shape for t in spec.frames] == [(8, 128, 128)] and spec.logits[0].shape == (3, 128, 128)
    assert [t.shape for t in spec.states] == [(32, 64, 64), (32, 64, 64), (64, 32, 32), (64, 32, 32)]
    assert spec.normalisation == {"frame": {"kind": "none"}} and "real, imaginary" in spec.frames[0].layout
    assert not spec.multi_view and spec.precision == "fp32"


def test_carrada_specs_name_views_and_tvt_normalisation():
    single = build_spec(create_model("record_carrada_ra"))
    assert single.classes == CARRADA_CLASSES and single.activation == "softmax"
    assert (single.frames[0].name == "frame" and single.frames[0].view == "ra"
            and single.logits[0].view == "ra")
    assert single.normalisation["frame"] == {"kind": "min_max_db", "min_db": TVT_STATS["ra"].min_db,
                                             "max_db": TVT_STATS["ra"].max_db}
    multi = build_spec(create_model("mv_record"))
    assert multi.multi_view and [t.name for t in multi.frames] == ["rd", "ra", "ad"]
    assert [t.shape for t in multi.frames] == [(1, 256, 64), (1, 256, 256), (1, 256, 64)]
    assert [(t.name, t.shape) for t in multi.logits] == [("rd_logits", (4, 256, 64)),
                                                          ("ra_logits", (4, 256, 256))]
    assert [multi.output_view(t) for t in multi.logits] == ["rd", "ra"]
    assert len(multi.states) == 12 and multi.states[0].name == "rd_h1"


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_a_spec_that_round_trips_through_json(name):
    spec = build_spec(create_model(name), provenance={"checkpoint_sha256": "ab" * 32})
    assert DeploymentSpec.from_json(spec.to_json(), "test") == spec
    assert len(spec.input_names) == len(spec.frames) + len(spec.states)


def test_a_stateless_model_has_no_state_inputs():
    spec = build_spec(create_model("record_nolstm_single"))
    assert spec.states == () and spec.input_names == ["frame"] and spec.output_names == ["logits"]


@pytest.mark.parametrize(("text", "message"), [
    (None, "holds no RECORD deployment spec"),
    ("{not json", "deployment spec is not valid JSON"),
    (json.dumps({"format": "other"}), "not a RECORD deployment spec"),
    (json.dumps({"format": SPEC_FORMAT, "format_version": 99}), "unsupported deployment spec version"),
    (json.dumps({"format": SPEC_FORMAT, "format_version": 1, "model": "x"}), "incomplete deployment spec"),
])
def test_bad_specs_are_refused_naming_the_file(text, message):
    with pytest.raises(DataFormatError, match=rf"model\.onnx: {message}"):
        DeploymentSpec.from_json(text, "model.onnx")
