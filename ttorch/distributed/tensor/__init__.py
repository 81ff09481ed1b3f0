"""``ttorch.distributed.tensor``: DTensor, tensors laid out over a ``DeviceMesh`` (PyTorch's API).

See ``_api`` for what differs from PyTorch (host collectives; ops without a sharding rule go through
``Replicate``).
"""
from ..device_mesh import DeviceMesh, init_device_mesh  # noqa: F401
from .placement_types import Placement, Shard, Replicate, Partial  # noqa: F401
from ._api import DTensor, distribute_tensor, distribute_module  # noqa: F401
from ._factory import empty, full, ones, rand, randn, zeros  # noqa: F401
from . import _dispatch

_HANDLER = _dispatch.handle      # (importing _dispatch registers DTensor's op handler)

__all__ = ["DTensor", "DeviceMesh", "distribute_tensor", "distribute_module", "init_device_mesh", "Shard",
           "Replicate", "Partial", "Placement", "ones", "empty", "full", "rand", "randn", "zeros"]
