"""``ttorch.distributed.checkpoint`` (DCP): save and load state dicts of sharded models, each rank writing
and reading only its own part; loading reshards (another number of ranks, other placements, one process).

``save(state_dict, checkpoint_id=folder)`` / ``load(state_dict, checkpoint_id=folder)`` (in place), with
``FileSystemWriter``/``FileSystemReader`` (files laid out as PyTorch's, not byte-compatible with them),
``DefaultSavePlanner``/``DefaultLoadPlanner`` and the plan and ``Metadata`` classes; ``state_dict`` has
``get_state_dict``/``set_state_dict`` for models and optimizers (plain, DDP, FSDP, ``fully_shard``).
"""
from .api import CheckpointException  # noqa: F401
from .default_planner import DefaultLoadPlanner, DefaultSavePlanner  # noqa: F401
from .filesystem import FileSystemReader, FileSystemWriter  # noqa: F401
from .metadata import BytesStorageMetadata, ChunkStorageMetadata, Metadata, TensorStorageMetadata  # noqa: F401
from .planner import LoadPlan, LoadPlanner, ReadItem, SavePlan, SavePlanner, WriteItem  # noqa: F401
from .state_dict_loader import load, load_state_dict  # noqa: F401
from .state_dict_saver import AsyncCheckpointerType, async_save, save, save_state_dict  # noqa: F401
from .storage import StorageReader, StorageWriter  # noqa: F401
from . import format_utils, stateful  # noqa: F401,E402

__all__ = ["save", "load", "async_save", "save_state_dict", "load_state_dict", "AsyncCheckpointerType",
           "CheckpointException", "DefaultSavePlanner", "DefaultLoadPlanner", "FileSystemWriter", "FileSystemReader",
           "Metadata", "BytesStorageMetadata", "ChunkStorageMetadata", "TensorStorageMetadata", "LoadPlan",
           "LoadPlanner", "ReadItem", "SavePlan", "SavePlanner", "WriteItem", "StorageReader", "StorageWriter",
           "format_utils", "stateful"]
