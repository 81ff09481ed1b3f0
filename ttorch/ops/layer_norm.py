"""Fused layer_norm and rms_norm over the last dims: one Triton kernel forward, one backward.

The input is viewed as ``(M, N)`` rows, ``N`` the numel of ``normalized_shape``. Forward: one
program per row loads it once, computes the mean (layer_norm only) and ``rstd`` in float32
(float64 for float64) and writes ``(x - mean) * rstd * w + b``. Backward: each program walks a
block of rows, recomputing the row's ``mean``/``rstd`` from the ``x`` it loads anyway (no saved
statistics to keep alive), writes

    dx = rstd * (wg - mean(wg) - xhat * mean(wg * xhat))      wg = g * w,  xhat = (x - mean) * rstd

(rms_norm drops ``mean(wg)``), and accumulates its partial ``sum(g * xhat)`` and ``sum(g)`` for
``dweight``/``dbias``; the partials are then summed by ``ttorch.sum``. When the backward is itself
differentiated (``create_graph``) the same formula runs in ttorch ops instead, so it has a graph.

A row that doesn't fit a program's registers (``FWD_BLOCK_N``, ``BWD_BLOCK_N``) is read twice in
blocks instead, the second time mostly from L2: the statistics and sums first, then the outputs;
the backward then adds each block's partials to its program's row of them in memory.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from ..autograd import grad_mode
from .._tensor import Tensor, _numel
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op
from .samples import Sample, rng

MAX_N = 2 ** 31 - 2 ** 16     # the kernels index a row's columns in int32: longer rows compose
# The longest rows a program keeps in registers, in float32 values (half as many float64): the
# forward holds x, 32 values a thread at 16 warps; the backward holds x, g, w and the dweight/dbias
# partials, 8 values a thread, or 16 when the launch is 16-byte aligned (Triton then loads vectors;
# an unaligned load keeps a 64-bit address per element). Longer rows loop over blocks of
# BWD_BLOCK_N (the LOOPED kernels). Tests lower both to run the loops.
FWD_BLOCK_N, BWD_BLOCK_N = 16384, 4096


@triton.jit
def _mean(total, N):
    """``total / N`` correctly rounded (but for quotients a hair from a rounding tie), so exact when
    representable: fp32 ``/`` is approximate on the GPU (2 ulp), and with a variance near 0 (rows of
    one element, constant rows) rstd = 1/sqrt(eps) amplifies that error into a visibly non-zero
    centred value. A Newton step on the exact residual (an fma) corrects it. ``div_rn`` (and fp64
    ``/``) would too, but call a slow-path subroutine, around which ptxas kept up to 35 more
    registers a thread live: the kernels spilled."""
    n = tl.zeros((), total.dtype) + N                                  # N may be the constant 1
    if total.dtype == tl.float32:
        q = total / n
        r = tl.fma(-q, n, total) / n                # NaN where total is +-inf: q is right there
        return tl.where(r == r, q + r, q)
    else:
        r = (1.0 / n.to(tl.float32)).to(tl.float64)       # 1/N good to 2**-22; two Newton steps: 2**-53
        r = r * (2.0 - n * r)
        r = r * (2.0 - n * r)
        q = total * r
        return tl.fma(tl.fma(-q, n, total), r, q)


@triton.jit
def _rstd(sum_sq, N, eps):
    """``1 / sqrt(sum_sq / N + eps)``, without fp64's slow-path calls (``_mean``)."""
    if sum_sq.dtype == tl.float32:
        return 1.0 / tl.sqrt(sum_sq / N + eps)
    else:
        return tl.math.rsqrt(_mean(sum_sq, N) + eps)


@triton.jit
def _looped_moments(x_row, g_row, w_ptr, N, eps, GRAD: tl.constexpr, HAS_W: tl.constexpr, RMS: tl.constexpr,
                    ACC: tl.constexpr, BLOCK_N: tl.constexpr):
    """``(mean, rstd, mean(wg), mean(wg * xhat))`` of a row longer than ``BLOCK_N`` (``wg = g * w``;
    the last two only with ``GRAD``), read once in blocks. Each lane sums its own elements, shifted
    by its first one (block 0 is full): sum(x * x) - N * mean² would cancel when |mean| >> std, and
    the lanes combine exactly, sum((x - mean)²) = sum over lanes of s2 - 2 d s1 + n d², d = mean - shift."""
    cols = tl.arange(0, BLOCK_N)
    if RMS:
        shift = tl.zeros((BLOCK_N,), ACC)
    else:
        shift = tl.load(x_row + cols).to(ACC)
    s1 = tl.zeros((BLOCK_N,), ACC)
    s2 = tl.zeros((BLOCK_N,), ACC)
    sg = tl.zeros((BLOCK_N,), ACC)
    sgx = tl.zeros((BLOCK_N,), ACC)
    for start in range(0, N, BLOCK_N):
        c = start + cols
        m = c < N
        x = tl.where(m, tl.load(x_row + c, mask=m, other=0).to(ACC) - shift, 0)
        s1 += x
        s2 += x * x
        if GRAD:
            wg = tl.load(g_row + c, mask=m, other=0).to(ACC)
            if HAS_W:
                wg *= tl.load(w_ptr + c, mask=m, other=0).to(ACC)
            sg += wg
            sgx += wg * x
    if RMS:
        mean = tl.zeros((), ACC)
        var = tl.sum(s2, 0)
        wgxc = tl.sum(sgx, 0)
    else:
        n = ((N - 1 - cols) // BLOCK_N + 1).to(ACC)         # the elements each lane summed
        mean = _mean(tl.sum(n * shift + s1, 0), N)
        d = mean - shift
        var = tl.sum(s2 - d * (2 * s1 - n * d), 0)          # sum((x - mean)²)
        wgxc = tl.sum(sgx - d * sg, 0)                      # sum(wg * (x - mean))
    rstd = _rstd(var, N, eps)
    return mean, rstd, _mean(tl.sum(sg, 0), N), _mean(wgxc, N) * rstd


@triton.jit
def _norm_fwd_kernel(x_ptr, w_ptr, b_ptr, y_ptr, N, eps, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                     RMS: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr, LOOPED: tl.constexpr = False):
    # LOOPED: the row is longer than BLOCK_N; it is read twice (the second time mostly from L2)
    row = tl.program_id(0).to(tl.int64)
    x_row, y_row = x_ptr + row * N, y_ptr + row * N
    cols = tl.arange(0, BLOCK_N)
    if LOOPED:
        mean, rstd, _, _ = _looped_moments(x_row, x_row, w_ptr, N, eps, False, False, RMS, ACC, BLOCK_N)
        for start in range(0, N, BLOCK_N):
            c = start + cols
            m = c < N
            y = (tl.load(x_row + c, mask=m, other=0).to(ACC) - mean) * rstd
            if HAS_W:
                y = y * tl.load(w_ptr + c, mask=m, other=0).to(ACC)
            if HAS_B:
                y = y + tl.load(b_ptr + c, mask=m, other=0).to(ACC)
            tl.store(y_row + c, y.to(y_ptr.dtype.element_ty), mask=m)
    else:
        m = cols < N
        x = tl.load(x_row + cols, mask=m, other=0).to(ACC)
        if RMS:
            xc = x
        else:
            xc = tl.where(m, x - _mean(tl.sum(x, 0), N), 0)
        y = xc * _rstd(tl.sum(xc * xc, 0), N, eps)
        if HAS_W:
            y = y * tl.load(w_ptr + cols, mask=m, other=0).to(ACC)
        if HAS_B:
            y = y + tl.load(b_ptr + cols, mask=m, other=0).to(ACC)
        tl.store(y_row + cols, y.to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _norm_bwd_kernel(g_ptr, x_ptr, w_ptr, dx_ptr, dw_ptr, db_ptr, M, N, ROWS, eps, HAS_W: tl.constexpr,
                     RMS: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr, STAGES: tl.constexpr = None):
    # STAGES: the row loop's pipeline depth (None: Triton's plain loop). A plain loop loads a row's x
    # and g only after the row before is reduced and stored, so each program waits on memory once a
    # row; ``tl.range(num_stages=)`` has the next rows' loads in flight (cp.async through shared
    # memory) while this one is reduced. The tuner picks it per row length.
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    cm = cols < N
    if HAS_W:
        w = tl.load(w_ptr + cols, mask=cm, other=0).to(ACC)
    dw = tl.zeros((BLOCK_N,), dtype=ACC)
    db = tl.zeros((BLOCK_N,), dtype=ACC)
    for i in tl.range(0, tl.minimum(ROWS, M - pid * ROWS), num_stages=STAGES):
        row = pid.to(tl.int64) * ROWS + i
        x = tl.load(x_ptr + row * N + cols, mask=cm, other=0).to(ACC)
        g = tl.load(g_ptr + row * N + cols, mask=cm, other=0).to(ACC)
        if RMS:
            xc = x
        else:
            xc = tl.where(cm, x - _mean(tl.sum(x, 0), N), 0)
        rstd = _rstd(tl.sum(xc * xc, 0), N, eps)
        xhat = xc * rstd
        wg = g
        if HAS_W:
            wg = g * w
        c = _mean(tl.sum(wg * xhat, 0), N)
        if RMS:
            dx = rstd * (wg - xhat * c)
        else:
            dx = rstd * (wg - _mean(tl.sum(wg, 0), N) - xhat * c)
        tl.store(dx_ptr + row * N + cols, dx.to(dx_ptr.dtype.element_ty), mask=cm)
        dw += g * xhat
        db += g
    tl.store(dw_ptr + pid * N + cols, dw, mask=cm)
    tl.store(db_ptr + pid * N + cols, db, mask=cm)


@triton.jit
def _norm_bwd_looped_kernel(g_ptr, x_ptr, w_ptr, dx_ptr, dw_ptr, db_ptr, M, N, ROWS, eps, HAS_W: tl.constexpr,
                            RMS: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr):
    # A row longer than BLOCK_N: its statistics and sums are taken in a first pass over its blocks,
    # dx is written in a second (which reads the row again, mostly from L2). The dweight/dbias
    # partials can't stay in registers a row long: each block's are added to this program's
    # partial row in memory, read back by the thread that wrote them (the first row only stores).
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    dw_row, db_row = dw_ptr + pid * N, db_ptr + pid * N
    for i in range(0, tl.minimum(ROWS, M - pid * ROWS)):
        row = pid.to(tl.int64) * ROWS + i
        x_row, g_row, dx_row = x_ptr + row * N, g_ptr + row * N, dx_ptr + row * N
        mean, rstd, cb, c = _looped_moments(x_row, g_row, w_ptr, N, eps, True, HAS_W, RMS, ACC, BLOCK_N)
        for start in range(0, N, BLOCK_N):
            cc = start + cols
            m = cc < N
            x = tl.load(x_row + cc, mask=m, other=0).to(ACC)
            g = tl.load(g_row + cc, mask=m, other=0).to(ACC)
            xhat = (x - mean) * rstd
            wg = g
            if HAS_W:
                wg = g * tl.load(w_ptr + cc, mask=m, other=0).to(ACC)
            if RMS:
                dx = rstd * (wg - xhat * c)
            else:
                dx = rstd * (wg - cb - xhat * c)
            tl.store(dx_row + cc, dx.to(dx_ptr.dtype.element_ty), mask=m)
            again = m & (i > 0)
            tl.store(dw_row + cc, tl.load(dw_row + cc, mask=again, other=0) + g * xhat, mask=m)
            tl.store(db_row + cc, tl.load(db_row + cc, mask=again, other=0) + g, mask=m)


def _acc(dt):
    return tl.float64 if dt is D.float64 else tl.float32


def _block(kind, dtype, n, aligned=False):
    """``(BLOCK_N, LOOPED)`` for rows of ``n``: the whole row in one block where it fits (see
    ``FWD_BLOCK_N``), else a loop over blocks of ``BWD_BLOCK_N``."""
    f = 2 if dtype is D.float64 else 1
    fits = FWD_BLOCK_N if kind == "fwd" else BWD_BLOCK_N * (2 if aligned and f == 1 else 1)
    bn = next_pow2(n)
    return (bn, False) if bn <= fits // f else (BWD_BLOCK_N // f, True)


def _aligned(n, *tensors):
    """Whether Triton's launcher specializes this launch as 16-byte aligned (``n`` and every pointer)."""
    return n % 16 == 0 and all(t.data_ptr() % 16 == 0 for t in tensors if t is not None)


def _per_thread(kind, dtype, n, warps, aligned=False):
    """The float32 values (a float64 counts two) of each block-long vector a thread holds."""
    return _block(kind, dtype, n, aligned)[0] // (32 * warps) * (2 if dtype is D.float64 else 1)


# ------------------------------------------------------------------------------ tuning
# Forward: one row per program; tuned are the warps spreading the row. Backward: tuned are the
# warps and how many programs share the rows (each keeps dweight/dbias partials, summed after).
# Heuristic (untuned): 4 warps up to 1024 columns, 8 up to 4096, 16 beyond (more where a thread
# would hold more than a tuned config may); 256 backward programs (about two per SM), 128 for rows
# that loop even when aligned: those 16-warp programs mostly take over 64 registers a thread, one an
# SM, so 128 fill an H100 in one wave with half the partials to sum, and the partials and rows they
# hold in L2 (up to 256 KiB a program) stay under 32 MB.
#
# A thread holding 128 values of a row forward (4096 columns over 1 warp) or 32 backward (4096 over 4
# warps: 0.9 KiB; 1024 over 1: 0.7 KiB) spilled on sm_90, so tuned configs hold at most half that, and
# half again in a looped pass (about twice as many block-long vectors live). The most warps stay.
_FWD_PER_THREAD, _BWD_PER_THREAD = 64, 16
# The backward's dweight/dbias partials: at most this many elements each, so long rows take fewer
# programs (at 16384 columns the 512 the tuner may pick fit; a row of a million columns takes 8).
_PARTIALS = 1 << 23
_STAGED = 2                 # the stages a pipelined backward config uses


def _tune_key(kind, dtype, n):
    return (kind, dtype.name, next_pow2(n))


def _tune_warps(kind, dtype, n, aligned=False):
    bn, looped = _block(kind, dtype, n, aligned)
    cap = (_FWD_PER_THREAD if kind == "fwd" else _BWD_PER_THREAD) // (2 if looped else 1)
    warps = [w for w in (1, 2, 4, 8, 16) if 32 * w <= max(bn, 32)]
    return [w for w in warps if _per_thread(kind, dtype, n, w, aligned) <= cap] or warps[-1:]


def _tune_configs(b):
    # the backward's bucket of 8192 columns runs in one pass when aligned (the tuning problems are)
    # and looped when not: its warps suit both
    kind, dtype, n = b[0], getattr(D, b[1]), b[2]
    warps = sorted(set(_tune_warps(kind, dtype, n, True)) & set(_tune_warps(kind, dtype, n)))
    if kind == "fwd":
        return [tune.Config({}, num_warps=w) for w in warps]
    if _block(kind, dtype, n, True)[1]:
        return [tune.Config({"PROGRAMS": p}, num_warps=w) for w in warps for p in (64, 128, 256)]
    out = [tune.Config({"PROGRAMS": p}, num_warps=w) for w in warps for p in (64, 128, 256, 512)]
    # the pipelined row loop, with about one or two programs an SM: its stages hold a row of x and
    # of g each in shared memory (Hopper has 227 KiB a block)
    if 2 * _STAGED * n * dtype.itemsize <= 160 << 10:
        out += [tune.Config({"PROGRAMS": p, "STAGES": _STAGED}, num_warps=w) for w in warps if w >= 4
                for p in (128, 256)]
    return out


def _tune_heuristic(b):
    kind, dtype, n = b[0], getattr(D, b[1]), b[2]
    warps = max(4 if n <= 1024 else 8 if n <= 4096 else 16, min(c.num_warps for c in _tune_configs(b)))
    if kind == "fwd":
        return tune.Config({}, num_warps=warps)
    return tune.Config({"PROGRAMS": 128 if _block(kind, dtype, n, True)[1] else 256}, num_warps=warps)


def _tune_problems(quick):
    if quick or SIMULATED:
        return [(kind, "float32", 8, 40) for kind in ("fwd", "bwd")]
    return [(kind, dt, 8192 if n <= 4096 else 4096, n) for kind in ("fwd", "bwd") for dt in ("float32", "bfloat16")
            for n in (256, 512, 1024, 2048, 4096, 8192, 16384)]


def _tune_bench(cfg, kind, dtype, m, n):
    from .random import randn
    dt = getattr(D, dtype)
    x, w = randn(m, n, device="cuda").to(dt), randn(n, device="cuda").to(dt)
    if kind == "fwd":
        return lambda: _fwd_cuda(x, w, w, k=1, eps=1e-5, rms=False, cfg=cfg)
    g = randn(m, n, device="cuda").to(dt)
    return lambda: _bwd_cuda(g, x, w, k=1, eps=1e-5, rms=False, cfg=cfg)


tune.register(tune.Tunable("layer_norm", configs=_tune_configs, heuristic=_tune_heuristic, problems=_tune_problems,
                           key=lambda kind, dt, m, n: _tune_key(kind, getattr(D, dt), n), bench=_tune_bench,
                           doc="layer_norm/rms_norm forward (warps) and backward (warps, programs)"))


def _stat_dtype(dt):
    return D.float64 if dt is D.float64 else D.float32


# ------------------------------------------------------------------------------ cuda
def _fwd_cuda(x, w, b, *, k, eps, rms, cfg=None):
    n = _numel(x._shape[x.ndim - k:])
    x = x.detach().contiguous()
    y = Tensor._empty(x._shape, x.dtype, x.device)
    m = _numel(x._shape) // n if n else 0
    if m == 0 or n == 0:
        return y
    w = w.detach().contiguous() if w is not None else None
    b = b.detach().contiguous() if b is not None else None
    cfg = cfg or tune.config("layer_norm", _tune_key("fwd", x.dtype, n))
    bn, looped = _block("fwd", x.dtype, n)
    launch(_norm_fwd_kernel, (m,), x, w if w is not None else x, b if b is not None else x, y, n, float(eps),
           HAS_W=w is not None, HAS_B=b is not None, RMS=rms, ACC=_acc(x.dtype), BLOCK_N=bn, LOOPED=looped,
           num_warps=cfg.num_warps)
    return y


def _bwd_cuda(g, x, w, *, k, eps, rms, cfg=None):
    from .creation import zeros
    n = _numel(x._shape[x.ndim - k:])
    g, x = g.detach().contiguous(), x.detach().contiguous()
    dx = Tensor._empty(x._shape, x.dtype, x.device)
    m = _numel(x._shape) // n if n else 0
    sd = _stat_dtype(x.dtype)
    wshape = w._shape if w is not None else x._shape[x.ndim - k:]
    if m == 0 or n == 0:
        dw = zeros(wshape, dtype=sd, device=x.device)
        return dx, dw, dw
    # enough programs to fill the GPU, each summing its rows' dweight/dbias partials
    cfg = cfg or tune.config("layer_norm", _tune_key("bwd", x.dtype, n))
    progs = min(m, 4 if SIMULATED else cfg.kwargs["PROGRAMS"], max(1, _PARTIALS // n))
    rows = cdiv(m, progs)
    progs = cdiv(m, rows)
    # the weight's and the bias's partials side by side: one reduction launch sums both
    part = Tensor._empty((2, progs, n), sd, x.device)
    dwp, dbp = (part._view((progs, n), (n, 1), i * progs * n) for i in (0, 1))
    w = w.detach().contiguous() if w is not None else None
    # only rows past BWD_BLOCK_N may take the one pass when aligned: only their pointers are looked at
    bn, looped = _block("bwd", x.dtype, n, next_pow2(n) > BWD_BLOCK_N and _aligned(n, g, x, w, dx, dwp, dbp))
    if looped:
        kernel, meta = _norm_bwd_looped_kernel, {}
    else:
        kernel, meta = _norm_bwd_kernel, {"STAGES": cfg.kwargs.get("STAGES")}
    launch(kernel, (progs,), g, x, w if w is not None else x, dx, dwp, dbp, m, n, rows, float(eps),
           HAS_W=w is not None, RMS=rms, ACC=_acc(x.dtype), BLOCK_N=bn, num_warps=cfg.num_warps, **meta)
    sums = part.sum(1)                                                  # (2, n)
    return dx, sums[0].reshape(wshape), sums[1].reshape(wshape)


# ------------------------------------------------------------------------------ NumPy
def _np_rows(a, n):
    cd = D._compute_dtype(D.from_numpy_dtype(a.dtype)).np
    return a.astype(cd, copy=False).reshape(-1, n) if n else a.astype(cd).reshape(0, 0)


def _np_stats(x, eps, rms):
    """``(xhat, rstd)`` of rows ``x``; ``xhat`` a new array (computed in place: fewer passes)."""
    xc = x.copy() if rms else x - x.mean(1, keepdims=True)
    sq = np.square(xc)
    rstd = sq.mean(1, keepdims=True)
    rstd += eps
    np.sqrt(rstd, out=rstd)
    np.reciprocal(rstd, out=rstd)
    xc *= rstd
    return xc, rstd


def _fwd_cpu(x, w, b, *, k, eps, rms):
    n = _numel(x.shape[x.ndim - k:])
    if x.size == 0:
        return np.empty_like(x)
    y, _ = _np_stats(_np_rows(x, n), eps, rms)
    if w is not None:
        y *= w.reshape(-1)
    if b is not None:
        y += b.reshape(-1)
    return y.reshape(x.shape).astype(x.dtype, copy=False)


def _bwd_cpu(g, x, w, *, k, eps, rms):
    n = _numel(x.shape[x.ndim - k:])
    sd = _stat_dtype(D.from_numpy_dtype(x.dtype)).np
    wshape = w.shape if w is not None else x.shape[x.ndim - k:]
    if x.size == 0:
        z = np.zeros(wshape, sd)
        return np.empty_like(x), z, z
    xr, gr = _np_rows(x, n), _np_rows(g, n)
    xhat, rstd = _np_stats(xr, eps, rms)
    tmp = gr * xhat
    dw, db = tmp.sum(0).reshape(wshape).astype(sd), gr.sum(0).reshape(wshape).astype(sd)
    dx = gr * w.reshape(-1).astype(xr.dtype) if w is not None else gr.copy()      # wg
    np.multiply(dx, xhat, out=tmp)
    np.multiply(xhat, tmp.mean(1, keepdims=True), out=tmp)
    if not rms:
        tmp += dx.mean(1, keepdims=True)
    dx -= tmp                                      # wg - mean(wg) - xhat * mean(wg * xhat)
    dx *= rstd
    return dx.reshape(x.shape).astype(x.dtype, copy=False), dw, db


# ------------------------------------------------------------------------------ backward rules
def _composite_bw(g, x, w, k, eps, rms):
    """The backward formula in ttorch ops over the last ``k`` dims (differentiable: double
    backward goes through here)."""
    dims = tuple(range(x.ndim - k, x.ndim))
    sd = _stat_dtype(x.dtype)
    xf, gf = x.to(sd), g.to(sd)
    xc = xf if rms else xf - xf.mean(dims, keepdim=True)
    rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    xhat = xc * rstd                                    # (*, normalized_shape)
    wg = gf * w if w is not None else gf
    dx = wg - xhat * (wg * xhat).mean(dims, keepdim=True)
    if not rms:
        dx = dx - wg.mean(dims, keepdim=True)
    lead = tuple(range(x.ndim - k))
    # (an input of the normalized shape alone: nothing to sum, and sum(()) would sum every dim)
    red = (lambda t: t.sum(lead)) if lead else (lambda t: t)
    return (rstd * dx).to(x.dtype), red(gf * xhat), red(gf)


def _fwd_bw(ctx, g):
    x, w = ctx.inputs[0], ctx.inputs[1]
    has_b = len(ctx.inputs) > 2 and ctx.needs[2]
    if grad_mode.is_grad_enabled():
        dx, dw, db = _composite_bw(g, x, w, ctx.k, ctx.eps, ctx.rms)
    else:
        dx, dw, db = _norm_bw_op(g, x, w, k=ctx.k, eps=ctx.eps, rms=ctx.rms)
    out = [dx if ctx.needs[0] else None,
           dw.to(w.dtype) if w is not None and ctx.needs[1] else None]
    if len(ctx.inputs) > 2:
        out.append(db.to(ctx.inputs[2].dtype if ctx.inputs[2] is not None else db.dtype) if has_b else None)
    return tuple(out)


def _bw_bw(ctx, gdx, gdw, gdb):
    # the backward op's own gradients: differentiate the composite formula with autograd
    from ..autograd import grad as _grad
    g, x, w = ctx.inputs
    with grad_mode.enable_grad():
        leaves = [t.detach().requires_grad_(True) if t is not None else None for t in (g, x, w)]
        outs = _composite_bw(*leaves, ctx.k, ctx.eps, ctx.rms)
        ins = [t for t in leaves if t is not None]
        gs = _grad(outs, ins, (gdx, gdw, gdb), allow_unused=True, create_graph=grad_mode.is_grad_enabled())
    gs = list(gs)
    if w is None:
        gs.append(None)
    return tuple(gs)


# ------------------------------------------------------------------------------ specs and samples
def _spec(kind, dt, n, warps, rms, has_w, aligned=False, stages=None, label=""):
    """The kernel launched on rows of ``n`` (``aligned``: as Triton specializes a 16-byte aligned
    launch) as a ``KernelSpec``."""
    from ._aot import KernelSpec, ptr
    bn, looped = _block(kind, dt, n, aligned)
    ce = {"HAS_W": has_w, "RMS": rms, "ACC": _acc(dt), "BLOCK_N": bn}
    if kind == "fwd":
        kernel, names = _norm_fwd_kernel, ("x_ptr", "w_ptr", "b_ptr", "y_ptr")
        ce.update(HAS_B=has_w and not rms, LOOPED=looped)
        sig = dict({k: ptr(dt) for k in names}, N="i32", eps="fp32")
    else:
        kernel = _norm_bwd_looped_kernel if looped else _norm_bwd_kernel
        names = ("g_ptr", "x_ptr", "w_ptr", "dx_ptr", "dw_ptr", "db_ptr")
        if not looped:
            ce.update(STAGES=stages)
        sig = dict({k: ptr(dt) for k in names[:4]}, dw_ptr=ptr(_stat_dtype(dt)), db_ptr=ptr(_stat_dtype(dt)),
                   M="i32", N="i32", ROWS="i32", eps="fp32")
    words = [label, str(dt), str(n), "looped" * looped, f"w{warps}", f"{stages} stages" if stages else "",
             "aligned" * aligned, "backward" * (kind == "bwd")]
    return KernelSpec(kernel, sig, ce, num_warps=warps, divisible=names + ("N",) if aligned else (),
                      label=" ".join(word for word in words if word))


def _specs(kind, norms=(False, True)):
    """The configurations ``python -m ttorch.ops --compile`` builds. Per path (one pass or looped)
    and warp count, the longest row that takes it: its threads hold the most. The heuristic's for
    every dtype and variant; the tuner's others for float32 and bfloat16 (layer_norm, affine), the
    pipelined ones aligned too. Unaligned (an address an element: the most registers), and aligned
    where that changes the path."""
    out, seen = [], set()

    def add(dt, n, warps, rms, has_w, aligned, stages, label):
        s = _spec(kind, dt, n, warps, rms, has_w, aligned, stages, label)
        key = (s.name, str(sorted(s.signature.items())), str(sorted(s.constexprs.items())), warps, aligned)
        if key not in seen:
            seen.add(key)
            out.append(s)

    def longest(dt, configs):
        """``{(path, warps, stages, aligned): n}`` over the buckets, from ``configs(n)``."""
        found = {}
        for n in (1 << k for k in range(5, 15)):
            for aligned in (False, True) if kind == "bwd" else (False,):
                path = _block(kind, dt, n, aligned)
                if aligned and path == _block(kind, dt, n):
                    continue
                for c in configs(n):
                    found[(path[1], c.num_warps, c.kwargs.get("STAGES"), aligned)] = n
        return found

    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        heuristic = longest(dt, lambda n: [_tune_heuristic((kind, dt.name, n))])
        for (_, w, _, aligned), n in sorted(heuristic.items(), key=lambda kv: kv[1]):
            for rms in norms:
                for has_w in (True, False):
                    add(dt, n, w, rms, has_w, aligned, None,
                        f"{'rms' if rms else 'layer'}_norm {'affine' if has_w else 'plain'}")
    for dt in (D.float32, D.bfloat16) if False in norms else ():
        tuned = longest(dt, lambda n: _tune_configs((kind, dt.name, n)))
        for (_, w, stages, aligned), n in sorted(tuned.items(), key=lambda kv: (kv[1], kv[0][1])):
            add(dt, n, w, False, True, aligned, stages, "tuned")
            if stages:              # the pipelined loop copies aligned rows asynchronously
                add(dt, n, w, False, True, True, stages, "tuned")
    return out


_SHAPES = [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((7,), (7,)), ((1, 1), (1,)), ((4, 33), (33,)), ((0, 3), (3,)),
           ((5, 2, 3), (3,))]


def _samples(rms):
    r = rng("rms_norm" if rms else "layer_norm")
    out = []
    for shape, ns in _SHAPES:
        x = r.uniform(-2, 2, size=shape)
        w, b = r.uniform(0.5, 1.5, size=ns), r.uniform(-1, 1, size=ns)
        if rms:
            out.append(Sample([x, ns, w], {"eps": 1e-5}))
        else:
            out.append(Sample([x, ns, w, b], {"eps": 1e-5}))
    out.append(Sample([r.uniform(-2, 2, size=(3, 6)), (6,)], {}, note="no weight"))
    return out


def _bw_samples(rms):
    r = rng("rms_norm_backward" if rms else "layer_norm_backward")
    return [Sample([r.uniform(-1, 1, size=shape), r.uniform(-2, 2, size=shape), r.uniform(0.5, 1.5, size=ns)],
                   {"eps": 1e-5}, grad=False) for shape, ns in _SHAPES]


def _plan_state():
    """What the cuda path reads besides its inputs and the tuner (``Op(plan_state=...)``)."""
    return FWD_BLOCK_N, BWD_BLOCK_N


# ------------------------------------------------------------------------------ the ops
_layer_norm = Op("layer_norm", cpu=_fwd_cpu, cuda=_fwd_cuda, backward=_fwd_bw, save=(0, 1),
                 samples=lambda: _samples(False), kernels=lambda: _specs("fwd", (False,)), family="normalization",
                 plan_state=_plan_state)
_rms_norm = Op("rms_norm", cpu=lambda x, w, *, k, eps, rms: _fwd_cpu(x, w, None, k=k, eps=eps, rms=rms),
               cuda=lambda x, w, *, k, eps, rms: _fwd_cuda(x, w, None, k=k, eps=eps, rms=rms), backward=_fwd_bw,
               save=(0, 1), samples=lambda: _samples(True), kernels=lambda: _specs("fwd", (True,)),
               family="normalization", plan_state=_plan_state)
_norm_bw_op = Op("layer_norm_backward", cpu=_bwd_cpu, cuda=_bwd_cuda, backward=_bw_bw, save=(0, 1, 2),
                 samples=lambda: _bw_samples(False), kernels=lambda: _specs("bwd"), family="normalization",
                 plan_state=_plan_state)


def _check(input, normalized_shape, weight, bias):
    """``normalized_shape`` as a tuple, checked against the input's trailing dims (PyTorch's messages)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(ns)}")
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        star = ", ".join(["*"] + [str(s) for s in ns])
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [{star}], but got input "
                           f"of size{list(input.shape)}")
    return ns


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """Layer normalization over the last ``len(normalized_shape)`` dims, in one fused kernel.

    ``ttorch.nn.functional.layer_norm`` calls this on both devices (composing ttorch ops only for
    cuda rows of ``MAX_N`` or more elements).
    """
    k = len(_check(input, normalized_shape, weight, bias))
    return _layer_norm(input, weight, bias, k=k, eps=float(eps), rms=False)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """RMS normalization over the last ``len(normalized_shape)`` dims, in one fused kernel."""
    k = len(_check(input, normalized_shape, weight, None))
    if eps is None:
        eps = D.finfo(input.dtype).eps
    return _rms_norm(input, weight, k=k, eps=float(eps), rms=True)


def _layer_norm_backward(grad_output, input, weight, eps=1e-5, rms=False):
    """``(dx, dweight, dbias)`` of layer_norm (rms_norm with ``rms=True``) over ``weight``'s dims."""
    return _norm_bw_op(grad_output, input, weight, k=weight.ndim, eps=float(eps), rms=rms)


_layer_norm.public, _rms_norm.public, _norm_bw_op.public = layer_norm, rms_norm, _layer_norm_backward
for _o in (_layer_norm, _rms_norm, _norm_bw_op):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)

__all__ = ["layer_norm", "rms_norm"]
