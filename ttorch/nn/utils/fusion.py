"""Fold an eval-mode BatchNorm into the convolution or linear layer before it (PyTorch's
``torch.nn.utils.fusion``), and ``skip_init`` (PyTorch's ``torch.nn.utils.init``).

BatchNorm in eval mode is the per-channel affine map ``y = (x - mean) / sqrt(var + eps) * w + b``;
composed with a layer ``x = W u + c`` it is the layer ``(W * s) u + (c - mean) * s + b`` with
``s = w / sqrt(var + eps)``, scaled along the weight's output-channel dim.
"""
import copy
import inspect

from ... import ops as _ops
from ..parameter import Parameter

_F = _ops.FUNCTIONS

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
           "skip_init"]


def fuse_conv_bn_eval(conv, bn, transpose=False):
    r"""A new convolution computing ``bn(conv(x))`` of the eval-mode ``conv`` and ``bn``.

    Args:
        conv (nn.Conv1d/2d/3d or ConvTranspose*): the convolution (left unchanged).
        bn (nn.BatchNorm*): the BatchNorm after it, with its running statistics.
        transpose (bool): the weight is a transposed convolution's, output channels in dim 1.

    Example::

        >>> conv, bn = ttorch.nn.Conv2d(3, 4, 3).eval(), ttorch.nn.BatchNorm2d(4).eval()
        >>> fuse_conv_bn_eval(conv, bn).weight.shape
        ttorch.Size([4, 3, 3, 3])
    """
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused_conv = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused_conv.weight, fused_conv.bias = fuse_conv_bn_weights(
        fused_conv.weight, fused_conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias, transpose)
    return fused_conv


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The fused ``(weight, bias)`` Parameters of a convolution followed by BatchNorm (eval mode).

    ``conv_b``, ``bn_w`` and ``bn_b`` may be None (zeros, ones, zeros). The results keep the
    convolution's dtypes and its parameters' ``requires_grad``.
    """
    conv_weight_dtype = conv_w.dtype
    conv_bias_dtype = conv_b.dtype if conv_b is not None else conv_weight_dtype
    if conv_b is None:
        conv_b = _F["zeros_like"](bn_rm)
    if bn_w is None:
        bn_w = _F["ones_like"](bn_rm)
    if bn_b is None:
        bn_b = _F["zeros_like"](bn_rm)
    bn_var_rsqrt = _F["rsqrt"](bn_rv + bn_eps)
    # Output channels: dim 0 of a convolution's weight, dim 1 of a transposed one's.
    shape = ([1, -1] if transpose else [-1, 1]) + [1] * (conv_w.dim() - 2)
    fused_conv_w = (conv_w * (bn_w * bn_var_rsqrt).reshape(shape)).to(dtype=conv_weight_dtype)
    fused_conv_b = ((conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b).to(dtype=conv_bias_dtype)
    return Parameter(fused_conv_w, conv_w.requires_grad), Parameter(fused_conv_b, conv_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    r"""A new ``nn.Linear`` computing ``bn(linear(x))`` of the eval-mode ``linear`` and ``bn``.

    ``bn.num_features`` must equal ``linear.out_features`` or be 1 (the shapes must broadcast).

    Example::

        >>> lin, bn = ttorch.nn.Linear(5, 3).eval(), ttorch.nn.BatchNorm1d(3).eval()
        >>> fuse_linear_bn_eval(lin, bn).bias.shape
        ttorch.Size([3])
    """
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused_linear = copy.deepcopy(linear)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError("To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                             f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused_linear.weight, fused_linear.bias = fuse_linear_bn_weights(
        fused_linear.weight, fused_linear.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused_linear


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The fused ``(weight, bias)`` Parameters of a linear layer followed by BatchNorm (eval mode).

    As in PyTorch, ``bn_w`` and ``bn_b`` are required here (an affine-less BatchNorm fails).
    """
    linear_weight_dtype = linear_w.dtype
    linear_bias_dtype = linear_b.dtype if linear_b is not None else linear_weight_dtype
    if linear_b is None:
        linear_b = _F["zeros_like"](bn_rm)
    bn_scale = bn_w * _F["rsqrt"](bn_rv + bn_eps)
    fused_w = linear_w * bn_scale.unsqueeze(-1).to(dtype=linear_weight_dtype)
    fused_b = ((linear_b - bn_rm) * bn_scale + bn_b).to(dtype=linear_bias_dtype)
    return Parameter(fused_w, linear_w.requires_grad), Parameter(fused_b, linear_b.requires_grad)


def _no_reset():
    return None


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` with its parameters and buffers left uninitialised
    (as ``ttorch.empty`` leaves them), for a custom initialisation that follows.

    PyTorch builds the module on the ``meta`` device; ttorch has none, so the module's own
    ``reset_parameters`` is skipped while it is built and ``to_empty`` then replaces every tensor.
    The module must take a ``device`` argument, as PyTorch requires.

    Example::

        >>> skip_init(ttorch.nn.Linear, 5, 1).weight.shape
        ttorch.Size([1, 5])
    """
    from ..modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    module = module_cls.__new__(module_cls)
    object.__setattr__(module, "reset_parameters", _no_reset)   # shadows the method while __init__ runs
    try:
        module.__init__(*args, device=final_device, **kwargs)
    finally:
        object.__delattr__(module, "reset_parameters")
    return module.to_empty(device=final_device)
