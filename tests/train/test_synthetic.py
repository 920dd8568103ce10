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
    assert scene is not None and scene.clutter.parked_cars[0] >= 1
    _, clear = scenario_settings("clear", capture)
    assert clear.object_fading is None


def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="dataset.synthetic.scenario.*" + ".*".join(sorted(SCENARIOS))):
        scenario_settings("foggy", ROD2021)
