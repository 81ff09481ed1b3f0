"""``torch._scaled_mm`` and ``F.scaled_mm``: a float8 matrix product with per-tensor or per-row scales.

``out = (a @ b) * scale_a * scale_b (+ bias)``, accumulated in float32 and cast to ``out_dtype`` (default:
``a``'s float8 type, with float8's rounding). Scales are float32: one value each (tensorwise), or ``(M, 1)``
and ``(1, N)`` (rowwise). PyTorch's checks: on cuda ``a`` must be row-major, ``b`` column-major, and ``K``
and ``N`` multiples of 16 (cpu is lenient, as PyTorch's). No autograd, as PyTorch's.

cuda: one Triton GEMM reading the float8 operands as bytes. On sm_90 the tiles are bitcast to Triton's
fp8 types and multiplied by the tensor cores' fp8 ``tl.dot`` (same types for both operands: e4m3fn or
e5m2); elsewhere (sm_80 has no fp8 ``dot``, nor an e4m3 type) they are decoded to float16 inside the
kernel, which holds every float8 value exactly (and fp16 products are exact in the float32 accumulator).
Scales and bias are applied in the epilogue. cpu: NumPy in float32.

Deliberate differences: ``scale_result`` is accepted and ignored (as PyTorch 2.13's cpu does);
``use_fast_accum`` changes nothing (the accumulation is always float32); ``F.scaled_mm`` takes the
TensorWise and RowWise recipes only (no blockwise scales, no swizzles).
"""
import enum

import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ..cuda import _driver
from ._launch import launch, cdiv, SIMULATED
from ._op import Op
from . import float8 as _f8
from .float8 import _decode, _encode

_GEMM_FP8 = (D.float8_e4m3fn, D.float8_e5m2, D.float8_e4m3fnuz, D.float8_e5m2fnuz)
_TL_FP8 = {D.float8_e4m3fn: tl.float8e4nv, D.float8_e5m2: tl.float8e5}
_NO_F8 = dict(EBITS=0, MBITS=0, BIAS=0, KIND=-1)
_TILE = dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=64)
# None: fp8 ``tl.dot`` where the GPU has it (sm_90 and later); tests set it to run both paths
FORCE_FP8_DOT = None


def _fmt(prefix, dtype):
    return {prefix + k: v for k, v in (_f8._FORMAT.get(dtype) or _NO_F8).items()}


@triton.jit
def _scaled_mm_kernel(a_ptr, b_ptr, sa_ptr, sb_ptr, bias_ptr, c_ptr, M, N, K, s_am, s_bn, s_cm,
                      A_EBITS: tl.constexpr, A_MBITS: tl.constexpr, A_BIAS: tl.constexpr, A_KIND: tl.constexpr,
                      B_EBITS: tl.constexpr, B_MBITS: tl.constexpr, B_BIAS: tl.constexpr, B_KIND: tl.constexpr,
                      C_EBITS: tl.constexpr, C_MBITS: tl.constexpr, C_BIAS: tl.constexpr, C_KIND: tl.constexpr,
                      A_TL: tl.constexpr, B_TL: tl.constexpr, FP8_DOT: tl.constexpr, ROWWISE: tl.constexpr,
                      HAS_BIAS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """``c = (a @ b) * sa * sb + bias``; ``a`` (M, K) and ``b`` (K, N) float8 bytes, both K-contiguous."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    a_rows = a_ptr + rm.to(tl.int64)[:, None] * s_am
    b_cols = b_ptr + rn.to(tl.int64)[None, :] * s_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + rk
        a = tl.load(a_rows + kk[None, :], mask=(rm < M)[:, None] & (kk < K)[None, :], other=0)     # (BM, BK)
        b = tl.load(b_cols + kk[:, None], mask=(kk < K)[:, None] & (rn < N)[None, :], other=0)     # (BK, BN)
        if FP8_DOT:
            acc = tl.dot(a.to(A_TL, bitcast=True), b.to(B_TL, bitcast=True), acc)
        else:   # exact float16 values of the bytes (0 decodes to 0 in every format taken here)
            af = _decode(a.to(tl.int32), A_EBITS, A_MBITS, A_BIAS, A_KIND).to(tl.float16)
            bf = _decode(b.to(tl.int32), B_EBITS, B_MBITS, B_BIAS, B_KIND).to(tl.float16)
            acc = tl.dot(af, bf, acc)
    if ROWWISE:
        sa = tl.load(sa_ptr + rm, mask=rm < M, other=0.0)
        sb = tl.load(sb_ptr + rn, mask=rn < N, other=0.0)
        acc = acc * sa[:, None] * sb[None, :]
    else:
        acc = acc * tl.load(sa_ptr) * tl.load(sb_ptr)
    if HAS_BIAS:
        acc = acc + tl.load(bias_ptr + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
    c = c_ptr + rm.to(tl.int64)[:, None] * s_cm + rn[None, :]
    inside = (rm < M)[:, None] & (rn < N)[None, :]
    if C_KIND >= 0:
        tl.store(c, _encode(acc, C_EBITS, C_MBITS, C_BIAS, C_KIND).to(tl.uint8), mask=inside)
    else:
        tl.store(c, acc.to(c_ptr.dtype.element_ty), mask=inside)


def _use_fp8_dot(a, b):
    if a.dtype is not b.dtype or a.dtype not in _TL_FP8:
        return False
    if FORCE_FP8_DOT is not None:
        return FORCE_FP8_DOT
    return not SIMULATED and _driver.backend().capability(a.device.index or 0)[0] >= 9


def _scaled_mm_cuda(a, b, sa, sb, bias, *, out_dtype, rowwise):
    M, K = a._shape
    N = b._shape[1]
    out = Tensor._empty((M, N), D.uint8 if out_dtype in _f8._FORMAT else out_dtype, a.device)
    if M and N:     # (K == 0: the loop runs no step, and the epilogue writes bias or zeros)
        dot8 = _use_fp8_dot(a, b)
        launch(_scaled_mm_kernel, (cdiv(M, _TILE["BLOCK_M"]), cdiv(N, _TILE["BLOCK_N"])),
               _f8.as_bytes(a), _f8.as_bytes(b), sa.contiguous(), sb.contiguous(),
               bias.reshape(-1).contiguous() if bias is not None else sa, out, M, N, K, a.stride(0), b.stride(1), N,
               **_fmt("A_", a.dtype), **_fmt("B_", b.dtype), **_fmt("C_", out_dtype),
               A_TL=_TL_FP8.get(a.dtype, tl.float16) if dot8 else tl.float16,
               B_TL=_TL_FP8.get(b.dtype, tl.float16) if dot8 else tl.float16, FP8_DOT=dot8, ROWWISE=rowwise,
               HAS_BIAS=bias is not None, **_TILE, num_warps=4, num_stages=3)
    return _f8.from_bytes(out, out_dtype) if out_dtype in _f8._FORMAT else out


def _scaled_mm_np(a, b, sa, sb, bias, *, out_dtype, rowwise):
    r = (a.astype(np.float32) @ b.astype(np.float32)) * sa.astype(np.float32) * sb.astype(np.float32)
    if bias is not None:
        r = r + bias.astype(np.float32)
    return _f8.np_cast(r, out_dtype)


def _specs():
    from ._aot import KernelSpec, ptr
    out = []
    f8 = D.float8_e4m3fn
    for dot8 in (False, True):
        for c_dt, rowwise, bias in ((D.bfloat16, False, False), (D.bfloat16, True, True), (D.float32, False, True),
                                    (D.float32, True, False), (f8, False, False)):
            sig = dict(a_ptr=ptr(D.uint8), b_ptr=ptr(D.uint8), sa_ptr=ptr(D.float32), sb_ptr=ptr(D.float32),
                       bias_ptr=ptr(D.bfloat16 if bias else D.float32), c_ptr=ptr(D.uint8 if c_dt is f8 else c_dt),
                       M="i32", N="i32", K="i32", s_am="i32", s_bn="i32", s_cm="i32")
            ce = dict(_fmt("A_", f8), **_fmt("B_", f8), **_fmt("C_", c_dt), A_TL=_TL_FP8[f8] if dot8 else tl.float16,
                      B_TL=_TL_FP8[f8] if dot8 else tl.float16, FP8_DOT=dot8, ROWWISE=rowwise, HAS_BIAS=bias, **_TILE)
            out.append(KernelSpec(_scaled_mm_kernel, sig, ce, num_warps=4, num_stages=3, min_cap=90 if dot8 else 0,
                                  label=f"{'fp8 dot' if dot8 else 'fp16 dot'} e4m3fn -> {c_dt}"
                                        f"{' rowwise' if rowwise else ''}{' bias' if bias else ''}",
                                  divisible=["a_ptr", "b_ptr", "c_ptr", "K", "s_am", "s_bn"]))
    # mixed operands (e4m3fn activations, e5m2 gradients): the fp16 path on every GPU
    sig = dict(out[0].signature)
    ce = dict(out[0].constexprs, **_fmt("B_", D.float8_e5m2))
    out.append(KernelSpec(_scaled_mm_kernel, sig, ce, num_warps=4, num_stages=3, label="fp16 dot e4m3fn x e5m2",
                          divisible=["a_ptr", "b_ptr", "c_ptr", "K", "s_am", "s_bn"]))
    return out


_scaled_mm_op = Op("scaled_mm", cpu=_scaled_mm_np, cuda=_scaled_mm_cuda, kernels=_specs, family="matmul")
for _d in _GEMM_FP8:
    _d._ops = _d._ops | {"scaled_mm"}


def _dims(t):
    return "x".join(str(s) for s in t._shape)


def _check(a, b, scale_a, scale_b, bias):
    """PyTorch's checks; returns whether the scales are rowwise."""
    if a.ndim != 2:
        raise RuntimeError("mat1 must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a._shape[1] != b._shape[0]:
        raise RuntimeError(f"mat_a and mat_b shapes cannot be multiplied ({_dims(a)} and {_dims(b)})")
    M, N = a._shape[0], b._shape[1]
    f8 = a.dtype in _GEMM_FP8 and b.dtype in _GEMM_FP8
    floats = scale_a.dtype is D.float32 and scale_b.dtype is D.float32
    if f8 and floats and scale_a.numel() == 1 and scale_b.numel() == 1:
        rowwise = False
    elif f8 and floats and scale_a._shape == (M, 1) and scale_b._shape == (1, N) and scale_a.is_contiguous() \
            and scale_b.is_contiguous():
        rowwise = True
    else:
        raise ValueError(
            "Invalid scaling configuration.\n- For TensorWise scaling, a and b should be float8, scales should be "
            "float and singletons.\n- For RowWise scaling, a and b should be float8, scales should be float, "
            f"scale_a should be ({M}, 1) and scale_b should be (1, {N}), and both should be contiguous.\n"
            f"Got mat_a.dtype()={D.scalar_name(a.dtype)}, scale_a.dtype()={D.scalar_name(scale_a.dtype)}, "
            f"scale_a.size()={list(scale_a._shape)}, scale_a.stride()={list(scale_a.stride())}, "
            f"mat_b.dtype()={D.scalar_name(b.dtype)}, scale_b.dtype()={D.scalar_name(scale_b.dtype)}, "
            f"scale_b.size()={list(scale_b._shape)} and scale_b.stride()={list(scale_b.stride())}")
    if bias is not None and bias.numel() != N:
        raise RuntimeError(f"Bias must be size {N} but got {bias.numel()}")
    if a.device.type != "cpu":      # (PyTorch's meta checks, which its cuda kernels need)
        sa_, sb_ = a.stride(), b.stride()
        if not (sa_[0] > sa_[1] and sa_[1] == 1) and 0 not in a._shape:
            raise RuntimeError(f"self must be row_major, got stride {tuple(sa_)}")
        if not (sb_[0] == 1 and sb_[1] > 1) and 0 not in b._shape:
            raise RuntimeError(f"mat2 must be col_major, got stride {tuple(sb_)}")
        if a._shape[1] % 16:
            raise RuntimeError(f"Expected self.size(1) to be divisible by 16, but got self.size(1)={a._shape[1]}")
        if b._shape[0] % 16 or b._shape[1] % 16:
            raise RuntimeError(f"Expected both dimensions of mat2 to be divisble by 16 but got {b.shape}")
    return rowwise


def _scaled_mm(self, mat2, scale_a, scale_b, bias=None, scale_result=None, out_dtype=None, use_fast_accum=False):
    """``torch._scaled_mm``: ``(self @ mat2) * scale_a * scale_b + bias`` for float8 ``self`` and ``mat2``.

    Args:
        self, mat2: float8 matrices (M, K) and (K, N); on cuda ``self`` row-major, ``mat2`` column-major.
        scale_a, scale_b: float32 scales, one value each or (M, 1) and (1, N).
        bias: optional (N,) tensor added to the result. out_dtype: default ``self.dtype``.

    Example::

        >>> import ttorch
        >>> a = ttorch.ones(16, 32).to(ttorch.float8_e4m3fn)
        >>> b = ttorch.ones(16, 32).to(ttorch.float8_e4m3fn).t()
        >>> one = ttorch.tensor(1.0)
        >>> ttorch._scaled_mm(a, b, one, ttorch.tensor(0.5), out_dtype=ttorch.float32)[0, :2].tolist()
        [16.0, 16.0]
    """
    rowwise = _check(self, mat2, scale_a, scale_b, bias)
    out_dtype = self.dtype if out_dtype is None else out_dtype
    return _scaled_mm_op(self, mat2, scale_a, scale_b, bias, out_dtype=out_dtype, rowwise=rowwise)


class ScalingType(enum.IntEnum):
    """``F.ScalingType``: how ``F.scaled_mm``'s scales apply (ttorch runs TensorWise and RowWise)."""
    TensorWise = 0
    RowWise = 1
    BlockWise1x16 = 2
    BlockWise1x32 = 3
    BlockWise1x128 = 4
    BlockWise128x128 = 5


class SwizzleType(enum.IntEnum):
    """``F.SwizzleType``: the layout of blockwise scales (ttorch takes NO_SWIZZLE only)."""
    NO_SWIZZLE = 0
    SWIZZLE_32_4_4 = 1


def _single(x):
    if isinstance(x, (list, tuple)):
        if len(x) != 1:
            raise NotImplementedError("ttorch's scaled_mm takes one scale and one recipe per operand")
        return x[0]
    return x


def scaled_mm(mat_a, mat_b, scale_a, scale_recipe_a, scale_b, scale_recipe_b, swizzle_a=None, swizzle_b=None,
              bias=None, output_dtype=D.bfloat16, contraction_dim=(), use_fast_accum=False):
    """``F.scaled_mm``: ``mm(mat_a, mat_b)`` with the scales described by the recipes (TensorWise: one
    value; RowWise: (M, 1) and (1, N)), plus ``bias``, in ``output_dtype`` (default bfloat16).

    Example::

        >>> import ttorch
        >>> import ttorch.nn.functional as F
        >>> a = ttorch.ones(16, 32).to(ttorch.float8_e4m3fn)
        >>> b = ttorch.ones(16, 32).to(ttorch.float8_e4m3fn).t()
        >>> s = ttorch.tensor(1.0)
        >>> F.scaled_mm(a, b, s, F.ScalingType.TensorWise, s, F.ScalingType.TensorWise).dtype
        ttorch.bfloat16
    """
    recipes = (ScalingType(int(_single(scale_recipe_a))), ScalingType(int(_single(scale_recipe_b))))
    if any(r > ScalingType.RowWise for r in recipes):
        raise NotImplementedError(f"ttorch's scaled_mm runs TensorWise and RowWise scaling, not {recipes}")
    for s in (swizzle_a, swizzle_b):
        if s not in (None, [], ()) and int(_single(s)) != SwizzleType.NO_SWIZZLE:
            raise NotImplementedError("ttorch's scaled_mm takes unswizzled scales only")
    if tuple(contraction_dim) not in ((), (1, 0)):
        raise NotImplementedError("ttorch's scaled_mm contracts mat_a's dim 1 with mat_b's dim 0 only")
    return _scaled_mm(mat_a, mat_b, _single(scale_a), _single(scale_b), bias=bias, out_dtype=output_dtype,
                      use_fast_accum=use_fast_accum)


PUBLIC = {"_scaled_mm": _scaled_mm}
__all__ = []
