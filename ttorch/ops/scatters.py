"""Out-of-place writes into part of a tensor: ``slice_scatter``, ``select_scatter``, ``diagonal_scatter``,
``as_strided_scatter`` (a copy of ``input`` with ``src`` written through a view of it) and
``index_reduce`` (``src``'s rows reduced into ``input``'s at ``index``, ``scatter_reduce`` along one dim).

Each is a clone, a view and a ``copy_`` (or a ``scatter_reduce``): autograd's in-place-on-view handling
gives ``input`` the gradient outside the view and ``src`` the view's, on both devices."""
from .. import _dtype as D
from ..autograd import grad_mode
from ..autograd.views import _overlaps
from ._op import write_out
from .._tensor import _wrap_dim


def _scatter_into(input, src, view, copy=None):
    out = input.clone() if copy is None else copy(input)
    v = view(out)
    if tuple(v.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(v.shape)}")
    v.copy_(src)
    return out


def slice_scatter(input, src, dim=0, start=None, end=None, step=1, *, out=None):
    """A copy of ``input`` with ``src`` in place of ``input[..., start:end:step, ...]`` (along ``dim``).

    Example::

        >>> import ttorch
        >>> ttorch.slice_scatter(ttorch.zeros(2, 4), ttorch.ones(2, 2), 1, 1, 3).tolist()
        [[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]]
    """
    d = _wrap_dim(dim, input.dim())
    index = (slice(None),) * d + (slice(start, end, step),)
    r = _scatter_into(input, src, lambda t: t[index])
    return r if out is None else write_out(out, r, "slice_scatter")


def select_scatter(input, src, dim, index, *, out=None):
    """A copy of ``input`` with ``src`` in place of ``input.select(dim, index)``."""
    r = _scatter_into(input, src, lambda t: t.select(dim, index))
    return r if out is None else write_out(out, r, "select_scatter")


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1, *, out=None):
    """A copy of ``input`` with ``src`` in place of ``input.diagonal(offset, dim1, dim2)``."""
    r = _scatter_into(input, src, lambda t: t.diagonal(offset, dim1, dim2))
    return r if out is None else write_out(out, r, "diagonal_scatter")


def as_strided_scatter(input, src, size, stride, storage_offset=None, *, out=None):
    """A copy of ``input`` with ``src`` in place of ``as_strided(size, stride, storage_offset)``.

    As in PyTorch, the copy keeps ``input``'s layout over a copy of its whole storage (sizes, strides
    and storage offset), so ``size``, ``stride`` and ``storage_offset`` address the same elements they
    would in ``input``; an input whose elements overlap (an expanded one) is copied contiguous first.
    """
    if input.requires_grad and grad_mode.is_grad_enabled() and not input.is_contiguous():
        raise RuntimeError("as_strided_scatter is currently only supported for contiguous inputs")
    r = _scatter_into(input, src, lambda t: t.as_strided(size, stride, storage_offset), _clone_preserving_strides)
    return r if out is None else write_out(out, r, "as_strided_scatter")


def _clone_preserving_strides(t):
    """A copy of ``t`` with its sizes, strides and storage offset: its whole storage copied, then the same view."""
    if t.is_contiguous() and t.storage_offset() == 0 or _overlaps(t.shape, t.stride()):
        return t.clone()           # (ttorch clones contiguous)
    n = t.untyped_storage().nbytes() // t.element_size()
    return t.as_strided((n,), (1,), 0).clone().as_strided(t.shape, t.stride(), t.storage_offset())


def index_reduce(input, dim, index, source, reduce, *, include_self=True, out=None):
    """A copy of ``input`` with ``source``'s slices along ``dim`` reduced into the slices ``index`` names:
    ``reduce`` 'prod', 'mean', 'amax' or 'amin'; without ``include_self`` the slices ``index`` names
    start from the reduction's identity (``input``'s value dropped). ``scatter_reduce`` along one dim.

    Example::

        >>> import ttorch
        >>> x = ttorch.ones(3, 2)
        >>> x.index_reduce(0, ttorch.tensor([0, 0, 2]), ttorch.tensor([[2., 3], [4, 5], [6, 7]]), 'prod').tolist()
        [[8.0, 15.0], [1.0, 1.0], [6.0, 7.0]]
    """
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    if index.dim() > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    if input.dtype.is_complex:          # (PyTorch's kernel has no complex case either; its name in the message)
        raise NotImplementedError(f"\"index_func_\" not implemented for '{D.scalar_name(input.dtype)}'")
    d = _wrap_dim(dim, input.dim())
    if index.dtype is D.int32:          # PyTorch takes int32 or int64 indices; scatter_reduce only int64
        index = index.long()
    if source.dim() and index.numel() != source.shape[d]:
        raise RuntimeError(f"index_reduce_(): Number of indices ({index.numel()}) should be equal to "
                           f"source.size(dim) ({source.shape[d]})")
    shape = [1] * source.dim()
    if source.dim():
        shape[d] = index.numel()
    idx = index.reshape(shape).expand(source.shape) if source.dim() else index.reshape(())
    r = input.scatter_reduce(d, idx, source, reduce, include_self=include_self)
    return r if out is None else write_out(out, r, "index_reduce")


def _index_reduce_(input, dim, index, source, reduce, *, include_self=True):
    return input.copy_(index_reduce(input, dim, index, source, reduce, include_self=include_self))


PUBLIC = {n: globals()[n] for n in ("slice_scatter", "select_scatter", "diagonal_scatter", "as_strided_scatter",
                                      "index_reduce")}
METHODS = dict(PUBLIC, index_reduce_=_index_reduce_)
__all__ = []
