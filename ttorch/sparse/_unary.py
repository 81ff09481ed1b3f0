"""Zero-preserving elementwise math on sparse tensors (COO and compressed): ``f(0) == 0``, so ``f`` of a
sparse tensor is ``f`` of its values on the same entries, as PyTorch's sparse kernels compute it.

``ttorch.sin(s)``, ``s.sin()``, ``s.sin_()``... reach ``unary_handler`` through ``Op.__call__``'s
``SUBCLASS_OPS`` table (the unary functions hand a sparse input to it). A COO input is coalesced first
(``f(a) + f(b) != f(a + b)``). The gradient is sparse on the input's entries: ``g * f'(x)``, with
``f'`` written below in ttorch ops from the values ``x`` and the results ``y``. The ops PyTorch has
for COO only (``square``, ``pow``, ``nan_to_num``) raise its error on compressed tensors; ``angle`` the
reverse.
"""
import math

from .. import _dtype as D
from .._sparse import SparseTensor, _mask, _tracked

def _zero(x, y):
    return x * 0


# f'(x) from x (values) and y = f(x); an int or float is a constant derivative
_GRAD = {
    "abs": lambda x, y: x.sign(), "neg": -1, "sqrt": lambda x, y: 0.5 / y, "sin": lambda x, y: x.cos(),
    "tan": lambda x, y: 1 + y * y, "tanh": lambda x, y: 1 - y * y, "sinh": lambda x, y: x.cosh(),
    "asin": lambda x, y: (1 - x * x).rsqrt(), "asinh": lambda x, y: (1 + x * x).rsqrt(),
    "atan": lambda x, y: 1 / (1 + x * x), "atanh": lambda x, y: 1 / (1 - x * x), "expm1": lambda x, y: y + 1,
    "log1p": lambda x, y: 1 / (1 + x), "relu": lambda x, y: (x > 0).to(x.dtype), "sign": _zero, "floor": _zero,
    "ceil": _zero, "round": _zero, "trunc": _zero, "frac": 1, "square": lambda x, y: 2 * x,
    "erf": lambda x, y: (2 / math.sqrt(math.pi)) * (-x * x).exp(),
    "erfinv": lambda x, y: (math.sqrt(math.pi) / 2) * (y * y).exp(),
    "nan_to_num": lambda x, y: x.isfinite().to(x.dtype), "angle": _zero,
}
_BOOL = ("signbit", "isnan", "isinf")       # bool results: no gradient
_COO_ONLY = ("square", "nan_to_num")      # (compressed: PyTorch's "unsupported tensor layout", no kernel)
_COMPRESSED_ONLY = ("angle",)


_NODE = {"log1p": "Log1P", "square": "Pow", "deg2rad": "Deg2Rad", "rad2deg": "Rad2Deg"}    # (PyTorch's names)


def _camel(name):
    return _NODE.get(name) or "".join(p.capitalize() for p in name.split("_"))


def _values_of(g, s):
    """The values of gradient ``g`` on the entries of ``s`` (coalesced COO, or compressed)."""
    if isinstance(s, SparseTensor):
        return _mask(g, s)._val
    from .._sparse_compressed import _mask as cmask
    return cmask(g, s)._val


def values_op(s, name, fn, grad):
    """``fn`` applied to the values of sparse ``s`` (coalesced first), recorded as ``<Name>Backward0``
    with derivative ``grad(x, y)`` (or a constant; None: no gradient)."""
    if isinstance(s, SparseTensor):
        s = s.coalesce()
    x = s._val.detach()
    y = fn(x)
    if grad is None:
        return s._with_values(y)

    def bwd(g):
        d = grad(x, y) if callable(grad) else grad
        return (s._with_values((_values_of(g, s) * d).to(s.dtype)),)
    return _tracked(f"{_camel(name)}Backward0", lambda t: t._with_values(y), bwd, s)


def _layout_name(s):
    from .._sparse_compressed import NAMES
    return NAMES[s.layout]


def unary_handler(op, inputs, attrs, s):
    """A zero-preserving unary op on sparse ``s``: its result, or NotImplemented for other ops."""
    name = op.name
    if len(inputs) != 1 or not (name in _GRAD or name in _BOOL):
        return NotImplemented
    compressed = not isinstance(s, SparseTensor)
    if compressed and name in _COO_ONLY or not compressed and name in _COMPRESSED_ONLY:
        if compressed and name == "square":
            raise RuntimeError(f"unsupported tensor layout: {_layout_name(s)}")
        return NotImplemented
    attrs = dict(attrs)
    public, inplace, out = attrs.pop("_public", False), attrs.pop("_inplace", False), attrs.pop("_out", None)
    if out is not None:
        raise RuntimeError(f"{name}: out= is not supported with sparse operands in ttorch")

    def fn(v):
        return op.public(v, **attrs) if public else op(v, **attrs)
    if inplace:
        from ..autograd import grad_mode
        if s.requires_grad and grad_mode._state["enabled"]:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if isinstance(s, SparseTensor):
            s.__dict__.update(s.coalesce().__dict__)
        s._val = fn(s._val)
        return s
    return values_op(s, name, fn, None if name in _BOOL else _GRAD[name])


def binary_handler(op, inputs, attrs, s):
    """``ttorch.add(s, x)``, ``mul``, and for COO ``sub``/``div``: sparse ``s`` first, through its methods."""
    names = ("add", "sub", "mul", "div") if isinstance(s, SparseTensor) else ("add", "mul")
    if op.name not in names or len(inputs) != 2 or inputs[0] is not s or attrs.get("rounding_mode") is not None:
        return NotImplemented
    kw = {"alpha": attrs["alpha"]} if op.name in ("add", "sub") and attrs.get("alpha", 1) != 1 else {}
    return getattr(s, op.name)(inputs[1], **kw)


# ---------------------------------------------------------------------------------- methods not behind one op
def _pow(self, exponent):
    """``s ** exponent`` (a scalar), COO only: the values' powers; exponent 0 would make it dense."""
    from ..ops.binary import pow as _dense_pow
    if not isinstance(self, SparseTensor):
        raise RuntimeError(f"unsupported tensor layout: {_layout_name(self)}")
    if hasattr(exponent, "ndim"):
        if exponent.ndim:
            raise RuntimeError("pow: sparse tensors only support a scalar exponent")
        exponent = exponent.item()
    if exponent == 0:
        raise RuntimeError("pow: cannot raise to zeroth power on sparse tensor; it would make the result tensor "
                           "dense")
    return values_op(self, "pow", lambda v: _dense_pow(v, exponent),
                     lambda x, y: exponent * _dense_pow(x, exponent - 1))


def _scale(name, factor):
    def f(self, *, out=None):
        if out is not None:
            raise RuntimeError(f"{name}: out= is not supported with sparse operands in ttorch")
        if not self.dtype.is_floating_point:
            self = self.to(D.get_default_dtype())
        return values_op(self, name, lambda v: v * factor, factor)
    f.__name__ = name
    return f


def _sgn(self, *, out=None):
    return self.sign()


def _angle(self):
    """``angle`` of the values: compressed only, as PyTorch (its COO tensors have no ``angle``)."""
    from ..ops.aliases import angle
    if isinstance(self, SparseTensor):
        from .._sparse import _unsupported
        raise _unsupported("angle", self)
    return values_op(self, "angle", angle, _zero)


def _inplace(name):
    def f(self, *args, **kwargs):
        from ..autograd import grad_mode
        if self.requires_grad and grad_mode._state["enabled"]:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        r = getattr(self, name)(*args, **kwargs)
        if isinstance(self, SparseTensor):
            self._ind, self._coalesced = r._ind, r._coalesced
        self._val = r._val.detach()
        return self
    f.__name__ = name + "_"
    return f


def bind(cls):
    """Give sparse class ``cls`` the methods that no single op reaches (pow, deg2rad, rad2deg, sgn,
    angle) and the in-place forms (``sin_``...), which replace the values."""
    cls.pow = cls.__pow__ = _pow
    cls.deg2rad = _scale("deg2rad", math.pi / 180)
    cls.rad2deg = _scale("rad2deg", 180 / math.pi)
    cls.sgn = _sgn
    cls.angle = _angle
    for name in [n for n in _GRAD if n != "angle"] + ["pow", "deg2rad", "rad2deg", "sgn", "conj_physical"]:
        setattr(cls, name + "_", _inplace(name))
