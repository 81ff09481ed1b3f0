"""Fused backward of the activations, PyTorch's ``gelu_backward``, ``silu_backward`` and
``threshold_backward`` (relu, from its output): ``grad * act'(x)`` in one pass of the elementwise
template (relu's composed rule took two: a comparison and a ``where``). Written in ttorch ops,
GELU's rule took eleven kernels (erf, exp and each product read and wrote the whole (tokens,
4 * dim) tensor): in a GPT-2 layer that was the largest group of launches after the optimizer's.

Their own backward (double backward) is written in ttorch ops: for ``out = g * f'(x)``,
``d/dg = gg * f'(x)`` (the fused op again) and ``d/dx = gg * g * f''(x)``.
"""
import math

import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor
from ._op import Op
from .elementwise import broadcast_shapes, ew_launch, ew_specs, np_quiet
from .samples import Sample, rng
from .unary import _c, _div, _erfc32, _np_erf

_RSQRT2, _RSQRT_2PI = math.sqrt(0.5), 1 / math.sqrt(2 * math.pi)
_BETA, _KAPPA = math.sqrt(2 / math.pi), 0.044715


@triton.jit
def _gelu_grad(g, x, p0, p1):
    cdf = 0.5 * (1 + libdevice.erf(x * _c(x, 0.7071067811865476)))
    pdf = libdevice.exp(-0.5 * x * x) * _c(x, 0.3989422804014327)
    return g * (cdf + x * pdf)


@triton.jit
def _gelu_tanh_grad(g, x, p0, p1):
    x2 = x * x
    t = libdevice.tanh(_c(x, 0.7978845608028654) * (x + _c(x, 0.044715) * x2 * x))
    du = _c(x, 0.7978845608028654) * (1 + _c(x, 0.134145) * x2)              # d/dx of tanh's argument
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


@triton.jit
def _silu_grad(g, x, p0, p1):
    s = _div(tl.full(x.shape, 1.0, x.dtype), 1 + libdevice.exp(-x))
    return g * s * (1 + x * (1 - s))


@triton.jit
def _relu_grad(g, y, p0, p1):
    # y is relu's output; PyTorch's threshold_backward: a NaN output passes the gradient
    return tl.where(y <= 0, tl.zeros_like(g), g)


# ------------------------------------------------------------------------------ NumPy, f' and f''
_ERF = _np_erf(math.erf)        # unary's erf fallback (exact in float64)


def _np_dfn(name, x):
    """f'(x) in NumPy (float64 for the references, the input's dtype otherwise)."""
    if name == "gelu":     # Phi(x) = erfc(-x / sqrt 2) / 2: the fast float32 erfc below float64 (as gelu's forward)
        if x.dtype == np.float64:
            return 0.5 * (1 + _ERF(x * _RSQRT2)) + x * np.exp(-0.5 * x * x) * _RSQRT_2PI
        x32 = x.astype(np.float32).reshape(-1)     # 1-d: in-place ops on 0-d results fail
        cdf = _erfc32(x32 * np.float32(-_RSQRT2))
        cdf *= np.float32(0.5)
        pdf = x32 * x32
        pdf *= np.float32(-0.5)
        np.exp(pdf, out=pdf)
        pdf *= x32
        pdf *= np.float32(_RSQRT_2PI)
        cdf += pdf
        return cdf.reshape(x.shape).astype(x.dtype, copy=False)
    if name == "gelu_tanh":
        t = np.tanh(_BETA * (x + _KAPPA * x ** 3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _BETA * (1 + 3 * _KAPPA * x * x)
    s = 1 / (1 + np.exp(-x))
    return s * (1 + x * (1 - s))


def _d2fn(name, x):
    """f''(x) in ttorch ops (so triple backward composes)."""
    if name == "relu":
        from .creation import zeros_like
        return zeros_like(x)
    if name == "gelu":
        return (-0.5 * x * x).exp() * _RSQRT_2PI * (2 - x * x)
    if name == "gelu_tanh":
        t = (_BETA * (x + _KAPPA * x * x * x)).tanh()
        du = _BETA * (1 + 3 * _KAPPA * x * x)
        return (1 - t * t) * (du - x * t * du * du + 0.5 * x * (6 * _BETA * _KAPPA * x))
    s = x.sigmoid()
    return s * (1 - s) * (2 + x * (1 - 2 * s))


_FNS = {"gelu": _gelu_grad, "gelu_tanh": _gelu_tanh_grad, "silu": _silu_grad, "relu": _relu_grad}


def _cpu(g, x, *, name):
    dt = np.result_type(g.dtype, x.dtype)
    cd = D._compute_dtype(D.from_numpy_dtype(dt)).np
    if name == "relu":
        keep = ~(x <= 0)                                  # NaN outputs pass the gradient
        if np.isfinite(g).all():                          # g * keep: ten times np.where's speed here,
            return (g * keep).astype(dt, copy=False)      # but inf * 0 would be NaN, not 0
        return np.where(keep, g, dt.type(0)).astype(dt, copy=False)
    return np_quiet(lambda: g.astype(cd) * _np_dfn(name, x.astype(cd))).astype(dt)


def _cuda(g, x, *, name):
    dt = D.promote_types(g.dtype, x.dtype)
    out = Tensor._empty(broadcast_shapes(g._shape, x._shape), dt, x.device)
    return ew_launch(_FNS[name], out, [g, x], D._compute_dtype(dt))


def _backward(ctx, gg):
    g, x = ctx.inputs
    name = ctx.name
    dg = act_backward(gg, x, name) if ctx.needs[0] else None
    dx = gg * g * _d2fn(name, x) if ctx.needs[1] else None
    return dg, dx


def _samples():
    r = rng("act_backward")
    return [Sample([r.uniform(-1, 1, size=s), r.uniform(-3, 3, size=s)], {"name": n})
            for n in _FNS for s in [(3, 5), (7,), ()]]


def _specs():
    return [s for fn in _FNS.values() for s in ew_specs(fn, 2, (D.float32, D.bfloat16, D.float16, D.float64))]


_act_backward = Op("act_backward", cpu=_cpu, cuda=_cuda, backward=_backward, save=(0, 1), samples=_samples,
                   kernels=_specs, family="unary", grad_name="ActivationBackwardBackward0",
                   plan_state=tuple)      # one ew_launch: nothing but its arguments and tuning (_plan.py)


def act_backward(grad, input, name):
    """``grad * f'(input)`` for ``f`` in "gelu", "gelu_tanh", "silu", one kernel on cuda; for "relu"
    ``input`` is relu's output."""
    return _act_backward(grad, input, name=name)


_act_backward.public = act_backward
