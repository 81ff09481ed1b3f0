"""``ttorch.distributed.tensor.parallel``: tensor parallelism over a 1-D ``DeviceMesh`` (PyTorch's API)."""
from .api import parallelize_module  # noqa: F401
from .style import (ParallelStyle, ColwiseParallel, RowwiseParallel, SequenceParallel,  # noqa: F401
                    PrepareModuleInput)

__all__ = ["parallelize_module", "ParallelStyle", "ColwiseParallel", "RowwiseParallel", "SequenceParallel",
           "PrepareModuleInput"]
