"""The operators that ``ttorch.library`` defines, and how a call of one is dispatched.

PyTorch's dispatcher runs a chain of keys (Autograd, ADInplaceOrView, then the backend: CPU, CUDA, ...). ttorch
has no dispatcher for its own ops (each ``Op`` picks its device in one place), so a library operator runs the same
steps in Python, in order:

1. a ``CompositeImplicitAutograd`` kernel, if one is registered, runs as is: autograd sees the ttorch ops inside;
2. an ``Autograd`` kernel (``Library.impl(..., "Autograd")``) runs instead of the steps below;
3. when grad mode is on and a tensor input requires grad, the call goes through an ``autograd.Function`` whose
   ``setup_context``/``backward`` are those of ``register_autograd`` (with none registered, backward raises, as a
   ``custom_op``'s does in PyTorch);
4. the kernel for the device of the first tensor argument (or of a ``Device`` argument) runs: the one registered
   for ``"cpu"``/``"cuda"`` unless disabled, else the default one (``CompositeExplicitAutograd``);
5. the version counters of the arguments the schema marks ``Tensor(a!)`` are bumped, and a ``custom_op`` kernel
   that returns one of its inputs (or a view of one) raises PyTorch's aliasing error.
"""
import inspect

from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import Function
from ._schema import parse_schema

OPERATORS = {}      # "ns::name" -> _Operator

# Library.impl's dispatch keys -> the slot they fill
_KEYS = {"CPU": "cpu", "CUDA": "cuda", "": "default", "CompositeExplicitAutograd": "default",
         "CompositeImplicitAutograd": "composite", "Autograd": "autograd", "AutogradCPU": "autograd",
         "AutogradCUDA": "autograd", "Meta": "fake"}


class _Operator:
    """One operator: its schema and the functions registered for it."""

    def __init__(self, ns, name, schema_text):
        self.ns, self.name = ns, name
        self.qualname = f"{ns}::{name}"
        self.schema = parse_schema(name + schema_text)     # schema_text: "(Tensor x, ...) -> ..."
        self.schema._text = f"{self.qualname}{self.schema._text[len(self.schema.name):]}"
        self.kernels = {}
        self.disabled = set()
        self.fake = None
        self.backward = self.setup_context = None
        self.custom = None          # the CustomOpDef, for ops made by custom_op (aliasing is checked then)
        self.dispatch_rules = {}    # TorchDispatchMode class -> rule (register_torch_dispatch)
        self._function = None

    def __repr__(self):
        return f"{self.ns}.{self.name}.default"

    # --- the call -----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        values = self.schema.bind(self.qualname, args, kwargs)
        k = self.kernels.get("composite")
        if k is not None:
            return k(*args, **kwargs)
        k = self.kernels.get("autograd")
        if k is not None:
            return k(*args, **kwargs)
        if grad_mode._state["enabled"] and any(t.requires_grad for t in _tensors(values.values())):
            return self._autograd_call(values)
        return self.redispatch(values)

    def _split(self, values):
        pos = [values[a.name] for a in self.schema.arguments if not a.kwarg_only]
        kw = {a.name: values[a.name] for a in self.schema.arguments if a.kwarg_only}
        return pos, kw

    def device_type(self, values):
        for t in _tensors(values.values()):
            return t.device.type
        for a in self.schema.arguments:
            if a.type.startswith("Device") and values[a.name] is not None:
                v = values[a.name]
                return v.split(":")[0] if isinstance(v, str) else v.type
        return None

    def kernel_for(self, dev):
        if dev in self.kernels and dev not in self.disabled:
            return self.kernels[dev]
        if dev in self.kernels and self.custom is not None:    # disabled: the function custom_op was given
            return self.custom._init_fn
        k = self.kernels.get("default")
        if k is None:
            key = (dev or "cpu").upper()
            raise NotImplementedError(
                f"Could not run '{self.qualname}' with arguments from the '{key}' backend. This could be because the "
                f"operator doesn't exist for this backend. '{self.qualname}' is only available for these backends: "
                f"{sorted(k.upper() for k in self.kernels if k in ('cpu', 'cuda'))}.")
        return k

    def redispatch(self, values):
        """Steps 4 and 5: the device's kernel, then the version bumps and the aliasing check."""
        pos, kw = self._split(values)
        fn = self.kernel_for(self.device_type(values))
        from ..ops import _op
        if _op._dispatch_mode is not None:      # a TorchDispatchMode is on (utils/_python_dispatch.py)
            out = _op._dispatch_mode(self, pos, kw)
        else:
            out = fn(*pos, **kw)
        for a in self.schema.arguments:
            if a.mutable:
                for t in _tensors([values[a.name]]):
                    t._bump_version()
        if self.custom is not None and not self.schema.is_mutable:
            _check_aliasing(self.name, fn, values, out)
        return out

    # --- autograd -------------------------------------------------------------------------------
    def _autograd_call(self, values):
        pos, kw = self._split(values)
        flat, spec = _flatten(pos)
        fn = self._function or self._make_function()
        out = fn.apply(*flat, _Meta(spec, kw))
        if self.schema.returns == ["Tensor[]"]:
            return list(out)
        return out

    def _make_function(self):
        op = self

        def forward(ctx, *flat):
            meta = flat[-1]
            args = _unflatten(flat[:-1], meta.spec)
            values = dict(zip([a.name for a in op.schema.arguments if not a.kwarg_only], args))
            values.update(meta.kwargs)
            out = op.redispatch(values)
            if op.setup_context is not None:
                if meta.kwargs:
                    op.setup_context(ctx=ctx, inputs=tuple(args), keyword_only_inputs=meta.kwargs, output=out)
                else:
                    op.setup_context(ctx=ctx, inputs=tuple(args), output=out)
            ctx._library_spec = meta.spec
            return tuple(out) if isinstance(out, list) else out

        def backward(ctx, *grads):
            if op.backward is None:
                raise RuntimeError(f"Trying to backward through {op} but no autograd formula was registered. "
                                   "Please use register_autograd to add one.")
            spec = ctx._library_spec
            full = ctx.needs_input_grad
            ctx.needs_input_grad = tuple(_unflatten(full[:-1], spec))
            try:
                res = op.backward(ctx, *grads)
            finally:
                ctx.needs_input_grad = full
            res = res if isinstance(res, tuple) else (res,)
            if len(res) != len(spec):
                raise RuntimeError(f"function {op.name}Backward returned an incorrect number of gradients "
                                   f"(expected {len(spec)}, got {len(res)})")
            flat = []
            for g, n in zip(res, spec):
                if n is None:
                    flat.append(g)
                else:
                    flat.extend(g if g is not None else [None] * n)
            return (*flat, None)

        name = f"GeneratedBackwardFor_{self.ns}_{self.name}_default"
        self._function = type(name, (Function,), {"forward": staticmethod(forward),
                                                  "backward": staticmethod(backward)})
        return self._function


class _Meta:
    """What the generated Function's last argument carries: the list structure and the keyword-only args."""

    __slots__ = ("spec", "kwargs")

    def __init__(self, spec, kwargs):
        self.spec, self.kwargs = spec, kwargs


def _flatten(args):
    """Tensor lists spread out, so that ``Function.apply`` sees (and tracks) each tensor; ``spec`` keeps
    each argument's list length (None: not a list)."""
    flat, spec = [], []
    for a in args:
        if isinstance(a, (list, tuple)) and any(isinstance(t, Tensor) for t in a):
            flat.extend(a)
            spec.append(len(a))
        else:
            flat.append(a)
            spec.append(None)
    return flat, spec


def _unflatten(flat, spec):
    out, i = [], 0
    for n in spec:
        if n is None:
            out.append(flat[i])
            i += 1
        else:
            out.append(list(flat[i:i + n]))
            i += n
    return out


def _tensors(values):
    for v in values:
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            for t in v:
                if isinstance(t, Tensor):
                    yield t


def _storages(values):
    return {id(t.untyped_storage()) for t in _tensors(values)}


def _check_aliasing(name, fn, values, out):
    """PyTorch's rule for a functional custom op: no output is an input, a view of one, or another output."""
    outs = list(_tensors([out] if isinstance(out, Tensor) else list(out) if isinstance(out, (tuple, list)) else []))
    ins = _storages(values.values())
    seen = set()
    for o in outs:
        s = id(o.untyped_storage())
        if s in ins or s in seen:
            raise RuntimeError(
                f"{name} (with implementation in {inspect.getmodule(fn)}): The output of this custom operator (1) "
                "must not also be an input to this custom operator and (2) may not alias any inputs to this custom "
                "operator or other returns. The most common way to trigger this error is if we have y = "
                "custom_op(x) and y and x are the same Tensor. Please instead return a clone of the offending "
                "output tensor(s) (e.g. return x.clone()) or refactor the custom operator to not return y.")
        seen.add(s)


def lookup(qualname):
    """The operator named ``ns::name`` (or ``ns.name``), else None."""
    return OPERATORS.get(qualname.replace(".", "::", 1) if "::" not in qualname else qualname)


def resolve(op):
    """An ``_Operator`` from what the registration functions accept: a name, a CustomOpDef, an op handle."""
    from ._ops import OpOverload, OpOverloadPacket
    if isinstance(op, str):
        found = lookup(op)
        if found is None:
            raise ValueError(f"Could not find the operator {op}. Please make sure you have already registered the "
                             "operator and (if registered from C++) loaded it via torch.ops.load_library.")
        return found
    if isinstance(op, (OpOverload, OpOverloadPacket)):
        return op._op
    inner = getattr(op, "_op", None)
    if isinstance(inner, _Operator):
        return inner
    raise ValueError(f"register(op): got unexpected type for op: {type(op)}")
