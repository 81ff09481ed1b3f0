"""``functional_call`` and ``stack_module_state``: modules as functions of their parameters."""
from collections.abc import Sequence

import ttorch

__all__ = ["functional_call", "stack_module_state"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    r"""Call ``module`` with the given tensors in place of its parameters and buffers.

    The module's own tensors are put back afterwards, also when the call raises. Gradients flow
    to the given tensors, which is what makes ``grad``/``vmap`` of a module possible.

    Args:
        module (nn.Module): the module to call.
        parameter_and_buffer_dicts (dict or sequence of dicts): dotted name -> Tensor; names not
            given keep the module's own tensors. Several dicts must not share keys.
        args (Any or tuple): positional arguments (a non-tuple is one argument).
        kwargs (dict): keyword arguments.
        tie_weights (bool): a value given for one name of a tied tensor applies to all its names.
        strict (bool): the names must be exactly the module's parameters and buffers.

    Example::

        >>> from ttorch.func import functional_call
        >>> lin = ttorch.nn.Linear(2, 1)
        >>> functional_call(lin, {"weight": ttorch.ones(1, 2), "bias": ttorch.zeros(1)}, (ttorch.ones(2),))
        tensor([2.])
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        parameters_and_buffers = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, Sequence):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        counts = {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        parameters_and_buffers = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    from ..nn.utils.stateless import _functional_call
    return _functional_call(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)


def _stacked_leaf(tensors, name):
    all_rg = all(t.requires_grad for t in tensors)
    if not all_rg and any(t.requires_grad for t in tensors):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = ttorch.stack(tensors)
    return result.detach().requires_grad_() if all_rg else result


def stack_module_state(models):
    r"""Stack the parameters and buffers of same-class models along a new first dimension:
    ``(params, buffers)`` dicts to ``vmap`` an ensemble with :func:`functional_call`.

    Example::

        >>> from ttorch.func import stack_module_state
        >>> params, buffers = stack_module_state([ttorch.nn.Linear(3, 2) for _ in range(4)])
        >>> params["weight"].shape
        ttorch.Size([4, 2, 3])
    """
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    all_buffers = [dict(m.named_buffers()) for m in models]
    params = {k: _stacked_leaf([p[k] for p in all_params], k) for k in all_params[0]}
    buffers = {k: _stacked_leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]}
    return params, buffers
