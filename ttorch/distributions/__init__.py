"""``ttorch.distributions``: PyTorch's ``torch.distributions``, composed of ttorch ops.

Parameterizable probability distributions and sampling functions: ``sample``/``rsample`` (the
latter reparameterized, so gradients reach the parameters), ``log_prob``, ``cdf``/``icdf``,
``entropy``, ``mean``/``variance``, ``expand``, ``enumerate_support``, argument validation, the
``constraints`` and ``transforms`` modules and ``kl_divergence``. Everything runs on cpu and cuda.

Where it differs from PyTorch:

- Poisson, binomial and gamma samples (and Chi2, Beta, Dirichlet, StudentT, built on gamma) come
  from exact vectorized compositions of ttorch ops (``samplers.py``), not PyTorch's kernels; no
  seed gives PyTorch's random streams anyway;
- the gamma's reparameterized gradient sums the series of the implicit derivative exactly
  (PyTorch approximates it, to about 1e-3); Dirichlet and Beta samples differentiate through the
  normalisation of gamma samples (PyTorch has its own formula): both unbiased, per-sample values
  differ;
- masked assignments (``kl[mask] = inf``) are ``ttorch.where``; ``Multinomial.entropy`` works in
  the dtype of ``probs`` (PyTorch's in float32) and after ``expand``;
- ``Wishart.rsample`` warns "Singular sample detected." and redraws only when a sample is singular
  (PyTorch 2.13 tests ``support.check`` without negating it: it warns on every call and redraws
  all the regular samples once, the same distribution);
- ``LKJCholesky`` keeps PyTorch's onion sampler, Beta radii included (rows past the second are
  more spread out than LKJ's marginals; ``log_prob`` is exact);
- PyTorch's module paths (``ttorch.distributions.normal``...) are aliases of grouped modules.

Example::

    >>> import ttorch
    >>> import ttorch.distributions as D
    >>> loc = ttorch.tensor([0.0, 1.0], requires_grad=True)
    >>> m = D.Normal(loc, 1.0)
    >>> loss = -m.log_prob(ttorch.tensor([0.5, 0.5])).sum()
    >>> loss.backward()
    >>> loc.grad
    tensor([-0.5000,  0.5000])
"""
from . import constraints, transforms
from .distribution import Distribution, ExponentialFamily
from .univariate import Normal, Uniform, Exponential, Laplace, Cauchy
from .transformed import Independent, TransformedDistribution, LogNormal, Gumbel
from .discrete import Bernoulli, Categorical, OneHotCategorical, OneHotCategoricalStraightThrough, Geometric, Poisson
from .binomial import Binomial, Multinomial
from .multivariate_normal import MultivariateNormal
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .wishart import Wishart
from .lkj_cholesky import LKJCholesky
from .relaxed import RelaxedBernoulli, RelaxedOneHotCategorical
from .gamma import Gamma, Chi2, Dirichlet, Beta, StudentT
from .transformed_families import HalfNormal, HalfCauchy, Pareto, Weibull, Kumaraswamy, InverseGamma, LogisticNormal
from .continuous_bernoulli import ContinuousBernoulli
from .fishersnedecor import FisherSnedecor, GeneralizedPareto
from .negative_binomial import NegativeBinomial
from .von_mises import VonMises
from .kl import kl_divergence, register_kl
from . import _kl_more, _kl_lowrank  # noqa: F401  (register the KL pairs of the families above)
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform, CorrCholeskyTransform,
                         CumulativeDistributionTransform, ExpTransform, IndependentTransform, LowerCholeskyTransform,
                         PositiveDefiniteTransform, PowerTransform, ReshapeTransform, SigmoidTransform,
                         SoftplusTransform, SoftmaxTransform, StackTransform, StickBreakingTransform, TanhTransform,
                         Transform, identity_transform)
from .constraint_registry import biject_to, transform_to

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli", "Dirichlet",
           "Distribution", "Exponential", "ExponentialFamily", "FisherSnedecor", "Gamma", "GeneralizedPareto",
           "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "InverseGamma", "Kumaraswamy",
           "LKJCholesky", "Laplace", "LogNormal", "LogisticNormal", "LowRankMultivariateNormal",
           "MixtureSameFamily", "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal",
           "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto", "Poisson", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution", "Uniform", "VonMises", "Weibull",
           "Wishart", "biject_to", "constraints", "kl_divergence", "register_kl", "transform_to", "transforms",
           "AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform", "CorrCholeskyTransform",
           "CumulativeDistributionTransform", "ExpTransform", "IndependentTransform", "LowerCholeskyTransform",
           "PositiveDefiniteTransform", "PowerTransform", "ReshapeTransform", "SigmoidTransform",
           "SoftplusTransform", "SoftmaxTransform", "StackTransform", "StickBreakingTransform", "TanhTransform",
           "Transform", "identity_transform"]


def _alias_pytorch_modules():
    """PyTorch's one-module-per-class paths (``torch.distributions.normal``...) as aliases of the
    grouped modules here, so ``from ttorch.distributions.normal import Normal`` ports unchanged."""
    import sys
    from . import (binomial, discrete, distribution, fishersnedecor, gamma, kl, multivariate_normal, relaxed,
                   transformed, transformed_families, univariate, utils)
    groups = {univariate: ["normal", "uniform", "exponential", "laplace", "cauchy"],
              transformed: ["independent", "transformed_distribution", "log_normal", "gumbel"],
              discrete: ["bernoulli", "categorical", "one_hot_categorical", "geometric", "poisson"],
              binomial: ["multinomial"], relaxed: ["relaxed_bernoulli", "relaxed_categorical"],
              gamma: ["chi2", "dirichlet", "beta", "studentT"], distribution: ["exp_family"],
              transformed_families: ["half_normal", "half_cauchy", "pareto", "weibull", "kumaraswamy",
                                     "inverse_gamma", "logistic_normal"],
              fishersnedecor: ["generalized_pareto"]}
    for module, names in groups.items():
        for name in names:
            sys.modules.setdefault(f"{__name__}.{name}", module)
            globals().setdefault(name, module)
    del binomial, kl, multivariate_normal, utils


_alias_pytorch_modules()
