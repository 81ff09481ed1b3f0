"""vmap's batching rules (ttorch/func/_batched.py, _batch_rules.py): one call per op, the same values as the
per-sample loop and NumPy, and how many ops fell back to the loop (``FALLBACKS``) or made a whole call loop
(``LOOPS``)."""
import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.func import vmap, grad, jacrev, hessian, functional_call, _batched, _vmap


def npy(t):
    return t.detach().cpu().numpy()


@pytest.fixture(autouse=True)
def _counts():
    _batched.FALLBACKS.clear()
    _batched.LOOPS.clear()
    yield


def _loop(func, in_dims, *args):
    """The per-sample loop vmap ran before batching rules (kept as its fallback)."""
    flat, spec = _vmap.tree_flatten(args)
    n, dims, flat, spec = _vmap._process_batched_inputs(in_dims, args, func)
    return _vmap._loop(func, n, dims, flat, spec, {}, 0, "error")


rng = np.random.default_rng(0)
A = rng.standard_normal((4, 3, 5)).astype(np.float32)
V = rng.standard_normal(5).astype(np.float32)
M = rng.standard_normal((5, 2)).astype(np.float32)


def _layer_norm(x):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)


# name: (function of one sample (3, 5), NumPy reference of the batch A (4, 3, 5))
CASES = {
    "add_broadcast": (lambda x: x + ttorch.tensor(V), lambda: A + V),
    "unary_chain": (lambda x: (x * 2).exp().sin(), lambda: np.sin(np.exp(A * 2))),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), lambda: np.clip(A, -0.5, 0.5)),
    "where": (lambda x: ttorch.where(x > 0, x, ttorch.tensor(V)), lambda: np.where(A > 0, A, V)),
    "sum_dim": (lambda x: x.sum(1), lambda: A.sum(2)),
    "sum_all": (lambda x: x.sum(), lambda: A.sum((1, 2))),
    "mean_keepdim": (lambda x: x.mean(0, keepdim=True), lambda: A.mean(1, keepdims=True)),
    "amax": (lambda x: x.amax(-1), lambda: A.max(2)),
    "argmax_all": (lambda x: x.argmax(), lambda: A.reshape(4, -1).argmax(1)),
    "argmin_dim_keepdim": (lambda x: x.argmin(1, keepdim=True), lambda: A.argmin(2)[..., None]),
    "var_dims": (lambda x: x.var((0, 1)), lambda: A.reshape(4, -1).var(1, ddof=1)),
    "matmul": (lambda x: x @ ttorch.tensor(M), lambda: A @ M),
    "mv": (lambda x: x @ ttorch.tensor(V), lambda: A @ V),
    "einsum": (lambda x: ttorch.einsum("ij,jk->ik", x, ttorch.tensor(M)), lambda: A @ M),
    "linear": (lambda x: F.linear(x, ttorch.tensor(M.T)), lambda: A @ M),
    "softmax": (lambda x: x.softmax(-1), lambda: np.exp(A) / np.exp(A).sum(-1, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, 0), lambda: A - np.log(np.exp(A).sum(1, keepdims=True))),
    "layer_norm": (lambda x: F.layer_norm(x, (5,)), lambda: _layer_norm(A)),
    "transpose": (lambda x: x.t(), lambda: A.transpose(0, 2, 1)),
    "permute": (lambda x: x.permute(1, 0), lambda: A.transpose(0, 2, 1)),
    "reshape": (lambda x: x.reshape(5, 3), lambda: A.reshape(4, 5, 3)),
    "flatten": (lambda x: x.flatten(), lambda: A.reshape(4, 15)),
    "unsqueeze_squeeze": (lambda x: x.unsqueeze(1).squeeze(1)[:1].squeeze(0), lambda: A[:, 0]),
    "select_slice": (lambda x: x[1, 1:4:2], lambda: A[:, 1, 1:4:2]),
    "narrow": (lambda x: x.narrow(1, 2, 2), lambda: A[:, :, 2:4]),
    "expand": (lambda x: x[0].expand(2, 5), lambda: np.broadcast_to(A[:, None, 0], (4, 2, 5))),
    "cat": (lambda x: ttorch.cat([x, x * 2], 1), lambda: np.concatenate([A, 2 * A], 2)),
    "flip_roll": (lambda x: x.flip(0).roll(1, 1), lambda: np.roll(A[:, ::-1], 1, 2)),
    "tril": (lambda x: x.tril(1), lambda: np.tril(A, 1)),
    "masked_fill": (lambda x: x.masked_fill(x > 0, 1.5), lambda: np.where(A > 0, 1.5, A)),
    "sort": (lambda x: x.sort(1)[0], lambda: np.sort(A, 2)),
    "topk": (lambda x: x.topk(2, 0)[1], lambda: np.argsort(-A, 1)[:, :2]),
    "cumsum": (lambda x: x.cumsum(0), lambda: A.cumsum(1)),
    "index_select": (lambda x: x.index_select(1, ttorch.tensor([4, 0])), lambda: A[:, :, [4, 0]]),
    "gather": (lambda x: x.gather(1, x.argsort(1)), lambda: np.sort(A, 2)),
    "stack": (lambda x: ttorch.stack([x, x], 0), lambda: np.stack([A, A], 1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rules_match_numpy_without_falling_back(name):
    f, ref = CASES[name]
    out = vmap(f)(ttorch.tensor(A))
    np.testing.assert_allclose(npy(out), ref(), rtol=1e-5, atol=1e-6)
    assert not _batched.FALLBACKS and not _batched.LOOPS, (dict(_batched.FALLBACKS), dict(_batched.LOOPS))


def test_batched_second_operands():
    W = rng.standard_normal((4, 2, 5)).astype(np.float32)
    x, w = ttorch.tensor(A), ttorch.tensor(W)
    np.testing.assert_allclose(npy(vmap(F.linear)(x, w)), A @ W.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(npy(vmap(ttorch.matmul, in_dims=(None, 0))(ttorch.tensor(A[0]), w.transpose(1, 2))),
                               A[0] @ W.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    g = ttorch.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    ln = vmap(lambda x, g: F.layer_norm(x, (5,), g, g))(x, g)
    np.testing.assert_allclose(npy(ln), _layer_norm(A) * npy(g)[:, None] + npy(g)[:, None], rtol=1e-5, atol=1e-5)
    assert not _batched.FALLBACKS and not _batched.LOOPS


def test_an_op_without_a_rule_runs_per_sample_and_is_counted():
    out = vmap(lambda x: x.kthvalue(2, 1)[0].cumsum(0) * 2)(ttorch.tensor(A))
    np.testing.assert_allclose(npy(out), np.sort(A, 2)[:, :, 1].cumsum(1) * 2, rtol=1e-5, atol=1e-5)
    assert _batched.FALLBACKS == {"kthvalue": 1} and not _batched.LOOPS


def _mlp_loss(kind):
    def model(p, x):
        return F.linear(F.relu(F.linear(x, p["w1"], p["b1"])), p["w2"], p["b2"])

    def ce(p, x, y):
        return F.cross_entropy(model(p, x.unsqueeze(0)), y.unsqueeze(0))

    def mse(p, x, y):
        return F.mse_loss(model(p, x), y)
    return ce if kind == "ce" else mse


@pytest.mark.parametrize("kind", ["ce", "mse"])
def test_per_sample_grads_of_an_mlp_equal_the_loop_with_no_fallback(kind, device):
    ttorch.manual_seed(1)
    B, D, H, C = (32, 5, 7, 3) if device == "cpu" else (6, 4, 5, 3)     # (the simulated cuda is slow)
    p = {k: ttorch.randn(*s, device=device) for k, s in (("w1", (H, D)), ("b1", (H,)), ("w2", (C, H)), ("b2", (C,)))}
    x = ttorch.randn(B, D, device=device)
    y = ttorch.randint(0, C, (B,), device=device) if kind == "ce" else ttorch.randn(B, C, device=device)
    loss = _mlp_loss(kind)
    g = vmap(grad(loss), in_dims=(None, 0, 0))(p, x, y)
    assert not _batched.FALLBACKS and not _batched.LOOPS, (dict(_batched.FALLBACKS), dict(_batched.LOOPS))
    ref = _loop(grad(loss), (None, 0, 0), p, x, y)
    for k in p:
        assert tuple(g[k].shape) == (B,) + tuple(p[k].shape) and not g[k].requires_grad
        np.testing.assert_allclose(npy(g[k]), npy(ref[k]), rtol=1e-5, atol=1e-5)
    # the last layer's bias gradient by hand (mse: 2 (out - y) / C)
    if kind == "mse":
        out = npy(F.linear(F.relu(F.linear(x, p["w1"], p["b1"])), p["w2"], p["b2"]))
        np.testing.assert_allclose(npy(g["b2"]), 2 * (out - npy(y)) / C, rtol=1e-5, atol=1e-5)


def test_ensembling_with_functional_call_and_stacked_params():
    ttorch.manual_seed(2)
    models = [nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)) for _ in range(3)]
    params = {k: ttorch.stack([dict(m.named_parameters())[k].detach() for m in models]) for k, _ in
              models[0].named_parameters()}
    x = ttorch.randn(5, 4)
    out = vmap(lambda p, x: functional_call(models[0], p, (x,)), in_dims=(0, None))(params, x)
    assert not _batched.FALLBACKS and not _batched.LOOPS, (dict(_batched.FALLBACKS), dict(_batched.LOOPS))
    for i, m in enumerate(models):
        np.testing.assert_allclose(npy(out[i]), npy(m(x)), rtol=1e-5, atol=1e-6)


def test_jacrev_and_hessian_unchanged():
    A2 = np.array([[1., 2.], [0., 3.]])
    x = ttorch.tensor([0.5, -1.0], dtype=ttorch.float64)
    np.testing.assert_allclose(npy(hessian(lambda x: x @ ttorch.tensor(A2) @ x)(x)), A2 + A2.T)
    np.testing.assert_allclose(npy(jacrev(lambda x: x.sin() * 2)(x)), np.diag(2 * np.cos(npy(x))))
    # per-sample jacobians through vmap
    xs = ttorch.tensor(A[:, 0].astype(np.float64))
    j = vmap(jacrev(lambda x: x.sin()))(xs)
    np.testing.assert_allclose(npy(j), np.stack([np.diag(np.cos(r)) for r in npy(xs)]), rtol=1e-12)


def test_in_dims_out_dims_chunks_nesting_and_structures():
    x, v = ttorch.tensor(A), ttorch.tensor(V)
    w3 = A[0, :, 0]
    np.testing.assert_allclose(npy(vmap(lambda c: c * ttorch.tensor(w3), in_dims=2, out_dims=1)(x)),
                               np.moveaxis(np.moveaxis(A, 2, 0) * w3, 0, 1), rtol=1e-6)
    out = vmap(lambda c, d: {"a": c.sum(0), "b": (c * d["s"], d["s"])}, in_dims=(0, {"s": None}),
               out_dims={"a": 1, "b": (0, None)})(x, {"s": v})
    np.testing.assert_allclose(npy(out["a"]), A.sum(1).T, rtol=1e-6)
    np.testing.assert_allclose(npy(out["b"][0]), A * V, rtol=1e-6)
    assert out["b"][1] is v
    np.testing.assert_allclose(npy(vmap(lambda c: c.sum(1), chunk_size=3)(x)), A.sum(2), rtol=1e-6)
    outer = vmap(vmap(lambda a, b: a * b, in_dims=(0, None)), in_dims=(None, 0))(v, v)
    np.testing.assert_allclose(npy(outer), np.outer(V, V).T, rtol=1e-6)
    assert not _batched.FALLBACKS and not _batched.LOOPS, (dict(_batched.FALLBACKS), dict(_batched.LOOPS))


def test_pytorch_errors():
    x = ttorch.tensor(A)
    with pytest.raises(RuntimeError, match="vmap: It looks like you're calling .item\\(\\) on a Tensor"):
        vmap(lambda r: r.sum().item())(x)
    with pytest.raises(RuntimeError, match="vmap: It looks like you're attempting to use a Tensor in some data-"):
        vmap(lambda r: r if r.sum() > 0 else -r)(x)
    with pytest.raises(RuntimeError, match="vmap: It looks like you're calling .item\\(\\) on a Tensor"):
        vmap(lambda r: float(r.sum()))(x)
    with pytest.raises(ValueError, match="can not return a BatchedTensor when out_dim is None"):
        vmap(lambda r: r, out_dims=None)(x)
    with pytest.raises(ValueError, match="must only return Tensors"):
        vmap(lambda r: 1.0)(x)
    with pytest.raises(ValueError, match="in_dims is not compatible with the structure of `inputs`"):
        vmap(lambda r: r, in_dims=(0, 0))(x)


def test_randomness_flags_in_batched_runs():
    x = ttorch.zeros(4, 3)
    with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness error mode"):
        vmap(lambda r: F.dropout(r + 1, 0.5))(x)
    same = npy(vmap(lambda r: r + ttorch.rand(3), randomness="same")(x))
    assert np.all(same == same[0]) and np.all(same[0] != 0)
    diff = npy(vmap(lambda r: r + ttorch.rand(3), randomness="different")(x))
    assert len({tuple(row) for row in diff}) == 4


def test_the_loop_serves_where_a_batched_run_cannot():
    xs = ttorch.tensor(A[:, 0].astype(np.float64))
    X = npy(xs)
    # forward-mode AD of batched tensors (jacfwd inside vmap): the per-sample loop, with its values
    h = vmap(hessian(lambda x: (x ** 3).sum()))(xs)
    np.testing.assert_allclose(npy(h), np.stack([np.diag(6 * r) for r in X]), rtol=1e-12)
    assert _batched.LOOPS["RuntimeError"] == 1
    # autograd.grad of a batched output w.r.t. an unbatched leaf: per sample, not summed over the batch
    w = ttorch.tensor(V, dtype=ttorch.float64, requires_grad=True)
    g = vmap(lambda x: ttorch.autograd.grad((w * x).sum() ** 2, w)[0])(xs)
    np.testing.assert_allclose(npy(g), 2 * (X @ V)[:, None] * X, rtol=1e-12)
    # an in-place write into a batched tensor batches (func/_inplace_rules.py): no loop
    np.testing.assert_allclose(npy(vmap(lambda x: x.clone().mul_(2))(xs)), 2 * X)
    assert _batched.LOOPS["RuntimeError"] == 2 and sum(_batched.LOOPS.values()) == 2


def test_chunked_per_sample_grads():
    w = ttorch.tensor(V, dtype=ttorch.float64)
    xs = ttorch.tensor(A[:, 0].astype(np.float64))
    g = vmap(grad(lambda w, x: (w * x).sum() ** 2), in_dims=(None, 0), chunk_size=3)(w, xs)
    np.testing.assert_allclose(npy(g), 2 * (A[:, 0] @ V)[:, None] * A[:, 0], rtol=1e-6)
    assert not _batched.FALLBACKS and not _batched.LOOPS
