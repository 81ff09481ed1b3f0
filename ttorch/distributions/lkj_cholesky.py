"""``LKJCholesky``: the LKJ distribution over Cholesky factors of correlation matrices, sampled by
the onion method (Lewandowski, Kurowicka and Joe, 2009) as PyTorch does: row ``i`` is a uniform
direction on the ``i``-sphere scaled by the square root of a Beta draw, the diagonal entry
completing the unit norm."""
import math

import ttorch
from . import constraints
from .distribution import Distribution
from .gamma import Beta
from .utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """LKJ distribution of lower Cholesky factors ``L`` of correlation matrices ``L L^T``, whose
    density is proportional to ``det(L L^T) ** (concentration - 1)``.

    Args:
        dim (int): the matrix dimension (at least 2).
        concentration (float or Tensor): the shape parameter (``1``: uniform over correlation matrices).

    Example::

        >>> import ttorch
        >>> from ttorch.distributions import LKJCholesky
        >>> d = LKJCholesky(3, 0.5)
        >>> L = d.sample()
        >>> L.shape, bool(d.support.check(L))
        (ttorch.Size([3, 3]), True)
        >>> print(round(d.log_prob(ttorch.eye(3)).item(), 4))
        -2.531
    """
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        event_shape = ttorch.Size((dim, dim))
        # PyTorch's Beta radii, kept: row i >= 1 gets Beta(i - 1/2, eta + (dim - 1 - i) / 2), where the
        # onion method has Beta(i / 2, .); they agree for row 1 only, so later rows' correlations are
        # more spread out than LKJ's (log_prob is exact)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = ttorch.arange(self.dim - 1, dtype=self.concentration.dtype, device=self.concentration.device)
        offset = ttorch.cat([offset.new_zeros((1,)), offset])
        beta_conc1 = offset + 0.5
        beta_conc0 = marginal_conc.unsqueeze(-1) - 0.5 * offset
        self._beta = Beta(beta_conc1, beta_conc0)
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = ttorch.Size(tuple(batch_shape))
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(tuple(batch_shape) + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=ttorch.Size()):
        with ttorch.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)                       # (S, B, dim, 1)
            u_normal = ttorch.randn(self._extended_shape(sample_shape), dtype=y.dtype, device=y.device).tril(-1)
            norm = u_normal.norm(dim=-1, keepdim=True)
            # row 0 is all zeros (0 / 0): PyTorch fills it with zeros afterwards
            first_row = ttorch.arange(self.dim, device=y.device).reshape(self.dim, 1) == 0
            u_hypersphere = ttorch.where(first_row, 0.0, u_normal / ttorch.where(first_row, 1.0, norm))
            w = ttorch.sqrt(y) * u_hypersphere
            eps = ttorch.finfo(w.dtype).tiny
            diag_elems = ttorch.clamp(1 - ttorch.sum(w ** 2, dim=-1), min=eps).sqrt()
            return w + ttorch.diag_embed(diag_elems)

    def log_prob(self, value):
        # the density of L (not of L L^T): the Jacobian of L -> L L^T gives prod_i L_ii^(dim - i)
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = ttorch.arange(2, self.dim + 1, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = ttorch.sum(order * diag_elems.log(), dim=-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = ttorch.lgamma(alpha) * dm1
        numerator = ttorch.mvlgamma(alpha - 0.5, dm1)
        # mvlgamma's pi term is 0.25 dm1 (dm1 - 1) log(pi); the normaliser needs 0.25 dm1 (dm1 + 1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        normalize_term = pi_constant + numerator - denominator
        return unnormalized_log_pdf - normalize_term
