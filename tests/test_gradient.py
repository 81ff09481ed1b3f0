"""``ttorch.gradient`` against ``numpy.gradient`` (whose formulas PyTorch's follow): even and per-dim
spacings, coordinates, edge orders 1 and 2, a subset of dims; its gradient; both devices; the errors."""
import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck


def npy(t):
    return t.detach().cpu().numpy()


def test_gradient_against_numpy(device):
    r = np.random.default_rng(0)
    a = r.standard_normal((5, 6, 4))
    t = ttorch.tensor(a, device=device)
    coords = [np.cumsum(r.uniform(0.5, 2, n)) for n in a.shape]
    for kw, np_args, np_kw in (({}, (), {}), ({"spacing": 2.0}, (2.0,), {}),
                               ({"spacing": [1.0, 0.5, 3.0]}, (1.0, 0.5, 3.0), {}),
                               ({"edge_order": 2}, (), {"edge_order": 2}),
                               ({"spacing": [ttorch.tensor(c, device=device) for c in coords]}, tuple(coords), {}),
                               ({"spacing": [ttorch.tensor(c, device=device) for c in coords], "edge_order": 2},
                                tuple(coords), {"edge_order": 2})):
        for got, want in zip(ttorch.gradient(t, **kw), np.gradient(a, *np_args, **np_kw)):
            np.testing.assert_allclose(npy(got), want, rtol=1e-12, atol=1e-12)
    got = ttorch.gradient(t, dim=(2, 0), spacing=[0.5, 2.0])
    want = np.gradient(a, 0.5, 2.0, axis=(2, 0))
    for g, w in zip(got, want):
        np.testing.assert_allclose(npy(g), w, rtol=1e-12)
    assert len(ttorch.gradient(t, dim=1)) == 1


def test_gradient_errors_and_autograd():
    with pytest.raises(RuntimeError, match="expected each dimension size to be at least edge_order\\+1"):
        ttorch.gradient(ttorch.tensor([1.0, 2.0]), edge_order=2)
    with pytest.raises(RuntimeError, match="a list of length equal to 'self.dim\\(\\) = 2', since dim argument was "
                                           "not given, but got a list of length 3"):
        ttorch.gradient(ttorch.ones(3, 3), spacing=[1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="only supports edge_order=1 and edge_order=2"):
        ttorch.gradient(ttorch.ones(4), edge_order=3)
    x = ttorch.tensor(np.random.default_rng(1).standard_normal((4, 5)), requires_grad=True)
    c = ttorch.tensor([0.0, 0.5, 2.0, 2.5, 4.0], dtype=ttorch.float64)
    assert gradcheck(lambda v: ttorch.gradient(v, spacing=[1.5, c], edge_order=2), (x,))


def test_docstring_examples():
    import doctest
    from ttorch.ops import differences
    res = doctest.testmod(differences)
    assert res.failed == 0 and res.attempted > 0
