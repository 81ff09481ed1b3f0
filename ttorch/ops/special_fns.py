"""``torch.special``'s functions with small kernels of their own (erfcx, log_ndtr, entr, xlog1py),
mvlgamma (composed of lgamma), and what the special-function modules share: Clenshaw's and Horner's
evaluators in Triton and NumPy, ``_f64`` (a float64 fallback for any input dtype) and the ``_special``
op factory. The Bessel functions are in ``bessel.py``; the Hurwitz zeta and the regularized incomplete
gamma functions in ``incomplete_gamma.py``.

Each is an elementwise op of ``unary.py``'s or ``binary.py``'s kind: a Triton function for the
shared template, a NumPy fallback (float64 whatever the input, rounded once) and PyTorch's backward
rule. erfcx's and log_ndtr's kernels call libdevice's erfcx (the interpreter evaluates ``_np_erfcx``
in its place).
"""
import math

import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor
from . import _launch
from ._op import write_out
from .binary import binary, param_specs
from .samples import Sample, index, rng
from .unary import unary, not_implemented, lgamma, _c

PUBLIC = {}
METHODS = {}


# ---------------------------------------------------------------------------- Triton helpers
@triton.jit
def _cheb(x, T: tl.constexpr, N: tl.constexpr):
    """Cephes' ``chbevl``: the Chebyshev series ``T`` (``N`` terms, highest order first) at ``x / 2``."""
    b0 = _c(x, T[0])
    b1 = tl.zeros_like(x)
    b2 = tl.zeros_like(x)
    for i in tl.static_range(1, N):
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + _c(x, T[i])
    return 0.5 * (b0 - b2)


@triton.jit
def _horner(x, T: tl.constexpr, N: tl.constexpr):
    """The polynomial with coefficients ``T`` (``N`` of them, highest power first) at ``x``."""
    r = _c(x, T[0])
    for i in tl.static_range(1, N):
        r = r * x + _c(x, T[i])
    return r


# ---------------------------------------------------------------------------- NumPy helpers
def _np_cheb(x, T):
    b0, b1, b2 = np.full_like(x, T[0]), np.zeros_like(x), np.zeros_like(x)
    for c in T[1:]:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _np_horner(x, T, monic=False):
    """The polynomial ``T`` (highest power first) at ``x``; ``monic``: with a leading 1 before ``T``
    (Cephes' p1evl)."""
    r = np.full_like(x, T[0])
    if monic:
        r = r + x
    for c in T[1:]:
        r = r * x + c
    return r


def _f64(f):
    """NumPy function ``f`` (float64 arrays in and out) as a fallback for any input dtype."""
    def run(*args):
        with np.errstate(all="ignore"):
            r = f(*[np.asarray(a, dtype=np.float64) for a in args])
        return np.asarray(r).astype(np.result_type(*[np.asarray(a).dtype for a in args]))
    return run


_vec_erfc = np.vectorize(math.erfc, otypes=[np.float64])


# ---------------------------------------------------------------------------- the op factory
_NO_HALF = (D.float32, D.float64, D.int64)       # PyTorch's AT_DISPATCH_FLOATING_TYPES kernels


def _special(name, fn, np_fn, backward=None, *, half=True, **kw):
    """A unary op of kind ``float`` (integers promote); ``half=False``: float16/bfloat16 refused, as
    PyTorch's float/double-only kernels refuse them (the kernels compile for float32 and float64)."""
    kname = name[8:] if name.startswith("special_") else name

    def refuse(vals, x):
        if x.dtype is D.float16 or x.dtype is D.bfloat16:
            raise not_implemented(kname, x.dtype, x.device)
        return vals
    f = unary(name, fn, _f64(np_fn), backward, public=False, resolve=None if half else refuse, **kw)
    if not half:
        f.op.dtypes = _NO_HALF
        f.op.kernels = lambda: param_specs(fn, 1, (D.float32, D.float64, D.float64, D.float32))
    return f


_x = lambda ctx: ctx.inputs[0]  # noqa: E731
_INF = [np.nan, np.inf, -np.inf, 0.0, -0.0]


# ---------------------------------------------------------------------------- erfcx, log_ndtr, entr, xlog1py
@triton.jit
def _erfcx(x, p0, p1):
    return libdevice.erfcx(x)


@triton.jit
def _log_ndtr(x, p0, p1):
    # PyTorch's (SciPy's): log(erfcx(-t) / 2) - t^2 in the left tail, where erfc(-t) would underflow
    t = x * _c(x, 0.70710678118654752440)
    left = libdevice.log(libdevice.erfcx(-t) * 0.5) - t * t
    right = libdevice.log1p(-libdevice.erfc(t) * 0.5)
    return tl.where(x < -1, left, right)


@triton.jit
def _entr(x, p0, p1):
    r = tl.where(x > 0, -x * libdevice.log(x), tl.where(x == 0, 0.0, float("-inf")))
    return tl.where(x != x, x, r)


@triton.jit
def _xlog1py(x, y, p0, p1):
    # 0 where x is 0 (whatever log1p y), NaN where y is
    return tl.where(y != y, y, tl.where(x == 0, 0.0, x * libdevice.log1p(y)))


def _np_erfcx(x):
    """erfcx in float64 to a few ulps: exp(x^2) erfc(x) with x^2 split exactly (x = hi + lo, hi of
    24 bits: hi^2 is exact) below 26, the asymptotic series (2n-1)!! / (-2x^2)^n above."""
    big = x >= 26
    xs = np.where(big | np.isnan(x) | (x < -26.7), 0.0, x)
    hi = xs.astype(np.float32).astype(np.float64)
    near = np.exp(hi * hi) * np.exp((xs - hi) * (xs + hi)) * _vec_erfc(xs)
    xb = np.where(big, x, 30.0)
    u = -0.5 / (xb * xb)
    term, s = np.ones_like(xb), np.ones_like(xb)
    for n in range(1, 12):
        term = term * (2 * n - 1) * u
        s = s + term
    r = np.where(big, s / (xb * math.sqrt(math.pi)), near)
    return np.where(np.isnan(x), x, np.where(x < -26.7, np.inf, r))


def _np_log_ndtr(x):
    t = x * 0.70710678118654752440
    left = np.log(_np_erfcx(-t) / 2) - t * t
    right = np.log1p(-_vec_erfc(np.where(np.isnan(t), 0.0, t)) / 2)
    return np.where(np.isnan(x), x, np.where(x < -1, left, right))


def _np_entr(x):
    r = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1.0)), np.where(x == 0, 0.0, -np.inf))
    return np.where(np.isnan(x), x, r)


def _np_xlog1py(x, y):
    return np.where(np.isnan(y), y, np.where(x == 0, 0.0, x * np.log1p(np.where(x == 0, 0.0, y))))


# ---------------------------------------------------------------------------- the simulated device
# libdevice's erfcx, evaluated by its fallback where the interpreter runs the kernels (``_launch``
# maps each ``__nv_*`` symbol to a NumPy function)
if _launch.SIMULATED:
    _launch._NV.update(erfcx=_f64(_np_erfcx))


# ---------------------------------------------------------------------------- backward rules
def _xlog1py_bw(ctx, g):
    # PyTorch's: xlog1py(grad, other), 0 where self is 0 and other <= -1; grad * self / (other + 1)
    a, b = ctx.inputs
    ga = None
    if ctx.needs[0]:
        ga = xlog1py(g, b)
        zero = (a == 0) & (b <= -1) if isinstance(b, Tensor) else (a == 0) if b <= -1 else None
        ga = ga if zero is None else ga.masked_fill(zero, 0.0)
    return ga, (g * a / (b + 1) if ctx.needs[1] else None)


# ---------------------------------------------------------------------------- the ops
entr = _special("special_entr", _entr, _np_entr, lambda ctx, g: g * -(1 + _x(ctx).log()), domain=(0.1, 3.0),
                extra=[_INF + [-1.0, 1e-30, 1.0, 1e30]])
erfcx = _special("special_erfcx", _erfcx, _np_erfcx,
                 lambda ctx, g: (2.0 * _x(ctx) * ctx.output - 2.0 / math.sqrt(math.pi)) * g, save_output=True,
                 half=False, domain=(-3.0, 8.0), extra=[_INF + [-26.0, -27.0, 25.9, 26.0, 50.0, 1e8, 1e300]])
log_ndtr = _special("special_log_ndtr", _log_ndtr, _np_log_ndtr,
                    lambda ctx, g: g / math.sqrt(2 * math.pi) * (-(ctx.output + _x(ctx) ** 2 / 2)).exp(),
                    save_output=True, half=False, domain=(-6.0, 4.0),
                    extra=[_INF + [-1.0, -1.001, -40.0, -1e3, 10.0, 40.0]])

xlog1py = binary("special_xlog1py", _xlog1py, _f64(_np_xlog1py), _xlog1py_bw, kind="float", rhs_domain=(-0.5, 2.0),
                 grad_name="SpecialXlog1PyBackward0", public=False,
                 extra=[([0.0, 0.0, 1.0, 2.0, 0.0, -1.0, 1.0, np.nan, 2.0], [0.0, np.nan, -1.0, 3.0, -1.0, -2.0, np.inf,
                                                                          0.0, -np.inf])])


def mvlgamma(input, p, *, out=None):
    """The multivariate log-gamma function of dimension ``p``: ``sum_j lgamma(input - j / 2)`` over
    ``j < p``, plus ``p (p - 1) / 4 log(pi)`` (composed of ``lgamma``: its gradient is digamma's sum).

    Example::

        >>> ttorch.mvlgamma(ttorch.tensor([3.0, 4.0]), 2)
        tensor([1.5502, 3.5651])
    """
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    from .creation import tensor
    x = input if input.dtype.is_floating_point else input.to(D.get_default_dtype())
    offsets = tensor([-(p - 1 - j) / 2 for j in range(p)], dtype=x.dtype, device=x.device)    # -(p-1)/2 .. 0
    r = lgamma(x.unsqueeze(-1) + offsets).sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
    return r if out is None else write_out(out, r, "mvlgamma")


def _mvlgamma_(self, p):
    from .inplace import inplace_from
    return inplace_from(self, mvlgamma(self, p), "mvlgamma_")


PUBLIC.update(mvlgamma=mvlgamma)
METHODS.update(mvlgamma=lambda self, p: mvlgamma(self, p), mvlgamma_=_mvlgamma_)


# ---------------------------------------------------------------------------- shared by bessel, zeta, incomplete_gamma
def _not_implemented(what):
    return RuntimeError(f"the derivative for '{what}' is not implemented.")



def _pair_samples(name, lhs, rhs, specials, ints):
    """Samples of a two-argument function whose gradient flows to ``other`` alone: tensors of both
    (no gradient check), and integer or scalar ``input``s (gradient checked)."""
    def samples():
        r = rng(name)
        shapes = [((), ()), ((0,), (0,)), ((7,), (7,)), ((3, 5), (3, 5)), ((3, 1), (1, 5)), ((2, 3, 4), (3, 4))]
        out = [Sample([r.uniform(*lhs, size=s), r.uniform(*rhs, size=t)], grad=False) for s, t in shapes]
        out.append(Sample([index(ints), r.uniform(*rhs, size=(len(ints),))], note="integer input"))
        out.append(Sample([index(ints[:1]), r.uniform(*rhs, size=(2, 3))], note="integer input, broadcast"))
        out.append(Sample([np.asarray(v, dtype=np.float64) for v in specials], grad=False, note="special values"))
        return out
    return samples
