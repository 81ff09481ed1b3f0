"""``ttorch.linalg``: PyTorch's ``torch.linalg`` names that ttorch computes: norms, products, the cross
product, and the solvers and factorizations of ``ops/linalg_solve.py`` (``solve``, ``inv``, ``det``,
``slogdet``, ``cholesky``, ``solve_triangular`` and their ``_ex`` forms, ``eigh``, ``eigvalsh``,
``matrix_exp``, ``qr``, ``householder_product``, ``lstsq``). Where it differs from PyTorch: no ``svd``,
``eig``, ``pinv`` or ``lu`` yet, and ``matrix_norm``'s ``'nuc'``, ``2`` and ``-2`` orders raise
NotImplementedError."""
from .ops.linalg import linalg_cross as cross, linalg_norm as norm, matrix_norm, vecdot
from .ops.composed import matrix_power, multi_dot
from .ops.matmul import matmul
from .ops.stats import vector_norm
from .ops.linalg_solve import (LinAlgError, cholesky, cholesky_ex, det, eigh, eigvalsh, householder_product, inv,
                               inv_ex, lstsq, matrix_exp, qr, slogdet, solve, solve_ex, solve_triangular)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``linalg.diagonal``: ``A.diagonal(offset, dim1, dim2)`` (a view), its dims last by default."""
    return A.diagonal(offset, dim1, dim2)


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cross", "det", "diagonal", "eigh", "eigvalsh",
           "householder_product", "inv", "inv_ex", "lstsq", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "multi_dot", "norm", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "vecdot", "vector_norm"]
