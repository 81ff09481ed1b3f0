"""Transforms onto constrained spaces, used by ``constraint_registry``: ``StickBreakingTransform``
(real vectors onto the simplex, one dimension up), ``LowerCholeskyTransform``,
``PositiveDefiniteTransform``, ``CorrCholeskyTransform`` (real vectors onto Cholesky factors of
correlation matrices) and ``CumulativeDistributionTransform`` (a distribution's cdf)."""
import math

import ttorch
import ttorch.nn.functional as F
from . import constraints
from ._transform import Transform
from .utils import tril_matrix_to_vec, vec_to_tril_matrix

__all__ = ["CorrCholeskyTransform", "CumulativeDistributionTransform", "LowerCholeskyTransform",
           "PositiveDefiniteTransform", "StickBreakingTransform"]


def _clipped_sigmoid(x):
    finfo = ttorch.finfo(x.dtype)
    return ttorch.clamp(ttorch.sigmoid(x), min=finfo.tiny, max=1.0 - finfo.eps)


class StickBreakingTransform(Transform):
    """From unconstrained vectors of length ``K - 1`` to the ``K``-simplex by stick breaking: each
    coordinate takes the fraction ``sigmoid(x_i - log(K - i))`` of what is left. Bijective; the
    offsets make ``x = 0`` the simplex's centre.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions.transforms import StickBreakingTransform
        >>> t = StickBreakingTransform()
        >>> print([round(v, 4) for v in t(ttorch.zeros(2)).tolist()])
        [0.3333, 0.3333, 0.3333]
    """
    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other):
        return isinstance(other, StickBreakingTransform)

    __hash__ = object.__hash__

    def _offset_log(self, x, k):
        return (k - x.new_ones(x.shape[-1]).cumsum(-1)).log()     # log(K - 1 - i), i = 0.. (length k - 1)

    def _call(self, x):
        z = _clipped_sigmoid(x - self._offset_log(x, x.shape[-1] + 1))
        z_cumprod = (1 - z).cumprod(-1)
        return F.pad(z, [0, 1], value=1) * F.pad(z_cumprod, [1, 0], value=1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        sf = (1 - y_crop.cumsum(-1)).clamp(min=ttorch.finfo(y.dtype).tiny)
        return y_crop.log() - sf.log() + self._offset_log(y_crop, y.shape[-1])

    def log_abs_det_jacobian(self, x, y):
        x = x - self._offset_log(x, x.shape[-1] + 1)
        return (-x + F.logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        return tuple(shape[:-1]) + (shape[-1] - 1,)


class LowerCholeskyTransform(Transform):
    """From unconstrained square matrices to lower-triangular ones with a positive diagonal: the
    strict lower triangle is kept, the diagonal exponentiated. Not bijective (the upper triangle is
    dropped), so PyTorch gives it no log det Jacobian.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions.transforms import LowerCholeskyTransform
        >>> LowerCholeskyTransform()(ttorch.tensor([[0.0, 5.0], [2.0, 0.0]]))
        tensor([[1., 0.],
                [2., 1.]])
    """
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def __eq__(self, other):
        return isinstance(other, LowerCholeskyTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()


class PositiveDefiniteTransform(Transform):
    """From unconstrained square matrices to positive-definite ones: ``L L^T`` of the
    ``LowerCholeskyTransform`` of ``x``; the inverse goes through ``linalg.cholesky``."""
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def __eq__(self, other):
        return isinstance(other, PositiveDefiniteTransform)

    __hash__ = object.__hash__

    def _call(self, x):
        x = LowerCholeskyTransform()(x)
        return x @ x.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(ttorch.linalg.cholesky(y))


class CorrCholeskyTransform(Transform):
    """From real vectors of length ``D (D - 1) / 2`` to ``D x D`` Cholesky factors of correlation
    matrices (lower triangular, positive diagonal, rows of unit norm). ``tanh`` maps each entry into
    ``(-1, 1)``, filled row by row into the strict lower triangle; each row is then completed by
    stick breaking, entry ``i`` taking ``r_i`` of the squared norm still left (Stan's construction).
    """
    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        x = ttorch.tanh(x)
        eps = ttorch.finfo(x.dtype).eps
        x = x.clamp(min=-1 + eps, max=1 - eps)
        r = vec_to_tril_matrix(x, diag=-1)                                  # (*, D, D)
        z1m_cumprod_sqrt = (1 - r ** 2).sqrt().cumprod(-1)                  # the norm left in each row
        r = r + ttorch.eye(r.shape[-1], dtype=r.dtype, device=r.device)
        return r * F.pad(z1m_cumprod_sqrt[..., :-1], [1, 0], value=1)

    def _inverse(self, y):
        y_cumsum = 1 - ttorch.cumsum(y * y, dim=-1)
        y_cumsum_shifted = F.pad(y_cumsum[..., :-1], [1, 0], value=1)
        y_vec = tril_matrix_to_vec(y, diag=-1)
        y_cumsum_vec = tril_matrix_to_vec(y_cumsum_shifted, diag=-1)
        t = y_vec / y_cumsum_vec.sqrt()
        return (t.log1p() - t.neg().log1p()) / 2                            # atanh

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # stick breaking scales entry (i, j) by the sqrt of the norm left; tanh' = 4 / (e^x + e^-x)^2
        y1m_cumsum = 1 - (y * y).cumsum(dim=-1)
        stick_breaking_logdet = 0.5 * tril_matrix_to_vec(y1m_cumsum, diag=-2).log().sum(-1)
        tanh_logdet = -2 * (x + F.softplus(-2 * x) - math.log(2.0)).sum(dim=-1)
        return stick_breaking_logdet + tanh_logdet

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        N = shape[-1]
        D = round((0.25 + 2 * N) ** 0.5 + 0.5)
        if D * (D - 1) // 2 != N:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return tuple(shape[:-1]) + (D, D)

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        D = shape[-1]
        return tuple(shape[:-2]) + (D * (D - 1) // 2,)


class CumulativeDistributionTransform(Transform):
    """``y = distribution.cdf(x)``, onto the unit interval (``inv`` is ``icdf``; the log det
    Jacobian is ``log_prob``). The distribution's batch shape must fit ``x``'s.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Normal
        >>> from ttorch.distributions.transforms import CumulativeDistributionTransform
        >>> t = CumulativeDistributionTransform(Normal(0.0, 1.0))
        >>> print(round(t(ttorch.tensor(0.0)).item(), 4), round(t.inv(ttorch.tensor(0.975)).item(), 4))
        0.5 1.96
    """
    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)
