"""``torch.special``'s Bessel functions: the modified Bessel functions I and K (``i0``, ``i0e``,
``i1``, ``i1e``, ``modified_bessel_*``, ``scaled_modified_bessel_*``), the Bessel functions J and Y
(``bessel_j0/j1/y0/y1``) and ``spherical_bessel_j0``.

Each is an elementwise op of ``unary.py``'s kind (built by ``special_fns._special``). Where libdevice
has the function (i0, i1, j0, j1, y0, y1) the kernel calls it, and the interpreter evaluates the
NumPy fallback in its place; elsewhere it evaluates the Cephes approximations PyTorch's
``ATen/native/Math.h`` uses (Chebyshev series by Clenshaw's recurrence, rational functions; their
coefficient tables close this file), and the fallbacks evaluate the same ones. Special values follow
PyTorch's kernels, their quirks included: ``i0(inf)`` and ``bessel_j0(inf)`` are NaN there, as here.
One departure, for accuracy: the J and Y fallbacks divide by Cephes' monic polynomials (p1evl) where
PyTorch 2.13's port drops their leading 1 (its bessel_j0 is 4e-7 off near x = 5; these are within
3e-16 of the power series, as the kernels' libdevice is meant to be). As in PyTorch, only i0, i0e,
i1 and i1e have gradients.
"""
import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from . import _launch
from .elementwise import HEAVY
from .special_fns import _cheb, _np_cheb, _np_horner, _f64, _special, _x, _INF
from .unary import _c, _div, _where

PUBLIC = {}
METHODS = {}


# ---------------------------------------------------------------------------- modified Bessel I
@triton.jit
def _i0(x, p0, p1):
    # PyTorch's Cephes i0 gives NaN at +-inf (exp(x) * 0); libdevice gives inf
    return tl.where(tl.abs(x) == float("inf"), float("nan"), libdevice.cyl_bessel_i0(x))


@triton.jit
def _i1(x, p0, p1):
    return tl.where(tl.abs(x) == float("inf"), float("nan"), libdevice.cyl_bessel_i1(x))


@triton.jit
def _i0e(x, p0, p1):
    z = tl.abs(x)
    small = _cheb(z * 0.5 - 2, _I0E_A, 30)
    large = _div(_cheb(_div(_c(x, 32.0), z) - 2, _I0E_B, 25), libdevice.sqrt(z))
    return tl.where(z <= 8, small, large)


@triton.jit
def _i1e(x, p0, p1):
    z = tl.abs(x)
    small = _cheb(z * 0.5 - 2, _I1E_A, 29) * z
    large = _div(_cheb(_div(_c(x, 32.0), z) - 2, _I1E_B, 25), libdevice.sqrt(z))
    r = tl.where(z <= 8, small, large)
    return tl.where(x < 0, -r, r)


def _np_i0e(x):
    z = np.abs(x)
    return np.where(z <= 8, _np_cheb(z / 2 - 2, _I0E_A.value), _np_cheb(32 / z - 2, _I0E_B.value) / np.sqrt(z))


def _np_i1e(x):
    z = np.abs(x)
    r = np.where(z <= 8, _np_cheb(z / 2 - 2, _I1E_A.value) * z, _np_cheb(32 / z - 2, _I1E_B.value) / np.sqrt(z))
    return np.where(x < 0, -r, r)


def _np_i0(x):
    return np.exp(np.abs(x)) * _np_i0e(x)


def _np_i1(x):
    return np.exp(np.abs(x)) * _np_i1e(x)


# ---------------------------------------------------------------------------- modified Bessel K
@triton.jit
def _k_small(x, ORDER: tl.constexpr):
    # x <= 2: the Chebyshev part plus the log term (I0, I1 from their own series, exp-scaled)
    y = x * x - 2
    half = x * 0.5
    if ORDER == 0:
        r = _cheb(y, _K0_A, 10) - libdevice.log(half) * libdevice.exp(x) * _cheb(half - 2, _I0E_A, 30)
    else:
        r = libdevice.log(half) * libdevice.exp(x) * x * _cheb(half - 2, _I1E_A, 29) + _div(_cheb(y, _K1_A, 11), x)
    return r


@triton.jit
def _k_large(x, ORDER: tl.constexpr):
    # x > 2: exp(x) sqrt(x) K(x) as a Chebyshev series in 8 / x
    y = _div(_c(x, 8.0), x) - 2
    if ORDER == 0:
        r = _cheb(y, _K0_B, 25)
    else:
        r = _cheb(y, _K1_B, 25)
    return _div(r, libdevice.sqrt(x))


@triton.jit
def _k_any(x, ORDER: tl.constexpr, SCALED: tl.constexpr):
    small = _k_small(x, ORDER)
    large = _k_large(x, ORDER)
    if SCALED:
        small = small * libdevice.exp(x)
    else:
        large = large * libdevice.exp(-x)
    r = tl.where(x <= 2, small, large)
    r = tl.where(x < 0, float("nan"), r)
    return tl.where(x == 0, float("inf"), r)


@triton.jit
def _k0(x, p0, p1):
    return _k_any(x, 0, False)


@triton.jit
def _k1(x, p0, p1):
    return _k_any(x, 1, False)


@triton.jit
def _k0e(x, p0, p1):
    return _k_any(x, 0, True)


@triton.jit
def _k1e(x, p0, p1):
    return _k_any(x, 1, True)


def _np_k(order, scaled):
    def f(x):
        if order == 0:
            small = _np_cheb(x * x - 2, _K0_A.value) - np.log(0.5 * x) * _np_i0(x)
            large = _np_cheb(8 / x - 2, _K0_B.value) / np.sqrt(x)
        else:
            small = np.log(0.5 * x) * _np_i1(x) + _np_cheb(x * x - 2, _K1_A.value) / x
            large = _np_cheb(8 / x - 2, _K1_B.value) / np.sqrt(x)
        if scaled:
            small = small * np.exp(x)
        else:
            large = np.exp(-x) * large
        r = np.where(x <= 2, small, large)
        return np.where(x == 0, np.inf, np.where(x < 0, np.nan, r))
    return f


# ---------------------------------------------------------------------------- Bessel J, Y
@triton.jit
def _j0(x, p0, p1):
    # (PyTorch's Cephes port gives NaN at +-inf: cos(inf))
    return tl.where(tl.abs(x) == float("inf"), float("nan"), libdevice.j0(x))


@triton.jit
def _j1(x, p0, p1):
    return tl.where(tl.abs(x) == float("inf"), float("nan"), libdevice.j1(x))


@triton.jit
def _y0(x, p0, p1):
    return tl.where(x == float("inf"), float("nan"), libdevice.y0(x))


@triton.jit
def _y1(x, p0, p1):
    return tl.where(x == float("inf"), float("nan"), libdevice.y1(x))


@triton.jit
def _spherical_j0(x, p0, p1):
    x2 = x * x
    series = 1 + x2 * (_c(x, -1 / 6) + x2 * (_c(x, 1 / 120) + x2 * (_c(x, -1 / 5040) + x2 * (
        _c(x, 1 / 362880) + x2 * (_c(x, -1 / 39916800) + x2 * _c(x, 1 / 6227020800))))))
    r = tl.where(tl.abs(x) < 0.5, series, _div(libdevice.sin(x), x))
    return tl.where(tl.abs(x) == float("inf"), 0.0, r)


def _np_jy_large(x, order, second):
    """Hankel's asymptotic form for x > 5: P cos(w) - Q sin(w) (J), P sin(w) + Q cos(w) (Y)."""
    if order == 0:
        z, w = 25 / (x * x), x - 0.785398163397448309615660845819875721
        pp, pq, qp, qq = _J0_PP, _J0_PQ, _J0_QP, _J0_QQ
    else:
        z, w = 5 / x * (5 / x), x - 2.356194490192344928846982537459627163
        pp, pq, qp, qq = _J1_PP, _J1_PQ, _J1_QP, _J1_QQ
    p = _np_horner(z, pp) / _np_horner(z, pq)
    q = 5 / x * (_np_horner(z, qp) / _np_horner(z, qq, monic=True))
    r = p * np.sin(w) + q * np.cos(w) if second else p * np.cos(w) - q * np.sin(w)
    return r * 0.797884560802865355879892119868763737 / np.sqrt(x)


def _np_j0(x):
    x = np.abs(x)
    x2 = x * x
    small = (x2 - 5.78318596294678452118) * (x2 - 30.4712623436620863991) * _np_horner(x2, _J0_RP) / \
        _np_horner(x2, _J0_RQ, monic=True)
    small = np.where(x < 1e-5, 1 - x2 / 4, small)
    return np.where(x <= 5, small, _np_jy_large(x, 0, False))


def _np_j1(v):
    x = np.abs(v)
    x2 = x * x
    small = _np_horner(x2, _J1_RP) / _np_horner(x2, _J1_RQ, monic=True) * x * (x2 - 14.6819706421238932572) * \
        (x2 - 49.2184563216946036703)
    r = np.where(x <= 5, small, _np_jy_large(x, 1, False))
    return np.where(v < 0, -r, r)


_2_PI = 0.636619772367581343075535053490057448


def _np_y0(x):
    x2 = x * x
    small = _np_horner(x2, _Y0_YP) / _np_horner(x2, _Y0_YQ, monic=True) + _2_PI * np.log(x) * _np_j0(x)
    small = np.where(x == 0, -np.inf, np.where(x < 0, np.nan, small))
    return np.where(x <= 5, small, _np_jy_large(x, 0, True))


def _np_y1(x):
    x2 = x * x
    small = x * (_np_horner(x2, _Y1_YP) / _np_horner(x2, _Y1_YQ, monic=True)) + _2_PI * (_np_j1(x) * np.log(x) - 1 / x)
    small = np.where(x == 0, -np.inf, np.where(x < 0, np.nan, small))
    return np.where(x <= 5, small, _np_jy_large(x, 1, True))


def _np_spherical_j0(x):
    x2 = x * x
    series = 1 + x2 * (-1 / 6 + x2 * (1 / 120 + x2 * (-1 / 5040 + x2 * (1 / 362880 + x2 * (
        -1 / 39916800 + x2 / 6227020800)))))
    r = np.where(np.abs(x) < 0.5, series, np.sin(x) / x)
    return np.where(np.isinf(x), 0.0, r)


# ---------------------------------------------------------------------------- the simulated device
# libdevice's Bessel functions, evaluated by the fallbacks above where the interpreter runs the
# kernels (``_launch`` maps each ``__nv_*`` symbol to a NumPy function)
if _launch.SIMULATED:
    _launch._NV.update({k: _f64(f) for k, f in dict(cyl_bessel_i0=_np_i0, cyl_bessel_i1=_np_i1, j0=_np_j0, j1=_np_j1,
                                                     y0=_np_y0, y1=_np_y1).items()})


# ---------------------------------------------------------------------------- backward rules
def _eps_where_tiny(x):
    # PyTorch's i1/i1e backward: |x| <= eps takes the limit 1/2 (the formula's 0/0 there)
    eps = D.finfo(x.dtype).eps
    tiny = x.abs() <= eps
    return tiny, _where(tiny, eps, x)


def _i1_bw(ctx, g):
    tiny, safe = _eps_where_tiny(ctx.inputs[0])
    return g * _where(tiny, 0.5, i0(safe) - ctx.output / safe)


def _i1e_bw(ctx, g):
    tiny, safe = _eps_where_tiny(ctx.inputs[0])
    return g * _where(tiny, 0.5, i0e(safe) - ctx.output * (safe.sign() + 1 / safe))


# ---------------------------------------------------------------------------- the ops
i0 = _special("i0", _i0, _np_i0, lambda ctx, g: g * i1(_x(ctx)), domain=(-4.0, 4.0),
              extra=[_INF + [1e-3, 8.0, 20.0, -30.0, 100.0]])
i0e = _special("special_i0e", _i0e, _np_i0e, lambda ctx, g: g * (i1e(_x(ctx)) - _x(ctx).sign() * ctx.output),
               save_output=True, domain=(-12.0, 12.0), grad_name="SpecialI0EBackward0",
               extra=[_INF + [1e-3, 8.0, -8.0, 8.001, 50.0, 1e4]])
i1 = _special("special_i1", _i1, _np_i1, _i1_bw, save_output=True, domain=(-4.0, 4.0),
              extra=[_INF + [1e-3, -8.0, 20.0, -30.0, 100.0]])
i1e = _special("special_i1e", _i1e, _np_i1e, _i1e_bw, save_output=True, domain=(-12.0, 12.0),
               grad_name="SpecialI1EBackward0", extra=[_INF + [1e-3, 8.0, -8.0, 8.001, 50.0, -1e4]])
modified_bessel_i0 = _special("special_modified_bessel_i0", _i0, _np_i0, half=False, domain=(-4.0, 4.0))
modified_bessel_i1 = _special("special_modified_bessel_i1", _i1, _np_i1, half=False, domain=(-4.0, 4.0))
_K = _INF + [1e-300, 1e-3, 2.0, 2.001, -1.0, 700.0]
modified_bessel_k0 = _special("special_modified_bessel_k0", _k0, _np_k(0, False), half=False, domain=(0.1, 5.0),
                              extra=[_K])
modified_bessel_k1 = _special("special_modified_bessel_k1", _k1, _np_k(1, False), half=False, domain=(0.1, 5.0),
                              extra=[_K])
scaled_modified_bessel_k0 = _special("special_scaled_modified_bessel_k0", _k0e, _np_k(0, True), half=False,
                                     domain=(0.1, 5.0), extra=[_K])
scaled_modified_bessel_k1 = _special("special_scaled_modified_bessel_k1", _k1e, _np_k(1, True), half=False,
                                     domain=(0.1, 5.0), extra=[_K])
_JY = _INF + [1e-6, 2.404825557695773, 5.0, 5.001, -7.5, 1e3]
HEAVY[_y1] = (512, 4)       # (Triton 3.6 spilled 8 B a thread around libdevice's y1f at 8 values a thread)
bessel_j0 = _special("special_bessel_j0", _j0, _np_j0, half=False, domain=(-10.0, 10.0), extra=[_JY])
bessel_j1 = _special("special_bessel_j1", _j1, _np_j1, half=False, domain=(-10.0, 10.0), extra=[_JY])
bessel_y0 = _special("special_bessel_y0", _y0, _np_y0, half=False, domain=(0.1, 10.0), extra=[_JY])
bessel_y1 = _special("special_bessel_y1", _y1, _np_y1, half=False, domain=(0.1, 10.0), extra=[_JY])
spherical_bessel_j0 = _special("special_spherical_bessel_j0", _spherical_j0, _np_spherical_j0, half=False,
                               domain=(-10.0, 10.0), extra=[_INF + [0.49, 0.5, -3.0, 1e-20, 1e20]])

PUBLIC.update(i0=i0)
METHODS.update(i0=i0)


# ---------------------------------------------------------------------------- coefficients
# Cephes' tables as PyTorch's ATen/native/Math.h holds them (3-clause BSD; see PyTorch's NOTICE). A
# table a kernel reads is a tl.constexpr (its elements become constants of the compiled code).
_I0E_A = tl.constexpr((-4.4153416464793395e-18, 3.3307945188222384e-17, -2.431279846547955e-16, 1.715391285555133e-15,
                       -1.1685332877993451e-14, 7.676185498604936e-14, -4.856446783111929e-13, 2.95505266312964e-12,
                       -1.726826291441556e-11, 9.675809035373237e-11, -5.189795601635263e-10, 2.6598237246823866e-09,
                       -1.300025009986248e-08, 6.046995022541919e-08, -2.670793853940612e-07, 1.1173875391201037e-06,
                       -4.4167383584587505e-06, 1.6448448070728896e-05, -5.754195010082104e-05, 0.00018850288509584165,
                       -0.0005763755745385824, 0.0016394756169413357, -0.004324309995050576, 0.010546460394594998,
                       -0.02373741480589947, 0.04930528423967071, -0.09490109704804764, 0.17162090152220877,
                       -0.3046826723431984, 0.6767952744094761))
_I0E_B = tl.constexpr((-7.233180487874754e-18, -4.830504485944182e-18, 4.46562142029676e-17, 3.461222867697461e-17,
                       -2.8276239805165836e-16, -3.425485619677219e-16, 1.7725601330565263e-15, 3.8116806693526224e-15,
                       -9.554846698828307e-15, -4.150569347287222e-14, 1.54008621752141e-14, 3.8527783827421426e-13,
                       7.180124451383666e-13, -1.7941785315068062e-12, -1.3215811840447713e-11, -3.1499165279632416e-11,
                       1.1889147107846439e-11, 4.94060238822497e-10, 3.3962320257083865e-09, 2.266668990498178e-08,
                       2.0489185894690638e-07, 2.8913705208347567e-06, 6.889758346916825e-05, 0.0033691164782556943,
                       0.8044904110141088))
_I1E_A = tl.constexpr((2.7779141127610464e-18, -2.111421214358166e-17, 1.5536319577362005e-16, -1.1055969477353862e-15,
                       7.600684294735408e-15, -5.042185504727912e-14, 3.223793365945575e-13, -1.9839743977649436e-12,
                       1.1736186298890901e-11, -6.663489723502027e-11, 3.625590281552117e-10, -1.8872497517228294e-09,
                       9.381537386495773e-09, -4.445059128796328e-08, 2.0032947535521353e-07, -8.568720264695455e-07,
                       3.4702513081376785e-06, -1.3273163656039436e-05, 4.781565107550054e-05, -0.00016176081582589674,
                       0.0005122859561685758, -0.0015135724506312532, 0.004156422944312888, -0.010564084894626197,
                       0.024726449030626516, -0.05294598120809499, 0.1026436586898471, -0.17641651835783406,
                       0.25258718644363365))
_I1E_B = tl.constexpr((7.517296310842105e-18, 4.414348323071708e-18, -4.6503053684893586e-17, -3.209525921993424e-17,
                       2.96262899764595e-16, 3.3082023109209285e-16, -1.8803547755107825e-15, -3.8144030724370075e-15,
                       1.0420276984128802e-14, 4.272440016711951e-14, -2.1015418427726643e-14, -4.0835511110921974e-13,
                       -7.198551776245908e-13, 2.0356285441470896e-12, 1.4125807436613782e-11, 3.2526035830154884e-11,
                       -1.8974958123505413e-11, -5.589743462196584e-10, -3.835380385964237e-09, -2.6314688468895196e-08,
                       -2.512236237870209e-07, -3.882564808877691e-06, -0.00011058893876262371, -0.009761097491361469,
                       0.7785762350182801))
_K0_A = tl.constexpr((1.374465435613523e-16, 4.25981614279661e-14, 1.0349695257633842e-11, 1.904516377220209e-09,
                      2.5347910790261494e-07, 2.286212103119452e-05, 0.001264615411446926, 0.0359799365153615,
                      0.3442898999246285, -0.5353273932339028))
_K0_B = tl.constexpr((5.300433772686263e-18, -1.6475804301524212e-17, 5.2103915050390274e-17, -1.678231096805412e-16,
                      5.512055978524319e-16, -1.848593377343779e-15, 6.3400764774050706e-15, -2.2275133269916698e-14,
                      8.032890775363575e-14, -2.9800969231727303e-13, 1.140340588208475e-12, -4.514597883373944e-12,
                      1.8559491149547177e-11, -7.957489244477107e-11, 3.577397281400301e-10, -1.69753450938906e-09,
                      8.574034017414225e-09, -4.660489897687948e-08, 2.766813639445015e-07, -1.8317555227191195e-06,
                      1.39498137188765e-05, -0.00012849549581627802, 0.0015698838857300533, -0.0314481013119645,
                      2.4403030820659555))
_K1_A = tl.constexpr((-7.023863479386288e-18, -2.427449850519366e-15, -6.666901694199329e-13, -1.4114883926335278e-10,
                      -2.213387630734726e-08, -2.4334061415659684e-06, -0.0001730288957513052, -0.006975723859639864,
                      -0.12261118082265715, -0.3531559607765449, 1.5253002273389478))
_K1_B = tl.constexpr((-5.756744483665017e-18, 1.7940508731475592e-17, -5.689462558442859e-17, 1.838093544366639e-16,
                      -6.057047248373319e-16, 2.038703165624334e-15, -7.019837090418314e-15, 2.4771544244813043e-14,
                      -8.976705182324994e-14, 3.3484196660784293e-13, -1.2891739609510289e-12, 5.13963967348173e-12,
                      -2.1299678384275683e-11, 9.218315187605006e-11, -4.1903547593418965e-10, 2.015049755197033e-09,
                      -1.0345762465678097e-08, 5.7410841254500495e-08, -3.5019606030878126e-07, 2.406484947837217e-06,
                      -1.936197974166083e-05, 0.00019521551847135162, -0.002857816859622779, 0.10392373657681724,
                      2.7206261904844427))
_J0_PP = (0.0007969367292973471, 0.08283523921074408, 1.239533716464143, 5.447250030587687, 8.74716500199817,
          5.303240382353949, 1.0)
_J0_PQ = (0.0009244088105588637, 0.08562884743544745, 1.2535274390105895, 5.470977403304171, 8.761908832370695,
          5.306052882353947, 1.0)
_J0_QP = (-0.011366383889846916, -1.2825271867050931, -19.553954425773597, -93.20601521237683, -177.68116798048806,
          -147.07750515495118, -51.41053267665993, -6.050143506007285)
_J0_QQ = (64.3178256118178, 856.4300259769806, 3882.4018360540163, 7240.467741956525, 5930.727011873169,
          2062.0933166032783, 242.0057402402914)
_J0_RP = (-4794432209.782018, 1956174919465.5657, -249248344360967.72, 9708622510473064.0)
_J0_RQ = (499.563147152651, 173785.4016763747, 48440965.83399621, 11185553704.535683, 2112775201154.892,
          310518229857422.56, 3.1812195594320496e+16, 1.7108629408104315e+18)
_J1_PP = (0.0007621256162081731, 0.07313970569409176, 1.1271960812968493, 5.112079511468076, 8.424045901417724,
          5.214515986823615, 1.0)
_J1_PQ = (0.0005713231280725487, 0.06884559087544954, 1.105142326340617, 5.073863861286015, 8.399855543276042,
          5.209828486823619, 1.0)
_J1_QP = (0.05108625947501766, 4.982138729512334, 75.82382841325453, 366.7796093601508, 710.8563049989261,
          597.4896124006136, 211.68875710057213, 25.207020585802372)
_J1_QQ = (74.23732770356752, 1056.4488603826283, 4986.410583376536, 9562.318924047562, 7997.041604473507,
          2826.1927851763908, 336.0936078106983)
_J1_RP = (-899971225.7055594, 452228297998.19403, -72749424522181.83, 3682957328638529.0)
_J1_RQ = (620.8364781180543, 256987.25675774884, 83514679.14319493, 22151159547.97925, 4749141220799.914,
          784369607876235.9, 8.952223361846274e+16, 5.322786203326801e+18)
_Y0_YP = (15592.436785523574, -14663929.59039716, 5435264770.518765, -982136065717.9115, 87590639439536.7,
          -3466283033847297.0, 4.4273326857256984e+16, -1.8495080043698668e+16)
_Y0_YQ = (1041.2835366425984, 626107.330137135, 268919633.39381415, 86400248710.3935, 20297961275010.555,
          3171577528429750.5, 2.5059625617265306e+17)
_Y1_YP = (1263204747.9017804, -647355876379.1603, 114509511541823.73, -8127702555013251.0, 2.024394757135949e+17,
          -7.788771962659501e+17)
_Y1_YQ = (594.3015923461282, 235564.09294306856, 73481194.44597217, 18760131610.870617, 3882312774962.3857,
          620557727146953.8, 6.871410873553005e+16, 3.9727060811656064e+18)
