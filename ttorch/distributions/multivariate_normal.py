"""``MultivariateNormal``: a Gaussian over vectors, parameterized by a covariance matrix, a
precision matrix or a lower-triangular scale (Cholesky factor). All computations go through the
scale ``L`` (``Sigma = L L^T``), from ``ttorch.linalg.cholesky``, with triangular solves."""
import math

import ttorch
from . import constraints
from .distribution import Distribution
from .utils import _standard_normal, lazy_property

__all__ = ["MultivariateNormal"]


def _batch_mv(bmat, bvec):
    """Matrix-vector products with broadcast batch dims."""
    return ttorch.matmul(bmat, bvec.unsqueeze(-1)).squeeze(-1)


def _batch_mahalanobis(bL, bx):
    """``x^T (L L^T)^-1 x`` for a batch of factors ``bL`` (n, n) and vectors ``bx`` (n,) whose batch
    shape ``bL``'s broadcasts to. As PyTorch does, ``bx`` is reshaped so that each factor solves all
    its vectors at once as the columns of one right-hand side, without expanding ``bL``."""
    n = bx.size(-1)
    bx_batch_shape = tuple(bx.shape[:-1])
    bx_batch_dims = len(bx_batch_shape)
    bL_batch_dims = bL.dim() - 2
    outer_batch_dims = bx_batch_dims - bL_batch_dims
    old_batch_dims = outer_batch_dims + bL_batch_dims
    new_batch_dims = outer_batch_dims + 2 * bL_batch_dims
    # split each of bx's batch dims that bL has into (sx // sL, sL)
    bx_new_shape = tuple(bx.shape[:outer_batch_dims])
    for sL, sx in zip(bL.shape[:-2], bx.shape[outer_batch_dims:-1]):
        bx_new_shape += (sx // sL, sL)
    bx = bx.reshape(bx_new_shape + (n,))
    permute_dims = (list(range(outer_batch_dims)) + list(range(outer_batch_dims, new_batch_dims, 2))
                    + list(range(outer_batch_dims + 1, new_batch_dims, 2)) + [new_batch_dims])
    bx = bx.permute(*permute_dims)
    flat_L = bL.reshape(-1, n, n)                              # (b, n, n)
    flat_x = bx.reshape(-1, flat_L.size(0), n)                 # (c, b, n)
    flat_x_swap = flat_x.permute(1, 2, 0)                      # (b, n, c)
    M_swap = ttorch.linalg.solve_triangular(flat_L, flat_x_swap, upper=False).pow(2).sum(-2)   # (b, c)
    M = M_swap.t()                                             # (c, b)
    permuted_M = M.reshape(tuple(bx.shape[:-1]))
    permute_inv_dims = list(range(outer_batch_dims))
    for i in range(bL_batch_dims):
        permute_inv_dims += [outer_batch_dims + i, old_batch_dims + i]
    return permuted_M.permute(*permute_inv_dims).reshape(bx_batch_shape)


def _precision_to_scale_tril(P):
    # L with L L^T = P^-1, from the Cholesky factor of P with rows and columns reversed
    Lf = ttorch.linalg.cholesky(ttorch.flip(P, (-2, -1)))
    L_inv = ttorch.transpose(ttorch.flip(Lf, (-2, -1)), -2, -1)
    Id = ttorch.eye(P.shape[-1], dtype=P.dtype, device=P.device)
    return ttorch.linalg.solve_triangular(L_inv, Id, upper=False)


class MultivariateNormal(Distribution):
    """A multivariate normal distribution with mean ``loc`` and exactly one of a positive-definite
    ``covariance_matrix``, a positive-definite ``precision_matrix`` or a lower-triangular
    ``scale_tril`` with a positive diagonal (``covariance = scale_tril @ scale_tril.mT``).

    Args:
        loc (Tensor): mean, ``(*, n)``.
        covariance_matrix (Tensor): ``(*, n, n)``.
        precision_matrix (Tensor): ``(*, n, n)``.
        scale_tril (Tensor): ``(*, n, n)``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import MultivariateNormal
        >>> m = MultivariateNormal(ttorch.zeros(2), ttorch.tensor([[2.0, 0.5], [0.5, 1.0]]))
        >>> m.sample((3,)).shape
        ttorch.Size([3, 2])
        >>> print(round(m.log_prob(ttorch.tensor([1.0, -1.0])).item(), 4), round(m.entropy().item(), 4))
        -3.2605 3.1177
    """
    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        for name, mat in (("scale_tril", scale_tril), ("covariance_matrix", covariance_matrix),
                          ("precision_matrix", precision_matrix)):
            if mat is None:
                continue
            if mat.dim() < 2:
                what = "scale_tril matrix" if name == "scale_tril" else name
                raise ValueError(f"{what} must be at least two-dimensional, with optional leading batch dimensions")
            batch_shape = ttorch.broadcast_shapes(tuple(mat.shape[:-2]), tuple(loc.shape[:-1]))
            setattr(self, name, mat.expand(tuple(batch_shape) + (-1, -1)))
        self.loc = loc.expand(tuple(batch_shape) + (-1,))
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = ttorch.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        loc_shape = tuple(batch_shape) + tuple(self.event_shape)
        cov_shape = loc_shape + tuple(self.event_shape)
        new.loc = self.loc.expand(loc_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        super(MultivariateNormal, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape) + tuple(self._event_shape)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return ttorch.matmul(L, L.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        return ttorch.cholesky_inverse(self._unbroadcasted_scale_tril).expand(self._matrix_shape())

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return (self._unbroadcasted_scale_tril.pow(2).sum(-1)
                .expand(tuple(self._batch_shape) + tuple(self._event_shape)))

    def rsample(self, sample_shape=ttorch.Size()):
        shape = self._extended_shape(sample_shape)
        eps = _standard_normal(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + M) - half_log_det

    def entropy(self):
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        H = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + half_log_det
        return H if len(self._batch_shape) == 0 else H.expand(tuple(self._batch_shape))
