"""Synthetic scenarios: named simulator settings for both captures, and a clear error for an unknown name."""

from __future__ import annotations

import pytest

from record.errors import ConfigError
from record.sensors import CARRADA, ROD2021
from record.train.synthetic import SCENARIOS, scenario_settings


@pytest.mark.parametrize("capture", [ROD2021, CARRADA], ids=["rod2021", "carrada"])
def test_temporal_scenario_fades_whole_objects_and_keeps_shadowed_labels(capture) -> None:
    scene, simulation = scenario_settings("temporal", capture)
    assert simulation.object_fading is not None and simulation.object_fading.rician_k == 0.0  # Rayleigh
    # a fade lasts several frames of the capture
    assert simulation.object_fading.correlation_s > 2 * capture.waveform.frame_period_s
    assert simulation.min_visible_fraction == 0.0 and simulation.occlusion
    clear_scene, clear = scenario_settings("clear", capture)
    assert clear.object_fading is None
    # the same strong road users as the clear scenario, plus static look-alikes as strong as them: poles in
    # the pedestrians' and cyclists' RCS span, parked cars in the moving cars' span
    assert scene is not None and clear_scene is not None and scene.priors == clear_scene.priors
    assert scene.clutter.poles[0] >= 1 and scene.clutter.parked_cars[0] >= 1 and scene.clutter.walls == (0, 0)
    assert scene.clutter.pole_rcs_dbsm[1] >= scene.priors["pedestrian"].rcs_dbsm[0]
    assert scene.clutter.pole_rcs_dbsm[0] <= scene.priors["cyclist"].rcs_dbsm[1]
    assert scene.clutter.parked_car_rcs_dbsm == scene.priors["car"].rcs_dbsm

def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="dataset.synthetic.scenario.*" + ".*".join(sorted(SCENARIOS))):
        scenario_settings("foggy", ROD2021)
