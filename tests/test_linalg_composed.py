"""``linalg.cond``, ``tensorinv``, ``tensorsolve``, ``vander`` and the older ``cholesky_inverse``,
``triangular_solve``, ``qr``, ``orgqr``, ``unravel_index``: values against NumPy on both devices,
gradients, PyTorch's errors."""
import math

import numpy as np
import pytest

import ttorch
from ttorch import linalg as LA
from ttorch.autograd import gradcheck
from ttorch.ops import linalg_composed

from _helpers import close


def t(a, device="cpu", dtype=ttorch.float64, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def npy(x):
    return x.detach().cpu().numpy()


@pytest.mark.filterwarnings("ignore:All-NaN slice")      # (the simulated device's inverse of a singular matrix)
def test_cond(device):
    r = np.random.default_rng(0)
    a = r.standard_normal((2, 4, 4))
    for p in (None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1):
        close(npy(LA.cond(t(a, device), p)), np.linalg.cond(a, p), ttorch.float64, 64, f"cond {p}")
    wide = r.standard_normal((3, 5))
    close(npy(LA.cond(t(wide, device))), np.linalg.cond(wide), ttorch.float64, 64, "cond of a wide matrix")
    assert npy(LA.cond(t(np.diag([1.0, 0.0]), device), 1)).item() == math.inf
    with pytest.raises(RuntimeError, match="linalg.cond got an invalid norm type: 3"):
        LA.cond(t(a), 3)
    with pytest.raises(RuntimeError, match=r"linalg.cond\(ord=1\): A must be batches of square matrices"):
        LA.cond(t(wide), 1)
    x = t(a[0] + 4 * np.eye(4), grad=True)
    assert gradcheck(lambda m: LA.cond(m, "fro"), (x,))


def test_tensorinv_tensorsolve_vander(device):
    r = np.random.default_rng(1)
    a = r.standard_normal((6, 2, 3)) + np.eye(6).reshape(6, 2, 3) * 4
    np.testing.assert_allclose(npy(LA.tensorinv(t(a, device), ind=1)), np.linalg.tensorinv(a, ind=1), rtol=1e-10)
    b = r.standard_normal((2, 3))
    a2 = np.moveaxis(a, 0, -1)                                             # (2, 3, 6)
    np.testing.assert_allclose(npy(LA.tensorsolve(t(a2, device), t(b, device))), np.linalg.tensorsolve(a2, b),
                               rtol=1e-10)
    a3 = np.moveaxis(a2, 2, 0)                                             # (6, 2, 3): dims=(0,) moves 6 last
    np.testing.assert_allclose(npy(LA.tensorsolve(t(a3, device), t(b, device), dims=(0,))),
                               np.linalg.tensorsolve(a3, b, axes=(0,)), rtol=1e-10)
    with pytest.raises(RuntimeError, match=r"prod\(self.shape\[ind:\]\) == prod\(self.shape\[:ind\]\), but got 3 != 2"):
        LA.tensorinv(t(np.ones((2, 3))), ind=1)
    x = r.standard_normal((2, 3))
    np.testing.assert_allclose(npy(LA.vander(t(x, device))), np.vander(x.ravel(), 3, increasing=True).reshape(2, 3, 3),
                               rtol=1e-12)
    assert LA.vander(ttorch.tensor([1, 2]), N=4).tolist() == [[1, 1, 1, 1], [1, 2, 4, 8]]
    with pytest.raises(RuntimeError, match="N must be greater than 1"):
        LA.vander(ttorch.tensor(2.0))
    assert gradcheck(lambda v: LA.vander(v, N=4), (t(x + 2, grad=True),))


def test_older_names(device):
    r = np.random.default_rng(2)
    low = np.tril(r.standard_normal((3, 3))) + 3 * np.eye(3)
    a = low @ low.T
    np.testing.assert_allclose(npy(ttorch.cholesky_inverse(t(low, device))), np.linalg.inv(a), rtol=1e-10)
    np.testing.assert_allclose(npy(t(low.T, device).cholesky_inverse(upper=True)), np.linalg.inv(a), rtol=1e-10)
    b = r.standard_normal((3, 2))
    for upper in (True, False):
        tri = np.triu(a) if upper else np.tril(a)
        for transpose in (False, True):
            x, coef = ttorch.triangular_solve(t(b, device), t(tri, device), upper, transpose)
            np.testing.assert_allclose(npy(x), np.linalg.solve(tri.T if transpose else tri, b), rtol=1e-10)
            np.testing.assert_array_equal(npy(coef), tri)
    m = r.standard_normal((4, 3))
    q, rr = ttorch.qr(t(m, device))
    assert q.shape == (4, 3) and rr.shape == (3, 3)
    np.testing.assert_allclose(npy(q @ rr), m, rtol=1e-10, atol=1e-12)
    assert t(m, device).qr(some=False).Q.shape == (4, 4)
    np.testing.assert_allclose(npy(ttorch.orgqr(t(m, device), t([1.0, 0.5], device))),
                               npy(LA.householder_product(t(m, device), t([1.0, 0.5], device))))


def test_unravel_index(device):
    idx = np.array([0, 4, 7, 23, -1, 30])
    got = ttorch.unravel_index(t(idx, device, ttorch.int64), (2, 3, 4))
    want = np.unravel_index(idx % 24, (2, 3, 4))
    assert len(got) == 3
    for g, w in zip(got, want):
        assert g.dtype is ttorch.int64 and g.device.type == device
        np.testing.assert_array_equal(npy(g), w)
    assert [c.item() for c in ttorch.unravel_index(ttorch.tensor(5), (2, 4))] == [1, 1]
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype"):
        ttorch.unravel_index(ttorch.tensor([1.0]), (2,))


def test_docstring_examples():
    import doctest
    res = doctest.testmod(linalg_composed, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 3


def test_cond_empty_singular_nuc_0d_vander_int_cholesky_inverse():
    # review regressions: an empty matrix's cond is 0 (PyTorch's), 'nuc' of a singular one is inf (no SVD
    # of NaNs), a 0-d x is one element, an integer cholesky_inverse raises NotImplementedError
    assert LA.cond(ttorch.zeros(2, 3, 0)).tolist() == [0.0, 0.0]
    assert LA.cond(ttorch.zeros(0, 0)).item() == 0.0
    assert LA.cond(ttorch.zeros(2, 2), "nuc").item() == math.inf
    assert LA.vander(ttorch.tensor(2.0), N=3).tolist() == [[1.0, 2.0, 4.0]]
    with pytest.raises(NotImplementedError):
        ttorch.cholesky_inverse(ttorch.eye(3, dtype=ttorch.int64))
