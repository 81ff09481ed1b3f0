"""Indexed reads and writes along a dim: ``gather``, ``scatter`` (and its reductions),
``index_select``, ``index_add``, ``index_copy``, ``index_fill``, ``take_along_dim``, ``one_hot``.

Two Triton kernels iterate over the elements of the index (broadcast along the other dims for
the ``index_*`` ops) with rank-4 strided offsets, like the elementwise template, one dim
replaced by the loaded index: ``_gather_kernel`` reads, ``_scatter_kernel`` writes or
``tl.atomic_add``s (duplicate indices accumulate). The reductions an atomic can't do (prod,
amax, amin, mean) run ``_scatter_rows_kernel``: each program owns a block of outputs of one
row and loops over the row's indices, so it is deterministic. In deterministic mode
(``use_deterministic_algorithms``) the floating-point adds and the stores of tensor values go
through ``_segment.py`` instead (sorted by target, summed in index order; the last store wins).

Bounds: cpu raises like PyTorch. cuda does not check (a check would need a host sync; PyTorch's
device-side assert is asynchronous too): an out-of-range index reads 0 and writes nothing.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, _deterministic as _det
from .._tensor import Tensor, _wrap_dim, _numel
from ..cuda import _checks
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from .elementwise import _collapse, _block, copy_into, scalar_operand, tl_dtype
from .inplace import make_inplace
from .samples import Sample, rng, index as _ix

MAX_RANK = 4


class IndexOutOfBounds(IndexError, RuntimeError):
    """PyTorch raises RuntimeError for gather/scatter and IndexError for index_*: this is both."""


# cuda: the kernels count indices out of range in a device-check slot, raised at the next sync (PyTorch's
# kernels stop at a device assert there; the dimension and size are not known by then). Indexing with
# tensors (indexing.py) reports into the same slot.
_INDEX_CHECK = _checks.register(lambda v: IndexOutOfBounds(
    f"index {v} is out of bounds for its dimension (found by a cuda kernel: gather, scatter, index_* or indexing "
    "with tensors)"))


# ----------------------------------------------------------------------------- kernels
@triton.jit
def _offsets(offs, S1, S2, S3, s0, s1, s2, s3):
    i3 = offs % S3
    t = offs // S3
    i2 = t % S2
    t = t // S2
    return (t // S1) * s0 + (t % S1) * s1 + i2 * s2 + i3 * s3


@triton.jit
def _count_bad(err_ptr, idx, ok, mask):
    """Record indices out of range in a device-check slot (``cuda/_checks.py``): the count, and one
    of them; the host raises at its next sync, as PyTorch's device asserts surface."""
    bad = mask & (ok == 0)
    nbad = tl.sum(bad.to(tl.int32), 0)
    if nbad > 0:
        tl.atomic_add(err_ptr, nbad.to(tl.int64))
        tl.atomic_xchg(err_ptr + 1, tl.max(tl.where(bad, idx, -(1 << 62)), 0))


@triton.jit
def _gather_kernel(out_ptr, x_ptr, idx_ptr, err_ptr, n, size, sxd, S1, S2, S3, so0, so1, so2, so3, sx0, sx1, sx2,
                   sx3, si0, si1, si2, si3, BLOCK: tl.constexpr):
    # out[i] = x[i with its `dim` coordinate replaced by index[i]]; x's stride along dim is
    # zeroed in sx* and passed as sxd
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    idx = tl.load(idx_ptr + _offsets(offs, S1, S2, S3, si0, si1, si2, si3), mask=mask, other=0).to(tl.int64)
    ok = mask & (idx >= 0) & (idx < size)
    _count_bad(err_ptr, idx, ok, mask)
    v = tl.load(x_ptr + _offsets(offs, S1, S2, S3, sx0, sx1, sx2, sx3) + idx * sxd, mask=ok, other=0)
    tl.store(out_ptr + _offsets(offs, S1, S2, S3, so0, so1, so2, so3), v, mask=mask)


@triton.jit
def _scatter_kernel(dst_ptr, src_ptr, idx_ptr, err_ptr, n, size, sdd, S1, S2, S3, sd0, sd1, sd2, sd3, ss0, ss1, ss2,
                    ss3, si0, si1, si2, si3, SRC_SCALAR: tl.constexpr, ADD: tl.constexpr, WRAP: tl.constexpr,
                    BLOCK: tl.constexpr):
    # dst[i with its `dim` coordinate replaced by index[i]] (+)= src[i]
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    idx = tl.load(idx_ptr + _offsets(offs, S1, S2, S3, si0, si1, si2, si3), mask=mask, other=0).to(tl.int64)
    raw = idx                                       # (the index as given: what a fault reports)
    if WRAP:  # index_fill takes negative indices
        idx = tl.where(idx < 0, idx + size, idx)
    ok = mask & (idx >= 0) & (idx < size)
    _count_bad(err_ptr, raw, ok, mask)
    if SRC_SCALAR:
        v = tl.zeros([BLOCK], dtype=dst_ptr.dtype.element_ty) + tl.cast(src_ptr, dst_ptr.dtype.element_ty)
    else:
        v = tl.load(src_ptr + _offsets(offs, S1, S2, S3, ss0, ss1, ss2, ss3), mask=ok, other=0)
        v = v.to(dst_ptr.dtype.element_ty)
    p = dst_ptr + _offsets(offs, S1, S2, S3, sd0, sd1, sd2, sd3) + idx * sdd
    if ADD:
        tl.atomic_add(p, v, mask=ok)
    else:
        tl.store(p, v, mask=ok)


@triton.jit
def _scatter_rows_kernel(dst_ptr, idx_ptr, src_ptr, R, K, J, REDUCE: tl.constexpr, INCLUDE_SELF: tl.constexpr,
                         ACC: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr):
    # dst (R, K), idx and src (R, J), contiguous; each program owns a (BLOCK_R, BLOCK_K) tile of
    # dst and loops over j. REDUCE: 0 sum, 1 prod, 2 amax, 3 amin, 4 mean.
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    ks = tl.program_id(1) * BLOCK_K + tl.arange(0, BLOCK_K)
    rm = rows < R
    m2 = rm[:, None] & (ks < K)[None, :]
    ptrs = dst_ptr + rows[:, None] * K + ks[None, :]
    me = tl.load(ptrs, mask=m2, other=0).to(ACC)
    if INCLUDE_SELF:
        acc = me
        cnt = tl.full([BLOCK_R, BLOCK_K], 1, tl.int32)
    else:
        acc = tl.zeros([BLOCK_R, BLOCK_K], ACC)
        cnt = tl.zeros([BLOCK_R, BLOCK_K], tl.int32)
    for j in range(J):
        i = tl.load(idx_ptr + rows * J + j, mask=rm, other=-1)
        v = tl.zeros([BLOCK_R, BLOCK_K], ACC) + tl.load(src_ptr + rows * J + j, mask=rm, other=0).to(ACC)[:, None]
        if REDUCE == 1:
            new = acc * v
        elif REDUCE == 2:
            new = tl.where((v > acc) | (v != v), v, acc)    # NaN wins, as in PyTorch
        elif REDUCE == 3:
            new = tl.where((v < acc) | (v != v), v, acc)
        else:
            new = acc + v
        hit = ks[None, :] == i[:, None]
        acc = tl.where(hit, tl.where(cnt == 0, v, new), acc)
        cnt += hit.to(tl.int32)
    if REDUCE == 4:
        c = tl.maximum(cnt, 1).to(ACC)
        if ACC == tl.float32 or ACC == tl.float64:
            acc = acc / c
        else:  # PyTorch floors integer means
            q = acc // c
            acc = tl.where((acc % c != 0) & (acc < 0), q - 1, q)
    res = tl.where(cnt > 0, acc, me)
    tl.store(ptrs, res.to(dst_ptr.dtype.element_ty), mask=m2)


def _index_launch(kernel, shape, a, sa, b, sb, idx, si, size, sdim, **meta):
    """Run ``kernel`` over ``shape`` (the index's iteration space) with per-operand strides."""
    n = _numel(shape)
    if n == 0:
        return
    sizes, (ca, cb, ci) = _collapse(shape, [sa, sb, si])
    if len(sizes) > MAX_RANK:  # rare: launch once per index of the leading dim
        at = lambda t, s, i: t._view((), (), t._offset + i * s[0]) if type(t) is Tensor else t
        for i in range(sizes[0]):
            _index_launch(kernel, sizes[1:], at(a, ca, i), ca[1:], at(b, cb, i), cb[1:], at(idx, ci, i), ci[1:],
                          size, sdim, **meta)
        return
    pad = [0] * (MAX_RANK - len(sizes))
    sizes = [1] * len(pad) + sizes
    block = _block(n)
    launch(kernel, (cdiv(n, block),), a, b, idx, _checks.slot(a.device, _INDEX_CHECK), n, size, sdim, *sizes[1:],
           *(pad + ca), *(pad + cb), *(pad + ci), BLOCK=block, num_warps=_warps(block), **meta)


def _warps(block):
    """8 warps for a 1024-element block: each element's offsets into three operands (a 4-D index
    each) cost more registers than an elementwise op's, and the GPT-2-like step's gather spilled 8 B
    over 4 warps on sm_90 (Triton 3.6; 40 registers over 8)."""
    return 8 if block >= 1024 else 4


_BASE = {"n": "i32", "size": "i32", "S1": "i32", "S2": "i32", "S3": "i32"}


def _st4(p):
    return {f"{p}{i}": "i64" for i in range(4)}


def _gather_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt, it in ((D.float32, D.int64), (D.bfloat16, D.int64), (D.float64, D.int32), (D.int64, D.int64),
                   (D.bool, D.int64)):
        sig = dict(_BASE, out_ptr=ptr(dt), x_ptr=ptr(dt), idx_ptr=ptr(it), err_ptr=ptr(D.int64), sxd="i64",
                   **_st4("so"), **_st4("sx"), **_st4("si"))
        specs.append(KernelSpec(_gather_kernel, sig, {"BLOCK": 1024}, num_warps=_warps(1024),
                                label=f"gather {dt} index {it}"))
    return specs


def _scatter_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt, add, scalar, wrap in ((D.float32, True, False, False), (D.float64, True, False, False),
                                  (D.int64, True, False, False), (D.int32, True, False, False),
                                  (D.bfloat16, False, False, False), (D.float32, False, True, True),
                                  (D.int64, False, True, False), (D.bool, False, True, True)):
        sig = dict(_BASE, dst_ptr=ptr(dt), src_ptr=("i32" if not dt.is_floating_point else "fp32") if scalar
                   else ptr(dt), idx_ptr=ptr(D.int64), err_ptr=ptr(D.int64), sdd="i64", **_st4("sd"), **_st4("ss"),
                   **_st4("si"))
        specs.append(KernelSpec(_scatter_kernel, sig, {"SRC_SCALAR": scalar, "ADD": add, "WRAP": wrap, "BLOCK": 1024},
                                num_warps=_warps(1024),
                                label=f"scatter {dt} {'add' if add else 'store'}{' scalar' if scalar else ''}"))
    return specs


def _segment_specs():
    """Deterministic mode's kernels (``_segment.py``), compiled with ``scatter_add``'s."""
    from ._segment import _specs
    return _specs()


def _rows_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt, red, inc in ((D.float32, 1, True), (D.float32, 2, False), (D.float64, 3, True), (D.int64, 4, False),
                         (D.bfloat16, 4, True), (D.int32, 0, False)):
        sig = {"dst_ptr": ptr(dt), "idx_ptr": ptr(D.int64), "src_ptr": ptr(dt), "R": "i32", "K": "i32", "J": "i32"}
        specs.append(KernelSpec(_scatter_rows_kernel, sig, {"REDUCE": red, "INCLUDE_SELF": inc,
                                                            "ACC": tl_dtype(_acc(dt)), "BLOCK_R": 8, "BLOCK_K": 128},
                                label=f"rows {dt} reduce {red}{' self' if inc else ''}"))
    return specs


# ----------------------------------------------------------------------------- shared helpers
def _acc(dt):
    """The dtype kernels accumulate ``dt`` in (atomics exist for 32- and 64-bit types only)."""
    if dt is D.float64 or dt is D.int64 or dt is D.int32:
        return dt
    return D.float32 if dt.is_floating_point else D.int64


def _nd(shape):
    return tuple(shape) if len(shape) else (1,)   # PyTorch treats 0-dim as 1-dim here


def _st(t, shape):
    """Strides of ``t`` (0-dim counted as 1-dim), or zeros for a scalar."""
    if type(t) is not Tensor:
        return (0,) * len(shape)
    return t.stride() if t.ndim else (0,)


def _zero_dim(st, d):
    return tuple(0 if i == d else s for i, s in enumerate(st))


def _np1(a):
    return a.reshape(1) if a.ndim == 0 else a


def _coords(index, dim):
    """A NumPy fancy index: each element of ``index`` addressing its target along ``dim``."""
    grid = np.indices(index.shape, sparse=True)
    return tuple(index if i == dim else g for i, g in enumerate(grid))


def _check_bounds(index, size, dim, name, lo=0, msg=None):
    bad = (index < lo) | (index >= size)
    if bad.any():
        i = int(index[bad].reshape(-1)[0])
        raise IndexOutOfBounds(msg.format(i=i) if msg else
                               f"{name}(): index {i} is out of bounds for dimension {dim} with size {size}")


def _compute_np(a):
    return a.astype(np.float32) if a.dtype.itemsize == 2 and a.dtype.kind not in "iub" else a


def _index_dtype(index, name, allowed=(D.int64,)):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype not in allowed:
        want = " or ".join(d.name for d in allowed)
        raise RuntimeError(f"{name}(): Expected dtype {want} for index, got {index.dtype.name}")


def _long_index(index, name):
    """gather's and scatter's index: int64, or int32 widened (PyTorch takes both); ``name`` in its error."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype is D.int64:
        return index
    if index.dtype is not D.int32 and index.numel():     # (an empty index of any dtype passes, as in PyTorch)
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    return index.long()


def _empty(shape, dtype, device):
    return Tensor._empty(tuple(shape), dtype, device)


# ----------------------------------------------------------------------------- gather
def _gather_shape_check(input, d, index, name):
    if len(_nd(input._shape)) != len(_nd(index._shape)):
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as input tensor "
                           f"(index {list(index.shape)}, input {list(input.shape)})")
    si, sx = _nd(index._shape), _nd(input._shape)
    for i in range(len(sx)):
        if i != d and si[i] > sx[i]:
            raise RuntimeError(f"{name}(): Size does not match at dimension {i} expected index {list(index.shape)} "
                               f"to be no larger than self {list(input.shape)} apart from dimension {d}")


def _gather_cpu(a, index, *, dim, in_shape):
    a1, i1 = _np1(a), _np1(index)
    _check_bounds(i1, a1.shape[dim], dim, "gather")
    return a1[_coords(i1, dim)].reshape(index.shape)


def _gather_cuda(x, index, *, dim, in_shape):
    out = _empty(index._shape, x.dtype, x.device)
    shape = _nd(index._shape)
    sx = _st(x, shape)
    _index_launch(_gather_kernel, shape, out, _st(out, shape), x, _zero_dim(sx, dim), index, _st(index, shape),
                  _nd(x._shape)[dim], sx[dim])
    return out


def _gather_bw(ctx, g):
    from .creation import zeros
    return scatter_add(zeros(ctx.in_shape, dtype=g.dtype, device=g.device), ctx.dim, ctx.inputs[1], g), None


def _gather_samples():
    r = rng("gather")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(5), 0, _ix([4, 0, 0, 2, 4, 4])]), Sample([u(3, 4), 1, _ix([[0, 3], [1, 1], [2, 0]])]),
            Sample([u(3, 4), 0, _ix([[2, 0, 1, 2], [0, 0, 0, 0]])]),
            Sample([u(2, 3, 4), -1, _ix(r.integers(0, 4, (2, 2, 5)))]),
            Sample([u(), 0, _ix(0)]), Sample([u(3, 4), 1, _ix(np.zeros((2, 0)))])]


_gather = Op("gather", cpu=_gather_cpu, cuda=_gather_cuda, backward=_gather_bw, save=(1,), samples=_gather_samples,
             kernels=_gather_specs, family="gather", plan_state=tuple)     # no globals (_plan.py)


def gather(input, dim, index, *, sparse_grad=False, out=None):
    """Values of ``input`` along ``dim`` at ``index`` (int64, same rank; negatives are errors).

    ``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0``.

    Example::

        >>> ttorch.gather(ttorch.tensor([[1, 2], [3, 4]]), 1, ttorch.tensor([[0, 0], [1, 0]])).tolist()
        [[1, 1], [4, 3]]
    """
    d = _wrap_dim(dim, input.ndim)
    index = _long_index(index, "gather")
    if not index.numel():      # (PyTorch checks no shapes for an empty index)
        r = input.reshape(-1)[:0].reshape(index._shape).clone()     # (in the graph)
        return r if out is None else write_out(out, r, "gather")
    _gather_shape_check(input, d, index, "gather")
    r = _gather(input, index, dim=d, in_shape=input._shape)
    return r if out is None else write_out(out, r, "gather")


def take_along_dim(input, indices, dim=None, *, out=None):
    """``gather`` after broadcasting ``input`` and ``indices`` against each other except along
    ``dim``; with no ``dim``, indices into the flattened input."""
    _index_dtype(indices, "take_along_dim")
    size = input.numel() if dim is None else input.shape[_wrap_dim(dim, input.ndim)]
    from .ternary import where
    indices = where(indices < 0, indices + size, indices)      # negative indices count from the end
    if dim is None:
        r = gather(input.reshape(-1), 0, indices.reshape(-1))
    else:
        d = _wrap_dim(dim, input.ndim)
        if input.ndim != indices.ndim:
            raise RuntimeError(f"take_along_dim(): input and indices should have the same number of dimensions, but "
                               f"got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
        from .elementwise import broadcast_shapes
        sizes = list(input._shape)
        sizes[d] = indices._shape[d]
        shape = list(broadcast_shapes(tuple(sizes), indices._shape, op="take_along_dim"))
        idx = indices.expand(shape)
        shape[d] = input._shape[d]
        r = gather(input.expand(shape), d, idx)
    return r if out is None else write_out(out, r, "take_along_dim")


# ----------------------------------------------------------------------------- scatter, scatter_add
def _scatter_shape_check(input, d, index, src, name):
    if index.numel() == 0:
        return
    if len(_nd(input._shape)) != len(_nd(index._shape)):
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as self tensor "
                           f"(index {list(index.shape)}, self {list(input.shape)})")
    si, sx = _nd(index._shape), _nd(input._shape)
    ss = _nd(src._shape) if isinstance(src, Tensor) else None
    if ss is not None and len(ss) != len(si):
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as src tensor "
                           f"(index {list(index.shape)}, src {list(src.shape)})")
    bad_src = ss is not None and any(si[i] > ss[i] for i in range(len(si)))
    if bad_src or any(i != d and si[i] > sx[i] for i in range(len(si))):
        msg = (f"{name}(): Expected index {list(index.shape)} to be no larger than self {list(input.shape)} apart "
               f"from dimension {d}")
        raise RuntimeError(msg + (f" and to be no larger size than src {list(src.shape)}" if ss is not None else ""))


def _scatter_cpu(a, index, src, *, dim, reduce, src_shape=None):
    out = a.copy()
    o1, i1 = _np1(out), _np1(index)
    if i1.size == 0:
        return out
    _check_bounds(i1, o1.shape[dim], dim, "scatter")
    c = _coords(i1, dim)
    v = _np1(src)[tuple(slice(0, s) for s in i1.shape)] if isinstance(src, np.ndarray) else src
    if reduce is None:
        o1[c] = v          # duplicates: one of the writes wins, as in PyTorch
        return out
    acc = _compute_np(o1)
    acc = acc.copy() if acc is o1 else acc
    (np.add if reduce == "add" else np.multiply).at(acc, c, v)
    o1[...] = acc
    return out


def _scatter_cuda(x, index, src, *, dim, reduce, src_shape=None):
    out = copy_into(_empty(x._shape, x.dtype, x.device), x)
    if index.numel() == 0:
        return out
    if reduce == "multiply":
        return _scatter_rows(out, dim, index, src, 1, True)
    add = reduce == "add"
    acc = out if not add or _acc(x.dtype) is x.dtype else copy_into(_empty(x._shape, _acc(x.dtype), x.device), x)
    _scatter_into(acc, dim, index, src, add)
    return out if acc is out else copy_into(out, acc)


def _scatter_into(dst, dim, index, src, add, wrap=False, index_strides=None, shape=None):
    """Run ``_scatter_kernel`` over ``shape`` (default: the index's), into ``dst`` in place."""
    shape = _nd(index._shape) if shape is None else shape
    if type(src) is not Tensor:
        src = scalar_operand(src, D._compute_dtype(dst.dtype) if dst.dtype is not D.bool else D.int8, dst.device)
    if type(src) is Tensor and src.ndim == 0:
        ss = (0,) * len(shape)
    else:
        ss = _st(src, shape)
    sd = _st(dst, shape)
    si = _st(index, shape) if index_strides is None else index_strides
    scalar = type(src) is not Tensor
    if scalar and dst.dtype is D.bool:
        src = int(bool(src))
    # deterministic mode: a float sum's rounding follows the atomics' order, and with repeated targets
    # any of the plain stores may win (a scalar's are all alike, an integer sum exact)
    if _det.MODE and not scalar and (not add or dst.dtype.is_floating_point):
        from . import _segment
        return _segment.scatter(dst, dim, shape, index, si, src, ss, add, wrap)
    _index_launch(_scatter_kernel, shape, dst, _zero_dim(sd, dim), src, ss, index, si, _nd(dst._shape)[dim], sd[dim],
                  SRC_SCALAR=scalar, ADD=add, WRAP=wrap)
    return dst


def _narrow_to(t, shape):
    """``t`` narrowed to ``shape`` from the start of each dim (the part of ``src`` scatter reads)."""
    for k, s in enumerate(shape):
        if t._shape[k] != s:
            t = t.narrow(k, 0, s)
    return t


def _src_grad(gs, src_shape):
    """The gradient of ``src`` from its value ``gs`` at the index's positions: zero beyond them."""
    if gs._shape == tuple(src_shape):
        return gs
    from .views import view_scatter
    shape = gs._shape
    return view_scatter(gs, src_shape, lambda t: _narrow_to(t, shape))


def _scatter_bw(ctx, g):
    if ctx.reduce == "multiply":
        raise RuntimeError("scatter(): the derivative for reduce='multiply' is not implemented; use "
                           "scatter_reduce(..., reduce='prod')")
    index = ctx.inputs[1]
    gin = (g if ctx.reduce == "add" else scatter(g, ctx.dim, index, 0)) if ctx.needs[0] else None
    gsrc = _src_grad(gather(g, ctx.dim, index), ctx.src_shape) if ctx.needs[2] else None
    return gin, None, gsrc


def _scatter_samples():
    r = rng("scatter")
    u = lambda *s: r.uniform(-2, 2, size=s)
    # plain scatter: no duplicate targets, so the result (and its gradient) is determined
    return [Sample([u(5), 0, _ix([4, 0, 2]), u(3)]), Sample([u(3, 4), 1, _ix([[3, 0], [1, 2], [0, 1]]), u(3, 3)]),
            Sample([u(3, 4), 0, _ix([[2, 0, 1, 2]]), u(2, 4)]),
            Sample([u(2, 3, 4), -1, _ix([[[1, 3]] * 3] * 2), u(2, 3, 2)]),
            Sample([u(3, 4), 1, _ix([[3, 0], [1, 2], [0, 1]]), 1.5], {}),
            Sample([u(3, 4), 1, _ix([[3, 3], [1, 1], [0, 1]]), u(3, 2)], {"reduce": "add"}),
            Sample([u(3, 4), 0, _ix([[2, 2, 1, 2], [2, 0, 0, 0]]), u(2, 4)], {"reduce": "multiply"}, grad=False),
            Sample([u(3), 0, _ix(np.zeros(0)), u(0)])]


_scatter = Op("scatter", cpu=_scatter_cpu, cuda=_scatter_cuda, backward=_scatter_bw, save=(1,),
              samples=_scatter_samples, kernels=lambda: _scatter_specs() + _rows_specs(), family="gather",
              plan_state=_det.plan_state)


def scatter(input, dim, index, src=None, reduce=None, *, value=None, out=None):
    """A copy of ``input`` with ``src`` (a tensor, or a number ``value``) written along ``dim`` at
    ``index``: ``out[index[i][j]][j] = src[i][j]`` for ``dim=0``; ``reduce='add'`` or
    ``'multiply'`` combines instead. With duplicate indices and no ``reduce`` one write wins
    (which one is unspecified, as in PyTorch).

    Example::

        >>> ttorch.zeros(3).scatter(0, ttorch.tensor([2, 0]), ttorch.tensor([5., 6.])).tolist()
        [6.0, 0.0, 5.0]
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce!r}")
    d = _wrap_dim(dim, input.ndim)
    index = _long_index(index, "scatter")
    if isinstance(src, Tensor) and src.dtype is not input.dtype:
        raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype (self {input.dtype.name}, src "
                           f"{src.dtype.name})")
    _scatter_shape_check(input, d, index, src, "scatter")
    r = _scatter(input, index, src, dim=d, reduce=reduce,
                 src_shape=src._shape if isinstance(src, Tensor) else None)
    return r if out is None else write_out(out, r, "scatter")


def _scatter_add_cpu(a, index, src, *, dim, src_shape):
    return _scatter_cpu(a, index, src, dim=dim, reduce="add")


def _scatter_add_cuda(x, index, src, *, dim, src_shape):
    return _scatter_cuda(x, index, src, dim=dim, reduce="add")


def _scatter_add_bw(ctx, g):
    return g, None, _src_grad(gather(g, ctx.dim, ctx.inputs[1]), ctx.src_shape) if ctx.needs[2] else None


def _scatter_add_samples():
    r = rng("scatter_add")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(5), 0, _ix([4, 0, 4, 4, 1, 0]), u(6)]),
            Sample([u(3, 4), 1, _ix([[3, 3], [1, 1], [0, 1]]), u(3, 3)]),
            Sample([u(3, 4), 0, _ix(r.integers(0, 3, (5, 4))), u(5, 4)]),
            Sample([u(2, 3, 4), 1, _ix(r.integers(0, 3, (2, 7, 3))), u(2, 7, 4)]), Sample([u(), 0, _ix(0), u()])]


_scatter_add = Op("scatter_add", cpu=_scatter_add_cpu, cuda=_scatter_add_cuda, backward=_scatter_add_bw, save=(1,),
                  samples=_scatter_add_samples, kernels=lambda: _scatter_specs() + _segment_specs(), family="gather",
                  plan_state=_det.plan_state)


def scatter_add(input, dim, index, src, *, out=None):
    """A copy of ``input`` with ``src`` added along ``dim`` at ``index``; duplicate indices accumulate.

    Example::

        >>> ttorch.zeros(3).scatter_add(0, ttorch.tensor([2, 2, 0]), ttorch.ones(3)).tolist()
        [1.0, 0.0, 2.0]
    """
    d = _wrap_dim(dim, input.ndim)
    index = _long_index(index, "scatter")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.dtype is not input.dtype:
        raise RuntimeError(f"scatter_add(): Expected self.dtype to be equal to src.dtype (self {input.dtype.name}, "
                           f"src {src.dtype.name})")
    _scatter_shape_check(input, d, index, src, "scatter_add")
    r = _scatter_add(input, index, src, dim=d, src_shape=src._shape)
    return r if out is None else write_out(out, r, "scatter_add")


# ----------------------------------------------------------------------------- scatter_reduce
_REDUCE = {"sum": 0, "prod": 1, "amax": 2, "amin": 3, "mean": 4}


def _scatter_reduce_cpu(a, index, src, *, dim, reduce, include_self, src_shape):
    out = a.copy()
    o1, i1 = _np1(out), _np1(index)
    if i1.size == 0:
        return out
    _check_bounds(i1, o1.shape[dim], dim, "scatter_reduce")
    c = _coords(i1, dim)
    v = _compute_np(_np1(src)[tuple(slice(0, s) for s in i1.shape)])
    me = _compute_np(o1)
    cnt = np.zeros(o1.shape, np.int64)
    np.add.at(cnt, c, 1)
    if reduce in ("amax", "amin"):
        fn = np.maximum if reduce == "amax" else np.minimum   # both propagate NaN, as PyTorch does
        acc = me.copy()
        acc[c] = v            # start each group at one of its members, then reduce over all
        fn.at(acc, c, v)
        if include_self:
            acc = fn(acc, me)
    else:
        acc = np.full(o1.shape, 1 if reduce == "prod" else 0, me.dtype)
        (np.multiply if reduce == "prod" else np.add).at(acc, c, v)
        if include_self:
            acc = acc * me if reduce == "prod" else acc + me
        if reduce == "mean":
            n = np.maximum(cnt + (1 if include_self else 0), 1)
            acc = acc / n if acc.dtype.kind == "f" else acc // n
    o1[...] = np.where(cnt > 0, acc, me)
    return out


def _scatter_reduce_cuda(x, index, src, *, dim, reduce, include_self, src_shape):
    if reduce == "sum" and include_self:   # atomics
        return _scatter_cuda(x, index, src, dim=dim, reduce="add")
    out = copy_into(_empty(x._shape, x.dtype, x.device), x)
    if index.numel() == 0:
        return out
    return _scatter_rows(out, dim, index, src, _REDUCE[reduce], include_self)


def _scatter_rows(out, dim, index, src, reduce, include_self):
    """``_scatter_rows_kernel`` on ``out`` in place: dim moved last, the rest flattened into rows."""
    nd = out.ndim
    if nd == 0:
        one = lambda t: t._view((1,), (1,), t._offset) if isinstance(t, Tensor) else t
        _scatter_rows(one(out), 0, one(index), one(src), reduce, include_self)
        return out
    ishape = index._shape
    order = [i for i in range(nd) if i != dim] + [dim]
    perm = lambda t: t._view(tuple(t._shape[i] for i in order), tuple(t.stride()[i] for i in order), t._offset)
    # the part of out the index covers, as (R, K)
    region = out._view(tuple(ishape[i] if i != dim else out._shape[i] for i in range(nd)), out.stride(), out._offset)
    rows = perm(region)
    K, J = out._shape[dim], ishape[dim]
    R = _numel(rows._shape[:-1])
    if K == 0:
        return out
    w = copy_into(_empty(rows._shape, out.dtype, out.device), rows)
    idx = copy_into(_empty(perm(index)._shape, D.int64, out.device), perm(index))
    if isinstance(src, Tensor):
        s_region = src._view(ishape, src.stride(), src._offset)
        s = copy_into(_empty(perm(s_region)._shape, out.dtype, out.device), perm(s_region))
    else:
        s = copy_into(_empty(idx._shape, out.dtype, out.device), src)
    bk = min(next_pow2(K), 1024 if SIMULATED else 128)
    br = max(1, min(next_pow2(R), (4096 if SIMULATED else 1024) // bk))
    launch(_scatter_rows_kernel, (cdiv(R, br), cdiv(K, bk)), w, idx, s, R, K, J, REDUCE=reduce,
           INCLUDE_SELF=include_self, ACC=tl_dtype(_acc(out.dtype)), BLOCK_R=br, BLOCK_K=bk)
    copy_into(rows, w)
    return out


def _scatter_reduce_bw(ctx, g):
    # PyTorch's formulas (derivatives.yaml, scatter_reduce_backward)
    from .creation import zeros_like, ones
    dim, index, reduce = ctx.dim, ctx.inputs[1], ctx.reduce
    x, src = ctx.inputs[0], _narrow_to(ctx.inputs[2], index._shape)
    if reduce == "sum":
        gin, gsrc = g, gather(g, dim, index)
    elif reduce == "mean":
        n = g.new_ones(g._shape) if ctx.include_self else zeros_like(g)
        n = scatter_add(n, dim, index, ones(index._shape, dtype=g.dtype, device=g.device))
        n = n + (n == 0).to(n.dtype)
        gin, gsrc = g / n, gather(g, dim, index) / gather(n, dim, index)
    elif reduce in ("amax", "amin"):
        # the gradient is shared evenly among the values equal to the result
        res = ctx.output
        self_is = (x == res).to(g.dtype)
        src_is = (src == gather(res, dim, index)).to(g.dtype)
        share = g / scatter_add(self_is, dim, index, src_is)
        gin, gsrc = self_is * share, src_is * gather(share, dim, index)
    else:  # prod: the exclusive product, with zeros handled explicitly (no division by 0)
        inc = ctx.include_self
        masked_x = x.masked_fill(x == 0, 1)
        gin = g * scatter_reduce(masked_x, dim, index, src, "prod", include_self=inc) / masked_x
        src_zero = src == 0
        zeros = scatter_add(zeros_like(x), dim, index, src_zero.to(x.dtype))
        single = src_zero & (gather(zeros, dim, index) == 1)   # the only zero among the src of its slot
        others = scatter_reduce(x, dim, index, src.masked_fill(single, 1), "prod", include_self=inc)
        from .ternary import where
        gsrc = where(single, gather(g * others, dim, index),
                     gather(g * ctx.output, dim, index) / src.masked_fill(src_zero, 1))
    if not ctx.include_self:
        gin = scatter(gin, dim, index, 0)
    return (gin if ctx.needs[0] else None), None, (_src_grad(gsrc, ctx.src_shape) if ctx.needs[2] else None)


def _scatter_reduce_samples():
    r = rng("scatter_reduce")
    u = lambda *s: r.uniform(-2, 2, size=s)
    out = []
    for red, inc in (("sum", True), ("sum", False), ("prod", True), ("prod", False), ("mean", True), ("amax", True),
                     ("amin", False)):
        out.append(Sample([u(3, 4), 1, _ix([[3, 3, 0], [1, 1, 1], [0, 2, 1]]), u(3, 4), red],
                          {"include_self": inc}))
    z = u(3, 4)
    z[0, 1] = z[1, 0] = z[1, 2] = z[2, 1] = 0.0   # prod's zeros: one alone in its slot, two sharing one
    out.append(Sample([u(3, 4), 1, _ix([[3, 1, 0], [1, 1, 1], [0, 2, 1]]), z, "prod"]))
    out += [Sample([u(5), 0, _ix([4, 0, 4, 4, 1, 0]), u(6), "amax"]),
            Sample([u(2, 3, 4), 0, _ix(r.integers(0, 2, (3, 3, 4))), u(3, 3, 4), "mean"], {"include_self": False})]
    return out


_scatter_reduce = Op("scatter_reduce", cpu=_scatter_reduce_cpu, cuda=_scatter_reduce_cuda, backward=_scatter_reduce_bw,
                     save_output=True, samples=_scatter_reduce_samples, family="gather",
                     kernels=lambda: _scatter_specs() + _rows_specs())


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    """A copy of ``input`` where the ``src`` values scattered to each position along ``dim`` are
    reduced (``'sum'``, ``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``) together with the
    input's value there (``include_self``) or in its place.

    Example::

        >>> ttorch.zeros(2).scatter_reduce(0, ttorch.tensor([1, 1]), ttorch.tensor([2., 5.]), "amax").tolist()
        [0.0, 5.0]
    """
    if reduce not in _REDUCE:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    d = _wrap_dim(dim, input.ndim)
    index = _long_index(index, "scatter")
    if src.dtype is not input.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype (self "
                           f"{input.dtype.name}, src {src.dtype.name})")
    _scatter_shape_check(input, d, index, src, "scatter_reduce")
    r = _scatter_reduce(input, index, src, dim=d, reduce=reduce, include_self=bool(include_self), src_shape=src._shape)
    return r if out is None else write_out(out, r, "scatter_reduce")


# ----------------------------------------------------------------------------- index_select
def _vector_index(index, name, allowed=(D.int64, D.int32)):
    _index_dtype(index, name, allowed)
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector, got shape {list(index.shape)}")


def _index_strides(index, shape, d):
    """The index's strides over ``shape``: broadcast along every dim but ``d``."""
    return tuple(index.stride()[0] if i == d and index.ndim else 0 for i in range(len(shape)))


def _index_select_cpu(a, index, *, dim, in_shape):
    a1, i1 = _np1(a), index.reshape(-1)
    _check_bounds(i1, a1.shape[dim], dim, "index_select",
                  msg="index out of range in self: index_select() got index {i} for dimension %d with size %d"
                  % (dim, a1.shape[dim]))
    r = np.take(a1, i1, axis=dim)
    return r.reshape(index.shape) if a.ndim == 0 else r


def _index_select_cuda(x, index, *, dim, in_shape):
    shape = list(_nd(x._shape))
    shape[dim] = index.numel()
    out = _empty(shape if x.ndim else index._shape, x.dtype, x.device)
    sx = _st(x, shape)
    _index_launch(_gather_kernel, tuple(shape), out, _st(out, shape), x, _zero_dim(sx, dim),
                  index, _index_strides(index, shape, dim), _nd(x._shape)[dim], sx[dim])
    return out


def _index_select_bw(ctx, g):
    from .creation import zeros
    z = zeros(ctx.in_shape, dtype=g.dtype, device=g.device)
    if not ctx.in_shape:
        return index_add(z.reshape(1), 0, ctx.inputs[1].reshape(-1), g.reshape(-1)).reshape(()), None
    return index_add(z, ctx.dim, ctx.inputs[1], g), None


def _index_select_samples():
    r = rng("index_select")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(5), 0, _ix([4, 0, 0, 2])]), Sample([u(3, 4), 1, _ix([3, 1, 3], np.int32)]),
            Sample([u(3, 4), 0, _ix(2)]), Sample([u(2, 3, 4), -2, _ix([2, 0, 1, 1, 2])]),
            Sample([u(3, 4), 0, _ix(np.zeros(0))]), Sample([u(), 0, _ix([0])])]


_index_select = Op("index_select", cpu=_index_select_cpu, cuda=_index_select_cuda, backward=_index_select_bw,
                   save=(1,), samples=_index_select_samples, kernels=_gather_specs, family="gather",
                   plan_state=tuple)      # an embedding's forward (_plan.py)


def index_select(input, dim, index, *, out=None):
    """The slices of ``input`` along ``dim`` at ``index`` (a vector of int64 or int32).

    Example::

        >>> ttorch.tensor([[1, 2], [3, 4]]).index_select(0, ttorch.tensor([1, 1])).tolist()
        [[3, 4], [3, 4]]
    """
    d = _wrap_dim(dim, input.ndim)
    _vector_index(index, "index_select")
    if input.ndim == 0:     # a 0-d input: its one element, 0-d too (an index of 1 element, as PyTorch)
        if index.numel() != 1:
            raise IndexError(f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)")
        return index_select(input.reshape(1), 0, index.reshape(-1), out=out).reshape(()) if out is None else \
            write_out(out, index_select(input.reshape(1), 0, index.reshape(-1)).reshape(()), "index_select")
    r = _index_select(input, index, dim=d, in_shape=input._shape)
    return r if out is None else write_out(out, r, "index_select")


# ----------------------------------------------------------------------------- index_add, index_copy, index_fill
def _index_source_check(input, d, index, source, name):
    if not isinstance(source, Tensor):
        raise TypeError(f"{name}(): argument 'source' must be Tensor, not {type(source).__name__}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"{name}(): self ({input.dtype.name}) and source ({source.dtype.name}) must have the same "
                           f"scalar type")
    if source.ndim and d >= source.ndim:
        raise IndexError(f"{name}(): Indexing dim {d} is out of bounds of the source tensor with dim {source.ndim}")
    ns = source._shape[d] if source.ndim else 1
    if index.numel() != ns:
        raise RuntimeError(f"{name}(): Number of indices ({index.numel()}) should be equal to source.size(dim) ({ns})")
    xs, ss = list(input._shape), list(source._shape)
    if xs and ss:
        del xs[d], ss[d]
    if xs != ss:
        raise RuntimeError(f"{name}(): source tensor shape must match self tensor shape, excluding the specified "
                           f"dimension. Got self.shape = {list(input.shape)} source.shape = {list(source.shape)}")


def _index_write_cpu(a, index, source, *, dim, add, name):
    out = a.copy()
    o1, i1 = _np1(out), index.reshape(-1)
    n = o1.shape[dim]
    if add:
        msg = f"index out of range in self: {name}() got index {{i}} for dimension {dim} with size {n}"
    else:
        msg = None
    _check_bounds(i1, n, dim, name, msg=msg)
    src = np.moveaxis(_np1(source), dim, 0)
    view = np.moveaxis(o1, dim, 0)
    if add:
        acc = _compute_np(view)
        acc = acc.copy() if acc is view else acc
        np.add.at(acc, i1, src)
        view[...] = acc
    else:
        view[i1] = src
    return out


def _index_write_cuda(x, index, source, *, dim, add):
    out = copy_into(_empty(x._shape, x.dtype, x.device), x)
    acc = out if not add or _acc(x.dtype) is x.dtype else copy_into(_empty(x._shape, _acc(x.dtype), x.device), x)
    shape = _nd(source._shape)
    src = source if source.ndim else source._view((1,), (0,), source._offset)
    _scatter_into(acc, dim, index, src, add, index_strides=_index_strides(index, shape, dim), shape=shape)
    return out if acc is out else copy_into(out, acc)


def _index_add_bw(ctx, g):
    gs = None
    if ctx.needs[2]:
        gs = index_select(g, ctx.dim, ctx.inputs[1]) if g.ndim else g
        gs = gs.reshape(ctx.src_shape)
    return g, None, gs


def _index_add_samples():
    r = rng("index_add")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(5), 0, _ix([4, 0, 4, 4]), u(4)]), Sample([u(3, 4), 1, _ix([3, 1, 3], np.int32), u(3, 3)]),
            Sample([u(3, 4), 0, _ix([2, 2, 0, 2, 1]), u(5, 4)], {"alpha": 2.5}),
            Sample([u(2, 3, 4), 1, _ix([0, 0]), u(2, 2, 4)]), Sample([u(), 0, _ix(0), u()])]


_index_add = Op("index_add", cpu=lambda a, i, s, *, dim, src_shape: _index_write_cpu(a, i, s, dim=dim, add=True,
                                                                                     name="index_add"),
                cuda=lambda x, i, s, *, dim, src_shape: _index_write_cuda(x, i, s, dim=dim, add=True),
                backward=_index_add_bw, save=(1,), samples=_index_add_samples, kernels=_scatter_specs, family="gather")


def index_add(input, dim, index, source, *, alpha=1, out=None):
    """A copy of ``input`` with ``alpha * source`` added to the slices along ``dim`` at ``index``;
    duplicate indices accumulate.

    Example::

        >>> ttorch.zeros(3).index_add(0, ttorch.tensor([0, 0, 2]), ttorch.ones(3)).tolist()
        [2.0, 0.0, 1.0]
    """
    d = _wrap_dim(dim, input.ndim)
    _vector_index(index, "index_add")
    _index_source_check(input, d, index, source, "index_add")
    if alpha != 1:
        source = source * alpha
        if source.dtype is not input.dtype:
            source = source.to(input.dtype)
    r = _index_add(input, index, source, dim=d, src_shape=source._shape)
    return r if out is None else write_out(out, r, "index_add")


# zeros(num, *source.shape[1:]).index_add(0, index, source) without the zeros' copy: the dense
# gradient of a row gather (embedding's backward). index_add must copy its input first (it is
# out of place); from fresh zeros the rows are scattered straight into them: two launches (zeros,
# scatter) where that took three, and two passes over a (vocab, dim) table fewer.
def _rows_add_cpu(index, source, *, num):
    src = _compute_np(source)
    out = np.zeros((num,) + source.shape[1:], src.dtype)
    _check_bounds(index, num, 0, "index_add")
    np.add.at(out, index, src)
    return out.astype(source.dtype, copy=False)


def _rows_add_cuda(index, source, *, num):
    from .creation import zeros
    acc = zeros((num,) + source._shape[1:], dtype=_acc(source.dtype), device=source.device)
    if index.numel():
        _scatter_into(acc, 0, index, source, True, index_strides=_index_strides(index, source._shape, 0),
                      shape=source._shape)
    return acc if acc.dtype is source.dtype else acc.to(source.dtype)


def _rows_add_samples():
    r = rng("rows_add")
    return [Sample([_ix([4, 0, 4, 2]), r.uniform(-2, 2, size=(4, 3))], {"num": 5}),
            Sample([_ix([1, 1], np.int32), r.uniform(-2, 2, size=(2,))], {"num": 3}),
            Sample([_ix(np.zeros(0, np.int64)), r.uniform(-2, 2, size=(0, 2))], {"num": 2})]


_rows_add = Op("rows_add", cpu=_rows_add_cpu, cuda=_rows_add_cuda,
               backward=lambda ctx, g: (None, index_select(g, 0, ctx.inputs[0])), save=(0,),
               samples=_rows_add_samples, kernels=_scatter_specs, family="gather", grad_name="IndexAddBackward0",
               plan_state=_det.plan_state)       # an embedding's backward (_plan.py)


def rows_add(index, source, num):
    """``zeros((num,) + source.shape[1:]).index_add(0, index, source)``: ``index`` (n,), ``source``
    (n, ...); duplicate indices accumulate (in float32 for half types, as ``index_add`` does)."""
    return _rows_add(index, source, num=int(num))


_rows_add.public = rows_add


def _index_copy_bw(ctx, g):
    index = ctx.inputs[1]
    gin = index_fill(g, ctx.dim, index, 0) if ctx.needs[0] else None
    gs = None
    if ctx.needs[2]:
        gs = (index_select(g, ctx.dim, index) if g.ndim else g).reshape(ctx.src_shape)
    return gin, None, gs


def _index_copy_samples():
    r = rng("index_copy")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(5), 0, _ix([4, 0, 2]), u(3)]), Sample([u(3, 4), 1, _ix([3, 1]), u(3, 2)]),
            Sample([u(2, 3, 4), -1, _ix([0, 2, 1, 3]), u(2, 3, 4)]), Sample([u(), 0, _ix(0), u()])]


_index_copy = Op("index_copy", cpu=lambda a, i, s, *, dim, src_shape: _index_write_cpu(a, i, s, dim=dim, add=False,
                                                                                       name="index_copy"),
                 cuda=lambda x, i, s, *, dim, src_shape: _index_write_cuda(x, i, s, dim=dim, add=False),
                 backward=_index_copy_bw, save=(1,), samples=_index_copy_samples, kernels=_scatter_specs,
                 family="gather")


def index_copy(input, dim, index, source, *, out=None):
    """A copy of ``input`` with the slices along ``dim`` at ``index`` replaced by those of ``source``.

    Example::

        >>> ttorch.zeros(3).index_copy(0, ttorch.tensor([2]), ttorch.ones(1)).tolist()
        [0.0, 0.0, 1.0]
    """
    d = _wrap_dim(dim, input.ndim)
    _vector_index(index, "index_copy", (D.int64,))
    _index_source_check(input, d, index, source, "index_copy")
    r = _index_copy(input, index, source, dim=d, src_shape=source._shape)
    return r if out is None else write_out(out, r, "index_copy")


def _index_fill_cpu(a, index, *, dim, value):
    out = a.copy()
    o1, i1 = _np1(out), index.reshape(-1)
    n = o1.shape[dim]
    _check_bounds(i1, n, dim, "index_fill", lo=-n)
    np.moveaxis(o1, dim, 0)[i1] = value
    return out


def _index_fill_cuda(x, index, *, dim, value):
    out = copy_into(_empty(x._shape, x.dtype, x.device), x)
    shape = list(_nd(x._shape))
    shape[dim] = index.numel()
    _scatter_into(out, dim, index, value, False, wrap=True, index_strides=_index_strides(index, shape, dim),
                  shape=tuple(shape))
    return out


def _index_fill_samples():
    r = rng("index_fill")
    u = lambda *s: r.uniform(-2, 2, size=s)
    return [Sample([u(5), 0, _ix([4, 0, -1]), -1.5]), Sample([u(3, 4), 1, _ix([3, 1, 3]), 2]),
            Sample([u(2, 3, 4), -1, _ix(-2), 0.25]), Sample([u(), 0, _ix([0]), 7.0])]


_index_fill = Op("index_fill", cpu=_index_fill_cpu, cuda=_index_fill_cuda, save=(1,),
                 backward=lambda ctx, g: (index_fill(g, ctx.dim, ctx.inputs[1], 0), None),
                 samples=_index_fill_samples, kernels=_scatter_specs, family="gather")


def index_fill(input, dim, index, value):
    """A copy of ``input`` with the slices along ``dim`` at ``index`` (negatives count from the end)
    set to ``value`` (a number or a 0-dim tensor, read back to the host as in PyTorch).

    Example::

        >>> ttorch.zeros(3).index_fill(0, ttorch.tensor([-1]), 2.0).tolist()
        [0.0, 0.0, 2.0]
    """
    d = _wrap_dim(dim, input.ndim)
    _vector_index(index, "index_fill", (D.int64,))
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_(): Expected 0-dim value tensor, got shape {list(value.shape)}")
        if value.requires_grad:     # in the graph, as PyTorch's: where the filled slices are, the value
            from .ternary import where
            mask = _index_fill(Tensor._empty(input._shape, D.bool, input.device).fill_(False), index, dim=d,
                               value=True)
            return where(mask, value.to(input.dtype), input)
        value = value.item()
    return _index_fill(input, index, dim=d, value=value)


# ----------------------------------------------------------------------------- one_hot
def _one_hot_cpu(a, *, num_classes):
    out = np.zeros(a.shape + (num_classes,), np.int64)
    o = out.reshape(-1, num_classes)
    o[np.arange(a.size), a.reshape(-1)] = 1
    return out


def _one_hot_cuda(x, *, num_classes):
    from .creation import zeros
    out = zeros(x._shape + (num_classes,), dtype=D.int64, device=x.device)
    idx = x.unsqueeze(-1)
    return _scatter_into(out, out.ndim - 1, idx, 1, False)


def _one_hot_samples():
    r = rng("one_hot")
    return [Sample([r.integers(0, 4, (5,))], {"num_classes": 4}), Sample([r.integers(0, 3, (2, 3))]),
            Sample([np.array(2)], {"num_classes": 3}), Sample([np.zeros((0, 2), np.int64)], {"num_classes": 2})]


_one_hot = Op("one_hot", cpu=_one_hot_cpu, cuda=_one_hot_cuda, samples=_one_hot_samples, kernels=_scatter_specs,
              family="gather", dtypes=(D.int64,), plan_state=tuple)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding: a new last dim of size ``num_classes`` (default: max value + 1,
    read back to the host as in PyTorch) with a 1 at each value.

    Values are checked on cpu; on cuda (when ``num_classes`` is given) out-of-range values
    give rows of zeros instead of a device-side assert.

    Example::

        >>> one_hot(ttorch.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    if tensor.dtype is not D.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got {tensor.dtype.name}")
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("one_hot(): Can not infer total number of classes from empty tensor.")
        return _one_hot(tensor, num_classes=int(num_classes))
    if tensor.device.type == "cpu":
        vals = tensor._np
        if vals.min() < 0:
            raise RuntimeError("one_hot(): Class values must be non-negative.")
        if num_classes == -1:
            num_classes = int(vals.max()) + 1
        elif vals.max() >= num_classes:
            raise RuntimeError(f"one_hot(): Class values must be smaller than num_classes ({num_classes}), got "
                               f"{int(vals.max())}.")
    elif num_classes == -1:   # one scalar read back, as in PyTorch
        from . import FUNCTIONS
        amax = FUNCTIONS.get("amax")
        num_classes = int(amax(tensor).item() if amax else tensor._host().max()) + 1
    return _one_hot(tensor, num_classes=int(num_classes))


for _op in (_gather, _scatter, _scatter_add, _scatter_reduce, _index_select, _index_add, _index_copy, _index_fill,
            _one_hot):
    _op.public = globals()[_op.name]
    if _op.dtypes is None:
        _op.dtypes = (D.float32, D.float16, D.bfloat16, D.float64, D.int64)

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_copy",
           "index_fill", "take_along_dim"]
PUBLIC = {"one_hot": one_hot}
METHODS = {n: globals()[n] for n in __all__}
METHODS.update({n + "_": make_inplace(globals()[n], n + "_") for n in ("scatter", "scatter_add", "scatter_reduce",
                                                                       "index_add", "index_copy", "index_fill")})
