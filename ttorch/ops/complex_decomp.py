"""Complex solvers and factorizations: the ``linalg`` functions of ``linalg_solve.py`` send complex input here.

* ``solve``/``inv``/``matrix_exp`` (and ``solve_triangular``, as a general solve) use the realification:
  ``A = X + iY`` acts on stacked real vectors as ``R(A) = [[X, -Y], [Y, X]]``, an algebra map
  (``R(AB) = R(A) R(B)``, ``R(A^-1) = R(A)^-1``, ``R(exp A) = exp R(A)``).
  So ``solve(A, B)`` is the real ``solve(R(A), [Re B; Im B])`` and ``inv``/
  ``matrix_exp`` the first block column of the real result: ttorch's real kernels on both devices, and
  autograd from the real ops and the complex/real views (which is PyTorch's complex gradient).
* ``slogdet``/``det``: the determinant's phase needs a complex LU, which ttorch's real kernels cannot
  give (``det R(A) = |det A|^2`` has no phase), so the forward runs NumPy's LAPACK on the host (a cuda
  input makes a round trip: a sync and two copies); the backward is PyTorch's, in ttorch ops (a complex
  ``solve``), on the input's device.
* ``eigh``/``eigvalsh``, ``svd``/``svdvals``, ``qr``, ``cholesky``: NumPy on the host (the same round
  trip), with PyTorch's backward formulas (the real ones of ``linalg_solve.py`` with ^H for ^T, and the
  SVD's phase term), in ttorch ops on the input's device.

Differences from PyTorch: ``solve_ex``/``inv_ex``'s ``info`` counts columns of ``R(A)`` (2n of them);
``det``'s gradient is NaN at a singular matrix (PyTorch's is finite); ``svd``'s and ``eigh``'s backward do
not check that the loss ignores the vectors' phases (PyTorch raises where it does not).
"""

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._op import Op, write_out, write_outs, COMPLEX_OK
from .complex import real, imag, complex as _complex
from .linalg_solve import _qr_bw as _real_qr_bw     # (written with ^H: serves complex QR too)


# ------------------------------------------------------------------------------ realification
def _realify(A):
    """``R(A) = [[X, -Y], [Y, X]]`` (..., 2n, 2m) for complex ``A`` (..., n, m)."""
    from .movement import cat
    x, y = real(A), imag(A)
    return cat([cat([x, -y], -1), cat([y, x], -1)], -2)


def _first_column(R, n):
    """The complex matrix whose realification is ``R`` (..., 2n, 2n): its first block column read back."""
    return _complex(R[..., :n, :n], R[..., n:, :n])


def _check(A, fname, square=True):
    from .linalg_solve import _check_square
    if square:
        _check_square(A.real if A.dtype.is_complex else A, fname)
    elif A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")


from ..return_types import linalg_solve_ex as _SolveEx, linalg_inv_ex as _InvEx  # noqa: E402


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """Complex ``linalg.solve_ex``: the real ``solve_ex`` of ``R(A)`` and ``[Re B; Im B]``."""
    from .linalg_solve import _vector_rhs, solve_ex as real_solve_ex
    from .movement import cat
    _check(A, "linalg.solve")
    if B.dtype != A.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{D.scalar_name(A.dtype)} and B of type {D.scalar_name(B.dtype)} instead")
    n = A._shape[-1]
    vector = _vector_rhs(A, B)
    if not left:
        if vector:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not supported for "
                               "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        x, info = solve_ex(A.mT, B.mT, check_errors=check_errors)        # X A = B: A^T X^T = B^T
        return write_outs(_SolveEx, (x.mT, info), out, "linalg.solve_ex")
    b = cat([real(B), imag(B)], -1 if vector else -2)                  # (..., 2n) or (..., 2n, k)
    x, info = real_solve_ex(_realify(A), b, check_errors=check_errors)
    x = _complex(x[..., :n], x[..., n:]) if vector else _complex(x[..., :n, :], x[..., n:, :])
    return write_outs(_SolveEx, (x, info), out, "linalg.solve_ex")


def inv_ex(A, *, check_errors=False, out=None):
    """Complex ``linalg.inv_ex``: the first block column of ``inv(R(A))``."""
    from .linalg_solve import inv_ex as real_inv_ex
    _check(A, "linalg.inv")
    x, info = real_inv_ex(_realify(A), check_errors=check_errors)
    return write_outs(_InvEx, (_first_column(x, A._shape[-1]), info), out, "linalg.inv_ex")


def matrix_exp(A):
    """Complex ``linalg.matrix_exp``: the first block column of ``matrix_exp(R(A))``."""
    from .linalg_solve import matrix_exp as real_matrix_exp
    _check(A, "linalg.matrix_exp")
    return _first_column(real_matrix_exp(_realify(A)), A._shape[-1])


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """Complex ``linalg.solve_triangular``: the triangle of ``A`` that is read (ones on its diagonal when
    ``unitriangular``) handed to the complex ``solve`` (the realification: a general solve, whose pivoting
    a triangular matrix does not need, run where ttorch has no complex triangular kernel)."""
    from .creation import eye
    _check(A, "linalg.solve_triangular")
    if B.dim() < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    t = A.triu() if upper else A.tril()
    if unitriangular:
        i = eye(A._shape[-1], dtype=A.dtype, device=A.device)
        t = t - t * i + i
    x = solve_ex(t, B, left=left, check_errors=True)[0]
    return x if out is None else write_out(out, x, "linalg.solve_triangular")


# ------------------------------------------------------------------------------ host ops
def _on_host(fn):
    """An ``impl`` running NumPy function ``fn`` on the host: a cuda input's arrays are copied there and the
    results back (ttorch has no complex factorization kernel; the ``cpu``/``cuda`` pair of the op contract
    would be this same function twice)."""
    def impl(*tensors, **attrs):
        r = fn(*[t.detach()._host() if type(t) is Tensor else t for t in tensors], **attrs)
        dev = tensors[0].device
        return tuple(Tensor._wrap_np(np.array(a, order="C")).to(dev) for a in r)     # (0-dim stays 0-dim)
    return impl


def _slogdet_np(a):
    sign, logabs = np.linalg.slogdet(a)
    return np.asarray(sign, a.dtype), np.asarray(logabs, a.real.dtype)


def _slogdet_bw(ctx, gsign, glogabs):
    # logdet = logabs + i theta is holomorphic with derivative A^-T: grad_A = g * A^-H, g the gradient of
    # the complex logdet, g = g_logabs + i d/dtheta (d sign = i sign d theta) (PyTorch's slogdet_backward)
    from .linalg_solve import _eye_like
    A = ctx.inputs[0]
    sign = ctx.outputs[0]
    g = 0
    if glogabs is not None:
        g = glogabs.to(A.dtype)
    if gsign is not None:
        g = g + 1j * imag(sign.conj() * gsign)
    g = g if isinstance(g, Tensor) else sign * 0
    return (solve_ex(A.mH, _eye_like(A) * g[..., None, None])[0],)


_slogdet = Op("complex_slogdet", impl=_on_host(_slogdet_np), backward=_slogdet_bw, save=(0,),
              save_output="all", family="linalg", grad_name="LinalgSlogdetBackward0")

from ..return_types import linalg_slogdet as _Slogdet  # noqa: E402


def slogdet(A, *, out=None):
    """Complex ``linalg.slogdet``: ``sign`` (complex, of modulus 1; 0 for a singular matrix) and ``logabsdet``
    (real), both differentiable."""
    _check(A, "linalg.slogdet")
    return write_outs(_Slogdet, _slogdet(A), out, "linalg.slogdet")


def det(A, *, out=None):
    """Complex ``linalg.det``: ``sign * exp(logabsdet)`` (its gradient NaN at a singular matrix)."""
    sign, logabs = slogdet(A)
    d = sign * logabs.exp()
    return d if out is None else write_out(out, d, "linalg.det")


def logdet(input):
    """Complex ``logdet``: ``logabsdet + log(sign)``, the principal logarithm of the determinant."""
    sign, logabs = slogdet(input)
    return logabs + sign.log()


def _eigh_np(a, *, upper):
    w, v = np.linalg.eigh(a, UPLO="U" if upper else "L")
    return w.astype(a.real.dtype), v.astype(a.dtype)


def _eigh_bw(ctx, gw, gv):
    # PyTorch's linalg_eig_backward for Hermitian input: V (skew_H(V^H gV) / E + diag(gw)) V^H, E_ij = w_j - w_i
    # (1 on the diagonal), skew_H(X) = (X - X^H) / 2
    from .linalg_solve import _eye_like
    w, v = ctx.outputs
    inner = None
    if gv is not None:
        vhg = v.mH @ gv
        e = (w.unsqueeze(-2) - w.unsqueeze(-1) + _eye_like(w.diag_embed())).to(v.dtype)
        inner = 0.5 * (vhg - vhg.mH) / e
    if gw is not None:
        gd = gw.to(v.dtype).diag_embed()
        inner = gd if inner is None else inner + gd
    return (v @ inner @ v.mH,)


_eigh_bw.takes_none = True
_eigh = Op("complex_eigh", impl=_on_host(_eigh_np), backward=_eigh_bw, save=(), save_output="all",
           family="linalg", grad_name="LinalgEighBackward0")
from ..return_types import linalg_eigh as _Eigh  # noqa: E402


def eigh(A, UPLO="L", *, out=None):
    """Complex ``linalg.eigh`` of Hermitian matrices: real eigenvalues ascending, ``A = V diag(w) V^H``."""
    _check(A, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return write_outs(_Eigh, _eigh(A, upper=UPLO == "U"), out, "linalg.eigh")


def _svd_np(a, *, full):
    u, s, vh = np.linalg.svd(a, full_matrices=full)
    return u.astype(a.dtype), s.astype(a.real.dtype), vh.astype(a.dtype)


def _svd_bw(ctx, gu, gs, gvh):
    # PyTorch's svd_backward with ^H for ^T: U ((skew(U^H gU) / E) S + S (skew(V^H gV) / E) + diag(gS)) V^H, E_ij =
    # s_j^2 - s_i^2 (1 on the diagonal), skew(X) = X - X^H, and the parts outside the span of U (m > n) or of V
    from .linalg_solve import _eye_like
    u, s, vh = ctx.outputs
    m, n = u._shape[-2], vh._shape[-1]
    k = s._shape[-1]
    if ctx.full:
        u, vh = u[..., :k], vh[..., :k, :]
        gu = None if gu is None else gu[..., :k]
        gvh = None if gvh is None else gvh[..., :k, :]
    sc = s.to(u.dtype)
    if gu is None and gvh is None:
        return (None,) if gs is None else ((u * gs.to(u.dtype).unsqueeze(-2)) @ vh,)
    eye = _eye_like(s.diag_embed())
    einv = ((1 - eye) / (s.unsqueeze(-2).square() - s.unsqueeze(-1).square() + eye)).to(u.dtype)   # 0 on the diagonal
    inner = 0.0 if gs is None else gs.to(u.dtype).diag_embed()
    # the diagonal: only the difference of the phases of u_i and v_i is determined, i Im(dP_ii) / s_i; its
    # adjoint is i Im(diag(U^H gU) - diag(V^H gV)) / (2 s) (equal halves for a loss that ignores the phases)
    phase = 0.0
    extra = None
    if gu is not None:
        uhg = u.mH @ gu
        inner = inner + (uhg - uhg.mH) * einv * sc.unsqueeze(-2)
        phase = imag(uhg.diagonal(0, -2, -1))
        if m > k:
            extra = (gu - u @ uhg) / sc.unsqueeze(-2) @ vh
    if gvh is not None:
        vhg = vh @ gvh.mH                                   # V^H gV
        inner = inner + sc.unsqueeze(-1) * ((vhg - vhg.mH) * einv)
        phase = phase - imag(vhg.diagonal(0, -2, -1))
        if n > k:
            part = u @ ((gvh - (gvh @ vh.mH) @ vh) / sc.unsqueeze(-1))
            extra = part if extra is None else extra + part
    if gu is not None and gvh is not None:
        phase = phase * 0.5
    inner = inner + (1j * phase / s).diag_embed()
    ga = u @ inner @ vh
    return (ga if extra is None else ga + extra,)


_svd_bw.takes_none = True
_svd = Op("complex_svd", impl=_on_host(_svd_np), backward=_svd_bw, save=(), save_output="all",
          family="linalg", grad_name="LinalgSvdBackward0")
from ..return_types import linalg_svd as _SVD  # noqa: E402


def svd(A, full_matrices=True, *, driver=None, out=None):
    """Complex ``linalg.svd``: ``A = U diag(S) Vh``, ``S`` real and descending."""
    _check(A, "linalg.svd", square=False)
    return write_outs(_SVD, _svd(A, full=bool(full_matrices)), out, "linalg.svd")


def _qr_np(a, *, mode):
    q, r = np.linalg.qr(a, mode="r" if mode == "r" else mode) if mode != "r" else (None, np.linalg.qr(a, mode="r"))
    if q is None:
        q = np.zeros((0,), a.dtype)
    return q.astype(a.dtype), r.astype(a.dtype)


_qr = Op("complex_qr", impl=_on_host(_qr_np), backward=_real_qr_bw, save=(0,), save_output="all", family="linalg",
         grad_name="LinalgQrBackward0")
from ..return_types import linalg_qr as _QR  # noqa: E402


def qr(A, mode="reduced", *, out=None):
    """Complex ``linalg.qr`` (LAPACK's signs: R's diagonal is not made real positive)."""
    _check(A, "linalg.qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or "
                           "'complete'")
    return write_outs(_QR, _qr(A, mode=mode), out, "linalg.qr")


def _cholesky_np(a, *, upper):
    from .linalg_solve import _first_non_pd
    info = np.zeros(a.shape[:-2], np.int32)
    low = np.zeros_like(a)
    for i in np.ndindex(*a.shape[:-2]):
        h = np.tril(a[i]) + np.tril(a[i], -1).conj().swapaxes(-1, -2)       # (only the lower triangle is read)
        try:
            low[i] = np.linalg.cholesky(h)
        except np.linalg.LinAlgError:
            info[i] = _first_non_pd(h.real) or 1
    return (low.conj().swapaxes(-1, -2) if upper else low), info


def _cholesky_bw(ctx, gl, ginfo=None):
    # PyTorch's cholesky_backward: gA = L^-H P L^-1, P = (tril(X) + tril(X, -1)^H) / 2, X = L^H gL (the
    # diagonal of X kept complex: gA is not made Hermitian, as PyTorch's is not)
    out = ctx.output
    low, gl = (out.mH, gl.mH) if ctx.upper else (out, gl)
    x = low.mH @ gl
    p = 0.5 * (x.tril() + x.tril(-1).mH)
    ga = solve_ex(low.mH, p)[0]                                             # L^-H P
    return (solve_ex(low, ga, left=False)[0],)                              # (L^-H P) L^-1


_cholesky = Op("complex_cholesky", impl=_on_host(_cholesky_np), backward=_cholesky_bw, save=(), save_output=True,
               family="linalg", grad_outputs=1, grad_name="LinalgCholeskyExBackward0")


COMPLEX_OK.update({"complex_slogdet", "complex_eigh", "complex_svd", "complex_qr", "complex_cholesky"})
__all__ = []
