"""Fused softmax and log_softmax over any dim: one Triton kernel forward, one backward.

The rows are read in place (``(outer, N, inner)`` view of a contiguous input, as in
``reduction._rows``). A row that fits one block is loaded once; a longer row is read twice:
first an online pass keeping, per lane, the running max ``m`` and the sum of ``exp(x - m)``
(rescaled when ``m`` grows), then a pass writing the outputs. Half types compute in float32.

The backward kernels compute ``y * (g - sum(g * y))`` (softmax) and ``g - exp(y) * sum(g)``
(log_softmax) from the saved output. Each backward is itself an op whose backward is written
in ttorch ops, so gradients of gradients work.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from ..autograd import grad_mode
from .._tensor import Tensor, _wrap_dim, _numel
from .. import tune
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from .reduction import _row_base, row_programs
from .samples import Sample, rng

# Rows up to MAX_BLOCK_N are read once (a two-pass row costs 1.5x the memory traffic forward and
# 5/3 backward, though a row's second read mostly hits L2); tests lower it to run the two-pass path.
# 8192, not 16384: a one-pass row of 16384 floats is 32 values a thread at 16 warps, where a thread
# has 128 registers, and spilled on sm_90 (16-76 B a thread; 1.6-2 KiB in float64); 32 warps
# (64 registers) spilled the backward too. A longer row loops over blocks of half that (4096, at 8
# warps untuned): at 8192 over 16 warps ptxas squeezed the float16 backward into 64 registers a
# thread on sm_90 and spilled column offsets it reloaded every block (Triton 3.9; float64 8192 spilled).
MAX_BLOCK_N = 4096 if SIMULATED else 8192


def _rows3(x, dim):
    """``(contiguous x, M, N, INNER)``: row ``r`` holds ``x[r // INNER, :, r % INNER]`` of the
    ``(outer, N, inner)`` view around ``dim``."""
    x = x.detach().contiguous()
    if x.ndim == 0:
        return x, 1, 1, 1
    n = x._shape[dim]
    inner = _numel(x._shape[dim + 1:])
    return x, _numel(x._shape[:dim]) * inner, n, inner


def _block_n(n, inner, dtype):
    bn = min(next_pow2(n), MAX_BLOCK_N)
    if n > bn:
        bn //= 2            # a looped row: half blocks (see MAX_BLOCK_N)
    # a strided (inner > 1) row is gathered column by column: narrower blocks coalesce better
    return min(bn, 256) if inner > 1 and not SIMULATED else bn


# ------------------------------------------------------------------------------ tuning
# A program handles BLOCK_M rows of BLOCK_N columns; BLOCK_N follows the row length, so what is
# tuned is the tile (BLOCK_M * BLOCK_N elements) and the warps. Heuristic (untuned buckets): tiles
# of 4096 elements, 4 warps up to 1024 columns, 8 up to 4096 and 16 beyond, 8 for a strided row:
# one row per program for long rows, many short rows per program, so each moves enough bytes. The
# backward (two rows in, one out) is tuned on its own; an untuned backward bucket takes the
# forward's winner, then the heuristic.
_TILES, _WARPS = (2048, 4096, 8192), (4, 8, 16)


def _tune_key(kind, dtype, n, inner):
    return (kind, dtype.name, _block_n(n, inner, dtype), inner > 1)


def _fits(tile, bn, warps, strided):
    """Whether a tile keeps each thread's values in registers (checked on sm_90 by
    ``python -m ttorch.ops --compile``): at most 32 elements a thread (the backward holds two
    rows: 64 spilled 100-160 B), and 16 for a strided row, whose every element carries its own
    64-bit address (32 spilled); never a strided row at 16 warps, whose 128 registers a thread
    spilled even at 16 elements."""
    per_thread = max(tile, bn) // (32 * warps)
    return per_thread <= 32 if not strided else per_thread <= 16 and warps < 16


def _tune_configs(b):
    bn, strided = b[2], b[3]
    return [tune.Config({"BLOCK_M": max(1, t // bn)}, num_warps=w) for t in _TILES for w in _WARPS
            if _fits(t, bn, w, strided)]


def _tune_heuristic(b):
    bn, strided = b[2], b[3]
    warps = 8 if strided else 4 if bn <= 1024 else 8 if bn <= 4096 else 16
    return tune.Config({"BLOCK_M": max(1, 4096 // bn)}, num_warps=warps)


def _tune_problems(quick):
    if quick or SIMULATED:
        return [(kind, "float32", 8, 100) for kind in ("fwd", "bwd")]
    return [(kind, dt, 8192, n) for kind in ("fwd", "bwd") for dt in ("float32", "bfloat16")
            for n in (128, 512, 1024, 2048, 4096, 8192, 32768)]


def _tune_bench(cfg, kind, dtype, m, n):
    from .random import randn
    dt = getattr(D, dtype)
    ins = [randn(m, n, device="cuda").to(dt) for _ in range(1 if kind == "fwd" else 2)]
    out = Tensor._empty(ins[0]._shape, dt, ins[0].device)
    bn = _block_n(n, 1, dt)
    return lambda: launch(_softmax_fwd_kernel if kind == "fwd" else _softmax_bwd_kernel,
                          (cdiv(m, cfg.kwargs["BLOCK_M"]),), *ins, out, m, n, 1, LOG=False, SINGLE=n <= bn,
                          ACC=_acc(dt), BLOCK_N=bn, **cfg.meta())


tune.register(tune.Tunable("softmax", configs=_tune_configs,
                           key=lambda kind, dt, m, n: _tune_key(kind, getattr(D, dt), n, 1),
                           heuristic=_tune_heuristic, problems=_tune_problems, bench=_tune_bench,
                           doc="softmax/log_softmax forward and backward: rows per program and warps"))


@triton.jit
def _online_sum(acc, mx, x):
    """The running sum of ``exp(x - max)`` per lane, given the lane's max ``mx`` so far and its new
    element ``x``, with ONE exp (the kernels run close to the SFU's rate): ``e = exp(-|x - mx|)``
    weighs ``x`` when it is not the new max, and rescales ``acc`` when it is. A NaN propagates;
    -inf adds nothing (and a lane that has seen only -inf keeps 0, not NaN)."""
    e = tl.where(x == float("-inf"), 0.0, tl.exp(-tl.abs(x - mx)))
    return tl.where(x > mx, acc * e + 1.0, acc + e)


@triton.jit
def _online_rows(x_ptr, base, step, rmask, N, ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                 SUM: tl.constexpr = False):
    """``(max, sum of exp(x - max), sum of x)`` of BLOCK_M rows (first elements at ``base``, ``step``
    apart) in one pass over blocks: per lane, the running max and the sum ``_online_sum`` rescales as
    it grows; the plain sum only with ``SUM`` (else 0)."""
    mx = tl.full((BLOCK_M, BLOCK_N), float("-inf"), ACC)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    sx = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        x = tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=float("-inf")).to(ACC)
        acc = _online_sum(acc, mx, x)
        mx = tl.maximum(mx, x)
        if SUM:
            sx += tl.where(m, x, 0.0)
    top = tl.max(mx, 1)
    return top, tl.sum(acc * tl.exp(mx - top[:, None]), 1), tl.sum(sx, 1)


@triton.jit
def _softmax_fwd_kernel(x_ptr, y_ptr, M, N, INNER, LOG: tl.constexpr, SINGLE: tl.constexpr, ACC: tl.constexpr,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, STRIDED: tl.constexpr = False):
    _, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    if SINGLE:
        cols = tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        offs = base[:, None] + cols.to(tl.int64)[None, :] * step
        x = tl.load(x_ptr + offs, mask=m, other=float("-inf")).to(ACC)
        top = tl.max(x, 1)
        e = tl.exp(x - top[:, None])
        s = tl.sum(tl.where(m, e, 0), 1)
        if LOG:
            y = x - top[:, None] - tl.log(s)[:, None]
        else:
            y = e / s[:, None]
        tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m)
    else:
        top, s, _ = _online_rows(x_ptr, base, step, rmask, N, ACC, BLOCK_M, BLOCK_N)
        for start in range(0, N, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            m = rmask[:, None] & (cols < N)[None, :]
            offs = base[:, None] + cols.to(tl.int64)[None, :] * step
            x = tl.load(x_ptr + offs, mask=m, other=float("-inf")).to(ACC)
            if LOG:
                y = x - top[:, None] - tl.log(s)[:, None]
            else:
                y = tl.exp(x - top[:, None]) / s[:, None]
            tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _softmax_bwd_kernel(g_ptr, y_ptr, dx_ptr, M, N, INNER, LOG: tl.constexpr, SINGLE: tl.constexpr,
                        ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, STRIDED: tl.constexpr = False):
    # softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g)
    _, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    if SINGLE:
        cols = tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        offs = base[:, None] + cols.to(tl.int64)[None, :] * step
        g = tl.load(g_ptr + offs, mask=m, other=0).to(ACC)
        y = tl.load(y_ptr + offs, mask=m, other=0).to(ACC)
        if LOG:
            dx = g - tl.exp(y) * tl.sum(g, 1)[:, None]
        else:
            dx = y * (g - tl.sum(g * y, 1)[:, None])
        tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=m)
    else:
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
        for start in range(0, N, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            m = rmask[:, None] & (cols < N)[None, :]
            offs = base[:, None] + cols.to(tl.int64)[None, :] * step
            g = tl.load(g_ptr + offs, mask=m, other=0).to(ACC)
            if LOG:
                acc += g
            else:
                acc += g * tl.load(y_ptr + offs, mask=m, other=0).to(ACC)
        s = tl.sum(acc, 1)
        for start in range(0, N, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            m = rmask[:, None] & (cols < N)[None, :]
            offs = base[:, None] + cols.to(tl.int64)[None, :] * step
            g = tl.load(g_ptr + offs, mask=m, other=0).to(ACC)
            y = tl.load(y_ptr + offs, mask=m, other=0).to(ACC)
            if LOG:
                dx = g - tl.exp(y) * s[:, None]
            else:
                dx = y * (g - s[:, None])
            tl.store(dx_ptr + offs, dx.to(dx_ptr.dtype.element_ty), mask=m)


def _acc(dt):
    return tl.float64 if dt is D.float64 else tl.float32


def _run(kernel, out, tensors, dim, log):
    """Launch ``kernel`` over rows along ``dim``: ``tensors`` (made contiguous) in, ``out`` out."""
    rows = [_rows3(t, dim) for t in tensors]
    _, m, n, inner = rows[0]
    if m == 0 or n == 0:
        return out
    bn = _block_n(n, inner, out.dtype)
    cfg = None
    if kernel is _softmax_bwd_kernel:
        cfg = tune.lookup("softmax", _tune_key("bwd", out.dtype, n, inner))
    cfg = cfg or tune.config("softmax", _tune_key("fwd", out.dtype, n, inner))
    bm, programs = row_programs(m, inner, min(cfg.kwargs["BLOCK_M"], next_pow2(m)))
    launch(kernel, (programs,), *[r[0] for r in rows], out, m, n, inner, LOG=log, SINGLE=n <= bn,
           ACC=_acc(out.dtype), BLOCK_M=bm, BLOCK_N=bn, STRIDED=inner > 1, num_warps=cfg.num_warps,
           num_stages=cfg.num_stages)
    return out


# ------------------------------------------------------------------------------ NumPy
def _np_fwd(a, dim, log):
    x = a.astype(D._compute_dtype(D.from_numpy_dtype(a.dtype)).np, copy=False)
    if x.ndim == 0:
        return np.asarray(0.0 if log else 1.0, a.dtype)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        top = np.max(x, axis=dim, keepdims=True, initial=-np.inf)
        z = x - top                                 # a new array: the rest happens in place
        if log:
            z -= np.log(np.sum(np.exp(z), axis=dim, keepdims=True))
        else:
            np.exp(z, out=z)
            z /= np.sum(z, axis=dim, keepdims=True)
    return z.astype(a.dtype, copy=False)


def _np_bwd(g, y, dim, log):
    cd = D._compute_dtype(D.from_numpy_dtype(y.dtype)).np
    g32, y32 = g.astype(cd), y.astype(cd)
    ax = dim if y.ndim else None
    if log:
        dx = g32 - np.exp(y32) * np.sum(g32, axis=ax, keepdims=True)
    else:
        dx = y32 * (g32 - np.sum(g32 * y32, axis=ax, keepdims=True))
    return dx.astype(y.dtype)


# ------------------------------------------------------------------------------ the ops
def _fwd_cuda(x, *, dim, log):
    return _run(_softmax_fwd_kernel, Tensor._empty(x._shape, x.dtype, x.device), [x], dim, log)


def _bwd_cuda(g, y, *, dim, log):
    return _run(_softmax_bwd_kernel, Tensor._empty(y._shape, y.dtype, y.device), [g, y], dim, log)


def _attached_output(ctx):
    """The forward's output; recomputed from the saved input when the backward is itself
    being differentiated (the saved output is detached from the graph)."""
    y = ctx.output
    if grad_mode.is_grad_enabled() and not y.requires_grad:
        y = _softmax(ctx.inputs[0], dim=ctx.dim, log=ctx.log)
    return y


def _fwd_bw(ctx, g):
    return _softmax_bw(g, _attached_output(ctx), dim=ctx.dim, log=ctx.log)


def _bwd_bw(ctx, gg):
    # the backward's own gradients (in ttorch ops): for dx = y * (g - sum(g*y)),
    #   d/dg = softmax_backward(gg, y),  d/dy = gg * (g - sum(g*y)) - g * sum(gg * y);
    # for dx = g - exp(y) * sum(g),  d/dg = gg - sum(gg * exp(y)),  d/dy = -gg * exp(y) * sum(g)
    g, y = ctx.inputs
    d = ctx.dim if y.ndim else None
    if ctx.log:
        ey = y.exp()
        dg = gg - (gg * ey).sum(d, keepdim=True) if ctx.needs[0] else None
        dy = -gg * ey * g.sum(d, keepdim=True) if ctx.needs[1] else None
    else:
        dg = _softmax_bw(gg, y, dim=ctx.dim, log=False) if ctx.needs[0] else None
        dy = gg * (g - (g * y).sum(d, keepdim=True)) - g * (gg * y).sum(d, keepdim=True) if ctx.needs[1] else None
    return dg, dy


def _specs(kernel, nin):
    from ._aot import KernelSpec, ptr

    def spec(dt, single, bm, bn, log, warps, tag=""):
        sig = {n: ptr(dt) for n in (("x_ptr", "y_ptr") if nin == 1 else ("g_ptr", "y_ptr", "dx_ptr"))}
        sig.update(M="i32", N="i32", INNER="i32")
        ce = {"LOG": log, "SINGLE": single, "ACC": _acc(dt), "BLOCK_M": bm, "BLOCK_N": bn, "STRIDED": "strided" in tag}
        return KernelSpec(kernel, sig, ce,
                          num_warps=warps, label=f"{'log_' if log else ''}softmax {dt} {'1-pass' if single else 'looped'}"
                                                 f" {bm}x{bn} w{warps}{tag}")
    out = []
    # (dtype, one pass, BLOCK_N, strided): the heuristic's tile, forward and log, for each path. A
    # contiguous row loops only past MAX_BLOCK_N (in blocks of half), a strided one past 256
    for dt, single, bn, strided in ((D.float32, True, 1024, False), (D.bfloat16, True, 256, False),
                                    (D.float64, True, 512, False), (D.float32, True, 8192, False),
                                    (D.bfloat16, True, 8192, False), (D.float64, True, 8192, False),
                                    (D.float32, False, 4096, False), (D.float16, False, 4096, False),
                                    (D.float64, False, 4096, False), (D.bfloat16, False, 256, True),
                                    (D.float32, False, 256, True), (D.float32, True, 64, True)):
        h = _tune_heuristic(("fwd", dt.name, bn, strided))
        out += [spec(dt, single, h.kwargs["BLOCK_M"], bn, log, h.num_warps, " strided" if strided else "")
                for log in (False, True)]
    # every configuration the tuner may pick, for the common dtypes and both code paths
    for dt, single, bn, strided in ((D.float32, True, 1024, False), (D.bfloat16, True, 1024, False),
                                    (D.float32, True, 8192, False), (D.bfloat16, False, 4096, False),
                                    (D.float32, False, 4096, False),
                                    (D.float32, False, 256, True), (D.bfloat16, True, 64, True)):
        for c in _tune_configs(("fwd", dt.name, bn, strided)):
            out.append(spec(dt, single, c.kwargs["BLOCK_M"], bn, False, c.num_warps,
                            " tuned" + (" strided" if strided else "")))
    return out


def _samples(name):
    r = rng(name)
    out = []
    for shape, dim in [((), 0), ((0,), 0), ((1,), 0), ((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1),
                       ((2, 3, 4), -1), ((2, 0, 3), 2), ((4, 33), -1), ((2, 3, 4), 0)]:
        out.append(Sample([r.uniform(-3, 3, size=shape)], {"dim": dim}))
    out.append(Sample([r.uniform(-3, 3, size=(3, 6))], {"dim": 1, "dtype": D.float64}, note="dtype="))
    return out


def _bw_samples(name):
    r = rng(name)
    out = []
    for shape, dim in [((), 0), ((1,), 0), ((7,), 0), ((3, 5), 1), ((2, 3, 4), 1), ((4, 33), -1), ((2, 0, 3), 2)]:
        y = _np_fwd(r.uniform(-2, 2, size=shape), dim, name == "_log_softmax_backward_data")
        out.append(Sample([r.uniform(-1, 1, size=shape), y], {"dim": dim}))
    return out


def _plan_state():
    """What the cuda path reads besides its inputs and the tuner (``Op(plan_state=...)``)."""
    return MAX_BLOCK_N,


_softmax = Op("softmax", cpu=lambda a, *, dim, log: _np_fwd(a, dim, log), cuda=_fwd_cuda, backward=_fwd_bw,
              save=(0,), save_output=True, samples=lambda: _samples("softmax"),
              kernels=lambda: _specs(_softmax_fwd_kernel, 1), family="softmax", plan_state=_plan_state)
_log_softmax = Op("log_softmax", cpu=lambda a, *, dim, log: _np_fwd(a, dim, log), cuda=_fwd_cuda,
                  backward=_fwd_bw, save=(0,), save_output=True, samples=lambda: _samples("log_softmax"),
                  kernels=lambda: _specs(_softmax_fwd_kernel, 1), family="softmax", plan_state=_plan_state)
_softmax_bw_op = Op("_softmax_backward_data", cpu=lambda g, y, *, dim, log: _np_bwd(g, y, dim, log),
                    cuda=_bwd_cuda, backward=_bwd_bw, save=(0, 1), samples=lambda: _bw_samples("_softmax_backward_data"),
                    kernels=lambda: _specs(_softmax_bwd_kernel, 2), family="softmax", plan_state=_plan_state)
_log_softmax_bw_op = Op("_log_softmax_backward_data", cpu=lambda g, y, *, dim, log: _np_bwd(g, y, dim, log),
                        cuda=_bwd_cuda, backward=_bwd_bw, save=(0, 1),
                        samples=lambda: _bw_samples("_log_softmax_backward_data"),
                        kernels=lambda: _specs(_softmax_bwd_kernel, 2), family="softmax", plan_state=_plan_state)


def _softmax_bw(g, y, *, dim, log):
    return (_log_softmax_bw_op if log else _softmax_bw_op)(g, y, dim=dim, log=log)


def _prepare(name, input, dim, dtype):
    if dtype is not None and dtype is not input.dtype:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        kind = "lastdim_" if dim in (-1, input.ndim - 1) else ""
        raise RuntimeError(f"\"{name}_{kind}kernel_impl\" not implemented for '{D.scalar_name(input.dtype)}'")
    return input, _wrap_dim(dim, input.ndim)


def softmax(input, dim, dtype=None, *, out=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably in one fused kernel.

    Args:
        input: a floating tensor (or any tensor with ``dtype=``).
        dim: the dim the outputs sum to 1 along.
        dtype: cast ``input`` to this type first.

    Example::

        >>> ttorch.softmax(ttorch.tensor([0.0, 0.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    input, d = _prepare("softmax", input, dim, dtype)
    r = _softmax(input, dim=d, log=False)
    return r if out is None else write_out(out, r, "softmax")


def log_softmax(input, dim, dtype=None, *, out=None):
    """``x - logsumexp(x)`` along ``dim``, in one fused kernel (more accurate than ``log(softmax)``).

    Example::

        >>> ttorch.log_softmax(ttorch.tensor([0.0, 0.0]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    input, d = _prepare("log_softmax", input, dim, dtype)
    r = _log_softmax(input, dim=d, log=True)
    return r if out is None else write_out(out, r, "log_softmax")


def _softmax_backward_data(grad_output, output, dim, input_dtype=None):
    """PyTorch's ``_softmax_backward_data``: the input gradient from the output gradient and output."""
    return _softmax_bw(grad_output, output, dim=_wrap_dim(dim, output.ndim), log=False)


def _log_softmax_backward_data(grad_output, output, dim, input_dtype=None):
    return _softmax_bw(grad_output, output, dim=_wrap_dim(dim, output.ndim), log=True)


_softmax.public, _log_softmax.public = softmax, log_softmax
_softmax_bw_op.public, _log_softmax_bw_op.public = _softmax_backward_data, _log_softmax_backward_data
for _o in (_softmax, _log_softmax, _softmax_bw_op, _log_softmax_bw_op):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)

__all__ = ["softmax", "log_softmax", "_softmax_backward_data", "_log_softmax_backward_data"]
METHODS = {"softmax": softmax, "log_softmax": log_softmax}
