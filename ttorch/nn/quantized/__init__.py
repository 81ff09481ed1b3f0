"""``ttorch.nn.quantized``: the older name of ``ttorch.ao.nn.quantized`` (PyTorch keeps both). Import it
(``import ttorch.nn.quantized``) before use: ``ttorch.nn`` does not load it."""
from ...ao.nn import quantized as _ao_quantized

__all__ = list(_ao_quantized.__all__)
globals().update({name: getattr(_ao_quantized, name) for name in __all__})
