"""``load``: read a distributed checkpoint into a state dict, in place, resharding as needed (PyTorch's
``checkpoint.state_dict_loader``).

Each rank reads only the regions its tensors need: a DTensor's local shard, a plain tensor's whole value,
whatever the ranks and placements that saved the checkpoint (saved by 2 ranks with ``Shard(0)``, loaded by 4,
by one process into plain tensors, or into another placement).
"""
import warnings

from .default_planner import DefaultLoadPlanner
from .state_dict_saver import _no_dist, _storage_setup
from .stateful import Stateful
from .utils import _DistWrapper

__all__ = ["load_state_dict", "load"]


def load(state_dict, *, checkpoint_id=None, storage_reader=None, planner=None, process_group=None, no_dist=False):
    """Load a checkpoint into ``state_dict``: its tensors and DTensors are filled in place, its other values
    replaced; a ``Stateful`` value (a module, an optimizer) gets ``load_state_dict`` with its ``state_dict()``
    filled. Every rank of ``process_group`` calls it, with the same keys.

    Args:
        state_dict (dict): what to load, shaped as wanted (the checkpoint's keys may be more).
        checkpoint_id (str or PathLike, optional): the checkpoint folder (a ``FileSystemReader``'s).
        storage_reader (StorageReader, optional): where to read (default: from ``checkpoint_id``).
        planner (LoadPlanner, optional): default ``DefaultLoadPlanner()``.
        process_group (ProcessGroup, optional): the ranks that load (default: the whole world; without an
            initialized process group, this process alone).
        no_dist (bool): load in this process alone.

    Example::

        >>> # sd = {"model": model}; ttorch.distributed.checkpoint.load(sd, checkpoint_id="ckpt/step10")
    """
    no_dist = _no_dist(no_dist, "load")
    storage_reader = _storage_setup(storage_reader, checkpoint_id, reader=True)
    keys = sorted(state_dict.keys())
    stateful_sd = {k: state_dict[k].state_dict() if isinstance(state_dict[k], Stateful) else state_dict[k]
                   for k in keys}
    _load_state_dict(stateful_sd, storage_reader, process_group, 0, no_dist, planner)
    for k in keys:
        if isinstance(state_dict[k], Stateful):
            state_dict[k].load_state_dict(stateful_sd[k])
        else:
            state_dict[k] = stateful_sd[k]


def load_state_dict(state_dict, storage_reader, process_group=None, coordinator_rank=0, no_dist=False,
                    planner=None):
    """Deprecated: use ``load``."""
    warnings.warn("`load_state_dict` is deprecated and will be removed in future versions. Please use `load` "
                  "instead.", FutureWarning, stacklevel=2)
    storage_reader.reset()
    return _load_state_dict(state_dict, storage_reader, process_group, coordinator_rank, no_dist, planner)


def _load_state_dict(state_dict, storage_reader, process_group=None, coordinator_rank=0, no_dist=False,
                     planner=None):
    dist_w = _DistWrapper(process_group, not no_dist, coordinator_rank)
    planner = planner if planner is not None else DefaultLoadPlanner()

    def local_step():
        metadata = storage_reader.read_metadata()
        planner.set_up_planner(state_dict, metadata, dist_w.is_coordinator)
        storage_reader.set_up_storage_reader(metadata, dist_w.is_coordinator)
        return storage_reader.prepare_local_plan(planner.create_local_plan())

    def global_step(all_local_plans):
        return storage_reader.prepare_global_plan(planner.create_global_plan(all_local_plans))

    central_plan = dist_w.reduce_scatter("plan", local_step, global_step)

    def read_data():
        storage_reader.read_data(planner.finish_plan(central_plan), planner).wait()

    dist_w.all_gather("read", read_data)
