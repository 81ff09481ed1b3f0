"""``ttorch.nn.intrinsic``: the older name of ``ttorch.ao.nn.intrinsic`` (fused modules)."""
from ...ao.nn.intrinsic import LinearReLU, ConvReLU2d
from . import quantized  # noqa: F401

__all__ = ["LinearReLU", "ConvReLU2d", "quantized"]
