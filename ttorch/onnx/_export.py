"""Lowering a traced graph to ONNX and writing the ModelProto (the body of ``ttorch.onnx.export``)."""
import inspect
import operator

from .. import _dtype
from ..fx.node import map_aggregate, map_arg
from . import _proto as P
from ._graph import CUSTOM, SYMBOLICS, Value
from .errors import OnnxExporterError, UnsupportedOperatorError
from . import _symbolic_tensor, _symbolic_shape, _symbolic_nn, _symbolic_rnn

# importing them fills SYMBOLICS
_SYMBOLIC_MODULES = (_symbolic_tensor, _symbolic_shape, _symbolic_nn, _symbolic_rnn)

# operator functions and the ttorch op each stands for
_OPERATORS = {operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
              operator.floordiv: "floor_divide", operator.pow: "pow", operator.neg: "neg", operator.matmul: "matmul",
              operator.getitem: "getitem", operator.eq: "eq", operator.ne: "ne", operator.lt: "lt",
              operator.le: "le", operator.gt: "gt", operator.ge: "ge", operator.and_: "bitwise_and",
              operator.or_: "bitwise_or", operator.xor: "bitwise_xor", operator.invert: "bitwise_not",
              operator.mod: "remainder", operator.pos: "positive", getattr: "getattr"}
# reading these never needs the graph: their value is fixed by the example inputs' ranks and dtypes
_META = {"dim", "ndimension", "is_floating_point", "is_complex", "element_size", "get_device", "type", "__len__",
         "len", "is_contiguous", "requires_grad_"}


def op_name(node):
    """The name symbolics are registered under: a function's or method's name (in-place ``add_`` -> ``add``)."""
    if node.op == "call_method":
        t = node.target
        return t[:-1] if t.endswith("_") and not t.endswith("__") and t[:-1] in SYMBOLICS else t
    t = node.target
    if t in _OPERATORS:
        return _OPERATORS[t]
    return getattr(t, "__name__", str(t))


def lowerable(opset):
    """``lowerable(fn)``: whether the exporter lowers calls of ``fn`` directly (else the tracer inlines them)."""
    def check(fn):
        if fn in _OPERATORS or hasattr(fn, "__onnx_symbolic__"):
            return True
        name = getattr(fn, "__name__", None)
        return name in SYMBOLICS or _custom(name, opset) is not None
    return check


def _custom(name, opset):
    best = None
    for version, domain, fn in CUSTOM.get(name, ()):
        if version <= opset and (best is None or version > best[0]):
            best = (version, domain, fn)
    return best


def _call_symbolic(g, node, args, kwargs, opset):
    if hasattr(node.target, "__onnx_symbolic__"):        # an autograd Function's ``symbolic(g, *inputs)``
        return node.target.__onnx_symbolic__(g, *args, **kwargs)
    name = op_name(node)
    custom = _custom(name, opset)
    fn = custom[2] if custom else SYMBOLICS.get(name)
    if fn is None:
        raise UnsupportedOperatorError(f"aten::{name}", opset, None)
    target = node.target if node.op == "call_function" else getattr(_tensor_cls(), node.target, None)
    try:
        # Python functions are bound to their signature (keywords then match PyTorch's names); builtins
        # (``math.sqrt``) and operators go positionally
        sig = inspect.signature(target) if inspect.isfunction(target) else None
    except (TypeError, ValueError):
        sig = None
    if sig is not None and not any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            bound = None
        if bound is not None:
            if custom:                 # TorchScript's convention: every schema argument, positionally
                bound.apply_defaults()
                return fn(g, *[v for k, v in bound.arguments.items() if k != "out" and not k.startswith("_")])
            named = dict(bound.arguments)
            if "self" in named:
                named = {"input": named.pop("self"), **named}
            return fn(g, **{k: v for k, v in named.items() if not k.startswith("_")})
    return fn(g, *args, **kwargs)


def _mutates(node):
    """An in-place op: a ``add_``-style method, or a function called with ``inplace=True``."""
    if node.op == "call_method":
        return node.target.endswith("_") and not node.target.endswith("__")
    return node.op == "call_function" and node.kwargs.get("inplace") is True


def _tensor_cls():
    from .._tensor import Tensor
    return Tensor


def _is_tensorish(v):
    Tensor = _tensor_cls()
    found = []
    map_aggregate(v, lambda x: found.append(x) if isinstance(x, Tensor) else x)
    return bool(found)


def _annotate(result, value):
    """Give the Values a symbolic returned the dtypes and example shapes of what eager mode computed."""
    Tensor = _tensor_cls()
    if isinstance(result, Value):
        if isinstance(value, Tensor):
            result.dtype, result.shape = value.dtype, tuple(value.shape)
        elif isinstance(value, (bool, int, float)):
            result.dtype = _dtype.float32 if isinstance(value, float) else _dtype.int64
            result.shape = ()
        return result
    if isinstance(result, (list, tuple)) and isinstance(value, (list, tuple)) and len(result) == len(value):
        items = [_annotate(r, v) for r, v in zip(result, value)]
        return type(value)(*items) if hasattr(value, "_fields") else type(result)(items)     # (values, indices)
    return result


def lower(tracer, graph, g, fold, export_params, keep_initializers_as_inputs):
    """Lower every node the outputs need; returns ``(inputs, outputs, params)`` with graph inputs as Values."""
    Tensor = _tensor_cls()
    values = tracer.values
    nodes = list(graph.nodes)
    out_node = next(n for n in nodes if n.op == "output")
    # what the outputs need; in-place ops count too (their effect reaches later readers of the tensor)
    needed, stack = set(), [out_node] + [n for n in nodes if _mutates(n)]
    while stack:
        n = stack.pop()
        if n not in needed:
            needed.add(n)
            stack.extend(n.all_input_nodes)
    const = {}
    for n in nodes:
        const[n] = n.op == "get_attr" or (n.op.startswith("call_") and all(const[m] for m in n.all_input_nodes))
    params = {id(t): name for name, t in list(tracer.root.named_parameters()) + list(tracer.root.named_buffers())}
    by_id, env, inputs, param_inputs, symbolic_ints = {}, {}, [], [], set()

    def as_value(x):
        if not isinstance(x, Tensor):
            return x
        v = by_id.get(id(x))
        if v is None:
            name = params.get(id(x))
            if name is not None and not export_params:
                v = Value(name, x.dtype, x.shape)
                param_inputs.append(v)
            else:
                v = g.const(x, name=name)
                if name is not None and keep_initializers_as_inputs:
                    param_inputs.append(v)
            by_id[id(x)] = v
        return v

    names = iter(tracer.input_names)
    for n in nodes:
        if n.op == "placeholder":
            x = values[n]
            env[n] = Value(next(names), x.dtype, tuple(x.shape))
            inputs.append(env[n])
            continue
        if n.op == "output" or n not in needed:
            continue
        val = values[n]
        g.scope, g.out = n.name, val
        if n.op == "get_attr" or (const[n] and (fold or not _is_tensorish(val))):
            env[n] = val
            continue
        args = map_arg(n.args, lambda m: map_aggregate(env[m], as_value))
        kwargs = map_arg(n.kwargs, lambda m: map_aggregate(env[m], as_value))
        if not _is_tensorish(val):
            # a number (or tuple of them) is computed in the graph only when it comes from a dynamic shape:
            # a size read, or arithmetic on one; every other one (x.dim(), x.dtype, t.item()...) is the example's
            sym = []
            map_aggregate((args, kwargs), lambda x: sym.append(x) if isinstance(x, Value) and x.name in symbolic_ints
                          else x)
            numeric = (isinstance(val, (int, float)) and not isinstance(val, bool)) or (
                isinstance(val, (list, tuple)) and len(val) > 0 and all(isinstance(v, int) for v in val))
            name = op_name(n)
            reads_shape = name in ("size", "numel") or (name == "getattr" and n.args[1] == "shape")
            if not (g.dynamic and numeric and name not in _META and (reads_shape or sym)):
                env[n] = val
                continue
        if n.op == "call_module":
            mod = tracer.root.get_submodule(n.target)
            fn = SYMBOLICS.get(type(mod).__name__)
            if fn is None:
                raise UnsupportedOperatorError(f"aten::{type(mod).__name__}", g.opset, None)
            g.module_path = n.target
            env[n] = _annotate(fn(g, mod, *args, **kwargs), val)
            continue
        env[n] = _annotate(_call_symbolic(g, n, args, kwargs, g.opset), val)
        if not _is_tensorish(val):
            map_aggregate(env[n], lambda x: symbolic_ints.add(x.name) if isinstance(x, Value) else x)
        elif _mutates(n) and isinstance(n.args[0], type(n)):
            env[n.args[0]] = env[n]        # later reads of the mutated tensor see the new value
    result = map_arg(out_node.args[0], lambda m: map_aggregate(env[m], as_value))
    outputs = []

    def leaf(x):
        if isinstance(x, Value):
            outputs.append(x)
        elif x is not None:
            raise OnnxExporterError(f"ONNX export: the model returned {type(x).__name__} {x!r}; only tensors (in "
                                    "tuples, lists, dicts) can be outputs")
        return x
    map_aggregate(result, leaf)
    return inputs, outputs, param_inputs


def _rename(g, old, new):
    for op_type, ins, outs, *_ in g.nodes:
        for lst in (ins, outs):
            for i, s in enumerate(lst):
                if s == old:
                    lst[i] = new


def finish(g, inputs, outputs, output_names, param_inputs, dynamic_axes, graph_name, producer, doc_string=""):
    """Name the outputs, drop what they do not need, and encode the ModelProto."""
    produced = {o for _, _, outs, *_ in g.nodes for o in outs}
    taken = {v.name for v in inputs} | set(g.initializers)
    final = []
    for i, v in enumerate(outputs):
        want = output_names[i] if i < len(output_names) else (f"output_{i}" if len(outputs) > 1 else "output")
        if v.name in produced and v.name not in {f.name for f in final} and want not in taken | produced:
            _rename(g, v.name, want)
            produced.add(want)
            v.name = want              # a second output of the same value then copies this one
        else:
            g.nodes.append(("Identity", [v.name], [want], {}, "", g.fresh(f"/{want}/Identity")))
        final.append(Value(want, v.dtype, v.shape))
    # dead-code elimination, backwards from the outputs
    live, kept = {v.name for v in final}, []
    for node in reversed(g.nodes):
        if any(o in live for o in node[2]):
            kept.append(node)
            live.update(i for i in node[1] if i)
    kept.reverse()
    inits = [(n, a, et) for n, (a, et) in g.initializers.items() if n in live]

    def info(v):
        axes = dynamic_axes.get(v.name, {})
        if v.shape is None:
            return P.value_info(v.name, P.elem_type(v.dtype), None)
        # with dynamic axes, an output's dims are unknown unless dynamic_axes names some of them (then the
        # others are the example's)
        shape = [axes[d] if d in axes else (None if (g.dynamic and v in final and not axes) else int(s))
                 for d, s in enumerate(v.shape)]
        return P.value_info(v.name, P.elem_type(v.dtype), shape)
    graph_inputs = [info(v) for v in inputs] + [info(v) for v in param_inputs if v.name in live]
    node_bytes = [P.node(t, ins, outs, name=name, attrs=attrs, domain=dom) for t, ins, outs, attrs, dom, name in kept]
    graph = P.graph(node_bytes, graph_name, [P.tensor(n, a, et) for n, a, et in inits], graph_inputs,
                    [info(v) for v in final])
    opsets = {"": g.opset, **g.domains}
    return P.model(graph, opsets, producer[0], producer[1], doc_string)
