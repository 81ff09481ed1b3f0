"""ttorch.distributions against closed forms and numerical integration in NumPy (float64):
log-densities, cdf/icdf, moments and entropies integrated on a grid, KL divergences integrated
or summed, sample moments and goodness of fit (fixed seeds, tolerances far from flaking),
gradients (gradcheck of log_prob and rsample, the implicit gradient of gamma samples),
validation errors, shapes, transforms, and a small cpu/cuda parity check."""
import doctest
import importlib
import math

import numpy as np
import pytest

import ttorch
import ttorch.distributions as D
from ttorch.autograd import gradcheck
from ttorch.distributions import constraints, transforms as Tr
from ttorch.distributions.relaxed import ExpRelaxedCategorical, LogitRelaxedBernoulli

LG = np.vectorize(math.lgamma)


def t64(v, device="cpu", grad=False):
    return ttorch.tensor(v, dtype=ttorch.float64, device=device, requires_grad=grad)


def npy(t):
    return t.detach().cpu().double().numpy()


def trapz(y, x, axis=0):
    return np.trapezoid(y, x, axis=axis) if hasattr(np, "trapezoid") else np.trapz(y, x, axis=axis)


# ----------------------------------------------------------------------------------- continuous
# (name, factory of float64 params, params, closed-form log density (x, *params), grid kind)
def _logpdf_t(x, df, loc, sc):
    y = (x - loc) / sc
    return (LG((df + 1) / 2) - LG(df / 2) - 0.5 * np.log(df * math.pi) - np.log(sc)
            - (df + 1) / 2 * np.log1p(y * y / df))


CONTINUOUS = [
    ("normal", D.Normal, ([0.0, 1.5], [1.0, 0.3]),
     lambda x, m, s: -((x - m) / s) ** 2 / 2 - np.log(s) - 0.5 * math.log(2 * math.pi), "real"),
    ("laplace", D.Laplace, ([0.0, 1.0], [1.0, 0.2]), lambda x, m, b: -np.abs(x - m) / b - np.log(2 * b), "real"),
    ("cauchy", D.Cauchy, ([0.0, 1.0], [1.0, 0.2]),
     lambda x, m, s: -np.log(math.pi * s * (1 + ((x - m) / s) ** 2)), "real"),
    ("gumbel", D.Gumbel, ([0.0, 1.0], [1.0, 0.5]),
     lambda x, m, b: -(x - m) / b - np.exp(-(x - m) / b) - np.log(b), "real"),
    ("studentt", D.StudentT, ([5.0, 30.0], [0.0, 1.0], [1.0, 2.0]), _logpdf_t, "real"),
    ("exponential", D.Exponential, ([0.5, 3.0],), lambda x, r: np.log(r) - r * x, "positive"),
    ("lognormal", D.LogNormal, ([0.0, 1.0], [0.5, 0.3]),
     lambda x, m, s: -((np.log(x) - m) / s) ** 2 / 2 - np.log(s * x) - 0.5 * math.log(2 * math.pi), "positive"),
    ("gamma", D.Gamma, ([1.0, 4.5], [1.0, 3.0]),
     lambda x, a, b: a * np.log(b) + (a - 1) * np.log(x) - b * x - LG(a), "positive"),
    ("chi2", D.Chi2, ([3.0, 7.0],), lambda x, k: (k / 2 - 1) * np.log(x) - x / 2 - k / 2 * math.log(2) - LG(k / 2),
     "positive"),
    ("beta", D.Beta, ([1.5, 2.0], [2.5, 1.0]),
     lambda x, a, b: (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - LG(a) - LG(b) + LG(a + b), "unit"),
    ("uniform", D.Uniform, ([0.0, -1.0], [1.0, 3.0]), lambda x, lo, hi: -np.log(hi - lo) + 0 * x, "uniform"),
]


def _grid(kind, params, n=40001):
    """A (n, batch) grid covering the support densely where the mass is."""
    if kind == "real":
        u = np.sinh(np.linspace(-12.0, 12.0, n))[:, None]        # +-81000, fine near 0
        return u * np.ones(len(params[0]))
    if kind == "positive":
        return np.exp(np.linspace(math.log(1e-14), math.log(300.0), n))[:, None] * np.ones(len(params[0]))
    if kind == "unit":
        return (1 / (1 + np.exp(-np.linspace(-35.0, 35.0, n))))[:, None] * np.ones(len(params[0]))
    lo, hi = np.array(params[0]), np.array(params[1])
    return lo + (hi - lo) * np.linspace(1e-12, 1 - 1e-12, n)[:, None]


@pytest.mark.parametrize("name,cls,params,logpdf,kind", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_values_moments_entropy(name, cls, params, logpdf, kind):
    d = cls(*[t64(p) for p in params])
    x = _grid(kind, params)
    lp = npy(d.log_prob(t64(x)))
    np.testing.assert_allclose(lp, logpdf(x, *[np.array(p) for p in params]), rtol=1e-9, atol=1e-9)
    pdf = np.exp(lp)
    np.testing.assert_allclose(trapz(pdf, x), 1.0, rtol=2e-5)
    if name != "cauchy":       # Cauchy: no mean, infinite variance (nan and inf, as PyTorch)
        mean = trapz(x * pdf, x)
        np.testing.assert_allclose(npy(d.mean), mean, rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(npy(d.variance), trapz((x - mean) ** 2 * pdf, x), rtol=2e-3)
        np.testing.assert_allclose(npy(d.stddev) ** 2, npy(d.variance), rtol=1e-12)
    else:
        assert np.isnan(npy(d.mean)).all() and np.isinf(npy(d.variance)).all()
    np.testing.assert_allclose(npy(d.entropy()), trapz(-np.where(pdf > 0, pdf * lp, 0.0), x), rtol=1e-4, atol=1e-5)
    if name not in ("studentt", "beta"):                       # PyTorch has no cdf for these
        # (Gumbel's cdf inverts onto its base Uniform(tiny, 1 - eps), whose check fails far right, as PyTorch's)
        d = cls(*[t64(p) for p in params], validate_args=False)
        cum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(x, axis=0), 0)])
        pick = slice(5000, 35000, 997)
        np.testing.assert_allclose(npy(d.cdf(t64(x[pick]))), cum[pick], atol=3e-4)
    if name not in ("studentt", "beta", "gamma", "chi2"):      # icdf where PyTorch has it
        q = t64(np.array([[0.01, 0.3], [0.5, 0.77], [0.99, 0.999]]))
        np.testing.assert_allclose(npy(d.cdf(d.icdf(q))), npy(q), rtol=1e-9, atol=1e-12)


def test_cauchy_cdf_and_modes():
    d = D.Cauchy(t64([0.0, 1.0]), t64([1.0, 0.2]))
    x = np.array([-3.0, 1.7])
    np.testing.assert_allclose(npy(d.cdf(t64(x))), np.arctan((x - [0, 1]) / [1, 0.2]) / math.pi + 0.5, rtol=1e-12)
    modes = {"normal": [0.0, 1.5], "laplace": [0.0, 1.0], "gumbel": [0.0, 1.0], "exponential": [0.0, 0.0],
             "gamma": [0.0, 3.5 / 3.0], "lognormal": [math.exp(-0.25), math.exp(1 - 0.09)], "beta": [0.25, 1.0]}
    for name, cls, params, _, _ in CONTINUOUS:
        if name in modes:
            np.testing.assert_allclose(npy(cls(*[t64(p) for p in params]).mode), modes[name], rtol=1e-12)
    assert np.isnan(npy(D.Uniform(0.0, 1.0).mode))


# ------------------------------------------------------------------------------------- discrete
DISCRETE = [
    ("bernoulli", lambda: D.Bernoulli(t64([0.1, 0.93])), lambda k: np.where(k == 1, [0.1, 0.93], [0.9, 0.07]), 2),
    ("bernoulli_logits", lambda: D.Bernoulli(logits=t64([-2.0, 3.0])),
     lambda k: np.where(k == 1, 1 / (1 + np.exp([2.0, -3.0])), 1 / (1 + np.exp([-2.0, 3.0]))), 2),
    ("geometric", lambda: D.Geometric(t64([0.3, 0.9])), lambda k: (1 - np.array([0.3, 0.9])) ** k * [0.3, 0.9], 80),
    ("poisson", lambda: D.Poisson(t64([0.5, 30.0])),
     lambda k: np.exp(k * np.log([0.5, 30.0]) - [0.5, 30.0] - LG(k + 1)), 120),
    ("binomial", lambda: D.Binomial(t64([10.0, 10.0]), t64([0.2, 0.95])),
     lambda k: np.exp(LG(11) - LG(k + 1) - LG(11 - k) + k * np.log([0.2, 0.95]) + (10 - k) * np.log([0.8, 0.05])), 11),
    ("binomial_logits", lambda: D.Binomial(5, logits=t64([-1.0, 2.0])),
     lambda k: np.exp(LG(6) - LG(k + 1) - LG(6 - k) - 5 * np.log1p(np.exp([-1.0, 2.0])) + k * np.array([-1.0, 2.0])),
     6),
]


@pytest.mark.parametrize("name,make,pmf,kmax", DISCRETE, ids=[c[0] for c in DISCRETE])
def test_discrete_pmf_moments_entropy(name, make, pmf, kmax):
    d = make()
    k = np.arange(kmax, dtype=np.float64)[:, None] * np.ones(2)
    p = pmf(k)
    np.testing.assert_allclose(np.exp(npy(d.log_prob(t64(k)))), p, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(p.sum(0), 1.0, rtol=1e-9)
    mean = (k * p).sum(0)
    np.testing.assert_allclose(npy(d.mean), mean, rtol=1e-9)
    np.testing.assert_allclose(npy(d.variance), ((k - mean) ** 2 * p).sum(0), rtol=1e-8)
    if name != "poisson":       # PyTorch has no Poisson entropy either
        np.testing.assert_allclose(npy(d.entropy()), -(np.where(p > 0, p * np.log(p), 0)).sum(0), rtol=1e-8)
    if d.has_enumerate_support:
        sup = d.enumerate_support()
        assert tuple(sup.shape) == (kmax, 2)
        assert tuple(d.enumerate_support(expand=False).shape) == (kmax, 1)


def test_categorical_family():
    probs = np.array([[0.1, 0.2, 0.7], [1.0, 1.0, 2.0]])
    pn = probs / probs.sum(-1, keepdims=True)
    for d in (D.Categorical(t64(probs)), D.Categorical(logits=t64(np.log(probs)))):
        np.testing.assert_allclose(npy(d.probs), pn, rtol=1e-12)
        np.testing.assert_allclose(npy(d.log_prob(t64([2.0, 0.0]))), np.log([pn[0, 2], pn[1, 0]]), rtol=1e-12)
        np.testing.assert_allclose(npy(d.entropy()), -(pn * np.log(pn)).sum(-1), rtol=1e-12)
        assert d.mode.tolist() == [2, 2] and d.enumerate_support().shape == (3, 2)
        assert np.isnan(npy(d.mean)).all()
    oh = D.OneHotCategorical(t64(probs))
    np.testing.assert_allclose(npy(oh.log_prob(t64([[0, 0, 1], [1, 0, 0]]))), np.log([pn[0, 2], pn[1, 0]]))
    np.testing.assert_allclose(npy(oh.variance), pn * (1 - pn), rtol=1e-12)
    assert oh.enumerate_support().shape == (3, 2, 3) and oh.mode.tolist() == [[0, 0, 1], [0, 0, 1]]
    m = D.Multinomial(7, t64(probs))
    x = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 7.0]])
    ref = LG(8) - LG(x + 1).sum(-1) + (x * np.log(pn)).sum(-1)
    np.testing.assert_allclose(npy(m.log_prob(t64(x))), ref, rtol=1e-12)
    # entropy by enumerating all count vectors of 7 draws into 3 categories
    counts = np.array([(a, b, 7 - a - b) for a in range(8) for b in range(8 - a)], dtype=np.float64)[:, None]
    lp = LG(8) - LG(counts + 1).sum(-1) + (counts * np.log(pn)).sum(-1)
    np.testing.assert_allclose(npy(m.entropy()), -(np.exp(lp) * lp).sum(0), rtol=1e-10)
    np.testing.assert_allclose(npy(m.mean), 7 * pn, rtol=1e-12)


def test_dirichlet_and_mvn():
    a = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])
    d = D.Dirichlet(t64(a))
    x = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    ref = LG(a.sum(-1)) - LG(a).sum(-1) + ((a - 1) * np.log(x)).sum(-1)
    np.testing.assert_allclose(npy(d.log_prob(t64(x))), ref, rtol=1e-12)
    a0 = a.sum(-1, keepdims=True)
    np.testing.assert_allclose(npy(d.variance), a * (a0 - a) / (a0 ** 2 * (a0 + 1)), rtol=1e-12)
    np.testing.assert_allclose(npy(d.mode), [[0.0, 1 / 3, 2 / 3], [0.0, 0.0, 1.0]], atol=1e-12)
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    loc = np.array([[0.0, 1.0], [2.0, -1.0]])
    v = np.array([[1.0, -1.0], [0.3, 0.2]])
    diff = v - loc
    ref = -0.5 * (np.einsum("bi,ij,bj->b", diff, np.linalg.inv(cov), diff) + np.log(np.linalg.det(cov))
                  + 2 * math.log(2 * math.pi))
    for m in (D.MultivariateNormal(t64(loc), t64(cov)),
              D.MultivariateNormal(t64(loc), precision_matrix=t64(np.linalg.inv(cov))),
              D.MultivariateNormal(t64(loc), scale_tril=t64(np.linalg.cholesky(cov)))):
        np.testing.assert_allclose(npy(m.log_prob(t64(v))), ref, rtol=1e-12)
        np.testing.assert_allclose(npy(m.covariance_matrix), np.broadcast_to(cov, (2, 2, 2)), rtol=1e-12)
        np.testing.assert_allclose(npy(m.precision_matrix)[0], np.linalg.inv(cov), rtol=1e-12)
        np.testing.assert_allclose(npy(m.variance), [[2.0, 1.0]] * 2, rtol=1e-12)
        np.testing.assert_allclose(npy(m.entropy()), [0.5 * np.log(np.linalg.det(2 * math.pi * math.e * cov))] * 2)
    # log_prob of a (3, 2)-batch of values against a (2,)-batch of factors (the reshaping Mahalanobis)
    m = D.MultivariateNormal(t64(loc), scale_tril=t64(np.stack([np.linalg.cholesky(cov), np.eye(2)])))
    vv = np.arange(12.0).reshape(3, 2, 2) / 7
    got = npy(m.log_prob(t64(vv)))
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got[:, 1], -0.5 * (((vv[:, 1] - loc[1]) ** 2).sum(-1) + 2 * math.log(2 * math.pi)))


def test_relaxed():
    t = t64([0.7])
    d = LogitRelaxedBernoulli(t, logits=t64([-1.0, 2.0]))
    x = np.array([0.3, -2.0])
    diff = np.array([-1.0, 2.0]) - 0.7 * x
    np.testing.assert_allclose(npy(d.log_prob(t64(x))), math.log(0.7) + diff - 2 * np.log1p(np.exp(diff)))
    rb = D.RelaxedBernoulli(t, logits=t64([-1.0, 2.0]))
    y = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(npy(rb.log_prob(t64(y))), npy(d.log_prob(t64(x))) - np.log(y * (1 - y)), rtol=1e-9)
    u = 1 / (1 + np.exp(-np.linspace(-60.0, 60.0, 200001)))[:, None]    # dense at the singular ends
    np.testing.assert_allclose(trapz(np.exp(npy(rb.log_prob(t64(u * np.ones(2))))), u), 1.0, rtol=1e-4)
    K, lam = 3, 0.8
    logits = np.log([0.1, 0.2, 0.7])
    rc = D.RelaxedOneHotCategorical(t64([lam]), t64([0.1, 0.2, 0.7]))
    x = np.array([0.2, 0.3, 0.5])
    # Concrete density (Maddison et al. eq. 4) on the simplex, w.r.t. the first K - 1 coordinates
    ref = LG(K) + (K - 1) * math.log(lam) + (logits - (lam + 1) * np.log(x)).sum() \
        - K * np.log(np.exp(logits - lam * np.log(x)).sum())
    er = ExpRelaxedCategorical(t64([lam]), logits=t64(logits))
    np.testing.assert_allclose(npy(er.log_prob(t64(np.log(x)))), ref + np.log(x).sum(), rtol=1e-10)
    np.testing.assert_allclose(npy(rc.log_prob(t64(x))), ref, rtol=1e-10)
    s = rc.rsample((5,))
    np.testing.assert_allclose(npy(s.sum(-1)), 1.0, rtol=1e-12)


# -------------------------------------------------------------------------------------- KL
def _kl_grid(p, q, kind, n=200001):
    if kind == "real":
        x = np.sinh(np.linspace(-14.0, 14.0, n))
    elif kind == "positive":
        x = np.exp(np.linspace(math.log(1e-12), math.log(200.0), n))
    elif kind == "unit":
        x = 1 / (1 + np.exp(-np.linspace(-30.0, 30.0, n)))
    else:
        lo, hi = float(p.low), float(p.high)
        x = lo + (hi - lo) * np.linspace(1e-12, 1 - 1e-12, n)
    p._validate_args = q._validate_args = False
    lp, lq = npy(p.log_prob(t64(x))), npy(q.log_prob(t64(x)))
    with np.errstate(invalid="ignore"):
        return trapz(np.where(np.exp(lp) > 0, np.exp(lp) * (lp - lq), 0.0), x)


KL_CONT = [
    (D.Normal(0.3, 1.2), D.Normal(-0.5, 0.7), "real"), (D.Laplace(0.3, 1.2), D.Laplace(-0.5, 0.7), "real"),
    (D.Cauchy(0.3, 1.2), D.Cauchy(-0.5, 0.7), "real"), (D.Gumbel(0.3, 1.2), D.Gumbel(-0.5, 0.7), "real"),
    (D.Exponential(0.8), D.Exponential(2.0), "positive"), (D.Gamma(2.5, 1.5), D.Gamma(1.5, 0.7), "positive"),
    (D.Chi2(3.0), D.Chi2(5.0), "positive"), (D.LogNormal(0.3, 0.6), D.LogNormal(-0.2, 0.9), "positive"),
    (D.Beta(2.0, 3.0), D.Beta(1.5, 1.2), "unit"), (D.Uniform(0.2, 0.7), D.Uniform(0.0, 1.0), "uniform"),
    (D.Beta(2.0, 3.0), D.Exponential(2.0), "unit"), (D.Beta(2.0, 3.0), D.Gamma(1.5, 2.0), "unit"),
    (D.Beta(2.0, 3.0), D.Normal(0.3, 0.5), "unit"), (D.Beta(2.0, 3.0), D.Uniform(-0.5, 1.5), "unit"),
    (D.Exponential(0.8), D.Gamma(1.5, 2.0), "positive"), (D.Exponential(0.8), D.Gumbel(0.5, 1.5), "positive"),
    (D.Exponential(0.8), D.Normal(0.5, 1.5), "positive"), (D.Gamma(2.5, 1.5), D.Exponential(0.6), "positive"),
    (D.Gamma(2.5, 1.5), D.Gumbel(0.5, 1.5), "positive"), (D.Gamma(2.5, 1.5), D.Normal(0.5, 1.5), "positive"),
    (D.Gumbel(0.3, 1.2), D.Normal(-0.5, 1.7), "real"), (D.Laplace(0.3, 1.2), D.Normal(-0.5, 1.7), "real"),
    (D.Normal(0.3, 1.2), D.Gumbel(-0.5, 1.7), "real"), (D.Normal(0.3, 1.2), D.Laplace(-0.5, 1.7), "real"),
    (D.Uniform(0.2, 0.7), D.Beta(1.5, 2.5), "uniform"), (D.Uniform(0.2, 0.7), D.Exponential(2.0), "uniform"),
    (D.Uniform(0.2, 0.7), D.Gamma(1.5, 2.0), "uniform"), (D.Uniform(0.2, 0.7), D.Gumbel(0.5, 1.5), "uniform"),
    (D.Uniform(0.2, 0.7), D.Normal(0.5, 1.5), "uniform"),
]


@pytest.mark.parametrize("p,q,kind", KL_CONT, ids=[f"{type(p).__name__}-{type(q).__name__}" for p, q, _ in KL_CONT])
def test_kl_continuous_by_integration(p, q, kind):
    np.testing.assert_allclose(D.kl_divergence(p, q).item(), _kl_grid(p, q, kind), rtol=2e-4, atol=1e-6)


def test_kl_discrete_multivariate_and_infinite():
    k = t64(np.arange(200.0))
    pairs = [(D.Bernoulli(0.3), D.Bernoulli(0.8)), (D.Geometric(0.3), D.Geometric(0.5)),
             (D.Poisson(4.0), D.Poisson(6.5)), (D.Binomial(10, t64(0.3)), D.Binomial(10, t64(0.6))),
             (D.Bernoulli(0.3), D.Poisson(0.5))]
    for p, q in pairs:
        n = 2 if isinstance(p, D.Bernoulli) else 11 if isinstance(p, D.Binomial) else 200
        lp, lq = npy(p.log_prob(k[:n])), npy(q.log_prob(k[:n]))
        np.testing.assert_allclose(D.kl_divergence(p, q).item(), (np.exp(lp) * (lp - lq)).sum(), rtol=1e-6)
    a, b = np.array([0.1, 0.2, 0.7]), np.array([0.3, 0.3, 0.4])
    for cls in (D.Categorical, D.OneHotCategorical):
        np.testing.assert_allclose(D.kl_divergence(cls(t64(a)), cls(t64(b))).item(), (a * np.log(a / b)).sum())
    ca, cb = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    ref = (LG(ca.sum()) - LG(ca).sum() - LG(cb.sum()) + LG(cb).sum()
           + ((ca - cb) * (_digamma(ca) - _digamma(ca.sum()))).sum())
    np.testing.assert_allclose(D.kl_divergence(D.Dirichlet(t64(ca)), D.Dirichlet(t64(cb))).item(), ref, rtol=1e-10)
    S0, S1 = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, -0.3], [-0.3, 0.8]])
    m0, m1 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    ref = 0.5 * (np.trace(np.linalg.solve(S1, S0)) + (m1 - m0) @ np.linalg.solve(S1, m1 - m0) - 2
                 + np.log(np.linalg.det(S1) / np.linalg.det(S0)))
    got = D.kl_divergence(D.MultivariateNormal(t64(m0), t64(S0)), D.MultivariateNormal(t64(m1), t64(S1)))
    np.testing.assert_allclose(got.item(), ref, rtol=1e-12)
    ind = D.kl_divergence(D.Independent(D.Normal(t64([0.0, 1.0]), t64([1.0, 2.0])), 1),
                          D.Independent(D.Normal(t64([0.5, 0.0]), t64([1.0, 1.0])), 1))
    assert ind.shape == () and ind.item() > 0
    inf = [(D.Normal(0.0, 1.0), D.Uniform(-1.0, 1.0)), (D.Exponential(1.0), D.Beta(1.0, 1.0)),
           (D.Gamma(2.0, 1.0), D.Uniform(0.0, 1.0)), (D.Gumbel(0.0, 1.0), D.Exponential(1.0)),
           (D.Laplace(0.0, 1.0), D.Gamma(1.0, 1.0)), (D.Poisson(1.0), D.Bernoulli(0.5)),
           (D.Uniform(-0.5, 0.5), D.Exponential(1.0)), (D.Uniform(0.0, 2.0), D.Uniform(0.0, 1.0)),
           (D.Bernoulli(0.5), D.Bernoulli(0.0))]
    for p, q in inf:
        assert D.kl_divergence(p, q).item() == math.inf, (p, q)
    assert D.kl_divergence(D.Bernoulli(0.0), D.Bernoulli(0.0)).item() == 0.0
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Cauchy(0.0, 1.0), D.Normal(0.0, 1.0))
    # the Bregman-divergence fallback of exponential families agrees with the closed forms
    from ttorch.distributions.kl import _kl_expfamily_expfamily
    for p, q in [(D.Normal(0.3, 1.2), D.Normal(-0.5, 0.7)), (D.Gamma(2.5, 1.5), D.Gamma(1.5, 0.7)),
                 (D.Beta(2.0, 3.0), D.Beta(1.5, 1.2)), (D.Poisson(4.0), D.Poisson(6.5))]:
        np.testing.assert_allclose(_kl_expfamily_expfamily(p, q).item(), D.kl_divergence(p, q).item(), rtol=1e-5)
        if isinstance(p, (D.Normal, D.Gamma)):   # the others lack _mean_carrier_measure, as in PyTorch
            np.testing.assert_allclose(D.ExponentialFamily.entropy(p).item(), p.entropy().item(), rtol=1e-5)


def _digamma(x):
    x = np.asarray(x, dtype=np.float64) + 0.0
    acc = np.zeros_like(x)
    while (x < 8).any():
        acc -= np.where(x < 8, 1 / x, 0)
        x = np.where(x < 8, x + 1, x)
    return acc + np.log(x) - 1 / (2 * x) - 1 / (12 * x ** 2) + 1 / (120 * x ** 4) - 1 / (252 * x ** 6)


def test_register_kl_dispatch():
    class MyNormal(D.Normal):
        pass

    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 0.0

    @D.register_kl(MyNormal, MyNormal)
    def _mine(p, q):
        return ttorch.tensor(42.0)

    assert D.kl_divergence(MyNormal(0.0, 1.0), MyNormal(0.0, 1.0)).item() == 42.0
    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 0.0


# -------------------------------------------------------------------------------- sampling
def _z(x, mean, var):
    n = x.shape[0]
    return np.abs(x.mean(0) - mean) / np.sqrt(var / n)


SAMPLED = [
    lambda: D.Normal(t64([0.0, 1.5]), t64([1.0, 0.3])), lambda: D.Uniform(t64([0.0, -1.0]), t64([1.0, 3.0])),
    lambda: D.Exponential(t64([0.5, 7.0])), lambda: D.Laplace(t64([0.0, 1.0]), t64([1.0, 0.2])),
    lambda: D.LogNormal(t64([0.0, 1.0]), t64([0.5, 0.3])), lambda: D.Gumbel(t64([0.0, 1.0]), t64([1.0, 0.5])),
    lambda: D.Bernoulli(t64([0.1, 0.93])), lambda: D.Geometric(t64([0.1, 0.9])),
    lambda: D.Poisson(t64([0.0, 0.5, 4.0, 10.0, 30.0, 1000.0])),
    lambda: D.Binomial(t64([10.0, 10.0, 100.0, 1000.0, 0.0, 50.0]), t64([0.2, 0.95, 0.3, 0.6, 0.5, 1.0])),
    lambda: D.Gamma(t64([0.05, 0.5, 1.0, 2.0, 100.0]), t64([1.0, 3.0, 1.0, 0.5, 2.0])),
    lambda: D.Chi2(t64([1.0, 3.0])), lambda: D.Beta(t64([0.5, 2.0, 5.0]), t64([0.5, 3.0, 1.0])),
    lambda: D.StudentT(t64([5.0, 30.0]), t64([0.0, 1.0]), t64([1.0, 2.0])), lambda: D.Dirichlet(t64([0.5, 2.0, 3.0])),
    lambda: D.MultivariateNormal(t64([0.0, 1.0]), t64([[2.0, 0.5], [0.5, 1.0]])),
    lambda: D.OneHotCategorical(t64([0.1, 0.2, 0.7])), lambda: D.Multinomial(7, t64([0.1, 0.2, 0.7])),
]


@pytest.mark.parametrize("make", SAMPLED, ids=lambda m: type(m()).__name__)
def test_sample_moments(make):
    ttorch.manual_seed(1234)
    d = make()
    x = npy(d.sample((40000,)))
    assert x.shape == (40000,) + tuple(d.batch_shape) + tuple(d.event_shape)
    mean, var = npy(d.mean), npy(d.variance)
    assert _z(x, mean, np.where(var > 0, var, 1)).max() < 5.5
    fourth = ((x - mean) ** 4).mean(0)
    assert _z((x - mean) ** 2, var, np.where(fourth > var ** 2, fourth - var ** 2, 1)).max() < 5.5
    assert bool(d.support.check(t64(x)).all())


def test_discrete_samplers_fit_their_pmf():
    """Chi-square goodness of fit of the exact Poisson/binomial samplers, on both sides of their
    method switch (counting below a mean of 10, rejection above)."""
    ttorch.manual_seed(7)
    cases = [D.Poisson(t64([3.0, 12.5, 40.0])), D.Binomial(t64([20.0, 60.0, 300.0]), t64([0.3, 0.4, 0.7]))]
    for d in cases:
        x = npy(d.sample((60000,))).astype(int)
        for j in range(x.shape[1]):
            ks = np.arange(x[:, j].max() + 1)
            d._validate_args = False        # ks runs past the other columns' total counts
            p = np.exp(npy(d.log_prob(t64(ks[:, None] * np.ones(x.shape[1])))))[:, j]
            obs = np.bincount(x[:, j], minlength=len(ks))
            m = p * len(x) > 20
            chi = ((obs[m] - len(x) * p[m]) ** 2 / (len(x) * p[m])).sum()
            dof = m.sum() - 1
            assert chi < dof + 6 * math.sqrt(2 * dof), (type(d).__name__, j, chi, dof)


def test_gamma_sampler_ks_and_small_concentration():
    ttorch.manual_seed(3)
    d = D.Gamma(t64([0.3, 1.0, 7.0]), t64([1.0, 2.0, 0.5]))
    x = np.sort(npy(d.sample((20000,))), 0)
    c = npy(d.cdf(t64(x)))
    ks = np.abs(c - np.arange(1, len(x) + 1)[:, None] / len(x)).max(0) * math.sqrt(len(x))
    assert (ks < 2.3).all(), ks          # Kolmogorov: P(sqrt(n) D > 2.3) < 1e-4
    tiny = npy(D.Gamma(t64([1e-3]), t64([1.0])).sample((1000,)))
    assert (tiny >= np.finfo(np.float64).tiny).all() and np.isfinite(tiny).all()


# ------------------------------------------------------------------------------- gradients
def test_log_prob_gradcheck():
    def p(v):
        return t64(v, grad=True)

    x = t64([0.4, 1.3])
    checks = [
        (lambda a, b: D.Normal(a, b).log_prob(x), (p([0.1, 1.0]), p([1.2, 0.4]))),
        (lambda a, b: D.Laplace(a, b).log_prob(x), (p([0.1, 1.0]), p([1.2, 0.4]))),
        (lambda a, b: D.Cauchy(a, b).log_prob(x), (p([0.1, 1.0]), p([1.2, 0.4]))),
        (lambda a, b: D.Gumbel(a, b).log_prob(x), (p([0.1, 1.0]), p([1.2, 0.4]))),
        (lambda a, b: D.LogNormal(a, b).log_prob(x), (p([0.1, 1.0]), p([1.2, 0.4]))),
        (lambda a, b: D.Gamma(a, b).log_prob(x), (p([0.7, 3.0]), p([1.2, 0.4]))),
        (lambda a, b: D.Beta(a, b).log_prob(x / 2), (p([0.7, 3.0]), p([1.2, 0.4]))),
        (lambda a, b, c: D.StudentT(a, b, c).log_prob(x), (p([2.7, 9.0]), p([0.0, 1.0]), p([1.2, 0.4]))),
        (lambda a: D.Exponential(a).log_prob(x), (p([0.7, 3.0]),)),
        (lambda a: D.Poisson(a).log_prob(t64([0.0, 3.0])), (p([0.7, 3.0]),)),
        (lambda a: D.Bernoulli(logits=a).log_prob(t64([0.0, 1.0])), (p([0.7, -3.0]),)),
        (lambda a: D.Geometric(a).log_prob(t64([0.0, 3.0])), (p([0.7, 0.2]),)),
        (lambda a: D.Binomial(6, a).log_prob(t64([0.0, 3.0])), (p([0.7, 0.2]),)),
        (lambda a: D.Categorical(logits=a).log_prob(t64(2.0)), (p([0.7, 0.2, -1.0]),)),
        (lambda a: D.Dirichlet(a).log_prob(t64([0.2, 0.3, 0.5])), (p([0.7, 0.2, 2.0]),)),
        (lambda a: D.Multinomial(5, logits=a).log_prob(t64([1.0, 3.0, 1.0])), (p([0.7, 0.2, -1.0]),)),
        (lambda a, b: D.MultivariateNormal(a, b @ b.mT + t64(np.eye(2))).log_prob(x),
         (p([0.1, 1.0]), p([[1.0, 0.3], [-0.2, 0.5]]))),
        (lambda a, b: D.MultivariateNormal(a, precision_matrix=b @ b.mT + t64(np.eye(2))).log_prob(x),
         (p([0.1, 1.0]), p([[1.0, 0.3], [-0.2, 0.5]]))),
        (lambda t, a: D.RelaxedBernoulli(t, logits=a).log_prob(x / 2), (p([0.7]), p([0.3, -1.0]))),
        (lambda t, a: D.RelaxedOneHotCategorical(t, logits=a).log_prob(t64([0.2, 0.3, 0.5])),
         (p([0.7]), p([0.3, -1.0, 0.5]))),
        (lambda a, b: D.Normal(a, b).cdf(x) + D.Normal(a, b).icdf(t64([0.2, 0.9])), (p([0.1, 1.0]), p([1.2, 0.4]))),
        (lambda b: D.Gamma(t64([2.0, 0.5]), b).cdf(x), (p([1.2, 0.4]),)),
        (lambda a, b: D.kl_divergence(D.Gamma(a, b), D.Gamma(b, a)), (p([0.7, 3.0]), p([1.2, 0.4]))),
    ]
    for fn, inputs in checks:
        assert gradcheck(fn, inputs)


def test_rsample_gradcheck():
    def seeded(make, n=3):
        def fn(*params):
            ttorch.manual_seed(11)
            return make(*params).rsample((n,))
        return fn

    p = lambda v: t64(v, grad=True)  # noqa: E731
    for make, inputs in [
            (D.Normal, (p([0.1, 1.0]), p([1.2, 0.4]))), (D.Uniform, (p([0.1, 1.0]), p([1.2, 1.4]))),
            (D.Laplace, (p([0.1, 1.0]), p([1.2, 0.4]))), (D.Cauchy, (p([0.1, 1.0]), p([1.2, 0.4]))),
            (D.Gumbel, (p([0.1, 1.0]), p([1.2, 0.4]))), (D.LogNormal, (p([0.1, 1.0]), p([1.2, 0.4]))),
            (D.Exponential, (p([1.2, 0.4]),)),
            (lambda a, b: D.MultivariateNormal(a, scale_tril=b.tril() + t64(np.eye(2))),
             (p([0.1, 1.0]), p([[1.0, 0.0], [-0.2, 0.5]]))),
            (lambda t, a: D.RelaxedBernoulli(t, logits=a), (p([0.7]), p([0.3, -1.0]))),
            (lambda t, a: D.RelaxedOneHotCategorical(t, logits=a), (p([0.7]), p([0.3, -1.0, 0.5])))]:
        assert gradcheck(seeded(make), inputs)


def _gammainc_np(a, x):
    """P(a, x) by its series (fine for the moderate x used here)."""
    n = np.arange(400.0)[:, None]
    return np.exp(a * np.log(x) - x - LG(a + 1) + np.cumsum(np.vstack([np.zeros((1, len(x))),
                                                                      np.log(x / (a + n[1:]))]), 0)).sum(0)


def test_gamma_rsample_implicit_gradient():
    """d sample / d concentration keeps the CDF level: dP/da + pdf * dx/da = 0, and unbiased:
    E[dx/da] = d E[x] / da = 1 / rate; Beta, Dirichlet, Chi2 and StudentT differentiate through it."""
    ttorch.manual_seed(5)
    a = t64([0.3, 1.0, 4.0, 40.0], grad=True)
    x = D.Gamma(a, 1.0).rsample()
    (g,) = ttorch.autograd.grad(x.sum(), a)
    av, xv, gv = npy(a), npy(x), npy(g)
    h = 1e-6
    dP = (_gammainc_np(av + h, xv) - _gammainc_np(av - h, xv)) / (2 * h)
    pdf = np.exp((av - 1) * np.log(xv) - xv - LG(av))
    np.testing.assert_allclose(gv, -dP / pdf, rtol=1e-5)
    np.testing.assert_allclose(npy(D.Gamma(t64([2.0, 0.5]), 1.0).cdf(t64([1.3, 0.2]))),
                               _gammainc_np(np.array([2.0, 0.5]), np.array([1.3, 0.2])), rtol=1e-12)
    rate = t64([2.0], grad=True)
    c = t64([1.5, 6.0], grad=True)
    x = D.Gamma(c, rate).rsample((20000,))
    gc, gr = ttorch.autograd.grad(x.mean(0).sum(), (c, rate))
    np.testing.assert_allclose(npy(gc), [0.5, 0.5], rtol=0.03)              # d(c / rate)/dc
    np.testing.assert_allclose(npy(gr), [-(1.5 + 6.0) / 4], rtol=0.03)
    c1 = t64([2.0], grad=True)
    y = D.Beta(c1, t64([3.0])).rsample((20000,))
    (gb,) = ttorch.autograd.grad(y.mean(), c1)
    np.testing.assert_allclose(npy(gb), [3.0 / 25.0], rtol=0.05)            # d(a / (a + b))/da
    df = t64([12.0], grad=True)
    (gt,) = ttorch.autograd.grad((D.StudentT(df).rsample((20000,)) ** 2).mean(), df)
    np.testing.assert_allclose(npy(gt), [-2 / 100], rtol=0.2)               # d(df / (df - 2))/d df; sd 3%


# ------------------------------------------------------------------------- shapes, validation
def test_shapes_expand_and_support():
    cases = [D.Normal(t64([0.0, 1.0]), 1.0), D.Bernoulli(t64([[0.2], [0.4]])), D.Categorical(t64(np.ones((2, 5)))),
             D.OneHotCategorical(t64(np.ones((2, 5)))), D.Dirichlet(t64(np.ones((2, 3)))),
             D.MultivariateNormal(t64(np.zeros((2, 3))), t64(np.eye(3))), D.Multinomial(4, t64(np.ones((2, 3)))),
             D.Gamma(t64([1.0, 2.0]), 1.0), D.Beta(t64([1.0, 2.0]), 1.0), D.StudentT(t64([3.0, 4.0])),
             D.Independent(D.Normal(t64(np.zeros((2, 3))), 1.0), 1), D.Binomial(5, t64([0.3, 0.6])),
             D.RelaxedOneHotCategorical(t64([0.5]), t64(np.ones((2, 3)))), D.Poisson(t64([1.0, 2.0])),
             D.TransformedDistribution(D.Normal(t64(np.zeros(2)), 1.0), [Tr.TanhTransform()])]
    for d in cases:
        batch, event = tuple(d.batch_shape), tuple(d.event_shape)
        s = d.sample((4, 1))
        assert tuple(s.shape) == (4, 1) + batch + event, type(d).__name__
        assert tuple(d.log_prob(s).shape) == (4, 1) + batch
        e = d.expand((3,) + batch)
        assert tuple(e.batch_shape) == (3,) + batch and tuple(e.sample().shape) == (3,) + batch + event
        np.testing.assert_allclose(npy(e.log_prob(s[0, 0])), np.broadcast_to(npy(d.log_prob(s[0, 0])), (3,) + batch))
        assert e._validate_args == d._validate_args
    assert D.Normal(0.0, 1.0).batch_shape == ttorch.Size([]) and D.Normal(0.0, 1.0).sample().shape == ()
    assert D.Independent(D.Normal(t64(np.zeros((2, 3))), 1.0), 1).support.event_dim == 1
    assert D.Uniform(0.0, 2.0).support.upper_bound.item() == 2.0 and constraints.is_dependent(D.Uniform.support)
    assert D.Binomial(t64([3.0]), t64([0.5])).enumerate_support().tolist() == [[0.0], [1.0], [2.0], [3.0]]
    assert D.Categorical(t64([0.5, 0.5])).sample((3,)).dtype == ttorch.int64
    assert repr(D.Normal(t64([0.0, 1.0]), 1.0)) == "Normal(loc: ttorch.Size([2]), scale: ttorch.Size([2]))"
    assert D.Normal.arg_constraints["scale"] is constraints.positive and D.Normal.has_rsample
    assert not D.Poisson.has_rsample and D.Gamma.has_rsample and D.Bernoulli.has_enumerate_support


def test_validation_errors():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution "
                                         r"Normal\(loc: ttorch.Size\(\[2\]\), scale: ttorch.Size\(\[2\]\)\) to satisfy "
                                         r"the constraint GreaterThan\(lower_bound=0.0\), but found invalid values"):
        D.Normal(t64([0.0, 0.0]), t64([1.0, -1.0]))
    with pytest.raises(ValueError, match="to satisfy the constraint Interval"):
        D.Bernoulli(t64([1.5]))
    with pytest.raises(ValueError, match="to satisfy the constraint Simplex"):
        D.Categorical(t64([-1.0, 2.0]))
    with pytest.raises(ValueError, match="to satisfy the constraint PositiveDefinite"):
        D.MultivariateNormal(t64([0.0, 0.0]), t64([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="to satisfy the constraint LowerCholesky"):
        D.MultivariateNormal(t64([0.0, 0.0]), scale_tril=t64([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli(t64([0.5]), t64([0.0]))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(t64([0.0]))
    with pytest.raises(ValueError, match="to be positive but found invalid values"):
        D.Geometric(t64([0.0]))
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(1,\)\) to be within the "
                                         r"support \(GreaterThanEq\(lower_bound=0.0\)\)"):
        D.Exponential(t64([1.0])).log_prob(t64([-1.0]))
    with pytest.raises(ValueError, match="to be within the support \\(IntegerInterval"):
        D.Binomial(3, t64([0.5])).log_prob(t64([4.0]))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.Dirichlet(t64([1.0, 1.0])).log_prob(t64([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape"):
        D.Normal(t64([0.0, 1.0]), 1.0).log_prob(t64([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(0.5)
    # validate_args=False and the default switch
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0).log_prob(t64(1.0))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


def test_constraints():
    v = t64([-1.0, 0.0, 0.5, 1.0, 2.0])
    assert constraints.positive.check(v).tolist() == [False, False, True, True, True]
    assert constraints.nonnegative.check(v).tolist() == [False, True, True, True, True]
    assert constraints.unit_interval.check(v).tolist() == [False, True, True, True, False]
    assert constraints.boolean.check(v).tolist() == [False, True, False, True, False]
    assert constraints.integer_interval(0, 1).check(v).tolist() == [False, True, False, True, False]
    assert constraints.nonnegative_integer.check(v).tolist() == [False, True, False, True, True]
    assert constraints.greater_than(0.5).check(v).tolist() == [False, False, False, True, True]
    assert constraints.interval(-1.0, 0.5).check(v).tolist() == [True, True, True, False, False]
    assert constraints.real.check(t64([math.nan, math.inf])).tolist() == [False, True]
    assert constraints.simplex.check(t64([[0.2, 0.8], [0.5, 0.6]])).tolist() == [True, False]
    assert constraints.real_vector.check(t64([[0.0, math.nan], [1.0, 2.0]])).tolist() == [False, True]
    assert constraints.independent(constraints.positive, 1).check(t64([[1.0, 2.0], [1.0, 0.0]])).tolist() == [True,
                                                                                                              False]
    m = t64([[[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.1], [0.5, 2.0]], [[-1.0, 0.0], [0.5, 2.0]]])
    assert constraints.lower_cholesky.check(m).tolist() == [True, False, False]
    pd = t64([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])
    assert constraints.positive_definite.check(pd).tolist() == [True, False]
    # PyTorch's order: a batch with a non-symmetric matrix returns the symmetry check alone
    pd = t64([[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]])
    assert constraints.positive_definite.check(pd).tolist() == [True, False]
    assert repr(constraints.independent(constraints.real, 1)) == "IndependentConstraint(Real(), 1)"
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        constraints.dependent.check(v)


def test_transforms():
    x = t64([-1.3, 0.2, 2.1])
    h = 1e-6
    for t in [Tr.ExpTransform(), Tr.AffineTransform(1.0, -2.5), Tr.AffineTransform(t64([0.5]), t64([3.0])),
              Tr.SigmoidTransform(), Tr.TanhTransform(), Tr.SoftplusTransform(), Tr.PowerTransform(t64(1.7)),
              Tr.ComposeTransform([Tr.AffineTransform(0.5, 2.0), Tr.TanhTransform()]), Tr.ExpTransform().inv.inv,
              Tr.ComposeTransform([Tr.ExpTransform(), Tr.ExpTransform().inv])]:
        xx = x.abs() if isinstance(t, Tr.PowerTransform) else x
        y = t(xx)
        np.testing.assert_allclose(npy(t.inv(y)), npy(xx), rtol=1e-9)
        deriv = (npy(t(xx + h)) - npy(t(xx - h))) / (2 * h)
        np.testing.assert_allclose(npy(t.log_abs_det_jacobian(xx, y)), np.log(np.abs(deriv)), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(npy(t.inv.log_abs_det_jacobian(y, xx)), -np.log(np.abs(deriv)), rtol=1e-6,
                                   atol=1e-8)
    s = Tr.SoftmaxTransform()(t64([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(npy(s), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    assert Tr.SoftmaxTransform().codomain is constraints.simplex
    a = Tr.AffineTransform(t64(np.zeros(3)), t64([1.0, 2.0, 4.0]), event_dim=1)
    np.testing.assert_allclose(npy(a.log_abs_det_jacobian(x, a(x))), math.log(8.0))
    c = Tr.ExpTransform(cache_size=1)
    y = c(x)
    assert c.inv(y) is x and c(x) is y
    assert Tr.ExpTransform() == Tr.ExpTransform() and Tr.ExpTransform().inv == Tr.ExpTransform().inv
    assert Tr.ComposeTransform([Tr.ExpTransform(), Tr.AffineTransform(0.0, -1.0)]).sign == -1
    r = Tr.ReshapeTransform((4,), (2, 2))
    assert r(t64(np.zeros((3, 4)))).shape == (3, 2, 2) and r.inverse_shape((3, 2, 2)) == ttorch.Size([3, 4])
    # a logistic distribution through TransformedDistribution, cdf/icdf through a decreasing affine map
    d = D.TransformedDistribution(D.Uniform(t64(0.0), t64(1.0)),
                                  [Tr.SigmoidTransform().inv, Tr.AffineTransform(1.0, -2.0)])
    z = (1.0 - np.array([-1.0, 0.5, 3.0])) / 2
    np.testing.assert_allclose(npy(d.log_prob(t64([-1.0, 0.5, 3.0]))), -z - 2 * np.log1p(np.exp(-z)) - math.log(2))
    np.testing.assert_allclose(npy(d.cdf(t64([-1.0, 0.5, 3.0]))), 1 - 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(npy(d.icdf(d.cdf(t64([-1.0, 0.5, 3.0])))), [-1.0, 0.5, 3.0], rtol=1e-9)
    assert D.kl_divergence(D.LogNormal(0.0, 1.0), D.LogNormal(0.0, 1.0)).item() == 0.0


# ------------------------------------------------------------------------------- devices, docs
def test_device_parity(device):
    """Tiny shapes: the simulated GPU runs every kernel under Triton's interpreter."""
    loc = t64([0.3, -0.2], device, grad=True)
    scale = t64([1.2, 0.5], device, grad=True)
    v = t64([0.0, 1.0], device)
    d = D.Normal(loc, scale)
    lp = d.log_prob(v)
    lp.sum().backward()
    np.testing.assert_allclose(npy(lp), -((np.array([0.0, 1.0]) - [0.3, -0.2]) / [1.2, 0.5]) ** 2 / 2
                               - np.log([1.2, 0.5]) - 0.5 * math.log(2 * math.pi), rtol=1e-12)
    np.testing.assert_allclose(npy(loc.grad), (np.array([0.0, 1.0]) - [0.3, -0.2]) / np.array([1.2, 0.5]) ** 2)
    s = d.rsample((3,))
    assert s.device.type == device and s.shape == (3, 2)
    c = t64([0.7, 2.0], device, grad=True)
    g = D.Gamma(c, t64([1.0, 1.0], device)).rsample((2,))
    g.sum().backward()
    assert g.device.type == device and (npy(g) > 0).all() and (npy(c.grad) > 0).all()
    k = D.Poisson(t64([0.5, 20.0], device)).sample((2,))
    assert k.device.type == device and (npy(k) == np.round(npy(k))).all()
    b = D.Binomial(t64([5.0, 50.0], device), t64([0.3, 0.5], device)).sample()
    assert ((npy(b) >= 0) & (npy(b) <= [5, 50])).all()
    cat = D.Categorical(logits=t64([[0.0, 1.0, 2.0]], device))
    assert cat.sample((2,)).device.type == device
    np.testing.assert_allclose(npy(cat.entropy()), npy(D.Categorical(logits=t64([[0.0, 1.0, 2.0]])).entropy()))
    cov = t64([[2.0, 0.5], [0.5, 1.0]], device)
    m = D.MultivariateNormal(t64([0.0, 1.0], device), cov)
    ref = D.MultivariateNormal(t64([0.0, 1.0]), t64([[2.0, 0.5], [0.5, 1.0]]))
    np.testing.assert_allclose(npy(m.log_prob(t64([1.0, -1.0], device))), npy(ref.log_prob(t64([1.0, -1.0]))),
                               rtol=1e-12)
    np.testing.assert_allclose(npy(D.kl_divergence(D.Beta(t64([2.0], device), t64([3.0], device)),
                                                   D.Beta(t64([1.0], device), t64([1.0], device)))),
                               npy(D.kl_divergence(D.Beta(t64([2.0]), t64([3.0])), D.Beta(t64([1.0]), t64([1.0])))),
                               rtol=1e-12)


@pytest.mark.parametrize("module", ["__init__", "constraints", "transforms", "univariate", "transformed", "discrete",
                                    "binomial", "multivariate_normal", "relaxed", "gamma", "kl"])
def test_doctests(module):
    mod = importlib.import_module("ttorch.distributions" + ("" if module == "__init__" else "." + module))
    result = doctest.testmod(mod)
    assert result.failed == 0 and result.attempted > 0


def test_pytorch_module_paths():
    from ttorch.distributions.normal import Normal
    from ttorch.distributions.relaxed_categorical import ExpRelaxedCategorical as E
    from ttorch.distributions.kl import kl_divergence
    assert Normal is D.Normal and E is ExpRelaxedCategorical and kl_divergence is D.kl_divergence
