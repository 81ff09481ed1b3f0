"""Discrete Fourier transforms on complex tensors held as real ones, (..., 2) interleaved (re, im):
the primitive ops ``fft_c2c`` and ``fft_untangle`` (the real transforms' twiddle pass) and the
real-to-complex / complex-to-real transforms composed of them.
``ttorch.fft`` wraps them over ``view_as_real``/``view_as_complex``.

``fft_c2c(x, dims, sign, norm)``: the DFT with ``exp(sign 2 pi i j k / n)`` along each of ``dims``
(dims of the complex shape, not counting the trailing 2), scaled per dim by 1 (``norm`` 0),
``1/sqrt(n)`` (1) or ``1/n`` (2). Its backward is the same transform with the opposite sign and the
same scaling (the adjoint of a DFT is the conjugate DFT), an op itself: every order of derivative runs.

On cpu, ``numpy.fft`` (pocketfft; float32 stays float32). On cuda, the passes ``_fft_plan.plan(n)`` chooses
by its cost model: a Stockham sequence of ``_fft_kernels._dft_kernel`` launches, each a strided batched DFT of
a small radix (a complex GEMM with the DFT matrix made in the kernel) with its level's twiddle factors in the
epilogue, O(n sum r) work; a large prime factor (or a large prime length) as the last pass runs Bluestein's
algorithm: a circular convolution with a chirp of a 7-smooth length m >= 2n - 1, done with two length-m
transforms. Multi-dim transforms run one dim after another.

``_r2c`` and ``_c2r`` compose ``fft_c2c`` with ttorch ops, so their gradients are those of the functions
they compute: PyTorch's handling of the half spectrum (the doubled interior bins, the DC and Nyquist
imaginary parts that c2r ignores) comes out of the composition. On cuda an even length n packs the real
signal into a complex one of length n / 2 (even samples real, odd imaginary) and untangles the spectrum
with ``fft_untangle``'s twiddle pass (``_r2c_packed``, inverted by ``_c2r_packed``): half the transform
work. Odd lengths, and cpu, transform a real input as a complex one with zero imaginary part.
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from . import _fft_plan
from ._op import Op
from ._launch import cdiv, launch

_NP_NORM = {(-1, 0): "backward", (-1, 1): "ortho", (-1, 2): "forward",
            (1, 0): "forward", (1, 1): "ortho", (1, 2): "backward"}


# ------------------------------------------------------------------------------- cpu
def _complex_np(x):
    """(..., 2) real array -> complex array of the matching precision (float32 -> complex64)."""
    ct = np.complex64 if x.dtype == np.float32 else np.complex128
    return np.ascontiguousarray(x).view(ct)[..., 0]


def _real_np(z, dtype):
    ct = np.complex64 if dtype == np.float32 else np.complex128
    z = np.ascontiguousarray(z, dtype=ct)
    return z.view(dtype).reshape(z.shape + (2,))


def _c2c_cpu(x, *, dims, sign, norm):
    if x.size == 0:
        return np.zeros(x.shape, x.dtype)
    fn = np.fft.fftn if sign < 0 else np.fft.ifftn
    return _real_np(fn(_complex_np(x), axes=dims, norm=_NP_NORM[(sign, norm)]), x.dtype)


# ------------------------------------------------------------------------------- cuda
def _tile(dtype, prec, n, C):
    """(BM, BN, BK, num_warps): rows of W, columns of X, and the reduction step, per dtype and path;
    each spill-free on sm_80 and sm_90 (``python -m ttorch.ops --compile 80,90 --only fft_c2c``)."""
    if prec == "fma":
        return 16, 16, 8, 4
    wide = C > 16
    if n <= 16:
        return 16, (64 if wide and dtype is D.float32 else 32 if wide else 16), 16, 4
    if dtype is D.float32:
        return (64, 64, 16, 8) if wide else (32, 16, 16, 4)
    return (32, 32, 16, 4) if wide else (32, 16, 16, 4)


def _dft(x, y, n, cols, xs, ys, sign, tw_n, norm, norm_n):
    """One launch: ``y = DFT_n(x)`` along rows of stride ``xs[3]``/``ys[3]``, over columns (a, b, q)
    of sizes ``cols`` and strides ``xs[:3]``/``ys[:3]`` (in elements of the real tensors)."""
    from .gemm import with_fp64_fallback
    from ._fft_kernels import _dft_kernel
    A, B, Q = cols
    C = A * B * Q

    def run(prec):
        bm, bn, bk, warps = _tile(x.dtype, prec, n, C)
        launch(_dft_kernel, (cdiv(C, bn), cdiv(n, bm)), x, y, n, C, B, Q, *xs, *ys, sign, tw_n, norm, norm_n,
               PREC=prec, BM=bm, BN=bn, BK=bk, num_warps=warps)
    with_fp64_fallback(run, x.dtype, "ieee")


def _c2c_dim_cuda(x, d, sign, norm):
    """The transform along dim ``d`` of a contiguous (..., 2) tensor, into a new contiguous one, by the passes
    of ``_fft_plan.plan(n)`` (a Stockham sequence between two buffers)."""
    shape = x._shape[:-1]
    n = shape[d]
    P, Q = math.prod(shape[:d]), math.prod(shape[d + 1:])
    row, whole = 2 * Q, 2 * Q * n        # strides of the transformed dim and of the dims before it
    # before pass l the data is (P, M, K, Q): M the length still to transform, K the output digits done so far
    # (k = k_1 + r_1 k_2 + ..., in place). A radix-r pass splits j = j1 M' + j2 (M = r M'), transforms over j1
    # for each column (p, j2, kp, q), multiplies by w_M^(k_l j2) and writes (P, M', k_l, K, Q): the new digit
    # k_l lands above the old ones, so the last pass (M' = 1) leaves y in natural order.
    passes = _fft_plan.plan(n)[1]
    if not passes:                      # n = 1: a copy (the result must not alias the op's input)
        return x.clone()
    bufs = [None, None]
    K, M = 1, n
    for i, (kind, r) in enumerate(passes):
        if kind == "bluestein":         # (always the last pass: M = r, no twiddles after it)
            return _bluestein(x.reshape((P, r, K * Q, 2)), 1, sign, norm, n).reshape(x._shape)
        last = i == len(passes) - 1
        if bufs[i % 2] is None:
            bufs[i % 2] = Tensor._empty(x._shape, x.dtype, x.device)
        y = bufs[i % 2]
        Mn = M // r
        _dft(x, y, r, (P, Mn, K * Q), (whole, K * row, 2, Mn * K * row), (whole, r * K * row, 2, K * row),
             sign, 0 if last else M, norm if last else 0, n)
        x, K, M = y, K * r, Mn
    return x


# ------------------------------------------------------------------------------- Bluestein (chirp-z)
# With j k = (j^2 + k^2 - (k - j)^2) / 2, a length-n DFT is a convolution: X_k = c_k sum_j (x_j c_j) conj(c_{k-j}),
# c_j = exp(sign pi i j^2 / n). The convolution is circular of a 7-smooth length m >= 2n - 1 (the planner's
# ``bluestein_length``), run as two length-m transforms (multi-pass plans) and a product with the transform
# of the chirp (made once per length on the host, in float64). The planner uses it for a large prime length
# or as the last pass of a composite one whose prime factor is large.
_CHIRPS = {}


def _chirps(n, m, sign, x):
    """(c, B): the chirp c_j (n, 2) and the length-m DFT of the wrapped conj(c) (m, 2), in x's dtype and device."""
    key = (n, sign, x.dtype, x.device)
    if key not in _CHIRPS:
        j = np.arange(n, dtype=np.int64)
        c = np.exp(sign * 1j * np.pi * ((j * j) % (2 * n)) / n)       # (j^2 mod 2n: the angle stays exact)
        b = np.zeros(m, np.complex128)
        b[:n] = c.conj()
        b[m - n + 1:] = c.conj()[1:][::-1]                               # b_{-j} = conj(c_j)
        pair = lambda z: Tensor._wrap_np(np.stack([z.real, z.imag], -1).astype(x.dtype.np)).to(x.device)
        if len(_CHIRPS) > 32:
            _CHIRPS.clear()
        _CHIRPS[key] = (pair(c), pair(np.fft.fft(b)))
    return _CHIRPS[key]


def _cmul(u, v):
    """The complex product of (..., 2) tensors (broadcast)."""
    from .movement import stack
    ur, ui, vr, vi = u[..., 0], u[..., 1], v[..., 0], v[..., 1]
    return stack([ur * vr - ui * vi, ur * vi + ui * vr], -1)


def _bluestein(x, d, sign, norm, norm_n):
    """The transform along dim ``d`` of contiguous (..., 2) ``x`` by Bluestein's algorithm, scaled as the
    norm mode ``norm`` says for a transform of length ``norm_n``."""
    from ..autograd import grad_mode
    from .movement import cat
    shape = x._shape[:-1]
    n = shape[d]
    m = _fft_plan.bluestein_length(n)
    c, bf = _chirps(n, m, sign, x)
    along = (n,) + (1,) * (len(shape) - d - 1) + (2,)                   # c broadcast along dim d
    with grad_mode.no_grad():
        a = _cmul(x, c.reshape(along))
        pad = list(x._shape)
        pad[d] = m - n
        a = cat([a, x.new_zeros(pad)], d).contiguous()
        af = _c2c_dim_cuda(a, d, -1, 0)
        conv = _c2c_dim_cuda(_cmul(af, bf.reshape((m,) + along[1:])).contiguous(), d, 1, 2)
        y = _cmul(conv.narrow(d, 0, n), c.reshape(along))
        if norm:
            y = y * (1.0 / (math.sqrt(norm_n) if norm == 1 else norm_n))
        return y.contiguous()


def _c2c_cuda(x, *, dims, sign, norm):
    if x.numel() == 0 or not dims:
        return x.clone() if x.numel() else Tensor._empty(x._shape, x.dtype, x.device)
    y = x.contiguous()
    for d in dims:
        y = _c2c_dim_cuda(y, d, sign, norm)
    return y


def _c2c_bw(ctx, g):
    return _c2c(g, dims=ctx.dims, sign=-ctx.sign, norm=ctx.norm)


def _specs():
    from ._aot import KernelSpec, ptr
    from ._fft_kernels import _dft_kernel
    out = []
    for dt in (D.float32, D.float64):
        sig = dict(x_ptr=ptr(dt), y_ptr=ptr(dt), n="i32", C="i32", B="i32", Q="i32",
                   **{s: "i32" for s in ("sxa", "sxb", "sxq", "sxj", "sya", "syb", "syq", "syk")},
                   sign="i32", tw_n="i32", norm_mode="i32", norm_n="i32")
        for prec in ("ieee",) + (("fma",) if dt is D.float64 else ()):
            tiles = {_tile(dt, prec, n, C) for n in (16, 4096) for C in (16, 4096)}
            for bm, bn, bk, warps in sorted(tiles):
                out.append(KernelSpec(_dft_kernel, sig, dict(PREC=prec, BM=bm, BN=bn, BK=bk), num_warps=warps,
                                      label=f"dft {dt} {prec} {bm}x{bn}x{bk}"))
    return out


_c2c = Op("fft_c2c", cpu=_c2c_cpu, cuda=_c2c_cuda, backward=_c2c_bw, save=(), kernels=_specs, family="fft",
          grad_name="FftC2CBackward0")


# ------------------------------------------------------------------------------- the real transforms' twiddle pass
# An even-length real transform runs at half length: z_j = x_2j + i x_2j+1 has Z = E + i O (E, O the transforms
# of the even and odd samples, both Hermitian), so X_k = E_k + w^k O_k
# = ((Z_k + conj Z_{h-k}) - i w^k (Z_k - conj Z_{h-k})) / 2 for k = 0..h, w = exp(sign 2 pi i / n); c2r inverts it.
# ``fft_untangle`` is that pass, one kernel (``_fft_kernels._untangle_kernel``) on (P, L, Q, 2) tensors (the
# transformed dim in the middle); its backward, the adjoint, is the pass of the other direction plus edge terms.
_UNTANGLE_BLOCK = 1024     # outputs per program: 256 and 512 spilled 4 bytes on sm_80 in float64, 1024 none


def _untangle_np(x, *, h, sign, norm, norm_n, halve, inverse, edges):
    z = _complex_np(x)                                      # (P, L_in, Q)
    if edges:
        z = z.copy()
        z[:, [0, h]] = z[:, [0, h]].real
    k = np.arange(h if inverse else h + 1)
    u, r = z[:, k % z.shape[1]], np.conj(z[:, (h - k) % z.shape[1]])
    w = np.exp(sign * 1j * np.pi * k / h)[None, :, None]
    y = (u + r + (1j if inverse else -1j) * w * (u - r)) * (_scale(norm_n, norm) * (0.5 if halve else 1.0))
    return _real_np(y, x.dtype)


def _untangle_cuda(x, *, h, sign, norm, norm_n, halve, inverse, edges):
    from ._fft_kernels import _untangle_kernel
    x = x.contiguous()
    P, L_in, Q = x._shape[:3]
    L_out = h if inverse else h + 1
    y = Tensor._empty((P, L_out, Q, 2), x.dtype, x.device)
    total = P * L_out * Q
    if total:
        launch(_untangle_kernel, (cdiv(total, _UNTANGLE_BLOCK),), x, y, h, L_in, L_out, Q, total, sign, norm, norm_n,
               int(halve), INVERSE=inverse, EDGES=edges, BLOCK=_UNTANGLE_BLOCK, num_warps=4)
    return y


def _untangle_bw(ctx, g):
    """The adjoint (of the real-linear map): the other direction's pass with the conjugate twiddles, plus the
    terms of the bins that the forward pass reads twice or not at all (0 and h)."""
    from .movement import cat
    h, kw = ctx.h, dict(norm=ctx.norm, norm_n=ctx.norm_n, halve=ctx.halve)
    s = _scale(ctx.norm_n, ctx.norm) * (0.5 if ctx.halve else 1.0)
    g0 = g.narrow(1, 0, 1)
    if not ctx.inverse:
        d = _untangle(g, h=h, sign=-ctx.sign, inverse=True, edges=False, **kw)             # (P, h, Q, 2)
        gh, cg0 = g.narrow(1, h, 1), _conj(g0)
        extra = (gh - _times_i(gh) + cg0 + _times_i(cg0)) * s                           # (1 - i) g_h + (1 + i) conj g_0
        return cat([d.narrow(1, 0, 1) + extra, d.narrow(1, 1, h - 1)], 1)
    d = _untangle(g, h=h, sign=-ctx.sign, inverse=False, edges=False, **kw)                # (P, h + 1, Q, 2)
    cg0 = _conj(g0)
    first = d.narrow(1, 0, 1) - (cg0 + _times_i(cg0)) * s                               # - (1 + i) conj g_0
    last = d.narrow(1, h, 1) - (g0 + _times_i(g0)) * s                                  # - (1 + i) g_0
    if ctx.edges:
        keep = g.new_tensor([1.0, 0.0])
        first, last = first * keep, last * keep
    return cat([first, d.narrow(1, 1, h - 1), last], 1)


def _untangle_specs():
    from ._aot import KernelSpec, ptr
    from ._fft_kernels import _untangle_kernel
    out = []
    for dt in (D.float32, D.float64):
        sig = dict(x_ptr=ptr(dt), y_ptr=ptr(dt), **{a: "i32" for a in ("h", "L_in", "L_out", "Q", "total", "sign",
                                                                       "norm_mode", "norm_n", "halve")})
        for inverse, edges in ((False, False), (True, True), (True, False)):
            out.append(KernelSpec(_untangle_kernel, sig, dict(INVERSE=inverse, EDGES=edges, BLOCK=_UNTANGLE_BLOCK),
                                  num_warps=4, label=f"untangle {dt} inverse={inverse} edges={edges}"))
    return out


_untangle = Op("fft_untangle", cpu=_untangle_np, cuda=_untangle_cuda, backward=_untangle_bw, save=(),
               kernels=_untangle_specs, family="fft")


# ------------------------------------------------------------------------------- composed transforms
def _conj(x):
    """The complex conjugate of a (..., 2) tensor."""
    return x * x.new_tensor([1.0, -1.0])


def _scale(n, norm):
    return 1.0 if norm == 0 else 1.0 / (math.sqrt(n) if norm == 1 else n)


def _packed(x, d):
    """Whether the real transform along ``d`` takes the half-length complex one: cuda, even length (odd
    lengths, and cpu where numpy's pocketfft runs, transform the input as a complex one)."""
    return x.is_cuda and x.shape[d] % 2 == 0


def _times_i(v, s=1.0):
    """s i v for a (..., 2) tensor v."""
    from .movement import stack
    return stack([v[..., 1] * -s, v[..., 0] * s], -1)


def _r2c_packed(x, d, sign, norm):
    """The onesided transform along ``d`` of a real ``x`` of even length n there: x_2j + i x_2j+1 transformed at
    length h = n / 2, then untangled into the h + 1 bins."""
    n = x.shape[d]
    h = n // 2
    z = _c2c(x.unflatten(d, (h, 2)).movedim(d + 1, -1), dims=(d,), sign=sign, norm=0)     # (..., h, ..., 2)
    shape = z.shape
    P, Q = math.prod(shape[:d]), math.prod(shape[d + 1:-1])
    y = _untangle(z.reshape((P, h, Q, 2)), h=h, sign=sign, norm=norm, norm_n=n, halve=True, inverse=False,
                  edges=False)
    return y.reshape(shape[:d] + (h + 1,) + shape[d + 1:])


def _c2r_packed(x, d, n, sign, norm):
    """The real transform of even length n along ``d`` of the onesided spectrum ``x`` (h + 1 bins, h = n / 2):
    tangled into h bins (the imaginary parts of X_0 and X_h dropped, as the Hermitian extension does) whose
    length-h transform is x_2j + i x_2j+1."""
    h = n // 2
    shape = x.shape
    P, Q = math.prod(shape[:d]), math.prod(shape[d + 1:-1])
    z = _untangle(x.reshape((P, h + 1, Q, 2)), h=h, sign=sign, norm=norm, norm_n=n, halve=False, inverse=True,
                  edges=True)
    z = _c2c(z.reshape(shape[:d] + (h,) + shape[d + 1:]), dims=(d,), sign=sign, norm=0)   # (..., h, ..., 2)
    return z.movedim(-1, d + 1).flatten(d, d + 1)


def _r2c(x, dims, sign, norm, onesided=True):
    """The transform of a real tensor ``x`` over ``dims`` as a (..., 2) tensor; ``onesided``: the last
    of ``dims`` keeps its n // 2 + 1 non-redundant bins. That dim goes first, so the others transform
    only the kept half (PyTorch's order; the values are the same either way)."""
    from .movement import cat, stack
    d = dims[-1]
    n = x.shape[d]
    if _packed(x, d):
        z = _r2c_packed(x, d, sign, norm)
        if not onesided:                                            # X_{n-k} = conj X_k
            z = cat([z, _conj(z.narrow(d, 1, n // 2 - 1).flip(d))], d)
    else:
        z = _c2c(stack([x, x.new_zeros(x.shape)], -1), dims=(d,), sign=sign, norm=norm)
        if onesided:
            z = z.narrow(d, 0, n // 2 + 1)
    return _c2c(z, dims=tuple(dims[:-1]), sign=sign, norm=norm) if len(dims) > 1 else z


def _c2r(x, dims, n, sign, norm):
    """The real transform of length ``n`` along the last of ``dims`` of the onesided (..., 2) spectrum
    ``x`` (n // 2 + 1 bins there), after the complex ones along the others: the Hermitian extension
    X[n - k] = conj(X[k]) completed, transformed, its real part kept (which ignores the imaginary
    parts of the DC and Nyquist bins, as pocketfft and cuFFT do)."""
    from .movement import cat
    if len(dims) > 1:
        x = _c2c(x, dims=tuple(dims[:-1]), sign=sign, norm=norm)
    d = dims[-1]
    if x.is_cuda and n % 2 == 0:
        return _c2r_packed(x, d, n, sign, norm)
    mirror = _conj(x.narrow(d, 1, (n - 1) // 2).flip(d))
    full = cat([x, mirror], d)                          # (..., n, ..., 2)
    return _c2c(full, dims=(d,), sign=sign, norm=norm)[..., 0]
