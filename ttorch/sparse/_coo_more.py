"""More of sparse COO, as PyTorch's: ``index_select``, ``select`` and integer indexing, ``sparse_mask``,
``sparse_resize_``, the legacy products ``smm``/``hspmm``/``hsmm``/``sspaddmm``/``saddmm``/``dsmm``, and
the sparse methods of a dense ``Tensor`` (``to_sparse_csr``...; ``indices()`` and kin raise PyTorch's
errors on a strided tensor).

Selections find their entries with ttorch ops (``nonzero`` of a comparison with the index), so they
run on both devices. Their gradient is the dense gradient scattered back (``index_add``) and kept on the
input's entries: a sparse gradient, where PyTorch's ``IndexSelectBackward0`` raises for sparse input.
"""
from .. import _dtype as D
from .._layout import sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr, strided
from .._sparse import SparseTensor, _coalesce, _mask, _pattern, _tracked
from .._tensor import Tensor, _wrap_dim


def _index_check(s, dim, index):
    if not isinstance(index, Tensor) or index.dtype not in (D.int64, D.int32) or index.ndim > 1:
        raise IndexError("index_select(): Expected dtype int32 or int64 for index")


def index_select(s, dim, index):
    """The entries of sparse ``s`` whose coordinate along ``dim`` is in ``index``, renumbered by their
    position in ``index`` (repeats repeat them), as PyTorch's sparse ``index_select``."""
    _index_check(s, dim, index)
    dim = _wrap_dim(dim, s.ndim)
    index = index.reshape(-1).to(D.int64)
    shape = list(s._shape)
    shape[dim] = index._shape[0]
    sd = s.sparse_dim()

    def fwd(s):
        if dim >= sd:
            return SparseTensor._new(s._ind, s._val.index_select(dim - sd + 1, index), shape, s._coalesced)
        pairs = (index.unsqueeze(1) == s._ind[dim].unsqueeze(0)).nonzero()      # (k, 2): (position, entry)
        ind = s._ind.index_select(1, pairs[:, 1]).clone()
        ind[dim] = pairs[:, 0]
        return SparseTensor._new(ind, s._val.index_select(0, pairs[:, 1]), shape)

    def bwd(g):
        from ..ops.creation import zeros
        dense = zeros(s._shape, dtype=s.dtype, device=s.device).index_add(dim, index, g.to_dense())
        return (_mask(dense, _pattern(s)),)
    return _tracked("IndexSelectBackward0", fwd, bwd, s)


def select(s, dim, i):
    """Sparse ``s`` at index ``i`` of ``dim``: sparse over the other dims (dense when none is sparse)."""
    dim = _wrap_dim(dim, s.ndim)
    n = s._shape[dim]
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size {list(s._shape)} at dimension {dim}")
    i = i % n
    sd = s.sparse_dim()
    shape = s._shape[:dim] + s._shape[dim + 1:]

    def fwd(s):
        if dim >= sd:
            return SparseTensor._new(s._ind, s._val.select(dim - sd + 1, i), shape, s._coalesced)
        key = (s._ind[dim] == i).nonzero().reshape(-1)
        val = s._val.index_select(0, key)
        if sd == 1:         # no sparse dim left: the dense sum of the entries there
            return val.sum(0)
        keep = [d for d in range(sd) if d != dim]
        return SparseTensor._new(s._ind[keep].index_select(1, key), val, shape, s._coalesced)

    def bwd(g):
        from ..ops.creation import zeros
        dense = zeros(s._shape, dtype=s.dtype, device=s.device)
        g = g.to_dense() if g.__class__ is not Tensor else g
        dense = dense.index_add(dim, _scalar_index(i, s.device), g.unsqueeze(dim))
        return (_mask(dense, _pattern(s)),)
    return _tracked("SelectBackward0", fwd, bwd, s)


def _scalar_index(i, device):
    from ..ops.creation import tensor
    return tensor([i], dtype=D.int64, device=device)


def getitem(s, key):
    """``s[i]``, ``s[i, j, ...]``: integer indexing (``select``); other keys raise PyTorch's error."""
    keys = key if isinstance(key, tuple) else (key,)
    if not all(isinstance(k, int) and not isinstance(k, bool) for k in keys) or len(keys) > s.ndim:
        raise NotImplementedError(f"Could not run 'aten::as_strided' with arguments from the "
                                  f"'{'SparseCUDA' if s.is_cuda else 'SparseCPU'}' backend. ttorch indexes sparse "
                                  "tensors with integers only")
    out = s
    for k in keys:
        out = select(out, 0, k) if isinstance(out, SparseTensor) else out[k]
    return out


def sparse_mask(self, mask):
    """``self``'s elements at the entries of sparse ``mask`` (COO: coalesced; compressed: same indices)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"sparse_mask(): argument 'mask' (position 1) must be Tensor, not {type(mask).__name__}")
    if mask.layout is strided:
        raise NotImplementedError(f"Could not run 'aten::sparse_mask' with arguments from the "
                                  f"'{'CUDA' if mask.is_cuda else 'CPU'}' backend.")
    if tuple(self.shape) != tuple(mask.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size {list(self.shape)} but "
                           f"mask has size {list(mask.shape)}")
    if mask.layout is sparse_coo:
        pat = _pattern(mask)
        src = self
        return _tracked("SparseMaskBackward0", lambda d: _mask(d, pat), lambda g: (_sparse_or_dense(g, src),), self)
    from .._sparse_compressed import _mask as cmask
    pat = mask.detach()
    return _tracked("SparseMaskBackward0", lambda d: cmask(d, pat).detach(), lambda g: (_sparse_or_dense(g, self),),
                    self)


def _sparse_or_dense(g, like):
    g = g.to_dense() if g.__class__ is not Tensor else g
    return _mask(g, _pattern(like)) if isinstance(like, SparseTensor) else g


def sparse_resize_(self, size, sparse_dim, dense_dim, *, clear=False):
    """Give sparse ``self`` the shape ``size`` (sparse dims may grow; with ``clear``, nnz becomes 0)."""
    if not isinstance(self, SparseTensor):
        name = "sparse_resize_and_clear_" if clear else "sparse_resize_"
        raise NotImplementedError(f"Could not run 'aten::{name}' with arguments from the "
                                  f"'{'CUDA' if self.is_cuda else 'CPU'}' backend.")
    size = tuple(int(n) for n in size)
    if len(size) != sparse_dim + dense_dim:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sparse_dim}) + dense_dim ({dense_dim}), but "
                           f"got {len(size)}")
    if clear:
        from ..ops.creation import zeros
        self._ind = zeros((sparse_dim, 0), dtype=D.int64, device=self.device)
        self._val = zeros((0,) + size[sparse_dim:], dtype=self.dtype, device=self.device)
        self._shape, self._coalesced = size, True
        return self
    if self._nnz():
        if sparse_dim != self.sparse_dim() or dense_dim != self.dense_dim():
            raise RuntimeError(f"changing the number of sparse or dense dimensions (from {self.sparse_dim()}, "
                               f"{self.dense_dim()} to {sparse_dim}, {dense_dim}) on a non-empty sparse tensor is not "
                               "supported.")
        old = list(self._shape[:sparse_dim])
        if any(a < b for a, b in zip(size[:sparse_dim], old)):
            raise RuntimeError(f"shrinking the size of sparse dimensions (from {old} to {list(size[:sparse_dim])}) on "
                               "a non-empty sparse tensor is not supported.")
        if tuple(size[sparse_dim:]) != tuple(self._shape[sparse_dim:]):
            raise RuntimeError(f"shrinking or expanding the size of dense dimensions (from "
                               f"{list(self._shape[sparse_dim:])} to {list(size[sparse_dim:])}) on a non-empty sparse "
                               "tensor is not supported.")
        self._shape = size
        return self
    return sparse_resize_(self, size, sparse_dim, dense_dim, clear=True)


# ---------------------------------------------------------------------------------- legacy products
def _need_sparse(t, name):
    if not isinstance(t, SparseTensor):
        raise RuntimeError(f"tensor.{name}(...) can only be called on sparse tensors")


def sspaddmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)`` with ``input`` and ``mat1`` sparse: a sparse result
    (the entries of both terms, uncoalesced, as PyTorch's)."""
    _need_sparse(input, "sspaddmm")
    if out is not None:
        raise RuntimeError("sspaddmm: out= is not supported in ttorch")
    _need_sparse(mat1, "sspaddmm")
    prod = (mat1 @ mat2).to_sparse()
    if alpha != 1:
        prod = prod * alpha
    term = input * beta if beta != 1 else input
    from ..ops.movement import cat

    def fwd(a, b):
        return SparseTensor._new(cat([a._ind, b._ind], 1), cat([a._val, b._val.to(a.dtype)]), a._shape)
    return _tracked("SspaddmmBackward0", fwd, lambda g: (_mask(g, _pattern(term)), _mask(g, _pattern(prod))),
                    term, prod)


def smm(input, mat2):
    """Sparse ``input`` @ dense ``mat2`` as a sparse tensor (``sspaddmm`` with a zero ``input``)."""
    _need_sparse(input, "sspaddmm")
    from .._sparse import SparseTensor as S
    from ..ops.creation import zeros
    empty = S._new(zeros((2, 0), dtype=D.int64, device=input.device), zeros(0, dtype=input.dtype,
                                                                           device=input.device),
                   (input._shape[0], mat2.shape[1]), True)
    return sspaddmm(empty, input, mat2)


def hspmm(mat1, mat2):
    """Sparse ``mat1`` @ dense ``mat2`` as a hybrid COO tensor: one sparse dim (the rows of ``mat1`` with an
    entry), the result's rows dense."""
    if not isinstance(mat1, SparseTensor):
        raise NotImplementedError(f"Could not run 'aten::hspmm' with arguments from the "
                                  f"'{'CUDA' if mat1.is_cuda else 'CPU'}' backend.")
    from ..ops.sort import unique
    rows = unique(_coalesce(mat1.detach())._ind[0])
    prod = mat1 @ mat2
    return _tracked("HspmmBackward0", lambda p: SparseTensor._new(rows.unsqueeze(0), p.index_select(0, rows),
                                                                  p._shape, True),
                    lambda g: (g.to_dense() if g.__class__ is not Tensor else g,), prod)


def dsmm(input, mat2):
    """``ttorch.mm`` with a sparse ``input``: dense."""
    from ..ops.sparse_mm import mm
    return mm(input, mat2)


# ---------------------------------------------------------------------------------- a dense Tensor's sparse API
def _strided_error(name, want):
    def f(self, *args, **kwargs):
        raise RuntimeError(f"{name} expected {want} tensor layout but got Strided")
    f.__name__ = name
    return f


def _no_kernel(name):
    def f(self, *args, **kwargs):
        raise NotImplementedError(f"Could not run 'aten::{name}' with arguments from the "
                                  f"'{'CUDA' if self.is_cuda else 'CPU'}' backend.")
    f.__name__ = name
    return f


def _to(layout, blocked):
    from .._sparse_compressed import from_dense
    if blocked:
        def f(self, blocksize, dense_dim=None):
            return from_dense(self, layout, blocksize, dense_dim)
    else:
        def f(self, dense_dim=None):
            return from_dense(self, layout, None, dense_dim)
    f.__name__ = f"to_sparse_{layout._name[7:]}"
    f.__doc__ = f"This tensor in the ``ttorch.{layout._name}`` layout (``ttorch/_sparse_compressed.py``)."
    return f


def bind():
    """The sparse API of ``Tensor``: conversions, PyTorch's errors on a strided tensor, selections on COO."""
    Tensor.is_sparse_csr = False
    Tensor.to_sparse_csr, Tensor.to_sparse_csc = _to(sparse_csr, False), _to(sparse_csc, False)
    Tensor.to_sparse_bsr, Tensor.to_sparse_bsc = _to(sparse_bsr, True), _to(sparse_bsc, True)
    Tensor.to_sparse_coo = lambda self: self.to_sparse()
    for name, want in (("crow_indices", "sparse row compressed"), ("col_indices", "sparse row compressed"),
                       ("ccol_indices", "sparse column compressed"), ("row_indices", "sparse column compressed"),
                       ("indices", "sparse coordinate"), ("values", "sparse"), ("coalesce", "sparse coordinate"),
                       ("is_coalesced", "sparse coordinate")):
        if name not in Tensor.__dict__:
            setattr(Tensor, name, _strided_error(name, want))
    for name in ("_indices", "_values", "_nnz"):
        if name not in Tensor.__dict__:
            setattr(Tensor, name, _no_kernel(name))
    Tensor.sparse_dim = lambda self: 0
    Tensor.dense_dim = lambda self: self.ndim
    Tensor.sparse_mask = sparse_mask
    Tensor.sparse_resize_ = sparse_resize_
    Tensor.sparse_resize_and_clear_ = lambda self, size, sd, dd: sparse_resize_(self, size, sd, dd, clear=True)
    SparseTensor.index_select = index_select
    SparseTensor.select = select
    SparseTensor.__getitem__ = getitem
    SparseTensor.sparse_mask = sparse_mask
    SparseTensor.sparse_resize_ = sparse_resize_
    SparseTensor.sparse_resize_and_clear_ = lambda self, size, sd, dd: sparse_resize_(self, size, sd, dd, clear=True)
    SparseTensor.smm = smm
    SparseTensor.hspmm = hspmm
    SparseTensor.sspaddmm = lambda self, mat1, mat2, *, beta=1, alpha=1: sspaddmm(self, mat1, mat2, beta=beta,
                                                                                  alpha=alpha)
