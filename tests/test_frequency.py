"""``mode`` (the most frequent value, ties to the smallest, the index of its last occurrence, as PyTorch's
cpu kernel) against a direct count, on both devices with its gradient; ``histogram`` and ``histogramdd``
against NumPy's."""
import numpy as np
import pytest

import ttorch


def npy(t):
    return t.detach().cpu().numpy()


def ref_mode(row):
    vals, counts = np.unique(row, return_counts=True)
    v = vals[np.argmax(counts)]                           # np.unique sorts: the first of the most frequent
    return v, np.flatnonzero(row == v)[-1]


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.int64])
def test_mode(device, dtype):
    r = np.random.default_rng(0)
    x = r.integers(-2, 3, (4, 3, 7))
    t = ttorch.tensor(x, dtype=dtype, device=device)
    for dim in (0, 1, 2, -1):
        got = t.mode(dim)
        moved = np.moveaxis(x, dim, -1)
        want = np.array([ref_mode(row) for row in moved.reshape(-1, moved.shape[-1])])
        np.testing.assert_array_equal(npy(got.values).ravel(), want[:, 0])
        np.testing.assert_array_equal(npy(got.indices).ravel(), want[:, 1])
        assert got.values.dtype is dtype and got.indices.dtype is ttorch.int64
    k = ttorch.mode(t, 1, keepdim=True)
    assert k.values.shape == (4, 1, 7) and k.indices.shape == (4, 1, 7)
    s = ttorch.tensor(5.0, device=device).mode()
    assert s.values.item() == 5.0 and s.indices.item() == 0


def test_mode_gradient_goes_to_the_index():
    x = ttorch.tensor([[1.0, 2.0, 2.0, 3.0], [4.0, 4.0, 0.0, 0.0]], requires_grad=True)
    x.mode(1).values.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [[0, 0, 1, 0], [0, 0, 0, 1]])


def test_histograms(device):
    r = np.random.default_rng(1)
    v = r.standard_normal(60)
    w = r.uniform(size=60)
    t = ttorch.tensor(v, device=device)
    for kw, np_kw in (({"bins": 7}, {"bins": 7}),
                      ({"bins": 5, "range": (-1.0, 1.0), "weight": ttorch.tensor(w, device=device), "density": True},
                       {"bins": 5, "range": (-1.0, 1.0), "weights": w, "density": True}),
                      ({"bins": ttorch.tensor([-3.0, -1.0, 0.0, 0.5, 3.0], dtype=ttorch.float64, device=device)},
                       {"bins": [-3.0, -1.0, 0.0, 0.5, 3.0]})):
        h = ttorch.histogram(t, **kw)
        want_h, want_e = np.histogram(v, **np_kw)
        np.testing.assert_allclose(npy(h.hist), want_h, rtol=1e-12)
        np.testing.assert_allclose(npy(h.bin_edges), want_e, rtol=1e-12)
        assert h.hist.device == t.device and h.hist.dtype is ttorch.float64
    assert ttorch.histogram(ttorch.tensor([2.0, 2.0, 2.0]), bins=3).hist.tolist() == [0.0, 3.0, 0.0]
    p = r.standard_normal((40, 2))
    h = ttorch.histogramdd(ttorch.tensor(p, device=device), bins=[3, 4])
    want_h, want_e = np.histogramdd(p, bins=[3, 4])
    np.testing.assert_allclose(npy(h.hist), want_h)
    for e, we in zip(h.bin_edges, want_e):
        np.testing.assert_allclose(npy(e), we, rtol=1e-12)
    with pytest.raises(RuntimeError, match="should have the same dtype"):
        ttorch.histogram(ttorch.tensor([1, 2]), bins=2)


def test_docstring_examples():
    import doctest
    from ttorch.ops import frequency
    res = doctest.testmod(frequency, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0
