"""Flash attention: ``softmax(Q K^T * scale + bias) V`` in Triton kernels that never hold the scores.

Inputs are ``q`` (B, H, L, E), ``k`` (B, Hkv, S, E), ``v`` (B, Hkv, S, Ev), any strides but a unit
last one; query head ``h`` reads key/value head ``h // (H // Hkv)`` (grouped-query attention). The
bias is the causal mask (top-left aligned: key ``j`` takes part for query ``i`` when ``j <= i``), a
bool mask (True takes part) or a float mask added to the scores, broadcast to (B, H, L, S) with
stride-0 dims. A row whose every key is masked gives zeros and logsumexp ``-inf`` (PyTorch's
safe softmax).

Forward (FlashAttention-2): one program per block of query rows walks the K/V tiles keeping the
running max ``m``, the sum ``l`` of ``exp(s - m)`` and the output accumulator (rescaled when ``m``
grows); it writes ``O`` and ``LSE = m + log l`` in float32. Backward: ``delta = rowsum(dO * O) -
dLSE``, then one program per K/V block accumulates ``dK``/``dV`` over every query block of its
head group (no atomics: deterministic), and one program per query block accumulates ``dQ``; both
recompute ``P = exp(s - LSE)``. ``dS = P * (dP - delta)``. float32's products run (``_FP32_DOT``
"tf32x3", head dim up to 64) on the tensor cores in three TF32 products, as PyTorch's memory-efficient
kernels do on sm_80 and later, else on the FMAs; there the dK/dV kernel adds each block's share of
``dQ`` by atomics instead (``_DQ_ATOMIC``; no dQ kernel): its last bits may vary from run to run, as
in PyTorch's memory-efficient attention backward (deterministic mode runs the dQ kernel). When the
backward is itself differentiated (``create_graph``) or a float mask needs its gradient, the same
formula runs in ttorch ops instead. float64 has no kernel (cuda runs that composite).

Dropout (``dropout_p``): ``O = (P * M) V`` with ``M`` = keep / (1 - p), kept pairs drawn by Philox
from a (seed, offset) pair the device's generator hands the call (``philox``). When a graph records
the call, one kernel draws the mask and keeps it as bits (L x S / 8 bytes a head) for the forward and
backward kernels to read (``_DROP_SAVE``); otherwise, or past the size of Q, K, V and O, each kernel
draws the pairs it touches from the same pair (``_attention_kernels._kept``): ``dV = (P * M)^T dO``,
``dP = (dO V^T) * M``, ``dS = P * (dP - delta)`` with ``delta = rowsum(dO * O)`` as before. The NumPy
fallback draws the same mask (``_np_kept``), so cpu and cuda agree for a given pair.
"""
import contextlib
import functools

import numpy as np

from .. import _dtype as D, _deterministic as _det, tune
from ..autograd import grad_mode
from .._tensor import Tensor
from ..cuda import _driver
from ._launch import launch, cdiv, next_pow2, SIMULATED, _TensorDescriptor
from ._op import Op
from .elementwise import copy_into
from .views import span
from .samples import Sample, rng
from .random import philox_np, _gen
from ._attention_kernels import _attn_fwd_kernel, _attn_bwd_pre_kernel, _attn_bwd_dkdv_kernel, _attn_bwd_dq_kernel, \
    _drop_mask_kernel

MAX_HEAD_DIM = 256
_NEG_INF = float("-inf")


# ------------------------------------------------------------------------------ configurations
def _hd(n):
    return max(16, next_pow2(n))    # tl.dot needs every dim >= 16


# (BLOCK_M, BLOCK_N, num_warps, num_stages) per kernel, head dim bound and half/fp32 operands, chosen
# by compiling for sm_90 (python -m ttorch.ops --compile): no register spills (ptxas's spill stores,
# in every variant the specs compile), shared memory within sm_80's 163 KiB. dK/dV: BLOCK_M queries
# stream past BLOCK_N resident keys; dQ: the reverse. float32 products run on FMAs
# (input_precision="ieee"), whose tiles live in registers: smaller.
# The H100's tuned winners where they don't spill: half types at the harness's shape (B 4, 16 heads,
# T 2048, causal), float32 at the GPT-2-like step's (B 8, 12 heads, T 1024, causal, head dim 64: 32x32
# w4 for all three kernels). Where the winner spilled, the nearest tile that doesn't (unmeasured):
# half dK/dV head dim 64 32x64 w8 s2 (w4 spilled 12-60 B; s3 4 B with dQ by atomics on Triton 3.6),
# 128 16x128 w8 (64x64 w8: 140-180 B; 128 resident keys halve the passes over Q and dO, and its 128-row
# products suit Hopper's wgmma);
# float32 forward 32x32 w8 (w4: 4 B), dK/dV 32x32 w8 (w4: 1.5-1.8 KiB); head dim 128 forward 32x16 w4
# (64x32 w8: 14 KiB), dK/dV 32x16 w4 (the H100's winner 16x32 w4, which spilled 68 B until the float32
# dK/dV kernel took one loop, still spills 584 B on sm_80 with dQ by atomics: Hopper keeps it,
# _CONFIGS_SM90; 32x16 w4 is spill-free on both with 3.6 and 3.9, with dQ by atomics or not, at about
# the same loop instructions a pair), dQ 32x32 w8 (w4: 4 B); head dim 256 forward 32x16 w8.
# float32 in TF32 x 3 (the third column, head dim 64 only: _FP32_DOT), spill-free on sm_80 and sm_90
# (Triton 3.9; registers sm_80/sm_90, causal): forward 32x64 w4 216/217 (64x64 w4 spilled 2.2 KiB on
# sm_80, 64x32 w4 344 B, 32x32 w4 36 B on sm_90), dK/dV 32x32 w8 180/198 (32x64 w8 1.5 KiB / 100 B,
# 64x32 w8 none, 255 registers; 32x32 w4 and 16x32 w4 none), dQ 32x32 w4 250/248 (64x32 w4 436 B on
# sm_80, none on sm_90).
_CONFIGS = {
    "fwd": {64: ((64, 64, 4, 3), (32, 32, 8, 2), (32, 64, 4, 2)), 128: ((64, 64, 4, 3), (32, 16, 4, 2)),
            256: ((64, 32, 8, 2), (32, 16, 8, 1))},
    "dkdv": {64: ((32, 64, 8, 2), (32, 32, 8, 2), (32, 32, 8, 2)), 128: ((16, 128, 8, 2), (32, 16, 4, 2)),
             256: ((16, 32, 4, 1), (16, 16, 4, 1))},
    "dq": {64: ((64, 32, 4, 3), (32, 32, 4, 2), (32, 32, 4, 2)), 128: ((64, 32, 4, 2), (32, 32, 8, 2)),
           256: ((32, 32, 8, 1), (16, 16, 4, 1))},
}


# float32 products run on the FMA units, where a B operand stored with its K dimension contiguous
# (x @ W^T) ran at half the speed of a row-major one in the GEMM on an H100 (22 against 43 TFLOP/s).
# Attention's S = Q K^T, dP = dO V^T (dQ kernel) and S^T = K Q^T, dP^T = V dO^T (dK/dV kernel) all
# take such a B; in float32 they read it from an (E, N) copy made before the launch instead (the
# copies cost one pass over Q, K, V and dO). On an H100 at the GPT-2-like step's shape (B 8, 12 heads,
# T 1024, head dim 64, causal): forward 0.57 ms against 1.28 reading in place, forward and backward 2.48
# against 6.04. False restores the plain reads.
# A copy pays only when the kernel reads it many times (once per program's block along the other
# axis): decoding (one query) keeps the plain reads.
_T_COPY = [True]
_T_COPY_MIN_READS = 4       # tests lower it


# float32 dQ from the dK/dV kernel: each key block adds its share, scale * dS K, into a zeroed float32
# dQ by atomics, so the scores and dP are computed once (the dQ kernel recomputes both: 3 of the 7
# products). On an H100 at the GPT-2-like step's shape the two kernels took 12.1 and 8.5 ms of the
# step's 182. The atomics' order varies, so dQ may differ in its last bits from run to run (as in
# PyTorch's memory-efficient attention backward). False: the dQ kernel, deterministic.
_DQ_ATOMIC = [True]
# The same for float16/bfloat16, into a float32 workspace that is cast to dQ after: off until timed on
# a GPU (the head-dim-128 half backward ran at 0.56x PyTorch's speed on an H100; gpu_quick A/Bs it).
_DQ_ATOMIC_HALF = [False]
# The dQ kernel's key blocks that need no mask (inside S, wholly at or before the block's first query)
# run in a loop of their own, as the forward's do (SPLIT). Its loop a 4096-pair block (sm_90, fp16 head
# dim 64 causal, Hopper's 64x64 w4 s3, Triton 3.9) falls from 457 instructions to 281 (3.6: 428 to
# 251), head dim 128 (64x32 w4 s2) from 332 to 238; registers 127 -> 145 there, 3 programs an SM either
# way (its 64 KiB of shared memory allow 3), and the tuner times its tiles with it. TF32 x 3 too (sm_90
# 128x32 w8 s2 888 -> 780, 3.6 869 -> 760, one program an SM either way; sm_80 32x32 w4 786 -> 726,
# spill-free on both with 3.6 and 3.9), without dropout (its 32x32 w4 reading the mask spilled 12 B on
# sm_90 with 3.9, for 977 -> 961). Not float32 on the FMAs: there the masks were no cost (1986 ->
# 1995) and registers went 96 -> 242; nor dropout drawing its mask in the kernel (no graph, or a mask
# too big to keep: the rare case), whose half head dim 128 tile then spilled 4-8 B on sm_80. An earlier
# one-loop choice (128 -> 180 registers with an older kernel) was never timed; gpu_quick's dq_one_loop
# arm is the other side. False: one loop with every mask.
_DQ_SPLIT = [True]


def _dq_split(c, dropout, drawn):
    """Whether a dQ launch (``_cls`` ``c``; with ``dropout``, ``drawn`` in the kernel) takes ``_DQ_SPLIT``."""
    return _DQ_SPLIT[0] and (c == 0 and not drawn or c == 2 and not dropout)


# Causal grids run their longest programs first (_grid, the kernels' _lpt): in sections of as many heads
# as keep their streamed operands (K and V for the forward and dQ, Q and dO for dK/dV) within this many
# bytes of L2 and divide the grid's heads, every head's longest block, then every head's next. Heads
# one after another, each longest first, left the last head's long blocks to the tail: a
# list-scheduling model (benchmarks/grid_order.py) of the harness's fp16 B4 H16 T2048 forward (head dim
# 64: 32 query blocks a head, 3 programs an SM on 132 SMs) ends 12% sooner, head dim 128's (16 blocks,
# 2 an SM) 20%, and sections of 32 heads as soon as one of all 64: 16 MiB is a third of an H100's L2.
# Unmeasured on a GPU yet; 0 gives each head a section (the order before: gpu_quick's head_order arms).
_LPT_L2 = [16 << 20]


def _sections(heads, per_head):
    """Heads a section of a causal grid takes (``_LPT_L2``): the most that hold ``per_head`` bytes
    each in the budget and divide the grid's heads (a batch times heads has many divisors; a prime
    count past the budget goes a head a section, the order before)."""
    return _largest_divisor(heads, max(1, _LPT_L2[0] // max(1, per_head)))


@functools.lru_cache(maxsize=256)
def _largest_divisor(n, most):
    return n if n <= most else next(d for d in range(most, 0, -1) if n % d == 0)


def _ordered(kind, causal, dropout):
    """Whether a launch of kernel ``kind`` takes the ``_lpt`` order where ``_grid`` allows: causal,
    and not dK/dV with dropout (its Hopper tile, 32x64 w8 s2 at 253 registers, took 255 in that order
    with Triton 3.6 and spilled 40 B)."""
    return bool(causal) and not (kind == "dkdv" and dropout)


def _grid(blocks, heads, causal, per_head):
    """The attention kernels' grid over ``blocks`` a head of ``heads`` and their ``LPT``: flat, each
    head's blocks together; causal, (heads a section, blocks, sections), the kernels' ``_lpt`` order,
    where CUDA's grid allows (65535 on its y and z axes: past a million rows a head the flat order)."""
    sec = _sections(heads, per_head) if causal else 0
    if not sec or blocks > 65535 or heads // sec > 65535:
        return (blocks * heads,), False
    return (sec, blocks, heads // sec), True


# The half forward on Hopper with K and V tiles by TMA (the copy engine computes their addresses and
# zero-fills past the tensor): K and V seen as 2-D (rows, head dim) descriptors, which needs each
# head's first row a whole number of rows from the base (contiguous heads, or any layout whose batch
# and head strides are multiples of the row stride; not q, k, v split from one projection) and
# 16-byte aligned rows. Off until timed: the fp16 forward ran at 0.81-0.83x PyTorch's speed on an
# H100 with pointer loads (cp.async); gpu_quick A/Bs it. A forward with descriptors is not planned.
_FWD_TMA = [False]
# The same for the dK/dV kernel's Q and dO tiles (each key block streams its head group's queries), and
# for the dQ kernel's K and V (``_DQ_TMA``; 156 registers at head dim 128 against the pointer loads'
# 128 on sm_90): off until timed (the head-dim-128 half backward ran at 0.56x PyTorch's speed on an
# H100; gpu_quick A/Bs each).
_BWD_TMA = [False]
_DQ_TMA = [False]
# The half dK/dV kernel takes dQ by atomics (_DQ_ATOMIC_HALF) or Q and dO by TMA (_BWD_TMA) up to this
# head dim: at 128 either spilled 8-212 B a thread on sm_90 with every tile but 32x32 w8 (whose 32
# resident keys double the passes over Q and dO), so head dim 128 keeps the plain kernel.
_SWITCHED_DKDV_MAX_E = 64
# On Hopper, multi-head launches (GROUP 1: see _MHA_TILES) of the half dK/dV kernel may take dQ by
# atomics up to this head dim: at 128 its tiles compile without spilling there (16x128 w8 s2 224-236
# registers, 32x128 w8 s2 244-250; sm_80 16-32 B spilled; grouped-query launches 12-28 B, spanned)
_MHA_DQ_ATOMIC_MAX_E = 128
# Grouped-query launches (H / Hkv heads a K/V head) of the half dK/dV kernel without dropout run each
# range of query blocks as one loop over (head, block) pairs (its GQA constexpr, _dkdv_span), not a
# loop over the group's heads around the block loops: that outer loop held 36-95 registers more a
# thread (sm_90, fp16, head dim 64 32x128 w8 s3: 239 against 140; the multi-head launch's 144), so they
# take _MHA_TILES' tiles as multi-head launches do, for a few instructions an iteration (the head's
# pointers; sm_90 fp16 head dim 128 32x128 w8 s2: 20.3 loop instructions a pair against 17.6
# multi-head, and 26.9 with 16x128 w8 s2 before). Not float32 (on FMAs one loop there,
# Triton 3.6 spilled 8-16 B spanned; TF32 x 3's 32x128 w8 s2 4 B with every int 1) nor dropout (a tuned
# tile drawing the mask spilled 4-16 B on sm_80). False: the outer loop, the tables' tiles.
_GQA_SPAN = [True]
# The forward's unmasked key blocks with a positive scale: each row's maximum taken of the raw products,
# then scaled (the max commutes with a positive scaling), so the exponent is one FMA, ``qk * c - m``,
# one FP32 multiply a score fewer (the FP32 units and exp2 bound FlashAttention-2's forward on Hopper
# beside the tensor cores; Triton's tutorial kernel does the same). "causal": causal launches only.
# Their loop (sm_90, fp16 head dim 64, 64x64 w4 s3) falls from 346 to 316 instructions a 4096-pair
# block (Triton 3.9; 3.6: 330 to 300), 128x128 w8 s3 from 539 to 477, at the same registers: every
# causal forward tile the specs hold keeps its occupancy on sm_90 with 3.6 and 3.9 (at most 3 more
# registers, 12 at 128x32 w8 head dim 128, one program an SM either way). Without causality the
# default tile goes from 126 to 135 registers (3.6: 128 to 134), 4 programs an SM to 3, so those
# launches keep the scaled scores. Untimed: gpu_quick's scaled_max arms (False) A/B it. True: every
# launch with a positive scale; False: none.
_RAW_MAX = ["causal"]


def _raw_max(causal):
    """Whether a forward launch (without dropout, with a positive scale) takes ``_RAW_MAX``'s maxima."""
    return _RAW_MAX[0] is True or _RAW_MAX[0] == "causal" and bool(causal)


# float32's products: "tf32x3", on the tensor cores in three TF32 products (each operand split into a
# TF32 high part and the TF32 rest; hi*hi + hi*lo + lo*hi, float32 accumulators: close to float32's
# rounding, a relative error near 2**-22 where one TF32 product's is 2**-11), as PyTorch's float32
# memory-efficient attention does on sm_80 and later (CUTLASS's OpMultiplyAddFastF32); or "ieee", the
# FMA units (exact float32 products; every float32 choice above, the transposed copies and the smaller
# tiles, is for these). On the H200 the FMA kernels took 7.8 ms (forward) and 18.0 (backward) of the
# GPT-2-like step against PyTorch's 5.8 and 13.4. "tf32x3" by default on static counts, untimed: at that
# step's shape (B 8, 12 heads, T 1024, head dim 64, causal) its three kernels' loops take 42.7 + 77.4 +
# 51.1 = 171 SASS instructions a (query, key) pair on sm_90 against 198 + 473 = 671 on the FMAs (forward,
# dK/dV with dQ by atomics; Triton 3.9), and PyTorch computes float32 attention so; gpu_quick's fp32x3_
# arms A/B the two ("ieee" is the other side). Triton's TF32 x 3 holds each operand twice (its high and
# low parts), and no tile larger than the FMA kernels' compiled without spilling on sm_80 and sm_90
# alike (see _CONFIGS). Up to head dim _X3_MAX_E: at 128 every dK/dV and dQ tile tried spilled (36 B-12
# KiB a thread; 16x32 to 64x64), so float32 stays on the FMAs there. Tuned tiles are kept apart:
# "tf32x3" is its own dtype name in the tuner's cache.
_FP32_DOT = ["tf32x3"]
_X3_MAX_E = 64


def _cls(dtype, e):
    """The tile class of an operand dtype at padded head dim ``e``: 0 half types, 1 float32 on FMAs,
    2 float32 on tensor cores (TF32 x 3): the column of ``_CONFIGS``, the third item of
    ``_DROP_CONFIGS``' keys."""
    if dtype is not D.float32:
        return 0
    return 2 if _FP32_DOT[0] == "tf32x3" and e <= _X3_MAX_E else 1


def _prec(dtype, e):
    return "tf32x3" if _cls(dtype, e) == 2 else "ieee"


def _tname(dtype, e):
    """The dtype's name in the tuner's keys: "tf32x3" for float32 on tensor cores."""
    return "tf32x3" if _cls(dtype, e) == 2 else dtype.name


def _t_copy(dtype, e, reads):
    return _cls(dtype, e) == 1 and _T_COPY[0] and reads >= _T_COPY_MIN_READS


# Attention dropout's draw scheme (``_attention_kernels._kept``'s DROP): 1, a Philox4x32-10 draw per 4
# keys of a row (the top 24 bits of a word each); 2, the same with 7 rounds; 3, a 7-round draw per 4
# keys of two rows (16 bits each: the keep probability to 2**-16). The Philox arithmetic, not the
# products, bounded the tiles with the mask: on the H200 (fp16, B 4, 16 heads, T 2048, head dim 64,
# causal, p 0.1) the forward took 0.341 ms with scheme 1 and 0.268 with 3, the forward and backward
# 1.730, 1.683 (2) and 1.642 (3), against 0.918 without dropout. Scheme 3 draws half of scheme 1's
# words in 7 rounds of 10 (about a third of the arithmetic); Random123's paper lists 7 rounds as the
# fewest with which Philox4x32 passes TestU01's BigCrush (10 is its default, with margin).
# 4 (``_kept4``): scheme 3's draw (7 rounds, 16 bits a pair, 8 pairs a draw) over the pairs a thread holds
# of the tensor cores' accumulator tile, so the mask meets the scores with no layout conversion (schemes
# 1-3 moved it through shared memory: in the dQ kernel's loop, of the 224 instructions dropout added on
# sm_90, about 146 were that move and 78 the draw), and its bits can be saved (``_DROP_SAVE``).
_DROP_MODE = [4]
# Scheme 4's mask saved for the backward: drawn once by its own kernel (``_drop_mask_kernel``: a byte a
# draw, L * S / 8 bytes a head) and read by the forward, dK/dV and dQ kernels, where each drew it anew
# (on the H200 the forward took 0.268 ms with scheme 3's draws and 0.117 without; the backward's two
# kernels drew for 0.53 ms more than without dropout). Only when a graph records the call and the bytes
# are at most what the backward holds anyway, Q, K, V and O (in half types at head dim 64, S <= 4096);
# otherwise every kernel draws.
_DROP_SAVE = [True]
_MASK_TILE = (16, 64)   # a _drop_mask_kernel program's draws: 16 draw rows (32 queries) by 64 (256 keys)


def _drop_args(dropout_p, philox, mode=None):
    """(seed, d_lo, d_hi, keep_t, rkeep) as the kernels take them (see ``_attention_kernels._kept``): the
    offset's words as int32 bit patterns, the high one tagged by its top bit; the keep threshold out of
    2**24 (schemes 1, 2) or 2**16 (3); 1 / keep. Zeros and 1.0 without dropout (the kernels read none)."""
    if not dropout_p:
        return 0, 0, 0, 0, 1.0
    mode = _DROP_MODE[0] if mode is None else mode
    seed, off = philox
    lo, hi = off & 0xFFFF_FFFF, (off >> 32) & 0x7FFF_FFFF | 0x8000_0000
    return (seed, lo - (lo >> 31 << 32), hi - (1 << 32), round((1.0 - dropout_p) * (1 << (16 if mode >= 3 else 24))),
            1.0 / (1.0 - dropout_p))


def _drop_draws(L, S):
    """Scheme 4's draws a head (``_attention_kernels._kept4``): (rows, columns), 8 and 4 a 16 x 16 block."""
    return 8 * cdiv(L, 16), 4 * cdiv(S, 16)


def _drop_bytes(B, H, L, S):
    """Size of scheme 4's saved mask: a byte a draw."""
    rt, cw = _drop_draws(L, S)
    return B * H * rt * cw


def _np_kept(shape, dropout_p, philox, mode=None):
    """The (B, H, L, S) bool mask of the pairs dropout keeps, as the kernels draw it."""
    mode = _DROP_MODE[0] if mode is None else mode
    B, H, L, S = shape
    seed, d_lo, d_hi, keep_t, _ = _drop_args(dropout_p, philox, mode)
    bh = np.arange(B * H, dtype=np.int64).reshape(B, H, 1, 1)
    if mode == 4:                       # draw (8A + a, 4K + c): queries 16A + 8h + a, keys 16K + 8n + 2c + e
        na, nk = -(-L // 16), -(-S // 16)
        c0 = np.arange(8 * na, dtype=np.int64)[:, None] * (4 * nk) + np.arange(4 * nk, dtype=np.int64)
        w = np.stack(philox_np(seed, c0, bh, d_lo, d_hi, rounds=7), -1)           # word 2n + e
        half = np.stack([w & 0xFFFF, w >> 16], -1).reshape(B, H, na, 8, nk, 4, 2, 2, 2)   # (A, a, K, c, n, e, h)
        bits = half.transpose(0, 1, 2, 8, 3, 4, 6, 5, 7).reshape(B, H, 16 * na, 16 * nk)
        return bits[:, :, :L, :S].astype(np.int64) < keep_t
    s4 = -(-S // 4)                     # a draw's four words serve four adjacent keys
    rows = -(-L // 2) if mode == 3 else L       # of one row, or (scheme 3) of two
    c0 = np.arange(rows, dtype=np.int64)[:, None] * s4 + np.arange(s4, dtype=np.int64)
    w = np.stack(philox_np(seed, c0, bh, d_lo, d_hi, rounds=10 if mode == 1 else 7), -1)  # key 4c + w: word w of draw c
    if mode == 3:                       # row 2a + h: the low (h 0) or high 16 bits
        bits = np.stack([w & 0xFFFF, w >> 16], -3).reshape(B, H, 2 * rows, 4 * s4)[:, :, :L]   # (.., a, h, c, w)
    else:
        bits = (w >> 8).reshape(B, H, L, 4 * s4)
    return bits[..., :S].astype(np.int64) < keep_t


def _drop_scale(shape, dropout_p, philox, dtype, device):
    """``M`` = keep / (1 - p) as a (B, H, L, S) tensor, for the composite paths (float64, double
    backward); None without dropout. Drawn on the host and uploaded: these paths hold L x S anyway."""
    if not dropout_p:
        return None
    from .creation import tensor
    m = _np_kept(shape, dropout_p, philox) * (dtype.np.type(1.0) / dtype.np.type(1.0 - dropout_p))
    return tensor(m.astype(dtype.np), dtype=dtype, device=device)


def _transposed(t):
    """(B, H, N, E) -> its (B, H, E, N) contiguous copy."""
    return t.transpose(2, 3).contiguous()


# Dropout's kernels read or draw their mask beside the products (scheme 4: read from the saved bits, or a Philox4x32-7
# draw, 14 32-bit high products, for 8 pairs), which costs registers: untuned (the tuner times half dropout apart:
# _DROP_TUNED), they run the table's tiles, but these where the table's spilled with the mask on sm_80 or sm_90, with
# Triton 3.6 or 3.9, reading or drawing it (unmeasured for speed): (kind, head dim, _cls, dQ by atomics) -> tile.
# Chosen with schemes 1 and 3 (which moved the mask through shared memory) and kept where scheme 4 compiles clean:
# half dK/dV at head dim 64 with dQ by atomics 24-184 B at 32x64 (32x32 none); 128 16x128 w8 64-96 B (16x32 w8 none,
# 174 registers); 256 16x32 w4 s1 8 B (w8 none); half dQ at head dim 64 64x64 w4 s3 112 B on sm_80 (64x32 s2 none);
# float32 dK/dV at head dim 64 32x32 w8 s2 24-40 B (s1 none with the dQ kernel; 16x32 none with dQ by atomics);
# float32 dQ at head dim 64 32x32 w4 16 B; TF32 x 3's forward at head dim 64 32x64 w4 4 B on sm_90 with 3.6 (32x32 w8
# none). Changed for scheme 4: the half dK/dV at head dim 64 16x64 w8 s2 drawing 16 B on sm_80 with 3.6 (s1 none); the
# half forward at 64, the table's 64x64 w4 s3, drawing 16 B there (s2 none; Hopper keeps s3: _DROP_CONFIGS_SM90), at
# 128 reading 8-32 B (64x32 w4 s3 none); the float32 forward at head dim 64 32x32 w8 s2 drawing 4 B on sm_90 (s1
# none), at 128 32x16 w4 120-312 B (of ten tiles tried, only 16x64 w8 clean both ways); float32 dK/dV with dQ by
# atomics at head dim 64 16x32 w8 s2 reading 20 B on sm_90 with 3.6 from Q and dO in place (s1 none; drawing there, 28
# B: none of the 13 tiles tried was clean in all eight ways, and drawing in place is the rarest: no graph, or the mask
# too big, and S under 4 key blocks), at 128 16x16 w4 12-28 B (w8 none); float32 dQ at 128 32x16 w4 drawing 4 B on
# sm_80 (16x16 none). Changed on static counts, loop instructions a (query, key) pair (sm_80, fp16 causal, the mask
# read, Triton 3.9; each spill-free on sm_80 and sm_90 with 3.6 and 3.9, read or drawn, with a head group): the half
# dK/dV at head dim 64 16x128 w8 s1, 31.6 against 61.0 for 16x64 w8 s1 (16x64 w4 s1 28.8, for the tuner); at 128
# 16x32 w4 s2, 84.5 against 144 for 16x32 w8 s2; untimed.
_DROP_CONFIGS = {("dkdv", 64, 0, False): (16, 128, 8, 1), ("dkdv", 64, 0, True): (32, 32, 8, 2),
                 ("dkdv", 128, 0, False): (16, 32, 4, 2), ("dkdv", 256, 0, False): (16, 32, 8, 1),
                 ("dkdv", 64, 1, False): (32, 32, 8, 1), ("dkdv", 64, 1, True): (16, 32, 8, 1),
                 ("dkdv", 128, 1, True): (16, 16, 8, 2), ("dq", 64, 0, False): (64, 32, 4, 2),
                 ("dq", 64, 1, False): (32, 32, 8, 2), ("dq", 128, 1, False): (16, 16, 4, 2),
                 ("fwd", 64, 2, False): (32, 32, 8, 2), ("fwd", 64, 0, False): (64, 64, 4, 2),
                 ("fwd", 128, 0, False): (64, 32, 4, 3), ("fwd", 64, 1, False): (32, 32, 8, 1),
                 ("fwd", 128, 1, False): (16, 64, 8, 2)}


# Hopper only (``_sm90``): tiles that spill on sm_80 but not on sm_90. The half dK/dV at head dim 64:
# the H200's tuner chose 32x128 w8 s3 (0.407 ms at fp16 B 4, 16 heads, T 2048, causal, against 0.558
# for the table's 32x64 w8 s2; 234-255 registers on sm_90 with 3.6 and 3.9, 20-76 B spilled on
# sm_80); with dropout too (scheme 4: 249-255 registers reading or drawing, 3.6 and 3.9), where scheme
# 3's mask took 32x64 w8 s2 (on the H200 the SDPA fwd+bwd with dropout 0.1, same shape, 1.595 ms against
# 1.642 with 16x64); with dropout and dQ by atomics 32x128 spilled 36-104 B (_DROP_CONFIGS_SM90: 32x32).
# The half dQ at head dim 64: 64x64 w4 s3, the table's until it was seen spilling 16-20 B on sm_80
# (Triton 3.6 and 3.9; none on sm_90), where the table now has 64x32 w4 s3 (174-188 registers).
# float32 in TF32 x 3 (_FP32_DOT): the forward and dQ at 128x32 w8, 209-211 and 189 registers on sm_90
# (sm_80: 28-104 B and 584 B spilled), 4 times the table's query rows a K/V pass.
_CONFIGS_SM90 = {("dkdv", 64, 0): (32, 128, 8, 3), ("dq", 64, 0): (64, 64, 4, 3), ("fwd", 64, 2): (128, 32, 8, 2),
                 ("dq", 64, 2): (128, 32, 8, 2), ("dkdv", 128, 1): (16, 32, 4, 2)}
# Hopper's half dK/dV with dropout at head dim 128: the table's 16x128 w8 s2 (250 registers, scheme 4's
# mask read or drawn, with a head group or not, Triton 3.6 and 3.9; _DROP_CONFIGS' 16x32 w8 s2 is sm_80's,
# where 16x128 spilled), a loop of 292 instructions a 2048-pair block against 318 a 512-pair one for
# 16x32 w8 s2 (sm_80's before): 36.5 a (query, key) pair against 159 (sm_90 fp16 causal, reading,
# Triton 3.9); untimed (gpu_quick's arm drop_d128_16x32). Its forward at head dim 128: 128x64 w8 s3, the tile
# the H200's tuner chose there without dropout (in _DROP_TUNE_SPACE_SM90: spill-free on sm_90, 3.6 and 3.9, read
# or drawn), 15.9 loop instructions a pair reading the mask and 21.4 drawing it against 23.5 and 27.9 for
# 64x32 w4 s3 (sm_80's; fp16 causal, Triton 3.9); untimed (drop_d128_old_fwd). float32's dK/dV at 128
# keeps _DROP_CONFIGS' tile (not _CONFIGS_SM90's).
_DROP_CONFIGS_SM90 = {("dkdv", 64, 0, True): (32, 32, 8, 2), ("fwd", 64, 0, False): (64, 64, 4, 3),
                      ("dkdv", 128, 0, False): (16, 128, 8, 2), ("fwd", 128, 0, False): (128, 64, 8, 3),
                      ("dkdv", 128, 1, True): _DROP_CONFIGS[("dkdv", 128, 1, True)]}

# Multi-head launches (a K/V head per query head, GROUP 1): Triton's launcher makes an integer argument
# equal to 1 a constant, so the dK/dV kernel then compiles without its loop over a head group and holds
# far fewer registers (sm_90, Triton 3.9, fp16: head dim 64 32x128 w8 s3 144 against 239; head dim 128
# 16x128 w8 s2 212 against 248), and larger tiles fit. Each tile here compiles without spilling with
# GROUP 1 on Triton 3.6 and 3.9 (half types with dQ by atomics too) and spills with a group (sm_90: head
# dim 64 64x128 w8 s2 48 B, 64x64 w4 s2 112 B, 128 32x128 w8 s2 32-56 B; sm_80 head dim 64 32x128 w8 s2
# 20-76 B), so only launches of the dK/dV kernel without that loop and without dropout take them
# (``_config``'s ``mha``: multi-head ones, and half grouped-query ones spanning the group in one loop
# without dQ by atomics, _GQA_SPAN), and a tuned one of them serves no other launch. Per (kind, head
# dim, ``_cls``), by capability (90: Hopper, 80: the rest): the untuned tile first, the rest for the
# tuner. Loop instructions a (query,
# key) pair (fp16, Triton 3.9, the unmasked loop): sm_90 head dim 64 10.9 against 14.7 for 32x128 w8
# s3, 128 17.6 against 26.9 for 16x128 w8 s2; sm_80 head dim 64 14.8 against 29.3 for 32x64 w8 s2;
# each at the same programs per SM (one), half the passes over Q and dO. float32 in TF32 x 3
# (_FP32_DOT) on Hopper: 32x128 w8 s2, 77.4 against 214 for 32x32 w8 s2, but not with dQ by atomics
# (32-128 B spilled, 240 KiB of shared memory). Untimed so far (gpu_quick's "mha_old_dkdv" arm).
_MHA_TILES = {("dkdv", 64, 0): {80: [(32, 128, 8, 2)], 90: [(64, 128, 8, 2), (64, 64, 4, 2)]},
              ("dkdv", 128, 0): {90: [(32, 128, 8, 2), (32, 128, 8, 1)]},     # (32x64 w4 s2 spilled with dQ)
              ("dkdv", 64, 2): {90: [(32, 128, 8, 2), (32, 128, 8, 1)]}}


def _mha_tiles(kind, e, c, sm90):
    return _MHA_TILES.get((kind, e, c), {}).get(90 if sm90 else 80, [])


def _sm90(index):
    """Device ``index`` (None: 0) is a real sm_90 or later: Hopper's tiles (the tables above)."""
    return not SIMULATED and _driver.backend().capability(index or 0)[0] >= 9


def _config(kind, e, dtype, causal, drop=False, dq=False, sm90=False, mha=False):
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) for padded head dim ``e``: a tile the tuner stored,
    else the table above (``_cls``'s column); with dropout (``drop``; ``dq``: the dK/dV kernel adds dQ
    by atomics) a tile the tuner stored for dropout (half types, not ``dq``), else the table's or
    ``_DROP_CONFIGS``'; on Hopper (``sm90``) ``_CONFIGS_SM90``'s first, with dropout
    ``_DROP_CONFIGS_SM90``'s before those (``_hopper_tile``). ``mha``: a launch without the dK/dV
    kernel's loop over a head group (GROUP 1, or ``_GQA_SPAN``) that may take ``_MHA_TILES``' (no
    dropout); other launches never do, tuned or not.
    The interpreter pays per program, so its tiles are small enough that tiny tests still cross block
    edges."""
    forced = _FORCE.get(kind)
    if forced is not None:
        return forced
    if SIMULATED:
        return 16, 16, 4, 1
    if drop:
        won = not dq and _cls(dtype, e) == 0 and tune.lookup("flash_attention", (kind, dtype.name + _DROP_TUNED, e,
                                                                                   bool(causal)))
        return _tile(won) if won else _drop_tile(kind, e, _cls(dtype, e), dq, sm90)
    c = _cls(dtype, e)
    only = _mha_tiles(kind, e, c, sm90)                     # tiles that fit multi-head launches alone
    fits = mha and not (dq and c == 2)
    won = tune.lookup("flash_attention", (kind, _tname(dtype, e), e, bool(causal)))
    if won is not None and (fits or _tile(won) not in only):
        return _tile(won)
    return (fits and only and only[0]) or (sm90 and _CONFIGS_SM90.get((kind, e, c))) or _CONFIGS[kind][max(e, 64)][c]


def _drop_tile(kind, e, c, dq, sm90=False):
    return (sm90 and _hopper_tile(kind, e, c, dq, True)) or _DROP_CONFIGS.get((kind, e, c, dq)) or \
        _CONFIGS[kind][max(e, 64)][c]


def _hopper_tile(kind, e, c, dq, drop):
    """Hopper's own tile (compiled for sm_90 only), or None: with dropout ``_DROP_CONFIGS_SM90``'s,
    else (and where that has none) ``_CONFIGS_SM90``'s."""
    return (drop and _DROP_CONFIGS_SM90.get((kind, e, c, dq))) or _CONFIGS_SM90.get((kind, e, c))


# ------------------------------------------------------------------------------ tuning
# What ``python -m ttorch.tune --op flash_attention`` may pick per (kernel, dtype, head dim, causal):
# the table's tile first, then alternatives that compile for sm_80/sm_90 without spilling; on Hopper
# also _TUNE_SPACE_SM90's. float32 (FMA products, register-bound) has its own, smaller tiles (head dims
# 64 and 128).
_TUNE_SPACE = {
    "fwd": {64: [(64, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (128, 32, 4, 3)],
            128: [(64, 64, 4, 3), (128, 32, 8, 3), (64, 32, 4, 2)],
            256: [(64, 32, 8, 2), (32, 32, 4, 2), (64, 64, 8, 1)]},
    # dK/dV holds its keys, values and their gradients in registers: 4 warps spilled at 32x64 (head
    # dim 64), and at head dim 128 64x64, 32x64 and 32x128 spilled 8-180 B (more with dQ by atomics;
    # 32x32 w4 44-60 B on Triton 3.6; 32x32 w8 4 B there as launched, one head group a K/V head), all
    # compiled with a head group; multi-head launches also try _MHA_TILES'
    "dkdv": {64: [(32, 64, 8, 2), (32, 128, 8, 3)], 128: [(16, 128, 8, 2), (16, 128, 8, 1), (16, 64, 8, 2)],
             256: [(16, 32, 4, 1), (32, 32, 8, 1)]},
    "dq": {64: [(64, 32, 4, 3)], 128: [(64, 32, 4, 2), (64, 64, 8, 2)], 256: [(32, 32, 8, 1), (16, 32, 4, 1)]},
}
# Tried on Hopper only: these spill on sm_80 (Triton 3.9, 4-72 B a thread, with a head group) but not
# on sm_90, where the H200's tuner picked some (the forward at head dim 128 128x64 w8 s3, the dQ at 128
# 128x32 w8 s2); an A100's tuner keeps to spill-free tiles.
_TUNE_SPACE_SM90 = {"fwd": {64: [(64, 128, 4, 2)], 128: [(128, 64, 8, 3), (128, 128, 8, 2)]},
                    "dkdv": {},
                    "dq": {64: [(64, 64, 4, 3), (128, 64, 8, 2)], 128: [(128, 32, 8, 2)]}}
# float32: the table's tile first, then alternatives. The GPT-2-like fp32 step on an H100 spent 97 ms
# in attention against PyTorch's 20 with the first table's tiles; with the transposed copies and these
# tiles tuned, 26.6 ms (forward 6.0, dK/dV 12.1, dQ 8.5) against PyTorch's 19.6.
# The FMA products hold their operands' whole head dim in registers: larger tiles spill on sm_90, up
# to KiBs a thread (a 64x64 forward 29 KiB, 64x32 w4 944 B, 128x32 w8 1.4 KiB; dK/dV 32x32 w4 1.6 KiB,
# 32x64 w8 1.9 KiB; the head-dim-128 forward 64x32 w8 14 KiB, 32x32 1.3 KiB): only tiles that compile
# without a spill are here, on Triton 3.6 and 3.9 (dK/dV head dim 128 16x16 w4 spilled 36 B on 3.6)
# float32 in TF32 x 3 at head dim 64 (_FP32_DOT): the table's tile (on Hopper _CONFIGS_SM90's) first,
# then the others that compiled without spilling on sm_80 and sm_90
# (dK/dV 32x32 w4 spilled 16-32 B with Triton 3.6)
_TUNE_SPACE_X3 = {"fwd": [(32, 64, 4, 2)], "dkdv": [(32, 32, 8, 2), (16, 32, 4, 2)], "dq": [(32, 32, 4, 2)]}
_TUNE_SPACE_FP32 = {
    "fwd": {64: [(32, 32, 8, 2)],
            128: [(32, 16, 4, 2), (16, 16, 4, 2)]},
    "dkdv": {64: [(32, 32, 8, 2), (16, 32, 8, 2)],
             128: [(32, 16, 4, 2)]},     # 16x16 w4, 32x32 w8, 16x64 w8 spill on 3.6 or 3.9
    "dq": {64: [(32, 32, 4, 2), (64, 32, 8, 2)], 128: [(32, 32, 8, 2), (16, 32, 4, 2)]},
}
# float32 tiles that spill on sm_80 (8-584 B, reading the transposed copies), not on sm_90
_TUNE_SPACE_FP32_SM90 = {"fwd": {64: [(32, 16, 4, 2)]}, "dkdv": {128: [(16, 32, 4, 2)]}, "dq": {128: [(32, 16, 4, 2)]}}
# Half dropout, tuned apart: the tuner's dtype name with "+drop" (the mask, read from the saved bits as a
# training step reads it, changes each kernel's registers and loop); after the untuned tile
# (_drop_tile, Hopper's on sm_90) these alternatives, each spill-free with the mask read or drawn on
# sm_80 and sm_90 with Triton 3.6 and 3.9, and on Hopper those spill-free on sm_90 alone. Not with dQ by
# atomics (timed without). Spilled, bytes a thread: forward head dim 64 128x128 w8 s3 8-36 (sm_90),
# 64x128 w4 s2 4-100; 128 128x128 w8 s2 20 (sm_90); dK/dV 64 16x64 w8 s2 16 (3.6 drawing); 128 16x128
# w8 s1 8-32.
_DROP_TUNED = "+drop"
_DROP_TUNE_SPACE = {"fwd": {64: [(128, 64, 8, 3), (128, 32, 4, 3), (64, 32, 4, 3)],
                            128: [(128, 32, 8, 3), (64, 64, 8, 3), (32, 64, 4, 3), (64, 32, 4, 2)]},
                    "dkdv": {64: [(32, 32, 8, 2), (16, 64, 4, 1)], 128: [(16, 64, 8, 2), (32, 32, 8, 2)]},
                    "dq": {64: [(64, 32, 4, 3), (128, 32, 8, 2)], 128: [(64, 64, 8, 2), (32, 32, 8, 2)]}}
_DROP_TUNE_SPACE_SM90 = {"fwd": {128: [(128, 64, 8, 3)]}, "dkdv": {64: [(32, 64, 8, 2)], 128: [(16, 128, 8, 2)]},
                         "dq": {64: [(128, 64, 8, 2)], 128: [(128, 32, 8, 2)]}}
_FORCE = {}     # kernel kind -> tile, while the tuner times it


def _tile(c):
    return c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps, c.num_stages


def _as_config(t):
    return tune.Config({"BLOCK_M": t[0], "BLOCK_N": t[1]}, num_warps=t[2], num_stages=t[3])


def _tune_configs(b):
    kind, dt, e, _ = b
    sm90 = _sm90(0)                                                                    # (the tuner runs on device 0)
    if dt.endswith(_DROP_TUNED):
        tiles = [_drop_tile(kind, e, 0, False, sm90)] + _DROP_TUNE_SPACE[kind].get(e, []) + (
            _DROP_TUNE_SPACE_SM90[kind].get(e, []) if sm90 else [])
        return [_as_config(t) for t in dict.fromkeys(tiles)]
    if dt == "float32":
        return [_as_config(t) for t in _TUNE_SPACE_FP32[kind].get(e, [_CONFIGS[kind][max(e, 64)][1]]) + (
            _TUNE_SPACE_FP32_SM90[kind].get(e, []) if sm90 else [])]
    if dt == "tf32x3":
        hopper = _CONFIGS_SM90.get((kind, e, 2)) if sm90 else None
        return [_as_config(t) for t in ([hopper] if hopper else []) + _TUNE_SPACE_X3[kind] +
                _mha_tiles(kind, e, 2, sm90)]                                          # (B 4, H 16: GROUP 1)
    hopper = _TUNE_SPACE_SM90[kind].get(e, []) if sm90 else []
    return [_as_config(t) for t in _TUNE_SPACE[kind][max(e, 64)] + hopper + _mha_tiles(kind, e, 0, sm90)]


def _tune_problems(quick):
    if quick or SIMULATED:
        return [(kind, dt, 1, 2, 20, 16, True) for kind in ("fwd", "dkdv", "dq")
                for dt in ("float16", "float16" + _DROP_TUNED)]
    return [(kind, dt + drop, 4, 16, 2048, e, causal) for kind in ("fwd", "dkdv", "dq")
            for dt in ("float16", "bfloat16") for drop in ("", _DROP_TUNED) for e in (64, 128)
            for causal in (False, True)]


@contextlib.contextmanager
def _fp32_dot(prec):
    """``_FP32_DOT`` set to ``prec`` inside the block, restored after."""
    old, _FP32_DOT[0] = _FP32_DOT[0], prec
    try:
        yield
    finally:
        _FP32_DOT[0] = old


def _tune_bench(cfg, kind, dtype, B, H, L, e, causal):
    """``dtype``: a dtype's name, or "tf32x3" (float32 on tensor cores; "float32" times the FMA
    kernels), or a half type's with "+drop": dropout 0.1 as a training step runs it (the forward with
    its mask kernel, the backward reading the saved mask)."""
    from .random import randn
    prec = "tf32x3" if dtype == "tf32x3" else "ieee"
    drop = dtype.endswith(_DROP_TUNED)
    dt = getattr(D, dtype.replace("tf32x3", "float32").replace(_DROP_TUNED, ""))
    q, k, v, g = (randn(B, H, L, e, device="cuda").to(dt) for _ in range(4))
    kw = dict(scale=e ** -0.5, causal=causal, dropout_p=0.1 if drop else 0.0, philox=(1, 1 << 62) if drop else None)
    glse = None
    with _fp32_dot(prec), grad_mode.enable_grad():
        q.requires_grad_(drop)              # (a graph would record the call: the mask is kept)
        o, lse, *bits = _fwd_cuda(q, k, v, None, **kw)

    def run():
        _FORCE[kind] = _tile(cfg)
        try:
            with _fp32_dot(prec), grad_mode.enable_grad():
                if kind == "fwd":
                    _fwd_cuda(q, k, v, None, **kw)
                else:
                    _bwd_cuda(g, glse, q, k, v, o, lse, None, bits=bits[0] if bits else None, **kw)
        finally:
            _FORCE.pop(kind, None)
    return run


tune.register(tune.Tunable(
    "flash_attention", configs=_tune_configs, problems=_tune_problems, bench=_tune_bench,
    key=lambda kind, dt, B, H, L, e, causal: (kind, dt, _hd(e), bool(causal)),
    heuristic=lambda b: _tune_configs(b)[0] if b[1].endswith(_DROP_TUNED) else _as_config(
        _CONFIGS[b[0]][max(b[2], 64)][{"float32": 1, "tf32x3": 2}.get(b[1], 0)]),
    doc="flash attention forward, dK/dV and dQ kernels: tiles, warps, stages"))


def _mask_args(mask, shape):
    from .elementwise import _bstrides
    if mask is None:
        return 0, (0, 0, 0, 0)
    return (1 if mask.dtype is D.bool else 2), _bstrides(mask, shape)


def _unit_last(t):
    t = t.detach()
    return t if t._shape[-1] <= 1 or t.stride()[-1] == 1 else t.contiguous()


def _strides3(t):
    st = t.stride()
    return st[0], st[1], st[2]


def _empty_as(t, shape, dtype):
    """A new (B, H, N, E) tensor laid out as ``t`` when ``t`` is a head-transposed view of a
    (B, N, H, E) buffer, as a model's q/k/v arrive (a Linear's output split, viewed per head and
    transposed): the output and the gradients then go back through ``transpose(1, 2)`` and
    ``view`` with no copy (PyTorch's kernels keep the query's layout too). Else contiguous."""
    B, H, N, E = shape
    st = t.stride()
    if H > 1 and N > 1 and st[2] > st[1] >= st[3]:
        buf = Tensor._empty((B, N, H, E), dtype, t.device)
        return buf._view(shape, (N * H * E, E, H * E, 1), 0)
    return Tensor._empty(shape, dtype, t.device)


def _grads_as(q, k, v):
    """``dq, dk, dv`` laid out as ``q, k, v``. When those are pieces of one buffer side by side (a
    fused qkv projection's output, split and viewed per head: ``k`` is ``q`` moved by one whole
    dim), the gradients are the same pieces of one new buffer, so the split's backward
    (``views.joined``) gets its ``cat`` with no copy: three (B, L, C) copies per layer fewer."""
    st = q.stride()
    if q.untyped_storage() is k.untyped_storage() is v.untyped_storage() and q._shape == k._shape == v._shape \
            and st == k.stride() == v.stride() and q.dtype is k.dtype is v.dtype:
        step = k._offset - q._offset
        for d, (n, s) in enumerate(zip(q._shape, st)):
            if step == n * s and v._offset - k._offset == step and step > 0:
                shape = list(q._shape)
                shape[d] *= 3
                reach = span(shape, st)
                if reach is not None and reach <= 2 * 3 * q.numel():
                    buf = Tensor._empty((reach,), q.dtype, q.device)
                    return tuple(buf._view(q._shape, st, i * step) for i in range(3))
    return tuple(_empty_as(t, t._shape, t.dtype) for t in (q, k, v))


# ------------------------------------------------------------------------------ cuda
def _row_descriptors(ts, bn):
    """Per (B, H, N, E) tensor of ``ts``: (a 2-D TMA descriptor over its rows of the head dim, blocks
    of ``bn`` rows, its batch stride and head stride in rows); None where a layout rules it out (see
    ``_FWD_TMA``)."""
    from .gemm import _descriptor
    out = []
    for t in ts:
        B, Hkv, S, E = t._shape
        sb, sh, sn, _ = t.stride()
        if sn < E or sb % sn or sh % sn or (sn * t.dtype.itemsize) % 16 or t.data_ptr() % 16:
            return None
        rows = (B - 1) * (sb // sn) + (Hkv - 1) * (sh // sn) + S
        if rows + bn >= 1 << 31:
            return None
        out.append((_descriptor(t, [rows, E], [sn, 1], [bn, _hd(E)]), sb // sn, sh // sn))
    return out


def _tma(q, flag):
    return flag[0] and q.dtype in (D.float16, D.bfloat16) and _TensorDescriptor is not None and (
        SIMULATED or _driver.backend().capability(q.device.index or 0)[0] >= 9)


def _by_rows(ts, rows, on):
    """Two (B, H, N, E) tensors as a kernel takes them, with their (batch, head, row) strides: by TMA
    where ``on`` and their layout allow (``_row_descriptors``: the batch and head strides then counted
    in rows), else as they are. Returns (the two arguments, their strides, whether by TMA)."""
    d = _row_descriptors(ts, rows) if on else None
    if d is None:
        return ts, [_strides3(t) for t in ts], False
    return [a for a, _, _ in d], [(sb, sh, t.stride()[2]) for (_, sb, sh), t in zip(d, ts)], True


def _fwd_cuda(q, k, v, mask, *, scale, causal, dropout_p=0.0, philox=None):
    if q.dtype is D.float64:        # no flash kernel for float64: the composite, without a graph
        with grad_mode.no_grad():
            drop = _drop_scale(q._shape[:3] + (k._shape[2],), dropout_p, philox, D.float64, q.device)
            return _composite(q, k, v, mask, scale, causal, drop)
    B, H, L, E = q._shape
    Hkv, S, EV = k._shape[1], k._shape[2], v._shape[3]
    # with dropout, the mask is kept for a backward (_DROP_SAVE) when a graph records this call
    save = dropout_p and _DROP_MODE[0] == 4 and _DROP_SAVE[0] and grad_mode._state["enabled"] and (
        q.requires_grad or k.requires_grad or v.requires_grad)
    q, k, v = _unit_last(q), _unit_last(k), _unit_last(v)
    o = _empty_as(q, (B, H, L, EV), q.dtype)
    lse = Tensor._empty((B, H, L), D.float32, q.device)
    if lse.numel() == 0:
        return o, lse
    if S == 0:  # no key at all: every row is fully masked
        return o.zero_(), lse.fill_(_NEG_INF)
    kind, ms = _mask_args(mask, (B, H, L, S))
    e = _hd(max(E, EV))
    bits = None
    n = _drop_bytes(B, H, L, S) if save else 0
    if save and n <= (q.numel() + k.numel() + v.numel() + o.numel()) * q.dtype.itemsize:
        bits = Tensor._empty((n,), D.uint8, q.device)
        rt, cw = _drop_draws(L, S)
        launch(_drop_mask_kernel, (B * H, cdiv(rt, _MASK_TILE[0]), cdiv(cw, _MASK_TILE[1])), bits,
               *_drop_args(dropout_p, philox)[:4], rt, cw, CAUSAL=bool(causal), BLOCK_R=_MASK_TILE[0],
               BLOCK_C=_MASK_TILE[1])
    bm, bn, warps, stages = _config("fwd", e, q.dtype, causal, bool(dropout_p), sm90=_sm90(q.device.index))
    tc = _t_copy(q.dtype, e, cdiv(L, bm))                   # K^T is read once per query block
    # dropout takes the pointer loads and the scaled maxima: the configurations compiled with its mask
    (k_arg, v_arg), (ks, vs), tma = _by_rows((k, v), bn, _tma(q, _FWD_TMA) and not dropout_p)
    grid, lpt = _grid(cdiv(L, bm), B * H, _ordered("fwd", causal, dropout_p),
                      S * (E + EV) * q.dtype.itemsize // (H // Hkv))
    launch(_attn_fwd_kernel, grid, q, k_arg, _transposed(k) if tc else k, v_arg,
           mask if mask is not None else q, o, lse, float(scale), H, H // Hkv, L, S, E, EV, *_strides3(q),
           *ks, *vs, *ms, *_strides3(o), *_drop_args(dropout_p, philox), q if bits is None else bits, MASK=kind,
           CAUSAL=bool(causal), BLOCK_M=bm, BLOCK_N=bn, BLOCK_E=_hd(E), BLOCK_EV=_hd(EV), T_COPY=tc, TMA=tma,
           SCALE_POS=_raw_max(causal) and scale > 0 and not dropout_p and not kind,
           DROP=_DROP_MODE[0] if dropout_p else 0,
           PREC=_prec(q.dtype, e), BITS=0 if bits is None else 2, LPT=lpt, num_warps=warps, num_stages=stages)
    return (o, lse) if bits is None else (o, lse, bits)


def _pre_rows(ev):
    """Rows a program of the backward's delta = rowsum(dO * O) takes: 1024 elements of each (4096 took
    255 registers and spilled 120-248 bytes a thread on sm_90; 1024, 62-90 registers)."""
    return max(8, 1024 // _hd(ev))


def _bwd_cuda(g, glse, q, k, v, o, lse, mask, *, scale, causal, dropout_p=0.0, philox=None, bits=None):
    if q.dtype is D.float64:
        from .creation import zeros_like
        with grad_mode.no_grad():
            drop = _drop_scale(q._shape[:3] + (k._shape[2],), dropout_p, philox, D.float64, q.device)
            glse = zeros_like(lse) if glse is None else glse        # (the logsumexp unused)
            return _composite_bw(g, glse, q, k, v, mask, scale, causal, drop)[:3]
    B, H, L, E = q._shape
    Hkv, S, EV = k._shape[1], k._shape[2], v._shape[3]
    q, k, v = _unit_last(q), _unit_last(k), _unit_last(v)
    g, o = _unit_last(g.to(q.dtype)), _unit_last(o)                        # tl.dot wants one operand dtype
    glse = glse.detach().contiguous() if glse is not None else None
    lse = lse.detach().contiguous()
    dq, dk, dv = _grads_as(q, k, v)
    if L == 0 or S == 0 or B * H == 0:
        return dq.zero_(), dk.zero_(), dv.zero_()
    delta = Tensor._empty((B, H, L), D.float32, q.device)
    lse2 = Tensor._empty((B, H, L), D.float32, q.device)    # the LSE in log2 units, as the kernels take it
    pm = 16 if SIMULATED else _pre_rows(EV)
    launch(_attn_bwd_pre_kernel, (cdiv(B * H * L, pm),), o, g, glse if glse is not None else delta, lse, delta, lse2,
           B * H * L, H, L, EV, *_strides3(o), *_strides3(g), HAS_GLSE=glse is not None, BLOCK_M=pm,
           BLOCK_EV=_hd(EV))
    kind, ms = _mask_args(mask, (B, H, L, S))
    mptr = mask if mask is not None else q
    strides = (*_strides3(q), *_strides3(k), *_strides3(v), *ms, *_strides3(g))
    e = _hd(max(E, EV))
    meta = dict(MASK=kind, CAUSAL=bool(causal), BLOCK_E=_hd(E), BLOCK_EV=_hd(EV),
                DROP=_DROP_MODE[0] if dropout_p else 0, PREC=_prec(q.dtype, e), BITS=0 if bits is None else 2)
    drop = (*_drop_args(dropout_p, philox), q if bits is None else bits)    # the forward's mask, or draws
    sm90, c = _sm90(q.device.index), _cls(q.dtype, e)
    gqa = H != Hkv and _GQA_SPAN[0] and c == 0 and not dropout_p
    plain = not (_BWD_TMA[0] and e <= _SWITCHED_DKDV_MAX_E)             # (no TMA tiles: _BWD_TMA)
    fused = not _det.MODE and (_DQ_ATOMIC[0] if c == 1 else _DQ_ATOMIC_HALF[0] and (
        e <= _SWITCHED_DKDV_MAX_E or H == Hkv and plain and sm90 and e <= _MHA_DQ_ATOMIC_MAX_E))   # (atomics' order)
    # no loop over a head group (GROUP 1; or spanned, _GQA_SPAN, where dQ by atomics spilled 12-124 B with
    # _MHA_TILES' tiles on sm_90): _MHA_TILES
    mha = plain and (H == Hkv or gqa and not fused)
    bm, bn, warps, stages = _config("dkdv", e, q.dtype, causal, bool(dropout_p), fused, sm90, mha)
    tc = _t_copy(q.dtype, e, cdiv(S, bn))                   # Q^T, dO^T: read once per key block
    dq_acc = dq
    if fused:                                   # dQ accumulates in float32, from zeros
        dq_acc = dq if dq.dtype is D.float32 else Tensor._empty((B, H, L, E), D.float32, q.device)
        dq_acc.zero_()
    (q_arg, g_arg), (qs, gs), tma = _by_rows((q, g), bm, _tma(q, _BWD_TMA) and not tc and e <= _SWITCHED_DKDV_MAX_E
                                              and not dropout_p)
    st = (*qs, *strides[3:-3], *gs)
    grid, lpt = _grid(cdiv(S, bn), B * Hkv, _ordered("dkdv", causal, dropout_p),
                      H // Hkv * L * (E + EV) * q.dtype.itemsize)
    launch(_attn_bwd_dkdv_kernel, grid, q_arg, _transposed(q) if tc else q, k, v, mptr, g_arg,
           _transposed(g) if tc else g, lse2, delta, dk, dv, dq_acc, float(scale), H, Hkv, H // Hkv, L, S, E, EV,
           *st, *_strides3(dk), *_strides3(dv), *_strides3(dq_acc), *drop, BLOCK_M=bm, BLOCK_N=bn, T_COPY=tc,
           DQ=fused, TMA=tma, GQA=gqa, LPT=lpt, num_warps=warps, num_stages=stages, **meta)
    if fused:
        if dq_acc is not dq:
            copy_into(dq, dq_acc)
        return dq, dk, dv
    bm, bn, warps, stages = _config("dq", e, q.dtype, causal, bool(dropout_p), sm90=sm90)
    tc = _t_copy(q.dtype, e, cdiv(L, bm))                   # K^T, V^T: read once per query block
    (k_arg, v_arg), (ks, vs), tma = _by_rows((k, v), bn, _tma(q, _DQ_TMA) and not tc and not dropout_p)
    st = (*strides[:3], *ks, *vs, *strides[9:])
    grid, lpt = _grid(cdiv(L, bm), B * H, _ordered("dq", causal, dropout_p),
                      S * (E + EV) * q.dtype.itemsize // (H // Hkv))
    launch(_attn_bwd_dq_kernel, grid, q, k_arg, _transposed(k) if tc else k, v_arg,
           _transposed(v) if tc else v, mptr, g, lse2, delta, dq, float(scale), H, H // Hkv, L, S, E, EV, *st,
           *_strides3(dq), *drop, BLOCK_M=bm, BLOCK_N=bn, T_COPY=tc, TMA=tma,
           SPLIT=_dq_split(c, bool(dropout_p), dropout_p and bits is None), LPT=lpt, num_warps=warps,
           num_stages=stages, **meta)
    return dq, dk, dv


# ------------------------------------------------------------------------------ NumPy
@functools.lru_cache(maxsize=32)
def _np_causal_bias(L, S, dtype):
    """0 on and below the diagonal, -inf above: added to the scores (np.where was several times
    slower on this path)."""
    b = np.zeros((L, S), dtype)
    b[~np.tri(L, S, dtype=bool)] = -np.inf
    b.flags.writeable = False
    return b


def _np_heads(a, group, cd):
    """``a`` in the compute dtype, each key/value head repeated ``group`` times (no copy for 1)."""
    a = a.astype(cd, copy=False)
    return a if group == 1 else np.repeat(a, group, axis=1)


def _np_scores(q, k, mask, scale, causal):
    """Scores (B, H, L, S) in the compute dtype with the bias applied, and ``k`` repeated per group."""
    cd = D._compute_dtype(D.from_numpy_dtype(q.dtype)).np
    group = q.shape[1] // k.shape[1]
    s = q.astype(cd, copy=False) @ _np_heads(k, group, cd).swapaxes(-1, -2)
    s *= cd.type(scale)
    L, S = s.shape[-2:]
    if causal:
        s += _np_causal_bias(L, S, cd)
    elif mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask.astype(cd)
    return s, cd, group


def _fwd_cpu(q, k, v, mask, *, scale, causal, dropout_p=0.0, philox=None):
    s, cd, group = _np_scores(q, k, mask, scale, causal)
    B, H, L, S = s.shape
    if S == 0:
        return np.zeros(q.shape[:3] + v.shape[3:], q.dtype), np.full((B, H, L), -np.inf, cd)
    with np.errstate(all="ignore"):
        m = s.max(-1, keepdims=True)
        m = np.where(m == -np.inf, 0, m)
        s -= m
        e = np.exp(s, out=s)
        den = e.sum(-1, keepdims=True)
        e /= np.where(den == 0, 1, den)
        if dropout_p:
            e *= _np_kept(e.shape, dropout_p, philox) * (cd.type(1) / cd.type(1 - dropout_p))
        o = e @ _np_heads(v, group, cd)
        lse = np.where(den == 0, -np.inf, m + np.log(den))[..., 0]
    lsd = np.float64 if q.dtype == np.float64 else np.float32
    return o.astype(q.dtype), lse.astype(lsd)


def _group_sum(a, hkv):
    B, H = a.shape[:2]
    return a.reshape((B, hkv, H // hkv) + a.shape[2:]).sum(2)


def _bwd_cpu(g, glse, q, k, v, o, lse, mask, *, scale, causal, dropout_p=0.0, philox=None, bits=None):
    s, cd, group = _np_scores(q, k, mask, scale, causal)
    with np.errstate(all="ignore"):
        lse = lse.astype(cd)[..., None]
        s -= np.where(lse == -np.inf, np.inf, lse)
        p = np.exp(s, out=s)
    gf = g.astype(cd, copy=False)
    delta = (gf * o.astype(cd, copy=False)).sum(-1, keepdims=True)
    if glse is not None:
        delta = delta - glse.astype(cd)[..., None]
    ds = gf @ _np_heads(v, group, cd).swapaxes(-1, -2)
    pd = p
    if dropout_p:
        m = _np_kept(p.shape, dropout_p, philox) * (cd.type(1) / cd.type(1 - dropout_p))
        ds *= m
        pd = p * m
    ds -= delta
    ds *= p
    dq = (ds @ _np_heads(k, group, cd)) * scale
    dk = _group_sum(ds.swapaxes(-1, -2) @ q.astype(cd), k.shape[1]) * scale
    dv = _group_sum(pd.swapaxes(-1, -2) @ gf, k.shape[1])
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)


# ------------------------------------------------------------------------------ composite (ttorch ops)
def _repeat_kv(t, group):
    return t if group == 1 else t.repeat_interleave(group, 1)


def _probs(q, k, mask, scale, causal):
    """``P`` (B, H, L, S) and ``LSE`` (B, H, L, 1) in ttorch ops (differentiable)."""
    from .creation import ones
    from .ternary import where
    s = (q @ _repeat_kv(k, q.shape[1] // k.shape[1]).transpose(-2, -1)) * scale   # (B, H, L, S)
    if causal:
        s = s.masked_fill(ones(s.shape[-2:], dtype=D.bool, device=s.device).tril().logical_not(), _NEG_INF)
    elif mask is not None:
        s = s.masked_fill(mask.logical_not(), _NEG_INF) if mask.dtype is D.bool else s + mask
    dead = (s == _NEG_INF).all(-1, keepdim=True)
    s = where(dead, 0.0, s)             # no all -inf row reaches exp (NaN forward and backward)
    lse = s.logsumexp(-1, keepdim=True)
    return where(dead, 0.0, (s - lse).exp()), where(dead, _NEG_INF, lse)


def _composite(q, k, v, mask, scale, causal, drop=None):
    p, lse = _probs(q, k, mask, scale, causal)
    if drop is not None:                # dropout's keep / (1 - p) (_drop_scale)
        p = p * drop
    o = p.to(q.dtype) @ _repeat_kv(v, q.shape[1] // k.shape[1])
    return o, lse.squeeze(-1).to(D.float64 if q.dtype is D.float64 else D.float32)


def _composite_bw(g, glse, q, k, v, mask, scale, causal, drop=None):
    """``(dq, dk, dv, dscores)`` in ttorch ops (differentiable: double backward goes through here);
    ``drop``: dropout's keep / (1 - p) as a (B, H, L, S) tensor (``_drop_scale``), or None."""
    hkv, group = k.shape[1], q.shape[1] // k.shape[1]
    cd = glse.dtype                     # float32 (float64 for float64 inputs), as the kernels compute
    qc, kc, vc, gc = q.to(cd), _repeat_kv(k, group).to(cd), _repeat_kv(v, group).to(cd), g.to(cd)
    p, _ = _probs(qc, kc, mask, scale, causal)
    dp = gc @ vc.transpose(-2, -1)                                                # (B, H, L, S)
    pd = p
    if drop is not None:
        dp = dp * drop
        pd = p * drop
    ds = p * (dp - ((p * dp).sum(-1, keepdim=True) - glse.unsqueeze(-1)))
    dq = (ds @ kc) * scale
    dk = (ds.transpose(-2, -1) @ qc) * scale
    dv = pd.transpose(-2, -1) @ gc
    if group > 1:
        dk = dk.unflatten(1, (hkv, group)).sum(2)
        dv = dv.unflatten(1, (hkv, group)).sum(2)
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), ds


# ------------------------------------------------------------------------------ backward rules
def _fwd_bw(ctx, g, glse):
    q, k, v, mask = ctx.inputs
    needs = ctx.needs
    from .creation import zeros_like
    if g is None:                       # only the logsumexp was used
        g = zeros_like(ctx.outputs[0])
    if glse is None and (grad_mode.is_grad_enabled() or needs[3]):
        glse = zeros_like(ctx.outputs[1])  # (not lse * 0: a fully masked row's -inf would give NaN)
    dropout_p, philox = getattr(ctx, "dropout_p", 0.0), getattr(ctx, "philox", None)   # (callers may omit them)
    if grad_mode.is_grad_enabled() or needs[3]:
        drop = _drop_scale(q.shape[:3] + (k.shape[2],), dropout_p, philox, glse.dtype, q.device)
        dq, dk, dv, dm = _composite_bw(g, glse, q, k, v, mask, ctx.scale, ctx.causal, drop)
    else:
        o, lse = ctx.outputs[:2]
        bits = ctx.outputs[2] if len(ctx.outputs) > 2 else None       # the forward's mask (_DROP_SAVE)
        dq, dk, dv = _attn_bw_op(g, glse, q, k, v, o, lse, mask, scale=ctx.scale, causal=ctx.causal,
                                 dropout_p=dropout_p, philox=philox, bits=bits)
        dm = None
    return (dq if needs[0] else None, dk if needs[1] else None, dv if needs[2] else None,
            dm if needs[3] else None)


def _bw_bw(ctx, gdq, gdk, gdv):
    # the backward op's own gradients: differentiate the composite formula with autograd
    # (P is recomputed from q and k there, so o and lse get none)
    from ..autograd import grad as _grad
    g, glse, q, k, v, o, lse, mask = ctx.inputs
    if glse is None:
        from .creation import zeros_like
        glse = zeros_like(lse)
    create_graph = grad_mode.is_grad_enabled()
    drop = _drop_scale(q.shape[:3] + (k.shape[2],), getattr(ctx, "dropout_p", 0.0), getattr(ctx, "philox", None),
                       glse.dtype, q.device)
    with grad_mode.enable_grad():
        leaves = [t.detach().requires_grad_(True) for t in (g, glse, q, k, v)]
        outs = _composite_bw(*leaves, mask, ctx.scale, ctx.causal, drop)[:3]
        gs = _grad(outs, leaves, (gdq, gdk, gdv), allow_unused=True, create_graph=create_graph)
    if ctx.inputs[1] is None:
        gs = list(gs)
        gs[1] = None
    return tuple(gs) + (None, None, None)


# ------------------------------------------------------------------------------ specs and samples
def _specs():
    """fp16/bf16/fp32 x head dims 64/128 x causal or not for each kernel (fp32 backward not causal),
    head dim 256 (fp16 causal, fp32 forward), and the bool/float mask paths of the forward once."""
    from ._aot import KernelSpec, ptr
    out = []

    def arg_type(n, dt, mask, bits):
        if n in ("lse_ptr", "delta_ptr"):
            return "*fp32"
        if n == "bits_ptr":                     # the saved mask (_DROP_SAVE), else q stands in
            return "*u8" if bits else ptr(dt)
        if n == "m_ptr":
            return ptr(D.bool if mask == 1 else dt)
        return ptr(dt) if n.endswith("_ptr") else "fp32" if n in ("scale", "rkeep") else "i64" if n == "seed" else "i32"

    def add(kernel, kind, dt, e, causal, mask=0, tile=None, t_copy=None, dq=None, tma=False, raw_max=None,
            drop=False, sm90=False, x3=False, mha=False, gqa=False, split=None, lpt=True):
        if raw_max is None:                             # as _fwd_cuda launches it (_RAW_MAX)
            raw_max = kind == "fwd" and not drop and mask == 0 and _raw_max(causal)
        if kind == "dkdv" and not (mha or gqa or drop) and dt is not D.float32:   # grouped-query twins (half)
            add(kernel, kind, dt, e, causal, mask, tile, t_copy, dq, tma, raw_max, drop, sm90, x3, gqa=True, lpt=lpt)
        names = kernel.arg_names[:kernel.arg_names.index("MASK")]
        bits = drop is True                             # "draw": the mask drawn anew, not saved
        sig = {n: arg_type(n, dt, mask, bits) for n in names if n not in ("E", "EV")}
        c = 2 if x3 else int(dt is D.float32)           # float32 on FMAs, or in TF32 x 3 (x3): _cls
        t_copy = c == 1 if t_copy is None else t_copy
        dq_atomic = kind == "dkdv" and (c == 1 if dq is None else dq)
        base = _drop_tile(kind, e, c, dq_atomic) if drop else _CONFIGS[kind][max(e, 64)][c]
        hopper = None if tile else _hopper_tile(kind, e, c, dq_atomic, drop)     # a tile launched on sm_90 only
        if hopper and hopper != base and not sm90:      # (compiled for sm_90 alone, besides this one)
            add(kernel, kind, dt, e, causal, mask, tile, t_copy, dq, tma, raw_max, drop, sm90=True, x3=x3, mha=mha,
                gqa=gqa, lpt=lpt)
        bm, bn, warps, stages = tile or (sm90 and hopper) or base
        ce = dict(E=e, EV=e, MASK=mask, CAUSAL=causal, BLOCK_M=bm, BLOCK_N=bn, BLOCK_E=e, BLOCK_EV=e, T_COPY=t_copy)
        if tma:     # K and V by TMA (forward, dQ kernel), Q and dO (dK/dV kernel): _FWD_TMA, _DQ_TMA, _BWD_TMA
            name = {D.float16: "fp16", D.bfloat16: "bf16"}[dt]
            rows, names = (bm, ("q_ptr", "do_ptr")) if kind == "dkdv" else (bn, ("k_ptr", "v_ptr"))
            sig.update({n: f"tensordesc<{name}[{rows},{e}]>" for n in names})
            ce["TMA"] = True
        if raw_max:                                 # the unmasked blocks' maxima before scaling (_RAW_MAX)
            ce["SCALE_POS"] = True
        if drop:                                    # dropout on the weights, its mask read or drawn
            ce["DROP"] = _DROP_MODE[0]
            ce["BITS"] = 2 if bits else 0           # read from the saved mask (_DROP_SAVE), or drawn
        if c == 2:                                  # float32 on tensor cores (_FP32_DOT)
            ce["PREC"] = "tf32x3"
        if kind == "dq":                            # unmasked key blocks in a loop apart (_DQ_SPLIT)
            ce["SPLIT"] = _dq_split(c, bool(drop), drop == "draw") if split is None else split
        if _ordered(kind, causal, drop):            # the grid of _lpt, as _grid gives it (flat: lpt=False)
            ce["LPT"] = lpt
        if mha:                                     # one query head a K/V head: the launcher's constant 1
            ce["GROUP"] = 1
        if gqa:                                     # a head group, spanned in one loop (_GQA_SPAN)
            ce["GQA"] = True
        if kind == "dkdv":                          # float32 on FMAs adds dQ in by atomics (_DQ_ATOMIC)
            ce["DQ"] = dq_atomic
            if ce["DQ"]:
                sig["dq_ptr"] = "*fp32"                 # half types: into a float32 workspace
        label = f"{kind} {dt} e{e}{' causal' if causal else ''}{('', ' bool', ' float')[mask]}" \
                + (f" tuned {bm}x{bn} w{warps} s{stages}" if tile else "") + (" t-copy" if t_copy else "") \
                + (" dq" if ce.get("DQ") else "") + (" tma" if tma else "") + (" raw max" if raw_max else "") \
                + (" dropout" if drop else "") + (" draw" if drop == "draw" else "") + (" sm90" if sm90 else "") \
                + (" flat" if causal and not lpt else "") + (" x3" if x3 else "") + (" mha" if mha else "") \
                + (" gqa" if gqa else "") + (" one loop" if split is False else "")
        # what Triton's launcher sees for usual shapes: aligned pointers, batch/head/row strides
        # multiples of 16 (without it no load is vectorized, so none is pipelined), and round L and S
        # (the row stride of the transposed copies)
        div = [n for n in sig if n.endswith("_ptr") and not sig[n].startswith("tensordesc")
               or n[:2] == "s_" and n[2] != "m" or n in ("L", "S")]
        out.append(KernelSpec(kernel, sig, ce, num_warps=warps, num_stages=stages, label=label, divisible=div,
                              min_cap=90 if tma or sm90 else 0))

    switched = [e for e in (64, 128) if e <= _SWITCHED_DKDV_MAX_E]     # head dims the dK/dV switches take
    for dt in (D.float16, D.bfloat16, D.float32):
        for e in (64, 128):
            for causal in (False, True):
                add(_attn_fwd_kernel, "fwd", dt, e, causal)
                if dt is not D.float32 or not causal:
                    add(_attn_bwd_dkdv_kernel, "dkdv", dt, e, causal)
                    add(_attn_bwd_dq_kernel, "dq", dt, e, causal)
        for has_glse in (False, True):
            for ev in (64, 128):
                out.append(KernelSpec(_attn_bwd_pre_kernel, {
                    "o_ptr": ptr(dt), "do_ptr": ptr(dt), "glse_ptr": "*fp32", "lse_ptr": "*fp32", "delta_ptr": "*fp32",
                    "lse2_ptr": "*fp32", "ROWS": "i32", "H": "i32", "L": "i32", "EV": "i32",
                    **{f"s_{a}{b}": "i32" for a in "og" for b in "bhm"}},
                    {"HAS_GLSE": has_glse, "BLOCK_M": _pre_rows(ev), "BLOCK_EV": ev},
                    label=f"pre {dt} e{ev}{' dlse' if has_glse else ''}",
                    divisible=("o_ptr", "do_ptr", "glse_ptr", "lse_ptr", "delta_ptr", "lse2_ptr")))
    add(_attn_fwd_kernel, "fwd", D.float16, 256, True)
    add(_attn_bwd_dkdv_kernel, "dkdv", D.float16, 256, True)
    add(_attn_bwd_dq_kernel, "dq", D.float16, 256, True)
    add(_attn_fwd_kernel, "fwd", D.float32, 256, False)
    for kernel, kind in ((_attn_fwd_kernel, "fwd"), (_attn_bwd_dkdv_kernel, "dkdv"), (_attn_bwd_dq_kernel, "dq")):
        add(kernel, kind, D.float32, 64, False, t_copy=False)          # float32 with _T_COPY off
    add(_attn_bwd_dkdv_kernel, "dkdv", D.float32, 64, True, dq=False)   # float32 with _DQ_ATOMIC off
    for dt in (D.float16, D.bfloat16):                                    # half types with _DQ_ATOMIC_HALF on
        for e in switched:
            add(_attn_bwd_dkdv_kernel, "dkdv", dt, e, True, dq=True)
    for mask in (1, 2):
        add(_attn_fwd_kernel, "fwd", D.float16, 64, False, mask)
    kernels = {"fwd": _attn_fwd_kernel, "dkdv": _attn_bwd_dkdv_kernel, "dq": _attn_bwd_dq_kernel}
    for mask in (1, 2):                                     # with dropout and a mask (a padded batch in training)
        for kind, kernel in kernels.items():
            add(kernel, kind, D.float16, 64, False, mask, drop=True)
    for kind, kernel in kernels.items():                    # with dropout (DROP): each kernel's default tiles,
        for dt in (D.float16, D.bfloat16, D.float32):       # the mask saved and drawn again (_DROP_SAVE)
            for e in (64, 128):
                add(kernel, kind, dt, e, dt is not D.float32, drop=True)
                add(kernel, kind, dt, e, dt is not D.float32, drop="draw")
        add(kernel, kind, D.float16, 256, True, drop=True)
    for e in switched:
        add(_attn_bwd_dkdv_kernel, "dkdv", D.float16, e, True, dq=True, drop=True)
    for causal in (False, True):                            # the mask the forward and backward read (_DROP_SAVE)
        out.append(KernelSpec(_drop_mask_kernel, {"bits_ptr": "*u8", "seed": "i64", **dict.fromkeys(
            ("d_lo", "d_hi", "keep_t", "RT", "CW"), "i32")}, {"CAUSAL": causal, "BLOCK_R": _MASK_TILE[0],
            "BLOCK_C": _MASK_TILE[1]}, label=f"dropout mask{' causal' if causal else ''}",
            divisible=("bits_ptr", "RT", "CW")))
    for kind, kernel in kernels.items():                    # float32 reading in place (short L or S), with dropout
        add(kernel, kind, D.float32, 64, False, t_copy=False, drop=True)
    add(_attn_bwd_dkdv_kernel, "dkdv", D.float32, 64, False, dq=False, drop=True)   # and the dQ kernel
    for kind, kernel in kernels.items():                    # causal grids past CUDA's y/z limits: flat (_grid)
        add(kernel, kind, D.float16, 64, True, lpt=False)
    for e in (64, 128):                                     # the dQ kernel in one loop (_DQ_SPLIT off)
        add(_attn_bwd_dq_kernel, "dq", D.float16, e, True, split=False)
    for dt, e in ((D.float16, 64), (D.float16, 128), (D.bfloat16, 64), (D.float32, 64)):
        for causal in (False, True):                        # the other side of _RAW_MAX's choice
            add(_attn_fwd_kernel, "fwd", dt, e, causal, raw_max=not _raw_max(causal))
    for dt in (D.float16, D.bfloat16):                      # tiles by TMA (_FWD_TMA, _BWD_TMA)
        for e in (64, 128):
            for causal in (False, True):
                add(_attn_fwd_kernel, "fwd", dt, e, causal, tma=True)
                add(_attn_bwd_dq_kernel, "dq", dt, e, causal, tma=True)
                if e in switched:
                    add(_attn_bwd_dkdv_kernel, "dkdv", dt, e, causal, tma=True)
            if e in switched:
                add(_attn_bwd_dkdv_kernel, "dkdv", dt, e, True, dq=True, tma=True)
    for e in (64, 128):                                     # every tile the tuner may pick
        for kind, kernel in (("fwd", _attn_fwd_kernel), ("dkdv", _attn_bwd_dkdv_kernel), ("dq", _attn_bwd_dq_kernel)):
            for t, sm90 in _tune_tiles(_TUNE_SPACE, _TUNE_SPACE_SM90, kind, e):
                if kind != "dkdv" or e in switched:
                    add(kernel, kind, D.float16, e, True, tile=t, tma=True)
                if kind == "dkdv" and e in switched:
                    add(kernel, kind, D.float16, e, True, tile=t, dq=True, sm90=sm90)
    # every tile the tuner may pick: the forward in both half types, the backward kernels in fp16
    for kind, per_e in _TUNE_SPACE.items():
        for e in per_e:
            for t, sm90 in _tune_tiles(_TUNE_SPACE, _TUNE_SPACE_SM90, kind, e):
                for dt in (D.float16, D.bfloat16) if kind == "fwd" else (D.float16,):
                    for causal in (False, True):
                        add(kernels[kind], kind, dt, e, causal, tile=t, sm90=sm90)
    for (kind, e, c), per_cap in _MHA_TILES.items():      # multi-head launches' tiles (GROUP 1), Hopper's on sm_90
        for cap, tiles in per_cap.items():
            for t in tiles:
                for dt in (D.float16, D.bfloat16) if c == 0 else (D.float32,):
                    for causal in (False, True):
                        for dq in (False, True) if c == 0 else (False,):    # (dQ by atomics: _DQ_ATOMIC_HALF)
                            for gqa in (False, True) if c == 0 and not dq else (False,):  # (_GQA_SPAN)
                                add(kernels[kind], kind, dt, e, causal, tile=t, dq=dq, sm90=cap == 90, x3=c == 2,
                                    mha=not gqa, gqa=gqa)
    for e in [e for e in (64, 128) if _SWITCHED_DKDV_MAX_E < e <= _MHA_DQ_ATOMIC_MAX_E]:
        for dt in (D.float16, D.bfloat16):                  # Hopper's multi-head dQ by atomics: other tiles,
            for causal in (False, True):                    # and with dropout
                for t in _TUNE_SPACE["dkdv"][e]:
                    add(_attn_bwd_dkdv_kernel, "dkdv", dt, e, causal, tile=t, dq=True, sm90=True, mha=True)
            for drop in (True, "draw"):
                add(_attn_bwd_dkdv_kernel, "dkdv", dt, e, True, tile=_drop_tile("dkdv", e, 0, True, True), dq=True,
                    drop=drop, sm90=True, mha=True)
    for kind, per_e in _TUNE_SPACE_FP32.items():
        for e in per_e:
            for t, sm90 in _tune_tiles(_TUNE_SPACE_FP32, _TUNE_SPACE_FP32_SM90, kind, e):
                add(kernels[kind], kind, D.float32, e, True, tile=t, sm90=sm90)
    for space, sm90 in ((_DROP_TUNE_SPACE, False), (_DROP_TUNE_SPACE_SM90, True)):   # half dropout's (read, drawn)
        for kind, per_e in space.items():
            for e, tiles in per_e.items():
                for t in tiles:
                    for dt in (D.float16, D.bfloat16) if kind == "fwd" else (D.float16,):
                        for drop in (True, "draw"):
                            add(kernels[kind], kind, dt, e, True, tile=t, drop=drop, sm90=sm90)
    for kind, kernel in kernels.items():                    # float32 in TF32 x 3 (_FP32_DOT), head dim 64
        for causal in (False, True):
            add(kernel, kind, D.float32, 64, causal, x3=True)
            add(kernel, kind, D.float32, 64, causal, x3=True, drop=True)
        for t in _TUNE_SPACE_X3[kind][1:]:
            add(kernel, kind, D.float32, 64, True, tile=t, x3=True)
    return out


def _tune_tiles(space, hopper, kind, e):
    """(tile, Hopper only) for each tile the tuner may pick beyond the table's (``space``'s first)."""
    return [(t, False) for t in space[kind].get(e, [])[1:]] + [(t, True) for t in hopper[kind].get(e, [])]


# (B, H, Hkv, L, S, E, Ev, float mask shape or None, causal)
_CASES = [(1, 2, 2, 5, 7, 12, 12, None, False), (2, 2, 1, 4, 4, 8, 6, None, True), (1, 4, 2, 6, 3, 5, 5, None, True),
          (1, 2, 2, 3, 5, 4, 4, (1, 1, 3, 5), False), (2, 1, 1, 17, 18, 3, 3, (18,), False)]
_DROP = {"dropout_p": 0.3, "philox": (20261127, 1 << 33)}     # a fixed pair: the same mask on both devices


def _samples():
    r = rng("flash_attention")
    out = []
    for B, H, Hkv, L, S, E, Ev, ms, causal in _CASES:
        args = [r.uniform(-1, 1, (B, H, L, E)), r.uniform(-1, 1, (B, Hkv, S, E)), r.uniform(-1, 1, (B, Hkv, S, Ev))]
        if ms is not None:
            args.append(r.uniform(-1, 1, ms))
        out.append(Sample(args, {"is_causal": causal} if L != 5 else {"scale": 0.3}))
    for B, H, Hkv, L, S, E, Ev, ms, causal in (_CASES[1], _CASES[3]):       # with dropout
        args = [r.uniform(-1, 1, (B, H, L, E)), r.uniform(-1, 1, (B, Hkv, S, E)), r.uniform(-1, 1, (B, Hkv, S, Ev))]
        if ms is not None:
            args.append(r.uniform(-1, 1, ms))
        out.append(Sample(args, {"is_causal": causal, **_DROP}))
    return out


def _bw_samples():
    r = rng("flash_attention_backward")
    out = []
    for B, H, Hkv, L, S, E, Ev, ms, causal in _CASES[:3]:
        q, k, v = r.uniform(-1, 1, (B, H, L, E)), r.uniform(-1, 1, (B, Hkv, S, E)), r.uniform(-1, 1, (B, Hkv, S, Ev))
        o, lse = _fwd_cpu(q, k, v, None, scale=E ** -0.5, causal=causal)
        out.append(Sample([r.uniform(-1, 1, o.shape), r.uniform(-1, 1, lse.shape), q, k, v, o, lse],
                          {"is_causal": causal}, grad=False))
    B, H, Hkv, L, S, E, Ev, _, causal = _CASES[1]
    q, k, v = r.uniform(-1, 1, (B, H, L, E)), r.uniform(-1, 1, (B, Hkv, S, E)), r.uniform(-1, 1, (B, Hkv, S, Ev))
    o, lse = _fwd_cpu(q, k, v, None, scale=E ** -0.5, causal=causal, **_DROP)
    out.append(Sample([r.uniform(-1, 1, o.shape), r.uniform(-1, 1, lse.shape), q, k, v, o, lse],
                      {"is_causal": causal, **_DROP}, grad=False))
    return out


# ------------------------------------------------------------------------------ the ops
def _plan_state():
    """What the cuda path reads besides its inputs and the tuner (``Op(plan_state=...)``)."""
    return _T_COPY[0], _T_COPY_MIN_READS, _DQ_ATOMIC[0], _DQ_ATOMIC_HALF[0], _FWD_TMA[0], _BWD_TMA[0], \
        _DQ_TMA[0], _RAW_MAX[0], _DROP_MODE[0], _FP32_DOT[0], _GQA_SPAN[0], _DQ_SPLIT[0], _LPT_L2[0], \
        tuple(_FORCE.items()), _det.MODE != 0


_attn_op = Op("flash_attention", cpu=_fwd_cpu, cuda=_fwd_cuda, backward=_fwd_bw, save=(0, 1, 2, 3),
              save_output="all", grad_outputs=2, samples=_samples, family="attention", plan_state=_plan_state,
              kernels=lambda: [s for s in _specs() if s.kernel in (_attn_fwd_kernel, _drop_mask_kernel)])
_attn_bw_op = Op("flash_attention_backward", cpu=_bwd_cpu, cuda=_bwd_cuda, backward=_bw_bw, save=None,
                 samples=_bw_samples, family="attention", plan_state=_plan_state,
                 kernels=lambda: [s for s in _specs() if s.kernel not in (_attn_fwd_kernel, _drop_mask_kernel)])


def flash_attention(query, key, value, attn_mask=None, *, scale=None, is_causal=False, dropout_p=0.0,
                    generator=None, philox=None):
    r"""``(out, logsumexp)`` of ``dropout(softmax(query @ key^T * scale + bias)) @ value`` in the fused
    kernels.

    ``query`` (B, H, L, E), ``key`` (B, Hkv, S, E), ``value`` (B, Hkv, S, Ev) with ``H % Hkv == 0``;
    ``attn_mask`` bool (True takes part) or float (added), broadcastable to (B, H, L, S); ``scale``
    defaults to :math:`1/\sqrt{E}`. ``logsumexp`` (B, H, L) is float32 (float64 for float64 inputs)
    and ``-inf`` on a fully masked row, whose output is zeros; it is the undropped weights'.
    ``dropout_p`` in [0, 1): each weight is zeroed with that probability and the rest scaled by
    1 / (1 - p), the mask drawn by Philox from ``philox`` = (seed, offset) when given (the same pair
    gives the same mask on cpu and cuda), else from ``generator`` (the device's default when None),
    which advances by B * H * L * S numbers. Needs L * S < 2**31.
    ``ttorch.nn.functional.scaled_dot_product_attention`` calls this when it applies.
    """
    sc = float(scale) if scale is not None else query.shape[-1] ** -0.5
    dropout_p = float(dropout_p)
    if not dropout_p:
        return _attn_op(query, key, value, attn_mask, scale=sc, causal=bool(is_causal), dropout_p=0.0, philox=None)
    B, H, L = query.shape[:3]
    S = key.shape[2]
    if not 0.0 < dropout_p < 1.0:
        raise ValueError(f"flash_attention: dropout_p must be in [0, 1), but got {dropout_p}")
    if L * S >= 1 << 31 or B * H >= 1 << 31:
        raise ValueError(f"flash_attention: dropout needs L * S < 2**31 and B * H < 2**31, got L={L}, S={S}, "
                         f"B * H={B * H}")
    if philox is None:                  # (random._gen: a generator of the other device type is an error)
        philox = _gen(query.device, generator, "flash_attention").philox(B * H * L * S)
    philox = (int(philox[0]) & 0x7FFF_FFFF_FFFF_FFFF, int(philox[1]) & 0x7FFF_FFFF_FFFF_FFFF)
    return _attn_op(query, key, value, attn_mask, scale=sc, causal=bool(is_causal), dropout_p=dropout_p,
                    philox=philox)[:2]                  # (a third output: the mask kept for the backward)


def _flash_attention_backward(grad_out, grad_lse, query, key, value, out, lse, attn_mask=None, *, scale=None,
                              is_causal=False, dropout_p=0.0, philox=None):
    """``(dq, dk, dv)`` of ``flash_attention`` from its saved ``out`` and ``lse`` (and its ``philox``
    pair, with dropout)."""
    sc = float(scale) if scale is not None else query.shape[-1] ** -0.5
    return _attn_bw_op(grad_out, grad_lse, query, key, value, out, lse, attn_mask, scale=sc,
                       causal=bool(is_causal), dropout_p=float(dropout_p), philox=philox)


_fwd_bw.takes_none = True      # no zeros for an unused output: the logsumexp's gradient is None as a rule
_attn_op.public, _attn_bw_op.public = flash_attention, _flash_attention_backward
_attn_op.dtypes = _attn_bw_op.dtypes = (D.float32, D.float16, D.bfloat16)

__all__ = []
