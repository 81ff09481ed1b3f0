"""Losses of ttorch.nn.functional / ttorch.nn against NumPy re-implementations of PyTorch's formulas:
values for every reduction and option on both devices, gradients by finite differences (float64),
cpu-vs-cuda parity, PyTorch's errors."""
import math
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

REDUCTIONS = ["none", "mean", "sum"]


def _red(a, reduction):
    return a if reduction == "none" else (a.mean() if reduction == "mean" else a.sum())


def _log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def _log_sigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _tensors(arrays, device, dtype=ttorch.float64, requires_grad=False):
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            t = ttorch.tensor(a, dtype=dtype, device=device)
            out.append(t.requires_grad_(requires_grad))
        elif isinstance(a, np.ndarray):
            out.append(ttorch.tensor(a, device=device))
        else:
            out.append(a)
    return out


def _check(actual, expected, atol=1e-5):
    a = actual.detach().cpu().numpy()
    assert a.shape == np.shape(expected), (a.shape, np.shape(expected))
    np.testing.assert_allclose(a, expected, rtol=1e-4, atol=atol)


# --- cross_entropy / nll_loss ---------------------------------------------------------------------------------

def np_cross_entropy(x, t, w=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, log_probs=False):
    """PyTorch's formula for class-index targets (nll_loss when ``log_probs``)."""
    one = x.ndim == 1
    if one:
        x, t = x[None], np.asarray(t).reshape(1)
    c = x.shape[1]
    lp = np.moveaxis(x if log_probs else _log_softmax(x, 1), 1, -1)       # (N, d..., C)
    w = np.ones(c) if w is None else w
    keep = t != ignore_index
    ts = np.where(keep, t, 0)
    picked = np.take_along_axis(lp, ts[..., None], -1)[..., 0]
    wt = w[ts] * keep
    nll = -picked * wt
    smooth = -(lp * w).sum(-1) * keep
    ls = label_smoothing
    if reduction == "none":
        out = (1 - ls) * nll + ls / c * smooth
        return out[0] if one else out
    if reduction == "sum":
        return (1 - ls) * nll.sum() + ls / c * smooth.sum()
    return (1 - ls) * nll.sum() / wt.sum() + ls / c * smooth.sum() / wt.sum()


def np_cross_entropy_probs(x, p, w=None, reduction="mean", label_smoothing=0.0):
    cd = 0 if x.ndim == 1 else 1
    c = x.shape[cd]
    p = p * (1 - label_smoothing) + label_smoothing / c
    prod = _log_softmax(x, cd) * p
    if w is not None:
        shape = [1] * x.ndim
        shape[cd] = c
        prod = prod * w.reshape(shape)
    if reduction == "none":
        return -prod.sum(cd)
    return -prod.sum() if reduction == "sum" else -prod.sum() / (x.size // c)


# (input shape, target shape): no batch, (N, C), (N, C, d1), (N, C, d1, d2)
SHAPES = [((5,), ()), ((4, 5), (4,)), ((2, 3, 4), (2, 4)), ((2, 3, 2, 3), (2, 2, 3))]


def _targets(shape, c, rng, ignore_index=-100):
    t = rng.integers(0, c, size=shape)
    if t.ndim:
        t.reshape(-1)[1] = ignore_index     # one ignored position in every batched case
    return t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(device, reduction, shapes, weighted, label_smoothing):
    rng = np.random.default_rng(1)
    xs, ts = shapes
    c = xs[0] if len(xs) == 1 else xs[1]
    x = rng.standard_normal(xs)
    t = _targets(ts, c, rng)
    w = rng.uniform(0.5, 2.0, c) if weighted else None
    xt, tt, wt = _tensors([x, t, w], device, ttorch.float32)
    out = F.cross_entropy(xt, tt, weight=wt, reduction=reduction, label_smoothing=label_smoothing)
    _check(out, np_cross_entropy(x, t, w, reduction=reduction, label_smoothing=label_smoothing))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(device, reduction, shapes, weighted):
    rng = np.random.default_rng(2)
    xs, ts = shapes
    c = xs[0] if len(xs) == 1 else xs[1]
    x = _log_softmax(rng.standard_normal(xs), 0 if len(xs) == 1 else 1)
    t = _targets(ts, c, rng, ignore_index=2)
    w = rng.uniform(0.5, 2.0, c) if weighted else None
    xt, tt, wt = _tensors([x, t, w], device, ttorch.float32)
    out = F.nll_loss(xt, tt, weight=wt, ignore_index=2, reduction=reduction)
    _check(out, np_cross_entropy(x, t, w, ignore_index=2, reduction=reduction, log_probs=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities(device, reduction, shape, weighted, label_smoothing):
    rng = np.random.default_rng(3)
    cd = 0 if len(shape) == 1 else 1
    x = rng.standard_normal(shape)
    p = np.exp(_log_softmax(rng.standard_normal(shape), cd))
    w = rng.uniform(0.5, 2.0, shape[cd]) if weighted else None
    xt, pt, wt = _tensors([x, p, w], device, ttorch.float32)
    out = F.cross_entropy(xt, pt, weight=wt, reduction=reduction, label_smoothing=label_smoothing)
    _check(out, np_cross_entropy_probs(x, p, w, reduction, label_smoothing))


def test_cross_entropy_all_ignored_mean_is_nan(device):
    x = ttorch.randn(2, 3, device=device)
    t = ttorch.tensor([-100, -100], device=device)
    assert math.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0


@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(label_smoothing, weighted, reduction):
    rng = np.random.default_rng(4)
    x = ttorch.tensor(rng.standard_normal((3, 4, 2)), dtype=ttorch.float64, requires_grad=True)
    t = ttorch.tensor(np.array([[0, 3], [-100, 1], [2, 2]]))
    # class weights are constants, as in PyTorch: one that requires grad is an error before the op runs
    w = ttorch.tensor(rng.uniform(0.5, 2, 4), dtype=ttorch.float64) if weighted else None
    assert gradcheck(lambda x: F.cross_entropy(x, t, weight=w, reduction=reduction,
                                               label_smoothing=label_smoothing), (x,))
    if weighted:
        with pytest.raises(RuntimeError, match="nll_loss2d_forward' is not differentiable with respect to argument "
                                               "'weight'"):
            F.cross_entropy(x, t, weight=w.requires_grad_(), label_smoothing=label_smoothing)
        with pytest.raises(RuntimeError, match="'nll_loss_forward' is not differentiable"):
            F.nll_loss(x[:, :, 0], t[:, 0], weight=w)
        with ttorch.no_grad():
            F.cross_entropy(x, t, weight=w)
    p = ttorch.tensor(np.exp(_log_softmax(rng.standard_normal((3, 4)), 1)), dtype=ttorch.float64,
                      requires_grad=True)
    x2 = ttorch.tensor(rng.standard_normal((3, 4)), dtype=ttorch.float64, requires_grad=True)
    assert gradcheck(lambda x, p: F.cross_entropy(x, p, reduction=reduction, label_smoothing=label_smoothing),
                     (x2, p))


def test_ignore_index_rows_get_zero_gradient(device):
    x = ttorch.randn(4, 5, device=device, requires_grad=True)
    t = ttorch.tensor([1, 7, 3, 7], device=device)
    F.cross_entropy(x, t, ignore_index=7, label_smoothing=0.1).backward()
    g = x.grad.cpu().numpy()
    assert np.all(g[[1, 3]] == 0) and np.all(np.abs(g[[0, 2]]).sum(1) > 0)
    np.testing.assert_allclose(g.sum(1), 0, atol=1e-6)    # softmax - onehot rows sum to zero


def test_cross_entropy_cpu_cuda_parity():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    t = np.array([[0, 5], [-100, 1], [2, 4]])
    w = rng.uniform(0.5, 2, 6).astype(np.float32)
    grads, outs = [], []
    for dev in ("cpu", "cuda"):
        xt = ttorch.tensor(x, device=dev, requires_grad=True)
        out = F.cross_entropy(xt, ttorch.tensor(t, device=dev), weight=ttorch.tensor(w, device=dev),
                              label_smoothing=0.1)
        out.backward()
        outs.append(out.item())
        grads.append(xt.grad.cpu().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("args,exc,msg", [
    (((3, 5), [1, 2]), ValueError, "Expected input batch_size (3) to match target batch_size (2)."),
    (((3, 5), [1, 2, 5]), IndexError, "Target 5 is out of bounds."),
    (((3, 5), [1, -1, 0]), IndexError, "Target -1 is out of bounds."),
    (((2, 3, 4), [[0, 1, 2], [0, 1, 2]]), RuntimeError, "Expected target size [2, 4], got [2, 3]"),
    (((2, 5), [[1], [2]]), RuntimeError, "0D or 1D target tensor expected, multi-target not supported"),
])
def test_cross_entropy_errors(device, args, exc, msg):
    shape, target = args
    x = ttorch.randn(*shape, device=device)
    t = ttorch.tensor(target, device=device)
    with pytest.raises(exc) as e:
        F.cross_entropy(x, t).item()    # on cuda a bad class index raises at the next sync, as in PyTorch
    assert str(e.value) == msg if exc is not IndexError else msg in str(e.value)


def test_cross_entropy_bad_target_on_cuda_raises_at_the_next_sync():
    x = ttorch.randn(3, 5, device="cuda")
    loss = F.cross_entropy(x, ttorch.tensor([1, 7, 0], device="cuda"), reduction="none")   # no host sync here
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        ttorch.cuda.synchronize()
    ttorch.cuda.synchronize()                                     # reported once, then cleared
    assert loss.shape == (3,)
    ok = F.cross_entropy(x, ttorch.tensor([1, 4, 0], device="cuda"))
    assert np.isfinite(ok.item())
    F.cross_entropy(x, ttorch.tensor([-3, 2, 0], device="cuda"))
    with pytest.raises(IndexError, match="Target -3 is out of bounds."):
        ok.cpu()


def test_nll_loss_bad_target_on_cuda_raises_at_the_next_sync():
    x = ttorch.randn(3, 5, device="cuda").log_softmax(1)
    loss = F.nll_loss(x, ttorch.tensor([1, 7, 0], device="cuda"), reduction="none")    # no host sync here
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        loss.cpu()
    F.nll_loss(x, ttorch.tensor([-100, -3, 9], device="cuda"))          # the first bad one is reported
    with pytest.raises(IndexError, match="Target -3 is out of bounds."):
        ttorch.cuda.synchronize()
    ok = F.nll_loss(x, ttorch.tensor([1, -100, 4], device="cuda"))
    ref = F.nll_loss(x.cpu(), ttorch.tensor([1, -100, 4]))
    np.testing.assert_allclose(ok.item(), ref.item(), rtol=1e-6)


def test_cross_entropy_more_errors(device):
    x = ttorch.randn(3, 5, device=device)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        F.cross_entropy(x, ttorch.tensor([1.0, 2.0, 0.0], device=device))
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 5 classes or no "
                                           r"classes but got weight tensor of shape: \[4\]"):
        F.cross_entropy(x, ttorch.tensor([1, 2, 0], device=device), weight=ttorch.ones(4, device=device))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F.cross_entropy(x, ttorch.tensor([1, 2, 0], device=device), label_smoothing=1.5)
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.cross_entropy(x, ttorch.tensor([1, 2, 0], device=device), reduction="bogus")
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        F.cross_entropy(x, ttorch.rand(3, 5, device=device), ignore_index=1)
    with pytest.raises(ValueError, match=r"Expected 1 or more dimensions \(got 0\)"):
        F.nll_loss(ttorch.tensor(1.0, device=device), ttorch.tensor(0, device=device))


# --- elementwise losses: one table, checked for values, reductions, gradients and parity ------------------------

def _r(*shape, lo=None, hi=None, seed=0):
    rng = np.random.default_rng(seed + len(shape) * 7 + sum(shape))
    return rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)


def _sign(*shape, seed=0):
    return np.where(_r(*shape, seed=seed + 11) > 0, 1.0, -1.0)


def _np_dist(a, b, p, eps):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1.0 / p)


def _np_cosine(x1, x2, y, margin, reduction):
    ax = y.ndim
    cos = (x1 * x2).sum(ax) / np.sqrt(((x1 * x1).sum(ax) + 1e-12) * ((x2 * x2).sum(ax) + 1e-12))
    return _red(np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0), reduction)


def _np_poisson(x, y, log_input, full, reduction, eps=1e-8):
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        yy = np.where(y > 1, y, 2.0)
        loss = loss + np.where(y > 1, yy * np.log(yy) - yy + 0.5 * np.log(2 * np.pi * yy), 0)
    return _red(loss, reduction)


def _np_gaussian(x, y, var, full, reduction, eps=1e-6):
    var = np.maximum(var, eps)
    loss = 0.5 * (np.log(var) + (x - y) ** 2 / var) + (0.5 * np.log(2 * np.pi) if full else 0)
    return _red(loss, reduction)


# name: (input arrays, ttorch call, numpy reference); each is called with the reduction
CASES = {
    "mse": ([_r(3, 4), _r(3, 4, seed=1)], lambda x, y, r: F.mse_loss(x, y, reduction=r),
            lambda x, y, r: _red((x - y) ** 2, r)),
    "mse_weight": ([_r(3, 4), _r(3, 4, seed=1), _r(3, 4, lo=0.5, hi=2)],
                   lambda x, y, w, r: F.mse_loss(x, y, reduction=r, weight=w),
                   lambda x, y, w, r: (x - y) ** 2 * w if r == "none" else
                   ((x - y) ** 2 * w).sum() / (w.sum() if r == "mean" else 1)),
    "l1": ([_r(5), _r(5, seed=1)], lambda x, y, r: F.l1_loss(x, y, reduction=r),
           lambda x, y, r: _red(np.abs(x - y), r)),
    "l1_weight": ([_r(2, 3), _r(2, 3, seed=1), _r(2, 3, lo=0.5, hi=2)],
                  lambda x, y, w, r: F.l1_loss(x, y, reduction=r, weight=w),
                  lambda x, y, w, r: np.abs(x - y) * w if r == "none" else
                  (np.abs(x - y) * w).sum() / (w.sum() if r == "mean" else 1)),
    "smooth_l1": ([_r(3, 4), _r(3, 4, seed=1)], lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
                  lambda x, y, r: _red(np.where(np.abs(x - y) < 0.7, 0.5 * (x - y) ** 2 / 0.7,
                                                np.abs(x - y) - 0.35), r)),
    "smooth_l1_beta0": ([_r(3, 4), _r(3, 4, seed=1)], lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
                        lambda x, y, r: _red(np.abs(x - y), r)),
    "huber": ([_r(3, 4), _r(3, 4, seed=1)], lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.8),
              lambda x, y, r: _red(np.where(np.abs(x - y) < 0.8, 0.5 * (x - y) ** 2,
                                            0.8 * (np.abs(x - y) - 0.4)), r)),
    "huber_weight": ([_r(3, 4), _r(3, 4, seed=1), _r(3, 4, lo=0.5, hi=2)],
                     lambda x, y, w, r: F.huber_loss(x, y, reduction=r, delta=0.8, weight=w),
                     lambda x, y, w, r: _red(w * np.where(np.abs(x - y) < 0.8, 0.5 * (x - y) ** 2,
                                                          0.8 * (np.abs(x - y) - 0.4)), r)),
    "bce": ([_r(3, 4, lo=0.05, hi=0.95), _r(3, 4, lo=0, hi=1, seed=1)],
            lambda x, y, r: F.binary_cross_entropy(x, y, reduction=r),
            lambda x, y, r: _red(-(y * np.log(x) + (1 - y) * np.log(1 - x)), r)),
    "bce_weight": ([_r(3, 4, lo=0.05, hi=0.95), _r(3, 4, lo=0, hi=1, seed=1), _r(4, lo=0.5, hi=2)],
                   lambda x, y, w, r: F.binary_cross_entropy(x, y, weight=w, reduction=r),
                   lambda x, y, w, r: _red(-w * (y * np.log(x) + (1 - y) * np.log(1 - x)), r)),
    "bce_logits": ([_r(3, 4), _r(3, 4, lo=0, hi=1, seed=1), _r(3, 4, lo=0.5, hi=2), _r(4, lo=0.5, hi=3)],
                   lambda x, y, w, pw, r: F.binary_cross_entropy_with_logits(x, y, w, reduction=r, pos_weight=pw),
                   lambda x, y, w, pw, r: _red(-w * (pw * y * _log_sigmoid(x) + (1 - y) * _log_sigmoid(-x)), r)),
    "kl_div": ([_log_softmax(_r(3, 4), 1), np.exp(_log_softmax(_r(3, 4, seed=1), 1))],
               lambda x, y, r: F.kl_div(x, y, reduction=r), lambda x, y, r: _red(y * (np.log(y) - x), r)),
    "kl_div_log_target": ([_log_softmax(_r(3, 4), 1), _log_softmax(_r(3, 4, seed=1), 1)],
                          lambda x, y, r: F.kl_div(x, y, reduction=r, log_target=True),
                          lambda x, y, r: _red(np.exp(y) * (y - x), r)),
    "poisson": ([_r(3, 4), _r(3, 4, lo=0, hi=4, seed=1)], lambda x, y, r: F.poisson_nll_loss(x, y, reduction=r),
                lambda x, y, r: _np_poisson(x, y, True, False, r)),
    "poisson_full": ([_r(3, 4, lo=0.2, hi=3), _r(3, 4, lo=0, hi=4, seed=1)],
                     lambda x, y, r: F.poisson_nll_loss(x, y, log_input=False, full=True, reduction=r),
                     lambda x, y, r: _np_poisson(x, y, False, True, r)),
    "gaussian": ([_r(3, 4), _r(3, 4, seed=1), _r(3, 4, lo=0.1, hi=2)],
                 lambda x, y, v, r: F.gaussian_nll_loss(x, y, v, reduction=r),
                 lambda x, y, v, r: _np_gaussian(x, y, v, False, r)),
    "gaussian_homoscedastic": ([_r(3, 4), _r(3, 4, seed=1), _r(3, lo=0.1, hi=2)],
                               lambda x, y, v, r: F.gaussian_nll_loss(x, y, v, full=True, reduction=r),
                               lambda x, y, v, r: _np_gaussian(x, y, v[:, None], True, r)),
    "cosine_embedding": ([_r(4, 3), _r(4, 3, seed=1), _sign(4)],
                         lambda a, b, y, r: F.cosine_embedding_loss(a, b, y, margin=0.1, reduction=r),
                         lambda a, b, y, r: _np_cosine(a, b, y, 0.1, r)),
    "margin_ranking": ([_r(5), _r(5, seed=1), _sign(5)],
                       lambda a, b, y, r: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=r),
                       lambda a, b, y, r: _red(np.maximum(-y * (a - b) + 0.3, 0), r)),
    "hinge_embedding": ([_r(3, 4), _sign(3, 4)], lambda x, y, r: F.hinge_embedding_loss(x, y, margin=0.7, reduction=r),
                        lambda x, y, r: _red(np.where(y == 1, x, np.maximum(0.7 - x, 0)), r)),
    "soft_margin": ([_r(3, 4), _sign(3, 4)], lambda x, y, r: F.soft_margin_loss(x, y, reduction=r),
                    lambda x, y, r: _red(np.log1p(np.exp(-y * x)), r)),
    "multilabel_soft_margin": ([_r(3, 4), _r(3, 4, lo=0, hi=1, seed=1), _r(4, lo=0.5, hi=2)],
                               lambda x, y, w, r: F.multilabel_soft_margin_loss(x, y, weight=w, reduction=r),
                               lambda x, y, w, r: _red(-(w * (y * _log_sigmoid(x) + (1 - y) * _log_sigmoid(-x)))
                                                       .mean(-1), r)),
    "triplet": ([_r(3, 4), _r(3, 4, seed=1), _r(3, 4, seed=2)],
                lambda a, p, n, r: F.triplet_margin_loss(a, p, n, margin=1.5, reduction=r),
                lambda a, p, n, r: _red(np.maximum(1.5 + _np_dist(a, p, 2, 1e-6) - _np_dist(a, n, 2, 1e-6), 0), r)),
    "triplet_swap_p1": ([_r(3, 4), _r(3, 4, seed=1), _r(3, 4, seed=2)],
                        lambda a, p, n, r: F.triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True, reduction=r),
                        lambda a, p, n, r: _red(np.maximum(2.0 + _np_dist(a, p, 1, 1e-6) - np.minimum(
                            _np_dist(a, n, 1, 1e-6), _np_dist(p, n, 1, 1e-6)), 0), r)),
}
# arguments that are labels, not differentiated by gradcheck
NO_GRAD = {"cosine_embedding": [2], "margin_ranking": [2], "hinge_embedding": [1], "soft_margin": [1]}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_values(device, name, reduction):
    arrays, fn, ref = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*_tensors(arrays, device, ttorch.float32), reduction)
    _check(out, ref(*arrays, reduction))


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_gradcheck(name):
    arrays, fn, _ = CASES[name]
    ts = _tensors(arrays, "cpu", ttorch.float64)
    for i in NO_GRAD.get(name, []):
        ts[i] = ts[i].detach()
    diff = [i for i, t in enumerate(ts) if i not in NO_GRAD.get(name, [])]
    for i in diff:
        ts[i].requires_grad_(True)

    def f(*args):
        full = list(ts)
        for i, a in zip(diff, args):
            full[i] = a
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*full, "sum")
    assert gradcheck(f, tuple(ts[i] for i in diff))


@pytest.mark.parametrize("name", ["bce_logits", "kl_div", "triplet_swap_p1", "gaussian", "smooth_l1"])
def test_loss_cpu_cuda_parity(name):
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    arrays, fn, _ = CASES[name]
    res = []
    for dev in ("cpu", "cuda"):
        ts = _tensors(arrays, dev, ttorch.float32, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(*ts, "mean")
        out.backward()
        res.append([out.item()] + [t.grad.cpu().numpy() for t in ts if t.grad is not None])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# --- special values, options and errors -----------------------------------------------------------------------

def test_bce_with_logits_is_stable(device):
    x = ttorch.tensor([-200.0, 200.0, 0.0], device=device, requires_grad=True)
    y = ttorch.tensor([1.0, 0.0, 1.0], device=device)
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(out.detach().cpu().numpy(), [200.0, 200.0, math.log(2)], rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [-1.0, 1.0, -0.5], rtol=1e-6)


def test_bce_log_clamped_at_minus_100(device):
    x = ttorch.tensor([0.0, 1.0, 0.5], device=device, requires_grad=True)
    y = ttorch.tensor([1.0, 0.0, 0.0], device=device)
    out = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(out.detach().cpu().numpy(), [100.0, 100.0, math.log(2)], rtol=1e-6)
    out.sum().backward()      # PyTorch's backward: (x - y) / max(x (1 - x), 1e-12), finite
    np.testing.assert_allclose(x.grad.cpu().numpy(), [-1e12, 1e12, 2.0], rtol=1e-5)


def test_bce_errors(device):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        # on cuda the range is checked on the device and raises at the next sync, as in PyTorch
        F.binary_cross_entropy(ttorch.tensor([1.5], device=device), ttorch.tensor([1.0], device=device)).item()
    assert F.binary_cross_entropy(ttorch.tensor([0.5], device=device), ttorch.tensor([1.0], device=device)).item() > 0
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(ttorch.rand(3, device=device), ttorch.rand(2, 3, device=device))
    with pytest.raises(ValueError, match=r"Target size \(ttorch.Size\(\[2\]\)\) must be the same as input size"):
        F.binary_cross_entropy_with_logits(ttorch.rand(3, device=device), ttorch.rand(2, device=device))


def test_kl_div_batchmean_and_mean_warning(device):
    x = ttorch.tensor(_log_softmax(_r(3, 4), 1), device=device)
    y = ttorch.tensor(np.exp(_log_softmax(_r(3, 4, seed=1), 1)), device=device)
    ref = (y.cpu().numpy() * (np.log(y.cpu().numpy()) - x.cpu().numpy())).sum() / 3
    _check(F.kl_div(x, y, reduction="batchmean"), ref)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, y)
    y0 = ttorch.tensor([[0.0, 1.0]], device=device)
    assert F.kl_div(ttorch.tensor([[-1.0, -2.0]], device=device), y0, reduction="sum").item() == 2.0


def test_legacy_size_average_reduce():
    x, y = ttorch.tensor([1.0, 2.0, 3.0]), ttorch.zeros(3)
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        assert F.mse_loss(x, y, size_average=False).item() == 14.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.l1_loss(x, y, reduce=False).shape == (3,)
    with pytest.warns(UserWarning, match="reduction='mean'"):
        assert F.l1_loss(x, y, size_average=True, reduction="sum").item() == 2.0
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.mse_loss(x, y, reduction="avg")


def test_regression_errors_and_warnings():
    x = ttorch.zeros(3)
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(x, ttorch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta."):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta."):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="Weights and input must have the same size."):
        F.mse_loss(x, x, weight=ttorch.ones(2))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(ttorch.zeros(3, 4), ttorch.zeros(3, 4), ttorch.ones(2))
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, x, -ttorch.ones(3))
    with pytest.raises(RuntimeError, match="margin_ranking_loss : All input tensors should have same dimension"):
        F.margin_ranking_loss(x, x, ttorch.ones(1, 3))
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(x, x, ttorch.ones(3))
    with pytest.raises(RuntimeError, match="expected to have the same number of dimensions, but got: anchor 1D, "
                                           "positive 1D, and negative 2D inputs"):
        F.triplet_margin_loss(x, x, ttorch.zeros(1, 3))


def test_gaussian_var_float_and_clamp():
    x, y = ttorch.tensor([[0.0, 1.0]]), ttorch.tensor([[1.0, 1.0]])
    _check(F.gaussian_nll_loss(x, y, 0.5), _np_gaussian(np.array([[0.0, 1]]), np.array([[1.0, 1]]), 0.5, False, "mean"))
    v = ttorch.tensor([[0.0, 1.0]], requires_grad=True)    # clamped to eps, gradient passes through the clamp
    F.gaussian_nll_loss(x, y, v, reduction="sum").backward()
    assert np.isfinite(v.grad.numpy()).all()


# --- modules --------------------------------------------------------------------------------------------------

def test_loss_modules_match_functional(device):
    from ttorch import nn
    rng = np.random.default_rng(6)
    x = ttorch.tensor(rng.standard_normal((3, 4)), dtype=ttorch.float32, device=device)
    y = ttorch.tensor(rng.standard_normal((3, 4)), dtype=ttorch.float32, device=device)
    p = ttorch.tensor(rng.uniform(0.1, 0.9, (3, 4)), dtype=ttorch.float32, device=device)
    t = ttorch.tensor([0, 3, -100], device=device)
    s = ttorch.tensor([1.0, -1.0, 1.0], device=device)
    w = ttorch.tensor([0.5, 1.0, 2.0, 1.5], device=device)
    pairs = [
        (nn.CrossEntropyLoss(weight=w, reduction="sum", label_smoothing=0.1)(x, t),
         F.cross_entropy(x, t, weight=w, reduction="sum", label_smoothing=0.1)),
        (nn.NLLLoss(ignore_index=3)(x, t.abs() % 4), F.nll_loss(x, t.abs() % 4, ignore_index=3)),
        (nn.MSELoss(reduction="none")(x, y), F.mse_loss(x, y, reduction="none")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.SmoothL1Loss(beta=0.5)(x, y), F.smooth_l1_loss(x, y, beta=0.5)),
        (nn.HuberLoss(delta=0.5)(x, y), F.huber_loss(x, y, delta=0.5)),
        (nn.BCELoss(weight=w)(p, p), F.binary_cross_entropy(p, p, weight=w)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, p), F.binary_cross_entropy_with_logits(x, p, pos_weight=w)),
        (nn.KLDivLoss(reduction="batchmean", log_target=True)(x, y),
         F.kl_div(x, y, reduction="batchmean", log_target=True)),
        (nn.PoissonNLLLoss(full=True)(x, p), F.poisson_nll_loss(x, p, full=True)),
        (nn.GaussianNLLLoss(full=True)(x, y, p), F.gaussian_nll_loss(x, y, p, full=True)),
        (nn.HingeEmbeddingLoss(margin=0.5)(x[0], s.repeat(2)[:4]), F.hinge_embedding_loss(x[0], s.repeat(2)[:4], 0.5)),
        (nn.MultiLabelSoftMarginLoss(weight=w)(x, p), F.multilabel_soft_margin_loss(x, p, weight=w)),
        (nn.CosineEmbeddingLoss(margin=0.2)(x, y, s), F.cosine_embedding_loss(x, y, s, margin=0.2)),
        (nn.MarginRankingLoss(margin=0.2)(x[:, 0], y[:, 0], s), F.margin_ranking_loss(x[:, 0], y[:, 0], s, 0.2)),
        (nn.SoftMarginLoss()(x, y.sign()), F.soft_margin_loss(x, y.sign())),
        (nn.TripletMarginLoss(margin=0.5, p=1.0, swap=True)(x, y, p),
         F.triplet_margin_loss(x, y, p, margin=0.5, p=1.0, swap=True)),
    ]
    for i, (a, b) in enumerate(pairs):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-6, err_msg=str(i))


def test_loss_module_attributes_and_state():
    from ttorch import nn
    w = ttorch.tensor([1.0, 2.0])
    ce = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.2)
    assert (ce.reduction, ce.ignore_index, ce.label_smoothing) == ("mean", 1, 0.2)
    assert list(ce.state_dict()) == ["weight"] and ce.weight is w
    assert repr(ce) == "CrossEntropyLoss()"
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert list(nn.MSELoss().state_dict()) == []
    assert nn.NLLLoss().weight is None
    # the deprecated flags map onto reduction as PyTorch's _Reduction.legacy_get_string
    for kw, red in [({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                    ({"size_average": True, "reduce": True}, "mean"),
                    ({"size_average": False, "reduce": False}, "none")]:
        with pytest.warns(UserWarning, match=f"please use reduction='{red}' instead"):
            assert nn.L1Loss(**kw, reduction="mean").reduction == red
            assert nn.CrossEntropyLoss(**kw).reduction == red
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin to be greater than 0, got 0 instead"):
        nn.TripletMarginLoss(margin=0)
    assert nn.GaussianNLLLoss(eps=1e-3).eps == 1e-3
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)    # keyword-only, as PyTorch


def test_cross_entropy_module_trains(device):
    """A linear classifier trained by hand-written SGD on the loss's gradients reaches a low loss."""
    from ttorch import nn
    rng = np.random.default_rng(7)
    x = ttorch.tensor(rng.standard_normal((8, 3)), dtype=ttorch.float32, device=device)
    t = ttorch.tensor(np.argmax(rng.standard_normal((3, 4)), 1)[np.arange(8) % 3], device=device)
    w = ttorch.zeros(3, 4, device=device, requires_grad=True)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(30):
        loss = loss_fn(x @ w, t)
        first = first if first is not None else loss.item()
        loss.backward()
        with ttorch.no_grad():
            w -= 1.0 * w.grad
        w.grad = None
    assert first == pytest.approx(math.log(4), rel=1e-6) and loss.item() < 0.5 * first


# --- the fused cuda kernel (ops/cross_entropy.py) -------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("block", [4, 1024])
def test_fused_cross_entropy_matches_composite(monkeypatch, reduction, block):
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    from ttorch.ops import cross_entropy as ce
    monkeypatch.setattr(ce, "MAX_BLOCK_N", block)     # 4: several blocks per row (the online max/sum)
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((5, 11)) * 4).astype(np.float32)
    t = np.array([3, 10, -100, 0, 7])
    res = []
    for dev in ("cpu", "cuda"):
        xt = ttorch.tensor(x, device=dev, requires_grad=True)
        out = F.cross_entropy(xt, ttorch.tensor(t, device=dev), reduction=reduction)
        (out * ttorch.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape).astype(np.float32),
                             device=dev)).sum().backward()
        res.append((out.detach().cpu().numpy(), xt.grad.cpu().numpy()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-5, atol=1e-7)
    _check(F.cross_entropy(ttorch.tensor(x, device="cuda"), ttorch.tensor(t, device="cuda"), reduction=reduction),
           np_cross_entropy(x.astype(np.float64), t, reduction=reduction))
    assert np.all(res[1][1][2] == 0)       # the ignored row


def test_fused_cross_entropy_every_tuned_loop(monkeypatch):
    # the forward's and backward's loops over class blocks as the tuner may run them: plain, or
    # pipelined (tl.range(num_stages=)); 4-wide blocks over 11 classes: a ragged last block
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    from ttorch import tune
    from ttorch.ops import cross_entropy as ce
    monkeypatch.setattr(ce, "MAX_BLOCK_N", 4)
    loops = {c.kwargs["STAGES"] for c in ce._tune_configs(("fwd", "float32", 32768))}
    assert loops == {None, 2, 3}
    r = np.random.default_rng(9)
    x = (r.standard_normal((5, 11)) * 4).astype(np.float32)
    t = np.array([3, 10, -100, 0, 7])
    x64 = x.astype(np.float64)
    lse = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) + x64.max(1)
    g = np.linspace(0.5, 1.5, 10).reshape(2, 5)       # d/d(loss row), d/d(lse row)
    keep = t != -100
    p = np.exp(x64 - lse[:, None])
    want_dx = (np.where(keep, g[0], 0) + g[1])[:, None] * p
    want_dx[np.arange(5)[keep], t[keep]] -= g[0][keep]
    xc, tc = ttorch.tensor(x, device="cuda"), ttorch.tensor(t, device="cuda")
    for stages in loops:
        cfg = tune.Config({"BLOCK_N": 4, "STAGES": stages}, num_warps=4)
        o = ce._fwd_cuda(xc, tc, ignore_index=-100, cfg=cfg)
        np.testing.assert_allclose(o.cpu().numpy()[1], lse, rtol=1e-5)
        np.testing.assert_allclose(o.cpu().numpy()[0], np.where(keep, lse - x64[np.arange(5), np.where(keep, t, 0)], 0),
                                   rtol=1e-5, atol=1e-6)
        dx = ce._bwd_cuda(ttorch.tensor(g.astype(np.float32), device="cuda"), xc, o, tc, ignore_index=-100, cfg=cfg)
        np.testing.assert_allclose(dx.cpu().numpy(), want_dx, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_reduction_over_many_rows_runs_a_grid(monkeypatch, reduction, dtype):
    # past _MEAN_ONE rows (a segmentation map's N * H * W) the mean/sum and its backward run over a
    # grid: per-program partial sums and counts, then one program adding them (lowered sizes here:
    # 16-row blocks, 32 rows a program, a ragged last program, ignored targets in several programs)
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    from ttorch.ops import cross_entropy as ce
    monkeypatch.setattr(ce, "_MEAN_BLOCK", 16)
    monkeypatch.setattr(ce, "_MEAN_ROWS", 32)
    monkeypatch.setattr(ce, "_MEAN_ONE", 64)
    launched = []
    real = ce.launch
    monkeypatch.setattr(ce, "launch", lambda k, g, *a, **m: launched.append((k.__name__, g)) or real(k, g, *a, **m))
    r = np.random.default_rng(3)
    x = (r.standard_normal((2, 5, 10, 11)) * 3).astype(dtype)      # 220 rows: 7 programs, the last 28 rows
    t = r.integers(0, 5, size=(2, 10, 11))
    t[0, :4] = -100
    t[1, 7, 3] = -100
    want = np_cross_entropy(x.astype(np.float64).transpose(0, 2, 3, 1).reshape(-1, 5), t.reshape(-1),
                            reduction=reduction)
    res = []
    for dev in ("cpu", "cuda"):
        xt = ttorch.tensor(x, device=dev, requires_grad=True)
        out = F.cross_entropy(xt, ttorch.tensor(t, device=dev), reduction=reduction)
        (gx,) = ttorch.autograd.grad(out * 1.5, xt, create_graph=True)
        (gx * gx).sum().backward()                  # double backward: the mean's backward is an op too
        res.append((out.item(), gx.detach().cpu().numpy(), xt.grad.cpu().numpy()))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(res[1][0], want, rtol=tol)
    np.testing.assert_allclose(res[0][0], want, rtol=tol)
    for a, b in zip(res[1][1:], res[0][1:]):       # (float32: the second derivative's sums in another order)
        np.testing.assert_allclose(a, b, rtol=tol * 10, atol=tol * 10)
    names = {n for n, _ in launched}
    assert {"_ce_part_kernel", "_ce_parts_mean_kernel", "_ce_parts_mean_bwd_kernel"} <= names
    assert "_ce_mean_kernel" not in names and "_ce_mean_bwd_kernel" not in names
    assert ("_ce_parts_mean_bwd_kernel", (7,)) in launched
    out = F.cross_entropy(ttorch.tensor(x[:, :, :2, :3], device="cuda"), ttorch.tensor(t[:, :2, :3], device="cuda"))
    assert launched[-1][0] == "_ce_mean_kernel"        # 12 rows: the one-program kernel


def _graph_names(t):
    names, stack, seen = set(), [t.grad_fn], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        names.add(n.name() if hasattr(n, "name") else type(n).__name__)
        stack.extend(e[0] for e in getattr(n, "next_functions", ()) if e is not None)
    return names


def test_fused_cross_entropy_on_both_devices():
    x, t = ttorch.randn(3, 4, requires_grad=True), ttorch.tensor([0, 1, 2])
    assert "CrossEntropyBackward0" in _graph_names(F.cross_entropy(x, t))
    # label smoothing, class weights and spatial dims take the fused op (classes on dim 1); weights
    # with label smoothing the composite
    assert "CrossEntropyBackward0" in _graph_names(F.cross_entropy(x, t, label_smoothing=0.1))
    assert "CrossEntropyBackward0" in _graph_names(F.cross_entropy(x, t, weight=ttorch.ones(4)))
    assert "CrossEntropyBackward0" not in _graph_names(F.cross_entropy(x, t, weight=ttorch.ones(4),
                                                                       label_smoothing=0.1))
    assert "CrossEntropyBackward0" in _graph_names(F.cross_entropy(x.reshape(3, 4, 1), t.reshape(3, 1)))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, ttorch.tensor([0, 4, 1]))          # cpu checks the targets before the op
    if ttorch.cuda.is_available():
        xc = x.detach().cuda().requires_grad_(True)
        assert "CrossEntropyBackward0" in _graph_names(F.cross_entropy(xc, t.cuda()))


@pytest.mark.parametrize("dtype", [ttorch.float16, ttorch.bfloat16])
def test_fused_cross_entropy_half(dtype):
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    x = ttorch.randn(4, 9).to(dtype)
    t = ttorch.tensor([8, 0, 3, 3])
    out = F.cross_entropy(x.cuda(), t.cuda())
    assert out.dtype is dtype
    ref = np_cross_entropy(x.float().numpy().astype(np.float64), t.numpy())
    np.testing.assert_allclose(out.float().item(), ref, rtol=1e-2)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_cross_entropy_reduces_in_one_kernel_each_way(reduction):
    # the mean over kept targets (or the sum) is one op: one kernel forward, one backward, besides
    # the rows' own; the graph reads NllLossBackward0 at the top, as PyTorch's does
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda")
    from ttorch.profiler import profile, ProfilerActivity
    x = ttorch.randn(6, 5, device="cuda", requires_grad=True)
    t = ttorch.tensor([0, 1, -100, 3, 4, 2], device="cuda")
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        loss = F.cross_entropy(x, t, reduction=reduction)
        loss.backward()
    kernels = sorted(e.key for e in prof.key_averages() if e.key.startswith("_") and e.key.endswith("kernel"))
    assert kernels == ["_ce_bwd_kernel", "_ce_fwd_kernel", "_ce_mean_bwd_kernel", "_ce_mean_kernel"]
    assert loss.grad_fn.name() == "NllLossBackward0"
    xn, tn = x.detach().cpu().numpy().astype(np.float64), t.cpu().numpy()
    lse = np.log(np.exp(xn).sum(1))
    keep = tn != -100
    per = np.where(keep, lse - xn[np.arange(6), np.where(keep, tn, 0)], 0)
    want = per.sum() / keep.sum() if reduction == "mean" else per.sum()
    np.testing.assert_allclose(loss.item(), want, rtol=1e-5)
    p = np.exp(xn - lse[:, None])
    p[np.arange(6), np.where(keep, tn, 0)] -= 1
    p = np.where(keep[:, None], p, 0) / (keep.sum() if reduction == "mean" else 1)
    np.testing.assert_allclose(x.grad.cpu().numpy(), p, rtol=1e-5, atol=1e-6)


def test_fused_cross_entropy_double_backward():
    from ttorch.ops.cross_entropy import _cross_entropy_rows
    x = ttorch.randn(3, 5, dtype=ttorch.float64, requires_grad=True)
    t = ttorch.tensor([4, 1, 0])
    assert ttorch.autograd.gradgradcheck(lambda x: _cross_entropy_rows(x, t, ignore_index=1), (x,))
    if ttorch.cuda.is_available():
        xc = x.detach().cuda().requires_grad_(True)
        assert ttorch.autograd.gradgradcheck(lambda x: _cross_entropy_rows(x, t.cuda(), ignore_index=1), (xc,))



@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_fused_cross_entropy_spatial(device, reduction):
    # logits (N, C, H, W) read in place, classes along dim 1 (cuda: the strided kernels, positions on
    # the lanes): loss and gradient against NumPy's log-softmax, with an ignored position
    r = np.random.default_rng(21)
    xn, tn = r.uniform(-3, 3, size=(2, 5, 3, 7)), r.integers(0, 5, size=(2, 3, 7))
    tn[1, 2, 3] = 2
    x = ttorch.tensor(xn.astype(np.float32), device=device, requires_grad=True)
    loss = F.cross_entropy(x, ttorch.tensor(tn, device=device), ignore_index=2, reduction=reduction)
    assert "CrossEntropyBackward0" in _graph_names(loss)
    logp = xn - np.log(np.exp(xn).sum(1, keepdims=True))
    keep = tn != 2
    per = np.where(keep, -np.take_along_axis(logp, tn[:, None], 1)[:, 0], 0)
    want = {"none": per, "mean": per.sum() / keep.sum(), "sum": per.sum()}[reduction]
    np.testing.assert_allclose(loss.detach().cpu().numpy(), want, rtol=1e-5, atol=1e-6)
    g = r.uniform(0.5, 1.5, size=per.shape) if reduction == "none" else np.array(1.0)
    loss.backward(ttorch.tensor(g.astype(np.float32), device=device))
    dx = np.exp(logp)
    np.put_along_axis(dx, tn[:, None], np.take_along_axis(dx, tn[:, None], 1) - 1, 1)
    scale = g if reduction == "none" else g / (keep.sum() if reduction == "mean" else 1)
    want_dx = np.where(keep[:, None], dx * np.broadcast_to(scale, per.shape)[:, None], 0)
    np.testing.assert_allclose(x.grad.cpu().numpy(), want_dx, rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3, 4)])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_fused_cross_entropy_label_smoothing(device, shape, reduction):
    # PyTorch's label smoothing: the loss against (1 - eps) onehot + eps / C, an ignored target's 0;
    # the fused op on both devices against NumPy, loss and gradient
    r = np.random.default_rng(22)
    xn = r.uniform(-3, 3, size=shape)
    tn = r.integers(0, 5, size=shape[:1] + shape[2:])
    tn.flat[1] = 3
    eps = 0.2
    x = ttorch.tensor(xn.astype(np.float32), device=device, requires_grad=True)
    loss = F.cross_entropy(x, ttorch.tensor(tn, device=device), ignore_index=3, reduction=reduction,
                           label_smoothing=eps)
    assert "CrossEntropyBackward0" in _graph_names(loss)
    logp = xn - np.log(np.exp(xn).sum(1, keepdims=True))
    onehot = np.moveaxis(np.eye(5)[tn], -1, 1)
    target = (1 - eps) * onehot + eps / 5
    keep = tn != 3
    per = np.where(keep, -(target * logp).sum(1), 0)
    want = per if reduction == "none" else per.sum() / keep.sum()
    np.testing.assert_allclose(loss.detach().cpu().numpy(), want, rtol=1e-5, atol=1e-6)
    g = r.uniform(0.5, 1.5, size=per.shape) if reduction == "none" else np.full(per.shape, 1 / keep.sum())
    loss.backward(ttorch.tensor((g if reduction == "none" else np.array(1.0)).astype(np.float32), device=device))
    want_dx = np.where(np.expand_dims(keep, 1), (np.exp(logp) - target) * np.expand_dims(g, 1), 0)
    np.testing.assert_allclose(x.grad.cpu().numpy(), want_dx, rtol=1e-5, atol=1e-6)

def test_fused_cross_entropy_spatial_double_backward_and_bad_target():
    from ttorch.ops.cross_entropy import _cross_entropy_rows
    x = ttorch.randn(2, 4, 3, dtype=ttorch.float64, requires_grad=True)
    t = ttorch.tensor([[3, 1, 0], [2, 2, 1]])
    assert ttorch.autograd.gradgradcheck(lambda x: _cross_entropy_rows(x, t, ignore_index=1), (x,))
    assert ttorch.autograd.gradgradcheck(lambda x: _cross_entropy_rows(x, t, 1, label_smoothing=0.3), (x,))
    if ttorch.cuda.is_available():
        xc = x.detach().cuda().requires_grad_(True)
        assert ttorch.autograd.gradgradcheck(lambda x: _cross_entropy_rows(x, t.cuda(), ignore_index=1), (xc,))
        assert ttorch.autograd.gradgradcheck(lambda x: _cross_entropy_rows(x, t.cuda(), 1, label_smoothing=0.3),
                                             (xc,))
        F.cross_entropy(xc.detach(), ttorch.tensor([[3, 1, 0], [2, 9, 1]], device="cuda"), reduction="none")
        with pytest.raises(IndexError, match="Target 9 is out of bounds."):
            ttorch.cuda.synchronize()

# --- CTC ------------------------------------------------------------------------------------------------------

def np_ctc(lp, targets, in_len, tg_len, blank=0):
    """Per-sample CTC loss by the textbook alpha recursion (float64, np.logaddexp)."""
    out = []
    for n in range(lp.shape[1]):
        lab = targets[n][:tg_len[n]]
        ext = [blank]
        for c in lab:
            ext += [c, blank]
        L = len(ext)
        a = np.full(L, -np.inf)
        a[0] = lp[0, n, blank]
        if L > 1:
            a[1] = lp[0, n, ext[1]]
        for t in range(1, in_len[n]):
            new = np.full(L, -np.inf)
            for s in range(L):
                v = a[s]
                if s >= 1:
                    v = np.logaddexp(v, a[s - 1])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    v = np.logaddexp(v, a[s - 2])
                new[s] = v + lp[t, n, ext[s]]
            a = new
        out.append(-(np.logaddexp(a[-1], a[-2]) if L > 1 else a[-1]))
    return np.array(out)


def _ctc_inputs(seed=9):
    rng = np.random.default_rng(seed)
    T, N, C = 6, 3, 4
    lp = _log_softmax(rng.standard_normal((T, N, C)), 2)
    targets = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]])
    return lp, targets, np.array([6, 5, 4]), np.array([3, 2, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss(device, reduction):
    if device == "cuda" and reduction != "none":
        pytest.skip("the interpreter is slow; the reductions are the same ttorch ops on both devices")
    lp, tg, il, tl_ = _ctc_inputs()
    ref = np_ctc(lp, tg, il, tl_)
    ref = {"none": ref, "sum": ref.sum(), "mean": (ref / np.maximum(tl_, 1)).mean()}[reduction]
    args = _tensors([lp, tg, il, tl_], device, ttorch.float32)
    _check(F.ctc_loss(*args, reduction=reduction), ref)
    if device == "cuda":
        return
    # concatenated 1-D targets and tuple lengths give the same
    cat = np.concatenate([tg[n, :tl_[n]] for n in range(3)])
    _check(F.ctc_loss(args[0], ttorch.tensor(cat, device=device), tuple(il), tuple(tl_), reduction=reduction), ref)
    from ttorch import nn
    _check(nn.CTCLoss(reduction=reduction)(*args), ref)


def test_ctc_loss_gradcheck_and_parity():
    lp, tg, il, tl_ = _ctc_inputs()
    x = ttorch.tensor(lp, dtype=ttorch.float64, requires_grad=True)
    assert gradcheck(lambda x: F.ctc_loss(x.log_softmax(2), ttorch.tensor(tg), ttorch.tensor(il),
                                          ttorch.tensor(tl_)), (x,))
    if not ttorch.cuda.is_available():
        return
    res = []
    for dev in ("cpu", "cuda"):
        xt = ttorch.tensor(lp.astype(np.float32), device=dev, requires_grad=True)
        out = F.ctc_loss(xt.log_softmax(2), ttorch.tensor(tg, device=dev), ttorch.tensor(il), ttorch.tensor(tl_))
        out.backward()
        res.append((out.item(), xt.grad.cpu().numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-5)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-4, atol=1e-6)


def test_ctc_loss_impossible_and_zero_infinity():
    lp = ttorch.tensor(_log_softmax(np.zeros((2, 1, 3)), 2))
    tg, il, tl_ = ttorch.tensor([[1, 1]]), ttorch.tensor([2]), ttorch.tensor([2])    # "1 1" needs 3 steps
    assert F.ctc_loss(lp, tg, il, tl_, reduction="none").item() == float("inf")
    x = lp.clone().requires_grad_(True)
    out = F.ctc_loss(x, tg, il, tl_, zero_infinity=True)
    out.backward()
    assert out.item() == 0.0 and np.all(x.grad.numpy() == 0)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 2, but got value 3"):
        F.ctc_loss(lp, tg, ttorch.tensor([3]), tl_)
    with pytest.raises(RuntimeError, match="size at least 2 at dimension 1, but got size 1 for argument #2 'targets'"):
        F.ctc_loss(lp, ttorch.tensor([[1]]), il, tl_)
    with pytest.raises(RuntimeError, match="Expected tensor to have size 2 at dimension 0, but got size 1"):
        F.ctc_loss(lp, ttorch.tensor([1]), il, tl_)                     # concatenated targets too short


def test_ctc_loss_blank_padding_and_unbatched(device):
    # blank is the last class; padding past each length is out of range (-1, C + 5) and must be ignored
    lp, _, il, _ = _ctc_inputs(seed=4)
    C = lp.shape[2]
    tg, tl_ = np.array([[1, 0, 0], [2, 1, -1], [C + 5, -1, -1]]), np.array([3, 2, 0])
    ref = np_ctc(lp, tg, il, tl_, blank=C - 1)
    x = ttorch.tensor(lp, dtype=ttorch.float32, device=device)
    _check(F.ctc_loss(x, ttorch.tensor(tg, device=device), il, tl_, blank=C - 1, reduction="none"), ref)
    cat = ttorch.tensor(np.concatenate([tg[n, :tl_[n]] for n in range(3)]), device=device)
    _check(F.ctc_loss(x, cat, tuple(il), tuple(tl_), blank=C - 1, reduction="sum"), ref.sum())
    one = F.ctc_loss(x[:, 0], ttorch.tensor(tg[0], device=device), int(il[0]), int(tl_[0]), blank=C - 1,
                     reduction="none")
    _check(one, ref[0])
    none = ttorch.tensor(np.zeros((3, 0), np.int64), device=device)       # no labels at all: L = 1
    _check(F.ctc_loss(x, none, il, (0, 0, 0), blank=C - 1, reduction="none"),
           np_ctc(lp, np.zeros((3, 0), np.int64), il, (0, 0, 0), blank=C - 1))


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="needs the cuda device")
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("lengths", ["tuple", "cpu tensor"])
def test_ctc_loss_on_cuda_reads_nothing_back(layout, lengths, monkeypatch):
    from ttorch.ops import movement
    lp, tg, il, tl_ = _ctc_inputs()
    tg = np.where(np.arange(3) < tl_[:, None], tg, lp.shape[2] + 5)      # out-of-range padding
    ref = np_ctc(lp, tg, il, tl_)
    x = ttorch.tensor(lp, dtype=ttorch.float32, device="cuda")
    targets = tg if layout == "padded" else np.concatenate([tg[n, :tl_[n]] for n in range(3)])
    targets = ttorch.tensor(targets, device="cuda")
    il_, tl2 = (tuple(il), tuple(tl_)) if lengths == "tuple" else (ttorch.tensor(il), ttorch.tensor(tl_))

    def host_read(*a, **k):
        raise AssertionError("ctc_loss read a cuda tensor back to the host")
    for name in ("cpu", "numpy", "item", "tolist", "__int__", "__bool__"):
        monkeypatch.setattr(ttorch.Tensor, name, host_read)
    monkeypatch.setattr(movement, "_to_device_np", host_read)     # what Tensor._host() copies back with
    out = F.ctc_loss(x, targets, il_, tl2, reduction="none")
    monkeypatch.undo()
    _check(out, ref)


@pytest.mark.parametrize("dtype,tol", [(ttorch.float32, 1e-6), (ttorch.float16, 2e-3)])
def test_weighted_cross_entropy_runs_the_fused_op(device, dtype, tol):
    """Class weights without label smoothing: the fused op, each position's loss times w[t] after it
    (mean over the kept weights); value and logits' gradient against float64 NumPy, spatial dims and
    an ignored target included."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    t = rng.integers(0, 5, (3, 4))
    t[1, 2] = -100
    w = rng.uniform(0.5, 2, 5).astype(np.float32)
    for reduction in REDUCTIONS:
        xt = ttorch.tensor(x, dtype=dtype, device=device, requires_grad=True)
        wt = ttorch.tensor(w, dtype=dtype, device=device)
        out = F.cross_entropy(xt, ttorch.tensor(t, device=device), weight=wt, reduction=reduction)
        assert "CrossEntropyBackward0" in _graph_names(out) and out.dtype is dtype
        xr = xt.detach().cpu().numpy().astype(np.float64)
        wr = w.astype(dtype.np).astype(np.float64)
        np.testing.assert_allclose(out.detach().cpu().numpy().astype(np.float64),
                                   np_cross_entropy(xr, t, wr, reduction=reduction), rtol=tol, atol=tol)
        g = rng.standard_normal(out.shape)
        out.backward(ttorch.tensor(g, dtype=dtype, device=device))
        lp = _log_softmax(xr, 1)
        keep = t != -100
        wk = np.where(keep, wr[np.where(keep, t, 0)], 0.0)                  # (3, 4)
        scale = {"none": g, "sum": np.full(t.shape, g), "mean": np.full(t.shape, g / wk.sum())}[reduction] * wk
        onehot = np.eye(5)[np.where(keep, t, 0)].transpose(0, 2, 1)          # (3, 5, 4)
        want = (np.exp(lp) - onehot) * scale[:, None, :]
        np.testing.assert_allclose(xt.grad.cpu().numpy().astype(np.float64), want, rtol=tol * 10, atol=tol)


def test_half_losses_sum_their_weights_in_float32():
    # 70000 positions of weight 1: their total overflows float16 (65504); PyTorch sums it in float32
    x = ttorch.zeros(70000, 2, dtype=ttorch.float16)
    loss = F.cross_entropy(x, ttorch.zeros(70000, dtype=ttorch.int64), weight=ttorch.ones(2, dtype=ttorch.float16))
    assert loss.dtype is ttorch.float16 and abs(loss.item() - math.log(2)) < 1e-3
    loss = F.nll_loss(x - math.log(2), ttorch.zeros(70000, dtype=ttorch.int64))      # (its count likewise)
    assert loss.dtype is ttorch.float16 and abs(loss.item() - math.log(2)) < 1e-3
    loss = F.cross_entropy(x, ttorch.zeros(70000, dtype=ttorch.int64), weight=ttorch.ones(2, dtype=ttorch.float16),
                           label_smoothing=0.2)                                     # (the composite's smoothing)
    assert loss.dtype is ttorch.float16 and abs(loss.item() - math.log(2)) < 1e-3
