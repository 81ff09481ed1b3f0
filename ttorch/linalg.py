"""``ttorch.linalg``: PyTorch's ``torch.linalg`` names that ttorch computes (norms, products, the
cross product). Where it differs from PyTorch: no decompositions or solvers (``inv``, ``solve``,
``svd``, ``eigh``, ``qr``, ``cholesky``, ``det``...): ttorch has no kernels for them, and
``matrix_norm``'s ``'nuc'``, ``2`` and ``-2`` orders raise NotImplementedError."""
from .ops.linalg import linalg_cross as cross, linalg_norm as norm, matrix_norm, vecdot
from .ops.composed import matrix_power
from .ops.matmul import matmul
from .ops.stats import vector_norm


def multi_dot(tensors, *, out=None):
    """The product of the matrices in ``tensors``, in order (the first may be 1-D: a row; the last
    1-D: a column). Where it differs from PyTorch: multiplied left to right, not in the cheapest order."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first, last = ts[0].dim() == 1, ts[-1].dim() == 1
    if first:
        ts[0] = ts[0].unsqueeze(0)
    if last:
        ts[-1] = ts[-1].unsqueeze(1)
    r = ts[0]
    for t in ts[1:]:
        r = r @ t
    if first:
        r = r.squeeze(0)
    if last:
        r = r.squeeze(-1)
    return r if out is None else out.copy_(r)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``linalg.diagonal``: ``A.diagonal(offset, dim1, dim2)`` (a view), its dims last by default."""
    return A.diagonal(offset, dim1, dim2)


__all__ = ["cross", "diagonal", "matmul", "matrix_norm", "matrix_power", "multi_dot", "norm", "vecdot",
           "vector_norm"]
