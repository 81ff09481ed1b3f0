"""The GEMM kernel family behind every product on cuda (``matmul``, ``mm``, ``bmm``, ``addmm``,
``baddbmm``, ``linear``): a tiled Triton kernel, ``_gemm_kernel``, a persistent TMA variant for
Hopper, ``_gemm_tma_kernel``, and their host launcher.

The tiled kernel takes any M/N/K (masks), any strides of A and B (a transposed operand needs no
copy, except in big float32 FMA products, whose A is read stored (K, M) and B stored (K, N),
``_FMA_M_MAJOR_A_FROM_N`` and ``_FMA_ROW_MAJOR_B_FROM_M``, and a TF32 operand on Hopper that is not
K-major, ``_TF32_K_MAJOR_FROM``), a
batch on the second grid axis (stride 0 for a broadcast batch) and walks its tiles in grouped order;
few output tiles over a long K split K (``_split_k``). It accumulates in fp32 (fp64 for float64) and
ends in one epilogue::

    out = act(alpha * A @ B + beta * C)      act in none, relu, gelu, gelu_tanh, silu

``C`` is ``addmm``'s input or ``linear``'s bias (any tensor broadcastable to ``out``); the
activation runs on the fp32 accumulator before the single store, so ``linear`` + activation
costs no extra pass over memory.

The persistent kernel (one program per SM, operand tiles by TMA descriptors) runs only where the
tuner stored it as the winner (``python -m ttorch.tune --op gemm`` on an sm_90 card) and the
layout allows: one product, row-major A, B row-major or stored transposed, 16-byte aligned rows.

float32 products take ``tl.dot(..., input_precision="tf32")`` when
``ttorch.backends.cuda.matmul.allow_tf32`` is on (``PREC``, a constexpr), "ieee" otherwise.
float64 takes the tiled kernel: ``tl.dot`` on fp64 where the Triton has it (DMMA), else FMA.
"""
import itertools

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from .._tensor import Tensor, _numel
from ..backends import cuda as _backends_cuda
from ..cuda import _driver
from ._launch import launch, cdiv, SIMULATED, _TensorDescriptor
from .elementwise import tl_dtype, _bstrides, _collapse
from .unary import _relu, _gelu, _gelu_tanh, _silu

ACTIVATIONS = ("none", "relu", "gelu", "gelu_tanh", "silu")


# ------------------------------------------------------------------------------- the kernel
@triton.jit
def _grouped(tile, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """Output tile ``tile``'s (row, column) block in grouped order: GROUP_M consecutive tiles walk
    down a column, so the tiles of B they share are still in L2 when the next group starts."""
    width = GROUP_M * tl.cdiv(N, BLOCK_N)
    first_m = (tile // width) * GROUP_M
    group_m = tl.minimum(tl.cdiv(M, BLOCK_M) - first_m, GROUP_M)
    return first_m + (tile % width) % group_m, (tile % width) // group_m


@triton.jit
def _gemm_kernel(a_ptr, b_ptr, c_ptr, out_ptr, M, N, K,
                 s_ab, s_am, s_ak, s_bb, s_bk, s_bn, s_cb, s_cm, s_cn, s_ob, s_om, s_on,
                 alpha, alpha_lo, beta, beta_lo,
                 ACC: tl.constexpr, PREC: tl.constexpr, HAS_C: tl.constexpr, SCALE: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
                 ACT: tl.constexpr = "none", C_ROW: tl.constexpr = False):
    pid_m, pid_n = _grouped(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    batch = tl.program_id(1).to(tl.int64)
    rm = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    rn = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)).to(tl.int64)
    rk = tl.arange(0, BLOCK_K)
    # rows/columns past the edge wrap around (% M): loads stay in bounds with a mask on K only
    a_ptrs = a_ptr + batch * s_ab + (rm % M)[:, None] * s_am + rk[None, :] * s_ak
    b_ptrs = b_ptr + batch * s_bb + rk[:, None] * s_bk + (rn % N)[None, :] * s_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=rk[None, :] < k_left, other=0.0)
        b = tl.load(b_ptrs, mask=rk[:, None] < k_left, other=0.0)
        if PREC == "fma":  # float64 on Tritons whose tl.dot has no fp64 (3.6 does not)
            acc += tl.sum(a[:, :, None].to(ACC) * b[None, :, :].to(ACC), axis=1)
        else:
            acc = tl.dot(a, b, acc, input_precision=PREC)
        a_ptrs += BLOCK_K * s_ak
        b_ptrs += BLOCK_K * s_bk
    _epilogue(acc, c_ptr, batch * s_cb, out_ptr + batch * s_ob, rm, rn, M, N, s_cm, s_cn, s_om, s_on,
              alpha, alpha_lo, beta, beta_lo, ACC, HAS_C, SCALE, ACT, C_ROW)


@triton.jit
def _epilogue(acc, c_ptr, c_off, out_ptr, rm, rn, M, N, s_cm, s_cn, s_om, s_on, alpha, alpha_lo, beta, beta_lo,
              ACC: tl.constexpr, HAS_C: tl.constexpr, SCALE: tl.constexpr, ACT: tl.constexpr,
              C_ROW: tl.constexpr):
    """``out = act(alpha * acc + beta * C)`` for one tile, rows ``rm`` and columns ``rn``; both GEMM
    kernels end here. ``C_ROW``: C is one row broadcast over M (a bias, ``s_cm`` 0), loaded once a
    column: a (BLOCK_M, BLOCK_N) load of it doubled a TF32 128x256 tile's registers (180 B spilled)."""
    # alpha and beta arrive as fp32 pairs (hi + lo): a float64 product keeps ~48 bits of them
    if SCALE:
        acc = acc * alpha + acc * alpha_lo
    mask = (rm < M)[:, None] & (rn < N)[None, :]
    if HAS_C:
        if C_ROW:
            c = tl.load(c_ptr + c_off + rn * s_cn, mask=rn < N, other=0.0).to(ACC)[None, :]
        else:
            c = tl.load(c_ptr + c_off + rm[:, None] * s_cm + rn[None, :] * s_cn, mask=mask, other=0.0).to(ACC)
        acc += c * beta + c * beta_lo
    # the activation sees the fp32 (fp64) pre-activation, as PyTorch's unfused fp32 math would
    if ACT == "relu":
        acc = _relu(acc, 0, 0)
    elif ACT == "gelu":
        acc = _gelu(acc, 0, 0)
    elif ACT == "gelu_tanh":
        acc = _gelu_tanh(acc, 0, 0)
    elif ACT == "silu":
        acc = _silu(acc, 0, 0)
    tl.store(out_ptr + rm[:, None] * s_om + rn[None, :] * s_on, acc.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _split_k_sum_kernel(ws_ptr, c_ptr, out_ptr, M, N, SPLITS, s_cm, s_cn, s_om, s_on, alpha, alpha_lo, beta, beta_lo,
                        ACC: tl.constexpr, HAS_C: tl.constexpr, SCALE: tl.constexpr, ACT: tl.constexpr,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, C_ROW: tl.constexpr = False):
    """A split-K product's partial tiles (``ws``: (SPLITS, M, N) in the accumulator's dtype) summed
    in split order, then the GEMM's epilogue."""
    rm = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    rn = (tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)).to(tl.int64)
    mask = (rm < M)[:, None] & (rn < N)[None, :]
    ptrs = ws_ptr + rm[:, None] * N + rn[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for _ in range(0, SPLITS):
        acc += tl.load(ptrs, mask=mask, other=0.0)
        ptrs += M * N
    _epilogue(acc, c_ptr, 0, out_ptr, rm, rn, M, N, s_cm, s_cn, s_om, s_on, alpha, alpha_lo, beta, beta_lo, ACC,
              HAS_C, SCALE, ACT, C_ROW)


@triton.jit
def _gemm_tma_kernel(a_desc, b_desc, c_ptr, out_ptr, M, N, K, s_cm, s_cn, s_om, s_on, alpha, alpha_lo, beta, beta_lo,
                     programs, ACC: tl.constexpr, PREC: tl.constexpr, HAS_C: tl.constexpr, SCALE: tl.constexpr,
                     B_T: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                     GROUP_M: tl.constexpr, ACT: tl.constexpr = "none", FLATTEN: tl.constexpr = False,
                     C_ROW: tl.constexpr = False):
    """The persistent GEMM for Hopper: ``programs`` programs (one per SM) stride over the output
    tiles in grouped order, and the operand tiles arrive by TMA: the copy engine computes the
    addresses and zero-fills past the edges, so the K loop has no masks and no pointer arithmetic.
    A is row-major; B is row-major (K, N) or, with ``B_T``, stored (N, K) as ``linear``'s weight.
    ``FLATTEN``: Triton fuses the tile loop and the K loop into one pipelined loop, so the next
    tile's first loads are in flight during this tile's epilogue (a tuning choice: TMA field 2)."""
    tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(N, BLOCK_N)
    for tile in tl.range(tl.program_id(0), tiles, programs, flatten=FLATTEN):
        pid_m, pid_n = _grouped(tile, M, N, BLOCK_M, BLOCK_N, GROUP_M)
        off_m, off_n = pid_m * BLOCK_M, pid_n * BLOCK_N
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
        for k in range(0, tl.cdiv(K, BLOCK_K)):
            a = a_desc.load([off_m, k * BLOCK_K])                                   # (BM, BK)
            if B_T:
                b = b_desc.load([off_n, k * BLOCK_K]).T                             # (BK, BN)
            else:
                b = b_desc.load([k * BLOCK_K, off_n])
            acc = tl.dot(a, b, acc, input_precision=PREC)
        rm = (off_m + tl.arange(0, BLOCK_M)).to(tl.int64)
        rn = (off_n + tl.arange(0, BLOCK_N)).to(tl.int64)
        _epilogue(acc, c_ptr, 0, out_ptr, rm, rn, M, N, s_cm, s_cn, s_om, s_on, alpha, alpha_lo, beta, beta_lo, ACC,
                  HAS_C, SCALE, ACT, C_ROW)


# Tile configurations (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages), largest first.
# ``pick_config`` chooses among them by shape; an autotuner can time them instead.
CONFIGS = [
    (128, 128, 64, 8, 8, 3),    # 0: large fp16/bf16 products (96 KiB of shared memory in 3 stages)
    (128, 64, 32, 8, 4, 4),     # 1: large fp32, medium half products
    (64, 64, 32, 8, 4, 4),      # 2: medium
    (32, 32, 32, 8, 4, 3),      # 3: small or skinny products
    (64, 64, 16, 8, 4, 3),      # 4: float64 (DMMA tiles; 8-byte elements double the shared memory)
    (32, 32, 16, 8, 4, 3),      # 5: small float64
    (32, 32, 8, 8, 4, 2),       # 6: float64 without tl.dot (broadcast FMA: the K slab lives in registers)
    # 7: large fp16/bf16 products on GPUs with 144 KiB of shared memory a block (sm_80, sm_90+): the
    # H100's tuner chose 128x256x64 w8 for every large half product (4096^3 to 8192^3, the LLM shapes,
    # 3 or 4 stages), where the untuned 128x128 tiles ran the LLM shapes at 0.71-0.79x cuBLAS
    (128, 256, 64, 8, 8, 3),
]
_BY_DTYPE = {D.float16: (0, 1, 2, 3), D.bfloat16: (0, 1, 2, 3), D.float32: (1, 2, 3), D.float64: (4, 5)}
_BY_DTYPE_WIDE = {D.float16: (7, 0, 1, 2, 3), D.bfloat16: (7, 0, 1, 2, 3)}
_WAVE = 128          # about one program per SM (108 on A100, 132 on H100)
_MAX_GRID_Y = 65535  # CUDA's limit on grid axis 1 (the batch): larger batches launch in chunks
# Untuned large half products on Hopper: CONFIGS[7]'s tile in the persistent TMA kernel with its loops
# flattened (a 7th field of 2), the H100 tuner's winner for bf16 4096^3 (754 TFLOP/s by its timer,
# against 715 for the plain kernel's best tile in an earlier session), from two waves of tiles on (a
# 4096 x 4096 output has 512). Unmeasured untuned: the LLM shapes and 8192^3 ran CONFIGS[7] untuned.
_TMA_TILE = CONFIGS[7] + (2,)
_TMA_FROM_TILES = 2 * _WAVE
# Untuned TF32 products on Hopper (from a wave of tiles): 128x256x32 w8 s3 in the persistent TMA
# kernel, the H200 tuner's winner at 4096^3 (357 TFLOP/s). Untuned on the H200 against the FMA-sized
# heuristic tile (CONFIGS[1]): 8192^3 3.05 against 5.43 ms, 4096x4096x11008 1.07 against 1.93,
# 2048^3 0.062 against 0.094 (the same tile in the plain kernel: 3.63, 1.26, 0.068).
_TF32_TMA_TILE = (128, 256, 32, 8, 8, 3, 1)


def pick_config(M, N, K, batch, dtype, wide=False, hopper=False, prec="ieee"):
    """The largest tile of ``dtype``'s configurations that still gives a full wave of programs
    (``cdiv(M, BM) * cdiv(N, BN) * batch >= _WAVE``); small problems take the smallest tile.
    ``wide``: the GPU has the shared memory for 128x256 half tiles (``_wide_tiles``). ``hopper``: a
    single half product of at least ``_TMA_FROM_TILES`` such tiles that K doesn't split takes the
    persistent TMA kernel's tile instead (``_TMA_TILE``; ``_launch_gemm`` falls back to the plain
    kernel with the same tile where the operands' layout rules TMA out). A single TF32 (``prec``)
    product of a wave of 128x256 tiles on Hopper takes ``_TF32_TMA_TILE``.

    The interpreter pays per program, not per element: 16x16x16 tiles on small shapes (so tiny
    tests reach the edge masks, the K loop and the grouped order), 64x64x32 beyond."""
    if SIMULATED:
        t = 16 if max(M, N) <= 64 else 64
        return (t, t, 16 if K <= 64 else 32, 2, 4, 1)
    if prec == "tf32" and hopper and batch == 1 and _TensorDescriptor is not None and \
            cdiv(M, 128) * cdiv(N, 256) >= _WAVE and _split_k(M, N, K, 128, 256, 32) is None:
        return _TF32_TMA_TILE
    cands = (_BY_DTYPE_WIDE.get(dtype) if wide else None) or _BY_DTYPE[dtype]
    for i in cands:
        bm, bn = CONFIGS[i][:2]
        if cdiv(M, bm) * cdiv(N, bn) * batch >= _WAVE:
            if i == 7 and hopper and batch == 1 and _TensorDescriptor is not None and \
                    cdiv(M, bm) * cdiv(N, bn) >= _TMA_FROM_TILES and _split_k(M, N, K, bm, bn, CONFIGS[7][2]) is None:
                return _TMA_TILE
            return CONFIGS[i]
    return CONFIGS[cands[-1]]


# Does this Triton's tl.dot take float64? Triton 3.9 builds DMMA; 3.6 rejects it, and float64
# products then take the broadcast-FMA path. None: not known until the first float64 product.
_fp64_dot = [True if SIMULATED else None]


def precision(dtype):
    """``tl.dot``'s input precision for a product in ``dtype``: "tf32" for float32 when
    ``ttorch.backends.cuda.matmul.allow_tf32`` is on, else "ieee"."""
    return "tf32" if dtype is D.float32 and _backends_cuda._tf32_matmul() else "ieee"


def _split(x, acc):
    """``x`` as fp32 hi + lo (lo only matters for float64 accumulation)."""
    hi = float(np.float32(x))
    return hi, (float(np.float32(x - hi)) if acc is D.float64 else 0.0)


def _shift(t, delta):
    return t if t is None or delta == 0 else t._view(t._shape, t.stride(), t._offset + delta)


def _gemm(a, b, out, c=None, alpha=1.0, beta=0.0, act="none"):
    """``out = act(alpha * a @ b + beta * c)`` on cuda. ``a`` (*batch, M, K), ``b`` (*batch, K, N)
    and ``out`` (*batch, M, N) share the batch shape (broadcast dims with stride 0); ``c`` is None
    or any tensor broadcastable to ``out``."""
    *batch, M, N = out._shape
    K = a._shape[-1]
    if out.numel() == 0:
        return out
    nb = len(batch)
    so, sa, sb = out.stride(), a.stride(), b.stride()
    sc = _bstrides(c, out._shape) if c is not None else (0,) * out.ndim
    # B shared by the whole batch (x @ W): fold the batch into M when the rows merge
    if nb and all(s == 0 or n == 1 for s, n in zip(sb, batch)):
        sizes, (fa, fo, fc) = _collapse(batch + [M], [sa[:nb + 1], so[:nb + 1], sc[:nb + 1]])
        if len(sizes) <= 1:
            M = sizes[0] if sizes else 1
            sa = (fa[0] if sizes else 0, sa[-1])
            so = (fo[0] if sizes else 0, so[-1])
            sc = (fc[0] if sizes else 0, sc[-1])
            sb = sb[-2:]
            batch, nb = [], 0
    sizes, bst = _collapse(batch, [sa[:nb], sb[:nb], sc[:nb], so[:nb]]) if nb else (None, None)
    if not sizes:
        sizes, bst = [1], [[0]] * 4
    acc = D.float64 if out.dtype is D.float64 else D.float32
    args = (a, b, c, out, sizes, bst, sa, sb, sc, so, M, N, K, alpha, beta, acc, act)
    return with_fp64_fallback(lambda p: _launch_gemm(*args, p, CONFIGS[6] if p == "fma" else None), out.dtype,
                              precision(out.dtype))


def _config(dtype, prec, layout, M, N, K, batch, index):
    """The tile of a product the kernel sees in ``layout`` (after ``_launch_gemm``'s copies): the tuned
    winner of its bucket, else ``pick_config``'s."""
    key = _tune_key(dtype, prec, M, N, K, layout)
    won = tune.lookup("gemm", key)
    if won is None and tune.has_winners("gemm"):
        # a cache written before layouts were keyed: its winner serves every layout of the bucket
        won = tune.lookup("gemm", key[:2] + key[3:])
    return _tile(won) if won is not None else pick_config(M, N, K, batch, dtype, _wide_tiles(index), _hopper(index),
                                                           prec)


def with_fp64_fallback(fn, dtype, prec="ieee"):
    """``fn(prec)``; for float64 the first call tries ``tl.dot`` and, where this Triton can't compile
    it (3.6 rejects fp64 dots), this and every later float64 product run ``fn("fma")`` instead.
    Compiling fails before anything is launched, so trying is safe. Shared by the conv kernels."""
    if dtype is not D.float64:
        return fn(prec)
    if _fp64_dot[0] is None:
        from triton.compiler.errors import CompilationError
        try:
            out = fn(prec)
            _fp64_dot[0] = True
            return out
        except CompilationError:
            _fp64_dot[0] = False
    return fn(prec if _fp64_dot[0] else "fma")


# A float32 "ieee" product runs on the FMA units, where a B stored (N, K) (linear's forward, x @ W^T)
# ran at half the speed of a row-major B with every tile of the space: 22 against 43 TFLOP/s on an
# H100 at the GPT-2 step's shapes (Triton 3.6). From this many rows of A on, B is copied row-major
# first: the copy reads and writes B once, the product reads it M / BLOCK_M times. Measured since (H100,
# 8192 x 768 -> 3072, both copies 0.93 ms): 2.80 ms with B read in place, 0.96 with A in place.
_FMA_ROW_MAJOR_B_FROM_M = 1024
# The same product reads A best stored (K, M): each thread's FMAs take a column of A's tile and a row
# of B's, and with both contiguous in shared memory the sm_90 PTX of a 64x128x32 tile loads them in
# 176 16-byte loads per K block, against 368 mostly 4-byte ones for a row-major A (Triton 3.6; 2048
# FMAs either way). The H100's tuning saw 50 TFLOP/s for such a product (dY^T @ X) against 44 for
# row-major ones. From this many columns of B on (and _FMA_M_MAJOR_A_FROM_M rows), A is copied so:
# the copy moves 8 bytes per element of A, the product does 2N FLOPs per element, so at 2048
# columns the copy costs about 3% of the product's time (FMA peak against HBM bandwidth).
_FMA_M_MAJOR_A_FROM_N = 2048
_FMA_M_MAJOR_A_FROM_M = 128


# TF32 on Hopper: wgmma reads 32-bit operands from shared memory K-major only (PTX keeps the
# transposed layouts for 16-bit types), so Triton fills the tile of an operand that is contiguous
# along M or N (a row-major B, a transposed A) with 4-byte cp.async copies, against 16-byte ones for
# a K-major operand (seen in the sm_90 PTX of Triton 3.6 and 3.9; sm_80's mma.sync takes either
# layout). From this many rows (columns) of the other operand on, such an operand is copied K-major
# first: the copy reads and writes it once by tiles, the product reads it once per row of tiles.
# H100, 4096^3 with a row-major B: 0.79 ms copied K-major, 1.65 read in place.
_TF32_K_MAJOR_FROM = 256


def _restored(t, rows, cols, st, by_columns):
    """A copy of operand ``t``'s (rows, cols) matrix (last two strides ``st``) stored row by row, or
    column by column (``by_columns``: the copy of its transpose, viewed back): the operand the
    kernel reads instead, and its (row, column) strides."""
    if by_columns:
        c = t.detach()._view((cols, rows), (st[-1], st[-2]), t._offset).contiguous()
        return c._view((rows, cols), (1, rows), 0), (1, rows)
    return t.detach()._view((rows, cols), (st[-2], st[-1]), t._offset).contiguous(), (cols, 1)


def plan_state():
    """What a product's launches depend on besides its operands' metadata and the tuning winners (which
    a plan checks itself): TF32, float64's path, the layout and split rules' thresholds and the split
    rule itself (a test or an A/B timing may change them). Ops built on ``_gemm`` give it as
    ``Op(plan_state=...)`` (``_plan.py``); a new rule's threshold belongs here."""
    return (precision(D.float32), _fp64_dot[0], _FMA_ROW_MAJOR_B_FROM_M, _FMA_M_MAJOR_A_FROM_N, _FMA_M_MAJOR_A_FROM_M,
            _TF32_K_MAJOR_FROM, _SPLIT_MIN_STEPS, _SPLIT_FILL, _SPLIT_LONG_STEPS, _WAVE, _split_k)


def _layout(s):
    """An operand's layout from its last two strides: "n" stored row by row, "t" column by column (a
    transposed view), "s" neither (a strided view, or a degenerate dim)."""
    return "n" if s[-1] == 1 and s[-2] != 1 else "t" if s[-2] == 1 and s[-1] != 1 else "s"


def _copies(dtype, prec, layout, M, N, K, hopper):
    """Which operands of a single (unbatched) product ``_launch_gemm`` copies before the kernel reads
    them (the comments above ``_FMA_ROW_MAJOR_B_FROM_M`` and ``_TF32_K_MAJOR_FROM`` say why), as (A, B)
    booleans; each copy turns its operand's layout letter over. One place for the rules: the launch
    follows them and the tuner keys its buckets by what they leave."""
    la, lb = layout
    if prec == "ieee" and dtype is D.float32:
        return (la == "n" and K > 1 and M >= _FMA_M_MAJOR_A_FROM_M and N >= _FMA_M_MAJOR_A_FROM_N,
                lb == "t" and N > 1 and K > 1 and M >= _FMA_ROW_MAJOR_B_FROM_M)
    if prec == "tf32" and K > 1 and hopper:
        return la == "t" and M > 1 and N >= _TF32_K_MAJOR_FROM, lb == "n" and N > 1 and M >= _TF32_K_MAJOR_FROM
    return False, False


_FLIP = {"n": "t", "t": "n"}


def _seen_layout(dtype, prec, layout, M, N, K, hopper):
    """The layout the kernel reads a single product stored in ``layout`` in, after the copies."""
    ca, cb = _copies(dtype, prec, layout, M, N, K, hopper)
    return (_FLIP[layout[0]] if ca else layout[0]) + (_FLIP[layout[1]] if cb else layout[1])


def _c_row(c, sc):
    """Whether C is one row broadcast over the output's rows (a bias): the epilogue loads it once a column."""
    return c is not None and sc[-2] == 0


def _launch_gemm(a, b, c, out, sizes, bst, sa, sb, sc, so, M, N, K, alpha, beta, acc, act, prec, cfg=None):
    """Launch the product with tile ``cfg`` (None: ``_config``'s for the layout the kernel reads)."""
    index = out.device.index or 0
    layout = _layout(sa) + _layout(sb)
    if _numel(sizes) == 1:
        copy_a, copy_b = _copies(a.dtype, prec, layout, M, N, K, prec == "tf32" and _hopper(index))
        if copy_b:      # FMA: B (N, K) copied row-major; TF32: B row-major copied K-major
            b, sb = _restored(b, K, N, sb, by_columns=prec == "tf32")
            bst = [bst[0], [0], bst[2], bst[3]]
        if copy_a:      # FMA: A row-major copied (K, M); TF32: A stored (K, M) copied row-major
            a, sa = _restored(a, M, K, sa, by_columns=prec != "tf32")
            bst = [[0], bst[1], bst[2], bst[3]]
        if copy_a or copy_b:
            layout = _layout(sa) + _layout(sb)
    if cfg is None:
        cfg = _config(out.dtype, prec, layout, M, N, K, _numel(sizes), index)
    bm, bn, bk, gm, warps, stages = cfg[:6]
    a_hi, a_lo = _split(alpha, acc)
    b_hi, b_lo = _split(beta, acc)
    tiles = cdiv(M, bm) * cdiv(N, bn)
    meta = dict(ACC=tl_dtype(acc), PREC=prec, HAS_C=c is not None, SCALE=alpha != 1, BLOCK_M=bm, BLOCK_N=bn,
                BLOCK_K=bk, GROUP_M=gm, ACT=act, C_ROW=_c_row(c, sc), num_warps=warps, num_stages=stages)
    if len(cfg) > 6 and cfg[6] and _numel(sizes) == 1 and _hopper(out.device.index or 0):  # a tuned TMA tile
        tma = _tma_descriptors(a, b, sa, sb, M, N, K, bm, bn, bk)
        if tma is not None:
            a_desc, b_desc, b_t = tma
            programs = min(tiles, _driver.backend().sm_count(out.device.index or 0))
            launch(_gemm_tma_kernel, (programs,), a_desc, b_desc, c, out, M, N, K, sc[-2], sc[-1], so[-2], so[-1],
                   a_hi, a_lo, b_hi, b_lo, programs, B_T=b_t, FLATTEN=cfg[6] == 2, **meta)
            return out
    split = _split_k(M, N, K, bm, bn, bk) if _numel(sizes) == 1 else None
    if split is not None:
        return _launch_split_k(a, b, c, out, sa, sb, sc, so, M, N, K, alpha, beta, acc, act, prec, cfg, *split)
    inner = sizes[-1]
    if len(sizes) == 1 and inner <= _MAX_GRID_Y:      # one launch (the common case): no index loop
        launch(_gemm_kernel, (tiles, inner), a, b, c, out, M, N, K, bst[0][-1], sa[-2], sa[-1], bst[1][-1], sb[-2],
               sb[-1], bst[2][-1], sc[-2], sc[-1], bst[3][-1], so[-2], so[-1], a_hi, a_lo, b_hi, b_lo, **meta)
        return out
    # leading batch dims that don't merge loop here; the last one is grid axis 1
    for idx in itertools.product(*[range(s) for s in sizes[:-1]]):
        for start in range(0, inner, _MAX_GRID_Y):
            d = [sum(i * st[j] for j, i in enumerate(idx)) + start * st[-1] for st in bst]
            launch(_gemm_kernel, (tiles, min(inner - start, _MAX_GRID_Y)), _shift(a, d[0]), _shift(b, d[1]),
                   _shift(c, d[2]), _shift(out, d[3]), M, N, K, bst[0][-1], sa[-2], sa[-1], bst[1][-1], sb[-2],
                   sb[-1], bst[2][-1], sc[-2], sc[-1], bst[3][-1], so[-2], so[-1], a_hi, a_lo, b_hi, b_lo, **meta)
    return out


# Split K: a product with few output tiles and a long K (a classifier head, 128 x 10 outputs over
# 4096 features, ran 4 programs of 128 K steps each) runs its K range in parts on the batch grid axis,
# each part's tiles into an fp32 workspace, then one kernel sums the parts in order (deterministic,
# no atomics) and applies the epilogue. Each part keeps at least _SPLIT_MIN_STEPS K blocks.
# A product with a few programs per SM and a long K splits too, into parts of at least
# _SPLIT_LONG_STEPS K blocks, up to _SPLIT_FILL programs per SM: the GPT-2-like step's weight
# gradients (dY^T @ X: 768 x 768 and 768 x 3072 outputs over 8192 tokens) ran 144 and 288 tiles, at
# 26 and 32 TFLOP/s against 47-50 for the wider ones (H100, float32). The workspace costs 8 bytes
# per output and part, against 2K FLOPs per output. 0 turns this off.
_SPLIT_MIN_STEPS = 4
_SPLIT_FILL = 3
_SPLIT_LONG_STEPS = 64


def _split_k(M, N, K, bm, bn, bk):
    """(parts, K per part) where splitting K fills the GPU better, else None."""
    tiles, steps = cdiv(M, bm) * cdiv(N, bn), cdiv(K, bk)
    if 4 * tiles <= _WAVE:
        per_steps = max(_SPLIT_MIN_STEPS, cdiv(steps, cdiv(_WAVE, tiles)))
    elif tiles < _SPLIT_FILL * _WAVE and steps >= 2 * _SPLIT_LONG_STEPS:
        parts = min(cdiv(_SPLIT_FILL * _WAVE, tiles), steps // _SPLIT_LONG_STEPS)
        per_steps = cdiv(steps, parts)
    else:
        return None
    parts = cdiv(K, per_steps * bk)
    return (parts, per_steps * bk) if parts > 1 else None


def _launch_split_k(a, b, c, out, sa, sb, sc, so, M, N, K, alpha, beta, acc, act, prec, cfg, parts, per):
    bm, bn, bk, gm, warps, stages = cfg[:6]
    ws = Tensor._empty((parts, M, N), acc, out.device)
    meta = dict(ACC=tl_dtype(acc), PREC=prec, HAS_C=False, SCALE=False, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk,
                GROUP_M=gm, ACT="none", num_warps=warps, num_stages=stages)
    whole = K // per                    # the parts of a whole ``per``; a ragged last part runs on its own
    for first, count, k in ((0, whole, per), (whole, parts - whole, K - whole * per)):
        if count:
            launch(_gemm_kernel, (cdiv(M, bm) * cdiv(N, bn), count), _shift(a, first * per * sa[-1]),
                   _shift(b, first * per * sb[-2]), None, _shift(ws, first * M * N), M, N, k, per * sa[-1], sa[-2],
                   sa[-1], per * sb[-2], sb[-2], sb[-1], 0, 0, 0, M * N, N, 1, 1.0, 0.0, 0.0, 0.0, **meta)
    a_hi, a_lo = _split(alpha, acc)
    b_hi, b_lo = _split(beta, acc)
    launch(_split_k_sum_kernel, (cdiv(M, 32), cdiv(N, 32)), ws, c, out, M, N, parts, sc[-2], sc[-1], so[-2], so[-1],
           a_hi, a_lo, b_hi, b_lo, ACC=tl_dtype(acc), HAS_C=c is not None, SCALE=alpha != 1, ACT=act, BLOCK_M=32,
           BLOCK_N=32, C_ROW=_c_row(c, sc), num_warps=4)
    return out


def _wide_tiles(index):
    """Whether device ``index`` gives a block the 144 KiB that CONFIGS[7] takes: sm_80 (A100, 163 KiB)
    and sm_90 on (H100, 227 KiB); not sm_86/sm_89 (99-100 KiB). (The driver caches capabilities.)"""
    major, minor = _driver.backend().capability(index)
    return (major, minor) == (8, 0) or major >= 9


def _hopper(index):
    return _driver.backend().capability(index)[0] >= 9


def _fast_descriptor(base, shape, strides, block):
    """``TensorDescriptor(base, shape, strides, block)`` without its ``__post_init__`` checks, which
    took a fifth of a TMA product's host time: ``_tma_descriptors`` checks alignment and strides
    itself, and the blocks are the tune space's tiles."""
    d = object.__new__(_TensorDescriptor)
    d.__dict__.update(_DESC_DEFAULTS)
    d.base, d.shape, d.strides, d.block_shape = base, shape, strides, block
    return d


def _desc_defaults():
    import dataclasses
    try:
        fields = dataclasses.fields(_TensorDescriptor)
        return {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    except TypeError:                     # not a dataclass in this Triton: its own constructor
        return None


_DESC_DEFAULTS = _desc_defaults() if _TensorDescriptor is not None else None
_descriptor = _TensorDescriptor if _DESC_DEFAULTS is None or hasattr(_TensorDescriptor, "__slots__") \
    else _fast_descriptor


def _tma_descriptors(a, b, sa, sb, M, N, K, bm, bn, bk):
    """TMA descriptors of A (row-major) and B (row-major, or stored (N, K): ``B_T``) and ``B_T``, or None where
    the layout rules TMA out: half or float32 elements, a unit inner stride, 16-byte aligned bases
    and row strides."""
    size = a.dtype.itemsize
    if a.dtype not in (D.float16, D.bfloat16, D.float32) or (K * size) % 16:
        return None
    a_row = sa[-2] if M > 1 else K
    if (sa[-1] != 1 and K > 1) or (a_row * size) % 16 or a.data_ptr() % 16 or b.data_ptr() % 16:
        return None
    if sb[-1] == 1 or N == 1:                          # (K, N) row-major
        b_row = sb[-2] if K > 1 else N
        b_t, b_desc = False, _descriptor(b, [K, N], [b_row, 1], [bk, bn]) if (b_row * size) % 16 == 0 else None
    elif sb[-2] == 1:                                  # (N, K) row-major, read transposed
        b_t, b_desc = True, _descriptor(b, [N, K], [sb[-1], 1], [bn, bk]) if (sb[-1] * size) % 16 == 0 else None
    else:
        b_desc = None
    return None if b_desc is None else (_descriptor(a, [M, K], [a_row, 1], [bm, bk]), b_desc, b_t)


# ------------------------------------------------------------------------------- tuning
# ``python -m ttorch.tune --op gemm`` times these tiles per (dtype, precision, M/N/K bucket) on the
# GPU at hand; shapes with no stored winner keep ``pick_config``'s wave heuristic.
TUNE_SPACE = {
    "half": [(128, 256, 64, 8, 8, 3), (256, 128, 64, 8, 8, 3), (128, 128, 64, 8, 8, 3), (128, 128, 64, 8, 4, 4),
             (128, 64, 64, 8, 4, 4), (64, 128, 64, 8, 4, 4), (128, 128, 32, 8, 4, 4), (64, 64, 64, 8, 4, 4),
             (64, 64, 32, 8, 4, 4), (32, 32, 32, 8, 4, 3),
             # deeper pipelines for Hopper's 227 KiB of shared memory (192 KiB here; too much for
             # sm_80's 163 KiB, where the tuner skips them as out of resources)
             (128, 256, 64, 8, 8, 4), (256, 128, 64, 8, 8, 4), (128, 128, 64, 8, 8, 5),
             # the persistent TMA kernel (a 7th field of 1; 2: its loops flattened), Hopper only
             # (sm_80 has no TMA: skipped)
             (128, 256, 64, 8, 8, 3, 1), (256, 128, 64, 8, 8, 3, 1), (128, 128, 64, 8, 8, 4, 1),
             (128, 128, 64, 8, 4, 4, 1), (128, 256, 64, 8, 8, 3, 2), (128, 128, 64, 8, 8, 4, 2),
             (128, 128, 64, 8, 4, 4, 2)],
    "float32": [(128, 128, 32, 8, 8, 3), (128, 64, 32, 8, 4, 4), (64, 128, 32, 8, 4, 4), (64, 64, 32, 8, 4, 4),
                (32, 32, 32, 8, 4, 3),
                # 8 warps over the tuned winners' 32 outputs a thread (64x64 w4 on the H100) or 64
                # with a thinner K block (no spills, 93-174 registers on sm_90; TUNE_SPACE_SM90's too)
                (128, 128, 16, 8, 8, 4), (128, 64, 16, 8, 8, 4)],
    # TF32 runs on the tensor cores: larger tiles than the FMA float32 path, TMA among them
    "tf32": [(128, 128, 32, 8, 8, 3), (128, 256, 32, 8, 8, 3), (256, 128, 32, 8, 8, 3), (128, 128, 32, 8, 4, 4),
             (128, 64, 32, 8, 4, 4), (64, 128, 32, 8, 4, 4), (64, 64, 32, 8, 4, 4), (128, 128, 64, 8, 8, 3),
             (128, 256, 32, 8, 8, 3, 1), (128, 128, 32, 8, 8, 3, 1), (128, 128, 32, 8, 4, 4, 1)],
    "float64": [(64, 64, 16, 8, 4, 3), (32, 32, 16, 8, 4, 3)],
}


# Tried on Hopper only: 128x64x32 w8 s3 on the FMAs spilled 12-36 B a thread on sm_80 (Triton 3.9, A
# row- or column-major; none on sm_90), where 128x64x16 w8 s4 (above) is spill-free with the same
# share of FFMAs in its loop (0.84-0.85)
TUNE_SPACE_SM90 = {"float32": [(128, 64, 32, 8, 8, 3)]}


def _space(dtype_name, prec="ieee", hopper=None):
    """The tiles the tuner times; ``hopper`` (None: device 0 is a real sm_90 or later) adds
    ``TUNE_SPACE_SM90``'s."""
    if dtype_name in ("float16", "bfloat16"):
        return TUNE_SPACE["half"]
    if hopper is None:
        hopper = not SIMULATED and _hopper(0)
    key = "tf32" if prec == "tf32" else dtype_name
    return TUNE_SPACE[key] + (TUNE_SPACE_SM90.get(key, []) if hopper else [])


def _tune_key(dtype, prec, M, N, K, layout="nn"):
    """A product's bucket: dtype, precision, the layout the kernel reads (``_seen_layout``) and M/N/K
    by powers of two. The layout matters on the FMA units (the H100 ran float32 "tn" products at
    47-50 TFLOP/s, "nn" ones at 41-44), so each layout keeps its own winner."""
    return (dtype.name, prec, layout, tune.bucket(M), tune.bucket(N), tune.bucket(K))


def _tile(c):
    """A config's tile tuple; a 7th field for the TMA kernel, 1, or 2 with its loops flattened (the
    conv kernels share the rest)."""
    k = c.kwargs
    return (k["BLOCK_M"], k["BLOCK_N"], k["BLOCK_K"], k["GROUP_M"], c.num_warps, c.num_stages) + \
        ((k["TMA"],) if k.get("TMA") else ())


def _as_config(t):
    kw = dict(zip(("BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"), t[:4]))
    if len(t) > 6 and t[6]:
        kw["TMA"] = t[6]
    return tune.Config(kw, num_warps=t[4], num_stages=t[5])


def _tune_problems(quick):
    if SIMULATED:
        return [("float32", "ieee", 40, 24, 20)]
    if quick:
        return [("bfloat16", "ieee", 4096, 4096, 4096)]
    squares = [(s, s, s) for s in (512, 1024, 2048, 4096, 8192)]
    llm = [(4096, 11008, 4096), (4096, 4096, 11008)]
    return [(dt, prec, *shape) for dt, prec in (("float16", "ieee"), ("bfloat16", "ieee"), ("float32", "ieee"),
                                                 ("float32", "tf32")) for shape in squares + llm]


def _tune_bench(cfg, dtype, prec, M, N, K, layout="nn"):
    """The product ``(M, K) @ (K, N)``; ``layout`` "t" marks an operand stored transposed (linear's
    forward is "nt", its weight gradient "tn"). The winner keys the layout the kernel reads after
    ``_launch_gemm``'s copies (``_seen_layout``), which is where products of that layout find it."""
    from .random import randn
    dt = getattr(D, dtype)
    a = randn(K, M, device="cuda").to(dt).t() if layout[0] == "t" else randn(M, K, device="cuda").to(dt)
    b = randn(N, K, device="cuda").to(dt).t() if layout[1] == "t" else randn(K, N, device="cuda").to(dt)
    out = Tensor._empty((M, N), dt, a.device)
    acc = D.float64 if dt is D.float64 else D.float32
    return lambda: _launch_gemm(a, b, None, out, [1], [[0]] * 4, a.stride(), b.stride(), (0, 0), out.stride(),
                                M, N, K, 1.0, 0.0, acc, "none", prec, _tile(cfg))


tune.register(tune.Tunable(
    "gemm", configs=lambda b: [_as_config(t) for t in _space(b[0], b[1])],
    key=lambda dt, prec, M, N, K, layout="nn": _tune_key(getattr(D, dt), prec, M, N, K, _seen_layout(
        getattr(D, dt), prec, layout, M, N, K, _hopper(0))),
    heuristic=lambda b: _as_config(pick_config(b[3], b[4], b[5], 1, getattr(D, b[0]), _wide_tiles(0), _hopper(0),
                                                b[1])),
    problems=_tune_problems, bench=_tune_bench,
    doc="every product on cuda (matmul, mm, bmm, addmm, linear): tile, group, warps and stages"))


# ------------------------------------------------------------------------------- AOT specs
def _spec(dt, i, prec, layout, c_kind=None, act="none", tile=None, min_cap=0):
    """One AOT configuration: contiguous (``nn``) or transposed (``tn``/``nt``) operands (unit
    strides are constexprs, as Triton specializes them), ``c_kind`` None, "addmm" (a full C
    scaled by alpha/beta) or "bias" (a row vector: C's row stride is 0), and an activation."""
    from ._aot import KernelSpec, ptr
    acc = D.float64 if dt is D.float64 else D.float32
    bm, bn, bk, gm, warps, stages = tile or CONFIGS[i]
    sig = {"a_ptr": ptr(dt), "b_ptr": ptr(dt), "out_ptr": ptr(dt), "M": "i32", "N": "i32", "K": "i32"}
    sig.update({s: "i32" for s in ("s_ab", "s_am", "s_ak", "s_bb", "s_bk", "s_bn", "s_ob", "s_om")})
    sig.update({s: "fp32" for s in ("alpha", "alpha_lo", "beta", "beta_lo")})
    ce = {"s_on": 1, "ACC": tl_dtype(acc), "PREC": prec, "HAS_C": c_kind is not None,
          "SCALE": c_kind == "addmm", "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": gm, "ACT": act}
    unit_a, unit_b = ("s_am" if layout[0] == "t" else "s_ak"), ("s_bk" if layout[1] == "t" else "s_bn")
    del sig[unit_a], sig[unit_b]
    ce[unit_a] = ce[unit_b] = 1
    if c_kind is None:
        sig.update({"s_cb": "i32", "s_cm": "i32", "s_cn": "i32"})
        ce["c_ptr"] = None
    else:
        sig.update({"c_ptr": ptr(dt), "s_cb": "i32", "s_cm": "i32"})
        ce["s_cn"] = 1   # a bias row arrives with s_cm = s_cb = 0: i32 values the launcher marks divisible
        ce["C_ROW"] = c_kind == "bias"
    label = f"{dt} {bm}x{bn}x{bk} w{warps} s{stages} {layout}{' ' + c_kind if c_kind else ''}" \
            f"{' ' + act if act != 'none' else ''} {prec}"
    # aligned pointers, sizes and strides, as the launcher marks them for round shapes
    div = [n for n, t in sig.items() if t != "fp32"]
    return KernelSpec(_gemm_kernel, sig, ce, num_warps=warps, num_stages=stages, label=label, divisible=div,
                      min_cap=min_cap)


def _gemm_specs():
    """Each dtype's tile configurations for contiguous operands, plus transposed operands and
    the addmm epilogue on one tile, and tf32 for float32."""
    specs = []
    for dt, idxs in _BY_DTYPE.items():
        idxs = _BY_DTYPE_WIDE.get(dt, idxs)
        variants = [(i, "ieee", "nn", None) for i in idxs] + [(idxs[-1], "ieee", "tn", "addmm"),
                                                                (idxs[-2], "ieee", "nt", "addmm")]
        if dt is D.float32:
            variants += [(i, "tf32", "nn", None) for i in idxs] + [(idxs[-1], "tf32", "nt", "addmm")]
            variants += [(i, "ieee", "tn", None) for i in idxs[:-1]]       # A stored (K, M) on the FMAs
        if dt is D.float64:
            variants.append((6, "fma", "nn", None))
        specs += [_spec(dt, i, prec, layout, c_kind) for i, prec, layout, c_kind in variants]
        # every tile the tuner may choose, contiguous operands (tf32 too for float32); the TMA
        # tiles with B row-major and transposed (linear's weight), with and without a bias
        for prec in ("ieee", "tf32") if dt is D.float32 else ("ieee",):
            common = _space(dt.name, prec, hopper=False)
            for t in _space(dt.name, prec, hopper=True):
                if len(t) > 6:
                    specs += [_tma_spec(dt, prec, t, b_t, c) for b_t, c in ((False, None), (True, "bias"))]
                elif t not in CONFIGS or t not in common:
                    # TF32 on Hopper runs B K-major ("nt", _TF32_K_MAJOR_FROM); sm_80 as it comes;
                    # big float32 FMA products read A stored (K, M) ("tn", _FMA_M_MAJOR_A_FROM_N)
                    lays = {"tf32": ("nn", "nt"), "ieee": ("nn", "tn") if dt is D.float32 else ("nn",)}[prec]
                    specs += [_spec(dt, None, prec, lay, tile=t, min_cap=0 if t in common else 90) for lay in lays]
    return specs + _split_k_specs()


def _split_k_specs():
    """The split-K sum: each dtype's accumulator, with and without C (a full addmm C, scaled; a
    bias row), plain and with each activation."""
    from ._aot import KernelSpec, ptr
    specs = []
    for dt in _BY_DTYPE:
        acc = D.float64 if dt is D.float64 else D.float32
        # no C; a full C, scaled; a bias row with each activation (linear's)
        for c_kind, act in [(None, "none"), ("C", "none")] + [("bias", a) for a in ACTIVATIONS]:
            sig = {"ws_ptr": ptr(acc), "c_ptr": ptr(dt), "out_ptr": ptr(dt), "M": "i32", "N": "i32", "SPLITS": "i32",
                   "s_cm": "i32", "s_cn": "i32", "s_om": "i32", "s_on": "i32", "alpha": "fp32", "alpha_lo": "fp32",
                   "beta": "fp32", "beta_lo": "fp32"}
            ce = {"ACC": tl_dtype(acc), "HAS_C": c_kind is not None, "SCALE": c_kind == "C", "ACT": act,
                  "BLOCK_M": 32, "BLOCK_N": 32, "C_ROW": c_kind == "bias"}
            specs.append(KernelSpec(_split_k_sum_kernel, sig, ce, num_warps=4, num_stages=1,
                                    label=f"{dt} split-K sum{' ' + c_kind if c_kind else ''} {act}"))
        if dt in (D.float16, D.bfloat16):       # the parts: half operands into the fp32 workspace
            part = _spec(dt, _BY_DTYPE[dt][-1], "ieee", "nn")
            part.signature["out_ptr"] = ptr(acc)
            part.label += " split-K part"
            specs.append(part)
    return specs


def _tma_spec(dt, prec, tile, b_t, c_kind=None, act="none"):
    from ._aot import KernelSpec, ptr
    bm, bn, bk, gm, warps, stages, tma = tile
    name = {D.float16: "fp16", D.bfloat16: "bf16", D.float32: "fp32"}[dt]
    sig = {"a_desc": f"tensordesc<{name}[{bm},{bk}]>",
           "b_desc": f"tensordesc<{name}[{bn},{bk}]>" if b_t else f"tensordesc<{name}[{bk},{bn}]>",
           "out_ptr": ptr(dt), "M": "i32", "N": "i32", "K": "i32", "s_om": "i32"}
    sig.update({s: "fp32" for s in ("alpha", "alpha_lo", "beta", "beta_lo")}, programs="i32")
    ce = {"s_on": 1, "ACC": tl.float32, "PREC": prec, "HAS_C": c_kind is not None, "SCALE": False, "B_T": b_t,
          "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": gm, "ACT": act, "FLATTEN": tma == 2}
    if c_kind is None:
        sig.update(s_cm="i32", s_cn="i32")
        ce["c_ptr"] = None
    else:                                # a bias row: C's row stride 0, an i32 the launcher marks divisible
        sig.update(c_ptr=ptr(dt), s_cm="i32")
        ce.update(s_cn=1, C_ROW=True)
    label = f"{dt} {bm}x{bn}x{bk} w{warps} s{stages} TMA{' flat' if tma == 2 else ''} {'nt' if b_t else 'nn'}" \
            f"{' ' + c_kind if c_kind else ''} {prec}"
    return KernelSpec(_gemm_tma_kernel, sig, ce, num_warps=warps, num_stages=stages, label=label, min_cap=90,
                      divisible=["out_ptr", "M", "N", "K", "s_om"] + (["c_ptr", "s_cm"] if c_kind else []))


def _linear_specs():
    """``linear``'s epilogues: x (M, K) @ W^T (W stored (N, K): B is "t") + a bias row, then each
    activation, on each dtype's large and small tiles; float32 also with tf32."""
    specs = []
    for dt, idxs in _BY_DTYPE.items():
        prec = "ieee"
        for act in ACTIVATIONS:
            specs.append(_spec(dt, idxs[0], prec, "nt", "bias", act))
        specs.append(_spec(dt, idxs[-1], prec, "nt", None, "relu"))   # no bias, small tile
        if dt is D.float32:
            specs += [_spec(dt, idxs[0], "tf32", "nt", "bias", act) for act in ("none", "gelu")]
    return specs
