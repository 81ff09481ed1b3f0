"""The Python source of a Graph's ``forward`` (PyTorch's ``CodeGen``: same names, layout and ``x = None`` frees).

Differences from PyTorch: no type annotations, pytree specs or stack-trace comments, and no
``torch.fx._symbolic_trace.wrap("...")`` line for wrapped functions (they are bound in the code's globals);
``ttorch`` functions print as ``torch.<name>`` and run with ``torch`` bound to ``ttorch``.
"""
import builtins
import math
import operator

from .node import Node, map_arg, _qualified_name

# the operators PyTorch's code generator writes as Python syntax
_MAGIC = {"add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "floordiv": "{} // {}", "truediv": "{} / {}",
          "mod": "{} % {}", "pow": "{} ** {}", "lshift": "{} << {}", "rshift": "{} >> {}", "and_": "{} & {}",
          "or_": "{} | {}", "xor": "{} ^ {}", "getitem": "{}[{}]", "matmul": "{} @ {}", "eq": "{} == {}",
          "ne": "{} != {}", "lt": "{} < {}", "gt": "{} > {}", "le": "{} <= {}", "ge": "{} >= {}",
          "pos": "+{}", "neg": "-{}", "invert": "~{}"}


def _base_globals():
    import ttorch
    return {"torch": ttorch, "ttorch": ttorch, "device": ttorch.device, "inf": math.inf, "nan": math.nan,
            "NoneType": type(None)}


def _format_target(base, target):
    # dotted paths whose atoms are not identifiers (``layers.0``) go through getattr
    out = base
    for atom in target.split("."):
        out = f"{out}.{atom}" if atom.isidentifier() else f'getattr({out}, "{atom}")'
    return out


class _Emitter:
    def __init__(self, graph):
        from .graph import _Namespace
        self.ns = _Namespace()
        for n in graph.nodes:
            self.ns._used.add(n.name)
        self.globals = _base_globals()

    def add_global(self, obj):
        name = _qualified_name(obj)
        if name.startswith("torch."):
            return name
        if getattr(builtins, getattr(obj, "__name__", ""), None) is obj:
            return obj.__name__
        gname = self.ns.create_name(name, obj)     # PyTorch's hint: the qualified name, ``math.sqrt`` -> ``math_sqrt``
        self.globals[gname] = obj
        return gname

    def repr(self, arg):
        if isinstance(arg, Node):
            return arg.name
        if isinstance(arg, tuple) and hasattr(arg, "_fields"):
            return f"{self.add_global(type(arg))}({', '.join(self.repr(a) for a in arg)})"
        if isinstance(arg, tuple):
            inner = ", ".join(self.repr(a) for a in arg)
            return f"({inner},)" if len(arg) == 1 else f"({inner})"
        if isinstance(arg, list):
            return "[" + ", ".join(self.repr(a) for a in arg) + "]"
        if isinstance(arg, dict):
            return "{" + ", ".join(f"{k!r}: {self.repr(v)}" for k, v in arg.items()) + "}"
        if isinstance(arg, slice):
            return f"slice({self.repr(arg.start)}, {self.repr(arg.stop)}, {self.repr(arg.step)})"
        if callable(arg) and not isinstance(arg, type) and hasattr(arg, "__name__"):
            return self.add_global(arg)
        if isinstance(arg, type) and arg.__module__ != "builtins":
            return self.add_global(arg)
        r = repr(arg)
        return r[1:] if r.startswith("ttorch.") else r     # ``torch.float16``, as PyTorch prints dtypes

    def call_args(self, args, kwargs):
        parts = [self.repr(a) for a in args] + [f"{k} = {self.repr(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)


def gen_code(graph, root_module):
    """Returns a PythonCode whose ``src`` defines ``forward(self, <placeholders>)``."""
    from .graph import PythonCode
    e = _Emitter(graph)
    last_use, user_to_last_uses = {}, {}
    for node in reversed(graph.nodes):
        def register(n, user=node):
            if n not in last_use:
                last_use[n] = user
                user_to_last_uses.setdefault(user, []).append(n)
        map_arg(node.args, register)
        map_arg(node.kwargs, register)

    free_vars, body = [], []
    for node in graph.nodes:
        op, target, args, kwargs = node.op, node.target, node.args, node.kwargs
        if op == "placeholder":
            default = f" = {e.repr(args[0])}" if args else ""
            free_vars.append(f"{target}{default}")
            raw = target.replace("*", "")
            if raw != node.name:
                body.append(f"{node.name} = {raw}")
        elif op == "call_method":
            body.append(f"{node.name} = {_format_target(e.repr(args[0]), target)}({e.call_args(args[1:], kwargs)})")
        elif op == "call_function":
            name = getattr(target, "__name__", "")
            if getattr(operator, name, None) is target and name in _MAGIC and not kwargs:
                body.append(f"{node.name} = " + _MAGIC[name].format(*(e.repr(a) for a in args)))
            elif target is getattr and len(args) == 2 and isinstance(args[1], str) and args[1].isidentifier():
                body.append(f"{node.name} = {_format_target(e.repr(args[0]), args[1])}")
            else:
                body.append(f"{node.name} = {e.add_global(target)}({e.call_args(args, kwargs)})")
        elif op == "call_module":
            body.append(f"{node.name} = {_format_target(root_module, target)}({e.call_args(args, kwargs)})")
        elif op == "get_attr":
            body.append(f"{node.name} = {_format_target(root_module, target)}")
        elif op == "output":
            body.append(f"return {e.repr(args[0])}")
            continue
        if op == "placeholder":
            continue
        to_free = list(user_to_last_uses.get(node, []))
        if len(node.users) == 0:
            to_free.append(node)     # an unused value (kept as impure) is freed right away, as PyTorch does
        if to_free:
            body[-1] += ";  " + " = ".join([n.name for n in to_free] + ["None"])
    if not body:
        body.append("pass")
    src = f"\n\n\ndef forward({', '.join([root_module] + free_vars)}):\n" + "".join(f"    {b}\n" for b in body) + "    "
    return PythonCode(src, e.globals)
