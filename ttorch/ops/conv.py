"""2-D convolution as three implicit-GEMM Triton kernels: forward, input gradient, weight gradient.

Shapes: input ``x`` (N, C, H, W), weight ``w`` (OC, C/groups, KH, KW), output ``y`` (N, OC, OH, OW);
``g`` indexes groups, ``NG = OC/groups``, ``CG = C/groups``. Each kernel is a tiled GEMM whose
operand tiles are gathered from NCHW memory with masks (padding, stride, dilation): no im2col
buffer is ever written.

    forward   y[(n,oh,ow), o]   = sum_(c,kh,kw)  x[n, c, oh*S-P+kh*D, ...] * w[o, (c,kh,kw)]
    input     dx[(n,ih,iw), c]  = sum_(o,kh,kw)  dy[n, o, (ih+P-kh*D)/S, ...] * w[o, (c,kh,kw)]
              (only taps whose output position is integral and in range; this is also
              ``conv_transpose2d``'s forward, whose weight has the same (C_in, C_out/g, ...) layout)
    weight    dw[o, (c,kh,kw)]  = sum_(n,oh,ow)  dy[n, o, oh, ow] * x[n, c, oh*S-P+kh*D, ...]
              (K = N*OH*OW is long and the output small: the K range is split over programs
              and the fp32 partials summed afterwards)

The forward and input-gradient kernels run one K loop over (tap, channel block), taps outer, and
the weight-gradient kernel gives each program one tap: a tap's padding/stride mask is then a
vector and a tile's offsets one 2-D int32 add, with no div/mod per element. The gathered pixel
tiles are loaded pixel-major (neighbouring pixels on neighbouring lanes: coalesced for stride 1,
and a thread holds few pixel rows) and the output stored so. Groups are grid axis 1.

Accumulation is fp32 (fp64 for float64, through ``tl.dot`` on fp64, or broadcast FMAs on Tritons
without it, as in ``matmul.py``). fp32 products run on TF32 tensor cores while
``ttorch.backends.cudnn.allow_tf32`` is on (PyTorch's default for convolutions), else on
full-precision FMAs. On cpu the
same three ops run as im2col + BLAS (``np.matmul``; half types in float32). Backward rules call
these ops, so every gradient is itself differentiable. Padding is symmetric per dim; callers pad
first for asymmetric padding or other padding modes. conv1d is conv2d with H = 1.
"""
import functools

import numpy as np

from .. import _dtype as D, tune
from ..backends import cudnn as _cudnn
from .._tensor import Tensor, _numel
from ._launch import launch, cdiv, SIMULATED
from ._op import Op
from .elementwise import tl_dtype
from .gemm import with_fp64_fallback, _fp64_dot, _tile as _cfg_tile, _as_config   # same tile tuples as the GEMM
from .samples import Sample, rng
from ._conv_kernels import _conv_fwd_kernel, _conv_dgrad_kernel, _conv_wgrad_kernel


def _ties_first():
    """Whether this Triton's coalescing pass, choosing a load's lane order among axes of equal
    (unit) contiguity, as every axis of a gathered tile has, puts the first axis on a warp's lanes:
    3.6 (the GPU machine's) does (``argSort``), 3.9 (the CI's) puts the last (``getOrderFromContiguity``).
    Which of 3.7 and 3.8 switched is unmeasured: a wrong answer costs coalescing and registers
    (a thread then holds many pixels' offsets and masks: 3.6 spilled up to 536 B), never results."""
    import triton
    try:
        return tuple(int(v) for v in triton.__version__.split(".")[:2]) < (3, 7)
    except ValueError:
        return False


# The forward and input-gradient kernels lay their gathered tiles and output out (pixels, K) rather
# than (K, pixels) where this Triton breaks that tie toward the first axis: pixels stay on the lanes
_PIX_FIRST = _ties_first()


# ------------------------------------------------------------------------------ configurations
# (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages), largest first: the largest tile
# that still gives a full wave of programs is taken, else the smallest.
_HALF = [(128, 64, 32, 8, 4, 3), (64, 64, 32, 8, 4, 3)]
# TF32 (float32 on the tensor cores): an operand fragment holds twice a half one's bytes, and 128x64
# over 4 warps took all 255 registers and spilled 4 B on sm_90 as the CNN step launches its first conv
# (stride, padding and dilation 1: constexprs; 3 channels: the flat K axis); over 8 warps, 128-174
_TF32 = [(128, 64, 32, 8, 8, 3), (64, 64, 32, 8, 4, 3)]
# float32 without TF32 runs tl.dot on FMAs, which loads a thread's slices of both operands for the
# whole BLOCK_K into registers: 64x64 with BLOCK_K 32 took all 255 on sm_80 and spilled, with 16 it
# takes 96-168 on sm_80 and sm_90 (the same FMAs per K element, in twice the loop steps)
CONFIGS = {D.float16: _HALF, D.bfloat16: _HALF, D.float32: [(64, 64, 16, 8, 4, 3), (32, 32, 32, 8, 4, 3)],
           D.float64: [(32, 32, 16, 8, 4, 2)]}
_FMA = (32, 32, 8, 8, 4, 2)       # float64 without tl.dot: the K slab lives in registers
_WAVE = 128                       # about one program per SM (132 on H100)


def _prec(dt):
    """``tl.dot``'s input precision: TF32 for float32 while ``ttorch.backends.cudnn.allow_tf32`` is
    on (PyTorch's default: its cuDNN convolutions take TF32 on Ampere and later), else IEEE."""
    return "tf32" if dt is D.float32 and _cudnn.allow_tf32 else "ieee"


def _pick(dt, prec, m, n, k, batch, kind=None):
    forced = _FORCE.get(kind)
    if forced is not None:
        return forced
    if kind is not None and prec != "fma":
        won = tune.lookup("conv2d", _tune_key(kind, dt, m, n, k, prec))
        if won is not None:
            return _cfg_tile(won)
    if SIMULATED:
        # the interpreter pays per program and per K step, not per element: 16-wide tiles on tiny
        # shapes (so tests reach the edge masks and the K loop), wider ones beyond
        return (16 if m <= 64 else 64, 16 if n <= 16 else 32 if n <= 32 else 64, 16 if k <= 16 else 32, 2, 4, 1)
    if prec == "fma":
        return _FMA
    cfgs = _TF32 if prec == "tf32" else CONFIGS[dt]
    for cfg in cfgs:
        if cdiv(m, cfg[0]) * cdiv(n, cfg[1]) * batch >= _WAVE:
            return cfg
    return cfgs[-1]


# ------------------------------------------------------------------------------ tuning
# What ``python -m ttorch.tune --op conv2d`` may pick per (kernel, dtype, implicit-GEMM M/N/K bucket):
# the tiles above, then larger and narrower ones; all compile without spills for sm_80 and sm_90.
# float64 keeps its one tile. Untuned shapes take ``_pick``'s wave heuristic.
_TUNE_SPACE = {"half": _HALF + [(128, 128, 32, 8, 8, 3), (64, 32, 32, 8, 4, 3)],
               "float32": CONFIGS[D.float32] + [(128, 64, 32, 8, 8, 3)]}
_TUNE_SPACE["tf32"] = _TF32 + [(128, 128, 32, 8, 8, 3), (64, 32, 32, 8, 4, 3)]   # (4-byte elements: 96 KiB at most)
_FORCE = {}     # kernel kind -> tile, while the tuner times it


def _tune_key(kind, dt, m, n, k, prec="ieee"):
    """Buckets per kernel, dtype ("tf32" for float32 on tensor cores) and implicit-GEMM M/N/K."""
    return (kind, "tf32" if prec == "tf32" else dt.name, tune.bucket(m), tune.bucket(n), tune.bucket(k))


def _tune_configs(b):
    if b[1] == "float64":
        return [_as_config(CONFIGS[D.float64][0])]
    return [_as_config(t) for t in _TUNE_SPACE[b[1] if b[1] in ("float32", "tf32") else "half"]]


def _dtype_prec(name):
    """A tuning problem's dtype name ("tf32": float32 with TF32 on) as (dtype, precision)."""
    return (D.float32, "tf32") if name == "tf32" else (getattr(D, name), "ieee")


def _tune_problems(quick):
    if quick or SIMULATED:
        return [(kind, "float32", 1, 3, 6, 4) for kind in ("fwd", "dgrad", "wgrad")]
    # (N, C, HW, OC) of ResNet-like layers, 3x3, padding 1
    layers = [(32, 64, 56, 64), (32, 128, 28, 128), (32, 256, 14, 256), (32, 512, 7, 512)]
    return [(kind, dt, *layer) for kind in ("fwd", "dgrad", "wgrad")
            for dt in ("float16", "bfloat16", "tf32", "float32") for layer in layers]


def _tune_bench(cfg, kind, dtype, n, c, hw, oc):
    from .random import randn
    dt, prec = _dtype_prec(dtype)
    x, w = randn(n, c, hw, hw, device="cuda").to(dt), randn(oc, c, 3, 3, device="cuda").to(dt)
    dy = randn(n, oc, hw, hw, device="cuda").to(dt)
    geo = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    call = {"fwd": lambda: _fwd_cuda(x, w, None, out_size=(hw, hw), **geo),
            "dgrad": lambda: _dgrad_cuda(dy, w, None, size=(hw, hw), **geo),
            "wgrad": lambda: _wgrad_cuda(x, dy, kernel=(3, 3), **geo)}[kind]

    def run():
        _FORCE[kind] = _cfg_tile(cfg)
        tf32, _cudnn.allow_tf32 = _cudnn.allow_tf32, prec == "tf32"
        try:
            call()
        finally:
            _FORCE.pop(kind, None)
            _cudnn.allow_tf32 = tf32
    return run


def _tune_key_of(kind, dtype, n, c, hw, oc):
    mnk = {"fwd": (n * hw * hw, oc, c), "dgrad": (n * hw * hw, c, oc), "wgrad": (oc, c, n * hw * hw)}[kind]
    dt, prec = _dtype_prec(dtype)
    return _tune_key(kind, dt, *mnk, prec)


tune.register(tune.Tunable("conv2d", configs=_tune_configs, heuristic=lambda b: _as_config(
    _pick(*_dtype_prec(b[1]), b[2], b[3], b[4], 1) if not SIMULATED else CONFIGS[_dtype_prec(b[1])[0]][-1]),
    key=_tune_key_of, problems=_tune_problems, bench=_tune_bench,
    doc="implicit-GEMM convolution forward, input and weight gradients: tiles, warps, stages"))


def _geo(stride, padding, dilation):
    return (*stride, *padding, *dilation)


def _acc(dt):
    return D.float64 if dt is D.float64 else D.float32


# ------------------------------------------------------------------------------ cuda
def _fwd_cuda(x, w, b, *, stride, padding, dilation, groups, out_size):
    x, w = x.detach().contiguous(), w.detach().contiguous()
    N, C, H, W = x._shape
    OC, CG, KH, KW = w._shape
    OH, OW = out_size
    y = Tensor._empty((N, OC, OH, OW), x.dtype, x.device)
    if y.numel() == 0:
        return y
    b = b.detach().contiguous() if b is not None else None
    M, NG = N * OH * OW, OC // groups
    chunks = _batch_chunks(N, (C * H * W, OC * OH * OW), w.numel(), "conv2d")

    def run(prec):
        bm, bn, bk, gm, warps, stages = _pick(x.dtype, prec, M, NG, CG, groups, "fwd")
        for n0, n1 in chunks:
            m = (n1 - n0) * OH * OW
            launch(_conv_fwd_kernel, (cdiv(m, bm) * cdiv(NG, bn), groups), _images(x, n0, n1), w,
                   b if b is not None else w, _images(y, n0, n1), C, H, W, OC, OH, OW, m, NG, CG, KH, KW,
                   *_geo(stride, padding, dilation), HAS_B=b is not None, ACC=tl_dtype(_acc(x.dtype)), PREC=prec,
                   BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=gm, TAPS=_taps_outside(CG, KH * KW, bk),
                   PIX_FIRST=_PIX_FIRST, num_warps=warps, num_stages=stages)
        return y
    return with_fp64_fallback(run, x.dtype, _prec(x.dtype))


# The kernels index in int32: a 64-bit address per gathered element, which the compiler kept live
# across the K loop, spilled registers. Batches whose tensors reach 2**31 elements launch per run of
# images that stays below.
_I32_NUMEL = 2 ** 31


def _batch_chunks(n, per_image, weight, name):
    """(first, end) images of each launch: every tensor a launch touches under ``_I32_NUMEL``
    elements. ``per_image``: the elements one image has in each batched tensor."""
    step = (_I32_NUMEL - 1) // max(per_image + (1,))
    if step == 0 or weight >= _I32_NUMEL:
        raise RuntimeError(f"{name}: an image or a weight of 2**31 elements or more is not supported on cuda")
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _images(t, first, end):
    """Images ``first:end`` of a contiguous batched tensor, as a view (no copy)."""
    if first == 0 and end == t._shape[0]:
        return t
    per = _numel(t._shape[1:])
    return t._view((end - first,) + tuple(t._shape[1:]), t.stride(), t._offset + first * per)


def _taps_outside(cg, taps, bk):
    """The forward's K loop (the weight gradient's N axis): taps outside and channels inside
    (vector masks, no div/mod per element), unless the channels fill so little of a block that
    running (channel, tap) as one axis takes at most half the blocks: 3 channels x 9 taps is 9
    blocks one way, 1 (32 wide) the other. H100, 128 x 3 x 32 x 32 -> 32 forward and weight gradient:
    0.51 ms as one axis, 0.55 with taps outside (TF32; 0.52 on IEEE FMAs)."""
    return 2 * cdiv(cg * taps, bk) > taps * cdiv(cg, bk)


def _dgrad_cuda(dy, w, b, *, stride, padding, dilation, groups, size):
    dy, w = dy.detach().contiguous(), w.detach().contiguous()
    N, OC, OH, OW = dy._shape
    _, CG, KH, KW = w._shape
    H, W = size
    C = CG * groups
    dx = Tensor._empty((N, C, H, W), dy.dtype, dy.device)
    if dx.numel() == 0:
        return dx
    b = b.detach().contiguous() if b is not None else None
    M = N * H * W
    chunks = _batch_chunks(N, (C * H * W, OC * OH * OW), w.numel(), "conv2d_input_grad")

    def run(prec):
        bm, bn, bk, gm, warps, stages = _pick(dy.dtype, prec, M, CG, OC // groups, groups, "dgrad")
        for n0, n1 in chunks:
            m = (n1 - n0) * H * W
            launch(_conv_dgrad_kernel, (cdiv(m, bm) * cdiv(CG, bn), groups), _images(dy, n0, n1), w,
                   b if b is not None else w, _images(dx, n0, n1), C, H, W, OC, OH, OW, m, OC // groups, CG, KH, KW,
                   *_geo(stride, padding, dilation), HAS_B=b is not None, ACC=tl_dtype(_acc(dy.dtype)), PREC=prec,
                   BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=gm, PIX_FIRST=_PIX_FIRST, num_warps=warps,
                   num_stages=stages)
        return dx
    return with_fp64_fallback(run, dy.dtype, _prec(dy.dtype))


def _wgrad_cuda(x, dy, *, stride, padding, dilation, groups, kernel):
    from .creation import zeros
    x, dy = x.detach().contiguous(), dy.detach().contiguous()
    N, C, H, W = x._shape
    _, OC, OH, OW = dy._shape
    KH, KW = kernel
    CG, NG = C // groups, OC // groups
    KN, K = CG * KH * KW, N * OH * OW
    if OC * KN == 0 or K == 0:
        return zeros((OC, CG, KH, KW), dtype=x.dtype, device=x.device)
    chunks = _batch_chunks(N, (C * H * W, OC * OH * OW), OC * KN, "conv2d_weight_grad")

    def run(prec):
        bm, bn, bk, gm, warps, stages = _pick(x.dtype, prec, NG, CG, K, groups, "wgrad")
        taps = _taps_outside(CG, KH * KW, bn)
        tiles = cdiv(NG, bm) * (cdiv(CG, bn) * KH * KW if taps else cdiv(KN, bn))
        total = None
        for n0, n1 in chunks:
            k = (n1 - n0) * OH * OW
            # few output tiles and a long K: split K so the GPU fills (each split >= 8 K-blocks);
            # the interpreter splits in two so the tests cover the partial sums
            want = 2 if SIMULATED else max(1, _WAVE // (tiles * groups))
            per = cdiv(cdiv(k, min(want, cdiv(k, bk * (1 if SIMULATED else 8)))), bk) * bk
            splits = cdiv(k, per)
            final = splits == 1 and len(chunks) == 1
            out = Tensor._empty((OC, CG, KH, KW), x.dtype, x.device) if final else \
                Tensor._empty((splits, OC, CG, KH, KW), _acc(x.dtype), x.device)
            launch(_conv_wgrad_kernel, (tiles, groups, splits), _images(x, n0, n1), _images(dy, n0, n1), out, C, H,
                   W, OC, OH, OW, n1 - n0, NG, CG, KH, KW, *_geo(stride, padding, dilation), per,
                   ACC=tl_dtype(_acc(x.dtype)), PREC=prec, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=gm,
                   TAPS=taps, num_warps=warps, num_stages=stages)
            if final:
                return out
            total = out.sum(0) if total is None else total + out.sum(0)
        return total.to(x.dtype)
    return with_fp64_fallback(run, x.dtype, _prec(x.dtype))


# ------------------------------------------------------------------------------ NumPy (im2col + BLAS)
@functools.lru_cache(maxsize=256)
def _window_map(in_size, kernel, dilation, padding, stride, out_size):
    """int64 array (prod(kernel), prod(out_size)): flat input index of each window element, or
    prod(in_size) (the sentinel) where the element falls in padding. ``padding`` holds (before,)
    per dim; anything past the input on the right is padding too (ceil_mode, fold)."""
    nd = len(in_size)
    valid = np.ones((1,) * (2 * nd), dtype=bool)
    flat = np.zeros((1,) * (2 * nd), dtype=np.int64)
    for d in range(nd):
        shape = [1] * (2 * nd)
        shape[d], shape[nd + d] = kernel[d], out_size[d]
        c = (np.arange(kernel[d])[:, None] * dilation[d] + np.arange(out_size[d])[None, :] * stride[d]
             - padding[d]).reshape(shape)                   # (k, o) input coordinate
        valid = valid & (c >= 0) & (c < in_size[d])
        flat = flat * in_size[d] + c
    flat = np.where(valid, flat, int(np.prod(in_size)))
    return np.ascontiguousarray(flat.reshape(int(np.prod(kernel)), int(np.prod(out_size))))


def _np_padded_extent(size, kernel, geo, out_size):
    """Rows and columns the windows span from the padded input's corner (ceil_mode may reach past
    the input's end: zeros there too)."""
    (sh, sw), (ph, pw), (dh, dw) = geo
    (kh, kw), (oh, ow), (h, w) = kernel, out_size, size
    return max((oh - 1) * sh + (kh - 1) * dh + 1, ph + h), max((ow - 1) * sw + (kw - 1) * dw + 1, pw + w)


def _np_taps(a, kernel, geo, out_size):
    """Per window offset (i, j): the strided (.., OH, OW) slice of ``a`` (padded coordinates) it reads."""
    (sh, sw), _, (dh, dw) = geo
    (kh, kw), (oh, ow) = kernel, out_size
    for i in range(kh):
        for j in range(kw):
            yield i, j, a[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]


def _np_cols(x, kernel, geo, out_size):
    """im2col: (N, C, H, W) -> (N, C, KH*KW, OH*OW), zero where a window reads padding. One strided
    slice copy per window offset (a fancy-index gather through the window map was 3x slower)."""
    n, c, h, w = x.shape
    (ph, pw) = geo[1]
    eh, ew = _np_padded_extent((h, w), kernel, geo, out_size)
    if ph == pw == 0 and eh == h and ew == w:
        xp = x
    else:
        xp = np.zeros((n, c, eh, ew), x.dtype)
        xp[:, :, ph:ph + h, pw:pw + w] = x
    cols = np.empty((n, c, kernel[0], kernel[1]) + tuple(out_size), x.dtype)
    for i, j, tap in _np_taps(xp, kernel, geo, out_size):
        cols[:, :, i, j] = tap
    return cols.reshape(n, c, kernel[0] * kernel[1], out_size[0] * out_size[1])


def _np_col2im(cols, size, kernel, geo, out_size):
    """Adjoint of _np_cols: (N, C, KH*KW, OH*OW) -> (N, C, H, W), summing overlapping windows, one
    strided slice per window offset (fancy-index adds per tap were up to 7x slower)."""
    n, c = cols.shape[:2]
    h, w = size
    (ph, pw) = geo[1]
    out = np.zeros((n, c) + _np_padded_extent((h, w), kernel, geo, out_size), cols.dtype)
    cols = cols.reshape((n, c) + tuple(kernel) + tuple(out_size))
    for i, j, tap in _np_taps(out, kernel, geo, out_size):
        tap += cols[:, :, i, j]
    return out[:, :, ph:ph + h, pw:pw + w]


def _ct(a):
    return D._compute_dtype(D.from_numpy_dtype(a.dtype)).np


def _fwd_cpu(x, w, b, *, stride, padding, dilation, groups, out_size):
    ct = _ct(x)
    n = x.shape[0]
    oc, cg, kh, kw = w.shape
    cols = _np_cols(x.astype(ct, copy=False), (kh, kw), (stride, padding, dilation), out_size)
    cols = cols.reshape(n, groups, cg * kh * kw, out_size[0] * out_size[1])   # (N, g, CG*KK, L)
    y = np.matmul(w.astype(ct, copy=False).reshape(groups, oc // groups, cg * kh * kw), cols)  # (N, g, NG, L)
    y = y.reshape(n, oc, *out_size)
    if b is not None:
        y = y + b.astype(ct).reshape(1, oc, 1, 1)
    return y.astype(x.dtype, copy=False)


def _dgrad_cpu(dy, w, b, *, stride, padding, dilation, groups, size):
    ct = _ct(dy)
    n, oc, oh, ow = dy.shape
    _, cg, kh, kw = w.shape
    wt = w.astype(ct, copy=False).reshape(groups, oc // groups, cg * kh * kw).transpose(0, 2, 1)  # (g, CG*KK, NG)
    cols = np.matmul(wt, dy.astype(ct, copy=False).reshape(n, groups, oc // groups, oh * ow))
    dx = _np_col2im(cols.reshape(n, groups * cg, kh * kw, oh * ow), size, (kh, kw), (stride, padding, dilation),
                    (oh, ow))
    if b is not None:
        dx = dx + b.astype(ct).reshape(1, -1, 1, 1)
    return dx.astype(dy.dtype, copy=False)


def _wgrad_cpu(x, dy, *, stride, padding, dilation, groups, kernel):
    ct = _ct(x)
    n, c = x.shape[:2]
    _, oc, oh, ow = dy.shape
    cg, ng, k = c // groups, oc // groups, n * oh * ow
    kk = cg * kernel[0] * kernel[1]
    cols = _np_cols(x.astype(ct, copy=False), kernel, (stride, padding, dilation), (oh, ow))
    cols = cols.reshape(n, groups, kk, oh * ow).transpose(1, 0, 3, 2).reshape(groups, k, kk)   # (g, N*L, CG*KK)
    d = dy.astype(ct, copy=False).reshape(n, groups, ng, oh * ow).transpose(1, 2, 0, 3).reshape(groups, ng, k)
    dw = np.matmul(d, cols)                                                     # (g, NG, CG*KK)
    return dw.reshape(oc, cg, *kernel).astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------ backward rules
def _ctx_geo(ctx):
    """The geometry keywords every conv op takes, from a backward rule's context."""
    return dict(stride=ctx.stride, padding=ctx.padding, dilation=ctx.dilation, groups=ctx.groups)


def _fwd_bw(ctx, g):
    x, w = ctx.inputs[0], ctx.inputs[1]
    geo = _ctx_geo(ctx)
    dx = _conv_input(g, w, None, size=tuple(x.shape[2:]), **geo) if ctx.needs[0] else None
    dw = _conv_weight(x, g, kernel=tuple(w.shape[2:]), **geo) if ctx.needs[1] else None
    db = g.sum((0, 2, 3)) if ctx.needs[2] else None
    return dx, dw, db


def _dgrad_bw(ctx, gx):
    # dx = A(w) dy is linear in dy and in w: conv (the adjoint) and wgrad give both gradients
    dy, w = ctx.inputs[0], ctx.inputs[1]
    geo = _ctx_geo(ctx)
    ddy = _conv2d(gx, w, None, out_size=tuple(dy.shape[2:]), **geo) if ctx.needs[0] else None
    dw = _conv_weight(gx, dy, kernel=tuple(w.shape[2:]), **geo) if ctx.needs[1] else None
    db = gx.sum((0, 2, 3)) if ctx.needs[2] else None
    return ddy, dw, db


def _wgrad_bw(ctx, gw):
    x, dy = ctx.inputs
    geo = _ctx_geo(ctx)
    dx = _conv_input(dy, gw, None, size=tuple(x.shape[2:]), **geo) if ctx.needs[0] else None
    ddy = _conv2d(x, gw, None, out_size=tuple(dy.shape[2:]), **geo) if ctx.needs[1] else None
    return dx, ddy


# ------------------------------------------------------------------------------ specs
_INTS = ("C", "H", "W", "OC", "OH", "OW", "M", "NG", "CG", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW")


def _specs(which):
    from ._aot import KernelSpec, ptr
    kernel, ptrs = {"fwd": (_conv_fwd_kernel, ("x_ptr", "w_ptr", "b_ptr", "y_ptr")),
                    "dgrad": (_conv_dgrad_kernel, ("dy_ptr", "w_ptr", "b_ptr", "dx_ptr")),
                    "wgrad": (_conv_wgrad_kernel, ("x_ptr", "dy_ptr", "dw_ptr"))}[which]
    out = []
    for dt, cfgs in CONFIGS.items():
        variants = [(cfg, "ieee", i == 0) for i, cfg in enumerate(cfgs)]
        if dt is not D.float64:     # the tiles only the tuner picks
            variants += [(cfg, "ieee", False) for cfg in _TUNE_SPACE["float32" if dt is D.float32 else "half"]
                         if cfg not in cfgs]
        if dt is D.float32:         # TF32 (cudnn.allow_tf32, on by default): the tensor-core tiles
            variants += [(cfg, "tf32", i == 0) for i, cfg in enumerate(_TUNE_SPACE["tf32"])]
        if dt is D.float64:
            variants.append((_FMA, "fma", False))
        for (bm, bn, bk, gm, warps, stages), prec, has_b in variants:
            sig = {p: ptr(dt) for p in ptrs}
            ints = _INTS if which != "wgrad" else tuple(n if n != "M" else "NB" for n in _INTS) + ("K_SPLIT",)
            sig.update({n: "i32" for n in ints})
            ce = {"ACC": tl_dtype(_acc(dt)), "PREC": prec, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk,
                  "GROUP_M": gm}
            label = f"{dt} {bm}x{bn}x{bk} w{warps} s{stages} {prec}"
            if which == "wgrad" and has_b:      # the split-K partials: fp32/fp64 whatever the inputs
                sig["dw_ptr"] = ptr(_acc(dt))
                label += " split"
            elif which != "wgrad":
                ce["HAS_B"] = has_b
                ce["PIX_FIRST"] = _PIX_FIRST
                label += " bias" if has_b else ""
            if which != "dgrad":
                ce["TAPS"] = True
            out.append(KernelSpec(kernel, sig, ce, num_warps=warps, num_stages=stages, label=label))
            if which != "dgrad":                # few-channel inputs: (channel, tap) as one K (N) axis
                out.append(KernelSpec(kernel, sig, {**ce, "TAPS": False}, num_warps=warps, num_stages=stages,
                                      label=label + " flat"))
    return out


# ------------------------------------------------------------------------------ samples
# (x shape, w shape, stride, padding, dilation, groups, bias): odd on purpose (C = 3, 5x1 and 1x1
# kernels, stride 2, dilation 2, groups 2 and depthwise, non-square, a conv1d as H = 1)
_CASES = [((2, 3, 5, 4), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, True),
          ((2, 4, 7, 6), (6, 2, 3, 3), (2, 2), (1, 0), (2, 1), 2, True),
          ((1, 3, 5, 6), (5, 3, 1, 1), (2, 2), (0, 0), (1, 1), 1, False),
          ((2, 2, 6, 3), (3, 2, 5, 1), (1, 1), (2, 0), (1, 1), 1, True),
          ((1, 4, 4, 5), (4, 1, 3, 2), (1, 2), (1, 0), (2, 1), 4, False),
          ((2, 3, 1, 9), (2, 3, 1, 3), (1, 2), (0, 1), (1, 2), 1, True)]


def _out_size(size, kernel, stride, padding, dilation):
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1 for s, k, st, p, d in zip(size, kernel, stride, padding,
                                                                                     dilation))


def _samples(which):
    r = rng("conv2d_" + which)
    out = []
    for xs, ws, s, p, d, g, has_b in _CASES:
        geo = {"stride": s, "padding": p, "dilation": d, "groups": g}
        osz = _out_size(xs[2:], ws[2:], s, p, d)
        x, w, b = r.uniform(-1, 1, size=xs), r.uniform(-1, 1, size=ws), r.uniform(-1, 1, size=(ws[0],))
        dy = r.uniform(-1, 1, size=(xs[0], ws[0]) + osz)
        if which == "fwd":
            out.append(Sample([x, w] + ([b] if has_b else []), geo))
        elif which == "dgrad":
            bias = [r.uniform(-1, 1, size=(xs[1],))] if has_b else []
            out.append(Sample([dy, w] + bias, dict(geo, size=xs[2:])))
        else:
            out.append(Sample([x, dy], dict(geo, kernel_size=ws[2:])))
    if which == "dgrad":   # conv_transpose2d with output_padding: output rows no tap reaches
        out.append(Sample([r.uniform(-1, 1, size=(2, 4, 3, 2)), r.uniform(-1, 1, size=(4, 3, 3, 2))],
                          {"stride": (2, 3), "padding": (1, 0), "dilation": (1, 1), "groups": 2, "size": (6, 7)}))
    return out


# ------------------------------------------------------------------------------ the ops
def _plan_state():
    """What the three kernels' launches depend on besides the arguments and the tuning winners (see
    ``_plan.py``): TF32, the K loop's rule (an A/B timing swaps it), the wave, the tuner's forced
    tiles, float64's path, the batch runs' element limit and the gathered tiles' layout."""
    return _cudnn.allow_tf32, _taps_outside, _WAVE, tuple(_FORCE.items()), _fp64_dot[0], _I32_NUMEL, _PIX_FIRST


_conv2d = Op("conv2d", cpu=_fwd_cpu, cuda=_fwd_cuda, backward=_fwd_bw, save=(0, 1), samples=lambda: _samples("fwd"),
             kernels=lambda: _specs("fwd"), family="conv", grad_name="ConvolutionBackward0", plan_state=_plan_state)
_conv_input = Op("conv2d_input_grad", cpu=_dgrad_cpu, cuda=_dgrad_cuda, backward=_dgrad_bw, save=(0, 1),
                 samples=lambda: _samples("dgrad"), kernels=lambda: _specs("dgrad"), family="conv",
                 grad_name="ConvolutionBackward0", plan_state=_plan_state)
_conv_weight = Op("conv2d_weight_grad", cpu=_wgrad_cpu, cuda=_wgrad_cuda, backward=_wgrad_bw, save=(0, 1),
                  samples=lambda: _samples("wgrad"), kernels=lambda: _specs("wgrad"), family="conv",
                  grad_name="ConvolutionBackwardBackward0", plan_state=_plan_state)


def _t2(v):
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of (N, C, H, W) by (OC, C/groups, KH, KW) with symmetric zero ``padding``;
    arguments are checked by ``nn.functional.conv2d``, which calls this."""
    stride, padding, dilation = _t2(stride), _t2(padding), _t2(dilation)
    osz = _out_size(input.shape[2:], weight.shape[2:], stride, padding, dilation)
    return _conv2d(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=int(groups),
                   out_size=osz)


def conv2d_input_grad(grad_output, weight, bias=None, *, size, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` w.r.t. its input of spatial ``size`` (H, W) (plus ``bias`` per input
    channel): ``conv_transpose2d`` of ``grad_output`` by ``weight``."""
    return _conv_input(grad_output, weight, bias, size=_t2(size), stride=_t2(stride), padding=_t2(padding),
                       dilation=_t2(dilation), groups=int(groups))


def conv2d_weight_grad(input, grad_output, *, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of ``conv2d`` w.r.t. its (OC, C/groups, *kernel_size) weight."""
    return _conv_weight(input, grad_output, kernel=_t2(kernel_size), stride=_t2(stride), padding=_t2(padding),
                        dilation=_t2(dilation), groups=int(groups))


_conv2d.public, _conv_input.public, _conv_weight.public = conv2d, conv2d_input_grad, conv2d_weight_grad
for _o in (_conv2d, _conv_input, _conv_weight):
    _o.dtypes = (D.float32, D.float16, D.bfloat16, D.float64)

__all__ = []
