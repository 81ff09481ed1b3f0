"""Complex elementwise math: one Triton kernel family over the interleaved (re, im) layout, NumPy's
complex math on cpu, backward rules in ttorch ops.

Each function is ``@triton.jit fn(xr, xi, yr, yi)`` returning ``(re, im)`` (a real result: ``im``
ignored). ``_cx_kernel`` loads each operand's real and imaginary parts from its float view (strided
and broadcast, up to rank 4 after merging dims; Python scalars by value), applies ``FN`` and stores
both parts, or one real value (``abs``, ``angle``, ``eq``). Gradients follow PyTorch's convention, the
conjugate Wirtinger derivative: for holomorphic ``f``, ``grad_input = grad * conj(f'(z))``.

The public functions (``ttorch.mul``, ``ttorch.exp``...) send complex operands here from the binary
and unary templates (``binary_call``, ``unary_call``); a name with no complex form raises PyTorch's
``NotImplementedError`` naming the op and dtype.
"""
import math

import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor, _numel
from ._op import Op, COMPLEX_OK, write_out, no_complex
from ._launch import launch
from .elementwise import _bstrides, _collapse, _select0, np_quiet, broadcast_shapes, MAX_RANK, SIMULATED, next_pow2, \
    unravel4
from .complex import _fv, conj, real, imag

# ------------------------------------------------------------------------------ Triton functions
@triton.jit
def _cx_identity(xr, xi, yr, yi):
    return xr, xi


@triton.jit
def _cx_conj(xr, xi, yr, yi):
    return xr, -xi


@triton.jit
def _cx_neg(xr, xi, yr, yi):
    return -xr, -xi


@triton.jit
def _cx_add(xr, xi, yr, yi):
    return xr + yr, xi + yi


@triton.jit
def _cx_sub(xr, xi, yr, yi):
    return xr - yr, xi - yi


@triton.jit
def _cx_mul(xr, xi, yr, yi):
    return xr * yr - xi * yi, xr * yi + xi * yr


@triton.jit
def _cx_div(xr, xi, yr, yi):
    # Smith's algorithm: the larger part of the divisor scales the other, so |y|^2 never overflows
    big = tl.abs(yr) >= tl.abs(yi)
    r = tl.where(big, yi / tl.where(big, yr, 1.0), yr / tl.where(big, 1.0, yi))    # (the other branch: no 0/0)
    d = tl.where(big, yr + yi * r, yi + yr * r)
    re = tl.where(big, xr + xi * r, xr * r + xi) / d
    im = tl.where(big, xi - xr * r, xi * r - xr) / d
    return re, im


@triton.jit
def _cx_abs(xr, xi, yr, yi):
    ax = tl.abs(xr)
    ay = tl.abs(xi)
    m = tl.maximum(ax, ay)
    s = tl.where(m == 0, 1.0, m).to(xr.dtype)
    q = tl.minimum(ax, ay) / s
    r = m * tl.sqrt(1 + q * q)      # (scaled: no overflow of xr*xr for large parts)
    r = tl.where((ax == float("inf")) | (ay == float("inf")), float("inf"), r)
    return r, r


@triton.jit
def _cx_angle(xr, xi, yr, yi):
    a = libdevice.atan2(xi, xr)
    return a, a


@triton.jit
def _cx_sgn(xr, xi, yr, yi):
    m, _ = _cx_abs(xr, xi, yr, yi)
    z = m == 0
    s = tl.where(z, 1.0, m).to(xr.dtype)
    return tl.where(z, 0.0, xr / s).to(xr.dtype), tl.where(z, 0.0, xi / s).to(xr.dtype)


@triton.jit
def _cx_exp(xr, xi, yr, yi):
    e = libdevice.exp(xr)
    return e * libdevice.cos(xi), e * libdevice.sin(xi)


@triton.jit
def _cx_log(xr, xi, yr, yi):
    m, _ = _cx_abs(xr, xi, yr, yi)
    return libdevice.log(m), libdevice.atan2(xi, xr)


@triton.jit
def _cx_sqrt(xr, xi, yr, yi):
    # the principal root, from the larger of (|z| +- re)/2 so that neither part cancels
    m, _ = _cx_abs(xr, xi, yr, yi)
    t = tl.sqrt((m + tl.abs(xr)) * 0.5)
    ts = tl.where(t == 0, 1.0, t).to(xr.dtype)
    other = tl.abs(xi) / (2 * ts)
    re = tl.where(xr >= 0, t, other)
    im = tl.where(xr >= 0, xi / (2 * ts), tl.where(xi < 0, -t, t))
    return tl.where(t == 0, 0.0, re).to(xr.dtype), tl.where(t == 0, xi, im).to(xr.dtype)


@triton.jit
def _cx_square(xr, xi, yr, yi):
    return xr * xr - xi * xi, 2 * xr * xi


@triton.jit
def _cx_reciprocal(xr, xi, yr, yi):
    return _cx_div(xr * 0 + 1, xr * 0, xr, xi)


@triton.jit
def _cx_sin(xr, xi, yr, yi):
    return libdevice.sin(xr) * libdevice.cosh(xi), libdevice.cos(xr) * libdevice.sinh(xi)


@triton.jit
def _cx_cos(xr, xi, yr, yi):
    return libdevice.cos(xr) * libdevice.cosh(xi), -libdevice.sin(xr) * libdevice.sinh(xi)


@triton.jit
def _cx_tanh(xr, xi, yr, yi):
    # (sinh 2x + i sin 2y) / (cosh 2x + cos 2y); past |x| = 20 the quotient is +-1 to the last bit
    big = tl.abs(xr) > 20
    x2 = tl.where(big, 0.0, 2 * xr).to(xr.dtype)
    d = libdevice.cosh(x2) + libdevice.cos(2 * xi)
    re = tl.where(big, tl.where(xr > 0, 1.0, -1.0), libdevice.sinh(x2) / d)
    im = tl.where(big, 0.0, libdevice.sin(2 * xi) / d)
    return re.to(xr.dtype), im.to(xr.dtype)


@triton.jit
def _cx_sigmoid(xr, xi, yr, yi):
    er, ei = _cx_exp(-xr, -xi, yr, yi)
    return _cx_div(xr * 0 + 1, xr * 0, 1 + er, ei)


@triton.jit
def _cx_pow(xr, xi, yr, yi):
    # exp(y * log(x)); 0 ** y is 1 for y == 0 and 0 for Re(y) > 0 (NaN otherwise, as std::pow)
    lr, li = _cx_log(xr, xi, yr, yi)
    er, ei = _cx_exp(yr * lr - yi * li, yr * li + yi * lr, yr, yi)
    zero = (xr == 0) & (xi == 0)
    y0 = (yr == 0) & (yi == 0)
    re = tl.where(zero & y0, 1.0, tl.where(zero & (yr > 0), 0.0, er))
    im = tl.where(zero & (y0 | (yr > 0)), 0.0, ei)
    re = tl.where(y0, 1.0, re)
    im = tl.where(y0, 0.0, im)
    return re.to(xr.dtype), im.to(xr.dtype)


@triton.jit
def _cx_eq(xr, xi, yr, yi):
    r = (xr == yr) & (xi == yi)
    return r, r


@triton.jit
def _cx_ne(xr, xi, yr, yi):
    r = (xr != yr) | (xi != yi)
    return r, r


@triton.jit
def _cx_isnan(xr, xi, yr, yi):
    r = (xr != xr) | (xi != xi)
    return r, r


# ------------------------------------------------------------------------------ the kernel
@triton.jit
def _cx_load(ptr, o, mask, sr, si, SCALAR: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    if SCALAR:
        z = tl.zeros([BLOCK], dtype=COMPUTE)
        return z + tl.cast(sr, COMPUTE), z + tl.cast(si, COMPUTE)
    else:
        return (tl.load(ptr + 2 * o, mask=mask).to(COMPUTE), tl.load(ptr + 2 * o + 1, mask=mask).to(COMPUTE))


@triton.jit
def _cx_kernel(out_ptr, a_ptr, b_ptr, ar, ai, br, bi, n, S1, S2, S3,
               so0, so1, so2, so3, sa0, sa1, sa2, sa3, sb0, sb1, sb2, sb3,
               FN: tl.constexpr, NIN: tl.constexpr, A_SCALAR: tl.constexpr, B_SCALAR: tl.constexpr,
               OUT_REAL: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """``out = FN(a[, b])`` over the float views of complex operands; offsets count complex elements."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    i0, i1, i2, i3 = unravel4(offs, S1, S2, S3)
    oo = i0 * so0 + i1 * so1 + i2 * so2 + i3 * so3
    xr, xi = _cx_load(a_ptr, i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3, mask, ar, ai, A_SCALAR, COMPUTE, BLOCK)
    if NIN == 2:
        yr, yi = _cx_load(b_ptr, i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3, mask, br, bi, B_SCALAR, COMPUTE, BLOCK)
    else:
        yr = xr
        yi = xi
    rr, ri = FN(xr, xi, yr, yi)
    if OUT_REAL:
        tl.store(out_ptr + oo, rr.to(out_ptr.dtype.element_ty), mask=mask)
    else:
        tl.store(out_ptr + 2 * oo, rr.to(out_ptr.dtype.element_ty), mask=mask)
        tl.store(out_ptr + 2 * oo + 1, ri.to(out_ptr.dtype.element_ty), mask=mask)


_TL = {D.float32: tl.float32, D.float64: tl.float64}
# elements a program: complex128's transcendental functions (sin's slow path, pow's exp of a log) spilled
# registers on sm_80/sm_90 at 8 elements a thread; 2 a thread fit
_BLOCK = {D.float32: 1024, D.float64: 256}


def cx_launch(fn, out, operands):
    """Launch ``_cx_kernel`` with ``fn`` writing ``out`` (complex, or real/bool for a real result) from
    ``operands``: complex cuda tensors broadcastable to ``out``, or Python numbers."""
    shape = out._shape
    n = _numel(shape)
    if n == 0:
        return out
    real_dt = next(x.dtype.to_real() for x in operands if type(x) is Tensor)
    if real_dt is D.float64:        # a scalar fp32 would round travels as a 0-dim tensor (elementwise's rule)
        operands = [_exact(x, out.device) for x in operands]
    st = [out.stride()] + [_bstrides(x, shape) if type(x) is Tensor else (0,) * len(shape) for x in operands]
    sizes, cst = _collapse(shape, st)
    if len(sizes) > MAX_RANK:
        for i in range(shape[0]):
            sub = [(_select0(x, i if x._shape[0] != 1 else 0) if x.ndim == len(shape) else x)
                   if type(x) is Tensor else x for x in operands]
            cx_launch(fn, _select0(out, i), sub)
        return out
    pad = MAX_RANK - len(sizes)
    sizes = ([1] * pad + sizes)[1:]
    flat = [s for c in cst for s in [0] * pad + c]
    if len(operands) == 1:
        flat += [0] * 4
    ptrs, vals, scal = [], [], []
    for x in list(operands) + [None] * (2 - len(operands)):
        if type(x) is Tensor:
            ptrs.append(_fv(x))
            vals += [0.0, 0.0]
            scal.append(False)
        else:
            v = complex(0 if x is None else x)
            ptrs.append(None)
            vals += [v.real, v.imag]
            scal.append(x is not None)
    o = _fv(out) if out.dtype.is_complex else out
    block = min(next_pow2(n), 4096) if SIMULATED else _BLOCK[real_dt]
    launch(_cx_kernel, ((n + block - 1) // block,), o, ptrs[0], ptrs[1], *vals, n, *sizes, *flat,
           FN=fn, NIN=len(operands), A_SCALAR=scal[0], B_SCALAR=scal[1], OUT_REAL=not out.dtype.is_complex,
           COMPUTE=_TL[real_dt], BLOCK=block, num_warps=4)
    return out


def _exact(x, device):
    if type(x) is Tensor:
        return x
    v = complex(x)
    if all(p != p or float(np.float32(p)) == p for p in (v.real, v.imag)):
        return x
    from .creation import tensor
    return tensor(v, dtype=D.complex128, device=device)


def cx_specs(fn, nin, out=None):
    """Ahead-of-time configurations: complex64 and complex128, the second operand a tensor and (binary
    ops) a scalar; ``out``: the real result's dtype (``"same"``: the parts' type), None for complex."""
    from ._aot import KernelSpec
    specs = []
    for dt in (D.float32, D.float64):
        for scalar_b in ((False, True) if nin == 2 else (False,)):
            o = dt if out in (None, "same") else out
            sig = {"out_ptr": "*" + o.tl_name, "a_ptr": "*" + dt.tl_name,
                   "b_ptr": "*" + dt.tl_name, "ar": "fp32", "ai": "fp32", "br": "fp32", "bi": "fp32", "n": "i32",
                   "S1": "i32", "S2": "i32", "S3": "i32"}
            sig.update({f"s{p}{i}": "i64" for p in "oab" for i in range(4)})
            ce = {"FN": fn, "NIN": nin, "A_SCALAR": False, "B_SCALAR": scalar_b, "OUT_REAL": out is not None,
                  "COMPUTE": _TL[dt], "BLOCK": _BLOCK[dt]}
            if nin == 1 or scalar_b:
                ce["b_ptr"] = None
                del sig["b_ptr"]
            specs.append(KernelSpec(_cx_kernel, sig, ce, num_warps=4,
                                    label=f"{fn.__name__} {dt.to_complex()}{' scalar' if scalar_b else ''}"))
    return specs


# ------------------------------------------------------------------------------ ops
UNARY = {}      # public name -> function of a complex tensor
BINARY = {}     # public name -> function of two operands (complex tensors of one dtype, or Python numbers)


def _np_compute(a, cdt):
    return a.astype(cdt.np) if isinstance(a, np.ndarray) and a.dtype != cdt.np else a


def cx_op(name, fn, np_fn, backward, nin, *, out=None, save_output=False, grad_name=None, public=None):
    """A complex elementwise op ``complex_<name>`` with its cpu, cuda and backward; ``out``: the dtype of
    a real result (``"same"``: the parts' dtype, as ``abs``), None for a complex one."""
    def out_dtype(xs):
        cdt = next(x.dtype for x in xs if type(x) is Tensor)
        return cdt if out is None else cdt.to_real() if out == "same" else out

    def cpu(*arrays, cdt):
        rdt = cdt if out is None else cdt.to_real() if out == "same" else out
        r = np.asarray(np_quiet(np_fn, *[_np_compute(a, cdt) for a in arrays]))
        return r if r.dtype == rdt.np else r.astype(rdt.np)

    def cuda(*xs, cdt):
        ts = [x for x in xs if type(x) is Tensor]
        shape = broadcast_shapes(*[t._shape for t in ts])
        return cx_launch(fn, Tensor._empty(shape, out_dtype(xs), ts[0].device), list(xs))

    op = Op("complex_" + name, cpu=cpu, cuda=cuda, backward=backward, save_output=save_output,
            kernels=lambda: cx_specs(fn, nin, out), family="complex",
            grad_name=grad_name or "".join(p.capitalize() for p in name.split("_")) + "Backward0")
    COMPLEX_OK.add(op.name)

    def f(*xs):
        cdt = next(x.dtype for x in xs if type(x) is Tensor)
        return op(*xs, cdt=cdt)
    f.op = op
    if public is not None:
        (UNARY if nin == 1 else BINARY)[public] = f
    return f


def _bw_binary(ga, gb):
    def bw(ctx, g):
        a, b = ctx.inputs
        return (ga(g, a, b, ctx) if type(a) is Tensor and ctx.needs[0] else None,
                gb(g, a, b, ctx) if type(b) is Tensor and ctx.needs[1] else None)
    return bw


cadd = cx_op("add", _cx_add, np.add, _bw_binary(lambda g, a, b, c: g, lambda g, a, b, c: g), 2, public="add")
csub = cx_op("sub", _cx_sub, np.subtract, _bw_binary(lambda g, a, b, c: g, lambda g, a, b, c: -g), 2, public="sub")
cmul = cx_op("mul", _cx_mul, np.multiply, _bw_binary(lambda g, a, b, c: g * _conj_any(b),
                                                     lambda g, a, b, c: g * _conj_any(a)), 2, public="mul")
cdiv = cx_op("div", _cx_div, np.true_divide, _bw_binary(lambda g, a, b, c: g / _conj_any(b),
                                                        lambda g, a, b, c: -g * _conj_any(a / b) / conj(b)),
             2, public="div")
cpow = cx_op("pow", _cx_pow, np.power, _bw_binary(
    lambda g, a, b, c: _where0(a, b, g * _conj_any(b * a ** (b - 1))),
    lambda g, a, b, c: g * _conj_any(a ** b * _log_any(a))), 2, public="pow")
ceq = cx_op("eq", _cx_eq, np.equal, None, 2, out=D.bool, public="eq")
cne = cx_op("ne", _cx_ne, np.not_equal, None, 2, out=D.bool, public="ne")


def _conj_any(x):
    return x.conjugate() if type(x) is not Tensor else conj(x)


def _log_any(x):
    import cmath
    return cmath.log(x) if type(x) is not Tensor else x.log()


def _where0(a, b, g):
    # d(a ** b)/da where b == 0 is 0 (a ** (b - 1) would be inf at a == 0)
    from .ternary import where
    return g if type(b) is not Tensor else where(b == 0, 0.0, g)


def _sgn_bw(ctx, g):
    # s = z / |z| is not holomorphic: grad = (g - conj(g) * s^2) / (2 |z|), 0 at z = 0
    z, s = ctx.inputs[0], ctx.output
    a = cabs(z)
    from .ternary import where
    return where(a == 0, 0.0, (g - conj(g) * s * s) / (2 * where(a == 0, 1.0, a)))


cneg = cx_op("neg", _cx_neg, np.negative, lambda ctx, g: -g, 1, public="neg")
cexp = cx_op("exp", _cx_exp, np.exp, lambda ctx, g: g * conj(ctx.output), 1, save_output=True, public="exp")
clog = cx_op("log", _cx_log, np.log, lambda ctx, g: g / conj(ctx.inputs[0]), 1, public="log")
csqrt = cx_op("sqrt", _cx_sqrt, np.sqrt, lambda ctx, g: g / (2 * conj(ctx.output)), 1, save_output=True,
              public="sqrt")
csquare = cx_op("square", _cx_square, np.square, lambda ctx, g: 2 * g * conj(ctx.inputs[0]), 1, public="square",
                grad_name="PowBackward0")
crecip = cx_op("reciprocal", _cx_reciprocal, np.reciprocal, lambda ctx, g: -g * conj(ctx.output * ctx.output), 1,
               save_output=True, public="reciprocal")
csin = cx_op("sin", _cx_sin, np.sin, lambda ctx, g: g * conj(ctx.inputs[0].cos()), 1, public="sin")
ccos = cx_op("cos", _cx_cos, np.cos, lambda ctx, g: -g * conj(ctx.inputs[0].sin()), 1, public="cos")
ctanh = cx_op("tanh", _cx_tanh, np.tanh, lambda ctx, g: g * conj(1 - ctx.output * ctx.output), 1,
              save_output=True, public="tanh")
csigmoid = cx_op("sigmoid", _cx_sigmoid, lambda z: 1 / (1 + np.exp(-z)),
                 lambda ctx, g: g * conj(ctx.output * (1 - ctx.output)), 1, save_output=True, public="sigmoid")
cabs = cx_op("abs", _cx_abs, np.abs, lambda ctx, g: g * csgn(ctx.inputs[0]), 1, out="same", public="abs")
cangle = cx_op("angle", _cx_angle, np.angle,
               lambda ctx, g: g * 1j / conj(_nonzero(ctx.inputs[0])), 1, out="same")
csgn = cx_op("sgn", _cx_sgn, lambda z: np.where(z == 0, 0, z / np.where(z == 0, 1, np.abs(z))), _sgn_bw, 1,
             save_output=True, public="sgn")
cisnan = cx_op("isnan", _cx_isnan, np.isnan, None, 1, out=D.bool, public="isnan")


# composed from the ops above or from the parts' real predicates
UNARY.update(isfinite=lambda z: real(z).isfinite() & imag(z).isfinite(),
             isinf=lambda z: real(z).isinf() | imag(z).isinf(),
             tan=lambda z: csin(z) / ccos(z), rsqrt=lambda z: crecip(csqrt(z)),
             sinh=lambda z: -1j * csin(1j * z), cosh=lambda z: ccos(1j * z),
             positive=lambda z: z, exp2=lambda z: cexp(z * math.log(2)), expm1=lambda z: cexp(z) - 1,
             log2=lambda z: clog(z) / math.log(2), log10=lambda z: clog(z) / math.log(10),
             log1p=lambda z: clog(z + 1))


def _nonzero(z):
    from .ternary import where
    return where(z == 0, 1.0, z)   # (angle's gradient at 0 is 0: g * i / conj(1) is masked by where's)


# ------------------------------------------------------------------------------ dispatch
def _promote(x, cdt):
    if type(x) is Tensor:
        return x if x.dtype is cdt else x.to(cdt)
    return x


_ATEN = {"floor_divide": "div_floor", "div_trunc": "div_trunc"}     # PyTorch's kernel names in its errors


def binary_call(name, input, other, vals, cdt, out):
    """Binary op ``name`` where the promoted dtype ``cdt`` is complex (from the binary template)."""
    fn = BINARY.get(name)
    if name in ("true_divide", "div"):
        fn = BINARY["div"]
    if fn is None:
        t = input if type(input) is Tensor else other
        raise no_complex(f"{_ATEN.get(name, name)}_{t.device.type}", cdt)
    if vals and name in ("add", "sub"):
        alpha = vals[0]
        if alpha != 1:
            other = other * alpha
    elif vals and name == "div" and vals[0] is not None:
        raise no_complex(f"div (rounding_mode={vals[0]!r})", cdt)
    a, b = _promote(input, cdt), _promote(other, cdt)
    r = fn(a, b)
    return r if out is None else write_out(out, r, name)


def unary_call(name, input, vals, out, inplace):
    """Unary op ``name`` on complex ``input`` (from the unary template)."""
    fn = UNARY.get(name)
    if name == "sign":
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex numbers. Please use "
                                  "torch.sgn instead.")
    if fn is None:
        raise no_complex(f"{name}_{input.device.type}", input.dtype)
    if inplace and name in ("abs", "angle"):
        raise RuntimeError(f"In-place {name} is not supported for complex tensors.")
    r = fn(input)
    if inplace:
        from .inplace import inplace_from
        return inplace_from(input, r, name + "_")
    return r if out is None else write_out(out, r, name)


def sgn(input, *, out=None):
    """``input / |input|`` (0 where 0) for complex tensors; ``sign`` for real ones.

    Example::

        >>> import ttorch
        >>> ttorch.sgn(ttorch.tensor([3 + 4j, 0j]))
        tensor([0.6000+0.8000j, 0.0000+0.0000j])
    """
    r = csgn(input) if input.dtype.is_complex else input.sign()
    return r if out is None else write_out(out, r, "sgn")


PUBLIC = {"sgn": sgn}
METHODS = {"sgn": sgn}
