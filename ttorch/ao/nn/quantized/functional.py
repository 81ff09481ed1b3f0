"""``ttorch.ao.nn.quantized.functional``: the quantized modules' computations as functions of quantized tensors.

``linear``/``conv1d``/``conv2d`` run the int8 GEMM (quint8 input, qint8 weight, float bias, output qparams
``scale``/``zero_point``). ``relu``, ``hardtanh``, ``clamp`` and ``max_pool2d`` work on the integers in the
input's qparams; ``hardswish``, ``leaky_relu``, ``adaptive_avg_pool2d`` and ``avg_pool2d`` dequantize, apply the
float function and quantize again (in the given qparams, or the input's), as PyTorch's cpu kernels round.
"""
import numpy as np

from ....nn import functional as _F
from .... import _quantized as Q
from . import _int8
from .modules.conv import _pair, _single


def linear(input, weight, bias=None, scale=None, zero_point=None):
    """``requant(input @ weight.T + bias)`` for a quint8 ``input`` and a qint8 ``weight``; output qparams default
    to the input's."""
    scale = input.q_scale() if scale is None else scale
    zero_point = input.q_zero_point() if zero_point is None else zero_point
    return _int8.linear(input, _int8._Packed(weight, bias), scale, zero_point)


def _conv_checks(input, weight, padding_mode, ndim, shape):
    if padding_mode != "zeros":
        raise NotImplementedError("Only zero-padding is supported!")
    if input.dtype is not Q.quint8:
        raise NotImplementedError("Only torch.quint8 is supported for activation tensor!")
    if weight.dtype is not Q.qint8:
        raise NotImplementedError("Only torch.qint8 is supported for weight tensor!")
    if input.ndim != ndim:
        raise ValueError(f"Input shape must be `{shape}`!")


def conv2d(input, weight, bias, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", scale=1.0,
           zero_point=0, dtype=Q.quint8):
    """Quantized 2-d convolution of a quint8 (N, C, H, W) ``input`` with a qint8 ``weight``."""
    _conv_checks(input, weight, padding_mode, 4, "(N, C, H, W)")
    return _int8.conv2d(input, _int8._Packed(weight, bias), _pair(stride), _pair(padding), _pair(dilation), groups,
                        tuple(weight.shape[2:]), scale, zero_point)


def conv1d(input, weight, bias, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", scale=1.0,
           zero_point=0, dtype=Q.quint8):
    """Quantized 1-d convolution of a quint8 (N, C, L) ``input`` (a 2-d convolution of height 1)."""
    _conv_checks(input, weight, padding_mode, 3, "(N, C, L)")
    x = Q.QuantizedTensor._make(input._int.unsqueeze(2), input.dtype, input._scheme, input._scale, input._zp, None)
    w = Q.QuantizedTensor._make(weight._int.unsqueeze(2), weight.dtype, weight._scheme, weight._scale, weight._zp,
                                weight._axis)
    y = _int8.conv2d(x, _int8._Packed(w, bias), (1,) + _single(stride), (0,) + _single(padding),
                     (1,) + _single(dilation), groups, (1, weight.shape[2]), scale, zero_point)
    return Q.QuantizedTensor._make(y._int.squeeze(2), y.dtype, y._scheme, y._scale, y._zp, None)


def _same(input, q_int):
    return Q.QuantizedTensor._make(q_int, input.dtype, input._scheme, input._scale, input._zp, input._axis)


def _qval(input, v):
    """The integer of the float ``v`` in ``input``'s qparams, clamped to the dtype's range."""
    q = int(input._zp) + int(np.rint(np.float32(v) * (np.float32(1.0) / np.float32(input._scale))))
    return min(max(q, input.dtype.min), input.dtype.max)


def clamp(input, min_, max_):
    """``clamp`` on the integers (the bounds quantized in the input's qparams)."""
    return _same(input, input._int.clamp(_qval(input, min_), _qval(input, max_)))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    return clamp(input, min_val, max_val)


def relu(input, inplace=False):
    """``max(q, zero_point)``: ReLU in the input's qparams."""
    return _same(input, input._int.clamp(min=int(input._zp)))


def _requant(input, y, scale, zero_point):
    import ttorch
    scale = input.q_scale() if scale is None else scale
    zero_point = input.q_zero_point() if zero_point is None else zero_point
    return ttorch.quantize_per_tensor(y, scale, zero_point, input.dtype)


def hardswish(input, scale, zero_point):
    return _requant(input, _F.hardswish(input.dequantize()), scale, zero_point)


def leaky_relu(input, negative_slope=0.01, inplace=False, scale=None, zero_point=None):
    """PyTorch's vectorized kernel: fused dequantization, leaky_relu, ``zp + rint(y / scale)``."""
    scale = input.q_scale() if scale is None else scale
    zero_point = input.q_zero_point() if zero_point is None else zero_point
    return _int8.quantize_vec(_F.leaky_relu(_int8.dequantize_vec(input), negative_slope), scale, zero_point)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling of the integers (exact: the maximum commutes with the affine map)."""
    if return_indices:
        raise NotImplementedError("return_indices is not yet implemented!")
    y = _F.max_pool2d(input._int.float(), kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)
    return _same(input, y.to(input._int.dtype))


def adaptive_avg_pool2d(input, output_size):
    return _requant(input, _F.adaptive_avg_pool2d(input.dequantize(), output_size), None, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    y = _F.avg_pool2d(input.dequantize(), kernel_size, stride, padding, ceil_mode, count_include_pad,
                      divisor_override)
    return _requant(input, y, None, None)


__all__ = ["linear", "conv1d", "conv2d", "clamp", "hardtanh", "relu", "hardswish", "leaky_relu", "max_pool2d",
           "adaptive_avg_pool2d", "avg_pool2d"]
