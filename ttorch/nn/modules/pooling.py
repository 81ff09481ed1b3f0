"""Pooling layers with PyTorch's arguments and printout; the math is in ``nn.functional.pooling``."""
from .. import functional as F
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d",
           "FractionalMaxPool3d"]


def _single(x):
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _ntuple(x, n):
    return tuple(x) if isinstance(x, (list, tuple)) else (x,) * n


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


class _LPPoolNd(Module):
    __constants__ = ["norm_type", "kernel_size", "stride", "ceil_mode"]

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return "norm_type={norm_type}, kernel_size={kernel_size}, stride={stride}, ceil_mode={ceil_mode}".format(
            **self.__dict__)

    def forward(self, input):
        lp_pool = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[self._nd - 1]
        return lp_pool(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)


class LPPool1d(_LPPoolNd):
    r"""1D power-average pooling over (N, C, L) or (C, L): ``(sum over the window of x ** p) ** (1 / p)``.

    Args:
        norm_type: ``p``; ``inf`` gives max pooling of ``|x|``, 1 sum pooling.
        kernel_size, stride (default: ``kernel_size``), ceil_mode: as in :class:`AvgPool1d`.

    Example::
        >>> import ttorch
        >>> ttorch.nn.LPPool1d(2, 3, stride=2)(ttorch.randn(2, 4, 9)).shape
        ttorch.Size([2, 4, 4])
    """
    _nd = 1


class LPPool2d(_LPPoolNd):
    r"""2D power-average pooling over (N, C, H, W) or (C, H, W); see :class:`LPPool1d`.

    Example::
        >>> import ttorch
        >>> ttorch.nn.LPPool2d(1, 2)(ttorch.ones(1, 4, 4))
        tensor([[[4., 4.],
                 [4., 4.]]])
    """
    _nd = 2


class LPPool3d(_LPPoolNd):
    r"""3D power-average pooling over (N, C, D, H, W) or (C, D, H, W); see :class:`LPPool1d`.

    Example::
        >>> import ttorch
        >>> ttorch.nn.LPPool3d(2, (1, 2, 2))(ttorch.randn(2, 3, 4, 5, 5)).shape
        ttorch.Size([2, 3, 4, 2, 2])
    """
    _nd = 3


class _MaxUnpoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, self._nd)
        self.stride = _ntuple(stride if stride is not None else kernel_size, self._nd)
        self.padding = _ntuple(padding, self._nd)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self._nd - 1]
        return unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool1d(_MaxUnpoolNd):
    r"""Partial inverse of :class:`MaxPool1d`: the values at the positions of ``indices`` (its
    ``return_indices=True`` output), zeros elsewhere; ``output_size`` resolves the sizes that pool alike.

    Shape: (N, C, L_in) or (C, L_in) -> (N, C, L_out) or (C, L_out), with
    ``L_out = (L_in - 1) * stride - 2 * padding + kernel_size``.

    Example::
        >>> import ttorch
        >>> pool, unpool = ttorch.nn.MaxPool1d(2, return_indices=True), ttorch.nn.MaxUnpool1d(2)
        >>> unpool(*pool(ttorch.tensor([[[1., 2., 3., 4., 5., 6., 7., 8.]]]))).tolist()
        [[[0.0, 2.0, 0.0, 4.0, 0.0, 6.0, 0.0, 8.0]]]
    """
    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    r"""Partial inverse of :class:`MaxPool2d` over (N, C, H, W) or (C, H, W); see :class:`MaxUnpool1d`.

    Example::
        >>> import ttorch
        >>> pool, unpool = ttorch.nn.MaxPool2d(2, return_indices=True), ttorch.nn.MaxUnpool2d(2)
        >>> unpool(*pool(ttorch.randn(1, 1, 4, 4))).shape
        ttorch.Size([1, 1, 4, 4])
        >>> x = ttorch.randn(1, 1, 5, 5)
        >>> unpool(*pool(x), output_size=x.size()).shape     # 4 x 4 without it
        ttorch.Size([1, 1, 5, 5])
    """
    _nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    r"""Partial inverse of :class:`MaxPool3d` over (N, C, D, H, W) or (C, D, H, W); see :class:`MaxUnpool1d`.

    Example::
        >>> import ttorch
        >>> pool, unpool = ttorch.nn.MaxPool3d(3, stride=2, return_indices=True), ttorch.nn.MaxUnpool3d(3, stride=2)
        >>> unpool(*pool(ttorch.randn(2, 3, 7, 7, 7))).shape
        ttorch.Size([2, 3, 7, 7, 7])
    """
    _nd = 3


class _FractionalMaxPoolNd(Module):
    __constants__ = ["kernel_size", "return_indices", "output_size", "output_ratio"]

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None):
        super().__init__()
        nd = self._nd
        if nd == 3 and min(_ntuple(kernel_size, nd)) <= 0:
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = _ntuple(kernel_size, nd)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _ntuple(output_size, nd) if output_size is not None else None
        self.output_ratio = _ntuple(output_ratio, nd) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"FractionalMaxPool{nd}d requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        pool = F.fractional_max_pool2d if self._nd == 2 else F.fractional_max_pool3d
        return pool(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                    _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    r"""2D fractional max pooling (Graham, 2014) over (N, C, H, W) or (C, H, W): max over ``kernel_size``
    windows at pseudo-random steps, to ``output_size`` (oH, oW) or ``output_ratio`` (in (0, 1)) times
    the input size. ``_random_samples`` (N, C, 2), registered as a buffer, fixes the windows.

    Example::
        >>> import ttorch
        >>> ttorch.nn.FractionalMaxPool2d(3, output_ratio=0.5)(ttorch.randn(2, 4, 10, 9)).shape
        ttorch.Size([2, 4, 5, 4])
    """
    _nd = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    r"""3D fractional max pooling over (N, C, T, H, W) or (C, T, H, W); see :class:`FractionalMaxPool2d`.

    Example::
        >>> import ttorch
        >>> y, i = ttorch.nn.FractionalMaxPool3d(2, (3, 4, 4), return_indices=True)(ttorch.randn(3, 6, 8, 8))
        >>> y.shape, i.shape
        (ttorch.Size([3, 3, 4, 4]), ttorch.Size([3, 3, 4, 4]))
    """
    _nd = 3
