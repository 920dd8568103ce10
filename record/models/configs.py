"""Typed model configurations (frozen dataclasses), one per family.

The channel layout of the encoders (stem 32, stages 16/32/64/128, LSTM hidden 32/64) is the published one and
fixed; the configs hold what differs between the published models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from record.errors import ConfigError, describe

__all__ = [
    "ISOTROPIC_STRIDES",
    "RANGE_DOPPLER_STRIDES",
    "MVRecordConfig",
    "OutputActivation",
    "RecordConfig",
    "RecordNoLstmConfig",
    "StageStrides",
    "config_from_dict",
]

OutputActivation = Literal["sigmoid", "softmax"]
#: Strides (s_h, s_w) of the three down-sampling stages (ir_block2, ir_block3, ir_block4); the decoder's
#: transposed convolutions mirror them (up_conv1 <-> ir_block4, up_conv2 <-> ir_block3, up_conv3 <->
#: ir_block2).
StageStrides = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]

#: ROD2021 range-azimuth maps and CARRADA range-angle maps: /8 on both axes.
ISOTROPIC_STRIDES: StageStrides = ((2, 2), (2, 2), (2, 2))
#: CARRADA range-Doppler (and angle-Doppler) maps: /8 on the first axis, /2 on the Doppler axis.
RANGE_DOPPLER_STRIDES: StageStrides = ((2, 1), (2, 1), (2, 2))

_ACTIVATIONS = ("sigmoid", "softmax")


def _check_positive(owner: str, **values: int) -> None:
    for field, value in values.items():
        if not isinstance(value, int) or value < 1:
            problem = "must be a positive integer"
            raise ConfigError(describe(f"{owner}.{field}", problem, found=value, expected=">= 1"))


def _check_common(config: RecordConfig | MVRecordConfig) -> None:
    owner = type(config).__name__
    _check_positive(owner, in_channels=config.in_channels, n_classes=config.n_classes, window=config.window)
    if config.output_activation not in _ACTIVATIONS:
        raise ConfigError(
            describe(f"{owner}.output_activation", "unknown activation", found=config.output_activation,
                     expected=" or ".join(_ACTIVATIONS))
        )
    if len(config.decoder_channels) != 3 or any(c < 1 for c in config.decoder_channels):
        raise ConfigError(
            describe(f"{owner}.decoder_channels", "bad decoder widths", found=config.decoder_channels,
                     expected="three positive channel counts (up_conv1, up_conv2, up_conv3)")
        )
    height, width = config.input_size
    _check_positive(owner, input_height=height, input_width=width)


@dataclass(frozen=True)
class RecordConfig:
    """Single-view RECORD (ROD2021, CARRADA RD or RA).

    Attributes:
        in_channels: channels per frame (8 = 4 chirps x (re, im) for ROD2021; 1 for a CARRADA view).
        n_classes: output classes (3 for ROD2021; 4 with background for CARRADA).
        strides: strides of the three down-sampling stages, see :data:`StageStrides`.
        decoder_channels: output channels of the decoder's three transposed convolutions.
        output_activation: what :meth:`activate` applies to the logits ("sigmoid" or "softmax" over classes).
        window: default buffer length T (frames per window); buffer mode accepts any T >= 1.
        input_size: default frame size (H, W) in bins, used for profiling and export; any size divisible by
            the network's total stride works.
    """

    in_channels: int = 8
    n_classes: int = 3
    strides: StageStrides = ISOTROPIC_STRIDES
    decoder_channels: tuple[int, int, int] = (128, 64, 32)
    output_activation: OutputActivation = "sigmoid"
    window: int = 12
    input_size: tuple[int, int] = (128, 128)

    def __post_init__(self) -> None:
        _check_common(self)
        if len(self.strides) != 3 or any(len(s) != 2 or min(s) < 1 for s in self.strides):
            raise ConfigError(
                describe(f"{type(self).__name__}.strides", "bad stage strides", found=self.strides,
                         expected="three (s_h, s_w) pairs of positive integers")
            )


@dataclass(frozen=True)
class RecordNoLstmConfig(RecordConfig):
    """RECORD without its two LSTMs: ``window`` frames are stacked on the channel axis (1 or 12 published)."""

    window: int = 1


@dataclass(frozen=True)
class MVRecordConfig:
    """MV-RECORD for CARRADA: RD, RA and AD encoders, temporal multi-view skips, RD and RA decoders.

    The view geometry is the published one: RD and AD use :data:`RANGE_DOPPLER_STRIDES`, RA
    :data:`ISOTROPIC_STRIDES`; RA frames are 4x as wide as RD/AD frames. ``input_size`` is the RD frame size.
    The published multi-view model is the narrow "-S" variant (decoders 64/32/16).
    """

    in_channels: int = 1
    n_classes: int = 4
    decoder_channels: tuple[int, int, int] = (64, 32, 16)
    output_activation: OutputActivation = "softmax"
    window: int = 5
    input_size: tuple[int, int] = (256, 64)

    def __post_init__(self) -> None:
        _check_common(self)


ConfigT = TypeVar("ConfigT", RecordConfig, RecordNoLstmConfig, MVRecordConfig)


def _as_tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(item) for item in value)
    return value


def config_from_dict(config_type: type[ConfigT], values: Mapping[str, Any], where: str = "config") -> ConfigT:
    """Build ``config_type`` from a plain mapping (lists become tuples); unknown fields raise ConfigError."""
    known = {field.name for field in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            describe(where, f"unknown {config_type.__name__} fields", found=unknown, expected=sorted(known))
        )
    return config_type(**{key: _as_tuples(value) for key, value in values.items()})
