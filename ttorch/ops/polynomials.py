"""torch.special's orthogonal polynomials ``p(input, n)``: Chebyshev T, U, V, W and their shifted forms,
Hermite H and He, Laguerre L and Legendre P. Elementwise ops of ``binary.py``'s kind, without a gradient,
as in PyTorch. Each evaluates ATen's ``Math.h`` step for step, in the input's dtype (float32 overflows
to NaN as PyTorch's does): ``n`` is truncated toward zero (NaN and infinite ``n`` count as negative, as
x86's conversion makes them), negative ``n`` gives 0, the endpoints have exact values, and the
Chebyshev family takes the trigonometric closed form for ``|x| < 1`` above a small ``n``. Otherwise the
three-term recurrence runs masked: every element of a block steps until the block's largest ``n``,
each stopping where its value turned NaN. Deliberate difference: a NaN ``x`` gives NaN (PyTorch
returns an uninitialised value for some of them)."""
import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor
from .binary import binary, param_specs
from .elementwise import HEAVY
from .samples import Sample, rng
from .special_fns import _NO_HALF
from .unary import not_implemented

__all__ = []
_T, _U, _V, _W = 0, 1, 2, 3


@triton.jit
def _order(n):
    # static_cast<int64_t>(n): toward zero; NaN, infinities and values past int64 count as negative
    return tl.where(tl.abs(n) < 9.2e18, libdevice.trunc(n), -1.0)


@triton.jit
def _chebyshev(xin, nin, KIND: tl.constexpr, SHIFTED: tl.constexpr, CUT: tl.constexpr):
    x, n = tl.broadcast(xin, nin)
    y = x + x - 1 if SHIFTED else x                     # the shifted forms evaluate at 2x - 1
    k = _order(n)
    sgn = tl.where(libdevice.floor(k * 0.5) * 2 == k, 1.0, -1.0).to(x.dtype)
    if KIND == 0:
        q1 = y
    elif KIND == 1:
        q1 = y + y
    elif KIND == 2:
        q1 = y + y - 1
    else:
        q1 = y + y + 1
    top = y == 1
    bottom = y == -1
    closed = (k > CUT) & (tl.abs(y) < 1) & ~top & ~bottom
    rec = (k >= 2) & ~top & ~bottom & ~closed
    steps = tl.max(tl.where(rec, k, 0.0), 0).to(tl.int32)
    p = tl.zeros_like(y) + 1
    q = q1
    for i in range(2, steps + 1):
        live = rec & (i <= k) & (q == q)
        r = (y + y) * q - p
        p = tl.where(live, q, p)
        q = tl.where(live, r, q)
    r = tl.where(k == 1, q1, q)
    r = tl.where(k == 0, 1.0, r)
    t = libdevice.acos(tl.where(closed, y, 0.5))
    k1 = k + 1
    odd2 = k + k + 1
    if KIND == 0:
        c = tl.cos(k * t)
        end1 = tl.zeros_like(y) + 1
        end0 = sgn
    elif KIND == 1:
        s = tl.sin(t)
        c = tl.where(s != 0, tl.sin(k1 * t) / s, k1 * tl.cos(k1 * t) / y)
        end1 = k1
        end0 = sgn * k1
    elif KIND == 2:
        c = tl.where(tl.sin(t / 2) != 1, tl.cos((k + 0.5) * t) / tl.cos(t / 2), sgn * odd2)
        end1 = tl.zeros_like(y) + 1
        end0 = sgn * odd2
    else:
        w_edge = sgn if SHIFTED else tl.where(x > 0, odd2, sgn)
        c = tl.where(tl.cos(t / 2) != 1, tl.sin((k + 0.5) * t) / tl.sin(t / 2), w_edge)
        end1 = odd2
        end0 = sgn
    r = tl.where(closed, c, r)
    r = tl.where(top, end1, r)
    r = tl.where(bottom, end0, r)
    return tl.where(k < 0, 0.0, r).to(xin.dtype)


def _np_chebyshev(kind, shifted, cut):
    def f(x, n):
        x, n = np.broadcast_arrays(x, n)
        y = x + x - 1 if shifted else x
        k = np.where(np.abs(n) < 9.2e18, np.trunc(n), -1).astype(x.dtype)
        sgn = np.where(np.fmod(k, 2) == 0, 1, -1).astype(x.dtype)
        q1 = [y, y + y, y + y - 1, y + y + 1][kind]
        top, bottom = y == 1, y == -1
        closed = (k > cut) & (np.abs(y) < 1) & ~top & ~bottom
        rec = (k >= 2) & ~top & ~bottom & ~closed
        p, q = np.ones_like(y), q1
        for i in range(2, int(np.max(np.where(rec, k, 0), initial=0)) + 1):
            live = rec & (i <= k) & (q == q)
            r = (y + y) * q - p
            p, q = np.where(live, q, p), np.where(live, r, q)
        r = np.where(k == 0, 1, np.where(k == 1, q1, q))
        t = np.arccos(np.where(closed, y, 0.5))
        k1, odd2 = k + 1, k + k + 1
        if kind == _T:
            c, end1, end0 = np.cos(k * t), 1, sgn
        elif kind == _U:
            s = np.sin(t)
            c, end1, end0 = np.where(s != 0, np.sin(k1 * t) / s, k1 * np.cos(k1 * t) / y), k1, sgn * k1
        elif kind == _V:
            c = np.where(np.sin(t / 2) != 1, np.cos((k + 0.5) * t) / np.cos(t / 2), sgn * odd2)
            end1, end0 = 1, sgn * odd2
        else:
            edge = sgn if shifted else np.where(x > 0, odd2, sgn)
            c, end1, end0 = np.where(np.cos(t / 2) != 1, np.sin((k + 0.5) * t) / np.sin(t / 2), edge), odd2, sgn
        r = np.where(closed, c, r)
        r = np.where(bottom, end0, np.where(top, end1, r))
        return np.where(k < 0, 0, r).astype(x.dtype)
    return f


@triton.jit
def _recurrence(xin, nin, FAMILY: tl.constexpr):
    # FAMILY 0: Hermite H, 1: Hermite He, 2: Laguerre L, 3: Legendre P
    x, n = tl.broadcast(xin, nin)
    k = _order(n)
    if FAMILY == 0:
        q1 = x + x
    elif FAMILY == 2:
        q1 = 1 - x
    else:
        q1 = x
    if FAMILY <= 1:
        # PyTorch's getHermitianLimit: NaN past n = 128 (float32) or 512 (float64)
        limit: tl.constexpr = 512.0 if x.dtype == tl.float64 else 128.0
        rec = (k >= 2) & (k <= limit)
    elif FAMILY == 2:
        rec = (k >= 2) & (x != 0)
    else:
        rec = (k >= 2) & (tl.abs(x) != 1)
    steps = tl.max(tl.where(rec, k, 0.0), 0).to(tl.int32)
    p = tl.zeros_like(x) + 1
    q = q1
    for i in range(1, steps):
        fi = tl.zeros_like(x) + i
        live = rec & (fi < k)
        if FAMILY == 0:
            r = (x + x) * q - (fi + fi) * p
        elif FAMILY == 1:
            r = x * q - fi * p
        elif FAMILY == 2:
            live = live & (q == q)
            r = (((fi + fi) + (1 - x)) * q - fi * p) / (fi + 1)
        else:
            live = live & (q == q)
            r = ((fi + fi + 1) * x * q - fi * p) / (fi + 1)
        p = tl.where(live, q, p)
        q = tl.where(live, r, q)
    r = tl.where(k == 1, q1, q)
    r = tl.where(k == 0, 1.0, r)
    if FAMILY <= 1:
        r = tl.where(k > limit, float("nan"), r)
    elif FAMILY == 2:
        r = tl.where(x == 0, 1.0, r)
    else:
        r = tl.where(tl.abs(x) == 1, tl.where((x > 0) | (libdevice.floor(k * 0.5) * 2 == k), 1.0, -1.0), r)
    return tl.where(k < 0, 0.0, r).to(xin.dtype)


def _np_recurrence(family):
    def f(x, n):
        x, n = np.broadcast_arrays(x, n)
        k = np.where(np.abs(n) < 9.2e18, np.trunc(n), -1).astype(x.dtype)
        q1 = [x + x, x, 1 - x, x][family]
        limit = 512 if x.dtype == np.float64 else 128
        rec = (k >= 2) & [k <= limit, k <= limit, x != 0, np.abs(x) != 1][family]
        p, q = np.ones_like(x), q1
        for i in range(1, int(np.max(np.where(rec, k, 0), initial=0))):
            live = rec & (i < k)
            if family == 0:
                r = (x + x) * q - (i + i) * p
            elif family == 1:
                r = x * q - i * p
            elif family == 2:
                live &= q == q
                r = (((i + i) + (1 - x)) * q - i * p) / (i + 1)
            else:
                live &= q == q
                r = ((i + i + 1) * x * q - i * p) / (i + 1)
            p, q = np.where(live, q, p), np.where(live, r, q)
        r = np.where(k == 0, 1, np.where(k == 1, q1, q))
        if family <= 1:
            r = np.where(k > limit, np.nan, r)
        elif family == 2:
            r = np.where(x == 0, 1, r)
        else:
            r = np.where(np.abs(x) == 1, np.where((x > 0) | (np.fmod(k, 2) == 0), 1, -1), r)
        return np.where(k < 0, 0, r).astype(x.dtype)
    return f


def _samples(name, domain):
    def samples():
        r = rng(name)
        ints = lambda s: r.integers(-2, 13, size=s).astype(np.float64)   # noqa: E731
        out = [Sample([r.uniform(*domain, size=s), ints(t)], grad=False)
               for s, t in [((), ()), ((0,), (0,)), ((7,), (7,)), ((3, 5), (3, 5)), ((3, 1), (1, 5))]]
        out.append(Sample([r.uniform(*domain, size=(2, 3)), 4], grad=False, note="scalar n"))
        out.append(Sample([0.25, ints((5,))], grad=False, note="scalar input"))
        out.append(Sample([r.uniform(*domain, size=(3, 4)), r.uniform(-1.5, 30.5, size=(3, 4))], grad=False,
                          note="fractional and larger n"))
        edges = [-1.0, 1.0, 0.0, 0.5, -1.0, 1.0, 0.0, 2.5, -3.0, np.inf, 0.3, 0.7]
        out.append(Sample([np.array(edges), np.array([0, 3, 4, 9, 10, 11, 12, 5, 7, 2, -1, np.nan])], grad=False,
                          note="special values"))
        return out
    return samples


def _define(name, fn, np_fn, domain):
    def check(a, b, out_dtype, params):
        if out_dtype is D.float16 or out_dtype is D.bfloat16:
            raise not_implemented(name, out_dtype, (a if isinstance(a, Tensor) else b).device)

    f = binary("special_" + name, fn, np_fn, None, kind="float", check=check, public=False)
    HEAVY[fn] = (256, 8)        # (1024 a block spilled hundreds of bytes in float64; 128 at 4 warps 4 B on Triton 3.6)
    f.op.dtypes = _NO_HALF
    f.op.kernels = lambda: param_specs(fn, 2, (D.float32, D.float64, D.float64, D.float32), scalar=())
    f.op.samples = _samples(name, domain)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``torch.special.{name}(input, n)``: no gradient, as in PyTorch."
    return f


# (each kernel its own ``@triton.jit`` function: the template passes it as a constexpr)
@triton.jit
def _cheb_t(x, n, p0, p1):
    return _chebyshev(x, n, 0, False, 6)


@triton.jit
def _cheb_u(x, n, p0, p1):
    return _chebyshev(x, n, 1, False, 8)


@triton.jit
def _cheb_v(x, n, p0, p1):
    return _chebyshev(x, n, 2, False, 8)


@triton.jit
def _cheb_w(x, n, p0, p1):
    return _chebyshev(x, n, 3, False, 8)


@triton.jit
def _scheb_t(x, n, p0, p1):
    return _chebyshev(x, n, 0, True, 6)


@triton.jit
def _scheb_u(x, n, p0, p1):
    return _chebyshev(x, n, 1, True, 6)


@triton.jit
def _scheb_v(x, n, p0, p1):
    return _chebyshev(x, n, 2, True, 6)


@triton.jit
def _scheb_w(x, n, p0, p1):
    return _chebyshev(x, n, 3, True, 4)


@triton.jit
def _hermite_h(x, n, p0, p1):
    return _recurrence(x, n, 0)


@triton.jit
def _hermite_he(x, n, p0, p1):
    return _recurrence(x, n, 1)


@triton.jit
def _laguerre_l(x, n, p0, p1):
    return _recurrence(x, n, 2)


@triton.jit
def _legendre_p(x, n, p0, p1):
    return _recurrence(x, n, 3)


_C, _S = (-1.2, 1.2), (-0.1, 1.1)
chebyshev_polynomial_t = _define("chebyshev_polynomial_t", _cheb_t, _np_chebyshev(_T, False, 6), _C)
chebyshev_polynomial_u = _define("chebyshev_polynomial_u", _cheb_u, _np_chebyshev(_U, False, 8), _C)
chebyshev_polynomial_v = _define("chebyshev_polynomial_v", _cheb_v, _np_chebyshev(_V, False, 8), _C)
chebyshev_polynomial_w = _define("chebyshev_polynomial_w", _cheb_w, _np_chebyshev(_W, False, 8), _C)
shifted_chebyshev_polynomial_t = _define("shifted_chebyshev_polynomial_t", _scheb_t, _np_chebyshev(_T, True, 6), _S)
shifted_chebyshev_polynomial_u = _define("shifted_chebyshev_polynomial_u", _scheb_u, _np_chebyshev(_U, True, 6), _S)
shifted_chebyshev_polynomial_v = _define("shifted_chebyshev_polynomial_v", _scheb_v, _np_chebyshev(_V, True, 6), _S)
shifted_chebyshev_polynomial_w = _define("shifted_chebyshev_polynomial_w", _scheb_w, _np_chebyshev(_W, True, 4), _S)
hermite_polynomial_h = _define("hermite_polynomial_h", _hermite_h, _np_recurrence(0), (-2.0, 2.0))
hermite_polynomial_he = _define("hermite_polynomial_he", _hermite_he, _np_recurrence(1), (-2.0, 2.0))
laguerre_polynomial_l = _define("laguerre_polynomial_l", _laguerre_l, _np_recurrence(2), (-1.0, 4.0))
legendre_polynomial_p = _define("legendre_polynomial_p", _legendre_p, _np_recurrence(3), (-1.2, 1.2))
