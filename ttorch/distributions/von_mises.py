"""``VonMises``, the circular normal distribution. ``log I0`` and ``log I1`` are PyTorch's
polynomial approximations (Abramowitz and Stegun 9.8.1-4, relative error below 2e-7), kept so
values agree with PyTorch's to rounding; samples come from Best and Fisher's (1979) rejection
sampler, run in float64 as vectorized rounds over the pending elements (``samplers._rejection``)."""
import math

import ttorch
from . import constraints
from .distribution import Distribution
from .samplers import _rand, _rejection
from .utils import broadcast_all, lazy_property

__all__ = ["VonMises"]

_I0_COEF_SMALL = [1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2]
_I0_COEF_LARGE = [0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2, -0.2057706e-1, 0.2635537e-1,
                  -0.1647633e-1, 0.392377e-2]
_I1_COEF_SMALL = [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2, 0.32411e-3]
_I1_COEF_LARGE = [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1, 0.2282967e-1, -0.2895312e-1,
                  0.1787654e-1, -0.420059e-2]
_COEF_SMALL = [_I0_COEF_SMALL, _I1_COEF_SMALL]
_COEF_LARGE = [_I0_COEF_LARGE, _I1_COEF_LARGE]


def _eval_poly(y, coef):
    result = coef[-1]
    for c in reversed(coef[:-1]):      # Horner
        result = c + y * result
    return result


def _log_modified_bessel_fn(x, order=0):
    """``log I_order(x)`` for ``x > 0`` and ``order`` 0 or 1."""
    if order not in (0, 1):
        raise AssertionError(f"order must be 0 or 1, got {order}")
    y = (x / 3.75) ** 2
    small = _eval_poly(y, _COEF_SMALL[order])
    if order == 1:
        small = x.abs() * small
    small = small.log()
    large = x - 0.5 * x.log() + _eval_poly(3.75 / x, _COEF_LARGE[order]).log()
    return ttorch.where(x < 3.75, small, large)


class VonMises(Distribution):
    """A von Mises distribution on the circle, with mean angle ``loc`` (radians) and ``concentration``.
    ``loc`` and values may be any real numbers, read modulo 2 pi; ``mean`` and ``variance`` are the
    circular ones. Samples lie in ``[-pi, pi)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import VonMises
        >>> m = VonMises(ttorch.tensor([1.0]), ttorch.tensor([2.0]))
        >>> print(round(m.log_prob(ttorch.tensor([0.5])).item(), 4), round(m.variance.item(), 4))
        -0.9067 0.3022
    """
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, ttorch.Size(), validate_args)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * ttorch.cos(value - self.loc) - math.log(2 * math.pi)
                - _log_modified_bessel_fn(self.concentration, order=0))

    @lazy_property
    def _loc(self):
        return self.loc.to(ttorch.float64)

    @lazy_property
    def _concentration(self):
        return self.concentration.to(ttorch.float64)

    @lazy_property
    def _proposal_r(self):
        kappa = self._concentration
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        return ttorch.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))

    def sample(self, sample_shape=ttorch.Size()):
        """Best and Fisher's wrapped-Cauchy envelope, in float64 (float32 hangs PyTorch's loop at
        concentrations near 1e-4)."""
        shape = self._extended_shape(sample_shape)
        with ttorch.no_grad():
            conc = self._concentration.detach().expand(shape).reshape(-1)
            r = self._proposal_r.detach().expand(shape).reshape(-1)

            def propose(conc, r):
                u1, u2, u3 = _rand(conc), _rand(conc), _rand(conc)
                z = ttorch.cos(math.pi * u1)
                f = (1 + r * z) / (r + z)
                c = conc * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                return (u3 - 0.5).sign() * f.clamp(-1.0, 1.0).acos(), accept
            x = _rejection([conc, r], propose).reshape(shape)
            x = (x + math.pi + self._loc.detach()) % (2 * math.pi) - math.pi
            return x.to(self.loc.dtype)

    def expand(self, batch_shape, _instance=None):
        validate_args = self.__dict__.get("_validate_args")
        batch_shape = tuple(batch_shape)
        return type(self)(self.loc.expand(batch_shape), self.concentration.expand(batch_shape),
                          validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        return 1 - (_log_modified_bessel_fn(self.concentration, order=1)
                    - _log_modified_bessel_fn(self.concentration, order=0)).exp()
