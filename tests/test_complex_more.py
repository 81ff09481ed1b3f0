"""Complex dtypes, part 3: cumulative ops and scatters, complex linalg (solvers through the realification,
the host factorizations), complex convolutions and forward-mode AD with complex tensors. References: NumPy
complex128 (values), gradcheck (PyTorch's conjugate-Wirtinger convention on the real views) and central
differences along the tangent (forward mode). PyTorch 2.13's values and gradients were compared by hand."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.autograd.forward_ad as fwAD
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck


def cn(rng, *shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def npy(t):
    return t.detach().cpu().numpy()


def close(got, want, tol=1e-10):
    np.testing.assert_allclose(npy(got), want, rtol=tol, atol=tol)


def T(a, device, grad=False):
    return ttorch.tensor(a, dtype=ttorch.complex128, device=device, requires_grad=grad)


def cgradcheck(f, *zs):
    xs = [ttorch.tensor(z, dtype=ttorch.complex128, requires_grad=True) for z in zs]
    return gradcheck(f, xs, eps=1e-6, atol=1e-6, rtol=1e-4)


# ------------------------------------------------------------------------------ cumulative ops, scatters
def test_cumulative_ops(device):
    rng = np.random.default_rng(0)
    a = cn(rng, 3, 6)
    a[1, 2] = 0                                    # a zero: the products after it vanish
    z = T(a, device)
    close(z.cumprod(1), np.cumprod(a, 1))
    close(z.cumprod(0), np.cumprod(a, 0))
    close(ttorch.cumsum(z, 1), np.cumsum(a, 1))
    close(ttorch.diff(z, dim=1), np.diff(a, axis=1))
    close(ttorch.diff(z, n=2, dim=0, append=z[:1]), np.diff(np.concatenate([a, a[:1]]), n=2, axis=0))
    assert z.cumprod(1).dtype is ttorch.complex128
    close(T(np.array(2 - 1j), device).cumprod(0), np.array(2 - 1j))
    assert ttorch.tensor([1 + 1j], device=device).cumprod(0, dtype=ttorch.complex128).dtype is ttorch.complex128


def test_logcumsumexp(device):
    rng = np.random.default_rng(10)
    a = 3 * cn(rng, 2, 6)
    r = ttorch.logcumsumexp(T(a, device), 1)
    close(r.exp(), np.cumsum(np.exp(a), 1))               # (equal up to 2 pi i in the imaginary part)
    close(r[:, 0], a[:, 0])
    big = T(np.array([1000 + 1j, 1000.5 - 2j]), device)    # no overflow: factored at the larger real part
    close(ttorch.logcumsumexp(big, 0)[1] - 1000, np.log(np.exp(1j) + np.exp(0.5 - 2j)))
    assert cgradcheck(lambda z: ttorch.logcumsumexp(z, 1), a[:, :4] / 3)


def test_cumprod_gradient_through_zeros():
    rng = np.random.default_rng(1)
    a = cn(rng, 2, 5)
    a[0, 1] = 0
    assert cgradcheck(lambda z: z.cumprod(1), a)
    assert cgradcheck(lambda z: ttorch.diff(z, dim=1), a)


def test_scatters(device):
    rng = np.random.default_rng(2)
    a, s = cn(rng, 4, 3), cn(rng, 3, 3)
    z, src = T(a, device), T(s, device)
    idx = ttorch.tensor([3, 0, 3], device=device)
    want = a.copy()
    np.add.at(want, [3, 0, 3], 2 * s)
    close(z.index_add(0, idx, src, alpha=2), want)
    want = a.copy()
    want[[2, 0]] = s[:2]
    close(z.index_copy(0, ttorch.tensor([2, 0], device=device), src[:2]), want)
    want = a.copy()
    want[:, 1] = 1 - 2j
    close(z.index_fill(1, ttorch.tensor([1], device=device), 1 - 2j), want)
    ix = np.array([[1, 0, 2], [3, 3, 0]])
    want = a.copy()
    for i in range(2):
        for j in range(3):
            want[ix[i, j], j] += s[i, j]
    close(z.scatter_add(0, ttorch.tensor(ix, device=device), src), want)
    want = a.copy()
    want[[1, 0, 2], [0, 1, 2]] = s[0]
    close(z.scatter(0, ttorch.tensor(ix[:1], device=device), src), want)
    want = a.copy()
    want[[1, 0, 2], [0, 1, 2]] = 0.5j
    close(z.scatter(0, ttorch.tensor(ix[:1], device=device), 0.5j), want)
    close(T(np.array(1 + 1j), device).index_add(0, ttorch.tensor([0], device=device), T(np.array(2j), device)),
          np.array(1 + 3j))                      # 0-dim: its dim 0 is not the (re, im) dim of the float view
    want = a.copy()
    for i in range(2):
        for j in range(3):
            want[ix[i, j], j] *= s[i, j]
    close(z.scatter(0, ttorch.tensor(ix, device=device), src, reduce="multiply"), want)
    tix = ttorch.tensor(ix, device=device)
    for reduce, include_self in (("sum", True), ("sum", False), ("prod", True), ("prod", False), ("mean", True),
                                 ("mean", False)):
        want, hits = a.copy(), np.zeros(a.shape, int)
        acc = {"sum": np.zeros_like(a), "prod": np.ones_like(a), "mean": np.zeros_like(a)}[reduce]
        for i in range(2):
            for j in range(3):
                hits[ix[i, j], j] += 1
                acc[ix[i, j], j] = acc[ix[i, j], j] * s[i, j] if reduce == "prod" else acc[ix[i, j], j] + s[i, j]
        if include_self:
            acc = acc * a if reduce == "prod" else acc + a
        if reduce == "mean":
            acc = acc / np.maximum(hits + include_self, 1)
        want = np.where(hits > 0, acc, a)
        close(z.scatter_reduce(0, tix, src, reduce, include_self=include_self), want)
    exact = T(np.array([1 + 1j, 2]), device).scatter_reduce(0, ttorch.tensor([0, 0], device=device),
                                                             T(np.array([1 - 1j, 3j]), device), "prod")
    assert npy(exact).tolist() == [6j, 2]       # exact products: no rounding noise in a zero part
    with pytest.raises(NotImplementedError, match="reduce_amax\" not implemented for 'ComplexDouble'"):
        z.scatter_reduce(0, tix, src, "amax")
    with pytest.raises(RuntimeError, match="does not support automatic differentiation for outputs with complex"):
        T(a, device, grad=True).scatter_reduce(0, tix, src, "prod")


def test_scatter_gradients():
    rng = np.random.default_rng(3)
    a, s = cn(rng, 4, 2), cn(rng, 3, 2)
    idx = ttorch.tensor([3, 0, 3])
    assert cgradcheck(lambda x, y: x.index_add(0, idx, y, alpha=2), a, s)
    assert cgradcheck(lambda x, y: x.scatter_add(0, ttorch.tensor([[1, 0], [3, 3]]), y), a, s)
    assert cgradcheck(lambda x, y: x.scatter_reduce(0, ttorch.tensor([[1, 0], [3, 3]]), y, "mean",
                                                    include_self=False), a, s)


def test_linspace_where_isclose(device):
    close(ttorch.linspace(0, 1 + 1j, 3, device=device), np.linspace(0, 1 + 1j, 3), 1e-7)
    r = ttorch.linspace(0, 2, 3, dtype=ttorch.complex128, device=device)
    assert r.dtype is ttorch.complex128 and r.tolist() == [0j, 1 + 0j, 2 + 0j]
    assert ttorch.linspace(0, 1j, 2).dtype is ttorch.complex64
    with pytest.raises(NotImplementedError, match="arange_cpu.*ComplexFloat"):      # PyTorch has no complex arange
        ttorch.arange(3, dtype=ttorch.cfloat)
    with pytest.raises(RuntimeError, match="converted to type double"):
        ttorch.arange(2j)
    cond = ttorch.tensor([True, False], device=device)
    close(ttorch.where(cond, 1j, ttorch.tensor([1.0, 2.0], device=device)), np.array([1j, 2]))
    z = ttorch.tensor([1 + 2j, 3 - 1j], device=device)
    assert ttorch.isclose(z, z + 1e-9).tolist() == [True, True] and ttorch.allclose(z, z)
    assert not ttorch.allclose(z, z + 1e-3j)


# ------------------------------------------------------------------------------ linalg
def _expm(a):
    """exp(a) by scaling, a 30-term Taylor series and squaring (complex128)."""
    s = max(0, int(np.ceil(np.log2(max(np.abs(a).sum(0).max(), 1e-300)))) + 1)
    b = a / 2 ** s
    r, term = np.eye(len(a), dtype=complex), np.eye(len(a), dtype=complex)
    for k in range(1, 30):
        term = term @ b / k
        r = r + term
    for _ in range(s):
        r = r @ r
    return r


def test_solvers(device):
    rng = np.random.default_rng(4)
    a, b = cn(rng, 2, 3, 3) + 3 * np.eye(3), cn(rng, 2, 3, 2)
    A, B = T(a, device), T(b, device)
    L = ttorch.linalg
    close(L.solve(A, B), np.linalg.solve(a, b))
    close(L.solve(A, B[..., 0]), np.linalg.solve(a, b[..., :1])[..., 0])
    close(L.solve(A, B.mT, left=False), np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), b), -1, -2))
    close(L.inv(A), np.linalg.inv(a))
    close(L.det(A), np.linalg.det(a))
    sign, logabs = L.slogdet(A)
    ws, wl = np.linalg.slogdet(a)
    close(sign, ws)
    close(logabs, wl)
    assert sign.dtype is ttorch.complex128 and logabs.dtype is ttorch.float64
    close(L.matrix_exp(A[0] * 0.5), _expm(a[0] * 0.5), 1e-9)
    close(ttorch.logdet(A), np.log(np.linalg.det(a)))
    up = np.triu(a[0])
    close(L.solve_triangular(A[0], B[0], upper=True), np.linalg.solve(up, b[0]))
    low1 = np.tril(a[0], -1) + np.eye(3)
    close(L.solve_triangular(A[0], B[0].mT, upper=False, left=False, unitriangular=True),
          np.linalg.solve(low1.T, b[0]).T)
    h = a[0] @ a[0].conj().T
    close(ttorch.cholesky_solve(B[0], L.cholesky(T(h, device))), np.linalg.solve(h, b[0]))
    close(ttorch.cholesky_solve(B[0], L.cholesky(T(h, device), upper=True), upper=True), np.linalg.solve(h, b[0]))
    tall, rhs = cn(rng, 5, 3), cn(rng, 5, 2)
    res = L.lstsq(T(tall, device), T(rhs, device), driver="gels")
    want, wres = np.linalg.lstsq(tall, rhs, rcond=None)[:2]
    close(res.solution, want)
    close(res.residuals, wres)
    assert res.residuals.dtype is ttorch.float64
    wide = tall.T.copy()                                   # the minimum-norm solution
    close(L.lstsq(T(wide, device), T(rhs[:3], device)).solution, np.linalg.lstsq(wide, rhs[:3], rcond=None)[0])
    with pytest.raises(RuntimeError, match="singular"):
        L.inv(T(np.ones((2, 2)) * (1 + 1j), device))
    info = L.inv_ex(T(np.zeros((2, 2)), device)).info
    assert int(info.item()) > 0


def test_factorizations(device):
    rng = np.random.default_rng(5)
    r, h0 = cn(rng, 4, 3), cn(rng, 3, 3)
    h = h0 @ h0.conj().T + np.eye(3)
    L = ttorch.linalg
    close(L.svdvals(T(r, device)), np.linalg.svd(r, compute_uv=False))
    u, s, vh = L.svd(T(r, device), full_matrices=False)
    close(u @ (s.to(ttorch.complex128).unsqueeze(-1) * vh), r)
    assert L.svd(T(r, device)).U.shape == (4, 4)
    close(L.pinv(T(r, device)), np.linalg.pinv(r))
    close(L.pinv(T(h, device), hermitian=True), np.linalg.inv(h))
    w, v = L.eigh(T(h, device))
    close(w, np.linalg.eigvalsh(h))
    close(v @ (w.to(ttorch.complex128).unsqueeze(-1) * v.mH), h)
    close(L.eigvalsh(T(h, device), UPLO="U"), np.linalg.eigvalsh(h, UPLO="U"))
    q, rr = L.qr(T(r, device))
    close(q @ rr, r)
    close(q.mH @ q, np.eye(3))
    assert L.qr(T(r, device), mode="complete").Q.shape == (4, 4)
    low = L.cholesky(T(h, device))
    close(low, np.linalg.cholesky(h))
    close(L.cholesky(T(h, device), upper=True), np.linalg.cholesky(h).conj().T)
    with pytest.raises(RuntimeError, match="positive-definite"):
        L.cholesky(T(-h, device))
    # norms: real results
    close(L.matrix_norm(T(r, device)), np.linalg.norm(r))
    close(L.matrix_norm(T(r, device), "nuc"), np.linalg.norm(r, "nuc"))
    close(L.matrix_norm(T(r, device), 1), np.linalg.norm(r, 1))
    close(L.matrix_norm(T(r, device), 2), np.linalg.norm(r, 2))
    assert L.matrix_norm(T(r, device)).dtype is ttorch.float64
    close(L.vector_norm(T(r, device), 3), np.sum(np.abs(r) ** 3) ** (1 / 3))
    close(ttorch.vdot(T(r[0], device), T(r[1], device)), np.vdot(r[0], r[1]))
    close(ttorch.kron(T(h0, device), T(r, device)), np.kron(h0, r))
    close(ttorch.einsum("ij,kj->ik", T(r, device), T(h0, device)), r @ h0.T)


def test_linalg_gradients():
    rng = np.random.default_rng(6)
    a, b = cn(rng, 3, 3) + 3 * np.eye(3), cn(rng, 3, 2)
    L = ttorch.linalg
    assert cgradcheck(lambda x, y: L.solve(x, y), a, b)
    assert cgradcheck(L.inv, a)
    assert cgradcheck(L.det, a)
    assert cgradcheck(lambda x: L.slogdet(x)[1], a)
    assert cgradcheck(lambda x: L.slogdet(x)[0], a)
    assert cgradcheck(lambda x: L.matrix_exp(x * 0.3), a)
    assert cgradcheck(ttorch.logdet, a)
    assert cgradcheck(lambda x, y: L.solve_triangular(x, y, upper=True), a, b)
    r = cn(rng, 4, 3)
    h = a @ a.conj().T
    assert cgradcheck(L.svdvals, r)
    assert cgradcheck(lambda x: L.pinv(x), r)
    # gauge-invariant functions of the vectors (a phase on u_i and v_i together changes nothing)
    assert cgradcheck(lambda x: (lambda u, s, vh: u @ vh)(*L.svd(x, full_matrices=False)), r)
    assert cgradcheck(lambda x: (lambda u, s, vh: u.abs())(*L.svd(x, full_matrices=False)), r)
    assert cgradcheck(lambda x: L.eigvalsh(x + x.mH), h)
    assert cgradcheck(lambda x: (lambda w, v: v.abs() * w)(*L.eigh(x + x.mH)), h)
    assert cgradcheck(lambda x: L.matrix_norm(x, 1), r)
    assert cgradcheck(lambda x: L.qr(x), r)                      # LAPACK's R has a real diagonal: no phase freedom
    assert cgradcheck(lambda x: L.qr(x), r[:2])                   # wide
    assert cgradcheck(lambda x: L.cholesky(x @ x.mH), a)                            # (Hermitian input)
    assert cgradcheck(lambda x: L.cholesky(x @ x.mH, upper=True), a)
    with pytest.raises(RuntimeError, match="mode='r'"):
        L.qr(T(r, "cpu", grad=True), mode="r").R.abs().sum().backward()


# ------------------------------------------------------------------------------ convolutions
def _conv_ref(x, w, b, stride=1, padding=0):
    """Cross-correlation of (N, C, *L) and (O, C, *K), complex128, as a sum over windows."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(padding, padding)] * nd)
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=tuple(range(2, 2 + nd)))
    win = win[(slice(None), slice(None)) + (slice(None, None, stride),) * nd]
    letters = "hwd"[:nd]
    y = np.einsum(f"nc{letters}{letters.upper()},oc{letters.upper()}->no{letters}", win, w)
    return y if b is None else y + b.reshape((-1,) + (1,) * nd)


def test_complex_convolutions(device):
    rng = np.random.default_rng(7)
    x1, w1, b1 = cn(rng, 2, 3, 7), cn(rng, 4, 3, 3), cn(rng, 4)
    close(F.conv1d(T(x1, device), T(w1, device), T(b1, device), padding=1), _conv_ref(x1, w1, b1, padding=1))
    x2, w2 = cn(rng, 1, 2, 5, 6), cn(rng, 3, 2, 3, 2)
    close(F.conv2d(T(x2, device), T(w2, device), stride=2), _conv_ref(x2, w2, None, stride=2))
    x3, w3 = cn(rng, 1, 2, 3, 4, 4), cn(rng, 2, 2, 2, 2, 2)
    close(F.conv3d(T(x3, device), T(w3, device)), _conv_ref(x3, w3, None))
    # the transposed conv is the adjoint of the conv: <conv(x, w), y> = <x, conv_transpose(y, w)> (bilinear)
    y = cn(rng, 1, 3, 2, 3)
    lhs = np.sum(_conv_ref(x2, w2, None, stride=2) * y)
    rhs = np.sum(x2 * npy(F.conv_transpose2d(T(y, device), T(w2, device), stride=2)))
    assert abs(lhs - rhs) < 1e-10
    m = ttorch.nn.Conv2d(2, 3, 3, dtype=ttorch.cfloat).to(device)
    assert m.weight.dtype is ttorch.complex64 and m.weight.imag.abs().sum().item() > 0
    out = m(ttorch.ones(1, 2, 4, 4, dtype=ttorch.cfloat, device=device))
    assert out.shape == (1, 3, 2, 2) and out.dtype is ttorch.complex64


def test_convolution_gradients():
    rng = np.random.default_rng(8)
    x, w, b = cn(rng, 1, 2, 4, 3), cn(rng, 2, 2, 2, 2), cn(rng, 2)
    assert cgradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), x, w, b)
    assert cgradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2), x[:, :, 0], w[:, :, 0])


# ------------------------------------------------------------------------------ forward-mode AD
FORWARD = [("abs", lambda z: z.abs()), ("conj", lambda z: z.conj()), ("real", lambda z: z.real * 1),
           ("angle", lambda z: z.angle()), ("exp", lambda z: z.exp()), ("mul_conj", lambda z: z * z.conj()),
           ("div", lambda z: z / (z + 3)), ("mm", lambda z: z @ z.mT), ("cumprod", lambda z: z.cumprod(1)),
           ("fft", lambda z: ttorch.fft.fft(z)), ("view_as_real", lambda z: ttorch.view_as_real(z).sum(-1)),
           ("complex", lambda z: ttorch.complex(z.real, 2 * z.imag)), ("inv", lambda z: ttorch.linalg.inv(z + 3)),
           ("slogdet", lambda z: ttorch.linalg.slogdet(z + 3)[1])]


@pytest.mark.parametrize("name,f", FORWARD, ids=[c[0] for c in FORWARD])
def test_forward_ad_complex(device, name, f):
    # the tangent is the real directional derivative, holomorphic or not: (f(z + e t) - f(z - e t)) / 2e
    rng = np.random.default_rng(9)
    z, t = cn(rng, 3, 3), cn(rng, 3, 3)
    eps = 1e-6
    want = (npy(f(T(z + eps * t, device))) - npy(f(T(z - eps * t, device)))) / (2 * eps)
    with fwAD.dual_level():
        out = f(fwAD.make_dual(T(z, device), T(t, device)))
        tangent = fwAD.unpack_dual(out).tangent
    assert tangent.dtype is out.dtype
    np.testing.assert_allclose(npy(tangent), want, rtol=1e-6, atol=1e-6)


def test_forward_ad_complex_primal_rules():
    with fwAD.dual_level():
        d = fwAD.make_dual(ttorch.tensor([1 + 1j]), ttorch.tensor([2.0]))        # real tangent: zero imag parts
        assert fwAD.unpack_dual(d).tangent.tolist() == [2 + 0j]
        with pytest.raises(NotImplementedError, match="real primal"):
            fwAD.make_dual(ttorch.zeros(1), ttorch.zeros(1, dtype=ttorch.complex64))
    assert math.isclose(abs(ttorch.tensor(1j).item()), 1.0)
