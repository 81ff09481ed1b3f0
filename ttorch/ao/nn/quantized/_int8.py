"""The arithmetic of the quantized modules: packed weights and the int8 GEMM calls (``ttorch/ops/qgemm.py``)
behind quantized Linear and Conv (static: quint8 in, quint8 out) and dynamic Linear (float in, float out).

The constants are formed on the host in float32 as fbgemm forms them, so that the kernels' epilogue rounds
the same numbers: ``act_times_w_scale = float(x_scale) * float(w_scale[j])``, ``mult = act_times_w_scale /
float(out_scale)``; a float bias enters as ``bias * (1 / act_times_w_scale)`` (per-tensor weights) or ``bias
/ act_times_w_scale[j]`` (per-channel). Dynamic quantization picks the input's qparams with C++'s
``ChooseQuantizationParams`` over ``[0, 127]`` (``reduce_range``, fbgemm) or ``[0, 255]``.
"""
import numpy as np

from .... import _dtype as D
from .... import _quantized as Q
from ....ops import qgemm as G


class _Packed:
    """A quantized weight as the GEMM reads it: (N, K) int8 integers, per-row scales (float32, host) and zero
    points (int32), fbgemm's column offsets, and the float bias."""

    def __init__(self, qweight, bias):
        self.qweight, self.bias = qweight, bias
        w = qweight._int
        n = w.shape[0]
        self.w_int = w.reshape(n, -1).contiguous()
        if qweight._axis is None:
            self.scales = np.full(n, np.float32(qweight._scale), np.float32)
            self.zps = np.full(n, int(qweight._zp), np.int32)
            self.per_channel = False
        else:
            if qweight._axis != 0:
                raise RuntimeError("quantized kernels take per-channel weights along axis 0 (output channels)")
            self.scales = qweight._scale._host().astype(np.float32)
            self.zps = qweight._zp._host().astype(np.int32)
            self.per_channel = True
        from .... import tensor
        dev = w.device
        self.w_zp = tensor(self.zps, device=dev)
        self.col_off = G.column_offsets(self.w_int, self.w_zp)

    def rows(self, lo, hi):
        """The packed rows ``lo:hi`` (a group of a grouped conv)."""
        p = _Packed.__new__(_Packed)
        p.__dict__.update(self.__dict__)
        p.w_int, p.w_zp, p.col_off = self.w_int[lo:hi].contiguous(), self.w_zp[lo:hi], self.col_off[lo:hi]
        p.scales, p.zps = self.scales[lo:hi], self.zps[lo:hi]
        p.bias = self.bias[lo:hi] if self.bias is not None else None
        return p


def _vec(a, dev):
    from .... import tensor
    return tensor(np.ascontiguousarray(a, np.float32), device=dev)


def gemm_requant(a_int, a_scale, a_zp, packed, out_scale, out_zp, relu=False):
    """(M, K) uint8 activations -> (M, N) uint8 in the output's qparams (fbgemm's ``ReQuantizeOutput``)."""
    dev = a_int.device
    atws = np.float32(a_scale) * packed.scales                   # float32 products, as fbgemm's
    mult = atws / np.float32(out_scale)
    bias = None
    if packed.bias is not None:
        b = packed.bias.detach().float()._host().astype(np.float32)
        if packed.per_channel:
            bias = _vec(b / atws, dev)
        else:       # fbgemm's vector path multiplies by the reciprocal of the one scale
            bias = _vec(b * np.float32(1.0 / np.float64(atws[0])), dev)
    return G.qgemm(a_int, packed.w_int, packed.col_off, packed.w_zp, bias, _vec(mult, dev), a_zp, out_zp, relu,
                   w_zp_nonzero=bool(packed.zps.any()))


def gemm_float(a_int, a_scale, a_zp, packed, relu=False):
    """(M, K) uint8 activations -> (M, N) float32: ``raw * a_scale * w_scale + bias`` (``ReQuantizeForFloat``)."""
    dev = a_int.device
    bias = packed.bias.detach().float().contiguous() if packed.bias is not None else None
    return G.qgemm(a_int, packed.w_int, packed.col_off, packed.w_zp, bias,
                   _vec(np.float32(a_scale) * packed.scales, dev), a_zp, relu=relu, requant=False,
                   w_zp_nonzero=bool(packed.zps.any()))


def choose_qparams(x, reduce_range):
    """``(scale, zero_point)`` of a float tensor for uint8, C++'s ``ChooseQuantizationParams``."""
    from ....ao.quantization.fake_quantize import _choose_qparams
    if x.numel():
        mn, mx = (float(v) for v in x.detach().aminmax())
    else:
        mn = mx = 0.0
    return _choose_qparams(mn, mx, 0, 127 if reduce_range else 255, False)


def quantize_input(x, scale, zp):
    """The uint8 integers of float ``x`` (``nearbyint(x * (1 / scale) + zp)``, clamped)."""
    return Q._quantize(x.detach().float(), float(np.float32(scale)), int(zp), Q.quint8)


def wrap(q_int, scale, zp):
    """A per-tensor quint8 QuantizedTensor around ``q_int``."""
    return Q.QuantizedTensor._make(q_int, Q.quint8, Q.per_tensor_affine, float(scale), int(zp), None)


def check_quint8(x, what):
    if not getattr(x, "is_quantized", False) or x.dtype is not Q.quint8 or x._axis is not None:
        raise RuntimeError(f"{what}: expected a per-tensor quint8 quantized input (ttorch's quantized kernels take "
                           "quint8 activations, as fbgemm's)")


def linear(x, packed, out_scale, out_zp, relu=False):
    """Quantized linear of a quint8 QuantizedTensor ``x`` (..., K) -> quint8 (..., N)."""
    check_quint8(x, "quantized::linear")
    lead = x.shape[:-1]
    a = x._int.reshape(-1, x.shape[-1])
    q = gemm_requant(a, x._scale, x._zp, packed, out_scale, out_zp, relu)
    return wrap(q.reshape(*lead, q.shape[-1]), out_scale, out_zp)


def linear_dynamic(x, packed, relu=False, reduce_range=True):
    """Dynamic quantized linear: float (..., K) -> float (..., N), the input quantized per call."""
    if x.dtype is not D.float32:
        raise RuntimeError(f"expected scalar type Float but found {D.scalar_name(x.dtype)}")
    scale, zp = choose_qparams(x, reduce_range)
    lead = x.shape[:-1]
    a = quantize_input(x.reshape(-1, x.shape[-1]), scale, zp)
    y = gemm_float(a, scale, zp, packed, relu)
    return y.reshape(*lead, y.shape[-1])


def conv2d(x, packed, stride, padding, dilation, groups, kernel_size, out_scale, out_zp, relu=False):
    """Quantized 2-d convolution of a quint8 (N, C, H, W) input through im2col and the int8 GEMM. Padding
    holds the input's zero point (the integer of 0.0), as fbgemm's."""
    from ....nn import functional as F
    check_quint8(x, "quantized::conv2d")
    n = x.shape[0]
    zp = int(x._zp)
    cols = F.unfold(x._int.float() - zp, kernel_size, dilation=dilation, padding=padding, stride=stride)
    cols = (cols + zp).to(D.uint8)                                        # (N, C*kh*kw, L)
    ho = (x.shape[2] + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1
    wo = (x.shape[3] + 2 * padding[1] - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1
    kg = cols.shape[1] // groups
    og = packed.w_int.shape[0] // groups
    outs = []
    for g in range(groups):
        a = cols[:, g * kg:(g + 1) * kg].permute(0, 2, 1).reshape(n * ho * wo, kg)      # (N*L, Kg)
        p = packed if groups == 1 else packed.rows(g * og, (g + 1) * og)
        outs.append(gemm_requant(a, x._scale, zp, p, out_scale, out_zp, relu))        # (N*L, Og)
    from .... import cat
    q = outs[0] if groups == 1 else cat(outs, 1)
    q = q.reshape(n, ho, wo, -1).permute(0, 3, 1, 2).contiguous()                      # (N, O, Ho, Wo)
    return wrap(q, out_scale, out_zp)


def dequantize_vec(x):
    """A per-tensor quantized tensor's floats as PyTorch's vectorized kernels form them: ``fma(scale, q,
    -zero_point * scale)`` in float32 (the fused product-sum, exact in float64, rounded once)."""
    s = np.float32(x._scale)
    premul = np.float32(-float(x._zp)) * s
    return (x._int.double() * float(s) + float(premul)).float()


def quantize_vec(y, scale, zp):
    """PyTorch's vectorized requantization (``Vectorized<quint8>::quantize``): ``zp + rint(y * (1 / scale))``."""
    inv = float(np.float32(1.0) / np.float32(scale))
    q = ((y.float() * inv).round() + int(zp)).clamp(0, 255).to(D.uint8)
    return wrap(q, scale, zp)
