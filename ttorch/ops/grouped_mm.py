"""``F.grouped_mm``: many matrix products in one call, groups delimited by ``offs`` (Mixture-of-Experts layers).

Four cases, by the operands' dims (``offs``: int32 ends of the groups along the jagged dim):

* 2D x 3D: ``a`` (M, K) rows grouped by ``offs``, ``b`` (G, K, N): ``out[s:e] = a[s:e] @ b[g]``, (M, N)
* 3D x 3D: a batched product, ``out[g] = a[g] @ b[g]``, (G, M, N); no ``offs``
* 3D x 2D: ``b`` (K, N) columns grouped: ``out[:, s:e] = a[g] @ b[:, s:e]``, (M, N)
* 2D x 2D: the contraction grouped: ``out[g] = a[:, s:e] @ b[s:e]``, (G, M, N) (MoE weight gradients)

cuda: one Triton kernel for all four (a grid over (tiles of M, tiles of N, groups); the jagged dim's
bounds read from ``offs`` in the kernel, tiles past a group's end exit), float32 products in TF32 only
when ``ttorch.backends.cuda.matmul.allow_tf32`` is on, as ``mm``'s. cpu: NumPy. The gradients are
the same op on transposed operands (each case's gradients are two of the other cases), so higher orders
come free. Deliberate difference: rows (2D x 3D) or columns (3D x 2D) past ``offs[-1]`` are zeros, in the
result and in ``a``'s gradient, where PyTorch leaves them unwritten.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import launch, cdiv
from .gemm import precision, with_fp64_fallback
from ._op import Op
from .samples import Sample, index, rng

# the jagged dim, by (a.ndim, b.ndim)
_NONE, _M, _N, _K = 0, 1, 2, 3
_MODE = {(2, 3): _M, (3, 3): _NONE, (3, 2): _N, (2, 2): _K}
_TILE = dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=32)
_WARPS = 8      # (4 spill on sm_80 for float32 "ieee": the tile's general-stride pointers cost registers)


@triton.jit
def _grouped_mm_kernel(a_ptr, b_ptr, offs_ptr, c_ptr, M, N, K, s_ag, s_am, s_ak, s_bg, s_bk, s_bn, s_cg, s_cm, s_cn,
                       MODE: tl.constexpr, ACC: tl.constexpr, PREC: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """Group ``g = program_id(2)``: ``c[g] = a[g] @ b[g]`` over its part of the jagged dim (MODE: 0 none,
    1 rows, 2 columns, 3 the contraction); group strides are 0 for an operand shared by all groups."""
    g = tl.program_id(2)
    m0, m1, n0, n1, k0, k1 = 0, M, 0, N, 0, K
    if MODE != 0:
        start = tl.load(offs_ptr + g - 1, mask=g > 0, other=0)
        end = tl.load(offs_ptr + g)
        if MODE == 1:
            m0, m1 = start, end
        elif MODE == 2:
            n0, n1 = start, end
        else:
            k0, k1 = start, end
    rm = m0 + tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = n0 + tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    if (m0 + tl.program_id(0) * BLOCK_M < m1) & (n0 + tl.program_id(1) * BLOCK_N < n1):
        a_base = a_ptr + g.to(tl.int64) * s_ag + rm.to(tl.int64)[:, None] * s_am
        b_base = b_ptr + g.to(tl.int64) * s_bg + rn.to(tl.int64)[None, :] * s_bn
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)      # float32 (float64 for float64 operands)
        for k in range(k0, k1, BLOCK_K):
            rk = k + tl.arange(0, BLOCK_K)
            a = tl.load(a_base + rk.to(tl.int64)[None, :] * s_ak, mask=(rm < m1)[:, None] & (rk < k1)[None, :],
                        other=0.0)                                                          # (BM, BK)
            b = tl.load(b_base + rk.to(tl.int64)[:, None] * s_bk, mask=(rk < k1)[:, None] & (rn < n1)[None, :],
                        other=0.0)                                                          # (BK, BN)
            if PREC == "fma":      # float64 where this Triton's tl.dot has no fp64 (gemm.with_fp64_fallback)
                acc += tl.sum(a[:, :, None].to(ACC) * b[None, :, :].to(ACC), axis=1)
            else:
                acc = tl.dot(a, b, acc, input_precision=PREC)
        c = c_ptr + g.to(tl.int64) * s_cg + rm.to(tl.int64)[:, None] * s_cm + rn.to(tl.int64)[None, :] * s_cn
        tl.store(c, acc.to(c_ptr.dtype.element_ty), mask=(rm < m1)[:, None] & (rn < n1)[None, :])


def _bounds(offs, n):
    """(start, end) of each group, ``offs`` a NumPy int array."""
    ends = [int(e) for e in offs]
    return list(zip([0] + ends[:-1], ends)) if n else []


def _grouped_np(a, b, offs):
    mode = _MODE[(a.ndim, b.ndim)]
    wide = np.float64 if a.dtype == np.float64 else np.float32
    af, bf = a.astype(wide), b.astype(wide)
    if mode == _NONE:
        out = af @ bf
    elif mode == _M:
        out = np.zeros((a.shape[0], b.shape[2]), wide)
        for g, (s, e) in enumerate(_bounds(offs, len(offs))):
            if e > s:
                out[s:e] = af[s:e] @ bf[g]
    elif mode == _N:
        out = np.zeros((a.shape[1], b.shape[1]), wide)
        for g, (s, e) in enumerate(_bounds(offs, len(offs))):
            if e > s:
                out[:, s:e] = af[g] @ bf[:, s:e]
    else:
        out = np.zeros((len(offs), a.shape[0], b.shape[1]), wide)
        for g, (s, e) in enumerate(_bounds(offs, len(offs))):
            if e > s:
                out[g] = af[:, s:e] @ bf[s:e]
    return out.astype(a.dtype)


def _grouped_cuda(a, b, offs):
    mode = _MODE[(a.ndim, b.ndim)]
    G = b._shape[0] if mode == _NONE else offs._shape[0]
    if mode == _NONE:
        shape, (M, K), N = (G, a._shape[1], b._shape[2]), a._shape[1:], b._shape[2]
    elif mode == _M:
        shape, (M, K), N = (a._shape[0], b._shape[2]), a._shape, b._shape[2]
    elif mode == _N:
        shape, (M, K), N = (a._shape[1], b._shape[1]), a._shape[1:], b._shape[1]
    else:
        shape, (M, K), N = (G, a._shape[0], b._shape[1]), a._shape, b._shape[1]
    # rows or columns past offs[-1] belong to no group: zeros, not left unwritten
    out = Tensor._empty(shape, a.dtype, a.device) if mode in (_NONE, _K) else _zeros(shape, a.dtype, a.device)
    if not (M and N and G):
        return out
    sa, sb, so = a.stride(), b.stride(), out.stride()
    ag = sa[0] if a.ndim == 3 else 0
    bg = sb[0] if b.ndim == 3 else 0
    cg = so[0] if out.ndim == 3 else 0
    offs = offs.contiguous() if offs is not None else a
    acc = tl.float64 if a.dtype is D.float64 else tl.float32
    with_fp64_fallback(lambda prec: launch(
        _grouped_mm_kernel, (cdiv(M, _TILE["BLOCK_M"]), cdiv(N, _TILE["BLOCK_N"]), G), a, b, offs, out, M, N, K,
        ag, sa[-2], sa[-1], bg, sb[-2], sb[-1], cg, so[-2], so[-1], MODE=mode, ACC=acc, PREC=prec, **_TILE,
        num_warps=_WARPS, num_stages=3), a.dtype, precision(a.dtype))
    return out


def _zeros(shape, dtype, device):
    from .creation import zeros
    return zeros(shape, dtype=dtype, device=device)


def _grouped_bw(ctx, g):
    a, b, offs = ctx.inputs
    da = _grouped(g, b.transpose(-2, -1), offs) if ctx.needs[0] else None
    db = _grouped(a.transpose(-2, -1), g, offs) if ctx.needs[1] else None
    return da, db, None


def _specs():
    from ._aot import KernelSpec, ptr
    out = []
    for dt, prec in ((D.bfloat16, "ieee"), (D.float16, "ieee"), (D.float32, "ieee"), (D.float32, "tf32")):
        for mode in (_M, _NONE, _N, _K) if prec == "ieee" else (_M,):
            sig = dict(a_ptr=ptr(dt), b_ptr=ptr(dt), offs_ptr=ptr(D.int32), c_ptr=ptr(dt), M="i32", N="i32", K="i32",
                       **{s: "i32" for s in ("s_ag", "s_am", "s_ak", "s_bg", "s_bk", "s_bn", "s_cg", "s_cm", "s_cn")})
            out.append(KernelSpec(_grouped_mm_kernel, sig, dict(MODE=mode, ACC=tl.float32, PREC=prec, **_TILE),
                                  num_warps=_WARPS, num_stages=3, label=f"{dt} mode {mode} {prec}",
                                  divisible=["a_ptr", "b_ptr", "c_ptr", "K", "N"]))
    return out


def _samples():
    r = rng("grouped_mm")
    offs = index([3, 3, 7], np.int32)
    return [Sample([r.normal(size=(9, 5)), r.normal(size=(3, 5, 4)), offs]),
            Sample([r.normal(size=(2, 3, 5)), r.normal(size=(2, 5, 4)), None]),
            Sample([r.normal(size=(3, 3, 5)), r.normal(size=(5, 8)), offs]),
            Sample([r.normal(size=(4, 9)), r.normal(size=(9, 3)), offs])]


_grouped = Op("grouped_mm", cpu=_grouped_np, cuda=_grouped_cuda, backward=_grouped_bw, save=(0, 1, 2),
              grad_name="GroupedMmBackward0", kernels=_specs, family="matmul", samples=_samples)


def _strides_ok(t):
    """PyTorch's layout rule: one of the last two dims unit-stride, the other's stride a multiple of 16 bytes."""
    st, isz = t.stride(), t.dtype.itemsize
    return (st[-1] == 1 and st[-2] * isz % 16 == 0) or (st[-2] == 1 and st[-1] * isz % 16 == 0)


def grouped_mm(mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    """Grouped matrix multiply (MoE): groups along ``offs`` (int32 ends) of the 2D operand's jagged dim.

    Args:
        mat_a: (M, K) or (G, M, K). mat_b: (G, K, N) or (K, N).
        offs: int32 (G,) group ends; required when an operand is 2D, None when both are 3D.
        bias: not supported (PyTorch's error). out_dtype: must be ``mat_a``'s dtype (or None).

    Shape:
        2D x 3D: (M, N). 3D x 3D: (G, M, N). 3D x 2D: (M, N). 2D x 2D: (G, M, N).

    Example::

        >>> import ttorch
        >>> import ttorch.nn.functional as F
        >>> a, b = ttorch.ones(6, 16), ttorch.ones(2, 16, 8)
        >>> F.grouped_mm(a, b, offs=ttorch.tensor([2, 5], dtype=ttorch.int32))[:, 0].tolist()
        [16.0, 16.0, 16.0, 16.0, 16.0, 0.0]
    """
    _check(mat_a, mat_b, offs, bias, out_dtype)
    return _grouped(mat_a, mat_b, offs)


def _check(a, b, offs, bias, out_dtype):
    if a.ndim not in (2, 3):
        raise RuntimeError("mat_a has to be 2 or 3d")
    if b.ndim not in (2, 3):
        raise RuntimeError("mat_b has to be 2 or 3d")
    for name, t in (("mat_a", a), ("mat_b", b)):
        if t.dtype not in (D.float32, D.bfloat16, D.float16):
            raise RuntimeError(f"Expected {name} to be Float32, BFloat16 or Float16 matrix, got "
                               f"{D.scalar_name(t.dtype)}")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_c10(a.dtype)} != {_c10(b.dtype)}")
    if a._shape[-1] != b._shape[-2]:
        raise RuntimeError("contraction dimension of mat_a and mat_b must match")
    if not (_strides_ok(a) and _strides_ok(b)):
        raise RuntimeError("strides should be multiple of 16 bytes")
    if (offs is None) != (a.ndim == 3 and b.ndim == 3):
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if both matrices are 3d")
    if offs is not None:
        if offs.ndim != 1:
            raise RuntimeError("offs has to be 1D")
        if offs.dtype is not D.int32:
            raise RuntimeError("Offsets have to be int32")
    if a.ndim == 3 and b.ndim == 3 and a._shape[0] != b._shape[0]:
        raise RuntimeError("batched dimension has to match")
    if offs is not None and a.ndim + b.ndim == 5 and offs._shape[0] != (b if b.ndim == 3 else a)._shape[0]:
        raise RuntimeError("matrix batch sizes have to match")
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    if out_dtype is not None and out_dtype is not a.dtype:
        raise RuntimeError("Grouped gemm output dtype must match `mat_a` dtype")


def _c10(dt):
    """The name c10 prints for a dtype in this message (``c10::BFloat16``, ``float``, ``c10::Half``)."""
    return {D.float32: "float", D.bfloat16: "c10::BFloat16", D.float16: "c10::Half"}[dt]


def _grouped_mm(mat_a, mat_b, offs=None, bias=None, out_dtype=None):
    """``torch._grouped_mm``: ``F.grouped_mm`` with positional arguments."""
    return grouped_mm(mat_a, mat_b, offs=offs, bias=bias, out_dtype=out_dtype)


# the generated tests call the op itself: they run float64 and strided operands, which grouped_mm's
# PyTorch checks refuse
_grouped.public = lambda mat_a, mat_b, offs: _grouped(mat_a, mat_b, offs)
PUBLIC = {"_grouped_mm": _grouped_mm}
__all__ = []
