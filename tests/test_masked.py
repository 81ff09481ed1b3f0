"""``ttorch.masked``: the functional masked ops (``masked/_ops.py``) and ``MaskedTensor``
(``masked/maskedtensor.py``, its op handler ``masked/_dispatch.py``). References are NumPy masked
arrays (``numpy.ma``, float64) and PyTorch's printouts and messages, copied by hand."""
import math

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck
from ttorch.masked import MaskedTensor, as_masked_tensor, masked_tensor

pytestmark = pytest.mark.filterwarnings("ignore:The PyTorch API of MaskedTensors")

X = np.array([[1.5, -2.0, 3.0, 0.25, -1.0],
              [4.0, 5.0, -6.0, 2.0, 0.5],
              [0.75, -0.5, 1.25, 2.5, -3.0]])
M = np.array([[True, False, True, True, False],
              [False, False, False, False, False],      # a row all masked out
              [True, True, False, True, True]])


def t(a, device, dtype=None):
    return ttorch.tensor(a, dtype=dtype, device=device)


def host(x):
    return x.detach().cpu().numpy().astype(np.float64)


def ma(x=X, m=M):
    return np.ma.masked_array(x, mask=~np.broadcast_to(m, np.shape(x)))


def close(got, ref, tol=1e-5):
    ref = np.ma.filled(ref, np.nan) if np.ma.isMaskedArray(ref) else np.asarray(ref, dtype=np.float64)
    np.testing.assert_allclose(host(got), ref, rtol=tol, atol=tol, equal_nan=True)


def mt(device, x=X, m=M, **kw):
    return masked_tensor(t(x, device), t(m, device), **kw)


# ------------------------------------------------------------------------------------ functional ops
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
def test_reductions_match_numpy_ma(device, dim):
    x, m = t(X, device), t(M, device)
    a = ma()
    axis = dim if not isinstance(dim, tuple) else None
    keep = {}
    for name, ref in [("sum", np.ma.filled(a.sum(axis=axis), 0)), ("prod", np.ma.filled(a.prod(axis=axis), 1)),
                      ("amax", np.ma.filled(a.max(axis=axis), -np.inf)),
                      ("amin", np.ma.filled(a.min(axis=axis), np.inf)),
                      ("mean", a.mean(axis=axis)), ("var", a.var(axis=axis, ddof=1)),
                      ("std", a.std(axis=axis, ddof=0))]:
        kw = {"unbiased": False} if name == "std" else {}
        got = getattr(ttorch.masked, name)(x, dim, mask=m, **kw)
        keep[name] = got
        if name in ("var", "std"):          # numpy.ma masks a count <= ddof; PyTorch divides by max(count - c, 0)
            n = np.broadcast_to(M, X.shape).sum(axis=axis)
            ref = np.where(n > (name == "var"), np.ma.filled(ref, np.nan), np.nan)
        close(got, ref)
    assert keep["sum"].dtype is ttorch.float64 and keep["mean"].device.type == device


def test_reduction_keepdim_norm_logsumexp_median(device):
    x, m = t(X, device), t(M, device)
    a = ma()
    close(ttorch.masked.sum(x, 1, keepdim=True, mask=m), np.ma.filled(a.sum(axis=1, keepdims=True), 0))
    for p in (2.0, 1.0, math.inf):
        ref = np.ma.filled(np.abs(a).max(axis=1) if p == math.inf else (np.abs(a) ** p).sum(axis=1) ** (1 / p), 0)
        close(ttorch.masked.norm(x, p, 1, mask=m), ref)
    close(ttorch.masked.norm(x, -math.inf, 1, mask=m), np.ma.filled(np.abs(a).min(axis=1), np.inf))
    lse = np.log(np.exp(a).sum(axis=1))
    close(ttorch.masked.logsumexp(x, 1, mask=m), np.ma.filled(lse, -np.inf))
    # median: the lower middle element of the unmasked ones; nan for a row all masked out
    close(ttorch.masked.median(x, 1, mask=m), [1.5, np.nan, -0.5])
    close(ttorch.masked.median(x, 0, mask=m), [0.75, -0.5, 3.0, 0.25, -3.0])


def test_arg_reductions_and_dtypes(device):
    x, m = t(X, device, ttorch.float32), t(M, device)
    r = ttorch.masked.argmax(x, 1, mask=m)
    assert r.dtype is ttorch.float32            # PyTorch casts the indices to the input's dtype
    close(r, [2, 0, 3])                         # (a row all masked out: the first index, as PyTorch)
    close(ttorch.masked.argmin(x, 1, mask=m), [3, 0, 4])
    close(ttorch.masked.argmax(x, mask=m), 2)
    assert ttorch.masked.argmax(x, 1, mask=m, dtype=ttorch.int64).dtype is ttorch.int64
    xi = t(X * 4, device, ttorch.int32)
    s = ttorch.masked.sum(xi, 1, mask=m)
    assert s.dtype is ttorch.int64 and s.tolist() == [19, 0, -1]
    assert ttorch.masked.prod(xi, 1, mask=m).tolist() == [72, 1, 720]
    big = ttorch.masked.amax(xi, 1, mask=m)     # integer identities: the dtype's min / max
    assert big.dtype is ttorch.int32 and big.tolist() == [12, -2 ** 31, 10]
    assert ttorch.masked.amin(xi, 1, mask=m).tolist() == [1, 2 ** 31 - 1, -12]
    b = ttorch.masked.sum(t([True, True, False], device), mask=t([True, False, True], device))
    assert b.dtype is ttorch.int64 and b.item() == 1
    with pytest.raises(ValueError, match=r"mean\(\): Could not infer output dtype. Input dtype must be either a "
                                         r"floating point or complex dtype. Got: ttorch.int32"):
        ttorch.masked.mean(xi, mask=m)
    v = ttorch.masked.var(xi, 1, mask=m)
    assert v.dtype is ttorch.float32
    close(v, [np.var([6, 12, 1], ddof=1), np.nan, np.var([3, -2, 10, -12], ddof=1)], 1e-4)
    assert ttorch.masked.median(xi, 0, mask=t(np.ones((3, 5), bool), device)).tolist() == [6, -2, 5, 8, -4]
    with pytest.raises(ValueError, match="masked median expects no fully masked out rows if dtype is not floating"):
        ttorch.masked.median(xi, 1, mask=m)


def test_fully_masked_and_broadcast_mask(device):
    x = t(X, device)
    none = t(np.zeros((3, 5), bool), device)
    assert ttorch.masked.sum(x, mask=none).item() == 0
    assert math.isnan(ttorch.masked.mean(x, mask=none).item()) and math.isnan(ttorch.masked.var(x, mask=none).item())
    assert ttorch.masked.amax(x, mask=none).item() == -math.inf
    assert ttorch.masked.logsumexp(x, mask=none).item() == -math.inf
    # a mask of fewer dims broadcasts; correction as PyTorch (count - correction clamped at 0)
    row = np.array([True, False, True, True, False])
    close(ttorch.masked.mean(x, 1, mask=t(row, device)), ma(X, row).mean(axis=1))
    close(ttorch.masked.var(x, 1, correction=0, mask=t(row, device)), ma(X, row).var(axis=1))
    # (count 2 - 3 clamps at 0: x / 0 is inf, 0 / 0 nan, as PyTorch)
    close(ttorch.masked.std(x, 0, correction=3, mask=t(M, device)), [np.inf, np.nan, np.nan, np.inf, np.nan])
    close(ttorch.masked.sum(x, 1, mask=t(row.astype(np.float32), device)), ma(X, row).sum(axis=1))
    # mask=None: every element
    close(ttorch.masked.mean(x, 0), X.mean(0))
    close(ttorch.masked.std(x), X.std(ddof=1))


def test_normalizations_and_scans(device):
    x, m = t(X, device), t(M, device)
    a = ma()
    e = np.exp(a - a.max(axis=1, keepdims=True))
    sm = ttorch.masked.softmax(x, 1, mask=m)
    close(sm[[0, 2]], np.ma.filled(e / e.sum(axis=1, keepdims=True), 0)[[0, 2]])
    assert np.isnan(host(sm[1])).all()      # a row all masked out: nan, as PyTorch
    ls = ttorch.masked.log_softmax(x, 1, mask=m)
    close(ls[[0, 2]], np.ma.filled(np.log(e / e.sum(axis=1, keepdims=True)), -np.inf)[[0, 2]])
    assert np.isnan(host(ls[1])).all()      # a row all masked out: nan, as PyTorch
    en = np.exp(-a - (-a).max(axis=1, keepdims=True))
    close(ttorch.masked.softmin(x, 1, mask=m)[[0, 2]], np.ma.filled(en / en.sum(axis=1, keepdims=True), 0)[[0, 2]])
    nrm = np.ma.filled(np.sqrt((a * a).sum(axis=1, keepdims=True)), 0)
    close(ttorch.masked.normalize(x, 2.0, 1, mask=m), np.ma.filled(a, 0) / np.maximum(nrm, 1e-12))
    close(ttorch.masked.cumsum(x, 1, mask=m), np.cumsum(np.ma.filled(a, 0), 1))
    close(ttorch.masked.cumprod(x, 0, mask=m), np.cumprod(np.ma.filled(a, 1), 0))
    other = t(X[::-1].copy(), device)
    ref = np.logaddexp(np.where(M, X, -np.inf), np.where(M[::-1], X[::-1], -np.inf))
    close(ttorch.masked.logaddexp(x, other, input_mask=m, other_mask=t(M[::-1].copy(), device)), ref)


def test_functional_errors():
    x, m = ttorch.tensor(X), ttorch.tensor(M)
    with pytest.raises(IndexError, match=r"_input_mask expected broadcastable mask \(got mask dimensionality higher"):
        ttorch.masked.sum(x, mask=ttorch.ones(1, 3, 5, dtype=ttorch.bool))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        ttorch.masked.sum(x, 2, mask=m)
    with pytest.raises(RuntimeError, match="dim=1 appears multiple times in the list of dims"):
        ttorch.masked.sum(x, (1, 1), mask=m)
    with pytest.raises(AssertionError, match="Only one of unbiased and correction may be given"):
        ttorch.masked.var(x, unbiased=True, correction=1, mask=m)


_GRAD = ["sum", "prod", "amax", "mean", "var", "std", "norm", "logsumexp", "softmax", "log_softmax", "softmin",
         "normalize", "cumsum", "cumprod"]
_GRAD_CUDA = ["sum", "amax", "softmax"]     # (the simulated device is slow: a sample there)


@pytest.mark.parametrize("device,name", [("cpu", n) for n in _GRAD] +
                         [("cuda", n) for n in _GRAD_CUDA if ttorch.cuda.is_available()])
def test_functional_gradcheck(device, name):
    x = t(X[[0, 2], :4], device).requires_grad_()      # rows with unmasked elements: finite everywhere
    m = t(M[[0, 2], :4], device)
    f = getattr(ttorch.masked, name)
    if name in ("softmax", "log_softmax", "softmin", "cumsum", "cumprod"):
        fn = lambda a: f(a, 1, mask=m)      # noqa: E731
    elif name in ("norm", "normalize"):
        fn = lambda a: f(a, 2.0, 1, mask=m)     # noqa: E731
    else:
        fn = lambda a: f(a, 1, mask=m)      # noqa: E731
    if name == "log_softmax":       # (-inf at masked-out elements: compare where finite)
        fn = lambda a: f(a, 1, mask=m).masked_fill(m.logical_not(), 0.0)     # noqa: E731
    assert gradcheck(fn, (x,))
    # masked-out elements get no gradient
    fn(x).sum().backward()
    assert (host(x.grad)[~M[[0, 2], :4]] == 0).all()


# ------------------------------------------------------------------------------------ MaskedTensor
def test_construction_and_errors():
    d, m = ttorch.tensor(X), ttorch.tensor(M)
    with pytest.warns(UserWarning, match="The PyTorch API of MaskedTensors is in prototype stage"):
        a = MaskedTensor(d, m)
    assert isinstance(a, ttorch.Tensor) and ttorch.masked.is_masked_tensor(a) and not a.is_sparse
    assert a.shape == (3, 5) and a.dtype is ttorch.float64 and a.numel() == 15 and len(a) == 3
    assert a.get_data() is not d and np.array_equal(host(a.get_data()), X)    # copies
    assert a.get_mask().dtype is ttorch.bool and not a.requires_grad and a.is_leaf
    with pytest.raises(TypeError, match="data must be a Tensor"):
        masked_tensor([1.0], m)
    with pytest.raises(TypeError, match="mask must be a Tensor"):
        masked_tensor(d, M)
    with pytest.raises(TypeError, match="mask must have dtype bool."):
        masked_tensor(d, d)
    with pytest.raises(ValueError, match=r"data.dim\(\) must equal mask.dim\(\)"):
        masked_tensor(d, m[0])
    with pytest.raises(ValueError, match=r"data.size\(\) must equal mask.size\(\)"):
        masked_tensor(d, m[:2])
    for bad in (ttorch.bfloat16, ttorch.uint8):
        with pytest.raises(TypeError, match=f"ttorch.{bad.name} is not supported in MaskedTensor."):
            masked_tensor(d.to(bad), m)


def test_repr_as_pytorch():
    r = repr(masked_tensor(ttorch.tensor([[1., 2., 3.], [4., 5., 6.]]),
                           ttorch.tensor([[True, False, True], [False, False, True]])))
    assert r == ("MaskedTensor(\n  [\n    [  1.0000,       --,   3.0000],\n    [      --,       --,   6.0000]\n"
                 "  ]\n)")
    assert repr(masked_tensor(ttorch.tensor([1, 2, 3]), ttorch.tensor([True, False, True]))) == \
        "MaskedTensor(\n  [1,       --, 3]\n)"
    assert repr(masked_tensor(ttorch.tensor([True, False]), ttorch.tensor([True, False]))) == \
        "MaskedTensor(\n  [True,       --]\n)"
    assert repr(masked_tensor(ttorch.tensor([100000.5, 2.]), ttorch.tensor([True, True]))) == \
        "MaskedTensor(\n  [100000.5000,   2.0000]\n)"
    assert repr(masked_tensor(ttorch.tensor(2.), ttorch.tensor(True))) == "MaskedTensor(  2.0000, True)"
    assert repr(masked_tensor(ttorch.tensor(2.), ttorch.tensor(False))) == "MaskedTensor(--, False)"


def check(got, data, mask):
    """``got`` is a MaskedTensor with mask ``mask`` and, where it is True, the values ``data``."""
    assert isinstance(got, MaskedTensor)
    gm = got.get_mask().cpu().numpy()
    np.testing.assert_array_equal(gm, mask)
    gd = host(got.get_data())
    np.testing.assert_allclose(gd[gm], np.broadcast_to(data, gm.shape)[gm], rtol=1e-6, atol=1e-6)


def test_elementwise_ops(device):
    a = mt(device)
    check(a.sin(), np.sin(X), M)
    check(ttorch.exp(a), np.exp(X), M)
    check(-a, -X, M)
    check(abs(a), np.abs(X), M)
    check(a ** 2, X ** 2, M)
    check(a.clamp(-1, 1), np.clip(X, -1, 1), M)
    check(a + a, 2 * X, M)
    check(a * 2.0 - 1, X * 2 - 1, M)
    check(1 - a, 1 - X, M)
    check(a / t(X + 10, device), X / (X + 10), M)                  # a plain tensor takes a's mask
    check(t(X[0], device) + a, X[0] + X, M)                         # broadcast
    check(ttorch.atan2(a, a), np.arctan2(X, X), M)
    check(ttorch.maximum(a, a * 0), np.maximum(X, 0), M)
    lt = a < 0.5
    assert lt.dtype is ttorch.bool
    check(lt, X < 0.5, M)
    check(a == a, np.ones_like(X), M)
    check(ttorch.where(t(X > 0, device), a, a * 10), np.where(X > 0, X, 10 * X), M)
    w = ttorch.where(t(X > 0, device), a, t(np.zeros_like(X), device))   # the plain side counts as unmasked
    check(w, np.where(X > 0, X, 0), M | (X <= 0))
    b = a.clone()
    b.mul_(3).sin_()
    check(b, np.sin(3 * X), M)
    b += a
    check(b, np.sin(3 * X) + X, M)
    check(a, X, M)                                                  # a is left alone
    with pytest.raises(ValueError, match="Input masks must match. If you need support for this, please open an "
                                         "issue on Github."):
        a + mt(device, m=~M)
    with pytest.raises(TypeError, match="MaskedTensor unary ops do not support additional Tensor arguments"):
        a.pow(t(X, device))


def test_unsupported_ops_raise(device):
    a = mt(device)
    for f, name in [(lambda: a.relu(), "relu"), (lambda: ttorch.logical_not(a), "logical_not"),
                    (lambda: a.log_softmax(1), "log_softmax"), (lambda: a.masked_fill(t(M, device), 0), "masked_fill"),
                    (lambda: a.unbind(0), "unbind"), (lambda: a.flip(0), "flip")]:
        with pytest.warns(UserWarning, match=f"{name} is not implemented in __torch_dispatch__ for MaskedTensor"):
            with pytest.raises(TypeError, match=f"Multiple dispatch failed for 'ttorch._ops.aten.{name}.default'; "
                                                "all __torch_dispatch__ handlers returned NotImplemented"):
                f()


def test_reductions(device):
    a = mt(device)
    am = ma()
    s = a.sum()
    assert isinstance(s, MaskedTensor) and s.shape == () and s.get_mask().item() is True
    assert s.item() == pytest.approx(float(am.sum()))
    check(a.sum(1), np.ma.filled(am.sum(axis=1), 0), M.any(1))
    check(ttorch.sum(a, 0, keepdim=True), np.ma.filled(am.sum(axis=0, keepdims=True), 0), M.any(0, keepdims=True))
    check(a.mean(0), np.ma.filled(am.mean(axis=0), 0), M.any(0))
    check(a.amax(1), np.ma.filled(am.max(axis=1), 0), M.any(1))
    check(a.amin(), am.min(), True)
    check(a.prod(1), np.ma.filled(am.prod(axis=1), 1), M.any(1))
    check(a.argmax(1), [2, 0, 3], M.any(1))
    assert a.argmax(1).dtype is ttorch.float64                  # PyTorch's masked argmax keeps the input's dtype
    check(a.argmin(), 14, True)
    check(a.var(1), np.ma.filled(am.var(axis=1, ddof=1), 0), M.any(1))
    check(a.std(), am.std(ddof=1), True)
    check((a > 0).all(1), [True, True, False], M.any(1))
    none = mt(device, m=np.zeros_like(M))
    r = none.sum()
    assert r.get_mask().item() is False and repr(r) == "MaskedTensor(--, False)"
    with pytest.raises(ValueError, match="expected a mask tensor"):
        r.item()


def test_softmax_views_and_movement(device):
    a = mt(device)
    am = ma()
    e = np.exp(am - am.max(axis=1, keepdims=True))
    sm = a.softmax(1)
    check(sm, np.ma.filled(e / e.sum(axis=1, keepdims=True), 0), M)
    assert (host(sm.get_data())[~M] == 0).all()         # (PyTorch's _masked_softmax: 0, no nan)
    check(ttorch.nn.functional.softmax(a, dim=0), np.ma.filled(np.exp(am) / np.exp(am).sum(0), 0), M)
    check(a.transpose(0, 1), X.T, M.T)
    check(a.t()[1:], X.T[1:], M.T[1:])
    check(a.reshape(5, 3), X.reshape(5, 3), M.reshape(5, 3))
    check(a.view(-1), X.ravel(), M.ravel())
    check(a.t().reshape(15), X.T.ravel(), M.T.ravel())      # non-contiguous data
    check(a[1], X[1], M[1])
    check(a[:, 1:4], X[:, 1:4], M[:, 1:4])
    check(a[0, 2], X[0, 2], M[0, 2])
    check(a[t([2, 0], device)], X[[2, 0]], M[[2, 0]])
    check(a[t([True, False, True], device)], X[[0, 2]], M[[0, 2]])
    check(a.unsqueeze(0), X[None], M[None])
    check(a.expand(2, 3, 5), np.broadcast_to(X, (2, 3, 5)), np.broadcast_to(M, (2, 3, 5)))
    check(ttorch.cat([a, a]), np.concatenate([X, X]), np.concatenate([M, M]))
    check(ttorch.stack([a, a], 1), np.stack([X, X], 1), np.stack([M, M], 1))
    parts = a.split(1)
    assert len(parts) == 3
    check(parts[2], X[2:], M[2:])
    f = a.to(ttorch.float32)
    assert f.dtype is ttorch.float32 and f.get_mask().dtype is ttorch.bool
    check(f, X, M)
    c = a.cpu()
    assert c.device.type == "cpu" and c.get_mask().device.type == "cpu"
    check(c, X, M)
    if ttorch.cuda.is_available():
        g = c.cuda()
        assert g.device.type == "cuda" and g.get_data().device.type == "cuda" and g.get_mask().is_cuda
        check(g, X, M)
    d = a.detach()
    check(d, X, M)
    check(a.clone(), X, M)
    np.testing.assert_array_equal(host(a.to_tensor(0)), np.where(M, X, 0))


def test_autograd(device):
    a = mt(device, requires_grad=True)
    assert a.requires_grad and a.is_leaf and a.grad is None
    s = a.sum()
    assert s.requires_grad and not s.is_leaf
    s.backward()
    g = a.grad
    assert isinstance(g, MaskedTensor)
    check(g, np.ones_like(X), M)
    b = mt(device, requires_grad=True)
    (b * b).sum().backward()
    check(b.grad, 2 * X, M)
    c = mt(device, requires_grad=True)
    c.sin().get_data().sum().backward()         # get_data keeps the graph
    check(c.grad, np.cos(X), M)
    e = mt(device, requires_grad=True)
    e.mean(1).sum().backward()
    check(e.grad, 1 / np.maximum(M.sum(1, keepdims=True), 1) * np.ones_like(X), M)
    x = t(X, device).requires_grad_()
    z = as_masked_tensor(x, t(M, device))
    assert z.requires_grad and not z.is_leaf
    z.amax(1).sum().backward()
    ref = np.zeros_like(X)
    ref[0, 2] = ref[2, 3] = 1
    np.testing.assert_array_equal(host(x.grad), ref)        # a plain gradient (PyTorch: a MaskedTensor)
    k = mt(device, requires_grad=True)
    k.softmax(1).sum(1).sum().backward()
    assert np.isfinite(host(k.grad.get_data())).all()


def test_maskedtensor_gradcheck():
    m = ttorch.tensor(M[[0, 2], :4])
    x = ttorch.tensor(X[[0, 2], :4], requires_grad=True)

    def f(a):
        z = as_masked_tensor(a, m)
        return ((z * z).exp() + z.softmax(1)).amax(1).to_tensor(0)
    assert gradcheck(f, (x,))
    assert gradcheck(lambda a: as_masked_tensor(a, m).mean(0).to_tensor(0.5), (x,))
