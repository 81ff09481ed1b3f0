"""What an op given a ``MaskedTensor`` does: one handler (``handle``) registered in ``ops/_op.py``'s
``SUBCLASS_OPS``, and tables of which ops are unary, binary, reductions or pass-throughs, after
PyTorch's ``torch/masked/maskedtensor`` (``unary.py``, ``binary.py``, ``reductions.py``,
``passthrough.py``). An op in no table raises PyTorch's error for an op MaskedTensor lacks.

Two ways in: elementwise ops (families ``unary``, ``binary``, ``ternary``) hand the handler their
public function's parameters before any dtype promotion, and the handler calls ``op.public`` on the
data; every other op comes through ``Op.__call__`` with its resolved attributes, and the handler calls
the op itself on the data (and, for pass-throughs, on the mask). The data carry autograd.
"""
import warnings

from .. import _dtype as D
from .._tensor import Tensor
from ..ops import _op
from . import _ops as F
from .maskedtensor import MaskedTensor, _wrap

# ttorch op names (PyTorch's aliases map to these: absolute -> abs, clip -> clamp, fix -> trunc...)
UNARY = {"abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "bitwise_not", "ceil", "clamp", "cos", "cosh",
         "digamma", "erf", "erfc", "erfinv", "exp", "exp2", "expm1", "floor", "frac", "lgamma", "log", "log10",
         "log1p", "log2", "logit", "i0", "isnan", "nan_to_num", "neg", "pow", "reciprocal", "round", "rsqrt",
         "sigmoid", "sign", "signbit", "sin", "sinc", "sinh", "sqrt", "square", "tan", "tanh", "trunc"}
BINARY = {"add", "atan2", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
          "div", "div_trunc", "floor_divide", "fmod", "logaddexp", "logaddexp2", "mul", "nextafter", "remainder",
          "sub", "eq", "ne", "le", "ge", "gt", "lt", "maximum", "minimum", "fmax", "fmin"}
# op name -> the masked function computing it from the op's resolved attributes
REDUCTIONS = {
    "sum": lambda x, m, a: F.sum(x, a["dims"], keepdim=a["keepdim"], dtype=a["dtype"], mask=m),
    "prod": lambda x, m, a: F.prod(x, a["dims"], keepdim=a["keepdim"], dtype=a["dtype"], mask=m),
    "mean": lambda x, m, a: F.mean(x, a["dims"], keepdim=a["keepdim"], dtype=a["dtype"], mask=m),
    "amax": lambda x, m, a: F.amax(x, a["dims"], keepdim=a["keepdim"], mask=m),
    "amin": lambda x, m, a: F.amin(x, a["dims"], keepdim=a["keepdim"], mask=m),
    "argmax": lambda x, m, a: (F.argmax if a["is_max"] else F.argmin)(x, _one_dim(x, a), keepdim=a["keepdim"],
                                                                      mask=m),
    "norm": lambda x, m, a: F.norm(x, a["p"], a["dims"], keepdim=a["keepdim"], dtype=a["dtype"], mask=m),
    "var": lambda x, m, a: (F.std if a["std"] else F.var)(x, a["dims"], correction=a["correction"],
                                                          keepdim=a["keepdim"], mask=m),
    "all": lambda x, m, a: x.masked_fill(m.logical_not(), True).all(dim=a["dims"], keepdim=a["keepdim"]),
}
REDUCTIONS["argmin"], REDUCTIONS["std"] = REDUCTIONS["argmax"], REDUCTIONS["var"]
# ops applied alike to the data and the mask; those reading strides get contiguous operands: a
# MaskedTensor reports contiguous strides whatever its data's layout
PASSTHROUGH = {"as_strided", "view", "permute", "expand", "cat", "stack", "split", "index", "to_device"}
_STRIDED = {"as_strided", "view"}


def _one_dim(x, a):
    d = a["dims"]
    return d[0] if len(d) == 1 and x.ndim > 0 else None


def _dense(t):
    return t if t._stride is None and t._offset == 0 else t.clone()


def _data(x):
    return x._masked_data if isinstance(x, MaskedTensor) else x


def _mask(x):
    return x._masked_mask if isinstance(x, MaskedTensor) else x


def _masks_match(a, b):
    if isinstance(a, MaskedTensor) and isinstance(b, MaskedTensor):
        ma, mb = a._masked_mask, b._masked_mask
        return ma.dim() == mb.dim() and bool((ma == mb).all())
    return True


def _unsupported(name):
    warnings.warn(f"{name} is not implemented in __torch_dispatch__ for MaskedTensor.\nIf you would like this "
                  "operator to be supported, please file an issue for a feature request at "
                  "https://github.com/pytorch/maskedtensor/issues with a minimal reproducible code snippet.\n"
                  "In the case that the semantics for the operator are not trivial, it would be appreciated to also "
                  "include a proposal for the semantics.", stacklevel=3)
    return TypeError(f"Multiple dispatch failed for 'ttorch._ops.aten.{name}.default'; all __torch_dispatch__ "
                     f"handlers returned NotImplemented:\n\n  - tensor subclass {MaskedTensor}\n\nFor more "
                     "information, try re-running with TORCH_LOGS=not_implemented")


def _wrap_all(data, mask):
    if isinstance(data, (list, tuple)):
        return type(data)(_wrap(d, m) for d, m in zip(data, mask))
    return _wrap(data, mask)


def handle(op, inputs, attrs):
    """``op(*inputs, **attrs)`` where an input is a MaskedTensor: the op on the data, the result masked."""
    name = op.name
    if name in UNARY:
        x = inputs[0]
        if any(isinstance(v, Tensor) for v in list(inputs[1:]) + list(attrs.values())) or \
                not isinstance(x, MaskedTensor):
            raise TypeError("MaskedTensor unary ops do not support additional Tensor arguments")
        return _wrap(op.public(x._masked_data, *inputs[1:], **attrs), x._masked_mask)
    if name in BINARY:
        a, b = inputs
        if not _masks_match(a, b):
            raise ValueError("Input masks must match. If you need support for this, please open an issue on Github.")
        out = op.public(_data(a), _data(b), **attrs)
        mask = a._masked_mask if isinstance(a, MaskedTensor) else b._masked_mask
        return _wrap(out, mask.expand(out.shape) if mask.shape != out.shape else mask)
    x = inputs[0]
    if name in REDUCTIONS:
        data, mask = x._masked_data, x._masked_mask
        dims = F._canonical_dim(attrs.get("dims"), data.ndim)
        return _wrap(REDUCTIONS[name](data, mask, attrs), F._any(mask, dims, bool(attrs.get("keepdim", False))))
    if name in PASSTHROUGH:
        prep = _dense if name in _STRIDED else (lambda t: t)
        data = op(*[prep(_data(t)) if isinstance(t, Tensor) else t for t in inputs], **attrs)
        mask = op(*[prep(_mask(t)) if isinstance(t, Tensor) else t for t in inputs],
                  **(dict(attrs, dtype=D.bool) if "dtype" in attrs else attrs))     # (cat, stack: a result dtype)
        return _wrap_all(data, mask)
    if name in ("clone", "to_dtype"):       # the data alone: a mask stays bool
        return _wrap(op(x._masked_data, **attrs), x._masked_mask.clone() if name == "clone" else x._masked_mask)
    if name == "softmax" and not attrs.get("log"):
        return _wrap(_softmax(x._masked_data, x._masked_mask, attrs["dim"]), x._masked_mask)
    if name == "where":
        cond, a, b = inputs
        ma = _mask(a) if isinstance(a, MaskedTensor) else True
        mb = _mask(b) if isinstance(b, MaskedTensor) else True
        import ttorch
        return _wrap(ttorch.where(cond, _data(a), _data(b)), ttorch.where(cond, ma, mb))
    raise _unsupported(name)


def _softmax(data, mask, dim):
    """PyTorch's ``_masked_softmax``: softmax over the unmasked elements, 0 at masked-out ones. In a
    slice all masked out the (masked-out) data are 0, where PyTorch's are nan: no nan reaches the
    gradient."""
    import ttorch
    x = data.masked_fill(mask.logical_not(), float("-inf"))
    x = x.masked_fill(mask.any(dim, keepdim=True).logical_not(), 0.0)
    return ttorch.nn.functional.softmax(x, dim).masked_fill(mask.logical_not(), 0.0)


_op.SUBCLASS_OPS[MaskedTensor] = handle


def _inplace(name):
    """MaskedTensor's ``name_``: the out-of-place op (through ``handle``), its data and mask kept in place."""
    def method(self, *args, **kwargs):
        r = getattr(Tensor, name)(self, *args, **kwargs)
        self._set_data_mask(r._masked_data, r._masked_mask)
        return self
    method.__name__ = name + "_"
    return method


# PyTorch's in-place forms: the unary and binary ops but those below (and ``x += y``... through them)
for _name in ("abs acos acosh asin asinh atan atanh bitwise_not ceil clamp clip cos cosh digamma erf erfc erfinv exp "
              "exp2 expm1 fix floor frac lgamma log log10 log1p log2 logit i0 nan_to_num neg negative pow reciprocal "
              "round rsqrt sigmoid sign sin sinc sinh sqrt square tan tanh trunc add atan2 bitwise_and bitwise_or "
              "bitwise_xor bitwise_left_shift bitwise_right_shift div divide floor_divide fmod mul multiply "
              "nextafter remainder sub subtract true_divide eq ne le ge gt lt").split():
    if hasattr(Tensor, _name):
        setattr(MaskedTensor, _name + "_", _inplace(_name))
for _dunder, _name in (("iadd", "add"), ("isub", "sub"), ("imul", "mul"), ("itruediv", "div")):
    setattr(MaskedTensor, f"__{_dunder}__", lambda self, other, _n=_name: getattr(self, _n + "_")(other))
