"""``LayerNorm``, ``RMSNorm``, ``GroupNorm``, ``LocalResponseNorm`` and ``CrossMapLRN2d`` (PyTorch's parameters
and defaults)."""
import numbers

from .. import functional as F
from .. import init
from ...autograd.function import Function
from ...ops.creation import empty, tensor
from ...ops.einsum import einsum
from ..parameter import Parameter
from .module import Module

__all__ = ["LayerNorm", "RMSNorm", "GroupNorm", "LocalResponseNorm", "CrossMapLRN2d"]


def _shape(normalized_shape):
    return (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)


class LayerNorm(Module):
    r"""Layer normalization over the last ``len(normalized_shape)`` dims (a fused kernel on cuda).

    Args:
        normalized_shape (int or list): the trailing shape normalised over.
        eps (float): added to the variance. Default: 1e-5.
        elementwise_affine (bool): learn ``weight`` (ones) and ``bias`` (zeros). Default: True.
        bias (bool): learn ``bias`` too (with ``elementwise_affine``). Default: True.

    Example::

        >>> LayerNorm(4)(ttorch.randn(2, 4)).shape
        ttorch.Size([2, 4])
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    r"""Root-mean-square normalization: ``x / sqrt(mean(x**2) + eps) * weight`` over the last dims.

    Args:
        normalized_shape (int or list): the trailing shape normalised over.
        eps (float or None): added to the mean square; None: ``finfo(input.dtype).eps``.
        elementwise_affine (bool): learn ``weight`` (ones). Default: True.
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    r"""Group normalization: channels split into ``num_groups`` groups, each normalised over its
    channels and the spatial dims; per-channel ``weight`` (ones) and ``bias`` (zeros) if ``affine``
    (no ``bias`` with the keyword ``bias=False``).

    Example::

        >>> GroupNorm(2, 4)(ttorch.randn(3, 4, 5)).shape
        ttorch.Size([3, 4, 5])
    """

    __constants__ = ["num_groups", "num_channels", "eps", "affine"]

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(empty(num_channels, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_channels, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    r"""Local response normalization across channels (``F.local_response_norm``)."""

    __constants__ = ["size", "alpha", "beta", "k"]

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


def _band(channels, lo, hi, first=False):
    """(C, C) 0/1 matrix whose row c selects channels c+lo .. c+hi (clipped); ``first``: channel 0 too."""
    import numpy as np
    c = np.arange(channels)
    m = ((c[None, :] >= c[:, None] + lo) & (c[None, :] <= c[:, None] + hi)).astype(np.float64)
    if first:
        m[:, 0] = 1.0
    return m


class _CrossMapLRN2dFunction(Function):
    """PyTorch's legacy ``CrossMapLRN2d`` arithmetic, kept exactly: its forward window (ported from 1-based Lua
    code) never drops channel 0 once channel ``pre_pad`` is reached, and its backward is its own formula for a
    centred window, not the forward's derivative. Both are band-matrix products in ttorch ops."""

    @staticmethod
    def forward(ctx, input, size, alpha, beta, k):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
        channels = input.shape[1]
        pre_pad = int((size - 1) / 2 + 1)
        m = _band(channels, -(pre_pad - 1), pre_pad - 1, first=True)
        m[:pre_pad + 1, :] = _band(channels, -channels, pre_pad - 1)[:pre_pad + 1]      # c <= pre_pad: from 0
        band = tensor(m, dtype=input.dtype, device=input.device)
        scale = einsum("nchw,dc->ndhw", input * input, band) * (alpha / size) + k
        output = input * scale.pow(-beta)
        ctx.save_for_backward(input, output, scale)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output, scale = ctx.saved_tensors
        size, channels = ctx.size, input.shape[1]
        inverse_pre_pad = int(size - (size - 1) / 2)
        band = tensor(_band(channels, -inverse_pre_pad, size - 1 - inverse_pre_pad), dtype=input.dtype,
                      device=input.device)
        accum = einsum("nchw,dc->ndhw", grad_output * output / scale, band)
        grad = scale.pow(-ctx.beta) * grad_output - (2 * ctx.alpha * ctx.beta / size) * input * accum
        return grad, None, None, None, None


class CrossMapLRN2d(Module):
    r"""Local response normalization across the channels of 4-D input, PyTorch's legacy (Lua torch) form:
    ``y = x * (k + alpha / size * sum of x^2 over a window of channels) ** -beta``.

    Its forward and backward are PyTorch's to the rounding, window quirks included (see
    ``_CrossMapLRN2dFunction``); ``LocalResponseNorm`` is the usual layer.

    Args:
        size (int): the window, in channels. alpha (float): Default: 1e-4. beta (float): Default: 0.75.
        k (float): Default: 1.

    Shape:
        Input ``(N, C, H, W)``; output the same.

    Example::

        >>> ttorch.nn.CrossMapLRN2d(3)(ttorch.ones(1, 4, 2, 2)).shape
        ttorch.Size([1, 4, 2, 2])
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return _CrossMapLRN2dFunction.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)
