"""Fused batch normalization: statistics, running-stat update and normalization in three kernels
forward (two in eval mode), three backward. The input is viewed as ``(N, C, S)``, ``S`` the
product of the spatial dims; channel ``c``'s elements are ``x[n, c, s]`` over ``n`` and ``s``.
The composed form (means, centring, squares, running updates, scale folding) took about fifteen
launches and five passes over the activation each way per BatchNorm layer.

Forward, training:
1. ``_bn_partial_kernel``: programs over (channel blocks, row chunks) each sum ``v`` and ``v * v``
   for ``v = x - k``, ``k`` the channel's first element. The shift keeps the one-pass variance
   ``E[v^2] - E[v]^2`` free of the cancellation that ``E[x^2] - E[x]^2`` suffers when the mean is
   large against the spread.
2. ``_bn_stats_kernel``: sums the chunks' partials per channel into the mean and the biased
   variance, moves the running statistics by ``momentum`` in place (PyTorch's formulas: the
   running variance takes the *unbiased* batch variance), and writes each channel's coefficients.
3. ``_bn_apply_kernel``: ``y = (x - mean) * (rstd * w) + b``, one read and one write.

Backward: the same partial kernel sums ``g`` and ``g * (x - mean)``, ``_bn_grad_kernel`` turns
them into ``dweight``/``dbias`` and the coefficients of
``dx = (g - mean(g)) * (w * rstd) - (x - mean) * (w * rstd^3 * mean(g * (x - mean)))``,
which the apply kernel writes. Eval mode uses the running statistics: no partials forward, and
``dx = g * w * rstd``. When the backward is itself differentiated the formula runs in ttorch ops.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from ..autograd import grad_mode
from .._tensor import Tensor, _numel
from ._launch import cdiv, launch, next_pow2, SIMULATED
from ._op import Op
from .elementwise import tl_dtype
from .gemm import _split
from .samples import Sample, rng

TILE = 2048             # heuristic: elements per program of the apply kernel
PARTIAL_TILE = 1024     # heuristic: elements per loop step of a partial program (two accumulators each)
MIN_CHUNK = 16 * PARTIAL_TILE   # heuristic: elements a partial program sums at least (shorter loops cost
                                # more in partials than they gain in parallelism)


@triton.jit
def _bn_partial_kernel(x_ptr, g_ptr, shift_ptr, part_ptr, N, C, S, ROWS, HAS_G: tl.constexpr, ACC: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    """Per channel of this block, over this program's ``ROWS`` rows: ``sum(a)`` and ``sum(a * v)``,
    ``v = x - shift``; forward ``a = v`` and the shift is the channel's first element, backward
    ``a = g`` and the shift is the mean. Partials go to ``part[0, pn, c]`` and ``part[1, pn, c]``."""
    pn = tl.program_id(1)
    c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    cm = c < C
    if HAS_G:
        k = tl.load(shift_ptr + c, mask=cm, other=0).to(ACC)
    else:
        k = tl.load(x_ptr + c.to(tl.int64) * S, mask=cm, other=0).to(ACC)
    k = k[None, :, None]
    ns = tl.arange(0, BLOCK_N)
    ss = tl.arange(0, BLOCK_S)
    chan = (c.to(tl.int64) * S)[None, :, None]
    s1 = tl.zeros((BLOCK_N, BLOCK_C, BLOCK_S), ACC)
    s2 = tl.zeros((BLOCK_N, BLOCK_C, BLOCK_S), ACC)
    lo = pn * ROWS
    hi = tl.minimum(lo + ROWS, N)
    for n0 in range(lo, hi, BLOCK_N):
        n = n0 + ns
        row = (n.to(tl.int64) * C * S)[:, None, None] + chan
        nm = ((n < hi)[:, None, None]) & (cm[None, :, None])
        for s0 in range(0, S, BLOCK_S):
            s = s0 + ss
            m = nm & ((s < S)[None, None, :])
            off = row + s[None, None, :]
            v = tl.where(m, tl.load(x_ptr + off, mask=m, other=0).to(ACC) - k, 0)
            if HAS_G:
                a = tl.load(g_ptr + off, mask=m, other=0).to(ACC)
            else:
                a = v
            s1 += a
            s2 += a * v
    out = part_ptr + pn.to(tl.int64) * C + c
    tl.store(out, tl.sum(tl.sum(s1, 2), 0), mask=cm)
    tl.store(out + tl.num_programs(1).to(tl.int64) * C, tl.sum(tl.sum(s2, 2), 0), mask=cm)


@triton.jit
def _sum_partials(part_ptr, c, cm, C, P, ACC: tl.constexpr, BLOCK_C: tl.constexpr):
    """Channels ``c``'s two sums over the ``P`` row chunks of ``part`` (2, P, C)."""
    t1 = tl.zeros((BLOCK_C,), ACC)
    t2 = tl.zeros((BLOCK_C,), ACC)
    for p in range(0, P):
        t1 += tl.load(part_ptr + p * C + c, mask=cm, other=0)
        t2 += tl.load(part_ptr + (P + p) * C + c, mask=cm, other=0)
    return t1, t2


@triton.jit
def _bn_stats_kernel(part_ptr, x_ptr, w_ptr, b_ptr, rm_ptr, rv_ptr, mean_ptr, var_ptr, coef_ptr, C, S, P, count,
                     eps, mom_hi, mom_lo, TRAINING: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                     HAS_RUNNING: tl.constexpr, ACC: tl.constexpr, BLOCK_C: tl.constexpr):
    """Per channel: the batch statistics from the ``P`` partials (training; the running ones in
    eval), the running update, and the coefficients ``(mean, rstd * w, b)`` of the apply kernel.
    ``momentum`` comes as fp32 ``hi + lo`` (a float64 running statistic needs all its digits)."""
    c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    cm = c < C
    if TRAINING:
        t1, t2 = _sum_partials(part_ptr, c, cm, C, P, ACC, BLOCK_C)
        n = tl.zeros((), ACC) + count       # count may be the constant 1
        d = t1 / n
        mean = tl.load(x_ptr + c.to(tl.int64) * S, mask=cm, other=0).to(ACC) + d
        var = tl.maximum(t2 / n - d * d, 0)
        if HAS_RUNNING:
            # PyTorch's order: momentum * batch + (1 - momentum) * running
            momentum = mom_hi.to(ACC) + mom_lo.to(ACC)
            unbias = n / tl.maximum(n - 1, 1)
            rm = tl.load(rm_ptr + c, mask=cm, other=0).to(ACC)
            rv = tl.load(rv_ptr + c, mask=cm, other=0).to(ACC)
            tl.store(rm_ptr + c, (momentum * mean + (1 - momentum) * rm).to(rm_ptr.dtype.element_ty), mask=cm)
            tl.store(rv_ptr + c, (momentum * (var * unbias) + (1 - momentum) * rv).to(rv_ptr.dtype.element_ty),
                     mask=cm)
    else:
        mean = tl.load(rm_ptr + c, mask=cm, other=0).to(ACC)
        var = tl.load(rv_ptr + c, mask=cm, other=1).to(ACC)
    tl.store(mean_ptr + c, mean, mask=cm)
    tl.store(var_ptr + c, var, mask=cm)
    scale = 1.0 / tl.sqrt(var + eps)
    if HAS_W:
        scale = scale * tl.load(w_ptr + c, mask=cm, other=0).to(ACC)
    if HAS_B:
        shift = tl.load(b_ptr + c, mask=cm, other=0).to(ACC)
    else:
        shift = tl.zeros((BLOCK_C,), ACC)
    tl.store(coef_ptr + c, mean, mask=cm)
    tl.store(coef_ptr + C + c, scale, mask=cm)
    tl.store(coef_ptr + 2 * C + c, shift, mask=cm)


@triton.jit
def _bn_grad_kernel(part_ptr, mean_ptr, var_ptr, w_ptr, dw_ptr, db_ptr, coef_ptr, C, P, count, eps,
                    TRAINING: tl.constexpr, REDUCED: tl.constexpr, HAS_W: tl.constexpr, ACC: tl.constexpr,
                    BLOCK_C: tl.constexpr):
    """Per channel: ``dbias = sum(g)``, ``dweight = rstd * sum(g * (x - mean))`` from the partials,
    and the coefficients ``(mean, a, d, k)`` of ``dx = (x - mean) * a + (g - d) * k``."""
    c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    cm = c < C
    mean = tl.load(mean_ptr + c, mask=cm, other=0).to(ACC)
    rstd = 1.0 / tl.sqrt(tl.load(var_ptr + c, mask=cm, other=1).to(ACC) + eps)
    k = rstd
    if HAS_W:
        k = k * tl.load(w_ptr + c, mask=cm, other=0).to(ACC)
    a = tl.zeros((BLOCK_C,), ACC)
    d = tl.zeros((BLOCK_C,), ACC)
    if REDUCED:
        t1, t2 = _sum_partials(part_ptr, c, cm, C, P, ACC, BLOCK_C)
        tl.store(db_ptr + c, t1, mask=cm)
        tl.store(dw_ptr + c, t2 * rstd, mask=cm)
        if TRAINING:
            n = tl.zeros((), ACC) + count
            d = t1 / n
            a = -(k * rstd * rstd) * (t2 / n)
    tl.store(coef_ptr + c, mean, mask=cm)
    tl.store(coef_ptr + C + c, a, mask=cm)
    tl.store(coef_ptr + 2 * C + c, d, mask=cm)
    tl.store(coef_ptr + 3 * C + c, k, mask=cm)


@triton.jit
def _bn_apply_kernel(x_ptr, g_ptr, coef_ptr, out_ptr, R, C, S, HAS_G: tl.constexpr, ACC: tl.constexpr,
                     BLOCK_R: tl.constexpr, BLOCK_S: tl.constexpr):
    """Rows ``r = n * C + c`` of ``S`` elements: ``out = (x - m) * a + t`` forward (``t = b``),
    ``out = (x - m) * a + (g - t) * k`` backward, ``m, a, t, k`` the row's channel coefficients."""
    r = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    s = tl.program_id(1) * BLOCK_S + tl.arange(0, BLOCK_S)
    rm = r < R
    c = r % C
    m = rm[:, None] & (s < S)[None, :]
    off = (r * S)[:, None] + s[None, :]
    mean = tl.load(coef_ptr + c, mask=rm, other=0)[:, None]
    a = tl.load(coef_ptr + C + c, mask=rm, other=0)[:, None]
    t = tl.load(coef_ptr + 2 * C + c, mask=rm, other=0)[:, None]
    y = (tl.load(x_ptr + off, mask=m, other=0).to(ACC) - mean) * a
    if HAS_G:
        k = tl.load(coef_ptr + 3 * C + c, mask=rm, other=0)[:, None]
        y += (tl.load(g_ptr + off, mask=m, other=0).to(ACC) - t) * k
    else:
        y += t
    tl.store(out_ptr + off, y.to(out_ptr.dtype.element_ty), mask=m)


# ------------------------------------------------------------------------------ cuda
def _geometry(shape):
    return shape[0], shape[1], _numel(shape[2:])


# ------------------------------------------------------------------------------ tuning
# "stats" (the partial kernel, forward and backward): elements per loop step (TILE), the fewest
# elements per program (CHUNK), warps. "apply": elements per program, warps. Bucketed by the
# spatial size (the tile's shape follows it) and dtype. Heuristic: the constants above, 4 warps.
def _tune_key(kind, dtype, s):
    return (kind, dtype.name, tune.bucket(s, lo=1))


def _tune_configs(b):
    if b[0] == "stats":
        return [tune.Config({"TILE": t, "CHUNK": k * t}, num_warps=w) for t in (512, 1024, 2048) for k in (4, 16, 64)
                for w in (4, 8) if t >= 32 * w]
    return [tune.Config({"TILE": t}, num_warps=w) for t in (1024, 2048, 4096) for w in (4, 8)]


def _tune_heuristic(b):
    if b[0] == "stats":
        return tune.Config({"TILE": PARTIAL_TILE, "CHUNK": MIN_CHUNK}, num_warps=4)
    return tune.Config({"TILE": TILE}, num_warps=4)


def _tune_problems(quick):
    if SIMULATED:
        return [(kind, "float32", 4, 3, 20) for kind in ("stats", "apply")]
    if quick:       # the benchmark's CNN step (batch 128: 32 channels at 32x32, 64 at 16x16)
        return [(kind, "float32", 128, c, s) for kind in ("stats", "apply") for c, s in ((32, 1024), (64, 256))]
    # a ResNet's maps (56x56 to 7x7 at batch 128) and BatchNorm1d's (S = 1)
    shapes = [(128, 64, 3136), (128, 256, 196), (128, 512, 49), (4096, 1024, 1)]
    return [(kind, dt, n, c, s) for kind in ("stats", "apply") for dt in ("float32", "bfloat16")
            for n, c, s in shapes]


def _tune_bench(cfg, kind, dtype, n, c, s):
    from .random import randn
    dt = getattr(D, dtype)
    sd = D._compute_dtype(dt)
    x = randn(n, c, s, device="cuda").to(dt)
    if kind == "stats":
        return lambda: _partials(x, None, None, n, c, s, sd, cfg)
    coef = randn(4, c, device="cuda").to(sd)
    y = Tensor._empty(x._shape, dt, x.device)
    return lambda: _apply(x, None, coef, y, n, c, s, sd, cfg)


tune.register(tune.Tunable("batch_norm", configs=_tune_configs, heuristic=_tune_heuristic, problems=_tune_problems,
                           key=lambda kind, dt, n, c, s: _tune_key(kind, getattr(D, dt), s), bench=_tune_bench,
                           doc="batch_norm partial sums (tile, rows per program, warps) and apply (tile, warps)"))


def _config(kind, dtype, s):
    return tune.config("batch_norm", _tune_key(kind, dtype, s))


def _partial_blocks(n, c, s, tile=PARTIAL_TILE):
    """The (rows, channels, spatial) tile of the partial kernel: whole cache lines along memory.
    Wide maps put one channel in a program (``BLOCK_S`` up to ``tile``); small ones (BatchNorm1d's
    ``S = 1``) take several channels side by side, which are adjacent in memory."""
    bs = min(next_pow2(s), tile)
    bc = min(next_pow2(c), max(1, 32 // bs))
    bn = min(next_pow2(n), max(1, tile // (bs * bc)))
    return bn, bc, bs


def _partials(x, g, shift, n, c, s, sd, cfg=None):
    """Launch the partial kernel over enough row chunks to fill the GPU: ``(2, P, C)`` sums."""
    from ..cuda import _driver
    cfg = cfg or _config("stats", x.dtype, s)
    bn, bc, bs = _partial_blocks(n, c, s, cfg.kwargs["TILE"])
    cblocks = cdiv(c, bc)
    target = 4 if SIMULATED else 4 * _driver.backend().sm_count(x.device.index or 0)
    per_chunk = max(bn, cdiv(cfg.kwargs["CHUNK"], s * bc))
    chunks = max(1, min(cdiv(target, cblocks), cdiv(n, per_chunk)))
    rows = cdiv(cdiv(n, chunks), bn) * bn
    chunks = cdiv(n, rows)
    part = Tensor._empty((2, chunks, c), sd, x.device)
    launch(_bn_partial_kernel, (cblocks, chunks), x, g if g is not None else x, shift if shift is not None else x,
           part, n, c, s, rows, HAS_G=g is not None, ACC=tl_dtype(sd), BLOCK_N=bn, BLOCK_C=bc, BLOCK_S=bs,
           num_warps=cfg.num_warps)
    return part, chunks


def _apply(x, g, coef, out, n, c, s, sd, cfg=None):
    cfg = cfg or _config("apply", x.dtype, s)
    tile = cfg.kwargs["TILE"]
    bs = min(next_pow2(s), tile)
    br = max(1, tile // bs)
    launch(_bn_apply_kernel, (cdiv(n * c, br), cdiv(s, bs)), x, g if g is not None else x, coef, out, n * c, c, s,
           HAS_G=g is not None, ACC=tl_dtype(sd), BLOCK_R=br, BLOCK_S=bs, num_warps=cfg.num_warps)


def _fwd_cuda(x, w, b, rm, rv, *, training, momentum, eps):
    x = x.detach().contiguous()
    w = w.detach().contiguous() if w is not None else None
    b = b.detach().contiguous() if b is not None else None
    running = rm is not None and rv is not None
    if running and not (rm.is_contiguous() and rv.is_contiguous()):     # strided running statistics:
        crm, crv = rm.contiguous(), rv.contiguous()                     # update copies, write them back
        out = _fwd_cuda(x, w, b, crm, crv, training=training, momentum=momentum, eps=eps)
        if training:
            rm.detach().copy_(crm)
            rv.detach().copy_(crv)
        return out
    n, c, s = _geometry(x._shape)
    sd = D._compute_dtype(x.dtype)
    y = Tensor._empty(x._shape, x.dtype, x.device)
    mean, var = Tensor._empty((c,), sd, x.device), Tensor._empty((c,), sd, x.device)
    if c == 0:
        return y, mean, var
    if training and n * s == 0:         # PyTorch: an empty batch leaves the running statistics alone
        mean.zero_()
        var.fill_(1)
        return y, mean, var
    coef = Tensor._empty((3, c), sd, x.device)
    part, chunks = _partials(x, None, None, n, c, s, sd) if training else (x, 0)
    bc = min(next_pow2(c), 1024)
    launch(_bn_stats_kernel, (cdiv(c, bc),), part, x, w if w is not None else x, b if b is not None else x,
           rm if running else x, rv if running else x, mean, var, coef, c, s, chunks, n * s, float(eps),
           *_split(momentum, sd), TRAINING=training, HAS_W=w is not None,
           HAS_B=b is not None, HAS_RUNNING=running, ACC=tl_dtype(sd), BLOCK_C=bc, num_warps=4)
    if y.numel():
        _apply(x, None, coef, y, n, c, s, sd)
    return y, mean, var


def _bwd_cuda(g, x, w, mean, var, *, training, eps, reduce):
    g, x = g.detach().contiguous(), x.detach().contiguous()
    w = w.detach().contiguous() if w is not None else None
    mean, var = mean.detach().contiguous(), var.detach().contiguous()
    n, c, s = _geometry(x._shape)
    sd = D._compute_dtype(x.dtype)
    dx = Tensor._empty(x._shape, x.dtype, x.device)
    # two allocations, not rows of one (2, C) buffer: the kernel writes both, and the second row's
    # address is 16-byte aligned only when C is a multiple of 4 (a plan takes aligned addresses, _plan.py)
    dw, db = Tensor._empty((c,), sd, x.device), Tensor._empty((c,), sd, x.device)
    if c == 0 or n * s == 0:
        dw.zero_()
        db.zero_()
        return (dx, dw, db) if reduce else dx
    coef = Tensor._empty((4, c), sd, x.device)
    part, chunks = _partials(x, g, mean, n, c, s, sd) if reduce else (x, 0)
    bc = min(next_pow2(c), 1024)
    launch(_bn_grad_kernel, (cdiv(c, bc),), part, mean, var, w if w is not None else x, dw, db, coef, c, chunks,
           n * s, float(eps), TRAINING=training, REDUCED=reduce, HAS_W=w is not None, ACC=tl_dtype(sd),
           BLOCK_C=bc, num_warps=4)
    _apply(x, g, coef, dx, n, c, s, sd)
    return (dx, dw, db) if reduce else dx


# ------------------------------------------------------------------------------ NumPy
def _np_rows(a, n, c, cd):
    # (the spatial size spelt out: -1 is ambiguous when the batch is empty)
    return a.astype(cd, copy=False).reshape(n, c, int(np.prod(a.shape[2:], dtype=np.int64)))


def _fwd_cpu(x, w, b, rm, rv, *, training, momentum, eps):
    n, c, s = _geometry(x.shape)
    cd = D._compute_dtype(D.from_numpy_dtype(x.dtype)).np
    if training and n * s == 0:
        return np.empty_like(x), np.zeros(c, cd), np.ones(c, cd)
    xr = _np_rows(x, n, c, cd)
    if training:
        mean = xr.mean((0, 2))
        xc = xr - mean[:, None]
        var = np.square(xc).mean((0, 2))
        if rm is not None and rv is not None:
            rm[...] = momentum * mean + (1 - momentum) * rm.astype(cd)
            rv[...] = momentum * (var * (n * s / max(n * s - 1, 1))) + (1 - momentum) * rv.astype(cd)
    else:
        mean, var = rm.astype(cd), rv.astype(cd)
        xc = xr - mean[:, None]
    scale = 1.0 / np.sqrt(var + eps)
    if w is not None:
        scale = scale * w.astype(cd)
    xc *= scale[:, None]                    # xc is a new array: normalized in place
    if b is not None:
        xc += b.astype(cd)[:, None]
    return xc.reshape(x.shape).astype(x.dtype, copy=False), mean, var


def _bwd_cpu(g, x, w, mean, var, *, training, eps, reduce):
    n, c, s = _geometry(x.shape)
    cd = D._compute_dtype(D.from_numpy_dtype(x.dtype)).np
    xr, gr = _np_rows(x, n, c, cd), _np_rows(g, n, c, cd)
    mean, var = mean.astype(cd), var.astype(cd)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xr - mean[:, None]
    xhat *= rstd[:, None]
    k = rstd * w.astype(cd) if w is not None else rstd
    db = gr.sum((0, 2))
    if training and n * s:
        dx = gr * xhat
        dw = dx.sum((0, 2))
        xhat *= dw[:, None] / (n * s)
        np.subtract(gr, db[:, None] / (n * s), out=dx)
        dx -= xhat                              # g - mean(g) - xhat * mean(g * xhat)
        dx *= k[:, None]
    else:
        dw = (gr * xhat).sum((0, 2))
        dx = gr * k[:, None]
    dx = dx.reshape(x.shape).astype(x.dtype, copy=False)
    return (dx, dw, db) if reduce else dx


# ------------------------------------------------------------------------------ backward rules
def _channel(t, nd):
    return t.reshape((1, -1) + (1,) * (nd - 2))


def _composite_bw(g, x, w, mean, var, training, eps):
    """The backward formula in ttorch ops (differentiable: double backward goes through here).
    Training recomputes the statistics from ``x``, so their dependence on ``x`` is differentiated."""
    nd = x.ndim
    dims = (0,) + tuple(range(2, nd))
    sd = D._compute_dtype(x.dtype)
    xf, gf = x.to(sd), g.to(sd)
    if training:
        xc = xf - xf.mean(dims, keepdim=True)
        rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    else:
        xc = xf - _channel(mean, nd)
        rstd = _channel((var + eps).rsqrt(), nd)
    xhat = xc * rstd                                               # (N, C, *)
    wg = gf * _channel(w, nd) if w is not None else gf
    if training:
        dx = rstd * (wg - wg.mean(dims, keepdim=True) - xhat * (wg * xhat).mean(dims, keepdim=True))
    else:
        dx = rstd * wg
    return dx.to(x.dtype), (gf * xhat).sum(dims), gf.sum(dims)


def _fwd_bw(ctx, g):
    x, w = ctx.inputs[0], ctx.inputs[1]
    _, mean, var = ctx.outputs
    needs = ctx.needs
    if grad_mode.is_grad_enabled():
        dx, dw, db = _composite_bw(g, x, w, mean, var, ctx.training, ctx.eps)
    else:
        r = _bn_bw_op(g, x, w, mean, var, training=ctx.training, eps=ctx.eps,
                      reduce=ctx.training or needs[1] or needs[2])
        dx, dw, db = r if type(r) is tuple else (r, None, None)
    return (dx if needs[0] else None, dw if needs[1] else None, db if needs[2] else None, None, None)


def _bw_bw(ctx, gdx, gdw=None, gdb=None):
    # the backward op's own gradients: differentiate the composite formula with autograd
    from ..autograd import grad as _grad
    g, x, w, mean, var = ctx.inputs
    with grad_mode.enable_grad():
        leaves = [t.detach().requires_grad_(True) if t is not None else None for t in (g, x, w)]
        outs = _composite_bw(*leaves, mean, var, ctx.training, ctx.eps)
        ins = [t for t in leaves if t is not None]
        cots = (gdx, gdw, gdb) if ctx.reduce else (gdx,)
        gs = _grad(outs[:len(cots)], ins, cots, allow_unused=True, create_graph=grad_mode.is_grad_enabled())
    gs = list(gs)
    if w is None:
        gs.append(None)
    return tuple(gs) + (None, None)


# ------------------------------------------------------------------------------ specs and samples
def _specs(backward):
    """Heuristic tiles on four shape classes in every dtype; the tuner's space (tiles and warps) on
    the wide-map and BatchNorm1d classes in float32 and bfloat16; the per-channel kernels."""
    from ._aot import KernelSpec, ptr
    out, seen = [], set()
    i32 = "i32"
    shapes = ((64, 32, 3136), (256, 64, 49), (4096, 512, 1), (8, 16, 4))

    def add(dt, n, c, s, part_cfg, apply_cfg):
        sd = D._compute_dtype(dt)
        acc = tl_dtype(sd)
        bn, bc, bs = _partial_blocks(n, c, s, part_cfg.kwargs["TILE"])
        sig = {"x_ptr": ptr(dt), "g_ptr": ptr(dt), "shift_ptr": ptr(sd), "part_ptr": ptr(sd), "N": i32, "C": i32,
               "S": i32, "ROWS": i32}
        key = ("partials", dt, bn, bc, bs, part_cfg.num_warps)
        if key not in seen:
            seen.add(key)
            out.append(KernelSpec(_bn_partial_kernel, sig, dict(HAS_G=backward, ACC=acc, BLOCK_N=bn, BLOCK_C=bc,
                                                                 BLOCK_S=bs), num_warps=part_cfg.num_warps,
                                  label=f"batch_norm partials {dt} {bn}x{bc}x{bs} w{part_cfg.num_warps}"))
        tile = apply_cfg.kwargs["TILE"]
        bs = min(next_pow2(s), tile)
        key = ("apply", dt, tile // bs, bs, apply_cfg.num_warps)
        if key not in seen:
            seen.add(key)
            sig = {"x_ptr": ptr(dt), "g_ptr": ptr(dt), "coef_ptr": ptr(sd), "out_ptr": ptr(dt), "R": i32, "C": i32,
                   "S": i32}
            out.append(KernelSpec(_bn_apply_kernel, sig, dict(HAS_G=backward, ACC=acc, BLOCK_R=max(1, tile // bs),
                                                              BLOCK_S=bs), num_warps=apply_cfg.num_warps,
                                  label=f"batch_norm apply {dt} {bs} w{apply_cfg.num_warps}"))

    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        for n, c, s in shapes:
            add(dt, n, c, s, _tune_heuristic(("stats",)), _tune_heuristic(("apply",)))
    for dt in (D.float32, D.bfloat16):
        for n, c, s in (shapes[0], shapes[2]):
            for pc in _tune_configs(("stats",)):
                for ac in _tune_configs(("apply",)):
                    add(dt, n, c, s, pc, ac)
    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        sd = D._compute_dtype(dt)
        acc = tl_dtype(sd)
        for training in (True, False):
            if not backward:
                sig = dict(part_ptr=ptr(sd), x_ptr=ptr(dt), w_ptr=ptr(dt), b_ptr=ptr(dt), rm_ptr=ptr(sd),
                           rv_ptr=ptr(sd), mean_ptr=ptr(sd), var_ptr=ptr(sd), coef_ptr=ptr(sd), C=i32, S=i32, P=i32,
                           count=i32, eps="fp32", mom_hi="fp32", mom_lo="fp32")
                ce = dict(TRAINING=training, HAS_W=True, HAS_B=True, HAS_RUNNING=True, ACC=acc, BLOCK_C=1024)
                out.append(KernelSpec(_bn_stats_kernel, sig, ce, label=f"batch_norm stats {dt} training={training}"))
            else:
                sig = dict(part_ptr=ptr(sd), mean_ptr=ptr(sd), var_ptr=ptr(sd), w_ptr=ptr(dt), dw_ptr=ptr(sd),
                           db_ptr=ptr(sd), coef_ptr=ptr(sd), C=i32, P=i32, count=i32, eps="fp32")
                ce = dict(TRAINING=training, REDUCED=True, HAS_W=True, ACC=acc, BLOCK_C=1024)
                out.append(KernelSpec(_bn_grad_kernel, sig, ce, label=f"batch_norm grad {dt} training={training}"))
    return out


def _samples():
    r = rng("batch_norm")

    def u(*shape, lo=-2.0, hi=2.0):
        return r.uniform(lo, hi, size=shape)

    t = dict(training=True, momentum=0.1, eps=1e-5)
    e = dict(training=False, momentum=0.1, eps=1e-3)
    return [Sample([u(2, 3, 4, 5), u(3, lo=0.5, hi=1.5), u(3), None, None], t),
            Sample([u(6, 4), u(4, lo=0.5, hi=1.5), u(4), None, None], t, note="BatchNorm1d"),
            Sample([u(3, 2, 7), None, None, None, None], t, note="no affine"),
            Sample([u(1, 2, 3) + 5.0, u(2, lo=0.5, hi=1.5), None, None, None], t, note="offset mean, no bias"),
            Sample([u(5, 3, 2, 3), u(3, lo=0.5, hi=1.5), u(3), u(3), u(3, lo=0.5, hi=2.0)], dict(t, momentum=0.3),
                   grad=False, note="running statistics"),
            Sample([u(4, 3, 5), u(3, lo=0.5, hi=1.5), u(3), u(3), u(3, lo=0.5, hi=2.0)], e, grad=False, note="eval"),
            Sample([u(0, 3, 2), u(3), u(3), u(3), u(3, lo=0.5, hi=2.0)], t, grad=False, note="empty batch")]


def _bw_samples():
    r = rng("batch_norm_backward")
    out = []
    for shape, training in (((2, 3, 4), True), ((5, 2), True), ((3, 2, 2, 2), False)):
        c = shape[1]
        out.append(Sample([r.uniform(-1, 1, size=shape), r.uniform(-2, 2, size=shape), r.uniform(0.5, 1.5, size=c),
                           r.uniform(-0.5, 0.5, size=c), r.uniform(0.5, 2.0, size=c)],
                          dict(training=training, eps=1e-5, reduce=True), grad=False))
    return out


# ------------------------------------------------------------------------------ the ops
_batch_norm = Op("batch_norm", cpu=_fwd_cpu, cuda=_fwd_cuda, backward=_fwd_bw, save=(0, 1), save_output="all",
                 grad_outputs=1, samples=_samples, kernels=lambda: _specs(False), family="normalization",
                 grad_name="NativeBatchNormBackward0",
                 plan_state=lambda: (TILE, PARTIAL_TILE, MIN_CHUNK))   # and the tuned configs (_plan.py)
_bn_bw_op = Op("batch_norm_backward", cpu=_bwd_cpu, cuda=_bwd_cuda, backward=_bw_bw, samples=_bw_samples,
               kernels=lambda: _specs(True), family="normalization",
               plan_state=lambda: (TILE, PARTIAL_TILE, MIN_CHUNK))


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """``(output, mean, var)`` of batch normalization over ``(N, C, *)`` input, in fused kernels
    (PyTorch's ``native_batch_norm``, which returns the inverse std where this returns the biased
    variance). In training the running statistics that are given move in place."""
    rm, rv = running_mean, running_var
    if training and (rm is None) != (rv is None):       # one of them: a scratch stands in for the other
        from .creation import zeros
        given = rm if rm is not None else rv
        scratch = zeros(given.shape, dtype=given.dtype, device=given.device)
        rm, rv = (rm, scratch) if rm is not None else (scratch, rv)
    out = _batch_norm(input, weight, bias, rm, rv, training=bool(training), momentum=float(momentum),
                      eps=float(eps))
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._bump_version()           # written in place, as by PyTorch's kernels
    return out


def _public(x, w, b, rm, rv, **kw):
    # the tests compare the running statistics too, after the update
    out = batch_norm(x, w, b, rm, rv, **kw)
    return out + tuple(t for t in (rm, rv) if t is not None)


def _batch_norm_backward(grad_output, input, weight, mean, var, training=True, eps=1e-5, reduce=True):
    """``(dx, dweight, dbias)`` of batch normalization (``dx`` alone when not ``reduce``)."""
    return _bn_bw_op(grad_output, input, weight, mean, var, training=training, eps=float(eps), reduce=reduce)


_batch_norm.public, _bn_bw_op.public = _public, _batch_norm_backward
for _o in (_batch_norm, _bn_bw_op):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)
