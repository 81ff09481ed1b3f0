"""Activation checkpointing: ``checkpoint`` and ``checkpoint_sequential`` trade compute for memory.

The checkpointed function's intermediate results are not kept for backward: only its inputs are,
and backward runs the function again (with the forward's random number generator states and
autocast state restored, so dropout masks match) to rebuild the graph it then differentiates.

Two variants, as in PyTorch. ``use_reentrant=True`` is PyTorch's ``CheckpointFunction``, a
custom autograd ``Function`` whose backward calls ``autograd.backward`` on the recomputed graph:
gradients reach closed-over parameters by accumulating into their ``.grad``, so it works with
``.backward()`` only, and only when an input requires grad. ``use_reentrant=False`` supports
``autograd.grad``, keyword and nested arguments, parameters used by a function whose inputs
don't require grad, and double backward. PyTorch builds it on saved-tensor hooks, which ttorch
lacks; here the forward records the graph once to find the leaves the function reaches (its
inputs, the parameters it closes over), keeps one graph node holding only the inputs, and drops
the rest. Differences that follow: the activations of one call live until it returns (PyTorch's
forward saves none); the whole function is recomputed (``early_stop`` is ignored); ``debug`` is
accepted and ignored; the determinism check compares the outputs' shapes, dtypes and devices (not
every saved tensor's); the gradient for a closed-over tensor that is not a leaf (computed outside
with grad) goes through that tensor's history inside the recomputation, straight to the leaves
below it, so hooks on that tensor don't see it (the node orders itself before that history, so the
engine frees it only afterwards). A cuda generator the function creates is replayed from its
starting state (PyTorch raises).

Selective checkpointing (``context_fn=partial(create_selective_checkpoint_contexts, policy)``: ops whose
outputs the forward keeps and the recomputation replays) is ``_selective_checkpoint.py``; ``GraphExecGroup``
makes several backward calls share one recomputation.
"""
import contextlib
import warnings
import weakref

import ttorch
from ..autograd import grad_mode
from ..autograd.engine import Node, AccumulateGrad, ERR_BACKWARD_TWICE, edge_of
from ..autograd.function import Function
from ..func._pytree import tree_flatten, tree_unflatten
from ._selective_checkpoint import (CheckpointPolicy, SelectiveCheckpointContext,  # noqa: F401 (re-exported)
                                    create_selective_checkpoint_contexts, SAC_IGNORED_OPS)

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction", "check_backward_validity",
           "detach_variable", "get_device_states", "set_device_states", "noop_context_fn",
           "set_checkpoint_debug_enabled", "set_checkpoint_early_stop", "CheckpointPolicy",
           "SelectiveCheckpointContext",
           "create_selective_checkpoint_contexts", "SAC_IGNORED_OPS", "DefaultDeviceType", "GraphExecGroup"]


class CheckpointError(RuntimeError):
    pass


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


_debug_enabled = [None]
_early_stop = [None]


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Override ``checkpoint``'s ``debug`` flag inside the block (accepted; ttorch prints no trace)."""
    prev, _debug_enabled[0] = _debug_enabled[0], enabled
    try:
        yield
    finally:
        _debug_enabled[0] = prev


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Override ``checkpoint``'s ``early_stop`` flag inside the block (accepted; ttorch recomputes fully)."""
    prev, _early_stop[0] = _early_stop[0], enable
    try:
        yield
    finally:
        _early_stop[0] = prev


def detach_variable(inputs):
    """Detached copies of the tensors of the tuple ``inputs``, requiring grad as the originals do."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")
    return tuple(_detached(x) if isinstance(x, ttorch.Tensor) else x for x in inputs)


def _detached(t):
    x = t.detach()
    x.requires_grad = t.requires_grad
    return x


def check_backward_validity(inputs):
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, ttorch.Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


# ------------------------------------------------------------------------------------------ RNG state
class DefaultDeviceType:
    """The device type whose RNG state checkpointing keeps when no input is on an accelerator: "cuda"
    when ttorch has a cuda device (real or simulated), else "cpu", until ``set_device_type``."""

    _default_device_type = None

    @staticmethod
    def set_device_type(device="cuda"):
        DefaultDeviceType._default_device_type = device

    @staticmethod
    def get_device_type():
        if not DefaultDeviceType._default_device_type:
            DefaultDeviceType._default_device_type = "cuda" if ttorch.cuda.is_available() else "cpu"
        return DefaultDeviceType._default_device_type


def get_device_states(*args):
    """``(device ids, rng states)`` of the cuda devices of the tensors in ``args``."""
    ids = []
    for t in tree_flatten(args)[0]:
        if isinstance(t, ttorch.Tensor) and t.device.type == "cuda" and t.device.index not in ids:
            ids.append(t.device.index)
    return ids, [ttorch.cuda.get_rng_state(i) for i in ids]


def set_device_states(devices, states, *, device_type=None):
    for d, s in zip(devices, states):
        ttorch.cuda.set_rng_state(s, d)


def _cuda_states():
    # a cuda generator's state is its seed and Philox offset (see ttorch/_random.py)
    from .. import _random
    return {i: (g._seed, g._offset) for i, g in _random._cuda_gens.items()}


def _set_cuda_states(states):
    from .. import _random
    for i, g in _random._cuda_gens.items():
        g._seed, g._offset = states.get(i, (g._seed, 0))    # one made since starts at offset 0


class _RngStash:
    """The default generators' states before the forward: cpu, and every cuda generator (those of
    the inputs' devices made now; one the forward makes is recorded at its starting state)."""

    def __init__(self, tensors):
        from .. import _random
        for t in tensors:
            if isinstance(t, ttorch.Tensor) and t.device.type == "cuda":
                _random.cuda_generator(t.device.index)
        self.cpu = ttorch.get_rng_state()
        self.cuda = _cuda_states()

    def after_forward(self):
        from .. import _random
        for i, g in _random._cuda_gens.items():
            self.cuda.setdefault(i, (g._seed, 0))

    @contextlib.contextmanager
    def replay(self):
        """Run the block with the forward's states; the surrounding states are put back after."""
        cpu, cuda = ttorch.get_rng_state(), _cuda_states()
        ttorch.set_rng_state(self.cpu)
        _set_cuda_states(self.cuda)
        try:
            yield
        finally:
            ttorch.set_rng_state(cpu)
            _set_cuda_states(cuda)


def _autocast_state():
    from ..amp import autocast_mode as A
    return {d: (A.is_autocast_enabled(d), A.get_autocast_dtype(d)) for d in ("cpu", "cuda")}


def _recompute_context(stash, autocast_state):
    """Forward's RNG and autocast states, grad on: what the recomputation runs in (backward runs
    with autocast suspended)."""
    from ..amp import autocast_mode as A
    stack = contextlib.ExitStack()
    if stash is not None:
        stack.enter_context(stash.replay())
    for d, (enabled, dtype) in autocast_state.items():
        if enabled:
            stack.enter_context(A.autocast(d, dtype=dtype))
    stack.enter_context(grad_mode.enable_grad())
    return stack


class GraphExecGroup:
    """Context manager: the non-reentrant checkpointed regions that backward calls inside it reach are
    recomputed at most once, however many backward calls (``retain_graph=True``) go through them; later
    calls reuse the first recomputation. Those calls must cover non-overlapping parts of the backward graph.
    It cannot be nested; reentrant checkpoints ignore it.

    Example::

        >>> from ttorch.utils.checkpoint import checkpoint, GraphExecGroup
        >>> x = ttorch.ones(2, requires_grad=True)
        >>> a, b = checkpoint(lambda t: ((2 * t).sin(), (2 * t).cos()), x, use_reentrant=False)
        >>> with GraphExecGroup():
        ...     ga, = ttorch.autograd.grad(a.sum(), x, retain_graph=True)     # recomputes
        ...     gb, = ttorch.autograd.grad(b.sum(), x)                        # reuses it
    """

    _current = None

    def __init__(self):
        self._recomputed = weakref.WeakKeyDictionary()     # checkpoint node -> (outputs, inputs)

    def __enter__(self):
        if GraphExecGroup._current is not None:
            raise RuntimeError(f"GraphExecGroup contexts cannot be nested. Already inside group "
                               f"{GraphExecGroup._current}")
        GraphExecGroup._current = self
        return self

    def __exit__(self, *args):
        GraphExecGroup._current = None
        self._recomputed.clear()

    @classmethod
    def _get_current_group(cls):
        return cls._current


# ------------------------------------------------------------------------------------------ reentrant
def _is_checkpoint_valid():
    """False inside ``autograd.grad`` (or ``backward(inputs=...)``): PyTorch's check that the
    running backward accumulates into ``.grad``. The innermost engine walk is the one running."""
    from ..autograd import engine
    return not (engine.CAPTURING and engine.CAPTURING[-1])


class CheckpointFunction(Function):
    """The reentrant checkpoint: forward without a graph, backward recomputes and backpropagates."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.autocast = _autocast_state()
        ctx.stash = _RngStash(args) if preserve_rng_state else None
        ctx.inputs = [None if isinstance(a, ttorch.Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, ttorch.Tensor)]
        ctx.save_for_backward(*[a for a in args if isinstance(a, ttorch.Tensor)])
        outputs = run_function(*args)       # Function.apply runs forward in no-grad mode
        if ctx.stash is not None:
            ctx.stash.after_forward()
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        if not _is_checkpoint_valid():
            raise RuntimeError("When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or "
                               "passing an `inputs` parameter to .backward(). To resolve this error, you can either "
                               "set use_reentrant=False, or call .backward() without passing the `inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        detached = detach_variable(tuple(inputs))
        with _recompute_context(ctx.stash, ctx.autocast):
            outputs = ctx.run_function(*detached)
        if isinstance(outputs, ttorch.Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, ttorch.Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        ttorch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(x.grad if isinstance(x, ttorch.Tensor) else None for x in detached)


# ------------------------------------------------------------------------------------------ non-reentrant
_DETERMINISM = ("default", "none")

_debug_tip_msg = """
Tip: To see a more detailed error message, either pass `debug=True` to
`torch.utils.checkpoint.checkpoint(...)` or wrap the code block
with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to
enable checkpoint\u2011debug mode globally.
"""


def _no_saved_hooks():
    from ..autograd.graph import _suspended
    return _suspended()


def _meta(t):
    return {"shape": t.shape, "dtype": t.dtype, "device": t.device}


class _CheckpointBackward(Node):
    """The grad_fn of a non-reentrant checkpoint's outputs. Its gradient edges lead to the leaves
    the function reached in forward (inputs, closed-over parameters): ``apply`` recomputes the
    function and returns the gradients at those leaves (``autograd.grad`` of the new graph). Its
    ordering edges lead to closed-over non-leaves (their nodes outlived the forward): they get
    None, and make the engine run this node before those, whose history the recomputation uses."""

    _hooked_outputs = None

    def __init__(self, recompute, sources, edges, out_meta):
        self._name = "CheckpointBackward"
        self._recompute = recompute
        self._sources = sources     # per edge: index of an input tensor, a closed-over leaf, or None
        self.next_functions = tuple(edges)
        self._out_meta = tuple(out_meta)
        self._in_meta = ()
        self._freed = False

    @property
    def _ctx(self):
        return self     # hooks and retain_grad of the outputs are kept on the node (see engine._run)

    def apply(self, grads, create_graph):
        if self._freed:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        group = GraphExecGroup._get_current_group()
        if group is None:
            outs, inputs = self._recompute(create_graph)
        else:       # one recomputation per group: later backward calls reuse its graph
            if self not in group._recomputed:
                group._recomputed[self] = self._recompute(create_graph)
            outs, inputs = group._recomputed[self]
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if g is not None and isinstance(o, ttorch.Tensor) and o.requires_grad]
        idx = [k for k, s in enumerate(self._sources) if s is not None]
        res = [None] * len(self._sources)
        if pairs and idx:
            targets = [inputs[s] if isinstance(s, int) else s for s in (self._sources[k] for k in idx)]
            # retain_graph: a closed-over non-leaf's history is walked here and is needed again
            gs = ttorch.autograd.grad([o for o, _ in pairs], targets, [g for _, g in pairs], allow_unused=True,
                                      retain_graph=True, create_graph=create_graph)
            for k, g in zip(idx, gs):
                res[k] = g
        return res

    def release(self):
        self._recompute = self._sources = None
        self._freed = True


def _boundary(roots, fresh_index, originals):
    """Walk the forward's graph from ``roots`` (iterative). Returns the leaves as (sources, edges)
    for the checkpoint's node (a fresh copy of an input maps to the input's own edge) and, held
    weakly, each non-leaf edge as (parent, child, slot): ``_outlived`` finds the external ones."""
    sources, edges, links, seen_src = [], [], [], set()
    stack = []
    for node, slot in roots:
        if not isinstance(node, AccumulateGrad):
            links.append((None, weakref.ref(node), slot))
        stack.append(node)
    seen = set(stack)
    while stack:
        node = stack.pop()
        if isinstance(node, AccumulateGrad):
            k = fresh_index.get(id(node.variable))
            key = ("input", k) if k is not None else id(node.variable)
            if key not in seen_src:
                seen_src.add(key)
                sources.append(k if k is not None else node.variable)
                edges.append(edge_of(originals[k]) if k is not None else (node, 0))
            continue
        parent = weakref.ref(node)
        for e in node.next_functions:
            if e is None:
                continue
            if not isinstance(e[0], AccumulateGrad):
                links.append((parent, weakref.ref(e[0]), e[1]))
            if e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])
    return sources, edges, links


def _outlived(links):
    """Edges into nodes alive after the forward's graph was dropped, from nodes that died with it:
    the nodes of closed-over tensors computed outside (or of results the function stored)."""
    out, seen = [], set()
    for parent, child, slot in links:
        node = child()
        if node is not None and (parent is None or parent() is None) and (id(node), slot) not in seen:
            seen.add((id(node), slot))
            out.append((node, slot))
    return out


def _forward(function, fresh, spec, forward_context, fresh_index, originals):
    """Run the function on fresh copies of the inputs and find the leaves it reached; the outputs
    come back cut from the graph, which dies with this frame."""
    fargs, fkwargs = tree_unflatten(fresh, spec)
    failed = True
    with forward_context:
        out = function(*fargs, **fkwargs)
        failed = False
    if failed:
        raise RuntimeError("torch.utils.checkpoint: the forward context provided by context_fn suppressed an exception "
                           "raised during the checkpointed forward. This is not supported because checkpoint cannot "
                           "return a value for a failed forward.")
    flat_out, out_spec = tree_flatten(out)
    diff = [isinstance(o, ttorch.Tensor) and o.requires_grad for o in flat_out]
    found = _boundary([edge_of(o) for o, d in zip(flat_out, diff) if d], fresh_index, originals) if any(diff) else None
    return [o.detach() if d else o for o, d in zip(flat_out, diff)], out_spec, diff, found


def _checkpoint_without_reentrant(function, preserve, context_fn, determinism_check, debug, args, kwargs):
    if (_debug_enabled[0] if _debug_enabled[0] is not None else debug) and context_fn is not noop_context_fn:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in _DETERMINISM:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM)}, but got {determinism_check}")
    forward_context, recompute_context = context_fn()
    if not grad_mode.is_grad_enabled():
        return function(*args, **kwargs)
    flat, spec = tree_flatten((args, kwargs))
    autocast = _autocast_state()
    stash = _RngStash(flat) if preserve else None
    fresh = [_detached(t) if isinstance(t, ttorch.Tensor) else t for t in flat]
    fresh_index = {id(f): k for k, f in enumerate(fresh) if isinstance(f, ttorch.Tensor) and f.requires_grad}
    with _no_saved_hooks():     # PyTorch's checkpoint saves through hooks of its own: the user's see none
        flat_out, out_spec, diff, found = _forward(function, fresh, spec, forward_context, fresh_index, flat)
    if stash is not None:
        stash.after_forward()
    original_of = {id(f): t for f, t in zip(fresh, flat) if isinstance(t, ttorch.Tensor)}
    if found is None:       # nothing to differentiate: outputs as the function returned them
        return tree_unflatten([original_of.get(id(o), o) for o in flat_out], out_spec)
    sources, edges, links = found
    order = _outlived(links)
    out_meta = [(o._shape, o.dtype, o.device) if d else None for o, d in zip(flat_out, diff)]
    saved_meta = [_meta(o) if isinstance(o, ttorch.Tensor) else None for o in flat_out]
    versions = [t._version if isinstance(t, ttorch.Tensor) else None for t in flat]

    def recompute(create_graph):
        for t, v in zip(flat, versions):
            if v is not None and t._version != v:
                from ..ops._op import _version_error
                _version_error(t, v, "CheckpointBackward")
        # with create_graph the inputs stay connected (a view), so the gradients are differentiable
        inputs = [(t.view_as(t) if create_graph and t.requires_grad else _detached(t))
                  if isinstance(t, ttorch.Tensor) else t for t in flat]
        rargs, rkwargs = tree_unflatten(inputs, spec)
        with _recompute_context(stash, autocast), recompute_context, _no_saved_hooks():
            routs = tree_flatten(function(*rargs, **rkwargs))[0]
        if determinism_check == "default":
            bad = [(i, m, _meta(r)) for i, (m, r) in enumerate(zip(saved_meta, routs))
                   if m is not None and (not isinstance(r, ttorch.Tensor) or m != _meta(r))]
            if bad or len(routs) != len(saved_meta):
                text = "".join(f"tensor at position {i}:\nsaved metadata: {m}\nrecomputed metadata: {r}\n"
                               for i, m, r in bad)
                raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have "
                                      f"different metadata than during the forward pass.\n{text}.\n{_debug_tip_msg}")
        return routs, inputs

    node = _CheckpointBackward(recompute, sources + [None] * len(order), edges + order, out_meta)
    res = []
    for k, (o, d) in enumerate(zip(flat_out, diff)):
        if d:
            o.grad_fn, o._output_nr, o.requires_grad = node, k, True
        res.append(o if d else original_of.get(id(o), o))     # an input returned as it is stays itself
    return tree_unflatten(res, out_spec)


# ------------------------------------------------------------------------------------------ public API
def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn, determinism_check="default",
               debug=False, early_stop=True, preserve_rng_state=True, **kwargs):
    r"""Run ``function(*args, **kwargs)`` without keeping its intermediate results; backward recomputes them.

    Args:
        function: what to run; its outputs are returned.
        use_reentrant (bool): the variant (see the module docstring); pass it explicitly, as
            PyTorch asks (it warns otherwise and uses True). False is recommended.
        context_fn: returns two context managers, for the forward and for the recomputation
            (``use_reentrant=False`` only).
        determinism_check (str): ``"default"`` compares the recomputed outputs' metadata, ``"none"``.
        debug (bool), early_stop (bool): accepted; see the module docstring.
        preserve_rng_state (bool): replay the forward's RNG states in the recomputation. Default: True.

    Example::

        >>> from ttorch.utils.checkpoint import checkpoint
        >>> lin = ttorch.nn.Linear(3, 3)
        >>> x = ttorch.ones(2, 3, requires_grad=True)
        >>> checkpoint(lambda x: lin(x).tanh(), x, use_reentrant=False).sum().backward()
        >>> x.grad.shape, lin.weight.grad.shape
        (ttorch.Size([2, 3]), ttorch.Size([3, 3]))
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
                      "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the differences between the "
                      "two variants.", stacklevel=2)
        use_reentrant = True
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    return _checkpoint_without_reentrant(function, preserve_rng_state, context_fn, determinism_check, debug, args,
                                         kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    r"""Run ``functions`` (an ``nn.Sequential`` or a list of modules/functions) in order, split into
    ``segments`` chunks; every chunk but the last is checkpointed.

    Example::

        >>> from ttorch.utils.checkpoint import checkpoint_sequential
        >>> model = ttorch.nn.Sequential(ttorch.nn.Linear(2, 2), ttorch.nn.Tanh(), ttorch.nn.Linear(2, 1))
        >>> checkpoint_sequential(model, 2, ttorch.ones(4, 2), use_reentrant=False).shape
        ttorch.Size([4, 1])
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the differences between the "
                      "two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    if isinstance(functions, ttorch.nn.Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
