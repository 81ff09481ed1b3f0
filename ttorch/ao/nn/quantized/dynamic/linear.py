"""Dynamically quantized ``Linear``: a qint8 weight; each call quantizes the float input to quint8 with qparams
from its own min and max (``reduce_range``: [0, 127], as fbgemm), runs the int8 GEMM and returns float32
``raw * x_scale * w_scale + bias``."""
from .....nn.modules.linear import Linear as _FloatLinear
from ..... import _quantized as Q
from ...intrinsic import LinearReLU as _LinearReLU
from ..modules import linear as nnq_linear
from .. import _int8


class Linear(nnq_linear.Linear):
    """A dynamically quantized linear layer (float (*, in_features) in, float (*, out_features) out).

    Example::

        >>> import ttorch
        >>> m = ttorch.ao.nn.quantized.dynamic.Linear(4, 2)
        >>> m(ttorch.ones(3, 4)).dtype
        ttorch.float32
    """

    _version = 4

    def __init__(self, in_features, out_features, bias_=True, dtype=Q.qint8):
        super().__init__(in_features, out_features, bias_, dtype=dtype)
        self.version = 4

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, dtype={self._packed_params.dtype}"
                f", qscheme={self.weight().qscheme()}")

    def forward(self, x):
        return _int8.linear_dynamic(x, self._packed_params._packed_params, self._RELU, reduce_range=True)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic quantized module of a float ``mod`` (Linear or LinearReLU) with a ``qconfig``."""
        if type(mod) not in (_FloatLinear, _LinearReLU) and not hasattr(mod, "weight_fake_quant"):
            raise AssertionError("nn.quantized.dynamic.Linear.from_float only works for one of "
                                 f"['Linear', 'LinearReLU'], got: {type(mod)}")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined")
        if isinstance(mod, _LinearReLU):
            mod = mod[0]
        if mod.qconfig is not None and mod.qconfig.weight is not None:
            weight_observer = mod.qconfig.weight()
        else:
            from ....quantization.qconfig import default_dynamic_qconfig
            weight_observer = default_dynamic_qconfig.weight()
        if weight_observer.dtype is not Q.qint8:
            raise AssertionError(f"The only supported dtypes for dynamic quantized linear are qint8, got: "
                                 f"{weight_observer.dtype}")
        weight_observer(mod.weight)
        q = cls(mod.in_features, mod.out_features, dtype=weight_observer.dtype)
        q.set_weight_bias(nnq_linear._quantize_weight(mod.weight.detach().float(), weight_observer),
                          None if mod.bias is None else mod.bias.detach().clone())
        return q
