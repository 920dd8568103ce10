"""Every registered model: builds, counts its published parameters, runs both modes, exposes its state."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from record.errors import ConfigError
from record.models import MVRecord, create_model, list_models, register_model
from record.models.record import record_rod2021

PARAMETERS = {
    "record_rod2021": 697_155,
    "record_carrada_rd": 695_156,
    "record_carrada_ra": 695_156,
    "mv_record": 1_972_408,
    "record_nolstm_single": 663_747,
    "record_nolstm_multi": 689_091,
}
ACTIVATIONS = {"record_rod2021": "sigmoid", "record_carrada_rd": "softmax", "record_carrada_ra": "softmax",
               "mv_record": "softmax", "record_nolstm_single": "sigmoid", "record_nolstm_multi": "sigmoid"}


def test_the_registry_lists_the_published_models():
    assert sorted(list_models()) == sorted(PARAMETERS)


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_matches_the_published_model(name):
    model = create_model(name)
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[name]
    assert model.model_name == name
    assert model.output_activation == ACTIVATIONS[name]


def _views(outputs, model):
    return outputs if isinstance(model, MVRecord) else {"": outputs}


@pytest.mark.parametrize("name", list_models())
def test_build_forward_step_and_zero_state(name, small_sizes):
    torch.manual_seed(0)
    model = create_model(name).eval()
    height, width = small_sizes[name]
    batch, window = 2, model.config.window
    state = model.zero_state(batch, height, width)
    assert len(state) == len(model.state_names)
    assert tuple(tuple(s.shape) for s in state) == model.state_shapes(batch, height, width)
    assert all(not s.any() and s.dtype == torch.float32 for s in state)
    with torch.no_grad():
        buffer_logits = model(model.example_input(batch, window=window, size=(height, width)))
        step_logits, new_state = model.step(model.example_input(batch, size=(height, width)), state)
    assert tuple(tuple(s.shape) for s in new_state) == tuple(tuple(s.shape) for s in state)
    expected = {"": (height, width), "rd": (height, width), "ra": (height, 4 * width)}
    for logits in (buffer_logits, step_logits):
        for view, tensor in _views(logits, model).items():
            assert tensor.shape == (batch, model.config.n_classes, *expected[view])
            assert torch.isfinite(tensor).all()


def test_record_state_shapes_for_the_published_sizes():
    shapes = {name: create_model(name).state_shapes(1, *create_model(name).config.input_size)
              for name in ("record_rod2021", "record_carrada_rd", "record_carrada_ra")}
    assert shapes["record_rod2021"] == ((1, 32, 64, 64),) * 2 + ((1, 64, 32, 32),) * 2
    assert shapes["record_carrada_rd"] == ((1, 32, 128, 64),) * 2 + ((1, 64, 64, 64),) * 2
    assert shapes["record_carrada_ra"] == ((1, 32, 128, 128),) * 2 + ((1, 64, 64, 64),) * 2
    mv_shapes = dict(zip(MVRecord.state_names, create_model("mv_record").state_shapes(1, 256, 64)))
    assert mv_shapes["rd_h1"] == mv_shapes["ad_c1"] == (1, 32, 128, 64)
    assert mv_shapes["ra_h1"] == (1, 32, 128, 128)
    assert mv_shapes["rd_h2"] == mv_shapes["ra_c2"] == (1, 64, 64, 64)


def test_activate_applies_the_published_output_function():
    logits = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(create_model("record_rod2021").activate(logits), torch.sigmoid(logits))
    probabilities = create_model("record_carrada_ra").activate(logits)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(2, 8, 8))
    parity = create_model("record_carrada_ra", output_activation="sigmoid")
    assert parity.output_activation == "sigmoid"
    torch.testing.assert_close(parity.activate(logits), torch.sigmoid(logits))
    mv = create_model("mv_record").activate({"rd": logits, "ra": logits})
    torch.testing.assert_close(mv["ra"].sum(dim=1), torch.ones(2, 8, 8))


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_output_prior_sets_the_initial_scores(name, small_sizes):
    """With the output weights zeroed, the logits are the biases alone: every object class scores the prior
    (sigmoid), or the background takes 1 - p and the object classes share p (softmax)."""
    model = create_model(name)
    model.init_output_prior(0.02)
    for decoder in model.decoders():
        torch.nn.init.zeros_(decoder.conv_head2.weight)
    frame = model.example_input(1, size=small_sizes[name])
    logits, _ = model.step(frame, model.zero_state(1, *small_sizes[name]))
    scores = model.activate(logits)
    for view_scores in scores.values() if isinstance(scores, dict) else [scores]:
        per_class = view_scores.mean(dim=(0, 2, 3))
        if ACTIVATIONS[name] == "sigmoid":
            expected = torch.full_like(per_class, 0.02)
        else:
            expected = torch.full_like(per_class, 0.02 / (len(per_class) - 1))
            expected[0] = 0.98
        torch.testing.assert_close(per_class, expected)
    with pytest.raises(ConfigError, match="init_output_prior: probability.*found 1.0"):
        model.init_output_prior(1.0)


def test_overrides_change_the_config_and_unknown_ones_are_refused():
    model = create_model("record_rod2021", n_classes=5, strides=[[2, 1], [2, 1], [2, 2]])
    assert model.config.n_classes == 5 and model.config.strides == ((2, 1), (2, 1), (2, 2))
    assert model.decoder.conv_head2.out_channels == 5
    assert dataclasses.is_dataclass(model.config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config.n_classes = 3
    with pytest.raises(ConfigError, match="unknown RecordConfig fields"):
        create_model("record_rod2021", n_class=5)
    with pytest.raises(ConfigError, match="unknown activation"):
        create_model("record_rod2021", output_activation="relu")
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("record_s")


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ConfigError, match="registered twice"):
        register_model(record_rod2021)
