"""Moving data: between devices, between dtypes, into contiguous memory (``clone``); joining
(``cat``, ``stack``), reordering (``flip``, ``roll``) and repeating (``repeat``, ``tile``) copies.

On cuda these are the shared copy kernel (``copy_into``) run over views of the input and
output: no kernel of their own."""
import builtins
import itertools

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim, _contig_strides
from ..cuda import _driver, _checks
from ._op import Op, write_out
from . import elementwise as _ew
from .elementwise import copy_into
from .samples import Sample, rng


def _copy_specs():
    from .elementwise import ew_specs, _identity, _transpose_specs
    return ew_specs(_identity, 1, (D.float32, D.float16, D.bfloat16, D.int64, D.bool)) + _transpose_specs()


def _upload(a, device, out=None):
    """A new cuda tensor holding the NumPy array ``a``; or, given ``out`` (a contiguous cuda tensor
    at offset 0 with room for ``a``), ``a``'s bytes written into it, with no new storage."""
    a = np.asarray(a, order="C")
    if out is None:
        out = Tensor._empty(a.shape, D.from_numpy_dtype(a.dtype), device)
    st = out.untyped_storage()
    if st._array is not None:
        st._array[:a.nbytes] = a.reshape(-1).view(np.uint8)
    else:
        # (out's own index: ``device`` may be a bare "cuda", index None, as the caller was given it)
        _driver.backend().htod(st._ptr, a.__array_interface__["data"][0], a.nbytes, out.device.index)
    return out


def _to_device_np(t):
    """A host NumPy copy of cuda tensor ``t`` (a sync point: faults found by kernels raise here)."""
    if _driver.SYNC_DEBUG[0]:       # torch.cuda.set_sync_debug_mode("warn" / "error")
        _driver.sync_point()
    if _checks._armed[0]:
        _checks.flush()
    if not t.is_contiguous():
        t = contiguous(t.detach())
    out = np.empty(t._shape, t.dtype.np)
    st = t.untyped_storage()
    nbytes = out.nbytes
    if st._array is not None:
        start = t._offset * t.dtype.itemsize
        out.reshape(-1).view(np.uint8)[:] = st._array[start:start + nbytes]
    else:
        _driver.backend().dtoh(out.__array_interface__["data"][0], t.data_ptr(), nbytes, t.device.index)
    return out


def _to_device_impl(x, *, device, src):
    if device.type == "cpu":
        return Tensor._wrap_np(_to_device_np(x), x.dtype)
    if x.device.type == "cpu":
        return _upload(x._np, device)
    return _upload(_to_device_np(x), device)  # cuda:i -> cuda:j through the host


_to_device = Op("to_device", impl=_to_device_impl, grad_name="ToCopyBackward0", save=(),
                backward=lambda ctx, g: to_device(g, ctx.src),
                samples=lambda: [], family="movement")


def to_device(x, device):
    return _to_device(x, device=device, src=x.device)


def _cast_cpu(a, *, dtype, src):
    if dtype in D.float8_dtypes or src in D.float8_dtypes:     # float8's rounding rules
        from .float8 import np_cast
        return np_cast(a, dtype)
    return (a.real if src.is_complex and not dtype.is_complex else a).astype(dtype.np)


def _cast_cuda(x, *, dtype, src):
    out = Tensor._empty(x._shape, dtype, x.device)
    return copy_into(out, x)


def _cast_bw(ctx, g):
    if ctx.src.is_complex or ctx.src.is_floating_point:
        return (g.real if g.dtype.is_complex and not ctx.src.is_complex else g).to(ctx.src)
    return None


_to_dtype = Op("to_dtype", cpu=_cast_cpu, cuda=_cast_cuda, backward=_cast_bw, save=(), grad_name="ToCopyBackward0",
               kernels=lambda: _copy_specs(), family="movement")


def to_dtype(x, dtype):
    if dtype._limited and dtype in D.uint_dtypes and (x.dtype.is_floating_point and x.dtype.itemsize > 1):
        # PyTorch's float -> unsigned: through int32 (uint16) or int64, wrapping
        x = _to_dtype(x, dtype=D.int32 if dtype is D.uint16 else D.int64, src=x.dtype)
    if x.dtype.is_complex and not dtype.is_complex:
        from .complex import warn_discard
        warn_discard()
    return _to_dtype(x, dtype=dtype, src=x.dtype)


def _clone_cpu(a):
    return a.copy()


def _clone_cuda(x):
    return copy_into(Tensor._empty(x._shape, x.dtype, x.device), x)


def _copy_plan_state():
    """What ops made of copies (``copy_into``) read besides their arguments (``Op(plan_state=...)``):
    the transposing copy's thresholds."""
    return _ew._T_MIN, _ew._T_BLOCK


_clone = Op("clone", cpu=_clone_cpu, cuda=_clone_cuda, backward=lambda ctx, g: g, save=(),
            kernels=lambda: _copy_specs(), family="movement", plan_state=_copy_plan_state)


def clone(input, *, memory_format=None):
    """A copy of ``input`` in new memory; gradients flow back to ``input``. ``memory_format`` (default
    ``preserve_format``: a channels-last input stays so) lays the copy out (``ttorch/_memory_format.py``)."""
    if memory_format is not None and memory_format.name != "preserve_format":
        from .. import _memory_format as M
        M.check_rank(input, memory_format)
        return M.copy_as(input, memory_format)
    if input.ndim in (4, 5) and input._stride is not None:     # (a row-major input: no strides to keep)
        from .. import _memory_format as M
        return M.copy_as(input, M.suggest(input))
    return _clone(input)


def contiguous(input, memory_format=None):
    """``input`` itself when contiguous (in ``memory_format``'s layout: ``ttorch/_memory_format.py``), else a
    contiguous copy."""
    if memory_format is not None and memory_format.name.startswith("channels_last"):
        from .._memory_format import to_format
        return to_format(input, memory_format)
    if input.is_contiguous():
        return input
    return _clone(input)


# --------------------------------------------------------------------------- joining: cat, stack
def _raw_narrow(t, d, start, length):
    """``t`` narrowed along ``d`` as a plain view (no autograd): a kernel's source or destination."""
    st = t.stride()
    return t._view(t._shape[:d] + (length,) + t._shape[d + 1:], st, t._offset + start * st[d])


def _raw_select(t, d, i):
    st = t.stride()
    return t._view(t._shape[:d] + t._shape[d + 1:], st[:d] + st[d + 1:], t._offset + i * st[d])


def _skipped(shape):
    # PyTorch's legacy rule: cat ignores 1-D empty tensors, whatever the other shapes
    return len(shape) == 1 and shape[0] == 0


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    tensors = list(tensors)
    for t in tensors[1:]:
        if t.device != tensors[0].device:
            raise RuntimeError(f"{name}(): Expected all tensors to be on the same device, but found at least two "
                               f"devices, {tensors[0].device} and {t.device}!")
    return tensors


def _promote_all(tensors):
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = D.promote_types(dt, t.dtype)
    return dt


def _cat_cpu(*arrays, dim, dtype, shapes):
    keep = [a.astype(dtype.np, copy=False) for a in arrays if not _skipped(a.shape)]
    return np.concatenate(keep, axis=dim) if keep else np.empty((0,), dtype.np)


def _cat_cuda(*tensors, dim, dtype, shapes):
    keep = [t for t in tensors if not _skipped(t._shape)]
    if not keep:
        return Tensor._empty((0,), dtype, tensors[0].device)
    shape = list(keep[0]._shape)
    shape[dim] = builtins.sum(t._shape[dim] for t in keep)
    out = Tensor._empty(tuple(shape), dtype, keep[0].device)
    pos = 0
    for t in keep:   # one strided copy (and cast) per input into its slice of the output
        n = t._shape[dim]
        if n:
            copy_into(_raw_narrow(out, dim, pos, n), t)
        pos += n
    return out


def _cat_bw(ctx, g):
    from .creation import zeros
    grads, pos = [], 0
    for shape, need in zip(ctx.shapes, ctx.needs):
        if _skipped(shape):
            grads.append(zeros((0,), dtype=g.dtype, device=g.device) if need else None)
            continue
        n = shape[ctx.dim]
        grads.append(g.narrow(ctx.dim, pos, n) if need else None)
        pos += n
    return tuple(grads)


def _cat_samples():
    r = rng("cat")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(7)], {}), Sample([u(2, 3), u(4, 3)], {}), Sample([u(2, 3), u(2, 5), u(2, 1)], {"dim": 1}),
            Sample([u(2, 3, 4), u(2, 3, 2)], {"dim": -1}), Sample([u(0), u(3, 2), u(0, 2), u(1, 2)], {}),
            Sample([u(3), u(0), u(5)], {}), Sample([u(2, 0, 3), u(2, 2, 3)], {"dim": 1})]


_cat = Op("cat", cpu=_cat_cpu, cuda=_cat_cuda, backward=_cat_bw, save=(), samples=_cat_samples,
          kernels=lambda: _copy_specs(), family="movement",
          public=lambda *tensors, **kw: cat(tensors, **kw))


def cat(tensors, dim=0, *, out=None):
    """Concatenate ``tensors`` along ``dim``; their dtypes promote, as in PyTorch.

    1-D empty tensors are skipped (PyTorch's legacy rule); the others must match in every
    dim but ``dim``.

    Example::

        >>> ttorch.cat([ttorch.zeros(1, 2), ttorch.ones(2, 2)]).shape
        ttorch.Size([3, 2])
    """
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    keep = [(i, t) for i, t in enumerate(tensors) if not _skipped(t._shape)]
    d = dim
    if keep:
        first = keep[0][1]
        d = _wrap_dim(dim, first.ndim)
        for i, t in keep[1:]:
            if t.ndim != first.ndim:
                raise RuntimeError(f"cat(): Tensors must have same number of dimensions: got {first.ndim} and "
                                   f"{t.ndim} (shapes {list(first.shape)} and {list(t.shape)})")
            for k in range(t.ndim):
                if k != d and t._shape[k] != first._shape[k]:
                    raise RuntimeError(f"cat(): Sizes of tensors must match except in dimension {d}. Expected size "
                                       f"{first._shape[k]} but got size {t._shape[k]} for tensor number {i} in the "
                                       f"list (shapes {list(first.shape)} and {list(t.shape)})")
    r = _cat(*tensors, dim=d, dtype=_promote_all(tensors), shapes=tuple(t._shape for t in tensors))
    return r if out is None else write_out(out, r, "cat")


concat = concatenate = cat


def _stack_cpu(*arrays, dim, dtype):
    return np.stack([a.astype(dtype.np, copy=False) for a in arrays], axis=dim)


def _stack_cuda(*tensors, dim, dtype):
    t0 = tensors[0]
    out = Tensor._empty(t0._shape[:dim] + (len(tensors),) + t0._shape[dim:], dtype, t0.device)
    for i, t in enumerate(tensors):
        copy_into(_raw_select(out, dim, i), t)
    return out


def _stack_bw(ctx, g):
    return tuple(g.select(ctx.dim, i) if need else None for i, need in enumerate(ctx.needs))


def _stack_samples():
    r = rng("stack")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(), u()], {}), Sample([u(5), u(5), u(5)], {"dim": 1}), Sample([u(2, 3), u(2, 3)], {"dim": 1}),
            Sample([u(2, 3), u(2, 3)], {"dim": -1}), Sample([u(0, 3)], {})]


_stack = Op("stack", cpu=_stack_cpu, cuda=_stack_cuda, backward=_stack_bw, save=(), samples=_stack_samples,
            kernels=lambda: _copy_specs(), family="movement",
            public=lambda *tensors, **kw: stack(tensors, **kw))


def stack(tensors, dim=0, *, out=None):
    """Join equally shaped ``tensors`` along a new dim ``dim``.

    Example::

        >>> ttorch.stack([ttorch.zeros(3), ttorch.ones(3)], dim=1).shape
        ttorch.Size([3, 2])
    """
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors[1:], 1):
        if t._shape != tensors[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    d = _wrap_dim(dim, tensors[0].ndim + 1)
    r = _stack(*tensors, dim=d, dtype=_promote_all(tensors))
    return r if out is None else write_out(out, r, "stack")


def _atleast(t, n):
    if t.ndim >= n:
        return t
    if n == 3 and t.ndim == 1:
        return t.reshape(1, t._shape[0], 1)
    if n == 3 and t.ndim == 2:
        return t.reshape(t._shape + (1,))
    return t.reshape((1,) * (n - t.ndim) + t._shape)


def hstack(tensors, *, out=None):
    """Concatenate column-wise: along dim 0 for 1-D tensors, dim 1 otherwise."""
    ts = [_atleast(t, 1) for t in _tensor_list(tensors, "hstack")]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    """Concatenate row-wise (dim 0), 1-D tensors taken as rows."""
    return cat([_atleast(t, 2) for t in _tensor_list(tensors, "vstack")], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    """Concatenate depth-wise (dim 2), lower-dimensional tensors raised to 3-D first."""
    return cat([_atleast(t, 3) for t in _tensor_list(tensors, "dstack")], 2, out=out)


# --------------------------------------------------------------------------- flip, roll
def _dim_list(dims, ndim, name):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = tuple(_wrap_dim(d, ndim) for d in dims)
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f"{name}(): dim {d} appears multiple times in the list of dims")
    return out


def _flip_cpu(a, *, dims):
    return np.flip(a, dims).copy() if dims else a.copy()


def _flip_cuda(x, *, dims):
    # a reversed view (negative strides, never shown to users) copied by the copy kernel
    st, off = list(x.stride()), x._offset
    for d in dims:
        if x._shape[d] > 1:
            off += (x._shape[d] - 1) * st[d]
            st[d] = -st[d]
    out = Tensor._empty(x._shape, x.dtype, x.device)
    return copy_into(out, x._view(x._shape, tuple(st), off)) if x.numel() else out


def _flip_samples():
    r = rng("flip")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(7), 0]), Sample([u(3, 5), (0, 1)]), Sample([u(2, 3, 4), (-1, 0)]), Sample([u(2, 3, 4), (1,)]),
            Sample([u(), ()]), Sample([u(0, 3), (0,)])]


_flip = Op("flip", cpu=_flip_cpu, cuda=_flip_cuda, backward=lambda ctx, g: flip(g, ctx.dims), save=(),
           samples=_flip_samples, kernels=lambda: _copy_specs(), family="movement")


def flip(input, *args, dims=None):
    """A copy of ``input`` with the order of elements reversed along ``dims`` (a copy, not a view,
    as in PyTorch).

    Example::

        >>> ttorch.flip(ttorch.arange(4).reshape(2, 2), [0, 1]).tolist()
        [[3, 2], [1, 0]]
    """
    if dims is None:   # flip(x, (0, 1)), flip(x, dims=(0, 1)), x.flip(0, 1)
        dims = args[0] if len(args) == 1 else args
    return _flip(input, dims=_dim_list(dims, input.ndim, "flip"))


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError(f"fliplr(): Input must be >= 2-d, got shape {list(input.shape)}.")
    return flip(input, (1,))


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError(f"flipud(): Input must be >= 1-d, got shape {list(input.shape)}.")
    return flip(input, (0,))


def _roll_cpu(a, *, shifts, dims):
    return np.roll(a, shifts, axis=dims)


def _roll_cuda(x, *, shifts, dims):
    out = Tensor._empty(x._shape, x.dtype, x.device)
    if x.numel() == 0:
        return out
    # per rolled dim, the input splits in two blocks that trade places: 2**len(dims) block copies
    parts = []
    for s, d in zip(shifts, dims):
        n = x._shape[d]
        s %= n
        parts.append([(d, 0, s, n - s), (d, n - s, 0, s)] if s else [(d, 0, 0, n)])
    for combo in itertools.product(*parts):
        if any(length == 0 for _, _, _, length in combo):
            continue
        src, dst = x, out
        for d, a, b, length in combo:
            src, dst = _raw_narrow(src, d, a, length), _raw_narrow(dst, d, b, length)
        copy_into(dst, src)
    return out


def _roll_samples():
    r = rng("roll")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(7), 2]), Sample([u(7), -9]), Sample([u(3, 5), 4]), Sample([u(3, 5), (1, -2), (0, 1)]),
            Sample([u(2, 3, 4), (1, 5), (2, 0)]), Sample([u(2, 3, 4), (1, 1), (1, 1)]), Sample([u(), 3]),
            Sample([u(0, 3), 1, 1])]


_roll = Op("roll", cpu=_roll_cpu, cuda=_roll_cuda, save=(), samples=_roll_samples, kernels=lambda: _copy_specs(),
           backward=lambda ctx, g: _roll(g, shifts=tuple(-s for s in ctx.shifts), dims=ctx.dims), family="movement")


def roll(input, shifts, dims=None):
    """Rotate ``input`` by ``shifts`` along ``dims``; with no ``dims``, roll the flattened tensor.

    Example::

        >>> ttorch.roll(ttorch.arange(5), 2).tolist()
        [3, 4, 0, 1, 2]
    """
    shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(s) for s in shifts)
    if dims is None or (not isinstance(dims, int) and len(dims) == 0):
        if len(shifts) != 1:
            raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return _roll(input.flatten(), shifts=shifts, dims=(0,)).view(input._shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    merged = {}  # the same dim named twice rolls twice
    for s, d in zip(shifts, dims):
        d = _wrap_dim(d, input.ndim)
        merged[d] = merged.get(d, 0) + s
    if input.ndim == 0:
        return _roll(input.reshape(1), shifts=(0,), dims=(0,)).reshape(())
    return _roll(input, shifts=tuple(merged.values()), dims=tuple(merged))


# --------------------------------------------------------------------------- repeat, tile
def _repeat_cpu(a, *, sizes, in_shape):
    return np.tile(a, sizes)


def _interleaved(sizes, shape):
    """(r0, s0, r1, s1, ...): the output viewed so that each repeat count has its own dim."""
    return tuple(v for r, s in zip(sizes, shape) for v in (r, s))


def _repeat_cuda(x, *, sizes, in_shape):
    lead = len(sizes) - x.ndim
    shape, st = (1,) * lead + x._shape, (0,) * lead + x.stride()
    out = Tensor._empty(tuple(r * s for r, s in zip(sizes, shape)), x.dtype, x.device)
    if out.numel():
        inter = _interleaved(sizes, shape)
        src = x._view(inter, tuple(v for s in st for v in (0, s)), x._offset)   # repeats broadcast, stride 0
        copy_into(out._view(inter, _contig_strides(inter), 0), src)
    return out


def _repeat_bw(ctx, g):
    lead = len(ctx.sizes) - len(ctx.in_shape)
    shape = (1,) * lead + tuple(ctx.in_shape)
    g = g.reshape(_interleaved(ctx.sizes, shape)).sum(dim=tuple(range(0, 2 * len(shape), 2)))
    return g.reshape(ctx.in_shape)


def _repeat_samples():
    r = rng("repeat")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(), (3,)]), Sample([u(4), (2,)]), Sample([u(4), (2, 3)]), Sample([u(2, 3), (2, 1)]),
            Sample([u(2, 3), (1, 2, 3)]), Sample([u(2, 1, 3), (2, 2, 2, 2)]), Sample([u(2, 3), (0, 2)])]


_repeat = Op("repeat", cpu=_repeat_cpu, cuda=_repeat_cuda, backward=_repeat_bw, save=(), samples=_repeat_samples,
             kernels=lambda: _copy_specs(), family="movement",
             public=lambda input, sizes: repeat(input, *sizes))


def repeat(input, *sizes):
    """``input`` repeated ``sizes[i]`` times along each dim (leading new dims allowed), a copy.

    Example::

        >>> ttorch.tensor([1, 2]).repeat(2, 2).tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    sizes = _ints(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat(): Number of dimensions of repeat dims can not be smaller than number of "
                           f"dimensions of tensor (repeat dims {list(sizes)}, tensor shape {list(input.shape)})")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat(): Trying to create tensor with negative dimension: repeats {list(sizes)}")
    return _repeat(input, sizes=sizes, in_shape=input._shape)


def tile(input, dims):
    """``input`` repeated ``dims[i]`` times along each dim; missing leading ``dims`` count as 1."""
    dims = _ints((dims,))
    return repeat(input, *((1,) * (input.ndim - len(dims)) + dims))


def _ints(sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list, Tensor)):
        sizes = sizes[0]
        if isinstance(sizes, Tensor):
            sizes = sizes.tolist()
    return tuple(int(s) for s in sizes)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (an int, or a tensor of counts per element along ``dim``);
    with no ``dim`` the flattened input. ``repeat_interleave(counts)`` repeats the indices.

    A tensor of counts is read back to the host to size the output, as in PyTorch.

    Example::

        >>> ttorch.tensor([1, 2]).repeat_interleave(2).tolist()
        [1, 1, 2, 2]
    """
    if repeats is None:  # repeat_interleave(counts): indices 0..n-1 repeated counts[i] times
        counts = input
        if counts.ndim != 1 or counts.dtype.is_floating_point:
            raise RuntimeError("repeat_interleave(): repeats must be 1-d and of an integer type")
        reps = counts._host()
        if (reps < 0).any():
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        from .creation import tensor
        return tensor(np.repeat(np.arange(len(reps)), reps), device=counts.device)
    if dim is None:
        input, d = input.flatten(), 0
    else:
        d = _wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        input = input.reshape(1)
    n = input._shape[d]
    if isinstance(repeats, Tensor) and repeats.dtype.is_floating_point:
        raise RuntimeError(f"repeat_interleave(): repeats has to be an integer tensor, got {repeats.dtype}")
    if isinstance(repeats, Tensor) and repeats.numel() != 1:  # counts per element along d
        if repeats.ndim != 1 or repeats._shape[0] != n:
            raise RuntimeError(f"repeat_interleave(): repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {repeats.numel()} and input.size({d}) = {n}")
        reps = repeats._host()
        if (reps < 0).any():
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        from .creation import tensor
        from .gather import index_select
        return index_select(input, d, tensor(np.repeat(np.arange(n), reps), device=input.device))
    r = int(repeats.item()) if isinstance(repeats, Tensor) else int(repeats)
    if r < 0:
        raise RuntimeError("repeat_interleave(): repeats can not be negative")
    shape = input._shape
    x = input.unsqueeze(d + 1).expand(shape[:d + 1] + (r,) + shape[d + 1:])
    return x.reshape(shape[:d] + (n * r,) + shape[d + 1:])


for _op, _fn in ((_flip, flip), (_roll, roll)):
    _op.public = _fn
for _op in (_cat, _stack, _flip, _roll, _repeat):
    _op.dtypes = (D.float32, D.bfloat16, D.float64, D.int64, D.bool)
    # copies into views of one output, decided by the inputs' metadata and arguments: planned (_plan.py),
    # the copy rules' thresholds their state (cat of two (256, 1024) float32 along dim 1 made two
    # unplanned strided copies a call)
    _op.plan_state = _copy_plan_state

__all__ = ["clone", "cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack", "dstack", "flip",
           "fliplr", "flipud", "roll", "tile", "repeat_interleave"]
METHODS = {"clone": clone, "contiguous": contiguous, "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll,
           "repeat": repeat, "tile": tile, "repeat_interleave": repeat_interleave}
