"""Building blocks: published order of operations, index layout, residual rule, LSTM equations and init."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from record.errors import ConfigError
from record.models.layers import BottleneckLSTMCell, ConvActNorm, InvertedResidual, inverted_residual_stage


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return module


def test_conv_act_norm_applies_the_activation_before_the_norm():
    block = _randomize(ConvActNorm(3, 8, stride=(2, 1)))
    x = torch.randn(2, 3, 8, 6)
    conv = F.conv2d(x, block.conv.weight, block.conv.bias, stride=(2, 1), padding=1)
    expected = F.group_norm(F.leaky_relu(conv, 0.01), 1, block.norm.weight, block.norm.bias)
    out = block(x)
    assert out.shape == (2, 8, 4, 6)
    torch.testing.assert_close(out, expected)
    wrong_order = F.leaky_relu(F.group_norm(conv, 1, block.norm.weight, block.norm.bias), 0.01)
    assert not torch.allclose(out, wrong_order, atol=1e-3)


@pytest.mark.parametrize(
    ("expansion", "kinds"),
    [(1, ["Conv2d", "GroupNorm", "LeakyReLU", "Conv2d", "GroupNorm"]),
     (4, ["Conv2d", "GroupNorm", "LeakyReLU", "Conv2d", "GroupNorm", "LeakyReLU", "Conv2d", "GroupNorm"])],
)
def test_inverted_residual_index_layout(expansion, kinds):
    layer = InvertedResidual(16, 32, expansion, stride=1)
    assert [type(module).__name__ for module in layer.conv] == kinds
    depthwise = layer.conv[0] if expansion == 1 else layer.conv[3]
    assert depthwise.groups == depthwise.in_channels == round(16 * expansion)
    assert all(module.bias is not None for module in layer.conv if isinstance(module, nn.Conv2d))
    assert all(module.num_groups == 1 for module in layer.conv if isinstance(module, nn.GroupNorm))


def test_inverted_residual_adds_the_input_only_for_stride_1_and_equal_channels():
    x = torch.randn(1, 16, 8, 8)
    same = _randomize(InvertedResidual(16, 16, 4, stride=1))
    torch.testing.assert_close(same(x), x + same.conv(x))
    strided = _randomize(InvertedResidual(16, 16, 4, stride=(2, 1)))
    assert strided(x).shape == (1, 16, 4, 8)
    torch.testing.assert_close(strided(x), strided.conv(x))
    widened = _randomize(InvertedResidual(16, 24, 4, stride=1))
    torch.testing.assert_close(widened(x), widened.conv(x))


def test_expansion_1_with_a_stride_is_rejected():
    with pytest.raises(ConfigError, match="expansion 1"):
        InvertedResidual(16, 16, 1, stride=2)


def test_stage_applies_the_stride_to_its_first_layer_only():
    stage = inverted_residual_stage(16, 32, 3, 4, (2, 1))
    strides = [layer.conv[3].stride for layer in stage]
    assert strides == [(2, 1), (1, 1), (1, 1)]
    assert [layer.use_residual for layer in stage] == [False, True, True]


def _reference_cell(cell: BottleneckLSTMCell, x, h, c):
    """The published equations with one convolution and one norm per gate."""
    b = cell.Wi(cell.Wy(torch.cat((cell.W(x), h), dim=1)))
    gate = {name: cell.get_submodule(f"norm_wb{name}")(cell.get_submodule(f"Wb{name}")(b)) for name in "ifco"}
    c_new = torch.sigmoid(gate["f"]) * c + torch.sigmoid(gate["i"]) * F.leaky_relu(gate["c"], 0.01)
    return torch.sigmoid(gate["o"]) * F.leaky_relu(c_new, 0.01), c_new


def test_bottleneck_lstm_cell_follows_the_published_equations():
    cell = _randomize(BottleneckLSTMCell(8, 6))
    x, h, c = torch.randn(2, 8, 5, 7), torch.randn(2, 6, 5, 7), torch.randn(2, 6, 5, 7)
    h_new, c_new = cell(x, h, c)
    h_ref, c_ref = _reference_cell(cell, x, h, c)
    assert h_new.shape == c_new.shape == (2, 6, 5, 7)
    torch.testing.assert_close(h_new, h_ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(c_new, c_ref, rtol=0, atol=1e-6)


def test_bottleneck_lstm_cell_initialisation_and_parameter_count():
    cell = BottleneckLSTMCell(32, 32)
    assert torch.all(cell.W.bias == 1) and torch.all(cell.Wy.bias == 1)
    assert all(getattr(cell, f"Wb{name}").bias is None for name in "ifco") and cell.Wi.bias is None
    assert sum(p.numel() for p in cell.parameters()) == 7_040
    assert sum(p.numel() for p in BottleneckLSTMCell(64, 64).parameters()) == 26_368


def test_bottleneck_lstm_cell_rejects_odd_hidden_channels():
    with pytest.raises(ConfigError, match="odd hidden channels"):
        BottleneckLSTMCell(8, 7)
