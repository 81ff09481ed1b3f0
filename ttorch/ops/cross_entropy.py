"""Fused cross entropy over class indices: one Triton kernel forward, one backward, no softmax tensor.

``_cross_entropy_rows(x, target)`` of logits ``x`` ``(M, C)`` returns ``(2, M)``: row 0 the loss
``lse_i - x[i, t_i]`` (0 where ``t_i == ignore_index``; a ``t_i`` out of range is recorded for
``ttorch.cuda``'s deferred checks and raises ``IndexError`` at the next sync), row 1 ``lse_i = logsumexp(x[i])``. The forward
kernel reads each row once with an online max/sum (as ``softmax.py``); the backward kernel reads it
once more and writes ``dx = (g0 + g1) * exp(x - lse) - g0 * onehot(t)`` straight away, so neither
direction stores the ``(M, C)`` softmax: what autograd keeps between them is ``lse``, M numbers.
Logits ``(N, C, d...)`` (a segmentation map's) are read in place, their classes along dim 1, as
``M = N * d...`` rows in the targets' order: on cuda by two strided kernels whose programs take
adjacent positions of one ``N`` index (``reduction._row_base``), so a warp's loads are coalesced.

Liger-Kernel goes one step further and writes the gradient over the logits during the forward; we
don't, because the logits belong to the caller (and to autograd, which may still read them).
``cross_entropy_mean`` reduces the rows to the loss (row 0's mean over targets other than
``ignore_index``, or its sum) in one single-program kernel, and its backward writes the rows'
gradient in one more; ``nn.functional.cross_entropy`` calls it for ``'mean'`` and ``'sum'``.
Half types compute in float32 and return float32 rows; ``nn.functional.cross_entropy`` casts back.
Its own backward (gradients of gradients) is written in ttorch ops.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from ..autograd import grad_mode
from ..cuda import _checks
from .._tensor import Tensor, _numel
from ._launch import launch, next_pow2, SIMULATED
from ._op import Op
from .samples import Sample, rng, index
from .random import _split            # eps as an fp32 pair: Triton passes a float as fp32
from .reduction import _row_base, row_programs
from .softmax import _online_sum, _online_rows

MAX_BLOCK_N = 1024 if SIMULATED else 4096   # tests lower it to run several blocks per row

# The loops over a row's class blocks (forward and backward), plain or software-pipelined: Triton
# pipelines a loop's loads through shared memory (cp.async) only when the loop says how many stages
# (``tl.range(..., num_stages=)``); a plain ``range`` leaves loads that feed no ``tl.dot`` unpipelined
# (sm_90 ttgir, Triton 3.9). ``STAGES`` (None: the plain loop; 2, 3) is in the tune space: a loop of
# S stages holds S - 1 class blocks in shared memory, at most 64 KiB (8192 float32, 3 stages; sm_90
# AOT). The untuned heuristic keeps the plain loop, which ran the forward and backward at 75-77% of
# HBM bandwidth on the H100 (8192 x 32768 float32).
_LOOPS = (None, 2, 3)


@triton.jit
def _ce_fwd_kernel(x_ptr, t_ptr, out_ptr, err_ptr, M, N, ignore_index, eps, eps_lo, ACC: tl.constexpr,
                   BLOCK_N: tl.constexpr, STAGES: tl.constexpr = None, SMOOTH: tl.constexpr = False):
    # SMOOTH: label smoothing eps, loss = (1 - eps) (lse - x_t) + eps (lse - mean(x)) (PyTorch's)
    row = tl.program_id(0).to(tl.int64)
    base = x_ptr + row * N
    # online pass: per lane, the running max and the sum of exp(x - max) rescaled as it grows
    mx = tl.full((BLOCK_N,), float("-inf"), ACC)
    acc = tl.zeros((BLOCK_N,), dtype=ACC)
    sx = tl.zeros((BLOCK_N,), dtype=ACC)
    for start in tl.range(0, N, BLOCK_N, num_stages=STAGES):
        cols = start + tl.arange(0, BLOCK_N)
        x = tl.load(base + cols, mask=cols < N, other=float("-inf")).to(ACC)
        acc = _online_sum(acc, mx, x)
        mx = tl.maximum(mx, x)
        if SMOOTH:
            sx += tl.where(cols < N, x, 0.0)
    top = tl.max(mx, 0)
    lse = top + tl.log(tl.sum(acc * tl.exp(mx - top), 0))
    t = tl.load(t_ptr + row).to(tl.int64)
    keep = t != ignore_index
    # a class index out of range: recorded for the host to raise at its next sync (no stall here)
    bad = keep & ((t < 0) | (t >= N))
    tl.atomic_add(err_ptr, 1, mask=bad)
    tl.atomic_xchg(err_ptr + 1, t, mask=bad)
    keep = keep & (bad == 0)
    xt = tl.load(base + tl.where(keep, t, 0), mask=keep, other=0).to(ACC)
    loss = lse - xt
    if SMOOTH:
        e = eps.to(ACC) + eps_lo.to(ACC)                # float64: eps as an fp32 pair
        loss = (1 - e) * loss + e * (lse - tl.sum(sx, 0) / N)
    tl.store(out_ptr + row, tl.where(keep, loss, 0.0).to(out_ptr.dtype.element_ty))
    tl.store(out_ptr + M + row, lse.to(out_ptr.dtype.element_ty))


@triton.jit
def _ce_bwd_kernel(g_ptr, x_ptr, o_ptr, t_ptr, dx_ptr, M, N, ignore_index, eps, eps_lo, ACC: tl.constexpr,
                   BLOCK_N: tl.constexpr, STAGES: tl.constexpr = None, SMOOTH: tl.constexpr = False):
    # dx = (g0 + g1) * softmax(x) - g0 * onehot(t), softmax from the saved lse: one pass per row
    # (SMOOTH: the target (1 - eps) onehot(t) + eps / N)
    row = tl.program_id(0).to(tl.int64)
    t = tl.load(t_ptr + row).to(tl.int64)
    g0 = tl.load(g_ptr + row).to(ACC)
    g0 = tl.where(t != ignore_index, g0, 0.0)       # an ignored row's loss is the constant 0
    g1 = tl.load(g_ptr + M + row).to(ACC)
    lse = tl.load(o_ptr + M + row).to(ACC)
    for start in tl.range(0, N, BLOCK_N, num_stages=STAGES):
        cols = start + tl.arange(0, BLOCK_N)
        m = cols < N
        x = tl.load(x_ptr + row * N + cols, mask=m, other=0).to(ACC)
        if SMOOTH:
            e = eps.to(ACC) + eps_lo.to(ACC)
            dx = (g0 + g1) * tl.exp(x - lse) - g0 * (tl.where(cols == t, 1 - e, 0.0) + e / N)
        else:
            dx = (g0 + g1) * tl.exp(x - lse) - tl.where(cols == t, g0, 0.0)
        tl.store(dx_ptr + row * N + cols, dx.to(dx_ptr.dtype.element_ty), mask=m)


@triton.jit
def _ce_fwd_strided_kernel(x_ptr, t_ptr, out_ptr, err_ptr, M, N, INNER, ignore_index, eps, eps_lo, ACC: tl.constexpr,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SMOOTH: tl.constexpr = False):
    # logits (outer, C, INNER) with the classes along dim 1 (a segmentation map's (B, C, H, W)): a
    # program takes BLOCK_M adjacent positions of one outer index (``reduction._row_base``), the
    # lanes along them, and walks the strided classes, as _ce_fwd_kernel walks a row
    rows, rmask, base, step = _row_base(M, N, INNER, True, BLOCK_M)
    top, s, sx = _online_rows(x_ptr, base, step, rmask, N, ACC, BLOCK_M, BLOCK_N, SMOOTH)
    lse = top + tl.log(s)
    t = tl.load(t_ptr + rows, mask=rmask, other=ignore_index).to(tl.int64)
    keep = rmask & (t != ignore_index)
    bad = keep & ((t < 0) | (t >= N))
    tl.atomic_add(err_ptr + tl.zeros_like(t), 1, mask=bad)
    tl.atomic_xchg(err_ptr + 1 + tl.zeros_like(t), t, mask=bad)
    keep = keep & (bad == 0)
    xt = tl.load(x_ptr + base + tl.where(keep, t, 0) * step, mask=keep, other=0).to(ACC)
    loss = lse - xt
    if SMOOTH:
        e = eps.to(ACC) + eps_lo.to(ACC)
        loss = (1 - e) * loss + e * (lse - sx / N)
    tl.store(out_ptr + rows, tl.where(keep, loss, 0.0).to(out_ptr.dtype.element_ty), mask=rmask)
    tl.store(out_ptr + M + rows, lse.to(out_ptr.dtype.element_ty), mask=rmask)


@triton.jit
def _ce_bwd_strided_kernel(g_ptr, x_ptr, o_ptr, t_ptr, dx_ptr, M, N, INNER, ignore_index, eps, eps_lo,
                           ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                           SMOOTH: tl.constexpr = False):
    # _ce_bwd_kernel over (outer, C, INNER) logits, tiled as _ce_fwd_strided_kernel
    rows, rmask, base, step = _row_base(M, N, INNER, True, BLOCK_M)
    t = tl.load(t_ptr + rows, mask=rmask, other=ignore_index).to(tl.int64)
    g0 = tl.load(g_ptr + rows, mask=rmask, other=0).to(ACC)
    g0 = tl.where(t != ignore_index, g0, 0.0)
    g1 = tl.load(g_ptr + M + rows, mask=rmask, other=0).to(ACC)
    lse = tl.load(o_ptr + M + rows, mask=rmask, other=0).to(ACC)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        offs = base[:, None] + cols.to(tl.int64)[None, :] * step
        x = tl.load(x_ptr + offs, mask=m, other=0).to(ACC)
        if SMOOTH:
            e = eps.to(ACC) + eps_lo.to(ACC)
            target = tl.where(cols[None, :] == t[:, None], 1 - e, 0.0) + e / N
            dx = (g0 + g1)[:, None] * tl.exp(x - lse[:, None]) - g0[:, None] * target
        else:
            dx = (g0 + g1)[:, None] * tl.exp(x - lse[:, None]) - tl.where(cols[None, :] == t[:, None], g0[:, None], 0.0)
        tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=m)


@triton.jit
def _kept(t_ptr, M, ignore_index, BLOCK: tl.constexpr):
    """How many of the M targets are not ``ignore_index`` (one program)."""
    c = tl.zeros((BLOCK,), tl.int32)
    for start in range(0, M, BLOCK):
        r = start + tl.arange(0, BLOCK)
        t = tl.load(t_ptr + r, mask=r < M, other=ignore_index)
        c += (t != ignore_index).to(tl.int32)
    return tl.sum(c, 0)


@triton.jit
def _ce_mean_kernel(rows_ptr, t_ptr, out_ptr, M, ignore_index, MEAN: tl.constexpr, ACC: tl.constexpr,
                    BLOCK: tl.constexpr):
    # the reduced loss: row 0's kept entries summed, divided by their count when MEAN (one program:
    # a batch's rows are few next to its logits)
    s = tl.zeros((BLOCK,), ACC)
    for start in range(0, M, BLOCK):
        r = start + tl.arange(0, BLOCK)
        m = r < M
        t = tl.load(t_ptr + r, mask=m, other=ignore_index)
        s += tl.where(t != ignore_index, tl.load(rows_ptr + r, mask=m, other=0).to(ACC), 0.0)
    total = tl.sum(s, 0)
    if MEAN:
        total = total / _kept(t_ptr, M, ignore_index, BLOCK).to(ACC)
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))


@triton.jit
def _ce_mean_bwd_kernel(g_ptr, t_ptr, d_ptr, M, ignore_index, MEAN: tl.constexpr, ACC: tl.constexpr,
                        BLOCK: tl.constexpr):
    # d(loss)/d(rows): row 0 the loss's gradient (over the count when MEAN) at kept targets, row 1 zeros
    g = tl.load(g_ptr).to(ACC)
    if MEAN:
        g = g / _kept(t_ptr, M, ignore_index, BLOCK).to(ACC)
    for start in range(0, M, BLOCK):
        r = start + tl.arange(0, BLOCK)
        m = r < M
        t = tl.load(t_ptr + r, mask=m, other=ignore_index)
        tl.store(d_ptr + r, tl.where(t != ignore_index, g, 0.0).to(d_ptr.dtype.element_ty), mask=m)
        tl.store(d_ptr + M + r, tl.zeros((BLOCK,), ACC).to(d_ptr.dtype.element_ty), mask=m)


# Many rows (a segmentation map's N * H * W: 2^20 in a 16 x 256 x 256 batch) outrun one program: its
# loop took about 1 ms a pass on the H200 (the loss 2.1 ms against PyTorch's 0.4). Past _MEAN_ONE
# rows the reduction runs over a grid: each program sums and counts _MEAN_ROWS rows, one more
# program adds the partial sums in a fixed order (deterministic, as the one-program kernel), and
# the backward's grid programs each add the partial counts (a few KB, from L2) before writing rows.
@triton.jit
def _ce_part_kernel(rows_ptr, t_ptr, sum_ptr, cnt_ptr, M, ignore_index, SUM: tl.constexpr, ACC: tl.constexpr,
                    ROWS: tl.constexpr, BLOCK: tl.constexpr):
    # program p: rows [p ROWS, (p + 1) ROWS): the kept entries of row 0 summed (SUM) and counted
    p = tl.program_id(0)
    s = tl.zeros((BLOCK,), ACC)
    c = tl.zeros((BLOCK,), tl.int32)
    for start in range(0, ROWS, BLOCK):
        r = p.to(tl.int64) * ROWS + start + tl.arange(0, BLOCK)
        m = r < M
        t = tl.load(t_ptr + r, mask=m, other=ignore_index)
        keep = t != ignore_index
        c += keep.to(tl.int32)
        if SUM:
            s += tl.where(keep, tl.load(rows_ptr + r, mask=m, other=0).to(ACC), 0.0)
    if SUM:
        tl.store(sum_ptr + p, tl.sum(s, 0))
    tl.store(cnt_ptr + p, tl.sum(c, 0))


@triton.jit
def _parts_count(cnt_ptr, P, BLOCK: tl.constexpr):
    c = tl.zeros((BLOCK,), tl.int64)
    for start in range(0, P, BLOCK):
        i = start + tl.arange(0, BLOCK)
        c += tl.load(cnt_ptr + i, mask=i < P, other=0).to(tl.int64)
    return tl.sum(c, 0)


@triton.jit
def _ce_parts_mean_kernel(sum_ptr, cnt_ptr, out_ptr, P, MEAN: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    # the P partial sums added (over their kept count when MEAN): one program
    s = tl.zeros((BLOCK,), ACC)
    for start in range(0, P, BLOCK):
        i = start + tl.arange(0, BLOCK)
        s += tl.load(sum_ptr + i, mask=i < P, other=0)
    total = tl.sum(s, 0)
    if MEAN:
        total = total / _parts_count(cnt_ptr, P, BLOCK).to(ACC)
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))


@triton.jit
def _ce_parts_mean_bwd_kernel(g_ptr, t_ptr, cnt_ptr, d_ptr, M, P, ignore_index, MEAN: tl.constexpr,
                              ACC: tl.constexpr, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    # _ce_mean_bwd_kernel over a grid: program p writes rows [p ROWS, (p + 1) ROWS) of both d rows
    p = tl.program_id(0)
    g = tl.load(g_ptr).to(ACC)
    if MEAN:
        g = g / _parts_count(cnt_ptr, P, BLOCK).to(ACC)
    for start in range(0, ROWS, BLOCK):
        r = p.to(tl.int64) * ROWS + start + tl.arange(0, BLOCK)
        m = r < M
        t = tl.load(t_ptr + r, mask=m, other=ignore_index)
        tl.store(d_ptr + r, tl.where(t != ignore_index, g, 0.0).to(d_ptr.dtype.element_ty), mask=m)
        tl.store(d_ptr + M + r, tl.zeros((BLOCK,), ACC).to(d_ptr.dtype.element_ty), mask=m)


def _acc(dt):
    return tl.float64 if dt is D.float64 else tl.float32


def _out_dtype(dt):
    return D.float64 if dt is D.float64 else D.float32


def _block(n):
    return min(next_pow2(n), MAX_BLOCK_N)


# ------------------------------------------------------------------------------ tuning
# One program per row, looping over the classes BLOCK_N at a time; tuned are the block, the loop
# (plain or pipelined, STAGES) and the warps. Heuristic (untuned): the whole row up to 4096 classes
# per block, 8 warps from 2048 on.
def _tune_key(kind, dtype, n):
    return (kind, dtype.name, next_pow2(n))


def _tune_configs(b):
    blocks = [c for c in (1024, 2048, 4096, 8192) if c <= max(b[2], 1024)]
    return [tune.Config({"BLOCK_N": c, "STAGES": st}, num_warps=w) for c in blocks for st in _LOOPS
            for w in (4, 8, 16)]


def _tune_heuristic(b):
    bn = min(b[2], 4096)
    return tune.Config({"BLOCK_N": bn}, num_warps=8 if bn >= 2048 else 4)


def _tune_problems(quick):
    if quick or SIMULATED:
        return [(kind, "float32", 4, 50) for kind in ("fwd", "bwd")]
    return [(kind, dt, 4096, n) for kind in ("fwd", "bwd") for dt in ("float32", "bfloat16")
            for n in (1024, 8192, 32768, 50304, 128256)]


def _tune_bench(cfg, kind, dtype, m, n):
    from .random import randn, randint
    x, t = randn(m, n, device="cuda").to(getattr(D, dtype)), randint(0, n, (m,), device="cuda")
    o = _fwd_cuda(x, t, ignore_index=-100)
    if kind == "fwd":
        return lambda: _fwd_cuda(x, t, ignore_index=-100, cfg=cfg)
    return lambda: _bwd_cuda(o, x, o, t, ignore_index=-100, cfg=cfg)


tune.register(tune.Tunable("cross_entropy", configs=_tune_configs, heuristic=_tune_heuristic,
                           problems=_tune_problems, key=lambda kind, dt, m, n: _tune_key(kind, getattr(D, dt), n),
                           bench=_tune_bench,
                           doc="fused cross-entropy forward and backward: class block, loop stages, warps"))


# ------------------------------------------------------------------------------ cuda
_TARGET_CHECK = _checks.register(lambda v: IndexError(f"Target {v} is out of bounds."))


def _strided_tile(n, inner, m, dtype):
    """``(BLOCK_M, BLOCK_N, warps, programs)`` for logits with their classes along a strided dim (not
    tuned): class blocks up to 256, 4096-element tiles over 8 warps, as softmax's strided rows (half
    that in float64: 4096 spilled the backward on sm_90, Triton 3.6)."""
    bn = min(next_pow2(n), 256)
    bm, programs = row_programs(m, inner, max(1, (2048 if dtype is D.float64 else 4096) // bn))
    return bm, bn, 8, programs


def _fwd_cuda(x, t, *, ignore_index, label_smoothing=0.0, cfg=None):
    x, t = x.contiguous(), t.contiguous()
    n, inner = x._shape[1], _numel(x._shape[2:])
    m = x._shape[0] * inner
    out = Tensor._empty((2, m), _out_dtype(x.dtype), x.device)
    if m and x.ndim > 2:
        bm, bn, warps, programs = _strided_tile(n, inner, m, x.dtype)
        launch(_ce_fwd_strided_kernel, (programs,), x, t, out, _checks.slot(x.device, _TARGET_CHECK), m, n, inner,
               ignore_index, *_split(label_smoothing), ACC=_acc(x.dtype), BLOCK_M=bm, BLOCK_N=bn,
               SMOOTH=label_smoothing > 0, num_warps=warps)
    elif m:
        cfg = cfg or tune.config("cross_entropy", _tune_key("fwd", x.dtype, n))
        launch(_ce_fwd_kernel, (m,), x, t, out, _checks.slot(x.device, _TARGET_CHECK), m, n, ignore_index,
               *_split(label_smoothing), ACC=_acc(x.dtype), BLOCK_N=min(cfg.kwargs["BLOCK_N"], _block(n)),
               STAGES=cfg.kwargs.get("STAGES"), SMOOTH=label_smoothing > 0, num_warps=cfg.num_warps)
    return out


def _bwd_cuda(g, x, o, t, *, ignore_index, label_smoothing=0.0, cfg=None):
    g, x, o, t = g.contiguous(), x.contiguous(), o.contiguous(), t.contiguous()
    n, inner = x._shape[1], _numel(x._shape[2:])
    m = x._shape[0] * inner
    dx = Tensor._empty(x._shape, x.dtype, x.device)
    if m and n and x.ndim > 2:
        bm, bn, warps, programs = _strided_tile(n, inner, m, x.dtype)
        launch(_ce_bwd_strided_kernel, (programs,), g, x, o, t, dx, m, n, inner, ignore_index,
               *_split(label_smoothing), ACC=_acc(x.dtype), BLOCK_M=bm, BLOCK_N=bn, SMOOTH=label_smoothing > 0,
               num_warps=warps)
    elif m and n:
        cfg = cfg or tune.config("cross_entropy", _tune_key("bwd", x.dtype, n))
        launch(_ce_bwd_kernel, (m,), g, x, o, t, dx, m, n, ignore_index, *_split(label_smoothing),
               ACC=_acc(x.dtype), BLOCK_N=min(cfg.kwargs["BLOCK_N"], _block(n)), STAGES=cfg.kwargs.get("STAGES"),
               SMOOTH=label_smoothing > 0, num_warps=cfg.num_warps)
    return dx


_MEAN_BLOCK = 1024
_MEAN_ONE = 8 * _MEAN_BLOCK          # up to this many rows, one program (one launch each way)
_MEAN_ROWS = 4 * _MEAN_BLOCK         # past it, rows per program of the grid kernels


def _parts(t, ignore_index, rows=None):
    """The grid pass over ``t``'s rows: ``(partial sums of rows[0] or None, partial counts, P)``."""
    m = t.numel()
    p = triton.cdiv(m, _MEAN_ROWS)
    cnt = Tensor._empty((p,), D.int32, t.device)
    sums = None if rows is None else Tensor._empty((p,), rows.dtype, t.device)
    launch(_ce_part_kernel, (p,), rows if rows is not None else t, t, sums if sums is not None else cnt, cnt, m,
           ignore_index, SUM=rows is not None, ACC=_acc(D.float32 if rows is None else rows.dtype),
           ROWS=_MEAN_ROWS, BLOCK=_MEAN_BLOCK, num_warps=4)
    return sums, cnt, p


def _mean_cuda(rows, t, *, ignore_index, mean):
    rows, t = rows.contiguous(), t.contiguous()
    out = Tensor._empty((), rows.dtype, rows.device)
    if t.numel() <= _MEAN_ONE:
        launch(_ce_mean_kernel, (1,), rows, t, out, t.numel(), ignore_index, MEAN=mean, ACC=_acc(rows.dtype),
               BLOCK=_MEAN_BLOCK, num_warps=4)
        return out
    sums, cnt, p = _parts(t, ignore_index, rows)
    launch(_ce_parts_mean_kernel, (1,), sums, cnt, out, p, MEAN=mean, ACC=_acc(rows.dtype), BLOCK=_MEAN_BLOCK,
           num_warps=4)
    return out


def _mean_bwd_cuda(g, t, *, ignore_index, mean):
    g, t = g.contiguous(), t.contiguous()
    m = t.numel()
    d = Tensor._empty((2, m), g.dtype, g.device)
    if m <= _MEAN_ONE:
        launch(_ce_mean_bwd_kernel, (1,), g, t, d, m, ignore_index, MEAN=mean, ACC=_acc(g.dtype),
               BLOCK=_MEAN_BLOCK, num_warps=4)
        return d
    _, cnt, p = _parts(t, ignore_index) if mean else (None, t, 0)     # (the sum's gradient needs no count)
    launch(_ce_parts_mean_bwd_kernel, (triton.cdiv(m, _MEAN_ROWS),), g, t, cnt, d, m, p, ignore_index, MEAN=mean,
           ACC=_acc(g.dtype), ROWS=_MEAN_ROWS, BLOCK=_MEAN_BLOCK, num_warps=4)
    return d


# ------------------------------------------------------------------------------ NumPy
def _fwd_cpu(x, t, *, ignore_index, label_smoothing=0.0):
    # logits (M, C) or (N, C, d...): the classes along axis 1, read in place; rows in t's order
    xc = x.astype(_out_dtype(D.from_numpy_dtype(x.dtype)).np)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        top = np.max(xc, axis=1, initial=-np.inf)
        lse = top + np.log(np.exp(xc - np.expand_dims(top, 1)).sum(1))
    keep = t != ignore_index
    xt = np.take_along_axis(xc, np.expand_dims(np.where(keep, t, 0), 1), 1)[:, 0] if xc.shape[1] else lse
    loss = lse - xt
    if label_smoothing > 0:
        loss = (1 - label_smoothing) * loss + label_smoothing * (lse - xc.mean(1))
    return np.stack([np.where(keep, loss, 0).astype(xc.dtype), lse]).reshape(2, -1)


def _bwd_cpu(g, x, o, t, *, ignore_index, label_smoothing=0.0):
    cd = _out_dtype(D.from_numpy_dtype(x.dtype)).np
    keep = t != ignore_index
    g0 = np.where(keep, g[0].astype(cd).reshape(t.shape), 0)
    lse = o[1].astype(cd).reshape(t.shape)
    dx = np.expand_dims(g0 + g[1].astype(cd).reshape(t.shape), 1) * np.exp(x.astype(cd) - np.expand_dims(lse, 1))
    at = np.expand_dims(np.where(keep, t, 0), 1)
    eps = label_smoothing
    if eps > 0:                                 # the target (1 - eps) onehot + eps / C
        dx -= np.expand_dims(g0, 1) * (eps / x.shape[1])
    if dx.size:
        np.put_along_axis(dx, at, np.take_along_axis(dx, at, 1) - (1 - eps) * np.expand_dims(g0, 1), 1)
    return dx.astype(x.dtype)


def _mean_cpu(rows, t, *, ignore_index, mean):
    keep = t != ignore_index
    total = np.where(keep, rows[0], 0).sum(dtype=rows.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / rows.dtype.type(keep.sum()) if mean else total, dtype=rows.dtype)


def _mean_bwd_cpu(g, t, *, ignore_index, mean):
    keep = t != ignore_index
    with np.errstate(invalid="ignore", divide="ignore"):
        gk = g / g.dtype.type(keep.sum()) if mean else g
    return np.stack([np.where(keep, gk, 0), np.zeros(t.shape)]).astype(g.dtype)


# ------------------------------------------------------------------------------ backward rules
def _fwd_bw(ctx, g):
    x, t = ctx.inputs
    o = ctx.output
    if grad_mode.is_grad_enabled() and not o.requires_grad:
        # differentiating the backward: its lse input must stay attached to x (recomputed)
        o = _ce_op(x, t, ignore_index=ctx.ignore_index, label_smoothing=ctx.label_smoothing)
    return _ce_bw_op(g, x, o, t, ignore_index=ctx.ignore_index, label_smoothing=ctx.label_smoothing), None


def _bwd_bw(ctx, gg):
    # the backward as a function of (g, x, o, t): dx = (g0 + g1) * e - g0 * onehot, e = exp(x - o1):
    #   d/dg0 = sum_c gg (e - onehot),  d/dg1 = sum_c gg e,  d/dx = (g0 + g1) gg e,  d/do1 = -sum_c that
    from . import FUNCTIONS as F
    # (rows are (2, M) for logits (N, C, d...): viewed as the targets' (N, d...) here, classes on dim 1)
    g, x, o, t = ctx.inputs
    rs = tuple(t.shape)
    keep = t != ctx.ignore_index
    cd = o.dtype
    e = (x.to(cd) - o[1].reshape(rs).unsqueeze(1)).exp()
    gg = gg.to(cd)
    g0 = F["where"](keep, g[0].reshape(rs).to(cd), 0)
    ge = (gg * e).sum(1)
    dg = dx = do = None
    if ctx.needs[0]:
        # d/dg0 = sum_c gg (e - target), the target (1 - eps) onehot + eps / C (label smoothing)
        eps = ctx.label_smoothing
        picked = gg.gather(1, F["where"](keep, t, 0).unsqueeze(1)).squeeze(1)
        if eps > 0:
            picked = (1 - eps) * picked + (eps / x.shape[1]) * gg.sum(1)
        dg = F["stack"]([F["where"](keep, ge - picked, 0).reshape(-1), ge.reshape(-1)]).to(g.dtype)
    if ctx.needs[1] or ctx.needs[2]:
        gx = (g0 + g[1].reshape(rs).to(cd)).unsqueeze(1) * gg * e
        dx = gx.to(x.dtype) if ctx.needs[1] else None
        if ctx.needs[2]:
            do = F["stack"]([F["zeros_like"](ge).reshape(-1), -gx.sum(1).reshape(-1)]).to(o.dtype)
    return dg, dx, do, None


def _mean_bw(ctx, g):
    _, t = ctx.inputs
    return _ce_mean_bw_op(g, t, ignore_index=ctx.ignore_index, mean=ctx.mean), None


def _mean_bw_bw(ctx, gg):
    # the backward is linear in g: d/dg = the forward's reduction of gg's row 0
    _, t = ctx.inputs
    return _ce_mean_op(gg, t, ignore_index=ctx.ignore_index, mean=ctx.mean), None


# ------------------------------------------------------------------------------ specs and samples
def _specs(kernel):
    from ._aot import KernelSpec, ptr
    out = []
    for dt, bn in ((D.float32, 4096), (D.float32, 1024), (D.bfloat16, 4096), (D.float16, 4096), (D.float64, 1024)):
        od = _out_dtype(dt)
        if kernel is _ce_fwd_kernel:
            sig = {"x_ptr": ptr(dt), "t_ptr": ptr(D.int64), "out_ptr": ptr(od), "err_ptr": ptr(D.int64)}
        else:
            sig = {"g_ptr": ptr(od), "x_ptr": ptr(dt), "o_ptr": ptr(od), "t_ptr": ptr(D.int64), "dx_ptr": ptr(dt)}
        sig.update(M="i32", N="i32", ignore_index="i32", eps="fp32", eps_lo="fp32")
        name = f"cross_entropy {'fwd' if kernel is _ce_fwd_kernel else 'bwd'} {dt}"
        warps = [8 if bn >= 2048 else 4]
        if dt in (D.float32, D.bfloat16) and bn == 4096:   # every block and warps the tuner may pick
            warps = [w for w in (4, 8, 16)]
        loop = {"STAGES": None}                                          # the plain loop
        for w in warps:
            out.append(KernelSpec(kernel, sig, {"ACC": _acc(dt), "BLOCK_N": bn, **loop}, num_warps=w,
                                  label=f"{name} {bn} w{w}"))
        if bn == 4096:                                                   # label smoothing
            out.append(KernelSpec(kernel, sig, {"ACC": _acc(dt), "BLOCK_N": bn, "SMOOTH": True, **loop},
                                  num_warps=warps[-1], label=f"{name} {bn} w{warps[-1]} smooth"))
        if dt in (D.float32, D.bfloat16) and bn == 4096:
            for tb in (1024, 2048, 8192):
                out += [KernelSpec(kernel, sig, {"ACC": _acc(dt), "BLOCK_N": tb, **loop}, num_warps=w,
                                   label=f"{name} {tb} w{w} tuned") for w in (4, 8, 16)]
            # the tune space's pipelined loops, as launched on a large vocabulary: N a multiple of 16,
            # aligned rows (16-byte loads; 2-byte ones are not pipelined)
            div = [a for a in sig if a.endswith("_ptr")] + ["N"]
            out += [KernelSpec(kernel, sig, {"ACC": _acc(dt), "BLOCK_N": tb, "STAGES": st}, num_warps=w,
                               label=f"{name} {tb} w{w} {st} stages", divisible=div)
                    for tb in (1024, 2048, 4096, 8192) for st in _LOOPS if st for w in (4, 8, 16)]
    return out


def _strided_specs(fwd):
    """The strided kernels (classes along dim 1 of (N, C, d...)) at ``_strided_tile``'s tiles: few
    classes (a segmentation's 21, a block of 32) and many (256-class blocks)."""
    from ._aot import KernelSpec, ptr
    out = []
    for dt in (D.float32, D.bfloat16, D.float16, D.float64):
        od = _out_dtype(dt)
        kernel = _ce_fwd_strided_kernel if fwd else _ce_bwd_strided_kernel
        if fwd:
            sig = {"x_ptr": ptr(dt), "t_ptr": ptr(D.int64), "out_ptr": ptr(od), "err_ptr": ptr(D.int64)}
        else:
            sig = {"g_ptr": ptr(od), "x_ptr": ptr(dt), "o_ptr": ptr(od), "t_ptr": ptr(D.int64), "dx_ptr": ptr(dt)}
        sig.update(M="i32", N="i32", INNER="i32", ignore_index="i32", eps="fp32", eps_lo="fp32")
        for n in (21, 1000):
            bm, bn, warps, _ = _strided_tile(n, 1 << 16, 1 << 20, dt)
            for smooth in (False, True):
                out.append(KernelSpec(kernel, sig, {"ACC": _acc(dt), "BLOCK_M": bm, "BLOCK_N": bn, "SMOOTH": smooth},
                                      num_warps=warps, label=f"cross_entropy {'fwd' if fwd else 'bwd'} strided {dt} "
                                                             f"{bm}x{bn} w{warps}" + (" smooth" if smooth else "")))
    return out


def _samples():
    r = rng("cross_entropy")
    out = []
    for m, c, ii in ((1, 1, -100), (3, 5, -100), (4, 7, 2), (2, 33, -100), (0, 4, -100)):
        t = r.integers(0, c, size=m)
        if ii >= 0 and m:
            t[1] = ii
        out.append(Sample([r.uniform(-3, 3, size=(m, c)), index(t)], {"ignore_index": ii}))
    t = r.integers(0, 4, size=(2, 3))                     # (N, C, d) logits, label smoothing, one ignored
    t[0, 1] = 1
    out.append(Sample([r.uniform(-3, 3, size=(2, 4, 3)), index(t)], {"ignore_index": 1, "label_smoothing": 0.2}))
    out.append(Sample([r.uniform(-3, 3, size=(3, 6)), index(r.integers(0, 6, size=3))], {"label_smoothing": 0.1}))
    return out


def _bw_samples():
    r = rng("cross_entropy_backward")
    out = []
    for m, c, ii, ls in ((3, 5, -100, 0.0), (4, 6, 1, 0.0), (1, 1, -100, 0.0), (4, 6, 1, 0.3)):
        x = r.uniform(-2, 2, size=(m, c))
        t = r.integers(0, c, size=m)
        if ii >= 0:
            t[0] = ii
        o = _fwd_cpu(x, t, ignore_index=ii, label_smoothing=ls)
        out.append(Sample([r.uniform(-1, 1, size=(2, m)), x, o, index(t)],
                          {"ignore_index": ii, "label_smoothing": ls}))
    return out


def _mean_specs(kernel):
    from ._aot import KernelSpec, ptr
    out = []
    for dt in (D.float32, D.float64):
        names = ("rows_ptr", "t_ptr", "out_ptr") if kernel is _ce_mean_kernel else ("g_ptr", "t_ptr", "d_ptr")
        sig = {names[0]: ptr(dt), "t_ptr": ptr(D.int64), names[2]: ptr(dt), "M": "i32", "ignore_index": "i32"}
        for mean in (True, False):
            what = f"{'mean' if mean else 'sum'}{'' if kernel is _ce_mean_kernel else ' backward'} {dt}"
            out.append(KernelSpec(kernel, sig, {"MEAN": mean, "ACC": _acc(dt), "BLOCK": _MEAN_BLOCK},
                                  label=f"cross_entropy {what}"))
            # the grid kernels past _MEAN_ONE rows
            grid = {"MEAN": mean, "ACC": _acc(dt), "BLOCK": _MEAN_BLOCK}
            if kernel is _ce_mean_kernel:
                psig = {"sum_ptr": ptr(dt), "cnt_ptr": ptr(D.int32), "out_ptr": ptr(dt), "P": "i32"}
                out.append(KernelSpec(_ce_parts_mean_kernel, psig, grid, label=f"cross_entropy {what} parts"))
                if mean:                                    # (the sum's pass is the same kernel)
                    out.append(KernelSpec(_ce_part_kernel, {"rows_ptr": ptr(dt), "t_ptr": ptr(D.int64),
                                                            "sum_ptr": ptr(dt), "cnt_ptr": ptr(D.int32), "M": "i32",
                                                            "ignore_index": "i32"},
                                          {"SUM": True, "ACC": _acc(dt), "ROWS": _MEAN_ROWS, "BLOCK": _MEAN_BLOCK},
                                          label=f"cross_entropy {what} partial sums"))
            else:
                bsig = {"g_ptr": ptr(dt), "t_ptr": ptr(D.int64), "cnt_ptr": ptr(D.int32 if mean else D.int64),
                        "d_ptr": ptr(dt), "M": "i32", "P": "i32", "ignore_index": "i32"}
                out.append(KernelSpec(_ce_parts_mean_bwd_kernel, bsig, {**grid, "ROWS": _MEAN_ROWS},
                                      label=f"cross_entropy {what} grid"))
    if kernel is not _ce_mean_kernel:                       # the backward's count-only pass
        out.append(KernelSpec(_ce_part_kernel, {"rows_ptr": ptr(D.int64), "t_ptr": ptr(D.int64),
                                                "sum_ptr": ptr(D.int32), "cnt_ptr": ptr(D.int32), "M": "i32",
                                                "ignore_index": "i32"},
                              {"SUM": False, "ACC": tl.float32, "ROWS": _MEAN_ROWS, "BLOCK": _MEAN_BLOCK},
                              label="cross_entropy mean backward partial counts"))
    return out


def _mean_samples():
    r = rng("cross_entropy_mean")
    out = []
    for m, ii, mean in ((5, -100, True), (6, 2, True), (4, 1, False), (1, -100, True), (3, 0, True)):
        t = r.integers(0, 3, size=m)
        if ii >= 0:
            t[0] = ii
        out.append(Sample([r.uniform(-2, 2, size=(2, m)), index(t)], {"ignore_index": ii, "mean": mean}))
    return out


def _mean_bw_samples():
    r = rng("cross_entropy_mean_backward")
    out = []
    for m, ii, mean in ((5, -100, True), (6, 2, True), (4, 1, False)):
        t = r.integers(0, 3, size=m)
        if ii >= 0:
            t[0] = ii
        out.append(Sample([r.uniform(-2, 2, size=()), index(t)], {"ignore_index": ii, "mean": mean}))
    return out


_ce_op = Op("cross_entropy", cpu=_fwd_cpu, cuda=_fwd_cuda, backward=_fwd_bw, save=(0, 1), save_output=True,
            samples=_samples, kernels=lambda: _specs(_ce_fwd_kernel) + _strided_specs(True), family="loss",
            plan_state=lambda: MAX_BLOCK_N)  # and the tuned config; its fault slot: _plan.py
_ce_bw_op = Op("cross_entropy_backward", cpu=_bwd_cpu, cuda=_bwd_cuda, backward=_bwd_bw, save=(0, 1, 2, 3),
               samples=_bw_samples, kernels=lambda: _specs(_ce_bwd_kernel) + _strided_specs(False), family="loss",
               plan_state=lambda: MAX_BLOCK_N)


# The reduced loss over the rows (mean over kept targets, or sum) and its backward: one kernel each,
# where composing it (sum, !=, sum, cast, divide; their backwards, and scattering the gradient of
# row 0 into the (2, M) rows) took 12 launches a training step: host time in a small model's step.
_ce_mean_op = Op("cross_entropy_mean", cpu=_mean_cpu, cuda=_mean_cuda, backward=_mean_bw, save=(1,),
                 grad_name="NllLossBackward0",                  # as PyTorch names its node
                 samples=_mean_samples, kernels=lambda: _mean_specs(_ce_mean_kernel), family="loss",
                 plan_state=lambda: (_MEAN_BLOCK, _MEAN_ONE, _MEAN_ROWS))
_ce_mean_bw_op = Op("cross_entropy_mean_backward", cpu=_mean_bwd_cpu, cuda=_mean_bwd_cuda, backward=_mean_bw_bw,
                    save=(1,), samples=_mean_bw_samples, kernels=lambda: _mean_specs(_ce_mean_bwd_kernel),
                    family="loss", plan_state=lambda: (_MEAN_BLOCK, _MEAN_ONE, _MEAN_ROWS))


def _cross_entropy_rows(input, target, ignore_index=-100, label_smoothing=0.0):
    """``(2, M)``: per row of logits ``input`` ``(M, C)`` the loss at class index ``target`` (0 where
    ignored) and the row's logsumexp; float32 for half inputs. Logits ``(N, C, d...)`` with targets
    ``(N, d...)`` are ``M = N * d...`` rows in the targets' order (the classes read along dim 1).
    ``label_smoothing`` eps: the loss against ``(1 - eps) onehot + eps / C``, as PyTorch's."""
    return _ce_op(input, target.to(D.int64), ignore_index=int(ignore_index), label_smoothing=float(label_smoothing))


def _cross_entropy_backward(grad, input, rows, target, ignore_index=-100, label_smoothing=0.0):
    return _ce_bw_op(grad, input, rows, target.to(D.int64), ignore_index=int(ignore_index),
                     label_smoothing=float(label_smoothing))


def _cross_entropy_reduced(rows, target, ignore_index=-100, mean=True):
    """The mean of ``rows[0]`` over targets other than ``ignore_index`` (``mean``), else their sum."""
    return _ce_mean_op(rows, target.to(D.int64), ignore_index=int(ignore_index), mean=bool(mean))


def _cross_entropy_reduced_backward(grad, target, ignore_index=-100, mean=True):
    return _ce_mean_bw_op(grad, target.to(D.int64), ignore_index=int(ignore_index), mean=bool(mean))


_ce_op.public, _ce_bw_op.public = _cross_entropy_rows, _cross_entropy_backward
_ce_mean_op.public, _ce_mean_bw_op.public = _cross_entropy_reduced, _cross_entropy_reduced_backward
for _o in (_ce_op, _ce_bw_op):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)
_ce_mean_op.dtypes = _ce_mean_bw_op.dtypes = (D.float32, D.float64)     # the rows: float32 for half logits

__all__ = []
