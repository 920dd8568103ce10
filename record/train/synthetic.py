"""Synthetic datasets for training runs: simulator settings by name and on-demand simulation.

A config with ``dataset.synthetic`` set (``dataset=synth_rod2021`` / ``synth_carrada``) is simulated into its
``root`` the first time it is used; an existing non-empty ``root`` is reused as is (the writers build a
dataset beside its destination and rename it when complete, so an existing folder is a complete dataset).

Scenarios (:data:`SCENARIOS`) name the scene and physics settings passed to the writers:

* ``default``: the simulator's calibrated defaults (:func:`record.data.synth_common.dataset_scene`): road
  users with their literature RCS among static clutter (ground, poles, walls, parked cars). Single frames are
  hard: in the default validation split the median object peaks only ~11 dB above the frame's median
  magnitude, and a third of the objects less than 6 dB.
* ``clear``: road users 15 dB stronger and no static clutter besides the ground, so a few minutes of CPU
  training already learn visible detections (``record demo``).
* ``temporal``: the ``clear`` road users with the effects where a detector's memory matters: whole-object
  Rayleigh fading with a 0.25 s correlation time (:mod:`record.sim.fading`: a fade lasts several frames, on
  top of the Swerling-I fluctuation of every reflection centre), objects that stay annotated while another
  object shadows them (as camera-based labels would), and static look-alikes as strong as the road users:
  1-3 poles in the pedestrians' and cyclists' RCS span and 1-2 parked cars in the moving cars' span,
  unlabelled. A single frame's magnitudes cannot tell a pole from a pedestrian or a parked car from a moving
  car; motion over frames can (and, weakly, the phase across the few chirps a frame holds)
  (``benchmarks/synthetic_accuracy.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from record.data.synth_common import SplitSize, dataset_scene
from record.errors import ConfigError, describe
from record.sensors import CARRADA, ROD2021, CaptureConfig
from record.sim import ClutterConfig, ObjectFading, SceneConfig, SimulationConfig
from record.train.config import DatasetConfig, SynthConfig

__all__ = ["SCENARIOS", "ensure_dataset", "scenario_settings"]

#: RCS offset (dB) of the ``clear`` and ``temporal`` road users (and of the temporal scenario's static
#: look-alikes): strong enough for a few minutes of CPU training to learn.
_STRONG_DB = 15.0


def _shifted(bounds: tuple[float, float], offset_db: float) -> tuple[float, float]:
    return bounds[0] + offset_db, bounds[1] + offset_db


def _with_rcs_offset(scene: SceneConfig, offset_db: float, **changes: object) -> SceneConfig:
    """``scene`` with every class's RCS prior shifted by ``offset_db`` and other fields replaced."""
    priors = {
        name: dataclasses.replace(prior, rcs_dbsm=_shifted(prior.rcs_dbsm, offset_db))
        for name, prior in scene.priors.items()
    }
    return dataclasses.replace(scene, priors=priors, **changes)  # type: ignore[arg-type]


def _default(capture: CaptureConfig) -> tuple[SceneConfig | None, SimulationConfig]:
    return None, SimulationConfig()


def _clear_scene(capture: CaptureConfig) -> SceneConfig:
    ground_only = ClutterConfig(poles=(0, 0), walls=(0, 0), parked_cars=(0, 0))
    return _with_rcs_offset(dataset_scene(capture), _STRONG_DB, clutter=ground_only)


def _clear(capture: CaptureConfig) -> tuple[SceneConfig | None, SimulationConfig]:
    return _clear_scene(capture), SimulationConfig()


def _temporal(capture: CaptureConfig) -> tuple[SceneConfig | None, SimulationConfig]:
    defaults = ClutterConfig()
    static_look_alikes = ClutterConfig(
        poles=(1, 3), pole_rcs_dbsm=_shifted(defaults.pole_rcs_dbsm, _STRONG_DB), walls=(0, 0),
        parked_cars=(1, 2), parked_car_rcs_dbsm=_shifted(defaults.parked_car_rcs_dbsm, _STRONG_DB))
    scene = _with_rcs_offset(dataset_scene(capture), _STRONG_DB, clutter=static_look_alikes)
    return scene, SimulationConfig(fluctuation="swerling1", object_fading=ObjectFading(correlation_s=0.25),
                                   occlusion=True, min_visible_fraction=0.0)


#: Scenario name -> (scene settings or None for the writer's default, simulation settings) for a capture.
SCENARIOS: dict[str, Callable[[CaptureConfig], tuple[SceneConfig | None, SimulationConfig]]] = {
    "clear": _clear,
    "default": _default,
    "temporal": _temporal,
}


def scenario_settings(name: str, capture: CaptureConfig) -> tuple[SceneConfig | None, SimulationConfig]:
    """Scene and simulation settings of scenario ``name`` for ``capture``."""
    if name not in SCENARIOS:
        raise ConfigError(describe("dataset.synthetic.scenario", "unknown scenario", found=repr(name),
                                   expected=sorted(SCENARIOS)))
    return SCENARIOS[name](capture)


def _simulate(config: DatasetConfig, synth: SynthConfig, progress: bool) -> None:
    root = Path(config.root)
    evaluation = SplitSize(synth.valid_sequences, synth.eval_frames)
    sizes = (SplitSize(synth.train_sequences, synth.train_frames), evaluation,
             SplitSize(synth.test_sequences, synth.eval_frames))
    if config.layout == "rod2021":
        from record.data.synth_rod2021 import Rod2021SynthConfig, write_rod2021

        scene, simulation = scenario_settings(synth.scenario, ROD2021)
        write_rod2021(root, Rod2021SynthConfig(*sizes, scene=scene, simulation=simulation), seed=synth.seed,
                      progress=progress)
        return
    from record.data.synth_carrada import CarradaSynthConfig, write_carrada

    if root.name != "Carrada":
        raise ConfigError(describe("dataset.root", "a synthetic CARRADA root must be a folder named Carrada",
                                   found=str(root),
                                   expected=".../Carrada (the dataset is written to its parent)"))
    scene, simulation = scenario_settings(synth.scenario, CARRADA)
    write_carrada(root.parent, CarradaSynthConfig(*sizes, scene=scene, simulation=simulation),
                  seed=synth.seed,
                  progress=progress)


def ensure_dataset(config: DatasetConfig, *, progress: bool = True) -> Path:
    """The dataset root, simulated first when the config is synthetic and the root is missing or empty.

    Raises:
        ConfigError: a real dataset's root does not exist.
    """
    root = Path(config.root)
    present = root.is_dir() and any(root.iterdir())
    if present:
        return root
    if config.synthetic is None:
        raise ConfigError(describe(f"dataset.root ({config.name})", "dataset folder not found",
                                   found=str(root),
                                   expected="an existing data root (override with dataset.root=PATH)"))
    _simulate(config, config.synthetic, progress)
    return root
