"""The backward engine: graph nodes and an iterative walk in reverse topological order.

A node is made per recorded op call. Its ``next_functions`` point at the nodes of its
inputs (``AccumulateGrad`` for leaves). ``backward`` counts, for every node reachable from
the roots, how many edges lead into it, then runs nodes whose count reaches zero: no
recursion, so chains of any length work. Gradients are summed per (node, input slot);
gradients of broadcast inputs are reduced to the input's shape here, in one place.
"""
import contextlib
import sys
import weakref

import numpy as np

from . import grad_mode, anomaly_mode
from .. import _profiling


class Node:
    """A recorded op: ``apply(*grads)`` returns one gradient per input (None where not needed)."""

    __slots__ = ("next_functions", "_ctx", "_backward", "_name", "_in_meta", "_out_meta", "__weakref__",
                 "_freed")

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {hex(id(self))}>"

    def apply(self, grads, create_graph):
        raise NotImplementedError

    def register_hook(self, fn):
        """Call ``fn(grad_inputs, grad_outputs)`` after this node runs; it may return new ``grad_inputs``."""
        return _add_node_hook(self, 1, fn)

    def register_prehook(self, fn):
        """Call ``fn(grad_outputs)`` before this node runs; it may return new ``grad_outputs``."""
        return _add_node_hook(self, 0, fn)


# Hooks of nodes live outside them, keyed weakly: few nodes have any, and a node is made per
# recorded op call, so it stays small. node -> (pre-hooks, post-hooks), ordered by registration.
_NODE_HOOKS = weakref.WeakKeyDictionary()
_ANY_NODE_HOOKS = [False]   # set once any node hook is registered: the walk skips the lookups until then
_NODE_METADATA = weakref.WeakKeyDictionary()    # node -> its ``metadata`` dict (autograd.graph), made on demand

ERR_BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


def _add_node_hook(node, kind, fn):
    import collections
    from .._tensor import _RemovableHandle
    _ANY_NODE_HOOKS[0] = True
    hooks = _NODE_HOOKS.get(node)
    if hooks is None:
        hooks = _NODE_HOOKS[node] = (collections.OrderedDict(), collections.OrderedDict())
    handle = _RemovableHandle(hooks[kind])
    hooks[kind][handle.id] = fn
    return handle


def _hook_result(hook, res, n):
    if not isinstance(res, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(res).__name__}'")
    if len(res) != n:
        raise TypeError(f"hook '{getattr(hook, '__name__', hook)}' has returned an incorrect number of values "
                        f"(got {len(res)}, but expected {n})")
    return list(res)


def _call_pre_hooks(hooks, grads):
    for h in list(hooks.values()):
        r = h(tuple(grads))
        if r is not None:
            grads = _hook_result(h, r, len(grads))
    return grads


def _call_post_hooks(hooks, grad_inputs, grad_outputs):
    for h in list(hooks.values()):
        r = h(tuple(grad_inputs), tuple(grad_outputs))
        if r is not None:
            grad_inputs = _hook_result(h, r, len(grad_inputs))
    return grad_inputs


class OpNode(Node):
    """A node for an op of ``ttorch.ops``; ``_backward(ctx, *grads)`` is written in ttorch ops."""

    def __init__(self, name, backward, ctx, next_functions, in_meta, out_meta):
        self._name = name
        self._backward = backward
        self._ctx = ctx
        self.next_functions = next_functions
        self._in_meta = in_meta       # per input: (shape, dtype, device) or None
        self._out_meta = out_meta     # per output: (shape, dtype, device)
        self._freed = False

    def apply(self, grads, create_graph):
        if self._freed:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        ctx = self._ctx
        ctx._check_versions(self._name)
        if ctx._packed is not None:     # saved-tensor hooks packed them (autograd.graph): unpack for this run
            from .graph import _unpacked
            inputs = ctx.inputs
            ctx.inputs, out, outs = _unpacked(ctx)
            if out is not None:
                ctx.output = out
            if outs is not None:
                ctx.outputs = outs
            try:
                return self._apply(ctx, grads, create_graph)
            finally:
                ctx.inputs = inputs
                ctx.__dict__.pop("output", None)
                ctx.__dict__.pop("outputs", None)
        return self._apply(ctx, grads, create_graph)

    def _apply(self, ctx, grads, create_graph):
        for g in grads:
            # an output that got no gradient: materialize zeros (not for integer outputs, indices,
            # which never carry one; nor for rules marked ``takes_none``, which treat None as zeros)
            if g is None and not getattr(self._backward, "takes_none", False):
                from ..ops.creation import zeros
                grads = [g if g is not None or not (m[1].is_floating_point or m[1].is_complex)
                         else zeros(m[0], dtype=m[1], device=m[2]) for g, m in zip(grads, self._out_meta)]
                break
        saved_out = getattr(ctx, "output", None)
        if create_graph and saved_out is not None:
            # Unpack the saved output as PyTorch does: an alias whose grad_fn is this node, so
            # a backward rule that reads the output (exp, tanh...) is itself differentiable.
            live = saved_out.detach()
            live.grad_fn, live._output_nr, live.requires_grad = self, 0, True
            if "_fw_grad" in saved_out.__dict__:    # forward AD: the output's tangent goes with it
                live._fw_grad = saved_out._fw_grad
            ctx.output = live
            try:
                out = self._backward(ctx, *grads)
            finally:
                ctx.output = saved_out
        else:
            out = self._backward(ctx, *grads)
        if not isinstance(out, tuple):
            out = (out,)
        res = []
        for g, meta in zip(out, self._in_meta):
            if g is None or meta is None:
                res.append(None)
                continue
            shape, dtype, dev = meta
            if g._shape != shape:
                g = _sum_to(g, shape, self._name)
            if g.dtype is not dtype:
                # a real input's gradient is the real part of a complex one (PyTorch's engine)
                g = (g.real if g.dtype.is_complex and not dtype.is_complex else g).to(dtype)
            res.append(g)
        return res

    def release(self):
        # PyTorch frees a node's saved tensors, not the node: one that saved none (a view, a sum)
        # can run again, as ``y.sum().backward()`` twice through ``y = x.view(3)`` does there
        if _saves_tensors(self._ctx):
            self._ctx = None
            self._freed = True


def _saves_tensors(ctx):
    # (runs per node per backward: plain loops, no generator frames)
    if ctx._packed is not None:
        return True
    Tensor = _tensor_type()
    for v in ctx.__dict__.values():
        if isinstance(v, Tensor):
            return True
        if type(v) is list or type(v) is tuple:     # inputs, outputs (and short int/bool tuples)
            for t in v:
                if isinstance(t, Tensor):
                    return True
    return False


def _tensor_type():
    global _Tensor
    if _Tensor is None:
        from .._tensor import Tensor as _Tensor
    return _Tensor


_Tensor = None


def _sum_to(g, shape, opname):
    """Reduce a broadcast gradient to ``shape`` (sum over the broadcast dims)."""
    lead = g.ndim - len(shape)
    if lead < 0:
        raise RuntimeError(f"{opname}: gradient of shape {list(g.shape)} can't be reduced to {list(shape)}")
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and g._shape[lead + i] != 1]
    if dims:
        g = g.sum(dim=dims, keepdim=True)
    if lead:
        g = g.reshape(shape)
    if g._shape != tuple(shape):
        raise RuntimeError(f"{opname}: gradient of shape {list(g.shape)} doesn't match input shape {list(shape)}")
    return g


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient into ``leaf.grad``."""

    def __init__(self, leaf):
        self._name = "AccumulateGrad"
        self.variable = leaf
        self.next_functions = ()
        self._freed = False

    __slots__ = ("variable",)

    def apply(self, grads, create_graph):
        leaf = self.variable
        g = grads[0]
        if leaf._hooks:
            for h in list(leaf._hooks.values()):
                r = h(g)
                if r is not None:
                    g = r
        hooks = _NODE_HOOKS.get(self) if _ANY_NODE_HOOKS[0] else None
        if hooks is not None and hooks[0]:     # node pre-hooks run after the tensor's own hooks
            g, = _call_pre_hooks(hooks[0], [g])
        if g._shape != leaf._shape:
            g = _sum_to(g, leaf._shape, "AccumulateGrad")
        if create_graph:
            leaf._grad = g if leaf._grad is None else leaf._grad + g
        else:
            # out of place: the gradient may alias a tensor the caller still holds
            with grad_mode.no_grad():
                g = g.detach()
                leaf._grad = g.contiguous() if leaf._grad is None else leaf._grad + g
        if leaf._post_acc_hooks:
            for h in list(leaf._post_acc_hooks.values()):
                h(leaf)
        if hooks is not None and hooks[1]:
            _call_post_hooks(hooks[1], [], [g])
        return []


def grad_accumulator(leaf):
    node = leaf._grad_acc() if leaf._grad_acc is not None else None
    if node is None:
        node = AccumulateGrad(leaf)
        leaf._grad_acc = weakref.ref(node)
    return node


def edge_of(t):
    """The (node, input_nr) a gradient for tensor ``t`` flows into, or None."""
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t.requires_grad and not t._grad_via_base:    # a view made in no_grad mode passes nothing on
        return (grad_accumulator(t), 0)
    return None


_NO_REGION = contextlib.nullcontext()


def _no_autocast():
    """Backward ops run in the dtypes autocast chose in forward, even inside an autocast region."""
    op = sys.modules["ttorch.ops._op"]      # imported by then; a module-level import would be circular
    if op._autocast is None:
        return _NO_REGION
    from ..amp.autocast_mode import _suspended
    return _suspended()


# per running backward (innermost last): whether it captures its gradients (``autograd.grad``,
# ``backward(inputs=...)``) rather than accumulating into ``.grad``; the reentrant checkpoint asks
CAPTURING = []
# per running backward (innermost last): its ``_Task`` (autograd.graph's multi-grad hooks ask)
TASKS = []


class _Task:
    """One backward pass (PyTorch's graph task): a serial number and the nodes it will run."""

    __slots__ = ("serial", "seen", "reach", "targets")
    count = [0]

    def __init__(self):
        self.count[0] += 1
        self.serial = self.count[0]
        self.seen = self.reach = self.targets = None

    def will_execute(self, node):
        """Whether this pass runs ``node`` (PyTorch's ``_will_engine_execute_node``)."""
        if node not in self.seen:
            return False
        return self.reach is None or bool(self.reach.get(node)) or node in self.targets


def _run(roots, root_grads, retain_graph, create_graph, capture=None):
    """Walk the graph from ``roots`` (list of edges); ``capture`` maps edges whose grads to return."""
    CAPTURING.append(capture is not None)
    TASKS.append(_Task())
    try:
        return _walk(roots, root_grads, retain_graph, create_graph, capture)
    finally:
        CAPTURING.pop()
        TASKS.pop()


def _walk(roots, root_grads, retain_graph, create_graph, capture):
    # autograd.grad runs only the nodes through which a requested input is reached, as PyTorch
    # does: the rest of the graph (and its saved tensors) stays untouched
    reach = _reaching(roots, capture) if capture is not None else None
    # dependencies: how many edges lead into each node
    deps = {}
    stack = [e[0] for e in roots if e is not None]
    seen = set(stack)
    while stack:
        node = stack.pop()
        if reach is not None and not reach.get(node):
            continue
        for e in node.next_functions:
            if e is None:
                continue
            n = e[0]
            deps[n] = deps.get(n, 0) + 1
            if n not in seen:
                seen.add(n)
                stack.append(n)
    task = TASKS[-1]
    task.seen, task.reach = seen, reach
    task.targets = {e[0] for e in capture} if capture is not None else ()
    buffers = {}
    for e, g in zip(roots, root_grads):
        if e is None:
            continue
        buf = buffers.setdefault(e[0], {})
        buf[e[1]] = g if e[1] not in buf else buf[e[1]] + g
    ready = [e[0] for e in roots if e is not None and deps.get(e[0], 0) == 0]
    ready = list(dict.fromkeys(ready))
    captured = {}
    empty = {}
    node_hooks = _NODE_HOOKS if _ANY_NODE_HOOKS[0] else None
    anomaly = anomaly_mode._state["enabled"]
    with grad_mode.set_grad_enabled(create_graph), _no_autocast():
        # one pass per node; the loop body is kept lean since it runs for every recorded op
        while ready:
            node = ready.pop()
            buf = buffers.pop(node, empty)
            if isinstance(node, AccumulateGrad):
                grads = [buf.get(0)]
                if capture is not None:
                    if (node, 0) in capture:
                        g = grads[0]
                        if g is not None and node.variable._hooks:     # a captured leaf's hooks run too
                            for h in list(node.variable._hooks.values()):
                                r = h(g)
                                g = g if r is None else r
                        captured[(node, 0)] = g
                    continue
                if grads[0] is not None:
                    node.apply(grads, create_graph)
                continue
            nout = len(node._out_meta)
            grads = [buf.get(0)] if nout == 1 else [buf.get(i) for i in range(nout)]
            if capture is not None:
                for i in range(nout):
                    if (node, i) in capture:
                        captured[(node, i)] = grads[i]
                if not reach.get(node):
                    continue
            ctx = node._ctx
            if ctx is not None and getattr(ctx, "_hooked_outputs", None):
                _call_tensor_hooks(node, grads)
            hooks = node_hooks.get(node) if node_hooks is not None else None
            if hooks is not None and hooks[0]:
                grads = _call_pre_hooks(hooks[0], grads)
            if (grads[0] is None) if nout == 1 else all(g is None for g in grads):
                in_grads = [None] * len(node.next_functions)
            elif anomaly:
                in_grads = anomaly_mode._apply(node, grads, create_graph)
            elif _profiling.ACTIVE[0] is not None:      # ttorch.profiler: PyTorch's name for the node
                with _profiling.span("autograd::engine::evaluate_function: " + node.name()):
                    in_grads = node.apply(grads, create_graph)
            else:
                in_grads = node.apply(grads, create_graph)
            if hooks is not None and hooks[1]:
                in_grads = _call_post_hooks(hooks[1], in_grads, grads)
            if not retain_graph:
                node.release()
            for e, g in zip(node.next_functions, in_grads):
                if e is None:
                    continue
                n, slot = e
                if g is not None:
                    b = buffers.get(n)
                    if b is None:
                        buffers[n] = {slot: g}
                    else:
                        b[slot] = b[slot] + g if slot in b else g
                d = deps[n] - 1
                deps[n] = d
                if d == 0:
                    ready.append(n)
    return captured


def _reaching(roots, capture):
    """Per node of the graph under ``roots``: whether one of its input edges leads (directly or
    further down) to an edge in ``capture``. Iterative post-order: graphs can be deep."""
    targets = {e[0] for e in capture}
    memo = {}
    for r in roots:
        if r is None or r[0] in memo:
            continue
        memo[r[0]] = False
        stack = [(r[0], iter(r[0].next_functions))]
        while stack:
            node, it = stack[-1]
            for e in it:
                if e is None:
                    continue
                n = e[0]
                if n in targets:
                    memo[node] = True
                if n not in memo:
                    memo[n] = False
                    stack.append((n, iter(n.next_functions)))
                    break
                if memo[n]:
                    memo[node] = True
            else:
                stack.pop()
                if stack and memo[node]:
                    memo[stack[-1][0]] = True
    return memo


def _call_tensor_hooks(node, grads):
    """Run hooks and retain_grad of non-leaf outputs of ``node`` (the outputs held weakly by the node, their
    hooks strongly)."""
    outs = getattr(node._ctx, "_hooked_outputs", None) if node._ctx is not None else None
    if not outs:
        return
    for i, (ref, hooks) in outs.items():
        if grads[i] is None:
            continue
        if hooks:
            for h in list(hooks.values()):
                r = h(grads[i])
                if r is not None:
                    grads[i] = r
        t = ref()
        if t is not None and t._retains_grad:
            g = grads[i].detach()
            t._grad = g.clone() if t._grad is None else t._grad + g


def _make_grads(outputs, grad_outputs):
    res = []
    for t, g in zip(outputs, grad_outputs):
        if _is_edge(t):     # an autograd.graph.GradientEdge: no shape to make or check a gradient with
            if g is None:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            res.append(g)
            continue
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
            if t.device.type == "cpu":     # the usual loss.backward(): skip the generic creation path
                g = t._wrap_np(np.ones(t._shape, t.dtype.np), t.dtype)
            else:
                from ..ops.creation import ones_like
                g = ones_like(t)
        elif g._shape != t._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {g.shape} and output[0] has a "
                               f"shape of {t.shape}.")
        res.append(g)
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the gradients of ``tensors`` and accumulate them into the leaves' ``.grad``."""
    from .._tensor import Tensor
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(tensors, grad_tensors)
    roots = [edge_of(t) for t in tensors]
    if inputs is not None:
        if isinstance(inputs, Tensor):
            inputs = [inputs]
        res = grad(tensors, inputs, grads, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)
        for t, g in zip(inputs, res):
            if g is not None:
                t._grad = g.detach() if t._grad is None else t._grad + g.detach()
        return
    _run(roots, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False, only_inputs=True, is_grads_batched=False):
    """Return the gradients of ``outputs`` with respect to ``inputs`` (tensors, or ``GradientEdge``s of
    ``autograd.graph``) without touching ``.grad``. Hooks of a leaf input run on its gradient."""
    from .._tensor import Tensor
    if isinstance(outputs, Tensor) or _is_edge(outputs):
        outputs = [outputs]
    single = isinstance(inputs, Tensor) or _is_edge(inputs)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if allow_unused is None:
        allow_unused = materialize_grads
    for t in outputs:
        if not _is_edge(t) and not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if type(t) is not Tensor and getattr(t, "_level", None) is not None:
            # a vmap BatchedTensor (func/_batched.py): its graph is its value's, summed over the batch; vmap
            # runs the function per sample instead (``func.grad`` under vmap differentiates per-sample copies)
            raise RuntimeError("vmap: autograd.grad of a BatchedTensor output")
    for t in inputs:
        if not _is_edge(t) and not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(outputs, grad_outputs)
    edges = [(t[0], t[1]) if _is_edge(t) else edge_of(t) for t in inputs]
    capture = {e: True for e in edges}
    captured = _run([(t[0], t[1]) if _is_edge(t) else edge_of(t) for t in outputs], grads, retain_graph, create_graph,
                    capture)
    res = []
    for t, e in zip(inputs, edges):
        g = captured.get(e)
        if g is None:
            if materialize_grads and not _is_edge(t):
                from ..ops.creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        res.append(g)
    return tuple(res)


def _is_edge(t):
    """Whether ``t`` is an ``autograd.graph.GradientEdge`` (``grad`` takes them as inputs, as PyTorch does)."""
    return isinstance(t, tuple) and hasattr(t, "output_nr")
