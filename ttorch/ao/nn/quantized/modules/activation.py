"""Quantized activations, ``Quantize``/``DeQuantize`` and ``Dropout`` (``ttorch.ao.nn.quantized``).

``ReLU6`` works on the integers: ``min(max(q, zero_point), q(6.0))`` in the input's qparams. ``Hardswish`` and
``LeakyReLU`` dequantize, apply the float function and quantize with the module's ``scale`` and
``zero_point`` (PyTorch's vectorized kernels fuse some of these float steps, which can move a rare tie).
"""
from .....nn.modules.module import Module
from .....nn import functional as F
from ..... import _quantized as Q
from .. import _int8


class Quantize(Module):
    """Quantize a float tensor with ``scale`` and ``zero_point`` (buffers) to ``dtype``.

    Example::

        >>> import ttorch
        >>> q = ttorch.ao.nn.quantized.Quantize(0.5, 1, ttorch.quint8)(ttorch.tensor([0.0, 1.0]))
        >>> q.int_repr().tolist()
        [1, 3]
    """

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None):
        super().__init__()
        import ttorch
        self.register_buffer("scale", ttorch.tensor([float(scale)]))
        self.register_buffer("zero_point", ttorch.tensor([int(zero_point)], dtype=ttorch.int64))
        self.dtype = dtype

    def forward(self, X):
        import ttorch
        return ttorch.quantize_per_tensor(X, float(self.scale), int(self.zero_point), self.dtype)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        if not hasattr(mod, "activation_post_process"):
            raise AssertionError("QuantStub must have activation_post_process (run prepare first)")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return Quantize(float(scale.float().reshape(-1)[0]), int(zero_point.long().reshape(-1)[0]),
                        mod.activation_post_process.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(Module):
    """A quantized tensor's float values (``dequantize()``)."""

    def forward(self, Xq):
        return Xq.dequantize()

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return DeQuantize()


class ReLU6(Module):
    """``min(max(x, 0), 6)`` on a quantized tensor, in its own qparams."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def _get_name(self):
        return "QuantizedReLU6"

    def forward(self, input):
        return relu6(input)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return ReLU6(mod.inplace)


def relu6(input):
    import numpy as np
    _int8.check_quint8(input, "quantized::relu6")
    zp = int(input._zp)
    six = min(255, zp + int(np.rint(np.float32(6.0) * (np.float32(1.0) / np.float32(input._scale)))))
    return Q.QuantizedTensor._make(input._int.clamp(zp, six), input.dtype, input._scheme, input._scale, zp, None)


def _requant(y, scale, zero_point):
    import ttorch
    return ttorch.quantize_per_tensor(y, scale, zero_point, Q.quint8)


class Hardswish(Module):
    """``hardswish`` of a quantized tensor, quantized with ``scale`` and ``zero_point``."""

    def __init__(self, scale, zero_point, device=None, dtype=None):
        super().__init__()
        self.scale, self.zero_point = float(scale), int(zero_point)

    def _get_name(self):
        return "QuantizedHardswish"

    def forward(self, input):
        return _requant(F.hardswish(input.dequantize()), self.scale, self.zero_point)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return Hardswish(float(scale), int(zero_point))


class LeakyReLU(Module):
    """``leaky_relu`` of a quantized tensor, quantized with ``scale`` and ``zero_point``."""

    def __init__(self, scale, zero_point, negative_slope=1e-2, inplace=False, device=None, dtype=None):
        super().__init__()
        self.scale, self.zero_point = float(scale), int(zero_point)
        self.negative_slope, self.inplace = negative_slope, inplace

    def _get_name(self):
        return "QuantizedLeakyReLU"

    def forward(self, input):      # PyTorch's vectorized kernel: fused dequantization, then leaky_relu
        return _int8.quantize_vec(F.leaky_relu(_int8.dequantize_vec(input), self.negative_slope), self.scale,
                                  self.zero_point)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return LeakyReLU(float(scale), int(zero_point), mod.negative_slope, mod.inplace)


class Dropout(Module):
    """Dropout of a quantized model: the identity (quantized models run in eval mode)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = p, inplace

    def _get_name(self):
        return "QuantizedDropout"

    def forward(self, input):
        return input

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return Dropout(mod.p, mod.inplace)
