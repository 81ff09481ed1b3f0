"""``save`` and ``async_save``: write a state dict as a distributed checkpoint, each rank its own part
(PyTorch's ``checkpoint.state_dict_saver``).

Differences from PyTorch: ``async_save`` returns a ``ttorch.futures.Future`` (with ``result()`` as well as
``wait()``); it stages the state dict in the caller (every tensor copied to the host, other values deep-copied)
and writes in one background thread, the ranks' messages apart from the group's collectives (``utils``), so
training may run collectives meanwhile; ``async_checkpointer_type=PROCESS`` and ``async_stager`` are accepted and
run the same way; ``use_collectives=False`` is not implemented.
"""
import concurrent.futures
import copy
import warnings
from enum import Enum

from ...autograd import grad_mode
from ...futures import Future
from ..._tensor import Tensor
from .default_planner import DefaultSavePlanner
from .filesystem import FileSystemReader, FileSystemWriter
from .stateful import Stateful
from .utils import _DistWrapper

__all__ = ["save_state_dict", "save", "async_save", "AsyncCheckpointerType"]

_NO_DIST = ("torch.distributed is disabled, unavailable or uninitialized, assuming the intent is to {} in a single "
            "process.")


class AsyncCheckpointerType(Enum):
    THREAD = "thread"
    PROCESS = "process"


def _storage_setup(storage, checkpoint_id, reader):
    if storage is not None:
        if checkpoint_id is not None:
            storage.reset(checkpoint_id)
        return storage
    if not checkpoint_id:
        raise RuntimeError("`checkpoint_id` must be specified if storage_reader/storage_writer is None.")
    cls = FileSystemReader if reader else FileSystemWriter
    if cls.validate_checkpoint_id(checkpoint_id):
        storage = cls(checkpoint_id)
        storage.reset(checkpoint_id)
        return storage
    raise RuntimeError("Cannot detect which StorageReader or StorageWriter to use. Please specify the "
                       "storage_reader/storage_writer.")


def _stateful_to_state_dict(state_dict):
    """A shallow copy of ``state_dict`` with each ``Stateful`` value replaced by its ``state_dict()``."""
    return {k: v.state_dict() if isinstance(v, Stateful) else v for k, v in state_dict.items()}


def _no_dist(no_dist, what):
    from .. import distributed_c10d as c10d
    no_dist = no_dist or not c10d.is_initialized()
    if no_dist:
        warnings.warn(_NO_DIST.format(what), stacklevel=3)
    return no_dist


def save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None, process_group=None, no_dist=False,
         use_collectives=True):
    """Save ``state_dict`` as a distributed checkpoint: every rank of ``process_group`` calls it with its own
    state dict (the same keys); each writes its DTensors' local shards and one rank each replicated value.

    Args:
        state_dict (dict): tensors, DTensors, Python values, nested dicts and lists; ``Stateful`` values
            (a module, an optimizer) are saved as their ``state_dict()``.
        checkpoint_id (str or PathLike, optional): the checkpoint folder (a ``FileSystemWriter``'s).
        storage_writer (StorageWriter, optional): where to write (default: from ``checkpoint_id``).
        planner (SavePlanner, optional): default ``DefaultSavePlanner()``.
        process_group (ProcessGroup, optional): the ranks that save (default: the whole world; without an
            initialized process group, this process alone).
        no_dist (bool): save from this process alone.

    Returns:
        Metadata: the checkpoint's metadata.

    Example::

        >>> # ttorch.distributed.checkpoint.save({"model": model, "optim": optim}, checkpoint_id="ckpt/step10")
    """
    if not use_collectives:
        raise NotImplementedError("save(use_collectives=False) is not implemented in ttorch")
    no_dist = _no_dist(no_dist, "save")
    storage_writer = _storage_setup(storage_writer, checkpoint_id, reader=False)
    return _save_state_dict(_stateful_to_state_dict(state_dict), storage_writer, process_group, 0, no_dist, planner)


def save_state_dict(state_dict, storage_writer, process_group=None, coordinator_rank=0, no_dist=False,
                    planner=None):
    """Deprecated: use ``save``."""
    warnings.warn("`save_state_dict` is deprecated and will be removed in future versions.Please use `save` "
                  "instead.", FutureWarning, stacklevel=2)
    storage_writer.reset()
    return _save_state_dict(state_dict, storage_writer, process_group, coordinator_rank, no_dist, planner)


def _save_state_dict(state_dict, storage_writer, process_group=None, coordinator_rank=0, no_dist=False,
                     planner=None, dist_wrapper=None):
    dist_w = dist_wrapper or _DistWrapper(process_group, not no_dist, coordinator_rank)
    planner = planner if planner is not None else DefaultSavePlanner()
    global_metadata = [None]

    def local_step():
        planner.set_up_planner(state_dict, storage_writer.storage_meta(), dist_w.is_coordinator)
        storage_writer.set_up_storage_writer(dist_w.is_coordinator, rank=dist_w.rank)
        return storage_writer.prepare_local_plan(planner.create_local_plan())

    def global_step(all_local_plans):
        all_local_plans, global_metadata[0] = planner.create_global_plan(all_local_plans)
        return storage_writer.prepare_global_plan(all_local_plans)

    central_plan = dist_w.reduce_scatter("plan", local_step, global_step)

    def write_data():
        final_local_plan = planner.finish_plan(central_plan)
        return storage_writer.write_data(final_local_plan, planner).wait()

    def finish_checkpoint(all_results):
        storage_writer.finish(metadata=global_metadata[0], results=all_results)
        return global_metadata[0]

    return dist_w.all_reduce("write", write_data, finish_checkpoint, getattr(storage_writer, "_abort", None))


# ---------------------------------------------------------------------------------------------- async
class _SaveFuture(Future):
    """A ``ttorch.futures.Future`` that also answers ``result()``, as the ``concurrent.futures.Future``
    PyTorch's ``async_save`` returns."""

    def result(self, timeout=None):
        return self.wait()


class _Job:
    """The background save as the ``Work`` a ``ttorch.futures.Future`` completes from."""

    def __init__(self, job):
        self._job = job

    def is_completed(self):
        return self._job.done()

    def wait(self):
        self._job.result()

    def result(self):
        return self._job.result()


_EXECUTOR = None


def _stage(obj):
    """A host copy of ``obj`` (nested dicts and lists): tensors cloned to the host, DTensors their local
    shards so, other values deep-copied: later changes to the model do not reach the checkpoint."""
    from ..tensor import DTensor
    if isinstance(obj, DTensor):
        if any(p.is_partial() for p in obj.placements):
            from ..tensor import Replicate
            obj = obj.redistribute(obj.device_mesh, [Replicate() if p.is_partial() else p for p in obj.placements])
        return DTensor.from_local(obj._local_tensor.detach().cpu().clone(), obj.device_mesh, obj.placements,
                                  shape=obj.shape)
    if isinstance(obj, Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _stage(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_stage(v) for v in obj]
    return copy.deepcopy(obj)


def async_save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None, process_group=None,
               async_checkpointer_type=AsyncCheckpointerType.THREAD, async_stager=None, no_dist=False,
               use_collectives=True):
    """``save`` in the background: stages ``state_dict`` to host memory now, writes it in a thread; returns a
    ``Future`` completed with the ``Metadata`` (``wait()`` or ``result()`` raise the save's error).

    Example::

        >>> # fut = ttorch.distributed.checkpoint.async_save({"model": model}, checkpoint_id="ckpt/step10")
        >>> # ... train ...; fut.result()
    """
    global _EXECUTOR
    if not use_collectives:
        raise NotImplementedError("async_save(use_collectives=False) is not implemented in ttorch")
    no_dist = _no_dist(no_dist, "save")
    storage_writer = _storage_setup(storage_writer, checkpoint_id, reader=False)
    with grad_mode.no_grad():
        staged = _stage(_stateful_to_state_dict(state_dict))
    dist_w = _DistWrapper(process_group, not no_dist, 0)       # (its message keys are taken now, in order)
    if _EXECUTOR is None:
        _EXECUTOR = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ttorch-dcp-save")
    job = _EXECUTOR.submit(_save_state_dict, staged, storage_writer, planner=planner, dist_wrapper=dist_w)
    return _SaveFuture._of_work(_Job(job))
