"""Reductions over any dims with ``keepdim`` and ``dtype``: sum, mean, prod, amax/amin, all/any,
and the row machinery they share with ``minmax.py`` (max/min with indices, argmax/argmin)
and ``stats.py`` (var/std, logsumexp, norms).

The cuda path sees the input as M rows of N reduced elements: element ``k`` of row ``r`` sits
at ``(r // INNER) * N * INNER + r % INNER + k * INNER``. A contiguous input reduced over
adjacent dims needs no copy (softmax over dim 1 of (B, C, L) has INNER = L); other inputs are
permuted so the reduced dims come last, contiguous (INNER = 1). One program reduces a block
of rows, looping over N in blocks, so many short rows stay cheap on the interpreter.

One kernel template, ``_row_reduce_kernel``, serves every reduction that folds one value per
element: ``PRE`` maps an element (x*x for the 2-norm), ``OP`` folds (add, mul, NaN-
propagating max/min), ``POST`` finishes (divide by N for mean, sqrt). Rows too long for
the number of rows to fill the GPU are split over programs, whose partials the same kernel
folds. Value-with-index reductions and the two-pass ones have a kernel each in their files.
"""
import builtins

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from ..autograd import grad_mode
from .._tensor import Tensor, _wrap_dim, _numel
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from . import _op as _amp_op
from .elementwise import tl_dtype
from .samples import Sample, rng

MAX_BLOCK_N = 4096 if SIMULATED else 1024   # tests lower it to run the multi-block loops
SPLIT_CHUNK = 1 << 30 if SIMULATED else 8192  # columns per program when long rows are split (tests lower it)
# The same over a strided axis (INNER > 1: a bias gradient's sum over the rows of (8192, 768)): its
# blocks are at most 64 deep, so without a split 24 programs walked all 8192 rows (the GPT-2-like
# step's 76 row reductions, mostly these, took 6.6 ms on an H100); in 512-row chunks they are 384.
# Tests lower it.
SPLIT_CHUNK_STRIDED = 1 << 30 if SIMULATED else 512


# ------------------------------------------------------------------------------ shapes
def _dims(input, dim):
    """Reduced dims as a sorted tuple; ``None`` or ``()`` mean all dims (``()`` for a 0-dim input)."""
    if input.ndim == 0:
        for d in ((dim,) if isinstance(dim, int) else (dim or ())):
            _wrap_dim(d, 0)
        return ()
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(input.ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = sorted({_wrap_dim(d, input.ndim) for d in dim})
    if len(out) != len(dim):
        raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
    return tuple(out)


def _out_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def to_rows(x, dims):
    """``x`` as a contiguous (M, N) tensor whose rows hold the elements reduced together."""
    x = x.detach()
    keep = [i for i in range(x.ndim) if i not in dims]
    order = keep + list(dims)
    if order != list(range(x.ndim)):
        x = x.permute(order)
    x = x.contiguous()
    n = _numel([x._shape[i] for i in range(len(keep), x.ndim)])
    m = _numel(x._shape[:len(keep)])
    return x.reshape(m, n)


def _rows(x, dims):
    """``(tensor, M, N, INNER)`` for the row kernels (see the module docstring); no copy when
    ``x`` is contiguous and the reduced dims are adjacent."""
    x = x.detach()
    shape = x._shape
    n = _numel([shape[d] for d in dims])
    m = _numel(shape) // n if n else _numel([s for i, s in enumerate(shape) if i not in dims])
    if not dims:
        return x.contiguous(), m, 1, 1
    if dims == tuple(range(dims[0], dims[-1] + 1)) and x.is_contiguous():
        return x, m, n, _numel(shape[dims[-1] + 1:])
    return to_rows(x, dims), m, n, 1


def _blocks(m, n, inner=1):
    bn = builtins.min(next_pow2(n), MAX_BLOCK_N)
    if inner > 1 and not SIMULATED:
        bn = builtins.min(bn, 64)      # rows are the contiguous axis: make the row block the wide one
    bm = builtins.max(1, builtins.min(next_pow2(m), (4096 if SIMULATED else 2048) // bn))
    return bm, bn


def _acc_dtype(d):
    if d is D.float64:
        return D.float64
    if d.is_floating_point:
        return D.float32
    return D.int64


def _bytes(t):
    """A bool tensor seen as uint8 over the same memory: kernels read and write bools as bytes."""
    if t.dtype is not D.bool:
        return t
    return Tensor._make(t.untyped_storage(), t._shape, t.stride(), t._offset, D.uint8)


# ------------------------------------------------------------------------------ the kernel template
@triton.jit
def _pre_id(x, p):
    return x


@triton.jit
def _pre_square(x, p):
    return x * x


@triton.jit
def _pre_abs(x, p):
    return tl.abs(x)


@triton.jit
def _pre_abs_pow(x, p):
    return tl.exp(p * tl.log(tl.abs(x)))


@triton.jit
def _pre_nonzero(x, p):
    return (x != 0).to(x.dtype)


@triton.jit
def _add(a, b):
    return a + b


@triton.jit
def _mul(a, b):
    return a * b


@triton.jit
def _max(a, b):
    return tl.where((a > b) | (a != a), a, b)    # NaN wins, as in PyTorch


@triton.jit
def _min(a, b):
    return tl.where((a < b) | (a != a), a, b)


@triton.jit
def _post_id(r, p, n):
    return r


@triton.jit
def _post_mean(r, p, n):
    return r / n


@triton.jit
def _post_sqrt(r, p, n):
    if r.dtype == tl.float32:
        return tl.sqrt_rn(r)     # correctly rounded like NumPy's (tl.sqrt is approximate in fp32)
    else:
        return tl.sqrt(r)


@triton.jit
def _post_root(r, p, n):
    return tl.exp(tl.log(r) / p)


@triton.jit
def _combine(a, b, OP: tl.constexpr):
    if OP == 0:
        r = _add(a, b)
    elif OP == 1:
        r = _mul(a, b)
    elif OP == 2:
        r = _max(a, b)
    else:
        r = _min(a, b)
    return r


@triton.jit
def _fold(acc, OP: tl.constexpr, BLOCK_N: tl.constexpr):
    # across the lanes of each row, from tl.sum/max/min/cumprod: the interpreter runs those as
    # NumPy calls (a custom tl.reduce runs there element by element). tl.max ignores NaN, so a
    # row holding one gets it back from the sum of its NaN lanes.
    if OP == 0:
        r = tl.sum(acc, 1)
    elif OP == 1:
        last = tl.arange(0, BLOCK_N) == BLOCK_N - 1
        r = tl.sum(tl.where(last[None, :], tl.cumprod(acc, 1), 0), 1)
    else:
        if OP == 2:
            top = tl.max(acc, 1)
        else:
            top = tl.min(acc, 1)
        nan = acc != acc
        r = tl.where(tl.max(nan.to(tl.int32), 1) > 0, tl.sum(tl.where(nan, acc, 0), 1), top)
    return r


@triton.jit
def _row_base(M, N, INNER, STRIDED: tl.constexpr, BLOCK_M: tl.constexpr):
    """``(row index, mask, offset of the first element, column stride)`` of this program's BLOCK_M
    rows (axis 0 of the grid; see ``row_programs``). ``STRIDED`` (INNER > 1): the rows are BLOCK_M
    consecutive ``r % INNER`` of one ``r // INNER``, adjacent in memory and visibly so to Triton (an
    arange), whose coalescing pass then lays a warp's lanes along them. Behind ``r // INNER`` and
    ``r % INNER`` it saw no contiguous axis and broke the tie by release: along the rows on 3.6,
    along the strided columns on 3.9 (a sector fetched for each element)."""
    pid = tl.program_id(0)
    if STRIDED:
        per = tl.cdiv(INNER, BLOCK_M)                               # programs per outer index
        inner = (pid % per) * BLOCK_M + tl.arange(0, BLOCK_M)
        outer = (pid // per).to(tl.int64)
        return outer * INNER + inner, inner < INNER, outer * N * INNER + inner, INNER
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    return rows.to(tl.int64), rows < M, rows.to(tl.int64) * N, 1


def row_programs(m, inner, bm):
    """``(BLOCK_M, programs)`` along axis 0 for ``m`` rows of ``_row_base``: a strided program's rows
    share one outer index, so it takes at most INNER of them."""
    if inner == 1:
        return bm, cdiv(m, bm)
    bm = builtins.min(bm, next_pow2(inner))
    return bm, m // inner * cdiv(inner, bm)


@triton.jit
def _row_reduce_kernel(x_ptr, out_ptr, M, N, INNER, CHUNK, NPOST, p, PRE: tl.constexpr, OP: tl.constexpr,
                       POST: tl.constexpr, IDENT: tl.constexpr, ACC: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, STAGES: tl.constexpr = None, STRIDED: tl.constexpr = False):
    # program (i, j) folds columns [j * CHUNK, (j + 1) * CHUNK) of its block of rows into
    # out[row, j]; with one chunk per row (CHUNK = N) that is the whole reduction. STAGES: the
    # loop's pipeline depth (None: Triton's plain loop; see _SPLIT_LOOPS)
    r64, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    lo = tl.program_id(1) * CHUNK
    hi = tl.minimum(lo + CHUNK, N)
    acc = tl.full((BLOCK_M, BLOCK_N), IDENT, ACC)
    for start in tl.range(lo, hi, BLOCK_N, num_stages=STAGES):
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < hi)[None, :]
        x = tl.load(x_ptr + base[:, None] + cols.to(tl.int64)[None, :] * step, mask=m, other=0).to(ACC)
        acc = _combine(acc, tl.where(m, PRE(x, p), IDENT), OP)
    r = POST(_fold(acc, OP, BLOCK_N), p, NPOST)
    tl.store(out_ptr + r64 * tl.num_programs(1) + tl.program_id(1), r.to(out_ptr.dtype.element_ty), mask=rmask)


def _ident(kind, acc):
    if kind in ("max", "min"):
        if acc.is_floating_point:
            return float("-inf") if kind == "max" else float("inf")
        ii = np.iinfo(acc.np)
        return int(ii.min) if kind == "max" else int(ii.max)
    return 1 if kind == "mul" else 0


_OP = {"add": 0, "mul": 1, "max": 2, "min": 3}


def _reduce_cuda(x, dims, keepdim, out_dtype, *, pre=_pre_id, combine="add", post=_post_id, p=0.0, empty=0,
                 acc=None, total=None):
    """Run ``_row_reduce_kernel`` over ``dims`` of cuda tensor ``x`` into a new ``out_dtype`` tensor.
    ``total``: the element count POST sees when this is the last stage of a larger reduction."""
    if acc is None:
        if combine in ("max", "min") and not x.dtype.is_floating_point and x.dtype is not D.bool:
            acc = x.dtype   # an integer max or min stays in range: int32's in int64 spilled on sm_80
        else:
            acc = _acc_dtype(out_dtype if out_dtype.is_floating_point else x.dtype)
    runs = _runs(dims)
    if len(runs) > 1 and x.is_contiguous() and x.numel():
        return _staged(x, dims, runs[-1], keepdim, out_dtype, pre, combine, post, p, empty, acc, total)
    out = Tensor._empty(_out_shape(x._shape, dims, keepdim), out_dtype, x.device)
    xr, m, n, inner = _rows(_bytes(x), dims)
    if m == 0:
        return out
    if n == 0:
        from .creation import fill_
        return fill_(out, empty)
    bm, bn = _blocks(m, n, inner)
    meta = dict(OP=_OP[combine], IDENT=_ident(combine, acc), ACC=tl_dtype(acc), BLOCK_M=bm, BLOCK_N=bn)
    total = total or n                         # the N that POST sees (mean divides by it)
    # a strided axis's chunks are whole blocks of the heuristic's width (its split is never tuned)
    chunk = SPLIT_CHUNK if inner == 1 else builtins.max(SPLIT_CHUNK_STRIDED, bn)
    if cdiv(m, bm) < 128 and n >= 2 * chunk:
        # few long rows (a full reduction, a sum over the leading dim): split each row over
        # programs, then fold the partials
        part = _split_rows(xr, m, n, inner, total, p, pre, meta, acc, chunk)
        xr, n, inner, pre = part, part._shape[1], 1, _pre_id
        meta["BLOCK_M"], meta["BLOCK_N"] = _blocks(m, n)
    meta["BLOCK_M"], programs = row_programs(m, inner, meta["BLOCK_M"])
    launch(_row_reduce_kernel, (programs, 1), xr, _bytes(out), m, n, inner, n, total, float(p), PRE=pre, POST=post,
           STRIDED=inner > 1, **meta)
    return out


def _runs(dims):
    """``dims`` (sorted) as runs of adjacent dims: (0, 2, 3) -> [(0,), (2, 3)]."""
    runs = []
    for d in sorted(dims):
        if runs and d == runs[-1][-1] + 1:
            runs[-1] = runs[-1] + (d,)
        else:
            runs.append((d,))
    return runs


def _staged(x, dims, last, keepdim, out_dtype, pre, combine, post, p, empty, acc, total):
    """Reduced dims that are not adjacent (a BatchNorm's (0, 2, 3) of NCHW), in stages: the last
    run in place into partials (every combine is associative), then the rest of them, POST once
    with the whole count. Making the reduced dims adjacent would first copy the whole input."""
    part = _reduce_cuda(x, last, True, acc, pre=pre, combine=combine, p=p, acc=acc)
    shape = list(x._shape)
    n = _numel([shape[d] for d in dims])
    rest = tuple(d for d in dims if d not in last)      # all before ``last``: their indices hold
    kept = [s for i, s in enumerate(shape) if i not in last]
    out = _reduce_cuda(part.reshape(kept), rest, False, out_dtype, combine=combine, post=post, p=p, empty=empty,
                       acc=acc, total=total or n)
    return out.reshape(_out_shape(x._shape, dims, True)) if keepdim else out


def _split_rows(xr, m, n, inner, total, p, pre, meta, acc, target):
    """The first stage of a split reduction: each of ``m`` long rows folded into partials of about
    ``target`` elements by up to ``MAX_SPLIT`` programs of ``BLOCK_N``-wide blocks (the tuned choice,
    else the heuristic; a strided axis, INNER > 1, always the heuristic: the tuner timed rows)."""
    cfg = _FORCE[0] or (tune.lookup("reduction", _split_key(acc, n)) if inner == 1 and tune.has_winners("reduction")
                        else None)
    if cfg is None:          # heuristic: the one-pass block width, 4 warps, <= 1024 programs, the plain loop
        bn, warps, most, stages = meta["BLOCK_N"], 4, 1024, None
    else:
        bn, warps, most = cfg.kwargs["BLOCK_N"], cfg.num_warps, cfg.kwargs["MAX_SPLIT"]
        stages = cfg.kwargs.get("STAGES")
    bm, programs = row_programs(m, inner, builtins.max(1, builtins.min(next_pow2(m), 2048 // bn)))
    chunk = cdiv(cdiv(n, builtins.min(cdiv(n, target), most)), bn) * bn
    nsplit = cdiv(n, chunk)
    part = Tensor._empty((m, nsplit), acc, xr.device)
    launch(_row_reduce_kernel, (programs, nsplit), xr, part, m, n, inner, chunk, total, float(p), PRE=pre,
           POST=_post_id, OP=meta["OP"], IDENT=meta["IDENT"], ACC=meta["ACC"], BLOCK_M=bm, BLOCK_N=bn,
           STAGES=stages, STRIDED=inner > 1, num_warps=warps)
    return part


# ------------------------------------------------------------------------------ tuning
# Tuned: the split stage of long rows (``x.sum()`` of a large tensor and other full reductions),
# which streams most of the bytes. The space: the column block, the warps, the most programs a row
# is split over and the loop over a chunk's blocks, plain (None) or software-pipelined (2 or 3
# stages: Triton pipelines loads that feed no ``tl.dot`` only in a ``tl.range(..., num_stages=)``
# loop); the key: the accumulator dtype and the row length's bucket. Heuristic (untuned): the
# one-pass block width (at most 1024), 4 warps, at most 1024 programs per row, the plain loop (the
# H100 summed 2^26 float32 at 76% of HBM bandwidth with it, PyTorch too).
_SPLIT_BLOCKS, _SPLIT_WARPS, _SPLIT_MOST, _SPLIT_LOOPS = (1024, 2048, 4096), (4, 8), (1024, 4096), (None, 2, 3)
_FORCE = [None]     # a Config while the tuner times it


def _split_key(acc, n):
    return (acc.name, tune.bucket(n, 1 << 14))


def _split_bench(cfg, dtype, n):
    from .random import randn
    acc = _acc_dtype(getattr(D, dtype))
    x = randn(n, device="cuda").to(getattr(D, dtype))
    meta = dict(OP=0, IDENT=0, ACC=tl_dtype(acc), BLOCK_N=1024)

    def run():
        _FORCE[0] = cfg
        try:
            _split_rows(x, 1, n, 1, n, 0.0, _pre_id, meta, acc, SPLIT_CHUNK)
        finally:
            _FORCE[0] = None
    return run


def _split_specs():
    """The split stage's tiles as Triton's launcher sees a large sum: contiguous rows (INNER 1, which
    Triton makes a constexpr), aligned pointers, N and CHUNK multiples of 16; every tuned tile and loop."""
    from ._aot import KernelSpec, ptr
    out = []
    for dt, acc in ((D.float32, D.float32), (D.bfloat16, D.float32)):
        sig = {"x_ptr": ptr(dt), "out_ptr": ptr(acc), "M": "i32", "N": "i32", "CHUNK": "i32", "NPOST": "i32",
               "p": "fp32"}
        ce = {"PRE": _pre_id, "OP": 0, "POST": _post_id, "IDENT": 0, "ACC": tl_dtype(acc), "BLOCK_M": 1, "INNER": 1}
        div = ("x_ptr", "out_ptr", "N", "CHUNK")
        for bn in _SPLIT_BLOCKS:
            for w in _SPLIT_WARPS:
                for st in _SPLIT_LOOPS:
                    out.append(KernelSpec(_row_reduce_kernel, sig, dict(ce, BLOCK_N=bn, STAGES=st), num_warps=w,
                                          label=f"split sum {dt} {bn} w{w}" + (f" {st} stages" if st else ""),
                                          divisible=div))
    return out


tune.register(tune.Tunable(
    "reduction", configs=lambda b: [tune.Config({"BLOCK_N": bn, "MAX_SPLIT": most, "STAGES": st}, num_warps=w)
                                    for bn in _SPLIT_BLOCKS for w in _SPLIT_WARPS for most in _SPLIT_MOST
                                    for st in _SPLIT_LOOPS],
    key=lambda dt, n: _split_key(_acc_dtype(getattr(D, dt)), n),
    heuristic=lambda b: tune.Config({"BLOCK_N": 1024, "MAX_SPLIT": 1024}, num_warps=4),
    problems=lambda quick: [("float32", 5000)] if quick or SIMULATED else
    [(dt, n) for dt in ("float32", "bfloat16") for n in (1 << 20, 1 << 24, 1 << 26)],
    bench=_split_bench, specs=_split_specs,
    doc="the split stage of full reductions (sum, mean, norms of large tensors): block, warps, programs per row, "
        "loop stages"))


def _reduce_specs(*variants):
    """AOT configurations: ``variants`` are (label, pre, combine, post, [(in, out, acc)...])."""
    from ._aot import KernelSpec, ptr
    specs = []
    for label, pre, combine, post, dts in variants:
        for k, (di, do, acc) in enumerate(dts):
            bm, bn = ((2, 1024), (16, 64), (8, 256))[k % 3]
            # the one-pass form, and the two stages of a split row: elements -> partials -> result
            for stage, (a, b, f, g) in enumerate(((di, do, pre, post), (di, acc, pre, _post_id), (acc, do, _pre_id,
                                                                                                    post))):
                if stage and k % 2:
                    continue
                # a strided axis (INNER > 1: a bias gradient's sum over rows) at its heuristic tile too
                for strided in (False, True) if stage < 2 and k == 0 else (False,):
                    sm, sn = _blocks(1 << 20, 1 << 20, 2) if strided else (bm, bn)
                    specs.append(KernelSpec(
                        _row_reduce_kernel,
                        {"x_ptr": ptr(a), "out_ptr": ptr(b), "M": "i32", "N": "i32", "INNER": "i32", "CHUNK": "i32",
                         "NPOST": "i32", "p": "fp32"},
                        {"PRE": f, "OP": _OP[combine], "POST": g, "IDENT": _ident(combine, acc), "ACC": tl_dtype(acc),
                         "BLOCK_M": sm, "BLOCK_N": sn, "STRIDED": strided},
                        label=f"{label} {a}->{b} {sm}x{sn}{('', ' split', ' partials')[stage]}"
                              + (" strided" if strided else "")))
    return specs


_FLOATS = [(D.float32, D.float32, D.float32), (D.bfloat16, D.bfloat16, D.float32), (D.float64, D.float64, D.float64),
           (D.float16, D.float16, D.float32)]
_ARITH = _FLOATS + [(D.int64, D.int64, D.int64), (D.int32, D.int64, D.int64), (D.uint8, D.int64, D.int64)]


# ------------------------------------------------------------------------------ shared helpers
def _keep(g, ctx):
    """A reduction's output (or its gradient) reshaped to keepdim form, broadcastable to the input."""
    if ctx.keepdim or len(ctx.dims) == len(ctx.in_shape) or (not g._shape and not ctx.in_shape):
        return g        # already broadcastable: keepdim, or every dim reduced (a 0-dim result)
    return g.reshape(tuple(1 if i in ctx.dims else s for i, s in enumerate(ctx.in_shape)))


def _expand_back(g, ctx):
    """Gradient of a reduction output broadcast back to the input's shape."""
    if not g._shape and not grad_mode._state["enabled"]:
        # a full reduction's gradient outside create_graph: the stride-0 view directly (the
        # usual loss.sum()/mean(); going through the expand op costs several µs per step)
        return g._view(tuple(ctx.in_shape), (0,) * len(ctx.in_shape), g._offset)
    return _keep(g, ctx).expand(ctx.in_shape)


def _count(ctx):
    return _numel([ctx.in_shape[d] for d in ctx.dims])


def _output(ctx, recompute):
    """The op's output for a backward rule. For double backward it must be part of the graph;
    the saved output is detached, so it is recomputed from the (attached) input then."""
    o = ctx.output
    if grad_mode.is_grad_enabled() and not o.requires_grad:
        return recompute(ctx.inputs[0])
    return o


def _np_in(a, dtype):
    cd = D._compute_dtype(dtype).np
    return a if a.dtype is cd or a.dtype == cd else a.astype(cd)


def _samples(name, shapes_kw, lo=-2.0, hi=2.0, grad=True):
    r = rng(name)
    out = []
    for shape, kw in shapes_kw:
        a = r.uniform(lo, hi, size=shape)
        if lo < 0:
            a = np.where(np.abs(a) < 0.05, a + 0.1, a)    # away from kinks (|x|, sign)
        out.append(Sample([a], kw, grad=grad))
    return out


# the shapes every reduction runs: 0-dim, empty, size 1, odd sizes, several dims, keepdim
_SHAPES = [((), {}), ((0,), {}), ((1,), {}), ((7,), {}), ((3, 5), {"dim": 1}), ((3, 5), {"dim": 0, "keepdim": True}),
           ((2, 3, 4), {"dim": (0, 2)}), ((2, 3, 4), {"dim": 1}), ((2, 0, 3), {"dim": 1}), ((4, 33), {"dim": -1}),
           ((2, 3, 4), {"dim": (1, 2), "keepdim": True})]


def _simple_op(name, cpu, combine, backward, *, pre=_pre_id, post=_post_id, empty=0, save=(), save_output=False,
               samples=None, specs=()):
    def cuda(x, *, dims, keepdim, dtype, in_shape, p=0.0):
        return _reduce_cuda(x, dims, keepdim, dtype, pre=pre, combine=combine, post=post, p=p, empty=empty)
    return Op(name, cpu=cpu, cuda=cuda, backward=backward, save=save, save_output=save_output,
              samples=samples or (lambda: _samples(name, _SHAPES)),
              kernels=lambda: _reduce_specs(*[(name, pre, combine, post, specs)]), family="reduction",
              plan_state=_plan_state)


def _plan_state():
    """What ``_reduce_cuda``'s launches depend on besides the arguments and the tuning winners (see
    ``_plan.py``): the block and split thresholds (tests lower them) and the tuner's forced config."""
    return MAX_BLOCK_N, SPLIT_CHUNK, SPLIT_CHUNK_STRIDED, _FORCE[0]


# ------------------------------------------------------------------------------ sum, mean, prod
def _sum_cpu(a, *, dims, keepdim, dtype, in_shape):
    r = np.add.reduce(_np_in(a, dtype), axis=dims, keepdims=keepdim)   # the ufunc: np.sum's wrapper costs ~1 µs
    return r.astype(dtype.np, copy=False) if type(r) is np.ndarray else np.asarray(r, dtype.np)


_sum = _simple_op("sum", _sum_cpu, "add", lambda ctx, g: _expand_back(g, ctx), specs=_ARITH + [(D.bool, D.int64,
                                                                                                     D.int64)])


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` (all dims when None); integers and bool sum in int64, as in PyTorch.

    Example::

        >>> ttorch.tensor([[1, 2], [3, 4]]).sum(0)
        tensor([4, 6])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("sum", sum, input, dim, keepdim, dtype=dtype, out=out)
    dims = _dims(input, dim)
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point or input.dtype.is_complex else D.int64
    elif dtype.is_complex and not input.dtype.is_complex:
        input = input.to(dtype)
    r = _sum(input, dims=dims, keepdim=keepdim, dtype=dtype, in_shape=input._shape)
    return r if out is None else write_out(out, r, "sum")


def _mean_cpu(a, *, dims, keepdim, dtype, in_shape):
    n = _numel([in_shape[d] for d in dims])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(_np_in(a, dtype), axis=dims, keepdims=keepdim) / np.asarray(n, D._compute_dtype(dtype).np)
    return np.asarray(r).astype(dtype.np, copy=False)


_mean = _simple_op("mean", _mean_cpu, "add", lambda ctx, g: _expand_back(g, ctx) / _count(ctx), post=_post_mean,
                   empty=float("nan"), specs=_FLOATS)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean over ``dim`` (all dims when None). Integer inputs need ``dtype=``, as in PyTorch."""
    if dtype is None and not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {D.scalar_name(input.dtype)}")
    if dtype is not None and not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError("mean(): could not infer output dtype. Optional dtype must be either a floating point or "
                           f"complex dtype. Got: {D.scalar_name(dtype)}")
    if dtype is not None and dtype is not input.dtype:
        input = input.to(dtype)
    dims = _dims(input, dim)
    r = _mean(input, dims=dims, keepdim=keepdim, dtype=input.dtype, in_shape=input._shape)
    return r if out is None else write_out(out, r, "mean")


def _prod_cpu(a, *, dims, keepdim, dtype, in_shape):
    return np.asarray(np.prod(_np_in(a, dtype), axis=dims, keepdims=keepdim)).astype(dtype.np, copy=False)


def _prod_bw(ctx, g):
    # d prod / d x_i = product of the others. Without zeros that is prod / x_i; with one zero
    # only the zero's entry is non-zero (the product of the rest); with two or more all are 0.
    x = ctx.inputs[0]
    z = (x == 0).to(x.dtype)
    nz = z.sum(ctx.dims, keepdim=True)
    x1 = x + z                                            # zeros replaced by ones
    rest = _prod(x1, dims=ctx.dims, keepdim=True, dtype=x.dtype, in_shape=x._shape)
    scale = (nz == 0).to(x.dtype) / x1 + (nz == 1).to(x.dtype) * z
    return _keep(g, ctx) * rest * scale


_prod = _simple_op("prod", _prod_cpu, "mul", _prod_bw, empty=1, save=(0,), specs=_ARITH,
                   samples=lambda: _samples("prod", _SHAPES[:6] + [((2, 3, 4), {"dim": 1}), ((2, 0, 3), {"dim": 1}),
                                                                    ((4, 13), {"dim": -1, "keepdim": True})],
                                            lo=0.5, hi=1.5) + [
                       Sample([np.array([[0.5, 0.0, 1.5, 2.0], [1.2, 0.0, 0.0, 0.7], [0.3, 1.1, 0.9, 1.3]])],
                              {"dim": 1}, note="zeros"),
                       Sample([np.array([1.5, 0.0, 0.7, 1.3])], {}, note="one zero")])


def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product over ``dim`` (an int) or of all elements; integers and bool multiply in int64."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("prod", prod, input, dim, keepdim, dtype=dtype, out=out)
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not " + type(dim).__name__)
    dims = _dims(input, dim)
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point or input.dtype.is_complex else D.int64
    r = _prod(input, dims=dims, keepdim=keepdim if dim is not None else False, dtype=dtype, in_shape=input._shape)
    return r if out is None else write_out(out, r, "prod")


# ------------------------------------------------------------------------------ amax, amin, all, any
def _minmax_cpu(fn):
    def cpu(a, *, dims, keepdim, dtype, in_shape):
        return np.asarray(fn(_np_in(a, dtype), axis=dims, keepdims=keepdim)).astype(dtype.np, copy=False)
    return cpu


def _amax_bw(ctx, g):
    # the gradient is shared evenly among the elements equal to the result (PyTorch's amax)
    x = ctx.inputs[0]
    mask = (x == _keep(ctx.output, ctx)).to(g.dtype)
    return _keep(g, ctx) * mask / mask.sum(ctx.dims, keepdim=True)


_NONEMPTY = [s for s in _SHAPES if 0 not in s[0]] + [((0, 3), {"dim": 1})]
_ORDERED = _FLOATS + [(D.int64, D.int64, D.int64), (D.int32, D.int32, D.int32), (D.uint8, D.uint8, D.uint8)]
_amax = _simple_op("amax", _minmax_cpu(np.max), "max", _amax_bw, save=(0,), save_output=True, specs=_ORDERED,
                   samples=lambda: _samples("amax", _NONEMPTY))
_amin = _simple_op("amin", _minmax_cpu(np.min), "min", _amax_bw, save=(0,), save_output=True, specs=_ORDERED,
                   samples=lambda: _samples("amin", _NONEMPTY))


def _check_nonempty(input, dims, name, dim_given):
    if input.numel() != 0:
        return
    if not dim_given:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    for d in dims:
        if input._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _amaxmin(op, name):
    def fn(input, dim=(), keepdim=False, *, out=None):
        dims = _dims(input, dim)
        _check_nonempty(input, dims, name, dim not in (None, ()) and dim != [])
        r = op(input, dims=dims, keepdim=keepdim, dtype=input.dtype, in_shape=input._shape)
        return r if out is None else write_out(out, r, name)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``{name}(input, dim=(), keepdim=False)``: the {name[1:]}imum over ``dim`` (all dims by default); "
                  "NaN propagates; the gradient is shared evenly among ties.")
    return fn


amax = _amaxmin(_amax, "amax")
amin = _amaxmin(_amin, "amin")


def _bool_cpu(fn):
    def cpu(a, *, dims, keepdim, dtype):
        return np.asarray(fn(a, axis=dims, keepdims=keepdim)).astype(dtype.np)
    return cpu


_BOOLS = [(D.bool, D.bool, D.int64), (D.float32, D.bool, D.float32), (D.uint8, D.uint8, D.int64),
          (D.int64, D.bool, D.int64), (D.bfloat16, D.bool, D.float32)]


def _bool_samples(name):
    def samples():
        r = rng(name)
        out = []
        for shape, kw in _SHAPES:
            out.append(Sample([r.integers(0, 2, size=shape).astype(np.float64)], kw, grad=False))
        out.append(Sample([np.ones((3, 4))], {"dim": 1}, grad=False, note="all ones"))
        out.append(Sample([np.zeros((3, 4))], {"dim": 0}, grad=False, note="all zeros"))
        return out
    return samples


def _bool_op(name, fn, combine):
    # PRE turns each element into 0/1 in the input's accumulation type (so 2**40 and NaN are
    # non-zero), then all = min, any = max
    op = Op(name, cpu=_bool_cpu(fn), family="reduction", samples=_bool_samples(name),
            cuda=lambda x, *, dims, keepdim, dtype: _reduce_cuda(
                x, dims, keepdim, dtype, pre=_pre_nonzero, combine=combine, empty=1 if combine == "min" else 0,
                acc=_acc_dtype(x.dtype)),
            kernels=lambda: _reduce_specs(*[(name, _pre_nonzero, combine, _post_id, _BOOLS)]))

    def public(input, dim=None, keepdim=False, *, out=None):
        dims = _dims(input, dim)
        r = op(input, dims=dims, keepdim=keepdim, dtype=D.uint8 if input.dtype is D.uint8 else D.bool)
        return r if out is None else write_out(out, r, name)
    public.__name__ = public.__qualname__ = name
    public.__doc__ = (f"``{name}(input, dim=None, keepdim=False)``: whether {name} elements are non-zero; bool "
                      "(uint8 for uint8 input, as in PyTorch).")
    op.public = public
    op.dtypes = (D.bool, D.float32, D.int64, D.uint8)
    return public


all = _bool_op("all", np.all, "min")
any = _bool_op("any", np.any, "max")


def count_nonzero(input, dim=None):
    """The number of non-zero elements over ``dim`` (int64)."""
    return sum(input != 0, dim)

_mean.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)
for _o in (_sum, _prod, _amax, _amin):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64, D.int64)
_sum.public, _mean.public, _prod.public, _amax.public, _amin.public = sum, mean, prod, amax, amin

__all__ = ["sum", "mean", "prod", "amax", "amin", "all", "any", "count_nonzero"]
METHODS = {n: globals()[n] for n in __all__}

# the value-with-index reductions and the statistics live in their own files and register
# through this module (the op package imports ``reduction``)
from . import minmax as _minmax, stats as _stats  # noqa: E402
from .minmax import max, min, argmax, argmin  # noqa: E402,F401
from .stats import var, std, var_mean, std_mean, logsumexp, norm  # noqa: E402,F401

__all__ += _minmax.__all__ + _stats.__all__
METHODS.update(_minmax.METHODS)
METHODS.update(_stats.METHODS)
