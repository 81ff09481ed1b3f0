"""Discrete distributions over ``{0, 1}``, ``{0..K-1}`` and the nonnegative integers:
``Bernoulli``, ``Categorical``, ``OneHotCategorical``, ``Geometric``, ``Poisson``.

Parameters come as ``probs`` or ``logits`` (not both); the other is a ``lazy_property``,
computed on first use, as in PyTorch.
"""
import math

import ttorch
import ttorch.nn.functional as F
from . import constraints
from .distribution import Distribution, ExponentialFamily
from .samplers import poisson
from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits, _is_number

__all__ = ["Bernoulli", "Categorical", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Geometric",
           "Poisson"]

_ONE_OF = "Either `probs` or `logits` must be specified, but not both."


def _init_probs_logits(self, probs, logits, total_count=None):
    """Sets ``probs`` or ``logits`` (exactly one must be given) and ``_param``, broadcast with
    ``total_count`` when there is one (then also set, in their dtype)."""
    if (probs is None) == (logits is None):
        raise ValueError(_ONE_OF)
    name, given = ("probs", probs) if probs is not None else ("logits", logits)
    if total_count is None:
        (param,) = broadcast_all(given)     # a number becomes a 0-d tensor: batch shape ()
    else:
        total_count, param = broadcast_all(total_count, given)
        self.total_count = total_count.type_as(param)
    setattr(self, name, param)
    self._param = param


def _expand_binary(self, cls, batch_shape, _instance, extra=()):
    """``expand`` of the one-parameter (probs or logits) distributions."""
    new = self._get_checked_instance(cls, _instance)
    batch_shape = ttorch.Size(tuple(batch_shape))
    for name in ("probs", "logits") + tuple(extra):
        if name in self.__dict__:
            setattr(new, name, self.__dict__[name].expand(batch_shape))
            if name != "total_count":
                new._param = getattr(new, name)
    super(cls, new).__init__(batch_shape, validate_args=False)
    new._validate_args = self._validate_args
    return new


class _ProbsLogitsMixin:
    """``probs`` and ``logits`` of a distribution given one of them (the other is derived on first
    access), and ``param_shape``, the shape of the one given (``self._param``)."""
    _is_binary = True   # Categorical normalises over the last dim instead

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=self._is_binary)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=self._is_binary)

    @property
    def param_shape(self):
        return self._param.size()


class _CategoricalParamsMixin:
    """``probs``, ``logits`` and ``param_shape`` of a distribution built on ``self._categorical``."""

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape


def _enumerate(self, values, expand):
    values = values.reshape((-1,) + (1,) * len(self._batch_shape))
    return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class Bernoulli(_ProbsLogitsMixin, ExponentialFamily):
    """A Bernoulli distribution: ``1`` with probability ``probs`` (or ``sigmoid(logits)``), else ``0``.

    Args:
        probs (Number, Tensor): the probability of sampling ``1``.
        logits (Number, Tensor): the log-odds of sampling ``1``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Bernoulli
        >>> m = Bernoulli(ttorch.tensor([0.3]))
        >>> m.sample((4,)).shape
        ttorch.Size([4, 1])
        >>> print(round(m.log_prob(ttorch.tensor([1.0])).item(), 4), round(m.entropy().item(), 4))
        -1.204 0.6109
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, validate_args=None):
        _init_probs_logits(self, probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_binary(self, Bernoulli, batch_shape, _instance)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return ttorch.where(self.probs == 0.5, math.nan, mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        with ttorch.no_grad():
            return ttorch.bernoulli(self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        return _enumerate(self, ttorch.arange(2, dtype=self._param.dtype, device=self._param.device), expand)

    @property
    def _natural_params(self):
        return (ttorch.logit(self.probs),)

    def _log_normalizer(self, x):
        return ttorch.log1p(ttorch.exp(x))


class Categorical(_ProbsLogitsMixin, Distribution):
    """A categorical distribution over ``{0, ..., K-1}``, ``K = probs.size(-1)``; leading dims batch.

    ``probs`` (nonnegative, finite, nonzero sum) and ``logits`` (unnormalised log-probabilities)
    are normalised over the last dim; ``probs``/``logits`` return the normalised values.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Categorical
        >>> m = Categorical(ttorch.tensor([0.25, 0.25, 0.5]))
        >>> m.sample((2, 3)).shape
        ttorch.Size([2, 3])
        >>> print(round(m.log_prob(ttorch.tensor(2)).item(), 4), round(m.entropy().item(), 4))
        -0.6931 1.0397
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True
    _is_binary = False

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError(_ONE_OF)
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.dim() > 1 else ttorch.Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        param_shape = tuple(batch_shape) + (self._num_events,)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(param_shape))
                new._param = getattr(new, name)
        new._num_events = self._num_events
        super(Categorical, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return ttorch.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return ttorch.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, device=self.probs.device)

    def sample(self, sample_shape=ttorch.Size()):
        sample_shape = ttorch.Size(tuple(sample_shape))
        with ttorch.no_grad():
            probs_2d = self.probs.reshape(-1, self._num_events)
            samples_2d = ttorch.multinomial(probs_2d, sample_shape.numel(), True).T
            return samples_2d.reshape(self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = ttorch.broadcast_tensors(value, self.logits)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        logits = ttorch.clamp(self.logits, min=ttorch.finfo(self.logits.dtype).min)   # -inf * 0 would be nan
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        return _enumerate(self, ttorch.arange(self._num_events, dtype=ttorch.long, device=self._param.device), expand)


class OneHotCategorical(_CategoricalParamsMixin, Distribution):
    """A categorical distribution whose samples are one-hot vectors of size ``probs.size(-1)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import OneHotCategorical
        >>> m = OneHotCategorical(ttorch.tensor([0.25, 0.25, 0.5]))
        >>> m.sample().sum().item(), m.event_shape
        (1.0, ttorch.Size([3]))
        >>> print(round(m.log_prob(ttorch.tensor([0.0, 1.0, 0.0])).item(), 4))
        -1.3863
    """
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategorical, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new._categorical = self._categorical.expand(batch_shape)
        super(OneHotCategorical, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _param(self):
        return self._categorical._param

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return F.one_hot(probs.argmax(dim=-1), num_classes=probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self):
        return self._categorical.probs * (1 - self._categorical.probs)

    def sample(self, sample_shape=ttorch.Size()):
        indices = self._categorical.sample(sample_shape)
        return F.one_hot(indices, self._categorical._num_events).to(self._categorical.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.max(-1)[1])

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self.event_shape[0]
        values = ttorch.eye(n, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        return values.expand((n,) + tuple(self.batch_shape) + (n,)) if expand else values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """A ``OneHotCategorical`` whose ``rsample`` is the straight-through estimator (Bengio et al.,
    2013): one-hot samples forward, the gradient of ``probs`` backward."""
    has_rsample = True

    def rsample(self, sample_shape=ttorch.Size()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())


class Geometric(Distribution):
    """The number of failures before the first success of Bernoulli(``probs``) trials:
    ``P(X = k) = (1 - p)^k p``, ``k = 0, 1, ...``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Geometric
        >>> m = Geometric(ttorch.tensor([0.3]))
        >>> print(round(m.log_prob(ttorch.tensor([2.0])).item(), 4), round(m.mean.item(), 4))
        -1.9173 2.3333
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError(_ONE_OF)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        given = probs if probs is not None else logits
        super().__init__(ttorch.Size() if _is_number(given) else given.size(), validate_args=validate_args)
        if self._validate_args and probs is not None:
            valid = self.probs > 0
            if not bool(valid.all()):
                raise ValueError(f"Expected parameter probs ({type(self.probs).__name__} of shape "
                                 f"{tuple(self.probs.shape)}) of distribution {self!r} to be positive but found "
                                 f"invalid values:\n{self.probs.detach()[~valid]}")

    def expand(self, batch_shape, _instance=None):
        return _expand_binary(self, Geometric, batch_shape, _instance)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return ttorch.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    def sample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        tiny = ttorch.finfo(self.probs.dtype).tiny
        with ttorch.no_grad():
            u = ttorch.rand(shape, dtype=self.probs.dtype, device=self.probs.device).clamp(min=tiny)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = ttorch.where((probs == 1) & (value == 0), 0.0, probs)   # 0 * log(0) is 0 here
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none") / self.probs


class Poisson(ExponentialFamily):
    """A Poisson distribution with ``rate``: ``P(X = k) = rate^k e^-rate / k!``.

    Sampling is exact (see ``samplers.poisson``): counting exponential arrivals for rates below 10,
    Hörmann's transformed rejection (PTRS) above.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Poisson
        >>> m = Poisson(ttorch.tensor([4.0]))
        >>> print(round(m.log_prob(ttorch.tensor([3.0])).item(), 4))
        -1.6329
    """
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(ttorch.Size() if _is_number(rate) else self.rate.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Poisson, _instance)
        new.rate = self.rate.expand(tuple(batch_shape))
        super(Poisson, new).__init__(ttorch.Size(tuple(batch_shape)), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        with ttorch.no_grad():
            return poisson(self.rate.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()

    @property
    def _natural_params(self):
        return (ttorch.log(self.rate),)

    def _log_normalizer(self, x):
        return ttorch.exp(x)
