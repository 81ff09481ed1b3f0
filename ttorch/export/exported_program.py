"""ExportedProgram: an exported graph, its signature and the state it reads (PyTorch's ``torch.export``).

The graph takes parameters, buffers and constants as its first placeholders (``graph_signature`` says
which); ``module()`` turns it back into a callable GraphModule that holds them under their original names and
checks its inputs as PyTorch's guards do. Differences from PyTorch: the graph's nodes are ttorch's public
functions and Tensor methods (ttorch ops are its primitives, so ``run_decompositions`` changes no node: it only
adds the BUFFER_MUTATION/USER_INPUT_MUTATION outputs of the values mutated in place); no verifier dialects.
"""
import collections
import dataclasses
import operator
import re

from .._tensor import Tensor
from ..nn import Module
from .graph_signature import InputKind, OutputKind, OutputSpec, TensorArgument, ExportGraphSignature
from ._pytree import flatten, unflatten

CallSpec = collections.namedtuple("CallSpec", ["in_spec", "out_spec"])
_ABBR = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16", "int64": "i64", "int32": "i32",
         "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "b8", "complex64": "c64", "complex128": "c128"}


class CustomDecompTable(dict):
    """The table ``run_decompositions`` takes; ttorch's ops are its primitives, so it starts empty."""


def default_decompositions():
    """PyTorch's default decomposition table: empty in ttorch (nothing below ttorch's ops to decompose to)."""
    return CustomDecompTable()


class SpecViolationError(Exception):
    """``ExportedProgram.validate`` found the graph and its signature inconsistent."""


@dataclasses.dataclass
class ModuleCallSignature:
    inputs: list
    outputs: list
    in_spec: object
    out_spec: object
    forward_arg_names: list = None


@dataclasses.dataclass
class ModuleCallEntry:
    fqn: str
    signature: object = None


class _Guards(Module):
    """The input checks of ``ExportedProgram.module()``: static sizes, dynamic ranges, equal dims, constants."""

    def __init__(self, specs, ranges):
        super().__init__()
        self._specs, self._ranges = specs, ranges

    def forward(self, *flat):
        from .dynamic_shapes import _Symbol, int_oo
        seen = {}
        for (name, kind, info), x in zip(self._specs, flat):
            if kind == "constant":
                if not isinstance(x, Tensor) and x != info:
                    raise AssertionError(f"Guard failed: {name} == {info!r}")
                continue
            if not isinstance(x, Tensor):
                raise RuntimeError(f"Expected input {name} to be a tensor, but got {type(x).__name__}")
            for i, s in enumerate(info[:x.dim()]):
                n, where = x.shape[i], f"{name}.size()[{i}]"
                if not isinstance(s, _Symbol):
                    if n != s:
                        raise AssertionError(f"Guard failed: {where} == {s}")
                    continue
                r = self._ranges[s.base]
                if r.upper != int_oo and n > s.a * r.upper + s.b:
                    raise AssertionError(f"Guard failed: {where} <= {s.a * r.upper + s.b}")
                if n < s.a * r.lower + s.b:
                    raise AssertionError(f"Guard failed: {where} >= {s.a * r.lower + s.b}")
                first = seen.setdefault(s.base, (where, s, n))
                if first[2] != n and (n - s.b) * first[1].a != (first[2] - first[1].b) * s.a:
                    raise AssertionError(f"Guard failed: {_relation(first[0], first[1], where, s)}")


def _relation(w1, s1, w2, s2):
    """PyTorch's text of ``w2``'s size relation to ``w1``'s (same root): ``-1 + x.size()[0] == y.size()[0]``."""
    if (s1.a, s1.b, s2.a, s2.b) == (1, 0, 1, 0):
        return f"{w2} == {w1}"
    root = w1 if s1.a == 1 and s1.b == 0 else f"{-s1.b} + {w1}" if s1.a == 1 else f"({w1} - {s1.b})/{s1.a}"
    rhs = root if (s2.a, s2.b) == (1, 0) else f"{s2.a}*({root}) + {s2.b}" if s2.a != 1 else f"{s2.b} + {root}"
    return f"{rhs} == {w2}"


def _no_train(self, mode=True):
    raise NotImplementedError("Calling train() is not supported yet.")


def _no_eval(self):
    raise NotImplementedError("Calling eval() is not supported yet.")


def _tree_flatten_spec(args_kwargs, spec):
    """The user inputs as the flat list the graph takes; PyTorch's error when their structure differs."""
    args, kwargs = args_kwargs
    expected = list(spec.children[1].context)
    given = [k for k, c in zip(expected, spec.children[1].children) if not (c.is_leaf() and kwargs.get(k) is None)]
    if given != expected:
        raise ValueError(f"Ran into a kwarg keyword mismatch: Got the following keywords {given} but expected "
                         f"{expected}")
    leaves, got = flatten(args_kwargs)
    if got != spec:
        raise ValueError(f"Trying to flatten user inputs with exported input tree spec: \n{spec}\nbut actually got "
                         f"inputs with tree spec of: \n{got}.\nPlease check that the inputs have the same number and "
                         "type of args and kwargs as the ones you used when tracing.")
    return tuple(leaves)


def _tree_unflatten(leaves, spec):
    return unflatten(list(leaves), spec)


def _plain(spec):
    # structures fx's output node can hold directly (dataclasses go through _tree_unflatten)
    return spec.type in (None, tuple, list, dict, type(None)) and all(_plain(c) for c in spec.children)


def _type_str(node, symbols):
    v = node.meta.get("val")
    shape = node.meta.get("_sym_shape")
    if hasattr(v, "dtype") and hasattr(v, "shape"):
        dims = shape if shape is not None else [
            symbols.get(s, s) if node.meta.get("_dyn") else s for s in v.shape]
        return f'"{_ABBR.get(v.dtype.name, v.dtype.name)}[{", ".join(str(d) for d in dims)}]"'
    if isinstance(v, int) and not isinstance(v, bool) and node.meta.get("_dyn"):
        return f'"Sym({symbols.get(v, v)})"'
    return None


_TRACE = re.compile(r'File "(.*)", line (\d+), in (\S+)\n\s*(.*)')


class ExportedProgram:
    """The result of ``ttorch.export.export``: ``graph_module``, ``graph_signature``, ``state_dict``...

    Call ``module()`` to run it; calling the program itself raises, as in PyTorch.
    """

    def __init__(self, root, graph, graph_signature, state_dict, range_constraints, module_call_graph=None,
                 example_inputs=None, constants=None, *, verifiers=None):
        from ..fx import GraphModule
        self._graph_module = GraphModule(root, graph, "GraphModule")
        self._graph_signature = graph_signature
        self._state_dict = state_dict
        self._range_constraints = range_constraints
        self._example_inputs = example_inputs
        self._constants = constants if constants is not None else {}
        self._module_call_graph = module_call_graph
        self._in_spec = self._out_spec = None
        self._guards, self._mutated, self._forward_arg_names, self._training = [], set(), [], True

    graph_module = property(lambda self: self._graph_module)
    graph = property(lambda self: self._graph_module.graph)
    graph_signature = property(lambda self: self._graph_signature)
    state_dict = property(lambda self: self._state_dict)
    constants = property(lambda self: self._constants)
    tensor_constants = constants
    example_inputs = property(lambda self: self._example_inputs)
    range_constraints = property(lambda self: self._range_constraints)
    dialect = property(lambda self: getattr(self, "_dialect", "TRAINING"))
    call_spec = property(lambda self: CallSpec(self._in_spec, self._out_spec))

    @property
    def module_call_graph(self):
        if self._module_call_graph is None:
            sig = ModuleCallSignature([], [], self._in_spec, self._out_spec, list(self._forward_arg_names))
            return [ModuleCallEntry("", sig)]
        return self._module_call_graph

    def named_parameters(self):
        for s in self.graph_signature.input_specs:
            if s.kind == InputKind.PARAMETER:
                yield s.target, self.state_dict[s.target]

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self):
        for s in self.graph_signature.input_specs:
            if s.kind == InputKind.BUFFER:
                yield s.target, (self.state_dict if s.persistent else self.constants)[s.target]

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def _state_of(self, spec):
        if spec.kind == InputKind.PARAMETER or (spec.kind == InputKind.BUFFER and spec.persistent):
            return self.state_dict[spec.target]
        return self.constants[spec.target]

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Unable to call ExportedProgram directly. You should use `exported_program.module()` "
                           "instead.")

    # ------------------------------------------------------------------ module()
    def module(self, check_guards=True):
        """A GraphModule taking the user's inputs; parameters and buffers are the program's own objects."""
        from ..fx import Graph, GraphModule
        g, env, sig = Graph(), {}, self.graph_signature
        spec = self._in_spec
        n_args = len(spec.children[0].children)
        kw_names = list(spec.children[1].context)
        # keyword inputs default to None, so that a missing one gets PyTorch's message (_tree_flatten_spec)
        tops = [g.placeholder(n, default_value=None) if i >= n_args else g.placeholder(n)
                for i, n in enumerate(self._forward_arg_names)]
        if all(c.is_leaf() for c in spec.children[0].children + spec.children[1].children):
            leaves = tops
        else:
            flat = g.call_function(_tree_flatten_spec, (
                (tuple(tops[:n_args]), dict(zip(kw_names, tops[n_args:]))), g.get_attr("_in_spec")))
            leaves = [g.call_function(operator.getitem, (flat, i)) for i in range(spec.num_leaves)]
        root = {"_in_spec": spec, "_out_spec": self._out_spec}
        if check_guards and self._guards:
            root["_guards_fn"] = _Guards(self._guards, self.range_constraints)
            g.call_module("_guards_fn", tuple(leaves))
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        user = iter(leaves)
        for s, n in zip(sig.input_specs, placeholders):
            if s.kind == InputKind.USER_INPUT:
                env[n] = next(user)
            else:
                root[s.target] = self._state_of(s)
                env[n] = g.get_attr(s.target)
        for n in self.graph.nodes:
            if n.op == "output":
                outs = [env.get(a, a) if hasattr(a, "op") else a for a, s in zip(n.args[0], sig.output_specs)
                        if s.kind in (OutputKind.USER_OUTPUT, OutputKind.LOSS_OUTPUT)]
                if _plain(self._out_spec):
                    g.output(unflatten(outs, self._out_spec))
                else:
                    g.output(g.call_function(_tree_unflatten, (tuple(outs), g.get_attr("_out_spec"))))
            elif n.op != "placeholder":
                env[n] = g.node_copy(n, lambda a: env[a])
        gm = GraphModule(root, g, "GraphModule")
        # the mode was fixed when exporting (PyTorch 2.13 refuses to switch it the same way)
        type(gm).train, type(gm).eval = _no_train, _no_eval
        return gm

    # ------------------------------------------------------------------ passes
    def run_decompositions(self, decomp_table=None, decompose_custom_triton_ops=False):
        """An equivalent program; values mutated in place become BUFFER_MUTATION/USER_INPUT_MUTATION outputs.

        ttorch's ops are already the primitives, so no node is decomposed (``decomp_table`` is not used).
        """
        from ..fx import Graph
        g, val_map = Graph(), {}
        outs = g.graph_copy(self.graph, val_map)
        by_name = {n.name: n for n in g.nodes}
        specs, extra = [], []
        for s in self.graph_signature.input_specs:
            name = getattr(s.arg, "name", None)
            if name in self._mutated:
                kind = OutputKind.BUFFER_MUTATION if s.kind == InputKind.BUFFER else \
                    OutputKind.PARAMETER_MUTATION if s.kind == InputKind.PARAMETER else OutputKind.USER_INPUT_MUTATION
                target = s.target if s.kind != InputKind.USER_INPUT else name
                specs.append(OutputSpec(kind, TensorArgument(name), target))
                extra.append(by_name[name])
        old = [s for s in self.graph_signature.output_specs
               if s.kind not in (OutputKind.BUFFER_MUTATION, OutputKind.PARAMETER_MUTATION,
                                 OutputKind.USER_INPUT_MUTATION)]
        skip = len(self.graph_signature.output_specs) - len(old)
        g.output(tuple(extra) + tuple(outs[skip:]))
        sig = ExportGraphSignature([dataclasses.replace(s, arg=dataclasses.replace(s.arg))
                                    for s in self.graph_signature.input_specs], specs + old)
        ep = ExportedProgram(Module(), g, sig, self.state_dict, self.range_constraints,
                             self._module_call_graph, self.example_inputs, self.constants)
        for k in ("_in_spec", "_out_spec", "_guards", "_mutated", "_forward_arg_names", "_training"):
            setattr(ep, k, getattr(self, k))
        ep._dialect = "ATEN"
        return ep

    def validate(self):
        """Check that the graph, its signature and the state agree; raises SpecViolationError."""
        try:
            self.graph.lint()
        except RuntimeError as e:
            raise SpecViolationError(str(e)) from None
        sig = self.graph_signature
        names = [n.name for n in self.graph.nodes if n.op == "placeholder"]
        if names != [getattr(s.arg, "name", None) for s in sig.input_specs]:
            raise SpecViolationError(f"Graph placeholders {names} do not match the signature's inputs "
                                     f"{[getattr(s.arg, 'name', None) for s in sig.input_specs]}")
        outputs = next(iter(reversed(self.graph.nodes))).args[0]
        if len(outputs) != len(sig.output_specs):
            raise SpecViolationError(f"The graph returns {len(outputs)} values but the signature lists "
                                     f"{len(sig.output_specs)} outputs")
        nodes = {n.name: n for n in self.graph.nodes}
        for s in sig.input_specs:
            if s.kind == InputKind.USER_INPUT:
                continue
            try:
                t = self._state_of(s)
            except KeyError:
                raise SpecViolationError(f"{s.kind.name} '{s.target}' is missing from the program's state") from None
            meta = nodes[s.arg.name].meta.get("val")
            if meta is not None and tuple(meta.shape) != tuple(t.shape):
                raise SpecViolationError(f"{s.kind.name} '{s.target}' has shape {tuple(t.shape)} but the graph "
                                         f"expects {tuple(meta.shape)}")

    # ------------------------------------------------------------------ printing
    def _readable(self):
        symbols = {}
        for r in self._guards:
            if r[1] == "tensor":
                ph = next(n for n in self.graph.nodes if n.op == "placeholder" and n.name == r[0])
                for s, v in zip(r[2], ph.meta["val"].shape):
                    if isinstance(s, str):
                        symbols.setdefault(v, s)
        nodes = {n.name: n for n in self.graph.nodes}
        head, *body = self.graph_module.code.strip("\n").rstrip().split("\n")
        params = [(n.name, _type_str(n, symbols)) for n in self.graph.nodes if n.op == "placeholder"]
        args = ", ".join(["self"] + [f"{n}: {t}" if t else n for n, t in params])
        lines, last = [f"def forward({args}):"], None
        for line in body:
            m = re.match(r"    (\w+) = (.*)", line)
            node = nodes.get(m.group(1)) if m else None
            if node is not None and node.op != "placeholder":
                trace = _TRACE.match(node.meta.get("stack_trace") or "")
                comment = (f"# File: {trace.group(1)}:{trace.group(2)} in {trace.group(3)}, code: {trace.group(4)}"
                           if trace else "# No stacktrace found for following nodes")
                if comment != last:
                    lines += ([""] if last is not None else []) + ["    " + comment]
                    last = comment
                t = _type_str(node, symbols)
                line = f"    {m.group(1)}: {t} = {m.group(2)}" if t else line
            lines.append(line)
        return "class GraphModule(torch.nn.Module):\n" + "\n".join("    " + ln if ln else ln for ln in lines)

    def __str__(self):
        def indent(text):
            return "\n".join("    " + ln if ln else ln for ln in text.split("\n"))
        ranges = "{" + ", ".join(f"{k}: {v}" for k, v in self.range_constraints.items()) + "}"
        return (f"ExportedProgram:\n{indent(self._readable())}\n\nGraph signature: "
                f"{indent(str(self.graph_signature))}\nRange constraints: {ranges}\n")

    __repr__ = __str__
