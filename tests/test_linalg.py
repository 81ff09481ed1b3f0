"""The composed functions of ops/linalg.py and the ``ttorch.linalg`` namespace: values against NumPy,
gradients by float64 finite differences (gradcheck, gradgradcheck), cpu-vs-cuda gradients, PyTorch's
errors and warnings. (tests/test_ops.py runs their samples' values on both devices.)"""
import math
import warnings

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck, gradgradcheck

from _helpers import to_np

HAS_CUDA = ttorch.cuda.is_available()
R = np.random.default_rng(11)


def u(*shape):
    return R.uniform(-1, 1, shape)


def t64(a, grad=True):
    return ttorch.tensor(a, dtype=ttorch.float64, requires_grad=grad)


def test_meshgrid_and_cartesian_prod_against_numpy():
    a, b, c = u(3), u(2), u(4)
    for indexing in ("ij", "xy"):
        got = ttorch.meshgrid(t64(a, False), t64(b, False), t64(c, False), indexing=indexing)
        want = np.meshgrid(a, b, c, indexing=indexing)
        assert len(got) == 3
        for g, w in zip(got, want):
            np.testing.assert_array_equal(to_np(g), w)
    x, y = ttorch.meshgrid([ttorch.arange(2), ttorch.arange(3)], indexing="xy")
    assert x.shape == (3, 2) and x.stride() == (0, 1)                # expanded views, as PyTorch's
    got = ttorch.cartesian_prod(ttorch.tensor([1, 2]), ttorch.tensor([3, 4, 5]), ttorch.tensor([6]))
    assert got.tolist() == [[i, j, k] for i in (1, 2) for j in (3, 4, 5) for k in (6,)]
    assert gradcheck(lambda p, q: ttorch.meshgrid(p, q, indexing="xy"), (t64(a), t64(b)))
    assert gradcheck(lambda p, q: ttorch.cartesian_prod(p, q), (t64(a), t64(b)))


def test_meshgrid_errors_and_warning():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        ttorch.meshgrid(ttorch.zeros(2), ttorch.zeros(3))
    with pytest.raises(RuntimeError, match='indexing must be one of "xy" or "ij"'):
        ttorch.meshgrid(ttorch.zeros(2), indexing="ji")
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor"):
        ttorch.meshgrid(ttorch.zeros(2, 2), indexing="ij")
    with pytest.raises(RuntimeError, match="same dtype"):
        ttorch.meshgrid(ttorch.zeros(2), ttorch.zeros(2, dtype=ttorch.int64), indexing="ij")
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        ttorch.cartesian_prod(ttorch.zeros(2, 2), ttorch.zeros(2))


@pytest.mark.parametrize("k", [0, 1, 3, -2])
def test_diag_both_ways(k):
    v, m = u(4), u(3, 5)
    np.testing.assert_array_equal(to_np(ttorch.diag(t64(v, False), k)), np.diag(v, k))
    np.testing.assert_array_equal(to_np(ttorch.diag(t64(m, False), k)), np.diag(m, k))
    d = t64(m, False).diag(k)
    assert d.is_contiguous() and d._base is None                   # a copy, not a view of the matrix
    assert gradcheck(lambda x: ttorch.diag(x, k), (t64(v),)) and gradcheck(lambda x: ttorch.diag(x, k), (t64(m),))
    assert gradgradcheck(lambda x: ttorch.diag(x, k) ** 2, (t64(v),))
    assert ttorch.diag(ttorch.tensor([1, 2])).dtype is ttorch.int64
    with pytest.raises(RuntimeError, match="Supports 1D or 2D tensors. Got 3D"):
        ttorch.diag(ttorch.zeros(2, 2, 2))


def test_trace():
    m = u(3, 5)
    assert ttorch.trace(t64(m, False)).item() == pytest.approx(np.trace(m))
    it = ttorch.trace(ttorch.arange(12, dtype=ttorch.int32).reshape(3, 4))
    assert it.item() == 0 + 5 + 10 and it.dtype is ttorch.int64
    assert gradcheck(ttorch.trace, (t64(m),))
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 1"):
        ttorch.trace(ttorch.zeros(3))


@pytest.mark.parametrize("dims", [2, 0, ([1, 2], [1, 0]), ([0], [1])])
def test_tensordot_against_numpy(dims):
    shapes = {2: ((3, 4, 5), (4, 5, 2)), 0: ((3,), (2,))}.get(dims) if isinstance(dims, int) else \
        ((2, 3, 4), (4, 3, 5)) if len(dims[0]) == 2 else ((2, 3), (3, 2))
    a, b = u(*shapes[0]), u(*shapes[1])
    got = ttorch.tensordot(t64(a, False), t64(b, False), dims=dims)
    np.testing.assert_allclose(to_np(got), np.tensordot(a, b, axes=dims), rtol=1e-12)
    assert gradcheck(lambda x, y: ttorch.tensordot(x, y, dims=dims), (t64(a), t64(b)))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        ttorch.tensordot(ttorch.zeros(2, 3), ttorch.zeros(4, 2), dims=1)
    with pytest.raises(RuntimeError, match="tensordot expects dims >= 0"):
        ttorch.tensordot(ttorch.zeros(2, 3), ttorch.zeros(3, 2), dims=-1)


def test_kron_against_numpy():
    for sa, sb in (((2, 3), (3, 2)), ((3,), (2, 2)), ((2, 1, 2), (2, 3))):
        a, b = u(*sa), u(*sb)
        np.testing.assert_allclose(to_np(ttorch.kron(t64(a, False), t64(b, False))), np.kron(a, b), rtol=1e-12)
        assert gradcheck(ttorch.kron, (t64(a), t64(b)))


def test_cross_against_numpy():
    a, b = u(4, 3), u(4, 3)
    np.testing.assert_allclose(to_np(ttorch.linalg.cross(t64(a, False), t64(b, False))), np.cross(a, b), rtol=1e-12)
    a2, b2 = u(2, 3, 5), u(1, 3, 5)                                     # broadcast, along dim -2
    np.testing.assert_allclose(to_np(ttorch.cross(t64(a2, False), t64(b2, False), dim=-2)),
                               np.cross(a2, b2, axis=-2), rtol=1e-12)
    assert gradcheck(lambda x, y: ttorch.cross(x, y, dim=1), (t64(a), t64(b)))
    assert gradgradcheck(lambda x, y: ttorch.cross(x, y, dim=1), (t64(a), t64(b)))
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        c = ttorch.cross(t64(u(3, 2), False), t64(u(3, 2), False))                     # the first dim of size 3
    assert c.shape == (3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="no dimension of size 3 in input"):
            ttorch.cross(ttorch.zeros(2, 2), ttorch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="must have length 3. Got 4 and 4"):
        ttorch.linalg.cross(ttorch.zeros(2, 4), ttorch.zeros(2, 4))


def _np_cdist(x1, x2, p):
    d = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return (d != 0).sum(-1).astype(x1.dtype)
    if math.isinf(p):
        return d.max(-1)
    return (d ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p,rows", [(2.0, 4), (2.0, 30), (1.0, 4), (3.0, 4), (math.inf, 4), (0.0, 4), (0.5, 4)])
def test_cdist_against_numpy(p, rows):
    # 30 rows: past 25, p = 2 goes through the product (PyTorch's rule)
    x1, x2 = u(2, rows, 3), u(1, 5, 3)
    got = ttorch.cdist(t64(x1, False), t64(x2, False), p=p)
    np.testing.assert_allclose(to_np(got), _np_cdist(x1, x2, p), rtol=1e-9, atol=1e-12)
    if p != 0.0:
        assert gradcheck(lambda a, b: ttorch.cdist(a, b, p=p), (t64(x1[:, :6]), t64(x2)))


def test_cdist_gradient_at_zero_distance_is_zero():
    x = t64(u(3, 2))
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        x.grad = None
        d = ttorch.cdist(x, x.detach(), compute_mode=mode)
        assert np.allclose(np.diag(to_np(d)), 0, atol=1e-6)
        d.diagonal().sum().backward()
        assert np.isfinite(to_np(x.grad)).all() and np.allclose(to_np(x.grad), 0)


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="at least 2D tensors, X1 got: 1D"):
        ttorch.cdist(ttorch.zeros(3), ttorch.zeros(3, 3))
    with pytest.raises(RuntimeError, match="same number of columns. X1: 3 X2: 4"):
        ttorch.cdist(ttorch.zeros(2, 3), ttorch.zeros(2, 4))
    with pytest.raises(RuntimeError, match="only supports floating-point dtypes, X1 got: Long"):
        ttorch.cdist(ttorch.zeros(2, 3, dtype=ttorch.int64), ttorch.zeros(2, 3, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match="non-negative p"):
        ttorch.cdist(ttorch.zeros(2, 3), ttorch.zeros(2, 3), p=-1)


@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
def test_matrix_norms_against_numpy(ord):
    a = u(2, 3, 4)
    got = ttorch.linalg.matrix_norm(t64(a, False), ord)
    np.testing.assert_allclose(to_np(got), np.linalg.norm(a, ord, axis=(-2, -1)), rtol=1e-12)
    kept = ttorch.linalg.norm(t64(a, False), ord, dim=(2, 0), keepdim=True)
    np.testing.assert_allclose(to_np(kept), np.linalg.norm(a, ord, axis=(2, 0), keepdims=True), rtol=1e-12)
    assert gradcheck(lambda x: ttorch.linalg.matrix_norm(x, ord), (t64(a),))


def test_linalg_norm_dispatch_and_errors():
    a = u(2, 3, 4)
    np.testing.assert_allclose(to_np(ttorch.linalg.norm(t64(a, False))), np.linalg.norm(a.ravel()), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.linalg.norm(t64(a, False), dim=1)), np.linalg.norm(a, axis=1), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.linalg.norm(t64(a[0, 0], False), 3)), np.linalg.norm(a[0, 0], 3),
                               rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.linalg.vector_norm(t64(a, False), 1, dim=(0, 2))),
                               np.abs(a).sum((0, 2)), rtol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.linalg.vecdot(t64(a, False), t64(a[:1], False))), (a * a[:1]).sum(-1),
                               rtol=1e-12)
    assert ttorch.linalg.diagonal(ttorch.arange(24).reshape(2, 3, 4), offset=1).tolist() == \
        np.diagonal(np.arange(24).reshape(2, 3, 4), 1, -2, -1).tolist()
    with pytest.raises(RuntimeError, match="If dim is not specified but ord is, the input must be 1D or 2D"):
        ttorch.linalg.norm(ttorch.zeros(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        ttorch.linalg.matrix_norm(ttorch.zeros(3))
    b = np.random.default_rng(4).standard_normal((2, 4, 3))
    for o in ("nuc", 2, -2):                # the singular-value norms, over dims given in either order
        np.testing.assert_allclose(to_np(ttorch.linalg.matrix_norm(t64(b, False), o, dim=(2, 1), keepdim=True)),
                                   np.linalg.norm(np.swapaxes(b, 1, 2), o, axis=(1, 2), keepdims=True)
                                   .reshape(2, 1, 1), rtol=1e-12)
    assert ttorch.linalg.matrix_norm(ttorch.zeros(0, 3), math.inf).item() == 0
    with pytest.raises(IndexError, match="non-zero size"):
        ttorch.linalg.matrix_norm(ttorch.zeros(0, 3), -math.inf)


def test_atleast():
    s, v, m = ttorch.tensor(1.0), ttorch.zeros(3), ttorch.zeros(2, 3)
    assert ttorch.atleast_1d(s).shape == (1,) and ttorch.atleast_1d(v) is v
    assert [t.shape for t in ttorch.atleast_2d(s, v, m)] == [(1, 1), (1, 3), (2, 3)]
    assert [t.shape for t in ttorch.atleast_3d([s, v, m])] == [(1, 1, 1), (1, 3, 1), (2, 3, 1)]
    assert ttorch.atleast_3d(ttorch.zeros(1, 2, 3, 4)).shape == (1, 2, 3, 4)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_gradients_on_cuda_match_cpu():
    cases = [(lambda a, b: ttorch.cdist(a, b), (u(4, 3), u(5, 3))),
             (lambda a, b: ttorch.cdist(a, b), (u(30, 3), u(4, 3))),
             (lambda a, b: ttorch.cdist(a, b, p=1.0), (u(4, 3), u(5, 3))),
             (lambda a, b: ttorch.cross(a, b, dim=1), (u(4, 3), u(4, 3))),
             (lambda a, b: ttorch.tensordot(a, b, dims=([1, 2], [1, 0])), (u(2, 3, 4), u(4, 3, 5))),
             (lambda a, b: ttorch.kron(a, b), (u(2, 3), u(3, 2))), (lambda a: ttorch.diag(a, 1), (u(4),)),
             (lambda a: ttorch.linalg.matrix_norm(a, math.inf), (u(2, 3, 4),)),
             (lambda a, b: (lambda g: g[0] * 2 + g[1])(ttorch.meshgrid(a, b, indexing="xy")), (u(3), u(4)))]
    for fn, arrays in cases:
        grads = []
        for dev in ("cpu", "cuda"):
            ts = [ttorch.tensor(a, dtype=ttorch.float32, device=dev, requires_grad=True) for a in arrays]
            out = fn(*ts)
            (out * ttorch.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape), dtype=ttorch.float32,
                                 device=dev)).sum().backward()
            grads.append([to_np(t.grad) for t in ts])
        for g_cpu, g_cuda in zip(*grads):
            np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-4, atol=1e-5)
