"""Indexing: ``x[key]``, ``x[key] = value``, ``index_put``, ``nonzero``, the masked ops, ``copy_``/``fill_``.

A key is parsed once (``_parse``) into view steps over ``x``'s dims (ints, slices, new axes)
and advanced index tensors (integer tensors, lists, arrays; bool masks become their nonzero
coordinates). The view steps make ONE strided view of ``x``: ``x[1:, 0]`` shares memory, and
its backward scatters the gradient into zeros through the same view. Advanced indices then
gather a copy with the ``index`` op, whose backward is ``index_put`` with accumulation.

Writes take the same parse. Without autograd they go straight into ``x``'s memory; with it, a
key of view steps alone is ``copy_`` into that view (``x`` takes a CopySlices node, as in
PyTorch), and a key with index tensors is ``index_put``, computed out of place, whose node
``x`` takes; either way gradients reach the written value and not the overwritten one.

One Triton kernel (``_move_kernel``) moves elements between an indexed tensor and a dense
one (gather, put, accumulate; in deterministic mode ``_segment.py`` puts and accumulates) over
(broadcast index rows) x (remaining dims); ``nonzero`` counts per block, scans the counts and
writes coordinates (one host sync for the count).
"""
import operator
import warnings

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, _deterministic as _det
from ..autograd import grad_mode
from .._tensor import Tensor, _numel, _contig_strides
from ..cuda import _checks
from . import _plan
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from .creation import _filled
from .elementwise import copy_into, broadcast_shapes, scalar_operand, tl_dtype, _bstrides, _collapse, ew_kernel_sig, \
    _aligned
from .gather import _count_bad, _INDEX_CHECK
from .inplace import inplace_from, fw_tracked
from . import _op as _op_module
from .movement import _upload, _to_device_np, to_device, _copy_specs
from .samples import Sample, rng, index as _ix
from .views import _strided

# ============================================================================ parsing a key
# View steps: ("full",) keeps a dim, ("int", i) selects, ("slice", start, stop, step) narrows,
# ("new",) inserts a size-1 dim, ("adv",) marks a dim taken by the next index tensor and
# ("newadv",) inserts a size-1 dim indexed by the next one (Python bools, as PyTorch does).
_FULL, _ADV, _NEW, _NEWADV = ("full",), ("adv",), ("new",), ("newadv",)
_TYPE = {D.float32: "Float", D.float64: "Double", D.float16: "Half", D.bfloat16: "BFloat16", D.int64: "Long",
         D.int32: "Int", D.int16: "Short", D.int8: "Char", D.uint8: "Byte", D.bool: "Bool"}


def _key_tuple(key):
    if type(key) is tuple:
        return key
    # PyTorch keeps NumPy's old rule: a short list holding a sequence, slice, None or ... is a tuple
    if type(key) is list and len(key) < 32 and any(
            isinstance(o, (Tensor, list, tuple, slice, range, np.ndarray)) or o is None or o is Ellipsis for o in key):
        return tuple(key)
    return (key,)


def _index_tensor(obj):
    """A list, tuple, range, array or tensor used as an index, as a tensor (int64/int32 or bool)."""
    if isinstance(obj, Tensor):
        t = obj
    else:
        if isinstance(obj, (list, tuple)) and any(isinstance(o, Tensor) for o in obj):
            obj = [o.tolist() if isinstance(o, Tensor) else o for o in obj]
        a = np.asarray(obj)
        if not isinstance(obj, np.ndarray) and a.dtype != np.bool_:
            if a.dtype == object:
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                                 "valid indices")
            a = a.astype(np.int64)  # PyTorch makes index lists Long (even empty or float ones)
        t = Tensor._wrap_np(np.ascontiguousarray(a))
    if t.dtype is D.uint8:
        warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead.")
        t = t.to(D.bool)
    if t.dtype not in (D.int64, D.int32, D.bool):
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return t


def _on(t, device):
    """Index tensor ``t`` on ``device``: cpu indices serve any tensor, as in PyTorch."""
    if t.device == device:
        return t
    if t.device.type != "cpu":
        raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed tensor ({device})")
    return to_device(t, device)


def _check_bounds(t, n, d):
    """IndexError for an out-of-range index when its values are on the host (cuda indices skip
    out-of-range entries on the device instead, where PyTorch raises a device-side assert)."""
    if t.device.type != "cpu" or not t.numel():
        return
    a = t._np
    bad = (a < -n) | (a >= n)
    if bad.any():
        raise IndexError(f"index {a[bad].flat[0]} is out of bounds for dimension {d} with size {n}")


def _slice_item(s, n):
    step = 1 if s.step is None else operator.index(s.step)
    if step <= 0:
        raise ValueError("step must be greater than zero")
    start, stop, _ = slice(s.start, s.stop, step).indices(n)
    if start == 0 and stop >= n and step == 1:
        return _FULL
    return ("slice", start, stop, step)


def _elements(key):
    out = []
    for o in _key_tuple(key):
        if o is None or o is Ellipsis or isinstance(o, slice):
            out.append(o)
        elif isinstance(o, (bool, np.bool_)):
            out.append(bool(o))
        elif isinstance(o, (int, np.integer)):
            out.append(int(o))
        elif isinstance(o, (Tensor, list, tuple, range, np.ndarray)):
            t = _index_tensor(o)
            if t.ndim == 0:  # a 0-dim index selects (a view), a 0-dim bool acts as a Python bool
                out.append(bool(t.item()) if t.dtype is D.bool else int(t.item()))
            else:
                out.append(t)
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                             f"valid indices (got {type(o).__name__})")
    return out


def _parse(x, key):
    """``key`` as (view steps, advanced index tensors on ``x``'s device); IndexError as PyTorch."""
    elems = _elements(key)
    if sum(e is Ellipsis for e in elems) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = 0
    for e in elems:
        if isinstance(e, Tensor):
            used += e.ndim if e.dtype is D.bool else 1
        elif isinstance(e, (int, slice)) and not isinstance(e, bool):
            used += 1
    if used > x.ndim:
        if x.ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
                             "C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    items, tensors = [], []
    d = vd = 0  # the dim of x consumed next, and the dim of the view being built
    for e in elems:
        if e is None:
            items.append(_NEW)
            vd += 1
        elif e is Ellipsis:
            k = x.ndim - used
            items += [_FULL] * k
            d += k
            vd += k
        elif isinstance(e, bool):
            items.append(_NEWADV)
            tensors.append(_on(Tensor._wrap_np(np.zeros(1 if e else 0, np.int64)), x.device))
            vd += 1
        elif isinstance(e, int):
            n = x._shape[d]
            if not -n <= e < n:
                raise IndexError(f"index {e} is out of bounds for dimension {d} with size {n}")
            items.append(("int", e % n))
            d += 1
        elif isinstance(e, slice):
            items.append(_slice_item(e, x._shape[d]))
            d += 1
            vd += 1
        elif e.dtype is D.bool:
            for j in range(e.ndim):
                if e._shape[j] != x._shape[d + j]:
                    raise IndexError(f"The shape of the mask {list(e.shape)} at index {j} does not match the shape of "
                                     f"the indexed tensor {list(x.shape)} at index {d + j}")
            if e.device != x.device and e.device.type != "cpu":
                _on(e, x.device)  # raises
            nz = _nonzero(e.detach())                                   # (n, k) coordinates
            for j in range(e.ndim):
                items.append(_ADV)
                tensors.append(_on(_column(nz, j), x.device))
            d += e.ndim
            vd += e.ndim
        else:
            _check_bounds(e, x._shape[d], vd)
            items.append(_ADV)
            tensors.append(_on(e.detach(), x.device))
            d += 1
            vd += 1
    return tuple(items), tensors


def _column(nz, j):
    return nz._view((nz._shape[0],), (nz._shape[1],), nz._offset + (j if nz._shape[0] else 0))


def _geometry(shape, stride, offset, items):
    """Shape, stride and offset of the view ``items`` select, and the dims the index tensors take."""
    shape, stride = list(shape), list(stride)
    base, d, pos = offset, 0, []
    for it in items:
        kind = it[0]
        if kind == "full":
            d += 1
        elif kind == "adv":
            pos.append(d)
            d += 1
        elif kind == "int":
            offset += it[1] * stride[d]
            del shape[d], stride[d]
        elif kind == "slice":
            _, start, stop, step = it
            offset += start * stride[d]
            shape[d] = max(0, -(-(stop - start) // step))
            stride[d] *= step
            d += 1
        else:  # "new", "newadv"
            stride.insert(d, stride[d] * shape[d] if d < len(shape) else 1)
            shape.insert(d, 1)
            if kind == "newadv":
                pos.append(d)
            d += 1
    if 0 in shape:
        offset = base  # an empty view may start past the end of its storage
    return tuple(shape), tuple(stride), offset, tuple(pos)


def _basic_view(x, items):
    """The view ``items`` select as one autograd-aware strided view, and the dims left to index."""
    shape, stride, offset, pos = _geometry(x._shape, x.stride(), x._offset, items)
    return _strided(x, shape, stride, offset, "index", fn=lambda t: _basic_view(t, items)[0]), pos


def _raw_view(x, items):
    shape, stride, offset, pos = _geometry(x._shape, x.stride(), x._offset, items)
    return x._view(shape, stride, offset), pos


def _np_view(a, items):
    key = []
    for it in items:
        kind = it[0]
        key.append(slice(None) if kind in ("full", "adv") else it[1] if kind == "int" else
                   slice(it[1], it[2], it[3]) if kind == "slice" else None)
    v = a[tuple(key) + (Ellipsis,)]  # the Ellipsis keeps a 0-dim result a view
    return v, _geometry(a.shape, (0,) * a.ndim, 0, items)[3]


def _adjacent(pos):
    return tuple(pos) == tuple(range(pos[0], pos[0] + len(pos)))


def _bshape(idx):
    try:
        return broadcast_shapes(*[i._shape for i in idx])
    except RuntimeError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes " +
                         ", ".join(str(list(i.shape)) for i in idx)) from None


def _result_shape(vshape, pos, bshape):
    """NumPy's rule: adjacent index dims are replaced in place, separated ones go first."""
    if _adjacent(pos):
        return vshape[:pos[0]] + tuple(bshape) + vshape[pos[-1] + 1:]
    return tuple(bshape) + tuple(s for d, s in enumerate(vshape) if d not in pos)


def _strip_ones(v):
    """PyTorch drops leading size-1 dims of an assigned value before broadcasting it."""
    k = 0
    while k < v.ndim and v._shape[k] == 1:
        k += 1
    return v.reshape(v._shape[k:]) if k else v


def _check_value(value, target, advanced):
    vshape = value._shape
    ok = len(vshape) <= len(target) and all(a in (1, b) for a, b in zip(vshape[::-1], target[::-1]))
    if ok:
        return
    if advanced:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(vshape)} cannot be broadcast to indexing "
                           f"result of shape {list(target)}")
    for i in range(1, min(len(vshape), len(target)) + 1):
        if vshape[-i] not in (1, target[-i]):
            raise RuntimeError(f"The expanded size of the tensor ({target[-i]}) must match the existing size "
                               f"({vshape[-i]}) at non-singleton dimension {len(target) - i}.  Target sizes: "
                               f"{list(target)}.  Tensor sizes: {list(vshape)}")
    raise RuntimeError(f"expand(torch.{_TYPE[value.dtype]}Tensor{{{list(vshape)}}}, size={list(target)}): the number "
                       f"of sizes provided ({len(target)}) must be greater or equal to the number of dimensions in "
                       f"the tensor ({len(vshape)})")


# ============================================================================ the move kernel
_GATHER, _PUT, _ACCUMULATE = 0, 1, 2


@triton.jit
def _move_kernel(x_ptr, d_ptr, idx_ptr, meta_ptr, err_ptr, NB, NR, db, R1, R2, xr0, xr1, xr2, dr0, dr1, dr2,
                 K: tl.constexpr, MODE: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_R: tl.constexpr):
    # rows b: positions of the broadcast index tensors (idx_ptr is (K, NB) int64);
    # columns r: the remaining dims (up to 3 after merging). meta_ptr: K sizes, then K strides.
    nrb = tl.cdiv(NR, BLOCK_R)
    pid = tl.program_id(0)
    b = (pid // nrb).to(tl.int64) * BLOCK_B + tl.arange(0, BLOCK_B)
    r = (pid % nrb).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    bmask = b < NB
    ok = bmask
    xo = tl.zeros([BLOCK_B], dtype=tl.int64)
    for j in tl.static_range(K):
        raw = tl.load(idx_ptr + j * NB + b, mask=bmask, other=0).to(tl.int64)
        n = tl.load(meta_ptr + j)
        i = tl.where(raw < 0, raw + n, raw)
        inside_j = (i >= 0) & (i < n)
        _count_bad(err_ptr, raw, inside_j, bmask)     # out of range: skipped, and raised at the next sync
        ok = ok & inside_j
        xo += i * tl.load(meta_ptr + K + j)
    i2 = r % R2
    t = r // R2
    i1 = t % R1
    i0 = t // R1
    xoff = xo[:, None] + (i0 * xr0 + i1 * xr1 + i2 * xr2)[None, :]
    doff = b[:, None] * db + (i0 * dr0 + i1 * dr1 + i2 * dr2)[None, :]
    inside = bmask[:, None] & (r < NR)[None, :]
    m = ok[:, None] & inside
    if MODE == 0:
        tl.store(d_ptr + doff, tl.load(x_ptr + xoff, mask=m, other=0), mask=inside)
    elif MODE == 1:
        tl.store(x_ptr + xoff, tl.load(d_ptr + doff, mask=m), mask=m)
    else:
        tl.atomic_add(x_ptr + xoff, tl.load(d_ptr + doff, mask=m), mask=m)


_TILE = 4096 if SIMULATED else 1024
# tl.atomic_add's types; the interpreter has no bf16 atomics (a GPU does), so it widens bf16
_ATOMIC = {D.float32, D.float16, D.float64, D.int32, D.int64} | (set() if SIMULATED else {D.bfloat16})


def _flat_stride(sizes, strides):
    """One stride walking dims ``sizes`` in order, or None when they don't flatten."""
    dims = [(n, s) for n, s in zip(sizes, strides) if n != 1]
    for (_, s0), (n1, s1) in zip(dims, dims[1:]):
        if s0 != s1 * n1:
            return None
    return dims[-1][1] if dims else 0


_CONSTANTS = {}


def _constants(values, device):
    """A tuple of ints (a kernel's sizes and strides) as an int64 tensor on ``device``, uploaded once per
    (values, device) and kept: the kernels only read it, and a model indexes with the same shapes every
    step, where an upload each call was a staged host-to-device copy and its driver calls."""
    key = (values, device)
    t = _CONSTANTS.get(key)
    if t is None:
        if len(_CONSTANTS) > 256:       # (freed blocks are reused in stream order, after the kernels before)
            _CONSTANTS.clear()
        t = _CONSTANTS[key] = _plan.constant(_upload(np.array(values, np.int64), device))
    return t


def _move(x, idx, pos, dense, mode):
    """Move elements between ``x`` at index tensors ``idx`` (dims ``pos``) and ``dense``, which has
    the index result's shape: gather into ``dense``, or put / accumulate ``dense`` into ``x``."""
    bshape = _bshape(idx)
    nb, k = len(bshape), len(pos)
    b0 = pos[0] if _adjacent(pos) else 0
    bdims = range(b0, b0 + nb)
    rest = [d for d in range(x.ndim) if d not in pos]
    rdims = [d for d in range(dense.ndim) if d not in bdims]
    db = _flat_stride([dense._shape[d] for d in bdims], [dense.stride()[d] for d in bdims])
    if db is None:  # broadcast values whose index dims don't flatten: materialize them
        dense = copy_into(Tensor._empty(dense._shape, dense.dtype, dense.device), dense)
        db = _flat_stride([dense._shape[d] for d in bdims], [dense.stride()[d] for d in bdims])
    n_b, n_r = _numel(bshape), _numel([x._shape[d] for d in rest])
    if n_b == 0 or n_r == 0:
        return
    if k == 1 and idx[0].dtype is D.int64 and idx[0]._shape == bshape and idx[0].is_contiguous():
        rows = idx[0]
    else:
        rows = Tensor._empty((k, n_b), D.int64, x.device)
        for j, i in enumerate(idx):
            copy_into(rows._view(bshape, _contig_strides(bshape), j * n_b), i)
    if mode != _GATHER and _det.MODE and (mode == _PUT or x.dtype.is_floating_point):
        return _move_deterministic(x, rows, pos, dense, list(bdims), rest, rdims, mode)
    xs, ds = x.stride(), dense.stride()
    meta = _constants(tuple([x._shape[p] for p in pos] + [xs[p] for p in pos]), x.device)
    sizes, (xr, dr) = _collapse([x._shape[d] for d in rest], [[xs[d] for d in rest], [ds[d] for d in rdims]])
    _launch_move(x, dense, rows, meta, n_b, db, sizes, xr, dr, k, mode)


def _move_deterministic(x, rows, pos, dense, bdims, rest, rdims, mode):
    """``_move``'s put or accumulate in deterministic mode (``_segment.py``): ``x`` seen as (indexed
    dims, rest) = (T, M) and ``dense`` as (index positions, rest) = (N, M), a position's target row
    the row-major offset of its indices; repeated targets add up in index order, or the last wins."""
    from . import _segment
    perm = lambda t, dims: t._view(tuple(t._shape[d] for d in dims), tuple(t.stride()[d] for d in dims), t._offset)
    xp = perm(x, list(pos) + rest)
    T, M, N = _numel(xp._shape[:len(pos)]), _numel(xp._shape[len(pos):]), _numel(rows._shape) // len(pos)
    w = _segment._contig(xp)
    vals = _segment._contig(perm(dense, bdims + rdims), x.dtype)
    key = None
    for j, p in enumerate(pos):
        scale = _numel([x._shape[q] for q in pos[j + 1:]])
        key = _segment.keys(rows._view((N,), (1,), rows._offset + j * N), x._shape[p], scale, T, base=key, wrap=True)
    _segment.segment_into(w._view((T, M), (M, 1), w._offset), key, vals._view((N, M), (M, 1), vals._offset),
                          last=mode == _PUT)
    if w is not xp:
        copy_into(xp, w)


def _shift(t, off):
    return t._view(t._shape, t.stride(), t._offset + off)


def _launch_move(x, dense, rows, meta, n_b, db, sizes, xr, dr, k, mode):
    if len(sizes) > 3:  # more remaining dims than the kernel walks: loop over the leading one
        for i in range(sizes[0]):
            _launch_move(_shift(x, i * xr[0]), _shift(dense, i * dr[0]), rows, meta, n_b, db, sizes[1:], xr[1:],
                         dr[1:], k, mode)
        return
    pad = 3 - len(sizes)
    sizes, xr, dr = [1] * pad + list(sizes), [0] * pad + list(xr), [0] * pad + list(dr)
    n_r = _numel(sizes)
    br = min(next_pow2(n_r), _TILE)
    bb = max(1, min(next_pow2(n_b), _TILE // br))
    launch(_move_kernel, (cdiv(n_b, bb) * cdiv(n_r, br),), x, dense, rows, meta, _checks.slot(x.device, _INDEX_CHECK),
           n_b, n_r, db, sizes[1], sizes[2], *xr, *dr, K=k, MODE=mode, BLOCK_B=bb, BLOCK_R=br, num_warps=4)


def _move_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    configs = [(D.float32, _GATHER, 1, 1, 1024), (D.float32, _GATHER, 2, 4, 256), (D.float16, _GATHER, 1, 8, 128),
               (D.bfloat16, _GATHER, 1, 1, 1024), (D.float64, _GATHER, 3, 1024, 1), (D.int64, _GATHER, 1, 1024, 1),
               (D.bool, _GATHER, 1, 1, 1024), (D.float32, _PUT, 1, 1, 1024), (D.bfloat16, _PUT, 2, 4, 256),
               (D.int64, _PUT, 1, 1024, 1)]
    configs += [(dt, _ACCUMULATE, 1, 1, 1024) for dt in (D.float32, D.float16, D.bfloat16, D.float64, D.int32,
                                                         D.int64)]
    for dt, mode, k, bb, br in configs:
        sig = {"x_ptr": ptr(dt), "d_ptr": ptr(dt), "idx_ptr": "*i64", "meta_ptr": "*i64", "err_ptr": "*i64",
               "NB": "i32", "NR": "i32", "db": "i64", "R1": "i32", "R2": "i32"}
        sig.update({s: "i64" for s in ("xr0", "xr1", "xr2", "dr0", "dr1", "dr2")})
        specs.append(KernelSpec(_move_kernel, sig, {"K": k, "MODE": mode, "BLOCK_B": bb, "BLOCK_R": br},
                                label=f"{('gather', 'put', 'accumulate')[mode]} {dt} K={k} {bb}x{br}"))
    return specs


# ============================================================================ index (gather)
def _index_cpu(a, *idx, pos, in_shape):
    key = [slice(None)] * a.ndim
    for p, i in zip(pos, idx):
        key[p] = i
    return a[tuple(key)]


def _index_cuda(x, *idx, pos, in_shape):
    out = Tensor._empty(_result_shape(x._shape, pos, _bshape(idx)), x.dtype, x.device)
    _move(x, idx, pos, out, _GATHER)
    return out


def _full_items(pos, ndim):
    return tuple(_ADV if d in pos else _FULL for d in range(ndim))


def _index_bw(ctx, g):
    from .creation import zeros
    idx = ctx.inputs[1:]
    z = zeros(ctx.in_shape, dtype=g.dtype, device=g.device)
    return (_index_put(z, g, *idx, items=_full_items(ctx.pos, len(ctx.in_shape)), accumulate=True),) + \
        (None,) * len(idx)


def _getitem_samples():
    r = rng("index")
    m = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
    keys = [((5,), ([0, 2, -1, 2],)), ((3, 4), ([[0, 2], [1, 1]],)), ((3, 4), (slice(None), [3, 0, 1])),
            ((3, 4), ([0, 2], [1, -1])), ((2, 3, 4), ([1, 0], slice(None), [2, 3])), ((2, 3, 4), (Ellipsis, [0, 0, 3])),
            ((3, 4), (m,)), ((3, 4), (np.array([True, False, True]),)), ((2, 3, 4), (1, slice(1, None), [0, 2])),
            ((3, 4), ([],)), ((3, 4), (None, [1, 2])), ((4,), (True,)), ((2, 3, 4), ([[0], [1]], [0, 2, 1])),
            ((2, 3, 4, 5), (slice(None), [0, 2], slice(None, None, 2), [[1], [4]])), ((7,), (np.array([6, 0, 3]),))]
    return [Sample([r.uniform(-2, 2, size=s), k]) for s, k in keys]


def _getitem_public(input, key):
    return input[key]


_index = Op("index", cpu=_index_cpu, cuda=_index_cuda, backward=_index_bw, save=range(1, 1 << 30),
            samples=_getitem_samples, kernels=_move_specs, family="indexing", public=_getitem_public,
            dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool),
            plan_state=lambda: _TILE)       # its launches: the metadata, _TILE, the kept constants (_plan.py)


def _basic(x, key):
    """``x[key]`` for a key of ints, slices, None and at most one ``...`` (``x[:, -1]``, ``m[:, :, :T, :T]``):
    the strided view in one walk, where ``_parse`` builds the general form; None for anything else
    (tensors, bools, NumPy ints, errors), which the general path handles and reports."""
    items = key if type(key) is tuple else (key,)
    used, ell = 0, False
    for o in items:
        t = type(o)
        if t is int or t is slice:
            used += 1
        elif o is Ellipsis:
            if ell:
                return None
            ell = True
        elif o is not None:
            return None
    nd = len(x._shape)
    if used > nd:
        return None
    shape, stride = list(x._shape), list(x.stride())
    offset, d = x._offset, 0
    for o in items:
        t = type(o)
        if t is slice:
            n = shape[d]
            if o.step is None and o.start is None and o.stop is None:
                d += 1
                continue
            start, stop, step = o.indices(n)
            if step <= 0:
                return None
            offset += start * stride[d]
            shape[d] = max(0, -(-(stop - start) // step))
            stride[d] *= step
            d += 1
        elif t is int:
            n = shape[d]
            if not -n <= o < n:
                return None
            offset += (o % n) * stride[d]
            del shape[d], stride[d]
        elif o is None:
            stride.insert(d, stride[d] * shape[d] if d < len(shape) else 1)
            shape.insert(d, 1)
            d += 1
        else:                                           # ...: the dims no other item takes
            d += nd - used
    if 0 in shape:
        offset = x._offset                              # an empty view may start past the end of its storage
    return _strided(x, shape, stride, offset, "index", fn=lambda t: t[key])


def __getitem__(self, key):
    """``x[key]`` with PyTorch's semantics: ints, slices, None, ..., bools and views; integer
    tensors/lists/arrays and bool masks gather a copy."""
    if type(key) is Tensor and key.device is self.device and self.device.type != "cpu" and key._shape \
            and self._shape and (key.dtype is D.int64 or key.dtype is D.int32):
        return _index(self, key, pos=(0,), in_shape=self._shape)   # x[idx] on a device: what _parse makes of it
    v = _basic(self, key)
    if v is not None:
        return v
    items, idx = _parse(self, key)
    if len(idx) > 1:
        _bshape(idx)  # IndexError on a mismatch, on every device
    if idx and all(it is _FULL or it is _ADV for it in items):
        v, pos = self, tuple(d for d, it in enumerate(items) if it is _ADV)
    else:
        v, pos = _basic_view(self, items)
    return _index(v, *idx, pos=pos, in_shape=v._shape) if idx else v


# ============================================================================ index_put
def _put_np(a, v, idx, items, accumulate):
    view, pos = _np_view(a, items)
    key = [slice(None)] * view.ndim
    for p, i in zip(pos, idx):
        key[p] = i
    key = tuple(key)
    if accumulate:
        if idx:
            np.add.at(view, key, v)
        else:
            view += v
    else:
        view[key] = v


def _put_cuda(t, v, idx, items, accumulate):
    view, pos = _raw_view(t, items)
    if v.untyped_storage() is t.untyped_storage():  # x[a] = x[b]: read all before writing
        v = copy_into(Tensor._empty(v._shape, v.dtype, v.device), v)
    if not idx:
        if accumulate:
            from .binary import add
            with grad_mode.no_grad():
                v = add(view, v)
        copy_into(view, v)
        return
    rshape = _result_shape(view._shape, pos, _bshape(idx))
    dense = v._view(rshape, _bstrides(v, rshape), v._offset)
    if accumulate and t.dtype not in _ATOMIC:  # accumulate in a type the atomics know
        wide = D.float32 if t.dtype.is_floating_point else D.int32
        tmp = copy_into(Tensor._empty(view._shape, wide, t.device), view)
        _move(tmp, idx, pos, copy_into(Tensor._empty(rshape, wide, t.device), dense), _ACCUMULATE)
        copy_into(view, tmp)
        return
    _move(view, idx, pos, dense, _ACCUMULATE if accumulate else _PUT)


def _put(t, v, idx, items, accumulate):
    """Write tensor ``v`` (``t``'s dtype and device) into ``t`` where ``items``/``idx`` select; no autograd."""
    if t.device.type == "cpu":
        _put_np(t._np, v._np, [i._np for i in idx], items, accumulate)
    elif t.dtype.is_complex:        # (kernels take no complex pointers: the float views, (re, im) dim last)
        from .complex import _fv
        _put_cuda(_fv(t), _fv(v), idx, tuple(items) + (_FULL,), accumulate)
    else:
        _put_cuda(t, v, idx, items, accumulate)


def _index_put_cpu(a, v, *idx, items, accumulate):
    out = a.copy()
    _put_np(out, v, idx, items, accumulate)
    return out


def _index_put_cuda(x, v, *idx, items, accumulate):
    out = copy_into(Tensor._empty(x._shape, x.dtype, x.device), x)
    _put_cuda(out, v, idx, items, accumulate)
    return out


def _index_put_bw(ctx, g):
    from .creation import zeros
    idx = ctx.inputs[2:]
    gx = gv = None
    if ctx.needs[0]:
        gx = g if ctx.accumulate else _index_put(g, zeros((), dtype=g.dtype, device=g.device), *idx, items=ctx.items,
                                                 accumulate=False)
    if ctx.needs[1]:
        v, pos = _basic_view(g, ctx.items)
        gv = _index(v, *idx, pos=pos, in_shape=v._shape) if idx else v
    return (gx, gv) + (None,) * len(idx)


def _index_put_samples():
    r = rng("index_put")
    u = lambda *s: r.uniform(-2, 2, size=s)  # noqa: E731
    m = _ix([[True, False, True, False], [False, False, True, True], [True, False, False, False]], np.bool_)
    return [Sample([u(5), (_ix([0, 3]),), u(2)]),
            Sample([u(5), (_ix([0, 3, 0, -1]),), u(4)], {"accumulate": True}),
            Sample([u(3, 4), (_ix([0, 2]), _ix([1, 3])), u(2)]),
            Sample([u(3, 4), (_ix([2, 0]),), u(4)], note="values broadcast over rows"),
            Sample([u(3, 4), (None, _ix([1, 2])), u(3, 2)]),
            Sample([u(2, 3, 4), (_ix([1, 0]), None, _ix([2, 3])), u(2, 3)], note="separated: index dims first"),
            Sample([u(3, 4), (m,), u(1)], note="bool mask"),
            Sample([u(3, 4), (_ix([1, 1, 2]),), u(3, 4)], {"accumulate": True}),
            Sample([u(3, 4), (_ix([[0], [2]]), _ix([1, 0, 3], np.int32)), u(2, 3)], {"accumulate": True}),
            Sample([u(0, 3), (_ix([], np.int64),), u(0, 3)])]


def _put_key(input, indices, name):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{name}(): argument 'indices' (position 1) must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    for i in indices:
        if i is not None and not isinstance(i, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element of argument 'indices', but got "
                            f"{type(i).__name__}")
    return _parse(input, tuple(slice(None) if i is None else i for i in indices))


def _values(input, items, idx, values, name):
    """``values`` checked against the write target; leading size-1 dims dropped."""
    if values.dtype is not input.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_TYPE[input.dtype]} for the destination and {_TYPE[values.dtype]} for the source.")
    if values.device != input.device and values.ndim == 0:
        values = to_device(values, input.device)
    if values.device != input.device:
        raise RuntimeError(f"{name}: Expected all tensors to be on the same device, but found at least two devices, "
                           f"{input.device} and {values.device}!")
    values = _strip_ones(values)
    shape, _, _, pos = _geometry(input._shape, input.stride(), input._offset, items)
    _check_value(values, _result_shape(shape, pos, _bshape(idx)) if idx else shape, bool(idx))
    return values


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` written at ``indices`` (a tuple of index tensors or None), summing
    repeated positions when ``accumulate``; out of place."""
    items, idx = _put_key(input, indices, "index_put")
    v = _values(input, items, idx, values, "index_put")
    return _index_put(input, v, *idx, items=items, accumulate=accumulate)


def _index_put_public(input, indices, values, accumulate=False):
    # sample indices are NumPy arrays (or None): tensors on the input's device
    ind = tuple(None if i is None else Tensor._wrap_np(np.asarray(i)).to(input.device) for i in indices)
    return index_put(input, ind, values, accumulate)


_index_put = Op("index_put", cpu=_index_put_cpu, cuda=_index_put_cuda, backward=_index_put_bw, save=range(2, 1 << 30),
                samples=_index_put_samples, kernels=_move_specs, family="indexing", public=_index_put_public,
                dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.int32, D.bool))


def _write(self, name, items, idx, values, accumulate=False):
    """Write ``values`` into ``self`` in place: straight into memory, or recorded (CopySlices)."""
    if grad_mode._state["enabled"] and (self.requires_grad or values.requires_grad) \
            or _op_module._forward_ad is not None and fw_tracked(self, values) or _vmapped(self, values):
        return inplace_from(self, _index_put(self, values, *idx, items=items, accumulate=accumulate), name)
    _put(self, values, idx, items, accumulate)
    self._bump_version()
    return self


def index_put_(input, indices, values, accumulate=False):
    items, idx = _put_key(input, indices, "index_put_")
    return _write(input, "index_put_", items, idx, _values(input, items, idx, values, "index_put_"), accumulate)


def _scalar_tensor(value, dtype, device):
    if isinstance(value, (bool, np.bool_)) or dtype is D.bool:
        a = np.array(bool(value))
    elif dtype.is_complex:
        a = np.array(complex(value))
    elif not dtype.is_floating_point:
        if isinstance(value, float) and not np.isfinite(value):
            raise RuntimeError(f"value cannot be converted to type {dtype.name}_t without overflow")
        value = int(value)
        info = np.iinfo(dtype.np)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"value cannot be converted to type {dtype.name}_t without overflow")
        a = np.array(value)
    else:
        a = np.array(float(value))
    a = a.astype(dtype.np)
    if device.type == "cpu":
        return Tensor._wrap_np(a, dtype)
    if dtype in (D.float32, D.int64, D.int32, D.bool):      # the value exact as a kernel argument: a planned
        return _filled((), dtype, device, a.item())          # fill (creation._filled), not an upload per call
    return _upload(a, device)


def __setitem__(self, key, value):
    """``x[key] = value``: a scalar or tensor, cast to ``x``'s dtype and broadcast."""
    if _vmapped(self, value):       # under vmap (func/_inplace_rules.py)
        from ..func._inplace_rules import setitem
        return setitem(self, key, value)
    items, idx = _parse(self, key)
    if isinstance(value, Tensor):
        if value.device != self.device:
            if idx and value.ndim:
                raise RuntimeError(f"index_put_: Expected all tensors to be on the same device, but found at least "
                                   f"two devices, {self.device} and {value.device}!")
            value = to_device(value, self.device)
        if value.dtype is not self.dtype:
            value = value.to(self.dtype)
        value = _strip_ones(value)
    elif isinstance(value, (bool, int, float, complex, np.bool_, np.integer, np.floating, np.complexfloating)):
        value = _scalar_tensor(value, self.dtype, self.device)
    else:
        raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")
    shape, _, _, pos = _geometry(self._shape, self.stride(), self._offset, items)
    _check_value(value, _result_shape(shape, pos, _bshape(idx)) if idx else shape, bool(idx))
    if not idx and (grad_mode._state["enabled"] and (self.requires_grad or value.requires_grad)
                    or _op_module._forward_ad is not None and fw_tracked(self, value)):
        # as in PyTorch: copy_ into the view the key selects, so the graph records CopySlices
        _basic_view(self, items)[0].copy_(value)
        return
    _write(self, "setitem", items, idx, value)


# ============================================================================ nonzero
@triton.jit
def _nz_count_kernel(x_ptr, counts_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs, mask=offs < N, other=0)
    tl.store(counts_ptr + pid, tl.sum((v != 0).to(tl.int64), axis=0))


@triton.jit
def _nz_scan_kernel(counts_ptr, NBLK, BLOCK: tl.constexpr):
    # one program: exclusive prefix sum of the block counts in place, the total after them
    carry = tl.sum(tl.zeros([BLOCK], dtype=tl.int64), axis=0)
    for start in range(0, NBLK, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        c = tl.load(counts_ptr + offs, mask=offs < NBLK, other=0)
        tl.store(counts_ptr + offs, tl.cumsum(c, axis=0) - c + carry, mask=offs < NBLK)
        carry += tl.sum(c, axis=0)
    tl.store(counts_ptr + NBLK, carry)


@triton.jit
def _nz_write_kernel(x_ptr, starts_ptr, out_ptr, shape_ptr, N, NDIM: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs, mask=offs < N, other=0)
    nz = (v != 0) & (offs < N)
    f = nz.to(tl.int64)
    row = tl.load(starts_ptr + pid) + tl.cumsum(f, axis=0) - f
    rem = offs
    for j in tl.static_range(NDIM):  # unravel the flat index, last dim first
        size = tl.load(shape_ptr + (NDIM - 1 - j))
        tl.store(out_ptr + row * NDIM + (NDIM - 1 - j), rem % size, mask=nz)
        rem = rem // size


_NZ_BLOCK = 1024


def _nonzero_cpu(a):
    return np.argwhere(a).astype(np.int64, copy=False)


def _nonzero_cuda(x):
    if not x.is_contiguous():
        x = copy_into(Tensor._empty(x._shape, x.dtype, x.device), x)
    n, nd = x.numel(), x.ndim
    if n == 0:
        return Tensor._empty((0, nd), D.int64, x.device)
    nblk = cdiv(n, _NZ_BLOCK)
    counts = Tensor._empty((nblk + 1,), D.int64, x.device)
    launch(_nz_count_kernel, (nblk,), x, counts, n, BLOCK=_NZ_BLOCK)
    block = min(next_pow2(nblk), 1024)
    # 8 warps for 1024 counts: 4 (8 int64 counts and their scan a thread) spilled 4 B on sm_90
    launch(_nz_scan_kernel, (1,), counts, nblk, BLOCK=block, num_warps=8 if block == 1024 else 4)
    total = int(_to_device_np(counts._view((1,), (1,), nblk))[0])  # the host sync PyTorch has too
    out = Tensor._empty((total, nd), D.int64, x.device)
    if total and nd:
        shape = _constants(x._shape, x.device)
        launch(_nz_write_kernel, (nblk,), x, counts, out, shape, n, NDIM=nd, BLOCK=_NZ_BLOCK)
    return out


def _nonzero_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for dt in (D.float32, D.bool, D.int64, D.bfloat16):
        specs.append(KernelSpec(_nz_count_kernel, {"x_ptr": ptr(dt), "counts_ptr": "*i64", "N": "i32"},
                                {"BLOCK": _NZ_BLOCK}, label=f"count {dt}"))
        specs.append(KernelSpec(_nz_write_kernel, {"x_ptr": ptr(dt), "starts_ptr": "*i64", "out_ptr": "*i64",
                                                   "shape_ptr": "*i64", "N": "i32"},
                                {"NDIM": 2, "BLOCK": _NZ_BLOCK}, label=f"write {dt} 2-d"))
    for nd in (1, 3):
        specs.append(KernelSpec(_nz_write_kernel, {"x_ptr": "*fp32", "starts_ptr": "*i64", "out_ptr": "*i64",
                                                   "shape_ptr": "*i64", "N": "i64"},
                                {"NDIM": nd, "BLOCK": _NZ_BLOCK}, label=f"write fp32 {nd}-d"))
    for b in (1, 64, 1024):
        specs.append(KernelSpec(_nz_scan_kernel, {"counts_ptr": "*i64", "NBLK": "i32"}, {"BLOCK": b},
                                num_warps=8 if b == 1024 else 4, label=f"scan {b}"))
    return specs


def _nonzero_samples():
    r = rng("nonzero")
    out = []
    for shape in [(), (0,), (7,), (3, 5), (2, 3, 4), (2, 0, 3), (2500,)]:
        a = np.asarray(np.round(r.uniform(-1, 1, size=shape)))
        out.append(Sample([a], grad=False))
    out.append(Sample([np.ones(())], grad=False))
    return out


_nonzero = Op("nonzero", cpu=_nonzero_cpu, cuda=_nonzero_cuda, samples=_nonzero_samples, kernels=_nonzero_specs,
              family="indexing", dtypes=(D.float32, D.float16, D.int64, D.bool))


def nonzero(input, *, out=None, as_tuple=False):
    """Coordinates of the nonzero elements: int64 (n, ndim), or a tuple of ndim (n,) tensors.

    Example::

        >>> ttorch.nonzero(ttorch.tensor([[0, 1], [2, 0]]))
        tensor([[0, 1],
                [1, 0]])
    """
    x = input.detach()
    if as_tuple:
        nz = _nonzero(x.reshape(1) if x.ndim == 0 else x)
        return tuple(_column(nz, j) for j in range(nz._shape[1]))
    r = _nonzero(x)
    return r if out is None else write_out(out, r, "nonzero")


_nonzero.public = nonzero


def argwhere(input):
    return nonzero(input)


def _where_one_arg(condition):
    """``ttorch.where(condition)``: ``nonzero(condition, as_tuple=True)``."""
    return nonzero(condition, as_tuple=True)


# ============================================================================ masked ops
def _check_mask(mask, name):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}(): argument 'mask' (position 1) must be Tensor, not {type(mask).__name__}")
    if mask.dtype is not D.bool:
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype {mask.dtype.name}")


@triton.jit
def _masked_fill_fn(x, m, v, p0, p1):
    return tl.where(m != 0, v, x)


def _masked_fill_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    for k, dt in enumerate((D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool)):
        contig = k % 2 == 0
        kernel, sig = ew_kernel_sig(contig, dt)
        sig.update({"a_ptr": ptr(dt), "b_ptr": "*i1"})
        comp = D._compute_dtype(dt) if dt is not D.bool else D.int8
        sig["c_ptr"] = ("fp32" if dt.is_floating_point else "i32") if contig else ptr(dt)
        specs.append(KernelSpec(kernel, sig, {"FN": _masked_fill_fn, "NIN": 3, "A_SCALAR": False, "B_SCALAR": False,
                                              "C_SCALAR": contig, "COMPUTE": tl_dtype(comp), "BLOCK": 1024},
                                label=f"masked_fill {dt} {'contig scalar' if contig else 'strided tensor'}"))
    return specs


def _masked_fill_cpu(a, m, v):
    return np.where(m, np.asarray(v).astype(a.dtype), a)


def _masked_fill_cuda(x, m, v):
    from .elementwise import ew_launch
    compute = D._compute_dtype(x.dtype) if x.dtype is not D.bool else D.int8
    out = Tensor._empty(broadcast_shapes(x._shape, m._shape, op="masked_fill"), x.dtype, x.device)
    if not isinstance(v, Tensor):
        v = scalar_operand(bool(v) if x.dtype is D.bool else v, compute, x.device)
    return ew_launch(_masked_fill_fn, out, [x, m, v], compute)


def _masked_fill_bw(ctx, g):
    mask = ctx.inputs[1]
    gx = _masked_fill(g, mask, 0)
    return gx, None, (g - gx if ctx.needs[2] else None)


def _masked_fill_samples():
    r = rng("masked_fill")
    u = lambda *s: r.uniform(-2, 2, size=s)  # noqa: E731
    mk = lambda *s: _ix(r.uniform(size=s) < 0.5, np.bool_)  # noqa: E731
    return [Sample([u(3, 4), mk(3, 4), 1.5]), Sample([u(3, 4), mk(4), -2]), Sample([u(3, 1), mk(3, 4), 0.25]),
            Sample([u(), mk(), 3.0]), Sample([u(0, 2), mk(0, 2), 1.0]), Sample([u(2, 3, 4), mk(3, 1), np.array(0.75)],
                                                                             note="0-dim tensor value")]


def _value_arg(value, input, name):
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{name} only supports a 0-dimensional value tensor, but got tensor with {value.ndim} "
                               "dimension(s).")
        if value.device != input.device:
            value = to_device(value, input.device)
        return value if value.dtype is input.dtype else value.to(input.dtype)
    if not isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, {type(value).__name__})")
    return value.item() if isinstance(value, (np.number, np.bool_)) else value


def masked_fill(input, mask, value):
    """``value`` (a scalar or 0-dim tensor) where ``mask`` is True, ``input`` elsewhere; broadcasting."""
    _check_mask(mask, "masked_fill_")
    return _masked_fill(input, _on(mask, input.device), _value_arg(value, input, "masked_fill_"))


_masked_fill = Op("masked_fill", cpu=_masked_fill_cpu, cuda=_masked_fill_cuda, backward=_masked_fill_bw, save=(1,),
                  samples=_masked_fill_samples, kernels=_masked_fill_specs, family="indexing", public=masked_fill,
                  dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool),
                  plan_state=tuple)     # one ew_launch: its arguments (the value by value) and tuning (_plan.py)


def _vmapped(*ts):
    """Whether a tensor among ``ts`` is vmap's ``BatchedTensor`` (its writes go through ``inplace_from``)."""
    sub = _op_module.SUBCLASS_OPS
    for t in ts:
        if type(t) in sub and getattr(t, "_level", None) is not None:
            return True
    return False


def _inplace_mask(self, mask, name):
    _check_mask(mask, name)
    b = broadcast_shapes(self._shape, mask._shape, op=name)
    if b != self._shape:
        raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(b)}")
    return _on(mask, self.device)


def masked_fill_(self, mask, value):
    mask = _inplace_mask(self, mask, "masked_fill_")
    value = _value_arg(value, self, "masked_fill_")
    if grad_mode._state["enabled"] and (self.requires_grad or getattr(value, "requires_grad", False)) \
            or _op_module._forward_ad is not None and fw_tracked(self, value) or _vmapped(self, mask, value):
        return inplace_from(self, _masked_fill(self, mask, value), "masked_fill_")
    if self.device.type == "cpu":
        v = value._np if isinstance(value, Tensor) else value
        np.copyto(self._np, np.asarray(v).astype(self.dtype.np), where=np.broadcast_to(mask._np, self._shape))
    else:
        _masked_fill_cuda_into(self, mask, value)
    self._bump_version()
    return self


def _masked_fill_cuda_into(x, m, v):
    from .elementwise import ew_launch
    compute = D._compute_dtype(x.dtype) if x.dtype is not D.bool else D.int8
    if not isinstance(v, Tensor):
        v = scalar_operand(bool(v) if x.dtype is D.bool else v, compute, x.device)
    ew_launch(_masked_fill_fn, x, [x, m, v], compute)  # each element reads and writes only itself


def _masked_select_cpu(a, m):
    shape = np.broadcast_shapes(a.shape, m.shape)
    return np.broadcast_to(a, shape)[np.broadcast_to(m, shape)]


def _masked_select_cuda(x, m):
    shape = broadcast_shapes(x._shape, m._shape, op="masked_select") or (1,)
    xb, mb = x._view(shape, _bstrides(x, shape), x._offset), m._view(shape, _bstrides(m, shape), m._offset)
    nz = _nonzero_cuda(mb)
    out = Tensor._empty((nz._shape[0],), x.dtype, x.device)
    _move(xb, [_column(nz, j) for j in range(len(shape))], tuple(range(len(shape))), out, _GATHER)
    return out


def _masked_select_bw(ctx, g):
    from .creation import zeros
    mask = ctx.inputs[1]
    shape = broadcast_shapes(ctx.in_shape, mask._shape)
    cols = nonzero(mask.expand(shape), as_tuple=True)
    z = zeros(shape or (1,), dtype=g.dtype, device=g.device)
    gx = _index_put(z, g, *cols, items=(_ADV,) * z.ndim, accumulate=False)
    return (gx if shape else gx.reshape(())), None


def _masked_select_samples():
    r = rng("masked_select")
    u = lambda *s: r.uniform(-2, 2, size=s)  # noqa: E731
    mk = lambda *s: _ix(r.uniform(size=s) < 0.5, np.bool_)  # noqa: E731
    return [Sample([u(3, 4), mk(3, 4)]), Sample([u(3, 4), mk(4)]), Sample([u(3, 1), mk(2, 3, 4)]),
            Sample([u(), _ix(True, np.bool_)]), Sample([u(5), _ix([False] * 5, np.bool_)]), Sample([u(0, 3), mk(0, 3)])]


def masked_select(input, mask, *, out=None):
    """The elements of ``input`` where ``mask`` is True (both broadcast), as a 1-D tensor."""
    _check_mask(mask, "masked_select")
    r = _masked_select(input, _on(mask, input.device), in_shape=input._shape)
    return r if out is None else write_out(out, r, "masked_select")


_masked_select = Op("masked_select", cpu=lambda a, m, *, in_shape: _masked_select_cpu(a, m),
                    cuda=lambda x, m, *, in_shape: _masked_select_cuda(x, m), backward=_masked_select_bw, save=(1,),
                    samples=_masked_select_samples, kernels=lambda: _move_specs()[:2] + _nonzero_specs()[:2],
                    family="indexing", public=masked_select,
                    dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool))


def masked_scatter(input, mask, source):
    """``input`` with the positions where ``mask`` is True taken, in order, from ``source``."""
    _check_mask(mask, "masked_scatter_")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{_TYPE[input.dtype]} and {_TYPE[source.dtype]}")
    shape = broadcast_shapes(input._shape, mask._shape, op="masked_scatter")
    x = input.expand(shape) if input._shape != shape else input
    m = _on(mask, input.device)
    m = m.expand(shape) if m._shape != shape else m
    if not shape:
        x, m = x.reshape(1), m.reshape(1)
    cols = nonzero(m, as_tuple=True)
    n = cols[0].numel()
    if source.numel() < n:
        raise RuntimeError(f"masked_scatter_: expected source to have at least {n} elements (the number of ones in "
                           f"mask), but got {source.numel()}")
    src = source.reshape(-1)[:n]
    out = _index_put(x, src, *cols, items=(_ADV,) * x.ndim, accumulate=False)
    return out if shape else out.reshape(())


def masked_scatter_(self, mask, source):
    mask = _inplace_mask(self, mask, "masked_scatter_")
    r = masked_scatter(self, mask, source)
    if grad_mode._state["enabled"] and (self.requires_grad or source.requires_grad) \
            or _op_module._forward_ad is not None and fw_tracked(self, source):
        return inplace_from(self, r, "masked_scatter_")
    copy_into(self, r)
    self._bump_version()
    return self


# ============================================================================ take / put
def _flat_index(input, index, name):
    if not isinstance(index, Tensor) or index.dtype is not D.int64:
        raise RuntimeError(f"{name}(): Expected a long tensor for index, but got "
                           f"{index.dtype if isinstance(index, Tensor) else type(index).__name__}")
    n = input.numel()
    if index.device.type == "cpu" and index.numel():
        a = index._np
        bad = (a < -n) | (a >= n)
        if bad.any():
            raise IndexError(f"out of range: tried to access index {a[bad].flat[0]} on a tensor of {n} elements.")
    return _on(index.detach(), input.device)


def take(input, index, *, out=None):
    """``input`` as if 1-D, at ``index`` (any shape; the result has its shape)."""
    idx = _flat_index(input, index, "take")
    flat = input.reshape(-1)
    r = _index(flat, idx, pos=(0,), in_shape=flat._shape)
    return r if out is None else write_out(out, r, "take")


def _put_args(input, index, source, accumulate):
    idx = _flat_index(input, index, "put_").reshape(-1)
    if source.numel() != idx.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {idx.numel()}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{_TYPE[input.dtype]} and source.dtype = {_TYPE[source.dtype]}")
    if source.device != input.device:
        raise RuntimeError(f"put_(): Expected all tensors to be on the same device, but found at least two devices, "
                           f"{input.device} and {source.device}!")
    if _det.MODE and not accumulate:     # (PyTorch alerts on both devices, though its cpu kernel is in order)
        _det.alert_not_deterministic("put_")
    return idx, source.reshape(-1)


def put(input, index, source, accumulate=False):
    """Out-of-place ``put_``: ``input`` (as if 1-D) with ``source`` written at ``index``."""
    idx, src = _put_args(input, index, source, accumulate)
    r = _index_put(input.reshape(-1), src, idx, items=(_ADV,), accumulate=accumulate)
    return r.reshape(input._shape)


def put_(self, index, source, accumulate=False):
    """Write ``source`` into ``self`` (as if 1-D) at ``index``, summing when ``accumulate``."""
    if grad_mode._state["enabled"] and (self.requires_grad or source.requires_grad) \
            or _op_module._forward_ad is not None and fw_tracked(self, source):
        return inplace_from(self, put(self, index, source, accumulate), "put_")
    if self.is_contiguous():
        idx, src = _put_args(self, index, source, accumulate)
        _put(self._view((self.numel(),), (1,), self._offset), src.detach(), [idx], (_ADV,), accumulate)
    else:
        with grad_mode.no_grad():
            copy_into(self, put(self, index, source, accumulate))
    self._bump_version()
    return self


# ============================================================================ copy_ / fill_ / zero_
def _copy_cpu(a, s):
    return np.array(np.broadcast_to(s, a.shape), dtype=a.dtype)


def _copy_cuda(x, s):
    return copy_into(Tensor._empty(x._shape, x.dtype, x.device), s)


def _copy_samples():
    r = rng("copy_")
    u = lambda *s: r.uniform(-2, 2, size=s)  # noqa: E731
    return [Sample([u(3, 4), u(3, 4)]), Sample([u(3, 4), u(4)]), Sample([u(2, 3), u(1, 3)]), Sample([u(), u()]),
            Sample([u(0, 2), u(2)])]


def _copy_public(input, src):
    # the generated tests check values and gradients: copy into a fresh non-leaf
    return (input * 1).copy_(src) if input.requires_grad else input.clone().copy_(src)


def _zero_grad(g):
    from .creation import zeros
    return zeros(g._shape, dtype=g.dtype, device=g.device)


# the overwritten value gets a zero gradient; the engine sums src's back to its shape and dtype
_copy = Op("copy_", cpu=_copy_cpu, cuda=_copy_cuda,
           backward=lambda ctx, g: (_zero_grad(g) if ctx.needs[0] else None, g), save=(),
           grad_name="CopyBackwards", samples=_copy_samples, kernels=_copy_specs, family="indexing",
           public=_copy_public, dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64))


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (any device and dtype, broadcast to ``self``) into ``self``; returns ``self``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' (position 1) must be Tensor, not {type(src).__name__}")
    b = broadcast_shapes(self._shape, src._shape, op="copy_")
    if b != self._shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(b)}")
    if src.dtype.is_complex and not self.dtype.is_complex:
        from .complex import warn_discard
        warn_discard()
    if grad_mode._state["enabled"] and (self.requires_grad or src.requires_grad) \
            or _op_module._forward_ad is not None and fw_tracked(self, src) or _vmapped(self, src):
        s = src if src.device == self.device else to_device(src, self.device)
        return inplace_from(self, _copy(self, s), "copy_")
    if self.device.type == "cpu":
        h = src._host()
        if self.dtype._limited and self.dtype in D.float8_dtypes:   # float8's rounding (saturation, NaN) rules
            from .float8 import np_cast
            h = np_cast(h, self.dtype)
        np.copyto(self._np, h.real if h.dtype.kind == "c" and not self.dtype.is_complex else h, casting="unsafe")
    else:
        if src.device == self.device and src.untyped_storage() is self.untyped_storage():
            src = copy_into(Tensor._empty(src._shape, src.dtype, src.device), src)  # overlapping: read first
        copy_into(self, src)
    self._bump_version()
    return self


def _fill_cpu(a, v):
    return np.full(a.shape, np.asarray(v).astype(a.dtype), dtype=a.dtype)


def _fill_cuda(x, v):
    return _fill_into(Tensor._empty(x._shape, x.dtype, x.device), v)


def _fill_into(t, v):
    if isinstance(v, Tensor) or t.dtype.is_complex:        # (copy_into fills a complex tensor's parts)
        return copy_into(t, v)
    if t._stride is None and _aligned(t) and type(v) in (int, float, bool):     # planned (creation._filled)
        return _filled(t._shape, t.dtype, t.device, bool(v) if t.dtype is D.bool else v, into=t)
    compute = t.dtype if t.dtype is not D.bool else D.int8
    return copy_into(t, scalar_operand(bool(v) if t.dtype is D.bool else v, compute, t.device))


def _fill_samples():
    r = rng("fill_")
    return [Sample([r.uniform(-2, 2, size=(3, 4)), 1.25]), Sample([r.uniform(-2, 2, size=(5,)), np.array(-0.5)]),
            Sample([r.uniform(-2, 2, size=()), 2]), Sample([r.uniform(-2, 2, size=(0, 3)), 1.0])]


def _fill_public(input, value):
    return (input * 1).fill_(value) if input.requires_grad else input.clone().fill_(value)


_fill = Op("fill_", cpu=_fill_cpu, cuda=_fill_cuda,
           backward=lambda ctx, g: (_zero_grad(g) if ctx.needs[0] else None, g if ctx.needs[1] else None),
           save=(), grad_name="FillBackward0", samples=_fill_samples, kernels=_copy_specs, family="indexing",
           public=_fill_public, dtypes=(D.float32, D.float16, D.bfloat16, D.float64, D.int64, D.bool))


def fill_(self, value):
    """Fill ``self`` with ``value`` (a scalar or 0-dim tensor); returns ``self``."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions.")
    if isinstance(value, Tensor):
        value = value if value.device == self.device else to_device(value, self.device)
        value = value if value.dtype is self.dtype else value.to(self.dtype)
    elif isinstance(value, (np.number, np.bool_)):
        value = value.item()
    if self.dtype._limited and self.dtype in D.float8_dtypes and not isinstance(value, Tensor):
        from .float8 import check_fill      # PyTorch refuses a scalar outside the float8 type's range
        check_fill(value, self.dtype)
        value = _f8_scalar(value, self)
    if grad_mode._state["enabled"] and (self.requires_grad or getattr(value, "requires_grad", False)) \
            or _op_module._forward_ad is not None and fw_tracked(self, value) or _vmapped(self, value):
        return inplace_from(self, _fill(self, value), "fill_")
    if self.device.type == "cpu":
        self._np[...] = value._np if isinstance(value, Tensor) else value
    else:
        _fill_into(self, value)
    self._bump_version()
    return self


def _f8_scalar(value, t):
    """A scalar for float8 ``t`` as a 0-dim tensor of its type (rounded by float8's rules, on its device)."""
    from .creation import tensor
    return tensor(float(value.real if isinstance(value, complex) else value), device=t.device).to(t.dtype)


def zero_(self):
    if self.dtype._limited and self.dtype in D.float8_dtypes:   # zero bytes (e8m0's are 2^-127, as PyTorch's)
        fill_(self.view(D.uint8), 0)
        return self
    return fill_(self, 0)


__all__ = ["nonzero", "argwhere", "masked_fill", "masked_select", "masked_scatter", "take", "index_put", "index_put_"]
METHODS = {n: globals()[n] for n in __all__ + ["__getitem__", "__setitem__", "masked_fill_", "masked_scatter_", "put",
                                                "put_", "copy_", "fill_", "zero_"]}
