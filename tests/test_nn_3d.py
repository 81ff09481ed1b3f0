"""3-D convolutions and pooling: values against direct float64 NumPy loops (strides, padding, dilation,
groups, ceil_mode, divisors, adaptive windows), indices, gradients by gradcheck, the transposed
convolution as conv3d's adjoint, PyTorch's shapes and messages, and the modules on both devices."""
import itertools

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

from _helpers import close


def t(a, device="cpu", grad=False, dtype=None):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def npy(x):
    return x.detach().cpu().numpy()


def np_conv3d(x, w, b, stride, padding, dilation, groups):
    n, c, d, h, wd = x.shape
    o, cg, kd, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    out = [(s + 2 * p - dl * (k - 1) - 1) // st + 1
           for s, p, dl, k, st in zip((d, h, wd), padding, dilation, (kd, kh, kw), stride)]
    y = np.zeros((n, o) + tuple(out))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i, j, k in itertools.product(*[range(v) for v in out]):
            win = xp[:, g * cg:(g + 1) * cg,
                     i * stride[0]: i * stride[0] + dilation[0] * (kd - 1) + 1: dilation[0],
                     j * stride[1]: j * stride[1] + dilation[1] * (kh - 1) + 1: dilation[1],
                     k * stride[2]: k * stride[2] + dilation[2] * (kw - 1) + 1: dilation[2]]
            y[:, oc, i, j, k] = (win * w[oc]).sum(axis=(1, 2, 3, 4))
    return y if b is None else y + b[None, :, None, None, None]


@pytest.mark.parametrize("stride,padding,dilation,groups", [((1, 1, 1), (0, 0, 0), (1, 1, 1), 1),
                                                             ((2, 1, 2), (1, 0, 2), (1, 2, 1), 1),
                                                             ((1, 2, 1), (2, 1, 1), (2, 1, 1), 2)])
def test_conv3d_against_numpy(device, stride, padding, dilation, groups):
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 4, 7, 6, 5))
    w = r.standard_normal((6, 4 // groups, 3, 2, 3))
    b = r.standard_normal(6)
    want = np_conv3d(x, w, b, stride, padding, dilation, groups)
    got = F.conv3d(t(x, device, dtype=ttorch.float32), t(w, device, dtype=ttorch.float32),
                   t(b, device, dtype=ttorch.float32), stride, padding, dilation, groups)
    assert got.shape == want.shape and got.is_contiguous()
    close(got, want, ttorch.float32, 4 * 18, "conv3d")


def test_conv3d_gradients_and_same_padding():
    r = np.random.default_rng(1)
    x, w, b = (t(r.standard_normal(s), grad=True) for s in ((1, 2, 4, 3, 4), (3, 2, 2, 3, 2), (3,)))
    assert gradcheck(lambda x, w, b: F.conv3d(x, w, b, (2, 1, 1), (1, 1, 0), (1, 1, 2)), (x, w, b))
    # 'same' with even kernels pads the odd leftover on the right, as PyTorch does
    xs = r.standard_normal((1, 2, 5, 4, 6))
    ws = r.standard_normal((3, 2, 2, 3, 4))
    got = F.conv3d(t(xs), t(ws), padding="same")
    want = np_conv3d(np.pad(xs, ((0, 0), (0, 0), (0, 1), (0, 0), (1, 2))), ws, None, (1, 1, 1), (0, 1, 0),
                     (1, 1, 1), 1)
    np.testing.assert_allclose(npy(got), want, rtol=1e-10, atol=1e-10)


def test_conv_transpose3d_is_the_adjoint(device):
    """<conv3d(x, w), y> == <x, conv_transpose3d(y, w)> with output_padding filling the shape back."""
    r = np.random.default_rng(2)
    stride, padding, dilation, groups = (2, 1, 3), (1, 0, 1), (1, 2, 1), 2
    x = r.standard_normal((2, 4, 6, 5, 7))
    w = r.standard_normal((6, 2, 3, 2, 2))          # conv3d: 4 -> 6 channels; transposed: 6 -> 4
    y = np_conv3d(x, w, None, stride, padding, dilation, groups)
    yy = r.standard_normal(y.shape)
    out_pad = tuple(s - ((o - 1) * st - 2 * p + dl * (k - 1) + 1)
                    for s, o, st, p, dl, k in zip(x.shape[2:], y.shape[2:], stride, padding, dilation, w.shape[2:]))
    bias = r.standard_normal(4)
    got = F.conv_transpose3d(t(yy, device, dtype=ttorch.float32), t(w, device, dtype=ttorch.float32),
                             t(bias, device, dtype=ttorch.float32), stride, padding, out_pad, groups, dilation)
    assert got.shape == x.shape
    lhs = (y * yy).sum()
    rhs = (x * (npy(got).astype(np.float64) - bias[None, :, None, None, None])).sum()
    np.testing.assert_allclose(rhs, lhs, rtol=2e-4)
    if device == "cpu":
        w64, y64 = t(w, grad=True), t(yy[:1, :, :2, :2, :2], grad=True)
        assert gradcheck(lambda a, b: F.conv_transpose3d(a, b, None, 2, 1, 1, 2), (y64, w64))


def test_conv3d_modules_and_errors(device):
    m = nn.Conv3d(2, 4, (3, 1, 2), stride=(1, 2, 1), padding=(1, 0, 1), padding_mode="replicate").to(device)
    x = ttorch.randn(2, 2, 4, 5, 3, device=device)
    want = F.conv3d(F.pad(x, (1, 1, 0, 0, 1, 1), mode="replicate"), m.weight, m.bias, (1, 2, 1))
    close(m(x), npy(want), ttorch.float32, 12, "replicate padding")
    assert m(x[0]).shape == (4, 4, 3, 4)                      # unbatched
    tr = nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1).to(device)
    assert tr(ttorch.randn(1, 4, 2, 3, 3, device=device), output_size=(4, 6, 6)).shape == (1, 2, 4, 6, 6)
    assert repr(m).startswith("Conv3d(2, 4, kernel_size=(3, 1, 2), stride=(1, 2, 1)")
    with pytest.raises(RuntimeError, match="Expected 4D \\(unbatched\\) or 5D \\(batched\\) input to conv3d"):
        F.conv3d(ttorch.randn(2, 3, 4), ttorch.randn(1, 2, 1, 1, 1))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv3d(ttorch.randn(1, 1, 2, 5, 5), ttorch.randn(1, 1, 3, 1, 1))
    with pytest.raises(RuntimeError, match="expected input\\[1, 3, 4, 4, 4\\] to have 2 channels"):
        F.conv3d(ttorch.randn(1, 3, 4, 4, 4), ttorch.randn(1, 2, 1, 1, 1))


# ------------------------------------------------------------------------------ pooling
def np_pool3d(x, k, s, p, d, ceil_mode, kind, count_include_pad=True, divisor_override=None):
    """Direct loops: max (first maximum in (d, h, w) order, its flat index) or average."""
    n, c = x.shape[:2]
    sp = x.shape[2:]

    def out_len(sz, kk, pp, ss, dd):
        num = sz + 2 * pp - dd * (kk - 1) - 1
        o = (-(-num // ss) if ceil_mode else num // ss) + 1
        return o - 1 if ceil_mode and (o - 1) * ss >= sz + pp else o
    out = [out_len(*a) for a in zip(sp, k, p, s, d)]
    y = np.zeros((n, c) + tuple(out))
    idx = np.zeros((n, c) + tuple(out), dtype=np.int64)
    for o in itertools.product(*[range(v) for v in out]):
        starts = [oi * ss - pp for oi, ss, pp in zip(o, s, p)]
        taps = [[st + j * dd for j in range(kk)] for st, kk, dd in zip(starts, k, d)]
        inside = [[q for q in tp if 0 <= q < sz] for tp, sz in zip(taps, sp)]
        if kind == "max":
            best, where = np.full((n, c), -np.inf), np.zeros((n, c), dtype=np.int64)
            for q in itertools.product(*inside):
                v = x[(slice(None), slice(None)) + q]
                flat = (q[0] * sp[1] + q[1]) * sp[2] + q[2]
                take = v > best
                best, where = np.where(take, v, best), np.where(take, flat, where)
            y[(slice(None), slice(None)) + o], idx[(slice(None), slice(None)) + o] = best, where
        else:
            total = sum(x[(slice(None), slice(None)) + q] for q in itertools.product(*inside))
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = np.prod([min(st + kk, sz + pp) - st for st, kk, sz, pp in zip(starts, k, sp, p)])
            else:
                div = np.prod([len(v) for v in inside])
            y[(slice(None), slice(None)) + o] = total / div
    return y, idx


@pytest.mark.parametrize("k,s,p,d,ceil", [((2, 2, 2), (2, 2, 2), (0, 0, 0), (1, 1, 1), False),
                                          ((3, 2, 3), (2, 1, 2), (1, 1, 1), (1, 1, 1), True),
                                          ((2, 3, 2), (1, 2, 3), (1, 0, 1), (2, 1, 1), True)])
def test_max_pool3d_against_numpy(device, k, s, p, d, ceil):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 6, 7))
    want, widx = np_pool3d(x, k, s, p, d, ceil, "max")
    y, idx = F.max_pool3d(t(x, device, dtype=ttorch.float32), k, s, p, d, ceil_mode=ceil, return_indices=True)
    close(y, want, ttorch.float32, 1, "max_pool3d")
    np.testing.assert_array_equal(npy(idx), widx)
    m = nn.MaxPool3d(k, s, p, d, ceil_mode=ceil).to(device)
    close(m(t(x[0], device, dtype=ttorch.float32)), want[0], ttorch.float32, 1, "MaxPool3d unbatched")
    xi = t((x * 10).astype(np.int64), device)                  # integers: the same windows
    np.testing.assert_array_equal(npy(F.max_pool3d(xi, k, s, p, d, ceil_mode=ceil)),
                                  np_pool3d((x * 10).astype(np.int64).astype(float), k, s, p, d, ceil, "max")[0])


@pytest.mark.parametrize("include,override,ceil", [(True, None, False), (False, None, True), (True, 5, True)])
def test_avg_pool3d_against_numpy(device, include, override, ceil):
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 4, 6))
    k, s, p = (3, 2, 3), (2, 2, 2), (1, 1, 1)
    want, _ = np_pool3d(x, k, s, p, (1, 1, 1), ceil, "avg", include, override)
    got = F.avg_pool3d(t(x, device, dtype=ttorch.float32), k, s, p, ceil, include, override)
    close(got, want, ttorch.float32, 27, "avg_pool3d")
    m = nn.AvgPool3d(k, s, p, ceil, include, override).to(device)
    close(m(t(x, device, dtype=ttorch.float32)), want, ttorch.float32, 27, "AvgPool3d")


def test_adaptive_pool3d_against_numpy(device):
    x = np.random.default_rng(5).standard_normal((2, 3, 5, 7, 4))
    out = (2, 3, 4)

    def bounds(i, insz, o):
        return (i * insz) // o, -(-((i + 1) * insz) // o)
    want_avg, want_max = np.zeros((2, 3) + out), np.zeros((2, 3) + out)
    want_idx = np.zeros((2, 3) + out, dtype=np.int64)
    for o in itertools.product(*[range(v) for v in out]):
        sl = tuple(slice(*bounds(i, sz, oo)) for i, sz, oo in zip(o, x.shape[2:], out))
        win = x[(slice(None), slice(None)) + sl]
        want_avg[(..., *o)] = win.mean(axis=(2, 3, 4))
        want_max[(..., *o)] = win.max(axis=(2, 3, 4))
        flat = win.reshape(2, 3, -1).argmax(-1)
        dz, hz, wz = np.unravel_index(flat, win.shape[2:])
        want_idx[(..., *o)] = ((dz + sl[0].start) * 7 + hz + sl[1].start) * 4 + wz + sl[2].start
    xt = t(x, device, dtype=ttorch.float32)
    close(F.adaptive_avg_pool3d(xt, out), want_avg, ttorch.float32, 12, "adaptive_avg_pool3d")
    vals, idx = F.adaptive_max_pool3d(xt, out, return_indices=True)
    close(vals, want_max, ttorch.float32, 1, "adaptive_max_pool3d")
    np.testing.assert_array_equal(npy(idx), want_idx)
    assert nn.AdaptiveAvgPool3d((None, 1, 2)).to(device)(xt).shape == (2, 3, 5, 1, 2)
    assert nn.AdaptiveMaxPool3d(1, return_indices=True).to(device)(xt)[1].shape == (2, 3, 1, 1, 1)


def test_pool3d_gradients():
    r = np.random.default_rng(6)
    x = t(r.standard_normal((1, 2, 4, 3, 5)), grad=True)
    assert gradcheck(lambda v: F.max_pool3d(v, 2, 1, 1, ceil_mode=True), (x,))
    assert gradcheck(lambda v: F.avg_pool3d(v, (2, 3, 2), 2, (1, 1, 0), count_include_pad=False), (x,))
    assert gradcheck(lambda v: F.adaptive_avg_pool3d(v, (3, 2, 2)), (x,))
    assert gradcheck(lambda v: F.adaptive_max_pool3d(v, 2), (x,))
    with pytest.raises(RuntimeError, match="pad should be at most half of kernel size"):
        F.avg_pool3d(ttorch.randn(1, 1, 4, 4, 4), 2, padding=2)


def test_a_3d_cnn_trains(device):
    """Conv3d, BatchNorm3d, MaxPool3d, AdaptiveAvgPool3d and ConvTranspose3d in one model, a few SGD steps."""
    ttorch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2),
                          nn.ConvTranspose3d(4, 4, 2, stride=2), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                          nn.Linear(4, 2)).to(device)
    x = ttorch.randn(4, 1, 4, 4, 4, device=device)
    y = ttorch.tensor([0, 1, 0, 1], device=device)
    x[y == 1] += 1.0
    opt = ttorch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(8 if device == "cpu" else 3):        # (the simulated device runs every kernel in Python)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
