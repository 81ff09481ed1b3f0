"""The families added after the first set (HalfNormal, HalfCauchy, Pareto, Weibull, Kumaraswamy,
InverseGamma, LogisticNormal, GeneralizedPareto, ContinuousBernoulli, FisherSnedecor,
NegativeBinomial, VonMises, StickBreakingTransform and their KL pairs) against closed forms and
numerical integration in NumPy (float64); fixed-seed sample moments with tolerances many standard
errors wide; gradcheck in float64; validation errors; a small cpu/cuda check."""
import doctest
import importlib
import math

import numpy as np
import pytest

import ttorch
import ttorch.distributions as D
from ttorch.autograd import gradcheck

LG = np.vectorize(math.lgamma)


def t64(v, device="cpu", grad=False):
    return ttorch.tensor(v, dtype=ttorch.float64, device=device, requires_grad=grad)


def npy(t):
    return t.detach().cpu().double().numpy()


def trapz(y, x, axis=0):
    return np.trapezoid(y, x, axis=axis) if hasattr(np, "trapezoid") else np.trapz(y, x, axis=axis)


def _cb_log_norm(p):
    return np.log(2 * np.arctanh(1 - 2 * p) / (1 - 2 * p))


def _pos(n=200001, lo=1e-12, hi=1e4):
    return np.exp(np.linspace(math.log(lo), math.log(hi), n))[:, None]


# (name, distribution, closed-form log density of x (n, 2), grid (n, 1) or (n, 2))
CONTINUOUS = [
    ("halfnormal", lambda: D.HalfNormal(t64([0.5, 2.0])),
     lambda x: math.log(2) - 0.5 * (x / [0.5, 2.0]) ** 2 - np.log([0.5, 2.0]) - 0.5 * math.log(2 * math.pi), _pos()),
    ("pareto", lambda: D.Pareto(t64([1.0, 0.5]), t64([3.5, 5.0])),
     lambda x: np.log([3.5, 5.0]) + [3.5, 5.0] * np.log([1.0, 0.5]) - np.log(x) * [4.5, 6.0],
     np.array([1.0, 0.5]) * np.exp(np.linspace(0, 12, 200001))[:, None]),
    ("weibull", lambda: D.Weibull(t64([1.0, 2.0]), t64([0.7, 2.5])),
     lambda x: np.log(np.array([0.7, 2.5]) / [1.0, 2.0]) + [-0.3, 1.5] * np.log(x / [1.0, 2.0])
     - (x / [1.0, 2.0]) ** [0.7, 2.5], _pos(lo=1e-16, hi=500)),
    ("kumaraswamy", lambda: D.Kumaraswamy(t64([2.0, 0.7]), t64([3.0, 1.5])),
     lambda x: np.log([6.0, 1.05]) + [1.0, -0.3] * np.log(x) + [2.0, 0.5] * np.log1p(-x ** [2.0, 0.7]),
     # (1 - x^a rounds to 1 below x = 1e-8 for a = 2, where the transforms' log_prob is -inf, as PyTorch's)
     1 / (1 + np.exp(-np.linspace([-15.0, -40.0], [15.0, 30.0], 200001)))),
    ("inversegamma", lambda: D.InverseGamma(t64([3.0, 4.5]), t64([2.0, 0.5])),
     lambda x: [3.0, 4.5] * np.log([2.0, 0.5]) - LG([3.0, 4.5]) - [4.0, 5.5] * np.log(x) - np.array([2.0, 0.5]) / x,
     _pos(lo=1e-3, hi=1e5)),
    ("genpareto", lambda: D.GeneralizedPareto(t64([0.0, 1.0]), t64([1.0, 0.5]), t64([0.2, 0.0])),
     lambda x: -np.log([1.0, 0.5]) - np.where([True, False], 6.0 * np.log1p(0.2 * x), (x - 1.0) / 0.5),
     np.array([0.0, 1.0]) + _pos(lo=1e-12, hi=1e5)),
    ("genpareto_neg", lambda: D.GeneralizedPareto(t64([0.0, 0.0]), t64([1.0, 2.0]), t64([-0.3, -0.5])),
     lambda x: -np.log([1.0, 2.0]) - (1 / np.array([-0.3, -0.5]) + 1) * np.log1p(np.array([-0.3, -0.5]) * x / [1, 2]),
     np.array([1 / 0.3, 4.0]) * np.linspace(0, 1 - 1e-12, 200001)[:, None]),
    ("contbernoulli", lambda: D.ContinuousBernoulli(t64([0.2, 0.9])),
     lambda x: _cb_log_norm(np.array([0.2, 0.9])) + x * np.log([0.2, 0.9]) + (1 - x) * np.log([0.8, 0.1]),
     np.linspace(0, 1, 200001)[:, None]),
    ("fisher", lambda: D.FisherSnedecor(t64([3.0, 7.0]), t64([9.0, 12.0])),
     lambda x: (LG(np.array([6.0, 9.5])) - LG(np.array([1.5, 3.5])) - LG(np.array([4.5, 6.0]))
                + [1.5, 3.5] * np.log(np.array([3.0, 7.0]) / [9.0, 12.0]) + [0.5, 2.5] * np.log(x)
                - [6.0, 9.5] * np.log1p(np.array([3.0, 7.0]) / [9.0, 12.0] * x)), _pos(lo=1e-14, hi=1e6)),
]


@pytest.mark.parametrize("name,make,logpdf,x", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_values_moments_entropy(name, make, logpdf, x):
    d = make()
    x = x * np.ones(2)
    lp = npy(d.log_prob(t64(x)))
    np.testing.assert_allclose(lp, logpdf(x), rtol=1e-10, atol=1e-10)
    pdf = np.exp(lp)
    np.testing.assert_allclose(trapz(pdf, x), 1.0, rtol=1e-4)
    mean = trapz(x * pdf, x)
    np.testing.assert_allclose(npy(d.mean), mean, rtol=1e-3)
    np.testing.assert_allclose(npy(d.variance), trapz((x - mean) ** 2 * pdf, x), rtol=2e-3)
    if name != "fisher":                                      # PyTorch has no entropy for it
        np.testing.assert_allclose(npy(d.entropy()), trapz(-np.where(pdf > 0, pdf * lp, 0.0), x), rtol=1e-4,
                                   atol=1e-5)
    if name != "fisher":                                      # nor cdf/icdf
        cum = np.concatenate([np.zeros((1, 2)), np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(x, axis=0), 0)])
        pick = slice(20000, 180000, 9973)
        np.testing.assert_allclose(npy(d.cdf(t64(x[pick]))), cum[pick], atol=2e-4)
        if name != "inversegamma":
            q = t64([[0.01, 0.3], [0.5, 0.77], [0.99, 0.999]])
            np.testing.assert_allclose(npy(d.cdf(d.icdf(q))), npy(q), rtol=1e-9, atol=1e-12)


def test_half_cauchy_and_infinite_moments():
    d = D.HalfCauchy(t64([0.5, 2.0]))
    x = np.array([0.3, 1.7])
    ref = np.log(2 / (math.pi * np.array([0.5, 2]) * (1 + (x / [0.5, 2]) ** 2)))
    np.testing.assert_allclose(npy(d.log_prob(t64(x))), ref, rtol=1e-12)
    np.testing.assert_allclose(npy(d.cdf(t64(x))), 2 / math.pi * np.arctan(x / [0.5, 2]), rtol=1e-12)
    np.testing.assert_allclose(npy(d.entropy()), np.log(2 * math.pi * np.array([0.5, 2.0])), rtol=1e-12)
    assert np.isinf(npy(d.mean)).all()
    assert np.isinf(npy(D.Pareto(1.0, 0.5).mean)) and np.isinf(npy(D.Pareto(1.0, 1.5).variance))
    assert np.isinf(npy(D.InverseGamma(t64([0.5]), t64([1.0])).mean)).all()
    assert np.isnan(npy(D.FisherSnedecor(t64([3.0]), t64([2.0])).mean)).all()
    assert np.isnan(npy(D.GeneralizedPareto(0.0, 1.0, 1.5).mean))
    np.testing.assert_allclose(npy(D.Weibull(t64([2.0]), t64([3.0])).mode), 2 * (2 / 3) ** (1 / 3), rtol=1e-12)
    # PyTorch's Kumaraswamy mode, kept: exp(log1p(-b) / b - log1p(-a b)), masked to nan where a or b < 1,
    # is nan (or 0 at b = 1) everywhere
    assert np.isnan(npy(D.Kumaraswamy(t64([2.0, 0.5, 2.0]), t64([3.0, 2.0, 0.5])).mode)).all()


def test_continuous_bernoulli_near_half_and_logits():
    # inside lims the Taylor forms take over: values continuous across the cut
    p = np.array([0.4989, 0.4995, 0.5, 0.5005, 0.5011])
    d = D.ContinuousBernoulli(t64(p))
    np.testing.assert_allclose(npy(d._cont_bern_log_norm()),
                               np.where(p == 0.5, math.log(2), _cb_log_norm(np.where(p == 0.5, 0.4, p))), rtol=1e-6)
    np.testing.assert_allclose(npy(d.mean), 0.5 + (p - 0.5) / 3, atol=1e-8)
    lg = D.ContinuousBernoulli(logits=t64(np.log(p / (1 - p))))
    np.testing.assert_allclose(npy(lg.log_prob(t64([0.3] * 5))), npy(d.log_prob(t64([0.3] * 5))), rtol=1e-10)
    # the exponential-family entropy (Bregman) agrees with the closed form
    e = D.ContinuousBernoulli(t64([0.2, 0.7]))
    np.testing.assert_allclose(npy(D.ExponentialFamily.entropy(e)), npy(e.entropy()), rtol=1e-10)


def test_negative_binomial_pmf_moments():
    r, p = np.array([3.0, 0.5]), np.array([0.4, 0.8])
    for d in (D.NegativeBinomial(t64(r), t64(p)), D.NegativeBinomial(t64(r), logits=t64(np.log(p / (1 - p))))):
        k = np.arange(400.0)[:, None] * np.ones(2)
        pmf = np.exp(LG(k + r) - LG(k + 1) - LG(r) + r * np.log1p(-p) + k * np.log(p))
        np.testing.assert_allclose(np.exp(npy(d.log_prob(t64(k)))), pmf, rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(pmf.sum(0), 1, rtol=1e-10)
        np.testing.assert_allclose(npy(d.mean), (k * pmf).sum(0), rtol=1e-10)
        np.testing.assert_allclose(npy(d.variance), ((k - r * p / (1 - p)) ** 2 * pmf).sum(0), rtol=1e-9)
        np.testing.assert_allclose(npy(d.mode), [1.0, 0.0])
    assert npy(D.NegativeBinomial(t64(0.0), t64(0.3)).log_prob(t64(0.0))) == 0.0


def test_von_mises_values():
    loc, kappa = np.array([1.0, -2.0, 0.5]), np.array([0.01, 2.0, 30.0])
    d = D.VonMises(t64(loc), t64(kappa))
    x = np.linspace(-math.pi, math.pi, 20001)[:, None]
    lp = npy(d.log_prob(t64(x)))
    # PyTorch's polynomial log I0 is accurate to ~2e-7 relative
    np.testing.assert_allclose(lp, kappa * np.cos(x - loc) - np.log(2 * math.pi * np.i0(kappa)), rtol=1e-6, atol=1e-6)
    pdf = np.exp(lp)
    np.testing.assert_allclose(trapz(pdf, x), 1, rtol=1e-5)
    np.testing.assert_allclose(npy(d.variance), 1 - trapz(np.cos(x - loc) * pdf, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(npy(d.log_prob(t64(x[:5] + 2 * math.pi))), lp[:5], rtol=1e-12)


def test_logistic_normal_and_stick_breaking():
    t = D.transforms.StickBreakingTransform()
    x = np.array([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0]])

    def fwd(x):            # NumPy stick breaking: fractions sigmoid(x_i - log(K - 1 - i)) of what is left
        z = 1 / (1 + np.exp(-(x - np.log(np.arange(x.shape[-1], 0, -1.0)))))
        rest = np.concatenate([[1.0], np.cumprod(1 - z)])
        return np.concatenate([z, [1.0]]) * rest
    y = t(t64(x))
    np.testing.assert_allclose(npy(y), np.stack([fwd(r) for r in x]), rtol=1e-12)
    np.testing.assert_allclose(npy(y)[1], [0.25] * 4, rtol=1e-12)
    np.testing.assert_allclose(npy(t.inv(y)), x, rtol=1e-10, atol=1e-12)
    h = 1e-6
    for r, ladj in zip(x, npy(t.log_abs_det_jacobian(t64(x), y))):
        jac = np.stack([(fwd(r + h * e)[:-1] - fwd(r - h * e)[:-1]) / (2 * h) for e in np.eye(3)], 1)
        np.testing.assert_allclose(ladj, np.log(abs(np.linalg.det(jac))), rtol=1e-7)
    assert t.forward_shape((5, 3)) == (5, 4) and t.inverse_shape((5, 4)) == (5, 3)
    loc, scale = np.array([0.3, -0.5]), np.array([1.0, 0.7])
    d = D.LogisticNormal(t64(loc), t64(scale))
    assert d.event_shape == (3,) and d.batch_shape == ()
    v = np.array([0.2, 0.3, 0.5])
    xi = npy(t.inv(t64(v)))
    jac = np.stack([(fwd(xi + h * e)[:-1] - fwd(xi - h * e)[:-1]) / (2 * h) for e in np.eye(2)], 1)
    ref = (-0.5 * ((xi - loc) / scale) ** 2 - np.log(scale) - 0.5 * math.log(2 * math.pi)).sum() \
        - np.log(abs(np.linalg.det(jac)))
    np.testing.assert_allclose(npy(d.log_prob(t64(v))), ref, rtol=1e-7)
    assert D.LogisticNormal(0.0, 1.0).event_shape == (2,)


# ------------------------------------------------------------------------------------------- KL
def _kl_grid(p, q, x):
    lp, lq = npy(p.log_prob(t64(x))), npy(q.log_prob(t64(x)))
    return trapz(np.exp(lp) * (lp - lq), x)


def test_kl_by_integration():
    u = (1 / (1 + np.exp(-np.linspace(-30.0, 30.0, 400001))))[:, None] * np.ones(2)   # dense at both ends
    pairs = [
        (D.ContinuousBernoulli(t64([0.3, 0.8])), D.ContinuousBernoulli(t64([0.6, 0.1])), u),
        (D.HalfNormal(t64([0.5, 2.0])), D.HalfNormal(t64([1.0, 0.7])), _pos(lo=1e-10, hi=60) * np.ones(2)),
        (D.Pareto(t64([1.0, 3.0]), t64([3.0, 4.0])), D.Pareto(t64([0.5, 2.0]), t64([0.7, 1.5])),
         np.array([1.0, 3.0]) * np.exp(np.linspace(0, 20, 400001))[:, None]),
        (D.Pareto(t64([1.0, 3.0]), t64([3.0, 4.0])), D.Exponential(t64([1.5, 0.4])),
         np.array([1.0, 3.0]) * np.exp(np.linspace(0, 20, 400001))[:, None]),
        (D.Pareto(t64([1.0, 3.0]), t64([3.0, 4.0])), D.Gamma(t64([2.0, 0.4]), t64([1.5, 3.0])),
         np.array([1.0, 3.0]) * np.exp(np.linspace(0, 20, 400001))[:, None]),
        (D.Pareto(t64([1.0, 3.0]), t64([3.0, 4.0])), D.Normal(t64([0.2, 1.0]), t64([0.5, 2.0])),
         np.array([1.0, 3.0]) * np.exp(np.linspace(0, 20, 400001))[:, None]),
        (D.Beta(t64([2.0, 0.7]), t64([3.0, 1.5])), D.ContinuousBernoulli(t64([0.3, 0.8])), u),
        (D.ContinuousBernoulli(t64([0.3, 0.8])), D.Exponential(t64([1.5, 0.4])), u),
        (D.ContinuousBernoulli(t64([0.3, 0.8])), D.Normal(t64([0.2, 1.0]), t64([0.5, 2.0])), u),
        (D.Uniform(t64([1.0, 3.0]), t64([2.0, 5.0])), D.Pareto(t64([0.5, 2.0]), t64([0.7, 1.5])),
         np.array([1.0, 3.0]) + np.array([1.0, 2.0]) * u),
        (D.Uniform(t64([0.2, 0.1]), t64([0.7, 0.9])), D.ContinuousBernoulli(t64([0.3, 0.8])),
         np.array([0.2, 0.1]) + np.array([0.5, 0.8]) * u),
    ]
    for p, q, x in pairs:
        np.testing.assert_allclose(npy(D.kl_divergence(p, q)), _kl_grid(p, q, x), rtol=2e-4, atol=1e-6,
                                   err_msg=f"{type(p).__name__} || {type(q).__name__}")
    # infinite ones: supports not nested, or moments infinite
    inf = [(D.Pareto(t64([1.0]), t64([0.5])), D.Exponential(t64([1.0]))),
           (D.Pareto(t64([1.0]), t64([1.5])), D.Normal(t64([0.0]), t64([1.0]))),
           (D.Pareto(t64([1.0]), t64([3.0])), D.Pareto(t64([2.0]), t64([3.0]))),
           (D.Normal(t64([0.0]), t64([1.0])), D.Pareto(t64([1.0]), t64([3.0]))),
           (D.Normal(t64([0.0]), t64([1.0])), D.ContinuousBernoulli(t64([0.3]))),
           (D.Gamma(t64([2.0]), t64([1.0])), D.ContinuousBernoulli(t64([0.3]))),
           (D.Pareto(t64([1.0]), t64([3.0])), D.Uniform(t64([0.0]), t64([5.0]))),
           (D.ContinuousBernoulli(t64([0.3])), D.Uniform(t64([0.0]), t64([1.0]))),
           (D.Uniform(t64([0.0]), t64([0.5])), D.Pareto(t64([1.0]), t64([3.0])))]
    for p, q in inf:
        assert np.isposinf(npy(D.kl_divergence(p, q))).all(), (type(p).__name__, type(q).__name__)


# -------------------------------------------------------------------------------------- samples
SAMPLED = [
    lambda: D.HalfNormal(t64([0.5, 2.0])), lambda: D.Pareto(t64([1.0, 0.5]), t64([5.0, 6.0])),
    lambda: D.Weibull(t64([1.0, 2.0]), t64([0.7, 2.5])), lambda: D.Kumaraswamy(t64([2.0, 0.7]), t64([3.0, 1.5])),
    lambda: D.InverseGamma(t64([5.0, 6.0]), t64([2.0, 0.5])),
    lambda: D.GeneralizedPareto(t64([0.0, 1.0]), t64([1.0, 0.5]), t64([0.1, -0.4])),
    lambda: D.ContinuousBernoulli(t64([0.2, 0.4999])), lambda: D.FisherSnedecor(t64([3.0, 7.0]), t64([11.0, 14.0])),
    lambda: D.NegativeBinomial(t64([3.0, 20.0]), t64([0.4, 0.7])),
]


@pytest.mark.parametrize("make", SAMPLED, ids=[str(i) for i in range(len(SAMPLED))])
def test_sample_moments(make):
    d = make()
    n = 100000
    s = npy(d.sample((n,)))
    assert s.shape == (n, 2) and bool(npy(d.support.check(t64(s))).all())
    mean, var = npy(d.mean), npy(d.variance)
    # 6 standard errors; the variance's standard error from the sample fourth moment
    np.testing.assert_array_less(np.abs(s.mean(0) - mean), 6 * np.sqrt(var / n))
    m4 = ((s - mean) ** 4).mean(0)
    np.testing.assert_array_less(np.abs(s.var(0) - var), 6 * np.sqrt((m4 - var ** 2) / n) + 1e-12)
    if d.has_rsample:
        np.testing.assert_allclose(npy(d.rsample((3,))).shape, (3, 2))


def test_von_mises_sampler():
    for kappa in (1e-6, 0.5, 4.0, 300.0):
        d = D.VonMises(t64([2.5, -3.0]), t64([kappa, kappa]))
        s = npy(d.sample((50000,)))
        assert ((s >= -math.pi) & (s < math.pi)).all()
        r = 1 - npy(d.variance)                          # the mean resultant length I1/I0
        c = np.cos(s - [2.5, -3.0]).mean(0)
        se = np.sqrt((1 - r ** 2) / 50000)              # the variance of cos(x - loc) is at most 1 - r^2
        np.testing.assert_array_less(np.abs(c - r), 6 * se + 2e-7)
        np.testing.assert_array_less(np.abs(np.sin(s - [2.5, -3.0]).mean(0)), 6 / math.sqrt(50000))
    assert D.VonMises(t64(0.0), t64(1.0), validate_args=False).sample((3,)).dtype == ttorch.float64
    assert D.VonMises(0.0, ttorch.tensor([1.0])).sample((2,)).dtype == ttorch.float32


# ------------------------------------------------------------------------------------ gradients
def test_log_prob_gradcheck():
    cases = [
        (lambda s: D.HalfNormal(s), [[0.5, 2.0]], [0.3, 1.7]),
        (lambda s: D.HalfCauchy(s), [[0.5, 2.0]], [0.3, 1.7]),
        (lambda m, a: D.Pareto(m, a), [[1.0, 0.5], [3.0, 1.5]], [1.3, 2.7]),
        (lambda k, c: D.Weibull(k, c), [[1.0, 2.0], [0.7, 2.5]], [0.3, 1.7]),
        (lambda a, b: D.Kumaraswamy(a, b), [[2.0, 0.7], [3.0, 1.5]], [0.3, 0.8]),
        (lambda a, b: D.InverseGamma(a, b), [[3.0, 1.5], [2.0, 0.5]], [0.3, 1.7]),
        (lambda m, s: D.LogisticNormal(m, s), [[0.3, -0.5], [1.0, 0.7]], [0.2, 0.3, 0.5]),
        (lambda m, s, c: D.GeneralizedPareto(m, s, c), [[0.0, 1.0], [1.0, 0.5], [0.5, -0.3]], [1.3, 1.5]),
        (lambda p: D.ContinuousBernoulli(p), [[0.3, 0.9]], [0.2, 0.77]),
        (lambda a, b: D.FisherSnedecor(a, b), [[3.0, 7.0], [5.0, 9.0]], [0.4, 1.7]),
        (lambda r, p: D.NegativeBinomial(r, p), [[3.0, 0.5], [0.4, 0.8]], [2.0, 7.0]),
        (lambda m, k: D.VonMises(m, k), [[1.0, -2.0], [2.0, 8.0]], [0.5, 3.0]),
    ]
    for make, params, value in cases:
        inputs = tuple(t64(p, grad=True) for p in params)
        v = t64(value)
        assert gradcheck(lambda *a: make(*a).log_prob(v), inputs)
    assert gradcheck(lambda p: D.ContinuousBernoulli(p).entropy(), (t64([0.3, 0.9], grad=True),))
    assert gradcheck(lambda k: D.VonMises(t64(0.0), k).variance, (t64([0.5, 8.0], grad=True),))


def test_rsample_gradcheck():
    def seeded(fn):
        def run(*a):
            ttorch.manual_seed(3)
            return fn(*a)
        return run
    cases = [
        (lambda s: D.HalfNormal(s).rsample((3,)), [[0.5, 2.0]]),
        (lambda m, a: D.Pareto(m, a).rsample((3,)), [[1.0, 0.5], [3.0, 1.5]]),
        (lambda k, c: D.Weibull(k, c).rsample((3,)), [[1.0, 2.0], [0.7, 2.5]]),
        (lambda a, b: D.Kumaraswamy(a, b).rsample((3,)), [[2.0, 0.7], [3.0, 1.5]]),
        (lambda m, s: D.LogisticNormal(m, s).rsample((3,)), [[0.3, -0.5], [1.0, 0.7]]),
        (lambda m, s, c: D.GeneralizedPareto(m, s, c).rsample((3,)), [[0.0, 1.0], [1.0, 0.5], [0.5, -0.3]]),
        (lambda p: D.ContinuousBernoulli(p).rsample((3,)), [[0.3, 0.9]]),
    ]
    for make, params in cases:
        assert gradcheck(seeded(make), tuple(t64(p, grad=True) for p in params))
    # through the gamma's implicit gradient: finite, and of the right sign for the inverse gamma's rate
    b = t64([2.0, 0.5], grad=True)
    D.InverseGamma(t64([3.0, 4.0]), b).rsample((50,)).sum().backward()
    assert (npy(b.grad) > 0).all()
    df = t64([3.0, 7.0], grad=True)
    D.FisherSnedecor(df, t64([5.0, 9.0])).rsample((50,)).sum().backward()
    assert np.isfinite(npy(df.grad)).all()


# --------------------------------------------------------------------------- shapes, validation
def test_shapes_expand_support():
    ds = [D.HalfNormal(t64([1.0, 2.0])), D.HalfCauchy(t64([1.0, 2.0])), D.Pareto(t64([1.0, 2.0]), 3.0),
          D.Weibull(t64([1.0, 2.0]), 3.0), D.Kumaraswamy(t64([1.0, 2.0]), 3.0), D.InverseGamma(t64([1.0, 2.0]), 3.0),
          D.GeneralizedPareto(0.0, t64([1.0, 2.0]), 0.3), D.ContinuousBernoulli(t64([0.1, 0.2])),
          D.ContinuousBernoulli(logits=t64([0.1, 0.2])), D.FisherSnedecor(t64([1.0, 2.0]), 3.0),
          D.NegativeBinomial(3.0, t64([0.1, 0.2])), D.NegativeBinomial(3.0, logits=t64([0.1, 0.2])),
          D.VonMises(t64([1.0, 2.0]), 3.0)]
    for d in ds:
        e = d.expand((4, 2))
        assert type(e) is type(d) and e.batch_shape == (4, 2) and d.batch_shape == (2,)
        assert e.sample((3,)).shape == (3, 4, 2)
        assert e.log_prob(d.sample()).shape == (4, 2)
        np.testing.assert_allclose(npy(e.mean), np.broadcast_to(npy(d.mean), (4, 2)))
    ln = D.LogisticNormal(t64([[0.0, 1.0]]), t64([[1.0, 1.0]])).expand((3, 1))
    assert ln.batch_shape == (3, 1) and ln.event_shape == (3,) and ln.sample((2,)).shape == (2, 3, 1, 3)
    assert D.HalfNormal(1.0).batch_shape == () and D.GeneralizedPareto(0.0, 1.0, 0.1).batch_shape == ()
    assert D.ContinuousBernoulli(0.3).batch_shape == ()
    assert D.Pareto(t64([2.0]), 1.0).support.lower_bound.tolist() == [2.0]
    sup = D.GeneralizedPareto(t64([0.0, 1.0]), 2.0, t64([-0.5, 0.5])).support
    assert npy(sup.upper_bound).tolist() == [4.0, math.inf]
    assert D.NegativeBinomial(3.0, t64([0.1])).has_rsample is False and D.VonMises(0.0, 1.0).has_rsample is False
    assert D.HalfNormal(1.0).has_rsample and D.Kumaraswamy(1.0, 2.0).has_rsample


def test_validation_errors():
    bad = [lambda: D.HalfNormal(t64([-1.0])), lambda: D.HalfCauchy(t64([0.0])),
           lambda: D.Pareto(t64([1.0]), t64([-1.0])), lambda: D.Weibull(t64([0.0]), t64([1.0])),
           lambda: D.Kumaraswamy(t64([1.0]), t64([-1.0])), lambda: D.InverseGamma(t64([-1.0]), t64([1.0])),
           lambda: D.LogisticNormal(t64([0.0]), t64([-1.0])), lambda: D.GeneralizedPareto(0.0, t64([-1.0]), 0.0),
           lambda: D.FisherSnedecor(t64([1.0]), t64([0.0])),
           lambda: D.NegativeBinomial(t64([-1.0]), t64([0.5])), lambda: D.NegativeBinomial(t64([1.0]), t64([1.0])),
           lambda: D.VonMises(t64([0.0]), t64([-1.0]))]
    for make in bad:
        with pytest.raises(ValueError, match="Expected parameter"):
            make()
    with pytest.raises(ValueError, match="The parameter probs has invalid values"):
        D.ContinuousBernoulli(t64([1.5]), validate_args=False)   # PyTorch checks before clamping, if validate_args
    assert D.ContinuousBernoulli(t64([1.5])).probs.item() < 1                 # given; by default, clamps silently
    for make in (lambda: D.ContinuousBernoulli(), lambda: D.ContinuousBernoulli(t64(0.3), t64(0.3)),
                 lambda: D.NegativeBinomial(3.0)):
        with pytest.raises(ValueError, match="Either `probs` or `logits`"):
            make()
    outside = [(D.HalfNormal(t64([1.0])), [-0.5]), (D.Pareto(t64([2.0]), t64([1.0])), [1.5]),
               (D.Kumaraswamy(t64([1.0]), t64([2.0])), [1.5]), (D.NegativeBinomial(3.0, t64([0.5])), [1.5]),
               (D.GeneralizedPareto(0.0, 1.0, t64([-0.5])), [2.5]), (D.ContinuousBernoulli(t64([0.3])), [1.2]),
               (D.LogisticNormal(t64([0.0]), t64([1.0])), [0.3, 0.3])]
    for d, v in outside:
        with pytest.raises(ValueError, match="support"):
            d.log_prob(t64(v))
    np.testing.assert_equal(npy(D.HalfNormal(t64([1.0]), validate_args=False).log_prob(t64([-0.5]))), [-math.inf])


# ------------------------------------------------------------------------------- devices, docs
def test_device(device):
    s = t64([0.5, 2.0], device, grad=True)
    lp = D.HalfNormal(s).log_prob(t64([0.3, 1.7], device))
    assert lp.device.type == device
    lp.sum().backward()
    ref = D.HalfNormal(t64([0.5, 2.0])).log_prob(t64([0.3, 1.7]))
    np.testing.assert_allclose(npy(lp), npy(ref), rtol=1e-12)
    assert s.grad.device.type == device
    v = D.VonMises(t64([1.0, -2.0], device), t64([0.5, 8.0], device))
    assert v.sample((3,)).device.type == device
    np.testing.assert_allclose(npy(v.log_prob(t64([0.5, 3.0], device))),
                               npy(D.VonMises(t64([1.0, -2.0]), t64([0.5, 8.0])).log_prob(t64([0.5, 3.0]))), rtol=1e-12)
    nb = D.NegativeBinomial(t64([3.0, 2.0], device), t64([0.4, 0.6], device)).sample()
    assert nb.device.type == device and (npy(nb) == np.round(npy(nb))).all()
    kl = D.kl_divergence(D.ContinuousBernoulli(t64([0.3], device)), D.ContinuousBernoulli(t64([0.6], device)))
    ref = D.kl_divergence(D.ContinuousBernoulli(t64([0.3])), D.ContinuousBernoulli(t64([0.6])))
    np.testing.assert_allclose(npy(kl), npy(ref), rtol=1e-12)
    y = D.LogisticNormal(t64([0.0, 1.0], device), t64([1.0, 0.5], device)).rsample((2,))
    assert y.device.type == device and y.shape == (2, 3)


@pytest.mark.parametrize("module", ["transformed_families", "continuous_bernoulli", "fishersnedecor",
                                    "negative_binomial", "von_mises", "constraint_transforms"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module("ttorch.distributions." + module))
    assert result.failed == 0 and result.attempted > 0


def test_pytorch_module_paths():
    from ttorch.distributions.half_normal import HalfNormal
    from ttorch.distributions.generalized_pareto import GeneralizedPareto
    from ttorch.distributions.transforms import StickBreakingTransform
    assert HalfNormal is D.HalfNormal and GeneralizedPareto is D.GeneralizedPareto
    assert StickBreakingTransform is D.StickBreakingTransform
