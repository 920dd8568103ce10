"""RECORD: recurrent CNN for online object detection / segmentation on raw radar frames.

C. Decourt, R. VanRullen, D. Salle, T. Oberlin, "A recurrent CNN for online object detection on raw radar
frames", arXiv:2212.11172. Layer layout, parameter names and numerics follow the published code
(github.com/colindecourt/record @ 52b6f37); its weights load through :func:`record.models.convert_checkpoint`.

Single-view RECORD: a per-frame encoder with two Bottleneck LSTMs (states ``h1, c1`` at 1/2 and ``h2, c2``
at 1/4 of the input size for isotropic strides) and a U-Net-like decoder run on the last frame's features,
with the LSTM hidden states as skip connections.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from record.models._base import RecurrentModel, State
from record.models._registry import build_model_with_config, register_model
from record.models._validation import check_frame, check_window
from record.models.configs import ISOTROPIC_STRIDES, RANGE_DOPPLER_STRIDES, RecordConfig, StageStrides
from record.models.layers import BottleneckLSTMCell, ConvActNorm, InvertedResidual, inverted_residual_stage

__all__ = ["Features", "Record", "RecordDecoder", "RecordEncoder"]

#: The encoder's stem width and (output channels, layers, expansion) of ir_block1..ir_block4 (published).
STEM_CHANNELS = 32
ENCODER_STAGES = ((16, 1, 1), (32, 3, 4), (64, 3, 4), (128, 3, 4))
#: Output channels of the decoder's three skip layers and of its head.
DECODER_SKIP_CHANNELS = (64, 32, 16)
HEAD_CHANNELS = 16

#: Encoder features of one frame: (z, f2, f1) = (deepest map, 1/4-scale skip, 1/2-scale skip).
Features = tuple[Tensor, Tensor, Tensor]


def total_stride(strides: StageStrides) -> tuple[int, int]:
    """The encoder's overall down-sampling (s_h, s_w): the product of the stage strides."""
    return (strides[0][0] * strides[1][0] * strides[2][0], strides[0][1] * strides[1][1] * strides[2][1])


class RecordEncoder(nn.Module):
    """Per-frame encoder: ``[B, C_in, H, W]`` -> features ``(z, h2, h1)`` and new state ``(h1, c1, h2, c2)``.

    in_conv -> ir_block1 -> ir_block2 (stride s1) -> bottleneck_lstm1 -> ir_block3 (s2) -> bottleneck_lstm2 ->
    ir_block4 (s3). Shapes for an H x W input: h1, c1 ``[B, 32, H/s1]``, h2, c2 ``[B, 64, H/(s1 s2)]``,
    z ``[B, 128, H/(s1 s2 s3)]`` (per axis). With ``recurrent=False`` (no-LSTM ablation) the LSTMs are absent,
    the skip features are the outputs of ir_block2 and ir_block3 and the state is empty.

    Args:
        in_channels: input channels per frame.
        strides: strides of ir_block2, ir_block3, ir_block4.
        recurrent: include the two Bottleneck LSTMs.
    """

    def __init__(
        self, in_channels: int, strides: StageStrides = ISOTROPIC_STRIDES, recurrent: bool = True
    ) -> None:
        super().__init__()
        (c1, n1, t1), (c2, n2, t2), (c3, n3, t3), (c4, n4, t4) = ENCODER_STAGES
        self.strides = strides
        self.recurrent = recurrent
        self.in_conv = ConvActNorm(in_channels, STEM_CHANNELS)
        self.ir_block1 = inverted_residual_stage(STEM_CHANNELS, c1, n1, t1, 1)
        self.ir_block2 = inverted_residual_stage(c1, c2, n2, t2, strides[0])
        if recurrent:
            self.bottleneck_lstm1 = BottleneckLSTMCell(c2, c2)
        self.ir_block3 = inverted_residual_stage(c2, c3, n3, t3, strides[1])
        if recurrent:
            self.bottleneck_lstm2 = BottleneckLSTMCell(c3, c3)
        self.ir_block4 = inverted_residual_stage(c3, c4, n4, t4, strides[2])

    @property
    def total_stride(self) -> tuple[int, int]:
        return total_stride(self.strides)

    def state_shapes(self, batch_size: int, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        """Shapes of ``(h1, c1, h2, c2)`` for ``height x width`` frames (empty when not recurrent)."""
        if not self.recurrent:
            return ()
        (s1h, s1w), (s2h, s2w), _ = self.strides
        level1 = (batch_size, ENCODER_STAGES[1][0], height // s1h, width // s1w)
        level2 = (batch_size, ENCODER_STAGES[2][0], height // (s1h * s2h), width // (s1w * s2w))
        return (level1, level1, level2, level2)

    def forward(self, x: Tensor, state: State) -> tuple[Features, State]:
        f1 = self.ir_block2(self.ir_block1(self.in_conv(x)))
        if not self.recurrent:
            f2 = self.ir_block3(f1)
            return (self.ir_block4(f2), f2, f1), ()
        h1, c1 = self.bottleneck_lstm1(f1, state[0], state[1])
        h2, c2 = self.bottleneck_lstm2(self.ir_block3(h1), state[2], state[3])
        return (self.ir_block4(h2), h2, h1), (h1, c1, h2, c2)


def _up_conv(in_channels: int, out_channels: int, stride: tuple[int, int]) -> nn.ConvTranspose2d:
    """Transposed 3x3 convolution multiplying the size by ``stride`` exactly (output padding = stride - 1)."""
    output_padding = (stride[0] - 1, stride[1] - 1)
    return nn.ConvTranspose2d(
        in_channels, out_channels, 3, stride=stride, padding=1, output_padding=output_padding
    )


class RecordDecoder(nn.Module):
    """Decoder run once per output frame: ``(z, f2, f1)`` -> logits ``[B, n_classes, H, W]``.

    up_conv1(z) ++ f2 -> conv_skip_connection1 -> up_conv2 ++ f1 -> conv_skip_connection2 -> up_conv3 ->
    conv_skip_connection3 -> conv_head1 (3x3 conv, act, norm) -> conv_head2 (1x1). ``++`` concatenates on
    channels, up-sampled tensor first. Skip layers are single inverted residuals with expansion 1.

    Args:
        latent_channels: channels of ``z`` (128; 384 for MV-RECORD's concatenated views).
        channels: output channels of up_conv1..3 (128/64/32 for RECORD; 64/32/16 for the "-S" decoders).
        n_classes: output classes.
        strides: the encoder's stage strides (ir_block2..4), mirrored by up_conv3..1.
    """

    def __init__(self, latent_channels: int, channels: tuple[int, int, int], n_classes: int,
                 strides: StageStrides = ISOTROPIC_STRIDES) -> None:
        super().__init__()
        skip1, skip2, skip3 = DECODER_SKIP_CHANNELS
        f2_channels, f1_channels = ENCODER_STAGES[2][0], ENCODER_STAGES[1][0]
        self.up_conv1 = _up_conv(latent_channels, channels[0], strides[2])
        self.conv_skip_connection1 = InvertedResidual(channels[0] + f2_channels, skip1, 1)
        self.up_conv2 = _up_conv(skip1, channels[1], strides[1])
        self.conv_skip_connection2 = InvertedResidual(channels[1] + f1_channels, skip2, 1)
        self.up_conv3 = _up_conv(skip2, channels[2], strides[0])
        self.conv_skip_connection3 = InvertedResidual(channels[2], skip3, 1)
        self.conv_head1 = ConvActNorm(skip3, HEAD_CHANNELS)
        self.conv_head2 = nn.Conv2d(HEAD_CHANNELS, n_classes, kernel_size=1)

    @torch.no_grad()
    def init_output_prior(self, probability: float, activation: str) -> None:
        """Set the output layer's bias so that an untrained decoder outputs ``probability`` for every object
        class (the prior initialisation of Lin et al., "Focal loss for dense object detection", 2017).

        ``sigmoid``: every class gets logit(p). ``softmax``: class 0 (background) gets log(1 - p) and the
        ``K - 1`` object classes log(p / (K - 1)). The output weights keep their random values, so the logits
        start near these biases.
        """
        bias = self.conv_head2.bias
        if activation == "sigmoid":
            bias.fill_(math.log(probability / (1.0 - probability)))
            return
        bias.fill_(math.log(probability / (bias.numel() - 1)))
        bias[0] = math.log(1.0 - probability)

    def forward(self, z: Tensor, f2: Tensor, f1: Tensor) -> Tensor:
        x = self.conv_skip_connection1(torch.cat((self.up_conv1(z), f2), dim=1))
        x = self.conv_skip_connection2(torch.cat((self.up_conv2(x), f1), dim=1))
        x = self.conv_skip_connection3(self.up_conv3(x))
        return self.conv_head2(self.conv_head1(x))


class Record(RecurrentModel[Features]):
    """Single-view RECORD.

    * ``forward(x)``: buffer mode, ``x`` ``[B, C, T, H, W]`` -> logits ``[B, n_classes, H, W]`` for the last
      frame (state reset at the window start; any T >= 1).
    * ``step(frame, state)``: online mode, ``frame`` ``[B, C, H, W]``, ``state`` = ``(h1, c1, h2, c2)`` ->
      ``(logits, new_state)``. Batch entries are independent streams.

    H and W must be divisible by the total stride (8 x 8; 8 x 2 for range-Doppler strides). The published
    ``Record`` applied a sigmoid inside ``forward``; here the logits come out and ``activate`` applies the
    configured output function.
    """

    state_names = ("h1", "c1", "h2", "c2")

    def __init__(self, config: RecordConfig) -> None:
        super().__init__(config)
        self.encoder = RecordEncoder(config.in_channels, config.strides)
        latent = ENCODER_STAGES[3][0]
        self.decoder = RecordDecoder(latent, config.decoder_channels, config.n_classes, config.strides)

    def state_shapes(self, batch_size: int, height: int, width: int) -> tuple[tuple[int, ...], ...]:
        self._check_size(self._where("state_shapes", "frame size"), height, width, self.encoder.total_stride)
        return self.encoder.state_shapes(batch_size, height, width)

    def _check_window(self, x: Tensor) -> tuple[int, int, int, int]:
        spec = self._frame_spec(self.config.in_channels, self.encoder.total_stride)
        return check_window(x, self._where("forward", "x"), spec)

    def _check_frame(self, frame: Tensor) -> tuple[int, int, int]:
        spec = self._frame_spec(self.config.in_channels, self.encoder.total_stride)
        return check_frame(frame, self._where("step", "frame"), spec)

    def _frame_at(self, x: Tensor, t: int) -> Tensor:
        return x[:, :, t]

    def _encode(self, frame: Tensor, state: State) -> tuple[Features, State]:
        return self.encoder(frame, state)

    def decoders(self) -> tuple[RecordDecoder, ...]:
        return (self.decoder,)

    def _decode(self, features: Features) -> Tensor:
        return self.decoder(*features)


def _create_record(name: str, config: RecordConfig, **overrides: object) -> Record:
    return build_model_with_config(Record, name, config, overrides)


@register_model
def record_rod2021(**overrides: object) -> Record:
    """RECORD for ROD2021: 8 channels (4 chirps x re/im) range-azimuth frames, 3 classes, sigmoid, T = 12."""
    return _create_record("record_rod2021", RecordConfig(), **overrides)


@register_model
def record_carrada_rd(**overrides: object) -> Record:
    """RECORD-RD for CARRADA: 1-channel range-Doppler frames 256 x 64, 4 classes, softmax, T = 5.

    The published model applied a sigmoid before CE / soft Dice (quirk Q2); ``activate`` applies the softmax a
    segmentation model needs. For parity with the published outputs use ``output_activation="sigmoid"``.
    """
    config = RecordConfig(
        in_channels=1, n_classes=4, strides=RANGE_DOPPLER_STRIDES, output_activation="softmax", window=5,
        input_size=(256, 64),
    )
    return _create_record("record_carrada_rd", config, **overrides)


@register_model
def record_carrada_ra(**overrides: object) -> Record:
    """RECORD-RA for CARRADA: 1-channel range-angle frames 256 x 256, 4 classes, softmax, T = 5 (see Q2)."""
    config = RecordConfig(
        in_channels=1, n_classes=4, output_activation="softmax", window=5, input_size=(256, 256)
    )
    return _create_record("record_carrada_ra", config, **overrides)
