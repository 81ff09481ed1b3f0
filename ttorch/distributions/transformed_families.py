"""Families that PyTorch builds as ``TransformedDistribution``s of simpler ones: ``HalfNormal``
and ``HalfCauchy`` (``|X|``), ``Pareto`` (``scale * exp(Exponential)``), ``Weibull`` (a power of
an exponential), ``Kumaraswamy`` (powers of a uniform), ``InverseGamma`` (``1 / Gamma``) and
``LogisticNormal`` (a normal vector broken onto the simplex). Their ``log_prob``, ``cdf`` and
samples come from the transforms; moments and entropies are closed forms."""
import math

import ttorch
from . import constraints
from .gamma import Gamma
from .transformed import TransformedDistribution
from .transforms import AbsTransform, AffineTransform, ExpTransform, PowerTransform, StickBreakingTransform
from .univariate import Cauchy, Exponential, Normal, Uniform
from .utils import broadcast_all, euler_constant

__all__ = ["HalfNormal", "HalfCauchy", "Pareto", "Weibull", "Kumaraswamy", "InverseGamma", "LogisticNormal"]


class _HalfMixin:
    """``|X|`` of a distribution symmetric about 0: the density doubles on ``[0, inf)``."""

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return ttorch.zeros_like(self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = ttorch.as_tensor(value, dtype=self.scale.dtype, device=self.scale.device)
        return ttorch.where(value >= 0, self.base_dist.log_prob(value) + math.log(2), -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_HalfMixin, TransformedDistribution):
    """``|X|`` with ``X ~ Normal(0, scale)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import HalfNormal
        >>> m = HalfNormal(ttorch.tensor([2.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.mean.item(), 4))
        -1.0439 1.5958
    """
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        base_dist = Normal(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(HalfNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_HalfMixin, TransformedDistribution):
    """``|X|`` with ``X ~ Cauchy(0, scale)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import HalfCauchy
        >>> m = HalfCauchy(ttorch.tensor([1.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.icdf(ttorch.tensor([0.5])).item(), 4))
        -1.1447 1.0
    """
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        base_dist = Cauchy(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(HalfCauchy, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return ttorch.full(self._extended_shape(), math.inf, dtype=self.scale.dtype, device=self.scale.device)

    @property
    def variance(self):
        return self.base_dist.variance


class Pareto(TransformedDistribution):
    """A Pareto type I distribution: ``scale * exp(E)`` with ``E ~ Exponential(alpha)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Pareto
        >>> m = Pareto(ttorch.tensor([1.0]), ttorch.tensor([3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([2.0])).item(), 4), round(m.mean.item(), 4))
        -1.674 1.5
    """
    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base_dist = Exponential(self.alpha, validate_args=validate_args)
        transforms = [ExpTransform(), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Pareto, _instance)
        new.scale = self.scale.expand(tuple(batch_shape))
        new.alpha = self.alpha.expand(tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)              # inf for alpha <= 1
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)              # inf for alpha <= 2
        return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())


class Weibull(TransformedDistribution):
    """A two-parameter Weibull distribution: ``scale * E ** (1 / concentration)``, ``E ~ Exponential(1)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Weibull
        >>> m = Weibull(ttorch.tensor([1.0]), ttorch.tensor([2.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.mean.item(), 4))
        -0.3069 0.8862
    """
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base_dist = Exponential(ttorch.ones_like(self.scale), validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration_reciprocal), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Weibull, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.concentration_reciprocal = new.concentration.reciprocal()
        base_dist = self.base_dist.expand(batch_shape)
        transforms = [PowerTransform(exponent=new.concentration_reciprocal), AffineTransform(loc=0, scale=new.scale)]
        super(Weibull, new).__init__(base_dist, transforms, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.scale * ttorch.exp(ttorch.lgamma(1 + self.concentration_reciprocal))

    @property
    def mode(self):
        return self.scale * ((self.concentration - 1) / self.concentration) ** self.concentration.reciprocal()

    @property
    def variance(self):
        return self.scale.pow(2) * (ttorch.exp(ttorch.lgamma(1 + 2 * self.concentration_reciprocal))
                                    - ttorch.exp(2 * ttorch.lgamma(1 + self.concentration_reciprocal)))

    def entropy(self):
        return (euler_constant * (1 - self.concentration_reciprocal)
                + ttorch.log(self.scale * self.concentration_reciprocal) + 1)


def _kumaraswamy_moment(a, b, n):
    """The ``n``-th raw moment ``b B(1 + n / a, b)``."""
    arg1 = 1 + n / a
    return b * ttorch.exp(ttorch.lgamma(arg1) + ttorch.lgamma(b) - ttorch.lgamma(arg1 + b))


class Kumaraswamy(TransformedDistribution):
    """A Kumaraswamy distribution on ``(0, 1)``: ``(1 - U ** (1 / b)) ** (1 / a)``, ``U ~ Uniform(0, 1)``,
    with ``a = concentration1`` and ``b = concentration0``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Kumaraswamy
        >>> m = Kumaraswamy(ttorch.tensor([2.0]), ttorch.tensor([3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([0.5])).item(), 4), round(m.mean.item(), 4))
        0.5232 0.4571
    """
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(ttorch.full_like(self.concentration0, 0), ttorch.full_like(self.concentration0, 1),
                            validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()), AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Kumaraswamy, _instance)
        new.concentration1 = self.concentration1.expand(tuple(batch_shape))
        new.concentration0 = self.concentration0.expand(tuple(batch_shape))
        return super().expand(batch_shape, _instance=new)

    @property
    def mean(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        log_mode = (self.concentration0.reciprocal() * (-self.concentration0).log1p()
                    - (-self.concentration0 * self.concentration1).log1p())
        log_mode = ttorch.where((self.concentration0 < 1) | (self.concentration1 < 1), math.nan, log_mode)
        return log_mode.exp()

    @property
    def variance(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 2) - ttorch.pow(self.mean, 2)

    def entropy(self):
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        h0 = ttorch.digamma(self.concentration0 + 1) + euler_constant      # harmonic number H(b)
        return t0 + t1 * h0 - ttorch.log(self.concentration1) - ttorch.log(self.concentration0)


class InverseGamma(TransformedDistribution):
    """``1 / X`` with ``X ~ Gamma(concentration, rate)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import InverseGamma
        >>> m = InverseGamma(ttorch.tensor([3.0]), ttorch.tensor([2.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.mean.item(), 4))
        -0.6137 1.0
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base_dist = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -base_dist.rate.new_ones(())
        super().__init__(base_dist, PowerTransform(neg_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(InverseGamma, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        return ttorch.where(self.concentration > 1, self.rate / (self.concentration - 1), math.inf)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        result = self.rate.square() / ((self.concentration - 1).square() * (self.concentration - 2))
        return ttorch.where(self.concentration > 2, result, math.inf)

    def entropy(self):
        return (self.concentration + self.rate.log() + self.concentration.lgamma()
                - (1 + self.concentration) * self.concentration.digamma())


class LogisticNormal(TransformedDistribution):
    """A normal vector of length ``K - 1`` mapped onto the ``K``-simplex by ``StickBreakingTransform``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import LogisticNormal
        >>> m = LogisticNormal(ttorch.zeros(2), ttorch.ones(2))
        >>> m.event_shape
        ttorch.Size([3])
        >>> print(round(m.log_prob(ttorch.tensor([0.2, 0.3, 0.5])).item(), 4))
        1.298
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LogisticNormal, _instance)
        return super().expand(batch_shape, _instance=new)

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale
