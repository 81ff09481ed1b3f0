"""``ttorch.ops.<namespace>.<name>[.default]``: handles on the operators ``ttorch.library`` defines, as
``torch.ops`` gives (``_OpNamespace``, ``OpOverloadPacket``, ``OpOverload``). ttorch's own primitive ops are not
reachable this way (``torch.ops.aten`` has no counterpart), and a namespace named like a module of ``ttorch.ops``
(``linalg``, ``fft``, ``random``, ...) is reached with ``ttorch.library._ops.namespace(name)`` only.
"""
from ._dispatch import OPERATORS

__all__ = ["OpOverload", "OpOverloadPacket", "namespace"]


class OpOverload:
    """One overload of an operator (library operators have one, ``default``); calling it runs the op."""

    def __init__(self, op):
        self._op = op
        self._name = op.qualname
        self._overloadname = "default"
        self.__name__ = f"{op.name}.default"
        self.__qualname__ = self._name

    @property
    def _schema(self):
        return self._op.schema

    @property
    def _namespace(self):
        return self._op.ns

    @property
    def _opname(self):
        return self._op.name

    @property
    def overloadpacket(self):
        return OpOverloadPacket(self._op)

    def name(self):
        return self._name

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def __repr__(self):
        return f"{self._op.ns}.{self._op.name}.default"

    def __eq__(self, other):
        return isinstance(other, OpOverload) and other._op is self._op

    def __hash__(self):
        return hash(self._op)


class OpOverloadPacket:
    """All overloads of an operator by name (``.default`` here); calling it runs the default one."""

    def __init__(self, op):
        self._op = op
        self._qualified_op_name = op.qualname
        self.__name__ = op.name

    @property
    def default(self):
        return OpOverload(self._op)

    @property
    def _schema(self):
        return self._op.schema

    def overloads(self):
        return ["default"]

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def __repr__(self):
        return f"{self._op.ns}.{self._op.name}"

    def __eq__(self, other):
        return isinstance(other, OpOverloadPacket) and other._op is self._op

    def __hash__(self):
        return hash(self._op)


class _OpNamespace:
    """``ttorch.ops.<ns>``: its operators as attributes, looked up when asked for (defined later ones too)."""

    def __init__(self, name):
        self.name = name

    def __getattr__(self, op_name):
        if op_name.startswith("__"):
            raise AttributeError(op_name)
        op = OPERATORS.get(f"{self.name}::{op_name}")
        if op is None:
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op_name}'")
        return OpOverloadPacket(op)

    def __repr__(self):
        return f"<module 'ttorch.ops.{self.name}' from 'ttorch.ops'>"

    def __dir__(self):
        return sorted(q.split("::", 1)[1] for q in OPERATORS if q.startswith(self.name + "::"))


_NAMESPACES = {}


def namespace(name):
    if name == "aten":      # ttorch's own ops under ATen's names first (ttorch/ops/_aten.py)
        from ..ops._aten import aten
        return aten
    ns = _NAMESPACES.get(name)
    if ns is None:
        ns = _NAMESPACES[name] = _OpNamespace(name)
    return ns
