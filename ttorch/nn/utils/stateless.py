"""Calling a module with other parameters and buffers: ``functional_call`` (PyTorch's older home of
``ttorch.func.functional_call``, deprecated there as here) and the swapping it is built on.

``_reparametrize_module`` puts the given tensors in the modules' ``_parameters``/``_buffers``
dicts for the duration of a ``with`` block (plain tensors, not ``Parameter``\\s: that is what lets
gradients flow to them) and puts the originals back on exit, exceptions included.
"""
import contextlib
import warnings

from ..._tensor import Tensor

__all__ = ["functional_call"]

_MISSING = object()


def _untie_named_tensors_map(module, parameters_and_buffers):
    """Give every name of a tied tensor (one Parameter under several names) the value given for
    any of them; two different values for one tied tensor are an error."""
    all_named = dict(module.named_parameters(remove_duplicate=False))
    all_named.update(module.named_buffers(remove_duplicate=False))
    names_of = {}       # id(tensor) -> every name it has
    for name, t in all_named.items():
        names_of.setdefault(id(t), set()).add(name)
    tied = {n: names for names in names_of.values() if len(names) > 1 for n in names}
    given = {n for n in parameters_and_buffers if n in tied}
    for name in given:
        names = tied[name]
        if len(names & given) > 1 and len({id(parameters_and_buffers[n]) for n in names & given}) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, which are tied. "
                             "Consider using tie_weights=False")
    untied = dict(parameters_and_buffers)
    for name in given:
        for n in tied[name]:
            untied[n] = parameters_and_buffers[name]
    return untied


def _submodule(module, path):
    mod = module
    for attr in path.split(".") if path else ():
        try:
            mod = getattr(mod, attr)
        except AttributeError as ex:
            raise AttributeError(f"{mod._get_name()} has no attribute `{attr}`") from ex
    return mod


def _swap_tensor(module, name, tensor):
    """Put ``tensor`` (``_MISSING``: remove) at the dotted ``name``; returns what was there."""
    prefix, _, attr = name.rpartition(".")
    mod = _submodule(module, prefix)
    if tensor is not _MISSING and tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(f"{tensor} is not an instance of torch.Tensor")
    for store in (mod._parameters, mod._buffers):
        if attr in store:
            orig = store[attr]
            if tensor is _MISSING:
                del store[attr]
            else:
                store[attr] = tensor
            return orig
    orig = getattr(mod, attr) if hasattr(mod, attr) else _MISSING
    if orig is not _MISSING and orig is not None and not isinstance(orig, Tensor):
        raise TypeError(f"attribute `{attr}`: {orig} is not an instance of torch.Tensor")
    if tensor is not _MISSING:
        setattr(mod, attr, tensor)
    elif hasattr(mod, attr):
        delattr(mod, attr)
    return orig


@contextlib.contextmanager
def _reparametrize_module(module, parameters_and_buffers, tie_weights=False, strict=False):
    untied = _untie_named_tensors_map(module, parameters_and_buffers) if tie_weights else parameters_and_buffers
    if strict:
        valid = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        valid |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing, unexpected = sorted(valid - set(untied)), sorted(set(untied) - valid)
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            sep = "\n\t"
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:{sep}{sep.join(msgs)}")
    orig = {}
    try:
        for name, t in untied.items():
            orig[name] = _swap_tensor(module, name, t)
        yield
    finally:
        for name, t in orig.items():
            new = _swap_tensor(module, name, t)
            # a module that replaced a tensor in place of the given one (BatchNorm's running stats
            # are updated in place, so the same object): write the result back, as PyTorch does
            if name in parameters_and_buffers and new is not _MISSING:
                parameters_and_buffers[name] = new


def _functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False):
    kwargs = {} if kwargs is None else kwargs
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrize_module(module, parameters_and_buffers, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False):
    r"""Call ``module`` with the tensors of ``parameters_and_buffers`` (dotted names) in place of its own.

    Deprecated, as in PyTorch: use :func:`ttorch.func.functional_call`, which this calls.

    Args:
        module (nn.Module): the module to call.
        parameters_and_buffers (dict): name -> Tensor; names not given keep the module's own tensors.
        args (Any or tuple): positional arguments (a non-tuple is one argument).
        kwargs (dict): keyword arguments.
        tie_weights (bool): a value given for one name of a tied tensor applies to all its names.
        strict (bool): the names must be exactly the module's parameters and buffers.

    Example::

        >>> import warnings
        >>> from ttorch.nn.utils.stateless import functional_call
        >>> lin = ttorch.nn.Linear(2, 1)
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     functional_call(lin, {"weight": ttorch.ones(1, 2), "bias": ttorch.zeros(1)}, ttorch.ones(2))
        tensor([2.])
    """
    warnings.warn("`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be removed in "
                  "a future version of PyTorch. Please use `torch.func.functional_call` instead which is a drop-in "
                  "replacement.", FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)
