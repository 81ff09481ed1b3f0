"""What ``ttorch.compile`` returns: a function (or ``OptimizedModule``) that traces on a call, guards the
trace on the inputs, hands it to a backend, and falls back to eager where tracing fails.

Capture is ``ttorch.fx.symbolic_trace`` (PyTorch captures Python bytecode with dynamo): a function or a
module's ``forward`` runs once on Proxies; Python numbers, strings, booleans and None among the arguments
are traced as constants (``concrete_args``), so code may branch on them. A guard key holds each
tensor argument's shape, dtype, device and ``requires_grad``, the other arguments' values, grad mode,
autocast and every submodule's ``training`` flag; a new key traces and compiles again (``dynamic`` is
accepted; every key is specialized). A trace that fails (control flow on a tensor's value, a call the
tracer can't follow) makes that key run eagerly, silently, or raises ``torch._dynamo.exc.Unsupported``
under ``fullgraph=True``.

Differences from PyTorch: no graph breaks (a key runs all-compiled or all-eager); module attributes the
graph reads (``self.eps``) are baked in at trace time, not guarded, and so is a tensor computed from module
state alone (``self.bn.running_mean * 2``: a constant of fx's trace, as in PyTorch's fx; dynamo recomputes
it); a backend's ``example_inputs`` (and its callable's arguments) are all the call's arguments, Python
numbers included (PyTorch's hold tensors); forward hooks on a compiled module, and ``no_grad``/``autocast``
regions inside the traced code, make its calls run eagerly (PyTorch traces them into the graph).
"""
import contextlib
import functools
import inspect
import weakref

from .._tensor import Tensor
from .._inductor.fuse import Compiled as _Capturing
from ..autograd import grad_mode
from ..nn import Module
from ..nn.modules import module as _module
from ..ops import _op
from . import exc

_EAGER_BACKENDS = ("eager", "aot_eager", "cudagraphs", "onnxrt", "openxla", "tvm")
MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_LIVE = weakref.WeakSet()       # every compiled callable, for reset()
_RUN_EAGER = object()


def _eager_backend(gm, example_inputs):
    return gm


def lookup_backend(backend):
    """The compiler function for ``backend`` (a name, or a callable ``backend(gm, example_inputs)``)."""
    if callable(backend):
        return backend
    if backend == "inductor":
        from .._inductor import compile_fx
        return compile_fx
    if backend in _EAGER_BACKENDS:
        return _eager_backend
    raise exc.InvalidBackend(backend)


def _autocast_state():
    from ..amp import autocast_mode as am
    return am._enabled["cpu"], am._enabled["cuda"], am._dtypes["cpu"], am._dtypes["cuda"]


def _arg_key(a):
    if isinstance(a, Tensor):
        return (type(a), a._shape, a.dtype, a.device, a.requires_grad)
    if isinstance(a, (list, tuple)):
        return (type(a),) + tuple(_arg_key(x) for x in a)
    if isinstance(a, dict):
        return (dict,) + tuple((k, _arg_key(v)) for k, v in a.items())
    try:
        hash(a)
        return (type(a), a)
    except TypeError:
        return (type(a), id(a))


class CompiledFunction:
    """``fn`` (or ``module.forward``), compiled per guard key on first use."""

    def __init__(self, fn, backend, fullgraph=False, dynamic=None, module=None):
        self._fn = fn
        self._module = module
        self._backend = lookup_backend(backend)
        self._fullgraph = fullgraph
        self._dynamic = dynamic
        self._cache = {}
        self._mods = list(module.modules()) if module is not None else []
        try:
            self._sig = inspect.signature(module.forward if module is not None else fn)
        except (TypeError, ValueError):
            self._sig = None
        self._simple = self._sig is not None and all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in self._sig.parameters.values())
        self._nparams = len(self._sig.parameters) if self._sig is not None else 0
        if module is None:
            functools.update_wrapper(self, fn, updated=())
        _LIVE.add(self)

    def _eager(self, *args, **kwargs):
        m = self._module
        if m is None:
            return self._fn(*args, **kwargs)
        # an OptimizedModule's original runs with its hooks; Module.compile's (called from _call_impl) without
        return m.forward(*args, **kwargs) if m._compiled_call_impl is self else m(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        m = self._module
        if not self._simple or m is not None and (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                                                   or m._backward_pre_hooks or _module._global_forward_hooks
                                                   or _module._global_forward_pre_hooks):
            # (*args or keyword-only parameters: no placeholders to bind them to; hooks: the traced forward
            # would skip them)
            return self._eager(*args, **kwargs)
        if kwargs or len(args) < self._nparams:
            b = self._sig.bind(*args, **kwargs)
            b.apply_defaults()
            args = b.args
        key = [grad_mode._state["enabled"], _op._autocast is not None and _autocast_state()]
        for a in args:
            key.append((a._shape, a.dtype, a.device, a.requires_grad) if type(a) is Tensor else _arg_key(a))
        if self._mods:
            key.append(tuple(m.training for m in self._mods))
        key = tuple(key)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._compile(args)
        if entry is _RUN_EAGER:
            return self._eager(*args)
        if type(entry) is _Capturing:      # the inductor backend's first call captures; then its graph runs
            out = entry(*args)
            if entry.run is not None:
                self._cache[key] = entry.run.forward if isinstance(entry.run, Module) else entry.run
            return out
        return entry(*args)

    def _compile(self, args):
        from .. import fx
        from . import _compiling
        names = list(self._sig.parameters)
        concrete = {n: a for n, a in zip(names, args) if a is None or type(a) in (bool, int, float, str)}
        try:
            with _compiling(), _modes_watched() as changed:
                gm = fx.symbolic_trace(self._module if self._module is not None else self._fn, concrete)
            if changed:
                raise RuntimeError("grad mode or autocast changed inside the traced code: fx records no such change")
        except Exception as e:
            if self._fullgraph:
                raise exc.Unsupported(f"{type(e).__name__}: {e}") from e
            return _RUN_EAGER
        try:
            compiled = self._backend(gm, list(args))
        except Exception as e:
            raise exc.BackendCompilerFailed(self._backend, e) from e
        if compiled is gm:
            return gm.forward       # (one frame less a call than Module.__call__; a GraphModule has no hooks)
        return compiled if callable(compiled) else gm.forward


@contextlib.contextmanager
def _modes_watched():
    """Note (in the list it yields) where the traced code enters ``no_grad``, ``enable_grad``,
    ``set_grad_enabled``, ``inference_mode`` or ``autocast``: fx's graph would run without them."""
    from ..amp import autocast
    changed = []
    patched = [(grad_mode._Mode, "__enter__"), (grad_mode.set_grad_enabled, "__init__"), (autocast, "__enter__")]
    saved = [(cls, name, cls.__dict__[name]) for cls, name in patched]
    for cls, name, orig in saved:
        def noted(self, *a, _orig=orig, **k):
            changed.append(type(self).__name__)
            return _orig(self, *a, **k)
        setattr(cls, name, noted)
    try:
        yield changed
    finally:
        for cls, name, orig in saved:
            setattr(cls, name, orig)


class OptimizedModule(Module):
    """A compiled module (``ttorch.compile(module)``): ``_orig_mod`` holds the original, so the state_dict's
    keys start with ``_orig_mod.``, as PyTorch's do; other attributes are read from the original."""

    def __init__(self, mod, compiled):
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled"] = compiled

    def forward(self, *args, **kwargs):
        return self.__dict__["_compiled"](*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "_orig_mod":
                raise
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)


def reset():
    """Forget every compiled graph and generated kernel: the next call of each traces again."""
    for c in list(_LIVE):
        c._cache.clear()
    from .._inductor import codegen
    codegen.clear()
