"""``convert_conv2d_weight_memory_format`` and ``convert_conv3d_weight_memory_format``.

In PyTorch they re-lay-out the weights of ``Conv2d``/``ConvTranspose2d`` (``Conv3d``/``ConvTranspose3d``)
in ``memory_format`` (``torch.channels_last``, ``torch.channels_last_3d``) so that cuDNN picks NHWC
kernels. ttorch has no such layouts: every tensor it makes is row-major, and its convolution kernels read
that layout whatever the input's strides. So the weights are replaced by row-major copies (the
values, ``requires_grad`` and parameter identity as PyTorch leaves them), ``memory_format`` is accepted
without being looked at, and the module is returned.
"""
from ..modules.conv import Conv2d, ConvTranspose2d, Conv3d, ConvTranspose3d

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, types, memory_format):
    for m in module.modules():
        if isinstance(m, types):
            m.weight.data = m.weight.detach().clone()
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Give the weights of ``module``'s ``Conv2d``/``ConvTranspose2d`` layers (itself included) the layout
    ``memory_format`` (ttorch: row-major copies, see the module docstring). Returns ``module``.

    Example::

        >>> m = ttorch.nn.Sequential(ttorch.nn.Conv2d(2, 3, 3))
        >>> ttorch.nn.utils.convert_conv2d_weight_memory_format(m, None) is m
        True
    """
    return _convert(module, (Conv2d, ConvTranspose2d), memory_format)


def convert_conv3d_weight_memory_format(module, memory_format):
    """``convert_conv2d_weight_memory_format`` for ``Conv3d``/``ConvTranspose3d`` layers. Returns ``module``."""
    return _convert(module, (Conv3d, ConvTranspose3d), memory_format)
