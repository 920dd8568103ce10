"""MobileNetV2-style inverted residual with GroupNorm(1, C) and LeakyReLU, in the published index layout."""

from __future__ import annotations

from torch import Tensor, nn

from record.errors import ConfigError, describe
from record.models.layers.conv_act_norm import layer_norm_2d, leaky_relu
from record.models.layers.helpers import Size2, to_pair

__all__ = ["InvertedResidual", "inverted_residual_stage"]


class InvertedResidual(nn.Module):
    """Inverted residual layer; all convolutions carry a bias, ``hidden = round(in_channels * expansion)``.

    Layout of the ``conv`` container (indices match the published weights):

    * ``expansion == 1``: 0 depthwise 3x3, 1 GN, 2 LeakyReLU, 3 pointwise 1x1 (-> out), 4 GN;
    * ``expansion > 1``: 0 pointwise 1x1 (-> hidden), 1 GN, 2 LeakyReLU, 3 depthwise 3x3 (stride), 4 GN,
      5 LeakyReLU, 6 pointwise-linear 1x1 (-> out), 7 GN.

    The residual ``x + conv(x)`` is used only when the stride is 1 and ``in_channels == out_channels``.
    Maps ``[B, C_in, H, W]`` to ``[B, C_out, H / s_h, W / s_w]``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        expansion: channel expansion factor t of the hidden layer.
        stride: stride of the depthwise convolution (int or (s_h, s_w)). The published code ignores the stride
            when ``expansion == 1`` (quirk Q7); here that combination is rejected instead.

    Raises:
        ConfigError: ``expansion == 1`` with a stride other than 1, or a non-positive expansion.
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: float, stride: Size2 = 1) -> None:
        super().__init__()
        stride = to_pair(stride)
        if expansion <= 0:
            problem = "bad expansion factor"
            raise ConfigError(describe("InvertedResidual", problem, found=expansion, expected="> 0"))
        if expansion == 1 and stride != (1, 1):
            problem = "expansion 1 supports no stride (quirk Q7)"
            raise ConfigError(describe("InvertedResidual", problem, found=stride, expected=(1, 1)))
        hidden = round(in_channels * expansion)
        self.use_residual = stride == (1, 1) and in_channels == out_channels
        depthwise = nn.Conv2d(hidden, hidden, kernel_size=3, stride=stride, padding=1, groups=hidden)
        project = nn.Conv2d(hidden, out_channels, kernel_size=1)
        if expansion == 1:
            layers = [depthwise, layer_norm_2d(hidden), leaky_relu(), project, layer_norm_2d(out_channels)]
        else:
            expand = nn.Conv2d(in_channels, hidden, kernel_size=1)
            layers = [expand, layer_norm_2d(hidden), leaky_relu(), depthwise, layer_norm_2d(hidden)]
            layers += [leaky_relu(), project, layer_norm_2d(out_channels)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


def inverted_residual_stage(
    in_channels: int, out_channels: int, num_layers: int, expansion: float, stride: Size2
) -> nn.Sequential:
    """``num_layers`` inverted residuals in an indexed container; only the first one applies ``stride``."""
    layers = [InvertedResidual(in_channels, out_channels, expansion, stride)]
    layers += [InvertedResidual(out_channels, out_channels, expansion, 1) for _ in range(num_layers - 1)]
    return nn.Sequential(*layers)
