"""``ttorch.nn.quantized.dynamic``: the older name of ``ttorch.ao.nn.quantized.dynamic``."""
from ....ao.nn.quantized import dynamic as _ao_dynamic

__all__ = list(_ao_dynamic.__all__)
globals().update({name: getattr(_ao_dynamic, name) for name in __all__})
