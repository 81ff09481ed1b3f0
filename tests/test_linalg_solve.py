"""``linalg.solve``, ``inv``, ``det``, ``slogdet``, ``cholesky``, ``solve_triangular`` and their ``_ex``
forms: values against NumPy (LAPACK) on both devices with batches and broadcasting, singular and
non-positive-definite inputs (LAPACK's info, PyTorch's errors), gradients and gradients of gradients,
the host fallback past the register tile, and PyTorch's argument errors. The generated op tests
(tests/test_ops.py) run the ops' samples too."""
import numpy as np
import pytest

import ttorch
from ttorch import linalg as LA
from ttorch.autograd import gradcheck, gradgradcheck
from ttorch.ops import linalg_solve as S

from _helpers import close


def t(a, device="cpu", dtype=ttorch.float64, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def npy(x):
    return x.detach().cpu().numpy()


def well(r, *shape):
    return r.standard_normal(shape) + shape[-1] * np.eye(shape[-1])


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
def test_solve_inv_det_against_numpy(device, dtype):
    r = np.random.default_rng(0)
    a, b = well(r, 2, 1, 5, 5), r.standard_normal((3, 5, 4))          # batch dims broadcast to (2, 3)
    x = LA.solve(t(a, device, dtype), t(b, device, dtype))
    assert x.shape == (2, 3, 5, 4) and x.dtype is dtype
    close(x, np.linalg.solve(a, b), dtype, 25, "solve")
    v = r.standard_normal((2, 1, 5))                                   # a batch of vectors
    close(LA.solve(t(a, device, dtype), t(v, device, dtype)), np.linalg.solve(a, v[..., None])[..., 0], dtype, 25,
          "solve vectors")
    close(LA.solve(t(a[0, 0], device, dtype), t(b, device, dtype).mT, left=False),
          np.swapaxes(np.linalg.solve(a[0, 0].T, b), -1, -2), dtype, 25, "left=False")
    m = r.standard_normal((4, 6, 6))
    m[1] *= 3
    close(LA.inv(t(m, device, dtype)), np.linalg.inv(m), dtype, 100, "inv")
    close(LA.det(t(m, device, dtype)), np.linalg.det(m), dtype, 36, "det")
    sign, logabs = LA.slogdet(t(m, device, dtype))
    want_s, want_l = np.linalg.slogdet(m)
    np.testing.assert_array_equal(npy(sign), want_s)
    close(logabs, want_l, dtype, 36, "slogdet")
    close(t(m, device, dtype).det(), np.linalg.det(m), dtype, 36, "Tensor.det")
    close(ttorch.inverse(t(m, device, dtype)), np.linalg.inv(m), dtype, 100, "ttorch.inverse")


def test_singular_and_special_matrices(device):
    sing = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]])
    a = t(sing, device)
    np.testing.assert_array_equal(npy(LA.det(a)), [0.0, 0.0, -1.0])
    sign, logabs = LA.slogdet(a)
    np.testing.assert_array_equal(npy(sign), [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(npy(logabs), [-np.inf, -np.inf, 0.0])
    ld = npy(ttorch.logdet(t([[[2.0, 0.0], [0.0, 3.0]], [[0.0, 1.0], [1.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]]], device)))
    np.testing.assert_allclose(ld[0], np.log(6.0))
    assert np.isnan(ld[1]) and ld[2] == -np.inf
    # LAPACK's info: 1 + the column whose pivot is zero; no error from the _ex forms
    np.testing.assert_array_equal(npy(LA.inv_ex(a).info), [2, 1, 0])
    np.testing.assert_array_equal(npy(LA.solve_ex(a, t(np.ones((3, 2, 1)), device)).info), [2, 1, 0])
    with pytest.raises(LA.LinAlgError, match=r"linalg.inv: \(Batch element 0\): The diagonal element 2 is zero"):
        LA.inv(a)
    with pytest.raises(RuntimeError, match="torch.linalg.solve: The solver failed because the input matrix is "
                                           "singular"):
        LA.solve(a[0], t([1.0, 1.0], device))
    assert LA.det(t(np.zeros((2, 0, 0)), device)).tolist() == [1.0, 1.0]
    np.testing.assert_allclose(npy(LA.inv(t([[4.0]], device))), [[0.25]])


def test_cholesky(device):
    r = np.random.default_rng(1)
    x = r.standard_normal((3, 6, 6))
    spd = x @ np.swapaxes(x, -1, -2) + 6 * np.eye(6)
    junk = spd + np.triu(r.standard_normal((6, 6)), 1)     # the upper triangle is not read
    for dtype in (ttorch.float32, ttorch.float64):
        low = LA.cholesky(t(junk, device, dtype))
        close(low, np.linalg.cholesky(spd), dtype, 6, "cholesky")
        up = LA.cholesky(t(junk, device, dtype), upper=True)
        close(up, np.swapaxes(np.linalg.cholesky(spd), -1, -2), dtype, 6, "upper")
        close(ttorch.cholesky(t(spd, device, dtype)), np.linalg.cholesky(spd), dtype, 6, "ttorch.cholesky")
    bad = spd.copy()
    bad[1, 2, 2] = -50.0                                    # its leading minor of order 3 is not PD
    res = LA.cholesky_ex(t(bad, device))
    np.testing.assert_array_equal(npy(res.info), [0, 3, 0])
    with pytest.raises(LA.LinAlgError, match=r"linalg.cholesky: \(Batch element 1\): The factorization could not be "
                                             r"completed because the input is not positive-definite \(the leading "
                                             r"minor of order 3 is not positive-definite\)"):
        LA.cholesky(t(bad, device))


def test_solve_triangular(device):
    r = np.random.default_rng(2)
    a = r.standard_normal((2, 5, 5)) + 4 * np.eye(5)
    b = r.standard_normal((2, 5, 3))
    for upper in (False, True):
        tri = np.triu(a) if upper else np.tril(a)
        got = LA.solve_triangular(t(a, device), t(b, device), upper=upper)
        np.testing.assert_allclose(npy(got), np.linalg.solve(tri, b), rtol=1e-10, atol=1e-12)
        unit = tri.copy()
        unit[..., range(5), range(5)] = 1.0
        got = LA.solve_triangular(t(a, device), t(b, device), upper=upper, unitriangular=True)
        np.testing.assert_allclose(npy(got), np.linalg.solve(unit, b), rtol=1e-10, atol=1e-12)
        got = LA.solve_triangular(t(a, device), t(b, device).mT, upper=upper, left=False)       # X A = B^T
        np.testing.assert_allclose(npy(got), np.swapaxes(np.linalg.solve(np.swapaxes(tri, -1, -2), b), -1, -2),
                                   rtol=1e-10, atol=1e-12)


def test_gradients():
    r = np.random.default_rng(3)
    a, b = t(well(r, 2, 3, 3), grad=True), t(r.standard_normal((2, 3, 2)), grad=True)
    assert gradcheck(LA.solve, (a, b))
    assert gradgradcheck(LA.solve, (a, b))
    v = t(r.standard_normal(3))
    assert gradcheck(lambda m: LA.solve(m, v), (a,))            # a vector right-hand side
    assert gradcheck(LA.inv, (a,))
    assert gradcheck(LA.det, (a,))
    assert gradgradcheck(LA.det, (a,))
    assert gradcheck(lambda m: LA.slogdet(m).logabsdet, (a,))
    assert gradcheck(lambda m: ttorch.logdet(m @ m.mT), (a,))
    assert gradcheck(lambda m, v: LA.solve_triangular(m, v, upper=True), (a, b))
    assert gradcheck(lambda m, v: LA.solve_triangular(m, v.mT, upper=False, left=False, unitriangular=True), (a, b))
    # cholesky's gradient is PyTorch's symmetrized one: check it through a symmetric construction
    x = t(r.standard_normal((2, 4, 4)), grad=True)
    spd = lambda m: m @ m.mT + 4 * ttorch.eye(4, dtype=ttorch.float64)      # noqa: E731
    assert gradcheck(lambda m: LA.cholesky(spd(m)), (x,))
    assert gradcheck(lambda m: LA.cholesky(spd(m), upper=True), (x,))
    assert gradgradcheck(lambda m: LA.cholesky(spd(m)), (x,))


def test_cuda_gradients_match_cpu():
    if not ttorch.cuda.is_available():
        pytest.skip("needs (simulated) cuda")
    r = np.random.default_rng(4)
    a, b, x = well(r, 2, 4, 4), r.standard_normal((2, 4, 3)), r.standard_normal((4, 4))
    grads = []
    for dev in ("cpu", "cuda"):
        ta, tb, tx = t(a, dev, ttorch.float32, True), t(b, dev, ttorch.float32, True), t(x, dev, ttorch.float32, True)
        spd = tx @ tx.mT + 4 * ttorch.eye(4, device=dev)
        loss = (LA.solve(ta, tb).sum() + LA.slogdet(ta).logabsdet.sum() + LA.det(ta).sum()
                + LA.cholesky(spd).sum() + LA.solve_triangular(ta, tb, upper=True).square().sum())
        loss.backward()
        grads.append([npy(g.grad) for g in (ta, tb, tx)])
    for c, g in zip(*grads):
        close(c, g, ttorch.float32, 16, "cuda vs cpu gradient")


def test_past_the_register_tile_on_the_host(monkeypatch):
    if not ttorch.cuda.is_available():
        pytest.skip("needs (simulated) cuda")
    monkeypatch.setitem(S.MAX_N, ttorch.float64, 4)       # 6 rows: past the tile, so the host path runs
    seen = []
    real = S.launch
    monkeypatch.setattr(S, "launch", lambda *a, **k: seen.append(a[0]) or real(*a, **k))
    r = np.random.default_rng(5)
    a, b = well(r, 6, 6), r.standard_normal((6, 2))
    spd = a @ a.T
    np.testing.assert_allclose(npy(LA.solve(t(a, "cuda"), t(b, "cuda"))), np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(npy(LA.det(t(a, "cuda"))), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(npy(LA.cholesky(t(spd, "cuda"))), np.linalg.cholesky(spd), rtol=1e-10)
    np.testing.assert_allclose(npy(LA.solve_triangular(t(a, "cuda"), t(b, "cuda"), upper=True)),
                               np.linalg.solve(np.triu(a), b), rtol=1e-10)
    assert LA.solve(t(a, "cuda"), t(b, "cuda")).device.type == "cuda" and not seen
    LA.solve(t(a[:4, :4], "cuda"), t(b[:4], "cuda"))        # inside the tile: the kernel
    assert seen == [S._solve_kernel]


def test_argument_errors():
    with pytest.raises(RuntimeError, match="linalg.solve: A must be batches of square matrices, but they are 2 by 3"):
        LA.solve(ttorch.randn(2, 3), ttorch.randn(2))
    with pytest.raises(RuntimeError, match="linalg.inv: The input tensor A must have at least 2 dimensions"):
        LA.inv(ttorch.randn(3))
    with pytest.raises(RuntimeError, match="Incompatible shapes of A and B for the equation AX = B \\(3x3 and 2x1\\)"):
        LA.solve(ttorch.randn(3, 3), ttorch.randn(2, 1))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        LA.det(ttorch.ones(2, 2, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match="not implemented for 'Half'"):
        LA.inv(ttorch.ones(2, 2, dtype=ttorch.float16))
    with pytest.raises(RuntimeError, match="Expected A and B to have the same dtype"):
        LA.solve(ttorch.eye(2), ttorch.ones(2, dtype=ttorch.float64))
    assert issubclass(LA.LinAlgError, RuntimeError)


def test_docstring_examples():
    import doctest
    res = doctest.testmod(S, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 5


def test_cholesky_solve(device):
    r = np.random.default_rng(6)
    x = r.standard_normal((2, 5, 5))
    spd, b = x @ np.swapaxes(x, -1, -2) + 5 * np.eye(5), r.standard_normal((5, 3))
    low = LA.cholesky(t(spd, device))
    np.testing.assert_allclose(npy(ttorch.cholesky_solve(t(b, device), low)), np.linalg.solve(spd, b), rtol=1e-10)
    np.testing.assert_allclose(npy(t(b, device).cholesky_solve(low.mT, upper=True)), np.linalg.solve(spd, b),
                               rtol=1e-10)
    xg, bg = t(x, grad=True), t(b, grad=True)
    spd_of = lambda m: m @ m.mT + 5 * ttorch.eye(5, dtype=m.dtype)                      # noqa: E731
    assert gradcheck(lambda m, v: ttorch.cholesky_solve(v, LA.cholesky(spd_of(m))), (xg, bg))


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
def test_eigh(device, dtype):
    r = np.random.default_rng(7)
    x = r.standard_normal((3, 7, 7))
    sym = x + np.swapaxes(x, -1, -2)
    junk = sym + np.triu(r.standard_normal((7, 7)), 1)                  # 'L' reads the lower triangle only
    w, v = LA.eigh(t(junk, device, dtype))
    want_w, want_v = np.linalg.eigh(sym)
    close(w, want_w, dtype, 49, "eigenvalues")
    vv = npy(v).astype(np.float64)
    # eigenvectors up to sign (distinct eigenvalues): |V^T V_lapack| is the identity
    close(np.abs(np.swapaxes(vv, -1, -2) @ want_v), np.broadcast_to(np.eye(7), (3, 7, 7)), dtype, 49, "eigenvectors")
    close(vv @ (npy(w)[..., None] * np.swapaxes(vv, -1, -2)), sym, dtype, 49, "V diag(w) V^T")
    wu = LA.eigvalsh(t(np.swapaxes(junk, -1, -2), device, dtype), UPLO="U")
    close(wu, want_w, dtype, 49, "eigvalsh upper")
    np.testing.assert_array_equal(npy(LA.eigvalsh(t(np.diag([2.0, -1.0, 0.0]), device, dtype))), [-1.0, 0.0, 2.0])
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(t(sym, device, dtype), UPLO="X")


def test_eigh_gradients():
    r = np.random.default_rng(8)
    x = t(r.standard_normal((2, 4, 4)), grad=True)
    # symmetric inputs (the gradient is PyTorch's symmetrized one); v * v is blind to the signs
    assert gradcheck(lambda m: LA.eigvalsh(m + m.mT), (x,))
    assert gradcheck(lambda m: [o if i == 0 else o * o for i, o in enumerate(LA.eigh(m + m.mT))], (x,))
    assert gradgradcheck(lambda m: LA.eigvalsh(m + m.mT), (x,))
    if ttorch.cuda.is_available():
        grads = []
        for dev in ("cpu", "cuda"):
            xx = t(npy(x), dev, ttorch.float32, True)
            w, v = LA.eigh(xx + xx.mT)
            (w.square().sum() + (v * v)[..., 0].sum()).backward()
            grads.append(npy(xx.grad))
        close(grads[1], grads[0], ttorch.float32, 16, "eigh cuda vs cpu gradient")


def test_matrix_exp(device):
    r = np.random.default_rng(9)
    x = r.standard_normal((3, 5, 5))
    sym = (x + np.swapaxes(x, -1, -2)) * np.array([0.05, 1.0, 6.0])[:, None, None]    # three scalings
    w, v = np.linalg.eigh(sym)
    want = v @ (np.exp(w)[..., None] * np.swapaxes(v, -1, -2))
    got = npy(LA.matrix_exp(t(sym, device)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    a = t(r.standard_normal((2, 4, 4)) * 2, device)
    prod = npy(ttorch.matrix_exp(a) @ a.neg().matrix_exp())
    np.testing.assert_allclose(prod, np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-11)
    nil = np.triu(r.standard_normal((4, 4)), 1)                            # nilpotent: the series ends
    series = np.eye(4) + nil + nil @ nil / 2 + nil @ nil @ nil / 6
    np.testing.assert_allclose(npy(LA.matrix_exp(t(nil, device))), series, rtol=1e-13, atol=1e-14)
    f32 = npy(LA.matrix_exp(t(sym, device, ttorch.float32)))
    np.testing.assert_allclose(f32, want, rtol=2e-5, atol=2e-6 * np.abs(want).max())
    assert LA.matrix_exp(t(np.zeros((2, 0, 0)), device)).shape == (2, 0, 0)


def test_matrix_exp_gradients():
    r = np.random.default_rng(10)
    a = t(r.standard_normal((2, 3, 3)) * np.array([0.3, 4.0])[:, None, None], grad=True)
    assert gradcheck(LA.matrix_exp, (a,))
    assert gradgradcheck(LA.matrix_exp, (a,))


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
def test_qr_against_lapack(device, dtype):
    r = np.random.default_rng(11)
    for shape, mode in (((6, 4), "reduced"), ((2, 5, 5), "reduced"), ((3, 7), "reduced"), ((6, 4), "complete"),
                        ((3, 7), "complete"), ((2, 6, 3), "r")):
        a = r.standard_normal(shape)
        q, rr = LA.qr(t(a, device, dtype), mode=mode)
        if mode == "r":
            assert q.shape == (0,)
            want_r = np.linalg.qr(a, mode="r")
        else:
            want_q, want_r = np.linalg.qr(a, mode=mode)
            close(q, want_q, dtype, 16, f"Q {shape} {mode}")                 # LAPACK's signs, not normalized
        close(rr, want_r, dtype, 16, f"R {shape} {mode}")
        assert (npy(rr)[..., np.tril_indices(rr.shape[-2], -1, rr.shape[-1])[0],
                        np.tril_indices(rr.shape[-2], -1, rr.shape[-1])[1]] == 0).all()
    up = np.array([[-2.0, 1.0], [0.0, 3.0]])        # nothing below the diagonal: no reflection (LAPACK's tau 0)
    q, rr = LA.qr(t(up, device, dtype))
    np.testing.assert_array_equal(npy(q), np.eye(2))
    np.testing.assert_array_equal(npy(rr), up)


def test_qr_gradients_and_errors():
    r = np.random.default_rng(12)
    for shape, mode in (((5, 3), "reduced"), ((4, 4), "reduced"), ((3, 5), "reduced"), ((3, 5), "complete")):
        a = t(r.standard_normal(shape), grad=True)
        assert gradcheck(lambda m: LA.qr(m, mode=mode), (a,)), (shape, mode)
    sq = t(r.standard_normal((2, 3, 3)), grad=True)
    assert gradgradcheck(lambda m: LA.qr(m).R, (sq,))
    tall = t(r.standard_normal((4, 2)), grad=True)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows > ncols"):
        LA.qr(tall, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="which is not computed when mode='r'"):
        LA.qr(tall, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'full'"):
        LA.qr(tall, mode="full")
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        LA.qr(ttorch.ones(3))


def test_householder_product():
    r = np.random.default_rng(13)
    a, tau = r.standard_normal((2, 5, 3)), r.uniform(0.5, 1.5, (2, 2))
    want = np.broadcast_to(np.eye(5, 3), (2, 5, 3)).copy()
    for b in range(2):                       # H_1 H_2 applied to the first 3 columns of I
        h = np.eye(5)
        for i in range(2):
            v = np.where(np.arange(5) > i, a[b, :, i], 0.0)
            v[i] = 1.0
            h = h @ (np.eye(5) - tau[b, i] * np.outer(v, v))
        want[b] = h[:, :3]
    np.testing.assert_allclose(npy(LA.householder_product(t(a), t(tau))), want, rtol=1e-12, atol=1e-14)
    assert gradcheck(LA.householder_product, (t(a, grad=True), t(tau, grad=True)))
    with pytest.raises(RuntimeError, match="input.shape\\[-2\\] must be greater than or equal to input.shape\\[-1\\]"):
        LA.householder_product(t(a).mT, t(tau))


def test_lstsq(device):
    r = np.random.default_rng(14)
    a, b, v = r.standard_normal((2, 6, 3)), r.standard_normal((2, 6, 4)), r.standard_normal((2, 6))
    res = LA.lstsq(t(a, device), t(b, device), driver="gels")
    want = np.stack([np.linalg.lstsq(a[i], b[i], rcond=None)[0] for i in range(2)])
    np.testing.assert_allclose(npy(res.solution), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(res.residuals), ((a @ want - b) ** 2).sum(-2), rtol=1e-10)
    assert res.rank.shape == (0,) and res.singular_values.shape == (0,)
    vres = LA.lstsq(t(a, device), t(v, device), driver="gels")                # a batch of vectors
    assert vres.solution.shape == (2, 3) and vres.residuals.shape == (2, 1)
    w, bw = r.standard_normal((2, 3, 5)), r.standard_normal((2, 3, 2))           # wide: the minimum-norm solution
    wres = LA.lstsq(t(w, device), t(bw, device))
    want = np.stack([np.linalg.lstsq(w[i], bw[i], rcond=None)[0] for i in range(2)])
    np.testing.assert_allclose(npy(wres.solution), want, rtol=1e-10, atol=1e-12)
    assert wres.residuals.shape == (0,)
    if device == "cpu":                         # gelsy, the cpu default: no residuals
        assert LA.lstsq(t(a), t(b)).residuals.shape == (0,)
        assert gradcheck(lambda x, y: LA.lstsq(x, y).solution, (t(a, grad=True), t(b, grad=True)))
        assert gradcheck(lambda x, y: LA.lstsq(x, y).solution, (t(w, grad=True), t(bw, grad=True)))
    else:
        with pytest.raises(RuntimeError, match="`driver` other than `gels` is not supported on CUDA"):
            LA.lstsq(t(a, device), t(b, device), driver="gelsd")
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        LA.lstsq(t(a, device), t(b, device), driver="lu")
    with pytest.raises(RuntimeError, match="input.size\\(-2\\) should match other.size\\(-2\\)"):
        LA.lstsq(t(a, device), t(b[:, :5], device))


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
def test_svd(device, dtype):
    r = np.random.default_rng(15)
    low_rank = r.standard_normal((6, 2)) @ r.standard_normal((2, 5))            # two zero singular values
    for a in (r.standard_normal((2, 6, 4)), r.standard_normal((4, 6)), low_rank):
        for full in (True, False):
            u, s, vh = LA.svd(t(a, device, dtype), full_matrices=full)
            m, n = a.shape[-2:]
            k = min(m, n)
            assert u.shape[-2:] == ((m, m) if full else (m, k)) and vh.shape[-2:] == ((n, n) if full else (k, n))
            close(s, np.linalg.svd(a, compute_uv=False), dtype, 36, "singular values")
            uu, vv = npy(u).astype(np.float64), npy(vh).astype(np.float64)
            close((uu[..., :k] * npy(s)[..., None, :]) @ vv[..., :k, :], a, dtype, 36, "U S Vh")
            for q in (uu, np.swapaxes(vv, -1, -2)):                               # orthonormal, full bases too
                close(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(q.shape[-1]), q.shape[:-2] +
                                                                  (q.shape[-1],) * 2), dtype, 36, "orthonormal")
    a = r.standard_normal((5, 3))
    close(LA.svdvals(t(a, device, dtype)), np.linalg.svd(a, compute_uv=False), dtype, 15, "svdvals")
    close(LA.pinv(t(low_rank, device, dtype)), np.linalg.pinv(low_rank), dtype, 30, "pinv")
    assert LA.matrix_rank(t(low_rank, device, dtype)).item() == 2
    u, s, v = ttorch.svd(t(a, device, dtype))
    assert v.shape == (3, 3) and u.shape == (5, 3)
    close(ttorch.pinverse(t(a, device, dtype)), np.linalg.pinv(a), dtype, 15, "pinverse")


def test_svd_gradients():
    r = np.random.default_rng(16)
    for shape in ((5, 3), (3, 5), (4, 4)):
        a = t(r.standard_normal(shape), grad=True)
        w = [t(r.standard_normal(s)) for s in ((shape[0], min(shape)), (min(shape), shape[1]))]

        def f(m):       # blind to the singular vectors' signs
            u, s, vh = LA.svd(m, full_matrices=False)
            return s, (u * u * w[0]).sum(), (vh * vh * w[1]).sum(), u @ vh
        assert gradcheck(f, (a,)), shape
        assert gradcheck(lambda m: LA.svd(m).S, (a,))                 # full_matrices: the extra columns ignored
    assert gradgradcheck(LA.svdvals, (t(r.standard_normal((4, 3)), grad=True),))
    assert gradcheck(LA.pinv, (t(r.standard_normal((4, 3)), grad=True),))
