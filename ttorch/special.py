"""``ttorch.special``: PyTorch's ``torch.special`` names for the functions ttorch computes (each is
the top-level function of the same meaning; ``ndtr`` and ``ndtri`` are composed of ``erfc`` and
``erfinv``). Where it differs from PyTorch: the Bessel, zeta, gamma-ratio and other functions it
has no kernels for are absent."""
import math

from . import ops as _ops

_F = _ops.FUNCTIONS
erf, erfc, erfinv = _F["erf"], _F["erfc"], _F["erfinv"]
expit, expm1, exp2, log1p = _F["sigmoid"], _F["expm1"], _F["exp2"], _F["log1p"]
gammaln, digamma, psi, polygamma = _F["lgamma"], _F["digamma"], _F["digamma"], _F["polygamma"]
xlogy, logsumexp, round = _F["xlogy"], _F["logsumexp"], _F["round"]
logit, sinc = _F["logit"], _F["sinc"]


def softmax(input, dim, *, dtype=None):
    """``nn.functional.softmax`` (``dim`` required)."""
    return _F["softmax"](input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """``nn.functional.log_softmax`` (``dim`` required)."""
    return _F["log_softmax"](input, dim, dtype=dtype)


def ndtr(input):
    """The standard normal distribution function, ``erfc(-x / sqrt(2)) / 2``."""
    return erfc(input * (-1 / math.sqrt(2))) * 0.5


def ndtri(input):
    """The inverse of ``ndtr``: ``sqrt(2) * erfinv(2 p - 1)``."""
    return erfinv(input * 2 - 1) * math.sqrt(2)


__all__ = ["digamma", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "log1p", "log_softmax",
           "logit", "logsumexp", "ndtr", "ndtri", "polygamma", "psi", "round", "sinc", "softmax", "xlogy"]
