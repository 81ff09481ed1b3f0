"""searchsorted and bucketize (ops/search.py) against NumPy's searchsorted, PyTorch's NaN placement
and errors, on both devices. (tests/test_ops.py runs the op's samples too.)"""
import numpy as np
import pytest

import ttorch

from _helpers import to_np

DEVICES = ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else [])
R = np.random.default_rng(5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("m", [0, 1, 7, 200])
def test_against_numpy(device, m):
    # 200 boundaries over several value blocks of the simulated device's programs
    seq = np.sort(R.uniform(-1, 1, m)).astype(np.float32)
    vals = np.concatenate([R.uniform(-1.2, 1.2, 150), seq[::3]]).astype(np.float32)     # ties
    for right in (False, True):
        got = ttorch.searchsorted(ttorch.tensor(seq, device=device), ttorch.tensor(vals, device=device), right=right)
        assert got.dtype is ttorch.int64 and got.device.type == device
        np.testing.assert_array_equal(to_np(got), np.searchsorted(seq, vals, "right" if right else "left"))
    rows = np.sort(R.uniform(-1, 1, (3, m)), -1)
    v = R.uniform(-1, 1, (3, 11))
    got = ttorch.searchsorted(ttorch.tensor(rows, device=device), ttorch.tensor(v, device=device), out_int32=True)
    assert got.dtype is ttorch.int32
    np.testing.assert_array_equal(to_np(got), np.stack([np.searchsorted(a, b) for a, b in zip(rows, v)]))


@pytest.mark.parametrize("device", DEVICES)
def test_nan_scalars_sorter_and_bucketize(device):
    t = lambda a, **k: ttorch.tensor(a, device=device, **k)                         # noqa: E731
    nan = float("nan")
    seq = t([1.0, 2.0, 3.0, nan])                   # NaN sorts last (PyTorch's sort): never below a value
    assert ttorch.searchsorted(seq, t([nan, 2.5, 5.0])).tolist() == [4, 2, 4]
    assert ttorch.searchsorted(seq, t([nan, 2.5, 5.0]), right=True).tolist() == [4, 2, 4]
    s = ttorch.searchsorted(t([1.0, 2.0, 3.0]), 2.5)
    assert s.shape == () and s.item() == 2
    assert ttorch.searchsorted(t([3.0, 1.0, 2.0]), t([2.5]), sorter=t([1, 2, 0])).tolist() == [2]
    assert ttorch.searchsorted(t([1.5, 2.5]), t([1, 2, 3])).tolist() == [0, 1, 2]     # promoted to float
    assert ttorch.bucketize(t([[1, 5], [3, 9]]), t([1, 3, 5, 7, 9]), right=True).tolist() == [[1, 3], [2, 5]]
    assert ttorch.bucketize(t([[1, 5], [3, 9]]), t([1, 3, 5, 7, 9])).tolist() == [[0, 2], [1, 4]]


def test_errors():
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        ttorch.searchsorted(ttorch.zeros(3), ttorch.zeros(2), right=True, side="left")
    with pytest.raises(RuntimeError, match="first N-1 dimensions of boundaries tensor and input value tensor must"):
        ttorch.searchsorted(ttorch.zeros(2, 2), ttorch.zeros(3, 1))
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        ttorch.searchsorted(ttorch.zeros(2, 2), ttorch.zeros(1))
    with pytest.raises(RuntimeError, match=r"boundaries tensor must be 1 dimension, but got dim\(2\)"):
        ttorch.bucketize(ttorch.zeros(1), ttorch.zeros(1, 2))
    with pytest.raises(RuntimeError, match="boundary and sorter must have the same size"):
        ttorch.searchsorted(ttorch.zeros(3), ttorch.zeros(1), sorter=ttorch.tensor([0, 1]))


@pytest.mark.parametrize("device", DEVICES)
def test_bincount(device):
    x = ttorch.tensor([0, 1, 1, 3, 7, 1], device=device)
    assert ttorch.bincount(x).tolist() == np.bincount([0, 1, 1, 3, 7, 1]).tolist()
    assert x.bincount().dtype is ttorch.int64
    assert ttorch.bincount(x, minlength=10).tolist() == np.bincount([0, 1, 1, 3, 7, 1], minlength=10).tolist()
    assert ttorch.bincount(ttorch.tensor([], dtype=ttorch.int64, device=device), minlength=3).tolist() == [0, 0, 0]
    w = ttorch.tensor([0.5, 1.0, 1.0, 2.0, 3.0, -1.0], device=device, requires_grad=True)
    got = ttorch.bincount(x, w)
    assert got.dtype is ttorch.float32 and got.tolist() == [0.5, 1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0]
    got.sum().backward()
    assert w.grad.tolist() == [1.0] * 6
    assert ttorch.bincount(x, ttorch.tensor([1, 2, 3, 4, 5, 6], device=device)).dtype is ttorch.float64
    with pytest.raises(RuntimeError, match="1-d non-negative integral inputs"):
        ttorch.bincount(ttorch.tensor([-1, 2], device=device))
    with pytest.raises(RuntimeError, match="same length as input"):
        ttorch.bincount(x, ttorch.ones(3, device=device))
    with pytest.raises(RuntimeError, match="minlength should be >= 0"):
        ttorch.bincount(x, minlength=-1)
