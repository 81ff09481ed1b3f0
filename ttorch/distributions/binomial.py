"""Counts of repeated trials: ``Binomial`` (successes in ``total_count`` Bernoulli trials) and
``Multinomial`` (category counts of ``total_count`` categorical draws)."""
import math

import ttorch
from . import constraints
from .discrete import Categorical, _CategoricalParamsMixin, _ProbsLogitsMixin, _enumerate, _expand_binary, _init_probs_logits
from .distribution import Distribution
from .samplers import binomial
from .utils import broadcast_all

__all__ = ["Binomial", "Multinomial"]


def _clamp_by_zero(x):
    # max(x, 0) with gradient 1/2 at 0, as PyTorch's
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(_ProbsLogitsMixin, Distribution):
    """A binomial distribution: successes in ``total_count`` trials of probability ``probs`` (or
    ``sigmoid(logits)``). ``total_count`` broadcasts with the probabilities.

    Sampling is exact (``samplers.binomial``): geometric waiting times for means below 10, BTRS
    rejection above.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Binomial
        >>> m = Binomial(10, ttorch.tensor([0.2, 0.7]))
        >>> m.sample((3,)).shape
        ttorch.Size([3, 2])
        >>> print([round(v, 3) for v in m.log_prob(ttorch.tensor([2.0, 7.0])).tolist()])
        [-1.197, -1.321]
    """
    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        _init_probs_logits(self, probs, logits, total_count)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_binary(self, Binomial, batch_shape, _instance, extra=("total_count",))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        with ttorch.no_grad():
            return binomial(self.total_count.expand(shape), self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_factorial_n = ttorch.lgamma(self.total_count + 1)
        log_factorial_k = ttorch.lgamma(value + 1)
        log_factorial_nmk = ttorch.lgamma(self.total_count - value + 1)
        # n log(1 + e^logits), stable for large |logits|
        normalize_term = (self.total_count * _clamp_by_zero(self.logits)
                          + self.total_count * ttorch.log1p(ttorch.exp(-ttorch.abs(self.logits))) - log_factorial_n)
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize_term

    def entropy(self):
        total_count = int(self.total_count.max())
        if not self.total_count.min() == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(ttorch.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        total_count = int(self.total_count.max())
        if not self.total_count.min() == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = ttorch.arange(1 + total_count, dtype=self._param.dtype, device=self._param.device)
        return _enumerate(self, values, expand)


class Multinomial(_CategoricalParamsMixin, Distribution):
    """Category counts of ``total_count`` draws from ``Categorical(probs/logits)``; the last dim
    of ``probs`` indexes categories. ``sample`` needs one ``total_count`` for all; ``log_prob``
    accepts any counts.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Multinomial
        >>> m = Multinomial(10, ttorch.tensor([1.0, 1.0, 2.0]))
        >>> m.sample().sum().item()
        10.0
        >>> print(round(m.log_prob(ttorch.tensor([2.0, 3.0, 5.0])).item(), 4))
        -2.5652
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs, validate_args=False)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=ttorch.Size()):
        sample_shape = ttorch.Size(tuple(sample_shape))
        with ttorch.no_grad():
            samples = self._categorical.sample(ttorch.Size((self.total_count,) + tuple(sample_shape)))
            dims = list(range(samples.dim()))
            samples = samples.permute(*(dims[1:] + dims[:1]))        # draws last
            counts = ttorch.zeros(self._extended_shape(sample_shape), dtype=samples.dtype, device=samples.device)
            counts.scatter_add_(-1, samples, ttorch.ones_like(samples))
            return counts.type_as(self.probs)

    def entropy(self):
        n = ttorch.tensor(float(self.total_count), dtype=self.probs.dtype, device=self.probs.device)
        term1 = n * self._categorical.entropy() - ttorch.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = ttorch.exp(self._binomial.log_prob(support))
        term2 = (binomial_probs * ttorch.lgamma(support + 1)).sum([0, -1])
        return term1 + term2

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = ttorch.lgamma(value.sum(-1) + 1)
        log_factorial_xs = ttorch.lgamma(value + 1).sum(-1)
        logits = ttorch.where((value == 0) & (logits == -math.inf), 0.0, logits)   # 0 * -inf is 0 here
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)
