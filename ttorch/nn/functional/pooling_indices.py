"""Pooling by flat positions: max unpooling and fractional max pooling (both devices, differentiable).

Both work on (N, C, prod(spatial)) views and flat positions in the spatial dims, the indices that
``max_pool*d(return_indices=True)`` returns. ``max_unpool`` scatters the values to their positions
(backward: gather, as PyTorch's). Fractional max pooling builds each plane's window starts from its
random samples with PyTorch's ``generate_intervals``, in the input's dtype so the windows are PyTorch's
to the bit, gathers the windows and takes their max (backward: scatter-add to the maxima).
"""
import math

import numpy as np

import ttorch
from .conv import _ntuple, _size_str
from .loss import _SCALAR_NAME
from .pooling import _as_nc
from ...ops import _op as _amp_op

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]


# ---------------------------------------------------------------- max unpooling

def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """PyTorch's: the inverse of max pooling's size rule, or ``output_size`` within a stride of it."""
    nd = len(kernel_size)
    default = [(input.shape[-nd + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(nd)]
    if output_size is None:
        ret = default
    else:
        if len(output_size) == nd + 2:
            output_size = output_size[2:]
        if len(output_size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a "
                             f"length of '{len(output_size)}'")
        for d in range(nd):
            lo, hi = default[d] - stride[d], default[d] + stride[d]
            if not lo < output_size[d] < hi:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})')
        ret = output_size
    for d in range(nd):
        if ret[d] < 0:
            raise ValueError("max_unpooling: output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{d}]={ret[d]}")
    return [int(v) for v in ret]


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    k = _ntuple(kernel_size, nd, "kernel_size")
    s = k if stride is None else _ntuple(stride, nd, "stride")
    out = _unpool_output_size(input, k, s, _ntuple(padding, nd, "padding"), output_size)
    if nd == 1:  # PyTorch unpools 1-D as 2-D with W = 1, and its errors say so
        input, indices, out, s = input.unsqueeze(-1), indices.unsqueeze(-1), out + [1], s + (1,)
    cd = max(nd, 2)
    if indices.dtype != ttorch.int64:
        raise RuntimeError("elements in indices should be type int64" +
                           (f" but got: {_SCALAR_NAME.get(indices.dtype, indices.dtype)}" if cd == 2 else ""))
    if input.dim() not in (cd + 1, cd + 2):
        raise RuntimeError(f"Input to max_unpooling{cd}d should be a {cd + 1}d or {cd + 2}d Tensor, but got a tensor "
                           f"with {input.dim()} dimensions.")
    if input.shape != indices.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({_size_str(input.shape)}) but got indices tensor with shape: {_size_str(indices.shape)}")
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"max_unpooling{cd}d_forward_out_cpu(): Expected input to have non-zero size for "
                               f"non-batch dimensions, but got {_size_str(input.shape)} with dimension {i} being "
                               "empty.")
    if cd == 3 and min(s) <= 0:
        raise RuntimeError(f"strides should be greater than zero, but got stride: {list(s)}")
    size = math.prod(out)
    if indices.device.type == "cpu":  # cuda: scatter's device check raises at the next sync (PyTorch's assert)
        flat = indices.numpy().reshape(-1)
        bad = np.flatnonzero((flat < 0) | (flat >= size))
        if bad.size:  # PyTorch's serial loop reports the last one
            raise RuntimeError(f"Found an invalid max index: {flat[bad[-1]]} (output volumes are of size "
                               f"{'x'.join(map(str, out))})")
    x, restore = _as_nc(input, cd)
    n, c = x.shape[0], x.shape[1]
    m = math.prod(x.shape[2:])  # (not -1: a batch may be empty)
    y = x.new_zeros(n, c, size).scatter(2, indices.reshape(n, c, m), x.reshape(n, c, m))
    y = restore(y.reshape(n, c, *out))
    return y.squeeze(-1) if nd == 1 else y


def _unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    if _amp_op._autocast is not None:  # ttorch.amp: max_unpool2d/3d are on PyTorch's cpu float32 list
        return _amp_op._autocast.call(f"max_unpool{max(nd, 2)}d", _max_unpool, nd, input, indices, kernel_size,
                                      stride, padding, output_size)
    return _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    r"""Partial inverse of :func:`max_pool1d`: ``input``'s values at the flat positions ``indices`` (from
    ``max_pool1d(..., return_indices=True)``), zeros elsewhere.

    Shape: (N, C, L_in) or (C, L_in) -> (N, C, L_out) or (C, L_out), with
    ``L_out = (L_in - 1) * stride - 2 * padding + kernel_size`` unless ``output_size`` says otherwise.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> y, i = F.max_pool1d(ttorch.tensor([[1., 3., 2., 5., 4.]]), 2, return_indices=True)
        >>> F.max_unpool1d(y, i, 2, output_size=[5]).tolist()
        [[0.0, 3.0, 0.0, 5.0, 0.0]]
    """
    return _unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    r"""Partial inverse of :func:`max_pool2d` over (N, C, H, W) or (C, H, W); see :func:`max_unpool1d`.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> y, i = F.max_pool2d(ttorch.arange(16.).reshape(1, 1, 4, 4), 2, return_indices=True)
        >>> F.max_unpool2d(y, i, 2)[0, 0].tolist()
        [[0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0], [0.0, 13.0, 0.0, 15.0]]
    """
    return _unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    r"""Partial inverse of :func:`max_pool3d` over (N, C, D, H, W) or (C, D, H, W); see :func:`max_unpool1d`.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> y, i = F.max_pool3d(ttorch.randn(2, 3, 4, 5, 5), 2, return_indices=True)
        >>> F.max_unpool3d(y, i, 2, output_size=(4, 5, 5)).shape
        ttorch.Size([2, 3, 4, 5, 5])
    """
    return _unpool(3, input, indices, kernel_size, stride, padding, output_size)


# ---------------------------------------------------------------- fractional max pooling

def _intervals(u, in_size, out_size, k):
    """PyTorch's ``generate_intervals``: (N, C, out_size) window starts from the samples ``u`` (N, C),
    ``int((i + u) * alpha) - int(u * alpha)`` with ``alpha = (in - k) / (out - 1)`` in u's dtype; the
    last window ends at the input's end."""
    last = ttorch.full((*u.shape, min(out_size, 1)), in_size - k, dtype=ttorch.int64, device=u.device)
    if out_size <= 1:
        return last
    t = u.dtype.np.type
    alpha = float(t(in_size - k) / t(out_size - 1))
    i = ttorch.arange(out_size - 1, dtype=u.dtype, device=u.device)
    u = u.unsqueeze(-1)
    starts = ((i + u) * alpha).to(ttorch.int64) - (u * alpha).to(ttorch.int64)
    return ttorch.cat([starts, last], dim=-1)


def _fractional_checks(nd, input, k, out, samples):
    """PyTorch's checks, in its order and words."""
    name = "fractional_max_pool2d()" if nd == 2 else "fractional_max_pool3d_out()"
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D tensor, but got: {_size_str(input.shape)}")
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(f"{name}: Expected input to have non-zero size for non-batch dimensions, but got"
                               f"{_size_str(input.shape)} with dimension {i} being empty.")
    words = ("height", "width") if nd == 2 else ("time", "height", "width")
    for w, kk, oo, ii in zip(words, k, out, input.shape[-nd:]):
        if oo + kk - 1 > ii:
            raise RuntimeError(f"{name}: pool {w} {kk} too large relative to input {w} {ii}")
    if any(kk <= 0 for kk in k):  # PyTorch reads empty windows (-inf, positions past the input)
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got {list(k)}")
    if samples.dtype != input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.dim() != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.dim()}")
    if samples.shape[0] < (input.shape[0] if input.dim() == nd + 2 else 1):
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != input.shape[-nd - 1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != nd:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nd}; got {samples.shape[2]}.")


def _fractional_max_pool(nd, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    fname = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fname} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if nd == 2 and isinstance(output_ratio, (list, tuple)) and len(output_ratio) > 2:
            raise ValueError(f"{fname} requires output_ratio to either be a single Int or tuple of Ints.")
        ratio = output_ratio if isinstance(output_ratio, (list, tuple)) else (output_ratio,) * nd
        output_size = [int(input.size(d - nd) * ratio[d]) for d in range(nd)]
    if _random_samples is None:
        n_batch = 1 if input.dim() == nd + 1 else input.size(0)
        _random_samples = ttorch.rand(n_batch, input.size(-nd - 1), nd, dtype=input.dtype, device=input.device)
    tail = "Ints" if nd == 2 else "three Ints"
    k, out = (v if isinstance(v, (list, tuple)) else (v,) * nd for v in (kernel_size, output_size))
    if len(k) != nd:
        raise RuntimeError(f"{fname}: kernel_size must either be a single Int or tuple of {tail}")
    if len(out) != nd:
        raise RuntimeError(f"{fname}: output_size must either be a single Int or tuple of {tail}")
    k, out = tuple(int(v) for v in k), tuple(int(v) for v in out)
    _fractional_checks(nd, input, k, out, _random_samples)
    x, restore = _as_nc(input, nd)
    n, c, spatial = x.shape[0], x.shape[1], tuple(x.shape[2:])
    u = _random_samples[:n]
    # flat input position of each window element, (N, C, k_0, ..., k_nd-1, o_0, ..., o_nd-1)
    pos = None
    for d in range(nd):
        # PyTorch's 2-D kernel reads the width's sample first; the 3-D one goes (T, H, W)
        starts = _intervals(u[..., (1 - d) if nd == 2 else d], spatial[d], out[d], k[d])     # (N, C, o_d)
        p = starts.unsqueeze(2) + ttorch.arange(k[d], device=x.device).unsqueeze(-1)           # (N, C, k_d, o_d)
        shape = [n, c] + [1] * (2 * nd)
        shape[2 + d], shape[2 + nd + d] = k[d], out[d]
        p = p.reshape(shape)
        pos = p if pos is None else pos * spatial[d] + p
    kk, oo = math.prod(k), math.prod(out)
    pos = pos.reshape(n, c, kk, oo)
    cols = x.reshape(n, c, math.prod(spatial)).gather(2, pos.reshape(n, c, kk * oo)).reshape(n, c, kk, oo)
    values, arg = cols.max(dim=2)        # the first maximum in row-major window order, as PyTorch's loop
    values = restore(values.reshape(n, c, *out))
    if not return_indices:
        return values
    idx = pos.gather(2, arg.unsqueeze(2)).squeeze(2)
    return values, restore(idx.reshape(n, c, *out))


def _fractional(nd, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    if _amp_op._autocast is not None:  # ttorch.amp: on PyTorch's cpu float32 list
        return _amp_op._autocast.call(f"fractional_max_pool{nd}d", _fractional_max_pool, nd, input, kernel_size,
                                      output_size, output_ratio, return_indices, _random_samples)
    return _fractional_max_pool(nd, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    r"""2D fractional max pooling (Graham, 2014) over (N, C, H, W) or (C, H, W): max over ``kernel_size``
    windows whose starts step pseudo-randomly so that ``output_size`` (or ``output_ratio`` times the input
    size) windows cover the input.

    Args:
        kernel_size: window size, an int or (kH, kW).
        output_size: (oH, oW) or an int; needs ``oH + kH - 1 <= H`` and ``oW + kW - 1 <= W``.
        output_ratio: the output size as a fraction of the input size, when ``output_size`` is not given.
        return_indices: also return the maxima's flat positions in H * W (for :func:`max_unpool2d`).
        _random_samples: (N, C, 2) samples in [0, 1) (the W one first, as PyTorch's) that place the
            windows; drawn with ``ttorch.rand`` when not given.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> x = ttorch.arange(25.).reshape(1, 1, 5, 5)
        >>> F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=ttorch.full((1, 1, 2), 0.5))
        tensor([[[[ 6.,  8.,  9.],
                  [16., 18., 19.],
                  [21., 23., 24.]]]])
    """
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    return _fractional(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    r"""3D fractional max pooling over (N, C, T, H, W) or (C, T, H, W); ``_random_samples`` is (N, C, 3),
    one sample per (T, H, W). See :func:`fractional_max_pool2d`.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.fractional_max_pool3d(ttorch.randn(2, 3, 5, 6, 7), 2, output_ratio=0.5).shape
        ttorch.Size([2, 3, 2, 3, 3])
    """
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    return _fractional(3, input, kernel_size, output_size, output_ratio, True, _random_samples)
