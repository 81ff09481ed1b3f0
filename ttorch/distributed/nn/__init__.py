"""``ttorch.distributed.nn``: collectives that autograd differentiates (``functional``), PyTorch's
``torch.distributed.nn``. ``RemoteModule`` (RPC) is not provided."""
from .functional import (broadcast, gather, scatter, reduce, reduce_scatter, all_gather, all_to_all,
                         all_to_all_single, all_reduce)

__all__ = ["broadcast", "gather", "scatter", "reduce", "reduce_scatter", "all_gather", "all_to_all",
           "all_to_all_single", "all_reduce"]
