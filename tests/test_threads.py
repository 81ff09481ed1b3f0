"""set_num_threads/get_num_threads resize NumPy's BLAS pool, the one pool under cpu ops."""
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import ttorch


def _blas_threads():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_set_and_get_num_threads():
    before = ttorch.get_num_threads()
    try:
        ttorch.set_num_threads(1)
        assert ttorch.get_num_threads() == 1
        assert all(n == 1 for n in _blas_threads())
        a = ttorch.ones(64, 64)
        np.testing.assert_allclose((a @ a).numpy(), np.full((64, 64), 64.0))
    finally:
        ttorch.set_num_threads(before)
    assert ttorch.get_num_threads() == before


def test_errors():
    with pytest.raises(RuntimeError, match="Expected number of threads to be positive, but got 0"):
        ttorch.set_num_threads(0)
    with pytest.raises(TypeError, match="must be int, not float"):
        ttorch.set_num_threads(1.5)
    assert ttorch.get_num_interop_threads() >= 1
