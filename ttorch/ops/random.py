"""Random sampling: ``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``, the ``*_like`` forms and the in-place fills (``uniform_``, ``normal_``...).

cpu draws from the NumPy ``Generator`` of the device's ``ttorch.Generator``. cuda runs Triton
kernels on counter-based Philox (``tl.randint4x``): the generator hands each launch a
(seed, offset) pair and moves its offset past the counters used (one per element), so a
seed reproduces a sequence of launches and successive launches differ. The two devices use
different generators, as in PyTorch: the same seed gives different (but each reproducible)
values on cpu and cuda.
"""
import functools
import math

import numpy as np
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .. import _dtype as D
from .._device import _canonical
from .._random import generator_for
from .._tensor import Tensor
from ..autograd import grad_mode
from ._launch import launch, cdiv, next_pow2, SIMULATED
from ._op import Op, write_out
from .creation import _size, _finish
from .elementwise import copy_into
from .inplace import check_inplace, inplace_from

# distributions of ``_dist_kernel``
UNIFORM, NORMAL, BERNOULLI, EXPONENTIAL, CAUCHY, LOG_NORMAL, GEOMETRIC = range(7)

# random mantissa bits of a uniform sample, per dtype (PyTorch's ``std::numeric_limits<T>::digits``)
_DIGITS = {D.float16: 11, D.bfloat16: 8, D.float32: 24, D.float64: 53}

_PT_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


# ============================================================================== kernels
@triton.jit
def _uniform01(r0, r1, DIGITS: tl.constexpr):
    """A uniform sample in [0, 1) with DIGITS random bits (53 takes two 32-bit words)."""
    if DIGITS == 53:
        return ((r0 >> 5).to(tl.float64) * 67108864.0 + (r1 >> 6).to(tl.float64)) * 1.1102230246251565e-16
    else:
        return (r0 >> (32 - DIGITS)).to(tl.float32) * (1.0 / (1 << DIGITS))


@triton.jit
def _interleave(a, b, c, d, BLOCK: tl.constexpr):
    """Four (BLOCK // 4,) tensors as one (BLOCK,): element 4i + w from the w-th (a, b, c, d)."""
    # tl.join adds a minor dim: (n, 2, 2), position 2j + k holding join k's j-th operand
    return tl.reshape(tl.join(tl.join(a, c), tl.join(b, d)), [BLOCK])


@triton.jit
def _draws(seed, offset, BLOCK: tl.constexpr, PER: tl.constexpr):
    """This program's Philox4x32-10 draws (``tl.randint4x``, counter offset + i), one per PER of its
    BLOCK elements: four uint32 words each. The draws are the cost of a fill (10 rounds of two 32-bit
    high products each): one per element before."""
    c = tl.program_id(0).to(tl.int64) * (BLOCK // PER) + tl.arange(0, BLOCK // PER)
    return tl.randint4x(seed, offset + c)


@triton.jit
def _unit_block(seed, offset, BLOCK: tl.constexpr, DIGITS: tl.constexpr, NORMAL_: tl.constexpr):
    """This program's BLOCK samples in [0, 1) with DIGITS random bits (or, with ``NORMAL_``, standard
    normal ones), one draw (``_draws``) per 4 elements, or per 2 when an element takes two words (53
    digits): element 4i + w takes word w of draw i (2i + j words 2j and 2j + 1). A normal pair is
    Box-Muller's (R cos 2 pi v, R sin 2 pi v) of two uniforms (sinpi and cospi: exact argument
    reduction, where sin and cos of a float64 product kept a slow path whose local array spilled 12 B
    on sm_90)."""
    if DIGITS == 53:
        r0, r1, r2, r3 = _draws(seed, offset, BLOCK, 2)
        u = _uniform01(r0, r1, 53)
        v = _uniform01(r2, r3, 53)
        if NORMAL_:     # 1 - u is in (0, 1]: a finite radius
            rad = tl.sqrt(-2.0 * tl.log(1.0 - u))
            u = rad * libdevice.cospi(2.0 * v)
            v = rad * libdevice.sinpi(2.0 * v)
        x = tl.reshape(tl.join(u, v), [BLOCK])
    else:
        r0, r1, r2, r3 = _draws(seed, offset, BLOCK, 4)
        u0 = _uniform01(r0, r0, DIGITS)
        u1 = _uniform01(r1, r1, DIGITS)
        u2 = _uniform01(r2, r2, DIGITS)
        u3 = _uniform01(r3, r3, DIGITS)
        if NORMAL_:
            ra = tl.sqrt(-2.0 * tl.log(1.0 - u0))
            rb = tl.sqrt(-2.0 * tl.log(1.0 - u2))
            t1, t3 = 2.0 * u1, 2.0 * u3
            u0, u1, u2, u3 = ra * libdevice.cospi(t1), ra * libdevice.sinpi(t1), rb * libdevice.cospi(t3), \
                rb * libdevice.sinpi(t3)
        x = _interleave(u0, u1, u2, u3, BLOCK)
    return x


@triton.jit
def _dist_kernel(out_ptr, p_ptr, n, seed, offset, a_hi, a_lo, b_hi, b_lo, DIST: tl.constexpr,
                 DIGITS: tl.constexpr, P_TENSOR: tl.constexpr, BLOCK: tl.constexpr):
    # parameters arrive as fp32 (hi, lo) pairs so that float64 outputs keep ~48 bits of them
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    u = _unit_block(seed, offset, BLOCK, DIGITS, DIST == 1 or DIST == 5)   # normal, log-normal: N(0, 1)
    a = a_hi.to(u.dtype) + a_lo.to(u.dtype)
    b = b_hi.to(u.dtype) + b_lo.to(u.dtype)
    if DIST == 0:    # uniform on [a, b)
        x = a + (b - a) * u
    elif DIST == 2:  # bernoulli: p is a scalar (a) or a tensor
        if P_TENSOR:
            p = tl.load(p_ptr + offs, mask=mask, other=0).to(u.dtype)
        else:
            p = a
        x = (u < p).to(u.dtype)
    elif DIST == 4:  # cauchy(median=a, sigma=b): a + b * tan(pi * (u - 1/2))
        # sinpi/cospi reduce their argument exactly: sin/cos of a product with pi kept the slow
        # path for huge arguments, whose local array spilled on sm_90; cospi(-1/2) is 0, where
        # PyTorch's tan of the rounded product gives 2.3e7 (fp32): a finite tail, not inf
        t = u - 0.5
        c = libdevice.cospi(t)
        x = a + b * (libdevice.sinpi(t) / tl.where(c == 0, -4.371139e-08, c))
    elif DIST == 1 or DIST == 5:    # normal; log-normal
        x = a + b * u
        if DIST == 5:
            x = tl.exp(x)
    else:
        e = -tl.log(1.0 - u)                                    # Exp(1): 1 - u is in (0, 1]
        if DIST == 3:    # exponential with b = 1 / lambda
            x = e * b
        else:            # geometric with a = log1p(-p): ceil(log(U) / log1p(-p)) >= 1
            x = tl.maximum(tl.ceil(-e / a), 1.0)
    y = x.to(out_ptr.dtype.element_ty)
    if DIST == 0:
        # a value rounded up to ``b`` in a narrow dtype goes back to ``a``: [a, b) stays half-open
        y = tl.where(y.to(u.dtype) >= b, a.to(out_ptr.dtype.element_ty), y)
    tl.store(out_ptr + offs, y, mask=mask)


@triton.jit
def _dropout_kernel(x_ptr, y_ptr, noise_ptr, n, seed, offset, a_hi, a_lo, q, BLOCK: tl.constexpr):
    """F.dropout's mask and product in one pass over ``x``: the Bernoulli(a) draw ``bernoulli_`` makes
    (the same Philox draws and bits, ``_unit_block``: the same mask), ``noise = keep / q`` in the input's dtype as
    ``div_`` makes it, and ``y = x * noise`` as ``mul`` does (``a`` = 1 - p as an fp32 pair, ``q`` =
    1 - p as an fp32 argument). ``noise`` is kept for the backward, ``g * noise``."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    keep = _unit_block(seed, offset, BLOCK, 24, False) < a_hi.to(tl.float32) + a_lo.to(tl.float32)
    one = tl.full([BLOCK], 1.0, tl.float32)
    noise = tl.where(keep, tl.div_rn(one, q + tl.zeros([BLOCK], tl.float32)), 0.0).to(noise_ptr.dtype.element_ty)
    x = tl.load(x_ptr + offs, mask=mask, other=0)
    tl.store(noise_ptr + offs, noise, mask=mask)
    tl.store(y_ptr + offs, (x.to(tl.float32) * noise.to(tl.float32)).to(y_ptr.dtype.element_ty), mask=mask)


def dropout_cuda(x, p, gen):
    """``(x * noise, noise)`` for F.dropout on cuda in one launch, where ``noise`` is what
    ``x.new_empty(x.shape).bernoulli_(1 - p).div_(1 - p)`` makes from the same generator state (and
    ``gen`` advances as it would); ``x`` contiguous, float32/float16/bfloat16. No autograd."""
    y = Tensor._empty(x._shape, x.dtype, x.device)
    noise = Tensor._empty(x._shape, x.dtype, x.device)
    n = x.numel()
    if n:
        seed, off = gen.philox(n)
        block = _block(n)
        launch(_dropout_kernel, (cdiv(n, block),), x, y, noise, n, seed, off, *_split(1 - p), float(1 - p),
               BLOCK=block)
    return y, noise


def fused_dropout(x, p):
    """F.dropout of cuda tensor ``x`` (float32/float16/bfloat16, 0 < p < 1) by ``dropout_cuda``, from
    the default generator; autograd records ``x * noise`` with the noise saved (PyTorch's node name,
    ``NativeDropoutBackward0``), as ``Op.__call__`` records any op: a Function's apply cost more host
    time than the launch."""
    y, noise = dropout_cuda(x.contiguous(), p, _gen(x.device, None, "bernoulli_"))
    if x.requires_grad and grad_mode._state["enabled"]:
        _dropout_node._record((x, noise), {}, y)
    return y


def _dropout_bw(ctx, g):
    return g * ctx.inputs[1], None


# the graph node of fused_dropout: y = x * noise, noise a constant (its impl: the product, as recorded)
_dropout_node = Op("native_dropout", impl=lambda x, noise: x * noise, backward=_dropout_bw, save=(1,),
                   grad_name="NativeDropoutBackward0", family="random",
                   doc="F.dropout's product with its saved noise: the autograd node of the fused kernel")


def _dropout_specs():
    from ._aot import KernelSpec, ptr
    return [KernelSpec(_dropout_kernel, {"x_ptr": ptr(dt), "y_ptr": ptr(dt), "noise_ptr": ptr(dt), "n": "i32",
                                         "seed": "i64", "offset": "i64", "a_hi": "fp32", "a_lo": "fp32", "q": "fp32"},
                       {"BLOCK": 1024}, label=f"dropout {dt}", divisible=("x_ptr", "y_ptr", "noise_ptr", "n"))
            for dt in (D.float32, D.float16, D.bfloat16)]


@triton.jit
def _randint_kernel(out_ptr, n, seed, offset, lo, span, WIDE: tl.constexpr, BLOCK: tl.constexpr):
    """``lo + r % span``; ``span`` holds the bits of an unsigned count, 0 meaning 2**64. One draw
    (``_draws``) per 4 elements, or per 2 (``WIDE``: two words each), laid out as ``_unit_block``'s."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    if WIDE:
        r0, r1, r2, r3 = _draws(seed, offset, BLOCK, 2)
        hi = tl.reshape(tl.join(r0, r2), [BLOCK])
        r = (hi.to(tl.uint64) << 32) | tl.reshape(tl.join(r1, r3), [BLOCK]).to(tl.uint64)
        s = tl.cast(tl.cast(span, tl.int64), tl.uint64, bitcast=True)  # tl.cast: span may be the constexpr 1
        r = tl.where(s == 0, r, r % tl.maximum(s, 1))
        v = r.to(tl.int64, bitcast=True) + lo
    else:
        r0, r1, r2, r3 = _draws(seed, offset, BLOCK, 4)
        v = (_interleave(r0, r1, r2, r3, BLOCK) % tl.cast(span, tl.uint32)).to(tl.int64) + lo
    tl.store(out_ptr + offs, v.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _multinomial_kernel(out_ptr, key_ptr, status_ptr, w_ptr, N, K, sw_r, sw_n, seed, offset, MODE: tl.constexpr,
                        WIDE: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_S: tl.constexpr):
    """One program per (row, block of samples) of a (rows, N) weight matrix.

    MODE 0: K draws with replacement by inverse CDF; MODE 1: keys w / Exp(1) for a top-k
    (sampling without replacement); MODE 2: the argmax of those keys (one sample). Every
    mode checks the row and writes a status: 1 negative, 2 inf/nan, 3 sum <= 0.
    """
    row = tl.program_id(0)
    sblk = tl.program_id(1)
    w_row = w_ptr + row.to(tl.int64) * sw_r
    if WIDE:
        total = tl.zeros((), dtype=tl.float64)
    else:
        total = tl.zeros((), dtype=tl.float32)
    neg = tl.zeros((), dtype=tl.int32)
    bad = tl.zeros((), dtype=tl.int32)
    best = total - 1.0
    best_i = tl.zeros((), dtype=tl.int64)
    for start in range(0, N, BLOCK_N):
        cols = start + tl.arange(0, BLOCK_N)
        m = cols < N
        w = tl.load(w_row + cols * sw_n, mask=m, other=0).to(total.dtype)
        total += tl.sum(w, axis=0)
        neg = tl.maximum(neg, tl.max((w < 0).to(tl.int32), axis=0))
        bad = tl.maximum(bad, tl.max((w * 0 != w * 0).to(tl.int32), axis=0))     # inf or nan
        if MODE != 0:
            r0, r1, r2, r3 = tl.randint4x(seed, offset + row.to(tl.int64) * N + cols)
            if WIDE:
                e = -tl.log(1.0 - _uniform01(r0, r1, 53))
            else:
                e = -tl.log(1.0 - _uniform01(r0, r1, 24))
            q = w / e
            if MODE == 1:
                tl.store(key_ptr + row.to(tl.int64) * N + cols, q, mask=m)
            else:
                q = tl.where(m, q, -1.0)
                cmax = tl.max(q, axis=0)
                carg = tl.min(tl.where(q == cmax, cols, N), axis=0).to(tl.int64)
                best_i = tl.where(cmax > best, carg, best_i)
                best = tl.maximum(best, cmax)
    status = tl.where(neg > 0, 1, tl.where(bad > 0, 2, tl.where(total <= 0, 3, 0)))
    if sblk == 0:
        tl.store(status_ptr + row, status)
    if MODE == 2:
        if sblk == 0:
            tl.store(out_ptr + row, best_i)
    if MODE == 0:
        s = sblk * BLOCK_S + tl.arange(0, BLOCK_S)
        ms = s < K
        r0, r1, r2, r3 = tl.randint4x(seed, offset + row.to(tl.int64) * K + s)
        if WIDE:
            target = _uniform01(r0, r1, 53) * total
        else:
            target = _uniform01(r0, r1, 24) * total
        # the first positive-weight category whose cumulative weight exceeds the target:
        # zero weights are never drawn, whatever the rounding of the scan
        pick = tl.full((BLOCK_S,), N, tl.int32)
        last = tl.full((), -1, tl.int32)
        carry = total * 0
        for start in range(0, N, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            m = cols < N
            w = tl.load(w_row + cols * sw_n, mask=m, other=0).to(total.dtype)
            c = tl.cumsum(w, axis=0) + carry
            ok = (m & (w > 0))[None, :] & (c[None, :] > target[:, None])
            pick = tl.minimum(pick, tl.min(tl.where(ok, cols[None, :], N), axis=1))
            last = tl.maximum(last, tl.max(tl.where(m & (w > 0), cols, -1), axis=0))
            carry += tl.sum(w, axis=0)
        pick = tl.where(pick == N, last, pick)
        tl.store(out_ptr + row.to(tl.int64) * K + s, pick.to(tl.int64), mask=ms)


def _block(n):
    # the interpreter runs each program in Python: fewer, larger blocks are faster there (at least 16:
    # a block's draws are a quarter of it)
    return max(16, min(next_pow2(n), 4096)) if SIMULATED else 1024


def _split(x):
    """``x`` as two fp32 numbers whose sum is ``x`` to ~48 bits (kernels take fp32 scalars); memoized
    (a model draws with a few parameters: randn's 0 and 1, its dropouts' probabilities)."""
    if x == 0:                      # either zero as it is (the memo's dict would take -0.0 for 0.0)
        return float(x), 0.0
    r = _SPLITS.get(x)
    if r is None:
        hi = float(np.float32(x)) if math.isfinite(x) and abs(x) < 3e38 else x
        lo = float(np.float32(x - hi)) if math.isfinite(x) and abs(x) < 3e38 else 0.0
        if len(_SPLITS) > 256:
            _SPLITS.clear()
        r = _SPLITS[x] = hi, lo
    return r


_SPLITS = {}


def _fill_cuda(out, dist, a=0.0, b=0.0, gen=None, p=None):
    """Fill contiguous cuda tensor ``out`` from distribution ``dist`` with parameters a, b."""
    n = out.numel()
    if n == 0:
        return out
    seed, off = gen.philox(n)
    digits = 53 if out.dtype is D.float64 or (p is not None and p.dtype is D.float64) else \
        _DIGITS.get(out.dtype, 24)
    if dist != UNIFORM and digits < 24:
        digits = 24
    block = _block(n)
    launch(_dist_kernel, (cdiv(n, block),), out, p, n, seed, off, *_split(a), *_split(b), DIST=dist, DIGITS=digits,
           P_TENSOR=p is not None, BLOCK=block, num_warps=_dist_warps(digits))
    return out


def _dist_warps(digits):
    """float64 (53 digits) takes 8 warps: its normals held 62-64 registers a thread over 4 warps and
    spilled 4 B on sm_90 launched with n = 1 (44 registers over 8, none)."""
    return 8 if digits == 53 else 4


def _randint_cuda(out, lo, span, gen):
    n = out.numel()
    if n == 0:
        return out
    seed, off = gen.philox(n)
    wide = span == 0 or span >= 2 ** 32        # 0 stands for 2**64
    block = _block(n)
    bits = span - 2 ** 64 if span >= 2 ** 63 else span
    launch(_randint_kernel, (cdiv(n, block),), out, n, seed, off, lo, bits, WIDE=wide, BLOCK=block)
    return out


def _dist_specs():
    from ._aot import KernelSpec, ptr
    specs = []
    cases = [(UNIFORM, D.float32, None), (UNIFORM, D.float16, None), (UNIFORM, D.bfloat16, None),
             (UNIFORM, D.float64, None), (NORMAL, D.float32, None), (NORMAL, D.float64, None),
             (NORMAL, D.bfloat16, None), (BERNOULLI, D.float32, D.float32), (BERNOULLI, D.float64, D.float64),
             (BERNOULLI, D.bool, None), (BERNOULLI, D.int64, None), (EXPONENTIAL, D.float32, None),
             (EXPONENTIAL, D.float64, None), (CAUCHY, D.float32, None), (LOG_NORMAL, D.float32, None),
             (GEOMETRIC, D.float32, None), (GEOMETRIC, D.int64, None)]
    for dist, dt, pdt in cases:
        digits = 53 if dt is D.float64 else (_DIGITS.get(dt, 24) if dist == UNIFORM else 24)
        sig = {"out_ptr": ptr(dt), "n": "i32", "seed": "i64", "offset": "i64", "a_hi": "fp32", "a_lo": "fp32",
               "b_hi": "fp32", "b_lo": "fp32"}
        ce = {"DIST": dist, "DIGITS": digits, "P_TENSOR": pdt is not None, "BLOCK": 1024}
        if pdt is None:
            ce["p_ptr"] = None
        else:
            sig["p_ptr"] = ptr(pdt)
        specs.append(KernelSpec(_dist_kernel, sig, ce, num_warps=_dist_warps(digits),
                                label=f"dist{dist} {dt}{' p-tensor' if pdt else ''}"))
    return specs


def _randint_specs():
    from ._aot import KernelSpec, ptr
    out = []
    for dt, wide in ((D.int64, True), (D.int64, False), (D.int32, False), (D.uint8, False), (D.bool, False),
                     (D.float32, False), (D.float64, True)):
        sig = {"out_ptr": ptr(dt), "n": "i32", "seed": "i64", "offset": "i64", "lo": "i64", "span": "i64"}
        out.append(KernelSpec(_randint_kernel, sig, {"WIDE": wide, "BLOCK": 1024},
                              label=f"{dt} {'64' if wide else '32'}-bit"))
    return out


def _multinomial_specs():
    from ._aot import KernelSpec, ptr
    out = []
    for dt, mode in ((D.float32, 0), (D.float32, 1), (D.float32, 2), (D.float64, 0), (D.float64, 1),
                     (D.float16, 0), (D.bfloat16, 2)):
        wide = dt is D.float64
        sig = {"out_ptr": "*i64", "key_ptr": "*fp64" if wide else "*fp32", "status_ptr": "*i32", "w_ptr": ptr(dt),
               "N": "i32", "K": "i32", "sw_r": "i64", "sw_n": "i64", "seed": "i64", "offset": "i64"}
        out.append(KernelSpec(_multinomial_kernel, sig, {"MODE": mode, "WIDE": wide, "BLOCK_N": 256, "BLOCK_S": 16},
                              label=f"{dt} mode{mode}"))
    return out


# ============================================================================== helpers
def _gen(device, generator, name):
    if generator is not None and generator.device.type != device.type:
        raise RuntimeError(f"{name}: Expected a '{device.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator_for(device, generator)


_U32 = np.uint64(0xFFFF_FFFF)


def philox_np(seed, c0, c1, c2, c3, rounds=10):
    """NumPy's twin of Triton's ``tl.philox(seed, c0, c1, c2, c3, n_rounds=rounds)`` (Philox4x32-10 by
    default, key the seed's low and high 32 bits): the four uint32 words for counters ``c0..c3``
    (integer arrays or scalars, broadcast, taken modulo 2**32). It reproduces a kernel's draws on the
    host (attention dropout's mask: ``attention._np_kept``); checked against Random123's known-answer
    vectors in the tests."""
    k0, k1 = np.uint64(seed & 0xFFFF_FFFF), np.uint64((seed >> 32) & 0xFFFF_FFFF)
    c0, c1, c2, c3 = np.broadcast_arrays(*[np.asarray(c).astype(np.uint64) & _U32 for c in (c0, c1, c2, c3)])
    mul_a, mul_b, s32 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), np.uint64(32)
    for _ in range(rounds):     # each product of two 32-bit words fits uint64: its high half is umulhi
        p0, p2 = mul_a * c0, mul_b * c2
        c0, c1, c2, c3 = (p2 >> s32) ^ c1 ^ k0, p2 & _U32, (p0 >> s32) ^ c3 ^ k1, p0 & _U32
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & _U32, (k1 + np.uint64(0xBB67AE85)) & _U32
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def _np_uniform(g, shape, dtype):
    """Uniform [0, 1) NumPy samples with the random bits of ``dtype`` (exact in it)."""
    digits = _DIGITS.get(dtype, 24)
    if digits == 53:
        return g.random(shape)
    if digits == 24:
        return g.random(shape, dtype=np.float32)
    return g.integers(0, 1 << digits, size=shape).astype(np.float32) * np.float32(1.0 / (1 << digits))


def _np_fill(arr, dist, a=0.0, b=0.0, gen=None):
    """Draws of ``dist`` as a NumPy array of ``arr``'s shape and dtype."""
    g = gen._np
    shape = arr.shape
    dt = D.from_numpy_dtype(arr.dtype)
    compute = np.float64 if dt is D.float64 else np.float32
    if dist == UNIFORM:
        u = _np_uniform(g, shape, dt)
        x = (a + (b - a) * u.astype(compute)).astype(dt.np)
        if b > a:
            x = np.where(x.astype(np.float64) >= b, np.asarray(a).astype(dt.np), x)
        return x
    if dist == NORMAL:
        x = g.standard_normal(shape, dtype=compute) * compute(b) + compute(a)
    elif dist == BERNOULLI:
        x = g.random(shape) < a
    elif dist == EXPONENTIAL:
        x = g.standard_exponential(shape, dtype=compute) * compute(b)
    elif dist == CAUCHY:
        x = a + b * np.tan(np.pi * (g.random(shape, dtype=compute) - compute(0.5)))
    elif dist == LOG_NORMAL:
        x = np.exp(g.standard_normal(shape, dtype=compute) * compute(b) + compute(a))
    else:  # GEOMETRIC, a = log1p(-p)
        x = np.maximum(np.ceil(np.log1p(-g.random(shape)) / a), 1)
    return np.asarray(x).astype(dt.np)


def _fill_cpu(a, *, dist, p0, p1, gen):
    a[...] = _np_fill(a, dist, p0, p1, gen)
    return a


def _fill_cuda_any(t, *, dist, p0, p1, gen):
    if t.is_contiguous():
        return _fill_cuda(t, dist, p0, p1, gen)
    return copy_into(t, _fill_cuda(Tensor._empty(t._shape, t.dtype, t.device), dist, p0, p1, gen))


def _randint_cpu(a, *, lo, hi, gen):
    a[...] = gen._np.integers(lo, hi, size=a.shape, dtype=np.int64).astype(a.dtype)
    return a


def _randint_cuda_any(t, *, lo, hi, gen):
    span = (hi - lo) % 2 ** 64
    if t.is_contiguous():
        return _randint_cuda(t, lo, span, gen)
    return copy_into(t, _randint_cuda(Tensor._empty(t._shape, t.dtype, t.device), lo, span, gen))


# The fills write into the tensor they are given (the cpu functions into its NumPy array, in
# place) and return it; no input to differentiate, so no backward.
_fill_op = Op("rand", cpu=_fill_cpu, cuda=_fill_cuda_any, kernels=lambda: _dist_specs() + _dropout_specs(),
              family="random",
              doc="fill a tensor in place from a distribution (uniform, normal, bernoulli, exponential...)")
_randint_op = Op("randint", cpu=_randint_cpu, cuda=_randint_cuda_any, kernels=_randint_specs, family="random",
                 doc="fill a tensor in place with integers on [lo, hi)")


def _fill(t, dist, a=0.0, b=0.0, gen=None):
    """Fill tensor ``t`` (any layout) in place from ``dist``; no autograd, no version bump."""
    _fill_op(t, dist=dist, p0=a, p1=b, gen=gen)
    return t


def _randint_fill(t, lo, hi, gen):
    """Fill ``t`` in place with integers on [lo, hi) (bounds already checked for its dtype)."""
    _randint_op(t, lo=lo, hi=hi, gen=gen)
    return t


def _check_float(dtype, what):
    if not dtype.is_floating_point:
        raise RuntimeError(f"\"{what}\" not implemented for '{_PT_NAMES[dtype.name]}'")


def _new(size, dtype, device, out):
    """A fresh tensor for a creation function, honouring ``out=``'s device and dtype."""
    if out is not None:
        dtype = dtype or out.dtype
        device = out.device if device is None else device
    return Tensor._empty(_size(size), dtype or D.get_default_dtype(), _canonical(device))


def _result(t, requires_grad, out, name):
    if out is not None:
        return write_out(out, t, name)
    return _finish(t, requires_grad)


def _size_args(size, kw, name):
    if "size" in kw:
        if size:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        size = (kw.pop("size"),)
    if kw:
        raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kw))}'")
    return size


def _complex_size(size, kw, name):
    size = _size_args(size, kw, name)
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


# ============================================================================== creation
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False, **kw):
    """Uniform samples on [0, 1) of shape ``size``.

    Example::

        >>> _ = ttorch.manual_seed(0)
        >>> x = ttorch.rand(2, 3)
        >>> x.shape, 0 <= x.min().item() and x.max().item() < 1
        (ttorch.Size([2, 3]), True)
    """
    if dtype is not None and dtype.is_complex and out is None:      # each part uniform on [0, 1)
        from .complex import owned_complex
        x = rand(*_complex_size(size, kw, "rand"), 2, generator=generator, dtype=dtype.to_real(), device=device)
        return _result(owned_complex(x), requires_grad, None, "rand")
    t = _new(_size_args(size, kw, "rand"), dtype, device, out)
    _check_float(t.dtype, "check_uniform_bounds")
    _fill(t, UNIFORM, 0.0, 1.0, _gen(t.device, generator, "rand"))
    return _result(t, requires_grad, out, "rand")


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, **kw):
    """Standard normal samples of shape ``size``."""
    if dtype is not None and dtype.is_complex and out is None:      # each part N(0, 1/2): E|z|^2 = 1
        from .complex import owned_complex
        x = randn(*_complex_size(size, kw, "randn"), 2, generator=generator, dtype=dtype.to_real(), device=device)
        return _result(owned_complex(x.mul_(0.5 ** 0.5)), requires_grad, None, "randn")
    t = _new(_size_args(size, kw, "randn"), dtype, device, out)
    _check_float(t.dtype, "normal_kernel_cpu")
    _fill(t, NORMAL, 0.0, 1.0, _gen(t.device, generator, "randn"))
    return _result(t, requires_grad, out, "randn")


def _int_arg(v):
    return int(v.item()) if isinstance(v, Tensor) else int(v)


def randint(*args, size=None, low=None, high=None, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False, pin_memory=False):
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(f"randint() takes 2 or 3 positional arguments but {len(args) + 1} were given")
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    low = 0 if low is None else _int_arg(low)
    high = _int_arg(high)
    if out is not None and dtype is None:
        dtype = out.dtype
    t = _new(size, dtype or D.int64, device, out)
    _random_range(t, low, high, generator, "randint")
    return _result(t, requires_grad, out, "randint")


def _random_range(t, low, high, generator, name):
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    _check_bounds(t.dtype, low, high - 1, name)
    _randint_fill(t, low, high, _gen(t.device, generator, name))
    return t


def _check_bounds(dtype, lo, hi, name):
    if dtype is D.bool:
        mn, mx = 0, 1
    elif dtype.is_floating_point:
        mx = 2 ** _DIGITS[dtype]
        mn = -mx
    else:
        info = D.iinfo(dtype)
        mn, mx = info.min, info.max
    if lo < mn or lo > mx:
        raise RuntimeError(f"random_ expects 'from' to be in [{mn}, {mx}] for {dtype}, but got from={lo}")
    if hi < mn or hi > mx:
        raise RuntimeError(f"random_ expects 'to' to be in [{mn}, {mx + 1}] for {dtype}, but got to={hi + 1}")


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of ``0 .. n-1``.

    On cuda: random 62-bit keys from a Philox kernel, then ``ttorch.argsort`` of the keys.
    Without an ``argsort`` (before the sort ops exist) the permutation is drawn on the host
    by NumPy's Philox keyed with the cuda generator's (seed, offset) and uploaded, so it is
    still reproducible from ``ttorch.cuda.manual_seed``.
    """
    n = _int_arg(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    if out is not None and dtype is None:
        dtype = out.dtype
    dtype = dtype or D.int64
    lim = 2 ** _DIGITS[dtype] if dtype.is_floating_point else (1 if dtype is D.bool else D.iinfo(dtype).max)
    if n > 0 and n - 1 > lim:
        raise RuntimeError(f"n is too large for result tensor type: '{dtype}'")
    dev = _canonical(device if device is not None or out is None else out.device)
    gen = _gen(dev, generator, "randperm")
    if dev.type == "cpu":
        t = Tensor._wrap_np(gen._np.permutation(n).astype(dtype.np), dtype)
    else:
        t = _randperm_cuda(n, dev, gen).to(dtype)
    return _result(t, requires_grad, out, "randperm")


def _randperm_cuda(n, dev, gen):
    import ttorch
    argsort = getattr(ttorch, "argsort", None)
    if argsort is None or n <= 1:
        seed, off = gen.philox(n)
        perm = np.random.Generator(np.random.Philox(key=seed, counter=off)).permutation(n)
        from .movement import _upload
        return _upload(perm.astype(np.int64), dev)
    keys = _randint_cuda(Tensor._empty((n,), D.int64, dev), 0, 2 ** 62, gen)
    return argsort(keys)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
              generator=None):
    if input.is_nested:     # (ttorch/nested: its structure over new values)
        return input._fresh(rand_like(input._values, dtype=dtype, device=device, requires_grad=requires_grad,
                                      generator=generator))
    return rand(input._shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad, generator=generator)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
               generator=None):
    if input.is_nested:     # (ttorch/nested: its structure over new values)
        return input._fresh(randn_like(input._values, dtype=dtype, device=device, requires_grad=requires_grad,
                                       generator=generator))
    return randn(input._shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad, generator=generator)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None, generator=None):
    """``randint_like(input, high)`` or ``randint_like(input, low, high)``."""
    if high is None:
        low, high = 0, low
    if input.is_nested:     # (ttorch/nested: its structure over new values)
        return input._fresh(randint_like(input._values, low, high, dtype=dtype, device=device,
                                         requires_grad=requires_grad, generator=generator))
    return randint(low, high, input._shape, dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad, generator=generator)


# ============================================================================== normal, bernoulli
def _zero_grads(ctx, g):
    # sampling is not differentiable; PyTorch gives zeros for the parameters (the engine
    # sums these back to each input's shape)
    from .creation import zeros_like
    return tuple(zeros_like(g) if need else None for need in ctx.needs)


def _normal_impl(mean, std, *, shape, dtype, generator):
    dev = mean.device if isinstance(mean, Tensor) else std.device
    with grad_mode.no_grad():
        z = _fill(Tensor._empty(shape, dtype, dev), NORMAL, 0.0, 1.0, generator)
        out = z * std + mean
    return out if out.dtype is dtype else out.to(dtype)


_normal = Op("normal", impl=_normal_impl, backward=_zero_grads, save=(),
             family="random", doc="mean + std * N(0, 1); zero gradients for mean and std")


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           requires_grad=False, pin_memory=False):
    """Normal samples: ``normal(mean, std)`` with tensors or floats (broadcast), or
    ``normal(mean: float, std: float, size)``."""
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not tm and not ts:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: (float, float) needs a size")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        t = _new(size, dtype, device, out)
        _check_float(t.dtype, "normal_kernel_cpu")
        _fill(t, NORMAL, float(mean), float(std), _gen(t.device, generator, "normal"))
        return _result(t, requires_grad, out, "normal")
    from .elementwise import broadcast_shapes
    ref = mean if tm else std
    _check_float(ref.dtype, "normal_kernel_cpu")
    if ts:
        if bool((std < 0).sum().item() > 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    shape = broadcast_shapes(mean._shape, std._shape, op="normal") if tm and ts else ref._shape
    r = _normal(mean, std, shape=shape, dtype=ref.dtype, generator=_gen(ref.device, generator, "normal"))
    return r if out is None else write_out(out, r, "normal")


def _bernoulli_cpu(p, *, generator):
    u = generator._np.random(p.shape)
    return (u < p).astype(p.dtype)


def _bernoulli_cuda(p, *, generator):
    out = Tensor._empty(p._shape, p.dtype, p.device)
    return _fill_cuda(out, BERNOULLI, gen=generator, p=p.contiguous())


_bernoulli = Op("bernoulli", cpu=_bernoulli_cpu, cuda=_bernoulli_cuda, backward=_zero_grads, save=(),
                kernels=_dist_specs, family="random", doc="1 with probability p, else 0; zero gradient for p")


def _check_p(p, name):
    if not 0 <= p <= 1:
        raise RuntimeError(f"{name} expects p to be in [0, 1], but got p={p}")


def bernoulli(input, p=None, *, generator=None, out=None):
    """Zeros and ones of ``input``'s shape and dtype: 1 with probability ``input`` (or ``p``).

    On cpu probabilities outside [0, 1] raise; on cuda they are not checked (PyTorch asserts
    on the device), they saturate.
    """
    if p is not None:
        r = _empty_like(input)
        _check_p(p, "bernoulli_")
        _fill(r, BERNOULLI, float(p), 0.0, _gen(r.device, generator, "bernoulli"))
        return r if out is None else write_out(out, r, "bernoulli")
    _check_float(input.dtype, "bernoulli_tensor_cpu_p_")
    gen = _gen(input.device, generator, "bernoulli")
    if input.device.type == "cpu":
        a = input._np
        if a.size and not bool(((a >= 0) & (a <= 1)).all()):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    r = _bernoulli(input, generator=gen)
    return r if out is None else write_out(out, r, "bernoulli")


def _empty_like(x):
    return Tensor._empty(x._shape, x.dtype, x.device)


# ============================================================================== multinomial
_MSG_CHECK = "probability tensor contains either `inf`, `nan` or element < 0"
_MSG_SUM = "invalid multinomial distribution (sum of probabilities <= 0)"
_MSG_NEG = "invalid multinomial distribution (encountering probability entry < 0)"
_MSG_INF = "invalid multinomial distribution (encountering probability entry = infinity or NaN)"


def _multinomial_cpu(w, *, k, replacement, generator):
    g = generator._np
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64 if w.dtype == np.float64 else np.float32)
    fast = not replacement or k == 1
    if np.isnan(rows).any() or np.isinf(rows).any():
        raise RuntimeError(_MSG_CHECK if fast else _MSG_INF)
    if (rows < 0).any():
        raise RuntimeError(_MSG_CHECK if fast else _MSG_NEG)
    total = rows.sum(axis=1)
    if (total <= 0).any():
        raise RuntimeError(_MSG_SUM)
    if fast:  # PyTorch's form of the Gumbel trick: top-k of w / Exp(1)
        q = rows / g.standard_exponential(rows.shape)
        idx = np.argsort(-q, axis=1, kind="stable")[:, :k]
    else:     # inverse CDF; zero weights never drawn
        cdf = np.cumsum(rows, axis=1)
        u = g.random((rows.shape[0], k)) * total[:, None]
        idx = np.stack([np.searchsorted(c, uu, side="right") for c, uu in zip(cdf, u)])
        last = np.array([np.flatnonzero(r > 0)[-1] for r in rows])
        idx = np.minimum(idx, last[:, None])
    return idx.reshape(w.shape[:-1] + (k,)).astype(np.int64)


def _multinomial_cuda(w, *, k, replacement, generator):
    w2 = w if w.ndim == 2 else w.reshape(1, -1)
    rows, n = w2._shape
    dev = w.device
    status = Tensor._empty((rows,), D.int32, dev)
    wide = w.dtype is D.float64
    mode = 0 if replacement and k > 1 else (2 if k == 1 else 1)
    out = Tensor._empty((rows, k), D.int64, dev)
    keys = Tensor._empty((rows, n), D.float64 if wide else D.float32, dev) if mode == 1 else None
    seed, off = generator.philox(rows * (k if mode == 0 else n))
    block_n = min(next_pow2(n), 256 if not SIMULATED else 1024)
    block_s = 1 if mode != 0 else (min(next_pow2(k), 1024) if SIMULATED else 16)
    grid = (rows, cdiv(k, block_s) if mode == 0 else 1)
    launch(_multinomial_kernel, grid, out, keys, status, w2, n, k, w2.stride(0), w2.stride(1), seed, off, MODE=mode,
           WIDE=wide, BLOCK_N=block_n, BLOCK_S=block_s)
    st = status._host()
    if st.size and st.max() > 0:
        code = int(st.max())
        fast = mode != 0
        raise RuntimeError({1: _MSG_CHECK if fast else _MSG_NEG, 2: _MSG_CHECK if fast else _MSG_INF,
                            3: _MSG_SUM}[code])
    if mode == 1:
        out = _top_k_indices(keys, k)
    return out if w.ndim == 2 else out.reshape(k)


def _top_k_indices(keys, k):
    """Indices of the ``k`` largest keys per row: ``ttorch.topk``, else ``argsort``, else on the host."""
    import ttorch
    topk = getattr(ttorch, "topk", None)
    if topk is not None:
        return topk(keys, k, dim=-1)[1]
    argsort = getattr(ttorch, "argsort", None)
    if argsort is not None:
        return argsort(keys, dim=-1, descending=True)[:, :k].contiguous()
    from .movement import _upload
    idx = np.argsort(-keys._host(), axis=1, kind="stable")[:, :k]
    return _upload(np.ascontiguousarray(idx.astype(np.int64)), keys.device)


_multinomial = Op("multinomial", cpu=_multinomial_cpu, cuda=_multinomial_cuda, kernels=_multinomial_specs,
                  family="random", doc="category indices drawn from row weights")


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """``num_samples`` category indices per row of weights ``input`` (1-D or 2-D), int64.

    Without replacement (or for one sample) it takes the top-k of ``w / Exp(1)``, as PyTorch
    does; with replacement it inverts each row's cumulative weights. Zero weights are never
    drawn unless a row has fewer positive weights than samples asked without replacement.
    """
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_PT_NAMES[input.dtype.name]}")
    k = int(num_samples)
    if k <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = input._shape[-1]
    if not replacement and k > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n > 2 ** 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    gen = _gen(input.device, generator, "multinomial")
    if input.numel() == 0:
        if n == 0:                         # rows with no category have no mass
            raise RuntimeError(_MSG_SUM)
        r = Tensor._empty(input._shape[:-1] + (k,), D.int64, input.device)
    else:
        r = _multinomial(input.detach(), k=k, replacement=bool(replacement), generator=gen)
    return r if out is None else write_out(out, r, "multinomial")


# ============================================================================== in-place fills
def _fill_op_impl(x, *, fill):
    return fill(_empty_like(x))


# records the in-place fill of a tensor that requires grad: gradient zero for its old value
_fill_grad_op = Op("random_fill", impl=_fill_op_impl, backward=_zero_grads, save=(), family="random",
              doc="the in-place random fills (uniform_, normal_, random_...) of tensors that require grad")


def _inplace(x, name, fill):
    """Fill ``x`` in place with ``fill(tensor)``; bumps the version, records a zero-gradient node."""
    check_inplace(x, name)
    if x.requires_grad and grad_mode.is_grad_enabled():
        return inplace_from(x, _fill_grad_op(x, fill=fill), name)
    fill(x)
    x._bump_version()
    return x


def _float_param(v):
    return float(v.item()) if isinstance(v, Tensor) else float(v)


def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
    """Fill with uniform samples on [from, to) (complex tensors: both parts, drawn as the float view as in PyTorch)."""
    if self.dtype.is_complex:
        from .complex import view_as_real
        view_as_real(self).uniform_(from_, to, generator=generator, **kw)
        return self
    a, b = _float_param(kw.pop("from", from_)), _float_param(to)
    _check_float(self.dtype, "check_uniform_bounds")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    gen = _gen(self.device, generator, "uniform_")
    return _inplace(self, "uniform_", lambda t: _fill(t, UNIFORM, a, b, gen))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    mean, std = _float_param(mean), _float_param(std)
    _check_float(self.dtype, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    gen = _gen(self.device, generator, "normal_")
    return _inplace(self, "normal_", lambda t: _fill(t, NORMAL, mean, std, gen))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 1 with probability ``p`` (a float, or a tensor broadcastable to ``self``), else 0."""
    gen = _gen(self.device, generator, "bernoulli_")
    if isinstance(p, Tensor):
        _check_float(p.dtype, "bernoulli_tensor_cpu_p_")
        pe = p.detach().to(self.device).expand(self._shape)

        def fill(t):
            if t.device.type == "cpu":
                t._np[...] = (gen._np.random(t._shape) < pe._np).astype(t.dtype.np)
                return t
            if t.is_contiguous():
                return _fill_cuda(t, BERNOULLI, gen=gen, p=pe.contiguous())
            return copy_into(t, _fill_cuda(_empty_like(t), BERNOULLI, gen=gen, p=pe.contiguous()))
        return _inplace(self, "bernoulli_", fill)
    p = _float_param(p)
    _check_p(p, "bernoulli_")
    return _inplace(self, "bernoulli_", lambda t: _fill(t, BERNOULLI, p, 0.0, gen))


def random_(self, *args, generator=None, **kw):
    """``random_()``, ``random_(to)``, ``random_(from, to)``: integers on [from, to - 1].

    With no bound the range is [0, 2**mantissa] for floating types (every value exact) and
    [0, max] for integer types, as in PyTorch.
    """
    lo, hi = 0, None
    if len(args) == 1:
        hi = args[0]
    elif len(args) == 2:
        lo, hi = args
    elif len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments ({len(args)} given)")
    lo = kw.pop("from", lo)
    hi = kw.pop("to", hi)
    if kw:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kw))}'")
    lo = _int_arg(lo)
    if hi is None:
        dt = self.dtype
        top = 1 if dt is D.bool else (2 ** _DIGITS[dt] if dt.is_floating_point else D.iinfo(dt).max)
        hi = top + 1
    hi = _int_arg(hi)
    if lo >= hi:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
    _check_bounds(self.dtype, lo, hi - 1, "random_")
    gen = _gen(self.device, generator, "random_")
    return _inplace(self, "random_", lambda t: _randint_fill(t, lo, hi, gen))


def exponential_(self, lambd=1.0, *, generator=None):
    lambd = _float_param(lambd)
    _check_float(self.dtype, "exponential")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    gen = _gen(self.device, generator, "exponential_")
    return _inplace(self, "exponential_", lambda t: _fill(t, EXPONENTIAL, 0.0, 1.0 / lambd, gen))


def geometric_(self, p, *, generator=None):
    p = _float_param(p)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    gen = _gen(self.device, generator, "geometric_")
    return _inplace(self, "geometric_", lambda t: _fill(t, GEOMETRIC, math.log1p(-p), 0.0, gen))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    median, sigma = _float_param(median), _float_param(sigma)
    _check_float(self.dtype, "cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    gen = _gen(self.device, generator, "cauchy_")
    return _inplace(self, "cauchy_", lambda t: _fill(t, CAUCHY, median, sigma, gen))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    mean, std = _float_param(mean), _float_param(std)
    _check_float(self.dtype, "log_normal")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    gen = _gen(self.device, generator, "log_normal_")
    return _inplace(self, "log_normal_", lambda t: _fill(t, LOG_NORMAL, mean, std, gen))


# ============================================================================== vmap
# ``ttorch.func.vmap`` sets this while a function runs on batched tensors: the public random functions hand
# their calls to it, which draws as vmap's ``randomness`` flag says (ttorch/func/_random_rules.py)
VMAP = None


def _vmappable(fn):
    def random_op(*args, **kwargs):
        if VMAP is None:
            return fn(*args, **kwargs)
        return VMAP(fn, args, kwargs)
    functools.update_wrapper(random_op, fn)
    return random_op


rand, randn, randint, randperm, normal, bernoulli, multinomial = map(
    _vmappable, (rand, randn, randint, randperm, normal, bernoulli, multinomial))
rand_like, randn_like, randint_like = map(_vmappable, (rand_like, randn_like, randint_like))
uniform_, normal_, bernoulli_, random_, exponential_, geometric_, cauchy_, log_normal_ = map(
    _vmappable, (uniform_, normal_, bernoulli_, random_, exponential_, geometric_, cauchy_, log_normal_))

__all__ = ["rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like", "randn_like",
           "randint_like"]
METHODS = {"bernoulli": bernoulli, "multinomial": multinomial, "uniform_": uniform_, "normal_": normal_,
           "bernoulli_": bernoulli_, "random_": random_, "exponential_": exponential_, "geometric_": geometric_,
           "cauchy_": cauchy_, "log_normal_": log_normal_}
