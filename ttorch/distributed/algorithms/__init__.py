"""``ttorch.distributed.algorithms``: the ``Join`` context manager for uneven inputs, and the DDP
communication hooks (``ttorch.distributed.algorithms.ddp_comm_hooks``)."""
from .join import Join, JoinHook, Joinable  # noqa: F401

__all__ = ["Join", "Joinable", "JoinHook"]
