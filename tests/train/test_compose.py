"""Config composition: every sensible dataset / model / mode combination, published recipes, bad overrides."""

from __future__ import annotations

import pytest

from record.errors import ConfigError
from record.models import create_model, list_models
from record.train.compose import compose_config, group_options, typed, validate_train_config
from record.train.config import EvaluateRunConfig, TrainRunConfig
from record.train.data import sample_geometry
from record.train.tasks import make_task

ROD2021_MODELS = ("record_rod2021", "record_nolstm_single", "record_nolstm_multi")
CARRADA_MODELS = ("record_carrada_rd", "record_carrada_ra", "mv_record")
COMBINATIONS = [
    (dataset, model, mode)
    for datasets, models in ((("rod2021", "synth_rod2021"), ROD2021_MODELS),
                             (("carrada", "synth_carrada"), CARRADA_MODELS))
    for dataset in datasets
    for model in models
    for mode in ("buffer", "online")
]

# experiment -> (dataset, model, mode, lr, batch, accumulate, window, stride); record-architecture.md 8
RECIPES = {
    "record_rod2021_buffer": ("rod2021", "record_rod2021", "buffer", 1e-3, 16, 1, 12, 4),
    "record_rod2021_online": ("rod2021", "record_rod2021", "online", 3e-4, 8, 2, 32, 8),
    "mv_record_buffer": ("carrada", "mv_record", "buffer", 1e-3, 8, 1, 5, 1),
    "mv_record_online": ("carrada", "mv_record", "online", 3e-4, 4, 2, 10, 1),
    **{
        f"record_carrada_{view}_{mode}": ("carrada", f"record_carrada_{view}", mode, 1e-3, 8, 1,
                                          5 if mode == "buffer" else 10, 1)
        for view in ("rd", "ra")
        for mode in ("buffer", "online")
    },
}
# dataset -> (x0.9 every N epochs, seed, early-stopping monitor, its mode, patience); single-view CARRADA
# models monitor the precision of their view
SCHEDULES = {
    "rod2021": (10, 252, "val_loss", "min", 7),
    "carrada": (20, 42, "val_global_precision", "max", 20),
}


def test_group_options_cover_the_registry_and_the_recipes() -> None:
    assert set(group_options("model")) == set(list_models())
    assert set(group_options("dataset")) == {"rod2021", "carrada", "synth_rod2021", "synth_carrada"}
    assert set(group_options("experiment")) == set(RECIPES)


@pytest.mark.parametrize(("dataset", "model", "mode"), COMBINATIONS)
def test_every_sensible_combination_composes_and_fits(dataset: str, model: str, mode: str) -> None:
    config = typed(compose_config("train", [f"dataset={dataset}", f"model={model}", f"mode={mode}"]),
                   TrainRunConfig)
    validate_train_config(config)
    assert (config.dataset.name, config.model.name, config.mode.name) == (dataset, model, mode)
    network = create_model(config.model.name, **config.model.options)
    task = make_task(config.dataset.layout, config.model, network, config.loss)
    expected_views = ("confmap",) if config.dataset.layout == "rod2021" else tuple(network.output_views or
                                                                                  config.model.views)
    assert task.output_views == expected_views
    published = {("rod2021", "buffer"): (12, 4), ("rod2021", "online"): (32, 8),
                 ("carrada", "buffer"): (5, 1), ("carrada", "online"): (10, 1)}[(config.dataset.layout, mode)]
    geometry = sample_geometry(config.dataset, config.train, mode)
    assert (geometry.length, geometry.stride) == published
    assert (config.dataset.synthetic is not None) == dataset.startswith("synth_")


@pytest.mark.parametrize(("dataset", "model"), [("rod2021", "mv_record"), ("carrada", "record_rod2021"),
                                                ("synth_carrada", "record_nolstm_single")])
def test_a_model_that_does_not_fit_the_dataset_is_refused(dataset: str, model: str) -> None:
    config = typed(compose_config("train", [f"dataset={dataset}", f"model={model}"]), TrainRunConfig)
    with pytest.raises(ConfigError, match="does not fit"):
        make_task(config.dataset.layout, config.model, create_model(model), config.loss)


@pytest.mark.parametrize("experiment", sorted(RECIPES))
def test_published_recipes(experiment: str) -> None:
    dataset, model, mode, lr, batch, accumulate, window, stride = RECIPES[experiment]
    every, seed, monitor, monitor_mode, patience = SCHEDULES[dataset]
    if model.startswith("record_carrada_"):
        monitor = f"val_{model.removeprefix('record_carrada_')}_precision"
    config = typed(compose_config("train", [f"experiment={experiment}"]), TrainRunConfig)
    train = config.train
    assert (config.dataset.name, config.model.name, config.mode.name) == (dataset, model, mode)
    assert train.lr == pytest.approx(lr)
    geometry = (train.batch_size, train.accumulate, train.window, train.stride)
    assert geometry == (batch, accumulate, window, stride)
    assert (train.lr_gamma, train.lr_every_epochs, train.seed) == (0.9, every, seed)
    stopping = train.early_stopping
    assert (stopping.monitor, stopping.mode, stopping.patience) == (monitor, monitor_mode, patience)
    assert config.loss.sigmoid_before_loss is False and config.loss.cumulative_online is False
    assert train.tbptt_clips == 1  # every clip from the zero state, as published
    assert config.loss.dice_weight == 10.0


def test_recipes_run_on_synthetic_data_and_any_field_is_overridable() -> None:
    config = typed(compose_config("train", ["experiment=record_rod2021_online", "dataset=synth_rod2021",
                                            "train.lr=1e-4", "dataset.root=/data/x",
                                            "loss.cumulative_online=true",
                                            "train.crop=[64,64]", "run.dir=/tmp/run"]), TrainRunConfig)
    assert config.dataset.name == "synth_rod2021" and config.dataset.root == "/data/x"
    assert config.train.lr == pytest.approx(1e-4) and config.train.batch_size == 8
    assert config.train.crop == [64, 64] and config.loss.cumulative_online and config.run.dir == "/tmp/run"


def test_default_run_folder_is_under_outputs() -> None:
    config = typed(compose_config("train", []), TrainRunConfig)
    assert config.run.dir.startswith("outputs/train/")


@pytest.mark.parametrize("override, problem", [
    ("train.lrr=1", "lrr"),
    ("train.lr=fast", "train.lr"),
    ("dataset=imagenet", "imagenet"),
    ("model=resnet", "resnet"),
])
def test_bad_overrides_raise_config_errors_naming_them(override: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        compose_config("train", [override])


@pytest.mark.parametrize("override, problem", [
    ("train.batch_size=0", "batch_size"),
    ("mode.name=sideways", "sideways"),
    ("model.name=resnet", "resnet"),
    ("train.lr_gamma=1.5", "lr_gamma"),
    ("train.tbptt_clips=0", "tbptt_clips"),
    ("train.tbptt_clips=2 mode=buffer", "tbptt_clips.*mode=online"),
    ("train.lr_schedule=linear", "lr_schedule.*linear"),
    ("train.lr_schedule=cosine", "lr_schedule.*max_steps"),
    ("train.output_prior=1.5", "output_prior.*1.5"),
    ("train.output_prior=0", "output_prior"),
    ("train.ema_decay=1.0", "ema_decay.*1.0"),
    ("train.whole_map_steps=-1", "whole_map_steps.*-1"),
    ("train.whole_map_steps=2 train.max_steps=4", "whole_map_steps.*train.crop=None"),
    ("train.whole_map_steps=2 train.crop=[32,32]", "whole_map_steps.*train.max_steps=None"),
    ("train.whole_map_steps=5 train.crop=[32,32] train.max_steps=4", "whole_map_steps.*at most"),
    ("loss.heatmap=dice", "loss.heatmap.*dice"),
    ("loss.heatmap=focal loss.focal_alpha=0", "focal_alpha"),
])
def test_semantic_checks(override: str, problem: str) -> None:
    config = typed(compose_config("train", override.split()), TrainRunConfig)
    with pytest.raises(ConfigError, match=problem):
        validate_train_config(config)


def test_evaluate_config_needs_a_checkpoint_and_takes_a_dataset() -> None:
    with pytest.raises(ConfigError, match="checkpoint"):
        typed(compose_config("evaluate", []), EvaluateRunConfig)
    config = typed(compose_config("evaluate", ["checkpoint=x.pt"]), EvaluateRunConfig)
    assert config.dataset is None and config.eval.mode == "online" and config.eval.reset_states
    config = typed(compose_config("evaluate", ["checkpoint=x.pt", "dataset=carrada", "eval.mode=buffer"]),
                   EvaluateRunConfig)
    assert config.dataset is not None and config.dataset.layout == "carrada" and config.eval.mode == "buffer"
