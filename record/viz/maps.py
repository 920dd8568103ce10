"""Radar map pictures in physical units: CARRADA RD / RA / AD views and ROD2021 range-azimuth magnitude maps.

Every panel is drawn with :meth:`matplotlib.axes.Axes.pcolormesh` on the bin centres of the capture's view axes
(:mod:`record.sensors`), so storage orientation does not matter: range grows upwards, azimuth (degrees) and range
rate (m/s, positive receding) grow to the right, whatever the array order of the published view. Ground truth is
drawn as open circles in the class colour labelled with the track id, detections as crosses labelled with their
score. Functions build a fresh :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state, nothing shown);
:func:`save_figure` writes one atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from record.detections import Detection, ObjectTable
from record.errors import InputError, describe
from record.fileio import atomic_path
from record.sensors import CARRADA, ROD2021, CaptureConfig, View
from record.sim.truth import FrameTruth

__all__ = [
    "CLASS_COLOURS",
    "Marker",
    "as_markers",
    "draw_view",
    "plot_carrada_views",
    "plot_rod2021_map",
    "save_figure",
]

#: colour of each class's markers
CLASS_COLOURS: dict[str, str] = {"pedestrian": "tab:red", "cyclist": "tab:orange", "car": "tab:cyan"}
_OTHER_COLOUR = "white"
_AXIS_LABELS = {"range_m": "range (m)", "azimuth_rad": "azimuth (deg)", "range_rate_mps": "range rate (m/s)"}


@dataclass(frozen=True)
class Marker:
    """One object to mark on a map.

    Attributes:
        range_m: range, metres.
        azimuth_rad: azimuth, radians (positive towards the sensor's right).
        class_name: class (selects the colour).
        label: text beside the marker (track id, score).
        range_rate_mps: range rate, m/s; markers without one are left out of views with a Doppler axis.
    """

    range_m: float
    azimuth_rad: float
    class_name: str
    label: str = ""
    range_rate_mps: float | None = None

    def coordinate(self, quantity: str) -> float | None:
        """The marker's value on an axis measuring ``quantity``, in the plotted unit (m, deg, m/s)."""
        if quantity == "azimuth_rad":
            return math.degrees(self.azimuth_rad)
        return self.range_m if quantity == "range_m" else self.range_rate_mps


#: what the drawing functions accept as ground truth or detections
Objects = FrameTruth | ObjectTable | Sequence[Detection] | Sequence[Marker] | None


def as_markers(objects: Objects, *, visible_only: bool = True) -> list[Marker]:
    """Markers of ground truth (:class:`~record.sim.truth.FrameTruth`, :class:`~record.detections.ObjectTable`) or
    detections (sequence of :class:`~record.detections.Detection`); markers pass through; None gives none."""
    if objects is None:
        return []
    if isinstance(objects, FrameTruth):
        chosen = objects.visible_objects() if visible_only else objects.objects
        return [
            Marker(o.range_m, o.azimuth_rad, o.class_name, f"#{o.track_id}", o.range_rate_mps) for o in chosen
        ]
    if isinstance(objects, ObjectTable):
        objects = objects.to_detections()
    markers = []
    for item in objects:
        if isinstance(item, Marker):
            markers.append(item)
        elif isinstance(item, Detection):
            markers.append(
                Marker(
                    item.range_m, item.azimuth_rad, item.class_name, f"{item.score:.2f}", item.range_rate_mps
                )
            )
        else:
            raise InputError(
                describe(
                    "as_markers",
                    "unsupported object",
                    found=type(item).__name__,
                    expected="Detection or Marker",
                )
            )
    return markers


def _axis_values(axis) -> np.ndarray:
    values = axis.values()
    return np.degrees(values) if axis.quantity == "azimuth_rad" else values


def _check_map(values: np.ndarray, view: View, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != view.shape or not np.issubdtype(values.dtype, np.floating):
        raise InputError(
            describe(
                where,
                f"{view.name} map has the wrong shape or dtype",
                found=(values.shape, values.dtype),
                expected=view.shape,
            )
        )
    return values


def draw_view(
    ax: Axes,
    values: np.ndarray,
    view: View,
    *,
    truth: Objects = None,
    detections: Objects = None,
    colour_label: str = "",
    title: str | None = None,
) -> None:
    """Draw one 2-D map on ``ax`` in physical units, with markers.

    Args:
        ax: target axes.
        values: float map in the array order of ``view`` (``view.shape``), e.g. dB or linear magnitude.
        view: the 2-D view whose axes give the coordinates (``CARRADA.view("rd")``, ``ROD2021.view("ra")``, ...).
        truth: ground truth to mark (open circles, track ids).
        detections: detections to mark (crosses, scores).
        colour_label: colour-bar label.
        title: panel title (default: the view name).
    """
    values = _check_map(values, view, "draw_view")
    if len(view.axes) != 2:
        raise InputError(describe("draw_view", "only 2-D views can be drawn", found=view.name))
    rows, columns = view.axes
    mesh = ax.pcolormesh(_axis_values(columns), _axis_values(rows), values, shading="nearest", cmap="viridis")
    ax.figure.colorbar(mesh, ax=ax, label=colour_label)
    ax.set_xlabel(_AXIS_LABELS[columns.quantity])
    ax.set_ylabel(_AXIS_LABELS[rows.quantity])
    ax.set_title(view.name.upper() if title is None else title)
    for markers, style in ((as_markers(truth), "o"), (as_markers(detections), "x")):
        for marker in markers:
            x, y = marker.coordinate(columns.quantity), marker.coordinate(rows.quantity)
            if x is None or y is None:
                continue
            colour = CLASS_COLOURS.get(marker.class_name, _OTHER_COLOUR)
            if style == "o":
                ax.scatter([x], [y], s=90, marker=style, facecolors="none", edgecolors=colour, linewidths=1.8)
            else:
                ax.scatter([x], [y], s=90, marker=style, color=colour, linewidths=1.8)
            if marker.label:
                ax.annotate(
                    marker.label, (x, y), xytext=(6, 6), textcoords="offset points", color=colour, fontsize=8
                )


def plot_carrada_views(
    rd: np.ndarray,
    ra: np.ndarray,
    ad: np.ndarray,
    *,
    truth: Objects = None,
    detections: Objects = None,
    capture: CaptureConfig = CARRADA,
    title: str | None = None,
    colour_label: str = "power (dB)",
) -> Figure:
    """The three CARRADA views side by side: RD ``[256, 64]``, RA ``[256, 256]``, AD ``[256, 64]`` (published
    orientations, e.g. the ``*_processed`` dB maps of one frame)."""
    figure = Figure(figsize=(16.0, 5.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    for ax, values, name in zip(axes, (rd, ra, ad), ("rd", "ra", "ad")):
        draw_view(
            ax, values, capture.view(name), truth=truth, detections=detections, colour_label=colour_label
        )
    if title:
        figure.suptitle(title)
    return figure


def plot_rod2021_map(
    ra_map: np.ndarray,
    *,
    truth: Objects = None,
    detections: Objects = None,
    capture: CaptureConfig = ROD2021,
    chirp: int | None = None,
    title: str | None = None,
) -> Figure:
    """Range-azimuth magnitude (dB) of a ROD2021 frame.

    Args:
        ra_map: complex maps as stored, float ``[n_chirps, 128, 128, 2]`` or ``[128, 128, 2]`` (real, imaginary),
            or a magnitude map ``[128, 128]``.
        truth, detections: objects to mark.
        capture: the capture whose ``"ra"`` view gives the axes.
        chirp: chirp to show; None averages the magnitude over the chirps.
        title: figure title.
    """
    values = np.asarray(ra_map, dtype=np.float32)
    view = capture.view("ra")
    magnitude = values
    if values.shape[-1:] == (2,) and values.ndim in (3, 4):
        magnitude = np.hypot(values[..., 0], values[..., 1])
        if magnitude.ndim == 3:
            magnitude = magnitude.mean(axis=0) if chirp is None else magnitude[chirp]
    if magnitude.shape != view.shape:
        rows, columns = view.shape
        raise InputError(
            describe(
                "plot_rod2021_map",
                "ra_map has the wrong shape",
                found=values.shape,
                expected=f"[chirps, {rows}, {columns}, 2], [{rows}, {columns}, 2] or [{rows}, {columns}]",
            )
        )
    figure = Figure(figsize=(6.5, 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    db = 20.0 * np.log10(np.maximum(magnitude, 1e-12))
    draw_view(
        ax, db, view, truth=truth, detections=detections, colour_label="magnitude (dB)", title=title or "RA"
    )
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``figure`` to ``path`` atomically; the format follows the suffix (``.png``, ``.pdf``, ``.svg``)."""
    path = Path(path)
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    return path
