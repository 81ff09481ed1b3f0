"""Inspecting and hooking the autograd graph: PyTorch's ``torch.autograd.graph``.

Saved-tensor hooks. Inside ``with saved_tensors_hooks(pack, unpack):`` every tensor a backward
rule saves (an op's inputs and outputs, ``ctx.save_for_backward``) is handed to ``pack`` when it
is saved, and the graph keeps what ``pack`` returns instead of the tensor; ``unpack`` turns it
back into a tensor each time backward reads it (once per node run for ttorch's ops, once per
``ctx.saved_tensors`` access for custom Functions, as in PyTorch). Only the innermost pair
applies. ``save_on_cpu`` is the pair that moves saved cuda tensors to the host. When no pair is
active an op pays one test of a module global (``ops._op._saved_hooks``).

As in PyTorch: ``pack`` runs in no-grad mode; a saved tensor's version counter is not checked
when hooks packed it (the hooks own the value); ``unpack`` must return a tensor.
Differences: an in-place op whose own backward needs the old value of the tensor it overwrites
(``y.mul_(w)``) packs ``y`` and then a copy of its old value (PyTorch packs only the copy); the
order in which one op's saved tensors are packed is its inputs' order (PyTorch's varies per op);
and some ttorch ops save a tensor PyTorch's does not (special functions such as ``i1`` keep their
input beside their output), so they pack more. A saved output's tangent (forward AD) is kept beside
the packed value and given back at unpack, as PyTorch does.
"""
import contextlib
import functools
from typing import NamedTuple, Optional

from . import grad_mode, forward_ad
from .engine import Node, grad_accumulator, _NODE_METADATA, TASKS

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks", "register_multi_grad_hook", "allow_mutation_on_saved_tensors"]

# the pushed (pack, unpack) pairs, innermost last; None entries suspend hooks (ttorch's checkpoint
# does its own saving); ``_disabled``: the error message of ``disable_saved_tensors_hooks``, or None
_stack = []
_disabled = [None]


def _sync():
    from ..ops import _op
    _op._saved_hooks = _stack[-1] if _stack else None


def _push(pair):
    if pair is not None and _disabled[0] is not None:
        raise RuntimeError(_disabled[0])
    _stack.append(pair)
    _sync()


def _pop():
    _stack.pop()
    _sync()


class _Packed:
    """A saved tensor as the pack hook left it; ``get()`` runs the unpack hook."""

    __slots__ = ("packed", "hooks", "src", "fw")

    def __init__(self, t, hooks):
        self.hooks = hooks
        with grad_mode.no_grad():
            self.packed = hooks[0](t)
        self.src = id(t)    # only compared while ``t`` is alive (``inplace._keep_original``)
        # forward AD: the tangent is kept beside the packed value and given back at unpack, as PyTorch's
        # SavedVariable does, so a backward rule run inside the level is differentiated forward too
        self.fw = None
        if forward_ad._token is not None:
            tangent = forward_ad._tangent(t)
            if tangent is not None:
                self.fw = (forward_ad._token, tangent)

    def get(self):
        from .._tensor import Tensor
        t = self.hooks[1](self.packed)
        if not isinstance(t, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(t).__name__}")
        if self.fw is not None:
            _give_tangent(t, self.fw)
        return t


def _give_tangent(t, fw):
    if fw[0] is forward_ad._token and forward_ad._tangent(t) is None:
        forward_ad._set(t, fw[1])


def _pack_ctx(ctx, outs, hooks):
    """Pack what ``Op._record`` saved on ``ctx``: ``ctx.inputs`` keeps None where a tensor went to the
    hooks; ``ctx._packed`` = (per input: _Packed or None, the output's, the other outputs')."""
    from .._tensor import Tensor
    ins = [_Packed(t, hooks) if type(t) is Tensor else None for t in ctx.inputs]
    ctx.inputs = [None if p is not None else t for t, p in zip(ctx.inputs, ins)]
    # the hooks own the values: versions of packed tensors are not checked (PyTorch's SavedVariable)
    ctx._versions = tuple(None if p is not None else v for p, v in zip(ins, ctx._versions))
    out = rest = None
    d = ctx.__dict__
    if "output" in d:
        out = _Packed(outs[0], hooks)
        del d["output"]
        d.pop("_out_version", None)
        if "outputs" in d:
            rest = tuple(_Packed(o, hooks) for o in outs[1:len(d.pop("outputs"))])
    ctx._packed = (ins, out, rest)


def _unpacked(ctx):
    """``ctx``'s saved tensors, unpacked: (inputs, output, outputs); see ``_pack_ctx``."""
    ins, out, rest = ctx._packed
    inputs = [p.get() if p is not None else t for t, p in zip(ctx.inputs, ins)]
    o = out.get().detach() if out is not None else None
    outputs = (o,) + tuple(p.get().detach() for p in rest) if rest is not None else None
    fw = ctx.__dict__.get("_fw_saved")     # the saved outputs' tangents (autograd/_jvp.py)
    if fw is not None and o is not None:
        for s, t in zip(outputs or (o,), fw[1]):
            if t is not None:
                _give_tangent(s, (fw[0], t))
    return inputs, o, outputs


def _repack_original(ctx, x):
    """``x`` is about to be overwritten by an in-place op whose backward saved it: save a copy of
    its old value in its place, through the hooks that packed ``x``."""
    ins = ctx._packed[0]
    hit = [i for i, p in enumerate(ins) if p is not None and p.src == id(x)]
    if hit:
        orig = x.clone()    # in the graph when x is: a second derivative reaches x's old value
        for i in hit:
            ins[i] = _Packed(orig, ins[i].hooks)


class saved_tensors_hooks:
    """Context manager setting a pair of pack / unpack hooks for saved tensors.

    ``pack_hook(tensor) -> Any`` runs when an operation saves a tensor for backward; what it returns
    is stored in the graph. ``unpack_hook(Any) -> Tensor`` runs when backward reads it back and must
    return a tensor with the original's values. Only the innermost pair applies when nested.

    Example::

        >>> x = ttorch.ones(3, requires_grad=True)
        >>> with ttorch.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda p: p):
        ...     y = (x * x).sum()
        >>> y.backward(); x.grad
        tensor([2., 2., 2.])
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _push((self.pack_hook, self.unpack_hook))

    def __exit__(self, *args):
        _pop()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are moved to the host when saved and back to their device when backward reads them.

    Args:
        pin_memory (bool): copy through pinned host memory (ttorch: same as False; PyTorch
            copies asynchronously). Default: False.
        device_type (str): the accelerator's module name. Default: ``"cuda"``.

    Example::

        >>> x = ttorch.ones(2, requires_grad=True)
        >>> with ttorch.autograd.graph.save_on_cpu():
        ...     y = (x * x).sum()
        >>> y.backward(); x.grad
        tensor([2., 2.])
    """

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return (tensor.device, tensor.cpu())

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


class _AllowMutationOnSavedContext:
    """The state of one ``allow_mutation_on_saved_tensors`` block: the copies kept of saved tensors."""

    def __init__(self):
        self.cloned = {}        # id(copy) -> copy, while the block is open
        self.active = True

    def clear(self):
        self.cloned.clear()
        self.active = False


_mutation_ctx = [None]


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """Context manager under which tensors saved for backward may be modified in place: backward
    uses their values from when they were saved. Run the forward and the backward inside it.

    Difference: PyTorch copies a saved tensor when an in-place op is about to modify it; ttorch
    copies every tensor saved inside the block when it is saved (same gradients, more memory).

    Example::

        >>> with ttorch.autograd.graph.allow_mutation_on_saved_tensors():
        ...     a = ttorch.ones(2, requires_grad=True)
        ...     b = a.clone()
        ...     out = (b ** 2).sum()
        ...     _ = b.sin_()
        ...     out.backward()
        >>> a.grad
        tensor([2., 2.])
    """
    if _mutation_ctx[0] is not None:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutationOnSavedContext()

    def pack(t):
        copy = t.clone()
        ctx.cloned[id(copy)] = copy
        return t, t._version, id(copy)

    def unpack(packed):
        t, version, key = packed
        if t._version == version:
            return t
        if not ctx.active:
            raise AssertionError("Trying to backward outside of the 'allow_mutation_on_saved_tensors' context"
                                 "in which the graph was originally recorded.")
        return ctx.cloned[key]

    _mutation_ctx[0] = ctx
    _push((pack, unpack))
    try:
        yield ctx
    finally:
        _pop()
        ctx.clear()
        _mutation_ctx[0] = None


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Context manager under which setting saved-tensor hooks raises ``RuntimeError(error_message)``
    (as does entering it while hooks are set)."""
    prev = _disabled[0]
    try:
        if any(p is not None for p in _stack):
            raise RuntimeError(error_message)
        _disabled[0] = error_message
        yield
    finally:
        _disabled[0] = prev


@contextlib.contextmanager
def _suspended():
    """No saved-tensor hooks apply inside (ttorch's non-reentrant checkpoint, which PyTorch builds on
    hooks of its own: the user's hooks never see what it saves)."""
    _stack.append(None)
    _sync()
    try:
        yield
    finally:
        _pop()


# ------------------------------------------------------------------------------ nodes and edges
def _node_metadata(self):
    """A dict for the user's data about this node (empty at first)."""
    d = _NODE_METADATA.get(self)
    if d is None:
        d = _NODE_METADATA[self] = {}
    return d


Node.metadata = property(_node_metadata)


class GradientEdge(NamedTuple):
    """Where a tensor's gradient is computed in the graph: ``(node, output_nr)``; see
    :func:`get_gradient_edge`."""

    node: Node
    output_nr: int
    ownership_token: Optional[Node] = None


def _grad_fn_or_acc(t):
    if isinstance(t, GradientEdge):
        return t.node
    return t.grad_fn if t.grad_fn is not None else grad_accumulator(t)


def get_gradient_edge(tensor):
    """The ``GradientEdge`` at which the gradient of ``tensor`` is computed (its ``grad_fn`` and
    output number, or its gradient accumulator for a leaf)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    return GradientEdge(_grad_fn_or_acc(tensor), tensor._output_nr if tensor.grad_fn is not None else 0)


def increment_version(tensor):
    """Bump the version counter of ``tensor`` (or of each tensor of an iterable), as an in-place
    change autograd did not see would: graphs that saved it raise when they read it."""
    from .._tensor import Tensor
    for t in ((tensor,) if isinstance(tensor, Tensor) else tensor):
        t._bump_version()


class _MultiHandle:
    """Removes a group of hooks at once."""

    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for h in self.handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


def _task_id():
    if not TASKS:
        raise AssertionError("expected this hook to be called inside a backward call")
    return TASKS[-1].serial


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Call ``fn`` once per backward pass for the gradients of ``tensors``.

    ``mode="all"``: after the gradient of every tensor the pass computes is ready,
    ``fn(grads)`` with one entry per tensor (None for those it does not reach). ``mode="any"``:
    ``fn(grad)`` with the first of them computed. Returns a handle with ``remove()``.
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of {('all', 'any')} but got {mode}")
    if mode == "all":
        count, buffer = {}, {}
        nodes = [_grad_fn_or_acc(t) for t in tensors]
        n = len(tensors)

        def inner(idx):
            def hook(grad):
                tid = _task_id()
                seen = count.get(tid, 0)
                count[tid] = seen + 1
                buf = buffer.setdefault(tid, [None] * n)
                if seen == 0:       # the tensors whose gradient this pass will compute
                    count[(tid, "n")] = sum(TASKS[-1].will_execute(node) for node in nodes)
                buf[idx] = grad
                if seen == count[(tid, "n")] - 1:
                    del count[tid], count[(tid, "n")], buffer[tid]
                    fn(buf)
            return hook
        handles = tuple(t.register_hook(inner(i)) for i, t in enumerate(tensors))
    else:
        ran = set()

        @functools.wraps(fn)
        def wrapped(grad):
            tid = _task_id()
            if tid in ran:
                return
            ran.add(tid)
            fn(grad)
        handles = tuple(t.register_hook(wrapped) for t in tensors if t.requires_grad)
    return _MultiHandle(handles)
