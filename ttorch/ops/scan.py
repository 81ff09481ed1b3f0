"""Inclusive scans along a dim: ``cumsum``, ``cumprod``, ``logcumsumexp``, and ``cummax``/``cummin``
(a scan of (value, index) pairs, ``_row_ext_kernel``).

One Triton kernel: a program takes a block of rows (the ``(outer, N, inner)`` view of a
contiguous input, as softmax uses) and walks along N in blocks, scanning each block with
``tl.cumsum``/``tl.cumprod`` and combining it with the carry of the blocks before it. ``reverse=True``
walks from the end (a suffix scan: the backward of cumsum). Integers and bool scan in int64,
as in PyTorch; half types accumulate in float32.
"""

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from ..autograd import grad_mode
from .._tensor import Tensor, _wrap_dim
from ._launch import launch, next_pow2, SIMULATED
from ._op import Op, write_out
from .elementwise import tl_dtype
from .reduction import _add, _mul, _acc_dtype, _bytes, _row_base, row_programs
from .softmax import _rows3
from .samples import Sample, rng
from . import _op as _amp_op

MAX_BLOCK_N = 1024 if SIMULATED else 256   # tests lower it to run the carry across blocks


@triton.jit
def _logaddexp(a, b):
    # log(e^a + e^b) without overflow; two equal infinities give themselves (not inf - inf)
    m = tl.maximum(a, b)
    d = tl.where(a == b, 0.0, -tl.abs(a - b))
    r = tl.where(m == float("-inf"), m, m + tl.log(1 + tl.exp(d)))
    return tl.where((a != a) | (b != b), a + b, r)      # NaN propagates (tl.maximum drops it)


@triton.jit
def _scan_combine(a, b, OP: tl.constexpr):
    if OP == 0:
        r = _add(a, b)
    elif OP == 1:
        r = _mul(a, b)
    else:
        r = _logaddexp(a, b)
    return r


@triton.jit
def _row_scan_kernel(x_ptr, out_ptr, M, N, INNER, OP: tl.constexpr, ACC: tl.constexpr, REVERSE: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, STRIDED: tl.constexpr = False):
    _, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    # the identity: 0 for add (OP 0), 1 for mul (OP 1), -inf for logaddexp (OP 2)
    carry = tl.full((BLOCK_M,), float("-inf") if OP == 2 else OP, ACC)
    nblocks = tl.cdiv(N, BLOCK_N)
    for b in range(0, nblocks):
        if REVERSE:
            start = (nblocks - 1 - b) * BLOCK_N
        else:
            start = b * BLOCK_N
        cols = start + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        offs = base[:, None] + cols.to(tl.int64)[None, :] * step
        x = tl.load(x_ptr + offs, mask=m, other=float("-inf") if OP == 2 else OP).to(ACC)
        if OP == 0:
            s = tl.cumsum(x, 1, reverse=REVERSE)
        elif OP == 1:
            s = tl.cumprod(x, 1, reverse=REVERSE)
        else:
            s = tl.associative_scan(x, 1, _logaddexp, reverse=REVERSE)
        tl.store(out_ptr + offs, _scan_combine(s, carry[:, None], OP).to(out_ptr.dtype.element_ty), mask=m)
        # the block's total is the scan's last lane (the first when reversed); masked lanes hold
        # the identity
        end = tl.arange(0, BLOCK_N) == (0 if REVERSE else BLOCK_N - 1)
        carry = _scan_combine(carry, tl.sum(tl.where(end[None, :], s, 0), 1), OP)


@triton.jit
def _take_max(v1, i1, v2, i2):
    # the later of two (value, index) pairs when its value is >= (a NaN always: NaN propagates)
    later = (v2 >= v1) | (v2 != v2)
    return tl.where(later, v2, v1), tl.where(later, i2, i1)


@triton.jit
def _take_min(v1, i1, v2, i2):
    later = (v2 <= v1) | (v2 != v2)
    return tl.where(later, v2, v1), tl.where(later, i2, i1)


@triton.jit
def _row_ext_kernel(x_ptr, vals_ptr, idx_ptr, M, N, INNER, MAX: tl.constexpr, BLOCK_M: tl.constexpr,
                    BLOCK_N: tl.constexpr, STRIDED: tl.constexpr = False):
    # cummax (MAX) / cummin along rows, with the index of each running extreme: a (value, index)
    # scan a block at a time, combined with the carry of the blocks before it, as _row_scan_kernel
    _, rmask, base, step = _row_base(M, N, INNER, STRIDED, BLOCK_M)
    cv = tl.zeros((BLOCK_M,), x_ptr.dtype.element_ty)
    ci = tl.zeros((BLOCK_M,), tl.int64)
    for b in range(0, tl.cdiv(N, BLOCK_N)):
        cols = b * BLOCK_N + tl.arange(0, BLOCK_N)
        m = rmask[:, None] & (cols < N)[None, :]
        offs = base[:, None] + cols.to(tl.int64)[None, :] * step
        x = tl.load(x_ptr + offs, mask=m, other=0)
        ix = tl.zeros((BLOCK_M, BLOCK_N), tl.int64) + cols[None, :]
        if MAX:
            sv, si = tl.associative_scan((x, ix), 1, _take_max)
        else:
            sv, si = tl.associative_scan((x, ix), 1, _take_min)
        if b > 0:           # the carry (the blocks before) goes first
            cvb = tl.broadcast_to(cv[:, None], (BLOCK_M, BLOCK_N))
            cib = tl.broadcast_to(ci[:, None], (BLOCK_M, BLOCK_N))
            if MAX:
                sv, si = _take_max(cvb, cib, sv, si)
            else:
                sv, si = _take_min(cvb, cib, sv, si)
        tl.store(vals_ptr + offs, sv, mask=m)
        tl.store(idx_ptr + offs, si, mask=m)
        end = tl.arange(0, BLOCK_N) == BLOCK_N - 1
        cv = tl.sum(tl.where(end[None, :], sv, 0), 1)      # (a full block: its last lane is in the row)
        ci = tl.sum(tl.where(end[None, :], si, 0), 1)


def _heuristic_tile(m, n, max_n=None, fill=1024):
    """(BLOCK_M, BLOCK_N) untuned: column blocks of up to ``max_n`` (``MAX_BLOCK_N``), rows filling
    ``fill`` elements (4096 in the interpreter, which pays per program)."""
    bn = min(next_pow2(n), MAX_BLOCK_N if max_n is None else min(MAX_BLOCK_N, max_n))
    return max(1, min(next_pow2(m), (4096 if SIMULATED else fill) // bn)), bn


def _ext_cuda(x, *, dim, largest):
    vals = Tensor._empty(x._shape, x.dtype, x.device)
    idx = Tensor._empty(x._shape, D.int64, x.device)
    xr, m, n, inner = _rows3(x, dim)
    if m == 0 or n == 0:
        return idx, vals
    bm, bn = _heuristic_tile(m, n)
    bm, programs = row_programs(m, inner, bm)
    launch(_row_ext_kernel, (programs,), xr, vals, idx, m, n, inner, MAX=bool(largest), BLOCK_M=bm, BLOCK_N=bn,
           STRIDED=inner > 1, num_warps=4)
    return idx, vals


def _ext_cpu(a, *, dim, largest):
    acc = (np.maximum if largest else np.minimum).accumulate(a, axis=dim)       # NaN propagates
    with np.errstate(invalid="ignore"):
        hit = (a == acc) | (np.isnan(a) & np.isnan(acc)) if a.dtype.kind == "f" else a == acc
    shape = [1] * a.ndim
    shape[dim] = a.shape[dim]
    pos = np.where(hit, np.arange(a.shape[dim]).reshape(shape), -1)
    return np.maximum.accumulate(pos, axis=dim).astype(np.int64), acc      # the last hit so far


def _ext_bw(ctx, g_indices, g_values):
    # outputs are (indices, values), so that the saved output is the indices (as sort's); the
    # gradient goes to the element each output took (PyTorch's cummaxmin_backward)
    from .creation import zeros_like
    return (zeros_like(ctx.inputs[0]).scatter_add(ctx.dim, ctx.output, g_values),)


def _ext_specs():
    from ._aot import KernelSpec, ptr
    out = []
    for k, dt in enumerate((D.float32, D.float64, D.bfloat16, D.float16, D.int64, D.int32)):
        bm, bn = ((4, 256), (32, 32))[k % 2]
        for largest in (True, False):
            out.append(KernelSpec(_row_ext_kernel, {"x_ptr": ptr(dt), "vals_ptr": ptr(dt), "idx_ptr": ptr(D.int64),
                                                    "M": "i32", "N": "i32", "INNER": "i32"},
                                  {"MAX": largest, "BLOCK_M": bm, "BLOCK_N": bn, "STRIDED": k % 2 == 1},
                                  label=f"{'cummax' if largest else 'cummin'} {dt} {bm}x{bn}"
                                        f"{' strided' if k % 2 else ''}"))
    return out


def _scan_cuda(x, *, dim, dtype, op, reverse=False):
    out = Tensor._empty(x._shape, dtype, x.device)
    xr, m, n, inner = _rows3(_bytes(x), dim)
    if m == 0 or n == 0:
        return out
    cfg = _FORCE[0] or (tune.lookup("scan", _tune_key(dtype, inner, m, n)) if tune.has_winners("scan") and op < 2
                        else None)     # (the tuner times cumsum; logcumsumexp keeps the heuristic)
    if cfg is None:     # heuristic: blocks of up to 256 columns (128 for logcumsumexp: its float64 scan
        # spilled on sm_90 at 256), rows filling 1024 elements (512 for logcumsumexp), 4 warps
        (bm, bn), warps = _heuristic_tile(m, n, None if op < 2 else 128, 1024 if op < 2 else 512), 4
    else:
        bm, bn, warps = cfg.kwargs["BLOCK_M"], cfg.kwargs["BLOCK_N"], cfg.num_warps
    bm, programs = row_programs(m, inner, bm)
    launch(_row_scan_kernel, (programs,), xr, out, m, n, inner, OP=op, ACC=tl_dtype(_acc_dtype(dtype)),
           REVERSE=reverse, BLOCK_M=bm, BLOCK_N=bn, STRIDED=inner > 1, num_warps=warps)
    return out


# ------------------------------------------------------------------------------ tuning
# Tuned per (dtype, scanning the contiguous axis or not, row length and row count buckets): the
# row and column block and the warps (cumsum and cumprod share the kernel and the choice).
_TILES, _WARPS = ((1, 1024), (2, 512), (4, 256), (16, 64), (32, 32)), (4, 8)
_FORCE = [None]     # a Config while the tuner times it


def _tune_key(dtype, inner, m, n):
    return (dtype.name, inner == 1, tune.bucket(n), tune.bucket(m))


def _tune_bench(cfg, dtype, m, n):
    from .random import randn
    x = randn(m, n, device="cuda").to(getattr(D, dtype))

    def run():
        _FORCE[0] = cfg
        try:
            _scan_cuda(x, dim=1, dtype=x.dtype, op=0)
        finally:
            _FORCE[0] = None
    return run


def _tune_specs():
    from ._aot import KernelSpec, ptr
    return [KernelSpec(_row_scan_kernel, {"x_ptr": ptr(D.float32), "out_ptr": ptr(D.float32), "M": "i32", "N": "i32",
                                          "INNER": "i32"},
                       {"OP": 0, "ACC": tl_dtype(D.float32), "REVERSE": False, "BLOCK_M": bm, "BLOCK_N": bn},
                       num_warps=w, label=f"cumsum tuned {bm}x{bn} w{w}") for bm, bn in _TILES for w in _WARPS]


tune.register(tune.Tunable(
    "scan", configs=lambda b: [tune.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=w) for bm, bn in _TILES
                               for w in _WARPS],
    key=lambda dt, m, n: _tune_key(getattr(D, dt), 1, m, n),
    heuristic=lambda b: tune.Config({"BLOCK_M": max(1, min(b[3], 1024 // min(b[2], MAX_BLOCK_N))),
                                     "BLOCK_N": min(b[2], MAX_BLOCK_N)}, num_warps=4),
    problems=lambda quick: [("float32", 20, 300)] if quick or SIMULATED else
    [("float32", m, n) for m, n in ((4096, 4096), (64, 1 << 16), (1 << 16, 64))],
    bench=_tune_bench, specs=_tune_specs, doc="cumsum and cumprod along a dim: row and column blocks, warps"))


def _scan_cpu(a, *, dim, dtype, op, reverse=False):
    x = a.astype(D._compute_dtype(dtype).np)
    if x.ndim == 0:
        return x.astype(dtype.np)
    fn = np.cumsum if op == 0 else np.cumprod if op == 1 else _np_logcumsumexp
    if reverse:
        r = np.flip(fn(np.flip(x, dim), axis=dim), dim)
    else:
        r = fn(x, axis=dim)
    return r.astype(dtype.np)


def _np_logcumsumexp(x, axis):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.logaddexp.accumulate(x, axis=axis)


def _specs(op):
    from ._aot import KernelSpec, ptr
    out = []
    pairs = ((D.float32, D.float32), (D.bfloat16, D.bfloat16), (D.float64, D.float64), (D.int64, D.int64),
             (D.int32, D.int64), (D.uint8, D.int64), (D.float16, D.float16))
    for k, (di, do) in enumerate(pairs if op < 2 else [p for p in pairs if p[1].is_floating_point]):
        for reverse in ((False, True) if op != 1 else (False,)):
            bm, bn = ((4, 256) if op < 2 else (4, 128), (32 if op < 2 else 16, 32))[k % 2]
            out.append(KernelSpec(_row_scan_kernel, {"x_ptr": ptr(di), "out_ptr": ptr(do), "M": "i32", "N": "i32",
                                                     "INNER": "i32"},
                                  {"OP": op, "ACC": tl_dtype(_acc_dtype(do)), "REVERSE": reverse, "BLOCK_M": bm,
                                   "BLOCK_N": bn, "STRIDED": k % 2 == 1},
                                  label=f"{('cumsum', 'cumprod', 'logcumsumexp')[op]} {di}->{do}"
                                        f"{' reverse' if reverse else ''} {bm}x{bn}{' strided' if k % 2 else ''}"))
    return out


def _samples(name, lo, hi):
    r = rng(name)
    out = []
    for shape, dim in [((), 0), ((0,), 0), ((1,), 0), ((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1),
                       ((2, 3, 4), -1), ((2, 0, 3), 2), ((4, 33), -1)]:
        out.append(Sample([r.uniform(lo, hi, size=shape)], {"dim": dim}))
    return out


# ------------------------------------------------------------------------------ cumsum
def _cumsum_bw(ctx, g):
    # d cumsum: the suffix sums of the gradient
    return _cumsum(g, dim=ctx.dim, dtype=g.dtype, op=0, reverse=not ctx.reverse)


_cumsum = Op("cumsum", cpu=_scan_cpu, cuda=_scan_cuda, backward=_cumsum_bw, save=(), family="scan",
             samples=lambda: _samples("cumsum", -2, 2) + [Sample([rng("cs").uniform(-2, 2, size=(3, 4))],
                                                                  {"dim": 1, "dtype": D.float64}, note="dtype=")],
             kernels=lambda: _specs(0), plan_state=lambda: (MAX_BLOCK_N, _FORCE[0]))


def _args(name, input, dim, dtype):
    if dtype is not None and dtype is not input.dtype:
        input = input.to(dtype)
    d = _wrap_dim(dim, input.ndim)
    out_dtype = input.dtype if input.dtype.is_floating_point or input.dtype.is_complex else D.int64
    return input, d, out_dtype


def _out_dtype(dtype, out):
    """cumsum/cumprod with ``out=``: out's dtype, the one they accumulate in; another ``dtype=`` is PyTorch's error."""
    if dtype is not None and dtype is not out.dtype:
        from ._op import _exact_out_error
        raise RuntimeError(_exact_out_error("mm", dtype, out.dtype))   # (the structured kernels' message)
    return out.dtype


def cumsum(input, dim, *, dtype=None, out=None):
    """Inclusive cumulative sum along ``dim``; integers and bool accumulate in int64.

    Example::

        >>> ttorch.cumsum(ttorch.tensor([1, 2, 3]), dim=0)
        tensor([1, 3, 6])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("cumsum", cumsum, input, dim, dtype=dtype, out=out)
    if out is not None and type(out) is Tensor:     # (PyTorch accumulates in out's dtype, which dtype= must be)
        dtype = _out_dtype(dtype, out)
    input, d, out_dtype = _args("cumsum", input, dim, dtype)
    r = _cumsum(input, dim=d, dtype=out_dtype, op=0, reverse=False)
    return r if out is None else write_out(out, r, "cumsum")


# ------------------------------------------------------------------------------ cumprod
def _cumprod_bw(ctx, g):
    # Without zeros: sum_{j >= k} g_j * out_j / x_k, a suffix sum. With zeros (PyTorch's
    # cumprod_backward): before a row's first zero the same formula holds (out_j = 0 from the
    # zero on); at the first zero z the gradient is sum_{j >= z} g_j * prod_{i <= j, i != z} x_i,
    # the suffix sum of g times the cumprod with x_z set to 1; after it the gradient is 0.
    x = ctx.inputs[0]
    d = ctx.dim
    out = ctx.output
    if grad_mode.is_grad_enabled() and not out.requires_grad:   # double backward: out must be in the graph
        out = _cumprod(x, dim=d, dtype=x.dtype, op=1)
    z = (x == 0).to(x.dtype)
    if not bool((z != 0).any()):
        return _suffix_sum(g * out, d) / x
    nz = _cumsum(z, dim=d, dtype=x.dtype, op=0)            # zeros at or before each position
    before = (nz == 0).to(x.dtype)
    first = z * (nz == 1).to(x.dtype)
    x1 = x + z                                            # safe divisor
    head = before * _suffix_sum(g * out, d) / x1
    at_zero = first * _suffix_sum(g * _cumprod(x + first, dim=d, dtype=x.dtype, op=1), d)
    return head + at_zero


def _suffix_sum(t, d):
    return _cumsum(t, dim=d, dtype=t.dtype, op=0, reverse=True)


_cumprod = Op("cumprod", cpu=_scan_cpu, cuda=_scan_cuda, backward=_cumprod_bw, save=(0,), save_output=True,
              family="scan",
              samples=lambda: _samples("cumprod", 0.5, 1.5) + [
                  Sample([np.array([[0.5, 0.0, 1.5, 2.0], [1.2, 0.0, 0.0, 0.7], [0.3, 1.1, 0.9, 0.0]])], {"dim": 1},
                         note="zeros"),
                  Sample([np.array([[0.5, 1.0], [0.0, 2.0], [1.5, 0.0]])], {"dim": 0}, note="zeros dim 0")],
              kernels=lambda: _specs(1), plan_state=lambda: (MAX_BLOCK_N, _FORCE[0]))


def cumprod(input, dim, *, dtype=None, out=None):
    """Inclusive cumulative product along ``dim``; integers and bool multiply in int64.

    Example::

        >>> ttorch.cumprod(ttorch.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([1., 2., 6.])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("cumprod", cumprod, input, dim, dtype=dtype, out=out)
    if out is not None and type(out) is Tensor:     # (PyTorch accumulates in out's dtype, which dtype= must be)
        dtype = _out_dtype(dtype, out)
    input, d, out_dtype = _args("cumprod", input, dim, dtype)
    r = _cumprod(input, dim=d, dtype=out_dtype, op=1)
    return r if out is None else write_out(out, r, "cumprod")


# ------------------------------------------------------------------------------ logcumsumexp
def _logcumsumexp_bw(ctx, g):
    # d out_j / d x_i = exp(x_i - out_j) for j >= i: grad_i = sum_{j >= i} g_j exp(x_i - out_j), summed
    # in log space by sign (PyTorch's formula): exp(x_i + revlogcumsumexp(log|g| - out)) per sign
    from . import FUNCTIONS as F
    x, d = ctx.inputs[0], ctx.dim
    out = ctx.output
    if grad_mode.is_grad_enabled() and not out.requires_grad:
        out = _logcumsumexp(x, dim=d, dtype=x.dtype, op=2)
    log_g = g.abs().log()
    ninf = float("-inf")
    pos = _logcumsumexp(F["where"](g > 0, log_g - out, ninf), dim=d, dtype=x.dtype, op=2, reverse=True)
    neg = _logcumsumexp(F["where"](g < 0, log_g - out, ninf), dim=d, dtype=x.dtype, op=2, reverse=True)
    return (x + pos).exp() - (x + neg).exp()


_logcumsumexp = Op("logcumsumexp", cpu=_scan_cpu, cuda=_scan_cuda, backward=_logcumsumexp_bw, save=(0,),
                   save_output=True, family="scan",
                   samples=lambda: _samples("logcumsumexp", -30, 30) + [
                       Sample([np.array([[-np.inf, 0.0, -np.inf, 1.0], [np.inf, 2.0, -np.inf, np.inf]])], {"dim": 1},
                              grad=False, note="infinities")],
                   kernels=lambda: _specs(2), plan_state=lambda: (MAX_BLOCK_N, _FORCE[0]))


def logcumsumexp(input, dim, *, out=None):
    """``log(cumsum(exp(input)))`` along ``dim``, without overflow (a scan of logaddexp).

    Example::

        >>> ttorch.logcumsumexp(ttorch.tensor([0.0, 0.0]), 0)
        tensor([0.0000, 0.6931])
    """
    if not (input.dtype.is_floating_point or input.dtype.is_complex):      # (complex: ops/complex_scan.py)
        raise RuntimeError(f"\"logcumsumexp_out_cpu\" not implemented for '{D.scalar_name(input.dtype)}'")
    d = _wrap_dim(dim, input.ndim)
    r = _logcumsumexp(input, dim=d, dtype=input.dtype, op=2)
    return r if out is None else write_out(out, r, "logcumsumexp")


# ------------------------------------------------------------------------------ cummax, cummin
def _ext_samples():
    r = rng("cummax")
    out = [Sample([r.uniform(-1, 1, size=shape)], {"dim": dim, "largest": big})
           for shape, dim in (((7,), 0), ((3, 40), 1), ((5, 3), 0), ((2, 3, 4), 1)) for big in (True, False)]
    ties = np.array([[1.0, 1.0, 0.0, 2.0, 2.0, np.nan, 3.0, np.nan, 0.5]])
    out += [Sample([ties], {"dim": 1, "largest": big}, grad=False, note="ties, NaN") for big in (True, False)]
    return out


_cumext = Op("cummax", cpu=_ext_cpu, cuda=_ext_cuda, backward=_ext_bw, save=(0,), save_output=True,
             family="scan", samples=_ext_samples, kernels=_ext_specs,
             plan_state=lambda: (MAX_BLOCK_N,))


def _ext(input, dim, largest, out, name):
    was_bool = input.dtype is D.bool
    if was_bool:
        input = input.to(D.uint8)
    d = _wrap_dim(dim, input.ndim) if input.ndim else 0
    idx, vals = _cumext(input.reshape(1) if input.ndim == 0 else input, dim=d, largest=largest)
    if was_bool:
        vals = vals.to(D.bool)
    if input.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    if out is not None:
        vals, idx = write_out(out[0], vals, name), write_out(out[1], idx, name)
    return _EXT_RT[name](vals, idx)


def cummax(input, dim, *, out=None):
    """The running maximum along ``dim`` and the index of each (the later of equal values; a NaN,
    once met, runs on with its index): ``(values, indices)``."""
    return _ext(input, dim, True, out, "cummax")


def cummin(input, dim, *, out=None):
    """The running minimum along ``dim`` and its indices, as ``cummax``."""
    return _ext(input, dim, False, out, "cummin")


def _inplace(fn, name):
    def method(self, dim, *, dtype=None):
        from .inplace import inplace_from
        return inplace_from(self, fn(self, dim, dtype=dtype), name)
    method.__name__ = name
    return method


from .. import return_types as _rt  # noqa: E402
_EXT_RT = {"cummax": _rt.cummax, "cummin": _rt.cummin}
_cumext.public = lambda x, dim, largest: tuple((cummax if largest else cummin)(x, dim))[::-1]   # (ops' order)
_cumext.dtypes = (D.float32, D.float64, D.int64)
_cumsum.public, _cumprod.public, _logcumsumexp.public = cumsum, cumprod, logcumsumexp
_cumsum.dtypes = _cumprod.dtypes = (D.float32, D.float16, D.bfloat16, D.float64, D.int64)
_logcumsumexp.dtypes = (D.float32, D.float64, D.bfloat16)

__all__ = ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"]
METHODS = {"cumsum": cumsum, "cumprod": cumprod, "logcumsumexp": logcumsumexp, "cummax": cummax, "cummin": cummin,
           "cumsum_": _inplace(cumsum, "cumsum_"), "cumprod_": _inplace(cumprod, "cumprod_")}
