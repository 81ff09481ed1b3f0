"""The ``__torch_function__`` protocol in ttorch's own functions, Tensor methods, operators and properties.

PyTorch asks on every call whether an argument overrides it (a Tensor subclass, or any object whose type defines
``__torch_function__``) or a ``TorchFunctionMode`` is on. Asking on every call would slow the plain-Tensor path of
every op, so ttorch asks only while something can answer: from the moment a user defines a Tensor subclass
(``Tensor.__init_subclass__``) or enters a mode, every overridable function (the public functions of ``ttorch``,
``nn.functional``, ``linalg``, ``special``, ``fft``, and Tensor's methods, operators and property getters) runs a
trampoline that dispatches (``install``); when the last mode exits and no user subclass is alive, the functions
get their code back (``uninstall``). In between, the elementwise entry points hand a non-Tensor argument defining
``__torch_function__`` (a duck-typed array) to it on their error path (``duck``), which costs nothing before that.

Dispatch is PyTorch's ``handle_torch_function``: the innermost mode (popped while its handler runs), then the
overriding types, subclasses before their bases. The default ``Tensor.__torch_function__`` runs ``func`` under
``DisableTorchFunctionSubclass`` and gives Tensor results the subclass (``_convert``). Whenever dispatch does not
take a call, a user subclass's instances reach the implementation as plain tensors sharing their memory, autograd
node and gradient sink (``call_plain``): ttorch's implementations test ``type(x) is Tensor``.
"""
import inspect
import types
import weakref

from . import _dtype as D
from ._device import device
from ._tensor import Tensor, Size

_NO = NO = object()     # "nothing dispatched": call the implementation
_modes = []             # the TorchFunctionMode stack, innermost last
_state = {"disabled": 0, "subclass_disabled": 0, "skip_hop": False}
_user_types = weakref.WeakSet()     # user Tensor subclasses (their instances are unwrapped for the implementation)
_overrides_cache = {}   # type -> whether its instances dispatch
_PLAIN = {int, float, bool, complex, str, type(None), slice, type(Ellipsis), Tensor, Size, D.dtype, device}


def _disabled_torch_function_impl(func, types, args=(), kwargs=None):
    """``__torch_function__ = _disabled_torch_function_impl`` opts a class out of the protocol: its instances
    behave as plain tensors and results stay plain (PyTorch's ``torch._C._disabled_torch_function_impl``)."""
    with DisableTorchFunctionSubclass():
        return func(*args, **(kwargs or {}))


class DisableTorchFunctionSubclass:
    """Context manager: inside, Tensor subclasses and duck-typed objects do not dispatch (modes still do)."""

    def __enter__(self):
        _state["subclass_disabled"] += 1
        return self

    def __exit__(self, *exc):
        _state["subclass_disabled"] -= 1


class DisableTorchFunction:
    """Context manager: inside, nothing dispatches to ``__torch_function__``, neither modes nor subclasses."""

    def __enter__(self):
        _state["disabled"] += 1
        return self

    def __exit__(self, *exc):
        _state["disabled"] -= 1


def overrides_type(t):
    """Whether instances of ``t`` dispatch: a non-Tensor type with a ``__torch_function__``, or a user Tensor
    subclass whose ``__torch_function__`` is not the disabled one. ttorch's own subclasses never dispatch."""
    r = _overrides_cache.get(t)
    if r is None:
        tf = getattr(t, "__torch_function__", None)
        tf = getattr(tf, "__func__", tf)
        if tf is None or tf is _disabled_torch_function_impl:
            r = False
        else:
            r = t in _user_types if issubclass(t, Tensor) else True
        _overrides_cache[t] = r
    return r


def _add(found, a):
    t = type(a)
    if found is None:
        return [a]
    if all(type(o) is not t for o in found):
        # subclasses before their bases, otherwise left to right (PyTorch's _get_overloaded_args)
        i = next((k for k, o in enumerate(found) if issubclass(t, type(o))), len(found))
        found.insert(i, a)
    return found


def overloaded_args(args, kwargs=None):
    """The arguments (and the tensors in list/tuple arguments) that dispatch, in PyTorch's order."""
    found = None
    for seq in (args, () if not kwargs else kwargs.values()):
        for a in seq:
            t = type(a)
            if t in _PLAIN:
                continue
            if t is list or t is tuple:
                for b in a:
                    if type(b) not in _PLAIN and overrides_type(type(b)):
                        found = _add(found, b)
            elif overrides_type(t):
                found = _add(found, a)
    return found or []


def dispatch(func, args, kwargs):
    """``func``'s result from a mode or an overriding argument, or ``_NO`` when nothing takes the call."""
    st = _state
    if st["disabled"]:
        return _NO
    if st["skip_hop"]:          # redispatch_function: this one call goes to the implementation
        st["skip_hop"] = False
        return _NO
    over = overloaded_args(args, kwargs) if not st["subclass_disabled"] else []
    if not over and not _modes:
        return _NO
    return handle(func, over, args, kwargs, True)


def handle(func, overloaded, args, kwargs, native=False):
    """PyTorch's ``handle_torch_function`` given the overloaded arguments: the innermost mode (popped while its
    handler runs), then each overriding type until one returns something other than ``NotImplemented``."""
    types = tuple(type(a) for a in overloaded)
    if _modes and not _state["disabled"]:
        mode = _modes.pop()
        try:
            r = mode.__torch_function__(func, types, args, kwargs)
        finally:
            _modes.append(mode)
        if r is not NotImplemented:
            return r
    for a in overloaded:
        r = type(a).__torch_function__(func, types, args, kwargs)
        if r is not NotImplemented:
            return r
    from .overrides import resolve_name
    if native:      # PyTorch's message for its C++ functions and methods (ttorch's own)
        lines = ([f"  - mode object {_modes[-1]}"] if _modes else []) + [f"  - tensor subclass {type(a)}"
                                                                          for a in overloaded]
        raise TypeError(f"Multiple dispatch failed for '{resolve_name(func)}'; all __torch_function__ handlers "
                        "returned NotImplemented:\n\n" + "\n".join(lines) +
                        "\n\nFor more information, try re-running with TORCH_LOGS=not_implemented")
    msg = (f"no implementation found for '{resolve_name(func)}' on types that implement __torch_function__: "
           f"{[type(a) for a in overloaded]}")
    if _modes:
        msg += f" nor in mode {_modes[-1]}"
    raise TypeError(msg)


def duck(name, args, kwargs):
    """An elementwise entry point's error path: ``ttorch.<name>``'s result from an argument whose type defines
    ``__torch_function__`` (a duck-typed array), or ``_NO``."""
    import ttorch
    func = getattr(ttorch, name, None)
    if func is None or not any(type(a) not in _PLAIN and overrides_type(type(a)) for a in args):
        return _NO
    return dispatch(func, args, {k: v for k, v in kwargs.items() if v is not None})


# ---------------------------------------------------------------------------- user subclass instances
def _plain(t, keep=None):
    """A plain Tensor sharing ``t``'s memory, autograd node and gradient sink (a leaf's AccumulateGrad, made
    here and held in ``keep`` until the call's graph holds it, so that gradients reaching the alias land in
    ``t.grad``)."""
    if t.requires_grad and t.grad_fn is None and not t._grad_via_base:
        from .autograd.engine import grad_accumulator
        node = grad_accumulator(t)
        if keep is not None:
            keep.append(node)
    p = Tensor.__new__(Tensor)
    p.__dict__.update(t.__dict__)
    return p


def _is_user(a):
    return type(a) in _user_types


def call_plain(impl, args, kwargs):
    """``impl(*args, **kwargs)`` with user subclass instances (also in list/tuple arguments) replaced by plain
    aliases; what the call changed on an alias (in-place ops: autograd node, version, shape) is copied back, and
    an alias returned (``x.add_(1)`` returns ``x``) is its instance again."""
    pairs = None
    for a in args:
        if type(a) in _user_types or (type(a) is list or type(a) is tuple) and any(map(_is_user, a)):
            pairs = []
            break
    if pairs is None and kwargs:
        if any(type(v) in _user_types for v in kwargs.values()):
            pairs = []
    if pairs is None:
        return impl(*args, **kwargs)
    nodes = []      # the leaves' gradient sinks, alive while the call records its graph

    def unwrap(a):
        if type(a) in _user_types:
            p = _plain(a, nodes)
            pairs.append((a, p))
            return p
        if type(a) is list or type(a) is tuple:
            return type(a)(unwrap(b) for b in a) if any(map(_is_user, a)) else a
        return a
    args = tuple(unwrap(a) for a in args)
    kwargs = {k: unwrap(v) for k, v in kwargs.items()}
    try:
        ret = impl(*args, **kwargs)
    finally:
        for orig, p in pairs:
            orig.__dict__.update(p.__dict__)
    back = {id(p): orig for orig, p in pairs}
    if id(ret) in back:
        return back[id(ret)]
    if type(ret) is tuple and any(id(r) in back for r in ret):
        return tuple(back.get(id(r), r) for r in ret)
    return ret


def _convert(ret, cls, args=()):
    """Tensor results of ``func`` as ``cls`` instances (PyTorch's ``torch._tensor._convert``). A fresh result
    becomes one in place; one that is also an argument, or one a property returns, gets a ``cls`` alias."""
    if cls is Tensor:
        return ret
    if isinstance(ret, Tensor):
        if isinstance(ret, cls):
            return ret
        if type(ret) is not Tensor or any(ret is a for a in args):
            ret = _plain(ret)       # an alias
        ret.__class__ = cls
        return ret
    if type(ret) is tuple or type(ret) is list:
        return type(ret)(_convert(r, cls, args) for r in ret)
    if isinstance(ret, tuple) and hasattr(ret, "_fields"):      # return_types namedtuples (max, sort...)
        return type(ret)(*(_convert(r, cls, args) for r in ret))
    return ret


def tensor_torch_function(cls, func, types, args=(), kwargs=None):
    """``Tensor.__torch_function__``: run ``func`` with subclasses disabled and give Tensor results the subclass
    ``cls``, unless some type in ``types`` is not a base of ``cls`` (``NotImplemented``) or ``func`` returns a
    stored field (``get_default_nowrap_functions``: ``grad``)."""
    if kwargs is None:
        kwargs = {}
    if not all(issubclass(cls, t) for t in types):
        return NotImplemented
    with DisableTorchFunctionSubclass():
        # (plain aliases of the arguments: ttorch's implementations test ``type(x) is Tensor``)
        ret = call_plain(func, args, kwargs)
    if getattr(func, "__name__", None) == "__get__":
        if func == Tensor.__dict__["grad"].__get__:     # a stored field (get_default_nowrap_functions)
            return ret
        return _convert(ret, cls, (ret,))   # a property's value may be stored on the tensor: alias it
    if type(ret) is str and ret.startswith("tensor(") and (func is Tensor.__repr__ or func is Tensor.__format__):
        return _renamed(ret, cls.__name__)
    return _convert(ret, cls, args)


def _renamed(text, name):
    """``repr`` of a subclass instance: PyTorch prints ``MyTensor([...])``, its rows aligned under the name."""
    lines = text.split("\n")
    pad = " " * (len(name) + 1)
    return "\n".join([name + lines[0][6:]] + [pad + ln[7:] if ln.startswith(" " * 7) else ln for ln in lines[1:]])


def make_subclass(cls, data, require_grad=False, *args, **kwargs):
    """``Tensor._make_subclass(cls, data, require_grad=False)``: a ``cls`` instance sharing ``data``'s memory,
    detached, with ``requires_grad=require_grad`` (the usual body of a subclass's ``__new__``)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not possible. "
                        "Make sure your class inherits from Tensor.")
    if not isinstance(data, Tensor):
        raise TypeError(f"_make_subclass(): argument 'data' (position 2) must be Tensor, not {type(data).__name__}")
    t = data.detach()
    t.__class__ = cls
    if require_grad:
        t.requires_grad_(True)
    return t


def _subclass_new(cls, *args, **kwargs):
    """``MyTensor(data)`` for a subclass without its own ``__new__``: PyTorch's legacy constructor (a list or
    scalars: a default-dtype tensor; ints: an uninitialized one of that size; a Tensor: an alias in its graph)."""
    import ttorch
    if len(args) == 1 and isinstance(args[0], Tensor):
        return Tensor.as_subclass(args[0], cls)        # an alias, staying in the graph
    if args and all(type(a) is int for a in args):
        t = ttorch.empty(*args, **kwargs)
    elif len(args) == 1 and isinstance(args[0], (tuple, list)) or not args:
        t = ttorch.tensor(list(args[0]) if args else [], dtype=kwargs.get("dtype") or ttorch.get_default_dtype(),
                          device=kwargs.get("device"))
    else:
        raise TypeError(f"{cls.__name__}(): new(): invalid data type '{type(args[0]).__name__}'")
    return make_subclass(cls, t)


# ---------------------------------------------------------------------------- turning dispatch on
# While something can dispatch, each overridable function (the namespaces' and Tensor's methods, operators and
# property getters) runs a trampoline: its ``__code__`` is swapped for one that hands the call to its ``_entry``,
# which dispatches or runs the original code (a copy of the function). The function object stays the same, so
# ``func is ttorch.add`` holds in handlers, references taken earlier (``from ttorch import add``, dicts of handled
# functions, fx graphs) dispatch too, and turning it off restores the code: the plain path pays nothing.
_live = {"classes": 0}      # user subclasses alive (their registration in ops' SUBCLASS_OPS keeps them so)
_installed = []             # while on: the swaps made (see _plan_swap)
_plan = None
_TRAMPOLINES = {}           # number of free variables -> trampoline code
_MISSING = object()
# Tensor attributes PyTorch does not dispatch (get_ignored_functions) or that must stay undisturbed
_TENSOR_IGNORED = {"__new__", "__init__", "__init_subclass__", "__torch_function__", "__hash__", "__dir__",
                   "__iter__", "__delitem__", "__getattribute__", "__setattr__", "__getattr__", "__class__",
                   "__reduce_ex__", "__reduce__", "__getstate__", "__setstate__", "__sizeof__", "__subclasshook__",
                   "__weakref__", "__dict__", "__module__", "__doc__", "__copy__", "as_subclass", "_make_subclass",
                   "new", "new_empty", "new_empty_strided", "new_full", "new_ones", "new_tensor", "new_zeros",
                   "stride", "unflatten", "to_sparse_coo", "to_sparse_csr", "to_sparse_csc", "to_sparse_bsr",
                   "to_sparse_bsc"}
# operators PyTorch hands to __torch_function__ as the method they alias (``m + 1``: ``Tensor.add``)
_OPERATOR_FUNC = {"__add__": "add", "__radd__": "add", "__iadd__": "add_", "__mul__": "mul", "__rmul__": "mul",
                  "__imul__": "mul_", "__sub__": "sub", "__isub__": "sub_", "__truediv__": "div",
                  "__itruediv__": "div_", "__mod__": "remainder", "__ne__": "ne", "__lt__": "lt", "__le__": "le",
                  "__gt__": "gt", "__ge__": "ge", "__matmul__": "matmul", "__abs__": "abs", "__neg__": "neg",
                  "__pow__": "pow"}
# namespace functions that take no tensor or describe the library (PyTorch's get_ignored_functions, less the
# factories, which modes see)
IGNORED = {"are_deterministic_algorithms_enabled", "broadcast_shapes", "can_cast", "clear_autocast_cache", "compile",
           "cond", "get_autocast_cpu_dtype", "get_autocast_dtype", "get_autocast_gpu_dtype", "get_default_device",
           "get_default_dtype", "get_deterministic_debug_mode", "get_device_module", "get_float32_matmul_precision",
           "get_num_interop_threads", "get_num_threads", "get_rng_state", "init_num_threads", "initial_seed",
           "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_autocast_cache_enabled",
           "is_autocast_cpu_enabled", "is_autocast_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "is_grad_enabled", "is_inference_mode_enabled", "is_storage", "is_tensor", "is_warn_always_enabled",
           "load", "manual_seed", "promote_types", "result_type", "save", "seed", "set_anomaly_enabled",
           "set_autocast_cache_enabled", "set_autocast_cpu_dtype", "set_autocast_cpu_enabled", "set_autocast_dtype",
           "set_autocast_enabled", "set_autocast_gpu_dtype", "set_default_device", "set_default_tensor_type",
           "set_default_dtype", "set_deterministic_debug_mode", "set_float32_matmul_precision", "set_flush_denormal",
           "set_grad_enabled", "set_num_interop_threads", "set_num_threads", "set_printoptions", "set_rng_state",
           "set_warn_always", "typename", "use_deterministic_algorithms", "vmap", "has_torch_function",
           "has_torch_function_unary", "has_torch_function_variadic", "handle_torch_function", "boolean_dispatch",
           "assert_int_or_pair", "fork", "wait", "finfo", "iinfo", "is_autocast_available", "get_device",
           "is_floating_point", "is_complex", "is_nonzero", "numel", "from_dlpack", "to_dlpack"}


def namespaces():
    import ttorch
    import ttorch.nn.functional as F
    return [ttorch, F, ttorch.linalg, ttorch.special, ttorch.fft]


def overridable_functions():
    """[(namespace module, name, function)] of the public functions that dispatch."""
    out = []
    for mod in namespaces():
        for name, fn in list(vars(mod).items()):
            if not name.startswith("_") and name not in IGNORED and inspect.isfunction(fn):
                out.append((mod, name, fn))
    return out


def tensor_names():
    """Names of Tensor's overridable methods, operators and properties."""
    return [name for name, v in vars(Tensor).items()
            if name not in _TENSOR_IGNORED and (not name.startswith("_") or name[:2] == "__" == name[-2:])
            and (inspect.isfunction(v) or isinstance(v, property) and inspect.isfunction(v.fget))]


def _entry(func, prop, impl):
    """Where a trampoline hands its call: ``func`` is what __torch_function__ gets (the function itself, or the
    method an operator aliases; for a property getter ``prop.__get__``), ``impl`` the original code as a function.
    (A closure, not an object with ``__call__``: one call less per op while dispatch is on.)"""
    def entry(args, kwargs):
        if not _modes:      # the common call while a subclass exists: plain tensors and numbers only
            for a in args:
                t = type(a)
                if t not in _PLAIN and not ((t is list or t is tuple) and all(type(b) in _PLAIN for b in a)):
                    break
            else:
                if not kwargs or all(type(v) in _PLAIN for v in kwargs.values()):
                    return impl(*args, **kwargs)
        r = dispatch(func if prop is None else prop.__get__, args, kwargs)
        if r is not _NO:
            return r
        return call_plain(impl, args, kwargs)
    return entry


def _trampoline(nfree):
    """Code of ``(*args, _tf_entry, **kwargs) -> _tf_entry(args, kwargs)`` with ``nfree`` (unused) free variables:
    a function's new code must have as many as its closure has cells."""
    code = _TRAMPOLINES.get(nfree)
    if code is None:
        cells = [f"_c{i}" for i in range(nfree)]
        src = "def outer():\n" + "".join(f"    {c} = None\n" for c in cells)
        src += "    def trampoline(*args, _tf_entry=None, **kwargs):\n"
        if cells:
            src += f"        if _tf_entry is None:\n            return ({', '.join(cells)},)\n"
        src += "        return _tf_entry(args, kwargs)\n    return trampoline\n"
        ns = {}
        exec(compile(src, "<ttorch __torch_function__ trampoline>", "exec"), ns)
        code = _TRAMPOLINES[nfree] = ns["outer"]().__code__
    return code


def _plan_swap(f, func, prop=None):
    impl = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    impl.__kwdefaults__, impl.__qualname__, impl.__module__ = f.__kwdefaults__, f.__qualname__, f.__module__
    # (function, its code, defaults, kwdefaults, __wrapped__; the trampoline's code, kwdefaults, impl)
    return (f, f.__code__, f.__defaults__, f.__kwdefaults__, f.__dict__.get("__wrapped__", _MISSING),
            _trampoline(len(f.__code__.co_freevars)), {"_tf_entry": _entry(func, prop, impl)}, impl)


def _make_plan():
    """What ``install`` swaps, made once (entering a mode then costs a few attribute writes per function)."""
    plan, seen = [], set()
    for _, _, fn in overridable_functions():
        if id(fn) not in seen:
            seen.add(id(fn))
            plan.append(_plan_swap(fn, fn))
    tdict = Tensor.__dict__
    for name in tensor_names():
        v = tdict[name]
        f = v.fget if isinstance(v, property) else v
        if id(f) not in seen:
            seen.add(id(f))
            plan.append(_plan_swap(f, None, v) if isinstance(v, property)
                        else _plan_swap(f, tdict.get(_OPERATOR_FUNC.get(name), v)))
    return plan


def install():
    """Turn dispatch on: swap the code of every overridable function for its trampoline."""
    global _plan
    if _installed:
        return
    if _plan is None:
        _plan = _make_plan()
    for item in _plan:
        f, tramp, kwdefaults, impl = item[0], item[5], item[6], item[7]
        f.__code__ = tramp
        f.__defaults__ = None
        f.__kwdefaults__ = kwdefaults
        f.__wrapped__ = impl        # inspect.signature and help() read the original
    _installed.extend(_plan)


def uninstall():
    """Turn dispatch off when nothing needs it: no mode on and no user subclass alive."""
    if _modes or _live["classes"] or not _installed:
        return
    for f, code, defaults, kwdefaults, wrapped, _, _, _ in _installed:
        f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
        if wrapped is _MISSING:
            del f.__wrapped__
        else:
            f.__wrapped__ = wrapped
    _installed.clear()


def _class_gone():
    _live["classes"] -= 1
    _overrides_cache.clear()
    uninstall()


def register_subclass(cls):
    """``Tensor.__init_subclass__`` for a class defined outside ttorch: turns dispatch on, lets ops take its
    instances, and gives it PyTorch's ``cls(data)`` constructor unless it defines ``__new__``."""
    from .ops import _op
    from ._tensor_more import _plain_subclass_op
    if any(issubclass(b, Tensor) and b is not Tensor and b is not _SubclassBase and b not in _user_types
           for b in cls.__mro__[1:]):
        return      # derived from one of ttorch's own subclasses (Parameter...): keeps their behaviour
    _user_types.add(cls)
    _live["classes"] += 1
    weakref.finalize(cls, _class_gone).atexit = False
    _overrides_cache.clear()
    _op.SUBCLASS_OPS.setdefault(cls, _plain_subclass_op)
    if Tensor in cls.__bases__:
        # ``super().__new__(cls, data)`` in the class's own ``__new__`` (PyTorch's legacy constructor) must reach
        # a ``__new__`` that takes data; Tensor's own is object's, which keeps making tensors cheap
        cls.__bases__ = tuple(_SubclassBase if b is Tensor else b for b in cls.__bases__)
    install()


class _SubclassBase(Tensor):
    """The base a user's direct Tensor subclass gets in place of ``Tensor``: ``cls(data)`` and
    ``super().__new__(cls, data)`` build an instance as PyTorch's ``Tensor.__new__`` does."""

    def __new__(cls, *args, **kwargs):
        return _subclass_new(cls, *args, **kwargs)


def push_mode(mode):
    _modes.append(mode)
    install()


def pop_mode():
    if not _modes:
        raise RuntimeError("Trying to pop from an empty mode stack")
    m = _modes.pop()
    uninstall()
    return m


Tensor.__torch_function__ = classmethod(tensor_torch_function)
Tensor._make_subclass = staticmethod(make_subclass)
