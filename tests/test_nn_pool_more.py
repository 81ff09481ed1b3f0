"""LP pooling, max unpooling, fractional max pooling, rrelu, the triplet loss with a distance function and
NLLLoss2d against float64 NumPy loops of PyTorch's definitions; gradcheck; PyTorch's errors; cpu and cuda.
Also the lazy modules' pickling and ``ttorch.save`` of their state dicts (PyTorch's weights_only rule)."""
import copy
import doctest
import io
import itertools
import math
import pickle
import sys
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck
from ttorch.nn.modules._hooks import RemovableHandle

from _helpers import close, to_np

f32, f64 = ttorch.float32, ttorch.float64


def T(a, device="cpu", dtype=f64, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def _windows(shape, k, s, ceil):
    """Per output position, the slices of its (unpadded) window, clipped to the input."""
    outs = []
    for n, kk, ss in zip(shape, k, s):
        num = n - kk
        o = (-(-num // ss) if ceil else num // ss) + 1
        if ceil and (o - 1) * ss >= n:
            o -= 1
        outs.append(o)
    for pos in itertools.product(*(range(o) for o in outs)):
        yield pos, tuple(slice(p * ss, min(p * ss + kk, n)) for p, ss, kk, n in zip(pos, s, k, shape)), outs


# ---------------------------------------------------------------------------------------------- references
def ref_lp_pool(x, p, k, s, ceil):
    """PyTorch's: (mean of x ** p over the clipped window * prod(k)) ** (1 / p); +-inf: max / min of |x|."""
    nd = len(k)
    lead, shape = x.shape[:-nd], x.shape[-nd:]
    outs = next(_windows(shape, k, s, ceil))[2]
    y = np.zeros(lead + tuple(outs))
    for pos, win, _ in _windows(shape, k, s, ceil):
        w = x[(...,) + win].reshape(lead + (-1,))
        if p == math.inf:
            y[(...,) + pos] = np.abs(w).max(-1)
        elif p == -math.inf:
            y[(...,) + pos] = np.abs(w).min(-1)
        else:
            y[(...,) + pos] = ((w ** p).mean(-1) * math.prod(k)) ** (1.0 / p)
    return y


def ref_max_unpool(v, idx, out):
    nd = len(out)
    lead = v.shape[:-nd]
    y = np.zeros((math.prod(lead), math.prod(out)))
    vf, i_f = v.reshape(len(y), -1), idx.reshape(len(y), -1)
    for plane in range(len(y)):
        for j in range(vf.shape[1]):
            y[plane, i_f[plane, j]] = vf[plane, j]
    return y.reshape(lead + tuple(out))


def ref_intervals(u, n_in, n_out, k, dt):
    """PyTorch's generate_intervals, in the samples' dtype ``dt`` (np.float32 or np.float64)."""
    u = dt(u)
    alpha = dt(n_in - k) / dt(n_out - 1) if n_out > 1 else dt(0)
    return [int(dt(dt(i) + u) * alpha) - int(u * alpha) for i in range(n_out - 1)] + [n_in - k][:n_out]


def ref_fractional(x, k, out, samples):
    """Loops of PyTorch's fractional max pooling: the 2-D kernel's samples are (W, H), the 3-D one's (T, H, W)."""
    nd = len(k)
    dt = np.float32 if x.dtype == np.float32 else np.float64
    batched = x.ndim == nd + 2
    xb = x if batched else x[None]
    n, c, spatial = xb.shape[0], xb.shape[1], xb.shape[2:]
    y, idx = np.zeros((n, c) + tuple(out)), np.zeros((n, c) + tuple(out), dtype=np.int64)
    order = (1, 0) if nd == 2 else (0, 1, 2)
    for b in range(n):
        for ch in range(c):
            starts = [ref_intervals(samples[b, ch, order[d]], spatial[d], out[d], k[d], dt) for d in range(nd)]
            for pos in itertools.product(*(range(o) for o in out)):
                best, where = -np.inf, None
                for off in itertools.product(*(range(kk) for kk in k)):
                    q = tuple(starts[d][pos[d]] + off[d] for d in range(nd))
                    if where is None or xb[(b, ch) + q] > best:   # the first maximum wins
                        best, where = xb[(b, ch) + q], np.ravel_multi_index(q, spatial)
                y[(b, ch) + pos], idx[(b, ch) + pos] = best, where
    return (y, idx) if batched else (y[0], idx[0])


def ref_pairwise(a, b, eps=1e-6):
    return np.sqrt(((a - b + eps) ** 2).sum(-1))


# ---------------------------------------------------------------------------------------------- LP pooling
@pytest.mark.parametrize("nd,shape,k,s,ceil", [(1, (2, 3, 11), 3, 2, False), (1, (3, 9), 2, None, True),
                                               (2, (2, 3, 7, 8), 3, 2, True), (2, (3, 6, 5), (2, 3), (1, 2), False),
                                               (3, (1, 2, 5, 6, 7), 2, None, True)])
@pytest.mark.parametrize("p", [1, 2, 3, 1.5, math.inf, -math.inf])
def test_lp_pool_values(nd, shape, k, s, ceil, p):
    x = np.abs(np.random.randn(*shape)) + 0.05 if p in (1, 1.5) else np.random.randn(*shape)
    kt = (k,) * nd if isinstance(k, int) else k
    st = kt if s is None else ((s,) * nd if isinstance(s, int) else s)
    y = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[nd - 1](T(x), p, k, s, ceil)
    want = ref_lp_pool(x, p, kt, st, ceil)
    close(y, want, f64)     # nan where an odd p meets a negative window sum, in both


def test_lp_pool_grad_and_zero_window():
    x = T(np.abs(np.random.randn(2, 5, 6)) + 0.1, grad=True)
    assert gradcheck(lambda t: F.lp_pool2d(t, 3, 2, 1, True), (x,))
    assert gradcheck(lambda t: F.lp_pool1d(t, math.inf, 3, 2), (T(np.random.randn(2, 7), grad=True),))
    # a window of zeros: gradient 0 (PyTorch's documented rule), not nan
    z = T([[0., 0., 3., 4.]], grad=True)
    y = F.lp_pool1d(z, 2, 2)
    y.sum().backward()
    np.testing.assert_allclose(to_np(y), [[0., 5.]])
    np.testing.assert_allclose(to_np(z.grad), [[0., 0., 0.6, 0.8]])


def test_lp_pool_modules_and_errors():
    m = nn.LPPool2d(2, 3, stride=2, ceil_mode=True)
    assert repr(m) == "LPPool2d(norm_type=2, kernel_size=3, stride=2, ceil_mode=True)"
    x = np.random.randn(2, 7, 7)
    close(m(T(x)), ref_lp_pool(x, 2, (3, 3), (2, 2), True), f64)
    assert nn.LPPool1d(1, 2)(T(np.ones((1, 1, 4)))).tolist() == [[[2.0, 2.0]]]
    assert nn.LPPool3d(2, (1, 2, 2))(ttorch.ones(3, 2, 4, 4)).shape == (3, 2, 2, 2)
    with pytest.raises(ZeroDivisionError):
        F.lp_pool2d(ttorch.ones(1, 4, 4), 0, 2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.lp_pool2d(ttorch.ones(1, 4, 4), 2, 5)


def test_lp_pool_device(device):
    x = np.random.randn(1, 2, 5, 5).astype(np.float32)
    t = T(x, device, f32, grad=True)
    y = F.lp_pool2d(t, 2, 2, 1)
    close(y, ref_lp_pool(x.astype(np.float64), 2, (2, 2), (1, 1), False), f32)
    y.sum().backward()
    assert t.grad.device.type == device and np.isfinite(to_np(t.grad)).all()


# ---------------------------------------------------------------------------------------------- max unpooling
@pytest.mark.parametrize("nd,shape,k,s,p,osz", [(1, (2, 3, 10), 2, None, 0, None), (1, (3, 11), 3, 2, 1, [11]),
                                                (2, (2, 3, 6, 7), 2, None, 0, (6, 7)), (2, (3, 7, 7), 3, 2, 1, None),
                                                (2, (1, 2, 5, 5), 3, 1, 0, None),        # overlapping windows
                                                (3, (2, 1, 4, 4, 6), 2, None, 0, None),
                                                (3, (2, 5, 5, 5), 3, 2, 1, [1, 1, 5, 5, 5])])
def test_max_unpool_values_and_grad(nd, shape, k, s, p, osz):
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
    unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[nd - 1]
    x = T(np.random.randn(*shape))
    v, i = pool(x, k, s, p, return_indices=True)
    v = v.detach().requires_grad_(True)
    y = unpool(v, i, k, s, p, osz)
    kt, st = (k,) * nd, ((k if s is None else s),) * nd
    out = list(osz[-nd:]) if osz is not None else [(n - 1) * ss + kk - 2 * p for n, ss, kk in
                                                   zip(v.shape[-nd:], st, kt)]
    close(y, ref_max_unpool(to_np(v), to_np(i), out), f64)
    w = np.random.randn(*y.shape)
    y.backward(T(w))
    want = np.take_along_axis(w.reshape(v.shape[:-nd] + (-1,)), to_np(i).reshape(v.shape[:-nd] + (-1,)), -1)
    close(v.grad, want.reshape(v.shape), f64)       # PyTorch's backward: a gather, duplicates included
    flat = to_np(i).reshape(-1, math.prod(v.shape[-nd:]))
    if all(len(set(row)) == len(row) for row in flat):   # (a repeated position hides all writes but one)
        assert gradcheck(lambda t: unpool(t, i, k, s, p, osz), (T(np.random.randn(*v.shape), grad=True),))


def test_max_unpool_modules():
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = T(np.arange(20.).reshape(1, 1, 4, 5))
    y = unpool(*pool(x), output_size=x.size())
    assert y.shape == (1, 1, 4, 5) and y.sum().item() == 6 + 8 + 16 + 18
    assert repr(unpool) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.MaxUnpool1d(2, 1)) == "MaxUnpool1d(kernel_size=(2,), stride=(1,), padding=(0,))"
    assert repr(nn.MaxUnpool3d(3, 2, 1)) == "MaxUnpool3d(kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1))"
    assert nn.MaxUnpool1d(2)(*nn.MaxPool1d(2, return_indices=True)(ttorch.randn(3, 8))).shape == (3, 8)
    empty = ttorch.zeros(0, 2, 2, 2, dtype=ttorch.int64)
    assert F.max_unpool2d(ttorch.ones(0, 2, 2, 2), empty, 2).shape == (0, 2, 4, 4)


_V, _I = ttorch.ones(1, 2, 2, 2), ttorch.zeros(1, 2, 2, 2, dtype=ttorch.int64)
_V3, _I3 = ttorch.ones(1, 2, 2, 2, 2), ttorch.zeros(1, 2, 2, 2, 2, dtype=ttorch.int64)
UNPOOL_ERRORS = [
    (lambda: F.max_unpool2d(_V, _I, 2, output_size=(7, 4)), ValueError,
     'invalid output_size "(7, 4)" (dim 0 must be between 2 and 6)'),
    (lambda: F.max_unpool2d(_V, _I, 2, output_size=(1, 2, 3)), ValueError,
     "output_size should be a sequence containing 2 or 4 elements, but it has a length of '3'"),
    (lambda: F.max_unpool2d(_V, _I, 1, output_size=(-1, 2)), ValueError,
     'invalid output_size "(-1, 2)" (dim 0 must be between 1 and 3)'),
    (lambda: F.max_unpool2d(_V, _I.int(), 2), RuntimeError, "elements in indices should be type int64 but got: Int"),
    (lambda: F.max_unpool3d(_V3, _I3.int(), 2), RuntimeError, "elements in indices should be type int64"),
    (lambda: F.max_unpool2d(_V, _I[..., :1], 2), RuntimeError, "Expected shape of indices to be same as that of the "
     "input tensor ([1, 2, 2, 2]) but got indices tensor with shape: [1, 2, 2, 1]"),
    (lambda: F.max_unpool2d(_V, _I + torch_like_index(), 2), RuntimeError,
     "Found an invalid max index: 117 (output volumes are of size 4x4)"),
    (lambda: F.max_unpool2d(_V, _I - 3, 2), RuntimeError,
     "Found an invalid max index: -3 (output volumes are of size 4x4)"),
    (lambda: F.max_unpool1d(_V[0], _I[0] + 9, 2), RuntimeError,
     "Found an invalid max index: 9 (output volumes are of size 4x1)"),
    (lambda: F.max_unpool3d(_V3, _I3 + 64, 2), RuntimeError,
     "Found an invalid max index: 64 (output volumes are of size 4x4x4)"),
    (lambda: F.max_unpool2d(_V[0, 0], _I[0, 0], 2), RuntimeError,
     "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 dimensions."),
    (lambda: F.max_unpool1d(_V, _I, 2), RuntimeError,
     "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 5 dimensions."),
    (lambda: F.max_unpool3d(_V3[0, 0], _I3[0, 0], 2), RuntimeError,
     "Input to max_unpooling3d should be a 4d or 5d Tensor, but got a tensor with 3 dimensions."),
    (lambda: F.max_unpool3d(_V3, _I3, 2, stride=0), RuntimeError, "strides should be greater than zero, but got "
     "stride: [0, 0, 0]"),
    (lambda: F.max_unpool2d(_V[:, :, :0], _I[:, :, :0], 2), RuntimeError, "max_unpooling2d_forward_out_cpu(): "
     "Expected input to have non-zero size for non-batch dimensions, but got [1, 2, 0, 2] with dimension 2 being "
     "empty."),
]


def torch_like_index():
    """Offsets that put two of the eight indices out of range, the last one at 117."""
    return ttorch.tensor([0, 0, 0, 20, 0, 0, 0, 117], dtype=ttorch.int64).reshape(1, 2, 2, 2)


@pytest.mark.parametrize("k", range(len(UNPOOL_ERRORS)))
def test_max_unpool_errors(k):
    fn, exc, msg = UNPOOL_ERRORS[k]
    with pytest.raises(exc) as e:
        fn()
    assert str(e.value) == msg


def test_max_unpool_device(device):
    x = T(np.random.randn(1, 2, 4, 5), device, f32)
    v, i = F.max_pool2d(x, 2, return_indices=True)
    v = v.detach().requires_grad_(True)
    y = F.max_unpool2d(v, i, 2, output_size=(4, 5))
    close(y, ref_max_unpool(to_np(v).astype(np.float64), to_np(i), [4, 5]), f32)
    y.backward(ttorch.ones_like(y) * 2)
    assert v.grad.device.type == device and (to_np(v.grad) == 2).all()


# ---------------------------------------------------------------------------------------------- fractional
@pytest.mark.parametrize("dt", [f32, f64])
@pytest.mark.parametrize("nd,shape,k,osz,ratio", [(2, (2, 3, 7, 9), 2, 3, None), (2, (3, 10, 13), (3, 2), (5, 7), None),
                                                  (2, (1, 2, 50, 32), 3, (13, 12), None),
                                                  (2, (1, 2, 11, 17), 2, None, 0.5), (2, (2, 1, 9, 9), 2, (8, 1), None),
                                                  (3, (2, 2, 5, 7, 6), 2, 3, None),
                                                  (3, (2, 9, 8, 11), (2, 3, 2), (4, 3, 5), None)])
def test_fractional_values_indices_grad(dt, nd, shape, k, osz, ratio):
    n = shape[0] if len(shape) == nd + 2 else 1
    npdt = np.float32 if dt is f32 else np.float64
    samples = np.random.random_sample((n + 1, shape[-nd - 1], nd)).astype(npdt)     # a row more than needed
    x = np.random.randn(*shape).astype(npdt)
    t = T(x, dtype=dt, grad=True)
    f = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    y, i = f(t, k, osz, ratio, True, T(samples, dtype=dt))
    kt = (k,) * nd if isinstance(k, int) else k
    out = (tuple(int(s * ratio) for s in shape[-nd:]) if osz is None else
           (osz,) * nd if isinstance(osz, int) else osz)
    want, want_i = ref_fractional(x, kt, out, samples)
    np.testing.assert_array_equal(to_np(i), want_i)
    np.testing.assert_array_equal(to_np(y), want.astype(npdt))
    w = np.random.randn(*y.shape)
    y.backward(T(w, dtype=dt))
    g = np.zeros(x.shape[:-nd] + (math.prod(x.shape[-nd:]),))
    for pos in np.ndindex(*want_i.shape):
        g[pos[:-nd] + (want_i[pos],)] += w[pos]
    close(t.grad, g.reshape(x.shape), dt)


def test_fractional_float32_windows():
    # a sample where float32 and float64 arithmetic place a window differently: PyTorch's (scalar_t) choice
    u = 0.5517239570617676
    for dt, npdt in ((f32, np.float32), (f64, np.float64)):
        x = ttorch.arange(31.0 * 31, dtype=dt).reshape(1, 1, 31, 31)
        _, i = F.fractional_max_pool2d(x, 2, (11, 11), return_indices=True,
                                       _random_samples=ttorch.tensor([[[u, u]]], dtype=dt))
        assert (i[0, 0, 0] % 31 - 1).tolist() == ref_intervals(u, 31, 11, 2, npdt)
    assert ref_intervals(u, 31, 11, 2, np.float32) != ref_intervals(u, 31, 11, 2, np.float64)


def test_fractional_gradcheck_ties_and_defaults():
    x = T(np.random.permutation(60).reshape(1, 2, 5, 6) / 7.0, grad=True)
    s = T(np.random.random_sample((1, 2, 2)))
    assert gradcheck(lambda t: F.fractional_max_pool2d(t, 2, (3, 4), _random_samples=s), (x,))
    x3 = T(np.random.permutation(64).reshape(1, 4, 4, 4) / 9.0, grad=True)
    s3 = T(np.random.random_sample((1, 1, 3)))
    assert gradcheck(lambda t: F.fractional_max_pool3d(t, 2, 2, _random_samples=s3), (x3,))
    # ties: the first maximum in row-major window order, as PyTorch's loop
    y, i = F.fractional_max_pool2d(ttorch.ones(1, 1, 3, 3), 2, 2, return_indices=True,
                                   _random_samples=ttorch.full((1, 1, 2), 0.3))
    assert i.tolist() == [[[[0, 1], [3, 4]]]]
    # drawn samples, output_ratio, unbatched, empty batch, a zero output size
    assert F.fractional_max_pool2d(ttorch.randn(3, 10, 9), 3, output_ratio=(0.5, 0.5)).shape == (3, 5, 4)
    assert F.fractional_max_pool3d_with_indices(ttorch.randn(2, 6, 6, 6), 2, 3)[1].shape == (2, 3, 3, 3)
    assert F.fractional_max_pool2d(ttorch.randn(0, 2, 5, 5), 2, 2, _random_samples=ttorch.rand(0, 2, 2)).shape == (
        0, 2, 2, 2)
    assert F.fractional_max_pool2d(ttorch.randn(1, 2, 5, 5), 2, 0).shape == (1, 2, 0, 0)


def test_fractional_modules():
    s = ttorch.rand(2, 3, 2)
    m = nn.FractionalMaxPool2d(2, output_ratio=0.5, return_indices=True, _random_samples=s)
    assert repr(m) == "FractionalMaxPool2d()" and [k for k, _ in m.named_buffers()] == ["_random_samples"]
    x = ttorch.randn(2, 3, 8, 9)
    y, i = m(x)
    y2, i2 = F.fractional_max_pool2d(x, 2, (4, 4), return_indices=True, _random_samples=s)
    assert y.shape == (2, 3, 4, 4) and ttorch.equal(y, y2) and ttorch.equal(i, i2)
    assert nn.FractionalMaxPool3d(2, (2, 3, 2))(ttorch.randn(3, 5, 6, 5)).shape == (3, 2, 3, 2)
    assert nn.FractionalMaxPool3d(2, output_ratio=0.5).output_ratio == (0.5, 0.5, 0.5)


_X = ttorch.randn(2, 3, 7, 9)
_S = ttorch.rand(2, 3, 2)
_X3, _S3 = ttorch.randn(2, 3, 5, 7, 6), ttorch.rand(2, 3, 3)
FRACTIONAL_ERRORS = [
    (lambda: F.fractional_max_pool2d(_X, 2), ValueError,
     "fractional_max_pool2d requires specifying either an output_size or an output_ratio"),
    (lambda: F.fractional_max_pool3d(_X3, 2), ValueError,
     "fractional_max_pool3d requires specifying either an output_size or an output_ratio"),
    (lambda: F.fractional_max_pool2d(_X, 2, output_ratio=(0.5, 0.5, 0.5)), ValueError,
     "fractional_max_pool2d requires output_ratio to either be a single Int or tuple of Ints."),
    (lambda: F.fractional_max_pool2d(_X, 3, (6, 4), _random_samples=_S), RuntimeError,
     "fractional_max_pool2d(): pool height 3 too large relative to input height 7"),
    (lambda: F.fractional_max_pool2d(_X, 3, (4, 8), _random_samples=_S), RuntimeError,
     "fractional_max_pool2d(): pool width 3 too large relative to input width 9"),
    (lambda: F.fractional_max_pool3d(_X3, 3, (4, 2, 2), _random_samples=_S3), RuntimeError,
     "fractional_max_pool3d_out(): pool time 3 too large relative to input time 5"),
    (lambda: F.fractional_max_pool2d(_X, 2, 3, _random_samples=_S[:1]), RuntimeError,
     "Expect _random_samples.size(0) no less then input batch size."),
    (lambda: F.fractional_max_pool2d(_X, 2, 3, _random_samples=_S[:, :1]), RuntimeError,
     "Expect _random_samples.size(1) equals to input channel size."),
    (lambda: F.fractional_max_pool2d(_X, 2, 3, _random_samples=_S[..., :1]), RuntimeError,
     "Expect _random_samples.size(2) equals to 2; got 1."),
    (lambda: F.fractional_max_pool3d(_X3, 2, 3, _random_samples=_S3[..., :2]), RuntimeError,
     "Expect _random_samples.size(2) equals to 3; got 2."),
    (lambda: F.fractional_max_pool2d(_X, 2, 3, _random_samples=_S[0]), RuntimeError,
     "Expect _random_samples to have 3 dimensions, got 2"),
    (lambda: F.fractional_max_pool2d(_X, 2, 3, _random_samples=_S.double()), RuntimeError,
     "Expect _random_samples to have the same dtype as input"),
    (lambda: F.fractional_max_pool2d(_X[0, 0], 2, 3, _random_samples=_S), RuntimeError,
     "fractional_max_pool2d(): Expected 3D or 4D tensor, but got: [7, 9]"),
    (lambda: F.fractional_max_pool3d(_X3[0, 0], 2, 2, _random_samples=_S3), RuntimeError,
     "fractional_max_pool3d_out(): Expected 4D or 5D tensor, but got: [5, 7, 6]"),
    (lambda: F.fractional_max_pool2d(_X[:, :, :0], 2, 3, _random_samples=_S), RuntimeError,
     "fractional_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, but got[2, 3, 0, 9] "
     "with dimension 2 being empty."),
    (lambda: F.fractional_max_pool2d(_X, (2, 2, 2), 3, _random_samples=_S), RuntimeError,
     "fractional_max_pool2d: kernel_size must either be a single Int or tuple of Ints"),
    (lambda: F.fractional_max_pool3d(_X3, 2, (3, 3), _random_samples=_S3), RuntimeError,
     "fractional_max_pool3d: output_size must either be a single Int or tuple of three Ints"),
    (lambda: nn.FractionalMaxPool2d(2), ValueError,
     "FractionalMaxPool2d requires specifying either an output size, or a pooling ratio"),
    (lambda: nn.FractionalMaxPool2d(2, 3, 0.5), ValueError,
     "only one of output_size and output_ratio may be specified"),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=1.5), ValueError, "output_ratio must be between 0 and 1 (got 1.5)"),
    (lambda: nn.FractionalMaxPool3d(0, 2), ValueError, "kernel_size must be greater than 0, but got 0"),
    (lambda: F.fractional_max_pool2d(_X, 0, 3, _random_samples=_S), RuntimeError,        # PyTorch: -inf windows
     "fractional_max_pool2d(): kernel_size must be greater than zero, but got [0, 0]"),
]


@pytest.mark.parametrize("k", range(len(FRACTIONAL_ERRORS)))
def test_fractional_errors(k):
    fn, exc, msg = FRACTIONAL_ERRORS[k]
    with pytest.raises(exc) as e:
        fn()
    assert str(e.value) == msg


def test_fractional_device(device):
    x = np.random.randn(1, 2, 5, 6).astype(np.float32)
    s = np.random.random_sample((1, 2, 2)).astype(np.float32)
    t = T(x, device, f32, grad=True)
    y, i = F.fractional_max_pool2d(t, 2, (3, 4), return_indices=True, _random_samples=T(s, device, f32))
    want, want_i = ref_fractional(x, (2, 2), (3, 4), s)
    np.testing.assert_array_equal(to_np(i), want_i)
    np.testing.assert_array_equal(to_np(y), want.astype(np.float32))
    y.sum().backward()
    g = np.zeros((1, 2, 30))
    np.add.at(g, (0, np.arange(2)[:, None], want_i.reshape(2, -1)), 1.0)
    close(t.grad, g.reshape(x.shape), f32)


# ---------------------------------------------------------------------------------------------- rrelu
def test_rrelu_eval_exact():
    x = np.random.randn(4, 7).astype(np.float32)
    x[0, :3] = 0
    for lo, up in ((0.1, 0.3), (1 / 8, 1 / 3)):
        t = T(x, dtype=f32, grad=True)
        y = F.rrelu(t, lo, up)
        slope = np.float32((lo + up) / 2)
        np.testing.assert_array_equal(to_np(y), np.where(x > 0, x, x * slope))
        y.sum().backward()
        np.testing.assert_array_equal(to_np(t.grad), np.where(x > 0, 1, slope).astype(np.float32))
    m = nn.RReLU(0.05, 0.5).eval()
    np.testing.assert_array_equal(to_np(m(T(x, dtype=f32))), np.where(x > 0, x, x * np.float32(0.275)))
    assert repr(nn.RReLU()) == "RReLU(lower=0.125, upper=0.3333333333333333)"
    assert repr(nn.RReLU(0.1, 0.3, True)) == "RReLU(lower=0.1, upper=0.3, inplace=True)"


def test_rrelu_training_noise():
    x = np.random.randn(20000)
    t = T(x, grad=True)
    y = F.rrelu(t, 0.1, 0.4, training=True)
    y.sum().backward()
    yn, g, neg = to_np(y), to_np(t.grad), x <= 0
    np.testing.assert_array_equal(yn[~neg], x[~neg])
    r = yn[neg] / x[neg]                        # the noise, reconstructed
    assert r.min() >= 0.1 and r.max() <= 0.4 and abs(r.mean() - 0.25) < 0.005 and abs(r.var() - 0.0075) < 5e-4
    np.testing.assert_allclose(g[neg], r, rtol=1e-12)
    assert (g[~neg] == 1).all()
    # a fixed seed fixes the noise: gradcheck through it
    seeded = lambda u: (ttorch.manual_seed(3), F.rrelu(u, training=True))[1]      # noqa: E731
    assert gradcheck(seeded, (T(np.random.randn(9), grad=True),))
    # in place (rrelu_ and the module), and train mode of the module
    z = -ttorch.ones(1000, dtype=f64)
    assert F.rrelu_(z, 0.2, 0.3, training=True) is z and ((-z >= 0.2) & (-z <= 0.3)).all()
    m = nn.RReLU(0.2, 0.3, inplace=True)
    w = -ttorch.ones(100)
    m(w)
    assert ((-w >= 0.2) & (-w <= 0.3)).all() and w.unique().numel() > 50
    with pytest.raises(RuntimeError, match="Lower bound should be less than or equal to the upper bound"):
        F.rrelu(ttorch.randn(3), 0.5, 0.1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.rrelu(ttorch.randn(3, requires_grad=True), training=True, inplace=True)


def test_rrelu_device(device):
    x = T([-2., -1., 0.5, 3.], device, f32, grad=True)
    np.testing.assert_allclose(to_np(F.rrelu(x, 0.2, 0.4)), [-0.6, -0.3, 0.5, 3.], rtol=1e-6)
    y = F.rrelu(x, 0.2, 0.4, training=True)
    y.sum().backward()
    r = to_np(y)[:2] / np.array([-2., -1.])
    assert ((r >= 0.2) & (r <= 0.4)).all() and to_np(y)[2:].tolist() == [0.5, 3.0]
    np.testing.assert_allclose(to_np(x.grad), list(r) + [1., 1.], rtol=1e-6)


# ---------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss(reduction, swap):
    a, p, n = (np.random.randn(5, 4) for _ in range(3))
    d = ref_pairwise
    dn = np.minimum(d(a, n), d(p, n)) if swap else d(a, n)
    want = np.maximum(1.0 + d(a, p) - dn, 0)
    want = want.mean() if reduction == "mean" else want.sum() if reduction == "sum" else want
    ts = [T(v, grad=True) for v in (a, p, n)]
    close(F.triplet_margin_with_distance_loss(*ts, swap=swap, reduction=reduction), want, f64)
    cos = lambda u, v: 1.0 - F.cosine_similarity(u, v)           # noqa: E731
    assert gradcheck(lambda *u: F.triplet_margin_with_distance_loss(*u, distance_function=cos, margin=0.7, swap=swap,
                                                                    reduction=reduction), ts)
    m = nn.TripletMarginWithDistanceLoss(swap=swap, reduction=reduction)
    close(m(*ts), want, f64)


def test_triplet_with_distance_module_and_errors(device):
    m = nn.TripletMarginWithDistanceLoss()
    assert repr(m) == "TripletMarginWithDistanceLoss(\n  (distance_function): PairwiseDistance()\n)"
    assert [k for k, _ in m.named_modules()] == ["", "distance_function"] and not m.state_dict()
    a, p, n = (T(np.random.randn(4), device, f32) for _ in range(3))   # unbatched
    want = max(1.0 + ref_pairwise(to_np(a), to_np(p)) - ref_pairwise(to_np(a), to_np(n)), 0)
    close(F.triplet_margin_with_distance_loss(a, p, n, reduction="none"), np.float64(want), f32)
    l1 = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1), margin=4.0)
    z = ttorch.zeros(2, 3, device=device)
    assert abs(l1(z, z + 1, z + 2).item() - 1.0) < 1e-5
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0)
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.triplet_margin_with_distance_loss(a, a, a, reduction="foo")
    with pytest.raises(RuntimeError, match="anchor 1D, positive 1D, and negative 2D inputs"):
        F.triplet_margin_with_distance_loss(a, a, a[None])
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: expected margin to be greater than 0, got -1"):
        nn.TripletMarginWithDistanceLoss(margin=-1)
    with pytest.raises(TypeError):
        nn.TripletMarginWithDistanceLoss(None)                        # keyword-only, as PyTorch's


def test_nll_loss_2d():
    x, y = ttorch.randn(2, 3, 4, 5).log_softmax(1), ttorch.randint(0, 3, (2, 4, 5))
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead"):
        m = nn.NLLLoss2d(ignore_index=1, reduction="sum")
    assert isinstance(m, nn.NLLLoss) and repr(m) == "NLLLoss2d()"
    assert ttorch.equal(m(x, y), nn.NLLLoss(ignore_index=1, reduction="sum")(x, y))


# ---------------------------------------------------------------------------------------------- lazy modules
def test_pickle_lazy_module_before_its_first_call():
    m = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(2))
    c = pickle.loads(pickle.dumps(m))
    h = c[0]._initialize_hook
    # the handle points at the copy's own hook dicts (pickled with the module), as PyTorch's
    assert h.hooks_dict_ref() is c[0]._forward_pre_hooks
    assert [r() for r in h.extra_dict_ref] == [c[0]._forward_pre_hooks_with_kwargs]
    assert RemovableHandle.next_id > h.id
    assert c(ttorch.ones(4, 5)).shape == (4, 2) and type(c[0]) is nn.Linear and c[0].in_features == 5
    assert not c[0]._forward_pre_hooks and not c[0]._load_state_dict_pre_hooks
    assert type(m[0]) is nn.LazyLinear and m[0]._forward_pre_hooks          # the original is untouched
    assert m(ttorch.ones(1, 7)).shape == (1, 2) and m[0].in_features == 7
    d = copy.deepcopy(nn.LazyLinear(2))
    assert d._initialize_hook.hooks_dict_ref() is d._forward_pre_hooks
    # a handle pickled alone, its dicts gone: dead references, remove() does nothing
    h = nn.Linear(2, 2).register_forward_hook(lambda *a: None)
    h2 = pickle.loads(pickle.dumps(h))
    assert h2.hooks_dict_ref() is None and h2.extra_dict_ref == () and h2.id == h.id
    h2.remove()


def test_save_lazy_state_dict_follows_weights_only():
    from ttorch.serialization import safe_globals
    m = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    m[0].bias.requires_grad = False
    buf = io.BytesIO()
    ttorch.save(m.state_dict(), buf)
    # PyTorch pickles UninitializedParameter as its class: weights_only loading refuses it
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed.*UninitializedParameter"):
        ttorch.load(io.BytesIO(buf.getvalue()))
    sd = ttorch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    assert [type(v).__name__ for v in sd.values()] == ["UninitializedParameter"] * 4 + ["UninitializedBuffer"] * 2 + [
        "Tensor"]
    assert sd["0.weight"].requires_grad and not sd["0.bias"].requires_grad and sd["1.num_batches_tracked"].item() == 0
    with safe_globals([nn.UninitializedParameter, nn.UninitializedBuffer]):
        assert list(ttorch.load(io.BytesIO(buf.getvalue()))) == list(sd)
    other = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    assert not other.load_state_dict(sd).missing_keys and other(ttorch.randn(4, 5)).shape == (4, 3)
    with pytest.raises(TypeError, match="Save its state_dict"):     # ttorch.save stores data, never modules
        ttorch.save(m, io.BytesIO())


# ---------------------------------------------------------------------------------------------- doctests
def test_docstring_examples():
    from ttorch.nn.functional import pooling, pooling_indices
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    objs = [pooling_indices, pooling.lp_pool1d, pooling.lp_pool2d, pooling.lp_pool3d, F.rrelu,
            F.triplet_margin_with_distance_loss, nn.LPPool1d, nn.LPPool2d, nn.LPPool3d, nn.MaxUnpool1d, nn.MaxUnpool2d,
            nn.MaxUnpool3d, nn.FractionalMaxPool2d, nn.FractionalMaxPool3d, nn.RReLU, nn.TripletMarginWithDistanceLoss]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for obj in objs:
            module = sys.modules[obj.__name__ if isinstance(obj, type(sys)) else obj.__module__]
            for test in finder.find(obj, module=module, globs={"ttorch": ttorch}):
                runner.run(test)
    assert runner.failures == 0 and runner.tries >= 25
