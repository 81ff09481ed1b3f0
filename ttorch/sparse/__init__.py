"""``ttorch.sparse``: products, reductions and softmax of sparse COO tensors (``ttorch/_sparse.py`` holds the
layout, ``ttorch/ops/sparse_mm.py`` the products), compressed ones (``ttorch/_sparse_compressed.py``,
``sampled_addmm``), the invariant checks and ``as_sparse_gradcheck``, and the legacy
``ttorch.sparse.FloatTensor(indices, values, size)`` constructors of older PyTorch code (GCN's
``torch.sparse.FloatTensor``)."""
from .. import _dtype as D
from .._sparse import sparse_sum as sum  # noqa: F401
from ._construct import sparse_coo_tensor  # noqa: F401
from ._softmax import softmax, log_softmax  # noqa: F401
from ..ops.sparse_mm import sparse_mm as mm, sparse_addmm as addmm  # noqa: F401
from ..ops.sparse_compressed_mm import sampled_addmm  # noqa: F401
from ._compressed import check_sparse_tensor_invariants  # noqa: F401
from ._gradcheck import as_sparse_gradcheck  # noqa: F401
from . import _coo_more, _unary
from .._sparse import SparseTensor as _Coo
from .._sparse_compressed import CompressedTensor as _Compressed

_unary.bind(_Coo)
_unary.bind(_Compressed)
_coo_more.bind()

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "sampled_addmm", "check_sparse_tensor_invariants",
           "as_sparse_gradcheck", "FloatTensor", "DoubleTensor", "LongTensor"]


def _legacy(dtype, name):
    def constructor(indices, values, size=None, *, device=None):
        """``torch.sparse.<Type>Tensor(indices, values, size)``: ``sparse_coo_tensor`` in this dtype."""
        return sparse_coo_tensor(indices, values, size, dtype=dtype, device=device)
    constructor.__name__ = constructor.__qualname__ = name
    return constructor


FloatTensor = _legacy(D.float32, "FloatTensor")
DoubleTensor = _legacy(D.float64, "DoubleTensor")
LongTensor = _legacy(D.int64, "LongTensor")
