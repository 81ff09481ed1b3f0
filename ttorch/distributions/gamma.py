"""The gamma family and what is built on gamma samples: ``Gamma``, ``Chi2``, ``Dirichlet``,
``Beta`` and ``StudentT``. Samples come from ``samplers.standard_gamma`` (Marsaglia-Tsang), whose
reparameterized gradient is the implicit one, so all five have ``rsample``."""
import math

import ttorch
from . import constraints
from .distribution import ExponentialFamily, Distribution
from .samplers import standard_gamma
from .utils import _standard_normal, broadcast_all, _is_number

__all__ = ["Gamma", "Chi2", "Dirichlet", "Beta", "StudentT"]


def _clamp_values(x, min=None, max=None):
    """Clamp the values of ``x`` but not its gradient (PyTorch clamps in place, outside autograd):
    an underflowed sample keeps its reparameterized gradient."""
    return x + (x.detach().clamp(min=min, max=max) - x.detach())


class Gamma(ExponentialFamily):
    """A gamma distribution with shape ``concentration`` and ``rate`` (= 1 / scale).

    Args:
        concentration (float or Tensor): shape (alpha).
        rate (float or Tensor): rate (beta).

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Gamma
        >>> m = Gamma(ttorch.tensor([2.0]), ttorch.tensor([3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([0.5])).item(), 4), round(m.cdf(ttorch.tensor([0.5])).item(), 4))
        0.0041 0.4422
        >>> c = ttorch.tensor([2.0], requires_grad=True)
        >>> Gamma(c, 1.0).rsample((3,)).sum().backward()       # implicit reparameterization
        >>> bool(c.grad > 0)
        True
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        batch_shape = ttorch.Size() if _is_number(concentration) and _is_number(rate) else self.concentration.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        value = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return _clamp_values(value, min=ttorch.finfo(value.dtype).tiny)

    def log_prob(self, value):
        value = ttorch.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (ttorch.xlogy(self.concentration, self.rate) + ttorch.xlogy(self.concentration - 1, value)
                - self.rate * value - ttorch.lgamma(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ttorch.special.gammainc(self.concentration, self.rate * value)

    def entropy(self):
        return (self.concentration - ttorch.log(self.rate) + ttorch.lgamma(self.concentration)
                + (1.0 - self.concentration) * ttorch.digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return ttorch.lgamma(x + 1) + (x + 1) * ttorch.log(-y.reciprocal())


class Chi2(Gamma):
    """A chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Chi2
        >>> m = Chi2(ttorch.tensor([3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([2.0])).item(), 4), m.mean.item())
        -1.5724 3.0
    """
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2


class Dirichlet(ExponentialFamily):
    """A Dirichlet distribution with ``concentration`` (last dim: the categories).

    ``rsample`` normalises standard gamma samples; its gradient is the chain rule through that
    normalisation of the gammas' implicit gradients (PyTorch uses a dedicated formula; both are
    unbiased reparameterization gradients, their per-sample values differ).

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Dirichlet
        >>> m = Dirichlet(ttorch.tensor([1.0, 2.0, 3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([0.2, 0.3, 0.5])).item(), 4), round(m.entropy().item(), 4))
        1.5041 -1.2443
    """
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        g = standard_gamma(self.concentration.expand(shape))
        x = g / g.sum(-1, True)
        return _clamp_values(x, min=ttorch.finfo(x.dtype).tiny, max=1 - ttorch.finfo(x.dtype).eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (ttorch.xlogy(self.concentration - 1.0, value).sum(-1) + ttorch.lgamma(self.concentration.sum(-1))
                - ttorch.lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self):
        cm1 = (self.concentration - 1).clamp(min=0.0)
        mode = cm1 / cm1.sum(-1, True)
        # all concentrations below 1: the mode is the vertex of the largest one
        vertex = ttorch.nn.functional.one_hot(self.concentration.argmax(dim=-1), cm1.shape[-1]).to(mode.dtype)
        return ttorch.where((self.concentration < 1).all(dim=-1, keepdim=True), vertex, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        k = self.concentration.size(-1)
        a0 = self.concentration.sum(-1)
        return (ttorch.lgamma(self.concentration).sum(-1) - ttorch.lgamma(a0) - (k - a0) * ttorch.digamma(a0)
                - ((self.concentration - 1.0) * ttorch.digamma(self.concentration)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - ttorch.lgamma(x.sum(-1))


class Beta(ExponentialFamily):
    """A beta distribution with ``concentration1`` (alpha) and ``concentration0`` (beta): a
    two-category ``Dirichlet``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Beta
        >>> m = Beta(ttorch.tensor([2.0]), ttorch.tensor([3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([0.3])).item(), 4), round(m.mean.item(), 4))
        0.5676 0.4
    """
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        if _is_number(concentration1) and _is_number(concentration0):
            c1c0 = ttorch.tensor([float(concentration1), float(concentration0)])
        else:
            concentration1, concentration0 = broadcast_all(concentration1, concentration0)
            c1c0 = ttorch.stack([concentration1, concentration0], -1)
        self._dirichlet = Dirichlet(c1c0, validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new._dirichlet = self._dirichlet.expand(batch_shape)
        super(Beta, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(ttorch.stack([value, 1.0 - value], -1))

    def entropy(self):
        return self._dirichlet.entropy()

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return ttorch.lgamma(x) + ttorch.lgamma(y) - ttorch.lgamma(x + y)


class StudentT(Distribution):
    """A Student's t-distribution with ``df`` degrees of freedom, location ``loc`` and scale ``scale``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import StudentT
        >>> m = StudentT(ttorch.tensor([3.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.variance.item(), 4))
        -1.5763 3.0
    """
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.df, new.loc, new.scale = (t.expand(batch_shape) for t in (self.df, self.loc, self.scale))
        new._chi2 = self._chi2.expand(batch_shape)
        super(StudentT, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return ttorch.where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        var = self.scale.pow(2) * self.df / (self.df - 2).clamp(min=1e-30)
        var = ttorch.where(self.df > 2, var, math.inf)
        return ttorch.where(self.df <= 1, math.nan, var)

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        x = _standard_normal(shape, dtype=self.df.dtype, device=self.df.device)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * (x * ttorch.rsqrt(z / self.df))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        z = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + ttorch.lgamma(0.5 * self.df)
             - ttorch.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * ttorch.log1p(y ** 2.0 / self.df) - z

    def entropy(self):
        lbeta = ttorch.lgamma(0.5 * self.df) + math.lgamma(0.5) - ttorch.lgamma(0.5 * (self.df + 1))
        return (self.scale.log() + 0.5 * (self.df + 1) * (ttorch.digamma(0.5 * (self.df + 1))
                - ttorch.digamma(0.5 * self.df)) + 0.5 * self.df.log() + lbeta)
