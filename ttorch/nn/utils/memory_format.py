"""``convert_conv2d_weight_memory_format`` and ``convert_conv3d_weight_memory_format``.

As PyTorch's, they re-lay-out the weights of ``Conv2d``/``ConvTranspose2d`` (``Conv3d``/``ConvTranspose3d``)
in ``memory_format`` (``ttorch.channels_last``, ``ttorch.channels_last_3d``, ``ttorch/_memory_format.py``),
keeping values, ``requires_grad`` and parameter identity, and return the module. (ttorch's convolution kernels
read any strides; the layout is kept for code that checks it.)
"""
from ..modules.conv import Conv2d, ConvTranspose2d, Conv3d, ConvTranspose3d

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, types, memory_format):
    from ... import _memory_format as M
    for m in module.modules():
        if isinstance(m, types):
            m.weight.data = M.copy_as(m.weight.detach(), memory_format or M.contiguous_format)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Give the weights of ``module``'s ``Conv2d``/``ConvTranspose2d`` layers (itself included) the layout
    ``memory_format``. Returns ``module``.

    Example::

        >>> m = ttorch.nn.Sequential(ttorch.nn.Conv2d(2, 3, 3))
        >>> ttorch.nn.utils.convert_conv2d_weight_memory_format(m, None) is m
        True
    """
    return _convert(module, (Conv2d, ConvTranspose2d), memory_format)


def convert_conv3d_weight_memory_format(module, memory_format):
    """``convert_conv2d_weight_memory_format`` for ``Conv3d``/``ConvTranspose3d`` layers. Returns ``module``."""
    return _convert(module, (Conv3d, ConvTranspose3d), memory_format)
