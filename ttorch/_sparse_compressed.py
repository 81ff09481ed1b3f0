"""Sparse compressed tensors: the CSR, CSC, BSR and BSC layouts (``CompressedTensor``).

Design: as PyTorch's, a compressed tensor holds three dense tensors: ``_cidx`` (compressed indices,
``(*batch, n + 1)`` pointers into the entries of each row (CSR/BSR) or column (CSC/BSC)), ``_pidx``
(plain indices, ``(*batch, nnz)``: each entry's column, or row) and ``_val`` (``(*batch, nnz, *block,
*dense)``; ``block`` is ``(r, c)`` for BSR/BSC, absent otherwise). Every batch has the same nnz.

Every conversion goes through one form: each entry's (batch, block row, block column) coordinates
(``_coords``: the compressed index of an entry is found by ``searchsorted`` on its batch's pointers, so
it runs on both devices with no host sync) and back (``_from_parts``: sort, then pointers by
``searchsorted``). Dense tensors and COO convert through it; values are gathered with ``index_select``.

Autograd: as for COO, a compressed tensor may be a leaf or the output of a recorded op; its gradient
is a compressed tensor on the same entries (``_mask``), as PyTorch's. Products live in
``ops/sparse_compressed_mm.py``; constructors, printing and ``check_invariants`` in
``sparse/_compressed.py``.

Deliberate differences from PyTorch: ``contiguous()`` returns the tensor itself (PyTorch raises: the
autograd engine stores gradients through it); conversions to a blocked layout from another compressed
one go through the dense tensor (explicit zeros are dropped); the shape checks of the constructors always
run (PyTorch runs them only with ``check_invariants``); some backward passes PyTorch lacks run here (of
the unary ops on CSR values, of products with BSR/BSC); ``empty(..., layout=sparse_csr)`` is not
supported (``zeros`` is).
"""
from . import _dtype as D
from ._layout import sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr, strided
from ._sparse import SparseTensor, _WithoutStorage, _backend, _keys, _tracked, _unsupported
from ._tensor import Tensor, _numel, _wrap_dim
from .autograd import grad_mode
from .ops import _op

COMPRESSED = (sparse_csr, sparse_csc, sparse_bsr, sparse_bsc)
_ROW = (sparse_csr, sparse_bsr)             # compressed along rows (crow_indices, col_indices)
_BLOCKED = (sparse_bsr, sparse_bsc)
NAMES = {sparse_csr: "SparseCsr", sparse_csc: "SparseCsc", sparse_bsr: "SparseBsr", sparse_bsc: "SparseBsc",
         sparse_coo: "Sparse", strided: "Strided"}


def _layout_error(name, t, want):
    return RuntimeError(f"{name} expected {want} tensor layout but got {NAMES[t.layout]}")


class CompressedTensor(_WithoutStorage, Tensor):
    """A tensor in a compressed layout: ``_cidx`` pointers, ``_pidx`` plain indices, ``_val`` values.

    Example::

        >>> c = ttorch.tensor([[0., 1.], [2., 0.]]).to_sparse_csr()
        >>> c.crow_indices(), c.col_indices(), c.values()
        (tensor([0, 1, 2]), tensor([1, 0]), tensor([1., 2.]))
    """

    is_sparse = False
    layout = sparse_csr
    _sparse_values_ops = True       # the unary ops hand it to ``SUBCLASS_OPS`` (sparse/_unary.py)

    @staticmethod
    def _new(cidx, pidx, val, shape, layout):
        c = CompressedTensor.__new__(CompressedTensor)
        c._cidx, c._pidx, c._val, c._shape, c.layout = cidx, pidx, val, tuple(shape), layout
        c.dtype, c.device = val.dtype, val.device
        return c

    @property
    def is_sparse_csr(self):
        return self.layout is sparse_csr

    # ------------------------------------------------------------------ what a dense tensor has and this has not
    _impl, _kind, _key = "SparseCsrTensorImpl", "Sparse CSR", "SparseCsr"     # (PyTorch's words: every layout)

    def is_contiguous(self, memory_format=None):
        raise RuntimeError("Sparse CSR tensors do not have is_contiguous")

    reshape = is_contiguous

    def contiguous(self, memory_format=None):
        return self     # (PyTorch raises; the autograd engine stores gradients through it)

    def numpy(self, *, force=False):
        raise TypeError(f"can't convert {NAMES[self.layout]} layout tensor to numpy. Use Tensor.to_dense() first.")

    def _bump_version(self):
        pass

    def type(self, dtype=None, non_blocking=False, **kw):
        if dtype is None:
            raise RuntimeError(f"Unimplemented backend {_backend(self)}")
        return self.to(dtype)

    def __float__(self):
        raise _unsupported("_local_scalar_dense", self)

    __int__ = __bool__ = __index__ = __complex__ = item = tolist = __float__

    # ------------------------------------------------------------------ structure
    def _nbatch(self):
        return self._cidx.ndim - 1

    def _block(self):
        nb = self._nbatch()
        return tuple(self._val._shape[nb + 1:nb + 3]) if self.layout in _BLOCKED else (1, 1)

    def sparse_dim(self):
        return 2

    def dense_dim(self):
        return len(self._shape) - self._nbatch() - 2

    def _nnz(self):
        return self._pidx._shape[-1]

    def crow_indices(self):
        if self.layout not in _ROW:
            raise _layout_error("crow_indices", self, "sparse row compressed")
        return self._cidx

    def col_indices(self):
        if self.layout not in _ROW:
            raise _layout_error("col_indices", self, "sparse row compressed")
        return self._pidx

    def ccol_indices(self):
        if self.layout in _ROW:
            raise _layout_error("ccol_indices", self, "sparse column compressed")
        return self._cidx

    def row_indices(self):
        if self.layout in _ROW:
            raise _layout_error("row_indices", self, "sparse column compressed")
        return self._pidx

    def values(self):
        return _tracked("ValuesBackward0", lambda c: c._val.detach(), lambda g: (self._with_values(g),), self)

    def _coo_only(name):
        def f(self, *args, **kwargs):
            raise _layout_error(name, self, "sparse coordinate")
        f.__name__ = name
        return f

    indices = _coo_only("indices")
    _indices = _coo_only("_indices")
    _values = _coo_only("_values")
    coalesce = _coo_only("coalesce")
    is_coalesced = _coo_only("is_coalesced")
    del _coo_only

    def _with_values(self, val):
        """A compressed tensor with this one's indices and ``val`` (untracked)."""
        return CompressedTensor._new(self._cidx, self._pidx, val, self._shape, self.layout)

    # ------------------------------------------------------------------ conversions
    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense tensor; its gradient is compressed on this tensor's entries."""
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_csr_to_dense")
        return _tracked("ToDenseBackward0", _to_dense, lambda g: (_mask(g, self),), self)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """COO (``layout=None``) or another compressed layout (see ``to_sparse_csr``...)."""
        if layout is None or layout is sparse_coo:
            if sparse_dim is not None and sparse_dim != self._nbatch() + 2:
                raise RuntimeError(f"to_sparse: conversion from {NAMES[self.layout]} to Sparse with sparse_dim "
                                   f"argument !={self._nbatch() + 2} is not supported")
            return _tracked("ToSparseBackward1", _to_coo, lambda g: (_mask(g, self),), self)
        if layout is self.layout and blocksize is not None:
            raise RuntimeError(f"to_sparse: conversion from {NAMES[self.layout]} to {NAMES[layout]} with blocksize "
                               "argument given is not supported")
        return convert(self, layout, blocksize, dense_dim, "to_sparse")

    def to_sparse_csr(self, dense_dim=None):
        return convert(self, sparse_csr, None, dense_dim)

    def to_sparse_csc(self, dense_dim=None):
        return convert(self, sparse_csc, None, dense_dim)

    def to_sparse_bsr(self, blocksize, dense_dim=None):
        return convert(self, sparse_bsr, blocksize, dense_dim)

    def to_sparse_bsc(self, blocksize, dense_dim=None):
        return convert(self, sparse_bsc, blocksize, dense_dim)

    def to_sparse_coo(self):
        return self.to_sparse()

    def detach(self):
        return self._with_values(self._val.detach())

    @property
    def data(self):
        return self.detach()

    def clone(self, *, memory_format=None):
        return _tracked("CloneBackward0", lambda c: CompressedTensor._new(
            c._cidx.clone(), c._pidx.clone(), c._val.clone(), c._shape, c.layout), lambda g: (g,), self)

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``: indices and values moved together."""
        dev, dt, copy = self._to_args(args, kwargs)
        if dev == self.device and dt is self.dtype and not copy:
            return self
        src_dev, src_dt = self.device, self.dtype

        def fwd(c):
            return CompressedTensor._new(c._cidx.to(dev), c._pidx.to(dev), c._val.to(dev).to(dt), c._shape, c.layout)
        return _tracked("ToCopyBackward0", fwd, lambda g: (g.to(src_dev).to(src_dt),), self)

    def __reduce_ex__(self, proto):
        from .sparse._compressed import _rebuild
        return (_rebuild, (self._cidx.cpu(), self._pidx.cpu(), self._val.detach().cpu(), self._shape,
                           self.layout, str(self.device), self.requires_grad))

    def __repr__(self, *, tensor_contents=None):
        from .sparse._compressed import _repr
        return _repr(self)

    # ------------------------------------------------------------------ arithmetic on the values
    def mul(self, other):
        if isinstance(other, Tensor) and other.__class__ is not Tensor:
            if isinstance(other, CompressedTensor):
                other = other.to_dense()
            else:
                raise _unsupported("mul", self)
        if isinstance(other, Tensor) and other.ndim:
            return _tracked("MulBackward0", lambda c, d: c._with_values(c._val * _mask(d, c)._val),
                            lambda g: (_mask(g, self) * other, (_mask(g, self) * self.detach()).to_dense()),
                            self, other)
        if isinstance(other, Tensor):
            return _tracked("MulBackward0", lambda c, s: c._with_values(c._val * s),
                            lambda g: (g * other, (_mask(g, self)._val * self._val.detach()).sum()), self, other)
        return _tracked("MulBackward0", lambda c: c._with_values(c._val * other), lambda g: (g * other,), self)

    __mul__ = __rmul__ = mul

    def mul_(self, other):
        self._val = self._val.mul(other)    # (a fresh values tensor: earlier gradients keep theirs)
        return self

    def div(self, *args, **kwargs):
        raise RuntimeError(f"unsupported tensor layout: {NAMES[self.layout]}")

    __truediv__ = __rtruediv__ = __floordiv__ = div

    def neg(self):
        return self.mul(-1)

    __neg__ = neg

    def add(self, other, *, alpha=1):
        if isinstance(other, CompressedTensor):
            return _add(self, other, alpha)
        if isinstance(other, Tensor):
            return self.to_dense() + (other * alpha if alpha != 1 else other)
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                           f"{list(self._shape)} while other has size [] (FYI: op2-sparse addition does not "
                           "currently support broadcasting)")

    __add__ = add

    def __radd__(self, other):
        return self.add(other)

    def sum(self, dim=None, keepdim=False, dtype=None):
        if dim is None:
            return _tracked("SumBackward0", lambda c: c._val.sum(dtype=dtype),
                            lambda g: (self._with_values(g.expand(self._val._shape).to(self.dtype)),), self)
        if not keepdim:
            raise RuntimeError("reduction operations on CSR tensors with keepdim=False is unsupported")
        return self.to_dense().sum(dim, keepdim=True, dtype=dtype).to_sparse(layout=self.layout,
                                                                              blocksize=_blocksize(self))

    def t(self):
        if len(self._shape) > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {len(self._shape)}D")
        return self.transpose(0, 1, _name="TBackward0")

    def transpose(self, dim0, dim1, *, _name="TransposeBackward0"):
        """Swapping the two sparse dims turns CSR into CSC (BSR into BSC) over the same arrays, as PyTorch."""
        nd, nb = len(self._shape), self._nbatch()
        d0, d1 = sorted((_wrap_dim(dim0, nd), _wrap_dim(dim1, nd)))
        kind = ["Batch" if d < nb else "Sparse" if d < nb + 2 else "Dense" for d in (d0, d1)]
        if kind[0] != kind[1] or kind[0] != "Sparse" and d0 != d1:
            raise RuntimeError(f"transpose(): can only transpose dimensions of the same type (Batch, Sparse, Dense), "
                               f"got {d0}({kind[0]}) and {d1}({kind[1]})")
        if d0 == d1:
            return self
        flip = {sparse_csr: sparse_csc, sparse_csc: sparse_csr, sparse_bsr: sparse_bsc, sparse_bsc: sparse_bsr}

        def fwd(c):
            val = c._val.transpose(nb + 1, nb + 2) if c.layout in _BLOCKED else c._val
            shape = list(c._shape)
            shape[d0], shape[d1] = shape[d1], shape[d0]
            return CompressedTensor._new(c._cidx, c._pidx, val, shape, flip[c.layout])
        return _tracked(_name, fwd, lambda g: (g.transpose(d0, d1),), self)

    def mm(self, mat2):
        from .ops.sparse_compressed_mm import compressed_mm
        return compressed_mm(self, mat2)

    matmul = __matmul__ = mm

    def __rmatmul__(self, other):
        from .ops.sparse_compressed_mm import dense_compressed_mm
        return dense_compressed_mm(other, self)


# ---------------------------------------------------------------------------------- the one coordinate form
def _blocksize(c):
    return c._block() if c.layout in _BLOCKED else None


def _grid(shape, nb, block):
    return shape[nb] // block[0], shape[nb + 1] // block[1]


def _coords(c):
    """Each entry's (flat batch, block row, block column), (B * nnz,) int64 each, in storage order."""
    from .ops.creation import arange
    from .ops.search import searchsorted
    nb = c._nbatch()
    b, nnz, n = _numel(c._shape[:nb]), c._pidx._shape[-1], c._cidx._shape[-1] - 1
    ent = arange(nnz, device=c.device).expand(b, nnz).contiguous()
    if b * nnz == 0:        # (no entries: nothing to search)
        return ent.reshape(-1), ent.reshape(-1), ent.reshape(-1)
    comp = searchsorted(c._cidx.reshape(b, n + 1).to(D.int64), ent, right=True) - 1    # (b, nnz)
    plain = c._pidx.reshape(b, nnz).to(D.int64)
    bid = arange(b, device=c.device).unsqueeze(1).expand(b, nnz)
    row, col = (comp, plain) if c.layout in _ROW else (plain, comp)
    return bid.reshape(-1), row.reshape(-1), col.reshape(-1)


def _flat_keys(c):
    """(B * nnz,) each entry's row-major position in the (B, rows, columns) grid of blocks."""
    bid, row, col = _coords(c)
    mb, nbk = _grid(c._shape, c._nbatch(), c._block())
    return (bid * mb + row) * nbk + col


def _from_parts(bid, row, col, val, shape, nb, layout, block, index_dtype=D.int64):
    """A compressed tensor from its entries' coordinates (unique, any order) and values (K, *block, *dense)."""
    from .ops.creation import arange
    from .ops.search import bincount, searchsorted
    from .ops.sort import argsort
    mb, nbk = _grid(shape, nb, block)
    nbatch = _numel(shape[:nb])
    comp, plain, n, m = (row, col, mb, nbk) if layout in _ROW else (col, row, nbk, mb)
    grp = bid * n + comp                                    # (K,) the row (column) of each entry, over batches
    order = argsort(grp * m + plain)
    grp, plain, val = grp[order], plain[order], val[order]
    k = grp._shape[0]
    if nbatch > 1:
        counts = bincount(bid, minlength=nbatch).tolist()
        if min(counts) != max(counts):
            raise RuntimeError("Expect the same number of specified elements per batch.")
    nnz = k // nbatch if nbatch else 0
    dev = val.device
    ptr = searchsorted(grp, arange(nbatch * n + 1, device=dev))
    at = (arange(nbatch, device=dev) * n).unsqueeze(1) + arange(n + 1, device=dev)         # (B, n + 1)
    cidx = ptr[at.reshape(-1)].reshape(nbatch, n + 1) - (arange(nbatch, device=dev) * nnz).unsqueeze(1)
    batch = tuple(shape[:nb])
    return CompressedTensor._new(cidx.reshape(batch + (n + 1,)).to(index_dtype),
                                 plain.reshape(batch + (nnz,)).to(index_dtype),
                                 val.reshape(batch + (nnz,) + val._shape[1:]), shape, layout)


def _blocks_view(d, nb, block, blocked):
    """Dense (*batch, M, N, *dense) as (B * Mb * Nb, *block, *dense) rows, one per block position."""
    shape = d._shape
    mb, nbk = _grid(shape, nb, block)
    dense = shape[nb + 2:]
    b = _numel(shape[:nb])
    if not blocked:
        return d.reshape((b * mb * nbk,) + dense)
    x = d.reshape((b, mb, block[0], nbk, block[1]) + dense).transpose(2, 3)        # (B, Mb, Nb, r, c, *dense)
    return x.reshape((b * mb * nbk,) + tuple(block) + dense)


def _to_dense(c):
    from .ops.creation import zeros
    nb, block, blocked = c._nbatch(), c._block(), c.layout in _BLOCKED
    mb, nbk = _grid(c._shape, nb, block)
    b = _numel(c._shape[:nb])
    val = c._val.reshape((-1,) + c._val._shape[nb + 1:])
    rows = zeros((b * mb * nbk,) + val._shape[1:], dtype=c.dtype, device=c.device).index_add(0, _flat_keys(c), val)
    if not blocked:
        return rows.reshape(c._shape)
    dense = c._shape[nb + 2:]
    x = rows.reshape((b, mb, nbk) + tuple(block) + dense).transpose(2, 3)          # (B, Mb, r, Nb, c, *dense)
    return x.reshape(c._shape)


def _mask(d, c):
    """``d``'s elements at the entries of ``c``, compressed with ``c``'s indices (``d`` dense, COO or compressed)."""
    if d.__class__ is not Tensor:
        if isinstance(d, CompressedTensor) and d._cidx is c._cidx and d._pidx is c._pidx and d.layout is c.layout:
            return d        # (one pattern: a transpose shares the arrays under the other layout)
        d = d.to_dense()
    nb, blocked = c._nbatch(), c.layout in _BLOCKED
    rows = _blocks_view(d, nb, c._block(), blocked)
    return c._with_values(rows.index_select(0, _flat_keys(c)).reshape(c._val._shape))


def _to_coo(c):
    """The COO tensor of ``c``'s elements (blocks expanded), coalesced when row-compressed and unblocked."""
    from .ops.creation import arange
    from .ops.movement import stack
    from ._sparse import _unravel
    nb, (r, cb) = c._nbatch(), c._block()
    bid, row, col = _coords(c)
    val = c._val.reshape((-1,) + c._val._shape[nb + 1:])
    if c.layout in _BLOCKED:       # each block's r * c elements, in row-major order within the block
        k = bid._shape[0]
        i = arange(r, device=c.device).reshape(1, r, 1).expand(k, r, cb).reshape(-1)
        j = arange(cb, device=c.device).reshape(1, 1, cb).expand(k, r, cb).reshape(-1)
        rep = arange(k, device=c.device).repeat_interleave(r * cb)
        bid, row, col = bid[rep], row[rep] * r + i, col[rep] * cb + j
        val = val.reshape((k * r * cb,) + val._shape[3:])
    ind = stack([row, col]) if nb == 0 else stack(list(_unravel(bid, c._shape[:nb])) + [row, col])
    return SparseTensor._new(ind, val, c._shape, c.layout is sparse_csr)


def _check_block(shape, nb, blocksize, name):
    block = (int(blocksize),) * 2 if isinstance(blocksize, int) else tuple(int(b) for b in blocksize)
    if len(block) != 2:
        raise RuntimeError(f"{name}: blocksize needs to be a tuple of size 2, but got {len(block)}")
    if shape[nb] % block[0] or shape[nb + 1] % block[1]:
        raise RuntimeError(f"{name}: tensor sparse size ({shape[nb]},{shape[nb + 1]}) must be divisible by given "
                           f"blocksize ({block[0]},{block[1]})")
    return block


def from_dense(t, layout, blocksize=None, dense_dim=None):
    """Dense ``t`` (*batch, M, N, *dense) in ``layout``: its blocks (elements) with a nonzero, as PyTorch."""
    name = {sparse_csr: "csr", sparse_csc: "csc", sparse_bsr: "bsr", sparse_bsc: "bsc"}[layout]
    dd = 0 if dense_dim is None else int(dense_dim)
    if t.ndim < 2:
        raise RuntimeError(f"dense_to_sparse_{name}: expected the input tensor to have at least 2 dimensions, "
                           f"but got {t.ndim}")
    if not 0 <= dd <= t.ndim - 2:
        raise RuntimeError(f"dense_to_sparse_{name}: dense_dim argument must be in [0,{t.ndim - 2}] range, but {dd} "
                           "is given")
    nb, blocked = t.ndim - 2 - dd, layout in _BLOCKED
    if blocked and blocksize is None:
        raise RuntimeError(f"dense_to_sparse: conversion from Strided to {NAMES[layout]} without blocksize argument "
                           "given is not supported")
    block = _check_block(t._shape, nb, blocksize, f"dense_to_sparse_{name}") if blocked else (1, 1)
    if not blocked and blocksize is not None:
        raise RuntimeError(f"to_sparse: conversion from Strided to {NAMES[layout]} with blocksize argument given "
                           "is not supported")

    def fwd(t):
        rows = _blocks_view(t, nb, block, blocked)
        nz = (rows != 0).reshape(rows._shape[0], -1).any(1) if rows.ndim > 1 else rows != 0
        key = nz.nonzero().reshape(-1)
        mb, nbk = _grid(t._shape, nb, block)
        if not mb * nbk:
            return _from_parts(key, key, key, rows.index_select(0, key), t._shape, nb, layout, block)
        return _from_parts(key // (mb * nbk), (key // nbk) % mb, key % nbk, rows.index_select(0, key), t._shape, nb,
                           layout, block)
    bwd_name = "ToSparse" + name.capitalize() + "Backward0"
    return _tracked(bwd_name, fwd, lambda g: (g.to_dense() if g.__class__ is not Tensor else g,), t)


def convert(c, layout, blocksize, dense_dim, name=None):
    """A compressed tensor in another compressed layout, through the coordinates (unblocked) or dense."""
    short = {sparse_csr: "csr", sparse_csc: "csc", sparse_bsr: "bsr", sparse_bsc: "bsc"}[layout]
    name = name or f"to_sparse_{short}"
    if layout not in COMPRESSED:
        raise RuntimeError(f"to_sparse: conversion to {layout} is not implemented in ttorch")
    if dense_dim is not None:
        raise RuntimeError(f"{name}: conversion from {NAMES[c.layout]} to {NAMES[layout]} with dense_dim argument "
                           "given is not supported")
    if c.layout in _BLOCKED and layout not in _BLOCKED:
        raise RuntimeError(f"sparse_compressed_to_sparse_{short}: expected SparseCsr or SparseCsc layout but got "
                           f"{NAMES[c.layout]}")
    nb = c._nbatch()
    if layout in _BLOCKED and blocksize is None:
        if layout is c.layout:
            return c
        raise RuntimeError(f"to_sparse: conversion from {NAMES[c.layout]} to {NAMES[layout]} without blocksize "
                           "argument given is not supported")
    block = _check_block(c._shape, nb, blocksize, f"sparse_compressed_to_sparse_{short}") \
        if layout in _BLOCKED else None
    if c.layout in _BLOCKED and block != c._block():
        where = name if layout is c.layout else f"sparse_compressed_to_sparse_{short}"
        raise RuntimeError(f"{where}: conversion from {NAMES[c.layout]} to {NAMES[layout]} with blocksize changed "
                           f"from {list(c._block())} to {list(block)} is not supported")
    if layout is c.layout:
        return c

    def fwd(c):
        if layout in _BLOCKED:
            with grad_mode.no_grad():
                return from_dense(_to_dense(c), layout, block, c.dense_dim())
        return _coo_to_compressed(_to_coo(c), layout, nb, c._cidx.dtype)
    bwd_name = f"ToSparse{short.capitalize()}Backward0"
    return _tracked(bwd_name, fwd, lambda g: (_mask(g, c),), c)


def _add(a, b, alpha):
    """Sum of two compressed tensors of one layout: the union of their entries (through COO)."""
    if a._shape != b._shape:
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size {list(a._shape)} "
                           f"while other has size {list(b._shape)} (FYI: op2-sparse addition does not currently "
                           "support broadcasting)")
    if a.layout is not b.layout:
        raise RuntimeError(f"add: expected 'self' and 'other' to have the same layout, got {NAMES[a.layout]} and "
                           f"{NAMES[b.layout]}")
    if a._cidx is b._cidx and a._pidx is b._pidx:      # one pattern (a gradient summed by the engine)
        return _tracked("AddBackward0", lambda x, y: x._with_values(x._val + y._val * alpha),
                        lambda g: (g, g * alpha), a, b)
    layout, block = a.layout, _blocksize(a)

    def fwd(x, y):
        from ._sparse import _coalesce
        with grad_mode.no_grad():
            s = _coalesce(_to_coo(x).add(_to_coo(y) * alpha))
            return s.to_dense().to_sparse(layout=layout, blocksize=block) if block else \
                _coo_to_compressed(s, layout, x._nbatch(), x._cidx.dtype)
    return _tracked("AddBackward0", fwd, lambda g: (_mask(g, a), _mask(g, b) * alpha), a, b)


def _coo_to_compressed(s, layout, nb, index_dtype=D.int64):
    """Coalesced COO ``s`` (sparse dims: batch..., rows, columns) as an unblocked compressed tensor."""
    bid = _keys(s._ind[:nb], s._shape[:nb]) if nb else s._ind[0] * 0
    return _from_parts(bid, s._ind[nb], s._ind[nb + 1], s._val, s._shape, nb, layout, (1, 1), index_dtype)


def coo_to_compressed(s, layout, blocksize=None, dense_dim=None):
    """``COO.to_sparse(layout=...)``: through the coordinates (unblocked) or the dense tensor (blocked)."""
    if layout in _BLOCKED or dense_dim is not None or s.dense_dim():
        d = s.to_dense()
        return from_dense(d, layout, blocksize, dense_dim if dense_dim is not None else s.dense_dim())
    if blocksize is not None:
        raise RuntimeError(f"to_sparse: conversion from Sparse to {NAMES[layout]} with blocksize argument given is "
                           "not supported")
    if s.sparse_dim() < 2:
        raise RuntimeError(f"to_sparse_{NAMES[layout][6:].lower()}: expected at least 2 sparse dimensions, got "
                           f"{s.sparse_dim()}")
    from ._sparse import _pattern
    src = s
    return _tracked(f"ToSparse{NAMES[layout][6:]}Backward0",
                    lambda s: _coo_to_compressed(_pattern(s), layout, s.sparse_dim() - 2),
                    lambda g: (g.to_sparse() if g.__class__ is not Tensor else g,), src)


def _dense_op(op, inputs, attrs):
    """``Op.__call__``'s answer to a compressed input: a zero-preserving unary op on the values
    (``sparse/_unary.py``), a product (``ops/sparse_compressed_mm.py``), else PyTorch's error."""
    from .sparse._unary import binary_handler, unary_handler
    c = next(t for t in inputs if isinstance(t, CompressedTensor))
    r = unary_handler(op, inputs, attrs, c)
    if r is NotImplemented:
        r = binary_handler(op, inputs, attrs, c)
    if r is not NotImplemented:
        return r
    from .ops.sparse_compressed_mm import op_handler
    r = op_handler(op, inputs, attrs)
    if r is not NotImplemented:
        return r
    if ("_public" in attrs or op.family == "binary") and op.name != "nan_to_num":  # elementwise, no sparse form
        raise RuntimeError(f"unsupported tensor layout: {NAMES[c.layout]}")
    raise _unsupported(op.name, c)


_op.SUBCLASS_OPS[CompressedTensor] = _dense_op
