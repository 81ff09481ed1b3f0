"""The rest of PyTorch's linear-algebra names, composed of the factorizations of ``linalg_solve.py`` (so
differentiable on both devices): ``linalg.cond``, ``tensorinv``, ``tensorsolve``, ``vander``; and the
older top-level ``cholesky_inverse``, ``triangular_solve``, ``qr``, ``orgqr``, ``unravel_index``."""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._op import write_out, write_outs
from .linalg_solve import _check_square, cholesky_solve, householder_product, inv_ex, qr as _linalg_qr, \
    solve, solve_triangular, svdvals

_NORMS = ("fro", "nuc", math.inf, -math.inf, 1, -1)


def cond(A, p=None, *, out=None):
    """The condition number of (a batch of) matrices in the norm ``p``: the ratio of the largest to the
    smallest singular value for ``p`` None, 2 (-2: its inverse), any m x n matrix; else
    ``norm(A, p) * norm(inv(A), p)`` for square ones ('fro', 'nuc', inf, -inf, 1, -1), inf where A is
    singular.

    Example::

        >>> import ttorch
        >>> round(ttorch.linalg.cond(ttorch.tensor([[1.0, 2.0], [3.0, 4.0]])).item(), 3)
        14.933
    """
    from .linalg import matrix_norm
    from .ternary import where
    if p is not None and p not in _NORMS + (2, -2):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if p in (None, 2, -2):
        if A.dim() >= 2 and A.numel() == 0:         # NumPy leaves it undefined; PyTorch returns 0
            r = A.new_zeros(tuple(A.shape[:-2]))
            return r if out is None else write_out(out, r, "linalg.cond")
        s = svdvals(A)
        r = s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    else:
        _check_square(A, f"linalg.cond(ord={p})")
        a_inv, info = inv_ex(A)
        a_inv = where(info[..., None, None] > 0, 0.0, a_inv)     # (inf/NaN would make 'nuc''s SVD fail)
        r = matrix_norm(A, p) * matrix_norm(a_inv, p)
        r = where(info > 0, math.inf, r)
    return r if out is None else write_out(out, r, "linalg.cond")


def tensorinv(A, ind=2, *, out=None):
    """The inverse of ``A`` as a tensor map: ``tensordot(tensorinv(A, ind), A, ind)`` is the identity of
    ``A.shape[ind:]``; A reshaped to a square (prod(shape[:ind]), prod(shape[ind:])) matrix."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    from .linalg_solve import inv
    r = inv(A.reshape(rows, cols)).reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind]))
    return r if out is None else write_out(out, r, "linalg.tensorinv")


def tensorsolve(A, B, dims=None, *, out=None):
    """The ``X`` with ``tensordot(A, X, X.ndim) == B``: A's dims ``dims`` moved to the end first, A reshaped
    to a square (B.numel(), prod of the rest) matrix."""
    if dims is not None:
        dims = [d % A.dim() for d in dims]
        A = A.permute(*[d for d in range(A.dim()) if d not in dims], *dims)
    rest = tuple(A.shape[B.dim():])
    n = math.prod(rest)
    if B.numel() != n:      # (PyTorch checks only the sizes' products)
        raise RuntimeError(f"Expected self to satisfy the requirement prod(result_shape) == prod(other.shape), but "
                           f"got {n} != {B.numel()}")
    r = solve(A.reshape(B.numel(), n), B.reshape(-1)).reshape(rest)
    return r if out is None else write_out(out, r, "linalg.tensorsolve")


def vander(x, *, N=None):
    """The Vandermonde matrix of the last dim of ``x``: columns ``x^0, x^1, ..., x^(N-1)`` (increasing, unlike
    ``ttorch.vander``), N defaulting to ``x.shape[-1]``.

    Example::

        >>> import ttorch
        >>> ttorch.linalg.vander(ttorch.tensor([1, 2, 3])).tolist()
        [[1, 1, 1], [1, 2, 4], [1, 3, 9]]
    """
    if x.dim() == 0:        # PyTorch reads a 0-d x as one element
        x = x.reshape(1)
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    from .scan import cumprod
    from .movement import cat
    ones = x.new_ones(tuple(x.shape) + (1,))
    return cumprod(cat([ones, x.unsqueeze(-1).expand(tuple(x.shape) + (n - 1,))], -1), -1)


def cholesky_inverse(L, upper=False, *, out=None):
    """The inverse of ``A`` from its Cholesky factor (``A = L L^T``; ``U^T U`` when ``upper``)."""
    if L.dim() < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 dimensions.")
    if not L.dtype.is_floating_point:
        raise NotImplementedError(f"\"cholesky_inverse_out_cpu\" not implemented for '{D.scalar_name(L.dtype)}'")
    from .linalg_solve import _eye_like
    r = cholesky_solve(_eye_like(L), L, upper)
    return r if out is None else write_out(out, r, "cholesky_inverse")


from ..return_types import triangular_solve as _TriangularSolve  # noqa: E402


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """Deprecated in PyTorch for ``linalg.solve_triangular``: ``(X, A.clone())`` with ``A X = b``
    (``A^T X = b`` when ``transpose``)."""
    a = A.mT if transpose else A
    x = solve_triangular(a, b, upper=upper != transpose, unitriangular=unitriangular)
    return write_outs(_TriangularSolve, (x, A.clone()), out, "triangular_solve")


from ..return_types import qr as _QR  # noqa: E402


def qr(input, some=True, *, out=None):
    """Deprecated in PyTorch for ``linalg.qr``: ``(Q, R)``, reduced when ``some``, else complete."""
    return write_outs(_QR, _linalg_qr(input, mode="reduced" if some else "complete"), out, "qr")


def orgqr(input, tau):
    """``linalg.householder_product``'s older name (LAPACK's orgqr)."""
    return householder_product(input, tau)


def unravel_index(indices, shape):
    """The coordinates in an array of ``shape`` of each flat index (C order), one tensor a dim; indices
    past the end wrap around, as PyTorch's do.

    Example::

        >>> import ttorch
        >>> [c.tolist() for c in ttorch.unravel_index(ttorch.tensor([4, 7]), (2, 4))]
        [[1, 1], [0, 3]]
    """
    if not isinstance(indices, Tensor):
        indices = Tensor._wrap_np(np.asarray(indices, np.int64))
    if indices.dtype.is_floating_point or indices.dtype is D.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(shape))
    r, coords = indices.to(D.int64), []
    for s in reversed(shape):
        coords.append(r.remainder(s))
        r = r.div(s, rounding_mode="floor")
    return tuple(reversed(coords))


LINALG = {"cond": cond, "tensorinv": tensorinv, "tensorsolve": tensorsolve, "vander": vander}
PUBLIC = {"cholesky_inverse": cholesky_inverse, "triangular_solve": triangular_solve, "qr": qr, "orgqr": orgqr,
          "unravel_index": unravel_index}
METHODS = {"cholesky_inverse": cholesky_inverse, "triangular_solve": triangular_solve, "qr": qr, "orgqr": orgqr}
__all__ = []
