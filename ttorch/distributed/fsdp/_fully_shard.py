"""``fully_shard`` (PyTorch's FSDP2): each parameter a DTensor sharded ``Shard(0)`` over a 1-D ``DeviceMesh``, or
``(Replicate(), Shard(0))`` over a 2-D one (HSDP: sharded within each group of the mesh's last dim, the groups
along its first dim replicas; gradients reduce-scattered within a group, then all-reduced across the replicas).
With tensor parallel (PyTorch's 2-D recipe: ``parallelize_module(model, mesh_2d["tp"], plan)`` then
``fully_shard(model, mesh=mesh_2d["dp"])``) a DTensor parameter on the tp mesh becomes a DTensor on the 2-D
mesh, placements ``(Shard(d), tp placement)`` or ``(_StridedShard(d, sf=tp size), Shard(d))`` when TP shards
the same dim, as PyTorch's; forward gathers over dp only and sets the TP DTensor, backward reduce-scatters
over dp (averaged over dp).

``fully_shard(module)`` replaces the parameters the module owns (not those under a module already given to
``fully_shard``: apply it to the blocks first, then the root) by DTensor parameters holding this rank's chunk
(``ttorch.chunk``'s split, as PyTorch's: the last ranks' chunks may be short or empty), and changes the
module's class to ``FSDP<Class>``, a subclass of ``FSDPModule`` and of its class. Its forward all-gathers the
full parameters (an autograd Function whose backward reduce-scatters the gradients, averaged over the mesh,
into the DTensor parameters' ``.grad``), sets them as the submodules' attributes for the forward, and frees
them after it when ``reshard_after_forward``: saved-tensor hooks keep each saved parameter as its place,
and backward gathers the module's parameters again the first time one is read (FSDP1's mechanism, see
``fully_sharded_data_parallel.py``).

Differences from PyTorch, by design or not yet done: collectives run in order on the host, so there is no
prefetching, no stream overlap and no all-gather/reduce-scatter bucketing (one collective per parameter);
the forward is the class's ``forward`` wrapped (not forward hooks), and every forward gathers again (an
explicit ``unshard()`` only sets the full parameters for inspection); 1-D and 2-D (HSDP) meshes, TP only
with a 1-D dp mesh (no HSDP + TP); ``shard_placement_fn`` may return any ``Shard(dim)``; ``CPUOffloadPolicy``
keeps the shards on the host
(``pin_memory`` is accepted); activation checkpointing inside a ``fully_shard`` module is not supported
(its recomputation would see the DTensor parameters); inside a module with ``reshard_after_forward`` the
saved-tensor hooks are FSDP's.
"""
import math
from dataclasses import dataclass

from ...autograd import grad_mode
from ...autograd.function import Function
from ...nn.modules.module import Module
from ...nn.parameter import Parameter
from .fully_sharded_data_parallel import _cast_inputs

__all__ = ["fully_shard", "FSDPModule", "MixedPrecisionPolicy", "OffloadPolicy", "CPUOffloadPolicy",
           "register_fsdp_forward_method"]

_LIVE = {}      # id(gathered parameter) -> (its state, its index), while it is set for a forward


@dataclass(frozen=True)
class MixedPrecisionPolicy:
    """Dtypes of ``fully_shard``: ``param_dtype`` of the gathered parameters (the forward's compute),
    ``reduce_dtype`` of the gradient reduce-scatter (``param_dtype`` when None), ``output_dtype`` of the
    forward's floating outputs; ``cast_forward_inputs`` casts floating inputs to ``param_dtype``."""
    param_dtype: object = None
    reduce_dtype: object = None
    output_dtype: object = None
    cast_forward_inputs: bool = True


@dataclass
class OffloadPolicy:
    """No offloading (the base policy): the shards live on the module's device."""


@dataclass
class CPUOffloadPolicy(OffloadPolicy):
    """Keep the parameter shards (and so the optimizer's state and step) on the host; each forward copies
    them to the compute device. ``pin_memory`` is accepted (ttorch's host memory is not pinned)."""
    pin_memory: bool = True


class _Gather(Function):
    """local shards -> the full parameters; backward: their gradients reduce-scattered to the shards."""

    @staticmethod
    def forward(ctx, *args):
        ctx.state = args[-1]
        return tuple(ctx.state._gather_all())

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.state._reduce_grads(grads)) + (None,)


def _pack(t):
    hit = _LIVE.get(id(t))
    if hit is None and t._base is not None:
        hit = _LIVE.get(id(t._base))
    if hit is None:
        return t
    return hit + (tuple(t.shape), t.stride(), t.storage_offset())   # the place of a view of a gathered parameter


def _unpack(saved):
    if type(saved) is not tuple:
        return saved
    state, i, shape, stride, offset = saved
    return state._full_for_backward(i).as_strided(shape, stride, offset)


class _State:
    """What ``fully_shard`` keeps for one module: its DTensor parameters, their places, the gathered ones."""

    def __init__(self, module, mesh, reshard_after_forward, mp, offload, dims, places, params, tp=None):
        s = mesh.ndim - 1                   # the sharding dim; a 2-D mesh's first dim holds the replicas (HSDP)
        self.mesh, self.group = mesh, mesh.get_group(s)
        self.world, self.rank = mesh.size(s), mesh.get_local_rank(s)
        self.replicas, self.replica_group = (mesh.size(0), mesh.get_group(0)) if s else (1, None)
        self.reshard_after_forward, self.reshard_after_backward = reshard_after_forward, True
        self.mp, self.offload, self.dims, self.places, self.params = mp, offload, dims, places, params
        self.device = params[0].device if params else None
        self.tp = tp or [None] * len(params)    # FSDP2 + TP: (tp mesh, tp placement, tp-local shape) or None
        self.sync = True
        self.is_root = True
        self.fulls = self.bw_fulls = None
        self.pending = None         # the full gradients accumulated without gradient sync

    # ------------------------------------------------------------------ collectives
    def _gather_one(self, i):
        from ..collectives import all_gather_into_tensor
        from ..._tensor import Tensor
        from ...ops import FUNCTIONS as F
        p, d = self.params[i], self.dims[i]
        n = p.shape[d] if self.tp[i] is None else self.tp[i][2][d]     # (TP: gathers this rank's TP shard)
        chunk = math.ceil(n / self.world)
        dt = self.mp.param_dtype or p.dtype
        loc = p._local_tensor.detach().to(self.device, dt).movedim(d, 0)
        if loc.shape[0] < chunk:        # pad short chunks to the common size, as PyTorch's padded all-gather
            loc = F["cat"]([loc, loc.new_zeros((chunk - loc.shape[0],) + tuple(loc.shape[1:]))])
        full = Tensor._empty((chunk * self.world,) + tuple(loc.shape[1:]), dt, loc.device)
        if self.world == 1:
            full.copy_(loc)
        else:
            all_gather_into_tensor(full, loc.contiguous(), group=self.group)
        if full.shape[0] != n or d:
            full = full[:n].movedim(0, d).clone()
        return full

    def _gather_all(self):
        return [self._gather_one(i) for i in range(len(self.params))]

    def _reduce_grads(self, grads):
        """Each full gradient averaged over the mesh, this rank's chunk of it (None without sync)."""
        from ..collectives import reduce_scatter_tensor
        from ..._tensor import Tensor
        from ...ops import FUNCTIONS as F
        self._release_backward()
        grads = [g.detach() for g in grads]
        if self.pending is not None:
            grads, self.pending = [g + q for g, q in zip(grads, self.pending)], None
        if not self.sync:
            self.pending = grads
            return [None] * len(grads)
        out = []
        for p, d, g in zip(self.params, self.dims, grads):
            rdt = self.mp.reduce_dtype or g.dtype
            g = (g.to(rdt) / (self.world * self.replicas)).movedim(d, 0)
            n, chunk = g.shape[0], math.ceil(g.shape[0] / self.world)
            if chunk * self.world != n:
                g = F["cat"]([g, g.new_zeros((chunk * self.world - n,) + tuple(g.shape[1:]))])
            mine = Tensor._empty((chunk,) + tuple(g.shape[1:]), rdt, g.device)
            if self.world == 1:
                mine.copy_(g)
            else:
                reduce_scatter_tensor(mine, g.contiguous(), group=self.group)
            if self.replicas > 1:           # HSDP: the replicas' chunks summed (each already divided)
                from ..collectives import all_reduce
                all_reduce(mine, group=self.replica_group)
            loc = p._local_tensor
            mine = mine[:loc.shape[d]].movedim(0, d).contiguous()
            out.append(mine.to(loc.device, loc.dtype))
        return out

    # ------------------------------------------------------------------ the full parameters
    def _set(self, fulls):
        from ..tensor import DTensor
        for i, full in enumerate(fulls):
            _LIVE[id(full)] = (self, i)
            value = full
            if self.tp[i] is not None:      # a DTensor on the TP mesh, as ``parallelize_module`` left it
                tp_mesh, tp_placement, _ = self.tp[i]
                value = DTensor.from_local(full, tp_mesh, [tp_placement], shape=self.params[i].shape)
            for m, name in self.places[i]:
                m.__dict__[name] = value    # (shadows the DTensor in ``_parameters`` during the forward)
        self.fulls = fulls

    def unshard(self, training):
        self.reshard()
        if training:
            fulls = _Gather.apply(*[p._local_tensor for p in self.params], self)
        else:
            with grad_mode.no_grad():
                fulls = self._gather_all()
        self._set(list(fulls))

    def reshard(self):
        for full in self.fulls or ():
            _LIVE.pop(id(full), None)
        for ps in self.places:
            for m, name in ps:
                m.__dict__.pop(name, None)
        self.fulls = None

    def _full_for_backward(self, i):
        if self.fulls is not None:
            return self.fulls[i].detach()
        if self.bw_fulls is None:           # freed after forward: gathered again, once per backward
            with grad_mode.no_grad():
                self.bw_fulls = self._gather_all()
        return self.bw_fulls[i]

    def _release_backward(self):
        self.bw_fulls = None
        if self.reshard_after_backward:
            self.reshard()

    # ------------------------------------------------------------------ forward
    def run(self, fn, args, kwargs):
        mp = self.mp
        if mp.param_dtype is not None and mp.cast_forward_inputs:
            args, kwargs = _cast_inputs(args, mp.param_dtype), _cast_inputs(kwargs, mp.param_dtype)
        if not self.params:
            out = fn(*args, **kwargs)
        else:
            training = grad_mode.is_grad_enabled() and any(p.requires_grad for p in self.params)
            self.bw_fulls = None
            self.unshard(training)
            free = self.reshard_after_forward if self.reshard_after_forward is not None else not self.is_root
            try:
                if training and free:
                    from ...autograd.graph import saved_tensors_hooks
                    with saved_tensors_hooks(_pack, _unpack):
                        out = fn(*args, **kwargs)
                else:
                    out = fn(*args, **kwargs)
            finally:
                if free or not training:
                    self.reshard()
        if mp.output_dtype is not None:
            out = _cast_inputs(out, mp.output_dtype)
        return out


# ---------------------------------------------------------------------------------------------- the module
class FSDPModule:
    """The class ``fully_shard`` mixes into a module's class (``FSDP<Class>``): its methods act on the
    module's gathering (``recurse`` ones on every ``fully_shard`` module inside it, itself included)."""

    def _fsdp_states(self, recurse=True):
        mods = [m for m in self.modules() if isinstance(m, FSDPModule)] if recurse else [self]
        return [m.__dict__["_fsdp_state"] for m in mods]

    def reshard(self):
        """Free the gathered parameters (the module's attributes become the DTensor parameters again)."""
        self.__dict__["_fsdp_state"].reshard()

    def unshard(self, async_op=False):
        """Gather the full parameters and set them as the module's attributes (no gradient flows through
        them; a forward gathers again). ``async_op``: returns a handle whose ``wait()`` does nothing."""
        self.__dict__["_fsdp_state"].unshard(False)
        return _UnshardHandle() if async_op else None

    def set_requires_gradient_sync(self, requires_gradient_sync, *, recurse=True):
        """Whether backward reduce-scatters gradients; without, each module keeps the full gradients and adds
        them to the next synced backward's (gradient accumulation without communication)."""
        for s in self._fsdp_states(recurse):
            s.sync = bool(requires_gradient_sync)

    def set_reshard_after_backward(self, reshard_after_backward, *, recurse=True):
        """Whether the gathered parameters kept from forward (``reshard_after_forward=False``) are freed by
        the module's backward (default) or kept until ``reshard()``."""
        for s in self._fsdp_states(recurse):
            s.reshard_after_backward = bool(reshard_after_backward)

    def set_reshard_after_forward(self, reshard_after_forward, recurse=True):
        """Whether forward frees the gathered parameters (backward gathers them again)."""
        for s in self._fsdp_states(recurse):
            s.reshard_after_forward = bool(reshard_after_forward)


class _UnshardHandle:
    def wait(self):
        return None


_CLASSES = {}


def _fsdp_class(cls):
    if cls not in _CLASSES:
        def forward(self, *args, **kwargs):
            return self.__dict__["_fsdp_state"].run(super(new, self).forward, args, kwargs)
        new = type(f"FSDP{cls.__name__}", (FSDPModule, cls), {"forward": forward})
        _CLASSES[cls] = new
    return _CLASSES[cls]


def register_fsdp_forward_method(module, method_name):
    """Make ``module.<method_name>`` (a method other than forward, e.g. ``generate``) gather and free the
    parameters as forward does."""
    if not isinstance(module, FSDPModule):
        return
    orig = getattr(module, method_name)
    state = module.__dict__["_fsdp_state"]
    module.__dict__[method_name] = lambda *args, **kwargs: state.run(orig, args, kwargs)


def _owned(module, ignored):
    """The parameters ``module`` owns (not under a nested ``fully_shard`` module or ignored): their places
    and the Parameters, each shared one once, in ``named_parameters`` order."""
    places, params, index = [], [], {}
    stack = [module]
    while stack:
        m = stack.pop(0)
        for name, p in m._parameters.items():
            if p is None or id(p) in ignored:
                continue
            if id(p) in index:
                places[index[id(p)]].append((m, name))
                continue
            index[id(p)] = len(params)
            params.append(p)
            places.append([(m, name)])
        stack[:0] = [c for c in m._modules.values() if c is not None and not isinstance(c, FSDPModule)]
    return places, params


def _shard_tp(p, mesh, d):
    """FSDP2 + TP: a DTensor parameter on a 1-D TP mesh -> a DTensor on the 2-D (dp, tp) mesh holding this
    rank's dp chunk of its TP shard (placements ``(Shard(d) or _StridedShard(d), tp placement)``, PyTorch's)."""
    from ..tensor import DTensor, Shard
    from ..tensor.placement_types import Partial, _StridedShard
    tp_mesh, (tp_placement,) = p.device_mesh, p.placements
    if mesh.ndim != 1 or tp_mesh.ndim != 1:
        raise ValueError(f"fully_shard with tensor parallel needs a 1-D data parallel mesh and parameters on a "
                         f"1-D mesh (ttorch: no HSDP + TP), got {mesh} and {tp_mesh}")
    root = getattr(mesh, "_root_mesh", None)
    if root is None or root is not getattr(tp_mesh, "_root_mesh", None) or not mesh.mesh_dim_names or \
            not tp_mesh.mesh_dim_names:
        raise ValueError("fully_shard: the data parallel mesh and the parameters' tensor parallel mesh must be "
                         "named dims of one DeviceMesh (mesh_2d['dp'], mesh_2d['tp'])")
    if isinstance(tp_placement, Partial):
        raise ValueError(f"fully_shard: a Partial tensor parallel parameter cannot be sharded ({tp_placement})")
    mesh_2d = root[mesh.mesh_dim_names + tp_mesh.mesh_dim_names]
    loc = p._local_tensor.detach()
    mine = Shard(d)._split(loc, mesh.size())[mesh.get_local_rank()].contiguous().clone()
    fsdp = _StridedShard(d, tp_mesh.size()) if tp_placement == Shard(d) else Shard(d)
    return DTensor.from_local(mine, mesh_2d, [fsdp, tp_placement], shape=p.shape), \
        (tp_mesh, tp_placement, tuple(loc.shape))


def fully_shard(module, *, mesh=None, reshard_after_forward=None, shard_placement_fn=None,
                mp_policy=MixedPrecisionPolicy(), offload_policy=OffloadPolicy(), ignored_params=None):
    r"""Shard ``module``'s parameters over ``mesh`` (data parallel): each becomes a DTensor ``Shard(0)``.

    Args:
        module (Module or list of Module): the module (a list: each one, sharing one state in PyTorch; here
            each its own).
        mesh (DeviceMesh): a 1-D mesh (default: all ranks, on the parameters' device type), or a 2-D one for
            HSDP (dim 0 replicates, dim 1 shards). With tensor parallel, the dp dim of the mesh whose tp dim
            holds the parameters (``mesh_2d["dp"]``).
        reshard_after_forward (bool): free the gathered parameters after forward (None: True except for the
            root, the outermost ``fully_shard`` module; an int, PyTorch's partial resharding, reshards fully).
        shard_placement_fn: ``fn(param) -> Shard(dim) or None`` (None: ``Shard(0)``).
        mp_policy (MixedPrecisionPolicy), offload_policy (OffloadPolicy), ignored_params (set of Parameter).

    Returns the module, its class now ``FSDP<Class>``. The module docstring lists differences from PyTorch.

    Example::

        >>> # for block in model.blocks: fully_shard(block)
        >>> # fully_shard(model); opt = ttorch.optim.Adam(model.parameters())
    """
    from ..device_mesh import init_device_mesh
    from ..tensor import DTensor, Shard, distribute_tensor
    if isinstance(module, (list, tuple)):
        for m in module:
            fully_shard(m, mesh=mesh, reshard_after_forward=reshard_after_forward,
                        shard_placement_fn=shard_placement_fn, mp_policy=mp_policy, offload_policy=offload_policy,
                        ignored_params=ignored_params)
        return module
    if not isinstance(module, Module):
        raise ValueError(f"fully_shard does not support containers that do not implement forward: {module}")
    places, params = _owned(module, {id(p) for p in ignored_params or ()})
    if mesh is None:
        from ..distributed_c10d import get_world_size
        dev = params[0].device.type if params else "cpu"
        mesh = init_device_mesh(dev, (get_world_size(),))
    if mesh.ndim not in (1, 2):
        raise ValueError(f"fully_shard expects a 1D or 2D DeviceMesh but got {mesh}")
    from ..tensor import Replicate
    lead = [Replicate()] if mesh.ndim == 2 else []      # (HSDP: replicated along the mesh's first dim)
    dims, new, tp = [], [], []
    with grad_mode.no_grad():
        for p in params:
            placement = shard_placement_fn(p) if shard_placement_fn is not None else None
            d = (placement or Shard(0)).dim % max(p.ndim, 1)
            if p.ndim == 0:
                raise ValueError("fully_shard: a 0-d parameter cannot be sharded; pass it in ignored_params")
            if isinstance(p, DTensor):
                dt, info = _shard_tp(p, mesh, d)
            else:
                dt, info = distribute_tensor(p.detach(), mesh, lead + [Shard(d)], src_data_rank=None), None
            if isinstance(offload_policy, CPUOffloadPolicy):
                dt = DTensor.from_local(dt._local_tensor.cpu(), dt.device_mesh, dt.placements, shape=p.shape)
            q = Parameter(dt, p.requires_grad)
            dims.append(d)
            new.append(q)
            tp.append(info)
    for ps, q in zip(places, new):
        for m, name in ps:
            m._parameters[name] = q
    state = _State(module, mesh, reshard_after_forward, mp_policy, offload_policy, dims, places, new, tp)
    state.device = params[0].device if params else None
    for m in module.modules():         # the fully_shard modules inside this one are not roots
        if isinstance(m, FSDPModule):
            m.__dict__["_fsdp_state"].is_root = False
    module.__dict__["_fsdp_state"] = state
    module.__class__ = _fsdp_class(type(module))
    return module
