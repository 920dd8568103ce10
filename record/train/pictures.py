"""Evaluation pictures: per-sequence strips of maps with ground truth and predictions, and animated GIFs.

Each frame is drawn as one column of panels (:class:`FramePanels`): ROD2021 shows the input magnitude and the
predicted confidence (maximum over classes) with ground-truth circles and detection crosses; CARRADA shows,
per output view, the input map, the ground-truth labels and the predicted labels. A strip puts several frames
side by side in one PNG; a GIF animates consecutive frames (one column each).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from record.detections import ObjectTable
from record.fileio import atomic_path
from record.sensors import View
from record.viz.maps import draw_view, save_figure

__all__ = ["FramePanels", "Panel", "save_gif", "save_strip"]

_PANEL_SIZE = (3.6, 3.0)


@dataclass(frozen=True)
class Panel:
    """One map to draw: values in the array order of ``view``, a title, a colour-bar label, markers."""

    values: np.ndarray
    view: View
    title: str
    colour_label: str = ""
    truth: ObjectTable | None = None
    detections: ObjectTable | None = None


@dataclass(frozen=True)
class FramePanels:
    """The panels of one frame, drawn top to bottom."""

    label: str
    panels: Sequence[Panel] = field(default_factory=tuple)


def _figure(frames: Sequence[FramePanels], title: str) -> Figure:
    rows = max(len(frame.panels) for frame in frames)
    figure = Figure(figsize=(_PANEL_SIZE[0] * len(frames), _PANEL_SIZE[1] * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, len(frames), squeeze=False)
    for column, frame in enumerate(frames):
        for row in range(rows):
            ax = axes[row][column]
            if row >= len(frame.panels):
                ax.set_axis_off()
                continue
            panel = frame.panels[row]
            draw_view(ax, np.asarray(panel.values, dtype=np.float64), panel.view, truth=panel.truth,
                      detections=panel.detections, colour_label=panel.colour_label,
                      title=f"{frame.label}: {panel.title}")
    figure.suptitle(title)
    return figure


def save_strip(frames: Sequence[FramePanels], path: str | os.PathLike[str], title: str) -> Path:
    """Frames side by side in one picture (PNG by suffix), written atomically."""
    return save_figure(_figure(frames, title), path, dpi=80)


def save_gif(frames: Sequence[FramePanels], path: str | os.PathLike[str], title: str,
             frame_seconds: float = 0.2) -> Path:
    """An animated GIF with one frame's panels per image, written atomically."""
    from PIL import Image

    images = []
    for frame in frames:
        figure = _figure([frame], title)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=60)
        buffer.seek(0)
        images.append(Image.open(buffer).convert("P", palette=Image.Palette.ADAPTIVE))
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(1000 * frame_seconds), loop=0)
    return path
