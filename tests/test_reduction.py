"""Reductions, softmax and scans: the PyTorch semantics the generated op tests can't express
(return types, indices and ties, NaN, errors, integer dtypes, empty inputs, gradient rules at
ties and zeros, the multi-block kernel paths) and property tests of cuda against cpu."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import ttorch
from ttorch import _dtype as D
from ttorch.ops import reduction, softmax as softmax_mod, scan as scan_mod

from _helpers import close

HAS_CUDA = ttorch.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason="needs (simulated) cuda")
nan, inf = float("nan"), float("inf")


def T(data, device="cpu", dtype=None, requires_grad=False):
    return ttorch.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def npy(t):
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------------ return types, indices, ties
def test_max_min_with_dim_return_namedtuple(device):
    x = T([[1.0, 5.0, 5.0], [7.0, -1.0, 7.0]], device)
    r = ttorch.max(x, 1)
    assert isinstance(r, tuple) and type(r).__name__ == "max"
    v, i = r
    assert v is r.values and i is r.indices
    assert npy(r.values).tolist() == [5.0, 7.0] and npy(r.indices).tolist() == [1, 0]   # first of the ties
    assert r.indices.dtype is ttorch.int64
    assert "return_types.max(" in repr(r) and "values=" in repr(r) and "indices=" in repr(r)
    r = x.min(dim=0, keepdim=True)
    assert type(r).__name__ == "min" and r.values.shape == (1, 3)
    assert npy(r.indices).tolist() == [[0, 1, 0]]
    assert ttorch.max(x).shape == () and ttorch.max(x).item() == 7.0


def test_argmax_argmin_ties_keepdim_and_flatten(device):
    x = T([[3, 1, 3], [0, 0, -2]], device)
    assert npy(x.argmax(1)).tolist() == [0, 0]
    assert npy(x.argmin(1)).tolist() == [1, 2]
    assert npy(x.argmax()).tolist() == 0 and x.argmax().shape == ()
    assert x.argmin().item() == 5
    assert x.argmax(dim=None, keepdim=True).shape == (1, 1)
    assert x.argmax(0, keepdim=True).shape == (1, 3)
    assert ttorch.argmax(T(4.0, device)).item() == 0 and ttorch.argmax(T(4.0, device), 0).shape == ()
    assert T([True, False, True], device).argmax().item() == 0
    assert T([0.5], device, dtype=ttorch.bfloat16).argmax().dtype is ttorch.int64


def test_nan_propagates_and_argmax_picks_nan(device):
    x = T([[1.0, nan, 3.0, nan], [2.0, 1.0, 0.0, 5.0]], device)
    assert math.isnan(x.max().item()) and math.isnan(x.amin().item())
    r = x.max(1)
    assert math.isnan(npy(r.values)[0]) and npy(r.values)[1] == 5.0
    assert npy(r.indices).tolist() == [1, 3]
    assert npy(x.argmin(1)).tolist() == [1, 2]
    assert np.isnan(npy(x.amax(1))[0])
    assert np.isnan(npy(ttorch.softmax(x, 1))[0]).all() and not np.isnan(npy(ttorch.softmax(x, 1))[1]).any()


@cuda_only
def test_ties_and_nan_across_blocks(monkeypatch):
    """A tie or NaN in a later block than the first, with blocks of 8 columns."""
    monkeypatch.setattr(reduction, "MAX_BLOCK_N", 8)
    a = np.zeros((3, 29))
    a[0, [20, 5, 27]] = 4.0
    a[1, [9, 25]] = nan
    a[2, 17] = -1.0
    for dev in ("cpu", "cuda"):
        x = T(a, dev)
        assert npy(x.argmax(1)).tolist() == [5, 9, 0]
        assert npy(x.argmin(1)).tolist() == [0, 9, 17]
        assert npy(x.max(1).indices).tolist() == [5, 9, 0]
        assert np.isnan(npy(x.amax(1))[1])


# ------------------------------------------------------------------------------ errors
def test_errors(device):
    e = ttorch.zeros(0, 3, device=device)
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0"):
        ttorch.max(e)
    with pytest.raises(RuntimeError, match=r"amax\(\): Expected reduction dim to be specified"):
        e.amax()
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 0 to have non-zero size"):
        e.amax(0)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        e.argmax()
    with pytest.raises(IndexError, match=r"argmin\(\): Expected reduction dim 0 to have non-zero size"):
        e.argmin(0)
    with pytest.raises(IndexError, match="max"):
        e.max(0)
    assert e.max(1).values.shape == (0,) and e.amax(1).shape == (0,)
    x = ttorch.ones(2, 3, device=device)
    for f in (lambda: x.sum(2), lambda: x.mean(-3), lambda: x.max(5), lambda: x.argmax(2), lambda: x.softmax(2),
              lambda: x.cumsum(-3), lambda: x.var(3), lambda: x.logsumexp(7)):
        with pytest.raises(IndexError, match="Dimension out of range"):
            f()
    with pytest.raises(RuntimeError, match=r"dim \[1, 1\] appears multiple times"):
        x.sum((1, 1))
    i = T([1, 2, 3], device)
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype.*Got: Long"):
        i.mean()
    assert i.mean(dtype=ttorch.float32).item() == 2.0
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        i.var()
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        ttorch.softmax(i, 0)
    with pytest.raises(RuntimeError, match="vector_norm|norm"):
        i.norm()
    with pytest.raises(TypeError):
        x.prod((0, 1))
    with pytest.raises(RuntimeError, match="can't specify both"):
        x.var(1, unbiased=True, correction=0)


# ------------------------------------------------------------------------------ dtypes
def test_integer_and_bool_dtypes(device):
    i32 = T([[1, 2], [3, 4]], device, dtype=ttorch.int32)
    assert i32.sum().dtype is ttorch.int64 and i32.sum().item() == 10
    assert i32.prod(1).dtype is ttorch.int64 and npy(i32.prod(1)).tolist() == [2, 12]
    assert i32.amax().dtype is ttorch.int32 and i32.max(0).values.dtype is ttorch.int32
    assert i32.cumsum(1).dtype is ttorch.int64 and npy(i32.cumprod(0)).tolist() == [[1, 2], [3, 8]]
    b = T([True, True, False], device)
    assert b.sum().dtype is ttorch.int64 and b.sum().item() == 2
    assert npy(b.cumsum(0)).tolist() == [1, 2, 2] and b.cumsum(0).dtype is ttorch.int64
    assert b.all().dtype is ttorch.bool and not b.all().item() and b.any().item()
    assert b.amax().dtype is ttorch.bool and b.amax().item() is True
    u8 = T([1, 0, 2], device, dtype=ttorch.uint8)
    assert u8.all().dtype is ttorch.uint8 and u8.all().item() == 0 and u8.any().item() == 1
    f = T([0.5, 0.0, -2.0], device)
    assert f.all().dtype is ttorch.bool and npy(f.any()) and not npy(f.all())
    assert npy(T([[0.3, 0.0], [1.0, 2.0]], device).all(1)).tolist() == [False, True]
    assert T([2 ** 40, 1], device).all().item() and not T([0, 2 ** 40], device).all().item()
    assert ttorch.count_nonzero(f).item() == 2 and ttorch.count_nonzero(f).dtype is ttorch.int64
    assert T([1, 2], device).sum(dtype=ttorch.float64).dtype is ttorch.float64
    assert T([1, 2], device).cumsum(0, dtype=ttorch.float32).dtype is ttorch.float32
    big = T([2 ** 40, 2 ** 40], device)
    assert big.sum().item() == 2 ** 41 and big.prod().item() == 0     # int64 wraps: 2**80 mod 2**64
    h = T([1.0, 2.0, 3.0], device, dtype=ttorch.float16)
    for r in (h.sum(), h.mean(), h.var(), h.norm(), h.logsumexp(0), h.softmax(0), h.cumsum(0)):
        assert r.dtype is ttorch.float16
    assert ttorch.logsumexp(T([1, 2], device), 0).dtype is ttorch.float32


# ------------------------------------------------------------------------------ empty inputs
def test_empty_reductions(device):
    e = ttorch.zeros(0, device=device)
    assert e.sum().item() == 0 and e.prod().item() == 1
    assert math.isnan(e.mean().item()) and math.isnan(e.var().item()) and math.isnan(e.std().item())
    assert e.logsumexp(0).item() == -inf and e.norm().item() == 0.0
    assert e.all().item() is True and e.any().item() is False
    assert e.cumsum(0).shape == (0,) and e.softmax(0).shape == (0,)
    e2 = ttorch.zeros(2, 0, device=device)
    assert npy(e2.sum(1)).tolist() == [0.0, 0.0] and npy(e2.prod(1)).tolist() == [1.0, 1.0]
    assert np.isnan(npy(e2.mean(1))).all() and e2.sum(0).shape == (0,)
    assert e2.mean(0).shape == (0,) and e2.sum(1, keepdim=True).shape == (2, 1)
    assert T([], device, dtype=ttorch.int64).sum().dtype is ttorch.int64
    with pytest.raises(RuntimeError, match="inf norm on an empty tensor"):
        e.norm(inf)


# ------------------------------------------------------------------------------ var/std, norms, logsumexp
def test_var_std_correction(device):
    a = np.array([[1.0, 2.0, 4.0, 7.0], [0.5, -1.0, 3.0, 2.0]])
    x = T(a, device, dtype=ttorch.float64)
    np.testing.assert_allclose(npy(x.var(1)), a.var(1, ddof=1))
    np.testing.assert_allclose(npy(x.var(1, unbiased=False)), a.var(1))
    np.testing.assert_allclose(npy(x.var(1, correction=2)), a.var(1, ddof=2))
    np.testing.assert_allclose(npy(x.var(False)), a.var())          # the legacy var(input, unbiased) overload
    np.testing.assert_allclose(npy(x.std(0, keepdim=True)), a.std(0, ddof=1, keepdims=True))
    np.testing.assert_allclose(npy(x.std(dim=(0, 1), correction=0)), a.std())
    v, m = ttorch.var_mean(x, 1)
    np.testing.assert_allclose(npy(v), a.var(1, ddof=1))
    np.testing.assert_allclose(npy(m), a.mean(1))
    s, m = ttorch.std_mean(x, 1, keepdim=True, correction=0)
    np.testing.assert_allclose(npy(s), a.std(1, keepdims=True))
    assert s.shape == m.shape == (2, 1)
    assert math.isnan(T([3.0], device).var().item())                 # 1 element, correction 1
    assert np.isinf(npy(x.var(1, correction=4))).all()                # N - correction = 0
    big = T(1e4 + np.array([0.0, 1.0, 2.0]), device, dtype=ttorch.float32)
    assert abs(big.var().item() - 1.0) < 1e-3                         # two passes: no cancellation


def test_norm_variants(device):
    a = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]])
    x = T(a, device, dtype=ttorch.float64)
    np.testing.assert_allclose(x.norm().item(), np.sqrt((a ** 2).sum()))
    np.testing.assert_allclose(x.norm("fro", dim=(0, 1)).item(), np.sqrt((a ** 2).sum()))
    np.testing.assert_allclose(npy(x.norm(1, 1)), np.abs(a).sum(1))
    np.testing.assert_allclose(npy(x.norm(inf, 1)), np.abs(a).max(1))
    np.testing.assert_allclose(npy(x.norm(-inf, 1)), np.abs(a).min(1))
    np.testing.assert_allclose(npy(x.norm(0, 1)), [2.0, 3.0])
    np.testing.assert_allclose(npy(x.norm(3, 1, keepdim=True)), (np.abs(a) ** 3).sum(1, keepdims=True) ** (1 / 3))
    np.testing.assert_allclose(npy(x.norm(0.5)), (np.abs(a) ** 0.5).sum() ** 2)
    np.testing.assert_allclose(npy(x.norm(-1, 1)), [0.0, (np.abs(a[1]) ** -1.0).sum() ** -1.0])
    assert x.norm(dtype=ttorch.float32).dtype is ttorch.float32
    np.testing.assert_allclose(npy(x.norm("nuc")), np.linalg.svd(a, compute_uv=False).sum(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
        ttorch.norm(ttorch.zeros(2, 3, 4), "nuc")
    from ttorch.ops.stats import vector_norm
    np.testing.assert_allclose(vector_norm(x, ord=inf).item(), 4.0)


def test_logsumexp_stable_and_infinite(device):
    x = T([[1000.0, 1000.0], [-1000.0, -1000.0], [-inf, -inf], [inf, 1.0], [-inf, 2.0]], device)
    r = npy(ttorch.logsumexp(x, 1))
    np.testing.assert_allclose(r[:2], [1000 + math.log(2), -1000 + math.log(2)], rtol=1e-6)
    assert r[2] == -inf and r[3] == inf and r[4] == 2.0
    assert ttorch.logsumexp(x[:2], (0, 1)).shape == () and x.logsumexp(1, keepdim=True).shape == (5, 1)


# ------------------------------------------------------------------------------ gradient rules
def _grad(f, a, device, dtype=ttorch.float64):
    x = T(a, device, dtype=dtype, requires_grad=True)
    f(x).sum().backward()
    return npy(x.grad)


def test_amax_gradient_split_among_ties(device):
    a = [[1.0, 3.0, 3.0, 3.0], [2.0, 0.0, 2.0, -1.0]]
    np.testing.assert_allclose(_grad(lambda x: x.amax(1), a, device), [[0, 1 / 3, 1 / 3, 1 / 3], [0.5, 0, 0.5, 0]])
    np.testing.assert_allclose(_grad(lambda x: x.amin(0), a, device), [[1, 0, 0, 0], [0, 1, 1, 1]])
    np.testing.assert_allclose(_grad(lambda x: x.max(), a, device), [[0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 0]])
    # max/min over a dim: the whole gradient goes to the returned index (the first tie)
    np.testing.assert_allclose(_grad(lambda x: x.max(1).values, a, device), [[0, 1, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_allclose(_grad(lambda x: x.min(0, keepdim=True)[0], a, device), [[1, 0, 0, 0], [0, 1, 1, 1]])


def test_prod_gradient_with_zeros(device):
    np.testing.assert_allclose(_grad(lambda x: x.prod(), [2.0, 0.0, 3.0], device), [0.0, 6.0, 0.0])
    np.testing.assert_allclose(_grad(lambda x: x.prod(), [2.0, 0.0, 0.0], device), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(_grad(lambda x: x.prod(1), [[2.0, 0.0, 3.0], [1.0, 2.0, 4.0]], device),
                               [[0.0, 6.0, 0.0], [8.0, 4.0, 2.0]])
    np.testing.assert_allclose(_grad(lambda x: x.cumprod(0), [2.0, 0.0, 3.0], device), [1.0, 2 + 6, 0.0])


def test_norm_subgradient_zero(device):
    assert not np.isnan(_grad(lambda x: x.norm(), [0.0, 0.0], device)).any()
    np.testing.assert_allclose(_grad(lambda x: x.norm(), [0.0, 0.0], device), [0.0, 0.0])
    np.testing.assert_allclose(_grad(lambda x: x.norm(dim=1), [[0.0, 0.0], [3.0, 4.0]], device),
                               [[0.0, 0.0], [0.6, 0.8]])
    np.testing.assert_allclose(_grad(lambda x: x.norm(inf), [1.0, -3.0, 3.0], device), [0.0, -0.5, 0.5])
    np.testing.assert_allclose(_grad(lambda x: x.std(), [2.0, 2.0, 2.0], device), [0.0, 0.0, 0.0])


def test_softmax_double_backward(device):
    """Gradients of gradients through the fused backward kernels, against finite differences (on cpu)."""
    a = np.random.default_rng(3).uniform(-1, 1, size=(2, 5))
    w = np.random.default_rng(4).uniform(-1, 1, size=(2, 5))
    for fn in (ttorch.softmax, ttorch.log_softmax):
        def gx(arr, create, dev="cpu"):
            x = T(arr, dev, dtype=ttorch.float64, requires_grad=True)
            (g,) = ttorch.autograd.grad((fn(x, 1) * T(w, dev, dtype=ttorch.float64)).sum(), x, create_graph=create)
            return x, g
        x, g = gx(a, True, device)
        (gg,) = ttorch.autograd.grad((g * g).sum(), x)
        eps, num = 1e-6, np.zeros_like(a)
        for i in np.ndindex(a.shape):
            p, m = a.copy(), a.copy()
            p[i] += eps
            m[i] -= eps
            num[i] = ((npy(gx(p, False)[1]) ** 2).sum() - (npy(gx(m, False)[1]) ** 2).sum()) / (2 * eps)
        np.testing.assert_allclose(npy(gg), num, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------ softmax semantics
def test_softmax_values_and_extremes(device):
    x = T([[1000.0, 0.0, -1000.0], [-inf, 0.0, 0.0], [-inf, -inf, -inf]], device)
    y = npy(ttorch.softmax(x, 1))
    np.testing.assert_allclose(y[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(y[1], [0.0, 0.5, 0.5])
    assert np.isnan(y[2]).all()                                       # as PyTorch: 0/0
    ly = npy(ttorch.log_softmax(x, 1))
    assert ly[0, 2] == -2000.0 and ly[1, 0] == -inf
    np.testing.assert_allclose(ly[1, 1:], [-math.log(2)] * 2)
    assert x.softmax(0).shape == (3, 3) and T(2.0, device).softmax(0).item() == 1.0
    assert T(2.0, device).log_softmax(-1).item() == 0.0
    assert ttorch.softmax(T([1, 2], device), 0, dtype=ttorch.float64).dtype is ttorch.float64


# ------------------------------------------------------------------------------ multi-block kernel paths
@cuda_only
@pytest.mark.parametrize("stages", [2, 3])
def test_split_stage_pipelined(monkeypatch, stages):
    """The split stage's loop with ``tl.range(num_stages=)`` (a tuned config's STAGES) folds the same
    partials as the plain loop: several blocks per program, a ragged last chunk."""
    from ttorch import tune
    assert {c.kwargs["STAGES"] for c in tune.registered()["reduction"].configs(("float32", 1 << 20))} == {None, 2, 3}
    monkeypatch.setattr(reduction, "MAX_BLOCK_N", 8)
    monkeypatch.setattr(reduction, "SPLIT_CHUNK", 24)
    monkeypatch.setattr(reduction, "_FORCE", [tune.Config({"BLOCK_N": 8, "MAX_SPLIT": 1024, "STAGES": stages},
                                                          num_warps=4)])
    seen = []
    real = reduction.launch
    monkeypatch.setattr(reduction, "launch", lambda k, g, *a, **m: seen.append(m.get("STAGES")) or real(k, g, *a, **m))
    a = np.random.default_rng(5).uniform(-2, 2, size=(3, 101))
    close(T(a, "cuda").sum(), a.sum(), D.float32, a.size, "pipelined split")
    close(T(a, "cuda").norm(dim=1), np.linalg.norm(a, axis=1), D.float32, 101, "pipelined split rows")
    assert stages in seen


@pytest.mark.parametrize("dt", ["uint8", "int8", "int16", "int32", "int64"])
def test_integer_max_min_at_the_extremes(monkeypatch, dt):
    """Integer amax/amin fold in the input's own dtype (no 64-bit compares): the type's extremes come
    back exact, over a dim, a strided dim and the whole tensor, one pass and split over programs."""
    monkeypatch.setattr(reduction, "MAX_BLOCK_N", 8)
    monkeypatch.setattr(reduction, "SPLIT_CHUNK", 16)       # rows of 32 or more split over programs
    monkeypatch.setattr(reduction, "SPLIT_CHUNK_STRIDED", 8)
    info = np.iinfo(dt)
    r = np.random.default_rng(11)
    a = r.integers(info.min, info.max, size=(5, 37), endpoint=True, dtype=dt)
    a[1, 30], a[2, 3], a[3, :] = info.max, info.min, info.min      # an extreme late, early, a whole row
    for device in ("cpu", "cuda") if HAS_CUDA else ("cpu",):
        t = T(a, device, dtype=getattr(ttorch, dt))
        for got, want in ((t.amax(1), a.max(1)), (t.amin(1), a.min(1)), (t.amax(0), a.max(0)),
                          (t.amin(0), a.min(0)), (t.amax(), a.max()), (t.amin(), a.min()),
                          (t.max(), a.max()), (t.max(1).values, a.max(1))):
            assert got.dtype is t.dtype, (device, got.dtype)
            np.testing.assert_array_equal(npy(got), want, err_msg=f"{dt} on {device}")


def test_strided_axis_split_over_programs(monkeypatch):
    """A reduction over a strided axis (INNER > 1: a bias gradient's sum over rows, dim 1 of
    (B, C, L)) splits that axis over programs once it is long enough, then folds the partials."""
    monkeypatch.setattr(reduction, "SPLIT_CHUNK_STRIDED", 8)
    monkeypatch.setattr(reduction, "MAX_BLOCK_N", 8)
    launches = []
    real = reduction.launch
    monkeypatch.setattr(reduction, "launch", lambda k, g, *a, **m: launches.append(g) or real(k, g, *a, **m))
    r = np.random.default_rng(2)
    a, b = r.uniform(-3, 3, size=(45, 6)), r.uniform(0.5, 1.5, size=(2, 33, 5))
    launches.clear()
    close(T(a, "cuda").sum(0), a.sum(0), D.float32, 45, "sum over rows")
    assert len(launches) == 2 and launches[0][1] > 1            # partials over programs, then the fold
    for f in (lambda t: t.mean(0), lambda t: t.amax(0), lambda t: t.var(0), lambda t: t.prod(0)):
        close(f(T(a, "cuda")), f(T(a)), D.float32, 45, "strided")
    for f in (lambda t: t.sum(1), lambda t: t.amin(1), lambda t: t.norm(2, 1), lambda t: t.mean((0, 1))):
        close(f(T(b, "cuda")), f(T(b)), D.float32, 66, "strided 3d")


@cuda_only
def test_strided_rows_several_programs_an_outer_index(monkeypatch):
    """A strided program takes adjacent inner rows of one outer index (``_row_base``): 4 rows a
    program over INNER 37 is 10 programs an outer index (the last with one row), 30 for 3 of them;
    a split's first stage takes 64 rows (of 37) an outer index; values against NumPy."""
    monkeypatch.setattr(reduction, "_blocks", lambda m, n, inner=1: (4, 8))
    monkeypatch.setattr(reduction, "SPLIT_CHUNK_STRIDED", 8)
    launches = []
    real = reduction.launch
    monkeypatch.setattr(reduction, "launch",
                        lambda k, g, *a, **m: launches.append((g, m["STRIDED"])) or real(k, g, *a, **m))
    r = np.random.default_rng(3)
    a, b = r.uniform(-3, 3, size=(3, 5, 37)), r.uniform(-3, 3, size=(3, 21, 37))
    for f in (lambda t: t.sum(1), lambda t: t.amax(1), lambda t: t.mean(1)):
        launches.clear()
        close(f(T(a, "cuda")), f(T(a)), D.float32, 5, "one pass")
        assert launches == [((30, 1), True)]
        launches.clear()
        close(f(T(b, "cuda")), f(T(b)), D.float32, 21, "split")
        assert launches[0] == ((3, 3), True) and launches[1][1] is False     # partials (111, 3), then the fold


@cuda_only
def test_long_rows_in_blocks(monkeypatch):
    """Rows longer than one block: the looped reductions, rows split over programs, the online
    softmax and the scan carry."""
    monkeypatch.setattr(reduction, "MAX_BLOCK_N", 8)
    monkeypatch.setattr(reduction, "SPLIT_CHUNK", 8)                 # rows of 16 or more split over programs
    monkeypatch.setattr(softmax_mod, "MAX_BLOCK_N", 8)
    monkeypatch.setattr(scan_mod, "MAX_BLOCK_N", 8)
    r = np.random.default_rng(0)
    a = r.uniform(-3, 3, size=(3, 37))
    a[1, :20] = -inf                                                  # lanes that only ever see -inf
    a[2, 30] = 50.0                                                   # the max arrives late: rescaling
    b = r.uniform(0.8, 1.2, size=(4, 21, 3))
    g = r.uniform(-1, 1, size=a.shape)
    for dim in (1, 0):
        cases = [lambda t: t.sum(dim), lambda t: t.amax(dim), lambda t: t.argmin(dim), lambda t: t.logsumexp(dim),
                 lambda t: t.softmax(dim), lambda t: t.log_softmax(dim)]
        for f in cases:
            close(f(T(a, "cuda")), f(T(a)), D.float32, 37, "blocked")
    for f in (lambda t: t.sum(), lambda t: t.norm(), lambda t: (t > 1).any(), lambda t: (t > 0.81).all((1, 2)),
              lambda t: t.amin(), lambda t: t.var(1), lambda t: t.mean((0, 2)), lambda t: t.prod(1), lambda t: t.norm(3, 1),
              lambda t: t.cumsum(1), lambda t: t.cumprod(1), lambda t: t.max(1).indices, lambda t: t.std(1)):
        close(f(T(b, "cuda")), f(T(b)), D.float32, 21, "blocked 3d")
    for name in ("softmax", "log_softmax"):
        grads = []
        for dev in ("cpu", "cuda"):
            x = T(np.where(np.isinf(a), -5.0, a), dev, requires_grad=True)
            getattr(x, name)(1).backward(T(g, dev))
            grads.append(x.grad)
        close(grads[1], grads[0], D.float32, 37, name + " backward")
        # a float64 row loops over half blocks (4 columns here): the same values
        ys, grads = [], []
        for dev in ("cpu", "cuda"):
            x = T(a, dev, dtype=D.float64, requires_grad=True)
            ys.append(getattr(x, name)(1))
            ys[-1].backward(T(g, dev, dtype=D.float64))
            grads.append(x.grad)
        np.testing.assert_allclose(npy(ys[1]), npy(ys[0]), rtol=1e-12)
        np.testing.assert_allclose(npy(grads[1]), npy(grads[0]), rtol=1e-12, atol=1e-15)
    x = T(b, "cuda", requires_grad=True)
    x.cumsum(1).backward(T(np.ones_like(b), "cuda"))
    np.testing.assert_allclose(npy(x.grad)[0, :, 0], np.arange(21, 0, -1))  # reversed scan across blocks


@cuda_only
@pytest.mark.parametrize("block_n", [8, 4])
def test_strided_softmax_programs(monkeypatch, block_n):
    """Softmax along a strided dim (INNER 37 > 1): each program takes 4 adjacent inner rows of one
    outer index (``_row_base``), 10 programs an outer index, the last with one row; one pass (8) and
    looped (4 columns of 5), forward and backward against the cpu."""
    import types
    from ttorch import tune
    monkeypatch.setattr(softmax_mod, "MAX_BLOCK_N", block_n)
    monkeypatch.setattr(softmax_mod, "tune", types.SimpleNamespace(
        config=lambda *a: tune.Config({"BLOCK_M": 4}, num_warps=1), lookup=lambda *a: None))
    launches = []
    real = softmax_mod.launch
    monkeypatch.setattr(softmax_mod, "launch",
                        lambda k, grid, *a, **kw: (launches.append(grid), real(k, grid, *a, **kw)))
    r = np.random.default_rng(5)
    a, g = r.uniform(-3, 3, size=(3, 5, 37)), r.uniform(-1, 1, size=(3, 5, 37))
    for name in ("softmax", "log_softmax"):
        outs = []
        for dev in ("cpu", "cuda"):
            x = T(a, dev, requires_grad=True)
            y = getattr(x, name)(1)
            y.backward(T(g, dev))
            outs.append((y, x.grad))
        for c, p in zip(outs[1], outs[0]):
            close(c, p, D.float32, 5, name)
    assert launches and all(grid == (30,) for grid in launches)


@cuda_only
def test_online_softmax_special_values(monkeypatch):
    """The looped softmax's one-exp running sum (``_online_sum``): a NaN anywhere poisons its row,
    ties with the running max count once each, rows of -inf and a late +inf follow the NumPy path."""
    from ttorch.ops import cross_entropy as ce
    monkeypatch.setattr(softmax_mod, "MAX_BLOCK_N", 4)
    monkeypatch.setattr(ce, "MAX_BLOCK_N", 4)
    a = np.array([[1, 2, 3, 4, 5, 6, -1, 0.5, 3],
                  [-inf] * 9,
                  [-inf, -inf, 3, -inf, 2, -inf, -inf, -inf, 7],
                  [1, 2, 3, 4, 5, 6, 7, np.nan, 9],
                  [1, 2, 3, 4, 5, 6, 7, 8, inf],
                  [5] * 9,
                  [9, 8, 7, 6, 5, 4, 3, 2, 1]], np.float32)
    for f in (lambda t: t.softmax(1), lambda t: t.log_softmax(1),
              lambda t: ttorch.nn.functional.cross_entropy(t, T(np.arange(7), t.device.type), reduction="none")):
        want, got = f(T(a)).numpy(), f(T(a, "cuda")).cpu().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)          # NaNs in the same places
    assert np.isnan(f(T(a, "cuda")).cpu().numpy()[3])


# ------------------------------------------------------------------------------ out=, methods, binary max
def test_out_methods_and_binary_form(device):
    x = T([[1.0, 5.0], [3.0, 2.0]], device)
    o = ttorch.empty(0, device=device)
    ttorch.sum(x, 1, out=o)
    assert npy(o).tolist() == [6.0, 5.0]
    v, i = ttorch.empty(0, device=device), ttorch.empty(0, dtype=ttorch.int64, device=device)
    r = ttorch.max(x, 0, out=(v, i))
    assert npy(v).tolist() == [3.0, 5.0] and npy(i).tolist() == [1, 0] and r.values is v
    c = ttorch.empty(0, device=device)
    ttorch.cumsum(x, 0, out=c)
    assert npy(c).tolist() == [[1.0, 5.0], [4.0, 7.0]]
    y = x.clone()
    assert y.cumsum_(1) is y and npy(y).tolist() == [[1.0, 6.0], [3.0, 5.0]]
    if "maximum" in ttorch.ops.FUNCTIONS:
        assert npy(ttorch.max(x, T([[2.0, 2.0], [2.0, 2.0]], device))).tolist() == [[2.0, 5.0], [3.0, 2.0]]
        assert npy(ttorch.min(x, other=T([[2.0, 2.0], [2.0, 2.0]], device))).tolist() == [[1.0, 2.0], [2.0, 2.0]]


# ------------------------------------------------------------------------------ properties: cuda vs cpu
@st.composite
def _tensor_and_dims(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    a = np.random.default_rng(draw(st.integers(0, 2 ** 16))).uniform(-3, 3, size=shape)
    nd = len(shape)
    dims = draw(st.one_of(st.none(), st.integers(-nd, nd - 1),
                          st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)))
    layout = draw(st.sampled_from(["contig", "transposed", "sliced"]))
    return a, dims, draw(st.booleans()), layout


def _lay(a, device, layout):
    if layout == "transposed" and a.ndim >= 2:
        return T(np.ascontiguousarray(np.swapaxes(a, 0, -1)), device).transpose(0, -1)
    if layout == "sliced":
        big = np.repeat(a, 2, axis=-1)
        return T(big, device)[..., ::2]
    return T(a, device)


_PROPS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@cuda_only
@_PROPS
@given(_tensor_and_dims(), st.sampled_from(["sum", "mean", "amax"]))
def test_property_reductions_cuda_vs_cpu(case, name):
    a, dims, keepdim, layout = case
    n = a.size
    if name == "amax" and (n == 0 and (dims is None or any(a.shape[d] == 0 for d in np.atleast_1d(dims)))):
        return
    fn = getattr(ttorch, name)
    got = fn(_lay(a, "cuda", layout), dims, keepdim) if dims is not None else fn(_lay(a, "cuda", layout))
    ref = fn(T(a), dims, keepdim) if dims is not None else fn(T(a))
    assert got.shape == ref.shape
    close(got, ref, D.float32, max(n, 1), f"{name} {a.shape} {dims} {layout}")


@cuda_only
@_PROPS
@given(_tensor_and_dims(), st.booleans())
def test_property_softmax_cuda_vs_cpu(case, log):
    a, dims, _, layout = case
    dim = dims if isinstance(dims, int) else -1
    fn = ttorch.log_softmax if log else ttorch.softmax
    close(fn(_lay(a, "cuda", layout), dim), fn(T(a), dim), D.float32, 8, f"softmax {a.shape} {dim} {layout}")


@cuda_only
def test_non_adjacent_dims_reduce_in_stages_without_a_copy(monkeypatch):
    """A BatchNorm's reduction over (0, 2, 3) of NCHW: the last run of dims in place, then the rest;
    every combine and POST (mean's count, the norm's root, all/any) as the one-pass result."""
    called = []
    real = reduction.to_rows
    monkeypatch.setattr(reduction, "to_rows", lambda *a: (called.append(a[1]), real(*a))[1])
    a = np.random.default_rng(3).uniform(-2, 2, size=(3, 4, 5, 6))
    a[1, 2, 3, 4] = 7.0
    for f in (lambda t: t.sum((0, 2, 3)), lambda t: t.mean((0, 2, 3), keepdim=True), lambda t: t.amax((0, 3)),
              lambda t: t.amin((0, 2, 3)), lambda t: t.norm(3, (0, 2)), lambda t: (t > 1.9).any((0, 3)),
              lambda t: t.sum((3, 0, 1), keepdim=True)):
        close(f(T(a, "cuda")), f(T(a)), D.float32, 60, "staged")
    assert called == []
    x = T(a, "cuda", requires_grad=True)
    x.mean((0, 2, 3)).sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(a.shape, 1 / 90), rtol=1e-6)
