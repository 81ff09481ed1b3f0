"""``ttorch.ao``: architecture optimization, here quantization-aware training (``ttorch.ao.quantization``,
``ttorch.ao.nn.qat``, ``ttorch.ao.nn.intrinsic``)."""
from . import nn, quantization  # noqa: F401

__all__ = ["nn", "quantization"]
