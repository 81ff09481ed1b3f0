"""Fused max pooling (PyTorch's ``max_pool2d_with_indices``; 1-D pooling is the 2-D case with
H = 1): one kernel writes each window's maximum and its flat index in H * W. The composed form
(gather every window with ``index_select``, then ``max(dim)``) took four launches forward and
seven backward per pooling layer.

The rule is PyTorch's: a window element replaces the running maximum when it is larger or NaN
(a NaN stays), ties keep the first; a window whose valid elements are all -inf points at its
first valid element. Padding is never a candidate.

The backward is one kernel too, over the input: each element sums the gradients of the windows
that could contain it (at most ``ceil(K / S)`` per dim) and picked it. No zero fill, no atomics,
so it is deterministic; the composed ``zeros`` + ``scatter_add`` took three launches (four for
half types, which accumulate in float32). Its own backward is a gather of the indices.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D
from .._tensor import Tensor
from ._launch import cdiv, launch, SIMULATED
from ._op import Op
from .elementwise import tl_dtype
from .samples import Sample, rng


@triton.jit
def _pixels(TOTAL, H, W, BLOCK: tl.constexpr):
    """This program's block of a flat (planes, H, W) grid: offsets, live mask, plane, row, column."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    return offs, offs < TOTAL, offs // (W * H), (offs // W) % H, offs % W


@triton.jit
def _max_pool2d_kernel(x_ptr, out_ptr, idx_ptr, TOTAL, H, W, OH, OW, SH, SW, PH, PW, DH, DW, KH: tl.constexpr,
                       KW: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, live, plane, oh, ow = _pixels(TOTAL, OH, OW, BLOCK)                     # over (N * C, OH, OW)
    base = x_ptr + plane * H * W
    best = tl.full((BLOCK,), float("-inf"), ACC)
    arg = tl.full((BLOCK,), -1, tl.int64)
    for kh in tl.static_range(KH):
        ih = oh * SH - PH + kh * DH
        for kw in tl.static_range(KW):
            iw = ow * SW - PW + kw * DW
            ok = live & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            v = tl.load(base + ih * W + iw, mask=ok, other=float("-inf")).to(ACC)
            take = ok & ((v > best) | (v != v) | (arg < 0))
            best = tl.where(take, v, best)
            arg = tl.where(take, ih * W + iw, arg)
    tl.store(out_ptr + offs, best.to(out_ptr.dtype.element_ty), mask=live)
    tl.store(idx_ptr + offs, arg, mask=live)


def _geometry(k, s, p, d, out, in_shape):
    return dict(kernel=tuple(k), stride=tuple(s), padding=tuple(p), dilation=tuple(d), out=tuple(out),
                in_shape=tuple(in_shape))


def _tiled_cpu(x, kernel, out):
    """Windows that tile the input (stride = kernel, no padding or dilation): each window offset is
    a strided slice, so no gather is needed (the general path's fancy indexing). The maximum is
    ``np.maximum`` over the slices; the index, the first slice equal to it (ties keep the first;
    an all -inf window its first element). Windows with a NaN take the rule's loop (last NaN)."""
    n, c, h, w = x.shape
    (kh, kw), (oh, ow) = kernel, out
    taps = [x[:, :, i:oh * kh:kh, j:ow * kw:kw] for i in range(kh) for j in range(kw)]
    best = taps[0]
    for v in taps[1:]:
        best = np.maximum(best, v)
    if best is taps[0]:
        best = best.copy()
    if x.dtype.kind == "f" and np.isnan(best).any():
        best, k = _tiled_rule(taps)
    else:
        k = np.full(best.shape, len(taps) - 1, np.int16 if len(taps) < 1 << 15 else np.int64)
        for t in range(len(taps) - 2, -1, -1):
            np.putmask(k, taps[t] == best, t)
    offs = np.array([i * w + j for i in range(kh) for j in range(kw)], np.int64)
    idx = offs[k]
    idx += (np.arange(oh) * (kh * w))[:, None] + np.arange(ow) * kw
    return best, idx


def _tiled_rule(taps):
    """The kernel's rule over the slices: a later value replaces the maximum when larger or NaN."""
    best, k = taps[0].copy(), np.zeros(taps[0].shape, np.int16)
    for t, v in enumerate(taps[1:], 1):
        with np.errstate(invalid="ignore"):
            take = (v > best) | np.isnan(v)
        best = np.where(take, v, best)
        k = np.where(take, np.int16(t), k)
    return best, k


def _cpu(x, *, kernel, stride, padding, dilation, out, in_shape):
    n, c, h, w = x.shape
    if tuple(stride) == tuple(kernel) and not any(padding) and tuple(dilation) == (1, 1) and \
            out[0] * kernel[0] <= h and out[1] * kernel[1] <= w:
        return _tiled_cpu(x, kernel, out)
    return _windowed_cpu(x, kernel, stride, padding, dilation, out)


def _windowed_cpu(x, kernel, stride, padding, dilation, out):
    """The kernel's rule in NumPy, one window offset at a time over every output at once."""
    n, c, h, w = x.shape
    oh, ow = out
    acc = D._compute_dtype(D.from_numpy_dtype(x.dtype)).np
    best = np.full((n, c, oh, ow), -np.inf, acc)
    arg = np.full((n, c, oh, ow), -1, np.int64)
    for kh in range(kernel[0]):
        ih = np.arange(oh) * stride[0] - padding[0] + kh * dilation[0]
        for kw in range(kernel[1]):
            iw = np.arange(ow) * stride[1] - padding[1] + kw * dilation[1]
            ok = ((ih >= 0) & (ih < h))[:, None] & ((iw >= 0) & (iw < w))[None, :]
            v = x[:, :, np.clip(ih, 0, h - 1)][:, :, :, np.clip(iw, 0, w - 1)].astype(acc)
            with np.errstate(invalid="ignore"):
                take = ok & ((v > best) | np.isnan(v) | (arg < 0))
            best = np.where(take, v, best)
            arg = np.where(take, ih[:, None] * w + iw[None, :], arg)
    return best.astype(x.dtype), arg


def _cuda(x, *, kernel, stride, padding, dilation, out, in_shape):
    x = x.contiguous()
    n, c, h, w = x._shape
    vals = Tensor._empty((n, c) + tuple(out), x.dtype, x.device)
    idx = Tensor._empty((n, c) + tuple(out), D.int64, x.device)
    _launch_pool(_max_pool2d_kernel, vals.numel(), (x, vals, idx), (h, w), out, kernel, stride, padding, dilation)
    return vals, idx


def _launch_pool(kernel_fn, total, tensors, in_hw, out, kernel, stride, padding, dilation):
    """One program per BLOCK pixels of the ``total`` (forward: outputs; backward: inputs)."""
    if total:
        block = 256 if SIMULATED else _pool_block(kernel_fn, kernel)
        launch(kernel_fn, (cdiv(total, block),), *tensors, total, *in_hw, *out, *stride, *padding, *dilation,
               KH=kernel[0], KW=kernel[1], ACC=tl_dtype(D._compute_dtype(tensors[0].dtype)), BLOCK=block)


def _pool_block(kernel_fn, kernel):
    """Pixels a program: 1024, but 256 for a backward over more than 4 taps (its unrolled taps held 1024
    pixels in 255 registers over 4 warps and spilled 212-272 bytes a thread on sm_90; 256: 88-96)."""
    return 256 if kernel_fn is _max_pool2d_bwd_kernel and kernel[0] * kernel[1] > 4 else 1024


@triton.jit
def _max_pool2d_bwd_kernel(g_ptr, idx_ptr, dx_ptr, TOTAL, H, W, OH, OW, SH, SW, PH, PW, DH, DW, KH: tl.constexpr,
                           KW: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs, live, plane, ih, iw = _pixels(TOTAL, H, W, BLOCK)                       # over (N * C, H, W)
    base = plane * OH * OW
    here = ih * W + iw
    acc = tl.zeros((BLOCK,), ACC)
    for kh in tl.static_range(KH):
        th = ih + PH - kh * DH                    # = oh * SH for the window that puts tap kh here
        oh = th // SH
        okh = (th >= 0) & (th - oh * SH == 0) & (oh < OH)
        for kw in tl.static_range(KW):
            tw = iw + PW - kw * DW
            ow = tw // SW
            ok = live & okh & (tw >= 0) & (tw - ow * SW == 0) & (ow < OW)
            o = base + oh * OW + ow
            picked = ok & (tl.load(idx_ptr + o, mask=ok, other=-1) == here)
            acc += tl.load(g_ptr + o, mask=picked, other=0).to(ACC)
    tl.store(dx_ptr + offs, acc.to(dx_ptr.dtype.element_ty), mask=live)


def _bwd_cpu(g, idx, *, kernel, stride, padding, dilation, out, in_shape):
    n, c, h, w = in_shape
    acc = D._compute_dtype(D.from_numpy_dtype(g.dtype)).np
    dx = np.zeros((n * c, h * w), acc)
    rows = np.repeat(np.arange(n * c), idx[0, 0].size if idx.size else 0)
    if all(s >= (k - 1) * d + 1 for s, k, d in zip(stride, kernel, dilation)):
        dx[rows, idx.reshape(-1)] = g.reshape(-1)           # windows apart: no element picked twice
    else:
        np.add.at(dx, (rows, idx.reshape(-1)), g.reshape(-1).astype(acc))
    return dx.reshape(in_shape).astype(g.dtype, copy=False)


def _bwd_cuda(g, idx, *, kernel, stride, padding, dilation, out, in_shape):
    g, idx = g.contiguous(), idx.contiguous()
    dx = Tensor._empty(tuple(in_shape), g.dtype, g.device)
    _launch_pool(_max_pool2d_bwd_kernel, dx.numel(), (g, idx, dx), in_shape[2:], out, kernel, stride, padding,
                 dilation)
    return dx


def _backward(ctx, g, g_idx=None):
    """The gradient summed into each window's maximum."""
    geo = {k: getattr(ctx, k) for k in ("kernel", "stride", "padding", "dilation", "out", "in_shape")}
    return _max_pool2d_bw(g, ctx.outputs[1], **geo)


def _bw_backward(ctx, gg):
    """Of ``dx`` with respect to ``g``: ``gg`` read at each window's maximum."""
    idx = ctx.inputs[1]
    n, c = idx.shape[0], idx.shape[1]
    return gg.reshape(n, c, -1).gather(2, idx.reshape(n, c, -1)).reshape(idx.shape), None


def _specs(backward=False):
    from ._aot import KernelSpec, ptr
    out = []
    for dt in (D.float32, D.float16, D.bfloat16, D.float64):
        for k in (2, 3):
            if backward:
                sig = {"g_ptr": ptr(dt), "idx_ptr": ptr(D.int64), "dx_ptr": ptr(dt)}
            else:
                sig = {"x_ptr": ptr(dt), "out_ptr": ptr(dt), "idx_ptr": ptr(D.int64)}
            sig.update({a: "i32" for a in ("TOTAL", "H", "W", "OH", "OW", "SH", "SW", "PH", "PW", "DH", "DW")})
            kernel = _max_pool2d_bwd_kernel if backward else _max_pool2d_kernel
            ce = dict(KH=k, KW=k, ACC=tl_dtype(D._compute_dtype(dt)), BLOCK=_pool_block(kernel, (k, k)))
            out.append(KernelSpec(kernel, sig, ce,
                                  label=f"max_pool2d {dt} {k}x{k}{' backward' if backward else ''}"))
    return out


def _samples():
    r = rng("max_pool2d")
    tie = np.zeros((1, 1, 4, 4))
    return [Sample([r.uniform(-2, 2, size=(2, 3, 5, 6))], _geometry((2, 2), (2, 2), (0, 0), (1, 1), (2, 3),
                                                                     (2, 3, 5, 6))),
            Sample([r.uniform(-2, 2, size=(1, 2, 7, 5))], _geometry((3, 2), (2, 1), (1, 1), (1, 2), (4, 3),
                                                                     (1, 2, 7, 5))),
            Sample([r.uniform(-2, 2, size=(1, 1, 1, 9))], _geometry((1, 3), (1, 2), (0, 1), (1, 1), (1, 5),
                                                                     (1, 1, 1, 9))),
            Sample([tie], _geometry((2, 2), (1, 1), (0, 0), (1, 1), (3, 3), (1, 1, 4, 4)), grad=False, note="ties")]


_max_pool2d_bw = Op("max_pool2d_backward", cpu=_bwd_cpu, cuda=_bwd_cuda, backward=_bw_backward, save=(1,),
                    plan_state=tuple,         # launches from the arguments alone (_plan.py)
                    samples=lambda: _bw_samples(), kernels=lambda: _specs(True), family="pool")
_max_pool2d = Op("max_pool2d_with_indices", cpu=_cpu, cuda=_cuda, backward=_backward, save=(), save_output="all",
                 plan_state=tuple,
                 samples=_samples, kernels=_specs, family="pool", grad_name="MaxPool2DWithIndicesBackward0")


def max_pool2d_indices(x, kernel, stride, padding, dilation, out):
    """``(values, indices)`` of 2-D max pooling over ``x`` (N, C, H, W), floating dtypes."""
    return _max_pool2d(x, **_geometry(kernel, stride, padding, dilation, out, x._shape))


_max_pool2d.public = _max_pool2d


def _bw_samples():
    """Gradients and indices from the forward samples (indices as the forward picks them)."""
    from .samples import index
    r = rng("max_pool2d_backward")
    out = []
    for s in _samples()[:3]:
        _, idx = _cpu(s.args[0], **s.kwargs)
        out.append(Sample([r.uniform(-1, 1, size=idx.shape), index(idx)], s.kwargs))
    # overlapping windows (3x3, stride 1): an element may be the maximum of several
    x = r.uniform(-2, 2, size=(1, 2, 5, 5))
    geo = _geometry((3, 3), (1, 1), (1, 1), (1, 1), (5, 5), (1, 2, 5, 5))
    _, idx = _cpu(x, **geo)
    out.append(Sample([r.uniform(-1, 1, size=idx.shape), index(idx)], geo, note="overlapping"))
    return out


_max_pool2d_bw.public = lambda g, idx, **geo: _max_pool2d_bw(g, idx, **geo)
