"""fx.GraphModule: an nn.Module whose ``forward`` is generated from a Graph (PyTorch's ``torch.fx.graph_module``).

It holds the submodules, parameters and buffers the graph reads (the same objects as the root's, as in
PyTorch), so its ``state_dict`` has the root's keys for them. Difference from PyTorch: no ``to_folder``, and
pickling goes through the generated code only when the module's objects pickle.
"""
import linecache

from ..nn import Module, Parameter
from .._tensor import Tensor
from .graph import Graph

_counter = [0]


def _copy_attr(from_module, to_module, target):
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:
            return       # a whole submodule was already copied
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    orig = getattr(from_module, field)
    if isinstance(orig, Tensor) and not isinstance(orig, Parameter):     # plain tensor attributes become buffers
        to_module.register_buffer(field, orig)
    else:
        setattr(to_module, field, orig)


def _assign_attr(obj, to_module, target):
    *prefix, field = target.split(".")
    for item in prefix:
        t = getattr(to_module, item, None)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        to_module = t
    if isinstance(obj, Tensor) and not isinstance(obj, Parameter):
        to_module.register_buffer(field, obj)
    else:
        setattr(to_module, field, obj)


class GraphModule(Module):
    """A Module built from ``root``'s attributes and a Graph; ``forward`` is ``graph``'s generated code.

    Args:
        root (Module or dict): where ``call_module``/``get_attr`` targets are copied from.
        graph (Graph): the program.
        class_name (str): the name shown by ``print_readable``.
    """

    def __new__(cls, *args, **kwargs):
        # one class per instance, so that recompile() can set ``forward`` on the class as PyTorch does
        if "_fx_impl" not in cls.__dict__:
            cls = type(cls.__name__, (cls,), {"_fx_impl": True})
        return super().__new__(cls)

    def __init__(self, root, graph, class_name="GraphModule"):
        super().__init__()
        self.__class__.__name__ = class_name
        self.meta = {}
        if isinstance(root, Module):
            if hasattr(root, "training"):
                self.training = root.training
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise RuntimeError(f"Node {node} referenced target {node.target} but that target was "
                                           "not provided in ``root``!")
                    _assign_attr(root[node.target], self, node.target)
        else:
            raise RuntimeError("Unsupported type " + str(root) + " passed for root!")
        self.graph = graph

    @property
    def graph(self):
        return self._graph

    @graph.setter
    def graph(self, g):
        if not isinstance(g, Graph):
            raise AssertionError(f"Expected a Graph instance, but got {type(g)}")
        self._graph = g
        g.owning_module = self
        self.recompile()

    @property
    def code(self):
        """The Python source of ``forward``."""
        return self._code

    def recompile(self):
        """Regenerate ``forward`` from ``self.graph`` (call it after editing the graph)."""
        python_code = self._graph.python_code(root_module="self")
        self._code = python_code.src
        _counter[0] += 1
        key = f"<eval_with_key>.{_counter[0]}"
        linecache.cache[key] = (len(self._code), None, self._code.splitlines(True), key)   # tracebacks show it
        globs = dict(python_code.globals)
        exec(compile(self._code, key, "exec"), globs)
        type(self).forward = globs["forward"]
        return python_code

    def print_readable(self, print_output=True, include_stride=False, include_device=False, colored=False):
        """The generated module as a class (``class Name(torch.nn.Module): def forward...``)."""
        head, *body = self._code.strip("\n").rstrip().split("\n")
        lines = [f"class {type(self).__name__}(torch.nn.Module):", "    " + head,
                 "        # No stacktrace found for following nodes"]
        lines += ["    " + ln if ln else ln for ln in body]
        out = "\n".join(lines) + "\n"
        if print_output:
            print(out)
        return out

    def delete_submodule(self, target):
        *path, name = target.split(".")
        mod = self
        for item in path:
            if not hasattr(mod, item):
                return False
            mod = getattr(mod, item)
        if name not in mod._modules:
            return False
        delattr(mod, name)
        return True

    def add_submodule(self, target, m):
        *prefix, field = target.split(".")
        mod = self
        for item in prefix:
            sub = getattr(mod, item, None)
            if sub is None:
                sub = Module()
                setattr(mod, item, sub)
            if not isinstance(sub, Module):
                return False
            mod = sub
        mod.add_module(field, m)
        return True

    def delete_all_unused_submodules(self):
        used = set()
        for node in self.graph.nodes:
            if node.op in ("call_module", "get_attr"):
                parts = node.target.split(".")
                used.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        for name, _ in list(self.named_modules()):
            if name and name not in used:
                self.delete_submodule(name)

    def __str__(self):
        return (super().__str__() + "\n" + self._code +
                "\n# To see more debug info, please use `graph_module.print_readable()`")

    def __copy__(self):
        return GraphModule(self, self.graph, type(self).__name__)

    def __reduce__(self):
        # the per-instance class cannot be pickled: rebuild from the attributes and a standalone graph copy
        g = Graph()
        g.output(g.graph_copy(self.graph, {}))
        return (_rebuild, ({k: v for k, v in self.__dict__.items() if k != "_graph"}, g, type(self).__name__))

    def __deepcopy__(self, memo):
        import copy
        fake = Module.__new__(Module)
        # the graph is copied node by node: deep-copying it would reach back to this module
        fake.__dict__ = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_graph"}, memo)
        g = Graph()
        g.output(g.graph_copy(self.graph, {}))
        res = GraphModule(fake, g)
        memo[id(self)] = res
        return res


def _rebuild(attrs, graph, class_name):
    fake = Module.__new__(Module)
    fake.__dict__ = attrs
    return GraphModule(fake, graph, class_name)
