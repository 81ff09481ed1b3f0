"""``ttorch.nn.grad``: gradients of convolutions with respect to their input and weight, as functions.

``convNd_input(input_size, weight, grad_output, ...)`` is the gradient reaching a convolution's input of
shape ``input_size``; ``convNd_weight(input, weight_size, grad_output, ...)`` the one reaching its weight.
Both differentiate ``F.convNd`` with ttorch's autograd (the convolution's backward kernels), so they
run on every device and are differentiable themselves when their tensor arguments require grad.

Example::

    >>> import ttorch.nn.functional as F
    >>> x, w = ttorch.randn(1, 2, 5, requires_grad=True), ttorch.randn(3, 2, 2)
    >>> y = F.conv1d(x, w, padding=1)
    >>> g = ttorch.randn_like(y)
    >>> ttorch.allclose(ttorch.nn.grad.conv1d_input(x.shape, w, g, padding=1),
    ...                 ttorch.autograd.grad(y, x, g)[0])
    True
"""
from .. import autograd
from .._tensor import Tensor
from ..ops.creation import zeros

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]


def _conv(n):
    from . import functional as F
    return (F.conv1d, F.conv2d, F.conv3d)[n - 1]


def _input_grad(n, input_size, weight, grad_output, stride, padding, dilation, groups):
    if not isinstance(weight, Tensor) or not isinstance(grad_output, Tensor):
        raise TypeError(f"conv{n}d_input: weight and grad_output must be tensors")
    x = zeros(tuple(input_size), dtype=grad_output.dtype, device=grad_output.device, requires_grad=True)
    create = weight.requires_grad or grad_output.requires_grad
    with autograd.enable_grad():
        y = _conv(n)(x, weight, None, stride, padding, dilation, groups)
    if tuple(y.shape) != tuple(grad_output.shape):
        raise RuntimeError(f"conv{n}d_input: grad_output has shape {list(grad_output.shape)}, but a convolution "
                           f"of an input of size {list(input_size)} gives {list(y.shape)}")
    return autograd.grad(y, x, grad_output, create_graph=create)[0]


def _weight_grad(n, input, weight_size, grad_output, stride, padding, dilation, groups):
    if not isinstance(input, Tensor) or not isinstance(grad_output, Tensor):
        raise TypeError(f"conv{n}d_weight: input and grad_output must be tensors")
    w = zeros(tuple(weight_size), dtype=input.dtype, device=input.device, requires_grad=True)
    create = input.requires_grad or grad_output.requires_grad
    with autograd.enable_grad():
        y = _conv(n)(input, w, None, stride, padding, dilation, groups)
    if tuple(y.shape) != tuple(grad_output.shape):
        raise RuntimeError(f"conv{n}d_weight: grad_output has shape {list(grad_output.shape)}, but the "
                           f"convolution gives {list(y.shape)}")
    return autograd.grad(y, w, grad_output, create_graph=create)[0]


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv1d`` with respect to an input of size ``input_size`` (N, C_in, L)."""
    return _input_grad(1, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv1d`` with respect to a weight of size ``weight_size`` (C_out, C_in/groups, k)."""
    return _weight_grad(1, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` with respect to an input of size ``input_size`` (N, C_in, H, W)."""
    return _input_grad(2, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` with respect to a weight of size ``weight_size``."""
    return _weight_grad(2, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv3d`` with respect to an input of size ``input_size`` (N, C_in, D, H, W)."""
    return _input_grad(3, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv3d`` with respect to a weight of size ``weight_size``."""
    return _weight_grad(3, input, weight_size, grad_output, stride, padding, dilation, groups)
