"""``ttorch.special``: PyTorch's ``torch.special`` names. Most are the top-level function of the same meaning
(``gammaln`` is ``lgamma``, ``gammainc`` is ``igamma``); ``ndtr``, ``ndtri`` and ``multigammaln`` are composed
of ``erfc``, ``erfinv`` and ``lgamma``; the Bessel functions (``ops/bessel.py``), ``entr``, ``erfcx``,
``log_ndtr``, ``xlog1py`` (``ops/special_fns.py``), ``zeta`` (``ops/zeta.py``) and the incomplete gamma
functions (``ops/incomplete_gamma.py``) are ops of their own. As in PyTorch, ``bessel_*``,
``modified_bessel_*``, ``scaled_modified_bessel_*`` and ``spherical_bessel_j0`` have no gradient, and
``zeta``, ``gammainc`` and ``gammaincc`` have one for their second argument only. The orthogonal polynomials
(``chebyshev_polynomial_t/u/v/w``, their shifted forms, ``hermite_polynomial_h/he``, ``laguerre_polynomial_l``,
``legendre_polynomial_p``, ``ops/polynomials.py``) have no gradient, as in PyTorch; nor has ``airy_ai``
(``ops/airy.py``)."""
import math

from . import ops as _ops
from .ops import airy as _airy, bessel as _bs, incomplete_gamma as _ig, polynomials as _poly, special_fns as _sf
from .ops import zeta as _zeta_mod

_F = _ops.FUNCTIONS
erf, erfc, erfinv = _F["erf"], _F["erfc"], _F["erfinv"]
expit, expm1, exp2, log1p = _F["sigmoid"], _F["expm1"], _F["exp2"], _F["log1p"]
gammaln, digamma, psi, polygamma = _F["lgamma"], _F["digamma"], _F["digamma"], _F["polygamma"]
xlogy, logsumexp, round = _F["xlogy"], _F["logsumexp"], _F["round"]
logit, sinc = _F["logit"], _F["sinc"]
i0, i0e, i1, i1e = _bs.i0, _bs.i0e, _bs.i1, _bs.i1e
entr, erfcx, log_ndtr, xlog1py, zeta = _sf.entr, _sf.erfcx, _sf.log_ndtr, _sf.xlog1py, _zeta_mod.zeta
bessel_j0, bessel_j1, bessel_y0, bessel_y1 = _bs.bessel_j0, _bs.bessel_j1, _bs.bessel_y0, _bs.bessel_y1
modified_bessel_i0, modified_bessel_i1 = _bs.modified_bessel_i0, _bs.modified_bessel_i1
modified_bessel_k0, modified_bessel_k1 = _bs.modified_bessel_k0, _bs.modified_bessel_k1
scaled_modified_bessel_k0, scaled_modified_bessel_k1 = _bs.scaled_modified_bessel_k0, _bs.scaled_modified_bessel_k1
spherical_bessel_j0 = _bs.spherical_bessel_j0
chebyshev_polynomial_t, chebyshev_polynomial_u = _poly.chebyshev_polynomial_t, _poly.chebyshev_polynomial_u
chebyshev_polynomial_v, chebyshev_polynomial_w = _poly.chebyshev_polynomial_v, _poly.chebyshev_polynomial_w
shifted_chebyshev_polynomial_t = _poly.shifted_chebyshev_polynomial_t
shifted_chebyshev_polynomial_u = _poly.shifted_chebyshev_polynomial_u
shifted_chebyshev_polynomial_v = _poly.shifted_chebyshev_polynomial_v
shifted_chebyshev_polynomial_w = _poly.shifted_chebyshev_polynomial_w
hermite_polynomial_h, hermite_polynomial_he = _poly.hermite_polynomial_h, _poly.hermite_polynomial_he
laguerre_polynomial_l, legendre_polynomial_p = _poly.laguerre_polynomial_l, _poly.legendre_polynomial_p
airy_ai = _airy.airy_ai


def softmax(input, dim, *, dtype=None):
    """``nn.functional.softmax`` (``dim`` required)."""
    return _F["softmax"](input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """``nn.functional.log_softmax`` (``dim`` required)."""
    return _F["log_softmax"](input, dim, dtype=dtype)


def ndtr(input, *, out=None):
    """The standard normal distribution function, ``erfc(-x / sqrt(2)) / 2``."""
    r = erfc(input * (-1 / math.sqrt(2))) * 0.5
    return r if out is None else _ops._op.write_out(out, r, "special_ndtr")


def ndtri(input, *, out=None):
    """The inverse of ``ndtr``: ``sqrt(2) * erfinv(2 p - 1)``."""
    r = erfinv(input * 2 - 1) * math.sqrt(2)
    return r if out is None else _ops._op.write_out(out, r, "special_ndtri")


def gammainc(input, other, *, out=None):
    """The regularized lower incomplete gamma function P(input, other) (``ttorch.igamma``).

    Example::

        >>> ttorch.special.gammainc(ttorch.tensor([0.5, 2.0]), ttorch.tensor([1.0, 3.0]))
        tensor([0.8427, 0.8009])
    """
    _ig._tensors("special_gammainc", input, other)
    return _ig.igamma(input, other, out=out)


def gammaincc(input, other, *, out=None):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P (``ttorch.igammac``)."""
    _ig._tensors("special_gammaincc", input, other)
    return _ig.igammac(input, other, out=out)


def multigammaln(input, p, *, out=None):
    """The multivariate log-gamma function of dimension ``p`` (``ttorch.mvlgamma``)."""
    return _sf.mvlgamma(input, p, out=out)


__all__ = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv",
           "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p",
           "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
           "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "sinc", "softmax", "spherical_bessel_j0",
           "xlog1py", "xlogy", "zeta", "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
           "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p", "airy_ai"]
