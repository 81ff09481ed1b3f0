"""Quantized ``Linear`` (``ttorch.ao.nn.quantized.Linear``): quint8 activations in and out, a qint8 weight
(per-tensor or per-channel) and a float bias, computed by the int8 GEMM with fbgemm's requantization.

The weight and bias live in ``LinearPackedParams`` (the submodule ``_packed_params``), whose state_dict entries
are PyTorch's: ``_packed_params.dtype`` and ``_packed_params._packed_params`` (the ``(weight, bias)`` tuple);
the module adds ``scale`` and ``zero_point``.
"""
from ....._tensor import Tensor
from .....nn.modules.module import Module
from .....nn.modules.linear import Linear as _FloatLinear
from ..... import _quantized as Q
from .. import _int8


def _quantize_weight(float_wt, observer):
    """The qint8 weight of ``float_wt`` with the qparams ``observer`` computed (PyTorch's ``_quantize_weight``)."""
    import ttorch
    scale, zp = observer.calculate_qparams()
    if observer.qscheme in (Q.per_tensor_symmetric, Q.per_tensor_affine):
        return ttorch.quantize_per_tensor(float_wt, float(scale), int(zp), Q.qint8)
    if observer.qscheme in (Q.per_channel_symmetric, Q.per_channel_affine):
        return ttorch.quantize_per_channel(float_wt, scale.double(), zp.long(), observer.ch_axis, Q.qint8)
    if observer.qscheme is Q.per_channel_affine_float_qparams:
        return ttorch.quantize_per_channel(float_wt, scale.float(), zp.float(), observer.ch_axis, observer.dtype)
    raise ValueError(f"Unrecognized qscheme: {observer.qscheme}")


class _OutputQParams:
    """A quantized module's output ``scale`` and ``zero_point`` in its state_dict, after the rest (PyTorch's keys)."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        import ttorch
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "scale"] = ttorch.tensor(self.scale)
        destination[prefix + "zero_point"] = ttorch.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        _load_qparams(self, state_dict, prefix, strict, missing_keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)


def _empty_weight(shape):
    import ttorch
    return ttorch.quantize_per_tensor(ttorch.zeros(*shape), 1.0, 0, Q.qint8)


class LinearPackedParams(Module):
    """Holds a quantized linear layer's ``(weight, bias)``, packed for the int8 GEMM."""

    _version = 3

    def __init__(self, dtype=Q.qint8):
        super().__init__()
        self.dtype = dtype
        self.set_weight_bias(_empty_weight((1, 1)), None)

    def set_weight_bias(self, weight, bias):
        if weight.dtype is not Q.qint8:
            raise RuntimeError("Weight should be qint8 (ttorch's quantized linear has no float16 packing)")
        self._packed_params = _int8._Packed(weight, bias)

    def _weight_bias(self):
        return self._packed_params.qweight, self._packed_params.bias

    def forward(self, x):
        return x

    def _apply(self, fn, recurse=True):     # ``.to(device)`` moves the packed weight too
        w, b = self._weight_bias()
        self.set_weight_bias(fn(w), fn(b) if b is not None else None)
        return self

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype", Q.qint8)
        if prefix + "_packed_params" in state_dict:
            self.set_weight_bias(*state_dict.pop(prefix + "_packed_params"))
        elif strict:
            missing_keys.append(prefix + "_packed_params")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    def __repr__(self):
        return repr(self._weight_bias())


class Linear(_OutputQParams, Module):
    """A quantized linear layer: ``y = requant(x @ weight.T + bias)`` in ``scale`` and ``zero_point``.

    Args:
        in_features, out_features: sizes of each input and output sample.
        bias_: whether there is a (float) bias. dtype: the weight's dtype (``ttorch.qint8``).

    Shape:
        Input: (*, in_features) quint8 QuantizedTensor; output: (*, out_features) quint8 QuantizedTensor.

    Example::

        >>> import ttorch
        >>> m = ttorch.ao.nn.quantized.Linear(4, 2)
        >>> x = ttorch.quantize_per_tensor(ttorch.ones(3, 4), 0.1, 0, ttorch.quint8)
        >>> m(x).shape, m(x).dtype
        (ttorch.Size([3, 2]), ttorch.quint8)
    """

    _version = 3
    _FLOAT_MODULE = (_FloatLinear,)
    _RELU = False

    def __init__(self, in_features, out_features, bias_=True, dtype=Q.qint8):
        super().__init__()
        import ttorch
        self.in_features, self.out_features = in_features, out_features
        bias = ttorch.zeros(out_features) if bias_ else None
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(_empty_weight((out_features, in_features)), bias)
        self.scale = 1.0
        self.zero_point = 0

    def _get_name(self):
        return "QuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale}, "
                f"zero_point={self.zero_point}, qscheme={self.weight().qscheme()}")

    def __repr__(self):     # the packed weight is not shown (as PyTorch's)
        return f"{self._get_name()}({self.extra_repr()})"

    def forward(self, x):
        return _int8.linear(x, self._packed_params._packed_params, self.scale, self.zero_point, self._RELU)

    def _weight_bias(self):
        return self._packed_params._weight_bias()

    def weight(self):
        return self._weight_bias()[0]

    def bias(self):
        return self._weight_bias()[1]

    def set_weight_bias(self, w, b):
        self._packed_params.set_weight_bias(w, b)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The quantized module of an observed float ``mod`` (or a QAT module): its weight quantized with the
        qconfig's weight observer, its output qparams from ``mod.activation_post_process``."""
        if hasattr(mod, "weight_fake_quant"):      # a QAT module
            weight_post_process = mod.weight_fake_quant
        else:
            names = ", ".join(m.__name__ for m in cls._FLOAT_MODULE)
            if type(mod) not in cls._FLOAT_MODULE:
                raise AssertionError(f"nnq.{cls.__name__}.from_float only works for {names}, but got: {type(mod)}")
            if not hasattr(mod, "qconfig"):
                raise AssertionError("Input float module must have qconfig defined")
            weight_post_process = None
        activation_post_process = mod.activation_post_process
        if not isinstance(mod, _FloatLinear):       # a fused LinearReLU: its first is the Linear
            mod = mod[0]
        if weight_post_process is None:
            weight_post_process = mod.qconfig.weight()
        if not use_precomputed_fake_quant:
            weight_post_process(mod.weight)
        if weight_post_process.dtype is not Q.qint8:
            raise AssertionError("Weight observer must have dtype torch.qint8")
        act_scale, act_zp = activation_post_process.calculate_qparams()
        qlinear = cls(mod.in_features, mod.out_features, dtype=weight_post_process.dtype)
        qlinear.set_weight_bias(_quantize_weight(mod.weight.detach().float(), weight_post_process),
                                None if mod.bias is None else mod.bias.detach().clone())
        qlinear.scale = float(act_scale)
        qlinear.zero_point = int(act_zp)
        return qlinear


def _load_qparams(mod, state_dict, prefix, strict, missing_keys):
    for name, cast in (("scale", float), ("zero_point", int)):
        v = state_dict.pop(prefix + name, None)
        if v is not None:
            setattr(mod, name, cast(v.item() if isinstance(v, Tensor) else v))
        elif strict:
            missing_keys.append(prefix + name)
