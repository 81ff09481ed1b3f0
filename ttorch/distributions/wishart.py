"""``Wishart``: the distribution of ``X X^T`` for ``df`` Gaussian vectors ``X`` of covariance
``Sigma``, over positive-definite matrices. Samples come from the Bartlett decomposition (square
roots of chi-square draws on the diagonal, standard normals below it), so ``rsample``
differentiates through the chi-square's reparameterized gradient."""
import math
import warnings

import ttorch
from . import constraints
from .distribution import ExponentialFamily
from .gamma import Chi2
from .multivariate_normal import _precision_to_scale_tril
from .utils import lazy_property, vec_to_tril_matrix

__all__ = ["Wishart"]

_log_2 = math.log(2)


def _mvdigamma(x, p):
    """The multivariate digamma ``sum_{i<p} digamma(x - i / 2)``."""
    if not bool(x.gt((p - 1) / 2).all()):
        raise AssertionError("Wrong domain for multivariate digamma function.")
    return ttorch.digamma(x.unsqueeze(-1) - ttorch.arange(p, dtype=x.dtype, device=x.device).div(2)
                          .expand(tuple(x.shape) + (-1,))).sum(-1)


def _clamp_above_eps(x):
    return x.clamp(min=ttorch.finfo(x.dtype).eps)


class Wishart(ExponentialFamily):
    """A Wishart distribution with ``df`` degrees of freedom and exactly one of a positive-definite
    ``covariance_matrix``, a positive-definite ``precision_matrix`` or a lower-triangular
    ``scale_tril``: the scale matrix ``Sigma``. Its mean is ``df * Sigma``.

    Args:
        df (float or Tensor): degrees of freedom, greater than ``p - 1`` for ``p x p`` matrices.
        covariance_matrix (Tensor): ``(*, p, p)``.
        precision_matrix (Tensor): ``(*, p, p)``.
        scale_tril (Tensor): ``(*, p, p)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import Wishart
        >>> d = Wishart(ttorch.tensor(4.0), ttorch.eye(2))
        >>> d.sample((3,)).shape
        ttorch.Size([3, 2, 2])
        >>> print(round(d.log_prob(ttorch.eye(2)).item(), 4), round(d.entropy().item(), 4))
        -4.2242 6.3014
    """
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        param = next(p for p in (covariance_matrix, precision_matrix, scale_tril) if p is not None)
        if param.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, (int, float)):
            batch_shape = ttorch.Size(tuple(param.shape[:-2]))
            self.df = ttorch.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = ttorch.Size(tuple(ttorch.broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape))))
            self.df = df.expand(batch_shape)
        event_shape = ttorch.Size(tuple(param.shape[-2:]))
        if bool(self.df.le(event_shape[-1] - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {event_shape[-1] - 1}.")
        if scale_tril is not None:
            self.scale_tril = param.expand(tuple(batch_shape) + (-1, -1))
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(tuple(batch_shape) + (-1, -1))
        else:
            self.precision_matrix = param.expand(tuple(batch_shape) + (-1, -1))
        if bool(self.df.lt(event_shape[-1]).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for "
                          "ndim - 1 < df < ndim.", stacklevel=2)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ttorch.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self._dist_chi2 = self._bartlett_chi2(self.df, batch_shape)

    def _bartlett_chi2(self, df, batch_shape):
        # the i-th diagonal entry of the Bartlett factor is sqrt(chi2(df - i))
        L = self._unbroadcasted_scale_tril
        offsets = ttorch.arange(self._event_shape[-1], dtype=L.dtype, device=L.device)
        return Chi2(df=df.unsqueeze(-1) - offsets.expand(tuple(batch_shape) + (-1,)))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        cov_shape = tuple(batch_shape) + tuple(self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        super(Wishart, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._dist_chi2 = new._bartlett_chi2(new.df, batch_shape)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.transpose(-2, -1)).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        identity = ttorch.eye(self._event_shape[-1], device=L.device, dtype=L.dtype)
        return ttorch.cholesky_solve(identity, L).expand(self._matrix_shape())

    def _df_matrix(self):
        return self.df.reshape(tuple(self._batch_shape) + (1, 1))

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = ttorch.where(factor <= 0, math.nan, factor)     # undefined for df <= p + 1
        return factor.reshape(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        V = self.covariance_matrix
        diag_V = V.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (V.pow(2) + diag_V.unsqueeze(-1) * diag_V.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape=ttorch.Size()):
        p = self._event_shape[-1]
        diag = _clamp_above_eps(self._dist_chi2.rsample(sample_shape).sqrt())          # (S, B, p)
        below = ttorch.randn(tuple(sample_shape) + tuple(self._batch_shape) + (p * (p - 1) // 2,),
                             dtype=diag.dtype, device=diag.device)
        noise = diag.diag_embed(dim1=-2, dim2=-1) + vec_to_tril_matrix(below, diag=-1)   # (S, B, p, p)
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.transpose(-2, -1)

    def _singular(self, sample, sample_shape):
        is_singular = ~self.support.check(sample)                                      # (S, B)
        if self._batch_shape:
            is_singular = is_singular.reshape(tuple(sample_shape) + (-1,)).any(-1)    # (S,)
        return is_singular

    def rsample(self, sample_shape=ttorch.Size(), max_try_correction=None):
        """A reparameterized sample; singular ones (likely when ``df < p``) are redrawn up to
        ``max_try_correction`` (default 10) times, with a warning."""
        if max_try_correction is None:
            max_try_correction = 10
        sample_shape = ttorch.Size(tuple(sample_shape))
        sample = self._bartlett_sampling(sample_shape)
        is_singular = self._singular(sample, sample_shape)
        if bool(is_singular.any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
            pad = (1,) * (len(self._batch_shape) + 2)
            for _ in range(max_try_correction):
                sample_new = self._bartlett_sampling(sample_shape)
                sample = ttorch.where(is_singular.reshape(tuple(sample_shape) + pad), sample_new, sample)
                is_singular = self._singular(sample, sample_shape)
                if not bool(is_singular.any()):
                    break
        return sample

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return (-nu * (p * _log_2 / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                - ttorch.mvlgamma(nu / 2, p=p)
                + (nu - p - 1) / 2 * ttorch.linalg.slogdet(value).logabsdet
                - ttorch.cholesky_solve(value, L).diagonal(dim1=-2, dim2=-1).sum(dim=-1) / 2)

    def entropy(self):
        nu = self.df
        p = self._event_shape[-1]
        L = self._unbroadcasted_scale_tril
        return ((p + 1) * (p * _log_2 / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                + ttorch.mvlgamma(nu / 2, p=p) - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p=p) + nu * p / 2)

    @property
    def _natural_params(self):
        nu = self.df
        p = self._event_shape[-1]
        return -self.precision_matrix / 2, (nu - p - 1) / 2

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-ttorch.linalg.slogdet(-2 * x).logabsdet + _log_2 * p)
                + ttorch.mvlgamma(y + (p + 1) / 2, p=p))
