"""torch.special's orthogonal polynomials against their explicit three-term recurrences in float64 NumPy,
closed forms, PyTorch's special cases (endpoints, negative and fractional n, Hermite's limit), no
gradient, both devices."""
import numpy as np
import pytest

import ttorch
from ttorch import special

X = np.array([-1.3, -1.0, -0.7, -0.2, 0.0, 0.3, 0.55, 0.9, 1.0, 1.6])


def _rec(p0, p1, step, x, n):
    """P_n from P_0, P_1 and ``step(k, x, P_k, P_{k-1}) = P_{k+1}``."""
    p, q = p0(x), p1(x)
    if n == 0:
        return p
    for k in range(1, n):
        p, q = q, step(k, x, q, p)
    return q


one = np.ones_like
REFS = {
    "chebyshev_polynomial_t": (one, lambda x: x, lambda k, x, q, p: 2 * x * q - p),
    "chebyshev_polynomial_u": (one, lambda x: 2 * x, lambda k, x, q, p: 2 * x * q - p),
    "chebyshev_polynomial_v": (one, lambda x: 2 * x - 1, lambda k, x, q, p: 2 * x * q - p),
    "chebyshev_polynomial_w": (one, lambda x: 2 * x + 1, lambda k, x, q, p: 2 * x * q - p),
    "hermite_polynomial_h": (one, lambda x: 2 * x, lambda k, x, q, p: 2 * x * q - 2 * k * p),
    "hermite_polynomial_he": (one, lambda x: x, lambda k, x, q, p: x * q - k * p),
    "laguerre_polynomial_l": (one, lambda x: 1 - x, lambda k, x, q, p: ((2 * k + 1 - x) * q - k * p) / (k + 1)),
    "legendre_polynomial_p": (one, lambda x: x, lambda k, x, q, p: ((2 * k + 1) * x * q - k * p) / (k + 1)),
}


def _ref(name, x, n):
    if name.startswith("shifted_"):
        return _ref(name[8:], 2 * x - 1, n)
    return _rec(*REFS[name], x, n)


NAMES = sorted(REFS) + ["shifted_" + n for n in sorted(REFS) if n.startswith("cheb")]


@pytest.mark.parametrize("name", NAMES)
def test_matches_recurrence(name):
    f = getattr(special, name)
    x = (X + 1) / 2 if name.startswith("shifted_") else X
    for n in [0, 1, 2, 3, 5, 7, 9, 12, 20]:
        got = f(ttorch.tensor(x, dtype=ttorch.float64), n).numpy()
        want = _ref(name, x, n)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(want).max()), err_msg=f"n={n}")


def test_closed_forms():
    t = np.linspace(0.1, 3.0, 13)
    n = ttorch.tensor(np.arange(13.0), dtype=ttorch.float64)
    c = ttorch.tensor(np.cos(t), dtype=ttorch.float64)
    np.testing.assert_allclose(special.chebyshev_polynomial_t(c, n).numpy(), np.cos(np.arange(13) * t), atol=1e-12)
    np.testing.assert_allclose(special.chebyshev_polynomial_u(c, n).numpy(),
                               np.sin((np.arange(13) + 1) * t) / np.sin(t), atol=1e-11)
    assert special.legendre_polynomial_p(ttorch.tensor([0.5], dtype=ttorch.float64), 2).item() == pytest.approx(-0.125)


def test_special_cases():
    x = ttorch.tensor([-1.0, 1.0, 0.3, 0.3, 0.3, 0.3], dtype=ttorch.float64)
    n = ttorch.tensor([3.0, 4.0, -2.0, 2.7, np.nan, np.inf], dtype=ttorch.float64)
    assert special.chebyshev_polynomial_u(x, n).tolist() == [-4.0, 5.0, 0.0, 2 * 0.3 * 0.6 - 1, 0.0, 0.0]
    assert special.chebyshev_polynomial_v(x, n).tolist()[:2] == [-7.0, 1.0]
    assert special.chebyshev_polynomial_w(x, n).tolist()[:2] == [-1.0, 9.0]
    assert special.laguerre_polynomial_l(ttorch.tensor([0.0]), 5).item() == 1.0
    h = special.hermite_polynomial_h(ttorch.tensor([0.1, 0.1]), ttorch.tensor([3.0, 129.0])).tolist()
    assert np.isfinite(h[0]) and np.isnan(h[1])                      # PyTorch's float32 limit: n = 128
    assert np.isfinite(special.hermite_polynomial_h(ttorch.tensor([0.1], dtype=ttorch.float64), 129).item())
    assert special.chebyshev_polynomial_t(ttorch.tensor([3.0]), 200).isnan().item()   # overflow, then NaN


def test_no_gradient_and_dtypes():
    x = ttorch.tensor([0.3, 0.7], requires_grad=True)
    y = special.legendre_polynomial_p(x, 3)
    assert y.grad_fn is None and not y.requires_grad and y.dtype is ttorch.float32
    assert special.chebyshev_polynomial_t(0.5, ttorch.tensor([3, 4])).dtype is ttorch.float32
    with pytest.raises(RuntimeError, match="not implemented for 'Half'"):
        special.hermite_polynomial_h(ttorch.ones(2, dtype=ttorch.float16), 2)


@pytest.mark.parametrize("name", NAMES)
def test_devices(name, device):
    f = getattr(special, name)
    x = np.array([-1.0, -0.4, 0.0, 0.2, 0.5, 1.0, 1.5])
    n = np.array([3.0, 9.0, 5.0, 12.0, 4.0, 7.0, 6.0])
    got = f(ttorch.tensor(x, device=device), ttorch.tensor(n, device=device)).cpu().numpy()
    want = f(ttorch.tensor(x, dtype=ttorch.float64), ttorch.tensor(n, dtype=ttorch.float64)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())
