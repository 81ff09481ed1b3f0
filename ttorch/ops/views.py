"""View ops: new shape/stride/offset over the same storage, on any device, no kernel.

A write through a view is seen by its base, as in PyTorch. The backward of a reshaping view
reshapes; the backward of a selecting view (narrow, select, diagonal, strided slices)
scatters the gradient into zeros through the same view (``view_scatter``), itself an op
whose backward is the view again, so higher-order gradients work.
"""
from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim, _numel, _contig_strides
from ..autograd import grad_mode
from ..autograd.views import track, untrack, mark_multi_output
from ._op import Op


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if type(s) is not int:
            return tuple([int(s) for s in shape])
    return shape if type(shape) is tuple else tuple(shape)


def _infer(shape, numel, op):
    if -1 not in shape and _numel(shape) == numel and (not shape or min(shape) >= 0):    # nothing to infer
        return tuple(shape)
    shape = list(shape)
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if neg:
        rest = _numel([s for s in shape if s != -1])
        if rest == 0 or numel % rest:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // rest
    if _numel(shape) != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


_TARGETS = {}


def _target(shape, numel, op):
    """``_infer(_shape_arg(shape), numel, op)``, remembered per (arguments, numel): a model reshapes
    the same shapes every step, and working them out was a third of a view's host time."""
    key = (shape, numel)
    try:
        out = _TARGETS.get(key)
    except TypeError:                   # a list among the arguments
        return _infer(_shape_arg(shape), numel, op)
    if out is None:
        out = _infer(_shape_arg(shape), numel, op)      # (raises for a bad shape: nothing remembered)
        if len(_TARGETS) > 4096:
            _TARGETS.clear()
        _TARGETS[key] = out
    return out


def _view_strides(old_shape, old_stride, new_shape):
    """Strides viewing ``old`` as ``new_shape`` without a copy, or None (PyTorch's computeStride)."""
    if _numel(old_shape) == 0 or not old_shape:
        return _contig_strides(new_shape)
    new_stride = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base = old_stride[-1]
    tensor_numel = 1
    view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and old_stride[d - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_stride[view_d] = view_numel * chunk_base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = old_stride[d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_stride)


# ----------------------------------------------------------------------------- reshaping views
def _view_impl(x, *, shape, in_shape):
    st = _contig_strides(shape) if x._stride is None else _view_strides(x._shape, x._stride, shape)
    if st is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return track(x, x._view(shape, st, x._offset))


_view = Op("view", impl=_view_impl, backward=lambda ctx, g: g.reshape(ctx.in_shape), save=(), family="view")


def view(input, *shape):
    if len(shape) == 1 and isinstance(shape[0], D.dtype):
        return _view_dtype(input, shape[0])
    shape = _target(shape, _numel(input._shape), "view")
    return _view(input, shape=shape, in_shape=input._shape)


def _view_dtype(x, dtype):
    """``view(dtype)``: the same bytes read as ``dtype``; a different element size scales the last dim
    (which must be contiguous), as PyTorch's. Not differentiable, as PyTorch's."""
    old, new = x.dtype.itemsize, dtype.itemsize
    shape, stride, offset = list(x._shape), list(x.stride()), x._offset
    if old != new:
        what = f"to view {D.scalar_name(x.dtype)} as {D.scalar_name(dtype)} (different element sizes)"
        if x.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        if old > new:
            r = old // new
            if stride[-1] != 1:
                raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {stride[-1]}")
            shape[-1] *= r
            stride = [st * r for st in stride[:-1]] + [1]
            offset *= r
        else:
            r = new // old
            if shape[-1] % r:
                raise RuntimeError(f"self.size(-1) must be divisible by {r} {what}, but got {shape[-1]}")
            if offset % r:
                raise RuntimeError(f"self.storage_offset() must be divisible by {r} {what}, but got {offset}")
            if stride[-1] != 1:
                raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {stride[-1]}")
            for i, st in enumerate(stride[:-1]):
                if st % r:
                    raise RuntimeError(f"self.stride({i}) must be divisible by {r} {what}, but got {st}")
            shape[-1] //= r
            stride = [st // r for st in stride[:-1]] + [1]
            offset //= r
    out = Tensor._make(x.untyped_storage(), shape, stride, offset, dtype)
    out._base = x if x._base is None else x._base
    return track(x, out)


def reshape(input, *shape):
    shape = _target(shape, _numel(input._shape), "reshape")
    if shape == input._shape or input._stride is None:
        return _view(input, shape=shape, in_shape=input._shape)
    if _view_strides(input._shape, input._stride, shape) is None:
        from .movement import contiguous
        input = contiguous(input)
        return untrack(_view(input, shape=shape, in_shape=input._shape))    # a copy, as in PyTorch
    return _view(input, shape=shape, in_shape=input._shape)


def view_as(input, other):
    return view(input, other._shape)


def reshape_as(input, other):
    return reshape(input, other._shape)


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, (1,))
    s = _wrap_dim(start_dim, input.ndim)
    e = _wrap_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._shape[:s] + (_numel(input._shape[s:e + 1]),) + input._shape[e + 1:]
    return reshape(input, shape)


def unflatten(input, dim, sizes):
    d = _wrap_dim(dim, input.ndim)
    sizes = _infer(tuple(sizes), input._shape[d], "unflatten")
    return view(input, input._shape[:d] + tuple(sizes) + input._shape[d + 1:])


def squeeze(input, dim=None):
    if dim is None:
        dims = [i for i, s in enumerate(input._shape) if s == 1]
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [_wrap_dim(d, input.ndim) for d in dims]
        dims = [d for d in dims if input.ndim and input._shape[d] == 1]
    keep = [i for i in range(input.ndim) if i not in dims]
    return _strided(input, tuple(input._shape[i] for i in keep), tuple(input.stride()[i] for i in keep),
                    input._offset, "squeeze", reshaping=True)


def unsqueeze(input, dim):
    d = _wrap_dim(dim, input.ndim + 1)
    st = input.stride()
    new_st = st[d] * input._shape[d] if d < input.ndim else 1
    return _strided(input, input._shape[:d] + (1,) + input._shape[d:], st[:d] + (new_st,) + st[d:], input._offset,
                    "unsqueeze", reshaping=True)


# ----------------------------------------------------------------------------- permuting views
def _permute_impl(x, *, dims):
    st = x.stride()
    shape = x._shape
    return track(x, x._view(tuple([shape[d] for d in dims]), tuple([st[d] for d in dims]), x._offset))


def _permute_bw(ctx, g):
    inv = [0] * len(ctx.dims)
    for i, d in enumerate(ctx.dims):
        inv[d] = i
    return g.permute(inv)


_permute = Op("permute", impl=_permute_impl, backward=_permute_bw, save=(), family="view")


def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(_wrap_dim(d, input.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permute(input, dims=dims)


_SWAPS = {}     # (ndim, dim0, dim1) -> the permutation (linear's backward transposes on every call)


def transpose(input, dim0, dim1):
    n = len(input._shape)
    try:
        dims = _SWAPS[n, dim0, dim1]
    except (KeyError, TypeError):
        if n == 0:
            return _permute(input, dims=())
        d0, d1 = _wrap_dim(dim0, n), _wrap_dim(dim1, n)
        dims = list(range(n))
        dims[d0], dims[d1] = dims[d1], dims[d0]
        dims = tuple(dims)
        if type(dim0) is int and type(dim1) is int and len(_SWAPS) < 256:
            _SWAPS[n, dim0, dim1] = dims
    return _permute(input, dims=dims)


swapaxes = swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input.view(input._shape)


def movedim(input, source, destination):
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_wrap_dim(s, input.ndim) for s in src]
    dst = [_wrap_dim(d, input.ndim) for d in dst]
    order = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(input.ndim) if i not in src)
    order = [o if o is not None else next(rest) for o in order]
    return _permute(input, dims=tuple(order))


moveaxis = movedim


# ----------------------------------------------------------------------------- expand
def _expand_impl(x, *, shape):
    lead = len(shape) - x.ndim
    st = x.stride()
    new_st = []
    for i, s in enumerate(shape):
        if i < lead:
            new_st.append(0)
        else:
            old = x._shape[i - lead]
            new_st.append(st[i - lead] if old == s else 0)
    return track(x, x._view(shape, tuple(new_st), x._offset))


# the engine sums the gradient back to the input's shape
_expand = Op("expand", impl=_expand_impl, backward=lambda ctx, g: g, save=(), family="view")


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(input.shape)}}}, size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = []
    for i, s in enumerate(sizes):
        old = input._shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = old
        elif old is not None and old != 1 and old != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({old}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(input.shape)}")
        shape.append(s)
    return _expand(input, shape=tuple(shape))


def expand_as(input, other):
    return expand(input, other._shape)


def broadcast_to(input, size):
    return expand(input, size)


# ----------------------------------------------------------------------------- selecting views
def _strided_impl(x, *, shape, stride, offset, fn, reshaping, in_shape):
    return track(x, x._view(shape, stride, offset))


def _strided_bw(ctx, g):
    if ctx.reshaping:
        return g.reshape(ctx.in_shape)
    return view_scatter(g, ctx.in_shape, ctx.fn)


_strided_op = Op("as_strided", impl=_strided_impl, backward=_strided_bw, save=(), family="view")


def _strided(x, shape, stride, offset, name, fn=None, reshaping=False):
    return _strided_op(x, shape=tuple(shape), stride=tuple(stride), offset=offset, fn=fn, reshaping=reshaping,
                       in_shape=x._shape)


def _view_scatter_impl(g, *, shape, fn):
    from .creation import zeros
    from .elementwise import copy_into
    z = zeros(shape, dtype=g.dtype, device=g.device)
    copy_into(fn(z), g)
    return z


_view_scatter = Op("view_scatter", impl=_view_scatter_impl, backward=lambda ctx, g: ctx.fn(g), save=(),
                   family="view")


def view_scatter(g, shape, fn):
    """Zeros of ``shape`` with ``g`` written into the view ``fn(zeros)``: the backward of a view."""
    return _view_scatter(g, shape=tuple(shape), fn=fn)


def narrow(input, dim, start, length):
    d = _wrap_dim(dim, input.ndim)
    n = input._shape[d]
    if isinstance(start, Tensor):
        start = int(start.item())
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _slice(input, d, start, start + length, 1)


def _slice(x, d, start, stop, step):
    st = x.stride()
    n = max(0, (stop - start + step - 1) // step)
    shape = x._shape[:d] + (n,) + x._shape[d + 1:]
    stride = st[:d] + (st[d] * step,) + st[d + 1:]
    return _strided(x, shape, stride, x._offset + start * st[d], "slice",
                    fn=lambda t: _slice(t, d, start, stop, step))


def select(input, dim, index):
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, input.ndim)
    n = input._shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {d}")
    if index < 0:
        index += n
    st = input.stride()
    return _strided(input, input._shape[:d] + input._shape[d + 1:], st[:d] + st[d + 1:],
                    input._offset + index * st[d], "select", fn=lambda t: select(t, d, index))


def unfold(input, dimension, size, step):
    """``Tensor.unfold``: every slice of length ``size`` along ``dimension``, ``step`` apart, as a view
    with a new last dim of ``size``: shape (..., (n - size) // step + 1, ..., size).

    Example::

        >>> import ttorch
        >>> ttorch.arange(6).unfold(0, 3, 2).tolist()
        [[0, 1, 2], [2, 3, 4]]
    """
    d = _wrap_dim(dimension, input.ndim if input.ndim else 1)
    n = input._shape[d] if input.ndim else 1
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:
        return _strided(input, (size,), (1,), input._offset, "unfold", fn=lambda t: unfold(t, d, size, step))
    st = input.stride()
    shape = input._shape[:d] + ((n - size) // step + 1,) + input._shape[d + 1:] + (size,)
    stride = st[:d] + (st[d] * step,) + st[d + 1:] + (st[d],)
    if step >= size:            # windows that don't overlap: a selecting view like any other
        return _strided(input, shape, stride, input._offset, "unfold", fn=lambda t: unfold(t, d, size, step))
    return _unfold_op(input, shape=shape, stride=stride, dim=d, size=size, step=step, in_shape=input._shape)


def _unfold_impl(x, *, shape, stride, dim, size, step, in_shape):
    return track(x, x._view(shape, stride, x._offset))


def _unfold_bw(ctx, g):
    # overlapping windows: each element's gradient is the sum over the windows holding it, an index_add
    # of the windows' (start + offset) positions
    from .creation import arange, zeros
    d, nw = ctx.dim, g.shape[ctx.dim]
    idx = ((arange(nw, device=g.device) * ctx.step)[:, None] + arange(ctx.size, device=g.device)).reshape(-1)
    g = g.movedim(-1, d + 1).flatten(d, d + 1)                          # (..., nw * size, ...)
    return (zeros(ctx.in_shape, dtype=g.dtype, device=g.device).index_add(d, idx, g),)


_unfold_op = Op("unfold", impl=_unfold_impl, backward=_unfold_bw, save=(), family="view")


# split/chunk/unbind: one multi-output op each, whose backward is ONE cat (stack) of the outputs'
# gradients (zeros for an output without one), as PyTorch's SplitBackward0; through separate
# narrow views, each gradient was scattered into its own zeros and the engine summed them.
def _pieces_impl(x, *, dim, sizes, keep):
    st, out, pos = x.stride(), [], 0
    for s in sizes:
        if keep:
            shape, stride = x._shape[:dim] + (s,) + x._shape[dim + 1:], st
        else:
            shape, stride = x._shape[:dim] + x._shape[dim + 1:], st[:dim] + st[dim + 1:]
        out.append(track(x, x._view(shape, stride, x._offset + pos * st[dim])))
        pos += s
    return tuple(out)


def span(shape, stride):
    """Elements from a strided layout's first to its last (non-negative strides), or None when
    two of its elements share an address (sorted by stride, each dim must step over the ones
    inside it)."""
    if any(st < 0 for st in stride):
        return None
    reach = 1
    for n, st in sorted(((n, st) for n, st in zip(shape, stride) if n > 1), key=lambda p: p[1]):
        if st < reach:
            return None
        reach = st * (n - 1) + reach
    return reach if all(shape) else 0


def joined(parts, dim):
    """``cat(parts, dim)`` as a view, with no copy, where the parts already lie side by side in one
    storage (same strides, each starting where the one before ends along ``dim``) and the whole
    has no two elements at one address; else None. Producers that know their outputs will be
    concatenated allocate them that way (flash attention's dq, dk, dv for a split qkv)."""
    first = parts[0]
    st, shape, storage = first.stride(), list(first._shape), first.untyped_storage()
    total, off = 0, first._offset
    for t in parts:
        same_rest = t._shape[:dim] == first._shape[:dim] and t._shape[dim + 1:] == first._shape[dim + 1:]
        if t.untyped_storage() is not storage or t.dtype is not first.dtype or t.stride() != st or \
                t._offset != off or not same_rest:
            return None
        total += t._shape[dim]
        off += t._shape[dim] * st[dim]
    shape[dim] = total
    if span(shape, st) is None:
        return None
    return first._view(tuple(shape), st, first._offset)


def _pieces_bw(ctx, *grads):
    from .creation import zeros
    from .movement import cat, stack
    like = next(g for g in grads if g is not None)
    if ctx.keep and like.is_cuda and all(g is not None for g in grads) and not grad_mode.is_grad_enabled():
        whole = joined(grads, ctx.dim)
        if whole is not None:
            return whole
    parts = []
    for g, s in zip(grads, ctx.sizes):
        if g is None:
            shape = list(like._shape)
            if ctx.keep:
                shape[ctx.dim] = s
            g = zeros(shape, dtype=like.dtype, device=like.device)
        parts.append(g)
    return cat(parts, ctx.dim) if ctx.keep else stack(parts, ctx.dim)


_PIECES = {name: Op(name, impl=_pieces_impl, backward=_pieces_bw, save=(), family="view", grad_name=grad)
           for name, grad in (("split", "SplitBackward0"), ("split_with_sizes", "SplitWithSizesBackward0"),
                              ("unbind", "UnbindBackward0"))}


def unbind(input, dim=0):
    d = _wrap_dim(dim, input.ndim)
    n = input._shape[d]
    if n == 0:
        return ()
    return mark_multi_output(_PIECES["unbind"](input, dim=d, sizes=(1,) * n, keep=False), "UnbindBackward0")


def split(tensor, split_size_or_sections, dim=0):
    d = _wrap_dim(dim, tensor.ndim)
    n = tensor._shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    op = "split" if isinstance(split_size_or_sections, int) else "split_with_sizes"
    out = _PIECES[op](tensor, dim=d, sizes=tuple(sizes), keep=True)
    return mark_multi_output(out, _PIECES[op].grad_name)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0")
    n = input._shape[_wrap_dim(dim, input.ndim)]
    size = -(-n // chunks) if n else 0
    if size == 0:
        return split(input, [0] * min(chunks, 1) if n == 0 else [n], dim)
    return split(input, size, dim)


def diagonal(input, offset=0, dim1=0, dim2=1):
    d1, d2 = _wrap_dim(dim1, input.ndim), _wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    st = input.stride()
    n1, n2 = input._shape[d1], input._shape[d2]
    if offset >= 0:
        n = max(0, min(n1, n2 - offset))
        off = input._offset + (offset * st[d2] if n else 0)
    else:
        n = max(0, min(n1 + offset, n2))
        off = input._offset + (-offset * st[d1] if n else 0)
    keep = [i for i in range(input.ndim) if i not in (d1, d2)]
    shape = tuple(input._shape[i] for i in keep) + (n,)
    stride = tuple(st[i] for i in keep) + (st[d1] + st[d2],)
    return _strided(input, shape, stride, off, "diagonal", fn=lambda t: diagonal(t, offset, d1, d2))


def as_strided(input, size, stride, storage_offset=None):
    off = input._offset if storage_offset is None else storage_offset
    size, stride = tuple(size), tuple(stride)
    if 0 not in size and type(input) is Tensor:     # (PyTorch's bounds check against the storage)
        isz, have = input.dtype.itemsize, input.untyped_storage().nbytes()
        need = (off + 1 + sum((n - 1) * s for n, s in zip(size, stride))) * isz
        if need > have:
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {off}, and "
                               f"itemsize {isz} requiring a storage size of {need} are out of bounds for storage of "
                               f"size {have}")
    return _as_strided(input, size, stride, off)


def _as_strided(input, size, stride, off):
    return _strided(input, size, stride, off, "as_strided",
                    fn=lambda t: _as_strided(t, size, stride, off - input._offset + t._offset))

__all__ = ["reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "swapdims",
           "t", "movedim", "moveaxis", "broadcast_to", "narrow", "select", "unbind", "split", "chunk", "diagonal",
           "as_strided"]
METHODS = {n: globals()[n] for n in __all__ + ["view", "view_as", "reshape_as", "expand", "expand_as", "unfold"]}
