"""LDL factorization of symmetric or Hermitian (possibly indefinite) matrices: ``linalg.ldl_factor``,
``ldl_factor_ex`` and ``ldl_solve``.

The factorization is LAPACK's ``?sytrf``/``?hetrf`` with ``UPLO='L'`` (Bunch-Kaufman diagonal pivoting:
``P A P^T = L D L^T``, D with 1x1 and 2x2 blocks), written out in NumPy and run on the host, as ttorch's
other host factorizations are (``complex_decomp.py``): a cuda input makes a round trip. ``LD`` and
``pivots`` are in LAPACK's compact form, as PyTorch returns them: ``LD``'s lower triangle holds L's
multipliers under the diagonal and D's blocks (a 2x2 block's off-diagonal entry sits below its
diagonal), its strict upper triangle is zero; ``pivots`` (int32, 1-based) is ``k`` where row k was
swapped with row ``k`` for a 1x1 block, and ``-p`` twice for a 2x2 block whose second row was swapped with
row p. The unblocked algorithm (``?sytf2``) is used for every size: LAPACK's blocked one makes the same
pivot choices, so the results agree up to rounding.

``ldl_solve`` is LAPACK's ``?sytrs``/``?hetrs``, also on the host. Differences from PyTorch: ``ldl_solve``
is differentiable with respect to ``B`` (its backward is another ``ldl_solve``; PyTorch implements no
derivative); ``ldl_factor`` of a singular matrix raises ``LinAlgError`` (PyTorch fails an internal assert).
"""

import numpy as np

from .. import _dtype as D
from ._op import Op, COMPLEX_OK, write_outs, write_out
from .complex_decomp import _on_host

__all__ = []

_ALPHA = (1.0 + np.sqrt(17.0)) / 8.0
from ..return_types import linalg_ldl_factor as LDLFactor, linalg_ldl_factor_ex as LDLFactorEx  # noqa: E402


def _cabs1(x):
    """LAPACK's ``i?amax`` measure: |re| + |im| for complex, |x| for real."""
    return np.abs(x.real) + np.abs(x.imag) if np.iscomplexobj(x) else np.abs(x)


def _sytf2(a, herm):
    """One matrix: ``?sytf2``/``?hetf2`` with UPLO='L' on a copy of ``a``. Returns (LD, pivots, info)."""
    a = np.array(a)
    n = a.shape[0]
    cj = np.conj if herm else (lambda x: x)
    dabs = (lambda x: abs(x.real)) if herm else _cabs1
    ipiv = np.zeros(n, np.int32)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = dabs(a[k, k])
        colmax, imax = 0.0, k
        if k < n - 1:
            imax = k + 1 + int(np.argmax(_cabs1(a[k + 1:, k])))
            colmax = _cabs1(a[imax, k])
        if max(absakk, colmax) == 0 or np.isnan(absakk):
            info = info or k + 1
            kp = k
            if herm:
                a[k, k] = a[k, k].real
        else:
            if absakk >= _ALPHA * colmax:
                kp = k
            else:
                row = _cabs1(a[imax, k:imax])
                rowmax = row.max()
                if imax < n - 1:
                    rowmax = max(rowmax, _cabs1(a[imax + 1:, imax]).max())
                if absakk >= _ALPHA * colmax * (colmax / rowmax):
                    kp = k
                elif dabs(a[imax, imax]) >= _ALPHA * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if kp != kk:        # swap rows and columns kk and kp of the trailing submatrix
                a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
                seg = cj(a[kk + 1:kp, kk].copy())
                a[kk + 1:kp, kk] = cj(a[kp, kk + 1:kp])
                a[kp, kk + 1:kp] = seg
                a[kp, kk] = cj(a[kp, kk])
                a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
                if kstep == 2:
                    a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]
            if herm:
                a[k, k] = a[k, k].real
                if kstep == 2:
                    a[k + 1, k + 1] = a[k + 1, k + 1].real
            if kstep == 1:
                if k < n - 1:       # rank-1 update of the trailing lower triangle
                    r1 = 1.0 / a[k, k]
                    x = a[k + 1:, k].copy()
                    a[k + 1:, k + 1:] -= np.tril(r1 * np.outer(x, cj(x)))
                    a[k + 1:, k] = r1 * x
            elif k < n - 2:         # rank-2 update with the inverse of the 2x2 block
                if herm:
                    d = abs(a[k + 1, k])
                    d11, d22 = a[k + 1, k + 1].real / d, a[k, k].real / d
                    d21 = a[k + 1, k] / d
                    scale = 1.0 / (d11 * d22 - 1.0) / d
                    wk = scale * (d11 * a[k + 2:, k] - d21 * a[k + 2:, k + 1])
                    wkp1 = scale * (d22 * a[k + 2:, k + 1] - np.conj(d21) * a[k + 2:, k])
                else:
                    d21 = a[k + 1, k]
                    d11, d22 = a[k + 1, k + 1] / d21, a[k, k] / d21
                    d21 = 1.0 / (d11 * d22 - 1.0) / d21
                    wk = d21 * (d11 * a[k + 2:, k] - a[k + 2:, k + 1])
                    wkp1 = d21 * (d22 * a[k + 2:, k + 1] - a[k + 2:, k])
                a[k + 2:, k + 2:] -= np.tril(np.outer(a[k + 2:, k], cj(wk)) + np.outer(a[k + 2:, k + 1], cj(wkp1)))
                a[k + 2:, k], a[k + 2:, k + 1] = wk, wkp1
                if herm:
                    idx = np.arange(k + 2, n)
                    a[idx, idx] = a[idx, idx].real
        if kstep == 1:
            ipiv[k] = kp + 1
        else:
            ipiv[k] = ipiv[k + 1] = -(kp + 1)
        k += kstep
    return np.tril(a), ipiv, info


def _factor_np(a, *, hermitian):
    herm = hermitian and np.iscomplexobj(a)
    batch = a.shape[:-2]
    flat = a.reshape((int(np.prod(a.shape[:-2])),) + a.shape[-2:])     # (not -1: empty matrices)
    res = [_sytf2(m, herm) for m in flat]
    ld = np.stack([r[0] for r in res]).reshape(a.shape) if res else np.zeros_like(a)
    piv = np.stack([r[1] for r in res]).reshape(batch + a.shape[-1:]) if res else \
        np.zeros(batch + a.shape[-1:], np.int32)
    info = np.array([r[2] for r in res], np.int32).reshape(batch)
    return ld.astype(a.dtype), piv, info


def _sytrs(a, ipiv, b, herm):
    """One system: ``?sytrs``/``?hetrs`` with UPLO='L'; ``b`` (n, nrhs) is overwritten with X."""
    n = a.shape[0]
    cj = np.conj if herm else (lambda x: x)
    k = 0
    while k < n:        # L D Y = P B
        if ipiv[k] > 0:
            kp = ipiv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            b[k + 1:] -= np.outer(a[k + 1:, k], b[k])
            b[k] /= a[k, k].real if herm else a[k, k]
            k += 1
        else:
            kp = -ipiv[k] - 1
            b[[k + 1, kp]] = b[[kp, k + 1]]
            b[k + 2:] -= np.outer(a[k + 2:, k], b[k]) + np.outer(a[k + 2:, k + 1], b[k + 1])
            akm1k = a[k + 1, k]
            akm1, ak = a[k, k] / cj(akm1k), a[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1.0
            bkm1, bk = b[k] / cj(akm1k), b[k + 1] / akm1k
            b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:       # L^T X = Y (L^H for Hermitian), undoing the interchanges
        if ipiv[k] > 0:
            b[k] -= cj(a[k + 1:, k]) @ b[k + 1:]
            kp = ipiv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 1
        else:
            b[k] -= cj(a[k + 1:, k]) @ b[k + 1:]
            b[k - 1] -= cj(a[k + 1:, k - 1]) @ b[k + 1:]
            kp = -ipiv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 2
    return b


def _solve_np(ld, piv, b, *, hermitian):
    herm = hermitian and np.iscomplexobj(ld)
    batch = np.broadcast_shapes(ld.shape[:-2], piv.shape[:-1], b.shape[:-2])
    nb = int(np.prod(batch))        # (not -1 in the reshapes: empty matrices)
    ld = np.broadcast_to(ld, batch + ld.shape[-2:]).reshape((nb,) + ld.shape[-2:])
    piv = np.broadcast_to(piv, batch + piv.shape[-1:]).reshape((nb,) + piv.shape[-1:])
    x = np.array(np.broadcast_to(b, batch + b.shape[-2:]).reshape((nb,) + b.shape[-2:]))
    for i in range(x.shape[0]):
        _sytrs(ld[i], piv[i].astype(np.int64), x[i], herm)
    return (x.reshape(batch + b.shape[-2:]),)


def _factor_bw(ctx, *grads):
    raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


def _solve_bw(ctx, gx):
    # X = A^-1 B with A symmetric (A^T = A) or Hermitian (A^H = A): dL/dB = A^-H gX
    ld, piv = ctx.inputs[0], ctx.inputs[1]
    if ld.dtype.is_complex and not ctx.hermitian:
        return None, None, _ldl_solve(ld, piv, gx.conj(), hermitian=False).conj()
    return None, None, _ldl_solve(ld, piv, gx, hermitian=ctx.hermitian)


_factor = Op("linalg_ldl_factor_ex", impl=_on_host(_factor_np), backward=_factor_bw, save=(), grad_outputs=1,
             family="linalg")
_ldl_solve = Op("linalg_ldl_solve", impl=lambda *a, **k: _on_host(_solve_np)(*a, **k)[0], backward=_solve_bw,
                save=(0, 1), family="linalg")
COMPLEX_OK.update({"linalg_ldl_factor_ex", "linalg_ldl_solve"})


def _check_input(A, fname):
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if not (A.dtype.is_floating_point or A.dtype.is_complex) or A.dtype in (D.float16, D.bfloat16):
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. Got "
                           f"{D.scalar_name(A.dtype)}")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """``(LD, pivots, info)``: the compact LDL factorization of symmetric (or, with ``hermitian``, Hermitian)
    ``A`` (see the module docstring); ``info`` is 0, or k > 0 where ``D[k-1, k-1]`` is exactly zero.

    Args:
        A (Tensor): ``(*, n, n)``, only its lower triangle is read.
        hermitian (bool): Hermitian rather than symmetric (complex input). Default: False.
        check_errors (bool): raise when ``info`` is nonzero. Default: False.

    Example::

        >>> A = ttorch.tensor([[0., 1.], [1., 0.]])
        >>> ttorch.linalg.ldl_factor_ex(A).pivots
        tensor([-2, -2], dtype=ttorch.int32)
    """
    _check_input(A, "torch.linalg.ldl_factor_ex")
    ld, piv, info = _factor(A, hermitian=bool(hermitian))
    if check_errors and bool((info != 0).any()):
        _raise_singular(info, "torch.linalg.ldl_factor_ex")
    return write_outs(LDLFactorEx, (ld, piv, info), out, "linalg_ldl_factor_ex")


def _raise_singular(info, fname):
    from .linalg_solve import LinAlgError
    bad = info.reshape(-1).tolist()
    k = next(v for v in bad if v != 0)
    raise LinAlgError(f"{fname}: The factorization could not be completed because the input is not invertible "
                      f"(D[{k - 1}, {k - 1}] is exactly zero).")


def ldl_factor(A, *, hermitian=False, out=None):
    """``(LD, pivots)``: ``ldl_factor_ex`` that raises ``LinAlgError`` on a singular ``A``.

    Example::

        >>> A = ttorch.tensor([[4., 2.], [2., 3.]])
        >>> ttorch.linalg.ldl_factor(A).LD
        tensor([[4.0000, 0.0000],
                [0.5000, 2.0000]])
    """
    _check_input(A, "torch.linalg.ldl_factor")
    ld, piv, info = _factor(A, hermitian=bool(hermitian))
    if bool((info != 0).any()):
        _raise_singular(info, "torch.linalg.ldl_factor")
    return write_outs(LDLFactor, (ld, piv), out, "linalg_ldl_factor")


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """The solution X of ``A X = B`` from ``A``'s factorization ``(LD, pivots)`` by ``ldl_factor``
    (give the same ``hermitian``). Differentiable with respect to ``B``.

    Shape:
        LD ``(*, n, n)``, pivots ``(*, n)``, B ``(*, n, k)``; batch dims broadcast.

    Example::

        >>> A = ttorch.tensor([[0., 1.], [1., 0.]])
        >>> LD, piv = ttorch.linalg.ldl_factor(A)
        >>> ttorch.linalg.ldl_solve(LD, piv, ttorch.tensor([[1.], [2.]]))
        tensor([[2.],
                [1.]])
    """
    fname = "torch.linalg.ldl_solve"
    if LD.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor LD must have at least 2 dimensions.")
    if B.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor B must have at least 2 dimensions.")
    if LD.shape[-1] != LD.shape[-2]:
        raise RuntimeError(f"{fname}: LD must be batches of square matrices, but they are {LD.shape[-2]} by "
                           f"{LD.shape[-1]} matrices")
    if pivots.dim() != LD.dim() - 1 or pivots.shape[-1] != LD.shape[-1]:
        raise RuntimeError(f"{fname}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")
    if pivots.dtype.is_floating_point or pivots.dtype.is_complex:
        raise RuntimeError(f"{fname}: Expected pivots to be integers. Got {D.scalar_name(pivots.dtype)}")
    if B.dtype != LD.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {D.scalar_name(B.dtype)} "
                           f"and A of type {D.scalar_name(LD.dtype)} instead.")
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for {fname}: each A matrix is {LD.shape[-2]} by "
                           f"{LD.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    x = _ldl_solve(LD, pivots, B, hermitian=bool(hermitian))
    if out is not None:
        write_out(out, x, "linalg_ldl_solve")
        return out
    return x
