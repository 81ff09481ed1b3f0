"""Linear solvers and factorizations for ``ttorch.linalg``: ``solve``, ``inv``, ``det``, ``slogdet``,
``cholesky`` and ``solve_triangular`` (with ``_ex`` forms that return LAPACK's ``info`` instead of
raising), batched over leading dims; ``ttorch.logdet``, ``inverse``, ``cholesky_solve``.

Seven primitive ops, each a Triton kernel (``_linalg_kernels.py``) that holds one matrix of the batch in
registers (a program a matrix; up to ``MAX_N`` rows, ``_TWO_TILES_MAX_N`` for the kernels holding two
tiles), a NumPy (LAPACK) fallback and a backward rule in ttorch ops:
- ``_solve``: Gauss-Jordan elimination with partial pivoting on [A | B] (a block of B's columns a
  program); gradient ``gB = solve(A^T, gX)``, ``gA = -gB X^T``;
- ``_logdet``: Gaussian elimination with partial pivoting, giving ``log|det|``, the sign and the
  determinant (the product of the pivots, as LAPACK's LU gives it); gradient ``g * A^-T``;
- ``_cholesky``: right-looking, reading the lower triangle; gradient (Murray 2016)
  ``L^-T Phi(L^T gL) L^-1``, symmetrized, as PyTorch's;
- ``_trsm``: substitution with a triangular A (only its triangle read), left side; gradient
  ``gB = trsm(A^T, gX)``, ``gA = -gB X^T`` on A's triangle;
- ``_eigh`` (cyclic Jacobi), ``_qr`` (Householder, LAPACK's signs), ``_svd`` (one-sided Jacobi): PyTorch's
  backward formulas.
The rest (inv, lstsq, pinv, matrix_rank, matrix_exp, householder_product...) compose these.

Differs from PyTorch (cuSOLVER, MAGMA): on cuda, matrices past those rows are factored on the
host (copied there and back, a synchronization); float16/bfloat16 raise as PyTorch's do; ``det``'s
gradient at a singular matrix is not finite (PyTorch's goes through an SVD there).
"""
import builtins

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd import grad_mode
from ._launch import launch, next_pow2, cdiv
from ._op import Op, write_out, write_outs
from .elementwise import tl_dtype
from .samples import Sample, rng
from ._linalg_kernels import (_cholesky_kernel, _eigh_kernel, _logdet_kernel, _qr_kernel, _solve_kernel, _svd_kernel,
                              _trsm_kernel)

# rows a register tile holds: past 64 a float32 tile takes ~190 registers a thread at 16 warps (of 128 there)
MAX_N = {D.float32: 64, D.float64: 64}
_R = {D.float32: 32, D.float64: 16}          # right-hand sides a program (its column block of B)


class LinAlgError(RuntimeError):
    """A factorization that could not be completed (a singular or non-positive-definite input):
    PyTorch's ``torch.linalg.LinAlgError``, a RuntimeError."""


# ------------------------------------------------------------------------------ launches
def _options(block, dtype):
    """A launch's ``num_warps`` and ``maxnreg`` for a ``block`` x ``block`` tile: 8 elements of it a thread
    (2 to 16 warps), and every register a thread may take with one program an SM, given to ptxas, which
    otherwise stopped at an occupancy step (64 at 16 warps, 128 at 8) and spilled 4-20 B (16 elements a
    thread at 8 warps spilled so on Triton 3.6). Spill-free on sm_80 and sm_90 with Triton 3.6 and 3.9."""
    warps = builtins.min(16, builtins.max(2, block * block // 8 // 32))
    return dict(num_warps=warps, maxnreg=builtins.min(255, 65536 // (32 * warps)) // 8 * 8)


def _batched(t):
    """(batch, n, m) view or copy of a (..., n, m) tensor, and its strides."""
    t3 = t.reshape(int(np.prod(t.shape[:-2], dtype=np.int64)), t.shape[-2], t.shape[-1])
    return t3, t3.stride()


def _on_device(x, most=MAX_N):
    """Whether cuda runs the kernels (else the host fallback): the matrix fits a register tile."""
    return x.shape[-1] <= most[x.dtype]


def _host(fn, *tensors):
    """``fn`` (NumPy) on the host copies of cuda tensors, results back on their device."""
    dev = tensors[0].device
    r = fn(*[t.cpu()._np for t in tensors])
    # (ascontiguousarray makes a 0-dim array 1-dim: the shape restored, a single matrix's info stays 0-dim)
    wrap = lambda a: Tensor._wrap_np(np.ascontiguousarray(a).reshape(np.shape(a))).to(dev)   # noqa: E731
    return tuple(wrap(a) for a in r) if type(r) is tuple else wrap(r)


def _block(n):
    return builtins.max(16, next_pow2(n))


def _run(kernel, grid, dtype, n, *args, **meta):
    """Launch one of the square kernels at ``n`` rows' tile, its warps and register budget."""
    block = _block(n)
    launch(kernel, grid, *args, ACC=tl_dtype(dtype), BLOCK=block, **_options(block, dtype), **meta)


def _solve_np(a, b):
    info = np.zeros(a.shape[:-2], np.int32)
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(a, b).astype(b.dtype, copy=False), info
        except np.linalg.LinAlgError:       # a singular matrix in the batch: each on its own
            pass
        x = np.empty(b.shape, b.dtype)
        a2, b2, x2, i2 = a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]), x.reshape(-1, *b.shape[-2:]), \
            info.reshape(-1)
        for j in range(a2.shape[0]):
            try:
                x2[j] = np.linalg.solve(a2[j], b2[j])
            except np.linalg.LinAlgError:
                x2[j] = np.nan
                i2[j] = _first_zero_pivot(a2[j])
    return x, info


def _first_zero_pivot(a):
    """LAPACK's getrf info for a singular ``a``: 1 + the first column whose pivot is zero."""
    u = a.astype(np.float64).copy()
    n = u.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(u[k:, k])))
        if u[p, k] == 0:
            return k + 1
        u[[k, p]] = u[[p, k]]
        u[k + 1:] -= np.outer(u[k + 1:, k] / u[k, k], u[k])
    return n


def _solve_cuda(a, b):
    if not _on_device(a):
        return _host(_solve_np, a, b)
    n, nrhs = a.shape[-1], b.shape[-1]
    a3, sa = _batched(a)
    b3, sb = _batched(b)
    x = Tensor._empty(b.shape, b.dtype, b.device)
    x3, sx = _batched(x)
    info = Tensor._empty(a.shape[:-2], D.int32, a.device)
    if a3.shape[0] and n and nrhs:
        br = builtins.min(_R[a.dtype], builtins.max(16, next_pow2(nrhs)))
        _run(_solve_kernel, (a3.shape[0], cdiv(nrhs, br)), a.dtype, n, a3, b3, x3, info, n, nrhs, *sa, *sb, *sx,
             BLOCK_R=br)
    elif a3.shape[0]:
        info.zero_()
    return x, info


def _solve_bw(ctx, gx):
    a = ctx.inputs[0]
    x = ctx.output
    gb = solve_ex(a.mT, gx)[0]
    return -gb @ x.mT, gb


_solve = Op("linalg_solve", cpu=_solve_np, cuda=_solve_cuda, backward=_solve_bw, save=(0,), save_output=True,
            grad_outputs=1, grad_name="LinalgSolveExBackward0", family="matmul",
            kernels=lambda: _specs("solve"))


def _logdet_np(a):
    with np.errstate(all="ignore"):
        sign, logabs = np.linalg.slogdet(a)
        det = np.linalg.det(a)
    return np.asarray(logabs, a.dtype), np.asarray(sign, a.dtype), np.asarray(det, a.dtype)


def _logdet_cuda(a):
    if not _on_device(a):
        return _host(_logdet_np, a)
    a3, sa = _batched(a)
    outs = tuple(Tensor._empty(a.shape[:-2], a.dtype, a.device) for _ in range(3))
    if a3.shape[0]:
        if a.shape[-1] == 0:        # the empty matrix: det 1, as PyTorch's
            for t, v in zip(outs, (0.0, 1.0, 1.0)):
                t.fill_(v)
        else:
            _run(_logdet_kernel, (a3.shape[0],), a.dtype, a.shape[-1], a3, *outs, a.shape[-1], *sa)
    return outs


def _logdet_bw(ctx, glog, gsign, gdet):
    # d log|det A| = A^-T; d det A = det A * A^-T (det recomputed from A where the graph is built:
    # the saved one is detached)
    a = ctx.inputs[0]
    g = glog
    if gdet is not None:
        d = _logdet(a)[2] if grad_mode.is_grad_enabled() else ctx.outputs[2]
        g = gdet * d if g is None else g + gdet * d
    if g is None:
        return (None,)
    return (g[..., None, None] * solve_ex(a.mT, _eye_like(a))[0],)


_logdet_bw.takes_none = True        # the sign's gradient stays None, not zeros
_logdet = Op("linalg_logdet", cpu=_logdet_np, cuda=_logdet_cuda, backward=_logdet_bw, save=(0,), save_output="all",
             family="reduction", kernels=lambda: _specs("logdet"))


def _cholesky_np(a, *, upper):
    sym = np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2)
    info = np.zeros(a.shape[:-2], np.int32)
    try:
        out = np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:           # a matrix of the batch is not positive-definite: each on its own
        out = np.zeros_like(a)
        s2, o2, i2 = sym.reshape(-1, *a.shape[-2:]), out.reshape(-1, *a.shape[-2:]), info.reshape(-1)
        for j in range(s2.shape[0]):
            try:
                o2[j] = np.linalg.cholesky(s2[j])
            except np.linalg.LinAlgError:
                i2[j] = _first_non_pd(s2[j])
                o2[j] = np.nan
    if upper:
        out = np.swapaxes(out, -1, -2).copy()
    return out, info


def _first_non_pd(a):
    """LAPACK's potrf info: 1 + the order of the first leading minor that is not positive-definite."""
    for k in range(1, a.shape[0] + 1):
        try:
            np.linalg.cholesky(a[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return a.shape[0]


def _cholesky_cuda(a, *, upper):
    if not _on_device(a):
        return _host(lambda v: _cholesky_np(v, upper=upper), a)
    n = a.shape[-1]
    a3, sa = _batched(a)
    out = Tensor._empty(a.shape, a.dtype, a.device)
    o3, so = _batched(out)
    info = Tensor._empty(a.shape[:-2], D.int32, a.device)
    if a3.shape[0] and n:
        _run(_cholesky_kernel, (a3.shape[0],), a.dtype, n, a3, o3, info, n, *sa, *so, UPPER=upper)
    elif a3.shape[0]:
        info.zero_()
    return out, info


def _phi(x):
    """The lower triangle with the diagonal halved."""
    return x.tril() - 0.5 * x.diagonal(0, -2, -1).diag_embed()


def _cholesky_bw(ctx, gl):
    # PyTorch's cholesky_backward: gA = L^-H Phi(L^H gL) L^-1, symmetrized
    out = ctx.output
    low, gl = (out.mT, gl.mT) if ctx.upper else (out, gl)
    p = _phi(low.mT @ gl)
    ga = _trsm(low.mT, p, upper=True, unit=False)                                    # L^-H P
    ga = _trsm(low.mT, ga.mT, upper=True, unit=False).mT                             # (L^-H (L^-H P)^H)^H
    return (0.5 * (ga + ga.mT),)


_cholesky = Op("linalg_cholesky", cpu=_cholesky_np, cuda=_cholesky_cuda, backward=_cholesky_bw, save=(),
               save_output=True, grad_outputs=1, grad_name="LinalgCholeskyExBackward0", family="matmul",
               kernels=lambda: _specs("cholesky"))


def _trsm_np(a, b, *, upper, unit):
    t = np.triu(a) if upper else np.tril(a)
    if unit:
        idx = np.arange(a.shape[-1])
        t[..., idx, idx] = 1
    with np.errstate(all="ignore"):
        try:
            return np.linalg.solve(np.broadcast_to(t, b.shape[:-2] + t.shape[-2:]), b).astype(b.dtype)
        except np.linalg.LinAlgError:          # a zero on the diagonal: substitution gives inf/NaN
            return _trsm_loops(t, b, upper)


def _trsm_loops(t, b, upper):
    x = b.astype(np.result_type(t, b)).copy()
    n = t.shape[-1]
    with np.errstate(all="ignore"):
        for k in (range(n - 1, -1, -1) if upper else range(n)):
            x[..., k, :] /= t[..., k, k, None]
            rest = slice(0, k) if upper else slice(k + 1, n)
            x[..., rest, :] -= t[..., rest, k, None] * x[..., k, None, :]
    return x


def _trsm_cuda(a, b, *, upper, unit):
    if not _on_device(a):
        return _host(lambda u, v: _trsm_np(u, v, upper=upper, unit=unit), a, b)
    n, nrhs = a.shape[-1], b.shape[-1]
    a3, sa = _batched(a)
    b3, sb = _batched(b)
    x = Tensor._empty(b.shape, b.dtype, b.device)
    x3, sx = _batched(x)
    if a3.shape[0] and n and nrhs:
        br = builtins.min(_R[a.dtype], builtins.max(16, next_pow2(nrhs)))
        _run(_trsm_kernel, (a3.shape[0], cdiv(nrhs, br)), a.dtype, n, a3, b3, x3, n, nrhs, *sa, *sb, *sx,
             UPPER=upper, UNIT=unit, BLOCK_R=br)
    return x


def _trsm_bw(ctx, gx):
    a = ctx.inputs[0]
    gb = _trsm(a.mT, gx, upper=not ctx.upper, unit=ctx.unit)
    ga = -gb @ ctx.output.mT
    ga = ga.triu(1 if ctx.unit else 0) if ctx.upper else ga.tril(-1 if ctx.unit else 0)
    return ga, gb


_trsm = Op("linalg_solve_triangular", cpu=_trsm_np, cuda=_trsm_cuda, backward=_trsm_bw, save=(0,), save_output=True,
           family="matmul", kernels=lambda: _specs("trsm"))


def _eigh_np(a, *, upper):
    w, v = np.linalg.eigh(a, UPLO="U" if upper else "L")
    return w.astype(a.dtype, copy=False), v.astype(a.dtype, copy=False)


_SWEEPS = 15        # Jacobi sweeps at most (quadratic convergence: 6-10 reach the dtype's precision)
# eigh and qr hold two tiles (A and V, or A and Q): float64's 64 rows spilled 12-68 B a thread at 16 warps
# (128 registers)
_TWO_TILES_MAX_N = {D.float32: 64, D.float64: 32}


def _eigh_cuda(a, *, upper):
    if not _on_device(a, _TWO_TILES_MAX_N):
        return _host(lambda x: _eigh_np(x, upper=upper), a)
    n = a.shape[-1]
    a3, sa = _batched(a)
    w = Tensor._empty(a.shape[:-1], a.dtype, a.device)
    v = Tensor._empty(a.shape, a.dtype, a.device)
    v3, sv = _batched(v)
    if a3.shape[0] and n:
        eps = float(np.finfo(a.dtype.np).eps)
        _run(_eigh_kernel, (a3.shape[0],), a.dtype, n, a3, w, v3, n, *sa, *sv, eps * eps, UPPER=upper,
             SWEEPS=_SWEEPS)
        from .sort import argsort
        order = argsort(w, -1)                       # ascending, as LAPACK's
        w, v = w.gather(-1, order), v.gather(-1, order.unsqueeze(-2).expand(v.shape))
    return w, v


def _eigh_bw(ctx, gw, gv):
    # PyTorch's linalg_eig_backward for Hermitian A: V (skew(V^T gV) / E + diag(gw)) V^T, E_ij = w_j - w_i;
    # w and V recomputed from A where the graph is built (the saved ones are detached)
    w, v = _eigh(ctx.inputs[0], upper=ctx.upper) if grad_mode.is_grad_enabled() else ctx.outputs
    if gw is None and gv is None:
        return (None,)
    inner = None
    if gv is not None:
        vtg = v.mT @ gv
        e = w.unsqueeze(-2) - w.unsqueeze(-1) + _eye_like(v)      # 1 on the diagonal (its entries are 0)
        inner = 0.5 * (vtg - vtg.mT) / e
    if gw is not None:
        inner = gw.diag_embed() if inner is None else inner + gw.diag_embed()
    return (v @ inner @ v.mT,)


_eigh_bw.takes_none = True
_eigh = Op("linalg_eigh", cpu=_eigh_np, cuda=_eigh_cuda, backward=_eigh_bw, save=(0,), save_output="all",
           family="matmul", kernels=lambda: _specs("eigh"))


def _qr_np(a, *, mode):
    m, n = a.shape[-2:]
    if a.size == 0 or 0 in a.shape[-2:]:
        k = min(m, n)
        qc = m if mode == "complete" else k
        q = np.broadcast_to(np.eye(m, qc, dtype=a.dtype), a.shape[:-2] + (m, qc)).copy()
        r = np.zeros(a.shape[:-2] + (qc if mode != "r" else k, n), a.dtype)
        return (np.zeros((0,), a.dtype) if mode == "r" else q), r
    if mode == "r":
        return np.zeros((0,), a.dtype), np.linalg.qr(a, mode="r").astype(a.dtype, copy=False)
    q, r = np.linalg.qr(a, mode=mode)
    return q.astype(a.dtype, copy=False), r.astype(a.dtype, copy=False)


def _qr_cuda(a, *, mode):
    m, n = a.shape[-2:]
    if builtins.max(m, n) > _TWO_TILES_MAX_N[a.dtype] or 0 in a.shape:
        return _host(lambda x: _qr_np(x, mode=mode), a)
    k = builtins.min(m, n)
    q_cols = m if mode == "complete" else k
    r_rows = m if mode == "complete" else k
    a3, sa = _batched(a)
    r = Tensor._empty(a.shape[:-2] + (r_rows, n), a.dtype, a.device)
    r3, sr = _batched(r)
    want_q = mode != "r"
    q = Tensor._empty(a.shape[:-2] + (m, q_cols) if want_q else (0,), a.dtype, a.device)
    q3, sq = _batched(q) if want_q else (r3, sr)
    bm, bn = _block(m), _block(n)
    launch(_qr_kernel, (a3.shape[0],), a3, q3, r3, m, n, k, q_cols, r_rows, *sa, *sq, *sr, WANT_Q=want_q,
           ACC=tl_dtype(a.dtype), BM=bm, BN=bn, **_options(builtins.max(bm, bn), a.dtype))
    return q, r


def _syminvadj(x):
    """x + x^H with the diagonal's real part halved (PyTorch's qr_backward helper; complex too)."""
    from .complex import real
    s = x + x.mH
    return s - 0.5 * real(s.diagonal(0, -2, -1)).to(s.dtype).diag_embed()


def _qr_bw_tall(q, r, gq, gr):
    # m >= n: gA = (gQ + Q syminvadj(triu(gR R^H - Q^H gQ))) R^-H (^H: ^T for real tensors)
    b = None if gr is None else gr @ r.mH
    if gq is not None:
        b = -(q.mH @ gq) if b is None else b - q.mH @ gq
    ga = q @ _syminvadj(b.triu())
    if gq is not None:
        ga = ga + gq
    return solve_triangular(r.mH, ga, upper=False, left=False)


def _qr_bw(ctx, gq, gr):
    # PyTorch's linalg_qr_backward; Q and R recomputed from A where the graph is built
    if ctx.mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please use "
                           "linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    a = ctx.inputs[0]
    q, r = _qr(a, mode=ctx.mode) if grad_mode.is_grad_enabled() else ctx.outputs
    m, n = a.shape[-2], a.shape[-1]
    if ctx.mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
    if gq is None and gr is None:
        return (None,)
    if m >= n:
        return (_qr_bw_tall(q, r, gq, gr),)
    # m < n: A = [X | Y], R = [U | V]; X = QU is the square case, Y = QV
    gu, gv = (None, None) if gr is None else (gr[..., :m], gr[..., m:])
    geff = gq
    if gv is not None:
        yv = a[..., m:] @ gv.mH
        geff = yv if geff is None else geff + yv
    gx = _qr_bw_tall(q, r[..., :m], geff, gu)
    from .movement import cat
    from .creation import zeros_like
    gy = q @ gv if gv is not None else zeros_like(a[..., m:])
    return (cat([gx, gy], -1),)


_qr_bw.takes_none = True
_qr = Op("linalg_qr", cpu=_qr_np, cuda=_qr_cuda, backward=_qr_bw, save=(0,), save_output="all", family="matmul",
         kernels=lambda: _specs("qr"))


def _svd_np(a, *, full):
    u, s, vh = np.linalg.svd(a, full_matrices=full)
    return u.astype(a.dtype, copy=False), s.astype(a.dtype, copy=False), vh.astype(a.dtype, copy=False)


def _svd_cuda(a, *, full):
    m, n = a.shape[-2], a.shape[-1]
    if builtins.max(m, n) > _TWO_TILES_MAX_N[a.dtype] or 0 in a.shape:
        return _host(lambda x: _svd_np(x, full=full), a)
    if m < n:                                            # A^T = U S V^T: A = V S U^T
        u, s, vh = _svd_cuda(a.mT, full=full)
        return vh.mT, s, u.mT
    a3, sa = _batched(a)
    cols = Tensor._empty(a.shape, a.dtype, a.device)
    c3, sc = _batched(cols)
    v = Tensor._empty(a.shape[:-2] + (n, n), a.dtype, a.device)
    v3, sv = _batched(v)
    eps = float(np.finfo(a.dtype.np).eps)
    bm, bn = _block(m), _block(n)
    launch(_svd_kernel, (a3.shape[0],), a3, c3, v3, m, n, *sa, *sc, *sv, eps, ACC=tl_dtype(a.dtype), BM=bm, BN=bn,
           SWEEPS=_SWEEPS, **_options(builtins.max(bm, bn), a.dtype))
    # the singular values are the columns' norms, descending; U's columns the normalized ones, and a basis
    # of the rest (zero singular values, full_matrices' extra columns) from a QR of them
    from .sort import argsort
    from .stats import vector_norm
    from .ternary import where
    s = vector_norm(cols, dim=-2)
    order = argsort(s, -1, descending=True)
    s = s.gather(-1, order)
    cols = cols.gather(-1, order.unsqueeze(-2).expand(cols.shape))
    v = v.gather(-1, order.unsqueeze(-2).expand(v.shape))
    kept = s > s[..., :1] * (eps * builtins.max(m, n))
    u = where(kept.unsqueeze(-2), cols / where(kept, s, 1.0).unsqueeze(-2), 0.0)
    q, r = _qr(u, mode="complete" if full else "reduced")
    sign = where(r.diagonal(0, -2, -1) < 0, -1.0, 1.0)          # Householder's signs undone: q_j = u_j
    if full and m > n:
        from .movement import cat
        sign = cat([sign, sign.new_ones(tuple(sign.shape[:-1]) + (m - n,))], -1)
    return q * sign.unsqueeze(-2), s, v.mT


def _svd_bw(ctx, gu, gs, gvh):
    # PyTorch's svd_backward (real): gA = U [(skew(U^T gU) / E) S + S (skew(V^T gV) / E) + diag(gS)] V^T
    # + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T), E_jk = S_k^2 - S_j^2; full_matrices' extra
    # columns ignored. U, S, V recomputed from A where the graph is built
    a = ctx.inputs[0]
    u, s, vh = _svd(a, full=ctx.full) if grad_mode.is_grad_enabled() else ctx.outputs
    m, n = a.shape[-2], a.shape[-1]
    k = builtins.min(m, n)
    if ctx.full:
        u, vh = u[..., :k], vh[..., :k, :]
        gu = None if gu is None else gu[..., :k]
        gvh = None if gvh is None else gvh[..., :k, :]
    if gu is None and gvh is None:
        return (None,) if gs is None else ((u * gs.unsqueeze(-2)) @ vh,)
    e = s.unsqueeze(-2).square() - s.unsqueeze(-1).square() + _eye_like(u[..., :k, :])
    inner = 0.0 if gs is None else gs.diag_embed()
    extra = None
    if gu is not None:
        utg = u.mT @ gu
        inner = inner + (utg - utg.mT) / e * s.unsqueeze(-2)
        if m > k:
            extra = (gu - u @ utg) / s.unsqueeze(-2) @ vh
    if gvh is not None:
        vtg = vh @ gvh.mT                                   # V^T gV
        inner = inner + s.unsqueeze(-1) * ((vtg - vtg.mT) / e)
        if n > k:
            part = u @ ((gvh - (gvh @ vh.mT) @ vh) / s.unsqueeze(-1))
            extra = part if extra is None else extra + part
    ga = u @ inner @ vh
    return (ga if extra is None else ga + extra,)


_svd_bw.takes_none = True
_svd = Op("linalg_svd", cpu=_svd_np, cuda=_svd_cuda, backward=_svd_bw, save=(0,), save_output="all", family="matmul",
          kernels=lambda: _specs("svd"))


def _specs(kind):
    """Every tile for float32 and float64 up to ``MAX_N`` (``_TWO_TILES_MAX_N``), as the launches take them."""
    from ._aot import KernelSpec, ptr
    out = []
    for dt in (D.float32, D.float64):
        block = 16
        while block <= (_TWO_TILES_MAX_N if kind in ("eigh", "qr", "svd") else MAX_N)[dt]:
            def add(kernel, sig, label, **extra):
                out.append(KernelSpec(kernel, sig, dict(ACC=tl_dtype(dt), BLOCK=block, **extra),
                                      **_options(block, dt), label=f"{label} {dt} {block}"))
            strides = {f"s_{m}{k}": "i32" for m in ("a", "b", "x") for k in ("b", "r", "c")}
            square = dict(s_ab="i32", s_ar="i32", s_ac="i32")
            if kind == "solve":
                sig = dict(a_ptr=ptr(dt), b_ptr=ptr(dt), x_ptr=ptr(dt), info_ptr=ptr(D.int32), n="i32", nrhs="i32",
                           **strides)
                for br in sorted({16, builtins.min(_R[dt], block)}):
                    add(_solve_kernel, sig, f"solve rhs {br}", BLOCK_R=br)
            elif kind == "trsm":
                sig = dict(a_ptr=ptr(dt), b_ptr=ptr(dt), x_ptr=ptr(dt), n="i32", nrhs="i32", **strides)
                for upper in (False, True):
                    for unit in (False, True):
                        add(_trsm_kernel, sig, "trsm" + " upper" * upper + " unit" * unit, UPPER=upper, UNIT=unit,
                            BLOCK_R=builtins.min(_R[dt], block))
            elif kind == "logdet":
                add(_logdet_kernel, dict(a_ptr=ptr(dt), logabs_ptr=ptr(dt), sign_ptr=ptr(dt), det_ptr=ptr(dt), n="i32",
                                         **square), "logdet")
            elif kind == "qr":
                sig = dict(a_ptr=ptr(dt), q_ptr=ptr(dt), r_ptr=ptr(dt), m="i32", n="i32", steps="i32", q_cols="i32",
                           r_rows="i32", **square, s_qb="i32", s_qr="i32", s_qc="i32", s_rb="i32", s_rr="i32",
                           s_rc="i32")
                bn = 16
                while bn <= _TWO_TILES_MAX_N[dt]:        # (block is the rows' tile)
                    for want_q in (True, False):
                        out.append(KernelSpec(_qr_kernel, sig, dict(ACC=tl_dtype(dt), BM=block, BN=bn, WANT_Q=want_q),
                                              **_options(builtins.max(block, bn), dt),
                                              label=f"qr{'' if want_q else ' r'} {dt} {block}x{bn}"))
                    bn *= 2
            elif kind == "svd":
                sig = dict(a_ptr=ptr(dt), u_ptr=ptr(dt), v_ptr=ptr(dt), m="i32", n="i32", **square, s_ub="i32",
                           s_ur="i32", s_uc="i32", s_vb="i32", s_vr="i32", s_vc="i32", tol="fp32")
                bn = 16
                while bn <= block:                  # (m >= n: the tall side's tile is block)
                    out.append(KernelSpec(_svd_kernel, sig, dict(ACC=tl_dtype(dt), BM=block, BN=bn, SWEEPS=_SWEEPS),
                                          **_options(block, dt), label=f"svd {dt} {block}x{bn}"))
                    bn *= 2
            elif kind == "eigh":
                sig = dict(a_ptr=ptr(dt), w_ptr=ptr(dt), v_ptr=ptr(dt), n="i32", **square, s_vb="i32", s_vr="i32",
                           s_vc="i32", tol="fp32")
                for upper in (False, True):
                    add(_eigh_kernel, sig, "eigh" + " upper" * upper, UPPER=upper, SWEEPS=_SWEEPS)
            else:
                sig = dict(a_ptr=ptr(dt), l_ptr=ptr(dt), info_ptr=ptr(D.int32), n="i32", **square, s_lb="i32",
                           s_lr="i32", s_lc="i32")
                for upper in (False, True):
                    add(_cholesky_kernel, sig, "cholesky" + " upper" * upper, UPPER=upper)
            block *= 2
    return out


# ------------------------------------------------------------------------------ public functions
def _cx():
    """The complex solvers and factorizations (ops/complex_decomp.py), where complex input goes."""
    from . import complex_decomp
    return complex_decomp


def _eye_like(a):
    from .creation import eye
    return eye(a.shape[-1], dtype=a.dtype, device=a.device).expand(a.shape)


def _check_square(a, fname):
    if a.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")
    _check_float(a, fname)


def _check_float(a, fname):
    name = D.scalar_name(a.dtype)
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. Got {name}")
    if a.dtype not in (D.float32, D.float64):       # half types: PyTorch's LAPACK and cuSOLVER paths refuse them
        raise RuntimeError(f"\"{fname.split('.')[-1]}_cpu\" not implemented for '{name}'")


def _raise_info(info, fname, what):
    """PyTorch's error for a failed factorization (a synchronization, as PyTorch's check is)."""
    if info.numel() == 0:
        return
    bad = info.cpu()._np.reshape(-1)
    nz = np.flatnonzero(bad)
    if nz.size:
        k = int(bad[nz[0]])
        batch = f"(Batch element {int(nz[0])}): " if info.dim() else ""
        raise LinAlgError(f"{fname}: {batch}" + what(k))


def _singular(fname):
    return lambda k: ("The solver failed because the input matrix is singular." if fname.endswith("solve") else
                      f"The diagonal element {k} is zero, the inversion could not be completed because the input "
                      "matrix is singular.")


def _vector_rhs(a, b):
    """PyTorch's rule: B is a (batch of) vector(s) when it is 1-D or its shape is A's without the last dim."""
    return b.dim() == 1 or (b.dim() == a.dim() - 1 and tuple(b.shape) == tuple(a.shape[:-1]))


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """``(result, info)``: the solution of ``A X = B`` (``X A = B`` with ``left=False``) and, per matrix,
    LAPACK's ``info`` (0, or 1 + the column whose pivot is zero); no error unless ``check_errors``."""
    if A.dtype.is_complex:
        return _cx().solve_ex(A, B, left=left, check_errors=check_errors, out=out)
    _check_square(A, "linalg.solve")
    if B.dtype != A.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{D.scalar_name(A.dtype)} and B of type {D.scalar_name(B.dtype)} instead")
    vector = _vector_rhs(A, B)
    if not left:
        if vector:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not supported for "
                               "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        x, info = solve_ex(A.mT, B.mT, check_errors=check_errors)
        return write_outs(_SolveEx, (x.mT, info), out, "linalg.solve_ex")
    b = B.unsqueeze(-1) if vector else B
    if b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {b.shape[-2]}x{b.shape[-1]})")
    from .elementwise import broadcast_shapes
    batch = broadcast_shapes(tuple(A.shape[:-2]), tuple(b.shape[:-2]))
    a = A.expand(batch + tuple(A.shape[-2:]))
    b = b.expand(batch + tuple(b.shape[-2:]))
    x, info = _solve(a, b)
    if check_errors:
        _raise_info(info, "torch.linalg.solve", _singular("linalg.solve"))
    return write_outs(_SolveEx, (x.squeeze(-1) if vector else x, info), out, "linalg.solve_ex")


from ..return_types import linalg_solve_ex as _SolveEx  # noqa: E402


def solve(A, B, *, left=True, out=None):
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``), batched, with broadcasting
    over the batch dims; ``B`` may be a (batch of) vector(s). Raises ``LinAlgError`` (a RuntimeError)
    for a singular ``A`` (a synchronization, as in PyTorch).

    Example::

        >>> import ttorch
        >>> A = ttorch.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> ttorch.linalg.solve(A, ttorch.tensor([9.0, 8.0])).double().round(decimals=4).tolist()
        [2.0, 3.0]
    """
    x = solve_ex(A, B, left=left, check_errors=True)[0]
    return x if out is None else write_out(out, x, "linalg.solve")


def inv_ex(A, *, check_errors=False, out=None):
    """``(inverse, info)`` of (a batch of) square matrices; no error unless ``check_errors``."""
    if A.dtype.is_complex:
        return _cx().inv_ex(A, check_errors=check_errors, out=out)
    _check_square(A, "linalg.inv")
    x, info = _solve(A, _eye_like(A))
    if check_errors:
        _raise_info(info, "linalg.inv", _singular("linalg.inv"))
    return write_outs(_InvEx, (x, info), out, "linalg.inv_ex")


from ..return_types import linalg_inv_ex as _InvEx  # noqa: E402


def inv(A, *, out=None):
    """The inverse of (a batch of) square matrices; ``LinAlgError`` where one is singular.

    Example::

        >>> import ttorch
        >>> ttorch.linalg.inv(ttorch.tensor([[2.0, 0.0], [0.0, 4.0]])).double().round(decimals=4).tolist()
        [[0.5, 0.0], [0.0, 0.25]]
    """
    x = inv_ex(A, check_errors=True)[0]
    return x if out is None else write_out(out, x, "linalg.inv")


def inverse(input, *, out=None):
    """``ttorch.inverse``: ``linalg.inv``."""
    return inv(input, out=out)


from ..return_types import linalg_slogdet as _Slogdet  # noqa: E402


def slogdet(A, *, out=None):
    """``(sign, logabsdet)`` of the determinant of (a batch of) square matrices: sign 0 and logabsdet
    -inf for a singular one. Differentiable through ``logabsdet``.

    Example::

        >>> import ttorch
        >>> s, l = ttorch.linalg.slogdet(ttorch.tensor([[0.0, 2.0], [3.0, 0.0]]))
        >>> s.item(), round(l.item(), 4)
        (-1.0, 1.7918)
    """
    if A.dtype.is_complex:
        return _cx().slogdet(A, out=out)
    _check_square(A, "linalg.slogdet")
    logabs, sign, _ = _logdet(A)
    return write_outs(_Slogdet, (sign.detach(), logabs), out, "linalg.slogdet")


def det(A, *, out=None):
    """The determinant of (a batch of) square matrices (the product of the LU factorization's pivots).

    Example::

        >>> import ttorch
        >>> round(ttorch.linalg.det(ttorch.tensor([[1.0, 2.0], [3.0, 4.0]])).item(), 4)
        -2.0
    """
    if A.dtype.is_complex:
        return _cx().det(A, out=out)
    _check_square(A, "linalg.det")
    d = _logdet(A)[2]
    return d if out is None else write_out(out, d, "linalg.det")


def logdet(input):
    """``log(det(input))``: NaN where the determinant is negative, -inf where it is zero."""
    if input.dtype.is_complex:
        return _cx().logdet(input)
    _check_square(input, "logdet")
    sign, logabs = slogdet(input)
    from .creation import full_like
    from .ternary import where
    return where(sign < 0, full_like(logabs, float("nan")), logabs)


from ..return_types import linalg_cholesky_ex as _CholeskyEx  # noqa: E402


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """``(L, info)``: the Cholesky factor of (a batch of) symmetric positive-definite matrices (only the
    lower triangle is read) and LAPACK's ``info`` (0, or the order of the first leading minor that is
    not positive-definite)."""
    cx = A.dtype.is_complex     # (complex: A = L L^H, factored on the host by ops/complex_decomp.py)
    _check_square(A.real if cx else A, "linalg.cholesky")
    low, info = (_cx()._cholesky if cx else _cholesky)(A, upper=bool(upper))
    if check_errors:
        _raise_info(info, "linalg.cholesky", lambda k: "The factorization could not be completed because the input "
                    f"is not positive-definite (the leading minor of order {k} is not positive-definite).")
    return write_outs(_CholeskyEx, (low, info), out, "linalg.cholesky_ex")


def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor ``L`` (``A = L L^T``; ``U`` with ``A = U^T U`` when ``upper``) of (a batch of)
    symmetric positive-definite matrices; ``LinAlgError`` where one is not positive-definite.

    Example::

        >>> import ttorch
        >>> ttorch.linalg.cholesky(ttorch.tensor([[4.0, 2.0], [2.0, 5.0]])).double().round(decimals=4).tolist()
        [[2.0, 0.0], [1.0, 2.0]]
    """
    low = cholesky_ex(A, upper=upper, check_errors=True)[0]
    return low if out is None else write_out(out, low, "linalg.cholesky")


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """The solution of ``A X = B`` (``X A = B`` with ``left=False``) for triangular ``A`` (only its upper
    or lower triangle is read; ``unitriangular``: its diagonal is taken as ones), batched with
    broadcasting.

    Example::

        >>> import ttorch
        >>> L = ttorch.tensor([[2.0, 0.0], [1.0, 1.0]])
        >>> ttorch.linalg.solve_triangular(L, ttorch.tensor([[2.0], [3.0]]), upper=False).tolist()
        [[1.0], [2.0]]
    """
    if A.dtype.is_complex:
        return _cx().solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular, out=out)
    _check_square(A, "linalg.solve_triangular")
    if B.dim() < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    if not left:
        x = solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
        return x if out is None else write_out(out, x, "linalg.solve_triangular")
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    from .elementwise import broadcast_shapes
    batch = broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    x = _trsm(A.expand(batch + tuple(A.shape[-2:])), B.expand(batch + tuple(B.shape[-2:])), upper=bool(upper),
              unit=bool(unitriangular))
    return x if out is None else write_out(out, x, "linalg.solve_triangular")


def cholesky_solve(B, L, upper=False, *, out=None):
    """The solution of ``A X = B`` given ``A``'s Cholesky factor ``L`` (``A = L L^T``; ``U`` with
    ``A = U^T U`` when ``upper``): two triangular solves, batched with broadcasting.

    Example::

        >>> import ttorch
        >>> L = ttorch.linalg.cholesky(ttorch.tensor([[4.0, 2.0], [2.0, 5.0]]))
        >>> ttorch.cholesky_solve(ttorch.tensor([[8.0], [9.0]]), L).double().round(decimals=4).tolist()
        [[1.375], [1.25]]
    """
    if B.dim() < 2 or L.dim() < 2:
        raise RuntimeError("cholesky_solve: b and u should have at least 2 dimensions")
    low = L.mH if upper else L                                          # (mH: complex factors too)
    x = solve_triangular(low.mH, solve_triangular(low, B, upper=False), upper=True)
    return x if out is None else write_out(out, x, "cholesky_solve")


from ..return_types import linalg_eigh as _Eigh  # noqa: E402


def eigh(A, UPLO="L", *, out=None):
    """``(eigenvalues, eigenvectors)`` of (a batch of) symmetric matrices, the eigenvalues ascending and
    ``A = V diag(w) V^T``; only the ``UPLO`` ('L' or 'U') triangle is read. Each eigenvector's sign is
    arbitrary, as in PyTorch (cuda: cyclic Jacobi sweeps; cpu: LAPACK). The gradient is PyTorch's, infinite
    where eigenvalues repeat and the eigenvectors are differentiated.

    Example::

        >>> import ttorch
        >>> w, v = ttorch.linalg.eigh(ttorch.tensor([[2.0, 1.0], [1.0, 2.0]]))
        >>> w.double().round(decimals=4).tolist()
        [1.0, 3.0]
    """
    if A.dtype.is_complex:
        return _cx().eigh(A, UPLO, out=out)
    _check_square(A, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return write_outs(_Eigh, _eigh(A, upper=UPLO == "U"), out, "linalg.eigh")


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues of (a batch of) symmetric matrices, ascending (``eigh``'s, without the vectors)."""
    w = eigh(A, UPLO).eigenvalues
    return w if out is None else write_out(out, w, "linalg.eigvalsh")


# Higham (2005), "The scaling and squaring method for the matrix exponential revisited": the [13/13] Pade
# coefficients and the 1-norm up to which that approximant is accurate to double precision
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def matrix_exp(A):
    """The matrix exponential of (a batch of) square matrices: scaling and squaring with the [13/13] Pade
    approximant (Higham 2005; PyTorch uses Taylor polynomials, to the same precision), each matrix scaled
    by its own power of two. Composed of products and ``solve``: differentiable, on both devices (its
    scaling reads the norms on the host, a synchronization, as PyTorch's does).

    Example::

        >>> import ttorch
        >>> ttorch.linalg.matrix_exp(ttorch.tensor([[0.0, 1.0], [0.0, 0.0]])).tolist()
        [[1.0, 1.0], [0.0, 1.0]]
    """
    if A.dtype.is_complex:
        return _cx().matrix_exp(A)
    _check_square(A, "linalg.matrix_exp")
    if A.numel() == 0:
        return A.clone()
    eye = _eye_like(A)
    norm1 = A.detach().abs().sum(-2).amax(-1)                        # the 1-norm of each matrix
    scale = np.maximum(0, np.ceil(np.log2(np.maximum(norm1.cpu()._np.astype(np.float64), 1e-300) / _THETA13)))
    scale = np.where(np.isfinite(scale), scale, 0).astype(np.int64)
    a = A * Tensor._wrap_np(np.ldexp(1.0, -scale).astype(A.dtype.np)).to(A.device)[..., None, None]
    b = _PADE13
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = solve(v - u, v + u)
    top = int(scale.max())
    if top:
        from .ternary import where
        left = Tensor._wrap_np(scale).to(A.device)[..., None, None]
        for i in range(top):                                        # each matrix squared its own number of times
            r = where(left > i, r @ r, r)
    return r


from ..return_types import linalg_qr as _QR  # noqa: E402


def qr(A, mode="reduced", *, out=None):
    """``(Q, R)`` with ``A = Q R`` for (a batch of) m x n matrices: ``mode`` 'reduced' (Q m x k, R k x n,
    k = min(m, n)), 'complete' (Q m x m, R m x n) or 'r' (R only; Q empty). Householder reflections as
    LAPACK's geqrf and orgqr apply them, so the signs are LAPACK's (R's diagonal is not made positive).

    Example::

        >>> import ttorch
        >>> q, r = ttorch.linalg.qr(ttorch.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> r.double().round(decimals=4).tolist()
        [[-5.0, -2.2], [0.0, 0.4]]
    """
    if A.dtype.is_complex:
        return _cx().qr(A, mode, out=out)
    if A.dim() < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    _check_float(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or "
                           "'complete'")
    return write_outs(_QR, _qr(A, mode=mode), out, "linalg.qr")


from ..return_types import linalg_lstsq as _Lstsq  # noqa: E402


def lstsq(A, B, rcond=None, *, driver=None, out=None):
    """The least-squares solution of ``A X = B`` for (a batch of) m x n ``A``, batched with broadcasting; ``B``
    may be a (batch of) vector(s). ``gels`` (cuda's only driver) assumes full rank: ``qr(A)`` when m >= n, the
    minimum-norm solution through ``qr(A^T)`` when m < n. ``gelsy`` (cpu's default), ``gelsd`` and ``gelss``
    give the minimum-norm solution of any rank, singular values at most ``rcond`` (default ``eps * max(m, n)``)
    times the largest dropped, and ``rank``; ``gelsd``/``gelss`` their ``singular_values`` too. ``residuals``
    (the squared residual of each column) when m > n and every matrix has full rank, for gels, gelsd, gelss.

    Differs from PyTorch: gelsy's rank and solution come from the SVD, not from a pivoted QR (equal up to
    rounding: both are the minimum-norm solution at the rank ``rcond`` gives).

    Example::

        >>> import ttorch
        >>> A = ttorch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
        >>> x = ttorch.linalg.lstsq(A, ttorch.tensor([[1.0], [2.0], [4.0]])).solution
        >>> x.flatten().double().round(decimals=4).tolist()
        [0.8333, 1.5]
    """
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if not A.dtype.is_complex:              # (complex: qr and solve_triangular take it; ^H below for ^T)
        _check_float(A, "linalg.lstsq")
    if B.dtype != A.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
                           f"input's dtype {D.scalar_name(A.dtype)} and other's dtype {D.scalar_name(B.dtype)}")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if A.device.type == "cuda" and driver not in (None, "gels"):
        raise RuntimeError("torch.linalg.lstsq: `driver` other than `gels` is not supported on CUDA")
    driver = driver or ("gelsy" if A.device.type == "cpu" else "gels")
    if not 0 <= A.dim() - B.dim() <= 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vector = B.dim() == A.dim() - 1
    b = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    if b.shape[-2] != m:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    from .elementwise import broadcast_shapes
    batch = broadcast_shapes(tuple(A.shape[:-2]), tuple(b.shape[:-2]))
    a, b = A.expand(batch + (m, n)), b.expand(batch + tuple(b.shape[-2:]))
    empty = Tensor._empty((0,), A.dtype.to_real() if A.dtype.is_complex else A.dtype, A.device)
    rank, sv, full = Tensor._empty((0,), D.int64, A.device), empty, True
    if driver != "gels" and m and n:        # any rank: through the SVD, the minimum-norm solution
        from .ternary import where
        u, s_, vh = svd(a, full_matrices=False)
        eps = np.finfo(np.float32 if A.dtype in (D.float32, D.complex64) else np.float64).eps
        cut = (rcond if rcond is not None and rcond > 0 else eps * builtins.max(m, n)) * s_.amax(-1, keepdim=True)
        keep = s_ > cut
        x = vh.mH @ ((u.mH @ b) * where(keep, 1.0 / where(keep, s_, 1.0), 0.0).unsqueeze(-1))
        rank = keep.sum(-1)
        full = bool((rank == n).all()) if m > n else False      # (residuals only at full rank: a host read)
        if driver != "gelsy":
            sv = s_.detach()     # (not differentiable in PyTorch)
    elif m >= n:
        q, r = qr(a)                                                      # A = QR: X = R^-1 Q^H B
        x = solve_triangular(r, q.mH @ b, upper=True)
    else:
        q, r = qr(a.mH)                                                   # A = R^H Q^H: X = Q R^-H B
        x = q @ solve_triangular(r.mH, b, upper=False)
    if driver != "gels" and not (m and n):
        rank = Tensor._empty(batch, D.int64, A.device).fill_(0)
    residuals = (a @ x - b).abs().square().sum(-2) if m > n and driver != "gelsy" and full else empty
    return write_outs(_Lstsq, (x.squeeze(-1) if vector else x, residuals, rank, sv), out, "linalg.lstsq")


def householder_product(A, tau, *, out=None):
    """The first n columns of ``H_1 ... H_k`` for (a batch of) m x n ``A`` (m >= n) and ``tau`` (k <= n):
    ``H_i = I - tau_i v_i v_i^H``, ``v_i`` column i of ``A`` below the diagonal with a 1 on it (LAPACK's
    orgqr). Composed of ttorch ops (the reflectors applied right to left): differentiable on both devices.

    Example::

        >>> import ttorch
        >>> ttorch.linalg.householder_product(ttorch.zeros(2, 2), ttorch.tensor([2.0, 0.0])).tolist()
        [[-1.0, 0.0], [0.0, 1.0]]
    """
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.householder_product: input must have at least 2 dimensions.")
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if n < tau.shape[-1]:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if tuple(A.shape[:-2]) != tuple(tau.shape[:-1]):
        raise RuntimeError("torch.linalg.householder_product: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(tau.shape[:-1])}")
    from .creation import arange, eye
    from .ternary import where
    rows = arange(m, device=A.device)
    x = eye(m, n, dtype=A.dtype, device=A.device).expand(tuple(A.shape))
    for i in reversed(range(tau.shape[-1])):
        v = where(rows > i, A[..., :, i], (rows == i).to(A.dtype))                         # (..., m)
        x = x - tau[..., i, None, None] * v[..., :, None] * (v.conj()[..., None, :] @ x)     # (v v^H)
    return x if out is None else write_out(out, x, "linalg.householder_product")


from ..return_types import linalg_svd as _SVD, svd as _TorchSVD  # noqa: E402


def svd(A, full_matrices=True, *, driver=None, out=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh`` for (a batch of) m x n matrices, ``S`` descending;
    ``full_matrices``: U m x m and Vh n x n, else m x k and k x n (k = min(m, n)). Signs of the singular
    vectors are arbitrary, as in PyTorch (cuda: one-sided Jacobi; cpu: LAPACK). The gradient is PyTorch's,
    finite where the singular values are distinct (and nonzero, for U's and V's).

    Example::

        >>> import ttorch
        >>> ttorch.linalg.svd(ttorch.tensor([[3.0, 0.0], [0.0, -4.0]])).S.double().round(decimals=4).tolist()
        [4.0, 3.0]
    """
    if A.dtype.is_complex:
        return _cx().svd(A, full_matrices, out=out)
    if A.dim() < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    _check_float(A, "linalg.svd")
    return write_outs(_SVD, _svd(A, full=bool(full_matrices)), out, "linalg.svd")


def svdvals(A, *, driver=None, out=None):
    """The singular values of (a batch of) matrices, descending (``svd``'s ``S``)."""
    s_ = svd(A, full_matrices=False).S
    return s_ if out is None else write_out(out, s_, "linalg.svdvals")


def _torch_svd(input, some=True, compute_uv=True, *, out=None):
    """``ttorch.svd`` (deprecated in PyTorch for ``linalg.svd``): ``(U, S, V)`` with V, not V^T; with
    ``compute_uv=False`` U and V are zeros (m x m and n x n), as PyTorch's."""
    if not compute_uv:
        from .creation import zeros
        m, n = input.shape[-2], input.shape[-1]
        bat = tuple(input.shape[:-2])
        r = (zeros(bat + (m, m), dtype=input.dtype, device=input.device), svdvals(input),
             zeros(bat + (n, n), dtype=input.dtype, device=input.device))
    else:
        u, s_, vh = svd(input, full_matrices=not some)
        r = (u, s_, vh.mT)
    return write_outs(_TorchSVD, r, out, "svd")


def _cutoff(s_, m, n, atol, rtol):
    """PyTorch's threshold on singular (or eigen-) values: max(atol, rtol * the largest)."""
    if rtol is None:
        rtol = 0.0 if atol is not None and (atol if not isinstance(atol, Tensor) else 1) > 0 else \
            float(np.finfo(s_.dtype.np).eps) * builtins.max(m, n)
    big = s_.amax(-1, keepdim=True) if s_.shape[-1] else s_.sum(-1, keepdim=True)
    tol = rtol * big
    if atol is not None:
        from .binary import maximum
        tol = maximum(tol, atol if isinstance(atol, Tensor) else s_.new_full((), float(atol)))
    return tol


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The pseudoinverse of (a batch of) matrices through their SVD (``eigh`` when ``hermitian``), singular
    values at most ``max(atol, rtol * the largest)`` dropped (``rtol`` default ``eps * max(m, n)``).

    Example::

        >>> import ttorch
        >>> ttorch.linalg.pinv(ttorch.tensor([[1.0, 0.0], [0.0, 0.0]])).double().round(decimals=4).tolist()
        [[1.0, 0.0], [0.0, 0.0]]
    """
    from .ternary import where
    m, n = A.shape[-2], A.shape[-1]
    if hermitian:
        w, v = eigh(A)
        keep = w.abs() > _cutoff(w.abs(), m, n, atol, rtol)
        x = (v * where(keep, 1.0 / where(keep, w, 1.0), 0.0).unsqueeze(-2)) @ v.mH
    else:
        u, s_, vh = svd(A, full_matrices=False)
        keep = s_ > _cutoff(s_, m, n, atol, rtol)
        x = (vh.mH * where(keep, 1.0 / where(keep, s_, 1.0), 0.0).unsqueeze(-2)) @ u.mH            # (mH: complex too)
    return x if out is None else write_out(out, x, "linalg.pinv")


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The number of singular values (absolute eigenvalues when ``hermitian``) above
    ``max(atol, rtol * the largest)``, ``rtol`` default ``eps * max(m, n)``."""
    m, n = A.shape[-2], A.shape[-1]
    s_ = eigh(A).eigenvalues.abs() if hermitian else svdvals(A)
    r = (s_ > _cutoff(s_, m, n, atol, rtol)).sum(-1)
    return r if out is None else write_out(out, r, "linalg.matrix_rank")


def _torch_cholesky(input, upper=False, *, out=None):
    """``ttorch.cholesky`` (deprecated in PyTorch for ``linalg.cholesky``): the same factor."""
    return cholesky(input, upper=upper, out=out)


# ------------------------------------------------------------------------------ samples
def _well_conditioned(r, *shape):
    n = shape[-1]
    return r.uniform(-1, 1, shape) + n * np.eye(n) * np.where(r.uniform(size=shape[:-2] + (1, 1)) < 0.5, -1, 1)


def _spd(r, *shape):
    x = r.uniform(-1, 1, shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def _solve_samples():
    r = rng("linalg_solve")
    return [Sample([_well_conditioned(r, 3, 3), r.uniform(-1, 1, (3, 2))]),
            Sample([_well_conditioned(r, 2, 5, 5), r.uniform(-1, 1, (5,))]),
            Sample([_well_conditioned(r, 4, 4), r.uniform(-1, 1, (3, 4, 6))]),
            Sample([_well_conditioned(r, 1, 1), r.uniform(-1, 1, (1, 1))]),
            Sample([_well_conditioned(r, 17, 17), r.uniform(-1, 1, (17, 40))]),
            Sample([_well_conditioned(r, 3, 3), r.uniform(-1, 1, (2, 3))], {"left": False})]


def _det_samples():
    r = rng("linalg_det")
    return [Sample([_well_conditioned(r, 3, 3)]), Sample([_well_conditioned(r, 2, 4, 4)]),
            Sample([r.uniform(-1, 1, (1, 1))]), Sample([_well_conditioned(r, 19, 19) / 19])]


def _cholesky_samples():
    r = rng("linalg_cholesky")
    # the gradient (symmetrized, as PyTorch's) is checked in tests/test_linalg_solve.py through A = X X^T
    return [Sample([_spd(r, 4, 4)], grad=False), Sample([_spd(r, 2, 3, 3)], {"upper": True}, grad=False),
            Sample([_spd(r, 18, 18)], grad=False)]


def _trsm_samples():
    r = rng("linalg_solve_triangular")
    a = r.uniform(-1, 1, (4, 4)) + 3 * np.eye(4)
    return [Sample([a, r.uniform(-1, 1, (4, 3))], {"upper": False}),
            Sample([a, r.uniform(-1, 1, (2, 4, 5))], {"upper": True}),
            Sample([a, r.uniform(-1, 1, (4, 2))], {"upper": True, "unitriangular": True}),
            Sample([a, r.uniform(-1, 1, (3, 4))], {"upper": False, "left": False}),
            Sample([r.uniform(-1, 1, (20, 20)) + 5 * np.eye(20), r.uniform(-1, 1, (20, 33))], {"upper": False})]


def _eigh_samples():
    r = rng("linalg_eigh")
    sym = lambda x: x + np.swapaxes(x, -1, -2)                                       # noqa: E731
    # the gradient (symmetrized) is checked in tests/test_linalg_solve.py through A = X + X^T
    return [Sample([sym(r.uniform(-1, 1, (4, 4)))], grad=False),
            Sample([sym(r.uniform(-1, 1, (2, 3, 3)))], {"UPLO": "U"}, grad=False),
            Sample([sym(r.uniform(-1, 1, (1, 1)))], grad=False),
            Sample([np.diag([3.0, -1.0, 2.0, 0.5, -4.0])], grad=False)]


def _qr_samples():
    r = rng("linalg_qr")
    return [Sample([r.uniform(-1, 1, (5, 3))]), Sample([r.uniform(-1, 1, (2, 4, 4))]),
            Sample([r.uniform(-1, 1, (3, 5))]), Sample([r.uniform(-1, 1, (4, 2))], {"mode": "complete"}, grad=False),
            Sample([r.uniform(-1, 1, (2, 3, 6))], {"mode": "complete"}), Sample([r.uniform(-1, 1, (20, 7))])]


def _svd_samples():
    r = rng("linalg_svd")
    # the gradient is checked in tests/test_linalg_solve.py (functions blind to the vectors' signs)
    return [Sample([r.uniform(-1, 1, (5, 3))], grad=False), Sample([r.uniform(-1, 1, (2, 3, 6))], grad=False),
            Sample([r.uniform(-1, 1, (4, 4))], {"full_matrices": False}, grad=False),
            Sample([np.diag([3.0, -1.0, 0.5])], grad=False)]


def _column_signs(x):
    """The sign of each column's largest entry (by magnitude), shaped (..., 1, n): multiplying by it makes
    that entry positive (the samples' canonical eigen- and singular vectors)."""
    return x.gather(-2, x.abs().argmax(-2, keepdim=True)).sign()


def _canonical_svd(A, full_matrices=True):
    """``svd`` with each left singular vector's largest entry positive (its right one flipped with it);
    the extra columns of a full U are only a basis: compared as U U^T (the tests compare devices)."""
    u, s_, vh = svd(A, full_matrices=full_matrices)
    k = s_.shape[-1]
    uk = u[..., :k]
    sign = _column_signs(uk)
    return uk * sign, s_, vh[..., :k, :] * sign.mT, u @ u.mT, vh.mT @ vh


def _canonical_eigh(A, UPLO="L"):
    """``eigh`` with each eigenvector's largest entry made positive (the tests compare devices)."""
    w, v = eigh(A, UPLO)
    return w, v * _column_signs(v)


_solve.public, _solve.samples = solve, _solve_samples
_eigh.public, _eigh.samples = _canonical_eigh, _eigh_samples
_qr.public, _qr.samples = qr, _qr_samples
_svd.public, _svd.samples = _canonical_svd, _svd_samples
_logdet.public, _logdet.samples = (lambda A: tuple(slogdet(A)) + (det(A),)), _det_samples
_cholesky.public, _cholesky.samples = cholesky, _cholesky_samples
_trsm.public, _trsm.samples = solve_triangular, _trsm_samples
for _o in (_solve, _logdet, _cholesky, _trsm, _eigh, _qr, _svd):
    _o.dtypes = (D.float32, D.float64)

PUBLIC = {"det": det, "logdet": logdet, "slogdet": slogdet, "inverse": inverse, "cholesky": _torch_cholesky,
          "cholesky_solve": cholesky_solve, "matrix_exp": matrix_exp, "svd": _torch_svd, "pinverse": pinv}
METHODS = dict(PUBLIC)
__all__ = []
