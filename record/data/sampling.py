"""Which frames make a sample: window start arithmetic and a flat index over (sequence, position) pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from record.errors import ConfigError

__all__ = ["SampleIndex", "window_starts"]


def window_starts(n_frames: int, length: int, stride: int, step: int = 1) -> np.ndarray:
    """Start frames of the windows of ``length`` frames, ``step`` apart, placed every ``stride`` frames.

    A window starting at ``s`` holds frames ``s, s + step, ..., s + (length - 1) * step``; every window lies inside
    the sequence. For ``step == 1`` this is RODNet's count ``ceil((n_frames - (length * step - 1)) / stride)``;
    for larger steps RODNet's formula drops up to ``step - 1`` valid starts, this one does not.

    Returns:
        int64 ``[n_windows]`` (empty when the sequence is shorter than one window).
    """
    for name, value in (("length", length), ("stride", stride), ("step", step)):
        if value < 1:
            raise ConfigError(f"window {name} must be at least 1 (found {value})")
    return np.arange(0, max(n_frames - (length - 1) * step, 0), stride, dtype=np.int64)


class SampleIndex:
    """Samples of several sequences as one flat list of ``(sequence, position)``; a sequence's samples are contiguous.

    Args:
        names: sequence names.
        positions: per sequence, the positions (frame index, start, or list index) of its samples, in order.
    """

    def __init__(self, names: Sequence[str], positions: Sequence[np.ndarray]) -> None:
        if len(names) != len(positions):
            raise ConfigError(f"SampleIndex: {len(names)} names but {len(positions)} position arrays")
        self.names = tuple(names)
        self._positions = [np.asarray(p, dtype=np.int64) for p in positions]
        self._offsets = np.concatenate([[0], np.cumsum([len(p) for p in self._positions])]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, index: int) -> tuple[str, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        index %= len(self)
        sequence = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return self.names[sequence], int(self._positions[sequence][index - self._offsets[sequence]])

    def is_first(self, index: int) -> bool:
        """True when sample ``index`` is the first of its sequence (recurrent states reset there)."""
        return bool(np.any(self._offsets[:-1] == index % max(len(self), 1)))

    def samples_of(self, name: str) -> range:
        """Flat indices of the samples of sequence ``name``."""
        try:
            sequence = self.names.index(name)
        except ValueError:
            raise ConfigError(
                f"unknown sequence {name!r} (expected one of {', '.join(self.names)})"
            ) from None
        return range(int(self._offsets[sequence]), int(self._offsets[sequence + 1]))
