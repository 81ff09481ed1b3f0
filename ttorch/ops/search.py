"""``searchsorted`` and ``bucketize``: where values fall among sorted boundaries, by binary search;
``bincount``, composed of ``index_add``.

The cuda kernel gives each program ``BLOCK`` values of one row and halves every value's range
``[lo, hi)`` of boundary indices ``STEPS = bit_length(M)`` times, each step one gathered load of the
middle boundary; rows share one 1-D boundary tensor or have their own (the last dim of an N-D one).
The comparisons are PyTorch's: the left bound steps right while ``not (b >= v)``, the right bound
while ``not (b > v)``, so a NaN value lands past every boundary and a NaN boundary (sorted last) is
never below a value. The NumPy fallback runs the same search on whole arrays. Integer outputs: no
gradient.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor, _numel
from ._launch import launch, cdiv, SIMULATED
from ._op import Op, write_out
from .samples import Sample, rng

BLOCK = 64 if SIMULATED else 1024


@triton.jit
def _search_kernel(seq_ptr, v_ptr, out_ptr, M, K, s_row, STEPS, RIGHT: tl.constexpr, BLOCK: tl.constexpr):
    # program (row, block): values [block * BLOCK, ...) of row ``row`` (K a row) among M boundaries at
    # seq_ptr + row * s_row (s_row 0: one 1-D boundary tensor for every row)
    row = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = offs < K
    v = tl.load(v_ptr + row * K + offs, mask=live, other=0)
    base = seq_ptr + row * s_row
    lo = tl.zeros((BLOCK,), tl.int32)
    hi = tl.zeros((BLOCK,), tl.int32) + M
    for _ in range(STEPS):
        active = lo < hi
        mid = (lo + hi) // 2
        b = tl.load(base + mid, mask=live & active, other=0)
        if RIGHT:
            go = (b > v) == 0
        else:
            go = (b >= v) == 0
        lo = tl.where(active & go, mid + 1, lo)
        hi = tl.where(active & (go == 0), mid, hi)
    tl.store(out_ptr + row * K + offs, lo.to(out_ptr.dtype.element_ty), mask=live)


def _rows(seq, v):
    """(rows of values, K: the values in a row), ``v`` viewed as rows of its last dim."""
    k = v.shape[-1] if v.ndim else 1
    return _numel(v.shape) // k if k else 0, k


def _search_cpu(seq, v, *, right, out_int32):
    m = seq.shape[-1]
    rows, k = _rows(seq, v)
    s2 = seq.reshape(1 if seq.ndim == 1 else rows, m)
    v2 = v.reshape(rows, k)
    lo = np.zeros(v2.shape, np.int64)
    hi = np.full(v2.shape, m, np.int64)
    with np.errstate(invalid="ignore"):
        for _ in range(int(m).bit_length()):
            active = lo < hi
            mid = (lo + hi) // 2
            b = np.take_along_axis(np.broadcast_to(s2, (rows, m)), np.minimum(mid, m - 1), 1)
            go = ~(b > v2) if right else ~(b >= v2)
            lo = np.where(active & go, mid + 1, lo)
            hi = np.where(active & ~go, mid, hi)
    return lo.reshape(v.shape).astype(np.int32 if out_int32 else np.int64)


def _search_cuda(seq, v, *, right, out_int32):
    seq, v = seq.contiguous(), v.contiguous()
    m = seq.shape[-1]
    rows, k = _rows(seq, v)
    out = Tensor._empty(v.shape, D.int32 if out_int32 else D.int64, v.device)
    if rows and k:
        launch(_search_kernel, (rows, cdiv(k, BLOCK)), seq, v, out, m, k, 0 if seq.ndim == 1 else m,
               int(m).bit_length(), RIGHT=bool(right), BLOCK=BLOCK, num_warps=4)
    return out


def _specs():
    from ._aot import KernelSpec, ptr
    out = []
    for dt in (D.float32, D.float64, D.float16, D.bfloat16, D.int64, D.int32):
        for odt in (D.int64, D.int32):
            sig = {"seq_ptr": ptr(dt), "v_ptr": ptr(dt), "out_ptr": ptr(odt), "M": "i32", "K": "i32", "s_row": "i32",
                   "STEPS": "i32"}
            for right in (False, True):
                out.append(KernelSpec(_search_kernel, sig, {"RIGHT": right, "BLOCK": BLOCK},
                                      label=f"searchsorted {dt} -> {odt}{' right' if right else ''}"))
    return out


def _samples():
    r = rng("searchsorted")
    seq = np.sort(r.uniform(-2, 2, 9))
    vals = np.concatenate([r.uniform(-3, 3, 7), seq[[0, 4, 8]]])      # ties with boundaries, both ends
    rows = np.sort(r.uniform(-2, 2, (2, 3, 5)), -1)
    return [Sample([seq, vals], {"right": False}, grad=False), Sample([seq, vals], {"right": True}, grad=False),
            Sample([seq, vals.reshape(2, 5)], {"side": "right"}, grad=False),
            Sample([rows, r.uniform(-3, 3, (2, 3, 4))], {"out_int32": True}, grad=False),
            Sample([rows, rows], {"right": True}, grad=False),
            Sample([seq[:1], vals], {}, grad=False), Sample([seq[:0], vals[:3]], {}, grad=False)]


_search = Op("searchsorted", cpu=_search_cpu, cuda=_search_cuda, samples=_samples, kernels=_specs, family="sort")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, out=None, sorter=None):
    """For each value of ``input``, the index where it would go in ``sorted_sequence`` (sorted along
    its last dim) to keep it sorted: the first boundary ``>=`` the value, or ``>`` with ``right``
    (``side="right"``). A 1-D ``sorted_sequence`` serves every value; an N-D one has a row of
    boundaries per row of values (their leading dims equal). ``sorter``: indices that sort an
    unsorted sequence. int64 indices (int32 with ``out_int32``).

    Example::

        >>> ttorch.searchsorted(ttorch.tensor([1., 3., 5.]), ttorch.tensor([3., 6.])).tolist()
        [1, 3]
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    if type(sorted_sequence) is not Tensor:
        raise TypeError("searchsorted(): argument 'sorted_sequence' must be Tensor")
    scalar = type(input) is not Tensor
    if scalar:
        from .creation import tensor
        input = tensor(input, device=sorted_sequence.device)
    seq = sorted_sequence
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(input.shape)}")
    if seq.ndim > 1 and (input.ndim != seq.ndim or tuple(input.shape[:-1]) != tuple(seq.shape[:-1])):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(input.shape)}")
    if sorter is not None:
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq.shape)}and got sorter tensor {list(sorter.shape)}")
        seq = seq.gather(-1, sorter)
    common = D.promote_types(seq.dtype, input.dtype)
    r = _search(seq.detach().to(common), input.detach().to(common), right=bool(right), out_int32=bool(out_int32))
    if scalar:
        r = r.reshape(())
    return r if out is None else write_out(out, r, "searchsorted")


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each value of ``input`` among the 1-D ``boundaries``: ``i`` with
    ``boundaries[i - 1] < x <= boundaries[i]``, or ``boundaries[i - 1] <= x < boundaries[i]`` with
    ``right`` (``searchsorted`` with the arguments swapped)."""
    if type(boundaries) is not Tensor or boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({getattr(boundaries, 'ndim', 0)})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


_search.public = searchsorted
_search.dtypes = (D.float32, D.float64)


# ------------------------------------------------------------------------------ counting
def bincount(input, weights=None, minlength=0):
    """How many times each value ``0 .. max(input)`` occurs in the 1-D non-negative integer ``input``
    (at least ``minlength`` bins); with ``weights``, their sums per value instead, in float32 for
    float32 weights, else float64 (PyTorch's rule). The bin count comes to the host first (one sync,
    as in PyTorch); the counting is ``index_add``'s kernel, so the weights' gradient flows."""
    from .creation import zeros, ones
    if type(input) is not Tensor or input.ndim != 1 or input.dtype.is_floating_point or input.dtype is D.bool:
        if type(input) is Tensor and input.dtype.is_floating_point:
            raise NotImplementedError(f'"bincount_cpu" not implemented for \'{D.scalar_name(input.dtype)}\'')
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    n = int(minlength)
    if input.numel():
        lo, hi = (int(v) for v in _stack_minmax(input))
        if lo < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        n = max(n, hi + 1)
    if weights is None:
        return zeros(n, dtype=D.int64, device=input.device).index_add(0, input, ones(input.shape[0], dtype=D.int64,
                                                                                      device=input.device))
    wd = D.float32 if weights.dtype is D.float32 else D.float64       # PyTorch's rule
    return zeros(n, dtype=wd, device=input.device).index_add(0, input, weights.to(wd))


def _stack_minmax(t):
    """``(min, max)`` of ``t`` in one transfer to the host (bincount's bins, histc's range)."""
    from . import FUNCTIONS as F
    return F["stack"]([t.min(), t.max()]).tolist()


METHODS = {"bincount": bincount}
__all__ = ["searchsorted", "bucketize", "bincount"]
