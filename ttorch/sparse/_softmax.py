"""``ttorch.sparse.softmax`` / ``log_softmax``: softmax over the specified entries of a sparse COO
tensor along ``dim``, the unspecified ones taken as -inf (so they stay unspecified), as PyTorch's.

Along a sparse dim the entries of one slice are those sharing every other coordinate: a group id
per entry (``unique`` of the coordinates without ``dim``), the group's max by ``scatter_reduce``
(so ``exp`` never overflows) and its sum by ``index_add``. Along a dense dim it is the dense softmax
of the values. The result has the input's coalesced entries; its gradient too (PyTorch's
``SparseSoftmaxBackward0``): ``y * (g - sum(g * y))`` per slice, or ``g - exp(y) * sum(g)`` for the log.
"""
from .. import _dtype as D
from .._sparse import _keys, _mask, _pattern, _tracked
from .._tensor import _wrap_dim


def _groups(s, dim):
    """(nnz,) group id of each entry of coalesced ``s`` (its coordinates other than ``dim``), count."""
    from ..ops.sort import unique
    other = [d for d in range(s.sparse_dim()) if d != dim]
    if not other:
        from ..ops.creation import zeros
        return zeros(s._nnz(), dtype=D.int64, device=s.device), 1
    key = _keys(s._ind[other], tuple(s._shape[d] for d in other))
    uniq, grp = unique(key, return_inverse=True)
    return grp, uniq._shape[0]


def _group_sum(x, grp, n):
    from ..ops.creation import zeros
    return zeros((n,) + x._shape[1:], dtype=x.dtype, device=x.device).index_add(0, grp, x)


def _forward(sc, dim, log):
    sd = sc.sparse_dim()
    v = sc._val
    if dim >= sd:       # a dense dim: each entry's values on their own
        y = v.log_softmax(dim - sd + 1) if log else v.softmax(dim - sd + 1)
        return sc._with_values(y), None
    grp, n = _groups(sc, dim)
    from ..ops.creation import zeros
    top = zeros((n,) + v._shape[1:], dtype=v.dtype, device=v.device).scatter_reduce(
        0, grp.reshape((-1,) + (1,) * (v.ndim - 1)).expand(v._shape), v, "amax", include_self=False)
    z = v - top.index_select(0, grp)
    total = _group_sum(z.exp(), grp, n).index_select(0, grp)
    y = z - total.log() if log else z.exp() / total
    return sc._with_values(y), (grp, n)


def _softmax(input, dim, dtype, log):
    name = "SparseLogSoftmaxBackward0" if log else "SparseSoftmaxBackward0"
    dim = _wrap_dim(dim, input.ndim)
    sc = _pattern(input)
    if dtype is not None:
        sc = sc.to(dtype)
    out, groups = _forward(sc, dim, log)
    y = out._val

    def backward(g):
        gv = _mask(g, sc)._val
        if groups is None:      # dense dim: the dense rule on the values
            ax = dim - sc.sparse_dim() + 1
            s = (gv if log else gv * y).sum(ax, keepdim=True)
        else:
            s = _group_sum(gv if log else gv * y, *groups).index_select(0, groups[0])
        gx = gv - y.exp() * s if log else y * (gv - s)
        return (sc._with_values(gx.to(input.dtype)),)
    return _tracked(name, lambda s: out, backward, input)


def softmax(input, dim, *, dtype=None):
    """Softmax of sparse ``input`` along ``dim`` over its specified entries (the rest as -inf).

    Example::

        >>> s = ttorch.sparse_coo_tensor([[0, 0, 1], [0, 2, 1]], [1., 1., 5.], (2, 3))
        >>> ttorch.sparse.softmax(s, 1).to_dense()
        tensor([[0.5000, 0.0000, 0.5000],
                [0.0000, 1.0000, 0.0000]])
    """
    return _softmax(input, dim, dtype, False)


def log_softmax(input, dim, *, dtype=None):
    """Log of ``softmax`` (computed together, for accuracy), on the same entries."""
    return _softmax(input, dim, dtype, True)
