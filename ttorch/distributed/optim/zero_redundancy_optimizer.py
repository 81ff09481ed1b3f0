"""``ZeroRedundancyOptimizer``: ZeRO stage 1, the optimizer state sharded across the ranks of a group.

Each rank builds the wrapped optimizer (``optimizer_class``) for its share of the parameters only, so it keeps
the state (Adam's moments...) of those alone. PyTorch's partition: each parameter group's parameters, largest
first, each to the rank with the fewest elements so far. ``step()`` updates the local share, then every rank
broadcasts the parameters it owns to the others.

Differences from PyTorch: ``parameters_as_bucket_view=True`` broadcasts each rank's parameters as one flat
buffer (one message per rank and device, as PyTorch's), but the parameters are copied out of that buffer
rather than being views of it; ``overlap_with_ddp=True`` (the update inside DDP's communication hook) is not
implemented and raises ``NotImplementedError``.
"""
import copy
from itertools import chain

from ...optim.optimizer import Optimizer
from ..algorithms.join import Join, JoinHook, Joinable

__all__ = ["ZeroRedundancyOptimizer"]


def _is_trainable(param):
    return param.requires_grad


def _copy_to_device(value, device):
    """A copy of ``value`` (nested dicts, lists, tensors) with every tensor on ``device``."""
    from ..._tensor import Tensor
    if isinstance(value, Tensor):
        return value.detach().to(device, copy=True)
    if isinstance(value, dict):
        return {k: _copy_to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_to_device(v, device) for v in value)
    return value


class _ZeROJoinHook(JoinHook):
    """A joined rank keeps stepping (with no gradients) so that it still broadcasts the parameters it owns."""

    def __init__(self, zero):
        if not isinstance(zero, ZeroRedundancyOptimizer):
            raise AssertionError("ZeRO join hook requires passing in a ZeroRedundancyOptimizer instance as the state")
        self.zero = zero

    def main_hook(self):
        self.zero.step()


class ZeroRedundancyOptimizer(Optimizer, Joinable):
    r"""Wrap an optimizer so that its state is sharded across the ranks of a process group.

    Args:
        params: the parameters (tensors, or dicts of parameter groups), the same on every rank.
        optimizer_class (type): the local optimizer's class (``ttorch.optim.Adam``...).
        process_group: the group to shard over (the default group when None).
        parameters_as_bucket_view (bool): broadcast each rank's parameters as one flat buffer.
        overlap_with_ddp (bool): not implemented (``NotImplementedError``).
        **defaults: the local optimizer's keyword arguments (``lr``...).

    ``state_dict()`` needs ``consolidate_state_dict(to=rank)`` on every rank first, and then holds the whole
    state on rank ``to`` (indexed as a plain optimizer over all the parameters would).

    Example::

        >>> # opt = ZeroRedundancyOptimizer(ddp_model.parameters(), optimizer_class=ttorch.optim.Adam, lr=0.01)
        >>> # loss.backward(); opt.step()
    """

    def __init__(self, params, optimizer_class, process_group=None, parameters_as_bucket_view=False,
                 overlap_with_ddp=False, **defaults):
        from .. import distributed_c10d as c10d
        if overlap_with_ddp:
            raise NotImplementedError("ZeroRedundancyOptimizer(overlap_with_ddp=True) is not implemented in ttorch")
        params = self._verify_and_init_params(params)
        self._verify_same_dense_param_type()
        self.initialized = False
        Optimizer.__init__(self, params, defaults)
        Joinable.__init__(self)
        self._partition_parameters_cache = []
        self._param_to_rank_cache, self._param_to_index_cache, self._index_to_param_cache = {}, {}, []
        self._default_device = self._all_params[0].device
        self.process_group = process_group if process_group is not None else c10d.group.WORLD
        self.world_size = c10d.get_world_size(self.process_group)
        self.rank = c10d.get_rank(self.process_group)
        self.global_rank = c10d.get_global_rank(self.process_group, self.rank)
        self._overlap_with_ddp = False
        self._optim_defaults = defaults
        self._optim_constructor = optimizer_class
        self._init_local_optimizer()
        self.parameters_as_bucket_view = parameters_as_bucket_view
        self._all_state_dicts = []
        self.initialized = True

    # ------------------------------------------------------------------ construction
    def _verify_and_init_params(self, params):
        from ..._tensor import Tensor
        if isinstance(params, Tensor):
            raise TypeError(f"`params` argument should be an iterable of Tensors, but got {params.type()}")
        try:
            all_params = list(params)
        except TypeError as e:
            raise TypeError("`params` argument should be an iterable of Tensors or dicts, but got "
                            f"{type(params).__name__}") from e
        if len(all_params) == 0:
            raise ValueError("ZeroRedundancyOptimizer got an empty parameter list")
        all_tensors = all(isinstance(p, Tensor) for p in all_params)
        all_dicts = all(isinstance(p, dict) for p in all_params)
        if not all_tensors and not all_dicts:
            raise TypeError("`params` argument should be an iterable of Tensors or dicts")
        if all_tensors:
            self._all_params = all_params
        else:
            self._all_params = []
            for group in all_params:
                if "params" not in group:
                    raise ValueError("Each parameter group passed-in via `params` must have a 'params' key mapping "
                                     "to the parameters in the group")
                self._all_params.extend(group["params"])
        return all_params

    def _verify_same_dense_param_type(self):
        first = self._all_params[0]
        if first.is_sparse:
            raise ValueError(f"ZeroRedundancyOptimizer only supports using the same dense type for all parameters "
                             f"but got {first.type()}")
        for p in self._all_params[1:]:
            if p.type() != first.type():
                raise ValueError("ZeroRedundancyOptimizer only supports using the same dense type for all parameters "
                                 f"but got both {first.type()} and {p.type()}")

    def _init_local_optimizer(self):
        self.optim = self._optim_constructor(self._partition_parameters()[self.rank], **self._optim_defaults)
        self._sync_param_groups(self.optim.param_groups, self.param_groups)

    def _clear_cache(self):
        self._partition_parameters_cache = []
        self._param_to_rank_cache, self._param_to_index_cache, self._index_to_param_cache = {}, {}, []

    def add_param_group(self, param_group):
        """Add a parameter group: it is partitioned across the ranks like the others."""
        super().add_param_group(param_group)
        if getattr(self, "initialized", False):
            self._clear_cache()
            param_groups = self._partition_parameters()[self.rank]
            if len(param_groups) == len(self.optim.param_groups) + 1:
                self.optim.add_param_group(param_groups[-1])

    # ------------------------------------------------------------------ partition
    def _partition_parameters(self):
        """For each rank, its param groups (copies of the global ones with that rank's parameters)."""
        if not self._partition_parameters_cache:
            cache = [[] for _ in range(self.world_size)]
            sizes = [0] * self.world_size
            for group in self.param_groups:
                per_rank = [[] for _ in range(self.world_size)]
                for p in sorted(group["params"], key=lambda t: t.numel(), reverse=True):
                    r = sizes.index(min(sizes))         # the first rank with the fewest elements
                    per_rank[r].append(p)
                    sizes[r] += p.numel()
                for r, ps in enumerate(per_rank):
                    g = copy.copy(group)
                    g["params"] = ps
                    cache[r].append(g)
            self._partition_parameters_cache = cache
        return self._partition_parameters_cache

    @property
    def _param_to_rank(self):
        if not self._param_to_rank_cache:
            for r, groups in enumerate(self._partition_parameters()):
                for g in groups:
                    for p in g["params"]:
                        self._param_to_rank_cache[p] = r
        return self._param_to_rank_cache

    @property
    def _param_to_index(self):
        if not self._param_to_index_cache:
            self._param_to_index_cache = {p: i for i, p in enumerate(self._index_to_param)}
        return self._param_to_index_cache

    @property
    def _index_to_param(self):
        if not self._index_to_param_cache:
            self._index_to_param_cache = list(chain.from_iterable(g["params"] for g in self.param_groups))
        return self._index_to_param_cache

    # ------------------------------------------------------------------ step
    @staticmethod
    def _sync_param_groups(src_param_groups, dst_param_groups):
        if len(src_param_groups) != len(dst_param_groups):
            raise AssertionError("Mismatch between number of source and destination parameter groups")
        for src, dst in zip(src_param_groups, dst_param_groups):
            for k, v in src.items():
                if k != "params":
                    dst[k] = v

    def _broadcast_params_from_rank(self, rank):
        from ...autograd import grad_mode
        from ..collectives import broadcast
        from .. import distributed_c10d as c10d
        src = c10d.get_global_rank(self.process_group, rank)
        params = [p for g in self._partition_parameters()[rank] for p in g["params"]]
        if not self.parameters_as_bucket_view:
            return [broadcast(p.data, src=src, group=self.process_group, async_op=True) for p in params]
        import ttorch
        handles = []
        with grad_mode.no_grad():
            by_device = {}
            for p in params:
                if _is_trainable(p):
                    by_device.setdefault(str(p.device), []).append(p)
            for ps in by_device.values():      # one flat buffer per device (an empty share sends nothing)
                flat = ttorch.cat([p.detach().reshape(-1) for p in ps])
                broadcast(flat, src=src, group=self.process_group)
                off = 0
                for p in ps:
                    p.copy_(flat[off:off + p.numel()].view_as(p))
                    off += p.numel()
        return handles

    def _sync_params(self):
        handles = []
        for rank in range(self.world_size):
            handles.extend(self._broadcast_params_from_rank(rank))
        for h in handles:
            h.wait()

    def step(self, closure=None, **kwargs):
        """Update this rank's parameters with the local optimizer, then broadcast every rank's parameters.

        Returns:
            The loss ``closure`` returns, if given.
        """
        Join.notify_join_context(self)
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
        loss = self.optim.step(**kwargs) if closure is None else self.optim.step(closure=closure, **kwargs)
        self._sync_param_groups(self.optim.param_groups, self.param_groups)
        self._sync_params()
        return loss

    # ------------------------------------------------------------------ join
    def join_hook(self, **kwargs):
        return _ZeROJoinHook(self)

    @property
    def join_device(self):
        return self._default_device

    @property
    def join_process_group(self):
        return self.process_group

    # ------------------------------------------------------------------ state dict
    def consolidate_state_dict(self, to=0):
        """Collect every rank's local optimizer state on rank ``to`` (every rank must call it)."""
        from ..p2p import gather_object
        from .. import distributed_c10d as c10d
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
        mine = _copy_to_device(self.optim.state_dict(), "cpu")
        out = [None] * self.world_size if self.rank == to else None
        gather_object(mine, out, dst=c10d.get_global_rank(self.process_group, to), group=self.process_group)
        self._all_state_dicts = out if self.rank == to else []

    def state_dict(self):
        """The whole optimizer state, indexed over all parameters (after ``consolidate_state_dict``)."""
        if len(self._all_state_dicts) == 0:
            raise RuntimeError("Optimizer state has not been consolidated on this rank. Please call "
                               f"`consolidate_state_dict(to={self.rank})` on all ranks beforehand if you meant to "
                               "save the global state.")
        state_dict = super().state_dict()
        for rank, local in enumerate(self._all_state_dicts):
            global_groups = self._partition_parameters()[rank]
            if len(local["param_groups"]) != len(global_groups):
                raise AssertionError("Mismatch between number of local and global parameter groups")
            for local_group, global_group in zip(local["param_groups"], global_groups):
                for local_index, param in zip(local_group["params"], global_group["params"]):
                    if local_index in local["state"]:
                        state_dict["state"][self._param_to_index[param]] = local["state"][local_index]
        state_dict["state"] = dict(sorted(state_dict["state"].items()))
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a whole state (as ``state_dict()`` returns): each rank keeps the state of its own parameters."""
        state_dict = dict(state_dict, state=dict(state_dict["state"]))
        for index, value in state_dict["state"].items():
            param = self._index_to_param[index]
            if self._param_to_rank[param] != self.rank:
                state_dict["state"][index] = None
            else:
                local = _copy_to_device(value, param.device)
                for k, v in local.items():
                    if hasattr(v, "dim") and v.dim() == 0:     # step counters stay on the host, as PyTorch's
                        local[k] = v.cpu()
                self.optim.state[param] = local
        super().load_state_dict(state_dict)
        self.state.clear()          # the whole state lives in the local optimizers
        self._sync_param_groups(state_dict["param_groups"], self.param_groups)
        self._sync_param_groups(self.param_groups, self.optim.param_groups)
