"""``ttorch.distributed``: process groups, stores and collectives between processes, PyTorch's API.

Processes meet through a store (``env://`` as ``torchrun`` sets it, ``tcp://``, ``file://`` or a given
``Store``), then talk over one TCP connection per pair of ranks, on one host or several. Tensors travel
as host copies (cuda tensors are copied to the host and back), reductions run in rank order so every
rank gets bit-identical results. ``"gloo"`` is the backend; ``"nccl"`` is accepted for cuda tensors and
implemented the same way (no NCCL library). Launch with ``python -m ttorch.distributed.run`` or
``ttorch.multiprocessing.spawn``.
"""
from .store import (Store, HashStore, FileStore, TCPStore, PrefixStore, DistError, DistBackendError,  # noqa: F401
                    DistNetworkError, DistStoreError)
from .distributed_c10d import (Backend, ReduceOp, Work, ProcessGroup, group, GroupMember,  # noqa: F401
                               default_pg_timeout, is_available, is_initialized, is_gloo_available,
                               is_nccl_available, is_mpi_available, is_torchelastic_launched, init_process_group,
                               destroy_process_group, new_group, get_rank, get_world_size, get_backend,
                               get_process_group_ranks, get_global_rank, get_group_rank)
from .collectives import (all_reduce, broadcast, reduce, all_gather, all_gather_into_tensor, gather,  # noqa: F401
                          scatter, reduce_scatter, reduce_scatter_tensor, all_to_all, all_to_all_single, barrier,
                          monitored_barrier)
from .p2p import (send, recv, isend, irecv, P2POp, batch_isend_irecv, all_gather_object,  # noqa: F401
                  broadcast_object_list, gather_object, scatter_object_list)
from ._grad_bucket import GradBucket, BuiltinCommHookType  # noqa: F401  (DDP communication hooks)
from ._grad_bucket import _DEFAULT_FIRST_BUCKET_BYTES, _compute_bucket_assignment_by_size  # noqa: F401
from . import algorithms  # noqa: F401,E402  (Join, ddp_comm_hooks)
from .device_mesh import DeviceMesh, init_device_mesh  # noqa: F401,E402


def get_node_local_rank(fallback_rank=None):
    """The LOCAL_RANK a launcher set, else ``fallback_rank`` (PyTorch's helper)."""
    import os
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
                       "and want the code to run locally instead.")
