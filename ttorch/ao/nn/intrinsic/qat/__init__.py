"""QAT versions of the fused modules: the layer with a fake-quantized weight, then ReLU."""
from .....nn import functional as F
from ...qat import Linear as _QatLinear, Conv2d as _QatConv2d
from .. import LinearReLU as _LinearReLU, ConvReLU2d as _ConvReLU2d


class LinearReLU(_QatLinear):
    """``relu(F.linear(input, weight_fake_quant(weight), bias))``; ``from_float`` takes an intrinsic LinearReLU."""

    _FLOAT_MODULE = _LinearReLU

    def forward(self, input):
        return F.relu(F.linear(input, self.weight_fake_quant(self.weight), self.bias))


class ConvReLU2d(_QatConv2d):
    """``relu(conv2d(input, weight_fake_quant(weight), bias))``; ``from_float`` takes an intrinsic ConvReLU2d."""

    _FLOAT_MODULE = _ConvReLU2d

    def forward(self, input):
        return F.relu(self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias))
