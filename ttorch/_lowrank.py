"""``svd_lowrank`` and ``pca_lowrank``: randomized low-rank SVD and PCA (Halko, Martinsson and Tropp, 2009, as
PyTorch's ``torch/_lowrank.py`` computes them), composed of ttorch's QR, SVD and matmul, so they run on both
devices and are differentiable. ``M`` (svd) and ``center`` (pca) subtract a mean without forming ``A - M``'s
copy where it is broadcast. Differs from PyTorch: sparse ``A`` is not taken."""
from . import linalg
from .ops import FUNCTIONS as _F

__all__ = ["svd_lowrank", "pca_lowrank"]


def _basis(A, q, niter, M):
    """An orthonormal (m, q) basis approximating ``A - M``'s range, by ``niter`` subspace iterations."""
    mH = lambda t: t.transpose(-2, -1).conj() if t.dtype.is_complex else t.transpose(-2, -1)
    R = _F["randn"](*A.shape[:-2], A.shape[-1], q, dtype=A.dtype, device=A.device)
    AM = lambda X: A @ X if M is None else A @ X - M @ X
    AMh = lambda Y: mH(A) @ Y if M is None else mH(A) @ Y - mH(M) @ Y
    Q = linalg.qr(AM(R)).Q
    for _ in range(niter):
        Q = linalg.qr(AM(linalg.qr(AMh(Q)).Q)).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    r"""``(U, S, V)`` with ``A - M ≈ U diag(S) V^H``: the ``q`` largest singular triplets of (a batch of) m x n
    ``A`` by a randomized range finder with ``niter`` subspace iterations (more: more accurate, slower).

    Args:
        A (Tensor): (*, m, n). q (int, optional): the rank to find (default 6). niter (int, optional): subspace
            iterations (default 2). M (Tensor, optional): subtracted from ``A`` (broadcast to its shape).

    Example::

        >>> import ttorch
        >>> _ = ttorch.manual_seed(0)
        >>> A = ttorch.randn(20, 2) @ ttorch.randn(2, 10)
        >>> U, S, V = ttorch.svd_lowrank(A, q=2)
        >>> bool(ttorch.allclose(U @ ttorch.diag(S) @ V.T, A, atol=1e-4))
        True
    """
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    mH = lambda t: t.transpose(-2, -1).conj() if t.dtype.is_complex else t.transpose(-2, -1)
    if m < n:           # work on the tall transpose (its range is the smaller space)
        U, S, V = svd_lowrank(mH(A), q, niter, None if M is None else mH(M))
        return V, S, U
    Q = _basis(A, q, niter, M)
    B = mH(Q) @ A if M is None else mH(Q) @ A - mH(Q) @ M          # (*, q, n)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    return Q @ U, S, mH(Vh)


def pca_lowrank(A, q=None, center=True, niter=2):
    r"""``(U, S, V)`` of the principal components of the rows of (a batch of) m x n ``A``: ``svd_lowrank`` of
    ``A`` less its column means (``center``); the components are ``V``'s columns, the projections ``A @ V``.

    Args:
        A (Tensor): (*, m, n). q (int, optional): components (default ``min(6, m, n)``). center (bool): subtract
            the column means (default True). niter (int): subspace iterations (default 2).
    """
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else q
    if not (0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    return svd_lowrank(A, q, niter, A.mean(-2, keepdim=True) if center else None)
