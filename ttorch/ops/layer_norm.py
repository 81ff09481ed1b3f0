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

MAX_N = 16384           # longer rows take the composite path (one block must hold a row)


@triton.jit
def _mean(total, N):
    """``total / N`` correctly rounded: fp32 ``/`` is approximate on the GPU (2 ulp), and with a
    variance near 0 (rows of one element, constant rows) rstd = 1/sqrt(eps) amplifies that error
    into a visibly non-zero centred value; fp64 division is always exact."""
    if total.dtype == tl.float32:
        return tl.math.div_rn(total, tl.zeros((), tl.float32) + N)     # N may be the constant 1
    else:
        return total / N


@triton.jit
def _norm_fwd_kernel(x_ptr, w_ptr, b_ptr, y_ptr, N, eps, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                     RMS: tl.constexpr, ACC: tl.constexpr, BLOCK_N: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    m = cols < N
    x = tl.load(x_ptr + row * N + cols, mask=m, other=0).to(ACC)
    if RMS:
        xc = x
    else:
        xc = tl.where(m, x - _mean(tl.sum(x, 0), N), 0)
    y = xc * (1.0 / tl.sqrt(tl.sum(xc * xc, 0) / N + eps))
    if HAS_W:
        y = y * tl.load(w_ptr + cols, mask=m, other=0).to(ACC)
    if HAS_B:
        y = y + tl.load(b_ptr + cols, mask=m, other=0).to(ACC)
    tl.store(y_ptr + row * N + cols, y.to(y_ptr.dtype.element_ty), mask=m)


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
    else:
        w = tl.where(cm, 1.0, 0.0).to(ACC)
    dw = tl.zeros((BLOCK_N,), dtype=ACC)
    db = tl.zeros((BLOCK_N,), dtype=ACC)
    for i in tl.range(0, ROWS, num_stages=STAGES):
        row = pid.to(tl.int64) * ROWS + i
        m = cm & ((row + cols * 0) < M)       # a vector mask: the interpreter rejects a scalar one
        x = tl.load(x_ptr + row * N + cols, mask=m, other=0).to(ACC)
        g = tl.load(g_ptr + row * N + cols, mask=m, other=0).to(ACC)
        if RMS:
            xc = x
        else:
            xc = tl.where(m, x - _mean(tl.sum(x, 0), N), 0)
        rstd = 1.0 / tl.sqrt(tl.sum(xc * xc, 0) / N + eps)
        xhat = xc * rstd
        wg = g * w
        c = _mean(tl.sum(wg * xhat, 0), N)
        if RMS:
            dx = rstd * (wg - xhat * c)
        else:
            dx = rstd * (wg - _mean(tl.sum(wg, 0), N) - xhat * c)
        tl.store(dx_ptr + row * N + cols, dx.to(dx_ptr.dtype.element_ty), mask=m)
        dw += g * xhat
        db += g
    tl.store(dw_ptr + pid * N + cols, dw, mask=cm)
    tl.store(db_ptr + pid * N + cols, db, mask=cm)


def _acc(dt):
    return tl.float64 if dt is D.float64 else tl.float32


def _warps(n):
    # a whole row lives in registers: spread long rows over more warps so they do not spill
    return 4 if n <= 1024 else 8 if n <= 4096 else 16


# ------------------------------------------------------------------------------ tuning
# Forward: one row per program; tuned are the warps spreading the row. Backward: tuned are the
# warps and how many programs share the rows (each keeps dweight/dbias partials, summed after).
# Heuristic (untuned): ``_warps`` by row length, 256 backward programs (about two per SM).
def _tune_key(kind, dtype, n):
    return (kind, dtype.name, next_pow2(n))


def _tune_configs(b):
    warps = [w for w in (1, 2, 4, 8, 16) if 32 * w <= max(b[2], 32)]
    if b[0] == "fwd":
        return [tune.Config({}, num_warps=w) for w in warps]
    # the backward holds a row of x, g and the weight, and the partials, in registers: past 32 elements
    # of a row a thread its configs spill (4096 columns over 1 or 2 warps: 7.5-12.8 KiB a thread on
    # sm_90), so those warps are left out (the most warps stay, whatever the row)
    warps = [w for w in warps if b[2] <= _BWD_PER_THREAD * 32 * w] or warps[-1:]
    out = [tune.Config({"PROGRAMS": p}, num_warps=w) for w in warps for p in (64, 128, 256, 512)]
    # the pipelined row loop, with about one or two programs an SM: its stages hold a row of x and
    # of g each in shared memory (Hopper has 227 KiB a block)
    if 2 * _STAGED * b[2] * getattr(D, b[1]).itemsize <= 160 << 10:
        out += [tune.Config({"PROGRAMS": p, "STAGES": _STAGED}, num_warps=w) for w in warps if w >= 4
                for p in (128, 256)]
    return out


_STAGED = 2                 # the stages a pipelined backward config uses
_BWD_PER_THREAD = 32        # the most elements of a row a thread in a tuned backward config


def _tune_heuristic(b):
    return tune.Config({} if b[0] == "fwd" else {"PROGRAMS": 256}, num_warps=_warps(b[2]))


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
    launch(_norm_fwd_kernel, (m,), x, w if w is not None else x, b if b is not None else x, y, n, float(eps),
           HAS_W=w is not None, HAS_B=b is not None, RMS=rms, ACC=_acc(x.dtype), BLOCK_N=next_pow2(n),
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
    progs = min(m, 4 if SIMULATED else cfg.kwargs["PROGRAMS"])
    rows = cdiv(m, progs)
    progs = cdiv(m, rows)
    # the weight's and the bias's partials side by side: one reduction launch sums both
    part = Tensor._empty((2, progs, n), sd, x.device)
    dwp, dbp = (part._view((progs, n), (n, 1), i * progs * n) for i in (0, 1))
    w = w.detach().contiguous() if w is not None else None
    launch(_norm_bwd_kernel, (progs,), g, x, w if w is not None else x, dx, dwp, dbp, m, n, rows, float(eps),
           HAS_W=w is not None, RMS=rms, ACC=_acc(x.dtype), BLOCK_N=next_pow2(n), STAGES=cfg.kwargs.get("STAGES"),
           num_warps=cfg.num_warps)
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
    return (rstd * dx).to(x.dtype), (gf * xhat).sum(lead), gf.sum(lead)


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
def _specs(kind, norms=(False, True)):
    from ._aot import KernelSpec, ptr
    out = []
    for dt, bn in ((D.float32, 1024), (D.float16, 4096), (D.bfloat16, 16384), (D.float64, 512)):
        for rms in norms:
            for has_w in (True, False):
                name = f"{'rms' if rms else 'layer'}_norm {dt} {bn} {'affine' if has_w else 'plain'}"
                if kind == "fwd":
                    sig = {k: ptr(dt) for k in ("x_ptr", "w_ptr", "b_ptr", "y_ptr")}
                    sig.update(N="i32", eps="fp32")
                    ce = {"HAS_W": has_w, "HAS_B": has_w and not rms, "RMS": rms, "ACC": _acc(dt), "BLOCK_N": bn}
                    out.append(KernelSpec(_norm_fwd_kernel, sig, ce, num_warps=_warps(bn), label=name))
                else:
                    sd = _stat_dtype(dt)
                    sig = {k: ptr(dt) for k in ("g_ptr", "x_ptr", "w_ptr", "dx_ptr")}
                    sig.update(dw_ptr=ptr(sd), db_ptr=ptr(sd), M="i32", N="i32", ROWS="i32", eps="fp32")
                    ce = {"HAS_W": has_w, "RMS": rms, "ACC": _acc(dt), "BLOCK_N": bn}
                    out.append(KernelSpec(_norm_bwd_kernel, sig, ce, num_warps=_warps(bn),
                                          label=name + " backward"))
    # the warps the tuner may pick, on two row lengths of the common dtypes
    for dt in (D.float32, D.bfloat16):
        for bn in (1024, 4096):
            for w in sorted({c.num_warps for c in _tune_configs((kind, dt.name, bn))} - {_warps(bn)}):
                if kind == "fwd":
                    sig = {k: ptr(dt) for k in ("x_ptr", "w_ptr", "b_ptr", "y_ptr")}
                    sig.update(N="i32", eps="fp32")
                    ce = {"HAS_W": True, "HAS_B": True, "RMS": False, "ACC": _acc(dt), "BLOCK_N": bn}
                    out.append(KernelSpec(_norm_fwd_kernel, sig, ce, num_warps=w, label=f"tuned {dt} {bn} w{w}"))
                else:
                    sd = _stat_dtype(dt)
                    sig = {k: ptr(dt) for k in ("g_ptr", "x_ptr", "w_ptr", "dx_ptr")}
                    sig.update(dw_ptr=ptr(sd), db_ptr=ptr(sd), M="i32", N="i32", ROWS="i32", eps="fp32")
                    ce = {"HAS_W": True, "RMS": False, "ACC": _acc(dt), "BLOCK_N": bn}
                    out.append(KernelSpec(_norm_bwd_kernel, sig, ce, num_warps=w,
                                          label=f"tuned {dt} {bn} w{w} backward"))
    if kind == "bwd":       # the pipelined loops, as launched on aligned rows of a multiple of 16 elements
        for dt, bn in ((D.float32, 1024), (D.float32, 8192), (D.bfloat16, 4096), (D.bfloat16, 16384)):
            sd = _stat_dtype(dt)
            sig = {k: ptr(dt) for k in ("g_ptr", "x_ptr", "w_ptr", "dx_ptr")}
            sig.update(dw_ptr=ptr(sd), db_ptr=ptr(sd), M="i32", N="i32", ROWS="i32", eps="fp32")
            div = [a for a in sig if a.endswith("_ptr")] + ["N"]
            ce = {"HAS_W": True, "RMS": False, "ACC": _acc(dt), "BLOCK_N": bn, "STAGES": _STAGED}
            warps = sorted({c.num_warps for c in _tune_configs((kind, dt.name, bn)) if c.kwargs.get("STAGES")})
            out += [KernelSpec(_norm_bwd_kernel, sig, ce, num_warps=w, divisible=div,
                               label=f"tuned {dt} {bn} w{w} {_STAGED} stages backward") for w in warps]
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


# ------------------------------------------------------------------------------ the ops
_layer_norm = Op("layer_norm", cpu=_fwd_cpu, cuda=_fwd_cuda, backward=_fwd_bw, save=(0, 1),
                 samples=lambda: _samples(False), kernels=lambda: _specs("fwd", (False,)), family="normalization",
                 plan_state=tuple)
_rms_norm = Op("rms_norm", cpu=lambda x, w, *, k, eps, rms: _fwd_cpu(x, w, None, k=k, eps=eps, rms=rms),
               cuda=lambda x, w, *, k, eps, rms: _fwd_cuda(x, w, None, k=k, eps=eps, rms=rms), backward=_fwd_bw,
               save=(0, 1), samples=lambda: _samples(True), kernels=lambda: _specs("fwd", (True,)),
               family="normalization", plan_state=tuple)
_norm_bw_op = Op("layer_norm_backward", cpu=_bwd_cpu, cuda=_bwd_cuda, backward=_bw_bw, save=(0, 1, 2),
                 samples=lambda: _bw_samples(False), kernels=lambda: _specs("bwd"), family="normalization",
                 plan_state=tuple)


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
    cuda rows longer than ``MAX_N``).
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
