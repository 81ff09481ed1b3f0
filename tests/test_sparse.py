"""Sparse COO tensors (``ttorch/_sparse.py``), sparse @ dense products (``ops/sparse_mm.py``), sparse
embedding gradients and the optimizers' sparse paths (``optim/sparse_adam.py``, ``_sparse_update.py``).
References are NumPy (float64) and NumPy transcriptions of PyTorch's update formulas."""
import copy
import math
import pickle

import numpy as np
import pytest

import ttorch
from ttorch.autograd import gradcheck

IND = np.array([[0, 1, 1, 3, 2, 0, 4], [1, 0, 2, 3, 2, 1, 0]])    # (0, 1) twice, row 3 of 5 alone
VAL = np.array([0.5, -1.0, 2.0, 1.5, -0.25, 0.75, 3.0])


def dense_of(ind, val, shape):
    out = np.zeros(shape, dtype=np.float64)
    np.add.at(out, tuple(ind), val)
    return out


def sp(device="cpu", dtype=ttorch.float64, **kw):
    return ttorch.sparse_coo_tensor(ttorch.tensor(IND), ttorch.tensor(VAL, dtype=dtype), (5, 6), device=device, **kw)


def host(t):
    return (t.to_dense() if t.is_sparse else t).detach().cpu().numpy().astype(np.float64)


# ------------------------------------------------------------------------------------ the layout
def test_layout_and_metadata():
    s = sp()
    assert isinstance(s, ttorch.Tensor) and s.is_sparse and s.layout is ttorch.sparse_coo
    assert ttorch.ones(2).layout is ttorch.strided and repr(ttorch.sparse_coo) == "ttorch.sparse_coo"
    assert s.shape == (5, 6) and s.sparse_dim() == 2 and s.dense_dim() == 0 and s._nnz() == 7
    assert not s.is_coalesced() and s.type() == "ttorch.sparse.DoubleTensor"
    assert pickle.loads(pickle.dumps(ttorch.sparse_coo)) is ttorch.sparse_coo
    inferred = ttorch.sparse_coo_tensor([[0, 2], [1, 0]], [1.0, 2.0])
    assert inferred.shape == (3, 2) and inferred.dtype is ttorch.float32
    legacy = ttorch.sparse.FloatTensor(ttorch.tensor(IND), ttorch.tensor(VAL), ttorch.Size([5, 6]))
    assert legacy.is_sparse and legacy.dtype is ttorch.float32 and legacy.shape == (5, 6)
    z = ttorch.zeros(2, 3, layout=ttorch.sparse_coo)
    assert z.is_sparse and z._nnz() == 0 and z.sparse_dim() == 2 and not z.to_dense().numpy().any()
    assert ttorch.zeros_like(legacy).is_sparse and not ttorch.zeros_like(ttorch.ones(2)).is_sparse
    hybrid = ttorch.sparse_coo_tensor([[1, 0]], np.ones((2, 3)))
    assert hybrid.shape == (2, 3) and hybrid.sparse_dim() == 1 and hybrid.dense_dim() == 1


def test_constructor_errors():
    with pytest.raises(RuntimeError, match="indices and values must have same nnz, but got nnz from indices: 7"):
        ttorch.sparse_coo_tensor(IND, VAL[:2], (5, 6))
    with pytest.raises(RuntimeError, match="len\\(size\\) = 3, sparse_dim = 2, dense_dim = 0"):
        ttorch.sparse_coo_tensor(IND, VAL, (5, 6, 2))
    with pytest.raises(RuntimeError, match="for dim 0, size is 4 but found index 4"):
        ttorch.sparse_coo_tensor(IND, VAL, (4, 6), check_invariants=True)
    with pytest.raises(RuntimeError, match="Cannot get indices on an uncoalesced tensor"):
        sp().indices()
    with pytest.raises(RuntimeError, match="Cannot get values on an uncoalesced tensor"):
        sp().values()


def test_repr_matches_pytorch_layout():
    s = ttorch.sparse_coo_tensor([[1, 0, 1], [2, 0, 2]], [3.0, 4.0, 5.0], (2, 3))
    assert repr(s) == ("tensor(indices=tensor([[1, 0, 1],\n"
                       "                       [2, 0, 2]]),\n"
                       "       values=tensor([3., 4., 5.]),\n"
                       "       size=(2, 3), nnz=3, layout=ttorch.sparse_coo)")
    s.zero_()
    assert repr(s) == ("tensor(indices=tensor([], size=(2, 0)),\n"
                       "       values=tensor([], size=(0,)),\n"
                       "       size=(2, 3), nnz=0, layout=ttorch.sparse_coo)")


def test_coalesce_to_dense_to_sparse(device):
    s = sp(device)
    c = s.coalesce()
    ref = dense_of(IND, VAL, (5, 6))
    assert c.is_coalesced() and c._nnz() == 6
    keys = c.indices().cpu().numpy()
    assert (keys[0] * 6 + keys[1]).tolist() == sorted(set((IND[0] * 6 + IND[1]).tolist()))
    np.testing.assert_allclose(dense_of(keys, c.values().cpu().numpy(), (5, 6)), ref)
    np.testing.assert_allclose(host(s), ref)
    back = ttorch.tensor(ref, device=device).to_sparse()
    assert back.is_coalesced() and back._nnz() == 6 and back.device.type == device
    np.testing.assert_allclose(host(back), ref)
    ref[3] = 0
    rows = ttorch.tensor(ref, device=device).to_sparse(1)       # hybrid: nonzero rows, dense columns
    assert rows.sparse_dim() == 1 and rows.indices().cpu().tolist() == [[0, 1, 2, 4]]
    np.testing.assert_allclose(host(rows), ref)
    assert repr(rows).startswith("tensor(indices=tensor([[0, 1, 2, 4]]),\n       values=tensor([[ 0.0000,  1.2500,")


def test_arithmetic(device):
    s, ref = sp(device), dense_of(IND, VAL, (5, 6))
    d = np.arange(30.0).reshape(5, 6)
    dt = ttorch.tensor(d, device=device)
    for got, want in [(s + s, 2 * ref), (s.coalesce() + s.coalesce(), 2 * ref), (s * 2, 2 * ref), (2 * s, 2 * ref),
                      (-s, -ref), (s / 4, ref / 4), (s - s * 3, -2 * ref), (dt + s, d + ref), (dt - s, d - ref),
                      (s * dt, ref * d), (s.t(), ref.T), (s.transpose(0, 1), ref.T), (s.clone(), ref)]:
        np.testing.assert_allclose(host(got), want)
    assert (s * dt).is_sparse and (dt + s).layout is ttorch.strided
    assert (s.coalesce() + s.coalesce()).is_coalesced()
    assert s.sum().item() == pytest.approx(ref.sum())
    np.testing.assert_allclose(host(ttorch.sparse.sum(s, 0)), ref.sum(0))
    np.testing.assert_allclose(host(s.sum(1)), ref.sum(1))
    assert ttorch.sparse.sum(s, (0, 1)).item() == pytest.approx(ref.sum())
    s.mul_(3)
    np.testing.assert_allclose(host(s), 3 * ref)
    with pytest.raises(RuntimeError, match="add\\(sparse, dense\\) is not supported"):
        s + 1


def test_device_and_dtype_moves(device):
    s = sp().to(device)
    assert s.device.type == device and s.is_sparse
    f = s.float()
    assert f.dtype is ttorch.float32 and f.type().endswith("sparse.FloatTensor")
    np.testing.assert_allclose(host(s.cpu()), dense_of(IND, VAL, (5, 6)))
    assert copy.deepcopy(s)._nnz() == 7
    r = pickle.loads(pickle.dumps(s))
    assert r.is_sparse and r.device.type == device
    np.testing.assert_allclose(host(r), host(s))


def test_dense_ops_raise_pytorch_errors():
    s = sp()
    for f in (lambda: s.exp(), lambda: ttorch.cos(s), lambda: s.view(30), lambda: s.mean(),
              lambda: ttorch.cat([s, s]), lambda: s == s):
        with pytest.raises(NotImplementedError, match="with arguments from the 'SparseCPU' backend"):
            f()
    with pytest.raises(NotImplementedError, match="'aten::exp'"):
        ttorch.exp(s)
    with pytest.raises(RuntimeError, match="reshape is not implemented for sparse tensors"):
        s.reshape(30)
    with pytest.raises(TypeError, match="can't convert Sparse layout tensor to numpy"):
        s.numpy()


# ------------------------------------------------------------------------------------ products
@pytest.mark.parametrize("k,n", [(6, 3), (6, 1), (6, 37)])
def test_sparse_mm_values(device, k, n):
    rng = np.random.default_rng(k * n)
    d = rng.standard_normal((6, n))
    ref = dense_of(IND, VAL, (5, 6)) @ d
    s, dt = sp(device), ttorch.tensor(d, device=device)
    for got in (ttorch.sparse.mm(s, dt), ttorch.spmm(s, dt), ttorch.mm(s, dt), ttorch.matmul(s, dt), s @ dt):
        assert got.layout is ttorch.strided and got.shape == (5, n)
        np.testing.assert_allclose(host(got), ref, rtol=1e-12, atol=1e-12)
    # a non-contiguous dense operand, float32, and dense @ sparse
    dtt = ttorch.tensor(np.ascontiguousarray(d.T), dtype=ttorch.float32, device=device).t()
    np.testing.assert_allclose(host(ttorch.sparse.mm(s.float(), dtt)), ref, rtol=1e-5, atol=1e-5)
    left = rng.standard_normal((2, 5))
    np.testing.assert_allclose(host(ttorch.tensor(left, device=device) @ s), left @ dense_of(IND, VAL, (5, 6)))
    np.testing.assert_allclose(host(ttorch.mm(ttorch.tensor(left, device=device), s)), left @ dense_of(IND, VAL,
                                                                                                      (5, 6)))
    bias = rng.standard_normal((5, n))
    np.testing.assert_allclose(host(ttorch.sparse.addmm(ttorch.tensor(bias, device=device), s, dt, beta=0.5,
                                                        alpha=2.0)), 0.5 * bias + 2.0 * ref)


def test_sparse_mm_empty_and_errors(device):
    empty = ttorch.sparse_coo_tensor(ttorch.zeros(2, 0, dtype=ttorch.int64), ttorch.zeros(0), (3, 4), device=device)
    out = ttorch.sparse.mm(empty, ttorch.ones(4, 2, device=device))
    assert out.shape == (3, 2) and not out.cpu().numpy().any()
    s = sp(device)
    with pytest.raises(RuntimeError, match="Expected dim 0 size 6, got 4"):
        ttorch.sparse.mm(s, ttorch.ones(4, 2, dtype=ttorch.float64, device=device))
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        ttorch.sparse.mm(s, ttorch.ones(6, 2, device=device))


def test_sparse_mm_gradients(device):
    rng = np.random.default_rng(1)
    d = rng.standard_normal((6, 3))
    g = rng.standard_normal((5, 3))
    dense_s = dense_of(IND, VAL, (5, 6))
    s = sp(device, requires_grad=True)
    x = ttorch.tensor(d, device=device, requires_grad=True)
    ttorch.sparse.mm(s, x).backward(ttorch.tensor(g, device=device))
    np.testing.assert_allclose(host(x.grad), dense_s.T @ g, rtol=1e-12)
    # the sparse operand's gradient: sparse, on its coalesced entries (PyTorch's sparse.mm)
    assert s.grad.is_sparse and s.grad._nnz() == 6
    np.testing.assert_allclose(host(s.grad), (g @ d.T) * (dense_s != 0), rtol=1e-12)
    # through ttorch.mm (and spmm, @) the gradient is dense: G @ D^T, as PyTorch's
    s2 = sp(device, requires_grad=True)
    ttorch.mm(s2, x.detach()).backward(ttorch.tensor(g, device=device))
    assert s2.grad.layout is ttorch.strided
    np.testing.assert_allclose(host(s2.grad), g @ d.T, rtol=1e-12)


def test_gradcheck_through_values_and_dense():
    x = ttorch.tensor(np.random.default_rng(2).standard_normal((6, 2)), requires_grad=True)
    v = ttorch.tensor(VAL, requires_grad=True)

    def f(v, x):
        s = ttorch.sparse_coo_tensor(ttorch.tensor(IND), v, (5, 6))
        return ttorch.sparse.mm(s, x).tanh() + (s * 2).to_dense()[:, :2] + ttorch.spmm(s.t().t(), x)
    assert gradcheck(f, (v, x))

    h = ttorch.tensor(np.random.default_rng(5).standard_normal((7, 3)), requires_grad=True)

    def sums(v, h):
        s = ttorch.sparse_coo_tensor(ttorch.tensor(IND), v, (5, 6))
        hyb = ttorch.sparse_coo_tensor(ttorch.tensor(IND), h, (5, 6, 3))     # 2 sparse dims, 1 dense
        return (ttorch.sparse.sum(s, 0).to_dense(), ttorch.sparse.sum(hyb, (1, 2)).to_dense(),
                ttorch.sparse.sum(hyb, (0, 1)), hyb.sum() * s.sum())
    assert gradcheck(sums, (v, h))


# ------------------------------------------------------------------------------------ embeddings and optimizers
def test_embedding_sparse_gradient(device):
    emb = ttorch.nn.Embedding(6, 3, sparse=True, padding_idx=2).to(device)
    idx = ttorch.tensor([[0, 2, 4], [4, 0, 5]], device=device)
    emb(idx).sum().backward()
    g = emb.weight.grad
    assert g.is_sparse and not g.is_coalesced() and g.shape == (6, 3)
    assert g._indices().cpu().tolist() == [[0, 4, 4, 0, 5]]     # lookup order, padding left out
    emb(idx).sum().backward()                                    # sparse + sparse accumulation
    want = np.zeros((6, 3))
    for r in (0, 4, 4, 0, 5):
        want[r] += 2
    np.testing.assert_allclose(host(emb.weight.grad), want)
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
        ttorch.nn.functional.embedding(idx, emb.weight, scale_grad_by_freq=True, sparse=True).sum().backward()


def _embedding_run(device, make_opt, steps=3, clip=None):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((7, 3))
    idx = [rng.integers(0, 7, size=(4,)) for _ in range(steps)]
    tgt = rng.standard_normal((steps, 4, 3))
    emb = ttorch.nn.Embedding(7, 3, sparse=True, _weight=ttorch.tensor(w0, device=device))
    opt = make_opt(emb.parameters())
    for i in range(steps):
        opt.zero_grad()
        ((emb(ttorch.tensor(idx[i], device=device)) - ttorch.tensor(tgt[i], device=device)) ** 2).sum().backward()
        if clip is not None:
            ttorch.nn.utils.clip_grad_norm_(emb.parameters(), clip)
        opt.step()
    return host(emb.weight), w0, idx, tgt


def _grads(w, idx, t):
    g = np.zeros_like(w)
    np.add.at(g, idx, 2 * (w[idx] - t))
    return g, np.unique(idx)


def test_sparse_adam_matches_pytorch_formula(device):
    lr, (b1, b2), eps = 0.05, (0.8, 0.9), 1e-8
    got, w, idx, tgt = _embedding_run(device, lambda p: ttorch.optim.SparseAdam(p, lr=lr, betas=(b1, b2), eps=eps))
    w, m, v = w.copy(), np.zeros_like(w), np.zeros_like(w)
    for t in range(1, 4):
        g, rows = _grads(w, idx[t - 1], tgt[t - 1])
        g = g[rows]
        dm, dv = (g - m[rows]) * (1 - b1), (g * g - v[rows]) * (1 - b2)
        numer, denom = dm + m[rows], np.sqrt(dv + v[rows]) + eps
        m[rows] += dm
        v[rows] += dv
        w[rows] += -(lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * (numer / denom)
    np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)


def test_sgd_and_adagrad_sparse_paths(device):
    got, w, idx, tgt = _embedding_run(device, lambda p: ttorch.optim.SGD(p, lr=0.1, momentum=0.9))
    w, buf = w.copy(), None
    for t in range(3):
        g, _ = _grads(w, idx[t], tgt[t])
        buf = g if buf is None else 0.9 * buf + g
        w -= 0.1 * buf
    np.testing.assert_allclose(got, w, rtol=1e-12)
    got, w, idx, tgt = _embedding_run(device, lambda p: ttorch.optim.Adagrad(p, lr=0.5, lr_decay=0.1))
    w, acc = w.copy(), np.zeros_like(w)
    for t in range(1, 4):
        g, rows = _grads(w, idx[t - 1], tgt[t - 1])
        acc[rows] += g[rows] ** 2
        w[rows] -= 0.5 / (1 + (t - 1) * 0.1) * g[rows] / (np.sqrt(acc[rows]) + 1e-10)
    np.testing.assert_allclose(got, w, rtol=1e-12)


def test_clip_grad_norm_with_sparse_gradient():
    got, w, idx, tgt = _embedding_run("cpu", lambda p: ttorch.optim.SGD(p, lr=0.1), steps=1, clip=1.0)
    g, _ = _grads(w, idx[0], tgt[0])
    np.testing.assert_allclose(got, w - 0.1 * g * min(1.0, 1.0 / (np.linalg.norm(g) + 1e-6)), rtol=1e-12)


def test_sparse_optimizer_errors():
    emb = ttorch.nn.Embedding(4, 2, sparse=True)
    emb(ttorch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients, please consider SparseAdam"):
        ttorch.optim.Adam(emb.parameters()).step()
    with pytest.raises(RuntimeError, match="add\\(sparse, dense\\) is not supported"):
        ttorch.optim.SGD(emb.parameters(), lr=0.1, weight_decay=0.1).step()
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        ttorch.optim.Adagrad(emb.parameters(), weight_decay=0.1).step()
    opt = ttorch.optim.SGD(emb.parameters(), lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert emb.weight.grad.is_sparse and emb.weight.grad._nnz() == 0
    dense = ttorch.nn.Embedding(4, 2)
    dense(ttorch.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider Adam"):
        ttorch.optim.SparseAdam(dense.parameters()).step()
    with pytest.raises(ValueError, match="Sparse params at indices \\[\\[0, 0\\]\\]: SparseAdam requires dense"):
        ttorch.optim.SparseAdam([ttorch.zeros(2).to_sparse().requires_grad_()])
    with pytest.raises(ValueError, match="Invalid learning rate: 0"):
        ttorch.optim.SparseAdam(dense.parameters(), lr=0)


def test_sparse_softmax(device):
    s = sp(device)
    ref = dense_of(IND, VAL, (5, 6))
    on = dense_of(IND, np.ones(7), (5, 6)) > 0              # the specified positions
    for dim in (0, 1):
        z = np.where(on, ref, -np.inf)
        e = np.exp(z - z.max(dim, keepdims=True))
        want = e / e.sum(dim, keepdims=True)
        got = ttorch.sparse.softmax(s, dim)
        assert got.is_sparse and got.is_coalesced() and got._nnz() == 6
        np.testing.assert_allclose(host(got), np.where(on, want, 0), rtol=1e-12)
        np.testing.assert_allclose(host(ttorch.sparse.log_softmax(s, dim)), np.where(on, np.log(want), 0),
                                   rtol=1e-12)


def test_sparse_softmax_gradcheck():
    v = ttorch.tensor(VAL, requires_grad=True)
    w = ttorch.tensor(np.random.default_rng(4).standard_normal((5, 6)))

    def f(v):
        s = ttorch.sparse_coo_tensor(ttorch.tensor(IND), v, (5, 6))
        return (ttorch.sparse.softmax(s, 1).to_dense() * w).sum() + ttorch.sparse.log_softmax(s, 0).to_dense() * w
    assert gradcheck(f, (v,))


def test_embedding_bag_sparse_gradient():
    w = np.random.default_rng(6).standard_normal((6, 3))
    x, off, gout = [0, 1, 4, 4, 2, 5, 1], [0, 3, 5], np.arange(9.0).reshape(3, 3)
    for mode in ("sum", "mean"):
        bag = ttorch.nn.EmbeddingBag(6, 3, mode=mode, sparse=True, padding_idx=1, _weight=ttorch.tensor(w))
        bag(ttorch.tensor(x), ttorch.tensor(off)).backward(ttorch.tensor(gout))
        g = bag.weight.grad
        assert g.is_sparse and g._indices().tolist() == [[0, 4, 4, 2, 5]]     # the lookups, padding left out
        scale = [1 / 2, 1 / 2, 1 / 2, 1 / 2, 1] if mode == "mean" else [1] * 5   # (real lookups: 2, 2, 1)
        want = gout[[0, 0, 1, 1, 2]] * np.array(scale)[:, None]
        np.testing.assert_allclose(g._values().numpy(), want)
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        ttorch.nn.functional.embedding_bag(ttorch.tensor(x), ttorch.tensor(w), ttorch.tensor(off), mode="max",
                                           sparse=True)
