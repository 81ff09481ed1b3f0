"""Strided nested tensors (``ttorch.nested.nested_tensor(list)``, PyTorch's default layout): construction,
ops on the flat buffer or per component, attention per component, autograd to the components.
References are NumPy per component (float64)."""
import pickle

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck

SHAPES = ((2, 4), (5, 4), (1, 4))


def comps(shapes=SHAPES, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal(s) for s in shapes]


def nt_of(arrays, device="cpu", dtype=ttorch.float64, **kw):
    return ttorch.nested.nested_tensor([ttorch.tensor(a, dtype=dtype) for a in arrays], device=device, **kw)


def host(t):
    return t.detach().cpu().numpy().astype(np.float64)


def same(nt, refs, tol=1e-9):
    got = nt.unbind()
    assert len(got) == len(refs)
    for g, e in zip(got, refs):
        assert tuple(g.shape) == e.shape
        np.testing.assert_allclose(host(g), e, rtol=tol, atol=tol)


def np_softmax(x, d):
    e = np.exp(x - x.max(d, keepdims=True))
    return e / e.sum(d, keepdims=True)


def np_layer_norm(x, w, b, eps=1e-5):
    m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


# ------------------------------------------------------------------------------------ the layout
def test_construction_and_metadata():
    a = comps(((2, 3), (4, 5)))
    nt = nt_of(a)
    assert nt.is_nested and nt.layout is ttorch.strided and nt.dim() == 3 and len(nt) == 2
    assert nt.size(0) == 2 and nt.numel() == 26 and nt.is_leaf and not nt.requires_grad and nt.is_contiguous()
    for d in (1, 2, -1):
        with pytest.raises(RuntimeError, match=f"Given dimension {d % 3} is irregular"):
            nt.size(d)
    with pytest.raises(IndexError, match="Dimension out of range"):
        nt.size(3)
    with pytest.raises(RuntimeError, match="doesn't support strides"):
        nt.stride()
    assert host(nt._nested_tensor_size()).tolist() == [[2, 3], [4, 5]]
    assert host(nt._nested_tensor_strides()).tolist() == [[3, 1], [5, 1]]
    assert host(nt._nested_tensor_storage_offsets()).tolist() == [0, 6]
    same(nt, a)
    np.testing.assert_allclose(host(nt[1]), a[1])
    np.testing.assert_allclose(host(nt[-1, 2]), a[1][2])
    assert [tuple(c.shape) for c in nt] == [(2, 3), (4, 5)]
    assert nt.tolist()[0] == a[0].tolist()
    # regular dims have a size; the repr lists the components as PyTorch prints them
    r = nt_of(comps(((2, 3), (4, 3))), dtype=ttorch.float32)
    assert r.size(-1) == 3 and r.size(2) == 3
    s = repr(nt_of([np.array([1.0, 2.0]), np.array([3.0])], dtype=ttorch.float32))
    assert s == "nested_tensor([\n  tensor([1., 2.]),\n  tensor([3.])\n])"
    # lists of numbers (dtype of the first), 0-dim components, empty lists, dtype/requires_grad
    ints = ttorch.nested.nested_tensor([[1, 2], [3.0]])
    assert ints.dtype is ttorch.int64 and ints.tolist() == [[1, 2], [3]]
    sc = ttorch.nested.nested_tensor([ttorch.tensor(1.0), ttorch.tensor(2.0)])
    assert sc.dim() == 1 and host(sc.to_padded_tensor(0.0)).tolist() == [1.0, 2.0]
    e = ttorch.nested.nested_tensor([])
    assert e.dim() == 1 and e.numel() == 0 and e.size(0) == 0 and repr(e) == "nested_tensor([\n\n])"
    g = ttorch.nested.nested_tensor([ttorch.ones(2)], dtype=ttorch.float64, requires_grad=True)
    assert g.dtype is ttorch.float64 and g.requires_grad and g.is_leaf and g[0].grad_fn is not None
    p = pickle.loads(pickle.dumps(g))
    assert p.requires_grad and p._sizes == ((2,),)


def test_construction_errors():
    with pytest.raises(RuntimeError, match="All Tensors given to nested_tensor must have the same dimension"):
        ttorch.nested.nested_tensor([ttorch.ones(2, 3), ttorch.ones(2)])
    with pytest.raises(TypeError, match="Only lists"):
        ttorch.nested.nested_tensor(ttorch.ones(2, 3))
    nt = nt_of(comps())
    with pytest.raises(NotImplementedError, match="slice"):
        nt[0:1]
    with pytest.raises(RuntimeError, match="unbound along dimension 0"):
        nt.unbind(1)
    with pytest.raises(RuntimeError, match="only dim=0 supported"):
        ttorch.nested.narrow(ttorch.ones(2, 3), 1, 0, 1)
    rows = ttorch.nested.narrow(ttorch.arange(30.0).reshape(3, 5, 2), 0, 1, 2)    # rows 1, 2 as components
    assert host(rows._nested_tensor_size()).tolist() == [[5, 2], [5, 2]] and host(rows[1])[0].tolist() == [20, 21]


def test_as_nested_tensor_keeps_history():
    a = [ttorch.tensor(x, requires_grad=True) for x in comps()]
    nt = ttorch.nested.as_nested_tensor(a)
    assert not nt.is_leaf and nt.grad_fn is not None
    w = comps(((3, 5, 4),), seed=3)[0]
    (nt.to_padded_tensor(0.0) * ttorch.tensor(w)).sum().backward()
    for i, (x, shp) in enumerate(zip(a, SHAPES)):
        np.testing.assert_allclose(host(x.grad), w[i, :shp[0]])
    dense = ttorch.nested.as_nested_tensor(ttorch.arange(12.0).reshape(2, 3, 2))
    assert host(dense._nested_tensor_size()).tolist() == [[3, 2], [3, 2]] and dense.size(1) == 3


# ------------------------------------------------------------------------------------ ops
def test_elementwise(device):
    a, b = comps(), comps(seed=1)
    x, y = nt_of(a, device), nt_of(b, device)
    same(x * y + 2.5 * x - 1, [p * q + 2.5 * p - 1 for p, q in zip(a, b)])
    same(F.relu(x), [np.maximum(p, 0) for p in a])
    same(x.tanh(), [np.tanh(p) for p in a])
    same(ttorch.where(x > 0, x, 0.0), [np.where(p > 0, p, 0) for p in a])
    same(x.masked_fill(x > 0, 3.0), [np.where(p > 0, 3.0, p) for p in a])
    assert (x > 0).dtype is ttorch.bool
    same(x + ttorch.tensor(2.0, dtype=ttorch.float64, device=device), [p + 2 for p in a])
    # dense operands: a row broadcast against every component, or one row per component
    v = np.arange(4.0)
    same(x * ttorch.tensor(v, device=device), [p * v for p in a])
    rows = np.arange(12.0).reshape(3, 1, 4)
    same(x - ttorch.tensor(rows, device=device), [p - rows[i] for i, p in enumerate(a)])
    with pytest.raises(RuntimeError, match="does not support broadcasting when given a NestedTensor"):
        x + nt_of(comps(((2, 4), (5, 4), (2, 4))), device)
    z = x.clone()
    z.mul_(2).add_(x)
    same(z, [3 * p for p in a])
    same(x, a)      # (clone: a copy)
    z.zero_()
    same(z, [0 * p for p in a])


def test_softmax_layer_norm_linear(device):
    a = comps()
    x = nt_of(a, device)
    same(x.softmax(-1), [np_softmax(p, -1) for p in a])
    same(F.log_softmax(x, 1), [np.log(np_softmax(p, 0)) for p in a])
    with pytest.raises(RuntimeError, match="Cannot apply softmax across nested dimension 0"):
        x.softmax(0)
    w, bias = np.linspace(0.5, 2, 4), np.linspace(-1, 1, 4)
    ln = F.layer_norm(x, (4,), ttorch.tensor(w, device=device), ttorch.tensor(bias, device=device))
    same(ln, [np_layer_norm(p, w, bias) for p in a])
    W, B = comps(((3, 4), (3,)), seed=2)
    lin = F.linear(x, ttorch.tensor(W, device=device), ttorch.tensor(B, device=device))
    same(lin, [p @ W.T + B for p in a])
    same(ttorch.nn.functional.dropout(x, 0.5, training=False), a)
    drop = F.dropout(x, 0.5)
    for g, p in zip(drop.unbind(), a):
        g = host(g)
        assert np.all((g == 0) | np.isclose(g, 2 * p))
    ragged_last = nt_of(comps(((2, 3), (2, 5))), device)
    same(ragged_last.softmax(-1), [np_softmax(p, -1) for p in comps(((2, 3), (2, 5)))])
    with pytest.raises(RuntimeError, match="irregular"):
        F.layer_norm(ragged_last, (3,))


def test_matmul_bmm_transpose(device):
    a = comps()
    x = nt_of(a, device)
    xt = x.transpose(1, 2)
    assert host(xt._nested_tensor_size()).tolist() == [[4, 2], [4, 5], [4, 1]]
    same(x @ xt, [p @ p.T for p in a])
    same(ttorch.bmm(xt, x), [p.T @ p for p in a])
    W = comps(((4, 3),), seed=4)[0]
    same(ttorch.matmul(x, ttorch.tensor(W, device=device)), [p @ W for p in a])
    with pytest.raises(RuntimeError, match="0-th nested matrices in batch cannot be multiplied"):
        ttorch.bmm(x, x)
    with pytest.raises(RuntimeError, match="Nested tensor dimension 0 cannot be transposed"):
        x.transpose(0, 1)
    two = comps(((2, 3), (4, 5)), seed=5)
    same(nt_of(two, device).transpose(1, 2) @ nt_of(two, device), [p.T @ p for p in two])


def test_reductions_views_padding(device):
    a = comps()
    x = nt_of(a, device)
    same(x.sum(-1, keepdim=True), [p.sum(-1, keepdims=True) for p in a])
    same(x.mean(-1), [p.mean(-1) for p in a])
    same(x.sum(1), [p.sum(0) for p in a])
    np.testing.assert_allclose(host(x.sum()), sum(p.sum() for p in a))
    with pytest.raises(RuntimeError, match="got dimension 0 instead"):
        x.sum(0)
    lo, hi = x.chunk(2, -1)
    same(hi, [p[:, 2:] for p in a])
    with pytest.raises(RuntimeError, match="only supported for the last dimension"):
        x.chunk(2, 1)
    same(x.split([1, 3], -1)[1], [p[:, 1:] for p in a])
    same(x.view(3, -1, 2, 2), [p.reshape(-1, 2, 2) for p in a])
    same(x.reshape(3, -1), [p.reshape(-1) for p in a])
    same(x.unsqueeze(1), [p[None] for p in a])
    same(x.unsqueeze(-1).squeeze(-1), a)
    with pytest.raises(RuntimeError, match="cannot change or infer the implicit batch dimension"):
        x.view(-1)
    pad = np.full((4, 6, 5), -1.0)
    for i, p in enumerate(a):
        pad[i, :p.shape[0], :4] = p
    np.testing.assert_allclose(host(ttorch.nested.to_padded_tensor(x, -1.0, (4, 6, 5))), pad)
    np.testing.assert_allclose(host(x.to_padded_tensor(-1.0)), pad[:3, :5, :4])
    with pytest.raises(RuntimeError, match="Truncation is not supported"):
        x.to_padded_tensor(0.0, (3, 4, 4))


def test_autograd_to_components(device):
    a = comps()
    x = nt_of(a, device, requires_grad=True)
    (x * x).sum(-1).to_padded_tensor(0.0).sum().backward()
    same(x.grad, [2 * p for p in a])
    x.grad = None
    (3 * x).backward(nt_of([np.ones_like(p) for p in a], device))    # a nested gradient
    same(x.grad, [3 + 0 * p for p in a])

    def f(p, q, w):
        nt = ttorch.nested.as_nested_tensor([p, q])
        h = F.layer_norm(F.linear(nt, w), (3,)).softmax(-1) @ w      # (B, L_i, 2)
        y = (h @ nt.transpose(1, 2)).softmax(-1)                        # (B, L_i, L_i): irregular last dim
        return ttorch.nested.to_padded_tensor(y.tanh(), 0.0)
    ins = [ttorch.tensor(v, requires_grad=True) for v in comps(((3, 2), (2, 2), (3, 2)), seed=6)]
    if device == "cpu":
        assert gradcheck(f, tuple(ins))
    else:       # the simulated device gives the cpu's gradients
        cuda = [t.detach().to(device).requires_grad_() for t in ins]
        f(*cuda).sum().backward()
        f(*ins).sum().backward()
        for c, t in zip(cuda, ins):
            np.testing.assert_allclose(host(c.grad), host(t.grad), atol=1e-9)


def test_attention_and_modules(device):
    shapes_q, shapes_k = ((2, 3, 4), (2, 5, 4)), ((2, 6, 4), (2, 2, 4))
    q, k, v = comps(shapes_q, 7), comps(shapes_k, 8), comps(shapes_k, 9)
    out = F.scaled_dot_product_attention(nt_of(q, device), nt_of(k, device), nt_of(v, device))
    same(out, [np_softmax(qi @ ki.transpose(0, 2, 1) / 2.0, -1) @ vi for qi, ki, vi in zip(q, k, v)])
    ttorch.manual_seed(0)
    mha = ttorch.nn.MultiheadAttention(4, 2, batch_first=True).double().to(device).eval()
    a = comps()
    x = nt_of(a, device)
    o, w = mha(x, x, x)
    assert tuple(w.shape) == (3, 5, 5) and host(w)[2, 1:].sum() == 0 and host(w)[2, :, 1:].sum() == 0
    for i, p in enumerate(a):
        t = ttorch.tensor(p[None], device=device)
        oi, wi = mha(t, t, t)
        np.testing.assert_allclose(host(o[i]), host(oi[0]), atol=1e-12)
        np.testing.assert_allclose(host(w[i, :p.shape[0], :p.shape[0]]), host(wi[0]), atol=1e-12)
    layer = ttorch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True).double().to(device).eval()
    y = layer(x)
    t = ttorch.tensor(a[1][None], device=device)
    np.testing.assert_allclose(host(y[1]), host(layer(t)[0]), atol=1e-12)
    with pytest.raises(AssertionError, match="batch_first was not True"):
        ttorch.nn.MultiheadAttention(4, 2).double().to(device)(x, x, x)


def test_devices_dtypes_copies(device):
    a = comps()
    x = nt_of(a, device, dtype=ttorch.float32)
    y = x.to(ttorch.float64)
    assert y.dtype is ttorch.float64 and y.device == x.device
    same(y, a, tol=1e-6)
    c = x.to("cpu")
    assert c.device.type == "cpu" and c._sizes == x._sizes
    d = x.detach()
    assert not d.requires_grad and d._values.data_ptr() == x._values.data_ptr()
    assert ttorch.zeros_like(x)._sizes == x._sizes and ttorch.randn_like(x).numel() == x.numel()
    ids = ttorch.nested.nested_tensor([ttorch.tensor([1, 2]), ttorch.tensor([3, 0, 1])], device=device)
    table = np.arange(12.0).reshape(4, 3)
    same(F.embedding(ids, ttorch.tensor(table, device=device)), [table[[1, 2]], table[[3, 0, 1]]])


def test_encoder_sparsity_fast_path():
    """Inference with a left-aligned padding mask runs on the unpadded sequences: padded rows come out 0,
    the others as the masked dense path gives them."""
    ttorch.manual_seed(0)
    layer = ttorch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True).double()
    enc = ttorch.nn.TransformerEncoder(layer, 2).eval()
    assert enc.use_nested_tensor
    with pytest.warns(UserWarning, match="batch_first was not True"):
        assert not ttorch.nn.TransformerEncoder(ttorch.nn.TransformerEncoderLayer(4, 2, 8), 1).use_nested_tensor
    src = ttorch.tensor(comps(((3, 5, 4),), seed=10)[0])
    mask = ttorch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] + [True] * 4])
    assert ttorch._nested_tensor_from_mask_left_aligned(src, mask.logical_not())
    with ttorch.no_grad():
        fast = host(enc(src, src_key_padding_mask=mask))
    slow = host(enc(src, src_key_padding_mask=mask))       # (grad enabled: the dense masked path)
    keep = ~host(mask).astype(bool)
    np.testing.assert_allclose(fast[keep], slow[keep], atol=1e-12)
    assert np.all(fast[~keep] == 0) and np.all(slow[~keep] != 0)
    nt = ttorch._nested_tensor_from_mask(src, mask.logical_not())
    assert host(nt._nested_tensor_size()).tolist() == [[5, 4], [3, 4], [1, 4]]


def test_attention_by_hand(device):
    """The nested-tensor tutorial's attention: linear, reshape with an inferred irregular dim, transpose,
    SDPA and back; each component as the dense computation on it alone."""
    r = np.random.default_rng(11)
    e, h = 4, 2
    w = [ttorch.tensor(r.standard_normal((e, e)), device=device) for _ in range(4)]

    def mha(x):
        n = x.size(0)
        q, k, v = (F.linear(x, m).reshape(n, -1, h, e // h).transpose(1, 2) for m in w[:3])
        return F.linear(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, -1, e), w[3])
    xs = comps(((3, e), (1, e)), seed=12)
    out = mha(nt_of(xs, device))
    same(out, [host(mha(ttorch.tensor(x[None], device=device)))[0] for x in xs])
