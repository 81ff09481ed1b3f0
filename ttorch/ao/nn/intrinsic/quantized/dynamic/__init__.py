"""``ttorch.ao.nn.intrinsic.quantized.dynamic``: the dynamic quantized ``LinearReLU`` (ReLU in the epilogue)."""
from ....quantized.dynamic.linear import Linear as _DLinear
from ... import LinearReLU as _LinearReLU


class LinearReLU(_DLinear):
    """Dynamic quantized ``relu(linear(x))``: float in, float out."""

    _FLOAT_MODULE = (_LinearReLU,)
    _RELU = True

    def _get_name(self):
        return "DynamicQuantizedLinearReLU"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if type(mod) is not _LinearReLU:
            raise AssertionError("nniqd.LinearReLU.from_float only works for LinearReLU")
        return super().from_float(mod, use_precomputed_fake_quant)


__all__ = ["LinearReLU"]
