"""The int8 GEMM of quantized Linear and Conv (PyTorch's fbgemm ``quantized::linear``): ``uint8`` activations
times ``int8`` weights, accumulated exactly in int32, then requantized (or turned to float) in the epilogue.

``raw[i, j] = sum_k (a[i, k] - a_zp) * (w[j, k] - w_zp[j])`` (exact), then, as fbgemm's ``ReQuantizeOutput``
with a float bias:

- ``requant``: ``q = clamp(rint((float(raw) + bias_s[j]) * mult[j]) + out_zp, lo, hi)`` (uint8), where the
  host passes ``bias_s = bias / (a_scale * w_scale)`` and ``mult = a_scale * w_scale / out_scale`` in float32,
  and ``lo = out_zp`` for a fused ReLU (else 0);
- float (dynamic quantization, fbgemm's ``ReQuantizeForFloat``): ``y = float(raw) * mult[j] + bias[j]``,
  ``mult = a_scale * w_scale``, then ``max(y, 0)`` for a fused ReLU.

cuda: one Triton kernel. Tensor cores take signed int8 only, so the activations enter the ``tl.dot`` as
``a - 128`` and the epilogue adds back ``(128 - a_zp) * col_off[j]`` (``col_off = sum_k w - w_zp * K``,
fbgemm's column offsets, computed once per weight) and subtracts ``w_zp[j] * rowsum(a - 128)``.
cpu: NumPy, with the same float32 epilogue and the integer sum formed exactly (float64 BLAS: exact below 2**53).
"""
import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import launch, cdiv
from ._op import Op

_TILE = dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=64)


@triton.jit
def _qgemm_kernel(a_ptr, w_ptr, coff_ptr, wzp_ptr, bias_ptr, mult_ptr, c_ptr, M, N, K, s_am, s_wn, s_cm, c_fix,
                  out_zp, lo, hi, W_ZP: tl.constexpr, HAS_BIAS: tl.constexpr, REQUANT: tl.constexpr,
                  RELU: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """``c = epilogue(a @ w.T)``; ``a`` (M, K) uint8 and ``w`` (N, K) int8, both K-contiguous."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    a_rows = a_ptr + rm.to(tl.int64)[:, None] * s_am
    w_cols = w_ptr + rn.to(tl.int64)[None, :] * s_wn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    rowsum = tl.zeros((BLOCK_M,), dtype=tl.int32)
    for k in range(0, K, BLOCK_K):
        kk = k + rk
        # masked activations load as 128 (0 once shifted), masked weights as 0: neither adds to a sum
        a = tl.load(a_rows + kk[None, :], mask=(rm < M)[:, None] & (kk < K)[None, :], other=128)   # (BM, BK)
        w = tl.load(w_cols + kk[:, None], mask=(kk < K)[:, None] & (rn < N)[None, :], other=0)      # (BK, BN)
        a_s = a.to(tl.int32) - 128
        if W_ZP:
            rowsum += tl.sum(a_s, axis=1)
        acc = tl.dot(a_s.to(tl.int8), w, acc, out_dtype=tl.int32)
    coff = tl.load(coff_ptr + rn, mask=rn < N, other=0)
    acc = acc + c_fix * coff[None, :]
    if W_ZP:
        acc = acc - tl.load(wzp_ptr + rn, mask=rn < N, other=0)[None, :] * rowsum[:, None]
    mult = tl.load(mult_ptr + rn, mask=rn < N, other=0.0)
    x = acc.to(tl.float32)
    if REQUANT:
        if HAS_BIAS:
            x = x + tl.load(bias_ptr + rn, mask=rn < N, other=0.0)[None, :]
        q = libdevice.rint(x * mult[None, :]) + out_zp
        y = tl.minimum(tl.maximum(q, lo), hi)
    else:
        y = x * mult[None, :]
        if HAS_BIAS:
            y = y + tl.load(bias_ptr + rn, mask=rn < N, other=0.0)[None, :]
        if RELU:
            y = tl.maximum(y, 0.0)
    c = c_ptr + rm.to(tl.int64)[:, None] * s_cm + rn[None, :]
    tl.store(c, y.to(c_ptr.dtype.element_ty), mask=(rm < M)[:, None] & (rn < N)[None, :])


def _qgemm_cuda(a, w, coff, wzp, bias, mult, *, a_zp, out_zp, lo, hi, requant, relu, w_zp):
    M, K = a._shape
    N = w._shape[0]
    a, w = a.contiguous(), w.contiguous()
    out = Tensor._empty((M, N), D.uint8 if requant else D.float32, a.device)
    if M and N:     # (K == 0: the loop runs no step; the epilogue still writes bias and zero points)
        launch(_qgemm_kernel, (cdiv(M, _TILE["BLOCK_M"]), cdiv(N, _TILE["BLOCK_N"])), a, w, coff, wzp,
               bias if bias is not None else mult, mult, out, M, N, K, K, K, N, 128 - a_zp, out_zp, lo, hi,
               W_ZP=w_zp, HAS_BIAS=bias is not None, REQUANT=requant, RELU=relu, **_TILE, num_warps=4,
               num_stages=3)
    return out


def _qgemm_np(a, w, coff, wzp, bias, mult, *, a_zp, out_zp, lo, hi, requant, relu, w_zp):
    raw = (a.astype(np.float64) - a_zp) @ (w.astype(np.float64) - wzp.astype(np.float64)[:, None]).T
    x = raw.astype(np.int64).astype(np.int32).astype(np.float32)     # (M, N): the int32 sum, as float32
    mult = mult.astype(np.float32)
    if requant:
        if bias is not None:
            x = x + bias.astype(np.float32)
        q = np.rint(x * mult) + np.float32(out_zp)
        return np.clip(q, lo, hi).astype(np.uint8)
    y = x * mult
    if bias is not None:
        y = y + bias.astype(np.float32)
    return np.maximum(y, np.float32(0)) if relu else y


def _specs():
    from ._aot import KernelSpec, ptr
    out = []
    for requant, w_zp, bias, relu in ((True, False, True, False), (True, True, False, True),
                                      (False, False, True, False), (False, True, True, True)):
        sig = dict(a_ptr=ptr(D.uint8), w_ptr=ptr(D.int8), coff_ptr=ptr(D.int32), wzp_ptr=ptr(D.int32),
                   bias_ptr=ptr(D.float32), mult_ptr=ptr(D.float32), c_ptr=ptr(D.uint8 if requant else D.float32),
                   M="i32", N="i32", K="i32", s_am="i32", s_wn="i32", s_cm="i32", c_fix="i32", out_zp="i32",
                   lo="i32", hi="i32")
        ce = dict(W_ZP=w_zp, HAS_BIAS=bias, REQUANT=requant, RELU=relu, **_TILE)
        out.append(KernelSpec(_qgemm_kernel, sig, ce, num_warps=4, num_stages=3,
                              label=f"{'requant' if requant else 'float'}{' w_zp' if w_zp else ''}"
                                    f"{' bias' if bias else ''}{' relu' if relu else ''}",
                              divisible=["a_ptr", "w_ptr", "c_ptr", "K", "s_am", "s_wn"]))
    return out


_qgemm_op = Op("quantized_gemm", cpu=_qgemm_np, cuda=_qgemm_cuda, kernels=_specs, family="matmul")


def qgemm(a, w, col_offsets, w_zp, bias, mult, a_zp, out_zp=0, relu=False, requant=True, w_zp_nonzero=None):
    """The quantized GEMM: ``a`` (M, K) uint8 integers, ``w`` (N, K) int8, ``col_offsets`` (N,) int32 (from
    ``column_offsets``), ``w_zp`` (N,) int32, ``bias`` (N,) float32 or None and ``mult`` (N,) float32 prepared
    as the module docstring says (``w_zp_nonzero``: whether any ``w_zp`` is not 0, if the caller knows).
    Returns (M, N) uint8 (``requant``) or float32."""
    lo = out_zp if relu else 0
    has_wzp = w_zp_nonzero if w_zp_nonzero is not None else bool((w_zp != 0).any()) if w_zp.numel() else False
    return _qgemm_op(a, w, col_offsets, w_zp, bias, mult, a_zp=int(a_zp), out_zp=int(out_zp), lo=lo, hi=255,
                     requant=requant, relu=relu, w_zp=has_wzp)


def column_offsets(w, w_zp):
    """fbgemm's column offsets of an (N, K) int8 weight: ``sum_k w[j, k] - w_zp[j] * K`` (int32)."""
    return (w.to(D.int32).sum(1) - w_zp.to(D.int32) * w._shape[1]).to(D.int32)


__all__ = []
