"""``NegativeBinomial``: the number of successes before ``total_count`` failures, sampled as
PyTorch does, as a gamma-Poisson mixture."""
import ttorch
import ttorch.nn.functional as F
from . import constraints
from .discrete import _ProbsLogitsMixin, _expand_binary, _init_probs_logits
from .distribution import Distribution
from .gamma import Gamma
from .samplers import poisson
from .utils import lazy_property

__all__ = ["NegativeBinomial"]


class NegativeBinomial(_ProbsLogitsMixin, Distribution):
    """The number of successful Bernoulli trials (success probability ``probs``) before
    ``total_count`` failures; ``total_count`` may be any non-negative real.

    Args:
        total_count (float or Tensor): the number of failures to reach.
        probs (Tensor): success probability, in ``[0, 1)``.
        logits (Tensor): its log-odds.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import NegativeBinomial
        >>> m = NegativeBinomial(3.0, ttorch.tensor([0.4]))
        >>> print(round(m.log_prob(ttorch.tensor([2.0])).item(), 4), round(m.mean.item(), 4))
        -1.5733 2.0
    """
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        _init_probs_logits(self, probs, logits, total_count)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_binary(self, NegativeBinomial, batch_shape, _instance, extra=("total_count",))

    @property
    def mean(self):
        return self.total_count * ttorch.exp(self.logits)

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / ttorch.sigmoid(-self.logits)

    @lazy_property
    def _gamma(self):
        return Gamma(concentration=self.total_count, rate=ttorch.exp(-self.logits), validate_args=False)

    def sample(self, sample_shape=ttorch.Size()):
        with ttorch.no_grad():
            rate = self._gamma.sample(sample_shape=sample_shape)
            return poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized_prob = self.total_count * F.logsigmoid(-self.logits) + value * F.logsigmoid(self.logits)
        log_normalization = (-ttorch.lgamma(self.total_count + value) + ttorch.lgamma(1.0 + value)
                             + ttorch.lgamma(self.total_count))
        # total_count = 0 and value = 0: the probability is one (lgamma(0) terms cancel)
        log_normalization = ttorch.where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
