"""Save and load plans and the planner protocols (PyTorch's ``checkpoint.planner``).

A save runs, on every rank: ``planner.set_up_planner(state_dict, storage_meta, is_coordinator)``,
``create_local_plan()`` (a ``SavePlan`` of ``WriteItem``s: what this rank would write); the coordinator's
``create_global_plan(all_plans)`` decides who writes what (replicated data once) and makes the ``Metadata``;
each rank's ``finish_plan(plan)``, then the storage writer asks ``resolve_data(item)`` for each item's tensor
or ``io.BytesIO``. A load: ``set_up_planner(state_dict, metadata, is_coordinator)``, ``create_local_plan()``
(``ReadItem``s: which region of which saved chunk goes where), ``create_global_plan``, ``finish_plan``, then
the reader calls ``load_bytes(item, stream)`` or ``resolve_tensor(item)`` / ``commit_tensor(item, tensor)``.
"""
import abc
import io
import math
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from .metadata import ChunkStorageMetadata, MetadataIndex, TensorProperties

__all__ = ["WriteItemType", "LoadItemType", "BytesIOWriteData", "TensorWriteData", "WriteItem", "ReadItem",
           "SavePlan", "LoadPlan", "SavePlanner", "LoadPlanner"]


class WriteItemType(Enum):
    TENSOR = auto()
    SHARD = auto()
    BYTE_IO = auto()


class LoadItemType(Enum):
    TENSOR = auto()
    BYTE_IO = auto()


@dataclass(frozen=True)
class BytesIOWriteData:
    nbytes: int


@dataclass(frozen=True)
class TensorWriteData:
    chunk: ChunkStorageMetadata
    properties: TensorProperties
    size: Any


@dataclass(frozen=True)
class WriteItem:
    """One thing a rank writes: a tensor chunk (``tensor_data``) or a Python value (``BYTE_IO``)."""
    index: MetadataIndex
    type: WriteItemType
    bytes_io_data: BytesIOWriteData = None
    tensor_data: TensorWriteData = None

    def tensor_storage_size(self):
        """The chunk's size in bytes, None for a Python value."""
        if self.tensor_data is None:
            return None
        return math.prod(self.tensor_data.chunk.sizes) * self.tensor_data.properties.dtype.itemsize


@dataclass(frozen=True)
class ReadItem:
    """Copy the region ``storage_offsets`` + ``lengths`` of saved chunk ``storage_index`` into the region
    ``dest_offsets`` + ``lengths`` of the state dict's tensor ``dest_index`` (a Python value: whole)."""
    type: LoadItemType
    dest_index: MetadataIndex
    dest_offsets: Any
    storage_index: MetadataIndex
    storage_offsets: Any
    lengths: Any


@dataclass(frozen=True)
class SavePlan:
    items: list
    storage_data: Any = None
    planner_data: Any = None
    usable: bool = True


@dataclass
class LoadPlan:
    items: list
    storage_data: Any = None
    planner_data: Any = None


class SavePlanner(abc.ABC):
    """The protocol ``save`` drives (see the module docstring); ``DefaultSavePlanner`` implements it."""

    @abc.abstractmethod
    def set_up_planner(self, state_dict, storage_meta=None, is_coordinator=False):
        """Take the state dict to save (called once per save, on every rank)."""

    @abc.abstractmethod
    def create_local_plan(self):
        """This rank's ``SavePlan``."""

    @abc.abstractmethod
    def create_global_plan(self, all_plans):
        """Coordinator only: the plans of all ranks -> (final plans, ``Metadata``)."""

    @abc.abstractmethod
    def finish_plan(self, new_plan):
        """This rank's final plan, as the coordinator decided it."""

    @abc.abstractmethod
    def resolve_data(self, write_item):
        """The tensor (a chunk, on any device) or ``io.BytesIO`` to write for ``write_item``."""


class LoadPlanner(abc.ABC):
    """The protocol ``load`` drives (see the module docstring); ``DefaultLoadPlanner`` implements it."""

    @abc.abstractmethod
    def set_up_planner(self, state_dict, metadata=None, is_coordinator=False):
        """Take the state dict to load into and the checkpoint's metadata."""

    @abc.abstractmethod
    def create_local_plan(self):
        """This rank's ``LoadPlan``."""

    @abc.abstractmethod
    def create_global_plan(self, global_plan):
        """Coordinator only: the plans of all ranks, adjusted."""

    @abc.abstractmethod
    def finish_plan(self, central_plan):
        """This rank's final plan."""

    @abc.abstractmethod
    def load_bytes(self, read_item, value):
        """Take a Python value: ``value`` is an ``io.BytesIO`` of what ``resolve_data`` gave at save."""

    def resolve_bytes(self, read_item):
        return io.BytesIO()

    @abc.abstractmethod
    def resolve_tensor(self, read_item):
        """The tensor to read ``read_item``'s region into (its shape is ``read_item.lengths``)."""

    @abc.abstractmethod
    def commit_tensor(self, read_item, tensor):
        """Called once ``tensor`` (from ``resolve_tensor``) holds the data."""
