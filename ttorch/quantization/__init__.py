"""``ttorch.quantization``: the older name of ``ttorch.ao.quantization`` (PyTorch keeps both)."""
from ..ao import quantization as _ao_quantization

__all__ = list(_ao_quantization.__all__)
globals().update({name: getattr(_ao_quantization, name) for name in __all__})
