"""Random sampling: distributions (moments on 10^4 samples on cpu, 4096 on simulated cuda),
reproducibility per device and per generator, ranges, permutations, multinomial weights,
the in-place fills and their autograd behaviour, errors."""
import math

import numpy as np
import pytest

import ttorch
from ttorch import _random
from ttorch import _dtype as D

HAS_CUDA = ttorch.cuda.is_available()
DEVICES = ["cpu"] + (["cuda"] if HAS_CUDA else [])
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")


def _n(device):
    return 10_000 if device == "cpu" else 4096


def _np(t):
    return t.detach().float().cpu().numpy().astype(np.float64) if t.dtype.is_floating_point else t.cpu().numpy()


def _moments(a, mean, var, n):
    """Sample mean and variance within ~6 standard errors of the true ones."""
    assert abs(a.mean() - mean) < 6 * math.sqrt(var / n), (a.mean(), mean)
    assert abs(a.var() - var) < 6 * var * math.sqrt(3.0 / n), (a.var(), var)   # 3/n covers mild kurtosis


# ----------------------------------------------------------------------------- distributions
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [D.float32, D.float64, D.float16, D.bfloat16], ids=str)
def test_rand_uniform(device, dtype):
    n = _n(device)
    x = ttorch.rand(n, dtype=dtype, device=device)
    assert x.shape == (n,) and x.dtype is dtype and x.device.type == device
    a = _np(x)
    assert a.min() >= 0 and a.max() < 1                     # half-open, also after rounding
    _moments(a, 0.5, 1 / 12, n)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [D.float32, D.float64, D.bfloat16], ids=str)
def test_randn_normal(device, dtype):
    n = _n(device)
    a = _np(ttorch.randn(n, dtype=dtype, device=device))
    _moments(a, 0.0, 1.0, n)
    assert np.isfinite(a).all()


@pytest.mark.parametrize("device", DEVICES)
def test_size_forms_and_out(device):
    assert ttorch.rand(2, 3, device=device).shape == (2, 3)
    assert ttorch.rand((2, 3), device=device).shape == (2, 3)
    assert ttorch.randn([4], device=device).shape == (4,)
    assert ttorch.rand(size=(1, 2), device=device).shape == (1, 2)
    assert ttorch.rand((), device=device).shape == ()
    assert ttorch.randn(0, 3, device=device).shape == (0, 3)
    out = ttorch.empty(5, dtype=ttorch.float64, device=device)
    r = ttorch.rand(5, out=out)
    assert r is out and out.dtype is ttorch.float64 and 0 <= _np(out).min() and _np(out).max() < 1
    x = ttorch.rand(3, requires_grad=True, device=device)
    assert x.requires_grad and x.is_leaf


@pytest.mark.parametrize("device", DEVICES)
def test_normal_overloads(device):
    n = _n(device)
    a = _np(ttorch.normal(2.0, 3.0, (n,), device=device))
    _moments(a, 2.0, 9.0, n)
    mean = ttorch.full((n,), -1.0, device=device)
    _moments(_np(ttorch.normal(mean, 0.5)), -1.0, 0.25, n)
    _moments(_np(ttorch.normal(1.0, ttorch.full((n,), 2.0, device=device))), 1.0, 4.0, n)
    m = ttorch.tensor([[0.0], [100.0]], device=device)                      # (2, 1)
    s = ttorch.tensor([[0.0, 1.0, 1.0]], device=device)                     # (1, 3): broadcast
    r = ttorch.normal(m, s)
    assert r.shape == (2, 3)
    assert r[0, 0].item() == 0.0 and r[1, 0].item() == 100.0                # std 0 gives the mean
    assert abs(r[1, 1].item() - 100.0) < 8


@pytest.mark.parametrize("device", DEVICES)
def test_normal_gradients_are_zero(device):
    mean = ttorch.zeros(4, device=device, requires_grad=True)
    std = ttorch.ones(4, device=device, requires_grad=True)
    r = ttorch.normal(mean, std)
    assert r.requires_grad
    (r * 3).sum().backward()
    assert mean.grad.tolist() == [0.0] * 4 and std.grad.tolist() == [0.0] * 4


@pytest.mark.parametrize("device", DEVICES)
def test_bernoulli(device):
    n = _n(device)
    p = ttorch.full((n,), 0.3, device=device)
    b = ttorch.bernoulli(p)
    assert b.dtype is ttorch.float32 and set(np.unique(_np(b))) <= {0.0, 1.0}
    _moments(_np(b), 0.3, 0.21, n)
    _moments(_np(ttorch.bernoulli(ttorch.zeros(n, device=device), 0.8)), 0.8, 0.16, n)
    edges = ttorch.tensor([0.0, 1.0, 0.0, 1.0], device=device)
    assert ttorch.bernoulli(edges).tolist() == [0.0, 1.0, 0.0, 1.0]
    x = ttorch.empty(n, dtype=ttorch.bool, device=device).bernoulli_(0.25)
    assert x.dtype is ttorch.bool
    _moments(_np(x).astype(np.float64), 0.25, 0.1875, n)
    y = ttorch.empty(2, 3, device=device).bernoulli_(ttorch.tensor([0.0, 1.0, 0.0], device=device))
    assert y.tolist() == [[0.0, 1.0, 0.0]] * 2                              # broadcast tensor p


def test_bernoulli_checks_probabilities_on_cpu():
    with pytest.raises(RuntimeError, match="p_in >= 0"):
        ttorch.bernoulli(ttorch.tensor([0.5, 1.5]))
    with pytest.raises(RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\]"):
        ttorch.empty(2).bernoulli_(-0.1)


@pytest.mark.parametrize("device", DEVICES)
def test_other_inplace_distributions(device):
    n = _n(device)
    _moments(_np(ttorch.empty(n, device=device).uniform_(-2, 3)), 0.5, 25 / 12, n)
    _moments(_np(ttorch.empty(n, device=device, dtype=ttorch.float64).normal_(5, 2)), 5.0, 4.0, n)
    e = _np(ttorch.empty(n, device=device).exponential_(2.0))
    assert e.min() >= 0
    _moments(e, 0.5, 0.25, n // 4)                  # heavier tail: looser
    g = _np(ttorch.empty(n, device=device).geometric_(0.4))
    assert g.min() >= 1 and (g == np.round(g)).all()
    _moments(g, 2.5, 0.6 / 0.16, n // 4)
    ln = _np(ttorch.empty(n, device=device).log_normal_(0.0, 0.25))
    assert ln.min() > 0 and abs(np.log(ln).mean()) < 0.02
    c = _np(ttorch.empty(n, device=device).cauchy_(1.0, 2.0))
    assert abs(np.median(c) - 1.0) < 0.25 and abs(np.percentile(c, 75) - 3.0) < 0.4   # quartiles at 1 +- 2


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_strided_view(device):
    base = ttorch.zeros(6, 8, device=device)
    v = base.t()[::2]                                # (4, 6) view, not contiguous
    v.uniform_(1, 2)
    a = _np(base)
    assert ((a[:, ::2] >= 1) & (a[:, ::2] < 2)).all() and (a[:, 1::2] == 0).all()


# ----------------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("device", DEVICES)
def test_manual_seed_reproduces(device):
    ttorch.manual_seed(123)
    a = ttorch.rand(64, device=device).tolist()
    b = ttorch.randn(64, device=device).tolist()
    ttorch.manual_seed(123)
    assert ttorch.rand(64, device=device).tolist() == a
    assert ttorch.randn(64, device=device).tolist() == b
    assert ttorch.rand(64, device=device).tolist() != a            # successive calls differ
    ttorch.manual_seed(124)
    assert ttorch.rand(64, device=device).tolist() != a


@pytest.mark.parametrize("device", DEVICES)
def test_generator_objects(device):
    g1 = ttorch.Generator(device=device).manual_seed(7)
    g2 = ttorch.Generator(device=device).manual_seed(7)
    x = ttorch.rand(32, generator=g1, device=device)
    ttorch.rand(5, device=device)                                     # the default generator: no effect
    y = ttorch.rand(32, generator=g2, device=device)
    assert x.tolist() == y.tolist()
    assert ttorch.randint(0, 100, (16,), generator=g1, device=device).tolist() == \
        ttorch.randint(0, 100, (16,), generator=g2, device=device).tolist()
    state = g1.get_state()
    u = ttorch.empty(8, device=device).normal_(generator=g1).tolist()
    g1.set_state(state)
    assert ttorch.empty(8, device=device).normal_(generator=g1).tolist() == u
    assert g1.initial_seed() == 7


@needs_cuda
def test_cuda_seeding():
    ttorch.cuda.manual_seed(99)
    a = ttorch.rand(16, device="cuda").tolist()
    ttorch.cuda.manual_seed(99)
    assert ttorch.rand(16, device="cuda").tolist() == a
    ttorch.cuda.manual_seed_all(99)
    assert ttorch.rand(16, device="cuda").tolist() == a
    state = ttorch.cuda.get_rng_state()
    b = ttorch.randn(16, device="cuda").tolist()
    ttorch.cuda.set_rng_state(state)
    assert ttorch.randn(16, device="cuda").tolist() == b and ttorch.cuda.initial_seed() == 99
    ttorch.manual_seed(5)
    c = ttorch.rand(16).tolist()
    ttorch.cuda.manual_seed(6)                        # cuda only: cpu stream untouched
    ttorch.manual_seed(5)
    assert ttorch.rand(16).tolist() == c
    with pytest.raises(RuntimeError, match="'cuda' device type for generator"):
        ttorch.rand(3, device="cuda", generator=ttorch.Generator())


@needs_cuda
def test_manual_seed_seeds_cuda_generators_made_later(monkeypatch):
    ttorch.manual_seed(31)
    ref = ttorch.rand(8, device="cuda").tolist()
    monkeypatch.setattr(_random, "_cuda_gens", {})    # as if cuda were first used after the seed
    ttorch.manual_seed(31)
    monkeypatch.setattr(_random, "_cuda_gens", {})
    assert ttorch.rand(8, device="cuda").tolist() == ref


# ----------------------------------------------------------------------------- integers
@pytest.mark.parametrize("device", DEVICES)
def test_randint_ranges(device):
    n = _n(device)
    x = ttorch.randint(-3, 5, (n,), device=device)
    assert x.dtype is ttorch.int64
    counts = np.bincount(_np(x) + 3, minlength=8)
    assert counts.size == 8 and counts.min() > n / 8 * 0.8          # every value, evenly
    assert set(ttorch.randint(4, (200,), device=device).tolist()) == {0, 1, 2, 3}
    assert set(ttorch.randint(low=2, high=4, size=(200,), device=device).tolist()) == {2, 3}
    big = _np(ttorch.randint(2 ** 40, 2 ** 41, (256,), device=device))
    assert big.min() >= 2 ** 40 and big.max() < 2 ** 41 and big.max() - big.min() > 2 ** 39
    for dt in (ttorch.uint8, ttorch.int8, ttorch.int32, ttorch.bool, ttorch.float32):
        r = ttorch.randint(0, 2, (64,), dtype=dt, device=device)
        assert r.dtype is dt and set(np.unique(_np(r)).tolist()) == {0, 1}
    assert ttorch.randint(3, 10, (2, 3), device=device).shape == (2, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_random_(device):
    a = _np(ttorch.empty(512, dtype=ttorch.int64, device=device).random_())
    assert a.min() >= 0 and a.max() > 2 ** 60                          # [0, 2**63 - 1]
    a = _np(ttorch.empty(512, dtype=ttorch.int64, device=device).random_(-2 ** 63, None))
    assert a.min() < -2 ** 61 and a.max() > 2 ** 61                    # the full 64-bit range
    a = _np(ttorch.empty(512, dtype=ttorch.uint8, device=device).random_())
    assert a.min() == 0 and a.max() == 255
    assert set(_np(ttorch.empty(200, dtype=ttorch.int32, device=device).random_(3)).tolist()) == {0, 1, 2}
    assert set(_np(ttorch.empty(200, device=device).random_(-2, 1)).tolist()) == {-2.0, -1.0, 0.0}
    f = _np(ttorch.empty(512, dtype=ttorch.float16, device=device).random_())
    assert f.max() <= 2 ** 11 and (f == np.round(f)).all()
    with pytest.raises(RuntimeError, match="from=5 >= to=3"):
        ttorch.empty(2, dtype=ttorch.int64, device=device).random_(5, 3)
    with pytest.raises(RuntimeError, match="to"):
        ttorch.empty(2, dtype=ttorch.uint8, device=device).random_(0, 300)


@pytest.mark.parametrize("device", DEVICES)
def test_randperm(device):
    n = 500 if device == "cpu" else 48
    p = ttorch.randperm(n, device=device)
    assert p.dtype is ttorch.int64 and p.device.type == device
    assert sorted(p.tolist()) == list(range(n)) and p.tolist() != list(range(n))
    assert ttorch.randperm(0, device=device).shape == (0,)
    assert ttorch.randperm(1, device=device).tolist() == [0]
    q = ttorch.randperm(10, dtype=ttorch.float32, device=device)
    assert q.dtype is ttorch.float32 and sorted(q.tolist()) == list(map(float, range(10)))
    ttorch.manual_seed(3)
    a = ttorch.randperm(20, device=device).tolist()
    ttorch.manual_seed(3)
    assert ttorch.randperm(20, device=device).tolist() == a
    with pytest.raises(RuntimeError, match="too large"):
        ttorch.randperm(300, dtype=ttorch.int8)
    with pytest.raises(RuntimeError, match="non-negative"):
        ttorch.randperm(-1)


def test_randperm_is_uniform_on_cpu():
    firsts = np.bincount([ttorch.randperm(4)[0].item() for _ in range(800)], minlength=4)
    assert firsts.min() > 140


# ----------------------------------------------------------------------------- multinomial
@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_with_replacement(device):
    w = ttorch.tensor([[0.0, 1.0, 0.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 0.0]], device=device)
    k = 2000 if device == "cpu" else 1024
    s = ttorch.multinomial(w, k, replacement=True)
    assert s.shape == (2, k) and s.dtype is ttorch.int64
    c0 = np.bincount(_np(s[0]), minlength=5)
    c1 = np.bincount(_np(s[1]), minlength=5)
    assert c0[0] == c0[2] == c0[4] == 0 and c1[4] == 0                 # zero weights never drawn
    assert abs(c0[3] / k - 0.75) < 6 * math.sqrt(0.1875 / k)
    assert np.abs(c1[:4] / k - 0.25).max() < 6 * math.sqrt(0.1875 / k)


@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_without_replacement(device):
    w = ttorch.tensor([0.0, 5.0, 1.0, 0.0, 2.0, 1.0, 0.0], device=device)
    for _ in range(5):
        s = ttorch.multinomial(w, 4).tolist()
        assert len(set(s)) == 4 and set(s) <= {1, 2, 4, 5}             # distinct, no zero weight
    assert ttorch.multinomial(w, 1).shape == (1,)
    firsts = [ttorch.multinomial(w, 1).item() for _ in range(60 if device == "cpu" else 25)]
    assert firsts.count(1) > len(firsts) / 4                           # the heavy category leads
    rows = ttorch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=ttorch.float64, device=device)
    assert ttorch.multinomial(rows, 1).tolist() == [[0], [2]]
    assert ttorch.multinomial(rows, 1, replacement=True).tolist() == [[0], [2]]
    g1 = ttorch.Generator(device=device).manual_seed(4)
    g2 = ttorch.Generator(device=device).manual_seed(4)
    assert ttorch.multinomial(w, 3, generator=g1).tolist() == ttorch.multinomial(w, 3, generator=g2).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_errors(device):
    t = lambda v: ttorch.tensor(v, device=device)  # noqa: E731
    with pytest.raises(RuntimeError, match="n_sample > prob_dist.size"):
        ttorch.multinomial(t([1.0, 1.0]), 3)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        ttorch.multinomial(t([[1.0, 1.0], [0.0, 0.0]]), 1)
    with pytest.raises(RuntimeError, match="element < 0"):
        ttorch.multinomial(t([1.0, -1.0]), 1)
    with pytest.raises(RuntimeError, match="probability entry < 0"):
        ttorch.multinomial(t([1.0, -1.0]), 3, replacement=True)
    with pytest.raises(RuntimeError, match="infinity or NaN"):
        ttorch.multinomial(t([1.0, float("inf")]), 3, replacement=True)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        ttorch.multinomial(t([[[1.0]]]), 1)
    with pytest.raises(RuntimeError, match="floating-point"):
        ttorch.multinomial(t([1, 2]), 1)
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        ttorch.multinomial(t([1.0]), 0)


# ----------------------------------------------------------------------------- *_like, errors
@pytest.mark.parametrize("device", DEVICES)
def test_like_functions(device):
    x = ttorch.zeros(2, 3, dtype=ttorch.float64, device=device)
    r = ttorch.rand_like(x)
    assert r.shape == (2, 3) and r.dtype is ttorch.float64 and r.device == x.device
    assert ttorch.randn_like(x, dtype=ttorch.float16).dtype is ttorch.float16
    i = ttorch.randint_like(x, 10)
    assert i.dtype is ttorch.float64 and _np(i).max() < 10 and (_np(i) == np.round(_np(i))).all()
    j = ttorch.randint_like(ttorch.zeros(50, dtype=ttorch.int32, device=device), 5, 7)
    assert set(j.tolist()) == {5, 6}


def test_errors():
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        ttorch.rand(2, dtype=ttorch.int64)
    with pytest.raises(RuntimeError, match="not implemented for 'Int'"):
        ttorch.randn(2, dtype=ttorch.int32)
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        ttorch.randint(5, 5, (2,))
    with pytest.raises(RuntimeError, match=r"\[from, to\) range"):
        ttorch.empty(2).uniform_(3, 1)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        ttorch.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="all elements of std >= 0.0"):
        ttorch.normal(ttorch.zeros(2), ttorch.tensor([1.0, -1.0]))
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        ttorch.empty(2).exponential_(0)
    with pytest.raises(RuntimeError, match=r"p to be in \(0, 1\)"):
        ttorch.empty(2).geometric_(1.0)
    with pytest.raises(TypeError, match="size"):
        ttorch.randint(5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ttorch.rand(2, shape=(3,))


# ----------------------------------------------------------------------------- in-place autograd
@pytest.mark.parametrize("device", DEVICES)
def test_inplace_version_and_leaf_error(device):
    x = ttorch.zeros(4, device=device)
    v0 = x._version
    x.uniform_()
    assert x._version == v0 + 1
    x.normal_().bernoulli_(0.5).random_(0, 3)
    assert x._version == v0 + 4
    view = x[1:3]
    view.exponential_()
    assert x._version == v0 + 5                                   # views share the counter
    leaf = ttorch.zeros(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.uniform_()
    with ttorch.no_grad():
        leaf.uniform_(2, 3)                                       # allowed: initialisation
    assert (_np(leaf) >= 2).all()


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_nonleaf_gives_zero_gradient(device):
    a = ttorch.ones(3, device=device, requires_grad=True)
    b = a * 2
    b.normal_()
    assert b.requires_grad and b.grad_fn is not None
    (b * 5).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]
    c = a * 3
    saved = c * c                                                  # saves c
    c.uniform_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.sum().backward()


@needs_cuda
def test_cuda_fallbacks_without_sort_ops(monkeypatch):
    # before the sort ops exist randperm draws on the host (NumPy Philox keyed by the cuda
    # generator) and multinomial takes its top-k on the host: still seeded, still correct
    monkeypatch.delattr(ttorch, "argsort", raising=False)
    monkeypatch.delattr(ttorch, "topk", raising=False)
    ttorch.cuda.manual_seed(8)
    p = ttorch.randperm(40, device="cuda")
    assert p.device.type == "cuda" and sorted(p.tolist()) == list(range(40))
    ttorch.cuda.manual_seed(8)
    assert ttorch.randperm(40, device="cuda").tolist() == p.tolist()
    w = ttorch.tensor([[0.0, 2.0, 1.0, 0.0, 1.0]], device="cuda")
    s = ttorch.multinomial(w, 3)
    assert s.shape == (1, 3) and sorted(s[0].tolist()) == [1, 2, 4]


@needs_cuda
def test_cuda_fills_are_philox_draws_four_elements_each():
    """cuda samples, reconstructed on the host from NumPy's twin of Triton's Philox: one draw
    (``tl.randint4x``: counter offset + i) per 4 elements, element 4i + w from word w (float64 and
    64-bit integers: per 2 elements, element 2i + j from words 2j, 2j + 1); normals are Box-Muller
    pairs of those uniforms."""
    from ttorch.ops.random import philox_np
    gen = _random.cuda_generator(0)

    def words(n_draws):
        seed, off = gen._seed & 0x7FFF_FFFF_FFFF_FFFF, gen._offset
        c = off + np.arange(n_draws, dtype=np.int64)
        return np.stack(philox_np(seed, c, c >> 32, 0, 0), -1).astype(np.float64)      # (draws, 4)

    w = words(10)
    x = _np(ttorch.rand(37, device="cuda"))
    np.testing.assert_array_equal(x, (w.reshape(-1)[:37] // 256) / 2.0 ** 24)
    w = words(19)
    x = ttorch.rand(37, dtype=D.float64, device="cuda").cpu().numpy()
    hi, lo = w.reshape(-1, 2)[:37].T
    np.testing.assert_array_equal(x, ((hi // 32) * 2.0 ** 26 + lo // 64) * 2.0 ** -53)
    w = words(10)
    x = _np(ttorch.randn(37, device="cuda"))
    u = (w // 256) / 2.0 ** 24
    rad = np.sqrt(-2 * np.log1p(-u[:, [0, 0, 2, 2]]))
    t = 2 * np.pi * u[:, [1, 1, 3, 3]]
    want = (rad * np.where([True, False, True, False], np.cos(t), np.sin(t))).reshape(-1)[:37]
    np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-5)
    w = words(10)
    x = _np(ttorch.empty(37, device="cuda").bernoulli_(0.3))
    np.testing.assert_array_equal(x, ((w.reshape(-1)[:37] // 256) / 2.0 ** 24 < 0.3).astype(np.float64))
    w = words(10).astype(np.uint64)
    np.testing.assert_array_equal(ttorch.randint(5, 1005, (37,), device="cuda").cpu().numpy(),
                                  (w.reshape(-1)[:37] % 1000).astype(np.int64) + 5)
    w = words(19).astype(np.uint64)
    hi, lo = w.reshape(-1, 2)[:37].T
    np.testing.assert_array_equal(ttorch.randint(0, 2 ** 40, (37,), device="cuda").cpu().numpy(),
                                  ((hi << np.uint64(32) | lo) % np.uint64(2 ** 40)).astype(np.int64))
