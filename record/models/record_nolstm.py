"""RECORD without its Bottleneck LSTMs (ablation of arXiv:2212.11172): the same encoder and decoder, with the
temporal context given only by stacking ``window`` frames on the channel axis (1: single frame; 12: multi).

The online ``step`` keeps the last ``window - 1`` frames as its explicit state (``previous_frames``), so both
modes exist for every model; with ``window == 1`` the state is empty.
"""

from __future__ import annotations

import torch
from torch import Tensor

from record.errors import InputError, describe
from record.models._base import State, StreamingModel
from record.models._registry import build_model_with_config, register_model
from record.models._validation import check_frame, check_window
from record.models.configs import RecordNoLstmConfig
from record.models.record import ENCODER_STAGES, RecordDecoder, RecordEncoder

__all__ = ["RecordNoLstm"]


class RecordNoLstm(StreamingModel):
    """No-LSTM RECORD.

    * ``forward(x)``: ``x`` ``[B, C, T, H, W]`` with ``T == config.window``, stacked to ``[B, C*T, H, W]``
      (channel ``c*T + t``, as the published loader reshapes) -> logits ``[B, n_classes, H, W]``.
    * ``step(frame, state)``: ``frame`` ``[B, C, H, W]``; ``state`` = ``(previous_frames,)`` of shape
      ``[B, C, T-1, H, W]`` (empty tuple for T = 1) -> ``(logits, new_state)``.

    With :meth:`set_grad_checkpointing`, each ``step`` is a checkpoint; ``forward`` is one pass over the
    stacked window, which checkpointing would only recompute whole, so it is left as it is.
    """

    def __init__(self, config: RecordNoLstmConfig) -> None:
        super().__init__(config)
        self.state_names = ("previous_frames",) if config.window > 1 else ()
        self.encoder = RecordEncoder(config.in_channels * config.window, config.strides, recurrent=False)
        latent = ENCODER_STAGES[3][0]
        self.decoder = RecordDecoder(latent, config.decoder_channels, config.n_classes, config.strides)

    def state_shapes(self, batch_size: int, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        self._check_size(self._where("state_shapes", "frame size"), height, width, self.encoder.total_stride)
        if not self.state_names:
            return ()
        return ((batch_size, self.config.in_channels, self.config.window - 1, height, width),)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        spec = self._frame_spec(self.config.in_channels, self.encoder.total_stride)
        where = self._where("forward", "x")
        _, window, _, _ = check_window(x, where, spec)
        if window != self.config.window:
            expected = self.config.window
            raise InputError(describe(where, "wrong number of frames T", found=window, expected=expected))
        return self._predict(x)

    def step(self, frame: Tensor, state: State) -> tuple[Tensor, State]:
        spec = self._frame_spec(self.config.in_channels, self.encoder.total_stride)
        batch, height, width = check_frame(frame, self._where("step", "frame"), spec)
        self._check_state(state, "step", batch, height, width)
        window = torch.cat((*state, frame.unsqueeze(2)), dim=2)
        new_state = (window[:, :, 1:],) if self.state_names else ()
        return self._checkpointed(self._predict, window), new_state

    def decoders(self) -> tuple[RecordDecoder, ...]:
        return (self.decoder,)

    def _predict(self, window: Tensor) -> Tensor:
        batch, channels, frames, height, width = window.shape
        features, _ = self.encoder(window.reshape(batch, channels * frames, height, width), ())
        return self.decoder(*features)


@register_model
def record_nolstm_single(**overrides: object) -> RecordNoLstm:
    """No-LSTM RECORD on one ROD2021 frame (8 channels), 3 classes, sigmoid."""
    config = RecordNoLstmConfig(window=1)
    return build_model_with_config(RecordNoLstm, "record_nolstm_single", config, overrides)


@register_model
def record_nolstm_multi(**overrides: object) -> RecordNoLstm:
    """No-LSTM RECORD on 12 ROD2021 frames stacked on channels (96 channels), 3 classes, sigmoid."""
    config = RecordNoLstmConfig(window=12)
    return build_model_with_config(RecordNoLstm, "record_nolstm_multi", config, overrides)
