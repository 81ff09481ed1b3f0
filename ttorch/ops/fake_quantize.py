"""Fake quantization, as quantization-aware training uses it: ``x`` rounded to the integer grid of
``scale`` and ``zero_point``, clamped to ``[quant_min, quant_max]`` and mapped back to floats.

PyTorch's CPU numerics: ``q = zero_point + nearbyint(x * (1.0f / scale))`` (halves to even, the
inverse scale a float32), ``out = (clamp(q, quant_min, quant_max) - zero_point) * scale``; with a
float zero point (per-channel) ``q = nearbyint(x * inv_scale + zero_point)``. NaN counts as below
the range (C's cast of NaN to int64), as in PyTorch. The backward pass is straight through: the
gradient passes where ``q`` is in range (a mask kept from the forward pass, as PyTorch's
``*_cachemask`` ops do) and is zero outside.

The learnable variants (LSQ, ``_fake_quantize_learnable_*``) also give ``scale`` and ``zero_point``
gradients, PyTorch's per-element rules summed over the tensor (or over all dims but ``axis``),
times ``grad_factor``. Their backward has no backward (PyTorch's neither).

One Triton kernel family on cuda: ``_fq_kernel`` (output and mask) and ``_lsq_grad_kernel`` (the
three per-element gradients); NumPy on cpu. On a GPU the float-zero-point sum ``x * inv + z`` may be
contracted to an FMA (ttorch builds with FP fusion on), which can move a rare exact tie.
"""
import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import launch, cdiv
from ._op import Op
from .unary import _div

_BLOCK = 1024


@triton.jit
def _fq_q(x, s, z, qmin, qmax, FLOAT_ZP: tl.constexpr):
    """The quantized value (a float holding an integer; NaN made -inf: below the range)."""
    inv = _div(tl.full(s.shape, 1.0, tl.float32), s).to(x.dtype)   # 1.0f / scale, in float32 as PyTorch
    if FLOAT_ZP:
        q = libdevice.nearbyint(x * inv + z)
    else:
        q = z + libdevice.nearbyint(x * inv)
    return tl.where(q != q, float("-inf"), q)


@triton.jit
def _fq_kernel(x_ptr, s_ptr, z_ptr, out_ptr, mask_ptr, n, inner, C, qmin, qmax, PER_CHANNEL: tl.constexpr,
               FLOAT_ZP: tl.constexpr, OUT32: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """Fake-quantize a contiguous ``x``: per tensor (``s_ptr``/``z_ptr`` are the values) or per channel
    (pointers; the channel of flat position ``i`` is ``(i // inner) % C``)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0).to(COMPUTE)
    if PER_CHANNEL:
        ch = (offs // inner) % C
        s = tl.load(s_ptr + ch, mask=m, other=1.0).to(tl.float32)
        z = tl.load(z_ptr + ch, mask=m, other=0).to(COMPUTE)
    else:
        s = tl.full(x.shape, 1.0, tl.float32) * s_ptr
        z = tl.full(x.shape, 0.0, COMPUTE) + z_ptr
    q = _fq_q(x, s, z, qmin, qmax, FLOAT_ZP)
    inside = (q >= qmin) & (q <= qmax)
    if OUT32:       # PyTorch's per-tensor kernels form the product in float32 whatever the input's dtype
        out = (tl.minimum(tl.maximum(q, qmin), qmax) - z).to(tl.float32) * s
    else:
        out = (tl.minimum(tl.maximum(q, qmin), qmax) - z) * s.to(COMPUTE)
    tl.store(out_ptr + offs, out.to(out_ptr.dtype.element_ty), mask=m)
    tl.store(mask_ptr + offs, inside.to(mask_ptr.dtype.element_ty), mask=m)


@triton.jit
def _lsq_grad_kernel(x_ptr, dy_ptr, s_ptr, z_ptr, dx_ptr, ds_ptr, dz_ptr, n, inner, C, qmin, qmax, gf,
                     COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """Per-element gradients of the learnable fake quantization (PyTorch's
    ``_fake_quantize_grad_learnable_*_kernel``): ``dx``, and the terms of ``dscale`` and ``dzero_point``
    (summed by the host). ``s_ptr``, ``z_ptr``: float32 per-channel values (one for a per-tensor call)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    ch = (offs // inner) % C
    x = tl.load(x_ptr + offs, mask=m, other=0.0).to(COMPUTE)
    dy = tl.load(dy_ptr + offs, mask=m, other=0.0).to(COMPUTE)
    s = tl.load(s_ptr + ch, mask=m, other=1.0).to(tl.float32)
    z = tl.load(z_ptr + ch, mask=m, other=0.0).to(COMPUTE)
    inv = _div(tl.full(s.shape, 1.0, tl.float32), s).to(COMPUTE)
    q = _fq_q(x, s, z, qmin, qmax, True)
    sc = s.to(COMPUTE)
    below = q < qmin
    above = q > qmax
    xfq = (tl.minimum(tl.maximum(q, qmin), qmax) - z) * sc
    ds_in = dy * (xfq - x) * inv
    ds_out = tl.where(below, dy * (qmin - z), dy * (qmax - z))
    outside = below | above
    zero = tl.zeros_like(dy)
    tl.store(dx_ptr + offs, tl.where(outside, zero, dy).to(dx_ptr.dtype.element_ty), mask=m)
    tl.store(ds_ptr + offs, (tl.where(outside, ds_out, ds_in) * gf).to(ds_ptr.dtype.element_ty), mask=m)
    tl.store(dz_ptr + offs, tl.where(outside, -dy * sc * gf, zero).to(dz_ptr.dtype.element_ty), mask=m)


# ---------------------------------------------------------------------------- NumPy (cpu)
def _compute_np(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def _bcast(v, ndim, axis, dtype):
    """A per-channel vector shaped to broadcast along ``axis`` of an ``ndim``-d tensor (a number as it is)."""
    v = np.asarray(v, dtype)
    if axis is None or v.ndim == 0:
        return v
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def _np_q(x, inv, z, float_zp):
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.rint(x * inv + z) if float_zp else z + np.rint(x * inv)
    return np.where(np.isnan(q), -np.inf, q)


def _np_fq(x, s, z, *, axis, qmin, qmax):
    cd = _compute_np(x.dtype)
    float_zp = isinstance(z, np.ndarray) and z.dtype.kind == "f"
    s32 = _bcast(s, x.ndim, axis, np.float32)
    inv = (np.float32(1) / s32).astype(cd)
    zc = _bcast(z, x.ndim, axis, cd)
    q = _np_q(x.astype(cd), inv, zc, float_zp)
    if axis is None:    # PyTorch's per-tensor kernels form the product in float32 whatever the input's dtype
        out = (np.clip(q, qmin, qmax) - zc).astype(np.float32) * s32
    else:
        out = (np.clip(q, qmin, qmax) - zc) * s32.astype(cd)
    return out.astype(x.dtype), (q >= qmin) & (q <= qmax)


def _np_lsq_grad(dy, x, s, z, *, axis, qmin, qmax, grad_factor):
    cd = _compute_np(x.dtype)
    s32 = _bcast(s, x.ndim, axis, np.float32)
    inv = (np.float32(1) / s32).astype(cd)
    sc, zc, xc, dyc = s32.astype(cd), _bcast(z, x.ndim, axis, cd), x.astype(cd), dy.astype(cd)
    gf = cd(np.float32(grad_factor))
    q = _np_q(xc, inv, zc, True)
    below, above = q < qmin, q > qmax
    outside = below | above
    xfq = (np.clip(q, qmin, qmax) - zc) * sc
    with np.errstate(invalid="ignore", over="ignore"):
        ds = np.where(outside, np.where(below, dyc * (qmin - zc), dyc * (qmax - zc)), dyc * (xfq - xc) * inv) * gf
        dz = np.where(outside, -dyc * sc * gf, 0)
    dx = np.where(outside, 0, dyc)
    return dx.astype(x.dtype), ds.astype(x.dtype), dz.astype(x.dtype)


# ---------------------------------------------------------------------------- cuda
def _layout(x, axis):
    """``(inner, C)``: the channel of flat position i is ``(i // inner) % C``."""
    if axis is None:
        return 1, 1
    inner = 1
    for d in x.shape[axis + 1:]:
        inner *= d
    return inner, x.shape[axis]


def _cuda_fq(x, s, z, *, axis, qmin, qmax):
    xc = x.contiguous()
    out = Tensor._empty(x.shape, x.dtype, x.device)
    mask = Tensor._empty(x.shape, D.bool, x.device)
    n = x.numel()
    if n:
        per_channel = type(s) is Tensor
        float_zp = per_channel and z.dtype.is_floating_point
        inner, C = _layout(x, axis)
        launch(_fq_kernel, (cdiv(n, _BLOCK),), xc, s, z, out, mask, n, inner, C, float(qmin), float(qmax),
               PER_CHANNEL=per_channel, FLOAT_ZP=float_zp, OUT32=axis is None, COMPUTE=_compute_tl(x.dtype),
               BLOCK=_BLOCK)
    return out, mask


def _compute_tl(dtype):
    return tl.float64 if dtype is D.float64 else tl.float32


def _cuda_lsq_grad(dy, x, s, z, *, axis, qmin, qmax, grad_factor):
    xc, dyc = x.contiguous(), dy.contiguous()
    dx, ds, dz = (Tensor._empty(x.shape, x.dtype, x.device) for _ in range(3))
    n = x.numel()
    if n:
        inner, C = _layout(x, axis)
        launch(_lsq_grad_kernel, (cdiv(n, _BLOCK),), xc, dyc, s.float().contiguous(), z.float().contiguous(),
               dx, ds, dz, n, inner, C, float(qmin), float(qmax), float(grad_factor),
               COMPUTE=_compute_tl(x.dtype), BLOCK=_BLOCK)
    return dx, ds, dz


def _specs(kind):
    """The configurations of one op: ``kind`` "tensor" (scalar qparams), "channel" (qparams in memory,
    also the tensor-qparams overload) or "lsq" (the learnable ops' gradients)."""
    from ._aot import KernelSpec, ptr
    specs = []
    modes = {"tensor": ((False, False),), "channel": ((True, False), (True, True)), "lsq": ()}[kind]
    for dt in (D.float32, D.float64, D.float16, D.bfloat16):
        comp = _compute_tl(dt)
        for per_channel, float_zp in modes:
            if per_channel and not float_zp and kind == "channel":
                out32 = (False, True)       # per channel, and a tensor-qparams per-tensor call
            else:
                out32 = (not per_channel,)
            zdt = D.float32 if float_zp else D.int32
            sig = dict(x_ptr=ptr(dt), s_ptr=ptr(D.float32) if per_channel else "fp32",
                       z_ptr=ptr(zdt) if per_channel else "i32", out_ptr=ptr(dt), mask_ptr=ptr(D.bool),
                       n="i32", inner="i32", C="i32", qmin="fp32", qmax="fp32")
            for o32 in out32:
                ce = dict(PER_CHANNEL=per_channel, FLOAT_ZP=float_zp, OUT32=o32, COMPUTE=comp, BLOCK=_BLOCK)
                specs.append(KernelSpec(_fq_kernel, sig, ce,
                                        label=f"fake_quantize {dt} {'channel' if per_channel else 'tensor'}"
                                              f"{' float zp' if float_zp else ''}{' out32' if o32 else ''}"))
        if kind != "lsq":
            continue
        sig = dict(x_ptr=ptr(dt), dy_ptr=ptr(dt), s_ptr=ptr(D.float32), z_ptr=ptr(D.float32), dx_ptr=ptr(dt),
                   ds_ptr=ptr(dt), dz_ptr=ptr(dt), n="i32", inner="i32", C="i32", qmin="fp32", qmax="fp32",
                   gf="fp32")
        specs.append(KernelSpec(_lsq_grad_kernel, sig, dict(COMPUTE=comp, BLOCK=_BLOCK), label=f"lsq grad {dt}"))
    return specs


# ---------------------------------------------------------------------------- ops
def _mask_backward(ctx, g):
    return (g * ctx.outputs[1],) + (None,) * (len(ctx.inputs) - 1)


def _fq_op(name, kind):
    return Op(name, cpu=_np_fq, cuda=_cuda_fq, backward=_mask_backward, save=(), save_output="all", grad_outputs=1,
              family="quantize", kernels=lambda: _specs(kind))


_fq_tensor = _fq_op("fake_quantize_per_tensor_affine_cachemask", "tensor")
_fq_tensor_qparams = _fq_op("_fake_quantize_per_tensor_affine_cachemask_tensor_qparams", "channel")
_fq_channel = _fq_op("fake_quantize_per_channel_affine_cachemask", "channel")
_lsq_grad = Op("_fake_quantize_learnable_backward", cpu=_np_lsq_grad, cuda=_cuda_lsq_grad, family="quantize",
               kernels=lambda: _specs("lsq"))


def _run(cpu, cuda, *inputs, **attrs):
    """A device function called directly (inside a composed op's impl: no graph recorded twice)."""
    if inputs[0].device.type == "cpu":
        r = cpu(*[t._np if type(t) is Tensor else t for t in inputs], **attrs)
        return tuple(Tensor._wrap_np(a) for a in r)
    return cuda(*inputs, **attrs)


def _lsq_tensor_impl(x, scale, zero_point, *, qmin, qmax, grad_factor):
    s = float(np.float32(scale.reshape(-1)[0].item()))
    z = int(min(max(np.rint(np.float32(zero_point.reshape(-1)[0].item())), qmin), qmax))
    return _run(_np_fq, _cuda_fq, x, s, z, axis=None, qmin=qmin, qmax=qmax)[0]


def _lsq_tensor_backward(ctx, g):
    x, scale, zero_point = ctx.inputs
    # PyTorch's backward takes the zero point as int(clamp(z + 0.5)), not the forward's nearbyint
    z = int(min(max(np.float32(zero_point.reshape(-1)[0].item()) + np.float32(0.5), ctx.qmin), ctx.qmax))
    s = scale.reshape(-1)[:1].float()
    zt = Tensor._wrap_np(np.array([z], np.float32)).to(x.device)
    dx, ds, dz = _lsq_grad(g, x, s, zt, axis=None, qmin=ctx.qmin, qmax=ctx.qmax, grad_factor=ctx.grad_factor)
    return dx, ds.sum().reshape(scale.shape).to(scale.dtype), dz.sum().reshape(zero_point.shape).to(zero_point.dtype)


def _rounded_zp(zero_point, qmin, qmax):
    return zero_point.round().clamp(qmin, qmax)


def _lsq_channel_impl(x, scale, zero_point, *, axis, qmin, qmax, grad_factor):
    from .. import _dtype as D_
    z = _rounded_zp(zero_point.detach(), qmin, qmax).to(D_.int32)
    return _run(_np_fq, _cuda_fq, x, scale.detach(), z, axis=axis, qmin=qmin, qmax=qmax)[0]


def _lsq_channel_backward(ctx, g):
    x, scale, zero_point = ctx.inputs
    z = _rounded_zp(zero_point, ctx.qmin, ctx.qmax)
    dx, ds, dz = _lsq_grad(g, x, scale, z, axis=ctx.axis, qmin=ctx.qmin, qmax=ctx.qmax, grad_factor=ctx.grad_factor)
    dims = [d for d in range(x.dim()) if d != ctx.axis]
    if dims:
        ds, dz = ds.sum(dim=dims), dz.sum(dim=dims)
    return dx, ds.to(scale.dtype), dz.to(zero_point.dtype)


_lsq_tensor = Op("_fake_quantize_learnable_per_tensor_affine", impl=_lsq_tensor_impl, backward=_lsq_tensor_backward,
                 family="quantize")
_lsq_channel = Op("_fake_quantize_learnable_per_channel_affine", impl=_lsq_channel_impl,
                  backward=_lsq_channel_backward, family="quantize")


# ---------------------------------------------------------------------------- public functions
def _check_range(qmin, qmax, zero_points=()):
    if qmin > qmax:
        raise RuntimeError("`quant_min` should be less than or         equal to `quant_max`.")
    for z in zero_points:
        if not qmin <= z <= qmax:
            raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")


def _check_float(input, kernel):
    if not input.dtype.is_floating_point or input.dtype._limited:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.scalar_name(input.dtype)}'")


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Fake-quantize ``input`` with one ``scale`` and ``zero_point`` (numbers, or one-element tensors).

    ``out = (clamp(zero_point + nearbyint(input / scale), quant_min, quant_max) - zero_point) * scale``;
    the gradient passes where the quantized value is within ``[quant_min, quant_max]``, else is zero.

    Example::

        >>> import ttorch
        >>> ttorch.fake_quantize_per_tensor_affine(ttorch.tensor([0.25, 0.75, 9.0]), 0.5, 0, 0, 10).tolist()
        [0.0, 1.0, 5.0]
    """
    _check_float(input, "fake_quantize_tensor_cachemask_kernel_type_handling")
    if type(scale) is Tensor or type(zero_point) is Tensor:
        if scale.numel() != 1:
            raise RuntimeError(f"a Tensor with {scale.numel()} elements cannot be converted to Scalar")
        _check_range(quant_min, quant_max)
        s = scale.reshape(1).to(D.float32).to(input.device)       # (a cpu scalar tensor serves a cuda input)
        z = zero_point.reshape(1).to(D.int32).to(input.device)
        return _fq_tensor_qparams(input, s, z, axis=None, qmin=quant_min, qmax=quant_max)[0]
    _check_range(quant_min, quant_max, (zero_point,))
    return _fq_tensor(input, float(scale), int(zero_point), axis=None, qmin=quant_min, qmax=quant_max)[0]


def _check_channel(input, scale, zero_point, axis, quant_min, quant_max, zp_types):
    if scale.dtype is not D.float32:
        raise RuntimeError(f"Scale must be Float or BFloat16, found {D.scalar_name(scale.dtype)}")
    if zero_point.dtype not in zp_types:
        raise RuntimeError(f"Zero-point must be Int32, Float or Half, found {D.scalar_name(zero_point.dtype)}")
    if scale.dim() != 1:
        raise RuntimeError("scale should be a 1-D tensor")
    if zero_point.dim() != 1:
        raise RuntimeError("zero point should be a 1-D tensor")
    if scale.numel() != zero_point.numel():
        raise RuntimeError("scale and zero-point need to have the same dimensions")
    if not 0 <= axis < max(input.dim(), 1):
        raise RuntimeError("`axis` must be between 0 and number of dimensions of input")
    if scale.numel() != input.shape[axis]:
        raise RuntimeError("dimensions of scale and zero-point are not consistent with input tensor")
    _check_range(quant_min, quant_max)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Fake-quantize ``input`` with one ``scale[c]`` and ``zero_point[c]`` per index ``c`` along ``axis``.

    ``scale``: float32 (C,); ``zero_point``: int32, float32 or float16 (C,). A float zero point rounds
    ``input / scale + zero_point`` (PyTorch's affine-quantizer equation). Gradient as
    ``fake_quantize_per_tensor_affine``'s, to ``input`` only.

    Example::

        >>> import ttorch
        >>> x = ttorch.tensor([[0.5, 2.5], [3.0, 9.0]])
        >>> s, z = ttorch.tensor([1.0, 2.0]), ttorch.tensor([0, 1], dtype=ttorch.int32)
        >>> ttorch.fake_quantize_per_channel_affine(x, s, z, 0, -4, 3).tolist()
        [[0.0, 2.0], [4.0, 4.0]]
    """
    _check_float(input, "fake_quantize_channel_cachemask_cpu_type_handling")
    _check_channel(input, scale, zero_point, axis, quant_min, quant_max, (D.int32, D.float32, D.float16))
    if not zero_point.dtype.is_floating_point:
        zs = zero_point.tolist()
        _check_range(quant_min, quant_max, (min(zs), max(zs)) if zs else ())
    else:
        zero_point = zero_point.float()
    return _fq_channel(input, scale, zero_point, axis=axis, qmin=quant_min, qmax=quant_max)[0]


def _fake_quantize_learnable_per_tensor_affine(input, scale, zero_point, quant_min, quant_max, grad_factor=1.0):
    """LSQ fake quantization: ``fake_quantize_per_tensor_affine`` with ``scale`` and ``zero_point``
    one-element float tensors that get gradients (PyTorch's rules, times ``grad_factor``). The forward
    pass rounds the zero point half to even; the backward pass uses ``int(z + 0.5)`` (PyTorch's)."""
    _check_float(input, "fake_quantize_tensor_cachemask_kernel_type_handling")
    _check_range(quant_min, quant_max)
    return _lsq_tensor(input, scale, zero_point, qmin=quant_min, qmax=quant_max, grad_factor=grad_factor)


def _fake_quantize_learnable_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max,
                                                grad_factor=1.0):
    """LSQ fake quantization per channel along ``axis``: ``scale`` (C,) and ``zero_point`` (C,) float
    tensors get gradients; the zero point is rounded half to even and clamped to the range."""
    _check_float(input, "fake_quantize_channel_cachemask_cpu_type_handling")
    _check_channel(input, scale, zero_point, axis, quant_min, quant_max, (D.int32, D.float32, D.float16))
    return _lsq_channel(input, scale, zero_point, axis=axis, qmin=quant_min, qmax=quant_max, grad_factor=grad_factor)


PUBLIC = {f.__name__: f for f in (fake_quantize_per_tensor_affine, fake_quantize_per_channel_affine,
                                  _fake_quantize_learnable_per_tensor_affine,
                                  _fake_quantize_learnable_per_channel_affine)}
__all__ = []
