"""``ttorch.linalg``: PyTorch's ``torch.linalg`` names that ttorch computes: norms, products, the cross
product, and the solvers and factorizations of ``ops/linalg_solve.py`` (``solve``, ``inv``, ``det``,
``slogdet``, ``cholesky``, ``solve_triangular`` and their ``_ex`` forms, ``eigh``, ``eigvalsh``,
``matrix_exp``, ``qr``, ``householder_product``, ``lstsq``, ``svd``, ``svdvals``, ``pinv``,
``matrix_rank``), of ``ops/linalg_lu.py`` (``lu_factor``, ``lu_factor_ex``, ``lu``, ``lu_solve``) and of
``ops/linalg_composed.py`` (``cond``, ``tensorinv``, ``tensorsolve``, ``vander``).
``eig``/``eigvals`` (``ops/complex_linalg.py``) run NumPy on the host (differentiable). Complex input of the
solvers and factorizations goes to ``ops/complex_decomp.py`` (the realification on both devices for ``solve``,
``inv``, ``matrix_exp``; NumPy on the host for ``slogdet``, ``det``, ``eigh``, ``svd``, ``qr``, ``cholesky``)."""
from .ops.linalg import linalg_cross as cross, linalg_norm as norm, matrix_norm, vecdot
from .ops.composed import matrix_power, multi_dot
from .ops.matmul import matmul
from .ops.stats import vector_norm
from .ops.linalg_solve import (LinAlgError, cholesky, cholesky_ex, det, eigh, eigvalsh, householder_product, inv,
                               inv_ex, lstsq, matrix_exp, matrix_rank, pinv, qr, slogdet, solve, solve_ex,
                               solve_triangular, svd, svdvals)
from .ops.linalg_lu import lu, lu_factor, lu_factor_ex, lu_solve
from .ops.linalg_composed import cond, tensorinv, tensorsolve, vander
from .ops.complex_linalg import eig, eigvals
from .ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``linalg.diagonal``: ``A.diagonal(offset, dim1, dim2)`` (a view), its dims last by default."""
    return A.diagonal(offset, dim1, dim2)


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigvals", "eigh",
           "eigvalsh",
           "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq", "lu",
           "lu_factor", "lu_factor_ex", "lu_solve", "matmul",
           "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet",
           "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm"]
