"""The functional optimizers (``ttorch.optim.adam.adam``, ``sgd.sgd``...; all of them here too, as in
PyTorch's ``torch.optim._functional``): one update of lists of parameters
with their gradients and state tensors, PyTorch's signatures, run by the optimizer classes' own per-parameter
update (so both give the same numbers).

Each ``fn(params, grads, *state_lists, **hyperparameters)`` updates the parameters and the state tensors in
place (``state_steps`` too); a ``None`` entry in ``momentum_buffer_list`` gets the new buffer, as PyTorch's
``sgd``. The implementation flags (``foreach``, ``fused``, ``capturable``, ``differentiable``,
``has_complex``, ``has_sparse_grad``) are accepted; ``grad_scale``/``found_inf`` (the fused path's
unscaling) raise ``NotImplementedError`` when given.
"""
__all__ = ["adadelta", "adagrad", "adam", "adamax", "adamw", "asgd", "nadam", "radam", "rmsprop", "rprop",
           "sgd"]

# name: (class name, state keys in the lists' order, keyword defaults, flags taken positionally after the lists)
_FLAGS = ("foreach", "capturable", "differentiable", "fused", "grad_scale", "found_inf", "has_complex",
          "has_sparse_grad", "decoupled_weight_decay", "maximize")
_SPECS = {
    "sgd": ("SGD", ("momentum_buffer",), {}, ("has_sparse_grad", "foreach", "fused", "grad_scale", "found_inf")),
    "adam": ("Adam", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"), {"decoupled_weight_decay": False},
             ("foreach", "capturable", "differentiable", "fused", "grad_scale", "found_inf", "has_complex",
              "decoupled_weight_decay")),
    "adamw": ("Adam", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"), {"decoupled_weight_decay": True},
              ("foreach", "capturable", "differentiable", "fused", "grad_scale", "found_inf", "has_complex")),
    "adagrad": ("Adagrad", ("sum", "step"), {}, ("fused", "grad_scale", "found_inf", "has_sparse_grad", "foreach",
                                                 "differentiable", "has_complex")),
    "rmsprop": ("RMSprop", ("square_avg", "grad_avg", "momentum_buffer", "step"), {"maximize": False},
                ("foreach", "maximize", "differentiable", "capturable", "has_complex")),
    "adamax": ("Adamax", ("exp_avg", "exp_inf", "step"), {"maximize": False},
               ("foreach", "maximize", "differentiable", "capturable", "has_complex")),
    "adadelta": ("Adadelta", ("square_avg", "acc_delta", "step"), {},
                 ("capturable", "foreach", "differentiable", "has_complex")),
    "nadam": ("NAdam", ("exp_avg", "exp_avg_sq", "mu_product", "step"),
              {"maximize": False, "decoupled_weight_decay": False},
              ("decoupled_weight_decay", "foreach", "capturable", "differentiable", "has_complex", "maximize")),
    "radam": ("RAdam", ("exp_avg", "exp_avg_sq", "step"), {"maximize": False, "decoupled_weight_decay": False},
              ("decoupled_weight_decay", "foreach", "differentiable", "capturable", "has_complex", "maximize")),
    "rprop": ("Rprop", ("prev", "step_size", "step"), {"maximize": False, "lr": 0.0},
              ("foreach", "capturable", "maximize", "differentiable", "has_complex")),
    "asgd": ("ASGD", ("ax", "mu", "eta", "step"), {"maximize": False},
             ("foreach", "maximize", "differentiable", "capturable", "has_complex")),
}
# the hyper-parameters PyTorch's functions take separately, as the classes' groups hold them
_PAIRS = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"),
          "step_sizes": ("step_size_min", "step_size_max")}


def functional(name):
    """The functional form ``name`` (a key of ``_SPECS``)."""
    cls_name, keys, defaults, positional = _SPECS[name]

    def fn(params, grads, *args, **kwargs):
        from .. import optim
        from .._tensor import Tensor
        from ..autograd import grad_mode
        lists, flags = args[:len(keys)], args[len(keys):]
        if len(lists) != len(keys):
            raise TypeError(f"{name}() missing the state lists {list(keys[len(lists):])}")
        if len(flags) > len(positional):
            raise TypeError(f"{name}() takes {2 + len(keys) + len(positional)} positional arguments")
        kwargs = {**defaults, **dict(zip(positional, flags)), **kwargs}
        if kwargs.get("grad_scale") is not None or kwargs.get("found_inf") is not None:
            raise NotImplementedError(f"{name}(): grad_scale/found_inf (the fused path) are not supported")
        group = {k: v for k, v in kwargs.items() if k not in _FLAGS or k in ("maximize", "decoupled_weight_decay")}
        for pair, (a, b) in _PAIRS.items():
            if a in group:
                group[pair] = (group.pop(a), group.pop(b))
        group.setdefault("maximize", False)
        group.setdefault("amsgrad", False)
        group.setdefault("nesterov", False)
        group.setdefault("centered", False)
        group.setdefault("momentum", 0)
        cls = getattr(optim, cls_name)
        opt = cls.__new__(cls)             # (the per-parameter update reads only its arguments)
        with grad_mode.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                state = {}
                for key, lst in zip(keys, lists):
                    if lst is not None and i < len(lst) and lst[i] is not None:
                        state[key] = lst[i]
                given = dict(state)
                if p.dtype.is_complex:      # as the classes do: the real views of everything
                    from ..ops.complex import _fv
                    real = {k: (_fv(v) if isinstance(v, Tensor) and v.dtype.is_complex else v)
                            for k, v in state.items()}
                    opt._update(_fv(p), _fv(g), real, group)
                    state = real
                else:
                    opt._update(p, g, state, group)
                for key, lst in zip(keys, lists):
                    new = state.get(key)
                    if new is None or lst is None:
                        continue
                    old = given.get(key)
                    if old is None:
                        if i < len(lst):
                            lst[i] = new   # a buffer made by this step (sgd's momentum_buffer_list)
                    elif new is not old:        # replaced, not updated in place: the caller's tensor gets it
                        if old.dtype.is_complex and not new.dtype.is_complex:
                            from ..ops.complex import _fv
                            old = _fv(old)
                        old.copy_(new)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Functional {cls_name}: ``{name}(params, grads, {', '.join(_list_names(name))}, ...)`` "
                  f"updates in place (see ``ttorch.optim._functional``).")
    return fn


def _list_names(name):
    return {"sgd": ["momentum_buffer_list"], "adam": ["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "state_steps"],
            "adamw": ["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "state_steps"],
            "adagrad": ["state_sums", "state_steps"],
            "rmsprop": ["square_avgs", "grad_avgs", "momentum_buffer_list", "state_steps"],
            "adamax": ["exp_avgs", "exp_infs", "state_steps"], "adadelta": ["square_avgs", "acc_deltas", "state_steps"],
            "nadam": ["exp_avgs", "exp_avg_sqs", "mu_products", "state_steps"],
            "radam": ["exp_avgs", "exp_avg_sqs", "state_steps"], "rprop": ["prevs", "step_sizes", "state_steps"],
            "asgd": ["axs", "mus", "etas", "state_steps"]}[name]


adadelta, adagrad, adam, adamax, adamw = (functional(n) for n in ("adadelta", "adagrad", "adam", "adamax", "adamw"))
asgd, nadam, radam, rmsprop, rprop, sgd = (functional(n) for n in ("asgd", "nadam", "radam", "rmsprop", "rprop", "sgd"))
