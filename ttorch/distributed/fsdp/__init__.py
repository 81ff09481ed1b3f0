"""``ttorch.distributed.fsdp``: fully sharded data parallelism (PyTorch's FSDP, the ``FullyShardedDataParallel``
wrapper); see ``fully_sharded_data_parallel.py`` for how it shards and what differs from PyTorch."""
from .api import (BackwardPrefetch, CPUOffload, FullOptimStateDictConfig, FullStateDictConfig,  # noqa: F401
                  LocalStateDictConfig, MixedPrecision, OptimStateDictConfig, ShardedStateDictConfig,
                  ShardingStrategy, StateDictConfig, StateDictSettings, StateDictType)
from .fully_sharded_data_parallel import FullyShardedDataParallel  # noqa: F401

from . import wrap  # noqa: E402  (ttorch.distributed.fsdp.wrap: the auto-wrap policies)

__all__ = ["wrap", "BackwardPrefetch", "CPUOffload", "FullOptimStateDictConfig", "FullStateDictConfig",
           "FullyShardedDataParallel", "LocalStateDictConfig", "MixedPrecision", "OptimStateDictConfig",
           "ShardedStateDictConfig", "ShardingStrategy", "StateDictConfig", "StateDictSettings", "StateDictType"]
