"""Products with sparse compressed matrices (CSR, CSC, BSR, BSC; ``ttorch/_sparse_compressed.py``):
``c @ d``, ``d @ c``, ``ttorch.mm``/``addmm``/``sparse.mm``/``sparse.addmm``, ``F.linear`` with a compressed
weight, and ``ttorch.sparse.sampled_addmm``.

Each product runs ``sparse_mm.py``'s primitive op ``sparse_mm`` (rows-sorted entries @ dense: a CSR
Triton kernel on cuda, ``np.add.reduceat`` on cpu) over the matrix's elements: a CSR matrix's own
arrays, other layouts' elements sorted by row. The gradient of the compressed operand is compressed on
its entries, ``(G[rows] * D[cols]).sum(1)``, and the dense operand's is ``C^T @ G``, the same op over the
entries sorted by column, as PyTorch's (its ``MmBackward0`` gives a CSR gradient on the same pattern).

``sampled_addmm(input, m1, m2)``: ``beta * input + alpha * (m1 @ m2)`` at ``input``'s entries only, the
primitive op ``sampled_addmm``: on cuda one program per block of entries loads their rows of ``m1`` and
columns of ``m2`` a K-tile at a time and reduces in registers (never the (nnz, k) gathers a composed form
makes); on cpu the NumPy gather. Its backward: ``beta * G`` to the values, ``G_s @ m2^T`` and ``(G_s^T @
m1)^T`` (``sparse_mm`` over the entries) to the dense operands.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._layout import sparse_csr
from .._sparse import _tracked
from .._sparse_compressed import NAMES, CompressedTensor, _blocksize, _coords, _layout_error, _mask, _to_coo
from .._tensor import Tensor
from ._launch import cdiv, launch
from ._op import Op
from .elementwise import tl_dtype
from .sparse_mm import _acc, _spmm


@triton.jit
def _sampled_kernel(out_ptr, row_ptr, col_ptr, in_ptr, a_ptr, b_ptr, NNZ, K, s_am, s_ak, s_bk, s_bn, beta, alpha,
                    HAS_IN: tl.constexpr, ACC: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_K: tl.constexpr):
    # out[e] = alpha * dot(A[row[e], :], B[:, col[e]]) (+ beta * in[e]) for a block of BLOCK_E entries
    e = tl.program_id(0) * BLOCK_E + tl.arange(0, BLOCK_E)
    emask = e < NNZ
    r = tl.load(row_ptr + e, mask=emask, other=0)
    c = tl.load(col_ptr + e, mask=emask, other=0)
    acc = tl.zeros([BLOCK_E], dtype=ACC)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        m = emask[:, None] & (k < K)[None, :]
        av = tl.load(a_ptr + r[:, None] * s_am + k[None, :] * s_ak, mask=m, other=0).to(ACC)
        bv = tl.load(b_ptr + k[None, :] * s_bk + c[:, None] * s_bn, mask=m, other=0).to(ACC)
        acc += tl.sum(av * bv, axis=1)
    res = acc * alpha
    if HAS_IN:      # (beta == 0 ignores the input's values: their nan/inf do not propagate, as addmm's)
        res += tl.load(in_ptr + e, mask=emask, other=0).to(ACC) * beta
    tl.store(out_ptr + e, res.to(out_ptr.dtype.element_ty), mask=emask)


def _sampled_cpu(rows, cols, vals, a, b, *, beta, alpha):
    acc = _acc(D.from_numpy_dtype(a.dtype)).np
    dots = np.einsum("ek,ek->e", a[rows].astype(acc), b[:, cols].T.astype(acc))
    out = dots * alpha if beta == 0 else vals.astype(acc) * beta + dots * alpha
    return out.astype(a.dtype)


_BLOCK_E, _BLOCK_K = 32, 32


def _sampled_cuda(rows, cols, vals, a, b, *, beta, alpha):
    nnz = rows._shape[0]
    if a.dtype is D.float64 and (float(np.float32(alpha)) != alpha or float(np.float32(beta)) != beta):
        # the kernel's scalars are fp32: scale in float64 outside it
        dots = _sampled_cuda(rows, cols, vals, a, b, beta=0, alpha=1)
        return dots * alpha if beta == 0 else vals * beta + dots * alpha
    out = Tensor._empty((nnz,), a.dtype, a.device)
    if nnz:
        launch(_sampled_kernel, (cdiv(nnz, _BLOCK_E),), out, rows, cols, vals.contiguous(), a, b, nnz, a._shape[1],
               *a.stride(), *b.stride(), float(beta), float(alpha), HAS_IN=beta != 0, ACC=tl_dtype(_acc(a.dtype)),
               BLOCK_E=_BLOCK_E, BLOCK_K=_BLOCK_K, num_warps=4)
    return out


def _sampled_bw(ctx, g):
    from .sort import argsort
    rows, cols, vals, a, b = ctx.inputs
    gv = g * ctx.beta if ctx.needs[2] and ctx.beta != 0 else None
    ga = gb = None
    if ctx.needs[3]:        # G_s @ B^T, the entries being rows-sorted (CSR)
        ga = _spmm(rows, cols, g * ctx.alpha, b.t(), m=a._shape[0])
    if ctx.needs[4]:        # (G_s^T @ A)^T: the entries by column
        order = argsort(cols, stable=True)
        gb = _spmm(cols[order], rows[order], (g * ctx.alpha)[order], a, m=b._shape[1]).t()
    return None, None, gv, ga, gb


def _sampled_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        sig = {"out_ptr": ptr(dt), "row_ptr": ptr(D.int64), "col_ptr": ptr(D.int64), "in_ptr": ptr(dt),
               "a_ptr": ptr(dt), "b_ptr": ptr(dt), "NNZ": "i32", "K": "i32", "s_am": "i32", "s_ak": "i32",
               "s_bk": "i32", "s_bn": "i32", "beta": "fp32", "alpha": "fp32"}
        for has_in in (True, False):
            specs.append(KernelSpec(_sampled_kernel, sig, {"HAS_IN": has_in, "ACC": tl_dtype(_acc(dt)),
                                                           "BLOCK_E": _BLOCK_E, "BLOCK_K": _BLOCK_K},
                                    num_warps=4, label=f"sampled_addmm {dt} in={has_in}"))
    return specs


_sampled = Op("sampled_addmm", cpu=_sampled_cpu, cuda=_sampled_cuda, backward=_sampled_bw, kernels=_sampled_specs,
              family="matmul", doc="alpha * (A @ B) at rows-sorted entries (rows, cols) + beta * vals: the values "
                                   "of ttorch.sparse.sampled_addmm")


def _elements(c):
    """``c``'s (2-D) elements as (rows, cols, value positions), sorted by row: the operand of ``sparse_mm``."""
    from .sort import argsort
    if c.layout is sparse_csr:
        _, rows, cols = _coords(c)
        return rows, cols, None
    s = _to_coo(c)
    rows, cols = s._ind[0], s._ind[1]
    order = argsort(rows * c._shape[1] + cols, stable=True)
    return rows[order], cols[order], order


def _check(c, d, name="addmm"):
    if not isinstance(d, Tensor) or d.__class__ is not Tensor:
        raise TypeError(f"{name}: expected a dense (strided) second operand, got {type(d).__name__}")
    if c._nbatch() or c.dense_dim():
        raise RuntimeError(f"{name}: ttorch multiplies 2-D {NAMES[c.layout]} matrices with no batch or dense "
                           "dimensions only")
    if d.ndim != 2:
        raise RuntimeError(f"{name}: matrices expected, got {d.ndim}D tensor")
    if d._shape[0] != c._shape[1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({c._shape[0]}x{c._shape[1]} and "
                           f"{d._shape[0]}x{d._shape[1]})")
    if d.dtype is not c.dtype:
        raise RuntimeError(f"expected scalar type {D.scalar_name(c.dtype)} but found {D.scalar_name(d.dtype)}")
    if d.device != c.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{c.device} and {d.device}!")


def compressed_mm(c, d, dense_grad=True):
    """Compressed (m, k) @ dense (k, n) -> dense (m, n) (a vector ``d``: (m,)); compressed @ compressed
    -> compressed in ``c``'s layout (through dense). ``c``'s gradient is dense, ``G @ d^T``, as PyTorch's
    ``mm``/``@``/``addmm``/``linear`` give it; compressed on ``c``'s entries with ``dense_grad=False``
    (``ttorch.sparse.mm``). ``d``'s is dense.

    Example::

        >>> c = ttorch.tensor([[0., 1.], [2., 0.]]).to_sparse_csr()
        >>> c @ ttorch.ones(2, 1)
        tensor([[1.],
                [2.]])
    """
    from .creation import zeros
    from .sort import argsort
    if isinstance(d, CompressedTensor):
        return (c.to_dense() @ d.to_dense()).to_sparse(layout=c.layout, blocksize=_blocksize(c))
    if isinstance(d, Tensor) and d.__class__ is Tensor and d.ndim == 1:
        return compressed_mm(c, d.unsqueeze(1), dense_grad).squeeze(1)
    _check(c, d, "mm")
    rows, cols, order = _elements(c)
    m, k = c._shape

    def vals(x):
        v = x._val.reshape(-1)
        return v if order is None else v[order]

    def fwd(c, d):
        return _spmm(rows, cols, vals(c).detach(), d.detach(), m=m)

    def bwd(g):
        gc = gd = None
        if c.requires_grad and dense_grad:
            gc = g @ d.detach().t()
        elif c.requires_grad:       # (G[rows] * D[cols]).sum(1), put back in c's storage order
            gv = (g.index_select(0, rows) * d.detach().index_select(0, cols)).sum(1)
            if order is not None:   # (entry order[i] of c's storage is the i-th sorted one)
                gv = zeros(gv._shape, dtype=gv.dtype, device=gv.device).index_add(0, order, gv)
            gc = c._with_values(gv.reshape(c._val._shape))
        if d.requires_grad:         # C^T @ G: the entries by column
            by_col = argsort(cols, stable=True)
            gd = _spmm(cols[by_col], rows[by_col], vals(c).detach()[by_col], g, m=k)
        return gc, gd
    return _tracked("MmBackward0", fwd, bwd, c, d)


def dense_compressed_mm(d, c, dense_grad=True):
    """Dense (m, k) @ compressed (k, n) -> dense (m, n), as ``(c^T @ d^T)^T`` (``c^T``: the flipped layout)."""
    if d.ndim == 1:
        return compressed_mm(c.t(), d, dense_grad)
    return compressed_mm(c.t(), d.t(), dense_grad).t()


def linear(input, weight, bias=None):
    """``F.linear`` with a compressed ``weight`` (out, in): ``input @ weight^T + bias`` as ``(weight @ input^T)^T``."""
    x = input.reshape(-1, input._shape[-1])
    out = compressed_mm(weight, x.t()).t().reshape(input._shape[:-1] + (weight._shape[0],))
    return out if bias is None else out + bias


def op_handler(op, inputs, attrs):
    """The dense ops a compressed operand reaches through ``SUBCLASS_OPS``: ``linear``; else NotImplemented."""
    if op.name == "linear" and isinstance(inputs[1], CompressedTensor) and not isinstance(inputs[0], CompressedTensor):
        return linear(inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None)
    return NotImplemented


def sampled_addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0, out=None):
    """``beta * input + alpha * (mat1 @ mat2)`` computed only at the entries of CSR ``input``.

    Args:
        input (Tensor): sparse CSR (m, n): the pattern and the values scaled by ``beta``.
        mat1 (Tensor): dense (m, k). mat2 (Tensor): dense (k, n).

    Example::

        >>> c = ttorch.eye(2).to_sparse_csr()
        >>> ttorch.sparse.sampled_addmm(c, ttorch.ones(2, 3), ttorch.ones(3, 2)).to_dense()
        tensor([[4., 0.],
                [0., 4.]])
    """
    if not isinstance(input, CompressedTensor) or input.layout is not sparse_csr:
        if isinstance(input, CompressedTensor):
            raise _layout_error("sampled_addmm", input, "sparse CSR")
        layout = getattr(input, "layout", None)
        raise NotImplementedError(f"Could not run 'aten::sparse_sampled_addmm' with arguments from the "
                                  f"'{'Sparse' if layout is not None and layout._name == 'sparse_coo' else ''}"
                                  f"{'CUDA' if input.is_cuda else 'CPU'}' backend.")
    if out is not None:
        raise RuntimeError("sampled_addmm: out= is not supported in ttorch")
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.__class__ is not Tensor or t.ndim != 2:
            raise RuntimeError(f"sampled_addmm: Expected {name} to be a dense matrix")
    if input._nbatch() or input.dense_dim():
        raise RuntimeError("sampled_addmm: ttorch samples 2-D CSR matrices with no batch or dense dimensions only")
    if mat1.dtype is not mat2.dtype:
        raise RuntimeError(f"sampled_addmm: Expected mat1 and mat2 to have the same dtype, but got "
                           f"{D.scalar_name(mat1.dtype)} and {D.scalar_name(mat2.dtype)}")
    if input.dtype is not mat1.dtype:
        raise RuntimeError(f"sampled_addmm: Expected mat1 and self to have the same dtype, but got "
                           f"{D.scalar_name(mat1.dtype)} and {D.scalar_name(input.dtype)}")
    if mat1._shape[1] != mat2._shape[0]:
        raise RuntimeError(f"sampled_addmm: mat1 and mat2 shapes cannot be multiplied ({mat1._shape[0]}x"
                           f"{mat1._shape[1]} and {mat2._shape[0]}x{mat2._shape[1]})")
    if input._shape[0] != mat1._shape[0]:
        raise RuntimeError("sampled_addmm: self.shape[-2] must match mat1.shape[-2]")
    if input._shape[1] != mat2._shape[1]:
        raise RuntimeError("sampled_addmm: self.shape[-1] must match mat2.shape[-1]")
    from .sort import argsort
    _, rows, cols = _coords(input)
    m, n = input._shape

    def fwd(c, a, b):
        return c._with_values(_sampled(rows, cols, c._val.detach(), a.detach(), b.detach(), beta=beta, alpha=alpha))

    def bwd(g):             # the op's own rule, on the values of G at the pattern
        gv = _mask(g, input)._val                               # (nnz,)
        ga = _spmm(rows, cols, gv * alpha, mat2.detach().t(), m=m) if mat1.requires_grad else None     # G_s @ B^T
        gb = None
        if mat2.requires_grad:
            by_col = argsort(cols, stable=True)
            gb = _spmm(cols[by_col], rows[by_col], (gv * alpha)[by_col], mat1.detach(), m=n).t()    # (G_s^T @ A)^T
        gi = input._with_values(gv * beta) if input.requires_grad else None
        return gi, ga, gb
    return _tracked("SparseSampledAddmmBackward0", fwd, bwd, input, mat1, mat2)
