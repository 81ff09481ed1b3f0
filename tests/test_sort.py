"""sort, argsort, msort, topk, kthvalue, unique, unique_consecutive: PyTorch's semantics (NaN
as the largest value, stable ties, errors) on both devices, against Python's stable ``sorted``
and NumPy; the merge path for rows longer than one block; gradients through the indices."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ttorch
from ttorch import _dtype as D
from ttorch.ops import sort as S

from _helpers import to_np

NAN = float("nan")
INF = float("inf")


def _key(v):
    # PyTorch's order: NaN above everything, -0.0 == 0.0
    v = float(v) if not isinstance(v, (bool, np.bool_)) else int(v)
    return (1, 0.0) if v != v else (0, v)


def _ref_sort(a, dim, descending):
    """Reference by Python's ``sorted`` (stable for ``reverse=True`` too), row by row."""
    a = np.moveaxis(np.asarray(a), dim, -1)
    idx = np.empty(a.shape, np.int64)
    for r in np.ndindex(a.shape[:-1]):
        row = a[r]
        idx[r] = sorted(range(row.shape[0]), key=lambda j: _key(row[j]), reverse=descending)
    vals = np.take_along_axis(a, idx, axis=-1)
    return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)


def _check_sort(t, dim=-1, descending=False):
    v, i = ttorch.sort(t, dim=dim, descending=descending)
    a = to_np(t)
    ev, ei = _ref_sort(a, dim, descending)
    np.testing.assert_array_equal(to_np(i), ei)
    np.testing.assert_array_equal(to_np(v).astype(np.float64), ev.astype(np.float64))
    assert v.dtype is t.dtype and i.dtype is D.int64 and v.device == t.device and i.device == t.device
    assert v.is_contiguous() and i.is_contiguous()


def _data(dtype, shape, seed=0):
    r = np.random.default_rng(seed)
    if dtype is D.bool:
        return r.integers(0, 2, size=shape).astype(bool)
    if dtype is D.uint8:
        return r.integers(0, 6, size=shape).astype(np.uint8) * 40
    if not dtype.is_floating_point:
        return r.integers(-4, 5, size=shape).astype(dtype.np) * 25
    a = r.integers(-6, 7, size=shape) / 4.0        # ties on purpose
    a[(r.random(shape) < 0.15)] = NAN
    a[(r.random(shape) < 0.1)] = INF
    a[(r.random(shape) < 0.1)] = -INF
    a[(r.random(shape) < 0.1)] = -0.0
    return a


@pytest.mark.parametrize("dtype", D.all_dtypes, ids=str)
def test_sort_all_dtypes(dtype, device):
    t = ttorch.tensor(_data(dtype, (3, 11)), dtype=dtype, device=device)
    for dim, desc in ((1, False), (0, True)):
        _check_sort(t, dim, desc)


@settings(max_examples=12, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), dim=st.integers(-3, 2), desc=st.booleans(),
       dtype=st.sampled_from([D.float32, D.bfloat16, D.int32, D.uint8]), k=st.integers(0, 9),
       seed=st.integers(0, 2 ** 16))
def test_sort_topk_property(shape, dim, desc, dtype, k, seed):
    """sort and topk agree with the stable reference for any shape, dim and direction, on every device."""
    dim = dim % len(shape)
    a = _data(dtype, tuple(shape), seed)
    k = min(k, shape[dim])
    for device in ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else []):
        t = ttorch.tensor(a, dtype=dtype, device=device)
        _check_sort(t, dim, desc)
        v, i = ttorch.topk(t, k, dim=dim, largest=desc)
        ei = _ref_sort(to_np(t), dim, desc)[1]
        np.testing.assert_array_equal(to_np(i), np.take(ei, np.arange(k), axis=dim))


def test_sort_nan_and_signed_zero(device):
    t = ttorch.tensor([NAN, 1.0, -INF, NAN, INF, 0.0, -0.0], device=device)
    v, i = ttorch.sort(t)
    assert i.tolist() == [2, 5, 6, 1, 4, 0, 3]            # -0.0 == 0.0: input order kept
    assert math.isnan(v[-1].item()) and math.isnan(v[-2].item())
    v, i = ttorch.sort(t, descending=True)
    assert i.tolist() == [0, 3, 4, 1, 5, 6, 2]            # NaN first when descending
    assert ttorch.argsort(t, descending=True, stable=True).tolist() == [0, 3, 4, 1, 5, 6, 2]


def test_sort_stable_ties(device):
    t = ttorch.tensor([[2, 1, 2, 1, 2, 0], [5, 5, 5, 5, 5, 5]], device=device)
    assert ttorch.sort(t, stable=True).indices.tolist() == [[5, 1, 3, 0, 2, 4], [0, 1, 2, 3, 4, 5]]
    assert ttorch.sort(t, descending=True).indices.tolist() == [[0, 2, 4, 1, 3, 5], [0, 1, 2, 3, 4, 5]]


def test_sort_extremes(device):
    """Keys at the ends of each integer range (the network's partner arithmetic wraps)."""
    for dtype, vals in ((D.int64, [2 ** 63 - 1, -2 ** 63, 0, -1, 2 ** 63 - 1, 1]),
                        (D.int32, [2 ** 31 - 1, -2 ** 31, 5, -2 ** 31, 0]),
                        (D.int8, [127, -128, 0, -1, 127]), (D.uint8, [255, 0, 128, 127, 255]),
                        (D.float64, [1e308, -1e308, 5e-324, -5e-324, 0.0, INF, -INF, NAN]),
                        (D.float16, [65504.0, -65504.0, 6e-8, -6e-8, NAN, INF]),
                        (D.bfloat16, [3e38, -3e38, 1e-40, NAN, -INF])):
        t = ttorch.tensor(vals, dtype=dtype, device=device)
        _check_sort(t)
        _check_sort(t, descending=True)


def test_sort_layouts(device):
    a = _data(D.float32, (4, 5, 6), seed=3)
    t = ttorch.tensor(a, device=device)
    for dim in (0, 1, 2, -1):
        _check_sort(t, dim)
    _check_sort(t.transpose(0, 2), 1, True)                  # strided input
    v, i = ttorch.sort(ttorch.tensor(2.5, device=device), 0)   # 0-dim
    assert v.shape == () and i.shape == () and v.item() == 2.5 and i.item() == 0
    for shape in ((0,), (2, 0), (0, 3)):
        v, i = ttorch.sort(ttorch.zeros(*shape, device=device), dim=-1)
        assert v.shape == shape and i.shape == shape and i.dtype is D.int64
    with pytest.raises(IndexError, match="Dimension out of range"):
        ttorch.sort(t, dim=3)


@pytest.mark.parametrize("dtype", [D.float32, D.float64, D.int16], ids=str)
def test_merge_path(dtype, device, monkeypatch):
    """Rows longer than one block: sorted in pieces, then merged (also with topk's narrowing)."""
    monkeypatch.setattr(S, "MAX_BLOCK", 4)
    monkeypatch.setattr(S, "_MERGE_BLOCK", 32)
    a = _data(dtype, (2, 37), seed=5)
    t = ttorch.tensor(a, dtype=dtype, device=device)
    _check_sort(t, 1, True)                                  # pieces of 4, five merge passes
    _check_sort(t[:, :7], 1)                                 # a last piece shorter than the rest
    v, i = ttorch.topk(t, 9, largest=False)
    ev, ei = _ref_sort(a, 1, False)
    np.testing.assert_array_equal(to_np(i), ei[:, :9])


def test_tensor_methods_and_return_types(device):
    t = ttorch.tensor([[3.0, 1.0, 2.0]], device=device)
    r = t.sort()
    values, indices = r
    assert r.values is values and r[1] is indices and indices.tolist() == [[1, 2, 0]]
    assert t.argsort(descending=True).tolist() == [[0, 2, 1]]
    assert t.topk(1).indices.tolist() == [[0]]
    assert t.kthvalue(2).values.tolist() == [2.0]
    assert ttorch.msort(t.t()).tolist() == [[1.0], [2.0], [3.0]]
    assert t.msort().tolist() == [[3.0, 1.0, 2.0]]
    assert t.unique().tolist() == [1.0, 2.0, 3.0]
    ov, oi = ttorch.empty(0, device=device), ttorch.empty(0, dtype=ttorch.int64, device=device)
    res = ttorch.sort(t, out=(ov, oi))
    assert res.values is ov and oi.tolist() == [[1, 2, 0]] and ov.tolist() == [[1.0, 2.0, 3.0]]


def test_topk(device):
    a = np.array([[1.0, 5.0, NAN, 5.0, -2.0, 3.0], [0.0, -1.0, 7.0, 7.0, 2.0, 2.0]])
    t = ttorch.tensor(a, device=device)
    v, i = ttorch.topk(t, 3)
    assert i.tolist() == [[2, 1, 3], [2, 3, 4]]
    v, i = ttorch.topk(t, 2, largest=False)
    assert i.tolist() == [[4, 0], [1, 0]] and v.tolist() == [[-2.0, 1.0], [-1.0, 0.0]]
    v, i = ttorch.topk(t, 2, dim=0)
    assert i.tolist() == [[0, 0, 0, 1, 1, 0], [1, 1, 1, 0, 0, 1]]
    assert ttorch.topk(t, 0).values.shape == (2, 0)
    assert ttorch.topk(ttorch.tensor(4.0, device=device), 1).values.item() == 4.0
    for k in (7, -1):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            ttorch.topk(t, k)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        ttorch.topk(ttorch.tensor(4.0, device=device), 2)


def test_kthvalue(device):
    a = np.array([[4.0, NAN, 1.0, 4.0, 2.0], [3.0, 3.0, 0.0, -1.0, 9.0]])
    t = ttorch.tensor(a, device=device)
    v, i = ttorch.kthvalue(t, 3)
    assert v.tolist() == [4.0, 3.0] and i.tolist() == [0, 0]
    v, i = ttorch.kthvalue(t, 5, keepdim=True)
    assert math.isnan(v[0, 0].item()) and i.tolist() == [[1], [4]]
    v, i = ttorch.kthvalue(t, 1, dim=0)
    assert v.tolist()[2:] == [0.0, -1.0, 2.0] and i.tolist()[2:] == [1, 1, 0]
    with pytest.raises(RuntimeError, match=r"kthvalue\(\): selected number k out of range for dimension 1"):
        ttorch.kthvalue(t, 6)
    with pytest.raises(RuntimeError, match="selected number k out of range"):
        ttorch.kthvalue(t, 0)
    with pytest.raises(IndexError, match="to have non-zero size"):
        ttorch.kthvalue(ttorch.zeros(2, 0, device=device), 1)


@pytest.mark.parametrize("dtype", [D.float32, D.bfloat16, D.float64, D.int64, D.uint8, D.bool], ids=str)
def test_unique_vs_numpy(dtype, device):
    a = _data(dtype, (4, 9), seed=7)
    t = ttorch.tensor(a, dtype=dtype, device=device)
    u, inv, cnt = ttorch.unique(t, return_inverse=True, return_counts=True)
    src = to_np(t)
    eu, einv, ecnt = np.unique(src, return_inverse=True, return_counts=True)   # NaNs merged (equal_nan)
    np.testing.assert_array_equal(to_np(u).astype(np.float64), eu.astype(np.float64))
    np.testing.assert_array_equal(to_np(inv), einv.reshape(src.shape))
    np.testing.assert_array_equal(to_np(cnt), ecnt)
    assert u.dtype is dtype and inv.dtype is D.int64 and cnt.dtype is D.int64 and inv.shape == t.shape
    np.testing.assert_array_equal(to_np(u[inv]).astype(np.float64), src.astype(np.float64))


def test_unique_forms(device):
    t = ttorch.tensor([2.0, -0.0, NAN, 1.0, 0.0, NAN, 2.0], device=device)
    u = ttorch.unique(t)
    assert isinstance(u, ttorch.Tensor) and u[:3].tolist() == [0.0, 1.0, 2.0] and math.isnan(u[3].item())
    assert len(u) == 4
    u, c = ttorch.unique(t, sorted=False, return_counts=True)
    assert c.tolist() == [2, 1, 2, 2]
    u, inv = ttorch.unique(ttorch.tensor(3, device=device), return_inverse=True)
    assert u.tolist() == [3] and inv.shape == () and inv.item() == 0
    u, inv, c = ttorch.unique(ttorch.zeros(0, 2, device=device), return_inverse=True, return_counts=True)
    assert u.shape == (0,) and inv.shape == (0, 2) and c.shape == (0,)


def _ref_consecutive(a):
    a = np.asarray(a).reshape(-1)
    first = np.ones(a.size, bool)
    first[1:] = a[1:] != a[:-1]                   # NaN != NaN: each NaN its own run
    starts = np.flatnonzero(first)
    return a[first], np.cumsum(first) - 1, np.diff(np.append(starts, a.size))


@pytest.mark.parametrize("dtype", [D.float32, D.float16, D.int32, D.bool], ids=str)
def test_unique_consecutive(dtype, device):
    a = _data(dtype, (3, 7), seed=11)
    a = np.repeat(a, 2, axis=1)
    t = ttorch.tensor(a, dtype=dtype, device=device)
    u, inv, c = ttorch.unique_consecutive(t, return_inverse=True, return_counts=True)
    eu, einv, ec = _ref_consecutive(to_np(t))
    np.testing.assert_array_equal(to_np(u).astype(np.float64), eu.astype(np.float64))
    np.testing.assert_array_equal(to_np(inv), einv.reshape(a.shape))
    np.testing.assert_array_equal(to_np(c), ec)
    t = ttorch.tensor([1.0, NAN, NAN, 1.0, 1.0], device=device)
    assert ttorch.unique_consecutive(t, return_counts=True)[1].tolist() == [1, 1, 1, 2]


def test_unique_dim():
    a = np.array([[1, 2, 1, 2], [3, 0, 3, 1], [1, 2, 1, 2]])
    for dim in (0, 1, -1):
        u, inv, c = ttorch.unique(ttorch.tensor(a), dim=dim, return_inverse=True, return_counts=True)
        eu, einv, ec = np.unique(a, axis=dim % 2, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(u.numpy(), eu)
        np.testing.assert_array_equal(inv.numpy(), einv.reshape(-1))
        np.testing.assert_array_equal(c.numpy(), ec)
    u, c = ttorch.unique_consecutive(ttorch.tensor(a), dim=0, return_counts=True)
    assert u.tolist() == a.tolist() and c.tolist() == [1, 1, 1]
    if ttorch.cuda.is_available():
        with pytest.raises(NotImplementedError, match="dim"):
            ttorch.unique(ttorch.tensor(a, device="cuda"), dim=0)


def test_gradients(device):
    a = np.array([[0.5, -1.0, 2.0, 0.25], [3.0, 1.0, -2.0, 0.0]])
    w = ttorch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]], dtype=D.float64, device=device)
    x = ttorch.tensor(a, dtype=D.float64, device=device, requires_grad=True)
    (ttorch.sort(x, descending=True).values * w).sum().backward()
    # descending order of row 0: indices 2, 0, 3, 1; of row 1: 0, 1, 3, 2
    assert x.grad.tolist() == [[2.0, 4.0, 1.0, 3.0], [5.0, 6.0, 8.0, 7.0]]
    x.grad = None
    ttorch.topk(x, 2, dim=1, largest=False).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    x.grad = None
    ttorch.kthvalue(x, 2, dim=0).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]]
    # the indices carry no gradient; argsort and unique are not differentiable
    s = ttorch.sort(x)
    assert s.indices.grad_fn is None and not s.indices.requires_grad
    assert not ttorch.argsort(x).requires_grad and not ttorch.unique(x).requires_grad


def test_double_backward(device):
    """The values' gradient is a scatter; differentiating it again (w.r.t. the incoming gradient)
    is a gather through the same indices."""
    x = ttorch.tensor([0.3, -1.2, 2.0, 0.7], dtype=D.float64, device=device, requires_grad=True)
    v = ttorch.tensor([1.0, 2.0, 3.0, 4.0], dtype=D.float64, device=device, requires_grad=True)
    y = ttorch.sort(x).values                       # order: indices 1, 0, 3, 2
    (gx,) = ttorch.autograd.grad(y, x, grad_outputs=v, create_graph=True)
    assert gx.tolist() == [2.0, 1.0, 4.0, 3.0]
    z = ttorch.tensor([10.0, 20.0, 30.0, 40.0], dtype=D.float64, device=device)
    (gx * z).sum().backward()
    assert v.grad.tolist() == [20.0, 10.0, 40.0, 30.0]


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if ttorch.cuda.is_available() else []))
def test_median_and_nanmedian(device):
    # the lower median (an even count), its index; a NaN makes median NaN (its first NaN's index),
    # nanmedian skips NaN (an all-NaN row: NaN)
    nan = float("nan")
    x = ttorch.tensor([[3.0, 1.0, 2.0, 4.0], [1.0, nan, 0.0, 5.0], [nan, 2.0, nan, 1.0]], device=device)
    m = ttorch.median(x, 1)
    assert m.indices.tolist() == [2, 1, 0] and m.values[0].item() == 2.0 and np.isnan(to_np(m.values[1:])).all()
    n = ttorch.nanmedian(x, 1)
    assert n.values.tolist() == [2.0, 1.0, 1.0] and n.indices.tolist() == [2, 0, 3]
    assert np.isnan(ttorch.nanmedian(ttorch.full((3,), nan, device=device)).item())
    assert ttorch.median(x[0]).item() == 2.0 and np.isnan(ttorch.median(x).item())
    assert ttorch.nanmedian(x).item() == 2.0                       # the lower middle of the 9 non-NaN values
    k = ttorch.median(ttorch.tensor([[3, 1, 2], [1, 5, 0]], device=device), 0, keepdim=True)
    assert k.values.tolist() == [[1, 1, 0]] and k.indices.tolist() == [[1, 0, 1]]
    a = ttorch.tensor([[0.3, -1.0, 2.0, 0.7, 1.5]], dtype=ttorch.float64, device=device, requires_grad=True)
    ttorch.median(a, 1).values.sum().backward()
    assert a.grad.tolist() == [[0.0, 0.0, 0.0, 1.0, 0.0]]
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        ttorch.median(ttorch.zeros(2, 0, device=device), 1)
    assert np.isnan(ttorch.median(ttorch.zeros(0, device=device)).item())
