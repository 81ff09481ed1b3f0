"""``ttorch.nn.parallel``: ``DistributedDataParallel`` and ``DataParallel``, and the single-process pieces
PyTorch exports beside them (``replicate``, ``scatter``, ``parallel_apply``, ``gather``, ``comm``)."""
from .data_parallel import DataParallel, data_parallel  # noqa: F401
from .distributed import DistributedDataParallel  # noqa: F401
from . import comm  # noqa: F401
from .parallel_apply import parallel_apply  # noqa: F401
from .replicate import replicate  # noqa: F401
from .scatter_gather import gather, scatter  # noqa: F401

__all__ = ["comm", "DataParallel", "DistributedDataParallel", "data_parallel", "gather", "parallel_apply",
           "replicate", "scatter"]
