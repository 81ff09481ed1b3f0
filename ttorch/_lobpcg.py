"""``torch.lobpcg``: a few extreme eigenpairs of a symmetric (generalized) eigenproblem ``A x = λ B x``
by the Locally Optimal Block Preconditioned Conjugate Gradient method (Knyazev 2001).

Each step builds the search space ``S = [X, W, P]`` (current vectors, preconditioned residuals
``W = iK R``, the previous step's direction ``P``), makes ``[W, P]`` B-orthonormal and B-orthogonal to
``X`` (Gram-Schmidt against ``X``, then SVQB: an eigendecomposition of the Gram matrix that drops
directions of relative size under ``tol``, Duersch et al. 2018), and solves the small projected problem
``S^T A S z = θ z`` (Rayleigh-Ritz) with ``linalg.eigh``. The ``n`` extreme Ritz pairs become the new
``X`` and ``E``; ``P`` is the part of the new ``X`` outside the old one. It stops when every one of the
``k`` requested residuals satisfies ``||r_j|| <= tol (||A|| + |E_j| ||B||) ||x_j||`` (Frobenius norms),
or after ``niter`` steps. Everything is ttorch ops, so it runs on either device.

Differences from PyTorch: ``method`` ("basic"/"ortho") selects PyTorch's orthogonalization scheme; ttorch
has one (the one above) and accepts both names, and ``ortho_*params`` are accepted and unused (``tol``
is ttorch's only drop threshold). ``tracker`` is called once per step with the worker, whose
``E``, ``X``, ``R``, ``ivars["istep"]``, ``ivars["converged_count"]`` and ``tvars["rerr"]`` are kept, and
``bvars["force_stop"]`` stops it. Gradients: ``E`` is differentiable with respect to ``A`` (through the
Rayleigh quotients of the converged vectors, the exact first-order eigenvalue derivative ``x x^T``),
``X`` is returned without a graph (PyTorch differentiates it too).
"""
import ttorch

__all__ = ["lobpcg"]


class _Worker:
    """One matrix's iteration state (what ``tracker`` sees)."""

    def __init__(self, A, B, X, iK, n, k, niter, tol, largest, tracker):
        self.A, self.B, self.iK = A, B, iK
        self.n, self.k, self.niter, self.tol, self.largest, self.tracker = n, k, niter, tol, largest, tracker
        self.ivars = {"istep": 0, "converged_count": 0}
        self.fvars, self.bvars, self.tvars = {}, {"force_stop": False}, {}
        self.X = self._orthonormal(X, None)
        self.E = self.R = None

    def _bdot(self, U, V):
        return U.mT @ (V if self.B is None else self.B @ V)

    def _orthonormal(self, V, X):
        """V made B-orthogonal to X (twice: one pass loses orthogonality in floating point) and B-orthonormal
        itself (SVQB), its directions below ``tol`` relative size dropped."""
        for _ in range(2):
            if X is not None:
                V = V - X @ self._bdot(X, V)
            G = self._bdot(V, V)
            G = (G + G.mT) / 2
            d = G.diagonal().clamp_min(ttorch.finfo(G.dtype).tiny).rsqrt()
            lam, Q = ttorch.linalg.eigh(d[:, None] * G * d[None, :])
            keep = lam > self.tol * lam.abs().max()
            V = (V * d[None, :]) @ Q[:, keep] * lam[keep].rsqrt()[None, :]
        return V

    def _ritz(self, S):
        T = S.mT @ (self.A @ S)
        theta, Z = ttorch.linalg.eigh((T + T.mT) / 2)      # ascending
        if self.largest:
            theta, Z = theta.flip(0), Z.flip(1)
        return theta[:self.n], Z[:, :self.n]

    def run(self):
        A, B, n = self.A, self.B, self.n
        a_norm = ttorch.linalg.matrix_norm(A.to_dense() if A.layout != ttorch.strided else A)
        b_norm = 1.0 if B is None else ttorch.linalg.matrix_norm(B)
        self.E, Z = self._ritz(self.X)
        self.X = self.X @ Z
        P = None
        while self.niter < 0 or self.ivars["istep"] < self.niter:
            BX = self.X if B is None else B @ self.X
            self.R = A @ self.X - BX * self.E[None, :]
            rerr = self.R.norm(dim=0) / ((a_norm + self.E.abs() * b_norm) * self.X.norm(dim=0))
            self.tvars["rerr"] = rerr
            self.ivars["converged_count"] = int((rerr[:self.k] < self.tol).sum())
            if self.tracker is not None:
                self.tracker(self)
            if self.ivars["converged_count"] >= self.k or self.bvars["force_stop"]:
                break
            W = self.R if self.iK is None else self.iK @ self.R
            Q = self._orthonormal(W if P is None else ttorch.cat([W, P], 1), self.X)
            self.E, Z = self._ritz(ttorch.cat([self.X, Q], 1))
            P = Q @ Z[n:]
            self.X = self.X @ Z[:n] + P
            self.ivars["istep"] += 1


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """The ``k`` largest (or smallest) eigenvalues and eigenvectors of symmetric ``A`` (of ``A x = λ B x``
    with ``B`` symmetric positive definite), by LOBPCG (see the module docstring).

    Args:
        A (Tensor): ``(*, m, m)``. B (Tensor): ``(*, m, m)``; None: the identity.
        k (int): how many eigenpairs. Default: ``X``'s columns, or 1.
        X (Tensor): ``(*, m, n)`` starting vectors; default random, ``n`` (default ``k``) of them.
        iK (Tensor): ``(*, m, m)`` preconditioner applied to the residuals.
        niter (int): step limit (-1: until convergence). Default: 1000.
        tol (float): residual tolerance. Default: ``feps ** 0.5`` of the dtype.
        largest (bool): the largest eigenvalues (else the smallest). Default: True.
        method, tracker, ortho_iparams, ortho_fparams, ortho_bparams: see the module docstring.

    Returns:
        ``(E, X)``: ``(*, k)`` eigenvalues (largest first, or smallest first) and ``(*, m, k)`` B-orthonormal
        eigenvectors.

    Example::

        >>> A = ttorch.diag(ttorch.arange(1., 10., dtype=ttorch.float64))
        >>> E, X = ttorch.lobpcg(A, k=2)
        >>> E.round(decimals=6)
        tensor([9., 8.], dtype=ttorch.float64)
    """
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and A.shape != B.shape:
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    dtype = A.dtype if A.dtype in (ttorch.float32, ttorch.float64) else ttorch.float32
    if tol is None:
        tol = {ttorch.float32: 1.2e-07, ttorch.float64: 2.23e-16}[dtype] ** 0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than 3 x "
                         f"the number of requested eigenpairs (={n})")
    if method not in (None, "basic", "ortho"):
        raise ValueError(f"method must be 'basic' or 'ortho', got {method!r}")
    niter = 1000 if niter is None else niter
    largest = True if largest is None else largest
    batch = tuple(A.shape[:-2])
    count = 1
    for s in batch:
        count *= s
    flat = [A.reshape((count, m, m))[i] for i in range(count)] if batch else [A]
    Es, Xs = [], []
    for i, a in enumerate(flat):
        b = None if B is None else (B.reshape((count, m, m))[i] if batch else B)
        ik = None if iK is None else (iK.reshape((count, m, m))[i] if batch and iK.dim() > 2 else iK)
        x = ttorch.randn((m, n), dtype=dtype, device=A.device) if X is None else \
            (X.reshape((count,) + tuple(X.shape[-2:]))[i] if batch else X)
        if tuple(x.shape) != (m, n):
            raise AssertionError(f"X shape mismatch: got {x.shape}, expected {(m, n)}")
        with ttorch.no_grad():
            w = _Worker(a.detach(), None if b is None else b.detach(), x.detach(), ik, n, k, niter, tol, largest,
                        tracker)
            w.run()
        vec = w.X[:, :k]
        if a.requires_grad:     # Rayleigh quotients of the fixed vectors: dE/dA = x x^T (of the symmetrized A)
            sym = (a + a.mT) / 2
            Es.append((vec * (sym @ vec)).sum(0) / (1.0 if b is None else (vec * (b.detach() @ vec)).sum(0)))
        else:
            Es.append(w.E[:k])
        Xs.append(vec)
    if not batch:
        return Es[0], Xs[0]
    return ttorch.stack(Es).reshape(batch + (k,)), ttorch.stack(Xs).reshape(batch + (m, k))
