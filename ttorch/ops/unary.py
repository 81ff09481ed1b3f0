"""Unary elementwise ops: one line each (Triton function, NumPy function, backward rule).

``kind`` says how dtypes behave: ``float`` ops promote integer inputs to the default float
type (PyTorch's ``exp(int_tensor)``), ``same`` ops keep the input type, ``pred`` ops return
bool, ``int`` ops admit only integer/bool inputs.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._op import Op, write_out
from .elementwise import ew_launch, ew_specs
from .samples import unary_samples

PUBLIC = {}


def _dtypes(kind, dt, name):
    if kind == "float":
        out = dt if dt.is_floating_point else D.get_default_dtype()
        return out, D._compute_dtype(out)
    if kind == "same":
        if dt is D.bool and name in ("neg",):
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                               "invert a mask, use the `~` or `logical_not()` operator instead.")
        return dt, D._compute_dtype(dt)
    if kind == "pred":
        return D.bool, D._compute_dtype(dt)
    if kind == "int":
        if dt.is_floating_point:
            raise TypeError(f"{name}: expected an integer or bool tensor, got {dt}")
        return dt, dt
    raise ValueError(kind)


_SPEC_DTYPES = {"float": (D.float32, D.bfloat16, D.float64), "same": (D.float32, D.float16, D.int32, D.int64),
                "pred": (D.float32, D.bfloat16), "int": (D.int32, D.int64, D.uint8)}


_TEST_DTYPES = {"float": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "same": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "pred": (D.float32, D.float16, D.float64), "int": (D.int64, D.int32, D.uint8, D.bool)}


def unary(name, tl_fn, np_fn, backward=None, *, kind="float", params=(), save_output=False,
          domain=(-2.0, 2.0), method=True, grad_ok=True):
    """Define a unary op; ``params`` are ``(name, default)`` pairs passed to both fns as p0, p1."""
    def cpu(a, *, out_dtype, compute, p0, p1):
        x = a if a.dtype == compute.np else a.astype(compute.np)
        r = np.asarray(np_fn(x, p0, p1))
        return r if r.dtype == out_dtype.np else r.astype(out_dtype.np)

    def cuda(x, *, out_dtype, compute, p0, p1):
        out = Tensor._empty(x._shape, out_dtype, x.device)
        return ew_launch(tl_fn, out, [x], compute, p0, p1)

    op = Op(name, cpu=cpu, cuda=cuda, backward=backward if grad_ok else None, save=(0,), save_output=save_output,
            samples=lambda: unary_samples(name, kind, params, domain), kernels=lambda: ew_specs(tl_fn, 1, _SPEC_DTYPES[kind],
                                                          D.bool if kind == "pred" else None),
            family="unary")
    pnames = [p[0] for p in params]
    defaults = [p[1] for p in params]

    def fn(input, *args, out=None, **kwargs):
        vals = list(defaults)
        for i, a in enumerate(args):
            vals[i] = a
        for k, v in kwargs.items():
            if k == "inplace":
                continue
            if k not in pnames:
                raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
            vals[pnames.index(k)] = v
        vals = [v for v in vals] + [0] * (2 - len(vals))
        if type(input) is not Tensor:
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        out_dtype, compute = _dtypes(kind, input.dtype, name)
        if compute.is_floating_point:
            p0, p1 = (float(v) if v is not None else 0.0 for v in vals[:2])
        else:
            p0, p1 = (int(v) if v is not None else 0 for v in vals[:2])
        r = op(input, out_dtype=out_dtype, compute=compute, p0=p0, p1=p1)
        if kwargs.get("inplace"):
            from .inplace import inplace_from
            return inplace_from(input, r, name + "_")
        return r if out is None else write_out(out, r, name)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``ttorch.{name}(input{''.join(', ' + p for p in pnames)})``: elementwise, as in PyTorch."
    fn.op = op
    op.public = fn
    op.dtypes = _TEST_DTYPES[kind]
    PUBLIC[name] = fn
    return fn


def _np1(f):
    return lambda x, p0, p1: f(x)


# ---------------------------------------------------------------------------- Triton functions
@triton.jit
def _neg(x, p0, p1):
    return -x


@triton.jit
def _exp(x, p0, p1):
    return tl.exp(x)


@triton.jit
def _log(x, p0, p1):
    return tl.log(x)


@triton.jit
def _sqrt(x, p0, p1):
    if x.dtype == tl.float32:
        return tl.sqrt_rn(x)  # correctly rounded, as PyTorch's (tl.sqrt is approximate in fp32)
    else:
        return tl.sqrt(x)


@triton.jit
def _tanh(x, p0, p1):
    # tanh(x) = 1 - 2 / (exp(2x) + 1): exact at +-inf, no overflow to NaN
    return 1 - 2 / (tl.exp(2 * x) + 1)


@triton.jit
def _sigmoid(x, p0, p1):
    return 1 / (1 + tl.exp(-x))


@triton.jit
def _relu(x, p0, p1):
    return tl.where(x > 0, x, tl.zeros_like(x))


@triton.jit
def _abs(x, p0, p1):
    return tl.where(x < 0, -x, x)


@triton.jit
def _sign(x, p0, p1):
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


# ---------------------------------------------------------------------------- the ops
neg = unary("neg", _neg, _np1(np.negative), lambda ctx, g: -g, kind="same")
abs = unary("abs", _abs, _np1(np.abs), lambda ctx, g: g * ctx.inputs[0].sign(), kind="same")
sign = unary("sign", _sign, _np1(np.sign), lambda ctx, g: g * 0, kind="same")
exp = unary("exp", _exp, _np1(np.exp), lambda ctx, g: g * ctx.output, save_output=True)
log = unary("log", _log, _np1(np.log), lambda ctx, g: g / ctx.inputs[0], domain=(0.1, 3.0))
sqrt = unary("sqrt", _sqrt, _np1(np.sqrt), lambda ctx, g: g / (2 * ctx.output), save_output=True, domain=(0.1, 3.0))
tanh = unary("tanh", _tanh, _np1(np.tanh), lambda ctx, g: g * (1 - ctx.output * ctx.output), save_output=True)
sigmoid = unary("sigmoid", _sigmoid, _np1(lambda x: 1 / (1 + np.exp(-x))),
                lambda ctx, g: g * ctx.output * (1 - ctx.output), save_output=True)
relu = unary("relu", _relu, _np1(lambda x: np.maximum(x, 0)), lambda ctx, g: g * (ctx.output > 0),
             kind="same", save_output=True)

METHODS = dict(PUBLIC)
