"""``ttorch.ao``: architecture optimization, here eager-mode quantization (``ttorch.ao.quantization``: QAT,
post-training static and dynamic quantization) and its modules (``ttorch.ao.nn.qat``, ``ttorch.ao.nn.intrinsic``,
``ttorch.ao.nn.quantized``)."""
from . import nn, quantization  # noqa: F401

__all__ = ["nn", "quantization"]
