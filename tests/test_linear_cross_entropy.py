"""``nn.functional.linear_cross_entropy`` and ``nn.LinearCrossEntropyLoss``: the reference path against a
float64 NumPy softmax cross entropy (class weights, ignore_index, label smoothing, K-dimensional
heads), the chunked path against the reference (values and gradients, every reduction, chunk sizes
that do and don't divide the batch) on both devices, its fallback warning and the module."""
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck


def t(a, device="cpu", dtype=ttorch.float64, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def npy(x):
    return x.detach().cpu().numpy()


def np_lce(x, w, b, target, cw, ignore, reduction, eps=0.0):
    z = x @ w.T + (0 if b is None else b)
    logp = z - z.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    c = w.shape[0]
    cw = np.ones(c) if cw is None else cw
    valid = target != ignore
    tc = np.where(valid, target, 0)
    nll = -logp[np.arange(len(x)), tc] * cw[tc] * valid
    smooth = -(logp * cw).sum(1) / c * valid
    loss = (1 - eps) * nll + eps * smooth
    if reduction == "none":
        return loss
    return loss.sum() / (cw[tc] * valid).sum() if reduction == "mean" else loss.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reference_against_numpy(reduction):
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((7, 5)), r.standard_normal((6, 5)), r.standard_normal(6)
    target = r.integers(0, 6, 7)
    target[3] = -100
    cw = r.uniform(0.5, 2.0, 6)
    for eps in (0.0, 0.2):
        got = F.linear_cross_entropy(t(x), t(w), ttorch.tensor(target), linear_bias=t(b), weight=t(cw),
                                     reduction=reduction, label_smoothing=eps)
        np.testing.assert_allclose(npy(got), np_lce(x, w, b, target, cw, -100, reduction, eps), rtol=1e-12)


@pytest.mark.parametrize("rows", [1, 3, 16])
def test_chunked_matches_reference(device, rows):
    if device == "cuda" and rows != 3:
        pytest.skip("one chunk size on the (slow) simulated device")
    r = np.random.default_rng(1)
    x, w, b = r.standard_normal((7, 4)), r.standard_normal((9, 4)), r.standard_normal(9)
    labels = r.integers(0, 9, 7)
    cw = t(r.uniform(0.5, 2.0, 9), device)
    opts = nn.LinearCrossEntropyOptions(batch_chunk_size=rows)
    for reduction in ("mean", "sum", "none"):
        for kw in (dict(), dict(linear_bias=None, weight=cw), dict(ignore_index=5)):
            labels[2] = 5 if "ignore_index" in kw else -100          # an ignored row either way
            target = ttorch.tensor(labels, device=device)
            outs, grads = [], []
            for o in (None, opts):
                tx, tw, tb = t(x, device, grad=True), t(w, device, grad=True), t(b, device, grad=True)
                loss = F.linear_cross_entropy(tx, tw, target, linear_bias=kw.get("linear_bias", tb),
                                              weight=kw.get("weight"), ignore_index=kw.get("ignore_index"),
                                              reduction=reduction, options=o)
                g = t(np.random.default_rng(2).standard_normal(loss.shape), device)
                (loss * g).sum().backward()
                outs.append(npy(loss))
                grads.append([npy(v.grad) if v.grad is not None else None for v in (tx, tw, tb)])
            np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12, atol=1e-14)
            for a, c in zip(*grads):
                assert (a is None) == (c is None)
                if a is not None:
                    np.testing.assert_allclose(c, a, rtol=1e-11, atol=1e-13)


def test_chunked_gradcheck_and_float32_accumulation():
    r = np.random.default_rng(3)
    target = ttorch.tensor(r.integers(0, 6, 5))
    opts = nn.LinearCrossEntropyOptions(batch_chunk_size=2)
    assert gradcheck(lambda a, w: F.linear_cross_entropy(a, w, target, options=opts),
                     (t(r.standard_normal((5, 3)), grad=True), t(r.standard_normal((6, 3)), grad=True)))
    assert opts.accumulate_dtype(ttorch.float16) is ttorch.float32
    assert nn.LinearCrossEntropyOptions(acc_policy="compact").accumulate_dtype(ttorch.float16) is ttorch.float16
    assert nn.LinearCrossEntropyOptions().chunk_rows(64) == 128                       # aspect_ratio:2
    assert nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio:0.5").chunk_rows(64) == 32
    x, w = t(r.standard_normal((5, 3)), dtype=ttorch.float16, grad=True), t(r.standard_normal((6, 3)),
                                                                             dtype=ttorch.float16, grad=True)
    F.linear_cross_entropy(x, w, target, options=opts).backward()
    assert w.grad.dtype is ttorch.float16 and x.grad.dtype is ttorch.float16


def test_fallback_unbatched_and_k_dimensional():
    r = np.random.default_rng(4)
    x, w = t(r.standard_normal((3, 4))), t(r.standard_normal((5, 4)))
    target = ttorch.tensor([0, 4, 2])
    opts = nn.LinearCrossEntropyOptions()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = F.linear_cross_entropy(x, w, target, label_smoothing=0.1, options=opts)
    assert any("``options`` ignored" in str(c.message) for c in caught)
    np.testing.assert_allclose(npy(got), npy(F.linear_cross_entropy(x, w, target, label_smoothing=0.1)))
    one = F.linear_cross_entropy(x[0], w, target[0], options=opts)
    assert one.shape == () and abs(one.item() - F.cross_entropy(x[:1] @ w.t(), target[:1]).item()) < 1e-12
    wk = t(r.standard_normal((5, 2, 4)))                    # a K-dimensional head: logits (N, C, 2)
    tk = ttorch.tensor(r.integers(0, 5, (3, 2)))
    want = F.cross_entropy((x @ wk.reshape(10, 4).t()).reshape(3, 5, 2), tk)
    assert abs(F.linear_cross_entropy(x, wk, tk).item() - want.item()) < 1e-12


def test_module(device):
    ttorch.manual_seed(0)
    m = nn.LinearCrossEntropyLoss(4, 6, bias=True, options=nn.LinearCrossEntropyOptions(batch_chunk_size=3),
                                  device=device, dtype=ttorch.float64)
    assert [n for n, _ in m.named_parameters()] == ["linear.weight", "linear.bias"]
    x = t(np.random.default_rng(5).standard_normal((5, 4)), device)
    target = ttorch.tensor([0, 5, 1, 2, 3], device=device)
    loss = m(x, target)
    loss.backward()
    want = F.cross_entropy(m.linear(x), target)
    assert abs(loss.item() - want.item()) < 1e-12 and m.linear.weight.grad.shape == (6, 4)
    k = nn.LinearCrossEntropyLoss(4, 5, out_features=(3,))
    assert k.linear.weight.shape == (15, 4)
    assert k(ttorch.randn(2, 4), ttorch.randint(0, 5, (2, 3))).shape == ()
    with pytest.raises(RuntimeError, match=r"expected weight shape to be \(6,\), got \(5,\)"):
        nn.LinearCrossEntropyLoss(4, 6, weight=ttorch.ones(5))
    with pytest.raises(RuntimeError, match=r"expected label_smoothing to be in range \[0, 1\], got 2"):
        nn.LinearCrossEntropyLoss(4, 6, label_smoothing=2)


def test_docstring_examples():
    import doctest
    import importlib
    for name in ("ttorch.nn.functional.linear_cross_entropy", "ttorch.nn.modules.linear_cross_entropy"):
        m = importlib.import_module(name)
        res = doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted >= 1
