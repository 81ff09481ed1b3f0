"""Foreach ops: PyTorch's ``torch._foreach_norm`` and ``torch._foreach_mul_``, what
``clip_grad_norm_`` runs over a model's gradients.

On cuda the tensors of one (device, dtype) group, contiguous and non-empty, go in one launch
(``_many.py``: program ``i`` takes one block of one tensor, its address read from a table), where a
loop over the tensors made a norm or a scale launch each: a GPT-2's 148 gradients took about 300
launches a clip, nearly all of their cost host time. The norm is two launches: each block's partial
(``sum |x|``, ``sum x^2`` or ``max |x|``) into a buffer, then one program per tensor folds its
blocks' partials in order (deterministic, no atomics) and takes the root; its backward is each
tensor's ``vector_norm`` gradient. Other orders and empty or strided tensors take the one-tensor
ops; so does a scale that autograd must record.
"""
import math

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor, _numel
from ..autograd import grad_mode
from ._launch import launch
from ._many import _address, _col, _many_ptrs, _meta, _table
from ._op import Op
from .elementwise import tl_dtype
from .reduction import _acc_dtype
from .samples import Sample, rng

_BLOCK = 1024           # elements of one tensor a program takes
_FOLD = 1024            # partials a folding program reads at a time
_ORDS = {math.inf: 0, 1.0: 1, 2.0: 2}     # the orders the kernels take: max |x|, sum |x|, sqrt(sum x^2)


@triton.jit
def _norm_many_kernel(addr_ptr, sizes_ptr, meta_ptr, part_ptr, ORD: tl.constexpr, ELEM: tl.constexpr,
                      ACC: tl.constexpr, BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    # one block of one tensor: its partial, sum |x| (ORD 1), sum x^2 (2) or max |x| (0, NaN if any is)
    row, offs, mask, whole = _many_ptrs(addr_ptr, sizes_ptr, meta_ptr, 1, ELEM, BLOCK)
    x_ptr = _col(row, 0, ELEM, ALIGNED)
    if whole:
        a = tl.abs(tl.load(x_ptr + offs).to(ACC))
    else:
        a = tl.abs(tl.load(x_ptr + offs, mask=mask, other=0).to(ACC))
    if ORD == 0:
        r = tl.where(tl.sum((a != a).to(tl.int32), 0) > 0, float("nan"), tl.max(a, 0))
    elif ORD == 1:
        r = tl.sum(a, 0)
    else:
        r = tl.sum(a * a, 0)
    tl.store(part_ptr + tl.program_id(0), r)


@triton.jit
def _norm_fold_kernel(part_ptr, starts_ptr, out_ptr, ORD: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    # tensor t's norm from its blocks' partials, part[starts[t]:starts[t + 1]], folded in order
    t = tl.program_id(0)
    lo = tl.load(starts_ptr + t)
    hi = tl.load(starts_ptr + t + 1)
    acc = tl.zeros((BLOCK,), ACC)
    nan = tl.zeros((BLOCK,), tl.int32)
    for start in range(lo, hi, BLOCK):
        i = start + tl.arange(0, BLOCK)
        v = tl.load(part_ptr + i, mask=i < hi, other=0)
        if ORD == 0:
            acc = tl.maximum(acc, v)
            nan |= (v != v).to(tl.int32)
        else:
            acc += v
    if ORD == 0:
        r = tl.where(tl.sum(nan, 0) > 0, float("nan"), tl.max(acc, 0))
    elif ORD == 1:
        r = tl.sum(acc, 0)
    else:
        r = tl.sqrt(tl.sum(acc, 0))
    tl.store(out_ptr + t, r.to(out_ptr.dtype.element_ty))


@triton.jit
def _mul_many_kernel(addr_ptr, sizes_ptr, meta_ptr, c_ptr, ELEM: tl.constexpr, ACC: tl.constexpr,
                     BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    # one block of one tensor times the device scalar c (float(x) * c, rounded to the tensor's dtype,
    # as x.mul_(c) computes it)
    row, offs, mask, whole = _many_ptrs(addr_ptr, sizes_ptr, meta_ptr, 1, ELEM, BLOCK)
    x_ptr = _col(row, 0, ELEM, ALIGNED)
    c = tl.load(c_ptr).to(ACC)
    if whole:
        tl.store(x_ptr + offs, (tl.load(x_ptr + offs).to(ACC) * c).to(ELEM))
    else:
        tl.store(x_ptr + offs, (tl.load(x_ptr + offs, mask=mask, other=0).to(ACC) * c).to(ELEM), mask=mask)


_STARTS = {}


def _starts(sizes, device):
    """Each tensor's first block in a launch over ``sizes``, and the total: int64 on ``device``, cached."""
    key = (sizes, device)
    s = _STARTS.get(key)
    if s is None:
        from .creation import tensor
        if len(_STARTS) > 64:
            _STARTS.clear()
        counts = [(n + _BLOCK - 1) // _BLOCK for n in sizes]
        s = _STARTS[key] = tensor(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), device=device)
    return s


def _many(tensors):
    """The many-tensor launch over ``tensors`` (one cuda device and dtype, contiguous, non-empty): its
    sizes, block map, address table (and whether every address is 16-byte aligned) and size table."""
    t0 = tensors[0]
    sizes = tuple([_numel(t._shape) for t in tensors])
    addr, aligned = _table(tuple([(_address(t),) for t in tensors]), t0.device, aligned=True)
    return sizes, _meta(sizes, _BLOCK, t0.device), addr, aligned, _table(sizes, t0.device)


def _types(dt):
    return dict(ELEM=tl_dtype(dt), ACC=tl_dtype(_acc_dtype(dt)), BLOCK=_BLOCK)


# ------------------------------------------------------------------------------ the norms
def _norms_cuda(*tensors, ord):
    t0 = tensors[0]
    sizes, blocks, addr, aligned, ns = _many(tensors)
    part = Tensor._empty((blocks._shape[0],), _acc_dtype(t0.dtype), t0.device)
    launch(_norm_many_kernel, (blocks._shape[0],), addr, ns, blocks, part, ORD=_ORDS[ord], ALIGNED=aligned,
           **_types(t0.dtype))
    out = Tensor._empty((len(tensors),), t0.dtype, t0.device)
    launch(_norm_fold_kernel, (len(tensors),), part, _starts(sizes, t0.device), out, ORD=_ORDS[ord],
           ACC=tl_dtype(_acc_dtype(t0.dtype)), BLOCK=_FOLD)
    return out


def _norms_cpu(*arrays, ord):
    out = []
    for a in arrays:
        x = np.abs(a.astype(np.float64 if a.dtype == np.float64 else np.float32).ravel())
        out.append(x.max() if ord == math.inf else x.sum() if ord == 1 else np.sqrt((x * x).sum()))
    return np.array(out, dtype=arrays[0].dtype)


def _norms_bw(ctx, g):
    # each tensor's vector_norm gradient (stats._norm_bw's, p 1, 2 or inf), its norm and g entry broadcast
    from .stats import _norm_grad
    out = []
    for k, x in enumerate(ctx.inputs):
        gk = g[k]
        out.append(gk * x.sign() if ctx.ord == 1 else _norm_grad(x, gk, ctx.output[k], ctx.ord, lambda m: m.sum()))
    return tuple(out)


def _norms_public(*tensors, ord):
    from .movement import stack
    return stack(_foreach_norm(list(tensors), ord))


def _norm_samples():
    r = rng("foreach_norm")
    out = []
    for ord in (2.0, 1.0, math.inf):
        shapes = [(3, 5), (7,), (2, 2, 3)] if ord != 1.0 else [(1300,), (4,)]   # 1300: a tensor of two blocks
        out.append(Sample([r.uniform(-2, 2, size=s) for s in shapes], {"ord": ord}))
    return out


def _specs():
    from ._aot import KernelSpec, ptr
    specs = []
    many = {"addr_ptr": ptr(D.int64), "sizes_ptr": ptr(D.int64), "meta_ptr": ptr(D.int64)}
    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        acc = _acc_dtype(dt)
        for ord_ in sorted(set(_ORDS.values())):
            for aligned in (False, True):
                specs.append(KernelSpec(_norm_many_kernel, dict(many, part_ptr=ptr(acc)),
                                        {"ORD": ord_, "ELEM": tl_dtype(dt), "ACC": tl_dtype(acc), "BLOCK": _BLOCK,
                                         "ALIGNED": aligned}, label=f"norm many {dt} ord {ord_}"
                                        + (" aligned" if aligned else "")))
            specs.append(KernelSpec(_norm_fold_kernel, {"part_ptr": ptr(acc), "starts_ptr": ptr(D.int64),
                                                        "out_ptr": ptr(dt)},
                                    {"ORD": ord_, "ACC": tl_dtype(acc), "BLOCK": _FOLD},
                                    label=f"norm fold {dt} {ord_}"))
        for aligned in (False, True):
            specs.append(KernelSpec(_mul_many_kernel, dict(many, c_ptr=ptr(acc)),
                                    {"ELEM": tl_dtype(dt), "ACC": tl_dtype(acc), "BLOCK": _BLOCK, "ALIGNED": aligned},
                                    label=f"mul many {dt}" + (" aligned" if aligned else "")))
    return specs


_norms = Op("foreach_norm", cpu=_norms_cpu, cuda=_norms_cuda, backward=_norms_bw, save_output=True,
            samples=_norm_samples, kernels=_specs, family="foreach", public=_norms_public,
            dtypes=(D.float32, D.float16, D.bfloat16, D.float64), doc="each tensor's vector norm, one launch per group")


def _groups(tensors, inplace=False):
    """``tensors`` by (device, dtype) where one call takes a group (on cuda one launch: contiguous,
    non-empty; ``inplace``: nothing for autograd to record, the kernel writes the tensors): {key:
    [index...]}; the rest under None."""
    record = inplace and grad_mode._state["enabled"]
    groups = {}
    for i, t in enumerate(tensors):
        ok = (t._stride is None or t.is_contiguous()) and 0 not in t._shape and not (record and t.requires_grad)
        groups.setdefault((t.device, t.dtype) if ok else None, []).append(i)
    return groups


def _foreach_norm(self, ord=2, dtype=None):
    """``torch._foreach_norm``: each tensor's vector norm of order ``ord`` (a list of 0-dim tensors,
    each in its tensor's dtype, or ``dtype``). On cuda each (device, dtype) group of contiguous
    tensors takes two launches (orders 1, 2 and inf; other orders take one norm a tensor).

    Example::

        >>> [n.item() for n in ttorch._foreach_norm([ttorch.tensor([3.0, 4.0]), ttorch.ones(4)])]
        [5.0, 2.0]
    """
    tensors = list(self)
    out = [None] * len(tensors)
    for idx, norms in norm_parts(tensors, ord, dtype):
        for k, i in enumerate(idx):
            out[i] = norms[k] if norms.ndim else norms
    return out


def norm_parts(tensors, ord=2, dtype=None):
    """The norms of ``tensors`` as ``[(indices, norms)]``: a 1-D tensor of the norms of a group
    (``_groups``; one call of the many-tensor op), or one 0-dim norm (``vector_norm``: other orders,
    empty or strided tensors). ``clip_grad_norm_`` takes the norm of their concatenation, with no
    0-dim views made and stacked again."""
    from .stats import vector_norm
    ord = float(ord)
    parts = []
    for key, idx in _groups(tensors).items():
        if key is None or ord not in _ORDS or dtype is not None or not key[1].is_floating_point:
            parts += [((i,), vector_norm(tensors[i], ord, dtype=dtype)) for i in idx]
        else:
            parts.append((idx, _norms(*[tensors[i] for i in idx], ord=ord)))
    return parts


def _foreach_mul_(self, other):
    """``torch._foreach_mul_``: each tensor multiplied in place by ``other`` (a number, a 0-dim
    tensor, or a list of either, one per tensor). On cuda a 0-dim tensor scales each (device,
    dtype) group of contiguous tensors in one launch, with no host sync."""
    tensors = list(self)
    if isinstance(other, (list, tuple)):
        if len(other) != len(tensors):
            raise RuntimeError(f"Tensor lists must have the same number of tensors, got {len(tensors)} and "
                               f"{len(other)}")
        for t, o in zip(tensors, other):
            t.mul_(o)
        return
    for key, idx in _groups(tensors, inplace=True).items():
        group = [tensors[i] for i in idx]
        if key is None or key[0].type != "cuda" or not isinstance(other, Tensor) or other.ndim \
                or other.device != key[0] or other.dtype is not _acc_dtype(key[1]) or not key[1].is_floating_point:
            for t in group:
                t.mul_(other)
            continue
        _, blocks, addr, aligned, ns = _many(group)
        launch(_mul_many_kernel, (blocks._shape[0],), addr, ns, blocks, other, ALIGNED=aligned, **_types(key[1]))
        for t in group:
            t._bump_version()


PUBLIC = {"_foreach_norm": _foreach_norm, "_foreach_mul_": _foreach_mul_}
