"""``ttorch.distributed.fsdp``: fully sharded data parallelism (PyTorch's FSDP, the ``FullyShardedDataParallel``
wrapper, and FSDP2's ``fully_shard`` on DTensor); see ``fully_sharded_data_parallel.py`` and ``_fully_shard.py``
for how they shard and what differs from PyTorch."""
from .api import (BackwardPrefetch, CPUOffload, FullOptimStateDictConfig, FullStateDictConfig,  # noqa: F401
                  LocalStateDictConfig, MixedPrecision, OptimStateDictConfig, ShardedStateDictConfig,
                  ShardingStrategy, StateDictConfig, StateDictSettings, StateDictType)
from .fully_sharded_data_parallel import FullyShardedDataParallel  # noqa: F401
from ._fully_shard import (CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, OffloadPolicy,  # noqa: F401
                           fully_shard, register_fsdp_forward_method)

from . import wrap  # noqa: E402  (ttorch.distributed.fsdp.wrap: the auto-wrap policies)

__all__ = ["wrap", "BackwardPrefetch", "CPUOffload", "FullOptimStateDictConfig", "FullStateDictConfig",
           "FullyShardedDataParallel", "LocalStateDictConfig", "MixedPrecision", "OptimStateDictConfig",
           "ShardedStateDictConfig", "ShardingStrategy", "StateDictConfig", "StateDictSettings", "StateDictType",
           "fully_shard", "FSDPModule", "MixedPrecisionPolicy", "OffloadPolicy", "CPUOffloadPolicy",
           "register_fsdp_forward_method"]
