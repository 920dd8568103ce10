"""The ROS-free detector core: ``sensor_msgs/Image`` fields in, detections and label masks out, state kept.

:class:`DetectorCore` wraps one :class:`~record.runtime.StreamingRuntime` (one stream) and does everything the
ROS node and the bag replay have in common: it checks and decodes the image (NumPy views of the byte buffer,
no per-pixel Python), runs the signal chain for raw ADC cubes, normalises, steps the runtime with its
recurrent state, decodes the scores, resets the state when the stream breaks and keeps statistics. Bad input
never raises: it comes back as a :class:`DroppedFrame`. This module imports neither rclpy nor any message
package; :mod:`record.ros.messages` converts to and from the messages.

Message layouts (``sensor_msgs/Image``; ``is_bigendian`` 0 or 1 are both read; ``step`` >= width x bytes per
pixel, rows may be padded; ``len(data) == step x height``):

===========  ======================  =========================================  ==============================
input.kind   dataset (model)         encoding                                   height x width
===========  ======================  =========================================  ==============================
``adc``      ROD2021                 ``32FC2`` (complex float32: real, imag)    (255 or 4 loops) x 2 tx x 4 rx
                                     or ``16SC2`` (complex int16: I, Q)         rows, 128 samples
``adc``      CARRADA                 ``32FC2`` or ``16SC2``                     64 loops x 2 tx x 4 rx rows,
                                                                                256 samples
``maps``     ROD2021                 ``32FC2`` (the chain's complex RA maps,    4 chirps x 128 range rows,
                                     already x 1e-4)                            128 azimuth
``maps``     CARRADA                 ``32FC1`` (``*_processed`` dB views, not   256 rows, the model's views
                                     normalised)                                side by side: RD | RA | AD
===========  ======================  =========================================  ==============================

* Raw ADC: row ``(loop * n_tx + tx) * n_rx + rx`` holds that chirp's samples (the order of
  :mod:`record.dsp.adc`: chirp-major, then Rx); int16 counts are taken as they are (no scaling), like DCA1000
  captures. ROD2021 accepts all 255 loops or only the 4 kept ones (0, 64, 128, 192).
* ROD2021 maps: row ``chirp * 128 + range`` (range row 0 = 0.64 m), column = azimuth from -90 deg (uniform in
  sin); the 2 channels are (real, imaginary): exactly ``Rod2021Chain()(adc)[0]`` reshaped to ``[512, 128, 2]``
  (:func:`rod2021_maps`).
* CARRADA maps: the ``*_processed`` views in the published orientations (RD ``[256 range, 64 Doppler]`` row 0
  = near; RA ``[256 range, 256 angle]`` row 0 = far; AD ``[256 angle, 64 Doppler]``), concatenated along the
  columns in the order RD, RA, AD, keeping only the views the model reads (MV-RECORD: 64 + 256 + 64 = 384
  columns; a single-view model: its view alone) (:func:`carrada_maps`). The core normalises them with the
  export's ``normalisation`` (min-max over the published dB range).

Outputs (:class:`FrameResult`): detections as an :class:`~record.detections.ObjectTable` (frame 0; ROD2021:
peaks + location NMS of :func:`~record.eval.postprocess.decode_confmaps`; CARRADA: connected components of
each object class in the RA label map, at their centroid, scored by the mean softmax probability of the class
over the component; models without an RA output give no detections), CARRADA label maps per output view
(uint8, class ids of ``spec.classes``, background 0), and per-stage timings.

State resets (reported in :attr:`FrameResult.reset_reason`, counted in :meth:`DetectorCore.statistics`),
checked before each good frame, first match wins: ``first`` (no frame processed yet), an explicit
:meth:`DetectorCore.reset` reason, ``after_bad_frame`` (a malformed or non-finite frame was dropped since the
last good one), ``frame_id`` (changed), ``backwards`` (stamp earlier than the last good one), ``gap`` (stamps
more than ``max_gap_s`` apart). Frames older than ``max_age_s`` when processed are dropped as ``stale``
without a reset (the gap rule resets if too many go missing).
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from record.detections import ObjectTable
from record.errors import ConfigError, InputError, describe
from record.runtime.base import StreamingRuntime
from record.runtime.spec import DeploymentSpec, TensorSpec
from record.sensors import CARRADA, ROD2021, AzimuthAxis, RangeAxis

__all__ = [
    "DROP_REASONS",
    "ENCODINGS",
    "INPUT_KINDS",
    "RESET_REASONS",
    "STAGES",
    "CoreConfig",
    "DetectorCore",
    "DroppedFrame",
    "FrameResult",
    "InputImage",
    "InputLayout",
    "carrada_maps",
    "expected_layout",
    "rod2021_maps",
]

#: ``input.kind`` values: raw ADC cubes or precomputed model-input maps.
INPUT_KINDS = ("adc", "maps")
#: Image encodings read: name -> (NumPy scalar type, channels).
ENCODINGS: dict[str, tuple[str, int]] = {"32FC2": ("f4", 2), "16SC2": ("i2", 2), "32FC1": ("f4", 1)}
#: Why the state was reset (in checking order).
RESET_REASONS = ("first", "after_bad_frame", "frame_id", "backwards", "gap")
#: Why a frame was dropped (the key counted; a malformed frame's reason reads ``malformed: <what>``).
DROP_REASONS = ("stale", "malformed", "non_finite")
#: Timed stages of one frame (milliseconds), plus ``total``.
STAGES = ("decode", "signal_chain", "inference", "postprocess")
#: CARRADA view order in a side-by-side maps image.
CARRADA_VIEW_ORDER = ("rd", "ra", "ad")


# ------------------------------------------------------------ records
@dataclass(frozen=True)
class InputImage:
    """The fields of a ``sensor_msgs/Image``, without ROS.

    Attributes:
        stamp_ns: header stamp in nanoseconds (``sec * 10**9 + nanosec``).
        frame_id: header frame id (the radar's frame).
        height, width: rows and columns (pixels).
        encoding: ``32FC2``, ``16SC2`` or ``32FC1`` (:data:`ENCODINGS`).
        is_bigendian: byte order of ``data``.
        step: bytes per row (>= width x bytes per pixel).
        data: ``step * height`` bytes (bytes, a buffer such as ``memoryview`` / ``array.array``, or a uint8
            array).
    """

    stamp_ns: int
    frame_id: str
    height: int
    width: int
    encoding: str
    is_bigendian: bool
    step: int
    data: bytes | memoryview | np.ndarray


@dataclass(frozen=True)
class CoreConfig:
    """Behaviour of a :class:`DetectorCore`; every field is required (the node reads them from parameters).

    Attributes:
        input_kind: ``adc`` (raw cube through the signal chain) or ``maps`` (precomputed model-input maps).
        peak_threshold: ROD2021 post-processing: a confidence peak must exceed this (published 0.3);
            in [0, 1).
        max_gap_s: reset the state when consecutive good stamps are more than this apart (> 0).
        max_age_s: drop frames older than this at processing time (``now - stamp``); 0 = never.
        min_blob_cells: CARRADA detections: ignore connected components of fewer RA cells than this (>= 1).
        latency_window: frames over which :meth:`DetectorCore.statistics` computes latency percentiles (>= 1).
    """

    input_kind: str
    peak_threshold: float
    max_gap_s: float
    max_age_s: float
    min_blob_cells: int
    latency_window: int

    def __post_init__(self) -> None:
        where = "CoreConfig"
        if self.input_kind not in INPUT_KINDS:
            raise ConfigError(describe(f"{where}.input_kind", "unknown input kind",
                                       found=repr(self.input_kind), expected=" or ".join(INPUT_KINDS)))
        if not 0.0 <= self.peak_threshold < 1.0:
            raise ConfigError(describe(f"{where}.peak_threshold", "out of range", found=self.peak_threshold,
                                       expected="[0, 1)"))
        if not self.max_gap_s > 0.0:
            raise ConfigError(describe(f"{where}.max_gap_s", "must be positive", found=self.max_gap_s))
        if not self.max_age_s >= 0.0:
            raise ConfigError(describe(f"{where}.max_age_s", "must be >= 0 (0 = never drop)",
                                       found=self.max_age_s))
        if self.min_blob_cells < 1:
            raise ConfigError(describe(f"{where}.min_blob_cells", "must be >= 1", found=self.min_blob_cells))
        if self.latency_window < 1:
            raise ConfigError(describe(f"{where}.latency_window", "must be >= 1", found=self.latency_window))


@dataclass(frozen=True)
class FrameResult:
    """What one processed frame gives.

    Attributes:
        stamp_ns, frame_id: copied from the input.
        detections: frame 0, classes = ``spec.classes``, ordered by descending score; positions polar in the
            input's frame (``x_m``/``y_m`` of :class:`~record.detections.Detection`: REP-103).
        masks: CARRADA: uint8 label maps ``[H, W]`` per output view (``rd``, ``ra``); ``{}`` for ROD2021.
        reset_reason: why the state was reset before this frame (:data:`RESET_REASONS`, or an explicit
            :meth:`DetectorCore.reset` reason), or None.
        timings_ms: milliseconds per stage (:data:`STAGES`; 0 for a stage that did not run) and ``total``.
    """

    stamp_ns: int
    frame_id: str
    detections: ObjectTable
    masks: dict[str, np.ndarray]
    reset_reason: str | None
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class DroppedFrame:
    """A frame that was not processed: ``stale``, ``malformed: <what>`` or ``non_finite``."""

    stamp_ns: int
    frame_id: str
    reason: str

    @property
    def kind(self) -> str:
        """The counted reason (:data:`DROP_REASONS`): the text before ``:``."""
        return self.reason.split(":", 1)[0]


@dataclass(frozen=True)
class InputLayout:
    """The images a core accepts: encodings, allowed heights, the width, and the layout in words."""

    encodings: tuple[str, ...]
    heights: tuple[int, ...]
    width: int
    description: str


class _Malformed(Exception):
    """Internal: the image does not follow the layout (the message says how)."""


class _NonFinite(Exception):
    """Internal: the image holds NaN or infinite values."""


# ------------------------------------------------------------ layouts
def _carrada_views(spec: DeploymentSpec) -> list[TensorSpec]:
    """The model's frame inputs in side-by-side order (RD, RA, AD)."""
    views = [t for t in spec.frames if t.view in CARRADA_VIEW_ORDER]
    if len(views) != len(spec.frames):
        raise ConfigError(describe(f"model {spec.model}", "CARRADA frame inputs without a known view",
                                   found=[(t.name, t.view) for t in spec.frames],
                                   expected=CARRADA_VIEW_ORDER))
    return sorted(views, key=lambda t: CARRADA_VIEW_ORDER.index(str(t.view)))


def expected_layout(spec: DeploymentSpec, input_kind: str) -> InputLayout:
    """The image layout a model with ``spec`` accepts for ``input_kind`` (see the module docstring).

    Raises:
        ConfigError: unknown dataset / input kind, or a model whose frame size cannot be fed that way (raw ADC
            needs an export at the sensor's map sizes; ROD2021 post-processing needs 128 x 128).
    """
    if input_kind not in INPUT_KINDS:
        raise ConfigError(describe("input kind", "unknown", found=repr(input_kind), expected=INPUT_KINDS))
    if spec.dataset == "rod2021":
        frame = spec.frames[0].shape
        expected = (2 * len(ROD2021.chirp_ids or ()), ROD2021.range.n_bins, ROD2021.azimuth.n_bins)
        if len(spec.frames) != 1 or tuple(frame) != expected:
            raise ConfigError(describe(f"model {spec.model}", "a ROD2021 model must read one frame of the "
                                       "sensor's size", found=[list(t.shape) for t in spec.frames],
                                       expected=list(expected)))
        waveform = ROD2021.waveform
        n_chirps = len(ROD2021.chirp_ids or ())
        if input_kind == "adc":
            per_loop = waveform.n_tx * waveform.n_rx
            rows = (waveform.n_loops * per_loop, n_chirps * per_loop)
            return InputLayout(("32FC2", "16SC2"), rows, waveform.n_samples,
                               f"raw ADC: rows = (loop * {waveform.n_tx} + tx) * {waveform.n_rx} + rx for "
                               f"{waveform.n_loops} or {n_chirps} loops, {waveform.n_samples} sample columns")
        return InputLayout(("32FC2",), (n_chirps * ROD2021.range.n_bins,), ROD2021.azimuth.n_bins,
                           f"complex RA maps: rows = chirp * {ROD2021.range.n_bins} + range, "
                           f"{ROD2021.azimuth.n_bins} azimuth columns")
    if spec.dataset == "carrada":
        views = _carrada_views(spec)
        if input_kind == "adc":
            for tensor in views:
                sensor = CARRADA.view(str(tensor.view)).shape
                if tuple(tensor.shape[1:]) != sensor:
                    raise ConfigError(describe(f"model {spec.model}: view {tensor.view}",
                                               "raw ADC input needs an export at the sensor's view size",
                                               found=list(tensor.shape[1:]),
                                               expected=f"{list(sensor)} (export without --size)"))
            waveform = CARRADA.waveform
            rows = waveform.n_loops * waveform.n_tx * waveform.n_rx
            return InputLayout(("32FC2", "16SC2"), (rows,), waveform.n_samples,
                               f"raw ADC: rows = (loop * {waveform.n_tx} + tx) * {waveform.n_rx} + rx for "
                               f"{waveform.n_loops} loops, {waveform.n_samples} sample columns")
        heights = {t.shape[1] for t in views}
        if len(heights) != 1:
            raise ConfigError(describe(f"model {spec.model}",
                                       "views of different heights cannot be side by side",
                                       found={t.view: list(t.shape[1:]) for t in views}))
        widths = " | ".join(f"{str(t.view).upper()} {t.shape[2]}" for t in views)
        return InputLayout(("32FC1",), (heights.pop(),), sum(t.shape[2] for t in views),
                           f"processed dB views side by side: {widths} columns")
    raise ConfigError(describe(f"model {spec.model}", "unknown dataset", found=spec.dataset,
                               expected="rod2021 or carrada"))


def rod2021_maps(maps: np.ndarray) -> np.ndarray:
    """ROD2021 complex RA maps ``[4, 128, 128, 2]`` (``Rod2021Chain()(adc)[0]``) as ``[512, 128, 2]``."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 4 or maps.shape[-1] != 2:
        raise InputError(describe("rod2021_maps", "expected [chirps, range, azimuth, 2]",
                                  found=list(maps.shape)))
    return np.ascontiguousarray(maps.reshape(-1, maps.shape[2], 2))


def carrada_maps(views: Mapping[str, np.ndarray] | Any,
                 names: Sequence[str] = CARRADA_VIEW_ORDER) -> np.ndarray:
    """CARRADA ``*_processed`` views side by side (RD | RA | AD, those in ``names``), one float32 ``[H, W]``.

    Args:
        views: a dict ``{"rd": [H, W], ...}`` or a :class:`~record.dsp.views.CarradaViews` of one frame (its
            ``<view>_processed`` fields, ``[1, H, W]`` or ``[H, W]``).
        names: the model's views.
    """
    order = [v for v in CARRADA_VIEW_ORDER if v in names]
    if isinstance(views, Mapping):
        arrays = [np.asarray(views[v], dtype=np.float32) for v in order]
    else:
        arrays = [np.asarray(getattr(views, f"{v}_processed"), dtype=np.float32) for v in order]
    arrays = [a[0] if a.ndim == 3 else a for a in arrays]
    return np.ascontiguousarray(np.concatenate(arrays, axis=1))


# ------------------------------------------------------------ decoding
def _byte_buffer(data: object) -> np.ndarray:
    """The message's data as a flat uint8 array (a view when possible)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise _Malformed(f"data array of dtype {data.dtype} (expected uint8)")
        return data.reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload]
    except (TypeError, ValueError, BufferError) as error:
        raise _Malformed(f"data is not a byte buffer ({type(data).__name__}: {error})") from None


def _pixels(image: InputImage, layout: InputLayout) -> np.ndarray:
    """Check the image against ``layout`` and return its pixels ``[H, W, C]`` (native byte order)."""
    if image.encoding not in layout.encodings:
        raise _Malformed(f"encoding {image.encoding!r} (expected {' or '.join(layout.encodings)})")
    if image.height not in layout.heights:
        raise _Malformed(f"height {image.height} (expected {' or '.join(map(str, layout.heights))}; "
                         f"{layout.description})")
    if image.width != layout.width:
        raise _Malformed(f"width {image.width} (expected {layout.width}; {layout.description})")
    if image.is_bigendian not in (0, 1):  # bool or the message's uint8
        raise _Malformed(f"is_bigendian {image.is_bigendian!r} (expected 0 or 1)")
    kind, channels = ENCODINGS[image.encoding]
    dtype = np.dtype(kind).newbyteorder(">" if image.is_bigendian else "<")
    row_bytes = image.width * channels * dtype.itemsize
    if image.step < row_bytes:
        pixel = channels * dtype.itemsize
        raise _Malformed(f"step {image.step} (expected >= {row_bytes} = width x {pixel} bytes)")
    buffer = _byte_buffer(image.data)
    if buffer.size != image.step * image.height:
        expected = image.step * image.height
        raise _Malformed(f"data holds {buffer.size} bytes (expected step x height = {expected})")
    rows = buffer.reshape(image.height, image.step)
    if image.step != row_bytes:
        rows = np.ascontiguousarray(rows[:, :row_bytes])
    pixels = rows.view(dtype).reshape(image.height, image.width, channels)
    if not dtype.isnative:
        pixels = pixels.astype(dtype.newbyteorder("="))
    if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
        raise _NonFinite
    return pixels


def _complex_rows(pixels: np.ndarray) -> np.ndarray:
    """``[rows, samples, 2]`` (float32 or int16 I/Q) as complex64 ``[rows, samples]``."""
    if pixels.dtype == np.float32 and pixels.flags.c_contiguous:
        return pixels.view(np.complex64)[..., 0]
    out = np.empty(pixels.shape[:2], np.complex64)
    out.real = pixels[..., 0]
    out.imag = pixels[..., 1]
    return out


def _normalised(array: np.ndarray, normalisation: Mapping[str, Any], where: str) -> np.ndarray:
    kind = normalisation.get("kind")
    if kind == "none":
        return np.asarray(array, dtype=np.float32)
    if kind == "min_max_db":
        low, high = float(normalisation["min_db"]), float(normalisation["max_db"])
        return ((np.asarray(array, dtype=np.float32) - np.float32(low)) * np.float32(1.0 / (high - low)))
    raise ConfigError(describe(where, "unknown normalisation", found=kind, expected="none or min_max_db"))


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}
    array = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(array, (50, 90, 99))
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(array.max()),
            "n": len(array)}


def _axis_index(index: np.ndarray, map_bins: int, axis_bins: int) -> np.ndarray:
    """A (fractional) index on a map of ``map_bins`` cells as an index on the sensor axis of ``axis_bins``."""
    if map_bins == axis_bins:
        return index
    return (index + 0.5) * (axis_bins / map_bins) - 0.5


# ------------------------------------------------------------ the core
class DetectorCore:
    """One radar stream through a runtime: decode -> signal chain -> inference -> detections, state kept.

    Args:
        runtime: an opened one-stream runtime (:func:`record.runtime.open_runtime`); warm it up before the
            first frame (``runtime.warmup()``). The core resets its state; it does not close it.
        config: input kind, thresholds, reset and drop rules.

    Raises:
        ConfigError: a multi-stream runtime, or a model the input kind cannot feed (:func:`expected_layout`).
    """

    def __init__(self, runtime: StreamingRuntime, config: CoreConfig) -> None:
        if runtime.streams != 1:
            raise ConfigError(describe("DetectorCore: runtime", "must serve one stream",
                                       found=runtime.streams))
        self.runtime = runtime
        self.config = config
        self.spec: DeploymentSpec = runtime.spec
        self.layout = expected_layout(self.spec, config.input_kind)
        self._chain: Any = None
        if config.input_kind == "adc":
            # The chain's OpenMP threads busy-wait after each frame by default and then take the cores from
            # the inference that follows; sleeping threads cut the ROD2021 frame from 28 to 21 ms here. Only
            # effective before the process's first parallel region (the node builds its core first).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from record.dsp.chain import CarradaChain, Rod2021Chain  # numba: only when raw cubes come in

            self._chain = Rod2021Chain() if self.spec.dataset == "rod2021" else CarradaChain()
        self._carrada_views = _carrada_views(self.spec) if self.spec.dataset == "carrada" else []
        self._masks_views = [self.spec.output_view(t) if self.spec.multi_view else (t.view or "frame")
                             for t in self.spec.logits]
        self._empty = ObjectTable.empty(tuple(self.spec.classes))
        # stream state
        self._last_stamp_ns: int | None = None
        self._last_frame_id: str | None = None
        self._pending_reset: str | None = "first"
        # statistics
        self._received = 0
        self._processed = 0
        self._drops: Counter[str] = Counter()
        self._resets: Counter[str] = Counter()
        self._last_drop: str | None = None
        self._total_ms: deque[float] = deque(maxlen=config.latency_window)
        self._age_ms: deque[float] = deque(maxlen=config.latency_window)
        self._stage_ms: dict[str, deque[float]] = {s: deque(maxlen=config.latency_window) for s in STAGES}

    # ------------------------------------------------------------ public API
    def process(self, image: InputImage, now_ns: int) -> FrameResult | DroppedFrame:
        """Process one frame received at ``now_ns`` (same clock as the stamps), or say why it was dropped."""
        start = time.perf_counter()
        self._received += 1
        age_ns = now_ns - image.stamp_ns
        if self.config.max_age_s > 0 and age_ns > self.config.max_age_s * 1e9:
            return self._drop(image, "stale")
        try:
            pixels = _pixels(image, self.layout)
        except _Malformed as error:
            return self._drop(image, f"malformed: {error}", bad=True)
        except _NonFinite:
            return self._drop(image, "non_finite", bad=True)
        decoded = time.perf_counter()
        frames = self._model_input(pixels)
        chained = time.perf_counter()

        reason = self._reset_reason(image)
        if reason is not None:
            self.runtime.reset()
            self._resets[reason] += 1
        self._pending_reset = None
        self._last_stamp_ns, self._last_frame_id = image.stamp_ns, image.frame_id

        scores = self.runtime.step(frames)
        inferred = time.perf_counter()
        detections, masks = self._postprocess(scores)
        done = time.perf_counter()

        timings = {"decode": (decoded - start) * 1e3, "signal_chain": (chained - decoded) * 1e3,
                   "inference": (inferred - chained) * 1e3, "postprocess": (done - inferred) * 1e3,
                   "total": (done - start) * 1e3}
        if self._chain is None:
            timings["signal_chain"] = 0.0  # maps: the normalisation is counted as decoding
            timings["decode"] = (chained - start) * 1e3
        self._processed += 1
        self._total_ms.append(timings["total"])
        self._age_ms.append(age_ns / 1e6)
        for stage in STAGES:
            self._stage_ms[stage].append(timings[stage])
        return FrameResult(image.stamp_ns, image.frame_id, detections, masks, reason, timings)

    def warmup(self, frames: int) -> None:
        """Run ``frames`` synthetic frames of the input layout through every stage (JIT compilation,
        allocations, kernel choice), then zero the state; counters and latency windows are left untouched."""
        if frames <= 0:
            return
        kind, channels = ENCODINGS[self.layout.encodings[0]]
        shape = (self.layout.heights[0], self.layout.width, channels)
        pixels = np.random.default_rng(0).standard_normal(shape).astype(kind)
        for _ in range(frames):
            self._postprocess(self.runtime.step(self._model_input(pixels)))
        self.runtime.reset()

    def reset(self, reason: str) -> None:
        """Zero the state now; the next good frame reports ``reason`` (counted then) unless a bad frame comes
        first (then ``after_bad_frame``). The stamp and frame-id history is forgotten."""
        self.runtime.reset()
        self._pending_reset = reason
        self._last_stamp_ns = self._last_frame_id = None

    def statistics(self) -> dict[str, Any]:
        """Counters since start and latency percentiles over the last ``latency_window`` processed frames.

        Keys: ``received``, ``processed``, ``dropped`` (total), ``drops`` (by :data:`DROP_REASONS`),
        ``resets`` (by reason), ``last_drop`` (the last drop's full reason), ``processing_ms``
        (p50/p90/p99/max/n of the total per-frame time), ``stage_ms_p50`` (median per stage), ``input_age_ms``
        (percentiles of ``now - stamp`` at arrival), ``backend`` (runtime name, device, precision, model,
        source, threads...).
        """
        info = self.runtime.info
        backend = {"backend": info.backend, "device": info.device, "precision": info.precision,
                   "model": info.model, "source": info.source, **{k: v for k, v in info.options.items()
                                                                   if isinstance(v, (str, int, float, bool))}}
        return {
            "received": self._received,
            "processed": self._processed,
            "dropped": sum(self._drops.values()),
            "drops": {reason: self._drops.get(reason, 0) for reason in DROP_REASONS},
            "resets": {**{reason: self._resets.get(reason, 0) for reason in RESET_REASONS}, **self._resets},
            "last_drop": self._last_drop,
            "processing_ms": _percentiles(self._total_ms),
            "stage_ms_p50": {s: _percentiles(v)["p50"] for s, v in self._stage_ms.items()},
            "input_age_ms": _percentiles(self._age_ms),
            "backend": backend,
            "input_kind": self.config.input_kind,
            "dataset": self.spec.dataset,
        }

    # ------------------------------------------------------------ steps
    def _drop(self, image: InputImage, reason: str, *, bad: bool = False) -> DroppedFrame:
        dropped = DroppedFrame(image.stamp_ns, image.frame_id, reason)
        self._drops[dropped.kind] += 1
        self._last_drop = reason
        if bad and self._pending_reset != "first":
            self._pending_reset = "after_bad_frame"
        return dropped

    def _reset_reason(self, image: InputImage) -> str | None:
        if self._pending_reset is not None:
            return self._pending_reset
        if image.frame_id != self._last_frame_id:
            return "frame_id"
        assert self._last_stamp_ns is not None
        if image.stamp_ns < self._last_stamp_ns:
            return "backwards"
        if image.stamp_ns - self._last_stamp_ns > self.config.max_gap_s * 1e9:
            return "gap"
        return None

    def _model_input(self, pixels: np.ndarray) -> np.ndarray | dict[str, np.ndarray]:
        spec = self.spec
        if spec.dataset == "rod2021":
            if self._chain is not None:
                waveform = ROD2021.waveform
                cube = _complex_rows(pixels).reshape(-1, waveform.n_tx, waveform.n_rx, waveform.n_samples)
                maps = self._chain(cube[None])[0]  # [4, 128, 128, 2]
            else:
                maps = pixels.reshape(-1, ROD2021.range.n_bins, ROD2021.azimuth.n_bins, 2)
            frame = maps.transpose(0, 3, 1, 2).reshape(1, *spec.frames[0].shape)  # [c0_re, c0_im, c1_re, ...]
            return _normalised(frame, spec.normalisation[spec.frames[0].name], spec.frames[0].name)
        if self._chain is not None:
            waveform = CARRADA.waveform
            cube = _complex_rows(pixels).reshape(-1, waveform.n_tx, waveform.n_rx, waveform.n_samples)
            views = self._chain(cube[None])
            arrays = {t.name: getattr(views, f"{t.view}_processed")[0] for t in self._carrada_views}
        else:
            arrays, column = {}, 0
            for tensor in self._carrada_views:
                width = tensor.shape[2]
                arrays[tensor.name] = pixels[:, column:column + width, 0]
                column += width
        frames = {name: _normalised(a, spec.normalisation[name], name)[None, None]
                  for name, a in arrays.items()}
        return frames if spec.multi_view else frames[spec.frames[0].name]

    def _postprocess(self, scores: np.ndarray | dict[str, np.ndarray]
                     ) -> tuple[ObjectTable, dict[str, np.ndarray]]:
        if self.spec.dataset == "rod2021":
            from record.eval.postprocess import PostProcessConfig, decode_confmaps

            config = PostProcessConfig(peak_threshold=self.config.peak_threshold)
            table = decode_confmaps(np.asarray(scores), config, classes=tuple(self.spec.classes))
            return table, {}
        per_view = scores if isinstance(scores, dict) else {self._masks_views[0]: scores}
        probabilities = {view: s[0] for view, s in per_view.items()}
        masks = {view: np.argmax(p, axis=0).astype(np.uint8) for view, p in probabilities.items()}
        if "ra" not in masks:
            return self._empty, masks
        return self._blobs(masks["ra"], probabilities["ra"]), masks

    def _blobs(self, labels: np.ndarray, probabilities: np.ndarray) -> ObjectTable:
        """Connected components of each object class of an RA label map -> centroid, mean probability."""
        range_axis, azimuth_axis = CARRADA.view("ra").axes
        assert isinstance(range_axis, RangeAxis) and isinstance(azimuth_axis, AzimuthAxis)
        height, width = labels.shape
        rows_grid, cols_grid = np.indices(labels.shape, dtype=np.float64)
        class_ids, rows, cols, scores = [], [], [], []
        for class_id in range(1, len(self.spec.classes)):  # 0 = background
            components, count = ndimage.label(labels == class_id)
            if count == 0:
                continue
            flat = components.ravel()
            cells = np.bincount(flat, minlength=count + 1)[1:]
            keep = cells >= self.config.min_blob_cells
            if not keep.any():
                continue
            row_sum = np.bincount(flat, weights=rows_grid.ravel(), minlength=count + 1)[1:]
            col_sum = np.bincount(flat, weights=cols_grid.ravel(), minlength=count + 1)[1:]
            prob_sum = np.bincount(flat, weights=probabilities[class_id].ravel(), minlength=count + 1)[1:]
            class_ids.append(np.full(int(keep.sum()), class_id, np.int64))
            rows.append(row_sum[keep] / cells[keep])
            cols.append(col_sum[keep] / cells[keep])
            scores.append(prob_sum[keep] / cells[keep])
        if not class_ids:
            return self._empty
        row = _axis_index(np.concatenate(rows), height, range_axis.n_bins)
        col = _axis_index(np.concatenate(cols), width, azimuth_axis.n_bins)
        score = np.clip(np.concatenate(scores), np.finfo(np.float64).tiny, 1.0)
        order = np.argsort(-score, kind="stable")
        return ObjectTable(np.zeros(len(order), np.int64), np.concatenate(class_ids)[order],
                           range_axis.to_physical(row)[order], azimuth_axis.to_physical(col)[order],
                           score[order], tuple(self.spec.classes))
