"""The LU factorization with partial pivoting, ``A = P L U``, for ``ttorch.linalg``: ``lu_factor`` and
``lu_factor_ex`` (the packed form LAPACK's getrf returns), ``lu``, ``lu_solve``; and the older names
``ttorch.lu``, ``lu_unpack``, ``lu_solve``. Batched over leading dims; m x n matrices (square for the
solves).

Two primitive ops, each a Triton kernel (``_linalg_kernels.py``: a program a matrix, held in registers
up to ``MAX_N`` rows and columns, larger ones factored on the host), a NumPy fallback and a backward rule:
- ``_lu``: getf2's right-looking elimination, giving the packed ``LU`` (L's multipliers below the
  diagonal, U on and above it), the 1-based pivots and LAPACK's ``info``; gradient PyTorch's
  ``linalg_lu_backward`` (square, wide and tall), in triangular solves;
- ``_lu_perm``: the pivots (row k swapped with row ``pivots[k] - 1``, in turn) as a permutation,
  not differentiable; ``lu_unpack`` and ``lu_solve`` build on it.
``lu_solve`` is a gather and two triangular solves (``linalg_solve._trsm`` reads only the triangle it
needs of the packed LU), so its gradients reach ``LU`` and ``B``.

Complex input (complex64/complex128) is factored by the NumPy getf2 on the host (there is no complex
kernel; a cuda tensor makes a round trip), choosing pivots by ``|re| + |im|`` as LAPACK's zgetrf does; the
backward and the solves are the real ones with conjugate transposes, as PyTorch's.

Differs from PyTorch: ``pivot=False`` (LU without row exchanges) works on cpu too, where PyTorch's
LAPACK path raises; the pivots' range is checked on cpu only (on cuda that check would synchronize).
"""
import builtins

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd import grad_mode
from ._launch import launch, next_pow2
from ._op import COMPLEX_OK, Op, write_out, write_outs
from ._linalg_kernels import _lu_kernel, _lu_perm_kernel
from .elementwise import tl_dtype
from .linalg_solve import MAX_N, _batched, _block, _host, _options, _raise_info, _well_conditioned, solve_triangular
from .samples import Sample, index, rng

_PERM_MAX = 4096            # rows the permutation kernel holds in one program's registers (8 a thread at most)


# ------------------------------------------------------------------------------ the factorization
def _lu_np(a, *, pivot):
    """getf2 vectorized over the batch (NumPy has no getrf): column j's pivot, the swap, the scaled
    column, the rank-1 update of the trailing block."""
    m, n = a.shape[-2:]
    k = min(m, n)
    lu = a.reshape(int(np.prod(a.shape[:-2], dtype=np.int64)), m, n).copy()
    b = np.arange(lu.shape[0])
    piv = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32), (lu.shape[0], k)).copy()
    info = np.zeros(lu.shape[0], np.int32)
    with np.errstate(all="ignore"):
        for j in range(k):
            col = lu[:, j:, j]      # (LAPACK's i?amax: |re| + |im| for complex)
            mag = np.abs(col.real) + np.abs(col.imag) if lu.dtype.kind == "c" else np.abs(col)
            p = j + np.argmax(mag, axis=1) if pivot else np.full(lu.shape[0], j)
            piv[:, j] = p + 1
            lu[b, j], lu[b, p] = lu[b, p], lu[b, j].copy()
            d = lu[:, j, j]
            info[(info == 0) & (d == 0)] = j + 1
            lu[:, j + 1:, j] *= np.where(d != 0, 1 / np.where(d != 0, d, 1), 1).astype(a.dtype)[:, None]
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    return lu.reshape(a.shape), piv.reshape(a.shape[:-2] + (k,)), info.reshape(a.shape[:-2])


def _lu_cuda(a, *, pivot):
    m, n = a.shape[-2:]
    if a.dtype.is_complex or builtins.max(m, n) > MAX_N[a.dtype]:     # (no complex kernel: the host's getf2)
        return _host(lambda x: _lu_np(x, pivot=pivot), a)
    a3, sa = _batched(a)
    lu = Tensor._empty(a.shape, a.dtype, a.device)
    l3, sl = _batched(lu)
    piv = Tensor._empty(a.shape[:-2] + (builtins.min(m, n),), D.int32, a.device)
    info = Tensor._empty(a.shape[:-2], D.int32, a.device)
    if a3.shape[0] and m and n:
        block = _block(builtins.max(m, n))
        launch(_lu_kernel, (a3.shape[0],), a3, l3, piv, info, m, n, *sa, *sl, PIVOT=pivot, ACC=tl_dtype(a.dtype),
               BLOCK=block, **_options(block, a.dtype))
    elif a3.shape[0]:
        info.zero_()
    return lu, piv, info


def _unpack(lu):
    """L (m x k, unit lower) and U (k x n, upper) of a packed LU."""
    from .creation import eye
    m, n = lu.shape[-2:]
    k = builtins.min(m, n)
    low = lu[..., :, :k].tril(-1) + eye(m, k, dtype=lu.dtype, device=lu.device)
    return low, lu[..., :k, :].triu()


def _perm_matrix(perm, dtype):
    """P with ``P^T A = A[perm]``: P[j, i] = 1 where j == perm[i]."""
    from .creation import arange
    rows = arange(perm.shape[-1], device=perm.device)
    return (rows[:, None] == perm.unsqueeze(-2)).to(dtype)


def _lu_bw(ctx, glu):
    # PyTorch's linalg_lu_backward on L's and U's parts of the packed gradient; LU recomputed from A where
    # the graph is built (the saved one is detached)
    a = ctx.inputs[0]
    lu, piv = (_lu(a, pivot=ctx.pivot) if grad_mode.is_grad_enabled() else ctx.outputs)[:2]
    m, n = a.shape[-2:]
    k = builtins.min(m, n)
    low, up = _unpack(lu)
    gl, gu = glu[..., :, :k].tril(-1), glu[..., :k, :].triu()
    from .movement import cat
    if m == n:      # gA = P L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H
        ga = (low.mH @ gl).tril(-1) + (gu @ up.mH).triu()
        ga = solve_triangular(up.mH, ga, upper=False, left=False)
        ga = solve_triangular(low.mH, ga, upper=True, unitriangular=True)
    elif m < n:     # wide: [A1 | A2] = P L [U1 | U2]
        ga = solve_triangular(up[..., :k].mH, (low.mH @ gl - gu @ up.mH).tril(-1), upper=False, left=False)
        ga = cat([ga + gu[..., :k], gu[..., k:]], -1)
        ga = solve_triangular(low.mH, ga, upper=True, unitriangular=True)
    else:           # tall: [A1; A2] = P [L1; L2] U
        ga = solve_triangular(low[..., :k, :].mH, (gu @ up.mH - low.mH @ gl).triu(), upper=True, unitriangular=True)
        ga = cat([ga + gl[..., :k, :], gl[..., k:, :]], -2)
        ga = solve_triangular(up.mH, ga, upper=False, left=False)
    return (_perm_matrix(_lu_perm(piv, m=m), ga.dtype) @ ga if ctx.pivot else ga,)


_lu = Op("linalg_lu_factor_ex", cpu=_lu_np, cuda=_lu_cuda, backward=_lu_bw, save=(0,), save_output="all",
         grad_outputs=1, grad_name="LinalgLuFactorExBackward0", family="matmul", kernels=lambda: _specs("lu"))
COMPLEX_OK.add("linalg_lu_factor_ex")


# ------------------------------------------------------------------------------ pivots to a permutation
def _lu_perm_np(piv, *, m):
    b = piv.reshape(int(np.prod(piv.shape[:-1], dtype=np.int64)), piv.shape[-1]).astype(np.int64) - 1
    perm = np.broadcast_to(np.arange(m), (b.shape[0], m)).copy()
    r = np.arange(b.shape[0])
    for j in range(b.shape[1]):
        perm[r, j], perm[r, b[:, j]] = perm[r, b[:, j]], perm[r, j].copy()
    return perm.reshape(piv.shape[:-1] + (m,))


def _lu_perm_cuda(piv, *, m):
    if m > _PERM_MAX:
        return _host(lambda p: _lu_perm_np(p, m=m), piv)
    p2 = piv.reshape(int(np.prod(piv.shape[:-1], dtype=np.int64)), piv.shape[-1])
    perm = Tensor._empty(piv.shape[:-1] + (m,), D.int64, piv.device)
    if p2.shape[0] and m:
        block = next_pow2(m)
        launch(_lu_perm_kernel, (p2.shape[0],), p2, perm, m, p2.shape[1], *p2.stride(), BLOCK=block,
               num_warps=_perm_warps(block))
    return perm


_lu_perm = Op("lu_pivots_to_permutation", cpu=_lu_perm_np, cuda=_lu_perm_cuda, family="other",
              kernels=lambda: _specs("perm"))


def _perm_warps(block):
    return builtins.min(16, builtins.max(1, block // 256))


def _specs(kind):
    from ._aot import KernelSpec, ptr
    out = []
    if kind == "perm":
        sig = dict(piv_ptr=ptr(D.int32), perm_ptr=ptr(D.int64), m="i32", steps="i32", s_pb="i32", s_pk="i32")
        return [KernelSpec(_lu_perm_kernel, sig, dict(BLOCK=b), num_warps=_perm_warps(b), label=f"lu perm {b}")
                for b in (16, 64, 256, 1024, _PERM_MAX)]
    for dt in (D.float32, D.float64):
        sig = dict(a_ptr=ptr(dt), lu_ptr=ptr(dt), piv_ptr=ptr(D.int32), info_ptr=ptr(D.int32), m="i32", n="i32",
                   s_ab="i32", s_ar="i32", s_ac="i32", s_lb="i32", s_lr="i32", s_lc="i32")
        block = 16
        while block <= MAX_N[dt]:
            for pivot in (True, False):
                out.append(KernelSpec(_lu_kernel, sig, dict(PIVOT=pivot, ACC=tl_dtype(dt), BLOCK=block),
                                      **_options(block, dt), label=f"lu{'' if pivot else ' nopivot'} {dt} {block}"))
            block *= 2
    return out


# ------------------------------------------------------------------------------ public functions
from ..return_types import (linalg_lu_factor_ex as _LUFactorEx, linalg_lu_factor as _LUFactor,  # noqa: E402
                            linalg_lu as _LU, lu_unpack as _LUUnpack)


def _check_matrix(A, fname):
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: Expected tensor with 2 or more dimensions. Got size: {list(A.shape)} instead")
    if A.dtype not in (D.float32, D.float64, D.complex64, D.complex128):    # (NotImplementedError: a RuntimeError)
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{D.scalar_name(A.dtype)}'")


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """``(LU, pivots, info)``: ``lu_factor``'s packed factorization and, per matrix, LAPACK's ``info``
    (0, or 1 + the first column whose pivot is zero); no error unless ``check_errors``."""
    _check_matrix(A, "torch.lu_factor")
    lu, piv, info = _lu(A, pivot=bool(pivot))
    if check_errors:
        _raise_info(info, "torch.linalg.lu_factor_ex", _zero_pivot)
    return write_outs(_LUFactorEx, (lu, piv, info), out, "linalg.lu_factor_ex")


def _zero_pivot(k):
    # PyTorch's text names U[info, info] (LAPACK's 1-based info printed as an index), kept as it is
    return (f"U[{k},{k}] is zero and using it on lu_solve would result in a division by zero. If you still "
            "want to perform the factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True, out=None):
    """``(LU, pivots)``: the LU factorization with partial pivoting of (a batch of) m x n matrices, packed
    as LAPACK's getrf gives it: L's multipliers below the diagonal (its unit diagonal implied), U on and
    above it, and 1-based ``pivots`` (row i was swapped with row ``pivots[i] - 1`` at step i). Raises
    ``LinAlgError`` (a RuntimeError) where a pivot is zero; ``lu_factor_ex`` does not.

    Example::

        >>> import ttorch
        >>> LU, pivots = ttorch.linalg.lu_factor(ttorch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> LU.double().round(decimals=4).tolist(), pivots.tolist()
        ([[3.0, 4.0], [0.3333, 0.6667]], [2, 2])
    """
    _check_matrix(A, "torch.lu_factor")
    lu, piv, info = _lu(A, pivot=bool(pivot))
    _raise_info(info, "torch.linalg.lu_factor", _zero_pivot)
    return write_outs(_LUFactor, (lu, piv), out, "linalg.lu_factor")


def _check_pivots(LU, pivots, fname):
    if pivots.dtype is not D.int32:
        raise RuntimeError(f"{fname}: pivots should be a Tensor of scalar type torch.int32")
    if pivots.dim() < 1 or pivots.shape[-1] != builtins.min(LU.shape[-2:]):
        raise RuntimeError(f"{fname}: Number of pivots per batch should be same as the dimension of the matrix")
    if fname == "linalg.lu_solve" and tuple(pivots.shape) != tuple(LU.shape[:-1]):
        raise RuntimeError(f"{fname}: Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")
    if pivots.device.type == "cpu" and pivots.numel():
        p = pivots._np
        if p.min() < 1 or p.max() > LU.shape[-2]:
            raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive.Did you "
                               "properly pass the result of lu_factor?")


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """``(P, L, U)`` of a packed factorization (``lu_factor``'s): ``A = P L U``, P m x m, L m x k unit lower,
    U k x n upper (k = min(m, n)); an empty tensor in place of L and U without ``unpack_data``, of P without
    ``unpack_pivots``. Differentiable with respect to ``LU_data``.

    Example::

        >>> import ttorch
        >>> P, L, U = ttorch.lu_unpack(*ttorch.linalg.lu_factor(ttorch.tensor([[1.0, 2.0], [3.0, 4.0]])))
        >>> P.tolist(), U.double().round(decimals=4).tolist()
        ([[0.0, 1.0], [1.0, 0.0]], [[3.0, 4.0], [0.0, 0.6667]])
    """
    if LU_data.dim() < 2:
        raise RuntimeError("torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(LU_data.shape)} instead")
    if LU_pivots.dtype is not D.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
                           "Note: this function is intended to be used with the output produced by "
                           "torch.linalg.lu_factor")
    _check_pivots(LU_data, LU_pivots, "torch.lu_unpack")
    empty = Tensor._empty((0,), LU_data.dtype, LU_data.device)
    low, up = _unpack(LU_data) if unpack_data else (empty, empty)
    p = _perm_matrix(_lu_perm(LU_pivots, m=LU_data.shape[-2]), LU_data.dtype) if unpack_pivots else empty
    return write_outs(_LUUnpack, (p, low, up), out, "lu_unpack")


def lu(A, *, pivot=True, out=None):
    """``(P, L, U)`` with ``A = P L U`` for (a batch of) m x n matrices: P m x m a permutation, L m x k
    unit lower triangular, U k x n upper triangular (k = min(m, n)); with ``pivot=False`` no rows are
    exchanged and P is empty. Differentiable (PyTorch's formulas; finite where U's diagonal has no zero).

    Example::

        >>> import ttorch
        >>> P, L, U = ttorch.linalg.lu(ttorch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> L.double().round(decimals=4).tolist()
        [[1.0, 0.0], [0.3333, 1.0]]
    """
    _check_matrix(A, "torch.lu_factor")
    lu_, piv, _ = _lu(A, pivot=bool(pivot))
    low, up = _unpack(lu_)
    p = _perm_matrix(_lu_perm(piv, m=A.shape[-2]), A.dtype) if pivot else Tensor._empty((0,), A.dtype, A.device)
    return write_outs(_LU, (p, low, up), out, "linalg.lu")


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """The solution of ``A X = B`` (``X A = B`` with ``left=False``; ``A^T`` in place of ``A`` with
    ``adjoint``) given ``A``'s packed factorization ``(LU, pivots)`` from ``lu_factor``, batched with
    broadcasting: a gather of B's rows and two triangular solves.

    Example::

        >>> import ttorch
        >>> LU, pivots = ttorch.linalg.lu_factor(ttorch.tensor([[3.0, 1.0], [1.0, 2.0]]))
        >>> ttorch.linalg.lu_solve(LU, pivots, ttorch.tensor([[9.0], [8.0]])).double().round(decimals=4).tolist()
        [[2.0], [3.0]]
    """
    fname = "linalg.lu_solve"
    if LU.dim() < 2:
        raise RuntimeError(f"torch.{fname}: The input tensor A must have at least 2 dimensions.")
    if LU.shape[-1] != LU.shape[-2]:
        raise RuntimeError(f"torch.{fname}: A must be batches of square matrices, but they are {LU.shape[-2]} by "
                           f"{LU.shape[-1]} matrices")
    if B.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor B must have at least 2 dimensions.")
    if B.dtype is not LU.dtype:
        raise RuntimeError(f"{fname}: Expected LU and B to have the same dtype, but found LU of type "
                           f"{D.scalar_name(LU.dtype)} and B of type {D.scalar_name(B.dtype)} instead")
    _check_pivots(LU, pivots, fname)
    if not left:            # X A = B: A^H X^H = B^H
        x = lu_solve(LU, pivots, B.mH, adjoint=not adjoint).mH
        return x if out is None else write_out(out, x, "linalg.lu_solve")
    n = LU.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation {'A^H' if adjoint else 'A'}X = B"
                           f" ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    from .elementwise import broadcast_shapes
    batch = broadcast_shapes(tuple(LU.shape[:-2]), tuple(B.shape[:-2]))
    lu_ = LU.expand(batch + (n, n))
    perm = _lu_perm(pivots.expand(batch + (n,)), m=n)                         # A = P L U, (P^T B)[i] = B[perm[i]]
    b = B.expand(batch + tuple(B.shape[-2:]))
    if not adjoint:         # X = U^-1 L^-1 P^T B
        y = solve_triangular(lu_, b.gather(-2, perm.unsqueeze(-1).expand(b.shape)), upper=False, unitriangular=True)
        x = solve_triangular(lu_, y, upper=True)
    else:                   # A^H X = B: X = P L^-H U^-H B, (P Y)[perm[i]] = Y[i]
        y = solve_triangular(lu_.mH, solve_triangular(lu_.mH, b, upper=False), upper=True, unitriangular=True)
        x = y.gather(-2, perm.argsort(-1).unsqueeze(-1).expand(y.shape))
    return x if out is None else write_out(out, x, "linalg.lu_solve")


def _torch_lu(A, pivot=True, get_infos=False, out=None):
    """``ttorch.lu`` (deprecated in PyTorch for ``linalg.lu_factor``): ``(LU, pivots)``, with ``info`` when
    ``get_infos``; never raises for a zero pivot, as PyTorch's."""
    r = lu_factor_ex(A, pivot=pivot)
    return write_outs(lambda *v: tuple(v), tuple(r) if get_infos else tuple(r[:2]), out, "lu")


def _torch_lu_solve(b, LU_data, LU_pivots, *, out=None):
    """``ttorch.lu_solve`` (deprecated in PyTorch for ``linalg.lu_solve``, whose arguments are reversed)."""
    return lu_solve(LU_data, LU_pivots, b, out=out)


# ------------------------------------------------------------------------------ samples
def _lu_samples():
    r = rng("linalg_lu")
    # distinct magnitudes down each column keep the pivots (and the finite differences) away from ties
    return [Sample([r.uniform(-1, 1, (4, 4))]), Sample([r.uniform(-1, 1, (2, 3, 5))]),
            Sample([r.uniform(-1, 1, (5, 3))]), Sample([r.uniform(-1, 1, (1, 1))]),
            Sample([_well_conditioned(r, 3, 3)], {"pivot": False}), Sample([r.uniform(-1, 1, (19, 23))], grad=False)]


def _lu_perm_samples():
    r = rng("lu_pivots_to_permutation")
    piv = lambda m, *shape: index(r.integers(np.arange(1, shape[-1] + 1), m + 1, shape), np.int32)  # noqa: E731
    return [Sample([piv(5, 5)], {"m": 5}), Sample([piv(6, 2, 3, 4)], {"m": 6}), Sample([piv(40, 33)], {"m": 40})]


_lu.public, _lu.samples, _lu.dtypes = lu_factor_ex, _lu_samples, (D.float32, D.float64)
_lu_perm.public, _lu_perm.samples, _lu_perm.dtypes = _lu_perm, _lu_perm_samples, (D.int32,)

PUBLIC = {"lu": _torch_lu, "lu_unpack": lu_unpack, "lu_solve": _torch_lu_solve}
METHODS = {"lu": _torch_lu, "lu_solve": _torch_lu_solve}
__all__ = []
