"""``DistributedDataParallel``: the same module in every process of a group, gradients averaged.

At construction rank 0's parameters and buffers are copied to every rank. Each parameter gets a
post-accumulate-grad hook; when the last parameter this backward will reach has its gradient, all
gradients are averaged across the ranks in one flattened ``all_reduce`` per dtype (one bucket: the
reduction runs once per backward, after the local gradients are complete, rather than overlapping
with backward as PyTorch's buckets do). The average is each gradient divided by the world size, then
summed in rank order, as PyTorch's reducer divides before its all-reduce.
"""
import contextlib
import weakref

import numpy as np

from ...autograd import grad_mode
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


def _tensors_in(obj):
    """The tensors in a forward's output (nested tuples, lists and dicts)."""
    from ..._tensor import Tensor
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors_in(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors_in(o)]
    return []


def _reached_leaves(outputs):
    """``id``s of the leaf tensors the outputs' autograd graph reaches."""
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    seen, leaves = set(map(id, stack)), {id(t) for t in outputs if t.grad_fn is None and t.requires_grad}
    while stack:
        node = stack.pop()
        var = getattr(node, "variable", None)
        if var is not None:
            leaves.add(id(var))
        for e in getattr(node, "next_functions", ()):
            if e is not None and id(e[0]) not in seen:
                seen.add(id(e[0]))
                stack.append(e[0])
    return leaves


def _flat_groups(tensors):
    """Indices of ``tensors`` grouped by dtype, in first-seen order (one flat buffer each)."""
    groups = {}
    for i, t in enumerate(tensors):
        groups.setdefault(t.dtype, []).append(i)
    return list(groups.values())


def _unflatten_into(tensors, idx, flat):
    from ...ops import FUNCTIONS
    off = 0
    with grad_mode.no_grad():
        for i in idx:
            t = tensors[i]
            n = t.numel()
            t.copy_(FUNCTIONS["from_numpy"](flat[off:off + n].reshape(t.shape)))
            off += n


class DistributedDataParallel(Module):
    r"""Data parallelism across the processes of a ``ttorch.distributed`` group.

    Args:
        module (Module): the model, already on its device (the same architecture on every rank).
        device_ids, output_device, dim: accepted as PyTorch's (one device per process).
        broadcast_buffers (bool): copy rank 0's buffers to all ranks before each forward in grad mode.
        process_group: the group to average over (the default group when None).
        find_unused_parameters (bool): find, after each forward, the parameters its output does not
            reach; they take part with a zero gradient (those unused on every rank keep their ``.grad``).
            Without it, a parameter unused by the loss stops the reduction, and the next forward raises
            PyTorch's error.
        init_sync (bool): broadcast rank 0's parameters and buffers at construction.

    ``bucket_cap_mb``, ``gradient_as_bucket_view`` and ``static_graph`` are accepted; gradients are reduced
    in one bucket per dtype. State-dict keys carry the ``module.`` prefix, as PyTorch's.

    Example::

        >>> # in each process, after init_process_group
        >>> # model = DistributedDataParallel(net); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        from ... import distributed as dist
        from ...distributed.distributed_c10d import _resolve
        self.module = module
        pg = _resolve(process_group)
        if pg is None:
            raise RuntimeError("DistributedDataParallel: this rank is not a member of the given process group")
        self.process_group = pg
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.bucket_bytes_cap = int((bucket_cap_mb or 25) * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._verify_same_model(dist)
        if init_sync:
            self._sync_states(list(module.parameters()) + list(module.buffers()))
        self._armed, self._expected, self._ready = False, set(), set()
        ref = weakref.ref(self)
        self._hook_handles = [p.register_post_accumulate_grad_hook(
            lambda p, ref=ref: ref() is not None and ref()._grad_ready(p)) for p in self._params]

    # ------------------------------------------------------------------ construction
    def _verify_same_model(self, dist):
        """PyTorch checks the parameter shapes of every rank against rank 0's before anything else."""
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in zip(self._param_names, self._params)]
        everyone = [None] * self.process_group.size()
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for r, theirs in enumerate(everyone):
            if len(theirs) != len(everyone[0]):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {self.process_group.rank()} "
                                   f"has {len(mine)} params, while rank {r} has inconsistent {len(theirs)} params.")
            for a, b in zip(everyone[0], theirs):
                if a[1:] != b[1:]:
                    raise RuntimeError(f"DDP expects same model across all ranks, but parameter {a[0]} has shape "
                                       f"{list(a[1])} ({a[2]}) on rank 0 and {list(b[1])} ({b[2]}) on rank {r}.")

    def _sync_states(self, tensors):
        """Copy rank 0's values of ``tensors`` to every rank, one flat message per dtype."""
        from ...distributed.collectives import _broadcast_array
        if not tensors or self.process_group.size() == 1:
            return
        for idx in _flat_groups(tensors):
            flat = np.concatenate([tensors[i].detach()._host().reshape(-1) for i in idx])
            _unflatten_into(tensors, idx, _broadcast_array(self.process_group, flat, 0))

    # ------------------------------------------------------------------ forward and backward
    def forward(self, *inputs, **kwargs):
        if self._armed and self._ready and len(self._ready) < len(self._expected):
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")
        sync = grad_mode.is_grad_enabled() and self.require_backward_grad_sync
        self.require_forward_param_sync = sync
        if sync and self.broadcast_buffers:
            self._sync_states(list(self.module.buffers()))
        out = self.module(*inputs, **kwargs)
        self._armed, self._ready = sync, set()
        if sync:
            if self.find_unused_parameters:
                reached = _reached_leaves(_tensors_in(out))
                self._expected = {id(p) for p in self._params if id(p) in reached}
                self._used = [id(p) in reached for p in self._params]
            else:
                self._expected = {id(p) for p in self._params}
                self._used = None
            if not self._expected:      # nothing will call a hook: reduce now, as every rank must join
                self._reduce_grads()
        return out

    def _grad_ready(self, p):
        if not self._armed or id(p) not in self._expected:
            return
        self._ready.add(id(p))
        if len(self._ready) == len(self._expected):
            self._reduce_grads()

    def _reduce_grads(self):
        """Average every parameter's gradient across the group (a zero for the ones without one)."""
        from ...distributed.collectives import _all_reduce_array
        from ...ops import FUNCTIONS
        self._armed = False
        pg, n = self.process_group, self.process_group.size()
        used = [True] * len(self._params)
        if self._used is not None:
            used = _all_reduce_array(pg, np.array(self._used, np.int32)) > 0
        params = self._params
        for idx in _flat_groups(params):
            dt = params[idx[0]].dtype.np
            parts = [np.zeros(params[i].numel(), dt) if params[i].grad is None
                     else params[i].grad.detach()._host().reshape(-1) for i in idx]
            flat = np.concatenate(parts) / dt.type(n) if n > 1 else np.concatenate(parts)
            flat = _all_reduce_array(pg, flat.astype(dt, copy=False))
            off = 0
            with grad_mode.no_grad():
                for i in idx:
                    p, k = params[i], params[i].numel()
                    if used[i]:
                        g = FUNCTIONS["from_numpy"](flat[off:off + k].reshape(p.shape).copy())
                        if p.grad is None:
                            p.grad = g.to(p.device)
                        else:
                            p.grad.copy_(g)
                    off += k

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context, backward accumulates local gradients without averaging them; the first
        backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _set_static_graph(self):
        self.static_graph = True
