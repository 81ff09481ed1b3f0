"""``ContinuousBernoulli`` (Loaiza-Ganem and Cunningham, 2019): the density ``C(p) p^x (1-p)^(1-x)``
on ``[0, 1]``. Near ``p = 1/2`` its normaliser and moments are 0/0 forms; as PyTorch, they use
Taylor expansions inside ``lims`` and the closed forms at ``lims[0]`` ("cut" probs) outside."""
import math

import ttorch
import ttorch.nn.functional as F
from . import constraints
from .discrete import _ProbsLogitsMixin, _expand_binary, _init_probs_logits
from .distribution import ExponentialFamily
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(_ProbsLogitsMixin, ExponentialFamily):
    """A continuous Bernoulli distribution on ``[0, 1]``, by ``probs`` or ``logits`` (not both).

    Args:
        probs (Number, Tensor): parameter in ``(0, 1)``.
        logits (Number, Tensor): its log-odds.
        lims (tuple): the interval around 1/2 where the Taylor expansions are used.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import ContinuousBernoulli
        >>> m = ContinuousBernoulli(ttorch.tensor([0.3]))
        >>> print(round(m.log_prob(ttorch.tensor([0.5])).item(), 4), round(m.mean.item(), 4))
        -0.0297 0.4302
    """
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        _init_probs_logits(self, probs, logits)
        if probs is not None:
            # PyTorch checks probs before clamping only when validate_args is given explicitly
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(self.probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = self._param = clamp_probs(self.probs)
        self._lims = lims
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = _expand_binary(self, ContinuousBernoulli, batch_shape, _instance)
        new._lims = self._lims
        return new

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return ttorch.where(self._outside_unstable_region(), self.probs, self._lims[0] * ttorch.ones_like(self.probs))

    def _cont_bern_log_norm(self):
        """log C(p), the log normalising constant as a function of ``probs``."""
        cut_probs = self._cut_probs()
        below = ttorch.where(cut_probs <= 0.5, cut_probs, ttorch.zeros_like(cut_probs))
        above = ttorch.where(cut_probs >= 0.5, cut_probs, ttorch.ones_like(cut_probs))
        log_norm = (ttorch.log(ttorch.abs(ttorch.log1p(-cut_probs) - ttorch.log(cut_probs)))
                    - ttorch.where(cut_probs <= 0.5, ttorch.log1p(-2.0 * below), ttorch.log(2.0 * above - 1.0)))
        x = ttorch.pow(self.probs - 0.5, 2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return ttorch.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut_probs = self._cut_probs()
        mus = cut_probs / (2.0 * cut_probs - 1.0) + 1.0 / (ttorch.log1p(-cut_probs) - ttorch.log(cut_probs))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * ttorch.pow(x, 2)) * x
        return ttorch.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return ttorch.sqrt(self.variance)

    @property
    def variance(self):
        cut_probs = self._cut_probs()
        var = (cut_probs * (cut_probs - 1.0) / ttorch.pow(1.0 - 2.0 * cut_probs, 2)
               + 1.0 / ttorch.pow(ttorch.log1p(-cut_probs) - ttorch.log(cut_probs), 2))
        x = ttorch.pow(self.probs - 0.5, 2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return ttorch.where(self._outside_unstable_region(), var, taylor)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def sample(self, sample_shape=ttorch.Size()):
        with ttorch.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        u = ttorch.rand(shape, dtype=self.probs.dtype, device=self.probs.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none") + self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut_probs = self._cut_probs()
        cdfs = ((ttorch.pow(cut_probs, value) * ttorch.pow(1.0 - cut_probs, 1.0 - value) + cut_probs - 1.0)
                / (2.0 * cut_probs - 1.0))
        unbounded = ttorch.where(self._outside_unstable_region(), cdfs, value)
        return ttorch.where(value <= 0.0, ttorch.zeros_like(value),
                            ttorch.where(value >= 1.0, ttorch.ones_like(value), unbounded))

    def icdf(self, value):
        cut_probs = self._cut_probs()
        return ttorch.where(self._outside_unstable_region(),
                            (ttorch.log1p(-cut_probs + value * (2.0 * cut_probs - 1.0)) - ttorch.log1p(-cut_probs))
                            / (ttorch.log(cut_probs) - ttorch.log1p(-cut_probs)),
                            value)

    def entropy(self):
        log_probs0 = ttorch.log1p(-self.probs)
        log_probs1 = ttorch.log(self.probs)
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """The log normaliser as a function of the natural parameter (the logits)."""
        out_unst_reg = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut_nat_params = ttorch.where(out_unst_reg, x, (self._lims[0] - 0.5) * ttorch.ones_like(x))
        log_norm = ttorch.log(ttorch.abs(ttorch.expm1(cut_nat_params))) - ttorch.log(ttorch.abs(cut_nat_params))
        taylor = 0.5 * x + ttorch.pow(x, 2) / 24.0 - ttorch.pow(x, 4) / 2880.0
        return ttorch.where(out_unst_reg, log_norm, taylor)
