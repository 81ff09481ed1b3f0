"""Continuous relaxations of discrete distributions (Concrete / Gumbel-softmax; Maddison et al.
2017, Jang et al. 2017): ``LogitRelaxedBernoulli``, ``RelaxedBernoulli``,
``ExpRelaxedCategorical``, ``RelaxedOneHotCategorical``. Samples are reparameterized."""
import ttorch
from . import constraints
from .discrete import Categorical, _CategoricalParamsMixin, _ProbsLogitsMixin, _expand_binary, _init_probs_logits
from .distribution import Distribution
from .transformed import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform
from .utils import broadcast_all, clamp_probs

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical", "RelaxedOneHotCategorical"]


def _rand_like(t, shape):
    return ttorch.rand(shape, dtype=t.dtype, device=t.device)


class _RelaxedParamsMixin:
    """``temperature``, ``logits`` and ``probs`` of a relaxed distribution, read from ``base_dist``."""

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs


class LogitRelaxedBernoulli(_ProbsLogitsMixin, Distribution):
    """The logit of a ``RelaxedBernoulli`` sample: ``(logit(u) + logits) / temperature``.

    Args:
        temperature (Tensor): relaxation temperature.
        probs (Number, Tensor): the probability of sampling ``1``.
        logits (Number, Tensor): the log-odds of sampling ``1``.
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self.temperature = temperature
        _init_probs_logits(self, probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = _expand_binary(self, LogitRelaxedBernoulli, batch_shape, _instance)
        new.temperature = self.temperature
        return new

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(shape))
        uniforms = clamp_probs(_rand_like(probs, shape))
        return (uniforms.log() - (-uniforms).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value.mul(self.temperature)
        return self.temperature.log() + diff - 2 * diff.exp().log1p()


class RelaxedBernoulli(_RelaxedParamsMixin, TransformedDistribution):
    """A relaxed Bernoulli distribution on ``(0, 1)`` with reparameterized samples: the sigmoid of a
    ``LogitRelaxedBernoulli``.

    Args:
        temperature (Tensor): relaxation temperature.
        probs (Number, Tensor): the probability of sampling ``1``.
        logits (Number, Tensor): the log-odds of sampling ``1``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import RelaxedBernoulli
        >>> m = RelaxedBernoulli(ttorch.tensor([2.2]), ttorch.tensor([0.1, 0.2, 0.3, 0.99]))
        >>> s = m.rsample()
        >>> s.shape, bool(((s > 0) & (s < 1)).all())
        (ttorch.Size([4]), True)
        >>> print(round(m.log_prob(ttorch.tensor([0.5, 0.5, 0.5, 0.5]))[0].item(), 4))
        -0.2332
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base_dist = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base_dist, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedBernoulli, _instance)
        return super().expand(batch_shape, _instance=new)


class ExpRelaxedCategorical(_CategoricalParamsMixin, Distribution):
    """The log of a ``RelaxedOneHotCategorical`` sample (a point of the simplex):
    ``log_softmax((logits + Gumbel noise) / temperature)``.

    Args:
        temperature (Tensor): relaxation temperature.
        probs (Tensor): event probabilities.
        logits (Tensor): unnormalised log-probabilities.
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector   # the true support is a submanifold of this
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        self.temperature = temperature
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        super(ExpRelaxedCategorical, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        uniforms = clamp_probs(_rand_like(self.logits, shape))
        gumbels = -((-(uniforms.log())).log())
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(dim=-1, keepdim=True)

    def log_prob(self, value):
        K = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_scale = ttorch.full_like(self.temperature, float(K)).lgamma() - self.temperature.log().mul(-(K - 1))
        score = logits - value.mul(self.temperature)
        score = (score - score.logsumexp(dim=-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(_RelaxedParamsMixin, TransformedDistribution):
    """A relaxed one-hot categorical distribution on the simplex (Gumbel-softmax), with
    reparameterized samples: the exp of an ``ExpRelaxedCategorical``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import RelaxedOneHotCategorical
        >>> m = RelaxedOneHotCategorical(ttorch.tensor([2.2]), ttorch.tensor([0.1, 0.2, 0.3, 0.4]))
        >>> s = m.rsample()
        >>> s.shape, round(s.sum().item(), 4)
        (ttorch.Size([4]), 1.0)
        >>> print(round(m.log_prob(ttorch.tensor([0.25, 0.25, 0.25, 0.25])).item(), 4))
        3.67
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base_dist = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base_dist, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedOneHotCategorical, _instance)
        return super().expand(batch_shape, _instance=new)
