"""The fused batch-norm kernels (``ttorch.ops.batch_norm``): cuda against cpu and against float64
NumPy for the values, the running statistics and the gradients, on the shapes that pick each tile
(wide maps, BatchNorm1d's one element per channel and row, odd sizes), with the row chunks forced
to many; the shifted one-pass variance on data whose mean dwarfs its spread; launch counts."""
import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.ops import batch_norm as bn

from _helpers import close

HAS_CUDA = ttorch.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device (real or simulated)")


def _ref(x, w, b, rm, rv, training, momentum, eps):
    """PyTorch's formulas in float64."""
    dims = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(dims), x.var(dims)
        n = x.size // x.shape[1]
        rm = (1 - momentum) * rm + momentum * mean
        rv = (1 - momentum) * rv + momentum * var * n / max(n - 1, 1)
    else:
        mean, var = rm, rv
    y = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps)
    return y * w.reshape(shp) + b.reshape(shp), rm, rv


def _run(device, x, w, b, rm, rv, g, training, dtype=ttorch.float32):
    xt = ttorch.tensor(x, dtype=dtype, device=device, requires_grad=True)
    f32 = ttorch.float32
    wt = ttorch.tensor(w, dtype=f32, device=device, requires_grad=True)
    bt = ttorch.tensor(b, dtype=f32, device=device, requires_grad=True)
    rmt, rvt = ttorch.tensor(rm, dtype=f32, device=device), ttorch.tensor(rv, dtype=f32, device=device)
    y = F.batch_norm(xt, rmt, rvt, wt, bt, training=training, momentum=0.2, eps=1e-4)
    y.backward(ttorch.tensor(g, dtype=dtype, device=device))
    return y, rmt, rvt, xt.grad, wt.grad, bt.grad


SHAPES = [(4, 3), (37, 5), (3, 2, 5), (2, 3, 4, 5), (2, 2, 45, 50), (1, 2, 3)]


@cuda_only
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("chunk", ["default", "many"])
def test_cuda_matches_cpu_and_float64(shape, training, chunk, monkeypatch):
    if chunk == "many":         # as many row chunks as rows, small tiles: every partial path
        from ttorch import tune
        monkeypatch.setattr(bn, "_config", lambda kind, dt, s: tune.Config({"TILE": 64, "CHUNK": 1}, num_warps=4))
    r = np.random.default_rng(sum(shape))
    c = shape[1]
    x = r.normal(size=shape) * 2 + 3
    w, b = r.uniform(0.5, 1.5, c), r.normal(size=c)
    rm, rv = r.normal(size=c), r.uniform(0.5, 2, c)
    g = r.normal(size=shape)
    ey, erm, erv = _ref(x, w, b, rm, rv, training, 0.2, 1e-4)
    cpu = _run("cpu", x, w, b, rm, rv, g, training)
    cu = _run("cuda", x, w, b, rm, rv, g, training)
    n = x.size // c
    close(cpu[0], ey, ttorch.float32, n, "cpu y vs float64")
    close(cpu[1], erm, ttorch.float32, n, "running mean")
    close(cpu[2], erv, ttorch.float32, n, "running var")
    for name, a, e in zip(("y", "running_mean", "running_var", "dx", "dweight", "dbias"), cu, cpu):
        close(a, e, ttorch.float32, n, f"cuda {name} vs cpu")
    # float64 gradients against the composite formula (the double-backward path) on cpu
    xd = ttorch.tensor(x, dtype=ttorch.float64)
    dx, dw, db = bn._composite_bw(ttorch.tensor(g), xd, ttorch.tensor(w, dtype=ttorch.float64),
                                  ttorch.tensor(rm), ttorch.tensor(rv), training, 1e-4)
    close(cpu[3], dx, ttorch.float32, n, "dx vs composite")
    close(cpu[4], dw, ttorch.float32, n, "dweight vs composite")
    close(cpu[5], db, ttorch.float32, n, "dbias vs composite")


@cuda_only
@pytest.mark.parametrize("dtype", [ttorch.float16, ttorch.bfloat16])
def test_half_inputs_float32_parameters(dtype):
    r = np.random.default_rng(7)
    x, g = r.normal(size=(4, 3, 6, 7)), r.normal(size=(4, 3, 6, 7))
    w, b, rm, rv = r.uniform(0.5, 1.5, 3), r.normal(size=3), np.zeros(3), np.ones(3)
    cu = _run("cuda", x, w, b, rm, rv, g, True, dtype)
    cpu = _run("cpu", x, w, b, rm, rv, g, True, dtype)
    assert cu[0].dtype is dtype and cu[3].dtype is dtype and cu[4].dtype is ttorch.float32
    for name, a, e in zip(("y", "running_mean", "running_var", "dx", "dweight", "dbias"), cu, cpu):
        close(a, e, dtype if name in ("y", "dx") else ttorch.float32, 64, f"{dtype} {name}")


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if HAS_CUDA else []))
def test_shifted_variance_survives_a_large_mean(device):
    # float32 E[x^2] - E[x]^2 at mean 1e4 and std 1e-1 would lose every digit of the variance
    r = np.random.default_rng(3)
    x = 1e4 + r.normal(size=(64, 2, 33)) * 0.1
    y, mean, var = bn.batch_norm(ttorch.tensor(x, device=device), None, None, None, None, True, 0.1, 1e-5)
    xs = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(var.cpu().numpy(), xs.var((0, 2)), rtol=1e-3)
    np.testing.assert_allclose(mean.cpu().numpy(), xs.mean((0, 2)), rtol=1e-6)
    assert abs(float(y.cpu().std())) == pytest.approx(1.0, rel=2e-3)


@cuda_only
def test_launches(monkeypatch):
    """Three kernels forward in training, two in eval; three backward, two in eval without the
    affine parameters' gradients. The composed form took about fifteen each way."""
    calls = []
    real = bn.launch
    monkeypatch.setattr(bn, "launch", lambda k, *a, **kw: (calls.append(k.__name__ if hasattr(k, "__name__")
                                                                          else str(k)), real(k, *a, **kw))[1])
    x = ttorch.randn(4, 3, 5, 5, device="cuda", requires_grad=True)
    w = ttorch.ones(3, device="cuda", requires_grad=True)
    b = ttorch.zeros(3, device="cuda", requires_grad=True)
    rm, rv = ttorch.zeros(3, device="cuda"), ttorch.ones(3, device="cuda")
    y = F.batch_norm(x, rm, rv, w, b, training=True)
    assert len(calls) == 3
    y.sum().backward()
    assert len(calls) == 6
    calls.clear()
    y = F.batch_norm(x, rm, rv, w.detach(), b.detach(), training=False)
    assert len(calls) == 2
    y.sum().backward()
    assert len(calls) == 4


def test_statistics_are_outside_the_graph():
    x = ttorch.randn(4, 3, requires_grad=True)
    y, mean, var = bn.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    assert y.requires_grad and not mean.requires_grad and not var.requires_grad
    assert y.grad_fn.name() == "NativeBatchNormBackward0"


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if HAS_CUDA else []))
def test_running_stats_version_and_strided(device):
    rm = ttorch.zeros(6, device=device)[::2]            # strided running statistics are updated too
    rv = ttorch.ones(6, device=device)[::2]
    x = ttorch.tensor(np.arange(24.0).reshape(4, 3, 2), device=device)
    v = rm._version
    F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    assert rm._version > v
    mean = np.arange(24.0).reshape(4, 3, 2).mean((0, 2))
    close(rm, 0.5 * mean, ttorch.float32)


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if HAS_CUDA else []))
def test_double_backward_matches_across_devices(device):
    r = np.random.default_rng(5)
    x0, w0 = r.normal(size=(3, 2, 4)), r.uniform(0.5, 1.5, 2)
    res = []
    for dev in ("cpu", device):
        x = ttorch.tensor(x0, device=dev, requires_grad=True)
        w = ttorch.tensor(w0, device=dev, requires_grad=True)
        y = F.batch_norm(x, None, None, w, None, training=True)
        (gx,) = ttorch.autograd.grad((y * y * y).sum(), x, create_graph=True)
        (ggw,) = ttorch.autograd.grad((gx * gx).sum(), w)
        res.append(ggw)
    close(res[1], res[0], ttorch.float32, 24)


def test_channel_mismatch_names_the_op():
    with pytest.raises(RuntimeError, match=r"batch_norm: running_mean should contain 3 elements not 4"):
        F.batch_norm(ttorch.randn(2, 3), ttorch.zeros(4), ttorch.ones(3), training=True)


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if HAS_CUDA else []))
@pytest.mark.parametrize("which", ["mean", "var"])
def test_one_running_statistic(device, which):
    """PyTorch updates whichever running statistic is given."""
    x = np.arange(12.0).reshape(4, 3)
    rm = ttorch.zeros(3, device=device) if which == "mean" else None
    rv = ttorch.ones(3, device=device) if which == "var" else None
    F.batch_norm(ttorch.tensor(x, dtype=ttorch.float32, device=device), rm, rv, training=True, momentum=0.5)
    if which == "mean":
        close(rm, 0.5 * x.mean(0), ttorch.float32)
    else:
        close(rv, 0.5 + 0.5 * x.var(0, ddof=1), ttorch.float32)
