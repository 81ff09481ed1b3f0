"""``ttorch.ao.nn``: QAT modules (``qat``) and fused modules (``intrinsic``, ``intrinsic.qat``)."""
from . import intrinsic, qat  # noqa: F401
from .intrinsic import qat as _intrinsic_qat  # (loads ttorch.ao.nn.intrinsic.qat)

__all__ = ["intrinsic", "qat", "_intrinsic_qat"]
