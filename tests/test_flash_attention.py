"""The fused flash-attention op behind ``F.scaled_dot_product_attention``: outputs and gradients
against a float64 NumPy re-implementation of PyTorch's formula on both devices, masks (bool,
float, broadcast, fully masked rows), grouped-query attention, half types, strided inputs, and
double backward through the composite formula (gradgradcheck)."""
import math

import numpy as np
import pytest
import triton
import triton.language as tl

import ttorch
import ttorch.nn.functional as F
from ttorch.ops.attention import flash_attention, _flash_attention_backward
from ttorch.ops._attention_kernels import _lpt

from _helpers import to_np


@triton.jit
def _lpt_order_kernel(out_ptr):
    # each program's (rank, head) in a causal attention grid, at its place in the order the GPU starts
    # programs, x fastest (test_longest_first_order_by_sections)
    rank, head = _lpt()
    at = tl.program_id(0) + tl.num_programs(0) * (tl.program_id(1) + tl.num_programs(1) * tl.program_id(2))
    tl.store(out_ptr + 2 * at, rank)
    tl.store(out_ptr + 2 * at + 1, head)

HAS_CUDA = ttorch.cuda.is_available()
FLASH = "FlashAttentionBackward0"


def ref(q, k, v, mask=None, causal=False, scale=None, g=None, drop=None):
    """PyTorch's math in float64: output and, given the output gradient ``g``, (dq, dk, dv).
    GQA repeats each key/value head; a row masked everywhere gives zeros (safe softmax). ``drop``:
    dropout's keep / (1 - p) per (B, H, L, S) pair: O = (P M) V, dV = (P M)^T g, dP = (g V^T) M."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    group = q.shape[1] // k.shape[1]
    kr, vr = np.repeat(k, group, 1), np.repeat(v, group, 1)
    L, S = q.shape[2], k.shape[2]
    s = q @ kr.swapaxes(-1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    elif mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    dead = np.all(s == -np.inf, -1, keepdims=True)
    s = np.where(dead, 0.0, s)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = np.where(dead, 0.0, e / e.sum(-1, keepdims=True))
    m = 1.0 if drop is None else drop
    o = (p * m) @ vr
    if g is None:
        return o
    sc = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    dp = (g @ vr.swapaxes(-1, -2)) * m
    ds = p * (dp - (p * dp).sum(-1, keepdims=True))
    B, Hkv = k.shape[:2]
    fold = lambda a: a.reshape((B, Hkv, group) + a.shape[2:]).sum(2)  # noqa: E731
    return o, (ds @ kr * sc, fold(ds.swapaxes(-1, -2) @ q) * sc, fold((p * m).swapaxes(-1, -2) @ g))


def leaf(a, device, dtype=ttorch.float32):
    return ttorch.tensor(a, dtype=dtype, device=device).requires_grad_(True)


def check(device, B, H, Hkv, L, S, E, Ev, mask=None, causal=False, scale=None, dtype=ttorch.float32, tol=1e-5,
          drop=None):
    """SDPA (or, with ``drop`` = (dropout_p, Philox pair), flash_attention with that dropout) forward and
    backward against ``ref`` on the rounded inputs."""
    r = np.random.default_rng(L * 100 + S + (drop is not None))
    q, k, v = r.standard_normal((B, H, L, E)), r.standard_normal((B, Hkv, S, E)), r.standard_normal((B, Hkv, S, Ev))
    g = r.standard_normal((B, H, L, Ev))
    qt, kt, vt = (leaf(a, device, dtype) for a in (q, k, v))
    if mask is not None:
        mt = ttorch.tensor(mask, device=device) if mask.dtype == bool else ttorch.tensor(mask, dtype=dtype,
                                                                                           device=device)
    mt = mask if mask is None else mt
    if drop is None:
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, is_causal=causal, scale=scale,
                                             enable_gqa=H != Hkv)
        mult = None
    else:
        from ttorch.ops.attention import _np_kept
        out = flash_attention(qt, kt, vt, mt, scale=scale, is_causal=causal, dropout_p=drop[0], philox=drop[1])[0]
        keep = _np_kept((B, H, L, S), *drop)
        assert 0.5 < keep.mean() < 0.9
        mult = keep / (1 - drop[0])
    assert out.grad_fn.name() == FLASH, "the fused op was not used"
    assert out.dtype is dtype and out.device.type == device
    out.backward(ttorch.tensor(g, dtype=dtype, device=device))
    # compare against the same (rounded) inputs in float64
    q, k, v = (to_np(t.detach()).astype(np.float64) for t in (qt, kt, vt))
    m = mask if mask is None or mask.dtype == bool else to_np(mt).astype(np.float64)
    o, grads = ref(q, k, v, m, causal, scale, to_np(ttorch.tensor(g, dtype=dtype)).astype(np.float64), mult)
    np.testing.assert_allclose(to_np(out).astype(np.float64), o, rtol=tol, atol=tol, err_msg="output")
    for t, e, n in zip((qt, kt, vt), grads, "qkv"):
        np.testing.assert_allclose(to_np(t.grad).astype(np.float64), e, rtol=tol, atol=tol * 4, err_msg=f"d{n}")


@pytest.mark.parametrize("causal", [False, True])
def test_odd_sizes(device, causal):
    check(device, 1, 2, 2, 5, 7, 12, 12, causal=causal)


@pytest.mark.parametrize("L,S", [(19, 17), (6, 19)])
def test_causal_rectangular_over_blocks(device, L, S):
    # more rows or keys than one 16-wide tile of the simulated device; top-left aligned causal mask
    check(device, 2, 1, 1, L, S, 8, 5, causal=True)


@pytest.mark.parametrize("causal", [False, True])
def test_unmasked_inner_key_blocks(device, causal):
    # several whole 16-key blocks ahead of the ragged end (and, causal, of the diagonal): the
    # forward runs those without masks, then the edge blocks with them
    check(device, 1, 2, 1, 37, 50, 8, 6, causal=causal)


def test_scale_and_value_dim(device):
    check(device, 2, 2, 2, 4, 3, 6, 9, scale=0.7)


@pytest.mark.parametrize("raw_max", [False, True])
@pytest.mark.parametrize("scale", [0.4, -30.0, 0.0])
@pytest.mark.parametrize("causal", [False, True])
def test_maxima_before_scaling_only_for_a_positive_scale(device, monkeypatch, raw_max, scale, causal):
    # attention._RAW_MAX: a positive scale lets the forward's unmasked blocks take their maxima before
    # scaling; other scales scale first (with 37 x 50, several whole blocks run unmasked on the
    # simulated device too). The softmax's shift is only for range: a large negative scale with the
    # wrong maxima overflows exp2
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_RAW_MAX", [raw_max])
    check(device, 1, 2, 1, 37, 50, 8, 6, causal=causal, scale=scale, tol=1e-3 if scale < 0 else 1e-5)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_maxima_before_scaling_by_default_on_causal_launches(monkeypatch):
    # _RAW_MAX "causal": causal forwards with a positive scale (same registers on sm_90); not the
    # others (4 programs an SM to 3 at the default tile), nor a negative scale, nor a mask
    from ttorch.ops import attention
    seen = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k is attention._attn_fwd_kernel and seen.append(m["SCALE_POS"])) or real(k, *a, **m))
    q = ttorch.randn(1, 2, 20, 8, device="cuda")
    mask = ttorch.ones(20, 20, dtype=ttorch.bool, device="cuda")
    for kw in ({"is_causal": True}, {}, {"is_causal": True, "scale": -0.5}, {"attn_mask": mask}):
        F.scaled_dot_product_attention(q, q, q, **kw)
    assert seen == [True, False, False, False]


def test_bool_mask_broadcast_with_dead_row(device):
    r = np.random.default_rng(3)
    mask = r.uniform(size=(2, 1, 5, 7)) > 0.5                 # broadcast over heads
    mask[0, 0, 2] = False                                      # a query row with no key
    check(device, 2, 3, 3, 5, 7, 4, 4, mask=mask)


def test_float_mask_broadcast_with_dead_row(device):
    r = np.random.default_rng(4)
    mask = r.standard_normal((5, 7))                           # (L, S): broadcast over batch and heads
    mask[1] = -np.inf
    mask[3, :4] = -np.inf
    check(device, 1, 2, 2, 5, 7, 4, 4, mask=mask)


def test_mask_per_key(device):
    mask = np.array([True, False, True, True, False, True])    # (S,): broadcast to every query
    check(device, 2, 2, 2, 3, 6, 4, 4, mask=mask)


@pytest.mark.parametrize("causal", [False, True])
def test_gqa(device, causal):
    check(device, 1, 4, 2, 6, 5, 8, 8, causal=causal)          # dK, dV summed over each group of 2


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("span", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_gqa_dkdv_over_several_blocks(span, causal, monkeypatch):
    """A grouped-query dK/dV kernel walks every head of its group through each of its three ranges of
    query blocks (edge, unmasked, ragged end) in one loop (attention._GQA_SPAN, the GQA constexpr) or,
    with the switch off, loops over the heads around them: both sum dK, dV over the group (half
    types, whose kernel takes the three ranges; 16-row blocks on the simulated device, L 41 spans 3)."""
    from ttorch.ops import attention as A
    monkeypatch.setattr(A, "_GQA_SPAN", [span])
    seen, real = [], A.launch
    monkeypatch.setattr(A, "launch", lambda k, *a, **m: (
        k is A._attn_bwd_dkdv_kernel and seen.append(m["GQA"])) or real(k, *a, **m))
    check("cuda", 1, 6, 2, 41, 40, 16, 16, causal=causal, dtype=ttorch.float16, tol=2e-2)
    assert seen == [span]


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("t_copy", [False, True])
@pytest.mark.parametrize("dq_atomic", [False, True])
def test_float32_reads_transposed_copies_or_not(t_copy, dq_atomic, monkeypatch):
    # float32 reads K^T, V^T, Q^T and dO^T from (E, N) copies (attention._T_COPY) or in place, and
    # takes dQ from the dK/dV kernel by atomics (attention._DQ_ATOMIC) or from the dQ kernel: each
    # way on ragged causal blocks, GQA, odd head dims and a mask with a dead row
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_FP32_DOT", ["ieee"])           # (the FMA products' switches)
    monkeypatch.setattr(attention, "_T_COPY", [t_copy])
    monkeypatch.setattr(attention, "_DQ_ATOMIC", [dq_atomic])
    monkeypatch.setattr(attention, "_T_COPY_MIN_READS", 1)          # tiny shapes copy too
    copies, kernels = [], []
    real, real_launch = attention._transposed, attention.launch
    monkeypatch.setattr(attention, "_transposed", lambda t: copies.append(t.shape) or real(t))
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: kernels.append(k) or real_launch(k, *a, **m))
    check("cuda", 1, 2, 2, 19, 17, 12, 5, causal=True)
    assert len(copies) == ((3 if dq_atomic else 5) if t_copy else 0)  # K^T; Q^T, dO^T; K^T, V^T
    assert (attention._attn_bwd_dq_kernel in kernels) is not dq_atomic
    check("cuda", 1, 4, 2, 37, 50, 8, 6)
    mask = np.random.default_rng(8).uniform(size=(2, 1, 5, 7)) > 0.5
    mask[1, 0, 3] = False
    check("cuda", 2, 3, 1, 5, 7, 4, 4, mask=mask)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
def test_float32_in_tf32x3(monkeypatch):
    """attention._FP32_DOT "tf32x3": float32's products on the tensor cores in three TF32 products, up to
    head dim 64 (_X3_MAX_E): no transposed copies, the dQ kernel (no atomics), its own tiles; past it
    the FMA kernels as before. The interpreter computes the products in float32 either way: the
    values check the code path, the AOT specs the compiled kernels."""
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_FP32_DOT", ["tf32x3"])
    monkeypatch.setattr(attention, "_T_COPY_MIN_READS", 1)
    copies, seen = [], []
    real, real_launch = attention._transposed, attention.launch
    kernels = {attention._attn_fwd_kernel: "fwd", attention._attn_bwd_dkdv_kernel: "dkdv",
               attention._attn_bwd_dq_kernel: "dq"}
    monkeypatch.setattr(attention, "_transposed", lambda t: copies.append(t.shape) or real(t))
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k in kernels and seen.append((kernels[k], m["PREC"], m.get("DQ"), m["T_COPY"]))) or real_launch(k, *a, **m))
    check("cuda", 1, 4, 2, 19, 17, 12, 5, causal=True)
    assert not copies and seen == [("fwd", "tf32x3", None, False), ("dkdv", "tf32x3", False, False),
                                   ("dq", "tf32x3", None, False)]
    seen.clear()
    check("cuda", 1, 1, 1, 5, 6, 65, 8)                 # head dim 65 pads to 128: the FMA kernels
    assert len(copies) == 3 and [p for _, p, _, _ in seen] == ["ieee"] * 2 and seen[1][2] is True
    monkeypatch.setattr(attention, "SIMULATED", False)  # the tables (no launch from here on)
    f32 = ttorch.float32
    assert attention._config("fwd", 64, f32, True) == attention._CONFIGS["fwd"][64][2] == (32, 64, 4, 2)
    assert attention._config("fwd", 64, f32, True, sm90=True) == attention._CONFIGS_SM90[("fwd", 64, 2)]
    assert attention._config("dq", 32, f32, True, sm90=True) == attention._CONFIGS["dq"][64][2]
    assert attention._config("dkdv", 64, f32, True, sm90=True) == attention._CONFIGS["dkdv"][64][2]
    assert attention._config("fwd", 128, f32, True) == attention._CONFIGS["fwd"][128][1]
    monkeypatch.setattr(attention, "_FP32_DOT", ["ieee"])
    assert attention._config("fwd", 64, f32, True, sm90=True) == attention._CONFIGS["fwd"][64][1]


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
def test_tf32x3_tunes_apart(monkeypatch):
    """The tuner's "tf32x3" is float32 in TF32 x 3: its own space, its timed launches in that precision
    (and "float32" on the FMAs), the switch restored after each."""
    from ttorch import tune
    from ttorch.ops import attention
    seen = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k is attention._attn_fwd_kernel and seen.append(m["PREC"])) or real(k, *a, **m))
    t = tune.registered()["flash_attention"]
    b = t.key("fwd", "tf32x3", 1, 1, 20, 16, True)
    assert b == ("fwd", "tf32x3", 16, True)
    cfgs = t.configs(b)
    assert [attention._tile(c) for c in cfgs] == attention._TUNE_SPACE_X3["fwd"]
    attention._tune_bench(cfgs[0], "fwd", "tf32x3", 1, 1, 20, 16, True)()
    attention._tune_bench(cfgs[0], "fwd", "float32", 1, 1, 20, 16, True)()
    assert seen == ["tf32x3"] * 2 + ["ieee"] * 2 and attention._FP32_DOT == ["tf32x3"]     # (the default)


def test_gqa_one_kv_head_with_mask(device):
    check(device, 2, 3, 1, 4, 4, 4, 6, mask=np.tril(np.ones((4, 4), bool), 1))


@pytest.mark.parametrize("dtype,tol", [(ttorch.float16, 2e-2), (ttorch.bfloat16, 8e-2)])
@pytest.mark.parametrize("causal", [False, True])
def test_half_types(device, dtype, tol, causal):
    check(device, 1, 2, 1, 9, 11, 16, 16, causal=causal, dtype=dtype, tol=tol)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("dtype,tol", [(ttorch.float16, 2e-2), (ttorch.bfloat16, 8e-2)])
def test_half_types_with_dq_by_atomics(dtype, tol, monkeypatch):
    # attention._DQ_ATOMIC_HALF: dQ added into a float32 workspace by the dK/dV kernel, cast after;
    # no dQ kernel. GQA (two query heads a key head) and ragged causal blocks
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_DQ_ATOMIC_HALF", [True])
    kernels = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: kernels.append(k) or real(k, *a, **m))
    check("cuda", 1, 4, 2, 19, 17, 16, 16, causal=True, dtype=dtype, tol=tol)
    assert attention._attn_bwd_dkdv_kernel in kernels and attention._attn_bwd_dq_kernel not in kernels


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
def test_half_dkdv_switches_stop_at_head_dim_64(monkeypatch):
    # dQ by atomics and Q/dO by TMA in the half dK/dV kernel spilled registers at head dim 128 with
    # every tile but 32x32 (attention._SWITCHED_DKDV_MAX_E): there the plain kernel and the dQ kernel run
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_DQ_ATOMIC_HALF", [True])
    monkeypatch.setattr(attention, "_BWD_TMA", [True])
    seen = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k is attention._attn_bwd_dkdv_kernel and seen.append((m["BLOCK_E"], m["DQ"], m["TMA"]))) or real(k, *a, **m))
    check("cuda", 1, 2, 1, 9, 11, 72, 72, causal=True, dtype=ttorch.float16, tol=2e-2)       # padded to 128
    check("cuda", 1, 2, 1, 9, 11, 64, 64, causal=True, dtype=ttorch.float16, tol=2e-2)
    tma = attention._TensorDescriptor is not None
    assert seen == [(128, False, False), (64, True, tma)]


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("tile", [(16, 32, 4, 1), (32, 16, 4, 1)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dq_atomic", [False, True])
def test_rectangular_tiles(tile, causal, dq_atomic, monkeypatch):
    # tiles the tuner may pick have BLOCK_M != BLOCK_N (dK/dV at head dim 128: 16 or 32 queries past
    # 128 keys): the causal diagonal's and the ragged ends' block arithmetic with either one larger
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_FORCE", {"fwd": tile, "dkdv": tile, "dq": tile})
    monkeypatch.setattr(attention, "_DQ_ATOMIC_HALF", [dq_atomic])
    check("cuda", 1, 2, 1, 45, 45, 16, 16, causal=causal, dtype=ttorch.float16, tol=2e-2)
    check("cuda", 1, 2, 2, 21, 50, 8, 8, causal=causal)



@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_dq_unmasked_key_blocks_apart(monkeypatch, split, causal):
    # attention._DQ_SPLIT: the dQ kernel runs the key blocks inside S and (causal) wholly at or before
    # its first query without masks, in a loop before the rest (not float32 on the FMAs). 45 x 45 on the
    # simulated device's 16-wide tiles: up to two such blocks, a ragged diagonal and end; with 32x16
    # tiles the diagonal spans two key blocks
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_DQ_SPLIT", [split])
    seen = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k is attention._attn_bwd_dq_kernel and seen.append(m["SPLIT"])) or real(k, *a, **m))
    check("cuda", 1, 2, 1, 45, 45, 16, 16, causal=causal, dtype=ttorch.float16, tol=2e-2)
    monkeypatch.setattr(attention, "_FORCE", {"dq": (32, 16, 4, 1)})
    check("cuda", 1, 2, 1, 45, 45, 16, 16, causal=causal, dtype=ttorch.bfloat16, tol=8e-2)
    assert seen == [split, split]
    check("cuda", 1, 2, 1, 45, 45, 8, 8, causal=causal)                     # float32 in TF32 x 3
    monkeypatch.setattr(attention, "_FP32_DOT", ["ieee"])                    # on the FMAs: one loop always
    monkeypatch.setattr(attention, "_DQ_ATOMIC", [False])
    check("cuda", 1, 2, 1, 45, 45, 8, 8, causal=causal)
    assert seen == [split, split, split, False]
    monkeypatch.setattr(attention, "_FORCE", {})
    check_drop("cuda", 1, 2, 1, 45, 45, 16, 16, causal=causal, dtype=ttorch.float16, tol=2e-2)    # the mask read
    monkeypatch.setattr(attention, "_DROP_SAVE", [False])
    check_drop("cuda", 1, 2, 1, 45, 45, 16, 16, causal=causal, dtype=ttorch.float16, tol=2e-2)    # drawn: one loop
    assert seen == [split, split, split, False, split, False]


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("heads,n_blk", [(6, 3), (4, 2), (3, 4), (8, 1), (7, 2)])
def test_longest_first_order_by_sections(heads, n_blk, monkeypatch):
    # attention._grid and the kernels' _lpt: a causal grid, in the order the GPU starts it, takes each
    # (rank, head) once, sections of heads one after another, inside one rank by rank
    from ttorch.ops import attention
    from ttorch.ops._launch import launch
    for budget in (0, 1000, 3000, 4000, 1 << 30):  # 1000 bytes a head: one head a section
        monkeypatch.setattr(attention, "_LPT_L2", [budget])
        grid = attention._grid(n_blk, heads, True, 1000)[0]
        sec = grid[0]
        # the most heads in the budget that divide the heads: 7 (prime) goes one a section
        want = {3000: {6: 3, 4: 2, 3: 3, 8: 2, 7: 1}, 4000: {6: 3, 4: 4, 3: 3, 8: 4, 7: 1}}
        assert grid[1:] == (n_blk, heads // sec)
        assert sec == (1 if budget <= 1000 else heads if budget == 1 << 30 else want[budget][heads])
        out = ttorch.full((heads * n_blk * 2,), -1, dtype=ttorch.int32, device="cuda")
        launch(_lpt_order_kernel, grid, out)
        got = [tuple(p) for p in to_np(out).reshape(-1, 2).tolist()]
        assert got == [(r, h) for s0 in range(0, heads, sec) for r in range(n_blk) for h in range(s0, s0 + sec)]
        assert attention._grid(n_blk, heads, True, 1000)[1]
    assert attention._grid(n_blk, heads, False, 1000) == ((n_blk * heads,), False)
    assert attention._grid(70000, heads, True, 1000) == ((70000 * heads,), False)      # (CUDA's y axis)


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("budget", [0, 1, 5000, "flat"])
def test_causal_sections_of_heads(budget, monkeypatch):
    # a budget of 0 or a few bytes: one head a section (the order before). 5000: K/V of 19 keys x 16
    # lanes x 4 bytes x 2 = 2432 bytes a head, 2 heads a section, 3 sections of 6 heads; with 6 query
    # heads on one K/V head, 405 bytes a query head: one section of 6 (the dK/dV grid: 1 head)
    # "flat": every grid flat, as past CUDA's grid limits (the kernels' LPT off: each head's blocks in turn)
    from ttorch.ops import attention
    if budget == "flat":
        monkeypatch.setattr(attention, "_grid", lambda blocks, heads, causal, per_head: ((blocks * heads,), False))
    else:
        monkeypatch.setattr(attention, "_LPT_L2", [budget])
    tile = (16, 16, 4, 1)                           # (the simulated device's; a GPU's would span the rows)
    monkeypatch.setattr(attention, "_FORCE", {"fwd": tile, "dkdv": tile, "dq": tile})
    seen = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k in (attention._attn_fwd_kernel, attention._attn_bwd_dkdv_kernel, attention._attn_bwd_dq_kernel)
        and (seen.append(a[0]) or seen.append(m["LPT"]))) or real(k, *a, **m))
    check("cuda", 1, 6, 6, 19, 19, 16, 16, causal=True)
    check("cuda", 1, 6, 1, 19, 19, 16, 16, causal=True)
    check("cuda", 1, 6, 6, 19, 19, 16, 16)                                  # (not causal: a flat grid)
    sec = [2, 2, 2, 6, 1, 6] if budget == 5000 else [1] * 6
    n, heads = 2, [6, 6, 6, 6, 1, 6]                                        # (16-row blocks of 19 rows)
    grids = [(n * h,) if budget == "flat" else (s, n, h // s) for s, h in zip(sec, heads)] + [(n * 6,)] * 3
    assert seen[::2] == grids and seen[1::2] == [budget != "flat"] * 6 + [False] * 3


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype,tol", [(ttorch.float16, 2e-2), (ttorch.bfloat16, 8e-2)])
def test_forward_with_k_and_v_by_tma(causal, dtype, tol, monkeypatch):
    # attention._FWD_TMA: K and V as 2-D descriptors over rows; ragged key blocks read the next head's
    # rows (masked, and V's zeroed) or zeros past the tensor; GQA; a value head dim under 16
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_FWD_TMA", [True])
    tma = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k is attention._attn_fwd_kernel and tma.append(m["TMA"])) or real(k, *a, **m))
    check("cuda", 2, 4, 2, 21, 37, 16, 8, causal=causal, dtype=dtype, tol=tol)
    check("cuda", 1, 2, 2, 33, 20, 32, 32, causal=causal, dtype=dtype, tol=tol)
    mask = np.random.default_rng(3).standard_normal((1, 1, 19, 23)) > -0.5      # every block an edge block
    check("cuda", 1, 2, 1, 19, 23, 16, 16, mask=mask, dtype=dtype, tol=tol)
    assert tma == [True, True, True]
    # the next head's V holding inf must not leak into this head's output through p = 0
    r = np.random.default_rng(1)
    q, k, v = (ttorch.tensor(r.standard_normal((1, 2, 9, 16)), dtype=dtype, device="cuda") for _ in range(3))
    v[0, 1] = float("inf")
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert np.isfinite(to_np(out[0, 0]).astype(np.float64)).all()
    # q, k, v split from one projection: a head's first row is no whole row from the base, so no TMA
    qkv = ttorch.tensor(r.standard_normal((1, 9, 3 * 32)), dtype=dtype, device="cuda")
    tma.clear()
    a, b, c = (t.view(1, 9, 2, 16).transpose(1, 2) for t in qkv.split(32, 2))
    want = F.scaled_dot_product_attention(*(t.contiguous() for t in (a, b, c)), is_causal=causal)
    np.testing.assert_allclose(to_np(F.scaled_dot_product_attention(a, b, c, is_causal=causal)).astype(np.float64),
                               to_np(want).astype(np.float64), rtol=tol, atol=tol)
    assert tma == [True, False]                          # the contiguous copies, then the split


@pytest.mark.skipif(not ttorch.cuda.is_available(), reason="no cuda device (real or simulated)")
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dq_atomic", [False, True])
def test_backward_with_q_and_do_by_tma(causal, dq_atomic, monkeypatch):
    # attention._BWD_TMA, _DQ_TMA: the dK/dV kernel's Q and dO tiles, the dQ kernel's K and V, by TMA
    # (rows past L or S: the next head's, zeroed, or zeros past the tensor); GQA, ragged blocks, dQ by
    # its kernel or by atomics
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_BWD_TMA", [True])
    monkeypatch.setattr(attention, "_DQ_TMA", [True])
    monkeypatch.setattr(attention, "_DQ_ATOMIC_HALF", [dq_atomic])
    tma = []
    real = attention.launch
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k in (attention._attn_bwd_dkdv_kernel, attention._attn_bwd_dq_kernel) and tma.append(m["TMA"])) or
        real(k, *a, **m))
    check("cuda", 2, 4, 2, 21, 37, 16, 8, causal=causal, dtype=ttorch.float16, tol=2e-2)
    check("cuda", 1, 2, 2, 33, 20, 32, 32, causal=causal, dtype=ttorch.float16, tol=2e-2)
    assert tma == [True] * (2 if dq_atomic else 4)          # the dK/dV kernel, and the dQ kernel unless atomics
    # the next head's Q or dO (dK/dV kernel), K or V (dQ kernel) holding inf must not reach this head's
    # gradients through a ragged block
    r = np.random.default_rng(2)
    for poisoned in ("q", "dO", "k", "v"):
        q, k, v = (leaf(r.standard_normal((1, 2, 9, 16)), "cuda", ttorch.float16) for _ in range(3))
        g = ttorch.ones(1, 2, 9, 16, dtype=ttorch.float16, device="cuda")
        with ttorch.no_grad():
            dict(q=q, dO=g, k=k, v=v)[poisoned][0, 1] = float("inf")
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(g)
        for t in ((k.grad, v.grad) if poisoned in ("q", "dO") else (q.grad,)):
            assert np.isfinite(to_np(t[0, 0]).astype(np.float64)).all(), poisoned


def test_strided_inputs(device):
    # nanoGPT's layout: (B, T, H, E) projections viewed as (B, H, T, E) without a copy
    r = np.random.default_rng(5)
    x = r.standard_normal((2, 6, 3, 3, 8))                     # (B, T, qkv, H, E)
    t = ttorch.tensor(x, dtype=ttorch.float32, device=device).requires_grad_(True)
    q, k, v = (t[:, :, i].transpose(1, 2) for i in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.grad_fn.name() == FLASH
    g = r.standard_normal(out.shape)
    out.backward(ttorch.tensor(g, dtype=ttorch.float32, device=device))
    xs = [np.swapaxes(x[:, :, i], 1, 2) for i in range(3)]
    o, grads = ref(*xs, causal=True, g=g)
    np.testing.assert_allclose(to_np(out), o, rtol=1e-5, atol=1e-5)
    want = np.stack([np.swapaxes(d, 1, 2) for d in grads], 2)
    np.testing.assert_allclose(to_np(t.grad), want, rtol=1e-5, atol=1e-5)


def test_three_dims_and_float_mask_grad(device):
    # (N, L, E) inputs; a float mask that requires grad gets dscores summed to its shape
    r = np.random.default_rng(6)
    q, k, v, m = r.standard_normal((2, 4, 8)), r.standard_normal((2, 5, 8)), r.standard_normal((2, 5, 3)), \
        r.standard_normal((1, 4, 5))
    qt, kt, vt, mt = (leaf(a, device) for a in (q, k, v, m))
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt)
    out.sum().backward()
    o = ref(q[:, None], k[:, None], v[:, None], m[:, None])[:, 0]
    np.testing.assert_allclose(to_np(out), o, rtol=1e-5, atol=1e-5)
    # the mask gradient by central differences of the float64 reference
    num = np.zeros_like(m)
    for i in np.ndindex(m.shape):
        for sgn in (1, -1):
            mm = m.copy()
            mm[i] += sgn * 1e-6
            num[i] += sgn * ref(q[:, None], k[:, None], v[:, None], mm[:, None]).sum() / 2e-6
    np.testing.assert_allclose(to_np(mt.grad), num, rtol=1e-4, atol=1e-5)


def test_composite_paths_kept(device):
    q = ttorch.randn(1, 2, 3, 4, device=device, dtype=ttorch.float64, requires_grad=True)
    assert F.scaled_dot_product_attention(q, q, q).grad_fn.name() != FLASH          # float64
    q = ttorch.randn(1, 2, 3, 4, device=device, requires_grad=True)
    assert F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).grad_fn.name() != FLASH or device == "cuda"
    k = ttorch.randn(1, 1, 3, 4, device=device, requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, k)       # heads broadcast by matmul without enable_gqa
    assert out.grad_fn.name() != FLASH and out.shape == (1, 2, 3, 4)


def test_logsumexp_output(device):
    r = np.random.default_rng(7)
    q, k, v = r.standard_normal((1, 2, 3, 4)), r.standard_normal((1, 2, 5, 4)), r.standard_normal((1, 2, 5, 4))
    mask = np.ones((3, 5), bool)
    mask[1] = False
    o, lse = flash_attention(*(ttorch.tensor(a, dtype=ttorch.float32, device=device) for a in (q, k, v)),
                             ttorch.tensor(mask, device=device))
    assert lse.dtype is ttorch.float32 and lse.shape == (1, 2, 3)
    s = q @ k.swapaxes(-1, -2) / 2
    want = np.log(np.exp(np.where(mask, s, -np.inf)).sum(-1))
    np.testing.assert_allclose(to_np(lse), want, rtol=1e-5, atol=1e-5)
    assert np.all(to_np(o)[:, :, 1] == 0)


def test_double_backward_gradgradcheck():
    # create_graph runs the backward formula in ttorch ops: check it to second order (float64, cpu)
    r = np.random.default_rng(8)
    q, k, v = (ttorch.tensor(r.standard_normal(s), dtype=ttorch.float64, requires_grad=True)
               for s in ((1, 2, 3, 4), (1, 1, 4, 4), (1, 1, 4, 3)))
    m = ttorch.tensor(r.standard_normal((3, 4)), dtype=ttorch.float64)
    assert ttorch.autograd.gradcheck(lambda a, b, c: flash_attention(a, b, c, m)[0], (q, k, v))
    assert ttorch.autograd.gradgradcheck(lambda a, b, c: flash_attention(a, b, c, is_causal=True)[0], (q, k, v))


def test_backward_op_gradcheck():
    # the backward op's own backward rule, with O and LSE recomputed for each probe (consistent)
    r = np.random.default_rng(10)
    q, k, v, g = (ttorch.tensor(r.standard_normal(s), dtype=ttorch.float64, requires_grad=True)
                  for s in ((1, 2, 3, 4), (1, 1, 5, 4), (1, 1, 5, 3), (1, 2, 3, 3)))
    m = ttorch.tensor(r.uniform(size=(3, 5)) > 0.3)

    def f(g, q, k, v):
        with ttorch.no_grad():
            o, lse = flash_attention(q, k, v, m)
        return _flash_attention_backward(g, ttorch.zeros_like(lse), q, k, v, o, lse, m)

    assert ttorch.autograd.gradcheck(f, (g, q, k, v))


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_double_backward_parity():
    # a gradient penalty: d/dq of |dL/dk|^2, cuda (composite under create_graph) vs cpu
    r = np.random.default_rng(9)
    arrays = [r.standard_normal(s) for s in ((1, 2, 5, 4), (1, 2, 6, 4), (1, 2, 6, 4))]
    res = []
    for dev in ("cpu", "cuda"):
        q, k, v = (leaf(a, dev) for a in arrays)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        assert out.grad_fn.name() == FLASH
        (gk,) = ttorch.autograd.grad(out.square().sum(), (k,), create_graph=True)
        gk.square().sum().backward()
        res.append([to_np(t.grad) for t in (q, k, v)])
    for c, p in zip(*res):
        np.testing.assert_allclose(c, p, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not HAS_CUDA, reason="no cuda")
def test_head_transposed_inputs_keep_their_layout():
    """q, k, v as a model makes them (one (B, L, 3C) projection, split, viewed per head, transposed):
    the output and the gradients come back in the (B, L, H, E) layout, so transposing back and
    viewing as (B, L, C) needs no copy, and they match the reference."""
    B, L, H, E = 2, 9, 3, 8
    rng = np.random.default_rng(5)
    w, g = rng.standard_normal((B, L, 3 * H * E)), rng.standard_normal((B, L, H * E))
    qkv = ttorch.tensor(w, dtype=ttorch.float32, device="cuda", requires_grad=True)
    q, k, v = (t.view(B, L, H, E).transpose(1, 2) for t in qkv.split(H * E, dim=2))
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    y = o.transpose(1, 2)
    assert y.is_contiguous() and o.stride() == (L * H * E, E, H * E, 1)
    y.reshape(B, L, H * E).backward(ttorch.tensor(g, dtype=ttorch.float32, device="cuda"))
    qn, kn, vn = (w[..., i * H * E:(i + 1) * H * E].reshape(B, L, H, E).transpose(0, 2, 1, 3) for i in range(3))
    gn = g.reshape(B, L, H, E).transpose(0, 2, 1, 3)
    want_o, (dq, dk, dv) = ref(qn, kn, vn, causal=True, g=gn)
    np.testing.assert_allclose(to_np(o), want_o, rtol=1e-4, atol=1e-5)
    want = np.concatenate([d.transpose(0, 2, 1, 3).reshape(B, L, H * E) for d in (dq, dk, dv)], 2)
    np.testing.assert_allclose(to_np(qkv.grad), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dq_atomic", [False, True])
def test_split_qkv_gradients_are_joined_without_a_copy(dq_atomic, monkeypatch):
    """dq, dk, dv of a split qkv are pieces of one buffer, so the split's backward is a view: no
    copy kernel runs between the attention backward and the projection's backward (float32 dQ by
    atomics: one fill, its zeros)."""
    from ttorch.ops import attention, elementwise
    monkeypatch.setattr(attention, "_DQ_ATOMIC", [dq_atomic])
    monkeypatch.setattr(attention, "_FP32_DOT", ["ieee"])          # (_DQ_ATOMIC: the FMA kernels')
    B, L, H, E = 2, 5, 2, 4
    rng = np.random.default_rng(6)
    w = rng.standard_normal((B, L, 3 * H * E))
    qkv = ttorch.tensor(w, dtype=ttorch.float32, device="cuda", requires_grad=True)
    q, k, v = (t.view(B, L, H, E).transpose(1, 2) for t in qkv.split(H * E, dim=2))
    o = F.scaled_dot_product_attention(q, k, v)
    g = ttorch.tensor(rng.standard_normal(o.shape), dtype=ttorch.float32, device="cuda")
    copies = []
    real, real_keyed = elementwise.launch, elementwise.launch_keyed
    monkeypatch.setattr(elementwise, "launch", lambda k, *a, **kw: (copies.append(k.__name__), real(k, *a, **kw))[1])
    monkeypatch.setattr(elementwise, "launch_keyed", lambda k, *a: (copies.append(k.__name__), real_keyed(k, *a))[1])
    o.backward(g)           # (float32's transposed operand copies, attention._T_COPY, skip 5 rows)
    assert len(copies) == (1 if dq_atomic else 0)
    qn, kn, vn = (w[..., i * H * E:(i + 1) * H * E].reshape(B, L, H, E).transpose(0, 2, 1, 3) for i in range(3))
    _, (dq, dk, dv) = ref(qn, kn, vn, g=to_np(g))
    want = np.concatenate([d.transpose(0, 2, 1, 3).reshape(B, L, H * E) for d in (dq, dk, dv)], 2)
    np.testing.assert_allclose(to_np(qkv.grad), want, rtol=1e-4, atol=1e-5)


def test_span_and_joined():
    from ttorch.ops.views import span, joined
    assert span((2, 3), (3, 1)) == 6 and span((2, 3), (4, 1)) == 7      # dense; a gap of one per row
    assert span((2, 3), (2, 1)) is None and span((3,), (0,)) is None     # rows overlap; broadcast
    assert span((4, 1, 5), (5, 100, 1)) == 20 and span((0, 3), (3, 1)) == 0
    buf = ttorch.arange(24.0, device="cuda")
    a, b = buf._view((2, 3), (6, 1), 0), buf._view((2, 3), (6, 1), 3)     # the halves of (2, 6) rows
    assert to_np(joined([a, b], 1)).tolist() == to_np(buf[:12].reshape(2, 6)).tolist()
    assert joined([b, a], 1) is None                                       # out of order
    assert joined([a, buf._view((2, 3), (6, 1), 2)], 1) is None            # overlapping


@pytest.mark.parametrize("use", ["lse", "o"])
def test_one_output_unused_gets_no_zeros(device, use):
    """The unused output's gradient stays None (the backward treats it as zeros, with no zero fill);
    gradients through the logsumexp alone, and through the output alone, match float64 differences."""
    from ttorch.autograd import gradcheck
    r = np.random.default_rng(8)
    arrs = [r.standard_normal((1, 2, 3, 4)) for _ in range(3)]
    pick = 1 if use == "lse" else 0
    assert gradcheck(lambda q, k, v: flash_attention(q, k, v, is_causal=True)[pick],
                     tuple(ttorch.tensor(a, requires_grad=True) for a in arrs))
    ts = [ttorch.tensor(a, dtype=ttorch.float32, device=device, requires_grad=True) for a in arrs]
    flash_attention(*ts, is_causal=True)[pick].sum().backward()
    cs = [ttorch.tensor(a, dtype=ttorch.float32, requires_grad=True) for a in arrs]
    flash_attention(*cs, is_causal=True)[pick].sum().backward()
    for t, c in zip(ts, cs):
        np.testing.assert_allclose(to_np(t.grad), to_np(c.grad), rtol=1e-4, atol=1e-5)


def test_dead_row_double_backward_stays_finite(device):
    """With the logsumexp unused its gradient is None; the composite path (create_graph) must
    treat it as zeros, not as ``lse * 0``, which is NaN on a fully masked row (LSE = -inf)."""
    r = np.random.default_rng(9)
    q, k, v = (ttorch.tensor(r.standard_normal((1, 1, 3, 4)), dtype=ttorch.float32, device=device,
                             requires_grad=True) for _ in range(3))
    mask = np.ones((3, 3), bool)
    mask[1] = False                                                   # row 1 sees no key
    o, _ = flash_attention(q, k, v, ttorch.tensor(mask, device=device))
    (gq,) = ttorch.autograd.grad((o * o).sum(), q, create_graph=True)
    assert np.isfinite(to_np(gq)).all()
    (gv,) = ttorch.autograd.grad(gq.sum(), v)
    assert np.isfinite(to_np(gv)).all()


# ------------------------------------------------------------------------------ dropout
DROP = (0.3, (987654321012, 5 << 32 | 123))       # (dropout_p, the Philox pair): the same mask on both devices


def test_philox_np_known_answers_and_triton():
    """The NumPy Philox that draws the cpu mask: Random123's known-answer vectors, and Triton's own
    ``tl.philox`` (its interpreter) on counters like attention's."""
    from ttorch.ops.random import philox_np
    kat = [((0, 0), (0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
           ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 4, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
           ((0xA4093822, 0x299F31D0), (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for (k0, k1), ctr, want in kat:
        assert [int(w) for w in philox_np(k0 | k1 << 32, *ctr)] == list(want)
    if not HAS_CUDA:
        return
    import triton
    import triton.language as tl
    from ttorch.ops._launch import launch

    @triton.jit
    def words(out_ptr, seed, c1, c2, c3, N: tl.constexpr, ROUNDS: tl.constexpr = 10):
        c0 = tl.arange(0, N) * 7919 - 5
        z = c0 * 0
        r0, r1, r2, r3 = tl.philox(seed, c0, z + c1, z + c2, z + c3, n_rounds=ROUNDS)
        tl.store(out_ptr + tl.arange(0, N), r0.to(tl.int32, bitcast=True))
        tl.store(out_ptr + N + tl.arange(0, N), r1.to(tl.int32, bitcast=True))
        tl.store(out_ptr + 2 * N + tl.arange(0, N), r2.to(tl.int32, bitcast=True))
        tl.store(out_ptr + 3 * N + tl.arange(0, N), r3.to(tl.int32, bitcast=True))
    out = ttorch.empty(4, 32, dtype=ttorch.int32, device="cuda")
    seed, c1, c2, c3 = 0x1234_5678_9ABC_DEF, 3, -7, -(1 << 31) + 5
    launch(words, (1,), out, seed, c1, c2, c3, N=32)
    want = np.stack(philox_np(seed, np.arange(32) * 7919 - 5, c1, c2, c3))
    assert (to_np(out).view(np.uint32) == want).all()
    launch(words, (1,), out, seed, c1, c2, c3, N=32, ROUNDS=7)          # attention's 7-round schemes
    want7 = np.stack(philox_np(seed, np.arange(32) * 7919 - 5, c1, c2, c3, rounds=7))
    assert (to_np(out).view(np.uint32) == want7).all() and not (want7 == want).any()


def check_drop(*args, **kw):
    return check(*args, drop=DROP, **kw)


@pytest.mark.parametrize("causal", [False, True])
def test_dropout_against_float64(device, causal):
    # rows and keys over more than one 16-wide tile of the simulated device, a ragged end
    check_drop(device, 1, 2, 2, 19, 21, 12, 12, causal=causal)


def test_dropout_gqa_and_masks(device):
    check_drop(device, 2, 4, 2, 6, 17, 8, 5, causal=True)
    mask = np.random.default_rng(3).uniform(size=(1, 2, 5, 18)) > 0.3
    mask[0, 1, 2] = False                                               # a dead row
    check_drop(device, 1, 2, 2, 5, 18, 8, 8, mask=mask)
    check_drop(device, 1, 2, 1, 5, 7, 4, 4, mask=np.random.default_rng(4).uniform(-1, 1, (5, 7)))


@pytest.mark.parametrize("dtype,tol", [(ttorch.float16, 2e-2), (ttorch.bfloat16, 8e-2)])
def test_dropout_half_types(device, dtype, tol):
    check_drop(device, 1, 2, 2, 18, 20, 16, 16, causal=True, dtype=dtype, tol=tol)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("t_copy,dq_atomic,dtype,dot", [(True, True, ttorch.float32, "ieee"),
                                                        (False, False, ttorch.float32, "ieee"),
                                                        (False, False, ttorch.float32, "tf32x3"),
                                                        (False, True, ttorch.float16, "ieee")])
def test_dropout_kernel_variants(t_copy, dq_atomic, dtype, dot, monkeypatch):
    """float32 with transposed copies and dQ by atomics, plain reads and the dQ kernel, in TF32 x 3;
    half dQ by atomics: every dK/dV and dQ variant draws the forward's mask."""
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_FP32_DOT", [dot])
    monkeypatch.setattr(attention, "_T_COPY", [t_copy])
    monkeypatch.setattr(attention, "_T_COPY_MIN_READS", 1)
    monkeypatch.setattr(attention, "_DQ_ATOMIC", [dq_atomic])
    monkeypatch.setattr(attention, "_DQ_ATOMIC_HALF", [dq_atomic])
    check_drop("cuda", 1, 2, 2, 18, 17, 8, 8, causal=True, dtype=dtype, tol=1e-5 if dtype is ttorch.float32 else 2e-2)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("mode", [2, 3])
@pytest.mark.parametrize("dq_atomic", [False, True])
def test_dropout_draw_schemes(mode, dq_atomic, monkeypatch):
    """The 7-round schemes (attention._DROP_MODE 2, 3) through the forward, dK/dV (its mask drawn
    transposed) and dQ kernels, against the float64 reference with NumPy's mask of the same scheme."""
    from ttorch.ops import attention
    monkeypatch.setattr(attention, "_DROP_MODE", [mode])
    monkeypatch.setattr(attention, "_DQ_ATOMIC", [dq_atomic])
    monkeypatch.setattr(attention, "_FP32_DOT", ["ieee"])          # (_DQ_ATOMIC: the FMA kernels')
    check_drop("cuda", 1, 2, 2, 19, 21, 12, 12, causal=True, dtype=ttorch.float32, tol=1e-5)
    check_drop("cuda", 1, 2, 1, 17, 18, 8, 8, dtype=ttorch.float32, tol=1e-5)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("mode", [1, 2, 3])
def test_dropout_mask_in_the_kernel_is_numpys(mode, monkeypatch):
    """q = k = 0 and v = I: the output rows are the dropped weights, 1 / S or 0 kept / (1 - p):
    the forward kernel's mask, read back, equals the NumPy draw for the generator's pair, in each
    draw scheme (attention._DROP_MODE; an odd L: scheme 3's last row pair half past the end)."""
    from ttorch.ops import attention
    from ttorch.ops.attention import _np_kept
    from ttorch._random import cuda_generator
    monkeypatch.setattr(attention, "_DROP_MODE", [mode])
    B, H, L, S, p = 2, 2, 23, 32, 0.25
    q = ttorch.zeros(B, H, L, 16, device="cuda")
    v = ttorch.eye(S, device="cuda").expand(B, H, S, S).contiguous()
    gen = cuda_generator(0)
    pair = (gen._seed & 0x7FFF_FFFF_FFFF_FFFF, gen._offset)
    out = to_np(flash_attention(q, ttorch.zeros(B, H, S, 16, device="cuda"), v, dropout_p=p)[0])
    assert gen._offset == pair[1] + B * H * L * S                        # the generator moved past the draw
    keep = _np_kept((B, H, L, S), p, pair)
    np.testing.assert_allclose(out, keep / S / (1 - p), rtol=1e-6)
    assert abs(keep.mean() - 0.75) < 0.02                              # 3072 draws: std 0.008
    out2 = to_np(flash_attention(q, ttorch.zeros(B, H, S, 16, device="cuda"), v, dropout_p=p)[0])
    assert not np.array_equal(out, out2)                               # the next call draws anew


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_sdpa_dropout_runs_fused_on_cuda_and_reproduces():
    q, k, v = (ttorch.randn(1, 2, 9, 8, device="cuda", requires_grad=True) for _ in range(3))
    ttorch.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.2, is_causal=True)
    assert a.grad_fn.name() == FLASH
    ttorch.manual_seed(5)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.2, is_causal=True)
    assert np.array_equal(to_np(a), to_np(b))
    c = ttorch.randn(1, 2, 9, 8, requires_grad=True)
    assert F.scaled_dot_product_attention(c, c, c, dropout_p=0.2).grad_fn.name() != FLASH     # cpu: composite
    assert F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).abs().sum().item() == 0     # all dropped


def test_dropout_gradcheck_and_double_backward():
    # a fixed pair makes dropout a fixed function: float64 differences to first and second order (cpu)
    r = np.random.default_rng(11)
    q, k, v = (ttorch.tensor(r.standard_normal(s), dtype=ttorch.float64, requires_grad=True)
               for s in ((1, 2, 4, 4), (1, 1, 5, 4), (1, 1, 5, 3)))
    f = lambda a, b, c: flash_attention(a, b, c, dropout_p=0.4, philox=(7, 11))[0]     # noqa: E731
    assert ttorch.autograd.gradcheck(f, (q, k, v))
    assert ttorch.autograd.gradgradcheck(f, (q, k, v))


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_dropout_double_backward_and_float64_parity():
    # create_graph on cuda runs the composite with the uploaded mask; float64 runs it forward too
    r = np.random.default_rng(12)
    arrays = [r.standard_normal(s) for s in ((1, 2, 5, 4), (1, 2, 6, 4), (1, 2, 6, 4))]
    for dtype in (ttorch.float32, ttorch.float64):
        res = []
        for dev in ("cpu", "cuda"):
            q, k, v = (leaf(a, dev, dtype) for a in arrays)
            out = flash_attention(q, k, v, is_causal=True, dropout_p=0.3, philox=(99, 4))[0]
            (gk,) = ttorch.autograd.grad(out.square().sum(), (k,), create_graph=True)
            gk.square().sum().backward()
            res.append([to_np(out)] + [to_np(t.grad) for t in (q, k, v)])
        for c, p in zip(*res):
            np.testing.assert_allclose(c, p, rtol=1e-4, atol=1e-5)


def test_dropout_arguments():
    q = ttorch.randn(1, 1, 3, 4)
    with pytest.raises(ValueError, match="dropout_p"):
        flash_attention(q, q, q, dropout_p=1.0)
    o, lse = flash_attention(q, q, q, dropout_p=0.5, philox=(1, 2))
    o2, lse2 = flash_attention(q, q, q, dropout_p=0.5, philox=(1, 2))
    assert np.array_equal(to_np(o), to_np(o2)) and np.array_equal(to_np(lse), to_np(flash_attention(q, q, q)[1]))
    if HAS_CUDA:
        with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator"):
            flash_attention(q, q, q, dropout_p=0.5, generator=ttorch.Generator("cuda"))


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_dropout_takes_the_compiled_configurations(monkeypatch):
    """With dropout every kernel runs pointer loads and scaled scores, whatever the TMA and raw-max
    switches say (the configurations compiled with the mask), and the mask's own tiles."""
    from ttorch.ops import attention
    for flag in ("_FWD_TMA", "_BWD_TMA", "_DQ_TMA", "_RAW_MAX"):
        monkeypatch.setattr(attention, flag, [True])
    seen = []
    real = attention.launch
    kernels = (attention._attn_fwd_kernel, attention._attn_bwd_dkdv_kernel, attention._attn_bwd_dq_kernel)
    monkeypatch.setattr(attention, "launch", lambda k, *a, **m: (
        k in kernels and seen.append((m["TMA"], m.get("SCALE_POS", False), m["DROP"]))) or real(k, *a, **m))
    check_drop("cuda", 1, 2, 2, 18, 20, 16, 16, causal=True, dtype=ttorch.float16, tol=2e-2)
    assert seen == [(False, False, attention._DROP_MODE[0])] * 3
    assert attention._drop_tile("dq", 64, False, False) == (64, 32, 4, 2)      # not the table's 64x64
    assert attention._drop_tile("fwd", 64, False, False) == (64, 64, 4, 2)      # (s3 drawing spilled on sm_80)
    assert attention._drop_tile("fwd", 64, False, False, sm90=True) == attention._CONFIGS["fwd"][64][0]


def test_dropout_tiles_on_hopper(monkeypatch):
    """With dropout, Hopper's half kernels at head dim 64 take the tiles they take without it
    (_CONFIGS_SM90, spill-free on sm_90 with scheme 4's mask read or drawn), but _DROP_CONFIGS_SM90's
    where those spilled (dK/dV with dQ by atomics) or sm_80's dropout tile differs (the forward, dK/dV
    at head dim 128); elsewhere _DROP_CONFIGS' tiles. The AOT specs compile Hopper's for sm_90 only."""
    from ttorch.ops import attention as A
    monkeypatch.setattr(A, "SIMULATED", False)
    half = ttorch.float16
    assert A._config("dkdv", 64, half, True, drop=True, sm90=True) == A._CONFIGS_SM90[("dkdv", 64, False)]
    assert A._config("dkdv", 64, half, True, drop=True) == A._DROP_CONFIGS[("dkdv", 64, 0, False)] == (16, 128, 8, 1)
    assert A._config("dkdv", 64, half, True, drop=True, dq=True, sm90=True) == \
        A._DROP_CONFIGS[("dkdv", 64, False, True)] == (32, 32, 8, 2)
    assert A._config("dkdv", 128, half, True, drop=True, sm90=True) == A._CONFIGS["dkdv"][128][0] == (16, 128, 8, 2)
    assert A._config("dkdv", 128, half, True, drop=True) == A._DROP_CONFIGS[("dkdv", 128, 0, False)] == (16, 32, 4, 2)
    assert A._config("dq", 64, half, True, drop=True, sm90=True) == (64, 64, 4, 3)
    assert A._config("fwd", 64, half, True, drop=True, sm90=True) == A._CONFIGS["fwd"][64][False] == (64, 64, 4, 3)
    assert A._config("fwd", 64, half, True, drop=True) == (64, 64, 4, 2)
    specs = [s for s in A._specs() if s.label.endswith(("dropout sm90", "dropout draw sm90"))
             and "tuned" not in s.label]
    tiles = {(A._attn_fwd_kernel, 64): (64, 64), (A._attn_bwd_dkdv_kernel, 64): (32, 128),
             (A._attn_bwd_dq_kernel, 64): (64, 64), (A._attn_fwd_kernel, 128): (128, 64),
             (A._attn_bwd_dkdv_kernel, 128): (16, 128)}
    assert len(specs) == 26 and all(s.min_cap == 90 and s.constexprs["DROP"] == A._DROP_MODE[0] and (
        s.constexprs["BLOCK_M"], s.constexprs["BLOCK_N"]) == tiles[s.kernel, s.constexprs["E"]] for s in specs)
    assert A._config("fwd", 128, half, True, drop=True, sm90=True) == (128, 64, 8, 3)
    assert A._config("fwd", 128, half, True, drop=True) == A._DROP_CONFIGS[("fwd", 128, 0, False)] == (64, 32, 4, 3)
    assert not [s for s in A._specs() if s.label.endswith("dq dropout sm90")]   # (Hopper's tile is sm_80's)
    # without dropout, the tuner's H200 winner where nothing is tuned (tuned winners first, as anywhere)
    assert A._config("dkdv", 64, half, True, sm90=True) == A._CONFIGS_SM90[("dkdv", 64, False)] == (32, 128, 8, 3)
    assert A._config("dkdv", 64, half, True, dq=True, sm90=True) == (32, 128, 8, 3)
    assert A._config("dkdv", 64, half, True) == A._CONFIGS["dkdv"][64][0]
    assert A._config("dkdv", 64, ttorch.float32, False, sm90=True) == A._CONFIGS["dkdv"][64][1]
    assert A._config("dkdv", 32, half, True, sm90=True) == A._CONFIGS["dkdv"][64][0]
    plain = [s for s in A._specs() if s.label.endswith(" sm90") and "dropout" not in s.label
             and "tuned" not in s.label and "float32" not in s.label]
    tiles = {A._attn_bwd_dkdv_kernel: (32, 128), A._attn_bwd_dq_kernel: (64, 64)}
    assert {s.kernel for s in plain} == set(tiles) and all(
        s.min_cap == 90 and s.num_stages == 3 and (s.constexprs["BLOCK_M"], s.constexprs["BLOCK_N"]) == tiles[s.kernel]
        for s in plain)
    # float32's dK/dV at head dim 128 (FMAs, dQ by atomics): the H100's 16x32 w4 on Hopper (584 B spilled
    # on sm_80), 32x16 w4 elsewhere; with dropout _DROP_CONFIGS' on both
    f32 = ttorch.float32
    monkeypatch.setattr(A, "_FP32_DOT", ["ieee"])
    assert A._config("dkdv", 128, f32, False, dq=True, sm90=True) == (16, 32, 4, 2)
    assert A._config("dkdv", 128, f32, False, dq=True) == A._CONFIGS["dkdv"][128][1] == (32, 16, 4, 2)
    assert A._config("dkdv", 128, f32, False, drop=True, dq=True, sm90=True) == \
        A._config("dkdv", 128, f32, False, drop=True, dq=True) == A._DROP_CONFIGS[("dkdv", 128, 1, True)]
    base = {s.label[:-5] for s in plain}                 # each beside its sm_80 twin at the table's tile
    assert base <= {s.label for s in A._specs()}
    # the half dQ at head dim 64: 64x64 w4 s3 on Hopper (16-20 B spilled on sm_80), the table's 64x32 elsewhere
    assert A._config("dq", 64, half, True, sm90=True) == (64, 64, 4, 3)
    assert A._config("dq", 64, half, True) == A._CONFIGS["dq"][64][0] == (64, 32, 4, 3)


def test_multi_head_tiles(monkeypatch):
    """A multi-head launch (one query head a K/V head: Triton's launcher compiles GROUP as the constant
    1, without the dK/dV kernel's loop over a head group) of the half dK/dV kernel without dropout or
    dQ by atomics takes _MHA_TILES' tile, per capability; grouped-query launches never do, not even
    as the tuner's winner, and fall back to the tables. The tuner tries them; the AOT specs compile
    each with GROUP 1 (Hopper's for sm_90 only)."""
    from ttorch.ops import attention as A
    from ttorch import tune
    half = ttorch.float16
    calls = []
    real = A._config
    monkeypatch.setattr(A, "_config", lambda kind, *a, **k: calls.append(
        (kind, a[6] if len(a) > 6 else k.get("mha"))) or real(kind, *a, **k))
    for span in (True, False):      # grouped-query launches too, without the loop over a head group
        monkeypatch.setattr(A, "_GQA_SPAN", [span])
        for H, Hkv in ((2, 2), (2, 1)):
            calls.clear()
            check("cuda" if HAS_CUDA else "cpu", 1, H, Hkv, 5, 6, 8, 8, causal=True, dtype=half, tol=2e-2)
            assert HAS_CUDA <= (("dkdv", H == Hkv or span) in calls)
    if HAS_CUDA:    # Hopper's multi-head launches take dQ by atomics (when on) up to head dim 128, not GQA's
        monkeypatch.setattr(A, "_DQ_ATOMIC_HALF", [True])
        monkeypatch.setattr(A, "_sm90", lambda index: True)         # (the simulated device keeps its tiles)
        real_launch, fused = A.launch, []
        monkeypatch.setattr(A, "launch", lambda k, *a, **m: (
            k is A._attn_bwd_dkdv_kernel and fused.append(m["DQ"])) or real_launch(k, *a, **m))
        for span in (True, False):
            monkeypatch.setattr(A, "_GQA_SPAN", [span])
            for H, Hkv in ((2, 2), (2, 1)):
                check("cuda", 1, H, Hkv, 5, 6, 72, 72, causal=True, dtype=half, tol=2e-2)   # (head dim 72: 128)
        assert fused == [True, False] * 2
        calls.clear()       # a spanned grouped-query launch with dQ by atomics keeps the tables' tiles
        check("cuda", 1, 2, 1, 5, 6, 8, 8, causal=True, dtype=half, tol=2e-2)
        assert fused[-1] is True and ("dkdv", False) in calls
        monkeypatch.undo()
    monkeypatch.setattr(A, "SIMULATED", False)
    assert A._config("dkdv", 128, half, True, sm90=True, mha=True) == (32, 128, 8, 2)
    assert A._config("dkdv", 128, half, True, sm90=True) == A._CONFIGS["dkdv"][128][0] == (16, 128, 8, 2)
    assert A._config("dkdv", 128, half, True, mha=True) == A._CONFIGS["dkdv"][128][0]           # (sm_80: none)
    assert A._config("dkdv", 64, half, False, sm90=True, mha=True) == (64, 128, 8, 2)
    assert A._config("dkdv", 64, half, False, sm90=True) == A._CONFIGS_SM90[("dkdv", 64, 0)]
    assert A._config("dkdv", 64, half, False, mha=True) == (32, 128, 8, 2)
    assert A._config("dkdv", 64, half, False) == A._CONFIGS["dkdv"][64][0] == (32, 64, 8, 2)
    assert A._config("dkdv", 64, half, False, dq=True, sm90=True, mha=True) == (64, 128, 8, 2)   # (GROUP 1)
    assert A._config("dkdv", 64, half, False, dq=True, sm90=True) == A._CONFIGS_SM90[("dkdv", 64, 0)]
    assert A._config("dkdv", 64, half, False, drop=True, sm90=True, mha=True) == \
        A._drop_tile("dkdv", 64, 0, False, True)
    assert A._config("dkdv", 64, ttorch.float32, False, mha=True) == A._CONFIGS["dkdv"][64][1]
    assert A._config("dq", 64, half, False, sm90=True, mha=True) == A._CONFIGS_SM90[("dq", 64, 0)]
    monkeypatch.setattr(A, "_FP32_DOT", ["tf32x3"])     # TF32 x 3 on Hopper, not with dQ by atomics
    assert A._config("dkdv", 64, ttorch.float32, False, sm90=True, mha=True) == (32, 128, 8, 2)
    assert A._config("dkdv", 64, ttorch.float32, False, dq=True, sm90=True, mha=True) == A._CONFIGS["dkdv"][64][2]
    assert A._config("dkdv", 64, ttorch.float32, False, mha=True) == A._CONFIGS["dkdv"][64][2]
    monkeypatch.setattr(A, "_FP32_DOT", ["ieee"])
    # a tuned multi-head tile serves multi-head launches only
    monkeypatch.setattr(tune, "lookup", lambda name, b: A._as_config((32, 128, 8, 1)) if b[0] == "dkdv" else None)
    assert A._config("dkdv", 128, half, True, sm90=True, mha=True) == (32, 128, 8, 1)
    assert A._config("dkdv", 128, half, True, sm90=True) == (16, 128, 8, 2)
    assert A._config("dkdv", 128, half, True) == (32, 128, 8, 1)        # (not sm_80's: the tuner's own device)
    for sm90, cap in ((True, 90), (False, 80)):
        monkeypatch.setattr(A, "_sm90", lambda index, v=sm90: v)
        for (kind, e, c), per_cap in A._MHA_TILES.items():
            space = [A._tile(t) for t in A._tune_configs((kind, ("bfloat16", "", "tf32x3")[c], e, True))]
            table = A._TUNE_SPACE[kind][e] if c == 0 else [] if cap == 80 else [A._CONFIGS_SM90.get((kind, e, 2))]
            table = table + (A._TUNE_SPACE_X3[kind] if c == 2 else [])
            assert space == [t for t in table if t] + per_cap.get(cap, [])
            assert not set(per_cap.get(cap, [])) & set(table)      # (spill-free with a group)
    specs = [s for s in A._specs() if s.label.endswith(" mha")]
    half_ = [s for s in specs if s.constexprs.get("PREC") != "tf32x3"]
    want = {(e, t, cap) for (_, e, c), per_cap in A._MHA_TILES.items() for cap, ts in per_cap.items() for t in ts
            if c == 0}
    got = {(s.constexprs["E"], (s.constexprs["BLOCK_M"], s.constexprs["BLOCK_N"], s.num_warps, s.num_stages),
            s.min_cap or 80) for s in half_}
    other = {(128, t, 90) for t in A._TUNE_SPACE["dkdv"][128]}     # dQ by atomics at 128: the other tiles
    assert got == want | other and all(s.constexprs["GROUP"] == 1 for s in specs)
    assert len(half_) == 8 * len(want) + 4 * len(other) + 4        # (fp16/bf16, causal or not, dQ or not)
    dq128 = [s for s in specs if s.constexprs["E"] == 128 and s.constexprs["DQ"] and not s.constexprs.get("DROP")]
    assert len(dq128) == 4 * (len(A._MHA_TILES[("dkdv", 128, 0)][90]) + len(other))
    every = {s.label: s for s in A._specs()}          # grouped-query twins: GROUP as launched, spanned
    half_only = [s for s in specs if not s.constexprs["DQ"] and s.constexprs.get("PREC") != "tf32x3"]
    twins = [every.get(s.label[:-len(" mha")] + " gqa") for s in half_only]
    assert all(t is not None and t.constexprs["GQA"] and "GROUP" not in t.constexprs for t in twins)
    assert not [s for s in specs if s not in half_only and s.label[:-len(" mha")] + " gqa" in every]
    plain = [s for label, s in every.items() if label.startswith("dkdv") and not label.endswith((" mha", " gqa"))]
    spanned = [s for s in plain if "dropout" not in s.label and "float32" not in s.label]
    assert spanned and all(every[s.label + " gqa"].constexprs["GQA"] for s in spanned)
    assert not [s for s in plain if s not in spanned and s.label + " gqa" in every]    # (FMAs, dropout: looped)
    x3 = [s for s in specs if s.constexprs.get("PREC") == "tf32x3"]
    assert len(x3) == 2 * len(A._MHA_TILES[("dkdv", 64, 2)][90]) and not any(s.constexprs["DQ"] for s in x3)
    drop = [s for s in specs if s.constexprs.get("DROP")]          # with dropout, the mask read and drawn
    assert len(drop) == 4 and {s.constexprs["BITS"] for s in drop} == {0, 2} and all(s.constexprs["DQ"] for s in drop)


def test_hopper_only_tune_tiles(monkeypatch):
    """Tiles that spill on sm_80 but not on sm_90 (_TUNE_SPACE_SM90, _TUNE_SPACE_FP32_SM90) are tuned on
    Hopper only, and compiled for sm_90 alone; every other tile of the spaces on both."""
    from ttorch.ops import attention as A
    specs = {s.label: s for s in A._specs()}
    for space, hopper, dt in ((A._TUNE_SPACE, A._TUNE_SPACE_SM90, "float16"),
                              (A._TUNE_SPACE_FP32, A._TUNE_SPACE_FP32_SM90, "float32")):
        for kind, per_e in hopper.items():
            for e, tiles in per_e.items():
                for sm90 in (False, True):
                    monkeypatch.setattr(A, "_sm90", lambda index, v=sm90: v)
                    got = [A._tile(c) for c in A._tune_configs((kind, dt, e, True))]
                    assert got[:len(space[kind][e])] == space[kind][e]
                    assert (set(tiles) <= set(got)) is sm90 and not set(tiles) & set(space[kind][e])
                for t in tiles:
                    bm, bn, w, st = t
                    hit = [s for label, s in specs.items() if label.startswith(f"{kind} ttorch.{dt} e{e}")
                           and f"tuned {bm}x{bn} w{w} s{st}" in label and "dropout" not in label]
                    assert hit and all(s.min_cap == 90 for s in hit)


def record_launches(monkeypatch):
    """(kernel, BITS) of each dropout mask and attention kernel launch, in order, as they happen."""
    from ttorch.ops import attention as A
    seen, real = [], A.launch
    names = {A._drop_mask_kernel: "mask", A._attn_fwd_kernel: "fwd", A._attn_bwd_dkdv_kernel: "dkdv",
             A._attn_bwd_dq_kernel: "dq"}
    monkeypatch.setattr(A, "launch", lambda k, *a, **m: (k in names and seen.append((names[k], m.get("BITS"))))
                        or real(k, *a, **m))
    return seen


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("causal,dq_atomic", [(False, True), (True, False)])
def test_dropout_mask_saved_for_the_backward(causal, dq_atomic, monkeypatch):
    """Scheme 4's mask kernel writes a byte a draw for the forward and backward (attention._DROP_SAVE),
    bit 4n + 2e + h for query 16A + 8h + a, key 16K + 8n + 2c + e of draw (8A + a, 4K + c), equal to
    NumPy's mask (causal: the blocks after the diagonal are not drawn); the kernels that read it (BITS
    2) give the outputs and gradients of those that draw, bit for bit (dQ by the dK/dV kernel's atomics
    to their order, and by its own kernel)."""
    from ttorch.ops import attention as A
    monkeypatch.setattr(A, "_FP32_DOT", ["ieee"])          # (_DQ_ATOMIC: the FMA kernels')
    monkeypatch.setattr(A, "_DQ_ATOMIC", [dq_atomic])
    B, H, L, S, p, pair = 2, 3, 19, 37, 0.3, (5, 1 << 40 | 9)
    r = np.random.default_rng(8)
    arrays = [r.standard_normal((B, H, n, 8)) for n in (L, S, S)]
    seen = record_launches(monkeypatch)
    q, k, v = (leaf(a, "cuda") for a in arrays)
    o, lse, bits = A._attn_op(q, k, v, None, scale=0.3, causal=causal, dropout_p=p, philox=pair)
    na, nk = -(-L // 16), -(-S // 16)
    assert bits.dtype is ttorch.uint8 and bits.numel() == A._drop_bytes(B, H, L, S) == B * H * 8 * na * 4 * nk
    got = (to_np(bits).reshape(B, H, na, 8, nk, 4, 1) >> np.arange(8, dtype=np.uint8) & 1).astype(bool)
    got = got.reshape(B, H, na, 8, nk, 4, 2, 2, 2).transpose(0, 1, 2, 8, 3, 4, 6, 5, 7)    # (A, h, a, K, n, c, e)
    got = got.reshape(B, H, 16 * na, 16 * nk)[:, :, :L, :S]
    want = A._np_kept((B, H, L, S), p, pair)
    drawn = np.kron(np.tril(np.ones((na, nk), bool)) if causal else np.ones((na, nk), bool),
                    np.ones((16, 16), bool))[:L, :S]
    assert np.array_equal(got[..., drawn], want[..., drawn])
    o.backward(ttorch.ones_like(o))
    assert seen == [("mask", None), ("fwd", 2), ("dkdv", 2)] + ([] if dq_atomic else [("dq", 2)])
    saved = [to_np(o)] + [to_np(t.grad) for t in (q, k, v)]
    monkeypatch.setattr(A, "_DROP_SAVE", [False])
    seen.clear()
    q, k, v = (leaf(a, "cuda") for a in arrays)
    out = flash_attention(q, k, v, scale=0.3, is_causal=causal, dropout_p=p, philox=pair)[0]
    out.backward(ttorch.ones_like(out))
    assert seen == [("fwd", 0), ("dkdv", 0)] + ([] if dq_atomic else [("dq", 0)])
    for a, b in zip(saved[:1] + saved[2:], (out, k.grad, v.grad)):
        assert np.array_equal(a, to_np(b))
    np.testing.assert_allclose(saved[1], to_np(q.grad), rtol=1e-6, atol=1e-7)    # (atomics: any order on a GPU)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_dropout_mask_saved_only_for_a_backward_and_within_its_size(monkeypatch):
    from ttorch.ops import attention as A
    seen = record_launches(monkeypatch)
    monkeypatch.setattr(A, "_DQ_ATOMIC", [False])
    q = ttorch.randn(1, 2, 6, 4, device="cuda")
    flash_attention(q, q, q, dropout_p=0.2)                                  # nothing records: no mask kept
    with ttorch.no_grad():
        flash_attention(q.requires_grad_(), q, q, dropout_p=0.2)
    assert seen == [("fwd", 0)] * 2
    seen.clear()
    flash_attention(q, q, q, dropout_p=0.2)[0].sum().backward()
    assert seen == [("mask", None), ("fwd", 2), ("dkdv", 2), ("dq", 2)]
    # L * S / 8 bytes (3200) past what Q, K, V and O hold (4 * 160 * 4 bytes at head dim 1): drawn in
    # every kernel; so are the other draw schemes'
    seen.clear()
    w = ttorch.randn(1, 1, 160, 1, device="cuda", requires_grad=True)
    assert A._drop_bytes(1, 1, 160, 160) > 4 * 160 * 4
    flash_attention(w, w, w, dropout_p=0.2)[0].sum().backward()
    monkeypatch.setattr(A, "_DROP_MODE", [3])
    flash_attention(q, q, q, dropout_p=0.2)[0].sum().backward()
    assert seen == [("fwd", 0), ("dkdv", 0), ("dq", 0)] * 2


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
def test_dropout_tunes_apart(monkeypatch):
    """Half dropout is its own tuner dtype ("+drop"): the untuned dropout tile first, then
    _DROP_TUNE_SPACE's; the bench times the forward with its mask kernel and the backward reading the
    saved mask; a stored winner serves dropout launches (not those with dQ by atomics), and a
    no-dropout winner does not."""
    from ttorch import tune
    from ttorch.ops import attention as A
    t = tune.registered()["flash_attention"]
    b = t.key("dkdv", "float16+drop", 1, 2, 20, 16, True)
    assert b == ("dkdv", "float16+drop", 16, True)
    cfgs = t.configs(b)
    assert [A._tile(c) for c in cfgs][0] == A._drop_tile("dkdv", 16, 0, False) and A._tile(t.heuristic(b)) == \
        A._tile(cfgs[0])
    seen = record_launches(monkeypatch)
    for kind in ("fwd", "dkdv"):
        run = A._tune_bench(cfgs[0], kind, "float16+drop", 1, 2, 20, 16, True)
        seen.clear()
        run()
        assert seen == ([("mask", None), ("fwd", 2)] if kind == "fwd" else [("dkdv", 2), ("dq", 2)])
    A._tune_bench(cfgs[0], "fwd", "float16", 1, 2, 20, 16, True)()
    assert seen[-1] == ("fwd", 0)
    monkeypatch.setattr(A, "SIMULATED", False)
    monkeypatch.setitem(tune._section(), "flash_attention", {b: A._as_config((32, 32, 4, 2)),
                                                             ("dq", "float16", 64, True): A._as_config((16, 16, 4, 1))})
    half = ttorch.float16
    assert A._config("dkdv", 16, half, True, drop=True) == (32, 32, 4, 2)
    assert A._config("dkdv", 16, half, True, drop=True, dq=True) == A._drop_tile("dkdv", 16, 0, True)
    assert A._config("dq", 64, half, True, drop=True) == A._drop_tile("dq", 64, 0, False)
    assert A._config("dq", 64, half, True) == (16, 16, 4, 1)


@pytest.mark.skipif(not HAS_CUDA, reason="needs the cuda device")
@pytest.mark.parametrize("save,dq_atomic", [(True, False), (False, True), (True, True)])
def test_dropout_at_a_gpus_tiles(save, dq_atomic, monkeypatch):
    """Scheme 4 at tiles of several 16 x 16 blocks each way (the simulated device's own are one block):
    the forward, dK/dV (keys as rows; dQ by its atomics too) and dQ kernels read or draw the same mask as
    NumPy's, ragged edges and all."""
    from ttorch.ops import attention as A
    monkeypatch.setattr(A, "_FORCE", {"fwd": (64, 32, 4, 1), "dkdv": (32, 64, 4, 1), "dq": (32, 64, 4, 1)})
    monkeypatch.setattr(A, "_DROP_SAVE", [save])
    monkeypatch.setattr(A, "_DQ_ATOMIC", [dq_atomic])
    check_drop("cuda", 1, 2, 1, 70, 83, 8, 8, causal=True, dtype=ttorch.float32, tol=1e-5)
    check_drop("cuda", 1, 1, 1, 37, 100, 8, 8, dtype=ttorch.float32, tol=1e-5)
