"""``ttorch.distributed.optim``: ``ZeroRedundancyOptimizer`` (optimizer state sharded across ranks),
``PostLocalSGDOptimizer`` (local steps plus periodic model averaging) and ``_apply_optimizer_in_backward``
(per-parameter optimizers stepped during backward)."""
from .apply_optimizer_in_backward import _apply_optimizer_in_backward, _get_in_backward_optimizers  # noqa: F401
from .post_localSGD_optimizer import PostLocalSGDOptimizer  # noqa: F401
from .zero_redundancy_optimizer import ZeroRedundancyOptimizer  # noqa: F401

__all__ = ["PostLocalSGDOptimizer", "ZeroRedundancyOptimizer"]
