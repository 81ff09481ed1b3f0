"""Deterministic mode: ``use_deterministic_algorithms`` and its debug mode, the alert, the fill of
new memory, and the cuda paths that switch away from atomics. The interpreter runs atomics in
order, so a run-to-run comparison there proves nothing: the tests check which kernels a call
launches (a spy on ``_launch.launch_keyed``) and that the deterministic path's values are right
(bit for bit against NumPy's ``add.at`` where the order of the additions is the same)."""
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.utils.deterministic as udet
from ttorch import _deterministic as _det
from ttorch.ops import _launch, _segment, gather as _gather, indexing as _indexing

from _helpers import to_np

HAS_CUDA = ttorch.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")


@pytest.fixture(autouse=True)
def _restore():
    yield
    ttorch.use_deterministic_algorithms(False)
    udet.fill_uninitialized_memory = True


@pytest.fixture
def launched(monkeypatch):
    """The kernels launched (by their Python function), in order."""
    seen = []
    inner = _launch.launch_keyed

    def spy(kernel, grid, args, meta, mkey):
        seen.append(getattr(kernel, "fn", kernel))
        return inner(kernel, grid, args, meta, mkey)

    monkeypatch.setattr(_launch, "launch_keyed", spy)
    return seen


def _fn(kernel):
    return getattr(kernel, "fn", kernel)


SUM = _fn(_segment._segment_sum_kernel)
SCATTER = _fn(_gather._scatter_kernel)
MOVE = _fn(_indexing._move_kernel)


# ----------------------------------------------------------------------------- the switches
def test_flags_default_off_and_set():
    assert not ttorch.are_deterministic_algorithms_enabled()
    assert not ttorch.is_deterministic_algorithms_warn_only_enabled()
    assert ttorch.get_deterministic_debug_mode() == 0
    ttorch.use_deterministic_algorithms(True)
    assert ttorch.are_deterministic_algorithms_enabled() and ttorch.get_deterministic_debug_mode() == 2
    assert not ttorch.is_deterministic_algorithms_warn_only_enabled()
    ttorch.use_deterministic_algorithms(True, warn_only=True)
    assert ttorch.is_deterministic_algorithms_warn_only_enabled() and ttorch.get_deterministic_debug_mode() == 1
    ttorch.use_deterministic_algorithms(False, warn_only=True)
    assert not ttorch.are_deterministic_algorithms_enabled()
    assert not ttorch.is_deterministic_algorithms_warn_only_enabled()


@pytest.mark.parametrize("value, mode", [(0, 0), (1, 1), (2, 2), ("default", 0), ("warn", 1), ("error", 2),
                                         (True, 1)])
def test_debug_mode(value, mode):
    ttorch.set_deterministic_debug_mode(value)
    assert ttorch.get_deterministic_debug_mode() == mode
    assert ttorch.are_deterministic_algorithms_enabled() == (mode != 0)
    assert ttorch.is_deterministic_algorithms_warn_only_enabled() == (mode == 1)


def test_argument_errors():
    with pytest.raises(RuntimeError, match=r"expected 0, 1, or 2, but got 3"):
        ttorch.set_deterministic_debug_mode(3)
    with pytest.raises(RuntimeError, match=r"expected one of `default`, `warn`, `error`, but got x"):
        ttorch.set_deterministic_debug_mode("x")
    with pytest.raises(TypeError, match="debug_mode must be str or int, but got <class 'float'>"):
        ttorch.set_deterministic_debug_mode(1.0)
    with pytest.raises(TypeError, match=r"argument 'mode' \(position 1\) must be bool, not int"):
        ttorch.use_deterministic_algorithms(1)
    with pytest.raises(TypeError, match="argument 'warn_only' must be bool, not int"):
        ttorch.use_deterministic_algorithms(True, warn_only=1)
    with pytest.raises(RuntimeError, match="expected a bool, but got int"):
        udet.fill_uninitialized_memory = 1
    assert ttorch.get_deterministic_debug_mode() == 0 and udet.fill_uninitialized_memory is True


def test_cudnn_deterministic_is_a_separate_flag():
    from ttorch.backends import cudnn
    assert cudnn.deterministic is False
    with cudnn.flags(enabled=True, deterministic=True):
        assert cudnn.deterministic and not ttorch.are_deterministic_algorithms_enabled()
    ttorch.use_deterministic_algorithms(True)
    assert cudnn.deterministic is False


def test_put_alerts_without_accumulate(device):
    x, i, v = ttorch.zeros(5, device=device), ttorch.tensor([1, 1], device=device), ttorch.ones(2, device=device)
    x.put_(i, v)                                     # off: nothing
    ttorch.use_deterministic_algorithms(True)
    msg = ("put_ does not have a deterministic implementation, but you set 'torch.use_deterministic_algorithms(True)'. "
           "You can turn off determinism just for this operation, or you can use the 'warn_only=True' option")
    with pytest.raises(RuntimeError) as e:
        x.put_(i, v)
    assert str(e.value).startswith(msg)
    with pytest.raises(RuntimeError, match="put_ does not have a deterministic"):
        x.put(i, v)
    x.put_(i, v, accumulate=True)                    # accumulation is deterministic: no alert
    ttorch.use_deterministic_algorithms(True, warn_only=True)
    with pytest.warns(UserWarning, match=r"put_ does not have a deterministic implementation, but you set "
                                         r"'torch.use_deterministic_algorithms\(True, warn_only=True\)'"):
        x.put_(i, v)
    assert to_np(x).tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_docstring_examples():
    import doctest
    res = doctest.testmod(_det, extraglobs={"ttorch": ttorch})
    assert res.attempted >= 5 and res.failed == 0


def test_alert_is_silent_when_off():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _det.alert_not_deterministic("op")


# ----------------------------------------------------------------------------- filling new memory
@pytest.mark.parametrize("dtype, value", [(ttorch.float32, np.nan), (ttorch.float16, np.nan),
                                          (ttorch.bfloat16, np.nan), (ttorch.float64, np.nan),
                                          (ttorch.int32, 2 ** 31 - 1), (ttorch.int64, 2 ** 63 - 1),
                                          (ttorch.int8, 127), (ttorch.int16, 2 ** 15 - 1), (ttorch.uint8, 255),
                                          (ttorch.bool, True)])
def test_fill_uninitialized_memory(device, dtype, value):
    ttorch.use_deterministic_algorithms(True)
    x = ttorch.empty(2, 3, dtype=dtype, device=device)
    strided = ttorch.empty_strided((2, 2), (1, 3), dtype=dtype, device=device)
    for t in (x, ttorch.empty_like(x), x.new_empty(4), strided):
        a = to_np(t.float() if dtype is ttorch.bfloat16 else t)
        if isinstance(value, float):
            assert np.isnan(a).all()
        else:
            assert (a == value).all(), a


@pytest.mark.skipif(not hasattr(ttorch, "complex64"), reason="no complex dtypes")
def test_fill_uninitialized_complex(device):
    ttorch.use_deterministic_algorithms(True)
    x = ttorch.empty(3, dtype=ttorch.complex64, device=device)
    assert np.isnan(to_np(x.real)).all() and (to_np(x.imag) == 0).all()        # PyTorch's: NaN + 0j


def test_empty_strided(device):
    x = ttorch.empty_strided((2, 3), (1, 2), device=device)
    assert x.shape == (2, 3) and x.stride() == (1, 2) and x.untyped_storage().nbytes() == 24
    x.copy_(ttorch.arange(6.0).reshape(2, 3))
    assert to_np(x).tolist() == [[0, 1, 2], [3, 4, 5]] and x.t().is_contiguous()
    assert ttorch.empty_strided((2, 0), (1, 2), device=device).untyped_storage().nbytes() == 0
    assert ttorch.empty_strided((), (), dtype=ttorch.int64, device=device).shape == ()
    with pytest.raises(RuntimeError, match=r"dimensionality of sizes \(2\) must match dimensionality of strides \(1\)"):
        ttorch.empty_strided((2, 3), (1,))
    with pytest.raises(RuntimeError, match="Storage size calculation overflowed"):
        ttorch.empty_strided((2, 3), (-1, 2))


def test_resize_fills_only_new_elements(device):
    ttorch.use_deterministic_algorithms(True)
    x = ttorch.tensor([1.0, 2.0], device=device)
    x.resize_(2, 2)
    a = to_np(x)
    assert a[0].tolist() == [1.0, 2.0] and np.isnan(a[1]).all()
    y = ttorch.tensor([7, 8], device=device)
    assert to_np(y.resize_(3)).tolist() == [7, 8, 2 ** 63 - 1]


def test_fill_follows_both_flags():
    assert not _det.FILL
    ttorch.use_deterministic_algorithms(True)
    assert _det.FILL
    udet.fill_uninitialized_memory = False
    assert not _det.FILL and udet.fill_uninitialized_memory is False
    udet.fill_uninitialized_memory = True
    assert _det.FILL
    ttorch.set_deterministic_debug_mode("default")
    assert not _det.FILL


# ----------------------------------------------------------------------------- the switched cuda paths
def _np(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _run(f, launched, on):
    """``f()`` with deterministic mode ``on``: its result and the kernels it launched."""
    ttorch.use_deterministic_algorithms(on)
    launched.clear()
    r = f()
    return r, list(launched)


@cuda_only
def test_index_add_rows(launched):
    # one index per row along dim 0 (embedding's backward, bincount, histc): target rows of M
    x, src = _np((5, 3), 0), _np((7, 3), 1)
    idx = np.array([4, 0, 4, 4, 1, 0, 4])
    ref = x.copy()
    np.add.at(ref, idx, src)
    f = lambda: ttorch.tensor(x, device="cuda").index_add(0, ttorch.tensor(idx, device="cuda"),
                                                          ttorch.tensor(src, device="cuda"))
    r, k = _run(f, launched, True)
    assert SUM in k and SCATTER not in k
    np.testing.assert_array_equal(to_np(r), ref)           # the same additions in the same order
    r, k = _run(f, launched, False)
    assert SCATTER in k and SUM not in k
    np.testing.assert_allclose(to_np(r), ref, rtol=1e-6, atol=1e-6)


@cuda_only
def test_scatter_add_elements(launched):
    # an index per element (scatter_add along dim 1 of a strided input): one target element each
    x = _np((4, 3), 2).T                                  # (3, 4), not contiguous
    idx = np.random.default_rng(3).integers(0, 4, (3, 5))
    src = _np((3, 6), 4)
    ref = x.copy()
    for a in range(3):
        for b in range(5):
            ref[a, idx[a, b]] += src[a, b]
    xt = ttorch.tensor(np.ascontiguousarray(x.T), device="cuda").t()
    it, st = ttorch.tensor(idx, device="cuda"), ttorch.tensor(src, device="cuda")
    for f in (lambda: xt.scatter_add(1, it, st), lambda: xt.scatter(1, it, st, reduce="add"),
              lambda: xt.scatter_reduce(1, it, st, "sum")):
        r, k = _run(f, launched, True)
        assert SUM in k and SCATTER not in k
        np.testing.assert_array_equal(to_np(r), ref)


@cuda_only
def test_index_add_inner_dim_and_half(launched):
    x, src = _np((2, 4, 3), 5), _np((2, 6, 3), 6)
    idx = np.array([3, 0, 3, 1, 3, 0])
    ref = x.astype(np.float64)
    np.add.at(ref, (slice(None), idx), src.astype(np.float64))
    ttorch.use_deterministic_algorithms(True)
    for dt, tol in ((ttorch.float32, 1e-6), (ttorch.float16, 2e-3), (ttorch.bfloat16, 2e-2)):
        launched.clear()
        r = ttorch.tensor(x, device="cuda").to(dt).index_add(1, ttorch.tensor(idx, device="cuda"),
                                                             ttorch.tensor(src, device="cuda").to(dt), alpha=1)
        assert SUM in launched and SCATTER not in launched
        assert r.dtype is dt
        np.testing.assert_allclose(to_np(r.float()), ref, rtol=tol, atol=tol * 4)


@cuda_only
def test_integer_sums_keep_the_atomics(launched):
    # an integer sum is exact in any order: no switch (bincount without weights stays one launch)
    r, k = _run(lambda: ttorch.bincount(ttorch.tensor([1, 3, 1, 1], device="cuda")), launched, True)
    assert SCATTER in k and SUM not in k
    assert to_np(r).tolist() == [0, 3, 0, 1]


@cuda_only
def test_weighted_bincount_and_histc(launched):
    ttorch.use_deterministic_algorithms(True)
    w = _np(6, 7)
    i = np.array([0, 2, 2, 5, 2, 0])
    r = ttorch.bincount(ttorch.tensor(i, device="cuda"), ttorch.tensor(w, device="cuda"))
    np.testing.assert_allclose(to_np(r), np.bincount(i, w), rtol=1e-6)
    x = np.array([0.1, 0.5, 0.55, 0.9, 2.0, 0.5], np.float32)
    h = ttorch.histc(ttorch.tensor(x, device="cuda"), bins=4, min=0, max=1)
    assert to_np(h).tolist() == np.histogram(x, 4, (0, 1))[0].tolist() == [1, 0, 3, 1]
    assert SUM in launched and SCATTER not in launched


@cuda_only
def test_backwards_of_gathers(launched):
    # gather, index_select, embedding and x[idx]: their backwards scatter-add the gradient
    ttorch.use_deterministic_algorithms(True)
    F = ttorch.nn.functional
    w = _np((5, 3), 8)
    g = _np((6, 3), 9)
    idx = np.array([1, 4, 1, 1, 0, 4])
    ref = np.zeros_like(w)
    np.add.at(ref, idx, g)
    it = ttorch.tensor(idx, device="cuda")
    for f in (lambda t: F.embedding(it, t), lambda t: t.index_select(0, it), lambda t: t[it],
              lambda t: t.gather(0, it[:, None].expand(6, 3))):
        t = ttorch.tensor(w, device="cuda", requires_grad=True)
        out = f(t)
        launched.clear()
        out.backward(ttorch.tensor(g, device="cuda"))
        assert SUM in launched and SCATTER not in launched and MOVE not in launched
        np.testing.assert_array_equal(to_np(t.grad), ref)


@cuda_only
def test_index_put_accumulate(launched):
    x = _np((3, 4), 10)
    ii, jj = np.array([2, 0, 2, -1, 2]), np.array([1, 1, 1, 3, 1])
    v = _np(5, 11)
    ref = x.copy()
    np.add.at(ref, (ii, jj), v)
    xt = ttorch.tensor(x, device="cuda")
    idx = (ttorch.tensor(ii, device="cuda"), ttorch.tensor(jj, device="cuda"))
    f = lambda: xt.index_put(idx, ttorch.tensor(v, device="cuda"), accumulate=True)
    r, k = _run(f, launched, True)
    assert SUM in k and MOVE not in k
    np.testing.assert_array_equal(to_np(r), ref)
    r, k = _run(f, launched, False)
    assert MOVE in k and SUM not in k
    # rows with the rest of the dims, in place on a view (x[:, 1:][idx] += v)
    ttorch.use_deterministic_algorithms(True)
    rows = _np((4, 3), 12)
    ref = x.copy()
    np.add.at(ref[:, 1:], np.array([1, 1, 2, 1]), rows)
    y = ttorch.tensor(x, device="cuda")
    y[:, 1:].index_put_((ttorch.tensor([1, 1, 2, 1], device="cuda"),), ttorch.tensor(rows, device="cuda"),
                        accumulate=True)
    np.testing.assert_array_equal(to_np(y), ref)


@cuda_only
def test_stores_with_repeated_targets_take_the_last(launched):
    # scatter, index_copy, index_put: a plain store lets any repeated write win; deterministic mode
    # keeps the last in index order (NumPy's assignment)
    ttorch.use_deterministic_algorithms(True)
    x = _np((3, 4), 13)
    idx = np.array([[3, 0, 3, 3], [1, 1, 2, 1], [0, 0, 0, 0]])
    src = _np((3, 4), 14)
    ref = x.copy()
    for a in range(3):
        for b in range(4):
            ref[a, idx[a, b]] = src[a, b]
    r = ttorch.tensor(x, device="cuda").scatter(1, ttorch.tensor(idx, device="cuda"),
                                                 ttorch.tensor(src, device="cuda"))
    np.testing.assert_array_equal(to_np(r), ref)
    assert SUM in launched and SCATTER not in launched
    ref = x.copy()
    ref[[2, 0, 2]] = src
    r = ttorch.tensor(x, device="cuda").index_copy(0, ttorch.tensor([2, 0, 2], device="cuda"),
                                                    ttorch.tensor(src, device="cuda"))
    np.testing.assert_array_equal(to_np(r), ref)
    launched.clear()
    ref = x.copy()
    ii = np.array([1, -2, 0, 1])
    ref[ii, 2] = src[0]
    y = ttorch.tensor(x, device="cuda")
    y[ttorch.tensor(ii, device="cuda"), 2] = ttorch.tensor(src[0], device="cuda")
    np.testing.assert_array_equal(to_np(y), ref)
    assert SUM in launched and MOVE not in launched
    # a scalar's stores are all alike: the plain kernel
    launched.clear()
    ttorch.zeros(3, device="cuda").index_fill(0, ttorch.tensor([1, 1], device="cuda"), 2.0)
    assert SCATTER in launched and SUM not in launched


@cuda_only
def test_out_of_range_index_reported_at_the_next_sync():
    from ttorch.ops.gather import IndexOutOfBounds
    ttorch.use_deterministic_algorithms(True)
    x = ttorch.zeros(3, 2, device="cuda")
    r = x.index_add(0, ttorch.tensor([1, 7, 1], device="cuda"), ttorch.ones(3, 2, device="cuda"))
    with pytest.raises(IndexOutOfBounds, match="index 7 is out of bounds"):
        ttorch.cuda.synchronize()
    assert to_np(r).tolist() == [[0, 0], [2, 2], [0, 0]]        # the bad row took no part
    y = ttorch.zeros(2, 3, device="cuda")
    y.index_put_((ttorch.tensor([0, 0], device="cuda"), ttorch.tensor([1, -4], device="cuda")),
                 ttorch.ones(2, device="cuda"), accumulate=True)
    with pytest.raises(IndexOutOfBounds, match="index -4 is out of bounds"):
        ttorch.cuda.synchronize()
    assert to_np(y).tolist() == [[0, 1, 0], [0, 0, 0]]


@cuda_only
def test_attention_backward_takes_the_dq_kernel(launched, monkeypatch):
    # float32 on the FMAs adds dQ by atomics from the dK/dV kernel (_DQ_ATOMIC); deterministic mode
    # runs the dQ kernel
    from ttorch.ops import attention as A
    monkeypatch.setattr(A, "_FP32_DOT", ["ieee"])
    dq_kernel = _fn(A._attn_bwd_dq_kernel)
    q, k, v = (_np((1, 2, 5, 16), s) for s in (15, 16, 17))
    g = _np((1, 2, 5, 16), 18)

    def grads(device):
        ts = [ttorch.tensor(a, device=device, requires_grad=True) for a in (q, k, v)]
        ttorch.nn.functional.scaled_dot_product_attention(*ts, is_causal=True).backward(
            ttorch.tensor(g, device=device))
        return [to_np(t.grad) for t in ts]

    ttorch.use_deterministic_algorithms(False)
    grads("cuda")
    assert dq_kernel not in launched
    ttorch.use_deterministic_algorithms(True)
    launched.clear()
    got = grads("cuda")
    assert dq_kernel in launched
    for a, b in zip(got, grads("cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@cuda_only
@pytest.mark.parametrize("tile", [2, 8])
def test_runs_across_blocks(monkeypatch, tile):
    # small tiles: a target's run starts in one program's block and ends blocks later
    monkeypatch.setattr(_segment, "_TILE", tile)
    ttorch.use_deterministic_algorithms(True)
    r = np.random.default_rng(tile)
    x, src = _np((4, 3), 19), _np((23, 3), 20)
    idx = r.integers(0, 4, 23)
    idx[5:16] = 2                                 # one long run
    ref = x.copy()
    np.add.at(ref, idx, src)
    got = ttorch.tensor(x, device="cuda").index_add(0, ttorch.tensor(idx, device="cuda"),
                                                    ttorch.tensor(src, device="cuda"))
    np.testing.assert_array_equal(to_np(got), ref)
    ref = x.copy()
    ref[idx, 1] = src[:, 0]
    y = ttorch.tensor(x, device="cuda")
    y[ttorch.tensor(idx, device="cuda"), 1] = ttorch.tensor(src[:, 0], device="cuda")
    np.testing.assert_array_equal(to_np(y), ref)
