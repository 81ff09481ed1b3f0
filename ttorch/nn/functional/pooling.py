"""Max, average and adaptive pooling in ttorch ops (both devices, differentiable).

Max pooling of floating inputs in 1-D and 2-D is one fused op (``ops/pool.py``: values and indices
in one kernel). Otherwise (integers, 3-D) windows come from conv.py's window map: padding and ceil_mode's overhang
read a sentinel element (-inf for max, 0 for average), so one ``index_select`` builds every window;
max pooling then reduces with ``max(dim)``, whose backward routes the gradient to the first
maximum only, as PyTorch does.
Power-average (LP) pooling is average pooling of ``x ** p`` scaled back by the window's size.
Adaptive windows have varying sizes: they are padded to the largest with the sentinel (max) or
written as averaging matrices (avg), which makes adaptive average pooling two matmuls.
"""
import functools
import math

import numpy as np

import ttorch
from .conv import _gather_windows, _map_tensor, _ntuple, _size_str, _window_map
from ...ops import _op as _amp_op
from ...ops.pool import max_pool2d_indices

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
           "lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _pool_out_len(size, k, p, s, d, ceil_mode):
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    # the last window must start inside the input or the left padding
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, avg=False):
    k = _ntuple(kernel_size, nd, "kernel_size")
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _ntuple(stride, nd, "stride")
    p, d = _ntuple(padding, nd, "padding"), _ntuple(dilation, nd, "dilation")
    if input.dim() not in (nd + 1, nd + 2) or any(sz == 0 for sz in input.shape[1:]):
        if nd == 1:
            raise RuntimeError(f"{name}() Expected 2D or 3D input tensor, but got {_size_str(input.shape)}")
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for input")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"{name}() kernel_size must be greater than zero, but got {list(k)}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{name}() stride must be greater than zero, but got {list(s)}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{name}() dilation must be greater than zero, but got {list(d)}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0:
            raise RuntimeError(f"{name}() padding must be non-negative, but got {list(p)}")
        if avg and pp > kk // 2:
            raise RuntimeError(f"pad should be at most half of kernel size, but got pad={pp} and kernel_size={kk}")
        if not avg and pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError("pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")
    spatial = tuple(input.shape[-nd:])
    out = tuple(_pool_out_len(sz, kk, pp, ss, dd, ceil_mode) for sz, kk, pp, ss, dd in zip(spatial, k, p, s, d))
    if any(v <= 0 for v in out):
        lead = input.shape[-nd - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (lead,) + spatial))}). Calculated output size: "
                           f"({'x'.join(map(str, (lead,) + out))}). Output size is too small")
    return k, s, p, d, spatial, out


def _as_nc(input, nd):
    """(N, C, *S) view of a batched or unbatched input, and a function restoring the leading shape."""
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    return x, (lambda y: y if batched else y.squeeze(0))


def _neg_fill(dtype):
    return float("-inf") if dtype.is_floating_point else ttorch.iinfo(dtype).min


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d, spatial, out = _pool_args(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode)
    x, restore = _as_nc(input, nd)
    n, c = x.shape[0], x.shape[1]
    if x.dtype.is_floating_point and nd < 3:   # the fused op (ops/pool.py); 1-D pooling as 2-D with H = 1
        one = (lambda t: t) if nd == 2 else (lambda t: (1,) + tuple(t))
        values, idx = max_pool2d_indices(x if nd == 2 else x.unsqueeze(2), one(k), one(s), (0,) * (2 - nd) + p,
                                         one(d), one(out))
        if nd == 1:
            values, idx = values.squeeze(2), idx.squeeze(2)
        return (restore(values), restore(idx)) if return_indices else restore(values)
    cols = _gather_windows(x, spatial, k, d, p, s, out, fill=_neg_fill(x.dtype))  # (N, C, kk, L)
    values, arg = cols.max(dim=2)
    values = restore(values.reshape(n, c, *out))
    if not return_indices:
        return values
    m = _map_tensor(_window_map(spatial, k, d, p, s, out), x.device)  # (kk, L) flat input index
    idx = m.expand(n, c, *m.shape).gather(2, arg.unsqueeze(2)).squeeze(2)
    return values, restore(idx.reshape(n, c, *out))


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1D max pooling over (N, C, L) or (C, L); padding reads -inf; indices are flat positions in L.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.max_pool1d(ttorch.tensor([[1., 3., 2., 5., 4.]]), 2).tolist()
        [[3.0, 5.0]]
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2D max pooling over (N, C, H, W) or (C, H, W); indices are flat positions in H * W.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.max_pool2d(ttorch.randn(1, 2, 5, 5), 2, ceil_mode=True).shape
        ttorch.Size([1, 2, 3, 3])
    """
    if getattr(input, "is_quantized", False) is True:     # its integers pooled (ao.nn.quantized.functional)
        from ...ao.nn.quantized import functional as qF
        return qF.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3D max pooling over (N, C, D, H, W) or (C, D, H, W); indices are flat positions in D * H * W.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.max_pool3d(ttorch.randn(1, 2, 4, 5, 5), 2).shape
        ttorch.Size([1, 2, 2, 2, 2])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: on PyTorch's cpu float32 list
        return _amp_op._autocast.call("max_pool3d", max_pool3d, input, kernel_size, stride, padding, dilation,
                                      ceil_mode, return_indices)
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@functools.lru_cache(maxsize=256)
def _avg_divisor(spatial, k, p, s, out, count_include_pad):
    """PyTorch's divisor per output: the window clipped to input + padding (or to the input alone)."""
    per_dim = []
    for sz, kk, pp, ss, oo in zip(spatial, k, p, s, out):
        start = np.arange(oo) * ss - pp
        end = np.minimum(start + kk, sz + pp)
        pool = end - start
        inside = np.minimum(end, sz) - np.maximum(start, 0)
        per_dim.append(pool if count_include_pad else inside)
    div = per_dim[0]
    for v in per_dim[1:]:
        div = np.multiply.outer(div, v)
    return div.astype(np.float64)


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, d, spatial, out = _pool_args(name, nd, input, kernel_size, stride, padding, 1, ceil_mode, avg=True)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    x, restore = _as_nc(input, nd)
    n, c = x.shape[0], x.shape[1]
    total = _gather_windows(x, spatial, k, d, p, s, out).sum(dim=2).reshape(n, c, *out)
    if divisor_override is not None:
        div = divisor_override
    else:
        div = ttorch.tensor(_avg_divisor(spatial, k, p, s, out, bool(count_include_pad)), dtype=x.dtype,
                            device=x.device)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):   # integers: C's truncating division, as PyTorch
        return restore(ttorch.div(total, div, rounding_mode="trunc"))
    return restore(total / div)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1D average pooling over (N, C, L) or (C, L).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.avg_pool1d(ttorch.tensor([[1., 3., 2., 5.]]), 2).tolist()
        [[2.0, 3.5]]
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("avg_pool1d", avg_pool1d, input, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad)
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2D average pooling over (N, C, H, W) or (C, H, W), with PyTorch's divisor rules.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.avg_pool2d(ttorch.ones(1, 1, 4, 4), 2).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("avg_pool2d", avg_pool2d, input, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override)
    if getattr(input, "is_quantized", False) is True:
        from ...ao.nn.quantized import functional as qF
        return qF.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3D average pooling over (N, C, D, H, W) or (C, D, H, W), with PyTorch's divisor rules.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.avg_pool3d(ttorch.ones(1, 1, 2, 4, 4), 2).shape
        ttorch.Size([1, 1, 1, 2, 2])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("avg_pool3d", avg_pool3d, input, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override)
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------- adaptive pooling

def _adaptive_bounds(in_size, out_size):
    i = np.arange(out_size)
    return (i * in_size) // out_size, -(-((i + 1) * in_size) // out_size)


@functools.lru_cache(maxsize=256)
def _adaptive_avg_matrix(in_size, out_size):
    start, end = _adaptive_bounds(in_size, out_size)
    a = np.zeros((out_size, in_size))
    for o in range(out_size):
        a[o, start[o]:end[o]] = 1.0 / (end[o] - start[o])
    return a


@functools.lru_cache(maxsize=256)
def _adaptive_max_map(in_size, out_size):
    """(max window, prod(out)) flat input index per window element, prod(in) where past the window."""
    per_dim = []
    for sz, oo in zip(in_size, out_size):
        start, end = _adaptive_bounds(sz, oo)
        kmax = int((end - start).max())
        pos = start[None, :] + np.arange(kmax)[:, None]  # (k, o)
        per_dim.append((pos, pos < end[None, :]))
    nd = len(in_size)
    flat = np.zeros((1,) * (2 * nd), dtype=np.int64)
    valid = np.ones((1,) * (2 * nd), dtype=bool)
    for d, (pos, ok) in enumerate(per_dim):
        shape = [1] * (2 * nd)
        shape[d], shape[nd + d] = pos.shape
        flat = flat * in_size[d] + pos.reshape(shape)
        valid = valid & ok.reshape(shape)
    flat = np.where(valid, flat, int(np.prod(in_size)))
    return np.ascontiguousarray(flat.reshape(-1, int(np.prod(out_size))))


def _adaptive_out(name, nd, input, output_size):
    if input.dim() not in (nd + 1, nd + 2) or any(sz == 0 for sz in input.shape[-nd:]):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {_size_str(input.shape)}")
    if isinstance(output_size, int):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise RuntimeError(f"{name}(): internal error: output_size.size() must be {nd}")
    spatial = tuple(input.shape[-nd:])
    out = tuple(sz if o is None else int(o) for sz, o in zip(spatial, output_size))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{name}(): elements of output_size must be greater than or equal to 0 "
                           f"but received {list(out)}")
    return spatial, out


def _adaptive_avg(name, nd, input, output_size):
    spatial, out = _adaptive_out(name, nd, input, output_size)
    y = input
    # separable: average along each spatial dim with an (out, in) matrix
    for j in range(nd):
        dim = input.dim() - nd + j
        a = ttorch.tensor(_adaptive_avg_matrix(spatial[j], out[j]), dtype=input.dtype, device=input.device)
        y = ttorch.matmul(y.movedim(dim, -1), a.t()).movedim(-1, dim)
    return y


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling over (N, C, L) or (C, L) to length ``output_size``.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.adaptive_avg_pool1d(ttorch.tensor([[1., 2., 3., 4., 5.]]), 2).tolist()
        [[2.0, 4.0]]
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling over (N, C, H, W) or (C, H, W); ``None`` in output_size keeps that size.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.adaptive_avg_pool2d(ttorch.randn(2, 3, 7, 5), (3, None)).shape
        ttorch.Size([2, 3, 3, 5])
    """
    if getattr(input, "is_quantized", False) is True:
        from ...ao.nn.quantized import functional as qF
        return qF.adaptive_avg_pool2d(input, output_size)
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling over (N, C, D, H, W) or (C, D, H, W); ``None`` in output_size keeps that size.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.adaptive_avg_pool3d(ttorch.randn(2, 3, 5, 7, 5), (1, 3, None)).shape
        ttorch.Size([2, 3, 1, 3, 5])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: on PyTorch's cpu float32 list
        return _amp_op._autocast.call("adaptive_avg_pool3d", adaptive_avg_pool3d, input, output_size)
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(name, nd, input, output_size, return_indices):
    spatial, out = _adaptive_out(name, nd, input, output_size)
    x, restore = _as_nc(input, nd)
    n, c = x.shape[0], x.shape[1]
    hw = int(np.prod(spatial))
    m = _adaptive_max_map(spatial, out)
    flat = ttorch.cat([x.reshape(n, c, hw), ttorch.full((n, c, 1), _neg_fill(x.dtype), dtype=x.dtype,
                                                         device=x.device)], dim=2)
    mt = _map_tensor(m, x.device)
    cols = flat.index_select(2, mt.reshape(-1)).reshape(n, c, *m.shape)
    values, arg = cols.max(dim=2)
    values = restore(values.reshape(n, c, *out))
    if not return_indices:
        return values
    idx = mt.expand(n, c, *m.shape).gather(2, arg.unsqueeze(2)).squeeze(2)
    return values, restore(idx.reshape(n, c, *out))


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling over (N, C, L) or (C, L).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.adaptive_max_pool1d(ttorch.tensor([[1., 5., 3., 4., 2.]]), 2).tolist()
        [[5.0, 4.0]]
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling over (N, C, H, W) or (C, H, W); indices are flat positions in H * W.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.adaptive_max_pool2d(ttorch.randn(1, 2, 5, 7), 3).shape
        ttorch.Size([1, 2, 3, 3])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, True)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling over (N, C, D, H, W) or (C, D, H, W); indices are flat positions in D * H * W.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.adaptive_max_pool3d(ttorch.randn(1, 2, 4, 5, 7), 2).shape
        ttorch.Size([1, 2, 2, 2, 2])
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


# ---------------------------------------------------------------- power-average pooling

def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    """PyTorch's composition: ``(avg_pool(x ** p) * prod(kernel_size)) ** (1 / p)``; ``p = +-inf`` is
    the max (min) of ``|x|``. With ceil_mode a window past the edge averages over its inside part."""
    max_pool = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
    if norm_type == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1](input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    # sign * relu(|out|) is out, but relu's gradient at 0 is 0: where the window's sum of x ** p is 0,
    # the infinite slope of t ** (1 / p) gives a zero gradient, not nan (PyTorch's documented rule)
    out = ttorch.sign(out) * ttorch.relu(out.abs())
    return out.mul(math.prod(_ntuple(kernel_size, nd, "kernel_size"))).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    r"""1D power-average pooling over (N, C, L) or (C, L): ``(sum over the window of x ** p) ** (1 / p)``.

    ``norm_type`` ``p = inf`` gives max pooling of ``|x|``, ``p = 1`` sum pooling. Where a window's sum of
    ``x ** p`` is zero the gradient is zero.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.lp_pool1d(ttorch.tensor([[3., 4., 1., -2.]]), 2, 2)
        tensor([[5.0000, 2.2361]])
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    r"""2D power-average pooling over (N, C, H, W) or (C, H, W); see :func:`lp_pool1d`.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.lp_pool2d(ttorch.arange(16.).reshape(1, 4, 4), 1, 2).tolist()
        [[[10.0, 18.0], [42.0, 50.0]]]
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    r"""3D power-average pooling over (N, C, D, H, W) or (C, D, H, W); see :func:`lp_pool1d`.

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.lp_pool3d(ttorch.ones(1, 1, 2, 4, 4), 2, 2).flatten()
        tensor([2.8284, 2.8284, 2.8284, 2.8284])
    """
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
