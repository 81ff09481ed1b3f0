"""Unary elementwise ops: one line each (Triton function, NumPy function, backward rule).

``kind`` says how dtypes behave: ``float`` ops promote integer inputs to the default float
type (PyTorch's ``exp(int_tensor)``), ``floatonly`` ops refuse them (``gelu``), ``same`` ops
keep the input type, ``pred`` ops return bool, ``int`` ops admit only integer/bool inputs.

Numeric parameters (``leaky_relu``'s slope, ``hardtanh``'s bounds) reach the kernel as scalar
operands in the compute dtype, so a float64 op sees them exactly; a string parameter
(``gelu``'s ``approximate``) picks one of several Triton functions. Constants inside Triton
functions go through ``_c`` for the same reason: a bare Python float is an fp32 literal.
"""
import builtins
import math

import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .. import _torch_function
from .._tensor import Tensor
from ._op import Op, write_out, SUBCLASS_OPS
from .elementwise import ew_launch, ew_specs, np_quiet, scalar_operand, tl_dtype, make_plan, run_plan, HEAVY
from ._plan import plans_on, see, NO_PLAN as _NO_PLAN, SEEN as _SEEN
from .samples import Sample, rng, unary_samples

PUBLIC = {}
METHODS = {}


def not_implemented(name, dtype, device):
    """PyTorch's error for a dtype an op's kernels don't cover."""
    return RuntimeError(f"\"{name}_{device.type}\" not implemented for '{D.scalar_name(dtype)}'")


def _dtypes(kind, dt, name, device=None):
    """(output dtype, compute dtype) of unary op ``name`` on a ``dt`` tensor."""
    if kind == "float":
        out = dt if dt.is_floating_point else D.get_default_dtype()
        return out, D._compute_dtype(out)
    if kind == "floatonly":
        if not dt.is_floating_point:
            raise not_implemented(name, dt, device)
        return dt, D._compute_dtype(dt)
    if kind == "same":
        if dt is D.bool:
            if name == "neg":
                raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                                   "to invert a mask, use the `~` or `logical_not()` operator instead.")
            if name == "square":  # square is pow(x, 2): bool promotes to int64
                return D.int64, D.int64
            if name in ("hardtanh", "relu6"):
                raise RuntimeError("Bool inputs not supported for hardtanh")
            return dt, D.int8  # bools compute as 0/1 bytes
        return dt, D._compute_dtype(dt)
    if kind == "pred":
        return D.bool, D.int8 if dt is D.bool else D._compute_dtype(dt)
    if kind == "int":
        if dt.is_floating_point:
            raise not_implemented(name, dt, device)
        return dt, dt
    raise ValueError(kind)


_SPEC_DTYPES = {"float": (D.float32, D.bfloat16, D.float64), "floatonly": (D.float32, D.bfloat16, D.float64),
                "same": (D.float32, D.float16, D.int32, D.int64), "pred": (D.float32, D.bfloat16, D.int64),
                "int": (D.int32, D.int64, D.uint8, D.bool)}

_TEST_DTYPES = {"float": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "floatonly": (D.float32, D.float16, D.bfloat16, D.float64),
                "same": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "pred": (D.float32, D.float16, D.float64, D.int64), "int": (D.int64, D.int32, D.uint8, D.bool)}


def param_specs(fn, nin, dtypes, out_dtype=None, scalar=(1, 2), compute=None):
    """``ew_specs`` with operands ``scalar`` (indices) passed by value, as parameters are;
    ``compute(dtype)`` gives the compute dtype the op uses at run time."""
    specs = ew_specs(fn, nin, dtypes, out_dtype)
    for s, dt in zip(specs, dtypes):
        cd = compute(dt) if compute else D._compute_dtype(dt)
        s.constexprs["COMPUTE"] = tl_dtype(cd)
        for i in scalar:
            if i < nin:
                s.signature["abc"[i] + "_ptr"] = "fp32" if cd.is_floating_point else "i32"
                s.constexprs["ABC"[i] + "_SCALAR"] = True
        if not cd.is_floating_point:  # Python ints reach the kernel as i32
            s.signature["p0"] = s.signature["p1"] = "i32"
        s.label += f" nin={nin}"
    return specs


def unary(name, fn, np_fn, backward=None, *, kind="float", params=(), operands=None, resolve=None,
          save_output=False, domain=(-2.0, 2.0), extra=(), method=True, public=True, grad_name=None):
    """Define unary op ``name`` and its public function.

    ``fn``: ``@triton.jit fn(x, [a, [b,]] p0, p1)``, or a dict of them keyed by the value of the
    first parameter (a string). ``np_fn(x, *params)``: the NumPy fallback. ``params``: ``(name,
    default)`` pairs; the numeric ones listed in ``operands`` (default: all) become the kernel's
    scalar operands ``a, b``, any others ride in ``p0, p1``. ``resolve(values, input)`` fills
    dtype-dependent defaults and checks values. ``extra``: more samples (``Sample``s, kwargs dicts,
    or input arrays tested without gradients).
    """
    pnames = [p[0] for p in params]
    defaults = [p[1] for p in params]
    choice = isinstance(fn, dict)
    numeric = [i for i in range(len(params)) if not (choice and i == 0)]
    ops_idx = list(numeric if operands is None else operands)
    p_idx = [i for i in numeric if i not in ops_idx]
    fns = fn if choice else {None: fn}

    def cpu(a, *, out_dtype, compute, **pv):
        x = a if a.dtype == compute.np else a.astype(compute.np)
        r = np.asarray(np_quiet(np_fn, x, *pv.values()))
        return r if r.dtype == out_dtype.np else r.astype(out_dtype.np)

    def cuda(x, *, out_dtype, compute, **pv):
        vals = list(pv.values())
        cast = float if compute.is_floating_point else int
        opnds = [x] + [scalar_operand(vals[i], compute, x.device) for i in ops_idx]
        p = [cast(vals[i]) for i in p_idx] + [cast(0)] * 2
        out = Tensor._empty(x._shape, out_dtype, x.device)
        return ew_launch(fns[vals[0] if choice else None], out, opnds, compute, p[0], p[1])

    def specs():
        out = D.bool if kind == "pred" else None
        return [s for f in fns.values() for s in param_specs(f, 1 + len(ops_idx), _SPEC_DTYPES[kind], out,
                                                            compute=lambda dt: _dtypes(kind, dt, name)[1])]

    def samples():
        r = rng(name)
        skind = "int" if kind == "int" else "float" if kind != "pred" else "pred"
        out = unary_samples(name, skind, params, domain)
        for e in extra:
            if isinstance(e, Sample):
                out.append(e)
            elif isinstance(e, dict):
                out.append(Sample([r.uniform(*domain, size=(3, 5))], e, note=str(e)))
            else:
                out.append(Sample([np.asarray(e, dtype=np.float64)], grad=False, note="special values"))
        return out

    # save_output="only": the rule reads the output alone (exp, tanh, relu...), so the input is not kept
    # alive for it (PyTorch saves one of them)
    op = Op(name, cpu=cpu, cuda=cuda, backward=backward, save=() if save_output == "only" else (0,),
            save_output=bool(save_output), samples=samples, kernels=specs, family="unary", grad_name=grad_name)
    plans = {}      # (dtype, shape, strides, device, default dtype, parameters) -> elementwise.Plan (cuda)

    def f(input, *args, out=None, **kwargs):
        inplace = kwargs.pop("inplace", False)
        if len(args) > len(pnames):
            raise TypeError(f"{name}() takes {1 + len(pnames)} positional arguments but {1 + len(args)} were given")
        vals = list(args) + defaults[len(args):]
        for k, v in kwargs.items():
            if k not in pnames:
                raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
            vals[pnames.index(k)] = v
        if type(input) is not Tensor:
            if getattr(input, "_sparse_values_ops", False):     # sparse: the op on its values, or PyTorch's error
                return SUBCLASS_OPS[type(input)](op, (input,), dict(zip(pnames, vals), _public=True, _inplace=inplace,
                                                                    _out=out))
            if getattr(input, "is_nested", False):     # Op.__call__ hands it to ttorch/nested's handler
                out_dtype, compute = _dtypes(kind, input.dtype, name, input.device)
                r = op(input, out_dtype=out_dtype, compute=compute, **dict(zip(pnames, vals)))
                return input._inplace_from(r, name + "_") if inplace else r if out is None else write_out(out, r, name)
            if type(input) in SUBCLASS_OPS:     # a MaskedTensor...: its handler, given our parameters
                return SUBCLASS_OPS[type(input)](op, (input,), dict(zip(pnames, vals)))
            r = _torch_function.duck(name, (input, *args), dict(kwargs, out=out))  # a duck-typed array's handler
            if r is not _torch_function.NO:
                return r
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        if input.dtype.is_complex:          # (Triton has no complex type: complex_math.py's kernels)
            from .complex_math import unary_call
            return unary_call(name, input, vals, out, inplace)
        pk = None
        if out is None and not inplace and input.device.type == "cuda":
            # a plan of the launch, made by the second call of its key (see elementwise.Plan); the
            # parameters' values are part of the key (they are baked in)
            pk = (input.dtype, input._shape, input._stride, input.device, D._default_dtype, *vals)
            try:
                plan = plans.get(pk)
            except TypeError:               # an unhashable parameter value: no plan
                plan = pk = _NO_PLAN
            if plan is not None and plan is not _NO_PLAN and plan is not _SEEN:
                r = run_plan(plan, op, (input,), input.device)
                if r is not None:
                    return r
            if plan is None and plans_on():     # a key seen once is planned when it comes back
                see(plans, pk)
            if plan is not _SEEN or not plans_on():
                pk = None
        out_dtype, compute = _dtypes(kind, input.dtype, name, input.device)
        if resolve is not None:
            vals = resolve(vals, input)
        attrs = dict(zip(pnames, vals))
        if pk is not None:
            attrs = dict(out_dtype=out_dtype, compute=compute, **attrs)
            r, plan = make_plan(lambda: op(input, **attrs), (input,), (0, None, None), attrs)
            plans[pk] = plan or _NO_PLAN
            return r
        r = op(input, out_dtype=out_dtype, compute=compute, **attrs)
        if inplace:
            from .inplace import inplace_from
            return inplace_from(input, r, name + "_")
        return r if out is None else write_out(out, r, name)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``ttorch.{name}(input{''.join(', ' + p for p in pnames)})``: elementwise, as in PyTorch."
    f.op = op
    f.plans = plans
    op.public = f
    op.dtypes = _TEST_DTYPES[kind]
    if public:
        PUBLIC[name] = f
        if method:
            METHODS[name] = f
    return f


def _np1(f):
    return lambda x, *p: f(x)


def _where(cond, a, b):
    from .ternary import where
    return where(cond, a, b)


def _act_bw(g, x, name):
    from .act_backward import act_backward     # one fused kernel (act_backward.py)
    return act_backward(g, x, name)


def _zeros(ctx, g):
    from .creation import zeros_like
    return zeros_like(g)


# ---------------------------------------------------------------------------- Triton helpers
@triton.jit
def _c(x, value: tl.constexpr):
    """The constant ``value`` in ``x``'s dtype (exact in float64, unlike a literal)."""
    return tl.full(x.shape, value, x.dtype)


@triton.jit
def _div(x, y):
    # IEEE division, as PyTorch's kernels: Triton's fp32 ``/`` is the approximate div.full
    if y.dtype == tl.float32:
        return tl.div_rn(x, y)
    else:
        return x / y


# ---------------------------------------------------------------------------- Triton functions
@triton.jit
def _neg(x, p0, p1):
    return -x


@triton.jit
def _abs(x, p0, p1):
    return tl.abs(x)


@triton.jit
def _sign(x, p0, p1):
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


@triton.jit
def _exp(x, p0, p1):
    return libdevice.exp(x)  # tl.exp is ex2.approx in fp32


@triton.jit
def _exp2(x, p0, p1):
    return libdevice.exp2(x)


@triton.jit
def _expm1(x, p0, p1):
    return libdevice.expm1(x)


@triton.jit
def _log(x, p0, p1):
    return tl.log(x)


@triton.jit
def _log2(x, p0, p1):
    return libdevice.log2(x)


@triton.jit
def _log10(x, p0, p1):
    return libdevice.log10(x)


@triton.jit
def _log1p(x, p0, p1):
    return libdevice.log1p(x)


@triton.jit
def _sqrt(x, p0, p1):
    if x.dtype == tl.float32:
        return tl.sqrt_rn(x)  # correctly rounded, as PyTorch's (tl.sqrt is approximate in fp32)
    else:
        return tl.sqrt(x)


@triton.jit
def _rsqrt(x, p0, p1):
    return libdevice.rsqrt(x)


@triton.jit
def _reciprocal(x, p0, p1):
    return _div(_c(x, 1.0), x)


@triton.jit
def _square(x, p0, p1):
    return x * x


@triton.jit
def _sin(x, p0, p1):
    return libdevice.sin(x)


@triton.jit
def _cos(x, p0, p1):
    return libdevice.cos(x)


@triton.jit
def _tan(x, p0, p1):
    return libdevice.tan(x)


@triton.jit
def _asin(x, p0, p1):
    return libdevice.asin(x)


@triton.jit
def _acos(x, p0, p1):
    return libdevice.acos(x)


@triton.jit
def _atan(x, p0, p1):
    return libdevice.atan(x)


@triton.jit
def _sinh(x, p0, p1):
    return libdevice.sinh(x)


@triton.jit
def _cosh(x, p0, p1):
    return libdevice.cosh(x)


@triton.jit
def _tanh(x, p0, p1):
    return libdevice.tanh(x)


@triton.jit
def _asinh(x, p0, p1):
    return libdevice.asinh(x)


@triton.jit
def _acosh(x, p0, p1):
    return libdevice.acosh(x)


@triton.jit
def _atanh(x, p0, p1):
    return libdevice.atanh(x)


@triton.jit
def _sigmoid(x, p0, p1):
    return _div(_c(x, 1.0), 1 + libdevice.exp(-x))


@triton.jit
def _logsigmoid(x, p0, p1):
    # min(x, 0) - log1p(exp(-|x|)): no overflow for either sign
    return tl.minimum(x, 0) - libdevice.log1p(libdevice.exp(-tl.abs(x)))


@triton.jit
def _relu(x, p0, p1):
    return tl.where(x < 0, 0, x)  # NaN stays NaN, as PyTorch's clamp_min(0)


@triton.jit
def _relu6(x, p0, p1):
    r = tl.where(x < 0, 0, x)
    return tl.where(r > 6, 6, r)


@triton.jit
def _hardtanh(x, lo, hi, p0, p1):
    r = tl.where(x < lo, lo, x)  # min(max(x, lo), hi): hi wins when lo > hi, as in clamp
    return tl.where(r > hi, hi, r)


@triton.jit
def _leaky_relu(x, slope, p0, p1):
    return tl.where(x > 0, x, x * slope)


@triton.jit
def _elu(x, alpha, p0, p1):
    return tl.where(x > 0, x, alpha * libdevice.expm1(x))


@triton.jit
def _selu(x, p0, p1):
    return _c(x, 1.0507009873554804934193349852946) * tl.where(
        x > 0, x, _c(x, 1.6732632423543772848170429916717) * libdevice.expm1(x))


@triton.jit
def _gelu(x, p0, p1):
    return 0.5 * x * (1 + libdevice.erf(x * _c(x, 0.7071067811865476)))


@triton.jit
def _gelu_tanh(x, p0, p1):
    inner = _c(x, 0.7978845608028654) * (x + _c(x, 0.044715) * x * x * x)
    return 0.5 * x * (1 + libdevice.tanh(inner))


@triton.jit
def _silu(x, p0, p1):
    return _div(x, 1 + libdevice.exp(-x))


@triton.jit
def _mish(x, p0, p1):
    return x * libdevice.tanh(libdevice.log1p(libdevice.exp(x)))


@triton.jit
def _softplus(x, beta, threshold, p0, p1):
    xb = x * beta
    return tl.where(xb > threshold, x, _div(libdevice.log1p(libdevice.exp(xb)), beta))


@triton.jit
def _hardswish(x, p0, p1):
    return _div(x * tl.minimum(tl.maximum(x + 3, 0), 6), _c(x, 6.0))


@triton.jit
def _sinc(x, p0, p1):
    px = x * 3.141592653589793
    return tl.where(x == 0, 1.0, _div(libdevice.sin(px), px))


@triton.jit
def _logit(x, eps, p0, p1):
    # eps < 0 (None): no clamping, as PyTorch's kernel reads it
    lo = tl.maximum(x, eps, propagate_nan=tl.PropagateNan.ALL)
    z = tl.where(eps >= 0, tl.minimum(lo, 1 - eps, propagate_nan=tl.PropagateNan.ALL), x)
    return tl.log(_div(z, 1 - z))


@triton.jit
def _celu(x, alpha, p0, p1):
    return tl.where(x > 0, x, alpha * libdevice.expm1(_div(x, alpha)))


@triton.jit
def _hardsigmoid(x, p0, p1):
    r = tl.maximum(x + 3, 0.0, propagate_nan=tl.PropagateNan.ALL)                  # (NaN stays NaN)
    return _div(tl.minimum(r, 6.0, propagate_nan=tl.PropagateNan.ALL), _c(x, 6.0))


@triton.jit
def _softsign(x, p0, p1):
    return _div(x, 1 + tl.abs(x))


@triton.jit
def _tanhshrink(x, p0, p1):
    return x - libdevice.tanh(x)


@triton.jit
def _softshrink(x, lambd, p0, p1):
    # 0 on [-lambd, lambd] (+0 for -0.0, as PyTorch's), NaN kept
    return tl.where((x >= -lambd) & (x <= lambd), 0.0, tl.where(x > lambd, x - lambd, x + lambd))


@triton.jit
def _hardshrink(x, lambd, p0, p1):
    return tl.where((x >= -lambd) & (x <= lambd), 0.0, x)


@triton.jit
def _erf(x, p0, p1):
    return libdevice.erf(x)  # tl.erf evaluates float64 in float32


@triton.jit
def _erfc(x, p0, p1):
    return libdevice.erfc(x)


@triton.jit
def _lgamma(x, p0, p1):
    return libdevice.lgamma(x)


@triton.jit
def _erfinv(x, p0, p1):
    return libdevice.erfinv(x)


@triton.jit
def _digamma(x, p0, p1):
    # psi(x) = psi(1 - x) - pi / tan(pi x) for x < 0; psi(y) = psi(y + k) - sum 1 / (y + i); for
    # y >= 10 the asymptotic series to z**-14 (Cephes' psi does the same); PyTorch's poles: -inf
    # at 0, NaN at the negative integers
    pi = _c(x, 3.141592653589793)
    neg = x < 0
    y = tl.where(neg, 1 - x, x)
    acc = tl.zeros_like(x)
    for _ in range(10):         # (a loop, not unrolled: the elementwise kernel's many values a thread)
        small = y < 10
        acc = acc - tl.where(small, 1 / y, 0)
        y = tl.where(small, y + 1, y)
    z = 1 / (y * y)
    series = z * (_c(x, 1 / 12) - z * (_c(x, 1 / 120) - z * (_c(x, 1 / 252) - z * (_c(x, 1 / 240) - z * (
        _c(x, 1 / 132) - z * (_c(x, 691 / 32760) - z * _c(x, 1 / 12)))))))
    r = libdevice.log(y) - 0.5 / y - series + acc
    r = tl.where(neg, r - pi / libdevice.tan(pi * x), r)
    r = tl.where(x == 0, float("-inf"), r)
    return tl.where(neg & (x == libdevice.floor(x)), float("nan"), r)


@triton.jit
def _polygamma(x, p0, p1):
    # psi^(n)(x), n = p0 >= 1: (-1)^(n+1) n! sum 1 / (x + i)^(n+1) over the shift to x + k >= 10, plus
    # the asymptotic series there (to the B14 term); trigamma (n = 1) reflects x < 0 (psi1(x) =
    # -psi1(1 - x) + pi^2 / sin^2(pi x)); the non-positive integers are poles (+-inf)
    n = p0.to(tl.int32)
    nf = p0.to(x.dtype)
    fact = tl.zeros_like(x) + 1                       # (n - 1)!
    for i in range(1, n):
        fact = fact * i
    fact_n = fact * nf
    sign = tl.where(n % 2 == 1, 1.0, -1.0).to(x.dtype)
    pi = _c(x, 3.141592653589793)
    refl = (n == 1) & (x < 0)
    y = tl.where(refl, 1 - x, x)
    acc = tl.zeros_like(x)
    # up past 10 from the block's least value (negative ones too: the sum alternates there, as
    # Cephes' zeta sums it); loops, not unrolled, and powers by products: fewer live registers
    lowest = tl.min(tl.where(y == y, y, 10), 0)     # (NaN left out)
    steps = 10 - tl.maximum(tl.minimum(lowest, 10), -1e6).to(tl.int32)
    for _ in range(steps):
        small = y < 10
        inv = 1 / y
        term = inv
        for _ in range(n):
            term = term * inv
        acc = acc + tl.where(small, term, 0)
        y = tl.where(small, y + 1, y)
    yn = tl.zeros_like(x) + 1
    for _ in range(n):
        yn = yn * y
    inv2 = 1 / (y * y)
    s = fact / yn + fact_n / (2 * yn * y)
    g = fact_n * (nf + 1) / 2                         # (2k + n - 1)! / (2k)! at k = 1
    p = inv2 / yn
    s = s + _c(x, 1 / 6) * g * p
    g, p = g * (nf + 2) * (nf + 3) / 12, p * inv2
    s = s + _c(x, -1 / 30) * g * p
    g, p = g * (nf + 4) * (nf + 5) / 30, p * inv2
    s = s + _c(x, 1 / 42) * g * p
    g, p = g * (nf + 6) * (nf + 7) / 56, p * inv2
    s = s + _c(x, -1 / 30) * g * p
    g, p = g * (nf + 8) * (nf + 9) / 90, p * inv2
    s = s + _c(x, 5 / 66) * g * p
    g, p = g * (nf + 10) * (nf + 11) / 132, p * inv2
    s = s + _c(x, -691 / 2730) * g * p
    g, p = g * (nf + 12) * (nf + 13) / 182, p * inv2
    s = s + _c(x, 7 / 6) * g * p
    r = sign * (fact_n * acc + s)
    sn = libdevice.sin(pi * x)
    r = tl.where(refl, pi * pi / (sn * sn) - r, r)
    whole = (x <= 0) & (x == libdevice.floor(x))
    return tl.where(whole, sign * float("inf"), r)


@triton.jit
def _floor(x, p0, p1):
    if x.dtype.is_floating():
        return libdevice.floor(x)
    else:
        return x  # integers are already whole, as in PyTorch


@triton.jit
def _ceil(x, p0, p1):
    if x.dtype.is_floating():
        return libdevice.ceil(x)
    else:
        return x


@triton.jit
def _trunc(x, p0, p1):
    if x.dtype.is_floating():
        return libdevice.trunc(x)
    else:
        return x


@triton.jit
def _round(x, p0, p1):
    if x.dtype.is_floating():
        return libdevice.nearbyint(x)  # halves to even
    else:
        return x


@triton.jit
def _round_decimals(x, d, p0, p1):
    # PyTorch's formula: scale by 10^|decimals|, round half to even, scale back
    if x.dtype.is_floating():
        s = libdevice.pow(_c(x, 10.0), tl.abs(d))
        return tl.where(d >= 0, _div(libdevice.nearbyint(x * s), s), libdevice.nearbyint(_div(x, s)) * s)
    else:
        return x


@triton.jit
def _frac(x, p0, p1):
    return x - libdevice.trunc(x)


@triton.jit
def _logical_not(x, p0, p1):
    return x == 0


@triton.jit
def _bitwise_not(x, p0, p1):
    return ~x


@triton.jit
def _isnan(x, p0, p1):
    return x != x


@triton.jit
def _signbit(x, p0, p1):
    # the sign bit itself: -0.0 and a NaN's sign too (a float's bits as a signed integer of its width;
    # half types arrive converted to float32, which keeps the sign)
    if x.dtype == tl.float64:
        r = x.to(tl.int64, bitcast=True) < 0
    elif x.dtype.is_floating():
        r = x.to(tl.float32).to(tl.int32, bitcast=True) < 0
    else:
        r = x < 0
    return r


@triton.jit
def _isinf(x, p0, p1):
    if x.dtype.is_floating():
        return libdevice.isinf(x)
    else:
        return x != x  # never


@triton.jit
def _isfinite(x, p0, p1):
    if x.dtype.is_floating():
        return (x == x) & ~libdevice.isinf(x)
    else:
        return x == x  # always


@triton.jit
def _nan_to_num(x, posinf, neginf, nan, p1):
    if x.dtype.is_floating():
        r = tl.where(x != x, nan.to(x.dtype), x)
        inf = libdevice.isinf(x)
        r = tl.where(inf & (x > 0), posinf, r)
        return tl.where(inf & (x < 0), neginf, r)
    else:
        return x


# ---------------------------------------------------------------------------- NumPy functions
def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_round_decimals(x, d):
    if x.dtype.kind != "f":
        return x.copy()
    s = x.dtype.type(10.0 ** builtins.abs(d))
    return np.rint(x / s) * s if d < 0 else np.rint(x * s) / s


def _np_whole(f):
    return lambda x, *p: f(x) if x.dtype.kind == "f" else x.copy()


def _np_gelu(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(x.dtype.type(math.sqrt(2 / math.pi)) * (x + x.dtype.type(0.044715) * x ** 3)))
    if x.dtype != np.float64:     # 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2): no cancellation for x < 0
        x32 = x.astype(np.float32)
        y = _erfc32(x32 * np.float32(-math.sqrt(0.5)))
        y *= x32
        y *= np.float32(0.5)
        return y.astype(x.dtype, copy=False)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1 + erf(x * math.sqrt(0.5)))).astype(x.dtype)


def _erfc_fast(x):
    """erfc in float64 NumPy to a relative error below 1.1e-7 (Numerical Recipes' Chebyshev fit):
    enough for float32 and narrower, and ~100x faster than ``np.vectorize(math.erfc)``."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    p = -0.82215223 + t * 0.17087277
    for c in (1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368):
        p = c + t * p
    r = t * np.exp(-z * z - 1.26551223 + t * p)
    return np.where(x >= 0, r, 2.0 - r)


def _erfc32(x):
    """``_erfc_fast`` evaluated in float32, in place (a float32 ``x``; returns a new array): about
    twice as fast, for gelu on cpu. The argument of ``exp`` (about -x^2) rounds to float32, so the
    relative error grows with x^2 ulp: 1.4e-6 for |x| < 3, 1e-5 by |x| = 13, where erfc underflows."""
    shape, x = x.shape, x.reshape(-1)          # 0-d arrays would turn into scalars, which out= refuses
    z = np.abs(x)
    t = z * np.float32(0.5)
    t += np.float32(1)
    np.reciprocal(t, out=t)
    p = t * np.float32(0.17087277)
    p += np.float32(-0.82215223)
    for c in (1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368):
        p *= t
        p += np.float32(c)
    p *= t
    np.multiply(z, z, out=z)
    p -= z
    p += np.float32(-1.26551223)
    np.exp(p, out=p)
    p *= t
    np.subtract(np.float32(2), p, out=p, where=x < 0)
    return p.reshape(shape)


def _erf_fast(x):
    """erf to float32 accuracy: a Taylor series near 0 (where 1 - erfc would cancel), 1 - erfc beyond."""
    x2, term, acc = x * x, x.copy(), x.copy()
    for n in range(1, 12):          # |x| < 0.5: the 12th term is below 1e-16
        term = term * -x2 / n
        acc = acc + term / (2 * n + 1)
    return np.where(np.abs(x) < 0.5, acc * (2 / math.sqrt(math.pi)), 1.0 - _erfc_fast(x))


def _np_erf(f):
    fast = _erf_fast if f is math.erf else _erfc_fast

    def run(x):
        if x.dtype == np.float64:   # float64 needs full precision: the slow exact path
            return np.vectorize(f, otypes=[np.float64])(x).astype(x.dtype)
        return fast(x.astype(np.float64)).astype(x.dtype)
    return run


_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)     # B2 .. B14


def _np_lgamma(x):
    def f(v):
        try:
            return math.lgamma(v)
        except ValueError:          # the poles (0, the negative integers): inf, as PyTorch
            return math.inf
    return np.vectorize(f, otypes=[np.float64])(x).astype(x.dtype)


def _np_digamma(x):
    """``_digamma``'s algorithm in float64 NumPy."""
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        neg = v < 0
        y = np.where(neg, 1 - v, v)
        acc = np.zeros_like(y)
        for _ in range(10):
            small = y < 10
            acc = acc - np.where(small, 1 / y, 0)
            y = np.where(small, y + 1, y)
        z = 1 / (y * y)
        series = sum(b / (2 * k + 2) * z ** (k + 1) for k, b in enumerate(_BERNOULLI))
        r = np.log(y) - 0.5 / y - series + acc
        r = np.where(neg, r - np.pi / np.tan(np.pi * v), r)
        r = np.where(v == 0, -np.inf, r)
        r = np.where(neg & (v == np.floor(v)), np.nan, r)
    return r.astype(x.dtype)


def _np_polygamma(x, n):
    """``_polygamma``'s algorithm in float64 NumPy (``n`` >= 1)."""
    n = int(n)
    v = x.astype(np.float64)
    fact_n = float(math.factorial(n))
    sign = 1.0 if n % 2 else -1.0
    with np.errstate(all="ignore"):
        refl = (n == 1) & (v < 0)
        y = np.where(refl, 1 - v, v)
        acc = np.zeros_like(y)
        while np.any(y < 10):       # (NaN compares False)
            small = y < 10
            acc = acc + np.where(small, y ** -(n + 1.0), 0)
            y = np.where(small, y + 1, y)
        s = math.factorial(n - 1) / y ** n + fact_n / (2 * y ** (n + 1))
        for k, b in enumerate(_BERNOULLI, 1):
            s = s + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / y ** (2 * k + n)
        r = sign * (fact_n * acc + s)
        r = np.where(refl, np.pi ** 2 / np.sin(np.pi * v) ** 2 - r, r)
        r = np.where((v <= 0) & (v == np.floor(v)), sign * np.inf, r)
    return r.astype(x.dtype)


def _np_erfinv(x):
    """The inverse of erf in float64 NumPy: Giles' single-precision approximation, then three Newton
    steps on ``math.erf`` (on ``math.erfc`` past 0.5, for the tail's digits); +-inf at +-1, NaN beyond."""
    v = x.astype(np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1 - v) * (1 + v))
        lo = w - 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
                  0.246640727, 1.50140941):
            p = c + p * lo
        hi = np.sqrt(w) - 3
        q = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                  1.00167406, 2.83297682):
            q = c + q * hi
        y = np.where(w < 5, p, q) * v
        erf = np.vectorize(math.erf, otypes=[np.float64])
        erfc = np.vectorize(math.erfc, otypes=[np.float64])
        a, tail = np.abs(v), np.abs(v) > 0.5
        for _ in range(3):          # near +-1 on erfc(|y|) = 1 - |x|, which keeps the tail's digits
            ay = np.abs(y)
            step = np.where(tail, -(erfc(ay) - (1 - a)), erf(ay) - a) / (2 / math.sqrt(math.pi) * np.exp(-ay * ay))
            y = np.copysign(np.where(np.isfinite(step), ay - step, ay), v)
        y = np.where(np.abs(v) == 1, np.copysign(np.inf, v), y)
        y = np.where(np.abs(v) > 1, np.nan, y)
    return y.astype(x.dtype)


def _np_softplus(x, beta, threshold):
    xb = x * beta
    return np.where(xb > threshold, x, np.log1p(np.exp(xb)) / beta)


def _np_hardtanh(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _np_nan_to_num(x, nan, posinf, neginf):
    if x.dtype.kind != "f":
        return x.copy()
    r = np.where(np.isnan(x), x.dtype.type(nan), x)
    r = np.where(np.isposinf(x), x.dtype.type(posinf), r)
    return np.where(np.isneginf(x), x.dtype.type(neginf), r)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------- parameter checks
def _resolve_hardtanh(vals, x):
    if x.dtype.is_floating_point:
        return vals
    lo, hi = int(vals[0]), int(vals[1])  # integer inputs truncate the bounds, as PyTorch does
    if x.dtype is D.uint8 and (lo < 0 or hi < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    return [lo, hi]


def _resolve_gelu(vals, x):
    if vals[0] not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return vals


def _resolve_nan_to_num(vals, x):
    if not x.dtype.is_floating_point:
        return [0.0, 0.0, 0.0]
    fi = D.finfo(x.dtype)
    nan, posinf, neginf = vals
    return [0.0 if nan is None else float(nan), fi.max if posinf is None else float(posinf),
            fi.min if neginf is None else float(neginf)]


# ---------------------------------------------------------------------------- backward rules
_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _gelu_bw(ctx, g):
    return _act_bw(g, ctx.inputs[0], "gelu_tanh" if ctx.approximate == "tanh" else "gelu")


def _mish_bw(ctx, g):
    x = ctx.inputs[0]
    t = softplus(x).tanh()
    return g * (t + x * x.sigmoid() * (1 - t * t))


def _hardswish_bw(ctx, g):
    x = ctx.inputs[0]
    return _where(x < -3, 0.0, _where(x <= 3, g * (x / 3 + 0.5), g))


def _hardsigmoid_bw(ctx, g):
    x = ctx.inputs[0]
    return _where((x > -3) & (x < 3), g / 6, 0.0)


def _softsign_bw(ctx, g):
    # PyTorch composes softsign, x / (1 + |x|): its gradient's quotient rule, NaN at the infinities too
    x = ctx.inputs[0]
    d = x.abs() + 1
    return g * (1 / d - x.abs() / (d * d))


def _shrink_bw(ctx, g):
    # 1 outside [-lambd, lambd], 0 inside and at NaN (softshrink's and hardshrink's)
    return _where(ctx.inputs[0].abs() > ctx.lambd, g, 0.0)


def _np_softshrink(x, lambd):
    return np.where((x >= -lambd) & (x <= lambd), 0.0, np.where(x > lambd, x - lambd, x + lambd)).astype(x.dtype)


def _hardtanh_bw(lo, hi):
    def bw(ctx, g):
        x = ctx.inputs[0]
        a, b = (ctx.min_val, ctx.max_val) if lo is None else (lo, hi)
        return _where((x <= a).logical_or(x >= b), 0.0, g)  # zero at the bounds, as PyTorch's hardtanh_backward
    return bw


# the exponential side where x <= 0, as PyTorch's elu_backward picks it: a NaN input takes the other
def _elu_bw(ctx, g):
    x = ctx.inputs[0]
    return _where(x <= 0, g * ctx.alpha * x.exp(), g)


def _sinc_bw(ctx, g):
    # PyTorch's: (pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 at x = 0
    x = ctx.inputs[0]
    px = x * math.pi
    return g * _where(x == 0, 0.0, (px * px.cos() - px.sin()) / (px * x))


def _logit_bw(ctx, g):
    # PyTorch's: grad / (x (1 - x)); outside [eps, 1 - eps] 0 when eps >= 0, outside [0, 1] NaN when not
    x, eps = ctx.inputs[0], ctx.eps
    lo, hi, off = (0.0, 1.0, math.nan) if eps < 0 else (eps, 1 - eps, 0.0)
    return _where((x < lo) | (x > hi), off, g / (x * (1 - x)))


def _np_logit(x, eps):
    z = x if eps < 0 else np.clip(x, eps, 1 - eps)
    return np.log(z / (1 - z))


def _np_sinc(x):
    px = np.where(x == 0, 1, x) * x.dtype.type(math.pi)
    return np.where(x == 0, x.dtype.type(1), np.sin(px) / px)


def _resolve_logit(vals, x):
    return [-1.0 if vals[0] is None else float(vals[0])]     # (PyTorch's kernels take a negative eps as None)


def _celu_bw(ctx, g):
    x = ctx.inputs[0]
    return _where(x <= 0, g * (x / ctx.alpha).exp(), g)


def _selu_bw(ctx, g):
    x = ctx.inputs[0]
    return _where(x <= 0, g * (_SELU_SCALE * _SELU_ALPHA) * x.exp(), g * _SELU_SCALE)


# ---------------------------------------------------------------------------- the ops
_x = lambda ctx: ctx.inputs[0]  # noqa: E731

neg = unary("neg", _neg, _np1(np.negative), lambda ctx, g: -g, kind="same")
abs = unary("abs", _abs, _np1(np.abs), lambda ctx, g: g * _x(ctx).sign(), kind="same")
sign = unary("sign", _sign, _np1(lambda x: (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)), _zeros, kind="same")
exp = unary("exp", _exp, _np1(np.exp), lambda ctx, g: g * ctx.output, save_output="only")
exp2 = unary("exp2", _exp2, _np1(np.exp2), lambda ctx, g: g * ctx.output * _LN2, save_output="only")
expm1 = unary("expm1", _expm1, _np1(np.expm1), lambda ctx, g: g * (ctx.output + 1), save_output="only")
log = unary("log", _log, _np1(np.log), lambda ctx, g: g / _x(ctx), domain=(0.1, 3.0))
log2 = unary("log2", _log2, _np1(np.log2), lambda ctx, g: g / (_x(ctx) * _LN2), domain=(0.1, 3.0))
log10 = unary("log10", _log10, _np1(np.log10), lambda ctx, g: g / (_x(ctx) * _LN10), domain=(0.1, 3.0))
log1p = unary("log1p", _log1p, _np1(np.log1p), lambda ctx, g: g / (_x(ctx) + 1), domain=(-0.5, 2.0))
sqrt = unary("sqrt", _sqrt, _np1(np.sqrt), lambda ctx, g: g / (2 * ctx.output), save_output="only", domain=(0.1, 3.0))
rsqrt = unary("rsqrt", _rsqrt, _np1(lambda x: 1 / np.sqrt(x)), lambda ctx, g: -0.5 * g * ctx.output ** 3,
              save_output="only", domain=(0.1, 3.0))
reciprocal = unary("reciprocal", _reciprocal, _np1(lambda x: 1 / x), lambda ctx, g: -g * (ctx.output * ctx.output),
                   save_output="only", domain=(0.5, 2.0))
square = unary("square", _square, _np1(np.square), lambda ctx, g: g * 2 * _x(ctx), kind="same")
sin = unary("sin", _sin, _np1(np.sin), lambda ctx, g: g * _x(ctx).cos())
cos = unary("cos", _cos, _np1(np.cos), lambda ctx, g: g * -_x(ctx).sin())
tan = unary("tan", _tan, _np1(np.tan), lambda ctx, g: g * (1 + ctx.output * ctx.output), save_output="only",
            domain=(-1.2, 1.2))
asin = unary("asin", _asin, _np1(np.arcsin), lambda ctx, g: g * (1 - _x(ctx) * _x(ctx)).rsqrt(), domain=(-0.9, 0.9))
acos = unary("acos", _acos, _np1(np.arccos), lambda ctx, g: -g * (1 - _x(ctx) * _x(ctx)).rsqrt(), domain=(-0.9, 0.9))
atan = unary("atan", _atan, _np1(np.arctan), lambda ctx, g: g / (_x(ctx) * _x(ctx) + 1))
sinh = unary("sinh", _sinh, _np1(np.sinh), lambda ctx, g: g * _x(ctx).cosh())
cosh = unary("cosh", _cosh, _np1(np.cosh), lambda ctx, g: g * _x(ctx).sinh())
tanh = unary("tanh", _tanh, _np1(np.tanh), lambda ctx, g: g * (1 - ctx.output * ctx.output), save_output="only")
asinh = unary("asinh", _asinh, _np1(np.arcsinh), lambda ctx, g: g * (_x(ctx) * _x(ctx) + 1).rsqrt())
acosh = unary("acosh", _acosh, _np1(np.arccosh), lambda ctx, g: g * (_x(ctx) * _x(ctx) - 1).rsqrt(), domain=(1.1, 3.0))
atanh = unary("atanh", _atanh, _np1(np.arctanh), lambda ctx, g: g / (1 - _x(ctx) * _x(ctx)), domain=(-0.9, 0.9))
sigmoid = unary("sigmoid", _sigmoid, _np1(_np_sigmoid), lambda ctx, g: g * ctx.output * (1 - ctx.output),
                save_output="only")
logsigmoid = unary("logsigmoid", _logsigmoid, _np1(lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))),
                   lambda ctx, g: g * (-_x(ctx)).sigmoid(), kind="floatonly", method=False)
relu = unary("relu", _relu, _np1(lambda x: np.maximum(x, x.dtype.type(0))),
             lambda ctx, g: _act_bw(g, ctx.output, "relu"), kind="same", save_output="only")
relu6 = unary("relu6", _relu6, _np1(lambda x: np.minimum(np.maximum(x, x.dtype.type(0)), x.dtype.type(6))),
              _hardtanh_bw(0.0, 6.0), kind="same", domain=(-3.0, 8.0), method=False, grad_name="HardtanhBackward0")
hardtanh = unary("hardtanh", _hardtanh, _np_hardtanh, _hardtanh_bw(None, None), kind="same",
                 params=(("min_val", -1.0), ("max_val", 1.0)), resolve=_resolve_hardtanh,
                 extra=[{"min_val": -0.5, "max_val": 0.25}], method=False)
leaky_relu = unary("leaky_relu", _leaky_relu, lambda x, s: np.where(x > 0, x, x * s),
                   lambda ctx, g: _where(_x(ctx) > 0, g, g * ctx.negative_slope), kind="floatonly",
                   params=(("negative_slope", 0.01),), extra=[{"negative_slope": 0.2}], method=False)
elu = unary("elu", _elu, lambda x, a: np.where(x > 0, x, a * np.expm1(x)), _elu_bw, kind="floatonly",
            params=(("alpha", 1.0),), extra=[{"alpha": 0.3}], method=False)
_UNIT = [np.nan, 0.0, 1.0, 0.5, 0.2, 0.05, 0.99, -0.1, 1.2]
sinc = unary("sinc", _sinc, _np1(_np_sinc), _sinc_bw, domain=(-3.0, 3.0),
             extra=[[np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, 1.0, 1e-20, 2.5]])
logit = unary("logit", _logit, _np_logit, _logit_bw, params=(("eps", None),), resolve=_resolve_logit,
              domain=(0.05, 0.95), extra=[{"eps": 0.1}, _UNIT])
celu = unary("celu", _celu, lambda x, a: np.where(x > 0, x, a * np.expm1(x / a)), _celu_bw, kind="floatonly",
             params=(("alpha", 1.0),), extra=[{"alpha": 0.5}, [np.nan, np.inf, -np.inf, -0.0, 0.0, -1.0, 2.0]],
             method=False)
selu = unary("selu", _selu, _np1(lambda x: x.dtype.type(_SELU_SCALE) * np.where(
    x > 0, x, x.dtype.type(_SELU_ALPHA) * np.expm1(x))), _selu_bw, kind="floatonly", method=False)
gelu = unary("gelu", {"none": _gelu, "tanh": _gelu_tanh}, _np_gelu, _gelu_bw, kind="floatonly",
             params=(("approximate", "none"),), resolve=_resolve_gelu, extra=[{"approximate": "tanh"}], method=False)
silu = unary("silu", _silu, _np1(lambda x: x / (1 + np.exp(-x))), lambda ctx, g: _act_bw(g, ctx.inputs[0], "silu"),
             kind="floatonly", method=False)
mish = unary("mish", _mish, _np1(lambda x: x * np.tanh(np.log1p(np.exp(x)))), _mish_bw, kind="floatonly",
             method=False)
softplus = unary("softplus", _softplus, _np_softplus,
                 lambda ctx, g: _where(_x(ctx) * ctx.beta > ctx.threshold, g, g * (_x(ctx) * ctx.beta).sigmoid()),
                 kind="floatonly", params=(("beta", 1.0), ("threshold", 20.0)),
                 extra=[{"beta": 2.0, "threshold": 1.5}], method=False)
hardswish = unary("hardswish", _hardswish,
                  _np1(lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / x.dtype.type(6)), _hardswish_bw,
                  kind="floatonly", domain=(-5.0, 5.0), method=False)
_SHRINK = [np.nan, np.inf, -np.inf, -0.0, 0.5, -0.5, 0.2, 3.0, -3.0, 2.9]
hardsigmoid = unary("hardsigmoid", _hardsigmoid, _np1(lambda x: np.clip(x + 3, 0, 6) / x.dtype.type(6)),
                    _hardsigmoid_bw, kind="floatonly", domain=(-5.0, 5.0), method=False, extra=[_SHRINK])
softsign = unary("softsign", _softsign, _np1(lambda x: x / (1 + np.abs(x))), _softsign_bw, kind="float",
                 method=False, extra=[_SHRINK])
tanhshrink = unary("tanhshrink", _tanhshrink, _np1(lambda x: x - np.tanh(x)),
                   lambda ctx, g: g * _x(ctx).tanh().square(), kind="float", method=False, extra=[_SHRINK])
softshrink = unary("softshrink", _softshrink, _np_softshrink, _shrink_bw, kind="floatonly",
                   params=(("lambd", 0.5),), domain=(-2.0, 2.0), method=False, extra=[_SHRINK, {"lambd": 1.5}])
hardshrink = unary("hardshrink", _hardshrink,
                   lambda x, lambd: np.where((x >= -lambd) & (x <= lambd), 0.0, x).astype(x.dtype), _shrink_bw,
                   kind="floatonly", params=(("lambd", 0.5),), domain=(-2.0, 2.0), extra=[_SHRINK, {"lambd": 1.5}])
erf = unary("erf", _erf, _np1(_np_erf(math.erf)),
            lambda ctx, g: g * (2 / math.sqrt(math.pi)) * (-_x(ctx) * _x(ctx)).exp())
erfc = unary("erfc", _erfc, _np1(_np_erf(math.erfc)),
             lambda ctx, g: g * (-2 / math.sqrt(math.pi)) * (-_x(ctx) * _x(ctx)).exp())
HEAVY[_digamma] = HEAVY[_polygamma] = (256, 4)        # 2 values a thread (see elementwise.HEAVY)
lgamma = unary("lgamma", _lgamma, _np_lgamma, lambda ctx, g: g * digamma(_x(ctx)), kind="float",
               domain=(0.2, 4.0), extra=[np.array([0.0, -1.0, -2.5, 0.5, 1.0, 30.0, np.inf])])
digamma = unary("digamma", _digamma, _np_digamma, lambda ctx, g: g * polygamma(1, _x(ctx)), kind="float",
                domain=(0.2, 4.0), extra=[np.array([-2.5, -0.3, 0.0, -1.0, 1.0, 25.0, 1e-3])])
_polygamma_n = unary("polygamma", _polygamma, _np_polygamma,
                     lambda ctx, g: g * polygamma(int(ctx.n) + 1, _x(ctx)), kind="float", params=(("n", 1),),
                     operands=(), domain=(0.2, 4.0), extra=[{"n": 2}, {"n": 3},
                                                          np.array([-2.5, -0.3, 0.0, -1.0, 12.0])],
                     public=False, method=False)
erfinv = unary("erfinv", _erfinv, _np1(_np_erfinv),
               lambda ctx, g: g * (math.sqrt(math.pi) / 2) * (erfinv(_x(ctx)) ** 2).exp(), kind="float",
               domain=(-0.9, 0.9), extra=[np.array([0.0, 0.999, -1.0, 1.0, 1.5, -0.5])])


def polygamma(n, input, *, out=None):
    """The ``n``-th derivative of ``digamma`` (``n`` >= 0; 0 is ``digamma``); +-inf at the poles,
    0 and the negative integers."""
    n = int(n)
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return digamma(input, out=out) if n == 0 else _polygamma_n(input, n, out=out)


polygamma.op = _polygamma_n.op
PUBLIC["polygamma"] = polygamma
METHODS["polygamma"] = lambda self, n: polygamma(n, self)


floor = unary("floor", _floor, _np_whole(np.floor), _zeros, kind="same", domain=(-3.0, 3.0))
ceil = unary("ceil", _ceil, _np_whole(np.ceil), _zeros, kind="same", domain=(-3.0, 3.0))
trunc = unary("trunc", _trunc, _np_whole(np.trunc), _zeros, kind="same", domain=(-3.0, 3.0))
_round0 = unary("round", _round, _np_whole(np.rint), _zeros, kind="same", domain=(-3.0, 3.0), public=False,
                extra=[np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997])])
_round_dec = unary("round_decimals", _round_decimals, _np_round_decimals, _zeros, kind="same",
                   params=(("decimals", 0),), domain=(-30.0, 30.0), public=False, grad_name="RoundBackward1",
                   extra=[{"decimals": 2}, {"decimals": -1}])
frac = unary("frac", _frac, _np1(lambda x: x - np.trunc(x)), lambda ctx, g: g, kind="floatonly", domain=(-3.0, 3.0))
logical_not = unary("logical_not", _logical_not, _np1(np.logical_not), kind="pred")
bitwise_not = unary("bitwise_not", _bitwise_not, _np1(np.invert), kind="int")
_SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -1.5, 3.0]
isnan = unary("isnan", _isnan, _np1(np.isnan), kind="pred", extra=[_SPECIAL])
isinf = unary("isinf", _isinf, _np1(np.isinf), kind="pred", extra=[_SPECIAL])
isfinite = unary("isfinite", _isfinite, _np1(np.isfinite), kind="pred", extra=[_SPECIAL])
signbit = unary("signbit", _signbit, _np1(np.signbit), kind="pred", extra=[_SPECIAL + [-0.0, -np.nan, -np.inf]])
_nan_to_num = unary("nan_to_num", _nan_to_num, _np_nan_to_num, lambda ctx, g: g * _x(ctx).isfinite(), kind="same",
                    params=(("nan", 0.0), ("posinf", None), ("neginf", None)), operands=(1, 2),
                    resolve=_resolve_nan_to_num, public=False,
                    extra=[Sample([np.array(_SPECIAL)], {"nan": 1.5, "posinf": 100.0, "neginf": -7.0}, grad=False)])


def round(input, *, decimals=0, out=None):
    """``ttorch.round(input, *, decimals=0)``: round half to even, to ``decimals`` decimal places.

    Integer tensors come back unchanged (a copy), as in PyTorch.

    Example::

        >>> ttorch.round(ttorch.tensor([0.5, 1.5, 2.5, 1.25]), decimals=1)
        tensor([0.5000, 1.5000, 2.5000, 1.2000])
        >>> ttorch.round(ttorch.tensor([0.5, 1.5, 2.5]))
        tensor([0., 2., 2.])
    """
    if decimals == 0:
        return _round0(input, out=out)
    return _round_dec(input, decimals, out=out)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """``ttorch.nan_to_num``: replace NaN, +inf and -inf (default: the dtype's largest/smallest finite values)."""
    r = _nan_to_num(input, nan, posinf, neginf)
    if input.is_cuda and input.dtype is D.float64 and float(np.float32(nan)) != nan:
        # ``nan`` rides in the kernel's fp32 parameter; put the exact float64 value in place
        r = _where(input.isnan(), float(nan), r)
    return r if out is None else write_out(out, r, "nan_to_num")


round.op = _round0.op
nan_to_num.op = _nan_to_num.op

PUBLIC.update(round=round, nan_to_num=nan_to_num, negative=neg, absolute=abs, arcsin=asin, arccos=acos, arctan=atan,
              arcsinh=asinh, arccosh=acosh, arctanh=atanh, fix=trunc)
METHODS.update(round=round, nan_to_num=nan_to_num, negative=neg, absolute=abs, arcsin=asin, arccos=acos, arctan=atan,
               arcsinh=asinh, arccosh=acosh, arctanh=atanh, fix=trunc)
