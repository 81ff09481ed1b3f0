"""``ttorch.overrides``: the explicit half of PyTorch's ``__torch_function__`` protocol.

Library code written against PyTorch asks ``has_torch_function(args)`` and, when an argument's type defines
``__torch_function__``, hands the call to it with ``handle_torch_function(public_api, relevant_args, *args,
**kwargs)``; both work here as in PyTorch, so such functions dispatch user types the same way. Difference from
PyTorch: ttorch's own functions do not consult ``__torch_function__`` (their plain-Tensor path pays nothing for
it), so a ``Tensor`` subclass's override is reached only through code that asks, and there are no
``TorchFunctionMode``s; ``ttorch.Tensor`` defines no ``__torch_function__``, so plain tensors never dispatch.
"""
import functools

__all__ = ["has_torch_function", "has_torch_function_unary", "has_torch_function_variadic", "handle_torch_function",
           "is_tensor_like", "wrap_torch_function", "resolve_name"]


def _overrides(obj):
    return getattr(type(obj), "__torch_function__", None) is not None


def has_torch_function(relevant_args):
    """Whether any of ``relevant_args`` has a type defining ``__torch_function__``."""
    return any(_overrides(a) for a in relevant_args)


def has_torch_function_unary(obj):
    return _overrides(obj)


def has_torch_function_variadic(*args):
    return has_torch_function(args)


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Call ``__torch_function__`` of the overriding types among ``relevant_args`` (subclasses before their
    bases, then in order) until one returns something other than ``NotImplemented``, as PyTorch does."""
    overloaded, types = [], []
    for a in relevant_args:
        t = type(a)
        if _overrides(a) and t not in types:
            i = next((k for k, o in enumerate(types) if issubclass(t, o)), len(types))
            types.insert(i, t)
            overloaded.insert(i, a)
    for a in overloaded:
        result = type(a).__torch_function__(public_api, tuple(types), args, kwargs)
        if result is not NotImplemented:
            return result
    raise TypeError(f"no implementation found for '{resolve_name(public_api)}' on types that implement "
                    f"__torch_function__: {types}")


def is_tensor_like(inp):
    """A ttorch tensor, or an object whose type defines ``__torch_function__``."""
    from ._tensor import Tensor
    return isinstance(inp, Tensor) or getattr(type(inp), "__torch_function__", None) is not None


def wrap_torch_function(dispatcher):
    """Decorate a function so that a call whose ``dispatcher(*args, **kwargs)`` arguments override it is handed
    to ``handle_torch_function``."""
    def inner(func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            relevant = dispatcher(*args, **kwargs)
            if has_torch_function(relevant):
                return handle_torch_function(wrapped, relevant, *args, **kwargs)
            return func(*args, **kwargs)
        return wrapped
    return inner


def resolve_name(f):
    """``'ttorch.add'``-style name of a function (``None`` when it has none)."""
    import ttorch
    name = getattr(f, "__name__", None)
    if name is not None and getattr(ttorch, name, None) is f:
        return f"ttorch.{name}"
    module, qual = getattr(f, "__module__", None), getattr(f, "__qualname__", name)
    return None if qual is None else f"{module}.{qual}" if module else qual
