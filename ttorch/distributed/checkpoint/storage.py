"""The storage protocols ``save`` and ``load`` drive (PyTorch's ``checkpoint.storage``).

A writer sees, on every rank: ``reset(checkpoint_id)``, ``set_up_storage_writer(is_coordinator)``,
``prepare_local_plan(plan)``; on the coordinator ``prepare_global_plan(plans)``; on every rank
``write_data(plan, planner)`` (a ``Future`` of its ``WriteResult``s); on the coordinator, once every rank
wrote, ``finish(metadata, results)``. A reader: ``reset``, ``read_metadata()``,
``set_up_storage_reader(metadata, is_coordinator)``, ``prepare_local_plan``, ``prepare_global_plan``,
``read_data(plan, planner)``.
"""
import abc
from dataclasses import dataclass
from typing import Any

from .metadata import MetadataIndex

__all__ = ["WriteResult", "StorageWriter", "StorageReader"]


@dataclass(frozen=True)
class WriteResult:
    """Where the writer put one ``WriteItem`` (``storage_data``: the writer's own record)."""
    index: MetadataIndex
    size_in_bytes: int
    storage_data: Any


class StorageWriter(abc.ABC):
    """Writes the planned items and the metadata (see the module docstring for the order of calls)."""

    @abc.abstractmethod
    def reset(self, checkpoint_id=None):
        """Start a new checkpoint (``checkpoint_id``: where, when given)."""

    @abc.abstractmethod
    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        """Told whether this rank is the coordinator."""

    @abc.abstractmethod
    def prepare_local_plan(self, plan):
        """This rank's plan, with any storage details added."""

    @abc.abstractmethod
    def prepare_global_plan(self, plans):
        """Coordinator only: every rank's plan, with storage details added (file names...)."""

    @abc.abstractmethod
    def write_data(self, plan, planner):
        """Write ``plan``'s items (data from ``planner.resolve_data``); a ``Future`` of ``WriteResult``s."""

    @abc.abstractmethod
    def finish(self, metadata, results):
        """Coordinator only: every rank wrote (``results[rank]``); record ``metadata``, the checkpoint is done."""

    @classmethod
    @abc.abstractmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        """Whether this writer can take ``checkpoint_id``."""

    def storage_meta(self):
        return None


class StorageReader(abc.ABC):
    """Reads the metadata and the planned items (see the module docstring for the order of calls)."""

    @abc.abstractmethod
    def reset(self, checkpoint_id=None):
        """Start reading a checkpoint (``checkpoint_id``: where, when given)."""

    @abc.abstractmethod
    def read_metadata(self, *args, **kwargs):
        """The checkpoint's ``Metadata``."""

    @abc.abstractmethod
    def set_up_storage_reader(self, metadata, is_coordinator, *args, **kwargs):
        """Given the metadata, before planning."""

    @abc.abstractmethod
    def prepare_local_plan(self, plan):
        """This rank's plan, with any storage details added."""

    @abc.abstractmethod
    def prepare_global_plan(self, plans):
        """Coordinator only: every rank's plan, adjusted."""

    @abc.abstractmethod
    def read_data(self, plan, planner):
        """Read ``plan``'s items into the planner (``load_bytes``/``resolve_tensor``); a ``Future``."""

    @classmethod
    @abc.abstractmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        """Whether this reader can take ``checkpoint_id``."""
