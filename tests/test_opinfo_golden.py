"""PyTorch 2.13's own OpInfo samples replayed through ttorch on cpu: ~4,000 small samples of ~470 ops (float64,
float32, int64, bool) with the results, errors and gradients PyTorch gave for them, recorded once by
``tests/tools/opinfo_dump.py`` in a PyTorch environment into ``tests/data/opinfo_golden.pkl.gz``. This test needs
no torch: it compares ttorch with the recording (values, dtypes, shapes, error types, gradients of a fixed
weighted sum of the outputs).

Left out when recording (see the tool): random ops, the ops whose results PyTorch leaves unspecified (ties in
topk/sort/mode/kthvalue, eigenvector signs), ops whose PyTorch gradient is not the op's as computed (the unused
triangle of cholesky_inverse/cholesky_solve, ctc_loss on unnormalised log-probs), and samples with more than 150
elements in any tensor.
"""
import gzip
import math
import os
import pickle

import numpy as np
import pytest

import ttorch

_PATH = os.path.join(os.path.dirname(__file__), "data", "opinfo_golden.pkl.gz")
with gzip.open(_PATH, "rb") as _f:
    RECORDS = pickle.load(_f)


def _decode(x, leaves):
    if isinstance(x, tuple) and x and isinstance(x[0], str):
        kind = x[0]
        if kind == "T":
            t = ttorch.tensor(x[1], dtype=getattr(ttorch, x[2]))
            if x[3]:
                t.requires_grad_(True)
                leaves.append(t)
            return t
        if kind in ("D", "MF", "LAY"):
            return getattr(ttorch, x[1])
        if kind == "DEV":
            return ttorch.device(x[1])
        if kind == "S":
            return ttorch.Size(x[1])
        if kind == "SL":
            return slice(x[1], x[2], x[3])
        if kind == "ELL":
            return Ellipsis
        if kind in ("NT", "TU"):
            return tuple(_decode(v, leaves) for v in x[1])
        if kind == "L":
            return [_decode(v, leaves) for v in x[1]]
        if kind == "DI":
            return {k: _decode(v, leaves) for k, v in x[1].items()}
    return x


def _resolve(path):
    if path.startswith("Tensor."):
        return lambda self, *a, **k: getattr(self, path[7:])(*a, **k)
    obj = ttorch
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _compare(ref, got, where):
    """None, or what differs."""
    if isinstance(ref, tuple) and ref and ref[0] == "T":
        arr, dt = ref[1], ref[2]
        if not isinstance(got, ttorch.Tensor):
            return f"{where}: a Tensor expected, got {type(got).__name__}"
        g = got.detach()
        if g.dtype is not getattr(ttorch, dt) or tuple(g.shape) != arr.shape:
            return f"{where}: {g.dtype} {tuple(g.shape)}, PyTorch {dt} {arr.shape}"
        tol = 1e-5 if dt in ("float32", "complex64") else 1e-9
        ok = np.allclose(g.numpy(), arr, rtol=tol, atol=tol, equal_nan=True) if arr.dtype.kind in "fc" else \
            np.array_equal(g.numpy(), arr)
        return None if ok else f"{where}: values differ"
    if isinstance(ref, tuple) and ref and ref[0] in ("NT", "TU", "L"):
        if not isinstance(got, (tuple, list)) or len(got) != len(ref[1]):
            return f"{where}: a sequence of {len(ref[1])} expected"
        for i, (r, v) in enumerate(zip(ref[1], got)):
            p = _compare(r, v, f"{where}[{i}]")
            if p:
                return p
        return None
    if isinstance(ref, tuple) and ref and ref[0] == "S":
        return None if tuple(got) == ref[1] else f"{where}: {got} != {ref[1]}"
    if isinstance(ref, (bool, int, float)):
        if isinstance(got, ttorch.Tensor):
            return f"{where}: a Tensor, PyTorch gave a {type(ref).__name__}"
        same = got == ref or (isinstance(ref, float) and (math.isnan(ref) and math.isnan(got)
                                                          or abs(got - ref) <= 1e-9 * max(1.0, abs(ref))))
        return None if same else f"{where}: {got!r} != {ref!r}"
    return None


def _weighted_sum(outputs):
    loss = None
    for t in outputs:
        if isinstance(t, ttorch.Tensor) and t.requires_grad and (t.is_floating_point() or t.is_complex()):
            w = ttorch.cos(ttorch.arange(t.numel(), dtype=ttorch.float64)).reshape(t.shape).to(t.dtype)
            s = (t * w).sum()
            s = s.real if s.is_complex() else s
            loss = s if loss is None else loss + s
    return loss


def _flat(x):
    if isinstance(x, ttorch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _flat(v)]
    return []


def _replay(r):
    leaves = []
    fn = _resolve(r["path"])
    inp, args, kwargs = _decode(r["input"], leaves), _decode(r["args"], leaves), _decode(r["kwargs"], leaves)
    ttorch.manual_seed(0)
    try:
        out = fn(inp, *args, **kwargs)
    except Exception as e:      # noqa: BLE001 (any error PyTorch raised too, of its type)
        if "err" not in r:
            return f"raised {type(e).__name__}: {e}"
        return None if type(e).__name__ == r["err"][0] else f"raised {type(e).__name__}, PyTorch {r['err'][0]}"
    if "err" in r:
        return f"no error; PyTorch raised {r['err'][0]}: {r['err'][1][:80]}"
    problem = _compare(r["out"], out, "output")
    if problem or "grads" not in r:
        return problem
    loss = _weighted_sum(_flat(out))
    grads = ttorch.autograd.grad(loss, leaves, allow_unused=True) if loss is not None else [None] * len(leaves)
    for j, (ref, g) in enumerate(zip(r["grads"], grads)):
        if ref is None or g is None:
            if (ref is None) != (g is None) and np.any((ref if g is None else g.numpy()) != 0):
                return f"gradient {j}: {'None' if g is None else 'given'}, PyTorch {'None' if ref is None else 'given'}"
            continue
        if g.shape != ref.shape or not np.allclose(g.numpy(), ref, rtol=1e-7, atol=1e-7, equal_nan=True):
            return f"gradient {j} differs"
    return None


_OPS = sorted({(r["name"], r["variant"]) for r in RECORDS})


@pytest.mark.parametrize("name,variant", _OPS, ids=[f"{n}.{v}" if v else n for n, v in _OPS])
def test_op_matches_pytorch(name, variant):
    problems = []
    for r in RECORDS:
        if r["name"] == name and r["variant"] == variant:
            p = _replay(r)
            if p:
                problems.append(f"{r['dtype']} sample {r['i']}: {p}")
    assert not problems, "\n".join(problems)


def test_the_recording_covers_the_op_families():
    assert len(RECORDS) > 3000 and len(_OPS) > 400
    names = {n for n, _ in _OPS}
    assert {"add", "matmul", "nn.functional.conv2d", "linalg.solve", "cumsum", "nn.functional.cross_entropy",
            "index_put", "scatter_reduce", "fft.fft"} <= names
