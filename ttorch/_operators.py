"""Python operators and the op methods of ``Tensor``, bound from the op registry.

Operators look their function up at call time in ``ops.FUNCTIONS``, so an op module adds
an operator's meaning by defining the function; nothing here changes per op.
"""
import numpy as np

from ._tensor import Tensor
from . import ops


def _f(name):
    return ops.FUNCTIONS[name]


def _operand(other):
    """``other`` as an operand of a Python operator: NumPy scalars become Python scalars (weakly
    typed, as PyTorch treats them); None for types the operator does not take."""
    if isinstance(other, np.generic):
        return other.item() if other.dtype.kind in "biufc" else None
    return other if isinstance(other, (Tensor, int, float, complex)) else None


def _binary(name, reflected=False):
    functions = ops.FUNCTIONS   # looked up per call: a module may define the op later
    if reflected:
        def method(self, other):
            t = type(other)
            if t is not Tensor and t is not float and t is not int and t is not bool:
                other = _operand(other)
                if other is None:
                    return NotImplemented
            return functions[name](other, self)
    else:
        def method(self, other):
            t = type(other)
            if t is not Tensor and t is not float and t is not int and t is not bool:
                other = _operand(other)
                if other is None:
                    return NotImplemented
            return functions[name](self, other)
    return method


def _inplace(name):
    def method(self, other, **kw):
        m = getattr(Tensor, name + "_", None)     # x += y is x.add_(y)
        if m is not None:
            return m(self, other, **kw)
        from .ops.inplace import inplace_from
        return inplace_from(self, _f(name)(self, other, **kw), name + "_")
    method.__name__ = name + "_"
    return method


_BINOPS = {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "floordiv": "floor_divide",
           "mod": "remainder", "pow": "pow", "matmul": "matmul", "and": "bitwise_and", "or": "bitwise_or",
           "xor": "bitwise_xor", "lshift": "bitwise_left_shift", "rshift": "bitwise_right_shift"}

for _op, _fn in _BINOPS.items():
    setattr(Tensor, f"__{_op}__", _binary(_fn))
    setattr(Tensor, f"__r{_op}__", _binary(_fn, reflected=True))
    setattr(Tensor, f"__i{_op}__", _inplace(_fn))
Tensor.__div__, Tensor.__rdiv__, Tensor.__idiv__ = Tensor.__truediv__, Tensor.__rtruediv__, Tensor.__itruediv__

for _op, _fn in {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}.items():
    setattr(Tensor, f"__{_op}__", _binary(_fn))

Tensor.__neg__ = lambda self: _f("neg")(self)
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = lambda self: _f("abs")(self)
Tensor.__invert__ = lambda self: _f("bitwise_not")(self)
Tensor.__hash__ = lambda self: id(self)
Tensor.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
Tensor.mT = property(lambda self: self.transpose(-2, -1))
Tensor.H = property(lambda self: _f("conj")(self.T))        # (conj: the tensor itself, for real ones)
Tensor.mH = property(lambda self: _f("conj")(self.mT))
# (Tensor.real and Tensor.imag, views with setters, are defined in ops/complex.py)


def _bind_methods():
    for name, fn in ops.METHODS.items():
        setattr(Tensor, name, fn)
    # in-place forms of elementwise ops: x.exp_(), x.add_(y), ...
    from .ops.inplace import make_inplace
    for name in list(ops.METHODS):
        fam = getattr(getattr(ops.METHODS[name], "op", None), "family", None)
        if fam in ("unary", "binary", "ternary") and not hasattr(Tensor, name + "_"):
            setattr(Tensor, name + "_", make_inplace(ops.METHODS[name], name + "_"))


_bind_methods()
