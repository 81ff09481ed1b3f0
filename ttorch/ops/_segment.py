"""Deterministic scatter on cuda: what deterministic mode (``_deterministic.py``) runs in place of
the atomic adds of ``gather.py``'s ``_scatter_kernel`` and ``indexing.py``'s ``_move_kernel``, and in
place of their plain stores where several positions name one target.

The destination is seen as ``T`` rows of ``M`` elements and the values as ``N`` rows of ``M``, each
value row with a target row (its key). A stable sort of the keys brings each target's value rows
together, in their original order; in ``_segment_sum_kernel`` the position that starts a target's
run finds its end and adds the run in order onto the destination's row (or, ``LAST``, stores the
run's last value), so each target is written by one program, its sum made in one order every run:
the order NumPy's ``add.at`` (the cpu path) adds in, so float32 results match the cpu's bit for bit.
Memory is O(N) whatever ``T``: a gather's backward into (tokens, vocabulary) sorts the tokens only.
A target with a long run (a padding token's embedding row) is summed by one program, serially.
Out-of-range indices are counted in the device-check slot (``gather._INDEX_CHECK``) as the atomic
kernels count them, and take no part.
"""
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor, _numel, _contig_strides
from ..autograd import grad_mode
from ..cuda import _checks
from ._launch import launch, cdiv, next_pow2, SIMULATED
from .elementwise import copy_into, tl_dtype
from .gather import _count_bad, _INDEX_CHECK, _acc


@triton.jit
def _segment_keys_kernel(key_ptr, base_ptr, idx_ptr, err_ptr, N, size, scale, sentinel, HAS_BASE: tl.constexpr,
                         WRAP: tl.constexpr, BLOCK: tl.constexpr):
    # key = base + index * scale (the target row), or ``sentinel`` where this index or an earlier
    # one of the same position (base == sentinel) is out of range
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    raw = tl.load(idx_ptr + offs, mask=mask, other=0).to(tl.int64)
    i = raw
    if WRAP:  # tensor indexing takes negative indices
        i = tl.where(raw < 0, raw + size, raw)
    ok = mask & (i >= 0) & (i < size)
    _count_bad(err_ptr, raw, ok, mask)
    key = i * scale
    if HAS_BASE:
        b = tl.load(base_ptr + offs, mask=mask, other=0)
        ok = ok & (b != sentinel)
        key += b
    tl.store(key_ptr + offs, tl.where(ok, key, sentinel), mask=mask)


@triton.jit
def _segment_sum_kernel(dst_ptr, src_ptr, keys_ptr, perm_ptr, N, T, M, STEPS, LAST: tl.constexpr,
                        ACC: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_M: tl.constexpr):
    # keys (N,) sorted, perm (N,) where each came from; dst (T, M) and src (N, M) contiguous. The
    # position j that starts a run of key t finds the run's end (binary search, STEPS halvings) and
    # adds src[perm[j]], src[perm[j + 1]]... in that order onto dst[t] (LAST: the run's last replaces
    # it); dst[t] is written by that one position.
    j = tl.program_id(0).to(tl.int64) * BLOCK_J + tl.arange(0, BLOCK_J)
    m = tl.program_id(1).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    jm = j < N
    mm = m < M
    k = tl.load(keys_ptr + j, mask=jm, other=0)
    prev = tl.load(keys_ptr + j - 1, mask=jm & (j > 0), other=-1)
    start = jm & (k != prev) & (k < T)          # (k == T: out of range, no part)
    lo = j + 1
    hi = tl.zeros_like(j) + N
    for _ in range(STEPS):                      # the first position past j with a larger key
        go = start & (lo < hi)
        mid = (lo + hi) // 2
        le = tl.load(keys_ptr + mid, mask=go, other=0) <= k
        lo = tl.where(go & le, mid + 1, lo)
        hi = tl.where(go & (le == 0), mid, hi)
    n = tl.where(start, lo - j, 0)
    s2 = start[:, None] & mm[None, :]
    ptrs = dst_ptr + k[:, None] * M + m[None, :]
    if LAST:
        p = tl.load(perm_ptr + j + n - 1, mask=start, other=0)
        tl.store(ptrs, tl.load(src_ptr + p[:, None] * M + m[None, :], mask=s2, other=0), mask=s2)
    else:
        acc = tl.load(ptrs, mask=s2, other=0).to(ACC)
        for i in range(0, tl.max(n, 0)):
            live = i < n
            p = tl.load(perm_ptr + j + i, mask=live, other=0)
            lm = live[:, None] & mm[None, :]
            v = tl.load(src_ptr + p[:, None] * M + m[None, :], mask=lm, other=0).to(ACC)
            acc = tl.where(lm, acc + v, acc)        # (not acc + 0: -0.0 + 0.0 would lose its sign)
        tl.store(ptrs, acc.to(dst_ptr.dtype.element_ty), mask=s2)


_BLOCK = 4096 if SIMULATED else 1024
# the sum kernel's tile: 512 elements over 4 warps (8x128 spilled on sm_80 and sm_90 with Triton 3.9;
# 512 compiled without for every width from 1 to 128, 2- and 4-byte types, sum and LAST)
_TILE = 4096 if SIMULATED else 512


def _blocks(N, M, itemsize):
    """The sum kernel's (positions, columns) block: half the tile for 8-byte elements (float64 sums,
    64x8 spilled 4 B on sm_90; 256 for every width none)."""
    bm = min(next_pow2(M), 1024 if SIMULATED else 128)
    tile = _TILE // 2 if itemsize == 8 and not SIMULATED else _TILE
    return max(1, min(next_pow2(N), tile // bm)), bm


def keys(idx, size, scale, sentinel, base=None, wrap=False):
    """The target rows ``base + idx * scale`` (int64, ``idx``'s length), or ``sentinel`` where ``idx``
    is out of ``[0, size)`` (or, ``wrap``, ``[-size, size)``) or ``base`` is ``sentinel`` already;
    ``idx`` a contiguous 1-D int tensor. ``base`` (int64, contiguous) is overwritten with the result."""
    n = idx._shape[0]
    out = Tensor._empty((n,), D.int64, idx.device) if base is None else base
    launch(_segment_keys_kernel, (cdiv(n, _BLOCK),), out, out, idx, _checks.slot(idx.device, _INDEX_CHECK), n, size,
           scale, sentinel, HAS_BASE=base is not None, WRAP=wrap, BLOCK=_BLOCK, num_warps=4)
    return out


def segment_into(dst, key, src, last=False):
    """``dst`` (T, M) contiguous, in place: each row ``src[j]`` (``src`` (N, M) contiguous) added to (or,
    ``last``, the last of them stored in) row ``key[j]`` of ``dst``, in the order of ``j``; a key of
    ``T`` takes no part. Memory: the sort's, O(N), whatever T."""
    from .sort import sort
    T, M = dst._shape
    N = key._shape[0]
    if N == 0 or T == 0 or M == 0:
        return dst
    with grad_mode.no_grad():
        sk, perm = sort(key)                    # stable: a target's rows stay in their order
    bj, bm = _blocks(N, M, dst.dtype.itemsize)
    launch(_segment_sum_kernel, (cdiv(N, bj), cdiv(M, bm)), dst, src, sk, perm, N, T, M, N.bit_length(), LAST=last,
           ACC=tl_dtype(_acc(dst.dtype) if not last else dst.dtype), BLOCK_J=bj, BLOCK_M=bm, num_warps=4)
    return dst


def _contig(t, dtype=None):
    """``t`` if contiguous in ``dtype`` (default its own), else a contiguous copy."""
    dtype = dtype or t.dtype
    if t.dtype is dtype and t.is_contiguous():
        return t
    return copy_into(Tensor._empty(t._shape, dtype, t.device), t)


def _offsets(shape, strides, dim, device):
    """(N,) int64: each position of ``shape`` (row-major) as an offset by ``strides``, ``dim``'s
    coordinate taken as 0; built from one arange per dim (O(N) memory, not the destination's)."""
    from .creation import arange, zeros
    with grad_mode.no_grad():
        out = zeros(shape, dtype=D.int64, device=device)
        for d, (n, st) in enumerate(zip(shape, strides)):
            if d != dim and n > 1:
                out += arange(0, n * st, st, device=device).reshape([n if i == d else 1 for i in range(len(shape))])
    return out.reshape(-1)


def scatter(dst, dim, shape, index, si, src, ss, add, wrap=False):
    """``dst`` in place: for each position ``p`` of ``shape``, ``src[p]`` added to (or stored in)
    ``dst`` at ``p`` with its ``dim`` coordinate replaced by ``index[p]`` (``index`` and ``src`` read
    through strides ``si``, ``ss`` over ``shape``); deterministically, as ``gather._scatter_into``."""
    X = dst._shape if dst.ndim else (1,)
    if _numel(shape) == 0 or _numel(X) == 0:
        return dst
    dview = dst if dst.ndim else dst._view((1,), (1,), dst._offset)
    rest = [d for d in range(len(X)) if d != dim]
    if all(si[d] == 0 and shape[d] == X[d] for d in rest):
        # one index per slice along dim (index_add, embedding's backward): dim brought first, target
        # rows of M elements, N = the index's length keys to sort
        order = [dim] + rest
        first = lambda t, sizes, st: t._view(tuple(sizes[d] for d in order), tuple(st[d] for d in order), t._offset)
        target, vals = first(dview, X, dview.stride()), _contig(first(src, shape, ss), dst.dtype)
        T, M = X[dim], _numel([X[d] for d in rest])
        k = keys(_contig(index._view((shape[dim],), (si[dim],), index._offset), D.int64), T, 1, T, wrap=wrap)
    else:
        # one target element per position: its offset in dst (contiguous), the position's own with
        # dim's coordinate replaced by the index
        target, vals = dview, _contig(src._view(shape, ss, src._offset), dst.dtype)
        T, M, N = _numel(X), 1, _numel(shape)
        cs = _contig_strides(X)
        idx = _contig(index._view(shape, si, index._offset), D.int64)
        k = keys(idx._view((N,), (1,), idx._offset), X[dim], cs[dim], T, base=_offsets(shape, cs, dim, dst.device),
                 wrap=wrap)
    w = _contig(target)
    segment_into(w._view((T, M), (M, 1), w._offset), k, vals._view((k._shape[0], M), (M, 1), vals._offset),
                 last=not add)
    if w is not target:
        copy_into(target, w)
    return dst


def _specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for base, wrap in ((False, False), (True, True)):
        sig = {"key_ptr": ptr(D.int64), "base_ptr": ptr(D.int64), "idx_ptr": ptr(D.int64), "err_ptr": ptr(D.int64),
               "N": "i32", "size": "i32", "scale": "i32", "sentinel": "i32"}
        specs.append(KernelSpec(_segment_keys_kernel, sig, {"HAS_BASE": base, "WRAP": wrap, "BLOCK": 1024},
                                label=f"segment keys{' base' if base else ''}{' wrap' if wrap else ''}"))
    for dt, last, bt, bm in ((D.float32, False, 512, 1), (D.float32, False, 4, 128), (D.bfloat16, False, 4, 128),
                             (D.float64, False, 256, 1), (D.float64, False, 32, 8), (D.float32, True, 512, 1),
                             (D.bfloat16, True, 4, 128), (D.bool, True, 512, 1), (D.int64, True, 8, 32)):
        sig = {"dst_ptr": ptr(dt), "src_ptr": ptr(dt), "keys_ptr": ptr(D.int64), "perm_ptr": ptr(D.int64),
               "N": "i32", "T": "i32", "M": "i32", "STEPS": "i32"}
        acc = dt if last else _acc(dt)
        specs.append(KernelSpec(_segment_sum_kernel, sig, {"LAST": last, "ACC": tl_dtype(acc), "BLOCK_J": bt,
                                                           "BLOCK_M": bm},
                                label=f"segment {'last' if last else 'sum'} {dt} {bt}x{bm}"))
    return specs
