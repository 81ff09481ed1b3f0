"""``export``: the inputs, state and dynamic dimensions around one ``_ExportTracer`` run (see ``_trace``)."""
import inspect

from .._tensor import Tensor
from ..fx._symbolic_trace import _patch_globals
from ._trace import _ExportTracer


def _patch_private_functional(patcher):
    """Record ``F``'s private entry points too: modules call them (``F._linear_act``, fused linear+act)."""
    import ttorch.nn.functional as F
    from ..fx._symbolic_trace import _record_or_call
    for name, fn in list(vars(F).items()):
        if name.startswith("_") and not name.startswith("__") and inspect.isfunction(fn) \
                and fn.__module__.startswith("ttorch.nn.functional"):
            patcher.patch(vars(F), name, _record_or_call(fn))


def _leaf_names(value, prefix, out):
    """PyTorch's placeholder names of a nested input: ``pair_0``, ``cfg_scale``."""
    from ._pytree import _children
    n = _children(value)
    if n is None:
        out.append(prefix)
        return
    _, ctx, children = n
    keys = ctx if isinstance(ctx, list) and len(ctx) == len(children) else range(len(children))
    for k, c in zip(keys, children):
        _leaf_names(c, f"{prefix}_{k}", out)


def _bind(mod, args, kwargs):
    """The forward's argument names of ``args`` then ``kwargs`` (PyTorch's order)."""
    try:
        params = list(inspect.signature(mod.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    names, i = [], 0
    for p in params:
        if i >= len(args):
            break
        if p.kind == p.VAR_POSITIONAL:
            names += [f"{p.name}_{j}" for j in range(len(args) - i)]
            i = len(args)
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
            i += 1
    names += [f"args_{j}" for j in range(i, len(args))]
    return names + list(kwargs)


class DraftExportReport:
    """What ``draft_export`` had to assume: one ``(expression, where)`` per data-dependent decision."""

    def __init__(self, failures):
        self.failures = failures

    def successful(self):
        return not self.failures

    def __str__(self):
        if not self.failures:
            return "No issues found."
        lines = [f"WARNING: {len(self.failures)} issue(s) found during export, and it was not able to soundly "
                 "produce a graph.", ""]
        for i, (expr, where) in enumerate(self.failures, 1):
            lines += [f"{i}. Data dependent error.", f"    When exporting, we were unable to evaluate the value of "
                      f"`{expr}`.", "    This occurred at the following user stacktrace:",
                      "        " + where.replace("\n", "\n        "),
                      "    As a result, it was specialized to the example's value, and asserts were inserted "
                      "into the graph.", ""]
        return "\n".join(lines)


def draft_export(mod, args, kwargs=None, *, dynamic_shapes=None, preserve_module_call_signature=(), strict=False):
    """``export`` that does not stop at data-dependent control flow: it takes the example's branch, leaves a
    run-time check in the graph and lists each such decision in ``ep._report`` (a ``DraftExportReport``)."""
    return export(mod, args, kwargs, dynamic_shapes=dynamic_shapes, _draft=True)


def export(mod, args, kwargs=None, *, dynamic_shapes=None, strict=False, preserve_module_call_signature=(),
           prefer_deferred_runtime_asserts_over_guards=False, _draft=False):
    """Trace ``mod(*args, **kwargs)`` into an ``ExportedProgram`` (a graph plus the state it reads).

    Args:
        mod (nn.Module): the module; it is not changed (its buffers keep their values).
        args (tuple): example positional inputs (tensors, nested tuples/lists/dicts, Python constants).
        kwargs (dict, optional): example keyword inputs.
        dynamic_shapes (dict or tuple, optional): the dynamic dimensions (``Dim``) per input.
        strict (bool): accepted; ttorch always traces in Python (PyTorch's non-strict mode).
        preserve_module_call_signature (tuple): accepted and not used (``unflatten`` splits every submodule
            called once).

    Differences from PyTorch: see ``ttorch.export._trace`` (nodes are ttorch functions and Tensor methods;
    one trace with real example values, no fake tensors or symbolic shape reasoning).

    Example::

        >>> import ttorch
        >>> ep = ttorch.export.export(ttorch.nn.Linear(3, 2), (ttorch.ones(4, 3),))
        >>> ep.graph_signature.parameters
        ('weight', 'bias')
    """
    from ..nn import Module
    from .dynamic_shapes import _resolve, UserError, Dim, _Symbol, ValueRanges, int_oo, ConstraintViolationError
    from .graph_signature import (ExportGraphSignature, InputSpec, OutputSpec, InputKind, OutputKind,
                                  TensorArgument, SymIntArgument, ConstantArgument)
    from .exported_program import ExportedProgram
    from ._pytree import flatten, unflatten
    if not isinstance(mod, Module):
        raise ValueError(f"Expected `mod` to be an instance of `torch.nn.Module`, got {type(mod)}.")
    if not isinstance(args, tuple):
        raise UserError(f"Expecting `args` to be a tuple of example positional inputs, got {type(args)}")
    kwargs = dict(kwargs or {})
    names = _bind(mod, args, kwargs)
    all_args = tuple(args) + tuple(kwargs.values())
    dyn = _resolve(names, all_args, dynamic_shapes)
    flat_in, in_spec = flatten((tuple(args), kwargs))
    leaf_names = []
    for name, a in zip(names, all_args):
        _leaf_names(a, name, leaf_names)

    tracer = _ExportTracer(mod)
    if _draft:
        tracer.draft = []
    input_specs, tracked = [], []     # tracked: placeholders whose in-place changes become mutations

    def lift(prefix, fqn, t):
        p = tracer.placeholder(prefix + fqn.replace(".", "_"), t.detach().clone())
        tracer.state[id(t)] = p
        tracked.append(p.node)
        return p.node.name
    for fqn, p in mod.named_parameters():
        input_specs.append(InputSpec(InputKind.PARAMETER, TensorArgument(lift("p_", fqn, p)), fqn))
    non_persistent = {f"{n}.{b}" if n else b for n, m in mod.named_modules() for b in m._non_persistent_buffers_set}
    for fqn, b in mod.named_buffers():
        input_specs.append(InputSpec(InputKind.BUFFER, TensorArgument(lift("b_", fqn, b)), fqn,
                                     persistent=fqn not in non_persistent))
    n_state = len(input_specs)

    symbols, range_constraints, guards, user, roots = {}, {}, [], [], {}
    for name, leaf, dims in zip(leaf_names, flat_in, dyn):
        if isinstance(leaf, Tensor):
            p = tracer.placeholder(name, leaf.detach().clone(), dyn=bool(dims))
            shape = list(leaf.shape)
            for d, s in dims.items():
                root = s.root if isinstance(s, Dim) else s
                key = root.__name__ if isinstance(s, Dim) else (len(guards), d)     # each hint: its own size
                if key not in symbols:
                    symbols[key] = _Symbol(f"s{len(symbols)}")
                    lo, hi = (root.min, root.max) if isinstance(s, Dim) else \
                        (2 if s.min is None else s.min, int_oo if s.max is None else s.max)
                    range_constraints[symbols[key]] = ValueRanges(lo, hi)
                    roots[key] = (f"{name}.size()[{d}]", s, leaf.shape[d])
                shape[d] = symbols[key].derived(s._a, s._b) if isinstance(s, Dim) else symbols[key]
                if shape[d] not in range_constraints:
                    range_constraints[shape[d]] = ValueRanges(s.min, s.max)
                where, s0, n0 = roots[key]
                if isinstance(s, Dim) and (leaf.shape[d] - s._b) * s0._a != (n0 - s0._b) * s._a:
                    raise ConstraintViolationError(
                        f"Expected {name}.size()[{d}] = {leaf.shape[d]} to be {s.__name__} where {where} = {n0} "
                        f"is {s0.__name__}")
            if dims:
                p.node.meta["_dyn_dims"] = set(dims)
            p.node.meta["_sym_shape"] = shape
            tracked.append(p.node)
            guards.append((name, "tensor", shape))
            node, arg = p.node, TensorArgument(p.node.name)
            user.append(p)
        else:
            node = tracer.graph.placeholder(name)
            guards.append((name, "constant", leaf))
            arg = ConstantArgument(node.name, leaf)
            user.append(leaf)
        if tracer.first_user is None:
            tracer.first_user = node
        input_specs.append(InputSpec(InputKind.USER_INPUT, arg, None))
    versions = {n: tracer._values[n]._version for n in tracked}
    call_args, call_kwargs = unflatten(user, in_spec)
    fwd = type(mod).forward

    def root_forward(*a, **k):
        # what ``call_module`` does for submodules, for the root (its forward is called directly)
        _patch_globals(tracer._patcher, getattr(fwd, "__globals__", None))
        tracer._patch_class(type(mod))
        for m in mod.modules():       # functions kept as attributes (``self.activation = F.relu``)
            _patch_globals(tracer._patcher, vars(m))
        _patch_private_functional(tracer._patcher)
        return fwd(*a, **k)
    tracer._run_patched(root_forward, [mod] + list(call_args), call_kwargs)

    # lifted constants were inserted ahead of the user inputs while tracing
    const_specs = [InputSpec(InputKind.CONSTANT_TENSOR, TensorArgument(n.name), n.meta["_state"][1])
                   for n in tracer.graph.nodes if n.op == "placeholder" and "_state" in n.meta]
    input_specs[n_state:n_state] = const_specs
    mutated = {n.name for n, v in versions.items() if tracer._values[n]._version != v}
    for n in tracer.graph.nodes:
        if n.op == "placeholder" and n in tracer._values:
            tracer._annotate(n)
        n.meta.pop("_state", None)
    output_node = next(iter(reversed(tracer.graph.nodes)))
    output_specs = []
    for i, o in enumerate(output_node.args[0]):
        if not hasattr(o, "op"):
            arg = ConstantArgument("", o)
        elif isinstance(tracer._values.get(o), Tensor):
            arg = TensorArgument(o.name)
        else:
            arg = SymIntArgument(o.name)
        output_specs.append(OutputSpec(OutputKind.USER_OUTPUT, arg, None))
    tracer._values.clear()

    state_dict, constants = {}, dict(tracer.constants)
    owned = {**dict(mod.named_parameters()), **dict(mod.named_buffers())}
    for s in input_specs:
        if s.kind == InputKind.PARAMETER or (s.kind == InputKind.BUFFER and s.persistent):
            state_dict[s.target] = owned[s.target]
        elif s.kind == InputKind.BUFFER:
            constants[s.target] = owned[s.target]
    ep = ExportedProgram(Module(), tracer.graph, ExportGraphSignature(input_specs, output_specs), state_dict,
                         range_constraints, example_inputs=(tuple(args), kwargs), constants=constants)
    ep._in_spec, ep._out_spec, ep._guards, ep._mutated = in_spec, tracer.out_spec, guards, mutated
    ep._forward_arg_names = names
    ep._training = mod.training
    if _draft:
        ep._report = DraftExportReport(tracer.draft)
    return ep
