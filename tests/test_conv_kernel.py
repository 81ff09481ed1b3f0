"""The implicit-GEMM convolution ops (ttorch/ops/conv.py) through F.conv*: forward and the input,
weight and bias gradients against float64 NumPy references built tap by tap, on both devices;
half types on cuda; double backward (gradgradcheck) in float64 on cpu."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck, gradgradcheck

from _helpers import close, to_np

f16, bf16, f32, f64 = ttorch.float16, ttorch.bfloat16, ttorch.float32, ttorch.float64
HAS_CUDA = ttorch.cuda.is_available()


# ---------------------------------------------------------------- float64 references, one kernel tap at a time
def _taps(size, k, s, p, d, out):
    """Per tap (a, b): the strided slices of the padded input it reads for every output pixel."""
    for a in range(k[0]):
        for b in range(k[1]):
            yield a, b, (slice(a * d[0], a * d[0] + s[0] * (out[0] - 1) + 1, s[0]),
                         slice(b * d[1], b * d[1] + s[1] * (out[1] - 1) + 1, s[1]))


def _out(size, k, s, p, d):
    return tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


def ref_conv(x, w, b, s, p, d, g, out=None):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    out = out or _out((h, wd), (kh, kw), s, p, d)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0] + s[0] * out[0]), (p[1], p[1] + s[1] * out[1])))
    y = np.zeros((n, g, o // g) + out)
    for a, bb, (si, sj) in _taps((h, wd), (kh, kw), s, p, d, out):
        patch = xp[:, :, si, sj].reshape(n, g, cg, *out)
        y += np.einsum("ngchw,goc->ngohw", patch, w[:, :, a, bb].reshape(g, o // g, cg))
    y = y.reshape(n, o, *out)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def ref_grads(x_shape, x, w, dy, s, p, d, g):
    """(dx, dw) of conv2d for output gradient ``dy``; ``x`` may be None (dx only)."""
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    out = dy.shape[2:]
    pad = ((0, 0), (0, 0), (p[0], p[0] + s[0] * out[0]), (p[1], p[1] + s[1] * out[1]))
    dxp = np.zeros(np.pad(np.zeros(x_shape), pad).shape)
    xp = np.pad(x, pad) if x is not None else None
    dw = np.zeros(w.shape)
    dyg = dy.reshape(n, g, o // g, *out)
    for a, bb, (si, sj) in _taps((h, wd), (kh, kw), s, p, d, out):
        dxp[:, :, si, sj] += np.einsum("ngohw,goc->ngchw", dyg, w[:, :, a, bb].reshape(g, o // g, cg)).reshape(
            n, c, *out)
        if xp is not None:
            dw[:, :, a, bb] = np.einsum("ngohw,ngchw->goc", dyg, xp[:, :, si, sj].reshape(n, g, cg, *out)).reshape(
                o, cg)
    return dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd], dw


def T(a, device, dtype=f32, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


# (N, C, H, W), (OC, C/g, KH, KW), stride, padding, dilation, groups
CASES = [
    ((2, 3, 5, 4), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),      # 3x3, C = 3
    ((2, 4, 7, 6), (6, 2, 3, 3), (2, 2), (1, 0), (2, 1), 2),      # stride 2, dilation 2, groups 2
    ((1, 3, 5, 6), (5, 3, 1, 1), (2, 1), (0, 0), (1, 1), 1),      # 1x1, strided
    ((2, 2, 6, 3), (3, 2, 5, 1), (1, 1), (2, 0), (1, 1), 1),      # 5x1
    ((1, 6, 4, 5), (6, 1, 3, 2), (1, 2), (1, 1), (2, 1), 6),      # depthwise, non-square kernel
]


@pytest.mark.parametrize("xs,ws,s,p,d,g", CASES)
def test_conv2d_forward_and_gradients(device, xs, ws, s, p, d, g):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    xt, wt, bt = T(x, device, grad=True), T(w, device, grad=True), T(b, device, grad=True)
    y = F.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d, groups=g)
    k = ws[1] * ws[2] * ws[3]
    close(y, ref_conv(x, w, b, s, p, d, g), f32, n=k, msg="forward")
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(T(dy, device))
    dx, dw = ref_grads(xs, x, w, dy, s, p, d, g)
    close(xt.grad, dx, f32, n=k, msg="input gradient")
    close(wt.grad, dw, f32, n=dy[0, 0].size * xs[0], msg="weight gradient")
    close(bt.grad, dy.sum((0, 2, 3)), f32, n=dy[0, 0].size * xs[0], msg="bias gradient")


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("taps", [True, False])
@pytest.mark.parametrize("pix_first", [True, False])
def test_taps_and_flat_loops_agree(taps, pix_first, monkeypatch):
    # the forward's K loop and the weight gradient's N axis two ways (taps outside, channels inside;
    # or (channel, tap) as one axis, which few-channel inputs take) on every geometry, the wider
    # tiles' and split K's included; the forward's and input gradient's tiles laid out (K, pixels)
    # and (pixels, K) (conv._PIX_FIRST: which one a GPU runs depends on its Triton)
    from ttorch.ops import conv
    chosen = []
    monkeypatch.setattr(conv, "_taps_outside", lambda cg, n, bk: chosen.append(taps) or taps)
    monkeypatch.setattr(conv, "_PIX_FIRST", pix_first)
    rng = np.random.default_rng(1)
    cases = CASES + [((2, 20, 9, 8), (40, 20, 3, 3), (1, 1), (1, 1), (1, 1), 1)]
    for xs, ws, s, p, d, g in cases:
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        xt, wt = T(x, "cuda", grad=True), T(w, "cuda", grad=True)
        y = F.conv2d(xt, wt, T(b, "cuda"), stride=s, padding=p, dilation=d, groups=g)
        close(y, ref_conv(x, w, b, s, p, d, g), f32, n=ws[1] * ws[2] * ws[3], msg=str((xs, ws)))
        dy = rng.standard_normal(tuple(y.shape))
        y.backward(T(dy, "cuda"))
        dx, dw = ref_grads(xs, x, w, dy, s, p, d, g)[:2]
        close(xt.grad, dx, f32, n=ws[0] * ws[2] * ws[3], msg=str((xs, ws)))
        close(wt.grad, dw, f32, n=dy[0, 0].size * xs[0], msg=str((xs, ws)))
    assert chosen == [taps] * (2 * len(cases))


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.tf32_default
def test_float32_convolutions_follow_cudnn_allow_tf32(monkeypatch):
    # PyTorch's default (cudnn.allow_tf32 on) runs float32 convolutions on TF32 tensor cores: each
    # kernel (forward, input and weight gradients) gets PREC "tf32" and a tensor-core tile; off,
    # "ieee"; half types ignore it. Values within TF32's 10-bit mantissa of the float64 reference
    from ttorch.backends import cudnn
    from ttorch.ops import conv
    seen = []
    real = conv.launch
    monkeypatch.setattr(conv, "launch", lambda k, g, *a, **m: seen.append(m["PREC"]) or real(k, g, *a, **m))
    rng = np.random.default_rng(2)
    xs, ws, s, p, d, g = (2, 6, 9, 8), (5, 6, 3, 3), (1, 1), (1, 1), (1, 1), 1
    x, w, dy = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal((2, 5, 9, 8))
    for tf32, want in ((True, "tf32"), (False, "ieee")):
        monkeypatch.setattr(cudnn, "allow_tf32", tf32)
        seen.clear()
        xt, wt = T(x, "cuda", grad=True), T(w, "cuda", grad=True)
        y = F.conv2d(xt, wt, None, stride=s, padding=p, dilation=d, groups=g)
        y.backward(T(dy, "cuda"))
        assert seen == [want] * 3
        np.testing.assert_allclose(to_np(y), ref_conv(x, w, None, s, p, d, g), rtol=3e-3, atol=3e-3 * 54 ** 0.5)
        dx, dw = ref_grads(xs, x, w, dy, s, p, d, g)[:2]
        np.testing.assert_allclose(to_np(xt.grad), dx, rtol=3e-3, atol=3e-3 * 45 ** 0.5)
        np.testing.assert_allclose(to_np(wt.grad), dw, rtol=3e-3, atol=3e-3 * 144 ** 0.5)
    monkeypatch.setattr(cudnn, "allow_tf32", True)
    seen.clear()
    F.conv2d(T(x, "cuda").half(), T(w, "cuda").half())
    assert seen == ["ieee"]
    monkeypatch.setattr(conv, "SIMULATED", False)                          # a GPU's untuned tiles:
    assert conv._pick(f32, "tf32", 4096, 64, 576, 1) in conv._TF32          # the tensor cores' for TF32
    assert conv._pick(f32, "ieee", 4096, 64, 576, 1) in conv.CONFIGS[f32]   # the FMAs' otherwise


def test_conv1d_forward_and_gradients(device):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    xt, wt, bt = T(x, device, grad=True), T(w, device, grad=True), T(b, device, grad=True)
    y = F.conv1d(xt, wt, bt, stride=2, padding=2, dilation=2, groups=2)
    close(y, ref_conv(x[:, :, None], w[:, :, None], b, (1, 2), (0, 2), (1, 2), 2)[:, :, 0], f32, n=6)
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(T(dy, device))
    dx, dw = ref_grads((2, 4, 1, 11), x[:, :, None], w[:, :, None], dy[:, :, None], (1, 2), (0, 2), (1, 2), 2)
    close(xt.grad, dx[:, :, 0], f32, n=6)
    close(wt.grad, dw[:, :, 0], f32, n=20)
    close(bt.grad, dy.sum((0, 2)), f32, n=20)


@pytest.mark.parametrize("xs,ws,s,p,op,g,d", [
    ((2, 4, 3, 4), (4, 3, 3, 2), (2, 1), (1, 0), (1, 0), 1, (1, 1)),
    ((1, 4, 3, 3), (4, 1, 2, 3), (2, 3), (0, 1), (1, 2), 2, (2, 1)),
])
def test_conv_transpose2d_forward_and_gradients(device, xs, ws, s, p, op, g, d):
    # conv_transpose2d is conv2d's input gradient: its references are ref_grads' dx (forward),
    # ref_conv (input gradient) and ref_grads' dw with the roles of x and dy swapped
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * g)
    xt, wt, bt = T(x, device, grad=True), T(w, device, grad=True), T(b, device, grad=True)
    y = F.conv_transpose2d(xt, wt, bt, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    out_shape = (xs[0], ws[1] * g) + tuple(y.shape[2:])
    e, _ = ref_grads(out_shape, None, w, x, s, p, d, g)
    close(y, e + b.reshape(1, -1, 1, 1), f32, n=xs[1] * 6, msg="forward")
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(T(gy, device))
    close(xt.grad, ref_conv(gy, w, None, s, p, d, g, out=xs[2:]), f32, n=out_shape[1] * 6, msg="input gradient")
    _, dw = ref_grads(out_shape, gy, w, x, s, p, d, g)
    close(wt.grad, dw, f32, n=x.size, msg="weight gradient")
    close(bt.grad, gy.sum((0, 2, 3)), f32, n=gy.size, msg="bias gradient")


def test_conv_transpose1d_forward(device):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 5)), rng.standard_normal((3, 2, 3))
    y = F.conv_transpose1d(T(x, device), T(w, device), stride=2, padding=1, output_padding=1)
    assert y.shape == (2, 2, 10)
    e, _ = ref_grads((2, 2, 1, 10), None, w[:, :, None], x[:, :, None], (1, 2), (0, 1), (1, 1), 1)
    close(y, e[:, :, 0], f32, n=9)


def test_wider_tiles_and_split_k(device):
    # past 64 output pixels, 32 channels and 64 reduction steps the simulated device takes its wider
    # tiles; the weight gradient's long K is split in two and the partials summed
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 20, 9, 8)), rng.standard_normal((40, 20, 3, 3)) * 0.2
    xt, wt = T(x, device, grad=True), T(w, device, grad=True)
    y = F.conv2d(xt, wt, padding=1)
    close(y, ref_conv(x, w, None, (1, 1), (1, 1), (1, 1), 1), f32, n=180)
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(T(dy, device))
    dx, dw = ref_grads(x.shape, x, w, dy, (1, 1), (1, 1), (1, 1), 1)
    close(xt.grad, dx, f32, n=360)
    close(wt.grad, dw, f32, n=144)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_batches_past_int32_offsets_launch_per_run_of_images(monkeypatch):
    # the kernels index in int32: a batch whose tensors reach conv._I32_NUMEL elements (2**31; 500
    # here) launches per run of images (168 elements an image: runs of 2, 2 and 1), the weight
    # gradient summing the runs' partials; an image past the limit is refused
    from ttorch.ops import conv
    monkeypatch.setattr(conv, "_I32_NUMEL", 500)
    seen = []
    real = conv.launch
    monkeypatch.setattr(conv, "launch", lambda k, g, *a, **m: seen.append(k.__name__) or real(k, g, *a, **m))
    rng = np.random.default_rng(9)
    xs, ws, s, p, d, g = (5, 4, 7, 6), (6, 2, 3, 3), (2, 2), (1, 0), (2, 1), 2
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    xt, wt, bt = T(x, "cuda", grad=True), T(w, "cuda", grad=True), T(b, "cuda", grad=True)
    y = F.conv2d(xt, wt, bt, stride=s, padding=p, dilation=d, groups=g)
    close(y, ref_conv(x, w, b, s, p, d, g), f32, n=18, msg="forward")
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(T(dy, "cuda"))
    dx, dw = ref_grads(xs, x, w, dy, s, p, d, g)
    close(xt.grad, dx, f32, n=18, msg="input gradient")
    close(wt.grad, dw, f32, n=dy[0, 0].size * xs[0], msg="weight gradient")
    assert sorted(seen) == ["_conv_dgrad_kernel"] * 3 + ["_conv_fwd_kernel"] * 3 + ["_conv_wgrad_kernel"] * 3
    with pytest.raises(RuntimeError, match=r"2\*\*31"):
        F.conv2d(T(np.zeros((1, 4, 12, 12)), "cuda"), T(np.zeros((2, 4, 1, 1)), "cuda"))


def test_empty_batch(device):
    xt = T(np.zeros((0, 3, 5, 5)), device, grad=True)
    wt = T(np.ones((2, 3, 3, 3)), device, grad=True)
    y = F.conv2d(xt, wt, padding=1)
    assert y.shape == (0, 2, 5, 5)
    y.sum().backward()
    assert xt.grad.shape == (0, 3, 5, 5)
    close(wt.grad, np.zeros((2, 3, 3, 3)), f32)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
@pytest.mark.parametrize("dtype,rtol,atol", [(f16, 1e-2, 2e-2), (bf16, 4e-2, 1e-1)])
def test_half_precision_on_cuda(dtype, rtol, atol):
    # fp16/bf16 operands, fp32 accumulation: compare with float64 of the same rounded inputs
    rng = np.random.default_rng(5)
    xs, ws, s, p, d, g = CASES[1]
    xt, wt = T(rng.standard_normal(xs), "cuda", dtype, grad=True), T(rng.standard_normal(ws), "cuda", dtype, grad=True)
    x, w = to_np(xt), to_np(wt)
    y = F.conv2d(xt, wt, stride=s, padding=p, dilation=d, groups=g)
    assert y.dtype is dtype
    np.testing.assert_allclose(to_np(y), ref_conv(x, w, None, s, p, d, g), rtol=rtol, atol=atol)
    dyt = T(rng.standard_normal(tuple(y.shape)), "cuda", dtype)
    y.backward(dyt)
    dx, dw = ref_grads(xs, x, w, to_np(dyt), s, p, d, g)
    assert xt.grad.dtype is dtype and wt.grad.dtype is dtype
    np.testing.assert_allclose(to_np(xt.grad), dx, rtol=rtol, atol=atol)
    np.testing.assert_allclose(to_np(wt.grad), dw, rtol=rtol, atol=atol * 2)
    w2 = T(rng.standard_normal((4, 3, 2, 3)), "cuda", dtype)
    yt = F.conv_transpose2d(xt.detach(), w2, stride=2)
    assert yt.dtype is dtype and yt.shape == (2, 3, 14, 13)
    e, _ = ref_grads((2, 3, 14, 13), None, to_np(w2), x, (2, 2), (0, 0), (1, 1), 1)
    np.testing.assert_allclose(to_np(yt), e, rtol=rtol, atol=atol)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_float64_on_cuda():
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((1, 4, 5, 5)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    xt, wt = T(x, "cuda", f64, grad=True), T(w, "cuda", f64, grad=True)
    y = F.conv2d(xt, wt, T(b, "cuda", f64), stride=2, padding=1, groups=2)
    close(y, ref_conv(x, w, b, (2, 2), (1, 1), (1, 1), 2), f64, n=18)
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(T(dy, "cuda", f64))
    dx, dw = ref_grads(x.shape, x, w, dy, (2, 2), (1, 1), (1, 1), 2)
    close(xt.grad, dx, f64, n=18)
    close(wt.grad, dw, f64, n=9)


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(7)
    x = T(rng.standard_normal((1, 4, 4, 3)), "cpu", f64, grad=True)
    w = T(rng.standard_normal((4, 2, 3, 2)), "cpu", f64, grad=True)
    b = T(rng.standard_normal(4), "cpu", f64, grad=True)

    def conv(*a):
        return F.conv2d(*a, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    assert gradcheck(conv, (x, w, b))
    assert gradgradcheck(conv, (x, w, b))
    xt = T(rng.standard_normal((1, 4, 2, 3)), "cpu", f64, grad=True)
    assert gradgradcheck(lambda *a: F.conv_transpose2d(*a, stride=2, padding=(1, 0), output_padding=1, groups=2),
                         (xt, w, b))
    x1 = T(rng.standard_normal((1, 2, 5)), "cpu", f64, grad=True)
    w1 = T(rng.standard_normal((3, 2, 2)), "cpu", f64, grad=True)
    assert gradgradcheck(lambda *a: F.conv1d(*a, padding="same", dilation=2), (x1, w1))


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_double_backward_cpu_cuda_parity():
    # the gradients' own gradients (the three ops calling each other) agree across devices
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal((1, 4, 4, 3)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal((1, 4, 2, 4))]
    res = []
    for dev in ("cpu", "cuda"):
        x, w, v = (T(a, dev, grad=True) for a in arrays)
        y = F.conv2d(x, w, stride=(2, 1), padding=1, groups=2)
        gx, gw = ttorch.autograd.grad(y, (x, w), v, create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        res.append([gx, gw, x.grad, w.grad, v.grad])
    for a, e in zip(res[1], res[0]):
        close(a, e, f32, n=64)


def test_error_messages_unchanged():
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[8, 3, 3, 3\], expected "
                                           r"input\[2, 4, 5, 5\] to have 3 channels, but got 4 channels instead"):
        F.conv2d(ttorch.zeros(2, 4, 5, 5), ttorch.zeros(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"):
        F.conv1d(ttorch.zeros(1, 2, 3, 4), ttorch.zeros(4, 2, 1))
    with pytest.raises(RuntimeError, match=r"Calculated padded input size per channel: \(2 x 2\). Kernel size: "
                                           r"\(3 x 3\). Kernel size can't be greater than actual input size"):
        F.conv2d(ttorch.zeros(1, 3, 2, 2), ttorch.zeros(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[4, 2, 3\], expected input\[1, 3, 5\] "
                                           r"to have 4 channels, but got 3 channels instead"):
        F.conv_transpose1d(ttorch.zeros(1, 3, 5), ttorch.zeros(4, 2, 3))
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 4 elements"):
        F.conv_transpose2d(ttorch.zeros(1, 2, 3, 3), ttorch.zeros(2, 2, 1, 1), ttorch.zeros(3), groups=2)
