"""Normalization layers (functional and modules) against NumPy re-implementations of PyTorch's
formulas: outputs in train and eval, running-stat updates, gradients (float64 central
differences, second order too), cpu-vs-cuda parity, state-dict keys and PyTorch's errors."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck, gradgradcheck

from _helpers import close


def T(a, device, dtype=ttorch.float32, rg=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=rg)


def N(t):
    return t.detach().cpu().numpy().astype(np.float64)


# ------------------------------------------------------------------------------ NumPy references
def np_bn(x, w, b, eps, rm=None, rv=None, training=True, momentum=0.1):
    dims = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(dims), x.var(dims)
        n = x.size // x.shape[1]
        if rm is not None:
            rm = (1 - momentum) * rm + momentum * mean
            rv = (1 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        mean, var = rm, rv
    y = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps)
    if w is not None:
        y = y * w.reshape(shp) + b.reshape(shp)
    return y, rm, rv


def np_in(x, w, b, eps, rm=None, rv=None, momentum=0.1):
    dims = tuple(range(2, x.ndim))
    mean, var = x.mean(dims, keepdims=True), x.var(dims, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    shp = (1, -1) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(shp) + b.reshape(shp)
    if rm is not None:
        n = int(np.prod(x.shape[2:]))
        rm = (1 - momentum) * rm + momentum * mean.reshape(x.shape[:2]).mean(0)
        rv = (1 - momentum) * rv + momentum * (var * n / (n - 1)).reshape(x.shape[:2]).mean(0)
    return y, rm, rv


def np_ln(x, k, w, b, eps):
    dims = tuple(range(x.ndim - k, x.ndim))
    y = (x - x.mean(dims, keepdims=True)) / np.sqrt(x.var(dims, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def np_rms(x, k, w, eps):
    dims = tuple(range(x.ndim - k, x.ndim))
    y = x / np.sqrt((x * x).mean(dims, keepdims=True) + eps)
    return y * (1 if w is None else w)


def np_gn(x, g, w, b, eps):
    xr = x.reshape(x.shape[0], g, -1)
    y = ((xr - xr.mean(-1, keepdims=True)) / np.sqrt(xr.var(-1, keepdims=True) + eps)).reshape(x.shape)
    shp = (1, -1) + (1,) * (x.ndim - 2)
    return y * w.reshape(shp) + b.reshape(shp)


def np_lrn(x, size, alpha, beta, k):
    c = x.shape[1]
    sq = x * x
    out = np.zeros_like(x)
    for ch in range(c):
        lo, hi = ch - size // 2, ch + (size - 1) // 2
        s = sq[:, max(lo, 0):min(hi, c - 1) + 1].sum(1)
        out[:, ch] = x[:, ch] / (k + alpha * s / size) ** beta
    return out


# ------------------------------------------------------------------------------ functional: values
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 3)])
def test_batch_norm_train_updates(device, shape):
    r = np.random.default_rng(1)
    c = shape[1]
    w, b = r.uniform(0.5, 1.5, c), r.normal(size=c)
    rm, rv = np.zeros(c), np.ones(c)
    trm, trv = T(rm, device), T(rv, device)
    for step in range(3):
        x = r.normal(size=shape) * 2 + 1
        y = F.batch_norm(T(x, device), trm, trv, T(w, device), T(b, device), training=True, momentum=0.3, eps=1e-3)
        ey, rm, rv = np_bn(x, w, b, 1e-3, rm, rv, True, 0.3)
        close(y, ey, ttorch.float32, msg=f"step {step}")
        close(trm, rm, ttorch.float32)
        close(trv, rv, ttorch.float32)
    x = r.normal(size=shape)
    y = F.batch_norm(T(x, device), trm, trv, T(w, device), T(b, device), training=False, eps=1e-3)
    close(y, np_bn(x, w, b, 1e-3, rm, rv, training=False)[0], ttorch.float32)
    close(trm, rm, ttorch.float32)      # eval leaves the running stats alone


def test_batch_norm_of_an_empty_batch(device):
    # PyTorch: an empty result in eval and training; training counts the batch and keeps the stats
    for shape in ((0, 3, 2, 2), (0, 3)):
        bn = (ttorch.nn.BatchNorm2d if len(shape) == 4 else ttorch.nn.BatchNorm1d)(3).to(device)
        x = ttorch.zeros(*shape, device=device, requires_grad=True)
        y = bn.eval()(x)
        y.sum().backward()
        assert y.shape == shape and x.grad.shape == shape
        assert bn.train()(x).shape == shape
        assert bn.running_mean.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
        assert int(bn.num_batches_tracked) == 1


def test_batch_norm_no_running_stats_no_affine(device):
    x = np.random.default_rng(2).normal(size=(5, 4))
    close(F.batch_norm(T(x, device), None, None, training=True), np_bn(x, None, None, 1e-5)[0], ttorch.float32)


@pytest.mark.parametrize("dtype", [ttorch.float16, ttorch.bfloat16])
def test_norms_half(device, dtype):
    x = np.random.default_rng(3).normal(size=(4, 6))
    xt = T(x, device, dtype)
    xr = N(xt)
    for got, exp in [(F.layer_norm(xt, (6,)), np_ln(xr, 1, None, None, 1e-5)),
                     (F.rms_norm(xt, (6,)), np_rms(xr, 1, None, ttorch.finfo(dtype).eps)),
                     (F.batch_norm(xt, None, None, training=True), np_bn(xr, None, None, 1e-5)[0])]:
        assert got.dtype == dtype
        close(got, exp, dtype)


@pytest.mark.parametrize("shape,k", [((3, 5), 1), ((2, 3, 4), 2), ((7,), 1), ((2, 1, 4), 1)])
def test_layer_norm(device, shape, k):
    r = np.random.default_rng(4)
    x = r.normal(size=shape) * 3 + 2
    ns = shape[len(shape) - k:]
    w, b = r.normal(size=ns), r.normal(size=ns)
    close(F.layer_norm(T(x, device), ns, T(w, device), T(b, device), 1e-4), np_ln(x, k, w, b, 1e-4), ttorch.float32)
    close(F.layer_norm(T(x, device), list(ns)), np_ln(x, k, None, None, 1e-5), ttorch.float32)
    close(F.rms_norm(T(x, device), ns, T(w, device), 1e-4), np_rms(x, k, w, 1e-4), ttorch.float32)
    close(F.rms_norm(T(x, device), ns), np_rms(x, k, None, ttorch.finfo(ttorch.float32).eps), ttorch.float32)


@pytest.mark.parametrize("shape,g", [((2, 6, 3), 3), ((3, 4), 2), ((2, 4, 2, 3), 1), ((1, 4, 5), 4)])
def test_group_norm(device, shape, g):
    r = np.random.default_rng(5)
    x, w, b = r.normal(size=shape), r.normal(size=shape[1]), r.normal(size=shape[1])
    close(F.group_norm(T(x, device), g, T(w, device), T(b, device), 1e-3), np_gn(x, g, w, b, 1e-3), ttorch.float32)
    close(F.group_norm(T(x, device), g), np_gn(x, g, np.ones(shape[1]), np.zeros(shape[1]), 1e-5), ttorch.float32)


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 2, 2, 3)])
def test_instance_norm(device, shape):
    r = np.random.default_rng(6)
    c = shape[1]
    w, b = r.normal(size=c), r.normal(size=c)
    rm, rv = r.normal(size=c), r.uniform(0.5, 2, c)
    trm, trv = T(rm, device), T(rv, device)
    for _ in range(3):
        x = r.normal(size=shape)
        y = F.instance_norm(T(x, device), trm, trv, T(w, device), T(b, device), momentum=0.2)
        ey, rm, rv = np_in(x, w, b, 1e-5, rm, rv, 0.2)
        close(y, ey, ttorch.float32)
        close(trm, rm, ttorch.float32)
        close(trv, rv, ttorch.float32)
    x = r.normal(size=shape)
    y = F.instance_norm(T(x, device), trm, trv, use_input_stats=False)
    shp = (1, -1) + (1,) * (len(shape) - 2)
    close(y, (x - rm.reshape(shp)) / np.sqrt(rv.reshape(shp) + 1e-5), ttorch.float32)
    close(F.instance_norm(T(x, device)), np_in(x, None, None, 1e-5)[0], ttorch.float32)


@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((1, 4, 2, 2), 2), ((2, 3, 2), 5), ((1, 3, 2, 1, 2), 1)])
def test_local_response_norm(device, shape, size):
    x = np.random.default_rng(7).normal(size=shape)
    close(F.local_response_norm(T(x, device), size, alpha=0.5, beta=0.7, k=2.0), np_lrn(x, size, 0.5, 0.7, 2.0),
          ttorch.float32)


# ------------------------------------------------------------------------------ functional: gradients
def _g(shape, seed):
    return T(np.random.default_rng(seed).normal(size=shape), "cpu", ttorch.float64, rg=True)


@pytest.mark.parametrize("name", ["batch", "batch_eval", "instance", "layer", "rms", "group", "lrn"])
def test_gradients(name):
    x, w, b = _g((3, 4, 2), 0), _g((4,), 1), _g((4,), 2)
    if name == "batch":
        f = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)
    elif name == "batch_eval":
        rm, rv = T([0.1, 0.2, -0.3, 0.0], "cpu", ttorch.float64), T([1.0, 0.5, 2.0, 1.5], "cpu", ttorch.float64)
        f = lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False)
    elif name == "instance":
        f = lambda x, w, b: F.instance_norm(x, weight=w, bias=b)
    elif name == "group":
        f = lambda x, w, b: F.group_norm(x, 2, w, b)
    elif name == "lrn":
        f = lambda x, w, b: F.local_response_norm(x * w.reshape(1, 4, 1) + b.reshape(1, 4, 1), 3, 0.3, 0.75, 1.0)
    else:
        x = _g((3, 2, 4), 0)
        if name == "layer":
            f = lambda x, w, b: F.layer_norm(x, (4,), w, b)
        else:
            f = lambda x, w, b: F.rms_norm(x, (4,), w) + b
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


# ------------------------------------------------------------------------------ functional: errors
def test_functional_errors():
    x = ttorch.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\], expected input with shape \[\*, 5\], "
                                           r"but got input of size\[2, 3, 4\]"):
        F.layer_norm(x, (5,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(x, (4,), ttorch.ones(3))
    with pytest.raises(RuntimeError, match="expected input with shape"):
        F.rms_norm(x, (3, 5))
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups"):
        F.group_norm(x, 2)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r".*Size\(\[1, 3\]\)"):
        F.batch_norm(ttorch.randn(1, 3), None, None, training=True)
    F.batch_norm(ttorch.randn(1, 3), ttorch.zeros(3), ttorch.ones(3), training=False)   # fine in eval
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(ttorch.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2 dimensions\)"):
        F.local_response_norm(ttorch.randn(2, 3), 2)


# ------------------------------------------------------------------------------ fused cuda kernels
HAS_CUDA = ttorch.cuda.is_available()


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_fused_gradients_cuda(rms, affine):
    # F.layer_norm / F.rms_norm take the fused Triton kernels on cuda: gradients (first and
    # second order) against finite differences, and against the composite cpu path
    r = np.random.default_rng(8)
    x = r.normal(size=(3, 2, 2))
    w, b = r.uniform(0.5, 1.5, (2, 2)), r.normal(size=(2, 2))

    def f(x, w, b):
        if rms:
            return F.rms_norm(x, (2, 2), w if affine else None, 1e-5) + (b if affine else 0)
        return F.layer_norm(x, (2, 2), w if affine else None, b if affine else None, 1e-5)
    args = [T(a, "cuda", ttorch.float64, rg=True) for a in (x, w, b)]
    assert gradcheck(f, args, atol=1e-6, fast_mode=True)     # the interpreter is slow: v^T J u only
    if affine:
        assert gradgradcheck(f, args, atol=1e-6, fast_mode=True)
    g = r.normal(size=x.shape)
    grads = {}
    for dev in ("cpu", "cuda"):
        a = [T(v, dev, rg=True) for v in (x, w, b)]
        (f(*a) * T(g, dev)).sum().backward()
        grads[dev] = [t.grad for t in a]
    for c, p in zip(grads["cuda"], grads["cpu"]):
        if p is not None:
            close(c, p, ttorch.float32, 10)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_fused_backward_op_cuda():
    from ttorch.ops.layer_norm import _layer_norm_backward
    r = np.random.default_rng(9)
    g, x, w = r.normal(size=(9, 4)), r.normal(size=(9, 4)), r.normal(size=4)
    outs = {dev: _layer_norm_backward(T(g, dev), T(x, dev), T(w, dev)) for dev in ("cpu", "cuda")}
    for c, p in zip(outs["cuda"], outs["cpu"]):
        close(c, p, ttorch.float32, 9)
    args = [T(a, "cpu", ttorch.float64, rg=True) for a in (g, x, w)]
    assert gradcheck(lambda g, x, w: _layer_norm_backward(g, x, w), args)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
@pytest.mark.parametrize("rms", [False, True])
def test_fused_backward_every_tuned_loop(rms):
    # the backward's row loop as the tuner may run it: plain, or pipelined (tl.range(num_stages=));
    # 10 rows over 4 programs of 3 rows: the last program's last two rows are masked off
    from ttorch import tune
    from ttorch.ops import layer_norm as ln
    r = np.random.default_rng(10)
    g, x, w = (r.normal(size=s) for s in ((10, 33), (10, 33), 33))
    want = ln._layer_norm_backward(T(g, "cpu"), T(x, "cpu"), T(w, "cpu"), rms=rms)
    loops = {c.kwargs.get("STAGES") for c in ln._tune_configs(("bwd", "float32", 1024))}
    assert loops == {None, ln._STAGED}
    for stages in loops:
        cfg = tune.Config({"PROGRAMS": 128, "STAGES": stages}, num_warps=2)
        got = ln._bwd_cuda(T(g, "cuda"), T(x, "cuda"), T(w, "cuda"), k=1, eps=1e-5, rms=rms, cfg=cfg)
        for c, p in zip(got, want):
            close(c, p, ttorch.float32, 10)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_fused_looped_rows(monkeypatch, rms, affine):
    # rows longer than a block, with the blocks lowered to 8 columns (4 float64): 33 columns are 5
    # blocks (9), the last one short; 16 aligned columns are one pass backward (twice BWD_BLOCK_N),
    # two blocks forward. The rows sit 50 standard deviations off 0: the looped statistics must not
    # cancel. Against the float64 cpu path on the same (rounded) inputs.
    from ttorch.ops import layer_norm as ln
    monkeypatch.setattr(ln, "FWD_BLOCK_N", 8)
    monkeypatch.setattr(ln, "BWD_BLOCK_N", 8)
    assert ln._block("fwd", ttorch.float32, 33) == (8, True) and ln._block("bwd", ttorch.float64, 33) == (4, True)
    assert ln._block("bwd", ttorch.float32, 16, aligned=True) == (16, False)
    r = np.random.default_rng(12)
    for n, dtype in ((33, ttorch.float32), (16, ttorch.float32), (33, ttorch.float64)):
        x, g = T(r.normal(size=(5, n)) + 50, "cpu", dtype), T(r.normal(size=(5, n)), "cpu", dtype)
        w = T(r.uniform(0.5, 1.5, n), "cpu", dtype) if affine else None
        b = T(r.normal(size=n), "cpu", dtype) if affine and not rms else None
        args = {"cpu": [None if t is None else t.to(ttorch.float64) for t in (x, g, w, b)],
                "cuda": [None if t is None else t.to("cuda") for t in (x, g, w, b)]}
        assert ln._aligned(n, *args["cuda"]) == (n == 16)
        outs = {}
        for dev, (xd, gd, wd, bd) in args.items():
            y = F.rms_norm(xd, (n,), wd, 1e-5) if rms else F.layer_norm(xd, (n,), wd, bd, 1e-5)
            wb = wd if wd is not None else ttorch.ones(n, dtype=xd.dtype, device=dev)
            outs[dev] = [y, *ln._layer_norm_backward(gd, xd, wb, 1e-5, rms=rms)]
        for c, p in zip(outs["cuda"], outs["cpu"]):
            close(c, p, dtype, 5 * n)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_fused_long_rows_cuda():
    # rows past 16384 columns (the composite path's until the looped kernels took them) run the fused
    # op: one LayerNormBackward0 node, values and gradients against the cpu
    r = np.random.default_rng(13)
    x, g = r.normal(size=(2, 20001)) + 3, r.normal(size=(2, 20001))
    w, b = r.uniform(0.5, 1.5, 20001), r.normal(size=20001)
    grads = {}
    for dev in ("cpu", "cuda"):
        a = [T(v, dev, rg=True) for v in (x, w, b)]
        y = F.layer_norm(a[0], (20001,), a[1], a[2])
        assert type(y.grad_fn).__name__ == "OpNode" and y.grad_fn.name() == "LayerNormBackward0"
        (y * T(g, dev)).sum().backward()
        grads[dev] = [y] + [t.grad for t in a]
    for c, p in zip(grads["cuda"], grads["cpu"]):
        close(c, p, ttorch.float32, 200)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda device")
def test_fused_backward_partials_bounded(monkeypatch):
    # long rows take fewer backward programs, so the dweight/dbias partials stay under _PARTIALS
    # elements each: 7 rows of 33 columns with room for 2 partial rows run 2 programs of 4 rows
    from ttorch.ops import layer_norm as ln
    monkeypatch.setattr(ln, "_PARTIALS", 70)
    grids = []
    real = ln.launch
    monkeypatch.setattr(ln, "launch", lambda kernel, grid, *a, **k: (grids.append(grid), real(kernel, grid, *a, **k)))
    r = np.random.default_rng(14)
    g, x, w = r.normal(size=(7, 33)), r.normal(size=(7, 33)), r.normal(size=33)
    got = ln._layer_norm_backward(T(g, "cuda"), T(x, "cuda"), T(w, "cuda"))
    assert grids == [(2,)]
    for c, p in zip(got, ln._layer_norm_backward(T(g, "cpu"), T(x, "cpu"), T(w, "cpu"))):
        close(c, p, ttorch.float32, 10)


# ------------------------------------------------------------------------------ modules
import ttorch.nn as nn  # noqa: E402


def _set_affine(m, r, device):
    with ttorch.no_grad():
        m.weight.copy_(T(r.uniform(0.5, 1.5, tuple(m.weight.shape)), device))
        m.bias.copy_(T(r.normal(size=tuple(m.bias.shape)), device))
    return N(m.weight), N(m.bias)


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (4, 3)), (nn.BatchNorm1d, (2, 3, 4)),
                                       (nn.BatchNorm2d, (2, 3, 2, 2)), (nn.BatchNorm3d, (2, 3, 1, 2, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_module(device, cls, shape, momentum):
    r = np.random.default_rng(10)
    m = cls(3, momentum=momentum).to(device)
    w, b = _set_affine(m, r, device)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(1, 4):
        x = r.normal(size=shape) * 2 + 0.5
        y = m(T(x, device))
        ey, rm, rv = np_bn(x, w, b, 1e-5, rm, rv, True, 1.0 / step if momentum is None else momentum)
        close(y, ey, ttorch.float32)
    close(m.running_mean, rm, ttorch.float32)
    close(m.running_var, rv, ttorch.float32)
    assert m.num_batches_tracked.item() == 3 and m.num_batches_tracked.dtype == ttorch.int64
    m.eval()
    x = r.normal(size=shape)
    close(m(T(x, device)), np_bn(x, w, b, 1e-5, rm, rv, training=False)[0], ttorch.float32)
    assert m.num_batches_tracked.item() == 3
    assert list(m.state_dict().keys()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    m.reset_running_stats()
    close(m.running_var, np.ones(3), ttorch.float32)
    assert m.num_batches_tracked.item() == 0


def test_batchnorm_no_tracking_no_affine(device):
    m = nn.BatchNorm1d(3, affine=False, track_running_stats=False).to(device)
    assert m.running_mean is None and m.weight is None and list(m.state_dict().keys()) == []
    x = np.random.default_rng(11).normal(size=(5, 3))
    m.eval()    # no running stats: batch statistics even in eval mode
    close(m(T(x, device)), np_bn(x, None, None, 1e-5)[0], ttorch.float32)


def test_batchnorm_grad_and_parity():
    r = np.random.default_rng(12)
    x, g = r.normal(size=(3, 2, 3)), r.normal(size=(3, 2, 3))
    res = {}
    for dev in ("cpu", "cuda") if HAS_CUDA else ("cpu",):
        m = nn.BatchNorm1d(2).to(dev)
        xt = T(x, dev, rg=True)
        (m(xt) * T(g, dev)).sum().backward()
        res[dev] = (xt.grad, m.weight.grad, m.bias.grad, m.running_mean, m.running_var)
    for c, p in zip(res.get("cuda", ()), res["cpu"]):
        close(c, p, ttorch.float32, 9)
    m = nn.BatchNorm1d(2).double()
    assert gradcheck(lambda x, w: F.batch_norm(x, None, None, w, m.bias, True), (_g((3, 2, 2), 3), _g((2,), 4)))


@pytest.mark.parametrize("cls,shape", [(nn.InstanceNorm1d, (2, 3, 4)), (nn.InstanceNorm1d, (3, 4)),
                                       (nn.InstanceNorm2d, (2, 3, 2, 3)), (nn.InstanceNorm3d, (1, 3, 2, 1, 2))])
def test_instancenorm_module(device, cls, shape):
    r = np.random.default_rng(13)
    m = cls(3).to(device)
    assert m.weight is None and m.running_mean is None and list(m.state_dict().keys()) == []
    x = r.normal(size=shape)
    batched = x if x.ndim == cls(3)._get_no_batch_dim() + 1 else x[None]
    y = m(T(x, device))
    close(y, np_in(batched, None, None, 1e-5)[0].reshape(shape), ttorch.float32)
    m = cls(3, affine=True, track_running_stats=True, momentum=0.2).to(device)
    w, b = _set_affine(m, r, device)
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = r.normal(size=shape)
        bx = x if x.ndim == m._get_no_batch_dim() + 1 else x[None]
        ey, rm, rv = np_in(bx, w, b, 1e-5, rm, rv, 0.2)
        close(m(T(x, device)), ey.reshape(shape), ttorch.float32)
    close(m.running_mean, rm, ttorch.float32)
    close(m.running_var, rv, ttorch.float32)
    assert list(m.state_dict().keys()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    m.eval()
    x = r.normal(size=shape)
    shp = (1, -1) + (1,) * (len(shape) - 2) if x.ndim == m._get_no_batch_dim() + 1 else (-1,) + (1,) * (x.ndim - 1)
    close(m(T(x, device)), (x - rm.reshape(shp)) / np.sqrt(rv.reshape(shp) + 1e-5) * w.reshape(shp) + b.reshape(shp),
          ttorch.float32)


def test_layer_group_rms_lrn_modules(device):
    r = np.random.default_rng(14)
    x = r.normal(size=(2, 4, 3))
    ln = nn.LayerNorm([4, 3]).to(device)
    assert tuple(ln.weight.shape) == (4, 3) and list(ln.state_dict().keys()) == ["weight", "bias"]
    w, b = _set_affine(ln, r, device)
    close(ln(T(x, device)), np_ln(x, 2, w, b, 1e-5), ttorch.float32)
    assert nn.LayerNorm(3, bias=False).bias is None
    assert list(nn.LayerNorm(3, elementwise_affine=False).state_dict().keys()) == []
    rms = nn.RMSNorm(3, eps=1e-4).to(device)
    close(rms.weight, np.ones(3), ttorch.float32)
    close(rms(T(x, device)), np_rms(x, 1, None, 1e-4), ttorch.float32)
    close(nn.RMSNorm(3).to(device)(T(x, device)), np_rms(x, 1, None, ttorch.finfo(ttorch.float32).eps),
          ttorch.float32)
    gn = nn.GroupNorm(2, 4).to(device)
    assert list(gn.state_dict().keys()) == ["weight", "bias"]
    w, b = _set_affine(gn, r, device)
    close(gn(T(x, device)), np_gn(x, 2, w, b, 1e-5), ttorch.float32)
    lrn = nn.LocalResponseNorm(3, alpha=0.1)
    close(lrn(T(x, device)), np_lrn(x, 3, 0.1, 0.75, 1.0), ttorch.float32)
    assert repr(ln) == "LayerNorm((4, 3), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.BatchNorm2d(5)) == ("BatchNorm2d(5, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                                       "track_running_stats=True)")


def test_layernorm_training_step(device):
    # LayerNorm's parameters get gradients and the module trains (loss falls over a few steps)
    r = np.random.default_rng(15)
    ln = nn.LayerNorm(5).to(device)
    x, t = T(r.normal(size=(6, 5)), device), T(r.normal(size=(6, 5)), device)
    losses = []
    for _ in range(5):
        loss = ((ln(x) - t) ** 2).mean()
        ln.zero_grad()
        loss.backward()
        with ttorch.no_grad():
            for p in ln.parameters():
                p.sub_(p.grad * 0.5)
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.9


def test_module_errors():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(ttorch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(ttorch.randn(2, 3, 2))
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        nn.BatchNorm3d(3)(ttorch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size"):
        nn.BatchNorm1d(3)(ttorch.randn(1, 3))
    nn.BatchNorm1d(3).eval()(ttorch.randn(1, 3))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(ttorch.randn(2, 3))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 4."):
        nn.InstanceNorm1d(3, affine=True)(ttorch.randn(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(ttorch.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"num_channels \(\d+\) must be divisible by num_groups \(\d+\)"):
        nn.GroupNorm(3, 4)


def test_batchnorm_load_old_state_dict():
    m = nn.BatchNorm1d(2)
    sd = {k: v for k, v in m.state_dict().items() if k != "num_batches_tracked"}
    sd["running_mean"] = ttorch.tensor([1.0, 2.0])
    # a plain dict has no ``_metadata``: read as a version-1 checkpoint, without num_batches_tracked
    m.num_batches_tracked.fill_(5)
    m.load_state_dict(sd)
    close(m.running_mean, np.array([1.0, 2.0]), ttorch.float32)
    assert m.num_batches_tracked.item() == 0


def test_fused_norms_with_infinite_and_nan_entries(device):
    # a row holding inf, -inf or NaN gives NaN where the CPU path does, and the other rows are untouched
    x = np.random.default_rng(4).standard_normal((4, 7)).astype(np.float32)
    x[1, 2], x[2, 0], x[3, 5] = np.inf, -np.inf, np.nan
    w = np.linspace(0.5, 1.5, 7).astype(np.float32)
    for f in (lambda t: F.layer_norm(t, (7,), T(w, t.device.type)), lambda t: F.rms_norm(t, (7,))):
        got, want = f(T(x, device)).cpu().numpy(), f(T(x, "cpu")).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    # a constant row's mean is exact, so it centres to exactly 0
    c = np.full((2, 5), 0.1, np.float32)
    assert (F.layer_norm(T(c, device), (5,)).cpu().numpy() == 0).all()
