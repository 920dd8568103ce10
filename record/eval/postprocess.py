"""ROD2021 post-processing: confidence maps -> peaks -> location-based NMS -> the best detections per frame.

The published pipeline (RODNet ``post_process_single_frame``, copied by RECORD), batched over frames:

1. :func:`detect_peaks`: per class, a pixel is a peak when it is the unique maximum of its 3 (range) x 5
   (azimuth) neighbourhood and exceeds ``peak_threshold``; rows ``1 .. H-2`` and columns ``2 .. W-3`` are
   scanned.
2. :func:`location_nms`: per frame and class, greedy suppression by OLS (the kept peak's range is the scale),
   at most ``max_dets`` kept per class. ``published=True`` reproduces RODNet's ``lnms``, which deletes from
   the list it iterates over and so never tests the candidate right after a deleted one against the kept peak
   (``record-architecture.md`` Q5); the default is the correct greedy suppression.
3. :func:`decode_confmaps`: the survivors of all classes sorted by score (stable: class order, then peak
   order), the ``max_dets`` best of each frame, converted from bins to metres / radians by the capture's axes.
   (RODNet reverses an ascending stable sort, which orders exact score ties the other way round.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from record.classes import ROD2021_CLASSES
from record.detections import ObjectTable
from record.errors import InputError
from record.eval.ols import class_kappas, object_location_similarity
from record.sensors import ROD2021, CaptureConfig

__all__ = ["PostProcessConfig", "decode_confmaps", "detect_peaks", "location_nms"]

#: Half sizes (rows, columns) of the peak neighbourhood: 3 range bins x 5 azimuth bins.
_PEAK_HALF = (1, 2)


@dataclass(frozen=True)
class PostProcessConfig:
    """Post-processing parameters (RODNet-CDC / RECORD values by default).

    Attributes:
        peak_threshold: a peak's confidence must exceed this.
        ols_threshold: L-NMS removes candidates whose OLS with a kept peak exceeds this.
        max_dets: detections kept per class by L-NMS, and per frame after merging the classes.
        published_lnms: reproduce RODNet's list-mutation quirk (Q5) instead of the correct suppression.
    """

    peak_threshold: float = 0.3
    ols_threshold: float = 0.3
    max_dets: int = 20
    published_lnms: bool = False


def detect_peaks(confmaps: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """Peaks of confidence maps ``[..., H, W]`` (range rows, azimuth columns), as a bool mask of that shape.

    A pixel is a peak when no other pixel of its 3 x 5 neighbourhood is >= it and it is > ``threshold``. Only
    the interior (rows 1 .. H-2, columns 2 .. W-3) can hold peaks, as in the published scan.
    """
    maps = np.asarray(confmaps)
    if maps.ndim < 2 or maps.shape[-2] < 2 * _PEAK_HALF[0] + 1 or maps.shape[-1] < 2 * _PEAK_HALF[1] + 1:
        raise InputError(f"detect_peaks: maps must be [..., H >= 3, W >= 5] (found shape {maps.shape})")
    height, width = maps.shape[-2:]
    dr, dc = _PEAK_HALF
    centre = maps[..., dr : height - dr, dc : width - dc]
    interior = centre > threshold
    for row in range(-dr, dr + 1):
        for col in range(-dc, dc + 1):
            if row or col:
                neighbour = maps[..., dr + row : height - dr + row, dc + col : width - dc + col]
                interior &= ~(neighbour >= centre)
    peaks = np.zeros(maps.shape, dtype=bool)
    peaks[..., dr : height - dr, dc : width - dc] = interior
    return peaks


@numba.njit(cache=True)
def _lnms_kernel(  # pragma: no cover
    group_start, range_m, azimuth_rad, kappa, ols_threshold, max_keep, published
):
    keep = np.zeros(range_m.shape[0], dtype=np.bool_)
    for group in range(group_start.shape[0] - 1):
        remaining = np.arange(group_start[group], group_start[group + 1])
        n_left = remaining.shape[0]
        n_kept = 0
        while n_left > 0 and n_kept < max_keep:
            best = remaining[0]
            keep[best] = True
            n_kept += 1
            remaining[: n_left - 1] = remaining[1:n_left]
            n_left -= 1
            i = 0
            while i < n_left:
                other = remaining[i]
                ols = object_location_similarity(
                    range_m[best], azimuth_rad[best], range_m[other], azimuth_rad[other], kappa[best]
                )
                if ols > ols_threshold:
                    remaining[i : n_left - 1] = remaining[i + 1 : n_left]
                    n_left -= 1
                    if published:  # the list iterator moves on past the element that slid into slot i
                        i += 1
                else:
                    i += 1
    return keep


def location_nms(
    group: np.ndarray,
    range_m: np.ndarray,
    azimuth_rad: np.ndarray,
    score: np.ndarray,
    kappa: np.ndarray,
    *,
    ols_threshold: float = 0.3,
    max_keep: int = 20,
    published: bool = False,
) -> np.ndarray:
    """Location-based NMS within each group (one frame and class); returns a keep mask ``bool[N]``.

    Args:
        group: group label ``int[N]`` (e.g. ``frame * n_classes + class_id``); groups are independent.
        range_m, azimuth_rad: candidate positions ``float[N]`` in metres / radians.
        score: candidate confidences ``float[N]``; within a group, higher scores are kept first and ties keep
            input order.
        kappa: OLS kappa ``float[N]`` of each candidate's class.
        ols_threshold: suppress a candidate when its OLS with a kept one exceeds this.
        max_keep: at most this many kept per group.
        published: reproduce RODNet's list-mutation quirk (Q5).
    """
    group = np.asarray(group, dtype=np.int64)
    arrays = [np.asarray(a, dtype=np.float64) for a in (range_m, azimuth_rad, score, kappa)]
    if any(a.shape != group.shape for a in arrays) or group.ndim != 1:
        shapes = [group.shape] + [a.shape for a in arrays]
        raise InputError(f"location_nms: inputs must be 1-D arrays of one length (found shapes {shapes})")
    order = np.lexsort((-arrays[2], group))
    sorted_group = group[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_group)) + 1, [len(order)])).astype(np.int64)
    keep_sorted = _lnms_kernel(
        starts, arrays[0][order], arrays[1][order], arrays[3][order],
        float(ols_threshold), int(max_keep), bool(published),
    )
    keep = np.zeros(group.shape, dtype=bool)
    keep[order] = keep_sorted
    return keep


def decode_confmaps(
    confmaps: np.ndarray,
    config: PostProcessConfig = PostProcessConfig(),
    *,
    first_frame: int = 0,
    classes: tuple[str, ...] = ROD2021_CLASSES,
    capture: CaptureConfig = ROD2021,
) -> ObjectTable:
    """Detections of a batch of confidence maps.

    Args:
        confmaps: probabilities (after ``model.activate``) ``[F, K, H, W]``: frames, classes, range rows,
            azimuth columns on the capture's grids (ROD2021: 128 x 128).
        config: thresholds, per-class / per-frame cap and L-NMS mode.
        first_frame: frame index of ``confmaps[0]``.
        classes: class names of the K channels.
        capture: capture whose range / azimuth axes convert bins to metres / radians.

    Returns:
        An :class:`ObjectTable` ordered by frame, then by descending score, at most ``config.max_dets`` per
        frame.
    """
    maps = np.asarray(confmaps)
    axes_shape = (len(classes), capture.range.n_bins, capture.azimuth.n_bins)
    if maps.ndim != 4 or maps.shape[1:] != axes_shape:
        raise InputError(f"decode_confmaps: expected confidence maps [F, {', '.join(map(str, axes_shape))}] "
                         f"(found shape {maps.shape})")
    frame, class_id, row, col = np.nonzero(detect_peaks(maps, config.peak_threshold))
    score = maps[frame, class_id, row, col].astype(np.float64)
    if np.any(score > 1.0):
        raise InputError(f"decode_confmaps: peak confidences must be probabilities in (0, 1] "
                         f"(found {score.max():.4g}; apply model.activate to the logits first)")
    range_m = capture.range.to_physical(row)
    azimuth_rad = capture.azimuth.to_physical(col)
    kept = location_nms(
        frame * len(classes) + class_id, range_m, azimuth_rad, score, class_kappas(classes)[class_id],
        ols_threshold=config.ols_threshold, max_keep=config.max_dets, published=config.published_lnms,
    )
    # np.nonzero lists peaks frame-major, then class, then scan order: the published concatenation order.
    idx = np.flatnonzero(kept)
    idx = idx[np.lexsort((-score[idx], frame[idx]))]
    frame_sorted = frame[idx]
    rank = np.arange(len(idx)) - np.searchsorted(frame_sorted, frame_sorted, side="left")
    idx = idx[rank < config.max_dets]
    return ObjectTable(
        frame[idx].astype(np.int64) + first_frame, class_id[idx].astype(np.int64), range_m[idx],
        azimuth_rad[idx], score[idx], tuple(classes),
    )
