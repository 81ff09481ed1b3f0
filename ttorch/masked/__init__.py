"""``ttorch.masked``: reductions and normalizations that ignore masked-out elements (``_ops.py``) and
``MaskedTensor``, a tensor carrying its own mask (``maskedtensor.py``; what ops do with one:
``_dispatch.py``), as PyTorch's ``torch.masked``.

Example::

    >>> x = ttorch.tensor([[1., 2.], [3., 4.]])
    >>> ttorch.masked.sum(x, 1, mask=ttorch.tensor([[True, False], [True, True]]))
    tensor([1., 7.])
"""
from . import _ops
from ._ops import (sum, prod, cumsum, cumprod, amax, amin, argmax, argmin, mean, median, logsumexp, logaddexp,
                   norm, var, std, softmax, log_softmax, softmin, normalize, _canonical_dim, _combine_input_and_mask,
                   _input_mask, _output_mask, _reduction_identity, _where)
from . import maskedtensor
from .maskedtensor import MaskedTensor, masked_tensor, as_masked_tensor, is_masked_tensor
from . import _dispatch  # noqa: F401  (registers MaskedTensor's op handler)

__all__ = ["amax", "amin", "argmax", "argmin", "as_masked_tensor", "cumprod", "cumsum", "is_masked_tensor",
           "log_softmax", "logaddexp", "logsumexp", "masked_tensor", "MaskedTensor", "mean", "median", "norm",
           "normalize", "prod", "softmax", "softmin", "std", "sum", "var"]
