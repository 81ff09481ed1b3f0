"""The configuration types of ``ttorch.distributed.fsdp``, as PyTorch names them."""
from dataclasses import dataclass
from enum import Enum, auto
from typing import Optional

__all__ = ["ShardingStrategy", "BackwardPrefetch", "CPUOffload", "MixedPrecision", "StateDictType",
           "StateDictConfig", "FullStateDictConfig", "LocalStateDictConfig", "ShardedStateDictConfig",
           "OptimStateDictConfig", "FullOptimStateDictConfig", "StateDictSettings"]


class ShardingStrategy(Enum):
    """What each rank keeps: ``FULL_SHARD`` shards parameters, gradients and optimizer state and frees the
    gathered parameters after forward; ``SHARD_GRAD_OP`` keeps them gathered from forward to backward;
    ``NO_SHARD`` replicates everything (DDP). The hybrid strategies shard within a node and replicate
    across nodes; ttorch runs them as ``FULL_SHARD``/``SHARD_GRAD_OP`` over the whole group."""
    FULL_SHARD = auto()
    SHARD_GRAD_OP = auto()
    NO_SHARD = auto()
    HYBRID_SHARD = auto()
    _HYBRID_SHARD_ZERO2 = auto()


class BackwardPrefetch(Enum):
    """When the next all-gather is issued in backward. Accepted; ttorch's collectives are synchronous,
    so there is nothing to overlap."""
    BACKWARD_PRE = auto()
    BACKWARD_POST = auto()


@dataclass
class CPUOffload:
    """``offload_params=True``: the shards (and so their gradients and the optimizer's step) live on the
    host; each forward copies the gathered parameters to the compute device."""
    offload_params: bool = False


@dataclass
class MixedPrecision:
    """Dtypes for the gathered parameters (``param_dtype``), the gradient reduction (``reduce_dtype``) and
    the buffers (``buffer_dtype``); the shards keep their own dtype, and gradients come back in it unless
    ``keep_low_precision_grads``."""
    param_dtype: Optional[object] = None
    reduce_dtype: Optional[object] = None
    buffer_dtype: Optional[object] = None
    keep_low_precision_grads: bool = False
    cast_forward_inputs: bool = False
    cast_root_forward_inputs: bool = True
    _module_classes_to_ignore: tuple = ()


class StateDictType(Enum):
    FULL_STATE_DICT = auto()
    LOCAL_STATE_DICT = auto()
    SHARDED_STATE_DICT = auto()


@dataclass
class StateDictConfig:
    offload_to_cpu: bool = False


@dataclass
class FullStateDictConfig(StateDictConfig):
    rank0_only: bool = False


@dataclass
class LocalStateDictConfig(StateDictConfig):
    pass


@dataclass
class ShardedStateDictConfig(StateDictConfig):
    _use_dtensor: bool = False


@dataclass
class OptimStateDictConfig:
    offload_to_cpu: bool = True


@dataclass
class FullOptimStateDictConfig(OptimStateDictConfig):
    rank0_only: bool = False


@dataclass
class StateDictSettings:
    state_dict_type: StateDictType
    state_dict_config: StateDictConfig
    optim_state_dict_config: OptimStateDictConfig
