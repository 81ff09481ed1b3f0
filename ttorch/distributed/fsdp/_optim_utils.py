"""FSDP's optimizer-state conversions: the optimizer steps the units' flat shards, so its state (Adam's
moments...) is sharded and flattened too. ``optim_state_dict`` all-gathers each unit's per-element state,
drops the padding, and splits it back into the original parameters, keyed by their names (PyTorch's
``FULL_STATE_DICT`` layout: ``{"state": {name: {...}}, "param_groups": [{..., "params": [names]}]}``);
``optim_state_dict_to_load`` goes the other way, flattening and cutting out this rank's chunk.

A state value is per-element when it is a tensor shaped like the flat shard; anything else (Adam's
``step``, scalars) is the same for every parameter of a unit and is copied to each.

Differences from PyTorch: only the full layout (``FULL_STATE_DICT``; ``SHARDED_STATE_DICT`` needs DTensor);
``optim_input`` and ``is_named_optimizer`` are accepted and ignored; ``scatter_full_optim_state_dict``
broadcasts the whole state from rank 0 and each rank cuts out its shard.
"""
from ...autograd import grad_mode
from ._state_dict_utils import _PREFIX
from .api import ShardingStrategy


def _units(model):
    from .fully_sharded_data_parallel import FullyShardedDataParallel
    return [u for u in FullyShardedDataParallel.fsdp_modules(model) if u._flat is not None]


def _param_names(model):
    """``{id(param): [names]}`` for every parameter the optimizer may hold: each unit's flat shard maps to
    its original parameters' names, any other parameter to its own name."""
    prefixes = {}
    for prefix, m in model.named_modules():
        prefixes.setdefault(id(m), prefix)
    names, flats = {}, {}
    for u in _units(model):
        fqns = []
        for places in u._places:
            m, name = places[0]
            pre = prefixes[id(m)]
            fqns.append((pre + "." + name if pre else name).replace(_PREFIX, ""))
        names[id(u._flat)] = fqns
        flats[id(u._flat)] = u
    for name, p in model.named_parameters():
        if id(p) not in names:
            names[id(p)] = [name.replace(_PREFIX, "")]
    return names, flats


def _per_element(u, value):
    from ..._tensor import Tensor
    return isinstance(value, Tensor) and value.dim() == 1 and value.numel() == u._flat.numel()


def _full_vector(u, shard):
    """The unit's whole (unpadded) vector of a per-element state, gathered from every rank's chunk."""
    from ..collectives import all_gather_into_tensor
    from ..._tensor import Tensor
    shard = shard.detach()
    if u.sharding_strategy is ShardingStrategy.NO_SHARD or u._world == 1:
        full = shard.clone()
    else:
        full = Tensor._empty((u._chunk * u._world,), shard.dtype, shard.device)
        all_gather_into_tensor(full, shard.contiguous(), group=u.process_group)
    return full[:u._offsets[-1]]


def _unflatten_state(u, fqns, state, offload_to_cpu):
    out = {fqn: {} for fqn in fqns}
    for key, value in state.items():
        if _per_element(u, value):
            full = _full_vector(u, value)
            for fqn, off, n, shape in zip(fqns, u._offsets, u._numels, u._shapes):
                t = full[off:off + n].view(shape).clone()
                out[fqn][key] = t.cpu() if offload_to_cpu else t
        else:
            for fqn in fqns:
                out[fqn][key] = value.clone() if hasattr(value, "clone") else value
    return out


def _group_of(optim):
    return [[p for p in g["params"]] for g in optim.param_groups]


def optim_state_dict(model, optim, optim_state_dict=None, group=None, rank0_only=None, offload_to_cpu=None):
    """The full optimizer state keyed by the original parameter names (see the module docstring)."""
    cfg = _units(model)[0]._optim_state_dict_config if _units(model) else None
    rank0_only = getattr(cfg, "rank0_only", False) if rank0_only is None else rank0_only
    offload_to_cpu = getattr(cfg, "offload_to_cpu", True) if offload_to_cpu is None else offload_to_cpu
    osd = optim.state_dict() if optim_state_dict is None else optim_state_dict
    names, flats = _param_names(model)
    params = [p for g in _group_of(optim) for p in g]
    state, groups = {}, []
    with grad_mode.no_grad():
        for index, p in enumerate(params):
            if id(p) not in names:
                raise ValueError("optim_state_dict: the optimizer holds a parameter that is not in the model")
            local = osd["state"].get(index)
            if local is None:
                continue
            if id(p) in flats:
                state.update(_unflatten_state(flats[id(p)], names[id(p)], local, offload_to_cpu))
            else:
                state[names[id(p)][0]] = {k: (v.cpu() if offload_to_cpu and hasattr(v, "cpu") else v)
                                          for k, v in local.items()}
    for saved in osd["param_groups"]:
        g = {k: v for k, v in saved.items() if k != "params"}
        g["params"] = [fqn for i in saved["params"] for fqn in names[id(params[i])]]
        groups.append(g)
    rank = group.rank() if group is not None else (_units(model)[0]._rank if _units(model) else 0)
    if rank0_only and rank != 0:
        return {}
    return {"state": state, "param_groups": groups}


def _flatten_state(u, fqns, full_state):
    """This rank's flat shard of each per-element state of unit ``u``, from the full, named one."""
    from ...ops import FUNCTIONS as F
    first = full_state.get(fqns[0])
    if first is None:
        return None
    out = {}
    for key, value in first.items():
        per_param = [full_state[f][key] for f in fqns]
        if hasattr(value, "shape") and value.dim() > 0 and all(
                tuple(v.shape) == s for v, s in zip(per_param, u._shapes)):
            flat = F["cat"]([v.detach().reshape(-1).to(u._flat.device, v.dtype) for v in per_param])
            if u.sharding_strategy is not ShardingStrategy.NO_SHARD:
                pad = u._chunk * u._world - flat.numel()
                if pad:
                    flat = F["cat"]([flat, flat.new_zeros(pad)])
                flat = flat[u._rank * u._chunk:(u._rank + 1) * u._chunk]
            out[key] = flat.clone()
        else:
            out[key] = value.clone() if hasattr(value, "clone") else value
    return out


def optim_state_dict_to_load(model, optim, optim_state_dict, params=None):
    """The flattened, sharded state of this rank, indexed as ``optim.state_dict()`` (``optim`` may be None:
    ``params`` then gives the order, ``model.parameters()`` by default)."""
    names, flats = _param_names(model)
    if params is None:
        params = [p for g in _group_of(optim) for p in g] if optim is not None else list(model.parameters())
    by_name = {}
    for index, p in enumerate(params):
        for fqn in names[id(p)]:
            by_name.setdefault(fqn, index)
    state = {}
    with grad_mode.no_grad():
        for index, p in enumerate(params):
            if id(p) in flats:
                local = _flatten_state(flats[id(p)], names[id(p)], optim_state_dict["state"])
            else:
                local = optim_state_dict["state"].get(names[id(p)][0])
                local = dict(local) if local is not None else None
            if local is not None:
                state[index] = local
    groups = []
    for saved in optim_state_dict["param_groups"]:
        g = {k: v for k, v in saved.items() if k != "params"}
        idx = []
        for fqn in saved["params"]:
            if fqn not in by_name:
                raise KeyError(f"optim_state_dict_to_load: parameter '{fqn}' is not in the model")
            if by_name[fqn] not in idx:
                idx.append(by_name[fqn])
        g["params"] = idx
        groups.append(g)
    return {"state": state, "param_groups": groups}


def scatter_full_optim_state_dict(full_optim_state_dict, model, optim=None, group=None):
    """Rank 0's full state broadcast to every rank, each keeping its flattened shard."""
    from ..distributed_c10d import get_global_rank
    from ..p2p import broadcast_object_list
    units = _units(model)
    pg = group if group is not None else (units[0].process_group if units else None)
    box = [full_optim_state_dict if pg is None or pg.rank() == 0 else None]
    if pg is not None:
        broadcast_object_list(box, src=get_global_rank(pg, 0), group=pg)
    return optim_state_dict_to_load(model, optim, box[0])
