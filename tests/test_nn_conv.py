"""F.pad, F.unfold/fold, conv1d/2d and conv_transpose1d/2d against NumPy direct loops; gradcheck; cpu-vs-cuda."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

from _helpers import close

f32, f64 = ttorch.float32, ttorch.float64


def T(a, device="cpu", dtype=f32, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


# ---------------------------------------------------------------- NumPy references (direct loops)

def ref_conv2d(x, w, b, s, p, d, g):
    n_, ci, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.zeros((n_, o, oh, ow))
    og = o // g
    for n in range(n_):
        for oc in range(o):
            gi = oc // og
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for c in range(cg):
                        for a in range(kh):
                            for bb in range(kw):
                                acc += xp[n, gi * cg + c, i * s[0] + a * d[0], j * s[1] + bb * d[1]] * w[oc, c, a, bb]
                    y[n, oc, i, j] = acc + (0.0 if b is None else b[oc])
    return y


def ref_conv_transpose2d(x, w, b, s, p, op, g, d):
    n_, ci, h, wd = x.shape
    _, cog, kh, kw = w.shape
    oh = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    ow = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    full = np.zeros((n_, cog * g, oh + 2 * p[0] + kh * d[0], ow + 2 * p[1] + kw * d[1]))
    cig = ci // g
    for n in range(n_):
        for c in range(ci):
            gi = c // cig
            for co in range(cog):
                for i in range(h):
                    for j in range(wd):
                        for a in range(kh):
                            for bb in range(kw):
                                full[n, gi * cog + co, i * s[0] + a * d[0], j * s[1] + bb * d[1]] += \
                                    x[n, c, i, j] * w[c, co, a, bb]
    y = full[:, :, p[0]:p[0] + oh, p[1]:p[1] + ow]
    return y + (0.0 if b is None else b.reshape(-1, 1, 1))


def ref_unfold(x, k, d, p, s):
    n_, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n_, c * k[0] * k[1], oh * ow))
    for ch in range(c):
        for a in range(k[0]):
            for b in range(k[1]):
                row = (ch * k[0] + a) * k[1] + b
                for i in range(oh):
                    for j in range(ow):
                        out[:, row, i * ow + j] = xp[:, ch, i * s[0] + a * d[0], j * s[1] + b * d[1]]
    return out


# ---------------------------------------------------------------- pad

@pytest.mark.parametrize("mode,np_mode", [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge"),
                                          ("circular", "wrap")])
def test_pad_modes(device, mode, np_mode):
    x = np.random.randn(2, 3, 5, 4)
    y = F.pad(T(x, device), (1, 2, 3, 0), mode=mode)
    close(y, np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)), mode=np_mode), f32)
    x1 = np.random.randn(2, 3, 6)
    close(F.pad(T(x1, device), (2, 3), mode=mode), np.pad(x1, ((0, 0), (0, 0), (2, 3)), mode=np_mode), f32)


def test_pad_constant_value_negative_and_many_dims(device):
    x = np.random.randn(2, 3, 4, 5)
    y = F.pad(T(x, device), (1, -2, 0, 1, 2, 2, 1, 0), value=7.5)
    e = np.pad(x[:, :, :, :3], ((1, 0), (2, 2), (0, 1), (1, 0)), constant_values=7.5)
    close(y, e, f32)


def test_pad_errors():
    x = ttorch.zeros(1, 2, 3)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(x, (3, 3), mode="reflect")
    with pytest.raises(NotImplementedError):
        F.pad(x, (1, 1), mode="bogus")


def test_pad_grad():
    for mode in ("constant", "reflect", "replicate", "circular"):
        x = T(np.random.randn(1, 2, 4, 3), dtype=f64, grad=True)
        assert gradcheck(lambda t: F.pad(t, (2, 1, 1, 3), mode=mode), (x,))


# ---------------------------------------------------------------- unfold / fold

def test_unfold_matches_loop(device):
    x = np.random.randn(2, 3, 6, 7)
    y = F.unfold(T(x, device), (2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3))
    close(y, ref_unfold(x, (2, 3), (2, 1), (1, 2), (2, 3)), f32)
    assert F.unfold(T(x[0], device), 3).shape == (27, 20)


def test_fold_is_adjoint_of_unfold(device):
    # <unfold(x), c> == <x, fold(c)> for any x, c
    x = np.random.randn(2, 3, 5, 6)
    args = dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))
    u = F.unfold(T(x, device, f64), **args)
    c = np.random.randn(*u.shape)
    f = F.fold(T(c, device, f64), (5, 6), **args)
    np.testing.assert_allclose((u.cpu().numpy() * c).sum(), (x * f.cpu().numpy()).sum(), rtol=1e-10)
    ones = F.fold(F.unfold(T(np.ones((1, 1, 3, 3)), device), 2), (3, 3), 2)
    close(ones, np.array([[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]), f32)


def test_unfold_fold_errors():
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.unfold(ttorch.zeros(2, 3), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(ttorch.zeros(1, 5, 4), (3, 3), 2)
    with pytest.raises(RuntimeError, match="calculated number of sliding blocks 2 \\* 2 = 4, but got input.size\\(2\\)=5"):
        F.fold(ttorch.zeros(1, 4, 5), (3, 3), 2)


def test_unfold_fold_grad():
    x = T(np.random.randn(1, 2, 4, 3), dtype=f64, grad=True)
    assert gradcheck(lambda t: F.unfold(t, 2, padding=1, stride=(1, 2)), (x,))
    c = T(np.random.randn(1, 8, 10), dtype=f64, grad=True)
    assert gradcheck(lambda t: F.fold(t, (3, 4), 2, padding=(0, 1)), (c,))


# ---------------------------------------------------------------- conv

CONV2D_CASES = [
    # (N, C, H, W), (O, C/g, kh, kw), stride, padding, dilation, groups
    ((2, 3, 5, 6), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((1, 4, 7, 5), (6, 2, 3, 2), (2, 1), (1, 2), (1, 2), 2),
    ((2, 3, 6, 6), (3, 1, 2, 3), (1, 2), (1, 0), (2, 1), 3),
]


@pytest.mark.parametrize("xs,ws,s,p,d,g", CONV2D_CASES)
def test_conv2d_matches_loop(device, xs, ws, s, p, d, g):
    x, w, b = np.random.randn(*xs), np.random.randn(*ws), np.random.randn(ws[0])
    y = F.conv2d(T(x, device), T(w, device), T(b, device), stride=s, padding=p, dilation=d, groups=g)
    close(y, ref_conv2d(x, w, b, s, p, d, g), f32, n=ws[1] * ws[2] * ws[3])


def test_conv2d_unbatched_and_no_bias(device):
    x, w = np.random.randn(3, 5, 4), np.random.randn(2, 3, 2, 2)
    y = F.conv2d(T(x, device), T(w, device), stride=2)
    close(y, ref_conv2d(x[None], w, None, (2, 2), (0, 0), (1, 1), 1)[0], f32, n=12)


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (2, 3), (4, 2)])
def test_conv_same_valid(device, k, d):
    x, w = np.random.randn(1, 2, 7, 6), np.random.randn(3, 2, k, k)
    y = F.conv2d(T(x, device), T(w, device), padding="same", dilation=d)
    assert y.shape == (1, 3, 7, 6)
    total = d * (k - 1)
    xp = np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2), (total // 2, total - total // 2)))
    close(y, ref_conv2d(xp, w, None, (1, 1), (0, 0), (d, d), 1), f32, n=2 * k * k)
    assert F.conv2d(T(x, device), T(w, device), padding="valid").shape == (1, 3, 8 - k, 7 - k)
    x1, w1 = np.random.randn(2, 2, 9), np.random.randn(3, 2, k)
    assert F.conv1d(T(x1, device), T(w1, device), padding="same", dilation=d).shape == (2, 3, 9)


def test_conv1d_matches_loop(device):
    x, w, b = np.random.randn(2, 4, 11), np.random.randn(6, 2, 3), np.random.randn(6)
    y = F.conv1d(T(x, device), T(w, device), T(b, device), stride=2, padding=2, dilation=2, groups=2)
    e = ref_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 2), (1, 2), 2)[:, :, 0]
    close(y, e, f32, n=6)
    assert F.conv1d(T(x[0], device), T(w[:, :, :], device), groups=2).shape == (6, 9)


@pytest.mark.parametrize("xs,ws,s,p,op,g,d", [
    ((2, 4, 3, 4), (4, 3, 3, 2), (2, 1), (1, 0), (1, 0), 1, (1, 1)),
    ((1, 4, 3, 3), (4, 1, 2, 3), (2, 3), (0, 1), (0, 2), 2, (2, 1)),
])
def test_conv_transpose2d_matches_loop(device, xs, ws, s, p, op, g, d):
    x, w, b = np.random.randn(*xs), np.random.randn(*ws), np.random.randn(ws[1] * g)
    y = F.conv_transpose2d(T(x, device), T(w, device), T(b, device), stride=s, padding=p, output_padding=op,
                           groups=g, dilation=d)
    close(y, ref_conv_transpose2d(x, w, b, s, p, op, g, d), f32, n=xs[1] * 4)


def test_conv_transpose1d_matches_loop(device):
    x, w = np.random.randn(2, 3, 5), np.random.randn(3, 2, 3)
    y = F.conv_transpose1d(T(x, device), T(w, device), stride=2, padding=1, output_padding=1)
    e = ref_conv_transpose2d(x[:, :, None], w[:, :, None], None, (1, 2), (0, 1), (0, 1), 1, (1, 1))[:, :, 0]
    assert y.shape == (2, 2, 10)
    close(y, e, f32, n=9)


def test_conv_grads():
    x = T(np.random.randn(2, 4, 5, 4), dtype=f64, grad=True)
    w = T(np.random.randn(4, 2, 2, 3), dtype=f64, grad=True)
    b = T(np.random.randn(4), dtype=f64, grad=True)
    assert gradcheck(lambda *a: F.conv2d(*a, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (x, w, b))
    x1 = T(np.random.randn(1, 2, 6), dtype=f64, grad=True)
    w1 = T(np.random.randn(3, 2, 3), dtype=f64, grad=True)
    assert gradcheck(lambda *a: F.conv1d(*a, padding="same"), (x1, w1))
    wt = T(np.random.randn(4, 1, 3, 2), dtype=f64, grad=True)
    xt = T(np.random.randn(1, 4, 3, 3), dtype=f64, grad=True)
    assert gradcheck(lambda *a: F.conv_transpose2d(*a, stride=2, padding=(1, 0), output_padding=1, groups=2),
                     (xt, wt, b[:2].detach().requires_grad_()))
    w1t = T(np.random.randn(2, 3, 3), dtype=f64, grad=True)
    assert gradcheck(lambda *a: F.conv_transpose1d(*a, stride=2, dilation=2), (x1, w1t))


def test_conv_cpu_cuda_parity():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    x, w, b = np.random.randn(1, 4, 5, 4), np.random.randn(4, 2, 3, 2), np.random.randn(4)
    outs = []
    for dev in ("cpu", "cuda"):
        ts = [T(a, dev, grad=True) for a in (x, w, b)]
        y = F.conv2d(*ts, stride=(1, 2), padding=1, groups=2)
        (y * y).sum().backward()
        outs.append([y] + [t.grad for t in ts])
        wt = T(w, dev, grad=True)
        yt = F.conv_transpose2d(y.detach(), wt, stride=2, groups=2)
        yt.sum().backward()
        outs[-1] += [yt, wt.grad]
    for a, e in zip(outs[1], outs[0]):
        close(a, e, f32, n=64)


# ---------------------------------------------------------------- errors

def test_conv_errors():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, "
                                           r"but got input of size: \[2, 3\]"):
        F.conv2d(ttorch.zeros(2, 3), ttorch.zeros(4, 3, 1, 1))
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"):
        F.conv1d(ttorch.zeros(1, 2, 3, 4), ttorch.zeros(4, 2, 1))
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[8, 3, 3, 3\], expected "
                                           r"input\[2, 4, 5, 5\] to have 3 channels, but got 4 channels instead"):
        F.conv2d(ttorch.zeros(2, 4, 5, 5), ttorch.zeros(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"expected input\[1, 4, 5, 5\] to have 3 channels"):
        F.conv2d(ttorch.zeros(4, 5, 5), ttorch.zeros(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match="expected weight to be divisible by 2 at dimension 0"):
        F.conv2d(ttorch.zeros(1, 4, 5, 5), ttorch.zeros(3, 2, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(ttorch.zeros(1, 3, 5, 5), ttorch.zeros(2, 3, 3, 3), padding="same", stride=2)
    with pytest.raises(RuntimeError, match="Invalid padding string"):
        F.conv2d(ttorch.zeros(1, 3, 5, 5), ttorch.zeros(2, 3, 3, 3), padding="full")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(ttorch.zeros(1, 3, 2, 2), ttorch.zeros(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match="Given transposed=1, weight of size \\[4, 2, 3, 3\\], expected "
                                           "input\\[1, 3, 5, 5\\] to have 4 channels, but got 3 channels instead"):
        F.conv_transpose2d(ttorch.zeros(1, 3, 5, 5), ttorch.zeros(4, 2, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(ttorch.zeros(1, 4, 5, 5), ttorch.zeros(4, 2, 3, 3), output_padding=1)


def test_conv_dtype_and_bias_errors():
    x = ttorch.zeros(1, 2, 3, 3)
    with pytest.raises(RuntimeError, match=r"Input type \(ttorch.FloatTensor\) and weight type \(ttorch.DoubleTensor\) "
                                           r"should be the same"):
        F.conv2d(x, ttorch.zeros(1, 2, 1, 1, dtype=f64))
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 4 elements, but got bias of size \[3\]"):
        F.conv2d(x, ttorch.zeros(4, 2, 1, 1), ttorch.zeros(3))
    with pytest.raises(NotImplementedError, match="Only 2D, 3D, 4D, 5D padding with non-constant padding"):
        F.pad(ttorch.zeros(2, 3, 4, 5), (1, 1), mode="reflect")
