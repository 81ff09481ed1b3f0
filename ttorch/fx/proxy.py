"""fx.Proxy: the stand-in value that records every operation applied to it (PyTorch's ``torch.fx.proxy``).

Python operators and attribute/method access on a Proxy add nodes to its tracer's graph. Control flow on a
Proxy (``if``, ``for``, ``len``) cannot be recorded and raises PyTorch's errors.
"""
import dis
import inspect
import operator
import sys
from bisect import bisect_left

from .node import map_aggregate

_BINARY = ("add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "lshift", "rshift", "and_", "or_", "xor",
           "getitem", "matmul")
_COMPARE_UNARY = ("eq", "ne", "lt", "gt", "le", "ge", "pos", "neg", "invert")


class TraceError(ValueError):
    pass


class Proxy:
    """A traced value: operations on it are recorded as nodes of ``tracer.graph``.

    Args:
        node (Node): the node that produces this value.
        tracer (Tracer): the tracer recording the graph.
    """

    def __init__(self, node, tracer=None):
        if tracer is None:
            from ._symbolic_trace import GraphAppendingTracer
            tracer = GraphAppendingTracer(node.graph)
        self.tracer, self.node = tracer, node

    def __repr__(self):
        return f"Proxy({self.node.name})"

    def __getattr__(self, k):
        # a method call (``x.view(...)``) or a plain attribute read (``x.shape``): decided when it is used
        return Attribute(self, k)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, d):
        self.__dict__ = d

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", "__call__", (self,) + args, kwargs)

    def __iter__(self):
        # ``a, b = proxy`` unpacks into getitem nodes; any other iteration is control flow
        frame = inspect.currentframe().f_back
        insts = list(dis.get_instructions(frame.f_code))
        if sys.version_info >= (3, 11):
            inst = insts[bisect_left(insts, frame.f_lasti, key=lambda x: x.offset)]
        else:
            inst = insts[frame.f_lasti // 2]
        if inst.opname == "UNPACK_SEQUENCE":
            return (self[i] for i in range(inst.argval))
        return self.tracer.iter(self)

    def __bool__(self):
        return self.tracer.to_bool(self)

    def __len__(self):
        raise RuntimeError("'len' is not supported in symbolic tracing by default. If you want this call to be "
                           "recorded, please call torch.fx.wrap('len') at module scope")

    def keys(self):
        return self.tracer.keys(self)

    def __contains__(self, item):
        return self.tracer.to_bool(self)


def _make_binary(name):
    fn = getattr(operator, name)

    def impl(self, rhs):
        return self.tracer.create_proxy("call_function", fn, (self, rhs), {})

    def rimpl(self, lhs):
        return self.tracer.create_proxy("call_function", fn, (lhs, self), {})
    dunder = name.rstrip("_")
    setattr(Proxy, f"__{dunder}__", impl)
    if name != "getitem":
        setattr(Proxy, f"__r{dunder}__", rimpl)


def _make_other(name):
    fn = getattr(operator, name)

    def impl(self, *args):
        return self.tracer.create_proxy("call_function", fn, (self,) + args, {})
    setattr(Proxy, f"__{name.rstrip('_')}__", impl)


for _m in _BINARY:
    _make_binary(_m)
for _m in _COMPARE_UNARY:
    _make_other(_m)
Proxy.__hash__ = object.__hash__     # (``__eq__`` is recorded, yet Proxies stay usable as dict keys)


class Attribute(Proxy):
    """``proxy.name``: becomes a ``call_method`` node when called, else a ``getattr`` node when used."""

    def __init__(self, root, attr):
        self.root, self.attr, self.tracer = root, attr, root.tracer
        self._node = None

    @property
    def node(self):
        # the getattr node is only created when the attribute is used as a value
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", self.attr, (self.root,) + args, kwargs)


def _has_proxy(args, kwargs):
    found = []

    def check(a):
        if isinstance(a, Proxy):
            found.append(a)
        return a
    map_aggregate(args, check)
    map_aggregate(kwargs, check)
    return found[0] if found else None


__all__ = ["Proxy", "Attribute", "TraceError"]
