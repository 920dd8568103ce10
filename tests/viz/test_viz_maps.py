"""Map pictures: physical axes put a map's bright cell under its marker in every view, files are written."""

from __future__ import annotations

import math

import numpy as np
import pytest

from record.detections import Detection, ObjectTable
from record.errors import InputError
from record.sensors import CARRADA, ROD2021
from record.sim.truth import FrameTruth, ObjectTruth, ScattererPoints
from record.viz.maps import Marker, as_markers, plot_carrada_views, plot_rod2021_map, save_figure

TARGET = Marker(
    range_m=17.0, azimuth_rad=math.radians(-35.0), class_name="cyclist", label="#4", range_rate_mps=-3.0
)


def _bright_map(view, marker: Marker, floor: float = 0.0) -> np.ndarray:
    """A map of ``floor`` with one bright cell at the marker's bins."""
    values = np.full(view.shape, floor, dtype=np.float32)
    coordinates = {
        "range_m": marker.range_m,
        "azimuth_rad": marker.azimuth_rad,
        "range_rate_mps": marker.range_rate_mps,
    }
    values[tuple(int(axis.to_index(coordinates[axis.quantity])) for axis in view.axes)] = 100.0
    return values


def _value_under(ax, x: float, y: float) -> float:
    """The colour-mesh value of the cell that contains the point (x, y) in data coordinates."""
    mesh = ax.collections[0]
    corners = mesh.get_coordinates()  # [ny + 1, nx + 1, 2] cell edges
    xs, ys = corners[0, :, 0], corners[:, 0, 1]
    column = int(np.flatnonzero((np.minimum(xs[:-1], xs[1:]) <= x) & (x < np.maximum(xs[:-1], xs[1:])))[0])
    row = int(np.flatnonzero((np.minimum(ys[:-1], ys[1:]) <= y) & (y < np.maximum(ys[:-1], ys[1:])))[0])
    return float(np.asarray(mesh.get_array()).reshape(len(ys) - 1, len(xs) - 1)[row, column])


def _marker_positions(ax) -> list[tuple[float, float]]:
    return [tuple(c.get_offsets()[0]) for c in ax.collections[1:]]


def test_carrada_views_put_the_bright_cell_under_the_marker_in_every_orientation() -> None:
    maps = [_bright_map(CARRADA.view(name), TARGET) for name in ("rd", "ra", "ad")]
    figure = plot_carrada_views(*maps, truth=[TARGET], title="frame 0")
    rd_ax, ra_ax, ad_ax = [a for a in figure.axes if a.get_label() != "<colorbar>"][:3]
    expected = {rd_ax: (-3.0, 17.0), ra_ax: (-35.0, 17.0), ad_ax: (-3.0, -35.0)}
    for ax, (x, y) in expected.items():
        ((mx, my),) = _marker_positions(ax)
        assert (mx, my) == pytest.approx((x, y))
        assert _value_under(ax, x, y) == 100.0
    assert rd_ax.get_ylabel() == "range (m)" and ra_ax.get_xlabel() == "azimuth (deg)"
    assert "range rate" in ad_ax.get_xlabel() and ad_ax.get_ylabel() == "azimuth (deg)"
    assert [t.get_text() for t in ra_ax.texts] == ["#4"]


def test_rod2021_map_from_complex_chirps_with_truth_and_detections(tmp_path) -> None:
    view = ROD2021.view("ra")
    magnitude = _bright_map(view, TARGET, floor=0.01)
    chirps = np.stack([np.stack([magnitude, np.zeros_like(magnitude)], axis=-1)] * 4)  # [4, 128, 128, 2]
    detection = Detection(0, "cyclist", 1, 17.2, math.radians(-34.0), 0.87)
    figure = plot_rod2021_map(chirps, truth=[TARGET], detections=[detection])
    ax = figure.axes[0]
    assert _value_under(ax, -35.0, 17.0) == pytest.approx(40.0)  # 20 log10(100)
    assert [t.get_text() for t in ax.texts] == ["#4", "0.87"]
    for suffix in ("png", "svg"):
        path = save_figure(figure, tmp_path / f"ra.{suffix}")
        assert path.stat().st_size > 1000
    assert (tmp_path / "ra.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ra.png", "ra.svg"]  # no temporary files left


def test_markers_from_truth_and_object_tables() -> None:
    points = ScattererPoints(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    pose = (5.0, 0.0, 0.0, 0.0, 0.0, 0.4, 0.5)  # x, y, vx, vy, heading, length, width
    seen = ObjectTruth(3, "pedestrian", 5.0, 0.0, 0.5, *pose, True, 1.0, True, 20.0, points)
    hidden = ObjectTruth(4, "car", 9.0, 0.1, 0.0, *pose, True, 0.0, False, -10.0, points)
    truth = FrameTruth(0, 0.0, (seen, hidden))
    assert [m.label for m in as_markers(truth)] == ["#3"]
    assert len(as_markers(truth, visible_only=False)) == 2
    table = truth.to_object_table()
    assert isinstance(table, ObjectTable) and [m.class_name for m in as_markers(table)] == ["pedestrian"]
    assert as_markers(None) == []


def test_bad_input_raises() -> None:
    with pytest.raises(InputError, match="wrong shape"):
        plot_carrada_views(np.zeros((64, 256)), np.zeros((256, 256)), np.zeros((256, 64)))
    with pytest.raises(InputError, match="ra_map"):
        plot_rod2021_map(np.zeros((3, 128, 127, 2)))
    with pytest.raises(InputError, match="unsupported"):
        as_markers([("car", 3.0)])
