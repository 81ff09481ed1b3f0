"""``ttorch.library``: PyTorch's custom-operator API, for putting one's own kernels (NumPy on cpu, one's own
``@triton.jit`` kernels on cuda) under ttorch's autograd and into ``ttorch.ops.<namespace>.<name>``.

``custom_op``/``triton_op`` make an operator from a typed Python function; ``Library``/``define``/``impl`` do it
from a schema string. ``register_kernel`` adds per-device kernels, ``register_autograd`` the backward formula,
``register_fake`` the metadata function, and ``opcheck`` checks them against sample inputs.

Differences from PyTorch (ttorch has no C++ dispatcher, FakeTensor, ``__torch_dispatch__`` subclasses or graph
capture): a call runs the steps of ``_dispatch.py`` in Python; fake functions run only in ``opcheck``;
``register_torch_dispatch`` takes ``TorchDispatchMode`` classes only; ``wrap_triton`` launches at once; an op made by
``Library.define`` without an autograd registration raises at backward (PyTorch warns there).
"""
import contextlib

from ._custom_op import CustomOpDef, custom_op, triton_op, wrap_triton
from ._dispatch import OPERATORS, _KEYS, resolve
from ._opcheck import OpCheckError, get_ctx, opcheck
from ._ops import OpOverload, OpOverloadPacket
from ._schema import infer_schema

__all__ = ["Library", "define", "impl", "register_kernel", "register_fake", "register_autograd",
           "register_torch_dispatch", "get_ctx", "opcheck", "infer_schema", "custom_op", "triton_op", "wrap_triton",
           "CustomOpDef", "OpCheckError"]

_KINDS = ("DEF", "IMPL", "FRAGMENT")


class Library:
    """A handle for defining operators in namespace ``ns`` (``kind`` "DEF" or "FRAGMENT") or adding kernels to
    them ("IMPL"). ``dispatch_key`` is the default key of ``impl``.

    Example::

        >>> import ttorch
        >>> lib = ttorch.library.Library("doclib", "DEF")
        >>> lib.define("scale(Tensor x, float s) -> Tensor")
        'scale'
        >>> lib.impl("scale", lambda x, s: x * s, "CompositeExplicitAutograd")
        >>> ttorch.ops.doclib.scale(ttorch.ones(2), 3.0).tolist()
        [3.0, 3.0]
    """

    def __init__(self, ns, kind, dispatch_key=""):
        if kind not in _KINDS:
            raise ValueError(f"Unsupported kind: {kind}")
        self.ns, self.kind, self.dispatch_key = ns, kind, dispatch_key
        self._defined = []

    def __repr__(self):
        return f"Library(kind={self.kind}, ns={self.ns}, dispatch_key={self.dispatch_key})>"

    def define(self, schema, alias_analysis="", *, tags=()):
        """Define the operator ``schema`` ("name(Tensor x, ...) -> Tensor") in this namespace; returns its name."""
        if self.kind == "IMPL":
            raise RuntimeError(f"Cannot define an operator in a Library of kind IMPL (namespace {self.ns}): use "
                               "kind DEF or FRAGMENT")
        name = schema.split("(", 1)[0].strip()
        if not name:
            raise RuntimeError(f"Library.define expects a schema that starts with the operator's name, got: "
                               f"{schema!r}")
        name = name.split(".")[0]   # an overload name ("foo.out") is dropped: one overload per operator here
        from ._custom_op import _new_operator
        _new_operator(f"{self.ns}::{name}", schema[schema.index("("):])
        self._defined.append(f"{self.ns}::{name}")
        return name

    def _resolve(self, op_name):
        if isinstance(op_name, (OpOverload, OpOverloadPacket)):
            return op_name._op
        qual = op_name if "::" in op_name else f"{self.ns}::{op_name.split('.')[0]}"
        op = OPERATORS.get(qual)
        if op is None:
            raise RuntimeError(f"Could not find the operator {qual}: define it first (Library.define or "
                               "torch.library.define)")
        return op

    def impl(self, op_name, fn, dispatch_key="", *, with_keyset=False, allow_override=False):
        """Register ``fn`` for ``op_name`` at ``dispatch_key``: "CPU", "CUDA", "CompositeExplicitAutograd" (all
        devices), "CompositeImplicitAutograd" (all devices, differentiated through its ttorch ops), "Autograd"
        (replaces the autograd step) or "Meta" (the fake function)."""
        if with_keyset:
            raise NotImplementedError("Library.impl(..., with_keyset=True): ttorch has no dispatch key sets to pass")
        key = dispatch_key or self.dispatch_key
        slot = _KEYS.get(key)
        if slot is None:
            raise NotImplementedError(f"Library.impl: dispatch key {key!r} has no counterpart in ttorch; use one of "
                                      f"{sorted(k for k in _KEYS if k)}")
        op = self._resolve(op_name)
        if slot == "fake":
            op.fake = fn
        else:
            op.kernels[slot] = fn

    def fallback(self, fn, dispatch_key="", *, with_keyset=False):
        raise NotImplementedError("Library.fallback: ttorch has no dispatcher to install a fallback in")

    def _destroy(self):
        for q in self._defined:
            OPERATORS.pop(q, None)
        self._defined = []


@contextlib.contextmanager
def _scoped_library(*args, **kwargs):
    lib = Library(*args, **kwargs)
    try:
        yield lib
    finally:
        lib._destroy()


_LIBS = {}


def _lib_for(ns, lib):
    if lib is not None:
        return lib
    if ns not in _LIBS:
        _LIBS[ns] = Library(ns, "FRAGMENT")
    return _LIBS[ns]


def define(qualname, schema, *, lib=None, tags=()):
    """Define the operator ``qualname`` ("ns::name") with ``schema`` ("(Tensor x) -> Tensor").

    Example::

        >>> import ttorch
        >>> ttorch.library.define("doclib::sub1", "(Tensor x) -> Tensor")
        >>> ttorch.library.impl("doclib::sub1", "default", lambda x: x - 1)
        >>> ttorch.ops.doclib.sub1(ttorch.ones(1)).tolist()
        [0.0]
    """
    if isinstance(qualname, Library):      # the old form: define(lib, schema) as a decorator
        def wrap(f):
            name = qualname.define(schema)
            qualname.impl(name, f)
            return f
        return wrap
    if "::" not in qualname:
        raise ValueError(f"define(qualname, ...): expected qualname to be instance of str, got {qualname!r} (it "
                         "should look like 'namespace::name')")
    ns, name = qualname.split("::", 1)
    _lib_for(ns, lib).define(name + schema, tags=tags)


def impl(qualname, types, func=None, *, lib=None):
    """Register ``func`` for operator ``qualname`` on device ``types`` ("cpu", "cuda", "default" or a list);
    dispatch keys ("CPU", "CompositeImplicitAutograd", ...) are accepted too. Usable as a decorator."""
    if isinstance(qualname, Library):      # the old form: impl(lib, name, dispatch_key) as a decorator
        def wrap(f):
            qualname.impl(types, f, func or "")
            return f
        return wrap
    keys = [types] if isinstance(types, str) else list(types)

    def register(f):
        op = resolve(qualname)
        lib_ = _lib_for(op.ns, lib)
        for t in keys:
            key = {"default": "CompositeExplicitAutograd", "cpu": "CPU", "cuda": "CUDA"}.get(t, t)
            lib_.impl(op.name, f, key)
        return f
    if func is None:
        return register
    register(func)


def register_kernel(op, device_types, func=None, /, *, lib=None):
    """Register ``func`` as the kernel of ``op`` for ``device_types`` ("cpu", "cuda", a list, or None for all)."""
    target = resolve(op)
    if target.custom is not None:
        return target.custom.register_kernel(device_types, func)
    types = "default" if device_types is None else device_types
    return impl(target.qualname, types, func, lib=lib)


def register_fake(op, func=None, /, *, lib=None, _stacklevel=1, allow_override=False):
    """Register the fake (metadata) function of ``op``; ttorch runs it in ``opcheck`` only (no FakeTensor)."""
    def register(f):
        resolve(op).fake = f
        return f
    return register if func is None else register(func)


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    """Register ``backward(ctx, *grads)`` and ``setup_context(ctx, inputs, output)`` for ``op``.

    Example::

        >>> import ttorch
        >>> @ttorch.library.custom_op("doc::square", mutates_args=())
        ... def square(x: ttorch.Tensor) -> ttorch.Tensor:
        ...     return x * x
        >>> def setup(ctx, inputs, output):
        ...     ctx.save_for_backward(inputs[0])
        >>> def backward(ctx, g):
        ...     x, = ctx.saved_tensors
        ...     return 2 * x * g
        >>> ttorch.library.register_autograd("doc::square", backward, setup_context=setup)
        >>> x = ttorch.tensor([3.0], requires_grad=True)
        >>> square(x).sum().backward(); x.grad.tolist()
        [6.0]
    """
    target = resolve(op)
    if target.custom is not None:
        return target.custom.register_autograd(backward, setup_context=setup_context)
    if target.schema.is_mutable:
        raise RuntimeError(f"Cannot register autograd formula for non-functional operator {target} with schema "
                           f"{target.schema}. Please create a functional operator and register an autograd formula "
                           "for that.")
    target.backward, target.setup_context = backward, setup_context


def register_torch_dispatch(op, torch_dispatch_class, func=None, /, *, lib=None):
    """Register ``func(mode, func, types, args, kwargs)``: what a ``TorchDispatchMode`` of class
    ``torch_dispatch_class`` does with operator ``op``, in place of its ``__torch_dispatch__``. (Tensor
    subclasses with ``__torch_dispatch__``, the other kind of class PyTorch takes, ttorch has none of.)"""
    from ..ops import _aten
    if isinstance(op, (_aten.OpOverload, _aten.OpOverloadPacket)):
        raise NotImplementedError(f"torch.library.register_torch_dispatch: {op} is one of ttorch's own ops; rules are "
                                  "for ttorch.library operators (handle it in the mode's __torch_dispatch__).")
    target = resolve(op)
    from ..utils._python_dispatch import TorchDispatchMode
    if not (isinstance(torch_dispatch_class, type) and issubclass(torch_dispatch_class, TorchDispatchMode)):
        raise NotImplementedError("torch.library.register_torch_dispatch: ttorch has no __torch_dispatch__ tensor "
                                  f"subclasses; a rule is for a TorchDispatchMode class, got {torch_dispatch_class}.")

    def register(fn):
        target.dispatch_rules[torch_dispatch_class] = fn
        return fn
    return register if func is None else register(func)


def _namespace(name):
    """``ttorch.ops.<name>`` (``ttorch/ops/__init__.py`` asks here for names it does not hold itself)."""
    from ._ops import namespace
    return namespace(name)
