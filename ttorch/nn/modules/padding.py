"""Padding layers (constant, zero, reflection, replication, circular) in 1, 2 and 3 dims, as PyTorch's.

``padding`` is an int (the same on every side) or a tuple (left, right[, top, bottom[, front, back]]).
Each class only names its mode and its number of padded dims; ``_PadNd`` does the rest.
"""
from .. import functional as F
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """Pads the last ``_ndim`` dims in ``_mode``; ``padding`` has two entries per padded dim."""
    __constants__ = ["padding"]
    _mode = None
    _ndim = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = tuple(padding) if isinstance(padding, (list, tuple)) else (padding,) * (2 * self._ndim)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    __constants__ = ["padding", "value"]
    _mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    r"""Pads the last dim with ``value``.

    Example::
        >>> import ttorch
        >>> ttorch.nn.ConstantPad1d((1, 2), 3.5)(ttorch.zeros(1, 2)).tolist()
        [[3.5, 0.0, 0.0, 3.5, 3.5]]
    """
    _ndim = 1


class ConstantPad2d(_ConstantPadNd):
    r"""Pads the last two dims with ``value``; padding (left, right, top, bottom)."""
    _ndim = 2


class ConstantPad3d(_ConstantPadNd):
    r"""Pads the last three dims with ``value``; padding (left, right, top, bottom, front, back)."""
    _ndim = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd, ConstantPad1d):
    r"""Pads the last dim with zeros."""


class ZeroPad2d(_ZeroPadNd, ConstantPad2d):
    r"""Pads the last two dims with zeros.

    Example::
        >>> import ttorch
        >>> ttorch.nn.ZeroPad2d((1, 1, 2, 0))(ttorch.ones(1, 3, 3)).shape
        ttorch.Size([1, 5, 5])
    """


class ZeroPad3d(_ZeroPadNd, ConstantPad3d):
    r"""Pads the last three dims with zeros."""


class ReflectionPad1d(_PadNd):
    r"""Pads the last dim with its reflection (the edge is not repeated).

    Example::
        >>> import ttorch
        >>> ttorch.nn.ReflectionPad1d(2)(ttorch.arange(4.).reshape(1, 1, 4)).tolist()
        [[[2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    """
    _mode, _ndim = "reflect", 1


class ReflectionPad2d(_PadNd):
    r"""Pads the last two dims with their reflection."""
    _mode, _ndim = "reflect", 2


class ReflectionPad3d(_PadNd):
    r"""Pads the last three dims with their reflection."""
    _mode, _ndim = "reflect", 3


class ReplicationPad1d(_PadNd):
    r"""Pads the last dim by repeating its edge value."""
    _mode, _ndim = "replicate", 1


class ReplicationPad2d(_PadNd):
    r"""Pads the last two dims by repeating their edge values."""
    _mode, _ndim = "replicate", 2


class ReplicationPad3d(_PadNd):
    r"""Pads the last three dims by repeating their edge values."""
    _mode, _ndim = "replicate", 3


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input):
        if input.dim() not in (self._ndim + 1, self._ndim + 2):
            raise ValueError(f"expected {self._ndim + 1}D or {self._ndim + 2}D input (got {input.dim()}D input)")
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    r"""Pads the last dim by wrapping around (periodic boundary)."""
    _ndim = 1


class CircularPad2d(_CircularPadNd):
    r"""Pads the last two dims by wrapping around (periodic boundary).

    Example::
        >>> import ttorch
        >>> ttorch.nn.CircularPad2d(1)(ttorch.arange(4.).reshape(1, 1, 2, 2)).shape
        ttorch.Size([1, 1, 4, 4])
    """
    _ndim = 2


class CircularPad3d(_CircularPadNd):
    r"""Pads the last three dims by wrapping around (periodic boundary)."""
    _ndim = 3
