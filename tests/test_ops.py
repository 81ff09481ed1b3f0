"""Tests generated from every op's sample inputs (``Op.samples``):

* values: each admitted dtype on cpu against the float64 result of the same (rounded) inputs;
* parity: simulated cuda against cpu, contiguous and strided inputs, same dtype and shape;
* gradients: float64 central differences on cpu, and cuda-vs-cpu gradients in float32.
"""
import numpy as np
import pytest

import ttorch
from ttorch import _dtype as D
from ttorch.ops import REGISTRY
from ttorch.ops.samples import is_data

from _helpers import close, make, numeric_grads, to_np

HAS_CUDA = ttorch.cuda.is_available()

CASES = []
for _name, _op in sorted(REGISTRY.items()):
    if _op.samples is None or _op.public is None:
        continue
    for _i, _s in enumerate(_op.samples()):
        CASES.append(pytest.param(_name, _i, id=f"{_name}-{_i}"))


def _sample(name, i):
    op = REGISTRY[name]
    return op, op.samples()[i]


def _run(op, sample, dtype, device, noncontig=False, requires_grad=False):
    args = [make(a, dtype, device, noncontig, requires_grad and isinstance(a, np.ndarray) and a.dtype.kind == "f")
            for a in sample.args]
    return args, op.public(*args, **sample.kwargs)


def _outs(r):
    return list(r) if isinstance(r, (tuple, list)) else [r]


def _numel(sample):
    return max([a.size for a in sample.args if isinstance(a, np.ndarray)] + [1])


@pytest.mark.parametrize("name,i", CASES)
def test_values_and_parity(name, i):
    op, s = _sample(name, i)
    for dt in op.dtypes or (D.float32, D.float64):
        if any(isinstance(a, np.ndarray) and a.dtype.kind in "iub" for a in s.args) and dt.is_floating_point \
                and dt is not D.float64 and op.family != "unary":
            pass
        _, got = _run(op, s, dt, "cpu")
        # reference: the same (rounded) inputs in float64
        rounded = [to_np(make(a, dt, "cpu")).astype(np.float64) if is_data(a) else a for a in s.args]
        ref_args = [ttorch.tensor(a, dtype=D.float64) if is_data(a) else make(a, None, "cpu") for a in rounded]
        if dt.is_floating_point:
            ref = _outs(op.public(*ref_args, **s.kwargs))
            for g, e in zip(_outs(got), ref):
                close(g, e.to(g.dtype) if g.dtype is not D.bool else e, g.dtype, _numel(s), f"{name} {dt} vs float64")
        if not HAS_CUDA:
            continue
        for nc in (False, True):
            _, cu = _run(op, s, dt, "cuda", noncontig=nc)
            for g, c in zip(_outs(got), _outs(cu)):
                assert c.device.type == "cuda"
                assert c.dtype is g.dtype, f"{name}: cuda dtype {c.dtype} != cpu dtype {g.dtype}"
                close(c, g, g.dtype, _numel(s), f"{name} {dt} cuda{' strided' if nc else ''} vs cpu")


def _loss_fn(op, sample, weights, differentiable):
    # only the outputs that carry gradients (not the statistics some ops return beside them)
    def f(arrays):
        args = [ttorch.tensor(a, dtype=D.float64) if is_data(a) else make(a, None, "cpu") for a in arrays]
        outs = _outs(op.public(*args, **sample.kwargs))
        return sum(float((o.detach().double() * ttorch.tensor(w)).sum().item())
                   for o, w, d in zip(outs, weights, differentiable) if d)
    return f


@pytest.mark.parametrize("name,i", [c for c in CASES if REGISTRY[c.values[0]].backward is not None])
def test_gradients(name, i):
    op, s = _sample(name, i)
    if not s.grad:
        pytest.skip("sample has no gradient check")
    rng = np.random.default_rng(1)
    arrays = [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
              for a in s.args]
    args, out = _run(op, s, D.float64, "cpu", requires_grad=True)
    outs = _outs(out)
    weights = [rng.uniform(-1, 1, size=o.shape) for o in outs]
    total = None
    for o, w in zip(outs, weights):
        if o.dtype.is_floating_point and o.requires_grad:
            term = (o * ttorch.tensor(w)).sum()
            total = term if total is None else total + term
    if total is None:
        pytest.skip("no differentiable output")
    total.backward()
    k = op.grad_outputs if op.grad_outputs is not None else len(outs)
    num = numeric_grads(_loss_fn(op, s, weights, [o.dtype.is_floating_point and i < k for i, o in enumerate(outs)]),
                        arrays)
    for a, n in zip(args, num):
        if n is None:
            continue
        g = a.grad if a.grad is not None else ttorch.zeros_like(a)
        np.testing.assert_allclose(g.numpy(), n, rtol=1e-5, atol=1e-6, err_msg=f"{name}: analytic vs numeric grad")
    if not HAS_CUDA:
        return
    cargs, cout = _run(op, s, D.float32, "cuda", requires_grad=True)
    pargs, pout = _run(op, s, D.float32, "cpu", requires_grad=True)
    for outs_, dev in ((cout, "cuda"), (pout, "cpu")):
        tot = sum((o * ttorch.tensor(w, dtype=D.float32, device=dev)).sum()
                  for o, w in zip(_outs(outs_), weights) if o.requires_grad)
        tot.backward()
    for c, p in zip(cargs, pargs):
        if isinstance(p, ttorch.Tensor) and p.grad is not None:
            close(c.grad, p.grad, D.float32, _numel(s), f"{name}: cuda vs cpu gradient")
