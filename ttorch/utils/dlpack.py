"""``ttorch.utils.dlpack``: PyTorch's names for DLPack exchange (``ttorch/_dlpack.py``)."""
from .._dlpack import from_dlpack, to_dlpack  # noqa: F401

__all__ = ["from_dlpack", "to_dlpack"]
