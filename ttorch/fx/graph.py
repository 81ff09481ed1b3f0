"""fx.Graph: the list of Nodes of a traced program and its Python code (PyTorch's ``torch.fx.graph``).

Differences from PyTorch: ``python_code`` emits the plain ``forward`` source only (no pytree in/out specs,
no type annotations, no stack-trace comments); functions of ``ttorch`` are printed as ``torch.<name>``
(the generated code's globals bind ``torch`` to ``ttorch``), as PyTorch prints them.
"""
import builtins
import inspect
import keyword
import re
from collections import defaultdict
from contextlib import contextmanager

from .node import Node, map_arg

_illegal_char = re.compile("[^0-9a-zA-Z_]+")
_suffix = re.compile(r"(.*)_(\d+)$")

def _snake_case(s):
    # PyTorch turns CamelCase targets into snake_case names (``MyOp`` -> ``my_op``)
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", s).lower() if any(c.isupper() for c in s) else s


class _Namespace:
    """Unique Python identifiers for the values of a graph (PyTorch's naming: ``add``, ``add_1``...)."""

    def __init__(self):
        self._used = set()
        self._base_count = defaultdict(int)
        self._obj_to_name = {}

    def create_name(self, candidate, obj):
        if obj is not None and id(obj) in self._obj_to_name:
            return self._obj_to_name[id(obj)][1]
        candidate = _illegal_char.sub("_", candidate) or "_unnamed"
        if candidate[0].isdigit():
            candidate = f"_{candidate}"
        m = _suffix.match(candidate)
        base, num = (candidate, None) if m is None else (m.group(1), int(m.group(2)))
        candidate = base if num is None else f"{base}_{num}"
        if not num:
            num = self._base_count[base]
        while candidate in self._used or self._illegal(candidate, obj):
            num += 1
            candidate = f"{base}_{num}"
        self._used.add(candidate)
        self._base_count[base] = num
        if obj is not None:
            self._obj_to_name[id(obj)] = (obj, candidate)
        return candidate

    def _illegal(self, name, obj):
        if name in keyword.kwlist:
            return True
        if name in builtins.__dict__:
            return obj is not builtins.__dict__[name]
        if name in ("inf", "nan", "NoneType", "torch", "ttorch", "device"):
            return True
        return False


def _target_to_str(target):
    op = target if isinstance(target, str) else target.__name__
    if op.startswith("__") and op.endswith("__"):
        op = op[2:-2]
    return _snake_case(op)


class _NodeList:
    def __init__(self, graph, direction="_next"):
        self._graph, self._dir = graph, direction

    def __len__(self):
        return self._graph._len

    def __iter__(self):
        root = self._graph._root
        cur = getattr(root, self._dir)
        while cur is not root:
            nxt = getattr(cur, self._dir)
            if not cur._erased:
                yield cur
            cur = nxt

    def __reversed__(self):
        return _NodeList(self._graph, "_prev" if self._dir == "_next" else "_next")


class PythonCode:
    """The generated ``src`` and the ``globals`` it must be executed with."""

    def __init__(self, src, globals):
        self.src, self.globals = src, globals


class Graph:
    """The nodes of a program in topological order.

    Example::

        >>> import ttorch.fx as fx
        >>> g = fx.Graph()
        >>> x = g.placeholder("x")
        >>> _ = g.output(g.call_method("relu", (x,)))
        >>> print(g)  # doctest: +NORMALIZE_WHITESPACE
        graph():
            %x : [num_users=1] = placeholder[target=x]
            %relu : [num_users=1] = call_method[target=relu](args = (%x,), kwargs = {})
            return relu
    """

    def __init__(self, owning_module=None, tracer_cls=None, tracer_extras=None):
        self._root = Node(self, "", "root", "", (), {})
        self._len = 0
        self._graph_namespace = _Namespace()
        self._insert = self._root.prepend
        self.owning_module = owning_module
        self._tracer_cls = tracer_cls

    @property
    def nodes(self):
        return _NodeList(self)

    # ------------------------------------------------------------------ building
    def create_node(self, op, target, args=None, kwargs=None, name=None, type_expr=None):
        """Create a node and insert it at the current insertion point."""
        candidate = name if name is not None else _target_to_str(target)
        name = self._graph_namespace.create_name(candidate, None)
        n = Node(self, name, op, target, tuple(args or ()), dict(kwargs or {}), type_expr)
        self._insert(n)
        self._len += 1
        return n

    def placeholder(self, name, type_expr=None, default_value=inspect.Parameter.empty):
        args = () if default_value is inspect.Parameter.empty else (default_value,)
        return self.create_node("placeholder", name, args=args, type_expr=type_expr)

    def get_attr(self, qualified_name, type_expr=None):
        return self.create_node("get_attr", qualified_name, type_expr=type_expr)

    def call_module(self, module_name, args=None, kwargs=None, type_expr=None):
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(self, method_name, args=None, kwargs=None, type_expr=None):
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(self, the_function, args=None, kwargs=None, type_expr=None, name=None):
        return self.create_node("call_function", the_function, args, kwargs, name=name, type_expr=type_expr)

    def output(self, result, type_expr=None):
        return self.create_node("output", "output", (result,), type_expr=type_expr)

    def erase_node(self, to_erase):
        """Remove a node that has no users."""
        if len(to_erase.users) > 0:
            raise RuntimeError(f"Tried to erase Node {to_erase} but it still had {len(to_erase.users)} "
                               f"users in the graph: {to_erase.users}!")
        if to_erase.graph is not self:
            raise RuntimeError(f"Attempting to remove {to_erase} from wrong graph!")
        if to_erase._erased:
            return
        to_erase._remove_from_list()
        to_erase._erased = True
        self._len -= 1
        to_erase._update_args_kwargs((), {})

    @contextmanager
    def inserting_before(self, n=None):
        """Insert new nodes before ``n`` (at the start of the graph when None) inside the ``with``."""
        prev = self._insert
        self._insert = n.prepend if n is not None else self._root._next.prepend
        try:
            yield
        finally:
            self._insert = prev

    @contextmanager
    def inserting_after(self, n=None):
        """Insert new nodes right after ``n`` (at the start of the graph when None) inside the ``with``.

        As in PyTorch each new node goes directly after ``n``, so several new nodes end up in reverse order.
        """
        prev = self._insert
        self._insert = (n if n is not None else self._root).append
        try:
            yield
        finally:
            self._insert = prev

    def node_copy(self, node, arg_transform=lambda x: x):
        """Copy ``node`` (of any graph) into this one, mapping its input nodes through ``arg_transform``."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        result = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        result.meta = dict(node.meta)
        return result

    def graph_copy(self, g, val_map, return_output_node=False):
        """Copy every node of ``g`` except its output into this graph; returns the copied output value."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                rv = map_arg(node.args[0], lambda n: val_map[n])
                return (rv, node) if return_output_node else rv
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    def eliminate_dead_code(self, is_impure_node=None):
        """Erase nodes with no users that are not impure; returns whether the graph changed."""
        changed = False
        for node in reversed(self.nodes):
            impure = is_impure_node(node) if is_impure_node is not None else node.is_impure()
            if not impure and len(node.users) == 0:
                self.erase_node(node)
                changed = True
        return changed

    def find_nodes(self, *, op, target=None):
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    def lint(self):
        """Check that every node belongs here, reads only earlier nodes, and that targets exist."""
        seen = set()
        for node in self.nodes:
            if node.graph is not self:
                raise RuntimeError(f"Node '{node}' does not belong to this Graph!")
            if node.op not in ("placeholder", "call_method", "call_module", "call_function", "get_attr", "output"):
                raise RuntimeError(f"Node {node} had unknown opcode {node.op}!")
            for arg in node.all_input_nodes:
                if arg.graph is not self:
                    raise RuntimeError(f"Argument '{arg}' of Node '{node}' does not belong to this Graph, "
                                       "but was used as an argument! If you are copying nodes from another graph, "
                                       "make sure to use ``arg_transform`` on node_copy() to remap values\n"
                                       f"{self}")
                if arg not in seen:
                    raise RuntimeError(f"Argument '{arg}' of Node '{node}' was used before it has been defined! "
                                       "Please check that Nodes in the graph are topologically ordered\n"
                                       f"{self}")
            seen.add(node)
            if self.owning_module is not None and node.op in ("get_attr", "call_module"):
                m_itr = self.owning_module
                for i, atom in enumerate(node.target.split(".")):
                    if not hasattr(m_itr, atom):
                        seen_qualname = ".".join(node.target.split(".")[:i])
                        raise RuntimeError(f"Node {node} target {node.target} references nonexistent attribute "
                                           f"{atom} of {seen_qualname}")
                    m_itr = getattr(m_itr, atom)

    # ------------------------------------------------------------------ printing
    def __str__(self):
        return "\n    ".join(["graph():"] + [n.format_node() for n in self.nodes])

    def print_tabular(self):
        """Print the nodes as a table (opcode, name, target, args, kwargs); plain text without ``tabulate``."""
        rows = [[n.op, n.name, n.target, n.args, n.kwargs] for n in self.nodes]
        headers = ["opcode", "name", "target", "args", "kwargs"]
        try:
            from tabulate import tabulate
            print(tabulate(rows, headers=headers))
            return
        except ImportError:
            pass
        cells = [headers] + [[str(c) for c in r] for r in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(5)]
        fmt = "  ".join("{:<%d}" % w for w in widths)
        print(fmt.format(*headers).rstrip())
        print("  ".join("-" * w for w in widths))
        for r in cells[1:]:
            print(fmt.format(*r).rstrip())

    def python_code(self, root_module, **kwargs):
        """The ``forward`` source of this graph, calling submodules through ``root_module`` (``"self"``)."""
        from ._codegen import gen_code
        return gen_code(self, root_module)

