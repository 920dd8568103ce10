"""3x3 convolution -> LeakyReLU -> GroupNorm(1, C), in the published order (activation BEFORE the norm)."""

from __future__ import annotations

from torch import Tensor, nn

from record.models.layers.helpers import Size2, to_pair

__all__ = ["LEAKY_SLOPE", "ConvActNorm", "layer_norm_2d", "leaky_relu"]

#: Slope of every LeakyReLU in RECORD (PyTorch's default).
LEAKY_SLOPE = 0.01


def layer_norm_2d(channels: int) -> nn.GroupNorm:
    """The published "layer" norm ``GroupNorm(1, C)``: per-sample statistics over (C, H, W), affine per C."""
    return nn.GroupNorm(1, channels)


def leaky_relu() -> nn.LeakyReLU:
    """The published activation: in-place ``LeakyReLU(0.01)``."""
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)


class ConvActNorm(nn.Module):
    """``Conv2d(3x3, padding 1, bias) -> LeakyReLU(0.01) -> GroupNorm(1, C_out)``.

    Submodules are named ``conv``, ``acti``, ``norm`` like the published ``Conv3x3ReLUNorm``, so its weights
    load unchanged. Maps ``[B, C_in, H, W]`` to ``[B, C_out, H / s_h, W / s_w]``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: convolution stride, an int or an (s_h, s_w) pair.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: Size2 = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=to_pair(stride), padding=1)
        self.acti = leaky_relu()
        self.norm = layer_norm_2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.acti(self.conv(x)))
