"""Sparse (COO) by dense matrix products: ``ttorch.sparse.mm``, ``ttorch.spmm``, ``ttorch.sparse.addmm``,
and ``ttorch.mm``/``matmul``/``@`` when an operand is sparse (``ttorch/_sparse.py`` holds the layout).

The primitive op ``sparse_mm`` multiplies a matrix given by its entries (``rows``, ``cols``, ``vals``;
``rows`` sorted, as a coalesced tensor's are) by a dense (k, n) matrix into a dense (m, n) one:

* cpu: each entry's value times its dense row, summed per output row with ``np.add.reduceat``
  over the sorted rows (no SciPy);
* cuda: CSR row pointers by ``searchsorted``, then one program per (output row, column block)
  walks its row's entries in order: no atomics, so the sum's order, and the result, is the same
  every run;
* backward: ``d vals = rowwise dot of G[rows] and D[cols]`` and ``d D = S^T @ G``, the same op
  over the entries sorted by column (stable). Both are ttorch ops, so they differentiate again.

Through ``sparse.mm`` a sparse operand that requires grad gets a sparse gradient on its coalesced
entries (PyTorch's ``sparse.mm`` semantics); the dense operand a dense one. Compressed operands (CSR...)
are sent on to ``sparse_compressed_mm.py``, which runs the same op over their elements.
"""
import functools

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import launch, cdiv, next_pow2
from ._op import Op
from .elementwise import tl_dtype
from . import matmul as _dense


@triton.jit
def _spmm_kernel(out_ptr, crow_ptr, col_ptr, val_ptr, d_ptr, N, s_dk, s_dn, ACC: tl.constexpr,
                 BLOCK_N: tl.constexpr):
    # out (M, N) contiguous; row r sums val[j] * D[col[j], :] for j in [crow[r], crow[r + 1]), in order
    r = tl.program_id(0)
    offs = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = offs < N
    start = tl.load(crow_ptr + r)
    end = tl.load(crow_ptr + r + 1)
    acc = tl.zeros([BLOCK_N], dtype=ACC)
    for j in range(start, end):
        c = tl.load(col_ptr + j)
        v = tl.load(val_ptr + j).to(ACC)
        d = tl.load(d_ptr + c * s_dk + offs * s_dn, mask=mask, other=0).to(ACC)
        acc += v * d
    tl.store(out_ptr + r.to(tl.int64) * N + offs, acc.to(out_ptr.dtype.element_ty), mask=mask)


def _acc(dt):
    return D.float64 if dt is D.float64 else D.float32


def _spmm_cpu(rows, cols, vals, dense, *, m):
    acc = _acc(D.from_numpy_dtype(vals.dtype)).np
    out = np.zeros((m, dense.shape[1]), dtype=acc)
    if rows.shape[0]:
        prod = vals.astype(acc)[:, None] * dense[cols].astype(acc)      # (nnz, n)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])      # where each row's run begins
        out[rows[starts]] = np.add.reduceat(prod, starts, axis=0)
    return out.astype(vals.dtype)


def _block_n(n):
    return max(16, min(next_pow2(n), 128))


def _spmm_cuda(rows, cols, vals, dense, *, m):
    from .creation import arange, zeros
    from .search import searchsorted
    n = dense._shape[1]
    if rows._shape[0] == 0 or m == 0 or n == 0:
        return zeros((m, n), dtype=vals.dtype, device=vals.device)
    out = Tensor._empty((m, n), vals.dtype, vals.device)
    crow = searchsorted(rows, arange(m + 1, device=rows.device))       # (m + 1,) CSR row pointers
    bn = _block_n(n)
    launch(_spmm_kernel, (m, cdiv(n, bn)), out, crow, cols.contiguous(), vals.contiguous(), dense, n,
           *dense.stride(), ACC=tl_dtype(_acc(vals.dtype)), BLOCK_N=bn, num_warps=max(1, min(4, bn // 32)))
    return out


def _spmm_bw(ctx, g):
    rows, cols, vals, dense = ctx.inputs
    gv = gd = None
    if ctx.needs[2]:
        gv = (g.index_select(0, rows) * dense.index_select(0, cols)).sum(1)
    if ctx.needs[3]:
        from .sort import argsort
        order = argsort(cols, stable=True)      # S^T's entries, by output row (S's column)
        gd = _spmm(cols[order], rows[order], vals[order], g, m=dense._shape[0])
    return None, None, gv, gd


def _specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        for bn in (16, 128):
            sig = {"out_ptr": ptr(dt), "crow_ptr": ptr(D.int64), "col_ptr": ptr(D.int64), "val_ptr": ptr(dt),
                   "d_ptr": ptr(dt), "N": "i32", "s_dk": "i32", "s_dn": "i32"}
            specs.append(KernelSpec(_spmm_kernel, sig, {"ACC": tl_dtype(_acc(dt)), "BLOCK_N": bn},
                                    num_warps=max(1, min(4, bn // 32)), label=f"spmm {dt} n{bn}"))
    return specs


_spmm = Op("sparse_mm", cpu=_spmm_cpu, cuda=_spmm_cuda, backward=_spmm_bw, kernels=_specs, family="matmul",
           doc="rows-sorted COO (rows, cols, vals) @ dense: the product behind ttorch.sparse.mm")


# ------------------------------------------------------------------------------- public functions
def _check(s, d, name="addmm"):
    from .._sparse import SparseTensor
    if not isinstance(d, Tensor) or isinstance(d, SparseTensor):
        raise TypeError(f"{name}: expected a dense (strided) second operand, got {type(d).__name__}")
    if s.sparse_dim() != 2 or s.dense_dim() != 0:
        raise RuntimeError(f"{name}: matrices expected, got {s.sparse_dim()}D sparse, {s.dense_dim()}D dense tensor")
    if d.ndim != 2:
        raise RuntimeError(f"{name}: matrices expected, got {d.ndim}D tensor")
    if d._shape[0] != s._shape[1]:
        raise RuntimeError(f"{name}: Argument #3 (dense): Expected dim 0 size {s._shape[1]}, got {d._shape[0]}")
    if d.dtype is not s.dtype:
        raise RuntimeError(f"expected scalar type {D.scalar_name(s.dtype)} but found {D.scalar_name(d.dtype)}")
    if d.device != s.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{s.device} and {d.device}!")


def _product(s, d):
    """Coalesced sparse ``s`` (untracked) @ dense ``d`` through the op (which records ``d``'s gradient)."""
    return _spmm(s._ind[0], s._ind[1], s._val, d, m=s._shape[0])


def _sparse_grad(sc, d, g):
    """The gradient for the sparse operand: sparse on ``sc``'s entries, (G[rows] * D[cols]).sum(1)."""
    return sc._with_values((g.index_select(0, sc._ind[0]) * d.index_select(0, sc._ind[1])).sum(1))


def sparse_mm(mat1, mat2, *, _dense_grad=False):
    """Product of a sparse COO matrix (m, k) and a dense (k, n) one: a dense (m, n) matrix
    (``mat2`` sparse and ``mat1`` dense: dense as well; both sparse: sparse, through dense).

    A sparse ``mat1`` that requires grad gets a sparse gradient on its (coalesced) entries; through
    ``ttorch.mm``, ``matmul``, ``spmm`` and ``@`` a dense one, ``G @ mat2^T``, as in PyTorch.

    Example::

        >>> s = ttorch.sparse_coo_tensor([[0, 1], [1, 0]], [2., 3.], (2, 2))
        >>> ttorch.sparse.mm(s, ttorch.ones(2, 1))
        tensor([[2.],
                [3.]])
    """
    from .._sparse import SparseTensor, _tracked
    from .._sparse_compressed import CompressedTensor
    if isinstance(mat1, CompressedTensor) or isinstance(mat2, CompressedTensor):    # (CSR...: their own products)
        from .sparse_compressed_mm import compressed_mm, dense_compressed_mm
        if isinstance(mat1, CompressedTensor):
            return compressed_mm(mat1, mat2, _dense_grad)
        return dense_compressed_mm(mat1, mat2, _dense_grad)
    if not isinstance(mat1, SparseTensor):
        if isinstance(mat2, SparseTensor):
            return dense_sparse_mm(mat1, mat2, _dense_grad=_dense_grad)
        return _dense.mm(mat1, mat2)
    if isinstance(mat2, SparseTensor):
        return (mat1.to_dense() @ mat2.to_dense()).to_sparse()
    _check(mat1, mat2)
    sc = mat1.coalesce().detach()
    if not mat1.requires_grad:
        return _product(sc, mat2)
    d = mat2.detach()
    return _tracked("SparseAddmmBackward0", lambda s, d: _product(sc, d),
                    lambda g: (g @ d.t() if _dense_grad else _sparse_grad(sc, d, g),
                               _product(_csc(sc), g) if mat2.requires_grad else None), mat1, mat2)


def _csc(sc):
    """``sc`` (coalesced) transposed and coalesced: the operand of ``S^T @ G``."""
    from .._sparse import SparseTensor
    from .sort import argsort
    order = argsort(sc._ind[1], stable=True)
    return SparseTensor._new(sc._ind.flip(0)[:, order], sc._val[order], (sc._shape[1], sc._shape[0]), True)


def dense_sparse_mm(mat1, mat2, *, _dense_grad=True):
    """dense (m, k) @ sparse (k, n) -> dense (m, n), as ``(mat2^T @ mat1^T)^T``."""
    return sparse_mm(mat2.t(), mat1.t(), _dense_grad=_dense_grad).t()


def sparse_addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``, ``mat1`` sparse (``ttorch.sparse.addmm``)."""
    prod = sparse_mm(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    return prod if beta == 0 else input * beta + prod if beta != 1 else input + prod


def _is_sparse(t):
    """A sparse operand: COO (``is_sparse``) or compressed (CSR..., ``_sparse_compressed.py``)."""
    if t.__class__ is Tensor:
        return False
    from .._sparse_compressed import CompressedTensor
    return getattr(t, "is_sparse", False) or isinstance(t, CompressedTensor)


def _with_sparse(dense_fn, sparse_fn):
    """``dense_fn`` with a sparse first (or second) operand sent to ``sparse_fn``: ttorch.mm and kin."""
    @functools.wraps(dense_fn)
    def f(input, other, *args, **kwargs):
        if _is_sparse(input) or _is_sparse(other):
            if kwargs.get("out") is not None:
                raise RuntimeError(f"{dense_fn.__name__}: out= is not supported with sparse operands in ttorch")
            kwargs.pop("out", None)
            return sparse_fn(input, other, *args, **kwargs)
        return dense_fn(input, other, *args, **kwargs)
    return f


def _addmm_any(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    if _is_sparse(mat1) or _is_sparse(mat2) and not getattr(mat2, "is_sparse", False):
        if out is not None:
            raise RuntimeError("addmm: out= is not supported with sparse operands in ttorch")
        return sparse_addmm(input, mat1, mat2, beta=beta, alpha=alpha)
    return _dense.addmm(input, mat1, mat2, beta=beta, alpha=alpha, out=out)


def spmm(input, mat2):
    """``ttorch.spmm``: ``ttorch.mm`` with a sparse ``input`` (its gradient dense, as ``mm``'s)."""
    return sparse_mm(input, mat2, _dense_grad=True)


mm = _with_sparse(_dense.mm, spmm)
matmul = _with_sparse(_dense.matmul, spmm)
addmm = functools.wraps(_dense.addmm)(_addmm_any)
