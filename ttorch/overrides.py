"""``ttorch.overrides``: PyTorch's ``__torch_function__`` protocol, its modes and its helper functions.

A Tensor subclass, or any object whose type defines ``__torch_function__(cls, func, types, args=(), kwargs=None)``,
takes over the ttorch functions, Tensor methods, operators and properties it is passed to; a ``TorchFunctionMode``
entered with ``with`` takes over every call inside, factories included. How the plain-Tensor path stays free of
this is told in ``ttorch/_torch_function.py``.

Differences from PyTorch: ``dtype``, ``device``, ``requires_grad`` and ``grad_fn`` are plain attributes of a ttorch
tensor and do not dispatch. A Tensor method that is also a function is one object in ttorch (``ttorch.Tensor.add
is ttorch.add``), so handlers get the same ``func`` for ``x.add(y)``, ``x + y`` and ``ttorch.add(x, y)``. A duck-typed
object (not a Tensor) passed while no user subclass and no mode exist dispatches only from the elementwise ops
(``add``, ``exp``, ``where``, ``clamp``...); other functions then fail on it as before. A mode's ``types`` hold only the
overriding arguments' types, also for ``nn.functional`` (PyTorch adds ``Tensor`` there). Names resolve as
``'ttorch.add'`` (PyTorch: ``'torch.add'``). ``get_testing_overrides``'s lambdas take ``*args, **kwargs`` rather than
each function's signature; ``enable_reentrant_dispatch`` does nothing (no C++ dispatcher state to restore). A
subclass instance comes back from ``ttorch.save``/``load`` as a plain tensor. Dispatch state is global, not per
thread.
"""
import contextlib
import functools

from . import _torch_function as _tf

__all__ = ["get_ignored_functions", "get_overridable_functions", "get_testing_overrides",
           "get_default_nowrap_functions", "handle_torch_function", "has_torch_function", "TorchFunctionMode",
           "BaseTorchFunctionMode", "is_tensor_like", "is_tensor_method_or_property", "wrap_torch_function",
           "enable_reentrant_dispatch", "redispatch_function", "resolve_name", "has_torch_function_unary",
           "has_torch_function_variadic"]


def _enabled_overloaded(relevant_args):
    st = _tf._state
    if st["disabled"] or st["subclass_disabled"]:
        return []
    return _tf.overloaded_args(relevant_args)


def has_torch_function(relevant_args):
    """Whether a call with ``relevant_args`` dispatches: a mode is on, or one of them (not a plain ``Tensor``)
    has a type that defines ``__torch_function__``."""
    st = _tf._state
    if st["disabled"]:
        return False
    if st["skip_hop"]:      # redispatch_function: this one call goes to the implementation
        st["skip_hop"] = False
        return False
    return bool(_tf._modes) or bool(_enabled_overloaded(relevant_args))


def has_torch_function_unary(obj):
    return has_torch_function((obj,))


def has_torch_function_variadic(*args):
    return has_torch_function(args)


def _get_overloaded_args(relevant_args, get_type_fn=None):
    """The arguments whose types override, subclasses before their bases, then left to right."""
    return _tf.overloaded_args(relevant_args)


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Hand ``public_api(*args, **kwargs)`` to the innermost mode, then to the ``__torch_function__`` of the
    overriding types among ``relevant_args`` until one returns something other than ``NotImplemented``.

    Raises:
        TypeError: when every one of them returned ``NotImplemented``.
    """
    return _tf.handle(public_api, _enabled_overloaded(relevant_args), args, kwargs)


def is_tensor_like(inp):
    """A plain ``Tensor``, or an object that has a ``__torch_function__`` (Tensor subclasses do)."""
    from ._tensor import Tensor
    return type(inp) is Tensor or hasattr(inp, "__torch_function__")


def wrap_torch_function(dispatcher):
    """Decorate a function so that a call whose ``dispatcher(*args, **kwargs)`` arguments override it (or made
    while a mode is on) is handed to ``handle_torch_function``."""
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
    """``'ttorch.add'``-style name of an overridable function (``None`` when it has none); PyTorch writes
    ``'torch.add'``."""
    from ._tensor import Tensor
    name = getattr(f, "__name__", None)
    if name is None:
        return None
    if name == "__get__" and isinstance(getattr(f, "__self__", None), property):
        prop = f.__self__
        for n, v in vars(Tensor).items():
            if v is prop:
                return f"ttorch.Tensor.{n}.__get__"
    for mod in _tf.namespaces():
        prefix = mod.__name__
        v = vars(mod).get(name)
        if v is f:
            return f"{prefix}.{name}"
    v = vars(Tensor).get(name)
    if v is f:
        return f"ttorch.Tensor.{name}"
    module, qual = getattr(f, "__module__", None), getattr(f, "__qualname__", name)
    return f"{module}.{qual}" if module else qual


# ---------------------------------------------------------------------------- modes
class TorchFunctionMode:
    """Overrides every ttorch function, Tensor method and property called inside ``with mode:``: ``mode``'s
    ``__torch_function__(func, types, args=(), kwargs=None)`` gets the call. While it runs, the mode is off, so
    calling ``func(*args, **kwargs)`` reaches the next mode on the stack, then the implementation.

    Example::

        >>> class Log(TorchFunctionMode):
        ...     def __torch_function__(self, func, types, args=(), kwargs=None):
        ...         print(func.__name__)
        ...         return func(*args, **(kwargs or {}))
        >>> with Log():
        ...     _ = ttorch.ones(2) + 1
        ones
        add
    """

    def __init__(self):
        pass

    def __torch_function__(self, func, types, args=(), kwargs=None):
        raise NotImplementedError

    def __enter__(self):
        _push_mode(self)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _pop_mode()

    @classmethod
    def push(cls, *args, **kwargs):
        import warnings
        warnings.warn("`Mode.push()` is no longer necessary and can be replaced with just `with Mode()`", stacklevel=2)
        return cls(*args, **kwargs)


class BaseTorchFunctionMode(TorchFunctionMode):
    """A mode whose handler calls the function: subclass it and override only what you need."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        return func(*args, **kwargs)


def _get_current_function_mode():
    return _tf._modes[-1] if _tf._modes else None


def _get_current_function_mode_stack():
    return list(_tf._modes)


def _len_torch_function_stack():
    return len(_tf._modes)


def _get_function_stack_at(i):
    return _tf._modes[i]


def _push_mode(mode):
    _tf.push_mode(mode)


def _pop_mode():
    return _tf.pop_mode()


_push_on_torch_function_stack = _push_mode
_pop_torch_function_stack = _pop_mode


@contextlib.contextmanager
def _pop_mode_temporarily():
    old = _pop_mode()
    try:
        yield old
    finally:
        _push_mode(old)


def _is_torch_function_mode_enabled():
    return bool(_tf._modes) and not _tf._state["disabled"]


@contextlib.contextmanager
def _enable_torch_function():
    saved = dict(_tf._state)
    _tf._state.update(disabled=0, subclass_disabled=0)
    try:
        yield
    finally:
        _tf._state.update(disabled=saved["disabled"], subclass_disabled=saved["subclass_disabled"])


@contextlib.contextmanager
def enable_reentrant_dispatch():
    """PyTorch restores its dispatcher's Python state here; ttorch dispatches ``__torch_function__`` in Python
    only, with nothing to restore, so this context manager does nothing."""
    yield


def redispatch_function(func, types, args, kwargs):
    """Call ``func`` skipping one level of ``__torch_function__`` dispatch: the call itself goes to the
    implementation, calls made inside it dispatch again."""
    _tf._state["skip_hop"] = True
    try:
        return func(*args, **(kwargs or {}))
    finally:
        _tf._state["skip_hop"] = False


# ---------------------------------------------------------------------------- listings
def get_ignored_functions():
    """The public functions that cannot be overridden with ``__torch_function__`` (they take no tensor or
    describe the library rather than compute)."""
    out = set()
    for mod in _tf.namespaces():
        for name in _tf.IGNORED:
            v = vars(mod).get(name)
            if callable(v):
                out.add(v)
    from ._tensor import Tensor
    for name in ("__new__", "__init_subclass__", "__torch_function__", "as_subclass", "_make_subclass",
                 "new_empty", "new_full", "new_ones", "new_tensor", "new_zeros", "stride", "unflatten", "__hash__",
                 "__iter__", "__dir__"):
        v = getattr(Tensor, name, None)
        if v is not None:
            out.add(v)
    return out


def get_default_nowrap_functions():
    """Functions whose results the default ``Tensor.__torch_function__`` does not convert to the subclass (field
    reads: ``Tensor.grad.__get__``)."""
    from ._tensor import Tensor
    return {Tensor.__dict__["grad"].__get__}


def _tensor_overridables():
    from ._tensor import Tensor
    out = []
    for name in _tf.tensor_names():
        v = Tensor.__dict__[name]
        out.append(v.__get__ if isinstance(v, property) else v)
    return out


def get_overridable_functions():
    """``{namespace: [function, ...]}`` of everything ``__torch_function__`` can override, ``ttorch.Tensor``'s
    methods and property getters under ``ttorch.Tensor``."""
    from ._tensor import Tensor
    out = {}
    for mod, name, _ in _tf.overridable_functions():
        out.setdefault(mod, []).append(getattr(mod, name))
    out[Tensor] = _tensor_overridables()
    return out


def _get_tensor_methods():
    from ._tensor import Tensor
    return set(get_overridable_functions()[Tensor])


def is_tensor_method_or_property(func):
    """Whether ``func`` (as passed to ``__torch_function__``) is a Tensor method or a property's ``__get__``."""
    return func in _get_tensor_methods() or getattr(func, "__name__", None) == "__get__"


def get_testing_overrides():
    """``{function: lambda returning -1}`` for every overridable function, to test a ``__torch_function__``
    implementation against (PyTorch's lambdas repeat each signature; these take ``*args, **kwargs``)."""
    out = {}
    for funcs in get_overridable_functions().values():
        for f in funcs:
            out[f] = lambda *args, **kwargs: -1
    return out
