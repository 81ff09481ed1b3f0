"""``linalg.lu_factor``, ``lu_factor_ex``, ``lu``, ``lu_solve`` and ``ttorch.lu``, ``lu_unpack``,
``lu_solve``: the factorization against a float64 getf2 written out here (pivots, packed factors, info),
square, wide, tall, batched and empty matrices on both devices, singular matrices (LAPACK's info,
PyTorch's error), no pivoting, the solves in each of their four forms against NumPy, gradients (square,
wide and tall, and through the solves) and gradients of gradients, the host fallback past the register
tile, and PyTorch's argument errors. The generated op tests (tests/test_ops.py) run the samples too."""
import numpy as np
import pytest

import ttorch
from ttorch import linalg as LA
from ttorch.autograd import gradcheck, gradgradcheck
from ttorch.ops import linalg_lu as LU_

from _helpers import close


def t(a, device="cpu", dtype=ttorch.float64, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def npy(x):
    return x.detach().cpu().numpy()


def getf2(a, pivot=True):
    """One matrix, float64, element by element: (packed LU, 1-based pivots, info)."""
    a = np.array(a, np.float64)
    m, n = a.shape
    piv, info = [], 0
    for j in range(min(m, n)):
        p = j + int(np.argmax(np.abs(a[j:, j]))) if pivot else j
        piv.append(p + 1)
        a[[j, p]] = a[[p, j]]
        if a[j, j] == 0:
            info = info or j + 1
            continue
        for i in range(j + 1, m):
            a[i, j] /= a[j, j]
            a[i, j + 1:] -= a[i, j] * a[j, j + 1:]
    return a, np.array(piv, np.int32), info


def perm_matrix(piv, m):
    rows = list(range(m))
    for j, p in enumerate(piv):
        rows[j], rows[p - 1] = rows[p - 1], rows[j]
    return np.eye(m)[:, rows]          # P^T A = A[rows]


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5), (6, 3), (1, 1), (2, 1, 7), (17, 17)])
def test_factor_against_getf2(device, dtype, shape):
    r = np.random.default_rng(sum(shape))
    a = r.uniform(-1, 1, shape)
    lu, piv, info = LA.lu_factor_ex(t(a, device, dtype))
    assert piv.dtype is ttorch.int32 and info.dtype is ttorch.int32 and lu.device.type == device
    a2 = npy(t(a, dtype=dtype)).astype(np.float64).reshape(-1, *shape[-2:])
    for j, m in enumerate(a2):
        want_lu, want_piv, want_info = getf2(m)
        np.testing.assert_array_equal(npy(piv).reshape(-1, want_piv.size)[j], want_piv)
        close(npy(lu).reshape(a2.shape)[j], want_lu, dtype, 4 * shape[-1], "packed LU")
        assert npy(info).reshape(-1)[j] == want_info == 0
    p, low, up = LA.lu(t(a, device, dtype))
    k = min(shape[-2:])
    assert p.shape == shape[:-1] + (shape[-2],) and low.shape == shape[:-1] + (k,)
    assert up.shape == shape[:-2] + (k, shape[-1])
    pn, ln, un = npy(p), npy(low), npy(up)
    assert np.array_equal(ln, np.tril(ln)) and np.all(np.diagonal(ln, 0, -2, -1) == 1)
    assert np.array_equal(un, np.triu(un))
    close(pn @ ln @ un, a2.reshape(shape), dtype, 4 * shape[-1], "P L U")
    for j, pv in enumerate(npy(piv).reshape(-1, k)):
        np.testing.assert_array_equal(pn.reshape(-1, shape[-2], shape[-2])[j], perm_matrix(pv, shape[-2]))


def test_empty_and_singular(device):
    for shape in [(0, 3), (3, 0), (2, 0, 0)]:
        lu, piv, info = LA.lu_factor_ex(t(np.zeros(shape), device))
        assert lu.shape == shape and piv.shape == shape[:-2] + (0,) and info.shape == shape[:-2]
        p, low, up = LA.lu(t(np.zeros(shape), device))
        assert p.shape == shape[:-1] + (shape[-2],) and low.shape == shape[:-1] + (0,)
        assert up.shape == shape[:-2] + (0, shape[-1])
    sing = np.array([[[1.0, 2, 3], [2, 4, 6], [1, 0, 1]], [[0.0, 1, 2], [0, 3, 4], [0, 5, 7]]])
    lu, piv, info = LA.lu_factor_ex(t(sing, device))
    for j in range(2):
        want_lu, want_piv, want_info = getf2(sing[j])
        np.testing.assert_allclose(npy(lu)[j], want_lu, atol=1e-15)
        np.testing.assert_array_equal(npy(piv)[j], want_piv)
        assert npy(info)[j] == want_info
    assert npy(info).tolist() == [3, 1]
    with pytest.raises(LA.LinAlgError, match=r"torch.linalg.lu_factor: \(Batch element 0\): U\[3,3\] is zero and "
                                             "using it on lu_solve would result in a division by zero"):
        LA.lu_factor(t(sing, device))
    with pytest.raises(LA.LinAlgError, match=r"torch.linalg.lu_factor_ex: U\[1,1\] is zero"):
        LA.lu_factor_ex(t(sing[1], device), check_errors=True)
    # ttorch.lu never raises: the info is the caller's
    assert ttorch.lu(t(sing, device), get_infos=True)[2].tolist() == [3, 1]


def test_without_pivoting(device):
    r = np.random.default_rng(2)
    a = r.uniform(-1, 1, (2, 5, 4)) + 4 * np.eye(5, 4)
    lu, piv, info = LA.lu_factor_ex(t(a, device), pivot=False)
    assert npy(piv).tolist() == [[1, 2, 3, 4]] * 2 and npy(info).tolist() == [0, 0]
    for j in range(2):
        np.testing.assert_allclose(npy(lu)[j], getf2(a[j], pivot=False)[0], rtol=1e-12, atol=1e-14)
    p, low, up = LA.lu(t(a, device), pivot=False)
    assert p.shape == (0,)
    np.testing.assert_allclose(npy(low @ up), a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("left,adjoint", [(True, False), (True, True), (False, False), (False, True)])
def test_lu_solve(device, left, adjoint):
    r = np.random.default_rng(3)
    a = r.standard_normal((2, 4, 4)) + 4 * np.eye(4)
    b = r.standard_normal((3, 1, 4, 2) if left else (3, 1, 2, 4))     # broadcast against A's batch
    lu, piv = LA.lu_factor(t(a, device))
    x = LA.lu_solve(lu, piv, t(b, device), left=left, adjoint=adjoint)
    op = np.swapaxes(a, -1, -2) if adjoint else a
    want = np.linalg.solve(op, b) if left else np.swapaxes(np.linalg.solve(np.swapaxes(op, -1, -2),
                                                                           np.swapaxes(b, -1, -2)), -1, -2)
    assert x.shape == want.shape and x.device.type == device
    np.testing.assert_allclose(npy(x), want, rtol=1e-10, atol=1e-12)
    if left and not adjoint:
        np.testing.assert_allclose(npy(ttorch.lu_solve(t(b, device), lu, piv)), want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(npy(t(b, device).lu_solve(lu, piv)), want, rtol=1e-10, atol=1e-12)


def test_lu_unpack(device):
    r = np.random.default_rng(4)
    a = r.uniform(-1, 1, (2, 4, 3))
    lu, piv = LA.lu_factor(t(a, device))
    p, low, up = ttorch.lu_unpack(lu, piv)
    np.testing.assert_allclose(npy(p @ low @ up), a, rtol=1e-12, atol=1e-14)
    pivots = np.array([[3, 3, 4], [2, 4, 3]], np.int32)                # any pivots, not only lu_factor's
    p2 = ttorch.lu_unpack(lu, t(pivots, device, ttorch.int32)).P
    for j in range(2):
        np.testing.assert_array_equal(npy(p2)[j], perm_matrix(pivots[j], 4))
    no_data = ttorch.lu_unpack(lu, piv, unpack_data=False)
    no_piv = ttorch.lu_unpack(lu, piv, unpack_pivots=False)
    assert no_data.L.shape == no_data.U.shape == no_piv.P.shape == (0,)
    np.testing.assert_array_equal(npy(no_data.P), npy(p))
    np.testing.assert_array_equal(npy(no_piv.L), npy(low))
    a_lu, a_piv = t(a, device).lu()
    np.testing.assert_array_equal(npy(a_lu), npy(lu))
    np.testing.assert_array_equal(npy(a_piv), npy(piv))


def test_gradients():
    r = np.random.default_rng(5)
    for shape in [(2, 4, 4), (3, 5), (5, 3)]:
        a = t(r.uniform(-1, 1, shape), grad=True)
        assert gradcheck(lambda m: tuple(LA.lu(m))[1:], (a,))
        assert gradcheck(lambda m: LA.lu_factor(m).LU, (a,))
        assert gradcheck(lambda m: ttorch.lu_unpack(*LA.lu_factor(m))[1:], (a,))
    a = t(r.uniform(-1, 1, (4, 4)), grad=True)
    assert gradgradcheck(lambda m: tuple(LA.lu(m))[1:], (a,))
    a, b = t(r.standard_normal((2, 3, 3)) + 3 * np.eye(3), grad=True), t(r.standard_normal((3, 2)), grad=True)
    for left, adjoint in [(True, False), (True, True), (False, False), (False, True)]:
        f = lambda m, v: LA.lu_solve(*LA.lu_factor(m), v if left else v.mT, left=left, adjoint=adjoint)  # noqa
        assert gradcheck(f, (a, b))
        lu_, piv = LA.lu_factor(a.detach())
        lu_.requires_grad_()
        assert gradcheck(lambda p, v: LA.lu_solve(p, piv, v, adjoint=adjoint), (lu_, b))     # the packed LU's
    assert gradgradcheck(lambda m, v: LA.lu_solve(*LA.lu_factor(m), v), (a, b))


def test_cuda_gradients_match_cpu():
    if not ttorch.cuda.is_available():
        pytest.skip("needs (simulated) cuda")
    r = np.random.default_rng(6)
    a, b, w = r.uniform(-1, 1, (2, 4, 4)), r.standard_normal((4, 3)), r.uniform(-1, 1, (5, 3))
    grads = []
    for dev in ("cpu", "cuda"):
        ta, tb, tw = (t(v, dev, ttorch.float32, True) for v in (a, b, w))
        p, low, up = LA.lu(tw)
        loss = LA.lu_solve(*LA.lu_factor(ta), tb).sum() + (low.square().sum() + up.sum())
        loss.backward()
        grads.append([npy(g.grad) for g in (ta, tb, tw)])
    for c, g in zip(*grads):
        close(c, g, ttorch.float32, 16, "cuda vs cpu gradient")


def test_past_the_register_tile_on_the_host(monkeypatch):
    if not ttorch.cuda.is_available():
        pytest.skip("needs (simulated) cuda")
    monkeypatch.setitem(LU_.MAX_N, ttorch.float64, 4)       # 6 rows: past the tile, so the host path runs
    monkeypatch.setattr(LU_, "_PERM_MAX", 4)
    seen = []
    real = LU_.launch
    monkeypatch.setattr(LU_, "launch", lambda *a, **k: seen.append(a[0]) or real(*a, **k))
    a = np.random.default_rng(7).uniform(-1, 1, (6, 5))
    p, low, up = LA.lu(t(a, "cuda"))
    assert up.device.type == "cuda" and not seen
    np.testing.assert_allclose(npy(p @ low @ up), a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(npy(LA.lu_factor(t(a, "cuda")).LU), getf2(a)[0], rtol=1e-12, atol=1e-14)
    LA.lu(t(a[:4, :4], "cuda"))                               # inside the tile: the kernels
    assert seen == [LU_._lu_kernel, LU_._lu_perm_kernel]


def test_complex(device):
    # LAPACK's zgetrf picks the pivot of largest |re| + |im| (not |z|): this column's second entry has the
    # larger |re| + |im| (1.2 against 1) and the smaller modulus (0.85 against 1); PyTorch's pivots [2, 2, 3]
    a = np.array([[1.0 + 0.0j, 2.0 + 1.0j, 0.5j], [0.6 + 0.6j, 1.0 - 1.0j, 2.0], [0.1j, 3.0, 1.0 + 1.0j]])
    A = ttorch.tensor(a, device=device)
    lu, piv = LA.lu_factor(A)
    assert lu.dtype is ttorch.complex128 and piv.tolist() == [2, 2, 3]
    P, L, U = (npy(x) for x in LA.lu(A))
    np.testing.assert_allclose(P @ L @ U, a, atol=1e-14)
    assert np.allclose(np.triu(L, 1), 0) and np.allclose(np.diag(L), 1) and np.allclose(np.tril(U, -1), 0)
    rng = np.random.default_rng(1)
    b = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    for adjoint, want in ((False, np.linalg.solve(a, b)), (True, np.linalg.solve(a.conj().T, b))):
        x = LA.lu_solve(lu, piv, ttorch.tensor(b, device=device), adjoint=adjoint)
        np.testing.assert_allclose(npy(x.resolve_conj()), want, atol=1e-13)
    x = LA.lu_solve(lu, piv, ttorch.tensor(b.T.copy(), device=device), left=False)
    np.testing.assert_allclose(npy(x.resolve_conj()), np.linalg.solve(a.T, b).T, atol=1e-13)
    if device == "cpu":         # (the interpreter is slow: the simulated cuda compares one backward with the cpu's)
        for shape in ((3, 3), (2, 4), (4, 2)):            # square, wide, tall (PyTorch's rule with ^H)
            z = ttorch.tensor(rng.normal(size=shape + (2,)), requires_grad=True)
            assert gradcheck(lambda z: ttorch.view_as_real(LA.lu_factor(ttorch.view_as_complex(z))[0]), (z,))
        z = ttorch.tensor(rng.normal(size=(3, 3, 2)), requires_grad=True)
        B = ttorch.tensor(b)
        assert gradcheck(lambda z: ttorch.view_as_real(LA.lu_solve(*LA.lu_factor(ttorch.view_as_complex(z)), B,
                                                                   adjoint=True).resolve_conj()), (z,))
        return
    grads = []
    for dev in ("cpu", device):
        z = ttorch.tensor(a, device=dev, requires_grad=True)
        x = LA.lu_solve(*LA.lu_factor(z), ttorch.tensor(b, device=dev), adjoint=True)
        (x.abs() ** 2).sum().backward()
        grads.append(npy(z.grad))
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-12)

def test_argument_errors():
    with pytest.raises(RuntimeError, match=r"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: "
                                           r"\[3\] instead"):
        LA.lu_factor(ttorch.ones(3))
    with pytest.raises(NotImplementedError, match="\"lu_cpu\" not implemented for 'Long'"):
        LA.lu(ttorch.ones(2, 2, dtype=ttorch.int64))
    eye, piv = ttorch.eye(3), ttorch.ones(3, dtype=ttorch.int32)
    with pytest.raises(RuntimeError, match="linalg.lu_solve: The input tensor B must have at least 2 dimensions"):
        LA.lu_solve(eye, piv, ttorch.ones(3))
    with pytest.raises(RuntimeError, match="pivots should be a Tensor of scalar type torch.int32"):
        LA.lu_solve(eye, piv.long(), ttorch.ones(3, 1))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(3x3 and 2x1\)"):
        LA.lu_solve(eye, piv, ttorch.ones(2, 1))
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 3 by 4 matrices"):
        LA.lu_solve(ttorch.zeros(3, 4), piv, ttorch.ones(3, 1))
    with pytest.raises(RuntimeError, match="Number of pivots per batch should be same as the dimension"):
        LA.lu_solve(eye, piv[:2], ttorch.ones(3, 1))
    with pytest.raises(RuntimeError, match=r"Expected LU.shape\[:-1\] and pivots.shape to be the same, but got "
                                           r"pivots with shape \[1, 3\]"):
        LA.lu_solve(eye, piv[None], ttorch.ones(3, 1))
    with pytest.raises(RuntimeError, match="Expected LU and B to have the same dtype, but found LU of type Float and "
                                           "B of type Double"):
        LA.lu_solve(eye, piv, ttorch.ones(3, 1, dtype=ttorch.float64))
    with pytest.raises(RuntimeError, match="LU_pivots is expected to be a contiguous tensor of torch.int32 dtype"):
        ttorch.lu_unpack(eye, piv.long())
    with pytest.raises(RuntimeError, match="pivots passed to lu_unpack must be between 1 and LU.size"):
        ttorch.lu_unpack(eye, ttorch.tensor([5, 1, 1], dtype=ttorch.int32))


def test_docstring_examples():
    import doctest
    res = doctest.testmod(LU_, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 4
