"""``ttorch.nn.parallel.comm``: the device collectives of ``ttorch.cuda.comm`` (the same functions)."""
from ...cuda.comm import (broadcast, broadcast_coalesced, gather, reduce_add, reduce_add_coalesced,  # noqa: F401
                          scatter)

__all__ = ["broadcast", "broadcast_coalesced", "reduce_add", "reduce_add_coalesced", "scatter", "gather"]
