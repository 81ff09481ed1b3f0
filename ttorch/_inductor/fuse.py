"""The "inductor" backend: run an fx graph once eagerly, see which nodes were one elementwise launch,
group those into chains/DAGs, and run each group afterwards as one generated Triton kernel.

Capture: the first call runs the graph node by node (its result is that call's result) with
``ew_launch`` observed. A node is fusable when its whole work was one launch of the elementwise
template into a fresh contiguous output that is the node's result, reading only the node's tensor
arguments and scalars: its semantics (op function, promotion, parameters) are then exactly that
launch, and the guards (shapes, dtypes, devices) keep them fixed. Everything else (matmuls,
reductions, views, in-place ops, cpu nodes) runs eagerly, as the graph says.

Grouping: in graph order, a fusable node joins the groups of its fusable producers of its shape when
every earlier user of their values is in them (so running the group at its last node leaves no one
waiting); a producer group of a smaller shape that broadcasts to it joins too where none of its values
is used elsewhere (its ops are recomputed per element of the larger shape). Values used outside a
group are stored. A ``sum``/``mean`` over the last dim of a group's value, after all its members, is
taken as the group's epilogue (a program a row). A graph that writes in place runs unfused.

Autograd: where an input of a group requires grad, the group runs as an autograd Function whose
backward recomputes the group's original nodes under ``enable_grad`` and differentiates them (the
forward keeps only the inputs: rematerialisation).
"""
import operator

from .. import _dynamo
from .._tensor import Tensor
from ..autograd import grad_mode
from ..autograd.function import Function
from ..fx.node import map_arg
from ..ops import elementwise as _ew
from . import codegen


class _Recorder:
    """Replaces ``ew_launch`` in every ttorch module that bound it: records the outermost calls."""

    def __init__(self):
        self.calls, self.depth, self.patched = [], 0, []

    def __call__(self, fn, out, operands, compute, p0=0, p1=0):
        if self.depth == 0:
            self.calls.append((fn, out, list(operands), compute, p0, p1))
        self.depth += 1
        try:
            return _ORIG_EW(fn, out, operands, compute, p0, p1)
        finally:
            self.depth -= 1

    def __enter__(self):
        import sys
        from ..ops import _plan
        for name, mod in list(sys.modules.items()):
            if name.startswith("ttorch.") and getattr(mod, "ew_launch", None) is _ORIG_EW:
                mod.ew_launch = self
                self.patched.append(mod)
        self.plans, _plan.ENABLED[0] = _plan.ENABLED[0], False     # a planned launch skips ew_launch
        return self

    def __exit__(self, *exc):
        from ..ops import _plan
        for mod in self.patched:
            mod.ew_launch = _ORIG_EW
        _plan.ENABLED[0] = self.plans


_ORIG_EW = _ew.ew_launch
MAX_GROUP = 48      # ops a kernel: longer chains are cut (registers, and Triton's compile time)


class Group:
    """Fusable nodes run as one kernel. ``inputs``: the nodes whose values it reads; ``outputs``:
    the members whose values leave it; ``scalars``: the values passed by value."""

    def __init__(self, shape, device):
        self.shape, self.device = shape, device
        self.members, self.steps, self.inputs, self.scalars, self.outputs = [], [], [], [], []
        self.float_outs = True
        self.red = self.red_shape = None      # a sum/mean epilogue: ((kind, step), its output's shape)

    def add(self, node, call, srcs):
        fn, out, operands, compute, p0, p1 = call
        opnds = []
        for x, src in zip(operands, srcs):
            if src is None:
                opnds.append(("s", self._scalar(x)))
            elif src in self.members:
                opnds.append(("v", self.members.index(src)))
            else:
                if src not in self.inputs:
                    self.inputs.append(src)
                opnds.append(("in", self.inputs.index(src)))
        params = (self._scalar(p0), self._scalar(p1))
        self.members.append(node)
        self.steps.append(codegen.Step(fn, opnds, params, compute, out.dtype))

    def _scalar(self, v):
        self.scalars.append(v)
        return len(self.scalars) - 1

    def add_reduction(self, node, kind, src, val):
        self.red, self.red_shape = (kind, self.members.index(src)), val._shape
        self.members.append(node)

    def finish(self, users):
        ms = set(self.members)
        self.outputs = [j for j, m in enumerate(self.members[:len(self.steps)])
                        if any(u not in ms for u in users[m])]
        self.out_nodes = [self.members[j] for j in self.outputs] + self.members[len(self.steps):]
        self.float_outs = all(self.steps[j].out_dtype.is_floating_point for j in self.outputs)

    def launch(self, ins):
        """The group's outputs for external tensors ``ins`` (one kernel launch)."""
        shape = self.shape
        contig = tuple(x._shape == shape and (x._stride is None or x.is_contiguous()) for x in ins)
        k = codegen.get_kernel(self.steps, len(ins), contig, tuple(self.outputs), len(shape), self.scalars, self.red)
        outs = [Tensor._empty(shape, self.steps[j].out_dtype, self.device) for j in self.outputs]
        bst = [None if c else _ew._bstrides(x, shape) for x, c in zip(ins, contig)]
        if self.red is None:
            codegen.launch(k, outs, ins, contig, self.scalars, shape, bst)
            return outs
        r = Tensor._empty(self.red_shape, self.steps[self.red[1]].out_dtype, self.device)
        codegen.launch(k, outs, ins, contig, self.scalars, shape, bst, r)
        return outs + [r]

    def eager(self, gm, ins):
        """The members run as the graph wrote them (the backward's recomputation)."""
        env = dict(zip(self.inputs, ins))
        for m in self.members:
            env[m] = run_node(gm, m, env)
        return [env[m] for m in self.out_nodes]


class _FusedFunction(Function):
    @staticmethod
    def forward(ctx, group, gm, *ins):
        ctx.group, ctx.gm = group, gm
        ctx.save_for_backward(*ins)
        outs = group.launch(ins)
        return tuple(outs) if len(outs) > 1 else outs[0]

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd import grad as _grad
        ins = ctx.saved_tensors
        create = grad_mode._state["enabled"]        # (create_graph=True: the gradients' graph reaches the inputs)
        with grad_mode.enable_grad():
            leaves = list(ins) if create else [x.detach().requires_grad_(x.requires_grad) for x in ins]
            outs = ctx.group.eager(ctx.gm, leaves)
            pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
            wrt = [x for x in leaves if x.requires_grad]
            got = _grad([o for o, _ in pairs], wrt, [g for _, g in pairs], allow_unused=True,
                        create_graph=create) if pairs and wrt else [None] * len(wrt)
            got = iter(got)
        return (None, None) + tuple(next(got) if x.requires_grad else None for x in ins)


def run_node(gm, n, env):
    """One fx node's value (as ``fx.Interpreter`` computes it), arguments looked up in ``env``."""
    args = map_arg(n.args, env.__getitem__)
    kwargs = map_arg(n.kwargs, env.__getitem__)
    if n.op == "call_function":
        return n.target(*args, **kwargs)
    if n.op == "call_method":
        return getattr(args[0], n.target)(*args[1:], **kwargs)
    if n.op == "call_module":
        return gm.get_submodule(n.target)(*args, **kwargs)
    if n.op == "get_attr":
        obj = gm
        for atom in n.target.split("."):
            obj = getattr(obj, atom)
        return obj
    raise RuntimeError(f"unexpected node {n.op}")


def _fusable(n, val, calls, env):
    """The launch's operand sources (a node, or None for a scalar) when node ``n`` is fusable, else None."""
    if len(calls) != 1 or type(val) is not Tensor or val.device.type != "cuda":
        return None
    fn, out, operands, compute, p0, p1 = calls[0]
    if fn in _ew.HEAVY:         # (long series that need their own block and warps not to spill)
        return None
    if out is not val or val._stride is not None or val._offset or val.dtype._limited:
        return None
    srcs = []
    for x in operands:
        if type(x) is Tensor:
            if x is out or x._storage is out._storage:
                return None
            src = next((a for a in n.all_input_nodes if env.get(a) is x), None)
            if src is None:
                return None
            srcs.append(src)
        elif type(x) in (float, int, bool):
            srcs.append(None)
        else:
            return None
    # every node argument a tensor the launch reads (a recomputation in backward gets just those)
    if any(a not in srcs for a in n.all_input_nodes):
        return None
    return srcs


_OPERATOR_WRITES = {getattr(operator, k) for k in ("iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow",
                                                  "iand", "ior", "ixor", "ilshift", "irshift", "imatmul", "setitem")}


def _mutates(gm, n):
    """Whether node ``n`` may write one of its arguments (an in-place method, ``inplace=True``, ``out=``)."""
    if n.kwargs.get("inplace") or n.kwargs.get("out") is not None:
        return True
    if n.op == "call_method":
        return n.target.endswith("_") and not n.target.startswith("_")
    if n.op == "call_function":
        if n.target in _OPERATOR_WRITES:
            return True
        name = getattr(n.target, "__name__", "_")     # (operator.and_ is not in place: its i-forms are)
        return name.endswith("_") and not name.startswith("_") and getattr(operator, name, None) is not n.target
    if n.op == "call_module":
        return bool(getattr(gm.get_submodule(n.target), "inplace", False))
    return False


_RED_METHODS = ("sum", "mean")


def _reduction(n, val, env):
    """("sum" or "mean", source node) when node ``n`` reduces one tensor over its last dim, in its dtype
    (a float), on cuda, the row at most 4096 long: an epilogue a fused group can take."""
    from ..ops import reduction
    kind = n.target if n.op == "call_method" and n.target in _RED_METHODS else \
        n.target.__name__ if n.op == "call_function" and n.target in (reduction.sum, reduction.mean) else None
    if kind is None or not n.args or type(val) is not Tensor:
        return None
    src, args, kw = n.args[0], list(n.args[1:]), dict(n.kwargs)
    x = env.get(src)
    if type(x) is not Tensor or x.device.type != "cuda" or not x.dtype.is_floating_point or x.dtype._limited \
            or not x.ndim or not 0 < x._shape[-1] <= 4096 or val.dtype is not x.dtype:
        return None
    dim = args.pop(0) if args else kw.pop("dim", None)
    keep = args.pop(0) if args else kw.pop("keepdim", False)
    if args or kw or type(keep) is not bool or (dim if type(dim) is int else dim[0] if type(dim) in (list, tuple)
                                                 and len(dim) == 1 else None) not in (-1, x.ndim - 1):
        return None
    if val._shape != x._shape[:-1] + ((1,) if keep else ()):
        return None
    return kind, src


def _broadcasts(small, big):
    """Whether shape ``small`` broadcasts to ``big`` (every dim equal or 1, missing leading dims)."""
    return len(small) <= len(big) and all(a == b or a == 1 for a, b in zip(small[::-1], big[::-1]))


def _runs_last(members, n, users, order):
    """Whether ``members`` plus ``n`` may run as one kernel at ``n``: every user of a member placed
    before ``n`` is a member."""
    return all(u is n or order[u] > order[n] or u in members for m in members for u in users[m])


def _runner(g, gm, i):
    """The function a rewritten graph calls for group ``g``: its outputs, as a tuple."""
    def fused(*ins):
        if grad_mode._state["enabled"] and any(t.requires_grad for t in ins):
            if not g.float_outs:        # (an integer or bool output has no gradient: the nodes as they were)
                return tuple(g.eager(gm, ins))
            outs = _FusedFunction.apply(g, gm, *ins)
            return outs if isinstance(outs, tuple) else (outs,)
        return g.launch(ins)
    fused.__name__ = fused.__qualname__ = f"fused_group_{i}"
    fused.group = g
    return fused


class Compiled:
    """The callable ``compile_fx`` returns. Its first call runs ``gm`` eagerly and captures; then ``run``
    is ``gm`` rewritten with one call per fused group (its Python code, so little host time a call)."""

    def __init__(self, gm):
        self.gm = gm
        self.run = None
        self.groups = []

    def __call__(self, *args):
        if self.run is None:
            return self._capture(args)
        return self.run(*args)

    def _capture(self, args):
        """The first call: run eagerly, observing launches; then build the groups and steps."""
        gm = self.gm
        env, it, fusable, reds, result, seen = {}, iter(args), {}, {}, None, {}
        nodes = list(gm.graph.nodes)
        with _dynamo._compiling(), _Recorder() as rec:
            for n in nodes:
                if n.op == "placeholder":
                    env[n] = next(it)
                elif n.op == "output":
                    result = map_arg(n.args[0], env.__getitem__)
                else:
                    rec.calls = []
                    env[n] = run_node(gm, n, env)
                    srcs = _fusable(n, env[n], rec.calls, env)
                    if srcs is not None:
                        fusable[n] = (rec.calls[0], srcs)
                        seen[n] = [(t, t._version) for t in rec.calls[0][2] if type(t) is Tensor]
                    elif n.op in ("call_function", "call_method"):
                        red = _reduction(n, env[n], env)
                        if red is not None:
                            reds[n] = red + (env[n],)
        users = {n: list(n.users) for n in nodes}
        order = {n: i for i, n in enumerate(nodes)}
        # a group reads its inputs when it runs, at its last node: not where a later node writes one of them
        if any(_mutates(gm, n) for n in nodes) or any(t._version != v for s in seen.values() for t, v in s):
            fusable = {}
        sets = {}           # node -> the set (a Python set) of fusable nodes it runs with
        shape_of = {}       # id(set) -> the shape its kernel runs over
        for n in nodes:
            if n not in fusable:
                continue
            call, srcs = fusable[n]
            out = call[1]
            cands = []
            for src in srcs:
                c = sets.get(src)
                if c is None or any(c is d for d in cands) or fusable[src][0][1].device != out.device:
                    continue
                # a set of a smaller shape broadcast to n's is recomputed at n's elements: where none of its
                # values is needed outside it but by n
                if shape_of[id(c)] == out._shape or _broadcasts(shape_of[id(c)], out._shape) and all(
                        u is n or u in c for m in c for u in users[m]):
                    cands.append(c)
            merged = set().union(*cands) if cands else set()
            if len(merged) >= MAX_GROUP or not _runs_last(merged, n, users, order):
                merged = next((c for c in cands if len(c) < MAX_GROUP and _runs_last(c, n, users, order)), set())
            merged.add(n)
            shape_of[id(merged)] = out._shape
            for m in merged:
                sets[m] = merged
        epilogue = {}       # id(set) -> the reduction node it ends with (all its members before it)
        for r, (kind, src, val) in reds.items():
            c = sets.get(src)
            if c is not None and id(c) not in epilogue and len(c) < MAX_GROUP and \
                    env[src]._shape == shape_of[id(c)] and \
                    max(order[m] for m in c) < order[r] and _runs_last(c, r, users, order):
                epilogue[id(c)] = r
        groups, group_of = [], {}
        for n in nodes:
            if n in sets and n not in group_of:
                g = Group(shape_of[id(sets[n])], fusable[n][0][1].device)
                groups.append(g)
                for m in sorted(sets[n], key=order.__getitem__):
                    g.add(m, *fusable[m])
                    group_of[m] = g
                r = epilogue.get(id(sets[n]))
                if r is not None:
                    g.add_reduction(r, reds[r][0], reds[r][1], reds[r][2])
                    group_of[r] = g
        groups = [g for g in groups if len(g.members) > 1]     # (one op: its own launch is as good)
        group_of = {m: g for g in groups for m in g.members}
        for g in groups:
            g.finish(users)
        self.groups = groups
        self.run = self._rewrite(nodes, groups, group_of) if groups else gm
        return result

    def _rewrite(self, nodes, groups, group_of):
        """A GraphModule running each group as one call at its last member, the other nodes as they are."""
        from ..fx import Graph, GraphModule
        last = {g.members[-1]: g for g in groups}
        new, vmap = Graph(), {}
        for n in nodes:
            if n in last:
                g = last[n]
                r = new.call_function(_runner(g, self.gm, groups.index(g)), tuple(vmap[i] for i in g.inputs))
                for k, m in enumerate(g.out_nodes):
                    vmap[m] = new.call_function(operator.getitem, (r, k))
            elif n not in group_of:
                vmap[n] = new.node_copy(n, vmap.__getitem__)
        return GraphModule(self.gm, new)


def compile_fx(gm, example_inputs):
    """PyTorch's ``torch._inductor.compile_fx``: a callable running ``gm`` with its elementwise chains
    fused (on cuda; cpu nodes run eagerly). It captures on its first call."""
    return Compiled(gm)
