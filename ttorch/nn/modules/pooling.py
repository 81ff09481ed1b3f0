"""Pooling layers with PyTorch's arguments and printout; the math is in ``nn.functional.pooling``."""
from .. import functional as F
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"]


def _single(x):
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


class _MaxPoolNd(Module):
    __constants__ = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}, dilation={dilation}, "
                "ceil_mode={ceil_mode}".format(**self.__dict__))


class MaxPool1d(_MaxPoolNd):
    r"""1D max pooling over (N, C, L) or (C, L); ``return_indices`` also returns flat argmax positions.

    Example::
        >>> import ttorch
        >>> ttorch.nn.MaxPool1d(3, stride=2)(ttorch.randn(2, 4, 9)).shape
        ttorch.Size([2, 4, 4])
    """

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    r"""2D max pooling over (N, C, H, W) or (C, H, W); padding reads -inf, ties pick the first max.

    Example::
        >>> import ttorch
        >>> ttorch.nn.MaxPool2d(2)(ttorch.randn(1, 3, 5, 5)).shape
        ttorch.Size([1, 3, 2, 2])
    """

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool3d(_MaxPoolNd):
    r"""3D max pooling over (N, C, D, H, W) or (C, D, H, W); indices are flat positions in D * H * W.

    Example::
        >>> import ttorch
        >>> ttorch.nn.MaxPool3d(2)(ttorch.randn(1, 3, 4, 5, 5)).shape
        ttorch.Size([1, 3, 2, 2, 2])
    """

    def forward(self, input):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool1d(Module):
    r"""1D average pooling over (N, C, L) or (C, L).

    Example::
        >>> import ttorch
        >>> ttorch.nn.AvgPool1d(2)(ttorch.randn(2, 4, 9)).shape
        ttorch.Size([2, 4, 4])
    """
    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(Module):
    r"""2D average pooling over (N, C, H, W) or (C, H, W), with ``count_include_pad`` and ``divisor_override``.

    Example::
        >>> import ttorch
        >>> ttorch.nn.AvgPool2d(3, stride=2, padding=1)(ttorch.randn(1, 3, 5, 5)).shape
        ttorch.Size([1, 3, 3, 3])
    """
    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool3d(AvgPool2d):
    r"""3D average pooling over (N, C, D, H, W) or (C, D, H, W), with ``count_include_pad`` and
    ``divisor_override``.

    Example::
        >>> import ttorch
        >>> ttorch.nn.AvgPool3d(3, stride=2, padding=1)(ttorch.randn(1, 3, 5, 5, 5)).shape
        ttorch.Size([1, 3, 3, 3, 3])
    """

    def forward(self, input):
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePoolNd(Module):
    __constants__ = ["output_size"]

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    r"""Adaptive average pooling to length ``output_size``.

    Example::
        >>> import ttorch
        >>> ttorch.nn.AdaptiveAvgPool1d(3)(ttorch.randn(2, 4, 7)).shape
        ttorch.Size([2, 4, 3])
    """

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    r"""Adaptive average pooling to ``output_size`` (int, or (H, W) where ``None`` keeps the input size).

    Example::
        >>> import ttorch
        >>> ttorch.nn.AdaptiveAvgPool2d((1, 1))(ttorch.randn(2, 4, 7, 5)).shape
        ttorch.Size([2, 4, 1, 1])
    """

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    r"""Adaptive average pooling to ``output_size`` (int, or (D, H, W) where ``None`` keeps the input size).

    Example::
        >>> import ttorch
        >>> ttorch.nn.AdaptiveAvgPool3d(1)(ttorch.randn(2, 4, 3, 7, 5)).shape
        ttorch.Size([2, 4, 1, 1, 1])
    """

    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    __constants__ = ["output_size", "return_indices"]

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    r"""Adaptive max pooling to length ``output_size``.

    Example::
        >>> import ttorch
        >>> ttorch.nn.AdaptiveMaxPool1d(3)(ttorch.randn(2, 4, 7)).shape
        ttorch.Size([2, 4, 3])
    """

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    r"""Adaptive max pooling to ``output_size``; ``return_indices`` gives flat positions in H * W.

    Example::
        >>> import ttorch
        >>> ttorch.nn.AdaptiveMaxPool2d(2)(ttorch.randn(2, 4, 7, 5)).shape
        ttorch.Size([2, 4, 2, 2])
    """

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    r"""Adaptive max pooling to ``output_size``; ``return_indices`` gives flat positions in D * H * W.

    Example::
        >>> import ttorch
        >>> ttorch.nn.AdaptiveMaxPool3d((1, 2, 2))(ttorch.randn(2, 4, 3, 7, 5)).shape
        ttorch.Size([2, 4, 1, 2, 2])
    """

    def forward(self, input):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)
