"""``ttorch.sparse.as_sparse_gradcheck``: gradcheck for functions of sparse tensors, as PyTorch's.

``gradcheck`` perturbs the elements of dense inputs; a sparse input that requires grad is handed to it
as its values (dense) and rebuilt inside the function with the sparse constructors (which record the
gradient to the values), and sparse outputs are returned as their dense tensors. Unless ``masked=True``,
each sparse input is first given every element of its shape as an entry (zeros included), so the check
covers the gradient of the unspecified elements too.
"""
from .._layout import sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr

_LAYOUTS = (sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc)


class _Strided:
    """The marker and description of a sparse input handed to ``gradcheck`` as its values."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _full(a):
    """``a`` with every element of its shape an entry (the unspecified ones as zeros)."""
    from .._sparse import SparseTensor, _mask
    from .._sparse_compressed import _blocksize, _mask as cmask
    from ..ops.creation import ones
    dense = a.detach().to_dense()
    if isinstance(a, SparseTensor):
        pattern = ones(a.shape, device=a.device).to_sparse(a.sparse_dim())
        return _mask(dense, pattern)
    pattern = ones(a.shape, device=a.device).to_sparse(layout=a.layout, blocksize=_blocksize(a),
                                                       dense_dim=a.dense_dim())
    return cmask(dense, pattern)


def _to_strided(args, masked):
    out = []
    for a in args:
        if getattr(a, "requires_grad", False) and getattr(a, "layout", None) in _LAYOUTS:
            if not masked:
                a = _full(a)
            if a.layout is sparse_coo:
                desc = _Strided(layout=a.layout, shape=a.shape, indices=a._indices(), coalesced=a.is_coalesced())
                values = a._values()
            else:
                desc = _Strided(layout=a.layout, shape=a.shape, cidx=a._cidx, pidx=a._pidx)
                values = a.values()
            out += [desc, values.detach().requires_grad_(True)]
        else:
            out.append(a)
    return tuple(out)


def _restore(args):
    from ._compressed import sparse_compressed_tensor
    from ._construct import sparse_coo_tensor
    out, it = [], iter(args)
    for a in it:
        if isinstance(a, _Strided):
            v = next(it)
            if a.layout is sparse_coo:
                out.append(sparse_coo_tensor(a.indices, v, a.shape, is_coalesced=a.coalesced))
            else:
                out.append(sparse_compressed_tensor(a.cidx, a.pidx, v, a.shape, layout=a.layout))
        else:
            out.append(a)
    return out


def as_sparse_gradcheck(gradcheck):
    """``gradcheck`` (or ``gradgradcheck``) made to accept sparse inputs and outputs (COO and compressed).

    Example::

        >>> gc = ttorch.sparse.as_sparse_gradcheck(ttorch.autograd.gradcheck)
        >>> s = ttorch.eye(2, dtype=ttorch.float64).to_sparse_csr().requires_grad_(True)
        >>> gc(lambda s: s.to_dense().sum(), (s,))
        True
    """
    def gradcheck_with_sparse_support(func, inputs, **kwargs):
        masked = kwargs.pop("masked", False)

        def func_wrapper(*args, **kw):
            outputs = func(*_restore(args), **kw)
            many = isinstance(outputs, (list, tuple))
            outs = tuple(o.to_dense() if getattr(o, "layout", None) in _LAYOUTS else o
                         for o in (outputs if many else (outputs,)))
            return outs if many else outs[0]
        inputs = inputs if isinstance(inputs, (list, tuple)) else (inputs,)
        return gradcheck(func_wrapper, _to_strided(inputs, masked), **kwargs)
    return gradcheck_with_sparse_support
