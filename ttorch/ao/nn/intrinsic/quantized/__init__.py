"""``ttorch.ao.nn.intrinsic.quantized``: quantized fused modules, the ReLU applied in the GEMM's epilogue
(the requantized integers clamped below at the output zero point)."""
from ...quantized.modules.linear import Linear as _QLinear
from ...quantized.modules.conv import Conv2d as _QConv2d
from .. import LinearReLU as _LinearReLU, ConvReLU2d as _ConvReLU2d
from . import dynamic  # noqa: F401


class LinearReLU(_QLinear):
    """Quantized ``relu(linear(x))`` (from a fused ``LinearReLU``)."""

    _FLOAT_MODULE = (_LinearReLU,)
    _RELU = True

    def _get_name(self):
        return "QuantizedLinearReLU"


class ConvReLU2d(_QConv2d):
    """Quantized ``relu(conv2d(x))`` (from a fused ``ConvReLU2d``)."""

    _FLOAT_MODULE = (_ConvReLU2d,)
    _RELU = True

    def _get_name(self):
        return "QuantizedConvReLU2d"


__all__ = ["LinearReLU", "ConvReLU2d", "dynamic"]
