"""``custom_op`` and ``triton_op``: a Python function (often one launching the user's own Triton kernels through
``wrap_triton``) made an operator with a schema, per-device kernels and an autograd formula (``CustomOpDef``).
"""
import contextlib
import logging

from ._dispatch import OPERATORS, _Operator
from ._ops import OpOverload
from ._schema import infer_schema, parse_schema

__all__ = ["CustomOpDef", "custom_op", "triton_op", "wrap_triton"]

log = logging.getLogger(__name__)


def _new_operator(qualname, schema_text):
    if "::" not in qualname:
        raise ValueError(f"Expected the operator name to look like 'namespace::name', got: {qualname!r}")
    ns, name = qualname.split("::", 1)
    op = _Operator(ns, name, schema_text)
    if op.qualname in OPERATORS:
        raise RuntimeError(f"Tried to register an operator ({op.schema}) with the same name and overload name "
                           "multiple times. Each overload's schema should only be registered with a single call to "
                           "def().")
    OPERATORS[op.qualname] = op
    return op


class CustomOpDef:
    """What ``custom_op`` returns: call it like the function it wraps; register more with its methods.

    Differences from PyTorch: ttorch has no FakeTensor or meta tracing (nor ``torch.compile`` graphs), so the
    function ``register_fake`` stores runs only in ``opcheck``, on the real inputs, to check that it predicts
    the shapes, dtypes and devices of the real kernel's outputs. ``register_torch_dispatch`` takes
    ``TorchDispatchMode`` classes only; ``register_vmap`` and ``register_autocast`` have no counterpart and raise
    ``NotImplementedError``.
    """

    def __init__(self, namespace, name, schema, fn):
        self._namespace, self._name, self._init_fn = namespace, name, fn
        self._op = _new_operator(f"{namespace}::{name}", schema)
        self._op.custom = self
        self._schema = schema
        self._opoverload = OpOverload(self._op)
        self.__name__ = getattr(fn, "__name__", name)
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def _qualname(self):
        return f"{self._namespace}::{self._name}"

    @property
    def _backend_fns(self):
        return {(None if k == "default" else k): f for k, f in self._op.kernels.items() if k in ("default", "cpu",
                                                                                                 "cuda")}

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def register_kernel(self, device_types, fn=None, /):
        """Register ``fn`` as the kernel for ``device_types`` ("cpu", "cuda", a list of them, or None for all).

        Example::

            >>> import ttorch
            >>> @ttorch.library.custom_op("doc::twice", mutates_args=())
            ... def twice(x: ttorch.Tensor) -> ttorch.Tensor:
            ...     return x * 2
            >>> @twice.register_kernel("cpu")
            ... def _(x):
            ...     return x + x
            >>> twice(ttorch.ones(2)).tolist()
            [2.0, 2.0]
        """
        types = [device_types] if device_types is None or isinstance(device_types, str) else list(device_types)
        if device_types is not None and not any(a.is_tensor for a in self._op.schema.arguments) and \
                not any(a.type.startswith("Device") for a in self._op.schema.arguments):
            raise ValueError("Functions without tensor inputs are required to have a `device: torch.device` argument")

        def inner(f):
            for t in types:
                if t not in (None, "cpu", "cuda"):
                    raise ValueError(f"ttorch has no device type {t!r}: register kernels for 'cpu' or 'cuda'")
                self._op.kernels["default" if t is None else t] = f
            return f
        return inner if fn is None else inner(fn)

    def register_fake(self, fn, /):
        """Store ``fn``, the function that computes an output's metadata (shape, dtype, device) from the
        inputs'; ttorch runs it only in ``opcheck`` (no FakeTensor tracing here)."""
        self._op.fake = fn
        return fn

    def register_autograd(self, backward, /, *, setup_context=None):
        """Register ``backward(ctx, *grads)`` (one gradient per positional input) and
        ``setup_context(ctx, inputs, output)``, which runs after the forward kernel and saves what backward
        needs (``ctx.save_for_backward``, attributes), as ``autograd.Function`` does."""
        if self._op.schema.is_mutable:
            raise RuntimeError(f"Cannot register autograd formula for non-functional operator {self} with schema "
                               f"{self._op.schema}. Please create a functional operator and register an autograd "
                               "formula for that.")
        self._op.backward, self._op.setup_context = backward, setup_context

    def register_torch_dispatch(self, torch_dispatch_class, fn=None, /):
        """What a ``TorchDispatchMode`` of class ``torch_dispatch_class`` does with this op: ``fn(mode, func,
        types, args, kwargs)`` (see ``ttorch.library.register_torch_dispatch``)."""
        from . import register_torch_dispatch
        return register_torch_dispatch(self, torch_dispatch_class, fn)

    def register_vmap(self, func=None, /):
        raise NotImplementedError(f"{self}.register_vmap: ttorch's vmap does not dispatch to custom operators.")

    def register_autocast(self, device_type, cast_inputs):
        raise NotImplementedError(f"{self}.register_autocast: ttorch's autocast does not dispatch to custom "
                                  "operators; cast the inputs inside the kernel.")

    @contextlib.contextmanager
    def set_kernel_enabled(self, device_type, enabled=True):
        """Within the ``with`` block, turn the kernel for ``device_type`` off (the function given to
        ``custom_op`` runs instead) or back on."""
        action = "enable" if enabled else "disable"
        was_disabled = device_type in self._op.disabled
        if device_type not in self._op.kernels:
            log.warning("Attempted to %s kernel for %s but no kernel was registered for this device type.", action,
                        device_type)
        if enabled:
            self._op.disabled.discard(device_type)
        else:
            self._op.disabled.add(device_type)
        try:
            yield
        finally:
            if was_disabled:
                self._op.disabled.add(device_type)
            else:
                self._op.disabled.discard(device_type)


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    """Make ``fn`` an operator ``name`` ("namespace::name"), callable as ``fn`` and as ``ttorch.ops.namespace.name``.

    Args:
        name (str): "namespace::name".
        mutates_args (iterable of str or "unknown"): the arguments the function writes into; their version
            counters are bumped after each call.
        device_types (str or list of str, optional): the devices ``fn`` serves ("cpu", "cuda"); None: all.
        schema (str, optional): the schema, else inferred from the type hints (``infer_schema``).

    Example::

        >>> import ttorch
        >>> @ttorch.library.custom_op("doc::mul3", mutates_args=())
        ... def mul3(x: ttorch.Tensor) -> ttorch.Tensor:
        ...     return x * 3
        >>> ttorch.ops.doc.mul3(ttorch.ones(2)).tolist()
        [3.0, 3.0]
    """
    def inner(f):
        if schema is None:
            text = infer_schema(f, mutates_args=mutates_args)
        else:
            text = schema
            expected = {a.name for a in parse_schema(schema).arguments if a.mutable}
            if type(mutates_args) is not str and expected != set(mutates_args):
                raise ValueError(f"Attempted to create a custom op with `mutates_args={mutates_args}` and "
                                 f"`schema={schema}. The schema suggests that the op mutates {expected}which is "
                                 "different from what was provided to us in `mutates_args`. Please make these "
                                 "consistent.")
        if "::" not in name:
            raise ValueError(f"Expected the operator name to look like 'namespace::name', got: {name!r}")
        ns, opname = name.split("::", 1)
        parsed = parse_schema(opname + text)
        if any(a.kwarg_only and a.is_tensor for a in parsed.arguments):
            raise NotImplementedError(f"custom_op with kwarg-only Tensor args. Please make your tensors not "
                                      f"kwarg-only. Got: {opname}{text}")
        result = CustomOpDef(ns, opname, text, f)
        result.register_kernel(device_types)(f)
        return result
    return inner if fn is None else inner(fn)


def triton_op(name, fn=None, /, *, mutates_args, schema=None):
    """``custom_op`` for a function that launches Triton kernels (through ``wrap_triton``) and ttorch ops.

    In PyTorch the difference is for ``torch.compile``, which sees into the function; ttorch runs it eagerly,
    so the op is a ``custom_op`` whose kernel serves every device. ``opcheck`` uses the function itself as
    its fake implementation (PyTorch traces it for one).
    """
    def inner(f):
        op = custom_op(name, f, mutates_args=mutates_args, schema=schema)
        op._op.fake = f
        return op
    return inner if fn is None else inner(fn)


class _WrappedKernel:
    """``wrap_triton(kernel)``: ``[grid](*args, **meta)`` launches ``kernel`` with ttorch tensors as pointers."""

    def __init__(self, kernel):
        self.kernel = kernel

    def __getitem__(self, grid):
        def run(*args, **kwargs):
            from ..ops import _launch
            from .._tensor import Tensor
            # arguments given by keyword in parameter order become positional: ttorch's launcher reads
            # tensors (device, host view, fast-path key) from the positional ones
            names = getattr(self.kernel, "arg_names", ())
            args = list(args)
            while len(args) < len(names) and names[len(args)] in kwargs:
                args.append(kwargs.pop(names[len(args)]))
            if _launch.SIMULATED:   # a tensor still passed by keyword needs the interpreter's host view as well
                kwargs = {k: _launch._arg(v) if type(v) is Tensor else v for k, v in kwargs.items()}
            return _launch.launch(self.kernel, grid, *args, **kwargs)
        return run

    def run(self, *args, grid, **kwargs):
        return self[grid](*args, **kwargs)

    def __repr__(self):
        return f"wrap_triton({getattr(self.kernel, 'fn', self.kernel)!r})"


def wrap_triton(triton_kernel, /):
    """Wrap a ``@triton.jit`` (or ``@triton.autotune``) kernel so that ``wrap_triton(k)[grid](x, y, out, n,
    BLOCK=1024)`` launches it on ttorch tensors: on a GPU through ttorch's launcher, on the simulated cuda device
    in Triton's interpreter (which needs a host view of each tensor, which ttorch gives). PyTorch uses it to let
    ``torch.compile`` trace the launch; ttorch launches it at once.
    """
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction
    try:
        from triton.runtime.interpreter import InterpretedFunction
    except ImportError:
        InterpretedFunction = ()
    if isinstance(triton_kernel, (JITFunction, Autotuner, InterpretedFunction)):
        return _WrappedKernel(triton_kernel)
    raise RuntimeError("wrap_triton only works on functions annotated with triton.jit or triton.autotune")
