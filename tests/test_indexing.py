"""Indexing against NumPy on both devices: ``x[key]`` and ``x[key] = v`` over a table of keys,
views sharing memory, gradients through reads and writes, index_put/nonzero/masked ops/take/put,
copy_/fill_/zero_, and PyTorch's errors. (The generated tests in test_ops.py cover the ops'
dtypes, strided inputs and finite-difference gradients.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ttorch
from ttorch import _dtype as D

A = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
M34 = (np.arange(12).reshape(3, 4) % 3) == 1

# keys where PyTorch and NumPy agree (see test_int_and_separated_index for where they don't)
BASIC = [1, -1, (1, 2), (1, 2, 3), (-1, -2, -5), slice(None), slice(1, None), slice(None, -1), slice(None, None, 2),
         slice(5, 10), slice(-100, 100), slice(2, 1), (slice(None), 1), (Ellipsis, 1), (1, Ellipsis), (Ellipsis,),
         (None,), (None, 1, None, slice(1, 3)), (Ellipsis, None), (slice(0, 3, 2), slice(1, None, 3), 4), (),
         (slice(None), slice(None), slice(1, 4, 2))]
DUP = np.array([[0, 1], [2, 2]])
DUP2 = (slice(1, None), [0, 0, 3])
ADVANCED = [[0, 2], DUP, [-1], np.array([2, 0]), (slice(None), [3, 0]), (Ellipsis, [4, 0, 1]),
            ([0, 2], [1, 3]), ([0, 2], slice(None), [1, 3]), ([[0], [2]], [1, 3]), ([0, 2], [1, 3], [4, 0]),
            DUP2, ([1], slice(None, None, 2), [[0], [1]]), A > 30, np.array([True, False, True]),
            M34, (slice(None), np.array([True, False, False, True])), (None, [0, 1]), ([0, 1], None),
            ([0, 1], None, [1, 2]), [], True, False, (slice(None), True), (1, [2, 0]), (slice(None, 2), [[1], [3]], 4)]
ALL = BASIC + ADVANCED


def _ids(keys):
    return [repr(k) if not isinstance(k, np.ndarray) or k.size < 6 else f"mask{k.shape}" for k in keys]


def _np(t):
    return t.detach().cpu().numpy()


def _tkey(key, device):
    """The same key with its NumPy arrays and lists as ttorch tensors (the tensor path)."""
    def conv(k):
        if isinstance(k, np.ndarray) or (isinstance(k, list) and k):
            return ttorch.tensor(np.asarray(k), device=device)
        return k
    return tuple(conv(k) for k in key) if isinstance(key, tuple) else conv(key)


@pytest.mark.parametrize("key", ALL, ids=_ids(ALL))
def test_getitem_matches_numpy(key, device):
    x = ttorch.tensor(A, device=device)
    exp = A[key]
    for k in (key, _tkey(key, device)):
        got = x[k]
        assert got.device == x.device and got.dtype is x.dtype
        assert got.shape == exp.shape, (key, got.shape, exp.shape)
        np.testing.assert_array_equal(_np(got), exp)
        # basic indexing makes views, advanced indexing copies
        shares = got.untyped_storage() is x.untyped_storage()
        assert shares == any(key is b for b in BASIC)


SET_KEYS = [k for k in ALL if k is not DUP and k is not DUP2]   # which of repeated writes wins is unspecified


@pytest.mark.parametrize("key", SET_KEYS, ids=_ids(SET_KEYS))
def test_setitem_matches_numpy(key, device):
    r = np.random.default_rng(0)
    shape = A[key].shape
    for value in (7.5, r.standard_normal(shape).astype(np.float32),
                  r.standard_normal(shape[-1:]).astype(np.float32)):
        x = ttorch.tensor(A, device=device)
        exp = A.copy()
        exp[key] = value
        x[key] = value if np.isscalar(value) else ttorch.tensor(value, device=device)
        np.testing.assert_array_equal(_np(x), exp, err_msg=repr(key))


def test_setitem_casts_and_broadcasts(device):
    x = ttorch.zeros(3, 4, dtype=ttorch.int64, device=device)
    x[0] = 2.7                                     # float scalar into int64: truncated
    x[1:, 1:3] = ttorch.tensor([[1.9], [-3.2]], device=device)
    x[:, 3] = ttorch.tensor([[[5, 6, 7]]], device=device)   # leading size-1 dims are dropped
    assert x.tolist() == [[2, 2, 2, 5], [0, 1, 1, 6], [0, -3, -3, 7]]
    b = ttorch.zeros(4, dtype=ttorch.bool, device=device)
    b[[1, 3]] = 2
    assert b.tolist() == [False, True, False, True]
    h = ttorch.zeros(2, 3, dtype=ttorch.float64, device=device)
    h[1, [0, 2]] = 0.1                              # exact in float64, not rounded through float32
    assert h[1, 0].item() == 0.1
    if device == "cuda":
        y = ttorch.zeros(3, device="cuda")
        y[1:] = ttorch.tensor([1.0, 2.0])           # cpu values into a cuda slice: copied over
        y[[0]] = ttorch.tensor(4.0)                 # a 0-dim cpu value serves any device
        assert y.tolist() == [4.0, 1.0, 2.0]


def test_views_share_memory(device):
    x = ttorch.tensor(A, device=device)
    v = x[1:]
    v[0, 0] = 100.0
    assert x[1, 0, 0].item() == 100.0
    x[:, 1].fill_(-1)
    assert (x[2, 1] == -1).all().item()
    x[..., ::2][0, 0] = ttorch.tensor([9.0, 8.0, 7.0], device=device)
    np.testing.assert_array_equal(_np(x[0, 0]), [9, 1, 8, 3, 7])
    c = x[[0]]                                      # advanced: a copy
    c.zero_()
    assert x[0, 0, 0].item() == 9.0
    ver = x._version
    x[0, 0, 0] = 1.0
    assert x._version > ver
    z = x[1:][None, :, 2, 1:3]                     # chained views keep pointing into x
    assert z.shape == (1, 2, 2) and z.untyped_storage() is x.untyped_storage()
    np.testing.assert_array_equal(_np(z), _np(x)[None, 1:, 2, 1:3])


def test_augmented_assignment(device):
    x = ttorch.tensor(A, device=device)
    x[[0, 2], 1] += 10
    x[1:, :, 0] *= 2
    exp = A.copy()
    exp[[0, 2], 1] += 10
    exp[1:, :, 0] *= 2
    np.testing.assert_array_equal(_np(x), exp)


def test_pytorch_only_rules(device):
    x = ttorch.tensor(A, device=device)
    # an int is a select (a view) before the tensor indices: they stay in place, unlike NumPy
    assert x[0, :, [1, 2]].shape == (4, 2) and A[0, :, [1, 2]].shape == (2, 4)
    np.testing.assert_array_equal(_np(x[0, :, [1, 2]]), A[0][:, [1, 2]])
    # a short list holding sequences is a tuple of indices (NumPy's old rule, kept by PyTorch)
    np.testing.assert_array_equal(_np(x[[[0, 1], [1, 2]]]), A[[0, 1], [1, 2]])
    # index lists become int64 whatever they hold; 0-dim tensors select
    np.testing.assert_array_equal(_np(x[[0.0, 2.0]]), A[[0, 2]])
    i = ttorch.tensor(2, device=device)
    assert x[i].shape == (4, 5) and x[i].untyped_storage() is x.untyped_storage()
    assert x[ttorch.tensor(True)].shape == (1, 3, 4, 5)
    assert x[1, ttorch.tensor([3], dtype=ttorch.int32), -1].tolist() == [A[1, 3, -1]]


def test_rank_and_size_edges(device):
    s = ttorch.tensor(3.0, device=device)
    assert s[()].item() == 3.0 and s[...].shape == () and s[None].shape == (1,) and s[True].shape == (1,)
    s[...] = 4.0
    assert s.item() == 4.0
    e = ttorch.zeros(0, 3, device=device)
    assert e[:, 1].shape == (0,) and e[[]].shape == (0, 3) and e[e > 0].shape == (0,)
    e[[]] = 1.0
    # seven dims, three indexed: four remaining dims that don't merge (the kernel loops on the host)
    a = np.arange(2 ** 7, dtype=np.float32).reshape((2,) * 7)
    x = ttorch.tensor(a, device=device)
    key = (slice(None), [1, 0], slice(None), [0, 1], slice(None), [1, 1], slice(None))
    np.testing.assert_array_equal(_np(x[key]), a[key])
    x[key] = -x[key]
    b = a.copy()
    b[key] = -b[key]
    np.testing.assert_array_equal(_np(x), b)
    # strided and transposed sources
    t = ttorch.tensor(A, device=device).transpose(0, 2)[1:, ::2]
    np.testing.assert_array_equal(_np(t[[0, 3], :, [2, 1]]), A.transpose(2, 1, 0)[1:, ::2][[0, 3], :, [2, 1]])


def test_many_rows(device):
    r = np.random.default_rng(1)
    a = r.standard_normal((70, 9)).astype(np.float32)
    idx = r.integers(-70, 70, size=300)
    x = ttorch.tensor(a, device=device)
    np.testing.assert_array_equal(_np(x[idx]), a[idx])
    np.testing.assert_array_equal(_np(x[idx, idx % 9]), a[idx, idx % 9])


# ---------------------------------------------------------------------------- gradients
GRAD_KEYS = [1, (slice(None), 2), (Ellipsis, slice(1, None, 2)), [0, 2, 0], ([0, 2], [1, 1]), DUP2, A > 40,
             (None, 1, [3, 0]), ([2, 0], slice(None), [1, 1])]
SET_GRAD_KEYS = [k for k in GRAD_KEYS if not isinstance(k, list) and k is not DUP2]


def _positions(key):
    return np.arange(A.size).reshape(A.shape)[key]


@pytest.mark.parametrize("key", GRAD_KEYS, ids=_ids(GRAD_KEYS))
def test_getitem_gradient(key, device):
    w = np.random.default_rng(2).standard_normal(A[key].shape)
    x = ttorch.tensor(A, device=device, requires_grad=True)
    (x[key] * ttorch.tensor(w, dtype=ttorch.float32, device=device)).sum().backward()
    exp = np.zeros(A.size)
    np.add.at(exp, _positions(key).reshape(-1), w.reshape(-1))     # repeated indices accumulate
    np.testing.assert_allclose(_np(x.grad).reshape(-1), exp, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("key", SET_GRAD_KEYS, ids=_ids(SET_GRAD_KEYS))
def test_setitem_gradient(key, device):
    r = np.random.default_rng(3)
    shape = A[key].shape
    w = r.standard_normal(A.shape)
    x = ttorch.tensor(A, device=device, requires_grad=True)
    v = ttorch.tensor(r.standard_normal(shape[-1:]), dtype=ttorch.float32, device=device, requires_grad=True)
    z = x * 1
    z[key] = v                                       # broadcast over the target
    assert z.grad_fn is not None and not z.is_leaf
    (z * ttorch.tensor(w, dtype=ttorch.float32, device=device)).sum().backward()
    gx = w.copy().reshape(-1)
    gx[_positions(key).reshape(-1)] = 0              # the overwritten values get no gradient
    np.testing.assert_allclose(_np(x.grad).reshape(-1), gx, rtol=1e-6, atol=1e-6)
    gv = w.reshape(-1)[_positions(key)].reshape(-1, shape[-1]).sum(0)
    np.testing.assert_allclose(_np(v.grad), gv, rtol=1e-5, atol=1e-5)


def test_setitem_autograd_rules(device):
    leaf = ttorch.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        leaf[0] = 2.0
    with ttorch.no_grad():
        leaf[0] = 2.0                                # fine outside grad mode
    assert leaf.tolist() == [2.0, 1.0, 1.0] and leaf.grad_fn is None
    w = ttorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    buf = ttorch.zeros(4, device=device)
    buf[1:3] = w * 3                                 # a plain tensor takes the value's graph
    assert buf.requires_grad
    (buf * ttorch.tensor([1.0, 2.0, 3.0, 4.0], device=device)).sum().backward()
    assert w.grad.tolist() == [6.0, 9.0]
    # double backward through index: d/dx sum(x[i]^2) = 2 * counts * x
    x = ttorch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = x[[0, 2, 2]]
    (g,) = ttorch.autograd.grad((y * y).sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 0.0, 12.0]
    (gg,) = ttorch.autograd.grad(g.sum(), x)
    assert gg.tolist() == [2.0, 0.0, 4.0]


# ---------------------------------------------------------------------------- index_put
@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float16, ttorch.bfloat16, ttorch.int64, ttorch.int8,
                                   ttorch.bool])
def test_index_put_accumulate(dtype, device):
    idx = np.array([0, 3, 0, 0, -1, 2])
    vals = np.array([1, 2, 3, 4, 5, 1])
    x = ttorch.ones(5, dtype=dtype, device=device)
    out = ttorch.index_put(x, (ttorch.tensor(idx, device=device),), ttorch.tensor(vals, dtype=dtype, device=device),
                           accumulate=True)
    exp = np.ones(5, np.int64)
    np.add.at(exp, idx, vals)
    if dtype is ttorch.bool:
        exp = exp.astype(bool)
    elif dtype is ttorch.int8:
        exp = exp.astype(np.int8)
    assert out.dtype is dtype and x.tolist() == ([True] * 5 if dtype is ttorch.bool else [1] * 5)
    np.testing.assert_array_equal(_np(out.to(ttorch.float32) if dtype.is_floating_point else out), exp)


def test_index_put_inplace_and_none(device):
    x = ttorch.zeros(3, 4, device=device)
    r = x.index_put_((None, ttorch.tensor([1, 3], device=device)), ttorch.tensor([5.0, 6.0], device=device))
    assert r is x
    exp = np.zeros((3, 4), np.float32)
    exp[:, [1, 3]] = [5, 6]
    np.testing.assert_array_equal(_np(x), exp)
    x.index_put_((ttorch.tensor([0, 0], device=device), ttorch.tensor([1, 1], device=device)),
                 ttorch.tensor(1.0, device=device), accumulate=True)
    exp[0, 1] += 2
    np.testing.assert_array_equal(_np(x), exp)
    m = ttorch.tensor(M34, device=device)
    np.testing.assert_array_equal(_np(ttorch.index_put(x, (m,), ttorch.tensor(-1.0, device=device))),
                                  np.where(M34, -1, exp))


def test_index_put_gradient(device):
    x = ttorch.tensor([1.0, 2.0, 3.0, 4.0], device=device, requires_grad=True)
    v = ttorch.tensor([10.0, 20.0], device=device, requires_grad=True)
    i = ttorch.tensor([3, 1], device=device)
    w = ttorch.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    (ttorch.index_put(x, (i,), v) * w).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 3.0, 0.0] and v.grad.tolist() == [4.0, 2.0]
    x.grad = v.grad = None
    (ttorch.index_put(x, (i,), v, accumulate=True) * w).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0] and v.grad.tolist() == [4.0, 2.0]


# ---------------------------------------------------------------------------- nonzero
def test_nonzero(device):
    r = np.random.default_rng(4)
    a = r.integers(0, 3, size=(3, 1100)) * (r.uniform(size=(3, 1100)) < 0.3)   # several blocks on cuda
    a[1, 5] = 0
    for dt in (ttorch.float32, ttorch.int64, ttorch.bool):
        x = ttorch.tensor(a, dtype=dt, device=device)
        nz = ttorch.nonzero(x)
        assert nz.dtype is ttorch.int64 and nz.device == x.device
        np.testing.assert_array_equal(_np(nz), np.argwhere(a))
    x = ttorch.tensor(a, device=device)
    for got, exp in zip(x.nonzero(as_tuple=True), np.nonzero(a)):
        np.testing.assert_array_equal(_np(got), exp)
    np.testing.assert_array_equal(_np(ttorch.argwhere(x)), np.argwhere(a))
    from ttorch.ops.indexing import _where_one_arg
    for where in (_where_one_arg, ttorch.where):
        for got, exp in zip(where(x > 1), np.nonzero(a > 1)):
            np.testing.assert_array_equal(_np(got), exp)
    nan = ttorch.tensor([0.0, float("nan"), 0.0, -0.0, 2.0], device=device)
    assert ttorch.nonzero(nan).tolist() == [[1], [4]]
    s = ttorch.tensor(5.0, device=device)
    assert ttorch.nonzero(s).shape == (1, 0) and ttorch.nonzero(s * 0).shape == (0, 0)
    assert [t.tolist() for t in ttorch.nonzero(s, as_tuple=True)] == [[0]]
    assert ttorch.nonzero(ttorch.zeros(2, 0, 3, device=device)).shape == (0, 3)
    t = ttorch.tensor(a, device=device).t()                          # strided input
    np.testing.assert_array_equal(_np(ttorch.nonzero(t)), np.argwhere(a.T))


# ---------------------------------------------------------------------------- masked ops
def test_masked_fill(device):
    r = np.random.default_rng(5)
    a = r.standard_normal((3, 4)).astype(np.float32)
    x = ttorch.tensor(a, device=device)
    m = ttorch.tensor(M34, device=device)
    np.testing.assert_array_equal(_np(x.masked_fill(m, 2.5)), np.where(M34, 2.5, a))
    row = np.array([True, False, False, True])
    np.testing.assert_array_equal(_np(ttorch.masked_fill(x, ttorch.tensor(row, device=device), -1)),
                                  np.where(row, -1, a))
    np.testing.assert_array_equal(_np(x.masked_fill(m, ttorch.tensor(7.0))), np.where(M34, 7, a))  # cpu 0-dim value
    col = ttorch.tensor(a[:, :1], device=device)
    assert col.masked_fill(m, 0.0).shape == (3, 4)                   # out of place: broadcast both
    y = x.clone()
    assert y.masked_fill_(m, 0.0) is y
    np.testing.assert_array_equal(_np(y), np.where(M34, 0, a))
    i = ttorch.tensor([[1, 2], [3, 4]], device=device).masked_fill(ttorch.tensor([[True, False], [False, True]],
                                                                                 device=device), 1.9)
    assert i.dtype is ttorch.int64 and i.tolist() == [[1, 2], [3, 1]]
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        col.clone().masked_fill_(m, 0.0)
    # gradients: to input where the mask is False, to a tensor value the sum where it is True
    xg = ttorch.tensor(a, device=device, requires_grad=True)
    vg = ttorch.tensor(3.0, device=device, requires_grad=True)
    xg.masked_fill(m, vg).sum().backward()
    np.testing.assert_array_equal(_np(xg.grad), (~M34).astype(np.float32))
    assert vg.grad.item() == M34.sum()


def test_masked_select_and_scatter(device):
    r = np.random.default_rng(6)
    a = r.standard_normal((3, 4)).astype(np.float32)
    x = ttorch.tensor(a, device=device, requires_grad=True)
    m = ttorch.tensor(M34, device=device)
    s = ttorch.masked_select(x, m)
    np.testing.assert_array_equal(_np(s), a[M34])
    (s * ttorch.arange(s.numel(), dtype=ttorch.float32, device=device)).sum().backward()
    exp = np.zeros_like(a)
    exp[M34] = np.arange(M34.sum())
    np.testing.assert_array_equal(_np(x.grad), exp)
    row = np.array([False, True, True, False])
    np.testing.assert_array_equal(_np(x.detach().masked_select(ttorch.tensor(row, device=device))),
                                  a[np.broadcast_to(row, a.shape)])
    src = ttorch.arange(20, dtype=ttorch.float32, device=device)
    out = x.detach().masked_scatter(m, src)
    exp = a.copy()
    exp[M34] = np.arange(M34.sum())
    np.testing.assert_array_equal(_np(out), exp)
    y = x.detach().clone()
    assert y.masked_scatter_(m, src) is y
    np.testing.assert_array_equal(_np(y), exp)
    with pytest.raises(RuntimeError, match="at least"):
        x.detach().masked_scatter(m, src[:2])


# ---------------------------------------------------------------------------- take / put
def test_take_put(device):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = ttorch.tensor(a, device=device)
    i = np.array([[0, -1], [5, 5]])
    np.testing.assert_array_equal(_np(ttorch.take(x, ttorch.tensor(i, device=device))), np.take(a, i))
    np.testing.assert_array_equal(_np(x.t().take(ttorch.tensor(i, device=device))), np.take(a.T, i))
    y = x.clone()
    assert y.put_(ttorch.tensor([1, 11], device=device), ttorch.tensor([-1.0, -2.0], device=device)) is y
    b = a.copy()
    np.put(b, [1, 11], [-1, -2])
    np.testing.assert_array_equal(_np(y), b)
    z = x.t().contiguous().t()                               # non-contiguous target
    z.put_(ttorch.tensor([2, 2], device=device), ttorch.tensor([1.0, 1.0], device=device), accumulate=True)
    b = a.copy()
    b.flat[2] += 2
    np.testing.assert_array_equal(_np(z), b)
    np.testing.assert_array_equal(_np(x.put(ttorch.tensor([0], device=device), ttorch.tensor([9.0], device=device))),
                                  np.where(np.arange(12).reshape(3, 4) == 0, 9, a))
    with pytest.raises(IndexError, match="out of range: tried to access index 12 on a tensor of 12 elements"):
        ttorch.take(ttorch.tensor(a), ttorch.tensor([12]))


# ---------------------------------------------------------------------------- copy_ / fill_ / zero_
def test_copy_(device):
    x = ttorch.zeros(2, 3, device=device)
    assert x.copy_(ttorch.tensor([1, 2, 3], device=device)) is x            # int source, broadcast rows
    assert x.tolist() == [[1, 2, 3], [1, 2, 3]]
    other = "cpu" if device == "cuda" else device
    x[0].copy_(ttorch.tensor([7.5, 8.5, 9.5], dtype=ttorch.float64, device=other))   # into a view, across devices
    assert x.tolist() == [[7.5, 8.5, 9.5], [1, 2, 3]]
    if device == "cuda":
        h = ttorch.zeros(3)
        h.copy_(x[1])                                                       # cuda -> cpu
        assert h.tolist() == [1, 2, 3]
    x[:, 1:].copy_(x[:, :-1])                                              # overlapping source: read first
    assert x.tolist() == [[7.5, 7.5, 8.5], [1, 1, 2]]
    src = ttorch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    base = ttorch.tensor([5.0, 5.0, 5.0], device=device, requires_grad=True)
    y = base * 2
    y.copy_(src)
    assert y.grad_fn.name() == "CopyBackwards"
    (y * ttorch.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert src.grad.tolist() == [1.0, 2.0, 3.0] and base.grad.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        ttorch.zeros(3, device=device).copy_(ttorch.zeros(2, 3, device=device))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ttorch.zeros(3, device=device, requires_grad=True).copy_(src)


def test_fill_zero(device):
    x = ttorch.tensor(A, device=device)
    x[1].fill_(2.0)
    x[:, :, 0].zero_()
    exp = A.copy()
    exp[1] = 2
    exp[:, :, 0] = 0
    np.testing.assert_array_equal(_np(x), exp)
    d = ttorch.zeros(2, dtype=ttorch.float64, device=device).fill_(0.1)
    assert d.tolist() == [0.1, 0.1]
    b = ttorch.zeros(2, dtype=ttorch.bool, device=device).fill_(0.5)
    assert b.tolist() == [True, True]
    i = ttorch.zeros(2, dtype=ttorch.int64, device=device).fill_(ttorch.tensor(3.7))
    assert i.tolist() == [3, 3]
    v = ttorch.tensor(2.0, device=device, requires_grad=True)
    w = ttorch.ones(3, device=device, requires_grad=True)
    y = w * 1
    y.fill_(v)
    y.sum().backward()
    assert v.grad.item() == 3.0 and w.grad.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        x.fill_(ttorch.ones(2))


# ---------------------------------------------------------------------------- errors
ERRORS = [
    ((3,), 5, IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    ((3,), -4, IndexError, "index -4 is out of bounds for dimension 0 with size 3"),
    ((2, 3), (0, 0, 0), IndexError, "too many indices for tensor of dimension 2"),
    ((2, 3), (Ellipsis, 0, Ellipsis), IndexError, "an index can only have a single ellipsis"),
    ((3,), slice(None, None, -1), ValueError, "step must be greater than zero"),
    ((3,), [5], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    ((2, 3), (slice(None), [0, -4]), IndexError, "index -4 is out of bounds for dimension 1 with size 3"),
    ((3,), 1.5, IndexError, "only integers, slices"),
    ((3,), np.array([0.5]), IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
    ((2, 3), np.array([True, False, True]), IndexError, "The shape of the mask \\[3\\] at index 0 does not match"),
    ((2, 3), ([0, 1], [0, 1, 2]), IndexError, "shape mismatch: indexing tensors could not be broadcast together"),
    ((), 0, IndexError, "invalid index of a 0-dim tensor"),
]


@pytest.mark.parametrize("shape,key,exc,msg", ERRORS, ids=[e[3][:30] for e in ERRORS])
def test_errors(shape, key, exc, msg, device):
    x = ttorch.zeros(shape, device=device)
    with pytest.raises(exc, match=msg):
        x[key]
    with pytest.raises(exc, match=msg):
        x[key] = 1.0


def test_write_errors(device):
    x = ttorch.zeros(3, 4, device=device)
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape \\[3\\] cannot be broadcast to "
                                           "indexing result of shape \\[2, 4\\]"):
        x[[0, 1]] = ttorch.ones(3, device=device)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor \\(4\\) must match the existing size "
                                           "\\(3\\) at non-singleton dimension 1"):
        x[1:] = ttorch.ones(3, device=device)
    with pytest.raises(TypeError, match="can't assign a list"):
        x[0] = [1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match, got Float "
                                           "for the destination and Long for the source"):
        ttorch.index_put(x, (ttorch.tensor([0], device=device),), ttorch.tensor([1], device=device))
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.masked_fill(ttorch.ones(3, 4, device=device), 0.0)
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor"):
        x.masked_fill(x > 0, ttorch.ones(1, device=device))
    if device == "cuda":
        with pytest.raises(RuntimeError, match="indices should be either on cpu or on the same device"):
            ttorch.zeros(3)[ttorch.tensor([0], device="cuda")]
        with pytest.raises(RuntimeError, match="same device"):
            x[[0, 1]] = ttorch.ones(2, 4)


# ---------------------------------------------------------------------------- property test
_dim = st.integers(1, 5)


@st.composite
def _basic_key(draw, shape):
    key = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            key.append(slice(draw(st.none() | st.integers(-7, 7)), draw(st.none() | st.integers(-7, 7)),
                             draw(st.none() | st.integers(1, 3))))
        elif kind == "full":
            key.append(slice(None))
        else:
            key.extend([None, slice(None)])
    return tuple(key[:draw(st.integers(0, len(key)))])


@settings(max_examples=40, deadline=None)
@given(st.data(), st.lists(_dim, min_size=1, max_size=3))
def test_basic_keys_property(data, shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    key = data.draw(_basic_key(tuple(shape)))
    x = ttorch.tensor(a)
    v = x[key]
    assert v.untyped_storage() is x.untyped_storage()
    np.testing.assert_array_equal(v.numpy(), a[key])
    v[...] = -1.0
    b = a.copy()
    b[key] = -1.0
    np.testing.assert_array_equal(x.numpy(), b)


def test_basic_keys_take_one_walk_with_the_general_geometry(device):
    # ints, slices, None and one ... make the view in indexing._basic; its shape, strides and offset are
    # the general path's (_parse, _basic_view) on a strided, offset input; other keys go the general way
    from ttorch.ops import indexing
    x = ttorch.tensor(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6), device=device).transpose(0, 2)[1:]
    for key in [(slice(None), -1), 3, (None, 1, slice(1, None, 2)), (Ellipsis, slice(2, 4)), (1, Ellipsis, None),
                (slice(None, None, 3), slice(4, 2)), (), (slice(None), slice(None), 0)]:
        v = indexing._basic(x, key)
        items, idx = indexing._parse(x, key)
        want = indexing._basic_view(x, items)[0]
        assert not idx and (v._shape, v.stride(), v._offset) == (want._shape, want.stride(), want._offset), key
    for key in [(1, 1, 1, 1), 9, (Ellipsis, Ellipsis), True, (np.int64(1),), [0, 1], (slice(None, None, -1),)]:
        assert indexing._basic(x, key) is None, key


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")
def test_index_kernels_upload_their_sizes_once(monkeypatch):
    # the gather/scatter kernel's sizes and strides go up once per (values, device), not every call
    from ttorch.ops import indexing
    uploads = []
    real = indexing._upload
    monkeypatch.setattr(indexing, "_upload", lambda a, d: uploads.append(tuple(np.ravel(a).tolist())) or real(a, d))
    monkeypatch.setattr(indexing, "_CONSTANTS", {})
    x = ttorch.arange(24.0, device="cuda").reshape(4, 6)
    for rows in ([3, 0], [1, 1], [2, 3]):
        idx = ttorch.tensor(rows, device="cuda")
        np.testing.assert_array_equal(x[idx].cpu().numpy(), np.arange(24.0).reshape(4, 6)[rows])
    x[ttorch.tensor([0, 2], device="cuda")] = ttorch.zeros(2, 6, device="cuda")
    assert uploads == [(4, 6)] and x.cpu().numpy()[[0, 2]].sum() == 0
    x.t()[ttorch.tensor([5], device="cuda")]                 # other strides: their own upload
    assert uploads == [(4, 6), (6, 1)]
    for v in (7.0, 7.5):                                      # a scalar value: a fill, no upload
        x[ttorch.tensor([1], device="cuda")] = v
        assert x.cpu().numpy()[1].tolist() == [v] * 6
    b = ttorch.zeros(4, dtype=ttorch.bool, device="cuda")
    b[ttorch.tensor([2], device="cuda")] = True
    assert uploads == [(4, 6), (6, 1), (4, 1)] and b.cpu().numpy().tolist() == [False, False, True, False]
