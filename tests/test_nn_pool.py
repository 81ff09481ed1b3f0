"""Pooling, pixel shuffle and interpolate against NumPy loops of PyTorch's formulas; gradcheck; cpu-vs-cuda."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

from _helpers import close, to_np

f32, f64 = ttorch.float32, ttorch.float64


def T(a, device="cpu", dtype=f32, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def out_len(n, k, p, s, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1
    o = (math.ceil(num / s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def ref_max_pool2d(x, k, s, p, d, ceil):
    n_, c, h, w = x.shape
    oh, ow = out_len(h, k[0], p[0], s[0], d[0], ceil), out_len(w, k[1], p[1], s[1], d[1], ceil)
    y, idx = np.full((n_, c, oh, ow), -np.inf), np.full((n_, c, oh, ow), -1)
    for n in range(n_):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    for a in range(k[0]):
                        for b in range(k[1]):
                            r, q = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
                            if 0 <= r < h and 0 <= q < w and x[n, ch, r, q] > y[n, ch, i, j]:  # first max wins
                                y[n, ch, i, j], idx[n, ch, i, j] = x[n, ch, r, q], r * w + q
    return y, idx


def ref_avg_pool2d(x, k, s, p, ceil, include_pad, divisor):
    n_, c, h, w = x.shape
    oh, ow = out_len(h, k[0], p[0], s[0], 1, ceil), out_len(w, k[1], p[1], s[1], 1, ceil)
    y = np.zeros((n_, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s[0] - p[0], j * s[1] - p[1]
            he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
            pool = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            div = divisor or (pool if include_pad else (he - hs) * (we - ws))
            y[:, :, i, j] = x[:, :, hs:he, ws:we].sum(axis=(2, 3)) / div
    return y


def ref_adaptive(x, out, fn):
    h, w = x.shape[-2:]
    y = np.zeros(x.shape[:-2] + out)
    for i in range(out[0]):
        for j in range(out[1]):
            hs, he = (i * h) // out[0], -(-((i + 1) * h) // out[0])
            ws, we = (j * w) // out[1], -(-((j + 1) * w) // out[1])
            y[..., i, j] = fn(x[..., hs:he, ws:we], axis=(-2, -1))
    return y


# ---------------------------------------------------------------- max / avg pooling

@pytest.mark.parametrize("k,s,p,d,ceil", [((2, 2), (2, 2), (0, 0), (1, 1), False),
                                          ((3, 2), (2, 1), (1, 1), (1, 1), True),
                                          ((2, 3), (1, 2), (1, 0), (2, 1), True),
                                          ((3, 3), (3, 3), (1, 1), (1, 1), True)])
def test_max_pool2d_matches_loop(device, k, s, p, d, ceil):
    x = np.random.randn(2, 3, 7, 6)
    y, i = F.max_pool2d(T(x, device), k, s, p, d, ceil_mode=ceil, return_indices=True)
    ey, ei = ref_max_pool2d(x, k, s, p, d, ceil)
    close(y, ey, f32)
    np.testing.assert_array_equal(i.cpu().numpy(), ei)
    assert i.dtype == ttorch.int64


def test_max_pool1d_and_unbatched(device):
    x = np.random.randn(2, 3, 9)
    y, i = F.max_pool1d(T(x, device), 3, 2, 1, return_indices=True, ceil_mode=True)
    ey, ei = ref_max_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), (1, 1), True)
    close(y, ey[:, :, 0], f32)
    np.testing.assert_array_equal(i.cpu().numpy(), ei[:, :, 0])
    close(F.max_pool2d(T(x, device), 2), ref_max_pool2d(x[None], (2, 2), (2, 2), (0, 0), (1, 1), False)[0][0], f32)


def test_max_pool_grad_goes_to_first_max(device):
    x = T([[[[1.0, 3.0, 3.0], [0.0, 3.0, 2.0], [5.0, 5.0, 1.0]]]], device, grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    close(x.grad, np.array([[[[0, 2, 0], [0, 0, 0], [1, 1, 0]]]]), f32)
    x = T(np.random.randn(1, 2, 5, 4), dtype=f64, grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, (2, 3), stride=(2, 1), padding=1, ceil_mode=True), (x,))


@pytest.mark.parametrize("k,s,p,ceil,inc,div", [((2, 2), None, (0, 0), False, True, None),
                                                ((3, 2), (2, 1), (1, 1), True, True, None),
                                                ((3, 2), (2, 1), (1, 1), True, False, None),
                                                ((3, 3), (2, 2), (1, 0), False, True, 5)])
def test_avg_pool2d_matches_loop(device, k, s, p, ceil, inc, div):
    x = np.random.randn(2, 3, 7, 6)
    y = F.avg_pool2d(T(x, device), k, s, p, ceil_mode=ceil, count_include_pad=inc, divisor_override=div)
    close(y, ref_avg_pool2d(x, k, s or k, p, ceil, inc, div), f32, n=9)


def test_avg_pool1d_and_grad(device):
    x = np.random.randn(2, 3, 8)
    y = F.avg_pool1d(T(x, device), 3, 2, 1, ceil_mode=True, count_include_pad=False)
    close(y, ref_avg_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1), True, False, None)[:, :, 0], f32)
    xg = T(np.random.randn(1, 2, 5, 5), dtype=f64, grad=True)
    assert gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), (xg,))


@pytest.mark.parametrize("out", [(3, 2), (1, 1), (4, 5), (7, 3)])
def test_adaptive_pool2d_matches_loop(device, out):
    x = np.random.randn(2, 3, 7, 5)
    close(F.adaptive_avg_pool2d(T(x, device), out), ref_adaptive(x, out, np.mean), f32, n=9)
    y, i = F.adaptive_max_pool2d(T(x, device), out, return_indices=True)
    close(y, ref_adaptive(x, out, np.max), f32)
    flat = x.reshape(2, 3, -1)
    close(np.take_along_axis(flat, i.cpu().numpy().reshape(2, 3, -1), 2).reshape(y.shape), y, f32)


def test_adaptive_1d_none_and_grad(device):
    x = np.random.randn(2, 3, 7)
    close(F.adaptive_avg_pool1d(T(x, device), 3), ref_adaptive(x[:, :, None], (1, 3), np.mean)[:, :, 0], f32)
    close(F.adaptive_max_pool1d(T(x, device), 4), ref_adaptive(x[:, :, None], (1, 4), np.max)[:, :, 0], f32)
    assert F.adaptive_avg_pool2d(T(np.random.randn(3, 7, 5), device), (None, 2)).shape == (3, 7, 2)
    xg = T(np.random.randn(1, 2, 5, 4), dtype=f64, grad=True)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 3)), (xg,))
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, (2, 3)), (xg,))


def test_pool_cpu_cuda_parity():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    x = np.random.randn(1, 2, 5, 6)
    res = []
    for dev in ("cpu", "cuda"):
        t = T(x, dev, grad=True)
        y1 = F.max_pool2d(t, 3, 2, 1, ceil_mode=True)
        y2 = F.avg_pool2d(t, 2, 1, 1, count_include_pad=False)
        y3 = F.adaptive_avg_pool2d(t, (2, 4))
        y4 = F.interpolate(t, scale_factor=1.5, mode="bilinear")
        (y1.sum() + (y2 * y2).sum() + y3.sum() + y4.sum()).backward()
        res.append([y1, y2, y3, y4, t.grad])
    for a, e in zip(res[1], res[0]):
        close(a, e, f32, n=16)


def test_pool_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(ttorch.zeros(1, 1, 5, 5), 2, padding=2)
    with pytest.raises(RuntimeError, match="pad should be at most half of kernel size"):
        F.avg_pool2d(ttorch.zeros(1, 1, 5, 5), 3, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(ttorch.zeros(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="non-empty 3D or 4D"):
        F.max_pool2d(ttorch.zeros(5, 5), 2)


# ---------------------------------------------------------------- pixel shuffle / interpolate

def test_pixel_shuffle_roundtrip(device):
    x = np.random.randn(2, 12, 3, 2)
    y = F.pixel_shuffle(T(x, device), 2)
    # PyTorch's definition: out[n, c, h*r + i, w*r + j] = in[n, c*r*r + i*r + j, h, w]
    e = x.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 4, 2, 5, 3).reshape(2, 3, 6, 4)
    close(y, e, f32)
    close(F.pixel_unshuffle(y, 2), x, f32)
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(T(x, device), 3)


def ref_linear_1d(x, out, align, scale=None):
    n = x.shape[-1]
    s = ((n - 1) / (out - 1) if out > 1 else 0) if align else (1 / scale if scale else n / out)
    y = np.zeros(x.shape[:-1] + (out,))
    for o in range(out):
        src = o * s if align else max(s * (o + 0.5) - 0.5, 0)
        i0 = int(src)
        i1 = i0 + (1 if i0 < n - 1 else 0)
        lam = src - i0
        y[..., o] = (1 - lam) * x[..., i0] + lam * x[..., i1]
    return y


@pytest.mark.parametrize("size,scale,align", [((5, 7), None, False), ((5, 7), None, True), (None, 2.0, False),
                                              ((2, 3), None, False), (None, (1.5, 0.5), True)])
def test_bilinear_matches_formula(device, size, scale, align):
    x = np.random.randn(2, 3, 4, 6)
    y = F.interpolate(T(x, device), size=size, scale_factor=scale, mode="bilinear", align_corners=align)
    sc = scale if isinstance(scale, tuple) else (scale, scale)
    out = size or (int(4 * sc[0]), int(6 * sc[1]))
    e = ref_linear_1d(x, out[1], align, sc[1])
    e = ref_linear_1d(e.swapaxes(-1, -2), out[0], align, sc[0]).swapaxes(-1, -2)
    close(y, e, f32)


def test_nearest_and_linear(device):
    x = np.random.randn(1, 2, 5)
    close(F.interpolate(T(x, device), size=8), x[:, :, [int(np.floor(i * 5 / 8)) for i in range(8)]], f32)
    close(F.interpolate(T(x, device), scale_factor=2), np.repeat(x, 2, axis=2), f32)
    close(F.interpolate(T(x, device), size=3, mode="nearest-exact"), x[:, :, [0, 2, 4]], f32)
    close(F.interpolate(T(x, device), size=9, mode="linear"), ref_linear_1d(x, 9, False), f32)
    x2 = ttorch.arange(4.0, device=device).reshape(1, 1, 2, 2)
    # PyTorch's documented values for a 2x2 -> 4x4 bicubic with align_corners=True
    close(F.interpolate(x2, scale_factor=2, mode="bicubic", align_corners=True)[0, 0, 0],
          np.array([0.0, 0.3148148, 0.6851852, 1.0]), f32)
    x4 = np.random.randn(1, 1, 7, 4)
    close(F.interpolate(T(x4, device), size=(3, 2), mode="area"), ref_adaptive(x4, (3, 2), np.mean), f32)


def test_interpolate_grad_and_errors():
    x = T(np.random.randn(1, 2, 3, 4), dtype=f64, grad=True)
    for mode, ac in (("bilinear", False), ("bilinear", True), ("bicubic", False), ("nearest", None)):
        assert gradcheck(lambda t: F.interpolate(t, size=(5, 3), mode=mode, align_corners=ac), (x,))
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D input"):
        F.interpolate(x, size=3, mode="linear")


def test_max_pool_nan_and_all_inf_windows(device):
    """PyTorch's rule: a NaN wins its window (and stays); a window of -inf points at its first valid
    element; padding is never picked. The fused op, on both devices, and in half precision."""
    x = np.array([[[[1.0, np.nan, 2.0, 0.5],
                    [3.0, 0.0, -np.inf, -np.inf],
                    [7.0, 7.0, -np.inf, -np.inf],
                    [6.0, 7.0, 1.0, 2.0]]]])
    y, i = F.max_pool2d(T(x, device), 2, 2, return_indices=True)
    np.testing.assert_array_equal(to_np(i), [[[[1, 2], [8, 15]]]])
    np.testing.assert_array_equal(to_np(y), [[[[np.nan, 2.0], [7.0, 2.0]]]])
    y, i = F.max_pool2d(T(x, device), 2, 1, padding=1, return_indices=True)
    assert to_np(i).min() >= 0 and to_np(i)[0, 0, 0, 0] == 0                     # the corner: only x[0, 0]
    z = np.full((1, 1, 2, 2), -np.inf)
    _, i = F.max_pool2d(T(z, device), 2, return_indices=True)
    assert to_np(i).item() == 0
    h = ttorch.tensor(x, device=device).to(ttorch.float16)
    yh = F.max_pool2d(h, 2, 2)
    assert yh.dtype is ttorch.float16
    np.testing.assert_array_equal(to_np(yh.float()), [[[[np.nan, 2.0], [7.0, 2.0]]]])


def test_max_pool_on_cuda_is_one_kernel_each_way():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    from ttorch.profiler import profile, ProfilerActivity

    def kernels(fn):
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fn()
        return [e.name for e in prof.events() if e.device_type == "cuda"]
    x = ttorch.randn(2, 3, 6, 6, device="cuda", requires_grad=True)
    y = None

    def forward():
        nonlocal y
        y = F.max_pool2d(x, 2)
    assert kernels(forward) == ["_max_pool2d_kernel"]
    g = ttorch.ones_like(y)
    assert kernels(lambda: y.backward(g)) == ["_max_pool2d_bwd_kernel"]     # no zero fill, no scatter
    np.testing.assert_allclose(to_np(x.grad).sum(), y.numel())


def test_max_pool_cpu_tiled_path_follows_the_rule():
    """stride = kernel takes a reshape-and-argmax path on cpu: the same values and indices as the
    general one (first of ties, last NaN, all -inf windows point at their first element)."""
    from ttorch.ops import pool
    r = np.random.default_rng(11)
    x = r.integers(-2, 3, size=(2, 3, 6, 9)).astype(np.float32)        # many ties
    x[1, 2, 2:4, 3:6] = -np.inf
    xn = x.copy()
    xn[0, 0, :2, :3] = np.nan                                          # a window of NaNs
    xn[0, 1, 0, 0], xn[0, 1, 1, 2] = np.nan, np.nan                    # two NaNs in one window
    for x, k in [(a, k) for a in (x, xn) for k in ((2, 3), (3, 3), (2, 2))]:
        out = (6 // k[0], 9 // k[1])
        v1, i1 = pool._cpu(x, kernel=k, stride=k, padding=(0, 0), dilation=(1, 1), out=out, in_shape=x.shape)
        v2, i2 = pool._windowed_cpu(x, k, k, (0, 0), (1, 1), out)
        np.testing.assert_array_equal(v1, v2)
        np.testing.assert_array_equal(i1, i2)
