"""Location-scale and rate families with closed-form samplers: ``Normal``, ``Uniform``,
``Exponential``, ``Laplace``, ``Cauchy``. Each ``rsample`` transforms standard draws
(``ttorch.randn``/``ttorch.rand``) by the parameters, so gradients reach them."""
import math

import ttorch
from . import constraints
from .distribution import Distribution, ExponentialFamily
from .utils import _standard_normal, broadcast_all, _is_number

__all__ = ["Normal", "Uniform", "Exponential", "Laplace", "Cauchy"]


def _loc_scale_init(self, cls, loc, scale, validate_args):
    self.loc, self.scale = broadcast_all(loc, scale)
    batch_shape = ttorch.Size() if _is_number(loc) and _is_number(scale) else self.loc.size()
    super(cls, self).__init__(batch_shape, validate_args=validate_args)


def _expand_params(self, cls, names, batch_shape, _instance):
    new = self._get_checked_instance(cls, _instance)
    batch_shape = ttorch.Size(tuple(batch_shape))
    for name in names:
        setattr(new, name, getattr(self, name).expand(batch_shape))
    super(cls, new).__init__(batch_shape, validate_args=False)
    new._validate_args = self._validate_args
    return new


def _uniform(shape, like, low=0.0):
    """Uniform draws in ``[low, 1)`` of ``like``'s dtype and device."""
    u = ttorch.rand(shape, dtype=like.dtype, device=like.device)
    return u if low == 0.0 else low + u * (1.0 - low)


class Normal(ExponentialFamily):
    """A normal (Gaussian) distribution with mean ``loc`` and standard deviation ``scale``.

    Args:
        loc (float or Tensor): mean.
        scale (float or Tensor): standard deviation.
        validate_args (bool, optional): check the arguments (default: ``Distribution``'s).

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Normal
        >>> m = Normal(ttorch.tensor([0.0, 1.0]), ttorch.tensor([1.0, 2.0]))
        >>> m.sample((5,)).shape
        ttorch.Size([5, 2])
        >>> print([round(v, 4) for v in m.log_prob(ttorch.tensor([0.5, 0.5])).tolist()])
        [-1.0439, -1.6433]
        >>> print([round(v, 4) for v in m.cdf(ttorch.tensor([0.0, 3.0])).tolist()])
        [0.5, 0.8413]
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, loc, scale, validate_args=None):
        _loc_scale_init(self, Normal, loc, scale, validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Normal, ("loc", "scale"), batch_shape, _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def sample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        with ttorch.no_grad():
            return ttorch.normal(self.loc.expand(shape), self.scale.expand(shape))

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        eps = _standard_normal(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ttorch.erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value):
        return self.loc + self.scale * ttorch.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + ttorch.log(self.scale)

    @property
    def _natural_params(self):
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(2).reciprocal())

    def _log_normalizer(self, x, y):
        return -0.25 * x.pow(2) / y + 0.5 * ttorch.log(-math.pi / y)


class Uniform(Distribution):
    """A uniform distribution on the half-open interval ``[low, high)``.

    Args:
        low (float or Tensor): lower bound (inclusive).
        high (float or Tensor): upper bound (exclusive).

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Uniform
        >>> m = Uniform(ttorch.tensor([0.0]), ttorch.tensor([5.0]))
        >>> s = m.sample((100,))
        >>> bool(((s >= 0) & (s < 5)).all())
        True
        >>> print(round(m.entropy().item(), 4), round(m.cdf(ttorch.tensor([1.0])).item(), 4))
        1.6094 0.2
    """
    has_rsample = True

    @property
    def arg_constraints(self):
        return {"low": constraints.less_than(self.high), "high": constraints.greater_than(self.low)}

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        batch_shape = ttorch.Size() if _is_number(low) and _is_number(high) else self.low.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Uniform, ("low", "high"), batch_shape, _instance)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return math.nan * self.high

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        return self.low + _uniform(shape, self.low) * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        lb = self.low.le(value).type_as(self.low)
        ub = self.high.gt(value).type_as(self.low)
        return ttorch.log(lb.mul(ub)) - ttorch.log(self.high - self.low)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return ttorch.log(self.high - self.low)


class Exponential(ExponentialFamily):
    """An exponential distribution with ``rate`` (= 1 / scale).

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Exponential
        >>> m = Exponential(ttorch.tensor([2.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.icdf(ttorch.tensor([0.5])).item(), 4))
        -1.3069 0.3466
    """
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = ttorch.Size() if _is_number(rate) else self.rate.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Exponential, ("rate",), batch_shape, _instance)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return ttorch.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        # -log(1 - u) with u in [0, 1): a finite standard exponential draw
        return -ttorch.log1p(-_uniform(shape, self.rate)) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - ttorch.exp(-self.rate * value)

    def icdf(self, value):
        return -ttorch.log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - ttorch.log(self.rate)

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -ttorch.log(-x)


class Laplace(Distribution):
    """A Laplace distribution with location ``loc`` and scale ``scale``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Laplace
        >>> m = Laplace(ttorch.tensor([0.0]), ttorch.tensor([1.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.cdf(ttorch.tensor([1.0])).item(), 4))
        -1.6931 0.8161
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        _loc_scale_init(self, Laplace, loc, scale, validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Laplace, ("loc", "scale"), batch_shape, _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2 ** 0.5) * self.scale

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        finfo = ttorch.finfo(self.loc.dtype)
        u = _uniform(shape, self.loc) * (2 - finfo.eps) + (finfo.eps - 1)    # [eps - 1, 1): |u| < 1
        return self.loc - self.scale * u.sign() * ttorch.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -ttorch.log(2 * self.scale) - ttorch.abs(value - self.loc) / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * ttorch.expm1(-(value - self.loc).abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * ttorch.log1p(-2 * term.abs())

    def entropy(self):
        return 1 + ttorch.log(2 * self.scale)


class Cauchy(Distribution):
    """A Cauchy (Lorentz) distribution with median ``loc`` and half width at half maximum ``scale``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Cauchy
        >>> m = Cauchy(ttorch.tensor([0.0]), ttorch.tensor([1.0]))
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.icdf(ttorch.tensor([0.75])).item(), 4))
        -1.8379 1.0
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        _loc_scale_init(self, Cauchy, loc, scale, validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Cauchy, ("loc", "scale"), batch_shape, _instance)

    @property
    def mean(self):
        return ttorch.full(self._extended_shape(), math.nan, dtype=self.loc.dtype, device=self.loc.device)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return ttorch.full(self._extended_shape(), math.inf, dtype=self.loc.dtype, device=self.loc.device)

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        eps = ttorch.tan(math.pi * (_uniform(shape, self.loc) - 0.5))      # standard Cauchy by inversion
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ttorch.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return ttorch.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
