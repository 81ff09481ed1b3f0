"""State dicts of models and optimizers by parameter name, whatever the parallelism (PyTorch's
``checkpoint.state_dict``): ``get_state_dict(model, optimizers)`` gives the model's state dict without wrapper
prefixes (DDP's ``module.``, FSDP's ``_fsdp_wrapped_module.``, ``_orig_mod.``) and the optimizer's with its
``state`` and ``param_groups`` keyed by parameter names; ``set_state_dict`` loads them back. ``fully_shard``
models give DTensors (each rank its shard: what ``checkpoint.save`` wants), or full tensors with
``full_state_dict``.

Differences from PyTorch: an ``FullyShardedDataParallel`` (FSDP1) model's state dicts are always the full
ones (ttorch's FSDP1 has no sharded state dict), gathered on every rank; ``broadcast_from_rank0`` broadcasts
the whole state dict from rank 0 as objects, then every rank keeps its shard.
"""
from dataclasses import dataclass

from ...autograd import grad_mode
from ..._tensor import Tensor
from ...nn.modules.module import Module

__all__ = ["StateDictOptions", "get_model_state_dict", "get_optimizer_state_dict", "get_state_dict",
           "set_model_state_dict", "set_optimizer_state_dict", "set_state_dict"]

_WRAPPER_ATTRS = ("_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module")


@dataclass
class StateDictOptions:
    """How ``get_*``/``set_*`` work.

    Args:
        full_state_dict (bool): DTensors gathered into full tensors (with ``cpu_offload``, on rank 0 only:
            the other ranks get an empty dict).
        cpu_offload (bool): tensors moved to the host.
        ignore_frozen_params (bool): leave out parameters with ``requires_grad=False``.
        keep_submodule_prefixes (bool): with ``submodules``, keep the submodules' prefixes in the keys.
        strict (bool): ``set_model_state_dict``'s ``load_state_dict`` strictness.
        broadcast_from_rank0 (bool): ``set_*`` take rank 0's (full) state dict, each rank its shard of it.
        flatten_optimizer_state_dict (bool): optimizer state as flat keys ``state.<fqn>.<name>``,
            ``param_groups.<fqn>.<name>``.
    """
    full_state_dict: bool = False
    cpu_offload: bool = False
    ignore_frozen_params: bool = False
    keep_submodule_prefixes: bool = True
    strict: bool = True
    broadcast_from_rank0: bool = False
    flatten_optimizer_state_dict: bool = False
    dsd_fqn_modifiers: str = "_fqn_modifiers"


def _dtensor():
    from ..tensor import DTensor
    return DTensor


def _fsdp1_units(model):
    from ..fsdp import FullyShardedDataParallel
    return [m for m in model.modules() if isinstance(m, FullyShardedDataParallel)]


def _clean(model, key):
    """``key`` without the wrappers' attribute names (a DDP's ``module``, ``_orig_mod``...)."""
    from ...nn.parallel.distributed import DistributedDataParallel
    out, cur = [], model
    for part in key.split("."):
        nxt = cur._modules.get(part) if isinstance(cur, Module) else None
        ddp = part == "module" and isinstance(cur, DistributedDataParallel)
        if nxt is not None and (part in _WRAPPER_ATTRS or ddp):
            cur = nxt
            continue
        out.append(part)
        cur = nxt
    return ".".join(out)


def _param_fqns(model):
    """``{id(parameter): [its names]}`` (a shared parameter has several)."""
    out = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        out.setdefault(id(p), []).append(_clean(model, name))
    return out


def _is_rank0_only(options):
    from .. import distributed_c10d as c10d
    return options.full_state_dict and options.cpu_offload and c10d.is_initialized() and c10d.get_rank() != 0


def _convert(value, options):
    """A state value with DTensors gathered (``full_state_dict``) and tensors on the host (``cpu_offload``)."""
    if isinstance(value, dict):
        return type(value)((k, _convert(v, options)) for k, v in value.items())
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_convert(v, options) for v in value)
    if isinstance(value, Tensor):
        if options.full_state_dict and isinstance(value, _dtensor()):
            value = value.full_tensor()
        if options.cpu_offload:
            value = value.cpu()
    return value


def _submodule_filter(model, submodules, options):
    if not submodules:
        return None
    names = {id(m): _clean(model, n) for n, m in model.named_modules()}
    return [names[id(m)] + "." for m in submodules if id(m) in names]


def get_model_state_dict(model, *, submodules=None, options=None):
    """The model's state dict keyed by parameter and buffer names (see the module docstring).

    Example::

        >>> model = ttorch.nn.Linear(2, 1)
        >>> list(get_model_state_dict(model))
        ['weight', 'bias']
    """
    options = options or StateDictOptions()
    with grad_mode.no_grad():
        if _fsdp1_units(model):
            from ..fsdp import FullStateDictConfig, FullyShardedDataParallel as FSDP, StateDictType
            with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=False)):
                raw = model.state_dict()
        else:
            raw = model.state_dict()
        sd = type(raw)((_clean(model, k), v) for k, v in raw.items())     # (an OrderedDict, as PyTorch's)
        if options.ignore_frozen_params:
            frozen = {_clean(model, n) for n, p in model.named_parameters(remove_duplicate=False)
                      if not p.requires_grad}
            sd = type(raw)((k, v) for k, v in sd.items() if k not in frozen)
        prefixes = _submodule_filter(model, submodules, options)
        if prefixes is not None:
            kept = type(raw)()
            for k, v in sd.items():
                for pre in prefixes:
                    if k.startswith(pre):
                        kept[k if options.keep_submodule_prefixes else k[len(pre):]] = v
            sd = kept
        sd = _convert(sd, options)
    return {} if _is_rank0_only(options) else sd


def _optimizers(optimizers):
    from ...optim.optimizer import Optimizer
    return [optimizers] if isinstance(optimizers, Optimizer) else list(optimizers)


def _init_optim_state(optim):
    """Make the optimizer's state (a step with zero gradients and lr 0), so that a fresh optimizer has the
    tensors a checkpoint loads into, as PyTorch does."""
    if optim.state:
        return
    params = [p for g in optim.param_groups for p in g["params"]]
    if any(p.grad is not None for p in params):
        return
    from ...ops.creation import zeros_like, tensor
    for p in params:
        if p.requires_grad:
            p.grad = zeros_like(p)
    lrs = []
    for g in optim.param_groups:
        if "lr" in g:
            lrs.append(g["lr"])
            g["lr"] = tensor(0.0) if isinstance(g["lr"], Tensor) else 0.0
    optim.step()
    for g in optim.param_groups:
        if "lr" in g:
            g["lr"] = lrs.pop(0)
    optim.zero_grad(set_to_none=True)


def _optim_state_dict(model, optim):
    _init_optim_state(optim)
    if _fsdp1_units(model):
        from ..fsdp._optim_utils import optim_state_dict
        return optim_state_dict(model, optim, offload_to_cpu=False)
    fqns = _param_fqns(model)
    raw = optim.state_dict()
    params = []
    for g in optim.param_groups:
        params += [p for p in g["params"] if all(p is not q for q in params)]
    for p in params:
        if id(p) not in fqns:
            raise ValueError("get_optimizer_state_dict: the optimizer holds a parameter that is not in the model")
    state = {fqns[id(params[i])][0]: v for i, v in raw["state"].items()}
    groups = [dict({k: v for k, v in g.items() if k != "params"}, params=[fqns[id(params[i])][0] for i in g["params"]])
              for g in raw["param_groups"]]
    return {"state": state, "param_groups": groups}


def _flatten_optim(osd):
    out = {}

    def put(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{prefix}.{k}", v)
        else:
            out[prefix] = value

    for fqn, st in osd["state"].items():
        put(f"state.{fqn}", st)
    for g in osd["param_groups"]:
        for fqn in g["params"]:
            for k, v in g.items():
                if k != "params":
                    out[f"param_groups.{fqn}.{k}"] = v
    return out


def get_optimizer_state_dict(model, optimizers, *, submodules=None, options=None):
    """The optimizers' state dict, ``state`` and ``param_groups`` keyed by parameter names (the state
    of a fresh optimizer is made first, as PyTorch makes it: a step with zero gradients and lr 0)."""
    options = options or StateDictOptions()
    with grad_mode.no_grad():
        osd = {"state": {}, "param_groups": []}
        for optim in _optimizers(optimizers):
            one = _optim_state_dict(model, optim)
            osd["state"].update(one["state"])
            osd["param_groups"] += one["param_groups"]
        osd = {"state": _convert(osd["state"], options), "param_groups": osd["param_groups"]}
        if options.flatten_optimizer_state_dict:
            osd = _flatten_optim(osd)
    return {} if _is_rank0_only(options) else osd


def get_state_dict(model, optimizers, *, submodules=None, options=None):
    """``(get_model_state_dict(model), get_optimizer_state_dict(model, optimizers))``.

    Example::

        >>> model = ttorch.nn.Linear(2, 1); opt = ttorch.optim.SGD(model.parameters(), lr=0.1)
        >>> msd, osd = get_state_dict(model, opt)
        >>> osd["param_groups"][0]["params"]
        ['weight', 'bias']
    """
    return (get_model_state_dict(model, submodules=submodules, options=options),
            get_optimizer_state_dict(model, optimizers, submodules=submodules, options=options))


def _broadcast(obj):
    """Rank 0's ``obj`` on every rank (tensors travel as host copies)."""
    from .. import distributed_c10d as c10d
    from ..p2p import broadcast_object_list
    if not c10d.is_initialized():
        return obj
    box = [_convert(obj, StateDictOptions(cpu_offload=True)) if c10d.get_rank() == 0 else None]
    broadcast_object_list(box, src=0)
    return box[0]


def set_model_state_dict(model, model_state_dict, *, options=None):
    """Load ``model_state_dict`` (keyed as ``get_model_state_dict`` keys it; DTensors or full tensors) into
    the model; returns ``load_state_dict``'s missing and unexpected keys."""
    options = options or StateDictOptions()
    if options.broadcast_from_rank0:
        model_state_dict = _broadcast(model_state_dict)
    if _fsdp1_units(model):
        from ..fsdp import FullStateDictConfig, FullyShardedDataParallel as FSDP, StateDictType
        with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=False)):
            return model.load_state_dict(model_state_dict, strict=options.strict)
    raw = {_clean(model, k): k for k in model.state_dict(keep_vars=True)}
    return model.load_state_dict({raw.get(k, k): v for k, v in model_state_dict.items()}, strict=options.strict)


def _unflatten_optim(optim, fqns, flat):
    state, groups = {}, []
    for g in optim.param_groups:
        names = [n for p in g["params"] for n in fqns[id(p)]]      # (an FSDP flat parameter has several)
        for fqn in names:
            pre = f"state.{fqn}."
            st = {}
            for k, v in flat.items():
                if k.startswith(pre):
                    cur, parts = st, k[len(pre):].split(".")
                    for part in parts[:-1]:
                        cur = cur.setdefault(part, {})
                    cur[parts[-1]] = v
            if st:
                state[fqn] = st
        pre = f"param_groups.{names[0]}." if names else None
        group = {k[len(pre):]: v for k, v in flat.items() if pre and k.startswith(pre)}
        group["params"] = names
        groups.append(group)
    return {"state": state, "param_groups": groups}


def _as_layout(value, param):
    """A state tensor in ``param``'s layout: a full tensor cut to a DTensor parameter's shard."""
    DTensor = _dtensor()
    if not isinstance(param, DTensor) or not isinstance(value, Tensor) or tuple(value.shape) != tuple(param.shape) \
            or value.ndim == 0:
        return value
    if isinstance(value, DTensor):
        if value.placements == param.placements:
            return value
        return value.redistribute(param.device_mesh, param.placements)
    from ..tensor import distribute_tensor
    return distribute_tensor(value.to(param._local_tensor.device), param.device_mesh, param.placements,
                             src_data_rank=None)


def _load_optim(model, optim, osd):
    _init_optim_state(optim)
    if _fsdp1_units(model):
        from ..fsdp._optim_utils import _param_names, optim_state_dict_to_load
        if "state" not in osd:
            osd = _unflatten_optim(optim, _param_names(model)[0], osd)
        optim.load_state_dict(optim_state_dict_to_load(model, optim, osd))
        return
    fqns = _param_fqns(model)
    if "state" not in osd:
        osd = _unflatten_optim(optim, fqns, osd)
    params = []
    for g in optim.param_groups:
        params += [p for p in g["params"] if all(p is not q for q in params)]
    index = {fqns[id(p)][0]: i for i, p in enumerate(params)}
    state = {}
    for fqn, st in osd["state"].items():
        if fqn in index:
            p = params[index[fqn]]
            state[index[fqn]] = {k: _as_layout(v, p) for k, v in st.items()}
    saved_groups = {fqn: g for g in osd["param_groups"] for fqn in g["params"]}
    groups = []
    for g in optim.param_groups:
        names = [fqns[id(p)][0] for p in g["params"]]
        saved = saved_groups.get(names[0]) if names else None
        if saved is None:
            raise KeyError(f"set_optimizer_state_dict: no param group for parameter '{names[0] if names else ''}'")
        groups.append(dict({k: v for k, v in saved.items() if k != "params"}, params=[index[n] for n in names]))
    optim.load_state_dict({"state": state, "param_groups": groups})


def set_optimizer_state_dict(model, optimizers, optim_state_dict, *, options=None):
    """Load ``optim_state_dict`` (keyed by parameter names, nested or flattened; DTensors or full tensors)
    into the optimizers."""
    options = options or StateDictOptions()
    if options.broadcast_from_rank0:
        optim_state_dict = _broadcast(optim_state_dict)
    with grad_mode.no_grad():
        for optim in _optimizers(optimizers):
            _load_optim(model, optim, optim_state_dict)


def set_state_dict(model, optimizers, *, model_state_dict, optim_state_dict, options=None):
    """``set_model_state_dict`` and ``set_optimizer_state_dict``; returns the model's missing and unexpected
    keys."""
    result = set_model_state_dict(model, model_state_dict, options=options)
    set_optimizer_state_dict(model, optimizers, optim_state_dict, options=options)
    return result
