"""Custom differentiable functions: subclass ``Function`` with static ``forward`` and ``backward``.

As in PyTorch, each subclass ``F`` gets a node class ``FBackward``; one instance is made per
``F.apply`` call and is both the ``ctx`` that ``forward``/``backward`` see and the ``grad_fn``
of the outputs. It is an engine ``Node``: the engine runs it like any op's node, so broadcast
reduction, tensor and node hooks, ``retain_graph`` and ``create_graph`` work the same way.
"""
import contextlib
import functools
import inspect
import warnings

from . import grad_mode, forward_ad
from .engine import Node, ERR_BACKWARD_TWICE, edge_of, _sum_to

__all__ = ["FunctionCtx", "BackwardCFunction", "Function", "once_differentiable"]


class FunctionCtx:
    """What ``forward``/``setup_context`` use to hand information to ``backward``."""

    def save_for_backward(self, *tensors):
        """Save tensors (or None) for ``backward``; read them back from ``ctx.saved_tensors``.

        Unpacking checks the version counters: a saved tensor modified in place since makes
        ``backward`` raise.
        """
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        """Save tensors for ``jvp``, which reads them back from ``ctx.saved_tensors``."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        """Mark input tensors that ``forward`` modified in place; they must be returned as outputs."""
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args):
        """Mark outputs that get no gradient: they don't require grad, and ``backward`` still gets
        a (zero) gradient for each of them."""
        self.non_differentiable = args

    def set_materialize_grads(self, value):
        """Whether ``backward`` gets zero tensors (True, default) or None for outputs without a gradient."""
        self.materialize_grads = value


class BackwardCFunction(Node, FunctionCtx):
    """The graph node (and ``ctx``) of one ``Function.apply`` call."""

    _forward_cls = None
    to_save = dirty_tensors = non_differentiable = None
    materialize_grads = True
    needs_input_grad = ()
    _saved = None
    _in_jvp = False

    def __init__(self):
        self._name = type(self).__name__
        self.next_functions = ()
        self._in_meta = self._out_meta = ()
        self._freed = False

    @property
    def _ctx(self):
        # the engine and Tensor hooks keep per-node state (``_hooked_outputs``) on ``_ctx``
        return self

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, checked against in-place changes."""
        if self._in_jvp:
            return tuple(getattr(self, "saved_for_forward", ()))
        if self._freed:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        if self._saved is None:
            return ()
        out = []
        for entry in self._saved:
            if entry is None:
                out.append(None)
                continue
            t, version, output_nr = entry
            if version is None:     # packed by saved-tensor hooks: unpacked at each access, no version check
                t = t.get()
            elif t._version != version:
                from ..ops._op import _version_error
                _version_error(t, version, self._name)
            if output_nr is not None:
                # an output is held detached (no node -> output -> node cycle) and unpacked as an
                # alias whose grad_fn is this node, so a backward that reads it is differentiable
                t = t.detach()
                t.grad_fn, t._output_nr, t.requires_grad = self, output_nr, True
            out.append(t)
        return tuple(out)

    def release(self):
        self._saved = None
        self._freed = True

    def apply(self, grads, create_graph):
        fwd = self._forward_cls
        if self.materialize_grads and any(g is None for g in grads):
            from ..ops.creation import zeros
            grads = [zeros(m[0], dtype=m[1], device=m[2]) if g is None and m is not None else g
                     for g, m in zip(grads, self._out_meta)]
        if fwd.backward is not Function.backward and fwd.vjp is not Function.vjp:
            raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not allowed. "
                               "You should only implement one of them.")
        user_fn = fwd.vjp if fwd.vjp is not Function.vjp else fwd.backward
        res = user_fn(self, *grads)
        return self._check_grads(res if isinstance(res, tuple) else (res,))

    def _check_grads(self, res):
        """Match ``backward``'s results to the forward arguments, as PyTorch validates them."""
        from .._tensor import Tensor
        is_tensor = self._is_tensor_input
        n = len(is_tensor)
        if len(res) > n and all(g is None for g in res[n:]):   # extra Nones are allowed
            res = res[:n]
        if len(res) != n:
            raise RuntimeError(f"function {self._name} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(res)})")
        out = []
        for i, (g, was_tensor) in enumerate(zip(res, is_tensor)):
            if not was_tensor:
                if g is not None:
                    raise RuntimeError(f"function {self._name} returned a gradient different than None at position "
                                       f"{i + 1}, but the corresponding forward input was not a Variable")
                continue
            meta = self._in_meta[len(out)]
            if g is None or meta is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            shape, dtype, device = meta
            if g._shape != shape:
                if not _expandable(shape, g._shape):
                    raise RuntimeError(f"Function {self._name} returned an invalid gradient at index {len(out)} - "
                                       f"got {list(g._shape)} but expected shape compatible with {list(shape)}")
                g = _sum_to(g, shape, self._name)
            if g.device != device:
                raise RuntimeError(f"Function {self._name} returned an invalid gradient at index {len(out)} - "
                                   f"expected device {device} but got {g.device}")
            if g.dtype is not dtype:
                g = g.to(dtype)
            out.append(g)
        return out


def _expandable(shape, to):
    if len(shape) > len(to):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(to)))


def _alias(t):
    """A new tensor object over ``t``'s elements (PyTorch's ``view_as(self)``): an input returned
    as-is gets a fresh output that can take the Function's grad_fn without touching the input."""
    return t._view(t._shape, t.stride(), t._offset)


_SUBCLASS_OPS = None    # ops/_op.py's table of Tensor subclasses (imported on first use: ops imports autograd)


def _subclass_ops():
    global _SUBCLASS_OPS
    from ..ops._op import SUBCLASS_OPS
    _SUBCLASS_OPS = SUBCLASS_OPS
    return SUBCLASS_OPS


class Function:
    r"""Base class for custom autograd operations.

    Subclass it and define static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``
    (or ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``), then call ``apply``.
    ``forward`` runs in no-grad mode; ``backward`` returns one gradient per ``forward`` argument
    (None for non-tensors and for inputs that need none) and, written in ttorch ops, can
    itself be differentiated (``create_graph=True``).

    Example::

        >>> class Exp(Function):
        ...     @staticmethod
        ...     def forward(ctx, i):
        ...         result = i.exp()
        ...         ctx.save_for_backward(result)
        ...         return result
        ...     @staticmethod
        ...     def backward(ctx, grad_output):
        ...         result, = ctx.saved_tensors
        ...         return grad_output * result
        >>> x = ttorch.zeros(2, requires_grad=True)
        >>> Exp.apply(x).sum().backward()
        >>> x.grad
        tensor([1., 1.])
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(cls.__name__ + "Backward", (BackwardCFunction,), {"_forward_cls": cls})

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd functions are all static, "
                      "so you should invoke them on the class itself. Instantiating an autograd function will raise "
                      "an error in a future version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. Please use "
                           "new-style autograd function with static forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args, **kwargs):
        """Compute the outputs (override). Gets ``ctx`` first unless ``setup_context`` is overridden."""
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Save what ``backward`` needs, given ``forward``'s ``inputs`` tuple and ``output`` (optional)."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Return the gradient of each ``forward`` input given one gradient per output (override)."""
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on ``args`` and record the call in the graph."""
        from .._tensor import Tensor
        separate_ctx = cls.setup_context is not Function.setup_context
        if separate_ctx:
            sig = inspect.signature(cls.forward).bind(*args, **kwargs)
            sig.apply_defaults()
            args = sig.args
        if kwargs:      # PyTorch's C apply takes positional arguments only
            raise TypeError("apply() takes no keyword arguments")
        subclasses = _SUBCLASS_OPS or _subclass_ops()
        for a in args:      # (a registered Tensor subclass that runs Functions itself: a DTensor, on global tensors)
            if type(a) in subclasses and hasattr(a, "_function_apply"):
                return a._function_apply(cls, args)
        node = cls._backward_cls()
        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        needs = tuple(t and a.requires_grad for t, a in zip(is_tensor, args))
        node.needs_input_grad = needs
        node._is_tensor_input = is_tensor
        executable = grad_mode._state["enabled"] and any(needs)
        if executable:
            # edges first: an input that forward modifies in place takes this node as grad_fn
            tensors = [a for a, t in zip(args, is_tensor) if t]
            node.next_functions = tuple(edge_of(a) for a in tensors)
            node._in_meta = tuple((a._shape, a.dtype, a.device) if a.requires_grad else None for a in tensors)
        # forward mode: ``forward`` sees no tangents and ``jvp`` gives the outputs theirs; ttorch's own
        # Functions without one (custom backward rules: embedding, checkpoint...) let their forward's
        # ops give them
        dual = forward_ad._token is not None and any(t and forward_ad._tangent(a) is not None
                                                     for a, t in zip(args, is_tensor))
        own = dual and cls.jvp is Function.jvp and cls.__module__.startswith("ttorch.")
        with grad_mode.no_grad(), (forward_ad._suspended() if dual and not own else _NO_LEVEL):
            if separate_ctx:
                output = cls.forward(*args)
                cls.setup_context(node, args, output)
            else:
                output = cls.forward(node, *args)
        raw = output
        output = _wrap_outputs(node, args, output, executable, separate_ctx)
        if own:         # an input returned as is was replaced by an alias: it keeps the input's tangent
            for r, o in zip(raw if isinstance(raw, tuple) else (raw,), output if isinstance(output, tuple) else
                            (output,)):
                if r is not o and isinstance(r, Tensor) and forward_ad._tangent(o) is None:
                    forward_ad._carry(r, o)
        elif dual:
            _forward_tangents(cls, node, args, is_tensor, output)
        return output


Function._backward_cls = type("FunctionBackward", (BackwardCFunction,), {"_forward_cls": Function})
_NO_LEVEL = contextlib.nullcontext()


def _forward_tangents(cls, node, args, is_tensor, output):
    """Give ``output`` the tangents ``cls.jvp`` computes from the inputs' (zeros for a tensor input
    without one, None for other arguments), as PyTorch's custom Function does."""
    from .._tensor import Tensor
    from ..ops.creation import zeros_like
    tangents = []
    for a, t in zip(args, is_tensor):
        tangent = forward_ad._tangent(a) if t else None
        tangents.append(zeros_like(a) if t and tangent is None else tangent)
    node._in_jvp = True
    try:
        with forward_ad._suspended():
            res = cls.jvp(node, *tangents)
    finally:
        node._in_jvp = False
    res = res if isinstance(res, tuple) else (res,)
    outs = output if isinstance(output, tuple) else (output,)
    if len(res) != len(outs):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients (expected {len(outs)} but "
                           f"got {len(res)})")
    for o, t in zip(outs, res):
        if t is not None and isinstance(o, Tensor) and o.dtype.is_floating_point:
            forward_ad._set(o, t)


def _wrap_outputs(node, args, output, executable, separate_ctx=False):
    """Give ``forward``'s outputs their history (PyTorch's ``_wrap_outputs``) and save tensors."""
    from .._tensor import Tensor
    is_tuple = isinstance(output, tuple)
    outs = list(output) if is_tuple else [output]
    inputs = {id(a) for a in args if isinstance(a, Tensor)}
    dirty = node.dirty_tensors or ()
    dirty_ids = {id(t) for t in dirty}
    nondiff = {id(t) for t in node.non_differentiable or ()}
    to_save = node.to_save or ()
    node.dirty_tensors = node.non_differentiable = node.to_save = None     # would hold cycles
    for t in dirty:
        t._bump_version()
    saved_ids = {id(t) for t in to_save} if separate_ctx else ()
    out_ids = set()
    meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            meta.append(None)
            continue
        oid = id(o)
        out_ids.add(oid)
        meta.append((o._shape, o.dtype, o.device))
        is_input, is_modified = oid in inputs, oid in dirty_ids
        if is_input and not is_modified and oid in saved_ids:
            raise RuntimeError("A input that has been returned as-is as output is being saved for backward. This is "
                               "not supported if you override setup_context. You should return and save a view of "
                               "the input instead, e.g. with x.view_as(x) or setup ctx inside the forward function "
                               "itself.")
        if not (executable and oid not in nondiff and (o.dtype.is_floating_point or o.dtype.is_complex)):
            if not o.requires_grad:
                if is_input and not is_modified:
                    outs[i] = _alias(o)
            elif is_input:
                outs[i] = o.detach()
            else:
                o.detach_()
            continue
        if is_modified:
            if o.grad_fn is None and o.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
            if not is_input:
                warnings.warn("Only input Tensors should be given to ctx.mark_dirty(). If a Tensor is not an input, "
                              "there is no need to pass it to mark_dirty().")
            o._grad = o._hooks = None   # the old value's gradient and hooks don't apply to the new one
            o._retains_grad = False
        elif is_input:
            o = outs[i] = _alias(o)
        o.grad_fn, o._output_nr, o.requires_grad = node, i, True
    if any(id(t) not in out_ids for t in dirty):
        raise RuntimeError("Some elements marked as dirty during the forward method were not returned as output. The "
                           "inputs that are modified inplace must all be outputs of the Function.")
    if executable:
        node._out_meta = tuple(meta)
        saved = []
        from ..ops import _op
        hooks = _op._saved_hooks
        for i, t in enumerate(to_save):
            if t is None:
                saved.append(None)
            elif not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
            elif hooks is not None:     # (autograd.graph.saved_tensors_hooks)
                from .graph import _Packed
                saved.append((_Packed(t, hooks), None, t._output_nr if t.grad_fn is node else None))
            elif t.grad_fn is node:
                saved.append((t.detach(), t._version, t._output_nr))
            else:
                saved.append((t, t._version, None))
        node._saved = saved
        from . import anomaly_mode
        if anomaly_mode._state["enabled"] and hasattr(anomaly_mode, "_record"):
            anomaly_mode._record(node)
    return tuple(outs) if is_tuple else outs[0]


class _DelayedError(Node):
    """A node whose backward raises: what ``once_differentiable`` puts on its outputs."""

    def __init__(self, msg, inputs):
        self._name = "DelayedError"
        self.msg = msg
        self.next_functions = tuple(None if t is None else edge_of(t) for t in inputs)
        self._out_meta = tuple(None if t is None else (t._shape, t.dtype, t.device) for t in inputs)
        self._in_meta = self._out_meta
        self._freed = False

    @property
    def _ctx(self):
        return self

    def apply(self, grads, create_graph):
        raise RuntimeError(self.msg)

    def release(self):
        self._freed = True


def once_differentiable(fn):
    """Decorate a ``backward`` that is not itself differentiable: it runs in no-grad mode, and
    differentiating its results (double backward) raises instead of giving wrong gradients."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from .._tensor import Tensor
        with grad_mode.no_grad():
            outputs = fn(ctx, *args)
        if not grad_mode.is_grad_enabled():
            return outputs
        # only an approximation of "the results need a graph": any grad_output requiring grad
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            return outputs
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        fakes = []
        for v in outputs:
            if v is not None:
                v = v.detach()
                v.requires_grad = True
            fakes.append(v)
        err = _DelayedError("trying to differentiate twice a function that was marked with @once_differentiable",
                            fakes)
        res = []
        for i, v in enumerate(fakes):
            if v is not None:
                v = v.detach()
                v.grad_fn, v._output_nr, v.requires_grad = err, i, True
            res.append(v)
        return tuple(res)
    return wrapper
