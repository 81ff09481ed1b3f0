"""``FisherSnedecor`` (the F distribution, a ratio of scaled chi-squares) and ``GeneralizedPareto``
(the peaks-over-threshold family; its ``concentration`` may be any real, 0 is the exponential)."""
import math

import ttorch
from . import constraints
from .distribution import Distribution
from .gamma import Gamma, _clamp_values
from .utils import broadcast_all, _is_number

__all__ = ["FisherSnedecor", "GeneralizedPareto"]


class FisherSnedecor(Distribution):
    """A Fisher-Snedecor (F) distribution with ``df1`` and ``df2`` degrees of freedom:
    ``(X1 / df1) / (X2 / df2)`` for chi-squares ``X1``, ``X2``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import FisherSnedecor
        >>> m = FisherSnedecor(ttorch.tensor([3.0]), ttorch.tensor([5.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.mean.item(), 4))
        -1.0184 1.6667
    """
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        batch_shape = ttorch.Size() if _is_number(df1) and _is_number(df2) else self.df1.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(FisherSnedecor, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.df1 = self.df1.expand(batch_shape)
        new.df2 = self.df2.expand(batch_shape)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        super(FisherSnedecor, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = ttorch.where(self.df2 <= 2, math.nan, self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return ttorch.where(self.df1 <= 2, math.nan, mode)

    @property
    def variance(self):
        df2 = ttorch.where(self.df2 <= 4, math.nan, self.df2)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = self._gamma2.rsample(sample_shape).reshape(shape)
        tiny = ttorch.finfo(x2.dtype).tiny
        return _clamp_values(x1 / _clamp_values(x2, min=tiny), min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ct1, ct2, ct3 = self.df1 * 0.5, self.df2 * 0.5, self.df1 / self.df2
        t1 = (ct1 + ct2).lgamma() - ct1.lgamma() - ct2.lgamma()
        t2 = ct1 * ct3.log() + (ct1 - 1) * ttorch.log(value)
        t3 = (ct1 + ct2) * ttorch.log1p(ct3 * value)
        return t1 + t2 - t3


class GeneralizedPareto(Distribution):
    """A generalized Pareto distribution with ``loc``, ``scale`` and ``concentration`` (xi): the
    survival function ``(1 + xi z) ** (-1 / xi)``, ``z = (x - loc) / scale`` (``exp(-z)`` at xi = 0).
    The support is ``[loc, inf)`` for xi >= 0 and ``[loc, loc - scale / xi]`` for xi < 0.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import GeneralizedPareto
        >>> m = GeneralizedPareto(0.0, 1.0, ttorch.tensor([0.5]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.cdf(ttorch.tensor([1.0])).item(), 4))
        -1.2164 0.5556
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        numbers = _is_number(loc) and _is_number(scale) and _is_number(concentration)
        super().__init__(ttorch.Size() if numbers else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(GeneralizedPareto, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        return self.icdf(ttorch.rand(shape, dtype=self.loc.dtype, device=self.loc.device))

    def _safe_concentration(self):
        # xi = 0 (to isclose's tolerance) takes the exponential limit; 1 stands in on that branch
        eq_zero = ttorch.isclose(self.concentration, ttorch.zeros_like(self.concentration))
        return eq_zero, ttorch.where(eq_zero, ttorch.ones_like(self.concentration), self.concentration)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        eq_zero, safe_conc = self._safe_concentration()
        y = 1 / safe_conc + ttorch.ones_like(z)
        where_nonzero = ttorch.where(y == 0, y, y * ttorch.log1p(safe_conc * z))
        return -self.scale.log() - ttorch.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        eq_zero, safe_conc = self._safe_concentration()
        return ttorch.where(eq_zero, -z, -ttorch.log1p(safe_conc * z) / safe_conc)

    def log_cdf(self, value):
        return ttorch.log1p(-ttorch.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return ttorch.exp(self.log_cdf(value))

    def icdf(self, value):
        eq_zero, safe_conc = self._safe_concentration()
        logu = ttorch.log1p(-value)
        where_nonzero = self.loc + self.scale / safe_conc * ttorch.expm1(-safe_conc * logu)
        return ttorch.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe_conc = ttorch.where(valid, self.concentration, 0.5)
        return ttorch.where(valid, self.loc + self.scale / (1 - safe_conc), math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe_conc = ttorch.where(valid, self.concentration, 0.25)
        return ttorch.where(valid, self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc)), math.nan)

    def entropy(self):
        return ttorch.broadcast_to(ttorch.log(self.scale) + self.concentration + 1, self._batch_shape)

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = ttorch.where(self.concentration < 0, lower - self.scale / self.concentration, math.inf)
        return constraints.interval(lower, upper)
