"""``ttorch.nn.intrinsic.quantized``: the older name of ``ttorch.ao.nn.intrinsic.quantized``."""
from ....ao.nn.intrinsic.quantized import LinearReLU, ConvReLU2d, dynamic  # noqa: F401

__all__ = ["LinearReLU", "ConvReLU2d", "dynamic"]
