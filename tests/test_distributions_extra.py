"""LowRankMultivariateNormal, MixtureSameFamily, the low-rank KL pairs, constraint_registry with
its transforms (LowerCholesky, PositiveDefinite, CorrCholesky, Cat, Stack, CumulativeDistribution),
Wishart and LKJCholesky: closed forms in NumPy (float64), numerical Jacobians, fixed-seed sample
moments with tolerances many standard errors wide, gradcheck in float64, validation errors and a
small cpu/cuda check."""
import doctest
import importlib
import math
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.distributions as D
from ttorch.autograd import gradcheck
from ttorch.distributions import constraints as C
from ttorch.distributions import transforms as T

LG = np.vectorize(math.lgamma)


def t64(v, device="cpu", grad=False):
    return ttorch.tensor(v, dtype=ttorch.float64, device=device, requires_grad=grad)


def npy(t):
    return t.detach().cpu().double().numpy()


def mvn_logpdf(x, mu, S):
    d = x - mu
    sol = np.linalg.solve(S, d[..., None])[..., 0]
    return -0.5 * (S.shape[-1] * math.log(2 * math.pi) + np.linalg.slogdet(S)[1] + (d * sol).sum(-1))


def mvn_kl(m0, S0, m1, S1):
    n = S0.shape[-1]
    S1inv = np.linalg.inv(S1)
    d = m1 - m0
    return 0.5 * (np.trace(S1inv @ S0, axis1=-2, axis2=-1) + np.einsum("...i,...ij,...j", d, S1inv, d) - n
                  + np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1])


def multigammaln(a, p):
    return p * (p - 1) / 4 * math.log(math.pi) + sum(LG(a - j / 2) for j in range(p))


RNG = np.random.RandomState(5)
LOC, W, DG = RNG.randn(3, 5), RNG.randn(3, 5, 2), RNG.rand(3, 5) + 0.5
COV = W @ np.swapaxes(W, -1, -2) + DG[..., None] * np.eye(5)


# -------------------------------------------------------------------------- low-rank normal
def test_lowrank_mvn_values():
    d = D.LowRankMultivariateNormal(t64(LOC), t64(W), t64(DG))
    x = RNG.randn(4, 3, 5)
    np.testing.assert_allclose(npy(d.log_prob(t64(x))), mvn_logpdf(x, LOC, COV), rtol=1e-12)
    np.testing.assert_allclose(npy(d.entropy()), 0.5 * (5 * (1 + math.log(2 * math.pi)) + np.linalg.slogdet(COV)[1]),
                               rtol=1e-12)
    np.testing.assert_allclose(npy(d.covariance_matrix), COV, rtol=1e-12)
    np.testing.assert_allclose(npy(d.precision_matrix), np.linalg.inv(COV), rtol=1e-9, atol=1e-12)
    L = npy(d.scale_tril)
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), COV, rtol=1e-12)
    assert (np.triu(L, 1) == 0).all()
    np.testing.assert_allclose(npy(d.variance), np.diagonal(COV, 0, -2, -1), rtol=1e-12)
    assert d.mean is d.loc and d.mode is d.loc
    # a broadcast loc: batch shapes combine, the factors stay unbroadcast
    b = D.LowRankMultivariateNormal(t64(np.zeros((2, 1, 5))), t64(W), t64(DG))
    assert b.batch_shape == (2, 3) and b.cov_factor.shape == (2, 3, 5, 2) and b._capacitance_tril.shape == (3, 2, 2)
    e = d.expand((2, 3))
    assert e.batch_shape == (2, 3) and e.sample((4,)).shape == (4, 2, 3, 5)
    np.testing.assert_allclose(npy(e.log_prob(t64(x[:1]))), np.broadcast_to(mvn_logpdf(x[:1], LOC, COV), (2, 3)))


def test_lowrank_kl_pairs():
    q_loc, q_w, q_d = RNG.randn(5), RNG.randn(5, 3), RNG.rand(5) + 0.3
    q_cov = q_w @ q_w.T + np.diag(q_d)
    A = RNG.randn(5, 5)
    S = A @ A.T + 3 * np.eye(5)
    p = D.LowRankMultivariateNormal(t64(LOC), t64(W), t64(DG))
    q = D.LowRankMultivariateNormal(t64(q_loc), t64(q_w), t64(q_d))
    m = D.MultivariateNormal(t64(q_loc / 2), t64(S))
    np.testing.assert_allclose(npy(D.kl_divergence(p, q)), mvn_kl(LOC, COV, q_loc, q_cov), rtol=1e-10)
    np.testing.assert_allclose(npy(D.kl_divergence(m, p)), mvn_kl(q_loc / 2, S, LOC, COV), rtol=1e-10)
    np.testing.assert_allclose(npy(D.kl_divergence(p, m)), mvn_kl(LOC, COV, q_loc / 2, S), rtol=1e-10)
    np.testing.assert_allclose(npy(D.kl_divergence(p, p)), 0.0, atol=1e-12)
    other = D.LowRankMultivariateNormal(t64(np.zeros(3)), t64(np.ones((3, 1))), t64(np.ones(3)))
    for a, b in ((p, other), (other, m), (m, other)):
        with pytest.raises(ValueError, match="different event shapes"):
            D.kl_divergence(a, b)


def test_lowrank_sample_grad_validation():
    d = D.LowRankMultivariateNormal(t64(LOC[0]), t64(W[0]), t64(DG[0]))
    n = 40000
    s = npy(d.sample((n,)))
    sd = np.sqrt(np.diag(COV[0]))
    np.testing.assert_array_less(np.abs(s.mean(0) - LOC[0]), 6 * sd / math.sqrt(n))
    # each covariance entry's standard error is at most sqrt(2) sd_i sd_j / sqrt(n) for a Gaussian
    np.testing.assert_array_less(np.abs(np.cov(s.T) - COV[0]), 6 * math.sqrt(2) * np.outer(sd, sd) / math.sqrt(n))
    x = t64(RNG.randn(2, 5))
    assert gradcheck(lambda m, w, dg: D.LowRankMultivariateNormal(m, w, dg).log_prob(x),
                     (t64(LOC[0], grad=True), t64(W[0], grad=True), t64(DG[0], grad=True)))

    def rs(m, w, dg):
        ttorch.manual_seed(1)
        return D.LowRankMultivariateNormal(m, w, dg).rsample((2,))
    assert gradcheck(rs, (t64(LOC[0], grad=True), t64(W[0], grad=True), t64(DG[0], grad=True)))
    with pytest.raises(ValueError, match="Expected parameter cov_diag"):
        D.LowRankMultivariateNormal(t64(LOC[0]), t64(W[0]), t64(-100 * DG[0]))   # a capacitance still PD
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        D.LowRankMultivariateNormal(t64(0.0), t64(W[0]), t64(DG[0]))
    with pytest.raises(ValueError, match="cov_factor must be at least two-dimensional"):
        D.LowRankMultivariateNormal(t64(LOC[0]), t64(DG[0]), t64(DG[0]))
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices with shape 5 x m"):
        D.LowRankMultivariateNormal(t64(LOC[0]), t64(W[0, :4]), t64(DG[0]))
    with pytest.raises(ValueError, match="cov_diag must be a batch of vectors"):
        D.LowRankMultivariateNormal(t64(LOC[0]), t64(W[0]), t64(DG[0, :4]))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        D.LowRankMultivariateNormal(t64(LOC[:2]), t64(W), t64(DG))
    with pytest.raises(ValueError, match="event_shape"):
        d.log_prob(t64(np.zeros(4)))


# ----------------------------------------------------------------------------------- mixture
def _gmm():
    logits, loc, scale = np.array([[0.3, -1.0, 0.5], [0.0, 1.0, 2.0]]), RNG.randn(2, 3, 2), RNG.rand(2, 3, 2) + 0.5
    mix = D.MixtureSameFamily(D.Categorical(logits=t64(logits)), D.Independent(D.Normal(t64(loc), t64(scale)), 1))
    w = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return mix, w, loc, scale


def test_mixture_values():
    mix, w, loc, scale = _gmm()
    assert mix.batch_shape == (2,) and mix.event_shape == (2,)
    x = RNG.randn(4, 2, 2)
    comp = (-0.5 * ((x[:, :, None] - loc) / scale) ** 2 - np.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
    np.testing.assert_allclose(npy(mix.log_prob(t64(x))), np.log((w * np.exp(comp)).sum(-1)), rtol=1e-12)
    mean = (w[..., None] * loc).sum(-2)
    np.testing.assert_allclose(npy(mix.mean), mean, rtol=1e-12)
    var = (w[..., None] * (scale ** 2 + loc ** 2)).sum(-2) - mean ** 2
    np.testing.assert_allclose(npy(mix.variance), var, rtol=1e-12)
    # a univariate mixture: cdf, and samples' moments
    # (PyTorch's sample needs the Categorical's batch shape to be the mixture's)
    m1 = D.MixtureSameFamily(D.Categorical(t64([[0.2, 0.5, 0.3]] * 2)),
                             D.Normal(t64([[-2.0, 0.0, 3.0]] * 2), t64([0.5, 1.0, 2.0])))
    assert m1.batch_shape == (2,)
    v = np.array([-1.0, 2.5])
    ref = sum(p * 0.5 * (1 + np.vectorize(math.erf)((v - mu) / (sg * math.sqrt(2))))
              for p, mu, sg in zip([0.2, 0.5, 0.3], [-2.0, 0.0, 3.0], [0.5, 1.0, 2.0]))
    np.testing.assert_allclose(npy(m1.cdf(t64(v))), ref, rtol=1e-12)
    n = 40000
    s = npy(m1.sample((n,)))
    assert s.shape == (n, 2)
    mean, var = npy(m1.mean), npy(m1.variance)
    np.testing.assert_array_less(np.abs(s.mean(0) - mean), 6 * np.sqrt(var / n))
    m4 = ((s - mean) ** 4).mean(0)
    np.testing.assert_array_less(np.abs(s.var(0) - var), 6 * np.sqrt((m4 - var ** 2) / n))
    e = mix.expand((5, 2))
    assert e.batch_shape == (5, 2) and e.sample((3,)).shape == (3, 5, 2, 2) and e.log_prob(t64(x[0])).shape == (5, 2)
    v = t64([[0.3], [-1.0]])
    assert gradcheck(lambda lg, m: D.MixtureSameFamily(D.Categorical(logits=lg), D.Normal(m, 1.0)).log_prob(v),
                     (t64([0.1, 0.5, -0.3], grad=True), t64([-1.0, 0.0, 2.0], grad=True)))


def test_mixture_support_and_errors():
    mix = D.MixtureSameFamily(D.Categorical(t64([0.5, 0.5])), D.Gamma(t64([1.0, 2.0]), t64([1.0, 3.0])))
    assert isinstance(mix.support, C.MixtureSameFamilyConstraint) and mix.has_rsample is False
    assert repr(mix.support) == "MixtureSameFamilyConstraint(GreaterThanEq(lower_bound=0.0))"
    np.testing.assert_equal(npy(mix.support.check(t64([-1.0, 2.0]))), [False, True])
    with pytest.raises(ValueError, match="support"):
        mix.log_prob(t64(-1.0))
    with pytest.raises(ValueError, match="Categorical"):
        D.MixtureSameFamily(D.Bernoulli(t64([0.5, 0.5])), D.Normal(t64([0.0, 1.0]), 1.0))
    with pytest.raises(ValueError, match="Component distribution needs to be an instance"):
        D.MixtureSameFamily(D.Categorical(t64([0.5, 0.5])), "normal")
    with pytest.raises(ValueError, match="does not equal `component_distribution.batch_shape"):
        D.MixtureSameFamily(D.Categorical(t64([0.5, 0.5])), D.Normal(t64([0.0, 1.0, 2.0]), 1.0))
    with pytest.raises(ValueError, match="is not compatible"):
        D.MixtureSameFamily(D.Categorical(t64(np.ones((3, 2)))), D.Normal(t64(np.zeros((4, 2))), 1.0))


# --------------------------------------------------------------------- constraint registry
def _num_ladj(f, x, h=1e-6):
    """log|det J| of ``f`` (a NumPy map of a flat vector to a flat vector) at ``x``."""
    jac = np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)], 1)
    return np.linalg.slogdet(jac)[1]


ELEMENTWISE = [C.real, C.positive, C.nonnegative, C.greater_than(1.5), C.greater_than_eq(-1.0), C.less_than(2.0),
               C.interval(-1.0, 3.0), C.half_open_interval(0.0, 2.0), C.unit_interval]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_registry_elementwise(registry):
    reg = getattr(D, registry)
    x = t64(RNG.randn(4, 3) * 2)
    for con in ELEMENTWISE:
        tr = reg(con)
        y = tr(x)
        assert bool(con.check(y).all()), con
        np.testing.assert_allclose(npy(tr.inv(y)), npy(x), rtol=1e-9, atol=1e-9)
        h = 1e-6
        num = np.log(np.abs((npy(tr(x + h)) - npy(tr(x - h))) / (2 * h)))
        np.testing.assert_allclose(npy(tr.log_abs_det_jacobian(x, y)), num, rtol=1e-5, atol=1e-7)
    assert isinstance(reg(C.positive), T.ComposeTransform)         # greater_than's registration wins, as PyTorch's
    assert isinstance(reg(C.unit_interval), T.SigmoidTransform) and reg(C.real) is T.identity_transform
    ind = reg(C.independent(C.positive, 1))
    assert isinstance(ind, T.IndependentTransform) and ind.log_abs_det_jacobian(x, ind(x)).shape == (4,)
    assert isinstance(reg(C.corr_cholesky), T.CorrCholeskyTransform)


def test_registry_structured():
    assert isinstance(D.biject_to(C.simplex), T.StickBreakingTransform)
    assert isinstance(D.transform_to(C.simplex), T.SoftmaxTransform)
    assert isinstance(D.transform_to(C.lower_cholesky), T.LowerCholeskyTransform)
    assert isinstance(D.transform_to(C.positive_definite), T.PositiveDefiniteTransform)
    assert isinstance(D.transform_to(C.positive_semidefinite), T.PositiveDefiniteTransform)
    for con in (C.lower_cholesky, C.positive_definite, C.boolean):   # PyTorch registers no bijections for these
        with pytest.raises(NotImplementedError, match="Cannot transform"):
            D.biject_to(con)
    with pytest.raises(TypeError, match="Expected constraint"):
        D.biject_to.register(int, lambda c: None)
    reg = D.constraint_registry.ConstraintRegistry()
    reg.register(C.positive)(lambda c: T.ExpTransform())
    assert isinstance(reg(C.greater_than(3.0)), T.ExpTransform)
    M = t64(RNG.randn(3, 4, 4))
    L = D.transform_to(C.lower_cholesky)(M)
    assert bool(C.lower_cholesky.check(L).all())
    np.testing.assert_allclose(npy(T.LowerCholeskyTransform().inv(L)), np.tril(npy(M)), rtol=1e-12)
    P = D.transform_to(C.positive_definite)(M)
    assert bool(C.positive_definite.check(P).all())
    np.testing.assert_allclose(npy(T.PositiveDefiniteTransform().inv(P)), np.tril(npy(M)), rtol=1e-9, atol=1e-12)
    assert T.LowerCholeskyTransform() == T.LowerCholeskyTransform() and T.CorrCholeskyTransform().bijective


def test_corr_cholesky_transform():
    t = T.CorrCholeskyTransform()
    x = RNG.randn(6)
    y = t(t64(x))
    assert y.shape == (4, 4) and bool(C.corr_cholesky.check(y))
    np.testing.assert_allclose(np.linalg.norm(npy(y), axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(npy(t.inv(y)), x, rtol=1e-10, atol=1e-12)
    rows, cols = np.tril_indices(4, -1)
    f = lambda v: npy(t(t64(v)))[rows, cols]                       # the free coordinates of y
    np.testing.assert_allclose(npy(t.log_abs_det_jacobian(t64(x), y)), _num_ladj(f, x), rtol=1e-7)
    assert t.forward_shape((2, 6)) == (2, 4, 4) and t.inverse_shape((2, 4, 4)) == (2, 6)
    with pytest.raises(ValueError, match="flattened lower-diagonal"):
        t.forward_shape((5,))
    assert gradcheck(lambda v: t.log_abs_det_jacobian(v, t(v)) + t(v).sum(), (t64(x, grad=True),))


def test_cat_stack_cdf_transforms():
    x = t64(RNG.randn(4, 3))
    ct = D.biject_to(C.cat([C.positive, C.real, C.interval(0.0, 2.0)], dim=1))
    y = ct(x)
    np.testing.assert_allclose(npy(y[:, 0]), np.exp(npy(x[:, 0])), rtol=1e-12)
    np.testing.assert_allclose(npy(y[:, 1]), npy(x[:, 1]))
    np.testing.assert_allclose(npy(ct.inv(y)), npy(x), rtol=1e-10, atol=1e-12)
    assert ct.log_abs_det_jacobian(x, y).shape == (4, 3) and ct.bijective and ct.event_dim == 0
    st = D.transform_to(C.stack([C.positive, C.real, C.unit_interval], dim=-1))
    xn = npy(x)
    np.testing.assert_allclose(npy(st(x)), np.stack([np.exp(xn[:, 0]), xn[:, 1], 1 / (1 + np.exp(-xn[:, 2]))], -1),
                               rtol=1e-12)
    np.testing.assert_allclose(npy(st.inv(st(x))), npy(x), rtol=1e-10, atol=1e-12)
    # a vector part inside a cat: its log det is summed over its event dim, the cat dim outside the event
    ce = T.CatTransform([T.IndependentTransform(T.ExpTransform(), 1), T.SigmoidTransform()], dim=0, lengths=[3, 1])
    xe = x
    ref = np.concatenate([npy(xe[:3]).sum(-1, keepdims=False),
                          (-np.logaddexp(0, -npy(xe[3])) - np.logaddexp(0, npy(xe[3]))).sum(-1, keepdims=True)])
    np.testing.assert_allclose(npy(ce.log_abs_det_jacobian(xe, ce(xe))), ref, rtol=1e-12)
    with pytest.raises(AssertionError, match="must equal length 4"):
        ce(x[:2])
    with pytest.raises(AssertionError, match="must equal len\\(transforms\\) 3"):
        st(x[:, :2])
    with pytest.raises(AssertionError, match="lengths"):
        T.CatTransform([T.ExpTransform()], lengths=[1, 2])
    n = D.Normal(t64([0.5, -1.0]), t64([1.0, 2.0]))
    cdf = T.CumulativeDistributionTransform(n)
    v = t64([[0.3, -2.0], [1.5, 0.0]])
    u = cdf(v)
    assert cdf.domain is n.support and cdf.codomain is C.unit_interval and cdf.sign == 1
    np.testing.assert_allclose(npy(cdf.inv(u)), npy(v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(cdf.log_abs_det_jacobian(v, u)), npy(n.log_prob(v)), rtol=1e-12)
    assert cdf.with_cache(1)._cache_size == 1


# ----------------------------------------------------------------------------------- wishart
def _wishart_logpdf(X, df, S):
    p = S.shape[-1]
    return ((df - p - 1) / 2 * np.linalg.slogdet(X)[1] - np.trace(np.linalg.solve(S, X), axis1=-2, axis2=-1) / 2
            - df * p / 2 * math.log(2) - df / 2 * np.linalg.slogdet(S)[1] - multigammaln(df / 2, p))


def test_wishart_values():
    A = RNG.randn(2, 3, 3)
    S = A @ np.swapaxes(A, -1, -2) + np.eye(3)
    B = RNG.randn(4, 2, 3, 3)
    X = B @ np.swapaxes(B, -1, -2) + 0.5 * np.eye(3)
    df = np.array([4.5, 7.0])
    for kw in (dict(covariance_matrix=t64(S)), dict(precision_matrix=t64(np.linalg.inv(S))),
               dict(scale_tril=t64(np.linalg.cholesky(S)))):
        w = D.Wishart(t64(df), **kw)
        np.testing.assert_allclose(npy(w.log_prob(t64(X))), _wishart_logpdf(X, df, S), rtol=1e-9)
        np.testing.assert_allclose(npy(w.mean), df[:, None, None] * S, rtol=1e-10)
        d = np.diagonal(S, 0, -2, -1)
        np.testing.assert_allclose(npy(w.variance), df[:, None, None] * (S ** 2 + d[..., :, None] * d[..., None, :]),
                                   rtol=1e-10)
        np.testing.assert_allclose(npy(w.mode), (df - 4)[:, None, None] * S, rtol=1e-10)
    # the closed-form entropy agrees with the exponential family's (Bregman) one, and KL with itself is 0
    np.testing.assert_allclose(npy(w.entropy()), npy(D.ExponentialFamily.entropy(w)), rtol=1e-10)
    np.testing.assert_allclose(npy(D.kl_divergence(w, w)), 0.0, atol=1e-10)
    assert np.isnan(npy(D.Wishart(t64(3.5), t64(S[0])).mode)).all()
    e = w.expand((5, 2))
    assert e.batch_shape == (5, 2) and e.rsample((3,)).shape == (3, 5, 2, 3, 3)
    assert D.Wishart(3.0, t64(S[0])).batch_shape == () and D.Wishart(3.0, t64(S[0])).df.dtype == ttorch.float64


def test_wishart_samples_and_grad():
    S = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    w = D.Wishart(t64([5.0]), t64(S))
    n = 20000
    s = npy(w.sample((n,)))[:, 0]
    assert bool(C.positive_definite.check(t64(s)).all())
    var = npy(w.variance)[0]
    np.testing.assert_array_less(np.abs(s.mean(0) - 5 * S), 6 * np.sqrt(var / n))
    np.testing.assert_array_less(np.abs(s.var(0) / var - 1), 0.15)
    X = t64(S * 4)
    assert gradcheck(lambda df, L: D.Wishart(df, scale_tril=L.tril()).log_prob(X),
                     (t64([5.0, 6.5], grad=True), t64(np.linalg.cholesky(S), grad=True)))
    assert gradcheck(lambda df: D.Wishart(df, t64(S)).entropy(), (t64([5.0, 6.5], grad=True),))
    df = t64([5.0], grad=True)
    L = t64(np.linalg.cholesky(S), grad=True)
    D.Wishart(df, scale_tril=L).rsample((10,)).sum().backward()
    assert np.isfinite(npy(df.grad)).all() and np.isfinite(npy(L.grad)).all() and (npy(df.grad) > 0).all()


def test_wishart_validation():
    S = t64(np.eye(3))
    with pytest.raises(ValueError, match="expected to be greater than ndim - 1 = 2"):
        D.Wishart(t64(2.0), S)
    with pytest.raises(AssertionError, match="Exactly one of"):
        D.Wishart(t64(4.0), S, precision_matrix=S)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        D.Wishart(t64(4.0), t64([1.0, 2.0]))
    with pytest.raises(ValueError, match="Expected parameter covariance_matrix"):
        D.Wishart(t64(4.0), t64([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.warns(UserWarning, match="Low df values"):
        D.Wishart(t64(2.5), S)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # a regular sample gives no warning
        D.Wishart(t64(5.0), S).rsample((4,))
    with pytest.raises(ValueError, match="support"):
        D.Wishart(t64(4.0), S).log_prob(t64(-np.eye(3)))
    assert D.Wishart(t64(4.0), S).arg_constraints["df"].lower_bound == 2


# ------------------------------------------------------------------------------------------ LKJ
def test_lkj_density_and_moments():
    # dim 2: L = [[1, 0], [r, sqrt(1 - r^2)]], and r has density (1 - r^2)^(eta - 1) / B, normalised
    r = np.linspace(-1, 1, 200001)[1:-1]
    L = np.zeros((r.size, 2, 2))
    L[:, 0, 0], L[:, 1, 0], L[:, 1, 1] = 1, r, np.sqrt(1 - r ** 2)
    for eta in (0.7, 1.0, 3.0):
        lp = npy(D.LKJCholesky(2, t64(eta)).log_prob(t64(L)))
        ref = 2 * (eta - 1) * np.log(L[:, 1, 1]) - (0.5 * math.log(math.pi) + math.lgamma(eta) - math.lgamma(eta + 0.5))
        np.testing.assert_allclose(lp, ref, rtol=1e-10, atol=1e-12)
        if eta >= 1:
            np.testing.assert_allclose(np.sum(np.exp(lp)) * (r[1] - r[0]), 1.0, rtol=1e-4)
    # dim 4: each correlation is 2 Beta(b, b) - 1, b = eta - 1 + dim / 2: mean 0, variance 1 / (2 eta + dim - 1)
    d = D.LKJCholesky(4, t64([0.5, 3.0]))
    n = 20000
    s = d.sample((n,))
    assert s.shape == (n, 2, 4, 4) and bool(d.support.check(s).all())
    Lnp = npy(s)
    # PyTorch's onion sampler (kept) has Beta(i - 1/2, .) radii for rows i >= 2, where the method has
    # Beta(i / 2, .): only row 1 has the LKJ marginal; later rows are more spread out (as PyTorch's are)
    corr = (Lnp @ np.swapaxes(Lnp, -1, -2))[..., 1, 0]
    var = 1 / (2 * np.array([0.5, 3.0]) + 3)
    np.testing.assert_array_less(np.abs(corr.mean(0)), 6 * np.sqrt(var / n))
    np.testing.assert_allclose(corr.var(0), var, rtol=0.05)
    e = d.expand((3, 2))
    assert e.batch_shape == (3, 2) and e.sample().shape == (3, 2, 4, 4) and e.log_prob(s[0]).shape == (3, 2)
    y = T.CorrCholeskyTransform()(t64(RNG.randn(6)))
    assert gradcheck(lambda c: D.LKJCholesky(4, c).log_prob(y), (t64([0.5, 3.0], grad=True),))
    assert D.LKJCholesky(3).has_rsample is False and D.LKJCholesky(3, 2.0).event_shape == (3, 3)
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        D.LKJCholesky(1)
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.LKJCholesky(3, t64(-1.0))
    with pytest.raises(ValueError, match="support"):
        D.LKJCholesky(2).log_prob(t64([[1.0, 0.0], [0.5, 0.5]]))


# ---------------------------------------------------------------------------- devices, docs
def test_device(device):
    loc = t64(LOC[0], device, grad=True)
    d = D.LowRankMultivariateNormal(loc, t64(W[0], device), t64(DG[0], device))
    x = t64(RNG.randn(2, 5))
    lp = d.log_prob(x.to(device))
    assert lp.device.type == device
    lp.sum().backward()
    np.testing.assert_allclose(npy(lp), mvn_logpdf(npy(x), LOC[0], COV[0]), rtol=1e-10)
    assert loc.grad.device.type == device
    w = D.Wishart(t64(4.0, device), t64(np.eye(2) * 2, device))
    np.testing.assert_allclose(npy(w.log_prob(t64(np.eye(2), device))), _wishart_logpdf(np.eye(2), 4.0, np.eye(2) * 2),
                               rtol=1e-10)
    y = T.CorrCholeskyTransform()(t64([0.3, -0.2, 1.0], device))
    assert y.device.type == device and bool(C.corr_cholesky.check(y))


@pytest.mark.parametrize("module", ["lowrank_multivariate_normal", "mixture_same_family", "constraint_registry",
                                    "constraint_transforms", "cat_transforms", "wishart", "lkj_cholesky"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module("ttorch.distributions." + module))
    assert result.failed == 0 and result.attempted > 0


def test_pytorch_paths():
    from ttorch.distributions.constraint_registry import biject_to, transform_to
    from ttorch.distributions.lkj_cholesky import LKJCholesky
    from ttorch.distributions.transforms import CatTransform, CorrCholeskyTransform
    assert biject_to is D.biject_to and transform_to is D.transform_to and LKJCholesky is D.LKJCholesky
    assert CatTransform is D.CatTransform and CorrCholeskyTransform is D.CorrCholeskyTransform
