"""The Hurwitz zeta function ``special.zeta(x, q)`` = sum over k >= 0 of (k + q)^-x: an elementwise op of
``binary.py``'s kind with a gradient for ``q`` only, as in PyTorch. The kernel evaluates the Cephes
algorithm PyTorch's ``ATen/native/Math.h`` uses (a direct sum, then Euler-Maclaurin's tail; its
coefficients close this file), in float64 for float32 too, as PyTorch's cpu kernel; the float64 NumPy
fallback the same one. The direct sum runs masked: every element of a block steps until the block's
last one has converged."""
import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor
from .binary import binary, param_specs
from .elementwise import HEAVY
from .samples import Sample, rng
from .special_fns import _f64, _NO_HALF, _not_implemented, _pair_samples
from .unary import not_implemented, _c, _div


# ---------------------------------------------------------------------------- Hurwitz zeta
_ZETA_EPS = 1.11022302462515654042e-16       # PyTorch's, for float32 too


@triton.jit
def _zeta(xin, qin, p0, p1):
    # Cephes' zeta: sum (q + i)^-x for i up to 9 at least and until q + i > 9, stopping early where
    # a term falls below eps of the sum; then Euler-Maclaurin's tail (12 Bernoulli terms at most).
    # In float64 for float32 too, as PyTorch's cpu kernel sums (where q < 0 the terms cancel)
    x, q = tl.broadcast(xin.to(tl.float64), qin.to(tl.float64))      # (either may be a scalar operand)
    eps = _c(x, 1.11022302462515654042e-16)
    pole = (q <= 0) & (q == libdevice.floor(q))
    bad = (q <= 0) & (x != libdevice.floor(x))
    live = (x > 1) & ~pole & ~bad
    s = libdevice.pow(q, -x)
    a = q
    b = tl.zeros_like(x)
    early = b != 0
    # steps: the block's longest direct sum (its least q; a q below -1e6 sums its first million terms)
    lowest = tl.min(tl.where(live & (q == q), q, 10.0), 0)
    steps = tl.maximum((9 - tl.maximum(lowest, -1e6)).to(tl.int32) + 1, 9)
    for it in range(steps):
        run = live & ~early & ((it < 9) | (a <= 9))
        a = tl.where(run, a + 1, a)
        bn = libdevice.pow(a, -x)
        b = tl.where(run, bn, b)
        s = tl.where(run, s + bn, s)
        early = early | (run & (-eps * s < b) & (b < eps * s))
    w = a
    t_sum = s + _div(b * w, x - 1) - 0.5 * b
    fa = tl.zeros_like(x) + 1
    k = tl.zeros_like(x)
    stop = early
    for i in tl.static_range(12):
        fa = fa * (x + k)
        b = _div(b, w)
        t = _div(fa * b, _c(x, _ZETA_A[i]))
        t_sum = tl.where(stop, t_sum, t_sum + t)
        stop = stop | (tl.abs(_div(t, t_sum)) < eps)
        k = k + 1
        fa = fa * (x + k)
        b = _div(b, w)
        k = k + 1
    r = tl.where(early, s, t_sum)
    r = tl.where(bad, float("nan"), r)
    r = tl.where(pole, float("inf"), r)
    r = tl.where(x < 1, float("nan"), r)
    return tl.where(x == 1, float("inf"), r).to(xin.dtype)


def _np_zeta(x, q):
    x, q = np.broadcast_arrays(x, q)
    eps = _ZETA_EPS
    pole = (q <= 0) & (q == np.floor(q))
    bad = (q <= 0) & (x != np.floor(x))
    live = (x > 1) & ~pole & ~bad
    s = np.power(q, -x)
    a, b = q.copy(), np.zeros_like(x)
    early = np.zeros(x.shape, bool)
    it = 0
    while True:
        run = live & ~early & ((it < 9) | ((a <= 9) & (it < 1_000_020)))
        if not run.any():
            break
        a = np.where(run, a + 1, a)
        bn = np.power(a, -x)
        b = np.where(run, bn, b)
        s = np.where(run, s + bn, s)
        early |= run & (-eps * s < b) & (b < eps * s)
        it += 1
    w = a
    t_sum = s + b * w / (x - 1) - 0.5 * b
    fa, k, stop = np.ones_like(x), 0.0, early.copy()
    for c in _ZETA_A.value:
        fa = fa * (x + k)
        b = b / w
        t = fa * b / c
        t_sum = np.where(stop, t_sum, t_sum + t)
        stop |= np.abs(t / t_sum) < eps
        k += 1
        fa = fa * (x + k)
        b = b / w
        k += 1
    r = np.where(early, s, t_sum)
    r = np.where(bad, np.nan, r)
    r = np.where(pole, np.inf, r)
    r = np.where(x < 1, np.nan, r)
    return np.where(x == 1, np.inf, r)



def _zeta_bw(ctx, g):
    x, q = ctx.inputs
    if ctx.needs[0]:
        raise _not_implemented("zeta")
    return None, g * -x * zeta(x + 1.0, q)


def _check_zeta(a, b, out_dtype, params):
    if out_dtype is D.float16 or out_dtype is D.bfloat16:
        raise not_implemented("zeta", out_dtype, (a if isinstance(a, Tensor) else b).device)


zeta = binary("special_zeta", _zeta, _f64(_np_zeta), _zeta_bw, kind="float", check=_check_zeta, public=False)
HEAVY[_zeta] = (128, 4)                          # (256 a block spilled 8 B in float64 with Triton 3.6)

zeta.op.dtypes = _NO_HALF
zeta.op.kernels = lambda: param_specs(_zeta, 2, (D.float32, D.float64, D.float64, D.float32), scalar=())
_zeta_samples = _pair_samples("special_zeta", (1.5, 5.0), (0.3, 3.0),
                              ([1.0, 0.5, 2.0, 2.0, 2.5, 3.0, np.nan, 2.0, np.inf, 2.0, 4.0, 60.0, 2.0],
                               [1.0, 1.0, 0.0, -1.0, -1.5, -1.5, 1.0, np.nan, 2.0, np.inf, -2.5, 1.5, 30.5]), [2, 3, 5])
zeta.op.samples = lambda: _zeta_samples() + [Sample([2.5, rng("zeta").uniform(0.3, 3.0, size=(4,))],
                                                    note="scalar input")]

# Euler-Maclaurin's (2k)! / B_2k of Cephes' zeta
_ZETA_A = tl.constexpr((12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
                        -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
                        1.8152105401943546773e17, -7.1661652561756670113e18))

