"""Building blocks of RECORD: conv -> act -> norm, inverted residuals, the Bottleneck LSTM cell."""

from record.models.layers.bottleneck_lstm import BottleneckLSTMCell
from record.models.layers.conv_act_norm import LEAKY_SLOPE, ConvActNorm, layer_norm_2d, leaky_relu
from record.models.layers.helpers import Size2, to_pair
from record.models.layers.inverted_residual import InvertedResidual, inverted_residual_stage

__all__ = [
    "LEAKY_SLOPE",
    "BottleneckLSTMCell",
    "ConvActNorm",
    "InvertedResidual",
    "Size2",
    "inverted_residual_stage",
    "layer_norm_2d",
    "leaky_relu",
    "to_pair",
]
