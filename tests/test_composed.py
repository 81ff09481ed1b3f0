"""The functions of ops/composed.py against NumPy, gradients by float64 finite differences, the errors
PyTorch raises, on both devices where they run kernels. (tests/test_ops.py runs their samples too.)"""
import math
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck

from _helpers import to_np

DEVICES = ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else [])
R = np.random.default_rng(17)


def u(*shape):
    return R.uniform(-1, 1, shape)


def t64(a, device="cpu", grad=False):
    return ttorch.tensor(a, dtype=ttorch.float64, device=device, requires_grad=grad)


@pytest.mark.parametrize("device", DEVICES)
def test_diff(device):
    a, p, q = u(4, 3), u(1, 3), u(2, 3)
    np.testing.assert_allclose(to_np(ttorch.diff(t64(a, device), n=2, dim=0, prepend=t64(p, device),
                                                 append=t64(q, device))),
                               np.diff(a, 2, 0, prepend=p, append=q), rtol=1e-12)
    b = np.array([[1, 5, 3], [7, 0, 2]])
    assert ttorch.diff(ttorch.tensor(b, device=device) > 2).tolist() == np.diff(b > 2).tolist()
    assert ttorch.diff(ttorch.tensor(b, device=device), n=5).shape == (2, 0)
    assert gradcheck(lambda x: ttorch.diff(x, n=2), (t64(u(6), grad=True),))
    with pytest.raises(RuntimeError, match="order must be non-negative"):
        ttorch.diff(ttorch.zeros(3), n=-1)


@pytest.mark.parametrize("device", DEVICES)
def test_logaddexp_and_xlogy(device):
    a, b = u(3, 4) * 30, u(4) * 30
    np.testing.assert_allclose(to_np(ttorch.logaddexp(t64(a, device), t64(b, device))), np.logaddexp(a, b), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.logaddexp2(t64(a, device), t64(b, device))), np.logaddexp2(a, b),
                               rtol=1e-12)
    inf = math.inf
    got = ttorch.logaddexp(t64([inf, -inf, inf, 0.0], device), t64([inf, -inf, -inf, 0.0], device))
    assert to_np(got).tolist() == [inf, -inf, inf, pytest.approx(math.log(2))]
    x = t64(u(3), grad=True)
    ttorch.logaddexp(x, x).sum().backward()                       # a tie: half to each side
    np.testing.assert_allclose(to_np(x.grad), 1.0)
    assert gradcheck(ttorch.logaddexp, (t64(u(3, 4), grad=True), t64(u(4), grad=True)))
    got = ttorch.xlogy(t64([0.0, 0.0, 1.0, 2.0, 0.0], device), t64([0.0, math.nan, 0.0, 3.0, -1.0], device))
    np.testing.assert_allclose(to_np(got), [0.0, math.nan, -inf, 2 * math.log(3), 0.0])
    assert ttorch.xlogy(ttorch.tensor([1, 2], device=device), 3).dtype is ttorch.float32
    xs, ys = u(3, 4), R.uniform(0.1, 2, (3, 4))            # (at x = 0 the gradient is PyTorch's 0, below)
    assert gradcheck(ttorch.xlogy, (t64(xs, grad=True), t64(ys, grad=True)))
    z = t64([0.0, 0.0, -1.0, 1.0], device, grad=True)
    w = t64([0.0, 2.0, 0.0, -2.0], device, grad=True)
    ttorch.xlogy(z, w).sum().backward()             # PyTorch's: xlogy(g, y), 0 where x = 0 and y <= 0; g x / y
    np.testing.assert_array_equal(to_np(z.grad), [0.0, math.log(2), -inf, math.nan])
    np.testing.assert_array_equal(to_np(w.grad), [math.nan, 0.0, -inf, -0.5])
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        ttorch.logaddexp(ttorch.tensor([1], device=device), ttorch.tensor([2], device=device))
    p = t64([inf, -inf, inf, 1.0], device, grad=True)
    q = t64([inf, -inf, -inf, 1.0], device, grad=True)
    ttorch.logaddexp(p, q).sum().backward()         # PyTorch's: g / (1 + exp(q - p)): NaN at equal infinities
    np.testing.assert_array_equal(to_np(p.grad), [math.nan, math.nan, 1.0, 0.5])
    np.testing.assert_array_equal(to_np(q.grad), [math.nan, math.nan, 0.0, 0.5])
    assert ttorch.logaddexp(x, x).grad_fn.name() == "LogaddexpBackward0"


def test_shapes_against_numpy():
    a, b = u(4, 3), u(3)
    assert [x.shape for x in ttorch.broadcast_tensors(t64(a), t64(b))] == [(4, 3), (4, 3)]
    for fn, nfn, args in ((ttorch.tril_indices, np.tril_indices, (4, 3, 1)), (ttorch.triu_indices, np.triu_indices,
                                                                               (3, 5, -1))):
        r, c, k = args
        assert fn(r, c, k).tolist() == [list(x) for x in nfn(r, k, c)]
    assert ttorch.triu_indices(3, 3, dtype=ttorch.int32).dtype is ttorch.int32
    m = u(2, 4)
    got = ttorch.diag_embed(t64(m), 1, 0, 2)
    want = np.zeros((5, 2, 5))
    for i in range(2):
        want[:, i, :] = np.diag(m[i], 1)
    np.testing.assert_array_equal(to_np(got), want)
    np.testing.assert_array_equal(to_np(ttorch.diagflat(t64(m), -1)), np.diagflat(m, -1))
    blocks = [u(2, 3), u(), u(2), u(1, 2)]
    want = np.zeros((5, 8))
    want[:2, :3], want[2, 3], want[3, 4:6], want[4, 6:8] = blocks
    np.testing.assert_array_equal(to_np(ttorch.block_diag(*[t64(x) for x in blocks])), want)
    assert gradcheck(lambda *xs: ttorch.block_diag(*xs), tuple(t64(x, grad=True) for x in blocks))
    c = u(2, 3, 4)
    for k in (1, 2, 3, -1, 6):
        np.testing.assert_array_equal(to_np(ttorch.rot90(t64(c), k, (1, 2))), np.rot90(c, k, (1, 2)))
    for sec in (3, [1, 4, 9], [-2, 1]):
        got = ttorch.tensor_split(t64(u(3, 5)), sec, dim=1)
        assert len(got) == len(np.array_split(np.zeros((3, 5)), sec, axis=1))
    x = u(2, 6)
    for got, want in zip(ttorch.hsplit(t64(x), 3), np.hsplit(x, 3)):
        np.testing.assert_array_equal(to_np(got), want)
    np.testing.assert_array_equal(to_np(ttorch.column_stack([t64(b), t64(a.T), t64(b)])), np.column_stack([b, a.T, b]))
    with pytest.raises(RuntimeError, match="not divisible by the split_size 2"):
        ttorch.hsplit(ttorch.zeros(2, 5), 2)
    with pytest.raises(RuntimeError, match="expected rotation dims to be different"):
        ttorch.rot90(ttorch.zeros(2, 2), 1, (0, 0))
    with pytest.raises(RuntimeError, match="Input tensors must have 2 or fewer dimensions"):
        ttorch.block_diag(ttorch.zeros(2, 2, 2))


@pytest.mark.parametrize("device", DEVICES)
def test_isin(device):
    e, t = np.array([[1, 5, 3], [7, 0, 2]]), np.array([5, 2, 9, 5])
    got = ttorch.isin(ttorch.tensor(e, device=device), ttorch.tensor(t, device=device))
    assert got.tolist() == np.isin(e, t).tolist() and got.device.type == device
    assert ttorch.isin(ttorch.tensor(e, device=device), ttorch.tensor(t, device=device), invert=True).tolist() == \
        np.isin(e, t, invert=True).tolist()
    assert ttorch.isin(ttorch.tensor(e, device=device), 5).tolist() == (e == 5).tolist()
    f = t64([0.0, math.nan, 1.5, 2.0], device)
    assert ttorch.isin(f, t64([math.nan, 2.0, 0.0], device)).tolist() == [True, False, False, True]
    assert ttorch.isin(f, ttorch.tensor([], device=device)).tolist() == [False] * 4


@pytest.mark.parametrize("device", DEVICES)
def test_statistics_against_numpy(device):
    x, aw, fw = u(3, 6), R.uniform(0.5, 2, 6), np.array([1, 2, 1, 3, 1, 1])
    np.testing.assert_allclose(to_np(ttorch.cov(t64(x, device))), np.cov(x), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.cov(t64(x, device), correction=0)), np.cov(x, ddof=0), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.cov(t64(x, device), fweights=ttorch.tensor(fw, device=device),
                                                aweights=t64(aw, device))),
                               np.cov(x, fweights=fw, aweights=aw), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.cov(t64(x[0], device))), np.cov(x[0]), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.corrcoef(t64(x, device))), np.corrcoef(x), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.dist(t64(x, device), t64(x[0], device), 3)),
                               np.linalg.norm((x - x[0]).ravel(), 3), rtol=1e-12)
    assert gradcheck(lambda a, w: ttorch.cov(a, aweights=w), (t64(x, grad=True), t64(aw, grad=True)))
    assert gradcheck(ttorch.corrcoef, (t64(x, grad=True),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="degrees of freedom is <= 0"):
            ttorch.cov(ttorch.zeros(2, 1))
    n = t64([[1.0, math.nan, 3.0, 2.0], [math.nan] * 4], device)
    assert to_np(ttorch.nansum(n, 1)).tolist() == [6.0, 0.0]
    np.testing.assert_allclose(to_np(ttorch.nanmean(n, 1)), [2.0, math.nan])
    with pytest.raises(RuntimeError, match="expected input to have floating point"):
        ttorch.nanmean(ttorch.tensor([1, 2]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_against_numpy(device, interpolation):
    x, q = u(3, 6), np.array([0.0, 0.25, 0.5, 0.8, 1.0])
    got = ttorch.quantile(t64(x, device), t64(q, device), dim=1, keepdim=True, interpolation=interpolation)
    np.testing.assert_allclose(to_np(got), np.quantile(x, q, axis=1, keepdims=True, method=interpolation), rtol=1e-12)
    got = ttorch.quantile(t64(x, device), 0.3, interpolation=interpolation)
    np.testing.assert_allclose(to_np(got), np.quantile(x, 0.3, method=interpolation), rtol=1e-12)
    n = x.copy()
    n[1, 2] = math.nan
    got = ttorch.nanquantile(t64(n, device), t64(q, device), dim=1, interpolation=interpolation)
    np.testing.assert_allclose(to_np(got), np.nanquantile(n, q, axis=1, method=interpolation), rtol=1e-12)
    assert np.isnan(to_np(ttorch.quantile(t64(n, device), 0.5, dim=1))[1])
    if interpolation == "linear":
        assert gradcheck(lambda a: ttorch.quantile(a, t64([0.2, 0.7]), dim=0), (t64(x, grad=True),))
    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        ttorch.quantile(ttorch.zeros(3), 1.5)
    with pytest.raises(RuntimeError, match="input tensor must be either float or double"):
        ttorch.quantile(ttorch.tensor([1, 2]), 0.5)


@pytest.mark.parametrize("device", DEVICES)
def test_logcumsumexp(device, monkeypatch):
    # blocks of 4 columns: the carry crosses blocks; forward and reverse (its backward's) scans
    from ttorch.ops import scan
    monkeypatch.setattr(scan, "MAX_BLOCK_N", 4)
    x = R.uniform(-30, 30, (3, 11))
    got = ttorch.logcumsumexp(t64(x, device), 1)
    np.testing.assert_allclose(to_np(got), np.logaddexp.accumulate(x, 1), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.logcumsumexp(t64(x, device), 0)), np.logaddexp.accumulate(x, 0),
                               rtol=1e-12)
    inf = math.inf
    s = t64([[-inf, 0.0, -inf, 1.0, 2.0], [inf, 2.0, -inf, inf, 1.0], [-inf, -inf, 3.0, math.nan, 1.0]], device)
    r = to_np(ttorch.logcumsumexp(s, 1))
    assert r[0, :3].tolist() == [-inf, 0.0, 0.0] and (r[1] == inf).all() and np.isnan(r[2, 3:]).all()
    assert gradcheck(lambda a: ttorch.logcumsumexp(a, 1), (t64(x[:, :6] / 10, grad=True),))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        ttorch.logcumsumexp(ttorch.tensor([1, 2]), 0)


@pytest.mark.parametrize("device", DEVICES)
def test_histc(device):
    x = t64([1.0, 2.0, 1.0, 2.5, 4.0, 7.0, math.nan], device)
    assert ttorch.histc(x, bins=4, min=0, max=3).tolist() == [0.0, 2.0, 1.0, 1.0]      # out of range, NaN: not counted
    assert ttorch.histc(x[:6], bins=4).tolist() == [3.0, 1.0, 1.0, 1.0]                # the values' own range
    assert ttorch.histc(t64([2.0, 2.0], device), bins=3).tolist() == [0.0, 2.0, 0.0]   # one point: widened by 1
    assert ttorch.histc(t64([0.1, 0.2, 0.3, 0.7, 1.0], device), bins=10, min=0, max=1).tolist() == \
        [0, 1, 1, 1, 0, 0, 0, 1, 0, 1]                  # (x - min) * bins / (max - min): 0.3 -> 3.0000000000000004
    v = R.normal(size=500)
    want = np.bincount(np.clip(np.floor((v[np.abs(v) <= 2] + 2) * 9 / 4).astype(int), 0, 8), minlength=9)
    got = ttorch.histc(ttorch.tensor(v, dtype=ttorch.float32, device=device), bins=9, min=-2, max=2)
    assert got.dtype is ttorch.float32 and got.tolist() == want.tolist()
    with pytest.raises(RuntimeError, match="range of .* is not finite"):
        ttorch.histc(x, bins=4)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        ttorch.histc(x, bins=3, min=3, max=1)


@pytest.mark.parametrize("device", DEVICES)
def test_cummax_cummin(device, monkeypatch):
    # blocks of 4 columns: the (value, index) carry crosses blocks; ties take the later index, a NaN
    # runs on (a later NaN takes over the index), as PyTorch's
    from ttorch.ops import scan
    monkeypatch.setattr(scan, "MAX_BLOCK_N", 4)
    nan = math.nan
    x = t64([[1.0, 1.0, 0.0, 2.0, 2.0, nan, 3.0, nan, 0.5]], device)
    mx = ttorch.cummax(x, 1)
    assert mx.indices.tolist() == [[0, 1, 1, 3, 4, 5, 5, 7, 7]] and to_np(mx.values)[0, :5].tolist() == [1, 1, 1, 2, 2]
    assert np.isnan(to_np(mx.values)[0, 5:]).all()
    mn = ttorch.cummin(x[:, :5], 1)
    assert mn.values.tolist() == [[1.0, 1.0, 0.0, 0.0, 0.0]] and mn.indices.tolist() == [[0, 1, 2, 2, 2]]
    a = R.uniform(-1, 1, (3, 11))
    v = ttorch.cummax(t64(a, device), 0)
    np.testing.assert_array_equal(to_np(v.values), np.maximum.accumulate(a, 0))
    ints = ttorch.cummin(ttorch.tensor([[3, 1, 2], [0, 5, -1]], device=device), 1)
    assert ints.values.tolist() == [[3, 1, 1], [0, 0, -1]] and ints.values.dtype is ttorch.int64
    assert gradcheck(lambda t: ttorch.cummax(t, 1).values, (t64(a, grad=True),))
    assert ttorch.cummax(ttorch.tensor(2.5, device=device), 0).indices.item() == 0


@pytest.mark.parametrize("device", DEVICES)
def test_signbit_reads_the_bit(device):
    x = np.array([1.0, -0.0, 0.0, -2.0, np.inf, -np.inf, 3.0, -np.nan, np.nan])     # a NaN's sign too
    for dt in (ttorch.float64, ttorch.float32, ttorch.float16, ttorch.bfloat16):
        assert ttorch.tensor(x, dtype=dt, device=device).signbit().tolist() == np.signbit(x).tolist(), dt
    assert ttorch.signbit(ttorch.tensor([-3, 0, 2], device=device)).tolist() == [True, False, False]
    assert ttorch.signbit(ttorch.tensor([True, False], device=device)).tolist() == [False, False]


@pytest.mark.parametrize("device", DEVICES)
def test_fmax_fmin_ignore_nan_as_pytorch(device):
    # values and gradients as PyTorch 2.13 gives them: NaN only where both are; ties and NaN others to self
    nan = math.nan
    for f, y, ga in ((ttorch.fmax, [2, 1, nan, 2, 3, -0.0], [0, 0, 1, 1, 1, 1]),
                     (ttorch.fmin, [1, 1, nan, 2, 3, -0.0], [1, 0, 1, 1, 1, 1])):
        a = t64([1.0, nan, nan, 2.0, 3.0, -0.0], device, grad=True)
        b = t64([2.0, 1.0, nan, 2.0, nan, 0.0], device, grad=True)
        out = f(a, b)
        ga_, gb_ = ttorch.autograd.grad(out.sum(), (a, b))
        np.testing.assert_array_equal(to_np(out), y)
        assert np.signbit(to_np(out)[5])                                   # the tie gives self's -0.0
        np.testing.assert_array_equal(to_np(ga_), ga)
        np.testing.assert_array_equal(to_np(gb_), [1 - v for v in ga])
    assert ttorch.fmax(ttorch.tensor([1, 5], device=device), ttorch.tensor([3, 2], device=device)).tolist() == [3, 5]
    x = t64([nan, 1.0, 0.2], device, grad=True)
    ttorch.fmin(x, 0.5).sum().backward()                                   # a number for other
    assert to_np(x.grad).tolist() == [0.0, 0.0, 1.0]
    ttorch.fmax(x, nan).sum().backward()
    assert to_np(x.grad).tolist() == [1.0, 1.0, 2.0]


@pytest.mark.parametrize("device", DEVICES)
def test_sinc_and_logit_at_the_edges_as_pytorch(device):
    # one kernel each; values and gradients as PyTorch 2.13 gives them (cpu, float64)
    nan, inf, pi = math.nan, math.inf, math.pi
    x = t64([nan, inf, -inf, -0.0, 0.0, 0.5, 1.0, 1e-20, 2.5], device, grad=True)
    y = ttorch.sinc(x)
    (g,) = ttorch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(to_np(y), [nan, nan, nan, 1, 1, 2 / pi, 3.8981718325193755e-17, 1, 1 / (2.5 * pi)],
                               rtol=1e-12)
    np.testing.assert_allclose(to_np(g), [nan, nan, nan, 0, 0, -4 / pi, -1, 0, -0.05092958178940638], rtol=1e-12)
    p = [nan, 0.0, 1.0, 0.5, 0.2, 0.05, 0.99, -0.1, 1.2]
    for eps, y, g in ((None, [nan, -inf, inf, 0, math.log(0.25), math.log(0.05 / 0.95), math.log(99), nan, nan],
                       [nan, inf, inf, 4, 6.25, 1 / 0.0475, 1 / 0.0099, nan, nan]),
                      (0.1, [nan, -math.log(9), math.log(9), 0, math.log(0.25)] + [-math.log(9), math.log(9)] * 2,
                       [nan, 0, 0, 4, 6.25, 0, 0, 0, 0])):
        t = t64(p, device, grad=True)
        out = ttorch.logit(t, eps)
        (gt,) = ttorch.autograd.grad(out.sum(), t)
        np.testing.assert_allclose(to_np(out), y, rtol=1e-12, err_msg=str(eps))
        np.testing.assert_allclose(to_np(gt), g, rtol=1e-12, err_msg=str(eps))
    assert ttorch.special.logit(t64([0.25], device)).tolist() == [math.log(1 / 3)]


def test_small_elementwise_against_numpy():
    np.testing.assert_array_equal(to_np(ttorch.copysign(t64([1.0, -2.0, 3.0]), t64([-0.0, 1.0, -5.0]))),
                                  np.copysign([1.0, -2.0, 3.0], [-0.0, 1.0, -5.0]))
    assert ttorch.copysign(ttorch.tensor([1, -2]), -1).dtype is ttorch.float32
    a = t64([1.0, -0.0, 0.0, 2.0, 0.0], grad=True)
    b = t64([-1.0, 1.0, -1.0, 3.0, 0.0], grad=True)
    ttorch.copysign(a, b).sum().backward()          # PyTorch's: g * result / self, 0 at 0; zeros for other
    assert to_np(a.grad).tolist() == [-1.0, 0.0, 0.0, 1.0, 0.0] and to_np(b.grad).tolist() == [0.0] * 5
    h = ttorch.heaviside(t64([-1.0, 0.0, 2.0]), t64([0.5, 0.5, 0.5]))
    assert h.tolist() == np.heaviside([-1.0, 0.0, 2.0], 0.5).tolist()
    p = R.uniform(0.05, 0.95, 6)
    c = np.clip(p, 0.2, 0.8)
    np.testing.assert_allclose(to_np(ttorch.logit(t64(p), eps=0.2)), np.log(c / (1 - c)), rtol=1e-12)
    s = np.array([0.0, 0.5, -1.5, 2.0])
    np.testing.assert_allclose(to_np(ttorch.sinc(t64(s))), np.sinc(s), rtol=1e-12, atol=1e-15)
    g = t64([0.0, 0.3], grad=True)
    ttorch.sinc(g).sum().backward()
    assert to_np(g.grad)[0] == 0.0 and np.isfinite(to_np(g.grad)).all()
    np.testing.assert_allclose(to_np(ttorch.ldexp(t64([1.5, -2.0]), ttorch.tensor([3, -1]))),
                               np.ldexp([1.5, -2.0], [3, -1]))
    assert ttorch.float_power(ttorch.tensor([2], dtype=ttorch.int32), 3).dtype is ttorch.float64
    assert ttorch.sgn(t64([-2.0, 0.0, 3.0])).tolist() == [-1.0, 0.0, 1.0]


def test_integrals_and_small_products_against_numpy():
    y, x = R.uniform(-1, 1, (2, 5)), np.sort(R.uniform(-1, 1, 5))
    np.testing.assert_allclose(to_np(ttorch.trapezoid(t64(y), t64(x))), np.trapezoid(y, x), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.trapezoid(t64(y), dx=0.3, dim=0)), np.trapezoid(y, dx=0.3, axis=0),
                               rtol=1e-12)
    c = to_np(ttorch.cumulative_trapezoid(t64(y), t64(x)))
    np.testing.assert_allclose(c[:, -1], np.trapezoid(y, x), rtol=1e-12)
    assert c.shape == (2, 4)
    v = R.uniform(-1, 1, 4)
    np.testing.assert_allclose(to_np(ttorch.vander(t64(v), 6, True)), np.vander(v, 6, True), rtol=1e-12)
    assert ttorch.vander(ttorch.tensor([1, 2, 3])).tolist() == np.vander([1, 2, 3]).tolist()
    assert ttorch.combinations(ttorch.tensor([1, 2, 3]), 2, with_replacement=True).tolist() == \
        [[1, 1], [1, 2], [1, 3], [2, 2], [2, 3], [3, 3]]
    m = R.uniform(-1, 1, (4, 5))
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    np.testing.assert_allclose(to_np(ttorch.renorm(t64(m), 2, 0, 1.0)),
                               np.where(norms > 1.0, m * (1.0 / (norms + 1e-7)), m), rtol=1e-12)
    mn, mx = ttorch.aminmax(t64(m), dim=1)
    assert mn.tolist() == m.min(1).tolist() and mx.tolist() == m.max(1).tolist()
    b, w = R.uniform(-1, 1, (2, 3, 4)), R.uniform(-1, 1, (3, 4))
    np.testing.assert_allclose(to_np(ttorch.inner(t64(b), t64(w))), np.inner(b, w), rtol=1e-12)
    b1, b2, base = R.uniform(-1, 1, (2, 3, 4)), R.uniform(-1, 1, (2, 4, 5)), R.uniform(-1, 1, (3, 5))
    np.testing.assert_allclose(to_np(ttorch.addbmm(t64(base), t64(b1), t64(b2), beta=2, alpha=0.5)),
                               2 * base + 0.5 * np.einsum("bij,bjk->ik", b1, b2), rtol=1e-12)
    nan_in = ttorch.full((4, 5), math.nan, dtype=ttorch.float64)
    assert np.isfinite(to_np(ttorch.addr(nan_in, t64(v), t64(m[0]), beta=0))).all()     # beta 0: input ignored
    vec, iv = R.uniform(-1, 1, 5), R.uniform(-1, 1, 4)
    np.testing.assert_allclose(to_np(ttorch.addmv(t64(iv), t64(m), t64(vec), beta=0.5, alpha=2)),
                               0.5 * iv + 2 * m @ vec, rtol=1e-12)
    np.testing.assert_allclose(to_np(t64(iv).addmv(t64(m), t64(vec))), iv + m @ vec, rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.addmv(t64(1.5), t64(m), t64(vec))), 1.5 + m @ vec, rtol=1e-12)
    assert np.isfinite(to_np(ttorch.addmv(ttorch.full((4,), math.nan, dtype=ttorch.float64), t64(m), t64(vec),
                                          beta=0))).all()
    assert gradcheck(lambda a, b, c: ttorch.addmv(a, b, c, beta=0.3, alpha=-2),
                     (t64(iv, grad=True), t64(m, grad=True), t64(vec, grad=True)))
    with pytest.raises(RuntimeError, match=r"vector \+ matrix @ vector expected, got 1, 2, 2"):
        ttorch.addmv(t64(iv), t64(m), t64(m))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(4x5\), vec \(5\)"):
        ttorch.addmv(t64([1.0, 2.0]), t64(m), t64(vec))
    sq = R.uniform(-1, 1, (2, 3, 3))
    np.testing.assert_allclose(to_np(ttorch.matrix_power(t64(sq), 5)), np.linalg.matrix_power(sq, 5), rtol=1e-10)
    np.testing.assert_array_equal(to_np(ttorch.linalg.matrix_power(t64(sq), 0)), np.broadcast_to(np.eye(3), (2, 3, 3)))
    sq = sq + 3 * np.eye(3)        # (invertible: a negative power is the inverse's power)
    np.testing.assert_allclose(to_np(ttorch.matrix_power(t64(sq), -3)),
                               np.linalg.matrix_power(np.linalg.inv(sq), 3), rtol=1e-10)
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor"):
        ttorch.matrix_power(ttorch.tensor([[1, 2], [3, 4]]), -1)
    np.testing.assert_allclose(to_np(ttorch.linalg.multi_dot([t64(v), t64(m), t64(m[0])])), v @ m @ m[0], rtol=1e-12)
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        ttorch.chain_matmul(t64(m.T), t64(m))
