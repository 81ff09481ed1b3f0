import numpy as np
import pytest

import ttorch


def T(v, device, dtype=ttorch.float32):
    return ttorch.tensor(v, dtype=dtype, device=device)


def test_isclose_matches_numpy(device):
    a = [1.0, 1.0, float("inf"), float("-inf"), float("nan"), 0.0, 1e-9, 100.0]
    b = [1.0 + 1e-6, 1.1, float("inf"), float("inf"), float("nan"), 1e-9, 0.0, 100.001]
    for kw in ({}, {"rtol": 1e-3}, {"atol": 1e-6, "equal_nan": True}):
        got = ttorch.isclose(T(a, device, ttorch.float64), T(b, device, ttorch.float64), **kw).cpu().numpy()
        np.testing.assert_array_equal(got, np.isclose(a, b, **kw))
    assert T(a, device).isclose(T(b, device)).dtype is ttorch.bool


def test_allclose_equal(device):
    a = T([[1.0, 2.0], [3.0, 4.0]], device)
    assert ttorch.allclose(a, a + 1e-7) and not ttorch.allclose(a, a + 1e-3)
    assert a.allclose(a + 1e-3, atol=1e-2)
    assert ttorch.equal(a, a.clone()) and not ttorch.equal(a, a.t()) and not ttorch.equal(a, a[0])
    assert ttorch.isclose(T([1, 2], device, ttorch.int64), T([1, 3], device, ttorch.int64)).tolist() == [True, False]


def test_isclose_errors():
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        ttorch.isclose(ttorch.ones(2), ttorch.ones(2, dtype=ttorch.float64))
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        ttorch.isclose(ttorch.ones(2), ttorch.ones(2), rtol=-1)
