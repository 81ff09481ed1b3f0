"""``Optimizer``: PyTorch's base class (param_groups of dicts, per-parameter state, hooks, state_dict).

Subclasses create a parameter's state lazily (``_init_state``) and update one parameter at a time
(``_update``, built on ``_update.py``); a user's subclass may override ``step`` instead, as in PyTorch.
"""
import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

from .. import _profiling
from .._tensor import Tensor, _RemovableHandle
from ..autograd import grad_mode

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton marking a default that every param group must give (SGD's ``lr`` in old PyTorch)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    if isinstance(obj, Tensor):
        return "ttorch." + {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor"}.get(
            str(obj.dtype).split(".")[-1], "Tensor")
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


# the option flags every built-in optimizer fills into a loaded param group that lacks them
# (PyTorch's ``__setstate__`` overrides); each adds its own keys in ``_group_defaults``
_FLAG_DEFAULTS = dict(foreach=None, maximize=False, differentiable=False)

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


def _add_hook(hooks, hook, prepend=False):
    """``hook`` added to the ordered dict ``hooks`` (first when ``prepend``); returns its handle."""
    h = _RemovableHandle(hooks)
    hooks[h.id] = hook
    if prepend:
        hooks.move_to_end(h.id, last=False)
    return h


def register_optimizer_step_pre_hook(hook):
    r"""A pre-hook ``hook(optimizer, args, kwargs)`` run before every optimizer's ``step``."""
    return _add_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    r"""A post-hook ``hook(optimizer, args, kwargs)`` run after every optimizer's ``step``."""
    return _add_hook(_global_optimizer_post_hooks, hook)


def _with_step_hooks(step):
    """``step`` wrapped in the global and per-optimizer step hooks; a pre-hook may return new
    ``(args, kwargs)``. A ``step`` calling its parent's runs the hooks once."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):
            return step(self, *args, **kwargs)
        for hook in chain(_global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, new_kwargs), but got "
                                       f"{result}.")
        self._in_step = True
        try:            # ttorch.profiler: one range per step, named as PyTorch's
            with _profiling.span(f"Optimizer.step#{type(self).__name__}.step"):
                out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._hooked = True
    return wrapper


class Optimizer:
    r"""Base class for all optimizers.

    Args:
        params (iterable): an iterable of :class:`Tensor` s or of dicts specifying which tensors
            to optimize (each dict is a param group with its own options).
        defaults (dict): default values of the optimization options, used by param groups that
            do not set them.

    Example::

        >>> import ttorch
        >>> w = ttorch.nn.Parameter(ttorch.ones(2))
        >>> opt = ttorch.optim.SGD([w], lr=0.5)
        >>> (w * w).sum().backward(); opt.step(); w
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # keys a param group loaded from an older state may lack, with the value filled in
    _group_defaults = {}

    # ------------------------------------------------------------------ pickling and printing
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        for group in self.param_groups:
            for k, v in self._group_defaults.items():
                group.setdefault(k, v)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        r"""Add a param group to the optimizer's ``param_groups`` (fine-tuning: unfreeze layers).

        Args:
            param_group (dict): the tensors to optimize (``"params"``) and group-specific options.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        # named parameters (PyTorch 2.6): ("name", tensor) pairs, names kept in "param_names"
        extracted, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple) and len(param) == 2 and isinstance(param[0], str):
                names.append(param[0])
                param = param[1]
            extracted.append(param)
        if names:
            if len(names) != len(extracted):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["params"], param_group["param_names"] = extracted, names
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(param)}")
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will cause "
                          "an error; see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        param_set = set()
        for group in self.param_groups:
            param_set.update(set(group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {current} to the optimizer")
        if not param_set.isdisjoint(set(param_group["params"])):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients and steps
    def zero_grad(self, set_to_none=True):
        r"""Reset the gradients of all optimized tensors.

        Args:
            set_to_none (bool): set ``.grad`` to ``None`` instead of zeroing it (less memory, and
                optimizers skip parameters whose grad is ``None``). Default: ``True``.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    @_with_step_hooks
    def step(self, closure=None):
        r"""Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        with grad_mode.no_grad():
            for group in self.param_groups:
                # foreach (None or True, as PyTorch's default on cuda): an optimizer with a
                # many-tensor update takes all of a group's cuda parameters at once
                many = [] if self._update_many is not None and group.get("foreach") is not False else None
                for p in group["params"]:
                    if p._grad is None:
                        continue
                    state = self.state[p]
                    if len(state) == 0:
                        self._init_state(p, state, group)
                    if p.dtype.is_complex:      # updated as its real view, as PyTorch's optimizers do
                        _update_as_real(self, p, state, group)
                    elif many is not None and p.device.type == "cuda" and not p._grad.is_sparse:
                        many.append(p)
                    else:
                        self._update(p, p._grad, state, group)
                if many:
                    self._update_many(many, group)
        return loss

    def __init_subclass__(cls, **kwargs):
        # a user's optimizer that overrides ``step`` still runs the step hooks (PyTorch patches
        # the subclass's step the same way)
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_step_hooks(step)

    # subclasses: lazy state creation and one parameter's update
    def _init_state(self, p, state, group):
        pass

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    _update_many = None     # or ``_update_many(params, group)``: a group's cuda parameters in few launches

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook):
        r"""``hook(optimizer, args, kwargs) -> None``, called before each ``step``; returns a handle."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        r"""``hook(optimizer, args, kwargs) -> None``, called after each ``step``; returns a handle."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        r"""``hook(optimizer) -> None``, called before ``state_dict``; returns a handle."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        r"""``hook(optimizer, state_dict) -> state_dict or None``, called after ``state_dict``."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        r"""``hook(optimizer, state_dict) -> state_dict or None``, called before ``load_state_dict``."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        r"""``hook(optimizer) -> None``, called after ``load_state_dict``."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        r"""The optimizer's state as a dict: ``state`` keyed by parameter index and ``param_groups``
        whose ``params`` are those indices (parameters numbered in group order).

        Tensors in ``state`` are references, not copies, as in PyTorch.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups, key=None):
        # PyTorch keeps ``step`` where it was (float32 on the cpu here) and gives every other state
        # tensor the parameter's device and (floating) dtype
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused, capturable = pg.get("fused", False), pg.get("capturable", False)
                break
        if key == "step":
            if capturable or fused:
                from .. import float32
                return value.to(dtype=float32)
            return value
        if param.is_floating_point():
            value = value.to(dtype=param.dtype, device=param.device)
        else:
            value = value.to(device=param.device)
        # the fused kernels index buffers flat: a strided saved buffer becomes contiguous here
        return value if value.is_contiguous() else value.contiguous()

    def load_state_dict(self, state_dict):
        r"""Load an optimizer state (a dict returned by :meth:`state_dict`)."""
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's "
                             "group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def _cast(param, value, param_id=None, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, state_dict["param_groups"], key)
            if isinstance(value, dict):
                return {k: _cast(param, v, param_id, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(_cast(param, v, param_id) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, param_id=k)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


def _update_as_real(opt, p, state, group):
    """``opt._update`` of complex ``p`` on the float views (..., 2) of it, its gradient and its complex
    state buffers (PyTorch's ``view_as_real`` in every optimizer): each part is updated as a real
    parameter. State entries the update creates or replaces are kept, as complex views again."""
    from .._tensor import Tensor
    from ..ops.complex import _fv, owned_complex
    rstate = {k: (_fv(v) if isinstance(v, Tensor) and v.dtype.is_complex else v) for k, v in state.items()}
    before = dict(rstate)
    fp = _fv(p)
    opt._update(fp, _fv(p._grad), rstate, group)
    for k, v in rstate.items():
        if before.get(k) is not v:
            fresh = isinstance(v, Tensor) and v._shape == fp._shape and v.is_contiguous() and v._offset == 0
            state[k] = owned_complex(v) if fresh else v
