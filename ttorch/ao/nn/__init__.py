"""``ttorch.ao.nn``: QAT modules (``qat``), fused modules (``intrinsic``, ``intrinsic.qat``,
``intrinsic.quantized``) and quantized modules (``quantized``, ``quantized.dynamic``)."""
from . import intrinsic, qat, quantized  # noqa: F401
from .intrinsic import qat as _intrinsic_qat  # (loads ttorch.ao.nn.intrinsic.qat)
from .intrinsic import quantized as _intrinsic_quantized  # (loads ttorch.ao.nn.intrinsic.quantized)

__all__ = ["intrinsic", "qat", "quantized", "_intrinsic_qat", "_intrinsic_quantized"]
