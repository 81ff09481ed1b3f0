"""``DistributedDataParallel``: the same module in every process of a group, gradients averaged.

At construction rank 0's parameters and buffers are copied to every rank. Each parameter gets a
post-accumulate-grad hook; when the last parameter this backward will reach has its gradient, all
gradients are averaged across the ranks in one flattened ``all_reduce`` per dtype (one bucket: the
reduction runs once per backward, after the local gradients are complete, rather than overlapping
with backward as PyTorch's buckets do). The average is each gradient divided by the world size, then
summed in rank order, as PyTorch's reducer divides before its all-reduce.

``register_comm_hook(state, hook)`` replaces that reduction: the hook gets one ``dist.GradBucket`` per dtype
(all the gradients of that dtype, not yet averaged; ``bucket_cap_mb`` does not split buckets) and returns a
``ttorch.futures.Future`` of the reduced flat buffer. The bucket lists the parameters in ``parameters()``
order in the first iteration, then in the order their gradients became ready in the first backward
(PyTorch's rebuilt buckets).

``join()`` (``ttorch.distributed.algorithms.Join``) lets ranks run out of inputs at different iterations:
a joined rank all-reduces zeros for the gradients (through the hook, if one is registered), and at the end
the parameters and buffers of one of the last ranks to join are broadcast to all. In join mode the active
ranks announce whether this iteration synchronizes before the buffer broadcast, rather than after it as
PyTorch's forward does (the collectives differ in order, not in content).
"""
import contextlib
import weakref

import numpy as np

from ...autograd import grad_mode
from ...distributed.algorithms.join import Join, JoinHook, Joinable
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


def _flat_groups(tensors, labels=None):
    """Indices of ``tensors`` (or their ``labels``) grouped by dtype, in first-seen order (one flat buffer each)."""
    groups = {}
    for i, t in enumerate(tensors):
        groups.setdefault(t.dtype, []).append(i if labels is None else labels[i])
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


class _DDPJoinHook(JoinHook):
    """A joined rank's side of DDP: shadow the forward's buffer broadcast and the backward's all-reduces."""

    def __init__(self, ddp, divide_by_initial_world_size):
        if not isinstance(ddp, DistributedDataParallel):
            raise AssertionError("DDP join hook requires passing in a DistributedDataParallel instance as the "
                                 f"state, got {type(ddp).__name__}")
        self.ddp = ddp
        ddp._divide_by_initial_world_size = divide_by_initial_world_size

    def main_hook(self):
        ddp = self.ddp
        should_sync = ddp._all_reduce_flag(0) != 0
        ddp.require_forward_param_sync = should_sync
        if not should_sync:
            return
        if ddp._syncs_buffers():
            ddp._sync_states(list(ddp.module.buffers()), ddp._common_rank(False))
        ddp._reduce_grads(joined=True)

    def post_hook(self, is_last_joiner):
        self.ddp._sync_states(list(self.ddp.module.parameters()) + list(self.ddp.module.buffers()),
                              self.ddp._common_rank(is_last_joiner))


class DistributedDataParallel(Module, Joinable):
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
    in one bucket per dtype (``register_comm_hook`` sees one ``GradBucket`` per dtype). State-dict keys carry
    the ``module.`` prefix, as PyTorch's. The module's docstring describes communication hooks and ``join``.

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
        self._comm_hook = None
        self._ready_order, self._bucket_order = [], None    # first backward's order: the rebuilt buckets'
        self._divide_by_initial_world_size = True
        self._active_count = None
        Joinable.__init__(self)
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

    def _sync_states(self, tensors, root=0):
        """Copy rank ``root``'s values of ``tensors`` to every rank, one flat message per dtype."""
        from ...distributed.collectives import _broadcast_array
        if not tensors or self.process_group.size() == 1:
            return
        for idx in _flat_groups(tensors):
            flat = np.concatenate([tensors[i].detach()._host().reshape(-1) for i in idx])
            _unflatten_into(tensors, idx, _broadcast_array(self.process_group, flat, root))

    # ------------------------------------------------------------------ join
    def join(self, divide_by_initial_world_size=True, enable=True, throw_on_early_termination=False):
        """A ``Join`` context manager for uneven inputs across ranks (see the module docstring).

        Args:
            divide_by_initial_world_size (bool): average gradients over the whole group (True) or over the
                ranks not yet joined (False). Communication hooks do their own averaging.
            enable (bool): False makes the context manager a no-op.
            throw_on_early_termination (bool): raise on all ranks when the first rank runs out of inputs.
        """
        return Join([self], enable, throw_on_early_termination,
                    divide_by_initial_world_size=divide_by_initial_world_size)

    def join_hook(self, **kwargs):
        return _DDPJoinHook(self, kwargs.get("divide_by_initial_world_size", True))

    @property
    def join_device(self):
        return self._params[0].device

    @property
    def join_process_group(self):
        return self.process_group

    def _all_reduce_flag(self, value):
        from ...distributed.collectives import _all_reduce_array
        return int(_all_reduce_array(self.process_group, np.array([value], np.int64))[0])

    def _common_rank(self, candidate):
        """The largest rank among those passing ``candidate`` (PyTorch's ``_find_common_rank``)."""
        from ...distributed import ReduceOp
        from ...distributed.collectives import _all_reduce_array
        mine = np.array([self.process_group.rank() if candidate else -1], np.int64)
        return int(_all_reduce_array(self.process_group, mine, ReduceOp.MAX)[0])

    def _syncs_buffers(self):
        return self.broadcast_buffers and any(True for _ in self.module.buffers())

    # ------------------------------------------------------------------ communication hooks
    def register_comm_hook(self, state, hook):
        """Reduce gradients with ``hook(state, bucket) -> Future[Tensor]`` instead of the built-in all-reduce.

        Args:
            state: passed to the hook as is (a process group for the default hooks, a ``PowerSGDState``...).
            hook (Callable): called once per bucket (one bucket per gradient dtype here) with a
                ``dist.GradBucket``; its future's value, a flat tensor as long as ``bucket.buffer()``, becomes
                the parameters' gradients (the hook does its own averaging). Annotations are checked as
                PyTorch's, but a hook whose second parameter is not named ``bucket`` is accepted (PyTorch
                raises ``KeyError``).

        Example::

            >>> # from ttorch.distributed.algorithms.ddp_comm_hooks import default_hooks
            >>> # ddp_model.register_comm_hook(None, default_hooks.fp16_compress_hook)
        """
        import inspect
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        try:
            sig = inspect.signature(hook)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            from ...distributed._grad_bucket import GradBucket
            from ...futures import Future
            bucket = sig.parameters.get("bucket")
            if bucket is not None and bucket.annotation not in (inspect.Parameter.empty, GradBucket):
                raise ValueError("Communication hook: bucket annotation should be dist.GradBucket.")
            if sig.return_annotation not in (inspect.Signature.empty, Future):
                raise ValueError("Communication hook: return annotation should be torch.futures.Future[torch.Tensor].")
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        self._comm_hook = (hook, state)

    def _register_builtin_comm_hook(self, comm_hook_type):
        """Register PyTorch's built-in ``dist.BuiltinCommHookType.ALLREDUCE`` or ``FP16_COMPRESS`` hook."""
        from ...distributed._grad_bucket import BuiltinCommHookType
        from ...distributed.algorithms.ddp_comm_hooks import default_hooks
        hooks = {BuiltinCommHookType.ALLREDUCE: default_hooks.allreduce_hook,
                 BuiltinCommHookType.FP16_COMPRESS: default_hooks.fp16_compress_hook}
        if comm_hook_type not in hooks:
            raise TypeError(f"_register_builtin_comm_hook(): incompatible function arguments: {comm_hook_type!r}")
        self.register_comm_hook(self.process_group, hooks[comm_hook_type])

    def _buckets(self):
        """Parameter indices per bucket, in reduction order (one bucket per dtype)."""
        order = self._bucket_order or list(range(len(self._params)))
        return _flat_groups([self._params[i] for i in order], order)

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
        work = Join.notify_join_context(self)
        if self._join_config.enable:
            self._active_count = work._join_count if work is not None else None
            self._all_reduce_flag(1 if sync else 0)     # tells the joined ranks whether to shadow this iteration
            if sync and self._syncs_buffers():
                self._sync_states(list(self.module.buffers()), self._common_rank(True))
        elif sync and self.broadcast_buffers:
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
        if self._bucket_order is None:
            self._ready_order.append(id(p))
        if len(self._ready) == len(self._expected):
            self._reduce_grads()

    def _reduce_grads(self, joined=False):
        """Average every parameter's gradient across the group (a zero for the ones without one). A joined
        rank (``joined``) contributes zeros and keeps its own gradients."""
        from ...distributed.collectives import _all_reduce_array
        self._armed = False
        pg = self.process_group
        used = [True] * len(self._params)
        if self.find_unused_parameters:
            mine = np.zeros(len(self._params), np.int32) if joined else np.array(self._used, np.int32)
            used = _all_reduce_array(pg, mine) > 0
        buckets = self._buckets()
        if not joined and self._bucket_order is None:      # later iterations: the order gradients got ready
            pos = {id(p): i for i, p in enumerate(self._params)}
            ready = [pos[k] for k in self._ready_order]
            self._bucket_order = ready + [i for i in reversed(range(len(self._params))) if i not in set(ready)]
        if self._comm_hook is not None:
            self._run_comm_hook(buckets, used, joined)
            return
        n = pg.size()
        if self._active_count is not None and not self._divide_by_initial_world_size:
            n = int(self._active_count.item())
        params = self._params
        for idx in buckets:
            dt = params[idx[0]].dtype.np
            parts = [np.zeros(params[i].numel(), dt) if joined or params[i].grad is None
                     else params[i].grad.detach()._host().reshape(-1) for i in idx]
            flat = np.concatenate(parts) / dt.type(n) if n > 1 else np.concatenate(parts)
            flat = _all_reduce_array(pg, flat.astype(dt, copy=False))
            if not joined:
                self._write_grads(idx, used, flat)

    def _write_grads(self, idx, used, flat):
        from ...ops import FUNCTIONS
        off = 0
        with grad_mode.no_grad():
            for i in idx:
                p, k = self._params[i], self._params[i].numel()
                if used[i]:
                    g = FUNCTIONS["from_numpy"](np.ascontiguousarray(flat[off:off + k]).reshape(p.shape))
                    if p.grad is None:
                        p.grad = g.to(p.device)
                    else:
                        p.grad.copy_(g)
                off += k

    def _run_comm_hook(self, buckets, used, joined):
        """One ``GradBucket`` per dtype through the hook; every bucket's hook starts before any is waited on."""
        import ttorch
        from ...distributed._grad_bucket import GradBucket
        from ...futures import Future
        hook, state = self._comm_hook
        pending = []
        with grad_mode.no_grad():
            for b, idx in enumerate(buckets):
                ps = [self._params[i] for i in idx]
                flat = ttorch.cat([ttorch.zeros(p.numel(), dtype=p.dtype, device=p.device)
                                   if joined or p.grad is None else p.grad.detach().reshape(-1) for p in ps])
                offsets = np.cumsum([0] + [p.numel() for p in ps[:-1]]).tolist()
                fut = hook(state, GradBucket(b, flat, ps, offsets, b == len(buckets) - 1))
                if not isinstance(fut, Future):
                    raise RuntimeError("Communication hook must return a torch.futures.Future, got "
                                       f"{type(fut).__name__}")
                pending.append((idx, fut, flat))
            for idx, fut, flat in pending:
                out = fut.wait()
                if not isinstance(out, ttorch.Tensor) or out.numel() != flat.numel():
                    raise RuntimeError("Communication hook's future must hold a tensor of the bucket's size "
                                       f"{flat.numel()}")
                if not joined:
                    self._write_grads(idx, used, out.detach().to("cpu", flat.dtype)._host().reshape(-1))

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
