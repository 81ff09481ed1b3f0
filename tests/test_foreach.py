"""Foreach ops (``ttorch._foreach_norm``, ``ttorch._foreach_mul_``; ops/foreach.py) against NumPy and
the one-tensor ops, and the many-tensor launches ``clip_grad_norm_`` takes through them on cuda."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.ops import foreach

cuda_only = pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device")


def _np_norm(a, ord):
    a = np.abs(np.asarray(a, np.float64).ravel())
    return a.max() if ord == math.inf else a.sum() if ord == 1 else (a ** ord).sum() ** (1 / ord)


@pytest.fixture
def kernels(monkeypatch):
    """The kernels launched (by name) through ops/foreach.py."""
    names = []
    real = foreach.launch
    monkeypatch.setattr(foreach, "launch", lambda k, g, *a, **m: names.append(k.__name__) or real(k, g, *a, **m))
    return names


@pytest.mark.parametrize("ord", [2.0, 1.0, math.inf, 3.0])
def test_foreach_norm_against_numpy(device, ord):
    # several tensors of one group: odd sizes, one over two blocks; an empty one and a strided one
    # take the one-tensor norm; float64 its own group
    r = np.random.default_rng(1)
    arrays = [r.standard_normal(s) for s in ((3, 5), (1300,), (7,), (0,), (6, 4))]
    ts = [ttorch.tensor(a, dtype=ttorch.float32, device=device) for a in arrays[:4]]
    ts += [ttorch.tensor(arrays[4], dtype=ttorch.float32, device=device).t(),
           ttorch.tensor(arrays[1], dtype=ttorch.float64, device=device)]
    if ord == math.inf:
        ts, arrays = ts[:3] + ts[4:], arrays[:3] + arrays[4:]
    norms = ttorch._foreach_norm(ts, ord)
    assert [n.dtype for n in norms] == [t.dtype for t in ts] and all(n.ndim == 0 for n in norms)
    for n, a in zip(norms, arrays + [arrays[1]]):
        np.testing.assert_allclose(n.item(), _np_norm(a, ord), rtol=1e-5 if n.dtype is ttorch.float32 else 1e-12)


@cuda_only
@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float16, ttorch.bfloat16])
def test_foreach_norm_is_two_launches_a_group(kernels, monkeypatch, dtype):
    # the blocks' partials, then one program a tensor folding them (several loop steps here); the same
    # values as the one-tensor norms, in the tensors' dtype, and the same bits a second time
    monkeypatch.setattr(foreach, "_FOLD", 2)
    r = np.random.default_rng(2)
    ts = [ttorch.tensor(r.uniform(-3, 3, size=s), dtype=dtype, device="cuda") for s in ((2500,), (9, 3), (1,))]
    for ord in (2, 1, math.inf):
        kernels.clear()
        got = ttorch._foreach_norm(ts, ord)
        assert kernels == ["_norm_many_kernel", "_norm_fold_kernel"]
        for n, t in zip(got, ts):
            want = t.float().cpu().numpy()
            tol = {ttorch.float32: 1e-5, ttorch.float16: 1e-3, ttorch.bfloat16: 1e-2}[dtype]
            assert n.dtype is dtype
            np.testing.assert_allclose(n.float().item(), _np_norm(want, ord), rtol=tol)
        again = ttorch._foreach_norm(ts, ord)
        assert [a.float().item() for a in again] == [g.float().item() for g in got]


@cuda_only
def test_foreach_norm_propagates_nan_and_inf():
    a = ttorch.tensor([1.0, float("nan"), -2.0], device="cuda")
    b = ttorch.tensor([1.0, -float("inf")], device="cuda")
    for ord in (2, 1, math.inf):
        na, nb = ttorch._foreach_norm([a, b, ttorch.ones(3, device="cuda")], ord)[:2]
        assert math.isnan(na.item()) and nb.item() == math.inf


def test_foreach_norm_records_for_autograd(device):
    # a tensor that requires grad under grad mode takes vector_norm, which autograd records
    w = ttorch.tensor([3.0, 4.0], device=device, requires_grad=True)
    (n,) = ttorch._foreach_norm([w])
    n.backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), [0.6, 0.8], rtol=1e-6)


def test_foreach_mul_(device, kernels):
    r = np.random.default_rng(3)
    arrays = [r.standard_normal(s).astype(np.float32) for s in ((3, 5), (1300,), (7,))]
    for other, scale in ((ttorch.tensor(0.25, device=device), 0.25), (1.5, 1.5), ([2.0, ttorch.tensor(3.0), 0.5],
                                                                               [2.0, 3.0, 0.5])):
        ts = [ttorch.tensor(a, device=device) for a in arrays]
        versions = [t._version for t in ts]
        kernels.clear()
        assert ttorch._foreach_mul_(ts, other) is None
        for t, a, s in zip(ts, arrays, scale if isinstance(scale, list) else [scale] * 3):
            np.testing.assert_array_equal(t.cpu().numpy(), a * np.float32(s))
        assert all(t._version > v for t, v in zip(ts, versions))
        if device == "cuda" and isinstance(other, ttorch.Tensor):
            assert kernels == ["_mul_many_kernel"]
    with pytest.raises(RuntimeError, match="same number of tensors"):
        ttorch._foreach_mul_([ttorch.ones(2, device=device)], [1.0, 2.0])
    leaf = ttorch.ones(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        ttorch._foreach_mul_([leaf], ttorch.tensor(2.0, device=device))


@cuda_only
def test_foreach_mul_of_half_tensors_as_mul_(kernels):
    # float(x) * c rounded to the tensor's dtype, as x.mul_(c) with a float32 0-dim c
    r = np.random.default_rng(4)
    for dtype in (ttorch.float16, ttorch.bfloat16):
        a = ttorch.tensor(r.uniform(-100, 100, size=(1100,)), dtype=dtype, device="cuda")
        c = ttorch.tensor(1 / 3, device="cuda")
        want = a.clone().mul_(c)
        kernels.clear()
        ttorch._foreach_mul_([a], c)
        assert kernels == ["_mul_many_kernel"]
        np.testing.assert_array_equal(a.float().cpu().numpy(), want.float().cpu().numpy())


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_grad_norm_foreach_as_one_norm_a_gradient(device, kernels, norm_type):
    # the foreach path (PyTorch's default) clips as foreach=False does, in a few launches on cuda
    r = np.random.default_rng(5)
    shapes = [(4, 3), (3,), (1300,), (2, 2, 2), (5,)]
    res = []
    for fe in (None, False):
        params = []
        for s in shapes:
            p = nn.Parameter(ttorch.zeros(*s, device=device))
            p.grad = ttorch.tensor(r.standard_normal(s), dtype=ttorch.float32, device=device)
            params.append(p)
        kernels.clear()
        total = nn.utils.clip_grad_norm_(params, 0.5, norm_type, foreach=fe)
        if device == "cuda" and fe is None:
            assert kernels == ["_norm_many_kernel", "_norm_fold_kernel", "_mul_many_kernel"]
        res.append((total.item(), [p.grad.cpu().numpy() for p in params]))
        r = np.random.default_rng(5)
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6)
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_clip_grad_norm_foreach_true_on_cpu_raises():
    p = nn.Parameter(ttorch.ones(2))
    p.grad = ttorch.ones(2)
    with pytest.raises(RuntimeError, match="foreach=True was passed, but can't use the foreach API on cpu tensors"):
        nn.utils.clip_grad_norm_([p], 1.0, foreach=True)
