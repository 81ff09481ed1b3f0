"""``FullyShardedDataParallel``: data parallelism where each rank holds a 1/world shard of the parameters.

Each FSDP unit (the wrapped module, and each submodule an ``auto_wrap_policy`` chose) flattens the
parameters it owns into one vector, pads it to a multiple of the world size, and keeps only this rank's
chunk as its one parameter (``_flat_param``, registered on the wrapped module): the optimizer sees and
steps the shards. A forward all-gathers the full vector and sets each original parameter's name on its
module to a view of it; the gather is an autograd Function whose backward reduce-scatters the gradient
of the full vector (averaged over the ranks) into the shard's ``.grad``.

``FULL_SHARD`` frees the gathered vector after forward: while the unit runs, saved-tensor hooks
(``autograd.graph.saved_tensors_hooks``) keep each saved view of it as its place in the vector, and backward
gathers the vector again the first time a node of the unit reads one; the unit's outputs' gradient hooks
set the parameter views again before its backward (for activation checkpointing's recomputation).
``SHARD_GRAD_OP`` keeps the gathered vector from forward to backward; ``NO_SHARD`` keeps a full copy on
every rank and all-reduces gradients (DDP).

Differences from PyTorch, by design or not yet done: collectives run in order on the host (ttorch's
``distributed``), so there is no prefetching or stream overlap (``backward_prefetch``, ``forward_prefetch``
and ``limit_all_gathers`` are accepted); the hybrid strategies shard over the whole group; inside a
``FULL_SHARD`` unit the saved-tensor hooks are FSDP's (a user's own ``saved_tensors_hooks`` apply outside
units); ``use_orig_params=True`` is accepted but parameters are still the flat shards; the sharded state
dict is not implemented; the optimizer-state helpers (``_optim_utils.py``) give the full layout only;
``register_comm_hook``'s hook gets the full gradient in the reduce dtype (``mixed_precision``'s, as
PyTorch's) and the low-precision FSDP hooks are not provided.
``fully_shard`` (FSDP2, on DTensor) is in ``_fully_shard.py``.
"""
import contextlib
import math
import weakref

from ... import _dtype as D
from ...autograd import grad_mode
from ...autograd.function import Function
from ...nn.modules.module import Module
from ...nn.parallel.distributed import _tensors_in
from ...nn.parameter import Parameter
from ._state_dict_utils import _FullParams, _empty
from .api import (BackwardPrefetch, CPUOffload, FullStateDictConfig, OptimStateDictConfig, ShardingStrategy,
                  StateDictType)

__all__ = ["FullyShardedDataParallel"]

_LIVE = {}          # id(gathered vector) -> its unit, while the vector is alive (see ``_pack``)


# ---------------------------------------------------------------------------------------------- autograd
class _Gather(Function):
    """shard -> the full padded vector; backward: the full gradient reduced and scattered back to the shard."""

    @staticmethod
    def forward(ctx, shard, unit):
        ctx.unit = unit
        return unit._gather(shard)

    @staticmethod
    def backward(ctx, grad):
        return ctx.unit._reduce_grad(grad), None


def _pack(t):
    base = t._base
    unit = _LIVE.get(id(base)) if base is not None else None
    if unit is None or unit._full is not base:
        return t
    return (unit, tuple(t.shape), t.stride(), t.storage_offset())    # the view's place in the vector


def _unpack(saved):
    if type(saved) is not tuple:
        return saved
    unit, shape, stride, offset = saved
    return unit._full_for_backward().as_strided(shape, stride, offset)


def _cast_inputs(obj, dtype):
    from ..._tensor import Tensor
    if isinstance(obj, Tensor):
        return obj.to(dtype) if obj.dtype.is_floating_point else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cast_inputs(o, dtype) for o in obj)
    if isinstance(obj, dict):
        return {k: _cast_inputs(v, dtype) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------------------------------------- the module
class FullyShardedDataParallel(_FullParams, Module):
    r"""Shard a module's parameters, gradients and optimizer state across the ranks of a process group.

    Args:
        module (Module): the model (the same architecture on every rank).
        process_group: the group to shard over (the default group when None).
        sharding_strategy (ShardingStrategy): ``FULL_SHARD`` (default), ``SHARD_GRAD_OP`` or ``NO_SHARD``.
        cpu_offload (CPUOffload): ``offload_params=True`` keeps the shards on the host.
        auto_wrap_policy: a policy of ``ttorch.distributed.fsdp.wrap`` (or PyTorch's callable protocol)
            choosing the submodules that become units of their own, with the same arguments.
        mixed_precision (MixedPrecision): dtypes of the gathered parameters, of the gradient reduction and
            of the buffers.
        ignored_modules: modules whose parameters stay unsharded and unreduced.
        device_id: the compute device; the module moves there first.
        sync_module_states (bool): broadcast rank 0's parameters and buffers before sharding.

    ``model.parameters()`` are the flat shards: build the optimizer after wrapping. ``state_dict()`` is the
    full, unflattened one with the original names (``FULL_STATE_DICT``, the default; every rank gets it
    unless ``FullStateDictConfig(rank0_only=True)``). The module's docstring lists the differences from
    PyTorch.

    Example::

        >>> # in each process, after init_process_group
        >>> # model = FSDP(net, auto_wrap_policy=ModuleWrapPolicy({Block})); opt = AdamW(model.parameters())
    """

    def __init__(self, module, process_group=None, sharding_strategy=None, cpu_offload=None, auto_wrap_policy=None,
                 backward_prefetch=BackwardPrefetch.BACKWARD_PRE, mixed_precision=None, ignored_modules=None,
                 param_init_fn=None, device_id=None, sync_module_states=False, forward_prefetch=False,
                 limit_all_gathers=True, use_orig_params=False, ignored_states=None, device_mesh=None):
        super().__init__()
        from ..distributed_c10d import _resolve
        pg = _resolve(process_group)
        if pg is None:
            raise RuntimeError("FullyShardedDataParallel: this rank is not a member of the given process group")
        if ignored_modules is not None and ignored_states is not None:
            raise ValueError("Cannot pass both ignored_modules and ignored_states at the same time. Please just "
                             "pass ignored_states.")
        ignored = list(ignored_modules or ())
        ignored_params = set()
        for s in ignored_states or ():
            (ignored_params.add(id(s)) if isinstance(s, Parameter) else ignored.append(s))
        self.process_group = pg
        self.sharding_strategy = sharding_strategy or ShardingStrategy.FULL_SHARD
        self.cpu_offload = cpu_offload or CPUOffload()
        self.mixed_precision = mixed_precision
        self.backward_prefetch, self.forward_prefetch = backward_prefetch, forward_prefetch
        self.limit_all_gathers, self._use_orig_params = limit_all_gathers, use_orig_params
        self._state_dict_type = StateDictType.FULL_STATE_DICT
        self._state_dict_config = FullStateDictConfig()
        self._optim_state_dict_config = OptimStateDictConfig()
        self._sync_gradients = True
        self._is_root = True
        self._full = self._full_bw = None
        self._pending = None        # the full gradients accumulated under ``no_sync``
        self._comm_hook = self._comm_hook_state = None
        if param_init_fn is not None:
            param_init_fn(module)
        if device_id is not None:
            from ..._device import device as _device
            module.to(_device(f"cuda:{device_id}") if isinstance(device_id, int) else device_id)
        ignored_ids = {id(m) for i in ignored for m in i.modules()}
        if auto_wrap_policy is not None:
            kwargs = dict(process_group=process_group, sharding_strategy=sharding_strategy, cpu_offload=cpu_offload,
                          backward_prefetch=backward_prefetch, mixed_precision=mixed_precision,
                          ignored_modules=ignored_modules, device_id=device_id, sync_module_states=sync_module_states,
                          forward_prefetch=forward_prefetch, limit_all_gathers=limit_all_gathers,
                          use_orig_params=use_orig_params, ignored_states=ignored_states)
            _wrap_children(module, auto_wrap_policy, kwargs, ignored_ids)
        for m in module.modules():      # units inside this one (wrapped by the policy or by hand) are not roots
            if isinstance(m, FullyShardedDataParallel):
                m._is_root = False
        self._fsdp_wrapped_module = module
        if sync_module_states:
            from ...nn.parallel.distributed import DistributedDataParallel as _DDP
            _DDP._sync_states(self, [p for p in _owned(module, ignored_ids, ignored_params)[1]] +
                              [b for b in module.buffers()])
        if mixed_precision is not None and mixed_precision.buffer_dtype is not None:
            with grad_mode.no_grad():
                for m in module.modules():
                    for name, b in list(m._buffers.items()):
                        if b is not None and b.dtype.is_floating_point:
                            m._buffers[name] = b.to(mixed_precision.buffer_dtype)
        self._flatten(module, ignored_ids, ignored_params)

    # ------------------------------------------------------------------ construction
    def _flatten(self, module, ignored_ids, ignored_params):
        from ...ops import FUNCTIONS as F
        places, params = _owned(module, ignored_ids, ignored_params)
        self._places = places       # per parameter: [(module, name), ...] (a shared one has several)
        self._params = params       # the original Parameter objects (emptied between summons)
        self._shapes = [tuple(p.shape) for p in params]
        self._numels = [p.numel() for p in params]
        self._offsets = [0]
        for n in self._numels:
            self._offsets.append(self._offsets[-1] + n)
        total = self._offsets[-1]
        world, rank = self.process_group.size(), self.process_group.rank()
        self._world, self._rank = world, rank
        sharded = self.sharding_strategy is not ShardingStrategy.NO_SHARD
        self._chunk = math.ceil(total / world) if sharded else total
        if not params:
            self.__dict__["_flat"] = None
            return
        dtypes = {p.dtype for p in params}
        if len(dtypes) > 1:
            raise ValueError(f"FSDP: a unit's parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self._device = params[0].device
        with grad_mode.no_grad():
            flat = F["cat"]([p.detach().reshape(-1) for p in params])
            if sharded:
                pad = self._chunk * world - total
                if pad:
                    flat = F["cat"]([flat, flat.new_zeros(pad)])
                flat = flat[rank * self._chunk:(rank + 1) * self._chunk]
            flat = flat.clone()
            if self.cpu_offload.offload_params:
                flat = flat.cpu()
        # (held in __dict__: the parameter is registered once, as ``_flat_param`` of the wrapped module)
        self.__dict__["_flat"] = Parameter(flat, requires_grad=any(p.requires_grad for p in params))
        for (m, name) in (pl for ps in places for pl in ps):
            m._parameters.pop(name, None)
        for p in params:
            _empty(p)
            p._fsdp_flattened = True
        self._drop_views()
        module.register_parameter("_flat_param", self._flat)

    # ------------------------------------------------------------------ gather, reduce
    def _compute_dtype(self):
        mp = self.mixed_precision
        return mp.param_dtype if mp is not None and mp.param_dtype is not None else self._flat.dtype

    def _gather(self, shard):
        """The full padded vector from every rank's shard, in the compute dtype, on the compute device."""
        from ..collectives import all_gather_into_tensor
        from ..._tensor import Tensor
        dt = self._compute_dtype()
        local = shard.detach().to(self._device, dt)
        if self.sharding_strategy is ShardingStrategy.NO_SHARD:
            return local.clone() if local is shard else local
        full = Tensor._empty((self._chunk * self._world,), dt, self._device)
        if self._world == 1:
            return full.copy_(local)
        all_gather_into_tensor(full, local.contiguous(), group=self.process_group)
        return full

    def _reduce_grad(self, grad):
        """The shard's gradient: the full one averaged over the ranks, this rank's chunk of it."""
        from ..collectives import all_reduce, reduce_scatter_tensor
        from ..._tensor import Tensor
        self._release_backward()
        if self._pending is not None:
            grad, self._pending = grad + self._pending, None
        if not self._sync_gradients:          # no_sync: keep the full gradient for the next synced backward
            self._pending = grad.detach()
            return None
        mp = self.mixed_precision
        rdt = mp.reduce_dtype if mp is not None and mp.reduce_dtype is not None else grad.dtype
        if self._comm_hook is not None:     # the hook reduces (and averages) the full gradient itself
            g = grad.detach().to(rdt, copy=True)
            if self.sharding_strategy is ShardingStrategy.NO_SHARD:
                self._comm_hook(self._comm_hook_state, g)
                out = g
            else:
                out = Tensor._empty((self._chunk,), rdt, g.device)
                self._comm_hook(self._comm_hook_state, g, out)
            keep_low = mp is not None and mp.keep_low_precision_grads
            return out.to(self._flat.device, out.dtype if keep_low else self._flat.dtype)
        g = grad.detach().to(rdt) / self._world
        if self.sharding_strategy is ShardingStrategy.NO_SHARD:
            if self._world > 1:
                all_reduce(g, group=self.process_group)
            out = g
        else:
            out = Tensor._empty((self._chunk,), rdt, g.device)
            if self._world > 1:
                reduce_scatter_tensor(out, g.contiguous(), group=self.process_group)
            else:
                out.copy_(g)
        keep_low = mp is not None and mp.keep_low_precision_grads
        return out.to(self._flat.device, out.dtype if keep_low else self._flat.dtype)

    # ------------------------------------------------------------------ the parameter views
    def _set_views(self, full):
        for ps, off, n, shape in zip(self._places, self._offsets, self._numels, self._shapes):
            view = full[off:off + n].view(shape)
            for m, name in ps:
                m.__dict__[name] = view

    def _drop_views(self):
        # between forwards each name holds its original Parameter, emptied (its shape kept, one element of
        # memory): code that reads ``module.weight.shape`` or ``module.bias is None`` still works
        for p, ps in zip(self._params, self._places):
            for m, name in ps:
                m.__dict__[name] = p

    def _unshard(self):
        """Gather for a forward: in the graph when the shard needs a gradient."""
        flat = self._flat
        if flat.requires_grad and grad_mode.is_grad_enabled():
            full = _Gather.apply(flat, self)
        else:
            with grad_mode.no_grad():
                full = self._gather(flat)
        self._full = full
        _LIVE[id(full)] = self
        self._set_views(full)
        return full

    def _reshard(self):
        if self._full is not None:
            _LIVE.pop(id(self._full), None)
        self._full = None
        self._drop_views()

    def _full_for_backward(self):
        """The gathered vector for backward's reads: kept since forward, or gathered again once. Gathered
        in the graph, so that a function that activation checkpointing recomputes in backward reaches the
        shard through the parameter views it reads again."""
        if self._full is not None:
            return self._full.detach()
        if self._full_bw is None:
            with grad_mode.enable_grad():      # (backward runs without grad: the views must have it)
                full = _Gather.apply(self._flat, self) if self._flat.requires_grad else self._gather(self._flat)
                self._set_views(full)
            self._full_bw = full
        return self._full_bw.detach()

    def _release_backward(self):
        """The unit's backward is done (its gather node ran): free what was gathered for it."""
        if self._full_bw is not None or self._full is not None:
            self._full_bw = None
            self._reshard()

    def _reshards_after_forward(self):
        return self.sharding_strategy in (ShardingStrategy.FULL_SHARD, ShardingStrategy.HYBRID_SHARD)

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        mp = self.mixed_precision
        if mp is not None and mp.param_dtype is not None and \
                (mp.cast_forward_inputs or (self._is_root and mp.cast_root_forward_inputs)):
            args, kwargs = _cast_inputs(args, mp.param_dtype), _cast_inputs(kwargs, mp.param_dtype)
        module = self._fsdp_wrapped_module
        if self._flat is None:
            return module(*args, **kwargs)
        self._reshard()
        self._full_bw = None
        self._unshard()
        training = grad_mode.is_grad_enabled() and self._flat.requires_grad
        free = self._reshards_after_forward() or not training
        if training and free:
            from ...autograd.graph import saved_tensors_hooks
            with saved_tensors_hooks(_pack, _unpack):
                out = module(*args, **kwargs)
        else:
            out = module(*args, **kwargs)
        if free:
            self._reshard()
        if training:
            ref = weakref.ref(self)
            for t in _tensors_in(out):
                if t.requires_grad:
                    t.register_hook(lambda g, ref=ref: _pre_backward(ref, g))
        return out

    # ------------------------------------------------------------------ PyTorch's FSDP methods
    @property
    def module(self):
        """The wrapped module."""
        return self._fsdp_wrapped_module

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._fsdp_wrapped_module, name)

    def __getitem__(self, key):
        return self._fsdp_wrapped_module.__getitem__(key)

    def check_is_root(self):
        return self._is_root

    @staticmethod
    def fsdp_modules(module, root_only=False):
        """The FSDP units in ``module`` (itself included), or only the outermost ones."""
        units = [m for m in module.modules() if isinstance(m, FullyShardedDataParallel)]
        return [u for u in units if u._is_root] if root_only else units

    def _units(self):
        return FullyShardedDataParallel.fsdp_modules(self)

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context backward keeps each unit's full gradient locally (no reduction); the first
        backward after it reduces the sum. Memory: one full gradient per unit, as PyTorch's."""
        units = self._units()
        old = [u._sync_gradients for u in units]
        for u in units:
            u._sync_gradients = False
        try:
            yield
        finally:
            for u, o in zip(units, old):
                u._sync_gradients = o

    def clip_grad_norm_(self, max_norm, norm_type=2.0):
        """Scale every shard's gradient so that the norm of the whole model's gradient is at most
        ``max_norm``; returns that total norm (the same on every rank). Call it on the root."""
        from ..collectives import all_reduce
        from ..distributed_c10d import ReduceOp
        from ...ops import FUNCTIONS as F
        if not self._is_root:
            raise RuntimeError("`clip_grad_norm_()` should only be called on the root FSDP instance")
        norm_type = float(norm_type)
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        dev = grads[0].device if grads else self._flat.device if self._flat is not None else None
        with grad_mode.no_grad():
            if not grads:
                local = F["zeros"]((), device=dev)
            elif math.isinf(norm_type):
                local = F["stack"]([g.detach().abs().max().float() for g in grads]).max()
            else:
                local = F["stack"]([(g.detach().float().abs() ** norm_type).sum() for g in grads]).sum()
            local = local.to(D.float32)
            all_reduce(local, op=ReduceOp.MAX if math.isinf(norm_type) else ReduceOp.SUM, group=self.process_group)
            total = local if math.isinf(norm_type) else local ** (1.0 / norm_type)
            coef = float(max_norm) / (total + 1e-6)
            if float(coef) < 1:
                for g in grads:
                    g.mul_(coef.to(g.dtype))
        dts = {p.dtype for p in self.parameters()}
        return total.to(dts.pop()) if len(dts) == 1 else total

    def register_comm_hook(self, state, hook):
        """Reduce gradients with ``hook`` (on the root; every unit uses it): ``hook(state, grad)`` all-reduces
        the full flat gradient in place (``NO_SHARD``), ``hook(state, grad, output)`` reduces the padded full
        gradient into this rank's ``output`` chunk (sharded strategies). The hook does its own averaging
        (``ttorch.distributed.algorithms._comm_hooks.default_hooks``: ``allreduce_hook``, ``reduce_scatter_hook``).
        """
        if not self.check_is_root():
            raise AssertionError("register_comm_hook can only be called on a root instance.")
        for u in self._units():
            if u.sharding_strategy in (ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2):
                raise AssertionError(f"Communication hook is not supported for hybrid strategies: "
                                     f"{u.sharding_strategy}")
            if u._comm_hook is not None:
                raise AssertionError("A communication hook is already registered")
            if not callable(hook):
                raise ValueError(f"The communication hook must be callable but got {hook}")
            u._comm_hook, u._comm_hook_state = hook, state

    # ------------------------------------------------------------------ optimizer state dicts (_optim_utils.py)
    @staticmethod
    def optim_state_dict(model, optim, optim_state_dict=None, group=None):
        """The full optimizer state of ``model``'s units: unflattened, keyed by the original parameter names
        (``FULL_STATE_DICT``; ``rank0_only``/``offload_to_cpu`` from the ``optim_state_dict_config`` set by
        ``set_state_dict_type``). A collective: call it on every rank.

        Example::

            >>> # osd = FSDP.optim_state_dict(model, optim); ttorch.save(osd, path)
        """
        from . import _optim_utils
        return _optim_utils.optim_state_dict(model, optim, optim_state_dict, group)

    @staticmethod
    def optim_state_dict_to_load(model, optim, optim_state_dict, is_named_optimizer=False, load_directly=False,
                                 group=None):
        """Convert a state from ``optim_state_dict`` into this rank's flattened shard for ``optim``;
        ``load_directly`` also loads it into ``optim``."""
        from . import _optim_utils
        osd = _optim_utils.optim_state_dict_to_load(model, optim, optim_state_dict)
        if load_directly:
            optim.load_state_dict(osd)
        return osd

    @staticmethod
    def full_optim_state_dict(model, optim, optim_input=None, rank0_only=True, group=None):
        """The full optimizer state keyed by parameter names (the legacy API of ``optim_state_dict``); with
        ``rank0_only`` the other ranks get ``{}``."""
        import warnings
        from . import _optim_utils
        warnings.warn("FullyShardedDataParallel.full_optim_state_dict is being deprecated and is replaced by "
                      "FullyShardedDataParallel.optim_state_dict. FullyShardedDataParallel.full_optim_state_dict "
                      "may be removed after PyTorch 2.2.", FutureWarning, stacklevel=2)
        return _optim_utils.optim_state_dict(model, optim, None, group, rank0_only=rank0_only, offload_to_cpu=True)

    @staticmethod
    def shard_full_optim_state_dict(full_optim_state_dict, model, optim_input=None, optim=None):
        """This rank's flattened shard of a ``full_optim_state_dict`` result, for ``optim.load_state_dict``
        (parameters in ``optim``'s order, or ``model.parameters()``'s without it)."""
        from . import _optim_utils
        return _optim_utils.optim_state_dict_to_load(model, optim, full_optim_state_dict)

    @staticmethod
    def scatter_full_optim_state_dict(full_optim_state_dict, model, optim_input=None, optim=None, group=None):
        """Like ``shard_full_optim_state_dict`` with the full state given on rank 0 only (None elsewhere)."""
        from . import _optim_utils
        return _optim_utils.scatter_full_optim_state_dict(full_optim_state_dict, model, optim, group)


def _pre_backward(ref, grad):
    """An output's gradient hook: the unit's backward is next, so its parameter views are needed again."""
    unit = ref()
    if unit is not None and unit._full is None:
        unit._full_for_backward()
    return None


def _owned(module, ignored_ids, ignored_params):
    """The parameters a unit flattens (not in a nested unit or an ignored module): their places and the
    Parameters, each shared one once, in ``named_parameters`` order."""
    places, params, index = [], [], {}
    stack = [module]
    while stack:
        m = stack.pop(0)
        for name, p in list(m._parameters.items()):
            if p is None or id(p) in ignored_params or name == "_flat_param":
                continue
            if id(p) in index:
                places[index[id(p)]].append((m, name))
                continue
            if getattr(p, "_fsdp_flattened", False):
                raise ValueError(f"FSDP: parameter '{name}' of {type(m).__name__} is already sharded by another "
                                 "FSDP unit (a parameter shared across units); wrap the modules that share it "
                                 "in one unit")
            index[id(p)] = len(params)
            params.append(p)
            places.append([(m, name)])
        stack[:0] = [c for c in m._modules.values()
                     if c is not None and not isinstance(c, FullyShardedDataParallel) and id(c) not in ignored_ids]
    return places, params


def _wrap_children(module, policy, kwargs, ignored_ids):
    """Wrap ``module``'s descendants bottom-up as ``policy`` says (PyTorch's ``_recursive_wrap``, the root
    left to the caller); returns the parameters still unwrapped below ``module``."""
    total = 0
    for name, child in list(module._modules.items()):
        if child is None or isinstance(child, FullyShardedDataParallel) or id(child) in ignored_ids:
            continue
        n = sum(p.numel() for p in child.parameters())
        if not policy(module=child, recurse=True, nonwrapped_numel=n):
            total += n
            continue
        left = _wrap_children(child, policy, kwargs, ignored_ids)
        decision = policy(module=child, recurse=False, nonwrapped_numel=left)
        if decision:
            overrides = decision if isinstance(decision, dict) else {}
            module._modules[name] = FullyShardedDataParallel(child, **{**kwargs, **overrides})
        else:
            total += left
    return total + sum(p.numel() for p in module._parameters.values() if p is not None)
