"""``torch.special.airy_ai``: the Airy function Ai, as PyTorch's ``ATen/native/Math.h``
(``airy_ai_forward``, Cephes' ``airy``) computes it.

Three forms, split where Cephes splits them (with zeta = 2/3 |x|^(3/2)):

* x < -2.09: the oscillatory asymptotic form, ``pi^(-1/2) |x|^(-1/4) (sin(t) (1 + z^2 F(z^2)) -
  cos(t) z G(z^2))`` with t = zeta + pi/4, z = 1/zeta and F, G Cephes' rational functions;
* x >= 2.09: the exponential one, ``pi^(-1/2) R(1/zeta) / (2 x^(1/4) exp(zeta))``, 0 past x = 103.892
  (where float64's exp(zeta) overflows; float32's already has past x = 26);
* in between, the Maclaurin series ``c1 f(x) - c2 g(x)``, 14 terms of each (PyTorch sums until a term
  falls below machine epsilon: at most 12 here; the kernel's loop must be static).

PyTorch's special values are kept: ``airy_ai(+-inf)`` is NaN (its ``isinf`` test comes first), NaN
stays NaN. Integers promote to the default float dtype; float16 and bfloat16 are refused, as
PyTorch's float/double-only kernels refuse them. No gradient, as in PyTorch.

One departure, for accuracy (as ``bessel.py``'s): F's and G's denominators are Cephes' monic
polynomials (p1evl), where PyTorch 2.13's port drops their leading 1; its airy_ai is up to 3e-6 off
just below x = -2.09 (and 7e-7 at the first zero, -2.3381), these within 1e-15 of Ai.
"""
import math

import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .elementwise import HEAVY
from .special_fns import _horner, _np_horner, _special, _INF
from .unary import _c, _div

PUBLIC = {}
METHODS = {}

_C1 = tl.constexpr(0.355028053887817239260)     # Ai(0)
_C2 = tl.constexpr(0.258819403792806798405)     # -Ai'(0)
_RSQRT_PI = tl.constexpr(5.64189583547756286948e-01)
_PI_4 = tl.constexpr(math.pi / 4)
_TERMS = tl.constexpr(14)
# the series' step factors: f's k-th term is f's (k-1)-th times x^3 / ((3k-1) 3k), g's times x^3 / (3k (3k+1))
_FSTEP = tl.constexpr(tuple(1.0 / ((3 * k - 1) * (3 * k)) for k in range(1, _TERMS.value + 1)))
_GSTEP = tl.constexpr(tuple(1.0 / ((3 * k) * (3 * k + 1)) for k in range(1, _TERMS.value + 1)))


# ---------------------------------------------------------------------------- the kernel
@triton.jit
def _airy_ai(x, p0, p1):
    a = tl.abs(x)
    s = libdevice.sqrt(a)
    zeta = _div(2.0 * a * s, _c(x, 3.0))            # PyTorch's -2 x sqrt(-x) / 3, 2 x sqrt(x) / 3
    z = _div(_c(x, 1.0), zeta)
    amp = _div(_c(x, _RSQRT_PI), libdevice.sqrt(s))
    # x < -2.09: oscillatory
    zz = z * z
    t = zeta + _c(x, _PI_4)
    f_ = _div(zz * _horner(zz, _AFN, 9), _horner(zz, _AFD, 10))
    g_ = _div(z * _horner(zz, _AGN, 11), _horner(zz, _AGD, 11))
    osc = amp * (libdevice.sin(t) * (1.0 + f_) - libdevice.cos(t) * g_)
    # x >= 2.09: exponentially small
    r = _div(_horner(z, _AN, 8), _horner(z, _AD, 8))
    dec = _div(_c(x, _RSQRT_PI) * r, 2.0 * libdevice.sqrt(s) * libdevice.exp(zeta))
    # -2.09 <= x < 2.09: Ai = c1 f - c2 g, f = sum 3^k (1/3)_k x^3k / (3k)!, g = sum 3^k (2/3)_k x^(3k+1) / (3k+1)!
    neg = x < _c(x, -2.09)
    pos = x >= _c(x, 2.09)
    xs = tl.where(neg | pos, 0.0, x)                # (the other lanes' x^3 may overflow: keep them finite; NaN stays)
    x3 = xs * xs * xs
    m = tl.full(x.shape, 1.0, x.dtype)
    n = xs
    f = m
    g = n
    for k in tl.static_range(_TERMS):
        m = m * x3 * _c(x, _FSTEP[k])
        n = n * x3 * _c(x, _GSTEP[k])
        f += m
        g += n
    series = _c(x, _C1) * f - _c(x, _C2) * g
    y = tl.where(neg, osc, tl.where(pos, dec, series))
    y = tl.where(x > _c(x, 103.892), 0.0, y)
    return tl.where(a == float("inf"), float("nan"), y)


# ---------------------------------------------------------------------------- the float64 fallback
def _np_airy_ai(x):
    a = np.abs(x)
    s = np.sqrt(a)
    zeta = 2 * a * s / 3
    z = 1 / zeta
    zz = z * z
    amp = _RSQRT_PI.value / np.sqrt(s)
    t = zeta + math.pi / 4
    osc = amp * (np.sin(t) * (1 + zz * _np_horner(zz, _AFN.value) / _np_horner(zz, _AFD.value)) -
                 np.cos(t) * (z * _np_horner(zz, _AGN.value) / _np_horner(zz, _AGD.value)))
    dec = _RSQRT_PI.value * (_np_horner(z, _AN.value) / _np_horner(z, _AD.value)) / (2 * np.sqrt(s) * np.exp(zeta))
    xs = np.where((x < -2.09) | (x >= 2.09), 0.0, x)
    x3 = xs * xs * xs
    m, n = np.ones_like(xs), xs
    f, g = m, n
    for fs, gs in zip(_FSTEP.value, _GSTEP.value):
        m, n = m * x3 * fs, n * x3 * gs
        f, g = f + m, g + n
    y = np.where(x < -2.09, osc, np.where(x >= 2.09, dec, _C1.value * f - _C2.value * g))
    y = np.where(x > 103.892, 0.0, y)
    return np.where(np.isinf(x), np.nan, y)


# ---------------------------------------------------------------------------- the op
airy_ai = _special("special_airy_ai", _airy_ai, _np_airy_ai, half=False, domain=(-6.0, 4.0),
                   extra=[_INF + [-2.09, -2.0899999, 2.09, 2.0899999, -2.338107410459767, 8.3203353, 25.77, 26.5,
                                  103.0, 103.892, 104.0, -30.0, -200.0, 1e-20, -1e-20]])
HEAVY[_airy_ai] = (256, 8)      # (float64 spilled at 8, 4 and 2 values a thread on sm_90 (2: Triton 3.6, 4 B))
airy_ai.__doc__ = """``torch.special.airy_ai(input)``: the Airy function Ai, elementwise (no gradient, as in PyTorch).

    Example::

        >>> ttorch.special.airy_ai(ttorch.tensor([-2.0, 0.0, 1.0, 3.0]))
        tensor([0.2274, 0.3550, 0.1353, 0.0066])
    """


# ---------------------------------------------------------------------------- coefficients
# Cephes' tables as PyTorch's ATen/native/Math.h holds them (3-clause BSD; see PyTorch's NOTICE), highest
# power first. AN/AD: x >= 2.09 in 1/zeta; AFN/AFD, AGN/AGD: x < -2.09 in 1/zeta^2, AFD and AGD with the
# leading 1 of Cephes' p1evl.
_AN = tl.constexpr((3.46538101525629032477e-01, 1.20075952739645805542e+01, 7.62796053615234516538e+01,
                    1.68089224934630576269e+02, 1.59756391350164413639e+02, 7.05360906840444183113e+01,
                    1.40264691163389668864e+01, 9.99999999999999995305e-01))
_AD = tl.constexpr((5.67594532638770212846e-01, 1.47562562584847203173e+01, 8.45138970141474626562e+01,
                    1.77318088145400459522e+02, 1.64234692871529701831e+02, 7.14778400825575695274e+01,
                    1.40959135607834029598e+01, 1.00000000000000000470e+00))
_AFN = tl.constexpr((-1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
                     -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
                     -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08))
_AFD = tl.constexpr((1.0, 1.33560420706553243746e+01, 3.26825032795224613948e+01, 2.67367040941499554804e+01,
                     9.18707402907259625840e+00, 1.47529146771666414581e+00, 1.15687173795188044134e-01,
                     4.40291641615211203805e-03, 7.54720348287414296618e-05, 4.51850092970580378464e-07))
_AGN = tl.constexpr((1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e+00,
                     9.39169229816650230044e-01, 3.51465656105547619242e-01, 6.33888919628925490927e-02,
                     5.85804113048388458567e-03, 2.82851600836737019778e-04, 6.98793669997260967291e-06,
                     8.11789239554389293311e-08, 3.41551784765923618484e-10))
_AGD = tl.constexpr((1.0, 9.30892908077441974853e+00, 1.98352928718312140417e+01, 1.55646628932864612953e+01,
                     5.47686069422975497931e+00, 9.54293611618961883998e-01, 8.64580826352392193095e-02,
                     4.12656523824222607191e-03, 1.01259085116509135510e-04, 1.17166733214413521882e-06,
                     4.91834570062930015649e-09))
