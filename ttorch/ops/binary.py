"""Binary elementwise ops with broadcasting and PyTorch's type promotion.

``kind``: ``arith`` (result is the promoted type), ``float`` (integers promote to the default
float: true division, atan2), ``compare`` (bool result), ``logical`` (bool result, any input
types), ``int`` (integer/bool only: bitwise ops and shifts).
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._op import Op, write_out
from .elementwise import ew_launch, broadcast_shapes, scalar_operand, ew_specs
from .samples import binary_samples

PUBLIC = {}


def _dtypes(kind, a, b, name):
    dts, nds, sc = [], [], []
    for x in (a, b):
        if type(x) is Tensor:
            dts.append(x.dtype)
            nds.append(x.ndim)
        elif isinstance(x, (bool, int, float)):
            sc.append(x)
        else:
            raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not {type(x).__name__}")
    common = D.result_type_of(dts, nds, sc)
    if kind == "arith":
        if common is D.bool and name in ("sub",):
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                               "Use the `^` or `logical_xor()` operator instead.")
        return common, D._compute_dtype(common)
    if kind == "float":
        out = common if common.is_floating_point else D.get_default_dtype()
        return out, D._compute_dtype(out)
    if kind == "compare":
        return D.bool, D._compute_dtype(common)
    if kind == "logical":
        return D.bool, D.bool
    if kind == "int":
        if common.is_floating_point:
            raise RuntimeError(f"\"{name}_cpu\" not implemented for '{common.name.capitalize()}'")
        return common, common
    raise ValueError(kind)


_SPEC_DTYPES = {"arith": (D.float32, D.float16, D.int32, D.int64), "float": (D.float32, D.bfloat16, D.float64),
                "compare": (D.float32, D.int64), "logical": (D.bool, D.float32), "int": (D.int32, D.int64, D.uint8)}


_TEST_DTYPES = {"arith": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "float": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "compare": (D.float32, D.bfloat16, D.int64), "logical": (D.float32, D.bool, D.int64),
                "int": (D.int64, D.int32, D.uint8)}


def binary(name, tl_fn, np_fn, backward=None, *, kind="arith", params=(), save=(0, 1), domain=(-2.0, 2.0),
           rhs_domain=None):
    def cpu(a, b, *, out_dtype, compute, p0, p1):
        if isinstance(a, np.ndarray) and a.dtype != compute.np:
            a = a.astype(compute.np)
        if isinstance(b, np.ndarray) and b.dtype != compute.np:
            b = b.astype(compute.np)
        r = np.asarray(np_fn(a, b, p0, p1))
        return r if r.dtype == out_dtype.np else r.astype(out_dtype.np)

    def cuda(a, b, *, out_dtype, compute, p0, p1):
        ta = a if type(a) is Tensor else b
        shape = broadcast_shapes(a._shape, b._shape, op=name) if type(a) is Tensor and type(b) is Tensor \
            else ta._shape
        if type(a) is not Tensor:
            a = scalar_operand(a, compute, ta.device)
        if type(b) is not Tensor:
            b = scalar_operand(b, compute, ta.device)
        out = Tensor._empty(shape, out_dtype, ta.device)
        return ew_launch(tl_fn, out, [a, b], compute, p0, p1)

    op = Op(name, cpu=cpu, cuda=cuda, backward=backward, save=save,
            samples=lambda: binary_samples(name, kind, params, domain, rhs_domain),
            kernels=lambda: ew_specs(tl_fn, 2, _SPEC_DTYPES[kind],
                                                     D.bool if kind in ("compare", "logical") else None), family="binary")
    pnames = [p[0] for p in params]
    defaults = [p[1] for p in params]

    def fn(input, other, *args, out=None, **kwargs):
        vals = list(defaults)
        for i, v in enumerate(args):
            vals[i] = v
        for k, v in kwargs.items():
            if k not in pnames:
                raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
            vals[pnames.index(k)] = v
        vals += [0] * (2 - len(vals))
        if type(input) is Tensor and type(other) is Tensor:
            if input.device != other.device and input.ndim and other.ndim:
                raise RuntimeError(f"{name}: Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {input.device} and {other.device}!")
            broadcast_shapes(input._shape, other._shape, op=name)
            # a 0-dim cpu tensor may meet a cuda tensor, as in PyTorch
            if input.device != other.device:
                if input.ndim == 0 and input.device.type == "cpu":
                    input = input.item()
                else:
                    other = other.item()
        out_dtype, compute = _dtypes(kind, input, other, name)
        p0, p1 = vals[0], vals[1]
        r = op(input, other, out_dtype=out_dtype, compute=compute, p0=p0, p1=p1)
        return r if out is None else write_out(out, r, name)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``ttorch.{name}(input, other)``: elementwise with broadcasting, as in PyTorch."
    fn.op = op
    op.public = fn
    op.dtypes = _TEST_DTYPES[kind]
    PUBLIC[name] = fn
    return fn


def _g(ctx, i):
    return ctx.inputs[i]


# ---------------------------------------------------------------------------- Triton functions
@triton.jit
def _add(x, y, alpha, p1):
    return x + y * alpha


@triton.jit
def _sub(x, y, alpha, p1):
    return x - y * alpha


@triton.jit
def _mul(x, y, p0, p1):
    return x * y


@triton.jit
def _div(x, y, p0, p1):
    return x / y


@triton.jit
def _eq(x, y, p0, p1):
    return x == y


@triton.jit
def _ne(x, y, p0, p1):
    return x != y


@triton.jit
def _lt(x, y, p0, p1):
    return x < y


@triton.jit
def _le(x, y, p0, p1):
    return x <= y


@triton.jit
def _gt(x, y, p0, p1):
    return x > y


@triton.jit
def _ge(x, y, p0, p1):
    return x >= y


def _add_bw(ctx, g):
    return g, (g * ctx.p0 if ctx.p0 != 1 else g)


def _sub_bw(ctx, g):
    return g, (-g * ctx.p0 if ctx.p0 != 1 else -g)


def _mul_bw(ctx, g):
    a, b = ctx.inputs
    return (g * b if ctx.needs[0] else None), (g * a if ctx.needs[1] else None)


def _div_bw(ctx, g):
    a, b = ctx.inputs
    return (g / b if ctx.needs[0] else None), (-g * a / (b * b) if ctx.needs[1] else None)


add = binary("add", _add, lambda a, b, al, _: a + b * al if al != 1 else a + b, _add_bw, params=(("alpha", 1),),
             save=())
sub = binary("sub", _sub, lambda a, b, al, _: a - b * al if al != 1 else a - b, _sub_bw, params=(("alpha", 1),),
             save=())
mul = binary("mul", _mul, lambda a, b, p0, p1: a * b, _mul_bw)
div = binary("div", _div, lambda a, b, p0, p1: a / b, _div_bw, kind="float", rhs_domain=(0.5, 2.0))
eq = binary("eq", _eq, lambda a, b, p0, p1: a == b, kind="compare")
ne = binary("ne", _ne, lambda a, b, p0, p1: a != b, kind="compare")
lt = binary("lt", _lt, lambda a, b, p0, p1: a < b, kind="compare")
le = binary("le", _le, lambda a, b, p0, p1: a <= b, kind="compare")
gt = binary("gt", _gt, lambda a, b, p0, p1: a > b, kind="compare")
ge = binary("ge", _ge, lambda a, b, p0, p1: a >= b, kind="compare")

METHODS = dict(PUBLIC)
