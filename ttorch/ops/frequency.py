"""Counting values: ``mode`` (the most frequent value along a dim, composed of sort and scans, so it
runs on both devices and its values are differentiable, as PyTorch's) and ``histogram`` /
``histogramdd`` (NumPy's histograms, whose bin rules PyTorch's follow; not differentiable, as in
PyTorch). Differs from PyTorch: the histograms also take cuda tensors (counted on the host), where
PyTorch's have no cuda kernel.
"""
import builtins

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from ._op import write_outs

from ..return_types import mode as _Mode, histogram as _Histogram, histogramdd as _Histogramdd  # noqa: E402


def mode(input, dim=-1, keepdim=False, *, out=None):
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of equally frequent
    ones) and the index of its last occurrence, as PyTorch's cpu kernel gives them.

    Example::

        >>> import ttorch
        >>> ttorch.tensor([[1., 2., 2., 3., 3.], [5., 5., 1., 1., 0.]]).mode(1)
        ttorch.return_types.mode(
        values=tensor([2., 1.]),
        indices=tensor([2, 3]))
    """
    from .creation import arange, zeros
    from .movement import cat, flip
    from .scan import cummax, cummin
    from .sort import sort
    from .ternary import where
    if input.dim() == 0:
        r = _Mode(input.clone(), zeros((), dtype=D.int64, device=input.device))
    else:
        d = _wrap_dim(dim, input.dim())
        n = input.shape[d]
        s, order = sort(input.detach(), dim=d, stable=True)      # equal values keep their order
        s, order = s.movedim(d, -1), order.movedim(d, -1)
        pos = arange(n, device=input.device).expand(s.shape)
        edge = s[..., 1:] != s[..., :-1]                          # a new value starts after this position
        ones = edge.new_ones(tuple(s.shape[:-1]) + (1,))
        start = cummax(where(cat([ones, edge], -1), pos, 0), -1).values
        last = flip(cummin(flip(where(cat([edge, ones], -1), pos, n - 1), [-1]), -1).values, [-1])
        best = (last - start + 1).argmax(-1, keepdim=True)        # the first longest run: the smallest value
        index = order.gather(-1, last.gather(-1, best))          # its last occurrence in the input
        index = index.movedim(-1, d)
        values = input.gather(d, index)
        r = _Mode(values, index) if keepdim else _Mode(values.squeeze(d), index.squeeze(d))
    return write_outs(_Mode, r, out, "mode")


def _host(t):
    return None if t is None else t.detach().cpu().numpy()


def _check_hist(input, weight, fname):
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.{fname}: input tensor and bins tensors should have the same dtype, but got "
                           f"input {D.scalar_name(input.dtype)} and bins float")
    if weight is not None and tuple(weight.shape) != tuple(input.shape[:input.dim() - (fname == "histogramdd")]):
        raise RuntimeError(f"torch.{fname}: if weight tensor is provided it should have the same shape as the input "
                           "tensor excluding its innermost dimension")


def histogram(input, bins, *, range=None, weight=None, density=False, out=None):
    """``(hist, bin_edges)`` of the values of ``input``: ``bins`` equal bins over ``range`` (default: the
    values' min and max) or the edges given as a 1-D tensor; the last bin includes its right edge;
    ``weight`` per value; ``density`` normalizes to a probability density.

    Example::

        >>> import ttorch
        >>> ttorch.histogram(ttorch.tensor([1., 2, 1, 2.5, 4]), bins=4).hist.tolist()
        [2.0, 1.0, 1.0, 1.0]
    """
    _check_hist(input, weight, "histogram")
    edges_in = _host(bins) if isinstance(bins, Tensor) else int(bins)
    hist, edges = np.histogram(_host(input).ravel(), bins=edges_in, range=range,
                               weights=None if weight is None else _host(weight).ravel(), density=density)
    return write_outs(_Histogram, [Tensor._wrap_np(np.ascontiguousarray(a, dtype=input.dtype.np)).to(input.device)
                                   for a in (hist, edges)], out, "histogram")


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """``(hist, bin_edges)`` of the points in ``input`` (..., D): ``bins`` an int, D ints or D tensors of
    edges; ``range`` D (min, max) pairs flattened into 2D numbers.

    Example::

        >>> import ttorch
        >>> h = ttorch.histogramdd(ttorch.tensor([[0., 0.], [1., 1.], [1., 0.]]), bins=2)
        >>> h.hist.tolist(), len(h.bin_edges)
        ([[1.0, 0.0], [1.0, 1.0]], 2)
    """
    _check_hist(input, weight, "histogramdd")
    dims = input.shape[-1]
    if isinstance(bins, int):
        bins_in = [bins] * dims
    else:
        bins_in = [_host(b) if isinstance(b, Tensor) else int(b) for b in bins]
    rng = None if range is None else [(range[2 * i], range[2 * i + 1]) for i in builtins.range(dims)]
    pts = _host(input).reshape(-1, dims)
    hist, edges = np.histogramdd(pts, bins=bins_in, range=rng,
                                 weights=None if weight is None else _host(weight).ravel(), density=density)
    dev = input.device
    return _Histogramdd(Tensor._wrap_np(np.ascontiguousarray(hist, dtype=input.dtype.np)).to(dev),
                        [Tensor._wrap_np(np.ascontiguousarray(e, dtype=input.dtype.np)).to(dev) for e in edges])


METHODS = {"mode": mode, "histogram": histogram}
__all__ = ["mode", "histogram", "histogramdd"]
