"""Symbolic tracing by patching (PyTorch's ``torch.fx._symbolic_trace``).

PyTorch's Proxy is a ``__torch_function__`` object; ttorch's tracer predates that protocol here
(``ttorch/_torch_function.py``) and keeps its own mechanism: while ``Tracer.trace`` runs
the public functions of ``ttorch`` and ``ttorch.nn.functional`` are replaced by wrappers that record a
``call_function`` node when an argument (nested in lists, tuples, dicts) is a Proxy and call the original
otherwise; ``nn.Module.__call__``/``__getattr__`` are patched to record leaf modules and parameters. Every
name is restored afterwards, also on error; the patch is process-wide while a trace runs (trace from one
thread at a time). Names that the traced modules' own globals bind to these functions
(``from ttorch.nn.functional import relu``) are patched too.

Differences from PyTorch: a function reached another way (a private ttorch helper, ``ttorch.ops.movement.cat``,
or a public one called from inside another library) is traced through, not recorded, and fails when it
computes on a Proxy; so does a method of a real tensor given a Proxy (``const.add(proxy)``; the operators,
``const + proxy``, are recorded). A call is recorded as written: PyTorch's Python ``F`` functions add some of
their defaulted arguments as kwargs (``relu(x, inplace = False)``), ttorch's do not. A ``concrete_args`` guard
calls ``torch.fx._symbolic_trace._assert`` (PyTorch: ``torch._assert``, which ttorch lacks).
"""
import builtins
import functools
import inspect
import math
import sys
import warnings

from .graph import Graph
from .node import map_aggregate
from .proxy import Proxy, TraceError, _has_proxy

# names whose result describes the Python object rather than a computation: never recorded
_NOT_RECORDED = {"is_tensor", "is_storage", "typename", "get_device_module", "set_printoptions", "compile",
                 "save", "load", "manual_seed", "seed", "set_default_dtype", "set_default_device"}
_table = None             # [(namespace dict, name, original, wrapper)], built once
_torch_names = {}         # id(original function) -> "torch.cat" / "torch.nn.functional.relu"
_wrapped_globals = []     # (globals dict, name) registered with fx.wrap
_by_id = {}               # id(original) -> wrapper


def _torch_name(fn):
    _build_table()
    return _torch_names.get(id(fn))


def _assert(condition, message):
    """``torch._assert``: raise AssertionError(message) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def _assert_is_none(value, msg):
    assert value is None, msg


def _record_or_call(orig):
    @functools.wraps(orig)
    def wrapper(*args, **kwargs):
        p = _has_proxy(args, kwargs)
        if p is None:
            return orig(*args, **kwargs)
        return p.tracer.create_proxy("call_function", orig, args, kwargs)
    wrapper.__fx_original__ = orig
    return wrapper


def _build_table():
    global _table
    if _table is not None:
        return _table
    import ttorch
    import ttorch.nn.functional as F
    table, by_id = [], _by_id
    for prefix, mod in (("torch.nn.functional.", F), ("torch.", ttorch)):
        for name, fn in list(vars(mod).items()):
            if name.startswith("_") or name in _NOT_RECORDED or not inspect.isfunction(fn):
                continue
            if prefix == "torch." or fn.__module__.startswith("ttorch.nn"):
                _torch_names.setdefault(id(fn), prefix + name)
            else:
                _torch_names.setdefault(id(fn), "torch." + name)
            w = by_id.get(id(fn)) or by_id.setdefault(id(fn), _record_or_call(fn))
            table.append((vars(mod), name, fn, w))
    _torch_names[id(_assert)] = "torch.fx._symbolic_trace._assert"
    _torch_names[id(_assert_is_none)] = "torch.fx._symbolic_trace._assert_is_none"
    _table = table
    return table


def wrap(fn_or_name):
    """Record calls of a module-level function as ``call_function`` nodes instead of tracing through it.

    Call at module scope: ``fx.wrap("my_fn")`` or ``fx.wrap(my_fn)``; returns its argument.
    """
    if not callable(fn_or_name) and not isinstance(fn_or_name, str):
        raise RuntimeError("Unsupported type for global function! Must be either a callable or string name")
    name = fn_or_name if isinstance(fn_or_name, str) else fn_or_name.__name__
    f = sys._getframe(1)
    if f.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    _wrapped_globals.append((f.f_globals, name))
    return fn_or_name


class _Patcher:
    """Replaces names for the duration of a ``with`` and restores every one of them on exit."""

    def __init__(self):
        self._saved = []
        self.globals_done = []

    def patch(self, d, name, new):
        self._saved.append((d, name, d.get(name, _MISSING)))
        d[name] = new

    def patch_attr(self, obj, name, new):
        self._saved.append((obj, name, obj.__dict__.get(name, _MISSING)))
        setattr(obj, name, new)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for target, name, old in reversed(self._saved):
            if isinstance(target, dict):
                if old is _MISSING:
                    target.pop(name, None)
                else:
                    target[name] = old
            elif old is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)
        self._saved.clear()
        return False


_MISSING = object()


def _patch_globals(patcher, fn_globals):
    """Patch the names of a module's globals that are bound to ttorch functions (``from ttorch import cat``)."""
    if fn_globals is None or any(g is fn_globals for g in patcher.globals_done):
        return
    patcher.globals_done.append(fn_globals)
    for name, v in list(fn_globals.items()):
        w = _by_id.get(id(v))
        if w is not None and v is w.__fx_original__:
            patcher.patch(fn_globals, name, w)


def _patch_functions(patcher, fn_globals=None, autowrap=(), autowrap_modules=()):
    for d, name, orig, w in _build_table():
        if d.get(name) is orig:
            patcher.patch(d, name, w)
    _patch_globals(patcher, fn_globals)
    ids = {id(f) for f in autowrap}
    spaces = [vars(m) for m in autowrap_modules] + ([fn_globals] if fn_globals is not None else [])
    for d, name in _wrapped_globals + [(g, n) for g in spaces for n, v in list(g.items()) if id(v) in ids]:
        fn = d.get(name, getattr(builtins, name, None))    # fx.wrap("len"): a builtin, shadowed meanwhile
        if callable(fn) and not hasattr(fn, "__fx_original__"):
            patcher.patch(d, name, _record_or_call(fn))


class Tracer:
    """Records a module's (or function's) forward as a Graph.

    Args:
        autowrap_modules (tuple): modules whose functions, found in the traced code's globals, are recorded
            (default ``(math,)``).
        autowrap_functions (tuple): functions recorded in the same way.
    """

    def __init__(self, autowrap_modules=(math,), autowrap_functions=()):
        self._autowrap = {id(v): v for m in autowrap_modules for v in vars(m).values() if callable(v)}
        self._autowrap_modules = tuple(autowrap_modules)
        self._autowrap.update({id(f): f for f in autowrap_functions})
        self.graph = None
        self.root = None
        self.tensor_attrs = {}
        self._patcher = None

    # ------------------------------------------------------------------ overridable hooks
    def is_leaf_module(self, m, module_qualified_name):
        """ttorch.nn's own modules (but Sequential) are recorded as ``call_module``; others are traced through."""
        from ..nn import Sequential
        return ((m.__module__.startswith("ttorch.nn") or m.__module__.startswith("ttorch.ao.nn"))
                and not isinstance(m, Sequential))

    def path_of_module(self, mod):
        path = self._module_paths.get(id(mod))
        if path is None:
            raise NameError("module is not installed as a submodule")
        return path

    def call_module(self, m, forward, args, kwargs):
        module_qualified_name = self.path_of_module(m)
        if not self.is_leaf_module(m, module_qualified_name):
            if self._patcher is not None:
                _patch_globals(self._patcher, getattr(type(m).forward, "__globals__", None))
            return forward(*args, **kwargs)
        return self.create_proxy("call_module", module_qualified_name, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        from ..nn import Parameter
        if isinstance(attr_val, Parameter):
            for n, p in self.root.named_parameters():
                if attr_val is p:
                    if n not in parameter_proxy_cache:
                        parameter_proxy_cache[n] = self.create_proxy("get_attr", n, (), {})
                    return parameter_proxy_cache[n]
        return attr_val

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        return self.graph.create_node(kind, target, args, kwargs, name, type_expr)

    def proxy(self, node):
        return Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        args_, kwargs_ = self.create_arg(args), self.create_arg(kwargs)
        node = self.create_node(kind, target, args_, kwargs_, name, type_expr)
        return self.proxy(node) if proxy_factory_fn is None else proxy_factory_fn(node)

    def create_arg(self, a):
        """Turn a value into a graph argument: Proxies to nodes, tensors of the root to ``get_attr``."""
        from .._tensor import Tensor
        from ..nn import Module, Parameter

        def leaf(x):
            if isinstance(x, Proxy):
                return x.node
            if isinstance(x, Tensor):
                if self.root is not None:
                    named = self.root.named_parameters() if isinstance(x, Parameter) else self.root.named_buffers()
                    for n, t in named:
                        if t is x:
                            return self.create_node("get_attr", n, (), {})
                qualname = self.tensor_attrs.get(id(x))
                if qualname is None:
                    i = 0
                    while hasattr(self.root, f"_tensor_constant{i}"):
                        i += 1
                    qualname = f"_tensor_constant{i}"
                    self.tensor_attrs[id(x)] = qualname
                    setattr(self.root, qualname, x)
                return self.create_node("get_attr", qualname, (), {})
            if isinstance(x, Module):
                return self.create_node("get_attr", self.path_of_module(x), (), {})
            if x is None or isinstance(x, (bool, int, float, complex, str, type(Ellipsis), range)) \
                    or callable(x) or type(x).__module__.startswith("ttorch"):
                return x
            raise NotImplementedError(f"argument of type: {type(x)}")
        return map_aggregate(a, leaf)

    def to_bool(self, obj):
        raise TraceError("symbolically traced variables cannot be used as inputs to control flow")

    def iter(self, obj):
        raise TraceError("Proxy object cannot be iterated. This can be attempted when the Proxy is used in a "
                         "loop or as a *args or **kwargs function argument. See the torch.fx docs on "
                         "pytorch.org for a more detailed explanation of what types of control flow can be "
                         "traced, and check out the Proxy docstring for help troubleshooting Proxy iteration "
                         "errors")

    def keys(self, obj):
        from .proxy import Attribute
        return Attribute(obj, "keys")()

    # ------------------------------------------------------------------ tracing
    def trace(self, root, concrete_args=None):
        """Trace ``root`` (a Module or a function) into a new Graph; returns the Graph."""
        from ..nn import Module
        if isinstance(root, Module):
            self.root = root
            fn = type(root).forward
            args_prefix = [root]
        else:
            self.root = Module()
            fn, args_prefix = root, []
        self.graph = Graph(tracer_cls=type(self))
        self._module_paths = {id(m): n for n, m in self.root.named_modules()}
        # tensors kept as plain module attributes are read through get_attr under their own names
        from .._tensor import Tensor
        self.tensor_attrs = {id(v): (f"{n}.{k}" if n else k) for n, m in self.root.named_modules()
                             for k, v in vars(m).items() if isinstance(v, Tensor)}
        concrete_args = dict(concrete_args or {})
        params = list(inspect.signature(fn).parameters.values())[len(args_prefix):]
        call_args, call_kwargs = list(args_prefix), {}
        for p in params:
            if p.name in concrete_args:
                value = self._concrete_placeholder(p, concrete_args[p.name])
            elif p.kind == p.VAR_POSITIONAL:
                value = self.create_proxy("placeholder", "*" + p.name, (), {})
            elif p.kind == p.VAR_KEYWORD:
                value = self.create_proxy("placeholder", "**" + p.name, (), {})
            else:
                default = () if p.default is p.empty else (p.default,)
                value = self.create_proxy("placeholder", p.name, default, {})
            if p.kind == p.KEYWORD_ONLY:
                call_kwargs[p.name] = value
            elif p.kind == p.VAR_KEYWORD:
                call_kwargs.update(value if isinstance(value, dict) else {})
            else:
                call_args.append(value)
        self._run_patched(fn, call_args, call_kwargs)
        return self.graph

    def _concrete_placeholder(self, p, x):
        # PyTorch's specialisation: a placeholder ``name_1`` keeps the signature, a node guards the value
        default = () if p.default is p.empty else (p.default,)
        out = self.create_proxy("placeholder", f"{p.name}_1", default, {})
        msg = f"{p.name} has been specialized to have value {x} but got another value"
        if x is None:
            self.create_proxy("call_function", _assert_is_none, (out, msg), {})
        elif type(x) in (bool, int, float, str, complex):
            self.create_proxy("call_function", _assert, (out == x, msg), {})
        else:
            warnings.warn(f"Was not able to add assertion to guarantee correct input {p.name} to specialized "
                          "function. It is up to the user to make sure that your inputs match the inputs you "
                          "specialized the function with.")
        return x

    def _run_patched(self, fn, call_args, call_kwargs):
        from ..nn import Module
        orig_call, orig_getattr = Module.__call__, Module.__getattr__
        tracer, cache = self, {}

        def module_call(mod, *args, **kwargs):
            def forward(*a, **k):
                return orig_call(mod, *a, **k)
            return tracer.call_module(mod, forward, args, kwargs)

        def module_getattr(mod, attr):
            return tracer.getattr(attr, orig_getattr(mod, attr), cache)

        with _Patcher() as patcher:
            patcher.patch_attr(Module, "__call__", module_call)
            patcher.patch_attr(Module, "__getattr__", module_getattr)
            _patch_functions(patcher, getattr(fn, "__globals__", None), list(self._autowrap.values()),
                             self._autowrap_modules)
            self._patcher = patcher
            try:
                result = fn(*call_args, **call_kwargs)
            finally:
                self._patcher = None
            self.create_proxy("output", "output", (result,), {})


class GraphAppendingTracer(Tracer):
    """The tracer of Proxies made around nodes of an existing graph (``Proxy(node)``)."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.root = None
        self._module_paths = {}


def symbolic_trace(root, concrete_args=None):
    """Trace ``root`` (an ``nn.Module`` or a function) and return a GraphModule.

    Example::

        >>> import ttorch, ttorch.fx as fx
        >>> gm = fx.symbolic_trace(lambda x: ttorch.relu(x) + 1)
        >>> [n.op for n in gm.graph.nodes]
        ['placeholder', 'call_function', 'call_function', 'output']
    """
    from .graph_module import GraphModule
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = root.__class__.__name__ if not inspect.isfunction(root) else root.__name__
    return GraphModule(tracer.root, graph, name)

