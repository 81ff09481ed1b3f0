"""A checkpoint in a folder (PyTorch's ``FileSystemWriter`` / ``FileSystemReader``).

Layout as PyTorch's: ``.metadata`` (the pickled ``Metadata``) and ``__{rank}_{i}.distcp`` data files, one
per rank (or one per item without ``single_file_per_rank``), each item a ``ttorch.save`` blob at a recorded
offset. Not byte-compatible with PyTorch's files (a PyTorch checkpoint cannot be read, nor ttorch's by PyTorch).

Atomic: each rank writes its data files under temporary names (``<name>.<save id>.tmp``, synced). Only when
every rank has written does the coordinator remove the old ``.metadata``, rename the data files into place
and write the new ``.metadata`` (temporary file, then ``os.replace``). A failing writer, on any rank, leaves
the folder's previous checkpoint as it was (the temporary files are removed); a crash between the renames
and the new ``.metadata`` leaves a folder without ``.metadata`` (no checkpoint), never a mixed one. The
coordinator renames every rank's files, so ranks share the folder (as loading needs anyway).
"""
import glob
import io
import os
import pickle
import uuid
from dataclasses import dataclass, replace

from ...futures import Future
from ..._tensor import Size
from .metadata import Metadata, StorageMeta
from .planner import LoadItemType, WriteItemType
from .storage import StorageReader, StorageWriter, WriteResult

__all__ = ["FileSystemWriter", "FileSystemReader"]

_METADATA = ".metadata"
_SUFFIX = ".distcp"


@dataclass(frozen=True)
class _StoragePrefix:
    prefix: str
    save_id: str = ""


@dataclass(frozen=True)
class _StorageInfo:
    """An item's place: ``relative_path`` in the checkpoint folder, byte ``offset`` and ``length``."""
    relative_path: str
    offset: int
    length: int


def _write_replace(path, data, sync):
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class FileSystemWriter(StorageWriter):
    """Writes a checkpoint into the folder ``path`` (see the module docstring).

    Args:
        path (str or PathLike): the checkpoint folder (made when missing).
        single_file_per_rank (bool): one data file per rank (default), else one per item.
        sync_files (bool): ``fsync`` each file before it is renamed into place.
        thread_count, per_thread_copy_ahead, cache_staged_state_dict: accepted (ttorch writes in one thread).
        overwrite (bool): when False, a folder that already holds a checkpoint is an error.
    """

    def __init__(self, path, single_file_per_rank=True, sync_files=True, thread_count=1,
                 per_thread_copy_ahead=10_000_000, cache_staged_state_dict=False, overwrite=True, _extensions=None,
                 serialization_format=None):
        self.path = os.fspath(path)
        self.single_file_per_rank, self.sync_files, self.overwrite = single_file_per_rank, sync_files, overwrite
        self.thread_count, self.per_thread_copy_ahead = thread_count, per_thread_copy_ahead
        self.cache_staged_state_dict = cache_staged_state_dict
        self.save_id = uuid.uuid4().hex
        self.is_coordinator = False

    @property
    def checkpoint_id(self):
        return self.path

    def reset(self, checkpoint_id=None):
        if checkpoint_id is not None:
            self.path = os.fspath(checkpoint_id)
        self.save_id = uuid.uuid4().hex

    def set_up_storage_writer(self, is_coordinator, *args, **kwargs):
        self.is_coordinator = is_coordinator

    def storage_meta(self):
        return StorageMeta(checkpoint_id=self.path, save_id=self.save_id)

    def prepare_local_plan(self, plan):
        os.makedirs(self.path, exist_ok=True)
        if not self.overwrite and os.path.exists(os.path.join(self.path, _METADATA)):
            raise RuntimeError(f"Checkpoint already exists and {self.overwrite=}.")
        return plan

    def prepare_global_plan(self, plans):
        # one save id for all ranks: the coordinator finds every rank's temporary files by it
        return [replace(plan, storage_data=_StoragePrefix(f"__{i}_", self.save_id)) for i, plan in enumerate(plans)]

    def write_data(self, plan, planner):
        from ...serialization import save
        prefix = plan.storage_data
        buckets = {}
        for i, item in enumerate(plan.items):
            name = f"{prefix.prefix}{0 if self.single_file_per_rank else i}{_SUFFIX}"
            buckets.setdefault(name, []).append(item)
        results, written = [], []
        fut = Future()
        try:
            for name, items in buckets.items():
                tmp = os.path.join(self.path, f"{name}.{prefix.save_id}.tmp")
                written.append(tmp)
                with open(tmp, "wb") as f:
                    for item in items:
                        data = planner.resolve_data(item)
                        if item.type is WriteItemType.BYTE_IO:
                            blob = data.getbuffer()
                        else:
                            stream = io.BytesIO()
                            save(data.detach().cpu(), stream)
                            blob = stream.getbuffer()
                        offset = f.tell()
                        f.write(blob)
                        results.append(WriteResult(item.index, len(blob), _StorageInfo(name, offset, len(blob))))
                    if self.sync_files:
                        f.flush()
                        os.fsync(f.fileno())
        except BaseException as e:
            for tmp in written:
                if os.path.exists(tmp):
                    os.remove(tmp)
            fut.set_exception(e)
            return fut
        fut.set_result(results)
        return fut

    def finish(self, metadata, results):
        storage = {}
        for rank_results in results:
            for r in rank_results:
                storage[r.index] = r.storage_data
        metadata.storage_data = storage
        meta_path = os.path.join(self.path, _METADATA)
        blob = pickle.dumps(metadata)
        if os.path.exists(meta_path):
            os.remove(meta_path)        # from here until the new one is in place the folder holds no checkpoint
        for name in sorted({info.relative_path for info in storage.values()}):
            os.replace(os.path.join(self.path, f"{name}.{self.save_id}.tmp"), os.path.join(self.path, name))
        _write_replace(meta_path, blob, self.sync_files)

    def _abort(self):
        """Coordinator, after a failed write: remove this save's temporary files of every rank."""
        for tmp in glob.glob(os.path.join(glob.escape(self.path), f"*.{self.save_id}.tmp")):
            os.remove(tmp)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        return isinstance(checkpoint_id, (str, os.PathLike))


class FileSystemReader(StorageReader):
    """Reads a checkpoint from the folder ``path`` (see the module docstring)."""

    def __init__(self, path, _extension_registry=None):
        self.path = os.fspath(path)
        self.storage_data = {}
        self.load_id = uuid.uuid4().hex

    @property
    def checkpoint_id(self):
        return self.path

    def reset(self, checkpoint_id=None):
        self.storage_data = {}
        if checkpoint_id is not None:
            self.path = os.fspath(checkpoint_id)
        self.load_id = uuid.uuid4().hex

    def read_metadata(self, *args, **kwargs):
        with open(os.path.join(self.path, _METADATA), "rb") as f:
            metadata = pickle.load(f)
        if not isinstance(metadata, Metadata):
            raise ValueError(f"{self.path}: .metadata does not hold a checkpoint's Metadata")
        if metadata.storage_meta is None:
            metadata.storage_meta = StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata

    def set_up_storage_reader(self, metadata, is_coordinator, *args, **kwargs):
        self.storage_data = metadata.storage_data

    def prepare_local_plan(self, plan):
        return plan

    def prepare_global_plan(self, plans):
        return plans

    def read_data(self, plan, planner):
        from ...autograd import grad_mode
        from ...serialization import load
        from .default_planner import _narrow
        by_file = {}
        for item in plan.items:
            info = self.storage_data[item.storage_index]
            by_file.setdefault(info.relative_path, []).append((info, item))
        with grad_mode.no_grad():
            for name, entries in by_file.items():
                with open(os.path.join(self.path, name), "rb") as f:
                    last = (None, None)     # (a saved chunk that several items read is read once)
                    for info, item in sorted(entries, key=lambda e: e[0].offset):
                        if last[0] != info.offset:
                            f.seek(info.offset)
                            last = (info.offset, f.read(info.length))
                        blob = io.BytesIO(last[1])
                        if item.type is LoadItemType.BYTE_IO:
                            planner.load_bytes(item, blob)
                            continue
                        src = _narrow(load(blob, map_location="cpu", weights_only=True), item.storage_offsets,
                                      item.lengths)
                        target = planner.resolve_tensor(item).detach()
                        if tuple(target.shape) != tuple(item.lengths):
                            raise ValueError(f"req {item.storage_index} mismatch sizes {Size(target.shape)} vs "
                                             f"{Size(src.shape)}")
                        target.copy_(src)
                        planner.commit_tensor(item, target)
        fut = Future()
        fut.set_result(None)
        return fut

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id):
        return isinstance(checkpoint_id, (str, os.PathLike))
