"""``DistributedDataParallel``: the same module in every process of a group, gradients averaged.

At construction rank 0's parameters and buffers are copied to every rank. Each parameter gets a
post-accumulate-grad hook; gradients are averaged across the ranks in buckets, each one flattened
``all_reduce`` launched during backward as soon as its gradients and those of the buckets before it are
ready (PyTorch's reducer order; the collectives run on the host, synchronously). The average is each
gradient divided by the world size, then summed in rank order, as PyTorch's reducer divides before its
all-reduce; the gradients are written after the last bucket (as PyTorch's ``finalize_backward``).

Buckets as PyTorch 2.13 makes them (``dist._compute_bucket_assignment_by_size``): the first iteration has one
bucket per dtype, or, with ``find_unused_parameters`` (and not ``static_graph``), buckets cut by size in
``parameters()`` order with limits ``[1 MB, bucket_cap_mb]`` (default cap 25 MB; the 1 MB first bucket only
with the default), reduced last bucket first. After the first backward (``static_graph``: the second; never
with ``find_unused_parameters`` alone) they are rebuilt in the order the gradients became ready, cut at
``[first, bucket_cap_mb]``. ``register_comm_hook(state, hook)`` replaces the all-reduce: the hook gets each
``dist.GradBucket`` (its gradients not yet averaged) and returns a ``ttorch.futures.Future`` of the reduced
flat buffer.

``join()`` (``ttorch.distributed.algorithms.Join``) lets ranks run out of inputs at different iterations:
a joined rank all-reduces zeros for the gradients (through the hook, if one is registered), and at the end
the parameters and buffers of one of the last ranks to join are broadcast to all. In join mode the active
ranks announce whether this iteration synchronizes before the buffer broadcast, rather than after it as
PyTorch's forward does (the collectives differ in order, not in content).
"""
import contextlib
import sys
import weakref

import numpy as np

from ...autograd import grad_mode
from ...distributed._grad_bucket import _DEFAULT_FIRST_BUCKET_BYTES, _compute_bucket_assignment_by_size
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
        bucket_cap_mb (float): the bucket size (default 25; see the module docstring).
        gradient_as_bucket_view (bool): the gradients are views of one flat tensor per bucket.
        static_graph (bool): the same parameters are used every iteration; unused ones are found (no
            ``find_unused_parameters`` needed) and keep no gradient, as PyTorch's.

    State-dict keys carry the ``module.`` prefix, as PyTorch's. The module's docstring describes buckets,
    communication hooks and ``join``.

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
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        # PyTorch's: a 1 MB first bucket with the default cap, else the cap
        self._first_bucket_bytes = _DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._verify_same_model(dist)
        if init_sync:
            self._sync_states(list(module.parameters()) + list(module.buffers()))
        self._armed, self._expected, self._ready = False, set(), set()
        self._comm_hook = None
        self._ready_order = []      # the first backward's order of ready gradients: the rebuilt buckets'
        self._synced = 0            # backwards that reduced gradients
        self._init_buckets()
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
            hook (Callable): called once per bucket, when its gradients are ready, with a
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

    # ------------------------------------------------------------------ buckets
    def _init_buckets(self):
        """PyTorch's first buckets: one per dtype (``static_graph`` or without ``find_unused_parameters``), else
        cut by size in ``parameters()`` order; reduced last bucket first. Rebuilt after the first backward
        (not with ``find_unused_parameters`` alone) in the order the gradients became ready."""
        static, find = self.static_graph, self.find_unused_parameters
        if static or not find:
            limits = [sys.maxsize]
        elif self._first_bucket_bytes < self.bucket_bytes_cap:
            limits = [self._first_bucket_bytes, self.bucket_bytes_cap]
        else:
            limits = [self.bucket_bytes_cap]
        idx, _ = _compute_bucket_assignment_by_size(self._params, limits)
        self._set_buckets(list(reversed(idx)))
        self._rebuild_pending = static or not find

    def _set_buckets(self, buckets):
        self._bucket_idx = buckets
        self._bucket_of = {i: b for b, idx in enumerate(buckets) for i in idx}
        self._views = [None] * len(buckets)     # gradient_as_bucket_view: each bucket's flat gradient

    def _maybe_rebuild_buckets(self):
        # (``static_graph``: after the second synced backward, as PyTorch's reducer)
        if not self._rebuild_pending or not self._ready_order or self._synced < (2 if self.static_graph else 1):
            return
        ready = [self._index[k] for k in self._ready_order]
        order = ready + [i for i in range(len(self._params)) if i not in set(ready)]    # (unused: in order)
        idx, _ = _compute_bucket_assignment_by_size([self._params[i] for i in order],
                                                    [self._first_bucket_bytes, self.bucket_bytes_cap], None, order)
        self._set_buckets(idx)
        self._rebuild_pending = False

    def _buckets(self):
        """Parameter indices per bucket, in reduction order."""
        return self._bucket_idx

    def _bucket_sizes(self):
        """The bytes of each bucket, in reduction order (PyTorch's logging data reports them)."""
        return [sum(self._params[i].numel() * self._params[i].element_size() for i in idx)
                for idx in self._bucket_idx]

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
        self._maybe_rebuild_buckets()
        self._armed, self._ready = sync, set()
        if sync:
            self._start_backward(out)
        return out

    def _start_backward(self, out):
        """Arm the buckets for this backward; unused parameters (``find_unused_parameters`` or ``static_graph``,
        which finds them as PyTorch's does) count as ready at once, with a zero gradient."""
        if self.find_unused_parameters or self.static_graph:
            reached = _reached_leaves(_tensors_in(out))
            self._used = [id(p) in reached for p in self._params]
        else:
            self._used = None
        self._expected = {id(p) for i, p in enumerate(self._params) if self._used is None or self._used[i]}
        self._left = [len(idx) for idx in self._bucket_idx]
        self._next, self._reduced = 0, []
        for i, p in enumerate(self._params):
            if id(p) not in self._expected:
                self._left[self._bucket_of[i]] -= 1
        self._launch_ready(False)
        if not self._expected:      # nothing will call a hook: reduce now, as every rank must join
            self._finish(False)

    def _grad_ready(self, p):
        if not self._armed or id(p) not in self._expected or id(p) in self._ready:
            return
        self._ready.add(id(p))
        if self._rebuild_pending and self._synced == 0:
            self._ready_order.append(id(p))
        self._left[self._bucket_of[self._index[id(p)]]] -= 1
        self._launch_ready(False)
        if len(self._ready) == len(self._expected):
            self._finish(False)

    def _launch_ready(self, joined):
        """Reduce the buckets whose gradients are all ready, in bucket order (a ready bucket waits for the
        ones before it, as PyTorch's reducer launches them)."""
        while self._next < len(self._bucket_idx) and (joined or self._left[self._next] == 0):
            self._reduced.append(self._launch(self._next, joined))
            self._next += 1

    def _launch(self, b, joined):
        """Bucket ``b``'s flat gradients (zeros where none, or for a joined rank) averaged over the group, or
        handed to the communication hook (its future, waited for in ``_finish``)."""
        from ...distributed.collectives import _all_reduce_array
        idx = self._bucket_idx[b]
        params = [self._params[i] for i in idx]
        if self._comm_hook is not None:
            import ttorch
            from ...distributed._grad_bucket import GradBucket
            from ...futures import Future
            hook, state = self._comm_hook
            with grad_mode.no_grad():
                flat = ttorch.cat([ttorch.zeros(p.numel(), dtype=p.dtype, device=p.device)
                                   if self._zero_slot(i, joined) else p.grad.detach().reshape(-1)
                                   for i, p in zip(idx, params)])
                offsets = np.cumsum([0] + [p.numel() for p in params[:-1]]).tolist()
                fut = hook(state, GradBucket(b, flat, params, offsets, b == len(self._bucket_idx) - 1))
            if not isinstance(fut, Future):
                raise RuntimeError(f"Communication hook must return a torch.futures.Future, got {type(fut).__name__}")
            return idx, fut, flat.numel()
        n = self.process_group.size()
        if self._active_count is not None and not self._divide_by_initial_world_size:
            n = int(self._active_count.item())
        dt = params[0].dtype.np
        parts = [np.zeros(p.numel(), dt) if self._zero_slot(i, joined) else p.grad.detach()._host().reshape(-1)
                 for i, p in zip(idx, params)]
        flat = np.concatenate(parts) / dt.type(n) if n > 1 else np.concatenate(parts)
        return idx, _all_reduce_array(self.process_group, flat.astype(dt, copy=False)), None

    def _zero_slot(self, i, joined):
        """Whether parameter ``i`` sends zeros: a joined rank, no gradient, or unused in this forward."""
        return joined or self._params[i].grad is None or (self._used is not None and not self._used[i])

    def _finish(self, joined):
        """After the last bucket: which parameters some rank used (``find_unused_parameters``), then the
        reduced gradients written (a parameter no rank used keeps its ``.grad``; a joined rank keeps its own)."""
        from ...distributed.collectives import _all_reduce_array
        import ttorch
        self._armed = False
        self._synced += 1
        used = [True] * len(self._params)
        if self.find_unused_parameters or self.static_graph:
            mine = np.zeros(len(self._params), np.int32) if joined else np.array(self._used, np.int32)
            used = _all_reduce_array(self.process_group, mine) > 0
        for b, (idx, value, size) in enumerate(self._reduced):
            if size is not None:        # a hook's future
                out = value.wait()
                if not isinstance(out, ttorch.Tensor) or out.numel() != size:
                    raise RuntimeError(f"Communication hook's future must hold a tensor of the bucket's size {size}")
                value = out.detach().to("cpu", self._params[idx[0]].dtype)._host().reshape(-1)
            if not joined:
                self._write_grads(b, idx, used, value)
        self._reduced = []

    def _reduce_grads(self, joined=False):
        """Reduce every bucket not yet reduced and write the gradients (a joined rank shadows the active
        ones' collectives with zeros and keeps its own gradients)."""
        if joined:
            self._maybe_rebuild_buckets()
            self._next, self._reduced, self._used = 0, [], None
        self._launch_ready(True)
        self._finish(joined)

    def _write_grads(self, b, idx, used, flat):
        """The reduced bucket ``b`` into its parameters' ``.grad`` (with ``gradient_as_bucket_view``, views of
        one flat tensor per bucket, as PyTorch's)."""
        from ...ops import FUNCTIONS
        off = 0
        with grad_mode.no_grad():
            if self.gradient_as_bucket_view and self._views[b] is None:
                p0 = self._params[idx[0]]
                buf = FUNCTIONS["zeros"](len(flat), dtype=p0.dtype, device=p0.device)
                self._views[b] = (buf, [buf[o:o + self._params[i].numel()].view(self._params[i].shape)
                                        for i, o in zip(idx, np.cumsum([0] + [self._params[i].numel()
                                                                              for i in idx[:-1]]).tolist())])
            for j, i in enumerate(idx):
                p, k = self._params[i], self._params[i].numel()
                if used[i]:
                    g = FUNCTIONS["from_numpy"](np.ascontiguousarray(flat[off:off + k]).reshape(p.shape))
                    if self.gradient_as_bucket_view:
                        view = self._views[b][1][j]
                        view.copy_(g)
                        if p.grad is not view:
                            p.grad = view
                    elif p.grad is None:
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
