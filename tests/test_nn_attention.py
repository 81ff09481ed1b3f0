"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers against NumPy
re-implementations of PyTorch's formulas; gradients by gradcheck; cpu-vs-cuda parity."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F

from _helpers import to_np


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sdpa(q, k, v, bias=None, scale=None):
    """PyTorch's reference: softmax(q k^T * scale + bias) v, rows masked everywhere give 0."""
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if bias is not None:
        s = s + bias
    dead = np.all(s == -np.inf, axis=-1, keepdims=True)
    p = np_softmax(np.where(dead, 0.0, s))
    return np.where(dead, 0.0, p) @ v


def T(a, device, dtype=ttorch.float32):
    return ttorch.tensor(a, dtype=dtype, device=device)


def rnd(*shape):
    return np.random.randn(*shape)


# --------------------------------------------------------------------------------------- SDPA
def test_sdpa_no_mask_and_scale(device):
    q, k, v = rnd(2, 3, 4, 8), rnd(2, 3, 5, 8), rnd(2, 3, 5, 6)
    out = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device))
    np.testing.assert_allclose(to_np(out), np_sdpa(q, k, v), rtol=1e-5, atol=1e-5)
    out = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device), scale=0.7)
    np.testing.assert_allclose(to_np(out), np_sdpa(q, k, v, scale=0.7), rtol=1e-5, atol=1e-5)


def test_sdpa_bool_and_float_masks(device):
    q, k, v = rnd(2, 2, 3, 4), rnd(2, 2, 5, 4), rnd(2, 2, 5, 4)
    keep = np.random.rand(3, 5) > 0.4
    keep[1] = False  # a fully masked row: zeros, not NaN (PyTorch's safe softmax)
    out = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device),
                                         attn_mask=ttorch.tensor(keep, device=device))
    ref = np_sdpa(q, k, v, np.where(keep, 0.0, -np.inf))
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-5, atol=1e-5)
    assert np.all(to_np(out)[:, :, 1] == 0)
    bias = rnd(2, 1, 3, 5)  # broadcast over heads
    bias[0, 0, 2] = -np.inf
    out = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device), attn_mask=T(bias, device))
    np.testing.assert_allclose(to_np(out), np_sdpa(q, k, v, bias), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("L,S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_causal_top_left(device, L, S):
    q, k, v = rnd(1, 2, L, 4), rnd(1, 2, S, 4), rnd(1, 2, S, 3)
    out = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device), is_causal=True)
    bias = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf)
    np.testing.assert_allclose(to_np(out), np_sdpa(q, k, v, bias), rtol=1e-5, atol=1e-5)


def test_sdpa_gqa_and_unbatched(device):
    q, k, v = rnd(2, 4, 3, 4), rnd(2, 2, 5, 4), rnd(2, 2, 5, 4)
    out = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device), enable_gqa=True)
    ref = np_sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))  # repeat_interleave of heads
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="must divide the number of heads"):
        F.scaled_dot_product_attention(T(rnd(1, 3, 2, 4), device), T(k, device), T(v, device), enable_gqa=True)
    q2, k2, v2 = rnd(3, 4), rnd(5, 4), rnd(5, 6)
    out = F.scaled_dot_product_attention(T(q2, device), T(k2, device), T(v2, device))
    np.testing.assert_allclose(to_np(out), np_sdpa(q2, k2, v2), rtol=1e-5, atol=1e-5)


def test_sdpa_errors():
    q = ttorch.randn(1, 1, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ttorch.ones(3, 3, dtype=ttorch.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, q, q.double())
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ttorch.ones(3, 3, dtype=ttorch.long))


def test_sdpa_dropout_statistics():
    ttorch.manual_seed(0)
    # v = identity: the output rows are the (dropped, rescaled) attention weights themselves
    q = ttorch.zeros(1, 1, 64, 8)
    v = ttorch.eye(64).view(1, 1, 64, 64)
    k = ttorch.zeros(1, 1, 64, 8)
    out = to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=0.25))
    vals = np.unique(np.round(out, 6))
    np.testing.assert_allclose(vals, [0.0, round(1 / 64 / 0.75, 6)], rtol=1e-5)
    frac = (out == 0).mean()
    assert abs(frac - 0.25) < 0.03, frac  # 4096 draws: std 0.007
    assert np.array_equal(to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)), np.full((1, 1, 64, 64), 1 / 64,
                                                                                                 dtype=np.float32))


def test_sdpa_gradcheck():
    f64 = dict(dtype=ttorch.float64)
    q, k, v = (ttorch.randn(1, 2, 3, 4, **f64, requires_grad=True) for _ in range(3))
    bias = ttorch.randn(3, 3, **f64, requires_grad=True)
    keep = ttorch.tensor([[True, False, True], [False, False, False], [True, True, False]])
    assert ttorch.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), (q, k, v))
    assert ttorch.autograd.gradcheck(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
                                     (q, k, v, bias))
    # the fully masked row must not leak NaN into the gradients
    assert ttorch.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=keep),
                                     (q, k, v))
    assert ttorch.autograd.gradgradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c), (q, k, v))


def test_sdpa_cpu_cuda_parity():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    q, k, v = (ttorch.randn(1, 2, 3, 4, requires_grad=True) for _ in range(3))
    outs, grads = [], []
    for dev in ("cpu", "cuda"):
        qs = [t.detach().to(dev).requires_grad_() for t in (q, k, v)]
        out = F.scaled_dot_product_attention(*qs, is_causal=True)
        out.sum().backward()
        outs.append(to_np(out))
        grads.append([to_np(t.grad) for t in qs])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- MultiheadAttention
def np_mha(q, k, v, W, b, Wo, bo, h, kpm=None, mask=None):
    """PyTorch's MHA formula on (L, N, E) inputs; masks: True (or -inf) = not attended."""
    L, N, E = q.shape
    S = k.shape[0]
    d = E // h
    Wq, Wk, Wv = np.split(W, 3)
    bq, bk, bv = np.split(b, 3)
    Q = (q @ Wq.T + bq).reshape(L, N, h, d).transpose(1, 2, 0, 3)  # (N, h, L, d)
    K = (k @ Wk.T + bk).reshape(S, N, h, d).transpose(1, 2, 0, 3)
    V = (v @ Wv.T + bv).reshape(S, N, h, d).transpose(1, 2, 0, 3)
    s = Q @ K.transpose(0, 1, 3, 2) / math.sqrt(d)
    if mask is not None:
        s = s + (np.where(mask, -np.inf, 0.0) if mask.dtype == bool else mask)
    if kpm is not None:
        s = s + np.where(kpm, -np.inf, 0.0)[:, None, None, :]
    p = np_softmax(s)  # (N, h, L, S)
    o = (p @ V).transpose(2, 0, 1, 3).reshape(L, N, E) @ Wo.T + bo
    return o, p


def mha_params(m):
    return [to_np(t).astype(np.float64) for t in (m.in_proj_weight, m.in_proj_bias, m.out_proj.weight,
                                                  m.out_proj.bias)]


def test_mha_state_dict_and_init():
    m = nn.MultiheadAttention(8, 2)
    sd = m.state_dict()
    assert list(sd) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert sd["in_proj_weight"].shape == (24, 8) and sd["in_proj_bias"].shape == (24,)
    assert sd["out_proj.weight"].shape == (8, 8) and sd["out_proj.bias"].shape == (8,)
    assert np.all(to_np(m.in_proj_bias) == 0) and np.all(to_np(m.out_proj.bias) == 0)
    bound = math.sqrt(6 / (8 + 24))  # xavier_uniform_ of the (3E, E) matrix
    w = to_np(m.in_proj_weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(m.out_proj, nn.Linear)
    sep = nn.MultiheadAttention(8, 2, kdim=4, vdim=6, bias=False, add_bias_kv=True)
    assert [(n, tuple(p.shape)) for n, p in sep.named_parameters()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 4)), ("v_proj_weight", (8, 6)), ("bias_k", (1, 1, 8)),
        ("bias_v", (1, 1, 8)), ("out_proj.weight", (8, 8))]
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(6, 4)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_matches_numpy(device, batch_first):
    m = nn.MultiheadAttention(8, 2, batch_first=batch_first).to(device)
    with ttorch.no_grad():
        m.in_proj_bias.copy_(ttorch.randn(24))
        m.out_proj.bias.copy_(ttorch.randn(8))
    x, mem = rnd(3, 2, 8), rnd(5, 2, 8)  # (L, N, E)
    kpm = np.array([[False, False, True, False, True], [False] * 5])
    P = mha_params(m)
    tr = (lambda a: a.transpose(1, 0, 2)) if batch_first else (lambda a: a)
    X, M = T(tr(x), device), T(tr(mem), device)
    # self-attention, weights averaged over heads
    out, w = m(X, X, X)
    ref, p = np_mha(x, x, x, *P, 2)
    np.testing.assert_allclose(to_np(out), tr(ref), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(w), p.mean(1), rtol=1e-4, atol=1e-5)
    # cross-attention with a key padding mask, per-head weights
    out, w = m(X, M, M, key_padding_mask=ttorch.tensor(kpm, device=device), average_attn_weights=False)
    ref, p = np_mha(x, mem, mem, *P, 2, kpm=kpm)
    np.testing.assert_allclose(to_np(out), tr(ref), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(w), p, rtol=1e-4, atol=1e-5)
    # need_weights=False goes through SDPA; a float causal mask with the is_causal hint
    mask = nn.Transformer.generate_square_subsequent_mask(3, device=device)
    out, w = m(X, X, X, need_weights=False, attn_mask=mask, is_causal=True)
    ref, _ = np_mha(x, x, x, *P, 2, mask=to_np(mask).astype(np.float64))
    assert w is None
    np.testing.assert_allclose(to_np(out), tr(ref), rtol=1e-4, atol=1e-5)


def test_mha_unbatched_bool_mask_and_extras():
    m = nn.MultiheadAttention(4, 2)
    x = rnd(3, 4)
    mask = np.triu(np.ones((3, 3), dtype=bool), 1)  # True = not attended
    out, w = m(T(x, "cpu"), T(x, "cpu"), T(x, "cpu"), attn_mask=ttorch.tensor(mask))
    ref, p = np_mha(x[:, None], x[:, None], x[:, None], *mha_params(m), 2, mask=mask)
    np.testing.assert_allclose(to_np(out), ref[:, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(w), p.mean(1)[0], rtol=1e-4, atol=1e-5)
    # add_zero_attn appends a zero key/value: one more logit of 0 in every row
    z = nn.MultiheadAttention(4, 2, add_zero_attn=True, bias=False)
    out, w = z(T(x, "cpu"), T(x, "cpu"), T(x, "cpu"))
    assert w.shape == (3, 4)
    W = to_np(z.in_proj_weight).astype(np.float64)
    Q, K, V = (x @ Wi.T for Wi in np.split(W, 3))
    Q, K, V = (a.reshape(3, 2, 2).transpose(1, 0, 2) for a in (Q, K, V))
    K, V = (np.concatenate([a, np.zeros((2, 1, 2))], 1) for a in (K, V))
    p = np_softmax(Q @ K.transpose(0, 2, 1) / math.sqrt(2))
    ref = (p @ V).transpose(1, 0, 2).reshape(3, 4) @ to_np(z.out_proj.weight).T
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_np(w), p.mean(0), rtol=1e-4, atol=1e-5)


def test_mha_gradcheck_float64():
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    q = ttorch.randn(2, 1, 4, dtype=ttorch.float64, requires_grad=True)
    k = ttorch.randn(3, 1, 3, dtype=ttorch.float64, requires_grad=True)
    v = ttorch.randn(3, 1, 5, dtype=ttorch.float64, requires_grad=True)
    assert ttorch.autograd.gradcheck(lambda a, b, c: m(a, b, c)[0], (q, k, v))
    out, _ = m(q, k, v, need_weights=False)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


# --------------------------------------------------------------------------------- Transformer
def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_numpy(device, norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first).to(device).eval()
    with ttorch.no_grad():
        for p in layer.parameters():
            if p.dim() == 1:
                p.copy_(ttorch.randn(p.shape) * 0.5 + (1.0 if p is layer.norm1.weight else 0.0))
    g = {n: to_np(p).astype(np.float64) for n, p in layer.named_parameters()}
    x = rnd(3, 2, 8)
    mask = to_np(nn.Transformer.generate_square_subsequent_mask(3)).astype(np.float64)
    out = layer(T(x, device), src_mask=nn.Transformer.generate_square_subsequent_mask(3, device=device))
    P = [g["self_attn.in_proj_weight"], g["self_attn.in_proj_bias"], g["self_attn.out_proj.weight"],
         g["self_attn.out_proj.bias"]]
    sa = lambda a: np_mha(a, a, a, *P, 2, mask=mask)[0]  # noqa: E731
    ff = lambda a: np.maximum(a @ g["linear1.weight"].T + g["linear1.bias"], 0) @ g["linear2.weight"].T \
        + g["linear2.bias"]  # noqa: E731
    n1 = lambda a: np_layer_norm(a, g["norm1.weight"], g["norm1.bias"])  # noqa: E731
    n2 = lambda a: np_layer_norm(a, g["norm2.weight"], g["norm2.bias"])  # noqa: E731
    if norm_first:
        h = x + sa(n1(x))
        ref = h + ff(n2(h))
    else:
        h = n1(x + sa(x))
        ref = n2(h + ff(h))
    np.testing.assert_allclose(to_np(out), ref, rtol=1e-4, atol=1e-4)


def test_encoder_stack_state_dict_and_clones():
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(8))
    keys = list(enc.state_dict())
    assert keys[:4] == ["layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias",
                        "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias"]
    assert "layers.1.norm2.bias" in keys and keys[-2:] == ["norm.weight", "norm.bias"]
    assert len(keys) == 2 * 12 + 2
    # deep copies: equal values, distinct storage
    w0, w1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert ttorch.equal(w0, w1) and w0 is not w1 and w0 is not layer.linear1.weight
    enc.eval()
    x = ttorch.randn(2, 3, 8)
    y = enc(x)
    assert y.shape == (2, 3, 8)
    # a causal float mask is detected; the bool form of the same mask gives the same values
    fm = nn.Transformer.generate_square_subsequent_mask(3)
    bm = ttorch.ones(3, 3, dtype=ttorch.bool).triu(1)
    np.testing.assert_allclose(to_np(enc(x, mask=fm)), to_np(enc(x, mask=bm)), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_decoder_and_transformer():
    ttorch.manual_seed(0)
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16,
                           dropout=0.0)
    keys = list(model.state_dict())
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in keys and "decoder.norm.weight" in keys
    assert "encoder.layers.0.self_attn.out_proj.weight" in keys
    src, tgt = ttorch.randn(5, 2, 8), ttorch.randn(4, 2, 8)
    mask = model.generate_square_subsequent_mask(4)
    assert np.array_equal(to_np(mask), np.triu(np.full((4, 4), -np.inf, dtype=np.float32), 1))
    out = model(src, tgt, tgt_mask=mask)
    assert out.shape == (4, 2, 8)
    # the decoder is causal: the first target positions ignore later ones
    tgt2 = tgt.clone()
    tgt2[3] = ttorch.randn(2, 8)
    out2 = model(src, tgt2, tgt_mask=mask)
    np.testing.assert_allclose(to_np(out[:3]), to_np(out2[:3]), rtol=1e-5, atol=1e-5)
    # the layer by hand: decoder = norm(layer(tgt, encoder(src)))
    mem = model.encoder(src)
    dl = model.decoder.layers[0]
    ref = model.decoder.norm(dl(tgt, mem, tgt_mask=mask))
    np.testing.assert_allclose(to_np(out), to_np(ref), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(src, ttorch.randn(4, 3, 8))
    out.sum().backward()
    assert model.encoder.layers[0].self_attn.in_proj_weight.grad is not None


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="needs the cuda device")
def test_mha_training_dropout_runs_the_fused_op_on_cuda(monkeypatch):
    """A Transformer layer training with dropout (PyTorch's default 0.1) keeps the fused attention on
    cuda, the dropout drawn inside its kernels; eval passes no dropout."""
    from ttorch.nn.functional import attention as FA
    seen = []
    real = FA.flash_attention
    monkeypatch.setattr(FA, "flash_attention", lambda *a, **k: seen.append(k["dropout_p"]) or real(*a, **k))
    layer = ttorch.nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True).to("cuda")
    x = ttorch.randn(2, 5, 16, device="cuda")
    layer(x).sum().backward()
    assert seen == [0.1] and layer.self_attn.in_proj_weight.grad is not None
    layer.eval()
    with ttorch.no_grad():
        a, b = layer(x), layer(x)
    assert seen == [0.1, 0.0, 0.0] and ttorch.equal(a, b)
