"""``unflatten``: an ExportedProgram back as nested modules (PyTorch's ``torch.export.unflatten``).

Every node remembers the modules it was traced in (``meta["nn_module_stack"]``); each submodule called once
becomes a GraphModule of its own nodes, holding its parameters and buffers, called from its parent's graph
(``call_module``), so ``unflat.encoder.layer0`` exists again and can be run or replaced by a module with the
same calling convention. A submodule called several times stays inlined in its parent (its parameters are
still registered under their names); PyTorch would make it a shared submodule.
"""
import operator

from ..fx import Graph, GraphModule
from ..nn import Module
from .graph_signature import InputKind, OutputKind


class FlatArgsAdapter:
    """Adapts flat inputs whose structure differs from the exported one (subclass and override ``adapt``)."""

    def adapt(self, target_spec, input_spec, input_args, metadata=None, obj=None):
        raise NotImplementedError


def _child_of(node, depth):
    stack = list((node.meta.get("nn_module_stack") or {}).values())
    return stack[depth][0] if len(stack) > depth else None


def _runs(nodes, depth):
    """Consecutive nodes grouped by the submodule (at ``depth``) they ran in: [(path or None, [nodes])]."""
    runs = []
    for n in nodes:
        c = _child_of(n, depth)
        if runs and runs[-1][0] == c:
            runs[-1][1].append(n)
        else:
            runs.append((c, [n]))
    repeated = {c for c in {r[0] for r in runs} if c is not None and sum(r[0] == c for r in runs) > 1}
    # a module called more than once stays inline: its nodes belong to this level
    merged = []
    for c, ns in runs:
        c = None if c in repeated else c
        if merged and merged[-1][0] is None and c is None:
            merged[-1][1].extend(ns)
        else:
            merged.append((c, list(ns)))
    return merged


def _region(nodes, path, depth, state_nodes, state, inputs, outputs, module_cls=GraphModule, class_name=None):
    """A GraphModule running ``nodes`` of module ``path``: takes ``inputs``, returns ``outputs``."""
    g, env, root = Graph(), {}, {}
    prefix = path + "." if path else ""
    for x in inputs:
        env[x] = g.placeholder(x.name)

    def get(a):
        if a not in env:
            target = state_nodes[a]
            env[a] = g.get_attr(target[len(prefix):])
            root[target[len(prefix):]] = state[target]
        return env[a]
    runs = _runs(nodes, depth)
    for i, (child, run) in enumerate(runs):
        if child is None:
            for n in run:
                env[n] = g.node_copy(n, get)
            continue
        run_set = set(run)
        later = set(outputs)
        for _, r2 in runs[i + 1:]:
            for n in r2:
                later.update(n.all_input_nodes)
        ins, seen = [], set()
        for n in run:
            for a in n.all_input_nodes:
                if a not in run_set and a not in seen and not (
                        a in state_nodes and state_nodes[a].startswith(child + ".")):
                    seen.add(a)
                    ins.append(a)
        outs = [n for n in run if n in later]
        name = child[len(prefix):]
        sub = _region(run, child, depth + 1, state_nodes, state, ins, outs)
        root[name] = sub
        call = g.call_module(name, tuple(get(a) for a in ins))
        if len(outs) == 1:
            env[outs[0]] = call
        else:
            for j, o in enumerate(outs):
                env[o] = g.call_function(operator.getitem, (call, j))
    result = [env[o] if hasattr(o, "op") else o for o in outputs]
    g.output(result[0] if len(result) == 1 and depth > 0 else tuple(result))
    # parameters of this module that no node read still belong to it
    for target, t in state.items():
        if target.startswith(prefix) and "." not in target[len(prefix):]:
            root.setdefault(target[len(prefix):], t)
    gm = module_cls(root, g, class_name or "InterpreterModule")
    for target in root:
        if not target.startswith("_") and "." not in target and target in state:
            _register(gm, target, root[target])
    return gm


def _register(gm, name, t):
    from ..nn import Parameter
    if isinstance(t, Parameter):
        if name not in gm._parameters:
            gm.register_parameter(name, t)
    elif name not in gm._buffers:
        gm.register_buffer(name, t)


class UnflattenedModule(GraphModule):
    """The module hierarchy of an ExportedProgram; ``forward`` takes the user's inputs as ``module()`` does."""

    def recompile(self):
        code = super().recompile()
        cls = type(self)
        cls._run_graph, cls.forward = cls.forward, UnflattenedModule._call
        return code

    def _call(self, *args, **kwargs):
        from .exported_program import _tree_flatten_spec, _tree_unflatten
        flat = _tree_flatten_spec((args, kwargs), self._ep_in_spec)
        if self._ep_guards is not None:
            self._ep_guards(*flat)
        return _tree_unflatten(self._run_graph(*flat), self._ep_out_spec)


def unflatten(module, flat_args_adapter=None):
    """Rebuild the nested module structure of ExportedProgram ``module``.

    Example::

        >>> import ttorch
        >>> net = ttorch.nn.Sequential(ttorch.nn.Linear(3, 4), ttorch.nn.ReLU())
        >>> unflat = ttorch.export.unflatten(ttorch.export.export(net, (ttorch.ones(2, 3),)))
        >>> [(name, type(m).__name__) for name, m in unflat.named_children()]
        [('0', 'InterpreterModule'), ('1', 'InterpreterModule')]
    """
    from .exported_program import _Guards
    ep = module
    sig = ep.graph_signature
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder"]
    state_nodes, state, user = {}, {}, []
    for s, n in zip(sig.input_specs, placeholders):
        if s.kind == InputKind.USER_INPUT:
            user.append(n)
        else:
            state_nodes[n] = s.target
            state[s.target] = ep._state_of(s)
    out_node = next(iter(reversed(ep.graph.nodes)))
    outs = [a for a, s in zip(out_node.args[0], sig.output_specs)
            if s.kind in (OutputKind.USER_OUTPUT, OutputKind.LOSS_OUTPUT)]
    body = [n for n in ep.graph.nodes if n.op not in ("placeholder", "output")]
    unflat = _region(body, "", 0, state_nodes, state, user, outs, UnflattenedModule, "UnflattenedModule")
    unflat._ep_in_spec, unflat._ep_out_spec = ep._in_spec, ep._out_spec
    object.__setattr__(unflat, "_ep_guards", _Guards(ep._guards, ep.range_constraints) if ep._guards else None)
    # containers for nested parameters of modules that have no graph of their own
    for target, t in state.items():
        *path, field = target.split(".")
        mod = unflat
        for p in path:
            if not hasattr(mod, p):
                mod.add_module(p, Module())
            mod = getattr(mod, p)
        if isinstance(mod, Module) and field not in mod._parameters and field not in mod._buffers \
                and field not in mod.__dict__:
            _register(mod, field, t)
    return unflat
