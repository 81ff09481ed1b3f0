"""fx.Node: one operation of a Graph (PyTorch's ``torch.fx.node``).

A node has an ``op`` (``placeholder``, ``get_attr``, ``call_function``, ``call_method``, ``call_module``,
``output``), a ``target``, ``args``/``kwargs`` that may hold other nodes, and the dict of its ``users``.
Nodes of a graph form a doubly linked list (``prev``/``next``) closed by the graph's root sentinel.
"""
import builtins
import operator

_OPS = ("placeholder", "call_method", "call_module", "call_function", "get_attr", "output", "root")


def map_aggregate(a, fn):
    """Apply ``fn`` to every leaf of ``a`` (nested tuples, lists, dicts, slices), keeping the structure."""
    if isinstance(a, tuple):
        t = tuple(map_aggregate(elem, fn) for elem in a)
        return type(a)(*t) if hasattr(a, "_fields") else t     # namedtuples rebuild from fields
    if isinstance(a, list):
        return [map_aggregate(elem, fn) for elem in a]
    if isinstance(a, dict):
        return {k: map_aggregate(v, fn) for k, v in a.items()}
    if isinstance(a, slice):
        return slice(map_aggregate(a.start, fn), map_aggregate(a.stop, fn), map_aggregate(a.step, fn))
    return fn(a)


def map_arg(a, fn):
    """Apply ``fn`` to every Node inside ``a``, keeping the structure."""
    return map_aggregate(a, lambda x: fn(x) if isinstance(x, Node) else x)


def _qualified_name(fn):
    """PyTorch's ``_get_qualified_name``: ``torch.cat``, ``operator.add``, ``builtins.getattr``."""
    from ._symbolic_trace import _torch_name
    name = _torch_name(fn)
    if name is not None:
        return name
    if getattr(builtins, getattr(fn, "__name__", ""), None) is fn:
        return f"builtins.{fn.__name__}"
    if getattr(operator, getattr(fn, "__name__", ""), None) is fn:
        return f"operator.{fn.__name__}"
    mod = getattr(fn, "__module__", None) or ""
    return f"{mod}.{getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))}".lstrip(".")


def _format_arg(arg):
    if isinstance(arg, Node):
        return "%" + arg.name
    if isinstance(arg, list):
        return "[" + ", ".join(_format_arg(a) for a in arg) + "]"
    if isinstance(arg, tuple):
        items = ", ".join(_format_arg(a) for a in arg)
        return "(" + items + ("," if len(arg) == 1 else "") + ")"
    if isinstance(arg, dict):
        return "{" + ", ".join(f"{k}: {_format_arg(v)}" for k, v in arg.items()) + "}"
    return str(arg)


class Node:
    """One operation in a :class:`Graph`.

    Args:
        graph (Graph): the owning graph.
        name (str): the unique name of the value this node produces.
        op (str): the opcode (``placeholder``, ``call_function``, ...).
        target: what is called or read (a function, a method name, a submodule path).
        args (tuple), kwargs (dict): arguments; may contain other Nodes.
    """

    def __init__(self, graph, name, op, target, args, kwargs, return_type=None):
        if op not in _OPS:
            raise ValueError(f"Node op must be one of {_OPS}, got {op}")
        if op == "call_function" and not callable(target):
            raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has type {type(target)} "
                             "but a Callable is expected")
        if op in ("call_method", "call_module", "get_attr", "placeholder") and not isinstance(target, str):
            raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has type {type(target)} "
                             "but a str is expected")
        self.graph, self.name, self.op, self.target = graph, name, op, target
        self.users = {}
        self.type = return_type
        self._prev = self._next = self
        self._erased = False
        self.meta = {}
        self._input_nodes = {}
        self._args, self._kwargs = (), {}
        self._update_args_kwargs(map_arg(args, lambda x: x), map_arg(kwargs, lambda x: x))

    @property
    def stack_trace(self):
        """Where the node was traced from: None (ttorch records no stack traces)."""
        return self.meta.get("stack_trace")

    # ------------------------------------------------------------------ linked list
    @property
    def next(self):
        return self._next

    @property
    def prev(self):
        return self._prev

    def prepend(self, x):
        """Insert ``x`` before this node (moving it if it is already in the list)."""
        if self is x:
            return
        if x._prev._next is x:       # x is linked in (moving it); a new node points at itself
            x._remove_from_list()
        p = self._prev
        p._next, x._prev = x, p
        x._next, self._prev = self, x

    def append(self, x):
        """Insert ``x`` after this node."""
        self._next.prepend(x)

    def _remove_from_list(self):
        # the node keeps its own links, so that an iteration standing on it can still move on (PyTorch's way)
        p, n = self._prev, self._next
        p._next, n._prev = n, p

    # ------------------------------------------------------------------ arguments and users
    @property
    def args(self):
        return self._args

    @args.setter
    def args(self, a):
        self._update_args_kwargs(map_arg(a, lambda x: x), self._kwargs)

    @property
    def kwargs(self):
        return self._kwargs

    @kwargs.setter
    def kwargs(self, k):
        self._update_args_kwargs(self._args, map_arg(k, lambda x: x))

    @property
    def all_input_nodes(self):
        """The Nodes this node reads, in order of first appearance in ``args`` then ``kwargs``."""
        return list(self._input_nodes.keys())

    def update_arg(self, idx, arg):
        args = list(self.args)
        args[idx] = arg
        self.args = tuple(args)

    def update_kwarg(self, key, arg):
        self.kwargs = {**self.kwargs, key: arg}

    def _update_args_kwargs(self, new_args, new_kwargs):
        self._args, self._kwargs = tuple(new_args), dict(new_kwargs)
        for old in self._input_nodes:
            old.users.pop(self, None)
        self._input_nodes = {}
        map_arg(self._args, lambda n: self._input_nodes.setdefault(n))
        map_arg(self._kwargs, lambda n: self._input_nodes.setdefault(n))
        for n in self._input_nodes:
            n.users.setdefault(self)

    def replace_all_uses_with(self, replace_with, delete_user_cb=None, *, propagate_meta=False):
        """Make every user of this node read ``replace_with`` instead; returns the changed users."""
        if propagate_meta:
            for k, v in self.meta.items():
                replace_with.meta.setdefault(k, v)
        to_process = [u for u in self.users if delete_user_cb is None or delete_user_cb(u)]
        for use_node in to_process:
            use_node.replace_input_with(self, replace_with)
        return to_process

    def replace_input_with(self, old_input, new_input):
        """Replace every occurrence of ``old_input`` in this node's arguments by ``new_input``."""
        def swap(n):
            return new_input if n is old_input else n
        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    def is_impure(self, impure_random=True):
        """Whether dead-code elimination must keep this node (placeholders, outputs, in-place calls)."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_function":
            return self.target in _side_effectful_functions()
        if self.op == "call_method":
            return isinstance(self.target, str) and self.target.endswith("_") and not self.target.endswith("__")
        if self.op == "call_module":
            mod = self.graph.owning_module
            sub = mod.get_submodule(self.target) if mod is not None else None
            return bool(getattr(sub, "_is_impure", False))
        return False

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        return self.name

    def _pretty_print_target(self, target):
        if isinstance(target, str):
            return target
        return _qualified_name(target)

    def format_node(self, placeholder_names=None, maybe_return_typename=None):
        """The node's line in ``print(graph)``: ``%name : [num_users=k] = op[target=...](args = ...)``."""
        if self.op == "placeholder":
            arg_str = self.target
            if placeholder_names is not None:
                placeholder_names.append(arg_str)
                return None
            default = f"(default={self.args[0]})" if self.args else ""
            return f"%{self.name} : [num_users={len(self.users)}] = {self.op}[target={self.target}]{default}"
        if self.op == "get_attr":
            return f"%{self.name} : [num_users={len(self.users)}] = {self.op}[target={self.target}]"
        if self.op == "output":
            return f"return {self.args[0]}"
        return (f"%{self.name} : [num_users={len(self.users)}] = "
                f"{self.op}[target={self._pretty_print_target(self.target)}](args = {_format_arg(self.args)}, "
                f"kwargs = {_format_arg(self.kwargs)})")


_user_side_effects = set()


def has_side_effect(fn):
    """Mark ``fn`` as impure: dead-code elimination keeps its ``call_function`` nodes. Returns ``fn``."""
    _user_side_effects.add(fn)
    return fn


def _side_effectful_functions():
    from ._symbolic_trace import _assert, _assert_is_none
    return {_assert, _assert_is_none} | _user_side_effects
