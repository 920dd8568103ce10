"""Range-azimuth shadowing by object boxes, including height and ownership."""

from __future__ import annotations

import numpy as np
import pytest

from record.errors import InputError
from record.sim.occlusion import Footprints, shadowed


def _box(x: float, y: float, length: float = 4.0, width: float = 2.0, height: float = 1.5) -> Footprints:
    return Footprints(
        np.array([[x, y]]), np.array([0.3]), np.array([length]), np.array([width]), np.array([height])
    )


def test_points_behind_a_box_are_shadowed_and_beside_it_are_not() -> None:
    box = _box(10.0, 0.0)
    points = np.array(
        [
            [20.0, 0.0, 1.0],  # straight behind
            [20.0, 1.5, 1.0],  # behind, within the angular shadow
            [5.0, 0.0, 1.0],  # in front
            [20.0, 8.0, 1.0],  # beside the shadow
            [20.0, 0.0, 3.0],  # behind but above the roof line
        ]
    )
    hidden = shadowed(points, np.full(5, -1), box, radar_height_m=1.0)
    assert hidden.tolist() == [True, True, False, False, False]


def test_own_box_never_shadows_its_points() -> None:
    box = Footprints.concatenate([_box(10.0, 0.0), _box(20.0, 0.0)])
    far_side = np.array([[11.9, 0.0, 0.5], [22.0, 0.0, 0.5]])  # rear of box 0, rear of box 1 (behind box 0)
    hidden = shadowed(far_side, np.array([0, 1]), box, radar_height_m=1.0)
    assert hidden.tolist() == [False, True]


def test_no_boxes_no_shadow() -> None:
    points = np.array([[5.0, 0.0, 1.0]])
    assert not shadowed(points, np.array([-1]), Footprints.concatenate([]), 1.0).any()


def test_footprints_check_shapes() -> None:
    with pytest.raises(InputError, match="centre_m"):
        Footprints(np.zeros((2, 3)), np.zeros(2), np.ones(2), np.ones(2), np.ones(2))
