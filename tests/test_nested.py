"""Jagged nested tensors (``ttorch/nested``): construction, ops on the packed values, attention per sequence,
autograd to the components. References are NumPy per sequence (float64) or padding and masking."""
import pickle

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

LENS = (2, 5, 1)


def comps(*rest, lens=LENS, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal((n,) + rest) for n in lens]


def nt_of(arrays, device="cpu", dtype=ttorch.float64, **kw):
    return ttorch.nested.nested_tensor([ttorch.tensor(a, dtype=dtype) for a in arrays], layout=ttorch.jagged,
                                       device=device, **kw)


def host(t):
    return t.detach().cpu().numpy().astype(np.float64)


def same(nt, refs, tol=1e-9):
    got = nt.unbind()
    assert len(got) == len(refs)
    for g, e in zip(got, refs):
        np.testing.assert_allclose(host(g), e, rtol=tol, atol=tol)


# ------------------------------------------------------------------------------------ the layout
def test_construction_and_metadata():
    a = comps(4)
    nt = nt_of(a)
    j = nt.shape[1]
    assert nt.is_nested and not ttorch.ones(2).is_nested and nt.layout is ttorch.jagged
    assert repr(nt.shape) == f"ttorch.Size([3, {j}, 4])" and repr(j).startswith("j")
    assert nt.dim() == 3 and nt.size(1) is j and nt.size(-1) == 4 and nt.numel() == 8 * 4 and len(nt) == 3
    assert host(nt.offsets()).tolist() == [0, 2, 7, 8] and nt.lengths() is None and nt.values().shape == (8, 4)
    assert nt.is_leaf and not nt.requires_grad and nt.is_contiguous()
    assert repr(nt) == f"NestedTensor(size=(3, {j}, 4), offsets=tensor([0, 2, 7, 8]), contiguous=True)"
    same(nt, a)
    other = nt_of(a)
    assert other.shape[1] != j                              # new offsets: a new ragged size
    assert ttorch.nested.nested_tensor_from_jagged(other.values(), nt.offsets()).shape[1] is j
    # the ragged dim is the one where the components differ
    b = ttorch.nested.nested_tensor([ttorch.ones(2, 3), ttorch.ones(2, 5)], layout=ttorch.jagged)
    assert b._ragged_idx == 2 and [tuple(c.shape) for c in b.unbind()] == [(2, 3), (2, 5)]
    assert pickle.loads(pickle.dumps(nt)).unbind()[1].tolist() == nt.unbind()[1].tolist()


def test_construction_errors():
    with pytest.raises(RuntimeError, match="empty tensor list"):
        ttorch.nested.nested_tensor([], layout=ttorch.jagged)
    with pytest.raises(RuntimeError, match="zero-dim"):
        ttorch.nested.nested_tensor([ttorch.tensor(1.0)], layout=ttorch.jagged)
    with pytest.raises(RuntimeError, match="same dim"):
        ttorch.nested.nested_tensor([ttorch.ones(2, 3), ttorch.ones(2)], layout=ttorch.jagged)
    with pytest.raises(RuntimeError, match="unsupported for nested tensors"):
        ttorch.nested.nested_tensor([ttorch.ones(2)], layout=ttorch.sparse_coo)
    assert ttorch.nested.nested_tensor([ttorch.ones(2)]).layout is ttorch.strided   # the default (test_nested_strided)
    with pytest.raises(RuntimeError, match="At least one of offsets or lengths"):
        ttorch.nested.nested_tensor_from_jagged(ttorch.ones(3, 2))
    with pytest.raises(ValueError, match="jagged_dim >=1"):
        ttorch.nested.nested_tensor_from_jagged(ttorch.ones(3, 2), ttorch.tensor([0, 3]), jagged_dim=0)


def test_from_jagged_narrow_masked_select():
    v = ttorch.arange(10.0).reshape(5, 2)
    nt = ttorch.nested.nested_tensor_from_jagged(v, lengths=ttorch.tensor([2, 3]))
    assert host(nt.offsets()).tolist() == [0, 2, 5] and nt.unbind()[1].tolist() == [[4, 5], [6, 7], [8, 9]]
    holes = ttorch.nested.nested_tensor_from_jagged(v, ttorch.tensor([0, 2, 5]), lengths=ttorch.tensor([1, 2]))
    assert not holes.is_contiguous() and [c.tolist() for c in holes.unbind()] == [[[0, 1]], [[4, 5], [6, 7]]]
    with pytest.raises(RuntimeError, match="holes"):
        ttorch.nested.to_padded_tensor(holes, 0.0)
    assert [c.tolist() for c in holes.contiguous().unbind()] == [[[0, 1]], [[4, 5], [6, 7]]]
    d = np.arange(24.0).reshape(2, 6, 2)
    n = ttorch.nested.narrow(ttorch.tensor(d), 1, ttorch.tensor([0, 1]), ttorch.tensor([2, 3]), layout=ttorch.jagged)
    same(n, [d[0, 0:2], d[1, 1:4]])
    assert host(n.offsets()).tolist() == [0, 7, 10] and host(n.lengths()).tolist() == [2, 3]
    with pytest.raises(RuntimeError, match="only supports dim=1"):
        ttorch.nested.narrow(ttorch.tensor(d), 2, 0, 1, layout=ttorch.jagged)
    x = np.arange(6.0).reshape(2, 3)
    m = np.array([[True, False, True], [False, True, True]])
    ms = ttorch.nested.masked_select(ttorch.tensor(x), ttorch.tensor(m))
    same(ms, [x[0][m[0]], x[1][m[1]]])
    with pytest.raises(RuntimeError, match="BoolTensor"):
        ttorch.nested.masked_select(ttorch.tensor(x), ttorch.ones(2, 3))


# ------------------------------------------------------------------------------------ ops
def test_elementwise_and_broadcast(device):
    a = comps(4)
    nt = nt_of(a, device)
    w, per = np.linspace(-1, 1, 4), np.arange(3.0).reshape(3, 1, 1)
    same(nt * 2 + ttorch.sin(nt), [x * 2 + np.sin(x) for x in a])
    same(F.gelu(nt) - nt.exp(), [0.5 * x * (1 + _erf(x / np.sqrt(2))) - np.exp(x) for x in a], 1e-7)
    same(nt + ttorch.tensor(w, device=device), [x + w for x in a])
    same(ttorch.tensor(per, device=device) - nt, [p - x for p, x in zip(per, a)])     # per component
    same(nt * nt.clamp(0, 1), [x * np.clip(x, 0, 1) for x in a])
    assert (nt > 0).dtype is ttorch.bool and nt.to(ttorch.float32).dtype is ttorch.float32
    y = nt.clone()
    y += 1
    y.relu_()
    same(y, [np.maximum(x + 1, 0) for x in a])
    with pytest.raises(RuntimeError, match="cannot call binary pointwise function add"):
        nt + nt_of(a, device)                               # same lengths, other offsets: another j
    with pytest.raises(RuntimeError, match="cannot call binary pointwise function"):
        nt + ttorch.ones(8, 4, device=device)


def _erf(x):
    from math import erf
    return np.vectorize(erf)(x)


def test_linear_norms_softmax(device):
    a = comps(4)
    nt = nt_of(a, device)
    r = np.random.default_rng(1)
    w, b = r.standard_normal((3, 4)), r.standard_normal(3)
    tw, tb = ttorch.tensor(w, device=device), ttorch.tensor(b, device=device)
    same(F.linear(nt, tw, tb), [x @ w.T + b for x in a], 1e-7)
    same(nt @ tw.t(), [x @ w.T for x in a], 1e-7)
    ln = [(x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) for x in a]
    same(F.layer_norm(nt, (4,)), ln, 1e-7)
    same(F.rms_norm(nt, (4,), eps=1e-6), [x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) for x in a], 1e-7)
    same(nt.softmax(-1), [np.exp(x) / np.exp(x).sum(-1, keepdims=True) for x in a], 1e-7)
    same(F.softmax(nt, 1), [np.exp(x) / np.exp(x).sum(0, keepdims=True) for x in a], 1e-7)    # over each sequence
    with pytest.raises(RuntimeError, match="across the batch dimension"):
        nt.softmax(0)
    with pytest.raises(NotImplementedError, match="aten"):
        ttorch.cumsum(nt, -1)


def test_more_ops(device):
    a = comps(4)
    nt = nt_of(a, device)
    same(ttorch.where(nt > 0, nt, 0.0), [np.where(x > 0, x, 0) for x in a])
    same(nt.masked_fill(nt < 0, -1.0), [np.where(x < 0, -1, x) for x in a])
    same(ttorch.cat([nt, nt * 2], -1), [np.concatenate([x, 2 * x], -1) for x in a])
    same(nt.chunk(2, -1)[1], [x[:, 2:] for x in a])
    same(nt.argmax(-1), [x.argmax(-1) for x in a], 0)
    same(nt.max(-1).values, [x.max(-1) for x in a])
    m = np.random.default_rng(3).standard_normal((3, 4, 2))
    same(nt @ ttorch.tensor(m, device=device), [x @ mi for x, mi in zip(a, m)], 1e-7)     # a matrix per component
    y = nt.clone()
    assert F.silu(y, inplace=True) is y
    same(y, [x / (1 + np.exp(-x)) for x in a], 1e-7)
    tok = ttorch.nested.nested_tensor([ttorch.tensor([1, 2, 0]), ttorch.tensor([3])], layout=ttorch.jagged,
                                      device=device)
    emb = np.arange(12.0).reshape(4, 3)
    same(F.embedding(tok, ttorch.tensor(emb, device=device)), [emb[[1, 2, 0]], emb[[3]]])
    moved = nt.to("cpu").double()
    assert moved.device.type == "cpu" and host(moved.offsets()).tolist() == [0, 2, 7, 8]


def test_reductions(device):
    a = comps(4)
    nt = nt_of(a, device)
    np.testing.assert_allclose(host(nt.sum()), sum(x.sum() for x in a))
    np.testing.assert_allclose(host(nt.mean((0, 1))), np.concatenate(a).mean(0))
    np.testing.assert_allclose(host(nt.sum(1)), np.stack([x.sum(0) for x in a]))
    same(nt.amax(-1), [x.max(-1) for x in a])
    assert nt.sum(-1).shape[1] is nt.shape[1]
    with pytest.raises(RuntimeError, match="batch dimension but not the ragged"):
        nt.sum(0)
    with pytest.raises(RuntimeError, match="ragged and non-batch"):
        nt.mean((1, 2))


def test_transpose_view_padding(device):
    a = comps(3, 4)                                          # (B, j, 3, 4)
    nt = nt_of(a, device)
    t = nt.transpose(1, 2)                                   # (B, 3, j, 4)
    assert t.shape[2] is nt.shape[1] and t.values().shape == (3, 8, 4) and not t.is_contiguous()
    same(t, [x.transpose(1, 0, 2) for x in a])
    same(nt.view(3, -1, 12), [x.reshape(-1, 12) for x in a])
    same(nt.unsqueeze(-1).squeeze(-1), a)
    same(nt.flatten(-2), [x.reshape(-1, 12) for x in a])
    same(nt.flatten(-2).unflatten(-1, (3, 4)) * ttorch.ones_like(nt), a)
    z = ttorch.zeros_like(nt, dtype=ttorch.int64)
    assert z.dtype is ttorch.int64 and z.shape[1] is nt.shape[1] and host(z.values()).sum() == 0
    with pytest.raises(RuntimeError, match="ragged dim"):
        nt.flatten(1)
    with pytest.raises(RuntimeError, match="ragged_idx != 1"):
        t.view(3, 3, -1, 2, 2)
    with pytest.raises(ValueError, match="batch dimension"):
        nt.transpose(0, 1)
    p = ttorch.nested.to_padded_tensor(nt, -1.0)
    ref = np.full((3, 5, 3, 4), -1.0)
    for i, x in enumerate(a):
        ref[i, :len(x)] = x
    np.testing.assert_array_equal(host(p), ref)
    np.testing.assert_array_equal(host(t.to_padded_tensor(-1.0)), ref.transpose(0, 2, 1, 3))
    assert ttorch.nested.to_padded_tensor(nt, 0.0, (3, 7, 3, 4)).shape == (3, 7, 3, 4)


def _attention_ref(q, k, v, causal):
    """Padding and masking: all sequences padded to the longest, padded keys masked out."""
    n = max(len(x) for x in q)
    out = []
    for qi, ki, vi in zip(q, k, v):                          # (L, H, D) each
        L = len(qi)
        pad = [np.concatenate([x, np.zeros((n - L,) + x.shape[1:])]).transpose(1, 0, 2) for x in (qi, ki, vi)]
        s = pad[0] @ pad[1].transpose(0, 2, 1) / np.sqrt(qi.shape[-1])     # (H, n, n)
        keep = np.arange(n)[None, :] < L
        if causal:
            keep = keep & (np.arange(n)[None, :] <= np.arange(n)[:, None])
        s = np.where(keep, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        out.append((p / p.sum(-1, keepdims=True) @ pad[2])[:, :L])          # (H, L, D)
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_per_sequence(device, causal):
    q, k, v = (comps(2, 4, lens=(3, 1, 4), seed=s) for s in (1, 2, 3))     # (L, H=2, D=4)
    qn, kn, vn = (nt_of(x, device, ttorch.float32).transpose(1, 2) for x in (q, k, v))
    out = F.scaled_dot_product_attention(qn, kn, vn, is_causal=causal)       # (B, H, j, D)
    assert out.shape[2] is qn.shape[2] and out.is_nested
    same(out, _attention_ref(q, k, v, causal), 2e-5)
    mha = out.transpose(1, 2).reshape(3, -1, 8)              # heads merged, as a transformer block does
    assert mha.values().shape == (8, 8)
    with pytest.raises(ValueError, match="to be nested tensors"):
        F.scaled_dot_product_attention(qn, ttorch.ones(3, 2, 4, 4, device=device), vn)


def test_sdpa_cross_attention(device):
    q = comps(2, 4, lens=(3, 1), seed=4)
    k, v = (comps(2, 4, lens=(2, 5), seed=s) for s in (5, 6))             # other lengths than the queries
    qn = nt_of(q, device, ttorch.float32).transpose(1, 2)
    kn = nt_of(k, device, ttorch.float32)
    vn = ttorch.nested.nested_tensor_from_jagged(ttorch.tensor(np.concatenate(v), dtype=ttorch.float32, device=device),
                                                 kn.offsets())
    out = F.scaled_dot_product_attention(qn, kn.transpose(1, 2), vn.transpose(1, 2), scale=0.3)
    ref = []
    for qi, ki, vi in zip(q, k, v):
        s = np.einsum("lhd,shd->hls", qi, ki) * 0.3
        p = np.exp(s - s.max(-1, keepdims=True))
        ref.append(np.einsum("hls,shd->hld", p / p.sum(-1, keepdims=True), vi))
    same(out, ref, 2e-5)


def test_dropout(device):
    nt = nt_of(comps(4), device, ttorch.float32)
    assert F.dropout(nt, 0.5, training=False) is nt
    d = F.dropout(nt, 0.5)
    for x, y in zip(nt.unbind(), d.unbind()):
        x, y = host(x), host(y)
        assert np.all((y == 0) | np.isclose(y, 2 * x, rtol=1e-6))


# ------------------------------------------------------------------------------------ autograd
def _block(x0, x1, w):
    """A transformer-like block on a jagged batch: norm, projection, causal attention, padded output."""
    nt = ttorch.nested.as_nested_tensor([x0, x1], layout=ttorch.jagged)                  # (B, j, 2, 4)
    h = F.layer_norm(nt.view(2, -1, 8), (8,))
    h = F.linear(h, w).view(2, -1, 2, 4).transpose(1, 2)                                 # (B, H, j, D)
    o = F.scaled_dot_product_attention(h, h, h, is_causal=True)
    return ttorch.nested.to_padded_tensor(o.softmax(-1) * 3, 0.0)


def _block_inputs(device):
    a = [ttorch.tensor(x, device=device, requires_grad=True) for x in comps(2, 4, lens=(2, 3))]
    w = ttorch.tensor(np.random.default_rng(5).standard_normal((8, 8)), device=device, requires_grad=True)
    return (*a, w)


def test_gradients_reach_components():
    assert gradcheck(_block, _block_inputs("cpu"), eps=1e-6, atol=1e-5)


def test_gradients_cuda_match_cpu():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    grads = []
    for device in ("cpu", "cuda"):
        ins = _block_inputs(device)
        g = ttorch.tensor(np.random.default_rng(6).standard_normal((2, 2, 3, 4)), device=device)
        _block(*ins).backward(g)
        grads.append([host(t.grad) for t in ins])
    for c, d in zip(*grads):
        np.testing.assert_allclose(d, c, rtol=1e-9, atol=1e-9)


def test_leaf_and_from_jagged_gradients(device):
    nt = nt_of(comps(3), device, requires_grad=True)
    assert nt.is_leaf and nt.requires_grad
    (nt * nt).sum().backward()
    assert nt.grad.is_nested and nt.grad.shape[1] is nt.shape[1]
    same(nt.grad, [2 * host(x) for x in nt.unbind()])
    v = ttorch.tensor(np.random.default_rng(2).standard_normal((5, 3)), device=device, requires_grad=True)
    off = ttorch.tensor([0, 2, 5], device=device)
    f = lambda v: ttorch.nested.to_padded_tensor(   # noqa: E731
        F.rms_norm(ttorch.nested.nested_tensor_from_jagged(v, off), (3,)).sum(-1, keepdim=True).tanh(), 0.5)
    assert gradcheck(f, (v,))
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (nt * 2).backward()


def test_docstring_examples():
    import doctest
    res = doctest.testmod(ttorch.nested, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def test_random_like():
    nt = ttorch.nested.nested_tensor([ttorch.ones(2, 3), ttorch.ones(4, 3)], layout=ttorch.jagged)
    for r in (ttorch.rand_like(nt), ttorch.randn_like(nt), ttorch.randint_like(nt, 5)):
        assert r.is_nested and r.shape == nt.shape and r._offsets is nt._offsets     # (the same ragged size j)
        assert [tuple(c.shape) for c in r.unbind()] == [(2, 3), (4, 3)]
    u = ttorch.rand_like(nt)._values
    assert float(u.min()) >= 0 and float(u.max()) < 1
