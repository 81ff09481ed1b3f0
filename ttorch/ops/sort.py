"""Sorting and selection: ``sort``, ``argsort``, ``msort``, ``topk``, ``kthvalue``, ``unique``,
``unique_consecutive``.

The cuda path brings the sorted dim last and contiguous, views the input as (M, N) rows and
sorts (key, index) pairs with a bitonic network in registers. The key is an integer that
orders like the value: a float's bits with the sign folded (-0.0 and 0.0 share a key, every
NaN gets one key above +inf, as PyTorch sorts NaN as the largest value); descending order
inverts the key. Ties are broken by the index, so every sort is stable (PyTorch allows it
for ``stable=False``). Rows longer than one block are sorted in blocks and then merged:
each element finds its place in the merged run by a binary search in the other run.
The cpu path is NumPy's stable argsort.

Gradients flow from the values back through the indices: ``scatter`` of the gradient into
zeros, whose own backward is ``gather``.
"""

import numpy as np
import triton
import triton.language as tl
from triton.language.standard import _sum_combine

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim, _numel
from ..autograd import grad_mode
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from .elementwise import copy_into
from .reduction import to_rows
from .samples import Sample, rng

# Elements one program sorts in registers (half for 64-bit keys, sorted as (key, index)
# pairs); longer rows are sorted in pieces and merged. The interpreter runs each program in
# Python at a cost set by the network's steps (log2(n)**2 / 2), hardly by the elements: it
# sorts short pieces, many rows per program.
# 1024 on a GPU: a 4096-element network took ~160 s to compile for sm_80 (the same holds for
# tl.sort), a cost every user would pay on first use; longer rows take the merge passes.
MAX_BLOCK = 64 if SIMULATED else 1024
_PROGRAM_ELEMENTS = 1024
_MERGE_BLOCK = 512 if SIMULATED else 1024

from ..return_types import sort as sort_rt, topk as topk_rt, kthvalue as kthvalue_rt  # noqa: E402


# --------------------------------------------------------------------------- Triton: keys
@triton.jit
def _key(x, IS_FLOAT: tl.constexpr, BITS_T: tl.constexpr, MAG: tl.constexpr, INF: tl.constexpr,
         KEY: tl.constexpr):
    """An integer ordering like ``x``: floats by their bits with the sign folded, one key for NaN."""
    if IS_FLOAT:
        # integer ops only: the interpreter keeps bf16 as raw bits, where == and != would lie
        b = x.to(BITS_T, bitcast=True).to(KEY)
        mag = b & MAG
        k = tl.where(b < 0, -mag, mag)              # -0.0 -> 0, like +0.0
        k = tl.where(mag > INF, INF + 1, k)         # every NaN above +inf
    else:
        k = x.to(KEY)                               # bool and uint8 zero-extend
    return k


@triton.jit
def _bitonic_sort(k, i, LOG_N: tl.constexpr, NDIMS: tl.constexpr, PAIRS: tl.constexpr):
    """Sort along the last axis (2**LOG_N long) of a 2**NDIMS block: (key, index) pairs, or
    (PAIRS false) single words, ``i`` then passed through.

    The block is viewed as a hypercube [2] * NDIMS; a compare-and-swap across one axis pairs
    each element with the one whose position differs in that bit. One function, no helpers:
    the interpreter pays for every call of a jitted function."""
    hk = tl.reshape(k, [2] * NDIMS)
    if PAIRS:
        hi = tl.reshape(i, [2] * NDIMS)
    bit = tl.arange(0, 2)
    for stage in tl.static_range(1, LOG_N + 1):
        if stage < LOG_N:                           # blocks of 2**stage alternate direction
            flip = tl.reshape(bit, [1] * (NDIMS - stage - 1) + [2] + [1] * stage)
        else:
            flip = tl.zeros([1] * NDIMS, dtype=tl.int32)
        for s in tl.static_range(stage):
            # compare across hypercube axis NDIMS - stage + s: position bit stage - 1 - s.
            # The partner: (x + y) - x, exact in wrapping integer arithmetic. (Triton's own
            # sort uses an xor-sum; a sum costs the same compiled and, through its combine
            # function, runs on NumPy's fast path in the interpreter.)
            pk = tl.reduce(hk, NDIMS - stage + s, _sum_combine, keep_dims=True) - hk
            right = tl.reshape(bit, [1] * (NDIMS - stage + s) + [2] + [1] * (stage - 1 - s))
            if PAIRS:
                pi = tl.reduce(hi, NDIMS - stage + s, _sum_combine, keep_dims=True) - hi
                gt = (hk > pk) | ((hk == pk) & (hi > pi))   # pairs are distinct: the order is total
            else:
                gt = hk > pk
            swap = gt != (flip ^ right).to(tl.int1)
            hk = tl.where(swap, pk, hk)
            if PAIRS:
                hi = tl.where(swap, pi, hi)
    if PAIRS:
        i = tl.reshape(hi, i.shape)
    return tl.reshape(hk, k.shape), i


# --------------------------------------------------------------------------- Triton: kernels
@triton.jit
def _sort_kernel(x_ptr, vals_ptr, idx_ptr, keys_ptr, M, N, K, C, desc,
                 IS_FLOAT: tl.constexpr, BITS_T: tl.constexpr, MAG: tl.constexpr,
                 INF: tl.constexpr, KEY: tl.constexpr, KEY_MAX: tl.constexpr, CHUNKED: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, LOG_N: tl.constexpr, NDIMS: tl.constexpr):
    """Sort BLOCK_M pieces of BLOCK_N: each of the M rows of N is cut into C pieces. Whole rows
    (C == 1): write the first K values and indices of each row. Chunked: write every key and
    index, in place, for the merge passes."""
    r = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)            # (row, piece) pairs
    pos = (r % C)[:, None] * BLOCK_N + tl.arange(0, BLOCK_N)[None, :]  # place within the row
    live = (r < M * C)[:, None]
    m = live & (pos < N)
    base = (r // C).to(tl.int64)[:, None] * N
    x = tl.load(x_ptr + base + pos, mask=m, other=0)
    k = _key(x, IS_FLOAT, BITS_T, MAG, INF, KEY)
    k = k ^ -desc                                   # descending: ~k reverses the order, never overflows
    k = tl.where(m, k, KEY_MAX)                     # padding sorts last (its index is >= N)
    i = pos
    if LOG_N > 0:
        if KEY == tl.int32:
            # one int64 word (key << 32 | index) orders like the pair: half the network's work
            w = (k.to(tl.int64) << 32) | i.to(tl.int64)
            w, _ = _bitonic_sort(w, w, LOG_N, NDIMS, False)
            k = (w >> 32).to(tl.int32)
            i = (w & 0x7FFFFFFF).to(tl.int32)
        else:
            k, i = _bitonic_sort(k, i, LOG_N, NDIMS, True)
    if CHUNKED:
        tl.store(keys_ptr + base + pos, k, mask=m)
        tl.store(idx_ptr + base + pos, i, mask=m)
    else:
        om = live & (pos < K)
        obase = (r // C).to(tl.int64)[:, None] * K + pos
        tl.store(vals_ptr + obase, tl.load(x_ptr + base + i, mask=om), mask=om)
        tl.store(idx_ptr + obase, i.to(tl.int64), mask=om)


@triton.jit
def _merge_kernel(kin_ptr, iin_ptr, kout_ptr, iout_ptr, x_ptr, vals_ptr, N, K, W, STEPS,
                  LAST: tl.constexpr, BLOCK: tl.constexpr):
    """Merge sorted runs of W (key, index) pairs two by two: an element's place in the merged
    run is its place in its own run plus the count of smaller pairs in the other run."""
    row = tl.program_id(0).to(tl.int64)
    pos = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    m = pos < N
    base = row * N
    k = tl.load(kin_ptr + base + pos, mask=m)
    i = tl.load(iin_ptr + base + pos, mask=m)
    run = pos // W
    pair = (run - run % 2) * W
    in_a = run % 2 == 0
    start = tl.where(in_a, pair + W, pair)                        # the other run
    n_other = tl.where(in_a, tl.minimum(tl.maximum(N - pair - W, 0), W), W)
    lo = tl.zeros([BLOCK], dtype=tl.int32)
    hi = n_other
    for _ in range(STEPS):                          # binary search: pairs in the other run < (k, i)
        live = m & (lo < hi)
        mid = (lo + hi) // 2
        ok = tl.load(kin_ptr + base + start + mid, mask=live, other=0)
        oi = tl.load(iin_ptr + base + start + mid, mask=live, other=0)
        less = (ok < k) | ((ok == k) & (oi < i))
        lo = tl.where(live & less, mid + 1, lo)
        hi = tl.where(live & ~less, mid, hi)
    dst = pos - tl.where(in_a, pair, pair + W) + pair + lo
    if LAST:
        om = m & (dst < K)
        tl.store(vals_ptr + row * K + dst, tl.load(x_ptr + base + i, mask=om), mask=om)
        tl.store(iout_ptr + row * K + dst, i.to(tl.int64), mask=om)
    else:
        tl.store(kout_ptr + base + dst, k, mask=m)
        tl.store(iout_ptr + base + dst, i, mask=m)


_FLOAT_BITS = {D.float16: (tl.int16, 0x7FFF, 0x7C00), D.bfloat16: (tl.int16, 0x7FFF, 0x7F80),
               D.float32: (tl.int32, 0x7FFFFFFF, 0x7F800000),
               D.float64: (tl.int64, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000000)}


def _key_meta(dt):
    """Constexprs of ``_key`` for dtype ``dt``: 64-bit types key in int64, the rest in int32."""
    key, kmax = (tl.int64, 2 ** 63 - 1) if dt.itemsize == 8 else (tl.int32, 2 ** 31 - 1)
    if dt.is_floating_point:
        bits, mag, inf = _FLOAT_BITS[dt]
        return dict(IS_FLOAT=True, BITS_T=bits, MAG=mag, INF=inf, KEY=key), kmax
    return dict(IS_FLOAT=False, BITS_T=key, MAG=0, INF=0, KEY=key), kmax


def _sort_rows(rows, descending, k, out_shape):
    """Sort each row of contiguous (M, N) ``rows``: the first ``k`` values and int64 indices of
    each row, in new contiguous tensors of ``out_shape`` (whose memory is (M, k) rows)."""
    m, n = rows._shape
    vals = Tensor._empty(out_shape, rows.dtype, rows.device)
    idx = Tensor._empty(out_shape, D.int64, rows.device)
    if m == 0 or k == 0:
        return vals, idx
    meta, kmax = _key_meta(rows.dtype)
    wide = meta["KEY"] is tl.int64
    bn = min(next_pow2(n), MAX_BLOCK // 2 if wide else MAX_BLOCK)
    c = cdiv(n, bn)
    bm = max(1, min(next_pow2(m * c), (_PROGRAM_ELEMENTS // 2 if wide else _PROGRAM_ELEMENTS) // bn))
    log_n, chunked = bn.bit_length() - 1, c > 1
    if chunked:
        keys = [Tensor._empty((m, n), D.int64 if wide else D.int32, rows.device) for _ in range(2)]
        ids = [Tensor._empty((m, n), D.int32, rows.device) for _ in range(2)]
    launch(_sort_kernel, (cdiv(m * c, bm),), rows, None if chunked else vals, ids[0] if chunked else idx,
           keys[0] if chunked else None, m, n, k, c, int(descending), **meta, KEY_MAX=kmax, CHUNKED=chunked,
           BLOCK_M=bm, BLOCK_N=bn, LOG_N=log_n, NDIMS=log_n + bm.bit_length() - 1, num_warps=_warps(bm * bn))
    w, src = bn, 0
    while w < n:
        last = 2 * w >= n
        launch(_merge_kernel, (m, cdiv(n, _MERGE_BLOCK)), keys[src], ids[src], keys[1 - src],
               idx if last else ids[1 - src], rows, vals, n, k, w, w.bit_length(), LAST=last,
               BLOCK=_MERGE_BLOCK, num_warps=4)
        w, src = 2 * w, 1 - src
    return vals, idx


def _warps(elements):
    return 8 if elements >= 4096 else 4


# --------------------------------------------------------------------------- host: both devices
def _argsort_np(a, axis, descending):
    """NumPy's stable argsort; descending keeps ties in input order and puts NaN first."""
    if a.dtype.itemsize == 2 and a.dtype.kind not in "iu":
        a = a.astype(np.float32)                    # float16/bfloat16: exact, and sortable everywhere
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    # sorting the reversed row ascending and reversing back keeps equal elements in input order
    r = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return a.shape[axis] - 1 - np.flip(r, axis)


def _sort_cpu(a, *, dim, descending, k, select, n):
    idx = _argsort_np(a, dim, descending)
    if select is not None:                          # kthvalue: one column of the sorted dim
        idx = np.take(idx, [select], axis=dim)
    elif k != n:                                    # topk
        idx = np.take(idx, np.arange(k), axis=dim)
    return np.ascontiguousarray(idx), np.take_along_axis(a, idx, axis=dim)


def _move_last_to(t, dim):
    """``t`` (contiguous) with its last dim moved to ``dim``, as a fresh contiguous tensor."""
    if dim == t.ndim - 1:
        return t
    order = list(range(t.ndim - 1))
    order.insert(dim, t.ndim - 1)
    st = t.stride()
    view = t._view(tuple(t._shape[o] for o in order), tuple(st[o] for o in order), t._offset)
    return copy_into(Tensor._empty(view._shape, t.dtype, t.device), view)


def _column(t, j):
    view = t._view(t._shape[:-1] + (1,), t.stride(), t._offset + j)
    return copy_into(Tensor._empty(view._shape, t.dtype, t.device), view)


def _sort_cuda(x, *, dim, descending, k, select, n):
    rows = to_rows(x, (dim,))                                  # (M, n)
    keep = x._shape[:dim] + x._shape[dim + 1:]
    width = k if select is None else select + 1
    vals, idx = _sort_rows(rows, descending, width, keep + (width,))
    if select is not None:
        vals, idx = _column(vals, select), _column(idx, select)
    return _move_last_to(idx, dim), _move_last_to(vals, dim)


def _sort_bw(ctx, g_indices, g_values):
    # outputs are (indices, values) so that the saved output (output 0) is the indices;
    # the values' gradient goes back to where each value came from
    from .creation import zeros
    from .gather import scatter
    shape = list(ctx.output._shape)
    shape[ctx.dim] = ctx.n
    return (scatter(zeros(shape, dtype=g_values.dtype, device=g_values.device), ctx.dim, ctx.output, g_values),)


def _sort_op(name, samples, kernels):
    return Op(name, cpu=_sort_cpu, cuda=_sort_cuda, backward=_sort_bw, save=(), save_output=True,
              samples=samples, kernels=kernels, family="sort")


def _prep(input, dim, op):
    """``input`` (a 0-dim one as shape (1,)) and ``dim`` made non-negative."""
    if type(input) is not Tensor and getattr(input, "_level", None) is None:     # (``_level``: vmap's BatchedTensor)
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    d = _wrap_dim(dim, input.ndim)
    return (input.reshape(1), 0) if input.ndim == 0 else (input, d)


def _result(rt, input, indices, values, out, op):
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    if out is not None:
        values = write_out(out[0], values, op)
        indices = write_out(out[1], indices, op)
    return rt(values, indices)


# --------------------------------------------------------------------------- public: sort family
def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """Sort ``input`` along ``dim``: ``(values, indices)``. NaN sorts as the largest value.

    The sort is always stable (equal elements keep their order), which ``stable=False`` allows.

    Example::

        >>> ttorch.sort(ttorch.tensor([3., 1., 2.]), descending=True).indices
        tensor([0, 2, 1])
    """
    x, d = _prep(input, dim, "sort")
    n = x._shape[d]
    idx, vals = _sort(x, dim=d, descending=bool(descending), k=n, select=None, n=n)
    return _result(sort_rt, input, idx, vals, out, "sort")


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (stable); not differentiable."""
    with grad_mode.no_grad():
        return sort(input, dim, descending).indices


def msort(input, *, out=None):
    """``sort(input, dim=0).values``."""
    r = sort(input, dim=0).values
    return r if out is None else write_out(out, r, "msort")


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim``, always sorted."""
    x, d = _prep(input, dim, "topk")
    n = x._shape[d]
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    idx, vals = _topk(x, dim=d, descending=bool(largest), k=k, select=None, n=n)
    return _result(topk_rt, input, idx, vals, out, "topk")


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The ``k``-th smallest element along ``dim`` and its index (the first of equal elements)."""
    x, d = _prep(input, dim, "kthvalue")
    n = x._shape[d]
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    k = int(k)
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    idx, vals = _kthvalue(x, dim=d, descending=False, k=1, select=k - 1, n=n)
    if not keepdim and input.ndim:
        idx, vals = idx.squeeze(d), vals.squeeze(d)
    return _result(kthvalue_rt, input, idx, vals, out, "kthvalue")


# --------------------------------------------------------------------------- unique
@triton.jit
def _unique_kernel(v_ptr, perm_ptr, uniq_ptr, inv_ptr, start_ptr, counts_ptr, ngroups_ptr, N,
                   HAS_PERM: tl.constexpr, HAS_INV: tl.constexpr, NAN_DISTINCT: tl.constexpr,
                   IS_FLOAT: tl.constexpr, BITS_T: tl.constexpr, MAG: tl.constexpr, INF: tl.constexpr,
                   KEY: tl.constexpr, BLOCK: tl.constexpr):
    """One program walks the (sorted) values in blocks: an element starts a group when its key
    differs from the previous one; a running count of group starts numbers the groups. Then
    each group's count is the distance from its start to the next group's start."""
    groups = tl.sum(tl.zeros([BLOCK], dtype=tl.int64), 0)    # groups started before this block
    for s in range(0, N, BLOCK):
        offs = s + tl.arange(0, BLOCK)
        m = offs < N
        x = tl.load(v_ptr + offs, mask=m, other=0)
        k = _key(x, IS_FLOAT, BITS_T, MAG, INF, KEY)
        kp = _key(tl.load(v_ptr + offs - 1, mask=m & (offs > 0), other=0), IS_FLOAT, BITS_T, MAG, INF, KEY)
        first = (offs == 0) | (k != kp)
        if NAN_DISTINCT:
            if IS_FLOAT:                            # NaN != NaN: each NaN its own group
                first = first | (k == INF + 1)
        first = first & m
        f = first.to(tl.int64)
        g = groups + tl.cumsum(f, 0) - 1            # each element's group
        tl.store(uniq_ptr + g, x, mask=first)
        tl.store(start_ptr + g, offs.to(tl.int64), mask=first)
        if HAS_INV:
            if HAS_PERM:
                p = tl.load(perm_ptr + offs, mask=m, other=0)
            else:
                p = offs
            tl.store(inv_ptr + p, g, mask=m)
        groups += tl.sum(f, 0)
    tl.store(ngroups_ptr, groups)
    tl.debug_barrier()                              # the starts written above, seen by every thread
    for s in range(0, groups, BLOCK):
        offs = s + tl.arange(0, BLOCK)
        b = tl.load(start_ptr + offs, mask=offs < groups)
        e = tl.load(start_ptr + offs + 1, mask=offs + 1 < groups, other=N)
        tl.store(counts_ptr + offs, e - b, mask=offs < groups)


def _unique_rows_np(a, consecutive, dim):
    """Unique values (dim None) or slices along ``dim``: (unique, inverse, counts) in NumPy."""
    rows = a.reshape(-1, 1) if dim is None else np.moveaxis(a, dim, 0).reshape(a.shape[dim], -1)
    if a.dtype.itemsize == 2 and a.dtype.kind not in "iu":
        rows = rows.astype(np.float32)              # float16/bfloat16: exact, comparable everywhere
    n = rows.shape[0]
    if consecutive or rows.shape[1] == 0:
        order = np.arange(n)
    elif rows.shape[1] == 1:
        order = np.argsort(rows[:, 0], kind="stable")
    else:
        order = np.lexsort(rows.T[::-1])            # lexicographic, first column most significant
    s = rows[order]
    diff = s[1:] != s[:-1]
    if not consecutive and s.dtype.kind == "f":     # unique merges NaNs (NumPy and PyTorch's cpu)
        diff &= ~(np.isnan(s[1:]) & np.isnan(s[:-1]))
    first = np.concatenate([np.ones(min(n, 1), bool), diff.any(axis=1)])
    inv = np.empty(n, np.int64)
    inv[order] = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, n)).astype(np.int64)
    if dim is None:
        return a.reshape(-1)[order[first]], inv.reshape(a.shape), counts
    return np.take(a, order[first], axis=dim), inv, counts


def _unique_cpu(a, *, consecutive, dim, inverse):
    return _unique_rows_np(a, consecutive, dim)


def _unique_cuda(x, *, consecutive, dim, inverse):
    name = "unique_consecutive" if consecutive else "unique"
    if dim is not None:
        raise NotImplementedError(f"{name}(dim=...) is not implemented on cuda yet; use dim=None or a cpu tensor")
    rows = to_rows(x, tuple(range(x.ndim)))                   # (1, N)
    n = x.numel()
    dev = x.device
    inv = Tensor._empty(x._shape if inverse else (0,), D.int64, dev)
    uniq = Tensor._empty((n,), x.dtype, dev)
    counts = Tensor._empty((n,), D.int64, dev)
    if n == 0:
        return uniq, inv, counts
    if consecutive:
        vals, perm = rows, None
    else:
        vals, perm = _sort_rows(rows, False, n, (n,))
    ngroups = Tensor._empty((1,), D.int64, dev)
    starts = Tensor._empty((n,), D.int64, dev)
    meta, _ = _key_meta(x.dtype)
    launch(_unique_kernel, (1,), vals, perm, uniq, inv if inverse else None, starts, counts, ngroups, n,
           HAS_PERM=perm is not None, HAS_INV=inverse, NAN_DISTINCT=consecutive, **meta,
           BLOCK=min(next_pow2(n), 1024), num_warps=4)
    g = int(ngroups.item())                         # the output size: a host sync, as in PyTorch
    out = copy_into(Tensor._empty((g,), x.dtype, dev), uniq._view((g,), (1,), 0))
    return out, inv, copy_into(Tensor._empty((g,), D.int64, dev), counts._view((g,), (1,), 0))


def _unique_result(r, return_inverse, return_counts):
    out = (r[0],) + ((r[1],) if return_inverse else ()) + ((r[2],) if return_counts else ())
    return out[0] if len(out) == 1 else out


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The unique elements of ``input`` (flattened when ``dim`` is None, else the unique slices
    along ``dim``), in ascending order; with ``return_inverse`` each element's place in the
    output, with ``return_counts`` how often each occurs. NaNs count as one value and -0.0
    equals 0.0. The output is sorted even for ``sorted=False`` (PyTorch leaves the order open).

    Example::

        >>> ttorch.unique(ttorch.tensor([2, 1, 2]), return_counts=True)
        (tensor([1, 2]), tensor([1, 2]))
    """
    d = None if dim is None else _wrap_dim(dim, input.ndim)
    r = _unique(input, consecutive=False, dim=d, inverse=bool(return_inverse))
    return _unique_result(r, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Keep the first element of each run of equal consecutive elements (slices along ``dim``);
    NaNs are all distinct here, as ``NaN != NaN``."""
    d = None if dim is None else _wrap_dim(dim, input.ndim)
    r = _unique_consecutive(input, consecutive=True, dim=d, inverse=bool(return_inverse))
    return _unique_result(r, return_inverse, return_counts)


# --------------------------------------------------------------------------- samples
def _distinct(r, shape):
    """Distinct values, exact in bfloat16 (multiples of 1/4), so gradients are well defined."""
    n = _numel(shape)
    return ((r.permutation(n) - n // 2) / 4.0).reshape(shape)


def _ties(r, shape):
    return np.asarray(r.integers(-2, 3, size=shape) / 2.0)


def _sort_samples():
    r = rng("sort")
    out = [Sample([_distinct(r, s)], kw) for s, kw in [
        ((7,), {}), ((3, 5), {"dim": 0}), ((2, 3, 4), {"dim": 1, "descending": True}),
        ((4, 6), {"descending": True, "stable": True}), ((), {}), ((0,), {}), ((3, 0), {"dim": 1}),
        ((2, 0, 3), {"dim": 0}), ((2, 37), {"descending": True})]]
    out += [Sample([_ties(r, (3, 9))], {}, grad=False, note="ties"),
            Sample([_ties(r, (9, 3))], {"dim": 0, "descending": True}, grad=False, note="ties")]
    return out


def _topk_samples():
    r = rng("topk")
    out = [Sample([_distinct(r, s)], kw) for s, kw in [
        ((7,), {"k": 3}), ((3, 5), {"k": 2, "dim": 0, "largest": False}), ((2, 3, 4), {"k": 4}),
        ((5,), {"k": 0}), ((3, 5), {"k": 5, "dim": 1}), ((), {"k": 1}), ((2, 37), {"k": 7, "largest": False})]]
    out.append(Sample([_ties(r, (3, 9))], {"k": 4}, grad=False, note="ties"))
    return out


def _kthvalue_samples():
    r = rng("kthvalue")
    out = [Sample([_distinct(r, s)], kw) for s, kw in [
        ((7,), {"k": 3}), ((3, 5), {"k": 2, "dim": 0, "keepdim": True}), ((2, 3, 4), {"k": 3, "dim": 1}),
        ((), {"k": 1}), ((4, 1), {"k": 1})]]
    out.append(Sample([_ties(r, (3, 9))], {"k": 5}, grad=False, note="ties"))
    return out


def _unique_samples():
    r = rng("unique")
    return [Sample([_ties(r, s)], kw, grad=False) for s, kw in [
        ((9,), {}), ((3, 5), {"return_inverse": True, "return_counts": True}), ((0,), {"return_counts": True}),
        ((), {"return_inverse": True}), ((2, 3, 4), {"return_inverse": True})]]


# --------------------------------------------------------------------------- AOT configurations
def _sort_kernel_spec(dt, bm, bn, chunked=False):
    from ._aot import KernelSpec, ptr
    meta, kmax = _key_meta(dt)
    kd = D.int64 if meta["KEY"] is tl.int64 else D.int32
    sig = {"x_ptr": ptr(dt), "M": "i32", "N": "i32", "K": "i32", "C": "i32", "desc": "i32"}
    if chunked:
        sig.update(idx_ptr=ptr(D.int32), keys_ptr=ptr(kd))
        ce = {"vals_ptr": None}
    else:
        sig.update(vals_ptr=ptr(dt), idx_ptr=ptr(D.int64))
        ce = {"keys_ptr": None}
    log_n = bn.bit_length() - 1
    ce.update(**meta, KEY_MAX=kmax, CHUNKED=chunked, BLOCK_M=bm, BLOCK_N=bn, LOG_N=log_n,
              NDIMS=log_n + bm.bit_length() - 1)
    return KernelSpec(_sort_kernel, sig, ce, num_warps=_warps(bm * bn),
                      label=f"{dt} {bm}x{bn}{' chunked' if chunked else ''}")


def _merge_spec(dt, last):
    from ._aot import KernelSpec, ptr
    kd = D.int64 if dt.itemsize == 8 else D.int32
    sig = {"kin_ptr": ptr(kd), "iin_ptr": ptr(D.int32), "iout_ptr": ptr(D.int64 if last else D.int32),
           "N": "i32", "K": "i32", "W": "i32", "STEPS": "i32"}
    if last:
        sig.update(x_ptr=ptr(dt), vals_ptr=ptr(dt))
        ce = {"kout_ptr": None}
    else:
        sig.update(kout_ptr=ptr(kd))
        ce = {"x_ptr": None, "vals_ptr": None}
    ce.update(LAST=last, BLOCK=1024)
    return KernelSpec(_merge_kernel, sig, ce, label=f"merge {dt}{' last' if last else ''}")


def _sort_specs():
    return [_sort_kernel_spec(D.float32, 1, 1024), _sort_kernel_spec(D.float32, 8, 128),
            _sort_kernel_spec(D.bfloat16, 1, 1024, chunked=True), _sort_kernel_spec(D.float16, 1, 2),
            _sort_kernel_spec(D.int64, 4, 128), _sort_kernel_spec(D.float64, 1, 512, chunked=True),
            _sort_kernel_spec(D.uint8, 16, 64), _sort_kernel_spec(D.bool, 2, 512),
            _sort_kernel_spec(D.int8, 1, 1),
            _merge_spec(D.float32, False), _merge_spec(D.float32, True), _merge_spec(D.float64, False),
            _merge_spec(D.float64, True), _merge_spec(D.bfloat16, True)]


def _topk_specs():
    return [_sort_kernel_spec(D.float32, 1, 1024), _sort_kernel_spec(D.int32, 4, 8)]


def _unique_specs(consecutive):
    from ._aot import KernelSpec, ptr
    specs = []
    configs = (((D.bfloat16, False, True), (D.bool, False, False)) if consecutive else
               ((D.float32, True, True), (D.int64, True, False), (D.float64, True, True)))
    for dt, perm, inv in configs:
        meta, _ = _key_meta(dt)
        sig = {"v_ptr": ptr(dt), "uniq_ptr": ptr(dt), "start_ptr": ptr(D.int64), "counts_ptr": ptr(D.int64),
               "ngroups_ptr": ptr(D.int64), "N": "i32"}
        ce = dict(HAS_PERM=perm, HAS_INV=inv, NAN_DISTINCT=consecutive, **meta, BLOCK=1024)
        for name, on in (("perm_ptr", perm), ("inv_ptr", inv)):
            if on:
                sig[name] = ptr(D.int64)
            else:
                ce[name] = None
        specs.append(KernelSpec(_unique_kernel, sig, ce, label=f"{dt}{' sorted' if perm else ''}"
                                f"{' inverse' if inv else ''}{' consecutive' if consecutive else ''}"))
    return specs


# --------------------------------------------------------------------------- registration
# the generated tests run each sample in these dtypes (the rest are covered in tests/test_sort.py)
_sort = _sort_op("sort", _sort_samples, _sort_specs)
_sort.public, _sort.dtypes = sort, (D.float32, D.float64, D.bfloat16, D.int64, D.bool)
_topk = _sort_op("topk", _topk_samples, _topk_specs)
_topk.public, _topk.dtypes = topk, (D.float32, D.float16, D.int32)
_kthvalue = _sort_op("kthvalue", _kthvalue_samples, lambda: [_sort_kernel_spec(D.float16, 8, 16)])
_kthvalue.public, _kthvalue.dtypes = kthvalue, (D.float32, D.float64, D.int16)
_unique = Op("unique", cpu=_unique_cpu, cuda=_unique_cuda, samples=_unique_samples,
             kernels=lambda: _unique_specs(False), family="sort", public=unique,
             dtypes=(D.float32, D.bfloat16, D.int64, D.bool))
_unique_consecutive = Op("unique_consecutive", cpu=_unique_cpu, cuda=_unique_cuda, samples=_unique_samples,
                         kernels=lambda: _unique_specs(True), family="sort", public=unique_consecutive,
                         dtypes=(D.float32, D.int8))

# --------------------------------------------------------------------------- median
from ..return_types import median as median_rt, nanmedian as nanmedian_rt  # noqa: E402


def _median_impl(x, *, dim, keepdim, skip_nan):
    # the lower median of each row along ``dim`` from a stable sort (NaN last): with a NaN, median
    # takes the first NaN (PyTorch's propagation), nanmedian the lower median of the rest
    from . import FUNCTIONS as F
    n = x._shape[dim]
    with grad_mode.no_grad():
        order = sort(x, dim).indices
        nans = F["isnan"](x).sum(dim, keepdim=True)
        if skip_nan:
            m = n - nans
            k = F["where"](m > 0, (m - 1) // 2, 0)
        else:
            k = F["where"](nans > 0, n - nans, (n - 1) // 2)
        idx = order.gather(dim, k)
    vals = x.gather(dim, idx)                   # (the gradient flows to the picked elements)
    if not keepdim:
        vals, idx = vals.squeeze(dim), idx.squeeze(dim)
    return vals, idx


_median_op = Op("median", impl=_median_impl, family="sort")


def _median_of(input, dim, keepdim, out, name, rt, skip_nan):
    if type(input) is not Tensor:
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dim is None:                             # the median of every element: a 0-dim value
        x = input.reshape(-1)
        if x.numel() == 0:
            from .creation import full
            return full((), float("nan"), dtype=input.dtype, device=input.device)
        return _median_op(x, dim=0, keepdim=False, skip_nan=skip_nan)[0]
    x, d = _prep(input, dim, name)
    if x._shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    vals, idx = _median_op(x, dim=d, keepdim=bool(keepdim) or input.ndim == 0, skip_nan=skip_nan)
    return _result(rt, input, idx, vals, out, name)


def median(input, dim=None, keepdim=False, *, out=None):
    """The lower of the two middle values (``median`` of an even count): of every element (a 0-dim
    tensor), or along ``dim`` with its index, ``(values, indices)``. A NaN makes the median NaN
    (``nanmedian`` skips them).

    Example::

        >>> ttorch.median(ttorch.tensor([3., 1., 2., 4.]))
        tensor(2.)
    """
    return _median_of(input, dim, keepdim, out, "median", median_rt, False)


def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """``median`` of the values that are not NaN (NaN where all are; such a row's index is its
    first position, where PyTorch's is an artifact of its selection)."""
    return _median_of(input, dim, keepdim, out, "nanmedian", nanmedian_rt, True)


def _median_samples():
    r = rng("median")
    with_nan = r.uniform(-1, 1, (3, 5))
    with_nan[1, 2] = np.nan
    return [Sample([r.uniform(-1, 1, (4, 6))], {"dim": 1}),
            Sample([r.uniform(-1, 1, (5, 3))], {"dim": 0, "keepdim": True}),
            Sample([r.uniform(-1, 1, 7)]), Sample([r.uniform(-1, 1, (2, 3, 4))], {"dim": -1}),
            Sample([with_nan], {"dim": 1}, grad=False)]


_median_op.samples, _median_op.dtypes = _median_samples, (D.float32, D.float64)
_median_op.public = median

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive", "median", "nanmedian"]
METHODS = {n: globals()[n] for n in __all__}
