"""Binary elementwise ops with broadcasting and PyTorch's type promotion.

``kind``: ``arith`` (result is the promoted type), ``float`` (integers promote to the default
float: true division, atan2), ``floatonly`` (floats only: hypot), ``compare`` (bool result),
``logical`` (bool result, any input types), ``int`` (integer/bool only: bitwise ops), ``shift``
(integers only).

Either operand may be a Python scalar (``2 - x``, ``2 ** x``); scalars are weakly typed, as in
PyTorch. Integer division by zero raises ``RuntimeError: ZeroDivisionError`` on cpu, as
PyTorch's cpu kernels do; on cuda it does not raise (a kernel can't report an error without a
device sync) and, as in PyTorch's CUDA kernels, the result is whatever the hardware's integer
division gives (PTX leaves it unspecified; the simulated device gives 0).
"""
import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D, _profiling
from .. import _torch_function
from .._tensor import Tensor
from ..autograd import grad_mode
from . import _op as _op_module
from ._op import Op, write_out, writes_into
from .elementwise import ew_launch, broadcast_shapes, scalar_operand, np_errstate, NP_QUIET, make_plan, run_plan, \
    _aligned
from ._plan import find, NO_PLAN as _NO_PLAN, SEEN as _SEEN
from .samples import Sample, binary_samples, rng
from .unary import not_implemented, param_specs, _c, _div, _sqrt, _zeros, _where

PUBLIC = {}
METHODS = {}
_ndarray = np.ndarray


def _dtypes(kind, a, b, name):
    """(output dtype, compute dtype) of binary op ``name`` on operands ``a``, ``b``."""
    dts, nds, sc = [], [], []
    for x in (a, b):
        if type(x) is Tensor:
            dts.append(x.dtype)
            nds.append(x.ndim)
        elif isinstance(x, (bool, int, float, complex)):
            sc.append(x)
        else:
            raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not {type(x).__name__}")
    common = D.result_type_of(dts, nds, sc)
    return kind_dtypes(kind, common, name, (a if type(a) is Tensor else b).device)


def kind_dtypes(kind, common, name, device=None):
    if common._limited and not common.is_complex and name not in common._ops and not (
            common.is_floating_point and name in common._impl):
        # float8, uint16/32/64: the few ops PyTorch has for them (ops/float8.py, ops/unsigned.py; unsigned
        # ``_impl`` entries serve operands promoted to a float type only); cpu's fast path never reaches
        # Op.__call__'s test, so the cached dtypes raise here
        from ._op import no_complex, _KERNEL_NAMES
        raise no_complex(_KERNEL_NAMES.get(name, name), common)
    if common.is_complex:       # computed by complex_math.py, which raises for the names it lacks
        return (D.bool if kind == "compare" else common), common
    if kind == "arith":
        if common is D.bool and name == "sub":
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                               "Use the `^` or `logical_xor()` operator instead.")
        return common, D.int8 if common is D.bool else D._compute_dtype(common)  # bools add/multiply as 0/1
    if kind == "float":
        out = common if common.is_floating_point else D.get_default_dtype()
        return out, D._compute_dtype(out)
    if kind == "floatonly":
        if not common.is_floating_point:
            raise not_implemented(name, common, device)
        return common, D._compute_dtype(common)
    if kind == "compare":
        return D.bool, D.int8 if common is D.bool else D._compute_dtype(common)
    if kind == "logical":
        return D.bool, D.bool
    if kind in ("int", "shift"):
        if common.is_floating_point or kind == "shift" and common is D.bool:
            raise not_implemented(name, common, device)
        return common, common
    if kind == "bits":          # float types, computed in their own width (their bit patterns matter)
        if not common.is_floating_point:
            raise not_implemented(name, common, device)
        return common, common
    raise ValueError(kind)


_SPEC_DTYPES = {"arith": (D.float32, D.float16, D.int32, D.int64), "float": (D.float32, D.bfloat16, D.float64),
                "floatonly": (D.float32, D.bfloat16, D.float64), "compare": (D.float32, D.int64, D.bool),
                "logical": (D.bool, D.float32), "int": (D.int32, D.int64, D.uint8, D.bool),
                "shift": (D.int32, D.int64, D.uint8), "bits": (D.float32, D.float16, D.bfloat16, D.float64)}

_TEST_DTYPES = {"arith": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "float": (D.float32, D.float16, D.bfloat16, D.float64, D.int64),
                "floatonly": (D.float32, D.float16, D.bfloat16, D.float64),
                "compare": (D.float32, D.bfloat16, D.int64), "logical": (D.float32, D.bool, D.int64),
                "int": (D.int64, D.int32, D.uint8, D.bool), "shift": (D.int64, D.int32, D.uint8),
                "bits": (D.float32, D.float16, D.bfloat16, D.float64)}


def param(v, compute):
    """A parameter (``alpha``, ``value``) as the kernel's ``p0``: an fp32 or integer scalar."""
    return float(v) if compute.is_floating_point else int(v)


def inexact(v, compute):
    """Whether parameter ``v`` would be rounded as ``p0``: a float64 op with a value fp32 can't hold.
    Such an op first scales an operand by ``v`` (an exact float64 operand), as PyTorch's
    ``alpha * other`` does, and then runs with ``p0 = 1``."""
    return compute is D.float64 and isinstance(v, float) and float(np.float32(v)) != v and v == v


def scaled(x, v, compute, device):
    """``x * v`` in ``compute`` (a tensor, or a Python number when ``x`` is one)."""
    if type(x) is not Tensor:
        return x * v
    return ew_launch(_mul, Tensor._empty(x._shape, compute, device), [x, scalar_operand(v, compute, device)],
                     compute)


def binary(name, fn, np_fn, backward=None, *, kind="arith", params=(), save=(0, 1), domain=(-2.0, 2.0),
           rhs_domain=None, extra=(), check=None, public=True, method=True, grad_name=None, save_output=False):
    """Define binary op ``name`` and its public function ``name(input, other, *params)``.

    ``fn``: ``@triton.jit fn(x, y, p0, p1)``; ``np_fn(a, b, *params)``: the NumPy fallback. At
    most one float parameter (``alpha``), passed as ``p0`` (see ``inexact``). ``check(a, b,
    out_dtype, params)`` raises PyTorch's argument errors. ``extra``: more samples, as ``(lhs,
    rhs)`` array pairs or kwargs dicts.
    """
    pnames = [p[0] for p in params]
    defaults = [p[1] for p in params]
    int_div = kind == "arith" and name in _INT_DIV

    def cpu(a, b, *, out_dtype, compute, **pv):
        return numpy_fallback(a, b, out_dtype, compute, tuple(pv.values()))

    def numpy_fallback(a, b, out_dtype, compute, params):
        cnp = compute.np   # (``is`` first: the common case, cheaper than dtype equality)
        if isinstance(a, _ndarray) and a.dtype is not cnp and a.dtype != cnp:
            a = a.astype(cnp)
        if isinstance(b, _ndarray) and b.dtype is not cnp and b.dtype != cnp:
            b = b.astype(cnp)
        if int_div and not compute.is_floating_point and np.any(np.asarray(b) == 0):
            raise RuntimeError("ZeroDivisionError")
        token = np_errstate.set(NP_QUIET)   # np_quiet, inlined: this runs for every cpu binary op
        try:
            r = np_fn(a, b, *params) if params else np_fn(a, b)
        finally:
            np_errstate.reset(token)
        if type(r) is not _ndarray:
            r = np.asarray(r)
        onp = out_dtype.np
        if r.dtype is onp or r.dtype == onp:
            return r
        if out_dtype._limited and out_dtype in D.float8_dtypes:    # (float8 mul: saturating, as PyTorch's)
            from .float8 import np_cast
            return np_cast(r, out_dtype)
        return r.astype(onp)

    def cuda(a, b, *, out_dtype, compute, into=None, **pv):
        ta = a if type(a) is Tensor else b
        if type(a) is Tensor and type(b) is Tensor:
            shape = a._shape if a._shape == b._shape else broadcast_shapes(a._shape, b._shape, op=name)
        else:
            shape = ta._shape
        p0 = param(next(iter(pv.values())), compute) if pv else 0
        if pv and inexact(p0, compute):
            b, p0 = scaled(b, p0, compute, ta.device), 1.0
        if type(a) is not Tensor:
            a = scalar_operand(a, compute, ta.device)
        if type(b) is not Tensor:
            b = scalar_operand(b, compute, ta.device)
        out = into if into is not None else Tensor._empty(shape, out_dtype, ta.device)
        return ew_launch(fn, out, [a, b], compute, p0, 0)

    def specs():
        out = D.bool if kind in ("compare", "logical") else None
        return param_specs(fn, 2, _SPEC_DTYPES[kind], out, scalar=(), compute=lambda dt: kind_dtypes(kind, dt, name)[1])

    def samples():
        r = rng(name)
        skind = "int" if kind in ("int", "shift") else kind
        out = binary_samples(name, skind, params, domain, rhs_domain)
        for e in extra:
            if isinstance(e, dict):
                out.append(Sample([r.uniform(*domain, size=(3, 5)), r.uniform(*(rhs_domain or domain), size=(5,))],
                                  e, grad=kind in ("arith", "float", "floatonly"), note=str(e)))
            else:
                out.append(Sample([np.asarray(v, dtype=np.float64) for v in e], grad=False, note="special values"))
        return out

    op = Op(name, cpu=cpu, cuda=cuda, backward=backward, save=save, save_output=save_output, samples=samples,
            kernels=specs, family="binary", grad_name=grad_name)

    # (operand keys, default dtype) -> (out_dtype, compute): promotion is computed once per
    # combination; a tensor's key is its dtype and whether it is 0-dim, a scalar's its type
    promoted = {}
    plans = {}      # (promotion key, shapes and strides, device) -> elementwise.Plan (cuda)
    default_kw = dict(zip(pnames, defaults))
    default_params = tuple(defaults)
    # a check of the parameters alone passes for their defaults: skip it when none is given
    check_params_only = getattr(check, "params_only", False)
    # ``np_fn`` with the default parameters bound (``_np_alpha`` says which function that is)
    plain_fn = np_fn if not params else getattr(np_fn, "plain", None)

    def f(input, other, *args, out=None, _into=False, **kwargs):
        if args or kwargs:
            vals = list(args) + defaults[len(args):]
            if len(args) > len(pnames):
                raise TypeError(f"{name}() takes {2 + len(pnames)} positional arguments but {2 + len(args)} were "
                                "given")
            for k, v in kwargs.items():
                if k not in pnames:
                    raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
                vals[pnames.index(k)] = v
        else:
            vals = None
        ta, tb = type(input) is Tensor, type(other) is Tensor
        sub = _op_module.SUBCLASS_OPS
        if not (ta and tb) and (not ta and type(input) in sub and input.is_nested or
                                not tb and type(other) in sub and other.is_nested):
            # a nested tensor (ttorch/nested): Op.__call__ hands the op to its handler, which runs it on the values
            if _into:
                return None
            out_dtype, compute = _dtypes(kind, input._values if getattr(input, "is_nested", False) else input,
                                         other._values if getattr(other, "is_nested", False) else other, name)
            r = op(input, other, out_dtype=out_dtype, compute=compute, **dict(zip(pnames, vals or defaults)))
            return r if out is None else write_out(out, r, name)
        if ta and tb:
            da, db = input.device, other.device
            if da is not db and da != db:
                if input._shape and other._shape:
                    raise RuntimeError(f"{name}: Expected all tensors to be on the same device, but found at least "
                                       f"two devices, {da} and {db}!")
                broadcast_shapes(input._shape, other._shape, op=name)
                # a 0-dim cpu tensor may meet a cuda tensor, as in PyTorch
                if not input._shape and da.type == "cpu":
                    input, ta = input.item(), False
                else:
                    other, tb = other.item(), False
            elif input._shape != other._shape:
                broadcast_shapes(input._shape, other._shape, op=name)
        elif not ta and not tb:
            if type(input) not in _op_module.SUBCLASS_OPS and type(other) not in _op_module.SUBCLASS_OPS:
                r = _torch_function.duck(name, (input, other, *args), dict(kwargs, out=out))    # a duck's handler
                if r is not _torch_function.NO:
                    return r
                raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        key = (input.dtype if ta else type(input), ta and not input._shape,
               other.dtype if tb else type(other), tb and not other._shape, D._default_dtype)
        try:
            out_dtype, compute, direct = promoted[key]
        except KeyError:
            # a MaskedTensor...: its handler, given our parameters (never cached)
            if type(input) in sub or type(other) in sub:
                if _into:       # (the handler computes out of place: ``inplace_from`` then writes, or refuses)
                    return None
                return sub[type(input) if type(input) in sub else type(other)](
                    op, (input, other), default_kw if vals is None else dict(zip(pnames, vals)))
            if not (ta and tb):     # a duck-typed array defining __torch_function__: its handler (never cached)
                r = _torch_function.duck(name, (input, other, *args), dict(kwargs, out=out))
                if r is not _torch_function.NO:
                    return r
            out_dtype, compute = _dtypes(kind, input, other, name)
            # ``direct``: no cast before or after, no check of the values: ``plain_fn(a, b)`` is the result
            direct = plain_fn is not None and out_dtype is compute and (not ta or input.dtype is compute) and \
                (not tb or other.dtype is compute) and not (int_div and not compute.is_floating_point)
            promoted[key] = out_dtype, compute, direct
        if compute.is_complex:
            from .complex_math import binary_call
            return binary_call(name, input, other, vals, compute, out)
        if check is not None and (vals is not None or not check_params_only):
            check(input, other, out_dtype, default_params if vals is None else vals)
        if out is not None and out.device.type == "cuda" and writes_into(out, input, other, out_dtype):
            # cuda, nothing to record: the kernel writes ``out`` itself (``x.add_(y)``: one launch, not two),
            # through the out-of-place call's plan where there is one; a recording profiler sees it as the
            # op it is
            if vals is None and out._stride is None and _aligned(out) \
                    and planned(input, other, ta, tb, key, out_dtype, compute, out.device, out) is not None:
                out._bump_version()
                return out
            kw = default_kw if vals is None else dict(zip(pnames, vals))
            if _profiling.ACTIVE[0] is None:
                op.cuda(input, other, out_dtype=out_dtype, compute=compute, into=out, **kw)
            else:
                with _profiling.span("ttorch::" + name, (input, other)):
                    op.cuda(input, other, out_dtype=out_dtype, compute=compute, into=out, **kw)
            out._bump_version()
            return out
        if _into:
            return None
        x = input if ta else other
        if vals is None and out is None and x.device.type == "cpu" and not (
                backward is not None and grad_mode._state["enabled"]
                and (ta and input.requires_grad or tb and other.requires_grad)) and _profiling.ACTIVE[0] is None \
                and _op_module._forward_ad is None and _op_module._dispatch_mode is None:
            # the hot path (cpu, nothing to record, no profiler, no dual level, no dispatch mode): Op.__call__'s
            # cpu branch
            # without its generic argument handling; a small op's cost is mostly this host overhead
            a, b = input._np if ta else input, other._np if tb else other
            if direct:
                token = np_errstate.set(NP_QUIET)
                try:
                    r = plain_fn(a, b)
                finally:
                    np_errstate.reset(token)
                if type(r) is not _ndarray:
                    r = np.asarray(r)           # 0-dim operands give NumPy scalars
                if r.dtype is out_dtype.np:
                    return Tensor._wrap_np(r, out_dtype)
            return Tensor._wrap_np(numpy_fallback(a, b, out_dtype, compute, default_params), out_dtype)
        if vals is None and out is None and x.device.type == "cuda":
            r = planned(input, other, ta, tb, key, out_dtype, compute, x.device)
            if r is not None:
                return r
        if vals is None:
            r = op(input, other, out_dtype=out_dtype, compute=compute, **default_kw)
        else:
            r = op(input, other, out_dtype=out_dtype, compute=compute, **dict(zip(pnames, vals)))
        return r if out is None else write_out(out, r, name)

    def planned(input, other, ta, tb, key, out_dtype, compute, device, into=None):
        """The call (default parameters, cuda) through a plan of its launch per operand dtypes, shapes
        and strides, made by the second call of its key (see elementwise.Plan); None where the
        caller's usual path must run it (the first call of a key, or no plan). ``into``: an output
        to write (run_plan's). A Python int operand of an integer op is baked into the plan, its
        value in the key: Triton specializes the kernel on it (1, a multiple of 16, the range)."""
        ia = not ta and type(input) in (int, bool) and not compute.is_floating_point
        ib = not tb and type(other) in (int, bool) and not compute.is_floating_point
        pk = (key, input._shape if ta else input if ia else None, input._stride if ta else None,
              other._shape if tb else other if ib else None, other._stride if tb else None, device)
        plan = find(plans, pk)
        if plan is not _SEEN:
            return None if plan is None else run_plan(plan, op, (input, other), device, into)
        attrs = dict(out_dtype=out_dtype, compute=compute, **default_kw)
        slots = (None if ia else 0, None if ib else 1)
        if into is None:
            r, plan = make_plan(lambda: op(input, other, **attrs), (input, other), slots, attrs)
        else:                           # the call into ``into``, recorded: its plan serves both kinds of call
            r, plan = make_plan(lambda: op.cuda(input, other, into=into, **attrs), (input, other), slots, attrs,
                                fresh=False)
        plans[pk] = plan or _NO_PLAN
        return r

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``ttorch.{name}(input, other{''.join(', ' + p for p in pnames)})``: elementwise with " \
                "broadcasting, as in PyTorch."
    f.op = op
    f.plans = plans
    f.writes_into = True        # ``f(x, y, out=x, _into=True)``: see ``inplace.make_inplace``
    op.public = f
    op.dtypes = _TEST_DTYPES[kind]
    if public:
        PUBLIC[name] = f
        if method:
            METHODS[name] = f
    return f


_INT_DIV = ("div_trunc", "floor_divide", "remainder", "fmod")


# ---------------------------------------------------------------------------- Triton functions
@triton.jit
def _alpha(x, p0, p1):
    return tl.cast(p0, x.dtype)


@triton.jit
def _add(x, y, p0, p1):
    return x + y * _alpha(y, p0, p1)


@triton.jit
def _sub(x, y, p0, p1):
    return x - y * _alpha(y, p0, p1)


@triton.jit
def _mul(x, y, p0, p1):
    return x * y


@triton.jit
def _true_div(x, y, p0, p1):
    return _div(x, y)


@triton.jit
def _div_trunc(x, y, p0, p1):
    if x.dtype.is_floating():
        return libdevice.trunc(_div(x, y))
    else:
        return x // y  # Triton's integer division truncates, as C's


@triton.jit
def _floor_divide(x, y, p0, p1):
    if x.dtype.is_floating():
        # Python's float floor division (PyTorch's div_floor_floating): exact for large quotients
        mod = libdevice.fmod(x, y)
        div = _div(x - mod, y)
        div = tl.where((mod != 0) & ((y < 0) != (mod < 0)), div - 1, div)
        fl = libdevice.floor(div)
        fl = tl.where(div - fl > 0.5, fl + 1, fl)
        q = _div(x, y)
        r = tl.where(div != 0, fl, libdevice.copysign(_c(q, 0.0), q))
        return tl.where(y == 0, q, r)
    else:
        q = x // y
        r = x - q * y
        return tl.where((r != 0) & ((r < 0) != (y < 0)), q - 1, q)


@triton.jit
def _remainder(x, y, p0, p1):
    if x.dtype.is_floating():
        m = libdevice.fmod(x, y)  # Triton's float % is computed through a rounded quotient
    else:
        m = x % y  # C's remainder: the sign of x
    return tl.where((m != 0) & ((m < 0) != (y < 0)), m + y, m)


@triton.jit
def _fmod(x, y, p0, p1):
    if x.dtype.is_floating():
        return libdevice.fmod(x, y)
    else:
        return x % y


@triton.jit
def _pow(x, y, p0, p1):
    if x.dtype.is_floating():
        # PyTorch computes these exponents exactly (x * x, sqrt, ...); libdevice's pow as Triton
        # builds it can be 1 ulp off them (2.5 ** 2 gave 6.2499995 on an H200)
        r = libdevice.pow(x, y)
        r = tl.where(y == 1, x, r)
        r = tl.where(y == 2, x * x, r)
        r = tl.where(y == 3, x * x * x, r)
        r = tl.where(y == -1, 1 / x, r)
        r = tl.where(y == -2, 1 / (x * x), r)
        finite = x > float("-inf")  # pow(-inf, 0.5) is inf, sqrt(-inf) nan: keep pow's
        r = tl.where(y == 0.5, tl.where(finite, _sqrt(x, p0, p1), r), r)
        return tl.where(y == -0.5, tl.where(finite, 1 / _sqrt(x, p0, p1), r), r)
    else:
        # square-and-multiply over the exponent's bits; negative exponents as PyTorch's powi
        b = x + y * 0
        e = y + x * 0
        r = b * 0 + 1
        for _ in range(0, 64):
            r = tl.where((e & 1) != 0, r * b, r)
            b = b * b
            e = e >> 1
        neg = tl.where(x == 1, 1, tl.where(x == -1, 1 - 2 * (y & 1), 0))
        return tl.where(y < 0, neg.to(r.dtype), r)


@triton.jit
def _maximum(x, y, p0, p1):
    return tl.maximum(x, y, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def _minimum(x, y, p0, p1):
    return tl.minimum(x, y, propagate_nan=tl.PropagateNan.ALL)


@triton.jit
def _atan2(x, y, p0, p1):
    return libdevice.atan2(x, y)


@triton.jit
def _hypot(x, y, p0, p1):
    return libdevice.hypot(x, y)


@triton.jit
def _fmax(x, y, p0, p1):
    # the larger, a NaN ignored (NaN only where both are); a tie gives x (fmax(-0.0, 0.0) is -0.0)
    return tl.where(x != x, y, tl.where(y != y, x, tl.where(x >= y, x, y)))


@triton.jit
def _fmin(x, y, p0, p1):
    return tl.where(x != x, y, tl.where(y != y, x, tl.where(x <= y, x, y)))


@triton.jit
def _logaddexp(x, y, p0, p1):
    # max + log1p(exp(-|x - y|)): no overflow; equal arguments give x + log 2 (two equal infinities
    # among them, whose difference is NaN)
    r = tl.maximum(x, y) + libdevice.log1p(tl.exp(-tl.abs(x - y)))
    return tl.where(x == y, x + 0.6931471805599453, r)


@triton.jit
def _logaddexp2(x, y, p0, p1):
    r = tl.maximum(x, y) + libdevice.log1p(tl.exp2(-tl.abs(x - y))) * 1.4426950408889634
    return tl.where(x == y, x + 1.0, r)


@triton.jit
def _xlogy(x, y, p0, p1):
    # 0 where x is 0 (whatever log y), NaN where y is
    return tl.where(y != y, y, tl.where(x == 0, 0.0, x * tl.log(y)))


@triton.jit
def _copysign(x, y, p0, p1):
    return libdevice.copysign(x, y)


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


@triton.jit
def _and(x, y, p0, p1):
    return x & y


@triton.jit
def _or(x, y, p0, p1):
    return x | y


@triton.jit
def _xor(x, y, p0, p1):
    return x ^ y


@triton.jit
def _shl(x, y, p0, p1):
    # PyTorch: shifting by the bit width or more (or by a negative amount) gives 0
    bits: tl.constexpr = x.dtype.primitive_bitwidth
    ok = (y >= 0) & (y < bits)
    return tl.where(ok, x << tl.where(ok, y, 0).to(x.dtype), 0)


@triton.jit
def _shr(x, y, p0, p1):
    # PyTorch: too large (or negative) shifts give the sign fill (0 for unsigned types)
    bits: tl.constexpr = x.dtype.primitive_bitwidth
    ok = (y >= 0) & (y < bits)
    if x.dtype.is_int_signed():
        return x >> tl.where(ok, y, bits - 1).to(x.dtype)
    else:
        return tl.where(ok, x >> tl.where(ok, y, 0).to(x.dtype), 0)


# ---------------------------------------------------------------------------- NumPy functions
def _np_div_trunc(a, b):
    if np.result_type(a, b).kind == "f":
        return np.trunc(a / b)
    q = np.floor_divide(a, b)
    return q + ((np.remainder(a, b) != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0)))


def _np_pow(a, b):
    if np.result_type(a, b).kind == "f":
        return np.power(a, b)
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    r = np.power(a, np.where(b < 0, 0, b))  # wraps on overflow, as C
    neg = np.where(a == 1, 1, np.where(a == -1, 1 - 2 * (b & 1), 0))
    return np.where(b < 0, neg.astype(r.dtype), r)


def _np_shift(left):
    def f(a, b):
        a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
        bits = a.dtype.itemsize * 8
        ok = (b >= 0) & (b < bits)
        if left or a.dtype.kind == "u":
            s = np.where(ok, b, 0).astype(a.dtype)
            return np.where(ok, np.left_shift(a, s) if left else np.right_shift(a, s), 0).astype(a.dtype)
        return np.right_shift(a, np.where(ok, b, bits - 1).astype(a.dtype))
    return f


def _np_alpha(op):
    fn = lambda a, b, al: op(a, b * al) if al != 1 else op(a, b)  # noqa: E731
    fn.plain = op       # the function for alpha == 1, the default
    return fn


# ---------------------------------------------------------------------------- argument checks
def _check_alpha(a, b, out_dtype, vals):
    al = vals[0]
    if isinstance(al, bool) and out_dtype is not D.bool:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(al, float) and not out_dtype.is_floating_point:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")


_check_alpha.params_only = True


def _check_pow(a, b, out_dtype, vals):
    if type(b) is not Tensor and isinstance(b, int) and not isinstance(b, bool) and b < 0 \
            and not out_dtype.is_floating_point:
        raise RuntimeError("Integers to negative integer powers are not allowed.")


# ---------------------------------------------------------------------------- backward rules
def _add_bw(ctx, g):
    return g, (g * ctx.alpha if ctx.alpha != 1 else g)


def _sub_bw(ctx, g):
    return g, (g * -ctx.alpha if ctx.alpha != 1 else -g)


def _mul_bw(ctx, g):
    a, b = ctx.inputs
    return (g * b if ctx.needs[0] else None), (g * a if ctx.needs[1] else None)


def _div_bw(ctx, g):
    a, b = ctx.inputs
    return (g / b if ctx.needs[0] else None), (-g * a / (b * b) if ctx.needs[1] else None)


def _pow_bw(ctx, g):
    a, b = ctx.inputs
    ga = gb = None
    if ctx.needs[0]:
        if type(b) is Tensor:  # PyTorch: zero where the exponent is 0 (no 0 * inf)
            ga = _where(b == 0, 0.0, g * b * a ** (b - 1))
        else:
            ga = g * b * a ** (b - 1) if b != 0 else _zeros(ctx, g)
    if ctx.needs[1]:
        r = a ** b
        if type(a) is Tensor:
            gb = _where((a == 0) & (b >= 0), 0.0, g * r * a.log())
        elif a == 0:
            gb = _where(b >= 0, 0.0, g * r * float("-inf"))
        else:
            gb = g * r * float(np.log(a))
    return ga, gb


def _minmax_bw(loses):
    def bw(ctx, g):
        a, b = ctx.inputs
        h = _where(a == b, g / 2, g)  # ties share the gradient, as in PyTorch
        return (_where(loses(a, b), 0.0, h) if ctx.needs[0] else None), \
               (_where(loses(b, a), 0.0, h) if ctx.needs[1] else None)
    return bw


def _atan2_bw(ctx, g):
    a, b = ctx.inputs
    d = a * a + b * b
    return (g * b / d if ctx.needs[0] else None), (g * -a / d if ctx.needs[1] else None)


def _hypot_bw(ctx, g):
    a, b = ctx.inputs
    r = ctx.output
    return (g * a / r if ctx.needs[0] else None), (g * b / r if ctx.needs[1] else None)


def _fminmax_bw(wins):
    def bw(ctx, g):     # PyTorch's: all of it to self where it won (or other is NaN), else to other
        a, b = ctx.inputs
        if type(b) is not Tensor and b != b:                # a NaN number for other: self wins everywhere
            return g, None
        to_a = wins(a, b) | b.isnan() if type(b) is Tensor else wins(a, b)
        return (_where(to_a, g, 0.0) if ctx.needs[0] else None), (_where(to_a, 0.0, g) if ctx.needs[1] else None)
    return bw


def _np_fminmax(wins):
    return lambda a, b: np.where(a != a, b, np.where(wins(a, b) | (b != b), a, b))


def _logaddexp_bw(base2):
    def bw(ctx, g):     # PyTorch's: grad / (1 + exp(other - self)), and 2 ** (...) for base 2
        a, b = ctx.inputs
        e = (lambda t: 2.0 ** t) if base2 else (lambda t: t.exp())
        return (g / (1 + e(b - a)) if ctx.needs[0] else None), (g / (1 + e(a - b)) if ctx.needs[1] else None)
    return bw


def _xlogy_bw(ctx, g):
    # PyTorch's: xlogy(grad, other), 0 where self is 0 and other <= 0; grad * self / other
    a, b = ctx.inputs
    ga = xlogy(g, b).masked_fill((a == 0) & (b <= 0), 0.0) if ctx.needs[0] else None
    return ga, (g * a / b if ctx.needs[1] else None)


def _copysign_bw(ctx, g):
    # PyTorch's: grad * result / self, 0 where self is 0; none through the sign
    a = ctx.inputs[0]
    ga = g * _where(a == 0, 0.0, ctx.output / a) if ctx.needs[0] else None
    return ga, (_zeros(ctx, g) if ctx.needs[1] else None)


def _np_xlogy(a, b):
    return np.where(np.isnan(b), b, np.where(a == 0, 0.0, a * np.log(np.where(a == 0, 1.0, b))))


def _fmod_bw(ctx, g):
    a, b = ctx.inputs  # PyTorch: d/dother = -grad * trunc(self / other)
    return g, (-g * (a / b).trunc() if ctx.needs[1] else None)


def _remainder_bw(ctx, g):
    a, b = ctx.inputs  # PyTorch: d/dother = -grad * floor(self / other)
    return g, (-g * (a / b).floor() if ctx.needs[1] else None)


def _zeros2(ctx, g):
    z = _zeros(ctx, g)
    return z, z


# ---------------------------------------------------------------------------- the ops
_pos = (0.5, 2.0)
_SIGNS = ([-7.0, -7.0, 7.0, 7.0, -5.5, 5.5, 0.0, -0.0, 3.0], [2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 3.0, 3.0, 0.5])

add = binary("add", _add, _np_alpha(np.add), _add_bw, params=(("alpha", 1),), save=(), check=_check_alpha,
             extra=[{"alpha": 2}])
sub = binary("sub", _sub, _np_alpha(np.subtract), _sub_bw, params=(("alpha", 1),), save=(), check=_check_alpha,
             extra=[{"alpha": 3}])
mul = binary("mul", _mul, lambda a, b: a * b, _mul_bw)
_true_divide = binary("div", _true_div, lambda a, b: a / b, _div_bw, kind="float", rhs_domain=_pos, public=False)
_div_trunc_op = binary("div_trunc", _div_trunc, _np_div_trunc, _zeros2, rhs_domain=_pos, public=False,
                       grad_name="DivBackward1", extra=[_SIGNS], domain=(-5.0, 5.0))
floor_divide = binary("floor_divide", _floor_divide, np.floor_divide, _zeros2, rhs_domain=_pos, extra=[_SIGNS],
                      domain=(-5.0, 5.0))
remainder = binary("remainder", _remainder, np.remainder, _remainder_bw, rhs_domain=_pos, extra=[_SIGNS],
                   domain=(-5.0, 5.0))
fmod = binary("fmod", _fmod, np.fmod, _fmod_bw, rhs_domain=_pos, extra=[_SIGNS], domain=(-5.0, 5.0))
pow = binary("pow", _pow, _np_pow, _pow_bw, check=_check_pow, domain=(0.5, 2.0),
             extra=[([0.0, 0.0, 2.0, -1.0, -1.0, 1.0, 3.0], [0.0, 2.0, -1.0, 3.0, -2.0, -5.0, 0.0])])
maximum = binary("maximum", _maximum, np.maximum, _minmax_bw(lambda a, b: a < b),
                 extra=[([np.nan, 1.0, -np.inf, 2.0], [0.0, np.nan, 1.0, 2.0])])
minimum = binary("minimum", _minimum, np.minimum, _minmax_bw(lambda a, b: a > b),
                 extra=[([np.nan, 1.0, -np.inf, 2.0], [0.0, np.nan, 1.0, 2.0])])
atan2 = binary("atan2", _atan2, np.arctan2, _atan2_bw, kind="float")
hypot = binary("hypot", _hypot, np.hypot, _hypot_bw, kind="floatonly", save_output=True)
_NANS = ([1.0, np.nan, np.nan, 2.0, 3.0, -0.0], [2.0, 1.0, np.nan, 2.0, np.nan, 0.0])
fmax = binary("fmax", _fmax, _np_fminmax(lambda a, b: a >= b), _fminmax_bw(lambda a, b: a >= b), extra=[_NANS])
fmin = binary("fmin", _fmin, _np_fminmax(lambda a, b: a <= b), _fminmax_bw(lambda a, b: a <= b), extra=[_NANS])
_INFS = ([0.0, np.inf, -np.inf, np.inf, 2.0, np.nan], [0.0, np.inf, -np.inf, -np.inf, -np.inf, 1.0])
logaddexp = binary("logaddexp", _logaddexp, np.logaddexp, _logaddexp_bw(False), kind="floatonly", domain=(-30.0, 30.0),
                   extra=[_INFS])
logaddexp2 = binary("logaddexp2", _logaddexp2, np.logaddexp2, _logaddexp_bw(True), kind="floatonly",
                    domain=(-30.0, 30.0), extra=[_INFS])
xlogy = binary("xlogy", _xlogy, _np_xlogy, _xlogy_bw, kind="float", rhs_domain=_pos,
               extra=[([0.0, 0.0, 1.0, 2.0, 0.0, -1.0], [0.0, np.nan, 0.0, 3.0, -1.0, -2.0])])
copysign = binary("copysign", _copysign, np.copysign, _copysign_bw, kind="float", save=(0,), save_output=True,
                  extra=[([1.0, -2.0, 3.0, 0.0, -0.0, np.inf], [-0.0, 1.0, -5.0, -1.0, 2.0, -np.inf])])
eq = binary("eq", _eq, lambda a, b: a == b, kind="compare")
ne = binary("ne", _ne, lambda a, b: a != b, kind="compare")
lt = binary("lt", _lt, lambda a, b: a < b, kind="compare")
le = binary("le", _le, lambda a, b: a <= b, kind="compare")
gt = binary("gt", _gt, lambda a, b: a > b, kind="compare")
ge = binary("ge", _ge, lambda a, b: a >= b, kind="compare")
logical_and = binary("logical_and", _and, np.logical_and, kind="logical")
logical_or = binary("logical_or", _or, np.logical_or, kind="logical")
logical_xor = binary("logical_xor", _xor, np.logical_xor, kind="logical")
bitwise_and = binary("bitwise_and", _and, np.bitwise_and, kind="int")
bitwise_or = binary("bitwise_or", _or, np.bitwise_or, kind="int")
bitwise_xor = binary("bitwise_xor", _xor, np.bitwise_xor, kind="int")
bitwise_left_shift = binary("bitwise_left_shift", _shl, _np_shift(True), kind="shift",
                            extra=[([1.0, -3.0, 5.0, 7.0], [0.0, 2.0, 70.0, -1.0])])
bitwise_right_shift = binary("bitwise_right_shift", _shr, _np_shift(False), kind="shift",
                             extra=[([64.0, -64.0, 5.0, -7.0], [3.0, 2.0, 70.0, 99.0])])


def div(input, other, *, rounding_mode=None, out=None):
    """``ttorch.div(input, other, *, rounding_mode=None)``: true division (integers promote to the
    default float type), or ``'trunc'``/``'floor'`` rounded division in the promoted type.

    Example::

        >>> a = ttorch.tensor([-7, 7])
        >>> ttorch.div(a, 2), ttorch.div(a, 2, rounding_mode="trunc"), ttorch.div(a, 2, rounding_mode="floor")
        (tensor([-3.5000,  3.5000]), tensor([-3,  3]), tensor([-4,  3]))
    """
    if rounding_mode is None:
        return _true_divide(input, other, out=out)
    if rounding_mode == "trunc":
        return _div_trunc_op(input, other, out=out)
    if rounding_mode == "floor":
        return floor_divide(input, other, out=out)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                       f"'{rounding_mode}'")


def true_divide(input, other, *, out=None):
    return _true_divide(input, other, out=out)


div.op = true_divide.op = _true_divide.op

_ALIASES = dict(divide=div, true_divide=true_divide, multiply=mul, subtract=sub, greater=gt, greater_equal=ge,
                less=lt, less_equal=le, not_equal=ne)
PUBLIC.update(div=div, **_ALIASES)
METHODS.update(div=div, **_ALIASES)
