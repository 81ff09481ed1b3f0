"""Movement (cat, stack, flip, roll, repeat) and gather/scatter ops: PyTorch semantics the
generated tests can't express: errors, duplicate indices, mixed dtypes, legacy empty tensors,
multi-dim flips and rolls, one_hot, in-place forms, high-rank strided index kernels."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ttorch
from ttorch.ops.gather import one_hot

from _helpers import to_np

HAS_CUDA = ttorch.cuda.is_available()


def T(data, device, dtype=None, requires_grad=False):
    return ttorch.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


# ----------------------------------------------------------------------------- gather
def test_gather_values(device):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 3, 3], [1, 0, 2]])
    got = ttorch.gather(T(x, device), 1, T(idx, device))
    assert got.device.type == device
    np.testing.assert_array_equal(to_np(got), np.take_along_axis(x[:2], idx, 1))
    # index longer than input along dim, repeated rows
    idx0 = np.array([[2, 0, 1, 2], [0, 0, 0, 0], [2, 2, 2, 2], [1, 1, 1, 1]])
    np.testing.assert_array_equal(to_np(T(x, device).gather(0, T(idx0, device))), np.take_along_axis(x, idx0, 0))


def test_gather_errors():
    x = ttorch.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 4"):
        ttorch.gather(x, 1, ttorch.tensor([[5]]))
    with pytest.raises(RuntimeError, match="out of bounds"):   # PyTorch raises RuntimeError here: both hold
        ttorch.gather(x, 1, ttorch.tensor([[-1]]))
    with pytest.raises(RuntimeError, match="gather.*int32/int64"):
        ttorch.gather(x, 1, ttorch.tensor([[0]], dtype=ttorch.int16))
    # int32 indices are PyTorch's too, and an empty index of any dtype and rank passes
    assert ttorch.gather(x + 1, 1, ttorch.tensor([[3]], dtype=ttorch.int32)).tolist() == [[1.0]]
    assert ttorch.zeros(3).scatter(0, ttorch.tensor([1], dtype=ttorch.int32), 2.0).tolist() == [0.0, 2.0, 0.0]
    assert ttorch.gather(x, 1, ttorch.zeros(2, 0, dtype=ttorch.uint8)).shape == (2, 0)
    assert ttorch.take_along_dim(ttorch.arange(5.0), ttorch.tensor([-1, -5])).tolist() == [4.0, 0.0]
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        ttorch.gather(x, 1, ttorch.tensor([0]))
    with pytest.raises(RuntimeError, match=r"Size does not match at dimension 0 expected index \[4, 1\]"):
        ttorch.gather(x, 1, ttorch.zeros(4, 1, dtype=ttorch.int64))
    with pytest.raises(IndexError, match="Dimension out of range"):
        ttorch.gather(x, 2, ttorch.zeros(1, 1, dtype=ttorch.int64))


def test_gather_backward_accumulates_duplicates(device):
    x = T([1.0, 2.0, 3.0], device, requires_grad=True)
    y = ttorch.gather(x, 0, T([2, 2, 0, 2], device))
    (y * T([1.0, 2.0, 3.0, 4.0], device)).sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 7.0]


def test_take_along_dim(device):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0], [3], [1]])
    got = ttorch.take_along_dim(T(x, device), T(idx, device), dim=1)
    np.testing.assert_array_equal(to_np(got), np.take_along_axis(x, idx, 1))
    got = ttorch.take_along_dim(T(x, device), T(np.array([[1, 2, 0, 2]]), device), dim=0)  # broadcast rows
    np.testing.assert_array_equal(to_np(got), np.take_along_axis(x, np.array([[1, 2, 0, 2]]), 0))
    np.testing.assert_array_equal(to_np(ttorch.take_along_dim(T(x, device), T([11, 0], device))), [11.0, 0.0])


# ----------------------------------------------------------------------------- scatter family
def test_scatter_add_duplicates_accumulate(device):
    idx = T([0, 0, 0, 2, 2, 0], device)
    for dt in (ttorch.float32, ttorch.float16, ttorch.int64, ttorch.int32, ttorch.float64):
        got = ttorch.zeros(3, dtype=dt, device=device).scatter_add(0, idx, ttorch.ones(6, dtype=dt, device=device))
        assert got.dtype is dt
        assert got.tolist() == [4, 0, 2]
    x = ttorch.zeros(2, 3, device=device)
    got = x.scatter_add(1, T([[1, 1, 1, 1], [2, 0, 2, 2]], device), ttorch.ones(2, 4, device=device))
    assert got.tolist() == [[0, 4, 0], [1, 0, 3]]
    assert x.tolist() == [[0] * 3] * 2   # out of place


def test_index_add_duplicates_accumulate(device):
    x = ttorch.ones(4, 2, device=device)
    src = T([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device)
    got = x.index_add(0, T([3, 3, 0], device), src, alpha=2)
    assert got.tolist() == [[11, 13], [1, 1], [1, 1], [9, 13]]
    got = ttorch.zeros(5, dtype=ttorch.int64, device=device).index_add(
        0, T([1, 1, 1], device, ttorch.int32), T([1, 2, 3], device))
    assert got.tolist() == [0, 6, 0, 0, 0]


def test_scatter_value_and_reduce(device):
    x = ttorch.ones(2, 4, device=device)
    idx = T([[1, 3], [0, 0]], device)
    assert x.scatter(1, idx, 7.0).tolist() == [[1, 7, 1, 7], [7, 1, 1, 1]]
    assert x.scatter(1, idx, value=-2).tolist() == [[1, -2, 1, -2], [-2, 1, 1, 1]]
    src = T([[2.0, 3.0], [4.0, 5.0]], device)
    assert x.scatter(1, idx, src, reduce="add").tolist() == [[1, 3, 1, 4], [10, 1, 1, 1]]
    assert x.scatter(1, idx, src, reduce="multiply").tolist() == [[1, 2, 1, 3], [20, 1, 1, 1]]
    # src larger than index: only its leading part is read
    big = T(np.arange(12.0).reshape(3, 4), device, ttorch.float32)
    assert ttorch.zeros(2, 3, device=device).scatter(0, T([[1, 0]], device), big).tolist() == [[0, 1, 0], [0, 0, 0]]


def test_scatter_errors():
    x = ttorch.zeros(3)
    with pytest.raises(IndexError, match="scatter.*index 3 is out of bounds for dimension 0 with size 3"):
        x.scatter(0, ttorch.tensor([3]), 1.0)
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, ttorch.tensor([0]), ttorch.ones(1, dtype=ttorch.float64))
    with pytest.raises(RuntimeError, match="reduce argument must be either add or multiply"):
        x.scatter(0, ttorch.tensor([0]), 1.0, reduce="max")
    with pytest.raises(RuntimeError, match=r"Expected index \[2, 2\] to be no larger than self \[2, 1\]"):
        ttorch.zeros(2, 1).scatter(0, ttorch.zeros(2, 2, dtype=ttorch.int64), 1.0)
    with pytest.raises(RuntimeError, match="no larger size than src"):
        ttorch.zeros(3).scatter_add(0, ttorch.zeros(3, dtype=ttorch.int64), ttorch.ones(2))
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean, amax or amin"):
        x.scatter_reduce(0, ttorch.tensor([0]), ttorch.ones(1), "max")
    # an empty index is a no-op, whatever its shape
    assert x.scatter(0, ttorch.zeros(0, 5, dtype=ttorch.int64), 1.0).tolist() == [0, 0, 0]


def test_scatter_reduce(device):
    x = T([1.0, 10.0, -1.0, 5.0], device)
    idx = T([1, 1, 2, 2, 2], device)
    src = T([3.0, 12.0, -4.0, 2.0, 0.5], device)
    sr = lambda red, inc: x.scatter_reduce(0, idx, src, red, include_self=inc).tolist()
    assert sr("sum", True) == [1, 25, -2.5, 5]
    assert sr("sum", False) == [1, 15, -1.5, 5]
    assert sr("prod", True) == [1, 360, 4, 5]
    assert sr("amax", True) == [1, 12, 2, 5]
    assert sr("amin", False) == [1, 3, -4, 5]
    assert sr("mean", True) == pytest.approx([1, 25 / 3, -2.5 / 4, 5])
    assert sr("mean", False) == [1, 7.5, -0.5, 5]
    # integer means floor, as in PyTorch
    xi = T([0, 0], device)
    got = xi.scatter_reduce(0, T([0, 0, 1, 1], device), T([-3, -4, 3, 4], device), "mean", include_self=False)
    assert got.tolist() == [-4, 3]
    # NaN wins in amax/amin
    got = T([0.0, 0.0], device).scatter_reduce(0, T([0, 0], device), T([float("nan"), 1.0], device), "amax")
    assert np.isnan(got.tolist()[0]) and got.tolist()[1] == 0


def test_scatter_reduce_amax_gradient_shared_between_ties(device):
    x = T([1.0, 4.0], device, requires_grad=True)
    src = T([4.0, 2.0, 4.0], device, requires_grad=True)
    y = x.scatter_reduce(0, T([1, 1, 1], device), src, "amax")
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([1.0, 1 / 3])
    assert src.grad.tolist() == pytest.approx([1 / 3, 0.0, 1 / 3])


def test_scatter_backward(device):
    x = T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device, requires_grad=True)
    src = T([[7.0, 8.0, 9.0], [1.0, 1.0, 1.0]], device, requires_grad=True)   # larger than the index
    y = x.scatter(1, T([[2, 0]], device), src)
    (y * T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 0.0], [4.0, 5.0, 6.0]]
    assert src.grad.tolist() == [[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    s2 = T([1.0, 2.0, 3.0], device, requires_grad=True)
    ttorch.zeros(2, device=device).scatter_add(0, T([1], device), s2).sum().backward()
    assert s2.grad.tolist() == [1.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- index_*
def test_index_select(device):
    x = np.arange(12.0).reshape(3, 4)
    for dt in (ttorch.int64, ttorch.int32):
        got = ttorch.index_select(T(x, device), 1, T([3, 0, 3], device, dt))
        np.testing.assert_array_equal(to_np(got), x[:, [3, 0, 3]])
    assert T(x, device).index_select(0, T(1, device)).shape == (1, 4)
    with pytest.raises(IndexError, match="index out of range in self"):
        ttorch.index_select(ttorch.zeros(3, 4), 0, ttorch.tensor([3]))
    with pytest.raises(IndexError, match="index out of range in self"):
        ttorch.index_select(ttorch.zeros(3, 4), 0, ttorch.tensor([-1]))
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        ttorch.index_select(ttorch.zeros(3, 4), 0, ttorch.zeros(1, 1, dtype=ttorch.int64))
    with pytest.raises(RuntimeError, match="int64 or int32"):
        ttorch.index_select(ttorch.zeros(3, 4), 0, ttorch.zeros(1))


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_cuda_out_of_range_index_raises_at_the_next_sync():
    # cuda checks no index on the host (that would sync): the kernels mask the access, count it in a
    # device-check slot, and the next sync raises (as PyTorch's device asserts surface), once; the same
    # for indexing with tensors
    from ttorch.ops.gather import IndexOutOfBounds
    x = ttorch.arange(3.0, device="cuda")
    i, ones = ttorch.tensor([1, 7], device="cuda"), ttorch.ones(2, device="cuda")
    cases = [(lambda: x.index_select(0, i), 7), (lambda: x.gather(0, ttorch.tensor([-1, 0], device="cuda")), -1),
             (lambda: x.scatter_add(0, ttorch.tensor([9, 0], device="cuda"), ones), 9),
             (lambda: x.index_add(0, i, ones), 7),
             (lambda: x.index_fill(0, ttorch.tensor([-4], device="cuda"), 5.0), -4),
             (lambda: ttorch.nn.functional.embedding(ttorch.tensor([[3]], device="cuda"), x.view(3, 1)), 3),
             (lambda: ttorch.nn.functional.one_hot(ttorch.tensor([0, 2], device="cuda"), 2), 2),
             (lambda: x[ttorch.tensor([4], device="cuda")], 4),                          # indexing with tensors
             (lambda: x.clone().index_put_((ttorch.tensor([-5], device="cuda"),), ttorch.ones(1, device="cuda")), -5)]
    for f, bad in cases:
        f()
        with pytest.raises(IndexOutOfBounds, match=f"index {bad} is out of bounds") as e:
            ttorch.cuda.synchronize()
        assert isinstance(e.value, IndexError) and isinstance(e.value, RuntimeError)
        ttorch.cuda.synchronize()                      # reported once
    assert x.index_select(0, ttorch.tensor([2, 0, -3 + 3], device="cuda")).tolist() == [2.0, 0.0, 0.0]
    x.index_fill(0, ttorch.tensor([-1], device="cuda"), 5.0)      # index_fill wraps negative indices
    assert x[ttorch.tensor([-1, 0], device="cuda")].tolist() == [2.0, 0.0]      # so does indexing
    ttorch.cuda.synchronize()


def test_index_add_copy_fill_errors():
    x = ttorch.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"Number of indices \(2\) should be equal to source.size\(dim\) \(3\)"):
        x.index_add(0, ttorch.tensor([0, 1]), ttorch.ones(3, 4))
    with pytest.raises(RuntimeError, match="source tensor shape must match self tensor shape"):
        x.index_add(0, ttorch.tensor([0]), ttorch.ones(1, 5))
    with pytest.raises(RuntimeError, match="must have the same scalar type"):
        x.index_add(0, ttorch.tensor([0]), ttorch.ones(1, 4, dtype=ttorch.float64))
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_add(0, ttorch.tensor([3]), ttorch.ones(1, 4))
    with pytest.raises(IndexError, match="index_copy.*index 3 is out of bounds for dimension 0 with size 3"):
        x.index_copy(0, ttorch.tensor([3]), ttorch.ones(1, 4))
    with pytest.raises(RuntimeError, match="index_copy.*int64"):
        x.index_copy(0, ttorch.tensor([0], dtype=ttorch.int32), ttorch.ones(1, 4))
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0 with size 3"):
        x.index_fill(0, ttorch.tensor([-4]), 1.0)


def test_index_copy_and_fill(device):
    x = ttorch.zeros(3, 4, device=device)
    got = x.index_copy(1, T([3, 0], device), T([[1.0, 2.0]] * 3, device))
    assert got.tolist() == [[2, 0, 0, 1]] * 3
    assert x.index_fill(1, T([-1, 1], device), 5).tolist() == [[0, 5, 0, 5]] * 3
    assert x.index_fill(0, T(2, device), ttorch.tensor(1.5)).tolist() == [[0] * 4] * 2 + [[1.5] * 4]
    assert ttorch.zeros(3, dtype=ttorch.bool, device=device).index_fill(0, T([1], device), True).tolist() == \
        [False, True, False]
    # a float64 value fp32 can't hold exactly keeps its precision on cuda too
    v = 1.0 + 2.0 ** -40
    assert ttorch.zeros(2, dtype=ttorch.float64, device=device).index_fill(0, T([0], device), v).tolist() == [v, 0]


def test_inplace_forms(device):
    x = ttorch.zeros(3, device=device)
    v = x._version
    assert x.scatter_(0, T([1], device), 2.0) is x
    x.scatter_add_(0, T([1, 2], device), T([1.0, 1.0], device))
    x.index_add_(0, T([0], device), T([4.0], device))
    x.index_fill_(0, T([2], device), -1.0)
    x.index_copy_(0, T([0], device), T([9.0], device))
    x.scatter_reduce_(0, T([1, 1], device), T([8.0, 1.0], device), "amax")
    assert x.tolist() == [9.0, 8.0, -1.0]
    assert x._version > v
    leaf = ttorch.zeros(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.index_fill_(0, T([0], device), 1.0)


# ----------------------------------------------------------------------------- one_hot
def test_one_hot(device):
    got = one_hot(T([0, 2, 1], device))
    assert got.dtype is ttorch.int64 and got.device.type == device
    assert got.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    got = ttorch.one_hot(T([[3], [0]], device), num_classes=5)
    assert got.shape == (2, 1, 5) and got.tolist() == [[[0, 0, 0, 1, 0]], [[1, 0, 0, 0, 0]]]
    assert one_hot(T(1, device), 2).tolist() == [0, 1]
    assert one_hot(ttorch.zeros(0, 2, dtype=ttorch.int64, device=device), 4).shape == (0, 2, 4)


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="LongTensor"):
        one_hot(ttorch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="non-negative"):
        one_hot(ttorch.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        one_hot(ttorch.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes from empty tensor"):
        one_hot(ttorch.zeros(0, dtype=ttorch.int64))


# ----------------------------------------------------------------------------- cat, stack
def test_cat_mixed_dtypes(device):
    a = T([[1, 2]], device)                       # int64
    b = T([[0.5, 1.5]], device, ttorch.float32)
    c = T([[True, False]], device)
    got = ttorch.cat([a, b, c])
    assert got.dtype is ttorch.float32 and got.tolist() == [[1, 2], [0.5, 1.5], [1, 0]]
    got = ttorch.cat([c, T([[7, 8]], device, ttorch.int32)], dim=1)
    assert got.dtype is ttorch.int32 and got.tolist() == [[1, 0, 7, 8]]
    got = ttorch.cat([T([1.0], device, ttorch.float16), T([2.0], device, ttorch.bfloat16)])
    assert got.dtype is ttorch.float32
    assert ttorch.stack([a[0], b[0]]).dtype is ttorch.float32


def test_cat_skips_legacy_empty(device):
    x = T(np.arange(6.0).reshape(2, 3), device)
    e = ttorch.zeros(0, device=device)
    got = ttorch.cat([e, x, e, x], dim=1)
    assert got.shape == (2, 6)
    got = ttorch.cat([e, x, e], dim=-1)
    assert got.tolist() == x.tolist()
    assert ttorch.cat([e, e]).shape == (0,)
    # the skipped tensor still takes part in type promotion
    assert ttorch.cat([ttorch.zeros(0, dtype=ttorch.float64, device=device), x]).dtype is ttorch.float64
    # (0, 3) is not legacy: it must match
    assert ttorch.cat([ttorch.zeros(0, 3, device=device), x]).shape == (2, 3)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        ttorch.cat([ttorch.zeros(0, 2, device=device), x])
    # gradients: the legacy empty input gets an empty gradient
    e2 = ttorch.zeros(0, device=device, requires_grad=True)
    xg = x.detach().requires_grad_()
    ttorch.cat([xg, e2, xg * 2], dim=0).sum().backward()
    assert xg.grad.tolist() == [[3.0] * 3] * 2 and e2.grad.shape == (0,)


def test_cat_stack_errors(device):
    x = ttorch.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="non-empty list"):
        ttorch.cat([])
    with pytest.raises(RuntimeError, match=r"zero-dimensional tensor \(at position 1\)"):
        ttorch.cat([x, ttorch.zeros((), device=device)])
    with pytest.raises(RuntimeError, match=r"Expected size 3 but got size 4 for tensor number 1.*\[2, 3\] and "
                                           r"\[2, 4\]"):
        ttorch.cat([x, ttorch.zeros(2, 4, device=device)])
    with pytest.raises(RuntimeError, match="same number of dimensions: got 2 and 1"):
        ttorch.cat([x, ttorch.zeros(3, device=device)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        ttorch.cat([x, x], dim=2)
    with pytest.raises(TypeError, match="tuple of Tensors"):
        ttorch.cat(x)
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 "
                                           r"and \[3, 2\] at entry 1"):
        ttorch.stack([x, x.t()])
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        ttorch.stack([])
    if HAS_CUDA:
        other = "cpu" if device == "cuda" else "cuda"
        with pytest.raises(RuntimeError, match="same device"):
            ttorch.cat([x, ttorch.zeros(2, 3, device=other)])


def test_stack_hstack_vstack(device):
    a, b = T([1.0, 2.0], device), T([3.0, 4.0], device)
    assert ttorch.stack([a, b], dim=-1).tolist() == [[1, 3], [2, 4]]
    assert ttorch.hstack([a, b]).tolist() == [1, 2, 3, 4]
    assert ttorch.vstack([a, b]).tolist() == [[1, 2], [3, 4]]
    assert ttorch.hstack([a.reshape(2, 1), b.reshape(2, 1)]).tolist() == [[1, 3], [2, 4]]
    assert ttorch.dstack([a, b]).shape == (1, 2, 2)
    ag = a.detach().requires_grad_()
    (ttorch.stack([ag, ag * 3], dim=1) * T([[1.0, 2.0], [3.0, 4.0]], device)).sum().backward()
    assert ag.grad.tolist() == [7.0, 15.0]


# ----------------------------------------------------------------------------- flip, roll, repeat
def test_flip_roll_multi_dim(device):
    x = np.arange(24.0).reshape(2, 3, 4)
    t = T(x, device)
    np.testing.assert_array_equal(to_np(ttorch.flip(t, [0, 2])), np.flip(x, (0, 2)))
    np.testing.assert_array_equal(to_np(t.transpose(0, 2).flip(-1, 1)), np.flip(x.transpose(2, 1, 0), (2, 1)))
    np.testing.assert_array_equal(to_np(ttorch.fliplr(t)), np.fliplr(x))
    np.testing.assert_array_equal(to_np(ttorch.flipud(t)), np.flipud(x))
    f = t.flip(0)
    f += 1   # a copy, not a view
    assert t.tolist() == x.tolist()
    np.testing.assert_array_equal(to_np(ttorch.roll(t, (1, -5), (0, 2))), np.roll(x, (1, -5), (0, 2)))
    np.testing.assert_array_equal(to_np(ttorch.roll(t, (1, 2), (1, 1))), np.roll(x, 3, 1))
    np.testing.assert_array_equal(to_np(ttorch.roll(t, 7)), np.roll(x, 7))
    np.testing.assert_array_equal(to_np(t.transpose(0, 1).roll(-1, 0)), np.roll(x.transpose(1, 0, 2), -1, 0))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        ttorch.flip(t, (0, -3))
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        ttorch.roll(t, (1, 2), (0,))
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        ttorch.roll(t, (1, 2))
    with pytest.raises(RuntimeError, match="Input must be >= 2-d"):
        ttorch.fliplr(T([1.0], device))


def test_roll_flip_backward(device):
    x = T([1.0, 2.0, 3.0], device, requires_grad=True)
    w = T([1.0, 10.0, 100.0], device)
    (ttorch.roll(x, 1) * w).sum().backward()
    assert x.grad.tolist() == [10.0, 100.0, 1.0]
    x.grad = None
    (ttorch.flip(x, 0) * w).sum().backward()
    assert x.grad.tolist() == [100.0, 10.0, 1.0]


def test_repeat_tile_interleave(device):
    x = np.arange(6.0).reshape(2, 3)
    t = T(x, device)
    np.testing.assert_array_equal(to_np(t.repeat(2, 1, 2)), np.tile(x, (2, 1, 2)))
    np.testing.assert_array_equal(to_np(ttorch.tile(t, (2,))), np.tile(x, 2))
    np.testing.assert_array_equal(to_np(t.t().repeat(1, 2)), np.tile(x.T, (1, 2)))
    assert t.repeat(0, 2).shape == (0, 6)
    np.testing.assert_array_equal(to_np(t.repeat_interleave(2)), np.repeat(x, 2))
    np.testing.assert_array_equal(to_np(t.repeat_interleave(2, dim=0)), np.repeat(x, 2, 0))
    reps = T([1, 0, 2], device)
    np.testing.assert_array_equal(to_np(ttorch.repeat_interleave(t, reps, dim=1)), np.repeat(x, [1, 0, 2], 1))
    np.testing.assert_array_equal(to_np(ttorch.repeat_interleave(reps)), [0, 2, 2])
    with pytest.raises(RuntimeError, match="can not be smaller than number of dimensions"):
        t.repeat(2)
    with pytest.raises(RuntimeError, match="same size as input along dim"):
        ttorch.repeat_interleave(t, T([1, 2], device), dim=1)
    g = t.detach().requires_grad_()
    (g.repeat(3, 2) * 1.0).sum().backward()
    assert g.grad.tolist() == [[6.0] * 3] * 2


# ----------------------------------------------------------------------------- kernels: rank and strides
def test_high_rank_strided_index_kernels(device):
    # 6 dims that the host can't merge: the kernels launch per leading index
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 3, 2, 3, 2, 3))
    idx = r.integers(0, 3, (2, 3, 2, 3, 2, 2))
    tx = T(x.transpose(5, 4, 3, 2, 1, 0).copy(), device).permute(5, 4, 3, 2, 1, 0)
    ti = T(idx.transpose(1, 0, 2, 3, 4, 5).copy(), device).transpose(0, 1)
    np.testing.assert_allclose(to_np(tx.gather(5, ti)), np.take_along_axis(x, idx, 5))
    want = np.zeros_like(x)
    np.add.at(want, tuple(idx if d == 5 else g for d, g in enumerate(np.indices(idx.shape, sparse=True))),
              x[..., :2])
    got = ttorch.zeros(x.shape, dtype=ttorch.float64, device=device).scatter_add(5, ti, tx[..., :2])
    np.testing.assert_allclose(to_np(got), want)


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), dim=st.integers(0, 2),
       k=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_gather_scatter_add_property(shape, dim, k, seed):
    """scatter_add is gather's adjoint: <gather(x, i), y> == <x, scatter_add(0, i, y)>, on every device."""
    dim %= len(shape)
    r = np.random.default_rng(seed)
    ishape = list(shape)
    ishape[dim] = k
    idx = r.integers(0, shape[dim], ishape)
    x, y = r.standard_normal(shape), r.standard_normal(ishape)
    for device in ["cpu"] + (["cuda"] if HAS_CUDA else []):
        ti = T(idx, device)
        lhs = float((ttorch.gather(T(x, device), dim, ti) * T(y, device)).sum())
        rhs = float((T(x, device) * ttorch.zeros(shape, dtype=ttorch.float64, device=device)
                     .scatter_add(dim, ti, T(y, device))).sum())
        assert abs(lhs - rhs) < 1e-9 * (1 + abs(lhs))
