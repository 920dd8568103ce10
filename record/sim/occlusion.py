"""Range-azimuth shadowing: which scatterers hide behind a nearer object.

Objects occlude with their footprint box (oriented rectangle on the ground, extruded to the object's height). A
scatterer is shadowed when the straight line from the radar (at the origin, ``radar_height_m`` above ground) to it
crosses another object's box below that box's roof: a pedestrian behind a car is hidden but for the head when the
car is low enough. The line is tested against each box with the slab method, vectorised over scatterers x boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from record.errors import InputError, describe

__all__ = ["Footprints", "shadowed"]

_EPS = 1e-9


@dataclass(frozen=True)
class Footprints:
    """Oriented boxes standing on the ground, arrays ``[O]`` (``centre_m`` is ``[O, 2]``).

    Attributes:
        centre_m: box centre (x forward, y left), metres.
        heading_rad: direction of the box's length axis, radians from +x towards +y.
        length_m, width_m, height_m: box size, metres.
    """

    centre_m: np.ndarray
    heading_rad: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray
    height_m: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.heading_rad)
        if np.shape(self.centre_m) != (n, 2):
            raise InputError(
                describe("Footprints.centre_m", "wrong shape", found=np.shape(self.centre_m), expected=(n, 2))
            )
        for name in ("length_m", "width_m", "height_m"):
            if np.shape(getattr(self, name)) != (n,):
                raise InputError(
                    describe(
                        f"Footprints.{name}",
                        "wrong shape",
                        found=np.shape(getattr(self, name)),
                        expected=(n,),
                    )
                )

    def __len__(self) -> int:
        return len(self.heading_rad)

    @staticmethod
    def concatenate(parts: list[Footprints]) -> Footprints:
        """One set holding every box of ``parts`` in order."""
        if not parts:
            empty = np.zeros(0)
            return Footprints(np.zeros((0, 2)), empty, empty, empty, empty)
        names = ("centre_m", "heading_rad", "length_m", "width_m", "height_m")
        return Footprints(*(np.concatenate([getattr(p, name) for p in parts]) for name in names))


def shadowed(points_m: np.ndarray, owner: np.ndarray, boxes: Footprints, radar_height_m: float) -> np.ndarray:
    """Which points are hidden from the radar by a box other than their own.

    Args:
        points_m: scatterer positions ``[P, 3]`` (x forward, y left, z up from the ground), metres.
        owner: index into ``boxes`` of the object each point belongs to, ``[P]``; -1 for none.
        boxes: the occluding boxes.
        radar_height_m: height of the radar above the ground, metres.

    Returns:
        bool ``[P]``.
    """
    points_m = np.asarray(points_m, dtype=np.float64)
    if len(boxes) == 0 or len(points_m) == 0:
        return np.zeros(len(points_m), dtype=bool)
    cos_h, sin_h = np.cos(boxes.heading_rad), np.sin(boxes.heading_rad)
    # the ray from the radar (origin) to each point, in each box's frame: q(s) = start + s * step, s in [0, 1]
    start_x = -(boxes.centre_m[:, 0] * cos_h + boxes.centre_m[:, 1] * sin_h)
    start_y = boxes.centre_m[:, 0] * sin_h - boxes.centre_m[:, 1] * cos_h
    px, py = points_m[:, 0:1], points_m[:, 1:2]
    step_x = px * cos_h + py * sin_h
    step_y = -px * sin_h + py * cos_h
    enter = np.zeros(step_x.shape)
    leave = np.ones(step_x.shape)
    for start, step, half in (
        (start_x, step_x, 0.5 * boxes.length_m),
        (start_y, step_y, 0.5 * boxes.width_m),
    ):
        safe = np.where(np.abs(step) > _EPS, step, _EPS)
        s1, s2 = (-half - start) / safe, (half - start) / safe
        parallel_outside = (np.abs(step) <= _EPS) & (np.abs(start) > half)
        enter = np.maximum(enter, np.minimum(s1, s2))
        leave = np.minimum(leave, np.where(parallel_outside, -1.0, np.maximum(s1, s2)))
    crosses = (enter <= leave) & (enter < 1.0 - _EPS)
    # height of the ray where it passes through the box: lowest at one end of the crossing
    pz = points_m[:, 2:3]
    ray_low = np.minimum(
        radar_height_m + (pz - radar_height_m) * enter, radar_height_m + (pz - radar_height_m) * leave
    )
    hidden = crosses & (ray_low < boxes.height_m)
    hidden[np.arange(len(points_m)), np.clip(owner, 0, None)] &= np.asarray(owner) < 0
    return hidden.any(axis=1)
