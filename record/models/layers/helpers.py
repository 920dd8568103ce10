"""Small shared helpers of the layer modules."""

from __future__ import annotations

__all__ = ["Size2", "to_pair"]

#: A 2-D size or stride: one int for both axes, or an (H, W) pair.
Size2 = int | tuple[int, int]


def to_pair(value: Size2) -> tuple[int, int]:
    """``2 -> (2, 2)``; ``(2, 1) -> (2, 1)`` (lists are accepted too)."""
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (int(first), int(second))
