"""The Bessel functions, erfcx, log_ndtr, entr, xlog1py, zeta, the incomplete gamma functions and mvlgamma
(``ops/special_fns.py``, ``bessel.py``, ``zeta.py``, ``incomplete_gamma.py``): values against series,
integrals and identities computed here in float64 (no reference library), special values and errors as PyTorch
gives them, gradients by gradcheck, on both devices."""
import doctest
import math

import numpy as np
import pytest

import ttorch
from ttorch import special as S
from ttorch.autograd import gradcheck, gradgradcheck
from ttorch.ops import bessel, incomplete_gamma, special_fns, zeta

from _helpers import to_np

EULER = 0.5772156649015329
ZETA3 = 1.2020569031595942
inf, nan = math.inf, math.nan


def t64(v, device="cpu", grad=False):
    return ttorch.tensor(v, dtype=ttorch.float64, device=device, requires_grad=grad)


def check(fn, xs, want, device, rtol, atol=0.0):
    np.testing.assert_allclose(to_np(fn(t64(xs, device))), want, rtol=rtol, atol=atol)


def _series_i(nu, x, terms=120):
    """I_nu(x) = sum (x/2)^(2k+nu) / (k! (k+nu)!)."""
    term, s = (x / 2) ** nu / math.factorial(nu), 0.0
    for k in range(terms):
        s += term
        term *= (x / 2) ** 2 / ((k + 1) * (k + 1 + nu))
    return s


def _trapezoid(f, lo, hi, n):
    """The trapezoid rule: exponentially accurate for the periodic and fast-decaying integrands below."""
    t = np.linspace(lo, hi, n + 1)
    y = f(t)
    return (hi - lo) / n * (y.sum() - (y[0] + y[-1]) / 2)


def test_modified_bessel_i(device):
    xs = [-12.5, -3.0, -0.5, 0.0, 1e-3, 0.7, 5.0, 8.0, 8.5, 20.0]
    i0 = [_series_i(0, abs(x)) for x in xs]
    i1 = [math.copysign(_series_i(1, abs(x)), x) for x in xs]
    check(ttorch.i0, xs, i0, device, 1e-13)
    check(S.i1, xs, i1, device, 1e-13)
    check(S.i0e, xs, [v * math.exp(-abs(x)) for v, x in zip(i0, xs)], device, 1e-13)
    check(S.i1e, xs, [v * math.exp(-abs(x)) for v, x in zip(i1, xs)], device, 1e-13)
    check(S.modified_bessel_i0, xs, i0, device, 1e-13)
    check(S.modified_bessel_i1, xs, i1, device, 1e-13)
    # large x: Hankel's series exp(x) / sqrt(2 pi x) sum prod (4 nu^2 - (2j-1)^2) / (k! (8x)^k) (alternating)
    for x in (500.0, 4000.0):
        for fn, nu in ((S.i0e, 0), (S.i1e, 1)):
            s, term = 0.0, 1.0
            for k in range(8):
                s += term
                term *= -(4 * nu * nu - (2 * k + 1) ** 2) / ((k + 1) * 8 * x)
            check(fn, [x], [s / math.sqrt(2 * math.pi * x)], device, 1e-13)
    # PyTorch's special values: I0, I1 NaN at +-inf (exp(x) times 0), the scaled ones 0 there
    r = to_np(ttorch.i0(t64([inf, -inf, nan], device)))
    assert np.isnan(r).all()
    r = to_np(S.i1e(t64([inf, -inf, -0.0], device)))
    assert r.tolist() == [0.0, 0.0, 0.0] and np.signbit(r[1]) and not np.signbit(r[2])
    assert to_np(S.i0e(t64([inf, -inf], device))).tolist() == [0.0, 0.0]


def test_modified_bessel_k(device):
    xs = [0.1, 1.0, 2.0, 2.5, 10.0, 50.0]
    k = {n: [_trapezoid(lambda t: np.exp(-x * np.cosh(t)) * np.cosh(n * t), 0.0, 12.0, 24000) for x in xs]
         for n in (0, 1)}              # K_n(x) = integral over t > 0 of exp(-x cosh t) cosh(n t)
    check(S.modified_bessel_k0, xs, k[0], device, 1e-12)
    check(S.modified_bessel_k1, xs, k[1], device, 1e-12)
    check(S.scaled_modified_bessel_k0, xs, [v * math.exp(x) for v, x in zip(k[0], xs)], device, 1e-12)
    check(S.scaled_modified_bessel_k1, xs, [v * math.exp(x) for v, x in zip(k[1], xs)], device, 1e-12)
    for fn in (S.modified_bessel_k0, S.modified_bessel_k1, S.scaled_modified_bessel_k0, S.scaled_modified_bessel_k1):
        r = to_np(fn(t64([0.0, -1.0, inf, nan], device)))
        assert r[0] == inf and np.isnan(r[1]) and r[2] == 0.0 and np.isnan(r[3])


def test_bessel_j_y(device):
    xs = [0.0, 1e-6, 0.5, 2.404825557695773, 4.9, 5.1, 12.0, 60.0]
    j0 = [_trapezoid(lambda t: np.cos(x * np.sin(t)), 0.0, math.pi, 400) / math.pi for x in xs]
    j1 = [_trapezoid(lambda t: np.cos(t - x * np.sin(t)), 0.0, math.pi, 400) / math.pi for x in xs]
    check(S.bessel_j0, xs, j0, device, 1e-12, 1e-15)
    check(S.bessel_j1, xs, j1, device, 1e-12, 1e-15)
    check(S.bessel_j1, [-x for x in xs], [-v for v in j1], device, 1e-12, 1e-15)
    # Y0 by its series: (2/pi) ((log(x/2) + gamma) J0(x) + sum (-1)^(k+1) H_k (x^2/4)^k / k!^2)
    ys = [0.3, 1.0, 3.0, 6.0]
    y0 = []
    for x in ys:
        s, h = 0.0, 0.0
        for k in range(1, 60):
            h += 1 / k
            s += (-1) ** (k + 1) * h * (x * x / 4) ** k / math.factorial(k) ** 2
        y0.append(2 / math.pi * ((math.log(x / 2) + EULER) * _trapezoid(lambda t: np.cos(x * np.sin(t)), 0.0, math.pi,
                                                                       400) / math.pi + s))
    check(S.bessel_y0, ys, y0, device, 1e-11)
    # Y1 from the Wronskian J1 Y0 - J0 Y1 = 2 / (pi x)
    y = t64(ys + [20.0], device)
    w = S.bessel_j1(y) * S.bessel_y0(y) - S.bessel_j0(y) * S.bessel_y1(y)
    np.testing.assert_allclose(to_np(w), [2 / (math.pi * v) for v in ys + [20.0]], rtol=1e-12)
    r = [to_np(f(t64([0.0, -1.0, inf, nan], device))) for f in (S.bessel_y0, S.bessel_y1)]
    for v in r:
        assert v[0] == -inf and np.isnan(v[1:]).all()
    assert np.isnan(to_np(S.bessel_j0(t64([inf, -inf], device)))).all()       # (PyTorch's: cos(inf))
    xs = [0.0, 1e-20, 0.3, 0.5, -2.0, 30.0, inf]
    check(S.spherical_bessel_j0, xs, [1.0, 1.0] + [math.sin(x) / x for x in xs[2:-1]] + [0.0], device, 1e-14)


def test_erfcx_log_ndtr_entr(device):
    xs = [-26.0, -3.0, -0.5, 0.0, 0.4, 2.0, 8.0]
    check(S.erfcx, xs, [math.exp(x * x) * math.erfc(x) for x in xs], device, 1e-12)
    big = [30.0, 1e3, 1e10]          # 1 / (x sqrt pi) sum (2n-1)!! / (-2x^2)^n
    check(S.erfcx, big, [sum(math.prod(range(1, 2 * n, 2)) / (-2 * x * x) ** n for n in range(8)) /
                         (x * math.sqrt(math.pi)) for x in big], device, 1e-14)
    assert to_np(S.erfcx(t64([inf, -inf, -30.0], device))).tolist() == [0.0, inf, inf]
    xs = [-20.0, -3.0, -1.0, -0.3, 0.0, 2.0, 6.0]
    check(S.log_ndtr, xs, [math.log(math.erfc(-x / math.sqrt(2)) / 2) if x < 0 else
                           math.log1p(-math.erfc(x / math.sqrt(2)) / 2) for x in xs], device, 1e-12)
    for x in (-40.0, -1e3):           # the far tail: -x^2/2 - log(-x sqrt(2 pi)) + log(sum (2n-1)!! / (-x^2)^n)
        tail = sum(math.prod(range(1, 2 * n, 2)) / (-x * x) ** n for n in range(1, 8))
        want = -x * x / 2 - math.log(-x * math.sqrt(2 * math.pi)) + math.log1p(tail)
        check(S.log_ndtr, [x], [want], device, 1e-12)
    assert to_np(S.log_ndtr(t64([inf, -inf], device))).tolist() == [0.0, -inf]
    xs = [0.0, 1e-30, 0.5, 1.0, 3.0]
    check(S.entr, xs, [0.0] + [-x * math.log(x) for x in xs[1:]], device, 1e-14)
    r = to_np(S.entr(t64([-1.0, inf, nan], device)))
    assert r[0] == -inf and r[1] == -inf and np.isnan(r[2])


def test_xlog1py(device):
    a, b = t64([0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 1.0], device), t64([-1.0, nan, -1.0, 0.5, 1e-10, 5.0, -2.0], device)
    r = to_np(S.xlog1py(a, b))
    assert r[0] == 0.0 and np.isnan(r[1]) and r[2] == -inf and r[5] == 0.0 and np.isnan(r[6])
    np.testing.assert_allclose(r[3:5], [2 * math.log1p(0.5), 3 * math.log1p(1e-10)], rtol=1e-15)
    np.testing.assert_allclose(to_np(S.xlog1py(2.0, b[3:5])), [2 * math.log1p(0.5), 2 * math.log1p(1e-10)], rtol=1e-15)
    assert S.xlog1py(ttorch.tensor([2], device=device), 1).dtype == ttorch.float32      # integers promote


def test_zeta(device):
    x = t64([2.0, 4.0, 2.0, 3.0, 3.0, 30.0], device)
    q = t64([1.0, 1.0, 0.5, 2.0, -1.5, 1.0], device)
    want = [math.pi ** 2 / 6, math.pi ** 4 / 90, math.pi ** 2 / 2, ZETA3 - 1,
            7 * ZETA3 + (-1.5) ** -3 + (-0.5) ** -3, 1 + 2 ** -30 + 3 ** -30]
    np.testing.assert_allclose(to_np(S.zeta(x, q)), want, rtol=1e-13)
    xs, qs = t64([1.5, 2.5, 7.0, 13.0], device), t64([0.3, 1.7, 12.5, 0.9], device)  # zeta(x, q) - zeta(x, q+1) = q^-x
    np.testing.assert_allclose(to_np(S.zeta(xs, qs) - S.zeta(xs, qs + 1)), to_np(qs ** -xs), rtol=1e-12)
    r = to_np(S.zeta(t64([1.0, 0.5, 2.0, 2.0, 2.5, nan], device), t64([1.0, 1.0, 0.0, -1.0, -1.5, 1.0], device)))
    assert r[0] == inf and np.isnan(r[1]) and r[2] == inf and r[3] == inf and np.isnan(r[4]) and np.isnan(r[5])
    assert S.zeta(2, t64([1.0], device)).item() == pytest.approx(math.pi ** 2 / 6, rel=1e-14)
    assert S.zeta(ttorch.tensor([2, 4], device=device), 1).dtype == ttorch.float32
    with pytest.raises(RuntimeError, match="not implemented for 'Half'"):
        S.zeta(ttorch.tensor([2.0], dtype=ttorch.float16, device=device), 1.0)


def _lower_gamma_series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) sum x^n / ((a+1)...(a+n))."""
    s, term, n = 1.0, 1.0, 0
    while term > 1e-17 * s:
        n += 1
        term *= x / (a + n)
        s += term
    return math.exp(a * math.log(x) - x - math.lgamma(a + 1)) * s


def test_incomplete_gamma(device):
    a = [1.0, 2.0, 0.5, 3.7, 3.7, 0.01, 30.0, 100.0, 100.0, 1000.0, 0.5]
    x = [2.5, 0.3, 0.8, 0.5, 10.0, 0.2, 31.0, 95.0, 105.0, 1010.0, 30.0]
    p = [1 - math.exp(-2.5), 1 - 1.3 * math.exp(-0.3), math.erf(math.sqrt(0.8))] + \
        [_lower_gamma_series(u, v) for u, v in zip(a[3:-1], x[3:-1])] + [math.erf(math.sqrt(30.0))]
    q = [math.exp(-2.5), 1.3 * math.exp(-0.3), math.erfc(math.sqrt(0.8))] + [1 - v for v in p[3:-1]] + \
        [math.erfc(math.sqrt(30.0))]
    ta, tx = t64(a, device), t64(x, device)
    np.testing.assert_allclose(to_np(ttorch.igamma(ta, tx)), p, rtol=1e-12)
    np.testing.assert_allclose(to_np(S.gammaincc(ta, tx)), q, rtol=1e-11)       # (1 - P: loses digits where P ~ 1)
    np.testing.assert_allclose(to_np(ta.igamma(tx) + ta.igammac(tx)), np.ones(len(a)), rtol=1e-14)
    # PyTorch's (SciPy's) values on the boundary
    ea = t64([0.0, 0.0, 1.0, -1.0, inf, inf, 1.0, nan, 1.0, 0.0], device)
    ex = t64([0.0, 1.0, 0.0, 1.0, 1.0, inf, inf, 1.0, nan, -1.0], device)
    np.testing.assert_array_equal(to_np(S.gammainc(ea, ex)), [nan, 1, 0, nan, 0, nan, 1, nan, nan, nan])
    np.testing.assert_array_equal(to_np(S.gammaincc(ea, ex)), [nan, 0, 1, nan, 1, nan, 0, nan, nan, nan])
    assert S.gammainc(ttorch.tensor([2], device=device), t64([1.0], device)).dtype == ttorch.float64
    with pytest.raises(RuntimeError, match="\"igamma_cpu\" not implemented for 'Long'"):
        ttorch.igamma(ttorch.tensor([2]), ttorch.tensor([1]))
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        ttorch.igamma(ta, 2.0)
    with pytest.raises(TypeError, match=r"special_gammaincc\(\): argument 'input' \(position 1\)"):
        S.gammaincc(2.0, tx)


def test_float32_and_half(device):
    x = ttorch.tensor([0.5, 3.0, 9.0], device=device)
    np.testing.assert_allclose(to_np(S.i1e(x)), [_series_i(1, v) * math.exp(-v) for v in (0.5, 3.0, 9.0)], rtol=2e-6)
    h = ttorch.tensor([0.5, 3.0], dtype=ttorch.float16, device=device)
    assert ttorch.i0(h).dtype == ttorch.float16 and S.entr(h).dtype == ttorch.float16
    assert ttorch.i0(ttorch.tensor([1, 2], device=device)).dtype == ttorch.float32
    for fn, name in ((S.erfcx, "erfcx"), (S.bessel_j0, "bessel_j0"), (S.modified_bessel_k1, "modified_bessel_k1"),
                     (S.log_ndtr, "log_ndtr")):
        with pytest.raises(RuntimeError, match=f"\"{name}_{device}\" not implemented for 'Half'"):
            fn(h)
    a, b = ttorch.tensor([2.0, 5.0], device=device), ttorch.tensor([1.5, 4.0], device=device)
    np.testing.assert_allclose(to_np(ttorch.igamma(a, b)), [_lower_gamma_series(2.0, 1.5),
                                                           _lower_gamma_series(5.0, 4.0)], rtol=2e-6)
    np.testing.assert_allclose(to_np(S.zeta(ttorch.tensor([3.0], device=device), ttorch.tensor([-1.5], device=device))),
                               [7 * ZETA3 + (-1.5) ** -3 + (-0.5) ** -3], rtol=2e-6)    # (summed in float64)


def test_gradients(device):
    x = t64([-3.0, -0.4, 0.7, 2.0, 9.0], device, grad=True)
    for fn in (ttorch.i0, S.i0e, S.i1, S.i1e):
        assert gradcheck(fn, (x,))
    assert gradgradcheck(ttorch.i0, (x,)) and gradgradcheck(S.i1e, (x,))
    z = t64([0.0], device, grad=True)
    S.i1(z).backward()
    assert z.grad.item() == 0.5                  # the limit, as PyTorch's i1_backward takes it at 0
    p = t64([0.3, 1.0, 2.5], device, grad=True)
    assert gradcheck(S.entr, (p,)) and gradcheck(S.erfcx, (x,)) and gradcheck(S.log_ndtr, (x,))
    y = t64([-0.5, 0.2, 3.0], device, grad=True)
    assert gradcheck(S.xlog1py, (p, y)) and gradcheck(lambda b: S.xlog1py(2.0, b), (y,))
    assert gradcheck(lambda q: S.zeta(t64([2.0, 3.5, 5.0], device), q), (p,))
    assert gradcheck(lambda v: ttorch.igamma(t64([0.5, 2.0, 7.0], device), v), (p,))
    assert gradcheck(lambda v: ttorch.igammac(t64([0.5, 2.0, 7.0], device), v), (p,))
    assert gradcheck(lambda v: ttorch.mvlgamma(v, 3), (t64([1.7, 2.5, 6.0], device, grad=True),))
    for fn, what in ((S.zeta, "zeta"), (ttorch.igamma, "igamma: input"), (ttorch.igammac, "igammac: input")):
        a = t64([2.0, 3.0], device, grad=True)
        with pytest.raises(RuntimeError, match=f"the derivative for '{what}' is not implemented"):
            fn(a, t64([1.0, 2.0], device)).sum().backward()
    # no gradient at all for the Bessel functions of torch.special, as in PyTorch
    for fn in (S.bessel_j0, S.bessel_y1, S.modified_bessel_i0, S.scaled_modified_bessel_k1, S.spherical_bessel_j0):
        assert not fn(t64([1.0], device, grad=True)).requires_grad


def test_mvlgamma(device):
    x = t64([1.6, 3.0, 10.25], device)
    for p in (1, 2, 5):
        v = x + p / 2
        want = [sum(math.lgamma(u - j / 2) for j in range(p)) + p * (p - 1) / 4 * math.log(math.pi) for u in v.tolist()]
        for got in (ttorch.mvlgamma(v, p), v.mvlgamma(p), S.multigammaln(v, p)):
            np.testing.assert_allclose(to_np(got), want, rtol=1e-13)
    assert ttorch.mvlgamma(ttorch.tensor([3, 4], device=device), 2).dtype == ttorch.float32
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        ttorch.mvlgamma(x, 0)
    y = x.clone()
    assert y.mvlgamma_(2) is y and y.tolist() == ttorch.mvlgamma(x, 2).tolist()


def test_names_and_doctests():
    assert ttorch.special.i0 is ttorch.i0 and ttorch.Tensor.i0 and ttorch.Tensor.i0_ and ttorch.Tensor.igamma_
    assert all(hasattr(S, n) for n in S.__all__)
    x = ttorch.tensor([0.5, 2.0])
    y = x.clone()
    assert y.i0_() is y and y.tolist() == ttorch.i0(x).tolist()
    for mod in (special_fns, bessel, zeta, incomplete_gamma, S):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, mod.__name__
