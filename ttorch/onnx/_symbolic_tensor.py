"""Symbolics of ttorch's tensor ops: arithmetic, comparisons, products, casts and reductions.

Each takes ``g`` (the GraphContext) and the op's arguments (graph Values for tensors and for sizes read from
dynamic shapes, Python values otherwise) and returns Values. ``g.out`` is what eager mode computed for the
node: its dtype decides casts (PyTorch's type promotion) and its example shape the splits.
"""
import operator

import numpy as np

from .. import _dtype
from ._graph import Value, symbolic
from .errors import UnsupportedOperatorError


def out_dtype(g):
    o = g.out[0] if isinstance(g.out, (list, tuple)) and g.out else g.out
    if isinstance(o, bool):
        return _dtype.bool
    if isinstance(o, int):
        return _dtype.int64
    if isinstance(o, float):
        return _dtype.float32
    return o.dtype


def _promote(g, a, b):
    """The dtype comparing ``a`` with ``b`` computes in (PyTorch's promotion of a tensor with a scalar)."""
    da = a.dtype if isinstance(a, Value) else None
    db = b.dtype if isinstance(b, Value) else None
    if da is not None and db is not None:
        return _dtype.promote_types(da, db)
    d, s = (da, b) if da is not None else (db, a)
    if isinstance(s, float) and not d.is_floating_point:
        return _dtype.float32
    if isinstance(s, int) and not isinstance(s, bool) and d == _dtype.bool:
        return _dtype.int64
    return d


def _values(x):
    return isinstance(x, Value)


# ---------------------------------------------------------------------------------------- elementwise
def _binary(onnx_op):
    def fn(g, input, other, *_, alpha=1, **__):
        if isinstance(input, (list, tuple)) or isinstance(other, (list, tuple)):
            # sizes tuples: ``x.size()[:-1] + (h, d)``, ``(n,) * 2``
            return {"Add": operator.add, "Mul": operator.mul}[onnx_op](input, other)
        dt = out_dtype(g)
        a, b = g.cast(input, dt), g.cast(other, dt)
        if alpha != 1:
            b = g.op("Mul", b, g.const(alpha, dt))
        return g.op(onnx_op, a, b)
    return fn


symbolic("add")(_binary("Add"))
symbolic("sub", "subtract")(_binary("Sub"))
symbolic("mul", "multiply")(_binary("Mul"))
symbolic("maximum", "fmax")(_binary("Max"))
symbolic("minimum", "fmin")(_binary("Min"))


@symbolic("rsub")
def rsub(g, input, other, alpha=1):
    return _binary("Sub")(g, other, input, alpha=alpha)


def _floor_div(g, a, b, dt):
    if dt.is_floating_point:
        return g.op("Floor", g.op("Div", a, b))
    # integer floor division: (a - a mod b) / b is exact, Mod (fmod=0) taking the divisor's sign
    return g.op("Div", g.op("Sub", a, g.op("Mod", a, b, fmod=0)), b)


@symbolic("div", "divide", "true_divide")
def div(g, input, other, *_, rounding_mode=None, **__):
    dt = out_dtype(g)
    if rounding_mode is None:
        return g.op("Div", g.cast(input, dt), g.cast(other, dt))
    a, b = g.cast(input, dt), g.cast(other, dt)
    if rounding_mode == "floor":
        return _floor_div(g, a, b, dt)
    q = g.op("Div", a, b)
    return g.op("Mul", g.op("Sign", q), g.op("Floor", g.op("Abs", q))) if dt.is_floating_point else q


@symbolic("floor_divide")
def floor_divide(g, input, other, *_, **__):
    dt = out_dtype(g)
    return _floor_div(g, g.cast(input, dt), g.cast(other, dt), dt)


@symbolic("remainder")
def remainder(g, input, other, *_, **__):
    dt = out_dtype(g)
    a, b = g.cast(input, dt), g.cast(other, dt)
    if not dt.is_floating_point:
        return g.op("Mod", a, b, fmod=0)
    return g.op("Sub", a, g.op("Mul", g.op("Floor", g.op("Div", a, b)), b))


@symbolic("pow", "float_power")
def pow(g, input, exponent=None, *_, other=None, **__):
    exponent = other if exponent is None else exponent
    dt = out_dtype(g)
    if exponent == 2:
        x = g.cast(input, dt)
        return g.op("Mul", x, x)
    return g.op("Pow", g.cast(input, dt), g.cast(exponent, dt))


_FLOAT_RESULT = {"Sqrt", "Exp", "Log", "Sin", "Cos", "Tanh", "Sigmoid", "Erf", "Reciprocal", "Tan", "Asin",
                 "Acos", "Atan", "Sinh", "Cosh"}


def _unary(onnx_op):
    def fn(g, input, *_, **__):
        dt = out_dtype(g)
        x = g.cast(input, _dtype.float32 if (onnx_op in _FLOAT_RESULT and not dt.is_floating_point) else dt)
        return g.cast(g.op(onnx_op, x), dt) if not dt.is_floating_point else g.op(onnx_op, x)
    return fn


for _name, _onnx in (("neg", "Neg"), ("negative", "Neg"), ("abs", "Abs"), ("sqrt", "Sqrt"), ("exp", "Exp"),
                     ("log", "Log"), ("sin", "Sin"), ("cos", "Cos"), ("tan", "Tan"), ("tanh", "Tanh"),
                     ("sigmoid", "Sigmoid"), ("erf", "Erf"), ("reciprocal", "Reciprocal"), ("floor", "Floor"),
                     ("ceil", "Ceil"), ("sign", "Sign"), ("relu", "Relu"), ("asin", "Asin"), ("acos", "Acos"),
                     ("atan", "Atan"), ("sinh", "Sinh"), ("cosh", "Cosh"), ("round", "Round")):
    symbolic(_name)(_unary(_onnx))


@symbolic("positive", "contiguous", "clone", "detach", "alias", "requires_grad", "data")
def identity(g, input, *_, **__):
    return input


@symbolic("rsqrt")
def rsqrt(g, input, *_, **__):
    return g.op("Reciprocal", g.op("Sqrt", g.cast(input, out_dtype(g))))


@symbolic("square")
def square(g, input, *_, **__):
    x = g.cast(input, out_dtype(g))
    return g.op("Mul", x, x)


@symbolic("clamp", "clip")
def clamp(g, input, min=None, max=None, *_, **__):
    dt = out_dtype(g)
    x = g.cast(input, dt)
    if _values(min) or _values(max):      # tensor bounds broadcast: Max/Min rather than Clip
        if min is not None:
            x = g.op("Max", x, g.cast(min, dt))
        return x if max is None else g.op("Min", x, g.cast(max, dt))
    return g.op("Clip", x, None if min is None else g.const(min, dt), None if max is None else g.const(max, dt))


# ---------------------------------------------------------------------------------------- comparisons, logic
def _compare(onnx_op, negate=False):
    def fn(g, input, other, *_, **__):
        dt = _promote(g, input, other)
        y = g.op(onnx_op, g.cast(input, dt), g.cast(other, dt))
        return g.op("Not", y) if negate else y
    return fn


for _names, _args in ((("eq",), ("Equal",)), (("ne", "not_equal"), ("Equal", True)), (("lt", "less"), ("Less",)),
                      (("le", "less_equal"), ("LessOrEqual",)), (("gt", "greater"), ("Greater",)),
                      (("ge", "greater_equal"), ("GreaterOrEqual",))):
    symbolic(*_names)(_compare(*_args))


def _logical(onnx_op, bitwise_op):
    def fn(g, input, other, *_, **__):
        dt = out_dtype(g)
        if dt == _dtype.bool:
            return g.op(onnx_op, g.cast(input, dt), g.cast(other, dt))
        if g.opset < 18:
            raise UnsupportedOperatorError(f"aten::{bitwise_op}", g.opset, 18)
        return g.op(bitwise_op, g.cast(input, dt), g.cast(other, dt))
    return fn


symbolic("logical_and", "bitwise_and", "__and__")(_logical("And", "BitwiseAnd"))
symbolic("logical_or", "bitwise_or", "__or__")(_logical("Or", "BitwiseOr"))
symbolic("logical_xor", "bitwise_xor", "__xor__")(_logical("Xor", "BitwiseXor"))


@symbolic("logical_not")
def logical_not(g, input, *_, **__):
    return g.op("Not", g.cast(input, _dtype.bool))


@symbolic("bitwise_not")
def bitwise_not(g, input, *_, **__):
    if input.dtype == _dtype.bool:
        return g.op("Not", input)
    if g.opset < 18:
        raise UnsupportedOperatorError("aten::bitwise_not", g.opset, 18)
    return g.op("BitwiseNot", input)


@symbolic("where")
def where(g, condition, input=None, other=None, **_):
    if input is None:
        raise UnsupportedOperatorError("aten::nonzero", g.opset, None)
    dt = out_dtype(g)
    return g.op("Where", g.cast(condition, _dtype.bool), g.cast(input, dt), g.cast(other, dt))


@symbolic("masked_fill")
def masked_fill(g, input, mask, value):
    return g.op("Where", g.cast(mask, _dtype.bool), g.cast(value, input.dtype), input)


@symbolic("isnan")
def isnan(g, input, *_, **__):
    return g.op("IsNaN", input)


# ---------------------------------------------------------------------------------------- products
@symbolic("matmul", "bmm", "mm")
def matmul(g, input, other=None, *_, mat2=None, **__):
    return g.op("MatMul", input, other if mat2 is None else mat2)


@symbolic("addmm", "baddbmm", "addbmm")
def addmm(g, input, mat1=None, mat2=None, *, batch1=None, batch2=None, beta=1, alpha=1, **_):
    prod = g.op("MatMul", mat1 if batch1 is None else batch1, mat2 if batch2 is None else batch2)
    if alpha != 1:
        prod = g.op("Mul", prod, g.const(alpha, input.dtype))
    bias = input if beta == 1 else g.op("Mul", input, g.const(beta, input.dtype))
    return prod if beta == 0 else g.op("Add", bias, prod)


@symbolic("einsum")
def einsum(g, equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return g.op("Einsum", *operands, equation=equation.replace(" ", ""))


# ---------------------------------------------------------------------------------------- casts
@symbolic("to", "type", "type_as", "float", "double", "half", "bfloat16", "long", "int", "short", "bool", "byte",
          "char")
def to(g, input, *_, **__):
    return g.cast(input, out_dtype(g))


# ---------------------------------------------------------------------------------------- reductions
def _dims(dim, rank):
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return None
    dims = dim if isinstance(dim, (list, tuple)) else [dim]
    return [d % max(rank, 1) for d in dims]


def _reduction(onnx_op):
    def fn(g, input, dim=None, keepdim=False, *_, dtype=None, **__):
        x = g.cast(input, out_dtype(g))
        return g.reduce(onnx_op, x, _dims(dim, input.rank), keepdim)
    return fn


symbolic("mean")(_reduction("ReduceMean"))
symbolic("sum")(_reduction("ReduceSum"))
symbolic("prod")(_reduction("ReduceProd"))
symbolic("amax")(_reduction("ReduceMax"))
symbolic("amin")(_reduction("ReduceMin"))
symbolic("logsumexp")(_reduction("ReduceLogSumExp"))


def _max_min(reduce_op, arg_op, elem_op):
    def fn(g, input, dim=None, keepdim=False, *, other=None, **_):
        if isinstance(dim, Value) or other is not None:     # max(a, b): elementwise
            return _binary(elem_op)(g, input, dim if other is None else other)
        if dim is None:
            return g.reduce(reduce_op, input, None, False)
        d = dim % input.rank
        return (g.reduce(reduce_op, input, [d], keepdim),
                g.op(arg_op, input, axis=d, keepdims=int(bool(keepdim))))
    return fn


symbolic("max")(_max_min("ReduceMax", "ArgMax", "Max"))
symbolic("min")(_max_min("ReduceMin", "ArgMin", "Min"))


def _arg(onnx_op):
    def fn(g, input, dim=None, keepdim=False):
        if dim is None:
            return g.op(onnx_op, g.op("Reshape", input, g.int_list([-1])), axis=0, keepdims=0)
        return g.op(onnx_op, input, axis=dim % input.rank, keepdims=int(bool(keepdim)))
    return fn


symbolic("argmax")(_arg("ArgMax"))
symbolic("argmin")(_arg("ArgMin"))


def _variance(g, input, dim, unbiased, keepdim, correction):
    dims = _dims(dim, input.rank) or list(range(input.rank))
    c = correction if correction is not None else (0 if unbiased is False else 1)
    mean = g.reduce("ReduceMean", input, dims, True)
    diff = g.op("Sub", input, mean)
    ss = g.reduce("ReduceSum", g.op("Mul", diff, diff), dims, keepdim)
    n = 1
    for d in dims:
        dn = g.dim(input, d)
        n = n * dn if not (_values(n) or _values(dn)) else g.op("Mul", g.cast(n, _dtype.int64), dn)
    denom = g.cast(n - c if not _values(n) else g.op("Sub", n, g.const(c, _dtype.int64)), input.dtype)
    return g.op("Div", ss, denom)


@symbolic("var")
def var(g, input, dim=None, unbiased=None, keepdim=False, *, correction=None, **_):
    return _variance(g, input, dim, unbiased, keepdim, correction)


@symbolic("std")
def std(g, input, dim=None, unbiased=None, keepdim=False, *, correction=None, **_):
    return g.op("Sqrt", _variance(g, input, dim, unbiased, keepdim, correction))


@symbolic("cumsum")
def cumsum(g, input, dim, *, dtype=None, **_):
    return g.op("CumSum", g.cast(input, out_dtype(g)), g.const(np.asarray(dim, np.int64)))


def _any_all(reduce_op):
    def fn(g, input, dim=None, keepdim=False, **_):
        x = g.cast(input, _dtype.int64)        # Reduce* take bool only from opset 20
        return g.cast(Value(g.reduce(reduce_op, x, _dims(dim, input.rank), keepdim).name, _dtype.int64), _dtype.bool)
    return fn


symbolic("any")(_any_all("ReduceMax"))
symbolic("all")(_any_all("ReduceMin"))


@symbolic("norm")
def norm(g, input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    x, dims = g.cast(input, out_dtype(g)), _dims(dim, input.rank)
    if p in ("fro", 2, 2.0):
        return g.reduce("ReduceL2", x, dims, keepdim)
    if p in (1, 1.0):
        return g.reduce("ReduceL1", x, dims, keepdim)
    if p in (float("inf"), "inf"):
        return g.reduce("ReduceMax", g.op("Abs", x), dims, keepdim)
    raise UnsupportedOperatorError(f"aten::norm (p={p})", g.opset, None)


@symbolic("log1p")
def log1p(g, input, *_, **__):
    x = g.cast(input, out_dtype(g))
    return g.op("Log", g.op("Add", x, g.const(1.0, out_dtype(g))))


@symbolic("expm1")
def expm1(g, input, *_, **__):
    x = g.cast(input, out_dtype(g))
    return g.op("Sub", g.op("Exp", x), g.const(1.0, out_dtype(g)))


@symbolic("clamp_min")
def clamp_min(g, input, min, **_):
    return clamp(g, input, min=min)


@symbolic("clamp_max")
def clamp_max(g, input, max, **_):
    return clamp(g, input, max=max)


@symbolic("fmod")
def fmod(g, input, other, *_, **__):
    dt = out_dtype(g)
    return g.op("Mod", g.cast(input, dt), g.cast(other, dt), fmod=1)
