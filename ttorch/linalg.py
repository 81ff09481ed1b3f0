"""``ttorch.linalg``: PyTorch's ``torch.linalg`` names that ttorch computes (norms, products, the
cross product). Where it differs from PyTorch: no decompositions or solvers (``inv``, ``solve``,
``svd``, ``eigh``, ``qr``, ``cholesky``, ``det``...): ttorch has no kernels for them, and
``matrix_norm``'s ``'nuc'``, ``2`` and ``-2`` orders raise NotImplementedError."""
from .ops.linalg import linalg_cross as cross, linalg_norm as norm, matrix_norm, vecdot
from .ops.composed import matrix_power, multi_dot
from .ops.matmul import matmul
from .ops.stats import vector_norm


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``linalg.diagonal``: ``A.diagonal(offset, dim1, dim2)`` (a view), its dims last by default."""
    return A.diagonal(offset, dim1, dim2)


__all__ = ["cross", "diagonal", "matmul", "matrix_norm", "matrix_power", "multi_dot", "norm", "vecdot",
           "vector_norm"]
