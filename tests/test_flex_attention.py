"""ttorch.nn.attention.flex_attention and .bias: BlockMask tables, the composite (cpu) against float64
NumPy, the fused kernels on the simulated cuda against cpu, fallbacks, errors."""
import warnings

import numpy as np
import pytest

import ttorch
import ttorch.nn.functional as F
from ttorch.nn.attention import flex_attention as fa
from ttorch.nn.attention import _flex_kernels as fk
from ttorch.nn.attention.bias import causal_lower_right, causal_upper_left, CausalVariant

HAS_CUDA = ttorch.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason="needs the (simulated) cuda device")


def _np_blocks(mask, QB, KB):
    """(partial, full) int (..., rows, cols) of a dense bool mask, by tiles."""
    *bh, L, S = mask.shape
    rq, rk = -(-L // QB), -(-S // KB)
    m = np.zeros(tuple(bh) + (rq * QB, rk * KB), bool)
    m[..., :L, :S] = mask
    s = m.reshape(tuple(bh) + (rq, QB, rk, KB)).sum((-3, -1))
    return ((s > 0) & (s < QB * KB)).astype(np.int32), (s == QB * KB).astype(np.int32)


def _ordered(dense):
    return dense.sum(-1), np.argsort(-dense, axis=-1, kind="stable")


def test_block_mask_tables_match_numpy():
    bm = fa.create_block_mask(lambda b, h, q, kv: q >= kv, None, None, 37, 45, device="cpu", BLOCK_SIZE=16)
    qi, ki = np.arange(37)[:, None], np.arange(45)[None, :]
    partial, full = _np_blocks((qi >= ki)[None, None], 16, 16)
    for (num, idx), dense in (((bm.kv_num_blocks, bm.kv_indices), partial),
                              ((bm.full_kv_num_blocks, bm.full_kv_indices), full),
                              ((bm.q_num_blocks, bm.q_indices), partial.swapaxes(-1, -2)),
                              ((bm.full_q_num_blocks, bm.full_q_indices), full.swapaxes(-1, -2))):
        n, i = _ordered(dense)
        assert num.dtype == ttorch.int32 and idx.dtype == ttorch.int32
        np.testing.assert_array_equal(num.numpy(), n)
        np.testing.assert_array_equal(idx.numpy(), i)
    assert bm.shape == (1, 1, 37, 45) and bm.BLOCK_SIZE == (16, 16) and bm.seq_lengths == (37, 45)
    np.testing.assert_array_equal(bm.to_dense().numpy(), partial | full)
    computed = (partial.sum() + full.sum()) * 256
    assert bm.sparsity() == pytest.approx(100 * (1 - computed / (37 * 45)))
    assert len(bm.as_tuple()) == 17 and len(bm.as_tuple(flatten=False)) == 15
    assert "mask_mod=<lambda>" in repr(bm) and str(bm).startswith("BlockMask(shape=(1, 1, 37, 45)")
    assert "██" in bm.to_string()


def test_block_mask_batch_heads_slicing_and_helpers():
    doc = ttorch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    bm = fa.create_block_mask(lambda b, h, q, kv: (doc[q] == doc[kv]) & (h <= b), 2, 3, 10, 10, device="cpu",
                              BLOCK_SIZE=4)
    assert bm.kv_num_blocks.shape == (2, 3, 3) and bm.kv_indices.shape == (2, 3, 3, 3)
    d = np.arange(10)
    want = (d[:, None] // 1 >= 0) & (np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])[:, None] ==
                                     np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])[None, :])
    dense = fa.create_mask(bm.mask_mod, 2, 3, 10, 10, device="cpu").numpy()
    for b in range(2):
        for h in range(3):
            np.testing.assert_array_equal(dense[b, h], want & (h <= b))
    s = bm[1]
    assert s.kv_num_blocks.shape == (1, 3, 3) and s.q_indices.shape == (1, 3, 3, 3) and s.shape == (1, 3, 10, 10)
    assert bm[0, 1:3].kv_indices.shape == (1, 2, 3, 3)
    with pytest.raises(RuntimeError, match="Cannot use mask_mod from a sliced BlockMask"):
        s.mask_mod(None, None, None, None)
    q = ttorch.randn(1, 3, 10, 4)
    with pytest.raises(RuntimeError, match="Cannot use mask_mod from a sliced BlockMask"):
        fa.flex_attention(q, q, q, block_mask=s)
    both = fa.and_masks(lambda b, h, q, kv: q >= kv, lambda b, h, q, kv: q - kv < 3)
    either = fa.or_masks(lambda b, h, q, kv: q == kv, lambda b, h, q, kv: kv == 0)
    np.testing.assert_array_equal(fa.create_mask(both, 1, 1, 5, 5, "cpu")[0, 0].numpy(),
                                  (d[:5, None] >= d[None, :5]) & (d[:5, None] - d[None, :5] < 3))
    np.testing.assert_array_equal(fa.create_mask(either, None, None, 4, 4, "cpu")[0, 0].numpy(),
                                  np.eye(4, dtype=bool) | (d[None, :4] == 0))
    assert fa.create_mask(fa.noop_mask, 1, 2, 3, 4, "cpu").numpy().all()
    with pytest.raises(RuntimeError, match="All inputs should be callable"):
        fa.and_masks(1)
    fb = fa.BlockMask.from_kv_blocks(ttorch.tensor([[[1, 2]]], dtype=ttorch.int32),
                                     ttorch.tensor([[[[0, 1], [1, 0]]]], dtype=ttorch.int32), BLOCK_SIZE=8)
    assert fb.seq_lengths == (16, 16) and fb.q_num_blocks.tolist() == [[[2, 1]]]
    adj = bm._adjust(6, 6)
    assert adj.shape == (2, 3, 6, 6) and adj.kv_indices.shape == (2, 3, 2, 2)


def _np_flex(q, k, v, scale, keep, mod=None):
    """float64 reference: (out, lse) with the fully masked rows' zeros and -inf."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    G = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, G, 1), np.repeat(v, G, 1)
    s = q @ k.swapaxes(-1, -2) * scale
    if mod is not None:
        B, H, L, S = s.shape
        s = mod(s, np.arange(B)[:, None, None, None], np.arange(H)[None, :, None, None],
                np.arange(L)[None, None, :, None], np.arange(S)[None, None, None, :])
    s = np.where(keep, s, -np.inf)
    m = s.max(-1, keepdims=True)
    dead = np.isneginf(m)
    e = np.exp(s - np.where(dead, 0, m))
    tot = e.sum(-1, keepdims=True)
    p = e / np.where(dead, 1, tot)
    lse = np.where(dead, -np.inf, np.log(np.where(dead, 1, tot)) + np.where(dead, 0, m))[..., 0]
    return p @ v, lse


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + len(shape) + sum(shape)).standard_normal(shape)


@pytest.mark.parametrize("dtype", [ttorch.float32, ttorch.float64])
def test_composite_matches_numpy(dtype):
    q, k, v = _rand(2, 4, 13, 8), _rand(2, 2, 11, 8), _rand(2, 2, 11, 5)
    bias = _rand(4)
    qi, ki = np.arange(13)[:, None], np.arange(11)[None, :]
    keep = (qi >= ki) & (qi < 10)                                       # rows 10.. fully masked
    bm = fa.create_block_mask(lambda b, h, q_, kv: (q_ >= kv) & (q_ < 10), None, None, 13, 11, device="cpu",
                              BLOCK_SIZE=4)
    tb = ttorch.tensor(bias, dtype=dtype)
    out, aux = fa.flex_attention(*(ttorch.tensor(a, dtype=dtype) for a in (q, k, v)),
                                 score_mod=lambda s, b, h, q_, kv: s + tb[h] * (kv - q_), block_mask=bm, scale=0.4,
                                 enable_gqa=True, return_aux=fa.AuxRequest(lse=True, max_scores=True))
    want, lse = _np_flex(q, k, v, 0.4, keep[None, None], lambda s, b, h, q_, kv: s + bias[h] * (kv - q_))
    tol = 1e-5 if dtype == ttorch.float32 else 1e-12
    assert out.dtype == dtype and aux.lse.dtype == dtype and out.shape == (2, 4, 13, 5)
    np.testing.assert_allclose(out.numpy(), want, atol=tol, rtol=tol)
    np.testing.assert_allclose(aux.lse.numpy(), lse, atol=tol, rtol=tol)
    assert (out.numpy()[:, :, 10:] == 0).all() and np.isneginf(aux.lse.numpy()[:, :, 10:]).all()
    assert aux.max_scores.shape == (2, 4, 13)


def test_composite_gradcheck_with_captured_bias():
    q, k, v = (ttorch.tensor(_rand(*s), dtype=ttorch.float64, requires_grad=True)
               for s in ((1, 2, 5, 3), (1, 1, 6, 3), (1, 1, 6, 2)))
    bias = ttorch.tensor(_rand(2), dtype=ttorch.float64, requires_grad=True)
    bm = fa.create_block_mask(lambda b, h, q_, kv: (kv <= q_ + 1) & (q_ != 2), None, None, 5, 6, device="cpu",
                              BLOCK_SIZE=2)

    def f(q, k, v, bias):
        out, aux = fa.flex_attention(q, k, v, lambda s, b, h, q_, kv: s * ttorch.sigmoid(bias[h]) - (q_ - kv) // 2,
                                     bm, enable_gqa=True, return_aux=fa.AuxRequest(lse=True))
        return out, ttorch.where(ttorch.isinf(aux.lse), 0.0, aux.lse)
    assert ttorch.autograd.gradcheck(f, (q, k, v, bias))


def _cases():
    doc = np.array([0] * 7 + [1] * 9 + [2] * 8)

    def np_doc(s, b, h, q, kv):
        return s

    return [
        ("causal", lambda d: (lambda b, h, q, kv: q >= kv), None, lambda q, kv: q >= kv, None),
        ("window_alibi", lambda d: (lambda b, h, q, kv: (q - kv).abs() < 6),
         lambda d: (lambda s, b, h, q, kv: s + d["bias"][h] * (kv - q)),
         lambda q, kv: np.abs(q - kv) < 6, lambda s, b, h, q, kv, bias: s + bias[h] * (kv - q)),
        ("document_floor", lambda d: (lambda b, h, q, kv: d["doc"][q] == d["doc"][kv]),
         lambda d: (lambda s, b, h, q, kv: ttorch.tanh(s) * 2 + (q - kv) // 3 % 4 * 0.1),
         lambda q, kv: doc[q] == doc[kv],
         lambda s, b, h, q, kv, bias: np.tanh(s) * 2 + np.floor_divide(q - kv, 3) % 4 * 0.1),
        ("dead_rows", lambda d: (lambda b, h, q, kv: (q < 14) & (kv <= q)), None,
         lambda q, kv: (q < 14) & (kv <= q), None),
    ]


@cuda_only
@pytest.mark.parametrize("case", range(4))
def test_cuda_kernels_match_cpu_and_numpy(case):
    name, mk_mask, mk_score, np_mask, np_score = _cases()[case]
    q, k, v = _rand(1, 2, 20, 16), _rand(1, 1, 24, 16), _rand(1, 1, 24, 8)
    g = _rand(1, 2, 20, 8, seed=1)
    bias = _rand(2)
    doc = np.array([0] * 7 + [1] * 9 + [2] * 8)
    res = {}
    n_fall, n_comp = fa._FALLBACKS[0], dict(fk._COMPOSITE_BACKWARD)
    for dev in ("cpu", "cuda"):
        d = {"bias": ttorch.tensor(bias, dtype=ttorch.float32, device=dev), "doc": ttorch.tensor(doc, device=dev)}
        bm = fa.create_block_mask(mk_mask(d), None, None, 20, 24, device=dev, BLOCK_SIZE=16)
        t = [ttorch.tensor(a, dtype=ttorch.float32, device=dev, requires_grad=True) for a in (q, k, v)]
        out, aux = fa.flex_attention(*t, score_mod=mk_score(d) if mk_score else None, block_mask=bm, enable_gqa=True,
                                     return_aux=fa.AuxRequest(lse=True))
        lse = aux.lse
        (out * ttorch.tensor(g, dtype=ttorch.float32, device=dev)).sum().backward()
        res[dev] = [out.detach().cpu().numpy(), lse.detach().cpu().numpy()] + [x.grad.cpu().numpy() for x in t]
    assert fa._FALLBACKS[0] == n_fall and fk._COMPOSITE_BACKWARD == n_comp     # the kernels ran
    keep = np_mask(np.arange(20)[:, None], np.arange(24)[None, :])[None, None]
    mod = (lambda s, b, h, q_, kv: np_score(s, b, h, q_, kv, bias)) if np_score else None
    want, lse = _np_flex(q, k, v, 0.25, keep, mod)
    np.testing.assert_allclose(res["cuda"][0], want, atol=2e-5)
    np.testing.assert_allclose(res["cuda"][1], lse, atol=2e-5)
    for a, b in zip(res["cpu"], res["cuda"]):
        np.testing.assert_allclose(a, b, atol=2e-5)


@cuda_only
def test_cuda_half_types_and_sparse_blocks():
    # a BlockMask from its tables (no mask_mod): the kernel visits only the listed blocks
    kvn = ttorch.tensor([[[1, 1]]], dtype=ttorch.int32, device="cuda")
    kvi = ttorch.tensor([[[[1, 0], [0, 1]]]], dtype=ttorch.int32, device="cuda")
    bm = fa.BlockMask.from_kv_blocks(kvn, kvi, BLOCK_SIZE=16, seq_lengths=(32, 32))
    q, k, v = _rand(1, 1, 32, 16), _rand(1, 1, 32, 16), _rand(1, 1, 32, 16)
    keep = np.zeros((32, 32), bool)
    keep[:16, 16:] = keep[16:, :16] = True
    want, _ = _np_flex(q, k, v, 0.25, keep)
    for dt, tol in ((ttorch.float16, 3e-3), (ttorch.bfloat16, 3e-2)):
        out = fa.flex_attention(*(ttorch.tensor(a, dtype=dt, device="cuda") for a in (q, k, v)), block_mask=bm)
        assert out.dtype == dt
        np.testing.assert_allclose(out.float().cpu().numpy(), want, atol=tol)


@cuda_only
def test_cuda_half_backward_kernels():
    q, k, v, g = _rand(1, 2, 20, 16), _rand(1, 2, 24, 16), _rand(1, 2, 24, 16), _rand(1, 2, 20, 16, seed=2)
    bias = ttorch.tensor([0.3, -0.2], device="cuda")
    n = dict(fk._COMPOSITE_BACKWARD)
    bm = fa.create_block_mask(lambda b, h, i, j: j <= i + 4, None, None, 20, 24, device="cuda", BLOCK_SIZE=16)
    t = [ttorch.tensor(a, dtype=ttorch.float16, device="cuda", requires_grad=True) for a in (q, k, v)]
    out = fa.flex_attention(*t, lambda s, b, h, i, j: s * 2.0 + bias[h], bm)
    (out.float() * ttorch.tensor(g, device="cuda")).sum().backward()
    assert fk._COMPOSITE_BACKWARD == n
    r = [ttorch.tensor(a, dtype=ttorch.float64, requires_grad=True) for a in (q, k, v)]
    bc = bias.cpu().double()
    ref = fa.flex_attention(*r, lambda s, b, h, i, j: s * 2.0 + bc[h], bm.to("cpu"))
    (ref * ttorch.tensor(g, dtype=ttorch.float64)).sum().backward()
    np.testing.assert_allclose(out.detach().float().cpu().numpy(), ref.detach().numpy(), atol=1e-2)
    for a, b in zip(t, r):
        assert a.grad.dtype == ttorch.float16
        np.testing.assert_allclose(a.grad.float().cpu().numpy(), b.grad.numpy(), atol=3e-2)


@cuda_only
def test_cuda_backward_kernels_give_captured_tensors_their_gradients():
    q, k, v, g = _rand(1, 2, 20, 16), _rand(1, 1, 18, 16), _rand(1, 1, 18, 8), _rand(1, 2, 20, 8, seed=3)
    vals = [_rand(), _rand(2), _rand(18), _rand(2, 41)]
    res = {}
    n = dict(fk._COMPOSITE_BACKWARD)
    for dev in ("cpu", "cuda"):
        t = [ttorch.tensor(a, dtype=ttorch.float32, device=dev, requires_grad=True) for a in [q, k, v] + vals]
        a, bias, rel, tab = t[3:]
        bm = fa.create_block_mask(lambda b, h, i, j: (j <= i + 2) & (bias[h] > -9), 1, 2, 20, 18, device=dev,
                                  BLOCK_SIZE=16)
        out = fa.flex_attention(*t[:3], lambda s, b, h, i, j: s * a + ttorch.tanh(bias[h]) * (i - j) * 0.1 + rel[j] +
                                tab[h, i - j + 20] * bias[h], bm, enable_gqa=True)
        (out * ttorch.tensor(g, device=dev)).sum().backward()
        res[dev] = [x.grad.cpu().numpy() for x in t]
    assert fk._COMPOSITE_BACKWARD == n                  # the kernels ran, scattering by atomics
    for x, y in zip(res["cpu"], res["cuda"]):
        np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)


@cuda_only
def test_cuda_fallbacks_are_counted_and_right():
    q = ttorch.tensor(_rand(1, 1, 16, 16), dtype=ttorch.float32, device="cuda")
    before = fa._FALLBACKS[0]
    # ttorch.bitwise_and is not one the tracer knows: the composite runs
    out = fa.flex_attention(q, q, q, block_mask=fa.create_block_mask(
        lambda b, h, i, j: ttorch.bitwise_and(i >= j, j >= 0), None, None, 16, 16, device="cuda", BLOCK_SIZE=16))
    assert fa._FALLBACKS[0] == before + 1 and fk._FALLBACK_REASONS["untraceable mod"] >= 1
    qi = np.arange(16)
    want, _ = _np_flex(q.cpu().numpy(), q.cpu().numpy(), q.cpu().numpy(), 0.25, qi[:, None] >= qi[None, :])
    np.testing.assert_allclose(out.cpu().numpy(), want, atol=2e-5)
    # a captured tensor that needs a gradient through an op without a derivative rule (a float %): the
    # kernel forward, the composite backward
    bias = ttorch.tensor([0.5], device="cuda", requires_grad=True)
    qg = q.detach().requires_grad_()
    n = fk._COMPOSITE_BACKWARD.get("captured tensor needs grad", 0)
    fa.flex_attention(qg, qg, qg, lambda s, b, h, i, j: s * (bias[h] % 2.0)).sum().backward()
    assert fk._COMPOSITE_BACKWARD["captured tensor needs grad"] == n + 1 and fa._FALLBACKS[0] == before + 1
    bc = bias.detach().cpu().requires_grad_()
    qc = q.detach().cpu().requires_grad_()
    fa.flex_attention(qc, qc, qc, lambda s, b, h, i, j: s * (bc[h] % 2.0)).sum().backward()
    np.testing.assert_allclose(bias.grad.cpu().numpy(), bc.grad.numpy(), atol=2e-5)
    np.testing.assert_allclose(qg.grad.cpu().numpy(), qc.grad.numpy(), atol=2e-5)
    # float32 past head dim 64: the kernel forward, the composite backward (no spill-free tile)
    wide = _rand(1, 1, 16, 72)
    n = fk._COMPOSITE_BACKWARD.get("float32 head dim > 64", 0)
    grads = []
    for dev in ("cuda", "cpu"):
        x = ttorch.tensor(wide, dtype=ttorch.float32, device=dev, requires_grad=True)
        (fa.flex_attention(x, x, x) ** 2).sum().backward()
        grads.append(x.grad.cpu().numpy())
    assert fk._COMPOSITE_BACKWARD["float32 head dim > 64"] == n + 1
    np.testing.assert_allclose(grads[0], grads[1], atol=2e-5)


def test_codegen_traces_to_triton_source():
    from ttorch.nn.attention._flex_codegen import trace_mod, Unsupported
    table = ttorch.arange(6.0)
    t = trace_mod(lambda s, b, h, q, kv: ttorch.where(q >= kv, s * table[h], -s) // 2, True, "cpu")
    src = "\n".join(line for _, line in t.lines)
    assert "tl.load(c0" in src and "tl.where" in src and "tl.floor" in src and t.caps == [table]
    assert t.result_d is not None       # floor's derivative is 0, a rule
    assert trace_mod(lambda s, b, h, q, kv: s % 3.0, True, "cpu").result_d is None    # no rule: the composite
    with pytest.raises(Unsupported):
        trace_mod(lambda b, h, q, kv: q > 3 if q else kv, False, "cpu")   # Python control flow on an index
    with pytest.raises(Unsupported):
        trace_mod(lambda b, h, q, kv: table[q:], False, "cpu")


def test_generated_kernels_cached_while_the_mods_read_the_same_objects():
    bias, width = ttorch.randn(3), 4

    def score(s, b, h, q, kv):
        return s + bias[h]

    mask = fa.and_masks(lambda b, h, q, kv: q >= kv, lambda b, h, q, kv: q - kv < width)
    g = fk.generate_cached(score, mask, "cpu")
    assert fk.generate_cached(score, mask, "cpu") is g and g["caps"] == [bias]
    bias = ttorch.randn(3)                      # a rebound capture: traced again
    g2 = fk.generate_cached(score, mask, "cpu")
    assert g2 is not g and g2["caps"][0] is bias
    width = 5                                   # a rebound Python constant inside and_masks' mods
    assert fk.generate_cached(score, mask, "cpu") is not g2


def test_errors_match_pytorch():
    q, k = ttorch.randn(1, 4, 8, 4), ttorch.randn(1, 3, 8, 4)
    with pytest.raises(ValueError, match=r"same number of heads but got Hq=4 and Hkv=3\. Try setting enable_gqa"):
        fa.flex_attention(q, k, k)
    with pytest.raises(ValueError, match="multiple of kv heads for GQA but got Hq=4 and Hkv=3"):
        fa.flex_attention(q, k, k, enable_gqa=True)
    with pytest.raises(ValueError, match="same embedding dimension but got E=4 and E=5"):
        fa.flex_attention(q, ttorch.randn(1, 4, 8, 5), ttorch.randn(1, 4, 8, 5))
    with pytest.raises(NotImplementedError, match="NYI: query, key, and value must be 4D tensors"):
        fa.flex_attention(q[0], q[0], q[0])
    bm = fa.create_block_mask(fa.noop_mask, 1, 1, 16, 16, device="cpu", BLOCK_SIZE=8)
    with pytest.raises(ValueError, match="created for a larger length"):
        fa.flex_attention(q, q, q, block_mask=bm)
    with pytest.raises(ValueError, match="Cannot specify both return_lse and return_aux"):
        fa.flex_attention(q, q, q, return_lse=True, return_aux=fa.AuxRequest(lse=True))
    with pytest.raises(AssertionError, match="create-block_mask requires a mask_mod function"):
        fa.create_block_mask(lambda s, b, h, i, j: s, 1, 1, 4, 4, device="cpu")
    with pytest.raises(AssertionError, match="Expected 4 or 5 positional args, got 3"):
        fa.create_block_mask(lambda b, h, i: i, 1, 1, 4, 4, device="cpu")
    with pytest.raises(ValueError, match="Invalid BACKEND value 'X'"):
        fa.flex_attention(q, q, q, kernel_options={"BACKEND": "X"})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fa._warned.discard("deprecated_return_lse")
        out, lse = fa.flex_attention(q, q, q, return_lse=True)
    assert any(issubclass(x.category, FutureWarning) for x in w) and lse.shape == (1, 4, 8)


def test_causal_bias_in_sdpa():
    q, k = _rand(1, 2, 3, 4), _rand(1, 2, 5, 4)
    i, j = np.arange(3)[:, None], np.arange(5)[None, :]
    for bias, keep in ((causal_upper_left(3, 5), j <= i), (causal_lower_right(3, 5), j <= i + 2)):
        out = F.scaled_dot_product_attention(ttorch.tensor(q), ttorch.tensor(k), ttorch.tensor(k), bias)
        want, _ = _np_flex(q, k, k, 0.5, keep)
        np.testing.assert_allclose(out.numpy(), want, atol=1e-5)
        np.testing.assert_array_equal(bias._materialize().numpy(), keep)
    assert int(CausalVariant.LOWER_RIGHT) == 2
    with pytest.raises(ValueError, match="CausalBias should not be used with causal=True"):
        F.scaled_dot_product_attention(ttorch.tensor(q), ttorch.tensor(k), ttorch.tensor(k), causal_upper_left(3, 5),
                                       is_causal=True)
    with pytest.warns(UserWarning, match="Lower right causal bias will produce NaNs"):
        causal_lower_right(5, 3)


def test_docstring_examples():
    import doctest
    import ttorch.nn.attention._block_mask as bmod
    import ttorch.nn.attention.bias as bias_mod
    for mod in (bmod, fa, bias_mod):
        res = doctest.testmod(mod, extraglobs={"ttorch": ttorch}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0, mod.__name__
