"""``ttorch.nn.quantized.functional``: the older name of ``ttorch.ao.nn.quantized.functional``."""
from ...ao.nn.quantized import functional as _ao_functional

__all__ = list(_ao_functional.__all__)
globals().update({name: getattr(_ao_functional, name) for name in __all__})
