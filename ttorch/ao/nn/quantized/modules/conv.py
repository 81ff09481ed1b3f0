"""Quantized ``Conv1d`` and ``Conv2d`` (``ttorch.ao.nn.quantized``): quint8 activations in and out, a qint8
weight (per-tensor or per-output-channel) and a float bias; im2col, then the int8 GEMM with fbgemm's
requantization (``_int8.conv2d``). Conv1d runs as a Conv2d of height 1.

state_dict: ``weight`` (the qint8 QuantizedTensor), ``bias`` (float), ``scale``, ``zero_point``, PyTorch's keys.
Difference from PyTorch: padding_mode ``"zeros"`` only (as fbgemm), no Conv3d nor transposed convolutions.
"""
from .....nn.modules.module import Module
from .....nn.modules.conv import Conv1d as _FloatConv1d, Conv2d as _FloatConv2d
from .....nn.modules.conv import _pair, _single
from ..... import _quantized as Q
from .. import _int8
from .linear import _quantize_weight, _load_qparams


class _ConvNd(Module):
    _FLOAT_MODULE = ()
    _RELU = False

    def _init(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode):
        super().__init__()
        import ttorch
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode != "zeros":
            raise NotImplementedError("ttorch's quantized convolutions pad with zeros only (as fbgemm's)")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.transposed, self.output_padding, self.padding_mode = False, (0,) * len(stride), padding_mode
        w = ttorch.quantize_per_tensor(ttorch.zeros(out_channels, in_channels // groups, *kernel_size), 1.0, 0,
                                       Q.qint8)
        self.set_weight_bias(w, ttorch.zeros(out_channels) if bias else None)
        self.scale = 1.0
        self.zero_point = 0

    def set_weight_bias(self, w, b):
        self._packed = _int8._Packed(w, b)

    def _weight_bias(self):
        return self._packed.qweight, self._packed.bias

    def weight(self):
        return self._packed.qweight

    def bias(self):
        return self._packed.bias

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"scale={self.scale}, zero_point={self.zero_point}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._packed.bias is None:
            s += ", bias=False"
        return s

    def _apply(self, fn, recurse=True):
        w, b = self._weight_bias()
        self.set_weight_bias(fn(w), fn(b) if b is not None else None)
        return self

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        import ttorch
        super()._save_to_state_dict(destination, prefix, keep_vars)
        w, b = self._weight_bias()
        destination[prefix + "weight"] = w
        destination[prefix + "bias"] = b
        destination[prefix + "scale"] = ttorch.tensor(self.scale)
        destination[prefix + "zero_point"] = ttorch.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        if prefix + "weight" in state_dict:
            self.set_weight_bias(state_dict.pop(prefix + "weight"), state_dict.pop(prefix + "bias", None))
        elif strict:
            missing_keys.append(prefix + "weight")
        _load_qparams(self, state_dict, prefix, strict, missing_keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The quantized conv of an observed float (or QAT, or fused ConvReLU) ``mod``."""
        if hasattr(mod, "weight_fake_quant"):
            weight_post_process = mod.weight_fake_quant
        else:
            if type(mod) not in cls._FLOAT_MODULE:
                raise AssertionError(f"nnq.{cls.__name__}.from_float only works for "
                                     f"{', '.join(m.__name__ for m in cls._FLOAT_MODULE)} but got: {type(mod)}")
            if not hasattr(mod, "qconfig"):
                raise AssertionError("Input float module must have qconfig defined.")
            weight_post_process = None
        activation_post_process = getattr(mod, "activation_post_process", None)
        if not isinstance(mod, (_FloatConv1d, _FloatConv2d)):     # fused ConvReLU: its first is the conv
            mod = mod[0]
        if weight_post_process is None:
            weight_post_process = mod.qconfig.weight()
        if not use_precomputed_fake_quant:
            weight_post_process(mod.weight)
        if weight_post_process.dtype is not Q.qint8:
            raise AssertionError("Weight observer must have a dtype of qint8")
        q = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                mod.groups, mod.bias is not None, mod.padding_mode)
        q.set_weight_bias(_quantize_weight(mod.weight.detach().float(), weight_post_process),
                          None if mod.bias is None else mod.bias.detach().clone())
        if activation_post_process is not None:
            act_scale, act_zp = activation_post_process.calculate_qparams()
            q.scale, q.zero_point = float(act_scale), int(act_zp)
        return q


class Conv2d(_ConvNd):
    """A quantized 2-d convolution (quint8 (N, C, H, W) in, quint8 out in ``scale`` and ``zero_point``).

    Example::

        >>> import ttorch
        >>> m = ttorch.ao.nn.quantized.Conv2d(2, 3, 3, padding=1)
        >>> x = ttorch.quantize_per_tensor(ttorch.rand(1, 2, 4, 4), 0.01, 0, ttorch.quint8)
        >>> m(x).shape
        ttorch.Size([1, 3, 4, 4])
    """

    _FLOAT_MODULE = (_FloatConv2d,)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        self._init(in_channels, out_channels, _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation),
                   groups, bias, padding_mode)

    def _get_name(self):
        return "QuantizedConv2d"

    def forward(self, input):
        if input.dim() != 4:
            raise ValueError("Input shape must be `(N, C, H, W)`!")
        return _int8.conv2d(input, self._packed, self.stride, self.padding, self.dilation, self.groups,
                            self.kernel_size, self.scale, self.zero_point, self._RELU)


class Conv1d(_ConvNd):
    """A quantized 1-d convolution (quint8 (N, C, L) in, quint8 out)."""

    _FLOAT_MODULE = (_FloatConv1d,)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        self._init(in_channels, out_channels, _single(kernel_size), _single(stride), _single(padding),
                   _single(dilation), groups, bias, padding_mode)

    def _get_name(self):
        return "QuantizedConv1d"

    def forward(self, input):
        if input.dim() != 3:
            raise ValueError("Input shape must be `(N, C, L)`!")
        x = Q.QuantizedTensor._make(input._int.unsqueeze(2), input.dtype, input._scheme, input._scale, input._zp,
                                    input._axis)
        y = _int8.conv2d(x, self._packed, (1,) + self.stride, (0,) + self.padding, (1,) + self.dilation,
                         self.groups, (1,) + self.kernel_size, self.scale, self.zero_point, self._RELU)
        return Q.QuantizedTensor._make(y._int.squeeze(2), y.dtype, y._scheme, y._scale, y._zp, None)
