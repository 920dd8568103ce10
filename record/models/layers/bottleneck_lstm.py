"""Bottleneck LSTM cell (Liu & Zhu, mobile video object detection) as published with RECORD.

The cell is a pure function of its inputs: ``(x, h, c) -> (h', c')``. It holds no state; the zero initial
state is made by the caller (``record.models`` ``zero_state``), so the step exports to ONNX without branches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from record.errors import ConfigError, describe
from record.models.layers.conv_act_norm import LEAKY_SLOPE, layer_norm_2d

__all__ = ["BottleneckLSTMCell"]


class BottleneckLSTMCell(nn.Module):
    """One Bottleneck-LSTM step on ``[B, C_in, H, W]`` with a ``[B, C_h, H, W]`` state.

    With ``*`` a convolution, ``GN`` = GroupNorm(1, C_h), ``sigma`` the sigmoid and ``phi`` LeakyReLU(0.01)::

        x~ = W * x                              depthwise 3x3, bias
        i  = Wy * [x~ ; h]                      1x1 (C_in + C_h -> C_h), bias; input first, then hidden
        b  = Wi * i                             depthwise 3x3, no bias
        g_i, g_f, g_o = sigma(GN(Wb{i,f,o} * b))  1x1, no bias, one GN per gate
        c' = g_f . c + g_i . phi(GN(Wbc * b))
        h' = g_o . phi(c')

    Parameter names (``W``, ``Wy``, ``Wi``, ``Wb{i,f,c,o}``, ``norm_wb{i,f,c,o}``) are the published ones. The
    biases of ``W`` and ``Wy`` start at 1; everything else keeps PyTorch's default initialisation.

    Args:
        in_channels: channels of the input ``x``.
        hidden_channels: channels of ``h`` and ``c`` (even, as in the published code).
    """

    def __init__(self, in_channels: int, hidden_channels: int) -> None:
        super().__init__()
        if hidden_channels % 2:
            raise ConfigError(
                describe("BottleneckLSTMCell", "odd hidden channels", found=hidden_channels, expected="even")
            )
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.W = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1, groups=in_channels)
        self.Wy = nn.Conv2d(in_channels + hidden_channels, hidden_channels, kernel_size=1)
        self.Wi = nn.Conv2d(
            hidden_channels, hidden_channels, 3, padding=1, groups=hidden_channels, bias=False
        )
        self.Wbi = nn.Conv2d(hidden_channels, hidden_channels, 1, bias=False)
        self.Wbf = nn.Conv2d(hidden_channels, hidden_channels, 1, bias=False)
        self.Wbc = nn.Conv2d(hidden_channels, hidden_channels, 1, bias=False)
        self.Wbo = nn.Conv2d(hidden_channels, hidden_channels, 1, bias=False)
        self.norm_wbi = layer_norm_2d(hidden_channels)
        self.norm_wbf = layer_norm_2d(hidden_channels)
        self.norm_wbc = layer_norm_2d(hidden_channels)
        self.norm_wbo = layer_norm_2d(hidden_channels)
        with torch.no_grad():
            self.W.bias.fill_(1.0)
            self.Wy.bias.fill_(1.0)

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(h', c')``, both ``[B, C_h, H, W]``.

        The four gate convolutions run as one 1x1 convolution with their stacked weights, and their four
        GroupNorm(1, C_h) as one GroupNorm(4, 4 C_h): the same arithmetic per gate (bit-identical in the CPU
        tests), fewer kernel launches.
        """
        b = self.Wi(self.Wy(torch.cat((self.W(x), h), dim=1)))
        gate_convs = (self.Wbi, self.Wbf, self.Wbc, self.Wbo)
        gate_norms = (self.norm_wbi, self.norm_wbf, self.norm_wbc, self.norm_wbo)
        gates = F.conv2d(b, torch.cat([conv.weight for conv in gate_convs]))
        gates = F.group_norm(gates, len(gate_norms), torch.cat([norm.weight for norm in gate_norms]),
                             torch.cat([norm.bias for norm in gate_norms]), self.norm_wbi.eps)
        input_gate, forget_gate, candidate, output_gate = gates.chunk(len(gate_norms), dim=1)
        candidate = F.leaky_relu(candidate, LEAKY_SLOPE)
        c_new = torch.sigmoid(forget_gate) * c + torch.sigmoid(input_gate) * candidate
        h_new = torch.sigmoid(output_gate) * F.leaky_relu(c_new, LEAKY_SLOPE)
        return h_new, c_new
