"""TI DCA1000 raw ADC captures (xWR18xx, complex baseband, 2 LVDS lanes): memory-mapped reader and writer.

File layout (mmWave Studio ``adc_data.bin`` after packet re-ordering; no header):

* signed little-endian int16 words;
* 2-lane interleave: every group of four words is ``[I(n), I(n+1), Q(n), Q(n+1)]``, i.e. complex samples
  ``x[2k] = w[4k] + j w[4k+2]`` and ``x[2k+1] = w[4k+1] + j w[4k+3]`` over the frame's sample sequence;
* within a frame: chirp-major (chirp = loop * n_tx + tx slot), then Rx, then ADC samples.

Decoded frames are complex64 ``[frames, loops, tx, rx, samples]`` (:class:`record.sensors.Waveform` gives the
sizes). The writer quantises to int16 by rounding to the nearest integer; values outside [-32768, 32767]
either raise (``overflow="error"``, the default) or saturate like the ADC (``overflow="clip"``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from record.errors import ConfigError, DataFormatError, InputError, describe
from record.fileio import atomic_path
from record.sensors import Waveform

__all__ = [
    "AdcCapture",
    "complex_to_words",
    "frame_nbytes",
    "frame_shape",
    "read_adc",
    "words_to_complex",
    "write_adc",
]

Overflow = Literal["error", "clip"]
_INT16_MIN, _INT16_MAX = -32768, 32767


def frame_shape(waveform: Waveform) -> tuple[int, int, int, int]:
    """Shape of one decoded frame, ``(loops, tx, rx, samples)``."""
    return (waveform.n_loops, waveform.n_tx, waveform.n_rx, waveform.n_samples)


def frame_nbytes(waveform: Waveform) -> int:
    """Bytes of one frame on disk: every complex sample is two int16 words."""
    return int(np.prod(frame_shape(waveform))) * 2 * 2


def _describe_frame(waveform: Waveform) -> str:
    loops, n_tx, n_rx, n_samples = frame_shape(waveform)
    sizes = f"{loops} loops x {n_tx} tx x {n_rx} rx x {n_samples} complex int16"
    return f"{frame_nbytes(waveform)} B frames ({sizes})"


def _check_lane_pairs(waveform: Waveform) -> None:
    if np.prod(frame_shape(waveform)) % 2:
        raise ConfigError(
            describe(
                "waveform",
                "2-lane LVDS frames hold an even number of complex samples",
                found=f"{frame_shape(waveform)}",
            )
        )


def words_to_complex(words: np.ndarray) -> np.ndarray:
    """Decode 2-lane interleaved int16 words ``[..., 4k]`` into complex64 samples ``[..., 2k]``."""
    lead = words.shape[:-1]
    quads = words.reshape(*lead, -1, 2, 2)  # [..., k, I/Q, even/odd]
    pairs = np.ascontiguousarray(quads.swapaxes(-1, -2), dtype=np.float32)  # [..., k, even/odd, I/Q]
    return pairs.view(np.complex64).reshape(*lead, -1)


def complex_to_words(samples: np.ndarray) -> np.ndarray:
    """Encode integer-valued complex samples ``[..., 2k]`` as 2-lane interleaved int16 words ``[..., 4k]``."""
    lead = samples.shape[:-1]
    parts = np.stack([samples.real, samples.imag], axis=-1).astype(np.int16)  # [..., 2k, I/Q]
    quads = parts.reshape(*lead, -1, 2, 2).swapaxes(-1, -2)  # [..., k, I/Q, even/odd]
    return np.ascontiguousarray(quads).reshape(*lead, -1)


def _quantise(frame: np.ndarray, overflow: Overflow, where: str) -> np.ndarray:
    """Round a complex frame to int16-valued complex samples, applying the overflow policy."""
    parts = np.stack([frame.real, frame.imag], axis=-1)
    if not np.isfinite(parts).all():
        raise InputError(describe(where, "samples hold NaN or infinite values", expected="finite values"))
    rounded = np.rint(parts)
    outside = (rounded < _INT16_MIN) | (rounded > _INT16_MAX)
    if outside.any():
        if overflow == "error":
            raise InputError(
                describe(
                    where,
                    f"{int(outside.sum())} I/Q values overflow int16 (overflow='error'; use overflow='clip')",
                    found=f"largest magnitude {np.abs(rounded).max():.6g}",
                    expected=f"values in [{_INT16_MIN}, {_INT16_MAX}]",
                )
            )
        rounded = np.clip(rounded, _INT16_MIN, _INT16_MAX)
    return rounded[..., 0] + 1j * rounded[..., 1]


class AdcCapture:
    """A DCA1000 capture file, memory-mapped; frames are decoded only when read.

    Args:
        path: the ``.bin`` file.
        waveform: the capture's chirp configuration (sizes of a frame).
        n_frames: frame count the capture's metadata announces; checked against the file size when given.

    Raises:
        DataFormatError: empty file, a size that is not a whole number of frames, or a frame count other than
            ``n_frames``.
        ConfigError: a frame with an odd number of complex samples (not 2-lane LVDS data).
    """

    def __init__(
        self, path: str | os.PathLike[str], waveform: Waveform, *, n_frames: int | None = None
    ) -> None:
        _check_lane_pairs(waveform)
        self.path = Path(path)
        self.waveform = waveform
        size = self.path.stat().st_size
        frame_bytes = frame_nbytes(waveform)
        whole, remainder = divmod(size, frame_bytes)
        if size == 0 or remainder:
            raise DataFormatError(
                describe(
                    self.path,
                    "file is not a whole number of frames (truncated capture, or another waveform?)",
                    found=f"{size} B = {whole} frames + {remainder} B",
                    expected=f"a positive multiple of {_describe_frame(waveform)}",
                )
            )
        if n_frames is not None and whole != n_frames:
            raise DataFormatError(
                describe(
                    self.path,
                    "frame count differs from the capture's configuration",
                    found=f"{whole} {_describe_frame(waveform)}",
                    expected=f"{n_frames} frames",
                )
            )
        self.n_frames = whole
        self._words = np.memmap(self.path, dtype="<i2", mode="r", shape=(whole, frame_bytes // 2))

    def __len__(self) -> int:
        return self.n_frames

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``[start, stop)`` as complex64 ``[n, loops, tx, rx, samples]``."""
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        samples = words_to_complex(np.asarray(self._words[start:stop]))
        return samples.reshape(-1, *frame_shape(self.waveform))

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end) as complex64 ``[loops, tx, rx, samples]``."""
        if not -self.n_frames <= index < self.n_frames:
            expected = f"-{self.n_frames} <= index < {self.n_frames}"
            raise IndexError(describe(self.path, "frame index out of range", found=index, expected=expected))
        start = index % self.n_frames
        return self.read(start, start + 1)[0]

    def iter_frames(self, batch_size: int = 1) -> Iterator[np.ndarray]:
        """Decode the capture in batches: complex64 ``[<= batch_size, loops, tx, rx, samples]`` each."""
        if batch_size < 1:
            raise ConfigError(describe("batch_size", "must be positive", found=batch_size))
        for start in range(0, self.n_frames, batch_size):
            yield self.read(start, start + batch_size)


def read_adc(path: str | os.PathLike[str], waveform: Waveform) -> np.ndarray:
    """Every frame of a DCA1000 capture as complex64 ``[frames, loops, tx, rx, samples]``."""
    return AdcCapture(path, waveform).read()


def write_adc(
    path: str | os.PathLike[str], frames: np.ndarray, waveform: Waveform, *, overflow: Overflow = "error"
) -> None:
    """Write complex frames as a DCA1000 capture, atomically (an interrupted write leaves no file behind).

    Args:
        path: destination ``.bin`` file.
        frames: complex ``[frames, loops, tx, rx, samples]`` or one frame ``[loops, tx, rx, samples]``, in ADC
            units; real and imaginary parts are rounded to the nearest integer.
        waveform: the capture's chirp configuration; the frame shape must match it.
        overflow: ``"error"`` raises on values outside int16, ``"clip"`` saturates them.

    Raises:
        InputError: not a complex array, a shape other than the waveform's, NaN / infinite values, or int16
            overflow with ``overflow="error"``.
    """
    _check_lane_pairs(waveform)
    where = f"write_adc({os.fspath(path)})"
    if overflow not in ("error", "clip"):
        raise ConfigError(
            describe(where, "unknown overflow policy", found=repr(overflow), expected="error | clip")
        )
    if not isinstance(frames, np.ndarray) or not np.issubdtype(frames.dtype, np.complexfloating):
        found = frames.dtype if isinstance(frames, np.ndarray) else type(frames).__name__
        raise InputError(
            describe(where, "frames must be a complex numpy array", found=found, expected="complex64")
        )
    shape = frame_shape(waveform)
    if frames.shape == shape:
        frames = frames[None]
    if frames.ndim != 5 or frames.shape[1:] != shape:
        expected = f"[frames, {', '.join(map(str, shape))}] or one frame"
        raise InputError(
            describe(where, "frames do not match the waveform", found=list(frames.shape), expected=expected)
        )
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for index, frame in enumerate(frames):
            samples = _quantise(frame, overflow, f"{where} frame {index}")
            handle.write(complex_to_words(samples.reshape(-1)).astype("<i2").tobytes())
